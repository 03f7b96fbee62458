//! Symbols from the image's PDB: public symbols and procedures, demangled.

use std::path::Path;

use pdb::FallibleIterator;

/// `(rva, demangled name)` of every public symbol and procedure in the PDB
/// at `path`, if its GUID is the one the image's CodeView record names.
pub(crate) fn read_pdb(path: &Path, guid: [u8; 16]) -> Result<Vec<(u32, String)>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut pdb = pdb::PDB::open(file).map_err(|e| e.to_string())?;
    let info = pdb.pdb_information().map_err(|e| e.to_string())?;
    if info.guid.to_bytes_le() != guid {
        return Err("its GUID is not the image's".into());
    }
    let map = pdb.address_map().map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let globals = pdb.global_symbols().map_err(|e| e.to_string())?;
    let mut it = globals.iter();
    while let Ok(Some(symbol)) = it.next() {
        if let Ok(pdb::SymbolData::Public(p)) = symbol.parse()
            && let Some(rva) = p.offset.to_rva(&map)
        {
            out.push((rva.0, demangle(&p.name.to_string())));
        }
    }
    let dbi = pdb.debug_information().map_err(|e| e.to_string())?;
    let mut modules = dbi.modules().map_err(|e| e.to_string())?;
    while let Ok(Some(module)) = modules.next() {
        let Ok(Some(info)) = pdb.module_info(&module) else {
            continue;
        };
        let Ok(mut symbols) = info.symbols() else {
            continue;
        };
        while let Ok(Some(symbol)) = symbols.next() {
            if let Ok(pdb::SymbolData::Procedure(p)) = symbol.parse()
                && let Some(rva) = p.offset.to_rva(&map)
            {
                out.push((rva.0, demangle(&p.name.to_string())));
            }
        }
    }
    Ok(out)
}

/// Rust symbols without their hash; anything else unchanged.
fn demangle(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name))
}
