//! The two pools of a state file (layout in `docs/state-format.md`): lease records handed to
//! destinations and counter blocks handed to 400 numbers, each in extents that double in size,
//! so what a destination or a number holds follows what it uses (a phone holds one record).
//!
//! An owner (a destination slot, a counter row) keeps how many items it holds and the pool
//! index of each extent's first item; a destination keeps its first lease record in its slot
//! (a phone's claim touches one place). Extents are handed out under the file's `flock`, in
//! order, from the pool's count of items handed out in the header; nothing is ever given back.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::{StateError, StateFile, StateResult, OFF_BLOCKS_HANDED, OFF_LEASES_HANDED};

/// One pool's shape: its extents' sizes and where an owner keeps what it holds.
pub(super) struct Pool {
    /// Items in extent 0, 1, … (their sum is the most an owner holds).
    sizes: &'static [u32],
    /// Offset in an owner of its item 0, when the owner holds extent 0 itself (not the pool).
    inline: Option<usize>,
    /// Bytes of an item.
    item_len: usize,
    /// Offset in an owner of its u32 count of items held.
    held: usize,
    /// Offset in an owner of the u32 starts of its extents in the pool (the first pooled one
    /// first).
    starts: usize,
    /// Header offset of the pool's u32 count of items handed out.
    handed: usize,
    /// How the error names a full pool: the pool, its items, the `create` argument for more.
    name: &'static str,
    items: &'static str,
    argument: &'static str,
}

/// Lease records: 1 (in the slot, at 112), then 1, 2, 4, 8, 16, 32, 36 from the pool (100 at
/// most); the count held at 76, the starts of extents 1–7 at 80.
pub(super) const LEASE_POOL: Pool = Pool {
    sizes: &[1, 1, 2, 4, 8, 16, 32, 36],
    inline: Some(112),
    item_len: super::LEASE_LEN,
    held: 76,
    starts: 80,
    handed: OFF_LEASES_HANDED,
    name: "lease",
    items: "lease records",
    argument: "leases",
};

/// Counter blocks of 8 branches: 1, 1, 2, 4, 8, 16 (32 at most, 256 branches); kept at 88
/// and 96 of a counter row.
pub(super) const BLOCK_POOL: Pool = Pool {
    sizes: &[1, 1, 2, 4, 8, 16],
    inline: None,
    item_len: super::BLOCK_LEN,
    held: 88,
    starts: 96,
    handed: OFF_BLOCKS_HANDED,
    name: "counter",
    items: "counter blocks",
    argument: "counter_blocks",
};

/// The extent of an owner's item `i` and the first item of that extent: extent
/// `bit_length(i)` (0 for item 0), the last extent taking every item beyond.
#[inline(always)]
pub(super) fn extent_of(pool: &Pool, i: usize) -> (usize, usize) {
    let e = ((usize::BITS - i.leading_zeros()) as usize).min(pool.sizes.len() - 1);
    (e, if e == 0 { 0 } else { 1 << (e - 1) })
}

impl StateFile {
    /// (lease records, counter blocks) handed out from the pools so far.
    pub fn pool_use(&self) -> (u32, u32) {
        let handed = |pool: &Pool| self.u32_at(pool.handed).load(Acquire);
        (handed(&LEASE_POOL), handed(&BLOCK_POOL))
    }

    /// Items `owner` holds now.
    #[inline(always)]
    pub(super) fn held(&self, pool: &Pool, owner: usize) -> u32 {
        self.u32_at(owner + pool.held).load(Acquire)
    }

    /// Where `owner`'s item `i` lies in the file (`pool` is the pool's offset, `size` its
    /// items), or None when the owner does not hold it (or the file says something impossible:
    /// an index beyond the pool).
    #[inline(always)]
    pub(super) fn item_off(
        &self,
        shape: &Pool,
        owner: usize,
        i: usize,
        pool: usize,
        size: u32,
    ) -> Option<usize> {
        if i >= self.held(shape, owner) as usize {
            return None;
        }
        let (e, base) = extent_of(shape, i);
        if let (Some(inline), 0) = (shape.inline, e) {
            return Some(owner + inline);
        }
        let first = usize::from(shape.inline.is_some());
        let start = self
            .u32_at(owner + shape.starts + 4 * (e - first))
            .load(Relaxed) as usize;
        let index = start + (i - base);
        (index < size as usize).then_some(pool + index * shape.item_len)
    }

    /// Hand `owner` its next extents, in order, until it holds at least `need` items (the
    /// caller holds the file lock). All or nothing: a pool without room for every extent
    /// needed is an error and nothing is changed.
    pub(super) fn hand(&self, pool: &Pool, owner: usize, need: u32, size: u32) -> StateResult<()> {
        let mut held = self.u32_at(owner + pool.held).load(Relaxed);
        // The extents held (their sizes sum to `held`), then those to hand: up to `need`.
        let (mut sum, mut from) = (0, 0);
        while from < pool.sizes.len() && sum + pool.sizes[from] <= held {
            sum += pool.sizes[from];
            from += 1;
        }
        let mut to = from;
        while held + pool.sizes[from..to].iter().sum::<u32>() < need && to < pool.sizes.len() {
            to += 1;
        }
        let first = usize::from(pool.inline.is_some());
        let wanted: u32 = pool.sizes[from.max(first)..to.max(first)].iter().sum();
        let handed = self.u32_at(pool.handed);
        let mut next = handed.load(Relaxed);
        if u64::from(next) + u64::from(wanted) > u64::from(size) {
            return Err(StateError(format!(
                "{}: the {} pool is full ({size} {} handed out): create the state file with \
                 more {}",
                self.path().display(),
                pool.name,
                pool.items,
                pool.argument
            )));
        }
        for e in from..to {
            if e >= first {
                self.u32_at(owner + pool.starts + 4 * (e - first))
                    .store(next, Relaxed);
                next += pool.sizes[e];
                handed.store(next, Relaxed);
            }
            held += pool.sizes[e];
            self.u32_at(owner + pool.held).store(held, Release);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extents_double_and_the_last_takes_the_rest() {
        let lease = |j| extent_of(&LEASE_POOL, j);
        assert_eq!(lease(0), (0, 0));
        assert_eq!(lease(1), (1, 1));
        assert_eq!((lease(2), lease(3)), ((2, 2), (2, 2)));
        assert_eq!((lease(31), lease(32)), ((5, 16), (6, 32)));
        assert_eq!((lease(64), lease(99)), ((7, 64), (7, 64)));
        assert_eq!(LEASE_POOL.sizes.iter().sum::<u32>(), 100);
        let block = |q| extent_of(&BLOCK_POOL, q);
        assert_eq!(
            (block(0), block(1), block(16), block(31)),
            ((0, 0), (1, 1), (5, 16), (5, 16))
        );
        assert_eq!(BLOCK_POOL.sizes.iter().sum::<u32>(), 32);
    }
}
