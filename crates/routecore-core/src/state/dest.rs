//! Destinations and their claims: one slot per phone number, claimed by compare-and-swap on
//! lease records, reclaimed when the owner is dead or the lease has expired.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

use super::extents::LEASE_POOL;
use super::process;
use super::{check_number, Probe, StateError, StateFile, StateResult};
use super::{DEST_LEN, HEADER_LEN, LEASES, UNWRITTEN_GRACE_S};

const NUMBER_CAP: usize = 23;
const CALL_ID_CAP: usize = 23;
/// Offset in a slot of `used`: the largest capacity the destination ever had.
const USED: usize = 72;

/// One lease taken by a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimedLease {
    pub slot: u32,
    pub lease: u32,
    pub id: u64,
}

/// What `claim` took: one lease per claimed destination, in candidate order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claim {
    pub numbers: Vec<String>,
    pub leases: Vec<ClaimedLease>,
}

/// The leases a claim has taken so far: freed again when dropped before the claim completes,
/// so a claim of every candidate that fails part way (an error, or a panic) holds nothing
/// until its leases would expire.
struct Taking<'a> {
    state: &'a StateFile,
    claim: Claim,
}

impl Taking<'_> {
    fn complete(mut self) -> Claim {
        std::mem::take(&mut self.claim)
    }
}

impl Drop for Taking<'_> {
    fn drop(&mut self) {
        self.state.release(&self.claim, None);
    }
}

/// A destination as seen now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationInfo {
    pub number: String,
    pub capacity: u32,
    pub online: bool,
    pub busy: u32,
    pub offered: u64,
    pub answered: u64,
    pub unanswered: u64,
    pub talk_seconds: u64,
}

impl StateFile {
    fn slot_off(&self, slot: usize) -> usize {
        HEADER_LEN + slot * DEST_LEN
    }

    /// Where lease record `lease` of `slot` lies: in the pool, through the slot's extents;
    /// None for a record the slot does not hold.
    #[inline(always)]
    fn lease_off(&self, slot: usize, lease: usize) -> Option<usize> {
        let (pool, size) = (self.leases_off, self.sizes.leases);
        self.item_off(&LEASE_POOL, self.slot_off(slot), lease, pool, size)
    }

    /// The lease records of `slot` that may be held: the first `max(used, capacity)`, where
    /// `used` is the largest capacity the destination ever had (records above it were never
    /// claimed), so a capacity-1 phone costs one record to scan, not `LEASES`.
    fn held_leases(&self, slot: usize) -> impl Iterator<Item = usize> + '_ {
        let off = self.slot_off(slot);
        let used = self.u32_at(off + USED).load(Acquire);
        let capacity = self.u32_at(off + 32).load(Acquire);
        (0..(used.max(capacity) as usize).clamp(1, LEASES))
            .filter_map(move |l| self.lease_off(slot, l))
    }

    /// The slot of a number, if it was ever inserted. Lock-free.
    pub fn find_destination(&self, number: &str) -> Option<usize> {
        match self.probe_destinations(number) {
            Probe::Found(slot) => Some(slot),
            _ => None,
        }
    }

    fn probe_destinations(&self, number: &str) -> Probe {
        let d = self.sizes.destinations as usize;
        self.probe(d, |slot| self.slot_off(slot), NUMBER_CAP, number.as_bytes())
    }

    /// Insert a destination (under the file lock) or update it; returns its slot.
    pub fn add_destination(
        &self,
        number: &str,
        capacity: Option<u32>,
        online: Option<bool>,
    ) -> StateResult<usize> {
        check_number("destination", number)?;
        if let Some(c) = capacity {
            if !(1..=LEASES as u32).contains(&c) {
                return Err(StateError(format!("capacity must be 1..{LEASES}, not {c}")));
            }
        }
        let slot = match self.find_destination(number) {
            Some(slot) => slot,
            None => self.locked(|| self.insert_destination(number))??,
        };
        let off = self.slot_off(slot);
        if let Some(c) = capacity {
            if self.held(&LEASE_POOL, off) < c {
                self.locked(|| self.hand(&LEASE_POOL, off, c, self.sizes.leases))??;
            }
            self.u32_at(off + USED).fetch_max(c, AcqRel); // before any claim can use `c`
            self.u32_at(off + 32).store(c, Release);
        }
        if let Some(o) = online {
            self.u32_at(off + 36).store(u32::from(o), Release);
        }
        Ok(slot)
    }

    /// Under the lock: probe again, then write the slot and publish its key last.
    fn insert_destination(&self, number: &str) -> StateResult<usize> {
        match self.probe_destinations(number) {
            Probe::Found(slot) => Ok(slot),
            Probe::Vacant(slot, key) => {
                let off = self.slot_off(slot);
                self.hand(&LEASE_POOL, off, 1, self.sizes.leases)?;
                self.write_str(off + 8, number.as_bytes(), NUMBER_CAP);
                self.u32_at(off + 32).store(1, Relaxed);
                self.u32_at(off + 36).store(1, Relaxed);
                self.u32_at(off + USED).store(1, Relaxed);
                self.u64_at(off).store(key, Release);
                Ok(slot)
            }
            Probe::Full => Err(StateError(format!(
                "{}: the destination table is full ({} destinations)",
                self.path().display(),
                self.sizes.destinations
            ))),
        }
    }

    fn slot_of(&self, number: &str) -> StateResult<usize> {
        self.find_destination(number)
            .ok_or_else(|| StateError(format!("unknown destination {number:?}")))
    }

    pub fn set_online(&self, number: &str, online: bool) -> StateResult<()> {
        let slot = self.slot_of(number)?;
        self.u32_at(self.slot_off(slot) + 36)
            .store(u32::from(online), Release);
        Ok(())
    }

    pub fn set_capacity(&self, number: &str, capacity: u32) -> StateResult<()> {
        self.slot_of(number)?;
        self.add_destination(number, Some(capacity), None)
            .map(|_| ())
    }

    /// Whether the lease holding claim id `word` belongs to nobody alive any more.
    ///
    /// A pid names a process only within its PID namespace: a lease owned in another namespace
    /// than this process's (both known) is judged by its deadline alone.
    fn stale(&self, off: usize, word: u64, now_ms: u64) -> bool {
        let fields_id = self.u64_at(off + 8).load(Acquire);
        if fields_id != word {
            // Fields never written: the owner died between its CAS and its writes.
            return now_ms / 1000 > (word >> 32) + UNWRITTEN_GRACE_S;
        }
        let deadline = self.u64_at(off + 32).load(Relaxed);
        if deadline != 0 && deadline < now_ms {
            return true;
        }
        let owner_ns = self.u32_at(off + 20).load(Relaxed);
        let my_ns = process::my_namespace();
        if owner_ns != 0 && my_ns != 0 && owner_ns != my_ns {
            return false; // its holder renews the deadline while its call goes on
        }
        let pid = self.u32_at(off + 16).load(Relaxed);
        let start = self.u64_at(off + 24).load(Relaxed);
        if (pid, start) == process::me() {
            return false; // this process's own lease: alive, no system call needed
        }
        if !process::alive(pid) {
            return true;
        }
        match process::start_time(pid) {
            Some(actual) => start != 0 && actual != start,
            None => false,
        }
    }

    /// Try to take lease `lease` of `slot`, reclaiming it first if stale.
    fn take_lease(
        &self,
        slot: usize,
        lease: usize,
        id: u64,
        call_id: &[u8],
        deadline: u64,
        now: u64,
    ) -> bool {
        let Some(off) = self.lease_off(slot, lease) else {
            return false;
        };
        let word = self.u64_at(off);
        let mut current = word.load(Acquire);
        if current != 0 {
            if !self.stale(off, current, now) {
                return false;
            }
            if word.compare_exchange(current, 0, AcqRel, Acquire).is_err() {
                return false;
            }
            current = 0;
        }
        if word.compare_exchange(current, id, AcqRel, Acquire).is_err() {
            return false;
        }
        let (pid, start) = process::me();
        self.u32_at(off + 16).store(pid, Relaxed);
        self.u32_at(off + 20)
            .store(process::my_namespace(), Relaxed);
        self.u64_at(off + 24).store(start, Relaxed);
        self.u64_at(off + 32).store(deadline, Relaxed);
        self.write_str(off + 40, call_id, CALL_ID_CAP);
        self.u64_at(off + 8).store(id, Release);
        true
    }

    /// Claim the first candidate with room (`all = false`) or every one (`all = true`).
    ///
    /// An error part way (a candidate that cannot be inserted: the table is full) frees the
    /// leases already taken before it is returned.
    pub fn claim(
        &self,
        candidates: &[&str],
        call_id: &str,
        lease_ms: u64,
        all: bool,
    ) -> StateResult<Option<Claim>> {
        for c in candidates {
            check_number("destination", c)?;
        }
        let now = process::now_ms();
        self.watch(now)?;
        let deadline = now.saturating_add(lease_ms.max(1));
        let mut taking = Taking {
            state: self,
            claim: Claim::default(),
        };
        for (i, number) in candidates.iter().enumerate() {
            if candidates[..i].contains(number) {
                continue;
            }
            let slot = self.add_destination(number, None, None)?;
            let off = self.slot_off(slot);
            if self.u32_at(off + 36).load(Acquire) == 0 {
                continue;
            }
            let capacity = (self.u32_at(off + 32).load(Acquire) as usize).clamp(1, LEASES);
            let id = self.next_claim_id(now);
            let taken = (0..capacity)
                .find(|&l| self.take_lease(slot, l, id, call_id.as_bytes(), deadline, now));
            if let Some(l) = taken {
                taking.claim.numbers.push(number.to_string());
                taking.claim.leases.push(ClaimedLease {
                    slot: slot as u32,
                    lease: l as u32,
                    id,
                });
                if !all {
                    break;
                }
            }
        }
        let claim = taking.complete();
        Ok((!claim.leases.is_empty()).then_some(claim))
    }

    /// Where a claimed lease lies, or None for one this file cannot hold.
    fn claimed_off(&self, l: &ClaimedLease) -> Option<usize> {
        ((l.slot as usize) < self.sizes.destinations as usize && (l.lease as usize) < LEASES)
            .then(|| self.lease_off(l.slot as usize, l.lease as usize))
            .flatten()
    }

    /// Free every lease of `claim` except the one on `keep`; how many were still held.
    pub fn release(&self, claim: &Claim, keep: Option<&str>) -> usize {
        self.release_leases(
            claim.numbers.iter().map(String::as_str).zip(&claim.leases),
            keep,
        )
    }

    /// `release` over (number, lease) pairs however they are held.
    pub fn release_leases<'a>(
        &self,
        leases: impl Iterator<Item = (&'a str, &'a ClaimedLease)>,
        keep: Option<&str>,
    ) -> usize {
        let mut freed = 0;
        for (number, l) in leases {
            if Some(number) == keep {
                continue;
            }
            let Some(off) = self.claimed_off(l) else {
                continue;
            };
            let word = self.u64_at(off);
            if word.compare_exchange(l.id, 0, AcqRel, Acquire).is_ok() {
                freed += 1;
            }
        }
        freed
    }

    /// Push the deadline of every lease still held to now + `lease_ms`; how many.
    pub fn extend(&self, claim: &Claim, lease_ms: u64) -> usize {
        let deadline = process::now_ms().saturating_add(lease_ms);
        let mut held = 0;
        for l in &claim.leases {
            let Some(off) = self.claimed_off(l) else {
                continue;
            };
            if self.u64_at(off).load(Acquire) == l.id && self.u64_at(off + 8).load(Acquire) == l.id
            {
                self.u64_at(off + 32).store(deadline, Release);
                held += 1;
            }
        }
        held
    }

    fn inserted_slots(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.sizes.destinations as usize)
            .filter(|&s| self.u64_at(self.slot_off(s)).load(Acquire) != 0)
    }

    /// Reclaim every stale lease; how many. Checks the file first (`check_file`).
    pub fn reap(&self) -> StateResult<usize> {
        self.check_file()?;
        let now = process::now_ms();
        let mut reclaimed = 0;
        for slot in self.inserted_slots().collect::<Vec<_>>() {
            for off in self.held_leases(slot) {
                let word = self.u64_at(off).load(Acquire);
                if word != 0
                    && self.stale(off, word, now)
                    && self
                        .u64_at(off)
                        .compare_exchange(word, 0, AcqRel, Acquire)
                        .is_ok()
                {
                    reclaimed += 1;
                }
            }
        }
        Ok(reclaimed)
    }

    fn info(&self, slot: usize, now: u64) -> DestinationInfo {
        let off = self.slot_off(slot);
        let busy = self
            .held_leases(slot)
            .filter(|&lo| {
                let w = self.u64_at(lo).load(Acquire);
                w != 0 && !self.stale(lo, w, now)
            })
            .count() as u32;
        DestinationInfo {
            number: String::from_utf8_lossy(&self.read_str(off + 8, NUMBER_CAP)).into_owned(),
            capacity: self.u32_at(off + 32).load(Acquire),
            online: self.u32_at(off + 36).load(Acquire) != 0,
            busy,
            offered: self.u64_at(off + 40).load(Relaxed),
            answered: self.u64_at(off + 48).load(Relaxed),
            unanswered: self.u64_at(off + 56).load(Relaxed),
            talk_seconds: self.u64_at(off + 64).load(Relaxed),
        }
    }

    pub fn destination(&self, number: &str) -> Option<DestinationInfo> {
        self.find_destination(number)
            .map(|slot| self.info(slot, process::now_ms()))
    }

    /// Every inserted destination, in slot order. Checks the file first (`check_file`).
    pub fn destinations(&self) -> StateResult<Vec<DestinationInfo>> {
        self.check_file()?;
        let now = process::now_ms();
        Ok(self.inserted_slots().map(|s| self.info(s, now)).collect())
    }

    /// Whether each number is idle now: known, online and with a free (or stale) lease.
    pub fn idle(&self, numbers: &[&str]) -> Vec<bool> {
        let now = process::now_ms();
        numbers
            .iter()
            .map(|n| match self.find_destination(n) {
                None => true,
                Some(slot) => {
                    let off = self.slot_off(slot);
                    let cap = (self.u32_at(off + 32).load(Acquire) as usize).clamp(1, LEASES);
                    self.u32_at(off + 36).load(Acquire) != 0
                        && (0..cap).filter_map(|l| self.lease_off(slot, l)).any(|lo| {
                            let w = self.u64_at(lo).load(Acquire);
                            w == 0 || self.stale(lo, w, now)
                        })
                }
            })
            .collect()
    }

    /// Per-destination counters: offered +1, answered or not answered +1, talk seconds.
    pub fn record_attempt(
        &self,
        number: &str,
        answered: bool,
        talk_seconds: u64,
    ) -> StateResult<()> {
        let off = self.slot_off(self.add_destination(number, None, None)?);
        self.u64_at(off + 40).fetch_add(1, Relaxed);
        self.u64_at(off + if answered { 48 } else { 56 })
            .fetch_add(1, Relaxed);
        self.u64_at(off + 64).fetch_add(talk_seconds, Relaxed);
        Ok(())
    }
}

/// A lease given in seconds as milliseconds (rounded up): positive and finite, under 10⁹ s.
pub fn lease_ms(seconds: f64) -> StateResult<u64> {
    if !(seconds.is_finite() && seconds > 0.0 && seconds < 1e9) {
        return Err(StateError(format!(
            "lease must be positive seconds, not {seconds}"
        )));
    }
    Ok((seconds * 1000.0).ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{temp_state, SMALL};
    use super::*;

    #[test]
    fn leases_in_seconds_become_whole_milliseconds() {
        assert_eq!(lease_ms(600.0), Ok(600_000));
        assert_eq!(lease_ms(0.0001), Ok(1));
        assert_eq!(lease_ms(1.0005), Ok(1001));
        for bad in [0.0, -1.0, 1e9, f64::NAN, f64::INFINITY] {
            let e = lease_ms(bad).unwrap_err();
            assert!(
                e.0.starts_with("lease must be positive seconds"),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            lease_ms(-2.5).unwrap_err().0,
            "lease must be positive seconds, not -2.5"
        );
    }

    #[test]
    fn claim_release_capacity_and_online() {
        let s = temp_state("claims", SMALL);
        let a = s
            .claim(&["13800138000", "02161234567"], "c1", 60_000, false)
            .unwrap()
            .unwrap();
        assert_eq!(a.numbers, ["13800138000"]);
        let b = s
            .claim(&["13800138000", "02161234567"], "c2", 60_000, false)
            .unwrap()
            .unwrap();
        assert_eq!(b.numbers, ["02161234567"]);
        assert!(s
            .claim(&["13800138000", "02161234567"], "c3", 60_000, false)
            .unwrap()
            .is_none());
        assert_eq!(s.idle(&["13800138000", "075512345678"]), [false, true]);
        assert_eq!(s.release(&a, None), 1);
        assert_eq!(s.release(&a, None), 0, "a second release finds nothing");
        s.set_capacity("02161234567", 2).unwrap();
        assert!(s
            .claim(&["02161234567"], "c4", 60_000, false)
            .unwrap()
            .is_some());
        s.set_online("13800138000", false).unwrap();
        assert!(s
            .claim(&["13800138000"], "c5", 60_000, false)
            .unwrap()
            .is_none());
        assert_eq!(s.destination("02161234567").unwrap().busy, 2);
        assert!(s.set_online("99999", true).is_err());
        assert!(s.claim(&["12ab"], "x", 1, false).is_err());
    }

    #[test]
    fn a_trunk_of_capacity_30() {
        let s = temp_state("trunk", SMALL);
        s.add_destination("01065528888", Some(30), None).unwrap();
        let claims: Vec<Claim> = (0..30)
            .map(|i| {
                s.claim(&["01065528888"], &format!("c{i}"), 60_000, false)
                    .unwrap()
                    .unwrap()
            })
            .collect();
        let mut records: Vec<u32> = claims.iter().map(|c| c.leases[0].lease).collect();
        records.sort_unstable();
        assert_eq!(records, (0..30).collect::<Vec<_>>());
        assert!(s
            .claim(&["01065528888"], "c30", 60_000, false)
            .unwrap()
            .is_none());
        assert_eq!(s.idle(&["01065528888"]), [false]);
        assert_eq!(s.destination("01065528888").unwrap().busy, 30);
        assert_eq!(s.release(&claims[17], None), 1);
        let again = s
            .claim(&["01065528888"], "c31", 60_000, false)
            .unwrap()
            .unwrap();
        assert_eq!(again.leases[0].lease, 17);
        assert!(s
            .claim(&["01065528888"], "c32", 60_000, false)
            .unwrap()
            .is_none());
        // Lowering the capacity evicts nobody: the held records still count and are reaped.
        s.set_capacity("01065528888", 1).unwrap();
        assert_eq!(s.destination("01065528888").unwrap().busy, 30);
        let off = s.lease_off(claims[29].leases[0].slot as usize, 29).unwrap();
        s.u64_at(off + 32).store(1, Relaxed); // record 29's deadline long past
        assert_eq!(s.reap().unwrap(), 1);
        for bad in [0, 101] {
            assert!(s.add_destination("01065528888", Some(bad), None).is_err());
            assert!(s.set_capacity("01065528888", bad).is_err());
        }
        s.set_capacity("01065528888", 100).unwrap();
    }

    #[test]
    fn simultaneous_claims_and_keep() {
        let s = temp_state("all", SMALL);
        let all = s
            .claim(&["1001", "1002", "1002", "1003"], "c", 60_000, true)
            .unwrap()
            .unwrap();
        assert_eq!(all.numbers, ["1001", "1002", "1003"]);
        assert_eq!(s.release(&all, Some("1002")), 2);
        assert_eq!(s.destination("1002").unwrap().busy, 1);
    }

    #[test]
    fn a_half_failed_claim_of_all_frees_what_it_took() {
        let s = temp_state("half", SMALL);
        for i in 0..15 {
            s.add_destination(&format!("2{i:03}"), None, None).unwrap();
        }
        s.add_destination("1001", Some(2), None).unwrap(); // 16 of 16: the table is full
        let e = s
            .claim(&["1001", "2000", "3000"], "ring", 600_000, true)
            .unwrap_err();
        assert!(e.0.contains("full"), "{e}");
        assert_eq!(s.destination("1001").unwrap().busy, 0);
        assert_eq!(s.destination("2000").unwrap().busy, 0);
        let c = s.claim(&["2000"], "next", 600_000, false).unwrap().unwrap();
        assert_eq!(c.leases[0].lease, 0, "record 0 is free again");
    }

    #[test]
    fn expired_and_unwritten_leases_are_reclaimed() {
        let s = temp_state("stale", SMALL);
        let c = s.claim(&["1001"], "c", 60_000, false).unwrap().unwrap();
        let off = s.lease_off(c.leases[0].slot as usize, 0).unwrap();
        s.u64_at(off + 32).store(1, Relaxed); // deadline long past
        assert_eq!(s.reap().unwrap(), 1);
        assert_eq!(s.release(&c, None), 0);
        // A claim whose fields were never written, 20 s old: dead between CAS and writes.
        let old = ((process::now_ms() / 1000 - 20) << 32) | 7;
        s.u64_at(off).store(old, Release);
        assert!(s.claim(&["1001"], "d", 60_000, false).unwrap().is_some());
        // A dead pid (pid 0 is never alive) with a live deadline.
        let e = s.claim(&["1002"], "e", 60_000, false).unwrap().unwrap();
        let off = s.lease_off(e.leases[0].slot as usize, 0).unwrap();
        s.u32_at(off + 16).store(0, Relaxed);
        assert_eq!(s.reap().unwrap(), 1);
    }

    #[test]
    fn a_lease_records_its_owners_namespace() {
        let s = temp_state("owner-ns", SMALL);
        let c = s.claim(&["1001"], "c", 60_000, false).unwrap().unwrap();
        let off = s.lease_off(c.leases[0].slot as usize, 0).unwrap();
        assert_eq!(s.u32_at(off + 20).load(Relaxed), process::my_namespace());
        assert_ne!(s.u32_at(off + 20).load(Relaxed), 0);
    }

    #[test]
    fn a_lease_of_another_namespace_waits_for_its_deadline() {
        let s = temp_state("other-ns", SMALL);
        let c = s.claim(&["1001"], "c", 60_000, false).unwrap().unwrap();
        let off = s.lease_off(c.leases[0].slot as usize, 0).unwrap();
        // Pid 0 is never alive here: in this namespace the lease would be stale at once.
        s.u32_at(off + 16).store(0, Relaxed);
        s.u32_at(off + 20)
            .store(process::my_namespace().wrapping_add(1), Relaxed);
        assert_eq!(
            s.reap().unwrap(),
            0,
            "another namespace's pid means nothing here"
        );
        assert_eq!(s.idle(&["1001"]), [false]);
        assert_eq!(s.destination("1001").unwrap().busy, 1);
        assert!(s.claim(&["1001"], "d", 60_000, false).unwrap().is_none());
        // Namespace unknown (0): judged by pid, as before.
        s.u32_at(off + 20).store(0, Relaxed);
        assert_eq!(s.idle(&["1001"]), [true]);
        s.u32_at(off + 20)
            .store(process::my_namespace().wrapping_add(1), Relaxed);
        s.u64_at(off + 32).store(1, Relaxed); // its deadline long past
        assert_eq!(s.idle(&["1001"]), [true]);
        assert_eq!(s.reap().unwrap(), 1);
        assert_eq!(s.release(&c, None), 0);
    }

    #[test]
    fn counters_and_full_table() {
        let s = temp_state("full", SMALL);
        s.record_attempt("1001", true, 30).unwrap();
        s.record_attempt("1001", false, 0).unwrap();
        let d = s.destination("1001").unwrap();
        assert_eq!(
            (d.offered, d.answered, d.unanswered, d.talk_seconds),
            (2, 1, 1, 30)
        );
        for i in 0..15 {
            s.add_destination(&format!("2{i:03}"), None, None).unwrap();
        }
        assert!(s
            .add_destination("3000", None, None)
            .unwrap_err()
            .0
            .contains("full"));
        assert_eq!(s.destinations().unwrap().len(), 16);
    }

    #[test]
    fn records_come_from_the_pool_as_the_capacity_needs_them() {
        let s = temp_state("pool", SMALL);
        let handed = |s: &StateFile| s.u32_at(super::super::OFF_LEASES_HANDED).load(Relaxed);
        let phone = s.add_destination("13800000001", None, None).unwrap();
        assert_eq!(handed(&s), 0, "a phone's one record is in its slot");
        assert_eq!(s.lease_off(phone, 0), Some(s.slot_off(phone) + 112));
        let trunk = s.add_destination("01065528888", Some(30), None).unwrap();
        assert_eq!(
            handed(&s),
            31,
            "a trunk of 30 holds 32: one in its slot, 31 in the pool"
        );
        let off = s.slot_off(trunk);
        assert_eq!(s.u32_at(off + 76).load(Relaxed), 32);
        // Its extents follow each other in the pool.
        let starts: Vec<u32> = (0..5)
            .map(|e| s.u32_at(off + 80 + 4 * e).load(Relaxed))
            .collect();
        assert_eq!(starts, [0, 1, 3, 7, 15]);
        let leases_off = HEADER_LEN + 16 * DEST_LEN;
        assert_eq!(s.lease_off(trunk, 0), Some(off + 112));
        assert_eq!(s.lease_off(trunk, 1), Some(leases_off));
        assert_eq!(s.lease_off(trunk, 31), Some(leases_off + 64 * 30));
        assert_eq!(s.lease_off(trunk, 32), None, "a record it does not hold");
        // Lowering and raising again within what it holds hands nothing.
        s.set_capacity("01065528888", 2).unwrap();
        s.set_capacity("01065528888", 32).unwrap();
        assert_eq!(handed(&s), 31);
        // 99 more would pass the pool's 116: refused, nothing changed.
        s.add_destination("01065529999", None, None).unwrap();
        let e = s.set_capacity("01065529999", 100).unwrap_err().0;
        assert!(
            e.contains("the lease pool is full (116 lease records handed out)")
                && e.contains("more leases"),
            "{e}"
        );
        assert_eq!(handed(&s), 31);
        assert_eq!(s.destination("01065529999").unwrap().capacity, 1);
        let claims: Vec<_> = (0..32)
            .map(|i| {
                s.claim(&["01065528888"], &format!("c{i}"), 60_000, false)
                    .unwrap()
            })
            .collect();
        assert!(claims.iter().all(Option::is_some));
        // A claim naming a record the slot does not hold frees nothing.
        let mut forged = claims[0].clone().unwrap();
        forged.leases[0].lease = 40;
        assert_eq!(s.release(&forged, None), 0);
        assert_eq!(s.destination("01065528888").unwrap().busy, 32);
    }

    #[test]
    fn a_full_pool_refuses_a_larger_capacity_and_changes_nothing() {
        let sizes = super::super::Sizes { leases: 3, ..SMALL };
        let s = temp_state("pool-full", sizes);
        s.add_destination("1001", Some(4), None).unwrap(); // records 1-3 from the pool
        let e = s.add_destination("1002", Some(2), None).unwrap_err().0;
        assert!(e.contains("lease pool is full"), "{e}");
        assert_eq!(
            s.destination("1002").unwrap().capacity,
            1,
            "inserted as a phone"
        );
        // Phones need nothing from the pool.
        for n in ["1003", "1004"] {
            assert!(s.claim(&[n], "c", 60_000, false).unwrap().is_some());
        }
    }
}
