//! Files that survive a crash whole: written to a temporary name in the same directory,
//! synced, renamed over the final name, and the directory synced. A reader, or a
//! restart after `kill -9` at any moment, sees the old file or the whole new one.

use std::io::Write;
use std::path::Path;

/// The prefix of temporary files; what a crash leaves behind with it is never a file
/// of the store, and [`remove_partial`] clears it away.
const TEMPORARY: &str = ".tmp";

/// Writes `bytes` to `path` in `dir` durably and atomically.
pub fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut temporary = tempfile::Builder::new()
        .prefix(TEMPORARY)
        .tempfile_in(dir)?;
    temporary.write_all(bytes)?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|error| error.error)?;
    // The rename is durable once the directory is.
    std::fs::File::open(dir)?.sync_all()
}

/// Removes the temporary files an interrupted write left in `dir`.
pub fn remove_partial(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(TEMPORARY) {
            tracing::warn!(file = %entry.path().display(), "removing a partial file left by an interrupted write");
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}
