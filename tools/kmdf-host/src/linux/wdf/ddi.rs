//! The WDF functions the host implements, each with KMDF's parameter
//! validation as the public KMDF source does it (the function modelled is
//! named on each). With KMDF Verifier's behaviour: a NULL required
//! parameter or an invalid handle stops the run (`WDF_VIOLATION`), a
//! verifier break is recorded as a violation and the call returns what
//! KMDF returns.

use std::ffi::CStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::abi::irql::{DISPATCH, PASSIVE};
use super::super::abi::{
    self, ContextTypeInfo, DriverConfig, Guid, Handle, IoQueueConfig, ObjectAttributes,
    UnicodeString, WorkItemConfig, dispatch_type, driver_init_flags, execution_level, io_type,
    status, synchronization_scope, tri_state,
};
use super::super::context::{self, Callback, caller_thunk};
use super::super::kernel::debug::unicode_string;
use super::super::kernel::irql;
use super::super::session::Session;
use super::super::stop::stop;
use super::{
    Attributes, Data, DeviceInitData, Framework, Kind, QueueData, WorkItemData, call_driver, fn_ptr,
};
use crate::report::Rule;

const VALIDATE_PARENT_NOT_ALLOWED: u32 = 0x1;
const VALIDATE_EXECUTION_LEVEL_ALLOWED: u32 = 0x2;
const VALIDATE_SYNCHRONIZATION_SCOPE_ALLOWED: u32 = 0x4;
const VALIDATE_ATTRIBUTES_REQUIRED: u32 = 0x8;
const VALIDATE_PARENT_REQUIRED_FLAG: u32 = 0x10;
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

/// `FxVerifierCheckIrqlLevel`: above `max`, a verifier break and
/// `STATUS_INVALID_DEVICE_REQUEST`.
fn check_irql(session: &Session, function: &str, max: u8) -> Result<(), i32> {
    let now = context::irql();
    if now > max {
        session.violation(
            Rule::IrqlTooHigh,
            format!(
                "{function} called at {}, at most {} allowed",
                irql::describe(now),
                irql::describe(max)
            ),
        );
        return Err(status::INVALID_DEVICE_REQUEST);
    }
    Ok(())
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

/// A `Size` KMDF refuses: recorded, and `STATUS_INFO_LENGTH_MISMATCH`.
fn wrong_size(
    session: &Session,
    function: &str,
    structure: &str,
    got: u32,
    expected: &[usize],
) -> i32 {
    session.violation(
        Rule::WrongStructureSize,
        format!(
            "{function}: {structure}.Size is {got}, KMDF {} accepts {} (STATUS_INFO_LENGTH_MISMATCH)",
            session.wdf.version,
            expected.iter().map(usize::to_string).collect::<Vec<_>>().join(" or ")
        ),
    );
    status::INFO_LENGTH_MISMATCH
}

/// Modelled on `FxValidateObjectAttributes` (shared/object/
/// fxvalidatefunctions.cpp); the accepted attributes as the framework keeps
/// them (`FxObjectHandleAllocCommon`: the context size is the override or
/// the type's size).
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
    if attributes.is_null() {
        if flags & VALIDATE_ATTRIBUTES_REQUIRED != 0 {
            return Err(status::WDF_PARENT_NOT_SPECIFIED);
        }
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
        // SAFETY: a non-NULL type info is readable (the contract). Its
        // `Size` is checked before the fields past V1_0's are used (none
        // are: the host reads only V1_0's fields).
        let info: ContextTypeInfo = unsafe { a.context_type_info.read_unaligned() };
        if info.size as usize != size_of::<ContextTypeInfo>()
            && info.size != abi::CONTEXT_TYPE_INFO_V1_0_SIZE
        {
            return Err(wrong_size(
                session,
                function,
                "WDF_OBJECT_CONTEXT_TYPE_INFO",
                info.size,
                &[
                    size_of::<ContextTypeInfo>(),
                    abi::CONTEXT_TYPE_INFO_V1_0_SIZE as usize,
                ],
            ));
        }
        if info.context_size > 0 && info.context_name.is_null() {
            return Err(status::WDF_OBJECT_ATTRIBUTES_INVALID);
        }
        if !info.context_name.is_null() {
            // SAFETY: a non-NULL name is NUL-terminated (the contract).
            context_name = unsafe { CStr::from_ptr(info.context_name.cast()) }
                .to_string_lossy()
                .into_owned();
        }
    }
    if a.context_size_override > 0 {
        if a.context_type_info.is_null() {
            return Err(status::WDF_OBJECT_ATTRIBUTES_INVALID);
        }
        // SAFETY: non-NULL (checked), so readable (the contract).
        if a.context_size_override < unsafe { (*a.context_type_info).context_size } {
            return Err(status::WDF_OBJECT_ATTRIBUTES_INVALID);
        }
    }
    if flags & VALIDATE_PARENT_NOT_ALLOWED != 0 {
        if !a.parent_object.is_null() {
            return Err(status::WDF_PARENT_ASSIGNMENT_NOT_ALLOWED);
        }
    } else if flags & VALIDATE_PARENT_REQUIRED_FLAG != 0 && a.parent_object.is_null() {
        return Err(status::WDF_PARENT_NOT_SPECIFIED);
    }
    if a.execution_level == execution_level::INVALID
        || a.execution_level > execution_level::DISPATCH
    {
        return Err(status::WDF_OBJECT_ATTRIBUTES_INVALID);
    }
    if a.synchronization_scope == synchronization_scope::INVALID
        || a.synchronization_scope > synchronization_scope::NONE
    {
        return Err(status::WDF_OBJECT_ATTRIBUTES_INVALID);
    }
    if flags & VALIDATE_SYNCHRONIZATION_SCOPE_ALLOWED == 0
        && a.synchronization_scope != synchronization_scope::INHERIT
        && a.synchronization_scope != synchronization_scope::NONE
    {
        return Err(status::WDF_SYNCHRONIZATION_SCOPE_INVALID);
    }
    if flags & VALIDATE_EXECUTION_LEVEL_ALLOWED == 0
        && a.execution_level != execution_level::INHERIT
    {
        return Err(status::WDF_EXECUTION_LEVEL_INVALID);
    }
    let context_size = if a.context_type_info.is_null() {
        0
    } else if a.context_size_override != 0 {
        a.context_size_override
    } else {
        // SAFETY: non-NULL, so readable (the contract).
        unsafe { (*a.context_type_info).context_size }
    };
    Ok(Some(Attributes {
        cleanup: a.evt_cleanup_callback,
        destroy: a.evt_destroy_callback,
        execution_level: a.execution_level,
        context_size,
        context_type: a.context_type_info as usize,
        context_name,
    }))
}

/// Modelled on `FxValidateUnicodeString` (fxvalidatefunctions.hpp).
///
/// # Safety
///
/// `s` points at a readable `UNICODE_STRING` whose `Buffer`, when its
/// fields pass the checks, holds `Length` readable bytes.
unsafe fn validate_unicode_string(s: *const UnicodeString) -> Result<String, i32> {
    // SAFETY: a readable UNICODE_STRING (the contract).
    let u = unsafe { &*s };
    if u.length & 1 != 0
        || u.maximum_length & 1 != 0
        || (u.maximum_length > 0 && u.buffer.is_null())
        || u.length > u.maximum_length
    {
        return Err(status::INVALID_PARAMETER);
    }
    // SAFETY: consistent fields, so `Buffer` holds `Length` bytes (the
    // contract).
    Ok(unsafe { unicode_string(s) })
}

/// Checks that `globals` are the ones this framework handed out.
fn check_globals(session: &Session, function: &str, globals: *mut abi::DriverGlobals) {
    if globals != session.wdf.globals {
        stop(
            Rule::WdfViolation,
            format!(
                "{function}: the WDF_DRIVER_GLOBALS pointer {globals:p} is not the one WdfVersionBind returned"
            ),
        );
    }
}

/// Derives the driver's tag from its service name, as
/// `FxDriver::_InitializeTag` does: the first four characters, after a
/// leading "Wdf"; 'FxDr' when the name is shorter than three characters.
fn tag_from_name(name: &str) -> u32 {
    let bytes = name.as_bytes();
    let bytes = if bytes.len() >= 3 && bytes[..3].eq_ignore_ascii_case(b"wdf") {
        &bytes[3..]
    } else {
        bytes
    };
    if bytes.len() <= 2 {
        return u32::from_le_bytes(*b"FxDr");
    }
    let mut tag = [0u8; 4];
    let n = bytes.len().min(4);
    tag[..n].copy_from_slice(&bytes[..n]);
    u32::from_le_bytes(tag)
}

/// `WdfDriverCreate`, modelled on shared/core/fxdriverapi.cpp.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfDriverCreate` says: `DriverObject` is the I/O manager's driver
/// object, `RegistryPath` a valid `UNICODE_STRING`, `DriverAttributes`
/// NULL or valid attributes, `DriverConfig` a readable configuration of at
/// least its `Size`, `Driver` NULL or writable (NULL required pointers stop
/// the run).
unsafe extern "win64" fn wdf_driver_create(
    globals: *mut abi::DriverGlobals,
    driver_object: *mut abi::DriverObject,
    registry_path: *const UnicodeString,
    attributes: *const ObjectAttributes,
    config: *const DriverConfig,
    driver_out: *mut Handle,
) -> i32 {
    let session = context::session();
    const F: &str = "WdfDriverCreate";
    check_globals(&session, F, globals);
    not_null(F, "DriverObject", driver_object);
    not_null(F, "RegistryPath", registry_path);
    not_null(F, "DriverConfig", config);
    // SAFETY: non-NULL (checked), so a readable WDF_DRIVER_CONFIG (this
    // function's contract); `Size` is its first field.
    let size = unsafe { (*config).size };
    if size as usize != size_of::<DriverConfig>() && size != abi::DRIVER_CONFIG_V1_1_SIZE {
        return wrong_size(
            &session,
            F,
            "WDF_DRIVER_CONFIG",
            size,
            &[size_of::<DriverConfig>()],
        );
    }
    // SAFETY: `Size` says the whole structure is there (the contract).
    let c = unsafe { *config };
    let valid = driver_init_flags::NON_PNP
        | driver_init_flags::NO_DISPATCH_OVERRIDE
        | driver_init_flags::COMPANION;
    if c.driver_init_flags & !valid != 0 {
        return status::INVALID_PARAMETER;
    }
    if let Err(s) = check_irql(&session, F, PASSIVE) {
        return s;
    }
    // SAFETY: non-NULL (checked): the I/O manager's registry path, passed
    // on by the driver (the contract).
    let path = match unsafe { validate_unicode_string(registry_path) } {
        Ok(p) => p,
        Err(s) => return s,
    };
    if session.wdf.lock().driver.is_some() {
        return status::DRIVER_INTERNAL_ERROR;
    }
    if !driver_out.is_null() {
        // SAFETY: a non-NULL `Driver` is writable (the contract).
        unsafe { *driver_out = std::ptr::null_mut() };
    }
    let name = path.rsplit('\\').next().unwrap_or("WDF").to_string();
    let tag = if c.driver_pool_tag != 0 && c.driver_pool_tag != u32::from_le_bytes(*b"Ddk ") {
        c.driver_pool_tag
    } else {
        tag_from_name(&name)
    };
    {
        let mut s = session.wdf.lock();
        s.tag = tag;
        s.driver_name = name.clone();
    }
    if c.driver_init_flags & driver_init_flags::NON_PNP != 0
        && c.evt_driver_device_add != 0
        && c.driver_init_flags & driver_init_flags::NO_DISPATCH_OVERRIDE == 0
    {
        return status::INVALID_PARAMETER;
    }
    // SAFETY: NULL or the driver's attributes (the contract).
    let attrs = match unsafe { validate_attributes(&session, F, attributes, TOP_LEVEL) } {
        Ok(a) => a,
        Err(s) => return s,
    };
    let h =
        match session
            .wdf
            .create_object(&session, Kind::Driver, attrs.as_ref(), None, Data::Driver)
        {
            Ok(h) => h,
            Err(s) => return s,
        };
    {
        let mut s = session.wdf.lock();
        s.driver = Some(h);
        s.config = Some(c);
        s.objects.get_mut(&h).unwrap().no_delete_ddi = true;
    }
    // SAFETY: the framework's own WDF_DRIVER_GLOBALS block (live as long
    // as the framework); the driver only reads it, and not before this
    // call returns the driver handle.
    unsafe {
        let g = &mut *session.wdf.globals;
        g.driver = h as Handle;
        g.driver_tag = tag;
        g.driver_flags |= c.driver_init_flags;
        let n = name.len().min(31);
        g.driver_name = [0; 32];
        g.driver_name[..n].copy_from_slice(&name.as_bytes()[..n]);
        g.displace_driver_unload = 1;
    }
    // The framework takes over AddDevice and unload (FxDriver::Initialize).
    if c.driver_init_flags & driver_init_flags::NO_DISPATCH_OVERRIDE == 0 {
        // SAFETY: `DriverObject` is the I/O manager's DRIVER_OBJECT (the
        // contract; non-NULL, checked), whose extension pointer is NULL or
        // its DRIVER_EXTENSION.
        unsafe {
            let d = &mut *driver_object;
            if !d.driver_extension.is_null() {
                (*d.driver_extension).add_device = super::super::host::fx_add_device_address();
            }
            d.driver_unload = super::super::host::fx_unload_address();
        }
    }
    session.trace(format_args!(
        "WdfDriverCreate: WDFDRIVER {h:#x}, tag '{}', EvtDriverDeviceAdd {}",
        crate::options::tag_text(tag),
        session.describe(c.evt_driver_device_add)
    ));
    if !driver_out.is_null() {
        // SAFETY: a non-NULL `Driver` is writable (the contract).
        unsafe { *driver_out = h as Handle };
    }
    status::SUCCESS
}
caller_thunk!(WdfDriverCreate => wdf_driver_create);

/// The `WDFDEVICE_INIT` behind `init`, or a stop.
fn with_init<R>(
    session: &Session,
    function: &str,
    init: Handle,
    f: impl FnOnce(&mut DeviceInitData) -> R,
) -> R {
    not_null(function, "DeviceInit", init);
    let mut s = session.wdf.lock();
    match s.inits.get_mut(&(init as usize)) {
        Some(i) => f(i),
        None => {
            drop(s);
            stop(
                Rule::WdfViolation,
                format!("{function}: {init:p} is not a live WDFDEVICE_INIT"),
            )
        }
    }
}

/// `WdfDeviceInitSetDeviceType` (shared/core/fxdeviceinitapi.cpp).
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfDeviceInitSetDeviceType` says: any arguments (the init is
/// looked up, never dereferenced).
unsafe extern "win64" fn wdf_device_init_set_device_type(
    _g: *mut abi::DriverGlobals,
    init: Handle,
    device_type: u32,
) {
    let session = context::session();
    with_init(&session, "WdfDeviceInitSetDeviceType", init, |i| {
        i.device_type = device_type
    });
}
caller_thunk!(WdfDeviceInitSetDeviceType => wdf_device_init_set_device_type);

/// `WdfDeviceInitSetCharacteristics`: FILE_DEVICE_SECURE_OPEN is always
/// added (fxdeviceinitapi.cpp).
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfDeviceInitSetCharacteristics` says: any arguments (the init is
/// looked up, never dereferenced).
unsafe extern "win64" fn wdf_device_init_set_characteristics(
    _g: *mut abi::DriverGlobals,
    init: Handle,
    characteristics: u32,
    or_in: u8,
) {
    let session = context::session();
    with_init(&session, "WdfDeviceInitSetCharacteristics", init, |i| {
        if or_in != 0 {
            i.characteristics |= characteristics | abi::FILE_DEVICE_SECURE_OPEN;
        } else {
            i.characteristics = characteristics | abi::FILE_DEVICE_SECURE_OPEN;
        }
    });
}
caller_thunk!(WdfDeviceInitSetCharacteristics => wdf_device_init_set_characteristics);

/// `WdfDeviceInitSetIoType` (fxdeviceinitapi.cpp; `FxDeviceInit::AssignIoType`).
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfDeviceInitSetIoType` says: any arguments (the init is looked
/// up, never dereferenced).
unsafe extern "win64" fn wdf_device_init_set_io_type(
    _g: *mut abi::DriverGlobals,
    init: Handle,
    kind: i32,
) {
    let session = context::session();
    if !(io_type::NEITHER..io_type::MAXIMUM).contains(&kind) {
        session.violation(
            Rule::WdfViolation,
            format!("WdfDeviceInitSetIoType: invalid WDF_DEVICE_IO_TYPE {kind} (ignored)"),
        );
        return;
    }
    with_init(&session, "WdfDeviceInitSetIoType", init, |i| {
        i.io_type = kind
    });
}
caller_thunk!(WdfDeviceInitSetIoType => wdf_device_init_set_io_type);

/// `WdfDeviceInitAssignSDDLString` (fxdeviceinitapi.cpp).
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfDeviceInitAssignSDDLString` says: `SDDLString` is NULL or a
/// valid `UNICODE_STRING`.
unsafe extern "win64" fn wdf_device_init_assign_sddl_string(
    _g: *mut abi::DriverGlobals,
    init: Handle,
    sddl: *const UnicodeString,
) -> i32 {
    let session = context::session();
    const F: &str = "WdfDeviceInitAssignSDDLString";
    not_null(F, "DeviceInit", init);
    if let Err(s) = check_irql(&session, F, PASSIVE) {
        return s;
    }
    if sddl.is_null() {
        with_init(&session, F, init, |i| i.sddl = None);
        return status::SUCCESS;
    }
    // SAFETY: non-NULL (checked): a UNICODE_STRING (the contract).
    match unsafe { validate_unicode_string(sddl) } {
        Ok(text) => with_init(&session, F, init, |i| i.sddl = Some(text)),
        Err(s) => return s,
    }
    status::SUCCESS
}
caller_thunk!(WdfDeviceInitAssignSDDLString => wdf_device_init_assign_sddl_string);

/// `WdfDeviceInitAssignName` (fxdeviceinitapi.cpp).
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfDeviceInitAssignName` says: `DeviceName` is NULL or a valid
/// `UNICODE_STRING`.
unsafe extern "win64" fn wdf_device_init_assign_name(
    _g: *mut abi::DriverGlobals,
    init: Handle,
    name: *const UnicodeString,
) -> i32 {
    let session = context::session();
    const F: &str = "WdfDeviceInitAssignName";
    not_null(F, "DeviceInit", init);
    if let Err(s) = check_irql(&session, F, PASSIVE) {
        return s;
    }
    let name = if name.is_null() {
        None
    } else {
        // SAFETY: non-NULL (checked): a UNICODE_STRING (the contract).
        match unsafe { validate_unicode_string(name) } {
            Ok(n) => Some(n),
            Err(s) => return s,
        }
    };
    with_init(&session, F, init, |i| i.name = name);
    status::SUCCESS
}
caller_thunk!(WdfDeviceInitAssignName => wdf_device_init_assign_name);

/// `WdfDeviceCreate`, modelled on shared/core/fxdeviceapi.cpp: an SDDL (or
/// device class) on a device without a name is refused with
/// `STATUS_INVALID_SECURITY_DESCR`; the init is consumed on success.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfDeviceCreate` says: `DeviceInit` points at the driver's
/// `PWDFDEVICE_INIT` variable, `DeviceAttributes` is NULL or valid
/// attributes, `Device` is writable (NULL pointers stop the run).
unsafe extern "win64" fn wdf_device_create(
    _g: *mut abi::DriverGlobals,
    init_ptr: *mut Handle,
    attributes: *const ObjectAttributes,
    device_out: *mut Handle,
) -> i32 {
    let session = context::session();
    const F: &str = "WdfDeviceCreate";
    not_null(F, "DeviceInit", init_ptr);
    // SAFETY: non-NULL (checked): the driver's readable PWDFDEVICE_INIT
    // variable (the contract).
    let init = unsafe { *init_ptr };
    not_null(F, "*DeviceInit", init);
    not_null(F, "Device", device_out);
    // SAFETY: non-NULL (checked), so writable (the contract).
    unsafe { *device_out = std::ptr::null_mut() };
    if let Err(s) = check_irql(&session, F, PASSIVE) {
        return s;
    }
    // SAFETY: NULL or the driver's attributes (the contract).
    let attrs = match unsafe { validate_attributes(&session, F, attributes, TOP_LEVEL) } {
        Ok(a) => a,
        Err(s) => return s,
    };
    let (sddl, has_name) = with_init(&session, F, init, |i| (i.sddl.clone(), i.name.is_some()));
    if let Some(sddl) = &sddl
        && !has_name
    {
        session.trace(format_args!(
            "WdfDeviceCreate: SDDL \"{sddl}\" on an unnamed device: STATUS_INVALID_SECURITY_DESCR"
        ));
        return status::INVALID_SECURITY_DESCR;
    }
    let driver = session.wdf.lock().driver;
    let init_data = with_init(&session, F, init, std::mem::take);
    let index = {
        let mut s = session.wdf.lock();
        s.device_count += 1;
        s.device_count
    };
    let data = Data::Device(Box::new(super::DeviceData {
        init: init_data,
        interfaces: Vec::new(),
        default_queue: None,
        queues: Vec::new(),
        started: false,
        removing: false,
        power: super::DevicePower::D0,
        index,
    }));
    let h = match session
        .wdf
        .create_object(&session, Kind::Device, attrs.as_ref(), driver, data)
    {
        Ok(h) => h,
        Err(s) => {
            // Put the settings back: the init stays the driver's.
            return s;
        }
    };
    {
        let mut s = session.wdf.lock();
        s.objects.get_mut(&h).unwrap().no_delete_ddi = true;
        s.inits.remove(&(init as usize));
        s.devices.push(h);
    }
    // SAFETY: both non-NULL (checked) and writable (the contract): the
    // init is consumed, the device handed out.
    unsafe {
        *init_ptr = std::ptr::null_mut();
        *device_out = h as Handle;
    }
    status::SUCCESS
}
caller_thunk!(WdfDeviceCreate => wdf_device_create);

/// `WdfDeviceCreateDeviceInterface` (shared/core/fxdeviceapi.cpp):
/// PASSIVE_LEVEL, a valid optional reference string.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfDeviceCreateDeviceInterface` says: `InterfaceClassGUID` is a
/// readable GUID (NULL stops the run), `ReferenceString` NULL or a valid
/// `UNICODE_STRING`.
unsafe extern "win64" fn wdf_device_create_device_interface(
    _g: *mut abi::DriverGlobals,
    device: Handle,
    guid: *const Guid,
    reference: *const UnicodeString,
) -> i32 {
    let session = context::session();
    const F: &str = "WdfDeviceCreateDeviceInterface";
    session
        .wdf
        .check(&session.wdf.lock(), F, device as usize, Some(Kind::Device));
    not_null(F, "InterfaceClassGUID", guid);
    if let Err(s) = check_irql(&session, F, PASSIVE) {
        return s;
    }
    if !reference.is_null()
        // SAFETY: non-NULL: a UNICODE_STRING (the contract).
        && let Err(s) = unsafe { validate_unicode_string(reference) }
    {
        return s;
    }
    // SAFETY: non-NULL (checked): a readable GUID (the contract).
    let guid = unsafe { guid.read_unaligned() };
    let mut s = session.wdf.lock();
    if let Some(d) = s.device_mut(device as usize) {
        d.interfaces.push(guid);
    }
    status::SUCCESS
}
caller_thunk!(WdfDeviceCreateDeviceInterface => wdf_device_create_device_interface);

/// `WdfObjectGetTypedContextWorker` (shared/object/handleapi.cpp).
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfObjectGetTypedContextWorker` says: any arguments (the handle is
/// looked up, the type info compared, neither dereferenced).
unsafe extern "win64" fn wdf_object_get_typed_context_worker(
    _g: *mut abi::DriverGlobals,
    handle: Handle,
    type_info: *const ContextTypeInfo,
) -> *mut std::ffi::c_void {
    let session = context::session();
    const F: &str = "WdfObjectGetTypedContextWorker";
    not_null(F, "Handle", handle);
    let s = session.wdf.lock();
    session.wdf.check(&s, F, handle as usize, None);
    drop(s);
    not_null(F, "TypeInfo", type_info);
    Framework::typed_context(&session.wdf.lock(), handle as usize, type_info as usize)
        as *mut std::ffi::c_void
}
caller_thunk!(WdfObjectGetTypedContextWorker => wdf_object_get_typed_context_worker);

/// `WdfObjectDelete` (shared/object/fxobjectapi.cpp): objects marked
/// "no delete DDI" (driver, device, default queue, I/O requests) are
/// refused with a verifier break.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfObjectDelete` says: any handle (looked up, never
/// dereferenced); the driver must not use the object's context after its
/// destroy callback.
unsafe extern "win64" fn wdf_object_delete(_g: *mut abi::DriverGlobals, handle: Handle) {
    let session = context::session();
    const F: &str = "WdfObjectDelete";
    let (no_delete, kind) = {
        let s = session.wdf.lock();
        session.wdf.check(&s, F, handle as usize, None);
        let o = &s.objects[&(handle as usize)];
        (o.no_delete_ddi, o.kind)
    };
    if no_delete {
        session.violation(
            Rule::ObjectMisuse,
            format!(
                "WdfObjectDelete on a {} the driver may not delete (ignored)",
                kind.name()
            ),
        );
        return;
    }
    session.wdf.delete(&session, handle as usize);
}
caller_thunk!(WdfObjectDelete => wdf_object_delete);

/// `WdfIoQueueCreate`, modelled on shared/irphandlers/io/fxioqueueapi.cpp
/// and `FxIoQueue::Initialize` / `FxPkgIo::InitializeDefaultQueue`.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfIoQueueCreate` says: `Config` is a readable configuration of
/// at least its `Size` (NULL stops the run), `QueueAttributes` NULL or valid
/// attributes, `Queue` NULL or writable; the callbacks it names are
/// functions with KMDF's signatures.
unsafe extern "win64" fn wdf_io_queue_create(
    _g: *mut abi::DriverGlobals,
    device: Handle,
    config: *const IoQueueConfig,
    attributes: *const ObjectAttributes,
    queue_out: *mut Handle,
) -> i32 {
    let session = context::session();
    const F: &str = "WdfIoQueueCreate";
    session
        .wdf
        .check(&session.wdf.lock(), F, device as usize, Some(Kind::Device));
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
    let size = unsafe { (*config).size };
    // WDF_IO_QUEUE_CONFIG_V1_9 is the current layout; V1_7 lacks `Settings`
    // and `Driver` (64 bytes).
    if size as usize != size_of::<IoQueueConfig>() && size != 88 && size != 64 {
        return wrong_size(
            &session,
            F,
            "WDF_IO_QUEUE_CONFIG",
            size,
            &[size_of::<IoQueueConfig>()],
        );
    }
    // SAFETY: `Size` is one of the layouts: the fields up to it are there
    // (the contract); the rest of the host's copy is zero for the older,
    // shorter layouts.
    let c = unsafe { read_prefix::<IoQueueConfig>(config, size as usize) };
    if c.default_queue == 0 && queue_out.is_null() {
        return status::INVALID_PARAMETER_4;
    }
    {
        let s = session.wdf.lock();
        if let Some(d) = s.device(device as usize)
            && c.default_queue != 0
            && d.started
        {
            return status::INVALID_DEVICE_STATE;
        }
    }
    if c.dispatch_type <= 0 || c.dispatch_type >= dispatch_type::MAX {
        return status::INVALID_PARAMETER;
    }
    let any_callback = c.evt_io_default != 0
        || c.evt_io_read != 0
        || c.evt_io_write != 0
        || c.evt_io_device_control != 0
        || c.evt_io_internal_device_control != 0;
    if c.dispatch_type != dispatch_type::MANUAL && !any_callback {
        return status::WDF_NO_CALLBACK;
    }
    if c.dispatch_type == dispatch_type::MANUAL && any_callback {
        return status::INVALID_PARAMETER;
    }
    if size > 64
        && c.number_of_presented_requests != 0
        && c.dispatch_type != dispatch_type::PARALLEL
    {
        return status::INVALID_PARAMETER;
    }
    let power_managed = match c.power_managed {
        tri_state::FALSE => false,
        // WdfUseDefault: power-managed unless the device is a filter; the
        // host's devices are function drivers (FDOs).
        _ => true,
    };
    let data = Data::Queue(QueueData {
        config: c,
        device: device as usize,
        power_managed,
        presented: 0,
        in_flight: Vec::new(),
    });
    let h = match session.wdf.create_object(
        &session,
        Kind::Queue,
        attrs.as_ref(),
        Some(device as usize),
        data,
    ) {
        Ok(h) => h,
        Err(s) => return s,
    };
    let mut s = session.wdf.lock();
    let Some(d) = s.device_mut(device as usize) else {
        unreachable!()
    };
    if c.default_queue != 0 {
        if d.default_queue.is_some() {
            drop(s);
            session.wdf.delete_from_failed_create(&session, h);
            return status::UNSUCCESSFUL;
        }
        d.default_queue = Some(h);
    }
    d.queues.push(h);
    if c.default_queue != 0 {
        s.objects.get_mut(&h).unwrap().no_delete_ddi = true;
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

/// `WdfIoQueueGetDevice` (fxioqueueapi.cpp).
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
    let session = context::session();
    let s = session.wdf.lock();
    session
        .wdf
        .check(&s, "WdfIoQueueGetDevice", queue as usize, Some(Kind::Queue));
    match &s.objects[&(queue as usize)].data {
        Data::Queue(q) => q.device as Handle,
        _ => unreachable!(),
    }
}
caller_thunk!(WdfIoQueueGetDevice => wdf_io_queue_get_device);

/// The request behind `request`, checked live; `None` (after a recorded
/// violation) when it was completed already (KMDF Verifier:
/// `VerifyRequestIsNotCompleted`, a break and `STATUS_INTERNAL_ERROR`).
fn request_state(
    session: &Session,
    function: &str,
    request: Handle,
) -> Option<(usize, usize, usize)> {
    let s = session.wdf.lock();
    session
        .wdf
        .check(&s, function, request as usize, Some(Kind::Request));
    let Some(r) = s.request(request as usize) else {
        unreachable!("checked live above")
    };
    if r.completed.is_some() {
        let at = session.describe(r.completed_at);
        drop(s);
        session.violation(
            Rule::ObjectMisuse,
            format!("{function}: WDFREQUEST {request:p} was already completed (at {at})"),
        );
        return None;
    }
    Some((r.buffer, r.input_len, r.output_len))
}

/// `WdfRequestRetrieveInputBuffer` (shared/core/fxrequestapi.cpp,
/// `FxRequest::GetMemoryObject`): an input length of 0 is
/// `STATUS_BUFFER_TOO_SMALL`; a buffer shorter than `RequiredLength` too.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfRequestRetrieveInputBuffer` says: `Buffer` is writable (NULL
/// stops the run), `Length` NULL or writable.
unsafe extern "win64" fn wdf_request_retrieve_input_buffer(
    _g: *mut abi::DriverGlobals,
    request: Handle,
    required: usize,
    buffer: *mut usize,
    length: *mut usize,
) -> i32 {
    // SAFETY: this function's contract is `retrieve`'s.
    unsafe { retrieve(request, required, buffer, length, false) }
}
caller_thunk!(WdfRequestRetrieveInputBuffer => wdf_request_retrieve_input_buffer);

/// `WdfRequestRetrieveOutputBuffer` (fxrequestapi.cpp,
/// `FxRequest::GetDeviceControlOutputMemoryObject`): the output length of
/// a device control, 0 is `STATUS_BUFFER_TOO_SMALL`.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfRequestRetrieveOutputBuffer` says: `Buffer` is writable (NULL
/// stops the run), `Length` NULL or writable.
unsafe extern "win64" fn wdf_request_retrieve_output_buffer(
    _g: *mut abi::DriverGlobals,
    request: Handle,
    required: usize,
    buffer: *mut usize,
    length: *mut usize,
) -> i32 {
    // SAFETY: this function's contract is `retrieve`'s.
    unsafe { retrieve(request, required, buffer, length, true) }
}
caller_thunk!(WdfRequestRetrieveOutputBuffer => wdf_request_retrieve_output_buffer);

/// The buffer of a request, as both retrieval functions give it.
///
/// # Safety
///
/// `buffer` is NULL (which stops the run) or writable; `length` is NULL or
/// writable.
unsafe fn retrieve(
    request: Handle,
    required: usize,
    buffer: *mut usize,
    length: *mut usize,
    output: bool,
) -> i32 {
    let session = context::session();
    let f = if output {
        "WdfRequestRetrieveOutputBuffer"
    } else {
        "WdfRequestRetrieveInputBuffer"
    };
    not_null(f, "Buffer", buffer);
    // SAFETY: `Buffer` non-NULL (checked) and `Length` NULL or writable
    // (the contract).
    unsafe {
        *buffer = 0;
        if !length.is_null() {
            *length = 0;
        }
    }
    let Some((system_buffer, input_len, output_len)) = request_state(&session, f, request) else {
        return status::INTERNAL_ERROR;
    };
    let len = if output { output_len } else { input_len };
    if len == 0 || len < required {
        return status::BUFFER_TOO_SMALL;
    }
    // SAFETY: as above.
    unsafe {
        *buffer = system_buffer;
        if !length.is_null() {
            *length = len;
        }
    }
    status::SUCCESS
}

/// Completion, modelled on `FxRequest::VerifyCompleteInternal` and
/// `FxRequest::CompleteInternal` (shared/core/fxrequest.cpp).
fn complete(request: Handle, completion_status: i32, information: Option<usize>, function: &str) {
    let session = context::session();
    if let Err(s) = check_irql(&session, function, DISPATCH) {
        let _ = s;
    }
    let caller = context::caller();
    let mut s = session.wdf.lock();
    match Framework::lookup(&s, request as usize) {
        super::Lookup::Live => {}
        super::Lookup::Deleted(Kind::Request) => {
            drop(s);
            session.violation(Rule::DoubleCompletion, format!("{function}: WDFREQUEST {request:p} completed again after it was completed and freed"));
            return;
        }
        _ => {
            drop(s);
            session.wdf.check(
                &session.wdf.lock(),
                function,
                request as usize,
                Some(Kind::Request),
            );
            return;
        }
    }
    session
        .wdf
        .check(&s, function, request as usize, Some(Kind::Request));
    let Some(r) = s.request_mut(request as usize) else {
        unreachable!("checked live above")
    };
    if let Some((first, _)) = r.completed {
        let at = r.completed_at;
        drop(s);
        session.violation(
            Rule::DoubleCompletion,
            format!(
                "{function}(0x{:08X}): WDFREQUEST {request:p} was already completed with 0x{:08X} at {} (KMDF Verifier: VerifyRequestIsNotCompleted)",
                completion_status as u32,
                first as u32,
                session.describe(at)
            ),
        );
        return;
    }
    let info = information.unwrap_or(r.information);
    r.completed = Some((completion_status, info));
    r.completed_at = caller;
    let output_len = r.output_len;
    let abandoned = r.abandoned;
    drop(s);
    if abi::nt_success(completion_status) && output_len > 0 && info > output_len {
        session.violation(
            Rule::InformationTooLong,
            format!(
                "{function}: Information {info} is greater than the output buffer length {output_len} \
                 (KMDF Verifier: WDF_VIOLATION, WDF_REQUEST_FATAL_ERROR_INFORMATION_LENGTH_MISMATCH)"
            ),
        );
    } else if (completion_status as u32) >> 30 != 3 && output_len == 0 && info > 0 {
        session.violation(
            Rule::InformationTooLong,
            format!("{function}: Information {info} with no output buffer: the I/O manager would copy {info} bytes into a 0-byte user buffer"),
        );
    }
    if abandoned {
        // Nobody waits for it any more: release it here.
        session.wdf.finish_request(&session, request as usize);
    }
    session.wdf.changed.notify_all();
}

/// `WdfRequestComplete`.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfRequestComplete` says: any handle (looked up, never
/// dereferenced); the driver must not touch the request's buffers after
/// the call.
unsafe extern "win64" fn wdf_request_complete(
    _g: *mut abi::DriverGlobals,
    request: Handle,
    completion_status: i32,
) {
    complete(request, completion_status, None, "WdfRequestComplete");
}
caller_thunk!(WdfRequestComplete => wdf_request_complete);

/// `WdfRequestCompleteWithInformation`.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfRequestCompleteWithInformation` says: any handle (looked up,
/// never dereferenced); the driver must not touch the request's buffers
/// after the call.
unsafe extern "win64" fn wdf_request_complete_with_information(
    _g: *mut abi::DriverGlobals,
    request: Handle,
    completion_status: i32,
    information: usize,
) {
    complete(
        request,
        completion_status,
        Some(information),
        "WdfRequestCompleteWithInformation",
    );
}
caller_thunk!(WdfRequestCompleteWithInformation => wdf_request_complete_with_information);

/// `WdfRequestSetInformation` (fxrequestapi.cpp).
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfRequestSetInformation` says: any handle (looked up, never
/// dereferenced).
unsafe extern "win64" fn wdf_request_set_information(
    _g: *mut abi::DriverGlobals,
    request: Handle,
    information: usize,
) {
    let session = context::session();
    if request_state(&session, "WdfRequestSetInformation", request).is_none() {
        return;
    }
    let mut s = session.wdf.lock();
    if let Some(r) = s.request_mut(request as usize) {
        r.information = information;
    }
}
caller_thunk!(WdfRequestSetInformation => wdf_request_set_information);

/// `WdfRequestGetInformation` (fxrequestapi.cpp).
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfRequestGetInformation` says: any handle (looked up, never
/// dereferenced).
unsafe extern "win64" fn wdf_request_get_information(
    _g: *mut abi::DriverGlobals,
    request: Handle,
) -> usize {
    let session = context::session();
    let s = session.wdf.lock();
    session.wdf.check(
        &s,
        "WdfRequestGetInformation",
        request as usize,
        Some(Kind::Request),
    );
    match &s.objects[&(request as usize)].data {
        Data::Request(r) => r.information,
        _ => 0,
    }
}
caller_thunk!(WdfRequestGetInformation => wdf_request_get_information);

/// `WdfWorkItemCreate`, modelled on shared/core/fxworkitemapi.cpp and
/// `FxWorkItem::Initialize` (fxworkitem.cpp): a parent is required and
/// must belong to a device; the `IO_WORKITEM` is a second allocation.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfWorkItemCreate` says: `Config` is a readable configuration of
/// at least its `Size` naming an `EvtWorkItem` with KMDF's signature,
/// `Attributes` NULL or valid attributes, `WorkItem` writable (NULL
/// pointers stop the run).
unsafe extern "win64" fn wdf_work_item_create(
    _g: *mut abi::DriverGlobals,
    config: *const WorkItemConfig,
    attributes: *const ObjectAttributes,
    item_out: *mut Handle,
) -> i32 {
    let session = context::session();
    const F: &str = "WdfWorkItemCreate";
    // FxValidateObjectAttributesForParentHandle(PARENT_REQUIRED).
    if attributes.is_null() {
        return status::WDF_PARENT_NOT_SPECIFIED;
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
        return status::WDF_PARENT_NOT_SPECIFIED;
    }
    session.wdf.check(&session.wdf.lock(), F, parent, None);
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
        return status::INVALID_PARAMETER;
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
    });
    let h = match session.wdf.create_object(
        &session,
        Kind::WorkItem,
        attrs.as_ref(),
        Some(parent),
        data,
    ) {
        Ok(h) => h,
        Err(s) => return s,
    };
    if Framework::device_of(&session.wdf.lock(), parent).is_none() {
        session.wdf.delete_from_failed_create(&session, h);
        return status::INVALID_DEVICE_REQUEST;
    }
    // IoAllocateWorkItem.
    let tag = session.wdf.lock().tag;
    let io = session.pool.allocate(super::super::kernel::pool::Request {
        size: 32,
        tag,
        kind: crate::report::PoolKind::NonPagedNx,
        origin: crate::report::Origin::Framework,
        zeroed: true,
        alignment: 16,
        caller: context::caller(),
        what: Some("IO_WORKITEM of a WDFWORKITEM"),
    });
    let Ok(io) = io else {
        session.wdf.delete_from_failed_create(&session, h);
        return status::INSUFFICIENT_RESOURCES;
    };
    if let Some(w) = session.wdf.lock().work_item_mut(h) {
        w.io_work_item = io as usize;
    }
    // SAFETY: non-NULL (checked), so writable (the contract).
    unsafe { *item_out = h as Handle };
    status::SUCCESS
}
caller_thunk!(WdfWorkItemCreate => wdf_work_item_create);

/// `WdfWorkItemEnqueue` (`FxWorkItem::Enqueue`): a pending item is not
/// queued twice; the callback runs on a system worker thread at
/// PASSIVE_LEVEL.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfWorkItemEnqueue` says: any handle (looked up, never
/// dereferenced).
unsafe extern "win64" fn wdf_work_item_enqueue(_g: *mut abi::DriverGlobals, item: Handle) {
    let session = context::session();
    const F: &str = "WdfWorkItemEnqueue";
    let h = item as usize;
    let func = {
        let mut s = session.wdf.lock();
        session.wdf.check(&s, F, h, Some(Kind::WorkItem));
        let Some(w) = s.work_item_mut(h) else {
            unreachable!()
        };
        if w.enqueued {
            return;
        }
        if w.rundown {
            drop(s);
            session.violation(
                Rule::ObjectMisuse,
                format!("{F}: WDFWORKITEM {item:p} is being deleted"),
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
        Ok(j) => session.wdf.add_worker(j),
        Err(e) => stop(
            Rule::Hang,
            format!("{F}: cannot start a worker thread: {e}"),
        ),
    }
}
caller_thunk!(WdfWorkItemEnqueue => wdf_work_item_enqueue);

/// `FxWorkItem::WorkItemHandler`: clears the pending state, calls
/// `EvtWorkItem` at PASSIVE_LEVEL, then lets flushes and rundown proceed.
fn run_work_item(session: Arc<Session>, h: usize, func: usize) {
    {
        let mut s = session.wdf.lock();
        let Some(w) = s.work_item_mut(h) else {
            return;
        };
        w.enqueued = false;
        w.running = Some(std::thread::current().id());
    }
    // SAFETY: a function pointer type; `WdfWorkItemCreate` refused a NULL
    // `EvtWorkItemFunc`.
    let f: unsafe extern "win64" fn(usize) = unsafe { fn_ptr(func) };
    let callback = Callback {
        what: "EvtWorkItem",
        address: func,
    };
    // SAFETY: the EvtWorkItem the driver registered for this work item
    // (KMDF's signature, by `Host::load`'s contract), with its live handle.
    call_driver(&session, PASSIVE, callback, || unsafe { f(h) });
    {
        let mut s = session.wdf.lock();
        if let Some(w) = s.work_item_mut(h) {
            w.running = None;
        }
    }
    session.wdf.changed.notify_all();
}

/// `WdfWorkItemGetParentObject` (fxworkitemapi.cpp).
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfWorkItemGetParentObject` says: any handle (looked up, never
/// dereferenced).
unsafe extern "win64" fn wdf_work_item_get_parent_object(
    _g: *mut abi::DriverGlobals,
    item: Handle,
) -> Handle {
    let session = context::session();
    let s = session.wdf.lock();
    session.wdf.check(
        &s,
        "WdfWorkItemGetParentObject",
        item as usize,
        Some(Kind::WorkItem),
    );
    s.objects[&(item as usize)].parent.unwrap_or(0) as Handle
}
caller_thunk!(WdfWorkItemGetParentObject => wdf_work_item_get_parent_object);

/// `WdfWorkItemFlush` (`FxWorkItem::FlushAndWait`): PASSIVE_LEVEL; waits
/// for a pending or running callback; from the callback itself it would
/// wait forever.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfWorkItemFlush` says: any handle (looked up, never
/// dereferenced).
unsafe extern "win64" fn wdf_work_item_flush(_g: *mut abi::DriverGlobals, item: Handle) {
    let session = context::session();
    const F: &str = "WdfWorkItemFlush";
    let h = item as usize;
    session
        .wdf
        .check(&session.wdf.lock(), F, h, Some(Kind::WorkItem));
    if check_irql(&session, F, PASSIVE).is_err() {
        return;
    }
    let me = std::thread::current().id();
    let deadline = Instant::now() + session.options.hang_timeout;
    let mut s = session.wdf.lock();
    loop {
        let Some(w) = s.work_item(h) else {
            return;
        };
        if w.running == Some(me) {
            drop(s);
            stop(
                Rule::Hang,
                format!("{F} from the work item's own callback waits for itself"),
            );
        }
        if !w.enqueued && w.running.is_none() {
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            drop(s);
            stop(Rule::Hang, format!("{F}: the work item did not finish"));
        }
        s = session
            .wdf
            .changed
            .wait_timeout(s, (deadline - now).min(Duration::from_secs(1)))
            .unwrap()
            .0;
    }
}
caller_thunk!(WdfWorkItemFlush => wdf_work_item_flush);

/// Every implemented table entry.
pub(crate) static IMPLEMENTED: &[(&str, unsafe extern "win64" fn())] = &[
    ("WdfDriverCreate", WdfDriverCreate),
    ("WdfDeviceInitSetDeviceType", WdfDeviceInitSetDeviceType),
    (
        "WdfDeviceInitSetCharacteristics",
        WdfDeviceInitSetCharacteristics,
    ),
    ("WdfDeviceInitSetIoType", WdfDeviceInitSetIoType),
    (
        "WdfDeviceInitAssignSDDLString",
        WdfDeviceInitAssignSDDLString,
    ),
    ("WdfDeviceInitAssignName", WdfDeviceInitAssignName),
    ("WdfDeviceCreate", WdfDeviceCreate),
    (
        "WdfDeviceCreateDeviceInterface",
        WdfDeviceCreateDeviceInterface,
    ),
    (
        "WdfObjectGetTypedContextWorker",
        WdfObjectGetTypedContextWorker,
    ),
    ("WdfObjectDelete", WdfObjectDelete),
    ("WdfIoQueueCreate", WdfIoQueueCreate),
    ("WdfIoQueueGetDevice", WdfIoQueueGetDevice),
    (
        "WdfRequestRetrieveInputBuffer",
        WdfRequestRetrieveInputBuffer,
    ),
    (
        "WdfRequestRetrieveOutputBuffer",
        WdfRequestRetrieveOutputBuffer,
    ),
    ("WdfRequestComplete", WdfRequestComplete),
    (
        "WdfRequestCompleteWithInformation",
        WdfRequestCompleteWithInformation,
    ),
    ("WdfRequestSetInformation", WdfRequestSetInformation),
    ("WdfRequestGetInformation", WdfRequestGetInformation),
    ("WdfWorkItemCreate", WdfWorkItemCreate),
    ("WdfWorkItemEnqueue", WdfWorkItemEnqueue),
    ("WdfWorkItemGetParentObject", WdfWorkItemGetParentObject),
    ("WdfWorkItemFlush", WdfWorkItemFlush),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_tags_derive_from_the_service_name() {
        assert_eq!(tag_from_name("kcom_sample"), u32::from_le_bytes(*b"kcom"));
        assert_eq!(tag_from_name("WdfFixture"), u32::from_le_bytes(*b"Fixt"));
        assert_eq!(tag_from_name("ab"), u32::from_le_bytes(*b"FxDr"));
        assert_eq!(
            tag_from_name("abc"),
            u32::from_le_bytes([b'a', b'b', b'c', 0])
        );
    }
}
