//! The ring group table (magic `RCGR`, layout version 1): a group's destinations, their
//! weights and its distribution settings, read in place.
//!
//! ```text
//! offset  size  field
//!      0    16  common header (see `layout.rs`), magic b"RCGR", version 1
//!     16     2  n, the number of destinations, 1..=100 (u16 LE)
//!     18     1  mode code: 0 sequential, 1 round_robin, 2 random, 3 weighted, 4 simultaneous
//!     19     1  flags: bit 0 idle_first; the other bits 0
//!     20     2  ring timeout in seconds, 1..=600 (u16 LE)
//!     22     2  reserved, 0
//!     24     4  pool length in bytes (u32 LE)
//!     28     4  reserved, 0
//!     32   8×n  entries, one per destination in list order:
//!               u32 offset of the number in the pool, u16 its length, u16 its weight
//! 32+8n  pool   the numbers (ASCII digits), in list order
//!               zero padding to a multiple of 8
//! ```
//!
//! Opening checks the header and the fixed fields (O(1)); a number is checked when read
//! (in bounds, 3–20 ASCII digits), and `verify` checks the CRC and every entry.

use std::collections::HashMap;

use crate::layout::{
    corrupt, le_u16, open_table, verify_table, Bytes, LayoutError, LayoutResult, StringPool,
    TableWriter,
};
use crate::select::{
    select, Mode, Request, Selection, SelectionError, SelectionResult, MAX_DESTINATIONS,
};

pub const MAGIC: &[u8; 4] = b"RCGR";
pub const VERSION: u16 = 1;
const WHAT: &str = "group table";
const FIXED_LEN: usize = 32;
const ENTRY_LEN: usize = 8;
pub const MAX_WEIGHT: i64 = 65535;
pub const MAX_RING_TIMEOUT: i64 = 600;
const FLAG_IDLE_FIRST: u8 = 1;

/// The message for a weight that is not an int in range (`shown` as the caller gave it).
pub fn bad_weight(index: usize, shown: &str) -> SelectionError {
    SelectionError(format!(
        "destination {index}: weight must be an int in 0..{MAX_WEIGHT}, got {shown}"
    ))
}

/// The message for a group of the wrong size.
pub fn bad_count(n: usize) -> SelectionError {
    SelectionError(format!(
        "a group needs 1 to {MAX_DESTINATIONS} destinations, got {n}"
    ))
}

/// An attempt of a call checked: its targets (indexes 0..MAX_DESTINATIONS, at least one) and
/// ring timeout (1..=MAX_RING_TIMEOUT seconds), as stored.
pub fn attempt(targets: &[i64], timeout: i64) -> SelectionResult<(Vec<u8>, u16)> {
    if targets.is_empty() {
        return Err(SelectionError(
            "an attempt needs at least one target".to_string(),
        ));
    }
    let mut out = Vec::with_capacity(targets.len());
    for &t in targets {
        if !(0..MAX_DESTINATIONS as i64).contains(&t) {
            return Err(SelectionError(format!(
                "attempt target {t} is not an index 0..{}",
                MAX_DESTINATIONS - 1
            )));
        }
        out.push(t as u8);
    }
    if !(1..=MAX_RING_TIMEOUT).contains(&timeout) {
        return Err(SelectionError(format!(
            "attempt timeout must be 1 to {MAX_RING_TIMEOUT} seconds, got {timeout}"
        )));
    }
    Ok((out, timeout as u16))
}

fn valid_number(s: &[u8]) -> bool {
    (3..=20).contains(&s.len()) && s.iter().all(u8::is_ascii_digit)
}

/// Validate a group and write its table.
///
/// Checks, in this order: the number of destinations, the mode, the ring timeout, then each
/// destination in list order (its number, its weight, whether it repeats an earlier number).
pub fn build(
    numbers: &[&str],
    weights: &[i64],
    mode: &str,
    idle_first: bool,
    ring_timeout: i64,
) -> SelectionResult<Vec<u8>> {
    let n = numbers.len();
    if n == 0 || n > MAX_DESTINATIONS {
        return Err(bad_count(n));
    }
    if weights.len() != n {
        return Err(SelectionError(format!(
            "{} weights for {n} destinations",
            weights.len()
        )));
    }
    let mode = Mode::from_name(mode)?;
    if !(1..=MAX_RING_TIMEOUT).contains(&ring_timeout) {
        return Err(SelectionError(format!(
            "ring_timeout must be 1 to {MAX_RING_TIMEOUT} seconds, got {ring_timeout}"
        )));
    }
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(n);
    for (i, (&number, &weight)) in numbers.iter().zip(weights).enumerate() {
        if !valid_number(number.as_bytes()) {
            return Err(SelectionError(format!(
                "destination {i}: number '{number}' must be 3 to 20 ASCII digits"
            )));
        }
        if !(0..=MAX_WEIGHT).contains(&weight) {
            return Err(bad_weight(i, &weight.to_string()));
        }
        if let Some(&j) = seen.get(number) {
            return Err(SelectionError(format!(
                "destination {i}: number '{number}' repeats destination {j}"
            )));
        }
        seen.insert(number, i);
    }

    let mut pool = StringPool::default();
    let refs: Vec<(u32, u32)> = numbers.iter().map(|s| pool.add(s)).collect();
    let mut w = TableWriter::new(MAGIC, VERSION);
    w.u16(n as u16)
        .u8(mode.code())
        .u8(if idle_first { FLAG_IDLE_FIRST } else { 0 })
        .u16(ring_timeout as u16)
        .u16(0)
        .u32(pool.blob().len() as u32)
        .u32(0);
    for (&(off, len), &weight) in refs.iter().zip(weights) {
        w.u32(off).u16(len as u16).u16(weight as u16);
    }
    w.bytes(pool.blob());
    Ok(w.finish())
}

/// A group table opened in place.
#[derive(Debug, Clone, Copy)]
pub struct GroupTable<'a> {
    data: &'a [u8],
    n: usize,
    mode: Mode,
    idle_first: bool,
    ring_timeout: u16,
    pool_start: usize,
    pool_len: usize,
}

impl<'a> GroupTable<'a> {
    /// Check the header and the fixed fields (O(1)) and return the table.
    pub fn open(data: &'a [u8]) -> LayoutResult<Self> {
        let data = open_table(data, MAGIC, VERSION, WHAT)?;
        let b = Bytes::new(data, WHAT);
        if data.len() < FIXED_LEN {
            return Err(LayoutError::Truncated {
                what: WHAT,
                need: FIXED_LEN,
                have: data.len(),
            });
        }
        let n = b.u16(16)? as usize;
        if n == 0 || n > MAX_DESTINATIONS {
            return Err(corrupt(WHAT, format!("{n} destinations")));
        }
        let mode = Mode::from_code(b.u8(18)?)
            .ok_or_else(|| corrupt(WHAT, format!("unknown mode code {}", data[18])))?;
        let flags = b.u8(19)?;
        if flags & !FLAG_IDLE_FIRST != 0 {
            return Err(corrupt(WHAT, format!("unknown flags {flags:#04x}")));
        }
        let ring_timeout = b.u16(20)?;
        if ring_timeout == 0 || i64::from(ring_timeout) > MAX_RING_TIMEOUT {
            return Err(corrupt(WHAT, format!("ring timeout {ring_timeout}")));
        }
        let pool_len = b.u32(24)? as usize;
        let pool_start = FIXED_LEN + ENTRY_LEN * n;
        if pool_start + pool_len > data.len() {
            return Err(corrupt(
                WHAT,
                format!(
                    "{n} entries and a pool of {pool_len} bytes do not fit in {} bytes",
                    data.len()
                ),
            ));
        }
        Ok(GroupTable {
            data,
            n,
            mode,
            idle_first: flags & FLAG_IDLE_FIRST != 0,
            ring_timeout,
            pool_start,
            pool_len,
        })
    }

    /// Exactly the table's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn idle_first(&self) -> bool {
        self.idle_first
    }

    pub fn ring_timeout(&self) -> u16 {
        self.ring_timeout
    }

    /// The weight of destination `i < len()` (the entries were bounds-checked at open).
    #[inline]
    pub fn weight(&self, i: usize) -> u16 {
        le_u16(self.data, FIXED_LEN + ENTRY_LEN * i + 6)
    }

    /// Every weight, into `buf`; returns the filled part.
    #[inline]
    pub fn weights_into<'b>(&self, buf: &'b mut [u16; MAX_DESTINATIONS]) -> &'b [u16] {
        for (i, w) in buf[..self.n].iter_mut().enumerate() {
            *w = self.weight(i);
        }
        &buf[..self.n]
    }

    /// The number of destination `i`.
    pub fn number(&self, i: usize) -> LayoutResult<&'a str> {
        let b = Bytes::new(self.data, WHAT);
        if i >= self.n {
            return Err(corrupt(WHAT, format!("no destination {i}")));
        }
        let at = FIXED_LEN + ENTRY_LEN * i;
        let off = b.u32(at)? as usize;
        let len = b.u16(at + 4)? as usize;
        if off + len > self.pool_len {
            return Err(corrupt(
                WHAT,
                format!(
                    "number {i} lies outside the pool of {} bytes",
                    self.pool_len
                ),
            ));
        }
        let raw = b.slice(self.pool_start + off, len)?;
        if !valid_number(raw) {
            return Err(corrupt(WHAT, format!("number {i} is not 3 to 20 digits")));
        }
        b.str(self.pool_start + off, len)
    }

    /// Check the CRC, then every entry: numbers readable, valid and distinct.
    pub fn verify(&self) -> LayoutResult<()> {
        verify_table(self.data, WHAT)?;
        let mut seen = HashMap::with_capacity(self.n);
        for i in 0..self.n {
            if let Some(j) = seen.insert(self.number(i)?, i) {
                return Err(corrupt(WHAT, format!("number {i} repeats destination {j}")));
            }
        }
        Ok(())
    }

    /// The attempts of one call (see `select.rs` for the order and the draws).
    #[inline]
    pub fn select(&self, req: &Request<'_>) -> SelectionResult<Selection> {
        let mut buf = [0u16; MAX_DESTINATIONS];
        let weights = self.weights_into(&mut buf);
        select(self.mode, self.idle_first, weights, req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_checked() {
        assert_eq!(attempt(&[0, 99], 600), Ok((vec![0, 99], 600)));
        assert_eq!(attempt(&[3], 1), Ok((vec![3], 1)));
        let msg = |t: &[i64], s: i64| attempt(t, s).unwrap_err().0;
        assert_eq!(msg(&[], 20), "an attempt needs at least one target");
        assert_eq!(msg(&[100], 20), "attempt target 100 is not an index 0..99");
        assert_eq!(msg(&[-1], 20), "attempt target -1 is not an index 0..99");
        assert_eq!(
            msg(&[1], 0),
            "attempt timeout must be 1 to 600 seconds, got 0"
        );
        assert_eq!(
            msg(&[1], 601),
            "attempt timeout must be 1 to 600 seconds, got 601"
        );
    }

    fn sample() -> Vec<u8> {
        build(
            &["13800138000", "01065529988", "8001"],
            &[3, 0, 65535],
            "weighted",
            true,
            25,
        )
        .unwrap()
    }

    #[test]
    fn round_trip() {
        let t = sample();
        assert_eq!(&t[..4], b"RCGR");
        let g = GroupTable::open(&t).unwrap();
        g.verify().unwrap();
        assert_eq!(g.len(), 3);
        assert_eq!(g.mode(), Mode::Weighted);
        assert!(g.idle_first());
        assert_eq!(g.ring_timeout(), 25);
        assert_eq!(g.number(1).unwrap(), "01065529988");
        assert_eq!(
            (0..3).map(|i| g.weight(i)).collect::<Vec<_>>(),
            [3, 0, 65535]
        );
        let sel = g.select(&Request::default()).unwrap();
        assert_eq!(sel.order().len(), 3);
    }

    #[test]
    fn bad_builds() {
        let ok = ["123", "456"];
        assert!(build(&[], &[], "sequential", false, 20).is_err());
        assert!(build(&ok, &[1, 1], "nope", false, 20).is_err());
        assert!(build(&ok, &[1, 1], "random", false, 0).is_err());
        assert!(build(&ok, &[1, 1], "random", false, 601).is_err());
        assert!(build(&["12", "456"], &[1, 1], "random", false, 20).is_err());
        assert!(build(&["12a4", "456"], &[1, 1], "random", false, 20).is_err());
        assert!(build(&ok, &[1, 65536], "random", false, 20).is_err());
        assert!(build(&ok, &[-1, 1], "random", false, 20).is_err());
        let e = build(&["123", "123"], &[1, 1], "random", false, 20).unwrap_err();
        assert!(e.0.contains("repeats destination 0"), "{e}");
        let many: Vec<String> = (0..101).map(|i| format!("{:04}", i)).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(build(&refs, &[1; 101], "random", false, 20).is_err());
        assert!(build(&refs[..100], &[1; 100], "random", false, 20).is_ok());
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let t = sample();
        for cut in 0..t.len() {
            assert!(GroupTable::open(&t[..cut]).is_err(), "cut {cut}");
        }
        // Flip every byte of the body: opening may succeed, reads must not panic.
        for at in 16..t.len() {
            for bit in [0x01u8, 0x80, 0xff] {
                let mut c = t.clone();
                c[at] ^= bit;
                if let Ok(g) = GroupTable::open(&c) {
                    assert!(g.verify().is_err(), "byte {at}");
                    for i in 0..g.len() {
                        let _ = g.number(i);
                    }
                    let _ = g.select(&Request::default());
                }
            }
        }
        let mut other = t.clone();
        other[4] = 2;
        assert!(matches!(
            GroupTable::open(&other),
            Err(LayoutError::BadVersion { found: 2, .. })
        ));
    }
}
