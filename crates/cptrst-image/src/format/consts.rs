// SPDX-License-Identifier: GPL-2.0
//! The format's numbers: magic and versions, the header's fixed values,
//! record types and flags, limits, payload lengths, and the printable names
//! of record types and file kinds.

use super::records::regs;
#[cfg(doc)]
use super::{Encoder, Files, Thread, VmaKind};

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
