// SPDX-License-Identifier: GPL-2.0
//! Tests of the records of version 1.5 (CREDS, SIGNALS, PROCESS) and its
//! VMA flags: round trips through the encoder, the reader and the
//! streaming validator, every rule of each record alone (good and bad
//! values), the placement rules (required, once, in order, PROCESS and the
//! shared queue only for a leader, timer target threads) and the refusal
//! of all of it in older images.

use std::vec;
use std::vec::Vec;

use super::{check, items, reencode, refused, sample15_bytes, Img};
use crate::sample;
use crate::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

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

/// One whole record (header and payload) written by `f` through an
/// encoder of the 1.5 sample's header.
fn enc(f: impl FnOnce(&mut Encoder, &mut [u8]) -> Result<usize, EncodeError>) -> Vec<u8> {
    let mut e = Encoder::new(sample::header());
    e.header(&mut [0u8; HEADER_LEN]).unwrap();
    let mut buf = vec![0u8; 16 + SIGNALS_MAX_PAYLOAD];
    let n = f(&mut e, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// Decodes a whole record (in a 1.5 image).
fn dec(b: &[u8]) -> Result<Record<'_>, ErrorKind> {
    let hdr = RecordHeader::decode(&b[..RECORD_HEADER_LEN], 0).unwrap();
    decode_record(&hdr, &b[RECORD_HEADER_LEN..], &sample::header())
}

/// Patches the payload of the whole record `b` at `off` with `v`.
fn put32(b: &mut [u8], off: usize, v: u32) {
    b[16 + off..16 + off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put64(b: &mut [u8], off: usize, v: u64) {
    b[16 + off..16 + off + 8].copy_from_slice(&v.to_le_bytes());
}

fn creds_rec(h: &CredsHead, groups: &[u32]) -> Vec<u8> {
    enc(|e, b| e.creds(h, groups, b))
}

/// The root's CREDS with `f` applied: the decoder's verdict.
fn creds_with(f: impl FnOnce(&mut CredsHead)) -> Result<(), ErrorKind> {
    let (mut h, g) = sample::creds(0);
    f(&mut h);
    dec(&creds_rec(&h, g)).map(|_| ())
}

fn signals_rec(h: &SignalsHead, entries: &[[u8; SIGINFO_LEN]]) -> Vec<u8> {
    enc(|e, b| e.signals(h, entries, b))
}

/// The root's SIGNALS with `f` applied to its head and entries.
fn signals_with(
    f: impl FnOnce(&mut SignalsHead, &mut Vec<[u8; SIGINFO_LEN]>),
) -> Result<(), ErrorKind> {
    let (mut h, mut en) = sample::signals(0);
    f(&mut h, &mut en);
    dec(&signals_rec(&h, &en)).map(|_| ())
}

fn process_rec(h: &ProcessHead, timers: &[PosixTimer]) -> Vec<u8> {
    enc(|e, b| e.process(h, timers, b))
}

/// The root's PROCESS with `f` applied to its head and timers.
fn process_with(f: impl FnOnce(&mut ProcessHead, &mut Vec<PosixTimer>)) -> Result<(), ErrorKind> {
    let (mut h, t) = sample::process(0).unwrap();
    let mut t = t.to_vec();
    f(&mut h, &mut t);
    dec(&process_rec(&h, &t)).map(|_| ())
}

/// The root's PROCESS with one timer, `f` applied to the sample's first.
fn timer_with(f: impl FnOnce(&mut PosixTimer)) -> Result<(), ErrorKind> {
    process_with(|_, t| {
        t.truncate(1);
        f(&mut t[0]);
    })
}

/// Patches record `at(img)` of the 1.5 sample with `f` and asserts the
/// refusal there.
#[track_caller]
fn refused15(at: impl Fn(&Img) -> usize, kind: ErrorKind, f: impl FnOnce(&mut Img, usize)) {
    let mut img = Img::sample15();
    let i = at(&img);
    f(&mut img, i);
    let r = img.recs[i].kind;
    refused(&img.bytes(), r, img.offset(i), kind);
}

/// Removes record `at(img)` of the 1.5 sample and asserts the refusal of
/// the record that takes its place.
#[track_caller]
fn refused_without(at: impl Fn(&Img) -> usize, kind: ErrorKind) {
    let mut img = Img::sample15();
    let i = at(&img);
    img.recs.remove(i);
    let r = img.recs[i].kind;
    refused(&img.bytes(), r, img.offset(i), kind);
}

/// Inserts a copy of record `src` at `dst` (indices of the 1.5 sample) and
/// asserts the copy is refused with `kind`.
#[track_caller]
fn refused_copy(src: impl Fn(&Img) -> usize, dst: impl Fn(&Img) -> usize, kind: ErrorKind) {
    let mut img = Img::sample15();
    let (s, d) = (src(&img), dst(&img));
    let r = img.recs[s].clone();
    img.recs.insert(d, r);
    refused(&img.bytes(), img.recs[d].kind, img.offset(d), kind);
}

fn ooo(expected: u32) -> ErrorKind {
    ErrorKind::OutOfOrder { expected }
}

fn creds(n: usize) -> impl Fn(&Img) -> usize {
    move |i| nth(i, RECORD_CREDS, n)
}

fn signals(n: usize) -> impl Fn(&Img) -> usize {
    move |i| nth(i, RECORD_SIGNALS, n)
}

fn process(n: usize) -> impl Fn(&Img) -> usize {
    move |i| nth(i, RECORD_PROCESS, n)
}

fn thread(n: usize) -> impl Fn(&Img) -> usize {
    move |i| nth(i, RECORD_THREAD, n)
}

// ---------------------------------------------------------------------------
// The sample and round trips
// ---------------------------------------------------------------------------

#[test]
fn sample15_is_valid() {
    let b = sample15_bytes();
    let s = check(&b).unwrap();
    assert_eq!(s.header, sample::header());
    assert_eq!(s.header.minor, VERSION_MINOR_SIG);
    assert_eq!((s.tasks, s.mms, s.files), (4, 2, 9));
    assert!(b.len() <= sample::SAMPLE_MAX_LEN);
    // Each live task's section, in order.
    let kinds: Vec<u32> = items(&b).iter().map(|i| i.header.kind).collect();
    let t0 = kinds.iter().position(|&k| k == RECORD_TASK).unwrap();
    let (ta, re, fp, fd, th) = (
        RECORD_TASK,
        RECORD_REGS,
        RECORD_FPU,
        RECORD_FDS,
        RECORD_THREAD,
    );
    let (cr, si, pr) = (RECORD_CREDS, RECORD_SIGNALS, RECORD_PROCESS);
    assert_eq!(
        &kinds[t0..t0 + 24],
        &[
            ta, re, fp, fd, th, cr, si, pr, // the root
            ta, re, fp, th, cr, si, // its thread
            ta, re, fp, fd, th, cr, si, pr, // the child
            ta, RECORD_MM, // the zombie, then the mms
        ]
    );
}

/// What the reader gives back is what the sample wrote.
#[test]
fn sample15_decodes_to_its_parts() {
    let b = sample15_bytes();
    let it = items(&b);
    let of = |kind: u32| {
        it.iter()
            .filter(|i| i.header.kind == kind)
            .map(|i| i.record)
            .collect::<Vec<_>>()
    };
    let live = [0u32, 1, 2];
    for (r, &i) in of(RECORD_THREAD).iter().zip(&live) {
        assert_eq!(*r, Record::Thread(sample::thread(i)));
    }
    for (r, &i) in of(RECORD_CREDS).iter().zip(&live) {
        let Record::Creds(c) = r else { panic!() };
        let (h, g) = sample::creds(i);
        assert_eq!(c.head(), h);
        assert_eq!(c.groups.len() as usize, g.len());
        assert_eq!(c.groups.iter().collect::<Vec<_>>(), g);
        assert_eq!(c.groups.get(0), g.first().copied());
        assert_eq!(c.groups.get(g.len() as u32), None);
        assert_eq!(c.no_new_privs(), i == 2);
        assert_eq!(c.groups.is_empty(), g.is_empty());
    }
    for (r, &i) in of(RECORD_SIGNALS).iter().zip(&live) {
        let Record::Signals(s) = r else { panic!() };
        let (h, en) = sample::signals(i);
        assert_eq!(s.head(), h);
        assert_eq!(s.len() as usize, en.len());
        let all: Vec<[u8; SIGINFO_LEN]> =
            s.private().chain(s.shared()).map(|e| *e.bytes()).collect();
        assert_eq!(all, en);
        assert_eq!(s.private().count(), h.nprivate as usize);
        assert_eq!(s.shared().count(), h.nshared as usize);
        assert_eq!(s.entry(s.len()), None);
        assert_eq!(s.altstack_disabled(), i == 1);
    }
    let Record::Signals(s) = of(RECORD_SIGNALS)[0] else {
        panic!()
    };
    let q = s.entry(1).unwrap();
    assert_eq!((q.signo(), q.code(), q.errno()), (34, -1, 0));
    assert_eq!((q.pid(), q.uid(), q.value()), (102, 1000, 0x1234));
    let procs = of(RECORD_PROCESS);
    assert_eq!(procs.len(), 2);
    for (r, i) in procs.iter().zip([0u32, 2]) {
        let Record::Process(p) = r else { panic!() };
        let (h, t) = sample::process(i).unwrap();
        assert_eq!(p.head(), h);
        assert_eq!(p.rlimits, h.rlimits);
        assert_eq!(p.itimers, h.itimers);
        assert_eq!((p.flags, p.dumpable), (h.flags, h.dumpable));
        assert_eq!(p.timers.iter().collect::<Vec<_>>(), t);
        assert_eq!(p.timers.len() as usize, t.len());
        assert_eq!(p.timers.get(0), t.first().copied());
        assert_eq!(p.timers.get(t.len() as u32), None);
        for s in 1..=MAX_SIGNAL {
            assert_eq!(p.sigaction(s), Some(h.sigactions[s as usize - 1]));
        }
        assert_eq!(p.sigaction(0), None);
        assert_eq!(p.sigaction(65), None);
        assert_eq!(p.sigactions().count(), 64);
    }
    let Record::Process(p) = procs[0] else {
        panic!()
    };
    let handled: Vec<u32> = p
        .sigactions()
        .filter(|(_, a)| !a.is_default())
        .map(|(s, _)| s)
        .collect();
    assert_eq!(handled, [10, 13, 17]);
    assert!(p.timers.get(1).unwrap().to_thread());
    // The 1.5 VMA flags.
    let flags: Vec<u32> = it
        .iter()
        .filter_map(|i| match i.record {
            Record::Vma(v) => Some(v.flags & !VMA_FLAGS_KNOWN),
            _ => None,
        })
        .collect();
    assert_eq!(flags.iter().filter(|&&f| f == VMA_LOCKONFAULT).count(), 1);
    assert_eq!(flags.iter().filter(|&&f| f == VMA_WIPEONFORK).count(), 1);
}

#[test]
fn round_trip_reencode_15() {
    let b = sample15_bytes();
    assert_eq!(reencode(&b), b);
}

/// A whole SIGNALS record and a streamed one are the same bytes; so are
/// the re-encodings of the decoded records.
#[test]
fn encoder_sig_records() {
    let (h, en) = sample::signals(0);
    let whole = signals_rec(&h, &en);
    assert_eq!(whole.len(), 16 + SIGNALS_FIXED_LEN + 4 * SIGINFO_LEN);
    let mut e = Encoder::new(sample::header());
    let mut buf = vec![0u8; 4096];
    let mut pos = e.header(&mut buf).unwrap();
    let start = pos;
    pos += e.signals_begin(&h, &mut buf[pos..]).unwrap();
    assert_eq!(pos - start, 16 + SIGNALS_FIXED_LEN);
    // Not another record while entries are due.
    assert_eq!(
        e.thread(&Thread::default(), &mut buf[pos..]),
        Err(EncodeError::Sequence)
    );
    for en in &en {
        assert_eq!(e.siginfo(en, &mut buf[pos..]), Ok(SIGINFO_LEN));
        pos += SIGINFO_LEN;
    }
    assert_eq!(&buf[start..pos], &whole[..]);
    // And no entry past the count.
    assert_eq!(
        e.siginfo(&en[0], &mut buf[pos..]),
        Err(EncodeError::Sequence)
    );
    // The entries written by the caller and reported as data, in pieces
    // (one its own CRC), mixed with siginfo calls: the same bytes.
    let mut e2 = Encoder::new(sample::header());
    let mut b2 = vec![0u8; 4096];
    let mut p2 = e2.header(&mut b2).unwrap();
    p2 += e2.signals_begin(&h, &mut b2[p2..]).unwrap();
    p2 += e2.siginfo(&en[0], &mut b2[p2..]).unwrap();
    let rest: Vec<u8> = en[1..].iter().flatten().copied().collect();
    b2[p2..p2 + rest.len()].copy_from_slice(&rest);
    e2.data(&rest[..100]).unwrap();
    e2.data_with_crc(rest.len() - 100, |st| crc32c_raw(st, &rest[100..]))
        .unwrap();
    p2 += rest.len();
    assert_eq!(&b2[start..p2], &whole[..]);
    assert_eq!(e2.crc32c(), e.crc32c());
    assert_eq!(e2.data(&[0]), Err(EncodeError::Sequence));
    // Too much data; an entry after a partial one, past the end.
    let mut e3 = Encoder::new(sample::header());
    e3.header(&mut b2).unwrap();
    e3.signals_begin(&h, &mut b2).unwrap();
    assert_eq!(e3.data(&[0u8; 4 * 128 + 1]), Err(EncodeError::Overrun));
    e3.data(&[0u8; 3 * 128 + 1]).unwrap();
    assert_eq!(e3.siginfo(&en[0], &mut b2), Err(EncodeError::Overrun));
    // Re-encoding the decoded records.
    for rec in [
        whole.clone(),
        creds_rec(&sample::creds(0).0, sample::creds(0).1),
        {
            let (p, t) = sample::process(0).unwrap();
            process_rec(&p, t)
        },
    ] {
        let r = dec(&rec).unwrap();
        assert_eq!(enc(|e, b| e.record_any(&r, b)), rec);
    }
    // Lengths.
    assert_eq!(Creds::payload_len(0), Some(CREDS_FIXED_LEN));
    assert_eq!(Creds::payload_len(3), Some(CREDS_FIXED_LEN + 16));
    assert_eq!(Creds::payload_len(MAX_GROUPS), Some(CREDS_MAX_PAYLOAD));
    assert_eq!(Signals::payload_len(MAX_PENDING), Some(SIGNALS_MAX_PAYLOAD));
    assert_eq!(Process::payload_len(MAX_TIMERS), Some(PROCESS_MAX_PAYLOAD));
    assert_eq!(Process::payload_len(0), Some(2368));
    let (p, t) = sample::process(0).unwrap();
    assert_eq!(
        process_rec(&p, t).len(),
        16 + PROCESS_FIXED_LEN + 3 * TIMER_LEN
    );
    // What ENCODE_BUF_LEN holds, as its documentation says.
    let fits = |n: Option<usize>| n.unwrap() + RECORD_HEADER_LEN <= ENCODE_BUF_LEN;
    assert!(fits(Creds::payload_len(1292)) && !fits(Creds::payload_len(1293)));
    assert!(fits(Signals::payload_len(40)) && !fits(Signals::payload_len(41)));
    assert!(fits(Process::payload_len(44)) && !fits(Process::payload_len(45)));
    const {
        assert!(MAX_META_PAYLOAD >= SIGNALS_MAX_PAYLOAD);
        assert!(MAX_META_PAYLOAD >= PROCESS_MAX_PAYLOAD);
        assert!(MAX_META_PAYLOAD >= CREDS_MAX_PAYLOAD);
    }
}

#[test]
fn encoder_sig_limits() {
    let mut e = Encoder::new(sample::header());
    let mut buf = vec![0u8; 16 + PROCESS_MAX_PAYLOAD + TIMER_LEN];
    e.header(&mut buf).unwrap();
    let groups = vec![1u32; MAX_GROUPS as usize + 1];
    let c = CredsHead::default();
    assert_eq!(e.creds(&c, &groups, &mut buf), Err(EncodeError::Limit));
    assert_eq!(
        e.creds(&c, &groups[..3], &mut buf[..16 + 56 + 8]),
        Err(EncodeError::BufferTooSmall {
            needed: 16 + 56 + 16
        })
    );
    // The entries must be the count.
    let (h, en) = sample::signals(0);
    assert_eq!(e.signals(&h, &en[..3], &mut buf), Err(EncodeError::Limit));
    let big = SignalsHead {
        nprivate: MAX_PENDING,
        nshared: 1,
        ..h
    };
    assert_eq!(e.signals_begin(&big, &mut buf), Err(EncodeError::Limit));
    let wrap = SignalsHead {
        nprivate: u32::MAX,
        nshared: 1,
        ..h
    };
    assert_eq!(e.signals(&wrap, &en, &mut buf), Err(EncodeError::Limit));
    assert_eq!(e.siginfo(&en[0], &mut buf), Err(EncodeError::Sequence));
    let timers = vec![PosixTimer::default(); MAX_TIMERS as usize + 1];
    let p = ProcessHead::default();
    assert_eq!(e.process(&p, &timers, &mut buf), Err(EncodeError::Limit));
    // Nothing was written.
    assert_eq!(e.records(), 0);
    assert_eq!(e.offset(), HEADER_LEN as u64);
    // An empty SIGNALS record needs no siginfo call.
    let none = SignalsHead {
        nprivate: 0,
        nshared: 0,
        ..h
    };
    assert_eq!(e.signals_begin(&none, &mut buf), Ok(64));
    assert_eq!(e.thread(&Thread::default(), &mut buf), Ok(64));
}

// ---------------------------------------------------------------------------
// CREDS alone
// ---------------------------------------------------------------------------

#[test]
fn creds_good() {
    creds_with(|_| {}).unwrap();
    // Everything allowed at once.
    creds_with(|h| {
        *h = CredsHead {
            cap_inheritable: CAP_VALID,
            cap_permitted: CAP_VALID,
            cap_effective: CAP_VALID,
            cap_bset: CAP_VALID,
            cap_ambient: CAP_VALID,
            securebits: SECUREBITS_KNOWN,
            flags: CREDS_NO_NEW_PRIVS,
        }
    })
    .unwrap();
    // Nothing at all.
    creds_with(|h| *h = CredsHead::default()).unwrap();
    // Groups need not be sorted; 0 and u32::MAX - 1 are gids.
    let (h, _) = sample::creds(0);
    dec(&creds_rec(&h, &[5, 0, u32::MAX - 1, 5])).unwrap();
    // The most groups.
    let g: Vec<u32> = (0..MAX_GROUPS).collect();
    let r = creds_rec(&h, &g);
    let Ok(Record::Creds(c)) = dec(&r) else {
        panic!()
    };
    assert_eq!(c.groups.len(), MAX_GROUPS);
    assert_eq!(c.groups.get(MAX_GROUPS - 1), Some(MAX_GROUPS - 1));
}

#[test]
fn creds_bad_caps() {
    use ErrorKind::CapsUnknown;
    let bit = 1u64 << 41;
    type Set = fn(&mut CredsHead, u64);
    let cases: [(&str, Set); 5] = [
        ("cap_inheritable", |h, v| h.cap_inheritable |= v),
        ("cap_permitted", |h, v| h.cap_permitted |= v),
        ("cap_effective", |h, v| h.cap_effective |= v),
        ("cap_bset", |h, v| h.cap_bset |= v),
        ("cap_ambient", |h, v| h.cap_ambient |= v),
    ];
    for (field, set) in cases {
        for v in [bit, 1 << 63] {
            let got = creds_with(|h| {
                *h = CredsHead::default();
                set(h, v)
            });
            assert_eq!(got, Err(CapsUnknown { field, caps: v }), "{field}");
        }
    }
    // Effective outside permitted.
    assert_eq!(
        creds_with(|h| {
            h.cap_permitted = 1;
            h.cap_effective = 3;
        }),
        Err(ErrorKind::CapsNotSubset {
            field: "cap_effective",
            caps: 3,
            of: "cap_permitted"
        })
    );
    // Ambient outside permitted, outside inheritable.
    for (prm, inh) in [(0, 1), (1, 0)] {
        assert_eq!(
            creds_with(|h| {
                *h = CredsHead {
                    cap_permitted: prm,
                    cap_inheritable: inh,
                    cap_ambient: 1,
                    ..CredsHead::default()
                }
            }),
            Err(ErrorKind::CapsNotSubset {
                field: "cap_ambient",
                caps: 1,
                of: "cap_permitted & cap_inheritable"
            })
        );
    }
    creds_with(|h| {
        *h = CredsHead {
            cap_permitted: 1,
            cap_inheritable: 1,
            cap_ambient: 1,
            ..CredsHead::default()
        }
    })
    .unwrap();
}

#[test]
fn creds_bad_fields() {
    assert_eq!(
        creds_with(|h| h.securebits = 0x100),
        Err(ErrorKind::BadSecurebits { securebits: 0x100 })
    );
    assert_eq!(
        creds_with(|h| h.flags = 2),
        Err(ErrorKind::BadCredsFlags { flags: 2 })
    );
    let (h, _) = sample::creds(0);
    assert_eq!(
        dec(&creds_rec(&h, &[1, 2, u32::MAX])),
        Err(ErrorKind::BadGroup { index: 2 })
    );
    // Reserved, padding, counts.
    let mut r = creds_rec(&h, &[1, 2, 3]);
    put32(&mut r, 52, 1);
    assert_eq!(dec(&r), Err(ErrorKind::NonZeroReserved));
    let mut r = creds_rec(&h, &[1, 2, 3]);
    put32(&mut r, 56 + 12, 1);
    assert_eq!(dec(&r), Err(ErrorKind::NonZeroPadding));
    let mut r = creds_rec(&h, &[1, 2, 3]);
    // A fourth group of 0 in the padding: the same length.
    put32(&mut r, 48, 4);
    assert_eq!(
        creds_dec(&r).groups.iter().collect::<Vec<_>>(),
        [1, 2, 3, 0]
    );
    put32(&mut r, 48, 5);
    assert_eq!(
        dec(&r),
        Err(ErrorKind::BadPayloadLength {
            len: 72,
            expected: 80
        })
    );
    put32(&mut r, 48, MAX_GROUPS + 1);
    assert_eq!(
        dec(&r),
        Err(ErrorKind::TooManyGroups {
            count: MAX_GROUPS + 1
        })
    );
}

/// The CREDS record `r` decoded (it must be valid).
fn creds_dec(r: &[u8]) -> Creds<'_> {
    match dec(r) {
        Ok(Record::Creds(c)) => c,
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// SIGNALS alone
// ---------------------------------------------------------------------------

#[test]
fn signals_good() {
    for i in 0..3 {
        let (h, en) = sample::signals(i);
        dec(&signals_rec(&h, &en)).unwrap();
    }
    // Every altstack mode, with and without SS_AUTODISARM; a disabled
    // stack may keep any address.
    for flags in [0, SS_ONSTACK, SS_DISABLE] {
        for a in [0, SS_AUTODISARM] {
            signals_with(|h, _| h.altstack_flags = flags | a).unwrap();
        }
    }
    signals_with(|h, _| {
        h.altstack_flags = SS_DISABLE;
        h.altstack_sp = u64::MAX;
        h.altstack_size = u64::MAX;
    })
    .unwrap();
    // A stack ending exactly at the top of user space.
    signals_with(|h, _| {
        h.altstack_sp = USER_SPACE_LIMIT - 0x1000;
        h.altstack_size = 0x1000;
    })
    .unwrap();
    signals_with(|h, _| h.pdeath_signal = MAX_SIGNAL).unwrap();
    signals_with(|h, _| h.timer_slack_ns = u64::MAX).unwrap();
    // The same standard signal in both queues, a realtime one many times.
    signals_with(|h, en| {
        *en = vec![
            sample::siginfo(15, 0, 1, 0, 0),
            sample::siginfo(15, 0, 1, 0, 0),
            sample::siginfo(64, -1, 1, 0, 1),
            sample::siginfo(64, -1, 1, 0, 2),
        ];
        (h.nprivate, h.nshared) = (1, 3);
    })
    .unwrap();
    // The most entries.
    let (mut h, _) = sample::signals(0);
    let en: Vec<[u8; SIGINFO_LEN]> = (0..MAX_PENDING)
        .map(|i| sample::siginfo(32 + i % 33, -1, 1, 0, u64::from(i)))
        .collect();
    (h.nprivate, h.nshared) = (MAX_PENDING / 2, MAX_PENDING / 2);
    let r = signals_rec(&h, &en);
    let Ok(Record::Signals(s)) = dec(&r) else {
        panic!()
    };
    assert_eq!(s.len(), MAX_PENDING);
    assert_eq!(
        s.shared().next().unwrap().value(),
        u64::from(MAX_PENDING / 2)
    );
}

#[test]
fn signals_bad_fixed_part() {
    use ErrorKind::*;
    for flags in [3, 4, SS_AUTODISARM | 3, 1 << 30, u32::MAX] {
        assert_eq!(
            signals_with(|h, _| h.altstack_flags = flags),
            Err(BadAltstackFlags { flags })
        );
    }
    for (sp, size) in [
        (0x60_1000, 0),
        (USER_SPACE_LIMIT - 0x1000, 0x1001),
        (USER_SPACE_LIMIT, 1),
        (u64::MAX, 2),
    ] {
        for flags in [0, SS_ONSTACK, SS_AUTODISARM] {
            assert_eq!(
                signals_with(|h, _| {
                    h.altstack_flags = flags;
                    h.altstack_sp = sp;
                    h.altstack_size = size;
                }),
                Err(BadAltstack { sp, size })
            );
        }
    }
    assert_eq!(
        signals_with(|h, _| h.pdeath_signal = 65),
        Err(BadPdeathSignal { signal: 65 })
    );
    assert_eq!(
        signals_with(|h, _| h.timer_slack_ns = 0),
        Err(BadTimerSlack)
    );
    // Counts: above the limit (checked before the length), overflowing,
    // not the payload's.
    let (h, en) = sample::signals(0);
    let mut r = signals_rec(&h, &en);
    put32(&mut r, 36, MAX_PENDING);
    assert_eq!(
        dec(&r),
        Err(TooManyPending {
            count: MAX_PENDING + 1
        })
    );
    put32(&mut r, 32, u32::MAX);
    assert_eq!(dec(&r), Err(TooManyPending { count: u32::MAX }));
    let mut r = signals_rec(&h, &en);
    put32(&mut r, 36, 4);
    assert_eq!(
        dec(&r),
        Err(BadPayloadLength {
            len: 48 + 4 * 128,
            expected: 48 + 5 * 128
        })
    );
    let mut r = signals_rec(&h, &en);
    put64(&mut r, 40, 1);
    assert_eq!(dec(&r), Err(NonZeroReserved));
}

#[test]
fn signals_bad_entries() {
    use ErrorKind::*;
    for signo in [0, 65, 9, 19, u32::MAX] {
        for index in [0u32, 3] {
            assert_eq!(
                signals_with(|_, en| en[index as usize][0..4].copy_from_slice(&signo.to_le_bytes())),
                Err(BadPendingSignal { index, signo })
            );
        }
    }
    for byte in [KERNEL_SIGINFO_LEN, 100, SIGINFO_LEN - 1] {
        assert_eq!(
            signals_with(|_, en| en[2][byte] = 1),
            Err(BadSiginfoTail {
                index: 2,
                signo: 34
            })
        );
    }
    // Bytes 12 to 47 are the kernel's: anything goes.
    signals_with(|_, en| en[2][12..48].fill(0xff)).unwrap();
    // A standard signal twice in the shared queue, twice in the private
    // one.
    assert_eq!(
        signals_with(|_, en| en[1] = sample::siginfo(15, 0, 1, 0, 0)),
        Err(DuplicatePendingSignal {
            index: 3,
            signo: 15
        })
    );
    assert_eq!(
        signals_with(|h, en| {
            en.insert(1, sample::siginfo(10, -6, 2, 0, 0));
            h.nprivate = 2;
        }),
        Err(DuplicatePendingSignal {
            index: 1,
            signo: 10
        })
    );
    // Signal 31 is standard, 32 realtime.
    assert_eq!(
        signals_with(|_, en| {
            en[1] = sample::siginfo(31, 0, 1, 0, 0);
            en[2] = sample::siginfo(31, 0, 1, 0, 0);
        }),
        Err(DuplicatePendingSignal {
            index: 2,
            signo: 31
        })
    );
    signals_with(|_, en| {
        en[1] = sample::siginfo(32, 0, 1, 0, 0);
        en[2] = sample::siginfo(32, 0, 1, 0, 0);
    })
    .unwrap();
}

// ---------------------------------------------------------------------------
// PROCESS alone
// ---------------------------------------------------------------------------

#[test]
fn process_good() {
    process_with(|_, _| {}).unwrap();
    process_with(|h, t| {
        *h = ProcessHead::default();
        t.clear();
    })
    .unwrap();
    process_with(|h, _| {
        h.rlimits[RLIMIT_NOFILE] = Rlimit {
            cur: MAX_NOFILE,
            max: MAX_NOFILE,
        };
        h.itimers = [Itimer {
            value_ns: MAX_TIME_NS,
            interval_ns: MAX_TIME_NS,
        }; 3];
        h.flags = PROC_FLAGS_KNOWN;
        h.dumpable = MAX_DUMPABLE;
        for (i, a) in h.sigactions.iter_mut().enumerate() {
            if i + 1 != SIGKILL as usize && i + 1 != SIGSTOP as usize {
                *a = SigAction {
                    handler: USER_SPACE_LIMIT - 1,
                    flags: SA_KNOWN,
                    restorer: USER_SPACE_LIMIT - 1,
                    mask: !((1 << 8) | (1 << 18)),
                };
            }
        }
    })
    .unwrap();
    // Every clock and notification allowed.
    for clock in [CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI] {
        timer_with(|t| t.clock = clock).unwrap();
    }
    timer_with(|t| {
        t.notify = SIGEV_NONE;
        t.signo = 0;
    })
    .unwrap();
    timer_with(|t| {
        t.notify = SIGEV_THREAD_ID;
        t.tid = PID_MAX_LIMIT;
        t.signo = MAX_SIGNAL;
        t.overrun_last = i32::MAX as u32;
        t.id = MAX_TIMER_ID - 1;
    })
    .unwrap();
    // The most timers.
    let (h, _) = sample::process(0).unwrap();
    let t: Vec<PosixTimer> = (0..MAX_TIMERS)
        .map(|id| PosixTimer {
            id: id * 16,
            ..sample::SAMPLE_TIMERS[0]
        })
        .collect();
    let r = process_rec(&h, &t);
    let Ok(Record::Process(p)) = dec(&r) else {
        panic!()
    };
    assert_eq!(p.timers.len(), MAX_TIMERS);
}

#[test]
fn process_bad_limits_and_timers() {
    use ErrorKind::*;
    assert_eq!(
        process_with(|h, _| h.rlimits[3] = Rlimit { cur: 2, max: 1 }),
        Err(BadRlimit {
            resource: 3,
            cur: 2,
            max: 1
        })
    );
    for max in [MAX_NOFILE + 1, RLIM_INFINITY] {
        assert_eq!(
            process_with(|h, _| h.rlimits[RLIMIT_NOFILE] = Rlimit { cur: 1, max }),
            Err(BadRlimit {
                resource: 7,
                cur: 1,
                max
            })
        );
    }
    for which in 0..3u32 {
        let w = which as usize;
        assert_eq!(
            process_with(|h, _| h.itimers[w].value_ns = MAX_TIME_NS + 1),
            Err(BadItimer {
                which,
                field: "value_ns"
            })
        );
        assert_eq!(
            process_with(|h, _| {
                h.itimers[w] = Itimer {
                    value_ns: 0,
                    interval_ns: 1,
                }
            }),
            Err(BadItimer {
                which,
                field: "interval_ns"
            })
        );
        assert_eq!(
            process_with(|h, _| {
                h.itimers[w] = Itimer {
                    value_ns: 1,
                    interval_ns: MAX_TIME_NS + 1,
                }
            }),
            Err(BadItimer {
                which,
                field: "interval_ns"
            })
        );
    }
    for flags in [
        16,
        PROC_MLOCK_ONFAULT,
        PROC_MLOCK_ONFAULT | PROC_THP_DISABLE,
    ] {
        assert_eq!(
            process_with(|h, _| h.flags = flags),
            Err(BadProcessFlags { flags })
        );
    }
    assert_eq!(
        process_with(|h, _| h.dumpable = 3),
        Err(BadDumpable { dumpable: 3 })
    );
    // Counts and reserved words.
    let (h, t) = sample::process(0).unwrap();
    let mut r = process_rec(&h, t);
    put32(&mut r, 312, MAX_TIMERS + 1);
    assert_eq!(
        dec(&r),
        Err(TooManyTimers {
            count: MAX_TIMERS + 1
        })
    );
    put32(&mut r, 312, 2);
    assert_eq!(
        dec(&r),
        Err(BadPayloadLength {
            len: 2368 + 192,
            expected: 2368 + 128
        })
    );
    let mut r = process_rec(&h, t);
    put32(&mut r, 316, 1);
    assert_eq!(dec(&r), Err(NonZeroReserved));
}

#[test]
fn process_bad_sigactions() {
    use ErrorKind::BadSigaction;
    let act = |signo: u32, f: fn(&mut SigAction)| {
        process_with(|h, _| f(&mut h.sigactions[signo as usize - 1]))
    };
    let bad = |signo, field| Err(BadSigaction { signo, field });
    assert_eq!(act(10, |a| a.flags |= 0x100), bad(10, "flags"));
    assert_eq!(act(1, |a| a.flags = 1 << 32), bad(1, "flags"));
    assert_eq!(
        act(64, |a| a.handler = USER_SPACE_LIMIT),
        bad(64, "handler")
    );
    assert_eq!(
        act(10, |a| a.restorer = USER_SPACE_LIMIT),
        bad(10, "restorer")
    );
    assert_eq!(act(10, |a| a.restorer = 0), bad(10, "restorer"));
    act(10, |a| {
        a.restorer = 0;
        a.flags &= !SA_RESTORER;
    })
    .unwrap();
    assert_eq!(act(10, |a| a.mask |= 1 << 8), bad(10, "mask"));
    assert_eq!(act(2, |a| a.mask = 1 << 18), bad(2, "mask"));
    // SIGKILL and SIGSTOP: nothing at all, each field named.
    for signo in [SIGKILL, SIGSTOP] {
        assert_eq!(act(signo, |a| a.handler = SIG_IGN), bad(signo, "handler"));
        assert_eq!(act(signo, |a| a.flags = SA_RESTART), bad(signo, "flags"));
        assert_eq!(act(signo, |a| a.restorer = 0x1000), bad(signo, "restorer"));
        assert_eq!(act(signo, |a| a.mask = 1), bad(signo, "mask"));
    }
}

#[test]
fn process_bad_posix_timers() {
    use ErrorKind::{BadTimer, TimerIdNotAscending};
    let bad = |id, field| Err(BadTimer { id, field });
    assert_eq!(timer_with(|t| t.id = MAX_TIMER_ID), bad(MAX_TIMER_ID, "id"));
    for clock in [2, 3, 4, 5, 6, 8, 9, 10, 12, -1] {
        assert_eq!(timer_with(|t| t.clock = clock), bad(0, "clock"));
    }
    for notify in [2, 3, 5, SIGEV_THREAD_ID | SIGEV_NONE, 0x100] {
        assert_eq!(timer_with(|t| t.notify = notify), bad(0, "notify"));
    }
    assert_eq!(timer_with(|t| t.signo = 0), bad(0, "signo"));
    assert_eq!(timer_with(|t| t.signo = 65), bad(0, "signo"));
    assert_eq!(
        timer_with(|t| {
            t.notify = SIGEV_NONE;
            t.signo = 65;
        }),
        bad(0, "signo")
    );
    assert_eq!(timer_with(|t| t.tid = 101), bad(0, "tid"));
    assert_eq!(
        timer_with(|t| {
            t.notify = SIGEV_THREAD_ID;
            t.tid = 0;
        }),
        bad(0, "tid")
    );
    assert_eq!(
        timer_with(|t| {
            t.notify = SIGEV_THREAD_ID;
            t.tid = PID_MAX_LIMIT + 1;
        }),
        bad(0, "tid")
    );
    assert_eq!(
        timer_with(|t| t.value_ns = MAX_TIME_NS + 1),
        bad(0, "value_ns")
    );
    assert_eq!(
        timer_with(|t| t.interval_ns = MAX_TIME_NS + 1),
        bad(0, "interval_ns")
    );
    assert_eq!(timer_with(|t| t.value_ns = 0), bad(0, "interval_ns"));
    assert_eq!(
        timer_with(|t| t.overrun_last = 1 << 31),
        bad(0, "overrun_last")
    );
    // Reserved words of a timer.
    let (h, t) = sample::process(0).unwrap();
    for off in [28, 52, 56, 60] {
        let mut r = process_rec(&h, t);
        put32(&mut r, PROCESS_FIXED_LEN + TIMER_LEN + off, 1);
        assert_eq!(dec(&r).map(|_| ()), bad(2, "reserved"), "offset {off}");
    }
    // Ids ascending, unique.
    assert_eq!(
        process_with(|_, t| t.swap(0, 1)),
        Err(TimerIdNotAscending { id: 0 })
    );
    assert_eq!(
        process_with(|_, t| t[1].id = 0),
        Err(TimerIdNotAscending { id: 0 })
    );
}

// ---------------------------------------------------------------------------
// Placement
// ---------------------------------------------------------------------------

#[test]
fn required_records() {
    // THREAD is required in 1.5 (after FDS for a leader, FPU for a thread).
    refused_without(thread(0), ooo(RECORD_THREAD));
    refused_without(thread(1), ooo(RECORD_THREAD));
    refused_without(creds(0), ooo(RECORD_CREDS));
    refused_without(creds(1), ooo(RECORD_CREDS));
    refused_without(signals(0), ooo(RECORD_SIGNALS));
    refused_without(signals(1), ooo(RECORD_SIGNALS));
    // A leader's PROCESS: the root's, then the child's (before the zombie's
    // TASK).
    refused_without(process(0), ooo(RECORD_PROCESS));
    refused_without(process(1), ooo(RECORD_PROCESS));
}

#[test]
fn records_once_and_in_order() {
    // Twice.
    refused_copy(creds(0), |i| creds(0)(i) + 1, ooo(RECORD_SIGNALS));
    refused_copy(signals(0), |i| signals(0)(i) + 1, ooo(RECORD_PROCESS));
    refused_copy(process(0), |i| process(0)(i) + 1, ooo(RECORD_TASK));
    refused_copy(thread(0), |i| thread(0)(i) + 1, ooo(RECORD_CREDS));
    // Before their place.
    refused_copy(creds(0), thread(0), ooo(RECORD_THREAD));
    refused_copy(signals(0), creds(0), ooo(RECORD_CREDS));
    refused_copy(process(0), signals(0), ooo(RECORD_SIGNALS));
    refused_copy(creds(0), |i| nth(i, RECORD_FPU, 0), ooo(RECORD_FPU));
    // After a zombie's TASK, among the mms, before any TASK.
    refused_copy(creds(0), |i| nth(i, RECORD_TASK, 3) + 1, ooo(RECORD_MM));
    refused_copy(signals(0), |i| nth(i, RECORD_VMA, 0), ooo(RECORD_VMA));
    refused_copy(process(0), |i| nth(i, RECORD_TASK, 0), ooo(RECORD_TASK));
    // THREAD before FDS closes the FDS slot.
    let mut img = Img::sample15();
    let (f, t) = (nth(&img, RECORD_FDS, 0), thread(0)(&img));
    img.recs.swap(f, t);
    refused(&img.bytes(), RECORD_FDS, img.offset(t), ooo(RECORD_CREDS));
}

#[test]
fn thread_rules() {
    // A PROCESS in a thread (after its SIGNALS).
    refused_copy(
        process(0),
        |i| signals(1)(i) + 1,
        ErrorKind::ProcessInThread { index: 1 },
    );
    // The process-wide queue in a thread.
    refused15(
        signals(1),
        ErrorKind::SharedPendingInThread { index: 1 },
        |img, i| {
            let (mut h, mut en) = sample::signals(1);
            h.nshared = 1;
            en.push(sample::siginfo(15, 0, 1, 0, 0));
            img.recs[i].payload = signals_rec(&h, &en)[16..].to_vec();
        },
    );
    // A leader's shared queue may be empty, its private one too.
    let mut img = Img::sample15();
    let i = signals(0)(&img);
    let (mut h, en) = sample::signals(0);
    (h.nprivate, h.nshared) = (0, 0);
    img.recs[i].payload = signals_rec(&h, &en[..0])[16..].to_vec();
    check(&img.bytes()).unwrap();
}

/// Replaces the root's timers with `timers`.
fn with_timers(img: &mut Img, timers: &[PosixTimer]) -> usize {
    let i = process(0)(img);
    let (h, _) = sample::process(0).unwrap();
    img.recs[i].payload = process_rec(&h, timers)[16..].to_vec();
    i
}

#[test]
fn timer_target_threads() {
    let to = |tid: u32| PosixTimer {
        tid,
        ..sample::SAMPLE_TIMERS[1]
    };
    // The leader itself and its thread, several times.
    let mut img = Img::sample15();
    with_timers(
        &mut img,
        &[
            to(100),
            PosixTimer { id: 3, ..to(101) },
            PosixTimer { id: 4, ..to(101) },
            PosixTimer { id: 9, ..to(100) },
        ],
    );
    check(&img.bytes()).unwrap();
    // Another process (the child), a zombie, a pid not in the tree, a pid
    // of a nested namespace level (the child is 1 there).
    for tid in [102, 103, 999, 1] {
        let mut img = Img::sample15();
        let i = with_timers(&mut img, &[to(100), PosixTimer { id: 7, ..to(tid) }]);
        refused(
            &img.bytes(),
            RECORD_PROCESS,
            img.offset(i),
            ErrorKind::TimerTidNotInGroup { id: 7, tid },
        );
    }
    // The child's own timers may aim at the child only.
    let mut img = Img::sample15();
    let i = process(1)(&img);
    let (h, _) = sample::process(2).unwrap();
    img.recs[i].payload = process_rec(&h, &[to(102)])[16..].to_vec();
    check(&img.bytes()).unwrap();
    img.recs[i].payload = process_rec(&h, &[to(100)])[16..].to_vec();
    refused(
        &img.bytes(),
        RECORD_PROCESS,
        img.offset(i),
        ErrorKind::TimerTidNotInGroup { id: 2, tid: 100 },
    );
}

/// The whole-image path reports the decoder's errors at the record.
#[test]
fn refusals_in_the_image() {
    refused15(creds(1), ErrorKind::BadGroup { index: 1 }, |img, i| {
        img.set32(i, 56 + 4, u32::MAX)
    });
    refused15(signals(2), ErrorKind::BadTimerSlack, |img, i| {
        img.set64(i, 24, 0)
    });
    refused15(
        process(1),
        ErrorKind::BadDumpable { dumpable: 7 },
        |img, i| img.set32(i, 308, 7),
    );
    // Must-understand, each.
    for kind in [RECORD_CREDS, RECORD_SIGNALS, RECORD_PROCESS] {
        let mut img = Img::sample15();
        let i = nth(&img, kind, 0);
        img.recs[i].flags = 0;
        let k = img.recs[i].kind;
        refused(
            &img.bytes(),
            k,
            img.offset(i),
            ErrorKind::BadRecordFlags { flags: 0 },
        );
    }
    // Lengths checked from the header: below the fixed part, above the
    // largest payload.
    for (kind, min, max) in [
        (RECORD_CREDS, CREDS_FIXED_LEN, CREDS_MAX_PAYLOAD),
        (RECORD_SIGNALS, SIGNALS_FIXED_LEN, SIGNALS_MAX_PAYLOAD),
        (RECORD_PROCESS, PROCESS_FIXED_LEN, PROCESS_MAX_PAYLOAD),
    ] {
        let mut img = Img::sample15();
        let i = nth(&img, kind, 0);
        img.recs[i].payload.truncate(min - 8);
        let k = img.recs[i].kind;
        refused(
            &img.bytes(),
            k,
            img.offset(i),
            ErrorKind::BadPayloadLength {
                len: min as u64 - 8,
                expected: min as u64,
            },
        );
        let mut img = Img::sample15();
        let i = nth(&img, kind, 0);
        img.recs[i].len = Some(max as u64 + 8);
        let b = img.bytes();
        let e = check(&b).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::RecordTooLarge {
                len: max as u64 + 8,
                max: max as u64
            }
        );
    }
}

// ---------------------------------------------------------------------------
// Older images
// ---------------------------------------------------------------------------

#[test]
fn refused_in_older_images() {
    // The 1.5 sample labelled 1.4: its THREAD records are fine (optional
    // then), its first CREDS is not.
    for minor in [0, 3, 4] {
        let mut img = Img::sample15();
        img.header[10] = minor as u8;
        let i = creds(0)(&img);
        if minor < 4 {
            // Older still: its FILE records come first.
            let e = check(&img.bytes()).unwrap_err();
            assert_eq!(e.kind, ErrorKind::RecordNewerThanImage { minor });
            assert_eq!(e.record, RECORD_FILE);
            continue;
        }
        refused(
            &img.bytes(),
            RECORD_CREDS,
            img.offset(i),
            ErrorKind::RecordNewerThanImage { minor },
        );
    }
    // Each of the three into the 1.4 sample, at the place it would have.
    let new = Img::sample15();
    for kind in [RECORD_CREDS, RECORD_SIGNALS, RECORD_PROCESS] {
        let mut img = Img::sample14();
        let fds = nth(&img, RECORD_FDS, 0);
        let r = new.recs[nth(&new, kind, 0)].clone();
        img.recs.insert(fds + 1, r);
        let k = img.recs[fds + 1].kind;
        refused(
            &img.bytes(),
            k,
            img.offset(fds + 1),
            ErrorKind::RecordNewerThanImage { minor: 4 },
        );
    }
    // The 1.4 sample has none of them and stays valid; a THREAD is still
    // optional there.
    check(&Img::sample14().bytes()).unwrap();
}

#[test]
fn vma_flags_by_version() {
    let vma = |n: usize| move |i: &Img| nth(i, RECORD_VMA, n);
    // In 1.4: bits 8 and 9 unknown.
    for f in [VMA_WIPEONFORK, VMA_LOCKONFAULT | VMA_LOCKED] {
        let mut img = Img::sample14();
        let i = vma(1)(&img);
        let flags = u32::from_le_bytes(img.recs[i].payload[28..32].try_into().unwrap()) | f;
        img.set32(i, 28, flags);
        refused(
            &img.bytes(),
            RECORD_VMA,
            img.offset(i),
            ErrorKind::BadVmaFlags { flags },
        );
    }
    // In 1.5: LOCKONFAULT only with LOCKED; bit 10 unknown.
    for (f, keep) in [(VMA_LOCKONFAULT, false), (1 << 10, true)] {
        let mut img = Img::sample15();
        let i = vma(1)(&img);
        let old = u32::from_le_bytes(img.recs[i].payload[28..32].try_into().unwrap());
        assert_eq!(
            old & (VMA_LOCKED | VMA_LOCKONFAULT),
            VMA_LOCKED | VMA_LOCKONFAULT
        );
        let flags = if keep {
            old | f
        } else {
            (old & !VMA_LOCKED) | f
        };
        img.set32(i, 28, flags);
        refused(
            &img.bytes(),
            RECORD_VMA,
            img.offset(i),
            ErrorKind::BadVmaFlags { flags },
        );
    }
}

// ---------------------------------------------------------------------------
// Names and messages
// ---------------------------------------------------------------------------

#[test]
fn names_and_messages() {
    assert_eq!(record_name(RECORD_CREDS), "CREDS");
    assert_eq!(record_name(RECORD_SIGNALS), "SIGNALS");
    assert_eq!(record_name(RECORD_PROCESS), "PROCESS");
    for k in [RECORD_CREDS, RECORD_SIGNALS, RECORD_PROCESS] {
        assert_eq!(record_flags(k), RECORD_FLAG_MUST_UNDERSTAND);
        assert!(RecordHeader::new(k, 64).is_known());
    }
    assert_eq!(CAP_VALID, (1 << 41) - 1);
    assert_eq!(PROCESS_FIXED_LEN, 16 * 16 + 3 * 16 + 16 + 64 * 32);
    let cases = [
        (
            ErrorKind::CapsUnknown {
                field: "cap_bset",
                caps: 1 << 41,
            },
            "CREDS cap_bset 0x20000000000 has bits above CAP_LAST_CAP (40)",
        ),
        (
            ErrorKind::CapsNotSubset {
                field: "cap_effective",
                caps: 3,
                of: "cap_permitted",
            },
            "CREDS cap_effective 0x3 not within cap_permitted",
        ),
        (
            ErrorKind::BadGroup { index: 2 },
            "CREDS groups[2] is the invalid gid",
        ),
        (
            ErrorKind::BadAltstack { sp: 0x1000, size: 0 },
            "SIGNALS altstack 0x1000 size 0x0: empty or above user space",
        ),
        (
            ErrorKind::BadPendingSignal { index: 3, signo: 9 },
            "SIGNALS entry 3: si_signo 9 not 1..=64 or SIGKILL/SIGSTOP",
        ),
        (
            ErrorKind::SharedPendingInThread { index: 1 },
            "task 1: SIGNALS nshared not 0 in a thread (the leader has the shared queue)",
        ),
        (
            ErrorKind::BadRlimit {
                resource: 7,
                cur: 1,
                max: u64::MAX,
            },
            "PROCESS rlimits[7]: cur 1 above max 18446744073709551615, or RLIMIT_NOFILE above 1073741824",
        ),
        (
            ErrorKind::BadSigaction {
                signo: 10,
                field: "restorer",
            },
            "PROCESS sigactions of signal 10: bad restorer",
        ),
        (
            ErrorKind::BadTimer { id: 5, field: "clock" },
            "PROCESS timer 5: bad clock",
        ),
        (
            ErrorKind::TimerTidNotInGroup { id: 2, tid: 102 },
            "PROCESS timer 2: tid 102 not a live task of the thread group",
        ),
        (
            ErrorKind::ProcessInThread { index: 1 },
            "task 1: PROCESS record in a thread",
        ),
        (
            ErrorKind::RecordNewerThanImage { minor: 4 },
            "record type newer than the image's version 1.4",
        ),
    ];
    for (k, s) in cases {
        assert_eq!(std::format!("{k}"), s);
    }
    let e = Error {
        offset: 640,
        record: RECORD_PROCESS,
        kind: ErrorKind::BadDumpable { dumpable: 3 },
    };
    assert_eq!(
        std::format!("{e}"),
        "PROCESS (type 18) at offset 640: PROCESS dumpable 3 above 2"
    );
}

// ---------------------------------------------------------------------------
// Deterministic mutations of the 1.5 sample
// ---------------------------------------------------------------------------

/// As `mutations_smoke`, on the 1.5 sample: the whole-image, reader and
/// streaming verdicts agree, and every valid mutant re-encodes to itself.
#[test]
fn mutations_smoke_15() {
    let base = sample15_bytes();
    let mut rng = super::Rng(0x0015_5eed_0015_5eed);
    let (n, mut valid) = (400, 0);
    for _ in 0..n {
        let mut b = base.clone();
        super::mutate(&mut rng, &mut b);
        if rng.below(2) == 0 {
            sample::fix_trailer(&mut b);
        }
        if let Ok(s) = check(&b) {
            valid += 1;
            assert_eq!(s.total_bytes, b.len() as u64);
            assert_eq!(reencode(&b), b, "valid images are canonical");
        }
    }
    assert!(valid > 0 && valid < n, "{valid} of {n} valid");
}
