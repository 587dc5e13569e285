//! Every raw system call the process module makes, behind one small module.
//!
//! The rest of `process` never writes `unsafe { libc::... }` itself: it calls the safe wrappers
//! here, which take and return owned or borrowed file descriptors (`OwnedFd`, `BorrowedFd`) and
//! `io::Result`s, and retry `EINTR` where the call is restartable. As in mio's `sys` module, the
//! [`syscall!`] helper turns the C convention (`-1` and `errno`) into an `io::Error` once.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Calls a libc function and maps a `-1` return to `io::Error::last_os_error()`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: each call site passes arguments that satisfy the libc function's contract;
        // the wrapper functions below document why at each site.
        #[allow(unused_unsafe)]
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 { Err(io::Error::last_os_error()) } else { Ok(res) }
    }};
}

/// Retries `f` while it fails with `EINTR` (a signal interrupted a restartable call).
pub(crate) fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A connected `AF_UNIX`/`SOCK_STREAM` pair, both ends close-on-exec.
pub(crate) fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as RawFd; 2];
    syscall!(socketpair(
        libc::AF_UNIX,
        libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
        0,
        fds.as_mut_ptr()
    ))?;
    // SAFETY: socketpair succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `send(2)` with `MSG_NOSIGNAL`: a dead peer gives `EPIPE`, never a `SIGPIPE`.
pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8], nonblocking: bool) -> io::Result<usize> {
    let flags = libc::MSG_NOSIGNAL | if nonblocking { libc::MSG_DONTWAIT } else { 0 };
    // `buf` is valid for `buf.len()` bytes for the duration of the call.
    let n = syscall!(send(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), flags))?;
    Ok(n as usize)
}

/// The two `iovec`s of a gathered write of `first` then `second`. They point into the slices,
/// so they are valid while those stay borrowed; the kernel only reads through them.
fn iovecs(first: &[u8], second: &[u8]) -> [libc::iovec; 2] {
    [
        libc::iovec {
            iov_base: first.as_ptr() as *mut libc::c_void,
            iov_len: first.len(),
        },
        libc::iovec {
            iov_base: second.as_ptr() as *mut libc::c_void,
            iov_len: second.len(),
        },
    ]
}

/// `sendmsg(2)` of `first` then `second` as one gathered write, with `MSG_NOSIGNAL`.
pub(crate) fn send_gather(
    fd: BorrowedFd<'_>,
    first: &[u8],
    second: &[u8],
    nonblocking: bool,
) -> io::Result<usize> {
    let mut iov = iovecs(first, second);
    // SAFETY: msghdr is plain data; all-zero is a valid empty header that we then fill in.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len() as _;
    let flags = libc::MSG_NOSIGNAL | if nonblocking { libc::MSG_DONTWAIT } else { 0 };
    // The iovecs point at slices that stay borrowed for the call; sendmsg only reads them.
    let n = syscall!(sendmsg(fd.as_raw_fd(), &msg, flags))?;
    Ok(n as usize)
}

/// Room for the ancillary data of one message: a 16-byte `cmsghdr` (two words) and up to
/// [`MAX_FDS_PER_MESSAGE`] 4-byte descriptors. u64 elements keep it aligned for `cmsghdr`.
const CMSG_WORDS: usize = 2 + MAX_FDS_PER_MESSAGE.div_ceil(2);
type CmsgBuffer = [u64; CMSG_WORDS];

/// The most descriptors one received message may carry (more are closed by the kernel and
/// the message is flagged `MSG_CTRUNC`). Picked out of thin air: we only ever send one.
pub(crate) const MAX_FDS_PER_MESSAGE: usize = 8;

/// `sendmsg(2)` of `buf` with `fd` attached as `SCM_RIGHTS` ancillary data (attached to the
/// first byte; the caller sends any unsent rest with [`send`]).
pub(crate) fn send_with_fd(
    sock: BorrowedFd<'_>,
    buf: &[u8],
    fd: BorrowedFd<'_>,
) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    let mut space: CmsgBuffer = [0; CMSG_WORDS];
    // SAFETY: CMSG_SPACE is a pure computation on its argument.
    let cmsg_space = unsafe { libc::CMSG_SPACE(size_of::<RawFd>() as u32) } as usize;
    debug_assert!(cmsg_space <= size_of_val(&space));
    // SAFETY: msghdr is plain data; all-zero is a valid empty header that we then fill in.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.as_mut_ptr().cast();
    msg.msg_controllen = cmsg_space as _;
    // SAFETY: `msg` points at a control buffer of `cmsg_space` bytes (checked above), so
    // CMSG_FIRSTHDR returns a non-null pointer inside it, and CMSG_DATA points at room for one
    // RawFd inside the same buffer.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd.as_raw_fd());
    }
    let n = retry(|| syscall!(sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)))?;
    Ok(n as usize)
}

/// `recvmsg(2)` into `buf`; descriptors that arrive with the bytes (made close-on-exec) are
/// pushed onto `fds`. `Ok(0)` means the peer closed its end. Every read goes through here, so
/// a descriptor is never silently dropped by a plain `recv`.
pub(crate) fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    nonblocking: bool,
    fds: &mut Vec<OwnedFd>,
) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut space: CmsgBuffer = [0; CMSG_WORDS];
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&space) as _;
    let flags = libc::MSG_CMSG_CLOEXEC | if nonblocking { libc::MSG_DONTWAIT } else { 0 };
    let n = syscall!(recvmsg(sock.as_raw_fd(), &mut msg, flags))?;
    if msg.msg_controllen == 0 {
        return Ok(n as usize);
    }
    // SAFETY: the kernel filled `msg_control` within the buffer we gave it and set
    // `msg_controllen`; CMSG_FIRSTHDR/CMSG_NXTHDR walk headers inside it and return null at
    // its end. For SCM_RIGHTS the data holds `(cmsg_len - CMSG_LEN(0)) / 4` RawFds that are
    // now open in this process and owned by nobody else.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let count =
                    ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / size_of::<RawFd>();
                for i in 0..count {
                    let raw = std::ptr::read_unaligned(data.add(i));
                    fds.push(OwnedFd::from_raw_fd(raw));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(n as usize)
}

/// How a child ended, as `waitpid` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RawStatus {
    Exited(i32),
    Signaled(i32),
}

fn decode_status(status: libc::c_int) -> RawStatus {
    if libc::WIFSIGNALED(status) {
        RawStatus::Signaled(libc::WTERMSIG(status))
    } else {
        RawStatus::Exited(libc::WEXITSTATUS(status))
    }
}

/// `waitpid(pid, 0)`: blocks until `pid` ends and reaps it.
pub(crate) fn waitpid(pid: i32) -> io::Result<RawStatus> {
    let mut status = 0;
    retry(|| syscall!(waitpid(pid, &mut status, 0)))?;
    Ok(decode_status(status))
}

/// `waitpid(pid, WNOHANG)`: reaps `pid` if it has ended.
pub(crate) fn try_waitpid(pid: i32) -> io::Result<Option<RawStatus>> {
    let mut status = 0;
    let r = retry(|| syscall!(waitpid(pid, &mut status, libc::WNOHANG)))?;
    Ok((r != 0).then(|| decode_status(status)))
}

/// `kill(pid, signal)`.
pub(crate) fn kill(pid: i32, signal: i32) -> io::Result<()> {
    syscall!(kill(pid, signal))?;
    Ok(())
}

/// `shutdown(fd, SHUT_RDWR)`: the peer reads end-of-stream even while copies of `fd` exist.
pub(crate) fn shutdown(fd: BorrowedFd<'_>) -> io::Result<()> {
    syscall!(shutdown(fd.as_raw_fd(), libc::SHUT_RDWR))?;
    Ok(())
}

/// `getpid()`.
pub(crate) fn getpid() -> i32 {
    // SAFETY: getpid has no preconditions and cannot fail.
    unsafe { libc::getpid() }
}

/// What a `fork`-like call returned.
pub(crate) enum Forked {
    /// In the parent, with the child's pid.
    Parent(i32),
    /// In the child.
    Child,
}

/// `fork()`.
///
/// # Safety
/// The caller must be single-threaded (checked by [`thread_count`] just before), so that no
/// lock is held by a thread that will not exist in the child.
pub(crate) unsafe fn fork() -> io::Result<Forked> {
    let pid = syscall!(fork())?;
    Ok(if pid == 0 {
        Forked::Child
    } else {
        Forked::Parent(pid)
    })
}

/// `clone(CLONE_PARENT | SIGCHLD)`: a fork whose child is a sibling of the caller (its parent
/// is the caller's parent), so that process, not the caller, receives its exit status.
///
/// # Safety
/// As [`fork`]: the caller must be single-threaded. Also, the child must not rely on libc's
/// fork handlers having run (raw `clone` skips them); the fork server only runs our own code.
pub(crate) unsafe fn fork_sibling() -> io::Result<Forked> {
    // A null stack pointer makes clone behave like fork: the child runs on a copy of the
    // caller's stack. Argument order is the x86-64/aarch64 one (flags, stack, ptid, ctid, tls).
    // SAFETY: per this function's contract, the caller is single-threaded.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// Ends the calling process at once, without running atexit handlers or destructors (what a
/// forked child must do, so it does not flush the parent's buffers twice).
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

/// `dup2(fd, target)`, which also clears close-on-exec on `target`.
pub(crate) fn dup2(fd: RawFd, target: RawFd) -> io::Result<()> {
    retry(|| syscall!(dup2(fd, target)))?;
    Ok(())
}

/// Closes every descriptor from `first` up: a forked child keeps only stdio and its channel.
pub(crate) fn close_from(first: RawFd) {
    // SAFETY: close_range only closes descriptors; the caller has moved everything it needs
    // below `first`, and in a freshly forked, single-threaded child nothing else uses them.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first as u32, u32::MAX, 0u32) };
    if r == -1 {
        // Kernels before 5.9: walk the table by hand.
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            let fds: Vec<RawFd> = dir
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .filter(|&fd| fd >= first)
                .collect();
            for fd in fds {
                // SAFETY: as above; closing an fd that read_dir already closed returns EBADF.
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// Threads in this process, from the `Threads:` line of `/proc/self/status`.
pub(crate) fn thread_count() -> io::Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no Threads: line in /proc/self/status"))
}

/// The size and mode of the file behind `fd`.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> io::Result<(u64, u32)> {
    // SAFETY: stat is plain data; all-zero is valid and fstat overwrites it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    syscall!(fstat(fd.as_raw_fd(), &mut st))?;
    Ok((st.st_size as u64, st.st_mode))
}

/// `FUTEX_WAIT` on a word that may be shared between processes (no `FUTEX_PRIVATE_FLAG`):
/// sleeps while `*word == expected`, up to `timeout`. Spurious returns are allowed.
pub(crate) fn futex_wait(
    word: &std::sync::atomic::AtomicU32,
    expected: u32,
    timeout: Option<std::time::Duration>,
) {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a valid, aligned 32-bit atomic for the duration of the call; the
    // kernel only reads it. The result (0, EAGAIN, EINTR, ETIMEDOUT) needs no handling: the
    // caller re-checks its condition in a loop.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            ts_ptr,
        );
    }
}

/// `FUTEX_WAKE`: wakes up to `n` waiters on `word`, in any process mapping it.
pub(crate) fn futex_wake(word: &std::sync::atomic::AtomicU32, n: i32) {
    // SAFETY: `word` is a valid, aligned 32-bit atomic; FUTEX_WAKE does not touch memory.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n);
    }
}

/// Starts `path` with `argv` and `envp` through `posix_spawn` (glibc implements it with
/// `CLONE_VM | CLONE_VFORK`: no copy of the parent's page tables, so it is safe from a
/// multithreaded parent and cheap for a big one), with `fd` installed as descriptor `target`
/// (close-on-exec cleared) and an empty signal mask. Every other descriptor the parent opened
/// with close-on-exec stays behind.
pub(crate) fn posix_spawn(
    path: &CStr,
    argv: &[&CStr],
    envp: &[&CStr],
    fd: BorrowedFd<'_>,
    target: RawFd,
) -> io::Result<i32> {
    /// Frees the file actions and attributes however we leave.
    struct Guard {
        actions: libc::posix_spawn_file_actions_t,
        attr: libc::posix_spawnattr_t,
    }
    impl Drop for Guard {
        fn drop(&mut self) {
            // SAFETY: both were initialised before the Guard was built (below) and are
            // destroyed exactly once, here.
            unsafe {
                libc::posix_spawn_file_actions_destroy(&mut self.actions);
                libc::posix_spawnattr_destroy(&mut self.attr);
            }
        }
    }
    fn check(code: libc::c_int) -> io::Result<()> {
        // posix_spawn* return the error number instead of setting errno.
        if code == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(code))
        }
    }

    // SAFETY: both structures are opaque plain data that the init calls overwrite.
    let mut g: Guard = unsafe { std::mem::zeroed() };
    // SAFETY: `g.actions` and `g.attr` are valid to initialise; if an init fails the Guard's
    // destroy is still harmless on glibc (it frees a null action list).
    unsafe {
        check(libc::posix_spawn_file_actions_init(&mut g.actions))?;
        check(libc::posix_spawnattr_init(&mut g.attr))?;
    }
    // dup2(fd, fd) would leave close-on-exec set on older libcs, so install through a copy
    // that is guaranteed to have another number.
    let copy;
    let source = if fd.as_raw_fd() == target {
        copy = fd.try_clone_to_owned()?;
        copy.as_raw_fd()
    } else {
        fd.as_raw_fd()
    };
    let argv_ptrs: Vec<*mut libc::c_char> = argv
        .iter()
        .map(|a| a.as_ptr() as *mut libc::c_char)
        .chain(std::iter::once(std::ptr::null_mut()))
        .collect();
    let envp_ptrs: Vec<*mut libc::c_char> = envp
        .iter()
        .map(|a| a.as_ptr() as *mut libc::c_char)
        .chain(std::iter::once(std::ptr::null_mut()))
        .collect();
    let mut pid: libc::pid_t = 0;
    // SAFETY: 1. the file actions and attributes were initialised above; 2. `source` is open
    // for the duration of the call; 3. `argv_ptrs` and `envp_ptrs` are null-terminated arrays
    // of pointers to NUL-terminated strings that outlive the call; 4. posix_spawn does not
    // write through them despite the `*mut` in its signature.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        check(libc::posix_spawnattr_setsigmask(&mut g.attr, &empty))?;
        check(libc::posix_spawnattr_setflags(
            &mut g.attr,
            libc::POSIX_SPAWN_SETSIGMASK as libc::c_short,
        ))?;
        check(libc::posix_spawn_file_actions_adddup2(
            &mut g.actions,
            source,
            target,
        ))?;
        check(libc::posix_spawn(
            &mut pid,
            path.as_ptr(),
            &g.actions,
            &g.attr,
            argv_ptrs.as_ptr(),
            envp_ptrs.as_ptr(),
        ))?;
    }
    Ok(pid)
}

/// Seals a region made by [`memfd_sealed`] carries: it can neither shrink (a peer's
/// `ftruncate` would turn our next access into `SIGBUS`) nor grow, and no seal can be added
/// or removed later.
pub(crate) const REGION_SEALS: u32 =
    (libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL) as u32;

/// `memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)`, `fchmod(0600)` so the file is never
/// world-readable, `ftruncate(len)`, then [`REGION_SEALS`]: from here on nobody, in any
/// process, can change the file's size.
pub(crate) fn memfd_sealed(name: &CStr, len: u64) -> io::Result<OwnedFd> {
    let fd = syscall!(memfd_create(
        name.as_ptr(),
        libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING
    ))?;
    // SAFETY: memfd_create succeeded, so `fd` is open and owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    syscall!(fchmod(fd.as_raw_fd(), 0o600))?;
    use std::os::fd::AsFd;
    let len =
        libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    retry(|| syscall!(ftruncate(fd.as_raw_fd(), len)))?;
    add_seals(fd.as_fd(), REGION_SEALS)?;
    Ok(fd)
}

/// `fcntl(F_ADD_SEALS)`.
pub(crate) fn add_seals(fd: BorrowedFd<'_>, seals: u32) -> io::Result<()> {
    syscall!(fcntl(
        fd.as_raw_fd(),
        libc::F_ADD_SEALS,
        seals as libc::c_int
    ))?;
    Ok(())
}

/// `fcntl(F_GET_SEALS)`: the file's seals, or `None` for a file that cannot be sealed at all
/// (not a memfd or shmem file: the kernel answers `EINVAL`).
pub(crate) fn seals(fd: BorrowedFd<'_>) -> io::Result<Option<u32>> {
    match syscall!(fcntl(fd.as_raw_fd(), libc::F_GET_SEALS)) {
        Ok(seals) => Ok(Some(seals as u32)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `pidfd_open(pid, 0)`: a descriptor that becomes readable when `pid` ends (Linux 5.3+),
/// close-on-exec. Death is then seen from the process itself, not from a socket that another
/// process (a grandchild) may still hold open.
pub(crate) fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; it touches
    // no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0u32) };
    if fd == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the call succeeded, so `fd` is a new open descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `poll` of one descriptor for readability, up to `timeout`; whether it became readable.
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout: std::time::Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `pfd` is one valid pollfd for the duration of the call; poll only writes its
    // `revents`.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    n > 0 && pfd.revents != 0
}

/// A pipe, both ends close-on-exec: `(read end, write end)`.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as RawFd; 2];
    syscall!(pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC))?;
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `read(2)`. `Ok(0)` means every write end is closed.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // `buf` is valid for writes of `buf.len()` bytes for the duration of the call.
    let n = syscall!(read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()))?;
    Ok(n as usize)
}

/// `writev(2)` of `first` then `second` to a pipe. With `mask_sigpipe`, `SIGPIPE` is blocked
/// in this thread for the call and a `SIGPIPE` the call raised is consumed, so a closed read
/// end gives `EPIPE` whatever the signal's disposition (used when it was the default action,
/// which would kill the process; see `channel.rs`, invariant 2).
pub(crate) fn write_gather(
    fd: BorrowedFd<'_>,
    first: &[u8],
    second: &[u8],
    mask_sigpipe: bool,
) -> io::Result<usize> {
    let iov = iovecs(first, second);
    let write = || {
        // The iovecs point at slices that stay borrowed for the call; writev only reads them.
        syscall!(writev(
            fd.as_raw_fd(),
            iov.as_ptr(),
            iov.len() as libc::c_int
        ))
        .map(|n| n as usize)
    };
    if !mask_sigpipe {
        return write();
    }
    // SAFETY: sigset_t is plain data, initialised by sigemptyset/sigaddset before use;
    // pthread_sigmask, sigpending and sigtimedwait only read and write the sets we pass and
    // affect this thread alone. A SIGPIPE raised by a pipe write is sent to the writing
    // thread, so while it is blocked here it stays pending for this thread, where sigtimedwait
    // (zero timeout) takes it; one that was already pending before the call is left alone.
    unsafe {
        let mut pipe_set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe_set);
        libc::sigaddset(&mut pipe_set, libc::SIGPIPE);
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe_set, &mut old);
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        let was_pending = libc::sigismember(&pending, libc::SIGPIPE) == 1;
        let result = write();
        if matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPIPE)) && !was_pending {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&pipe_set, std::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        result
    }
}

/// Whether `SIGPIPE` has its default action (ending the process). Rust's runtime sets it to
/// ignored before `main`, so this is normally false.
pub(crate) fn sigpipe_is_default() -> bool {
    // SAFETY: sigaction with a null new action only reads the current one into `old`, which
    // is plain data.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_DFL
    }
}

/// Sets or clears `O_NONBLOCK` on `fd` (the open file description: the caller must be its
/// only holder for this to stay local).
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let flags = syscall!(fcntl(fd.as_raw_fd(), libc::F_GETFL))?;
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if new != flags {
        syscall!(fcntl(fd.as_raw_fd(), libc::F_SETFL, new))?;
    }
    Ok(())
}

/// `poll` of one descriptor for `events` (`POLLIN` or `POLLOUT`), up to `timeout` (`None`:
/// for ever; `EINTR` retried with the whole timeout). Whether it became ready (an error or
/// hang-up counts: the next call reports it).
pub(crate) fn poll_one(
    fd: BorrowedFd<'_>,
    events: libc::c_short,
    timeout: Option<std::time::Duration>,
) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // Milliseconds, rounded up so a short timeout does not become "do not wait".
    let ms = timeout.map_or(-1, |t| {
        libc::c_int::try_from(t.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX)
    });
    // `pfd` is one valid pollfd for the duration of the call; poll only writes its `revents`.
    let n = retry(|| syscall!(poll(&mut pfd, 1, ms)))?;
    Ok(n > 0)
}
