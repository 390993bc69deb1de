//! The storage seam: every file operation the file log performs (listing, creating and
//! opening segment files, positioned reads and writes, `fdatasync`, truncation, directory
//! sync, the directory lock) goes through the [`Storage`] and [`StorageFile`] traits. The
//! real implementation, [`FsStorage`], is a thin layer over `std::fs` and is what
//! [`super::FileLog::open`] uses. The seam exists so that tests can put a simulated disk
//! underneath the log, one that remembers what was synced and what was only written, and
//! enumerate thousands of crash points in seconds instead of killing processes.
//!
//! The traits are object-safe and called once per batch, per read chunk or per segment
//! operation, never per record, so the dynamic dispatch costs nothing measurable next to
//! the system calls behind it.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How a file is opened: readers never get a handle that could write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    Read,
    Write,
}

/// Held for as long as the log is open for writing; dropping it releases the lock.
pub type DirLock = Box<dyn Send + Sync>;

/// The directory holding one log, as the file log sees it.
pub trait Storage: Send + Sync + 'static {
    /// Where the log lives, for messages and [`super::FileLog::dir`].
    fn location(&self) -> &Path;

    /// The names of the files in the directory, in no particular order.
    fn list(&self) -> io::Result<Vec<String>>;

    /// Creates the empty file `name` for reading and writing; fails if it exists. Its
    /// directory entry is durable only after [`Storage::sync_dir`].
    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>>;

    /// Opens the existing file `name`.
    fn open(&self, name: &str, mode: OpenMode) -> io::Result<Box<dyn StorageFile>>;

    /// Makes the directory's entries (files created, sizes changed) durable.
    fn sync_dir(&self) -> io::Result<()>;

    /// Takes the exclusive writer lock on the directory, waiting up to `wait` for it.
    fn lock(&self, wait: Duration) -> io::Result<DirLock>;
}

/// One open file. Offsets are absolute: the log never relies on a file cursor, so handles
/// can be shared between the writer and readers.
pub trait StorageFile: std::fmt::Debug + Send + Sync + 'static {
    /// Reads at most `buf.len()` bytes at `offset`; 0 means end of file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// Writes all of `buf` at `offset`, extending the file if needed. Not durable until
    /// [`StorageFile::sync_data`].
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;

    /// `fdatasync`: the data written so far (and the size it implies) is durable.
    fn sync_data(&self) -> io::Result<()>;

    /// `fsync`: data and metadata are durable.
    fn sync_all(&self) -> io::Result<()>;

    /// Cuts (or extends with zeros) the file to `len` bytes. Not durable until synced.
    fn set_len(&self, len: u64) -> io::Result<()>;

    /// The file's current size in bytes.
    fn size(&self) -> io::Result<u64>;

    /// Fills `buf` from `offset`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The log directory on the real file system.
#[derive(Debug, Clone)]
pub struct FsStorage {
    dir: PathBuf,
}

/// The lock file inside the log directory; `flock` on it is the writer lock.
const LOCK_FILE: &str = "LOCK";

impl FsStorage {
    /// The directory `dir`, which must exist for anything but [`Storage::location`] to work.
    pub fn new(dir: &Path) -> Self {
        FsStorage {
            dir: dir.to_path_buf(),
        }
    }
}

impl Storage for FsStorage {
    fn location(&self) -> &Path {
        &self.dir
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(self.dir.join(name))?;
        Ok(Box::new(file))
    }

    fn open(&self, name: &str, mode: OpenMode) -> io::Result<Box<dyn StorageFile>> {
        let path = self.dir.join(name);
        let file = match mode {
            OpenMode::Read => File::open(path)?,
            OpenMode::Write => OpenOptions::new().read(true).write(true).open(path)?,
        };
        Ok(Box::new(file))
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }

    /// An exclusive advisory `flock` on `LOCK`, held while the returned file stays open:
    /// it also keeps out another process. Polls until `wait` has passed, so an in-process
    /// restart whose old log is still being dropped by a finishing task gets through.
    fn lock(&self, wait: Duration) -> io::Result<DirLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.dir.join(LOCK_FILE))?;
        let deadline = Instant::now() + wait;
        loop {
            // SAFETY: flock only reads the descriptor, which `file` keeps open for the call.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(Box::new(file));
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::WouldBlock || Instant::now() >= deadline {
                return Err(err);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A real file is its own handle: no wrapper, no extra indirection beyond the vtable.
impl StorageFile for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        FileExt::read_at(self, buf, offset)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        FileExt::write_all_at(self, buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        File::sync_data(self)
    }

    fn sync_all(&self) -> io::Result<()> {
        File::sync_all(self)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}
