//! Policy: which clusters, which signals, which actions, and the cadence targets. Loaded from
//! TOML (`CADENCE_CONFIG`), or the built-in notify-only default when no file exists.

use std::path::Path;

pub mod windows;

/// The validated policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {}

/// A policy problem, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {field}: {problem}. Fix: {fix}")]
pub struct PolicyError {
    pub path: String,
    pub line: usize,
    pub field: String,
    pub problem: String,
    pub fix: String,
}

impl Policy {
    /// The built-in default: notify-only, every signal planned as a log notice.
    pub fn builtin() -> Self {
        Self {}
    }
    /// Loads a policy file. A missing file is not an error: `Ok(None)`.
    pub fn load(path: &Path) -> Result<Option<Self>, Vec<PolicyError>> {
        let _ = path;
        Ok(None)
    }
}
