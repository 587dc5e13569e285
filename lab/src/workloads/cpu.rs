//! The CPU work of `speedup` (and anything else that needs fixed work), and worker placement.

use crate::machine;

/// Hashing rounds per chunk: a chain of dependent multiply-rotate-xor steps (about 5 cycles
/// each), so 30,000 rounds are about 150,000 cycles, 50 µs at 3 GHz. Fixed, not calibrated, so
/// that figures compare across machines.
pub const CHUNK_ROUNDS: u64 = 30_000;

/// One chunk of work: hashes `seed` [`CHUNK_ROUNDS`] times. The result must be used (summed
/// and checked) so the optimiser cannot drop the work.
pub fn chunk(seed: u64) -> u64 {
    let mut x = seed | 1;
    for i in 0..CHUNK_ROUNDS {
        // 0x9E3779B97F4A7C15: 2^64 / the golden ratio, a common mixing constant.
        x = (x ^ i).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
    std::hint::black_box(x)
}

/// Places the calling thread on the `index % workers`-th CPU of the process's mask at start
/// ([`machine::start_cpus`], wrapping round it), best effort.
pub fn place_worker(index: usize, workers: usize) {
    let cpus = machine::start_cpus();
    machine::pin_to_cpu(cpus[index % workers.max(1) % cpus.len()]);
}
