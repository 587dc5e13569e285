//! The typed errors of the process module: what went wrong, in words a user can act on.
//! [`RingError`] and [`Corruption`] are also re-exported from [`ring`](super::ring).

use std::io;

/// A frame could not be sent or received on a [`Channel`](super::Channel).
///
/// Every way a peer can misbehave (die, send garbage, announce a huge frame, stop half-way)
/// maps to one variant here; none of them panics or allocates more than the channel's
/// maximum frame size.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed its end (it exited, crashed or dropped its channel) between frames.
    #[error("the peer closed the channel (it exited, crashed or dropped its end)")]
    PeerClosed,
    /// The peer closed its end in the middle of a frame.
    #[error(
        "truncated frame: the peer closed the channel after {got} of {expected} bytes \
         (it probably died while sending)"
    )]
    Truncated {
        /// Bytes the frame (header or body) announced.
        expected: usize,
        /// Bytes that arrived before the end.
        got: usize,
    },
    /// A frame is larger than the channel's maximum frame size (on receive, nothing was
    /// allocated for it; the channel is then unusable, since the stream position is lost).
    #[error(
        "frame of {len} bytes exceeds the maximum frame size of {max} bytes \
         (raise it with Channel::set_max_frame_size, or send bulk data through shared memory)"
    )]
    Oversized {
        /// The frame's length.
        len: usize,
        /// The channel's maximum frame size.
        max: usize,
    },
    /// A frame arrived whole but does not decode as the expected type.
    #[error("malformed frame: its {len} bytes do not decode as the expected type: {source}")]
    Malformed {
        /// The body's length.
        len: usize,
        /// What the decoder said.
        source: postcard::Error,
    },
    /// A value could not be encoded.
    #[error("could not encode the value: {0}")]
    Encode(postcard::Error),
    /// A frame that should have carried a file descriptor arrived without one (the frame was
    /// dropped; the channel stays usable).
    #[error("the frame carried no file descriptor where one was expected")]
    MissingFd,
    /// A frame arrived with file descriptors the receiver did not ask for (or more than the
    /// one it asked for). They were closed and the frame dropped; the channel stays usable.
    #[error(
        "a frame arrived with {count} file descriptor(s) where {expected} were expected; \
         they were closed and the frame dropped (receive frames sent with send_with_fd \
         with recv_with_fd)"
    )]
    UnexpectedFds {
        /// Descriptors the frame carried.
        count: usize,
        /// Descriptors the receiving call asked for.
        expected: usize,
    },
    /// More descriptors arrived ahead of their frames than the channel holds. They were all
    /// closed; the channel is then unusable.
    #[error(
        "more than {max} file descriptors arrived ahead of their frames; all were closed and \
         the channel is unusable (raise the cap with Channel::set_max_fds)"
    )]
    TooManyFds {
        /// The channel's cap.
        max: usize,
    },
    /// The operating system refused a read or a write.
    #[error("channel I/O failed: {0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// Whether this error means the peer is gone (closed, crashed, or reset the connection).
    pub fn is_peer_gone(&self) -> bool {
        match self {
            FrameError::PeerClosed | FrameError::Truncated { .. } => true,
            FrameError::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            _ => false,
        }
    }
}

/// A child process could not be started or managed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// `process::init()` was never called, so children could not find their entry point.
    #[error(
        "switchyard::runtime::process::init() was not called: call it as the first line of \
         main (children re-execute this binary, and init() is where they find their entry \
         point)"
    )]
    NotInitialized,
    /// No entry point with this name was registered in `init()`.
    #[error("no process entry point named {name:?} was registered in process::init()")]
    UnknownEntry {
        /// The name asked for.
        name: String,
    },
    /// `StartMethod::Fork` was asked for while the parent runs more than one thread.
    #[error(
        "refusing to fork: this process runs {threads} threads, and a forked child would \
         inherit locks held by threads that do not exist in it; use StartMethod::Spawn \
         (the default) or StartMethod::ForkServer"
    )]
    ForkWithThreads {
        /// Threads counted in `/proc/self/status`.
        threads: usize,
    },
    /// `StartMethod::ForkServer` was asked for but `init()` did not start the server.
    #[error(
        "no fork server: start it with process::Init::new().fork_server(true) in main, \
         before any thread is spawned"
    )]
    NoForkServer,
    /// The fork server stopped answering (it was killed or crashed).
    #[error("the fork server is gone ({0}); use StartMethod::Spawn")]
    ForkServerGone(#[source] FrameError),
    /// `init()` was called again, or after a thread was spawned when a fork server was asked.
    #[error("process::init() {0}")]
    InitMisuse(&'static str),
    /// The operating system refused to start the child.
    #[error("could not start a child process: {0}")]
    Start(#[source] io::Error),
    /// The operating system refused to wait for or signal the child.
    #[error("could not manage child process {pid}: {source}")]
    Child {
        /// The child's pid.
        pid: i32,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Why a ring operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// The other side dropped its end (for the consumer: after every message was read).
    #[error("the other end of the ring was dropped")]
    Closed,
    /// The wait timed out (the peer may be dead; check its channel or child handle).
    #[error("timed out waiting on the ring")]
    TimedOut,
    /// The region does not hold a ring (wrong magic or a capacity that does not fit).
    #[error("the shared region does not hold an initialised ring")]
    NotARing,
    /// A message is longer than this end accepts. On receive nothing was consumed or
    /// allocated: the message is still at the front of the ring.
    #[error(
        "a ring message of {len} bytes exceeds the limit of {max} bytes (raise it with \
         set_max_message_size; recv_with also needs the message and its 4-byte prefix to fit \
         in the ring: use recv for larger ones)"
    )]
    TooLong {
        /// The message's length.
        len: usize,
        /// The limit it broke.
        max: usize,
    },
    /// The peer wrote a position no correct peer writes; the ring is unusable.
    #[error("the peer corrupted the ring ({0}); drop the ring and distrust the peer")]
    Corrupt(#[from] Corruption),
    /// Making or mapping the region failed.
    #[error(transparent)]
    Shm(#[from] super::shm::ShmError),
}

/// Which shared position was forged, and its value (the ring's module docs, "What a peer may
/// forge", point 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    /// Seen by the consumer: the producer's `tail` is not within `capacity` bytes ahead of
    /// the consumer's `head`.
    #[error("tail {tail} is not within {capacity} bytes ahead of head {head}")]
    Tail {
        /// The consumer's own position.
        head: u64,
        /// The position the producer stored.
        tail: u64,
        /// The ring's capacity.
        capacity: usize,
    },
    /// Seen by the producer: the consumer's `head` is not within `capacity` bytes behind the
    /// producer's `tail`.
    #[error("head {head} is not within {capacity} bytes behind tail {tail}")]
    Head {
        /// The position the consumer stored.
        head: u64,
        /// The producer's own position.
        tail: u64,
        /// The ring's capacity.
        capacity: usize,
    },
}
