//! Call memory (V3): the destination that last answered a caller on a 400 number today.
//! Entries are seqlocks: a writer makes the sequence odd, writes, makes it even; a reader that
//! sees it odd or changed takes it as a miss. Nothing is ever locked.

use std::str::FromStr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

use chrono::TimeZone;
use chrono_tz::Tz;

use super::process;
use super::{
    check_number, fnv1a64, Short, StateError, StateFile, StateResult, MEM_LEN, UNWRITTEN_GRACE_S,
};

const PROBES: usize = 8;

/// Days since 1970-01-01 of the local date of `at` (unix seconds) in zone `tz`.
pub fn local_day(at: f64, tz: &str) -> StateResult<i32> {
    let zone = Tz::from_str(tz).map_err(|_| StateError(format!("unknown time zone {tz:?}")))?;
    if !at.is_finite() || at.abs() > 1e13 {
        return Err(StateError(format!("time {at} is out of range")));
    }
    let secs = at.floor() as i64;
    let local = zone
        .timestamp_opt(secs, 0)
        .single()
        .ok_or_else(|| StateError(format!("time {at} is out of range")))?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    Ok((local.date_naive() - epoch).num_days() as i32)
}

struct Entry {
    did: Short,
    caller: Short,
    destination: Short,
    day: i32,
    when: u64,
}

impl StateFile {
    fn mem_entry(&self, i: usize) -> usize {
        self.mem_off + i * MEM_LEN
    }

    /// The entries probed for key hash `h` (before `| 1`): 8 from `h mod M`.
    fn mem_probe(&self, h: u64) -> impl Iterator<Item = usize> + '_ {
        let m = self.sizes.memory as usize;
        let start = (h % m as u64) as usize;
        (0..PROBES.min(m)).map(move |i| self.mem_entry((start + i) % m))
    }

    /// A consistent read of an entry, or None if it is being written or changed meanwhile.
    fn mem_read(&self, off: usize) -> Option<(u64, Entry)> {
        let seq = self.u64_at(off).load(Acquire);
        if seq & 1 == 1 {
            return None;
        }
        let key = self.u64_at(off + 8).load(Relaxed);
        let entry = Entry {
            did: self.read_short(off + 16, 15),
            caller: self.read_short(off + 32, 23),
            destination: self.read_short(off + 56, 23),
            day: self.i32_at(off + 80).load(Relaxed),
            when: self.u64_at(off + 88).load(Relaxed),
        };
        std::sync::atomic::fence(Acquire);
        (self.u64_at(off).load(Relaxed) == seq).then_some((key, entry))
    }

    pub fn remember(
        &self,
        did: &str,
        caller: &str,
        destination: &str,
        at: f64,
        tz: &str,
    ) -> StateResult<()> {
        check_number("400 number", did)?;
        check_number("destination", destination)?;
        if did.len() > 15 || caller.is_empty() || caller.len() > 23 {
            return Err(StateError(format!(
                "number too long to remember: {did:?} / {caller:?}"
            )));
        }
        let day = local_day(at, tz)?;
        let when = (at * 1000.0).max(0.0) as u64;
        let raw = fnv1a64(&[did.as_bytes(), b"\0", caller.as_bytes()]);
        let h = raw | 1;
        let now_s = process::now_ms() / 1000;
        // Same key first, then an empty or earlier-day entry, then the oldest.
        let mut best: Option<(u8, u64, usize)> = None;
        for off in self.mem_probe(raw) {
            let rank = match self.mem_read(off) {
                None => {
                    let seq = self.u64_at(off).load(Acquire);
                    if seq & 1 == 1 && now_s <= (seq >> 32) + UNWRITTEN_GRACE_S {
                        continue; // someone is writing it now
                    }
                    (1, 0)
                }
                Some((0, _)) => (1, 0),
                Some((k, e))
                    if k == h
                        && e.did.as_bytes() == did.as_bytes()
                        && e.caller.as_bytes() == caller.as_bytes() =>
                {
                    (0, 0)
                }
                Some((_, e)) if e.day < day => (1, e.when),
                Some((_, e)) => (2, e.when),
            };
            if best.is_none_or(|(r, w, _)| (rank.0, rank.1) < (r, w)) {
                best = Some((rank.0, rank.1, off));
            }
        }
        let Some((_, _, off)) = best else {
            return Ok(()); // every probed entry is being written: a memory is a hint, drop it
        };
        let seq = self.u64_at(off).load(Acquire);
        let low = seq & 0xFFFF_FFFF;
        let writing = (now_s << 32) | ((low | 1) & 0xFFFF_FFFF);
        if self
            .u64_at(off)
            .compare_exchange(seq, writing, AcqRel, Acquire)
            .is_err()
        {
            return Ok(()); // lost a race with another writer of this entry: theirs stands
        }
        self.u64_at(off + 8).store(h, Relaxed);
        self.write_str(off + 16, did.as_bytes(), 15);
        self.write_str(off + 32, caller.as_bytes(), 23);
        self.write_str(off + 56, destination.as_bytes(), 23);
        self.i32_at(off + 80).store(day, Relaxed);
        self.u64_at(off + 88).store(when, Relaxed);
        let done = (now_s << 32) | (((low | 1) + 1) & 0xFFFF_FFFF);
        self.u64_at(off).store(done, Release);
        Ok(())
    }

    /// Today's last answering destination of this caller on this number, if any.
    pub fn recall(
        &self,
        did: &str,
        caller: &str,
        at: f64,
        tz: &str,
    ) -> StateResult<Option<String>> {
        let day = local_day(at, tz)?;
        let raw = fnv1a64(&[did.as_bytes(), b"\0", caller.as_bytes()]);
        let h = raw | 1;
        let mut found: Option<(u64, Short)> = None;
        for off in self.mem_probe(raw) {
            if let Some((k, e)) = self.mem_read(off) {
                let mine = k == h
                    && e.day == day
                    && e.did.as_bytes() == did.as_bytes()
                    && e.caller.as_bytes() == caller.as_bytes();
                if mine && found.as_ref().is_none_or(|(w, _)| e.when > *w) {
                    found = Some((e.when, e.destination));
                }
            }
        }
        Ok(found.map(|(_, d)| String::from_utf8_lossy(d.as_bytes()).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{temp_state, SMALL};
    use super::*;

    // 2026-11-24 23:59:00 and 2026-11-25 00:01:00 in Asia/Shanghai (UTC+8).
    const BEFORE_MIDNIGHT: f64 =
        1_764_000_000.0 - 1_764_000_000.0 % 86_400.0 + 16.0 * 3600.0 - 60.0;

    #[test]
    fn remembers_until_midnight_in_the_zone() {
        let s = temp_state("memory", SMALL);
        s.remember(
            "4008001234",
            "13800138000",
            "02161234567",
            BEFORE_MIDNIGHT,
            "Asia/Shanghai",
        )
        .unwrap();
        let got = |at: f64| {
            s.recall("4008001234", "13800138000", at, "Asia/Shanghai")
                .unwrap()
        };
        assert_eq!(got(BEFORE_MIDNIGHT + 30.0).as_deref(), Some("02161234567"));
        assert_eq!(got(BEFORE_MIDNIGHT + 120.0), None);
        assert_eq!(
            s.recall(
                "4008001234",
                "13900000000",
                BEFORE_MIDNIGHT,
                "Asia/Shanghai"
            )
            .unwrap(),
            None
        );
        assert!(local_day(0.0, "Mars/Olympus").is_err());
    }

    #[test]
    fn a_full_table_gives_way_to_the_newest() {
        let s = temp_state("memfull", SMALL);
        for i in 0..40 {
            let caller = format!("1380000{i:04}");
            s.remember(
                "4008001234",
                &caller,
                "1001",
                BEFORE_MIDNIGHT - 1000.0 + i as f64,
                "Asia/Shanghai",
            )
            .unwrap();
        }
        let last = s
            .recall(
                "4008001234",
                "13800000039",
                BEFORE_MIDNIGHT,
                "Asia/Shanghai",
            )
            .unwrap();
        assert_eq!(last.as_deref(), Some("1001"));
        let first = s
            .recall(
                "4008001234",
                "13800000000",
                BEFORE_MIDNIGHT,
                "Asia/Shanghai",
            )
            .unwrap();
        assert_eq!(first, None, "the oldest gave way");
    }
}
