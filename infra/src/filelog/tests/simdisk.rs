//! A simulated disk under the storage seam, for the crash tests. It owns, per file, two
//! images: the *written* one (what reads see, like the page cache) and the *durable* one
//! (what the last fsync made safe), plus the list of unsynced operations between them; and
//! for the directory, the entries processes see and the entries the last directory sync
//! made durable. [`Image::crash`] turns that into the disk a power cut could leave: the
//! durable images plus, chosen by a seeded RNG, none, all, a byte prefix, or a scramble of
//! the unsynced writes (each 512-byte sector surviving, lost, torn, zeroed or garbage on its
//! own, so a later sector can survive an earlier one), and entries never dir-synced kept or
//! lost. It can also fail the Nth write or the Nth sync with an I/O error.
//!
//! Why a simulation rather than killing processes: a crash test on a real file system only
//! ever sees what that kernel happened to flush, while the reorderings that break recovery
//! code are rare there. Here every crash point is a deterministic function of (workload,
//! operation, seed), thousands run in seconds, and a failure replays exactly.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::filelog::storage::{DirLock, OpenMode, Storage, StorageFile};

/// splitmix64: tiny, seedable and good enough to pick crash outcomes; no crate needed.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Writes reach the platter a sector at a time, in no particular order.
const SECTOR: u64 = 512;

/// An operation on a file that no sync has covered yet.
#[derive(Debug, Clone)]
enum Unsynced {
    Write { at: u64, bytes: Vec<u8> },
    SetLen(u64),
}

#[derive(Debug, Clone, Default)]
struct Inode {
    /// The name it was created under, for labels.
    name: String,
    written: Vec<u8>,
    durable: Vec<u8>,
    unsynced: Vec<Unsynced>,
}

/// Everything a crash acts on: the files and the directory.
#[derive(Debug, Clone, Default)]
pub(super) struct Image {
    inodes: Vec<Inode>,
    /// The directory as processes see it.
    names: BTreeMap<String, usize>,
    /// The directory as of the last directory sync.
    durable_names: BTreeMap<String, usize>,
}

/// How a crash treats the unsynced state, chosen per crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Only what was synced survives.
    Nothing,
    /// Everything written survives (the cache was flushed just in time).
    Everything,
    /// Writes survive in order up to one byte, torn there.
    Prefix,
    /// Every sector of every unsynced write on its own: kept, lost, torn, zeroed, garbage.
    Scramble,
}

impl Image {
    /// Whether a crash of this image can differ from its written state at all.
    pub fn has_unsynced(&self) -> bool {
        self.names != self.durable_names || self.inodes.iter().any(|i| !i.unsynced.is_empty())
    }

    /// A checksum of what a process would see (names, sizes and contents), to skip
    /// checking the same crashed disk twice. CRC32C because the crate is optimised even in
    /// debug builds, where hashing every byte with SipHash was a tenth of the test's time.
    pub fn fingerprint(&self) -> u64 {
        let mut crc = 0;
        let mut len = 0;
        for (name, &ino) in &self.names {
            let bytes = &self.inodes[ino].written;
            crc = crc32c::crc32c_append(crc, name.as_bytes());
            crc = crc32c::crc32c_append(crc, &(bytes.len() as u64).to_le_bytes());
            crc = crc32c::crc32c_append(crc, bytes);
            len += bytes.len() as u64;
        }
        (len << 32) | u64::from(crc)
    }

    /// The disk a power cut at this moment could leave, chosen by `seed`.
    pub fn crash(&self, seed: u64) -> Image {
        let mut rng = Rng::new(seed);
        let fate = match rng.below(8) {
            0 => Fate::Nothing,
            1 => Fate::Everything,
            2 | 3 => Fate::Prefix,
            _ => Fate::Scramble,
        };
        let mut out = Image::default();
        for (name, &ino) in &self.names {
            let synced = self.durable_names.get(name) == Some(&ino);
            let keep = synced
                || match fate {
                    Fate::Nothing => false,
                    Fate::Everything => true,
                    Fate::Prefix | Fate::Scramble => rng.percent(50),
                };
            if !keep {
                continue;
            }
            let bytes = self.inodes[ino].crash(fate, &mut rng);
            out.names.insert(name.clone(), out.inodes.len());
            out.inodes.push(Inode {
                name: name.clone(),
                written: bytes.clone(),
                durable: bytes,
                unsynced: Vec::new(),
            });
        }
        out.durable_names = out.names.clone();
        out
    }
}

impl Inode {
    /// The file's bytes after a crash with `fate`.
    fn crash(&self, fate: Fate, rng: &mut Rng) -> Vec<u8> {
        let mut out = self.durable.clone();
        match fate {
            Fate::Nothing => {}
            Fate::Everything => out.clone_from(&self.written),
            Fate::Prefix => {
                let total: u64 = self.unsynced.iter().map(Unsynced::weight).sum();
                let mut left = rng.below(total + 1);
                for op in &self.unsynced {
                    let w = op.weight();
                    if left >= w {
                        op.apply(&mut out);
                        left -= w;
                        continue;
                    }
                    if let Unsynced::Write { at, bytes } = op {
                        put(&mut out, *at, &bytes[..left as usize]);
                    }
                    break;
                }
            }
            Fate::Scramble => {
                // The size may have reached the disk while the data did not: the file
                // then reads zeros where the lost sectors are.
                let size_made_it = rng.percent(30);
                for op in &self.unsynced {
                    match op {
                        Unsynced::SetLen(len) if rng.percent(50) => out.resize(*len as usize, 0),
                        Unsynced::SetLen(_) => {}
                        Unsynced::Write { at, bytes } => {
                            scramble(&mut out, *at, bytes, rng);
                            if size_made_it && out.len() < (*at as usize + bytes.len()) {
                                out.resize(*at as usize + bytes.len(), 0);
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

impl Unsynced {
    /// Bytes for a prefix cut; a size change counts as one.
    fn weight(&self) -> u64 {
        match self {
            Unsynced::Write { bytes, .. } => bytes.len() as u64,
            Unsynced::SetLen(_) => 1,
        }
    }

    fn apply(&self, file: &mut Vec<u8>) {
        match self {
            Unsynced::Write { at, bytes } => put(file, *at, bytes),
            Unsynced::SetLen(len) => file.resize(*len as usize, 0),
        }
    }
}

/// Writes `bytes` at `at`, extending the file with zeros first if needed.
fn put(file: &mut Vec<u8>, at: u64, bytes: &[u8]) {
    let (at, end) = (at as usize, at as usize + bytes.len());
    if file.len() < end {
        file.resize(end, 0);
    }
    file[at..end].copy_from_slice(bytes);
}

/// Applies one unsynced write sector by sector, each with its own fate.
fn scramble(file: &mut Vec<u8>, at: u64, bytes: &[u8], rng: &mut Rng) {
    let mut off = at;
    let end = at + bytes.len() as u64;
    while off < end {
        let stop = ((off / SECTOR + 1) * SECTOR).min(end);
        let piece = &bytes[(off - at) as usize..(stop - at) as usize];
        match rng.below(20) {
            0..=9 => put(file, off, piece),
            10..=15 => {}
            16 | 17 => {
                let cut = rng.below(piece.len() as u64) as usize;
                put(file, off, &piece[..cut]);
            }
            18 => put(file, off, &vec![0; piece.len()]),
            _ => {
                let junk: Vec<u8> = (0..piece.len()).map(|_| rng.next_u64() as u8).collect();
                put(file, off, &junk);
            }
        }
        off = stop;
    }
}

/// Failures to inject: the Nth write or sync (counted from the disk's creation) fails.
#[derive(Debug, Default)]
struct Faults {
    writes: u64,
    syncs: u64,
    fail_write: Option<u64>,
    fail_sync: Option<u64>,
}

#[derive(Debug)]
struct Disk {
    image: Image,
    faults: Faults,
    locked: bool,
    /// When recording, the image after every operation that changed it.
    snapshots: Option<Vec<Snapshot>>,
    /// Picks how much of a failed write lands.
    rng: Rng,
}

/// The disk right after one operation: a crash point.
#[derive(Debug)]
pub(super) struct Snapshot {
    pub after: String,
    pub image: Image,
}

impl Disk {
    fn changed(&mut self, after: impl FnOnce() -> String) {
        if let Some(snaps) = &mut self.snapshots {
            snaps.push(Snapshot {
                after: after(),
                image: self.image.clone(),
            });
        }
    }
}

/// A handle on one simulated disk; clones share it.
#[derive(Debug, Clone)]
pub(super) struct SimDisk(Arc<Mutex<Disk>>);

impl SimDisk {
    pub fn new() -> Self {
        SimDisk::from_image(Image::default())
    }

    pub fn from_image(image: Image) -> Self {
        SimDisk(Arc::new(Mutex::new(Disk {
            image,
            faults: Faults::default(),
            locked: false,
            snapshots: None,
            rng: Rng::new(0x5eed),
        })))
    }

    /// The disk as it is now.
    pub fn image(&self) -> Image {
        self.0.lock().image.clone()
    }

    /// The disk a power cut now could leave; see [`Image::crash`].
    pub fn crash(&self, seed: u64) -> SimDisk {
        SimDisk::from_image(self.0.lock().image.crash(seed))
    }

    /// Starts keeping a snapshot after every change.
    pub fn record(&self) {
        self.0.lock().snapshots = Some(Vec::new());
    }

    /// The snapshots since the last call.
    pub fn take_snapshots(&self) -> Vec<Snapshot> {
        self.0
            .lock()
            .snapshots
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Makes the `n`th write from now on (1 = the next) fail; part of it may land.
    pub fn fail_write(&self, n: u64) {
        let mut d = self.0.lock();
        d.faults.fail_write = Some(d.faults.writes + n);
    }

    /// Makes the `n`th sync (file or directory) from now on fail; nothing becomes durable.
    pub fn fail_sync(&self, n: u64) {
        let mut d = self.0.lock();
        d.faults.fail_sync = Some(d.faults.syncs + n);
    }

    /// Whether an injected failure is still to come.
    pub fn fault_pending(&self) -> bool {
        let d = self.0.lock();
        d.faults.fail_write.is_some_and(|n| n > d.faults.writes)
            || d.faults.fail_sync.is_some_and(|n| n > d.faults.syncs)
    }

    pub fn clear_faults(&self) {
        let mut d = self.0.lock();
        d.faults.fail_write = None;
        d.faults.fail_sync = None;
    }

    /// `(writes, syncs)` so far.
    pub fn counts(&self) -> (u64, u64) {
        let d = self.0.lock();
        (d.faults.writes, d.faults.syncs)
    }

    /// Counts a sync and fails it if it is the one to fail.
    fn sync_fault(d: &mut Disk) -> io::Result<()> {
        d.faults.syncs += 1;
        if d.faults.fail_sync == Some(d.faults.syncs) {
            return Err(io::Error::other("injected sync failure"));
        }
        Ok(())
    }

    fn file(&self, ino: usize, writable: bool) -> Box<dyn StorageFile> {
        Box::new(SimFile {
            disk: self.clone(),
            ino,
            writable,
        })
    }
}

impl Storage for SimDisk {
    fn location(&self) -> &Path {
        Path::new("sim-disk")
    }

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.0.lock().image.names.keys().cloned().collect())
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let mut d = self.0.lock();
        if d.image.names.contains_key(name) {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        let ino = d.image.inodes.len();
        d.image.inodes.push(Inode {
            name: name.to_string(),
            ..Inode::default()
        });
        d.image.names.insert(name.to_string(), ino);
        d.changed(|| format!("create {name}"));
        Ok(self.file(ino, true))
    }

    fn open(&self, name: &str, mode: OpenMode) -> io::Result<Box<dyn StorageFile>> {
        let ino = *self
            .0
            .lock()
            .image
            .names
            .get(name)
            .ok_or(io::ErrorKind::NotFound)?;
        Ok(self.file(ino, mode == OpenMode::Write))
    }

    fn sync_dir(&self) -> io::Result<()> {
        let mut d = self.0.lock();
        SimDisk::sync_fault(&mut d)?;
        if d.image.durable_names != d.image.names {
            d.image.durable_names = d.image.names.clone();
            d.changed(|| "sync dir".to_string());
        }
        Ok(())
    }

    fn lock(&self, _wait: Duration) -> io::Result<DirLock> {
        let mut d = self.0.lock();
        if d.locked {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        d.locked = true;
        Ok(Box::new(SimLock(self.clone())))
    }
}

/// The simulated writer lock; released on drop.
struct SimLock(SimDisk);

impl Drop for SimLock {
    fn drop(&mut self) {
        self.0 .0.lock().locked = false;
    }
}

/// An open file of a [`SimDisk`].
struct SimFile {
    disk: SimDisk,
    ino: usize,
    writable: bool,
}

impl std::fmt::Debug for SimFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimFile({}, writable: {})", self.ino, self.writable)
    }
}

impl SimFile {
    fn check_writable(&self) -> io::Result<()> {
        if self.writable {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "file opened for reading",
        ))
    }

    fn sync(&self) -> io::Result<()> {
        let mut d = self.disk.0.lock();
        SimDisk::sync_fault(&mut d)?;
        let inode = &mut d.image.inodes[self.ino];
        if inode.unsynced.is_empty() {
            return Ok(());
        }
        // Replaying the unsynced operations costs what they wrote, not the file's size.
        for op in std::mem::take(&mut inode.unsynced) {
            op.apply(&mut inode.durable);
        }
        debug_assert_eq!(inode.durable, inode.written);
        let name = inode.name.clone();
        d.changed(|| format!("sync {name}"));
        Ok(())
    }
}

impl StorageFile for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let d = self.disk.0.lock();
        let bytes = &d.image.inodes[self.ino].written;
        let from = (offset as usize).min(bytes.len());
        let n = buf.len().min(bytes.len() - from);
        buf[..n].copy_from_slice(&bytes[from..from + n]);
        Ok(n)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.check_writable()?;
        let mut d = self.disk.0.lock();
        d.faults.writes += 1;
        let failing = d.faults.fail_write == Some(d.faults.writes);
        let landed = if failing {
            d.rng.below(buf.len() as u64 + 1) as usize
        } else {
            buf.len()
        };
        let inode = &mut d.image.inodes[self.ino];
        put(&mut inode.written, offset, &buf[..landed]);
        inode.unsynced.push(Unsynced::Write {
            at: offset,
            bytes: buf[..landed].to_vec(),
        });
        let name = inode.name.clone();
        d.changed(|| format!("write {name} @{offset} +{landed} of {}", buf.len()));
        if failing {
            return Err(io::Error::other("injected write failure"));
        }
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        self.sync()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.sync()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check_writable()?;
        let mut d = self.disk.0.lock();
        let inode = &mut d.image.inodes[self.ino];
        inode.written.resize(len as usize, 0);
        inode.unsynced.push(Unsynced::SetLen(len));
        let name = inode.name.clone();
        d.changed(|| format!("set_len {name} {len}"));
        Ok(())
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.disk.0.lock().image.inodes[self.ino].written.len() as u64)
    }
}

mod tests {
    use super::*;

    fn written(disk: &SimDisk, name: &str) -> Vec<u8> {
        let f = disk.open(name, OpenMode::Read).expect("open");
        let mut buf = vec![0; f.size().expect("size") as usize];
        f.read_exact_at(&mut buf, 0).expect("read");
        buf
    }

    #[test]
    fn a_crash_keeps_what_was_synced_and_at_most_what_was_written() {
        let disk = SimDisk::new();
        let f = disk.create("a").expect("create");
        disk.sync_dir().expect("sync dir");
        f.write_all_at(&[1; 1000], 0).expect("write");
        f.sync_data().expect("sync");
        f.write_all_at(&[2; 3000], 1000).expect("write");
        let mut fates = [0usize; 4]; // nothing, everything, prefix-like, with holes or junk
        for seed in 0..400 {
            let crashed = disk.crash(seed);
            let bytes = written(&crashed, "a");
            assert!(bytes.len() >= 1000 && bytes.len() <= 4000, "seed {seed}");
            assert_eq!(
                bytes[..1000],
                [1; 1000],
                "synced bytes survive, seed {seed}"
            );
            let tail = &bytes[1000..];
            let fate = match tail.len() {
                0 => 0,
                3000 if tail.iter().all(|&b| b == 2) => 1,
                _ if tail.iter().all(|&b| b == 2) => 2,
                _ => 3,
            };
            fates[fate] += 1;
        }
        assert!(
            fates.iter().all(|&n| n > 10),
            "every fate is drawn: {fates:?}"
        );
    }

    #[test]
    fn an_entry_never_dir_synced_may_vanish() {
        let disk = SimDisk::new();
        let f = disk.create("new").expect("create");
        f.write_all_at(b"data", 0).expect("write");
        f.sync_all().expect("sync");
        let kept = (0..100)
            .filter(|&s| disk.crash(s).list().expect("list").len() == 1)
            .count();
        assert!(kept > 10 && kept < 90, "kept {kept} of 100");
        disk.sync_dir().expect("sync dir");
        assert!((0..100).all(|s| written(&disk.crash(s), "new") == b"data"));
    }

    #[test]
    fn the_nth_write_or_sync_fails() {
        let disk = SimDisk::new();
        let f = disk.create("a").expect("create");
        disk.fail_write(2);
        f.write_all_at(b"one", 0).expect("first write");
        assert!(f.write_all_at(b"two", 3).is_err());
        f.write_all_at(b"three", 6).expect("third write");
        disk.fail_sync(1);
        assert!(f.sync_data().is_err());
        f.sync_data().expect("the next sync works");
        assert_eq!(disk.counts(), (3, 2));
    }
}
