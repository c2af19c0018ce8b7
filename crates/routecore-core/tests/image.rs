//! A routing image built from every kind of table and read back, through the crate's public
//! API only (what the binding crate sees): build each table, put them in one image, find each
//! section, open it in place and answer from it; a flipped byte is caught by `verify`.

use routecore_core::group::{self, GroupTable};
use routecore_core::image::{self, ImageView};
use routecore_core::numbers::{self, Kind};
use routecore_core::segments::{self, Row, SegmentView};
use routecore_core::select::Request;
use routecore_core::timeplan::{self, PlanSpec, TimePlanView};
use routecore_core::trie::{self, TrieView};
use routecore_core::{blob, layout};

fn row(segment: u32, area: &str, province: &str, city: &str) -> Row {
    Row {
        segment,
        carrier: 1,
        area_code: area.into(),
        province: province.into(),
        city: city.into(),
    }
}

fn sections() -> Vec<(String, Vec<u8>)> {
    let segments = segments::build(
        &[
            row(1380013, "010", "北京", "北京"),
            row(1350000, "0755", "广东", "深圳"),
        ],
        &[],
    )
    .unwrap();
    let areas = trie::build(&[("010".into(), 1), ("0755".into(), 2)], &[]).unwrap();
    let group = group::build(
        &["13800138000", "13800138001", "02161234567"],
        &[1, 1, 1],
        "sequential",
        false,
        20,
    )
    .unwrap();
    let plan = timeplan::build(&PlanSpec {
        slots: vec![("day".into(), vec!["mon-fri 09:00-18:00".into()])],
        tz: "Asia/Shanghai".into(),
        default: Some("night".into()),
        calendar: vec![],
        dates: vec![],
        workday_as: "mon".into(),
    })
    .unwrap();
    vec![
        ("segments".into(), segments),
        ("4006001001/areas".into(), areas),
        ("4006001001/group/sales".into(), group),
        ("4006001001/hours".into(), plan),
        (
            "4006001001/flow".into(),
            blob::build(b"{\"greeting\": \"welcome\"}"),
        ),
    ]
}

fn build_image() -> Vec<u8> {
    let owned = sections();
    let refs: Vec<(String, &[u8])> = owned.iter().map(|(n, d)| (n.clone(), &d[..])).collect();
    image::build(&refs).unwrap()
}

#[test]
fn every_table_kind_is_found_and_answers_from_the_image() {
    let img = build_image();
    let view = ImageView::open(&img).unwrap();
    assert_eq!(view.len(), 5);
    view.verify().unwrap();
    assert_eq!(view.content_hash(), layout::body_crc(&img));

    let seg = SegmentView::open(view.table("segments", segments::MAGIC).unwrap()).unwrap();
    let caller = numbers::classify(&seg, b"+86 138-0013-8000");
    assert_eq!(
        (caller.kind, caller.number()),
        (Kind::Mobile, "13800138000")
    );
    assert_eq!(seg.region(caller.region).unwrap().city, "北京");

    let areas = TrieView::open(view.table("4006001001/areas", trie::MAGIC).unwrap()).unwrap();
    assert_eq!(
        areas.longest(b"07551234567").map(|m| (m.value, m.len)),
        Some((2, 4))
    );

    let g = view.table("4006001001/group/sales", group::MAGIC).unwrap();
    let g = GroupTable::open(g).unwrap();
    let idle = [false, true, true];
    let req = Request {
        idle: Some(&idle),
        ..Request::default()
    };
    // Sequential, idle first off: list order, one destination an attempt.
    let sel = g.select(&req).unwrap();
    let order: Vec<&[u8]> = sel.iter().collect();
    assert_eq!(order, [&[0u8][..], &[1], &[2]]);

    let plan =
        TimePlanView::open(view.table("4006001001/hours", timeplan::MAGIC).unwrap()).unwrap();
    let thursday = timeplan::days_from_ymd(2026, 10, 15).unwrap();
    let ten_am = timeplan::epoch_from_local(thursday, (10, 0, 0), 0, 8 * 3_600_000_000);
    let names = plan.slot_names().unwrap();
    assert_eq!(names[plan.slot_id_at(ten_am).unwrap() as usize], "day");
    assert_eq!(
        names[plan.slot_id_at(ten_am + 9 * 3600).unwrap() as usize],
        "night"
    );

    let flow = blob::payload(view.table("4006001001/flow", blob::MAGIC).unwrap()).unwrap();
    assert_eq!(flow, b"{\"greeting\": \"welcome\"}");
}

#[test]
fn the_batch_path_reads_the_images_segments() {
    let img = build_image();
    let view = ImageView::open(&img).unwrap();
    let s = view.section_of("segments", segments::MAGIC).unwrap();
    let seg = SegmentView::open(view.section_bytes(s)).unwrap();
    let mut items = Vec::new();
    for n in ["13800138000", "075512345678", "x"] {
        let mut field = [0u8; 16];
        field[..n.len()].copy_from_slice(n.as_bytes());
        items.extend_from_slice(&field);
    }
    let (kinds, regions) = numbers::classify_fixed(&seg, &items, 16).unwrap();
    assert_eq!(
        kinds,
        [
            Kind::Mobile as u8,
            Kind::Landline as u8,
            Kind::Invalid as u8
        ]
    );
    assert_eq!(seg.region(regions[0]).unwrap().area_code, "010");
    assert_eq!(seg.region(regions[1]).unwrap().area_code, "0755");
    assert_eq!(regions[2], 0);
}

#[test]
fn a_flipped_byte_in_any_section_fails_verify_not_open() {
    let clean = build_image();
    let view = ImageView::open(&clean).unwrap();
    for i in 0..view.len() {
        let s = view.entry(i).unwrap();
        let mut img = clean.clone();
        img[s.offset + s.len - 1] ^= 0x40;
        let v = ImageView::open(&img).unwrap();
        assert!(v.verify().is_err(), "section {}", v.name(i).unwrap());
        assert_eq!(v.content_hash(), view.content_hash());
    }
}
