//! The ping-pong of one byte over two pipes, written once for the models that run it on OS
//! threads or processes (`thread`, `process`; docs/lab.md, "Experiments", `switch`): the
//! timing half ([`ping`]) and the answering half ([`echo`]). Each model only places the two
//! halves (two threads, or this process and a child) and hands them their pipe ends; this is
//! the program `perf bench sched pipe` runs, and the lab checks it against perf
//! ([`crate::checks`]).

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::WARMUP_ROUND_TRIPS;
use crate::models::{Outcome, Skip};

/// The timing half: writes one byte to `ping_w` and reads it back from `pong_r`,
/// [`WARMUP_ROUND_TRIPS`] times untimed, then `round_trips` times; the time for those.
pub fn ping(ping_w: impl AsFd, pong_r: impl AsFd, round_trips: u64) -> Outcome<Duration> {
    let mut byte = [0u8; 1];
    let mut start = Instant::now();
    for i in 0..WARMUP_ROUND_TRIPS + round_trips {
        if i == WARMUP_ROUND_TRIPS {
            start = Instant::now();
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_makes_the_warm_up_round_trips_before_its_timed_ones() {
        let (ping_r, ping_w) = rustix::pipe::pipe().unwrap();
        let (pong_r, pong_w) = rustix::pipe::pipe().unwrap();
        // The echo counts what it answers; it ends when the pinger's end closes.
        let echo = std::thread::spawn(move || {
            let mut byte = [0u8; 1];
            let mut answered = 0u64;
            while matches!(rustix::io::read(&ping_r, &mut byte), Ok(1)) {
                assert_eq!(rustix::io::write(&pong_w, &byte), Ok(1));
                answered += 1;
            }
            answered
        });
        ping(&ping_w, &pong_r, 7).unwrap();
        drop(ping_w);
        assert_eq!(echo.join().unwrap(), WARMUP_ROUND_TRIPS + 7);
    }
}
