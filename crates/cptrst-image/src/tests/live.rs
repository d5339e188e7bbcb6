// SPDX-License-Identifier: GPL-2.0
//! Tests of version 1.6 (the live checkpoint): the ROUND and PREVPAGES
//! records alone (round trips, every field rule), the encoder's resume
//! (a stream continued by another encoder is the same bytes), and the
//! validator's placement rules over the live sample.

use std::vec;
use std::vec::Vec;

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
