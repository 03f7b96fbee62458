//! The KMDF function table: one entry per `WDFFUNCENUM` index (generated
//! from `wdffuncenum.h` by the build script), each either the host's
//! implementation or a trap that stops the run naming the function.

use crate::linux::kernel::session::Session;
use crate::linux::kernel::stop::stop_with_details;
use crate::report::Rule;

include!(concat!(env!("OUT_DIR"), "/wdf_tables.rs"));

/// The trap of table index `N`: passes the index on to [`trap_common`] (no
/// code is generated at run time).
///
/// # Safety
///
/// Only for driver code calling WDF function `N` through the table; it
/// never returns (the run stops), so any arguments are fine.
#[unsafe(naked)]
pub(crate) unsafe extern "win64" fn trap<const N: usize>() -> ! {
    core::arch::naked_asm!(
        "mov r11d, {n}",
        "jmp {common}",
        n = const N,
        common = sym trap_common,
    )
}

/// Records the driver's call (as the entry thunks do) and reports the
/// function whose index is in R11.
///
/// # Safety
///
/// Only reached from [`trap`], with the driver's return address at RSP.
#[unsafe(naked)]
unsafe extern "win64" fn trap_common() -> ! {
    core::arch::naked_asm!(
        "push r11",
        crate::linux::cpu::thread::save_nonvolatile!(),
        // 9 pushes: the return address is 72 bytes up; RSP is now 16-byte
        // aligned, and 32 bytes of home space keep it so.
        "lea rdx, [rsp + 72]",
        "sub rsp, 32",
        "call {record}",
        // The index pushed first: above the home space and eight registers.
        "mov ecx, [rsp + 96]",
        "call {unsupported}",
        "ud2",
        record = sym crate::linux::cpu::thread::record_call,
        unsupported = sym unsupported,
    )
}

extern "win64" fn unsupported(index: u32) -> ! {
    let name = WDF_FUNCTION_NAMES
        .get(index as usize)
        .copied()
        .unwrap_or("?");
    let location = Session::try_current().map(|s| s.describe_caller());
    stop_with_details(
        Rule::UnsupportedWdfFunction,
        format!("WDF function {name} (table index {index}) is not supported by kmdf-host"),
        location,
        &[],
    )
}

/// The table: traps, with every implemented function in its slot.
pub(crate) fn build() -> Box<[usize]> {
    let mut table: Vec<usize> = WDF_TRAPS.iter().map(|f| *f as usize).collect();
    for (name, f) in super::ddi::IMPLEMENTED {
        let index = index_of(name).unwrap_or_else(|| panic!("{name} is not in wdffuncenum.h"));
        table[index] = *f as usize;
    }
    table.into_boxed_slice()
}

/// The table index of WDF function `name`.
pub(crate) fn index_of(name: &str) -> Option<usize> {
    WDF_FUNCTION_NAMES.iter().position(|n| *n == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_kmdf_1_33s() {
        assert_eq!(WDF_FUNCTION_COUNT, 458);
        assert_eq!(index_of("WdfChildListCreate"), Some(0));
        assert_eq!(index_of("WdfDriverCreate"), Some(116));
        assert_eq!(index_of("WdfDeviceCreate"), Some(75));
        assert_eq!(index_of("WdfIoQueueCreate"), Some(152));
        assert_eq!(index_of("WdfRequestCompleteWithInformation"), Some(265));
        let table = build();
        assert_eq!(table.len(), WDF_FUNCTION_COUNT);
        // Implemented entries are not traps; the rest are.
        let implemented = super::super::ddi::IMPLEMENTED.len();
        let traps = table
            .iter()
            .zip(WDF_TRAPS.iter())
            .filter(|(t, trap)| **t == **trap as usize)
            .count();
        assert_eq!(traps + implemented, WDF_FUNCTION_COUNT);
    }

    /// The README's "WDF functions" section lists exactly the implemented
    /// functions, with their count and the table's size.
    #[test]
    fn the_readme_lists_the_implemented_functions() {
        let readme = include_str!("../../../../README.md");
        let section = readme
            .split("\n## ")
            .find(|s| s.starts_with("WDF functions\n"))
            .expect("README.md has a \"## WDF functions\" section");
        let implemented = super::super::ddi::IMPLEMENTED;
        let count = format!(
            "these {} of KMDF 1.33's {WDF_FUNCTION_COUNT} functions",
            implemented.len()
        );
        assert!(
            section.contains(&count),
            "the section does not say {count:?}"
        );
        let mut listed: Vec<&str> = section
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|name| name.starts_with("Wdf"))
            .collect();
        let mut expected: Vec<&str> = implemented.iter().map(|(name, _)| *name).collect();
        listed.sort_unstable();
        expected.sort_unstable();
        assert_eq!(listed, expected, "README.md's list of WDF functions");
    }
}
