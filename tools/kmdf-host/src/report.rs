//! What a run found: rule violations, what was left in the pool, and the
//! reason a run stopped.

use std::fmt;

use crate::options::tag_text;

/// Declares [`Rule`] from one list: each rule's description (its doc), its
/// variant and its stable identifier; the identifier table, [`Rule::ALL`]
/// and the lookup by identifier are derived from it.
macro_rules! rules {
    ($($(#[doc = $doc:literal])* $rule:ident = $id:literal,)*) => {
        /// A rule of KMDF, KMDF Verifier, Driver Verifier or the I/O manager
        /// that the host checks. The identifier (`Rule::id`) is stable: tests
        /// and tools match on it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Rule {
            $($(#[doc = $doc])* $rule,)*
        }

        impl Rule {
            /// Every rule, in declaration order.
            pub const ALL: [Rule; [$(stringify!($rule)),*].len()] = [$(Rule::$rule,)*];

            /// The stable identifier.
            pub fn id(self) -> &'static str {
                match self {
                    $(Rule::$rule => $id,)*
                }
            }
        }
    };
}

rules! {
    /// An import that no host module provides (the image would not load).
    UnresolvedImport = "unresolved-import",
    /// A WDF function kmdf-host does not implement (the run stops).
    UnsupportedWdfFunction = "unsupported-wdf-function",
    /// The driver called `KeBugCheckEx` (the run stops).
    BugCheck = "bug-check",
    /// KMDF Verifier stops the machine (`WDF_VIOLATION`, 0x10D): a NULL
    /// required parameter, an invalid handle, a fatal request error.
    WdfViolation = "wdf-violation",
    /// An access violation or other fault in driver code (the run stops).
    Fault = "fault",
    /// An access past the end (or before the start) of a special-pool block.
    SpecialPoolOverrun = "special-pool-overrun",
    /// An access to a freed special-pool block.
    UseAfterFree = "use-after-free",
    /// The bytes around a pool block (special pool's fill, or the guard
    /// bytes after an ordinary block) were overwritten: found when the
    /// block was freed.
    PoolCorruption = "pool-corruption",
    /// A request was completed more than once.
    DoubleCompletion = "double-completion",
    /// A request was never completed.
    RequestNeverCompleted = "request-never-completed",
    /// `Information` greater than the output buffer of a successful
    /// `METHOD_BUFFERED` request.
    InformationTooLong = "information-too-long",
    /// Pool blocks still allocated when the driver unloaded.
    PoolLeak = "pool-leak",
    /// `ExFreePoolWithTag` with a tag other than the block's.
    WrongTagFree = "wrong-tag-free",
    /// A free of a block that is not allocated (double free or a foreign
    /// pointer).
    BadFree = "bad-free",
    /// Paged pool allocated or freed above APC_LEVEL.
    PagedPoolAtDispatch = "paged-pool-at-dispatch",
    /// A pool allocation with invalid flags, pool type or tag.
    BadPoolCall = "bad-pool-call",
    /// A WDF structure's `Size` is not one KMDF accepts.
    WrongStructureSize = "wrong-structure-size",
    /// A call made at an IRQL above the routine's maximum.
    IrqlTooHigh = "irql-too-high",
    /// A wait with a non-zero timeout at DISPATCH_LEVEL or above.
    WaitAtDispatch = "wait-at-dispatch",
    /// A callback returned at another IRQL than it was called at.
    IrqlNotRestored = "irql-not-restored",
    /// A callback returned holding a spin lock, or a spin lock was released
    /// that was not held.
    SpinLockMisuse = "spin-lock-misuse",
    /// A wait that never ended.
    Hang = "hang",
    /// A WDF object used after it was deleted, or deleted twice.
    ObjectMisuse = "object-misuse",
    /// Another KMDF Verifier break (`FxVerifierDbgBreakPoint`): a call KMDF
    /// refused and ignored or failed (a value out of range, a flush from
    /// the work item's own callback, incompatible execution levels).
    VerifierBreak = "verifier-break",
    /// A power transition was held up by requests of a power-managed queue.
    PowerTransitionBlocked = "power-transition-blocked",
    /// A call into the driver used more kernel stack than the budget
    /// ([`crate::Options::stack_budget`]): Windows shares the kernel stack
    /// with the system call, the I/O manager, KMDF and the verifier, and
    /// running out bug-checks (0x7F).
    KernelStackOverrun = "kernel-stack-overrun",
}

impl Rule {
    /// The rule with identifier `id`.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.id() == id)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// What happened, in one line.
    pub message: String,
    /// Where in the driver (address, section, nearest symbol), if known.
    pub location: Option<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.rule, self.message)?;
        if let Some(at) = &self.location {
            write!(f, " (at {at})")?;
        }
        Ok(())
    }
}

/// Who asked for a pool block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// The driver's own `ExAllocatePool*` call.
    Driver,
    /// The framework, for one of the driver's objects.
    Framework,
    /// The I/O manager (system buffers).
    IoManager,
}

/// The pool a block came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoolKind {
    /// Non-paged, no-execute.
    NonPagedNx,
    /// Non-paged, executable (`NonPagedPool`, `POOL_FLAG_NON_PAGED_EXECUTE`).
    NonPagedExecute,
    /// Paged.
    Paged,
}

impl fmt::Display for PoolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PoolKind::NonPagedNx => "NonPagedNx",
            PoolKind::NonPagedExecute => "NonPaged",
            PoolKind::Paged => "Paged",
        })
    }
}

/// A pool block still allocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outstanding {
    /// Its tag.
    pub tag: u32,
    /// Its pool.
    pub pool: PoolKind,
    /// Its size in bytes.
    pub size: usize,
    /// Who allocated it.
    pub origin: Origin,
    /// Where it was allocated (the driver's call site), or what it is.
    pub allocated_at: String,
}

impl fmt::Display for Outstanding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' {} {} bytes ({:?}, {})",
            tag_text(self.tag),
            self.pool,
            self.size,
            self.origin,
            self.allocated_at
        )
    }
}

/// Per-tag pool counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagStats {
    /// The tag.
    pub tag: u32,
    /// Allocations that succeeded.
    pub allocations: u64,
    /// Allocations failed by fault injection.
    pub injected_failures: u64,
    /// Frees.
    pub frees: u64,
    /// Blocks still allocated.
    pub outstanding: u64,
    /// Bytes still allocated.
    pub outstanding_bytes: u64,
}

/// The deepest the driver's code went on the kernel stack in one entry
/// point (every call the host made to it), below the host's call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackPeak {
    /// The entry point's role (`DriverEntry`, `EvtIoDeviceControl`, ...).
    pub entry: String,
    /// The most bytes of stack one call used, from the stack pointer at the
    /// call (the return address included) to the lowest byte written.
    pub peak: usize,
    /// Calls made.
    pub calls: u64,
}

impl fmt::Display for StackPeak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kernel stack: {} peak {} bytes ({} call{})",
            self.entry,
            self.peak,
            self.calls,
            if self.calls == 1 { "" } else { "s" }
        )
    }
}

/// The summary of a whole run (the driver unloaded, or the host dropped).
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Every violation, in order.
    pub violations: Vec<Violation>,
    /// Pool blocks left when the run ended (made for the driver or its
    /// objects).
    pub outstanding: Vec<Outstanding>,
    /// Pool allocations made for the driver, in all.
    pub allocations: u64,
    /// Allocations failed by fault injection.
    pub injected_failures: u64,
    /// Per-tag counters, by tag.
    pub tags: Vec<TagStats>,
    /// The kernel stack peak of each of the driver's entry points the host
    /// called, in order of first call.
    pub stack: Vec<StackPeak>,
}

impl Report {
    /// No violation and nothing left in the pool.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty() && self.outstanding.is_empty()
    }

    /// The violations of `rule`.
    pub fn of(&self, rule: Rule) -> Vec<&Violation> {
        self.violations.iter().filter(|v| v.rule == rule).collect()
    }

    /// The kernel stack peak of entry point `entry` (`EvtIoDeviceControl`),
    /// if the host called it.
    pub fn stack_peak(&self, entry: &str) -> Option<usize> {
        self.stack.iter().find(|p| p.entry == entry).map(|p| p.peak)
    }

    /// The distinct rules violated, in order of first occurrence.
    pub fn rules(&self) -> Vec<Rule> {
        let mut rules = Vec::new();
        for v in &self.violations {
            if !rules.contains(&v.rule) {
                rules.push(v.rule);
            }
        }
        rules
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pool: {} allocations, {} failed by injection, {} blocks outstanding",
            self.allocations,
            self.injected_failures,
            self.outstanding.len()
        )?;
        for block in &self.outstanding {
            writeln!(f, "  outstanding: {block}")?;
        }
        for peak in &self.stack {
            writeln!(f, "{peak}")?;
        }
        if self.violations.is_empty() {
            writeln!(f, "violations: none")
        } else {
            writeln!(f, "violations: {}", self.violations.len())?;
            for v in &self.violations {
                writeln!(f, "  {v}")?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_and_round_trip() {
        for rule in Rule::ALL {
            assert_eq!(Rule::from_id(rule.id()), Some(rule));
        }
        let mut ids: Vec<_> = Rule::ALL.iter().map(|r| r.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), Rule::ALL.len());
    }

    #[test]
    fn a_report_is_clean_only_without_violations_and_leaks() {
        let mut report = Report::default();
        assert!(report.is_clean());
        report.outstanding.push(Outstanding {
            tag: u32::from_le_bytes(*b"Leak"),
            pool: PoolKind::NonPagedNx,
            size: 64,
            origin: Origin::Driver,
            allocated_at: "DriverEntry+0x10".into(),
        });
        assert!(!report.is_clean());
        assert!(report.to_string().contains("'Leak' NonPagedNx 64 bytes"));
        report.outstanding.clear();
        report.violations.push(Violation {
            rule: Rule::DoubleCompletion,
            message: "twice".into(),
            location: None,
        });
        assert_eq!(report.rules(), vec![Rule::DoubleCompletion]);
        report.stack.push(StackPeak {
            entry: "EvtIoDeviceControl".into(),
            peak: 1234,
            calls: 2,
        });
        assert_eq!(report.stack_peak("EvtIoDeviceControl"), Some(1234));
        assert_eq!(report.stack_peak("DriverEntry"), None);
        assert!(
            report
                .to_string()
                .contains("kernel stack: EvtIoDeviceControl peak 1234 bytes (2 calls)")
        );
        assert_eq!(report.of(Rule::DoubleCompletion).len(), 1);
        assert!(!report.is_clean());
    }
}
