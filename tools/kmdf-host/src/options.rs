//! How a run is configured: the framework version presented, the kernel's
//! behaviour (pool, `ExAllocatePool2`), and the checks.

use std::path::PathBuf;
use std::time::Duration;

/// The KMDF version the host presents itself as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameworkVersion {
    /// KMDF 1.31 (Windows 10 2004, build 19041).
    V1_31,
    /// KMDF 1.33 (Windows 11 21H2 / Server 2022, build 20348+).
    V1_33,
}

impl FrameworkVersion {
    /// The minor version (`31` or `33`).
    pub fn minor(self) -> u32 {
        match self {
            FrameworkVersion::V1_31 => 31,
            FrameworkVersion::V1_33 => 33,
        }
    }

    /// Parses `1.31` / `1.33` (or `31` / `33`).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().trim_start_matches("1.") {
            "31" => Some(FrameworkVersion::V1_31),
            "33" => Some(FrameworkVersion::V1_33),
            _ => None,
        }
    }
}

impl std::fmt::Display for FrameworkVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "1.{}", self.minor())
    }
}

/// Which pool allocations a fault-injection rule counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagFilter {
    /// Every allocation made for the driver (its own `ExAllocatePool*`
    /// calls and the framework's allocations of its objects).
    Any,
    /// Only allocations with this tag (compared without `PROTECTED_POOL`).
    Tag(u32),
}

impl TagFilter {
    /// Whether `tag` passes.
    pub fn matches(self, tag: u32) -> bool {
        match self {
            TagFilter::Any => true,
            TagFilter::Tag(t) => (t ^ tag) & 0x7FFF_FFFF == 0,
        }
    }
}

/// Driver Verifier's low-resources simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultInjection {
    /// Fail the `n`th matching allocation from now (`n >= 1`), once.
    Nth {
        /// Which allocations count.
        filter: TagFilter,
        /// 1 = the next matching allocation.
        n: u64,
    },
    /// Fail each matching allocation with probability `per_million / 10^6`,
    /// drawn from a generator seeded with `seed` (the same seed fails the
    /// same allocations of the same run).
    Fraction {
        /// Which allocations count.
        filter: TagFilter,
        /// Failure probability in millionths.
        per_million: u32,
        /// Seed of the generator.
        seed: u64,
    },
}

/// Where the driver's `DbgPrint` output goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugOutput {
    /// Kept in the session's log only ([`crate::Host::debug_log`]).
    Capture,
    /// Also written to standard error as it happens.
    Stderr,
}

/// The default [`Options::stack_budget`]: 12 KiB, half of the x64 kernel
/// stack (`KERNEL_STACK_SIZE`, 24 KiB), the rest left to the system call,
/// the I/O manager, KMDF, the pool and the verifier.
pub const DEFAULT_STACK_BUDGET: usize = 12 * 1024;

/// Options of one host session.
#[derive(Clone, Debug)]
pub struct Options {
    /// The framework version presented to the driver.
    pub framework: FrameworkVersion,
    /// `MmGetSystemRoutineAddress("ExAllocatePool2")` returns NULL, as on
    /// Windows before 10 2004, so the driver's fallback runs. (A static
    /// import of `ExAllocatePool2` still resolves: see `kernel_build`.)
    pub hide_ex_allocate_pool2: bool,
    /// The kernel's build number. Below 19041 `ntoskrnl.exe` does not
    /// export `ExAllocatePool2`: a static import of it is unresolved (the
    /// image does not load) and `MmGetSystemRoutineAddress` does not find it.
    pub kernel_build: u32,
    /// Driver Verifier's special pool: every block of the driver's own
    /// allocations ends against a no-access page, so an overrun faults and
    /// is reported with the block's tag; freed blocks stay inaccessible for
    /// a while, so a use after free faults too.
    pub special_pool: bool,
    /// Low-resources simulation rules in force from the start.
    pub faults: Vec<FaultInjection>,
    /// The service name (the last component of the registry path).
    pub service_name: String,
    /// The PDB to name symbols from; by default the one the image's
    /// CodeView record names, else `<image>.pdb`.
    pub pdb: Option<PathBuf>,
    /// Trace every WDF and kernel call to standard error.
    pub trace: bool,
    /// Where `DbgPrint` output goes.
    pub debug_output: DebugOutput,
    /// How long a request may stay uncompleted after `EvtIoDeviceControl`
    /// returns (and removal may wait for in-flight requests) before it is
    /// reported as never completed.
    pub request_timeout: Duration,
    /// How long a wait with no timeout may block before the run stops as a
    /// hang.
    pub hang_timeout: Duration,
    /// Map the image away from its preferred base, so that base relocations
    /// are applied.
    pub relocate: bool,
    /// Present requests to queues whose execution level is not
    /// `WdfExecutionLevelPassive` at DISPATCH_LEVEL, the highest IRQL KMDF
    /// may use for them (when it presents a request from a DPC or a
    /// completion routine), instead of the IRQL of the I/O manager's
    /// dispatch, PASSIVE_LEVEL for a user-mode caller (`FxIoQueue`
    /// presents an arriving request on the caller's thread). A stress
    /// setting: it finds code that would break at DISPATCH_LEVEL.
    pub dispatch_level_callbacks: bool,
    /// The kernel stack, in bytes, one call into the driver may use
    /// (measured from the host's call to the lowest byte the driver's code
    /// wrote); more is a [`crate::Rule::KernelStackOverrun`] violation.
    pub stack_budget: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            framework: FrameworkVersion::V1_33,
            hide_ex_allocate_pool2: false,
            kernel_build: 22621,
            special_pool: false,
            faults: Vec::new(),
            service_name: "kcom_sample".into(),
            pdb: None,
            trace: false,
            debug_output: DebugOutput::Capture,
            request_timeout: Duration::from_secs(20),
            hang_timeout: Duration::from_secs(60),
            relocate: false,
            dispatch_level_callbacks: false,
            stack_budget: DEFAULT_STACK_BUDGET,
        }
    }
}

/// A pool tag as text (`kcom`): `ntdef`'s [`PoolTag`](ntdef::PoolTag)
/// format, the one kcomctl prints too.
pub use ntdef::tag_text;

/// The tag of a four-character text (`"kcom"` -> `u32::from_le_bytes`).
pub fn parse_tag(text: &str) -> Option<u32> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 4 || !text.is_ascii() {
        return None;
    }
    let mut tag = [b' '; 4];
    tag[..bytes.len()].copy_from_slice(bytes);
    Some(u32::from_le_bytes(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_ignore_the_protected_bit() {
        let tag = parse_tag("kcom").unwrap();
        assert_eq!(tag_text(tag), "kcom");
        assert_eq!(parse_tag("Ab"), Some(u32::from_le_bytes(*b"Ab  ")));
        assert_eq!(parse_tag(""), None);
        assert_eq!(parse_tag("toolong"), None);
        assert!(TagFilter::Tag(tag).matches(tag | 0x8000_0000));
        assert!(!TagFilter::Tag(tag).matches(parse_tag("kcoM").unwrap()));
        assert!(TagFilter::Any.matches(0));
    }

    #[test]
    fn framework_versions_parse() {
        assert_eq!(
            FrameworkVersion::parse("1.31"),
            Some(FrameworkVersion::V1_31)
        );
        assert_eq!(FrameworkVersion::parse("33"), Some(FrameworkVersion::V1_33));
        assert_eq!(FrameworkVersion::parse("1.29"), None);
        assert_eq!(FrameworkVersion::V1_31.to_string(), "1.31");
    }
}
