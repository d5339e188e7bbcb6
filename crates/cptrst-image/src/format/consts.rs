// SPDX-License-Identifier: GPL-2.0
//! The format's numbers: magic and versions, the header's fixed values,
//! record types and flags, limits, payload lengths, and the printable names
//! of record types and file kinds.

use super::records::regs;
#[cfg(doc)]
use super::{
    Creds, Encoder, Fds, FileData, FileKind, Files, MapFile, OpenFile, PosixTimer, PrevPages,
    Process, Round, SigAction, Signals, Thread, VmaKind,
};

/// File magic. The first byte is not ASCII (catches 7-bit transports), the
/// last is a line feed (catches CRLF conversion), as in PNG.
pub const MAGIC: [u8; 8] = *b"\x89CPTRST\n";
/// Major version this code reads and writes. A reader refuses other majors.
pub const VERSION_MAJOR: u16 = 1;
/// Minor version this code writes. Readers accept any minor of their major:
/// minor versions add record types (1.1: FILES, 1.2: SHM, 1.3: THREAD,
/// skippable; 1.4: FILE, FDATA, FDS, MAPFILE, must-understand, so older
/// readers refuse a 1.4 image that has them; 1.5: CREDS, SIGNALS, PROCESS,
/// must-understand, and THREAD required; 1.6: ROUND and PREVPAGES, the
/// live checkpoint's, must-understand).
/// A 1.0 image is valid and simply has no FILES or SHM records, a 1.1
/// image no SHM records. A 1.4 image has no FILES record (FDS replaces it),
/// an older one no FILE, FDATA, FDS or MAPFILE record. An image before 1.5
/// has no CREDS, SIGNALS or PROCESS record, nor the VMA flags
/// [`VMA_WIPEONFORK`] and [`VMA_LOCKONFAULT`]. An image before 1.6 has no
/// ROUND or PREVPAGES record; a 1.6 image without them is a 1.5 image.
pub const VERSION_MINOR: u16 = 6;
/// The first minor version with FILE, FDATA, FDS and MAPFILE records (and
/// without FILES).
pub const VERSION_MINOR_FDT: u16 = 4;
/// The first minor version with CREDS, SIGNALS and PROCESS records (and
/// THREAD required for every live task), and the VMA flags
/// [`VMA_WIPEONFORK`] and [`VMA_LOCKONFAULT`].
pub const VERSION_MINOR_SIG: u16 = 5;
/// The first minor version with ROUND and PREVPAGES records (a live
/// checkpoint's pages copied while the tree ran, and the references to
/// them).
pub const VERSION_MINOR_LIVE: u16 = 6;
/// Length of the file header, in bytes.
pub const HEADER_LEN: usize = 128;
/// Length of a record header, in bytes.
pub const RECORD_HEADER_LEN: usize = 16;
/// Alignment of every record and of every payload length, in bytes.
pub const ALIGN: usize = 8;

/// Architecture code of x86_64 (its ELF `e_machine`, `EM_X86_64`).
pub const ARCH_X86_64: u32 = 62;
/// The only page size valid on x86_64.
pub const PAGE_SIZE_X86_64: u32 = 4096;
/// Length of the kernel release field (NUL-padded `utsname()->release`).
pub const KERNEL_RELEASE_LEN: usize = 64;
/// Header flags defined by version 1 (none).
pub const HEADER_FLAGS_KNOWN: u32 = 0;
/// XCR0 bits every image must have: x87 and SSE.
pub const XCR0_REQUIRED: u64 = 0x3;
/// Smallest xstate size: 512-byte legacy area plus the 64-byte XSAVE header.
pub const MIN_XSTATE_SIZE: u32 = 576;
/// Largest xstate size accepted.
pub const MAX_XSTATE_SIZE: u32 = 65536;
/// Offset of the XSAVE header in the standard (user ABI) XSAVE layout.
pub const XSAVE_HEADER_OFFSET: usize = 512;
/// Address of the first byte above x86_64 user space (4-level paging).
pub const USER_SPACE_LIMIT: u64 = 0x0000_8000_0000_0000;

/// Record type: the process tree. Exactly one, first.
pub const RECORD_TREE: u32 = 1;
/// Record type: one task's identity, credentials and signal mask.
pub const RECORD_TASK: u32 = 2;
/// Record type: one task's general registers (`user_regs_struct`).
pub const RECORD_REGS: u32 = 3;
/// Record type: one task's FPU/extended state (standard XSAVE layout).
pub const RECORD_FPU: u32 = 4;
/// Record type: one address space (mm): layout, auxv, executable.
pub const RECORD_MM: u32 = 5;
/// Record type: one VMA of the current mm.
pub const RECORD_VMA: u32 = 6;
/// Record type: a run of pages of the current VMA.
pub const RECORD_PAGES: u32 = 7;
/// Record type: the trailer (counts and CRC32C). Exactly one, last.
pub const RECORD_TRAILER: u32 = 8;
/// Record type (version 1.1): one live task's open file descriptors.
/// Optional, at most one per live task, right after its FPU record.
/// Skippable: [`RECORD_FLAG_MUST_UNDERSTAND`] is clear.
pub const RECORD_FILES: u32 = 9;
/// Record type (version 1.2): the shmem object a shared anonymous VMA maps.
/// Optional, at most one per VMA of kind [`VmaKind::SharedAnon`], right
/// after it (before its PAGES). Skippable: [`RECORD_FLAG_MUST_UNDERSTAND`]
/// is clear.
pub const RECORD_SHM: u32 = 10;
/// Record type (version 1.3): a live task's per-thread kernel state
/// ([`Thread`]). Optional, at most one per live task, after its FPU (and
/// FILES, if any). Skippable: [`RECORD_FLAG_MUST_UNDERSTAND`] is clear.
pub const RECORD_THREAD: u32 = 11;
/// Record type (version 1.4): one open file object ([`OpenFile`]), ids 1,
/// 2, ... consecutive, all after the TREE and before the first TASK.
/// Must-understand.
pub const RECORD_FILE: u32 = 12;
/// Record type (version 1.4): a chunk of the content of the FILE before it
/// ([`FileData`]). Must-understand.
pub const RECORD_FDATA: u32 = 13;
/// Record type (version 1.4): a live thread group leader's fd table and fs
/// context ([`Fds`]), in the FILES slot (after FPU, before THREAD).
/// Must-understand.
pub const RECORD_FDS: u32 = 14;
/// Record type (version 1.4): what the file of the file VMA before it must
/// be ([`MapFile`]), before its PAGES. Must-understand.
pub const RECORD_MAPFILE: u32 = 15;

/// Record type (version 1.5): a live task's credentials beyond the TASK
/// record's ids ([`Creds`]: capability sets, securebits, no_new_privs,
/// supplementary groups), after its THREAD. Required for every live task
/// of a 1.5 image. Must-understand.
pub const RECORD_CREDS: u32 = 16;
/// Record type (version 1.5): a live task's signal state ([`Signals`]:
/// alternate stack, parent-death signal, timer slack, pending signals),
/// right after its CREDS. Required for every live task of a 1.5 image.
/// Must-understand.
pub const RECORD_SIGNALS: u32 = 17;
/// Record type (version 1.5): a live thread group's process-wide state
/// ([`Process`]: resource limits, interval timers, signal dispositions,
/// POSIX timers, prctl flags), right after its leader's SIGNALS. Required
/// for every live thread group leader of a 1.5 image, refused for a
/// thread. Must-understand.
pub const RECORD_PROCESS: u32 = 18;

/// Record type (version 1.6): the start of a live checkpoint's round
/// section ([`Round`]): the PAGES records after it, up to the next ROUND or
/// the TREE, are pages of one address space (`src`) copied while the tree
/// ran. Only between the file header and the TREE. Must-understand.
pub const RECORD_ROUND: u32 = 19;
/// Record type (version 1.6): pages of the current VMA whose content is
/// their latest copy in the ROUND sections of a source ([`PrevPages`]),
/// among the VMA's PAGES records. Must-understand.
pub const RECORD_PREVPAGES: u32 = 20;

/// Record flag: a reader that does not know the record type must refuse the
/// image. Set on every record type of versions 1.0, 1.4, 1.5 and 1.6; clear on the
/// records versions 1.1 to 1.3 add (FILES, SHM, THREAD), which older
/// readers skip. Each known type has exactly one valid flags value:
/// [`record_flags`].
pub const RECORD_FLAG_MUST_UNDERSTAND: u32 = 1;
/// Record flags defined by version 1.
pub const RECORD_FLAGS_KNOWN: u32 = RECORD_FLAG_MUST_UNDERSTAND;

/// Most tasks (threads included) in one image.
pub const MAX_TASKS: u32 = 4096;
/// Most pid-namespace levels of one task.
pub const MAX_PID_LEVELS: usize = 32;
/// Largest pid (`PID_MAX_LIMIT` on 64-bit).
pub const PID_MAX_LIMIT: u32 = 4 * 1024 * 1024;
/// Largest signal number (`_NSIG`).
pub const MAX_SIGNAL: u32 = 64;
/// Most VMAs in one mm.
pub const MAX_VMAS: u32 = 65536;
/// Longest path (executable, mapped file), in bytes, without a NUL.
pub const MAX_PATH_LEN: usize = 4096;
/// Most auxiliary vector entries of one mm, the `AT_NULL` one included.
pub const MAX_AUXV: usize = 64;
/// Most pages in one PAGES record.
pub const MAX_PAGES_PER_RUN: u64 = 1 << 18;
/// Most entries in one FILES or FDS record; most FILE records in an image.
pub const MAX_FILES: u32 = 65536;
/// File descriptors are below this (`NR_OPEN`, the kernel's ceiling of
/// `fs.nr_open`).
pub const FD_LIMIT: u32 = 1 << 30;

/// `open(2)` access mode mask (`O_ACCMODE`; the value 3 is invalid).
pub const OF_ACCMODE: u32 = 3;
/// Access mode `O_RDONLY`.
pub const OF_RDONLY: u32 = 0;
/// Access mode `O_WRONLY`.
pub const OF_WRONLY: u32 = 1;
/// Access mode `O_RDWR`.
pub const OF_RDWR: u32 = 2;
/// `O_APPEND`.
pub const OF_APPEND: u32 = 0o2000;
/// `O_NONBLOCK`.
pub const OF_NONBLOCK: u32 = 0o4000;
/// `O_DSYNC`.
pub const OF_DSYNC: u32 = 0o10000;
/// `FASYNC` (`O_ASYNC`).
pub const OF_ASYNC: u32 = 0o20000;
/// `O_DIRECT`.
pub const OF_DIRECT: u32 = 0o40000;
/// `O_LARGEFILE`.
pub const OF_LARGEFILE: u32 = 0o100000;
/// `O_DIRECTORY` (only for [`FileKind::Dir`]).
pub const OF_DIRECTORY: u32 = 0o200000;
/// `O_NOFOLLOW`.
pub const OF_NOFOLLOW: u32 = 0o400000;
/// `O_NOATIME`.
pub const OF_NOATIME: u32 = 0o1000000;
/// `__O_SYNC` (with [`OF_DSYNC`], `O_SYNC`).
pub const OF_SYNC: u32 = 0o4000000;
/// `O_PATH` (only for [`FileKind::Reg`] and [`FileKind::Dir`]).
pub const OF_PATH: u32 = 0o10000000;
/// The `open(2)` flags a FILE record may have (the dump masks `f_flags` to
/// them: `O_CLOEXEC`, `O_CREAT`, `__O_TMPFILE`... never appear).
pub const OPEN_FLAGS_KNOWN: u32 = OF_ACCMODE
    | OF_APPEND
    | OF_NONBLOCK
    | OF_DSYNC
    | OF_ASYNC
    | OF_DIRECT
    | OF_LARGEFILE
    | OF_DIRECTORY
    | OF_NOFOLLOW
    | OF_NOATIME
    | OF_SYNC
    | OF_PATH;

/// `st_mode` file type mask (`S_IFMT`).
pub const MODE_IFMT: u32 = 0o170000;
/// `st_mode` type: socket.
pub const MODE_IFSOCK: u32 = 0o140000;
/// `st_mode` type: regular file.
pub const MODE_IFREG: u32 = 0o100000;
/// `st_mode` type: block device.
pub const MODE_IFBLK: u32 = 0o060000;
/// `st_mode` type: directory.
pub const MODE_IFDIR: u32 = 0o040000;
/// `st_mode` type: character device.
pub const MODE_IFCHR: u32 = 0o020000;
/// `st_mode` type: FIFO (and pipe).
pub const MODE_IFIFO: u32 = 0o010000;
/// `st_mode` permission bits (setuid, setgid, sticky and rwx).
pub const MODE_PERM: u32 = 0o7777;

/// The major of the memory character devices (`/dev/null`...).
pub const CHR_MEM_MAJOR: u32 = 1;
/// Minor of `/dev/null`.
pub const CHR_MEM_NULL: u32 = 3;
/// Minor of `/dev/zero`.
pub const CHR_MEM_ZERO: u32 = 5;
/// Minor of `/dev/full`.
pub const CHR_MEM_FULL: u32 = 7;
/// Minor of `/dev/random`.
pub const CHR_MEM_RANDOM: u32 = 8;
/// Minor of `/dev/urandom`.
pub const CHR_MEM_URANDOM: u32 = 9;

/// Fd flag of an FDS entry: close on exec (`FD_CLOEXEC`).
pub const FD_FLAG_CLOEXEC: u32 = 1;
/// Fd flags an FDS entry may have.
pub const FD_FLAGS_KNOWN: u32 = FD_FLAG_CLOEXEC;
/// Memfd seals a FILE may have (`F_SEAL_SEAL` to `F_SEAL_EXEC`).
pub const SEALS_KNOWN: u32 = 0x3f;
/// Largest content of a Memfd or Deleted FILE, in bytes.
pub const MAX_FILE_DATA: u64 = 1 << 36;
/// Largest pipe capacity (`pipe_size`), in bytes.
pub const MAX_PIPE_SIZE: u32 = 1 << 31;
/// Longest memfd name (after `memfd:`), in bytes (`MFD_NAME_MAX_LEN`).
pub const MAX_MEMFD_NAME: usize = 249;
/// Most data bytes in one FDATA record.
pub const FDATA_MAX_CHUNK: usize = 1 << 20;

/// FILES entry kind: regular file (`S_ISREG`; memfds included).
pub const FILE_KIND_REG: u32 = 1;
/// FILES entry kind: directory (`S_ISDIR`).
pub const FILE_KIND_DIR: u32 = 2;
/// FILES entry kind: pipe or FIFO (`S_ISFIFO`).
pub const FILE_KIND_FIFO: u32 = 3;
/// FILES entry kind: socket (`S_ISSOCK`).
pub const FILE_KIND_SOCK: u32 = 4;
/// FILES entry kind: character device (`S_ISCHR`; terminals, `/dev/null`).
pub const FILE_KIND_CHR: u32 = 5;
/// FILES entry kind: block device (`S_ISBLK`).
pub const FILE_KIND_BLK: u32 = 6;
/// FILES entry kind: anything else (anonymous inodes: eventfd, epoll,
/// signalfd, timerfd...).
pub const FILE_KIND_OTHER: u32 = 7;

/// Tree entry flag: the task is not its thread group's leader.
pub const TASK_THREAD: u32 = 1 << 0;
/// Tree entry flag: the task is a zombie (exited, not reaped).
pub const TASK_ZOMBIE: u32 = 1 << 1;
/// Tree entry flags defined by version 1.
pub const TASK_FLAGS_KNOWN: u32 = TASK_THREAD | TASK_ZOMBIE;

/// VMA protection: readable.
pub const PROT_READ: u32 = 1;
/// VMA protection: writable.
pub const PROT_WRITE: u32 = 2;
/// VMA protection: executable.
pub const PROT_EXEC: u32 = 4;
/// VMA protection bits defined by version 1.
pub const PROT_KNOWN: u32 = PROT_READ | PROT_WRITE | PROT_EXEC;

/// VMA flag: grows down (`VM_GROWSDOWN`).
pub const VMA_GROWSDOWN: u32 = 1 << 0;
/// VMA flag: locked (`VM_LOCKED`).
pub const VMA_LOCKED: u32 = 1 << 1;
/// VMA flag: not copied on fork (`VM_DONTCOPY`).
pub const VMA_DONTFORK: u32 = 1 << 2;
/// VMA flag: excluded from core dumps (`VM_DONTDUMP`).
pub const VMA_DONTDUMP: u32 = 1 << 3;
/// VMA flag: no swap reservation (`VM_NORESERVE`).
pub const VMA_NORESERVE: u32 = 1 << 4;
/// VMA flag: may be made readable (`VM_MAYREAD`).
pub const VMA_MAYREAD: u32 = 1 << 5;
/// VMA flag: may be made writable (`VM_MAYWRITE`).
pub const VMA_MAYWRITE: u32 = 1 << 6;
/// VMA flag: may be made executable (`VM_MAYEXEC`).
pub const VMA_MAYEXEC: u32 = 1 << 7;
/// VMA flag (version 1.5): wiped on fork (`VM_WIPEONFORK`,
/// `MADV_WIPEONFORK`).
pub const VMA_WIPEONFORK: u32 = 1 << 8;
/// VMA flag (version 1.5): locked on fault (`VM_LOCKONFAULT`, `mlock2(2)`
/// with `MLOCK_ONFAULT`); only together with [`VMA_LOCKED`].
pub const VMA_LOCKONFAULT: u32 = 1 << 9;
/// VMA flags defined by versions 1.0 to 1.4.
pub const VMA_FLAGS_KNOWN: u32 = 0xff;
/// VMA flags defined by version 1.5 ([`VMA_FLAGS_KNOWN`],
/// [`VMA_WIPEONFORK`], [`VMA_LOCKONFAULT`]).
pub const VMA_FLAGS_KNOWN_SIG: u32 = VMA_FLAGS_KNOWN | VMA_WIPEONFORK | VMA_LOCKONFAULT;

/// The highest capability number (`CAP_LAST_CAP`, `CAP_CHECKPOINT_RESTORE`).
pub const CAP_LAST_CAP: u32 = 40;
/// The bits a capability set may have (capabilities 0..=[`CAP_LAST_CAP`]).
pub const CAP_VALID: u64 = (1 << (CAP_LAST_CAP + 1)) - 1;
/// The `SECBIT_*` bits a CREDS record's `securebits` may have (the four
/// flags and their locks).
pub const SECUREBITS_KNOWN: u32 = 0xff;
/// CREDS flag: `no_new_privs` is set (`PR_SET_NO_NEW_PRIVS`).
pub const CREDS_NO_NEW_PRIVS: u32 = 1;
/// CREDS flags defined by version 1.5.
pub const CREDS_FLAGS_KNOWN: u32 = CREDS_NO_NEW_PRIVS;
/// Most supplementary groups of one task (`NGROUPS_MAX`).
pub const MAX_GROUPS: u32 = 65536;

/// `sas_ss_flags` mode: no alternate stack (`SS_DISABLE`).
pub const SS_DISABLE: u32 = 2;
/// `sas_ss_flags` mode `SS_ONSTACK`, as `sigaltstack(2)` stores it when
/// given (an enabled stack, like 0).
pub const SS_ONSTACK: u32 = 1;
/// `sas_ss_flags` bit: disarm the stack while a handler runs on it
/// (`SS_AUTODISARM`).
pub const SS_AUTODISARM: u32 = 1 << 31;
/// Most pending signal entries of one task (its private queue and, for a
/// thread group leader, the shared one).
pub const MAX_PENDING: u32 = 8192;
/// The highest standard (non-realtime) signal: at most one entry of each
/// per queue.
pub const SIG_STANDARD_MAX: u32 = 31;
/// SIGKILL.
pub const SIGKILL: u32 = 9;
/// SIGSTOP.
pub const SIGSTOP: u32 = 19;
/// Bytes of a siginfo entry the kernel's `kernel_siginfo` holds; the rest
/// of the [`SIGINFO_LEN`] bytes must be zero.
pub const KERNEL_SIGINFO_LEN: usize = 48;

/// Number of resource limits (`RLIM_NLIMITS`), indexed by `RLIMIT_*`.
pub const RLIMIT_COUNT: usize = 16;
/// `RLIMIT_NOFILE`.
pub const RLIMIT_NOFILE: usize = 7;
/// An unlimited resource limit (`RLIM_INFINITY`).
pub const RLIM_INFINITY: u64 = u64::MAX;
/// Largest `RLIMIT_NOFILE` (the kernel's ceiling of `fs.nr_open`).
pub const MAX_NOFILE: u64 = 1 << 30;
/// Number of interval timers (`ITIMER_REAL`, `ITIMER_VIRTUAL`,
/// `ITIMER_PROF`).
pub const ITIMER_COUNT: usize = 3;
/// `ITIMER_REAL`.
pub const ITIMER_REAL: usize = 0;
/// `ITIMER_VIRTUAL`.
pub const ITIMER_VIRTUAL: usize = 1;
/// `ITIMER_PROF`.
pub const ITIMER_PROF: usize = 2;
/// Largest time (remaining or interval) of a timer, in nanoseconds.
pub const MAX_TIME_NS: u64 = 1 << 62;
/// PROCESS flag: a child subreaper (`PR_SET_CHILD_SUBREAPER`).
pub const PROC_CHILD_SUBREAPER: u32 = 1;
/// PROCESS flag: transparent huge pages disabled (`PR_SET_THP_DISABLE`).
pub const PROC_THP_DISABLE: u32 = 2;
/// PROCESS flag: future mappings locked (`mlockall(MCL_FUTURE)`).
pub const PROC_MLOCK_FUTURE: u32 = 4;
/// PROCESS flag: with [`PROC_MLOCK_FUTURE`], locked on fault
/// (`MCL_ONFAULT`); only together with it.
pub const PROC_MLOCK_ONFAULT: u32 = 8;
/// PROCESS flags defined by version 1.5.
pub const PROC_FLAGS_KNOWN: u32 =
    PROC_CHILD_SUBREAPER | PROC_THP_DISABLE | PROC_MLOCK_FUTURE | PROC_MLOCK_ONFAULT;
/// Largest `dumpable` value (`SUID_DUMP_ROOT`).
pub const MAX_DUMPABLE: u32 = 2;
/// Most POSIX timers of one process.
pub const MAX_TIMERS: u32 = 4096;
/// POSIX timer ids are below this.
pub const MAX_TIMER_ID: u32 = 65536;
/// Largest source id of a live checkpoint (ROUND `src`, PREVPAGES `src`):
/// ids are 1..=this, one per address space of the tree.
pub const MAX_LIVE_SRCS: u32 = 4096;

/// Signal handler: the default action (`SIG_DFL`).
pub const SIG_DFL: u64 = 0;
/// Signal handler: ignore (`SIG_IGN`).
pub const SIG_IGN: u64 = 1;
/// `SA_NOCLDSTOP`.
pub const SA_NOCLDSTOP: u64 = 0x1;
/// `SA_NOCLDWAIT`.
pub const SA_NOCLDWAIT: u64 = 0x2;
/// `SA_SIGINFO`.
pub const SA_SIGINFO: u64 = 0x4;
/// `SA_UNSUPPORTED`.
pub const SA_UNSUPPORTED: u64 = 0x400;
/// `SA_EXPOSE_TAGBITS`.
pub const SA_EXPOSE_TAGBITS: u64 = 0x800;
/// `SA_RESTORER`.
pub const SA_RESTORER: u64 = 0x0400_0000;
/// `SA_ONSTACK`.
pub const SA_ONSTACK: u64 = 0x0800_0000;
/// `SA_RESTART`.
pub const SA_RESTART: u64 = 0x1000_0000;
/// `SA_NODEFER`.
pub const SA_NODEFER: u64 = 0x4000_0000;
/// `SA_RESETHAND`.
pub const SA_RESETHAND: u64 = 0x8000_0000;
/// The `sa_flags` bits a [`SigAction`] may have.
pub const SA_KNOWN: u64 = SA_NOCLDSTOP
    | SA_NOCLDWAIT
    | SA_SIGINFO
    | SA_UNSUPPORTED
    | SA_EXPOSE_TAGBITS
    | SA_RESTORER
    | SA_ONSTACK
    | SA_RESTART
    | SA_NODEFER
    | SA_RESETHAND;

/// `CLOCK_REALTIME`.
pub const CLOCK_REALTIME: i32 = 0;
/// `CLOCK_MONOTONIC`.
pub const CLOCK_MONOTONIC: i32 = 1;
/// `CLOCK_BOOTTIME`.
pub const CLOCK_BOOTTIME: i32 = 7;
/// `CLOCK_TAI`.
pub const CLOCK_TAI: i32 = 11;
/// Timer notification: a signal to the process (`SIGEV_SIGNAL`).
pub const SIGEV_SIGNAL: u32 = 0;
/// Timer notification: none (`SIGEV_NONE`).
pub const SIGEV_NONE: u32 = 1;
/// Timer notification bit: to the thread [`PosixTimer::tid`]
/// (`SIGEV_THREAD_ID`, with `SIGEV_SIGNAL`).
pub const SIGEV_THREAD_ID: u32 = 4;

/// Auxiliary vector key that ends the vector.
pub const AT_NULL: u64 = 0;

/// Length of one tree entry.
pub const TREE_ENTRY_LEN: usize = 168;
/// Length of the fixed part of a TREE payload (before the entries).
pub const TREE_FIXED_LEN: usize = 8;
/// Largest TREE payload.
pub const TREE_MAX_PAYLOAD: usize = TREE_FIXED_LEN + MAX_TASKS as usize * TREE_ENTRY_LEN;
/// Length of a TASK payload.
pub const TASK_PAYLOAD_LEN: usize = 72;
/// Number of registers in a REGS record ([`regs::COUNT`]; the layout is
/// in [`regs`]).
pub const REGS_COUNT: usize = regs::COUNT;
/// Length of a REGS payload.
pub const REGS_PAYLOAD_LEN: usize = REGS_COUNT * 8;
/// Length of the fixed part of an FPU payload (before the xstate).
pub const FPU_FIXED_LEN: usize = 8;
/// Length of the fixed part of an MM payload (before auxv and path).
pub const MM_FIXED_LEN: usize = 104;
/// Largest MM payload.
pub const MM_MAX_PAYLOAD: usize = MM_FIXED_LEN + MAX_AUXV * 16 + MAX_PATH_LEN;
/// Length of the fixed part of a VMA payload (before the path).
pub const VMA_FIXED_LEN: usize = 40;
/// Largest VMA payload.
pub const VMA_MAX_PAYLOAD: usize = VMA_FIXED_LEN + MAX_PATH_LEN;
/// Length of the fixed part of a PAGES payload (before the page data).
pub const PAGES_FIXED_LEN: usize = 16;
/// Length of a TRAILER payload.
pub const TRAILER_PAYLOAD_LEN: usize = 24;
/// Length of the whole trailer record.
pub const TRAILER_RECORD_LEN: usize = RECORD_HEADER_LEN + TRAILER_PAYLOAD_LEN;
/// Length of one FILES entry.
pub const FILE_ENTRY_LEN: usize = 8;
/// Length of the fixed part of a FILES payload (before the entries).
pub const FILES_FIXED_LEN: usize = 8;
/// Largest FILES payload.
pub const FILES_MAX_PAYLOAD: usize = FILES_FIXED_LEN + MAX_FILES as usize * FILE_ENTRY_LEN;
/// Length of the fixed part of a FILE payload (before the path).
pub const FILE_FIXED_LEN: usize = 64;
/// Largest FILE payload.
pub const FILE_MAX_PAYLOAD: usize = FILE_FIXED_LEN + MAX_PATH_LEN;
/// Length of the fixed part of an FDATA payload (before the data).
pub const FDATA_FIXED_LEN: usize = 16;
/// Largest FDATA payload.
pub const FDATA_MAX_PAYLOAD: usize = FDATA_FIXED_LEN + FDATA_MAX_CHUNK;
/// Length of the fixed part of an FDS payload (before the entries).
pub const FDS_FIXED_LEN: usize = 16;
/// Length of one FDS entry.
pub const FD_ENTRY_LEN: usize = 16;
/// Largest FDS payload.
pub const FDS_MAX_PAYLOAD: usize =
    FDS_FIXED_LEN + MAX_FILES as usize * FD_ENTRY_LEN + 2 * MAX_PATH_LEN;
/// Length of a MAPFILE payload.
pub const MAPFILE_PAYLOAD_LEN: usize = 16;
/// Length of an SHM payload (id, reserved).
pub const SHM_PAYLOAD_LEN: usize = 16;
/// Length of a THREAD payload.
pub const THREAD_PAYLOAD_LEN: usize = 48;
/// Length of the fixed part of a CREDS payload (before the groups).
pub const CREDS_FIXED_LEN: usize = 56;
/// Largest CREDS payload.
pub const CREDS_MAX_PAYLOAD: usize = CREDS_FIXED_LEN + MAX_GROUPS as usize * 4;
/// Length of the fixed part of a SIGNALS payload (before the entries).
pub const SIGNALS_FIXED_LEN: usize = 48;
/// Length of one pending signal entry (a user `siginfo_t`).
pub const SIGINFO_LEN: usize = 128;
/// Largest SIGNALS payload.
pub const SIGNALS_MAX_PAYLOAD: usize = SIGNALS_FIXED_LEN + MAX_PENDING as usize * SIGINFO_LEN;
/// Length of one resource limit of a PROCESS record (cur, max).
pub const RLIMIT_LEN: usize = 16;
/// Length of one interval timer of a PROCESS record (value, interval).
pub const ITIMER_LEN: usize = 16;
/// Length of one signal disposition of a PROCESS record.
pub const SIGACTION_LEN: usize = 32;
/// Length of the fixed part of a PROCESS payload (before the timers).
pub const PROCESS_FIXED_LEN: usize = 2368;
/// Length of one POSIX timer of a PROCESS record.
pub const TIMER_LEN: usize = 64;
/// Largest PROCESS payload.
pub const PROCESS_MAX_PAYLOAD: usize = PROCESS_FIXED_LEN + MAX_TIMERS as usize * TIMER_LEN;
/// Length of a ROUND payload.
pub const ROUND_PAYLOAD_LEN: usize = 16;
/// Length of a PREVPAGES payload.
pub const PREVPAGES_PAYLOAD_LEN: usize = 24;
/// Largest robust list head length (`struct robust_list_head` is 24 bytes).
pub const MAX_ROBUST_LIST_LEN: u64 = 4096;
/// Largest payload of any record, known or not.
pub const MAX_RECORD_PAYLOAD: u64 =
    PAGES_FIXED_LEN as u64 + MAX_PAGES_PER_RUN * PAGE_SIZE_X86_64 as u64;
/// Largest payload a streaming reader must hold in memory at once: every
/// payload it is handed whole (all but page data and skipped records).
pub const MAX_META_PAYLOAD: usize = max3(
    TREE_MAX_PAYLOAD,
    max3(FILES_MAX_PAYLOAD, FDS_MAX_PAYLOAD, SIGNALS_MAX_PAYLOAD),
    max3(CREDS_MAX_PAYLOAD, PROCESS_MAX_PAYLOAD, 0),
);

const fn max3(a: usize, b: usize, c: usize) -> usize {
    let m = if a > b { a } else { b };
    if m > c {
        m
    } else {
        c
    }
}
/// A buffer of this size holds any single record the [`Encoder`] writes,
/// except a whole TREE, an FPU record with an xstate above 4 KiB, a FILES
/// record of more than 652 entries, an FDS record (with long paths or many
/// entries), an FDATA record of more than 5 KiB of data, a whole PAGES
/// record, a CREDS record of more than 1292 groups, a SIGNALS record of
/// more than 40 entries and a PROCESS record of more than 44 timers (use
/// [`Encoder::tree_begin`], [`Encoder::pages_begin`],
/// [`Encoder::fdata_begin`] and [`Encoder::signals_begin`] to stream the
/// TREE, PAGES, FDATA and SIGNALS; size the buffer of a FILES, FDS, CREDS
/// or PROCESS record with [`Files::payload_len`], [`Fds::payload_len`],
/// [`Creds::payload_len`] or [`Process::payload_len`]).
pub const ENCODE_BUF_LEN: usize = RECORD_HEADER_LEN + MM_MAX_PAYLOAD;

/// The printable name of a record type.
pub fn record_name(kind: u32) -> &'static str {
    match kind {
        0 => "header",
        RECORD_TREE => "TREE",
        RECORD_TASK => "TASK",
        RECORD_REGS => "REGS",
        RECORD_FPU => "FPU",
        RECORD_MM => "MM",
        RECORD_VMA => "VMA",
        RECORD_PAGES => "PAGES",
        RECORD_TRAILER => "TRAILER",
        RECORD_FILES => "FILES",
        RECORD_SHM => "SHM",
        RECORD_THREAD => "THREAD",
        RECORD_FILE => "FILE",
        RECORD_FDATA => "FDATA",
        RECORD_FDS => "FDS",
        RECORD_MAPFILE => "MAPFILE",
        RECORD_CREDS => "CREDS",
        RECORD_SIGNALS => "SIGNALS",
        RECORD_PROCESS => "PROCESS",
        RECORD_ROUND => "ROUND",
        RECORD_PREVPAGES => "PREVPAGES",
        _ => "unknown",
    }
}

/// The only valid record flags of a known record type: must-understand for
/// the 1.0, 1.4, 1.5 and 1.6 types, none for the types 1.1 to 1.3 add (FILES, SHM,
/// THREAD).
pub fn record_flags(kind: u32) -> u32 {
    match kind {
        RECORD_FILES | RECORD_SHM | RECORD_THREAD => 0,
        _ => RECORD_FLAG_MUST_UNDERSTAND,
    }
}

/// The printable name of a FILES entry kind (`FILE_KIND_*`).
pub fn file_kind_name(kind: u32) -> &'static str {
    match kind {
        FILE_KIND_REG => "reg",
        FILE_KIND_DIR => "dir",
        FILE_KIND_FIFO => "fifo",
        FILE_KIND_SOCK => "sock",
        FILE_KIND_CHR => "chr",
        FILE_KIND_BLK => "blk",
        FILE_KIND_OTHER => "other",
        _ => "unknown",
    }
}

/// The name of a memory character device by its minor (`null`, `zero`,
/// `full`, `random`, `urandom`; major [`CHR_MEM_MAJOR`]); `None` for the
/// others (which an image may not have).
pub fn chr_mem_name(minor: u32) -> Option<&'static str> {
    Some(match minor {
        CHR_MEM_NULL => "null",
        CHR_MEM_ZERO => "zero",
        CHR_MEM_FULL => "full",
        CHR_MEM_RANDOM => "random",
        CHR_MEM_URANDOM => "urandom",
        _ => return None,
    })
}
