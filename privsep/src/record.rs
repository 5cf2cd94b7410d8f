//! The record of what a recipe applied, for the log.

use std::fmt;

/// One step of a recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Check that the process runs one thread.
    SingleThread,
    /// Resolve the user and groups.
    ResolveIds,
    /// Set resource limits.
    Rlimits,
    /// Close inherited descriptors.
    CloseFds,
    /// Clear the environment.
    ClearEnv,
    /// chroot, and chdir to the new root.
    Chroot,
    /// chdir to the home directory, as the user.
    Chdir,
    /// Drop the capability bounding set.
    BoundingSet,
    /// Set supplementary groups.
    Groups,
    /// Set real, effective and saved gid.
    Gid,
    /// Set real, effective and saved uid.
    Uid,
    /// Verify the ids and that root cannot be regained.
    VerifyIds,
    /// Set no_new_privs.
    NoNewPrivs,
    /// Clear the capability sets.
    Capabilities,
    /// Set the dumpable flag.
    Dumpable,
    /// Install the seccomp filter.
    Seccomp,
}

impl Step {
    /// The step's name in the log.
    pub fn name(self) -> &'static str {
        match self {
            Step::SingleThread => "single-thread",
            Step::ResolveIds => "resolve",
            Step::Rlimits => "rlimits",
            Step::CloseFds => "close-fds",
            Step::ClearEnv => "clear-env",
            Step::Chroot => "chroot",
            Step::Chdir => "chdir",
            Step::BoundingSet => "cap-bounding-set",
            Step::Groups => "setgroups",
            Step::Gid => "setgid",
            Step::Uid => "setuid",
            Step::VerifyIds => "verify",
            Step::NoNewPrivs => "no-new-privs",
            Step::Capabilities => "capabilities",
            Step::Dumpable => "dumpable",
            Step::Seccomp => "seccomp",
        }
    }
}

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied, with a short description (`"uid 5001"`, `"as=268435456 core=0"`).
    Applied(String),
    /// Not applied, and why (`"not root"`).
    Skipped(String),
}

/// One line of the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    /// The step.
    pub step: Step,
    /// What happened.
    pub outcome: Outcome,
}

/// What a recipe applied, in order. `Display` writes one line for the log:
/// `chroot=[/var/empty] setgid=[106] setuid=[103] seccomp=skipped(not configured) ...`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivsepRecord {
    steps: Vec<StepRecord>,
}

impl PrivsepRecord {
    pub(crate) fn applied(&mut self, step: Step, detail: impl Into<String>) {
        self.steps.push(StepRecord {
            step,
            outcome: Outcome::Applied(detail.into()),
        });
    }

    pub(crate) fn skipped(&mut self, step: Step, reason: impl Into<String>) {
        self.steps.push(StepRecord {
            step,
            outcome: Outcome::Skipped(reason.into()),
        });
    }

    /// Every step, in the order it ran.
    pub fn steps(&self) -> &[StepRecord] {
        &self.steps
    }

    /// The outcome of `step`, if the recipe reached it.
    pub fn outcome(&self, step: Step) -> Option<&Outcome> {
        self.steps
            .iter()
            .find(|s| s.step == step)
            .map(|s| &s.outcome)
    }

    /// Whether `step` was applied.
    pub fn was_applied(&self, step: Step) -> bool {
        matches!(self.outcome(step), Some(Outcome::Applied(_)))
    }

    /// The steps that were skipped, with the reason.
    pub fn skipped_steps(&self) -> impl Iterator<Item = (Step, &str)> {
        self.steps.iter().filter_map(|s| match &s.outcome {
            Outcome::Skipped(reason) => Some((s.step, reason.as_str())),
            Outcome::Applied(_) => None,
        })
    }
}

impl fmt::Display for PrivsepRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match &s.outcome {
                Outcome::Applied(detail) => write!(f, "{}=[{detail}]", s.step.name())?,
                Outcome::Skipped(reason) => write!(f, "{}=skipped({reason})", s.step.name())?,
            }
        }
        Ok(())
    }
}
