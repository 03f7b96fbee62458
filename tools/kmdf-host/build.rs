//! Generates the KMDF function table of the host from `kmdf-1.33-tables.txt`.
//!
//! The `WDFFUNCENUM` order (the index of every WDF function in the table a
//! client calls through) and the `WDFSTRUCTENUM` order (the index of every
//! public structure in `WdfStructures`) are facts of the KMDF 1.33 headers.
//! The crate carries them in its own form, one name a line, in
//! `kmdf-1.33-tables.txt`; `tests/images.rs` checks that file against
//! `wdffuncenum.h` whenever the header is at hand. Only the x86_64 Linux
//! build needs them.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

/// The file, beside this script.
const TABLES: &str = "kmdf-1.33-tables.txt";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed={TABLES}");
    let linux_x64 = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("x86_64");
    if !linux_x64 {
        return;
    }
    let path = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join(TABLES);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (functions, structures) = match tables(&text) {
        Ok(tables) => tables,
        Err(message) => {
            println!("cargo::error={}: {message}", path.display());
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
        writeln!(
            out,
            "    crate::linux::backend::model::table::trap::<{index}>,"
        )
        .unwrap();
    }
    writeln!(out, "];").unwrap();
    let path = Path::new(&env::var("OUT_DIR").unwrap()).join("wdf_tables.rs");
    fs::write(&path, out).unwrap();
}

/// The `[functions]` and `[structures]` sections of the tables file: one
/// name a line, `#` starts a comment line. The function table has 458
/// entries and the structure table 81 (KMDF 1.33).
fn tables(text: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let mut functions = Vec::new();
    let mut structures = Vec::new();
    let mut section: Option<&mut Vec<String>> = None;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line {
            "[functions]" => section = Some(&mut functions),
            "[structures]" => section = Some(&mut structures),
            name if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                match &mut section {
                    Some(list) => list.push(name.to_string()),
                    None => return Err(format!("line {}: a name before any section", number + 1)),
                }
            }
            other => return Err(format!("line {}: not a name: {other:?}", number + 1)),
        }
    }
    if functions.len() != 458 || structures.len() != 81 {
        return Err(format!(
            "{} functions and {} structures (KMDF 1.33 has 458 and 81)",
            functions.len(),
            structures.len()
        ));
    }
    Ok((functions, structures))
}
