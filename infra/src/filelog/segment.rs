//! Segment files: their names (the zero-padded global position of the first record, so
//! that a directory listing sorts in log order), finding them, creating a new one durably
//! (file and directory fsync, or a crash could lose the file itself), and the lock that
//! keeps a second writer from appending to the same log. All through the storage seam.

use std::io;
use std::time::Duration;

use crate::StoreError;

use super::header;
use super::storage::{DirLock, Storage, StorageFile};

const EXTENSION: &str = ".seg";

/// The file name of the segment whose first record is at `start`.
pub(crate) fn segment_name(start: u64) -> String {
    format!("{start:020}{EXTENSION}")
}

/// A segment found on disk.
#[derive(Debug, Clone)]
pub(crate) struct SegmentFile {
    pub start: u64,
    pub name: String,
}

/// The segments in the log, in log order. Other files are ignored; a `.seg` file whose
/// name is not a position is reported rather than skipped, since skipping it could hide
/// data.
pub(crate) fn list_segments(storage: &dyn Storage) -> Result<Vec<SegmentFile>, StoreError> {
    let mut segments = Vec::new();
    for name in storage.list()? {
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
        segments.push(SegmentFile { start, name });
    }
    segments.sort_by_key(|s| s.start);
    Ok(segments)
}

/// Creates the segment starting at `start` with its format-2 header, and makes both durable
/// before anything is appended to it. Returns the write handle.
pub(crate) fn create_segment(
    storage: &dyn Storage,
    start: u64,
) -> io::Result<(SegmentFile, Box<dyn StorageFile>)> {
    let name = segment_name(start);
    let file = storage.create(&name)?;
    header::write_new(&*file, start)?;
    storage.sync_dir()?;
    Ok((SegmentFile { start, name }, file))
}

/// Takes the exclusive writer lock on the log: two writers on one log (a second `serve`,
/// or `replay` cutting what looks like a torn tail while the service is mid-append) would
/// corrupt it. Waits up to `wait` for the lock.
pub(crate) fn lock_dir(storage: &dyn Storage, wait: Duration) -> Result<DirLock, StoreError> {
    storage.lock(wait).map_err(|err| {
        let msg = format!(
            "event log {} is in use by another writer: {err}",
            storage.location().display()
        );
        StoreError::Io(io::Error::new(err.kind(), msg))
    })
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::Instant;

    use super::super::storage::FsStorage;
    use super::*;

    #[test]
    fn names_sort_in_log_order_and_parse_back() {
        assert_eq!(segment_name(0), "00000000000000000000.seg");
        assert_eq!(segment_name(u64::MAX), "18446744073709551615.seg");
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = FsStorage::new(dir.path());
        for start in [1000, 5, 0] {
            create_segment(&storage, start).expect("create");
        }
        fs::write(dir.path().join("notes.txt"), b"ignored").expect("write");
        let found: Vec<u64> = list_segments(&storage)
            .expect("list")
            .iter()
            .map(|s| s.start)
            .collect();
        assert_eq!(found, vec![0, 5, 1000]);
        assert!(
            create_segment(&storage, 5).is_err(),
            "never reuses a segment"
        );
    }

    #[test]
    fn a_malformed_segment_name_is_reported() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("12.seg"), b"").expect("write");
        let err = list_segments(&FsStorage::new(dir.path())).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { ref segment, .. } if segment == "12.seg"));
    }

    #[test]
    fn the_directory_lock_is_exclusive() {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = FsStorage::new(dir.path());
        let held = lock_dir(&storage, Duration::ZERO).expect("first lock");
        let started = Instant::now();
        assert!(lock_dir(&storage, Duration::from_millis(50)).is_err());
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "waited for the lock"
        );
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            drop(held);
        });
        lock_dir(&storage, Duration::from_secs(5)).expect("lock once released");
        releaser.join().expect("joined");
    }
}
