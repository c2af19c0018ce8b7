//! The flat, little-endian table layout shared by every table of the core.
//!
//! Every table (segments, trie, time plan, group) is one byte string that starts with
//! the same 16-byte header and is read in place, with bounds-checked reads only:
//!
//! ```text
//! offset  size  field
//!      0     4  magic: the table kind, e.g. b"RCTR" for a trie
//!      4     2  layout version of that kind (u16 LE)
//!      6     2  flags, 0 for now
//!      8     4  total length in bytes, header included, a multiple of 8 (u32 LE)
//!     12     4  CRC-32 (IEEE) of bytes [16, length) (u32 LE); checked by `verify`, not on open
//! ```
//!
//! Opening a table checks the header and the table's own fixed-size counts (O(1)); it never
//! walks the body, so opening costs the same whatever the table holds.

use std::fmt;

pub const HEADER_LEN: usize = 16;

/// Why a byte buffer is not a readable table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutError {
    /// The buffer ends before what its header or counts promise.
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// The buffer is not a table of the expected kind.
    BadMagic { expected: [u8; 4], found: Vec<u8> },
    /// A table of the right kind but of a layout version this build cannot read.
    BadVersion {
        what: &'static str,
        expected: u16,
        found: u16,
    },
    /// The header is fine but the content contradicts itself.
    Corrupt { what: &'static str, detail: String },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::Truncated { what, need, have } => {
                write!(f, "{what}: truncated buffer: need {need} bytes, have {have}")
            }
            LayoutError::BadMagic { expected, found } => write!(
                f,
                "not a {} table: magic is {:?}",
                String::from_utf8_lossy(expected),
                String::from_utf8_lossy(found)
            ),
            LayoutError::BadVersion {
                what,
                expected,
                found,
            } => write!(
                f,
                "{what}: layout version {found} is not supported (this build reads version {expected})"
            ),
            LayoutError::Corrupt { what, detail } => write!(f, "{what}: corrupt table: {detail}"),
        }
    }
}

impl std::error::Error for LayoutError {}

pub type LayoutResult<T> = Result<T, LayoutError>;

pub fn corrupt(what: &'static str, detail: impl Into<String>) -> LayoutError {
    LayoutError::Corrupt {
        what,
        detail: detail.into(),
    }
}

/// Bounds-checked little-endian reads from a byte slice.
#[derive(Clone, Copy)]
pub struct Bytes<'a> {
    pub data: &'a [u8],
    pub what: &'static str,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8], what: &'static str) -> Self {
        Bytes { data, what }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// `len` bytes at `off`, or `Truncated`.
    pub fn slice(&self, off: usize, len: usize) -> LayoutResult<&'a [u8]> {
        let end = off.checked_add(len).ok_or(LayoutError::Truncated {
            what: self.what,
            need: usize::MAX,
            have: self.data.len(),
        })?;
        self.data.get(off..end).ok_or(LayoutError::Truncated {
            what: self.what,
            need: end,
            have: self.data.len(),
        })
    }

    fn array<const N: usize>(&self, off: usize) -> LayoutResult<[u8; N]> {
        let s = self.slice(off, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub fn u8(&self, off: usize) -> LayoutResult<u8> {
        Ok(self.array::<1>(off)?[0])
    }
    pub fn u16(&self, off: usize) -> LayoutResult<u16> {
        Ok(u16::from_le_bytes(self.array(off)?))
    }
    pub fn u32(&self, off: usize) -> LayoutResult<u32> {
        Ok(u32::from_le_bytes(self.array(off)?))
    }
    pub fn i32(&self, off: usize) -> LayoutResult<i32> {
        Ok(i32::from_le_bytes(self.array(off)?))
    }
    pub fn u64(&self, off: usize) -> LayoutResult<u64> {
        Ok(u64::from_le_bytes(self.array(off)?))
    }
    pub fn i64(&self, off: usize) -> LayoutResult<i64> {
        Ok(i64::from_le_bytes(self.array(off)?))
    }

    /// A UTF-8 string of `len` bytes at `off`.
    pub fn str(&self, off: usize, len: usize) -> LayoutResult<&'a str> {
        std::str::from_utf8(self.slice(off, len)?)
            .map_err(|_| corrupt(self.what, format!("string at {off} is not UTF-8")))
    }
}

/// Unchecked-free fast reads for hot loops over a range already validated at open.
#[inline(always)]
pub fn le_u16(data: &[u8], off: usize) -> u16 {
    match data.get(off..off + 2) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => 0,
    }
}

#[inline(always)]
pub fn le_u32(data: &[u8], off: usize) -> u32 {
    match data.get(off..off + 4) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

/// Check the common header of a table of kind `magic` and return exactly its bytes
/// (the buffer may be longer: tables are concatenated in a routing image).
pub fn open_table<'a>(
    data: &'a [u8],
    magic: &[u8; 4],
    version: u16,
    what: &'static str,
) -> LayoutResult<&'a [u8]> {
    let b = Bytes::new(data, what);
    if data.len() < HEADER_LEN {
        // A short buffer with the wrong magic is foreign rather than truncated.
        if !data.is_empty() && !magic.starts_with(&data[..data.len().min(4)]) {
            return Err(LayoutError::BadMagic {
                expected: *magic,
                found: data[..data.len().min(4)].to_vec(),
            });
        }
        return Err(LayoutError::Truncated {
            what,
            need: HEADER_LEN,
            have: data.len(),
        });
    }
    let found = b.slice(0, 4)?;
    if found != magic {
        return Err(LayoutError::BadMagic {
            expected: *magic,
            found: found.to_vec(),
        });
    }
    let v = b.u16(4)?;
    if v != version {
        return Err(LayoutError::BadVersion {
            what,
            expected: version,
            found: v,
        });
    }
    let len = b.u32(8)? as usize;
    if len < HEADER_LEN || len % 8 != 0 {
        return Err(corrupt(what, format!("header length {len} is not valid")));
    }
    b.slice(0, len)
}

/// CRC-32 of a table's body, as stored at offset 12.
pub fn body_crc(table: &[u8]) -> u32 {
    crc32fast::hash(table.get(HEADER_LEN..).unwrap_or(&[]))
}

/// The CRC-32 stored in a table's header (offset 12): the table's content hash, read without
/// touching the body.
pub fn stored_crc(table: &[u8], what: &'static str) -> LayoutResult<u32> {
    Bytes::new(table, what).u32(12)
}

/// Check the stored CRC-32 of a table opened with [`open_table`].
pub fn verify_table(table: &[u8], what: &'static str) -> LayoutResult<()> {
    let stored = stored_crc(table, what)?;
    let actual = body_crc(table);
    if stored != actual {
        return Err(corrupt(
            what,
            format!("checksum mismatch: stored {stored:#010x}, content {actual:#010x}"),
        ));
    }
    Ok(())
}

/// Builds one table: header first, body appended, length and CRC filled by `finish`.
pub struct TableWriter {
    buf: Vec<u8>,
}

impl TableWriter {
    pub fn new(magic: &[u8; 4], version: u16) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(magic);
        buf.extend_from_slice(&version.to_le_bytes());
        buf.extend_from_slice(&0u16.to_le_bytes());
        buf.extend_from_slice(&[0u8; 8]);
        TableWriter { buf }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// Pad with zero bytes to a multiple of `n`.
    pub fn align(&mut self, n: usize) -> &mut Self {
        while self.buf.len() % n != 0 {
            self.buf.push(0);
        }
        self
    }

    /// Overwrite a u32 written earlier (for offsets known only later).
    pub fn patch_u32(&mut self, off: usize, v: u32) {
        self.buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.align(8);
        let len = self.buf.len() as u32;
        self.patch_u32(8, len);
        let crc = body_crc(&self.buf);
        self.patch_u32(12, crc);
        self.buf
    }
}

/// Strings stored once each in a blob, referred to by (offset, length).
#[derive(Default)]
pub struct StringPool {
    blob: Vec<u8>,
    index: std::collections::HashMap<String, (u32, u32)>,
}

impl StringPool {
    pub fn add(&mut self, s: &str) -> (u32, u32) {
        if let Some(&r) = self.index.get(s) {
            return r;
        }
        let r = (self.blob.len() as u32, s.len() as u32);
        self.blob.extend_from_slice(s.as_bytes());
        self.index.insert(s.to_string(), r);
        r
    }

    pub fn blob(&self) -> &[u8] {
        &self.blob
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = TableWriter::new(b"TEST", 3);
        w.u32(7).u16(9).bytes(b"abc");
        w.finish()
    }

    #[test]
    fn header_round_trip() {
        let t = sample();
        assert_eq!(t.len() % 8, 0);
        let opened = open_table(&t, b"TEST", 3, "test").unwrap();
        assert_eq!(opened.len(), t.len());
        verify_table(opened, "test").unwrap();
        let b = Bytes::new(opened, "test");
        assert_eq!(b.u32(16).unwrap(), 7);
        assert_eq!(b.u16(20).unwrap(), 9);
        assert_eq!(b.str(22, 3).unwrap(), "abc");
    }

    #[test]
    fn longer_buffer_yields_exactly_the_table() {
        let mut t = sample();
        let n = t.len();
        t.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(open_table(&t, b"TEST", 3, "test").unwrap().len(), n);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let t = sample();
        for cut in 0..t.len() {
            assert!(
                open_table(&t[..cut], b"TEST", 3, "test").is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn foreign_and_other_version() {
        let t = sample();
        assert!(matches!(
            open_table(&t, b"NOPE", 3, "x"),
            Err(LayoutError::BadMagic { .. })
        ));
        assert!(matches!(
            open_table(&t, b"TEST", 4, "x"),
            Err(LayoutError::BadVersion { found: 3, .. })
        ));
        assert!(matches!(
            open_table(b"\xff\xfe", b"TEST", 3, "x"),
            Err(LayoutError::BadMagic { .. })
        ));
    }

    #[test]
    fn crc_detects_a_flipped_byte() {
        let mut t = sample();
        t[17] ^= 1;
        assert!(verify_table(&t, "test").is_err());
    }

    #[test]
    fn reads_past_the_end_are_errors() {
        let b = Bytes::new(&[1, 2, 3], "x");
        assert!(b.u32(0).is_err());
        assert!(b.u16(2).is_err());
        assert!(b.slice(usize::MAX, 2).is_err());
        assert_eq!(le_u32(&[1, 2, 3], 0), 0);
    }

    #[test]
    fn string_pool_dedups() {
        let mut p = StringPool::default();
        let a = p.add("北京");
        let b = p.add("x");
        assert_eq!(p.add("北京"), a);
        assert_eq!(b, (6, 1));
    }
}
