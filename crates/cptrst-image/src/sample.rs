// SPDX-License-Identifier: GPL-2.0
//! A small valid image, built with the [`Encoder`]: a seed for the fuzzer
//! and the base of the tests.
//!
//! Four tasks: a root process (pid 100) with a thread (101), a child (102)
//! that is the init of a nested pid namespace, and a zombie child (103);
//! two address spaces (the root's, shared by its thread, with a file
//! mapping, a heap, a shared anonymous mapping and a stack; the child's,
//! with a vDSO, an anonymous mapping, the root's shared anonymous mapping
//! it inherited and one of its own, and in version 1.4 a shared mapping of
//! the root's memfd), seven pages in six runs. Each shared anonymous VMA has
//! an SHM record: id 1 for the object both mms map, id 2 for the child's
//! own.
//!
//! Open files come in two versions. [`build`] writes a 1.4 image: nine
//! FILE records ([`files`]: the terminal, a regular file, both ends of a
//! pipe with buffered data, a memfd with content and seals, a directory,
//! `/dev/null`, a deleted file with content, a FIFO with data), their FDATA
//! (the memfd's in two chunks, the first streamed), an FDS record for the
//! root (twelve fds) and the child (five: it shares the pipe's read end and
//! the memfd), none for the thread (it shares the root's table), and a
//! MAPFILE after each file VMA (the executable by path, the memfd by id).
//! [`build_v1_3`] writes the 1.3 image the older tests are written
//! against: a FILES record (five fds) for the root, an empty one for the
//! child, none for the thread (FILES is optional), and no memfd mapping.
//!
//! [`build`] writes a 1.5 image: the 1.4 one ([`build_v1_4`]) with, for
//! each live task, a THREAD ([`thread`]), a CREDS ([`creds`]) and a
//! SIGNALS ([`signals`]: the root has pending signals in both queues, its
//! thread one of its own, the child none), and for the root and the child
//! a PROCESS ([`process`]: limits, an armed ITIMER_REAL, handlers, three
//! POSIX timers for the root, one aimed at its thread); and the 1.5 VMA
//! flags on two VMAs ([`vmas_minor`]).
//!
//! [`build_live`] writes a live 1.6 image: two rounds of two round
//! sections each ([`live_rounds`]: the root's address space is src 1, the
//! child's src 2; the last section has no pages) between the header and
//! the TREE, then the 1.5 sample with its page runs replaced by
//! [`live_runs`]: PAGES and PREVPAGES interleaved in the private, heap and
//! stack VMAs, PAGES only in the shared ones. Every PREVPAGES page was
//! copied by a round of its src.

use crate::*;

extern crate alloc;
use alloc::vec::Vec;

/// Size of a buffer that holds any sample image (the live one included).
pub const SAMPLE_MAX_LEN: usize = 128 * 1024;
/// XCR0 of the sample (x87, SSE, AVX).
pub const SAMPLE_XCR0: u64 = 0x7;
/// xstate size of the sample (legacy area, XSAVE header, AVX).
pub const SAMPLE_XSTATE_SIZE: u32 = 832;
/// Executable of the root process.
pub const SAMPLE_EXE: &[u8] = b"/usr/bin/sample";

/// The sample's file header (version 1.5: [`build`]).
pub fn header() -> FileHeader {
    FileHeader {
        minor: VERSION_MINOR_SIG,
        ..header_live()
    }
}

/// The file header of the live sample ([`build_live`], version 1.6, the
/// version this code writes).
pub fn header_live() -> FileHeader {
    FileHeader::new(SAMPLE_XCR0, SAMPLE_XSTATE_SIZE, b"6.12.0-cptrst-sample")
}

/// The file header of the 1.4 sample ([`build_v1_4`]).
pub fn header_v1_4() -> FileHeader {
    FileHeader {
        minor: 4,
        ..header()
    }
}

/// The file header of the 1.3 sample ([`build_v1_3`]).
pub fn header_v1_3() -> FileHeader {
    FileHeader {
        minor: 3,
        ..header()
    }
}

fn entry(tgid: u32, ppid: u32, flags: u32, mm_id: u32, levels: &[u32]) -> TreeEntry {
    let mut pids = [0u32; MAX_PID_LEVELS];
    for (d, s) in pids.iter_mut().zip(levels) {
        *d = *s;
    }
    TreeEntry {
        flags,
        nr_levels: levels.len() as u32,
        tgid,
        ppid,
        pgid: 100,
        sid: 100,
        exit_code: if flags & TASK_ZOMBIE != 0 { 0x100 } else { 0 },
        exit_signal: if flags & TASK_THREAD != 0 { 0 } else { 17 },
        mm_id,
        pids,
    }
}

/// The sample's tree.
pub fn tree_entries() -> [TreeEntry; 4] {
    [
        entry(100, 0, 0, 1, &[100]),
        entry(100, 0, TASK_THREAD, 1, &[101]),
        entry(102, 100, 0, 2, &[102, 1]),
        entry(103, 100, TASK_ZOMBIE, 0, &[103]),
    ]
}

/// The sample's TASK record of task `index`.
pub fn task(index: u32, pid: u32) -> Task {
    let mut comm = [0u8; 16];
    comm[..6].copy_from_slice(b"sample");
    Task {
        index,
        pid,
        comm,
        uid: 1000,
        gid: 1000,
        euid: 1000,
        egid: 1000,
        suid: 1000,
        sgid: 1000,
        fsuid: 1000,
        fsgid: 1000,
        personality: 0,
        blocked: 1 << 9,
    }
}

/// The sample's registers of task `index`.
pub fn regs(index: u32) -> Regs {
    let mut a = [0u64; REGS_COUNT];
    for (i, r) in a.iter_mut().enumerate() {
        *r = (u64::from(index) << 32) | i as u64;
    }
    let mut r = Regs::from_array(a);
    r.ip = 0x40_1000;
    r.sp = 0x7fff_ffff_e000;
    r.cs = 0x33;
    r.ss = 0x2b;
    r.flags = 0x246;
    r
}

/// The sample's xstate of task `index`.
pub fn xstate(index: u32) -> [u8; SAMPLE_XSTATE_SIZE as usize] {
    let mut x = [0u8; SAMPLE_XSTATE_SIZE as usize];
    x[0..2].copy_from_slice(&0x37fu16.to_le_bytes()); // fcw
    x[24..28].copy_from_slice(&0x1f80u32.to_le_bytes()); // mxcsr
    for (i, b) in x[160..416].iter_mut().enumerate() {
        *b = (i as u8) ^ (index as u8); // xmm registers
    }
    x[512..520].copy_from_slice(&0x7u64.to_le_bytes()); // xstate_bv
    x
}

/// Path of the root's memfd mapping (a file VMA of the child).
pub const SAMPLE_MEMFD_VMA: &[u8] = b"/memfd:sample-memfd (deleted)";
/// The bytes buffered in the sample's pipe (FILE 3).
pub const SAMPLE_PIPE_DATA: &[u8] = b"hello, pipe!\n";
/// Size of the sample's memfd (FILE 5): more than one FDATA chunk of
/// [`SAMPLE_MEMFD_CHUNK`] bytes, the last not a multiple of 8.
pub const SAMPLE_MEMFD_SIZE: u64 = 4100;
/// Data bytes of the first FDATA record of the memfd.
pub const SAMPLE_MEMFD_CHUNK: usize = 4096;

const RDWR: u32 = OF_RDWR | OF_LARGEFILE;

/// The sample's FILE records (version 1.4), ids 1 to 9.
pub fn files() -> [OpenFile<'static>; 9] {
    let base = OpenFile {
        id: 0,
        kind: FileKind::Reg,
        flags: OF_RDONLY,
        mode: 0,
        pos: 0,
        size: 0,
        rdev_major: 0,
        rdev_minor: 0,
        pipe: 0,
        pipe_size: 0,
        seals: 0,
        data_len: 0,
        path: b"",
    };
    [
        OpenFile {
            id: 1,
            kind: FileKind::External,
            flags: RDWR,
            mode: MODE_IFCHR | 0o620,
            path: b"/dev/pts/0",
            ..base
        },
        OpenFile {
            id: 2,
            kind: FileKind::Reg,
            flags: OF_RDONLY | OF_LARGEFILE | OF_NOATIME,
            mode: MODE_IFREG | 0o644,
            pos: 123,
            size: 2000,
            path: b"/etc/passwd",
            ..base
        },
        OpenFile {
            id: 3,
            kind: FileKind::Pipe,
            flags: OF_RDONLY,
            mode: MODE_IFIFO | 0o600,
            pipe: 1,
            pipe_size: 65536,
            data_len: SAMPLE_PIPE_DATA.len() as u64,
            path: b"pipe:[4242]",
            ..base
        },
        OpenFile {
            id: 4,
            kind: FileKind::Pipe,
            flags: OF_WRONLY | OF_NONBLOCK,
            mode: MODE_IFIFO | 0o600,
            pipe: 1,
            pipe_size: 65536,
            path: b"pipe:[4242]",
            ..base
        },
        OpenFile {
            id: 5,
            kind: FileKind::Memfd,
            flags: RDWR,
            mode: MODE_IFREG | 0o777,
            pos: 17,
            size: SAMPLE_MEMFD_SIZE,
            seals: 0x1 | 0x4,
            data_len: SAMPLE_MEMFD_SIZE,
            path: b"sample-memfd",
            ..base
        },
        OpenFile {
            id: 6,
            kind: FileKind::Dir,
            flags: OF_RDONLY | OF_DIRECTORY | OF_LARGEFILE,
            mode: MODE_IFDIR | 0o1777,
            path: b"/tmp",
            ..base
        },
        OpenFile {
            id: 7,
            kind: FileKind::Chr,
            flags: RDWR | OF_APPEND,
            mode: MODE_IFCHR | 0o666,
            rdev_major: CHR_MEM_MAJOR,
            rdev_minor: CHR_MEM_NULL,
            path: b"/dev/null",
            ..base
        },
        OpenFile {
            id: 8,
            kind: FileKind::Deleted,
            flags: RDWR,
            mode: MODE_IFREG | 0o600,
            pos: 5,
            size: 5,
            data_len: 5,
            path: b"/tmp/gone",
            ..base
        },
        OpenFile {
            id: 9,
            kind: FileKind::Fifo,
            flags: OF_RDONLY | OF_NONBLOCK,
            mode: MODE_IFIFO | 0o644,
            pipe: 2,
            pipe_size: 4096,
            data_len: 3,
            path: b"/tmp/fifo",
            ..base
        },
    ]
}

/// Content byte `i` of FILE `id` (its FDATA).
pub fn file_byte(id: u32, i: u64) -> u8 {
    match id {
        3 => SAMPLE_PIPE_DATA
            .get(usize::try_from(i).unwrap_or(usize::MAX))
            .copied()
            .unwrap_or(0),
        _ => (i as u8).wrapping_mul(13) ^ (id as u8).wrapping_mul(0x51) | 1,
    }
}

/// An FDS record's parts: umask, root, cwd, entries.
pub type SampleFds = (u32, &'static [u8], &'static [u8], &'static [FdEntry]);

/// The FDS record of task `index` (`None`: no FDS record).
pub fn fds(index: u32) -> Option<SampleFds> {
    const fn fd(fd: u32, file: u32, flags: u32) -> FdEntry {
        FdEntry { fd, file, flags }
    }
    const C: u32 = FD_FLAG_CLOEXEC;
    const ROOT: [FdEntry; 12] = [
        fd(0, 1, 0),
        fd(1, 1, 0),
        fd(2, 1, 0),
        fd(3, 2, C),
        fd(4, 3, 0),
        fd(5, 4, 0),
        fd(6, 5, 0),
        fd(7, 6, C),
        fd(9, 7, 0),
        fd(10, 8, 0),
        fd(11, 9, C),
        fd(100, 4, C),
    ];
    const CHILD: [FdEntry; 5] = [
        fd(0, 1, 0),
        fd(1, 1, 0),
        fd(2, 1, 0),
        fd(4, 3, 0),
        fd(6, 5, C),
    ];
    match index {
        0 => Some((0o022, b"/", b"/tmp", &ROOT)),
        2 => Some((0o077, b"/", b"/", &CHILD)),
        _ => None,
    }
}

/// The MAPFILE record of VMA `vma` of mm `mm_id` in the 1.4 sample
/// (`None`: not a file VMA).
pub fn map_file(mm_id: u32, vma: usize) -> Option<MapFile> {
    match (mm_id, vma) {
        (1, 0) => Some(MapFile {
            size: 0x5000,
            mode: MODE_IFREG | 0o755,
            file: 0,
        }),
        (2, 4) => Some(MapFile {
            size: SAMPLE_MEMFD_SIZE,
            mode: MODE_IFREG | 0o777,
            file: 5,
        }),
        _ => None,
    }
}

/// The THREAD record of task `index` (1.5; a 1.4 image has none).
pub fn thread(index: u32) -> Thread {
    let base = 0x7f20_0000_0000 + (u64::from(index) << 16);
    Thread {
        clear_child_tid: base + 0x10,
        robust_list: base + 0x20,
        robust_list_len: 24,
        rseq: if index == 2 { 0 } else { base + 0x100 },
        rseq_len: if index == 2 { 0 } else { 32 },
        rseq_sig: if index == 2 { 0 } else { 0x5305_3053 },
    }
}

/// The supplementary groups of the root and its thread.
pub const SAMPLE_GROUPS: [u32; 3] = [27, 100, 1000];

/// The CREDS record of live task `index`: fixed part and groups. The root
/// and its thread: an ordinary user's (no capability but the full bounding
/// set, three groups); the child: a few capabilities (one ambient),
/// securebits, no_new_privs, no group.
pub fn creds(index: u32) -> (CredsHead, &'static [u32]) {
    if index == 2 {
        let net = (1 << 10) | (1 << 12); // CAP_NET_BIND_SERVICE, CAP_NET_ADMIN
        return (
            CredsHead {
                cap_inheritable: 1 << 10,
                cap_permitted: net,
                cap_effective: 1 << 12,
                cap_bset: net | (1 << 21),
                cap_ambient: 1 << 10,
                securebits: 0x3, // SECBIT_NOROOT and its lock
                flags: CREDS_NO_NEW_PRIVS,
            },
            &[],
        );
    }
    (
        CredsHead {
            cap_bset: CAP_VALID,
            ..CredsHead::default()
        },
        &SAMPLE_GROUPS,
    )
}

/// A pending signal entry: `signo`, `code`, then `si_pid`, `si_uid` and
/// `si_value` (user layout).
pub fn siginfo(signo: u32, code: i32, pid: u32, uid: u32, value: u64) -> [u8; SIGINFO_LEN] {
    let mut b = [0u8; SIGINFO_LEN];
    b[0..4].copy_from_slice(&signo.to_le_bytes());
    b[8..12].copy_from_slice(&code.to_le_bytes());
    b[16..20].copy_from_slice(&pid.to_le_bytes());
    b[20..24].copy_from_slice(&uid.to_le_bytes());
    b[24..32].copy_from_slice(&value.to_le_bytes());
    b
}

/// The SIGNALS record of live task `index`: fixed part and entries. The
/// root: an alternate stack in its heap, SIGUSR1 pending for itself, and
/// for the process two queued SIGRTMIN (`sigqueue`) and a SIGTERM; its
/// thread: no alternate stack, a SIGUSR2 from `tgkill`; the child: an
/// auto-disarming alternate stack, SIGKILL at its parent's death, nothing
/// pending.
pub fn signals(index: u32) -> (SignalsHead, Vec<[u8; SIGINFO_LEN]>) {
    let base = SignalsHead {
        timer_slack_ns: 50_000,
        ..SignalsHead::default()
    };
    match index {
        0 => (
            SignalsHead {
                altstack_sp: 0x60_1000,
                altstack_size: 0x2000,
                nprivate: 1,
                nshared: 3,
                ..base
            },
            alloc::vec![
                siginfo(10, 0, 1, 0, 0),
                siginfo(34, -1, 102, 1000, 0x1234),
                siginfo(34, -1, 102, 1000, 0x5678),
                siginfo(15, 0, 1, 0, 0),
            ],
        ),
        1 => (
            SignalsHead {
                altstack_flags: SS_DISABLE,
                nprivate: 1,
                ..base
            },
            alloc::vec![siginfo(12, -6, 100, 1000, 0)],
        ),
        _ => (
            SignalsHead {
                altstack_sp: 0x7f10_0000_0000,
                altstack_size: 0x1000,
                altstack_flags: SS_AUTODISARM,
                pdeath_signal: SIGKILL,
                timer_slack_ns: 1,
                ..base
            },
            Vec::new(),
        ),
    }
}

/// The root's POSIX timers: a periodic one on `CLOCK_MONOTONIC`, a
/// disarmed one aimed at its thread (pid 101), a `SIGEV_NONE` one.
pub const SAMPLE_TIMERS: [PosixTimer; 3] = [
    PosixTimer {
        id: 0,
        clock: CLOCK_MONOTONIC,
        notify: SIGEV_SIGNAL,
        signo: 34,
        value: 7,
        tid: 0,
        value_ns: 250_000_000,
        interval_ns: 1_000_000_000,
        overrun_last: 0,
    },
    PosixTimer {
        id: 2,
        clock: CLOCK_REALTIME,
        notify: SIGEV_THREAD_ID,
        signo: 12,
        value: 0xdead_beef,
        tid: 101,
        value_ns: 0,
        interval_ns: 0,
        overrun_last: 0,
    },
    PosixTimer {
        id: 5,
        clock: CLOCK_BOOTTIME,
        notify: SIGEV_NONE,
        signo: 0,
        value: 0,
        tid: 0,
        value_ns: 5_000_000_000,
        interval_ns: 0,
        overrun_last: 3,
    },
];

/// The PROCESS record of live task `index` (`None`: a thread). The root:
/// usual limits, an armed periodic ITIMER_REAL, a SIGUSR1 handler with
/// `SA_SIGINFO`, SIGPIPE ignored, `SA_NOCLDSTOP` for SIGCHLD, a child
/// subreaper, its three timers; the child: unlimited limits, no timer,
/// not dumpable, THP disabled and `mlockall(MCL_FUTURE | MCL_ONFAULT)`.
pub fn process(index: u32) -> Option<(ProcessHead, &'static [PosixTimer])> {
    let inf = Rlimit {
        cur: RLIM_INFINITY,
        max: RLIM_INFINITY,
    };
    let mut p = ProcessHead {
        rlimits: [inf; RLIMIT_COUNT],
        ..ProcessHead::default()
    };
    p.rlimits[RLIMIT_NOFILE] = Rlimit {
        cur: 1024,
        max: 4096,
    };
    match index {
        0 => {
            p.rlimits[3] = Rlimit {
                cur: 8 << 20,
                max: RLIM_INFINITY,
            }; // RLIMIT_STACK
            p.rlimits[4] = Rlimit { cur: 0, max: 0 }; // RLIMIT_CORE
            p.itimers[ITIMER_REAL] = Itimer {
                value_ns: 1_500_000_000,
                interval_ns: 1_000_000_000,
            };
            p.flags = PROC_CHILD_SUBREAPER;
            p.dumpable = 1;
            p.sigactions[9] = SigAction {
                handler: 0x40_1100,
                flags: SA_SIGINFO | SA_RESTORER | SA_RESTART | SA_ONSTACK,
                restorer: 0x40_1200,
                mask: 1 << (15 - 1),
            };
            p.sigactions[12] = SigAction {
                handler: SIG_IGN,
                ..SigAction::default()
            };
            p.sigactions[16] = SigAction {
                flags: SA_NOCLDSTOP | SA_RESTORER,
                restorer: 0x40_1200,
                ..SigAction::default()
            };
            Some((p, &SAMPLE_TIMERS))
        }
        2 => {
            p.flags = PROC_THP_DISABLE | PROC_MLOCK_FUTURE | PROC_MLOCK_ONFAULT;
            Some((p, &[]))
        }
        _ => None,
    }
}

/// The 1.3 sample's FILES entries of task `index` (`None`: no FILES record).
pub fn files_v1_3(index: u32) -> Option<&'static [FileEntry]> {
    const ROOT: [FileEntry; 5] = [
        FileEntry {
            fd: 0,
            kind: FILE_KIND_CHR,
        },
        FileEntry {
            fd: 1,
            kind: FILE_KIND_CHR,
        },
        FileEntry {
            fd: 2,
            kind: FILE_KIND_CHR,
        },
        FileEntry {
            fd: 3,
            kind: FILE_KIND_REG,
        },
        FileEntry {
            fd: 7,
            kind: FILE_KIND_FIFO,
        },
    ];
    match index {
        0 => Some(&ROOT),
        2 => Some(&[]),
        _ => None,
    }
}

/// Auxv words of the root's mm (AT_PAGESZ, AT_NULL).
pub const AUXV1: [u64; 4] = [6, 4096, AT_NULL, 0];
/// Auxv words of the child's mm (AT_NULL only).
pub const AUXV2: [u64; 2] = [AT_NULL, 0];

const RW: u32 = PROT_READ | PROT_WRITE;
const MAY: u32 = VMA_MAYREAD | VMA_MAYWRITE | VMA_MAYEXEC;

/// The sample's MM records, in order.
pub fn mms() -> [Mm<'static>; 2] {
    let [a, b] = mms_v1_3();
    [a, Mm { nr_vmas: 5, ..b }]
}

/// The 1.3 sample's MM records, in order.
pub fn mms_v1_3() -> [Mm<'static>; 2] {
    let base = Mm {
        mm_id: 1,
        nr_vmas: 4,
        start_code: 0x40_0000,
        end_code: 0x40_1800,
        start_data: 0x60_0000,
        end_data: 0x60_0100,
        start_brk: 0x60_1000,
        brk: 0x60_3000,
        start_stack: 0x7fff_ffff_e800,
        arg_start: 0x7fff_ffff_ef00,
        arg_end: 0x7fff_ffff_ef10,
        env_start: 0x7fff_ffff_ef10,
        env_end: 0x7fff_ffff_ef80,
        auxv: Auxv::from_words(&AUXV1).expect("valid auxv"),
        exe_path: SAMPLE_EXE,
    };
    let child = Mm {
        mm_id: 2,
        nr_vmas: 4,
        auxv: Auxv::from_words(&AUXV2).expect("valid auxv"),
        exe_path: b"",
        ..base
    };
    [base, child]
}

/// The shared anonymous mapping of the root, inherited by the child.
const SHARED: Vma<'static> = Vma {
    start: 0x7ff0_0000_0000,
    end: 0x7ff0_0000_2000,
    pgoff: 0,
    prot: RW,
    flags: MAY,
    kind: VmaKind::SharedAnon,
    path: b"",
};

/// The VMAs of mm `mm_id` (1 or 2) of the 1.4 sample, in order.
pub fn vmas(mm_id: u32) -> &'static [Vma<'static>] {
    const V2_14: [Vma<'static>; 5] = {
        let v = vmas_v1_3_const(2);
        [
            v[0],
            v[1],
            v[2],
            v[3],
            Vma {
                start: 0x7ff0_0002_0000,
                end: 0x7ff0_0002_2000,
                pgoff: 0,
                prot: RW,
                flags: MAY,
                kind: VmaKind::FileShared,
                path: SAMPLE_MEMFD_VMA,
            },
        ]
    };
    if mm_id == 1 {
        vmas_v1_3(1)
    } else {
        &V2_14
    }
}

/// The VMAs of mm `mm_id` (1 or 2) of the sample of version 1.`minor`
/// (3, 4 or 5), in order: in 1.5, the root's heap is locked on fault
/// and the child's anonymous mapping is wiped on fork.
pub fn vmas_minor(mm_id: u32, minor: u16) -> Vec<Vma<'static>> {
    let mut v = if minor >= VERSION_MINOR_FDT {
        vmas(mm_id).to_vec()
    } else {
        vmas_v1_3(mm_id).to_vec()
    };
    if minor >= VERSION_MINOR_SIG {
        let (i, f) = if mm_id == 1 {
            (1, VMA_LOCKED | VMA_LOCKONFAULT)
        } else {
            (1, VMA_WIPEONFORK)
        };
        v[i].flags |= f;
    }
    v
}

/// The VMAs of mm `mm_id` (1 or 2) of the 1.3 sample, in order.
pub fn vmas_v1_3(mm_id: u32) -> &'static [Vma<'static>] {
    if mm_id == 1 {
        &V1
    } else {
        &V2
    }
}

const fn vmas_v1_3_const(mm_id: u32) -> [Vma<'static>; 4] {
    if mm_id == 1 {
        V1
    } else {
        V2
    }
}

const V1: [Vma<'static>; 4] = [
    Vma {
        start: 0x40_0000,
        end: 0x40_2000,
        pgoff: 0,
        prot: PROT_READ | PROT_EXEC,
        flags: MAY,
        kind: VmaKind::FilePrivate,
        path: SAMPLE_EXE,
    },
    Vma {
        start: 0x60_0000,
        end: 0x60_3000,
        pgoff: 0x600,
        prot: RW,
        flags: MAY,
        kind: VmaKind::Heap,
        path: b"",
    },
    SHARED,
    Vma {
        start: 0x7fff_fffd_e000,
        end: 0x7fff_ffff_f000,
        pgoff: 0x7_ffff_fffd,
        prot: RW,
        flags: MAY | VMA_GROWSDOWN,
        kind: VmaKind::Stack,
        path: b"",
    },
];

const V2: [Vma<'static>; 4] = [
    Vma {
        start: 0x7f00_0000_0000,
        end: 0x7f00_0000_2000,
        pgoff: 0,
        prot: PROT_READ | PROT_EXEC,
        flags: MAY,
        kind: VmaKind::Vdso,
        path: b"",
    },
    Vma {
        start: 0x7f10_0000_0000,
        end: 0x7f10_0000_1000,
        pgoff: 0x7f10_0000,
        prot: RW,
        flags: MAY | VMA_DONTFORK,
        kind: VmaKind::AnonPrivate,
        path: b"",
    },
    SHARED,
    Vma {
        start: 0x7ff0_0001_0000,
        end: 0x7ff0_0001_1000,
        pgoff: 0,
        prot: PROT_READ,
        flags: MAY,
        kind: VmaKind::SharedAnon,
        path: b"",
    },
];

/// Page runs `(addr, nr_pages)` of VMA `vma` of mm `mm_id`.
pub fn runs(mm_id: u32, vma: usize) -> &'static [(u64, u64)] {
    match (mm_id, vma) {
        (1, 0) => &[(0x40_0000, 1)],
        (1, 1) => &[(0x60_0000, 1), (0x60_1000, 2)],
        (1, 2) | (2, 2) => &[(0x7ff0_0000_0000, 1)],
        (2, 1) => &[(0x7f10_0000_0000, 1)],
        _ => &[],
    }
}

/// The SHM record of VMA `vma` of mm `mm_id` (`None`: the VMA is not
/// shared anonymous memory).
pub fn shm(mm_id: u32, vma: usize) -> Option<Shm> {
    match (mm_id, vma) {
        (1, 2) | (2, 2) => Some(Shm { id: 1 }),
        (2, 3) => Some(Shm { id: 2 }),
        _ => None,
    }
}

/// Content byte `i` of the page at `addr`.
pub fn page_byte(addr: u64, i: usize) -> u8 {
    ((addr >> 12) as u8).wrapping_mul(31) ^ (i as u8).wrapping_mul(7)
}

fn at(buf: &mut [u8], pos: usize) -> &mut [u8] {
    buf.get_mut(pos..).unwrap_or(&mut [])
}

/// Writes the 1.5 sample image into `buf` (at least [`SAMPLE_MAX_LEN`]
/// bytes); returns its length.
pub fn build(buf: &mut [u8]) -> Result<usize, EncodeError> {
    build_minor(buf, VERSION_MINOR_SIG)
}

/// Writes the 1.4 sample image (no THREAD, CREDS, SIGNALS, PROCESS nor
/// 1.5 VMA flags) into `buf`; returns its length.
pub fn build_v1_4(buf: &mut [u8]) -> Result<usize, EncodeError> {
    build_minor(buf, 4)
}

/// Writes the 1.3 sample image (FILES records, no FILE, FDS, MAPFILE nor
/// memfd mapping) into `buf`; returns its length.
pub fn build_v1_3(buf: &mut [u8]) -> Result<usize, EncodeError> {
    build_minor(buf, 3)
}

/// Writes the FILE records and their FDATA.
fn build_files(e: &mut Encoder, buf: &mut [u8], mut pos: usize) -> Result<usize, EncodeError> {
    for f in files() {
        pos += e.file(&f, at(buf, pos))?;
        let mut off = 0u64;
        while off < f.data_len {
            let left = (f.data_len - off) as usize;
            if f.id == 5 && off == 0 {
                // Streamed: header, then the caller writes the bytes.
                let n = left.min(SAMPLE_MEMFD_CHUNK);
                pos += e.fdata_begin(f.id, off, n, at(buf, pos))?;
                let dst = at(buf, pos)
                    .get_mut(..n)
                    .ok_or(EncodeError::BufferTooSmall { needed: pos + n })?;
                for (k, b) in dst.iter_mut().enumerate() {
                    *b = file_byte(f.id, off + k as u64);
                }
                e.data(dst)?;
                pos += n;
                off += n as u64;
                continue;
            }
            let n = left.min(SAMPLE_MEMFD_CHUNK);
            let mut data = [0u8; SAMPLE_MEMFD_CHUNK];
            for (k, b) in data[..n].iter_mut().enumerate() {
                *b = file_byte(f.id, off + k as u64);
            }
            let d = FileData {
                file: f.id,
                offset: off,
                data: &data[..n],
            };
            pos += e.fdata(&d, at(buf, pos))?;
            off += n as u64;
        }
    }
    Ok(pos)
}

/// Writes the 1.5 records of live task `i`: THREAD, CREDS, SIGNALS (the
/// root's streamed entry by entry, as the kernel may), PROCESS.
fn build_sig(
    e: &mut Encoder,
    buf: &mut [u8],
    mut pos: usize,
    i: u32,
) -> Result<usize, EncodeError> {
    pos += e.thread(&thread(i), at(buf, pos))?;
    let (c, groups) = creds(i);
    pos += e.creds(&c, groups, at(buf, pos))?;
    let (s, entries) = signals(i);
    if i == 0 {
        pos += e.signals_begin(&s, at(buf, pos))?;
        for en in &entries {
            pos += e.siginfo(en, at(buf, pos))?;
        }
    } else {
        pos += e.signals(&s, &entries, at(buf, pos))?;
    }
    if let Some((p, timers)) = process(i) {
        pos += e.process(&p, timers, at(buf, pos))?;
    }
    Ok(pos)
}

/// Writes a PAGES record of `n` pages at `addr`, byte `k` of page `a`
/// being `byte(a, k)`: whole from a separate data buffer when `whole`
/// (at most [`LIVE_MAX_RUN`] pages), else streamed (header, then the
/// caller writes page by page, checksumming every other page itself as
/// the module does for pages it writes straight from the process).
fn write_pages(
    e: &mut Encoder,
    buf: &mut [u8],
    mut pos: usize,
    (addr, n): (u64, u64),
    whole: bool,
    byte: impl Fn(u64, usize) -> u8,
) -> Result<usize, EncodeError> {
    let ps = PAGE_SIZE_X86_64 as usize;
    let len = n as usize * ps;
    if whole && n <= LIVE_MAX_RUN {
        let mut data = [0u8; LIVE_MAX_RUN as usize * 4096];
        for (k, b) in data[..len].iter_mut().enumerate() {
            *b = byte(addr + (k / ps * ps) as u64, k % ps);
        }
        let p = Pages {
            addr,
            nr_pages: n,
            data: &data[..len],
        };
        return Ok(pos + e.pages(&p, at(buf, pos))?);
    }
    pos += e.pages_begin(addr, n, at(buf, pos))?;
    for pg in 0..n as usize {
        let dst = at(buf, pos)
            .get_mut(..ps)
            .ok_or(EncodeError::BufferTooSmall { needed: pos + ps })?;
        let a = addr + (pg * ps) as u64;
        for (k, b) in dst.iter_mut().enumerate() {
            *b = byte(a, k);
        }
        if pg % 2 == 0 {
            e.data(dst)?;
        } else {
            e.data_with_crc(ps, |st| crate::crc32c_raw(st, dst))?;
        }
        pos += ps;
    }
    Ok(pos)
}

/// Most pages of a run [`write_pages`] writes whole.
const LIVE_MAX_RUN: u64 = 3;

/// Continues the stream with a fresh encoder ([`Encoder::resume`] from the
/// old one's offset, record count and raw CRC state) once `split` records
/// are written, as the module does between its calls. Called at record
/// boundaries only.
fn hop(e: &mut Encoder, split: Option<u64>) {
    if split == Some(e.records()) {
        *e = Encoder::resume(*e.file_header(), e.offset(), e.records(), e.crc_state());
    }
}

/// The live sample's round sections, in stream order: the ROUND record
/// and the page runs `(addr, nr_pages)` of its section.
pub fn live_rounds() -> [(Round, &'static [(u64, u64)]); 4] {
    [
        (
            Round {
                round: 1,
                src: 1,
                pid: 100,
            },
            &[(0x40_1000, 1), (0x60_0000, 3), (0x7fff_ffff_c000, 3)],
        ),
        (
            Round {
                round: 1,
                src: 2,
                pid: 102,
            },
            &[(0x7f10_0000_0000, 1)],
        ),
        (
            Round {
                round: 2,
                src: 1,
                pid: 100,
            },
            &[(0x60_2000, 1), (0x7fff_ffff_d000, 1)],
        ),
        (
            Round {
                round: 2,
                src: 2,
                pid: 102,
            },
            &[],
        ),
    ]
}

/// Content byte `i` of the page at `addr` as round `round` copied it.
pub fn round_page_byte(round: u32, addr: u64, i: usize) -> u8 {
    page_byte(addr, i) ^ (round as u8).wrapping_mul(0x5b)
}

/// The live sample's runs of VMA `vma` of mm `mm_id`: `(addr, nr_pages,
/// src)`, a PAGES record for src 0, else a PREVPAGES record of that src
/// (the root's mm is src 1, the child's src 2).
pub fn live_runs(mm_id: u32, vma: usize) -> &'static [(u64, u64, u32)] {
    match (mm_id, vma) {
        (1, 0) => &[(0x40_0000, 1, 0), (0x40_1000, 1, 1)],
        (1, 1) => &[(0x60_0000, 1, 1), (0x60_1000, 1, 0), (0x60_2000, 1, 1)],
        (1, 2) | (2, 2) => &[(0x7ff0_0000_0000, 1, 0)],
        (1, 3) => &[(0x7fff_ffff_c000, 2, 1), (0x7fff_ffff_e000, 1, 0)],
        (2, 1) => &[(0x7f10_0000_0000, 1, 2)],
        _ => &[],
    }
}

/// Writes the live sample image (version 1.6) into `buf` (at least
/// [`SAMPLE_MAX_LEN`] bytes); returns its length.
pub fn build_live(buf: &mut [u8]) -> Result<usize, EncodeError> {
    build_image(buf, VERSION_MINOR_LIVE, true, None)
}

/// [`build_live`], continuing the stream with a new encoder
/// ([`Encoder::resume`]) at the first record boundary where `split`
/// records are written: the same bytes.
pub fn build_live_split(buf: &mut [u8], split: u64) -> Result<usize, EncodeError> {
    build_image(buf, VERSION_MINOR_LIVE, true, Some(split))
}

fn build_minor(buf: &mut [u8], minor: u16) -> Result<usize, EncodeError> {
    build_image(buf, minor, false, None)
}

fn build_image(
    buf: &mut [u8],
    minor: u16,
    live: bool,
    split: Option<u64>,
) -> Result<usize, EncodeError> {
    let fdt = minor >= VERSION_MINOR_FDT;
    let sig = minor >= VERSION_MINOR_SIG;
    let mut e = Encoder::new(FileHeader { minor, ..header() });
    let mut pos = e.header(buf)?;
    hop(&mut e, split);
    if live {
        for (ri, (r, runs)) in live_rounds().iter().enumerate() {
            pos += e.round(r, at(buf, pos))?;
            hop(&mut e, split);
            for (k, &run) in runs.iter().enumerate() {
                let round = r.round;
                let byte = |a, i| round_page_byte(round, a, i);
                pos = write_pages(&mut e, buf, pos, run, (ri + k) % 2 == 0, byte)?;
                hop(&mut e, split);
            }
        }
    }
    let tree = tree_entries();
    // The tree, streamed entry by entry as the kernel does.
    pos += e.tree_begin(tree.len() as u32, at(buf, pos))?;
    for t in &tree {
        pos += e.tree_entry(t, at(buf, pos))?;
    }
    if fdt {
        pos = build_files(&mut e, buf, pos)?;
    }
    for (i, t) in tree.iter().enumerate() {
        let i = i as u32;
        hop(&mut e, split);
        pos += e.task(&task(i, t.pid()), at(buf, pos))?;
        if !t.is_zombie() {
            pos += e.regs(&regs(i), at(buf, pos))?;
            pos += e.fpu(&xstate(i), at(buf, pos))?;
            if fdt {
                if let Some((umask, root, cwd, entries)) = fds(i) {
                    pos += e.fds(umask, root, cwd, entries, at(buf, pos))?;
                }
            } else if let Some(f) = files_v1_3(i) {
                pos += e.files(f, at(buf, pos))?;
            }
            if sig {
                pos = build_sig(&mut e, buf, pos, i)?;
            }
        }
    }
    for mm in if fdt { mms() } else { mms_v1_3() } {
        hop(&mut e, split);
        pos += e.mm(&mm, at(buf, pos))?;
        let vs = vmas_minor(mm.mm_id, minor);
        for (vi, v) in vs.iter().enumerate() {
            hop(&mut e, split);
            pos += e.vma(v, at(buf, pos))?;
            if let Some(s) = shm(mm.mm_id, vi) {
                pos += e.shm(&s, at(buf, pos))?;
            }
            if let Some(m) = map_file(mm.mm_id, vi).filter(|_| fdt) {
                pos += e.map_file(&m, at(buf, pos))?;
            }
            if !live {
                for (ri, &run) in runs(mm.mm_id, vi).iter().enumerate() {
                    pos = write_pages(&mut e, buf, pos, run, ri == 0, page_byte)?;
                }
                continue;
            }
            for &(addr, nr_pages, src) in live_runs(mm.mm_id, vi) {
                hop(&mut e, split);
                if src == 0 {
                    pos = write_pages(&mut e, buf, pos, (addr, nr_pages), true, page_byte)?;
                } else {
                    let p = PrevPages {
                        addr,
                        nr_pages,
                        src,
                    };
                    pos += e.prev_pages(&p, at(buf, pos))?;
                }
            }
        }
    }
    hop(&mut e, split);
    pos += e.trailer(at(buf, pos))?;
    Ok(pos)
}

/// Runs the streaming [`Validator`] over `img` (tests and the fuzzer check
/// that it agrees with [`validate`] and the [`Reader`]), handing data in `chunk`-byte
/// pieces (for an odd `chunk`, checksummed by the caller through
/// [`Validator::feed_data_crc`]) and payloads from copies; returns the
/// kinds of the records.
pub fn validate_streaming(img: &[u8], chunk: usize) -> Result<(Summary, Vec<u32>), Error> {
    let mut v = Validator::new();
    let mut pos = 0usize;
    let mut kinds = Vec::new();
    loop {
        let rem = img.len() - pos;
        match v.expect() {
            Expect::Header => {
                let n = rem.min(HEADER_LEN);
                v.feed_header(&img[pos..pos + n])?;
                pos += n;
            }
            Expect::RecordHeader => {
                if rem == 0 {
                    return v.end_of_input().map(|s| (s, kinds));
                }
                let n = rem.min(RECORD_HEADER_LEN);
                let h = v.feed_record_header(&img[pos..pos + n])?;
                kinds.push(h.kind);
                pos += n;
            }
            Expect::Tree(n) => {
                let n = rem.min(n as usize);
                v.feed_tree(&img[pos..pos + n])?;
                pos += n;
            }
            Expect::Payload(n) => {
                let n = rem.min(n as usize);
                let copy = img[pos..pos + n].to_vec();
                v.feed_payload(&copy)?;
                pos += n;
            }
            Expect::Data(n) => {
                let n = rem.min(n as usize).min(chunk);
                if n == 0 {
                    return v.end_of_input().map(|s| (s, kinds));
                }
                // FDATA padding must be seen (checked zero), not just
                // checksummed.
                let n = if chunk % 2 == 1 && v.data_chunk_left() > 0 {
                    n.min(v.data_chunk_left() as usize)
                } else {
                    n
                };
                let d = &img[pos..pos + n];
                let fdata_pad = v.current().0.kind == RECORD_FDATA && v.data_chunk_left() == 0;
                if chunk % 2 == 1 && !fdata_pad {
                    // As the module's walk when it checksums in place.
                    if !v.feed_data_crc(n as u64, |st| Some(crate::crc32c_raw(st, d)))? {
                        unreachable!("feed_data_crc declined a checksum it was given");
                    }
                } else {
                    v.feed_data(d)?;
                }
                pos += n;
            }
            Expect::End => {
                if rem == 0 {
                    return v.end_of_input().map(|s| (s, kinds));
                }
                v.feed_record_header(&img[pos..pos + rem.min(16)])?;
                unreachable!("data after the trailer accepted");
            }
            Expect::Failed(e) => return Err(e),
        }
    }
}

/// Rewrites the trailer of `b` (if its framing allows) with the right
/// count, size and CRC32C.
pub fn fix_trailer(b: &mut [u8]) {
    if b.len() < HEADER_LEN + TRAILER_RECORD_LEN {
        return;
    }
    let t = b.len() - TRAILER_RECORD_LEN;
    let mut pos = HEADER_LEN;
    let mut count = 0u64;
    while pos < t {
        let Some(len) = b
            .get(pos + 8..pos + 16)
            .and_then(|l| l.try_into().ok())
            .map(u64::from_le_bytes)
        else {
            return;
        };
        pos = match (pos as u64)
            .checked_add(16)
            .and_then(|p| p.checked_add(len))
        {
            Some(p) if p <= t as u64 => p as usize,
            _ => return,
        };
        count += 1;
    }
    if pos != t {
        return;
    }
    let crc = crc32c(&b[..t]);
    let total = b.len() as u64;
    b[t + 16..t + 24].copy_from_slice(&count.to_le_bytes());
    b[t + 24..t + 32].copy_from_slice(&total.to_le_bytes());
    b[t + 32..t + 36].copy_from_slice(&crc.to_le_bytes());
}
