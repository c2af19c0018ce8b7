//! Counters per 400 number: calls per IVR branch (B11, branches 0..255) per day, in a ring of
//! day blocks.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

use super::{check_number, Probe, StateError, StateFile, StateResult, BRANCHES, DAYS, ROW_LEN};

impl StateFile {
    fn row_off(&self, row: usize) -> usize {
        self.rows_off + row * ROW_LEN
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
        let block = day.rem_euclid(DAYS as i32) as usize;
        let stamp = self.i32_at(off + 24 + 8 * block);
        let counts = off + 24 + 8 * DAYS + 4 * BRANCHES * block;
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
                for b in 0..BRANCHES {
                    self.u32_at(counts + 4 * b).store(0, Relaxed);
                }
                break;
            }
        }
        self.u32_at(counts + 4 * branch as usize)
            .fetch_add(1, Relaxed);
        Ok(())
    }

    /// The counts of `did` on `day` (zeros when none are kept).
    pub fn branch_counts(&self, did: &str, day: i32) -> [u32; BRANCHES] {
        let mut out = [0u32; BRANCHES];
        let Some(row) = self.find_row(did) else {
            return out;
        };
        let off = self.row_off(row);
        let block = day.rem_euclid(DAYS as i32) as usize;
        if self.i32_at(off + 24 + 8 * block).load(Acquire) == day {
            let counts = off + 24 + 8 * DAYS + 4 * BRANCHES * block;
            for (b, v) in out.iter_mut().enumerate() {
                *v = self.u32_at(counts + 4 * b).load(Relaxed);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{temp_state, SMALL};

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
}
