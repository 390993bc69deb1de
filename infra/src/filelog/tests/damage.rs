//! Crashes and damage: torn tails are cut off, a batch without its COMMIT is dropped whole,
//! corruption anywhere else stops the open with its exact place, and a failed write closes
//! the log for writes.

use std::fs;
use std::path::Path;

use ipledger_domain::ExpectedVersion::Any;

use super::*;
use crate::filelog::header::HEADER_LEN;
use crate::{AppendError, StoreError};

fn corrupt_at(result: Result<FileLog, StoreError>) -> (String, u64) {
    match result {
        Err(StoreError::Corrupt {
            segment, offset, ..
        }) => (segment, offset),
        Err(other) => panic!("expected Corrupt, got {other:?}"),
        Ok(_) => panic!("expected Corrupt, the open succeeded"),
    }
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

/// The header of a format-2 segment (with its synced-end slots) as it is now.
fn header_of(seg: &Path) -> Vec<u8> {
    let bytes = fs::read(seg).expect("read");
    bytes[..HEADER_LEN as usize].to_vec()
}

/// Puts back a header saved before later appends: the segment then looks as a crash
/// during the first of them leaves it, that append's synced-end record not yet written.
fn put_header(seg: &Path, header: &[u8]) {
    let mut bytes = fs::read(seg).expect("read");
    bytes[..header.len()].copy_from_slice(header);
    fs::write(seg, bytes).expect("write");
}

/// A log of three single-event appends, the third as a crash during it would leave it
/// (not proven synced); returns the segment and where the third starts.
fn three_appends(dir: &Path) -> (std::path::PathBuf, u64) {
    let log = open(dir);
    fill(&log, 2, 1);
    let seg = segment_files(dir)[0].clone();
    let last_start = file_len(&seg);
    let header = header_of(&seg);
    fill(&log, 1, 1);
    drop(log);
    put_header(&seg, &header);
    (seg, last_start)
}

#[test]
fn a_cut_anywhere_inside_the_last_record_is_a_torn_tail() {
    let pristine = tempfile::tempdir().expect("temp dir");
    let (seg, good_end) = three_appends(pristine.path());
    let bytes = fs::read(&seg).expect("read");
    let expected = open(pristine.path())
        .shared
        .read_all_sync(0, 2)
        .expect("read");
    for cut in good_end + 1..bytes.len() as u64 {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(name_of(&seg));
        fs::write(&path, &bytes[..cut as usize]).expect("write");
        let report = crate::filelog::verify(dir.path()).expect("verify");
        let torn = report.torn_tail.expect("verify sees the torn tail");
        assert_eq!(
            (torn.offset, file_len(&path)),
            (good_end, cut),
            "verify repairs nothing"
        );
        let log = open(dir.path());
        let torn = log.torn_tail().expect("the open dropped a torn tail");
        assert_eq!(
            (torn.offset, torn.dropped_bytes),
            (good_end, cut - good_end),
            "cut {cut}"
        );
        assert_eq!(
            file_len(&path),
            good_end,
            "truncated to the last good record"
        );
        assert_eq!(log.shared.read_all_sync(0, 10).expect("read"), expected);
        assert_eq!(
            log.append_blocking(vec![append_to("x", Any, [7])])
                .expect("append")[0]
                .position,
            2
        );
    }
}

#[test]
fn a_bad_checksum_on_the_final_frame_is_a_torn_tail() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (seg, good_end) = three_appends(dir.path());
    flip(&seg, file_len(&seg) - 1);
    let log = open(dir.path());
    assert_eq!(log.torn_tail().map(|t| t.offset), Some(good_end));
    assert_eq!(crate::EventStore::head(&log), 2);
}

#[test]
fn a_batch_without_its_commit_is_dropped_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open(dir.path());
    fill(&log, 1, 1);
    let seg = segment_files(dir.path())[0].clone();
    let before = file_len(&seg);
    let header = header_of(&seg);
    fill(&log, 1, 3);
    drop(log);
    put_header(&seg, &header);
    let frames = frame_offsets(&seg);
    let pristine = fs::read(&seg).expect("read");
    // Inside the final (COMMIT) record, and exactly before it: two complete records remain
    // but their batch never committed.
    for cut in [pristine.len() as u64 - 4, frames[3]] {
        fs::write(&seg, &pristine[..cut as usize]).expect("write");
        let log = open(dir.path());
        let torn = log.torn_tail().expect("torn");
        assert_eq!(
            (torn.offset, file_len(&seg)),
            (before, before),
            "cut {cut}: {torn:?}"
        );
        assert_eq!(crate::EventStore::head(&log), 1);
    }
}

#[test]
fn corruption_followed_by_more_records_stops_the_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (seg, _) = three_appends(dir.path());
    let frames = frame_offsets(&seg);
    let pristine = fs::read(&seg).expect("read");
    for (i, &at) in frames[..2].iter().enumerate() {
        for byte in [at + 4, at + 8, at + 20] {
            fs::write(&seg, &pristine).expect("restore");
            flip(&seg, byte);
            let opened = FileLog::open(dir.path(), FileLogOptions::default());
            assert_eq!(
                corrupt_at(opened),
                (name_of(&seg), at),
                "record {i}, byte {byte}"
            );
            assert!(matches!(
                crate::filelog::verify(dir.path()),
                Err(StoreError::Corrupt { .. })
            ));
        }
    }
    fs::write(&seg, &pristine).expect("restore");
    open(dir.path());
}

#[test]
fn corruption_in_an_earlier_segment_stops_the_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    fill(&open_tiny(dir.path()), 20, 2);
    let segs = segment_files(dir.path());
    assert!(segs.len() > 3);
    let seg = &segs[1];
    let last = *frame_offsets(seg).last().expect("frames");
    let pristine = fs::read(seg).expect("read");
    flip(seg, file_len(seg) - 3);
    let opened = FileLog::open(dir.path(), FileLogOptions::default());
    assert_eq!(corrupt_at(opened), (name_of(seg), last));
    fs::write(seg, &pristine[..pristine.len() - 3]).expect("cut");
    let opened = FileLog::open(dir.path(), FileLogOptions::default());
    assert_eq!(corrupt_at(opened), (name_of(seg), last));
    fs::write(seg, &pristine).expect("restore");
    fs::remove_file(&segs[2]).expect("remove a middle segment");
    let opened = FileLog::open(dir.path(), FileLogOptions::default());
    assert_eq!(
        corrupt_at(opened),
        (name_of(&segs[3]), 0),
        "a gap in positions"
    );
}

#[test]
fn an_empty_segment_left_by_a_crash_after_rolling_is_used() {
    let dir = tempfile::tempdir().expect("temp dir");
    let written = fill(&open(dir.path()), 3, 2);
    fs::write(
        dir.path().join(crate::filelog::segment::segment_name(6)),
        b"",
    )
    .expect("create");
    let log = open(dir.path());
    assert_eq!(log.shared.read_all_sync(0, 100).expect("read"), written);
    let more = fill(&log, 1, 1);
    assert_eq!(more[0].position, 6);
    assert_eq!(
        frame_offsets(&segment_files(dir.path())[1]),
        [HEADER_LEN],
        "appended to the new segment, after the header the open wrote into it"
    );
}

#[test]
fn after_a_failed_write_every_append_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open(dir.path());
    let written = fill(&log, 2, 2);
    log.break_writer().expect("hook");
    let first = log.append_blocking(vec![append_to("a", Any, [9])]);
    assert!(
        matches!(first, Err(AppendError::Store(StoreError::Io(_)))),
        "{first:?}"
    );
    for _ in 0..2 {
        let again = log.append_blocking(vec![append_to("a", Any, [9])]);
        assert!(
            matches!(again, Err(AppendError::Store(StoreError::Closed))),
            "{again:?}"
        );
    }
    assert_eq!(crate::EventStore::head(&log), 4);
    assert_eq!(
        log.shared.read_all_sync(0, 100).expect("reads still work"),
        written
    );
    drop(log);
    assert_eq!(
        open(dir.path()).shared.read_all_sync(0, 100).expect("read"),
        written
    );
}

#[test]
fn garbage_zeros_or_half_a_frame_after_the_last_commit_are_a_torn_tail() {
    let pristine = tempfile::tempdir().expect("temp dir");
    let (seg, _) = three_appends(pristine.path());
    let good = fs::read(&seg).expect("read");
    let last = *frame_offsets(&seg).last().expect("frames") as usize;
    let tails: [&[u8]; 4] = [
        &[0xff; 13],
        &[0; 64],
        &good[last..last + 40],
        &good[last..last + 4],
    ];
    for tail in tails {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(name_of(&seg));
        fs::write(&path, [&good[..], tail].concat()).expect("write");
        let log = open(dir.path());
        let torn = log.torn_tail().expect("torn");
        assert_eq!(
            (torn.offset, torn.dropped_bytes),
            (good.len() as u64, tail.len() as u64)
        );
        assert_eq!(file_len(&path), good.len() as u64);
        assert_eq!(crate::EventStore::head(&log), 3);
    }
}

#[test]
fn a_damaged_length_field_before_valid_records_is_corruption_not_a_torn_tail() {
    let dir = tempfile::tempdir().expect("temp dir");
    fill(&open(dir.path()), 10, 2);
    let seg = segment_files(dir.path())[0].clone();
    let before = file_len(&seg);
    let at = frame_offsets(&seg)[7];
    let mut bytes = fs::read(&seg).expect("read");
    bytes[at as usize + 3] = 0x40; // the frame now claims to run far past the end
    fs::write(&seg, &bytes).expect("write");
    let opened = FileLog::open(dir.path(), FileLogOptions::default());
    assert_eq!(corrupt_at(opened), (name_of(&seg), at));
    assert_eq!(file_len(&seg), before, "a refused open changes nothing");
    let verified = crate::filelog::verify(dir.path());
    assert!(matches!(verified, Err(StoreError::Corrupt { offset, .. }) if offset == at));
}

#[test]
fn a_read_only_open_changes_nothing_and_refuses_appends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (seg, good_end) = three_appends(dir.path());
    let live = open(dir.path());
    let written = live.shared.read_all_sync(0, 10).expect("read");
    let ro = FileLog::open_read_only(dir.path()).expect("opens beside a writer");
    assert_eq!(ro.shared.read_all_sync(0, 10).expect("read"), written);
    let refused = ro.append_blocking(vec![append_to("a", Any, [1])]);
    assert!(
        matches!(refused, Err(AppendError::Store(StoreError::Closed))),
        "{refused:?}"
    );
    drop(live);
    let cut = file_len(&seg) - 5;
    fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open")
        .set_len(cut)
        .expect("cut");
    let ro = FileLog::open_read_only(dir.path()).expect("read-only open");
    assert_eq!(file_len(&seg), cut, "the torn tail is left in place");
    assert_eq!(ro.torn_tail().map(|t| t.offset), Some(good_end));
    assert_eq!(ro.shared.read_all_sync(0, 10).expect("read"), written[..2]);
    let missing = FileLog::open_read_only(&dir.path().join("missing"));
    assert!(missing.is_err(), "a read-only open creates nothing");
}

#[test]
fn a_torn_append_whose_end_reached_the_disk_before_its_start_is_a_torn_tail() {
    // Guards against refusing to open after a power cut that persisted the sectors of the
    // append in flight out of order: its last records (COMMIT included) reached the disk, a
    // sector before them did not. Those records were never acknowledged. The crash
    // simulation (crash.rs) found the log calling this corruption.
    let dir = tempfile::tempdir().expect("temp dir");
    let (seg, _) = three_appends(dir.path());
    let log = open(dir.path());
    let written = log.shared.read_all_sync(0, 10).expect("read");
    let header = header_of(&seg);
    fill(&log, 1, 4);
    drop(log);
    put_header(&seg, &header);
    let frames = frame_offsets(&seg);
    assert_eq!(
        frames.len(),
        7,
        "three single appends, then one of four records"
    );
    let mut bytes = fs::read(&seg).expect("read");
    bytes[frames[4] as usize..frames[5] as usize].fill(0);
    fs::write(&seg, &bytes).expect("write");
    let report = crate::filelog::verify(dir.path()).expect("verify sees no corruption");
    assert_eq!(report.torn_tail.map(|t| t.offset), Some(frames[3]));
    let log = open(dir.path());
    assert_eq!(log.torn_tail().map(|t| t.offset), Some(frames[3]));
    assert_eq!(file_len(&seg), frames[3]);
    assert_eq!(log.shared.read_all_sync(0, 10).expect("read"), written);
}

#[test]
fn without_begin_flags_a_record_after_a_commit_still_proves_corruption() {
    // Guards the reading of logs written before the BEGIN flag: damage followed by a
    // COMMIT record and then another record is an acknowledged append damaged, not a torn
    // tail, and must stop the open.
    let dir = tempfile::tempdir().expect("temp dir");
    let (seg, _) = three_appends(dir.path());
    let frames = frame_offsets(&seg);
    let mut bytes = fs::read(&seg).expect("read");
    for &at in &frames {
        let at = at as usize;
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        bytes[at + 8] &= !crate::filelog::frame::FLAG_BEGIN;
        let crc = crc32c::crc32c(&bytes[at + 8..at + 9 + len]);
        bytes[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
    }
    fs::write(&seg, &bytes).expect("write");
    assert_eq!(
        open(dir.path())
            .shared
            .read_all_sync(0, 10)
            .expect("read")
            .len(),
        3
    );
    flip(&seg, frames[0] + 20);
    let opened = FileLog::open(dir.path(), FileLogOptions::default());
    assert_eq!(corrupt_at(opened), (name_of(&seg), frames[0]));
}
