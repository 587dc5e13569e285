#![doc = include_str!("README.md")]

mod async_channel;
mod channel;
mod child;
mod error;
pub mod frame;
mod registry;
pub mod ring;
pub mod shm;
mod start;
mod sys;

pub use async_channel::AsyncChannel;
pub use channel::{CHILD_FD, Channel};
pub use child::{Child, ExitStatus, Signal};
pub use error::{FrameError, ProcessError};
pub use registry::{
    ENV_ENTRY, ENV_PARENT, EXIT_OK, EXIT_PANIC, EXIT_UNKNOWN_ENTRY, Entry, Init, fork_server_pid,
    hook, init, is_initialized,
};
pub use start::{Forker, StartMethod, serve_forks, start};
