//! `DriverEntry`, the device, its queue and the request path.
//!
//! IRQL of every entry point (also stated on each function):
//!
//! | callback                      | IRQL           | why                                          |
//! |-------------------------------|----------------|----------------------------------------------|
//! | `DriverEntry`                 | PASSIVE_LEVEL  | called by the I/O manager at load            |
//! | `evt_driver_device_add`       | PASSIVE_LEVEL  | PnP AddDevice                                |
//! | `evt_io_device_control`       | PASSIVE_LEVEL  | device `ExecutionLevel = Passive`, inherited |
//! |                               |                | by the default queue                         |
//! | `evt_device_context_cleanup`  | PASSIVE_LEVEL  | device object cleanup (passive device)       |
//! | `kernel_clock`                | any            | `KeQueryPerformanceCounter`                  |
//!
//! Nothing here can unwind: the crate is built with `panic = "abort"` and
//! `wdk-panic` turns a panic into a bug check.

use core::mem::{MaybeUninit, size_of};
use core::ptr;

use kcom::{
    GlobalAllocator, NTSTATUS, STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_DEVICE_STATE,
    STATUS_SUCCESS, nt_success,
};
use kcom_sample_core::protocol::{
    FILE_DEVICE_KCOM_SAMPLE, GUID_DEVINTERFACE_KCOM_SAMPLE, Ioctl, pool_type,
};
use kcom_sample_core::{Defer, DeferredJob, DeviceConfig, DeviceState, dispatch_in_place};
use wdk_sys::{
    _WDF_DEVICE_IO_TYPE, _WDF_EXECUTION_LEVEL, _WDF_IO_QUEUE_DISPATCH_TYPE,
    _WDF_SYNCHRONIZATION_SCOPE, _WDF_TRI_STATE, _WDFSTRUCTENUM, BOOLEAN, FILE_DEVICE_SECURE_OPEN,
    GUID, LARGE_INTEGER, PASSIVE_LEVEL, PCUNICODE_STRING, PDRIVER_OBJECT,
    PFN_WDF_DRIVER_DEVICE_ADD, PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL, PVOID, PWDFDEVICE_INIT, ULONG,
    ULONG_PTR, WDF_DRIVER_CONFIG, WDF_IO_QUEUE_CONFIG, WDF_NO_OBJECT_ATTRIBUTES,
    WDF_OBJECT_ATTRIBUTES, WDF_OBJECT_CONTEXT_TYPE_INFO, WDF_WORKITEM_CONFIG, WDFDEVICE, WDFDRIVER,
    WDFOBJECT, WDFQUEUE, WDFREQUEST, WDFWORKITEM, WdfClientVersionHigherThanFramework,
    WdfStructureCount, WdfStructures, call_unsafe_wdf_function_binding,
    ntddk::{KeGetCurrentIrql, KeQueryPerformanceCounter},
};

// Rust's `alloc` (Box, Vec, …) in the driver: non-paged, no-execute pool with
// wdk-alloc's tag `rust`. kcom's own allocations do not come through here:
// `kcom::GlobalAllocator` is `WdkAllocator` (NonPagedNx, tag `kcom`) in this
// build, and each exercise uses its own tag (see `kcom_sample_core::tags`).
#[global_allocator]
static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;

// The panic handler: a panic bug-checks the machine.
extern crate wdk_panic;

// ---------------------------------------------------------------------------
// Equivalents of the WDF_*_INIT macros (not part of wdk-sys).
// ---------------------------------------------------------------------------

/// `size_of::<T>()` as the `ULONG` WDF structures carry in `Size`.
const fn wdf_size<T>() -> ULONG {
    const { assert!(size_of::<T>() <= u32::MAX as usize) };
    size_of::<T>() as ULONG
}

/// `WDF_STRUCTURE_SIZE(T)` (`wdffuncenum.h`): the `Size` of a WDF structure
/// `T` whose `WDFSTRUCTENUM` index is `index`, for the framework this driver
/// is bound to (IRQL: any).
///
/// The driver is built against KMDF 1.33 with a minimum of 1.31
/// (`minimum-kmdf-version-minor`). On an older framework than 1.33 the
/// binding sets `WdfClientVersionHigherThanFramework`, and a structure must
/// then carry the size that framework knows (its `WdfStructures` table), not
/// this build's `size_of`: a 1.31 framework rejects a size it does not know.
/// A structure that framework does not have at all gets `ULONG::MAX`, as in
/// the C macro; the framework then fails the call.
fn wdf_structure_size<T>(index: _WDFSTRUCTENUM::Type) -> ULONG {
    // SAFETY: `FxDriverEntry` (WdfDriverEntry.lib) bound the framework before
    // `DriverEntry` ran, and the framework wrote these three globals then;
    // nothing writes them afterwards, so plain reads of their values race
    // with nothing.
    let (newer_than_framework, count, table) = unsafe {
        (
            WdfClientVersionHigherThanFramework,
            WdfStructureCount,
            WdfStructures,
        )
    };
    if newer_than_framework == 0 {
        return wdf_size::<T>();
    }
    match u32::try_from(index) {
        Ok(i) if i < count && !table.is_null() => {
            // SAFETY: the framework's table has `WdfStructureCount` entries
            // and `i` is below that count.
            let size = unsafe { table.add(i as usize).read() };
            ULONG::try_from(size).unwrap_or(ULONG::MAX)
        }
        _ => ULONG::MAX,
    }
}

/// `WDF_OBJECT_ATTRIBUTES_INIT`: zeroed, sized, and both the execution level
/// and the synchronization scope inherited from the parent.
fn object_attributes_init() -> WDF_OBJECT_ATTRIBUTES {
    WDF_OBJECT_ATTRIBUTES {
        Size: wdf_structure_size::<WDF_OBJECT_ATTRIBUTES>(
            _WDFSTRUCTENUM::INDEX_WDF_OBJECT_ATTRIBUTES,
        ),
        ExecutionLevel: _WDF_EXECUTION_LEVEL::WdfExecutionLevelInheritFromParent,
        SynchronizationScope: _WDF_SYNCHRONIZATION_SCOPE::WdfSynchronizationScopeInheritFromParent,
        ..WDF_OBJECT_ATTRIBUTES::default()
    }
}

/// `WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE`.
fn object_attributes_init_context_type(info: &'static ContextTypeInfo) -> WDF_OBJECT_ATTRIBUTES {
    WDF_OBJECT_ATTRIBUTES {
        ContextTypeInfo: info.unique_type(),
        ..object_attributes_init()
    }
}

/// The pool tag of the framework's own allocations for this driver (its
/// objects: device, queue, requests, work items). Without one KMDF derives a
/// tag from the service name, `kcom`, which is also the tag of
/// `kcom::GlobalAllocator` in the driver: `!poolused`, Driver Verifier and
/// fault injection could then not tell the framework's memory from the
/// `global` exercise's.
const DRIVER_POOL_TAG: ULONG = u32::from_le_bytes(*b"KcFx");

/// `WDF_DRIVER_CONFIG_INIT`, with this driver's own pool tag.
fn driver_config_init(device_add: PFN_WDF_DRIVER_DEVICE_ADD) -> WDF_DRIVER_CONFIG {
    WDF_DRIVER_CONFIG {
        Size: wdf_structure_size::<WDF_DRIVER_CONFIG>(_WDFSTRUCTENUM::INDEX_WDF_DRIVER_CONFIG),
        EvtDriverDeviceAdd: device_add,
        DriverPoolTag: DRIVER_POOL_TAG,
        ..WDF_DRIVER_CONFIG::default()
    }
}

/// `WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE` for a parallel queue with a
/// device-control handler, not power-managed: the device has no hardware and
/// no power states of its own, so a long `RUN_EXERCISE` must not hold up a
/// system sleep transition (a power-managed queue is stopped, and waits for
/// its requests, whenever the device leaves D0).
fn io_queue_config_init_default_parallel(
    device_control: PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL,
) -> WDF_IO_QUEUE_CONFIG {
    let mut config = WDF_IO_QUEUE_CONFIG {
        Size: wdf_structure_size::<WDF_IO_QUEUE_CONFIG>(_WDFSTRUCTENUM::INDEX_WDF_IO_QUEUE_CONFIG),
        DispatchType: _WDF_IO_QUEUE_DISPATCH_TYPE::WdfIoQueueDispatchParallel,
        PowerManaged: _WDF_TRI_STATE::WdfFalse,
        DefaultQueue: 1,
        EvtIoDeviceControl: device_control,
        ..WDF_IO_QUEUE_CONFIG::default()
    };
    // As the C macro does for parallel queues: no limit on requests presented
    // at once.
    config.Settings.Parallel.NumberOfPresentedRequests = ULONG::MAX;
    config
}

/// A `WDF_OBJECT_CONTEXT_TYPE_INFO` in a `static` (the C
/// `WDF_DECLARE_CONTEXT_TYPE` macro); its address identifies the type.
#[repr(transparent)]
struct ContextTypeInfo(WDF_OBJECT_CONTEXT_TYPE_INFO);

// SAFETY: the structure is immutable and its pointers refer to `'static`
// read-only data (a C string literal and the structure itself).
unsafe impl Sync for ContextTypeInfo {}

impl ContextTypeInfo {
    fn unique_type(&'static self) -> *const WDF_OBJECT_CONTEXT_TYPE_INFO {
        self.0.UniqueType
    }
}

/// The device interface class as the WDK's `GUID`.
static DEVICE_INTERFACE_GUID: GUID = GUID {
    Data1: GUID_DEVINTERFACE_KCOM_SAMPLE.data1,
    Data2: GUID_DEVINTERFACE_KCOM_SAMPLE.data2,
    Data3: GUID_DEVINTERFACE_KCOM_SAMPLE.data3,
    Data4: GUID_DEVINTERFACE_KCOM_SAMPLE.data4,
};

// ---------------------------------------------------------------------------
// Device context
// ---------------------------------------------------------------------------

/// The device's context: the core state once the device exists.
///
/// WDF zero-fills context memory, so `initialized` starts `false`; it becomes
/// `true` only after `state` was written, and the cleanup callback drops the
/// state only then. Between those two points `state` is read-only and shared
/// by every request in flight (`DeviceState: Sync`).
struct DeviceContext {
    initialized: bool,
    state: MaybeUninit<DeviceState>,
}

// WDF aligns context memory to MEMORY_ALLOCATION_ALIGNMENT (16 on 64-bit).
const _: () = assert!(core::mem::align_of::<DeviceContext>() <= 16);

// `WDF_DECLARE_CONTEXT_TYPE` puts `sizeof` in a context type's `Size` (not
// `WDF_STRUCTURE_SIZE`): every framework version takes this layout.
static DEVICE_CONTEXT_TYPE: ContextTypeInfo = ContextTypeInfo(WDF_OBJECT_CONTEXT_TYPE_INFO {
    Size: wdf_size::<WDF_OBJECT_CONTEXT_TYPE_INFO>(),
    ContextName: c"KcomSampleDeviceContext".as_ptr(),
    ContextSize: size_of::<DeviceContext>(),
    UniqueType: &raw const DEVICE_CONTEXT_TYPE.0,
    EvtDriverGetUniqueContextType: None,
});

/// The context of `object` (a device created with `DEVICE_CONTEXT_TYPE`).
///
/// # Safety
///
/// `object` must be a live WDF device handle of this driver.
unsafe fn device_context(object: WDFOBJECT) -> *mut DeviceContext {
    // SAFETY: the caller passes a live handle; the type info is ours.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfObjectGetTypedContextWorker,
            object,
            DEVICE_CONTEXT_TYPE.unique_type()
        )
    }
    .cast::<DeviceContext>()
}

/// Monotonic time in nanoseconds for the core (IRQL: any).
fn kernel_clock() -> u64 {
    let mut frequency = LARGE_INTEGER::default();
    // SAFETY: `frequency` is a valid out-pointer; the routine may be called at
    // any IRQL.
    let counter = unsafe { KeQueryPerformanceCounter(&mut frequency) };
    // SAFETY: `QuadPart` covers the whole union, and every bit pattern is a
    // valid `i64`.
    let (ticks, hz) = unsafe { (counter.QuadPart, frequency.QuadPart) };
    if ticks <= 0 || hz <= 0 {
        return 0;
    }
    (ticks as u128 * 1_000_000_000 / hz as u128) as u64
}

/// True at PASSIVE_LEVEL (IRQL: any).
fn at_passive() -> bool {
    // SAFETY: KeGetCurrentIrql has no preconditions.
    u32::from(unsafe { KeGetCurrentIrql() }) == PASSIVE_LEVEL
}

// ---------------------------------------------------------------------------
// Deferred work: WDF work items for the `async-com` exercise
// ---------------------------------------------------------------------------

/// The context of each work item: the job it runs.
#[repr(C)]
struct WorkItemContext {
    job: MaybeUninit<DeferredJob>,
}

static WORK_ITEM_CONTEXT_TYPE: ContextTypeInfo = ContextTypeInfo(WDF_OBJECT_CONTEXT_TYPE_INFO {
    Size: wdf_size::<WDF_OBJECT_CONTEXT_TYPE_INFO>(),
    ContextName: c"KcomSampleWorkItemContext".as_ptr(),
    ContextSize: size_of::<WorkItemContext>(),
    UniqueType: &raw const WORK_ITEM_CONTEXT_TYPE.0,
    EvtDriverGetUniqueContextType: None,
});

/// `Defer::queue` of the driver (IRQL: <= DISPATCH_LEVEL): a new WDF work
/// item, a child of the device `device` (the `WDFDEVICE` the core state was
/// configured with, as an integer), runs the job on a system worker thread at
/// PASSIVE_LEVEL. Each device parents its own work items, so removing one
/// device never touches another's.
///
/// Errors: the status `WdfWorkItemCreate` failed with, or
/// `STATUS_INVALID_DEVICE_STATE` if the work item has no context (the job is
/// then not run).
fn defer_to_work_item(device: usize, job: DeferredJob) -> Result<(), NTSTATUS> {
    let parent: WDFDEVICE = ptr::with_exposed_provenance_mut(device);
    let mut config = WDF_WORKITEM_CONFIG {
        Size: wdf_structure_size::<WDF_WORKITEM_CONFIG>(_WDFSTRUCTENUM::INDEX_WDF_WORKITEM_CONFIG),
        EvtWorkItemFunc: Some(evt_work_item),
        AutomaticSerialization: BOOLEAN::from(false),
    };
    let mut attributes = WDF_OBJECT_ATTRIBUTES {
        ParentObject: parent.cast(),
        ..object_attributes_init_context_type(&WORK_ITEM_CONTEXT_TYPE)
    };
    let mut item: WDFWORKITEM = ptr::null_mut();
    // SAFETY: `config`, `attributes` and `item` outlive the call; the parent
    // is the live device whose state holds this `Defer`: the only callers are
    // requests of that device's queue, which is its child and is drained
    // before the device's cleanup drops the state.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfWorkItemCreate,
            &mut config,
            &mut attributes,
            &mut item
        )
    };
    if !nt_success(status) {
        return Err(status);
    }
    // SAFETY: `item` was just created with our context type.
    let context = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfObjectGetTypedContextWorker,
            item.cast(),
            WORK_ITEM_CONTEXT_TYPE.unique_type()
        )
    }
    .cast::<WorkItemContext>();
    if context.is_null() {
        // SAFETY: our own, never enqueued work item.
        unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, item.cast()) };
        return Err(STATUS_INVALID_DEVICE_STATE);
    }
    // SAFETY: the context is ours, sized for a `WorkItemContext`, and the
    // work item is not enqueued yet, so nothing else reads it.
    unsafe {
        (*context).job.write(job);
        call_unsafe_wdf_function_binding!(WdfWorkItemEnqueue, item);
    }
    Ok(())
}

/// `EvtWorkItem` (IRQL: PASSIVE_LEVEL, a system worker thread): runs the job
/// once, then deletes the work item.
///
/// # Safety
///
/// Called only by KMDF with a work item made by `defer_to_work_item`.
unsafe extern "C" fn evt_work_item(item: WDFWORKITEM) {
    // SAFETY: the work item was created with our context type and its job
    // written before it was enqueued; it runs once, so the job is read once.
    let job = unsafe {
        let context = call_unsafe_wdf_function_binding!(
            WdfObjectGetTypedContextWorker,
            item.cast(),
            WORK_ITEM_CONTEXT_TYPE.unique_type()
        )
        .cast::<WorkItemContext>();
        (*context).job.assume_init_read()
    };
    job.run();
    // SAFETY: a driver may delete a work item from its own callback; it is
    // not used afterwards.
    unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, item.cast()) };
}

/// The core's configuration for `device`.
fn device_config(device: WDFDEVICE) -> DeviceConfig {
    DeviceConfig {
        clock: kernel_clock,
        is_passive: at_passive,
        defer: Some(Defer {
            queue: defer_to_work_item,
            context: device.expose_provenance(),
        }),
        global_pool_type: pool_type::NON_PAGED_NX,
        global_tag: GlobalAllocator::TAG,
        external_pool_stats: None,
    }
}

// ---------------------------------------------------------------------------
// DriverEntry and callbacks
// ---------------------------------------------------------------------------

/// The driver's entry point (IRQL: PASSIVE_LEVEL). KMDF's `FxDriverEntry`
/// binds the framework and then calls this.
///
/// # Safety
///
/// Called only by the system, with a valid driver object and registry path.
#[unsafe(export_name = "DriverEntry")]
pub unsafe extern "system" fn driver_entry(
    driver: PDRIVER_OBJECT,
    registry_path: PCUNICODE_STRING,
) -> NTSTATUS {
    // First, before anything allocates: resolve ExAllocatePool2 (at
    // PASSIVE_LEVEL, as here). On systems without it kcom falls back to
    // ExAllocatePoolWithTag, so the result needs no handling.
    let _has_ex_allocate_pool2 = kcom::init_ex_allocate_pool2();
    let mut config = driver_config_init(Some(evt_driver_device_add));
    // SAFETY: `driver` and `registry_path` come from the system; `config`
    // outlives the call; no driver handle is requested.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDriverCreate,
            driver,
            registry_path,
            WDF_NO_OBJECT_ATTRIBUTES,
            &mut config,
            ptr::null_mut()
        )
    }
}

/// `EvtDriverDeviceAdd` (IRQL: PASSIVE_LEVEL): creates the device, its
/// context (the core state), its interface and its default queue.
///
/// # Safety
///
/// Called only by KMDF with a valid `WDFDEVICE_INIT`.
unsafe extern "C" fn evt_driver_device_add(
    _driver: WDFDRIVER,
    mut device_init: PWDFDEVICE_INIT,
) -> NTSTATUS {
    // The device is unnamed (PnP reaches it through its interface), so its
    // security descriptor comes from the INF (`Security` and
    // `DeviceCharacteristics` in the `.HW` section, applied by PnP to the
    // whole stack): KMDF refuses an SDDL string on an unnamed device
    // (`WdfDeviceCreate` fails with STATUS_INVALID_SECURITY_DESCR).
    // SAFETY: KMDF passes a valid `WDFDEVICE_INIT` that stays ours until
    // `WdfDeviceCreate` succeeds.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceInitSetDeviceType,
            device_init,
            FILE_DEVICE_KCOM_SAMPLE
        );
        call_unsafe_wdf_function_binding!(
            WdfDeviceInitSetCharacteristics,
            device_init,
            FILE_DEVICE_SECURE_OPEN,
            BOOLEAN::from(true)
        );
        call_unsafe_wdf_function_binding!(
            WdfDeviceInitSetIoType,
            device_init,
            _WDF_DEVICE_IO_TYPE::WdfDeviceIoBuffered
        );
    }

    let mut attributes = WDF_OBJECT_ATTRIBUTES {
        // Every callback of the device and its children runs at PASSIVE_LEVEL.
        ExecutionLevel: _WDF_EXECUTION_LEVEL::WdfExecutionLevelPassive,
        EvtCleanupCallback: Some(evt_device_context_cleanup),
        ..object_attributes_init_context_type(&DEVICE_CONTEXT_TYPE)
    };
    let mut device: WDFDEVICE = ptr::null_mut();
    // SAFETY: `device_init` is valid (see above) and is consumed on success;
    // `attributes` and `device` outlive the call.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceCreate,
            &mut device_init,
            &mut attributes,
            &mut device
        )
    };
    if !nt_success(status) {
        return status;
    }

    // Build the core state directly in the context (it is too large for a
    // comfortable kernel stack frame). If that fails, failing AddDevice
    // deletes the device; the cleanup callback sees `initialized == false`.
    // SAFETY: `device` was just created with our context type, which WDF
    // zero-filled; nothing else can reach it before the queue exists.
    unsafe {
        let context = device_context(device.cast());
        if context.is_null() {
            return STATUS_INVALID_DEVICE_STATE;
        }
        if let Err(status) = DeviceState::init_in(&mut (*context).state, device_config(device)) {
            return status;
        }
        (*context).initialized = true;
    }

    // SAFETY: live device; the GUID is a static; no reference string.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceCreateDeviceInterface,
            device,
            &DEVICE_INTERFACE_GUID,
            ptr::null()
        )
    };
    if !nt_success(status) {
        // Failing AddDevice deletes the device, which runs the cleanup.
        return status;
    }

    let mut queue_config = io_queue_config_init_default_parallel(Some(evt_io_device_control));
    let mut queue: WDFQUEUE = ptr::null_mut();
    // SAFETY: live device; `queue_config` and `queue` outlive the call. The
    // queue is a child of the device, so it is gone before the device's
    // cleanup releases the state.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfIoQueueCreate,
            device,
            &mut queue_config,
            WDF_NO_OBJECT_ATTRIBUTES,
            &mut queue
        )
    }
}

/// Device `EvtCleanupCallback` (IRQL: PASSIVE_LEVEL): drops the core state,
/// releasing every exercise object and its memory.
///
/// # Safety
///
/// Called only by KMDF, once, for a device created by this driver.
unsafe extern "C" fn evt_device_context_cleanup(object: WDFOBJECT) {
    // SAFETY: KMDF passes our device; its queue (a child) was cleaned up
    // before, so no request can still use the state.
    unsafe {
        let context = device_context(object);
        if !context.is_null() && (*context).initialized {
            (*context).initialized = false;
            (*context).state.assume_init_drop();
        }
    }
}

/// `EvtIoDeviceControl` of the default queue (IRQL: PASSIVE_LEVEL): hands the
/// request to the core and completes it exactly once.
///
/// # Safety
///
/// Called only by KMDF with a live queue and request of this driver.
unsafe extern "C" fn evt_io_device_control(
    queue: WDFQUEUE,
    request: WDFREQUEST,
    output_buffer_length: usize,
    input_buffer_length: usize,
    io_control_code: ULONG,
) {
    // SAFETY: forwarded from KMDF.
    let (status, information) = unsafe {
        handle_device_control(
            queue,
            request,
            output_buffer_length,
            input_buffer_length,
            io_control_code,
        )
    };
    // SAFETY: the request is ours and is completed here and nowhere else.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfRequestCompleteWithInformation,
            request,
            status,
            information as ULONG_PTR
        );
    }
}

/// The body of [`evt_io_device_control`]: returns the completion status and
/// the byte count (0 on failure).
///
/// # Safety
///
/// As for [`evt_io_device_control`].
unsafe fn handle_device_control(
    queue: WDFQUEUE,
    request: WDFREQUEST,
    output_len: usize,
    input_len: usize,
    code: ULONG,
) -> (NTSTATUS, usize) {
    // Only this protocol's codes, all of them METHOD_BUFFERED, go further:
    // for those the input and output share one system buffer.
    if Ioctl::from_code(code).is_none() {
        return (STATUS_INVALID_DEVICE_REQUEST, 0);
    }

    // SAFETY: live queue from KMDF.
    let device = unsafe { call_unsafe_wdf_function_binding!(WdfIoQueueGetDevice, queue) };
    // SAFETY: the queue's device is ours.
    let context = unsafe { device_context(device.cast()) };
    // SAFETY: the context is valid while the queue exists; `initialized` is
    // only written before the queue exists and after it is gone.
    if context.is_null() || unsafe { !(*context).initialized } {
        return (STATUS_INVALID_DEVICE_STATE, 0);
    }
    // SAFETY: initialised (checked above) and only shared from here on.
    let state: &DeviceState = unsafe { (*context).state.assume_init_ref() };

    let len = input_len.max(output_len);
    if len == 0 {
        // No buffer at all: the core reports the length error.
        let result = dispatch_in_place(state, code, &mut [], 0, 0);
        return complete_with(result);
    }

    let mut input: PVOID = ptr::null_mut();
    let mut output: PVOID = ptr::null_mut();
    let mut got: usize = 0;
    if input_len > 0 {
        // SAFETY: live request; out-pointers valid.
        let status = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfRequestRetrieveInputBuffer,
                request,
                input_len,
                &mut input,
                &mut got
            )
        };
        if !nt_success(status) {
            return (status, 0);
        }
    }
    if output_len > 0 {
        // SAFETY: live request; out-pointers valid.
        let status = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfRequestRetrieveOutputBuffer,
                request,
                output_len,
                &mut output,
                &mut got
            )
        };
        if !nt_success(status) {
            return (status, 0);
        }
    }
    // METHOD_BUFFERED: both are `Irp->AssociatedIrp.SystemBuffer`.
    let buffer = if input.is_null() { output } else { input };
    if buffer.is_null() || (!input.is_null() && !output.is_null() && input != output) {
        return (STATUS_INVALID_DEVICE_REQUEST, 0);
    }
    // SAFETY: for METHOD_BUFFERED the I/O manager allocates the system buffer
    // with max(input, output) bytes, exclusively for this request until it is
    // completed; this is the only reference made to it.
    let buf = unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), len) };
    complete_with(dispatch_in_place(state, code, buf, input_len, output_len))
}

fn complete_with(result: Result<usize, NTSTATUS>) -> (NTSTATUS, usize) {
    match result {
        Ok(written) => (STATUS_SUCCESS, written),
        Err(status) => (status, 0),
    }
}
