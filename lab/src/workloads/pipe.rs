//! The ping-pong of one byte over two pipes, written once for the models that run it on OS
//! threads or processes (`thread`, `process`; docs/lab.md, "Experiments", `switch`): the
//! timing half ([`ping`]) and the answering half ([`echo`]). Each model only places the two
//! halves (two threads, or this process and a child) and hands them their pipe ends; this is
//! the program `perf bench sched pipe` runs, and the lab checks it against perf
//! ([`crate::checks`]).

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use crate::models::{Outcome, Skip};

/// The timing half: writes one byte to `ping_w` and reads it back from `pong_r`,
/// `round_trips` times; the time for all of them.
pub fn ping(ping_w: impl AsFd, pong_r: impl AsFd, round_trips: u64) -> Outcome<Duration> {
    let mut byte = [0u8; 1];
    let start = Instant::now();
    for _ in 0..round_trips {
        if rustix::io::write(&ping_w, &byte) != Ok(1)
            || rustix::io::read(&pong_r, &mut byte) != Ok(1)
        {
            return Err(Skip("pipe ping-pong failed".to_owned()));
        }
    }
    Ok(start.elapsed())
}

/// The answering half: reads one byte from `ping_r` and writes it to `pong_w`, until `ping_r`
/// reads end-of-file (the pinger closed its end) or either fails.
pub fn echo(ping_r: impl AsFd, pong_w: impl AsFd) {
    let mut byte = [0u8; 1];
    while matches!(rustix::io::read(&ping_r, &mut byte), Ok(1)) {
        if rustix::io::write(&pong_w, &byte) != Ok(1) {
            break;
        }
    }
}
