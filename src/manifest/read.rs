//! Reading the files a fleet names (the fleet file itself, `prompt_file`s) and other
//! user-named inputs with a size limit, refusing what is not a regular file: `/dev/zero`
//! would be read until memory runs out, and a FIFO would block forever.

use std::io::Read;
use std::path::Path;

/// The largest fleet file cafleet reads.
pub const MAX_FLEET_FILE: u64 = 16 * 1024 * 1024;
/// The largest prompt template file (the rendered prompt has its own limit).
pub const MAX_PROMPT_FILE: u64 = 4 * 1024 * 1024;

/// Reads `path` as UTF-8 text of at most `limit` bytes. The error says which rule was
/// broken; the caller adds which file it was and what for.
pub fn read_text(path: &Path, limit: u64) -> std::io::Result<String> {
    let bytes = read_bytes(path, limit)?;
    String::from_utf8(bytes).map_err(|_| std::io::Error::other("it is not UTF-8 text"))
}

/// [`read_text`] without the UTF-8 check.
pub fn read_bytes(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking, so opening a FIFO returns at once instead of waiting for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a folder"
        } else {
            "not a regular file (a device, FIFO or socket)"
        };
        return Err(std::io::Error::other(format!("it is {what}")));
    }
    if meta.len() > limit {
        return Err(too_big(limit));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_big(limit));
    }
    Ok(bytes)
}

fn too_big(limit: u64) -> std::io::Error {
    std::io::Error::other(format!("it is larger than {} KiB", limit / 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_fifos_folders_and_big_files() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_text(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = read_text(&fifo, 1024).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        let err = read_text(dir.path(), 1024).unwrap_err();
        assert!(err.to_string().contains("folder"), "{err}");
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; 2048]).unwrap();
        let err = read_text(&big, 1024).unwrap_err();
        assert!(err.to_string().contains("larger than 1 KiB"), "{err}");
        assert_eq!(read_text(&big, 4096).unwrap().len(), 2048);
    }
}
