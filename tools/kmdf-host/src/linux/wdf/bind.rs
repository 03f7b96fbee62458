//! `WdfVersionBind` and `WdfVersionUnbind` of `WdfLdr.sys`, with the
//! framework's side of the bind: `WdfBindClientHelper` (the version and
//! table-size rules for `WDF_BIND_INFO` and `WDF_BIND_INFO2`, as the
//! loader behaves; its source is not public, the rules below are what
//! `fxldr.h` documents for `WDF_BIND_INFO2`'s fields) and
//! `FxLibraryCommonRegisterClient` (kmdf/src/librarycommon/
//! fxlibrarycommon.cpp: function-count checks, the table handed out).

use super::super::abi::{BindInfo, BindInfo2, DriverGlobals, Handle, UnicodeString, status};
use super::super::context::{self, caller_thunk};
use super::super::kernel::debug::unicode_string;
use super::Bound;
use super::structures::SIZES_1_33;
use super::table::WDF_FUNCTION_COUNT;
use crate::report::Rule;

/// The function-table sizes of released KMDF versions that a client may
/// bind with (`FxLibraryCommonRegisterClient`).
const RELEASED_TABLE_SIZES: [u32; 14] = [
    458, 454, 453, 451, 448, 446, 444, 438, 432, 396, 387, 386, 383, 458,
];

unsafe extern "win64" fn wdf_version_bind(
    _driver_object: Handle,
    registry_path: *const UnicodeString,
    bind: *mut BindInfo,
    globals_out: *mut *mut DriverGlobals,
) -> i32 {
    let session = context::session();
    let fw = &session.wdf;
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
    // SAFETY: the stub passes its WDF_BIND_INFO (at least version 1).
    let info = unsafe { &mut *bind };
    let client_minor = info.minor;
    session.trace(format_args!(
        "WdfVersionBind(\"{}\"): bind info size {}, version {}.{}.{}, {} functions, framework 1.{fx_minor}",
        unicode_string(registry_path),
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
            // SAFETY: the size says this is a WDF_BIND_INFO2.
            let v2 = unsafe { &mut *(bind as *mut BindInfo2) };
            if v2.minimum_version_required.is_null()
                || v2.client_version_higher_than_framework.is_null()
                || v2.func_count_ptr.is_null()
                || v2.struct_count_ptr.is_null()
                || v2.struct_table.is_null()
            {
                return fail("a WDF_BIND_INFO2 pointer is NULL".into());
            }
            // SAFETY: the stub's globals, checked non-NULL above.
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
            // SAFETY: as above.
            unsafe { *v2.client_version_higher_than_framework = u8::from(newer) };
            if newer {
                if client_structures < fx_structures || info.func_count < fx_functions {
                    return fail(format!(
                        "a newer client with fewer functions ({}) or structures ({client_structures}) than the framework",
                        info.func_count
                    ));
                }
                // The client may use only what the framework has.
                info.func_count = fx_functions;
                // SAFETY: the stub's globals, checked non-NULL above; the
                // structure table lives as long as the framework.
                unsafe {
                    *v2.func_count_ptr = fx_functions;
                    *v2.struct_table = fw.structures.as_ptr();
                    *v2.struct_count_ptr = fx_structures;
                }
            } else if client_minor < fx_minor
                && (client_structures > fx_structures || info.func_count > fx_functions)
            {
                return fail(
                    "an older client with more functions or structures than the framework".into(),
                );
            }
            // SAFETY: as above.
            let client_count = unsafe { *v2.func_count_ptr };
            if client_count == 0 {
                session.violation(
                    Rule::WdfViolation,
                    "the client's WdfFunctionCount is 0 after binding: the KMDF stub must initialise it to \
                     WdfFunctionTableNumEntries (the framework writes it only for a client newer than itself), \
                     and wdk-sys checks every WDF call's index against it"
                        .into(),
                );
            }
        }
        s => return fail(format!("unrecognised bind info size {s}")),
    }
    // FxLibraryCommonRegisterClient.
    if info.func_table.is_null() {
        return fail("NULL function table pointer".into());
    }
    if info.func_count > fx_functions {
        return fail(format!(
            "{} functions, the framework has {fx_functions}",
            info.func_count
        ));
    }
    if info.func_count <= 458 && !RELEASED_TABLE_SIZES.contains(&info.func_count) {
        return fail(format!(
            "{} functions matches no released framework's table",
            info.func_count
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
            // SAFETY: the I/O manager's registry path string.
            let r = unsafe { &*registry_path };
            // SAFETY: `Length` bytes at `Buffer`.
            s.registry_path =
                unsafe { std::slice::from_raw_parts(r.buffer, usize::from(r.length) / 2) }.to_vec();
        }
    }
    // SAFETY: the stub's `WdfFunctions` pointer variable and its globals
    // pointer; the table and the globals live as long as the framework.
    unsafe {
        *info.func_table = fw.table.as_ptr();
        *globals_out = fw.globals;
    }
    status::SUCCESS
}
caller_thunk!(WdfVersionBind => wdf_version_bind);

unsafe extern "win64" fn wdf_version_unbind(
    _registry_path: *const UnicodeString,
    _bind: *mut BindInfo,
    globals: *mut DriverGlobals,
) -> i32 {
    let session = context::session();
    if globals != session.wdf.globals {
        session.violation(
            Rule::WdfViolation,
            "WdfVersionUnbind with globals the framework did not hand out".into(),
        );
        return status::INVALID_PARAMETER;
    }
    session.wdf.lock().unbound = true;
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
