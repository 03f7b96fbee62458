//! `NTSTATUS` values and the mapping of method results to them.

// The values and their names are kept once, in the `ntdef` leaf crate
// (shared with kcomctl and kmdf-host); kcom re-exports them as its own.
pub use ntdef::status::*;

/// Conversion of a COM method's return value into the `NTSTATUS` its shim
/// returns across the ABI.
///
/// Implemented for [`NTSTATUS`] (returned as is), `Result<(), NTSTATUS>`
/// (`Ok` → [`STATUS_SUCCESS`], `Err(s)` → `s`) and `()` (always success).
#[diagnostic::on_unimplemented(
    message = "a COM method cannot return `{Self}`",
    label = "return NTSTATUS, Result<(), NTSTATUS> or Result<T, NTSTATUS> (T: Copy + Default)"
)]
pub trait IntoNtStatus {
    /// The status to return across the ABI.
    fn into_ntstatus(self) -> NTSTATUS;
}

impl IntoNtStatus for NTSTATUS {
    #[inline]
    fn into_ntstatus(self) -> NTSTATUS {
        self
    }
}

impl IntoNtStatus for () {
    #[inline]
    fn into_ntstatus(self) -> NTSTATUS {
        STATUS_SUCCESS
    }
}

impl IntoNtStatus for Result<(), NTSTATUS> {
    /// `Ok(())` → `STATUS_SUCCESS`; `Err(s)` → `s`. An `Err` carrying a
    /// success code is turned into `STATUS_UNSUCCESSFUL` so a failure can
    /// never be reported as success across the ABI.
    #[inline]
    fn into_ntstatus(self) -> NTSTATUS {
        match self {
            Ok(()) => STATUS_SUCCESS,
            Err(s) if nt_success(s) => STATUS_UNSUCCESSFUL,
            Err(s) => s,
        }
    }
}

/// The inverse of [`IntoNtStatus`], used by the safe client-side method
/// wrappers to turn the ABI status back into the declared return type.
#[diagnostic::on_unimplemented(
    message = "a COM method cannot return `{Self}`",
    label = "return NTSTATUS, Result<(), NTSTATUS> or Result<T, NTSTATUS> (T: Copy + Default)"
)]
pub trait FromNtStatus {
    /// Rebuilds the declared return value from the status.
    fn from_ntstatus(status: NTSTATUS) -> Self;
}

impl FromNtStatus for NTSTATUS {
    #[inline]
    fn from_ntstatus(status: NTSTATUS) -> Self {
        status
    }
}

impl FromNtStatus for () {
    #[inline]
    fn from_ntstatus(_: NTSTATUS) -> Self {}
}

impl FromNtStatus for Result<(), NTSTATUS> {
    #[inline]
    fn from_ntstatus(status: NTSTATUS) -> Self {
        if nt_success(status) {
            Ok(())
        } else {
            Err(status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_mapping_round_trips() {
        assert_eq!(Ok::<(), NTSTATUS>(()).into_ntstatus(), STATUS_SUCCESS);
        assert_eq!(
            Err::<(), NTSTATUS>(STATUS_ACCESS_DENIED).into_ntstatus(),
            STATUS_ACCESS_DENIED
        );
        assert_eq!(
            Err::<(), NTSTATUS>(STATUS_SUCCESS).into_ntstatus(),
            STATUS_UNSUCCESSFUL
        );
        assert_eq!(
            <Result<(), NTSTATUS>>::from_ntstatus(STATUS_NOINTERFACE),
            Err(STATUS_NOINTERFACE)
        );
        assert_eq!(
            <Result<(), NTSTATUS>>::from_ntstatus(STATUS_SUCCESS),
            Ok(())
        );
    }
}
