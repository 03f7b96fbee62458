//! `WdfVersionBind` and `WdfVersionUnbind` of `WdfLdr.sys`, with the
//! framework's side of the bind: `WdfBindClientHelper` (the version and
//! table-size rules for `WDF_BIND_INFO` and `WDF_BIND_INFO2`, as the
//! loader behaves; its source is not public, the rules below are what
//! `fxldr.h` documents for `WDF_BIND_INFO2`'s fields) and
//! `FxLibraryCommonRegisterClient` (kmdf/src/librarycommon/
//! fxlibrarycommon.cpp: function-count checks, the table handed out).

use super::Bound;
use super::structures::SIZES_1_33;
use super::table::WDF_FUNCTION_COUNT;
use crate::linux::abi::{BindInfo, BindInfo2, DriverGlobals, Handle, UnicodeString, status};
use crate::linux::cpu::thread::caller_thunk;
use crate::linux::kernel::debug::unicode_string;
use crate::linux::kernel::session::Session;
use crate::report::Rule;

/// The function-table sizes of released KMDF versions that a client may
/// bind with (`FxLibraryCommonRegisterClient`).
const RELEASED_TABLE_SIZES: [u32; 13] = [
    458, 454, 453, 451, 448, 446, 444, 438, 432, 396, 387, 386, 383,
];

/// `WdfVersionBind(DriverObject, RegistryPath, BindInfo, ComponentGlobals)`.
///
/// # Safety
///
/// Called by the image's KMDF stub (`FxDriverEntry`): `RegistryPath` is NULL
/// or a valid `UNICODE_STRING`; `BindInfo` is NULL or a writable
/// `WDF_BIND_INFO` whose `Size` tells its version, whose `FuncTable` is NULL
/// or writable and, for a `WDF_BIND_INFO2`, whose five pointers are NULL or
/// point at the stub's writable globals; `ComponentGlobals` is NULL or
/// writable.
unsafe extern "win64" fn wdf_version_bind(
    _driver_object: Handle,
    registry_path: *const UnicodeString,
    bind: *mut BindInfo,
    globals_out: *mut *mut DriverGlobals,
) -> i32 {
    let session = Session::current();
    let fw = &session.wdf();
    let fx_minor = fw.version.minor();
    let fx_functions = WDF_FUNCTION_COUNT as u32;
    let fx_structures = SIZES_1_33.len() as u32;
    let fail = |why: String| -> i32 {
        session.violation(
            Rule::WdfViolation,
            format!("WdfVersionBind refused the client: {why}"),
        );
        status::INVALID_PARAMETER
    };
    if bind.is_null() || globals_out.is_null() {
        return fail("NULL bind info or globals pointer".into());
    }
    // SAFETY: non-NULL (checked): the stub's readable WDF_BIND_INFO, at
    // least version 1 (the contract). Copied: the host writes back through
    // `bind` only, so no reference to the stub's memory is held.
    let info: BindInfo = unsafe { bind.read() };
    let mut func_count = info.func_count;
    let client_minor = info.minor;
    session.trace(format_args!(
        "WdfVersionBind(\"{}\"): bind info size {}, version {}.{}.{}, {} functions, framework 1.{fx_minor}",
        // SAFETY: NULL or the I/O manager's registry path (the contract).
        unsafe { unicode_string(registry_path) },
        info.size,
        info.major,
        info.minor,
        info.build,
        info.func_count
    ));
    if info.major != 1 {
        return fail(format!("major version {} (the framework is 1)", info.major));
    }
    let mut bound = Bound {
        client_minor,
        minimum_minor: None,
        client_newer: false,
        func_count: info.func_count,
        client_function_count: None,
    };
    match info.size as usize {
        s if s == size_of::<BindInfo>() => {
            if client_minor > fx_minor {
                return fail(format!(
                    "client 1.{client_minor} is newer than the framework 1.{fx_minor}"
                ));
            }
        }
        s if s == size_of::<BindInfo2>() => {
            // SAFETY: the size says this is a readable WDF_BIND_INFO2 (the
            // contract: `Size` describes the structure); copied, as above.
            let v2: BindInfo2 = unsafe { bind.cast::<BindInfo2>().read() };
            if v2.minimum_version_required.is_null()
                || v2.client_version_higher_than_framework.is_null()
                || v2.func_count_ptr.is_null()
                || v2.struct_count_ptr.is_null()
                || v2.struct_table.is_null()
            {
                return fail("a WDF_BIND_INFO2 pointer is NULL".into());
            }
            // SAFETY: the stub's globals, non-NULL (checked above), readable
            // and writable (the contract).
            let (minimum, client_structures) =
                unsafe { (*v2.minimum_version_required, *v2.struct_count_ptr) };
            bound.minimum_minor = Some(minimum);
            if minimum > client_minor {
                return fail(format!(
                    "minimum version 1.{minimum} above the target version 1.{client_minor}"
                ));
            }
            if minimum > fx_minor {
                return fail(format!(
                    "the client needs KMDF 1.{minimum}, the framework is 1.{fx_minor}"
                ));
            }
            let newer = client_minor > fx_minor;
            bound.client_newer = newer;
            // SAFETY: the stub's global, non-NULL and writable (as above).
            unsafe { *v2.client_version_higher_than_framework = u8::from(newer) };
            if newer {
                if client_structures < fx_structures || func_count < fx_functions {
                    return fail(format!(
                        "a newer client with fewer functions ({func_count}) or structures ({client_structures}) than the framework"
                    ));
                }
                // The client may use only what the framework has.
                func_count = fx_functions;
                // SAFETY: `FuncCount` of the stub's writable bind info and
                // the stub's globals, non-NULL and writable (as above); the
                // structure table lives as long as the framework, which
                // outlives the driver.
                unsafe {
                    (*bind).func_count = fx_functions;
                    *v2.func_count_ptr = fx_functions;
                    *v2.struct_table = fw.structures.as_ptr();
                    *v2.struct_count_ptr = fx_structures;
                }
            } else if client_minor < fx_minor
                && (client_structures > fx_structures || func_count > fx_functions)
            {
                return fail(
                    "an older client with more functions or structures than the framework".into(),
                );
            }
            // SAFETY: the stub's global, non-NULL and readable (as above).
            bound.client_function_count = Some(unsafe { *v2.func_count_ptr });
        }
        s => return fail(format!("unrecognised bind info size {s}")),
    }
    // FxLibraryCommonRegisterClient.
    if info.func_table.is_null() {
        return fail("NULL function table pointer".into());
    }
    if func_count > fx_functions {
        return fail(format!(
            "{func_count} functions, the framework has {fx_functions}"
        ));
    }
    if func_count <= 458 && !RELEASED_TABLE_SIZES.contains(&func_count) {
        return fail(format!(
            "{func_count} functions matches no released framework's table"
        ));
    }
    {
        let mut s = fw.lock();
        if s.bound.is_some() {
            drop(s);
            return fail("the driver is already bound".into());
        }
        s.bound = Some(bound);
        if !registry_path.is_null() {
            // SAFETY: non-NULL: the I/O manager's registry path (the
            // contract).
            s.registry_path = unsafe { unicode_string(registry_path) };
        }
    }
    // SAFETY: the stub's writable `WdfFunctions` variable (`FuncTable`,
    // non-NULL, checked) and globals pointer (non-NULL, checked); the table
    // and the globals live as long as the framework.
    unsafe {
        *info.func_table = fw.table.as_ptr();
        *globals_out = fw.globals;
    }
    status::SUCCESS
}
caller_thunk!(WdfVersionBind => wdf_version_bind);

/// `WdfVersionUnbind(RegistryPath, BindInfo, ComponentGlobals)`: the globals
/// must be the ones the bind handed out.
///
/// # Safety
///
/// None: nothing is dereferenced (any arguments).
unsafe extern "win64" fn wdf_version_unbind(
    _registry_path: *const UnicodeString,
    _bind: *mut BindInfo,
    globals: *mut DriverGlobals,
) -> i32 {
    let session = Session::current();
    if globals != session.wdf().globals {
        session.violation(
            Rule::WdfViolation,
            "WdfVersionUnbind with globals the framework did not hand out".into(),
        );
        return status::INVALID_PARAMETER;
    }
    session.wdf().lock().unbound = true;
    status::SUCCESS
}
caller_thunk!(WdfVersionUnbind => wdf_version_unbind);

/// The address of `WdfLdr.sys`'s export `name`.
pub(crate) fn wdfldr_export(name: &str) -> Option<usize> {
    let f: unsafe extern "win64" fn() = match name {
        "WdfVersionBind" => WdfVersionBind,
        "WdfVersionUnbind" => WdfVersionUnbind,
        _ => return None,
    };
    Some(f as usize)
}
