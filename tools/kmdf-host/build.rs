//! Generates the KMDF function table of the host from `wdffuncenum.h`.
//!
//! The `WDFFUNCENUM` order (the index of every WDF function in the table a
//! client calls through) and the `WDFSTRUCTENUM` order (the index of every
//! public structure in `WdfStructures`) are facts of the KMDF 1.33 headers.
//! They are read from the header kept beside the project
//! (`../shared/third_party/kmdf-headers-1.33/include/wdffuncenum.h`; override
//! with `KMDF_FUNCENUM_H`), never copied into it. Only the x86_64 Linux build
//! needs them.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=KMDF_FUNCENUM_H");
    let linux_x64 = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("x86_64");
    if !linux_x64 {
        return;
    }
    let header = match env::var_os("KMDF_FUNCENUM_H") {
        Some(path) => PathBuf::from(path),
        None => Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap())
            .join("../../../shared/third_party/kmdf-headers-1.33/include/wdffuncenum.h"),
    };
    println!("cargo::rerun-if-changed={}", header.display());
    let text = match fs::read_to_string(&header) {
        Ok(text) => text,
        Err(e) => {
            println!(
                "cargo::error=kmdf-host needs the KMDF 1.33 header wdffuncenum.h at {} \
                 (../shared beside the repository, or set KMDF_FUNCENUM_H): {e}",
                header.display()
            );
            return;
        }
    };
    let result = enum_names(
        &text,
        "_WDFFUNCENUM",
        "TableIndex",
        "WdfFunctionTableNumEntries",
    )
    .and_then(|functions| {
        let structures = enum_names(
            &text,
            "_WDFSTRUCTENUM",
            "",
            "WDF_STRUCTURE_TABLE_NUM_ENTRIES",
        )?;
        Ok((functions, structures))
    });
    let (functions, structures) = match result {
        Ok(tables) => tables,
        Err(message) => {
            println!("cargo::error={}: {message}", header.display());
            return;
        }
    };
    let mut out = String::new();
    writeln!(
        out,
        "/// Entries of the KMDF 1.33 function table (`WdfFunctionTableNumEntries`)."
    )
    .unwrap();
    writeln!(
        out,
        "pub const WDF_FUNCTION_COUNT: usize = {};",
        functions.len()
    )
    .unwrap();
    writeln!(
        out,
        "/// The WDF function at each table index (`WDFFUNCENUM` order)."
    )
    .unwrap();
    writeln!(
        out,
        "pub static WDF_FUNCTION_NAMES: [&str; WDF_FUNCTION_COUNT] = ["
    )
    .unwrap();
    for name in &functions {
        writeln!(out, "    {name:?},").unwrap();
    }
    writeln!(out, "];").unwrap();
    writeln!(
        out,
        "/// Entries of the KMDF 1.33 structure table (`WDF_STRUCTURE_TABLE_NUM_ENTRIES`)."
    )
    .unwrap();
    writeln!(
        out,
        "pub const WDF_STRUCTURE_COUNT: usize = {};",
        structures.len()
    )
    .unwrap();
    writeln!(
        out,
        "/// The public structure at each `WdfStructures` index (`WDFSTRUCTENUM` order)."
    )
    .unwrap();
    writeln!(
        out,
        "#[cfg(test)]\npub static WDF_STRUCTURE_NAMES: [&str; WDF_STRUCTURE_COUNT] = ["
    )
    .unwrap();
    for name in &structures {
        writeln!(out, "    {name:?},").unwrap();
    }
    writeln!(out, "];").unwrap();
    writeln!(
        out,
        "/// One trap per table index: an entry the host does not implement."
    )
    .unwrap();
    writeln!(
        out,
        "pub(crate) static WDF_TRAPS: [unsafe extern \"win64\" fn() -> !; WDF_FUNCTION_COUNT] = ["
    )
    .unwrap();
    for index in 0..functions.len() {
        writeln!(out, "    crate::linux::wdf::table::trap::<{index}>,").unwrap();
    }
    writeln!(out, "];").unwrap();
    let path = Path::new(&env::var("OUT_DIR").unwrap()).join("wdf_tables.rs");
    fs::write(&path, out).unwrap();
}

/// The names of a C enum's members `<Name><suffix> = <index>`, which must be
/// contiguous from 0, up to the member `count_name`, whose value is the count.
fn enum_names(
    text: &str,
    tag: &str,
    suffix: &str,
    count_name: &str,
) -> Result<Vec<String>, String> {
    let start = text
        .find(&format!("typedef enum {tag}"))
        .ok_or_else(|| format!("no `typedef enum {tag}`"))?;
    let body = &text[start..];
    let end = body
        .find('}')
        .ok_or_else(|| format!("{tag} is not closed"))?;
    let mut names = Vec::new();
    let mut count = None;
    for line in body[..end].lines() {
        let Some((lhs, rhs)) = line.trim().split_once('=') else {
            continue;
        };
        let lhs = lhs.trim();
        let value: usize = rhs
            .trim()
            .trim_end_matches(',')
            .trim()
            .parse()
            .map_err(|_| format!("{tag}: {lhs} has no decimal value"))?;
        if lhs == count_name {
            count = Some(value);
            continue;
        }
        let name = if suffix.is_empty() {
            lhs.strip_prefix("INDEX_").unwrap_or(lhs)
        } else {
            lhs.strip_suffix(suffix)
                .ok_or_else(|| format!("{tag}: {lhs} does not end in {suffix}"))?
        };
        if value != names.len() {
            return Err(format!("{tag}: {lhs} = {value}, expected {}", names.len()));
        }
        names.push(name.to_string());
    }
    match count {
        Some(n) if n == names.len() => Ok(names),
        Some(n) => Err(format!("{count_name} = {n}, but {} entries", names.len())),
        None => Err(format!("{tag} has no {count_name}")),
    }
}
