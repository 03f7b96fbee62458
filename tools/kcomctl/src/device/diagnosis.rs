//! What the device backend says when Windows refuses it: from the device
//! nodes the configuration manager reports and the access rights of the
//! open handle, one line that names the cause and what to run.
//!
//! Every fact comes from where it is kept: the hardware ID and the INF's
//! name from `driver/kcom_sample.inx` (read by the build script), the
//! `CM_PROB_*`, `DN_*`, access-right and Win32 values from `windows-sys`,
//! the IOCTL's required access from its `CTL_CODE`.

use std::fmt::Write as _;

use kcom::{NTSTATUS, STATUS_ACCESS_DENIED};
use kcom_sample_core::protocol::{
    FILE_READ_DATA as CTL_READ, FILE_WRITE_DATA as CTL_WRITE, GUID_DEVINTERFACE_KCOM_SAMPLE,
    ioctl_access,
};
use windows_sys::Win32::Devices::DeviceAndDriverInstallation::*;
use windows_sys::Win32::Foundation::{GENERIC_ALL, GENERIC_EXECUTE, GENERIC_READ, GENERIC_WRITE};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_ALL_ACCESS, FILE_GENERIC_EXECUTE, FILE_GENERIC_READ, FILE_GENERIC_WRITE, FILE_READ_DATA,
    FILE_WRITE_DATA,
};

use crate::transport::Status;

/// The hardware ID the INF installs the root-enumerated device under.
pub const HARDWARE_ID: &str = env!("KCOM_HARDWARE_ID");

/// The file name of the driver package's INF.
pub const INF_NAME: &str = env!("KCOM_INF_NAME");

/// The command that installs the device, run in the driver package folder.
pub fn install_command() -> String {
    format!("devcon install {INF_NAME} {HARDWARE_ID}")
}

/// The command that shows the device's state.
pub fn status_command() -> String {
    format!("devcon status {HARDWARE_ID}")
}

/// Names the values of `windows-sys` constants by their identifiers.
macro_rules! named {
    ($($name:ident),* $(,)?) => { &[$(($name, stringify!($name))),*] };
}

/// Every device manager problem code `windows-sys` defines, with its name.
const PROBLEMS: &[(CM_PROB, &str)] = named![
    CM_PROB_NOT_CONFIGURED,
    CM_PROB_DEVLOADER_FAILED,
    CM_PROB_OUT_OF_MEMORY,
    CM_PROB_ENTRY_IS_WRONG_TYPE,
    CM_PROB_LACKED_ARBITRATOR,
    CM_PROB_BOOT_CONFIG_CONFLICT,
    CM_PROB_FAILED_FILTER,
    CM_PROB_DEVLOADER_NOT_FOUND,
    CM_PROB_INVALID_DATA,
    CM_PROB_FAILED_START,
    CM_PROB_LIAR,
    CM_PROB_NORMAL_CONFLICT,
    CM_PROB_NOT_VERIFIED,
    CM_PROB_NEED_RESTART,
    CM_PROB_REENUMERATION,
    CM_PROB_PARTIAL_LOG_CONF,
    CM_PROB_UNKNOWN_RESOURCE,
    CM_PROB_REINSTALL,
    CM_PROB_REGISTRY,
    CM_PROB_VXDLDR,
    CM_PROB_WILL_BE_REMOVED,
    CM_PROB_DISABLED,
    CM_PROB_DEVLOADER_NOT_READY,
    CM_PROB_DEVICE_NOT_THERE,
    CM_PROB_MOVED,
    CM_PROB_TOO_EARLY,
    CM_PROB_NO_VALID_LOG_CONF,
    CM_PROB_FAILED_INSTALL,
    CM_PROB_HARDWARE_DISABLED,
    CM_PROB_CANT_SHARE_IRQ,
    CM_PROB_FAILED_ADD,
    CM_PROB_DISABLED_SERVICE,
    CM_PROB_TRANSLATION_FAILED,
    CM_PROB_NO_SOFTCONFIG,
    CM_PROB_BIOS_TABLE,
    CM_PROB_IRQ_TRANSLATION_FAILED,
    CM_PROB_FAILED_DRIVER_ENTRY,
    CM_PROB_DRIVER_FAILED_PRIOR_UNLOAD,
    CM_PROB_DRIVER_FAILED_LOAD,
    CM_PROB_DRIVER_SERVICE_KEY_INVALID,
    CM_PROB_LEGACY_SERVICE_NO_DEVICES,
    CM_PROB_DUPLICATE_DEVICE,
    CM_PROB_FAILED_POST_START,
    CM_PROB_HALTED,
    CM_PROB_PHANTOM,
    CM_PROB_SYSTEM_SHUTDOWN,
    CM_PROB_HELD_FOR_EJECT,
    CM_PROB_DRIVER_BLOCKED,
    CM_PROB_REGISTRY_TOO_LARGE,
    CM_PROB_SETPROPERTIES_FAILED,
    CM_PROB_WAITING_ON_DEPENDENCY,
    CM_PROB_UNSIGNED_DRIVER,
    CM_PROB_USED_BY_DEBUGGER,
    CM_PROB_DEVICE_RESET,
    CM_PROB_CONSOLE_LOCKED,
    CM_PROB_NEED_CLASS_CONFIG,
    CM_PROB_GUEST_ASSIGNMENT_FAILED,
];

/// The `CM_PROB_*` name of a device manager problem code.
pub fn problem_name(code: u32) -> Option<&'static str> {
    PROBLEMS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// A problem code as `CM_PROB_FAILED_START (10)`.
fn problem_text(code: u32) -> String {
    match problem_name(code) {
        Some(name) => format!("{name} ({code})"),
        None => format!("code {code}"),
    }
}

/// A device node with the INF's hardware ID, as the configuration manager
/// reports it (`CM_Get_DevNode_Status`, `DEVPKEY_Device_ProblemStatus`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevNode {
    /// Its device instance ID (`ROOT\SOFTWAREDEVICE\0000`).
    pub instance_id: String,
    /// Its `DN_*` status flags.
    pub status: CM_DEVNODE_STATUS_FLAGS,
    /// Its `CM_PROB_*` problem code, 0 for none.
    pub problem: CM_PROB,
    /// The status the start failed with, where Windows recorded one.
    pub problem_status: Option<NTSTATUS>,
}

impl DevNode {
    /// What state the node is in, for a device whose interface is missing.
    fn state(&self) -> String {
        if self.problem != 0 || self.status & DN_HAS_PROBLEM != 0 {
            let mut text = format!(
                "installed but not started, problem {}",
                problem_text(self.problem)
            );
            if let Some(status) = self.problem_status.filter(|&s| s != 0) {
                let _ = write!(text, ", {}", Status(status));
            }
            text
        } else if self.status & DN_STARTED != 0 {
            format!(
                "started, but its driver enabled no interface {{{}}} (another driver bound to it?)",
                GUID_DEVINTERFACE_KCOM_SAMPLE
            )
        } else {
            format!(
                "installed, not started, no problem code (status flags 0x{:08X}: still starting?)",
                self.status
            )
        }
    }
}

/// The message for "no enabled kcom sample device interface", given the
/// device nodes that carry the INF's hardware ID: not installed (with the
/// command that installs it), or each node's state and problem code.
pub fn no_interface(nodes: &[DevNode]) -> String {
    if nodes.is_empty() {
        return format!(
            "driver not installed: no device has hardware ID {HARDWARE_ID}; from an elevated \
             prompt in the driver package folder run `{}` (see tools/vm/), or use --loopback",
            install_command()
        );
    }
    let mut text = String::from("no enabled kcom sample device interface:");
    for (i, node) in nodes.iter().enumerate() {
        let sep = if i == 0 { " " } else { "; " };
        let _ = write!(text, "{sep}device {} {}", node.instance_id, node.state());
    }
    let _ = write!(text, "; see `{}`", status_command());
    text
}

/// The message for "no interface, and the device nodes could not be read".
pub fn no_interface_unknown(lookup_error: &str) -> String {
    format!(
        "no enabled kcom sample device interface, and looking up the device nodes with \
         hardware ID {HARDWARE_ID} failed ({lookup_error}); see `{}`",
        status_command()
    )
}

/// Names the bits of an access mask from `names`, `|`-separated; `none`
/// when none is set.
fn mask_names(mask: u32, names: &[(u32, &'static str)], none: &'static str) -> String {
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| mask & bit == *bit && *bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if set.is_empty() {
        none.to_owned()
    } else {
        set.join(" | ")
    }
}

const DATA_RIGHTS: &[(u32, &str)] = named![FILE_READ_DATA, FILE_WRITE_DATA];
const GENERIC_RIGHTS: &[(u32, &str)] =
    named![GENERIC_READ, GENERIC_WRITE, GENERIC_EXECUTE, GENERIC_ALL];

/// The file rights a handle requested with `access` is granted when the
/// open succeeds: generic rights mapped as the I/O manager maps them for
/// files, specific rights as they are.
pub fn file_rights(access: u32) -> u32 {
    let mapping = [
        (GENERIC_READ, FILE_GENERIC_READ),
        (GENERIC_WRITE, FILE_GENERIC_WRITE),
        (GENERIC_EXECUTE, FILE_GENERIC_EXECUTE),
        (GENERIC_ALL, FILE_ALL_ACCESS),
    ];
    mapping.iter().fold(access, |rights, &(generic, specific)| {
        if access & generic != 0 {
            (rights & !generic) | specific
        } else {
            rights
        }
    })
}

/// The data rights an IOCTL's `CTL_CODE` access field demands of the
/// handle (`FILE_READ_ACCESS` is `FILE_READ_DATA`, `FILE_WRITE_ACCESS`
/// `FILE_WRITE_DATA`).
pub fn required_rights(code: u32) -> u32 {
    let access = ioctl_access(code);
    let mut rights = 0;
    if access & CTL_READ != 0 {
        rights |= FILE_READ_DATA;
    }
    if access & CTL_WRITE != 0 {
        rights |= FILE_WRITE_DATA;
    }
    rights
}

/// The message for `ERROR_ACCESS_DENIED` from `DeviceIoControl` on a handle
/// that opened: the IOCTL's required rights against the handle's, from the
/// access it was `opened_with` and, where it could be read, the access it
/// was `granted`. The account's rights were checked when it opened, so
/// this is never a run-as-Administrator problem.
pub fn access_denied(code: u32, opened_with: u32, granted: Option<u32>) -> String {
    let required = required_rights(code);
    let has = granted.unwrap_or_else(|| file_rights(opened_with));
    let missing = required & !has;
    let mut handle = format!(
        "opened with {}",
        mask_names(opened_with, GENERIC_RIGHTS, "no generic rights")
    );
    if let Some(granted) = granted {
        let _ = write!(handle, ", granted 0x{granted:08X}");
    }
    let needs = format!(
        "IOCTL 0x{code:08X} requires {}",
        mask_names(required, DATA_RIGHTS, "no access (FILE_ANY_ACCESS)")
    );
    if missing != 0 {
        format!(
            "access denied by the I/O manager: {needs}, and the handle ({handle}) lacks {}; \
             the handle's access is at fault, not the account's",
            mask_names(missing, DATA_RIGHTS, "")
        )
    } else {
        format!(
            "access denied, although the handle ({handle}) has what {needs}: the driver or a \
             filter driver completed the request with {}; running as Administrator does not \
             change that",
            Status(STATUS_ACCESS_DENIED)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcom::STATUS_INSUFFICIENT_RESOURCES;
    use kcom_sample_core::protocol::{
        IOCTL_KCOM_GET_INFO, IOCTL_KCOM_POOL_STATS, IOCTL_KCOM_RUN_EXERCISE,
    };

    #[test]
    fn the_hardware_id_and_inf_name_are_the_inx_template_s() {
        let inx = include_str!("../../../../driver/kcom_sample.inx");
        // The template's own install line names both.
        assert!(inx.contains(&install_command()), "{}", install_command());
        assert!(
            inx.contains(&format!("KcomSample_Device, {HARDWARE_ID}")),
            "{HARDWARE_ID}"
        );
        assert_eq!(status_command(), format!("devcon status {HARDWARE_ID}"));
    }

    #[test]
    fn every_problem_code_of_windows_sys_has_its_name() {
        for code in 1..NUM_CM_PROB {
            let name = problem_name(code).unwrap_or_else(|| panic!("no name for {code}"));
            assert!(name.starts_with("CM_PROB_"), "{name}");
            assert_eq!(PROBLEMS.iter().filter(|(_, n)| *n == name).count(), 1);
        }
        assert_eq!(PROBLEMS.len() as u32, NUM_CM_PROB - 1);
        assert_eq!(
            problem_name(CM_PROB_FAILED_START),
            Some("CM_PROB_FAILED_START")
        );
        assert_eq!(problem_name(52), Some("CM_PROB_UNSIGNED_DRIVER"));
        assert_eq!(problem_name(0), None);
        assert_eq!(problem_name(NUM_CM_PROB), None);
        assert_eq!(problem_text(NUM_CM_PROB), format!("code {NUM_CM_PROB}"));
    }

    fn node(status: u32, problem: u32, problem_status: Option<NTSTATUS>) -> DevNode {
        DevNode {
            instance_id: r"ROOT\SOFTWAREDEVICE\0000".into(),
            status,
            problem,
            problem_status,
        }
    }

    #[test]
    fn no_device_node_is_not_installed_with_the_install_command() {
        let message = no_interface(&[]);
        assert!(message.starts_with("driver not installed: "), "{message}");
        assert!(
            message.contains(&format!("`{}`", install_command())),
            "{message}"
        );
        assert!(message.contains("--loopback"), "{message}");
        assert!(!message.contains("devcon status"), "{message}");
    }

    #[test]
    fn an_installed_device_that_did_not_start_reports_its_problem_code() {
        let failed = node(
            DN_HAS_PROBLEM,
            CM_PROB_FAILED_ADD,
            Some(STATUS_INSUFFICIENT_RESOURCES),
        );
        assert_eq!(
            no_interface(&[failed]),
            format!(
                "no enabled kcom sample device interface: device ROOT\\SOFTWAREDEVICE\\0000 \
                 installed but not started, problem CM_PROB_FAILED_ADD (31), \
                 STATUS_INSUFFICIENT_RESOURCES (0xC000009A); see `devcon status {HARDWARE_ID}`"
            )
        );
        // Without a recorded status (or a zero one), the code alone.
        let unsigned = node(DN_HAS_PROBLEM, CM_PROB_UNSIGNED_DRIVER, Some(0));
        let message = no_interface(&[unsigned]);
        assert!(
            message.contains("problem CM_PROB_UNSIGNED_DRIVER (52); see `devcon status"),
            "{message}"
        );
        assert!(!message.contains("not installed:"), "{message}");
        // A code newer than windows-sys knows is still reported by number.
        let message = no_interface(&[node(DN_HAS_PROBLEM, 99, None)]);
        assert!(message.contains("problem code 99;"), "{message}");
    }

    #[test]
    fn started_and_starting_nodes_without_an_interface_say_so() {
        let started = node(DN_STARTED | DN_DRIVER_LOADED, 0, None);
        let message = no_interface(&[started]);
        assert!(
            message.contains(&format!(
                "started, but its driver enabled no interface {{{GUID_DEVINTERFACE_KCOM_SAMPLE}}}"
            )),
            "{message}"
        );
        let starting = node(DN_DRIVER_LOADED, 0, None);
        let message = no_interface(std::slice::from_ref(&starting));
        assert!(
            message.contains("not started, no problem code (status flags 0x00000002"),
            "{message}"
        );
        // Two nodes: both, in order, and the status command once.
        let disabled = DevNode {
            instance_id: r"ROOT\SOFTWAREDEVICE\0001".into(),
            ..node(DN_HAS_PROBLEM, CM_PROB_DISABLED, None)
        };
        let message = no_interface(&[starting, disabled]);
        assert!(
            message.contains(r"; device ROOT\SOFTWAREDEVICE\0001 installed but not started, problem CM_PROB_DISABLED (22); see"),
            "{message}"
        );
        assert_eq!(message.matches("devcon status").count(), 1, "{message}");
        let message = no_interface_unknown("SetupDiGetClassDevsW: out of memory");
        assert!(
            message.contains("(SetupDiGetClassDevsW: out of memory)"),
            "{message}"
        );
        assert!(
            message.ends_with(&format!("see `{}`", status_command())),
            "{message}"
        );
    }

    #[test]
    fn required_rights_come_from_the_ctl_code() {
        assert_eq!(required_rights(IOCTL_KCOM_GET_INFO), FILE_READ_DATA);
        assert_eq!(required_rights(IOCTL_KCOM_POOL_STATS), FILE_READ_DATA);
        assert_eq!(
            required_rights(IOCTL_KCOM_RUN_EXERCISE),
            FILE_READ_DATA | FILE_WRITE_DATA
        );
        assert_eq!(required_rights(0x0022_0000), 0, "FILE_ANY_ACCESS");
        let rw = file_rights(GENERIC_READ | GENERIC_WRITE);
        assert_eq!(rw, FILE_GENERIC_READ | FILE_GENERIC_WRITE);
        assert_eq!(rw & (FILE_READ_DATA | FILE_WRITE_DATA), 3);
        assert_eq!(file_rights(GENERIC_READ) & FILE_WRITE_DATA, 0);
        assert_eq!(file_rights(FILE_WRITE_DATA), FILE_WRITE_DATA);
        assert_eq!(file_rights(0), 0);
    }

    #[test]
    fn access_denied_names_the_missing_right_of_the_handle() {
        let message = access_denied(IOCTL_KCOM_RUN_EXERCISE, GENERIC_READ, None);
        assert_eq!(
            message,
            "access denied by the I/O manager: IOCTL 0x8C0EE004 requires FILE_READ_DATA | \
             FILE_WRITE_DATA, and the handle (opened with GENERIC_READ) lacks FILE_WRITE_DATA; \
             the handle's access is at fault, not the account's"
        );
        // The granted access wins over what was asked for.
        let message = access_denied(
            IOCTL_KCOM_GET_INFO,
            GENERIC_READ | GENERIC_WRITE,
            Some(FILE_GENERIC_WRITE & !FILE_READ_DATA),
        );
        assert!(
            message.contains("(opened with GENERIC_READ | GENERIC_WRITE, granted 0x00120116) lacks FILE_READ_DATA;"),
            "{message}"
        );
        let message = access_denied(IOCTL_KCOM_POOL_STATS, 0, None);
        assert!(
            message.contains("(opened with no generic rights) lacks FILE_READ_DATA"),
            "{message}"
        );
        assert!(!message.contains("Administrator"), "{message}");
    }

    #[test]
    fn access_denied_with_every_right_is_the_driver_s_answer() {
        let rw = GENERIC_READ | GENERIC_WRITE;
        for granted in [None, Some(file_rights(rw))] {
            let message = access_denied(IOCTL_KCOM_RUN_EXERCISE, rw, granted);
            assert!(
                message.starts_with(
                    "access denied, although the handle (opened with GENERIC_READ | GENERIC_WRITE"
                ),
                "{message}"
            );
            assert!(
                message.contains(
                    "has what IOCTL 0x8C0EE004 requires FILE_READ_DATA | FILE_WRITE_DATA: the \
                     driver or a filter driver completed the request with STATUS_ACCESS_DENIED \
                     (0xC0000022); running as Administrator does not change that"
                ),
                "{message}"
            );
        }
    }
}
