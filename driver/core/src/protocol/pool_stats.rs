//! `POOL_STATS`: allocations and bytes outstanding per pool type and tag.

use kcom::{NTSTATUS, STATUS_INVALID_PARAMETER};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{Header, MAX_POOL_ENTRIES, U32, U64, wire};

/// `POOL_STATS` input: just the header.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
pub struct PoolStatsRequest {
    /// Version and [`PoolStatsRequest::SIZE`].
    pub header: Header,
}
wire::header_only_request!(PoolStatsRequest);

/// Accounting for one (pool type, tag) pair.
#[repr(C)]
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
pub struct PoolStatsEntry {
    /// Pool type (see [`pool_type`](super::pool_type)).
    pub pool_type: U32,
    /// Pool tag.
    pub tag: U32,
    /// Successful allocations since the device started.
    pub allocations: U64,
    /// Frees since the device started.
    pub frees: U64,
    /// Allocations currently live.
    pub outstanding_allocations: U64,
    /// Bytes currently live.
    pub outstanding_bytes: U64,
    /// Most bytes live at the same time since the device started.
    pub peak_bytes: U64,
}
wire::size!(PoolStatsEntry, 48);

impl PoolStatsEntry {
    /// Wire size in bytes.
    pub const SIZE: usize = size_of::<Self>();

    /// All zero.
    pub const EMPTY: PoolStatsEntry = PoolStatsEntry {
        pool_type: U32::ZERO,
        tag: U32::ZERO,
        allocations: U64::ZERO,
        frees: U64::ZERO,
        outstanding_allocations: U64::ZERO,
        outstanding_bytes: U64::ZERO,
        peak_bytes: U64::ZERO,
    };
}

/// `POOL_STATS` output.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
pub struct PoolStatsResponse {
    /// Version and [`PoolStatsResponse::SIZE`].
    pub header: Header,
    /// Number of valid entries at the front of `entries`.
    pub entry_count: U32,
    /// Reserved, zero.
    pub reserved: U32,
    /// The entries; those past `entry_count` are zero.
    pub entries: [PoolStatsEntry; MAX_POOL_ENTRIES],
}
wire::size!(PoolStatsResponse, 784);
wire::message!(PoolStatsResponse, header);

impl PoolStatsResponse {
    /// Wire size in bytes.
    pub const SIZE: usize = size_of::<Self>();

    /// A response with no entry.
    pub const fn empty() -> Self {
        PoolStatsResponse {
            header: Header::new(Self::SIZE),
            entry_count: U32::ZERO,
            reserved: U32::ZERO,
            entries: [PoolStatsEntry::EMPTY; MAX_POOL_ENTRIES],
        }
    }

    /// The valid entries.
    pub fn entries(&self) -> &[PoolStatsEntry] {
        let n = (self.entry_count.get() as usize).min(MAX_POOL_ENTRIES);
        &self.entries[..n]
    }

    /// The entry for `(pool_type, tag)`, if listed.
    pub fn find(&self, pool_type: u32, tag: u32) -> Option<&PoolStatsEntry> {
        self.entries()
            .iter()
            .find(|e| e.pool_type == pool_type && e.tag == tag)
    }

    /// Encodes into the front of `out` (`reserved` as zero); returns the
    /// byte count.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, NTSTATUS> {
        wire::encode_with(out, |m: &mut Self| {
            m.entry_count = self.entry_count;
            m.entries = self.entries;
        })
    }

    /// Decodes and validates a response from exactly [`Self::SIZE`] bytes.
    ///
    /// The bytes are copied into a value in one go rather than through
    /// `read_from_bytes`, whose unoptimised build keeps several copies of
    /// this 784-byte message on the stack: more than a page, so a stack
    /// probe (`__chkstk`) in the driver, which links this function too.
    pub fn decode(buf: &[u8]) -> Result<Self, NTSTATUS> {
        wire::check_length::<Self>(buf)?;
        let mut v = Self::empty();
        v.as_mut_bytes().copy_from_slice(buf);
        v.header.check::<Self>()?;
        if v.entry_count.get() as usize > MAX_POOL_ENTRIES {
            return Err(STATUS_INVALID_PARAMETER);
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{STATUS_BUFFER_TOO_SMALL, STATUS_INFO_LENGTH_MISMATCH, pool_type};

    #[test]
    fn pool_stats_round_trip() {
        let mut buf = [0xAAu8; 64];
        assert_eq!(PoolStatsRequest::new().encode(&mut buf), Ok(8));
        assert_eq!(
            PoolStatsRequest::decode(&buf[..8]),
            Ok(PoolStatsRequest::new())
        );

        let mut stats = PoolStatsResponse::empty();
        stats.entries[0] = PoolStatsEntry {
            pool_type: U32::new(pool_type::NON_PAGED_NX),
            tag: U32::new(9),
            allocations: U64::new(10),
            frees: U64::new(8),
            outstanding_allocations: U64::new(2),
            outstanding_bytes: U64::new(100),
            peak_bytes: U64::new(300),
        };
        stats.entry_count = U32::new(1);
        stats.reserved = U32::new(0xDEAD);
        let mut buf = [0xAAu8; PoolStatsResponse::SIZE];
        assert_eq!(stats.encode(&mut buf), Ok(PoolStatsResponse::SIZE));
        assert_eq!(&buf[4..8], &784u32.to_le_bytes());
        assert_eq!(&buf[8..12], &1u32.to_le_bytes());
        assert_eq!(&buf[12..16], &[0; 4], "reserved is written as zero");
        assert_eq!(&buf[16..20], &pool_type::NON_PAGED_NX.to_le_bytes());
        assert_eq!(&buf[56..64], &300u64.to_le_bytes());
        let back = PoolStatsResponse::decode(&buf).unwrap();
        stats.reserved = U32::ZERO;
        assert_eq!(back, stats);
        assert_eq!(
            back.find(pool_type::NON_PAGED_NX, 9).unwrap().peak_bytes,
            300
        );
        assert!(back.find(pool_type::PAGED, 9).is_none());
    }

    #[test]
    fn encoding_overwrites_every_byte_of_the_message() {
        let mut a = [0x00u8; PoolStatsResponse::SIZE];
        let mut b = [0xFFu8; PoolStatsResponse::SIZE];
        PoolStatsResponse::empty().encode(&mut a).unwrap();
        PoolStatsResponse::empty().encode(&mut b).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn bad_messages_and_short_buffers_are_refused() {
        assert_eq!(
            PoolStatsRequest::decode(&[0u8; 9]),
            Err(STATUS_INFO_LENGTH_MISMATCH)
        );
        // A count beyond the table is refused.
        let mut r = [0u8; PoolStatsResponse::SIZE];
        let mut s = PoolStatsResponse::empty();
        s.entry_count = U32::new(MAX_POOL_ENTRIES as u32 + 1);
        s.encode(&mut r).unwrap();
        assert_eq!(PoolStatsResponse::decode(&r), Err(STATUS_INVALID_PARAMETER));
        assert_eq!(
            PoolStatsResponse::empty().encode(&mut [0u8; 0]),
            Err(STATUS_BUFFER_TOO_SMALL)
        );
    }
}
