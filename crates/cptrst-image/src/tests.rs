// SPDX-License-Identifier: GPL-2.0
//! Tests: round trips of every record kind, one test per rejection path,
//! the streaming validator against the slice reader, the encoder, CRC32C.

use std::vec;
use std::vec::Vec;

use crate::sample;
use crate::*;

mod fdt;
mod live;
mod sig;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The 1.3 sample (FILES records), which most tests below are written
/// against; the 1.4 sample is [`sample14_bytes`], the 1.5 one
/// [`sample15_bytes`].
fn sample_bytes() -> Vec<u8> {
    let mut buf = vec![0u8; sample::SAMPLE_MAX_LEN];
    let n = sample::build_v1_3(&mut buf).expect("sample builds");
    buf.truncate(n);
    buf
}

/// The 1.4 sample (FILE, FDATA, FDS, MAPFILE records).
fn sample14_bytes() -> Vec<u8> {
    let mut buf = vec![0u8; sample::SAMPLE_MAX_LEN];
    let n = sample::build_v1_4(&mut buf).expect("sample builds");
    buf.truncate(n);
    buf
}

/// The 1.5 sample (THREAD, CREDS, SIGNALS, PROCESS records).
fn sample15_bytes() -> Vec<u8> {
    let mut buf = vec![0u8; sample::SAMPLE_MAX_LEN];
    let n = sample::build(&mut buf).expect("sample builds");
    buf.truncate(n);
    buf
}

/// One record, as raw parts; `len` overrides the header's length field.
#[derive(Clone, Debug)]
struct Rec {
    kind: u32,
    flags: u32,
    len: Option<u64>,
    payload: Vec<u8>,
}

impl Rec {
    fn new(kind: u32, payload: Vec<u8>) -> Self {
        Rec {
            kind,
            flags: RECORD_FLAG_MUST_UNDERSTAND,
            len: None,
            payload,
        }
    }
}

/// An image as parts, re-assembled with a correct trailer.
#[derive(Clone, Debug)]
struct Img {
    header: Vec<u8>,
    recs: Vec<Rec>,
}

// Indices of the sample's records.
const TREE: usize = 0;
const TASK0: usize = 1;
const REGS0: usize = 2;
const FPU0: usize = 3;
const FILES0: usize = 4;
const TASK1: usize = 5;
const REGS1: usize = 6;
const TASK2: usize = 8;
const FILES2: usize = 11;
const TASK3: usize = 12;
const MM1: usize = 13;
const VMA_A: usize = 14;
const PAGES_A: usize = 15;
const VMA_B: usize = 16;
const PAGES_B1: usize = 17;
const PAGES_B2: usize = 18;
const VMA_S: usize = 19;
const SHM1: usize = 20;
const PAGES_S: usize = 21;
const VMA_C: usize = 22;
const MM2: usize = 23;
const VMA_S2: usize = 27;
const SHM2: usize = 28;
const VMA_T: usize = 30;
const SHM3: usize = 31;

impl Img {
    /// The 1.3 sample, split by raw framing (independent of the reader).
    fn sample() -> Img {
        Self::split(&sample_bytes())
    }

    /// The 1.4 sample, split by raw framing.
    fn sample14() -> Img {
        Self::split(&sample14_bytes())
    }

    /// The 1.5 sample, split by raw framing.
    fn sample15() -> Img {
        Self::split(&sample15_bytes())
    }

    fn split(b: &[u8]) -> Img {
        let mut pos = HEADER_LEN;
        let mut recs = Vec::new();
        while pos < b.len() {
            let kind = u32::from_le_bytes(b[pos..pos + 4].try_into().unwrap());
            let flags = u32::from_le_bytes(b[pos + 4..pos + 8].try_into().unwrap());
            let len = u64::from_le_bytes(b[pos + 8..pos + 16].try_into().unwrap()) as usize;
            if kind != RECORD_TRAILER {
                recs.push(Rec {
                    kind,
                    flags,
                    len: None,
                    payload: b[pos + 16..pos + 16 + len].to_vec(),
                });
            }
            pos += 16 + len;
        }
        assert_eq!(pos, b.len());
        let img = Img {
            header: b[..HEADER_LEN].to_vec(),
            recs,
        };
        assert_eq!(img.bytes(), b, "re-assembly is exact");
        img
    }

    fn rec_bytes(r: &Rec, out: &mut Vec<u8>) {
        out.extend_from_slice(&r.kind.to_le_bytes());
        out.extend_from_slice(&r.flags.to_le_bytes());
        out.extend_from_slice(&r.len.unwrap_or(r.payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&r.payload);
    }

    fn bytes_no_trailer(&self) -> Vec<u8> {
        let mut out = self.header.clone();
        for r in &self.recs {
            Self::rec_bytes(r, &mut out);
        }
        out
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = self.bytes_no_trailer();
        let crc = crc32c(&out);
        let total = out.len() as u64 + TRAILER_RECORD_LEN as u64;
        let mut p = Vec::new();
        p.extend_from_slice(&(self.recs.len() as u64).to_le_bytes());
        p.extend_from_slice(&total.to_le_bytes());
        p.extend_from_slice(&crc.to_le_bytes());
        p.extend_from_slice(&0u32.to_le_bytes());
        Self::rec_bytes(&Rec::new(RECORD_TRAILER, p), &mut out);
        out
    }

    /// Offset of record `i` (`recs.len()`: the trailer).
    fn offset(&self, i: usize) -> u64 {
        let mut o = HEADER_LEN as u64;
        for r in &self.recs[..i] {
            o += 16 + r.payload.len() as u64;
        }
        o
    }

    fn p(&mut self, i: usize) -> &mut Vec<u8> {
        &mut self.recs[i].payload
    }

    fn set32(&mut self, i: usize, off: usize, v: u32) {
        self.p(i)[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn set64(&mut self, i: usize, off: usize, v: u64) {
        self.p(i)[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }

    /// Tree entry field: payload offset of entry `e`, field at `off`.
    fn set_entry(&mut self, e: usize, off: usize, v: u32) {
        self.set32(TREE, TREE_FIXED_LEN + e * TREE_ENTRY_LEN + off, v);
    }

    fn hdr32(&mut self, off: usize, v: u32) {
        self.header[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
}

/// Validates `img` every way (whole, reader, streaming in several chunk
/// sizes) and checks they agree.
fn check(img: &[u8]) -> Result<Summary, Error> {
    let whole = validate(img);
    let via_reader = match Reader::new(img) {
        Err(e) => Err(e),
        Ok(mut r) => {
            let mut err = None;
            let mut kinds = Vec::new();
            for item in &mut r {
                match item {
                    Ok(it) => kinds.push(it.header.kind),
                    Err(e) => err = Some(e),
                }
            }
            match err {
                Some(e) => Err(e),
                None => r.validator().end_of_input().map(|s| (s, kinds)),
            }
        }
    };
    assert_eq!(whole, via_reader.clone().map(|(s, _)| s));
    for chunk in [1, 7, 4096, usize::MAX] {
        let s = crate::sample::validate_streaming(img, chunk);
        assert_eq!(s, via_reader, "streaming with chunk {chunk}");
    }
    whole
}

/// Asserts `img` is refused with `kind` in a record of type `record` at `offset`.
#[track_caller]
fn refused(img: &[u8], record: u32, offset: u64, kind: ErrorKind) {
    let e = check(img).expect_err("image must be refused");
    assert_eq!(
        e,
        Error {
            offset,
            record,
            kind
        },
        "got: {e}"
    );
}

/// Patches record `i` of the sample with `f` and asserts the refusal.
#[track_caller]
fn refused_patch(i: usize, kind: ErrorKind, f: impl FnOnce(&mut Img)) {
    let mut img = Img::sample();
    f(&mut img);
    let r = img.recs[i].kind;
    refused(&img.bytes(), r, img.offset(i), kind);
}

// ---------------------------------------------------------------------------
// CRC32C
// ---------------------------------------------------------------------------

#[test]
fn crc32c_known_vectors() {
    assert_eq!(crc32c(b""), 0);
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
    let inc: Vec<u8> = (0u8..32).collect();
    assert_eq!(crc32c(&inc), 0x46DD_794E);
}

/// Byte at a time, a different implementation of the same function.
fn crc_bytewise(mut c: u32, data: &[u8]) -> u32 {
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
        }
    }
    c
}

#[test]
fn crc_impl_pluggable() {
    let data: Vec<u8> = (0..777u32).map(|i| (i * 13 % 256) as u8).collect();
    assert_eq!(crc32c_raw(!0, &data), crc_bytewise(!0, &data));
    let mut c = Crc32c::new();
    c.set_impl(crc_bytewise);
    c.update(&data[..100]);
    c.update_with(|st| crc32c_raw(st, &data[100..]));
    assert_eq!(c.value(), crc32c(&data));
    // An image encoded and validated with another implementation.
    let mut a = vec![0u8; 1 << 16];
    let n = crate::sample::build(&mut a).unwrap();
    assert!(crate::sample::validate_streaming(&a[..n], 4096).is_ok());
    let mut v = Validator::new();
    v.set_crc_impl(crc_bytewise);
    assert_eq!(
        v.feed_header(&a[..HEADER_LEN]).map(|h| h.page_size),
        Ok(4096)
    );
    let mut e = Encoder::new(crate::sample::header());
    e.set_crc_impl(crc_bytewise);
    let mut b = vec![0u8; 256];
    let k = e.header(&mut b).unwrap();
    assert_eq!(e.crc32c(), crc32c(&b[..k]));
}

#[test]
fn feed_data_crc_matches_feed_data() {
    let mut buf = vec![0u8; 1 << 16];
    let n = crate::sample::build(&mut buf).unwrap();
    let img = &buf[..n];
    // Validate with every data piece checksummed by the caller (the first
    // attempt at each declined: declining must change nothing).
    let mut v = Validator::new();
    let mut pos = 0usize;
    let mut declined = 0;
    let summary = loop {
        match v.expect() {
            Expect::Header => {
                v.feed_header(&img[pos..pos + HEADER_LEN]).unwrap();
                pos += HEADER_LEN;
            }
            Expect::End => break v.end_of_input().unwrap(),
            Expect::RecordHeader => {
                v.feed_record_header(&img[pos..pos + RECORD_HEADER_LEN])
                    .unwrap();
                pos += RECORD_HEADER_LEN;
            }
            Expect::Tree(len) => {
                v.feed_tree(&img[pos..pos + len as usize]).unwrap();
                pos += len as usize;
            }
            Expect::Payload(len) => {
                v.feed_payload(&img[pos..pos + len as usize]).unwrap();
                pos += len as usize;
            }
            Expect::Data(len) => {
                // FDATA: its data checksummed, its padding seen.
                let fdata = v.current().0.kind == RECORD_FDATA;
                let n = if fdata { v.data_chunk_left() } else { len };
                let d = &img[pos..pos + n as usize];
                assert_eq!(v.feed_data_crc(n, |_| None), Ok(false));
                declined += 1;
                assert_eq!(v.feed_data_crc(n, |st| Some(crc32c_raw(st, d))), Ok(true));
                pos += n as usize;
                if n < len {
                    let pad = &img[pos..pos + (len - n) as usize];
                    v.feed_data(pad).unwrap();
                    pos += pad.len();
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(declined > 0);
    assert_eq!(summary.total_bytes as usize, n);
    // Data where a record header is due: refused without calling the closure.
    let mut v = Validator::new();
    v.feed_header(&img[..HEADER_LEN]).unwrap();
    assert!(v.feed_data_crc(1, |_| panic!("called")).is_err());
}

#[test]
fn data_with_crc_checks_framing() {
    let mut e = Encoder::new(crate::sample::header());
    let mut b = vec![0u8; 1 << 14];
    // No PAGES record open: refused, and the closure is not called.
    assert_eq!(
        e.data_with_crc(4096, |_| panic!("called")),
        Err(EncodeError::Sequence)
    );
    let pos = e.header(&mut b).unwrap();
    e.pages_begin(0x1000, 1, &mut b[pos..]).unwrap();
    let before = e.offset();
    assert_eq!(
        e.data_with_crc(8192, |_| panic!("called")),
        Err(EncodeError::Overrun)
    );
    assert_eq!(e.offset(), before);
    let mut called = false;
    e.data_with_crc(4096, |st| {
        called = true;
        crc32c_raw(st, &[0u8; 4096])
    })
    .unwrap();
    assert!(called);
    assert_eq!(e.offset(), before + 4096);
    assert_eq!(
        e.data_with_crc(1, |_| panic!("called")),
        Err(EncodeError::Sequence)
    );
}

#[test]
fn crc32c_incremental() {
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
    let whole = crc32c(&data);
    for split in [0, 1, 3, 8, 9, 500, 999, 1000] {
        let (a, b) = data.split_at(split);
        assert_eq!(crc32c_update(crc32c(a), b), whole);
        let mut c = Crc32c::new();
        c.update(a);
        c.update(b);
        assert_eq!(c.value(), whole);
        assert_eq!(Crc32c::resume(crc32c(a)).value(), crc32c(a));
    }
    // Byte-at-a-time equals slicing-by-8.
    let mut c = Crc32c::default();
    for b in &data {
        c.update(core::slice::from_ref(b));
    }
    assert_eq!(c.value(), whole);
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

fn items(img: &[u8]) -> Vec<Item<'_>> {
    Reader::new(img)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[test]
fn sample_is_valid() {
    let b = sample_bytes();
    let s = check(&b).unwrap();
    assert_eq!(s.header, sample::header_v1_3());
    assert_eq!(s.tasks, 4);
    assert_eq!(s.mms, 2);
    assert_eq!(s.vmas, 8);
    assert_eq!(s.page_runs, 6);
    assert_eq!(s.pages, 7);
    assert_eq!(s.records, 32);
    assert_eq!(s.shm_objects, 2);
    assert_eq!(s.total_bytes, b.len() as u64);
    assert_eq!(s.crc32c, crc32c(&b[..b.len() - TRAILER_RECORD_LEN]));
    assert_eq!(b.len() % ALIGN, 0);
}

#[test]
fn round_trip_header() {
    let h = FileHeader::new(0x2e7, 2696, b"6.12.9-amd64");
    let mut buf = [0u8; HEADER_LEN];
    assert_eq!(h.encode(&mut buf), Ok(HEADER_LEN));
    assert_eq!(&buf[..8], &MAGIC);
    assert_eq!(FileHeader::decode(&buf), Ok(h));
    assert_eq!(h.release(), b"6.12.9-amd64");
    assert_eq!(h.user_space_end(), 0x7fff_ffff_f000);
    // A 64-byte release has no NUL and is valid.
    let long = FileHeader::new(3, 576, &[b'x'; 80]);
    long.encode(&mut buf).unwrap();
    assert_eq!(FileHeader::decode(&buf).unwrap().release(), &[b'x'; 64]);
    assert_eq!(
        h.encode(&mut [0u8; 127]),
        Err(EncodeError::BufferTooSmall { needed: HEADER_LEN })
    );
}

#[test]
fn round_trip_record_header() {
    let h = RecordHeader::new(RECORD_VMA, 48);
    let mut buf = [0u8; 16];
    assert_eq!(h.encode(&mut buf), Ok(16));
    assert_eq!(RecordHeader::decode(&buf, 128), Ok(h));
    assert!(h.is_known());
}

#[test]
fn round_trip_tree() {
    let b = sample_bytes();
    let it = items(&b);
    let Record::Tree(t) = it[TREE].record else {
        panic!("not a tree")
    };
    let want = sample::tree_entries();
    assert_eq!(t, Tree::from_entries(&want));
    assert_eq!(t.len(), 4);
    assert!(!t.is_empty());
    assert_eq!(t.iter().collect::<Vec<_>>(), want.to_vec());
    assert_eq!(t.get(2).unwrap().level_pids(), &[102, 1]);
    assert!(t.get(1).unwrap().is_thread());
    assert!(t.get(3).unwrap().is_zombie());
    assert_eq!(t.get(4), None);
    // Whole-record encoding equals the streamed one.
    let mut e = Encoder::new(sample::header());
    let mut buf = vec![0u8; 4096];
    e.header(&mut buf).unwrap();
    let n = e.tree(&Tree::from_entries(&want), &mut buf).unwrap();
    let off = it[TREE].offset as usize;
    assert_eq!(&buf[..n], &b[off..off + n]);
    assert_eq!(it[TREE].offset, HEADER_LEN as u64);
}

#[test]
fn round_trip_task() {
    let b = sample_bytes();
    let it = items(&b);
    for (i, &idx) in [TASK0, TASK1, TASK2, TASK3].iter().enumerate() {
        let pid = 100 + i as u32;
        assert_eq!(it[idx].record, Record::Task(sample::task(i as u32, pid)));
    }
}

#[test]
fn round_trip_regs() {
    let b = sample_bytes();
    let it = items(&b);
    assert_eq!(it[REGS0].record, Record::Regs(sample::regs(0)));
    let r = sample::regs(3);
    assert_eq!(Regs::from_array(r.to_array()), r);
    // Kernel order: r15 first, gs last, ip at index 16.
    let a = r.to_array();
    assert_eq!((a[0], a[16], a[26]), (r.r15, r.ip, r.gs));
}

/// Every register's index, name and field, in one table: the constants
/// of `regs` are what `Regs`, its arrays and the REGS payload follow.
fn regs_table(r: &Regs) -> [(usize, u64, &'static str); regs::COUNT] {
    [
        (regs::R15, r.r15, "r15"),
        (regs::R14, r.r14, "r14"),
        (regs::R13, r.r13, "r13"),
        (regs::R12, r.r12, "r12"),
        (regs::BP, r.bp, "bp"),
        (regs::BX, r.bx, "bx"),
        (regs::R11, r.r11, "r11"),
        (regs::R10, r.r10, "r10"),
        (regs::R9, r.r9, "r9"),
        (regs::R8, r.r8, "r8"),
        (regs::AX, r.ax, "ax"),
        (regs::CX, r.cx, "cx"),
        (regs::DX, r.dx, "dx"),
        (regs::SI, r.si, "si"),
        (regs::DI, r.di, "di"),
        (regs::ORIG_AX, r.orig_ax, "orig_ax"),
        (regs::IP, r.ip, "ip"),
        (regs::CS, r.cs, "cs"),
        (regs::FLAGS, r.flags, "flags"),
        (regs::SP, r.sp, "sp"),
        (regs::SS, r.ss, "ss"),
        (regs::FS_BASE, r.fs_base, "fs_base"),
        (regs::GS_BASE, r.gs_base, "gs_base"),
        (regs::DS, r.ds, "ds"),
        (regs::ES, r.es, "es"),
        (regs::FS, r.fs, "fs"),
        (regs::GS, r.gs, "gs"),
    ]
}

#[test]
fn regs_layout_indices_names_fields() {
    assert_eq!(regs::COUNT, REGS_COUNT);
    assert_eq!(regs::COUNT * 8, REGS_PAYLOAD_LEN);
    // Distinct values, so that a field read back is the one written.
    let mut a = [0u64; regs::COUNT];
    for (i, v) in a.iter_mut().enumerate() {
        *v = 0x1000 + i as u64;
    }
    let r = Regs::from_array(a);
    let table = regs_table(&r);
    let mut seen = [false; regs::COUNT];
    for (i, (idx, field, name)) in table.into_iter().enumerate() {
        // The table is in declaration order, each index once.
        assert_eq!(idx, i, "{name}");
        assert!(!seen[idx], "{name}");
        seen[idx] = true;
        assert_eq!(regs::NAMES[idx], name);
        assert_eq!(field, a[idx], "{name}: from_array");
        assert_eq!(r.to_array()[idx], field, "{name}: to_array");
    }
    assert!(seen.iter().all(|&s| s));
}

#[test]
fn regs_payload_follows_indices() {
    let r = sample::regs(2);
    let mut buf = vec![0u8; ENCODE_BUF_LEN];
    let mut e = Encoder::new(sample::header());
    e.header(&mut buf).expect("header");
    let n = e.regs(&r, &mut buf).expect("regs");
    assert_eq!(n, RECORD_HEADER_LEN + REGS_PAYLOAD_LEN);
    let payload = &buf[RECORD_HEADER_LEN..n];
    for (idx, field, name) in regs_table(&r) {
        let at = idx * 8;
        let v = u64::from_le_bytes(payload[at..at + 8].try_into().expect("8 bytes"));
        assert_eq!(v, field, "{name} at byte {at}");
    }
}

/// The layout is the C one: each index is its field's offset in
/// `struct user_regs_struct`, divided by 8. Checked against glibc's
/// (`<sys/user.h>`, the same layout as the kernel's, which names the
/// registers without their `r`/`e` prefix: `ax` for `rax`, `flags` for
/// `eflags`).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn regs_layout_is_user_regs_struct() {
    use core::mem::{offset_of, size_of};
    type U = libc::user_regs_struct;
    assert_eq!(size_of::<U>(), regs::COUNT * 8);
    for (idx, off) in [
        (regs::R15, offset_of!(U, r15)),
        (regs::R14, offset_of!(U, r14)),
        (regs::R13, offset_of!(U, r13)),
        (regs::R12, offset_of!(U, r12)),
        (regs::BP, offset_of!(U, rbp)),
        (regs::BX, offset_of!(U, rbx)),
        (regs::R11, offset_of!(U, r11)),
        (regs::R10, offset_of!(U, r10)),
        (regs::R9, offset_of!(U, r9)),
        (regs::R8, offset_of!(U, r8)),
        (regs::AX, offset_of!(U, rax)),
        (regs::CX, offset_of!(U, rcx)),
        (regs::DX, offset_of!(U, rdx)),
        (regs::SI, offset_of!(U, rsi)),
        (regs::DI, offset_of!(U, rdi)),
        (regs::ORIG_AX, offset_of!(U, orig_rax)),
        (regs::IP, offset_of!(U, rip)),
        (regs::CS, offset_of!(U, cs)),
        (regs::FLAGS, offset_of!(U, eflags)),
        (regs::SP, offset_of!(U, rsp)),
        (regs::SS, offset_of!(U, ss)),
        (regs::FS_BASE, offset_of!(U, fs_base)),
        (regs::GS_BASE, offset_of!(U, gs_base)),
        (regs::DS, offset_of!(U, ds)),
        (regs::ES, offset_of!(U, es)),
        (regs::FS, offset_of!(U, fs)),
        (regs::GS, offset_of!(U, gs)),
    ] {
        assert_eq!(off, idx * 8, "{}", regs::NAMES[idx]);
    }
}

#[test]
fn round_trip_fpu() {
    let b = sample_bytes();
    let it = items(&b);
    let x = sample::xstate(0);
    assert_eq!(it[FPU0].record, Record::Fpu(Fpu { xstate: &x }));
    assert_eq!(it[FPU0].header.len, 840);
}

#[test]
fn round_trip_mm() {
    let b = sample_bytes();
    let it = items(&b);
    let mms = sample::mms_v1_3();
    assert_eq!(it[MM1].record, Record::Mm(mms[0]));
    assert_eq!(it[MM2].record, Record::Mm(mms[1]));
    let Record::Mm(m) = it[MM1].record else {
        panic!()
    };
    assert_eq!(m.auxv.iter().collect::<Vec<_>>(), vec![(6, 4096), (0, 0)]);
    assert_eq!(m.auxv.get(2), None);
    assert_eq!(m.exe_path, sample::SAMPLE_EXE);
}

#[test]
fn round_trip_vma() {
    let b = sample_bytes();
    let it = items(&b);
    assert_eq!(it[VMA_A].record, Record::Vma(sample::vmas_v1_3(1)[0]));
    assert_eq!(it[VMA_C].record, Record::Vma(sample::vmas_v1_3(1)[3]));
    for k in 1..=8 {
        let kind = VmaKind::from_u32(k).unwrap();
        assert_eq!(kind.as_u32(), k);
        assert_eq!(kind.has_path(), k == 2 || k == 3);
    }
    assert_eq!(VmaKind::from_u32(0), None);
    assert_eq!(VmaKind::from_u32(9), None);
}

#[test]
fn round_trip_pages() {
    let b = sample_bytes();
    let it = items(&b);
    for idx in [PAGES_A, PAGES_B1, PAGES_B2] {
        let Record::Pages(p) = it[idx].record else {
            panic!()
        };
        assert_eq!(p.data.len() as u64, p.nr_pages * 4096);
        for (k, &byte) in p.data.iter().enumerate() {
            assert_eq!(
                byte,
                sample::page_byte(p.addr + (k / 4096 * 4096) as u64, k % 4096)
            );
        }
    }
    let Record::Pages(p) = it[PAGES_B2].record else {
        panic!()
    };
    assert_eq!((p.addr, p.nr_pages), (0x60_1000, 2));
    assert_eq!(p.end(4096), Some(0x60_3000));
}

#[test]
fn round_trip_trailer() {
    let b = sample_bytes();
    let it = items(&b);
    let last = it.last().unwrap();
    assert_eq!(
        last.record,
        Record::Trailer(Trailer {
            records: 32,
            total_bytes: b.len() as u64,
            crc32c: crc32c(&b[..b.len() - 40]),
        })
    );
    assert_eq!(last.offset, (b.len() - 40) as u64);
}

#[test]
fn round_trip_unknown_skippable() {
    let mut img = Img::sample();
    let mut r = Rec::new(0x1234, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0, 0, 0, 0]);
    r.flags = 0;
    img.recs.insert(MM1, r.clone());
    img.recs.insert(TASK1, Rec::new(0x9999, vec![]));
    img.recs[TASK1].flags = 0;
    img.recs.insert(TREE, r);
    let b = img.bytes();
    let s = check(&b).unwrap();
    assert_eq!(s.records, 35);
    let it = items(&b);
    assert_eq!(
        it[0].record,
        Record::Unknown {
            kind: 0x1234,
            flags: 0,
            payload: &[1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0, 0, 0, 0]
        }
    );
    assert_eq!(record_name(0x1234), "unknown");
    // Re-encoding reproduces the image, unknown records included.
    assert_eq!(reencode(&b), b);
}

/// Re-encodes every record of a valid image with the encoder.
fn reencode(img: &[u8]) -> Vec<u8> {
    let r = Reader::new(img).unwrap();
    let mut e = Encoder::new(*r.header());
    let mut out = vec![0u8; img.len()];
    let mut pos = e.header(&mut out).unwrap();
    for item in r {
        let item = item.unwrap();
        let rec = match item.record {
            Record::Trailer(_) => {
                pos += e.trailer(&mut out[pos..]).unwrap();
                continue;
            }
            r => r,
        };
        pos += e.record_any(&rec, &mut out[pos..]).unwrap();
    }
    out.truncate(pos);
    out
}

#[test]
fn round_trip_reencode_identical() {
    let b = sample_bytes();
    assert_eq!(reencode(&b), b);
}

#[test]
fn decode_record_standalone() {
    let b = sample_bytes();
    let h = sample::header();
    for it in items(&b) {
        let off = it.offset as usize + 16;
        let p = &b[off..off + it.header.len as usize];
        assert_eq!(decode_record(&it.header, p, &h), Ok(it.record));
    }
    let bad = RecordHeader::new(RECORD_TASK, 72);
    assert_eq!(
        decode_record(&bad, &[0u8; 8], &h),
        Err(ErrorKind::BadPayloadLength {
            len: 8,
            expected: 72
        })
    );
    let unknown = RecordHeader::new(77, 0);
    assert_eq!(
        decode_record(&unknown, &[], &h),
        Err(ErrorKind::UnknownMustUnderstand)
    );
}

#[test]
fn auxv_from_words() {
    let words = [3u64, 0x40, 6, 4096, 0, 0, 99, 99];
    let a = Auxv::from_words(&words).unwrap();
    assert_eq!(a.len(), 3);
    assert_eq!(a.get(2), Some((0, 0)));
    assert_eq!(Auxv::from_words(&[1, 2, 3, 4]), None);
    assert_eq!(Auxv::from_words(&[]), None);
    let long = [7u64; 200];
    assert_eq!(Auxv::from_words(&long), None);
}

#[test]
fn error_display() {
    let e = Error {
        offset: 4096,
        record: RECORD_VMA,
        kind: ErrorKind::VmaOverlap,
    };
    let s = std::format!("{e}");
    assert_eq!(
        s,
        "VMA (type 6) at offset 4096: VMA overlaps the previous one"
    );
    let s = std::format!("{}", EncodeError::BufferTooSmall { needed: 3 });
    assert!(s.contains('3'));
}

// ---------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------

#[test]
fn encoder_buffer_too_small_changes_nothing() {
    let mut e = Encoder::new(sample::header());
    let mut buf = vec![0u8; 8192];
    e.header(&mut buf).unwrap();
    let before = (e.offset(), e.records(), e.crc32c());
    let t = sample::task(0, 100);
    assert_eq!(
        e.task(&t, &mut buf[..50]),
        Err(EncodeError::BufferTooSmall { needed: 88 })
    );
    assert_eq!((e.offset(), e.records(), e.crc32c()), before);
    assert_eq!(e.task(&t, &mut buf), Ok(88));
    assert_eq!(e.records(), 1);
    assert_eq!(e.offset(), 128 + 88);
    assert_eq!(e.file_header(), &sample::header());
}

#[test]
fn encoder_sequence() {
    let mut e = Encoder::new(sample::header());
    let mut buf = vec![0u8; 8192];
    // Records before the header.
    assert_eq!(
        e.task(&sample::task(0, 1), &mut buf),
        Err(EncodeError::Sequence)
    );
    e.header(&mut buf).unwrap();
    assert_eq!(e.header(&mut buf), Err(EncodeError::Sequence));
    // An open tree takes entries only.
    e.tree_begin(2, &mut buf).unwrap();
    let te = sample::tree_entries();
    assert_eq!(
        e.regs(&Regs::default(), &mut buf),
        Err(EncodeError::Sequence)
    );
    assert_eq!(e.data(&[0]), Err(EncodeError::Sequence));
    e.tree_entry(&te[0], &mut buf).unwrap();
    e.tree_entry(&te[1], &mut buf).unwrap();
    assert_eq!(e.tree_entry(&te[2], &mut buf), Err(EncodeError::Sequence));
    // Open pages take data only, no more than announced.
    e.pages_begin(0x1000, 1, &mut buf).unwrap();
    assert_eq!(e.trailer(&mut buf), Err(EncodeError::Sequence));
    e.data(&[0u8; 4000]).unwrap();
    assert_eq!(e.data(&[0u8; 100]), Err(EncodeError::Overrun));
    e.data(&[0u8; 96]).unwrap();
    e.trailer(&mut buf).unwrap();
    assert_eq!(e.trailer(&mut buf), Err(EncodeError::Sequence));
}

#[test]
fn encoder_limits() {
    let mut e = Encoder::new(sample::header());
    let mut buf = vec![0u8; 2 * ENCODE_BUF_LEN];
    e.header(&mut buf).unwrap();
    assert_eq!(e.fpu(&[0u8; 100], &mut buf), Err(EncodeError::XstateSize));
    assert_eq!(
        e.tree_begin(MAX_TASKS + 1, &mut buf),
        Err(EncodeError::Limit)
    );
    assert_eq!(e.pages_begin(0, 0, &mut buf), Err(EncodeError::Limit));
    assert_eq!(
        e.pages_begin(0, MAX_PAGES_PER_RUN + 1, &mut buf),
        Err(EncodeError::Limit)
    );
    let long = [b'/'; MAX_PATH_LEN + 1];
    let mut v = sample::vmas_v1_3(1)[0];
    v.path = &long;
    assert_eq!(e.vma(&v, &mut buf), Err(EncodeError::Limit));
    v.path = &long[..MAX_PATH_LEN];
    assert_eq!(e.vma(&v, &mut buf), Ok(16 + VMA_MAX_PAYLOAD));
    let mut m = sample::mms_v1_3()[0];
    m.exe_path = &long[..MAX_PATH_LEN];
    let words = [[1u64, 1]; MAX_AUXV];
    let mut flat = [0u64; 2 * MAX_AUXV];
    for (i, w) in words.iter().enumerate() {
        flat[2 * i] = w[0];
        flat[2 * i + 1] = w[1];
    }
    flat[2 * MAX_AUXV - 2] = AT_NULL;
    m.auxv = Auxv::from_words(&flat).unwrap();
    assert_eq!(e.mm(&m, &mut buf), Ok(ENCODE_BUF_LEN));
    let p = Pages {
        addr: 0,
        nr_pages: 1,
        data: &[0u8; 10],
    };
    assert_eq!(e.pages(&p, &mut buf), Err(EncodeError::Limit));
}

// ---------------------------------------------------------------------------
// Rejections: file header
// ---------------------------------------------------------------------------

#[test]
fn reject_truncated_header() {
    let b = sample_bytes();
    refused(&b[..100], 0, 0, ErrorKind::TruncatedHeader);
    refused(&[], 0, 0, ErrorKind::TruncatedHeader);
}

#[test]
fn reject_bad_magic() {
    let mut img = Img::sample();
    img.header[7] = b'\r';
    refused(&img.bytes(), 0, 0, ErrorKind::BadMagic);
}

#[test]
fn reject_unsupported_major() {
    let mut img = Img::sample();
    img.header[8] = 2;
    refused(&img.bytes(), 0, 0, ErrorKind::UnsupportedMajor { major: 2 });
    // Another minor of the same major is accepted.
    let mut img = Img::sample15();
    img.header[10] = 7;
    assert_eq!(check(&img.bytes()).unwrap().header.minor, 7);
}

#[test]
fn reject_bad_header_length() {
    let mut img = Img::sample();
    img.hdr32(12, 136);
    refused(&img.bytes(), 0, 0, ErrorKind::BadHeaderLength { len: 136 });
}

#[test]
fn reject_wrong_arch() {
    let mut img = Img::sample();
    img.hdr32(16, 183);
    refused(&img.bytes(), 0, 0, ErrorKind::WrongArch { arch: 183 });
}

#[test]
fn reject_bad_page_size() {
    let mut img = Img::sample();
    img.hdr32(20, 16384);
    refused(
        &img.bytes(),
        0,
        0,
        ErrorKind::BadPageSize { page_size: 16384 },
    );
}

#[test]
fn reject_bad_xcr0() {
    let mut img = Img::sample();
    img.header[24] = 0x5;
    refused(&img.bytes(), 0, 0, ErrorKind::BadXcr0 { xcr0: 5 });
}

#[test]
fn reject_bad_xstate_size() {
    for size in [575, MAX_XSTATE_SIZE + 1] {
        let mut img = Img::sample();
        img.hdr32(32, size);
        refused(&img.bytes(), 0, 0, ErrorKind::BadXstateSize { size });
    }
}

#[test]
fn reject_unknown_header_flags() {
    let mut img = Img::sample();
    img.hdr32(36, 1);
    refused(
        &img.bytes(),
        0,
        0,
        ErrorKind::UnknownHeaderFlags { flags: 1 },
    );
}

#[test]
fn reject_bad_kernel_release() {
    let mut img = Img::sample();
    img.header[40 + 50] = b'x';
    refused(&img.bytes(), 0, 0, ErrorKind::BadKernelRelease);
}

#[test]
fn reject_header_reserved() {
    let mut img = Img::sample();
    img.header[127] = 1;
    refused(&img.bytes(), 0, 0, ErrorKind::NonZeroReserved);
}

// ---------------------------------------------------------------------------
// Rejections: framing
// ---------------------------------------------------------------------------

#[test]
fn reject_truncated_record_header() {
    let img = Img::sample();
    let b = img.bytes();
    let at = img.offset(TASK0);
    refused(
        &b[..at as usize + 8],
        0,
        at,
        ErrorKind::TruncatedRecordHeader { available: 8 },
    );
}

#[test]
fn reject_truncated_record() {
    let img = Img::sample();
    let b = img.bytes();
    // In a fixed payload.
    let at = img.offset(REGS0);
    refused(
        &b[..at as usize + 16 + 100],
        RECORD_REGS,
        at,
        ErrorKind::TruncatedRecord { missing: 116 },
    );
    // In the tree.
    let at = img.offset(TREE);
    refused(
        &b[..at as usize + 20],
        RECORD_TREE,
        at,
        ErrorKind::TruncatedRecord {
            missing: 4 * 168 + 8 - 4,
        },
    );
    // In page data.
    let at = img.offset(PAGES_B2);
    refused(
        &b[..at as usize + 16 + 16 + 5000],
        RECORD_PAGES,
        at,
        ErrorKind::TruncatedRecord {
            missing: 8192 - 5000,
        },
    );
}

#[test]
fn reject_length_overflow() {
    let len = u64::MAX - 7;
    refused_patch(TASK0, ErrorKind::LengthOverflow { len }, |img| {
        img.recs[TASK0].len = Some(len)
    });
}

#[test]
fn reject_misaligned_length() {
    let mut img = Img::sample();
    let mut r = Rec::new(0x100, vec![0; 12]);
    r.flags = 0;
    img.recs.insert(TASK0, r);
    refused(
        &img.bytes(),
        0x100,
        img.offset(TASK0),
        ErrorKind::MisalignedLength { len: 12 },
    );
}

#[test]
fn reject_record_too_large() {
    let mut img = Img::sample();
    let mut r = Rec::new(0x100, vec![]);
    r.flags = 0;
    r.len = Some(MAX_RECORD_PAYLOAD + 8);
    img.recs.insert(TASK0, r);
    refused(
        &img.bytes(),
        0x100,
        img.offset(TASK0),
        ErrorKind::RecordTooLarge {
            len: MAX_RECORD_PAYLOAD + 8,
            max: MAX_RECORD_PAYLOAD,
        },
    );
    // Per-type limit, checked from the header alone.
    let len = (MM_MAX_PAYLOAD + 8) as u64;
    refused_patch(
        MM1,
        ErrorKind::RecordTooLarge {
            len,
            max: MM_MAX_PAYLOAD as u64,
        },
        |img| img.recs[MM1].len = Some(len),
    );
}

#[test]
fn reject_bad_payload_length() {
    refused_patch(
        TASK0,
        ErrorKind::BadPayloadLength {
            len: 80,
            expected: 72,
        },
        |img| img.p(TASK0).extend_from_slice(&[0; 8]),
    );
    // Tree: count and length disagree.
    refused_patch(
        TREE,
        ErrorKind::BadPayloadLength {
            len: 8 + 4 * 168,
            expected: 8 + 3 * 168,
        },
        |img| img.set32(TREE, 0, 3),
    );
    // MM: auxv count and length disagree.
    refused_patch(
        MM1,
        ErrorKind::BadPayloadLength {
            len: 104 + 32 + 16,
            expected: 104 + 48 + 16,
        },
        |img| img.set32(MM1, 96, 3),
    );
}

#[test]
fn reject_invalid_record_type() {
    refused_patch(TASK0, ErrorKind::InvalidRecordType, |img| {
        img.recs[TASK0].kind = 0
    });
}

#[test]
fn reject_bad_record_flags() {
    refused_patch(TASK0, ErrorKind::BadRecordFlags { flags: 3 }, |img| {
        img.recs[TASK0].flags = 3
    });
    // A 1.0 record type without must-understand.
    refused_patch(TASK0, ErrorKind::BadRecordFlags { flags: 0 }, |img| {
        img.recs[TASK0].flags = 0
    });
}

#[test]
fn reject_unknown_must_understand() {
    let mut img = Img::sample();
    img.recs.insert(MM1, Rec::new(0x100, vec![0; 8]));
    refused(
        &img.bytes(),
        0x100,
        img.offset(MM1),
        ErrorKind::UnknownMustUnderstand,
    );
}

#[test]
fn reject_nonzero_padding() {
    // The VMA path "/usr/bin/sample" (15 bytes) has one byte of padding.
    refused_patch(VMA_A, ErrorKind::NonZeroPadding, |img| {
        let n = img.p(VMA_A).len();
        img.p(VMA_A)[n - 1] = b'x';
    });
}

#[test]
fn reject_nonzero_reserved() {
    refused_patch(TREE, ErrorKind::NonZeroReserved, |img| {
        img.set32(TREE, 4, 1)
    });
    refused_patch(TREE, ErrorKind::NonZeroReserved, |img| {
        img.set_entry(2, 36, 1)
    });
    refused_patch(TASK0, ErrorKind::NonZeroReserved, |img| {
        img.set32(TASK0, 60, 1)
    });
    refused_patch(FPU0, ErrorKind::NonZeroReserved, |img| {
        img.set32(FPU0, 4, 1)
    });
}

// ---------------------------------------------------------------------------
// Rejections: order
// ---------------------------------------------------------------------------

fn out_of_order(remove: &[usize], insert: Option<(usize, usize)>, at: usize, expected: u32) {
    let mut img = Img::sample();
    if let Some((dst, src)) = insert {
        let r = img.recs[src].clone();
        img.recs.insert(dst, r);
    }
    for &i in remove.iter().rev() {
        img.recs.remove(i);
    }
    let kind = img.recs.get(at).map_or(RECORD_TRAILER, |r| r.kind);
    refused(
        &img.bytes(),
        kind,
        img.offset(at),
        ErrorKind::OutOfOrder { expected },
    );
}

#[test]
fn reject_regs_before_task() {
    out_of_order(&[TASK0], None, TASK0, RECORD_TASK);
}

#[test]
fn reject_missing_tree() {
    out_of_order(&[TREE], None, 0, RECORD_TREE);
}

#[test]
fn reject_second_tree() {
    out_of_order(&[], Some((TASK0, TREE)), TASK0, RECORD_TASK);
}

#[test]
fn reject_missing_regs() {
    out_of_order(&[REGS0], None, REGS0, RECORD_REGS);
}

#[test]
fn reject_missing_fpu() {
    out_of_order(&[FPU0], None, FPU0, RECORD_FPU);
}

#[test]
fn reject_regs_for_zombie() {
    out_of_order(&[], Some((TASK3 + 1, REGS0)), TASK3 + 1, RECORD_MM);
}

#[test]
fn reject_missing_task() {
    out_of_order(&[TASK3], None, TASK3, RECORD_TASK);
}

#[test]
fn reject_vma_before_mm() {
    out_of_order(&[MM1], None, MM1, RECORD_MM);
}

#[test]
fn reject_missing_mm() {
    // Drop the second MM group entirely: the trailer comes too early.
    let img = Img::sample();
    let n = img.recs.len();
    out_of_order(&(MM2..n).collect::<Vec<_>>(), None, MM2, RECORD_MM);
}

#[test]
fn reject_vma_count_mismatch() {
    // One VMA more than the MM announces.
    refused_patch(
        VMA_C,
        ErrorKind::OutOfOrder {
            expected: RECORD_MM,
        },
        |img| img.set32(MM1, 4, 3),
    );
    // One VMA fewer.
    refused_patch(
        MM2,
        ErrorKind::OutOfOrder {
            expected: RECORD_VMA,
        },
        |img| img.set32(MM1, 4, 5),
    );
}

#[test]
fn reject_pages_in_task_section() {
    out_of_order(&[], Some((TASK1, PAGES_A)), TASK1, RECORD_TASK);
}

#[test]
fn reject_missing_trailer() {
    let img = Img::sample();
    let b = img.bytes_no_trailer();
    refused(&b, 0, b.len() as u64, ErrorKind::MissingTrailer);
}

#[test]
fn reject_data_after_trailer() {
    let mut b = Img::sample().bytes();
    let end = b.len() as u64;
    b.extend_from_slice(&[0; 8]);
    refused(&b, 0, end, ErrorKind::DataAfterTrailer);
    b.truncate(end as usize + 1);
    refused(&b, 0, end, ErrorKind::DataAfterTrailer);
    // A whole valid record after the trailer too.
    let mut b = Img::sample().bytes();
    let trailer = b[b.len() - 40..].to_vec();
    b.extend_from_slice(&trailer);
    refused(&b, 0, end, ErrorKind::DataAfterTrailer);
}

// ---------------------------------------------------------------------------
// Rejections: TREE
// ---------------------------------------------------------------------------

#[test]
fn reject_tree_empty() {
    refused_patch(TREE, ErrorKind::TreeEmpty, |img| {
        img.p(TREE).truncate(8);
        img.set32(TREE, 0, 0);
    });
}

#[test]
fn reject_too_many_tasks() {
    refused_patch(
        TREE,
        ErrorKind::TooManyTasks {
            count: MAX_TASKS + 1,
        },
        |img| img.set32(TREE, 0, MAX_TASKS + 1),
    );
}

#[test]
fn reject_tree_bad_flags() {
    refused_patch(TREE, ErrorKind::TreeBadFlags { index: 2 }, |img| {
        img.set_entry(2, 0, 4)
    });
}

#[test]
fn reject_tree_bad_pid_levels() {
    let k = |index| ErrorKind::TreeBadPidLevels { index };
    refused_patch(TREE, k(0), |img| img.set_entry(0, 4, 0));
    refused_patch(TREE, k(0), |img| img.set_entry(0, 4, 33));
    // A thread in other namespaces than its leader.
    refused_patch(TREE, k(1), |img| {
        img.set_entry(1, 4, 2);
        img.set_entry(1, 44, 5);
    });
    // A child with fewer levels than its parent (task 3 under task 2).
    refused_patch(TREE, k(3), |img| img.set_entry(3, 12, 102));
}

#[test]
fn reject_tree_bad_pid() {
    let k = |index| ErrorKind::TreeBadPid { index };
    refused_patch(TREE, k(2), |img| img.set_entry(2, 44, 0));
    refused_patch(TREE, k(2), |img| img.set_entry(2, 44, PID_MAX_LIMIT + 1));
    // A pid past the task's levels.
    refused_patch(TREE, k(3), |img| img.set_entry(3, 44, 9));
}

#[test]
fn reject_tree_duplicate_pid() {
    refused_patch(TREE, ErrorKind::TreeDuplicatePid { index: 3 }, |img| {
        img.set_entry(3, 40, 102);
        img.set_entry(3, 8, 102);
    });
}

#[test]
fn reject_tree_root_has_parent() {
    refused_patch(TREE, ErrorKind::TreeRootHasParent, |img| {
        img.set_entry(0, 12, 1)
    });
}

#[test]
fn reject_tree_parent_not_found() {
    refused_patch(TREE, ErrorKind::TreeParentNotFound { index: 2 }, |img| {
        img.set_entry(2, 12, 999)
    });
    // A parent later in the tree is not found either.
    refused_patch(TREE, ErrorKind::TreeParentNotFound { index: 2 }, |img| {
        img.set_entry(2, 12, 103)
    });
}

#[test]
fn reject_tree_bad_thread() {
    let k = |index| ErrorKind::TreeBadThread { index };
    // Not flagged a thread, but tgid != pid.
    refused_patch(TREE, k(1), |img| img.set_entry(1, 0, 0));
    // The root flagged a thread.
    refused_patch(TREE, k(0), |img| img.set_entry(0, 0, TASK_THREAD));
    // A thread whose parent is not its leader's.
    refused_patch(TREE, k(1), |img| img.set_entry(1, 12, 100));
}

#[test]
fn reject_tree_bad_exit_signal() {
    refused_patch(TREE, ErrorKind::TreeBadExitSignal { index: 2 }, |img| {
        img.set_entry(2, 28, 65)
    });
}

#[test]
fn reject_tree_bad_mm_id() {
    let k = |index| ErrorKind::TreeBadMmId { index };
    // Zombie with an mm.
    refused_patch(TREE, k(3), |img| img.set_entry(3, 32, 1));
    // Live task without one.
    refused_patch(TREE, k(2), |img| img.set_entry(2, 32, 0));
    // Skipping an id.
    refused_patch(TREE, k(2), |img| img.set_entry(2, 32, 3));
    // A thread not in its group's mm.
    refused_patch(TREE, k(1), |img| img.set_entry(1, 32, 2));
}

#[test]
fn tree_shared_mm_and_zombie_leader_accepted() {
    // Task 2 shares the root's mm (CLONE_VM without CLONE_THREAD): mm 2
    // disappears, so does its MM group.
    let mut img = Img::sample();
    img.set_entry(2, 32, 1);
    img.recs.truncate(MM2);
    check(&img.bytes()).unwrap();
    // A zombie leader (exited) with a live thread.
    let mut img = Img::sample();
    img.set_entry(0, 0, TASK_ZOMBIE);
    img.set_entry(0, 32, 0);
    img.recs.drain(REGS0..=FILES0);
    check(&img.bytes()).unwrap();
}

// ---------------------------------------------------------------------------
// Rejections: TASK, FPU
// ---------------------------------------------------------------------------

#[test]
fn reject_task_index_mismatch() {
    refused_patch(
        TASK1,
        ErrorKind::TaskIndexMismatch {
            index: 2,
            expected: 1,
        },
        |img| img.set32(TASK1, 0, 2),
    );
}

#[test]
fn reject_task_pid_mismatch() {
    refused_patch(
        TASK2,
        ErrorKind::TaskPidMismatch {
            pid: 1,
            expected: 102,
        },
        |img| img.set32(TASK2, 4, 1),
    );
}

#[test]
fn reject_bad_comm() {
    refused_patch(TASK0, ErrorKind::BadComm, |img| {
        img.p(TASK0)[8..24].fill(b'a')
    });
    refused_patch(TASK0, ErrorKind::BadComm, |img| img.p(TASK0)[23] = b'a');
}

#[test]
fn reject_bad_creds() {
    refused_patch(TASK0, ErrorKind::BadCreds, |img| {
        img.set32(TASK0, 48, u32::MAX)
    });
}

#[test]
fn reject_bad_sigmask() {
    refused_patch(TASK0, ErrorKind::BadSigmask, |img| {
        img.set64(TASK0, 64, 1 << 18)
    });
}

#[test]
fn reject_xstate_size_mismatch() {
    // 828 pads to the same payload length as 832.
    refused_patch(
        FPU0,
        ErrorKind::XstateSizeMismatch {
            len: 828,
            expected: 832,
        },
        |img| img.set32(FPU0, 0, 828),
    );
}

#[test]
fn reject_xstate_compacted() {
    refused_patch(FPU0, ErrorKind::XstateCompacted, |img| {
        img.set64(FPU0, 8 + 520, 1 << 63)
    });
}

#[test]
fn reject_xstate_features_not_in_xcr0() {
    refused_patch(
        FPU0,
        ErrorKind::XstateFeaturesNotInXcr0 { xstate_bv: 0xf },
        |img| img.set64(FPU0, 8 + 512, 0xf),
    );
}

#[test]
fn reject_xstate_header_reserved() {
    refused_patch(FPU0, ErrorKind::XstateHeaderReserved, |img| {
        img.p(FPU0)[8 + 570] = 1
    });
}

// ---------------------------------------------------------------------------
// Rejections: MM
// ---------------------------------------------------------------------------

#[test]
fn reject_mm_id_mismatch() {
    refused_patch(
        MM1,
        ErrorKind::MmIdMismatch {
            mm_id: 2,
            expected: 1,
        },
        |img| img.set32(MM1, 0, 2),
    );
}

#[test]
fn reject_too_many_vmas() {
    refused_patch(
        MM1,
        ErrorKind::TooManyVmas {
            count: MAX_VMAS + 1,
        },
        |img| img.set32(MM1, 4, MAX_VMAS + 1),
    );
}

#[test]
fn reject_bad_auxv_count() {
    refused_patch(MM1, ErrorKind::BadAuxvCount { count: 0 }, |img| {
        img.set32(MM1, 96, 0)
    });
    refused_patch(MM1, ErrorKind::BadAuxvCount { count: 65 }, |img| {
        img.set32(MM1, 96, 65)
    });
}

#[test]
fn reject_auxv_not_terminated() {
    // Last key not AT_NULL.
    refused_patch(MM1, ErrorKind::AuxvNotTerminated, |img| {
        img.set64(MM1, 104 + 16, 5)
    });
    // An AT_NULL before the last pair.
    refused_patch(MM1, ErrorKind::AuxvNotTerminated, |img| {
        img.set64(MM1, 104, AT_NULL)
    });
}

#[test]
fn reject_path_too_long() {
    let len = MAX_PATH_LEN as u32 + 1;
    refused_patch(MM1, ErrorKind::PathTooLong { len }, |img| {
        img.set32(MM1, 100, len)
    });
    refused_patch(VMA_A, ErrorKind::PathTooLong { len }, |img| {
        img.set32(VMA_A, 36, len)
    });
}

#[test]
fn reject_bad_path() {
    // Relative.
    refused_patch(MM1, ErrorKind::BadPath, |img| img.p(MM1)[104 + 32] = b'u');
    // With a NUL.
    refused_patch(VMA_A, ErrorKind::BadPath, |img| img.p(VMA_A)[40 + 4] = 0);
}

#[test]
fn reject_mm_range_inverted() {
    // start_code > end_code.
    refused_patch(MM1, ErrorKind::MmRangeInverted, |img| {
        img.set64(MM1, 8, 0x50_0000)
    });
    // arg_start > arg_end.
    refused_patch(MM1, ErrorKind::MmRangeInverted, |img| {
        img.set64(MM1, 64, 0x7fff_ffff_ef20)
    });
}

#[test]
fn reject_mm_in_kernel_space() {
    refused_patch(MM1, ErrorKind::MmInKernelSpace, |img| {
        img.set64(MM1, 88, USER_SPACE_LIMIT)
    });
}

// ---------------------------------------------------------------------------
// Rejections: VMA
// ---------------------------------------------------------------------------

#[test]
fn reject_bad_vma_kind() {
    for kind in [0, 9] {
        refused_patch(VMA_B, ErrorKind::BadVmaKind { kind }, |img| {
            img.set32(VMA_B, 32, kind)
        });
    }
}

#[test]
fn reject_bad_prot() {
    refused_patch(VMA_B, ErrorKind::BadProt { prot: 8 }, |img| {
        img.set32(VMA_B, 24, 8)
    });
    // Writable without VMA_MAYWRITE.
    refused_patch(VMA_B, ErrorKind::BadProt { prot: 3 }, |img| {
        img.set32(VMA_B, 28, VMA_MAYREAD)
    });
}

#[test]
fn reject_bad_vma_flags() {
    let flags = VMA_MAYREAD | VMA_MAYWRITE | VMA_MAYEXEC | 0x100;
    refused_patch(VMA_B, ErrorKind::BadVmaFlags { flags }, |img| {
        img.set32(VMA_B, 28, flags)
    });
}

#[test]
fn reject_vma_path_mismatch() {
    // A file mapping without a path.
    refused_patch(VMA_A, ErrorKind::VmaPathMismatch, |img| {
        img.set32(VMA_A, 36, 0);
        img.p(VMA_A).truncate(40);
    });
    // An anonymous mapping with one.
    refused_patch(VMA_A, ErrorKind::VmaPathMismatch, |img| {
        img.set32(VMA_A, 32, VmaKind::AnonPrivate.as_u32())
    });
}

#[test]
fn reject_vma_empty() {
    refused_patch(VMA_B, ErrorKind::VmaEmpty, |img| {
        img.set64(VMA_B, 8, 0x60_0000)
    });
    refused_patch(VMA_B, ErrorKind::VmaEmpty, |img| {
        img.set64(VMA_B, 8, 0x50_0000)
    });
}

#[test]
fn reject_vma_unaligned() {
    refused_patch(VMA_B, ErrorKind::VmaUnaligned, |img| {
        img.set64(VMA_B, 0, 0x60_0010)
    });
    refused_patch(VMA_B, ErrorKind::VmaUnaligned, |img| {
        img.set64(VMA_B, 8, 0x60_3001)
    });
}

#[test]
fn reject_vma_in_kernel_space() {
    refused_patch(VMA_C, ErrorKind::VmaInKernelSpace, |img| {
        img.set64(VMA_C, 8, USER_SPACE_LIMIT)
    });
    refused_patch(VMA_C, ErrorKind::VmaInKernelSpace, |img| {
        img.set64(VMA_C, 0, 0xffff_ffff_ff60_0000);
        img.set64(VMA_C, 8, 0xffff_ffff_ff60_1000);
    });
}

#[test]
fn reject_vma_unsorted() {
    refused_patch(VMA_C, ErrorKind::VmaUnsorted, |img| {
        img.set64(VMA_C, 0, 0x50_0000);
        img.set64(VMA_C, 8, 0x50_1000);
    });
}

#[test]
fn reject_vma_overlap() {
    refused_patch(VMA_C, ErrorKind::VmaOverlap, |img| {
        img.set64(VMA_C, 0, 0x7ff0_0000_1000);
        img.set64(VMA_C, 8, 0x7ff0_0000_3000);
    });
}

#[test]
fn reject_vma_bad_pgoff() {
    refused_patch(VMA_A, ErrorKind::VmaBadPgoff, |img| {
        img.set64(VMA_A, 16, u64::MAX)
    });
}

// ---------------------------------------------------------------------------
// Rejections: PAGES
// ---------------------------------------------------------------------------

#[test]
fn reject_pages_empty() {
    refused_patch(PAGES_A, ErrorKind::PagesEmpty, |img| {
        img.set64(PAGES_A, 8, 0)
    });
}

#[test]
fn reject_pages_count_mismatch() {
    refused_patch(
        PAGES_A,
        ErrorKind::BadPayloadLength {
            len: 16 + 4096,
            expected: 16 + 8192,
        },
        |img| img.set64(PAGES_A, 8, 2),
    );
    refused_patch(
        PAGES_A,
        ErrorKind::LengthOverflow { len: u64::MAX / 2 },
        |img| img.set64(PAGES_A, 8, u64::MAX / 2),
    );
}

#[test]
fn reject_pages_unaligned() {
    refused_patch(PAGES_A, ErrorKind::PagesUnaligned, |img| {
        img.set64(PAGES_A, 0, 0x40_0008)
    });
}

#[test]
fn reject_pages_outside_vma() {
    // Past the end of its VMA.
    refused_patch(PAGES_A, ErrorKind::PagesOutsideVma, |img| {
        img.set64(PAGES_A, 0, 0x40_2000)
    });
    // In a previous VMA (page run of B placed in A's range).
    refused_patch(PAGES_B1, ErrorKind::PagesOutsideVma, |img| {
        img.set64(PAGES_B1, 0, 0x40_1000)
    });
    // Straddling the end.
    refused_patch(PAGES_B2, ErrorKind::PagesOutsideVma, |img| {
        img.set64(PAGES_B2, 0, 0x60_2000)
    });
    // Before any VMA of the mm.
    let mut img = Img::sample();
    img.recs.swap(VMA_A, PAGES_A);
    refused(
        &img.bytes(),
        RECORD_PAGES,
        img.offset(VMA_A),
        ErrorKind::PagesOutsideVma,
    );
}

#[test]
fn reject_pages_not_ascending() {
    let mut img = Img::sample();
    img.recs.swap(PAGES_B1, PAGES_B2);
    refused(
        &img.bytes(),
        RECORD_PAGES,
        img.offset(PAGES_B2),
        ErrorKind::PagesNotAscending,
    );
    // Overlapping runs.
    refused_patch(PAGES_B2, ErrorKind::PagesNotAscending, |img| {
        img.set64(PAGES_B1, 0, 0x60_1000);
        img.set64(PAGES_B2, 0, 0x60_0000);
        img.recs[PAGES_B2].payload.truncate(16 + 4096);
        img.set64(PAGES_B2, 8, 1);
    });
}

// ---------------------------------------------------------------------------
// Rejections: TRAILER
// ---------------------------------------------------------------------------

fn trailer_patch(off: usize, v: u64, width: usize) -> (Vec<u8>, u64) {
    let mut b = Img::sample().bytes();
    let t = b.len() - TRAILER_PAYLOAD_LEN;
    b[t + off..t + off + width].copy_from_slice(&v.to_le_bytes()[..width]);
    let at = (b.len() - TRAILER_RECORD_LEN) as u64;
    (b, at)
}

#[test]
fn reject_trailer_count_mismatch() {
    let (b, at) = trailer_patch(0, 31, 8);
    refused(
        &b,
        RECORD_TRAILER,
        at,
        ErrorKind::TrailerCountMismatch {
            found: 31,
            expected: 32,
        },
    );
}

#[test]
fn reject_trailer_size_mismatch() {
    let (b, at) = trailer_patch(8, 4096, 8);
    refused(
        &b,
        RECORD_TRAILER,
        at,
        ErrorKind::TrailerSizeMismatch {
            found: 4096,
            expected: at + 40,
        },
    );
}

#[test]
fn reject_trailer_crc_mismatch() {
    let mut b = Img::sample().bytes();
    let good = crc32c(&b[..b.len() - 40]);
    let at = (b.len() - 40) as u64;
    // One bit of page data flipped.
    let img = Img::sample();
    let p = img.offset(PAGES_B2) as usize + 16 + 16 + 100;
    b[p] ^= 0x10;
    let bad = crc32c(&b[..b.len() - 40]);
    refused(
        &b,
        RECORD_TRAILER,
        at,
        ErrorKind::TrailerCrcMismatch {
            found: good,
            expected: bad,
        },
    );
}

#[test]
fn reject_trailer_reserved() {
    let (b, at) = trailer_patch(20, 1, 4);
    refused(&b, RECORD_TRAILER, at, ErrorKind::NonZeroReserved);
}

#[test]
fn reject_trailer_bad_length() {
    let mut img = Img::sample();
    img.recs.push(Rec::new(RECORD_TRAILER, vec![0; 32]));
    let b = img.bytes_no_trailer();
    refused(
        &b,
        RECORD_TRAILER,
        img.offset(img.recs.len() - 1),
        ErrorKind::BadPayloadLength {
            len: 32,
            expected: 24,
        },
    );
}

// ---------------------------------------------------------------------------
// FILES (version 1.1)
// ---------------------------------------------------------------------------

/// Entries as FILES payload bytes (count, reserved, entries).
fn files_payload(entries: &[(u32, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    for &(fd, kind) in entries {
        p.extend_from_slice(&fd.to_le_bytes());
        p.extend_from_slice(&kind.to_le_bytes());
    }
    p
}

fn files_rec(entries: &[(u32, u32)]) -> Rec {
    let mut r = Rec::new(RECORD_FILES, files_payload(entries));
    r.flags = 0;
    r
}

#[test]
fn round_trip_files() {
    let b = sample_bytes();
    let it = items(&b);
    let Record::Files(f) = it[FILES0].record else {
        panic!("not FILES: {:?}", it[FILES0].record)
    };
    let want = sample::files_v1_3(0).unwrap();
    assert_eq!(f.iter().collect::<Vec<_>>(), want.to_vec());
    assert_eq!(f.len(), 5);
    assert!(!f.is_empty());
    assert_eq!(
        f.get(3),
        Some(FileEntry {
            fd: 3,
            kind: FILE_KIND_REG
        })
    );
    assert_eq!(f.get(5), None);
    assert_eq!(f.get(u32::MAX), None);
    assert_eq!(
        it[FILES0].header,
        RecordHeader {
            kind: RECORD_FILES,
            flags: 0,
            len: 48
        }
    );
    assert_eq!(Files::payload_len(5), Some(48));
    assert_eq!(Files::payload_len(0), Some(FILES_FIXED_LEN));
    assert_eq!(Files::payload_len(MAX_FILES), Some(FILES_MAX_PAYLOAD));
    // The child's record is empty; the thread has none.
    let Record::Files(f2) = it[FILES2].record else {
        panic!("not FILES")
    };
    assert!(f2.is_empty());
    assert_eq!(f2.iter().count(), 0);
    assert_eq!(it[TASK1 + 3].header.kind, RECORD_TASK);
    assert_eq!(it[FILES0].record.kind(), RECORD_FILES);
    assert_eq!(record_name(RECORD_FILES), "FILES");
    assert_eq!(record_flags(RECORD_FILES), 0);
    assert_eq!(record_flags(RECORD_TASK), RECORD_FLAG_MUST_UNDERSTAND);
    let names: Vec<_> = (0..=8).map(file_kind_name).collect();
    assert_eq!(
        names,
        ["unknown", "reg", "dir", "fifo", "sock", "chr", "blk", "other", "unknown"]
    );
    // The encoder writes what was read, from entries or from the record.
    let off = it[FILES0].offset as usize;
    let mut e = Encoder::new(sample::header());
    let mut buf = vec![0u8; 256];
    e.header(&mut buf).unwrap();
    assert_eq!(e.files(want, &mut buf), Ok(16 + 48));
    assert_eq!(&buf[..64], &b[off..off + 64]);
    assert_eq!(e.record_any(&Record::Files(f), &mut buf), Ok(64));
    assert_eq!(&buf[..64], &b[off..off + 64]);
    assert_eq!(e.records(), 2);
}

#[test]
fn written_by_version_1_6() {
    assert_eq!(VERSION_MINOR, 6);
    assert_eq!(VERSION_MINOR_SIG, 5);
    assert_eq!(VERSION_MINOR_LIVE, 6);
    assert_eq!(FileHeader::new(0x3, 576, b"").minor, 6);
    assert_eq!(sample::header_live().minor, 6);
    assert_eq!(sample::header().minor, 5);
    assert_eq!(sample::header_v1_4().minor, 4);
    assert_eq!(Img::sample15().header[10], 5);
    assert_eq!(Img::sample14().header[10], 4);
    assert_eq!(Img::sample().header[10], 3);
}

/// A THREAD record after FPU or after FILES, at most one per task; the
/// addresses in user space.
#[test]
fn thread_records() {
    let t = Thread {
        clear_child_tid: 0x7f00_0000_1000,
        robust_list: 0x7f00_0000_2000,
        robust_list_len: 24,
        rseq: 0,
        rseq_len: 0,
        rseq_sig: 0,
    };
    let h = sample::header();
    let mut e = Encoder::new(h);
    let mut buf = vec![0u8; 256];
    e.header(&mut buf).unwrap();
    let n = e.thread(&t, &mut buf).unwrap();
    assert_eq!(n, RECORD_HEADER_LEN + THREAD_PAYLOAD_LEN);
    let hdr = RecordHeader::decode(&buf[..RECORD_HEADER_LEN], 0).unwrap();
    assert_eq!((hdr.kind, hdr.flags), (RECORD_THREAD, 0));
    assert_eq!(
        decode_record(&hdr, &buf[RECORD_HEADER_LEN..n], &h),
        Ok(Record::Thread(t))
    );
    assert_eq!(record_name(RECORD_THREAD), "THREAD");
    let bad = Thread {
        clear_child_tid: USER_SPACE_LIMIT,
        ..t
    };
    let n = e.thread(&bad, &mut buf).unwrap();
    assert_eq!(
        decode_record(&hdr, &buf[RECORD_HEADER_LEN..n], &h),
        Err(ErrorKind::BadThreadState)
    );
}

/// The sample without its SHM records.
fn sample_without_shm() -> Img {
    let mut img = Img::sample();
    for i in [SHM3, SHM2, SHM1] {
        assert_eq!(img.recs[i].kind, RECORD_SHM);
        img.recs.remove(i);
    }
    img
}

#[test]
fn minor_0_image_without_files_is_valid() {
    let mut img = sample_without_shm();
    img.header[10] = 0;
    img.recs.remove(FILES2);
    img.recs.remove(FILES0);
    let b = img.bytes();
    let s = check(&b).unwrap();
    assert_eq!(s.header.minor, 0);
    assert_eq!(s.records, 27);
    assert_eq!(s.shm_objects, 0);
    assert!(items(&b).iter().all(|i| i.header.kind != RECORD_FILES));
    assert_eq!(reencode(&b), b);
    // Files on some live tasks only (here: the thread's alone) are fine too.
    let mut img = Img::sample();
    img.recs.remove(FILES2);
    img.recs.remove(FILES0);
    img.recs.insert(TASK1 + 2, files_rec(&[(0, FILE_KIND_CHR)]));
    check(&img.bytes()).unwrap();
}

#[test]
fn files_max_entries() {
    let entries: Vec<FileEntry> = (0..MAX_FILES)
        .map(|i| FileEntry {
            fd: i * 3,
            kind: 1 + i % 7,
        })
        .collect();
    let mut e = Encoder::new(sample::header());
    let mut buf = vec![0u8; 16 + FILES_MAX_PAYLOAD];
    e.header(&mut buf).unwrap();
    let n = e.files(&entries, &mut buf).unwrap();
    assert_eq!(n, 16 + FILES_MAX_PAYLOAD);
    const _: () = assert!(FILES_MAX_PAYLOAD <= MAX_META_PAYLOAD);
    let mut img = Img::sample();
    img.recs[FILES0].payload = buf[16..n].to_vec();
    let b = img.bytes();
    check(&b).unwrap();
    let it = items(&b);
    let Record::Files(f) = it[FILES0].record else {
        panic!()
    };
    assert_eq!(f.len(), MAX_FILES);
    assert_eq!(f.get(MAX_FILES - 1), entries.last().copied());
    // One more is beyond the format.
    let mut more = entries.clone();
    more.push(FileEntry {
        fd: FD_LIMIT - 1,
        kind: 1,
    });
    let mut buf = vec![0u8; 32 + FILES_MAX_PAYLOAD];
    assert_eq!(e.files(&more, &mut buf), Err(EncodeError::Limit));
    assert_eq!(
        e.files(&entries, &mut buf[..100]),
        Err(EncodeError::BufferTooSmall {
            needed: 16 + FILES_MAX_PAYLOAD
        })
    );
}

#[test]
fn reject_files_too_many() {
    refused_patch(
        FILES0,
        ErrorKind::FilesTooMany {
            count: MAX_FILES + 1,
        },
        |img| img.set32(FILES0, 0, MAX_FILES + 1),
    );
    // Per-type length limit, from the record header alone.
    let len = (FILES_MAX_PAYLOAD + 8) as u64;
    refused_patch(
        FILES0,
        ErrorKind::RecordTooLarge {
            len,
            max: FILES_MAX_PAYLOAD as u64,
        },
        |img| img.recs[FILES0].len = Some(len),
    );
}

#[test]
fn reject_files_bad_payload_length() {
    // Count and length disagree.
    refused_patch(
        FILES0,
        ErrorKind::BadPayloadLength {
            len: 48,
            expected: 40,
        },
        |img| img.set32(FILES0, 0, 4),
    );
    // Shorter than the fixed part.
    refused_patch(
        FILES2,
        ErrorKind::BadPayloadLength {
            len: 0,
            expected: 8,
        },
        |img| img.p(FILES2).clear(),
    );
}

#[test]
fn reject_files_unsorted() {
    // Swapped.
    refused_patch(FILES0, ErrorKind::FilesUnsorted { fd: 1 }, |img| {
        img.set32(FILES0, 8 + 8, 2);
        img.set32(FILES0, 8 + 16, 1);
    });
    // Twice the same fd.
    refused_patch(FILES0, ErrorKind::FilesUnsorted { fd: 3 }, |img| {
        img.set32(FILES0, 8 + 32, 3)
    });
}

#[test]
fn reject_bad_fd() {
    refused_patch(FILES0, ErrorKind::BadFd { fd: FD_LIMIT }, |img| {
        img.set32(FILES0, 8 + 32, FD_LIMIT)
    });
    refused_patch(FILES0, ErrorKind::BadFd { fd: u32::MAX }, |img| {
        img.set32(FILES0, 8, u32::MAX)
    });
    // The largest fd is fine.
    let mut img = Img::sample();
    img.set32(FILES0, 8 + 32, FD_LIMIT - 1);
    check(&img.bytes()).unwrap();
}

#[test]
fn reject_bad_file_kind() {
    for kind in [0, 8, u32::MAX] {
        refused_patch(FILES0, ErrorKind::BadFileKind { kind }, |img| {
            img.set32(FILES0, 8 + 12, kind)
        });
    }
}

#[test]
fn reject_files_reserved() {
    refused_patch(FILES0, ErrorKind::NonZeroReserved, |img| {
        img.set32(FILES0, 4, 1)
    });
}

#[test]
fn reject_files_must_understand() {
    // FILES is a skippable type: exactly one encoding, flags 0.
    refused_patch(
        FILES0,
        ErrorKind::BadRecordFlags {
            flags: RECORD_FLAG_MUST_UNDERSTAND,
        },
        |img| img.recs[FILES0].flags = RECORD_FLAG_MUST_UNDERSTAND,
    );
    refused_patch(FILES0, ErrorKind::BadRecordFlags { flags: 2 }, |img| {
        img.recs[FILES0].flags = 2
    });
    let h = sample::header();
    let mut hdr = RecordHeader::new(RECORD_FILES, 8);
    assert_eq!(
        decode_record(&hdr, &[0; 8], &h),
        Err(ErrorKind::BadRecordFlags { flags: 1 })
    );
    hdr.flags = 0;
    assert!(matches!(decode_record(&hdr, &[0; 8], &h), Ok(Record::Files(f)) if f.is_empty()));
}

/// Inserts a copy of the root's FILES record at `at` and asserts it is
/// refused there, `expected` being required.
#[track_caller]
fn files_out_of_order(img: &mut Img, at: usize, expected: u32) {
    let r = files_rec(&[(0, FILE_KIND_CHR)]);
    img.recs.insert(at, r);
    refused(
        &img.bytes(),
        RECORD_FILES,
        img.offset(at),
        ErrorKind::OutOfOrder { expected },
    );
}

#[test]
fn reject_files_out_of_place() {
    // Right after the TREE.
    files_out_of_order(&mut Img::sample(), TASK0, RECORD_TASK);
    // Before REGS, before FPU.
    files_out_of_order(&mut Img::sample(), REGS0, RECORD_REGS);
    files_out_of_order(&mut Img::sample(), FPU0, RECORD_FPU);
    // Twice for one task.
    files_out_of_order(&mut Img::sample(), FILES0 + 1, RECORD_TASK);
    // For a zombie.
    files_out_of_order(&mut Img::sample(), TASK3 + 1, RECORD_MM);
    // Among the MM groups.
    files_out_of_order(&mut Img::sample(), MM1, RECORD_MM);
    files_out_of_order(&mut Img::sample(), MM1 + 1, RECORD_VMA);
    files_out_of_order(&mut Img::sample(), PAGES_A + 1, RECORD_VMA);
    // After REGS of the thread, which has no FILES (before its FPU).
    files_out_of_order(&mut Img::sample(), REGS1 + 1, RECORD_FPU);
    // Before the trailer.
    let mut img = Img::sample();
    let n = img.recs.len();
    files_out_of_order(&mut img, n, RECORD_TRAILER);
}

/// The sample without its zombie: the last task (2) is live, so its FPU
/// (and FILES) come right before the first MM.
fn sample_last_task_live() -> Img {
    let mut img = Img::sample();
    img.set32(TREE, 0, 3);
    img.p(TREE).truncate(TREE_FIXED_LEN + 3 * TREE_ENTRY_LEN);
    img.recs.remove(TASK3);
    check(&img.bytes()).unwrap();
    img
}

#[test]
fn reject_files_after_mm() {
    // FPU MM FILES: the FILES slot closed with the MM.
    let mut img = sample_last_task_live();
    img.recs.remove(FILES2);
    files_out_of_order(&mut img, FILES2 + 1, RECORD_VMA);
    // FPU FILES MM FILES.
    let mut img = sample_last_task_live();
    files_out_of_order(&mut img, FILES2 + 2, RECORD_VMA);
}

#[test]
fn files_after_skipped_record_accepted() {
    // Skippable unknown records may stand anywhere, even between FPU and
    // FILES, and do not close the FILES slot.
    let mut img = Img::sample();
    let mut r = Rec::new(0x1234, vec![0; 8]);
    r.flags = 0;
    img.recs.insert(FILES0, r);
    let s = check(&img.bytes()).unwrap();
    assert_eq!(s.records, 33);
}

#[test]
fn files_error_display() {
    let e = Error {
        offset: 128,
        record: RECORD_FILES,
        kind: ErrorKind::FilesUnsorted { fd: 3 },
    };
    assert_eq!(
        std::format!("{e}"),
        "FILES (type 9) at offset 128: fd 3 not above the previous one"
    );
    for (k, want) in [
        (
            ErrorKind::FilesTooMany { count: 65537 },
            "65537 files, more than 65536",
        ),
        (
            ErrorKind::BadFd { fd: 1 << 30 },
            "fd 1073741824 not below 1073741824",
        ),
        (ErrorKind::BadFileKind { kind: 8 }, "bad file kind 8"),
    ] {
        assert_eq!(std::format!("{k}"), want);
    }
}

// ---------------------------------------------------------------------------
// SHM (version 1.2)
// ---------------------------------------------------------------------------

/// An SHM record as raw parts (skippable flags).
fn shm_rec(id: u64) -> Rec {
    let mut p = Vec::new();
    p.extend_from_slice(&id.to_le_bytes());
    p.extend_from_slice(&0u64.to_le_bytes());
    let mut r = Rec::new(RECORD_SHM, p);
    r.flags = 0;
    r
}

#[test]
fn round_trip_shm() {
    let b = sample_bytes();
    let it = items(&b);
    // Both mms map object 1 (the child inherited it), the child also 2.
    for (idx, id) in [(SHM1, 1), (SHM2, 1), (SHM3, 2)] {
        assert_eq!(it[idx].record, Record::Shm(Shm { id }), "record {idx}");
        assert_eq!(
            it[idx].header,
            RecordHeader {
                kind: RECORD_SHM,
                flags: 0,
                len: 16
            }
        );
        assert_eq!(it[idx - 1].header.kind, RECORD_VMA);
    }
    let Record::Vma(v) = it[VMA_S].record else {
        panic!("not a VMA")
    };
    assert_eq!(v.kind, VmaKind::SharedAnon);
    assert_eq!(it[VMA_S2].record, it[VMA_S].record);
    assert!(matches!(it[VMA_T].record, Record::Vma(v) if v.kind == VmaKind::SharedAnon));
    // The pages of the VMA come after its SHM.
    let Record::Pages(p) = it[PAGES_S].record else {
        panic!("not PAGES")
    };
    assert_eq!((p.addr, p.nr_pages), (0x7ff0_0000_0000, 1));
    assert_eq!(it[SHM1].record.kind(), RECORD_SHM);
    assert_eq!(record_name(RECORD_SHM), "SHM");
    assert_eq!(record_flags(RECORD_SHM), 0);
    assert!(RecordHeader::new(RECORD_SHM, 16).is_known());
    assert!(RecordHeader::new(RECORD_MAPFILE + 1, 16).is_known());
    assert!(RecordHeader::new(RECORD_PROCESS + 1, 16).is_known());
    assert!(!RecordHeader::new(RECORD_PREVPAGES + 1, 16).is_known());
    assert_eq!(SHM_PAYLOAD_LEN, 16);
    // The encoder writes what was read, from the struct or the record.
    let off = it[SHM3].offset as usize;
    let mut e = Encoder::new(sample::header());
    let mut buf = vec![0u8; 256];
    e.header(&mut buf).unwrap();
    assert_eq!(e.shm(&Shm { id: 2 }, &mut buf), Ok(32));
    assert_eq!(&buf[..32], &b[off..off + 32]);
    assert_eq!(e.record_any(&it[SHM3].record, &mut buf), Ok(32));
    assert_eq!(&buf[..32], &b[off..off + 32]);
    assert_eq!(e.records(), 2);
    // Id 0 is not written; nor is anything into a short buffer.
    assert_eq!(e.shm(&Shm { id: 0 }, &mut buf), Err(EncodeError::Limit));
    assert_eq!(
        e.shm(&Shm { id: 1 }, &mut buf[..31]),
        Err(EncodeError::BufferTooSmall { needed: 32 })
    );
    assert_eq!(e.records(), 2);
    // decode_record, outside an image.
    let h = sample::header();
    let mut hdr = RecordHeader::new(RECORD_SHM, 16);
    hdr.flags = 0;
    let mut p = [0u8; 16];
    p[0] = 7;
    assert_eq!(decode_record(&hdr, &p, &h), Ok(Record::Shm(Shm { id: 7 })));
}

#[test]
fn shm_summary_counts_objects() {
    assert_eq!(check(&sample_bytes()).unwrap().shm_objects, 2);
    // The child's own mapping is the same object as the shared one: 1.
    let mut img = Img::sample();
    img.set64(SHM3, 0, 1);
    assert_eq!(check(&img.bytes()).unwrap().shm_objects, 1);
    // Three objects: the child's inherited mapping is another object.
    let mut img = Img::sample();
    img.set64(SHM2, 0, 2);
    img.set64(SHM3, 0, 3);
    assert_eq!(check(&img.bytes()).unwrap().shm_objects, 3);
    // An id seen before may come again after a new one (1 2 1).
    let mut img = Img::sample();
    img.set64(SHM2, 0, 2);
    img.set64(SHM3, 0, 1);
    assert_eq!(check(&img.bytes()).unwrap().shm_objects, 2);
}

#[test]
fn minor_1_image_without_shm_is_valid() {
    let mut img = sample_without_shm();
    img.header[10] = 1;
    let b = img.bytes();
    let s = check(&b).unwrap();
    assert_eq!(s.header.minor, 1);
    assert_eq!(s.records, 29);
    assert_eq!(s.shm_objects, 0);
    assert!(items(&b).iter().all(|i| i.header.kind != RECORD_SHM));
    assert_eq!(reencode(&b), b);
    // SHM is optional per VMA: on some shared anonymous VMAs only.
    let mut img = Img::sample();
    img.recs.remove(SHM2);
    assert_eq!(check(&img.bytes()).unwrap().shm_objects, 2);
    let mut img = Img::sample();
    img.recs.remove(SHM1);
    // Now the inherited mapping's id 1 is the first one.
    assert_eq!(check(&img.bytes()).unwrap().shm_objects, 2);
}

#[test]
fn reject_shm_bad_id() {
    refused_patch(SHM1, ErrorKind::BadShmId { id: 0 }, |img| {
        img.set64(SHM1, 0, 0)
    });
    refused_patch(SHM3, ErrorKind::BadShmId { id: 0 }, |img| {
        img.set64(SHM3, 0, 0)
    });
}

#[test]
fn reject_shm_id_not_in_order() {
    // The first id is not 1.
    refused_patch(SHM1, ErrorKind::ShmIdNotInOrder { id: 2, next: 1 }, |img| {
        img.set64(SHM1, 0, 2)
    });
    // A gap: 1 1 3.
    refused_patch(SHM3, ErrorKind::ShmIdNotInOrder { id: 3, next: 2 }, |img| {
        img.set64(SHM3, 0, 3)
    });
    refused_patch(
        SHM3,
        ErrorKind::ShmIdNotInOrder {
            id: u64::MAX,
            next: 2,
        },
        |img| img.set64(SHM3, 0, u64::MAX),
    );
    // 1 2 ... with 2 first: 2 is new before 1 was seen.
    refused_patch(SHM1, ErrorKind::ShmIdNotInOrder { id: 2, next: 1 }, |img| {
        img.set64(SHM1, 0, 2);
        img.set64(SHM3, 0, 1);
    });
}

#[test]
fn reject_shm_reserved() {
    refused_patch(SHM2, ErrorKind::NonZeroReserved, |img| {
        img.set64(SHM2, 8, 1)
    });
}

#[test]
fn reject_shm_bad_length() {
    refused_patch(
        SHM1,
        ErrorKind::BadPayloadLength {
            len: 24,
            expected: 16,
        },
        |img| img.p(SHM1).extend_from_slice(&[0; 8]),
    );
    refused_patch(
        SHM1,
        ErrorKind::BadPayloadLength {
            len: 8,
            expected: 16,
        },
        |img| img.p(SHM1).truncate(8),
    );
    refused_patch(
        SHM1,
        ErrorKind::BadPayloadLength {
            len: 0,
            expected: 16,
        },
        |img| img.p(SHM1).clear(),
    );
    let h = sample::header();
    let mut hdr = RecordHeader::new(RECORD_SHM, 8);
    hdr.flags = 0;
    assert_eq!(
        decode_record(&hdr, &[1, 0, 0, 0, 0, 0, 0, 0], &h),
        Err(ErrorKind::BadPayloadLength {
            len: 8,
            expected: 16
        })
    );
}

#[test]
fn reject_shm_must_understand() {
    // SHM is a skippable type: exactly one encoding, flags 0.
    refused_patch(
        SHM1,
        ErrorKind::BadRecordFlags {
            flags: RECORD_FLAG_MUST_UNDERSTAND,
        },
        |img| img.recs[SHM1].flags = RECORD_FLAG_MUST_UNDERSTAND,
    );
    refused_patch(SHM1, ErrorKind::BadRecordFlags { flags: 4 }, |img| {
        img.recs[SHM1].flags = 4
    });
    let h = sample::header();
    let hdr = RecordHeader::new(RECORD_SHM, 16);
    assert_eq!(
        decode_record(&hdr, &[1; 16], &h),
        Err(ErrorKind::BadRecordFlags { flags: 1 })
    );
}

/// Inserts an SHM record of id 1 at `at` into `img` and asserts it is
/// refused there, `expected` being required.
#[track_caller]
fn shm_out_of_order(img: &mut Img, at: usize, expected: u32) {
    img.recs.insert(at, shm_rec(1));
    refused(
        &img.bytes(),
        RECORD_SHM,
        img.offset(at),
        ErrorKind::OutOfOrder { expected },
    );
}

#[test]
fn reject_shm_out_of_place() {
    // In the task section: after the TREE, in the FILES slot, after FILES.
    shm_out_of_order(&mut Img::sample(), TASK0, RECORD_TASK);
    shm_out_of_order(&mut Img::sample(), FILES0, RECORD_TASK);
    shm_out_of_order(&mut Img::sample(), FILES0 + 1, RECORD_TASK);
    shm_out_of_order(&mut Img::sample(), REGS0, RECORD_REGS);
    // Right after an MM, before its first VMA.
    shm_out_of_order(&mut Img::sample(), MM1 + 1, RECORD_VMA);
    shm_out_of_order(&mut Img::sample(), MM2 + 1, RECORD_VMA);
    // After VMAs that are not shared anonymous memory: a file mapping, the
    // heap, the stack (last of its mm), the vDSO, a private anonymous one.
    shm_out_of_order(&mut Img::sample(), VMA_A + 1, RECORD_VMA);
    shm_out_of_order(&mut Img::sample(), VMA_B + 1, RECORD_VMA);
    shm_out_of_order(&mut Img::sample(), VMA_C + 1, RECORD_MM);
    shm_out_of_order(&mut Img::sample(), MM2 + 2, RECORD_VMA);
    shm_out_of_order(&mut Img::sample(), MM2 + 3, RECORD_VMA);
    // After the shared VMA's pages (its slot closed at the PAGES).
    shm_out_of_order(&mut Img::sample(), PAGES_S + 1, RECORD_VMA);
    let mut img = Img::sample();
    img.recs.remove(SHM1);
    shm_out_of_order(&mut img, PAGES_S, RECORD_VMA);
    // Twice for one VMA.
    shm_out_of_order(&mut Img::sample(), SHM1 + 1, RECORD_VMA);
    // Twice for the last VMA, before the trailer.
    let mut img = Img::sample();
    let n = img.recs.len();
    shm_out_of_order(&mut img, n, RECORD_TRAILER);
}

#[test]
fn shm_after_skipped_record_accepted() {
    // Skippable unknown records may stand anywhere, even between a VMA and
    // its SHM, and do not close the SHM slot.
    let mut img = Img::sample();
    let mut r = Rec::new(0x1234, vec![0; 8]);
    r.flags = 0;
    img.recs.insert(SHM1, r);
    let s = check(&img.bytes()).unwrap();
    assert_eq!(s.records, 33);
    assert_eq!(s.shm_objects, 2);
}

#[test]
fn shm_error_display() {
    let e = Error {
        offset: 4096,
        record: RECORD_SHM,
        kind: ErrorKind::ShmIdNotInOrder { id: 3, next: 2 },
    };
    assert_eq!(
        std::format!("{e}"),
        "SHM (type 10) at offset 4096: shm object id 3 neither seen before nor the next one (2)"
    );
    assert_eq!(
        std::format!("{}", ErrorKind::BadShmId { id: 0 }),
        "shm object id 0, ids start at 1"
    );
}

// ---------------------------------------------------------------------------
// Validator misuse and poisoning
// ---------------------------------------------------------------------------

#[test]
fn validator_wrong_step() {
    let mut v = Validator::new();
    let e = v.feed_payload(&[0; 8]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::WrongStep);
    // Poisoned: the same error again, whatever comes.
    let b = sample_bytes();
    assert_eq!(v.feed_header(&b[..HEADER_LEN]), Err(e));
    assert_eq!(v.expect(), Expect::Failed(e));
    assert_eq!(v.end_of_input(), Err(e));
}

#[test]
fn validator_excess_data() {
    let b = sample_bytes();
    let mut v = Validator::new();
    assert_eq!(
        v.feed_header(&b[..HEADER_LEN + 1]).unwrap_err().kind,
        ErrorKind::ExcessData
    );
    let mut v = Validator::new();
    v.feed_header(&b[..HEADER_LEN]).unwrap();
    assert_eq!(
        v.feed_record_header(&b[HEADER_LEN..HEADER_LEN + 17])
            .unwrap_err()
            .kind,
        ErrorKind::ExcessData
    );
    // Page data beyond the record.
    let img = Img::sample();
    let at = img.offset(PAGES_A) as usize;
    let mut v = Validator::new();
    let mut pos = 0;
    while pos < at {
        match v.expect() {
            Expect::Header => {
                v.feed_header(&b[..HEADER_LEN]).unwrap();
                pos = HEADER_LEN;
            }
            Expect::RecordHeader => {
                v.feed_record_header(&b[pos..pos + 16]).unwrap();
                pos += 16;
            }
            Expect::Tree(n) => {
                v.feed_tree(&b[pos..pos + n as usize]).unwrap();
                pos += n as usize;
            }
            Expect::Payload(n) => {
                v.feed_payload(&b[pos..pos + n as usize]).unwrap();
                pos += n as usize;
            }
            other => panic!("{other:?}"),
        }
    }
    v.feed_record_header(&b[pos..pos + 16]).unwrap();
    v.feed_payload(&b[pos + 16..pos + 32]).unwrap();
    assert_eq!(v.expect(), Expect::Data(4096));
    let e = v.feed_data(&b[pos + 32..pos + 32 + 4097]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ExcessData);
    assert_eq!((e.record, e.offset), (RECORD_PAGES, at as u64));
}

#[test]
fn validator_accessors() {
    let b = sample_bytes();
    let mut v = Validator::default();
    assert_eq!(v.expect(), Expect::Header);
    assert!(v.file_header().is_none());
    v.feed_header(&b[..HEADER_LEN]).unwrap();
    assert_eq!(v.file_header(), Some(&sample::header_v1_3()));
    let h = v.feed_record_header(&b[128..144]).unwrap();
    assert_eq!(v.current(), (h, 128));
    assert_eq!(v.expect(), Expect::Tree(8 + 4 * 168));
    v.feed_tree(&b[144..144 + 680]).unwrap();
    assert_eq!(v.tree().unwrap().len(), 4);
    assert_eq!(v.offset(), 144 + 680);
    assert_eq!(
        v.end_of_input().unwrap_err().kind,
        ErrorKind::MissingTrailer
    );
}

// ---------------------------------------------------------------------------
// Deterministic mutations (a small fuzzer that runs with the tests)
// ---------------------------------------------------------------------------

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mutate(rng: &mut Rng, b: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(b.len());
                b[i] = [0, 1, 0xff, 0x80, 0x7f][rng.below(5)];
            }
            2 => {
                let i = rng.below(b.len().saturating_sub(8).max(1));
                let v: u64 = [0, 1, u64::MAX, 1 << 32, 4096, 0x7fff_ffff_f000][rng.below(6)];
                let n = (b.len() - i).min(8);
                b[i..i + n].copy_from_slice(&v.to_le_bytes()[..n]);
            }
            3 => {
                let n = rng.below(b.len() + 1);
                b.truncate(n);
            }
            4 => {
                let i = rng.below(b.len() + 1);
                b.splice(i..i, [0u8; 8]);
            }
            _ => {
                let i = rng.below(b.len());
                let j = (i + 8 * (1 + rng.below(64))).min(b.len());
                b.drain(i..j);
            }
        }
        if b.is_empty() {
            return;
        }
    }
}

fn mutation_run(iterations: u64, seed: u64) -> (u64, u64) {
    mutation_run_on(&sample_bytes(), iterations, seed)
}

fn mutation_run_on(base: &[u8], iterations: u64, seed: u64) -> (u64, u64) {
    let mut rng = Rng(seed);
    let mut valid = 0;
    for _ in 0..iterations {
        let mut b = base.to_vec();
        mutate(&mut rng, &mut b);
        if rng.below(2) == 0 {
            crate::sample::fix_trailer(&mut b);
        }
        if let Ok(s) = check(&b) {
            valid += 1;
            assert_eq!(s.total_bytes, b.len() as u64);
            assert_eq!(reencode(&b), b, "valid images are canonical");
        }
    }
    (iterations, valid)
}

#[test]
fn mutations_smoke() {
    let (n, valid) = mutation_run(3000, 0x1234_5678_9abc_def1);
    assert!(valid > 0 && valid < n, "{valid} of {n} valid");
}

#[test]
fn mutations_smoke_live() {
    let mut buf = vec![0u8; sample::SAMPLE_MAX_LEN];
    let n = sample::build_live(&mut buf).unwrap();
    let (n, valid) = mutation_run_on(&buf[..n], 500, 0x0bad_5eed_1234_0606);
    assert!(valid > 0 && valid < n, "{valid} of {n} valid");
}

/// The long run: `cargo test -p cptrst-image --release -- --ignored`.
#[test]
#[ignore]
fn mutations_long() {
    let n = std::env::var("CPTRST_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let (n, valid) = mutation_run(n, 0xdead_beef_cafe_f00d);
    std::println!("{n} mutations, {valid} valid");
}

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

/// A tree of `MAX_TASKS` tasks: the root, 2047 children with one thread
/// each, one more child; all in the root's mm.
fn big_tree() -> Vec<TreeEntry> {
    let mut v = Vec::new();
    let base = sample::tree_entries()[0];
    v.push(base);
    for k in 0..(MAX_TASKS - 1) / 2 {
        let pid = 1000 + 2 * k;
        let mut p = base;
        p.pids[0] = pid;
        p.tgid = pid;
        p.ppid = 100;
        p.mm_id = 1;
        v.push(p);
        let mut t = p;
        t.pids[0] = pid + 1;
        t.flags = TASK_THREAD;
        t.exit_signal = 0;
        v.push(t);
    }
    let mut last = base;
    last.pids[0] = 50;
    last.tgid = 50;
    last.ppid = 100;
    v.push(last);
    assert_eq!(v.len(), MAX_TASKS as usize);
    v
}

#[test]
fn tree_of_max_tasks() {
    let entries = big_tree();
    let mut buf = vec![0u8; 16 + TREE_MAX_PAYLOAD];
    let mut e = Encoder::new(sample::header());
    e.header(&mut [0u8; HEADER_LEN]).unwrap();
    let n = e.tree(&Tree::from_entries(&entries), &mut buf).unwrap();
    assert_eq!(n, 16 + TREE_MAX_PAYLOAD);
    let mut v = Validator::new();
    let img = sample_bytes();
    v.feed_header(&img[..HEADER_LEN]).unwrap();
    v.feed_record_header(&buf[..16]).unwrap();
    let t0 = std::time::Instant::now();
    let tree = v.feed_tree(&buf[16..n]).unwrap();
    let dt = t0.elapsed();
    assert_eq!(tree.len(), MAX_TASKS);
    assert_eq!(v.expect(), Expect::RecordHeader);
    std::eprintln!("tree of {MAX_TASKS} tasks checked in {dt:?}");
    // One more task does not fit.
    let mut more = entries.clone();
    more.push(entries[1]);
    assert_eq!(
        e.tree(&Tree::from_entries(&more), &mut buf),
        Err(EncodeError::Limit)
    );
}

#[test]
fn state_sizes_fit_a_kernel_stack() {
    use core::mem::size_of;
    let sizes = [
        ("Validator", size_of::<Validator<'_>>()),
        ("Encoder", size_of::<Encoder>()),
        ("Record", size_of::<Record<'_>>()),
        ("Error", size_of::<Error>()),
    ];
    for (name, size) in sizes {
        std::eprintln!("{name}: {size} bytes");
        // The validator holds the 4096-bit set of the live image's srcs
        // (512 bytes) besides its state.
        let max = if name == "Validator" { 1024 } else { 512 };
        assert!(size <= max, "{name} is {size} bytes");
    }
}
