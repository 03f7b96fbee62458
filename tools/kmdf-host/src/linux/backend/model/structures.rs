//! The structure-size table (`WdfStructures`) the framework hands a client
//! that is newer than it, so that `WDF_STRUCTURE_SIZE` gives the sizes the
//! framework knows.
//!
//! The sizes are x64 `sizeof` values computed with clang from the KMDF
//! public headers of each version (microsoft/Windows-Driver-Frameworks,
//! `src/publicinc/wdf/kmdf/1.31` and `1.33`) over the mingw-w64 DDK
//! headers, by `tools/kmdf-host/scripts/structure-sizes.sh`. Between 1.31
//! and 1.33 exactly one public structure changed size:
//! `WDF_POWER_FRAMEWORK_SETTINGS` gained `PoFxDeviceFlags` and
//! `DirectedPoFxEnabled` (72 -> 88 bytes); the function table has 458
//! entries in both. Entries of 0 are structures declared in headers that
//! are not public (class extension bind info, USB, triage, `WDFCX_*`); the
//! host implements no function that takes them.

use super::table::WDF_STRUCTURE_COUNT;
use crate::options::FrameworkVersion;

/// `(name, size in KMDF 1.33)`, in `WDFSTRUCTENUM` order.
pub(crate) const SIZES_1_33: [(&str, usize); WDF_STRUCTURE_COUNT] = [
    ("WDF_CHILD_ADDRESS_DESCRIPTION_HEADER", 4),
    ("WDF_CHILD_IDENTIFICATION_DESCRIPTION_HEADER", 4),
    ("WDF_CHILD_LIST_CONFIG", 96),
    ("WDF_CHILD_LIST_ITERATOR", 40),
    ("WDF_CHILD_RETRIEVE_INFO", 40),
    ("WDF_CLASS_BIND_INFO", 0),
    ("WDF_CLASS_BIND_INFO2", 0),
    ("WDF_CLASS_EXTENSION_DESCRIPTOR", 0),
    ("WDF_CLASS_LIBRARY_INFO", 0),
    ("WDF_CLASS_VERSION", 0),
    ("WDF_COMMON_BUFFER_CONFIG", 8),
    ("WDF_CUSTOM_TYPE_CONTEXT", 16),
    ("WDF_DEVICE_PNP_CAPABILITIES", 48),
    ("WDF_DEVICE_PNP_NOTIFICATION_DATA", 12),
    ("WDF_DEVICE_POWER_CAPABILITIES", 80),
    ("WDF_DEVICE_POWER_NOTIFICATION_DATA", 12),
    ("WDF_DEVICE_POWER_POLICY_IDLE_SETTINGS", 36),
    ("WDF_DEVICE_POWER_POLICY_NOTIFICATION_DATA", 12),
    ("WDF_DEVICE_POWER_POLICY_WAKE_SETTINGS", 20),
    ("WDF_DEVICE_PROPERTY_DATA", 24),
    ("WDF_DEVICE_STATE", 32),
    ("WDF_DMA_ENABLER_CONFIG", 80),
    ("WDF_DMA_SYSTEM_PROFILE_CONFIG", 32),
    ("WDF_DPC_CONFIG", 24),
    ("WDF_DRIVER_CONFIG", 32),
    ("WDF_DRIVER_GLOBALS", 56),
    ("WDF_DRIVER_VERSION_AVAILABLE_PARAMS", 12),
    ("WDF_FDO_EVENT_CALLBACKS", 32),
    ("WDF_FILEOBJECT_CONFIG", 40),
    ("WDF_INTERRUPT_CONFIG", 104),
    ("WDF_INTERRUPT_EXTENDED_POLICY", 32),
    ("WDF_INTERRUPT_INFO", 64),
    ("WDF_IO_FORWARD_PROGRESS_RESERVED_POLICY_SETTINGS", 8),
    ("WDF_IO_QUEUE_CONFIG", 96),
    ("WDF_IO_QUEUE_FORWARD_PROGRESS_POLICY", 40),
    ("WDF_IO_TARGET_OPEN_PARAMS", 136),
    ("WDF_IO_TYPE_CONFIG", 16),
    ("WDF_MEMORY_DESCRIPTOR", 24),
    ("WDF_OBJECT_ATTRIBUTES", 56),
    ("WDF_OBJECT_CONTEXT_TYPE_INFO", 40),
    ("WDF_PDO_EVENT_CALLBACKS", 64),
    ("WDF_PNPPOWER_EVENT_CALLBACKS", 144),
    ("WDF_POWER_FRAMEWORK_SETTINGS", 88),
    ("WDF_POWER_POLICY_EVENT_CALLBACKS", 64),
    ("WDF_POWER_ROUTINE_TIMED_OUT_DATA", 32),
    ("WDF_QUERY_INTERFACE_CONFIG", 48),
    ("WDF_QUEUE_FATAL_ERROR_DATA", 24),
    ("WDF_REMOVE_LOCK_OPTIONS", 8),
    ("WDF_REQUEST_COMPLETION_PARAMS", 72),
    (
        "WDF_REQUEST_FATAL_ERROR_INFORMATION_LENGTH_MISMATCH_DATA",
        40,
    ),
    ("WDF_REQUEST_FORWARD_OPTIONS", 8),
    ("WDF_REQUEST_PARAMETERS", 40),
    ("WDF_REQUEST_REUSE_PARAMS", 24),
    ("WDF_REQUEST_SEND_OPTIONS", 16),
    ("WDF_TASK_SEND_OPTIONS", 16),
    ("WDF_TIMER_CONFIG", 40),
    ("WDF_TRIAGE_INFO", 0),
    ("WDF_USB_CONTINUOUS_READER_CONFIG", 0),
    ("WDF_USB_DEVICE_CREATE_CONFIG", 0),
    ("WDF_USB_DEVICE_INFORMATION", 0),
    ("WDF_USB_DEVICE_SELECT_CONFIG_PARAMS", 0),
    ("WDF_USB_INTERFACE_SELECT_SETTING_PARAMS", 0),
    ("WDF_USB_INTERFACE_SETTING_PAIR", 0),
    ("WDF_USB_PIPE_INFORMATION", 0),
    ("WDF_USB_REQUEST_COMPLETION_PARAMS", 0),
    ("WDF_WMI_INSTANCE_CONFIG", 64),
    ("WDF_WMI_PROVIDER_CONFIG", 40),
    ("WDF_WORKITEM_CONFIG", 24),
    ("WDFCONTEXT_TRIAGE_INFO", 0),
    ("WDFCONTEXTTYPE_TRIAGE_INFO", 0),
    ("WDFCX_FILEOBJECT_CONFIG", 0),
    ("WDFCX_PNPPOWER_EVENT_CALLBACKS", 0),
    ("WDFDEVICE_TRIAGE_INFO", 0),
    ("WDFFWDPROGRESS_TRIAGE_INFO", 0),
    ("WDFIRP_TRIAGE_INFO", 0),
    ("WDFIRPQUEUE_TRIAGE_INFO", 0),
    ("WDFMEMORY_OFFSET", 16),
    ("WDFOBJECT_TRIAGE_INFO", 0),
    ("WDFQUEUE_TRIAGE_INFO", 0),
    ("WDFREQUEST_TRIAGE_INFO", 0),
    ("WDFCX_POWER_POLICY_EVENT_CALLBACKS", 0),
];

/// The one structure whose size differs in KMDF 1.31.
const CHANGED_IN_1_33: (&str, usize) = ("WDF_POWER_FRAMEWORK_SETTINGS", 72);

/// The size of `name` in `version`.
pub(crate) fn size_of(version: FrameworkVersion, name: &str) -> Option<usize> {
    if version == FrameworkVersion::V1_31 && name == CHANGED_IN_1_33.0 {
        return Some(CHANGED_IN_1_33.1);
    }
    SIZES_1_33.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The table handed out for `version`.
pub(crate) fn table(version: FrameworkVersion) -> Box<[usize]> {
    SIZES_1_33
        .iter()
        .map(|(n, _)| size_of(version, n).unwrap_or(0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::table::WDF_STRUCTURE_NAMES;
    use super::*;
    use crate::linux::abi;
    use std::mem::size_of as sz;

    #[test]
    fn the_table_follows_wdffuncenum_h() {
        let names: Vec<&str> = SIZES_1_33.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, WDF_STRUCTURE_NAMES.to_vec());
    }

    #[test]
    fn the_host_layouts_match_the_table() {
        for version in [FrameworkVersion::V1_31, FrameworkVersion::V1_33] {
            assert_eq!(
                size_of(version, "WDF_DRIVER_CONFIG"),
                Some(sz::<abi::DriverConfig>())
            );
            assert_eq!(
                size_of(version, "WDF_OBJECT_ATTRIBUTES"),
                Some(sz::<abi::ObjectAttributes>())
            );
            assert_eq!(
                size_of(version, "WDF_OBJECT_CONTEXT_TYPE_INFO"),
                Some(sz::<abi::ContextTypeInfo>())
            );
            assert_eq!(
                size_of(version, "WDF_IO_QUEUE_CONFIG"),
                Some(sz::<abi::IoQueueConfig>())
            );
            assert_eq!(
                size_of(version, "WDF_WORKITEM_CONFIG"),
                Some(sz::<abi::WorkItemConfig>())
            );
            assert_eq!(
                size_of(version, "WDF_DRIVER_GLOBALS"),
                Some(sz::<abi::DriverGlobals>())
            );
        }
        assert_eq!(
            size_of(FrameworkVersion::V1_31, "WDF_POWER_FRAMEWORK_SETTINGS"),
            Some(72)
        );
        assert_eq!(
            size_of(FrameworkVersion::V1_33, "WDF_POWER_FRAMEWORK_SETTINGS"),
            Some(88)
        );
        assert_eq!(table(FrameworkVersion::V1_31).len(), 81);
    }
}
