//! Segment files on disk: their names (the zero-padded global position of the first
//! record, so that a directory listing sorts in log order), finding them, creating a new
//! one durably (file and directory fsync, or a crash could lose the file itself), and the
//! lock that keeps a second process from appending to the same log.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::StoreError;

const EXTENSION: &str = ".seg";
const LOCK_FILE: &str = "LOCK";

/// The file name of the segment whose first record is at `start`.
pub(crate) fn segment_name(start: u64) -> String {
    format!("{start:020}{EXTENSION}")
}

/// A segment found on disk.
#[derive(Debug, Clone)]
pub(crate) struct SegmentFile {
    pub start: u64,
    pub name: String,
    pub path: PathBuf,
}

/// The segments in `dir`, in log order. Other files are ignored; a `.seg` file whose name
/// is not a position is reported rather than skipped, since skipping it could hide data.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<SegmentFile>, StoreError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(EXTENSION) else {
            continue;
        };
        let start = match stem.parse::<u64>() {
            Ok(start) if segment_name(start) == name => start,
            _ => {
                return Err(StoreError::Corrupt {
                    segment: name,
                    offset: 0,
                    reason: "segment file name is not a zero-padded position".into(),
                })
            }
        };
        segments.push(SegmentFile {
            start,
            name,
            path: entry.path(),
        });
    }
    segments.sort_by_key(|s| s.start);
    Ok(segments)
}

/// Creates the empty segment starting at `start` and makes its existence durable before
/// anything is written to it. Returns the write handle.
pub(crate) fn create_segment(dir: &Path, start: u64) -> io::Result<(SegmentFile, File)> {
    let name = segment_name(start);
    let path = dir.join(&name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    file.sync_all()?;
    sync_dir(dir)?;
    Ok((SegmentFile { start, name, path }, file))
}

/// Makes directory entries (new or truncated files) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Takes an exclusive advisory lock on the log directory for as long as the returned file
/// stays open: two writers on one log (a second `serve`, or `replay` cutting what looks
/// like a torn tail while the service is mid-append) would corrupt it. Waits up to `wait`
/// for the lock, so an in-process restart whose old log is still being dropped by a
/// finishing task gets through.
pub(crate) fn lock_dir(dir: &Path, wait: Duration) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))?;
    let deadline = Instant::now() + wait;
    loop {
        // SAFETY: flock only reads the descriptor, which `file` keeps open for the call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(file);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::WouldBlock || Instant::now() >= deadline {
            let msg = format!(
                "event log {} is in use by another writer: {err}",
                dir.display()
            );
            return Err(StoreError::Io(io::Error::new(err.kind(), msg)));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_in_log_order_and_parse_back() {
        assert_eq!(segment_name(0), "00000000000000000000.seg");
        assert_eq!(segment_name(u64::MAX), "18446744073709551615.seg");
        let dir = tempfile::tempdir().expect("temp dir");
        for start in [1000, 5, 0] {
            create_segment(dir.path(), start).expect("create");
        }
        fs::write(dir.path().join("notes.txt"), b"ignored").expect("write");
        let found: Vec<u64> = list_segments(dir.path())
            .expect("list")
            .iter()
            .map(|s| s.start)
            .collect();
        assert_eq!(found, vec![0, 5, 1000]);
        assert!(
            create_segment(dir.path(), 5).is_err(),
            "never reuses a segment"
        );
    }

    #[test]
    fn a_malformed_segment_name_is_reported() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("12.seg"), b"").expect("write");
        let err = list_segments(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { ref segment, .. } if segment == "12.seg"));
    }

    #[test]
    fn the_directory_lock_is_exclusive() {
        let dir = tempfile::tempdir().expect("temp dir");
        let held = lock_dir(dir.path(), Duration::ZERO).expect("first lock");
        let started = Instant::now();
        assert!(lock_dir(dir.path(), Duration::from_millis(50)).is_err());
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "waited for the lock"
        );
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            drop(held);
        });
        lock_dir(dir.path(), Duration::from_secs(5)).expect("lock once released");
        releaser.join().expect("joined");
    }
}
