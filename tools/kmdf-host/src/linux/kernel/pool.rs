//! The kernel pool as Driver Verifier sees it: every block tracked with its
//! tag, pool type, size and the driver's call site; frees checked (double,
//! unknown, wrong tag); low-resources simulation; special pool (each block
//! against a no-access page, freed blocks kept inaccessible). Ordinary
//! blocks are followed by guard bytes, checked when the block is freed, so
//! that a small overrun is found without special pool and lands in memory
//! the host can spare.

use std::alloc::Layout;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ffi::c_void;
use std::ptr;
use std::sync::Mutex;

use crate::options::{FaultInjection, Options, TagFilter, tag_text};
use crate::report::{Origin, Outstanding, PoolKind, TagStats};

const PAGE: usize = 4096;
/// Uninitialised pool memory reads as this byte (never as zero).
const UNINITIALISED_FILL: u8 = 0xC7;
/// Special pool fills the rest of a block's pages with this byte and checks
/// it when the block is freed.
const SPECIAL_FILL: u8 = 0xA5;
/// Freed special-pool mappings kept inaccessible before they are unmapped.
const QUARANTINE_BLOCKS: usize = 256;
/// Guard bytes after every ordinary block, filled with [`GUARD_FILL`].
const GUARD: usize = 16;
/// The guard bytes' value.
const GUARD_FILL: u8 = 0xB7;
/// Freed blocks remembered, to name a double free.
const FREED_HISTORY: usize = 4096;

/// A request for pool memory.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request<'a> {
    pub size: usize,
    pub tag: u32,
    pub kind: PoolKind,
    pub origin: Origin,
    pub zeroed: bool,
    pub alignment: usize,
    /// The driver's call site.
    pub caller: usize,
    /// What the block is for (framework and I/O manager blocks).
    pub what: Option<&'a str>,
}

/// Why an allocation returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Low-resources simulation.
    Injected,
    /// The host itself is out of memory, or the size is absurd.
    Exhausted,
}

/// The result of a free.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Freed {
    /// Freed.
    Ok(BlockInfo),
    /// Freed, but the caller named another tag.
    WrongTag(BlockInfo),
    /// The block was freed before (by the caller at the given address) and
    /// not allocated again; nothing was freed.
    DoubleFree(BlockInfo, usize),
    /// Not an address an allocation returned; nothing was freed.
    NotAllocated,
}

/// What a block was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BlockInfo {
    pub size: usize,
    pub tag: u32,
    pub kind: PoolKind,
    pub origin: Origin,
    pub caller: usize,
    /// The bytes around the block (special pool's fill, the guard of an
    /// ordinary block) were overwritten, first at this offset from the
    /// block's start.
    pub corrupted_at: Option<isize>,
    /// What the block is for (framework and I/O manager blocks).
    pub what: Option<String>,
}

/// Where a faulting address lies relative to a special-pool block.
#[derive(Clone, Debug)]
pub(crate) struct SpecialHit {
    pub block: BlockInfo,
    /// Offset of the address from the block's start.
    pub offset: isize,
    /// The block had been freed.
    pub freed: bool,
}

#[derive(Debug)]
enum Storage {
    Heap(Layout),
    Special { map: usize, len: usize },
}

#[derive(Debug)]
struct Block {
    info: BlockInfo,
    storage: Storage,
}

#[derive(Debug)]
struct Quarantined {
    map: usize,
    len: usize,
    start: usize,
    info: BlockInfo,
}

#[derive(Debug)]
enum Rule {
    Nth {
        filter: TagFilter,
        remaining: u64,
    },
    Fraction {
        filter: TagFilter,
        per_million: u32,
        state: u64,
    },
}

#[derive(Debug, Default)]
struct State {
    blocks: HashMap<usize, Block>,
    tags: BTreeMap<u32, TagStats>,
    allocations: u64,
    injected: u64,
    rules: Vec<Rule>,
    quarantine: VecDeque<Quarantined>,
    /// `(address, block, freed by)`, newest last.
    freed: VecDeque<(usize, BlockInfo, usize)>,
}

/// The pool of one session.
#[derive(Debug)]
pub(crate) struct Pool {
    state: Mutex<State>,
    special: bool,
}

impl Pool {
    pub(crate) fn new(options: &Options) -> Pool {
        let pool = Pool {
            state: Mutex::new(State::default()),
            special: options.special_pool,
        };
        for rule in &options.faults {
            pool.inject(*rule);
        }
        pool
    }

    /// Adds a low-resources rule.
    pub(crate) fn inject(&self, rule: FaultInjection) {
        let rule = match rule {
            FaultInjection::Nth { filter, n } => Rule::Nth {
                filter,
                remaining: n.max(1),
            },
            FaultInjection::Fraction {
                filter,
                per_million,
                seed,
            } => Rule::Fraction {
                filter,
                per_million,
                state: seed,
            },
        };
        self.state.lock().unwrap().rules.push(rule);
    }

    /// Removes every low-resources rule.
    pub(crate) fn clear_injection(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// Allocations made so far (successful or failed by injection).
    pub(crate) fn allocation_count(&self) -> u64 {
        let s = self.state.lock().unwrap();
        s.allocations + s.injected
    }

    /// Allocates a block.
    pub(crate) fn allocate(&self, req: Request<'_>) -> Result<*mut u8, Failure> {
        let mut s = self.state.lock().unwrap();
        if should_fail(&mut s.rules, req.tag) {
            s.injected += 1;
            s.tags
                .entry(req.tag)
                .or_insert_with(|| TagStats {
                    tag: req.tag,
                    ..TagStats::default()
                })
                .injected_failures += 1;
            return Err(Failure::Injected);
        }
        if req.size > (1 << 40) {
            return Err(Failure::Exhausted);
        }
        let special = self.special && req.origin != Origin::Framework;
        let (p, storage) = if special {
            special_alloc(req.size, req.alignment)?
        } else {
            let align = if req.size >= PAGE {
                PAGE
            } else {
                req.alignment.max(16)
            };
            let layout =
                Layout::from_size_align(req.size + GUARD, align).map_err(|_| Failure::Exhausted)?;
            // SAFETY: a non-zero-sized layout (GUARD > 0).
            let p = unsafe { std::alloc::alloc(layout) };
            if p.is_null() {
                return Err(Failure::Exhausted);
            }
            // SAFETY: the guard: the last GUARD of the layout's bytes.
            unsafe { ptr::write_bytes(p.add(req.size), GUARD_FILL, GUARD) };
            (p, Storage::Heap(layout))
        };
        let fill = if req.zeroed { 0 } else { UNINITIALISED_FILL };
        // SAFETY: `p` has `req.size` writable bytes.
        unsafe { ptr::write_bytes(p, fill, req.size) };
        let info = BlockInfo {
            size: req.size,
            tag: req.tag,
            kind: req.kind,
            origin: req.origin,
            caller: req.caller,
            corrupted_at: None,
            what: req.what.map(str::to_owned),
        };
        s.allocations += 1;
        let stats = s.tags.entry(req.tag).or_insert_with(|| TagStats {
            tag: req.tag,
            ..TagStats::default()
        });
        stats.allocations += 1;
        stats.outstanding += 1;
        stats.outstanding_bytes += req.size as u64;
        s.blocks.insert(p as usize, Block { info, storage });
        Ok(p)
    }

    /// Frees `p`; `tag` is the tag the caller names (`None`: no check);
    /// `by` is the caller's address, remembered to name a later double
    /// free.
    pub(crate) fn free(&self, p: usize, tag: Option<u32>, by: usize) -> Freed {
        let mut s = self.state.lock().unwrap();
        let Some(block) = s.blocks.remove(&p) else {
            return match s.freed.iter().rev().find(|f| f.0 == p) {
                Some((_, info, by)) => Freed::DoubleFree(info.clone(), *by),
                None => Freed::NotAllocated,
            };
        };
        let mut info = block.info;
        if let Some(stats) = s.tags.get_mut(&info.tag) {
            stats.frees += 1;
            stats.outstanding -= 1;
            stats.outstanding_bytes -= info.size as u64;
        }
        match block.storage {
            Storage::Heap(layout) => {
                // SAFETY: the block's guard bytes, inside its layout.
                let guard =
                    unsafe { std::slice::from_raw_parts((p + info.size) as *const u8, GUARD) };
                info.corrupted_at = guard
                    .iter()
                    .position(|&b| b != GUARD_FILL)
                    .map(|i| (info.size + i) as isize);
                // SAFETY: `p` was allocated with `layout` and is freed once:
                // it was just removed from the table.
                unsafe { std::alloc::dealloc(p as *mut u8, layout) };
            }
            Storage::Special { map, len } => {
                info.corrupted_at = check_fill(map, len, p, info.size);
                // SAFETY: the block's own mapping: made inaccessible, kept
                // for a while so that a use after free faults.
                unsafe { libc::mprotect(map as *mut c_void, len, libc::PROT_NONE) };
                s.quarantine.push_back(Quarantined {
                    map,
                    len,
                    start: p,
                    info: info.clone(),
                });
                if s.quarantine.len() > QUARANTINE_BLOCKS {
                    let old = s.quarantine.pop_front().unwrap();
                    // SAFETY: a quarantined mapping, no longer referenced.
                    unsafe { libc::munmap(old.map as *mut c_void, old.len) };
                }
            }
        }
        s.freed.push_back((p, info.clone(), by));
        if s.freed.len() > FREED_HISTORY {
            s.freed.pop_front();
        }
        match tag {
            Some(t) if (t ^ info.tag) & 0x7FFF_FFFF != 0 => Freed::WrongTag(info),
            _ => Freed::Ok(info),
        }
    }

    /// The block holding `p`, if `p` is the start of an allocated block.
    pub(crate) fn block(&self, p: usize) -> Option<BlockInfo> {
        self.state
            .lock()
            .unwrap()
            .blocks
            .get(&p)
            .map(|b| b.info.clone())
    }

    /// Which special-pool block (live or freed) `address` belongs to, for
    /// the fault handler.
    pub(crate) fn special_hit(&self, address: usize) -> Option<SpecialHit> {
        let s = self.state.try_lock().ok()?;
        for (&start, block) in &s.blocks {
            if let Storage::Special { map, len } = block.storage
                && address >= map
                && address < map + len + PAGE
            {
                return Some(SpecialHit {
                    block: block.info.clone(),
                    offset: address as isize - start as isize,
                    freed: false,
                });
            }
        }
        s.quarantine
            .iter()
            .rev()
            .find(|q| address >= q.map && address < q.map + q.len + PAGE)
            .map(|q| SpecialHit {
                block: q.info.clone(),
                offset: address as isize - q.start as isize,
                freed: true,
            })
    }

    /// Blocks still allocated, by origin and tag, and the counters.
    pub(crate) fn outstanding(&self, describe: &dyn Fn(usize) -> String) -> Vec<Outstanding> {
        let s = self.state.lock().unwrap();
        let mut list: Vec<(u64, Outstanding)> = s
            .blocks
            .iter()
            .map(|(&addr, b)| {
                (
                    addr as u64,
                    Outstanding {
                        tag: b.info.tag,
                        pool: b.info.kind,
                        size: b.info.size,
                        origin: b.info.origin,
                        allocated_at: match &b.info.what {
                            Some(w) => format!("{w}, requested at {}", describe(b.info.caller)),
                            None => describe(b.info.caller),
                        },
                    },
                )
            })
            .collect();
        list.sort_by_key(|a| (a.1.origin, a.1.tag, a.0));
        list.into_iter().map(|(_, o)| o).collect()
    }

    /// `(allocations, injected failures, per-tag counters)`.
    pub(crate) fn counters(&self) -> (u64, u64, Vec<TagStats>) {
        let s = self.state.lock().unwrap();
        (
            s.allocations,
            s.injected,
            s.tags.values().cloned().collect(),
        )
    }

    /// Outstanding blocks of `origin`.
    pub(crate) fn outstanding_count(&self, origin: Origin) -> usize {
        self.state
            .lock()
            .unwrap()
            .blocks
            .values()
            .filter(|b| b.info.origin == origin)
            .count()
    }

    /// One line for a stop report (`None` if the pool is locked).
    pub(crate) fn try_summary(&self) -> Option<String> {
        let s = self.state.try_lock().ok()?;
        let mut by_tag: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
        for b in s.blocks.values() {
            let e = by_tag.entry(b.info.tag).or_default();
            e.0 += 1;
            e.1 += b.info.size;
        }
        let tags: Vec<String> = by_tag
            .iter()
            .map(|(t, (n, bytes))| format!("'{}' {n} ({bytes} bytes)", tag_text(*t)))
            .collect();
        Some(format!(
            "pool: {} allocations, {} failed by injection, {} outstanding: {}",
            s.allocations,
            s.injected,
            s.blocks.len(),
            if tags.is_empty() {
                "none".to_string()
            } else {
                tags.join(", ")
            }
        ))
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let s = self.state.get_mut().unwrap();
        for (p, block) in s.blocks.drain() {
            match block.storage {
                // SAFETY: the session is gone: nothing references its pool
                // blocks any more; each is freed once.
                Storage::Heap(layout) => unsafe { std::alloc::dealloc(p as *mut u8, layout) },
                // SAFETY: as above, for a special-pool mapping.
                Storage::Special { map, len } => unsafe {
                    libc::munmap(map as *mut c_void, len);
                },
            }
        }
        for q in s.quarantine.drain(..) {
            // SAFETY: a quarantined mapping owned by this pool.
            unsafe { libc::munmap(q.map as *mut c_void, q.len) };
        }
    }
}

/// Whether a low-resources rule fails this allocation.
fn should_fail(rules: &mut Vec<Rule>, tag: u32) -> bool {
    let mut fail = false;
    rules.retain_mut(|rule| match rule {
        Rule::Nth { filter, remaining } => {
            if !filter.matches(tag) || fail {
                return true;
            }
            *remaining -= 1;
            if *remaining == 0 {
                fail = true;
                false
            } else {
                true
            }
        }
        Rule::Fraction {
            filter,
            per_million,
            state,
        } => {
            if filter.matches(tag) && !fail {
                fail = splitmix64(state) % 1_000_000 < u64::from(*per_million);
            }
            true
        }
    });
    fail
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A special-pool block: its own pages followed by one no-access page, the
/// block's end against it (blocks of a page or more start on a page and end
/// at most `alignment - 1` bytes before the guard); the rest of the pages is
/// filled with [`SPECIAL_FILL`].
fn special_alloc(size: usize, alignment: usize) -> Result<(*mut u8, Storage), Failure> {
    let data_pages = size.max(1).div_ceil(PAGE) * PAGE;
    let len = data_pages;
    // SAFETY: a new anonymous mapping: the data pages and the guard page.
    let map = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len + PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if map == libc::MAP_FAILED {
        return Err(Failure::Exhausted);
    }
    let map = map as usize;
    // SAFETY: the last page of the mapping just made.
    unsafe { libc::mprotect((map + len) as *mut c_void, PAGE, libc::PROT_NONE) };
    let align = alignment.max(16);
    let start = if size >= PAGE {
        map
    } else {
        (map + len - size.max(1)) & !(align - 1)
    };
    // SAFETY: the data pages are writable and ours.
    unsafe { ptr::write_bytes(map as *mut u8, SPECIAL_FILL, len) };
    Ok((
        start as *mut u8,
        Storage::Special {
            map,
            len: len + PAGE,
        },
    ))
}

/// The first byte of the fill around `start..start+size` that changed,
/// relative to `start`.
fn check_fill(map: usize, len: usize, start: usize, size: usize) -> Option<isize> {
    let data_len = len - PAGE;
    // SAFETY: the data pages of a live special-pool mapping.
    let bytes = unsafe { std::slice::from_raw_parts(map as *const u8, data_len) };
    let (before, after) = (start - map, start - map + size);
    bytes[..before]
        .iter()
        .rposition(|&b| b != SPECIAL_FILL)
        .map(|i| i as isize - before as isize)
        .or_else(|| {
            bytes[after..]
                .iter()
                .position(|&b| b != SPECIAL_FILL)
                .map(|i| (size + i) as isize)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(size: usize, tag: &[u8; 4]) -> Request<'static> {
        Request {
            size,
            tag: u32::from_le_bytes(*tag),
            kind: PoolKind::NonPagedNx,
            origin: Origin::Driver,
            zeroed: false,
            alignment: 16,
            caller: 0,
            what: None,
        }
    }

    #[test]
    fn blocks_are_tracked_and_frees_checked() {
        let pool = Pool::new(&Options::default());
        let p = pool.allocate(req(40, b"Test")).unwrap();
        assert_eq!(p as usize % 16, 0);
        // Uninitialised memory is never zero.
        assert!(
            // SAFETY: 40 bytes just allocated, filled by the pool.
            unsafe { std::slice::from_raw_parts(p, 40) }
                .iter()
                .all(|&b| b == UNINITIALISED_FILL)
        );
        assert_eq!(pool.outstanding(&|_| String::new()).len(), 1);
        let wrong = u32::from_le_bytes(*b"Tset");
        assert!(matches!(
            pool.free(p as usize, Some(wrong), 0x10),
            Freed::WrongTag(_)
        ));
        assert!(matches!(
            pool.free(p as usize, None, 0x20),
            Freed::DoubleFree(ref info, 0x10) if info.size == 40
        ));
        let unknown = 8usize;
        assert_eq!(
            pool.free(&unknown as *const usize as usize, None, 0),
            Freed::NotAllocated
        );
        assert!(pool.outstanding(&|_| String::new()).is_empty());
        let big = pool.allocate(req(5000, b"Big ")).unwrap();
        assert_eq!(big as usize % PAGE, 0);
        assert!(matches!(
            pool.free(big as usize, Some(u32::from_le_bytes(*b"Big ")), 0),
            Freed::Ok(_)
        ));
    }

    #[test]
    fn an_overrun_of_an_ordinary_block_is_found_at_the_free() {
        let pool = Pool::new(&Options::default());
        let p = pool.allocate(req(48, b"Ovr ")).unwrap();
        // SAFETY: the first guard byte after the 48-byte block, inside the
        // block's allocation (the pool's guard).
        unsafe { p.add(48).write(0xCC) };
        let Freed::Ok(info) = pool.free(p as usize, None, 0) else {
            panic!("not freed")
        };
        assert_eq!(info.corrupted_at, Some(48));
        let q = pool.allocate(req(48, b"Ok  ")).unwrap();
        let Freed::Ok(info) = pool.free(q as usize, None, 0) else {
            panic!("not freed")
        };
        assert_eq!(info.corrupted_at, None);
    }

    #[test]
    fn nth_and_fraction_injection() {
        let pool = Pool::new(&Options::default());
        let tag = u32::from_le_bytes(*b"Inj ");
        pool.inject(FaultInjection::Nth {
            filter: TagFilter::Tag(tag),
            n: 2,
        });
        let a = pool.allocate(req(8, b"Oth ")).unwrap();
        let b = pool.allocate(req(8, b"Inj ")).unwrap();
        assert_eq!(pool.allocate(req(8, b"Inj ")), Err(Failure::Injected));
        let c = pool.allocate(req(8, b"Inj ")).unwrap();
        for p in [a, b, c] {
            assert!(matches!(pool.free(p as usize, None, 0), Freed::Ok(_)));
        }
        pool.inject(FaultInjection::Fraction {
            filter: TagFilter::Any,
            per_million: 500_000,
            seed: 7,
        });
        let results: Vec<bool> = (0..64)
            .map(|_| {
                let r = pool.allocate(req(8, b"Frac"));
                if let Ok(p) = r {
                    pool.free(p as usize, None, 0);
                }
                r.is_ok()
            })
            .collect();
        assert!(results.iter().any(|&ok| ok) && results.iter().any(|&ok| !ok));
        let (_, injected, _) = pool.counters();
        assert_eq!(
            injected as usize,
            1 + results.iter().filter(|&&ok| !ok).count()
        );
    }

    #[test]
    fn special_pool_puts_blocks_against_a_guard_and_checks_the_fill() {
        let options = Options {
            special_pool: true,
            ..Options::default()
        };
        let pool = Pool::new(&options);
        let p = pool.allocate(req(24, b"Spec")).unwrap() as usize;
        let hit = pool.special_hit(p + 24 + 8).expect("just past the block");
        assert_eq!(hit.offset, 32);
        assert!(!hit.freed);
        // SAFETY: one byte past the 24-byte block, inside the 16-byte
        // alignment slack, still in the mapping.
        unsafe { *((p + 25) as *mut u8) = 0 };
        let Freed::Ok(info) = pool.free(p, None, 0) else {
            panic!("not freed")
        };
        assert_eq!(info.corrupted_at, Some(25));
        assert!(pool.special_hit(p).expect("quarantined").freed);
    }
}
