//! Processes: is a pid alive, and when did it start (to tell a reused pid from the owner).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};

/// Field 22 of `/proc/<pid>/stat`: start time in clock ticks since boot. `None` if unreadable.
pub fn start_time(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&text)
}

/// The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ')': field 3 (state) is the first; field 22 is the 20th.
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

static ME_PID: AtomicU32 = AtomicU32::new(0);
static ME_START: AtomicU64 = AtomicU64::new(0);
static ME_NS: AtomicU32 = AtomicU32::new(0);

extern "C" fn forget_me() {
    ME_PID.store(0, Ordering::Relaxed);
}

/// This process: (pid, start time), read once; a fork handler makes a child read its own, so a
/// forked child claims as itself, not as its parent.
pub fn me() -> (u32, u64) {
    let pid = ME_PID.load(Ordering::Acquire);
    if pid != 0 {
        return (pid, ME_START.load(Ordering::Relaxed));
    }
    static HANDLER: Once = Once::new();
    // SAFETY: registers a function that only stores to an atomic, run in the child after fork.
    HANDLER.call_once(|| unsafe {
        libc::pthread_atfork(None, None, Some(forget_me));
    });
    let pid = std::process::id();
    ME_START.store(start_time(pid).unwrap_or(0), Ordering::Relaxed);
    ME_NS.store(namespace_id(pid_namespace()), Ordering::Relaxed);
    ME_PID.store(pid, Ordering::Release);
    (pid, ME_START.load(Ordering::Relaxed))
}

/// This process's PID namespace id as a lease record stores it (`namespace_id`), read with
/// `me()` (so a child forked into a new PID namespace reads its own).
pub fn my_namespace() -> u32 {
    me();
    ME_NS.load(Ordering::Relaxed)
}

/// The id a lease record stores for a PID namespace: the low 32 bits of its inode (0: unknown).
pub fn namespace_id(inode: u64) -> u32 {
    inode as u32
}

/// Whether a process with this pid exists (a permission error means it does).
pub fn alive(pid: u32) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// The PID namespace of this process: the inode of `/proc/self/ns/pid` (0 if unreadable).
///
/// Pids (and so lease owners) mean the same process only within one PID namespace.
pub fn pid_namespace() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/pid")
        .map(|m| m.ino())
        .unwrap_or(0)
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parens() {
        let stat =
            "1234 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21";
        assert_eq!(parse_start_time(stat), Some(987654));
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_with_a_start_time() {
        let (pid, start) = me();
        assert!(alive(pid));
        assert!(start > 0);
        assert_eq!(start_time(pid), Some(start));
        assert!(!alive(0));
    }

    #[test]
    fn the_pid_namespace_is_the_inode_of_proc_self_ns_pid() {
        let link = std::fs::read_link("/proc/self/ns/pid").unwrap();
        assert_eq!(link.to_string_lossy(), format!("pid:[{}]", pid_namespace()));
        assert_eq!(my_namespace(), pid_namespace() as u32);
        assert_ne!(my_namespace(), 0);
        assert_eq!(namespace_id(0x1_2345_6789), 0x2345_6789);
    }
}
