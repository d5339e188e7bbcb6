// SPDX-License-Identifier: GPL-2.0
//! Tests of version 1.6 (the live checkpoint): the ROUND and PREVPAGES
//! records alone (round trips, every field rule), the encoder's resume
//! (a stream continued by another encoder is the same bytes), and the
//! validator's placement rules over the live sample.

use std::vec;
use std::vec::Vec;

use super::{check, items, reencode, refused, Img, Rec};
use crate::sample;
use crate::*;

/// The live sample ([`sample::build_live`]).
fn live_bytes() -> Vec<u8> {
    let mut buf = vec![0u8; sample::SAMPLE_MAX_LEN];
    let n = sample::build_live(&mut buf).expect("live sample builds");
    buf.truncate(n);
    buf
}

/// One whole record written by `f` through an encoder of the live
/// sample's header.
fn enc(f: impl FnOnce(&mut Encoder, &mut [u8]) -> Result<usize, EncodeError>) -> Vec<u8> {
    let mut e = Encoder::new(sample::header_live());
    e.header(&mut [0u8; HEADER_LEN]).unwrap();
    let mut buf = vec![0u8; 256];
    let n = f(&mut e, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// Decodes a whole record (in a 1.6 image).
fn dec(b: &[u8]) -> Result<Record<'_>, ErrorKind> {
    let hdr = RecordHeader::decode(&b[..RECORD_HEADER_LEN], 0).unwrap();
    decode_record(&hdr, &b[RECORD_HEADER_LEN..], &sample::header_live())
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[16 + off..16 + off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put64(b: &mut [u8], off: usize, v: u64) {
    b[16 + off..16 + off + 8].copy_from_slice(&v.to_le_bytes());
}

const ROUND: Round = Round {
    round: 3,
    src: 7,
    pid: 4242,
};

const PREV: PrevPages = PrevPages {
    addr: 0x7f00_0000_1000,
    nr_pages: 5,
    src: 7,
};

// ---------------------------------------------------------------------------
// The records alone
// ---------------------------------------------------------------------------

#[test]
fn round_layout_and_round_trip() {
    let b = enc(|e, buf| e.round(&ROUND, buf));
    assert_eq!(b.len(), RECORD_HEADER_LEN + ROUND_PAYLOAD_LEN);
    assert_eq!(&b[..4], &RECORD_ROUND.to_le_bytes());
    assert_eq!(&b[4..8], &RECORD_FLAG_MUST_UNDERSTAND.to_le_bytes());
    assert_eq!(&b[8..16], &16u64.to_le_bytes());
    assert_eq!(&b[16..20], &3u32.to_le_bytes());
    assert_eq!(&b[20..24], &7u32.to_le_bytes());
    assert_eq!(&b[24..28], &4242u32.to_le_bytes());
    assert_eq!(&b[28..32], &[0; 4]);
    let r = dec(&b).unwrap();
    assert_eq!(r, Record::Round(ROUND));
    assert_eq!(r.kind(), RECORD_ROUND);
    assert_eq!(enc(|e, buf| e.record_any(&r, buf)), b);
    assert_eq!(record_name(RECORD_ROUND), "ROUND");
    assert_eq!(record_flags(RECORD_ROUND), RECORD_FLAG_MUST_UNDERSTAND);
    assert!(RecordHeader::new(RECORD_ROUND, 16).is_known());
}

#[test]
fn prev_pages_layout_and_round_trip() {
    let b = enc(|e, buf| e.prev_pages(&PREV, buf));
    assert_eq!(b.len(), RECORD_HEADER_LEN + PREVPAGES_PAYLOAD_LEN);
    assert_eq!(&b[..4], &RECORD_PREVPAGES.to_le_bytes());
    assert_eq!(&b[4..8], &RECORD_FLAG_MUST_UNDERSTAND.to_le_bytes());
    assert_eq!(&b[8..16], &24u64.to_le_bytes());
    assert_eq!(&b[16..24], &PREV.addr.to_le_bytes());
    assert_eq!(&b[24..32], &5u64.to_le_bytes());
    assert_eq!(&b[32..36], &7u32.to_le_bytes());
    assert_eq!(&b[36..40], &[0; 4]);
    let r = dec(&b).unwrap();
    assert_eq!(r, Record::PrevPages(PREV));
    assert_eq!(r.kind(), RECORD_PREVPAGES);
    assert_eq!(enc(|e, buf| e.record_any(&r, buf)), b);
    assert_eq!(PREV.end(4096), Some(0x7f00_0000_6000));
    assert_eq!(record_name(RECORD_PREVPAGES), "PREVPAGES");
    assert_eq!(record_flags(RECORD_PREVPAGES), RECORD_FLAG_MUST_UNDERSTAND);
    assert!(RecordHeader::new(RECORD_PREVPAGES, 24).is_known());
}

/// The ROUND record with payload field at `off` set to `v`: the decoder's
/// verdict.
fn round_with(off: usize, v: u32) -> Result<Record<'static>, ErrorKind> {
    let mut b = enc(|e, buf| e.round(&ROUND, buf));
    put32(&mut b, off, v);
    dec(&b).map(|r| match r {
        Record::Round(r) => Record::Round(r),
        _ => unreachable!(),
    })
}

#[test]
fn round_fields_checked() {
    use ErrorKind::*;
    assert_eq!(round_with(0, 0), Err(RoundBadNumber { round: 0 }));
    assert!(round_with(0, 1).is_ok());
    assert!(round_with(0, u32::MAX).is_ok());
    assert_eq!(round_with(4, 0), Err(RoundBadSrc { src: 0 }));
    assert!(round_with(4, 1).is_ok());
    assert!(round_with(4, MAX_LIVE_SRCS).is_ok());
    assert_eq!(
        round_with(4, MAX_LIVE_SRCS + 1),
        Err(RoundBadSrc {
            src: MAX_LIVE_SRCS + 1
        })
    );
    assert_eq!(round_with(8, 0), Err(RoundBadPid { pid: 0 }));
    assert!(round_with(8, PID_MAX_LIMIT).is_ok());
    assert_eq!(
        round_with(8, PID_MAX_LIMIT + 1),
        Err(RoundBadPid {
            pid: PID_MAX_LIMIT + 1
        })
    );
    assert_eq!(round_with(12, 1), Err(RoundReserved));
    // A wrong length is refused by the frame.
    let mut b = enc(|e, buf| e.round(&ROUND, buf));
    b.extend_from_slice(&[0; 8]);
    b[8..16].copy_from_slice(&24u64.to_le_bytes());
    assert_eq!(
        dec(&b),
        Err(BadPayloadLength {
            len: 24,
            expected: 16
        })
    );
    // The encoder refuses what the decoder would.
    let mut e = Encoder::new(sample::header_live());
    let mut buf = [0u8; 64];
    e.header(&mut [0u8; HEADER_LEN]).unwrap();
    for bad in [
        Round { round: 0, ..ROUND },
        Round { src: 0, ..ROUND },
        Round {
            src: MAX_LIVE_SRCS + 1,
            ..ROUND
        },
        Round { pid: 0, ..ROUND },
    ] {
        assert_eq!(e.round(&bad, &mut buf), Err(EncodeError::Limit), "{bad:?}");
    }
    assert_eq!(e.records(), 0);
    assert_eq!(e.offset(), HEADER_LEN as u64);
}

/// The PREVPAGES record with `f` applied to its payload: the verdict.
fn prev_with(f: impl FnOnce(&mut Vec<u8>)) -> Result<(), ErrorKind> {
    let mut b = enc(|e, buf| e.prev_pages(&PREV, buf));
    f(&mut b);
    dec(&b).map(|_| ())
}

#[test]
fn prev_pages_fields_checked() {
    use ErrorKind::*;
    let end = sample::header_live().user_space_end();
    assert_eq!(
        prev_with(|b| put64(b, 8, 0)),
        Err(PrevPagesBadCount { nr_pages: 0 })
    );
    assert!(prev_with(|b| put64(b, 8, 1)).is_ok());
    assert!(prev_with(|b| put64(b, 8, MAX_PAGES_PER_RUN)).is_ok());
    assert_eq!(
        prev_with(|b| put64(b, 8, MAX_PAGES_PER_RUN + 1)),
        Err(PrevPagesBadCount {
            nr_pages: MAX_PAGES_PER_RUN + 1
        })
    );
    assert_eq!(
        prev_with(|b| put64(b, 0, 0x1234)),
        Err(PrevPagesUnaligned { addr: 0x1234 })
    );
    assert!(prev_with(|b| put64(b, 0, 0)).is_ok());
    // The last pages of user space, and one past them.
    assert!(prev_with(|b| put64(b, 0, end - 5 * 4096)).is_ok());
    assert_eq!(
        prev_with(|b| put64(b, 0, end - 4 * 4096)),
        Err(PrevPagesInKernelSpace {
            addr: end - 4 * 4096
        })
    );
    assert_eq!(
        prev_with(|b| {
            put64(b, 0, !0xfffu64);
            put64(b, 8, MAX_PAGES_PER_RUN);
        }),
        Err(PrevPagesInKernelSpace { addr: !0xfffu64 })
    );
    assert_eq!(
        prev_with(|b| put32(b, 16, 0)),
        Err(PrevPagesBadSrc { src: 0 })
    );
    assert!(prev_with(|b| put32(b, 16, MAX_LIVE_SRCS)).is_ok());
    assert_eq!(
        prev_with(|b| put32(b, 16, MAX_LIVE_SRCS + 1)),
        Err(PrevPagesBadSrc {
            src: MAX_LIVE_SRCS + 1
        })
    );
    assert_eq!(prev_with(|b| put32(b, 20, 1)), Err(PrevPagesReserved));
    let mut e = Encoder::new(sample::header_live());
    let mut buf = [0u8; 64];
    e.header(&mut [0u8; HEADER_LEN]).unwrap();
    for bad in [
        PrevPages {
            nr_pages: 0,
            ..PREV
        },
        PrevPages { addr: 0x10, ..PREV },
        PrevPages { addr: end, ..PREV },
        PrevPages { src: 0, ..PREV },
    ] {
        assert_eq!(
            e.prev_pages(&bad, &mut buf),
            Err(EncodeError::Limit),
            "{bad:?}"
        );
    }
    assert_eq!(e.records(), 0);
}

// ---------------------------------------------------------------------------
// The encoder's resume
// ---------------------------------------------------------------------------

#[test]
fn resume_at_every_record_gives_the_same_bytes() {
    let want = live_bytes();
    let records = u64::from_le_bytes(want[want.len() - 24..want.len() - 16].try_into().unwrap());
    assert!(records > 30, "{records} records");
    for split in 0..=records + 1 {
        let mut buf = vec![0u8; sample::SAMPLE_MAX_LEN];
        let n = sample::build_live_split(&mut buf, split).unwrap();
        assert_eq!(&buf[..n], &want[..], "resumed after {split} records");
    }
}

#[test]
fn resume_carries_offset_records_and_crc_state() {
    let h = sample::header_live();
    let mut one = Encoder::new(h);
    let mut a = vec![0u8; 4096];
    let mut pos = one.header(&mut a).unwrap();
    pos += one.round(&ROUND, &mut a[pos..]).unwrap();
    assert_eq!(one.crc_state(), !one.crc32c());
    assert_eq!(one.crc32c(), crc32c(&a[..pos]));
    let mut two = Encoder::resume(h, one.offset(), one.records(), one.crc_state());
    assert_eq!(
        (
            two.offset(),
            two.records(),
            two.crc32c(),
            *two.file_header()
        ),
        (pos as u64, 1, crc32c(&a[..pos]), h)
    );
    // The next piece is a record: no second file header.
    assert_eq!(
        two.header(&mut [0u8; HEADER_LEN]),
        Err(EncodeError::Sequence)
    );
    let mut b = a.clone();
    let page = [0x5au8; 4096];
    let mut p1 = pos;
    for (e, buf) in [(&mut one, &mut a), (&mut two, &mut b)] {
        let mut p = pos;
        p += e.pages_begin(0x1000, 1, &mut buf[p..]).unwrap();
        e.data_with_crc(4096, |st| crc32c_raw(st, &page)).unwrap();
        p += e.prev_pages(&PREV, &mut buf[p..]).unwrap();
        p += e.trailer(&mut buf[p..]).unwrap();
        p1 = p;
    }
    assert_eq!(a[..p1], b[..p1]);
    assert_eq!(one.crc32c(), two.crc32c());
    assert_eq!(one.offset(), two.offset());
}

// ---------------------------------------------------------------------------
// The live sample and the placement rules
// ---------------------------------------------------------------------------

/// The live sample, split by raw framing.
fn live_img() -> Img {
    Img::split(&live_bytes())
}

/// Index of the `n`-th record of type `kind` of `img`.
fn nth(img: &Img, kind: u32, n: usize) -> usize {
    img.recs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == kind)
        .nth(n)
        .unwrap_or_else(|| panic!("no {} #{n}", record_name(kind)))
        .0
}

/// Index of the PAGES or PREVPAGES record of `img` at `addr` after the
/// TREE.
fn run_at(img: &Img, kind: u32, addr: u64) -> usize {
    let tree = nth(img, RECORD_TREE, 0);
    (tree..img.recs.len())
        .find(|&i| img.recs[i].kind == kind && img.recs[i].payload[..8] == addr.to_le_bytes())
        .unwrap_or_else(|| panic!("no {} at {addr:#x}", record_name(kind)))
}

/// A PREVPAGES record as raw parts.
fn prev_rec(addr: u64, nr_pages: u64, src: u32) -> Rec {
    let mut p = Vec::new();
    p.extend_from_slice(&addr.to_le_bytes());
    p.extend_from_slice(&nr_pages.to_le_bytes());
    p.extend_from_slice(&src.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    Rec::new(RECORD_PREVPAGES, p)
}

/// A ROUND record as raw parts.
fn round_rec(round: u32, src: u32, pid: u32) -> Rec {
    let mut p = Vec::new();
    for v in [round, src, pid, 0] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    Rec::new(RECORD_ROUND, p)
}

/// Asserts `img` is refused with `kind` in its record `i`.
#[track_caller]
fn refused_at(img: &Img, i: usize, kind: ErrorKind) {
    refused(&img.bytes(), img.recs[i].kind, img.offset(i), kind);
}

/// Asserts `img` is valid.
#[track_caller]
fn valid(img: &Img) -> Summary {
    check(&img.bytes()).unwrap_or_else(|e| panic!("refused: {e}"))
}

const USER_END: u64 = 0x7fff_ffff_f000;

#[test]
fn live_sample_is_valid() {
    let b = live_bytes();
    let s = check(&b).unwrap();
    assert_eq!(s.header, sample::header_live());
    assert_eq!(s.header.minor, VERSION_MINOR_LIVE);
    assert_eq!((s.tasks, s.mms, s.files), (4, 2, 9));
    assert_eq!((s.rounds, s.round_sections), (2, 4));
    assert_eq!((s.round_runs, s.round_pages), (6, 10));
    assert_eq!((s.prev_runs, s.prev_pages), (5, 6));
    assert_eq!((s.page_runs, s.pages), (5, 5));
    assert!(b.len() <= sample::SAMPLE_MAX_LEN);
    // The stream: the round sections, then the TREE.
    let it = items(&b);
    let kinds: Vec<u32> = it.iter().map(|i| i.header.kind).collect();
    let (r, p) = (RECORD_ROUND, RECORD_PAGES);
    assert_eq!(kinds[..11], [r, p, p, p, r, p, r, p, p, r, RECORD_TREE]);
    let rounds: Vec<Round> = it
        .iter()
        .filter_map(|i| match i.record {
            Record::Round(r) => Some(r),
            _ => None,
        })
        .collect();
    let want: Vec<Round> = sample::live_rounds().iter().map(|(r, _)| *r).collect();
    assert_eq!(rounds, want);
    // The round pages' data is the round's copy.
    let Record::Pages(pg) = it[7].record else {
        panic!("not PAGES")
    };
    assert_eq!((pg.addr, pg.nr_pages), (0x60_2000, 1));
    assert_eq!(pg.data[9], sample::round_page_byte(2, 0x60_2000, 9));
    // PAGES and PREVPAGES interleaved in the heap.
    let heap = it
        .iter()
        .position(|i| matches!(i.record, Record::Vma(v) if v.kind == VmaKind::Heap))
        .unwrap();
    let runs: Vec<(u32, u64)> = it[heap + 1..heap + 4]
        .iter()
        .map(|i| match i.record {
            Record::Pages(p) => (0, p.addr),
            Record::PrevPages(p) => (p.src, p.addr),
            _ => panic!("not a run"),
        })
        .collect();
    assert_eq!(runs, [(1, 0x60_0000), (0, 0x60_1000), (1, 0x60_2000)]);
    // Decoded and encoded again: the same bytes.
    assert_eq!(reencode(&b), b);
}

#[test]
fn validator_reports_the_round_section() {
    let b = live_bytes();
    let mut v = Validator::new();
    let mut pos = 0usize;
    let mut seen = Vec::new();
    loop {
        match v.expect() {
            Expect::Header => {
                v.feed_header(&b[..HEADER_LEN]).unwrap();
                pos = HEADER_LEN;
                assert_eq!(v.round(), None);
            }
            Expect::RecordHeader => {
                let h = v.feed_record_header(&b[pos..pos + 16]).unwrap();
                pos += 16;
                if h.kind == RECORD_PAGES {
                    seen.push(v.round().map(|r| (r.round, r.src)));
                }
            }
            Expect::Tree(n) => {
                v.feed_tree(&b[pos..pos + n as usize]).unwrap();
                pos += n as usize;
                assert_eq!(v.round(), None);
            }
            Expect::Payload(n) => {
                v.feed_payload(&b[pos..pos + n as usize]).unwrap();
                pos += n as usize;
            }
            Expect::Data(n) => {
                v.feed_data(&b[pos..pos + n as usize]).unwrap();
                pos += n as usize;
            }
            Expect::End => break,
            Expect::Failed(e) => panic!("{e}"),
        }
    }
    let want = [(1, 1), (1, 1), (1, 1), (1, 2), (2, 1), (2, 1)];
    let (sections, mms) = seen.split_at(6);
    assert_eq!(sections, want.map(Some));
    assert!(mms.len() == 5 && mms.iter().all(Option::is_none));
    assert!(v.end_of_input().is_ok());
}

#[test]
fn non_live_1_6_image_is_a_1_5_image() {
    let mut img = Img::sample15();
    img.header[10] = VERSION_MINOR_LIVE as u8;
    let s = valid(&img);
    assert_eq!(s.header.minor, 6);
    assert_eq!((s.rounds, s.round_sections, s.prev_runs), (0, 0, 0));
}

#[test]
fn live_records_refused_before_1_6() {
    // The live sample as a 1.5 image: its first ROUND.
    let mut img = live_img();
    img.header[10] = 5;
    refused_at(&img, 0, ErrorKind::RecordNewerThanImage { minor: 5 });
    // Without its round sections: its first PREVPAGES.
    let tree = nth(&img, RECORD_TREE, 0);
    img.recs.drain(..tree);
    let i = nth(&img, RECORD_PREVPAGES, 0);
    refused_at(&img, i, ErrorKind::RecordNewerThanImage { minor: 5 });
    // And in 1.6 that is refused for the PREVPAGES' unknown src.
    img.header[10] = 6;
    refused_at(&img, i, ErrorKind::PrevPagesUnknownSrc { src: 1 });
}

#[test]
fn round_only_before_the_tree() {
    let mut img = live_img();
    let tree = nth(&img, RECORD_TREE, 0);
    img.recs.insert(tree + 1, round_rec(3, 1, 100));
    refused_at(&img, tree + 1, ErrorKind::RoundAfterTree);
    // Also at the end, before the trailer.
    let mut img = live_img();
    let n = img.recs.len();
    img.recs.push(round_rec(3, 1, 100));
    refused_at(&img, n, ErrorKind::RoundAfterTree);
    // A ROUND section with no TREE after it.
    let mut img = live_img();
    img.recs.truncate(tree);
    refused(
        &img.bytes(),
        RECORD_TRAILER,
        img.offset(tree),
        ErrorKind::OutOfOrder {
            expected: RECORD_TREE,
        },
    );
}

#[test]
fn pages_before_the_first_round_refused() {
    let mut img = live_img();
    img.recs.remove(0);
    refused_at(
        &img,
        0,
        ErrorKind::OutOfOrder {
            expected: RECORD_TREE,
        },
    );
}

#[test]
fn round_and_src_strictly_increase() {
    use ErrorKind::RoundNotAscending;
    let r1 = nth(&live_img(), RECORD_ROUND, 1);
    let r2 = nth(&live_img(), RECORD_ROUND, 2);
    // (1, 2) -> (1, 1): the same as the previous.
    let mut img = live_img();
    img.set32(r1, 4, 1);
    refused_at(
        &img,
        r1,
        RoundNotAscending {
            round: 1,
            src: 1,
            prev_round: 1,
            prev_src: 1,
        },
    );
    // (2, 1) -> (1, 1): below (1, 2).
    let mut img = live_img();
    img.set32(r2, 0, 1);
    refused_at(
        &img,
        r2,
        RoundNotAscending {
            round: 1,
            src: 1,
            prev_round: 1,
            prev_src: 2,
        },
    );
    // Rounds may skip numbers, and a round need not have every src.
    let mut img = live_img();
    img.set32(r2, 0, 5);
    img.set32(nth(&img, RECORD_ROUND, 3), 0, 5);
    assert_eq!(valid(&img).rounds, 5);
    let mut img = live_img();
    img.recs.remove(nth(&img, RECORD_ROUND, 3));
    assert_eq!(valid(&img).round_sections, 3);
}

#[test]
fn round_reserved_refused_in_place() {
    let mut img = live_img();
    img.set32(0, 12, 9);
    refused_at(&img, 0, ErrorKind::RoundReserved);
    let mut img = live_img();
    img.set32(0, 4, MAX_LIVE_SRCS + 1);
    refused_at(
        &img,
        0,
        ErrorKind::RoundBadSrc {
            src: MAX_LIVE_SRCS + 1,
        },
    );
}

#[test]
fn round_pages_sorted_not_overlapping() {
    use ErrorKind::RoundPagesNotAscending;
    // Section (1, 1): 0x401000 (1), 0x600000 (3), 0x7fff_ffff_c000 (3).
    let mut img = live_img();
    img.set64(2, 0, 0x40_0000);
    refused_at(
        &img,
        2,
        RoundPagesNotAscending {
            addr: 0x40_0000,
            floor: 0x40_2000,
        },
    );
    let mut img = live_img();
    img.set64(3, 0, 0x60_2000);
    refused_at(
        &img,
        3,
        RoundPagesNotAscending {
            addr: 0x60_2000,
            floor: 0x60_3000,
        },
    );
    // The same address twice.
    let mut img = live_img();
    img.set64(2, 0, 0x40_1000);
    refused_at(
        &img,
        2,
        RoundPagesNotAscending {
            addr: 0x40_1000,
            floor: 0x40_2000,
        },
    );
    // Touching is fine; each section starts again from 0 (section (1, 2)
    // is above, (2, 1) below the end of (1, 1)).
    let mut img = live_img();
    img.set64(3, 0, 0x60_3000);
    valid(&img);
}

#[test]
fn round_pages_below_user_space_end() {
    let mut img = live_img();
    img.set64(3, 0, USER_END - 3 * 4096);
    valid(&img);
    let mut img = live_img();
    img.set64(3, 0, USER_END - 2 * 4096);
    refused_at(
        &img,
        3,
        ErrorKind::RoundPagesInKernelSpace {
            addr: USER_END - 2 * 4096,
        },
    );
    // An unaligned one is refused as any PAGES.
    let mut img = live_img();
    img.set64(1, 0, 0x40_1008);
    refused_at(&img, 1, ErrorKind::PagesUnaligned);
}

#[test]
fn prev_pages_src_seen_in_a_round() {
    // src 3 is valid but has no ROUND section.
    let mut img = live_img();
    let i = run_at(&img, RECORD_PREVPAGES, 0x40_1000);
    img.set32(i, 16, 3);
    refused_at(&img, i, ErrorKind::PrevPagesUnknownSrc { src: 3 });
    // Without the round sections of src 2, the child's PREVPAGES.
    let mut img = live_img();
    for k in [3, 1] {
        let r = nth(&img, RECORD_ROUND, k);
        let next = (r + 1..img.recs.len())
            .find(|&j| img.recs[j].kind != RECORD_PAGES)
            .unwrap();
        img.recs.drain(r..next);
    }
    let i = run_at(&img, RECORD_PREVPAGES, 0x7f10_0000_0000);
    refused_at(&img, i, ErrorKind::PrevPagesUnknownSrc { src: 2 });
    // A src seen later in the stream would not do either: every ROUND is
    // before the TREE, so there is none.
}

#[test]
fn prev_pages_one_src_per_mm_group() {
    let mut img = live_img();
    let i = run_at(&img, RECORD_PREVPAGES, 0x60_2000);
    img.set32(i, 16, 2);
    refused_at(
        &img,
        i,
        ErrorKind::PrevPagesSrcMismatch {
            src: 2,
            expected: 1,
        },
    );
    // Each MM group has its own: the child's could be src 1 as well.
    let mut img = live_img();
    let i = run_at(&img, RECORD_PREVPAGES, 0x7f10_0000_0000);
    img.set32(i, 16, 1);
    valid(&img);
    // And the first of an MM group sets it: the root's all src 2.
    let mut img = live_img();
    let tree = nth(&img, RECORD_TREE, 0);
    let mm2 = nth(&img, RECORD_MM, 1);
    for i in tree..mm2 {
        if img.recs[i].kind == RECORD_PREVPAGES {
            img.set32(i, 16, 2);
        }
    }
    valid(&img);
}

#[test]
fn prev_pages_inside_their_vma() {
    use ErrorKind::PrevPagesOutsideVma;
    // The executable's VMA is 0x400000..0x402000.
    let mut img = live_img();
    let i = run_at(&img, RECORD_PREVPAGES, 0x40_1000);
    img.set64(i, 8, 2);
    refused_at(
        &img,
        i,
        PrevPagesOutsideVma {
            addr: 0x40_1000,
            nr_pages: 2,
        },
    );
    // In the next VMA's range but in this VMA's slot.
    let mut img = live_img();
    img.set64(i, 0, 0x60_0000);
    refused_at(
        &img,
        i,
        PrevPagesOutsideVma {
            addr: 0x60_0000,
            nr_pages: 1,
        },
    );
    // Below the heap (0x600000..0x603000), as its first run.
    let mut img = live_img();
    let h = run_at(&img, RECORD_PREVPAGES, 0x60_0000);
    img.set64(h, 0, 0x5f_f000);
    refused_at(
        &img,
        h,
        PrevPagesOutsideVma {
            addr: 0x5f_f000,
            nr_pages: 1,
        },
    );
    // The whole VMA is fine.
    let mut img = live_img();
    let s = run_at(&img, RECORD_PREVPAGES, 0x7fff_ffff_c000);
    img.set64(s, 0, 0x7fff_fffd_e000);
    img.set64(s, 8, (0x7fff_ffff_e000 - 0x7fff_fffd_e000) / 4096);
    assert_eq!(valid(&img).prev_pages, 4 + 32);
}

#[test]
fn prev_pages_sorted_with_the_pages() {
    use ErrorKind::PrevPagesNotAscending;
    // Heap: PREVPAGES 0x600000, PAGES 0x601000, PREVPAGES 0x602000.
    let mut img = live_img();
    let i = run_at(&img, RECORD_PREVPAGES, 0x60_2000);
    img.set64(i, 0, 0x60_1000);
    refused_at(
        &img,
        i,
        PrevPagesNotAscending {
            addr: 0x60_1000,
            floor: 0x60_2000,
        },
    );
    // Overlapping the PAGES after it: the PAGES is refused.
    let mut img = live_img();
    let i = run_at(&img, RECORD_PREVPAGES, 0x60_0000);
    img.set64(i, 8, 2);
    refused_at(&img, i + 1, ErrorKind::PagesNotAscending);
    // Two PREVPAGES in a row, overlapping.
    let mut img = live_img();
    let i = run_at(&img, RECORD_PREVPAGES, 0x7fff_ffff_c000);
    img.recs.insert(i + 1, prev_rec(0x7fff_ffff_d000, 1, 1));
    refused_at(
        &img,
        i + 1,
        PrevPagesNotAscending {
            addr: 0x7fff_ffff_d000,
            floor: 0x7fff_ffff_e000,
        },
    );
    // Touching, in a row: fine.
    let mut img = live_img();
    img.set64(i, 8, 1);
    img.recs.insert(i + 1, prev_rec(0x7fff_ffff_d000, 1, 1));
    valid(&img);
}

#[test]
fn prev_pages_only_in_precopied_vmas() {
    // The root's shared anonymous VMA (0x7ff0_0000_0000..+0x2000): after
    // its PAGES.
    let mut img = live_img();
    let p = run_at(&img, RECORD_PAGES, 0x7ff0_0000_0000);
    img.recs.insert(p + 1, prev_rec(0x7ff0_0000_1000, 1, 1));
    refused_at(&img, p + 1, ErrorKind::PrevPagesBadVmaKind { kind: 4 });
    // The child's vDSO (0x7f00_0000_0000..+0x2000), which has no runs.
    let mut img = live_img();
    let mm2 = nth(&img, RECORD_MM, 1);
    img.recs.insert(mm2 + 2, prev_rec(0x7f00_0000_0000, 1, 2));
    refused_at(&img, mm2 + 2, ErrorKind::PrevPagesBadVmaKind { kind: 5 });
    // The child's memfd mapping (FileShared), after its MAPFILE.
    let mut img = live_img();
    let n = img.recs.len();
    img.recs.push(prev_rec(0x7ff0_0002_0000, 1, 2));
    refused_at(&img, n, ErrorKind::PrevPagesBadVmaKind { kind: 3 });
    // Each allowed kind is in the sample: file private, heap, stack,
    // anonymous private.
    let b = live_bytes();
    let mut kinds: Vec<VmaKind> = Vec::new();
    let mut cur = None;
    for it in items(&b) {
        match it.record {
            Record::Vma(v) => cur = Some(v.kind),
            Record::PrevPages(_) if !kinds.contains(&cur.unwrap()) => kinds.push(cur.unwrap()),
            _ => {}
        }
    }
    assert_eq!(
        kinds,
        [
            VmaKind::FilePrivate,
            VmaKind::Heap,
            VmaKind::Stack,
            VmaKind::AnonPrivate
        ]
    );
}

#[test]
fn prev_pages_outside_an_mm_group_refused() {
    // Among the tasks.
    let mut img = live_img();
    let t = nth(&img, RECORD_TASK, 1);
    img.recs.insert(t, prev_rec(0x40_1000, 1, 1));
    let e = check(&img.bytes()).unwrap_err();
    assert_eq!((e.record, e.offset), (RECORD_PREVPAGES, img.offset(t)));
    assert!(matches!(e.kind, ErrorKind::OutOfOrder { .. }), "{e}");
    // In a round section.
    let mut img = live_img();
    img.recs.insert(1, prev_rec(0x40_1000, 1, 1));
    refused_at(
        &img,
        1,
        ErrorKind::OutOfOrder {
            expected: RECORD_TREE,
        },
    );
    // Right after an MM, before its first VMA.
    let mut img = live_img();
    let mm = nth(&img, RECORD_MM, 0);
    img.recs.insert(mm + 1, prev_rec(0x40_1000, 1, 1));
    refused_at(
        &img,
        mm + 1,
        ErrorKind::PrevPagesOutsideVma {
            addr: 0x40_1000,
            nr_pages: 1,
        },
    );
}

#[test]
fn prev_pages_fields_refused_in_place() {
    let mut img = live_img();
    let i = run_at(&img, RECORD_PREVPAGES, 0x40_1000);
    img.set32(i, 20, 1);
    refused_at(&img, i, ErrorKind::PrevPagesReserved);
    let mut img = live_img();
    img.set64(i, 0, 0x40_1800);
    refused_at(&img, i, ErrorKind::PrevPagesUnaligned { addr: 0x40_1800 });
    let mut img = live_img();
    img.set64(i, 8, 0);
    refused_at(&img, i, ErrorKind::PrevPagesBadCount { nr_pages: 0 });
    let mut img = live_img();
    img.recs[i].payload.extend_from_slice(&[0; 8]);
    refused_at(
        &img,
        i,
        ErrorKind::BadPayloadLength {
            len: 32,
            expected: 24,
        },
    );
}

#[test]
fn live_image_truncated_in_a_round_section() {
    let b = live_bytes();
    let img = live_img();
    // Inside the page data of the first section's second run.
    let off = img.offset(2) as usize;
    let cut = off + 16 + 16 + 4096 + 100;
    refused(
        &b[..cut],
        RECORD_PAGES,
        off as u64,
        ErrorKind::TruncatedRecord {
            missing: 3 * 4096 - 4096 - 100,
        },
    );
    // Inside a ROUND record.
    let off = img.offset(4) as usize;
    refused(
        &b[..off + 16 + 8],
        RECORD_ROUND,
        off as u64,
        ErrorKind::TruncatedRecord { missing: 8 },
    );
    // Between two sections.
    let off = img.offset(6);
    refused(&b[..off as usize], 0, off, ErrorKind::MissingTrailer);
}

#[test]
fn live_summary_counts_follow_the_records() {
    // One more round section with one run, one more PREVPAGES.
    let mut img = live_img();
    let tree = nth(&img, RECORD_TREE, 0);
    let mut pages = Vec::new();
    pages.extend_from_slice(&0x7f10_0000_0000u64.to_le_bytes());
    pages.extend_from_slice(&1u64.to_le_bytes());
    pages.extend_from_slice(&[7; 4096]);
    img.recs.insert(tree, Rec::new(RECORD_PAGES, pages));
    img.recs.insert(tree, round_rec(3, 2, 102));
    let s = valid(&img);
    assert_eq!((s.rounds, s.round_sections), (3, 5));
    assert_eq!((s.round_runs, s.round_pages), (7, 11));
    assert_eq!((s.prev_runs, s.prev_pages), (5, 6));
}

#[test]
fn live_error_messages_name_the_record_and_field() {
    use ErrorKind::*;
    let e = |record, kind| Error {
        offset: 4096,
        record,
        kind,
    };
    let cases = [
        (
            e(RECORD_ROUND, RoundBadSrc { src: 0 }),
            "ROUND (type 19) at offset 4096: ROUND src 0 outside 1..=4096",
        ),
        (
            e(
                RECORD_ROUND,
                RoundNotAscending {
                    round: 1,
                    src: 1,
                    prev_round: 1,
                    prev_src: 2,
                },
            ),
            "ROUND (type 19) at offset 4096: ROUND (round 1, src 1) not above the previous \
             ROUND's (round 1, src 2)",
        ),
        (
            e(RECORD_PREVPAGES, PrevPagesUnknownSrc { src: 3 }),
            "PREVPAGES (type 20) at offset 4096: PREVPAGES src 3: no ROUND section of it before",
        ),
        (
            e(
                RECORD_PREVPAGES,
                PrevPagesOutsideVma {
                    addr: 0x1000,
                    nr_pages: 2,
                },
            ),
            "PREVPAGES (type 20) at offset 4096: PREVPAGES addr 0x1000 nr_pages 2 not inside \
             the current VMA",
        ),
        (
            e(RECORD_PREVPAGES, PrevPagesBadVmaKind { kind: 4 }),
            "PREVPAGES (type 20) at offset 4096: PREVPAGES in a VMA of kind 4 (only private, \
             stack and heap VMAs)",
        ),
        (
            e(
                RECORD_PAGES,
                RoundPagesNotAscending {
                    addr: 0x1000,
                    floor: 0x3000,
                },
            ),
            "PAGES (type 7) at offset 4096: PAGES of a ROUND section: addr 0x1000 below the end \
             0x3000 of the section's previous run",
        ),
    ];
    for (err, want) in cases {
        assert_eq!(std::format!("{err}"), want);
    }
    // Every live kind says which record and field.
    for k in [
        RoundBadNumber { round: 0 },
        RoundBadPid { pid: 0 },
        RoundReserved,
        RoundAfterTree,
        RoundPagesInKernelSpace { addr: 0 },
        PrevPagesBadCount { nr_pages: 0 },
        PrevPagesUnaligned { addr: 1 },
        PrevPagesInKernelSpace { addr: 0 },
        PrevPagesBadSrc { src: 0 },
        PrevPagesReserved,
        PrevPagesSrcMismatch {
            src: 1,
            expected: 2,
        },
        PrevPagesNotAscending { addr: 0, floor: 1 },
    ] {
        let m = std::format!("{k}");
        assert!(
            m.starts_with("ROUND")
                || m.starts_with("PREVPAGES")
                || m.starts_with("PAGES of a ROUND"),
            "{m}"
        );
        let field = [
            "round",
            "src",
            "pid",
            "reserved",
            "addr",
            "nr_pages",
            "after the TREE",
        ];
        assert!(field.iter().any(|f| m.contains(f)), "{m}");
    }
}
