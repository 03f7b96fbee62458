//! `WDFREQUEST` (shared/core/fxrequestapi.cpp and fxrequest.cpp): the
//! buffers of a `METHOD_BUFFERED` device control (`GetMemoryObject`,
//! `GetDeviceControlOutputMemoryObject`), completion (`VerifyRequestComplete`,
//! `CompleteInternal`, `VerifyCompleteInternal`) and `Information`.

use super::super::{Framework, Kind, Lookup};
use super::{not_null, refuse, verifier_break};
use crate::linux::abi::irql::DISPATCH;
use crate::linux::abi::{self, Handle, status};
use crate::linux::cpu::thread::{self, caller_thunk};
use crate::linux::kernel::irql;
use crate::linux::kernel::session::Session;
use crate::report::Rule;

/// Checks `request` live (a stop otherwise); `None` after a verifier break
/// when it was completed already (`VerifyRequestIsNotCompleted`: KMDF
/// breaks and answers `STATUS_INTERNAL_ERROR`).
fn request_state(
    session: &Session,
    function: &str,
    request: Handle,
) -> Option<(usize, usize, usize)> {
    let s = session.wdf().lock();
    session
        .wdf()
        .check(&s, function, request as usize, Some(Kind::Request));
    let Some(r) = s.request(request as usize) else {
        unreachable!("checked live above")
    };
    if r.completed.is_some() {
        let at = session.describe(r.completed_at);
        drop(s);
        verifier_break(
            session,
            function,
            Rule::ObjectMisuse,
            format!("WDFREQUEST {request:p} is already completed (at {at}), STATUS_INTERNAL_ERROR"),
        );
        return None;
    }
    Some((r.buffer, r.input_len, r.output_len))
}

/// The buffer of a request, as both retrieval functions give it: the input
/// length or the output length of the device control, 0 being
/// `STATUS_BUFFER_TOO_SMALL`, as is a length below `RequiredLength`.
///
/// # Safety
///
/// `buffer` is NULL (which stops the run) or writable; `length` is NULL or
/// writable.
unsafe fn retrieve(
    request: Handle,
    required: usize,
    buffer: *mut usize,
    length: *mut usize,
    output: bool,
) -> i32 {
    let session = Session::current();
    let f = if output {
        wdf_name!(WdfRequestRetrieveOutputBuffer)
    } else {
        wdf_name!(WdfRequestRetrieveInputBuffer)
    };
    session.wdf().check(
        &session.wdf().lock(),
        f,
        request as usize,
        Some(Kind::Request),
    );
    not_null(f, "Buffer", buffer);
    // SAFETY: `Buffer` non-NULL (checked) and `Length` NULL or writable
    // (the contract).
    unsafe {
        *buffer = 0;
        if !length.is_null() {
            *length = 0;
        }
    }
    let Some((system_buffer, input_len, output_len)) = request_state(&session, f, request) else {
        return status::INTERNAL_ERROR;
    };
    let len = if output { output_len } else { input_len };
    if len == 0 {
        return refuse(
            &session,
            f,
            status::BUFFER_TOO_SMALL,
            format_args!(
                "WDFREQUEST {request:p} has a zero-length {} buffer",
                if output { "output" } else { "input" }
            ),
        );
    }
    if len < required {
        return refuse(
            &session,
            f,
            status::BUFFER_TOO_SMALL,
            format_args!("WDFREQUEST {request:p}: the buffer is {len} bytes, {required} required"),
        );
    }
    // SAFETY: as above.
    unsafe {
        *buffer = system_buffer;
        if !length.is_null() {
            *length = len;
        }
    }
    status::SUCCESS
}

/// `WdfRequestRetrieveInputBuffer`.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfRequestRetrieveInputBuffer` says: `Buffer` is writable
/// (NULL stops the run), `Length` NULL or writable.
unsafe extern "win64" fn wdf_request_retrieve_input_buffer(
    _g: *mut abi::DriverGlobals,
    request: Handle,
    required: usize,
    buffer: *mut usize,
    length: *mut usize,
) -> i32 {
    // SAFETY: this function's contract is `retrieve`'s.
    unsafe { retrieve(request, required, buffer, length, false) }
}
caller_thunk!(WdfRequestRetrieveInputBuffer => wdf_request_retrieve_input_buffer);

/// `WdfRequestRetrieveOutputBuffer`.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfRequestRetrieveOutputBuffer` says: `Buffer` is writable
/// (NULL stops the run), `Length` NULL or writable.
unsafe extern "win64" fn wdf_request_retrieve_output_buffer(
    _g: *mut abi::DriverGlobals,
    request: Handle,
    required: usize,
    buffer: *mut usize,
    length: *mut usize,
) -> i32 {
    // SAFETY: this function's contract is `retrieve`'s.
    unsafe { retrieve(request, required, buffer, length, true) }
}
caller_thunk!(WdfRequestRetrieveOutputBuffer => wdf_request_retrieve_output_buffer);

/// The status the I/O manager sees: `CompleteInternal` turns KMDF's own
/// codes (`FACILITY_DRIVER_FRAMEWORK`) into standard ones.
fn completion_status(completion: i32) -> i32 {
    if !status::is_framework_facility(completion) {
        return completion;
    }
    match completion {
        status::WDF_PAUSED | status::WDF_BUSY => status::DEVICE_BUSY,
        status::WDF_INTERNAL_ERROR => status::INTERNAL_ERROR,
        status::WDF_NOT_ENOUGH_MAP_REGISTERS => status::INSUFFICIENT_RESOURCES,
        _ => status::INVALID_DEVICE_REQUEST,
    }
}

/// Completion: `VerifyRequestComplete` (the request must be the driver's:
/// presented and not completed yet, else a verifier break and nothing
/// happens), then `CompleteInternal`: `VerifyCompleteInternal`'s
/// `Information` check for a user-mode device control with an output
/// buffer (KMDF Verifier bug-checks, `WDF_REQUEST_FATAL_ERROR_INFORMATION_
/// LENGTH_MISMATCH`; the host reports it and goes on, copying back no more
/// than the output buffer), and the status mapping.
fn complete(request: Handle, completion: i32, information: Option<usize>, function: &str) {
    let session = Session::current();
    let now = thread::irql();
    if now > DISPATCH {
        session.violation(
            Rule::IrqlTooHigh,
            format!(
                "{function} called at {}, its maximum is DISPATCH_LEVEL (2)",
                irql::describe(now)
            ),
        );
    }
    let caller = thread::caller();
    let mut s = session.wdf().lock();
    if let Lookup::Deleted(Kind::Request) = Framework::lookup(&s, request as usize) {
        drop(s);
        session.violation(
            Rule::DoubleCompletion,
            format!("{function}: WDFREQUEST {request:p} completed again after its completion released it"),
        );
        return;
    }
    session
        .wdf()
        .check(&s, function, request as usize, Some(Kind::Request));
    let Some(r) = s.request_mut(request as usize) else {
        unreachable!("checked live above")
    };
    if let Some((first, _)) = r.completed {
        let at = r.completed_at;
        drop(s);
        let message = format!(
            "{function}(0x{:08X}): WDFREQUEST {request:p} was already completed with 0x{:08X} at {} (KMDF Verifier: VerifyRequestIsDriverOwned breaks; not completed again)",
            completion as u32,
            first as u32,
            session.describe(at)
        );
        session.framework_trace(message.clone());
        session.violation(Rule::DoubleCompletion, message);
        return;
    }
    let info = information.unwrap_or(r.information);
    let mapped = completion_status(completion);
    r.completed = Some((mapped, info));
    r.completed_at = caller;
    let output_len = r.output_len;
    let abandoned = r.abandoned;
    drop(s);
    if mapped != completion {
        session.framework_trace(format!(
            "{function}: the WDF status {} becomes {}",
            status::describe(completion),
            status::describe(mapped)
        ));
    }
    if abi::nt_success(mapped) && output_len > 0 && info > output_len {
        session.violation(
            Rule::InformationTooLong,
            format!(
                "{function}: Information {info} is greater than the output buffer length {output_len} \
                 (KMDF Verifier: WDF_VIOLATION, WDF_REQUEST_FATAL_ERROR_INFORMATION_LENGTH_MISMATCH)"
            ),
        );
    }
    if abandoned {
        // Nobody waits for it any more: release it here.
        session.wdf().finish_request(&session, request as usize);
    }
    session.wdf().changed.notify_all();
}

/// `WdfRequestComplete`: the `Information` set before stays.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfRequestComplete` says: any handle (looked up, never
/// dereferenced); the driver must not touch the request's buffers after
/// the call.
unsafe extern "win64" fn wdf_request_complete(
    _g: *mut abi::DriverGlobals,
    request: Handle,
    completion_status: i32,
) {
    complete(
        request,
        completion_status,
        None,
        wdf_name!(WdfRequestComplete),
    );
}
caller_thunk!(WdfRequestComplete => wdf_request_complete);

/// `WdfRequestCompleteWithInformation`.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfRequestCompleteWithInformation` says: any handle
/// (looked up, never dereferenced); the driver must not touch the
/// request's buffers after the call.
unsafe extern "win64" fn wdf_request_complete_with_information(
    _g: *mut abi::DriverGlobals,
    request: Handle,
    completion_status: i32,
    information: usize,
) {
    complete(
        request,
        completion_status,
        Some(information),
        wdf_name!(WdfRequestCompleteWithInformation),
    );
}
caller_thunk!(WdfRequestCompleteWithInformation => wdf_request_complete_with_information);

/// `WdfRequestSetInformation`.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfRequestSetInformation` says: any handle (looked up,
/// never dereferenced).
unsafe extern "win64" fn wdf_request_set_information(
    _g: *mut abi::DriverGlobals,
    request: Handle,
    information: usize,
) {
    let session = Session::current();
    if request_state(&session, wdf_name!(WdfRequestSetInformation), request).is_none() {
        return;
    }
    if let Some(r) = session.wdf().lock().request_mut(request as usize) {
        r.information = information;
    }
}
caller_thunk!(WdfRequestSetInformation => wdf_request_set_information);

/// `WdfRequestGetInformation`.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfRequestGetInformation` says: any handle (looked up,
/// never dereferenced).
unsafe extern "win64" fn wdf_request_get_information(
    _g: *mut abi::DriverGlobals,
    request: Handle,
) -> usize {
    let session = Session::current();
    let s = session.wdf().lock();
    session.wdf().check(
        &s,
        wdf_name!(WdfRequestGetInformation),
        request as usize,
        Some(Kind::Request),
    );
    s.request(request as usize).map_or(0, |r| r.information)
}
caller_thunk!(WdfRequestGetInformation => wdf_request_get_information);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framework_statuses_become_standard_ones_on_completion() {
        assert_eq!(completion_status(status::SUCCESS), status::SUCCESS);
        assert_eq!(
            completion_status(status::BUFFER_TOO_SMALL),
            status::BUFFER_TOO_SMALL
        );
        assert_eq!(completion_status(status::WDF_BUSY), status::DEVICE_BUSY);
        assert_eq!(
            completion_status(status::WDF_INTERNAL_ERROR),
            status::INTERNAL_ERROR
        );
        assert_eq!(
            completion_status(status::WDF_NO_CALLBACK),
            status::INVALID_DEVICE_REQUEST
        );
    }
}
