//! The indexer's queue: bounded, first in first out, and coalescing:
//! a request for a user+mailbox that is already waiting is not queued
//! twice (one run indexes everything new).

use std::collections::{HashSet, VecDeque};

/// One unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Job {
    /// The user.
    pub user: String,
    /// The mailbox.
    pub mailbox: String,
}

/// What [`JobQueue::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued at the end.
    Queued,
    /// The same job was already waiting.
    Coalesced,
    /// The queue is full: refused.
    Full,
}

/// A bounded, coalescing FIFO of jobs.
#[derive(Debug)]
pub struct JobQueue {
    jobs: VecDeque<Job>,
    waiting: HashSet<Job>,
    limit: usize,
}

impl JobQueue {
    /// A queue holding at most `limit` jobs.
    pub fn new(limit: usize) -> JobQueue {
        JobQueue {
            jobs: VecDeque::new(),
            waiting: HashSet::new(),
            limit,
        }
    }

    /// Adds a job unless the same one waits already or the queue is full.
    pub fn push(&mut self, job: Job) -> Pushed {
        if self.waiting.contains(&job) {
            return Pushed::Coalesced;
        }
        if self.jobs.len() >= self.limit {
            return Pushed::Full;
        }
        self.waiting.insert(job.clone());
        self.jobs.push_back(job);
        Pushed::Queued
    }

    /// The oldest job. Once taken, a new request for it queues it again
    /// (it may name messages the running job does not see).
    pub fn pop(&mut self) -> Option<Job> {
        let job = self.jobs.pop_front()?;
        self.waiting.remove(&job);
        Some(job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(u: &str) -> Job {
        Job {
            user: u.into(),
            mailbox: "INBOX".into(),
        }
    }

    #[test]
    fn repeated_requests_coalesce_and_the_bound_holds() {
        let mut q = JobQueue::new(2);
        assert_eq!(q.push(job("a")), Pushed::Queued);
        assert_eq!(q.push(job("a")), Pushed::Coalesced);
        assert_eq!(q.push(job("b")), Pushed::Queued);
        assert_eq!(q.push(job("c")), Pushed::Full);
        assert_eq!(q.pop(), Some(job("a")));
        // taken: asking again queues it again
        assert_eq!(q.push(job("a")), Pushed::Queued);
        assert_eq!(q.pop(), Some(job("b")));
        assert_eq!(q.pop(), Some(job("a")));
        assert_eq!(q.pop(), None);
    }
}
