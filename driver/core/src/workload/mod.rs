//! The workloads the exercises run, and the checksums that prove them.
//!
//! Every workload allocates blocks (or objects) whose sizes come from a
//! xorshift generator seeded with the request's seed, writes a pattern
//! derived from (seed, block index) into each, reads every block back
//! before freeing it and folds what it read into a checksum. The checksum
//! is a pure function of the parameters, computed without allocating by
//! [`expected_checksum`] (blocks) and [`expected_record_checksum`]
//! (records); a different checksum means memory did not read back as
//! written.
//!
//! * [`pattern`]: blocks on any allocator, oldest freed first (the kernel
//!   pool strategies);
//! * [`batch`]: the same blocks in batches on a strategy with a fixed
//!   region (bump, pool, free list, stack);
//! * [`record`]: 64-byte records boxed, initialised in place or wrapped in
//!   COM objects.
//!
//! Each keeps at most [`MAX_LIVE_BLOCKS`](crate::protocol::MAX_LIVE_BLOCKS)
//! blocks / [`MAX_LIVE_BYTES`](crate::protocol::MAX_LIVE_BYTES) bytes
//! alive, and frees everything it allocated on every exit path.

use core::ptr;

use crate::protocol::ExerciseParams;

pub mod batch;
pub mod pattern;
pub mod record;

pub use self::batch::{batch_workload, run_batched};
pub use self::pattern::{pattern_workload, run_tracked};
pub use self::record::{Record, expected_record_checksum, record_workload};

/// Deterministic xorshift64* generator (not for cryptography).
#[derive(Clone, Debug)]
pub struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    /// A generator for `seed` (a zero seed is replaced by a fixed non-zero
    /// constant, since xorshift would stay at zero).
    pub const fn new(seed: u64) -> Self {
        XorShift64 {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `lo..=hi` (`lo <= hi`).
    pub fn range_u32(&mut self, lo: u32, hi: u32) -> u32 {
        let span = u64::from(hi - lo) + 1;
        lo + (self.next_u64() % span) as u32
    }
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
const FOLD_PRIME: u64 = 0x0000_0100_0000_01B3;
pub(crate) const FOLD_BASIS: u64 = 0xCBF2_9CE4_8422_2325;

/// SplitMix64 finaliser: a bijective 64-bit mix.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The pattern word at 8-byte chunk `chunk` of block `index`.
pub(crate) fn pattern_word(seed: u64, index: u32, chunk: usize) -> u64 {
    let base = mix(seed ^ u64::from(index).wrapping_mul(GOLDEN));
    mix(base.wrapping_add((chunk as u64).wrapping_mul(GOLDEN)))
}

/// Folds one chunk (as a little-endian word, zero-padded) into a digest.
pub(crate) fn fold(h: u64, word: u64) -> u64 {
    (h ^ word).wrapping_mul(FOLD_PRIME)
}

/// Folds one verified block's digest into the run checksum.
pub(crate) fn fold_block(checksum: u64, index: u32, size: usize, digest: u64) -> u64 {
    fold(fold(fold(checksum, u64::from(index)), size as u64), digest)
}

/// Writes block `index`'s pattern into `size` bytes at `p`.
///
/// # Safety
///
/// `p` must be valid for writes of `size` bytes.
pub(crate) unsafe fn write_block(p: *mut u8, size: usize, seed: u64, index: u32) {
    let mut off = 0;
    let mut chunk = 0;
    while off < size {
        let n = (size - off).min(8);
        let bytes = pattern_word(seed, index, chunk).to_le_bytes();
        // SAFETY: `off + n <= size` and the caller guarantees `size` writable
        // bytes at `p`; `bytes` is a local array, so they do not overlap.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), p.add(off), n) };
        off += n;
        chunk += 1;
    }
}

/// Reads block `index` back, compares it with its pattern, and returns the
/// digest of what was read, or `None` on a mismatch.
pub(crate) fn verify(block: &[u8], seed: u64, index: u32) -> Option<u64> {
    let mut h = FOLD_BASIS;
    for (chunk, bytes) in block.chunks(8).enumerate() {
        let expected = pattern_word(seed, index, chunk).to_le_bytes();
        if bytes != &expected[..bytes.len()] {
            return None;
        }
        let mut word = [0u8; 8];
        word[..bytes.len()].copy_from_slice(bytes);
        h = fold(h, u64::from_le_bytes(word));
    }
    Some(h)
}

/// The checksum a correct run of `params` reports, computed without
/// allocating anything. Clients and tests use it to check a report.
pub fn expected_checksum(params: &ExerciseParams) -> u64 {
    let mut rng = XorShift64::new(params.seed);
    let mut checksum = FOLD_BASIS;
    for index in 0..params.iterations {
        let size = rng.range_u32(params.min_size, params.max_size) as usize;
        let mut h = FOLD_BASIS;
        let mut off = 0;
        let mut chunk = 0;
        while off < size {
            let n = (size - off).min(8);
            let mut word = pattern_word(params.seed, index, chunk).to_le_bytes();
            word[n..].fill(0);
            h = fold(h, u64::from_le_bytes(word));
            off += n;
            chunk += 1;
        }
        checksum = fold_block(checksum, index, size, h);
    }
    checksum
}

/// The digest of `size` bytes at `p` if they hold iteration `index`'s
/// pattern.
///
/// # Safety
///
/// `p` must be valid for reads of `size` initialised bytes that nobody
/// writes meanwhile.
pub(crate) unsafe fn verify_block(p: *const u8, size: usize, seed: u64, index: u32) -> Option<u64> {
    // SAFETY: forwarded contract.
    verify(unsafe { core::slice::from_raw_parts(p, size) }, seed, index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xorshift_is_deterministic_and_in_range() {
        let mut a = XorShift64::new(7);
        let mut b = XorShift64::new(7);
        for _ in 0..100 {
            let v = a.range_u32(3, 9);
            assert_eq!(v, b.range_u32(3, 9));
            assert!((3..=9).contains(&v));
        }
        assert_ne!(XorShift64::new(0).next_u64(), 0);
        assert_eq!(XorShift64::new(1).range_u32(5, 5), 5);
        let mut full = XorShift64::new(9);
        let _ = full.range_u32(0, u32::MAX);
    }
}
