//! Clearing the environment.

/// Removes every environment variable except those named in `keep`, and
/// returns the names removed (never the values: they may hold secrets).
///
/// Changing the environment is only sound while no other thread reads it;
/// the recipes run it in a single-threaded process.
pub fn clear_env_except(keep: &[&str]) -> Vec<String> {
    let mut removed = Vec::new();
    for (name, _) in std::env::vars_os() {
        if keep.iter().any(|k| name == std::ffi::OsStr::new(k)) {
            continue;
        }
        removed.push(name.to_string_lossy().into_owned());
        std::env::remove_var(&name);
    }
    removed
}
