//! Round-robin cursors: one counter per (400 number, group), in an open-addressing table of
//! `16 × N` entries. Entries are inserted by compare-and-swap on their key and never removed,
//! so no lock is taken.

use std::sync::atomic::Ordering::{AcqRel, Acquire};

use super::{fnv1a64, StateError, StateFile, StateResult, CURSORS_PER_ROW, CURSOR_LEN};

/// The longest group name, in characters.
pub const GROUP_CAP: usize = 64;

impl StateFile {
    fn cursor_off(&self, i: usize) -> usize {
        self.cursors_off + i * CURSOR_LEN
    }

    /// The cursor of `group` on `did`: its value before this call, which adds 1. A missing
    /// cursor is inserted (starting at 0). None when the 16 entries probed all hold other
    /// cursors (the caller then rotates by a seed of its own).
    pub fn next_cursor(&self, did: &str, group: &str) -> StateResult<Option<u64>> {
        Self::check_did(did)?;
        let chars = group.chars().count();
        if chars == 0 || chars > GROUP_CAP {
            return Err(StateError(format!(
                "a group name must be 1 to {GROUP_CAP} characters, not {group:?}"
            )));
        }
        let h = fnv1a64(&[did.as_bytes(), b"\0", group.as_bytes()]);
        let key = h | 1;
        let n = self.sizes.cursors();
        let start = (h % n as u64) as usize;
        for i in 0..CURSORS_PER_ROW.min(n) {
            let off = self.cursor_off((start + i) % n);
            let slot = self.u64_at(off);
            let mut k = slot.load(Acquire);
            if k == 0 {
                k = match slot.compare_exchange(0, key, AcqRel, Acquire) {
                    Ok(_) => key,
                    Err(other) => other, // taken meanwhile: maybe by this very cursor
                };
            }
            if k == key {
                return Ok(Some(self.u64_at(off + 8).fetch_add(1, AcqRel)));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{temp_state, SMALL};
    use super::super::{fnv1a64, Sizes};
    use super::*;

    #[test]
    fn successive_calls_count_up_per_number_and_group() {
        let s = temp_state("cursors", SMALL);
        let seq: Vec<_> = (0..3)
            .map(|_| s.next_cursor("4008001234", "sales").unwrap())
            .collect();
        assert_eq!(seq, [Some(0), Some(1), Some(2)]);
        assert_eq!(s.next_cursor("4008001234", "support").unwrap(), Some(0));
        assert_eq!(s.next_cursor("4008009999", "sales").unwrap(), Some(0));
        assert_eq!(s.next_cursor("4008001234", "sales").unwrap(), Some(3));
        // The entry sits where the layout says: probed from h mod C, key h | 1, then the value.
        let h = fnv1a64(&[b"4008001234", b"\0", b"sales"]);
        let mut at = (h % s.sizes.cursors() as u64) as usize;
        while s.u64_at(s.cursor_off(at)).load(Acquire) != h | 1 {
            at = (at + 1) % s.sizes.cursors();
        }
        assert_eq!(s.u64_at(s.cursor_off(at) + 8).load(Acquire), 4);
        let again = StateFile::open(s.path()).unwrap();
        assert_eq!(again.next_cursor("4008001234", "sales").unwrap(), Some(4));
    }

    #[test]
    fn names_are_checked() {
        let s = temp_state("cursornames", SMALL);
        assert!(s.next_cursor("4008001234", "").is_err());
        assert!(s.next_cursor("4008001234", &"g".repeat(65)).is_err());
        assert!(s
            .next_cursor("4008001234", &"组".repeat(64))
            .unwrap()
            .is_some());
        assert!(s.next_cursor("40a", "sales").is_err());
        assert!(s.next_cursor("4008001234567890", "sales").is_err());
    }

    #[test]
    fn a_full_table_gives_none() {
        let one = Sizes {
            numbers: 1,
            ..SMALL
        };
        let s = temp_state("cursorfull", one);
        let groups: Vec<String> = (0..16).map(|i| format!("g{i}")).collect();
        for g in &groups {
            assert_eq!(s.next_cursor("4008001234", g).unwrap(), Some(0));
        }
        assert_eq!(s.next_cursor("4008001234", "one more").unwrap(), None);
        assert_eq!(s.next_cursor("4008001234", "g7").unwrap(), Some(1));
    }

    #[test]
    fn threads_share_one_sequence() {
        let s = temp_state("cursorthreads", SMALL);
        let mut seen: Vec<u64> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        (0..500)
                            .map(|_| s.next_cursor("4008001234", "g").unwrap().unwrap())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        seen.sort_unstable();
        assert_eq!(seen, (0..2000).collect::<Vec<_>>());
    }
}
