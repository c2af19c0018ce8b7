//! The shared call state of one host: a memory-mapped file (layout in `docs/state-format.md`)
//! changed with atomic operations only, so no process ever holds a lock a crash could leave
//! behind. Inserting a destination or a counter row takes the file's `flock`, which the kernel
//! drops when its holder dies; round-robin cursors are inserted by compare-and-swap.

mod counters;
mod cursors;
mod dest;
mod extents;
mod header;
mod memory;
pub mod process;

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64};

pub use dest::{lease_ms, Claim, ClaimedLease, DestinationInfo};
use header::{fixed_bytes, header_bytes};
pub use header::{parse_header, Sizes};
pub use memory::local_day;

/// `$ROUTECORE_STATE`, else `/dev/shm/routecore-state`.
pub fn default_path() -> PathBuf {
    std::env::var_os("ROUTECORE_STATE")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/shm/routecore-state"))
}

pub const MAGIC: &[u8; 4] = b"RCST";
pub const VERSION: u16 = 3;
pub const HEADER_LEN: usize = 128;
/// The largest capacity: a destination holds at most this many lease records.
pub const LEASES: usize = 100;
/// Branches a 400 number may count: a branch is 0..BRANCHES.
pub const BRANCHES: usize = 256;
pub const DAYS: usize = 8;
pub const LEASE_LEN: usize = 64;
/// A destination slot, its first lease record (at 112) included.
pub const DEST_LEN: usize = 176;
pub const MEM_LEN: usize = 96;
pub const ROW_LEN: usize = 120;
/// Branches per counter block.
pub const BLOCK_BRANCHES: usize = 8;
/// A counter block: the counts of 8 branches for each of the K day blocks.
pub const BLOCK_LEN: usize = 4 * BLOCK_BRANCHES * DAYS;
/// Round-robin cursor entries per counter row; a cursor is looked for in this many entries.
pub const CURSORS_PER_ROW: usize = 16;
pub const CURSOR_LEN: usize = 16;
pub const MAX_DESTINATIONS: u32 = 1 << 24;
pub const MAX_LEASES: u32 = 1 << 28;
pub const MAX_MEMORY: u32 = 1 << 26;
pub const MAX_NUMBERS: u32 = 1 << 20;
pub const MAX_COUNTER_BLOCKS: u32 = 1 << 26;
/// A claim whose fields were never written is taken for dead after this many seconds.
pub const UNWRITTEN_GRACE_S: u64 = 10;
/// Header offset of the file id: a random u64 chosen at creation ([64, 72) is reserved, 0).
pub const OFF_FILE_ID: usize = 72;
/// Header offsets of the pools' sizes (R, P, W: covered by the CRC with [0, 40)).
const OFF_POOLS: usize = 80;
/// Header offsets of the counts of lease records and counter blocks handed out (u32 each).
pub(crate) const OFF_LEASES_HANDED: usize = 96;
pub(crate) const OFF_BLOCKS_HANDED: usize = 100;
/// Where the header's second run of fixed bytes begins: the reserved u64 at 64, the file id,
/// the pools' sizes.
const OFF_FIXED_TAIL: usize = 64;
/// A claim looks at the file (`StateFile::check_file`) at most once in this many milliseconds.
pub const CHECK_INTERVAL_MS: u64 = 1000;
/// The header bytes that never change once the file is made: [0, 48) and [64, 96).
const FIXED_LEN: usize = 80;

/// The longest short string field (numbers, call ids) of the layout.
const SHORT_CAP: usize = 31;

/// A short string field read out of the map, without a heap allocation.
#[derive(Clone, Copy)]
pub(crate) struct Short {
    len: u8,
    bytes: [u8; SHORT_CAP],
}

impl Short {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// Why a state file cannot be used, or a request is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateError(pub String);

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StateError {}

pub type StateResult<T> = Result<T, StateError>;

fn err(path: &Path, what: impl fmt::Display) -> StateError {
    StateError(format!("{}: {what}", path.display()))
}

/// What a probe of an open-addressing table found: the entry holding the name, or the first
/// empty entry (with the key to publish there), or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Found(usize),
    Vacant(usize, u64),
    Full,
}

pub fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// A random file id (the time and pid where the kernel gives no random bytes).
fn new_file_id() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: the kernel writes at most 8 bytes into `b`.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n == b.len() as isize {
        return u64::from_le_bytes(b);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// `path` made absolute against the current directory (as given if it is absolute or empty,
/// or the current directory is unknown): a process that changes directory later still checks
/// (`check_file`) the file it opened.
fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() || path.as_os_str().is_empty() {
        return path.to_path_buf();
    }
    match std::env::current_dir() {
        Ok(dir) => dir.join(path),
        Err(_) => path.to_path_buf(),
    }
}

/// Give `file` all its `len` bytes now, so that a full file system is an error here and never
/// a SIGBUS at the first write into a page it could not back (a file system without
/// `fallocate` gets the length only).
fn allocate(file: &File, len: u64) -> std::io::Result<()> {
    let len =
        libc::off_t::try_from(len).map_err(|_| std::io::Error::from_raw_os_error(libc::EFBIG))?;
    loop {
        // SAFETY: a valid open descriptor; posix_fallocate returns an error number.
        match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) } {
            0 => return Ok(()),
            libc::EINTR => continue,
            libc::EOPNOTSUPP => return file.set_len(len as u64),
            e => return Err(std::io::Error::from_raw_os_error(e)),
        }
    }
}

/// Write a whole new state file at `tmp` (not yet linked into place).
fn write_new(tmp: &Path, sizes: &Sizes) -> Result<(), String> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(|e| format!("cannot create the state file: {e}"))?;
    let len = sizes.file_len();
    allocate(&file, len).map_err(|e| {
        let hint = match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => {
                "; free room on its file system or give it more (a tmpfs such as /dev/shm \
                 holds at most its size= mount option), or create a smaller file"
            }
            _ => "",
        };
        format!("cannot allocate the state file's {len} bytes: {e}{hint}")
    })?;
    let header = header_bytes(sizes, new_file_id());
    file.write_all_at(&header, 0)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write the state file: {e}"))
}

/// An open state file.
pub struct StateFile {
    /// The map's registration with `fault` (declared first: dropped before the map).
    guard: crate::fault::Guard,
    map: memmap2::MmapRaw,
    file: File,
    path: PathBuf,
    pub sizes: Sizes,
    leases_off: usize,
    mem_off: usize,
    rows_off: usize,
    blocks_off: usize,
    cursors_off: usize,
    /// (device, inode) of the file mapped: another file put at `path` later is told from it.
    dev: u64,
    ino: u64,
    /// The header's fixed bytes as opened: a file copied over this one in place changes them.
    fixed: [u8; FIXED_LEN],
    /// Unix milliseconds after which a claim looks at the file again.
    next_check_ms: AtomicU64,
}

// SAFETY: all shared access goes through atomics or through byte copies published by atomics.
unsafe impl Send for StateFile {}
unsafe impl Sync for StateFile {}

impl fmt::Debug for StateFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateFile({}, {:?})", self.path.display(), self.sizes)
    }
}

impl StateFile {
    /// Open an existing state file, checking its header against its length. A relative `path`
    /// is made absolute first (`path()` gives it so).
    pub fn open(path: &Path) -> StateResult<Self> {
        let path = &absolute(path);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| err(path, e))?;
        let meta = file.metadata().map_err(|e| err(path, e))?;
        let len = meta.len();
        let mut head = Vec::with_capacity(HEADER_LEN);
        (&mut file)
            .take(HEADER_LEN as u64)
            .read_to_end(&mut head)
            .map_err(|e| err(path, e))?;
        let sizes = parse_header(&head, len).map_err(|e| err(path, e))?;
        let map = memmap2::MmapOptions::new()
            .len(len as usize)
            .map_raw(&file)
            .map_err(|e| err(path, e))?;
        let leases_off = HEADER_LEN + sizes.destinations as usize * DEST_LEN;
        let mem_off = leases_off + sizes.leases as usize * LEASE_LEN;
        let rows_off = mem_off + sizes.memory as usize * MEM_LEN;
        let blocks_off = rows_off + sizes.numbers as usize * ROW_LEN;
        let cursors_off = blocks_off + sizes.counter_blocks as usize * BLOCK_LEN;
        Ok(StateFile {
            guard: crate::fault::Guard::new(map.as_ptr(), map.len()),
            map,
            file,
            path: path.to_path_buf(),
            sizes,
            leases_off,
            mem_off,
            rows_off,
            blocks_off,
            cursors_off,
            dev: meta.dev(),
            ino: meta.ino(),
            fixed: fixed_bytes(&head),
            next_check_ms: AtomicU64::new(process::now_ms().saturating_add(CHECK_INTERVAL_MS)),
        })
    }

    /// Whether the file is still the one this process mapped, as it mapped it: not truncated or
    /// grown (a page past a file's end kills the process that touches it with SIGBUS), not
    /// rewritten in place (`cp` over it), not removed or replaced by another file at `path`
    /// (the processes would no longer share their state). Two `stat` calls and a 64-byte
    /// compare; the file itself is touched only after its length is found unchanged.
    pub fn check_file(&self) -> StateResult<()> {
        let restart = "never copy over, truncate or rewrite a live state file; restart the \
                       processes that use it";
        let len = self.file.metadata().map_err(|e| err(&self.path, e))?.len();
        if len != self.map.len() as u64 {
            let how = if len < self.map.len() as u64 {
                "truncated"
            } else {
                "grown"
            };
            return Err(err(
                &self.path,
                format!(
                    "the state file was {how} to {len} bytes in place while this process maps \
                     {} bytes: {restart}",
                    self.map.len()
                ),
            ));
        }
        // The fixed bytes only: [48, 64) is written by other processes all the time.
        let mut fixed = [0u8; FIXED_LEN];
        self.read_bytes(0, &mut fixed[..48]);
        self.read_bytes(OFF_FIXED_TAIL, &mut fixed[48..]);
        if fixed != self.fixed {
            return Err(err(
                &self.path,
                format!("the state file was rewritten in place (its header changed): {restart}"),
            ));
        }
        match std::fs::metadata(&self.path) {
            Ok(m) if (m.dev(), m.ino()) == (self.dev, self.ino) => Ok(()),
            Ok(_) => Err(err(
                &self.path,
                "the state file was replaced by another file since this process opened it: \
                 this process no longer shares its state with the others; reopen the state \
                 (restart the process)",
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(err(
                &self.path,
                "the state file was removed since this process opened it: this process no \
                 longer shares its state with the others; restart it",
            )),
            Err(e) => Err(err(&self.path, e)),
        }
    }

    /// Err once a bus error was caught in this file's mapping (`crate::fault`): the file was
    /// truncated in place under this process, whose map now reads zeros. Every operation
    /// that touched the map since is void; this process must open the state again.
    pub fn intact(&self) -> StateResult<()> {
        if self.guard.broken() {
            return Err(err(
                &self.path,
                "the state file was truncated in place while this process used it (a bus \
                 error in its pages was caught; they read as zeros now): the operation is \
                 void; never truncate a live state file; recreate it and reopen the state \
                 (restart the processes that use it)",
            ));
        }
        Ok(())
    }

    /// `check_file`, at most once a second (`now_ms` is the caller's clock): the claim path
    /// pays one relaxed load, not two system calls a claim.
    fn watch(&self, now_ms: u64) -> StateResult<()> {
        if now_ms
            < self
                .next_check_ms
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        self.check_file()?;
        self.next_check_ms.store(
            now_ms.saturating_add(CHECK_INTERVAL_MS),
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(())
    }

    /// Create the file if it is missing (atomically: a complete file, every block allocated, is
    /// linked into place, so two creators end with one valid file), else open it and check its
    /// sizes.
    pub fn create(path: &Path, sizes: Sizes) -> StateResult<Self> {
        let path = &absolute(path);
        sizes.check().map_err(|e| err(path, e))?;
        if !path.exists() {
            static MADE: AtomicU64 = AtomicU64::new(0);
            let tmp = path.with_file_name(format!(
                ".{}.{}.{}.{}.tmp",
                path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
                std::process::id(),
                process::now_ms(),
                MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            if let Err(e) = write_new(&tmp, &sizes) {
                let _ = std::fs::remove_file(&tmp);
                return Err(err(path, e));
            }
            let linked = std::fs::hard_link(&tmp, path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(err(path, e)),
            }
        }
        let state = StateFile::open(path)?;
        if state.sizes != sizes {
            return Err(err(
                path,
                format!("exists with other sizes: {} (asked {})", state.sizes, sizes),
            ));
        }
        Ok(state)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    #[inline(always)]
    fn ptr(&self, off: usize) -> *mut u8 {
        debug_assert!(off < self.map.len());
        // SAFETY: every offset is computed from the checked sizes and lies inside the map.
        unsafe { self.map.as_mut_ptr().add(off) }
    }

    #[inline(always)]
    fn u64_at(&self, off: usize) -> &AtomicU64 {
        // SAFETY: 8-aligned (the map is page-aligned, offsets are multiples of 8), in bounds.
        unsafe { &*(self.ptr(off) as *const AtomicU64) }
    }

    #[inline(always)]
    fn u32_at(&self, off: usize) -> &AtomicU32 {
        // SAFETY: 4-aligned and in bounds.
        unsafe { &*(self.ptr(off) as *const AtomicU32) }
    }

    #[inline(always)]
    fn i32_at(&self, off: usize) -> &AtomicI32 {
        // SAFETY: 4-aligned and in bounds.
        unsafe { &*(self.ptr(off) as *const AtomicI32) }
    }

    /// Copy bytes into the map (fields published afterwards by a release store).
    fn write_bytes(&self, off: usize, bytes: &[u8]) {
        // SAFETY: in bounds; concurrent readers only trust these bytes after an acquire load.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr(off), bytes.len()) }
    }

    fn read_bytes(&self, off: usize, out: &mut [u8]) {
        // SAFETY: in bounds.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr(off), out.as_mut_ptr(), out.len()) }
    }

    /// A short string field: a length byte then `cap` bytes (`cap` < 32; no allocation).
    fn write_str(&self, off: usize, s: &[u8], cap: usize) {
        let n = s.len().min(cap);
        let mut buf = [0u8; SHORT_CAP + 1];
        buf[0] = n as u8;
        buf[1..=n].copy_from_slice(&s[..n]);
        self.write_bytes(off, &buf[..=cap]);
    }

    fn read_short(&self, off: usize, cap: usize) -> Short {
        let mut buf = [0u8; SHORT_CAP + 1];
        self.read_bytes(off, &mut buf[..=cap]);
        let len = buf[0].min(cap as u8);
        let mut bytes = [0u8; SHORT_CAP];
        bytes.copy_from_slice(&buf[1..]);
        Short { len, bytes }
    }

    fn read_str(&self, off: usize, cap: usize) -> Vec<u8> {
        self.read_short(off, cap).as_bytes().to_vec()
    }

    /// Where `name` is in an open-addressing table of `n` entries, entry `i` at `entry(i)`
    /// (its key, the name's hash with the low bit set, at +0; the name, `cap` bytes at most,
    /// at +8). Lock-free; the key is published last, so a matching key means a whole entry.
    fn probe(&self, n: usize, entry: impl Fn(usize) -> usize, cap: usize, name: &[u8]) -> Probe {
        let h = fnv1a64(&[name]);
        let key = h | 1;
        let start = (h % n as u64) as usize;
        for i in 0..n {
            let at = (start + i) % n;
            let k = self
                .u64_at(entry(at))
                .load(std::sync::atomic::Ordering::Acquire);
            if k == 0 {
                return Probe::Vacant(at, key);
            }
            if k == key && self.str_eq(entry(at) + 8, cap, name) {
                return Probe::Found(at);
            }
        }
        Probe::Full
    }

    fn str_eq(&self, off: usize, cap: usize, s: &[u8]) -> bool {
        let n = s.len();
        if n > cap {
            return false;
        }
        let mut buf = [0u8; 32];
        self.read_bytes(off, &mut buf[..=n]);
        buf[0] as usize == n && &buf[1..=n] == s
    }

    /// Run `f` holding the exclusive `flock` of the file (dropped by the kernel on a crash).
    fn locked<T>(&self, f: impl FnOnce() -> T) -> StateResult<T> {
        let fd = self.file.as_raw_fd();
        loop {
            // SAFETY: a valid open descriptor.
            if unsafe { libc::flock(fd, libc::LOCK_EX) } == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(err(&self.path, e));
            }
        }
        let out = f();
        // SAFETY: as above.
        unsafe { libc::flock(fd, libc::LOCK_UN) };
        Ok(out)
    }

    pub fn generation(&self) -> u64 {
        self.u64_at(48).load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn set_generation(&self, g: u64) {
        self.u64_at(48)
            .store(g, std::sync::atomic::Ordering::Release)
    }

    pub fn bump_generation(&self) -> u64 {
        self.u64_at(48)
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel)
            + 1
    }

    fn next_claim_id(&self, now_ms: u64) -> u64 {
        let n = self
            .u64_at(56)
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let secs = now_ms / 1000;
        (secs << 32) | (n & 0xFFFF_FFFF) | u64::from(secs == 0)
    }
}

/// A number of 3–20 ASCII digits, or an error naming it.
pub fn check_number(what: &str, number: &str) -> StateResult<()> {
    let ok = (3..=20).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(StateError(format!(
            "{what} {number:?} is not 3 to 20 digits"
        )))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn temp_state(name: &str, sizes: Sizes) -> StateFile {
        let dir =
            std::env::temp_dir().join(format!("routecore-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        StateFile::create(&dir.join("state"), sizes).unwrap()
    }

    /// Small sizes with the pools' defaults (16 + 100 records, 2·4 + 32 blocks).
    pub const SMALL: Sizes = Sizes {
        destinations: 16,
        leases: 116,
        memory: 16,
        numbers: 4,
        counter_blocks: 40,
    };

    #[test]
    fn create_open_and_sizes() {
        let s = temp_state("create", SMALL);
        assert_eq!(s.sizes, SMALL);
        assert_eq!(s.generation(), 0);
        assert_eq!(s.bump_generation(), 1);
        let again = StateFile::create(s.path(), SMALL).unwrap();
        assert_eq!(again.generation(), 1);
        let other = Sizes {
            memory: 32,
            ..SMALL
        };
        assert!(StateFile::create(s.path(), other)
            .unwrap_err()
            .0
            .contains("other sizes"));
        let fewer_leases = Sizes {
            leases: 64,
            ..SMALL
        };
        let e = StateFile::create(s.path(), fewer_leases).unwrap_err().0;
        assert!(e.contains("leases=116") && e.contains("leases=64"), "{e}");
    }

    #[test]
    fn a_file_truncated_under_the_map_is_a_caught_fault_and_an_error() {
        let s = temp_state("truncated", SMALL);
        s.add_destination("13800000001", Some(1), Some(true))
            .unwrap();
        assert!(s.intact().is_ok());
        std::fs::OpenOptions::new()
            .write(true)
            .open(s.path())
            .unwrap()
            .set_len(0)
            .unwrap();
        // Every page is past the end now: without the fault guard this is SIGBUS.
        let _ = s.destination("13800000001");
        let e = s.intact().unwrap_err().0;
        assert!(
            e.contains("truncated in place") && e.contains("reopen"),
            "{e}"
        );
        let _ = s.claim(&["13800000001"], "c1", 1000, false);
        assert!(s.intact().is_err(), "broken for good");
    }

    #[test]
    fn bad_headers() {
        let good = header_bytes(&SMALL, 9);
        let len = SMALL.file_len();
        assert!(parse_header(&good, len).is_ok());
        assert!(parse_header(&[], 0).unwrap_err().contains("empty"));
        for cut in 1..HEADER_LEN {
            assert!(parse_header(&good[..cut], cut as u64).is_err(), "cut {cut}");
        }
        let mut bad = good;
        bad[4] = 9;
        assert!(parse_header(&bad, len).unwrap_err().contains("version 9"));
        let mut bad = good;
        bad[9] ^= 1;
        assert!(parse_header(&bad, len).unwrap_err().contains("checksum"));
        assert!(parse_header(&good, len - 8)
            .unwrap_err()
            .contains("truncated"));
        assert!(parse_header(b"XXXX", 4).unwrap_err().contains("magic"));
    }

    #[test]
    fn version_3_sizes_in_the_header() {
        assert_eq!(Sizes::with_defaults(16, 16, 4), SMALL);
        let h = header_bytes(&SMALL, 9);
        assert_eq!(&h[4..6], &3u16.to_le_bytes());
        assert_eq!(&h[12..16], &100u32.to_le_bytes());
        assert_eq!(&h[24..28], &256u32.to_le_bytes());
        assert_eq!(&h[80..92], &[116, 0, 0, 0, 40, 0, 0, 0, 8, 0, 0, 0]);
        assert_eq!((DEST_LEN, ROW_LEN, BLOCK_LEN), (176, 120, 256));
        let sections = 128 + 16 * 176 + 116 * 64 + 16 * 96 + 4 * 120 + 40 * 256;
        assert_eq!(
            SMALL.file_len(),
            sections + 4 * 16 * 16,
            "the cursor section counts"
        );
        assert_eq!(&h[32..40], &SMALL.file_len().to_le_bytes());
        let default = Sizes::with_defaults(4096, 65536, 1024);
        assert_eq!(default.file_len(), 8_198_528, "the spec's figure");
        // The pools' sizes are under the CRC: a damaged one is a damaged header.
        let mut bad = h;
        bad[80] ^= 1;
        assert!(parse_header(&bad, SMALL.file_len())
            .unwrap_err()
            .contains("checksum"));
        let too_big = Sizes {
            leases: MAX_LEASES + 1,
            ..SMALL
        };
        assert!(too_big.check().unwrap_err().contains("leases must be"));
    }

    #[test]
    fn a_version_2_file_is_refused() {
        let s = temp_state("v2", SMALL);
        let path = s.path().to_path_buf();
        drop(s);
        let mut data = std::fs::read(&path).unwrap();
        data[4..6].copy_from_slice(&2u16.to_le_bytes());
        std::fs::write(&path, &data).unwrap();
        let e = StateFile::open(&path).unwrap_err().0;
        assert!(
            e.contains("layout version 2 is not supported (this build reads 3)")
                && e.contains("remove the file and create it again"),
            "{e}"
        );
        assert!(StateFile::create(&path, SMALL).is_err());
    }

    #[test]
    fn a_new_file_is_allocated_with_a_file_id_and_no_namespace() {
        let s = temp_state("alloc", SMALL);
        let meta = std::fs::metadata(s.path()).unwrap();
        assert!(meta.blocks() * 512 >= SMALL.file_len(), "no hole left");
        let data = std::fs::read(s.path()).unwrap();
        assert_eq!(
            &data[64..72],
            &[0u8; 8],
            "reserved: no PID namespace in the header"
        );
        assert_ne!(&data[72..80], &[0u8; 8], "a file id");
        assert_eq!(&data[96..100], &[0u8; 4], "no lease record handed out yet");
        assert!(data[104..128].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_file_whose_header_names_another_namespace_opens() {
        // Files made while the header held the creator's namespace: that field is ignored now.
        let s = temp_state("ns", SMALL);
        let path = s.path().to_path_buf();
        drop(s);
        let mut data = std::fs::read(&path).unwrap();
        data[64..72].copy_from_slice(&(process::pid_namespace() + 1).to_le_bytes());
        std::fs::write(&path, &data).unwrap();
        let s = StateFile::open(&path).unwrap();
        s.check_file().unwrap();
        assert!(s.claim(&["1001"], "c", 60_000, false).unwrap().is_some());
    }

    #[test]
    fn a_relative_path_is_made_absolute() {
        let here = std::env::current_dir().unwrap();
        assert_eq!(absolute(Path::new("a/st.shm")), here.join("a/st.shm"));
        assert_eq!(absolute(Path::new("/dev/shm/x")), Path::new("/dev/shm/x"));
        assert_eq!(absolute(Path::new("")), Path::new(""));
        let s = temp_state("abs", SMALL);
        assert!(s.path().is_absolute());
    }

    #[test]
    fn a_file_changed_under_the_map_is_found_by_the_check() {
        let s = temp_state("changed", SMALL);
        s.check_file().unwrap();
        s.bump_generation(); // a mutable field: no change to the file's identity
        s.check_file().unwrap();
        let path = s.path().to_path_buf();
        // Copied over in place: the same inode and length, another file's header.
        let other = path.with_file_name("other");
        drop(StateFile::create(&other, SMALL).unwrap());
        std::fs::copy(&other, &path).unwrap();
        assert!(s.check_file().unwrap_err().0.contains("rewritten in place"));
        // Truncated: refused before the map is read.
        let t = temp_state("truncated", SMALL);
        std::fs::OpenOptions::new()
            .write(true)
            .open(t.path())
            .unwrap()
            .set_len(4096)
            .unwrap();
        let e = t.check_file().unwrap_err().0;
        assert!(e.contains("truncated to 4096 bytes"), "{e}");
        // Replaced by another file, then removed.
        let r = temp_state("replaced", SMALL);
        std::fs::rename(r.path(), r.path().with_file_name("old")).unwrap();
        drop(StateFile::create(r.path(), SMALL).unwrap());
        assert!(r.check_file().unwrap_err().0.contains("replaced"));
        std::fs::remove_file(r.path()).unwrap();
        assert!(r.check_file().unwrap_err().0.contains("removed"));
    }

    #[test]
    fn fnv_known_value() {
        assert_eq!(fnv1a64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(&[b"ab"]), fnv1a64(&[b"a", b"b"]));
    }
}
