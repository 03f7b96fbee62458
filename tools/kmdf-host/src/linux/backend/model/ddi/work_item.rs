//! `WDFWORKITEM` (shared/core/fxworkitemapi.cpp and fxworkitem.cpp):
//! creation under a parent that belongs to a device, with
//! `AutomaticSerialization` (`FxObject::_GetEffectiveLock`); the callback
//! on a system worker thread at PASSIVE_LEVEL (`WorkItemHandler`);
//! `FlushAndWait`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::{Data, Framework, Kind, WorkItemData, call_driver};
use super::{check_irql, not_null, refuse, validate_attributes, verifier_break, wrong_size};
use crate::linux::abi::fn_ptr;
use crate::linux::abi::irql::PASSIVE;
use crate::linux::abi::{
    self, Handle, ObjectAttributes, WorkItemConfig, status, synchronization_scope,
};
use crate::linux::cpu::thread::{Callback, caller_thunk};
use crate::linux::kernel::session::Session;
use crate::linux::kernel::stop::stop;
use crate::report::{PoolKind, Rule};

/// `WdfWorkItemCreate`.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfWorkItemCreate` says: `Config` is a readable
/// configuration of at least its `Size` naming an `EvtWorkItem` with KMDF's
/// signature, `Attributes` NULL or valid attributes, `WorkItem` writable
/// (NULL pointers stop the run).
unsafe extern "win64" fn wdf_work_item_create(
    _g: *mut abi::DriverGlobals,
    config: *const WorkItemConfig,
    attributes: *const ObjectAttributes,
    item_out: *mut Handle,
) -> i32 {
    let session = Session::current();
    const F: &str = wdf_name!(WdfWorkItemCreate);
    // FxValidateObjectAttributesForParentHandle(PARENT_REQUIRED).
    if attributes.is_null() {
        return refuse(
            &session,
            F,
            status::WDF_PARENT_NOT_SPECIFIED,
            "WDF_OBJECT_ATTRIBUTES required",
        );
    }
    // SAFETY: non-NULL: readable attributes (the contract), `Size` first.
    let size = unsafe { (*attributes).size };
    if size as usize != size_of::<ObjectAttributes>() {
        return wrong_size(
            &session,
            F,
            "WDF_OBJECT_ATTRIBUTES",
            size,
            &[size_of::<ObjectAttributes>()],
        );
    }
    // SAFETY: `Size` is the structure's: all of it is readable.
    let parent = unsafe { (*attributes).parent_object } as usize;
    if parent == 0 {
        return refuse(
            &session,
            F,
            status::WDF_PARENT_NOT_SPECIFIED,
            "ParentObject required in WDF_OBJECT_ATTRIBUTES",
        );
    }
    session.wdf().check(&session.wdf().lock(), F, parent, None);
    not_null(F, "Config", config);
    not_null(F, "WorkItem", item_out);
    // SAFETY: non-NULL (checked): a readable WDF_WORKITEM_CONFIG (the
    // contract), `Size` first.
    let csize = unsafe { (*config).size };
    if csize as usize != size_of::<WorkItemConfig>() {
        return wrong_size(
            &session,
            F,
            "WDF_WORKITEM_CONFIG",
            csize,
            &[size_of::<WorkItemConfig>()],
        );
    }
    // SAFETY: `Size` is the structure's: all of it is readable.
    let c = unsafe { *config };
    if c.evt_work_item_func == 0 {
        return refuse(
            &session,
            F,
            status::INVALID_PARAMETER,
            "EvtWorkItemFunc is NULL",
        );
    }
    // SAFETY: the driver's attributes (the contract).
    let attrs = match unsafe { validate_attributes(&session, F, attributes, 0) } {
        Ok(a) => a,
        Err(s) => return s,
    };
    let data = Data::WorkItem(WorkItemData {
        func: c.evt_work_item_func,
        enqueued: false,
        running: None,
        rundown: false,
        io_work_item: 0,
        lock: None,
    });
    let h = match session.wdf().create_object(
        &session,
        Kind::WorkItem,
        attrs.as_ref(),
        Some(parent),
        data,
    ) {
        Ok(h) => h,
        Err(s) => {
            return refuse(
                &session,
                F,
                s,
                "the FxWorkItem object could not be allocated",
            );
        }
    };
    // FxWorkItem::Initialize.
    let lock = {
        let s = session.wdf().lock();
        match Framework::device_of(&s, parent) {
            None => Err(None),
            Some(_) if c.automatic_serialization == 0 => Ok(None),
            Some(_) => {
                // _GetEffectiveLock: the constraints of the nearest object
                // with callbacks (a queue or the device).
                let holder = Framework::callbacks_holder(&s, parent);
                let (_, scope) = Framework::constraints(&s, holder);
                if scope != synchronization_scope::DEVICE && scope != synchronization_scope::QUEUE {
                    Ok(None)
                } else if Framework::passive_callbacks(&s, parent) {
                    Ok(Framework::lock_owner(&s, holder))
                } else {
                    Err(Some(holder))
                }
            }
        }
    };
    let lock = match lock {
        Ok(lock) => lock,
        Err(None) => {
            session.wdf().delete_from_failed_create(&session, h);
            return refuse(
                &session,
                F,
                status::INVALID_DEVICE_REQUEST,
                format_args!("the parent {parent:#x} does not have a WDFDEVICE as an ancestor"),
            );
        }
        Err(Some(holder)) => {
            session.wdf().delete_from_failed_create(&session, h);
            verifier_break(
                &session,
                F,
                Rule::VerifierBreak,
                format_args!(
                    "AutomaticSerialization with {holder:#x}, whose callbacks are synchronized but the parent's are not passive-level, STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL"
                ),
            );
            return status::WDF_INCOMPATIBLE_EXECUTION_LEVEL;
        }
    };
    // IoAllocateWorkItem.
    let io = session.wdf().allocate(
        &session,
        32,
        PoolKind::NonPagedNx,
        "IO_WORKITEM of a WDFWORKITEM",
    );
    let Ok(io) = io else {
        session.wdf().delete_from_failed_create(&session, h);
        return refuse(
            &session,
            F,
            status::INSUFFICIENT_RESOURCES,
            "the IO_WORKITEM could not be allocated",
        );
    };
    if let Some(w) = session.wdf().lock().work_item_mut(h) {
        w.io_work_item = io;
        w.lock = lock;
    }
    // SAFETY: non-NULL (checked), so writable (the contract).
    unsafe { *item_out = h as Handle };
    status::SUCCESS
}
caller_thunk!(WdfWorkItemCreate => wdf_work_item_create);

/// `WdfWorkItemEnqueue` (`FxWorkItem::Enqueue`): a pending item is not
/// queued twice; one being deleted is a verifier break; the callback runs
/// on a system worker thread at PASSIVE_LEVEL.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfWorkItemEnqueue` says: any handle (looked up, never
/// dereferenced).
unsafe extern "win64" fn wdf_work_item_enqueue(_g: *mut abi::DriverGlobals, item: Handle) {
    let session = Session::current();
    const F: &str = wdf_name!(WdfWorkItemEnqueue);
    let h = item as usize;
    let func = {
        let mut s = session.wdf().lock();
        session.wdf().check(&s, F, h, Some(Kind::WorkItem));
        let Some(w) = s.work_item_mut(h) else {
            unreachable!("checked live above")
        };
        if w.enqueued {
            return;
        }
        if w.rundown {
            drop(s);
            verifier_break(
                &session,
                F,
                Rule::ObjectMisuse,
                format_args!("WDFWORKITEM {item:p} is being deleted (not enqueued)"),
            );
            return;
        }
        w.enqueued = true;
        w.func
    };
    let worker_session: Arc<Session> = session.clone();
    let spawned = std::thread::Builder::new()
        .name("kmdf-host worker".into())
        .spawn(move || run_work_item(worker_session, h, func));
    match spawned {
        Ok(j) => session.wdf().add_worker(j),
        Err(e) => stop(
            Rule::Hang,
            format!("{F}: cannot start a worker thread: {e}"),
        ),
    }
}
caller_thunk!(WdfWorkItemEnqueue => wdf_work_item_enqueue);

/// `FxWorkItem::WorkItemHandler`: clears the pending state, calls
/// `EvtWorkItem` at PASSIVE_LEVEL (holding the callback lock of its
/// synchronization, if any), then lets flushes and rundown proceed.
fn run_work_item(session: Arc<Session>, h: usize, func: usize) {
    let lock = {
        let mut s = session.wdf().lock();
        let Some(w) = s.work_item_mut(h) else {
            return;
        };
        w.enqueued = false;
        w.running = Some(std::thread::current().id());
        w.lock.map(|owner| Framework::callback_lock(&mut s, owner))
    };
    // SAFETY: a function pointer type; `WdfWorkItemCreate` refused a NULL
    // `EvtWorkItemFunc`.
    let f: unsafe extern "win64" fn(usize) = unsafe { fn_ptr(func) };
    let callback = Callback {
        what: "EvtWorkItem",
        address: func,
    };
    {
        let _serialized = lock
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()));
        // SAFETY: the EvtWorkItem the driver registered for this work item
        // (KMDF's signature, by `Host::load`'s contract), with its live
        // handle.
        call_driver(&session, PASSIVE, callback, || unsafe { f(h) });
    }
    if let Some(w) = session.wdf().lock().work_item_mut(h) {
        w.running = None;
    }
    session.wdf().changed.notify_all();
}

/// `WdfWorkItemGetParentObject`.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfWorkItemGetParentObject` says: any handle (looked up,
/// never dereferenced).
unsafe extern "win64" fn wdf_work_item_get_parent_object(
    _g: *mut abi::DriverGlobals,
    item: Handle,
) -> Handle {
    let session = Session::current();
    let s = session.wdf().lock();
    session.wdf().check(
        &s,
        wdf_name!(WdfWorkItemGetParentObject),
        item as usize,
        Some(Kind::WorkItem),
    );
    s.objects[&(item as usize)].parent.unwrap_or(0) as Handle
}
caller_thunk!(WdfWorkItemGetParentObject => wdf_work_item_get_parent_object);

/// `WdfWorkItemFlush` (`FxWorkItem::FlushAndWait`): PASSIVE_LEVEL; waits
/// for a pending or running callback; from the callback itself a verifier
/// break (it would wait for itself) and no wait.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfWorkItemFlush` says: any handle (looked up, never
/// dereferenced).
unsafe extern "win64" fn wdf_work_item_flush(_g: *mut abi::DriverGlobals, item: Handle) {
    let session = Session::current();
    const F: &str = wdf_name!(WdfWorkItemFlush);
    let h = item as usize;
    session
        .wdf()
        .check(&session.wdf().lock(), F, h, Some(Kind::WorkItem));
    if check_irql(&session, F, PASSIVE).is_err() {
        return;
    }
    let me = std::thread::current().id();
    let deadline = Instant::now() + session.options.hang_timeout;
    let mut s = session.wdf().lock();
    loop {
        let Some(w) = s.work_item(h) else {
            return;
        };
        if w.running == Some(me) {
            drop(s);
            verifier_break(
                &session,
                F,
                Rule::VerifierBreak,
                format_args!(
                    "called from WDFWORKITEM {item:p}'s own callback, which it would wait for"
                ),
            );
            return;
        }
        if !w.enqueued && w.running.is_none() {
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            drop(s);
            stop(
                Rule::Hang,
                format!(
                    "{F}: WDFWORKITEM {item:p} did not finish within {:?}",
                    session.options.hang_timeout
                ),
            );
        }
        s = session
            .wdf()
            .changed
            .wait_timeout(s, (deadline - now).min(Duration::from_secs(1)))
            .unwrap()
            .0;
    }
}
caller_thunk!(WdfWorkItemFlush => wdf_work_item_flush);
