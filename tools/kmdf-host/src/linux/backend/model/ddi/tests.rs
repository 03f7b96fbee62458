//! The KMDF rules the fixture drivers and the real image do not reach,
//! checked by calling the host's WDF functions the way driver code does:
//! through the function table, with Rust callbacks of KMDF's signatures.
//! (Paths that stop the run end the process; none is taken here.)

use std::ptr::{null, null_mut};
use std::sync::Arc;
use std::time::Duration;

use super::super::{DeviceInitData, Framework};
use super::IMPLEMENTED;
use super::driver::{fx_add_device_address, fx_unload_address};
use crate::linux::abi::fn_ptr;
use crate::linux::abi::irql::PASSIVE;
use crate::linux::abi::{
    self, DriverConfig, DriverExtension, DriverObject, Handle, IoQueueConfig, ObjectAttributes,
    UnicodeString, WorkItemConfig, dispatch_type, driver_init_flags, execution_level, status,
    synchronization_scope, tri_state,
};
use crate::linux::cpu::thread::{self, Callback, Frame};
use crate::linux::kernel::session::Session;
use crate::linux::loader::image::Image;
use crate::options::Options;
use crate::report::Rule;

/// The host's implementation of WDF function `name`, as the table has it.
fn ddi<F: Copy>(name: &str) -> F {
    let (_, f) = IMPLEMENTED
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name} is not implemented"));
    // SAFETY: `F` is the function pointer type of `name`'s KMDF signature
    // (each caller below names it), and the entry is a non-NULL function.
    unsafe { fn_ptr(*f as usize) }
}

type DriverCreate = unsafe extern "win64" fn(
    *mut abi::DriverGlobals,
    *mut DriverObject,
    *const UnicodeString,
    *const ObjectAttributes,
    *const DriverConfig,
    *mut Handle,
) -> i32;
type DeviceCreate = unsafe extern "win64" fn(
    *mut abi::DriverGlobals,
    *mut Handle,
    *const ObjectAttributes,
    *mut Handle,
) -> i32;
type QueueCreate = unsafe extern "win64" fn(
    *mut abi::DriverGlobals,
    Handle,
    *const IoQueueConfig,
    *const ObjectAttributes,
    *mut Handle,
) -> i32;
type WorkItemCreate = unsafe extern "win64" fn(
    *mut abi::DriverGlobals,
    *const WorkItemConfig,
    *const ObjectAttributes,
    *mut Handle,
) -> i32;
type WithHandle = unsafe extern "win64" fn(*mut abi::DriverGlobals, Handle);

/// A session with a blank image, entered on this thread at PASSIVE_LEVEL
/// as the I/O manager runs `DriverEntry`, with the I/O manager's driver
/// object and registry path.
struct Harness {
    session: Arc<Session>,
    frame: Option<Frame>,
    object: Box<DriverObject>,
    extension: Box<DriverExtension>,
    _path: Vec<u16>,
    registry_path: Box<UnicodeString>,
}

impl Harness {
    fn new() -> Harness {
        let image = Image::for_test(0x1000, Vec::new(), (0, 0));
        let session = {
            let options = Options::default();
            let backend = Box::new(Framework::new(options.framework));
            Arc::new(Session::new(image, options, backend))
        };
        let frame = thread::enter(
            &session,
            PASSIVE,
            Callback {
                what: "DriverEntry",
                address: 0,
            },
        );
        let path: Vec<u16> = "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\Harness"
            .encode_utf16()
            .collect();
        let registry_path = Box::new(UnicodeString {
            length: (path.len() * 2) as u16,
            maximum_length: (path.len() * 2) as u16,
            buffer: path.as_ptr(),
        });
        // SAFETY: plain C structures for which all-zero is valid.
        let (mut object, mut extension) = unsafe {
            (
                Box::new(std::mem::zeroed::<DriverObject>()),
                Box::new(std::mem::zeroed::<DriverExtension>()),
            )
        };
        // The extension's heap block stays where it is when the box moves.
        object.driver_extension = &mut *extension;
        Harness {
            session,
            frame: Some(frame),
            object,
            extension,
            _path: path,
            registry_path,
        }
    }

    fn globals(&self) -> *mut abi::DriverGlobals {
        self.session.wdf().globals
    }

    fn create_driver(&mut self, config: DriverConfig) -> i32 {
        let mut driver = null_mut();
        // SAFETY: WdfDriverCreate's contract: the driver object, registry
        // path, configuration and out-parameter are live for the call.
        unsafe {
            ddi::<DriverCreate>("WdfDriverCreate")(
                self.globals(),
                &mut *self.object,
                &*self.registry_path,
                null(),
                &config,
                &mut driver,
            )
        }
    }

    /// A fresh WDFDEVICE_INIT, as `FxDriver::AddDevice` makes one.
    fn init(&self) -> Handle {
        let fw = &self.session.wdf();
        let mut s = fw.lock();
        let h = fw.new_handle(&mut s);
        s.inits.insert(h, DeviceInitData::default());
        h as Handle
    }

    fn create_device(
        &self,
        init: &mut Handle,
        attributes: Option<&ObjectAttributes>,
    ) -> (i32, Handle) {
        let mut device = null_mut();
        // SAFETY: WdfDeviceCreate's contract: the init variable, the
        // attributes and the out-parameter are live for the call.
        let status = unsafe {
            ddi::<DeviceCreate>("WdfDeviceCreate")(
                self.globals(),
                init,
                attributes.map_or(null(), |a| a),
                &mut device,
            )
        };
        (status, device)
    }

    fn rules(&self) -> Vec<Rule> {
        self.session.violations().iter().map(|v| v.rule).collect()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.session.wdf().join_workers();
        if let Some(frame) = self.frame.take() {
            frame.leave();
        }
    }
}

fn driver_config(device_add: usize, unload: usize, flags: u32) -> DriverConfig {
    DriverConfig {
        size: size_of::<DriverConfig>() as u32,
        evt_driver_device_add: device_add,
        evt_driver_unload: unload,
        driver_init_flags: flags,
        driver_pool_tag: 0,
    }
}

fn attributes(level: i32, scope: i32) -> ObjectAttributes {
    ObjectAttributes {
        size: size_of::<ObjectAttributes>() as u32,
        evt_cleanup_callback: 0,
        evt_destroy_callback: 0,
        execution_level: level,
        synchronization_scope: scope,
        parent_object: null_mut(),
        context_size_override: 0,
        context_type_info: null(),
    }
}

extern "win64" fn device_add(_driver: usize, _init: usize) -> i32 {
    status::SUCCESS
}

extern "win64" fn unload(_driver: usize) {}

extern "win64" fn io_device_control(_q: usize, _r: usize, _o: usize, _i: usize, _c: u32) {}

#[test]
fn the_framework_takes_over_dispatch_as_fx_driver_initialize_does() {
    // A PnP driver: the framework's AddDevice and unload; the stub
    // displaces DriverUnload.
    let mut h = Harness::new();
    assert_eq!(
        h.create_driver(driver_config(device_add as *const () as usize, 0, 0)),
        0
    );
    assert_eq!(h.extension.add_device, fx_add_device_address());
    assert_eq!(h.object.driver_unload, fx_unload_address());
    // SAFETY: the framework's globals block, read after the call.
    assert_eq!(unsafe { (*h.globals()).displace_driver_unload }, 1);
    // SAFETY: as above.
    let tag = unsafe { (*h.globals()).driver_tag };
    assert_eq!(tag, u32::from_le_bytes(*b"Harn"));
    assert!(h.session.framework_log().is_empty());

    // A non-PnP driver: no AddDevice; unload only with EvtDriverUnload.
    let mut h = Harness::new();
    let flags = driver_init_flags::NON_PNP;
    assert_eq!(
        h.create_driver(driver_config(0, unload as *const () as usize, flags)),
        0
    );
    assert_eq!(h.extension.add_device, 0);
    assert_eq!(h.object.driver_unload, fx_unload_address());
    let mut h = Harness::new();
    assert_eq!(h.create_driver(driver_config(0, 0, flags)), 0);
    assert_eq!(h.object.driver_unload, 0);
    // SAFETY: as above.
    assert_eq!(unsafe { (*h.globals()).displace_driver_unload }, 0);

    // A non-PnP driver may not have an EvtDriverDeviceAdd.
    let mut h = Harness::new();
    let refused = h.create_driver(driver_config(device_add as *const () as usize, 0, flags));
    assert_eq!(refused, status::INVALID_PARAMETER);
    assert!(h.session.framework_log()[0].starts_with("WdfDriverCreate: a non-PnP driver"));
    assert_eq!(h.rules(), []);
}

#[test]
fn device_init_rules_of_fxdeviceinitapi() {
    let mut h = Harness::new();
    assert_eq!(
        h.create_driver(driver_config(device_add as *const () as usize, 0, 0)),
        0
    );
    let mut init = h.init();
    let set_io_type: unsafe extern "win64" fn(*mut abi::DriverGlobals, Handle, i32) =
        ddi("WdfDeviceInitSetIoType");
    // SAFETY: WdfDeviceInitSetIoType takes any arguments.
    unsafe { set_io_type(h.globals(), init, 2) };
    // WdfDeviceIoBufferedOrDirect (4) is for UMDF: a verifier break, ignored.
    // SAFETY: as above.
    unsafe { set_io_type(h.globals(), init, 4) };
    assert_eq!(h.rules(), [Rule::VerifierBreak]);
    let s = h.session.wdf().lock();
    let settings = &s.inits[&(init as usize)];
    assert_eq!(settings.io_type, 2);
    drop(s);
    // FILE_AUTOGENERATED_DEVICE_NAME drops an assigned name.
    let name: Vec<u16> = "\\Device\\Harness".encode_utf16().collect();
    let name = UnicodeString {
        length: (name.len() * 2) as u16,
        maximum_length: (name.len() * 2) as u16,
        buffer: name.as_ptr(),
    };
    let assign_name: unsafe extern "win64" fn(
        *mut abi::DriverGlobals,
        Handle,
        *const UnicodeString,
    ) -> i32 = ddi("WdfDeviceInitAssignName");
    let set_characteristics: unsafe extern "win64" fn(*mut abi::DriverGlobals, Handle, u32, u8) =
        ddi("WdfDeviceInitSetCharacteristics");
    // SAFETY: a live UNICODE_STRING, and any arguments for the second.
    unsafe {
        assert_eq!(assign_name(h.globals(), init, &name), 0);
        set_characteristics(h.globals(), init, 0x80, 1);
    }
    assert_eq!(h.session.wdf().lock().inits[&(init as usize)].name, None);
    // One device per init: the init stays until AddDevice returns, and a
    // second WdfDeviceCreate from it is refused.
    let saved = init;
    let (created, device) = h.create_device(&mut init, None);
    assert_eq!((created, init), (0, null_mut()));
    assert!(!device.is_null());
    let mut again = saved;
    let (refused, _) = h.create_device(&mut again, None);
    assert_eq!(refused, status::INVALID_DEVICE_STATE);
}

#[test]
fn queue_configurations_of_each_kmdf_version() {
    let mut h = Harness::new();
    assert_eq!(
        h.create_driver(driver_config(device_add as *const () as usize, 0, 0)),
        0
    );
    let mut init = h.init();
    let (_, device) = h.create_device(&mut init, None);
    let create: QueueCreate = ddi("WdfIoQueueCreate");
    let config = |size: u32, presented: u32| IoQueueConfig {
        size,
        dispatch_type: dispatch_type::PARALLEL,
        power_managed: tri_state::FALSE,
        allow_zero_length_requests: 0,
        default_queue: 0,
        evt_io_default: 0,
        evt_io_read: 0,
        evt_io_write: 0,
        evt_io_device_control: io_device_control as *const () as usize,
        evt_io_internal_device_control: 0,
        evt_io_stop: 0,
        evt_io_resume: 0,
        evt_io_canceled_on_queue: 0,
        number_of_presented_requests: presented,
        driver: null_mut(),
    };
    let limit_of = |c: &IoQueueConfig| {
        let mut queue = null_mut();
        // SAFETY: WdfIoQueueCreate's contract: a configuration of `size`
        // readable bytes and an out-parameter, live for the call.
        let status = unsafe { create(h.globals(), device, c, null(), &mut queue) };
        (
            status,
            h.session
                .wdf()
                .lock()
                .queue(queue as usize)
                .map(|q| q.presented_limit),
        )
    };
    // V1_7 (80 bytes) has no Settings: no limit, whatever follows it.
    assert_eq!(limit_of(&config(80, 0)), (0, Some(u32::MAX)));
    // V1_9 and later: the limit as given, 0 included.
    assert_eq!(limit_of(&config(88, 0)), (0, Some(0)));
    assert_eq!(limit_of(&config(96, 4)), (0, Some(4)));
    // Any other size.
    assert_eq!(limit_of(&config(64, 0)).0, status::INFO_LENGTH_MISMATCH);
    assert_eq!(h.rules(), [Rule::WrongStructureSize]);
    // A queue synchronized with a dispatch-level device must not be
    // passive-level itself.
    let queue_attributes = attributes(execution_level::PASSIVE, synchronization_scope::DEVICE);
    let mut queue = null_mut();
    // SAFETY: as above, with live attributes.
    let refused = unsafe {
        create(
            h.globals(),
            device,
            &config(96, 0),
            &queue_attributes,
            &mut queue,
        )
    };
    assert_eq!(refused, status::INVALID_PARAMETER);
}

/// The work item the flush test's callback flushes.
static FLUSHED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "win64" fn flush_myself(item: usize) {
    FLUSHED.store(item, std::sync::atomic::Ordering::SeqCst);
    let flush: WithHandle = ddi("WdfWorkItemFlush");
    // SAFETY: WdfWorkItemFlush takes any handle; this one is live.
    unsafe { flush(Session::current().wdf().globals, item as Handle) };
}

#[test]
fn work_items_automatic_serialization_and_flush() {
    let mut h = Harness::new();
    assert_eq!(
        h.create_driver(driver_config(device_add as *const () as usize, 0, 0)),
        0
    );
    let mut init = h.init();
    // A device whose callbacks are synchronized at dispatch level.
    let device_attributes = attributes(execution_level::INHERIT, synchronization_scope::DEVICE);
    let (_, device) = h.create_device(&mut init, Some(&device_attributes));
    let create: WorkItemCreate = ddi("WdfWorkItemCreate");
    let config = |serialized: u8| WorkItemConfig {
        size: size_of::<WorkItemConfig>() as u32,
        evt_work_item_func: flush_myself as *const () as usize,
        automatic_serialization: serialized,
    };
    let mut parent = attributes(execution_level::INHERIT, synchronization_scope::INHERIT);
    parent.parent_object = device;
    let mut item = null_mut();
    // SAFETY: WdfWorkItemCreate's contract: configuration, attributes and
    // out-parameter live for the call.
    let refused = unsafe { create(h.globals(), &config(1), &parent, &mut item) };
    assert_eq!(refused, status::WDF_INCOMPATIBLE_EXECUTION_LEVEL);
    assert_eq!(h.rules(), [Rule::VerifierBreak]);
    // Without serialization it is created; a flush from its own callback
    // is a verifier break, not a wait for itself.
    // SAFETY: as above.
    let created = unsafe { create(h.globals(), &config(0), &parent, &mut item) };
    assert_eq!(created, 0);
    let enqueue: WithHandle = ddi("WdfWorkItemEnqueue");
    let flush: WithHandle = ddi("WdfWorkItemFlush");
    // SAFETY: both take any handle; the work item is live.
    unsafe {
        enqueue(h.globals(), item);
        flush(h.globals(), item);
    }
    assert_eq!(
        FLUSHED.load(std::sync::atomic::Ordering::SeqCst),
        item as usize
    );
    assert_eq!(h.rules(), [Rule::VerifierBreak, Rule::VerifierBreak]);
    assert!(
        h.session
            .framework_log()
            .iter()
            .any(|l| l.contains("own callback"))
    );
    // Deleting the device runs the work item's rundown without waiting
    // for ever.
    std::thread::sleep(Duration::from_millis(10));
    h.session.wdf().delete(&h.session, device as usize);
}
