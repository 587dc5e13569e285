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
//! **Sealed against shrinking.** The memfd is made with `MFD_ALLOW_SEALING` and, once sized,
//! sealed with `F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL`: nobody, in any process, can change
//! its size again. Without the seal a peer that `ftruncate`s the file turns our next access
//! to the lost pages into `SIGBUS`. [`SharedRegion::from_fd`] refuses a descriptor that is not
//! sealed against shrinking ([`ShmError::Unsealed`]) and reads the size only after checking the
//! seal, so the size it maps can never shrink under it; [`SharedRegion::from_fd_sized`] also
//! refuses a file shorter than the caller needs ([`ShmError::TooShort`]).
//!
//! **Typed access.** Another process may write the region at any moment, so handing out `&T`
//! or `&[T]` into it would promise an immutability the other process does not keep. The
//! typed view [`PodView`] therefore only copies values in and out (volatile reads and writes),
//! and only for types that implement [`Pod`], whose every bit pattern is a valid value: a torn
//! read gives a wrong number, never undefined behaviour of the reader's own code. The same
//! holds for [`SharedBytes`], the read-only byte window the [`ring`](super::ring) hands out.
//! Ordering between processes goes through atomics in the region ([`SharedRegion::atomic_u32`],
//! as the [`ring`](super::ring) does) or through the channel.
//!
//! ## Why nothing a peer writes is undefined behaviour here
//!
//! The peer is another process: it may be buggy or hostile, and it may write any byte of the
//! region at any time, with any instruction. The `unsafe` blocks of this module and of the
//! ring rest on these four points (cited as "shm point N"):
//!
//! 1. **No access traps.** The file is sealed against shrinking before this process maps it
//!    (made sealed by [`SharedRegion::new`]; checked by [`SharedRegion::from_fd`] before it
//!    reads the size), so every page of the mapping stays backed by the file for the mapping's
//!    life and no access inside it can raise `SIGBUS`. What the seals allow a peer, punching a
//!    hole (`fallocate(PUNCH_HOLE)`, `madvise(MADV_REMOVE)`), only replaces pages with zeros
//!    that the next access faults back in.
//! 2. **Every access is in bounds.** Views and atomics check offset, length and alignment
//!    against the mapped length ([`ShmError::OutOfBounds`], [`ShmError::Misaligned`]); the ring
//!    checks every shared position and length against the capacity it read once, at open,
//!    before using it (the ring's module docs, "What a peer may forge").
//! 3. **No reference to bytes the peer may write, except atomics.** The only references into
//!    the region are `&AtomicU32` and `&AtomicU64` for header words: atomic accesses are made
//!    for memory that changes concurrently, and every bit pattern is a valid integer. Every
//!    other byte is read and written with volatile accesses ([`ptr::read_volatile`] and
//!    [`ptr::write_volatile`]), which Rust permits on memory outside the program's own
//!    allocations, provided the access does not trap (point 1) and produces a valid value:
//!    copies go through `u8` and machine words, and [`Pod`] types accept every bit pattern.
//!    The compiler may neither elide nor duplicate a volatile read, so a value checked once
//!    is the value used: it is never re-read from shared memory behind the check.
//! 4. **A torn or changing value is a wrong value, not UB.** A copy that races with a peer's
//!    write gives some mix of old and new bytes. That is the peer's garbage in our private
//!    memory: a decoding error at worst, never an access outside the region.
//!
//! [`ptr::read_volatile`]: std::ptr::read_volatile
//! [`ptr::write_volatile`]: std::ptr::write_volatile

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
    /// A descriptor handed to [`SharedRegion::from_fd`] is not sealed against shrinking, so
    /// whoever holds it could truncate the file under our mapping (`SIGBUS` on our next access).
    #[error(
        "refusing to map a descriptor that is not sealed against shrinking (seals: {seals:?}): \
         another process could truncate it under the mapping; make regions with \
         SharedRegion::new, which seals them"
    )]
    Unsealed {
        /// The file's seals (`F_GET_SEALS`), or `None` for a file that cannot be sealed.
        seals: Option<u32>,
    },
    /// A descriptor's file is shorter than the caller needs.
    #[error("the shared memory file holds {len} bytes, fewer than the {needed} needed")]
    TooShort {
        /// The file's size.
        len: usize,
        /// The size asked for.
        needed: usize,
    },
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
    /// A new zero-filled region of `len` bytes, sealed so that its size never changes.
    pub fn new(len: usize) -> Result<SharedRegion, ShmError> {
        if len == 0 {
            return Err(ShmError::Empty);
        }
        let fd = sys::memfd_sealed(MEMFD_NAME, len as u64)?;
        SharedRegion::map(fd, len)
    }

    /// Maps a region whose descriptor was received from another process, all of it.
    ///
    /// Refuses, with [`ShmError::Unsealed`], a descriptor whose file is not sealed against
    /// shrinking (module docs, shm point 1), and an empty file with [`ShmError::Empty`].
    pub fn from_fd(fd: OwnedFd) -> Result<SharedRegion, ShmError> {
        let len = SharedRegion::sealed_len(&fd)?;
        SharedRegion::map(fd, len)
    }

    /// As [`SharedRegion::from_fd`], mapping the first `len` bytes, and refusing a file
    /// shorter than that with [`ShmError::TooShort`].
    pub fn from_fd_sized(fd: OwnedFd, len: usize) -> Result<SharedRegion, ShmError> {
        let have = SharedRegion::sealed_len(&fd)?;
        if have < len {
            return Err(ShmError::TooShort {
                len: have,
                needed: len,
            });
        }
        if len == 0 {
            return Err(ShmError::Empty);
        }
        SharedRegion::map(fd, len)
    }

    /// The size of a file that is sealed against shrinking. The seal is checked first and the
    /// size read after: once sealed, the size can only stay or grow, so it holds for good.
    fn sealed_len(fd: &OwnedFd) -> Result<usize, ShmError> {
        let seals = sys::seals(fd.as_fd())?;
        if seals.is_none_or(|s| s & libc::F_SEAL_SHRINK as u32 == 0) {
            return Err(ShmError::Unsealed { seals });
        }
        let (len, _) = sys::fstat(fd.as_fd())?;
        let len = usize::try_from(len).map_err(|_| ShmError::OutOfBounds {
            offset: 0,
            len: usize::MAX,
            size: usize::MAX,
        })?;
        if len == 0 {
            return Err(ShmError::Empty);
        }
        Ok(len)
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

    /// The seals on the region's file (`F_GET_SEALS`; `F_SEAL_SHRINK` at least, since regions
    /// are only made or accepted sealed).
    pub fn seals(&self) -> io::Result<u32> {
        Ok(sys::seals(self.file.as_fd())?.unwrap_or(0))
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
        // SAFETY: 1. in bounds and aligned (checked), in a mapping that cannot trap (shm
        // point 1) and lives as long as `self`; 2. AtomicU32 has the layout of u32 and every
        // bit pattern is valid; 3. every access through it is atomic, and concurrent
        // modification, from another thread or process, is what atomics are for (shm point 3).
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
        // SAFETY: 1. n values fit in the checked window (shm point 2); 2. `src` is a separate
        // Rust slice, so the ranges do not overlap; 3. T is Pod, so it has no padding and its
        // bytes are initialised (Pod rule 3); 4. the writes are volatile (shm point 3).
        unsafe {
            let src = std::slice::from_raw_parts(src.as_ptr().cast::<u8>(), n * size_of::<T>());
            copy_to_shared(src, self.ptr.cast::<u8>());
        }
    }

    /// Copies the start of the view into `dst` (at most `len` values).
    pub fn copy_to(&self, dst: &mut [T]) {
        let n = dst.len().min(self.len);
        // SAFETY: as in copy_from, in the other direction; T is Pod, so whatever bytes the
        // peer left there make valid values (Pod rule 2).
        unsafe {
            let dst =
                std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<u8>(), n * size_of::<T>());
            copy_from_shared(self.ptr.cast::<u8>(), dst);
        }
    }
}

/// A read-only window on bytes in a [`SharedRegion`] that another process may be writing:
/// copied out, never borrowed (the module docs, shm point 3, say why). The
/// [`ring`](super::ring) hands a message over as two of these.
#[derive(Clone, Copy, Debug)]
pub struct SharedBytes<'a> {
    ptr: *const u8,
    len: usize,
    _region: PhantomData<&'a SharedRegion>,
}

impl<'a> SharedBytes<'a> {
    /// The window of `len` bytes at `ptr`.
    ///
    /// # Safety
    /// `ptr..ptr + len` lies inside the mapping of a region that outlives `'a` (the
    /// region's own checks, or the ring's, establish it).
    pub(crate) unsafe fn new(ptr: *const u8, len: usize) -> SharedBytes<'a> {
        SharedBytes {
            ptr,
            len,
            _region: PhantomData,
        }
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A copy of byte `i`.
    pub fn get(&self, i: usize) -> Option<u8> {
        // SAFETY: i < len keeps the read inside the window (per `new`'s contract); volatile,
        // as shm point 3 requires.
        (i < self.len).then(|| unsafe { self.ptr.add(i).read_volatile() })
    }

    /// Copies the start of the window into `dst` (at most `len` bytes); returns how many.
    pub fn copy_to(&self, dst: &mut [u8]) -> usize {
        let n = dst.len().min(self.len);
        // SAFETY: n bytes lie inside the window (per `new`'s contract).
        unsafe { copy_from_shared(self.ptr, &mut dst[..n]) };
        n
    }

    /// A copy of the whole window.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0; self.len];
        self.copy_to(&mut v);
        v
    }

    /// The first `mid` bytes and the rest.
    ///
    /// # Panics
    /// If `mid > len`, as `slice::split_at` does.
    pub fn split_at(self, mid: usize) -> (SharedBytes<'a>, SharedBytes<'a>) {
        assert!(
            mid <= self.len,
            "split_at: {mid} is past the {} bytes",
            self.len
        );
        // SAFETY: both halves lie inside this window, so inside the region for 'a.
        unsafe {
            (
                SharedBytes::new(self.ptr, mid),
                SharedBytes::new(self.ptr.add(mid), self.len - mid),
            )
        }
    }

    /// The start of the window, for copies between two shared regions.
    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.ptr
    }
}

/// The unit of the volatile copies below: a machine word, so a copy costs one load and one
/// store per word (a byte-at-a-time volatile copy would cost eight).
type Word = usize;
const WORD: usize = size_of::<Word>();

/// Copies `dst.len()` bytes from shared memory at `src` into private memory, with volatile
/// reads (shm point 3): a word at a time once `src` is word-aligned.
///
/// # Safety
/// `src..src + dst.len()` lies inside the live mapping of a [`SharedRegion`].
pub(crate) unsafe fn copy_from_shared(src: *const u8, dst: &mut [u8]) {
    let len = dst.len();
    let out = dst.as_mut_ptr();
    // usize::MAX (alignment unknown) makes every byte take the byte path.
    let lead = src.align_offset(WORD).min(len);
    let words_end = lead + (len - lead) / WORD * WORD;
    // SAFETY: every read is inside `src..src + len` (this function's contract), volatile
    // (shm points 1 and 3), and word reads are at `src + i` with `i >= lead`, `i - lead` a
    // multiple of WORD, so aligned. Every write is inside `dst`, a private slice, and uses
    // write_unaligned where `dst` may not be aligned.
    unsafe {
        for i in (0..lead).chain(words_end..len) {
            out.add(i).write(src.add(i).read_volatile());
        }
        for i in (lead..words_end).step_by(WORD) {
            let w = src.add(i).cast::<Word>().read_volatile();
            out.add(i).cast::<Word>().write_unaligned(w);
        }
    }
}

/// Copies private `src` into shared memory at `dst`, with volatile writes (shm point 3): a
/// word at a time once `dst` is word-aligned.
///
/// # Safety
/// `dst..dst + src.len()` lies inside the live mapping of a [`SharedRegion`].
pub(crate) unsafe fn copy_to_shared(src: &[u8], dst: *mut u8) {
    let len = src.len();
    let from = src.as_ptr();
    let lead = dst.align_offset(WORD).min(len);
    let words_end = lead + (len - lead) / WORD * WORD;
    // SAFETY: as in copy_from_shared, with the roles swapped: writes inside `dst..dst + len`,
    // volatile, word writes aligned; reads inside `src`, unaligned where needed.
    unsafe {
        for i in (0..lead).chain(words_end..len) {
            dst.add(i).write_volatile(from.add(i).read());
        }
        for i in (lead..words_end).step_by(WORD) {
            let w = from.add(i).cast::<Word>().read_unaligned();
            dst.add(i).cast::<Word>().write_volatile(w);
        }
    }
}

/// Bytes staged on the stack by [`copy_shared`]: small enough for L1, large enough that the
/// two passes over it cost no more than their copies. Picked by reasoning.
const STAGE: usize = 4 << 10;

/// Copies `len` bytes from shared memory at `src` to shared memory at `dst` (another region:
/// echoing one ring into another), staged through the stack so both sides get word copies
/// whatever their alignments.
///
/// # Safety
/// `src..src + len` and `dst..dst + len` each lie inside the live mapping of a
/// [`SharedRegion`].
pub(crate) unsafe fn copy_shared(src: *const u8, dst: *mut u8, len: usize) {
    let mut stage = [0u8; STAGE];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(STAGE);
        // SAFETY: `done + n <= len`, so both ranges stay inside the caller's.
        unsafe {
            copy_from_shared(src.add(done), &mut stage[..n]);
            copy_to_shared(&stage[..n], dst.add(done));
        }
        done += n;
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

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

    #[test]
    fn a_new_region_is_sealed_and_cannot_be_shrunk() {
        let r = SharedRegion::new(4096).unwrap();
        let seals = r.seals().unwrap();
        let wanted = (libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL) as u32;
        assert_eq!(seals & wanted, wanted, "seals {seals:#x}");
        // SAFETY: ftruncate on a descriptor we own; it only fails or changes the file size.
        let rc = unsafe { libc::ftruncate(r.as_fd().as_raw_fd(), 0) };
        assert_eq!(rc, -1);
        assert_eq!(io::Error::last_os_error().raw_os_error(), Some(libc::EPERM));
        assert_eq!(
            r.view::<u64>(4088, 1).unwrap().get(0),
            Some(0),
            "still mapped"
        );
    }

    /// A memfd as a careless or hostile peer would make it: sealable but unsealed, or not
    /// sealable at all.
    fn raw_memfd(flags: libc::c_uint, len: libc::off_t) -> OwnedFd {
        use std::os::fd::FromRawFd;
        // SAFETY: memfd_create with a valid C string; the descriptor is then ours alone.
        let fd = unsafe { libc::memfd_create(c"peer".as_ptr(), flags) };
        assert!(fd >= 0);
        // SAFETY: as above; ftruncate only sizes the file.
        unsafe {
            assert_eq!(libc::ftruncate(fd, len), 0);
            OwnedFd::from_raw_fd(fd)
        }
    }

    #[test]
    fn unsealed_descriptors_are_refused() {
        let unsealable = raw_memfd(libc::MFD_CLOEXEC, 4096);
        assert!(matches!(
            SharedRegion::from_fd(unsealable),
            Err(ShmError::Unsealed { seals: Some(s) }) if s & libc::F_SEAL_SEAL as u32 != 0
        ));
        let unsealed = raw_memfd(libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING, 4096);
        assert!(matches!(
            SharedRegion::from_fd(unsealed),
            Err(ShmError::Unsealed { seals: Some(0) })
        ));
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        assert!(matches!(
            SharedRegion::from_fd(OwnedFd::from(file)),
            Err(ShmError::Unsealed { seals: None })
        ));
    }

    #[test]
    fn short_descriptors_are_refused() {
        let fd = raw_memfd(libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING, 100);
        sys::add_seals(fd.as_fd(), libc::F_SEAL_SHRINK as u32).unwrap();
        let again = fd.try_clone().unwrap();
        assert!(matches!(
            SharedRegion::from_fd_sized(fd, 4096),
            Err(ShmError::TooShort {
                len: 100,
                needed: 4096
            })
        ));
        assert_eq!(SharedRegion::from_fd_sized(again, 64).unwrap().len(), 64);
        let empty = raw_memfd(libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING, 0);
        sys::add_seals(empty.as_fd(), libc::F_SEAL_SHRINK as u32).unwrap();
        assert!(matches!(SharedRegion::from_fd(empty), Err(ShmError::Empty)));
    }

    #[test]
    fn volatile_copies_round_trip_at_every_alignment() {
        let r = SharedRegion::new(256).unwrap();
        let bytes: Vec<u8> = (0..100u8).collect();
        for offset in 0..16 {
            for len in [0, 1, 7, 8, 9, 31, 64, 100] {
                let view = r.view::<u8>(offset, len).unwrap();
                view.copy_from(&bytes[..len]);
                let mut out = vec![0xAA; len + 3];
                view.copy_to(&mut out[3..]);
                assert_eq!(&out[3..], &bytes[..len], "offset {offset} len {len}");
                let mut staged = vec![0; len];
                // SAFETY: both ranges lie inside the 256-byte region.
                unsafe {
                    copy_shared(
                        r.base().add(offset),
                        r.base().add(128 + (offset * 3) % 16),
                        len,
                    );
                    copy_from_shared(r.base().add(128 + (offset * 3) % 16), &mut staged);
                }
                assert_eq!(staged, &bytes[..len]);
            }
        }
    }
}
