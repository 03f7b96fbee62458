//! The WDF functions the host implements. Each follows the KMDF function it
//! names (microsoft/Windows-Driver-Frameworks, `src/framework/shared`, the
//! file given on each): the same checks, in the same order, with the same
//! statuses, as KMDF behaves with its verifier on:
//!
//! - a NULL required parameter (`FxPointerNotNull`) or an invalid handle
//!   (`FxObjectHandleGetPtr`) stops the run, as KMDF's `WDF_VIOLATION` bug
//!   check stops the machine;
//! - a verifier break (`FxVerifierDbgBreakPoint`) is recorded as a
//!   violation and the call goes on as KMDF's does;
//! - every refusal is written to the framework's log, as KMDF traces it to
//!   its in-flight recorder, and returns KMDF's status.
//!
//! Framework allocations the host models (objects and their contexts,
//! `IO_WORKITEM`s, device interfaces) come from the pool with the driver's
//! tag, so low-resources simulation fails them as it would fail KMDF's.

/// The name of a WDF function the host implements (its thunk's identifier),
/// checked at compile time against that thunk: the text of the name is
/// written once, in `caller_thunk!`, and every use names the thunk.
macro_rules! wdf_name {
    ($thunk:ident) => {{
        let _: unsafe extern "win64" fn() = $thunk;
        stringify!($thunk)
    }};
}

mod device;
mod driver;
mod object;
mod queue;
mod request;
#[cfg(test)]
mod tests;
mod work_item;

use std::ffi::CStr;

use super::Attributes;
use crate::linux::abi::{
    self, ContextTypeInfo, ObjectAttributes, UnicodeString, execution_level, status,
    synchronization_scope,
};
use crate::linux::cpu::thread;
use crate::linux::kernel::debug::unicode_string;
use crate::linux::kernel::irql;
use crate::linux::kernel::session::Session;
use crate::linux::kernel::stop::stop;
use crate::report::Rule;

/// `FX_VALIDATE_OPTION_PARENT_NOT_ALLOWED`.
const VALIDATE_PARENT_NOT_ALLOWED: u32 = 0x1;
/// `FX_VALIDATE_OPTION_EXECUTION_LEVEL_ALLOWED`.
const VALIDATE_EXECUTION_LEVEL_ALLOWED: u32 = 0x2;
/// `FX_VALIDATE_OPTION_SYNCHRONIZATION_SCOPE_ALLOWED`.
const VALIDATE_SYNCHRONIZATION_SCOPE_ALLOWED: u32 = 0x4;
/// The options for a driver's or a device's attributes (`WdfDriverCreate`,
/// `WdfDeviceCreate`): no parent, constraints allowed.
const TOP_LEVEL: u32 = VALIDATE_PARENT_NOT_ALLOWED
    | VALIDATE_EXECUTION_LEVEL_ALLOWED
    | VALIDATE_SYNCHRONIZATION_SCOPE_ALLOWED;

/// `FxPointerNotNull`: a NULL required parameter bug-checks
/// (`WDF_VIOLATION`, `WDF_REQUIRED_PARAMETER_IS_NULL`).
fn not_null<T>(function: &str, parameter: &str, p: *const T) {
    if p.is_null() {
        stop(
            Rule::WdfViolation,
            format!(
                "{function}: required parameter {parameter} is NULL (WDF_VIOLATION, WDF_REQUIRED_PARAMETER_IS_NULL)"
            ),
        );
    }
}

/// A call KMDF refuses: `why` goes to the framework's log with the status,
/// which is returned.
fn refuse(session: &Session, function: &str, status: i32, why: impl std::fmt::Display) -> i32 {
    session.framework_trace(format!("{function}: {why}: {}", status::describe(status)));
    status
}

/// `FxVerifierDbgBreakPoint` after a refusal KMDF traces: recorded as a
/// violation of `rule` (and in the framework's log).
fn verifier_break(session: &Session, function: &str, rule: Rule, why: impl std::fmt::Display) {
    let message = format!("{function}: {why} (KMDF Verifier breaks: FxVerifierDbgBreakPoint)");
    session.framework_trace(message.clone());
    session.violation(rule, message);
}

/// `FxVerifierCheckIrqlLevel`: above `max`, a verifier break and
/// `STATUS_INVALID_DEVICE_REQUEST`.
fn check_irql(session: &Session, function: &str, max: u8) -> Result<(), i32> {
    let now = thread::irql();
    if now > max {
        verifier_break(
            session,
            function,
            Rule::IrqlTooHigh,
            format!(
                "called at {}, at most {} allowed",
                irql::describe(now),
                irql::describe(max)
            ),
        );
        return Err(status::INVALID_DEVICE_REQUEST);
    }
    Ok(())
}

/// A `Size` KMDF refuses: recorded, traced, and
/// `STATUS_INFO_LENGTH_MISMATCH`.
fn wrong_size(
    session: &Session,
    function: &str,
    structure: &str,
    got: u32,
    expected: &[usize],
) -> i32 {
    let why = format!(
        "{structure}.Size is {got}, KMDF {} accepts {}",
        session.wdf().version,
        expected
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    );
    session.violation(
        Rule::WrongStructureSize,
        format!("{function}: {why} (STATUS_INFO_LENGTH_MISMATCH)"),
    );
    refuse(session, function, status::INFO_LENGTH_MISMATCH, why)
}

/// The first `size` bytes of the structure at `p` (a shorter, older
/// layout), the rest of `T` zero.
///
/// # Safety
///
/// `p` points at `size` readable bytes, `size <= size_of::<T>()`, and `T`
/// is plain data for which zero bytes (and any bytes the driver wrote) are
/// a valid value.
unsafe fn read_prefix<T: Copy>(p: *const T, size: usize) -> T {
    debug_assert!(size <= size_of::<T>());
    let mut value = std::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: `size` readable bytes at `p` into the zeroed value, which has
    // `size_of::<T>() >= size` bytes (the contract).
    unsafe {
        std::ptr::copy_nonoverlapping(p.cast::<u8>(), value.as_mut_ptr().cast::<u8>(), size);
        value.assume_init()
    }
}

/// `FxValidateObjectAttributes` (shared/object/fxvalidatefunctions.cpp),
/// then the attributes as the framework keeps them
/// (`FxObjectHandleAllocCommon`: the context size is the override or the
/// type's size).
///
/// # Safety
///
/// `attributes` is NULL or points at a readable `WDF_OBJECT_ATTRIBUTES`
/// (at least its `Size` field; the rest is read once `Size` is right) whose
/// `ContextTypeInfo` is NULL or a readable `WDF_OBJECT_CONTEXT_TYPE_INFO`
/// with a NUL-terminated `ContextName` or a NULL one.
unsafe fn validate_attributes(
    session: &Session,
    function: &str,
    attributes: *const ObjectAttributes,
    flags: u32,
) -> Result<Option<Attributes>, i32> {
    let fail = |status: i32, why: &str| Err(refuse(session, function, status, why));
    if attributes.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL, so at least `Size` is readable (the contract).
    let size = unsafe { (*attributes).size };
    if size as usize != size_of::<ObjectAttributes>() {
        return Err(wrong_size(
            session,
            function,
            "WDF_OBJECT_ATTRIBUTES",
            size,
            &[size_of::<ObjectAttributes>()],
        ));
    }
    // SAFETY: `Size` is the structure's: all of it is readable (the
    // contract); it is plain data, copied.
    let a = unsafe { *attributes };
    let mut context_name = String::new();
    if !a.context_type_info.is_null() {
        // SAFETY: a non-NULL type info is readable (the contract); the host
        // reads only the fields of its V1_0 layout, which every size has.
        let info: ContextTypeInfo = unsafe { read_prefix(a.context_type_info, 24) };
        // SAFETY: as above, `Size` first.
        let info_size = unsafe { (*a.context_type_info).size };
        if info_size as usize != size_of::<ContextTypeInfo>()
            && info_size != abi::CONTEXT_TYPE_INFO_V1_0_SIZE
        {
            return Err(wrong_size(
                session,
                function,
                "WDF_OBJECT_CONTEXT_TYPE_INFO",
                info_size,
                &[
                    size_of::<ContextTypeInfo>(),
                    abi::CONTEXT_TYPE_INFO_V1_0_SIZE as usize,
                ],
            ));
        }
        if info.context_size > 0 && info.context_name.is_null() {
            return fail(
                status::WDF_OBJECT_ATTRIBUTES_INVALID,
                "a context type with a ContextSize but no ContextName",
            );
        }
        if !info.context_name.is_null() {
            // SAFETY: a non-NULL name is NUL-terminated (the contract).
            context_name = unsafe { CStr::from_ptr(info.context_name.cast()) }
                .to_string_lossy()
                .into_owned();
        }
    }
    let context_size = if a.context_type_info.is_null() {
        if a.context_size_override > 0 {
            return fail(
                status::WDF_OBJECT_ATTRIBUTES_INVALID,
                "a ContextSizeOverride without a context type",
            );
        }
        0
    } else {
        // SAFETY: non-NULL, so readable (the contract).
        let type_size = unsafe { (*a.context_type_info).context_size };
        if a.context_size_override > 0 && a.context_size_override < type_size {
            return fail(
                status::WDF_OBJECT_ATTRIBUTES_INVALID,
                "ContextSizeOverride below the context type's ContextSize",
            );
        }
        if a.context_size_override > 0 {
            a.context_size_override
        } else {
            type_size
        }
    };
    if flags & VALIDATE_PARENT_NOT_ALLOWED != 0 && !a.parent_object.is_null() {
        return fail(
            status::WDF_PARENT_ASSIGNMENT_NOT_ALLOWED,
            "this object takes no ParentObject",
        );
    }
    if a.execution_level == execution_level::INVALID
        || a.execution_level > execution_level::DISPATCH
    {
        return fail(
            status::WDF_OBJECT_ATTRIBUTES_INVALID,
            &format!("ExecutionLevel {} is out of range", a.execution_level),
        );
    }
    if a.synchronization_scope == synchronization_scope::INVALID
        || a.synchronization_scope > synchronization_scope::NONE
    {
        return fail(
            status::WDF_OBJECT_ATTRIBUTES_INVALID,
            &format!(
                "SynchronizationScope {} is out of range",
                a.synchronization_scope
            ),
        );
    }
    if flags & VALIDATE_SYNCHRONIZATION_SCOPE_ALLOWED == 0
        && a.synchronization_scope != synchronization_scope::INHERIT
        && a.synchronization_scope != synchronization_scope::NONE
    {
        return fail(
            status::WDF_SYNCHRONIZATION_SCOPE_INVALID,
            "this object takes no SynchronizationScope",
        );
    }
    if flags & VALIDATE_EXECUTION_LEVEL_ALLOWED == 0
        && a.execution_level != execution_level::INHERIT
    {
        return fail(
            status::WDF_EXECUTION_LEVEL_INVALID,
            "this object takes no ExecutionLevel",
        );
    }
    Ok(Some(Attributes {
        cleanup: a.evt_cleanup_callback,
        destroy: a.evt_destroy_callback,
        execution_level: a.execution_level,
        synchronization_scope: a.synchronization_scope,
        context_size,
        context_type: a.context_type_info as usize,
        context_name,
    }))
}

/// `FxValidateUnicodeString` (shared/inc/private/common/
/// fxvalidatefunctions.hpp), then the string.
///
/// # Safety
///
/// `s` points at a readable `UNICODE_STRING` whose `Buffer`, when its
/// fields pass the checks, holds `Length` readable bytes.
unsafe fn validate_unicode_string(
    session: &Session,
    function: &str,
    s: *const UnicodeString,
) -> Result<String, i32> {
    // SAFETY: a readable UNICODE_STRING (the contract).
    let u = unsafe { &*s };
    let why = if u.length & 1 != 0 {
        Some(format!("UNICODE_STRING Length {} is odd", u.length))
    } else if u.maximum_length & 1 != 0 {
        Some(format!(
            "UNICODE_STRING MaximumLength {} is odd",
            u.maximum_length
        ))
    } else if u.maximum_length > 0 && u.buffer.is_null() {
        Some("UNICODE_STRING with a MaximumLength and a NULL Buffer".to_string())
    } else if u.length > u.maximum_length {
        Some(format!(
            "UNICODE_STRING Length {} > MaximumLength {}",
            u.length, u.maximum_length
        ))
    } else {
        None
    };
    if let Some(why) = why {
        return Err(refuse(session, function, status::INVALID_PARAMETER, why));
    }
    // SAFETY: consistent fields, so `Buffer` holds `Length` bytes (the
    // contract).
    Ok(unsafe { unicode_string(s) })
}

/// The table entries the host implements: each thunk's name (for the
/// function table's index) and address.
macro_rules! implemented {
    ($($module:ident::$thunk:ident),* $(,)?) => {
        &[$((stringify!($thunk), $module::$thunk as unsafe extern "win64" fn())),*]
    };
}

/// Every implemented table entry.
pub(crate) static IMPLEMENTED: &[(&str, unsafe extern "win64" fn())] = implemented![
    driver::WdfDriverCreate,
    device::WdfDeviceInitSetDeviceType,
    device::WdfDeviceInitSetCharacteristics,
    device::WdfDeviceInitSetIoType,
    device::WdfDeviceInitAssignSDDLString,
    device::WdfDeviceInitAssignName,
    device::WdfDeviceCreate,
    device::WdfDeviceCreateDeviceInterface,
    object::WdfObjectGetTypedContextWorker,
    object::WdfObjectDelete,
    queue::WdfIoQueueCreate,
    queue::WdfIoQueueGetDevice,
    request::WdfRequestRetrieveInputBuffer,
    request::WdfRequestRetrieveOutputBuffer,
    request::WdfRequestComplete,
    request::WdfRequestCompleteWithInformation,
    request::WdfRequestSetInformation,
    request::WdfRequestGetInformation,
    work_item::WdfWorkItemCreate,
    work_item::WdfWorkItemEnqueue,
    work_item::WdfWorkItemGetParentObject,
    work_item::WdfWorkItemFlush,
];
