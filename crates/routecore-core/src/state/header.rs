//! The header of a state file (layout in `docs/state-format.md`): the sizes fixed at creation,
//! writing a header for them, and checking one read back, every problem named.

use super::{
    BRANCHES, CURSORS_PER_ROW, CURSOR_LEN, DAYS, DEST_LEN, FIXED_LEN, HEADER_LEN, LEASES, MAGIC,
    MAX_DESTINATIONS, MAX_MEMORY, MAX_NUMBERS, MEM_LEN, OFF_FILE_ID, OFF_FIXED_TAIL, ROW_LEN,
    VERSION,
};

/// The sizes of a state file, fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub destinations: u32,
    pub memory: u32,
    pub numbers: u32,
}

impl Sizes {
    pub fn file_len(&self) -> u64 {
        HEADER_LEN as u64
            + self.destinations as u64 * DEST_LEN as u64
            + self.memory as u64 * MEM_LEN as u64
            + self.numbers as u64 * ROW_LEN as u64
            + self.cursors() as u64 * CURSOR_LEN as u64
    }

    /// Entries of the round-robin cursor table: 16 per counter row.
    pub fn cursors(&self) -> usize {
        self.numbers as usize * CURSORS_PER_ROW
    }

    pub(super) fn check(&self) -> Result<(), String> {
        if !(1..=MAX_DESTINATIONS).contains(&self.destinations) {
            return Err(format!(
                "destinations must be 1..{MAX_DESTINATIONS}, not {}",
                self.destinations
            ));
        }
        if !(1..=MAX_MEMORY).contains(&self.memory) {
            return Err(format!(
                "memory must be 1..{MAX_MEMORY}, not {}",
                self.memory
            ));
        }
        if !(1..=MAX_NUMBERS).contains(&self.numbers) {
            return Err(format!(
                "numbers must be 1..{MAX_NUMBERS}, not {}",
                self.numbers
            ));
        }
        Ok(())
    }
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
    let crc = crc32fast::hash(&h[0..40]);
    h[40..44].copy_from_slice(&crc.to_le_bytes());
    h[OFF_FILE_ID..OFF_FILE_ID + 8].copy_from_slice(&file_id.to_le_bytes());
    h
}

/// The header bytes that never change once the file is made (see `FIXED_LEN`).
pub(super) fn fixed_bytes(h: &[u8]) -> [u8; FIXED_LEN] {
    let mut out = [0u8; FIXED_LEN];
    out[..48].copy_from_slice(&h[..48]);
    out[48..].copy_from_slice(&h[OFF_FIXED_TAIL..OFF_FILE_ID + 8]);
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
    let crc = crc32fast::hash(&h[0..40]);
    if crc != u32at(40) {
        return Err("header checksum mismatch (corrupt header)".into());
    }
    if u16at(6) as usize != HEADER_LEN
        || u32at(12) as usize != LEASES
        || u32at(24) as usize != BRANCHES
        || u32at(28) as usize != DAYS
    {
        return Err("header sizes are not those of this layout".into());
    }
    let sizes = Sizes {
        destinations: u32at(8),
        memory: u32at(16),
        numbers: u32at(20),
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
