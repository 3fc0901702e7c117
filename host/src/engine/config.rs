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
    /// Whether reused pool slots may be reset with the `PAGEMAP_SCAN` ioctl (the fast
    /// path). Even when true it is not used while swap is active ([`SlotReset`]); false
    /// never uses it (e.g. on a host where swap may be turned on later).
    pub pagemap_scan: bool,
    /// Bytes of a reused slot's memory restored in place rather than returned to the
    /// kernel: with `PAGEMAP_SCAN`, at most this much of the pages an instance wrote
    /// (a page once written stays resident, so every later reset of the slot restores
    /// it); without it, the first this many bytes. Pages past it are decommitted, so
    /// the next instance that touches them faults them in again.
    pub keep_resident_bytes: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            max_instances: 256,
            max_memory_bytes: 256 << 20,
            max_wasm_stack_bytes: 512 << 10,
            epoch_tick_ms: 1,
            pagemap_scan: true,
            keep_resident_bytes: 4 << 20,
        }
    }
}

impl EngineSettings {
    /// The deadline clock's period.
    pub fn epoch_tick(&self) -> Duration {
        Duration::from_millis(self.epoch_tick_ms.max(1))
    }

    /// The wasmtime configuration for these settings, resetting reused slots by `reset`.
    pub(crate) fn wasmtime_config(&self, reset: SlotReset) -> Config {
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
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(self.pooling(reset)));
        config
    }

    /// The pooling allocator: pre-reserved slots make a fresh instance per callback cost
    /// microseconds instead of mmap calls.
    fn pooling(&self, reset: SlotReset) -> PoolingAllocationConfig {
        let instances = self.max_instances.max(1);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances);
        // A std Rust guest is a main module plus WASI adapter shims; a JavaScript guest
        // (componentize-qjs) adds two empty memories in the stubs that replace WASI.
        pool.max_core_instances_per_component(16);
        pool.total_core_instances(instances.saturating_mul(16));
        pool.max_memories_per_component(3);
        pool.total_memories(instances.saturating_mul(3));
        pool.max_tables_per_component(4);
        pool.total_tables(instances.saturating_mul(4));
        pool.total_stacks(instances);
        pool.max_memory_size(self.max_memory_bytes as usize);
        // Reset a reused slot by restoring in place the pages a call touched (found with
        // the PAGEMAP_SCAN ioctl), up to `keep_resident_bytes` (default 4 MiB; a rules
        // module's stack, data and arena take less than 256 KiB), instead of madvise:
        // that avoids page faults and TLB shootdowns across threads.
        pool.linear_memory_keep_resident(self.keep_resident_bytes);
        pool.table_keep_resident(64 << 10);
        pool.pagemap_scan(match reset {
            SlotReset::PagemapScan => Enabled::Auto,
            SlotReset::Madvise => Enabled::No,
        });
        pool
    }
}

/// How a reused pool slot's memory is reset before the next instance, possibly another
/// tenant's, gets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotReset {
    /// Restore only the pages a call wrote, found with the `PAGEMAP_SCAN` ioctl (where
    /// the kernel has it): the fast path.
    PagemapScan,
    /// Restore without `PAGEMAP_SCAN`. Used while swap is active: the scan does not
    /// see a dirty page the kernel swapped out, which the next instance could then read
    /// (an open wasmtime report, PR #14357, September 2026).
    Madvise,
}

impl SlotReset {
    /// The reset this host can use safely: without `PAGEMAP_SCAN` when the settings
    /// say so, or when swap is active (or cannot be ruled out).
    pub fn for_this_host(settings: &EngineSettings) -> SlotReset {
        if !settings.pagemap_scan {
            return SlotReset::Madvise;
        }
        let swap = match std::fs::read_to_string("/proc/swaps") {
            Ok(swaps) => lists_a_device(&swaps),
            // No /proc/swaps: PAGEMAP_SCAN is Linux's, and Linux always has it.
            Err(_) => cfg!(target_os = "linux"),
        };
        if swap {
            SlotReset::Madvise
        } else {
            SlotReset::PagemapScan
        }
    }
}

/// Whether `/proc/swaps` lists a swap device below its header line.
fn lists_a_device(swaps: &str) -> bool {
    swaps.lines().skip(1).any(|line| !line.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_is_read_from_proc_swaps() {
        let header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
        assert!(!lists_a_device(header));
        assert!(!lists_a_device(""));
        assert!(lists_a_device(&format!(
            "{header}/dev/vda2                               partition\t4194300\t\t0\t\t-2\n"
        )));
    }
}
