//! The synchronisation primitives the runtime is built from: `std`'s in a normal build,
//! [`loom`](https://docs.rs/loom)'s under `--cfg loom`, so that the task state machine and the
//! park protocol can be model-checked without a second copy of their code.
//!
//! Code in this workspace imports atomics, `Arc`, `Mutex`, `UnsafeCell` and `thread` from here,
//! never from `std` directly, wherever the type takes part in a protocol that a loom model checks.

#[cfg(not(loom))]
mod imp {
    /// `Arc`, `Mutex`, `Condvar` and the atomics.
    pub mod sync {
        pub use std::sync::{Arc, Condvar, Mutex, MutexGuard};
        /// The atomic types and `fence`.
        pub mod atomic {
            pub use std::sync::atomic::{
                AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
            };
        }
    }
    /// Thread spawning, parking and yielding.
    pub mod thread {
        pub use std::thread::{JoinHandle, current, panicking, park, spawn, yield_now};
    }
    /// `UnsafeCell` with loom's closure-based access.
    pub mod cell {
        /// `UnsafeCell` with loom's closure-based API, so code reads the same under both.
        #[derive(Debug, Default)]
        pub struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

        impl<T> UnsafeCell<T> {
            /// Wraps `value`.
            pub const fn new(value: T) -> Self {
                Self(std::cell::UnsafeCell::new(value))
            }
        }

        impl<T: ?Sized> UnsafeCell<T> {
            /// Runs `f` with a shared raw pointer to the contents.
            #[inline(always)]
            pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
                f(self.0.get())
            }

            /// Runs `f` with an exclusive raw pointer to the contents.
            #[inline(always)]
            pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
                f(self.0.get())
            }
        }
    }
}

#[cfg(loom)]
mod imp {
    pub use loom::{cell, sync, thread};
}

pub use imp::*;
