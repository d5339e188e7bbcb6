// SPDX-License-Identifier: GPL-2.0
//! The cptrst checkpoint image format, version 1.6.
//!
//! This folder is the single definition of the format. It is compiled
//! twice: into the kernel module as a child module (`#[path] mod image;` on
//! this `mod.rs`) and into the host crate `cptrst-image`, where it is
//! unit-tested and fuzzed. Hence:
//! `core` only, no crate-level attributes, nothing newer than Rust 1.85, no
//! `unsafe`, checked arithmetic, no panic reachable from the input.
//!
//! `Documentation/image-format.rst` describes the layout byte by byte. In
//! short: a 128-byte [`FileHeader`], then records, each a 16-byte
//! [`RecordHeader`] followed by a payload whose length is a multiple of 8.
//! The records come in this order:
//!
//! ```text
//! (ROUND PAGES*)*                                                  (1.6, live)
//! TREE
//! for each open file id 1..=F:   FILE FDATA*                      (1.4)
//! for each task, in tree order:  TASK [REGS FPU [FILES|FDS] [THREAD]]  (live tasks only)
//!                        (1.5):  TASK [REGS FPU [FDS] THREAD CREDS SIGNALS [PROCESS]]
//! for each mm id 1..=N:          MM (VMA [SHM|MAPFILE] (PAGES|PREVPAGES)*)*
//!                                                   (VMAs sorted by address; PREVPAGES 1.6)
//! TRAILER                                                          (counts + CRC32C)
//! ```
//!
//! Version 1.6 adds the live checkpoint's records, must-understand: ROUND
//! ([`Round`]: round, src, pid) starts a round section, the PAGES records
//! after it being pages of the address space `src` copied during that
//! round while the tree ran (absolute addresses, sorted, no VMA context);
//! the sections come between the file header and the TREE, `(round, src)`
//! strictly increasing. PREVPAGES ([`PrevPages`]: addr, nr_pages, src)
//! stands among a private, stack or heap VMA's PAGES, sorted with them:
//! its pages' content is their latest copy in the round sections of
//! `src`, one src per MM group. A 1.6 image without them is a 1.5 image.
//! [`Encoder::resume`] continues a stream written by earlier calls (the
//! module writes a live image in several ioctls).
//!
//! Version 1.5 adds a live task's credentials and signal state and its
//! process's, as must-understand records: CREDS ([`Creds`]: capability
//! sets, securebits, no_new_privs, supplementary groups) and SIGNALS
//! ([`Signals`]: alternate stack, parent-death signal, timer slack, the
//! pending signals of its own queue and, for a thread group leader, of the
//! process's) for every live task, after its THREAD (now required);
//! PROCESS ([`Process`]: resource limits, interval timers, signal
//! dispositions, POSIX timers, subreaper, THP, mlockall, dumpable) for
//! every live thread group leader, after its SIGNALS. It also adds the VMA
//! flags [`VMA_WIPEONFORK`] and [`VMA_LOCKONFAULT`]. An older image has
//! none of them (a restart then keeps the restarting user's credentials and
//! the default signal state).
//!
//! Version 1.4 adds the open files, as must-understand records (an older
//! reader refuses them, as it must: it would restore the fds wrongly).
//! FILE ([`OpenFile`]) is one open file object (a `struct file`: kind,
//! flags, position, identity), numbered 1, 2, ... consecutive; its content
//! (a memfd's, a deleted file's, a pipe's buffered bytes) follows in FDATA
//! records ([`FileData`], at most [`FDATA_MAX_CHUNK`] bytes each, streamed
//! like page data). FDS ([`Fds`]) is a live thread group leader's fd
//! table (fd, FILE id, `FD_CLOEXEC`) with its umask, root and cwd, in the
//! FILES slot; a 1.4 image has no FILES record. MAPFILE ([`MapFile`])
//! follows a file VMA and says what its file must be (type and size, or
//! the FILE whose object it maps).
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
//!
//! The files, by concern:
//!
//! - `consts.rs`: magic, versions, record types and flags, limits, payload
//!   lengths, names of record types and file kinds;
//! - `header.rs`: the frame ([`FileHeader`], [`RecordHeader`], [`Trailer`]);
//! - `records/`: one file per kind of state ([`Tree`]; [`Task`], [`Fpu`],
//!   [`Thread`]; [`Regs`] and the register layout [`regs`]; [`Mm`],
//!   [`Vma`], [`Pages`], [`Shm`]; [`Round`], [`PrevPages`] in `live.rs`;
//!   [`Files`]; [`OpenFile`], [`FileData`],
//!   [`Fds`], [`MapFile`] in `fdt.rs`; [`Creds`], [`Signals`], [`Process`]
//!   in `sig.rs`), the [`Record`] enum and [`decode_record`];
//! - `encoder.rs`: [`Encoder`];
//! - `validator.rs`: [`Validator`], [`Expect`], [`Summary`];
//! - `reader.rs`: [`Reader`] and [`validate`];
//! - `checksum.rs`: CRC32C and the [`CrcImpl`] hook;
//! - `error.rs`: [`Error`], [`ErrorKind`], [`EncodeError`] and their messages;
//! - `wire.rs` (private): the little-endian cursors and byte checks.
//!
//! Everything public is re-exported here: users name `image::X` (the
//! module) or `cptrst_image::X` (the tools), never a file.

mod checksum;
mod consts;
mod encoder;
mod error;
mod header;
mod reader;
mod records;
mod validator;
mod wire;

pub use checksum::{crc32c, crc32c_raw, crc32c_update, Crc32c, CrcImpl};
pub use consts::*;
pub use encoder::Encoder;
pub use error::{EncodeError, Error, ErrorKind};
pub use header::{FileHeader, RecordHeader, Trailer};
pub use reader::{validate, Item, Reader};
pub use records::fdt::{FdEntry, Fds, FileData, FileKind, MapFile, OpenFile};
pub use records::files::{FileEntry, Files, FilesIter};
pub use records::live::{PrevPages, Round};
pub use records::mm::{Auxv, AuxvIter, Mm, Pages, Shm, Vma, VmaKind};
pub use records::regs::{self, Regs};
pub use records::sig::{
    Creds, CredsHead, Groups, Itimer, PosixTimer, Process, ProcessHead, Rlimit, SigAction, SigInfo,
    Signals, SignalsHead, Timers,
};
pub use records::task::{Fpu, Task, Thread};
pub use records::tree::{Tree, TreeEntry, TreeIter};
pub use records::{decode_record, Record};
pub use validator::{Expect, Summary, Validator};
