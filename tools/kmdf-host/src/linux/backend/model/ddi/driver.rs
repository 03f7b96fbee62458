//! `WdfDriverCreate` (shared/core/fxdriverapi.cpp), with what it runs of
//! `FxDriver`: `_InitializeDriverName`, `_InitializeTag` (fxdriver.cpp)
//! and `Initialize` (fxdriver.cpp: the registry path copy, the dispatch
//! routines the framework takes over).

use super::super::{Data, DriverData, Kind, call_driver};
use super::{
    TOP_LEVEL, check_irql, not_null, refuse, validate_attributes, validate_unicode_string,
    wrong_size,
};
use crate::linux::abi::irql::PASSIVE;
use crate::linux::abi::{
    self, DriverConfig, Handle, ObjectAttributes, UnicodeString, driver_init_flags, status,
};
use crate::linux::abi::{DriverObject, fn_ptr};
use crate::linux::cpu::thread::Callback;
use crate::linux::cpu::thread::caller_thunk;
use crate::linux::kernel::session::Session;
use crate::linux::kernel::stop::stop;
use crate::options::tag_text;
use crate::report::{PoolKind, Rule};

/// `WDF_DRIVER_GLOBALS_NAME_LEN`.
const NAME_LEN: usize = 32;

/// `FX_TAG`: KMDF's own tag, for a driver whose name gives none.
const FX_TAG: u32 = u32::from_le_bytes(*b"FxDr");

/// `' kdD'`: the DDK's default tag, which KMDF does not take as the
/// driver's.
const DDK_TAG: u32 = u32::from_le_bytes(*b"Ddk ");

/// Checks that `globals` are the ones this framework handed out.
fn check_globals(session: &Session, function: &str, globals: *mut abi::DriverGlobals) {
    if globals != session.wdf().globals {
        stop(
            Rule::WdfViolation,
            format!(
                "{function}: the WDF_DRIVER_GLOBALS pointer {globals:p} is not the one WdfVersionBind returned"
            ),
        );
    }
}

/// `FxDriver::_InitializeDriverName`: the registry path's last component,
/// each UTF-16 unit cut to a byte, at most 31 of them; "WDF" when the path
/// has no backslash after its first character.
fn driver_name(path: &[u16]) -> Vec<u8> {
    match path.iter().rposition(|&c| c == u16::from(b'\\')) {
        Some(i) if i > 0 => path[i + 1..]
            .iter()
            .take(NAME_LEN - 1)
            .map(|&c| c as u8)
            .collect(),
        _ => b"WDF".to_vec(),
    }
}

/// `FxDriver::_InitializeTag`: the first four characters of the driver's
/// name, after a leading "WDF" (any case); `FX_TAG` when two or fewer are
/// left (then the public `DriverTag` stays 0).
fn tag_from_name(name: &[u8]) -> (u32, u32) {
    let rest = if name.len() >= 3 && name[..3].eq_ignore_ascii_case(b"wdf") {
        &name[3..]
    } else {
        name
    };
    if rest.len() <= 2 {
        return (FX_TAG, 0);
    }
    let mut tag = [0u8; 4];
    let n = rest.len().min(4);
    tag[..n].copy_from_slice(&rest[..n]);
    let tag = u32::from_le_bytes(tag);
    (tag, tag)
}

/// `WdfDriverCreate`.
///
/// # Safety
///
/// Called through the KMDF function table by driver code, as the KMDF
/// contract for `WdfDriverCreate` says: `DriverObject` is the I/O manager's
/// driver object, `RegistryPath` a valid `UNICODE_STRING`,
/// `DriverAttributes` NULL or valid attributes, `DriverConfig` a readable
/// configuration of at least its `Size`, `Driver` NULL or writable (NULL
/// required pointers stop the run); the callbacks it names are functions
/// with KMDF's signatures.
unsafe extern "win64" fn wdf_driver_create(
    globals: *mut abi::DriverGlobals,
    driver_object: *mut abi::DriverObject,
    registry_path: *const UnicodeString,
    attributes: *const ObjectAttributes,
    config: *const DriverConfig,
    driver_out: *mut Handle,
) -> i32 {
    let session = Session::current();
    const F: &str = wdf_name!(WdfDriverCreate);
    check_globals(&session, F, globals);
    not_null(F, "DriverObject", driver_object);
    not_null(F, "RegistryPath", registry_path);
    not_null(F, "DriverConfig", config);
    // SAFETY: non-NULL (checked), so a readable WDF_DRIVER_CONFIG (this
    // function's contract); `Size` is its first field.
    let size = unsafe { (*config).size };
    // WDF_DRIVER_CONFIG_V1_0 and V1_1 have the current size too.
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
        return refuse(
            &session,
            F,
            status::INVALID_PARAMETER,
            format_args!(
                "DriverInitFlags {:#x} invalid, valid flags are {valid:#x}",
                c.driver_init_flags
            ),
        );
    }
    if let Err(s) = check_irql(&session, F, PASSIVE) {
        return s;
    }
    // SAFETY: non-NULL (checked): the I/O manager's registry path, passed
    // on by the driver (the contract).
    if let Err(s) = unsafe { validate_unicode_string(&session, F, registry_path) } {
        return s;
    }
    if session.wdf().lock().driver.is_some() {
        return refuse(
            &session,
            F,
            status::DRIVER_INTERNAL_ERROR,
            "WdfDriverCreate can only be called one time per DRIVER_OBJECT",
        );
    }
    if !driver_out.is_null() {
        // SAFETY: a non-NULL `Driver` is writable (the contract).
        unsafe { *driver_out = std::ptr::null_mut() };
    }
    // SAFETY: the registry path, validated above: `Length` bytes at
    // `Buffer`.
    let path: Vec<u16> = unsafe {
        let r = &*registry_path;
        if r.buffer.is_null() {
            Vec::new()
        } else {
            std::slice::from_raw_parts(r.buffer, usize::from(r.length) / 2).to_vec()
        }
    };
    let name = driver_name(&path);
    let (tag, public_tag) = if c.driver_pool_tag != 0 && c.driver_pool_tag != DDK_TAG {
        (c.driver_pool_tag, c.driver_pool_tag)
    } else {
        tag_from_name(&name)
    };
    session.wdf().lock().tag = tag;
    let no_override = c.driver_init_flags & driver_init_flags::NO_DISPATCH_OVERRIDE != 0;
    let non_pnp = c.driver_init_flags & driver_init_flags::NON_PNP != 0;
    if !no_override && non_pnp && c.evt_driver_device_add != 0 {
        return refuse(
            &session,
            F,
            status::INVALID_PARAMETER,
            "a non-PnP driver (WdfDriverInitNonPnpDriver) with an EvtDriverDeviceAdd",
        );
    }
    // SAFETY: NULL or the driver's attributes (the contract).
    let attrs = match unsafe { validate_attributes(&session, F, attributes, TOP_LEVEL) } {
        Ok(a) => a,
        Err(s) => return s,
    };
    let h = match session.wdf().create_object(
        &session,
        Kind::Driver,
        attrs.as_ref(),
        None,
        Data::Driver(DriverData::default()),
    ) {
        Ok(h) => h,
        Err(s) => return refuse(&session, F, s, "the FxDriver object could not be allocated"),
    };
    // FxDriver::Initialize: the registry path, copied to paged pool.
    let copy = session.wdf().allocate(
        &session,
        path.len() * 2 + 2,
        PoolKind::Paged,
        "FxDriver registry path",
    );
    let Ok(copy) = copy else {
        session.wdf().delete_from_failed_create(&session, h);
        return refuse(
            &session,
            F,
            status::INSUFFICIENT_RESOURCES,
            "the registry path could not be copied",
        );
    };
    {
        let mut s = session.wdf().lock();
        s.driver = Some(h);
        // m_DriverDeviceAdd and m_DriverUnload are taken only when the
        // framework owns the dispatch routines.
        s.config = (!no_override).then_some(c);
        s.driver_name = String::from_utf8_lossy(&name).into_owned();
        let o = s.objects.get_mut(&h).expect("just created");
        o.no_delete_ddi = true;
        if let Data::Driver(d) = &mut o.data {
            d.registry_path_block = copy;
        }
    }
    // SAFETY: the framework's own WDF_DRIVER_GLOBALS block (live as long
    // as the framework); the driver only reads it, and not before this
    // call returns.
    unsafe {
        let g = &mut *session.wdf().globals;
        g.driver = h as Handle;
        g.driver_tag = public_tag;
        g.driver_flags |= c.driver_init_flags;
        g.driver_name = [0; NAME_LEN];
        g.driver_name[..name.len()].copy_from_slice(&name);
        // The stub displaces DriverUnload unless the framework leaves the
        // dispatch routines alone and there is no EvtDriverUnload.
        g.displace_driver_unload = u8::from(
            c.driver_init_flags
                & (driver_init_flags::NO_DISPATCH_OVERRIDE | driver_init_flags::NON_PNP)
                == 0
                || c.evt_driver_unload != 0,
        );
    }
    if !no_override {
        // SAFETY: `DriverObject` is the I/O manager's DRIVER_OBJECT (the
        // contract; non-NULL, checked), whose extension pointer is NULL or
        // its DRIVER_EXTENSION.
        unsafe {
            let d = &mut *driver_object;
            let (add_device, unload) = if non_pnp {
                // An NT4-style driver: no AddDevice; unload only if asked.
                (
                    0,
                    if c.evt_driver_unload != 0 {
                        fx_unload_address()
                    } else {
                        0
                    },
                )
            } else {
                (fx_add_device_address(), fx_unload_address())
            };
            if !d.driver_extension.is_null() {
                (*d.driver_extension).add_device = add_device;
            }
            d.driver_unload = unload;
        }
    }
    session.trace(format_args!(
        "WdfDriverCreate: WDFDRIVER {h:#x}, tag '{}', EvtDriverDeviceAdd {}",
        tag_text(tag),
        session.describe(c.evt_driver_device_add)
    ));
    if !driver_out.is_null() {
        // SAFETY: a non-NULL `Driver` is writable (the contract).
        unsafe { *driver_out = h as Handle };
    }
    status::SUCCESS
}
caller_thunk!(WdfDriverCreate => wdf_driver_create);

/// The framework's AddDevice (`FxDriver::AddDevice`): a `WDFDEVICE_INIT`,
/// `EvtDriverDeviceAdd` at PASSIVE_LEVEL; on failure the device it created
/// is deleted (with its callbacks); on success the device starts.
///
/// # Safety
///
/// Called as the driver object's `AddDevice` routine (by `Host::add_device`,
/// or by driver code forwarding to it) on a thread entered into the
/// session. The arguments are not used; the `EvtDriverDeviceAdd` the driver
/// registered is called (KMDF's signature, by `Host::load`'s contract).
unsafe extern "win64" fn fx_add_device(_driver_object: *mut DriverObject, _pdo: *mut u8) -> i32 {
    let session = Session::current();
    let fw = &session.wdf();
    let (driver, evt) = {
        let s = fw.lock();
        (
            s.driver,
            s.config.map(|c| c.evt_driver_device_add).unwrap_or(0),
        )
    };
    let Some(driver) = driver else {
        return status::INVALID_DEVICE_STATE;
    };
    if evt == 0 {
        return status::INVALID_DEVICE_REQUEST;
    }
    let init = {
        let mut s = fw.lock();
        let h = fw.new_handle(&mut s);
        s.inits
            .insert(h, crate::linux::backend::model::DeviceInitData::default());
        h
    };
    let before: Vec<usize> = fw.lock().devices.clone();
    // SAFETY: a function pointer type; non-zero (checked above).
    let f: unsafe extern "win64" fn(usize, usize) -> i32 = unsafe { fn_ptr(evt) };
    let callback = Callback {
        what: "EvtDriverDeviceAdd",
        address: evt,
    };
    // SAFETY: the driver's EvtDriverDeviceAdd (KMDF's signature by
    // `Host::load`'s contract) with its WDFDRIVER and a fresh
    // WDFDEVICE_INIT.
    let status = call_driver(&session, PASSIVE, callback, || unsafe { f(driver, init) });
    fw.lock().inits.remove(&init);
    let created: Vec<usize> = fw
        .lock()
        .devices
        .iter()
        .copied()
        .filter(|d| !before.contains(d))
        .collect();
    session.trace(format_args!(
        "EvtDriverDeviceAdd returned 0x{:08X}",
        status as u32
    ));
    if !abi::nt_success(status) {
        for d in created {
            fw.lock().devices.retain(|x| *x != d);
            fw.delete(&session, d);
        }
        return status;
    }
    let mut s = fw.lock();
    for d in created {
        if let Some(dev) = s.device_mut(d) {
            dev.started = true;
        }
    }
    status::SUCCESS
}
caller_thunk!(FxAddDevice => fx_add_device);

/// The framework's unload routine (`FxDriver::Unload`): `EvtDriverUnload`,
/// then the WDFDRIVER is deleted.
///
/// # Safety
///
/// Called as the driver object's unload routine, once, on a thread entered
/// into the session. The argument is not used; the `EvtDriverUnload` the
/// driver registered is called (KMDF's signature, by `Host::load`'s
/// contract).
unsafe extern "win64" fn fx_unload(_driver_object: *mut DriverObject) {
    let session = Session::current();
    let fw = &session.wdf();
    let (driver, unload) = {
        let s = fw.lock();
        (s.driver, s.config.map(|c| c.evt_driver_unload).unwrap_or(0))
    };
    let Some(driver) = driver else { return };
    if unload != 0 {
        // SAFETY: a function pointer type; non-zero (checked).
        let f: unsafe extern "win64" fn(usize) = unsafe { fn_ptr(unload) };
        let callback = Callback {
            what: "EvtDriverUnload",
            address: unload,
        };
        // SAFETY: the driver's EvtDriverUnload (KMDF's signature by
        // `Host::load`'s contract) with its live WDFDRIVER.
        call_driver(&session, PASSIVE, callback, || unsafe { f(driver) });
    }
    fw.delete(&session, driver);
    fw.lock().driver = None;
}
caller_thunk!(FxUnload => fx_unload);

pub(crate) fn fx_add_device_address() -> usize {
    FxAddDevice as *const () as usize
}

pub(crate) fn fx_unload_address() -> usize {
    FxUnload as *const () as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn the_driver_name_is_the_registry_path_s_last_component() {
        let service = "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\kcom_sample";
        assert_eq!(driver_name(&path(service)), b"kcom_sample");
        assert_eq!(driver_name(&path("NoBackslash")), b"WDF");
        assert_eq!(driver_name(&path("\\OnlyAtTheStart")), b"WDF");
        assert_eq!(driver_name(&path("\\A\\")), b"");
        let long = format!("\\S\\{}", "n".repeat(40));
        assert_eq!(driver_name(&path(&long)).len(), 31);
    }

    #[test]
    fn driver_tags_derive_from_the_name() {
        let tag = |t: &[u8; 4]| u32::from_le_bytes(*t);
        assert_eq!(tag_from_name(b"kcom_sample"), (tag(b"kcom"), tag(b"kcom")));
        assert_eq!(tag_from_name(b"WdfFixture"), (tag(b"Fixt"), tag(b"Fixt")));
        assert_eq!(tag_from_name(b"ab"), (FX_TAG, 0));
        assert_eq!(tag_from_name(b"wdfab"), (FX_TAG, 0));
        assert_eq!(
            tag_from_name(b"abc"),
            (
                u32::from_le_bytes([b'a', b'b', b'c', 0]),
                u32::from_le_bytes([b'a', b'b', b'c', 0])
            )
        );
    }
}
