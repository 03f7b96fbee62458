//! The simulated kernel pool behind [`WdkAllocator`](super::WdkAllocator)
//! on the host (builds without the `driver` feature).
//!
//! Blocks come from the host heap, aligned to
//! [`MEMORY_ALLOCATION_ALIGNMENT`] like
//! real pool blocks. Per pool tag the simulation keeps, for each
//! [`PoolType`]:
//!
//! * accounting ([`PoolStats`]): outstanding allocations and bytes, peak
//!   bytes, totals, failed allocations — what Driver Verifier's pool
//!   tracking shows;
//! * fault injection: [`fail_nth`] (the Nth allocation from now fails once)
//!   and [`fail_all`] (every allocation fails until turned off), like low
//!   resource simulation.
//!
//! Everything is keyed by tag so tests running on parallel threads do not
//! disturb each other: give each test its own tag.
//!
//! Misuse that would bug-check a real kernel panics here with a clear
//! message: freeing with another tag or pool type than the block was
//! allocated with, or freeing a pointer that is not a live simulated block
//! (each block carries a small header with a magic value, tag, pool type
//! and size, like the pool header Driver Verifier checks).
//!
//! Byte counts are the sizes requested from the pool, i.e.
//! [`WdkAllocator::pool_request_size`](super::WdkAllocator::pool_request_size)
//! of the layouts (zero-sized requests count as one byte).

use core::cell::UnsafeCell;
use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

use super::{MEMORY_ALLOCATION_ALIGNMENT, PoolType};

/// Maximum number of distinct tags the simulation tracks at once; one more
/// panics with a clear message (see [`forget_tag`]).
pub const MAX_TAGS: usize = 128;

/// Accounting of one (pool type, tag) pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Allocations not freed yet.
    pub outstanding_allocations: u64,
    /// Bytes not freed yet.
    pub outstanding_bytes: u64,
    /// Highest value `outstanding_bytes` reached (since the last
    /// [`reset_counters`]).
    pub peak_bytes: u64,
    /// Successful allocations.
    pub total_allocations: u64,
    /// Frees.
    pub total_frees: u64,
    /// Allocations refused (fault injection or host heap exhausted).
    pub failed_allocations: u64,
}

/// One entry of a [`Snapshot`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotEntry {
    /// The pool type.
    pub pool: PoolType,
    /// The pool tag.
    pub tag: u32,
    /// Its accounting.
    pub stats: PoolStats,
}

/// A copy of the accounting of every (pool type, tag) pair that has seen
/// any activity, taken under the lock at one instant.
#[derive(Clone)]
pub struct Snapshot {
    entries: [Option<SnapshotEntry>; MAX_TAGS * 2],
    len: usize,
}

impl Snapshot {
    /// The entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &SnapshotEntry> + '_ {
        self.entries[..self.len].iter().flatten()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry of (`pool`, `tag`), if it saw any activity.
    pub fn get(&self, pool: PoolType, tag: u32) -> Option<&SnapshotEntry> {
        self.iter().find(|e| e.pool == pool && e.tag == tag)
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[derive(Clone, Copy, Default)]
struct FaultPlan {
    /// Attempts left before the injected failure; 0 = none planned.
    nth: u64,
    /// Pool filter of `nth` (`None`: any pool).
    nth_pool: Option<PoolType>,
    /// Fail every allocation.
    all: bool,
    /// Pool filter of `all`.
    all_pool: Option<PoolType>,
}

impl FaultPlan {
    /// Counts one attempt from `pool` and says whether it must fail.
    fn should_fail(&mut self, pool: PoolType) -> bool {
        let mut fail = false;
        if self.nth != 0 && self.nth_pool.is_none_or(|p| p == pool) {
            self.nth -= 1;
            fail = self.nth == 0;
        }
        if self.all && self.all_pool.is_none_or(|p| p == pool) {
            fail = true;
        }
        fail
    }
}

#[derive(Clone, Copy)]
struct Slot {
    tag: u32,
    stats: [PoolStats; 2],
    faults: FaultPlan,
}

struct Table {
    slots: [Option<Slot>; MAX_TAGS],
}

impl Table {
    fn find(&mut self, tag: u32) -> Option<&mut Slot> {
        self.slots.iter_mut().flatten().find(|s| s.tag == tag)
    }

    fn find_or_insert(&mut self, tag: u32) -> &mut Slot {
        let idx = match self
            .slots
            .iter()
            .position(|s| s.is_some_and(|s| s.tag == tag))
        {
            Some(i) => i,
            None => {
                let Some(i) = self.slots.iter().position(Option::is_none) else {
                    panic!(
                        "kcom::alloc::sim: more than {MAX_TAGS} distinct pool tags in use; \
                         call sim::forget_tag for tags that are done"
                    );
                };
                self.slots[i] = Some(Slot {
                    tag,
                    stats: [PoolStats::default(); 2],
                    faults: FaultPlan::default(),
                });
                i
            }
        };
        match &mut self.slots[idx] {
            Some(slot) => slot,
            None => unreachable!("slot {idx} was just found or filled"),
        }
    }
}

/// The table behind a spin lock (no `std` in kcom).
struct Locked {
    busy: AtomicBool,
    table: UnsafeCell<Table>,
}

// SAFETY: `table` is only reached through `with`, which holds `busy`
// (acquired with `Acquire`, released with `Release`), so accesses are
// serialised across threads.
unsafe impl Sync for Locked {}

static TABLE: Locked = Locked {
    busy: AtomicBool::new(false),
    table: UnsafeCell::new(Table {
        slots: [None; MAX_TAGS],
    }),
};

/// Releases the lock even if the closure panics.
struct Unlock;
impl Drop for Unlock {
    fn drop(&mut self) {
        TABLE.busy.store(false, Ordering::Release);
    }
}

/// Runs `f` with exclusive access to the table. `f` must not call back
/// into the simulation (it would spin forever); none of the callers do.
fn with<R>(f: impl FnOnce(&mut Table) -> R) -> R {
    while TABLE
        .busy
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        while TABLE.busy.load(Ordering::Relaxed) {
            core::hint::spin_loop();
        }
    }
    let _unlock = Unlock;
    // SAFETY: the lock is held until `_unlock` drops, so this is the only
    // reference to the table.
    f(unsafe { &mut *TABLE.table.get() })
}

/// The accounting of (`pool`, `tag`); all zeros for an unknown tag.
pub fn stats(pool: PoolType, tag: u32) -> PoolStats {
    with(|t| {
        t.find(tag)
            .map(|s| s.stats[pool.index()])
            .unwrap_or_default()
    })
}

/// The accounting of every (pool type, tag) pair that has seen activity.
pub fn snapshot() -> Snapshot {
    with(|t| {
        let mut snap = Snapshot {
            entries: [None; MAX_TAGS * 2],
            len: 0,
        };
        for slot in t.slots.iter().flatten() {
            for pool in PoolType::ALL {
                let stats = slot.stats[pool.index()];
                if stats != PoolStats::default() {
                    snap.entries[snap.len] = Some(SnapshotEntry {
                        pool,
                        tag: slot.tag,
                        stats,
                    });
                    snap.len += 1;
                }
            }
        }
        snap
    })
}

/// Makes the `n`th allocation attempt with `tag` from now fail (`n == 1`:
/// the next one), once; attempts from other pools than `pool` are not
/// counted when `pool` is `Some`. `n == 0` cancels a planned failure.
/// Replaces any earlier `fail_nth` plan of the tag.
pub fn fail_nth(tag: u32, pool: Option<PoolType>, n: u64) {
    with(|t| {
        let f = &mut t.find_or_insert(tag).faults;
        f.nth = n;
        f.nth_pool = pool;
    })
}

/// Makes every allocation with `tag` (from `pool`, or any pool when
/// `None`) fail while `on`; `on == false` turns it off.
pub fn fail_all(tag: u32, pool: Option<PoolType>, on: bool) {
    with(|t| {
        let f = &mut t.find_or_insert(tag).faults;
        f.all = on;
        f.all_pool = pool;
    })
}

/// Cancels every planned failure of `tag`.
pub fn clear_faults(tag: u32) {
    with(|t| {
        if let Some(s) = t.find(tag) {
            s.faults = FaultPlan::default();
        }
    })
}

/// Resets the totals, failure count and peak of `tag` (both pool types);
/// outstanding counts stay, since those blocks are still live.
pub fn reset_counters(tag: u32) {
    with(|t| {
        if let Some(s) = t.find(tag) {
            for st in &mut s.stats {
                *st = PoolStats {
                    outstanding_allocations: st.outstanding_allocations,
                    outstanding_bytes: st.outstanding_bytes,
                    peak_bytes: st.outstanding_bytes,
                    ..PoolStats::default()
                };
            }
        }
    })
}

/// Frees the table slot of `tag` (stats and fault plan) so the slot can be
/// reused. Returns `false`, keeping the slot, while the tag still has
/// outstanding allocations.
pub fn forget_tag(tag: u32) -> bool {
    with(|t| {
        let Some(i) = t.slots.iter().position(|s| s.is_some_and(|s| s.tag == tag)) else {
            return true;
        };
        let busy =
            t.slots[i].is_some_and(|s| s.stats.iter().any(|st| st.outstanding_allocations != 0));
        if !busy {
            t.slots[i] = None;
        }
        !busy
    })
}

/// Header in front of every simulated block.
#[repr(C)]
#[derive(Clone, Copy)]
struct BlockHeader {
    magic: u64,
    tag: u32,
    pool: u32,
    size: usize,
    _reserved: usize,
}

const HDR: usize = core::mem::size_of::<BlockHeader>();
const LIVE: u64 = 0x6B63_6F6D_5349_4D21; // "kcomSIM!"
const DEAD: u64 = 0x6B63_6F6D_4652_4545; // "kcomFREE"
const _: () = assert!(HDR.is_multiple_of(MEMORY_ALLOCATION_ALIGNMENT));

fn host_layout(size: usize) -> Option<core::alloc::Layout> {
    let total = size.checked_add(HDR)?;
    core::alloc::Layout::from_size_align(total, MEMORY_ALLOCATION_ALIGNMENT).ok()
}

/// Resolves `ExAllocatePool2` in driver builds. The simulated pool needs
/// nothing resolved and always zeroes natively: returns `true`.
pub fn init_ex_allocate_pool2() -> bool {
    true
}

/// Allocates a simulated pool block of `size` bytes (the backend's
/// `alloc`, as the kernel backend's).
///
/// # Safety
///
/// `size` is non-zero; the block must be freed by [`free`] with the same
/// pool and tag. (Nothing here is unsafe on the host; the contract is the
/// kernel backend's.)
pub(super) unsafe fn alloc(pool: PoolType, tag: u32, size: usize, zeroed: bool) -> *mut u8 {
    debug_assert!(size != 0);
    let fail = with(|t| {
        let slot = t.find_or_insert(tag);
        let fail = slot.faults.should_fail(pool);
        if fail {
            slot.stats[pool.index()].failed_allocations += 1;
        }
        fail
    });
    if fail {
        return core::ptr::null_mut();
    }
    let base = match host_layout(size) {
        // SAFETY: the layout has a non-zero size (at least HDR).
        Some(l) if zeroed => unsafe { std_alloc::alloc::alloc_zeroed(l) },
        // SAFETY: as above.
        Some(l) => unsafe { std_alloc::alloc::alloc(l) },
        None => core::ptr::null_mut(),
    };
    with(|t| {
        let st = &mut t.find_or_insert(tag).stats[pool.index()];
        if base.is_null() {
            st.failed_allocations += 1;
        } else {
            st.outstanding_allocations += 1;
            st.outstanding_bytes += size as u64;
            st.peak_bytes = st.peak_bytes.max(st.outstanding_bytes);
            st.total_allocations += 1;
        }
    });
    if base.is_null() {
        return base;
    }
    let header = BlockHeader {
        magic: LIVE,
        tag,
        pool: pool.index() as u32,
        size,
        _reserved: 0,
    };
    // SAFETY: the block starts with HDR bytes reserved for the header and is
    // aligned for it.
    unsafe { base.cast::<BlockHeader>().write(header) };
    // SAFETY: HDR < total block size.
    unsafe { base.add(HDR) }
}

/// Frees a simulated pool block, checking it like a pool free would.
///
/// # Safety
///
/// `ptr` must be a pointer returned by [`alloc`] (the checks catch a wrong
/// tag or pool type and, best effort, double frees).
pub(super) unsafe fn free(pool: PoolType, tag: u32, ptr: *mut u8) {
    if ptr.is_null() {
        panic!(
            "kcom::alloc::sim: free of a null pointer (pool {}, tag {})",
            pool.name(),
            TagName(tag)
        );
    }
    // SAFETY: `ptr` came from `alloc`, which put the header HDR bytes
    // before it.
    let hp = unsafe { ptr.sub(HDR) }.cast::<BlockHeader>();
    // SAFETY: as above: aligned and initialised.
    let h = unsafe { hp.read() };
    if h.magic != LIVE {
        panic!(
            "kcom::alloc::sim: free of {ptr:p} that is not a live pool block (double free or \
             foreign pointer; pool {}, tag {})",
            pool.name(),
            TagName(tag)
        );
    }
    if h.tag != tag || h.pool != pool.index() as u32 {
        panic!(
            "kcom::alloc::sim: block {ptr:p} allocated from pool {} with tag {} freed as pool {} \
             with tag {} (BAD_POOL_CALLER on a real kernel)",
            PoolType::ALL[h.pool as usize & 1].name(),
            TagName(h.tag),
            pool.name(),
            TagName(tag)
        );
    }
    // SAFETY: the header is ours; marking it lets a second free of the same
    // pointer be reported while the memory happens to still be mapped.
    unsafe { core::ptr::addr_of_mut!((*hp).magic).write(DEAD) };
    with(|t| {
        let st = &mut t.find_or_insert(tag).stats[pool.index()];
        st.outstanding_allocations -= 1;
        st.outstanding_bytes -= h.size as u64;
        st.total_frees += 1;
    });
    let Some(layout) = host_layout(h.size) else {
        unreachable!("the block was allocated with this size");
    };
    // SAFETY: `hp` is the host block allocated with this layout.
    unsafe { std_alloc::alloc::dealloc(hp.cast(), layout) };
}

/// Shows a tag as its four characters when printable, else in hex.
#[derive(Clone, Copy)]
pub struct TagName(pub u32);

impl fmt::Display for TagName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0.to_le_bytes();
        if b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
            for c in b {
                fmt::Write::write_char(f, c as char)?;
            }
            Ok(())
        } else {
            write!(f, "{:#010x}", self.0)
        }
    }
}

impl fmt::Debug for TagName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TagName({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_plan_counts_matching_attempts_only() {
        let mut f = FaultPlan {
            nth: 2,
            nth_pool: Some(PoolType::Paged),
            ..FaultPlan::default()
        };
        assert!(!f.should_fail(PoolType::NonPagedNx));
        assert!(!f.should_fail(PoolType::Paged));
        assert!(!f.should_fail(PoolType::NonPagedNx));
        assert!(f.should_fail(PoolType::Paged));
        assert!(!f.should_fail(PoolType::Paged), "fails once");

        let mut f = FaultPlan {
            all: true,
            all_pool: None,
            ..FaultPlan::default()
        };
        assert!(f.should_fail(PoolType::Paged) && f.should_fail(PoolType::NonPagedNx));
    }

    #[test]
    fn forget_tag_keeps_slots_with_live_blocks() {
        let tag = u32::from_le_bytes(*b"sFg1");
        // SAFETY: a non-zero size; freed below with the same pool and tag.
        let p = unsafe { alloc(PoolType::NonPagedNx, tag, 10, true) };
        assert!(!p.is_null());
        assert!(!forget_tag(tag));
        assert_eq!(stats(PoolType::NonPagedNx, tag).outstanding_bytes, 10);
        // SAFETY: allocated above with this pool and tag.
        unsafe { free(PoolType::NonPagedNx, tag, p) };
        assert!(forget_tag(tag));
        assert_eq!(stats(PoolType::NonPagedNx, tag), PoolStats::default());
        assert!(snapshot().get(PoolType::NonPagedNx, tag).is_none());
    }
}
