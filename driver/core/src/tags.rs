//! Pool tags of the sample driver: one per strategy, so that `!poolused`,
//! Driver Verifier's pool tracking, `POOL_STATS` and the simulated pool's
//! fault injection each see one exercise at a time.

use crate::protocol::{StrategyId, pool_tag};

/// The registry's COM objects (one per strategy) and other device state.
pub const DEVICE: u32 = pool_tag(*b"KcSm");

/// The tag of the memory `strategy`'s exercise allocates from the kernel
/// pool, from the strategies' table ([`StrategyId::tag`]). For `global`,
/// `GET_INFO` reports the tag its build's global allocator uses instead
/// (`DeviceConfig::global_tag`).
pub const fn for_strategy(strategy: StrategyId) -> u32 {
    strategy.tag()
}
