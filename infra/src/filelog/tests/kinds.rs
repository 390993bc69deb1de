//! Damage kinds, table-driven: each kind of damage is done to a copy of a cleanly closed
//! log (one segment, and several), then `verify` and the open (what `serve` does) must
//! make the same decision: refuse with the same segment and offset, or cut the same torn
//! tail. Damage reaching anything synced (acknowledged) must be refused, and a refused open
//! changes nothing; only a last batch as a crash leaves it (its synced-end record not yet
//! written) may be cut, and then exactly that batch is dropped.
//!
//! Guards against the failure of issue 8, defects 4 and 5: zeroing the last 4 KiB, or
//! deleting or emptying the last segment, after a clean stop started the service with
//! acknowledged events silently gone.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use ipledger_domain::Envelope;

use super::*;
use crate::filelog::header::HEADER_LEN;
use crate::StoreError;

/// What `verify` or the open decided about a log.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    Refused { segment: String, offset: u64 },
    Cut { offset: u64, records: u64 },
    Clean { records: u64 },
}

fn verify_decision(dir: &Path) -> Decision {
    match crate::filelog::verify(dir) {
        Err(StoreError::Corrupt {
            segment, offset, ..
        }) => Decision::Refused { segment, offset },
        Err(e) => panic!("verify failed otherwise: {e}"),
        Ok(r) => match r.torn_tail {
            Some(t) => Decision::Cut {
                offset: t.offset,
                records: r.records,
            },
            None => Decision::Clean { records: r.records },
        },
    }
}

fn open_decision(dir: &Path) -> (Decision, Option<Vec<Envelope>>) {
    match FileLog::open(dir, FileLogOptions::default()) {
        Err(StoreError::Corrupt {
            segment, offset, ..
        }) => (Decision::Refused { segment, offset }, None),
        Err(e) => panic!("the open failed otherwise: {e}"),
        Ok(log) => {
            let records = crate::EventStore::head(&log);
            let read = log.shared.read_all_sync(0, usize::MAX).expect("read");
            let d = match log.torn_tail() {
                Some(t) => Decision::Cut {
                    offset: t.offset,
                    records,
                },
                None => Decision::Clean { records },
            };
            (d, Some(read))
        }
    }
}

/// A cleanly closed log and what a test needs to know about it.
struct Pristine {
    dir: tempfile::TempDir,
    acked: Vec<Envelope>,
    /// Records of the last batch (all in the last segment).
    last_batch: u64,
    /// Where the last batch starts in the last segment.
    last_batch_at: u64,
    /// The last segment's header before the last batch: its slots do not prove that batch.
    header_before: Vec<u8>,
}

impl Pristine {
    /// `segments` > 1 builds tiny segments first; the last two batches go into the last
    /// segment (opened with the default size, so they do not roll).
    fn new(segments: bool) -> Pristine {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut acked = if segments {
            fill(&open_tiny(dir.path()), 8, 2)
        } else {
            Vec::new()
        };
        let log = open(dir.path());
        for b in 0..4 {
            let sa = append_to("w", ipledger_domain::ExpectedVersion::Any, [100 + b]);
            acked.extend(log.append_blocking(vec![sa]).expect("append"));
        }
        let last = last_segment(dir.path());
        let last_batch_at = file_len(&last);
        let header_before = fs::read(&last).expect("read")[..HEADER_LEN as usize].to_vec();
        let sa = append_to("w", ipledger_domain::ExpectedVersion::Any, [200, 201, 202]);
        acked.extend(log.append_blocking(vec![sa]).expect("append"));
        drop(log);
        assert_eq!(
            last,
            last_segment(dir.path()),
            "the last batch did not roll"
        );
        assert_eq!(segment_files(dir.path()).len() > 1, segments);
        Pristine {
            dir,
            acked,
            last_batch: 3,
            last_batch_at,
            header_before,
        }
    }

    fn copy(&self) -> tempfile::TempDir {
        let to = tempfile::tempdir().expect("temp dir");
        for entry in fs::read_dir(self.dir.path()).expect("read dir") {
            let path = entry.expect("entry").path();
            fs::copy(&path, to.path().join(path.file_name().expect("name"))).expect("copy");
        }
        to
    }
}

fn last_segment(dir: &Path) -> PathBuf {
    segment_files(dir).pop().expect("a segment")
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, fs::read(&p).expect("read"))
        })
        .collect()
}

fn edit(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = fs::read(path).expect("read");
    f(&mut bytes);
    fs::write(path, bytes).expect("write");
}

/// What a kind of damage must lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Acknowledged data is damaged or missing: both refuse.
    Refused,
    /// The last batch is torn as a crash leaves it: both cut exactly that batch.
    CutLastBatch,
    /// The last batch is whole but not proven: a crash may keep it, and it is kept.
    KeptWhole,
}

type Damage = Box<dyn Fn(&Path, &Pristine)>;

fn cases() -> Vec<(String, Expect, Damage)> {
    use Expect::*;
    let mut cases: Vec<(String, Expect, Damage)> = vec![
        (
            "zeroed last 4 KiB".into(),
            Refused,
            Box::new(|dir, _| {
                edit(&last_segment(dir), |b| {
                    let n = b.len();
                    b[n - 4096..].fill(0)
                })
            }),
        ),
        (
            "zeroed last record".into(),
            Refused,
            Box::new(|dir, _| {
                let seg = last_segment(dir);
                let at = *frame_offsets(&seg).last().expect("frames") as usize;
                edit(&seg, |b| b[at..].fill(0))
            }),
        ),
        (
            "flipped bit in the last record".into(),
            Refused,
            Box::new(|dir, _| {
                let seg = last_segment(dir);
                flip(&seg, file_len(&seg) - 3)
            }),
        ),
        (
            "flipped bit in the last segment's first record".into(),
            Refused,
            Box::new(|dir, _| flip(&last_segment(dir), HEADER_LEN + 12)),
        ),
        (
            "flipped bit in the first segment's header".into(),
            Refused,
            Box::new(|dir, _| flip(&segment_files(dir)[0], 10)),
        ),
        (
            "zeroed both synced-end slots".into(),
            Refused,
            Box::new(|dir, _| edit(&last_segment(dir), |b| b[512..1536].fill(0))),
        ),
        (
            "last record cut in half".into(),
            Refused,
            Box::new(|dir, _| {
                let seg = last_segment(dir);
                let at = *frame_offsets(&seg).last().expect("frames");
                let cut = (at + file_len(&seg)) / 2;
                fs::File::options()
                    .write(true)
                    .open(&seg)
                    .and_then(|f| f.set_len(cut))
                    .expect("cut")
            }),
        ),
        (
            "last segment missing".into(),
            Refused,
            Box::new(|dir, _| fs::remove_file(last_segment(dir)).expect("remove")),
        ),
        (
            "last segment emptied".into(),
            Refused,
            Box::new(|dir, _| fs::write(last_segment(dir), b"").expect("empty")),
        ),
        (
            "last batch half-written, as a crash leaves it".into(),
            CutLastBatch,
            Box::new(|dir, p| {
                let seg = last_segment(dir);
                let cut = (p.last_batch_at + file_len(&seg)) / 2;
                edit(&seg, |b| {
                    b.truncate(cut as usize);
                    b[..HEADER_LEN as usize].copy_from_slice(&p.header_before);
                })
            }),
        ),
        (
            "last batch's first sector lost, its end kept, as a crash leaves it".into(),
            CutLastBatch,
            Box::new(|dir, p| {
                edit(&last_segment(dir), |b| {
                    let at = p.last_batch_at as usize;
                    b[at..at + 40].fill(0);
                    b[..HEADER_LEN as usize].copy_from_slice(&p.header_before);
                })
            }),
        ),
        (
            "last batch whole, its synced-end record lost in a crash".into(),
            KeptWhole,
            Box::new(|dir, p| {
                edit(&last_segment(dir), |b| {
                    b[..HEADER_LEN as usize].copy_from_slice(&p.header_before)
                })
            }),
        ),
        (
            "record before the last batch flipped, last batch unproven".into(),
            Refused,
            Box::new(|dir, p| {
                let seg = last_segment(dir);
                edit(&seg, |b| {
                    b[..HEADER_LEN as usize].copy_from_slice(&p.header_before);
                    b[p.last_batch_at as usize - 3] ^= 0x40;
                })
            }),
        ),
    ];
    // Truncated at each frame boundary of the last segment, and inside its header.
    for k in 0..8 {
        let name = format!("last segment truncated at boundary {k}");
        cases.push((
            name,
            Refused,
            Box::new(move |dir, _| {
                let seg = last_segment(dir);
                let mut cuts = vec![0, 100, HEADER_LEN];
                cuts.extend(frame_offsets(&seg).into_iter().skip(1));
                let cut = cuts[k.min(cuts.len() - 1)];
                fs::File::options()
                    .write(true)
                    .open(&seg)
                    .and_then(|f| f.set_len(cut))
                    .expect("cut")
            }),
        ));
    }
    cases
}

#[test]
fn verify_and_open_agree_on_every_kind_of_damage_and_drop_nothing_acknowledged() {
    for segments in [false, true] {
        let pristine = Pristine::new(segments);
        assert_eq!(
            verify_decision(pristine.dir.path()),
            Decision::Clean {
                records: pristine.acked.len() as u64
            }
        );
        for (name, expect, damage) in cases() {
            let ctx = format!("{name} (several segments: {segments})");
            let copy = pristine.copy();
            damage(copy.path(), &pristine);
            let before = files(copy.path());
            let verified = verify_decision(copy.path());
            let (opened, read) = open_decision(copy.path());
            assert_eq!(verified, opened, "{ctx}: verify and the open agree");
            let acked = &pristine.acked;
            match expect {
                Expect::Refused => {
                    assert!(
                        matches!(opened, Decision::Refused { .. }),
                        "{ctx}: refused, got {opened:?}"
                    );
                    assert_eq!(
                        files(copy.path()),
                        before,
                        "{ctx}: a refusal changes nothing"
                    );
                }
                Expect::CutLastBatch => {
                    let kept = acked.len() - pristine.last_batch as usize;
                    let want = Decision::Cut {
                        offset: pristine.last_batch_at,
                        records: kept as u64,
                    };
                    assert_eq!(opened, want, "{ctx}");
                    assert_eq!(read.as_deref(), Some(&acked[..kept]), "{ctx}");
                    assert_eq!(
                        verify_decision(copy.path()),
                        Decision::Clean {
                            records: kept as u64
                        },
                        "{ctx}: clean once cut"
                    );
                }
                Expect::KeptWhole => {
                    let want = Decision::Clean {
                        records: acked.len() as u64,
                    };
                    assert_eq!(opened, want, "{ctx}");
                    assert_eq!(read.as_deref(), Some(&acked[..]), "{ctx}");
                }
            }
        }
    }
}

#[test]
fn a_log_whose_only_segment_was_deleted_is_refused() {
    // Guards against a deleted only segment starting an empty log: the FORMAT marker says
    // the log had one.
    let pristine = Pristine::new(false);
    let copy = pristine.copy();
    fs::remove_file(last_segment(copy.path())).expect("remove");
    let want = Decision::Refused {
        segment: crate::filelog::segment::segment_name(0),
        offset: 0,
    };
    assert_eq!(verify_decision(copy.path()), want);
    assert_eq!(open_decision(copy.path()).0, want);
    assert!(segment_files(copy.path()).is_empty(), "nothing was created");
}

#[test]
fn a_format_one_log_opens_upgrades_and_is_protected_from_then_on() {
    // Guards the old reader path: a log written before segment format 2 (no header, no
    // FORMAT file) still opens and reads back; what it cannot prove (damage to its last
    // append with nothing after it) is still a torn tail; the first writing open adds a
    // format-2 segment after it, and from then on deleting that segment is refused.
    let pristine = Pristine::new(false);
    let old = pristine.copy();
    let seg = last_segment(old.path());
    edit(&seg, |b| {
        b.drain(..HEADER_LEN as usize);
    });
    fs::remove_file(old.path().join(crate::filelog::header::MARKER)).expect("no marker");
    let acked = &pristine.acked;
    let n = acked.len() as u64;

    // Format 1 proves nothing about its last append: a cut in it is taken for a tear.
    let torn = pristine.copy();
    fs::remove_file(torn.path().join(crate::filelog::header::MARKER)).expect("no marker");
    let tseg = last_segment(torn.path());
    fs::write(&tseg, fs::read(&seg).expect("read")).expect("write");
    let len = file_len(&tseg);
    fs::File::options()
        .write(true)
        .open(&tseg)
        .and_then(|f| f.set_len(len - 3))
        .expect("cut");
    let cut = Decision::Cut {
        offset: pristine.last_batch_at - HEADER_LEN,
        records: n - pristine.last_batch,
    };
    assert_eq!(verify_decision(torn.path()), cut);
    assert_eq!(
        FileLog::open_read_only(torn.path())
            .map(|l| crate::EventStore::head(&l))
            .ok(),
        Some(n - pristine.last_batch)
    );

    assert_eq!(verify_decision(old.path()), Decision::Clean { records: n });
    let (opened, read) = open_decision(old.path());
    assert_eq!(opened, Decision::Clean { records: n });
    assert_eq!(read.as_deref(), Some(&acked[..]));
    let segs = segment_files(old.path());
    assert_eq!(segs.len(), 2, "a format-2 segment follows the old one");
    assert!(fs::read(&segs[1]).expect("read").starts_with(b"IPLG"));
    assert_eq!(verify_decision(old.path()), Decision::Clean { records: n });
    fs::remove_file(&segs[1]).expect("remove the new last segment");
    assert!(matches!(
        verify_decision(old.path()),
        Decision::Refused { .. }
    ));
    assert!(matches!(
        open_decision(old.path()).0,
        Decision::Refused { .. }
    ));
}
