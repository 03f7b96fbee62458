//! `WDFQUEUE`: `WdfIoQueueCreate` (shared/irphandlers/io/fxioqueueapi.cpp,
//! with `FxIoQueue::Initialize` and `ConfigureConstraints` of fxioqueue.cpp
//! and `FxPkgIo::InitializeDefaultQueue` of fxpkgio.cpp) and
//! `WdfIoQueueGetDevice`.

use super::super::{Data, Framework, Kind, QueueData};
use super::{
    VALIDATE_EXECUTION_LEVEL_ALLOWED, VALIDATE_SYNCHRONIZATION_SCOPE_ALLOWED, not_null,
    read_prefix, refuse, validate_attributes, wrong_size,
};
use crate::linux::abi::{
    self, Handle, IoQueueConfig, ObjectAttributes, dispatch_type, status, synchronization_scope,
    tri_state,
};
use crate::linux::cpu::thread::caller_thunk;
use crate::linux::kernel::session::Session;

/// `sizeof(WDF_IO_QUEUE_CONFIG_V1_9)`: no `Driver`.
const CONFIG_V1_9_SIZE: usize = 88;
/// `sizeof(WDF_IO_QUEUE_CONFIG_V1_7)`: no `Settings` either.
const CONFIG_V1_7_SIZE: usize = 80;

/// `WdfIoQueueCreate`.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfIoQueueCreate` says: `Config` is a readable
/// configuration of at least its `Size` (NULL stops the run),
/// `QueueAttributes` NULL or valid attributes, `Queue` NULL or writable;
/// the callbacks it names are functions with KMDF's signatures.
unsafe extern "win64" fn wdf_io_queue_create(
    _g: *mut abi::DriverGlobals,
    device: Handle,
    config: *const IoQueueConfig,
    attributes: *const ObjectAttributes,
    queue_out: *mut Handle,
) -> i32 {
    let session = Session::current();
    const F: &str = wdf_name!(WdfIoQueueCreate);
    let device = device as usize;
    session
        .wdf()
        .check(&session.wdf().lock(), F, device, Some(Kind::Device));
    not_null(F, "Config", config);
    // SAFETY: NULL or the driver's attributes (the contract).
    let attrs = match unsafe {
        validate_attributes(
            &session,
            F,
            attributes,
            VALIDATE_EXECUTION_LEVEL_ALLOWED | VALIDATE_SYNCHRONIZATION_SCOPE_ALLOWED,
        )
    } {
        Ok(a) => a,
        Err(s) => return s,
    };
    // SAFETY: non-NULL (checked): a readable WDF_IO_QUEUE_CONFIG (the
    // contract), `Size` first.
    let size = unsafe { (*config).size } as usize;
    if ![
        size_of::<IoQueueConfig>(),
        CONFIG_V1_9_SIZE,
        CONFIG_V1_7_SIZE,
    ]
    .contains(&size)
    {
        return wrong_size(
            &session,
            F,
            "WDF_IO_QUEUE_CONFIG",
            size as u32,
            &[
                size_of::<IoQueueConfig>(),
                CONFIG_V1_9_SIZE,
                CONFIG_V1_7_SIZE,
            ],
        );
    }
    // SAFETY: `Size` is one of the layouts: the fields up to it are there
    // (the contract); the rest of the host's copy is zero for the older,
    // shorter layouts.
    let c = unsafe { read_prefix::<IoQueueConfig>(config, size) };
    if c.default_queue == 0 && queue_out.is_null() {
        return refuse(
            &session,
            F,
            status::INVALID_PARAMETER_4,
            "the Queue parameter is not optional for a queue that is not the default",
        );
    }
    if c.default_queue != 0
        && session
            .wdf()
            .lock()
            .device(device)
            .is_some_and(|d| d.started)
    {
        return refuse(
            &session,
            F,
            status::INVALID_DEVICE_STATE,
            "a default queue can only be created before the WDFDEVICE is started",
        );
    }
    // FxPkgIo::CreateQueue: the object, then FxIoQueue::Initialize.
    let data = Data::Queue(QueueData {
        config: c,
        device,
        // The constructor's -1 (no limit) stays for a V1_7 configuration.
        presented_limit: if size > CONFIG_V1_7_SIZE {
            c.number_of_presented_requests
        } else {
            u32::MAX
        },
        power_managed: false,
        presented: 0,
        in_flight: Vec::new(),
    });
    let h =
        match session
            .wdf()
            .create_object(&session, Kind::Queue, attrs.as_ref(), Some(device), data)
        {
            Ok(h) => h,
            Err(s) => {
                return refuse(
                    &session,
                    F,
                    s,
                    "the FxIoQueue object could not be allocated",
                );
            }
        };
    let failed = |status: i32, why: &str| {
        session.wdf().delete_from_failed_create(&session, h);
        refuse(&session, F, status, why)
    };
    let checked = initialize(&session.wdf().lock(), h, device, &c, size);
    if let Err((status, why)) = checked {
        return failed(status, why);
    }
    let power_managed = c.power_managed != tri_state::FALSE;
    let mut s = session.wdf().lock();
    if let Some(q) = s.queue_mut(h) {
        q.power_managed = power_managed;
    }
    let Some(d) = s.device_mut(device) else {
        unreachable!("checked live above")
    };
    if c.default_queue != 0 {
        // FxPkgIo::InitializeDefaultQueue.
        if d.default_queue.is_some() {
            drop(s);
            return failed(
                status::UNSUCCESSFUL,
                "the device already has a default queue",
            );
        }
        d.default_queue = Some(h);
    }
    d.queues.push(h);
    if c.default_queue != 0 {
        s.objects.get_mut(&h).expect("just created").no_delete_ddi = true;
    }
    drop(s);
    session.trace(format_args!(
        "WdfIoQueueCreate: WDFQUEUE {h:#x}, dispatch {}, power-managed {power_managed}, default {}",
        c.dispatch_type, c.default_queue
    ));
    if !queue_out.is_null() {
        // SAFETY: a non-NULL `Queue` is writable (the contract).
        unsafe { *queue_out = h as Handle };
    }
    status::SUCCESS
}
caller_thunk!(WdfIoQueueCreate => wdf_io_queue_create);

/// The checks of `FxIoQueue::Initialize` (`ConfigureConstraints` first)
/// for queue `h` of `device`, configured with `c` (of `size` bytes).
/// `WdfUseDefault` makes a queue power-managed: the host's devices are
/// function drivers, not filters.
fn initialize(
    s: &super::super::State,
    h: usize,
    device: usize,
    c: &IoQueueConfig,
    size: usize,
) -> Result<(), (i32, &'static str)> {
    let (level, scope) = Framework::constraints(s, h);
    let (device_level, _) = Framework::constraints(s, device);
    if scope == synchronization_scope::DEVICE && device_level != level {
        return Err((
            status::INVALID_PARAMETER,
            "a queue synchronized with its device must have the device's execution level",
        ));
    }
    if c.dispatch_type <= 0 || c.dispatch_type >= dispatch_type::MAX {
        return Err((status::INVALID_PARAMETER, "DispatchType out of range"));
    }
    let any_callback = c.evt_io_default != 0
        || c.evt_io_read != 0
        || c.evt_io_write != 0
        || c.evt_io_device_control != 0
        || c.evt_io_internal_device_control != 0;
    if c.dispatch_type != dispatch_type::MANUAL && !any_callback {
        return Err((
            status::WDF_NO_CALLBACK,
            "a queue that is not manual needs EvtIoDefault or an EvtIo callback for a request type",
        ));
    }
    if c.dispatch_type == dispatch_type::MANUAL && any_callback {
        return Err((
            status::INVALID_PARAMETER,
            "a manual queue takes no EvtIo callbacks",
        ));
    }
    if size > CONFIG_V1_7_SIZE
        && c.number_of_presented_requests != 0
        && c.dispatch_type != dispatch_type::PARALLEL
    {
        return Err((
            status::INVALID_PARAMETER,
            "NumberOfPresentedRequests is for parallel queues",
        ));
    }
    Ok(())
}

/// `WdfIoQueueGetDevice`.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfIoQueueGetDevice` says: any handle (looked up, never
/// dereferenced).
unsafe extern "win64" fn wdf_io_queue_get_device(
    _g: *mut abi::DriverGlobals,
    queue: Handle,
) -> Handle {
    let session = Session::current();
    let s = session.wdf().lock();
    session.wdf().check(
        &s,
        wdf_name!(WdfIoQueueGetDevice),
        queue as usize,
        Some(Kind::Queue),
    );
    s.queue(queue as usize).map_or(0, |q| q.device) as Handle
}
caller_thunk!(WdfIoQueueGetDevice => wdf_io_queue_get_device);
