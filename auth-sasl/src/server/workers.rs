//! A fixed pool of threads for slow work (password hashing), so connection
//! handling never waits on a hash: Dovecot's auth-worker role.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// Threads taking jobs from a bounded queue.
pub struct WorkerPool {
    sender: Option<SyncSender<Job>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPool")
            .field("threads", &self.threads.len())
            .finish()
    }
}

impl WorkerPool {
    /// Starts `n` (at least 1) worker threads.
    pub fn new(n: usize) -> WorkerPool {
        let (sender, receiver) = sync_channel::<Job>(4096);
        let receiver: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(receiver));
        let threads = (0..n.max(1))
            .map(|i| {
                let receiver = Arc::clone(&receiver);
                std::thread::Builder::new()
                    .name(format!("auth-worker-{i}"))
                    .spawn(move || loop {
                        let job = {
                            let r = receiver.lock().unwrap_or_else(|e| e.into_inner());
                            r.recv()
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    })
                    .expect("spawning an auth worker thread")
            })
            .collect();
        WorkerPool {
            sender: Some(sender),
            threads,
        }
    }

    /// Queues a job; waits when the queue is full.
    pub fn run(&self, job: impl FnOnce() + Send + 'static) {
        if let Some(s) = &self.sender {
            let _ = s.send(Box::new(job));
        }
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.sender = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
