//! Digit trie: longest-prefix match over digit strings to small integer ids.
//!
//! Used by area plans, blacklists (exact numbers and prefixes) and extension maps. Each key
//! is either a *prefix* entry (matches every input that starts with it) or an *exact* entry
//! (matches only the whole input). A lookup returns the value of the longest match.
//!
//! Layout (magic `RCTR`, version 1), after the common header:
//! ```text
//!  16  u32  node count (>= 1, node 0 is the root)
//!  20  u32  entry count
//!  24  nodes, 16 bytes each, breadth-first so that a node's children are contiguous:
//!        u16 child mask (bit d set: a child for digit d), u16 0,
//!        u32 index of the first child, u32 prefix value, u32 exact value (NONE = u32::MAX)
//! ```

use std::collections::BTreeMap;

use crate::layout::{le_u16, le_u32, open_table, Bytes, LayoutResult, TableWriter};

pub const MAGIC: &[u8; 4] = b"RCTR";
pub const VERSION: u16 = 1;
pub const NONE: u32 = u32::MAX;
pub const MAX_KEY_LEN: usize = 64;
const NODES_OFF: usize = 24;
const NODE_LEN: usize = 16;

/// Why a trie cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrieBuildError {
    NotDigits(String),
    TooLong(String),
    Duplicate(String),
    BadValue(String, u64),
}

impl std::fmt::Display for TrieBuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrieBuildError::NotDigits(k) => write!(f, "key {k:?} is not a string of digits 0-9"),
            TrieBuildError::TooLong(k) => {
                write!(f, "key {k:?} is longer than {MAX_KEY_LEN} digits")
            }
            TrieBuildError::Duplicate(k) => write!(f, "key {k:?} is given twice"),
            TrieBuildError::BadValue(k, v) => {
                write!(f, "value {v} of key {k:?} is out of range 0..{}", NONE - 1)
            }
        }
    }
}

#[derive(Default)]
struct BuildNode {
    children: BTreeMap<u8, usize>,
    prefix: u32,
    exact: u32,
}

/// Build a trie table from prefix entries and exact entries.
pub fn build(
    prefixes: &[(String, u64)],
    exacts: &[(String, u64)],
) -> Result<Vec<u8>, TrieBuildError> {
    let mut nodes: Vec<BuildNode> = vec![BuildNode {
        prefix: NONE,
        exact: NONE,
        ..Default::default()
    }];
    for (entries, exact) in [(prefixes, false), (exacts, true)] {
        for (key, value) in entries {
            if key.len() > MAX_KEY_LEN {
                return Err(TrieBuildError::TooLong(key.clone()));
            }
            if !key.bytes().all(|b| b.is_ascii_digit()) {
                return Err(TrieBuildError::NotDigits(key.clone()));
            }
            if *value >= NONE as u64 {
                return Err(TrieBuildError::BadValue(key.clone(), *value));
            }
            let mut at = 0;
            for b in key.bytes() {
                let d = b - b'0';
                at = match nodes[at].children.get(&d) {
                    Some(&n) => n,
                    None => {
                        nodes.push(BuildNode {
                            prefix: NONE,
                            exact: NONE,
                            ..Default::default()
                        });
                        let n = nodes.len() - 1;
                        nodes[at].children.insert(d, n);
                        n
                    }
                };
            }
            let slot = if exact {
                &mut nodes[at].exact
            } else {
                &mut nodes[at].prefix
            };
            if *slot != NONE {
                return Err(TrieBuildError::Duplicate(key.clone()));
            }
            *slot = *value as u32;
        }
    }
    // Breadth-first renumbering: children of a node become contiguous, in digit order.
    let mut order = vec![0usize];
    let mut i = 0;
    while i < order.len() {
        let n = order[i];
        order.extend(nodes[n].children.values().copied());
        i += 1;
    }
    let mut new_index = vec![0u32; nodes.len()];
    for (pos, &n) in order.iter().enumerate() {
        new_index[n] = pos as u32;
    }
    let mut w = TableWriter::new(MAGIC, VERSION);
    w.u32(order.len() as u32)
        .u32((prefixes.len() + exacts.len()) as u32);
    for &n in &order {
        let node = &nodes[n];
        let mask = node.children.keys().fold(0u16, |m, &d| m | (1 << d));
        let first = node
            .children
            .values()
            .next()
            .map(|&c| new_index[c])
            .unwrap_or(0);
        w.u16(mask)
            .u16(0)
            .u32(first)
            .u32(node.prefix)
            .u32(node.exact);
    }
    Ok(w.finish())
}

/// A trie table read in place.
#[derive(Clone, Copy)]
pub struct TrieView<'a> {
    data: &'a [u8],
    nodes: u32,
    entries: u32,
}

/// The result of a longest-prefix lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub value: u32,
    /// How many leading digits of the input the matched key covers.
    pub len: usize,
}

impl<'a> TrieView<'a> {
    /// Check the header and the node count; O(1).
    pub fn open(data: &'a [u8]) -> LayoutResult<Self> {
        let table = open_table(data, MAGIC, VERSION, "trie")?;
        let b = Bytes::new(table, "trie");
        let nodes = b.u32(16)?;
        let entries = b.u32(20)?;
        if nodes == 0 {
            return Err(crate::layout::corrupt("trie", "no root node"));
        }
        b.slice(NODES_OFF, nodes as usize * NODE_LEN)?;
        Ok(TrieView {
            data: table,
            nodes,
            entries,
        })
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    pub fn entries(&self) -> u32 {
        self.entries
    }

    #[inline(always)]
    fn node(&self, i: u32) -> usize {
        NODES_OFF + i as usize * NODE_LEN
    }

    /// Longest match of `key`: prefix entries along the path, the exact entry at its end.
    /// Walking stops at the first byte that is not a digit (an exact entry then cannot match).
    #[inline]
    pub fn longest(&self, key: &[u8]) -> Option<Match> {
        let d = self.data;
        let mut best = None;
        let mut at = 0u32;
        let mut depth = 0usize;
        loop {
            let off = self.node(at);
            let prefix = le_u32(d, off + 8);
            if prefix != NONE {
                best = Some(Match {
                    value: prefix,
                    len: depth,
                });
            }
            if depth == key.len() {
                let exact = le_u32(d, off + 12);
                if exact != NONE {
                    best = Some(Match {
                        value: exact,
                        len: depth,
                    });
                }
                return best;
            }
            let c = key[depth].wrapping_sub(b'0');
            if c > 9 {
                return best;
            }
            let mask = le_u16(d, off);
            if mask & (1 << c) == 0 {
                return best;
            }
            let rank = (mask & ((1u16 << c) - 1)).count_ones();
            let next = le_u32(d, off + 4).wrapping_add(rank);
            if next >= self.nodes || next == 0 {
                // Corrupt links point outside the table or back at the root: stop, never loop.
                return best;
            }
            at = next;
            depth += 1;
        }
    }

    /// The value stored under exactly `key` (an exact entry first, else a prefix entry).
    pub fn get(&self, key: &[u8]) -> Option<u32> {
        match self.longest(key) {
            Some(m) if m.len == key.len() => Some(m.value),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(v: &[(&str, u64)]) -> Vec<(String, u64)> {
        v.iter().map(|(k, x)| (k.to_string(), *x)).collect()
    }

    #[test]
    fn longest_prefix_and_exact() {
        let t = build(
            &entries(&[("010", 1), ("0755", 2), ("075", 3), ("", 9)]),
            &entries(&[("13800138000", 7), ("0755", 8)]),
        )
        .unwrap();
        let v = TrieView::open(&t).unwrap();
        assert_eq!(v.longest(b"01012345678"), Some(Match { value: 1, len: 3 }));
        assert_eq!(v.longest(b"075512345678"), Some(Match { value: 2, len: 4 }));
        assert_eq!(v.longest(b"0756"), Some(Match { value: 3, len: 3 }));
        assert_eq!(v.longest(b"0755"), Some(Match { value: 8, len: 4 }));
        assert_eq!(v.longest(b"13800138000"), Some(Match { value: 7, len: 11 }));
        assert_eq!(v.longest(b"138001380001"), Some(Match { value: 9, len: 0 }));
        assert_eq!(v.longest(b"x"), Some(Match { value: 9, len: 0 }));
        assert_eq!(v.get(b"075"), Some(3));
        assert_eq!(v.get(b"07"), None);
        assert_eq!(v.entries(), 6);
    }

    #[test]
    fn empty_trie_matches_nothing() {
        let t = build(&[], &[]).unwrap();
        let v = TrieView::open(&t).unwrap();
        assert_eq!(v.longest(b"123"), None);
        assert_eq!(v.longest(b""), None);
    }

    #[test]
    fn build_errors() {
        assert_eq!(
            build(&entries(&[("12a", 1)]), &[]).unwrap_err(),
            TrieBuildError::NotDigits("12a".into())
        );
        assert!(matches!(
            build(&entries(&[("1", 1), ("1", 2)]), &[]),
            Err(TrieBuildError::Duplicate(_))
        ));
        assert!(matches!(
            build(&entries(&[("1", u32::MAX as u64)]), &[]),
            Err(TrieBuildError::BadValue(..))
        ));
        assert!(matches!(
            build(&entries(&[(&"1".repeat(65), 1)]), &[]),
            Err(TrieBuildError::TooLong(_))
        ));
    }

    #[test]
    fn corrupt_links_never_panic_or_loop() {
        let mut t = build(&entries(&[("123", 1), ("129", 2)]), &[]).unwrap();
        // Point every first-child link somewhere wild and look up through it.
        for i in 0..4usize {
            let off = NODES_OFF + i * NODE_LEN + 4;
            if off + 4 <= t.len() {
                t[off..off + 4].copy_from_slice(&(1_000_000u32 + i as u32).to_le_bytes());
            }
        }
        let v = TrieView::open(&t).unwrap();
        let _ = v.longest(b"1234567890");
        // A node count larger than the buffer is refused at open.
        t[16..20].copy_from_slice(&1000u32.to_le_bytes());
        assert!(TrieView::open(&t).is_err());
    }
}
