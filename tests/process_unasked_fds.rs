//! A receiver never accumulates descriptors it did not ask for (issue 7, item 4): a frame that
//! carries one is refused with a typed error and its descriptor closed, the stream staying in
//! step; descriptors that pile up ahead of their frames past the cap are all closed.
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Mutex;

use switchyard::runtime::process::frame::DEFAULT_MAX_FDS;
use switchyard::runtime::process::{Channel, FrameError};

mod resources;
use resources::open_fds;

/// The tests count this process's descriptors, so they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn three_hundred_unasked_descriptors_are_closed_not_kept() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut a, mut b) = Channel::pair().unwrap();
    let (x, _y) = std::os::unix::net::UnixStream::pair().unwrap();
    let before = open_fds();
    for i in 0..300u32 {
        a.send_with_fd(&i, x.as_fd()).unwrap();
        a.send(&(i + 1000)).unwrap();
        // The frame with a descriptor is refused, the plain one after it still arrives.
        match b.recv::<u32>() {
            Err(FrameError::UnexpectedFds {
                count: 1,
                expected: 0,
            }) => {}
            other => panic!("frame {i}: {other:?}"),
        }
        assert_eq!(b.recv::<u32>().unwrap(), i + 1000);
        assert!(open_fds() <= before, "frame {i}: a descriptor was kept");
    }
    assert_eq!(open_fds(), before);
    // And one that was asked for still arrives.
    a.send_with_fd(&7u32, x.as_fd()).unwrap();
    let (v, fd) = b.recv_with_fd::<u32>().unwrap();
    assert_eq!(v, 7);
    assert_eq!(open_fds(), before + 1);
    drop(fd);
    assert_eq!(open_fds(), before);
}

#[test]
fn a_frame_with_more_descriptors_than_asked_is_refused() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut a, mut b) = Channel::pair().unwrap();
    let (x, _y) = std::os::unix::net::UnixStream::pair().unwrap();
    let before = open_fds();
    // Two descriptors attributed to one frame: the frame's header goes with the first, a
    // hostile extra rides on its body.
    let frame_len = 1u32;
    send_raw_with_fd(&a, &frame_len.to_le_bytes(), x.as_raw_fd()).unwrap();
    send_raw_with_fd(&a, &[5], x.as_raw_fd()).unwrap();
    match b.recv_with_fd::<u8>() {
        Err(FrameError::UnexpectedFds {
            count: 2,
            expected: 1,
        }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(open_fds(), before);
    // A frame without one where one is asked for.
    a.send(&3u8).unwrap();
    assert!(matches!(b.recv_with_fd::<u8>(), Err(FrameError::MissingFd)));
    a.send(&4u8).unwrap();
    assert_eq!(b.recv::<u8>().unwrap(), 4, "the stream stayed in step");
}

#[test]
fn descriptors_piling_up_ahead_of_their_frame_are_capped() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (a, mut b) = Channel::pair().unwrap();
    let (x, _y) = std::os::unix::net::UnixStream::pair().unwrap();
    let before = open_fds();
    // A header announcing 1000 bytes, then 300 one-byte sends each carrying a descriptor:
    // all of them land inside that one frame. From another thread, as the socket buffer does
    // not hold them all; it stops when the receiver is gone.
    let sender = std::thread::spawn(move || {
        send_raw(&a, &1000u32.to_le_bytes()).unwrap();
        for _ in 0..300 {
            if send_raw_with_fd(&a, &[0], x.as_raw_fd()).is_err() {
                return;
            }
        }
        let _ = send_raw(&a, &[0; 700]);
    });
    match b.recv_bytes() {
        Err(FrameError::TooManyFds { max }) => assert_eq!(max, DEFAULT_MAX_FDS),
        other => panic!("{other:?}"),
    }
    assert!(open_fds() <= before + DEFAULT_MAX_FDS);
    // Broken for good, holding nothing: later calls repeat the error.
    assert!(matches!(b.recv_bytes(), Err(FrameError::TooManyFds { .. })));
    assert_eq!(open_fds(), before);
    drop(b);
    sender.join().unwrap();
}

/// Writes `bytes` on the channel's socket as one `sendmsg`.
fn send_raw(channel: &Channel, bytes: &[u8]) -> std::io::Result<()> {
    // SAFETY: writing a valid buffer to an open socket.
    let n = unsafe {
        libc::send(
            channel.as_fd().as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    assert_eq!(n, bytes.len() as isize);
    Ok(())
}

/// Writes `bytes` as one `sendmsg` carrying `fd` (`SCM_RIGHTS`), as a hostile peer might.
fn send_raw_with_fd(channel: &Channel, bytes: &[u8], fd: i32) -> std::io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let mut space = [0u64; 4];
    // SAFETY: msghdr is plain data; the control buffer (32 bytes) holds one cmsghdr and one
    // descriptor (CMSG_SPACE(4) = 24); CMSG_FIRSTHDR points inside it.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = space.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(4) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(4) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<i32>(), fd);
        let n = libc::sendmsg(channel.as_fd().as_raw_fd(), &msg, libc::MSG_NOSIGNAL);
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        assert_eq!(n, bytes.len() as isize);
    }
    Ok(())
}
