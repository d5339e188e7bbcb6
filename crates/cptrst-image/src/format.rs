// SPDX-License-Identifier: GPL-2.0
//! The cptrst checkpoint image format, version 1.3.
//!
//! This file is the single definition of the format. It is compiled twice:
//! into the kernel module as a child module (`#[path] mod image;`) and into
//! the host crate `cptrst-image`, where it is unit-tested and fuzzed. Hence:
//! `core` only, no crate-level attributes, nothing newer than Rust 1.85, no
//! `unsafe`, checked arithmetic, no panic reachable from the input.
//!
//! `Documentation/image-format.rst` describes the layout byte by byte. In
//! short: a 128-byte [`FileHeader`], then records, each a 16-byte
//! [`RecordHeader`] followed by a payload whose length is a multiple of 8.
//! The records come in this order:
//!
//! ```text
//! TREE
//! for each task, in tree order:  TASK [REGS FPU [FILES] [THREAD]]  (live tasks only)
//! for each mm id 1..=N:          MM (VMA [SHM] PAGES*)*   (VMAs sorted by address)
//! TRAILER                                                  (counts + CRC32C)
//! ```
//!
//! FILES (version 1.1) lists a live task's open fds and their kinds; it is
//! optional (1.0 images have none) and skippable: its
//! [`RECORD_FLAG_MUST_UNDERSTAND`] bit is clear, as for every record type a
//! minor version adds, so 1.0 readers skip it.
//!
//! THREAD (version 1.3, skippable as well) holds a live task's per-thread
//! kernel state that user libraries register with the kernel: the
//! clear-child-tid address (pthread_join waits on it), the robust futex
//! list, and the rseq area.
//!
//! SHM (version 1.2, skippable as well) follows a shared anonymous VMA and
//! names its shmem object by an id, equal for every VMA of the image (in
//! any mm) that maps the same object, numbered 1, 2, ... in order of first
//! appearance; a restart maps one object per id, shared.
//!
//! Address spaces are shared by reference: every tree entry has an `mm_id`
//! (0 for a zombie), equal for tasks sharing an mm (threads, `CLONE_VM`
//! children), numbered 1, 2, ... in order of first use in the tree; the MM
//! group of each id comes once, after all the tasks, in id order.
//!
//! Records of a type this reader does not know are skipped when their
//! [`RECORD_FLAG_MUST_UNDERSTAND`] bit is clear, anywhere before the
//! trailer, and refused when it is set.
//!
//! Writing: [`Encoder`] (one call per record, into a caller-supplied buffer;
//! page data may be written by the caller directly, see
//! [`Encoder::pages_begin`]). Reading: [`Reader`] (an iterator over a whole
//! image in memory), [`validate`] (a whole image), or [`Validator`] (the
//! same checks, fed piece by piece from a stream).

use core::fmt;

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

/// File magic. The first byte is not ASCII (catches 7-bit transports), the
/// last is a line feed (catches CRLF conversion), as in PNG.
pub const MAGIC: [u8; 8] = *b"\x89CPTRST\n";
/// Major version this code reads and writes. A reader refuses other majors.
pub const VERSION_MAJOR: u16 = 1;
/// Minor version this code writes. Readers accept any minor of their major:
/// minor versions only add skippable record types (1.1: FILES, 1.2: SHM,
/// 1.3: THREAD).
/// A 1.0 image is valid and simply has no FILES or SHM records, a 1.1
/// image no SHM records.
pub const VERSION_MINOR: u16 = 3;
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

/// Record flag: a reader that does not know the record type must refuse the
/// image. Set on every record type of version 1.0; clear on records a later
/// minor version adds (FILES, SHM), which older readers skip. Each known type
/// has exactly one valid flags value: [`record_flags`].
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
/// Most entries in one FILES record.
pub const MAX_FILES: u32 = 65536;
/// File descriptors are below this (`NR_OPEN`, the kernel's ceiling of
/// `fs.nr_open`).
pub const FD_LIMIT: u32 = 1 << 30;

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
/// VMA flags defined by version 1.
pub const VMA_FLAGS_KNOWN: u32 = 0xff;

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
/// Number of registers in a REGS record.
pub const REGS_COUNT: usize = 27;
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
/// Length of an SHM payload (id, reserved).
pub const SHM_PAYLOAD_LEN: usize = 16;
/// Length of a THREAD payload.
pub const THREAD_PAYLOAD_LEN: usize = 48;
/// Largest robust list head length (`struct robust_list_head` is 24 bytes).
pub const MAX_ROBUST_LIST_LEN: u64 = 4096;
/// Largest payload of any record, known or not.
pub const MAX_RECORD_PAYLOAD: u64 =
    PAGES_FIXED_LEN as u64 + MAX_PAGES_PER_RUN * PAGE_SIZE_X86_64 as u64;
/// Largest payload a streaming reader must hold in memory at once: every
/// payload it is handed whole (all but page data and skipped records).
pub const MAX_META_PAYLOAD: usize = if TREE_MAX_PAYLOAD > FILES_MAX_PAYLOAD {
    TREE_MAX_PAYLOAD
} else {
    FILES_MAX_PAYLOAD
};
/// A buffer of this size holds any single record the [`Encoder`] writes,
/// except a whole TREE, an FPU record with an xstate above 4 KiB, a FILES
/// record of more than 652 entries and a whole PAGES record (use
/// [`Encoder::tree_begin`] and [`Encoder::pages_begin`] to stream the
/// TREE and PAGES; size the buffer of a FILES record with
/// [`Files::payload_len`]).
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
        _ => "unknown",
    }
}

/// The only valid record flags of a known record type: must-understand for
/// the 1.0 types, none for the types minor versions add (FILES, SHM).
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

// ---------------------------------------------------------------------------
// CRC32C
// ---------------------------------------------------------------------------

/// The CRC32C (Castagnoli) polynomial, reflected.
const CRC32C_POLY: u32 = 0x82F6_3B78;

const fn crc32c_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CRC32C_POLY
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut j = 1;
        while j < 8 {
            let prev = t[j - 1][i];
            t[j][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            j += 1;
        }
        i += 1;
    }
    t
}

/// Slicing-by-8 tables, built at compile time.
static CRC32C_TABLES: [[u32; 256]; 8] = crc32c_tables();

#[inline]
fn crc_t(table: usize, byte: u32) -> u32 {
    // `byte as u8` keeps the index below 256; `table` is a constant < 8.
    match CRC32C_TABLES.get(table) {
        Some(t) => t[(byte as u8) as usize],
        None => 0,
    }
}

/// A CRC32C implementation on the raw running state: no initial or final
/// inversion, the convention of the kernel's `crc32c(seed, p, len)`.
/// [`crc32c_raw`] is this crate's; the module plugs in the kernel's
/// (SSE4.2/PCLMULQDQ) one with [`Encoder::set_crc_impl`] and
/// [`Validator::set_crc_impl`]. Every implementation must compute the same
/// function.
pub type CrcImpl = fn(u32, &[u8]) -> u32;

/// Table-driven CRC32C (slice-by-8) on the raw state: see [`CrcImpl`].
pub fn crc32c_raw(state: u32, data: &[u8]) -> u32 {
    let mut c = state;
    let mut chunks = data.chunks_exact(8);
    for ch in &mut chunks {
        let mut w = [0u8; 8];
        for (d, s) in w.iter_mut().zip(ch) {
            *d = *s;
        }
        let lo = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) ^ c;
        let hi = u32::from_le_bytes([w[4], w[5], w[6], w[7]]);
        c = crc_t(7, lo)
            ^ crc_t(6, lo >> 8)
            ^ crc_t(5, lo >> 16)
            ^ crc_t(4, lo >> 24)
            ^ crc_t(3, hi)
            ^ crc_t(2, hi >> 8)
            ^ crc_t(1, hi >> 16)
            ^ crc_t(0, hi >> 24);
    }
    for &b in chunks.remainder() {
        c = crc_t(0, c ^ u32::from(b)) ^ (c >> 8);
    }
    c
}

/// Running CRC32C state (initial value all ones, final XOR all ones).
///
/// `Crc32c::new()` then [`update`](Self::update) over pieces in order gives
/// the same [`value`](Self::value) as [`crc32c`] over their concatenation.
/// Relation to the kernel's `crc32c(seed, p, len)` (no inversions):
/// `value == !crc32c(!0, data)`.
#[derive(Clone, Copy, Debug)]
pub struct Crc32c {
    state: u32,
    imp: CrcImpl,
}

impl PartialEq for Crc32c {
    /// Two CRCs are equal if their values are (whatever computes them).
    fn eq(&self, other: &Self) -> bool {
        self.state == other.state
    }
}

impl Eq for Crc32c {}

impl Default for Crc32c {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32c {
    /// A CRC over no data yet.
    pub const fn new() -> Self {
        Self { state: !0, imp: crc32c_raw }
    }

    /// Resumes from the [`value`](Self::value) of a CRC over a prefix.
    pub const fn resume(value: u32) -> Self {
        Self { state: !value, imp: crc32c_raw }
    }

    /// Computes further updates with `imp`.
    pub fn set_impl(&mut self, imp: CrcImpl) {
        self.imp = imp;
    }

    /// Adds `data` to the CRC.
    pub fn update(&mut self, data: &[u8]) {
        self.state = (self.imp)(self.state, data);
    }

    /// Adds data that the caller checksums itself: `f` maps the raw state
    /// (see [`CrcImpl`]) over it.
    pub fn update_with(&mut self, f: impl FnOnce(u32) -> u32) {
        self.state = f(self.state);
    }

    /// The CRC32C of everything added so far.
    pub const fn value(&self) -> u32 {
        !self.state
    }

    /// The raw running state (see [`CrcImpl`]).
    pub const fn state(&self) -> u32 {
        self.state
    }
}

/// The CRC32C of `data` (`crc32c(b"123456789") == 0xE306_9283`).
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_update(0, data)
}

/// Extends `crc`, the CRC32C of some prefix, by `data`:
/// `crc32c_update(crc32c(a), b) == crc32c(a ++ b)`; `crc32c_update(0, b)`
/// is `crc32c(b)`.
pub fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    let mut c = Crc32c::resume(crc);
    c.update(data);
    c.value()
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why an image was refused, where, and in which record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    /// Byte offset in the image: of the record (its header) the problem was
    /// found in, of the file header (0), or of the end of the input for
    /// [`ErrorKind::MissingTrailer`] and [`ErrorKind::DataAfterTrailer`].
    pub offset: u64,
    /// Record type (`RECORD_*`, or an unknown value), 0 for the file header
    /// and for problems found between records.
    pub record: u32,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl Error {
    const fn new(offset: u64, record: u32, kind: ErrorKind) -> Self {
        Self {
            offset,
            record,
            kind,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (type {}) at offset {}: {}",
            record_name(self.record),
            self.record,
            self.offset,
            self.kind
        )
    }
}

/// Every reason an image is refused; one variant per check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input ends inside the file header.
    TruncatedHeader,
    /// The file does not start with [`MAGIC`].
    BadMagic,
    /// The major version is not [`VERSION_MAJOR`].
    UnsupportedMajor {
        /// The major version found.
        major: u16,
    },
    /// The header length is not [`HEADER_LEN`].
    BadHeaderLength {
        /// The length found.
        len: u32,
    },
    /// The architecture is not [`ARCH_X86_64`].
    WrongArch {
        /// The architecture found.
        arch: u32,
    },
    /// The page size is not valid for the architecture.
    BadPageSize {
        /// The page size found.
        page_size: u32,
    },
    /// XCR0 lacks the x87 or SSE bit.
    BadXcr0 {
        /// The XCR0 found.
        xcr0: u64,
    },
    /// The xstate size is outside [`MIN_XSTATE_SIZE`]..=[`MAX_XSTATE_SIZE`].
    BadXstateSize {
        /// The size found.
        size: u32,
    },
    /// The header has flags version 1 does not define.
    UnknownHeaderFlags {
        /// The flags found.
        flags: u32,
    },
    /// The kernel release has non-zero bytes after its first NUL.
    BadKernelRelease,
    /// The input ends inside a record header.
    TruncatedRecordHeader {
        /// Bytes of the record header that were there.
        available: u64,
    },
    /// The input ends inside a record's payload.
    TruncatedRecord {
        /// Bytes of the payload that were missing.
        missing: u64,
    },
    /// A length makes an offset or a size overflow.
    LengthOverflow {
        /// The length found.
        len: u64,
    },
    /// A payload length is not a multiple of [`ALIGN`].
    MisalignedLength {
        /// The length found.
        len: u64,
    },
    /// A payload length is above the limit for its record type.
    RecordTooLarge {
        /// The length found.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A payload length does not match what its fields require.
    BadPayloadLength {
        /// The length found.
        len: u64,
        /// The length required (the minimum, when too short for the fixed part).
        expected: u64,
    },
    /// Record type 0, which is never valid.
    InvalidRecordType,
    /// A record has flags version 1 does not define, or a known record type
    /// has other flags than its own ([`record_flags`]: a 1.0 type without
    /// [`RECORD_FLAG_MUST_UNDERSTAND`], FILES or SHM with it).
    BadRecordFlags {
        /// The flags found.
        flags: u32,
    },
    /// A record type this reader does not know, marked must-understand.
    UnknownMustUnderstand,
    /// A reserved field is not zero.
    NonZeroReserved,
    /// Padding after a variable-length field is not zero.
    NonZeroPadding,
    /// A record comes where another was required (e.g. REGS before TASK,
    /// a second TREE, VMA outside an MM group, a task or VMA missing).
    OutOfOrder {
        /// The record type required here.
        expected: u32,
    },
    /// The input ends without a trailer.
    MissingTrailer,
    /// Bytes follow the trailer.
    DataAfterTrailer,
    /// The tree has no task.
    TreeEmpty,
    /// The tree has more than [`MAX_TASKS`] tasks.
    TooManyTasks {
        /// The count found.
        count: u32,
    },
    /// A tree entry has undefined flags.
    TreeBadFlags {
        /// Index of the entry.
        index: u32,
    },
    /// A tree entry's level count is 0, above [`MAX_PID_LEVELS`], below its
    /// parent's, or not its thread group leader's.
    TreeBadPidLevels {
        /// Index of the entry.
        index: u32,
    },
    /// A tree entry has a pid of 0 or above [`PID_MAX_LIMIT`] in its levels,
    /// or a non-zero pid past them.
    TreeBadPid {
        /// Index of the entry.
        index: u32,
    },
    /// Two tree entries have the same pid at level 0.
    TreeDuplicatePid {
        /// Index of the second entry.
        index: u32,
    },
    /// The root (entry 0) has a parent pid other than 0.
    TreeRootHasParent,
    /// A tree entry's parent is not an earlier entry.
    TreeParentNotFound {
        /// Index of the entry.
        index: u32,
    },
    /// The thread flag and the tgid disagree, or a thread's leader is not
    /// an earlier entry.
    TreeBadThread {
        /// Index of the entry.
        index: u32,
    },
    /// A tree entry's exit signal is above [`MAX_SIGNAL`].
    TreeBadExitSignal {
        /// Index of the entry.
        index: u32,
    },
    /// A tree entry's mm id is wrong: non-zero for a zombie, zero for a live
    /// task, not the next new id, or not its live thread group's.
    TreeBadMmId {
        /// Index of the entry.
        index: u32,
    },
    /// A TASK record's index is not the next task's.
    TaskIndexMismatch {
        /// The index found.
        index: u32,
        /// The index required.
        expected: u32,
    },
    /// A TASK record's pid is not its tree entry's level-0 pid.
    TaskPidMismatch {
        /// The pid found.
        pid: u32,
        /// The pid in the tree.
        expected: u32,
    },
    /// A command name without a NUL, or with non-zero bytes after it.
    BadComm,
    /// A credential is `u32::MAX` (the invalid id).
    BadCreds,
    /// The blocked mask has SIGKILL or SIGSTOP.
    BadSigmask,
    /// An FPU record's length is not the header's xstate size.
    XstateSizeMismatch {
        /// The length found.
        len: u32,
        /// The header's xstate size.
        expected: u32,
    },
    /// The XSAVE header's `xcomp_bv` is not zero (compacted format).
    XstateCompacted,
    /// The XSAVE header's `xstate_bv` has features outside the header's XCR0.
    XstateFeaturesNotInXcr0 {
        /// The `xstate_bv` found.
        xstate_bv: u64,
    },
    /// The XSAVE header's reserved bytes are not zero.
    XstateHeaderReserved,
    /// An MM record's id is not the next one.
    MmIdMismatch {
        /// The id found.
        mm_id: u32,
        /// The id required.
        expected: u32,
    },
    /// An MM record announces more than [`MAX_VMAS`] VMAs.
    TooManyVmas {
        /// The count found.
        count: u32,
    },
    /// The auxv entry count is 0 or above [`MAX_AUXV`].
    BadAuxvCount {
        /// The count found.
        count: u32,
    },
    /// The auxv does not end with its only `AT_NULL` entry.
    AuxvNotTerminated,
    /// A path is longer than [`MAX_PATH_LEN`].
    PathTooLong {
        /// The length found.
        len: u32,
    },
    /// A path is not absolute or has a NUL byte.
    BadPath,
    /// An MM's start/end pair is inverted.
    MmRangeInverted,
    /// An MM address is above user space.
    MmInKernelSpace,
    /// A VMA kind version 1 does not define.
    BadVmaKind {
        /// The kind found.
        kind: u32,
    },
    /// VMA protection bits undefined, or not allowed by the `MAY*` flags.
    BadProt {
        /// The protection found.
        prot: u32,
    },
    /// VMA flags version 1 does not define.
    BadVmaFlags {
        /// The flags found.
        flags: u32,
    },
    /// A file VMA without a path, or another kind with one.
    VmaPathMismatch,
    /// A VMA whose start is not below its end.
    VmaEmpty,
    /// A VMA not aligned on pages.
    VmaUnaligned,
    /// A VMA reaching above user space.
    VmaInKernelSpace,
    /// A VMA starting below the previous one.
    VmaUnsorted,
    /// A VMA overlapping the previous one.
    VmaOverlap,
    /// A VMA whose page offset plus length overflows.
    VmaBadPgoff,
    /// A PAGES record with no page.
    PagesEmpty,
    /// A PAGES address not aligned on pages.
    PagesUnaligned,
    /// A PAGES run not inside the VMA before it.
    PagesOutsideVma,
    /// A PAGES run starting below the end of the previous run of its VMA.
    PagesNotAscending,
    /// A FILES record with more than [`MAX_FILES`] entries.
    FilesTooMany {
        /// The count found.
        count: u32,
    },
    /// A FILES entry whose fd is not above the previous entry's.
    FilesUnsorted {
        /// The fd found.
        fd: u32,
    },
    /// A FILES entry whose fd is not below [`FD_LIMIT`].
    BadFd {
        /// The fd found.
        fd: u32,
    },
    /// A FILES entry kind the format does not define (`FILE_KIND_*`).
    BadFileKind {
        /// The kind found.
        kind: u32,
    },
    /// An SHM record with id 0 (ids start at 1).
    /// A THREAD record with an address outside user space or a robust list
    /// or rseq length out of range.
    BadThreadState,
    BadShmId {
        /// The id found.
        id: u64,
    },
    /// An SHM id neither seen before in the image nor the next one: ids
    /// are numbered 1, 2, ... in order of first appearance.
    ShmIdNotInOrder {
        /// The id found.
        id: u64,
        /// The next new id (one more than the largest seen).
        next: u64,
    },
    /// The trailer's record count is wrong.
    TrailerCountMismatch {
        /// The count in the trailer.
        found: u64,
        /// The count of records before the trailer.
        expected: u64,
    },
    /// The trailer's total size is wrong.
    TrailerSizeMismatch {
        /// The size in the trailer.
        found: u64,
        /// The size of the image up to the end of the trailer.
        expected: u64,
    },
    /// The trailer's CRC32C is wrong.
    TrailerCrcMismatch {
        /// The CRC in the trailer.
        found: u32,
        /// The CRC of the bytes before the trailer.
        expected: u32,
    },
    /// [`Validator`] misuse: a method called out of turn (see
    /// [`Validator::expect`]).
    WrongStep,
    /// [`Validator`] misuse: more bytes given than the step takes.
    ExcessData,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorKind::*;
        match *self {
            TruncatedHeader => write!(f, "truncated file header"),
            BadMagic => write!(f, "bad magic"),
            UnsupportedMajor { major } => write!(f, "unsupported major version {major}"),
            BadHeaderLength { len } => write!(f, "bad header length {len}"),
            WrongArch { arch } => write!(f, "wrong architecture {arch}"),
            BadPageSize { page_size } => write!(f, "bad page size {page_size}"),
            BadXcr0 { xcr0 } => write!(f, "bad XCR0 {xcr0:#x}"),
            BadXstateSize { size } => write!(f, "bad xstate size {size}"),
            UnknownHeaderFlags { flags } => write!(f, "unknown header flags {flags:#x}"),
            BadKernelRelease => write!(f, "bad kernel release padding"),
            TruncatedRecordHeader { available } => {
                write!(f, "truncated record header ({available} bytes)")
            }
            TruncatedRecord { missing } => write!(f, "truncated record ({missing} bytes missing)"),
            LengthOverflow { len } => write!(f, "length {len} overflows"),
            MisalignedLength { len } => write!(f, "payload length {len} not a multiple of 8"),
            RecordTooLarge { len, max } => write!(f, "payload length {len} above {max}"),
            BadPayloadLength { len, expected } => {
                write!(f, "payload length {len}, expected {expected}")
            }
            InvalidRecordType => write!(f, "record type 0"),
            BadRecordFlags { flags } => write!(f, "bad record flags {flags:#x}"),
            UnknownMustUnderstand => write!(f, "unknown must-understand record"),
            NonZeroReserved => write!(f, "reserved field not zero"),
            NonZeroPadding => write!(f, "padding not zero"),
            OutOfOrder { expected } => {
                write!(f, "out of order, expected {}", record_name(expected))
            }
            MissingTrailer => write!(f, "missing trailer"),
            DataAfterTrailer => write!(f, "data after trailer"),
            TreeEmpty => write!(f, "empty tree"),
            TooManyTasks { count } => write!(f, "{count} tasks, more than {MAX_TASKS}"),
            TreeBadFlags { index } => write!(f, "task {index}: bad flags"),
            TreeBadPidLevels { index } => write!(f, "task {index}: bad pid level count"),
            TreeBadPid { index } => write!(f, "task {index}: bad pid"),
            TreeDuplicatePid { index } => write!(f, "task {index}: duplicate pid"),
            TreeRootHasParent => write!(f, "root task has a parent"),
            TreeParentNotFound { index } => write!(f, "task {index}: parent not found before it"),
            TreeBadThread { index } => write!(f, "task {index}: bad thread group"),
            TreeBadExitSignal { index } => write!(f, "task {index}: bad exit signal"),
            TreeBadMmId { index } => write!(f, "task {index}: bad mm id"),
            TaskIndexMismatch { index, expected } => {
                write!(f, "task index {index}, expected {expected}")
            }
            TaskPidMismatch { pid, expected } => write!(f, "task pid {pid}, expected {expected}"),
            BadComm => write!(f, "bad comm"),
            BadCreds => write!(f, "invalid credential"),
            BadSigmask => write!(f, "SIGKILL or SIGSTOP blocked"),
            XstateSizeMismatch { len, expected } => {
                write!(f, "xstate length {len}, expected {expected}")
            }
            XstateCompacted => write!(f, "compacted xstate"),
            XstateFeaturesNotInXcr0 { xstate_bv } => {
                write!(f, "xstate_bv {xstate_bv:#x} not in XCR0")
            }
            XstateHeaderReserved => write!(f, "XSAVE header reserved bytes not zero"),
            MmIdMismatch { mm_id, expected } => write!(f, "mm id {mm_id}, expected {expected}"),
            TooManyVmas { count } => write!(f, "{count} VMAs, more than {MAX_VMAS}"),
            BadAuxvCount { count } => write!(f, "bad auxv count {count}"),
            AuxvNotTerminated => write!(f, "auxv not terminated by its only AT_NULL"),
            PathTooLong { len } => write!(f, "path length {len} above {MAX_PATH_LEN}"),
            BadPath => write!(f, "path not absolute or with NUL"),
            MmRangeInverted => write!(f, "mm range inverted"),
            MmInKernelSpace => write!(f, "mm address above user space"),
            BadVmaKind { kind } => write!(f, "bad VMA kind {kind}"),
            BadProt { prot } => write!(f, "bad protection {prot:#x}"),
            BadVmaFlags { flags } => write!(f, "bad VMA flags {flags:#x}"),
            VmaPathMismatch => write!(f, "VMA path presence does not match its kind"),
            VmaEmpty => write!(f, "VMA start not below end"),
            VmaUnaligned => write!(f, "VMA not page-aligned"),
            VmaInKernelSpace => write!(f, "VMA above user space"),
            VmaUnsorted => write!(f, "VMA below the previous one"),
            VmaOverlap => write!(f, "VMA overlaps the previous one"),
            VmaBadPgoff => write!(f, "VMA page offset overflows"),
            PagesEmpty => write!(f, "empty page run"),
            PagesUnaligned => write!(f, "page run not page-aligned"),
            PagesOutsideVma => write!(f, "page run outside its VMA"),
            PagesNotAscending => write!(f, "page run below the previous one"),
            FilesTooMany { count } => write!(f, "{count} files, more than {MAX_FILES}"),
            FilesUnsorted { fd } => write!(f, "fd {fd} not above the previous one"),
            BadFd { fd } => write!(f, "fd {fd} not below {FD_LIMIT}"),
            BadFileKind { kind } => write!(f, "bad file kind {kind}"),
            BadShmId { id } => write!(f, "shm object id {id}, ids start at 1"),
            BadThreadState => write!(f, "thread state outside user space or out of range"),
            ShmIdNotInOrder { id, next } => {
                write!(f, "shm object id {id} neither seen before nor the next one ({next})")
            }
            TrailerCountMismatch { found, expected } => {
                write!(f, "trailer record count {found}, expected {expected}")
            }
            TrailerSizeMismatch { found, expected } => {
                write!(f, "trailer total size {found}, expected {expected}")
            }
            TrailerCrcMismatch { found, expected } => {
                write!(f, "trailer CRC32C {found:#010x}, computed {expected:#010x}")
            }
            WrongStep => write!(f, "validator step out of turn"),
            ExcessData => write!(f, "more bytes than the step takes"),
        }
    }
}

/// Why the [`Encoder`] could not write a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The buffer is too small; nothing was written.
    BufferTooSmall {
        /// Bytes the call needs.
        needed: usize,
    },
    /// The call is out of turn: the file header not first, a record started
    /// while a TREE or PAGES record still waits for its entries or data, or
    /// anything after the trailer.
    Sequence,
    /// A value is beyond a limit of the format (path, auxv, counts, sizes).
    Limit,
    /// An xstate whose length is not the header's xstate size.
    XstateSize,
    /// More entries or data than the open record announced.
    Overrun,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::BufferTooSmall { needed } => {
                write!(f, "buffer too small, {needed} needed")
            }
            EncodeError::Sequence => write!(f, "record out of turn"),
            EncodeError::Limit => write!(f, "value beyond a format limit"),
            EncodeError::XstateSize => write!(f, "xstate length is not the header's"),
            EncodeError::Overrun => write!(f, "more than the record announced"),
        }
    }
}

// ---------------------------------------------------------------------------
// Little-endian cursors
// ---------------------------------------------------------------------------

/// Bounds-checked little-endian reader.
struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self { b, pos: 0 }
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }

    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    fn rest(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or(&[])
    }
}

/// Bounds-checked little-endian writer.
struct Wr<'a> {
    b: &'a mut [u8],
    pos: usize,
}

impl<'a> Wr<'a> {
    fn new(b: &'a mut [u8]) -> Self {
        Self { b, pos: 0 }
    }

    fn put(&mut self, src: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(src.len())?;
        let dst = self.b.get_mut(self.pos..end)?;
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
        self.pos = end;
        Some(())
    }

    fn zeros(&mut self, n: usize) -> Option<()> {
        let end = self.pos.checked_add(n)?;
        let dst = self.b.get_mut(self.pos..end)?;
        dst.fill(0);
        self.pos = end;
        Some(())
    }

    /// Zeros up to the next multiple of [`ALIGN`] (relative to the start).
    fn pad(&mut self) -> Option<()> {
        let n = pad8(self.pos)?.checked_sub(self.pos)?;
        self.zeros(n)
    }

    fn u16(&mut self, v: u16) -> Option<()> {
        self.put(&v.to_le_bytes())
    }

    fn u32(&mut self, v: u32) -> Option<()> {
        self.put(&v.to_le_bytes())
    }

    fn u64(&mut self, v: u64) -> Option<()> {
        self.put(&v.to_le_bytes())
    }
}

/// `n` rounded up to a multiple of [`ALIGN`].
fn pad8(n: usize) -> Option<usize> {
    Some(n.checked_add(ALIGN - 1)? & !(ALIGN - 1))
}

fn to_u64(n: usize) -> u64 {
    // usize is at most 64 bits on every target Linux supports.
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn all_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

/// `b` is NUL-terminated within its length, zeros after the first NUL.
fn nul_padded(b: &[u8]) -> bool {
    match b.iter().position(|&x| x == 0) {
        Some(i) => all_zero(b.get(i..).unwrap_or(&[])),
        None => false,
    }
}

/// Checks a path: absolute, no NUL. An empty path is valid (none).
fn path_ok(p: &[u8]) -> bool {
    p.is_empty() || (p.first() == Some(&b'/') && !p.contains(&0))
}

/// Splits `len` bytes of a variable field then checks the zero padding up
/// to the end of `rd` (which must end exactly at the padded length).
fn var_field<'a>(rd: &mut Rd<'a>, len: usize) -> Result<&'a [u8], ErrorKind> {
    let f = rd
        .bytes(len)
        .ok_or(ErrorKind::TruncatedRecord { missing: 0 })?;
    if !all_zero(rd.rest()) {
        return Err(ErrorKind::NonZeroPadding);
    }
    Ok(f)
}

// ---------------------------------------------------------------------------
// File header
// ---------------------------------------------------------------------------

/// The file header: the first [`HEADER_LEN`] bytes of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHeader {
    /// Major version ([`VERSION_MAJOR`]).
    pub major: u16,
    /// Minor version.
    pub minor: u16,
    /// Architecture ([`ARCH_X86_64`]).
    pub arch: u32,
    /// Page size of the checkpointed system.
    pub page_size: u32,
    /// XCR0 of the checkpointed CPU: the xstate features the FPU records may use.
    pub xcr0: u64,
    /// Size of every FPU record's xstate (user ABI XSAVE size).
    pub xstate_size: u32,
    /// Header flags (none defined: 0).
    pub flags: u32,
    /// `utsname()->release` of the checkpointing kernel, NUL-padded.
    pub kernel_release: [u8; KERNEL_RELEASE_LEN],
}

impl FileHeader {
    /// A version 1.0 x86_64 header; `release` is cut to 64 bytes.
    pub fn new(xcr0: u64, xstate_size: u32, release: &[u8]) -> Self {
        let mut kernel_release = [0u8; KERNEL_RELEASE_LEN];
        for (d, s) in kernel_release.iter_mut().zip(release) {
            *d = *s;
        }
        Self {
            major: VERSION_MAJOR,
            minor: VERSION_MINOR,
            arch: ARCH_X86_64,
            page_size: PAGE_SIZE_X86_64,
            xcr0,
            xstate_size,
            flags: 0,
            kernel_release,
        }
    }

    /// The kernel release, up to its first NUL.
    pub fn release(&self) -> &[u8] {
        let n = self
            .kernel_release
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(KERNEL_RELEASE_LEN);
        self.kernel_release.get(..n).unwrap_or(&[])
    }

    /// First address above user space: no VMA may end above it.
    pub fn user_space_end(&self) -> u64 {
        USER_SPACE_LIMIT.saturating_sub(u64::from(self.page_size))
    }

    /// Writes the header into `buf`; returns [`HEADER_LEN`].
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if buf.len() < HEADER_LEN {
            return Err(EncodeError::BufferTooSmall { needed: HEADER_LEN });
        }
        let mut w = Wr::new(buf);
        let ok = (|| {
            w.put(&MAGIC)?;
            w.u16(self.major)?;
            w.u16(self.minor)?;
            w.u32(HEADER_LEN as u32)?;
            w.u32(self.arch)?;
            w.u32(self.page_size)?;
            w.u64(self.xcr0)?;
            w.u32(self.xstate_size)?;
            w.u32(self.flags)?;
            w.put(&self.kernel_release)?;
            w.zeros(HEADER_LEN - 104)
        })();
        ok.map(|()| HEADER_LEN)
            .ok_or(EncodeError::BufferTooSmall { needed: HEADER_LEN })
    }

    /// Reads and checks a file header (offset 0 of an image).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        Self::decode_kind(bytes).map_err(|k| Error::new(0, 0, k))
    }

    fn decode_kind(bytes: &[u8]) -> Result<Self, ErrorKind> {
        use ErrorKind::*;
        let mut r = Rd::new(bytes.get(..HEADER_LEN).ok_or(TruncatedHeader)?);
        let magic: [u8; 8] = r.array().ok_or(TruncatedHeader)?;
        if magic != MAGIC {
            return Err(BadMagic);
        }
        let major = r.u16().ok_or(TruncatedHeader)?;
        let minor = r.u16().ok_or(TruncatedHeader)?;
        if major != VERSION_MAJOR {
            return Err(UnsupportedMajor { major });
        }
        let len = r.u32().ok_or(TruncatedHeader)?;
        if len as usize != HEADER_LEN {
            return Err(BadHeaderLength { len });
        }
        let arch = r.u32().ok_or(TruncatedHeader)?;
        if arch != ARCH_X86_64 {
            return Err(WrongArch { arch });
        }
        let page_size = r.u32().ok_or(TruncatedHeader)?;
        if page_size != PAGE_SIZE_X86_64 {
            return Err(BadPageSize { page_size });
        }
        let xcr0 = r.u64().ok_or(TruncatedHeader)?;
        if xcr0 & XCR0_REQUIRED != XCR0_REQUIRED {
            return Err(BadXcr0 { xcr0 });
        }
        let xstate_size = r.u32().ok_or(TruncatedHeader)?;
        if !(MIN_XSTATE_SIZE..=MAX_XSTATE_SIZE).contains(&xstate_size) {
            return Err(BadXstateSize { size: xstate_size });
        }
        let flags = r.u32().ok_or(TruncatedHeader)?;
        if flags & !HEADER_FLAGS_KNOWN != 0 {
            return Err(UnknownHeaderFlags { flags });
        }
        let kernel_release: [u8; KERNEL_RELEASE_LEN] = r.array().ok_or(TruncatedHeader)?;
        if let Some(i) = kernel_release.iter().position(|&b| b == 0) {
            if !all_zero(kernel_release.get(i..).unwrap_or(&[])) {
                return Err(BadKernelRelease);
            }
        }
        if !all_zero(r.rest()) {
            return Err(NonZeroReserved);
        }
        Ok(Self {
            major,
            minor,
            arch,
            page_size,
            xcr0,
            xstate_size,
            flags,
            kernel_release,
        })
    }
}

// ---------------------------------------------------------------------------
// Record header
// ---------------------------------------------------------------------------

/// The 16-byte header in front of every record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Record type (`RECORD_*`).
    pub kind: u32,
    /// Record flags (`RECORD_FLAG_*`).
    pub flags: u32,
    /// Payload length in bytes, a multiple of [`ALIGN`]; the next record
    /// starts right after the payload.
    pub len: u64,
}

impl RecordHeader {
    /// A header for a 1.0 record type (must-understand); for FILES and
    /// SHM, set `flags` to [`record_flags`] of the type (0).
    pub const fn new(kind: u32, len: u64) -> Self {
        Self {
            kind,
            flags: RECORD_FLAG_MUST_UNDERSTAND,
            len,
        }
    }

    /// Writes the header into `buf`; returns [`RECORD_HEADER_LEN`].
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Wr::new(buf);
        let ok = (|| {
            w.u32(self.kind)?;
            w.u32(self.flags)?;
            w.u64(self.len)
        })();
        ok.map(|()| RECORD_HEADER_LEN)
            .ok_or(EncodeError::BufferTooSmall {
                needed: RECORD_HEADER_LEN,
            })
    }

    /// Reads a record header found at `offset` and checks what needs no
    /// context: length overflow, alignment, [`MAX_RECORD_PAYLOAD`], flags,
    /// type 0 (not the type-specific rules: see [`Validator`]).
    pub fn decode(bytes: &[u8], offset: u64) -> Result<Self, Error> {
        let mut r = Rd::new(bytes);
        let (Some(kind), Some(flags), Some(len)) = (r.u32(), r.u32(), r.u64()) else {
            return Err(Error::new(
                offset,
                0,
                ErrorKind::TruncatedRecordHeader {
                    available: to_u64(bytes.len()),
                },
            ));
        };
        let h = Self { kind, flags, len };
        let err = |k| Err(Error::new(offset, kind, k));
        let end = offset
            .checked_add(RECORD_HEADER_LEN as u64)
            .and_then(|v| v.checked_add(len));
        if end.is_none() || usize::try_from(len).is_err() {
            return err(ErrorKind::LengthOverflow { len });
        }
        if len.checked_rem(ALIGN as u64) != Some(0) {
            return err(ErrorKind::MisalignedLength { len });
        }
        if len > MAX_RECORD_PAYLOAD {
            return err(ErrorKind::RecordTooLarge {
                len,
                max: MAX_RECORD_PAYLOAD,
            });
        }
        if kind == 0 {
            return err(ErrorKind::InvalidRecordType);
        }
        if flags & !RECORD_FLAGS_KNOWN != 0 {
            return err(ErrorKind::BadRecordFlags { flags });
        }
        Ok(h)
    }

    /// The type is one this version (1.0, 1.1 or 1.2) defines.
    pub fn is_known(&self) -> bool {
        (RECORD_TREE..=RECORD_THREAD).contains(&self.kind)
    }
}

// ---------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------

/// One task of the TREE record.
///
/// Pids are as seen in the tree's pid namespace (the root task's), level 0
/// being that namespace, deeper levels the namespaces nested in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeEntry {
    /// `TASK_*` flags.
    pub flags: u32,
    /// Number of pid-namespace levels of the task, 1..=[`MAX_PID_LEVELS`].
    pub nr_levels: u32,
    /// Thread group id (pid of the group leader), level 0.
    pub tgid: u32,
    /// Pid of the parent task (`real_parent`), level 0; 0 for the root.
    pub ppid: u32,
    /// Process group id, level 0 (0: not visible there).
    pub pgid: u32,
    /// Session id, level 0 (0: not visible there).
    pub sid: u32,
    /// `exit_code` (for a zombie, the wait status).
    pub exit_code: u32,
    /// Signal sent to the parent on exit, 0 for none (threads).
    pub exit_signal: u32,
    /// Address space id: 0 for a zombie; tasks sharing an mm share the id.
    pub mm_id: u32,
    /// Pid at each level, level 0 first; zero past `nr_levels`.
    pub pids: [u32; MAX_PID_LEVELS],
}

impl TreeEntry {
    /// Pid at level 0 (in the tree's namespace).
    pub fn pid(&self) -> u32 {
        self.pids[0]
    }

    /// The pids of the task's levels.
    pub fn level_pids(&self) -> &[u32] {
        let n = (self.nr_levels as usize).min(MAX_PID_LEVELS);
        self.pids.get(..n).unwrap_or(&[])
    }

    /// Not its thread group's leader.
    pub fn is_thread(&self) -> bool {
        self.flags & TASK_THREAD != 0
    }

    /// A zombie.
    pub fn is_zombie(&self) -> bool {
        self.flags & TASK_ZOMBIE != 0
    }

    fn decode(b: &[u8]) -> Option<(Self, u32)> {
        let mut r = Rd::new(b);
        let mut e = TreeEntry {
            flags: r.u32()?,
            nr_levels: r.u32()?,
            tgid: r.u32()?,
            ppid: r.u32()?,
            pgid: r.u32()?,
            sid: r.u32()?,
            exit_code: r.u32()?,
            exit_signal: r.u32()?,
            mm_id: r.u32()?,
            pids: [0; MAX_PID_LEVELS],
        };
        let reserved = r.u32()?;
        for p in e.pids.iter_mut() {
            *p = r.u32()?;
        }
        Some((e, reserved))
    }

    fn encode(&self, w: &mut Wr<'_>) -> Option<()> {
        for v in [
            self.flags,
            self.nr_levels,
            self.tgid,
            self.ppid,
            self.pgid,
            self.sid,
            self.exit_code,
            self.exit_signal,
            self.mm_id,
            0,
        ] {
            w.u32(v)?;
        }
        for p in self.pids {
            w.u32(p)?;
        }
        Some(())
    }
}

#[derive(Clone, Copy, Debug)]
enum TreeRepr<'a> {
    Le(&'a [u8]),
    Entries(&'a [TreeEntry]),
}

/// The TREE record: every task, parents before children, each thread after
/// its group leader.
#[derive(Clone, Copy, Debug)]
pub struct Tree<'a> {
    repr: TreeRepr<'a>,
}

impl<'a> Tree<'a> {
    /// A tree of `entries` (for encoding).
    pub fn from_entries(entries: &'a [TreeEntry]) -> Self {
        Self {
            repr: TreeRepr::Entries(entries),
        }
    }

    /// Number of tasks.
    pub fn len(&self) -> u32 {
        let n = match self.repr {
            TreeRepr::Le(b) => b.len() / TREE_ENTRY_LEN,
            TreeRepr::Entries(e) => e.len(),
        };
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// No task.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Task `index`.
    pub fn get(&self, index: u32) -> Option<TreeEntry> {
        self.get_raw(index).map(|(e, _)| e)
    }

    fn get_raw(&self, index: u32) -> Option<(TreeEntry, u32)> {
        let i = index as usize;
        match self.repr {
            TreeRepr::Le(b) => {
                let start = i.checked_mul(TREE_ENTRY_LEN)?;
                let end = start.checked_add(TREE_ENTRY_LEN)?;
                TreeEntry::decode(b.get(start..end)?)
            }
            TreeRepr::Entries(e) => e.get(i).map(|e| (*e, 0)),
        }
    }

    /// Level-0 pid and tgid of task `index`.
    fn ids(&self, index: u32) -> Option<(u32, u32)> {
        let i = index as usize;
        match self.repr {
            TreeRepr::Le(b) => {
                let start = i.checked_mul(TREE_ENTRY_LEN)?;
                let mut r = Rd::new(b.get(start..)?);
                let _ = r.bytes(8)?;
                let tgid = r.u32()?;
                let _ = r.bytes(28)?;
                Some((r.u32()?, tgid))
            }
            TreeRepr::Entries(e) => e.get(i).map(|e| (e.pid(), e.tgid)),
        }
    }

    /// The tasks, in order.
    pub fn iter(&self) -> TreeIter<'a> {
        TreeIter {
            tree: *self,
            next: 0,
        }
    }

    /// Payload length of a tree of `count` tasks.
    pub fn payload_len(count: u32) -> Option<usize> {
        (count as usize)
            .checked_mul(TREE_ENTRY_LEN)?
            .checked_add(TREE_FIXED_LEN)
    }

    fn decode(p: &'a [u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let count = r.u32().ok_or(ErrorKind::BadPayloadLength {
            len: to_u64(p.len()),
            expected: TREE_FIXED_LEN as u64,
        })?;
        let reserved = r.u32().ok_or(ErrorKind::BadPayloadLength {
            len: to_u64(p.len()),
            expected: TREE_FIXED_LEN as u64,
        })?;
        if reserved != 0 {
            return Err(ErrorKind::NonZeroReserved);
        }
        if count == 0 {
            return Err(ErrorKind::TreeEmpty);
        }
        if count > MAX_TASKS {
            return Err(ErrorKind::TooManyTasks { count });
        }
        let expected = Self::payload_len(count).ok_or(ErrorKind::TooManyTasks { count })?;
        if p.len() != expected {
            return Err(ErrorKind::BadPayloadLength {
                len: to_u64(p.len()),
                expected: to_u64(expected),
            });
        }
        Ok(Tree {
            repr: TreeRepr::Le(r.rest()),
        })
    }

    /// Checks every entry against the tree rules; returns the number of mm ids.
    fn check(&self) -> Result<u32, ErrorKind> {
        use ErrorKind::*;
        let n = self.len();
        let mut max_mm = 0u32;
        for i in 0..n {
            let (e, reserved) = self.get_raw(i).ok_or(TreeEmpty)?;
            if reserved != 0 {
                return Err(NonZeroReserved);
            }
            if e.flags & !TASK_FLAGS_KNOWN != 0 {
                return Err(TreeBadFlags { index: i });
            }
            let levels = e.nr_levels as usize;
            if levels == 0 || levels > MAX_PID_LEVELS {
                return Err(TreeBadPidLevels { index: i });
            }
            for (l, &p) in e.pids.iter().enumerate() {
                let bad = if l < levels {
                    p == 0 || p > PID_MAX_LIMIT
                } else {
                    p != 0
                };
                if bad {
                    return Err(TreeBadPid { index: i });
                }
            }
            if e.exit_signal > MAX_SIGNAL {
                return Err(TreeBadExitSignal { index: i });
            }
            let mut parent = None;
            let mut leader = None;
            let mut group_live_mm = None;
            // Quadratic, but reads only two words per earlier entry.
            for j in 0..i {
                let Some((pid, tgid)) = self.ids(j) else {
                    continue;
                };
                if pid == e.pid() {
                    return Err(TreeDuplicatePid { index: i });
                }
                if parent.is_none() && pid == e.ppid {
                    parent = self.get(j);
                }
                if pid == e.tgid {
                    leader = self.get(j);
                }
                if group_live_mm.is_none() && tgid == e.tgid {
                    group_live_mm = self.get(j).filter(|o| !o.is_zombie()).map(|o| o.mm_id);
                }
            }
            if e.is_thread() {
                // A thread shares its leader's parent and pid namespaces.
                let l = match leader {
                    Some(l) if e.tgid != e.pid() && !l.is_thread() && l.ppid == e.ppid => l,
                    _ => return Err(TreeBadThread { index: i }),
                };
                if l.nr_levels != e.nr_levels {
                    return Err(TreeBadPidLevels { index: i });
                }
            } else if e.tgid != e.pid() {
                return Err(TreeBadThread { index: i });
            } else if i == 0 {
                if e.ppid != 0 {
                    return Err(TreeRootHasParent);
                }
            } else {
                let p = parent.ok_or(TreeParentNotFound { index: i })?;
                // A child's pid namespace is its parent's or a descendant.
                if e.nr_levels < p.nr_levels {
                    return Err(TreeBadPidLevels { index: i });
                }
            }
            if e.is_zombie() {
                if e.mm_id != 0 {
                    return Err(TreeBadMmId { index: i });
                }
            } else {
                let ok = match group_live_mm {
                    Some(m) if e.is_thread() => e.mm_id == m,
                    _ => e.mm_id != 0 && e.mm_id <= max_mm.saturating_add(1),
                };
                if !ok {
                    return Err(TreeBadMmId { index: i });
                }
                max_mm = max_mm.max(e.mm_id);
            }
        }
        Ok(max_mm)
    }

    fn encode_body(&self, w: &mut Wr<'_>) -> Option<()> {
        w.u32(self.len())?;
        w.u32(0)?;
        for e in self.iter() {
            e.encode(w)?;
        }
        Some(())
    }
}

impl PartialEq for Tree<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// Iterator over the tasks of a [`Tree`].
#[derive(Clone, Debug)]
pub struct TreeIter<'a> {
    tree: Tree<'a>,
    next: u32,
}

impl Iterator for TreeIter<'_> {
    type Item = TreeEntry;

    fn next(&mut self) -> Option<TreeEntry> {
        let e = self.tree.get(self.next)?;
        self.next = self.next.checked_add(1)?;
        Some(e)
    }
}

/// The TASK record: a task's identity, credentials and signal mask.
///
/// Credentials are as seen from the checkpointing caller's user namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Task {
    /// Index of the task in the tree.
    pub index: u32,
    /// Its level-0 pid (must match the tree).
    pub pid: u32,
    /// Command name, NUL-padded.
    pub comm: [u8; 16],
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Saved uid.
    pub suid: u32,
    /// Saved gid.
    pub sgid: u32,
    /// Filesystem uid.
    pub fsuid: u32,
    /// Filesystem gid.
    pub fsgid: u32,
    /// Personality.
    pub personality: u32,
    /// Blocked signal mask (bit `n - 1` for signal `n`).
    pub blocked: u64,
}

/// Signals that can never be blocked: SIGKILL (9) and SIGSTOP (19).
const UNBLOCKABLE: u64 = (1 << 8) | (1 << 18);

impl Task {
    fn decode(p: &[u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let t = (|| {
            let index = r.u32()?;
            let pid = r.u32()?;
            let comm: [u8; 16] = r.array()?;
            let mut c = [0u32; 8];
            for v in c.iter_mut() {
                *v = r.u32()?;
            }
            let personality = r.u32()?;
            let reserved = r.u32()?;
            let blocked = r.u64()?;
            let [uid, gid, euid, egid, suid, sgid, fsuid, fsgid] = c;
            Some((
                Task {
                    index,
                    pid,
                    comm,
                    uid,
                    gid,
                    euid,
                    egid,
                    suid,
                    sgid,
                    fsuid,
                    fsgid,
                    personality,
                    blocked,
                },
                reserved,
            ))
        })();
        let (t, reserved) = t.ok_or(ErrorKind::TruncatedRecord { missing: 0 })?;
        if reserved != 0 {
            return Err(ErrorKind::NonZeroReserved);
        }
        if !nul_padded(&t.comm) {
            return Err(ErrorKind::BadComm);
        }
        if t.creds().contains(&u32::MAX) {
            return Err(ErrorKind::BadCreds);
        }
        if t.blocked & UNBLOCKABLE != 0 {
            return Err(ErrorKind::BadSigmask);
        }
        Ok(t)
    }

    fn creds(&self) -> [u32; 8] {
        [
            self.uid, self.gid, self.euid, self.egid, self.suid, self.sgid, self.fsuid, self.fsgid,
        ]
    }

    fn encode_body(&self, w: &mut Wr<'_>) -> Option<()> {
        w.u32(self.index)?;
        w.u32(self.pid)?;
        w.put(&self.comm)?;
        for c in self.creds() {
            w.u32(c)?;
        }
        w.u32(self.personality)?;
        w.u32(0)?;
        w.u64(self.blocked)
    }
}

/// The REGS record: x86_64 `struct user_regs_struct`, in the kernel's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Regs {
    /// Register `r15`.
    pub r15: u64,
    /// Register `r14`.
    pub r14: u64,
    /// Register `r13`.
    pub r13: u64,
    /// Register `r12`.
    pub r12: u64,
    /// Register `bp`.
    pub bp: u64,
    /// Register `bx`.
    pub bx: u64,
    /// Register `r11`.
    pub r11: u64,
    /// Register `r10`.
    pub r10: u64,
    /// Register `r9`.
    pub r9: u64,
    /// Register `r8`.
    pub r8: u64,
    /// Register `ax`.
    pub ax: u64,
    /// Register `cx`.
    pub cx: u64,
    /// Register `dx`.
    pub dx: u64,
    /// Register `si`.
    pub si: u64,
    /// Register `di`.
    pub di: u64,
    /// Register `orig_ax`.
    pub orig_ax: u64,
    /// Register `ip`.
    pub ip: u64,
    /// Register `cs`.
    pub cs: u64,
    /// Register `flags`.
    pub flags: u64,
    /// Register `sp`.
    pub sp: u64,
    /// Register `ss`.
    pub ss: u64,
    /// Register `fs_base`.
    pub fs_base: u64,
    /// Register `gs_base`.
    pub gs_base: u64,
    /// Register `ds`.
    pub ds: u64,
    /// Register `es`.
    pub es: u64,
    /// Register `fs`.
    pub fs: u64,
    /// Register `gs`.
    pub gs: u64,
}

impl Regs {
    /// From the registers in `user_regs_struct` order.
    pub fn from_array(a: [u64; REGS_COUNT]) -> Self {
        let [r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss, fs_base, gs_base, ds, es, fs, gs] =
            a;
        Self {
            r15,
            r14,
            r13,
            r12,
            bp,
            bx,
            r11,
            r10,
            r9,
            r8,
            ax,
            cx,
            dx,
            si,
            di,
            orig_ax,
            ip,
            cs,
            flags,
            sp,
            ss,
            fs_base,
            gs_base,
            ds,
            es,
            fs,
            gs,
        }
    }

    /// The registers in `user_regs_struct` order.
    pub fn to_array(&self) -> [u64; REGS_COUNT] {
        [
            self.r15,
            self.r14,
            self.r13,
            self.r12,
            self.bp,
            self.bx,
            self.r11,
            self.r10,
            self.r9,
            self.r8,
            self.ax,
            self.cx,
            self.dx,
            self.si,
            self.di,
            self.orig_ax,
            self.ip,
            self.cs,
            self.flags,
            self.sp,
            self.ss,
            self.fs_base,
            self.gs_base,
            self.ds,
            self.es,
            self.fs,
            self.gs,
        ]
    }

    fn decode(p: &[u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let mut a = [0u64; REGS_COUNT];
        for v in a.iter_mut() {
            *v = r.u64().ok_or(ErrorKind::TruncatedRecord { missing: 0 })?;
        }
        Ok(Self::from_array(a))
    }
}

/// The FPU record: the task's xstate in the standard (non-compacted) XSAVE
/// layout of the user ABI (`PTRACE_GETREGSET NT_X86_XSTATE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fpu<'a> {
    /// The xstate, [`FileHeader::xstate_size`] bytes.
    pub xstate: &'a [u8],
}

impl<'a> Fpu<'a> {
    /// Payload length for an xstate of `size` bytes.
    pub fn payload_len(size: u32) -> Option<usize> {
        pad8(size as usize)?.checked_add(FPU_FIXED_LEN)
    }

    fn decode(p: &'a [u8], h: &FileHeader) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let (Some(len), Some(reserved)) = (r.u32(), r.u32()) else {
            return Err(ErrorKind::TruncatedRecord { missing: 0 });
        };
        if reserved != 0 {
            return Err(ErrorKind::NonZeroReserved);
        }
        if len != h.xstate_size {
            return Err(ErrorKind::XstateSizeMismatch {
                len,
                expected: h.xstate_size,
            });
        }
        let xstate = var_field(&mut r, len as usize)?;
        let mut x = Rd::new(xstate.get(XSAVE_HEADER_OFFSET..).unwrap_or(&[]));
        let (Some(xstate_bv), Some(xcomp_bv)) = (x.u64(), x.u64()) else {
            return Err(ErrorKind::XstateSizeMismatch {
                len,
                expected: MIN_XSTATE_SIZE,
            });
        };
        if xstate_bv & !h.xcr0 != 0 {
            return Err(ErrorKind::XstateFeaturesNotInXcr0 { xstate_bv });
        }
        if xcomp_bv != 0 {
            return Err(ErrorKind::XstateCompacted);
        }
        if !all_zero(x.bytes(48).unwrap_or(&[1])) {
            return Err(ErrorKind::XstateHeaderReserved);
        }
        Ok(Fpu { xstate })
    }
}

#[derive(Clone, Copy, Debug)]
enum AuxvRepr<'a> {
    Le(&'a [u8]),
    Words(&'a [u64]),
}

/// An auxiliary vector: (key, value) pairs, the last one `AT_NULL`.
#[derive(Clone, Copy, Debug)]
pub struct Auxv<'a> {
    repr: AuxvRepr<'a>,
}

impl<'a> Auxv<'a> {
    /// From flat words `key, value, key, value, ...` (the layout of
    /// `mm->saved_auxv`), cut after the first `AT_NULL` pair. `None` when
    /// there is no `AT_NULL` key in the first [`MAX_AUXV`] pairs.
    pub fn from_words(words: &'a [u64]) -> Option<Self> {
        let pairs = words.chunks_exact(2).take(MAX_AUXV);
        let n = pairs.clone().position(|p| p.first() == Some(&AT_NULL))?;
        let end = n.checked_add(1)?.checked_mul(2)?;
        Some(Self {
            repr: AuxvRepr::Words(words.get(..end)?),
        })
    }

    /// Number of pairs, `AT_NULL` included.
    pub fn len(&self) -> usize {
        match self.repr {
            AuxvRepr::Le(b) => b.len() / 16,
            AuxvRepr::Words(w) => w.len() / 2,
        }
    }

    /// No pair at all (never so in a valid image).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pair `i`.
    pub fn get(&self, i: usize) -> Option<(u64, u64)> {
        let k = i.checked_mul(2)?;
        match self.repr {
            AuxvRepr::Le(b) => {
                let mut r = Rd::new(b.get(k.checked_mul(8)?..)?);
                Some((r.u64()?, r.u64()?))
            }
            AuxvRepr::Words(w) => Some((*w.get(k)?, *w.get(k.checked_add(1)?)?)),
        }
    }

    /// The pairs, in order.
    pub fn iter(&self) -> AuxvIter<'a> {
        AuxvIter {
            auxv: *self,
            next: 0,
        }
    }
}

impl PartialEq for Auxv<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// Iterator over the pairs of an [`Auxv`].
#[derive(Clone, Debug)]
pub struct AuxvIter<'a> {
    auxv: Auxv<'a>,
    next: usize,
}

impl Iterator for AuxvIter<'_> {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        let p = self.auxv.get(self.next)?;
        self.next = self.next.checked_add(1)?;
        Some(p)
    }
}

/// The MM record: one address space. Its VMAs (and their pages) follow.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mm<'a> {
    /// The mm id (1 for the first MM record, then 2, ...).
    pub mm_id: u32,
    /// Number of VMA records of this mm.
    pub nr_vmas: u32,
    /// `mm->start_code`.
    pub start_code: u64,
    /// `mm->end_code`.
    pub end_code: u64,
    /// `mm->start_data`.
    pub start_data: u64,
    /// `mm->end_data`.
    pub end_data: u64,
    /// `mm->start_brk`.
    pub start_brk: u64,
    /// `mm->brk`.
    pub brk: u64,
    /// `mm->start_stack`.
    pub start_stack: u64,
    /// `mm->arg_start`.
    pub arg_start: u64,
    /// `mm->arg_end`.
    pub arg_end: u64,
    /// `mm->env_start`.
    pub env_start: u64,
    /// `mm->env_end`.
    pub env_end: u64,
    /// The saved auxiliary vector.
    pub auxv: Auxv<'a>,
    /// Path of the executable (`mm->exe_file`), empty for none.
    pub exe_path: &'a [u8],
}

impl<'a> Mm<'a> {
    /// The 11 layout fields, `start_code` to `env_end`, in declaration order.
    pub fn layout(&self) -> [u64; 11] {
        [
            self.start_code,
            self.end_code,
            self.start_data,
            self.end_data,
            self.start_brk,
            self.brk,
            self.start_stack,
            self.arg_start,
            self.arg_end,
            self.env_start,
            self.env_end,
        ]
    }

    /// Payload length for `auxv` pairs and a path of `path_len` bytes.
    pub fn payload_len(auxv: usize, path_len: usize) -> Option<usize> {
        MM_FIXED_LEN
            .checked_add(auxv.checked_mul(16)?)?
            .checked_add(pad8(path_len)?)
    }

    fn decode(p: &'a [u8], h: &FileHeader) -> Result<Self, ErrorKind> {
        use ErrorKind::*;
        let short = BadPayloadLength {
            len: to_u64(p.len()),
            expected: MM_FIXED_LEN as u64,
        };
        let mut r = Rd::new(p);
        let mm_id = r.u32().ok_or(short)?;
        let nr_vmas = r.u32().ok_or(short)?;
        let mut l = [0u64; 11];
        for v in l.iter_mut() {
            *v = r.u64().ok_or(short)?;
        }
        let auxv_count = r.u32().ok_or(short)?;
        let path_len = r.u32().ok_or(short)?;
        if nr_vmas > MAX_VMAS {
            return Err(TooManyVmas { count: nr_vmas });
        }
        let [start_code, end_code, start_data, end_data, start_brk, brk, start_stack, arg_start, arg_end, env_start, env_end] =
            l;
        if l.iter().any(|&a| a > h.user_space_end()) {
            return Err(MmInKernelSpace);
        }
        if start_code > end_code
            || start_data > end_data
            || start_brk > brk
            || arg_start > arg_end
            || env_start > env_end
        {
            return Err(MmRangeInverted);
        }
        if auxv_count == 0 || auxv_count as usize > MAX_AUXV {
            return Err(BadAuxvCount { count: auxv_count });
        }
        if path_len as usize > MAX_PATH_LEN {
            return Err(PathTooLong { len: path_len });
        }
        let expected = Self::payload_len(auxv_count as usize, path_len as usize).ok_or(short)?;
        if p.len() != expected {
            return Err(BadPayloadLength {
                len: to_u64(p.len()),
                expected: to_u64(expected),
            });
        }
        let auxv = Auxv {
            repr: AuxvRepr::Le(
                r.bytes((auxv_count as usize).saturating_mul(16))
                    .ok_or(short)?,
            ),
        };
        let last = auxv.len().saturating_sub(1);
        for (i, (k, _)) in auxv.iter().enumerate() {
            if (k == AT_NULL) != (i == last) {
                return Err(AuxvNotTerminated);
            }
        }
        let exe_path = var_field(&mut r, path_len as usize)?;
        if !path_ok(exe_path) {
            return Err(BadPath);
        }
        Ok(Mm {
            mm_id,
            nr_vmas,
            start_code,
            end_code,
            start_data,
            end_data,
            start_brk,
            brk,
            start_stack,
            arg_start,
            arg_end,
            env_start,
            env_end,
            auxv,
            exe_path,
        })
    }

    fn encode_body(&self, w: &mut Wr<'_>) -> Option<()> {
        w.u32(self.mm_id)?;
        w.u32(self.nr_vmas)?;
        for v in self.layout() {
            w.u64(v)?;
        }
        w.u32(u32::try_from(self.auxv.len()).ok()?)?;
        w.u32(u32::try_from(self.exe_path.len()).ok()?)?;
        for (k, v) in self.auxv.iter() {
            w.u64(k)?;
            w.u64(v)?;
        }
        w.put(self.exe_path)?;
        w.pad()
    }
}

/// What a VMA maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaKind {
    /// Private anonymous memory.
    AnonPrivate,
    /// Private mapping of a file.
    FilePrivate,
    /// Shared mapping of a file.
    FileShared,
    /// Shared anonymous memory.
    SharedAnon,
    /// The vDSO.
    Vdso,
    /// The vDSO data pages (`[vvar]`).
    Vvar,
    /// The main thread's stack.
    Stack,
    /// The heap (`brk` area).
    Heap,
}

impl VmaKind {
    /// From its number in the format.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::AnonPrivate,
            2 => Self::FilePrivate,
            3 => Self::FileShared,
            4 => Self::SharedAnon,
            5 => Self::Vdso,
            6 => Self::Vvar,
            7 => Self::Stack,
            8 => Self::Heap,
            _ => return None,
        })
    }

    /// Its number in the format.
    pub fn as_u32(self) -> u32 {
        match self {
            Self::AnonPrivate => 1,
            Self::FilePrivate => 2,
            Self::FileShared => 3,
            Self::SharedAnon => 4,
            Self::Vdso => 5,
            Self::Vvar => 6,
            Self::Stack => 7,
            Self::Heap => 8,
        }
    }

    /// File kinds carry a path; the others none.
    pub fn has_path(self) -> bool {
        matches!(self, Self::FilePrivate | Self::FileShared)
    }
}

/// The VMA record: one mapping of the current mm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma<'a> {
    /// First address.
    pub start: u64,
    /// First address past the end.
    pub end: u64,
    /// Offset in the file (or shmem object), in pages (`vm_pgoff`).
    pub pgoff: u64,
    /// `PROT_*` bits.
    pub prot: u32,
    /// `VMA_*` flags.
    pub flags: u32,
    /// What it maps.
    pub kind: VmaKind,
    /// Path of the file, for the file kinds; empty otherwise.
    pub path: &'a [u8],
}

impl<'a> Vma<'a> {
    /// Payload length for a path of `path_len` bytes.
    pub fn payload_len(path_len: usize) -> Option<usize> {
        VMA_FIXED_LEN.checked_add(pad8(path_len)?)
    }

    fn decode(p: &'a [u8], h: &FileHeader) -> Result<Self, ErrorKind> {
        use ErrorKind::*;
        let short = BadPayloadLength {
            len: to_u64(p.len()),
            expected: VMA_FIXED_LEN as u64,
        };
        let mut r = Rd::new(p);
        let start = r.u64().ok_or(short)?;
        let end = r.u64().ok_or(short)?;
        let pgoff = r.u64().ok_or(short)?;
        let prot = r.u32().ok_or(short)?;
        let flags = r.u32().ok_or(short)?;
        let kind = r.u32().ok_or(short)?;
        let path_len = r.u32().ok_or(short)?;
        let kind = VmaKind::from_u32(kind).ok_or(BadVmaKind { kind })?;
        if flags & !VMA_FLAGS_KNOWN != 0 {
            return Err(BadVmaFlags { flags });
        }
        // VM_READ/WRITE/EXEC imply VM_MAYREAD/MAYWRITE/MAYEXEC.
        if prot & !PROT_KNOWN != 0 || prot & !(flags >> 5) != 0 {
            return Err(BadProt { prot });
        }
        if start >= end {
            return Err(VmaEmpty);
        }
        let ps = u64::from(h.page_size);
        if start.checked_rem(ps) != Some(0) || end.checked_rem(ps) != Some(0) {
            return Err(VmaUnaligned);
        }
        if end > h.user_space_end() {
            return Err(VmaInKernelSpace);
        }
        let pages = end
            .saturating_sub(start)
            .checked_div(ps)
            .unwrap_or(u64::MAX);
        if pgoff.checked_add(pages).is_none() {
            return Err(VmaBadPgoff);
        }
        if path_len as usize > MAX_PATH_LEN {
            return Err(PathTooLong { len: path_len });
        }
        let expected = Self::payload_len(path_len as usize).ok_or(short)?;
        if p.len() != expected {
            return Err(BadPayloadLength {
                len: to_u64(p.len()),
                expected: to_u64(expected),
            });
        }
        let path = var_field(&mut r, path_len as usize)?;
        if path.is_empty() == kind.has_path() {
            return Err(VmaPathMismatch);
        }
        if !path_ok(path) {
            return Err(BadPath);
        }
        Ok(Vma {
            start,
            end,
            pgoff,
            prot,
            flags,
            kind,
            path,
        })
    }

    fn encode_body(&self, w: &mut Wr<'_>) -> Option<()> {
        w.u64(self.start)?;
        w.u64(self.end)?;
        w.u64(self.pgoff)?;
        w.u32(self.prot)?;
        w.u32(self.flags)?;
        w.u32(self.kind.as_u32())?;
        w.u32(u32::try_from(self.path.len()).ok()?)?;
        w.put(self.path)?;
        w.pad()
    }
}

/// The PAGES record: `nr_pages` pages at absolute address `addr`, inside
/// the VMA record before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pages<'a> {
    /// Address of the first page.
    pub addr: u64,
    /// Number of pages, 1..=[`MAX_PAGES_PER_RUN`].
    pub nr_pages: u64,
    /// The page contents, `nr_pages * page_size` bytes; empty when the
    /// record came through [`Validator::feed_payload`] (the data then comes
    /// through [`Validator::feed_data`]).
    pub data: &'a [u8],
}

impl Pages<'_> {
    /// Length of the page data of `nr_pages` pages.
    pub fn data_len(nr_pages: u64, page_size: u32) -> Option<u64> {
        nr_pages.checked_mul(u64::from(page_size))
    }

    /// First address past the run.
    pub fn end(&self, page_size: u32) -> Option<u64> {
        self.addr
            .checked_add(Self::data_len(self.nr_pages, page_size)?)
    }

    /// Decodes the fixed part; checks the count against `payload_len`.
    fn decode_fixed(p: &[u8], payload_len: u64, h: &FileHeader) -> Result<(u64, u64), ErrorKind> {
        let mut r = Rd::new(p);
        let (Some(addr), Some(nr_pages)) = (r.u64(), r.u64()) else {
            return Err(ErrorKind::TruncatedRecord { missing: 0 });
        };
        if nr_pages == 0 {
            return Err(ErrorKind::PagesEmpty);
        }
        let data = Self::data_len(nr_pages, h.page_size)
            .ok_or(ErrorKind::LengthOverflow { len: nr_pages })?;
        let expected = data
            .checked_add(PAGES_FIXED_LEN as u64)
            .ok_or(ErrorKind::LengthOverflow { len: nr_pages })?;
        if expected != payload_len {
            return Err(ErrorKind::BadPayloadLength {
                len: payload_len,
                expected,
            });
        }
        if addr.checked_rem(u64::from(h.page_size)) != Some(0) {
            return Err(ErrorKind::PagesUnaligned);
        }
        Ok((addr, nr_pages))
    }
}

/// The TRAILER record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// Number of records before the trailer (skipped ones included).
    pub records: u64,
    /// Size of the whole image, trailer included.
    pub total_bytes: u64,
    /// CRC32C of every byte before the trailer record.
    pub crc32c: u32,
}

impl Trailer {
    fn decode(p: &[u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let (Some(records), Some(total_bytes), Some(crc32c), Some(reserved)) =
            (r.u64(), r.u64(), r.u32(), r.u32())
        else {
            return Err(ErrorKind::TruncatedRecord { missing: 0 });
        };
        if reserved != 0 {
            return Err(ErrorKind::NonZeroReserved);
        }
        Ok(Self {
            records,
            total_bytes,
            crc32c,
        })
    }
}

/// One entry of a FILES record: an open file descriptor and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// The descriptor number, below [`FD_LIMIT`].
    pub fd: u32,
    /// What it refers to (`FILE_KIND_*`).
    pub kind: u32,
}

impl FileEntry {
    fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Rd::new(b);
        Some(Self {
            fd: r.u32()?,
            kind: r.u32()?,
        })
    }
}

/// The FILES record (version 1.1): the open file descriptors of a live
/// task, in ascending fd order. Borrows the raw entries of the payload.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Files<'a> {
    /// The entries, [`FILE_ENTRY_LEN`] bytes each (a whole number of them,
    /// checked by the decoder).
    raw: &'a [u8],
}

impl<'a> Files<'a> {
    /// Number of entries.
    pub fn len(&self) -> u32 {
        u32::try_from(self.raw.len() / FILE_ENTRY_LEN).unwrap_or(u32::MAX)
    }

    /// No entry (a task without open files).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i`.
    pub fn get(&self, i: u32) -> Option<FileEntry> {
        let start = (i as usize).checked_mul(FILE_ENTRY_LEN)?;
        let end = start.checked_add(FILE_ENTRY_LEN)?;
        FileEntry::decode(self.raw.get(start..end)?)
    }

    /// The entries, in ascending fd order.
    pub fn iter(&self) -> FilesIter<'a> {
        FilesIter {
            files: *self,
            next: 0,
        }
    }

    /// Payload length of a FILES record of `count` entries.
    pub fn payload_len(count: u32) -> Option<usize> {
        (count as usize)
            .checked_mul(FILE_ENTRY_LEN)?
            .checked_add(FILES_FIXED_LEN)
    }

    fn decode(p: &'a [u8]) -> Result<Self, ErrorKind> {
        use ErrorKind::*;
        let short = BadPayloadLength {
            len: to_u64(p.len()),
            expected: FILES_FIXED_LEN as u64,
        };
        let mut r = Rd::new(p);
        let count = r.u32().ok_or(short)?;
        let reserved = r.u32().ok_or(short)?;
        if reserved != 0 {
            return Err(NonZeroReserved);
        }
        if count > MAX_FILES {
            return Err(FilesTooMany { count });
        }
        let expected = Self::payload_len(count).ok_or(FilesTooMany { count })?;
        if p.len() != expected {
            return Err(BadPayloadLength {
                len: to_u64(p.len()),
                expected: to_u64(expected),
            });
        }
        let files = Files { raw: r.rest() };
        let mut prev: Option<u32> = None;
        for e in files.iter() {
            if e.fd >= FD_LIMIT {
                return Err(BadFd { fd: e.fd });
            }
            if prev.is_some_and(|p| e.fd <= p) {
                return Err(FilesUnsorted { fd: e.fd });
            }
            if !(FILE_KIND_REG..=FILE_KIND_OTHER).contains(&e.kind) {
                return Err(BadFileKind { kind: e.kind });
            }
            prev = Some(e.fd);
        }
        Ok(files)
    }
}

/// Iterator over the entries of a [`Files`] record.
#[derive(Clone, Debug)]
pub struct FilesIter<'a> {
    files: Files<'a>,
    next: u32,
}

impl Iterator for FilesIter<'_> {
    type Item = FileEntry;

    fn next(&mut self) -> Option<FileEntry> {
        let e = self.files.get(self.next)?;
        self.next = self.next.checked_add(1)?;
        Some(e)
    }
}

/// The SHM record (version 1.2): which shmem object the shared anonymous
/// VMA before it maps. Every VMA of the image mapping the same object has
/// the same id; ids are numbered 1, 2, ... in order of first appearance in
/// the image (the [`Validator`] checks it), so the largest id is the number
/// of objects ([`Summary::shm_objects`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shm {
    /// The object's id in this image, at least 1.
    pub id: u64,
}

impl Shm {
    fn decode(p: &[u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let (Some(id), Some(reserved)) = (r.u64(), r.u64()) else {
            return Err(ErrorKind::BadPayloadLength {
                len: to_u64(p.len()),
                expected: SHM_PAYLOAD_LEN as u64,
            });
        };
        if reserved != 0 {
            return Err(ErrorKind::NonZeroReserved);
        }
        if id == 0 {
            return Err(ErrorKind::BadShmId { id });
        }
        Ok(Self { id })
    }
}

/// The THREAD record: per-thread state a task registered with the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Thread {
    /// `set_tid_address()` / `CLONE_CHILD_CLEARTID`: cleared and woken at exit.
    pub clear_child_tid: u64,
    /// `set_robust_list()` head, 0 for none.
    pub robust_list: u64,
    /// Its length.
    pub robust_list_len: u64,
    /// The registered rseq area, 0 for none.
    pub rseq: u64,
    /// Its length.
    pub rseq_len: u32,
    /// Its signature.
    pub rseq_sig: u32,
}

impl Thread {
    fn decode(p: &[u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let (Some(clear_child_tid), Some(robust_list), Some(robust_list_len), Some(rseq)) = (r.u64(), r.u64(), r.u64(), r.u64())
        else {
            return Err(ErrorKind::BadPayloadLength { len: to_u64(p.len()), expected: THREAD_PAYLOAD_LEN as u64 });
        };
        let (Some(rseq_len), Some(rseq_sig), Some(reserved)) = (r.u32(), r.u32(), r.u64()) else {
            return Err(ErrorKind::BadPayloadLength { len: to_u64(p.len()), expected: THREAD_PAYLOAD_LEN as u64 });
        };
        if reserved != 0 {
            return Err(ErrorKind::NonZeroReserved);
        }
        let t = Self { clear_child_tid, robust_list, robust_list_len, rseq, rseq_len, rseq_sig };
        if clear_child_tid >= USER_SPACE_LIMIT
            || robust_list >= USER_SPACE_LIMIT
            || rseq >= USER_SPACE_LIMIT
            || robust_list_len > MAX_ROBUST_LIST_LEN
            || rseq_len > 4096
        {
            return Err(ErrorKind::BadThreadState);
        }
        Ok(t)
    }
}

/// A decoded record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Record<'a> {
    /// TREE.
    Tree(Tree<'a>),
    /// TASK.
    Task(Task),
    /// REGS.
    Regs(Regs),
    /// FPU.
    Fpu(Fpu<'a>),
    /// MM.
    Mm(Mm<'a>),
    /// VMA.
    Vma(Vma<'a>),
    /// PAGES.
    Pages(Pages<'a>),
    /// TRAILER.
    Trailer(Trailer),
    /// FILES (version 1.1).
    Files(Files<'a>),
    /// SHM (version 1.2).
    Shm(Shm),
    /// THREAD.
    Thread(Thread),
    /// A record of a type this version does not define, skipped.
    Unknown {
        /// Its type.
        kind: u32,
        /// Its flags (must-understand clear).
        flags: u32,
        /// Its payload (empty when it came through [`Validator`], which
        /// hands it to [`Validator::feed_data`]).
        payload: &'a [u8],
    },
}

impl Record<'_> {
    /// The record type.
    pub fn kind(&self) -> u32 {
        match self {
            Record::Tree(_) => RECORD_TREE,
            Record::Task(_) => RECORD_TASK,
            Record::Regs(_) => RECORD_REGS,
            Record::Fpu(_) => RECORD_FPU,
            Record::Mm(_) => RECORD_MM,
            Record::Vma(_) => RECORD_VMA,
            Record::Pages(_) => RECORD_PAGES,
            Record::Trailer(_) => RECORD_TRAILER,
            Record::Files(_) => RECORD_FILES,
            Record::Shm(_) => RECORD_SHM,
            Record::Thread(_) => RECORD_THREAD,
            Record::Unknown { kind, .. } => *kind,
        }
    }
}

/// Decodes one payload and checks what the record alone can tell (not its
/// place in the image: see [`Validator`]). `payload` is the whole payload,
/// page data included; `hdr` comes from the record header, `file` from the
/// file header. Errors name no offset: the caller knows it.
pub fn decode_record<'a>(
    hdr: &RecordHeader,
    payload: &'a [u8],
    file: &FileHeader,
) -> Result<Record<'a>, ErrorKind> {
    if to_u64(payload.len()) != hdr.len {
        return Err(ErrorKind::BadPayloadLength {
            len: to_u64(payload.len()),
            expected: hdr.len,
        });
    }
    if !hdr.is_known() {
        if hdr.flags & RECORD_FLAG_MUST_UNDERSTAND != 0 {
            return Err(ErrorKind::UnknownMustUnderstand);
        }
        return Ok(Record::Unknown {
            kind: hdr.kind,
            flags: hdr.flags,
            payload,
        });
    }
    if hdr.flags != record_flags(hdr.kind) {
        return Err(ErrorKind::BadRecordFlags { flags: hdr.flags });
    }
    check_len(hdr, file)?;
    decode_known(hdr, payload, file)
}

/// Type-specific length rules checkable from the record header alone.
fn check_len(hdr: &RecordHeader, file: &FileHeader) -> Result<(), ErrorKind> {
    let len = hdr.len;
    let (min, max) = match hdr.kind {
        RECORD_TREE => (TREE_FIXED_LEN, TREE_MAX_PAYLOAD),
        RECORD_TASK => (TASK_PAYLOAD_LEN, TASK_PAYLOAD_LEN),
        RECORD_REGS => (REGS_PAYLOAD_LEN, REGS_PAYLOAD_LEN),
        RECORD_FPU => {
            let n = Fpu::payload_len(file.xstate_size).unwrap_or(usize::MAX);
            (n, n)
        }
        RECORD_MM => (MM_FIXED_LEN, MM_MAX_PAYLOAD),
        RECORD_VMA => (VMA_FIXED_LEN, VMA_MAX_PAYLOAD),
        RECORD_PAGES => (PAGES_FIXED_LEN, usize::MAX),
        RECORD_FILES => (FILES_FIXED_LEN, FILES_MAX_PAYLOAD),
        RECORD_SHM => (SHM_PAYLOAD_LEN, SHM_PAYLOAD_LEN),
        RECORD_THREAD => (THREAD_PAYLOAD_LEN, THREAD_PAYLOAD_LEN),
        _ => (TRAILER_PAYLOAD_LEN, TRAILER_PAYLOAD_LEN),
    };
    let (min, max) = (to_u64(min), to_u64(max));
    if len > max && min != max {
        return Err(ErrorKind::RecordTooLarge { len, max });
    }
    if len < min || (min == max && len != min) {
        return Err(ErrorKind::BadPayloadLength { len, expected: min });
    }
    Ok(())
}

fn decode_known<'a>(
    hdr: &RecordHeader,
    p: &'a [u8],
    file: &FileHeader,
) -> Result<Record<'a>, ErrorKind> {
    Ok(match hdr.kind {
        RECORD_TREE => {
            let t = Tree::decode(p)?;
            t.check()?;
            Record::Tree(t)
        }
        RECORD_TASK => Record::Task(Task::decode(p)?),
        RECORD_REGS => Record::Regs(Regs::decode(p)?),
        RECORD_FPU => Record::Fpu(Fpu::decode(p, file)?),
        RECORD_MM => Record::Mm(Mm::decode(p, file)?),
        RECORD_VMA => Record::Vma(Vma::decode(p, file)?),
        RECORD_PAGES => {
            let fixed = p.get(..PAGES_FIXED_LEN).unwrap_or(&[]);
            let (addr, nr_pages) = Pages::decode_fixed(fixed, hdr.len, file)?;
            Record::Pages(Pages {
                addr,
                nr_pages,
                data: p.get(PAGES_FIXED_LEN..).unwrap_or(&[]),
            })
        }
        RECORD_FILES => Record::Files(Files::decode(p)?),
        RECORD_SHM => Record::Shm(Shm::decode(p)?),
        RECORD_THREAD => Record::Thread(Thread::decode(p)?),
        _ => Record::Trailer(Trailer::decode(p)?),
    })
}

// ---------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Open {
    /// Before the file header.
    Start,
    /// At a record boundary.
    None,
    /// A TREE record waits for this many entries.
    Tree(u32),
    /// A PAGES record waits for this many bytes of page data.
    Data(u64),
    /// The trailer is written.
    Done,
}

/// Writes an image record by record, each into a caller-supplied buffer,
/// keeping the offset, the record count and the CRC32C for the trailer.
///
/// Every call writes one piece at the start of `buf` and returns its length;
/// on error nothing is written and the state is unchanged. The caller then
/// writes `buf[..n]` out. The encoder checks framing (lengths, limits,
/// sequence of pieces), not the image rules: run a [`Validator`] for that.
#[derive(Clone, Debug)]
pub struct Encoder {
    header: FileHeader,
    open: Open,
    offset: u64,
    records: u64,
    crc: Crc32c,
}

impl Encoder {
    /// An encoder for an image with this file header.
    pub fn new(header: FileHeader) -> Self {
        Self {
            header,
            open: Open::Start,
            offset: 0,
            records: 0,
            crc: Crc32c::new(),
        }
    }

    /// Bytes written so far (the offset of the next piece).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// CRC32C of everything written so far.
    pub fn crc32c(&self) -> u32 {
        self.crc.value()
    }

    /// The file header this encoder writes.
    pub fn file_header(&self) -> &FileHeader {
        &self.header
    }

    /// Computes the CRC32C with `imp` from now on (see [`CrcImpl`]).
    pub fn set_crc_impl(&mut self, imp: CrcImpl) {
        self.crc.set_impl(imp);
    }

    fn commit(&mut self, buf: &[u8], n: usize) -> usize {
        self.crc.update(buf.get(..n).unwrap_or(&[]));
        self.offset = self.offset.saturating_add(to_u64(n));
        n
    }

    /// Writes a record header then `body` (which writes `len` bytes).
    fn record(
        &mut self,
        kind: u32,
        flags: u32,
        len: usize,
        buf: &mut [u8],
        body: impl FnOnce(&mut Wr<'_>) -> Option<()>,
    ) -> Result<usize, EncodeError> {
        self.record_open(kind, flags, len, len, buf, body)
    }

    /// Like `record`, but only `written` bytes of the `len`-byte payload
    /// are written now.
    fn record_open(
        &mut self,
        kind: u32,
        flags: u32,
        len: usize,
        written: usize,
        buf: &mut [u8],
        body: impl FnOnce(&mut Wr<'_>) -> Option<()>,
    ) -> Result<usize, EncodeError> {
        if self.open != Open::None {
            return Err(EncodeError::Sequence);
        }
        if len.checked_rem(ALIGN) != Some(0) || to_u64(len) > MAX_RECORD_PAYLOAD {
            return Err(EncodeError::Limit);
        }
        let n = RECORD_HEADER_LEN
            .checked_add(written)
            .ok_or(EncodeError::Limit)?;
        if buf.len() < n {
            return Err(EncodeError::BufferTooSmall { needed: n });
        }
        let mut w = Wr::new(buf.get_mut(..n).unwrap_or(&mut []));
        let ok = (|| {
            w.u32(kind)?;
            w.u32(flags)?;
            w.u64(to_u64(len))?;
            body(&mut w)?;
            (w.pos == n).then_some(())
        })();
        ok.ok_or(EncodeError::Limit)?;
        self.records = self.records.saturating_add(1);
        Ok(self.commit(buf, n))
    }

    /// Writes the file header. First call.
    pub fn header(&mut self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if self.open != Open::Start {
            return Err(EncodeError::Sequence);
        }
        let n = self.header.encode(buf)?;
        self.open = Open::None;
        Ok(self.commit(buf, n))
    }

    /// Writes a whole TREE record.
    pub fn tree(&mut self, tree: &Tree<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if tree.len() > MAX_TASKS {
            return Err(EncodeError::Limit);
        }
        let len = Tree::payload_len(tree.len()).ok_or(EncodeError::Limit)?;
        self.record(RECORD_TREE, RECORD_FLAG_MUST_UNDERSTAND, len, buf, |w| {
            tree.encode_body(w)
        })
    }

    /// Starts a TREE record of `count` tasks: writes its header and fixed
    /// part; then call [`tree_entry`](Self::tree_entry) `count` times.
    pub fn tree_begin(&mut self, count: u32, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if count > MAX_TASKS {
            return Err(EncodeError::Limit);
        }
        let len = Tree::payload_len(count).ok_or(EncodeError::Limit)?;
        let n = self.record_open(
            RECORD_TREE,
            RECORD_FLAG_MUST_UNDERSTAND,
            len,
            TREE_FIXED_LEN,
            buf,
            |w| {
                w.u32(count)?;
                w.u32(0)
            },
        )?;
        if count > 0 {
            self.open = Open::Tree(count);
        }
        Ok(n)
    }

    /// Writes one entry of the TREE record started by
    /// [`tree_begin`](Self::tree_begin); returns [`TREE_ENTRY_LEN`].
    pub fn tree_entry(&mut self, e: &TreeEntry, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let Open::Tree(left) = self.open else {
            return Err(EncodeError::Sequence);
        };
        let dst = buf
            .get_mut(..TREE_ENTRY_LEN)
            .ok_or(EncodeError::BufferTooSmall {
                needed: TREE_ENTRY_LEN,
            })?;
        e.encode(&mut Wr::new(dst)).ok_or(EncodeError::Limit)?;
        self.open = match left.checked_sub(1) {
            Some(0) | None => Open::None,
            Some(l) => Open::Tree(l),
        };
        Ok(self.commit(buf, TREE_ENTRY_LEN))
    }

    /// Writes a TASK record.
    pub fn task(&mut self, t: &Task, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.record(
            RECORD_TASK,
            RECORD_FLAG_MUST_UNDERSTAND,
            TASK_PAYLOAD_LEN,
            buf,
            |w| t.encode_body(w),
        )
    }

    /// Writes a REGS record.
    pub fn regs(&mut self, r: &Regs, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.record(
            RECORD_REGS,
            RECORD_FLAG_MUST_UNDERSTAND,
            REGS_PAYLOAD_LEN,
            buf,
            |w| r.to_array().iter().try_for_each(|&v| w.u64(v)),
        )
    }

    /// Writes an FPU record; `xstate` must be `xstate_size` bytes long.
    pub fn fpu(&mut self, xstate: &[u8], buf: &mut [u8]) -> Result<usize, EncodeError> {
        if to_u64(xstate.len()) != u64::from(self.header.xstate_size) {
            return Err(EncodeError::XstateSize);
        }
        let len = Fpu::payload_len(self.header.xstate_size).ok_or(EncodeError::Limit)?;
        self.record(RECORD_FPU, RECORD_FLAG_MUST_UNDERSTAND, len, buf, |w| {
            w.u32(u32::try_from(xstate.len()).ok()?)?;
            w.u32(0)?;
            w.put(xstate)?;
            w.pad()
        })
    }

    /// Writes an MM record.
    pub fn mm(&mut self, mm: &Mm<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if mm.auxv.len() > MAX_AUXV || mm.exe_path.len() > MAX_PATH_LEN {
            return Err(EncodeError::Limit);
        }
        let len = Mm::payload_len(mm.auxv.len(), mm.exe_path.len()).ok_or(EncodeError::Limit)?;
        self.record(RECORD_MM, RECORD_FLAG_MUST_UNDERSTAND, len, buf, |w| {
            mm.encode_body(w)
        })
    }

    /// Writes a VMA record.
    pub fn vma(&mut self, v: &Vma<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if v.path.len() > MAX_PATH_LEN {
            return Err(EncodeError::Limit);
        }
        let len = Vma::payload_len(v.path.len()).ok_or(EncodeError::Limit)?;
        self.record(RECORD_VMA, RECORD_FLAG_MUST_UNDERSTAND, len, buf, |w| {
            v.encode_body(w)
        })
    }

    /// Writes a FILES record (version 1.1, skippable) of `entries`, which
    /// should be in ascending fd order with valid fds and kinds (the
    /// encoder checks the count only). Needs [`Files::payload_len`] plus
    /// [`RECORD_HEADER_LEN`] bytes of `buf`.
    pub fn files(&mut self, entries: &[FileEntry], buf: &mut [u8]) -> Result<usize, EncodeError> {
        let count = u32::try_from(entries.len()).map_err(|_| EncodeError::Limit)?;
        if count > MAX_FILES {
            return Err(EncodeError::Limit);
        }
        let len = Files::payload_len(count).ok_or(EncodeError::Limit)?;
        self.record(RECORD_FILES, record_flags(RECORD_FILES), len, buf, |w| {
            w.u32(count)?;
            w.u32(0)?;
            entries.iter().try_for_each(|e| {
                w.u32(e.fd)?;
                w.u32(e.kind)
            })
        })
    }

    /// Writes a decoded FILES record again.
    fn files_decoded(&mut self, f: &Files<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let count = f.len();
        if count > MAX_FILES {
            return Err(EncodeError::Limit);
        }
        let len = Files::payload_len(count).ok_or(EncodeError::Limit)?;
        self.record(RECORD_FILES, record_flags(RECORD_FILES), len, buf, |w| {
            w.u32(count)?;
            w.u32(0)?;
            w.put(f.raw)
        })
    }

    /// Writes an SHM record (version 1.2, skippable), right after the
    /// VMA record of a shared anonymous mapping. The id must be at least 1
    /// (else [`EncodeError::Limit`]); the caller numbers the objects in
    /// order of first appearance (the encoder does not check it).
    pub fn shm(&mut self, s: &Shm, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if s.id == 0 {
            return Err(EncodeError::Limit);
        }
        self.record(RECORD_SHM, record_flags(RECORD_SHM), SHM_PAYLOAD_LEN, buf, |w| {
            w.u64(s.id)?;
            w.u64(0)
        })
    }

    /// Writes a THREAD record.
    pub fn thread(&mut self, t: &Thread, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.record(RECORD_THREAD, record_flags(RECORD_THREAD), THREAD_PAYLOAD_LEN, buf, |w| {
            w.u64(t.clear_child_tid)?;
            w.u64(t.robust_list)?;
            w.u64(t.robust_list_len)?;
            w.u64(t.rseq)?;
            w.u32(t.rseq_len)?;
            w.u32(t.rseq_sig)?;
            w.u64(0)
        })
    }

    fn pages_len(&self, nr_pages: u64) -> Result<usize, EncodeError> {
        if nr_pages == 0 || nr_pages > MAX_PAGES_PER_RUN {
            return Err(EncodeError::Limit);
        }
        let data = Pages::data_len(nr_pages, self.header.page_size).ok_or(EncodeError::Limit)?;
        usize::try_from(data)
            .ok()
            .and_then(|d| d.checked_add(PAGES_FIXED_LEN))
            .ok_or(EncodeError::Limit)
    }

    /// Writes a whole PAGES record (`p.data` holds the pages).
    pub fn pages(&mut self, p: &Pages<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let len = self.pages_len(p.nr_pages)?;
        if Some(p.data.len()) != len.checked_sub(PAGES_FIXED_LEN) {
            return Err(EncodeError::Limit);
        }
        self.record(RECORD_PAGES, RECORD_FLAG_MUST_UNDERSTAND, len, buf, |w| {
            w.u64(p.addr)?;
            w.u64(p.nr_pages)?;
            w.put(p.data)
        })
    }

    /// Starts a PAGES record of `nr_pages` pages at `addr`: writes its
    /// header and fixed part (32 bytes). The caller then writes the page
    /// data itself and reports every piece with [`data`](Self::data).
    pub fn pages_begin(
        &mut self,
        addr: u64,
        nr_pages: u64,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let len = self.pages_len(nr_pages)?;
        let n = self.record_open(
            RECORD_PAGES,
            RECORD_FLAG_MUST_UNDERSTAND,
            len,
            PAGES_FIXED_LEN,
            buf,
            |w| {
                w.u64(addr)?;
                w.u64(nr_pages)
            },
        )?;
        self.open = Open::Data(to_u64(len.saturating_sub(PAGES_FIXED_LEN)));
        Ok(n)
    }

    /// Accounts for page data of the open PAGES record that the caller
    /// writes out itself (adds it to the CRC and the offset).
    pub fn data(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let imp = self.crc.imp;
        self.data_with_crc(bytes.len(), |st| imp(st, bytes))
    }

    /// Like [`data`](Self::data), for `len` bytes of page data that the
    /// caller checksums itself (they need not be in one buffer): `crc` maps
    /// the raw CRC32C state over them (see [`CrcImpl`]). It is called only
    /// if the bytes fit the open record.
    pub fn data_with_crc(&mut self, len: usize, crc: impl FnOnce(u32) -> u32) -> Result<(), EncodeError> {
        let Open::Data(left) = self.open else {
            return Err(EncodeError::Sequence);
        };
        let left = left
            .checked_sub(to_u64(len))
            .ok_or(EncodeError::Overrun)?;
        self.crc.update_with(crc);
        self.offset = self.offset.saturating_add(to_u64(len));
        self.open = if left == 0 {
            Open::None
        } else {
            Open::Data(left)
        };
        Ok(())
    }

    /// Writes a record of any type with `flags` and `payload`, zero-padded
    /// to [`ALIGN`] (for records a later minor version adds, and for tests).
    pub fn raw(
        &mut self,
        kind: u32,
        flags: u32,
        payload: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let len = pad8(payload.len()).ok_or(EncodeError::Limit)?;
        self.record(kind, flags, len, buf, |w| {
            w.put(payload)?;
            w.pad()
        })
    }

    /// Writes any decoded record (the trailer with its own fields: use
    /// [`trailer`](Self::trailer) for a correct one).
    pub fn record_any(&mut self, r: &Record<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        match r {
            Record::Tree(t) => self.tree(t, buf),
            Record::Task(t) => self.task(t, buf),
            Record::Regs(r) => self.regs(r, buf),
            Record::Fpu(f) => self.fpu(f.xstate, buf),
            Record::Mm(m) => self.mm(m, buf),
            Record::Vma(v) => self.vma(v, buf),
            Record::Pages(p) => self.pages(p, buf),
            Record::Trailer(t) => self.trailer_with(t, buf),
            Record::Files(f) => self.files_decoded(f, buf),
            Record::Shm(s) => self.shm(s, buf),
            Record::Thread(t) => self.thread(t, buf),
            Record::Unknown {
                kind,
                flags,
                payload,
            } => self.raw(*kind, *flags, payload, buf),
        }
    }

    /// Writes the trailer: record count, total size, CRC32C. Last call.
    pub fn trailer(&mut self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let t = Trailer {
            records: self.records,
            total_bytes: self
                .offset
                .checked_add(TRAILER_RECORD_LEN as u64)
                .ok_or(EncodeError::Limit)?,
            crc32c: self.crc.value(),
        };
        self.trailer_with(&t, buf)
    }

    fn trailer_with(&mut self, t: &Trailer, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let n = self.record(
            RECORD_TRAILER,
            RECORD_FLAG_MUST_UNDERSTAND,
            TRAILER_PAYLOAD_LEN,
            buf,
            |w| {
                w.u64(t.records)?;
                w.u64(t.total_bytes)?;
                w.u32(t.crc32c)?;
                w.u32(0)
            },
        )?;
        self.open = Open::Done;
        Ok(n)
    }
}

// ---------------------------------------------------------------------------
// Validator
// ---------------------------------------------------------------------------

/// What a [`Validator`] takes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The file header, [`HEADER_LEN`] bytes: [`Validator::feed_header`].
    Header,
    /// A record header, [`RECORD_HEADER_LEN`] bytes, or the end of the
    /// input: [`Validator::feed_record_header`] or [`Validator::end_of_input`].
    RecordHeader,
    /// The TREE payload, this many bytes at once: [`Validator::feed_tree`].
    Tree(u64),
    /// A payload (for PAGES: its fixed part), this many bytes at once:
    /// [`Validator::feed_payload`].
    Payload(u64),
    /// Page data or a skipped record's payload, this many bytes in pieces
    /// of any size: [`Validator::feed_data`].
    Data(u64),
    /// The trailer was valid: the image ends here.
    End,
    /// The image was refused (every call returns the error again).
    Failed(Error),
}

/// What a valid image holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The file header.
    pub header: FileHeader,
    /// Records before the trailer.
    pub records: u64,
    /// Size of the image.
    pub total_bytes: u64,
    /// CRC32C of the image before the trailer.
    pub crc32c: u32,
    /// Tasks in the tree.
    pub tasks: u32,
    /// Address spaces (MM records).
    pub mms: u32,
    /// VMA records.
    pub vmas: u64,
    /// PAGES records.
    pub page_runs: u64,
    /// Pages in all PAGES records.
    pub pages: u64,
    /// Distinct shmem objects named by SHM records (the largest id; 0 in
    /// an image without SHM).
    pub shm_objects: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Header,
    RecordHeader,
    Tree,
    Payload,
    Data,
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TaskStage {
    /// No task record pending.
    None,
    /// A live task's TASK was read: its REGS comes next.
    NeedRegs,
    /// Its REGS was read: its FPU comes next.
    NeedFpu,
    /// Its FPU was read: its FILES or THREAD may come next (optional).
    MayFiles,
    /// Its FILES was read: its THREAD may come next (optional).
    MayThread,
}

/// Incremental validator: the same checks as [`validate`], fed one piece at
/// a time, with a small fixed-size state (no allocation). Only the TREE
/// payload must stay alive while validating (`'t`): later records refer to
/// it.
///
/// Loop on [`expect`](Self::expect) and feed what it asks for. Until
/// [`Expect::End`] nothing read may be acted upon: a valid prefix is not a
/// valid image.
#[derive(Clone, Debug)]
pub struct Validator<'t> {
    step: Step,
    failed: Option<Error>,
    header: Option<FileHeader>,
    tree: Option<Tree<'t>>,
    /// Bytes consumed.
    offset: u64,
    crc: Crc32c,
    /// Records whose header was consumed (the trailer excluded).
    records: u64,
    /// The current record and its offset.
    cur: RecordHeader,
    cur_offset: u64,
    /// Bytes left for the current step (Payload: exact; Data: remaining).
    left: u64,
    /// Record count and CRC before the trailer.
    trailer_expect: (u64, u32),
    ntasks: u32,
    nmms: u32,
    next_task: u32,
    stage: TaskStage,
    mms_done: u32,
    vmas_left: u32,
    cur_vma: Option<(u64, u64)>,
    prev_vma: Option<(u64, u64)>,
    pages_floor: u64,
    vmas: u64,
    page_runs: u64,
    pages: u64,
    /// The last VMA was shared anonymous and no known record followed it
    /// yet: an SHM record may come.
    may_shm: bool,
    /// The largest SHM id so far (ids come in order of first appearance).
    shm_max: u64,
}

impl Default for Validator<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'t> Validator<'t> {
    /// A validator at the start of an image.
    pub const fn new() -> Self {
        Self {
            step: Step::Header,
            failed: None,
            header: None,
            tree: None,
            offset: 0,
            crc: Crc32c::new(),
            records: 0,
            cur: RecordHeader {
                kind: 0,
                flags: 0,
                len: 0,
            },
            cur_offset: 0,
            left: 0,
            trailer_expect: (0, 0),
            ntasks: 0,
            nmms: 0,
            next_task: 0,
            stage: TaskStage::None,
            mms_done: 0,
            vmas_left: 0,
            cur_vma: None,
            prev_vma: None,
            pages_floor: 0,
            vmas: 0,
            page_runs: 0,
            pages: 0,
            may_shm: false,
            shm_max: 0,
        }
    }

    /// What to feed next.
    pub fn expect(&self) -> Expect {
        if let Some(e) = self.failed {
            return Expect::Failed(e);
        }
        match self.step {
            Step::Header => Expect::Header,
            Step::RecordHeader => Expect::RecordHeader,
            Step::Tree => Expect::Tree(self.left),
            Step::Payload => Expect::Payload(self.left),
            Step::Data => Expect::Data(self.left),
            Step::End => Expect::End,
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The file header, once fed.
    pub fn file_header(&self) -> Option<&FileHeader> {
        self.header.as_ref()
    }

    /// The tree, once fed.
    pub fn tree(&self) -> Option<Tree<'t>> {
        self.tree
    }

    /// The header of the current (last fed) record and its offset.
    pub fn current(&self) -> (RecordHeader, u64) {
        (self.cur, self.cur_offset)
    }

    fn fail<T>(&mut self, e: Error) -> Result<T, Error> {
        self.failed = Some(e);
        Err(e)
    }

    fn fail_here<T>(&mut self, kind: ErrorKind) -> Result<T, Error> {
        let e = Error::new(self.cur_offset, self.cur.kind, kind);
        self.fail(e)
    }

    /// Common entry checks: not failed, at `step`; past the end: data after
    /// the trailer.
    fn enter(&mut self, step: Step) -> Result<(), Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.step == Step::End {
            let e = Error::new(self.offset, 0, ErrorKind::DataAfterTrailer);
            return self.fail(e);
        }
        if self.step != step {
            return self.fail_here(ErrorKind::WrongStep);
        }
        Ok(())
    }

    /// Computes the CRC32C with `imp` from now on (see [`CrcImpl`]).
    pub fn set_crc_impl(&mut self, imp: CrcImpl) {
        self.crc.set_impl(imp);
    }

    fn consume(&mut self, bytes: &[u8]) {
        self.crc.update(bytes);
        self.offset = self.offset.saturating_add(to_u64(bytes.len()));
    }

    /// Feeds the file header (exactly [`HEADER_LEN`] bytes; fewer: the input
    /// ended there).
    pub fn feed_header(&mut self, bytes: &[u8]) -> Result<FileHeader, Error> {
        self.enter(Step::Header)?;
        if bytes.len() > HEADER_LEN {
            return self.fail(Error::new(0, 0, ErrorKind::ExcessData));
        }
        match FileHeader::decode(bytes) {
            Ok(h) => {
                self.header = Some(h);
                self.consume(bytes);
                self.step = Step::RecordHeader;
                Ok(h)
            }
            Err(e) => self.fail(e),
        }
    }

    /// The record type required next, at a record boundary (besides it, a
    /// FILES record may come in stage `MayFiles`, an SHM record right after
    /// a shared anonymous VMA, PAGES inside a VMA).
    fn expected(&self) -> u32 {
        if self.tree.is_none() {
            RECORD_TREE
        } else if self.stage == TaskStage::NeedRegs {
            RECORD_REGS
        } else if self.stage == TaskStage::NeedFpu {
            RECORD_FPU
        } else if self.next_task < self.ntasks {
            RECORD_TASK
        } else if self.vmas_left > 0 {
            RECORD_VMA
        } else if self.mms_done < self.nmms {
            RECORD_MM
        } else {
            RECORD_TRAILER
        }
    }

    /// Feeds a record header (exactly [`RECORD_HEADER_LEN`] bytes; fewer:
    /// the input ended there). Checks its type against the place in the
    /// image and its length against the type.
    pub fn feed_record_header(&mut self, bytes: &[u8]) -> Result<RecordHeader, Error> {
        self.enter(Step::RecordHeader)?;
        self.cur_offset = self.offset;
        self.cur = RecordHeader {
            kind: 0,
            flags: 0,
            len: 0,
        };
        if bytes.len() > RECORD_HEADER_LEN {
            return self.fail_here(ErrorKind::ExcessData);
        }
        let h = match RecordHeader::decode(bytes, self.offset) {
            Ok(h) => h,
            Err(e) => return self.fail(e),
        };
        self.cur = h;
        let Some(file) = self.header else {
            return self.fail_here(ErrorKind::WrongStep);
        };
        if !h.is_known() {
            if h.flags & RECORD_FLAG_MUST_UNDERSTAND != 0 {
                return self.fail_here(ErrorKind::UnknownMustUnderstand);
            }
            self.records = self.records.saturating_add(1);
            self.consume(bytes);
            self.left = h.len;
            self.step = if h.len == 0 {
                Step::RecordHeader
            } else {
                Step::Data
            };
            return Ok(h);
        }
        if h.flags != record_flags(h.kind) {
            return self.fail_here(ErrorKind::BadRecordFlags { flags: h.flags });
        }
        let expected = self.expected();
        let pages_ok = h.kind == RECORD_PAGES
            && self.stage == TaskStage::None
            && self.next_task == self.ntasks
            && self.mms_done > 0;
        let files_ok = (h.kind == RECORD_FILES && self.stage == TaskStage::MayFiles)
            || (h.kind == RECORD_THREAD && matches!(self.stage, TaskStage::MayFiles | TaskStage::MayThread));
        let shm_ok = h.kind == RECORD_SHM && self.may_shm;
        if h.kind != expected && !pages_ok && !files_ok && !shm_ok {
            return self.fail_here(ErrorKind::OutOfOrder { expected });
        }
        // The FILES slot closes at the next known record, whatever it is;
        // so does the SHM slot (an SHM record closes it in `place`).
        if matches!(self.stage, TaskStage::MayFiles | TaskStage::MayThread) && !files_ok {
            self.stage = TaskStage::None;
        }
        if h.kind != RECORD_SHM {
            self.may_shm = false;
        }
        if let Err(k) = check_len(&h, &file) {
            return self.fail_here(k);
        }
        if h.kind == RECORD_TRAILER {
            self.trailer_expect = (self.records, self.crc.value());
        } else {
            self.records = self.records.saturating_add(1);
        }
        self.consume(bytes);
        let (step, left) = match h.kind {
            RECORD_TREE => (Step::Tree, h.len),
            RECORD_PAGES => (Step::Payload, PAGES_FIXED_LEN as u64),
            _ => (Step::Payload, h.len),
        };
        self.step = step;
        self.left = left;
        Ok(h)
    }

    /// Takes the payload bytes of the current step; fewer than required:
    /// the input ended there.
    fn take_exact(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let n = to_u64(bytes.len());
        if n > self.left {
            return self.fail_here(ErrorKind::ExcessData);
        }
        if n < self.left {
            return self.fail_here(ErrorKind::TruncatedRecord {
                missing: self.left.saturating_sub(n),
            });
        }
        Ok(())
    }

    /// Feeds the whole TREE payload, which must outlive the validator.
    pub fn feed_tree(&mut self, payload: &'t [u8]) -> Result<Tree<'t>, Error> {
        self.enter(Step::Tree)?;
        self.take_exact(payload)?;
        let tree = match Tree::decode(payload) {
            Ok(t) => t,
            Err(k) => return self.fail_here(k),
        };
        let nmms = match tree.check() {
            Ok(n) => n,
            Err(k) => return self.fail_here(k),
        };
        self.tree = Some(tree);
        self.ntasks = tree.len();
        self.nmms = nmms;
        self.consume(payload);
        self.step = Step::RecordHeader;
        Ok(tree)
    }

    /// Feeds the whole payload of the current record (for PAGES: its fixed
    /// part only, then the page data through [`feed_data`](Self::feed_data)).
    /// Returns the decoded record, borrowing from `payload`.
    pub fn feed_payload<'p>(&mut self, payload: &'p [u8]) -> Result<Record<'p>, Error> {
        self.enter(Step::Payload)?;
        self.take_exact(payload)?;
        let Some(file) = self.header else {
            return self.fail_here(ErrorKind::WrongStep);
        };
        let rec = if self.cur.kind == RECORD_PAGES {
            Pages::decode_fixed(payload, self.cur.len, &file).map(|(addr, nr_pages)| {
                Record::Pages(Pages {
                    addr,
                    nr_pages,
                    data: &[],
                })
            })
        } else {
            decode_known(&self.cur, payload, &file)
        };
        let rec = match rec {
            Ok(r) => r,
            Err(k) => return self.fail_here(k),
        };
        if let Err(k) = self.place(&rec, &file) {
            return self.fail_here(k);
        }
        self.consume(payload);
        self.step = match rec {
            Record::Trailer(_) => Step::End,
            Record::Pages(_) => {
                self.left = self.cur.len.saturating_sub(PAGES_FIXED_LEN as u64);
                Step::Data
            }
            _ => Step::RecordHeader,
        };
        Ok(rec)
    }

    /// Checks a decoded record against the state and updates it.
    fn place(&mut self, rec: &Record<'_>, file: &FileHeader) -> Result<(), ErrorKind> {
        use ErrorKind::*;
        match rec {
            Record::Task(t) => {
                if t.index != self.next_task {
                    return Err(TaskIndexMismatch {
                        index: t.index,
                        expected: self.next_task,
                    });
                }
                let e = self.tree.and_then(|tr| tr.get(t.index)).ok_or(OutOfOrder {
                    expected: RECORD_TREE,
                })?;
                if t.pid != e.pid() {
                    return Err(TaskPidMismatch {
                        pid: t.pid,
                        expected: e.pid(),
                    });
                }
                self.next_task = self.next_task.saturating_add(1);
                self.stage = if e.is_zombie() {
                    TaskStage::None
                } else {
                    TaskStage::NeedRegs
                };
            }
            Record::Regs(_) => self.stage = TaskStage::NeedFpu,
            Record::Fpu(_) => self.stage = TaskStage::MayFiles,
            Record::Files(_) => self.stage = TaskStage::MayThread,
            Record::Thread(_) => self.stage = TaskStage::None,
            Record::Shm(s) => {
                // Each id is one seen before (at most the largest so far:
                // ids have no gaps) or the next new one.
                let next = self.shm_max.saturating_add(1);
                if s.id == 0 {
                    return Err(BadShmId { id: s.id });
                }
                if s.id > next {
                    return Err(ShmIdNotInOrder { id: s.id, next });
                }
                self.shm_max = self.shm_max.max(s.id);
                self.may_shm = false;
            }
            Record::Mm(m) => {
                let expected = self.mms_done.saturating_add(1);
                if m.mm_id != expected {
                    return Err(MmIdMismatch {
                        mm_id: m.mm_id,
                        expected,
                    });
                }
                self.mms_done = expected;
                self.vmas_left = m.nr_vmas;
                self.cur_vma = None;
                self.prev_vma = None;
            }
            Record::Vma(v) => {
                if let Some((ps, pe)) = self.prev_vma {
                    if v.start < ps {
                        return Err(VmaUnsorted);
                    }
                    if v.start < pe {
                        return Err(VmaOverlap);
                    }
                }
                self.vmas_left = self.vmas_left.saturating_sub(1);
                self.cur_vma = Some((v.start, v.end));
                self.prev_vma = self.cur_vma;
                self.may_shm = v.kind == VmaKind::SharedAnon;
                self.pages_floor = v.start;
                self.vmas = self.vmas.saturating_add(1);
            }
            Record::Pages(p) => {
                let (vs, ve) = self.cur_vma.ok_or(PagesOutsideVma)?;
                let end = p.end(file.page_size).ok_or(PagesOutsideVma)?;
                if p.addr < vs || end > ve {
                    return Err(PagesOutsideVma);
                }
                if p.addr < self.pages_floor {
                    return Err(PagesNotAscending);
                }
                self.pages_floor = end;
                self.page_runs = self.page_runs.saturating_add(1);
                self.pages = self.pages.saturating_add(p.nr_pages);
            }
            Record::Trailer(t) => {
                let (records, crc) = self.trailer_expect;
                if t.records != records {
                    return Err(TrailerCountMismatch {
                        found: t.records,
                        expected: records,
                    });
                }
                let total = self.cur_offset.saturating_add(TRAILER_RECORD_LEN as u64);
                if t.total_bytes != total {
                    return Err(TrailerSizeMismatch {
                        found: t.total_bytes,
                        expected: total,
                    });
                }
                if t.crc32c != crc {
                    return Err(TrailerCrcMismatch {
                        found: t.crc32c,
                        expected: crc,
                    });
                }
            }
            Record::Tree(_) | Record::Unknown { .. } => {}
        }
        Ok(())
    }

    /// Feeds page data of the current PAGES record, or the payload of a
    /// skipped record, in pieces of any size.
    pub fn feed_data(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let imp = self.crc.imp;
        self.feed_data_crc(to_u64(bytes.len()), |st| Some(imp(st, bytes))).map(|_| ())
    }

    /// Like [`feed_data`](Self::feed_data) for `len` bytes that the caller
    /// checksums itself, without handing them over: `crc` maps the raw
    /// CRC32C state over them (see [`CrcImpl`]), or says `None` if it could
    /// not (the bytes are then not consumed, and `Ok(false)` is returned).
    /// `crc` is called only if the bytes fit the current record's data.
    pub fn feed_data_crc(&mut self, len: u64, crc: impl FnOnce(u32) -> Option<u32>) -> Result<bool, Error> {
        self.enter(Step::Data)?;
        let Some(left) = self.left.checked_sub(len) else {
            return self.fail_here(ErrorKind::ExcessData);
        };
        let Some(state) = crc(self.crc.state()) else {
            return Ok(false);
        };
        self.crc.update_with(|_| state);
        self.offset = self.offset.saturating_add(len);
        self.left = left;
        if left == 0 {
            self.step = Step::RecordHeader;
        }
        Ok(true)
    }

    /// Tells the validator the input ended; `Ok` only after a valid trailer.
    pub fn end_of_input(&mut self) -> Result<Summary, Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let missing = |s: &Self| ErrorKind::TruncatedRecord { missing: s.left };
        match (self.step, self.header) {
            (Step::End, Some(header)) => Ok(Summary {
                header,
                records: self.trailer_expect.0,
                total_bytes: self.offset,
                crc32c: self.trailer_expect.1,
                tasks: self.ntasks,
                mms: self.nmms,
                vmas: self.vmas,
                page_runs: self.page_runs,
                pages: self.pages,
                shm_objects: self.shm_max,
            }),
            (Step::Header, _) | (_, None) => {
                self.fail(Error::new(0, 0, ErrorKind::TruncatedHeader))
            }
            (Step::RecordHeader, _) => {
                let e = Error::new(self.offset, 0, ErrorKind::MissingTrailer);
                self.fail(e)
            }
            _ => {
                let k = missing(self);
                self.fail_here(k)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Reader and validate
// ---------------------------------------------------------------------------

/// A record of an image in memory, with its place.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Item<'a> {
    /// Offset of its record header.
    pub offset: u64,
    /// Its record header.
    pub header: RecordHeader,
    /// The record, borrowing from the image.
    pub record: Record<'a>,
}

/// Iterator over the records of an image in memory, validating as it goes
/// (a [`Validator`] inside). Yields each record, then `None` after a valid
/// trailer at the end of the input, or one `Err` and then `None`.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    v: Validator<'a>,
    done: bool,
    header: FileHeader,
}

impl<'a> Reader<'a> {
    /// Reads and checks the file header.
    pub fn new(data: &'a [u8]) -> Result<Self, Error> {
        let mut v = Validator::new();
        let n = data.len().min(HEADER_LEN);
        let header = v.feed_header(data.get(..n).unwrap_or(&[]))?;
        Ok(Self {
            data,
            pos: n,
            v,
            done: false,
            header,
        })
    }

    /// The file header.
    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    /// The validator state (e.g. [`Validator::end_of_input`] after the last
    /// record for the [`Summary`]).
    pub fn validator(&mut self) -> &mut Validator<'a> {
        &mut self.v
    }

    /// Takes up to `n` bytes.
    fn take(&mut self, n: u64) -> &'a [u8] {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let n = usize::try_from(n).unwrap_or(usize::MAX).min(rest.len());
        self.pos = self.pos.saturating_add(n);
        rest.get(..n).unwrap_or(&[])
    }

    fn step(&mut self) -> Result<Option<Item<'a>>, Error> {
        let at_end = self.pos >= self.data.len();
        match self.v.expect() {
            Expect::Failed(e) => return Err(e),
            Expect::End if at_end => return Ok(None),
            Expect::RecordHeader if at_end => {
                self.v.end_of_input()?;
                return Ok(None);
            }
            _ => {}
        }
        let bytes = self.take(RECORD_HEADER_LEN as u64);
        let header = self.v.feed_record_header(bytes)?;
        let offset = self.v.current().1;
        let record = match self.v.expect() {
            Expect::Tree(n) => {
                let p = self.take(n);
                Record::Tree(self.v.feed_tree(p)?)
            }
            Expect::Payload(n) => {
                let p = self.take(n);
                let rec = self.v.feed_payload(p)?;
                match (rec, self.v.expect()) {
                    (Record::Pages(pg), Expect::Data(n)) => {
                        let data = self.take(n);
                        self.v.feed_data(data)?;
                        if to_u64(data.len()) != n {
                            self.v.end_of_input()?;
                        }
                        Record::Pages(Pages { data, ..pg })
                    }
                    (rec, _) => rec,
                }
            }
            Expect::Data(n) => {
                let p = self.take(n);
                self.v.feed_data(p)?;
                if to_u64(p.len()) != n {
                    self.v.end_of_input()?;
                }
                Record::Unknown {
                    kind: header.kind,
                    flags: header.flags,
                    payload: p,
                }
            }
            _ => Record::Unknown {
                kind: header.kind,
                flags: header.flags,
                payload: &[],
            },
        };
        Ok(Some(Item {
            offset,
            header,
            record,
        }))
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Item<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step();
        match r {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Checks a whole image in memory: every rule, the trailer, nothing after
/// it. A restart must not act on an image before this (or a
/// [`Validator`] over the whole stream) has returned `Ok`.
pub fn validate(data: &[u8]) -> Result<Summary, Error> {
    let mut r = Reader::new(data)?;
    for item in &mut r {
        item?;
    }
    r.v.end_of_input()
}
