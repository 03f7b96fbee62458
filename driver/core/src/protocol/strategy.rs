//! The allocator strategies and pool types the protocol names.

/// Defines [`StrategyId`] from its one table: each strategy's doc line,
/// variant, wire value, command-line name and pool tag. Everything that
/// lists the strategies ([`StrategyId::ALL`], [`StrategyId::name`],
/// [`StrategyId::tag`], and from them `GET_INFO`, the client's messages and
/// `tags::for_strategy`) is derived from it.
macro_rules! strategies {
    ($($(#[doc = $doc:literal])* $variant:ident = $value:literal, $name:literal, $tag:literal;)*) => {
        /// The allocator strategies the protocol knows, by wire value.
        ///
        /// A device registers an exercise for some of them; `GET_INFO` lists those.
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum StrategyId {
            $($(#[doc = $doc])* $variant = $value,)*
        }

        impl StrategyId {
            /// All strategies, in wire order.
            pub const ALL: [StrategyId; [$($name),*].len()] = [$(StrategyId::$variant),*];

            /// The short name used on command lines and in `GET_INFO` (`"free-list"`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(StrategyId::$variant => $name,)*
                }
            }

            /// The pool tag of the memory this strategy's exercise allocates
            /// (four characters, as `!poolused` prints them).
            pub const fn tag(self) -> u32 {
                match self {
                    $(StrategyId::$variant => pool_tag(*$tag),)*
                }
            }
        }
    };
}

strategies! {
    /// The Rust global allocator (`kcom::GlobalAllocator`).
    Global = 0, "global", b"KcGl";
    /// `WdkAllocator` on non-paged, no-execute pool.
    WdkNonPaged = 1, "wdk-nonpaged", b"KcNp";
    /// `WdkAllocator` on paged pool (`PASSIVE_LEVEL` only).
    WdkPaged = 2, "wdk-paged", b"KcPg";
    /// `WdkAllocator` with alignments above 16 (`wdk-alloc-align`).
    WdkAligned = 3, "wdk-aligned", b"KcAl";
    /// Bump (arena) allocator.
    Bump = 4, "bump", b"KcBu";
    /// Fixed-size block pool.
    Pool = 5, "pool", b"KcPo";
    /// First-fit free list.
    FreeList = 6, "free-list", b"KcFl";
    /// LIFO stack allocator.
    Stack = 7, "stack", b"KcSk";
    /// `KBox` over a kcom allocator.
    KBox = 8, "kbox", b"KcKb";
    /// `InitBox` / `PinInit`, including a failing initializer.
    InitBox = 9, "init-box", b"KcIb";
    /// COM object lifecycle (create, QueryInterface, AddRef/Release).
    ComObject = 10, "com-object", b"KcCo";
    /// An async COM method awaiting work completed on another thread.
    AsyncCom = 11, "async-com", b"KcAs";
}

impl StrategyId {
    /// The strategy with wire value `v`, if any.
    pub const fn from_u32(v: u32) -> Option<StrategyId> {
        if (v as usize) < Self::ALL.len() {
            Some(Self::ALL[v as usize])
        } else {
            None
        }
    }

    /// The wire value.
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// The strategy called `name` (exact, case-sensitive match of [`name`](Self::name)).
    pub fn from_name(name: &str) -> Option<StrategyId> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Pool type values as in the Windows `POOL_TYPE` enumeration, plus a marker
/// for memory that comes from the host heap (loopback and test builds).
pub mod pool_type {
    /// `NonPagedPool` (executable; not used by this driver).
    pub const NON_PAGED: u32 = 0;
    /// `PagedPool`.
    pub const PAGED: u32 = 1;
    /// `NonPagedPoolNx`.
    pub const NON_PAGED_NX: u32 = 512;
    /// Not a kernel pool: the host process heap (or a simulation of the
    /// pool on the host).
    pub const HOST: u32 = 0x8000_0000;
}

/// Builds a pool tag from its four characters as `!poolused` prints them
/// (`pool_tag(*b"kcom")`).
pub const fn pool_tag(chars: [u8; 4]) -> u32 {
    u32::from_le_bytes(chars)
}

/// Flag in [`StrategyInfo::flags`](super::StrategyInfo::flags): the exercise may run only at
/// `PASSIVE_LEVEL` (it touches paged pool).
pub const STRATEGY_FLAG_PASSIVE_ONLY: u32 = 1;
/// All flags defined for [`StrategyInfo::flags`](super::StrategyInfo::flags).
pub const STRATEGY_FLAGS_ALL: u32 = STRATEGY_FLAG_PASSIVE_ONLY;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::NAME_LEN;

    #[test]
    fn strategy_ids_names_and_wire_values_agree() {
        for (i, s) in StrategyId::ALL.into_iter().enumerate() {
            assert_eq!(s.as_u32() as usize, i);
            assert_eq!(StrategyId::from_u32(i as u32), Some(s));
            assert_eq!(StrategyId::from_name(s.name()), Some(s));
            assert!(s.name().len() < NAME_LEN);
            let later = &StrategyId::ALL[i + 1..];
            assert!(
                later
                    .iter()
                    .all(|t| t.name() != s.name() && t.tag() != s.tag())
            );
        }
        assert_eq!(StrategyId::from_u32(StrategyId::ALL.len() as u32), None);
        assert_eq!(StrategyId::from_u32(u32::MAX), None);
        assert_eq!(
            StrategyId::from_name("free-list"),
            Some(StrategyId::FreeList)
        );
        assert_eq!(StrategyId::from_name("Free-List"), None);
        assert_eq!(StrategyId::from_name(""), None);
    }
}
