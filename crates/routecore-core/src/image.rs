//! The routing image: named tables concatenated into one file that every process maps.
//!
//! Layout (magic `RCIM`, version 1), after the common header (whose CRC covers the whole
//! image, so it is the image's content hash):
//! ```text
//!  16 u32 section count   20 u32 directory offset   24 u32 names offset   28 u32 names length
//!  directory: 32 bytes a section, sorted by name (bytewise):
//!     u32 name offset, u32 name length, [u8; 4] kind (the table's magic), u32 0,
//!     u64 offset, u64 length (from the start of the image)
//!  names, then each table 8-aligned; sections with identical bytes share one copy (two
//!  directory entries at one offset: numbers of one template share their time plans)
//! ```
//! Opening reads the header and checks the directory's bounds: O(1) whatever the image holds.
//! Finding a section is a binary search of the directory; its entry is checked when found.

use std::fs::File;
use std::path::Path;

use crate::layout::{
    corrupt, open_table, stored_crc, verify_table, Bytes, LayoutError, LayoutResult, TableWriter,
    HEADER_LEN,
};

pub const MAGIC: &[u8; 4] = b"RCIM";
pub const VERSION: u16 = 1;
const DIR_ENTRY: usize = 32;
pub const MAX_NAME: usize = 255;

/// Why sections cannot be put in an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageBuildError {
    BadName(String),
    Duplicate(String),
    NotATable(String, String),
}

impl std::fmt::Display for ImageBuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageBuildError::BadName(n) => {
                write!(f, "section name '{n}' must be 1 to {MAX_NAME} bytes")
            }
            ImageBuildError::Duplicate(n) => write!(f, "section '{n}' is given twice"),
            ImageBuildError::NotATable(n, why) => {
                write!(f, "section '{n}' is not a routecore table: {why}")
            }
        }
    }
}

/// The magic of a table, if `data` is exactly one table (header length = data length).
fn table_kind(data: &[u8]) -> Result<[u8; 4], String> {
    if data.len() < HEADER_LEN {
        return Err(format!("{} bytes is shorter than a header", data.len()));
    }
    let len = u32::from_le_bytes([data[8], data[9], data[10], data[11]]) as usize;
    if len != data.len() {
        return Err(format!(
            "its header says {len} bytes but it has {}",
            data.len()
        ));
    }
    Ok([data[0], data[1], data[2], data[3]])
}

/// Build an image of named tables.
pub fn build(sections: &[(String, &[u8])]) -> Result<Vec<u8>, ImageBuildError> {
    let mut items: Vec<(&str, &[u8], [u8; 4])> = Vec::with_capacity(sections.len());
    for (name, data) in sections {
        if name.is_empty() || name.len() > MAX_NAME {
            return Err(ImageBuildError::BadName(name.clone()));
        }
        let kind = table_kind(data).map_err(|why| ImageBuildError::NotATable(name.clone(), why))?;
        items.push((name, data, kind));
    }
    items.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    for pair in items.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(ImageBuildError::Duplicate(pair[0].0.to_string()));
        }
    }
    let dir_off = 32usize;
    let names_off = dir_off + items.len() * DIR_ENTRY;
    let names_len: usize = items.iter().map(|i| i.0.len()).sum();
    let mut at = (names_off + names_len).next_multiple_of(8);
    // Each distinct table once, in the order of its first section; later copies point at it.
    let mut placed: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
    let mut offsets = Vec::with_capacity(items.len());
    let mut unique: Vec<&[u8]> = Vec::new();
    for (_, data, _) in &items {
        let off = *placed.entry(data).or_insert_with(|| {
            let here = at;
            at = (at + data.len()).next_multiple_of(8);
            unique.push(data);
            here
        });
        offsets.push(off);
    }
    let mut w = TableWriter::new(MAGIC, VERSION);
    w.u32(items.len() as u32)
        .u32(dir_off as u32)
        .u32(names_off as u32)
        .u32(names_len as u32);
    let mut name_at = 0u32;
    for ((name, data, kind), off) in items.iter().zip(&offsets) {
        w.u32(name_at).u32(name.len() as u32).bytes(kind).u32(0);
        w.u64(*off as u64).u64(data.len() as u64);
        name_at += name.len() as u32;
    }
    for (name, _, _) in &items {
        w.bytes(name.as_bytes());
    }
    for data in unique {
        w.align(8).bytes(data);
    }
    Ok(w.finish())
}

/// A section found in an image: its kind and where its bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    pub kind: [u8; 4],
    pub offset: usize,
    pub len: usize,
}

/// An image read in place.
#[derive(Clone, Copy)]
pub struct ImageView<'a> {
    data: &'a [u8],
    count: usize,
    dir_off: usize,
    names: Bytes<'a>,
}

impl<'a> ImageView<'a> {
    pub fn open(data: &'a [u8]) -> LayoutResult<Self> {
        let table = open_table(data, MAGIC, VERSION, "image")?;
        let b = Bytes::new(table, "image");
        let count = b.u32(16)? as usize;
        let dir_off = b.u32(20)? as usize;
        b.slice(
            dir_off,
            count
                .checked_mul(DIR_ENTRY)
                .ok_or_else(|| corrupt("image", "section count"))?,
        )?;
        let names = Bytes::new(b.slice(b.u32(24)? as usize, b.u32(28)? as usize)?, "image");
        Ok(ImageView {
            data: table,
            count,
            dir_off,
            names,
        })
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The name of the i-th section (in name order).
    pub fn name(&self, i: usize) -> LayoutResult<&'a str> {
        let b = Bytes::new(self.data, "image");
        let e = self.dir_off + i * DIR_ENTRY;
        self.names.str(b.u32(e)? as usize, b.u32(e + 4)? as usize)
    }

    /// The i-th section's entry, checked against the image's bounds.
    pub fn entry(&self, i: usize) -> LayoutResult<Section> {
        let b = Bytes::new(self.data, "image");
        let e = self.dir_off + i * DIR_ENTRY;
        let kind: [u8; 4] = b.slice(e + 8, 4)?.try_into().unwrap_or([0; 4]);
        let offset = usize::try_from(b.u64(e + 16)?).unwrap_or(usize::MAX);
        let len = usize::try_from(b.u64(e + 24)?).unwrap_or(usize::MAX);
        b.slice(offset, len)?;
        if len < HEADER_LEN || self.data[offset..offset + 4] != kind {
            return Err(corrupt(
                "image",
                format!("section {i} does not hold the table its entry names"),
            ));
        }
        Ok(Section { kind, offset, len })
    }

    /// Binary search of the directory by name.
    pub fn find(&self, name: &str) -> LayoutResult<Option<Section>> {
        let (mut lo, mut hi) = (0usize, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.name(mid)?.as_bytes().cmp(name.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return self.entry(mid).map(Some),
            }
        }
        Ok(None)
    }

    /// The section of that name and the expected kind, or an error naming what is wrong.
    pub fn section_of(&self, name: &str, kind: &[u8; 4]) -> LayoutResult<Section> {
        let s = self
            .find(name)?
            .ok_or_else(|| corrupt("image", format!("no section named '{name}'")))?;
        if &s.kind != kind {
            return Err(LayoutError::BadMagic {
                expected: *kind,
                found: s.kind.to_vec(),
            });
        }
        Ok(s)
    }

    /// The bytes of a section of the expected kind, or an error naming what is wrong.
    pub fn table(&self, name: &str, kind: &[u8; 4]) -> LayoutResult<&'a [u8]> {
        self.section_of(name, kind).map(|s| self.section_bytes(s))
    }

    /// The bytes of a section found in this image (`entry` checked its bounds).
    pub fn section_bytes(&self, s: Section) -> &'a [u8] {
        &self.data[s.offset..s.offset + s.len]
    }

    /// The image's content hash: the CRC-32 of its body as stored in its header (O(1); the
    /// body is not read, [`ImageView::verify`] checks it).
    pub fn content_hash(&self) -> u32 {
        // `open` checked the header, so the field is there.
        stored_crc(self.data, "image").unwrap_or(0)
    }

    /// Check the checksum of the image and of every section (reads everything).
    pub fn verify(&self) -> LayoutResult<()> {
        verify_table(self.data, "image")?;
        for i in 0..self.count {
            verify_table(self.section_bytes(self.entry(i)?), "section")?;
        }
        Ok(())
    }
}

/// Why an image file cannot be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapError {
    /// Opening, reading the size of or mapping the file failed (the message names the path).
    Io(String),
    /// The file is empty: no image (yet).
    Empty(String),
}

impl std::fmt::Display for MapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MapError::Io(m) | MapError::Empty(m) => f.write_str(m),
        }
    }
}

/// An image file mapped read-only, its pages guarded against a truncation in place
/// (`crate::fault`): a bus error in them reads zeros and makes `broken()` true.
pub struct MappedFile {
    /// Declared first: dropped (unregistered) before the map is unmapped.
    guard: crate::fault::Guard,
    map: memmap2::Mmap,
}

impl MappedFile {
    /// Whether a bus error was caught in the map: the file was truncated in place under this
    /// process, and whatever was read from it since is zeros, not the image.
    #[inline]
    pub fn broken(&self) -> bool {
        self.guard.broken()
    }
}

impl std::ops::Deref for MappedFile {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

/// Map an image file read-only. Routing images are replaced by rename, never rewritten in place.
pub fn map_file(path: &Path) -> Result<MappedFile, MapError> {
    let shown = path.display();
    let io = |e: std::io::Error| MapError::Io(format!("{shown}: {e}"));
    let file = File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.len() == 0 {
        return Err(MapError::Empty(format!("{shown}: empty file")));
    }
    // SAFETY: the map is read-only. Routing images are published by rename, never rewritten
    // in place (an operator copying over a live image breaks that rule: a page past the end of
    // a file truncated under the map raises SIGBUS, caught by the guard; `routecore.state.live`
    // looks for the change).
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
    Ok(MappedFile {
        guard: crate::fault::Guard::new(map.as_ptr(), map.len()),
        map,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trie::{self, TrieView};

    fn trie(key: &str, v: u64) -> Vec<u8> {
        trie::build(&[(key.to_string(), v)], &[]).unwrap()
    }

    #[test]
    fn sections_round_trip() {
        let (a, b) = (trie("010", 1), trie("0755", 2));
        let img = build(&[("zeta".into(), &a), ("alpha".into(), &b)]).unwrap();
        let v = ImageView::open(&img).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v.name(0).unwrap(), "alpha");
        let t = TrieView::open(v.table("zeta", trie::MAGIC).unwrap()).unwrap();
        assert_eq!(t.get(b"010"), Some(1));
        assert!(v.find("nope").unwrap().is_none());
        assert!(matches!(
            v.table("alpha", b"RCSG"),
            Err(LayoutError::BadMagic { .. })
        ));
        crate::layout::verify_table(v.bytes(), "image").unwrap();
    }

    #[test]
    fn identical_tables_are_stored_once_and_read_under_every_name() {
        let (a, b) = (trie("010", 1), trie("0755", 2));
        let once = build(&[("one".into(), &a), ("other".into(), &b)]).unwrap();
        let twice = build(&[
            ("one".into(), &a),
            ("other".into(), &b),
            ("same".into(), &a),
        ])
        .unwrap();
        // one more directory entry and name (and alignment), not a second copy of the table
        assert!(twice.len() <= once.len() + DIR_ENTRY + 8 + "same".len());
        assert!(twice.len() < once.len() + a.len());
        let v = ImageView::open(&twice).unwrap();
        for name in ["one", "same"] {
            let t = TrieView::open(v.table(name, trie::MAGIC).unwrap()).unwrap();
            assert_eq!(t.get(b"010"), Some(1));
        }
        v.verify().unwrap();
    }

    #[test]
    fn build_errors() {
        let a = trie("1", 1);
        assert!(matches!(
            build(&[("x".into(), &a), ("x".into(), &a)]),
            Err(ImageBuildError::Duplicate(_))
        ));
        assert!(matches!(
            build(&[("".into(), &a)]),
            Err(ImageBuildError::BadName(_))
        ));
        assert!(matches!(
            build(&[("x".into(), &a[..a.len() - 8])]),
            Err(ImageBuildError::NotATable(..))
        ));
    }

    #[test]
    fn wild_directory_entries_are_errors() {
        let a = trie("1", 1);
        let mut img = build(&[("x".into(), &a)]).unwrap();
        img[32 + 16..32 + 24].copy_from_slice(&u64::MAX.to_le_bytes());
        let v = ImageView::open(&img).unwrap();
        assert!(v.find("x").is_err());
        img[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(ImageView::open(&img).is_err());
    }

    #[test]
    fn content_hash_is_the_header_crc_and_verify_reads_every_section() {
        let (a, b) = (trie("010", 1), trie("0755", 2));
        let mut img = build(&[("a".into(), &a), ("b".into(), &b)]).unwrap();
        let v = ImageView::open(&img).unwrap();
        assert_eq!(v.content_hash(), crate::layout::body_crc(&img));
        v.verify().unwrap();
        let s = v.section_of("b", trie::MAGIC).unwrap();
        assert_eq!(v.section_bytes(s), &b[..]);
        assert!(matches!(
            v.section_of("b", b"RCSG"),
            Err(LayoutError::BadMagic { .. })
        ));
        // A flipped byte inside a section: the image's CRC and the section's both catch it.
        let last = img.len() - 1;
        img[last] ^= 1;
        let v = ImageView::open(&img).unwrap();
        assert_ne!(v.content_hash(), crate::layout::body_crc(&img));
        assert!(v.verify().is_err());
    }

    #[test]
    fn map_file_maps_an_image_and_refuses_an_empty_or_missing_file() {
        let dir = std::env::temp_dir().join(format!("routecore-image-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (full, empty) = (dir.join("routes.img"), dir.join("empty.img"));
        let img = build(&[("x".into(), &trie("1", 1))]).unwrap();
        std::fs::write(&full, &img).unwrap();
        std::fs::write(&empty, b"").unwrap();
        let mapped = map_file(&full).unwrap();
        assert_eq!(&mapped[..], &img[..]);
        assert!(!mapped.broken());
        std::fs::File::options()
            .write(true)
            .open(&full)
            .unwrap()
            .set_len(0)
            .unwrap();
        // SAFETY: inside the map; past the file's new end (SIGBUS without the guard).
        let byte = unsafe { std::ptr::read_volatile(mapped.as_ptr().add(img.len() - 1)) };
        assert_eq!(byte, 0);
        assert!(mapped.broken(), "the truncation is seen");
        assert!(matches!(map_file(&empty), Err(MapError::Empty(m)) if m.ends_with("empty file")));
        assert!(matches!(
            map_file(&dir.join("missing.img")),
            Err(MapError::Io(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn empty_image() {
        let img = build(&[]).unwrap();
        let v = ImageView::open(&img).unwrap();
        assert!(v.is_empty());
        assert!(v.find("x").unwrap().is_none());
    }
}
