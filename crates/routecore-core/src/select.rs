//! Ring selection (features B9 idle-first and V3 call memory): the ordered attempts of one call
//! to a group of destinations.
//!
//! The pure-Python reference `routecore/py/select.py` implements the same steps, so both
//! backends give the same attempts for the same seed.
//!
//! # The order of one call
//!
//! 1. **Preferred** (call memory): if `preferred` is given and that destination is idle, the
//!    first attempt rings it alone and it is left out of what follows. A busy preferred
//!    destination is not put first: it keeps its normal place in the mode's order.
//! 2. **Base order** of the others: list order, except `round_robin`, which starts after
//!    `cursor` (the index chosen last time; `None` starts at 0) and wraps.
//! 3. **Parts**: with `idle_first`, the base order is split (stably) into the idle
//!    destinations, then the busy ones; otherwise it is one part.
//! 4. Each part, in turn, is ordered by the **mode**; one generator serves every part:
//!    - `sequential`, `round_robin`: the base order, one attempt per destination; no draws.
//!    - `random`: forward Fisher–Yates over the part of `k` destinations: for `i` in `0..k-1`,
//!      `j = i + below(k - i)`, swap `i` and `j`. Draws: `k - 1` calls, `below(k)`, …,
//!      `below(2)`; the first draw picks the part's first destination.
//!    - `weighted`: destinations of positive weight, in list order, are drawn without
//!      replacement: while more than one remains, `r = below(sum of their weights)` and the
//!      pick is the first one, walking the remaining in list order, whose weight exceeds `r`
//!      (subtracting each weight passed). The last positive one follows without a draw, then
//!      the weight-0 destinations in list order. Draws: (positive ones in the part) − 1.
//!    - `simultaneous`: one attempt ringing the whole part, in base order; no draws.
//!
//! Empty attempts are never produced; every index of the group appears in exactly one attempt.
//! Every `below` call may consume more than one 64-bit output of SplitMix64 (rejection), the
//! same on both backends.

use std::fmt;

use crate::rng::SplitMix64;

/// The largest group (feature B1: at most 100 destinations per 400 number).
pub const MAX_DESTINATIONS: usize = 100;

/// A group or a selection request that is not valid; the message names the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionError(pub String);

impl fmt::Display for SelectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SelectionError {}

pub type SelectionResult<T> = Result<T, SelectionError>;

/// How a group distributes its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Sequential = 0,
    RoundRobin = 1,
    Random = 2,
    Weighted = 3,
    Simultaneous = 4,
}

/// The mode names, in the order of their codes in a group table.
pub const MODES: [&str; 5] = [
    "sequential",
    "round_robin",
    "random",
    "weighted",
    "simultaneous",
];

impl Mode {
    pub const ALL: [Mode; 5] = [
        Mode::Sequential,
        Mode::RoundRobin,
        Mode::Random,
        Mode::Weighted,
        Mode::Simultaneous,
    ];

    pub fn name(self) -> &'static str {
        MODES[self as usize]
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Mode> {
        Mode::ALL.get(code as usize).copied()
    }

    pub fn from_name(name: &str) -> SelectionResult<Mode> {
        match MODES.iter().position(|m| *m == name) {
            Some(i) => Ok(Mode::ALL[i]),
            None => Err(SelectionError(format!(
                "unknown mode '{name}': choose one of {}",
                MODES.join(", ")
            ))),
        }
    }
}

/// The attempts of one call: the destinations' indices in ringing order, cut into attempts.
///
/// Fixed-size, on the stack: selecting allocates nothing. Every mode but `simultaneous` gives
/// one attempt per destination; `simultaneous` gives at most three (preferred, idle, busy).
#[derive(Clone)]
pub struct Selection {
    order: [u8; MAX_DESTINATIONS],
    len: u8,
    /// One attempt per index of `order`; otherwise the attempts end at `ends[..n_ends]`.
    singles: bool,
    ends: [u8; 3],
    n_ends: u8,
}

impl Selection {
    /// Every index, in ringing order.
    pub fn order(&self) -> &[u8] {
        &self.order[..self.len as usize]
    }

    /// True when every attempt rings one destination (then attempt `a` is `order()[a]`).
    pub fn singles(&self) -> bool {
        self.singles
    }

    /// The number of attempts.
    pub fn len(&self) -> usize {
        if self.singles {
            self.len as usize
        } else {
            self.n_ends as usize
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The targets of attempt `a` (`a < len()`).
    pub fn attempt(&self, a: usize) -> &[u8] {
        if self.singles {
            return &self.order[a..a + 1];
        }
        let start = if a == 0 { 0 } else { self.ends[a - 1] as usize };
        &self.order[start..self.ends[a] as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map(move |a| self.attempt(a))
    }
}

/// What one call asks of a group.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    pub seed: u64,
    /// One flag per destination, true when idle; `None` means all idle.
    pub idle: Option<&'a [bool]>,
    /// The index chosen last time (round robin); ignored by the other modes.
    pub cursor: Option<i64>,
    /// The destination that last answered this caller today (call memory).
    pub preferred: Option<i64>,
}

fn index_in_range(what: &str, value: Option<i64>, n: usize) -> SelectionResult<Option<usize>> {
    match value {
        None => Ok(None),
        Some(v) if v >= 0 && (v as u64) < n as u64 => Ok(Some(v as usize)),
        Some(v) => Err(out_of_range(what, &v.to_string(), n)),
    }
}

/// The message for a cursor or preferred index outside the group (`shown` as the caller gave it).
pub fn out_of_range(what: &str, shown: &str, n: usize) -> SelectionError {
    SelectionError(format!(
        "{what} {shown} is out of range for a group of {n} destinations"
    ))
}

/// The message for idle flags that do not match the group.
pub fn bad_idle_len(len: usize, n: usize) -> SelectionError {
    SelectionError(format!(
        "idle has {len} flags for a group of {n} destinations"
    ))
}

/// Order one call's attempts over destinations of the given `weights` (see the module docs).
pub fn select(
    mode: Mode,
    idle_first: bool,
    weights: &[u16],
    req: &Request<'_>,
) -> SelectionResult<Selection> {
    let n = weights.len();
    if n == 0 || n > MAX_DESTINATIONS {
        return Err(SelectionError(format!(
            "a group needs 1 to {MAX_DESTINATIONS} destinations, got {n}"
        )));
    }
    if let Some(idle) = req.idle {
        if idle.len() != n {
            return Err(bad_idle_len(idle.len(), n));
        }
    }
    let cursor = index_in_range("cursor", req.cursor, n)?;
    let preferred = index_in_range("preferred", req.preferred, n)?;
    let all_idle = [true; MAX_DESTINATIONS];
    let idle: &[bool] = match req.idle {
        Some(f) => f,
        None => &all_idle[..n],
    };

    let mut order = [0u8; MAX_DESTINATIONS];
    let mut len = 0usize;
    let pinned = preferred.filter(|&p| idle[p]);
    if let Some(p) = pinned {
        order[0] = p as u8;
        len = 1;
    }

    // Base order, split into the idle part (written in place) and the busy part.
    let start = match (mode, cursor) {
        (Mode::RoundRobin, Some(c)) => (c + 1) % n,
        _ => 0,
    };
    let skip = pinned.unwrap_or(usize::MAX);
    let mut busy = [0u8; MAX_DESTINATIONS];
    let mut n_busy = 0usize;
    for i in (start..n).chain(0..start) {
        if i == skip {
            continue;
        }
        if idle_first && !idle[i] {
            busy[n_busy] = i as u8;
            n_busy += 1;
        } else {
            order[len] = i as u8;
            len += 1;
        }
    }
    let idle_end = len;
    order[len..len + n_busy].copy_from_slice(&busy[..n_busy]);
    len += n_busy;

    let mut sel = Selection {
        order,
        len: len as u8,
        singles: mode != Mode::Simultaneous,
        ends: [0; 3],
        n_ends: 0,
    };
    if pinned.is_some() {
        sel.ends[0] = 1;
        sel.n_ends = 1;
    }
    let mut rng = SplitMix64::new(req.seed);
    for (a, b) in [(pinned.is_some() as usize, idle_end), (idle_end, len)] {
        if a == b {
            continue;
        }
        let part = &mut sel.order[a..b];
        match mode {
            Mode::Sequential | Mode::RoundRobin => {}
            Mode::Random => shuffle(part, &mut rng),
            Mode::Weighted => weighted(part, weights, &mut rng),
            Mode::Simultaneous => {
                sel.ends[sel.n_ends as usize] = b as u8;
                sel.n_ends += 1;
            }
        }
    }
    Ok(sel)
}

/// Forward Fisher–Yates: `k - 1` draws, `below(k)` first.
fn shuffle(part: &mut [u8], rng: &mut SplitMix64) {
    let k = part.len();
    for i in 0..k.saturating_sub(1) {
        let j = i + rng.below((k - i) as u64) as usize;
        part.swap(i, j);
    }
}

/// The size of the Fenwick tree of [`weighted`]: a power of two above `MAX_DESTINATIONS`.
const TREE: usize = 128;

/// Weighted draws without replacement (see the module docs), in O(k log k).
///
/// A Fenwick tree over the positive-weight destinations in list order finds the first one
/// whose cumulative weight exceeds `r`: exactly the walk of the reference, where a removed
/// destination counts as weight 0. The tree spans 128 slots (the unused ones weigh 0), so the
/// descent is seven branch-free steps.
fn weighted(part: &mut [u8], weights: &[u16], rng: &mut SplitMix64) {
    let mut pos = [u8::MAX; TREE];
    let mut zeros = [0u8; MAX_DESTINATIONS];
    let (mut n_pos, mut n_zero) = (0usize, 0usize);
    // Fenwick tree, 1-based: tree[x] sums slots (x - lowbit(x), x]; tree[0] is unused.
    let mut tree = [0u32; TREE];
    let mut total: u32 = 0;
    for &i in part.iter() {
        let w = weights[i as usize];
        if w == 0 {
            zeros[n_zero] = i;
            n_zero += 1;
        } else {
            pos[n_pos] = i;
            n_pos += 1;
            tree[n_pos] = u32::from(w);
            total += u32::from(w);
        }
    }
    for x in 1..TREE {
        let parent = x + (x & x.wrapping_neg());
        if parent < TREE {
            tree[parent] += tree[x];
        }
    }
    let mut out = 0;
    for _ in 1..n_pos {
        // r < total, so the descent ends on a slot below n_pos that still has weight.
        let mut r = rng.below(u64::from(total)) as u32;
        let mut x = 0usize;
        let mut step = TREE / 2;
        while step > 0 {
            let t = tree[x + step];
            let take = t <= r;
            x += step * usize::from(take);
            r -= t * u32::from(take);
            step >>= 1;
        }
        let chosen = pos[x];
        let Some(&w) = weights.get(chosen as usize) else {
            break; // unreachable: r < total always lands on a destination left
        };
        let w = u32::from(w);
        total -= w;
        // The slots above x + 1, in at most seven steps; a step past the tree subtracts 0
        // from the unused slot 0 (a fixed trip count: no mispredicted loop exit).
        let mut y = x + 1;
        for _ in 0..TREE.trailing_zeros() {
            let inside = y < TREE;
            tree[y % TREE] -= w * u32::from(inside);
            y += y & y.wrapping_neg();
        }
        part[out] = chosen;
        out += 1;
        pos[x] = u8::MAX; // removed
    }
    // The last positive one: the only one not removed.
    for &i in pos[..n_pos].iter().filter(|&&i| i != u8::MAX) {
        part[out] = i;
        out += 1;
    }
    part[out..out + n_zero].copy_from_slice(&zeros[..n_zero]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempts(sel: &Selection) -> Vec<Vec<u8>> {
        sel.iter().map(|a| a.to_vec()).collect()
    }

    fn singles(v: &[u8]) -> Vec<Vec<u8>> {
        v.iter().map(|&i| vec![i]).collect()
    }

    fn run(mode: Mode, idle_first: bool, w: &[u16], req: Request<'_>) -> Vec<Vec<u8>> {
        attempts(&select(mode, idle_first, w, &req).unwrap())
    }

    /// The plain walk of the reference, to check the Fenwick tree against.
    fn weighted_naive(part: &[u8], weights: &[u16], rng: &mut SplitMix64) -> Vec<u8> {
        let mut rem: Vec<u8> = part
            .iter()
            .copied()
            .filter(|&i| weights[i as usize] > 0)
            .collect();
        let zeros: Vec<u8> = part
            .iter()
            .copied()
            .filter(|&i| weights[i as usize] == 0)
            .collect();
        let mut total: u64 = rem.iter().map(|&i| u64::from(weights[i as usize])).sum();
        let mut out = vec![];
        while rem.len() > 1 {
            let mut r = rng.below(total);
            let mut at = 0;
            for (k, &i) in rem.iter().enumerate() {
                let w = u64::from(weights[i as usize]);
                if r < w {
                    at = k;
                    break;
                }
                r -= w;
            }
            let i = rem.remove(at);
            total -= u64::from(weights[i as usize]);
            out.push(i);
        }
        out.extend(rem);
        out.extend(zeros);
        out
    }

    #[test]
    fn sequential_is_list_order() {
        let w = [1u16; 4];
        assert_eq!(
            run(Mode::Sequential, false, &w, Request::default()),
            singles(&[0, 1, 2, 3])
        );
    }

    #[test]
    fn round_robin_starts_after_cursor_and_wraps() {
        let w = [1u16; 4];
        let req = Request {
            cursor: Some(2),
            ..Request::default()
        };
        assert_eq!(
            run(Mode::RoundRobin, false, &w, req),
            singles(&[3, 0, 1, 2])
        );
        let req = Request {
            cursor: Some(3),
            ..Request::default()
        };
        assert_eq!(
            run(Mode::RoundRobin, false, &w, req),
            singles(&[0, 1, 2, 3])
        );
    }

    #[test]
    fn simultaneous_idle_first_and_preferred() {
        let w = [1u16; 5];
        let idle = [true, false, true, false, true];
        assert_eq!(
            run(Mode::Simultaneous, false, &w, Request::default()),
            vec![vec![0, 1, 2, 3, 4]]
        );
        let req = Request {
            idle: Some(&idle),
            preferred: Some(4),
            ..Request::default()
        };
        assert_eq!(
            run(Mode::Simultaneous, true, &w, req),
            vec![vec![4], vec![0, 2], vec![1, 3]]
        );
        // A busy preferred destination keeps its place.
        let req = Request {
            idle: Some(&idle),
            preferred: Some(1),
            ..Request::default()
        };
        assert_eq!(
            run(Mode::Simultaneous, true, &w, req),
            vec![vec![0, 2, 4], vec![1, 3]]
        );
        let all_busy = [false; 5];
        let req = Request {
            idle: Some(&all_busy),
            ..Request::default()
        };
        assert_eq!(
            run(Mode::Simultaneous, true, &w, req),
            vec![vec![0, 1, 2, 3, 4]]
        );
    }

    #[test]
    fn weighted_zero_weights_last() {
        let w = [0u16, 5, 0, 7, 1];
        for seed in 0..50 {
            let req = Request {
                seed,
                ..Request::default()
            };
            let got = run(Mode::Weighted, false, &w, req);
            assert_eq!(&got[3..], &singles(&[0, 2])[..]);
        }
    }

    #[test]
    fn fenwick_matches_the_plain_walk() {
        let mut g = SplitMix64::new(7);
        for case in 0..500u64 {
            let n = 1 + g.below(100) as usize;
            let w: Vec<u16> = (0..n)
                .map(|_| {
                    if g.below(4) == 0 {
                        0
                    } else {
                        g.below(65536) as u16
                    }
                })
                .collect();
            let part: Vec<u8> = (0..n as u8).collect();
            let mut a = part.clone();
            let mut r1 = SplitMix64::new(case);
            weighted(&mut a, &w, &mut r1);
            let mut r2 = SplitMix64::new(case);
            let b = weighted_naive(&part, &w, &mut r2);
            assert_eq!(a, b, "case {case}");
            assert_eq!(r1.next_u64(), r2.next_u64(), "same draws, case {case}");
        }
    }

    #[test]
    fn every_index_exactly_once() {
        let mut g = SplitMix64::new(1);
        for seed in 0..300u64 {
            let n = 1 + g.below(100) as usize;
            let w: Vec<u16> = (0..n).map(|_| g.below(4) as u16).collect();
            let idle: Vec<bool> = (0..n).map(|_| g.below(2) == 0).collect();
            for mode in Mode::ALL {
                for idle_first in [false, true] {
                    let req = Request {
                        seed,
                        idle: Some(&idle),
                        cursor: Some(g.below(n as u64) as i64),
                        preferred: Some(g.below(n as u64) as i64),
                    };
                    let sel = select(mode, idle_first, &w, &req).unwrap();
                    let mut seen = vec![0; n];
                    for a in sel.iter() {
                        assert!(!a.is_empty());
                        for &i in a {
                            seen[i as usize] += 1;
                        }
                    }
                    assert!(seen.iter().all(|&c| c == 1));
                }
            }
        }
    }

    #[test]
    fn random_consumes_k_minus_one_draws() {
        let w = [1u16; 6];
        let req = Request {
            seed: 99,
            ..Request::default()
        };
        let got = run(Mode::Random, false, &w, req);
        let mut rng = SplitMix64::new(99);
        let mut v: Vec<u8> = (0..6).collect();
        for i in 0..5 {
            let j = i + rng.below((6 - i) as u64) as usize;
            v.swap(i, j);
        }
        assert_eq!(got, singles(&v));
    }

    #[test]
    fn bad_requests() {
        let w = [1u16; 3];
        let idle = [true; 2];
        let bad = [
            Request {
                idle: Some(&idle),
                ..Request::default()
            },
            Request {
                cursor: Some(3),
                ..Request::default()
            },
            Request {
                preferred: Some(-1),
                ..Request::default()
            },
        ];
        for req in bad {
            assert!(select(Mode::Sequential, false, &w, &req).is_err());
        }
        assert!(select(Mode::Sequential, false, &[], &Request::default()).is_err());
        assert!(Mode::from_name("nope").is_err());
        assert_eq!(Mode::from_name("weighted").unwrap(), Mode::Weighted);
    }
}
