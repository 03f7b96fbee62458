//! Reads the driver's INF template and hands kcomctl the facts it names to
//! users: the hardware ID the device is installed under and the INF's file
//! name. They stay written once, in `driver/kcom_sample.inx`.
//!
//! Sets `KCOM_HARDWARE_ID` and `KCOM_INF_NAME` for `env!`.

use std::path::Path;
use std::{env, fs};

fn main() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let inx = Path::new(&manifest).join("../../driver/kcom_sample.inx");
    println!("cargo::rerun-if-changed={}", inx.display());
    let text = fs::read_to_string(&inx)
        .unwrap_or_else(|e| panic!("cannot read the INF template {}: {e}", inx.display()));
    let id = hardware_id(&text).unwrap_or_else(|e| panic!("{}: {e}", inx.display()));
    let stem = inx
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("a UTF-8 file name");
    println!("cargo::rustc-env=KCOM_HARDWARE_ID={id}");
    println!("cargo::rustc-env=KCOM_INF_NAME={stem}.inf");
}

/// The `key = value` entries of INF section `name` (case-insensitive), with
/// comments and blank lines dropped.
fn section<'a>(text: &'a str, name: &str) -> Vec<(&'a str, &'a str)> {
    let mut inside = false;
    let mut entries = Vec::new();
    for line in text.lines() {
        let line = line.split(';').next().unwrap_or("").trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = header.trim().eq_ignore_ascii_case(name);
        } else if inside && let Some((key, value)) = line.split_once('=') {
            entries.push((key.trim(), value.trim()));
        }
    }
    entries
}

/// The one hardware ID of the INF's models: `[Manufacturer]` names the
/// models sections (`Standard, NT$ARCH$.10.0...19041` is
/// `[Standard.NT$ARCH$.10.0...19041]`), whose entries are
/// `description = install-section, hardware-id[, compatible-id...]`.
fn hardware_id(text: &str) -> Result<String, String> {
    let mut ids: Vec<&str> = Vec::new();
    for (_, models) in section(text, "Manufacturer") {
        let mut fields = models.split(',').map(str::trim);
        let base = fields.next().unwrap_or("");
        let decorations: Vec<&str> = fields.collect();
        let names: Vec<String> = if decorations.is_empty() {
            vec![base.to_owned()]
        } else {
            decorations.iter().map(|d| format!("{base}.{d}")).collect()
        };
        for name in names {
            for (_, value) in section(text, &name) {
                match value.split(',').map(str::trim).nth(1) {
                    Some(id) if !id.is_empty() => {
                        if !ids.iter().any(|known| known.eq_ignore_ascii_case(id)) {
                            ids.push(id);
                        }
                    }
                    _ => return Err(format!("[{name}] entry without a hardware ID: {value}")),
                }
            }
        }
    }
    match ids.as_slice() {
        [id] => Ok((*id).to_owned()),
        [] => Err("no hardware ID in the models sections".into()),
        more => Err(format!("more than one hardware ID: {}", more.join(", "))),
    }
}
