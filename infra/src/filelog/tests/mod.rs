//! Tests of the file log through its public face (and two test hooks): round trips,
//! concurrency checks, reopen, torn tails, corruption and fail-stop, and crash points
//! enumerated on a simulated disk. Helpers here build events and inspect segment files
//! byte by byte.

mod basics;
mod bench;
mod crash;
mod damage;
mod kinds;
mod simdisk;

use std::path::{Path, PathBuf};

use ipledger_domain::{Envelope, ExpectedVersion};

use super::{FileLog, FileLogOptions};
pub(crate) use crate::conformance::{append_to, event};
use crate::StreamAppend;

fn open(dir: &Path) -> FileLog {
    FileLog::open(dir, FileLogOptions::default()).expect("open")
}

/// Segments of about four records each.
fn open_tiny(dir: &Path) -> FileLog {
    let opts = FileLogOptions {
        segment_bytes_max: 1200,
        ..FileLogOptions::default()
    };
    FileLog::open(dir, opts).expect("open")
}

/// Appends `batches` single-stream batches of `per_batch` events over 5 streams.
fn fill(log: &FileLog, batches: u64, per_batch: u64) -> Vec<Envelope> {
    let mut all = Vec::new();
    for b in 0..batches {
        let first = b * per_batch;
        let sa = append_to(
            &format!("s{}", b % 5),
            ExpectedVersion::Any,
            first..first + per_batch,
        );
        all.extend(log.append_blocking(vec![sa]).expect("append"));
    }
    all
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("metadata").len()
}

/// Offsets of the frames in a segment file, parsed from the length fields (after the
/// header of a format-2 segment).
fn frame_offsets(path: &Path) -> Vec<u64> {
    let bytes = std::fs::read(path).expect("read segment");
    let mut offsets = Vec::new();
    let mut at = if bytes.starts_with(b"IPLG") {
        super::header::HEADER_LEN as usize
    } else {
        0
    };
    while at + 9 <= bytes.len() {
        offsets.push(at as u64);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        at += 9 + len as usize;
    }
    offsets
}

/// Flips one bit of the byte at `offset`.
fn flip(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).expect("read segment");
    bytes[offset as usize] ^= 0x40;
    std::fs::write(path, bytes).expect("write segment");
}
