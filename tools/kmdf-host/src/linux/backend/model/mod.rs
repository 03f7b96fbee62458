//! The simulated framework: the bind (`WdfVersionBind`), the function
//! table, and KMDF's object model (handles, contexts, parent/child
//! lifetimes, cleanup and destroy callbacks).

pub(crate) mod bind;
pub(crate) mod ddi;
pub(crate) mod structures;
pub(crate) mod table;

use std::collections::{HashMap, VecDeque};
use std::ffi::c_void;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{JoinHandle, ThreadId};

use crate::api::DevicePower;
use crate::linux::abi::{
    self, DriverConfig, Guid, IoQueueConfig, execution_level, irql, synchronization_scope,
};
use crate::linux::cpu::stack;
use crate::linux::cpu::thread::{self, Callback};
use crate::linux::kernel::pool::{Failure, Request};
use crate::linux::kernel::session::{Backend, Session};
use crate::linux::kernel::stop::stop;
use crate::options::FrameworkVersion;
use crate::report::{Origin, PoolKind, Rule};

/// Bytes the host accounts for the framework's own part of an object (the
/// context follows, 16-byte aligned).
const OBJECT_HEADER: usize = 64;
/// Handles live in a no-access region: a driver that dereferences one
/// faults instead of reading the host's memory.
const ARENA_SIZE: usize = 256 << 20;
/// Deleted handles remembered to name a use after deletion.
const TOMBSTONES: usize = 100_000;

/// The kind of a framework object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Driver,
    Device,
    Queue,
    Request,
    WorkItem,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Driver => "WDFDRIVER",
            Kind::Device => "WDFDEVICE",
            Kind::Queue => "WDFQUEUE",
            Kind::Request => "WDFREQUEST",
            Kind::WorkItem => "WDFWORKITEM",
        }
    }

    /// Objects whose cleanup KMDF runs at PASSIVE_LEVEL: those it marks
    /// `MarkPassiveDispose` (`FxDeviceBase`, `FxIoQueue`) or
    /// `MarkPassiveCallbacks` (`FxDriver`, `FxWorkItem`).
    fn passive_dispose(self) -> bool {
        matches!(
            self,
            Kind::Device | Kind::Queue | Kind::WorkItem | Kind::Driver
        )
    }
}

#[derive(Debug)]
pub(crate) struct DeviceData {
    pub init: DeviceInitData,
    pub interfaces: Vec<Guid>,
    /// The framework's `FxDeviceInterface` blocks, freed with the device.
    pub interface_blocks: Vec<usize>,
    pub default_queue: Option<usize>,
    pub queues: Vec<usize>,
    pub started: bool,
    pub removing: bool,
    pub power: DevicePower,
    pub index: usize,
}

#[derive(Debug)]
pub(crate) struct QueueData {
    pub config: IoQueueConfig,
    pub device: usize,
    /// `m_MaxParallelQueuePresentedRequests`: a parallel queue presents no
    /// more requests at once (`u32::MAX`: no limit).
    pub presented_limit: u32,
    pub power_managed: bool,
    pub presented: u32,
    pub in_flight: Vec<usize>,
}

#[derive(Debug)]
pub(crate) struct RequestData {
    pub queue: usize,
    pub input_len: usize,
    pub output_len: usize,
    pub buffer: usize,
    pub information: usize,
    pub completed: Option<(i32, usize)>,
    pub completed_at: usize,
    /// The I/O manager stopped waiting for it (it was reported as never
    /// completed): whoever completes it, or the removal, releases it.
    pub abandoned: bool,
}

#[derive(Debug)]
pub(crate) struct WorkItemData {
    pub func: usize,
    pub enqueued: bool,
    pub running: Option<ThreadId>,
    pub rundown: bool,
    /// The `IO_WORKITEM` pool block.
    pub io_work_item: usize,
    /// The object whose callback lock serializes `EvtWorkItem`
    /// (`AutomaticSerialization` with a synchronized parent).
    pub lock: Option<usize>,
}

#[derive(Debug, Default)]
pub(crate) struct DriverData {
    /// `FxDriver::m_RegistryPath`'s copy in paged pool.
    pub registry_path_block: usize,
}

#[derive(Debug)]
pub(crate) enum Data {
    Driver(DriverData),
    Device(Box<DeviceData>),
    Queue(QueueData),
    Request(RequestData),
    WorkItem(WorkItemData),
}

/// One live framework object.
#[derive(Debug)]
pub(crate) struct Object {
    pub kind: Kind,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    /// Context memory (0: none) and the type info pointer it is typed by.
    pub context: usize,
    pub context_type: usize,
    pub cleanup: usize,
    pub destroy: usize,
    /// `WDF_OBJECT_ATTRIBUTES.ExecutionLevel` and `SynchronizationScope`
    /// as given (see [`Framework::constraints`] for what is in effect).
    pub execution_level: i32,
    pub synchronization_scope: i32,
    /// The pool block holding the object.
    pub block: usize,
    pub disposing: bool,
    pub no_delete_ddi: bool,
    pub data: Data,
}

/// `WDF_OBJECT_ATTRIBUTES` as the framework keeps them once
/// `FxValidateObjectAttributes` accepted them: the callbacks, the
/// constraints and the context, with the type info's fields read.
#[derive(Clone, Debug, Default)]
pub(crate) struct Attributes {
    pub cleanup: usize,
    pub destroy: usize,
    pub execution_level: i32,
    pub synchronization_scope: i32,
    /// `ContextSizeOverride`, or else the type info's `ContextSize`.
    pub context_size: usize,
    /// The `WDF_OBJECT_CONTEXT_TYPE_INFO` pointer the context is typed by
    /// (0: no context).
    pub context_type: usize,
    pub context_name: String,
}

/// `WDFDEVICE_INIT`: not an object, owned by the framework until
/// `WdfDeviceCreate` consumes it.
#[derive(Clone, Debug, Default)]
pub(crate) struct DeviceInitData {
    pub device_type: u32,
    pub characteristics: u32,
    pub io_type: i32,
    pub sddl: Option<String>,
    pub name: Option<String>,
    /// `CreatedDevice`: `WdfDeviceCreate` consumed it (the init lives on
    /// until AddDevice returns, as `FxDriver::AddDevice` keeps it on its
    /// stack).
    pub created: bool,
}

/// What the framework keeps about the bind.
#[derive(Clone, Debug)]
pub(crate) struct Bound {
    pub client_minor: u32,
    pub minimum_minor: Option<u32>,
    pub client_newer: bool,
    pub func_count: u32,
    /// The client's `WdfFunctionCount` after binding (`WDF_BIND_INFO2`).
    pub client_function_count: Option<u32>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub objects: HashMap<usize, Object>,
    tombstones: HashMap<usize, Kind>,
    tomb_order: VecDeque<usize>,
    next_handle: usize,
    pub inits: HashMap<usize, DeviceInitData>,
    pub driver: Option<usize>,
    pub config: Option<DriverConfig>,
    pub tag: u32,
    pub driver_name: String,
    pub registry_path: String,
    pub bound: Option<Bound>,
    pub unbound: bool,
    pub devices: Vec<usize>,
    pub device_count: usize,
    /// The callback locks of devices and queues, made on first use.
    callback_locks: HashMap<usize, Arc<Mutex<()>>>,
}

macro_rules! data_accessors {
    ($($get:ident, $get_mut:ident => $variant:ident($ty:ty);)*) => {
        impl State {
            $(
                #[doc = concat!("The `", stringify!($variant), "` data of live object `h`.")]
                pub(crate) fn $get(&self, h: usize) -> Option<&$ty> {
                    match self.objects.get(&h) {
                        Some(Object { data: Data::$variant(d), .. }) => Some(d),
                        _ => None,
                    }
                }

                #[doc = concat!("The `", stringify!($variant), "` data of live object `h`, to change.")]
                pub(crate) fn $get_mut(&mut self, h: usize) -> Option<&mut $ty> {
                    match self.objects.get_mut(&h) {
                        Some(Object { data: Data::$variant(d), .. }) => Some(d),
                        _ => None,
                    }
                }
            )*
        }
    };
}

data_accessors! {
    device, device_mut => Device(DeviceData);
    queue, queue_mut => Queue(QueueData);
    request, request_mut => Request(RequestData);
    work_item, work_item_mut => WorkItem(WorkItemData);
}

/// The framework of one session.
pub(crate) struct Framework {
    pub version: FrameworkVersion,
    pub state: Mutex<State>,
    /// Signalled on request completion, work item completion and power
    /// changes.
    pub changed: Condvar,
    arena: usize,
    /// `WDF_DRIVER_GLOBALS` handed to the driver.
    pub globals: *mut abi::DriverGlobals,
    /// The function table the driver's `WdfFunctions` points at.
    pub table: Box<[usize]>,
    /// The structure-size table `WdfStructures` points at (client newer
    /// than the framework).
    pub structures: Box<[usize]>,
    pub workers: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Framework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Framework")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

// SAFETY: `globals` points at a heap block owned by the framework, written
// only under `state`'s lock or before the driver runs; the arena is an
// address range only.
unsafe impl Send for Framework {}
// SAFETY: as above.
unsafe impl Sync for Framework {}

impl Drop for Framework {
    fn drop(&mut self) {
        // SAFETY: the arena was mapped by `new` and nothing dereferences
        // handles any more (the driver is gone); `globals` came from
        // `Box::into_raw` in `new`.
        unsafe {
            libc::munmap(self.arena as *mut c_void, ARENA_SIZE);
            drop(Box::from_raw(self.globals));
        }
    }
}

/// A mutex guard over the framework state.
pub(crate) type Guard<'a> = MutexGuard<'a, State>;

/// The outcome of looking up a handle.
pub(crate) enum Lookup {
    Live,
    Deleted(Kind),
    Unknown,
}

impl Framework {
    pub(crate) fn new(version: FrameworkVersion) -> Framework {
        // SAFETY: an inaccessible reservation of address space only.
        let arena = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ARENA_SIZE,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert!(
            arena != libc::MAP_FAILED,
            "kmdf-host: cannot reserve the handle arena"
        );
        let globals = Box::into_raw(Box::new(abi::DriverGlobals {
            driver: std::ptr::null_mut(),
            driver_flags: 0,
            driver_tag: 0,
            driver_name: [0; 32],
            displace_driver_unload: 0,
        }));
        Framework {
            version,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            arena: arena as usize,
            globals,
            table: table::build(),
            structures: structures::table(version),
            workers: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn lock(&self) -> Guard<'_> {
        self.state.lock().unwrap()
    }

    /// A fresh handle value in the no-access arena (never reused).
    pub(crate) fn new_handle(&self, s: &mut State) -> usize {
        s.next_handle += 1;
        let h = self.arena + 16 * s.next_handle;
        assert!(
            h < self.arena + ARENA_SIZE,
            "kmdf-host: handle arena exhausted"
        );
        h
    }

    pub(crate) fn lookup(s: &State, h: usize) -> Lookup {
        if s.objects.contains_key(&h) {
            Lookup::Live
        } else if let Some(&k) = s.tombstones.get(&h) {
            Lookup::Deleted(k)
        } else {
            Lookup::Unknown
        }
    }

    /// Validates `handle` as an object of `kind` (`None`: any kind), as
    /// `FxObjectHandleGetPtr` does with the verifier on: an invalid handle
    /// stops the run with `WDF_VIOLATION` / `WDF_INVALID_HANDLE`.
    pub(crate) fn check(&self, s: &State, function: &str, handle: usize, kind: Option<Kind>) {
        let found = match Self::lookup(s, handle) {
            Lookup::Live => s.objects[&handle].kind,
            Lookup::Deleted(k) => stop(
                Rule::WdfViolation,
                format!(
                    "{function}: {} {handle:#x} was already deleted (WDF_VIOLATION, WDF_INVALID_HANDLE)",
                    k.name()
                ),
            ),
            Lookup::Unknown if handle == 0 => stop(
                Rule::WdfViolation,
                format!("{function}: NULL handle (WDF_VIOLATION, WDF_INVALID_HANDLE)"),
            ),
            Lookup::Unknown => stop(
                Rule::WdfViolation,
                format!(
                    "{function}: {handle:#x} is not a WDF handle (WDF_VIOLATION, WDF_INVALID_HANDLE)"
                ),
            ),
        };
        if let Some(k) = kind
            && k != found
        {
            stop(
                Rule::WdfViolation,
                format!(
                    "{function}: handle {handle:#x} is a {}, not a {} (WDF_VIOLATION, WDF_INVALID_HANDLE)",
                    found.name(),
                    k.name()
                ),
            );
        }
    }

    /// The execution level and synchronization scope in effect for `h`,
    /// as `ConfigureConstraints` resolves them: what the object's
    /// attributes say, else what its constraint parent has (a queue's is
    /// its device, a device's the driver, another object's its parent);
    /// the driver's default is dispatch level without synchronization
    /// (`FxDriver::FxDriver`, kernel mode).
    pub(crate) fn constraints(s: &State, h: usize) -> (i32, i32) {
        let (mut level, mut scope) = (execution_level::INHERIT, synchronization_scope::INHERIT);
        let mut at = Some(h);
        while let Some(o) = at.and_then(|h| s.objects.get(&h)) {
            if level == execution_level::INHERIT {
                level = o.execution_level;
            }
            if scope == synchronization_scope::INHERIT {
                scope = o.synchronization_scope;
            }
            if level != execution_level::INHERIT && scope != synchronization_scope::INHERIT {
                break;
            }
            at = match &o.data {
                Data::Queue(q) => Some(q.device),
                _ => o.parent,
            };
        }
        if level == execution_level::INHERIT {
            level = execution_level::DISPATCH;
        }
        if scope == synchronization_scope::INHERIT {
            scope = synchronization_scope::NONE;
        }
        (level, scope)
    }

    /// Whether KMDF runs `h`'s cleanup and destroy callbacks at
    /// PASSIVE_LEVEL (`MarkPassiveCallbacks`): the driver and work items
    /// always (`FxDriver`, `FxWorkItem`), a queue whose execution level in
    /// effect is passive (`FxIoQueue::ConfigureConstraints`), any object
    /// whose own attributes ask for passive level (`FxObject::Commit`).
    pub(crate) fn passive_callbacks(s: &State, h: usize) -> bool {
        let Some(o) = s.objects.get(&h) else {
            return false;
        };
        matches!(o.kind, Kind::Driver | Kind::WorkItem)
            || o.execution_level == execution_level::PASSIVE
            || (o.kind == Kind::Queue && Self::constraints(s, h).0 == execution_level::PASSIVE)
    }

    /// The nearest object with callbacks (`IFxHasCallbacks`: a queue or a
    /// device) at or above `h`, else its device
    /// (`FxDeviceBase::_SearchForDevice`).
    pub(crate) fn callbacks_holder(s: &State, h: usize) -> usize {
        let mut at = Some(h);
        while let Some(o) = at.and_then(|x| s.objects.get(&x)) {
            if matches!(o.kind, Kind::Queue | Kind::Device) {
                return at.unwrap_or(h);
            }
            at = o.parent;
        }
        Self::device_of(s, h).unwrap_or(h)
    }

    /// The object whose callback lock a queue's (or device's) callbacks
    /// take, if its synchronization scope asks for one: the queue's own for
    /// `WdfSynchronizationScopeQueue`, the device's for
    /// `WdfSynchronizationScopeDevice` (`FxIoQueue::ConfigureConstraints`).
    pub(crate) fn lock_owner(s: &State, h: usize) -> Option<usize> {
        let (_, scope) = Self::constraints(s, h);
        match scope {
            synchronization_scope::QUEUE => Some(h),
            synchronization_scope::DEVICE => Self::device_of(s, h),
            _ => None,
        }
    }

    /// The callback lock of `owner`.
    pub(crate) fn callback_lock(s: &mut State, owner: usize) -> Arc<Mutex<()>> {
        s.callback_locks.entry(owner).or_default().clone()
    }

    /// The device `h` belongs to (itself, or the nearest device ancestor),
    /// as `FxDeviceBase::_SearchForDevice` finds it.
    pub(crate) fn device_of(s: &State, mut h: usize) -> Option<usize> {
        loop {
            let o = s.objects.get(&h)?;
            if o.kind == Kind::Device {
                return Some(h);
            }
            if let Data::Queue(q) = &o.data {
                return Some(q.device);
            }
            h = o.parent?;
        }
    }

    /// Creates an object: one pool block with the driver's tag for the
    /// object and its zero-filled context (as `FxObjectHandleAlloc` does),
    /// a handle, and the link to `parent`. Callbacks and context come from
    /// the attributes the caller has validated.
    pub(crate) fn create_object(
        &self,
        session: &Session,
        kind: Kind,
        attributes: Option<&Attributes>,
        parent: Option<usize>,
        data: Data,
    ) -> Result<usize, i32> {
        let none = Attributes {
            execution_level: execution_level::INHERIT,
            synchronization_scope: abi::synchronization_scope::INHERIT,
            ..Attributes::default()
        };
        let a = attributes.unwrap_or(&none);
        let (context_size, context_type) = (a.context_size, a.context_type);
        let what = if a.context_name.is_empty() {
            kind.name().to_string()
        } else {
            format!("{} ({})", kind.name(), a.context_name)
        };
        let block = self.allocate(
            session,
            OBJECT_HEADER + context_size.next_multiple_of(16),
            PoolKind::NonPagedNx,
            &what,
        )?;
        let mut s = self.lock();
        let h = self.new_handle(&mut s);
        s.objects.insert(
            h,
            Object {
                kind,
                parent,
                children: Vec::new(),
                context: if context_size > 0 || context_type != 0 {
                    block + OBJECT_HEADER
                } else {
                    0
                },
                context_type,
                cleanup: a.cleanup,
                destroy: a.destroy,
                execution_level: a.execution_level,
                synchronization_scope: a.synchronization_scope,
                block,
                disposing: false,
                no_delete_ddi: false,
                data,
            },
        );
        if let Some(p) = parent
            && let Some(po) = s.objects.get_mut(&p)
        {
            po.children.push(h);
        }
        Ok(h)
    }

    /// A zero-filled block the framework allocates for the driver (with its
    /// tag, so low-resources simulation can fail it): an object, an
    /// `IO_WORKITEM`, a string; `what` names it in leak reports.
    pub(crate) fn allocate(
        &self,
        session: &Session,
        size: usize,
        kind: PoolKind,
        what: &str,
    ) -> Result<usize, i32> {
        let tag = self.lock().tag;
        session
            .pool
            .allocate(Request {
                size,
                tag,
                kind,
                origin: Origin::Framework,
                zeroed: true,
                alignment: 16,
                caller: thread::caller(),
                what: Some(what),
            })
            .map(|p| p as usize)
            .map_err(|f| match f {
                Failure::Injected | Failure::Exhausted => abi::status::INSUFFICIENT_RESOURCES,
            })
    }

    /// Frees an object that was never handed to the driver, without
    /// callbacks (`DeleteFromFailedCreate`).
    pub(crate) fn delete_from_failed_create(&self, session: &Arc<Session>, h: usize) {
        let mut s = self.lock();
        if let Some(o) = s.objects.get_mut(&h) {
            o.cleanup = 0;
            o.destroy = 0;
        }
        drop(s);
        self.delete(session, h);
    }

    /// Deletes `h` and its descendants as KMDF does
    /// (`FxObject::DeleteObject`, `DisposeChildrenWorker`,
    /// `DeletedAndDisposedWorkerLocked`): the children are disposed first,
    /// in the order they were created, each one's subtree before it, then
    /// the object's own `EvtCleanupCallback`; then the destroy callbacks in
    /// the same order (a child holds a reference on its parent), and the
    /// memory is freed. Work items are flushed when they are disposed.
    pub(crate) fn delete(&self, session: &Arc<Session>, h: usize) {
        let order = {
            let mut s = self.lock();
            let mut order = Vec::new();
            Self::post_order(&s, h, &mut order);
            order.retain(|x| !s.objects[x].disposing);
            for x in &order {
                s.objects.get_mut(x).unwrap().disposing = true;
            }
            order
        };
        if order.is_empty() {
            return;
        }
        // Dispose: rundown and cleanup callbacks.
        for &x in &order {
            self.rundown(session, x);
            let (cleanup, level) = {
                let s = self.lock();
                let o = &s.objects[&x];
                (
                    o.cleanup,
                    if o.kind.passive_dispose() {
                        irql::PASSIVE
                    } else {
                        thread::irql()
                    },
                )
            };
            if cleanup != 0 {
                // SAFETY: the EvtCleanupCallback the driver registered for
                // the object (KMDF's signature, by `Host::load`'s contract),
                // called once, with the object's handle, still live.
                unsafe {
                    call_driver(
                        session,
                        level,
                        Callback {
                            what: "EvtCleanupCallback",
                            address: cleanup,
                        },
                        &[x],
                    )
                };
            }
        }
        // Destroy callbacks, then the memory.
        for &x in &order {
            let (destroy, passive) = {
                let s = self.lock();
                (s.objects[&x].destroy, Self::passive_callbacks(&s, x))
            };
            if destroy != 0 {
                let level = if passive {
                    irql::PASSIVE
                } else {
                    thread::irql().min(irql::DISPATCH)
                };
                // SAFETY: the EvtDestroyCallback the driver registered for
                // the object (KMDF's signature, by `Host::load`'s
                // contract), called once; the context is still valid.
                unsafe {
                    call_driver(
                        session,
                        level,
                        Callback {
                            what: "EvtDestroyCallback",
                            address: destroy,
                        },
                        &[x],
                    )
                };
            }
            let mut s = self.lock();
            let o = s.objects.remove(&x).unwrap();
            if let Some(p) = o.parent
                && let Some(po) = s.objects.get_mut(&p)
            {
                po.children.retain(|c| *c != x);
            }
            s.tombstones.insert(x, o.kind);
            s.tomb_order.push_back(x);
            if s.tomb_order.len() > TOMBSTONES {
                let old = s.tomb_order.pop_front().unwrap();
                s.tombstones.remove(&old);
            }
            drop(s);
            match &o.data {
                Data::WorkItem(w) if w.io_work_item != 0 => {
                    session.free_host_block(w.io_work_item);
                }
                Data::Device(d) => {
                    for &block in &d.interface_blocks {
                        session.free_host_block(block);
                    }
                }
                Data::Driver(d) if d.registry_path_block != 0 => {
                    session.free_host_block(d.registry_path_block);
                }
                _ => {}
            }
            session.free_host_block(o.block);
        }
        self.changed.notify_all();
    }

    /// Releases a presented request once it is done with (completed, or
    /// given up at removal): the queue no longer counts it, the request
    /// object is deleted, the I/O manager frees its system buffer.
    pub(crate) fn finish_request(&self, session: &Arc<Session>, request: usize) {
        let buffer = {
            let mut s = self.lock();
            let Some(r) = s.request(request) else { return };
            let (queue, buffer) = (r.queue, r.buffer);
            if let Some(q) = s.queue_mut(queue) {
                let before = q.in_flight.len();
                q.in_flight.retain(|r| *r != request);
                if q.in_flight.len() < before {
                    q.presented -= 1;
                }
            }
            buffer
        };
        self.delete(session, request);
        if buffer != 0 {
            session.free_host_block(buffer);
        }
        self.changed.notify_all();
    }

    fn post_order(s: &State, h: usize, out: &mut Vec<usize>) {
        let Some(o) = s.objects.get(&h) else { return };
        for &c in &o.children {
            Self::post_order(s, c, out);
        }
        out.push(h);
    }

    /// What disposing `h` waits for: a work item's pending or running
    /// callback (`FxWorkItem::FlushAndRundown`), unless called from that
    /// callback itself.
    fn rundown(&self, session: &Session, h: usize) {
        let mut s = self.lock();
        if let Some(w) = s.work_item_mut(h) {
            w.rundown = true;
        } else {
            return;
        }
        let me = std::thread::current().id();
        let deadline = std::time::Instant::now() + session.options.hang_timeout;
        loop {
            let Some(w) = s.work_item(h) else {
                return;
            };
            if (!w.enqueued && w.running.is_none()) || w.running == Some(me) {
                return;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                drop(s);
                stop(
                    Rule::Hang,
                    format!("deleting WDFWORKITEM {h:#x}: its callback did not finish"),
                );
            }
            s = self.changed.wait_timeout(s, deadline - now).unwrap().0;
        }
    }

    /// The context of `h` typed by `type_info` (pointer comparison, as
    /// `FxObjectGetTypedContext` does).
    pub(crate) fn typed_context(s: &State, h: usize, type_info: usize) -> usize {
        match s.objects.get(&h) {
            Some(o) if o.context != 0 && o.context_type == type_info => o.context,
            _ => 0,
        }
    }

    /// Remembers a worker thread to join at unload.
    pub(crate) fn add_worker(&self, handle: JoinHandle<()>) {
        let mut w = self.workers.lock().unwrap();
        w.retain(|h| !h.is_finished());
        w.push(handle);
    }

    /// Joins every worker thread.
    pub(crate) fn join_workers(&self) {
        loop {
            let Some(h) = self.workers.lock().unwrap().pop() else {
                break;
            };
            let _ = h.join();
        }
    }
}

/// Enters `session` on this thread at `level`, calls the driver's
/// `callback` with `args` on the thread's driver stack, records how deep it
/// went, checks what the driver left, and restores the thread's state.
/// Returns RAX (the caller narrows it to the callback's return type).
///
/// # Safety
///
/// `callback.address` is a function of the image (or a framework entry
/// point of the host) taking `args` as integer or pointer arguments, and
/// the arguments satisfy its contract.
pub(crate) unsafe fn call_driver(
    session: &Arc<Session>,
    level: u8,
    callback: Callback,
    args: &[usize],
) -> usize {
    let what = callback.what;
    let frame = thread::enter(session, level, callback);
    // SAFETY: this function's contract.
    let (result, usage) = unsafe { stack::call(callback.address, args) };
    if let Some(usage) = &usage {
        session.record_stack(callback, usage);
    }
    let (left_irql, left_locks) = (thread::irql(), thread::spin_locks());
    if left_irql != level {
        session.violation(
            Rule::IrqlNotRestored,
            format!("{what} returned at IRQL {left_irql}, it was called at IRQL {level}"),
        );
    }
    if left_locks != 0 {
        session.violation(
            Rule::SpinLockMisuse,
            format!("{what} returned holding {left_locks} spin lock(s)"),
        );
    }
    frame.leave();
    result
}

impl Backend for Framework {
    fn bug_check_note(&self, code: u32) -> Option<String> {
        // try_lock: a stop must not wait for a lock the driver's thread holds.
        let count = self
            .state
            .try_lock()
            .ok()
            .and_then(|s| s.bound.as_ref().and_then(|b| b.client_function_count));
        (code == crate::linux::kernel::exports::RUST_PANIC && count == Some(0)).then(|| {
            "= the driver's WdfFunctionCount is 0: the headers leave it unset for a client not newer \
             than the framework, and wdk-sys checks every WDF call's table index against it"
                .into()
        })
    }
}

impl Session {
    /// The model framework's state: every session the host runs is on the
    /// model framework.
    pub(crate) fn wdf(&self) -> &Framework {
        self.backend::<Framework>()
            .expect("a session of the model framework")
    }
}
