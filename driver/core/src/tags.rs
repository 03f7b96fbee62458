//! Pool tags of the sample driver: one per strategy, so that `!poolused`,
//! Driver Verifier's pool tracking, `POOL_STATS` and the simulated pool's
//! fault injection each see one exercise at a time.

use crate::protocol::{StrategyId, pool_tag};

/// The registry's COM objects (one per strategy) and other device state.
pub const DEVICE: u32 = pool_tag(*b"KcSm");

/// The tag of the memory `strategy`'s exercise allocates from the kernel
/// pool (for `global`: the tag its build's global allocator uses is
/// reported instead, see `DeviceConfig::global_tag`).
pub const fn for_strategy(strategy: StrategyId) -> u32 {
    pool_tag(match strategy {
        StrategyId::Global => *b"KcGl",
        StrategyId::WdkNonPaged => *b"KcNp",
        StrategyId::WdkPaged => *b"KcPg",
        StrategyId::WdkAligned => *b"KcAl",
        StrategyId::Bump => *b"KcBu",
        StrategyId::Pool => *b"KcPo",
        StrategyId::FreeList => *b"KcFl",
        StrategyId::Stack => *b"KcSk",
        StrategyId::KBox => *b"KcKb",
        StrategyId::InitBox => *b"KcIb",
        StrategyId::ComObject => *b"KcCo",
        StrategyId::AsyncCom => *b"KcAs",
    })
}
