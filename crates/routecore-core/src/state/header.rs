//! The header of a state file (layout in `docs/state-format.md`): the sizes fixed at creation,
//! writing a header for them, and checking one read back, every problem named.

use std::fmt;

use super::{
    BLOCK_BRANCHES, BLOCK_LEN, BRANCHES, CURSORS_PER_ROW, CURSOR_LEN, DAYS, DEST_LEN, FIXED_LEN,
    HEADER_LEN, LEASES, LEASE_LEN, MAGIC, MAX_COUNTER_BLOCKS, MAX_DESTINATIONS, MAX_LEASES,
    MAX_MEMORY, MAX_NUMBERS, MEM_LEN, OFF_FIXED_TAIL, OFF_POOLS, ROW_LEN, VERSION,
};

/// The sizes of a state file, fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Destination slots (D).
    pub destinations: u32,
    /// Lease records in the pool (R), handed to destinations as their capacities need them.
    pub leases: u32,
    /// Call-memory entries (M).
    pub memory: u32,
    /// Counter rows (N): 400 numbers, 16 round-robin cursors each.
    pub numbers: u32,
    /// Counter blocks of 8 branches in the pool (P), handed to numbers as they count.
    pub counter_blocks: u32,
}

impl fmt::Display for Sizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "destinations={} leases={} memory={} numbers={} counter_blocks={}",
            self.destinations, self.leases, self.memory, self.numbers, self.counter_blocks
        )
    }
}

impl Sizes {
    /// The sizes with the pools' defaults: one lease record a destination beyond the one in
    /// its slot plus one trunk of the largest capacity, and two counter blocks (16 branches) a
    /// number plus one number counting every branch (saturating: `check` names a size too
    /// large).
    pub fn with_defaults(destinations: u32, memory: u32, numbers: u32) -> Sizes {
        Sizes {
            destinations,
            leases: destinations.saturating_add(LEASES as u32),
            memory,
            numbers,
            counter_blocks: numbers
                .saturating_mul(2)
                .saturating_add((BRANCHES / BLOCK_BRANCHES) as u32),
        }
    }

    pub fn file_len(&self) -> u64 {
        HEADER_LEN as u64
            + self.destinations as u64 * DEST_LEN as u64
            + self.leases as u64 * LEASE_LEN as u64
            + self.memory as u64 * MEM_LEN as u64
            + self.numbers as u64 * ROW_LEN as u64
            + self.counter_blocks as u64 * BLOCK_LEN as u64
            + self.cursors() as u64 * CURSOR_LEN as u64
    }

    /// Entries of the round-robin cursor table: 16 per counter row.
    pub fn cursors(&self) -> usize {
        self.numbers as usize * CURSORS_PER_ROW
    }

    pub(super) fn check(&self) -> Result<(), String> {
        for (name, value, top) in [
            ("destinations", self.destinations, MAX_DESTINATIONS),
            ("leases", self.leases, MAX_LEASES),
            ("memory", self.memory, MAX_MEMORY),
            ("numbers", self.numbers, MAX_NUMBERS),
            ("counter_blocks", self.counter_blocks, MAX_COUNTER_BLOCKS),
        ] {
            if !(1..=top).contains(&value) {
                return Err(format!("{name} must be 1..{top}, not {value}"));
            }
        }
        Ok(())
    }
}

/// The CRC of a header: bytes [0, 40) then the pools' sizes [80, 96).
fn header_crc(h: &[u8]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&h[0..40]);
    crc.update(&h[OFF_POOLS..OFF_POOLS + 16]);
    crc.finalize()
}

pub(super) fn header_bytes(sizes: &Sizes, file_id: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(MAGIC);
    h[4..6].copy_from_slice(&VERSION.to_le_bytes());
    h[6..8].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
    h[8..12].copy_from_slice(&sizes.destinations.to_le_bytes());
    h[12..16].copy_from_slice(&(LEASES as u32).to_le_bytes());
    h[16..20].copy_from_slice(&sizes.memory.to_le_bytes());
    h[20..24].copy_from_slice(&sizes.numbers.to_le_bytes());
    h[24..28].copy_from_slice(&(BRANCHES as u32).to_le_bytes());
    h[28..32].copy_from_slice(&(DAYS as u32).to_le_bytes());
    h[32..40].copy_from_slice(&sizes.file_len().to_le_bytes());
    h[72..80].copy_from_slice(&file_id.to_le_bytes());
    h[80..84].copy_from_slice(&sizes.leases.to_le_bytes());
    h[84..88].copy_from_slice(&sizes.counter_blocks.to_le_bytes());
    h[88..92].copy_from_slice(&(BLOCK_BRANCHES as u32).to_le_bytes());
    let crc = header_crc(&h);
    h[40..44].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The header bytes that never change once the file is made (see `FIXED_LEN`).
pub(super) fn fixed_bytes(h: &[u8]) -> [u8; FIXED_LEN] {
    let mut out = [0u8; FIXED_LEN];
    out[..48].copy_from_slice(&h[..48]);
    out[48..].copy_from_slice(&h[OFF_FIXED_TAIL..OFF_POOLS + 16]);
    out
}

/// Check a header; every problem named. `file_len` is the file's actual length.
pub fn parse_header(h: &[u8], file_len: u64) -> Result<Sizes, String> {
    if file_len == 0 {
        return Err("empty file (not a routecore state file)".into());
    }
    if h.len() < HEADER_LEN {
        if !MAGIC.starts_with(&h[..h.len().min(4)]) {
            return Err("not a routecore state file (wrong magic)".into());
        }
        return Err(format!(
            "truncated: {} bytes, a header needs {HEADER_LEN}",
            h.len()
        ));
    }
    if &h[0..4] != MAGIC {
        return Err("not a routecore state file (wrong magic)".into());
    }
    let u16at = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
    let u32at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
    let version = u16at(4);
    if version != VERSION {
        return Err(format!(
            "layout version {version} is not supported (this build reads {VERSION}): \
             remove the file and create it again"
        ));
    }
    if header_crc(h) != u32at(40) {
        return Err("header checksum mismatch (corrupt header)".into());
    }
    if u16at(6) as usize != HEADER_LEN
        || u32at(12) as usize != LEASES
        || u32at(24) as usize != BRANCHES
        || u32at(28) as usize != DAYS
        || u32at(88) as usize != BLOCK_BRANCHES
    {
        return Err("header sizes are not those of this layout".into());
    }
    let sizes = Sizes {
        destinations: u32at(8),
        leases: u32at(80),
        memory: u32at(16),
        numbers: u32at(20),
        counter_blocks: u32at(84),
    };
    sizes.check()?;
    let stated = u64::from_le_bytes(h[32..40].try_into().unwrap_or([0; 8]));
    if stated != sizes.file_len() {
        return Err(format!(
            "header length {stated} does not match its sizes ({})",
            sizes.file_len()
        ));
    }
    if file_len != stated {
        return Err(format!(
            "file is {file_len} bytes, its header says {stated} (truncated or grown)"
        ));
    }
    Ok(sizes)
}
