//! The `allocator-api2` bridge (`kcom::alloc::Api2`) with every strategy:
//! `Vec` and `hashbrown::HashMap` work on stable Rust, zero-sized elements
//! never touch the strategy, and exhaustion is an `Err`, not an abort.

use allocator_api2::vec::Vec;
use hashbrown::{DefaultHashBuilder, HashMap};
use kcom::Allocator;
use kcom::alloc::{Api2, Bump, FreeList, Locked, Pool, Stack};
use tests_host::CountingAlloc;

/// Vec push / grow / truncate / shrink_to_fit; contents survive.
fn vec_roundtrip<A: Allocator>(a: &A) {
    let mut v: Vec<u32, _> = Vec::new_in(Api2::new(a));
    for i in 0..200 {
        v.push(i * 3);
    }
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32 * 3));
    v.truncate(10);
    v.shrink_to_fit();
    assert_eq!(v.capacity(), 10);
    assert_eq!(v.iter().sum::<u32>(), (0..10).map(|i| i * 3).sum());
    v.extend(0..5);
    assert_eq!(v.len(), 15);
}

/// HashMap inserts and removes; contents are right. With `presized`, the
/// table is allocated once up front and never rehashed (a rehash frees the
/// old table after allocating the new one, which a `Stack` forbids).
fn map_roundtrip<A: Allocator>(a: &A, presized: bool) {
    let mut m: HashMap<u64, u64, DefaultHashBuilder, _> = if presized {
        HashMap::with_capacity_and_hasher_in(100, Default::default(), Api2::new(a))
    } else {
        HashMap::with_hasher_in(Default::default(), Api2::new(a))
    };
    for k in 0..100 {
        m.insert(k, k * k);
    }
    for k in (0..100).step_by(2) {
        assert_eq!(m.remove(&k), Some(k * k));
    }
    assert_eq!(m.len(), 50);
    assert!(m.iter().all(|(k, v)| k % 2 == 1 && *v == k * k));
    if !presized {
        m.shrink_to_fit();
    }
    assert_eq!(m.get(&99), Some(&9801));
}

/// A Vec of zero-sized elements never allocates.
fn zst_vec<A: Allocator>(a: &A, used: impl Fn() -> usize) {
    let before = used();
    let mut v: Vec<(), _> = Vec::new_in(Api2::new(a));
    for _ in 0..10_000 {
        v.push(());
    }
    assert_eq!(v.len(), 10_000);
    v.shrink_to_fit();
    assert_eq!(used(), before, "zero-sized elements reached the strategy");
}

/// Fill until the strategy is exhausted; `try_reserve` then reports Err
/// and the Vec keeps its contents.
fn try_reserve_fails<A: Allocator>(a: &A) {
    let mut v: Vec<u8, _> = Vec::new_in(Api2::new(a));
    v.extend_from_slice(b"abc");
    assert!(v.try_reserve_exact(1 << 20).is_err());
    assert!(v.try_reserve(usize::MAX / 4).is_err());
    assert_eq!(&v[..], b"abc");
    let mut w: Vec<u64, _> = Vec::new_in(Api2::new(a));
    assert!(w.try_reserve(1 << 30).is_err());
    assert!(w.is_empty());
}

#[test]
fn bump() {
    let backing = CountingAlloc::new();
    {
        let mut b = Bump::with_capacity_in(64 * 1024, &backing).unwrap();
        vec_roundtrip(&b);
        map_roundtrip(&b, false);
        zst_vec(&b, || b.total_allocated());
        try_reserve_fails(&b);
        b.reset();
        // Exhaust for real: a Vec that grows until the bump is full.
        let mut v: Vec<u64, _> = Vec::new_in(Api2::new(&b));
        let mut n = 0u64;
        while v.try_reserve(1).is_ok() {
            v.push(n);
            n += 1;
        }
        assert!(n > 100);
        assert!(v.iter().copied().eq(0..n));
    }
    assert_eq!(backing.outstanding(), 0);
}

#[test]
fn pool() {
    let backing = CountingAlloc::new();
    {
        let p = Pool::with_blocks_in(4096, 8, &backing).unwrap();
        vec_roundtrip(&p);
        map_roundtrip(&p, false);
        zst_vec(&p, || p.num_allocated());
        try_reserve_fails(&p);
        assert_eq!(p.num_allocated(), 0);
        // Exhaust by count: every Vec takes one block.
        let mut vs: std::vec::Vec<Vec<u8, _>> = std::vec::Vec::new();
        for _ in 0..8 {
            let mut v = Vec::new_in(Api2::new(&p));
            v.try_reserve(16).unwrap();
            vs.push(v);
        }
        let mut extra: Vec<u8, _> = Vec::new_in(Api2::new(&p));
        assert!(extra.try_reserve(1).is_err());
        drop(vs);
        assert!(extra.try_reserve(1).is_ok());
    }
    assert_eq!(backing.outstanding(), 0);
}

#[test]
fn free_list() {
    let backing = CountingAlloc::new();
    {
        let f = FreeList::with_capacity_in(64 * 1024, &backing).unwrap();
        vec_roundtrip(&f);
        map_roundtrip(&f, false);
        zst_vec(&f, || f.total_allocated());
        try_reserve_fails(&f);
        assert_eq!(f.total_allocated(), 0);
        assert_eq!(f.remaining(), f.capacity());
    }
    assert_eq!(backing.outstanding(), 0);
}

#[test]
fn stack() {
    let backing = CountingAlloc::new();
    {
        let s = Stack::with_capacity_in(64 * 1024, &backing).unwrap();
        // One collection at a time is LIFO-safe.
        vec_roundtrip(&s);
        assert_eq!(s.total_allocated(), 0);
        map_roundtrip(&s, true);
        zst_vec(&s, || s.total_allocated());
        try_reserve_fails(&s);
        assert_eq!(s.total_allocated(), 0);
    }
    assert_eq!(backing.outstanding(), 0);
}

#[test]
fn locked_strategies_and_backing_failure() {
    let backing = CountingAlloc::new();
    {
        let f = Locked::new(FreeList::with_capacity_in(64 * 1024, &backing).unwrap());
        vec_roundtrip(&f);
        map_roundtrip(&f, false);
        try_reserve_fails(&f);
        assert_eq!(f.lock().total_allocated(), 0);
    }
    // A failing backing allocator behind the bridge: Err, no abort.
    backing.fail_after(0);
    let mut v: Vec<u8, _> = Vec::new_in(Api2::new(&backing));
    assert!(v.try_reserve(10).is_err());
    backing.never_fail();
    assert_eq!(backing.outstanding(), 0);
}
