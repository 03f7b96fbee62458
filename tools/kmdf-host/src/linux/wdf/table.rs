//! The KMDF function table: one entry per `WDFFUNCENUM` index (generated
//! from `wdffuncenum.h` by the build script), each either the host's
//! implementation or a trap that stops the run naming the function.

use super::super::stop::stop_with_details;
use crate::report::Rule;

include!(concat!(env!("OUT_DIR"), "/wdf_tables.rs"));

/// The trap of table index `N`: passes the index and the caller's return
/// address on (no code is generated at run time).
///
/// # Safety
///
/// Only for driver code calling WDF function `N` through the table; it
/// never returns (the run stops), so any arguments are fine.
#[unsafe(naked)]
pub(crate) unsafe extern "win64" fn trap<const N: usize>() -> ! {
    core::arch::naked_asm!(
        "mov ecx, {n}",
        "mov rdx, [rsp]",
        "jmp {imp}",
        n = const N,
        imp = sym unsupported,
    )
}

extern "win64" fn unsupported(index: u32, return_address: usize) -> ! {
    let name = WDF_FUNCTION_NAMES
        .get(index as usize)
        .copied()
        .unwrap_or("?");
    let location = super::super::context::try_session().map(|s| s.describe(return_address));
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
}
