//! Counters per 400 number: calls per IVR branch (B11, branches 0..255) per day, in a ring of
//! day blocks. A number's counts lie in blocks of 8 branches handed to it from the file's pool
//! as its branches are counted (`extents`).

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

use super::extents::BLOCK_POOL;
use super::{check_number, Probe, StateError, StateFile, StateResult};
use super::{BLOCK_BRANCHES, BRANCHES, DAYS, ROW_LEN};

impl StateFile {
    fn row_off(&self, row: usize) -> usize {
        self.rows_off + row * ROW_LEN
    }

    /// Where the counts of block `q` of the row at `off` lie on day block `k`, if it holds it.
    #[inline(always)]
    fn counts_off(&self, off: usize, q: usize, k: usize) -> Option<usize> {
        let (pool, size) = (self.blocks_off, self.sizes.counter_blocks);
        self.item_off(&BLOCK_POOL, off, q, pool, size)
            .map(|at| at + 4 * BLOCK_BRANCHES * k)
    }

    pub fn find_row(&self, did: &str) -> Option<usize> {
        match self.probe_rows(did) {
            Probe::Found(row) => Some(row),
            _ => None,
        }
    }

    fn probe_rows(&self, did: &str) -> Probe {
        let n = self.sizes.numbers as usize;
        self.probe(n, |row| self.row_off(row), 15, did.as_bytes())
    }

    fn row_for(&self, did: &str) -> StateResult<usize> {
        if let Some(row) = self.find_row(did) {
            return Ok(row);
        }
        self.locked(|| match self.probe_rows(did) {
            Probe::Found(row) => Ok(row),
            Probe::Vacant(row, key) => {
                let off = self.row_off(row);
                self.write_str(off + 8, did.as_bytes(), 15);
                self.u64_at(off).store(key, Release);
                Ok(row)
            }
            Probe::Full => Err(StateError(format!(
                "the counter table is full ({} numbers)",
                self.sizes.numbers
            ))),
        })?
    }

    pub(super) fn check_did(did: &str) -> StateResult<()> {
        check_number("400 number", did)?;
        if did.len() > 15 {
            return Err(StateError(format!(
                "400 number {did:?} is longer than 15 digits"
            )));
        }
        Ok(())
    }

    /// One more call through `branch` of `did` on `day`.
    pub fn count_branch(&self, did: &str, branch: u32, day: i32) -> StateResult<()> {
        Self::check_did(did)?;
        if branch as usize >= BRANCHES {
            return Err(StateError(format!(
                "branch must be 0..{}, not {branch}",
                BRANCHES - 1
            )));
        }
        let off = self.row_off(self.row_for(did)?);
        let (q, within) = (
            branch as usize / BLOCK_BRANCHES,
            branch as usize % BLOCK_BRANCHES,
        );
        if self.held(&BLOCK_POOL, off) as usize <= q {
            let size = self.sizes.counter_blocks;
            self.locked(|| self.hand(&BLOCK_POOL, off, q as u32 + 1, size))??;
        }
        let k = day.rem_euclid(DAYS as i32) as usize;
        let stamp = self.i32_at(off + 24 + 8 * k);
        loop {
            let current = stamp.load(Acquire);
            if current == day {
                break;
            }
            if current > day {
                return Ok(()); // a count for a day the ring has already moved past
            }
            if stamp
                .compare_exchange(current, day, AcqRel, Acquire)
                .is_ok()
            {
                let held = self.held(&BLOCK_POOL, off) as usize;
                for counts in (0..held).filter_map(|q| self.counts_off(off, q, k)) {
                    for i in 0..BLOCK_BRANCHES {
                        self.u32_at(counts + 4 * i).store(0, Relaxed);
                    }
                }
                break;
            }
        }
        if let Some(counts) = self.counts_off(off, q, k) {
            self.u32_at(counts + 4 * within).fetch_add(1, Relaxed);
        }
        Ok(())
    }

    /// The counts of `did` on `day` (zeros when none are kept).
    pub fn branch_counts(&self, did: &str, day: i32) -> [u32; BRANCHES] {
        let mut out = [0u32; BRANCHES];
        let Some(row) = self.find_row(did) else {
            return out;
        };
        let off = self.row_off(row);
        let k = day.rem_euclid(DAYS as i32) as usize;
        if self.i32_at(off + 24 + 8 * k).load(Acquire) == day {
            for (q, chunk) in out.chunks_mut(BLOCK_BRANCHES).enumerate() {
                let Some(counts) = self.counts_off(off, q, k) else {
                    break;
                };
                for (i, v) in chunk.iter_mut().enumerate() {
                    *v = self.u32_at(counts + 4 * i).load(Relaxed);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{temp_state, SMALL};
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn counts_per_day_in_a_ring() {
        let s = temp_state("counters", SMALL);
        s.count_branch("4008001234", 1, 20_000).unwrap();
        s.count_branch("4008001234", 1, 20_000).unwrap();
        s.count_branch("4008001234", 9, 20_000).unwrap();
        assert_eq!(s.branch_counts("4008001234", 20_000)[1], 2);
        assert_eq!(s.branch_counts("4008001234", 20_000)[9], 1);
        s.count_branch("4008001234", 1, 20_008).unwrap(); // same block, a later day: reset
        assert_eq!(s.branch_counts("4008001234", 20_000), [0; 256]);
        assert_eq!(s.branch_counts("4008001234", 20_008)[1], 1);
        s.count_branch("4008001234", 1, 20_000).unwrap(); // late count of an overwritten day
        assert_eq!(s.branch_counts("4008001234", 20_008)[1], 1);
        s.count_branch("4008001234", 255, 20_008).unwrap();
        assert_eq!(s.branch_counts("4008001234", 20_008)[255], 1);
        assert!(s
            .count_branch("4008001234", 256, 20_008)
            .unwrap_err()
            .0
            .contains("0..255"));
        assert_eq!(s.branch_counts("4008001234", 20_008).iter().sum::<u32>(), 2);
        assert_eq!(s.branch_counts("4009999999", 20_000), [0; 256]);
    }

    #[test]
    fn blocks_come_from_the_pool_as_branches_are_counted() {
        let s = temp_state("blocks", SMALL);
        let handed =
            |s: &super::super::StateFile| s.u32_at(super::super::OFF_BLOCKS_HANDED).load(Relaxed);
        s.count_branch("4008001234", 4, 20_000).unwrap();
        assert_eq!(handed(&s), 1, "branches 0-7: one block");
        s.count_branch("4008001234", 20, 20_000).unwrap();
        assert_eq!(handed(&s), 4, "branch 20 is in block 2: extents of 1, 1, 2");
        s.count_branch("4008005678", 255, 20_000).unwrap();
        assert_eq!(handed(&s), 36, "every branch: 32 blocks");
        let counts = s.branch_counts("4008001234", 20_000);
        assert_eq!(
            (counts[4], counts[20], counts.iter().sum::<u32>()),
            (1, 1, 2)
        );
        assert_eq!(s.branch_counts("4008005678", 20_000)[255], 1);
        // A new day resets every block the row holds.
        s.count_branch("4008001234", 0, 20_008).unwrap();
        assert_eq!(s.branch_counts("4008001234", 20_008).iter().sum::<u32>(), 1);
        // 40 blocks: a third number counting every branch does not fit; nothing changes.
        let e = s.count_branch("4008009999", 255, 20_000).unwrap_err().0;
        assert!(
            e.contains("the counter pool is full (40 counter blocks handed out)")
                && e.contains("more counter_blocks"),
            "{e}"
        );
        assert_eq!(handed(&s), 36);
        s.count_branch("4008009999", 7, 20_000).unwrap();
        assert_eq!(s.branch_counts("4008009999", 20_000)[7], 1);
    }
}
