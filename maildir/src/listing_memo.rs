//! The last listing of each mailbox, kept with the inputs it was built
//! from: the parsed uidlist and keyword file and the entries of `new/` and
//! `cur/`, each an object shared with the process-wide memory of unchanged
//! files ([`crate::control_cache`]) and settled directories
//! ([`crate::dir_scan`]). That memory hands out the same object only while
//! the file or directory is unchanged, so inputs that are the same objects
//! give the same listing, which is then returned without being built again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::dir_scan::{self, DirScan, ScannedFile};
use crate::file_problem::SkippedFile;
use crate::keywords::Keywords;
use crate::mailbox::Listing;
use crate::uidlist::Uidlist;

/// What a listing is built from: the parsed uidlist and keyword file and
/// the entries of `new/` and `cur/`, each shared with the process-wide
/// memory of unchanged files and directories. Two sets of inputs that are
/// the same objects give the same listing.
pub(crate) struct Inputs {
    pub uidlist: Option<Arc<Uidlist>>,
    pub keywords: Option<Arc<Keywords>>,
    pub new: Option<Arc<DirScan>>,
    pub cur: Option<Arc<DirScan>>,
}

impl Inputs {
    pub fn same_as(&self, other: &Inputs) -> bool {
        fn same<T>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
            match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
        }
        same(&self.uidlist, &other.uidlist)
            && same(&self.keywords, &other.keywords)
            && same(&self.new, &other.new)
            && same(&self.cur, &other.cur)
    }

    /// `new/` then `cur/` (for a base name found in both, the one in
    /// `cur/` wins).
    pub fn files(&self) -> Vec<&ScannedFile> {
        let n = self.new.as_ref().map_or(0, |d| d.files.len())
            + self.cur.as_ref().map_or(0, |d| d.files.len());
        let mut files = Vec::with_capacity(n);
        for d in [&self.new, &self.cur].into_iter().flatten() {
            files.extend(d.files.iter());
        }
        files
    }

    /// The base names of `new/` and `cur/` that are not UTF-8.
    pub fn undecodable_bases(&self) -> std::collections::HashSet<&[u8]> {
        [&self.new, &self.cur]
            .into_iter()
            .flatten()
            .flat_map(|d| d.undecodable_bases.iter().map(Vec::as_slice))
            .collect()
    }

    pub fn skipped(&self) -> Vec<SkippedFile> {
        [&self.new, &self.cur]
            .into_iter()
            .flatten()
            .flat_map(|d| d.skipped.iter().cloned())
            .collect()
    }
}

/// The last listing built per mailbox, with what it was built from.
struct Memo {
    inputs: Inputs,
    listing: Listing,
    last_used: u64,
}

/// How many mailboxes' last listings the process keeps.
const MEMO_CAPACITY: usize = 16;

/// Numbers the remembered listings (0 is never used).
static GENERATION: AtomicU64 = AtomicU64::new(1);

static LISTINGS: Mutex<Option<(HashMap<PathBuf, Memo>, u64)>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut HashMap<PathBuf, Memo>, &mut u64) -> R) -> R {
    let mut memo = LISTINGS.lock().unwrap_or_else(|e| e.into_inner());
    let (map, clock) = memo.get_or_insert_with(Default::default);
    *clock += 1;
    f(map, clock)
}

/// The listing last built for `dir` if it was built from these very inputs.
pub(crate) fn find(dir: &Path, inputs: &Inputs) -> Option<Listing> {
    with(|map, clock| {
        let m = map.get_mut(dir).filter(|m| m.inputs.same_as(inputs))?;
        m.last_used = *clock;
        Some(m.listing.clone())
    })
}

/// Keeps `listing`, just built from `inputs`, as the last one of `dir`
/// (and numbers it) when its directories are remembered, so that the same
/// inputs can come back.
pub(crate) fn keep(dir: &Path, inputs: Inputs, listing: &mut Listing) {
    // A file that could not be read may be repaired (chmod) without its
    // directory changing: such a listing is built again next time.
    let reusable = listing.unreadable.is_empty()
        && (inputs.new.is_none() || dir_scan::is_remembered(dir, "new", &inputs.new))
        && (inputs.cur.is_none() || dir_scan::is_remembered(dir, "cur", &inputs.cur));
    with(|map, clock| {
        if !reusable {
            map.remove(dir);
            return;
        }
        listing.generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        if map.len() >= MEMO_CAPACITY && !map.contains_key(dir) {
            let oldest = map
                .iter()
                .min_by_key(|(_, m)| m.last_used)
                .map(|(p, _)| p.clone());
            if let Some(p) = oldest {
                map.remove(&p);
            }
        }
        map.insert(
            dir.to_path_buf(),
            Memo {
                inputs,
                listing: listing.clone(),
                last_used: *clock,
            },
        );
    })
}

/// Whether the listing numbered `generation` is still the last one of
/// `dir` and was built from these very inputs.
pub(crate) fn is_current(dir: &Path, generation: u64, inputs: &Inputs) -> bool {
    generation != 0
        && with(|map, _| {
            map.get(dir)
                .is_some_and(|m| m.listing.generation == generation && m.inputs.same_as(inputs))
        })
}
