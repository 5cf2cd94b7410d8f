//! The `indexer` role and its `indexer-worker` processes, as Dovecot's.
//!
//! The indexer listens on `base_dir/indexer` ([`protocol`]); after each
//! LMTP delivery the lmtp process asks it to index the user's mailbox
//! ([`client`]). Requests wait in a bounded queue that coalesces repeats
//! ([`queue`]); one at a time, the indexer starts an `indexer-worker`
//! process for the job ([`worker`]), which looks the user up on
//! auth-userdb, drops to the user, syncs the mailbox and fills
//! `dovecot.index.cache` for the new messages with mail-store's precache,
//! so the first FETCH after a delivery is answered from the cache.

pub mod client;
pub mod protocol;
pub mod queue;
pub mod worker;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use self::queue::{Job, JobQueue, Pushed};
use super::error::ServeError;
use super::log;
use super::role::{self, Role, RoleContext};
use super::singleton::{bind_unix, ensure_base_dir, ready_then_wait};

/// Most jobs waiting at once (more are refused, and their cache is
/// filled on first access instead).
const QUEUE_LIMIT: usize = 10_000;
/// A worker taking longer than this is given up on.
const WORKER_TIMEOUT: Duration = Duration::from_secs(300);
/// An idle client connection is closed after this.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The queue shared by the connection threads and the runner.
struct Shared {
    queue: Mutex<JobQueue>,
    ready: Condvar,
}

/// Runs the `indexer` role.
pub fn run(mut ctx: RoleContext) -> Result<(), ServeError> {
    ensure_base_dir(&ctx.config.base_dir)?;
    let path = ctx.config.socket("indexer");
    let mode = ctx.config.unix_listener_mode("indexer", "indexer", 0o666);
    let listener = bind_unix(&path, mode)?;
    let shared = Arc::new(Shared {
        queue: Mutex::new(JobQueue::new(QUEUE_LIMIT)),
        ready: Condvar::new(),
    });
    {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("indexer-accept".into())
            .spawn(move || accept_loop(listener, shared))
            .map_err(|e| ServeError::io("start the indexer accept thread", e))?;
    }
    {
        let shared = Arc::clone(&shared);
        let config_path = ctx.config_path.clone();
        std::thread::Builder::new()
            .name("indexer-run".into())
            .spawn(move || run_jobs(&config_path, &shared))
            .map_err(|e| ServeError::io("start the indexer job thread", e))?;
    }
    let result = ready_then_wait(&mut ctx.control);
    let _ = std::fs::remove_file(&path);
    result
}

fn accept_loop(listener: UnixListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let shared = Arc::clone(&shared);
        let _ = std::thread::Builder::new()
            .name("indexer-conn".into())
            .stack_size(64 * 1024)
            .spawn(move || serve_client(stream, &shared));
    }
}

/// One client connection: the handshake, then requests, each answered.
fn serve_client(stream: UnixStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(CLIENT_TIMEOUT));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    let mut handshake = false;
    loop {
        line.clear();
        let limit = protocol::MAX_LINE as u64 + 2;
        match (&mut reader).take(limit).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.last() != Some(&b'\n') {
            log::error(
                "indexer",
                "a client line is too long: closing the connection",
            );
            return;
        }
        line.pop();
        if !handshake {
            if line != protocol::VERSION_LINE.as_bytes() {
                log::error("indexer", "a client without the indexer handshake");
                return;
            }
            handshake = true;
            if writer
                .write_all(format!("{}\n", protocol::VERSION_LINE).as_bytes())
                .is_err()
            {
                return;
            }
            continue;
        }
        let reply = match protocol::parse_request(&line) {
            Ok(request) => {
                let pushed = match shared.queue.lock() {
                    Ok(mut q) => q.push(Job {
                        user: request.user,
                        mailbox: request.mailbox,
                    }),
                    Err(_) => Pushed::Full,
                };
                shared.ready.notify_one();
                match pushed {
                    Pushed::Queued | Pushed::Coalesced => format!("{}\tOK\n", request.tag),
                    Pushed::Full => {
                        log::warning("indexer", "queue full: a request was refused");
                        format!("{}\t-1\n", request.tag)
                    }
                }
            }
            Err(e) => {
                log::error("indexer", &format!("bad request: {}", e.0));
                return;
            }
        };
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// Takes jobs one at a time and runs a worker process for each.
fn run_jobs(config_path: &Path, shared: &Shared) {
    loop {
        let job = {
            let Ok(mut q) = shared.queue.lock() else {
                return;
            };
            loop {
                if let Some(job) = q.pop() {
                    break job;
                }
                q = match shared.ready.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
        };
        if let Err(e) = run_worker(config_path, &job) {
            log::error(
                &format!("indexer-worker({})", job.user),
                &format!("indexing {} failed: {e}", job.mailbox),
            );
        }
    }
}

/// Starts an `indexer-worker` for `job` and waits for its answer.
fn run_worker(config_path: &Path, job: &Job) -> Result<(), ServeError> {
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| ServeError::io("duplicate stderr", e))?;
    let mut spawned = role::spawn(Role::IndexerWorker, config_path, Some(stderr))?;
    let _ = spawned
        .control
        .stream()
        .set_read_timeout(Some(WORKER_TIMEOUT));
    let sent = spawned
        .control
        .send(&worker::encode_job(&job.user, &job.mailbox), &[]);
    let answer = sent.map_err(ServeError::from).and_then(|()| {
        spawned
            .control
            .recv()
            .map_err(ServeError::from)?
            .ok_or_else(|| ServeError::Control("the worker exited without an answer".into()))
    });
    if answer.is_err() {
        let _ = spawned.child.kill();
    }
    let _ = spawned.child.wait();
    worker::parse_answer(&answer?.payload)
}
