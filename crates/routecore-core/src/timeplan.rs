//! Time plans (feature B7, "time routing"): named slots over the week at minute resolution,
//! plus dated exceptions (China's public holidays, make-up working days, user dates),
//! evaluated in the plan's IANA time zone.
//!
//! The pure-Python reference `routecore/py/timeplan.py` implements the same steps and writes
//! byte-identical tables with the same problems in the same order.
//!
//! # Rules
//! A rule is `"DAYS HH:MM-HH:MM"` (split on ASCII whitespace, names ASCII case-insensitive).
//! DAYS is a comma list of `mon`..`sun`, ranges `mon-fri` (wrapping: `fri-mon`), `daily` and
//! `holiday`. `24:00` may end a range. A rule whose end is not after its start crosses
//! midnight: start–24:00 on that day and 00:00–end on the following one (`sun` spills into
//! `mon`, a `holiday` rule's spill stays on the holiday profile).
//!
//! # Profiles
//! Eight day profiles: mon..sun and holiday. If no rule names `holiday`, the holiday profile
//! is a copy of sunday's (everything covering sunday, spill from saturday included). A date the
//! calendar marks holiday uses the holiday profile, a make-up working day the `workday_as`
//! weekday's. User dates override the calendar: a profile name (`mon`..`sun`, `holiday`,
//! `workday`) or a whole explicit day (slot -> `HH:MM-HH:MM` ranges, each ending after it
//! starts), which gets a profile of its own.
//!
//! # Checks
//! Building collects every problem (malformed rule, unknown zone or day, bad date, overlapping
//! slots, uncovered minutes without a default) and fails with all of them; a built plan covers
//! every minute of every profile with exactly one slot.
//!
//! # Layout (magic `RCTP`, version 1), after the common 16-byte header
//! ```text
//! offset  size  field
//!     16     4  slot_count (u32)
//!     20     4  profile_count (u32, >= 8: mon..sun, holiday, then one per explicit date)
//!     24     4  boundary_count (u32)
//!     28     4  exception_count (u32)
//!     32     4  pool_len (u32)
//!     36     4  tz name offset in the pool (u32)
//!     40     4  tz name length (u32)
//!     44     4  zero
//!     48        slot names: slot_count x (pool offset u32, length u32)
//!               profile starts: (profile_count + 1) x u32, indices into the boundaries
//!               boundaries: boundary_count x (start minute u16, slot u16), per profile sorted,
//!                           the first at minute 0
//!               exceptions: exception_count x (days since 1970-01-01 i32, profile u16, 0 u16),
//!                           sorted by day
//!               string pool: pool_len bytes (UTF-8)
//!               zero padding to a multiple of 8
//! ```

use std::collections::HashMap;
use std::fmt;

use chrono::{Datelike, NaiveDate, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::layout::{
    corrupt, le_u16, le_u32, open_table, verify_table, Bytes, LayoutError, LayoutResult,
    StringPool, TableWriter,
};

/// Whether `name` is an IANA time zone this core knows (the rule flows are validated with).
pub fn zone_known(name: &str) -> bool {
    name.parse::<Tz>().is_ok()
}

pub const MAGIC: &[u8; 4] = b"RCTP";
pub const VERSION: u16 = 1;
const WHAT: &str = "time plan";
const FIXED: usize = 48;
const MINUTES: usize = 1440;
const HOLIDAY: usize = 7;
const WEEKLY: usize = 8;
const MAX_IDS: usize = 65535;
const MAX_TZ_LEN: usize = 255;
/// Days from 0001-01-01 (day 1) to 1970-01-01, as Python's `date.toordinal()` counts.
const UNIX_ORDINAL: i32 = 719_163;
/// The instants a plan evaluates: 0001-01-02T00:00:00Z ..= 9999-12-30T23:59:59Z, so that the
/// local date stays within years 1..9999 in every zone.
pub const MIN_EPOCH: i64 = -62_135_510_400;
pub const MAX_EPOCH: i64 = 253_402_214_399;

pub const DAY_NAMES: [&str; 8] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday"];

/// A plan that cannot be built; `problems` lists every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimePlanError {
    pub problems: Vec<String>,
}

impl TimePlanError {
    pub fn message(&self) -> String {
        format!("cannot build time plan: {}", self.problems.join("; "))
    }
}

impl fmt::Display for TimePlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for TimePlanError {}

/// What a user date means.
#[derive(Debug, Clone)]
pub enum DateSpec {
    /// A profile name: `mon`..`sun`, `holiday` or `workday`.
    Profile(String),
    /// The whole day explicitly: slot -> `HH:MM-HH:MM` ranges.
    Day(Vec<(String, Vec<String>)>),
}

/// Everything `build` takes, as plain values (dates as `YYYY-MM-DD` text).
#[derive(Debug, Clone)]
pub struct PlanSpec {
    pub slots: Vec<(String, Vec<String>)>,
    pub tz: String,
    pub default: Option<String>,
    pub calendar: Vec<(String, String)>,
    pub dates: Vec<(String, DateSpec)>,
    pub workday_as: String,
}

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

fn hhmm(m: usize) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// `HH:MM` (1-2 digit hour) in minutes, 0..=1440; `None` if malformed.
fn parse_time(s: &str) -> Option<usize> {
    let (h, m) = s.split_once(':')?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || h.len() > 2 || !digits(m) || m.len() != 2 {
        return None;
    }
    let (h, m): (usize, usize) = (h.parse().ok()?, m.parse().ok()?);
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// `HH:MM-HH:MM` as (start, end) minutes, or the problems (without prefix).
fn parse_range(tok: &str) -> Result<(usize, usize), Vec<String>> {
    let parts: Vec<&str> = tok.split('-').collect();
    if parts.len() != 2 {
        return Err(vec![format!("bad time range {}", quoted(tok))]);
    }
    let mut problems = Vec::new();
    let start = parse_time(parts[0]);
    match start {
        None => problems.push(format!("bad time {}", quoted(parts[0]))),
        Some(MINUTES) => problems.push(format!("bad start time {}", quoted(parts[0]))),
        Some(_) => {}
    }
    let end = parse_time(parts[1]);
    if end.is_none() {
        problems.push(format!("bad time {}", quoted(parts[1])));
    }
    match (start, end) {
        (Some(s), Some(e)) if problems.is_empty() => Ok((s, e)),
        _ => Err(problems),
    }
}

fn weekday_index(name: &str) -> Option<usize> {
    DAY_NAMES[..7].iter().position(|d| *d == name)
}

/// The day-profile indices a DAYS token names, or the unknown items.
fn parse_days(tok: &str) -> Result<Vec<usize>, Vec<String>> {
    let mut days = Vec::new();
    let mut problems = Vec::new();
    for item in tok.split(',') {
        if item == "daily" {
            days.extend(0..7);
        } else if item == "holiday" {
            days.push(HOLIDAY);
        } else if let Some(d) = weekday_index(item) {
            days.push(d);
        } else if let Some((a, b)) = item
            .split_once('-')
            .and_then(|(a, b)| Some((weekday_index(a)?, weekday_index(b)?)))
        {
            let mut d = a;
            loop {
                days.push(d);
                if d == b {
                    break;
                }
                d = (d + 1) % 7;
            }
        } else {
            problems.push(format!("unknown day {}", quoted(item)));
        }
    }
    if problems.is_empty() {
        days.sort_unstable();
        days.dedup();
        Ok(days)
    } else {
        Err(problems)
    }
}

/// A rule as (day profile, start minute, end minute) pieces, midnight crossings split.
fn parse_rule(rule: &str) -> Result<Vec<(usize, usize, usize)>, Vec<String>> {
    let toks: Vec<&str> = rule.split_ascii_whitespace().collect();
    if toks.len() != 2 {
        return Err(vec![format!("expected {}", quoted("DAYS HH:MM-HH:MM"))]);
    }
    let days = parse_days(&toks[0].to_ascii_lowercase());
    let range = parse_range(toks[1]);
    let (days, (start, end)) = match (days, range) {
        (Ok(d), Ok(r)) => (d, r),
        (d, r) => {
            let mut problems = d.err().unwrap_or_default();
            problems.extend(r.err().unwrap_or_default());
            return Err(problems);
        }
    };
    let mut pieces = Vec::new();
    for d in days {
        if end > start {
            pieces.push((d, start, end));
        } else {
            pieces.push((d, start, MINUTES));
            if end > 0 {
                let next = if d == HOLIDAY { HOLIDAY } else { (d + 1) % 7 };
                pieces.push((next, 0, end));
            }
        }
    }
    Ok(pieces)
}

/// `YYYY-MM-DD` as days since 1970-01-01 (years 1..9999).
pub fn parse_date(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    let y: i32 = s[0..4].parse().ok()?;
    let m: u32 = s[5..7].parse().ok()?;
    let d: u32 = s[8..10].parse().ok()?;
    if y < 1 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    Some(date.num_days_from_ce() - UNIX_ORDINAL)
}

/// Days since 1970-01-01 as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    match NaiveDate::from_num_days_from_ce_opt(days + UNIX_ORDINAL) {
        Some(d) => format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()),
        None => format!("day {days}"),
    }
}

/// Monday = 0 .. Sunday = 6 of a day counted from 1970-01-01 (a Thursday).
#[inline]
fn weekday(days: i32) -> usize {
    (days + 3).rem_euclid(7) as usize
}

/// Which slots cover each minute of one day.
type Cover = Vec<Vec<u16>>;

fn new_cover() -> Cover {
    vec![Vec::new(); MINUTES]
}

fn add(cover: &mut Cover, slot: u16, start: usize, end: usize) {
    for cell in &mut cover[start..end] {
        if !cell.contains(&slot) {
            cell.push(slot);
        }
    }
}

/// Overlap and gap findings, grouped by (kind, start, end, slots) in first-seen order.
#[derive(Default)]
struct Findings {
    order: Vec<(bool, usize, usize, Vec<u16>)>,
    labels: Vec<Vec<String>>,
    index: HashMap<(bool, usize, usize, Vec<u16>), usize>,
}

impl Findings {
    fn note(&mut self, key: (bool, usize, usize, Vec<u16>), label: &str) {
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.order.push(key.clone());
                self.labels.push(Vec::new());
                self.index.insert(key, self.order.len() - 1);
                self.order.len() - 1
            }
        };
        self.labels[i].push(label.to_string());
    }

    fn problems(&self, names: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for ((overlap, start, end, slots), labels) in self.order.iter().zip(&self.labels) {
            let when = format!("{} {}-{}", labels.join(","), hhmm(*start), hhmm(*end));
            if *overlap {
                let who: Vec<String> = slots.iter().map(|&s| quoted(&names[s as usize])).collect();
                out.push(format!("overlap on {when}: {}", who.join(", ")));
            } else {
                out.push(format!("no slot covers {when}"));
            }
        }
        out
    }
}

/// Resolve one day's cover into boundaries, noting overlaps and gaps.
fn resolve(
    cover: &Cover,
    default: Option<u16>,
    label: &str,
    findings: &mut Findings,
) -> Vec<(u16, u16)> {
    let mut bounds: Vec<(u16, u16)> = Vec::new();
    let mut m = 0;
    while m < MINUTES {
        let mut set = cover[m].clone();
        set.sort_unstable();
        let mut end = m + 1;
        while end < MINUTES && {
            let mut next = cover[end].clone();
            next.sort_unstable();
            next == set
        } {
            end += 1;
        }
        let slot = match (set.len(), default) {
            (1, _) => Some(set[0]),
            (0, Some(d)) => Some(d),
            (0, None) => {
                findings.note((false, m, end, set), label);
                None
            }
            _ => {
                findings.note((true, m, end, set), label);
                None
            }
        };
        if let Some(s) = slot {
            if bounds.last().map(|b| b.1) != Some(s) {
                bounds.push((m as u16, s));
            }
        }
        m = end;
    }
    bounds
}

/// Build a plan's table, or every problem with the spec.
pub fn build(spec: &PlanSpec) -> Result<Vec<u8>, TimePlanError> {
    let mut problems: Vec<String> = Vec::new();

    if !zone_known(&spec.tz) {
        problems.push(format!("unknown time zone {}", quoted(&spec.tz)));
    }
    let workday_as = weekday_index(&spec.workday_as.to_ascii_lowercase());
    if workday_as.is_none() {
        problems.push(format!(
            "workday_as: unknown day {}",
            quoted(&spec.workday_as)
        ));
    }
    let workday_as = workday_as.unwrap_or(0);

    // Slots: the mapping's order, then the default if it names no slot.
    let mut names: Vec<String> = Vec::new();
    let mut ids: HashMap<&str, u16> = HashMap::new();
    for (name, _) in &spec.slots {
        if ids.contains_key(name.as_str()) {
            problems.push(format!("slot {} is given twice", quoted(name)));
        } else {
            ids.insert(name, names.len().min(MAX_IDS) as u16);
            names.push(name.clone());
        }
    }
    let default = spec.default.as_ref().map(|d| match ids.get(d.as_str()) {
        Some(&id) => id,
        None => {
            names.push(d.clone());
            (names.len() - 1).min(MAX_IDS) as u16
        }
    });
    if let (Some(d), Some(id)) = (&spec.default, default) {
        ids.entry(d.as_str()).or_insert(id);
    }
    if names.len() > MAX_IDS {
        problems.push(format!(
            "too many slots: {} (at most {MAX_IDS})",
            names.len()
        ));
    }

    // The weekly profiles.
    let mut weekly: Vec<Cover> = (0..WEEKLY).map(|_| new_cover()).collect();
    let mut holiday_named = false;
    for (name, rules) in &spec.slots {
        let Some(&slot) = ids.get(name.as_str()) else {
            continue;
        };
        for rule in rules {
            match parse_rule(rule) {
                Ok(pieces) => {
                    for (d, s, e) in pieces {
                        holiday_named |= d == HOLIDAY;
                        add(&mut weekly[d], slot, s, e);
                    }
                }
                Err(ps) => {
                    for p in ps {
                        problems.push(format!("slot {}: rule {}: {p}", quoted(name), quoted(rule)));
                    }
                }
            }
        }
    }
    if !holiday_named {
        weekly[HOLIDAY] = weekly[6].clone();
    }

    // Exceptions: the calendar, then user dates over it.
    let mut exceptions: std::collections::BTreeMap<i32, usize> = Default::default();
    let mut kinds: HashMap<i32, &str> = HashMap::new();
    for (date, kind) in &spec.calendar {
        let Some(day) = parse_date(date) else {
            problems.push(format!(
                "calendar: bad date {}: expected YYYY-MM-DD",
                quoted(date)
            ));
            continue;
        };
        let kind_l = kind.to_ascii_lowercase();
        let (k, profile) = match kind_l.as_str() {
            "holiday" => ("holiday", HOLIDAY),
            "workday" => ("workday", workday_as),
            _ => {
                problems.push(format!(
                    "calendar: {}: unknown kind {}",
                    format_date(day),
                    quoted(kind)
                ));
                continue;
            }
        };
        match kinds.get(&day) {
            Some(&prev) if prev != k => {
                problems.push(format!(
                    "calendar: {} is both a holiday and a workday",
                    format_date(day)
                ));
            }
            _ => {
                kinds.insert(day, k);
                exceptions.insert(day, profile);
            }
        }
    }

    let mut seen: HashMap<i32, ()> = HashMap::new();
    let mut explicit: Vec<(i32, Cover)> = Vec::new();
    for (date, what) in &spec.dates {
        let Some(day) = parse_date(date) else {
            problems.push(format!("bad date {}: expected YYYY-MM-DD", quoted(date)));
            continue;
        };
        let label = format_date(day);
        if seen.insert(day, ()).is_some() {
            problems.push(format!("date {label} is given twice"));
            continue;
        }
        match what {
            DateSpec::Profile(p) => {
                let p_l = p.to_ascii_lowercase();
                let profile = match p_l.as_str() {
                    "holiday" => Some(HOLIDAY),
                    "workday" => Some(workday_as),
                    other => weekday_index(other),
                };
                match profile {
                    Some(profile) => {
                        exceptions.insert(day, profile);
                    }
                    None => problems.push(format!("date {label}: unknown day {}", quoted(p))),
                }
            }
            DateSpec::Day(ranges) => {
                let mut cover = new_cover();
                for (slot_name, list) in ranges {
                    let Some(&slot) = ids.get(slot_name.as_str()) else {
                        problems.push(format!("date {label}: unknown slot {}", quoted(slot_name)));
                        continue;
                    };
                    for range in list {
                        let tok = range.trim_matches(|c: char| c.is_ascii_whitespace());
                        match parse_range(tok) {
                            Ok((s, e)) if e > s => add(&mut cover, slot, s, e),
                            Ok(_) => problems.push(format!(
                                "date {label}: slot {}: range {} must end after it starts",
                                quoted(slot_name),
                                quoted(range)
                            )),
                            Err(ps) => {
                                for p in ps {
                                    problems.push(format!(
                                        "date {label}: slot {}: {p}",
                                        quoted(slot_name)
                                    ));
                                }
                            }
                        }
                    }
                }
                explicit.push((day, cover));
            }
        }
    }
    explicit.sort_by_key(|(day, _)| *day);
    if WEEKLY + explicit.len() > MAX_IDS {
        problems.push(format!(
            "too many explicit dates: {} (at most {})",
            explicit.len(),
            MAX_IDS - WEEKLY
        ));
    }
    for (i, (day, _)) in explicit.iter().enumerate() {
        exceptions.insert(*day, WEEKLY + i);
    }

    // Coverage: every minute of every profile, exactly one slot.
    let mut findings = Findings::default();
    let mut profiles: Vec<Vec<(u16, u16)>> = Vec::new();
    for (p, cover) in weekly.iter().enumerate() {
        if p == HOLIDAY && !holiday_named {
            profiles.push(profiles[6].clone());
            continue;
        }
        profiles.push(resolve(cover, default, DAY_NAMES[p], &mut findings));
    }
    for (day, cover) in &explicit {
        profiles.push(resolve(cover, default, &format_date(*day), &mut findings));
    }
    problems.extend(findings.problems(&names));

    if !problems.is_empty() {
        return Err(TimePlanError { problems });
    }

    // The table.
    let mut pool = StringPool::default();
    let refs: Vec<(u32, u32)> = names.iter().map(|n| pool.add(n)).collect();
    let tz_ref = pool.add(&spec.tz);
    let boundary_count: usize = profiles.iter().map(Vec::len).sum();
    let mut w = TableWriter::new(MAGIC, VERSION);
    w.u32(names.len() as u32)
        .u32(profiles.len() as u32)
        .u32(boundary_count as u32)
        .u32(exceptions.len() as u32)
        .u32(pool.blob().len() as u32)
        .u32(tz_ref.0)
        .u32(tz_ref.1)
        .u32(0);
    for (off, len) in refs {
        w.u32(off).u32(len);
    }
    let mut at = 0u32;
    for p in &profiles {
        w.u32(at);
        at += p.len() as u32;
    }
    w.u32(at);
    for p in &profiles {
        for &(start, slot) in p {
            w.u16(start).u16(slot);
        }
    }
    for (&day, &profile) in &exceptions {
        w.i32(day).u16(profile as u16).u16(0);
    }
    w.bytes(pool.blob());
    Ok(w.finish())
}

/// A time plan read in place from its table bytes.
#[derive(Clone, Copy)]
pub struct TimePlanView<'a> {
    table: &'a [u8],
    tz: Tz,
    slot_count: usize,
    profile_count: usize,
    boundary_count: usize,
    exception_count: usize,
    slots_at: usize,
    profiles_at: usize,
    bounds_at: usize,
    exceptions_at: usize,
    pool_at: usize,
    pool_len: usize,
    tz_ref: (usize, usize),
}

/// Why an instant cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// Outside [`MIN_EPOCH`], [`MAX_EPOCH`].
    OutOfRange(i64),
    Layout(LayoutError),
}

impl From<LayoutError> for LookupError {
    fn from(e: LayoutError) -> Self {
        LookupError::Layout(e)
    }
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::OutOfRange(t) => write!(f, "{}", out_of_range(&t.to_string())),
            LookupError::Layout(e) => e.fmt(f),
        }
    }
}

/// The message for an instant outside the supported range.
pub fn out_of_range(when: &str) -> String {
    format!("instant {when} is out of range (supported: years 1 to 9999)")
}

impl<'a> TimePlanView<'a> {
    /// Check the header, the counts and the zone name (O(1)); the body is not walked.
    pub fn open(data: &'a [u8]) -> LayoutResult<Self> {
        let table = open_table(data, MAGIC, VERSION, WHAT)?;
        let b = Bytes::new(table, WHAT);
        if table.len() < FIXED {
            return Err(LayoutError::Truncated {
                what: WHAT,
                need: FIXED,
                have: table.len(),
            });
        }
        let slot_count = b.u32(16)? as usize;
        let profile_count = b.u32(20)? as usize;
        let boundary_count = b.u32(24)? as usize;
        let exception_count = b.u32(28)? as usize;
        let pool_len = b.u32(32)? as usize;
        let tz_ref = (b.u32(36)? as usize, b.u32(40)? as usize);
        if !(WEEKLY..=MAX_IDS).contains(&profile_count) {
            return Err(corrupt(
                WHAT,
                format!("profile count {profile_count} is not valid"),
            ));
        }
        if slot_count > MAX_IDS {
            return Err(corrupt(
                WHAT,
                format!("slot count {slot_count} is not valid"),
            ));
        }
        let slots_at = FIXED;
        let profiles_at = slots_at + 8 * slot_count;
        let bounds_at = profiles_at + 4 * (profile_count + 1);
        let exceptions_at = bounds_at + 4 * boundary_count;
        let pool_at = exceptions_at + 8 * exception_count;
        let end = pool_at + pool_len;
        if end > table.len() {
            return Err(LayoutError::Truncated {
                what: WHAT,
                need: end,
                have: table.len(),
            });
        }
        if tz_ref.1 > MAX_TZ_LEN || tz_ref.0 + tz_ref.1 > pool_len {
            return Err(corrupt(WHAT, "zone name lies outside the string pool"));
        }
        let name = b.str(pool_at + tz_ref.0, tz_ref.1)?;
        let tz: Tz = name
            .parse()
            .map_err(|_| corrupt(WHAT, format!("unknown time zone {}", quoted(name))))?;
        Ok(TimePlanView {
            table,
            tz,
            slot_count,
            profile_count,
            boundary_count,
            exception_count,
            slots_at,
            profiles_at,
            bounds_at,
            exceptions_at,
            pool_at,
            pool_len,
            tz_ref,
        })
    }

    /// The table's bytes, exactly.
    pub fn bytes(&self) -> &'a [u8] {
        self.table
    }

    pub fn verify(&self) -> LayoutResult<()> {
        verify_table(self.table, WHAT)
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    pub fn tz_name(&self) -> LayoutResult<&'a str> {
        self.pool_str(self.tz_ref.0, self.tz_ref.1)
    }

    pub fn slot_count(&self) -> usize {
        self.slot_count
    }

    fn pool_str(&self, off: usize, len: usize) -> LayoutResult<&'a str> {
        if off.checked_add(len).is_none_or(|e| e > self.pool_len) {
            return Err(corrupt(WHAT, "string lies outside the string pool"));
        }
        Bytes::new(self.table, WHAT).str(self.pool_at + off, len)
    }

    pub fn slot_name(&self, slot: usize) -> LayoutResult<&'a str> {
        if slot >= self.slot_count {
            return Err(corrupt(WHAT, format!("slot {slot} does not exist")));
        }
        let at = self.slots_at + 8 * slot;
        let off = le_u32(self.table, at) as usize;
        let len = le_u32(self.table, at + 4) as usize;
        self.pool_str(off, len)
    }

    pub fn slot_names(&self) -> LayoutResult<Vec<&'a str>> {
        (0..self.slot_count).map(|i| self.slot_name(i)).collect()
    }

    /// The profile of a local date: an exception by binary search, else its weekday.
    fn profile_of(&self, days: i32) -> LayoutResult<usize> {
        let (mut lo, mut hi) = (0usize, self.exception_count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let at = self.exceptions_at + 8 * mid;
            let d = le_u32(self.table, at) as i32;
            if d == days {
                let p = le_u16(self.table, at + 4) as usize;
                if p >= self.profile_count {
                    return Err(corrupt(WHAT, format!("profile {p} does not exist")));
                }
                return Ok(p);
            }
            if d < days {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(weekday(days))
    }

    /// The slot of a local date (days since 1970-01-01) and minute of the day.
    pub fn slot_at_local(&self, days: i32, minute: u16) -> LayoutResult<u16> {
        let p = self.profile_of(days)?;
        let at = self.profiles_at + 4 * p;
        let a = le_u32(self.table, at) as usize;
        let b = le_u32(self.table, at + 4) as usize;
        if a >= b || b > self.boundary_count {
            return Err(corrupt(WHAT, format!("profile {p} has no boundaries")));
        }
        // The last boundary starting at or before `minute`.
        let (mut lo, mut hi) = (a + 1, b);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if le_u16(self.table, self.bounds_at + 4 * mid) <= minute {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let at = self.bounds_at + 4 * (lo - 1);
        if lo - 1 == a && le_u16(self.table, at) != 0 {
            return Err(corrupt(
                WHAT,
                format!("profile {p} does not start at 00:00"),
            ));
        }
        let slot = le_u16(self.table, at + 2);
        if slot as usize >= self.slot_count {
            return Err(corrupt(WHAT, format!("slot {slot} does not exist")));
        }
        Ok(slot)
    }

    /// The slot at an instant (seconds since the Unix epoch).
    pub fn slot_id_at(&self, epoch: i64) -> Result<u16, LookupError> {
        if !(MIN_EPOCH..=MAX_EPOCH).contains(&epoch) {
            return Err(LookupError::OutOfRange(epoch));
        }
        let local = match self.tz.timestamp_opt(epoch, 0).single() {
            Some(t) => t.naive_local(),
            None => return Err(LookupError::OutOfRange(epoch)),
        };
        let days = local.date().num_days_from_ce() - UNIX_ORDINAL;
        let minute = (local.hour() * 60 + local.minute()) as u16;
        Ok(self.slot_at_local(days, minute)?)
    }

    /// The slots of many instants, into `out` (same length).
    pub fn slot_ids_at<I: IntoIterator<Item = i64>>(
        &self,
        epochs: I,
        out: &mut Vec<i32>,
    ) -> Result<(), LookupError> {
        for t in epochs {
            out.push(self.slot_id_at(t)? as i32);
        }
        Ok(())
    }
}

/// Days since 1970-01-01 of a calendar date, for callers holding a local date.
pub fn days_from_ymd(y: i32, m: u32, d: u32) -> Option<i32> {
    NaiveDate::from_ymd_opt(y, m, d).map(|d| d.num_days_from_ce() - UNIX_ORDINAL)
}

/// Epoch seconds of an instant given as float seconds, floored; `None` when it is not finite or
/// lies outside [`MIN_EPOCH`], [`MAX_EPOCH`].
pub fn epoch_from_f64(v: f64) -> Option<i64> {
    if !v.is_finite() || v < MIN_EPOCH as f64 || v >= MAX_EPOCH as f64 + 1.0 {
        return None;
    }
    Some(v.floor() as i64)
}

/// Epoch seconds (floored) of a wall-clock time and its offset from UTC: `days` since
/// 1970-01-01 of the local date ([`days_from_ymd`]), the time of day, and the offset in
/// microseconds (east of UTC positive), as an aware `datetime` gives them.
pub fn epoch_from_local(days: i32, hms: (u32, u32, u32), micros: u32, offset_micros: i64) -> i64 {
    let (h, mi, s) = (i64::from(hms.0), i64::from(hms.1), i64::from(hms.2));
    let local = (i64::from(days) * 86_400 + h * 3600 + mi * 60 + s) * 1_000_000 + i64::from(micros);
    (local - offset_micros).div_euclid(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_from_floats_and_from_aware_wall_clocks() {
        assert_eq!(epoch_from_f64(1.9), Some(1));
        assert_eq!(epoch_from_f64(-0.5), Some(-1));
        assert_eq!(epoch_from_f64(MIN_EPOCH as f64), Some(MIN_EPOCH));
        assert_eq!(epoch_from_f64(MAX_EPOCH as f64 + 0.5), Some(MAX_EPOCH));
        assert_eq!(epoch_from_f64(MAX_EPOCH as f64 + 1.0), None);
        assert_eq!(epoch_from_f64(MIN_EPOCH as f64 - 1.0), None);
        assert_eq!(epoch_from_f64(f64::NAN), None);
        assert_eq!(epoch_from_f64(f64::INFINITY), None);
        let day = days_from_ymd(2026, 10, 1).unwrap();
        let midnight_utc = i64::from(day) * 86_400;
        // 08:00:00 at +08:00 is midnight UTC; half a second later is still that second.
        assert_eq!(
            epoch_from_local(day, (8, 0, 0), 0, 8 * 3_600_000_000),
            midnight_utc
        );
        assert_eq!(
            epoch_from_local(day, (8, 0, 0), 500_000, 8 * 3_600_000_000),
            midnight_utc
        );
        // A negative offset, and an offset with seconds: floored, never rounded up.
        assert_eq!(
            epoch_from_local(day, (0, 0, 0), 0, -5 * 3_600_000_000),
            midnight_utc + 5 * 3600
        );
        assert_eq!(
            epoch_from_local(day, (0, 0, 0), 0, 500_000),
            midnight_utc - 1
        );
        assert_eq!(epoch_from_local(-1, (23, 59, 59), 999_999, 0), -1);
    }

    fn spec(slots: &[(&str, &[&str])], default: Option<&str>) -> PlanSpec {
        PlanSpec {
            slots: slots
                .iter()
                .map(|(n, rs)| (n.to_string(), rs.iter().map(|r| r.to_string()).collect()))
                .collect(),
            tz: "Asia/Shanghai".into(),
            default: default.map(str::to_string),
            calendar: vec![
                ("2026-10-01".into(), "holiday".into()),
                ("2026-10-10".into(), "workday".into()),
            ],
            dates: vec![],
            workday_as: "mon".into(),
        }
    }

    fn at(days_since: i32, h: i64, m: i64) -> i64 {
        // Asia/Shanghai is UTC+8 since 1991.
        days_since as i64 * 86400 + (h - 8) * 3600 + m * 60
    }

    fn office() -> PlanSpec {
        spec(
            &[
                ("office", &["mon-fri 09:00-18:00"]),
                ("mobile", &["mon-fri 18:00-09:00", "sat,sun 09:00-09:00"]),
            ],
            None,
        )
    }

    #[test]
    fn zones_the_core_knows() {
        assert!(zone_known("Asia/Shanghai") && zone_known("UTC"));
        assert!(!zone_known("posix/Asia/Shanghai") && !zone_known("Mars/Olympus"));
        assert!(!zone_known("") && !zone_known("../etc/passwd"));
    }

    #[test]
    fn office_hours_holidays_and_workdays() {
        let table = build(&office()).unwrap();
        let v = TimePlanView::open(&table).unwrap();
        v.verify().unwrap();
        assert_eq!(v.slot_names().unwrap(), vec!["office", "mobile"]);
        assert_eq!(v.tz_name().unwrap(), "Asia/Shanghai");
        let d = |y, m, dd| days_from_ymd(y, m, dd).unwrap();
        // Wednesday 2026-09-30.
        assert_eq!(v.slot_id_at(at(d(2026, 9, 30), 10, 0)).unwrap(), 0);
        assert_eq!(v.slot_id_at(at(d(2026, 9, 30), 8, 59)).unwrap(), 1);
        assert_eq!(v.slot_id_at(at(d(2026, 9, 30), 18, 0)).unwrap(), 1);
        // National Day, a Thursday: the holiday profile (sunday's).
        assert_eq!(v.slot_id_at(at(d(2026, 10, 1), 10, 0)).unwrap(), 1);
        // Make-up working day, a Saturday.
        assert_eq!(v.slot_id_at(at(d(2026, 10, 10), 10, 0)).unwrap(), 0);
        assert_eq!(v.slot_id_at(at(d(2026, 10, 17), 10, 0)).unwrap(), 1);
    }

    #[test]
    fn default_fills_gaps() {
        let s = spec(&[("office", &["mon-fri 09:00-18:00"])], Some("mobile"));
        let table = build(&s).unwrap();
        let v = TimePlanView::open(&table).unwrap();
        assert_eq!(v.slot_names().unwrap(), vec!["office", "mobile"]);
        let d = days_from_ymd(2026, 9, 30).unwrap();
        assert_eq!(v.slot_id_at(at(d, 12, 0)).unwrap(), 0);
        assert_eq!(v.slot_id_at(at(d, 20, 0)).unwrap(), 1);
    }

    #[test]
    fn user_dates_override() {
        let mut s = office();
        s.dates = vec![
            (
                "2026-12-31".into(),
                DateSpec::Day(vec![
                    ("office".into(), vec!["00:00-15:00".into()]),
                    ("mobile".into(), vec!["15:00-24:00".into()]),
                ]),
            ),
            ("2026-10-01".into(), DateSpec::Profile("thu".into())),
        ];
        let table = build(&s).unwrap();
        let v = TimePlanView::open(&table).unwrap();
        let d = days_from_ymd(2026, 12, 31).unwrap();
        assert_eq!(v.slot_id_at(at(d, 14, 59)).unwrap(), 0);
        assert_eq!(v.slot_id_at(at(d, 15, 0)).unwrap(), 1);
        let d = days_from_ymd(2026, 10, 1).unwrap();
        assert_eq!(v.slot_id_at(at(d, 10, 0)).unwrap(), 0);
    }

    #[test]
    fn every_problem_at_once() {
        let mut s = spec(
            &[
                (
                    "a",
                    &[
                        "mon-fri 09:00-18:00",
                        "funday 09:00-10:00",
                        "mon 25:00-26:00",
                    ],
                ),
                ("b", &["mon 12:00-13:00", "nonsense"]),
            ],
            None,
        );
        s.tz = "Mars/Olympus".into();
        let e = build(&s).unwrap_err();
        assert_eq!(
            e.problems,
            vec![
                "unknown time zone \"Mars/Olympus\"",
                "slot \"a\": rule \"funday 09:00-10:00\": unknown day \"funday\"",
                "slot \"a\": rule \"mon 25:00-26:00\": bad time \"25:00\"",
                "slot \"a\": rule \"mon 25:00-26:00\": bad time \"26:00\"",
                "slot \"b\": rule \"nonsense\": expected \"DAYS HH:MM-HH:MM\"",
                "no slot covers mon,tue,wed,thu,fri 00:00-09:00",
                "overlap on mon 12:00-13:00: \"a\", \"b\"",
                "no slot covers mon,tue,wed,thu,fri 18:00-24:00",
                "no slot covers sat,sun 00:00-24:00",
            ]
        );
    }

    #[test]
    fn crossing_midnight_and_holiday_spill() {
        let s = spec(
            &[
                ("night", &["sun 22:00-06:00", "holiday 23:00-01:00"]),
                ("day", &["daily 06:00-22:00", "holiday 01:00-23:00"]),
            ],
            Some("other"),
        );
        let table = build(&s).unwrap();
        let v = TimePlanView::open(&table).unwrap();
        let mon = days_from_ymd(2026, 9, 28).unwrap();
        assert_eq!(v.slot_id_at(at(mon, 5, 59)).unwrap(), 0);
        assert_eq!(v.slot_id_at(at(mon, 23, 0)).unwrap(), 2);
        let hol = days_from_ymd(2026, 10, 1).unwrap();
        assert_eq!(v.slot_id_at(at(hol, 0, 30)).unwrap(), 0);
        assert_eq!(v.slot_id_at(at(hol, 12, 0)).unwrap(), 1);
        assert_eq!(v.slot_id_at(at(hol, 23, 30)).unwrap(), 0);
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_time("9:05"), Some(545));
        assert_eq!(parse_time("24:00"), Some(1440));
        assert_eq!(parse_time("24:01"), None);
        assert_eq!(parse_time("+9:05"), None);
        assert_eq!(parse_time("09:5"), None);
        assert_eq!(parse_days("fri-mon").unwrap(), vec![0, 4, 5, 6]);
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("0000-01-01"), None);
        assert_eq!(parse_date("2026-02-29"), None);
        assert_eq!(format_date(parse_date("2026-12-31").unwrap()), "2026-12-31");
    }

    #[test]
    fn bad_tables_are_errors_never_panics() {
        let table = build(&office()).unwrap();
        for cut in 0..table.len() {
            assert!(TimePlanView::open(&table[..cut]).is_err(), "cut {cut}");
        }
        // Flip every byte of the body: opening or looking up may fail, never panic.
        for i in 16..table.len() {
            let mut t = table.clone();
            t[i] ^= 0xFF;
            if let Ok(v) = TimePlanView::open(&t) {
                for h in 0..24 {
                    let _ = v.slot_id_at(at(20_000, h, 0));
                    let _ = v.slot_id_at(at(days_from_ymd(2026, 10, 1).unwrap(), h, 0));
                }
                let _ = v.slot_names();
            }
        }
        let v = TimePlanView::open(&table).unwrap();
        assert!(matches!(
            v.slot_id_at(MAX_EPOCH + 1),
            Err(LookupError::OutOfRange(_))
        ));
        assert!(v.slot_id_at(MIN_EPOCH).is_ok());
        assert!(v.slot_id_at(MAX_EPOCH).is_ok());
    }
}
