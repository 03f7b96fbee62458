//! The record workload: 64-byte [`Record`]s derived from the seed and the
//! index, made one per iteration (boxed, initialised in place or wrapped in
//! a COM object by the exercise), at most [`MAX_LIVE_BLOCKS`] alive, each
//! verified and folded into the checksum when it is retired.

use kcom::{NTSTATUS, STATUS_DATA_ERROR};

use super::{FOLD_BASIS, fold, fold_block, pattern_word};
use crate::protocol::{ExerciseParams, MAX_LIVE_BLOCKS};

/// Pattern words in a [`Record`].
const RECORD_WORDS: usize = 7;

/// The value the record workloads box, initialise in place or wrap in COM
/// objects: 64 bytes derived from the seed and the index.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The iteration that made it.
    pub index: u32,
    /// Pattern words.
    pub words: [u64; RECORD_WORDS],
}

impl Record {
    /// The record of iteration `index`.
    pub fn new(seed: u64, index: u32) -> Self {
        let mut words = [0; RECORD_WORDS];
        for (chunk, w) in words.iter_mut().enumerate() {
            *w = pattern_word(seed, index, chunk);
        }
        Record { index, words }
    }

    /// The digest of its words.
    pub fn digest(&self) -> u64 {
        self.words.iter().fold(FOLD_BASIS, |h, &w| fold(h, w))
    }

    /// Checks the record against the one iteration `index` makes and folds
    /// it into `checksum`.
    pub fn verify_into(&self, seed: u64, index: u32, checksum: &mut u64) -> Result<(), NTSTATUS> {
        if *self != Record::new(seed, index) {
            return Err(STATUS_DATA_ERROR);
        }
        *checksum = fold_block(*checksum, index, size_of::<Record>(), self.digest());
        Ok(())
    }
}

/// The checksum the record workloads report for `params`.
pub fn expected_record_checksum(params: &ExerciseParams) -> u64 {
    (0..params.iterations).fold(FOLD_BASIS, |c, i| {
        fold_block(
            c,
            i,
            size_of::<Record>(),
            Record::new(params.seed, i).digest(),
        )
    })
}

/// Runs the record workload: `make(i)` makes iteration `i`'s object,
/// `retire(object, checksum)` verifies it and folds it into the checksum
/// (usually with [`Record::verify_into`]). Keeps up to [`MAX_LIVE_BLOCKS`]
/// objects alive, oldest retired first; returns the checksum. Objects still
/// alive on an error are dropped with the ring.
pub fn record_workload<T>(
    params: &ExerciseParams,
    mut make: impl FnMut(u32) -> Result<T, NTSTATUS>,
    mut retire: impl FnMut(T, &mut u64) -> Result<(), NTSTATUS>,
) -> Result<u64, NTSTATUS> {
    let mut ring: [Option<T>; MAX_LIVE_BLOCKS as usize] =
        [const { None }; MAX_LIVE_BLOCKS as usize];
    let mut checksum = FOLD_BASIS;
    for index in 0..params.iterations {
        let slot = index as usize % ring.len();
        if let Some(old) = ring[slot].take() {
            retire(old, &mut checksum)?;
        }
        ring[slot] = Some(make(index)?);
    }
    // The oldest live object sits right after the last one written.
    let start = params.iterations as usize % ring.len();
    for i in 0..ring.len() {
        if let Some(old) = ring[(start + i) % ring.len()].take() {
            retire(old, &mut checksum)?;
        }
    }
    Ok(checksum)
}
