//! The host: the I/O manager and PnP manager around one loaded driver.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::api::{
    Access, BindSummary, Completion, Device, DevicePower, DeviceSettings, ImageLayout,
    PowerTransition, QueueInfo,
};
use crate::error::Error;
use crate::linux::abi::irql::{DISPATCH, PASSIVE};
use crate::linux::abi::{
    self, DriverExtension, DriverObject, UnicodeString, execution_level, ioctl, status,
};
use crate::linux::backend::model::{Data, Framework, Kind, RequestData, call_driver};
use crate::linux::cpu::thread::{self, Callback};
use crate::linux::kernel::fault;
use crate::linux::kernel::pool::Request;
use crate::linux::kernel::session::Session;
use crate::linux::loader::image::Image;
use crate::options::{FaultInjection, Options};
use crate::report::{Origin, Outstanding, PoolKind, Report, Rule, Violation};

/// A heap block the host shares with the driver (a `DRIVER_OBJECT`, a PDO,
/// a string): the driver writes it through the raw pointer it was given,
/// so the host, too, reaches it only through the raw pointer (never
/// through a `Box` or a lasting reference, which would promise the
/// compiler that nothing else writes it).
struct Shared<T> {
    ptr: *mut T,
}

impl<T> Shared<T> {
    fn new(value: T) -> Shared<T> {
        Shared {
            ptr: Box::into_raw(Box::new(value)),
        }
    }

    fn ptr(&self) -> *mut T {
        self.ptr
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `Box::into_raw` in `new` and is freed only
        // here; the host drops its `Shared` blocks after the driver is
        // unloaded (or never ran), when no driver code uses them.
        drop(unsafe { Box::from_raw(self.ptr) });
    }
}

/// The I/O manager's memory for the driver: `DRIVER_OBJECT`, its extension
/// and the strings they point at.
struct DriverMemory {
    object: Shared<DriverObject>,
    extension: Shared<DriverExtension>,
    registry_path: Shared<UnicodeString>,
    _hardware_database: Shared<UnicodeString>,
    _strings: Vec<Box<[u16]>>,
}

/// A driver image loaded into this process, with its simulated kernel and
/// framework.
pub struct Host {
    session: Arc<Session>,
    driver: DriverMemory,
    /// The PDOs handed to AddDevice, each kept at its address while the
    /// device exists (the framework and the driver keep pointers).
    pdos: std::sync::Mutex<Vec<Shared<[u8; abi::DEVICE_OBJECT_SIZE]>>>,
    entered: bool,
    unloaded: bool,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("image", &self.session.image.path)
            .finish_non_exhaustive()
    }
}

// SAFETY: the raw pointers are the `Shared` blocks of the driver object and
// PDOs, owned by the host and freed only when it drops; the driver writes
// them (from any thread, as kernel code may) and the host reads them with
// single reads through the pointer, as the I/O manager does. Everything
// else is in the session, which is Send and Sync.
unsafe impl Send for Host {}
// SAFETY: as above.
unsafe impl Sync for Host {}

fn utf16(s: &str) -> Box<[u16]> {
    s.encode_utf16().chain([0]).collect()
}

fn counted(buffer: &[u16]) -> UnicodeString {
    let units = buffer.len() - 1;
    UnicodeString {
        length: (units * 2) as u16,
        maximum_length: (buffer.len() * 2) as u16,
        buffer: buffer.as_ptr(),
    }
}

/// Resolves an import of the image to the host's implementation.
fn resolve(module: &str, name: &str, options: &Options) -> Option<usize> {
    match module.to_ascii_lowercase().as_str() {
        "ntoskrnl.exe" => crate::linux::kernel::ntoskrnl_export(name, options.kernel_build),
        "hal.dll" => crate::linux::kernel::hal_export(name),
        "wdfldr.sys" => crate::linux::backend::model::bind::wdfldr_export(name),
        _ => None,
    }
}

impl Host {
    /// Maps the image, binds its imports (all unresolved ones are reported
    /// together) and lays out the `DRIVER_OBJECT` and registry path. No
    /// driver code runs yet.
    ///
    /// # Safety
    ///
    /// The image's code will run in this process, with access to all of its
    /// memory. The host checks what KMDF, its verifier and Driver Verifier
    /// check, stops the run on a fault, and gives the driver handles in a
    /// no-access region, but it cannot contain an image that breaks the
    /// contracts of the routines it calls or is called as: writes through a
    /// pointer to memory it does not own (outside pool blocks, special-pool
    /// slack and its own image), registers a callback that is not a
    /// function of the documented signature, or starts threads of its own.
    /// Load only images trusted not to do that; an image that breaks a
    /// rule the host checks is fine (that is what the host is for).
    pub unsafe fn load(path: impl AsRef<Path>, options: Options) -> Result<Host, Error> {
        fault::install();
        let image = Image::load(
            path.as_ref(),
            options.pdb.as_deref(),
            options.relocate,
            &|m, n| resolve(m, n, &options),
        )?;
        let service = options.service_name.clone();
        let backend = Box::new(Framework::new(options.framework));
        let session = Arc::new(Session::new(image, options, backend));
        let registry = utf16(&format!(
            "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\{service}"
        ));
        let driver_name = utf16(&format!("\\Driver\\{service}"));
        let service_key = utf16(&service);
        let hardware = utf16("\\REGISTRY\\MACHINE\\HARDWARE\\DESCRIPTION\\SYSTEM");
        // SAFETY: DRIVER_OBJECT and DRIVER_EXTENSION are plain C structures
        // (integers and raw pointers) for which all-zero is a valid value.
        let (object, extension) = unsafe {
            (
                Shared::new(std::mem::zeroed::<DriverObject>()),
                Shared::new(std::mem::zeroed::<DriverExtension>()),
            )
        };
        // The strings' heap blocks stay where they are (only the vector
        // holding their boxes moves); the driver only reads them.
        let strings: Vec<Box<[u16]>> = vec![registry, driver_name, service_key, hardware];
        let [registry, driver_name, service_key, hardware] =
            [0, 1, 2, 3].map(|i| counted(&strings[i]));
        let memory = DriverMemory {
            object,
            extension,
            registry_path: Shared::new(registry),
            _hardware_database: Shared::new(hardware),
            _strings: strings,
        };
        let image = &session.image;
        let (o, e) = (memory.object.ptr(), memory.extension.ptr());
        // SAFETY: the blocks just made, not yet shared with any driver code:
        // the host initialises them as the I/O manager does.
        unsafe {
            (*o).type_ = abi::IO_TYPE_DRIVER;
            (*o).size = abi::DRIVER_OBJECT_SIZE as i16;
            (*o).driver_start = image.base as *mut _;
            (*o).driver_size = image.size as u32;
            (*o).driver_extension = e;
            (*o).driver_name = driver_name;
            (*o).hardware_database = memory._hardware_database.ptr();
            (*o).driver_init = image.entry();
            (*e).driver_object = o;
            (*e).service_key_name = service_key;
        }
        Ok(Host {
            session,
            driver: memory,
            pdos: std::sync::Mutex::new(Vec::new()),
            entered: false,
            unloaded: false,
        })
    }

    /// Loads the image, runs `DriverEntry` and adds one device.
    ///
    /// # Safety
    ///
    /// As for [`Host::load`].
    pub unsafe fn start(path: impl AsRef<Path>, options: Options) -> Result<(Host, Device), Error> {
        // SAFETY: this function's contract is `load`'s.
        let mut host = unsafe { Host::load(path, options) }?;
        host.driver_entry()?;
        let device = host.add_device()?;
        Ok((host, device))
    }

    /// Calls the image's entry point (`FxDriverEntry`: the stub binds the
    /// framework, then calls `DriverEntry`) at PASSIVE_LEVEL.
    pub fn driver_entry(&mut self) -> Result<(), Error> {
        if self.entered {
            return Err(Error::State("DriverEntry already ran".into()));
        }
        self.entered = true;
        let object = self.driver.object.ptr();
        let path: *const UnicodeString = self.driver.registry_path.ptr();
        let callback = Callback {
            what: "DriverEntry",
            address: self.session.image.entry(),
        };
        // SAFETY: the image's entry point (`DRIVER_INITIALIZE`, by
        // `Host::load`'s contract), called once as the I/O manager does,
        // with a DRIVER_OBJECT and registry path laid out as on x64 Windows
        // that live as long as the host; it returns an NTSTATUS.
        let status = unsafe {
            call_driver(
                &self.session,
                PASSIVE,
                callback,
                &[object as usize, path as usize],
            )
        } as i32;
        self.session
            .trace(format_args!("DriverEntry returned 0x{:08X}", status as u32));
        if !abi::nt_success(status) {
            return Err(Error::DriverEntryFailed(status));
        }
        Ok(())
    }

    /// PnP: a new root-enumerated device node; the driver's AddDevice (the
    /// framework's, which calls `EvtDriverDeviceAdd` at PASSIVE_LEVEL),
    /// then IRP_MN_START_DEVICE (the device enters D0, its queues start).
    pub fn add_device(&self) -> Result<Device, Error> {
        // SAFETY: the host's DRIVER_EXTENSION block, live while the host
        // is; one read of the field the driver (its framework) set during
        // DriverEntry.
        let add = unsafe {
            std::ptr::read_volatile(&raw const (*self.driver.extension.ptr()).add_device)
        };
        if add == 0 {
            return Err(Error::NotAPnpDriver("the driver registered no AddDevice routine (no WdfDriverCreate with EvtDriverDeviceAdd)".into()));
        }
        let mut pdo = [0u8; abi::DEVICE_OBJECT_SIZE];
        pdo[..2].copy_from_slice(&abi::IO_TYPE_DEVICE.to_le_bytes());
        pdo[2..4].copy_from_slice(&(abi::DEVICE_OBJECT_SIZE as u16).to_le_bytes());
        let pdo = Shared::new(pdo);
        let pdo_ptr = pdo.ptr().cast::<u8>();
        self.pdos.lock().unwrap().push(pdo);
        let before: Vec<usize> = self.session.wdf().lock().devices.clone();
        let object = self.driver.object.ptr();
        let callback = Callback {
            what: "AddDevice",
            address: add,
        };
        // SAFETY: the AddDevice routine the driver object names (non-zero,
        // checked above: the framework's, or the driver's own with
        // `DRIVER_ADD_DEVICE`'s signature by `Host::load`'s contract),
        // called as PnP does with the driver object and a PDO that outlive
        // the device; it returns an NTSTATUS.
        let status = unsafe {
            call_driver(
                &self.session,
                PASSIVE,
                callback,
                &[object as usize, pdo_ptr as usize],
            )
        } as i32;
        if !abi::nt_success(status) {
            return Err(Error::AddDeviceFailed(status));
        }
        let s = self.session.wdf().lock();
        let Some(&handle) = s.devices.iter().find(|d| !before.contains(d)) else {
            return Err(Error::NotAPnpDriver(
                "EvtDriverDeviceAdd succeeded without creating a device".into(),
            ));
        };
        let Some(d) = s.device(handle) else {
            unreachable!()
        };
        Ok(Device {
            handle,
            index: d.index,
        })
    }

    /// The devices that exist.
    pub fn devices(&self) -> Vec<Device> {
        let s = self.session.wdf().lock();
        s.devices
            .iter()
            .filter_map(|&h| {
                s.device(h).map(|d| Device {
                    handle: h,
                    index: d.index,
                })
            })
            .collect()
    }

    /// The queues of `device`.
    pub fn queues(&self, device: Device) -> Result<Vec<QueueInfo>, Error> {
        let s = self.session.wdf().lock();
        let Some(d) = s.device(device.handle) else {
            return Err(Error::State(format!(
                "device {} does not exist",
                device.index
            )));
        };
        Ok(d.queues
            .iter()
            .filter_map(|q| {
                s.queue(*q).map(|q| QueueInfo {
                    default: q.config.default_queue != 0,
                    power_managed: q.power_managed,
                    dispatch_type: q.config.dispatch_type,
                    presented_limit: q.presented_limit,
                })
            })
            .collect())
    }

    /// What the driver set on `device`'s `WDFDEVICE_INIT`.
    pub fn device_settings(&self, device: Device) -> Result<DeviceSettings, Error> {
        let s = self.session.wdf().lock();
        let Some(d) = s.device(device.handle) else {
            return Err(Error::State(format!(
                "device {} does not exist",
                device.index
            )));
        };
        Ok(DeviceSettings {
            device_type: d.init.device_type,
            characteristics: d.init.characteristics,
            io_type: d.init.io_type,
            sddl: d.init.sddl.clone(),
            name: d.init.name.clone(),
        })
    }

    /// The device interface classes `device` registered.
    pub fn interfaces(&self, device: Device) -> Vec<String> {
        let s = self.session.wdf().lock();
        match s.device(device.handle) {
            Some(d) => d.interfaces.iter().map(|g| g.to_string()).collect(),
            None => Vec::new(),
        }
    }

    /// `DeviceIoControl` on a handle opened for reading and writing.
    pub fn device_io_control(
        &self,
        device: Device,
        code: u32,
        input: &[u8],
        output_len: usize,
    ) -> Result<Completion, Error> {
        self.device_io_control_with_access(device, Access::READ_WRITE, code, input, output_len)
    }

    /// `DeviceIoControl` as the I/O manager and KMDF do it for
    /// `METHOD_BUFFERED`: the IOCTL's access bits checked against the
    /// handle's access; one system buffer of max(input, output) bytes with
    /// the input copied in; the request presented to the default queue's
    /// `EvtIoDeviceControl` on this thread (several threads: several
    /// requests at once, as a parallel queue does); completed exactly once;
    /// `Information` bytes copied out.
    pub fn device_io_control_with_access(
        &self,
        device: Device,
        access: Access,
        code: u32,
        input: &[u8],
        output_len: usize,
    ) -> Result<Completion, Error> {
        let session = &self.session;
        let fw = &session.wdf();
        if ioctl::method(code) != ioctl::METHOD_BUFFERED {
            return Err(Error::Request(format!(
                "IOCTL 0x{code:08X} uses transfer method {}: kmdf-host models METHOD_BUFFERED only",
                ioctl::method(code)
            )));
        }
        let need = ioctl::access(code);
        if (need & ioctl::FILE_READ_ACCESS != 0 && !access.read)
            || (need & ioctl::FILE_WRITE_ACCESS != 0 && !access.write)
        {
            return Ok(Completion {
                status: status::ACCESS_DENIED,
                information: 0,
                output: Vec::new(),
            });
        }
        // The queue, once the device is in a state to take the request.
        let deadline = Instant::now() + session.options.request_timeout;
        let (queue, callback, what, level, lock) = {
            let mut s = fw.lock();
            loop {
                let Some(d) = s.device(device.handle) else {
                    return Err(Error::State(format!(
                        "device {} does not exist",
                        device.index
                    )));
                };
                if d.removing {
                    return Ok(Completion {
                        status: status::DELETE_PENDING,
                        information: 0,
                        output: Vec::new(),
                    });
                }
                let Some(queue) = d.default_queue else {
                    return Ok(Completion {
                        status: status::INVALID_DEVICE_REQUEST,
                        information: 0,
                        output: Vec::new(),
                    });
                };
                let power = d.power;
                let Some(q) = s.queue(queue) else {
                    unreachable!()
                };
                let limit = match q.config.dispatch_type {
                    abi::dispatch_type::SEQUENTIAL => 1,
                    abi::dispatch_type::PARALLEL => q.presented_limit,
                    _ => u32::MAX,
                };
                let held = (q.power_managed && power != DevicePower::D0) || q.presented >= limit;
                if !held {
                    let (callback, what) = if q.config.evt_io_device_control != 0 {
                        (q.config.evt_io_device_control, "EvtIoDeviceControl")
                    } else {
                        (q.config.evt_io_default, "EvtIoDefault")
                    };
                    // FxIoQueue presents a request on the caller's thread
                    // (a passive-level queue defers to a work item when
                    // that thread is above PASSIVE_LEVEL); a synchronized
                    // queue that is not passive-level holds a spin lock
                    // around its callbacks, so they run at DISPATCH_LEVEL.
                    let (exec, _) = Framework::constraints(&s, queue);
                    let owner = Framework::lock_owner(&s, queue);
                    let level = if exec == execution_level::PASSIVE {
                        PASSIVE
                    } else if owner.is_some() || session.options.dispatch_level_callbacks {
                        DISPATCH
                    } else {
                        PASSIVE
                    };
                    let lock = owner.map(|o| Framework::callback_lock(&mut s, o));
                    break (queue, callback, what, level, lock);
                }
                let now = Instant::now();
                if now >= deadline {
                    return Err(Error::State(format!(
                        "the request was held by the queue for {:?} ({})",
                        session.options.request_timeout,
                        if q.power_managed && power != DevicePower::D0 {
                            "power-managed queue, device not in D0"
                        } else {
                            "presentation limit reached"
                        }
                    )));
                }
                s = fw.changed.wait_timeout(s, deadline - now).unwrap().0;
            }
        };
        if callback == 0 {
            return Ok(Completion {
                status: status::INVALID_DEVICE_REQUEST,
                information: 0,
                output: Vec::new(),
            });
        }
        // The system buffer (the I/O manager's, not subject to the driver's
        // low-resources simulation).
        let len = input.len().max(output_len);
        let buffer = if len > 0 {
            match session.pool.allocate(Request {
                size: len,
                tag: u32::from_le_bytes(*b"IoSb"),
                kind: PoolKind::NonPagedNx,
                origin: Origin::IoManager,
                zeroed: false,
                alignment: 16,
                caller: 0,
                what: Some("METHOD_BUFFERED system buffer"),
            }) {
                Ok(p) => p as usize,
                Err(_) => {
                    return Ok(Completion {
                        status: status::INSUFFICIENT_RESOURCES,
                        information: 0,
                        output: Vec::new(),
                    });
                }
            }
        } else {
            0
        };
        if !input.is_empty() {
            // SAFETY: `buffer` has `len >= input.len()` bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(input.as_ptr(), buffer as *mut u8, input.len())
            };
        }
        let data = Data::Request(RequestData {
            queue,
            input_len: input.len(),
            output_len,
            buffer,
            information: 0,
            completed: None,
            completed_at: 0,
            abandoned: false,
        });
        // The framework's FxRequest: a failure completes the IRP with
        // STATUS_INSUFFICIENT_RESOURCES before the driver sees it.
        let request = match fw.create_object(session, Kind::Request, None, None, data) {
            Ok(h) => h,
            Err(s) => {
                if buffer != 0 {
                    session.free_host_block(buffer);
                }
                return Ok(Completion {
                    status: s,
                    information: 0,
                    output: Vec::new(),
                });
            }
        };
        {
            let mut s = fw.lock();
            s.objects.get_mut(&request).unwrap().no_delete_ddi = true;
            if let Some(q) = s.queue_mut(queue) {
                q.presented += 1;
                q.in_flight.push(request);
            }
        }
        {
            // The queue's synchronization: one callback at a time.
            let _serialized = lock
                .as_ref()
                .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()));
            let callback = Callback {
                what,
                address: callback,
            };
            // SAFETY: the queue's EvtIoDeviceControl (or EvtIoDefault;
            // non-zero, checked above; KMDF's signature by `Host::load`'s
            // contract), called as KMDF presents a request: live queue and
            // request handles, the buffer lengths and the code.
            unsafe {
                call_driver(
                    session,
                    level,
                    callback,
                    &[queue, request, output_len, input.len(), code as usize],
                )
            };
        }
        // Completed (on this thread or any other) within the time-out?
        let deadline = Instant::now() + session.options.request_timeout;
        let completed = {
            let mut s = fw.lock();
            loop {
                let Some(r) = s.request(request) else {
                    unreachable!()
                };
                if let Some(c) = r.completed {
                    break Some(c);
                }
                let now = Instant::now();
                if now >= deadline {
                    // The driver still owns it: whoever completes it later,
                    // or the device's removal, releases it.
                    if let Some(r) = s.request_mut(request) {
                        r.abandoned = true;
                    }
                    break None;
                }
                s = fw.changed.wait_timeout(s, deadline - now).unwrap().0;
            }
        };
        let Some((completion_status, information)) = completed else {
            session.violation_at(
                Rule::RequestNeverCompleted,
                format!("IOCTL 0x{code:08X}: the request was not completed within {:?} of EvtIoDeviceControl returning", session.options.request_timeout),
                Some(session.describe(callback)),
            );
            return Err(Error::Request(format!(
                "IOCTL 0x{code:08X} was never completed"
            )));
        };
        let copy = if (completion_status as u32) >> 30 != 3 {
            information.min(output_len)
        } else {
            0
        };
        let output = if copy > 0 {
            // SAFETY: `copy <= output_len <= len` bytes of the system
            // buffer, which stays allocated until it is freed below.
            unsafe { std::slice::from_raw_parts(buffer as *const u8, copy) }.to_vec()
        } else {
            Vec::new()
        };
        fw.finish_request(session, request);
        Ok(Completion {
            status: completion_status,
            information,
            output,
        })
    }

    /// A device power transition (as a system sleep or resume causes):
    /// entering D3 stops the device's power-managed queues, waiting for the
    /// requests they have presented; their new requests are held until D0.
    /// Queues that are not power-managed keep dispatching.
    pub fn set_power(&self, device: Device, state: DevicePower) -> Result<PowerTransition, Error> {
        let session = &self.session;
        let fw = &session.wdf();
        let start = Instant::now();
        let deadline = start + session.options.request_timeout;
        let mut s = fw.lock();
        let Some(d) = s.device_mut(device.handle) else {
            return Err(Error::State(format!(
                "device {} does not exist",
                device.index
            )));
        };
        d.power = state;
        let queues = d.queues.clone();
        let managed: Vec<usize> = queues
            .into_iter()
            .filter(|&q| s.queue(q).is_some_and(|q| q.power_managed))
            .collect();
        let mut waited_for = 0;
        if state == DevicePower::D3 {
            for &q in &managed {
                let Some(queue) = s.queue(q) else {
                    continue;
                };
                waited_for += queue.in_flight.len();
            }
            loop {
                let busy: usize = managed
                    .iter()
                    .filter_map(|q| s.queue(*q).map(|queue| queue.in_flight.len()))
                    .sum();
                if busy == 0 {
                    break;
                }
                let now = Instant::now();
                if now >= deadline {
                    drop(s);
                    session.violation_at(
                        Rule::PowerTransitionBlocked,
                        format!("device {} could not enter D3: {busy} request(s) of a power-managed queue still in progress after {:?}", device.index, session.options.request_timeout),
                        None,
                    );
                    return Ok(PowerTransition {
                        power_managed_queues: managed.len(),
                        waited_for,
                        waited: start.elapsed(),
                    });
                }
                s = fw.changed.wait_timeout(s, deadline - now).unwrap().0;
            }
        }
        drop(s);
        fw.changed.notify_all();
        Ok(PowerTransition {
            power_managed_queues: managed.len(),
            waited_for,
            waited: start.elapsed(),
        })
    }

    /// PnP removal of `device`: new requests fail with
    /// STATUS_DELETE_PENDING; the requests in progress are waited for; the
    /// device object is deleted (its children first: queues, work items,
    /// each with its cleanup callback, then the device's cleanup, then the
    /// destroy callbacks).
    ///
    /// A request the driver never completes would hold the removal up for
    /// ever on Windows: after the request time-out it is reported as never
    /// completed (once: not again if its IOCTL already reported it) and
    /// released, and the removal goes on, so that the rest of the run can
    /// still be checked.
    pub fn remove_device(&self, device: Device) -> Result<(), Error> {
        let session = &self.session;
        let fw = &session.wdf();
        let deadline = Instant::now() + session.options.request_timeout;
        let mut s = fw.lock();
        let Some(d) = s.device_mut(device.handle) else {
            return Err(Error::State(format!(
                "device {} does not exist",
                device.index
            )));
        };
        d.removing = true;
        let queues = d.queues.clone();
        loop {
            let in_flight: Vec<usize> = queues
                .iter()
                .filter_map(|q| s.queue(*q).map(|queue| queue.in_flight.clone()))
                .flatten()
                .collect();
            if in_flight.is_empty() {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                let mut unreported = Vec::new();
                for &r in &in_flight {
                    if let Some(data) = s.request_mut(r)
                        && data.completed.is_none()
                        && !std::mem::replace(&mut data.abandoned, true)
                    {
                        unreported.push(r);
                    }
                }
                drop(s);
                for r in unreported {
                    session.violation_at(
                        Rule::RequestNeverCompleted,
                        format!(
                            "device {}: WDFREQUEST {r:#x} was never completed: the removal waited {:?} for it (Windows would wait for ever)",
                            device.index, session.options.request_timeout
                        ),
                        None,
                    );
                }
                for r in in_flight {
                    fw.finish_request(session, r);
                }
                s = fw.lock();
                continue;
            }
            s = fw.changed.wait_timeout(s, deadline - now).unwrap().0;
        }
        s.devices.retain(|h| *h != device.handle);
        drop(s);
        // The device is deleted at PASSIVE_LEVEL by the PnP manager's thread.
        let frame = thread::enter(
            session,
            PASSIVE,
            Callback {
                what: "IRP_MN_REMOVE_DEVICE",
                address: 0,
            },
        );
        fw.delete(session, device.handle);
        frame.leave();
        Ok(())
    }

    /// Unloads the driver: removes the devices left, calls the driver
    /// object's unload routine (the framework's: `EvtDriverUnload`, then the
    /// WDFDRIVER is deleted), waits for the worker threads, and reports
    /// every violation and every pool block left (Driver Verifier's pool
    /// tracking at unload).
    pub fn unload(mut self) -> Report {
        self.unload_inner()
    }

    fn unload_inner(&mut self) -> Report {
        if !self.unloaded {
            self.unloaded = true;
            for device in self.devices() {
                let _ = self.remove_device(device);
            }
            let object = self.driver.object.ptr();
            // SAFETY: the host's DRIVER_OBJECT block, live while the host
            // is; one read of the field the driver (its framework) set.
            let unload = unsafe { std::ptr::read_volatile(&raw const (*object).driver_unload) };
            if unload != 0 {
                let callback = Callback {
                    what: "DriverUnload",
                    address: unload,
                };
                // SAFETY: the driver object's unload routine (non-zero,
                // checked: the framework's, or the driver's `DRIVER_UNLOAD`
                // by `Host::load`'s contract), called once at PASSIVE_LEVEL
                // as the I/O manager does, with the live driver object.
                unsafe { call_driver(&self.session, PASSIVE, callback, &[object as usize]) };
            }
            self.session.wdf().join_workers();
        }
        self.report(true)
    }

    fn report(&self, at_unload: bool) -> Report {
        let session = &self.session;
        let outstanding: Vec<Outstanding> = session
            .pool
            .outstanding(&|a| session.describe(a))
            .into_iter()
            .filter(|o| o.origin != Origin::IoManager)
            .collect();
        let mut violations: Vec<Violation> = session.violations();
        if at_unload {
            for o in &outstanding {
                violations.push(Violation {
                    rule: Rule::PoolLeak,
                    message: format!("{o} still allocated at unload"),
                    location: None,
                });
            }
        }
        let (allocations, injected_failures, tags) = session.pool.counters();
        Report {
            violations,
            outstanding,
            allocations,
            injected_failures,
            tags,
            stack: session.stack_peaks(),
        }
    }

    /// The report so far (pool blocks outstanding now are not leaks yet).
    pub fn report_now(&self) -> Report {
        self.report(false)
    }

    /// Every violation so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.session.violations()
    }

    /// Adds a low-resources rule.
    pub fn inject(&self, rule: FaultInjection) {
        self.session.pool.inject(rule);
    }

    /// Removes every low-resources rule.
    pub fn clear_injection(&self) {
        self.session.pool.clear_injection();
    }

    /// Pool allocations made for the driver so far (including failed ones).
    pub fn pool_allocations(&self) -> u64 {
        self.session.pool.allocation_count()
    }

    /// Pool blocks of the driver and its objects allocated now.
    pub fn outstanding_blocks(&self) -> usize {
        self.session.pool.outstanding_count(Origin::Driver)
            + self.session.pool.outstanding_count(Origin::Framework)
    }

    /// The framework's log, oldest first: why KMDF refused a call (as its
    /// in-flight recorder would say), e.g. `WdfDeviceCreate: an SDDL string
    /// or device class on a device without a name:
    /// STATUS_INVALID_SECURITY_DESCR (0xC0000079)`.
    pub fn framework_log(&self) -> Vec<String> {
        self.session.framework_log()
    }

    /// The driver's `DbgPrint` output.
    pub fn debug_log(&self) -> Vec<String> {
        self.session.debug_log()
    }

    /// How the driver bound to the framework (after `driver_entry`).
    pub fn bind_summary(&self) -> Option<BindSummary> {
        let s = self.session.wdf().lock();
        s.bound.as_ref().map(|b| BindSummary {
            framework: self.session.wdf().version,
            client_minor: b.client_minor,
            minimum_minor: b.minimum_minor,
            client_newer: b.client_newer,
            function_count: b.func_count,
            client_function_count: b.client_function_count,
        })
    }

    /// `module!name` of every import the image binds.
    pub fn imports(&self) -> Vec<String> {
        self.session
            .image
            .imports
            .iter()
            .map(|i| format!("{}!{}", i.module, i.name))
            .collect()
    }

    /// Where the image was mapped, and the relocations that took.
    pub fn image_layout(&self) -> ImageLayout {
        let i = &self.session.image;
        ImageLayout {
            base: i.base,
            preferred_base: i.preferred_base,
            size: i.size,
            relocations: i.relocations,
        }
    }

    /// One line about the mapped image.
    pub fn image_summary(&self) -> String {
        let i = &self.session.image;
        format!(
            "{} at {:#x} (preferred {:#x}, {} relocations), {} imports, {}",
            i.path.display(),
            i.base,
            i.preferred_base,
            i.relocations,
            i.imports.len(),
            i.symbol_source
        )
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if self.entered && !self.unloaded && !std::thread::panicking() {
            let _ = self.unload_inner();
        }
        self.session.wdf().join_workers();
    }
}
