//! Owner-only files and directories: everything the server writes under its data dir (the
//! database, `secrets.json`, clips, exports) holds users' data or keys, so directories are created
//! `0700` and files `0600`.
//!
//! The mode is set explicitly after creation (`chmod`), not left to the `mode` argument of
//! `open`/`mkdir`, which the process umask narrows or, with an unusual umask, could leave unreadable
//! to the owner; the result is the same whatever umask the server starts with. Off Unix these are
//! plain creations.

use std::io;
use std::path::Path;

/// Mode of every directory the server creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the server creates.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing parents owner-only (`0700`). Directories that exist already keep
/// their mode (they are the operator's: a mount point, a temp dir).
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let missing: Vec<&Path> = dir.ancestors().take_while(|a| !a.as_os_str().is_empty() && !a.exists()).collect();
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)?;
    // outermost first, so each next one stays reachable
    for created in missing.into_iter().rev() {
        set_mode(created, DIR_MODE)?;
    }
    Ok(())
}

/// [`create_dir`] for async code (on the blocking pool).
pub async fn create_dir_async(dir: &Path) -> io::Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || create_dir(&dir)).await.map_err(io::Error::other)?
}

/// Options that create a new file owner-only; call [`set_mode`] with [`FILE_MODE`] on it after
/// opening to be independent of the umask.
pub fn file_options() -> std::fs::OpenOptions {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(FILE_MODE);
    }
    opts
}

/// Creates (or truncates) `path` as an owner-only file open for writing.
pub fn create_file(path: &Path) -> io::Result<std::fs::File> {
    let file = file_options().open(path)?;
    set_file_mode(&file, FILE_MODE)?;
    Ok(file)
}

/// [`create_file`] for async code.
pub async fn create_file_async(path: &Path) -> io::Result<tokio::fs::File> {
    let path = path.to_path_buf();
    let file = tokio::task::spawn_blocking(move || create_file(&path)).await.map_err(io::Error::other)??;
    Ok(tokio::fs::File::from_std(file))
}

/// Sets `path`'s permission bits to `mode` (no-op off Unix).
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Sets an open file's permission bits to `mode` (no-op off Unix).
fn set_file_mode(file: &std::fs::File, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (file, mode);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn dirs_0700_and_files_0600() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_dir(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700, "created parents too");
        let f = nested.join("f");
        create_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
    }
}
