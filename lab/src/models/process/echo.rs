//! The process model's `echo`: pre-forked worker processes sharing the listening socket, as
//! gunicorn does.
//!
//! 1. **Start.** The lab starts one worker per CPU it may use ([`crate::machine::cores`]),
//!    each with the launcher ([`process::start`], from the fork server), and sends each, over
//!    its channel, the CPU to pin to (worker i on the i-th CPU of the mask) with the
//!    listening socket as `SCM_RIGHTS`: every worker holds the same open socket, and the
//!    kernel hands each new connection to one of the workers waiting in `accept`. It names
//!    every worker in [`ServerProcesses`] (their CPU time is the server's) and waits for each
//!    to say it is ready.
//! 2. **Serve.** A worker is one thread with one `epoll` set: the listener (non-blocking:
//!    several workers wake for one connection and all but one find nothing), its channel,
//!    and each connection it accepted. A readable connection is read (up to
//!    [`ECHO_BUFFER`]) and everything read is written back; end of stream or an error closes
//!    it, and the worker tells the lab `Closed`.
//! 3. **End.** The lab counts the `Closed` of all workers (`poll` on their channels); once
//!    every connection has closed, it tells each worker to stop, reads its tally (accepted,
//!    closed), and kills and reaps every worker, whatever happened before (nothing leaks).
//!    A worker that dies, or fails, is an error, never a figure.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;

use rustix::event::{PollFd, PollFlags, epoll};
use serde::{Deserialize, Serialize};
use switchyard_runtime::process::{self, Channel, StartMethod};

use super::{NO_PIN, skip};
use crate::machine;
use crate::models::{ECHO_BUFFER, Outcome, ServerProcesses, Skip};

/// The worker's entry point (registered in [`super::entries`]).
pub(super) const WORKER: &str = "lab.echo_worker";

/// What a worker tells the lab.
#[derive(Debug, Serialize, Deserialize)]
enum Says {
    /// Set up: listening.
    Ready,
    /// One of its connections closed.
    Closed,
    /// It stopped when told: connections accepted and closed.
    Done { accepted: u64, closed: u64 },
    /// It could not go on.
    Failed(String),
}

/// `epoll` data of the channel and the listener; connection `i` is `FIRST_CONN + i`.
const CHANNEL: u64 = 0;
const LISTENER: u64 = 1;
const FIRST_CONN: u64 = 2;

/// A worker process (see the [module docs](self)).
pub(super) fn worker(mut channel: Channel) {
    let Ok((cpu, listener)) = channel.recv_with_fd::<u32>() else {
        return;
    };
    if cpu != NO_PIN {
        machine::pin_to_cpu(cpu as usize);
    }
    machine::raise_nofile_limit();
    let said = match serve(&mut channel, TcpListener::from(listener)) {
        Ok((accepted, closed)) => Says::Done { accepted, closed },
        Err(e) => Says::Failed(e.to_string()),
    };
    let _ = channel.send(&said);
}

/// The worker's loop: serves until the lab says stop (or goes away); (accepted, closed).
fn serve(channel: &mut Channel, listener: TcpListener) -> io::Result<(u64, u64)> {
    listener.set_nonblocking(true)?;
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    let readable = epoll::EventFlags::IN;
    epoll::add(
        &ep,
        channel.as_fd(),
        epoll::EventData::new_u64(CHANNEL),
        readable,
    )?;
    epoll::add(
        &ep,
        &listener,
        epoll::EventData::new_u64(LISTENER),
        readable,
    )?;
    channel.send(&Says::Ready).map_err(io::Error::other)?;
    let mut conns: Vec<Option<TcpStream>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let (mut accepted, mut closed) = (0u64, 0u64);
    let mut events: Vec<epoll::Event> = Vec::with_capacity(256);
    let mut buf = [0u8; ECHO_BUFFER];
    loop {
        events.clear();
        match epoll::wait(&ep, rustix::buffer::spare_capacity(&mut events), None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        for event in &events {
            match event.data.u64() {
                CHANNEL => {
                    // Anything from the lab, or its going away, means stop (a frame not
                    // whole yet wakes the epoll set again when the rest arrives).
                    if !matches!(channel.try_recv::<()>(), Ok(None)) {
                        return Ok((accepted, closed));
                    }
                }
                LISTENER => loop {
                    let stream = match listener.accept() {
                        Ok((stream, _)) => stream,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        // Another worker took it between the wake-up and the accept.
                        Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                        Err(e) => return Err(e),
                    };
                    stream.set_nodelay(true)?;
                    let slot = free.pop().unwrap_or_else(|| {
                        conns.push(None);
                        conns.len() - 1
                    });
                    let data = epoll::EventData::new_u64(FIRST_CONN + slot as u64);
                    epoll::add(&ep, &stream, data, readable)?;
                    conns[slot] = Some(stream);
                    accepted += 1;
                },
                data => {
                    let slot = (data - FIRST_CONN) as usize;
                    let Some(stream) = conns.get_mut(slot).and_then(Option::as_mut) else {
                        continue;
                    };
                    // A blocking socket the kernel says is readable: the read does not wait,
                    // and the 64-byte replies fit the send buffer the client keeps draining.
                    let open = match stream.read(&mut buf) {
                        Ok(0) => false,
                        Ok(n) => stream.write_all(&buf[..n]).is_ok(),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => true,
                        Err(_) => false,
                    };
                    if !open {
                        // Closing the descriptor takes it out of the epoll set.
                        conns[slot] = None;
                        free.push(slot);
                        closed += 1;
                        channel.send(&Says::Closed).map_err(io::Error::other)?;
                    }
                }
            }
        }
    }
}

/// The process model's `echo_serve` (see the [module docs](self)).
pub(super) fn serve_processes(
    listener: TcpListener,
    connections: u64,
    processes: &ServerProcesses,
) -> Outcome<()> {
    let failed = |e: &dyn std::fmt::Display| Skip(format!("echo failed: {e}"));
    let cpus = machine::start_cpus();
    let mut children = Vec::with_capacity(cpus.len());
    let mut channels = Vec::with_capacity(cpus.len());
    let result = (|| -> Outcome<()> {
        // 1. Start.
        for &cpu in cpus {
            let mut child =
                process::start(WORKER, StartMethod::ForkServer).map_err(|e| skip("start", e))?;
            let mut channel = child.take_channel().expect("fresh child has its channel");
            processes.add(child.pid());
            children.push(child);
            channel
                .send_with_fd(&(cpu as u32), listener.as_fd())
                .map_err(|e| failed(&e))?;
            channels.push(channel);
        }
        for channel in &mut channels {
            match channel.recv::<Says>().map_err(|e| failed(&e))? {
                Says::Ready => {}
                other => return Err(failed(&format!("a worker answered {other:?}"))),
            }
        }
        // 3. Every connection closed, counted over every worker's channel.
        let mut closed = 0;
        while closed < connections {
            let mut fds: Vec<PollFd<'_>> = channels
                .iter()
                .map(|c| PollFd::new(c, PollFlags::IN))
                .collect();
            match rustix::event::poll(&mut fds, None) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(failed(&e)),
            }
            for channel in &mut channels {
                // Drain what the channel holds, so no frame waits behind a quiet descriptor.
                while let Some(said) = channel.try_recv::<Says>().map_err(|e| failed(&e))? {
                    match said {
                        Says::Closed => closed += 1,
                        other => return Err(failed(&format!("a worker said {other:?}"))),
                    }
                }
            }
        }
        let (mut accepted, mut tallied) = (0, 0);
        for channel in &mut channels {
            channel.send(&()).map_err(|e| failed(&e))?;
            loop {
                match channel.recv::<Says>().map_err(|e| failed(&e))? {
                    Says::Closed => {}
                    Says::Done {
                        accepted: a,
                        closed: c,
                    } => {
                        accepted += a;
                        tallied += c;
                        break;
                    }
                    other => return Err(failed(&format!("a worker said {other:?}"))),
                }
            }
        }
        if accepted < connections || tallied < connections {
            return Err(failed(&format!(
                "the workers accepted {accepted} and closed {tallied} of {connections} connections"
            )));
        }
        Ok(())
    })();
    drop(channels);
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    result
}
