//! Bus errors inside routecore's own file mappings, caught (as the JVM does for a mapped buffer).
//!
//! A file truncated in place under a live `mmap` kills the process that touches a page past its
//! new end with `SIGBUS`. Every mapping routecore makes of a file (the shared state, a routing
//! image) is registered here while it lives. A `SIGBUS` whose faulting address lies inside one
//! of them is handled: the whole mapping is replaced by anonymous zero pages (`mmap` with
//! `MAP_FIXED`, async-signal-safe), so the faulting instruction completes on a zero, and the
//! mapping is marked broken. Whoever owns the mapping checks [`Guard::broken`] after each
//! operation and turns it into an error. A `SIGBUS` anywhere else goes to the handler that was
//! installed before this one (Python's `faulthandler`, or the default action, which ends the
//! process as it would have without routecore).
//!
//! The handler is installed at the first registration. A handler installed later by someone
//! else (for example `faulthandler.enable()` called after a state or an image was opened) runs
//! first and ends the process as before.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Mappings registered at once at most; more are not guarded (see [`Guard::is_guarded`]).
pub const SLOTS: usize = 4096;

struct Slot {
    /// Taken by a guard (claimed before `start` is set, freed after it is cleared).
    used: AtomicBool,
    /// The mapping's first byte (0: none); set last on registration, cleared first on release.
    start: AtomicUsize,
    len: AtomicUsize,
    broken: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)] // the initialiser of each element, never shared
const FREE: Slot = Slot {
    used: AtomicBool::new(false),
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    broken: AtomicBool::new(false),
};

static TABLE: [Slot; SLOTS] = [FREE; SLOTS];
static PAGE: AtomicUsize = AtomicUsize::new(4096);

/// The disposition of SIGBUS before ours: where faults outside our mappings go.
struct Previous(libc::sigaction);
// SAFETY: written once (under OnceLock) before the handler can run, only read afterwards.
unsafe impl Sync for Previous {}
unsafe impl Send for Previous {}

/// `None` when installing failed: nothing is guarded then, as before this module.
static PREVIOUS: OnceLock<Option<Previous>> = OnceLock::new();

/// A mapping registered for as long as this lives. Drop it before the mapping is unmapped.
#[derive(Debug)]
pub struct Guard {
    slot: Option<usize>,
}

impl Guard {
    /// Register `len` bytes mapped at `start` (the address `mmap` returned).
    pub fn new(start: *const u8, len: usize) -> Guard {
        if len == 0 || start.is_null() || !installed() {
            return Guard { slot: None };
        }
        for (i, slot) in TABLE.iter().enumerate() {
            if slot
                .used
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                slot.broken.store(false, Ordering::Relaxed);
                slot.len.store(len, Ordering::Relaxed);
                slot.start.store(start as usize, Ordering::Release);
                return Guard { slot: Some(i) };
            }
        }
        Guard { slot: None }
    }

    /// Whether a bus error was caught in this mapping: its pages are zeros from then on, so
    /// whatever was read or written since is not the file's.
    #[inline]
    pub fn broken(&self) -> bool {
        self.slot
            .is_some_and(|i| TABLE[i].broken.load(Ordering::Acquire))
    }

    /// Whether the mapping is registered (false only when the handler could not be installed
    /// or [`SLOTS`] mappings are registered already).
    pub fn is_guarded(&self) -> bool {
        self.slot.is_some()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            let slot = &TABLE[i];
            slot.start.store(0, Ordering::Release);
            slot.len.store(0, Ordering::Relaxed);
            slot.used.store(false, Ordering::Release);
        }
    }
}

/// Install the handler once; whether it is installed.
fn installed() -> bool {
    PREVIOUS
        .get_or_init(|| {
            // SAFETY: plain libc calls on zeroed, then filled, sigaction structs.
            unsafe {
                let page = libc::sysconf(libc::_SC_PAGESIZE);
                if page > 0 {
                    PAGE.store(page as usize, Ordering::Relaxed);
                }
                let mut ours: libc::sigaction = std::mem::zeroed();
                ours.sa_sigaction = on_bus as *const () as usize;
                ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
                libc::sigemptyset(&mut ours.sa_mask);
                let mut previous: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGBUS, &ours, &mut previous) != 0 {
                    return None;
                }
                Some(Previous(previous))
            }
        })
        .is_some()
}

/// The registered mapping holding `addr`, if any.
fn slot_of(addr: usize) -> Option<&'static Slot> {
    TABLE.iter().find(|slot| {
        let start = slot.start.load(Ordering::Acquire);
        start != 0 && addr >= start && addr - start < slot.len.load(Ordering::Acquire)
    })
}

extern "C" fn on_bus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo; only async-signal-safe calls follow (atomics,
    // mmap, sigaction).
    unsafe {
        // A positive si_code: raised by the kernel for a fault, so si_addr is the address.
        if !info.is_null() && (*info).si_code > 0 {
            if let Some(slot) = slot_of((*info).si_addr() as usize) {
                let start = slot.start.load(Ordering::Acquire);
                let page = PAGE.load(Ordering::Relaxed);
                let len = slot.len.load(Ordering::Acquire).div_ceil(page) * page;
                let zeros = libc::mmap(
                    start as *mut libc::c_void,
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                );
                if zeros != libc::MAP_FAILED {
                    slot.broken.store(true, Ordering::Release);
                    return; // the faulting instruction runs again, on a zero page
                }
            }
        }
        pass_on(sig, info, ctx);
    }
}

/// Hand a fault that is not ours to the disposition before ours.
unsafe fn pass_on(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let Some(Some(Previous(previous))) = PREVIOUS.get() else {
        return;
    };
    let handler = previous.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // Put the default back and return: the fault happens again and ends the process (an
        // ignored SIGBUS from a fault would only fault again forever).
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(libc::SIGBUS, &default, std::ptr::null_mut());
    } else if previous.sa_flags & libc::SA_SIGINFO != 0 {
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            std::mem::transmute(handler);
        f(sig, info, ctx);
    } else {
        let f: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
        f(sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::io::Write;

    fn temp(name: &str, len: usize) -> (std::path::PathBuf, std::fs::File) {
        let path = std::env::temp_dir().join(format!("rc-fault-{}-{name}", std::process::id()));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.write_all(&vec![7u8; len]).unwrap();
        (path, file)
    }

    #[test]
    fn a_fault_in_a_guarded_mapping_reads_zeros_and_marks_it_broken() {
        let (path, file) = temp("guarded", 3 * 4096);
        let map = memmap2::MmapOptions::new().map_raw(&file).unwrap();
        let guard = Guard::new(map.as_ptr(), map.len());
        assert!(guard.is_guarded());
        // SAFETY: inside the mapping.
        let last = unsafe { map.as_ptr().add(map.len() - 1) };
        assert_eq!(unsafe { std::ptr::read_volatile(last) }, 7);
        assert!(!guard.broken());
        file.set_len(10).unwrap();
        // Past the new end: SIGBUS without the guard.
        assert_eq!(unsafe { std::ptr::read_volatile(last) }, 0);
        assert!(guard.broken());
        // Writable, as the state's atomics need.
        unsafe { std::ptr::write_volatile(map.as_mut_ptr(), 1) };
        drop(guard);
        drop(map);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_released_slot_is_reused_and_starts_unbroken() {
        let (path, file) = temp("reuse", 4096);
        let map = memmap2::MmapOptions::new().map_raw(&file).unwrap();
        drop(Guard::new(map.as_ptr(), map.len()));
        assert!(slot_of(map.as_ptr() as usize).is_none());
        let again = Guard::new(map.as_ptr(), map.len());
        assert!(again.is_guarded() && !again.broken());
        assert!(slot_of(map.as_ptr() as usize + 100).is_some());
        assert!(slot_of(map.as_ptr() as usize + 4096).is_none());
        drop(again);
        drop(map);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn empty_and_null_mappings_are_not_guarded() {
        assert!(!Guard::new(std::ptr::null(), 10).is_guarded());
        assert!(!Guard::new(8 as *const u8, 0).is_guarded());
    }
}
