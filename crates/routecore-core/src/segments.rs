//! The mobile number-segment table: 7-digit segment → region (area code, province, city),
//! plus the landline area codes, in one flat table.
//!
//! The base data is the `phone` package's `phone.dat`, parsed here (its layout: a 4-byte
//! version, an i32 offset of the index, NUL-terminated records `province|city|zip|area`, then
//! 9-byte index entries `i32 segment, i32 record offset, u8 carrier`). User rows (segment,
//! area code, province, city) can be laid over it or used instead of it.
//!
//! Layout (magic `RCSG`, version 1), after the common header:
//! ```text
//!  16 u32 region count (region 0 is "unknown")   20 u32 first segment (1000000)
//!  24 u32 segment count (1000000)                28 u32 known segments
//!  32 u32 regions offset  36 u32 strings offset  40 u32 strings length
//!  44 u32 segment→region offset (u16 each)       48 u32 segment→carrier offset (u8 each)
//!  52 u32 area-code trie offset                  56 u32 area-code trie length   60 u32 0
//!  regions: 24 bytes each: (u32 offset, u32 length) of area code, province, city
//! ```
//! A mobile lookup is one array read; a landline area code is a longest-prefix match in the
//! embedded trie (area code with its leading 0 → the region of its main city).

use std::collections::{BTreeMap, HashMap};

use crate::layout::{corrupt, le_u16, open_table, Bytes, LayoutResult, StringPool, TableWriter};
use crate::trie::{self, TrieView};

pub const MAGIC: &[u8; 4] = b"RCSG";
pub const VERSION: u16 = 1;
pub const SEG_BASE: u32 = 1_000_000;
pub const SEG_COUNT: u32 = 1_000_000;
const REGION_LEN: usize = 24;

/// One row of segment data: segment, carrier code (0 unknown), area code, province, city.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub segment: u32,
    pub carrier: u8,
    pub area_code: String,
    pub province: String,
    pub city: String,
}

/// Carrier names by the codes phone.dat uses.
pub const CARRIERS: [&str; 9] = [
    "",
    "China Mobile",
    "China Unicom",
    "China Telecom",
    "China Telecom MVNO",
    "China Unicom MVNO",
    "China Mobile MVNO",
    "China Broadnet",
    "China Broadnet MVNO",
];

/// A valid area code: `0` then 2 or 3 digits, the first not 0. phone.dat writes one code with
/// a doubled leading zero (`00479` for Xilingol, 0479); that is repaired here.
pub fn clean_area_code(code: &str) -> Option<String> {
    let code = if code.len() == 5 && code.starts_with("00") {
        &code[1..]
    } else {
        code
    };
    let b = code.as_bytes();
    let ok = (3..=4).contains(&b.len())
        && b[0] == b'0'
        && b[1] != b'0'
        && b.iter().all(|c| c.is_ascii_digit());
    ok.then(|| code.to_string())
}

/// Parse phone.dat; every problem is an error naming the byte offset.
pub fn parse_phone_dat(data: &[u8]) -> Result<Vec<Row>, String> {
    let b = Bytes::new(data, "phone.dat");
    let index = b.i32(4).map_err(|e| e.to_string())?;
    if index < 8 || index as usize > data.len() {
        return Err(format!(
            "phone.dat: index offset {index} is outside the file"
        ));
    }
    let index = index as usize;
    let count = (data.len() - index) / 9;
    let mut records: HashMap<usize, (String, String, String)> = HashMap::new();
    let mut rows = Vec::with_capacity(count);
    for i in 0..count {
        let at = index + i * 9;
        let segment = b.i32(at).map_err(|e| e.to_string())?;
        let offset = b.i32(at + 4).map_err(|e| e.to_string())?;
        let carrier = b.u8(at + 8).map_err(|e| e.to_string())?;
        if !(SEG_BASE as i32..(SEG_BASE + SEG_COUNT) as i32).contains(&segment) {
            return Err(format!(
                "phone.dat: entry {i}: segment {segment} is not 7 digits starting with 1"
            ));
        }
        if offset < 8 || offset as usize >= index {
            return Err(format!(
                "phone.dat: entry {i}: record offset {offset} is outside the records"
            ));
        }
        let offset = offset as usize;
        if let std::collections::hash_map::Entry::Vacant(slot) = records.entry(offset) {
            let end = data[offset..index]
                .iter()
                .position(|&c| c == 0)
                .ok_or_else(|| format!("phone.dat: record at {offset} is not terminated"))?;
            let text = std::str::from_utf8(&data[offset..offset + end])
                .map_err(|_| format!("phone.dat: record at {offset} is not UTF-8"))?;
            let parts: Vec<&str> = text.split('|').collect();
            if parts.len() != 4 {
                return Err(format!(
                    "phone.dat: record at {offset} has {} fields, not 4",
                    parts.len()
                ));
            }
            let area = clean_area_code(parts[3]).ok_or_else(|| {
                format!(
                    "phone.dat: record at {offset}: bad area code '{}'",
                    parts[3]
                )
            })?;
            slot.insert((area, parts[0].to_string(), parts[1].to_string()));
        }
        let (area_code, province, city) = records[&offset].clone();
        rows.push(Row {
            segment: segment as u32,
            carrier: if (carrier as usize) < CARRIERS.len() {
                carrier
            } else {
                0
            },
            area_code,
            province,
            city,
        });
    }
    Ok(rows)
}

/// Build the table from base rows with user rows laid over them (a user row replaces the
/// region of its segment and keeps the base carrier).
pub fn build(base: &[Row], overlay: &[Row]) -> Result<Vec<u8>, String> {
    type Key<'r> = (&'r str, &'r str, &'r str);
    // Interned regions and a dense segment → (key index, carrier) map.
    let mut cleaned: Vec<String> = Vec::new();
    let mut keys: Vec<(usize, &str, &str)> = Vec::new(); // (cleaned area index, province, city)
    let mut key_ids: HashMap<(&str, &str, &str), u32> = HashMap::new();
    let mut area_ids: HashMap<&str, usize> = HashMap::new();
    let mut dense = vec![u32::MAX; SEG_COUNT as usize];
    let mut carriers = vec![0u8; SEG_COUNT as usize];
    for (rows, is_overlay) in [(base, false), (overlay, true)] {
        for (i, r) in rows.iter().enumerate() {
            if !(SEG_BASE..SEG_BASE + SEG_COUNT).contains(&r.segment) {
                return Err(format!(
                    "row {}: segment {} is not 7 digits starting with 1",
                    i + 1,
                    r.segment
                ));
            }
            if !area_ids.contains_key(r.area_code.as_str()) {
                let area = clean_area_code(&r.area_code)
                    .ok_or_else(|| format!("row {}: bad area code '{}'", i + 1, r.area_code))?;
                cleaned.push(area);
                area_ids.insert(r.area_code.as_str(), cleaned.len() - 1);
            }
            if r.province.is_empty() || r.city.is_empty() {
                return Err(format!(
                    "row {}: province and city must not be empty",
                    i + 1
                ));
            }
            let key: (&str, &str, &str) = (&r.area_code, &r.province, &r.city);
            let id = match key_ids.get(&key) {
                Some(&id) => id,
                None => {
                    keys.push((area_ids[r.area_code.as_str()], &r.province, &r.city));
                    key_ids.insert(key, keys.len() as u32 - 1);
                    keys.len() as u32 - 1
                }
            };
            let at = (r.segment - SEG_BASE) as usize;
            if !(is_overlay && r.carrier == 0 && dense[at] != u32::MAX) {
                carriers[at] = r.carrier;
            }
            dense[at] = id;
        }
    }
    // Regions sorted by (area code, province, city), distinct; id 0 is "unknown".
    let key_of = |k: &(usize, &'_ str, &'_ str)| -> (String, String, String) {
        (cleaned[k.0].clone(), k.1.to_string(), k.2.to_string())
    };
    let used: std::collections::BTreeSet<u32> =
        dense.iter().copied().filter(|&k| k != u32::MAX).collect();
    let mut regions: Vec<(String, String, String)> =
        used.iter().map(|&k| key_of(&keys[k as usize])).collect();
    regions.sort();
    regions.dedup();
    let region_id: HashMap<Key<'_>, u16> = regions
        .iter()
        .enumerate()
        .map(|(i, (a, p, c))| ((a.as_str(), p.as_str(), c.as_str()), i as u16 + 1))
        .collect();
    let key_region: HashMap<u32, u16> = used
        .iter()
        .map(|&k| {
            let (a, p, c) = &keys[k as usize];
            (k, region_id[&(cleaned[*a].as_str(), *p, *c)])
        })
        .collect();
    let mut seg_region = vec![0u16; SEG_COUNT as usize];
    let mut uses: HashMap<u16, u32> = HashMap::new();
    let mut known = 0u32;
    for (i, &k) in dense.iter().enumerate() {
        if k != u32::MAX {
            let id = key_region[&k];
            seg_region[i] = id;
            *uses.entry(id).or_default() += 1;
            known += 1;
        }
    }
    let seg_carrier = carriers;
    // The region of an area code is the one with the most segments (ties: the first).
    let mut main_region: BTreeMap<&str, (u32, u16)> = BTreeMap::new();
    for (i, (area, _, _)) in regions.iter().enumerate() {
        let id = i as u16 + 1;
        let n = uses[&id];
        let e = main_region.entry(area.as_str()).or_insert((n, id));
        if n > e.0 {
            *e = (n, id);
        }
    }
    let area_entries: Vec<(String, u64)> = main_region
        .iter()
        .map(|(a, &(_, id))| (a.to_string(), id as u64))
        .collect();
    let area_trie = trie::build(&area_entries, &[]).map_err(|e| e.to_string())?;

    let mut pool = StringPool::default();
    let mut region_refs = vec![[0u32; 6]];
    for (a, p, c) in &regions {
        let (ao, al) = pool.add(a);
        let (po, pl) = pool.add(p);
        let (co, cl) = pool.add(c);
        region_refs.push([ao, al, po, pl, co, cl]);
    }
    let regions_off = 64usize;
    let strings_off = regions_off + region_refs.len() * REGION_LEN;
    let strings_len = pool.blob().len();
    let seg_region_off = (strings_off + strings_len).next_multiple_of(8);
    let seg_carrier_off = seg_region_off + 2 * SEG_COUNT as usize;
    let trie_off = (seg_carrier_off + SEG_COUNT as usize).next_multiple_of(8);

    let mut w = TableWriter::new(MAGIC, VERSION);
    w.u32(region_refs.len() as u32)
        .u32(SEG_BASE)
        .u32(SEG_COUNT)
        .u32(known)
        .u32(regions_off as u32)
        .u32(strings_off as u32)
        .u32(strings_len as u32)
        .u32(seg_region_off as u32)
        .u32(seg_carrier_off as u32)
        .u32(trie_off as u32)
        .u32(area_trie.len() as u32)
        .u32(0);
    for r in &region_refs {
        for v in r {
            w.u32(*v);
        }
    }
    w.bytes(pool.blob()).align(8);
    for v in &seg_region {
        w.u16(*v);
    }
    w.bytes(&seg_carrier).align(8);
    w.bytes(&area_trie);
    Ok(w.finish())
}

/// A segment table read in place.
#[derive(Clone, Copy)]
pub struct SegmentView<'a> {
    data: &'a [u8],
    regions: u32,
    known: u32,
    regions_off: usize,
    strings: Bytes<'a>,
    seg_region: &'a [u8],
    seg_carrier: &'a [u8],
    areas: TrieView<'a>,
}

/// The three strings of a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region<'a> {
    pub area_code: &'a str,
    pub province: &'a str,
    pub city: &'a str,
}

impl<'a> SegmentView<'a> {
    /// Check the header and every section's bounds; O(1).
    pub fn open(data: &'a [u8]) -> LayoutResult<Self> {
        let table = open_table(data, MAGIC, VERSION, "segments")?;
        let b = Bytes::new(table, "segments");
        let regions = b.u32(16)?;
        let (base, count) = (b.u32(20)?, b.u32(24)?);
        if base != SEG_BASE || count != SEG_COUNT || regions == 0 || regions > 65535 {
            return Err(corrupt(
                "segments",
                "segment range or region count is not valid",
            ));
        }
        let field = |off: usize| -> LayoutResult<usize> { Ok(b.u32(off)? as usize) };
        let regions_off = field(32)?;
        b.slice(regions_off, regions as usize * REGION_LEN)?;
        let strings = Bytes::new(b.slice(field(36)?, field(40)?)?, "segments");
        let seg_region = b.slice(field(44)?, 2 * count as usize)?;
        let seg_carrier = b.slice(field(48)?, count as usize)?;
        let areas = TrieView::open(b.slice(field(52)?, field(56)?)?)?;
        Ok(SegmentView {
            data: table,
            regions,
            known: b.u32(28)?,
            regions_off,
            strings,
            seg_region,
            seg_carrier,
            areas,
        })
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    /// How many segments have a region.
    pub fn known(&self) -> u32 {
        self.known
    }

    /// Regions, including region 0 ("unknown").
    pub fn region_count(&self) -> u32 {
        self.regions
    }

    /// Region id and carrier code of a 7-digit segment (region 0 if unknown).
    #[inline(always)]
    pub fn segment(&self, segment: u32) -> (u16, u8) {
        let i = segment.wrapping_sub(SEG_BASE) as usize;
        let carrier = self.seg_carrier.get(i).copied().unwrap_or(0);
        (self.segment_region(segment), carrier)
    }

    /// Region id of a 7-digit segment (0 if unknown).
    #[inline(always)]
    pub fn segment_region(&self, segment: u32) -> u16 {
        let i = segment.wrapping_sub(SEG_BASE) as usize;
        if i >= SEG_COUNT as usize {
            return 0;
        }
        let region = le_u16(self.seg_region, 2 * i);
        if (region as u32) < self.regions {
            region
        } else {
            0
        }
    }

    /// Longest area code at the start of `digits` (which begins with its trunk 0):
    /// (region id, length of the area code).
    #[inline]
    pub fn area(&self, digits: &[u8]) -> Option<(u16, usize)> {
        let m = self.areas.longest(digits)?;
        (m.value < self.regions && m.value > 0).then_some((m.value as u16, m.len))
    }

    pub fn region(&self, id: u16) -> LayoutResult<Region<'a>> {
        if id as u32 >= self.regions {
            return Err(corrupt("segments", format!("no region {id}")));
        }
        let b = Bytes::new(self.data, "segments");
        let at = self.regions_off + id as usize * REGION_LEN;
        let s = |i: usize| -> LayoutResult<&'a str> {
            self.strings
                .str(b.u32(at + 8 * i)? as usize, b.u32(at + 8 * i + 4)? as usize)
        };
        Ok(Region {
            area_code: s(0)?,
            province: s(1)?,
            city: s(2)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(segment: u32, carrier: u8, area: &str, p: &str, c: &str) -> Row {
        Row {
            segment,
            carrier,
            area_code: area.into(),
            province: p.into(),
            city: c.into(),
        }
    }

    #[test]
    fn lookup_and_area_codes() {
        let base = vec![
            row(1380013, 1, "010", "北京", "北京"),
            row(1892000, 3, "022", "天津", "天津"),
            row(1390000, 1, "024", "辽宁", "沈阳"),
            row(1390001, 1, "024", "辽宁", "沈阳"),
            row(1390002, 1, "024", "辽宁", "抚顺"),
        ];
        let t = build(&base, &[row(1892000, 0, "0755", "广东", "深圳")]).unwrap();
        let v = SegmentView::open(&t).unwrap();
        let (r, c) = v.segment(1380013);
        assert_eq!(v.region(r).unwrap().area_code, "010");
        assert_eq!(c, 1);
        let (r, c) = v.segment(1892000);
        assert_eq!(v.region(r).unwrap().city, "深圳");
        assert_eq!(c, 3, "an overlay row keeps the base carrier");
        assert_eq!(v.segment(1000000), (0, 0));
        assert_eq!(v.segment(5), (0, 0));
        let (r, len) = v.area(b"02412345678").unwrap();
        assert_eq!((v.region(r).unwrap().city, len), ("沈阳", 3));
        assert!(v.area(b"0999").is_none());
        assert_eq!(v.known(), 5);
    }

    #[test]
    fn repairs_the_doubled_zero_and_rejects_bad_codes() {
        assert_eq!(clean_area_code("00479").as_deref(), Some("0479"));
        assert_eq!(clean_area_code("0755").as_deref(), Some("0755"));
        for bad in ["", "755", "0", "00", "07a5", "07555", "0055"] {
            assert_eq!(clean_area_code(bad), None, "{bad}");
        }
        assert!(build(&[row(1380013, 1, "x", "a", "b")], &[]).is_err());
        assert!(build(&[row(2380013, 1, "010", "a", "b")], &[]).is_err());
    }

    #[test]
    fn truncations_are_refused() {
        let t = build(&[row(1380013, 1, "010", "北京", "北京")], &[]).unwrap();
        for cut in [0, 15, 16, 63, 64, 1000, t.len() - 8] {
            assert!(SegmentView::open(&t[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn phone_dat_errors_are_reported() {
        assert!(parse_phone_dat(b"").is_err());
        assert!(parse_phone_dat(b"2312\xff\xff\xff\x7f").is_err());
        // A record with three fields instead of four.
        let mut dat = b"2312\0\0\0\0x|y|010\0".to_vec();
        let index = (dat.len() as i32).to_le_bytes();
        dat[4..8].copy_from_slice(&index);
        dat.extend_from_slice(&1380013i32.to_le_bytes());
        dat.extend_from_slice(&8i32.to_le_bytes());
        dat.push(1);
        let err = parse_phone_dat(&dat).unwrap_err();
        assert!(err.contains("record"), "{err}");
    }
}
