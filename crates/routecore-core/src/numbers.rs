//! Caller numbers: normalise a caller string and classify it.
//!
//! Accepted decoration: spaces, tabs, dashes, dots and brackets anywhere, one leading `+`.
//! Anything else (letters, other symbols, non-ASCII) or more than 64 bytes makes the number
//! `Invalid`. Prefixes removed: `+86`/`0086` (country code), `86` before an 11-digit mobile,
//! IP-dial prefixes (17951, 12593, 17911, …) before a mobile or a landline, and a trunk `0`
//! before a mobile. Then:
//! - mobile: 11 digits `1[3-9]…`, its region from the 7-digit segment table;
//! - service: 400/800 numbers (10 digits), 95xxx (5–8 digits), 1xxxx short codes (10000–12999)
//!   and 3-digit 11x/12x codes (110, 119, 120, 122…);
//! - landline: `0` + an area code known to the segment table + a 7–8 digit local number not
//!   starting with 0; or a bare 7–8 digit local number starting with 2–9 (area unknown);
//! - international: `+` or `00` then a country code other than 86, 7–15 digits in all;
//! - invalid: everything else.

use crate::segments::SegmentView;

pub const MAX_INPUT: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Invalid = 0,
    Mobile = 1,
    Landline = 2,
    Service = 3,
    International = 4,
}

pub const KIND_NAMES: [&str; 5] = ["invalid", "mobile", "landline", "service", "international"];

impl Kind {
    pub fn name(self) -> &'static str {
        KIND_NAMES[self as usize]
    }
}

pub const IP_PREFIXES: [&[u8; 5]; 13] = [
    b"17951", b"12593", b"17911", b"10193", b"17901", b"17909", b"17908", b"17910", b"17931",
    b"17969", b"17950", b"11808", b"96688",
];

/// The class of a number and its normalised digits, without allocating.
#[derive(Debug, Clone, Copy)]
pub struct Classified {
    pub kind: Kind,
    /// Region id in the segment table (0: unknown).
    pub region: u16,
    /// Carrier code of a mobile (0: unknown).
    pub carrier: u8,
    buf: [u8; 24],
    len: u8,
}

impl Classified {
    const INVALID: Classified = Classified {
        kind: Kind::Invalid,
        region: 0,
        carrier: 0,
        buf: [0; 24],
        len: 0,
    };

    fn new(kind: Kind, plus: bool, digits: &[u8], region: u16, carrier: u8) -> Self {
        let mut c = Classified {
            kind,
            region,
            carrier,
            ..Self::INVALID
        };
        let mut n = 0;
        if plus {
            c.buf[0] = b'+';
            n = 1;
        }
        c.buf[n..n + digits.len()].copy_from_slice(digits);
        c.len = (n + digits.len()) as u8;
        c
    }

    /// The normalised number: 11 digits for a mobile, `0` + area + local for a landline,
    /// the digits of a service number, `+` and digits for an international one, "" if invalid.
    pub fn number(&self) -> &str {
        // Only ASCII digits and '+' are ever written.
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

#[inline]
fn is_mobile(d: &[u8]) -> bool {
    d.len() == 11 && d[0] == b'1' && (b'3'..=b'9').contains(&d[1])
}

#[inline]
fn is_service(d: &[u8]) -> bool {
    match d.len() {
        3 => d[0] == b'1' && (d[1] == b'1' || d[1] == b'2'),
        5 if d[0] == b'1' && (b'0'..=b'2').contains(&d[1]) => true,
        10 if d.starts_with(b"400") || d.starts_with(b"800") => true,
        _ => d.starts_with(b"95") && (5..=8).contains(&d.len()),
    }
}

#[inline]
fn is_local(d: &[u8]) -> bool {
    (7..=8).contains(&d.len()) && d[0] != b'0'
}

/// A bare local number (no area code): it may not look like a short code either.
#[inline]
fn is_bare_local(d: &[u8]) -> bool {
    (7..=8).contains(&d.len()) && (b'2'..=b'9').contains(&d[0])
}

fn mobile<const C: bool>(seg: &SegmentView<'_>, d: &[u8]) -> Classified {
    let segment = d[..7]
        .iter()
        .fold(0u32, |acc, &c| acc * 10 + (c - b'0') as u32);
    let (region, carrier) = if C {
        seg.segment(segment)
    } else {
        (seg.segment_region(segment), 0)
    };
    Classified::new(Kind::Mobile, false, d, region, carrier)
}

/// A national number without country code.
fn national<const C: bool>(seg: &SegmentView<'_>, d: &[u8]) -> Classified {
    if is_mobile(d) {
        return mobile::<C>(seg, d);
    }
    if d.len() == 12 && d[0] == b'0' && is_mobile(&d[1..]) {
        return mobile::<C>(seg, &d[1..]);
    }
    if is_service(d) {
        return Classified::new(Kind::Service, false, d, 0, 0);
    }
    if d.len() >= 10 && d.len() <= 12 && d[0] == b'0' {
        if let Some((region, len)) = seg.area(d) {
            if is_local(&d[len..]) {
                return Classified::new(Kind::Landline, false, d, region, 0);
            }
        }
        return Classified::INVALID;
    }
    if is_bare_local(d) {
        return Classified::new(Kind::Landline, false, d, 0, 0);
    }
    Classified::INVALID
}

/// After `+86` or `0086`: a landline may come without its trunk 0.
fn after_country_code<const C: bool>(seg: &SegmentView<'_>, d: &[u8]) -> Classified {
    if d.is_empty() || d[0] == b'0' || d[0] == b'1' || is_service(d) {
        return national::<C>(seg, d);
    }
    if d.len() > 11 {
        return Classified::INVALID;
    }
    let mut with_zero = [0u8; 12];
    with_zero[0] = b'0';
    with_zero[1..=d.len()].copy_from_slice(d);
    national::<C>(seg, &with_zero[..=d.len()])
}

fn international(d: &[u8]) -> Classified {
    if (7..=15).contains(&d.len()) && d[0] != b'0' {
        Classified::new(Kind::International, true, d, 0, 0)
    } else {
        Classified::INVALID
    }
}

/// Classify a caller string given as bytes (UTF-8 or anything: non-ASCII is invalid).
pub fn classify(seg: &SegmentView<'_>, input: &[u8]) -> Classified {
    classify_with::<true>(seg, input)
}

/// As [`classify`] without reading the carrier (left 0): the batch path, one memory read less.
pub fn classify_region(seg: &SegmentView<'_>, input: &[u8]) -> Classified {
    classify_with::<false>(seg, input)
}

/// The batch path: `data` holds `data.len() / itemsize` fixed-width byte strings, each padded
/// with NULs (a NumPy `S` array's memory). Returns the kind code and region id of each, or
/// `None` when `itemsize` is 0 or does not divide the length.
pub fn classify_fixed(
    seg: &SegmentView<'_>,
    data: &[u8],
    itemsize: usize,
) -> Option<(Vec<u8>, Vec<u16>)> {
    if itemsize == 0 || data.len() % itemsize != 0 {
        return None;
    }
    let n = data.len() / itemsize;
    let mut kinds = Vec::with_capacity(n);
    let mut regions = Vec::with_capacity(n);
    for item in data.chunks_exact(itemsize) {
        let end = item.iter().position(|&b| b == 0).unwrap_or(item.len());
        let c = classify_region(seg, &item[..end]);
        kinds.push(c.kind as u8);
        regions.push(c.region);
    }
    Some((kinds, regions))
}

#[inline(always)]
fn classify_with<const C: bool>(seg: &SegmentView<'_>, input: &[u8]) -> Classified {
    if input.len() > MAX_INPUT {
        return Classified::INVALID;
    }
    let mut buf = [0u8; MAX_INPUT];
    let mut n = 0;
    let mut plus = false;
    for &b in input {
        match b {
            b'0'..=b'9' => {
                buf[n] = b;
                n += 1;
            }
            b'+' if n == 0 && !plus => plus = true,
            b' ' | b'\t' | b'-' | b'.' | b'(' | b')' => {}
            _ => return Classified::INVALID,
        }
    }
    let d = &buf[..n];
    if d.is_empty() {
        return Classified::INVALID;
    }
    if plus {
        return match d.strip_prefix(b"86") {
            Some(rest) => after_country_code::<C>(seg, rest),
            None => international(d),
        };
    }
    if let Some(rest) = d.strip_prefix(b"00") {
        return match rest.strip_prefix(b"86") {
            Some(rest) => after_country_code::<C>(seg, rest),
            None => international(rest),
        };
    }
    // After an IP-dial prefix only a mobile (11-12 digits) or a landline (10-12) is
    // accepted, so shorter numbers skip the prefix scan.
    if d.len() >= 15 && IP_PREFIXES.iter().any(|p| d.starts_with(*p)) {
        let c = national::<C>(seg, &d[5..]);
        if matches!(c.kind, Kind::Mobile | Kind::Landline) {
            return c;
        }
    }
    if d.len() == 13 && d.starts_with(b"86") && is_mobile(&d[2..]) {
        return mobile::<C>(seg, &d[2..]);
    }
    national::<C>(seg, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segments::{build, Row};

    fn table() -> Vec<u8> {
        let row = |segment, area: &str, p: &str, c: &str| Row {
            segment,
            carrier: 1,
            area_code: area.into(),
            province: p.into(),
            city: c.into(),
        };
        build(
            &[
                row(1380013, "010", "北京", "北京"),
                row(1892000, "022", "天津", "天津"),
                row(1350000, "0755", "广东", "深圳"),
            ],
            &[],
        )
        .unwrap()
    }

    #[test]
    fn classify_fixed_reads_nul_padded_items() {
        let t = table();
        let v = SegmentView::open(&t).unwrap();
        let mut data = Vec::new();
        for item in ["13800138000", "+86 135-0000-1234", "", "abc", "4006001001"] {
            let mut field = [0u8; 20];
            field[..item.len()].copy_from_slice(item.as_bytes());
            data.extend_from_slice(&field);
        }
        let (kinds, regions) = classify_fixed(&v, &data, 20).unwrap();
        let one = |s: &str| {
            let c = classify_region(&v, s.as_bytes());
            (c.kind as u8, c.region)
        };
        let expected: Vec<(u8, u16)> =
            ["13800138000", "+86 135-0000-1234", "", "abc", "4006001001"]
                .into_iter()
                .map(one)
                .collect();
        assert_eq!(
            kinds.iter().copied().zip(regions).collect::<Vec<_>>(),
            expected
        );
        assert_eq!(kinds[0], Kind::Mobile as u8);
        assert_eq!(kinds[3], Kind::Invalid as u8);
        assert_eq!(kinds[4], Kind::Service as u8);
        // An item filling its whole width has no NUL.
        let (kinds, _) = classify_fixed(&v, b"13800138000", 11).unwrap();
        assert_eq!(kinds, [Kind::Mobile as u8]);
        assert_eq!(classify_fixed(&v, b"", 4), Some((vec![], vec![])));
        assert_eq!(classify_fixed(&v, b"123", 0), None);
        assert_eq!(classify_fixed(&v, b"12345", 2), None);
    }

    fn check(input: &str, kind: Kind, number: &str) {
        let t = table();
        let v = SegmentView::open(&t).unwrap();
        let c = classify(&v, input.as_bytes());
        assert_eq!((c.kind, c.number()), (kind, number), "{input:?}");
    }

    #[test]
    fn known_answers() {
        use Kind::*;
        check("13800138000", Mobile, "13800138000");
        check("+86 138-0013-8000", Mobile, "13800138000");
        check("008613800138000", Mobile, "13800138000");
        check("8613800138000", Mobile, "13800138000");
        check("013800138000", Mobile, "13800138000");
        check("1795113800138000", Mobile, "13800138000");
        check("12593 0755 1234 5678", Landline, "075512345678");
        check("(0755) 1234-5678", Landline, "075512345678");
        check("+86 755 12345678", Landline, "075512345678");
        check("01012345678", Landline, "01012345678");
        check("62345678", Landline, "62345678");
        check("4008001234", Service, "4008001234");
        check("95588", Service, "95588");
        check("10086", Service, "10086");
        check("12593", Service, "12593");
        check("110", Service, "110");
        check("+1 212 555 0100", International, "+12125550100");
        check("0044 20 7946 0958", International, "+442079460958");
        check("", Invalid, "");
        check("abc", Invalid, "");
        check("😀", Invalid, "");
        check("+", Invalid, "");
        check("09991234567", Invalid, "");
        check("075502345678", Invalid, "");
        check("0755123456789", Invalid, "");
        check(&"1".repeat(10_000), Invalid, "");
        check("1380013800", Invalid, "");
    }

    #[test]
    fn regions_resolve() {
        let t = table();
        let v = SegmentView::open(&t).unwrap();
        let c = classify(&v, b"18920001234");
        assert_eq!(v.region(c.region).unwrap().area_code, "022");
        let c = classify(&v, b"075512345678");
        assert_eq!(v.region(c.region).unwrap().city, "深圳");
        let c = classify(&v, b"19900000000");
        assert_eq!((c.kind, c.region), (Kind::Mobile, 0));
    }
}
