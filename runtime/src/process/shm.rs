//! Shared memory: a region of memory that several processes map at once.
//!
//! A [`SharedRegion`] is an anonymous file made with `memfd_create` and mapped `MAP_SHARED`.
//!
//! * **Anonymous and private**: the file has no name in any filesystem, is created
//!   close-on-exec, and its mode is set to `0600` at once, so it is never world-readable. A
//!   process reaches it only by being handed its descriptor (over a channel, with
//!   [`Channel::send_with_fd`](super::Channel::send_with_fd)).
//! * **Gone when the last process lets go**: the kernel frees the memory when the last
//!   descriptor is closed and the last mapping unmapped, whoever holds them and however they
//!   end (a killed process's descriptors and mappings are released by the kernel). Nothing to
//!   unlink, nothing leaked in `/dev/shm` (Python's `multiprocessing.shared_memory` leaks there
//!   when a process is killed).
//!
//! **Typed access.** Another process may write the region at any moment, so handing out `&T`
//! or `&[T]` into it would promise an immutability the other process does not keep. The
//! typed view [`PodView`] therefore only copies values in and out (volatile reads and writes),
//! and only for types that implement [`Pod`], whose every bit pattern is a valid value: a torn
//! read gives a wrong number, never undefined behaviour of the reader's own code. Ordering
//! between processes goes through atomics in the region ([`SharedRegion::atomic_u32`], as
//! the [`ring`](super::ring) does) or through the channel.

use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64};

use memmap2::{MmapOptions, MmapRaw};

use super::sys;

/// The name memfd files get (shown in `/proc/<pid>/fd` as `/memfd:switchyard-shm`).
const MEMFD_NAME: &std::ffi::CStr = c"switchyard-shm";

/// Permission bits of a region's file: owner read and write, nobody else.
pub const REGION_MODE: u32 = 0o600;

/// Why a region could not be made, mapped, or viewed.
#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    /// The operating system refused (memfd_create, ftruncate, mmap, fstat).
    #[error("shared memory: {0}")]
    Io(#[from] io::Error),
    /// A view or access reaches past the end of the region.
    #[error(
        "shared memory access of {len} bytes at offset {offset} is outside the {size}-byte region"
    )]
    OutOfBounds {
        /// Where it starts.
        offset: usize,
        /// Its length in bytes.
        len: usize,
        /// The region's size.
        size: usize,
    },
    /// A view's offset is not a multiple of its type's alignment.
    #[error("offset {offset} is not aligned to {align} bytes for this type")]
    Misaligned {
        /// The offset.
        offset: usize,
        /// The type's alignment.
        align: usize,
    },
    /// A region of zero bytes (mmap refuses those).
    #[error("a shared memory region needs at least one byte")]
    Empty,
}

/// Plain old data: types whose values may be copied in and out of shared memory as bytes.
///
/// # Safety
/// Implement it only for a type that
/// 1. is `Copy` and has no `Drop` glue;
/// 2. accepts **every** bit pattern of its size as a valid value (no `bool`, `char`, enums,
///    references, `NonZero*`);
/// 3. has no padding bytes (so copying it out does not expose uninitialised memory), which
///    for a struct means `#[repr(C)]` with fields laid out without gaps;
/// 4. holds no pointers or descriptors (they mean nothing in another process).
pub unsafe trait Pod: Copy + Send + Sync + 'static {}

macro_rules! impl_pod {
    ($($t:ty),*) => {$(
        // SAFETY: a primitive integer or float: Copy, every bit pattern valid, no padding,
        // no pointer.
        unsafe impl Pod for $t {}
    )*};
}
impl_pod!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64
);

// SAFETY: an array of Pod has no padding between elements (size is a multiple of align) and
// every element accepts every bit pattern, so the array does too.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// A memfd-backed region mapped shared in this process.
#[derive(Debug)]
pub struct SharedRegion {
    file: File,
    map: MmapRaw,
}

impl SharedRegion {
    /// A new zero-filled region of `len` bytes.
    pub fn new(len: usize) -> Result<SharedRegion, ShmError> {
        if len == 0 {
            return Err(ShmError::Empty);
        }
        let fd = sys::memfd(MEMFD_NAME, len as u64)?;
        SharedRegion::map(fd, len)
    }

    /// Maps a region whose descriptor was received from another process.
    pub fn from_fd(fd: OwnedFd) -> Result<SharedRegion, ShmError> {
        let (len, _) = sys::fstat(fd.as_fd())?;
        if len == 0 {
            return Err(ShmError::Empty);
        }
        SharedRegion::map(fd, len as usize)
    }

    fn map(fd: OwnedFd, len: usize) -> Result<SharedRegion, ShmError> {
        let file = File::from(fd);
        let map = MmapOptions::new().len(len).map_raw(&file)?;
        Ok(SharedRegion { file, map })
    }

    /// The region's size in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Always false: a region has at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The permission bits of the region's file (always [`REGION_MODE`] for regions made
    /// here).
    pub fn mode(&self) -> io::Result<u32> {
        Ok(sys::fstat(self.file.as_fd())?.1 & 0o7777)
    }

    fn check(&self, offset: usize, len: usize, align: usize) -> Result<(), ShmError> {
        let end = offset.checked_add(len);
        if end.is_none_or(|end| end > self.len()) {
            return Err(ShmError::OutOfBounds {
                offset,
                len,
                size: self.len(),
            });
        }
        if offset % align != 0 {
            return Err(ShmError::Misaligned { offset, align });
        }
        Ok(())
    }

    /// A typed view of `count` values of `T` starting at byte `offset`.
    pub fn view<T: Pod>(&self, offset: usize, count: usize) -> Result<PodView<'_, T>, ShmError> {
        let bytes = count
            .checked_mul(size_of::<T>())
            .ok_or(ShmError::OutOfBounds {
                offset,
                len: usize::MAX,
                size: self.len(),
            })?;
        self.check(offset, bytes, align_of::<T>())?;
        // The mapping is page-aligned, so `offset % align == 0` makes the pointer aligned.
        // SAFETY: `offset + bytes <= len` was checked, so the pointer stays inside the mapping.
        let ptr = unsafe { self.map.as_mut_ptr().add(offset) }.cast::<T>();
        Ok(PodView {
            ptr,
            len: count,
            _region: PhantomData,
        })
    }

    /// The 32-bit atomic at byte `offset` (for flags, sequence numbers and futex words shared
    /// between processes).
    pub fn atomic_u32(&self, offset: usize) -> Result<&AtomicU32, ShmError> {
        self.check(offset, 4, align_of::<AtomicU32>())?;
        // SAFETY: 1. in bounds and aligned (checked); 2. the mapping lives as long as `self`;
        // 3. AtomicU32 has the layout of u32 and every bit pattern is valid; 4. every access
        // to shared words in this module is atomic, and concurrent atomic access from another
        // process is what atomics are for.
        Ok(unsafe { &*self.map.as_mut_ptr().add(offset).cast::<AtomicU32>() })
    }

    /// The 64-bit atomic at byte `offset`.
    pub fn atomic_u64(&self, offset: usize) -> Result<&AtomicU64, ShmError> {
        self.check(offset, 8, align_of::<AtomicU64>())?;
        // SAFETY: as in atomic_u32.
        Ok(unsafe { &*self.map.as_mut_ptr().add(offset).cast::<AtomicU64>() })
    }

    /// Copies `src` into the region at `offset`.
    pub fn write_bytes(&self, offset: usize, src: &[u8]) -> Result<(), ShmError> {
        self.view::<u8>(offset, src.len())?.copy_from(src);
        Ok(())
    }

    /// Copies bytes from the region at `offset` into `dst`.
    pub fn read_bytes(&self, offset: usize, dst: &mut [u8]) -> Result<(), ShmError> {
        self.view::<u8>(offset, dst.len())?.copy_to(dst);
        Ok(())
    }

    /// The base of the mapping, for the ring's raw copies.
    pub(crate) fn base(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }
}

impl AsFd for SharedRegion {
    /// The region's descriptor, to send to another process.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// A typed window on a [`SharedRegion`]: values are copied in and out, never borrowed (see
/// the module docs for why).
#[derive(Debug)]
pub struct PodView<'a, T> {
    ptr: *mut T,
    len: usize,
    _region: PhantomData<&'a SharedRegion>,
}

impl<T: Pod> PodView<'_, T> {
    /// The number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the view has no values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A copy of value `i`.
    pub fn get(&self, i: usize) -> Option<T> {
        // SAFETY: i < len keeps the read inside the checked, aligned window; T is Pod, so any
        // bytes there (even written concurrently) are a valid T.
        (i < self.len).then(|| unsafe { self.ptr.add(i).read_volatile() })
    }

    /// Stores `value` at `i`; false if out of range.
    pub fn set(&self, i: usize, value: T) -> bool {
        if i >= self.len {
            return false;
        }
        // SAFETY: inside the checked, aligned window; writing a Pod needs no drop.
        unsafe { self.ptr.add(i).write_volatile(value) };
        true
    }

    /// Copies `src` into the start of the view (at most `len` values).
    pub fn copy_from(&self, src: &[T]) {
        let n = src.len().min(self.len);
        // SAFETY: n values fit in the window; `src` is a separate Rust slice, so the ranges do
        // not overlap.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr, n) };
    }

    /// Copies the start of the view into `dst` (at most `len` values).
    pub fn copy_to(&self, dst: &mut [T]) {
        let n = dst.len().min(self.len);
        // SAFETY: as in copy_from, in the other direction; T is Pod, so any bytes are valid.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr, dst.as_mut_ptr(), n) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_is_private_to_its_owner() {
        let region = SharedRegion::new(4096).unwrap();
        assert_eq!(region.mode().unwrap(), REGION_MODE);
    }

    #[test]
    fn two_mappings_of_one_fd_see_the_same_bytes() {
        let a = SharedRegion::new(4096).unwrap();
        let b = SharedRegion::from_fd(a.as_fd().try_clone_to_owned().unwrap()).unwrap();
        a.view::<u64>(8, 4).unwrap().set(2, 0xfeed);
        assert_eq!(b.view::<u64>(8, 4).unwrap().get(2), Some(0xfeed));
    }

    #[test]
    fn views_are_bounds_and_alignment_checked() {
        let r = SharedRegion::new(64).unwrap();
        assert!(matches!(
            r.view::<u64>(60, 1),
            Err(ShmError::OutOfBounds {
                offset: 60,
                len: 8,
                size: 64
            })
        ));
        assert!(matches!(
            r.view::<u32>(2, 1),
            Err(ShmError::Misaligned {
                offset: 2,
                align: 4
            })
        ));
        assert!(matches!(
            r.view::<u8>(0, usize::MAX),
            Err(ShmError::OutOfBounds { .. })
        ));
        assert!(matches!(SharedRegion::new(0), Err(ShmError::Empty)));
    }
}
