// SPDX-License-Identifier: GPL-2.0
//! Tests of the open-file records of version 1.4 (FILE, FDATA, FDS,
//! MAPFILE): round trips through the encoder, the reader and the streaming
//! validator, every rule of a FILE alone (good and bad values), and every
//! placement and cross-record rule, on the 1.4 sample.

use std::vec;
use std::vec::Vec;

use super::{check, items, reencode, refused, sample14_bytes, Img, Rec};
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

/// Index of the FILE record of id `id`.
fn file_at(img: &Img, id: u32) -> usize {
    nth(img, RECORD_FILE, id as usize - 1)
}

/// Patches record `i` (an index computed on the 1.4 sample by `at`) with
/// `f` and asserts the refusal there.
#[track_caller]
fn refused14(at: impl Fn(&Img) -> usize, kind: ErrorKind, f: impl FnOnce(&mut Img, usize)) {
    let mut img = Img::sample14();
    let i = at(&img);
    f(&mut img, i);
    let r = img.recs[i].kind;
    refused(&img.bytes(), r, img.offset(i), kind);
}

/// Inserts a copy of record `src` at `dst` (indices of the 1.4 sample) and
/// asserts the copy is refused with `kind`.
#[track_caller]
fn refused_copy(src: impl Fn(&Img) -> usize, dst: impl Fn(&Img) -> usize, kind: ErrorKind) {
    let mut img = Img::sample14();
    let (s, d) = (src(&img), dst(&img));
    let r = img.recs[s].clone();
    img.recs.insert(d, r);
    refused(&img.bytes(), img.recs[d].kind, img.offset(d), kind);
}

/// A FILE record of `f`, whole, from the encoder.
fn enc_file(f: &OpenFile<'_>) -> Vec<u8> {
    let mut e = Encoder::new(sample::header());
    e.header(&mut [0u8; HEADER_LEN]).unwrap();
    let mut buf = vec![0u8; 16 + FILE_MAX_PAYLOAD];
    let n = e.file(f, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// Decodes a whole record.
fn dec(b: &[u8]) -> Result<Record<'_>, ErrorKind> {
    let hdr = RecordHeader::decode(&b[..RECORD_HEADER_LEN], 0).unwrap();
    decode_record(&hdr, &b[RECORD_HEADER_LEN..], &sample::header())
}

/// A record of `kind` around `payload`, whole (header with the right flags).
fn whole(kind: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&record_flags(kind).to_le_bytes());
    b.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    b.extend_from_slice(payload);
    b
}

#[track_caller]
fn file_ok(f: OpenFile<'_>) {
    let b = enc_file(&f);
    assert_eq!(dec(&b), Ok(Record::File(f)));
}

#[track_caller]
fn file_bad(f: OpenFile<'_>, kind: ErrorKind) {
    let b = enc_file(&f);
    assert_eq!(dec(&b), Err(kind), "{f:?}");
}

/// The sample's FILE of kind `k` (each kind has one).
fn of_kind(k: FileKind) -> OpenFile<'static> {
    sample::files().into_iter().find(|f| f.kind == k).unwrap()
}

const KINDS: [FileKind; 8] = [
    FileKind::Reg,
    FileKind::Dir,
    FileKind::Chr,
    FileKind::Pipe,
    FileKind::Fifo,
    FileKind::Memfd,
    FileKind::Deleted,
    FileKind::External,
];

// ---------------------------------------------------------------------------
// The sample and round trips
// ---------------------------------------------------------------------------

#[test]
fn sample14_is_valid() {
    let b = sample14_bytes();
    let s = check(&b).unwrap();
    assert_eq!(s.header, sample::header_v1_4());
    assert_eq!(s.header.minor, 4);
    assert_eq!(s.files, 9);
    assert_eq!(s.tasks, 4);
    assert_eq!(s.vmas, 9);
    assert_eq!(s.pages, 7);
    assert_eq!(s.shm_objects, 2);
    // TREE, 9 FILE, 5 FDATA, then the tasks.
    let kinds: Vec<u32> = items(&b).iter().map(|i| i.header.kind).collect();
    assert_eq!(kinds[0], RECORD_TREE);
    assert_eq!(
        &kinds[1..16],
        &[
            RECORD_FILE,
            RECORD_FILE,
            RECORD_FILE,
            RECORD_FDATA,
            RECORD_FILE,
            RECORD_FILE,
            RECORD_FDATA,
            RECORD_FDATA,
            RECORD_FILE,
            RECORD_FILE,
            RECORD_FILE,
            RECORD_FDATA,
            RECORD_FILE,
            RECORD_FDATA,
            RECORD_TASK,
        ]
    );
    assert_eq!(kinds.iter().filter(|&&k| k == RECORD_FDS).count(), 2);
    assert_eq!(kinds.iter().filter(|&&k| k == RECORD_MAPFILE).count(), 2);
    assert!(!kinds.contains(&RECORD_FILES));
    // The 1.3 sample has none of them, and no FILE count.
    let old = check(&super::sample_bytes()).unwrap();
    assert_eq!(old.files, 0);
}

#[test]
fn round_trip_files_and_data() {
    let b = sample14_bytes();
    let want = sample::files();
    let mut got = Vec::new();
    let mut data: Vec<Vec<u8>> = vec![Vec::new(); 10];
    for it in items(&b) {
        match it.record {
            Record::File(f) => got.push(f),
            Record::FileData(d) => {
                assert_eq!(d.offset, data[d.file as usize].len() as u64);
                data[d.file as usize].extend_from_slice(d.data);
            }
            _ => {}
        }
    }
    assert_eq!(got, want);
    for f in &want {
        let d = &data[f.id as usize];
        assert_eq!(d.len() as u64, f.data_len, "FILE {}", f.id);
        for (i, &x) in d.iter().enumerate() {
            assert_eq!(x, sample::file_byte(f.id, i as u64));
        }
    }
    assert_eq!(&data[3], sample::SAMPLE_PIPE_DATA);
    assert_eq!(reencode(&b), b);
}

#[test]
fn round_trip_fds_and_mapfile() {
    let b = sample14_bytes();
    let it = items(&b);
    let fds: Vec<Fds<'_>> = it
        .iter()
        .filter_map(|i| match i.record {
            Record::Fds(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(fds.len(), 2);
    for (f, task) in fds.iter().zip([0u32, 2]) {
        let (umask, root, cwd, entries) = sample::fds(task).unwrap();
        assert_eq!((f.umask, f.root, f.cwd), (umask, root, cwd));
        assert_eq!(f.len() as usize, entries.len());
        assert!(!f.is_empty());
        assert_eq!(f.iter().collect::<Vec<_>>(), entries);
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(f.get(i as u32), Some(*e));
            assert_eq!(f.find(e.fd), Some(*e));
        }
        assert_eq!(f.get(entries.len() as u32), None);
        assert_eq!(f.find(8), None);
    }
    let maps: Vec<MapFile> = it
        .iter()
        .filter_map(|i| match i.record {
            Record::MapFile(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(
        maps,
        [
            sample::map_file(1, 0).unwrap(),
            sample::map_file(2, 4).unwrap()
        ]
    );
    // Each MAPFILE right after its file VMA.
    for (k, i) in it.iter().enumerate() {
        if let Record::MapFile(_) = i.record {
            assert!(matches!(it[k - 1].record, Record::Vma(v) if v.kind.has_path()));
        }
    }
}

#[test]
fn decode_record_standalone_fdt() {
    let b = sample14_bytes();
    let h = sample::header();
    for it in items(&b) {
        let off = it.offset as usize + 16;
        let p = &b[off..off + it.header.len as usize];
        let r = decode_record(&it.header, p, &h).unwrap();
        match (r, it.record) {
            // Alone, an FDATA's data has its padding (only the validator
            // knows where the data ends).
            (Record::FileData(a), Record::FileData(w)) => {
                assert_eq!((a.file, a.offset), (w.file, w.offset));
                assert_eq!(&a.data[..w.data.len()], w.data);
                assert_eq!(a.data.len(), w.data.len().div_ceil(8) * 8);
                assert!(a.data[w.data.len()..].iter().all(|&x| x == 0));
            }
            (r, w) => assert_eq!(r, w),
        }
    }
}

#[test]
fn names_kinds_and_lengths() {
    for (i, k) in KINDS.iter().enumerate() {
        assert_eq!(k.as_u32(), i as u32 + 1);
        assert_eq!(FileKind::from_u32(i as u32 + 1), Some(*k));
    }
    assert_eq!(FileKind::from_u32(0), None);
    assert_eq!(FileKind::from_u32(9), None);
    let names: Vec<&str> = KINDS.iter().map(|k| k.name()).collect();
    assert_eq!(
        names,
        ["reg", "dir", "chr", "pipe", "fifo", "memfd", "deleted", "external"]
    );
    for (t, n) in [
        (RECORD_FILE, "FILE"),
        (RECORD_FDATA, "FDATA"),
        (RECORD_FDS, "FDS"),
        (RECORD_MAPFILE, "MAPFILE"),
    ] {
        assert_eq!(record_name(t), n);
        assert_eq!(record_flags(t), RECORD_FLAG_MUST_UNDERSTAND);
        assert!(RecordHeader::new(t, 16).is_known());
    }
    assert_eq!(
        (RECORD_FILE, RECORD_FDATA, RECORD_FDS, RECORD_MAPFILE),
        (12, 13, 14, 15)
    );
    assert_eq!(OpenFile::payload_len(1), Some(72));
    assert_eq!(OpenFile::payload_len(8), Some(72));
    assert_eq!(OpenFile::payload_len(MAX_PATH_LEN), Some(FILE_MAX_PAYLOAD));
    assert_eq!(FileData::payload_len(13), Some(32));
    assert_eq!(
        FileData::payload_len(FDATA_MAX_CHUNK),
        Some(FDATA_MAX_PAYLOAD)
    );
    assert_eq!(Fds::payload_len(2, 1, 4), Some(16 + 32 + 8 + 8));
    assert_eq!(
        Fds::payload_len(MAX_FILES, MAX_PATH_LEN, MAX_PATH_LEN),
        Some(FDS_MAX_PAYLOAD)
    );
    const _: () = assert!(FDS_MAX_PAYLOAD <= MAX_META_PAYLOAD);
    assert_eq!(chr_mem_name(CHR_MEM_NULL), Some("null"));
    assert_eq!(chr_mem_name(CHR_MEM_URANDOM), Some("urandom"));
    assert_eq!(chr_mem_name(4), None);
    assert_eq!(OPEN_FLAGS_KNOWN, 0o15776003);
    assert!(FileKind::Memfd.has_content() && FileKind::Deleted.has_content());
    assert!(!FileKind::Reg.has_content());
    assert!(FileKind::Pipe.is_pipe() && FileKind::Fifo.is_pipe());
}

// ---------------------------------------------------------------------------
// FILE: the rules of one record
// ---------------------------------------------------------------------------

#[test]
fn file_every_kind_good() {
    for f in sample::files() {
        file_ok(f);
    }
    // Every known flag on a regular file (O_DIRECTORY excepted).
    for flag in [
        OF_APPEND,
        OF_NONBLOCK,
        OF_DSYNC,
        OF_ASYNC,
        OF_DIRECT,
        OF_LARGEFILE,
        OF_NOFOLLOW,
        OF_NOATIME,
        OF_SYNC,
        OF_PATH,
    ] {
        for acc in [OF_RDONLY, OF_WRONLY, OF_RDWR] {
            file_ok(OpenFile {
                flags: flag | acc,
                ..of_kind(FileKind::Reg)
            });
        }
    }
}

#[test]
fn file_bad_id_and_kind() {
    let f = of_kind(FileKind::Reg);
    // Id 0 (the encoder does not write it).
    let mut b = enc_file(&f);
    b[16..20].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(dec(&b), Err(ErrorKind::BadFileId { id: 0, expected: 1 }));
    file_bad(
        OpenFile {
            id: MAX_FILES + 1,
            ..f
        },
        ErrorKind::BadFileId {
            id: MAX_FILES + 1,
            expected: 1,
        },
    );
    file_ok(OpenFile { id: MAX_FILES, ..f });
    for kind in [0u32, 9, u32::MAX] {
        let mut b = enc_file(&f);
        b[16 + 4..16 + 8].copy_from_slice(&kind.to_le_bytes());
        assert_eq!(dec(&b), Err(ErrorKind::BadFileKind { kind }));
    }
}

#[test]
fn file_bad_flags() {
    let f = of_kind(FileKind::Reg);
    let id = f.id;
    // Outside the known set: O_CLOEXEC, O_CREAT, O_EXCL, O_TRUNC, __O_TMPFILE.
    for bad in [0o2000000, 0o100, 0o200, 0o1000, 0o20000000, 1 << 31] {
        let flags = OF_RDONLY | bad;
        file_bad(
            OpenFile { flags, ..f },
            ErrorKind::BadOpenFlags { id, flags },
        );
    }
    // Access mode 3.
    file_bad(
        OpenFile { flags: 3, ..f },
        ErrorKind::BadOpenFlags { id, flags: 3 },
    );
    // O_PATH: Reg and Dir only.
    file_ok(OpenFile {
        flags: OF_PATH | OF_DIRECTORY,
        ..of_kind(FileKind::Dir)
    });
    for k in KINDS {
        let g = of_kind(k);
        let flags = g.flags | OF_PATH;
        if matches!(k, FileKind::Reg | FileKind::Dir) {
            file_ok(OpenFile { flags, ..g });
        } else {
            file_bad(
                OpenFile { flags, ..g },
                ErrorKind::OpenFlagsNotForKind { id: g.id, flags },
            );
        }
        // O_DIRECTORY: Dir only.
        let flags = g.flags | OF_DIRECTORY;
        if k == FileKind::Dir {
            file_ok(OpenFile { flags, ..g });
        } else {
            file_bad(
                OpenFile { flags, ..g },
                ErrorKind::OpenFlagsNotForKind { id: g.id, flags },
            );
        }
    }
}

#[test]
fn file_mode_type_per_kind() {
    let types = [
        MODE_IFREG,
        MODE_IFDIR,
        MODE_IFCHR,
        MODE_IFIFO,
        MODE_IFSOCK,
        MODE_IFBLK,
        0,
        0o170000,
    ];
    for k in KINDS {
        let g = of_kind(k);
        let good: &[u32] = match k {
            FileKind::Reg | FileKind::Memfd | FileKind::Deleted => &[MODE_IFREG],
            FileKind::Dir => &[MODE_IFDIR],
            FileKind::Chr => &[MODE_IFCHR],
            FileKind::Pipe | FileKind::Fifo => &[MODE_IFIFO],
            FileKind::External => &[MODE_IFCHR, MODE_IFIFO, MODE_IFSOCK],
        };
        for t in types {
            let mode = t | 0o640;
            let f = OpenFile { mode, ..g };
            if good.contains(&t) {
                file_ok(f);
            } else {
                file_bad(f, ErrorKind::BadFileMode { id: g.id, mode });
            }
        }
        // Permission bits with setuid/setgid/sticky are fine, more are not.
        file_ok(OpenFile {
            mode: good[0] | 0o7777,
            ..g
        });
        let mode = good[0] | 0o644 | 0o200000;
        file_bad(
            OpenFile { mode, ..g },
            ErrorKind::BadFileMode { id: g.id, mode },
        );
    }
}

#[test]
fn file_pos_rules() {
    let max = i64::MAX as u64;
    for k in [FileKind::Reg, FileKind::Dir, FileKind::Memfd, FileKind::Chr] {
        let g = of_kind(k);
        file_ok(OpenFile { pos: max, ..g });
        file_bad(
            OpenFile { pos: max + 1, ..g },
            ErrorKind::BadFilePos {
                id: g.id,
                pos: max + 1,
            },
        );
    }
    // Past the end of a regular file: allowed (lseek can go there).
    file_ok(OpenFile {
        pos: 1 << 40,
        ..of_kind(FileKind::Reg)
    });
    for k in [FileKind::Pipe, FileKind::Fifo, FileKind::External] {
        let g = of_kind(k);
        file_bad(
            OpenFile { pos: 1, ..g },
            ErrorKind::BadFilePos { id: g.id, pos: 1 },
        );
    }
}

#[test]
fn file_size_and_data_len_rules() {
    let reg = of_kind(FileKind::Reg);
    let max = i64::MAX as u64;
    file_ok(OpenFile { size: max, ..reg });
    file_bad(
        OpenFile {
            size: max + 1,
            ..reg
        },
        ErrorKind::BadFileSize {
            id: reg.id,
            size: max + 1,
        },
    );
    // No size for the kinds without one.
    for k in [
        FileKind::Dir,
        FileKind::Chr,
        FileKind::Pipe,
        FileKind::Fifo,
        FileKind::External,
    ] {
        let g = of_kind(k);
        file_bad(
            OpenFile { size: 1, ..g },
            ErrorKind::BadFileSize { id: g.id, size: 1 },
        );
    }
    // Content: data_len == size, at most MAX_FILE_DATA.
    for k in [FileKind::Memfd, FileKind::Deleted] {
        let g = of_kind(k);
        file_ok(OpenFile {
            size: 0,
            data_len: 0,
            ..g
        });
        file_ok(OpenFile {
            size: MAX_FILE_DATA,
            data_len: MAX_FILE_DATA,
            ..g
        });
        let size = MAX_FILE_DATA + 1;
        file_bad(
            OpenFile {
                size,
                data_len: size,
                ..g
            },
            ErrorKind::BadFileSize { id: g.id, size },
        );
        for data_len in [g.size - 1, g.size + 1, 0] {
            file_bad(
                OpenFile { data_len, ..g },
                ErrorKind::BadFileDataLen { id: g.id, data_len },
            );
        }
    }
    // Pipes: up to the capacity.
    for k in [FileKind::Pipe, FileKind::Fifo] {
        let g = of_kind(k);
        let cap = u64::from(g.pipe_size);
        file_ok(OpenFile { data_len: 0, ..g });
        file_ok(OpenFile { data_len: cap, ..g });
        file_bad(
            OpenFile {
                data_len: cap + 1,
                ..g
            },
            ErrorKind::BadFileDataLen {
                id: g.id,
                data_len: cap + 1,
            },
        );
    }
    // None for the others.
    for k in [
        FileKind::Reg,
        FileKind::Dir,
        FileKind::Chr,
        FileKind::External,
    ] {
        let g = of_kind(k);
        file_bad(
            OpenFile { data_len: 1, ..g },
            ErrorKind::BadFileDataLen {
                id: g.id,
                data_len: 1,
            },
        );
    }
}

#[test]
fn file_rdev_rules() {
    let chr = of_kind(FileKind::Chr);
    for minor in [3, 5, 7, 8, 9] {
        file_ok(OpenFile {
            rdev_minor: minor,
            ..chr
        });
    }
    for (major, minor) in [(1, 0), (1, 1), (1, 4), (1, 10), (4, 64), (0, 3), (136, 0)] {
        file_bad(
            OpenFile {
                rdev_major: major,
                rdev_minor: minor,
                ..chr
            },
            ErrorKind::BadFileRdev {
                id: chr.id,
                major,
                minor,
            },
        );
    }
    for k in [FileKind::Reg, FileKind::External, FileKind::Fifo] {
        let g = of_kind(k);
        file_bad(
            OpenFile {
                rdev_major: 1,
                rdev_minor: 3,
                ..g
            },
            ErrorKind::BadFileRdev {
                id: g.id,
                major: 1,
                minor: 3,
            },
        );
        file_bad(
            OpenFile { rdev_minor: 3, ..g },
            ErrorKind::BadFileRdev {
                id: g.id,
                major: 0,
                minor: 3,
            },
        );
    }
}

#[test]
fn file_pipe_rules() {
    for k in [FileKind::Pipe, FileKind::Fifo] {
        let g = of_kind(k);
        file_bad(
            OpenFile { pipe: 0, ..g },
            ErrorKind::BadPipeId { id: g.id, pipe: 0 },
        );
        for ps in [4096u32, 8192, 65536, 1 << 20, MAX_PIPE_SIZE] {
            file_ok(OpenFile {
                pipe_size: ps,
                data_len: 0,
                ..g
            });
        }
        for ps in [0u32, 1, 2048, 4097, 6000, 65535, (1 << 31) + 4096, u32::MAX] {
            file_bad(
                OpenFile {
                    pipe_size: ps,
                    data_len: 0,
                    ..g
                },
                ErrorKind::BadPipeSize {
                    id: g.id,
                    pipe_size: ps,
                },
            );
        }
    }
    for k in [FileKind::Reg, FileKind::External, FileKind::Memfd] {
        let g = of_kind(k);
        file_bad(
            OpenFile { pipe: 1, ..g },
            ErrorKind::BadPipeId { id: g.id, pipe: 1 },
        );
        file_bad(
            OpenFile {
                pipe_size: 4096,
                ..g
            },
            ErrorKind::BadPipeSize {
                id: g.id,
                pipe_size: 4096,
            },
        );
    }
}

#[test]
fn file_seal_rules() {
    let m = of_kind(FileKind::Memfd);
    for seals in [0, 1, 0x3f, 0x20] {
        file_ok(OpenFile { seals, ..m });
    }
    for seals in [0x40, 0x7f, u32::MAX] {
        file_bad(
            OpenFile { seals, ..m },
            ErrorKind::BadSeals { id: m.id, seals },
        );
    }
    for k in [FileKind::Reg, FileKind::Deleted, FileKind::Pipe] {
        let g = of_kind(k);
        file_bad(
            OpenFile { seals: 1, ..g },
            ErrorKind::BadSeals { id: g.id, seals: 1 },
        );
    }
}

#[test]
fn file_path_rules() {
    let abs_kinds = [
        FileKind::Reg,
        FileKind::Dir,
        FileKind::Chr,
        FileKind::Fifo,
        FileKind::Deleted,
    ];
    for k in abs_kinds {
        let g = of_kind(k);
        file_ok(OpenFile { path: b"/", ..g });
        for p in [&b"relative"[..], b"pipe:[3]", b"/with\0nul", b" /x"] {
            file_bad(
                OpenFile { path: p, ..g },
                ErrorKind::BadFilePath { id: g.id },
            );
        }
    }
    // Memfd names: no '/', at most 249 bytes, no NUL.
    let m = of_kind(FileKind::Memfd);
    let long = [b'n'; MAX_MEMFD_NAME + 1];
    file_ok(OpenFile {
        path: &long[..MAX_MEMFD_NAME],
        ..m
    });
    file_ok(OpenFile {
        path: b"with spaces (deleted)",
        ..m
    });
    for p in [&long[..], b"a/b", b"/abs", b"nul\0"] {
        file_bad(
            OpenFile { path: p, ..m },
            ErrorKind::BadFilePath { id: m.id },
        );
    }
    // Pipes: pipe:[INODE].
    let p = of_kind(FileKind::Pipe);
    file_ok(OpenFile {
        path: b"pipe:[0]",
        ..p
    });
    file_ok(OpenFile {
        path: b"pipe:[4294967295123]",
        ..p
    });
    for bad in [
        &b"pipe:[]"[..],
        b"pipe:[12",
        b"pipe:12]",
        b"pipe:[1a]",
        b"/tmp/pipe",
        b"socket:[12]",
        b"pipe:[12]x",
    ] {
        file_bad(
            OpenFile { path: bad, ..p },
            ErrorKind::BadFilePath { id: p.id },
        );
    }
    // External: what it was, any text without NUL.
    let x = of_kind(FileKind::External);
    for ok in [
        &b"socket:[5678]"[..],
        b"pipe:[1234]",
        b"/dev/pts/0",
        b"anon",
    ] {
        file_ok(OpenFile { path: ok, ..x });
    }
    file_bad(
        OpenFile { path: b"a\0b", ..x },
        ErrorKind::BadFilePath { id: x.id },
    );
    // The longest path.
    let mut long = vec![b'a'; MAX_PATH_LEN];
    long[0] = b'/';
    file_ok(OpenFile {
        path: &long,
        ..of_kind(FileKind::Reg)
    });
}

#[test]
fn file_framing() {
    let f = of_kind(FileKind::Reg);
    let b = enc_file(&f);
    assert_eq!(b.len(), 16 + 64 + 16);
    let mut p = b[16..].to_vec();
    let set =
        |p: &mut Vec<u8>, off: usize, v: u32| p[off..off + 4].copy_from_slice(&v.to_le_bytes());
    // path_len 0.
    let mut q = p[..64].to_vec();
    set(&mut q, 52, 0);
    assert_eq!(
        dec(&whole(RECORD_FILE, &q)),
        Err(ErrorKind::BadFilePath { id: f.id })
    );
    // Longer than MAX_PATH_LEN.
    let mut q = p.clone();
    set(&mut q, 52, MAX_PATH_LEN as u32 + 1);
    assert_eq!(
        dec(&whole(RECORD_FILE, &q)),
        Err(ErrorKind::PathTooLong {
            len: MAX_PATH_LEN as u32 + 1
        })
    );
    // Disagreeing with the payload length.
    let mut q = p.clone();
    set(&mut q, 52, 20);
    assert_eq!(
        dec(&whole(RECORD_FILE, &q)),
        Err(ErrorKind::BadPayloadLength {
            len: 80,
            expected: 88
        })
    );
    // Non-zero padding after the path.
    p[64 + f.path.len()] = 1;
    assert_eq!(dec(&whole(RECORD_FILE, &p)), Err(ErrorKind::NonZeroPadding));
    // Shorter than the fixed part, longer than the largest.
    let hdr = RecordHeader::new(RECORD_FILE, 56);
    assert_eq!(
        decode_record(&hdr, &[0; 56], &sample::header()),
        Err(ErrorKind::BadPayloadLength {
            len: 56,
            expected: 64
        })
    );
    let n = FILE_MAX_PAYLOAD + 8;
    let hdr = RecordHeader::new(RECORD_FILE, n as u64);
    assert_eq!(
        decode_record(&hdr, &vec![0; n], &sample::header()),
        Err(ErrorKind::RecordTooLarge {
            len: n as u64,
            max: FILE_MAX_PAYLOAD as u64
        })
    );
}

// ---------------------------------------------------------------------------
// FILE and FDATA in the image
// ---------------------------------------------------------------------------

#[test]
fn reject_file_ids_not_consecutive() {
    refused14(
        |i| file_at(i, 2),
        ErrorKind::BadFileId { id: 3, expected: 2 },
        |img, i| img.set32(i, 0, 3),
    );
    refused14(
        |i| file_at(i, 1),
        ErrorKind::BadFileId { id: 2, expected: 1 },
        |img, i| img.set32(i, 0, 2),
    );
    // A FILE removed: the next id is off by one.
    let mut img = Img::sample14();
    let i = file_at(&img, 6);
    img.recs.remove(i);
    refused(
        &img.bytes(),
        RECORD_FILE,
        img.offset(i),
        ErrorKind::BadFileId { id: 7, expected: 6 },
    );
}

#[test]
fn pipe_ids_in_order_of_first_appearance() {
    // A new pipe id must be the next one.
    refused14(
        |i| file_at(i, 9),
        ErrorKind::PipeIdNotInOrder {
            id: 9,
            pipe: 3,
            next: 2,
        },
        |img, i| img.set32(i, 40, 3),
    );
    // Data only on the first FILE of a pipe.
    refused14(
        |i| file_at(i, 4),
        ErrorKind::BadFileDataLen { id: 4, data_len: 1 },
        |img, i| img.set64(i, 56, 1),
    );
    // FILE 4 opens pipe 2: FILE 9 is a later FILE of it, with data.
    let mut img = Img::sample14();
    let i4 = file_at(&img, 4);
    img.set32(i4, 40, 2);
    let i9 = file_at(&img, 9);
    refused(
        &img.bytes(),
        RECORD_FILE,
        img.offset(i9),
        ErrorKind::BadFileDataLen { id: 9, data_len: 3 },
    );
    // FILE 9 on pipe 1 (seen), without data: fine.
    let mut img = Img::sample14();
    let i9 = file_at(&img, 9);
    img.set32(i9, 40, 1);
    img.set64(i9, 56, 0);
    img.recs.remove(i9 + 1);
    check(&img.bytes()).unwrap();
}

#[test]
fn reject_fdata_incomplete() {
    // The pipe's data missing: the next FILE is refused.
    let mut img = Img::sample14();
    let d = nth(&img, RECORD_FDATA, 0);
    img.recs.remove(d);
    refused(
        &img.bytes(),
        RECORD_FILE,
        img.offset(d),
        ErrorKind::FileDataIncomplete {
            file: 3,
            missing: 13,
        },
    );
    // The memfd's last chunk missing.
    let mut img = Img::sample14();
    let d = nth(&img, RECORD_FDATA, 2);
    img.recs.remove(d);
    refused(
        &img.bytes(),
        RECORD_FILE,
        img.offset(d),
        ErrorKind::FileDataIncomplete {
            file: 5,
            missing: 4,
        },
    );
    // The FIFO's data missing: the first TASK is refused.
    let mut img = Img::sample14();
    let d = nth(&img, RECORD_FDATA, 4);
    img.recs.remove(d);
    refused(
        &img.bytes(),
        RECORD_TASK,
        img.offset(d),
        ErrorKind::FileDataIncomplete {
            file: 9,
            missing: 3,
        },
    );
    // A chunk shorter than the data (a multiple of 8): more must follow.
    refused14(
        |i| file_at(i, 4),
        ErrorKind::FileDataIncomplete {
            file: 3,
            missing: 4,
        },
        |img, _| {
            let f = file_at(img, 3);
            img.set64(f, 56, 20);
        },
    );
    // Even a skippable unknown record must wait for the data.
    let mut img = Img::sample14();
    let d = nth(&img, RECORD_FDATA, 0);
    let mut r = Rec::new(0x1234, vec![0; 8]);
    r.flags = 0;
    img.recs.insert(d, r);
    refused(
        &img.bytes(),
        0x1234,
        img.offset(d),
        ErrorKind::FileDataIncomplete {
            file: 3,
            missing: 13,
        },
    );
}

#[test]
fn reject_fdata_bad_fields() {
    let first = |i: &Img| nth(i, RECORD_FDATA, 0);
    let second = |i: &Img| nth(i, RECORD_FDATA, 2);
    refused14(
        first,
        ErrorKind::FdataBadFile {
            file: 4,
            expected: 3,
        },
        |img, i| img.set32(i, 0, 4),
    );
    refused14(
        first,
        ErrorKind::FdataBadFile {
            file: 0,
            expected: 1,
        },
        |img, i| img.set32(i, 0, 0),
    );
    refused14(first, ErrorKind::NonZeroReserved, |img, i| {
        img.set32(i, 4, 1)
    });
    refused14(
        second,
        ErrorKind::FdataBadOffset {
            offset: 4088,
            expected: 4096,
        },
        |img, i| img.set64(i, 8, 4088),
    );
    refused14(
        second,
        ErrorKind::FdataBadOffset {
            offset: 4097,
            expected: 4096,
        },
        |img, i| img.set64(i, 8, 4097),
    );
    refused14(
        first,
        ErrorKind::FdataBadOffset {
            offset: 8,
            expected: 0,
        },
        |img, i| img.set64(i, 8, 8),
    );
}

#[test]
fn reject_fdata_bad_lengths() {
    let first = |i: &Img| nth(i, RECORD_FDATA, 0);
    // Longer than the data left (13 bytes padded to 16 for 5 bytes).
    refused14(
        first,
        ErrorKind::FdataBadLength { len: 16, left: 5 },
        |img, _| {
            let f = file_at(img, 3);
            img.set64(f, 56, 5);
        },
    );
    // No data.
    refused14(
        first,
        ErrorKind::FdataBadLength { len: 0, left: 13 },
        |img, i| img.p(i).truncate(FDATA_FIXED_LEN),
    );
    // The last chunk's padding is not data: it must be zero.
    refused14(
        |i| nth(i, RECORD_FDATA, 3),
        ErrorKind::NonZeroPadding,
        |img, _| {
            let f = file_at(img, 8);
            img.set64(f, 24, 3);
            img.set64(f, 56, 3);
        },
    );
    refused14(second_memfd, ErrorKind::NonZeroPadding, |img, i| {
        *img.p(i).last_mut().unwrap() = 0x80
    });
}

fn second_memfd(i: &Img) -> usize {
    nth(i, RECORD_FDATA, 2)
}

#[test]
fn fdata_chunk_limit() {
    // The memfd as one chunk of FDATA_MAX_CHUNK bytes and one of 4: valid.
    let big = FDATA_MAX_CHUNK as u64 + 4;
    let build = |chunks: &[usize]| {
        let mut img = Img::sample14();
        let f = file_at(&img, 5);
        img.set64(f, 24, big);
        img.set64(f, 56, big);
        let d0 = nth(&img, RECORD_FDATA, 1);
        img.recs.drain(d0..d0 + 2);
        let mut off = 0u64;
        for (k, &n) in chunks.iter().enumerate() {
            let mut p = Vec::new();
            p.extend_from_slice(&5u32.to_le_bytes());
            p.extend_from_slice(&0u32.to_le_bytes());
            p.extend_from_slice(&off.to_le_bytes());
            p.extend((0..n).map(|i| sample::file_byte(5, off + i as u64)));
            p.resize(FDATA_FIXED_LEN + n.div_ceil(8) * 8, 0);
            img.recs.insert(d0 + k, Rec::new(RECORD_FDATA, p));
            off += n as u64;
        }
        (img, d0)
    };
    let (img, _) = build(&[FDATA_MAX_CHUNK, 4]);
    let b = img.bytes();
    assert_eq!(check(&b).unwrap().files, 9);
    let data: Vec<usize> = items(&b)
        .iter()
        .filter_map(|i| match i.record {
            Record::FileData(d) if d.file == 5 => Some(d.data.len()),
            _ => None,
        })
        .collect();
    assert_eq!(data, [FDATA_MAX_CHUNK, 4]);
    // One chunk of FDATA_MAX_CHUNK + 4 bytes: too large.
    let (img, d0) = build(&[FDATA_MAX_CHUNK + 4]);
    let len = (FDATA_FIXED_LEN + FDATA_MAX_CHUNK + 8) as u64;
    refused(
        &img.bytes(),
        RECORD_FDATA,
        img.offset(d0),
        ErrorKind::RecordTooLarge {
            len,
            max: FDATA_MAX_PAYLOAD as u64,
        },
    );
}

#[test]
fn reject_fdata_without_data_left() {
    // A second copy of the FIFO's data.
    refused_copy(
        |i| nth(i, RECORD_FDATA, 4),
        |i| nth(i, RECORD_FDATA, 4) + 1,
        ErrorKind::FdataUnexpected,
    );
    // FDATA after a FILE without data.
    refused_copy(
        |i| nth(i, RECORD_FDATA, 0),
        |i| file_at(i, 2) + 1,
        ErrorKind::FdataUnexpected,
    );
}

#[test]
fn reject_file_records_out_of_place() {
    let file = |i: &Img| file_at(i, 1);
    let fdata = |i: &Img| nth(i, RECORD_FDATA, 0);
    let task0 = |i: &Img| nth(i, RECORD_TASK, 0);
    // Before the TREE.
    refused_copy(
        file,
        |_| 0,
        ErrorKind::OutOfOrder {
            expected: RECORD_TREE,
        },
    );
    // After the first TASK, among the tasks, among the MMs.
    for src in [file as fn(&Img) -> usize, fdata] {
        refused_copy(
            src,
            |i| task0(i) + 1,
            ErrorKind::OutOfOrder {
                expected: RECORD_REGS,
            },
        );
        refused_copy(
            src,
            |i| nth(i, RECORD_TASK, 1),
            ErrorKind::OutOfOrder {
                expected: RECORD_TASK,
            },
        );
        refused_copy(
            src,
            |i| nth(i, RECORD_MM, 0),
            ErrorKind::OutOfOrder {
                expected: RECORD_MM,
            },
        );
        refused_copy(
            src,
            |i| nth(i, RECORD_VMA, 0),
            ErrorKind::OutOfOrder {
                expected: RECORD_VMA,
            },
        );
    }
}

#[test]
fn reject_fdt_records_in_older_images() {
    // A 1.3 image may not have them.
    let mut img = Img::sample14();
    img.header[10] = 3;
    refused(
        &img.bytes(),
        RECORD_FILE,
        img.offset(1),
        ErrorKind::RecordNewerThanImage { minor: 3 },
    );
    // Nor FDS, MAPFILE (without FILE records before them).
    let mut img = Img::sample();
    let f = nth(&img, RECORD_FILES, 0);
    let fds = Img::sample14();
    let src = fds.recs[nth(&fds, RECORD_FDS, 0)].clone();
    img.recs[f] = src;
    refused(
        &img.bytes(),
        RECORD_FDS,
        img.offset(f),
        ErrorKind::RecordNewerThanImage { minor: 3 },
    );
    // A 1.4 image may not have FILES.
    let mut img = Img::sample14();
    let f = nth(&img, RECORD_FDS, 0);
    let old = Img::sample();
    img.recs[f] = old.recs[nth(&old, RECORD_FILES, 0)].clone();
    refused(
        &img.bytes(),
        RECORD_FILES,
        img.offset(f),
        ErrorKind::FilesInNewImage { minor: 4 },
    );
    // The 1.3 and 1.4 images stay valid as they are, and a 1.5 one with
    // minor 7 too.
    check(&Img::sample().bytes()).unwrap();
    check(&Img::sample14().bytes()).unwrap();
    let mut img = Img::sample15();
    img.header[10] = 7;
    assert_eq!(check(&img.bytes()).unwrap().files, 9);
}

#[test]
fn reject_fdt_records_without_must_understand() {
    for kind in [RECORD_FILE, RECORD_FDATA, RECORD_FDS, RECORD_MAPFILE] {
        refused14(
            |i| nth(i, kind, 0),
            ErrorKind::BadRecordFlags { flags: 0 },
            |img, i| img.recs[i].flags = 0,
        );
    }
}

// ---------------------------------------------------------------------------
// FDS
// ---------------------------------------------------------------------------

fn fds0(i: &Img) -> usize {
    nth(i, RECORD_FDS, 0)
}

/// Payload offset of FDS entry `k`, field `off`.
fn entry(k: usize, off: usize) -> usize {
    FDS_FIXED_LEN + FD_ENTRY_LEN * k + off
}

#[test]
fn reject_fds_bad_entries() {
    refused14(fds0, ErrorKind::FdsBadFile { fd: 0, file: 10 }, |img, i| {
        img.set32(i, entry(0, 4), 10)
    });
    refused14(fds0, ErrorKind::FdsBadFile { fd: 3, file: 0 }, |img, i| {
        img.set32(i, entry(3, 4), 0)
    });
    refused14(
        fds0,
        ErrorKind::FdsBadFile {
            fd: 3,
            file: MAX_FILES + 1,
        },
        |img, i| img.set32(i, entry(3, 4), MAX_FILES + 1),
    );
    refused14(fds0, ErrorKind::BadFdFlags { fd: 1, flags: 2 }, |img, i| {
        img.set32(i, entry(1, 8), 2)
    });
    refused14(fds0, ErrorKind::NonZeroReserved, |img, i| {
        img.set32(i, entry(2, 12), 1)
    });
    refused14(fds0, ErrorKind::FilesUnsorted { fd: 0 }, |img, i| {
        img.set32(i, entry(1, 0), 0)
    });
    refused14(fds0, ErrorKind::FilesUnsorted { fd: 2 }, |img, i| {
        img.set32(i, entry(3, 0), 2)
    });
    refused14(fds0, ErrorKind::BadFd { fd: FD_LIMIT }, |img, i| {
        img.set32(i, entry(11, 0), FD_LIMIT)
    });
    // The largest fd and file id are fine.
    let mut img = Img::sample14();
    let i = fds0(&img);
    img.set32(i, entry(11, 0), FD_LIMIT - 1);
    img.set32(i, entry(11, 4), 9);
    img.set32(i, entry(11, 8), FD_FLAG_CLOEXEC);
    check(&img.bytes()).unwrap();
}

#[test]
fn reject_fds_bad_context() {
    // The root's FDS: 12 entries, root "/" at 208, cwd "/tmp" at 216.
    let root = entry(12, 0);
    refused14(fds0, ErrorKind::BadUmask { umask: 0o1000 }, |img, i| {
        img.set32(i, 4, 0o1000)
    });
    let mut img = Img::sample14();
    let i = fds0(&img);
    img.set32(i, 4, 0o777);
    check(&img.bytes()).unwrap();
    refused14(fds0, ErrorKind::BadRoot, |img, i| img.p(i)[root] = b'x');
    refused14(fds0, ErrorKind::BadRoot, |img, i| img.p(i)[root] = 0);
    refused14(fds0, ErrorKind::BadCwd, |img, i| img.p(i)[root + 8] = b't');
    refused14(fds0, ErrorKind::BadCwd, |img, i| img.p(i)[root + 8 + 2] = 0);
    refused14(fds0, ErrorKind::NonZeroPadding, |img, i| {
        img.p(i)[root + 1] = 1
    });
    refused14(fds0, ErrorKind::NonZeroPadding, |img, i| {
        img.p(i)[root + 8 + 5] = 1
    });
    // An empty root.
    refused14(fds0, ErrorKind::BadRoot, |img, i| {
        img.p(i).drain(root..root + 8);
        img.set32(i, 8, 0);
    });
    // Lengths.
    refused14(
        fds0,
        ErrorKind::PathTooLong {
            len: MAX_PATH_LEN as u32 + 1,
        },
        |img, i| img.set32(i, 12, MAX_PATH_LEN as u32 + 1),
    );
    refused14(
        fds0,
        ErrorKind::FilesTooMany {
            count: MAX_FILES + 1,
        },
        |img, i| img.set32(i, 0, MAX_FILES + 1),
    );
    refused14(
        fds0,
        ErrorKind::BadPayloadLength {
            len: 224,
            expected: 208,
        },
        |img, i| img.set32(i, 0, 11),
    );
}

#[test]
fn reject_fds_out_of_place() {
    let fpu = |n: usize| move |i: &Img| nth(i, RECORD_FPU, n);
    // In a thread (its table is its leader's).
    refused_copy(fds0, |i| fpu(1)(i) + 1, ErrorKind::FdsInThread { index: 1 });
    // Twice.
    refused_copy(
        fds0,
        |i| fds0(i) + 1,
        ErrorKind::OutOfOrder {
            expected: RECORD_TASK,
        },
    );
    // Before REGS, before FPU.
    refused_copy(
        fds0,
        |i| nth(i, RECORD_TASK, 0) + 1,
        ErrorKind::OutOfOrder {
            expected: RECORD_REGS,
        },
    );
    refused_copy(
        fds0,
        |i| nth(i, RECORD_REGS, 0) + 1,
        ErrorKind::OutOfOrder {
            expected: RECORD_FPU,
        },
    );
    // For a zombie.
    refused_copy(
        fds0,
        |i| nth(i, RECORD_TASK, 3) + 1,
        ErrorKind::OutOfOrder {
            expected: RECORD_MM,
        },
    );
    // Before the tasks, among the FILE records.
    refused_copy(
        fds0,
        |i| file_at(i, 2),
        ErrorKind::OutOfOrder {
            expected: RECORD_TASK,
        },
    );
    // After a THREAD record.
    let t = Thread {
        clear_child_tid: 0,
        robust_list: 0,
        robust_list_len: 0,
        rseq: 0,
        rseq_len: 0,
        rseq_sig: 0,
    };
    let mut e = Encoder::new(sample::header());
    e.header(&mut [0u8; HEADER_LEN]).unwrap();
    let mut buf = [0u8; 64];
    e.thread(&t, &mut buf).unwrap();
    let mut th = Rec::new(RECORD_THREAD, buf[16..64].to_vec());
    th.flags = 0;
    // FDS then THREAD: fine.
    let mut img = Img::sample14();
    let i = fds0(&img);
    img.recs.insert(i + 1, th.clone());
    check(&img.bytes()).unwrap();
    // THREAD then FDS: refused.
    let mut img = Img::sample14();
    let i = fds0(&img);
    img.recs.insert(i, th);
    refused(
        &img.bytes(),
        RECORD_FDS,
        img.offset(i + 1),
        ErrorKind::OutOfOrder {
            expected: RECORD_TASK,
        },
    );
    // Optional: a leader without FDS is fine.
    let mut img = Img::sample14();
    let i = fds0(&img);
    img.recs.remove(i);
    check(&img.bytes()).unwrap();
}

// ---------------------------------------------------------------------------
// MAPFILE
// ---------------------------------------------------------------------------

fn mapfile(n: usize) -> impl Fn(&Img) -> usize {
    move |i| nth(i, RECORD_MAPFILE, n)
}

#[test]
fn reject_mapfile_bad_fields() {
    refused14(
        mapfile(1),
        ErrorKind::MapFileBadFile { file: 10, files: 9 },
        |img, i| img.set32(i, 12, 10),
    );
    refused14(
        mapfile(1),
        ErrorKind::MapFileBadFile {
            file: MAX_FILES + 1,
            files: MAX_FILES,
        },
        |img, i| img.set32(i, 12, MAX_FILES + 1),
    );
    for mode in [
        MODE_IFDIR | 0o755,
        MODE_IFCHR | 0o666,
        0o644,
        MODE_IFREG | 0o200000,
    ] {
        refused14(mapfile(0), ErrorKind::MapFileBadMode { mode }, |img, i| {
            img.set32(i, 8, mode)
        });
    }
    let size = i64::MAX as u64 + 1;
    refused14(mapfile(0), ErrorKind::MapFileBadSize { size }, |img, i| {
        img.set64(i, 0, size)
    });
    // Any FILE id of the image is accepted here (its kind is for the
    // restart to check), and 0 (by path).
    for file in [0, 1, 9] {
        let mut img = Img::sample14();
        let i = mapfile(1)(&img);
        img.set32(i, 12, file);
        check(&img.bytes()).unwrap();
    }
}

#[test]
fn reject_mapfile_out_of_place() {
    // Twice after one VMA.
    refused_copy(
        mapfile(0),
        |i| mapfile(0)(i) + 1,
        ErrorKind::OutOfOrder {
            expected: RECORD_VMA,
        },
    );
    // After the VMA's PAGES.
    refused_copy(
        mapfile(0),
        |i| mapfile(0)(i) + 2,
        ErrorKind::OutOfOrder {
            expected: RECORD_VMA,
        },
    );
    // After a VMA that maps no file (the heap, a shared anonymous one).
    refused_copy(
        mapfile(0),
        |i| nth(i, RECORD_VMA, 1) + 1,
        ErrorKind::OutOfOrder {
            expected: RECORD_VMA,
        },
    );
    refused_copy(
        mapfile(0),
        |i| nth(i, RECORD_SHM, 0) + 1,
        ErrorKind::OutOfOrder {
            expected: RECORD_VMA,
        },
    );
    // Right after an MM, among the tasks.
    refused_copy(
        mapfile(0),
        |i| nth(i, RECORD_MM, 0) + 1,
        ErrorKind::OutOfOrder {
            expected: RECORD_VMA,
        },
    );
    refused_copy(
        mapfile(0),
        |i| nth(i, RECORD_TASK, 1),
        ErrorKind::OutOfOrder {
            expected: RECORD_TASK,
        },
    );
    // Optional for the validator: a file VMA without one is fine.
    let mut img = Img::sample14();
    let i = mapfile(0)(&img);
    img.recs.remove(i);
    check(&img.bytes()).unwrap();
}

// ---------------------------------------------------------------------------
// Encoder and streaming
// ---------------------------------------------------------------------------

#[test]
fn encoder_fdt_limits() {
    let mut e = Encoder::new(sample::header());
    e.header(&mut [0u8; HEADER_LEN]).unwrap();
    let mut buf = vec![0u8; 2 * FDATA_MAX_PAYLOAD];
    let f = of_kind(FileKind::Reg);
    let long = vec![b'/'; MAX_PATH_LEN + 1];
    for bad in [
        OpenFile { path: b"", ..f },
        OpenFile { path: &long, ..f },
        OpenFile { id: 0, ..f },
    ] {
        assert_eq!(e.file(&bad, &mut buf), Err(EncodeError::Limit));
    }
    assert_eq!(
        e.file(&f, &mut buf[..40]),
        Err(EncodeError::BufferTooSmall { needed: 96 })
    );
    assert_eq!(e.records(), 0);
    // FDATA: 1..=FDATA_MAX_CHUNK bytes.
    let big = vec![0u8; FDATA_MAX_CHUNK + 1];
    for d in [&big[..0], &big[..]] {
        let fd = FileData {
            file: 1,
            offset: 0,
            data: d,
        };
        assert_eq!(e.fdata(&fd, &mut buf), Err(EncodeError::Limit));
    }
    assert_eq!(e.fdata_begin(1, 0, 0, &mut buf), Err(EncodeError::Limit));
    let fd = FileData {
        file: 1,
        offset: 0,
        data: &big[..FDATA_MAX_CHUNK],
    };
    assert_eq!(
        e.fdata(&fd, &mut buf),
        Ok(RECORD_HEADER_LEN + FDATA_MAX_PAYLOAD)
    );
    // Streamed: data and padding, then the next record.
    assert_eq!(e.fdata_begin(1, 0, 13, &mut buf), Ok(32));
    assert_eq!(
        e.task(&sample::task(0, 100), &mut buf),
        Err(EncodeError::Sequence)
    );
    e.data(&[7; 13]).unwrap();
    assert_eq!(e.data(&[0; 4]), Err(EncodeError::Overrun));
    e.data(&[0; 3]).unwrap();
    assert!(e.task(&sample::task(0, 100), &mut buf).is_ok());
    // FDS: count and path lengths.
    let entries = vec![
        FdEntry {
            fd: 0,
            file: 1,
            flags: 0
        };
        MAX_FILES as usize + 1
    ];
    assert_eq!(
        e.fds(0, b"/", b"/", &entries, &mut buf),
        Err(EncodeError::Limit)
    );
    assert_eq!(e.fds(0, b"", b"/", &[], &mut buf), Err(EncodeError::Limit));
    assert_eq!(
        e.fds(0, b"/", &long, &[], &mut buf),
        Err(EncodeError::Limit)
    );
    assert_eq!(
        e.fds(0, b"/", b"/tmp", &entries[..2], &mut buf),
        Ok(16 + 16 + 32 + 16)
    );
    // MAPFILE.
    let m = MapFile {
        size: 1,
        mode: MODE_IFREG,
        file: 0,
    };
    assert_eq!(e.map_file(&m, &mut buf), Ok(32));
    assert_eq!(
        e.map_file(&m, &mut buf[..31]),
        Err(EncodeError::BufferTooSmall { needed: 32 })
    );
}

#[test]
fn fdata_streams_through_the_validator() {
    let b = sample14_bytes();
    let img = Img::sample14();
    let d = nth(&img, RECORD_FDATA, 0);
    let at = img.offset(d) as usize;
    let mut v = Validator::new();
    let mut pos = 0usize;
    // Feed everything up to the pipe's FDATA.
    v.feed_header(&b[..HEADER_LEN]).unwrap();
    pos += HEADER_LEN;
    while pos < at {
        match v.expect() {
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
            e => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(v.files(), 3);
    assert_eq!(v.data_chunk_left(), 0);
    v.feed_record_header(&b[pos..pos + 16]).unwrap();
    assert_eq!(v.expect(), Expect::Payload(FDATA_FIXED_LEN as u64));
    let r = v.feed_payload(&b[pos + 16..pos + 32]).unwrap();
    assert_eq!(
        r,
        Record::FileData(FileData {
            file: 3,
            offset: 0,
            data: &[]
        })
    );
    assert_eq!(v.expect(), Expect::Data(16));
    assert_eq!(v.data_chunk_left(), 13);
    let data = &b[pos + 32..pos + 48];
    assert_eq!(&data[..13], sample::SAMPLE_PIPE_DATA);
    // The padding cannot be only checksummed: it must be seen.
    let mut w = v.clone();
    let e = w
        .feed_data_crc(16, |st| Some(crc32c_raw(st, data)))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::WrongStep);
    let mut w = v.clone();
    assert_eq!(
        w.feed_data_crc(13, |st| Some(crc32c_raw(st, &data[..13]))),
        Ok(true)
    );
    assert_eq!(w.data_chunk_left(), 0);
    assert_eq!(w.expect(), Expect::Data(3));
    w.feed_data(&data[13..]).unwrap();
    assert_eq!(w.expect(), Expect::RecordHeader);
    // Byte by byte, then non-zero padding.
    for (k, x) in data[..15].iter().enumerate() {
        v.feed_data(&[*x]).unwrap();
        assert_eq!(v.data_chunk_left(), 13u64.saturating_sub(k as u64 + 1));
    }
    let e = v.feed_data(&[1]).unwrap_err();
    assert_eq!(
        (e.kind, e.record, e.offset),
        (ErrorKind::NonZeroPadding, RECORD_FDATA, at as u64)
    );
}

/// An image with one FILE per kind, written by the encoder alone, read back.
#[test]
fn encoder_image_round_trip() {
    let files = sample::files();
    let mut buf = vec![0u8; sample::SAMPLE_MAX_LEN];
    let n = sample::build(&mut buf).unwrap();
    let b = &buf[..n];
    let s = check(b).unwrap();
    assert_eq!(s.files, files.len() as u32);
    assert_eq!(s.total_bytes, n as u64);
    // The FDATA of the memfd: the streamed one and the whole one.
    let memfd: Vec<(u64, usize)> = items(b)
        .iter()
        .filter_map(|i| match i.record {
            Record::FileData(d) if d.file == 5 => Some((d.offset, d.data.len())),
            _ => None,
        })
        .collect();
    assert_eq!(
        memfd,
        [
            (0, sample::SAMPLE_MEMFD_CHUNK),
            (sample::SAMPLE_MEMFD_CHUNK as u64, 4)
        ]
    );
}

#[test]
fn error_display_names_the_field() {
    let cases = [
        (
            ErrorKind::BadOpenFlags { id: 2, flags: 3 },
            "FILE 2: flags 0o3: unknown bits or access mode 3",
        ),
        (
            ErrorKind::BadFilePos { id: 4, pos: 1 },
            "FILE 4: pos 1 not allowed for its kind",
        ),
        (
            ErrorKind::BadPipeSize {
                id: 3,
                pipe_size: 5,
            },
            "FILE 3: pipe_size 5 not a power of two in 4096..=2147483648 (or not 0 for its kind)",
        ),
        (
            ErrorKind::FileDataIncomplete {
                file: 3,
                missing: 13,
            },
            "FILE 3: data incomplete (13 bytes missing)",
        ),
        (
            ErrorKind::FdsBadFile { fd: 4, file: 10 },
            "fd 4: file 10 not a FILE id",
        ),
        (
            ErrorKind::BadUmask { umask: 0o1000 },
            "umask 0o1000 above 0o777",
        ),
        (
            ErrorKind::MapFileBadFile { file: 10, files: 9 },
            "MAPFILE file 10 above the FILE count 9",
        ),
        (
            ErrorKind::FilesInNewImage { minor: 4 },
            "FILES record in an image of version 1.4 (FDS replaces it)",
        ),
        (
            ErrorKind::FdataBadOffset {
                offset: 8,
                expected: 0,
            },
            "FDATA offset 8, expected 0",
        ),
    ];
    for (k, s) in cases {
        assert_eq!(std::format!("{k}"), s);
    }
    let e = Error {
        offset: 200,
        record: RECORD_FDS,
        kind: ErrorKind::BadCwd,
    };
    assert_eq!(
        std::format!("{e}"),
        "FDS (type 14) at offset 200: cwd not absolute, empty or with NUL"
    );
}
