//! Rendering: tables for people, JSON records for programs, and the small
//! formatting helpers they share.

use kcom::STATUS_SUCCESS;
use kcom_sample_core::protocol::{ExerciseReport, PoolStatsEntry, pool_type};
use serde::Serialize;

use super::Failure;
use crate::client::OfferedStrategy;
use crate::loopback::SIM_POOL;
use crate::transport::Status;

/// A pool type for people.
pub fn pool_name(pt: u32) -> String {
    let base = |pt: u32| match pt {
        pool_type::NON_PAGED => Some("NonPaged"),
        pool_type::PAGED => Some("Paged"),
        pool_type::NON_PAGED_NX => Some("NonPagedNx"),
        _ => None,
    };
    if pt == pool_type::HOST {
        return "host heap".into();
    }
    if pt & SIM_POOL != 0
        && let Some(name) = base(pt & !SIM_POOL)
    {
        return format!("{name} (simulated)");
    }
    match base(pt) {
        Some(name) => name.into(),
        None => format!("0x{pt:08X}"),
    }
}

/// A pool tag as `!poolused` prints it (four characters), or hex when it
/// is not printable ASCII: `ntdef`'s format, the one kmdf-host prints too.
pub use ntdef::tag_text;

/// `n` and a noun, in the plural unless `n == 1` (`"3 strategies"`).
pub(super) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else if let Some(stem) = noun.strip_suffix('y') {
        format!("{n} {stem}ies")
    } else {
        format!("{n} {noun}s")
    }
}

/// A duration per operation for people.
pub(super) fn per_op(nanos: u64, ops: u64) -> String {
    if ops == 0 {
        return "-".into();
    }
    let ns = nanos as f64 / ops as f64;
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} us", ns / 1_000.0)
    } else {
        format!("{:.2} ms", ns / 1_000_000.0)
    }
}

/// Renders rows as aligned columns; `right` marks right-aligned columns.
pub(super) fn table(headers: &[&str], right: &[bool], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            let last = i + 1 == cells.len();
            if i > 0 {
                out.push_str("  ");
            }
            if right.get(i).copied().unwrap_or(false) {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if !last {
                    out.push_str(&" ".repeat(pad));
                }
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

pub(super) fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::failed(format!("cannot encode JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// `list --json` item.
#[derive(Serialize, Debug)]
pub(super) struct StrategyRecord<'a> {
    strategy: &'a str,
    id: u32,
    description: &'a str,
    pool_type: u32,
    pool: String,
    tag: u32,
    tag_text: String,
    passive_only: bool,
}

impl<'a> From<&'a OfferedStrategy> for StrategyRecord<'a> {
    fn from(s: &'a OfferedStrategy) -> Self {
        StrategyRecord {
            strategy: &s.name,
            id: s.id,
            description: &s.description,
            pool_type: s.pool_type,
            pool: pool_name(s.pool_type),
            tag: s.tag,
            tag_text: tag_text(s.tag),
            passive_only: s.passive_only(),
        }
    }
}

/// `run --json` item: one per strategy.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// Strategy name.
    pub strategy: String,
    /// Succeeded, verified, nothing outstanding.
    pub ok: bool,
    /// The run's `NTSTATUS` (signed, as on the wire).
    pub ntstatus: i32,
    /// Its name (`STATUS_SUCCESS`), or hex.
    pub status: String,
    /// Successful allocations (`null` when the run failed).
    pub allocations: Option<u64>,
    /// Frees.
    pub frees: Option<u64>,
    /// Bytes allocated in total.
    pub bytes: Option<u64>,
    /// Most bytes live at once.
    pub peak_bytes: Option<u64>,
    /// Allocations not freed after the run.
    pub outstanding: Option<u64>,
    /// Elapsed nanoseconds (device clock).
    pub nanos: Option<u64>,
    /// Checksum of the verified patterns.
    pub checksum: Option<u64>,
    /// Why `ok` is false; `null` when it is true.
    pub error: Option<String>,
}

impl RunRecord {
    /// The record of one run: its report, or the status it failed with.
    pub fn new(name: &str, expected: u64, result: Result<ExerciseReport, i32>) -> Self {
        match result {
            Ok(r) => {
                let ntstatus = r.ntstatus.get();
                let error = if ntstatus != STATUS_SUCCESS {
                    Some(format!("the report carries {}", Status(ntstatus)))
                } else if r.outstanding != 0 {
                    Some(format!(
                        "{} allocation(s) still outstanding after the run",
                        r.outstanding
                    ))
                } else if r.checksum != expected {
                    Some(format!(
                        "checksum 0x{:016X} differs from the expected 0x{expected:016X}",
                        r.checksum
                    ))
                } else {
                    None
                };
                RunRecord {
                    strategy: name.to_owned(),
                    ok: error.is_none(),
                    ntstatus,
                    status: Status(ntstatus).label(),
                    allocations: Some(r.allocations.get()),
                    frees: Some(r.frees.get()),
                    bytes: Some(r.bytes.get()),
                    peak_bytes: Some(r.peak_bytes.get()),
                    outstanding: Some(r.outstanding.get()),
                    nanos: Some(r.nanos.get()),
                    checksum: Some(r.checksum.get()),
                    error,
                }
            }
            Err(status) => RunRecord {
                strategy: name.to_owned(),
                ok: false,
                ntstatus: status,
                status: Status(status).label(),
                allocations: None,
                frees: None,
                bytes: None,
                peak_bytes: None,
                outstanding: None,
                nanos: None,
                checksum: None,
                error: Some(format!("the driver failed the run with {}", Status(status))),
            },
        }
    }

    /// The table row.
    pub(super) fn row(&self) -> Vec<String> {
        let num = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let result = if self.ok {
            "ok".to_owned()
        } else if self.ntstatus != STATUS_SUCCESS {
            Status(self.ntstatus).to_string()
        } else if self.outstanding.unwrap_or(0) != 0 {
            "LEAKED".to_owned()
        } else {
            "CHECKSUM MISMATCH".to_owned()
        };
        vec![
            self.strategy.clone(),
            result,
            num(self.allocations),
            num(self.frees),
            num(self.bytes),
            num(self.peak_bytes),
            num(self.outstanding),
            match (self.nanos, self.allocations) {
                (Some(n), Some(a)) => per_op(n, a),
                _ => "-".into(),
            },
        ]
    }
}

/// `stats --json` item.
#[derive(Serialize, Debug)]
pub(super) struct PoolRecord {
    pool_type: u32,
    pool: String,
    tag: u32,
    tag_text: String,
    allocations: u64,
    frees: u64,
    outstanding_allocations: u64,
    outstanding_bytes: u64,
    peak_bytes: u64,
}

impl From<&PoolStatsEntry> for PoolRecord {
    fn from(e: &PoolStatsEntry) -> Self {
        PoolRecord {
            pool_type: e.pool_type.get(),
            pool: pool_name(e.pool_type.get()),
            tag: e.tag.get(),
            tag_text: tag_text(e.tag.get()),
            allocations: e.allocations.get(),
            frees: e.frees.get(),
            outstanding_allocations: e.outstanding_allocations.get(),
            outstanding_bytes: e.outstanding_bytes.get(),
            peak_bytes: e.peak_bytes.get(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_flag_failures_leaks_and_bad_checksums() {
        let good = ExerciseReport {
            strategy: 0.into(),
            ntstatus: STATUS_SUCCESS.into(),
            allocations: 4.into(),
            frees: 4.into(),
            bytes: 100.into(),
            peak_bytes: 50.into(),
            outstanding: 0.into(),
            nanos: 2000.into(),
            checksum: 9.into(),
        };
        let r = RunRecord::new("global", 9, Ok(good));
        assert!(r.ok && r.error.is_none());
        assert_eq!(r.row()[7], "500 ns");
        let r = RunRecord::new("global", 8, Ok(good));
        assert!(!r.ok);
        assert_eq!(r.row()[1], "CHECKSUM MISMATCH");
        let leak = ExerciseReport {
            outstanding: 1.into(),
            frees: 3.into(),
            ..good
        };
        let r = RunRecord::new("global", 9, Ok(leak));
        assert!(!r.ok);
        assert_eq!(r.row()[1], "LEAKED");
        let r = RunRecord::new("bump", 0, Err(kcom::STATUS_INSUFFICIENT_RESOURCES));
        assert!(!r.ok);
        assert_eq!(r.status, "STATUS_INSUFFICIENT_RESOURCES");
        assert_eq!(r.row()[1], "STATUS_INSUFFICIENT_RESOURCES (0xC000009A)");
        assert_eq!(r.allocations, None);
    }

    #[test]
    fn pools_and_tags_print_readably() {
        assert_eq!(pool_name(pool_type::HOST), "host heap");
        assert_eq!(pool_name(pool_type::NON_PAGED_NX), "NonPagedNx");
        assert_eq!(pool_name(SIM_POOL | pool_type::PAGED), "Paged (simulated)");
        assert_eq!(pool_name(77), "0x0000004D");
        assert_eq!(tag_text(u32::from_le_bytes(*b"KcNp")), "KcNp");
        assert_eq!(tag_text(1), "0x00000001");
        assert_eq!(per_op(5, 0), "-");
        assert_eq!(plural(1, "strategy"), "1 strategy");
        assert_eq!(plural(11, "strategy"), "11 strategies");
        assert_eq!(plural(2, "exercise"), "2 exercises");
        assert_eq!(per_op(3_000_000, 2), "1.50 ms");
        assert_eq!(per_op(3_000, 2), "1.5 us");
    }

    #[test]
    fn tables_align_columns() {
        let t = table(
            &["a", "n"],
            &[false, true],
            &[
                vec!["long".into(), "1".into()],
                vec!["x".into(), "100".into()],
            ],
        );
        assert_eq!(t, "a       n\nlong    1\nx     100\n");
    }
}
