//! Any object: `WdfObjectGetTypedContextWorker` (shared/object/
//! handleapi.cpp, `FxObjectGetTypedContext`) and `WdfObjectDelete`
//! (shared/object/fxobjectapi.cpp).

use super::super::Framework;
use super::{not_null, verifier_break};
use crate::linux::abi::{self, ContextTypeInfo, Handle};
use crate::linux::cpu::thread::caller_thunk;
use crate::linux::kernel::session::Session;
use crate::report::Rule;

/// `WdfObjectGetTypedContextWorker`: the context whose type info is
/// `TypeInfo` (a pointer comparison), or NULL, which is not an error.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfObjectGetTypedContextWorker` says: any arguments (the
/// handle is looked up, the type info compared, neither dereferenced).
unsafe extern "win64" fn wdf_object_get_typed_context_worker(
    _g: *mut abi::DriverGlobals,
    handle: Handle,
    type_info: *const ContextTypeInfo,
) -> *mut std::ffi::c_void {
    let session = Session::current();
    const F: &str = wdf_name!(WdfObjectGetTypedContextWorker);
    not_null(F, "Handle", handle);
    let s = session.wdf().lock();
    session.wdf().check(&s, F, handle as usize, None);
    drop(s);
    not_null(F, "TypeInfo", type_info);
    Framework::typed_context(&session.wdf().lock(), handle as usize, type_info as usize)
        as *mut std::ffi::c_void
}
caller_thunk!(WdfObjectGetTypedContextWorker => wdf_object_get_typed_context_worker);

/// `WdfObjectDelete`: an object marked "no delete DDI" (the driver, a
/// device, a default queue, a request the I/O manager sent) is a verifier
/// break and stays; any other is deleted with its children.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfObjectDelete` says: any handle (looked up, never
/// dereferenced); the driver must not use the object's context after its
/// destroy callback.
unsafe extern "win64" fn wdf_object_delete(_g: *mut abi::DriverGlobals, handle: Handle) {
    let session = Session::current();
    const F: &str = wdf_name!(WdfObjectDelete);
    let (no_delete, kind) = {
        let s = session.wdf().lock();
        session.wdf().check(&s, F, handle as usize, None);
        let o = &s.objects[&(handle as usize)];
        (o.no_delete_ddi, o.kind)
    };
    if no_delete {
        verifier_break(
            &session,
            F,
            Rule::ObjectMisuse,
            format!(
                "a {} {handle:p} does not allow WdfObjectDelete (STATUS_CANNOT_DELETE; not deleted)",
                kind.name()
            ),
        );
        return;
    }
    session.wdf().delete(&session, handle as usize);
}
caller_thunk!(WdfObjectDelete => wdf_object_delete);
