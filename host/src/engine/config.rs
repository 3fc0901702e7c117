//! The one place the wasmtime engine is configured. Each knob says why it is set.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmtime::{Config, Enabled, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

/// Process-wide engine settings (per-call limits are [`super::Limits`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// Instances that may exist at once: the size of the instance pool. Calls beyond it
    /// fail to instantiate, so keep it above the executor's concurrency.
    pub max_instances: u32,
    /// The largest memory any tenant may be given, in bytes: the pool reserves slots of
    /// this size. A tenant's own limit is at most this.
    pub max_memory_bytes: u64,
    /// Wasm stack per call, in bytes. Deep recursion traps with a stack overflow.
    pub max_wasm_stack_bytes: usize,
    /// How often the deadline clock ticks, in milliseconds. A running module yields to
    /// the runtime on every tick (so this bounds how long it holds a thread at a time)
    /// and stops at the first tick past its deadline.
    pub epoch_tick_ms: u64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            max_instances: 256,
            max_memory_bytes: 256 << 20,
            max_wasm_stack_bytes: 512 << 10,
            epoch_tick_ms: 1,
        }
    }
}

impl EngineSettings {
    /// The deadline clock's period.
    pub fn epoch_tick(&self) -> Duration {
        Duration::from_millis(self.epoch_tick_ms.max(1))
    }

    /// The wasmtime configuration for these settings.
    pub(crate) fn wasmtime_config(&self) -> Config {
        let mut config = Config::new();
        config.wasm_component_model(true);
        // Fuel is the CPU budget: deterministic, independent of machine load.
        config.consume_fuel(true);
        // Epochs are the wall-clock backstop, checked cheaply at loop heads and calls;
        // each tick also lets a long-running module yield its thread.
        config.epoch_interruption(true);
        config.max_wasm_stack(self.max_wasm_stack_bytes);
        config.cranelift_opt_level(OptLevel::Speed);
        config.parallel_compilation(true);
        // Copy-on-write memory images make instantiation independent of data size.
        config.memory_init_cow(true);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(self.pooling()));
        config
    }

    /// The pooling allocator: pre-reserved slots make a fresh instance per callback cost
    /// microseconds instead of mmap calls.
    fn pooling(&self) -> PoolingAllocationConfig {
        let instances = self.max_instances.max(1);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances);
        // A std Rust guest is a main module plus WASI adapter shims.
        pool.max_core_instances_per_component(16);
        pool.total_core_instances(instances.saturating_mul(16));
        pool.max_memories_per_component(2);
        pool.total_memories(instances.saturating_mul(2));
        pool.max_tables_per_component(4);
        pool.total_tables(instances.saturating_mul(4));
        pool.total_stacks(instances);
        pool.max_memory_size(self.max_memory_bytes as usize);
        // Reset a reused slot by restoring in place only the pages a call touched (found
        // with the PAGEMAP_SCAN ioctl) within the first 4 MiB, which covers a rules
        // module's stack, data and arena, instead of madvise: that avoids page faults
        // and TLB shootdowns across threads, which otherwise halve throughput.
        pool.linear_memory_keep_resident(4 << 20);
        pool.table_keep_resident(64 << 10);
        pool.pagemap_scan(Enabled::Auto);
        pool
    }
}
