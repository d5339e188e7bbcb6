// SPDX-License-Identifier: GPL-2.0
//! What can go wrong: [`Error`] and [`ErrorKind`] (why an image was
//! refused, one variant per check) and [`EncodeError`] (why the encoder
//! could not write), with their messages.

use core::fmt;

use super::consts::*;
#[cfg(doc)]
use super::{Encoder, Validator};

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
    pub(super) const fn new(offset: u64, record: u32, kind: ErrorKind) -> Self {
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
    /// VMA flags the image's version does not define ([`VMA_WIPEONFORK`]
    /// and [`VMA_LOCKONFAULT`] before 1.5), or [`VMA_LOCKONFAULT`] without
    /// [`VMA_LOCKED`].
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
    /// A THREAD record with an address outside user space or a robust list
    /// or rseq length out of range.
    BadThreadState,
    /// An SHM record with id 0 (ids start at 1).
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
    /// A FILES record (version 1.1) in an image of minor version 1.4 or
    /// later, where FDS replaces it.
    FilesInNewImage {
        /// The image's minor version.
        minor: u16,
    },
    /// A FILE, FDATA, FDS or MAPFILE record in an image of a minor version
    /// before 1.4, or a CREDS, SIGNALS or PROCESS record in an image of a
    /// minor version before 1.5 (or VMA flags of 1.5 in such an image).
    RecordNewerThanImage {
        /// The image's minor version.
        minor: u16,
    },
    /// A FILE whose id is not the next one (ids are 1, 2, ... consecutive,
    /// at most [`MAX_FILES`]).
    BadFileId {
        /// The id found.
        id: u32,
        /// The id required.
        expected: u32,
    },
    /// A FILE's `flags` has bits outside [`OPEN_FLAGS_KNOWN`] or the
    /// access mode 3.
    BadOpenFlags {
        /// The FILE id.
        id: u32,
        /// The flags found.
        flags: u32,
    },
    /// A FILE's `flags` has `O_PATH` (only Reg and Dir) or `O_DIRECTORY`
    /// (only Dir) for another kind.
    OpenFlagsNotForKind {
        /// The FILE id.
        id: u32,
        /// The flags found.
        flags: u32,
    },
    /// A FILE's `mode` has a file type other than its kind's, or bits
    /// outside the type and permission bits.
    BadFileMode {
        /// The FILE id.
        id: u32,
        /// The mode found.
        mode: u32,
    },
    /// A FILE's `pos` is above `i64::MAX`, or not 0 for a pipe, FIFO or
    /// external object.
    BadFilePos {
        /// The FILE id.
        id: u32,
        /// The position found.
        pos: u64,
    },
    /// A FILE's `size` is above `i64::MAX` (Memfd, Deleted: above
    /// [`MAX_FILE_DATA`]) or not 0 for a kind without a size.
    BadFileSize {
        /// The FILE id.
        id: u32,
        /// The size found.
        size: u64,
    },
    /// A FILE's `rdev_major`/`rdev_minor` are not a memory device's for a
    /// Chr, or not 0 for another kind.
    BadFileRdev {
        /// The FILE id.
        id: u32,
        /// The major found.
        major: u32,
        /// The minor found.
        minor: u32,
    },
    /// A FILE's `pipe` is 0 for a pipe or FIFO, or not 0 for another kind.
    BadPipeId {
        /// The FILE id.
        id: u32,
        /// The pipe id found.
        pipe: u32,
    },
    /// A FILE's `pipe` id is neither seen before nor the next new one (pipe
    /// ids are numbered 1, 2, ... in order of first appearance).
    PipeIdNotInOrder {
        /// The FILE id.
        id: u32,
        /// The pipe id found.
        pipe: u32,
        /// The next new pipe id.
        next: u32,
    },
    /// A FILE's `pipe_size` is not a power of two in
    /// [`PAGE_SIZE_X86_64`]..=[`MAX_PIPE_SIZE`] for a pipe or FIFO, or not 0
    /// for another kind.
    BadPipeSize {
        /// The FILE id.
        id: u32,
        /// The capacity found.
        pipe_size: u32,
    },
    /// A FILE's `seals` are not within [`SEALS_KNOWN`], or not 0 for a kind
    /// other than Memfd.
    BadSeals {
        /// The FILE id.
        id: u32,
        /// The seals found.
        seals: u32,
    },
    /// A FILE's `data_len` disagrees with its kind: not `size` for Memfd
    /// and Deleted, above `pipe_size` for a pipe or FIFO (or not 0 on a
    /// later FILE of the same pipe), not 0 for the other kinds.
    BadFileDataLen {
        /// The FILE id.
        id: u32,
        /// The data length found.
        data_len: u64,
    },
    /// A FILE's `path` breaks its kind's rule (empty or with a NUL; not
    /// absolute for Reg, Dir, Chr, Fifo, Deleted; with a '/' or longer than
    /// [`MAX_MEMFD_NAME`] for a memfd name; not `pipe:[N]` for a pipe).
    BadFilePath {
        /// The FILE id.
        id: u32,
    },
    /// A record other than the FDATA of the FILE before it while that
    /// FILE's data is incomplete.
    FileDataIncomplete {
        /// The FILE id.
        file: u32,
        /// Bytes of data still missing.
        missing: u64,
    },
    /// An FDATA record whose `file` is not the FILE before it.
    FdataBadFile {
        /// The file id found.
        file: u32,
        /// The id required.
        expected: u32,
    },
    /// An FDATA record whose `offset` is not the data bytes so far (or not
    /// a multiple of 8).
    FdataBadOffset {
        /// The offset found.
        offset: u64,
        /// The offset required.
        expected: u64,
    },
    /// An FDATA record with no data, more than the FILE's data left, or a
    /// last chunk not ending exactly at `data_len`.
    FdataBadLength {
        /// The payload's data bytes (padding included).
        len: u64,
        /// The FILE's data bytes left.
        left: u64,
    },
    /// An FDATA record where its FILE has no data left (or with no FILE
    /// before it).
    FdataUnexpected,
    /// An FDS record of a thread (only thread group leaders have one).
    FdsInThread {
        /// The task's index in the tree.
        index: u32,
    },
    /// An FDS entry whose `file` is 0 or above the number of FILE records.
    FdsBadFile {
        /// The fd.
        fd: u32,
        /// The file id found.
        file: u32,
    },
    /// An FDS entry with fd flags other than [`FD_FLAG_CLOEXEC`].
    BadFdFlags {
        /// The fd.
        fd: u32,
        /// The flags found.
        flags: u32,
    },
    /// An FDS `umask` above `0o777`.
    BadUmask {
        /// The umask found.
        umask: u32,
    },
    /// An FDS `root` that is empty, not absolute or with a NUL.
    BadRoot,
    /// An FDS `cwd` that is empty, not absolute or with a NUL.
    BadCwd,
    /// A MAPFILE `mode` whose type is not a regular file (or with bits
    /// outside type and permissions).
    MapFileBadMode {
        /// The mode found.
        mode: u32,
    },
    /// A MAPFILE `size` above `i64::MAX`.
    MapFileBadSize {
        /// The size found.
        size: u64,
    },
    /// A MAPFILE `file` above the number of FILE records.
    MapFileBadFile {
        /// The file id found.
        file: u32,
        /// The number of FILE records.
        files: u32,
    },
    /// A CREDS capability set with bits above [`CAP_LAST_CAP`].
    CapsUnknown {
        /// The set (`cap_inheritable`, `cap_permitted`, ...).
        field: &'static str,
        /// Its value.
        caps: u64,
    },
    /// A CREDS capability set not within the sets it must be within
    /// (effective in permitted, ambient in permitted and inheritable).
    CapsNotSubset {
        /// The set.
        field: &'static str,
        /// Its value.
        caps: u64,
        /// The sets it must be within.
        of: &'static str,
    },
    /// CREDS `securebits` outside [`SECUREBITS_KNOWN`].
    BadSecurebits {
        /// The securebits found.
        securebits: u32,
    },
    /// CREDS `flags` outside [`CREDS_FLAGS_KNOWN`].
    BadCredsFlags {
        /// The flags found.
        flags: u32,
    },
    /// A CREDS record with more than [`MAX_GROUPS`] groups.
    TooManyGroups {
        /// The count found.
        count: u32,
    },
    /// A CREDS group that is `u32::MAX` (the invalid gid).
    BadGroup {
        /// Its index in the groups.
        index: u32,
    },
    /// SIGNALS `altstack_flags` whose mode is not 0, [`SS_ONSTACK`] or
    /// [`SS_DISABLE`], or with bits other than [`SS_AUTODISARM`].
    BadAltstackFlags {
        /// The flags found.
        flags: u32,
    },
    /// An enabled alternate stack of size 0 or reaching above user space.
    BadAltstack {
        /// Its base.
        sp: u64,
        /// Its size.
        size: u64,
    },
    /// SIGNALS `pdeath_signal` above [`MAX_SIGNAL`].
    BadPdeathSignal {
        /// The signal found.
        signal: u32,
    },
    /// SIGNALS `timer_slack_ns` of 0.
    BadTimerSlack,
    /// A SIGNALS record with more than [`MAX_PENDING`] entries.
    TooManyPending {
        /// `nprivate + nshared`.
        count: u32,
    },
    /// A pending signal whose `si_signo` is not 1..=[`MAX_SIGNAL`], or is
    /// SIGKILL or SIGSTOP.
    BadPendingSignal {
        /// Its index among the entries (private ones first).
        index: u32,
        /// The `si_signo` found.
        signo: u32,
    },
    /// A pending signal with non-zero bytes past [`KERNEL_SIGINFO_LEN`].
    BadSiginfoTail {
        /// Its index among the entries.
        index: u32,
        /// Its `si_signo`.
        signo: u32,
    },
    /// A standard signal (1..=31) pending twice in the same queue.
    DuplicatePendingSignal {
        /// The index of the second entry.
        index: u32,
        /// The signal.
        signo: u32,
    },
    /// A thread's SIGNALS with entries of the process-wide queue (only the
    /// thread group leader's SIGNALS has them).
    SharedPendingInThread {
        /// The task's index in the tree.
        index: u32,
    },
    /// A PROCESS resource limit whose `cur` is above its `max`, or an
    /// `RLIMIT_NOFILE` above [`MAX_NOFILE`].
    BadRlimit {
        /// The `RLIMIT_*` number.
        resource: u32,
        /// Its soft limit.
        cur: u64,
        /// Its hard limit.
        max: u64,
    },
    /// A PROCESS interval timer with a time above [`MAX_TIME_NS`], or an
    /// interval while disarmed.
    BadItimer {
        /// `ITIMER_*`.
        which: u32,
        /// The field (`value_ns`, `interval_ns`).
        field: &'static str,
    },
    /// PROCESS `flags` outside [`PROC_FLAGS_KNOWN`], or
    /// [`PROC_MLOCK_ONFAULT`] without [`PROC_MLOCK_FUTURE`].
    BadProcessFlags {
        /// The flags found.
        flags: u32,
    },
    /// PROCESS `dumpable` above [`MAX_DUMPABLE`].
    BadDumpable {
        /// The value found.
        dumpable: u32,
    },
    /// A PROCESS record with more than [`MAX_TIMERS`] timers.
    TooManyTimers {
        /// The count found.
        count: u32,
    },
    /// A PROCESS signal disposition breaking a rule: unknown flags, a
    /// handler or restorer outside user space, no restorer with
    /// `SA_RESTORER`, SIGKILL or SIGSTOP in the mask, or anything for
    /// SIGKILL or SIGSTOP.
    BadSigaction {
        /// The signal.
        signo: u32,
        /// The field (`handler`, `flags`, `restorer`, `mask`).
        field: &'static str,
    },
    /// A PROCESS POSIX timer breaking a rule (id, clock, notify, signo,
    /// tid, times, overrun, reserved).
    BadTimer {
        /// The timer id.
        id: u32,
        /// The field.
        field: &'static str,
    },
    /// A PROCESS POSIX timer whose id is not above the previous one's.
    TimerIdNotAscending {
        /// The timer id.
        id: u32,
    },
    /// A PROCESS POSIX timer targeting a thread (`SIGEV_THREAD_ID`) that
    /// is not a live task of the thread group.
    TimerTidNotInGroup {
        /// The timer id.
        id: u32,
        /// The thread id found.
        tid: u32,
    },
    /// A PROCESS record of a thread (only a live thread group leader has
    /// one).
    ProcessInThread {
        /// The task's index in the tree.
        index: u32,
    },
    /// A ROUND record's round is 0 (rounds start at 1).
    RoundBadNumber {
        /// The round found.
        round: u32,
    },
    /// A ROUND record's src is outside 1..=[`MAX_LIVE_SRCS`].
    RoundBadSrc {
        /// The src found.
        src: u32,
    },
    /// A ROUND record's pid is outside 1..=[`PID_MAX_LIMIT`].
    RoundBadPid {
        /// The pid found.
        pid: u32,
    },
    /// A ROUND record's reserved field is not zero.
    RoundReserved,
    /// A ROUND record after the TREE (round sections come between the
    /// file header and the TREE).
    RoundAfterTree,
    /// A ROUND record whose (round, src) is not above the previous ROUND
    /// record's.
    RoundNotAscending {
        /// The round found.
        round: u32,
        /// The src found.
        src: u32,
        /// The previous ROUND record's round.
        prev_round: u32,
        /// The previous ROUND record's src.
        prev_src: u32,
    },
    /// A PAGES record of a round section below the end of the previous
    /// one of the section (the section's runs are sorted, not overlapping).
    RoundPagesNotAscending {
        /// The run's address.
        addr: u64,
        /// The end of the previous run of the section.
        floor: u64,
    },
    /// A PAGES record of a round section reaching above user space.
    RoundPagesInKernelSpace {
        /// The run's address.
        addr: u64,
    },
    /// A PREVPAGES record's nr_pages is outside 1..=[`MAX_PAGES_PER_RUN`].
    PrevPagesBadCount {
        /// The count found.
        nr_pages: u64,
    },
    /// A PREVPAGES record's addr is not a multiple of the page size.
    PrevPagesUnaligned {
        /// The address found.
        addr: u64,
    },
    /// A PREVPAGES record's run reaches above user space (or its end
    /// overflows).
    PrevPagesInKernelSpace {
        /// The address found.
        addr: u64,
    },
    /// A PREVPAGES record's src is outside 1..=[`MAX_LIVE_SRCS`].
    PrevPagesBadSrc {
        /// The src found.
        src: u32,
    },
    /// A PREVPAGES record's reserved field is not zero.
    PrevPagesReserved,
    /// A PREVPAGES record's src has no ROUND section earlier in the image.
    PrevPagesUnknownSrc {
        /// The src found.
        src: u32,
    },
    /// A PREVPAGES record's src differs from the src of an earlier
    /// PREVPAGES record of the same MM group.
    PrevPagesSrcMismatch {
        /// The src found.
        src: u32,
        /// The src of the MM group's earlier PREVPAGES records.
        expected: u32,
    },
    /// A PREVPAGES record outside any VMA, or not inside the current one.
    PrevPagesOutsideVma {
        /// The run's address.
        addr: u64,
        /// Its page count.
        nr_pages: u64,
    },
    /// A PREVPAGES record below the end of the previous PAGES or PREVPAGES
    /// record of its VMA (they are sorted together, not overlapping).
    PrevPagesNotAscending {
        /// The run's address.
        addr: u64,
        /// The end of the previous run of the VMA.
        floor: u64,
    },
    /// A PREVPAGES record in a VMA of a kind that is never pre-copied
    /// (only AnonPrivate, FilePrivate, Stack and Heap may have them).
    PrevPagesBadVmaKind {
        /// The VMA's kind (its number in the format).
        kind: u32,
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
            BadVmaFlags { flags } => write!(
                f,
                "bad VMA flags {flags:#x} (unknown in the image's version, or LOCKONFAULT without LOCKED)"
            ),
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
                write!(
                    f,
                    "shm object id {id} neither seen before nor the next one ({next})"
                )
            }
            FilesInNewImage { minor } => {
                write!(f, "FILES record in an image of version 1.{minor} (FDS replaces it)")
            }
            RecordNewerThanImage { minor } => {
                write!(f, "record type newer than the image's version 1.{minor}")
            }
            BadFileId { id, expected } => write!(f, "FILE id {id}, expected {expected}"),
            BadOpenFlags { id, flags } => {
                write!(f, "FILE {id}: flags {flags:#o}: unknown bits or access mode 3")
            }
            OpenFlagsNotForKind { id, flags } => write!(
                f,
                "FILE {id}: flags {flags:#o}: O_PATH or O_DIRECTORY not allowed for its kind"
            ),
            BadFileMode { id, mode } => {
                write!(f, "FILE {id}: mode {mode:#o} does not match its kind")
            }
            BadFilePos { id, pos } => write!(f, "FILE {id}: pos {pos} not allowed for its kind"),
            BadFileSize { id, size } => {
                write!(f, "FILE {id}: size {size} not allowed for its kind")
            }
            BadFileRdev { id, major, minor } => {
                write!(f, "FILE {id}: rdev {major}:{minor} not allowed for its kind")
            }
            BadPipeId { id, pipe } => write!(f, "FILE {id}: pipe id {pipe} wrong for its kind"),
            PipeIdNotInOrder { id, pipe, next } => write!(
                f,
                "FILE {id}: pipe id {pipe} neither seen before nor the next one ({next})"
            ),
            BadPipeSize { id, pipe_size } => write!(
                f,
                "FILE {id}: pipe_size {pipe_size} not a power of two in {PAGE_SIZE_X86_64}..={MAX_PIPE_SIZE} (or not 0 for its kind)"
            ),
            BadSeals { id, seals } => {
                write!(f, "FILE {id}: seals {seals:#x} not allowed for its kind")
            }
            BadFileDataLen { id, data_len } => {
                write!(f, "FILE {id}: data_len {data_len} does not match its kind and size")
            }
            BadFilePath { id } => write!(f, "FILE {id}: path invalid for its kind"),
            FileDataIncomplete { file, missing } => {
                write!(f, "FILE {file}: data incomplete ({missing} bytes missing)")
            }
            FdataBadFile { file, expected } => {
                write!(f, "FDATA file {file}, expected {expected}")
            }
            FdataBadOffset { offset, expected } => {
                write!(f, "FDATA offset {offset}, expected {expected}")
            }
            FdataBadLength { len, left } => write!(
                f,
                "FDATA of {len} bytes with {left} bytes of data left (empty, too long or not ending at data_len)"
            ),
            FdataUnexpected => write!(f, "FDATA with no FILE data left"),
            FdsInThread { index } => write!(f, "task {index}: FDS record in a thread"),
            FdsBadFile { fd, file } => write!(f, "fd {fd}: file {file} not a FILE id"),
            BadFdFlags { fd, flags } => write!(f, "fd {fd}: fd flags {flags:#x} unknown"),
            BadUmask { umask } => write!(f, "umask {umask:#o} above 0o777"),
            BadRoot => write!(f, "root not absolute, empty or with NUL"),
            BadCwd => write!(f, "cwd not absolute, empty or with NUL"),
            MapFileBadMode { mode } => write!(f, "MAPFILE mode {mode:#o} not a regular file"),
            MapFileBadSize { size } => write!(f, "MAPFILE size {size} above i64::MAX"),
            MapFileBadFile { file, files } => {
                write!(f, "MAPFILE file {file} above the FILE count {files}")
            }
            CapsUnknown { field, caps } => write!(
                f,
                "CREDS {field} {caps:#x} has bits above CAP_LAST_CAP ({CAP_LAST_CAP})"
            ),
            CapsNotSubset { field, caps, of } => {
                write!(f, "CREDS {field} {caps:#x} not within {of}")
            }
            BadSecurebits { securebits } => {
                write!(f, "CREDS securebits {securebits:#x} has unknown bits")
            }
            BadCredsFlags { flags } => write!(f, "CREDS flags {flags:#x} has unknown bits"),
            TooManyGroups { count } => {
                write!(f, "CREDS ngroups {count} above {MAX_GROUPS}")
            }
            BadGroup { index } => write!(f, "CREDS groups[{index}] is the invalid gid"),
            BadAltstackFlags { flags } => write!(
                f,
                "SIGNALS altstack_flags {flags:#x} not 0, SS_ONSTACK or SS_DISABLE (with SS_AUTODISARM)"
            ),
            BadAltstack { sp, size } => write!(
                f,
                "SIGNALS altstack {sp:#x} size {size:#x}: empty or above user space"
            ),
            BadPdeathSignal { signal } => {
                write!(f, "SIGNALS pdeath_signal {signal} above {MAX_SIGNAL}")
            }
            BadTimerSlack => write!(f, "SIGNALS timer_slack_ns is 0"),
            TooManyPending { count } => write!(
                f,
                "SIGNALS nprivate + nshared {count} above {MAX_PENDING}"
            ),
            BadPendingSignal { index, signo } => write!(
                f,
                "SIGNALS entry {index}: si_signo {signo} not 1..={MAX_SIGNAL} or SIGKILL/SIGSTOP"
            ),
            BadSiginfoTail { index, signo } => write!(
                f,
                "SIGNALS entry {index} (signal {signo}): bytes past {KERNEL_SIGINFO_LEN} not zero"
            ),
            DuplicatePendingSignal { index, signo } => write!(
                f,
                "SIGNALS entry {index}: standard signal {signo} pending twice in one queue"
            ),
            SharedPendingInThread { index } => write!(
                f,
                "task {index}: SIGNALS nshared not 0 in a thread (the leader has the shared queue)"
            ),
            BadRlimit { resource, cur, max } => write!(
                f,
                "PROCESS rlimits[{resource}]: cur {cur} above max {max}, or RLIMIT_NOFILE above {MAX_NOFILE}"
            ),
            BadItimer { which, field } => write!(
                f,
                "PROCESS itimers[{which}] {field}: above {MAX_TIME_NS} ns, or an interval while disarmed"
            ),
            BadProcessFlags { flags } => write!(
                f,
                "PROCESS flags {flags:#x}: unknown bits, or MLOCK_ONFAULT without MLOCK_FUTURE"
            ),
            BadDumpable { dumpable } => {
                write!(f, "PROCESS dumpable {dumpable} above {MAX_DUMPABLE}")
            }
            TooManyTimers { count } => {
                write!(f, "PROCESS ntimers {count} above {MAX_TIMERS}")
            }
            BadSigaction { signo, field } => {
                write!(f, "PROCESS sigactions of signal {signo}: bad {field}")
            }
            BadTimer { id, field } => write!(f, "PROCESS timer {id}: bad {field}"),
            TimerIdNotAscending { id } => {
                write!(f, "PROCESS timer {id}: id not above the previous timer's")
            }
            TimerTidNotInGroup { id, tid } => write!(
                f,
                "PROCESS timer {id}: tid {tid} not a live task of the thread group"
            ),
            ProcessInThread { index } => {
                write!(f, "task {index}: PROCESS record in a thread")
            }
            RoundBadNumber { round } => write!(f, "ROUND round {round}, rounds start at 1"),
            RoundBadSrc { src } => {
                write!(f, "ROUND src {src} outside 1..={MAX_LIVE_SRCS}")
            }
            RoundBadPid { pid } => write!(f, "ROUND pid {pid} outside 1..={PID_MAX_LIMIT}"),
            RoundReserved => write!(f, "ROUND reserved field not zero"),
            RoundAfterTree => write!(f, "ROUND record after the TREE"),
            RoundNotAscending {
                round,
                src,
                prev_round,
                prev_src,
            } => write!(
                f,
                "ROUND (round {round}, src {src}) not above the previous ROUND's \
                 (round {prev_round}, src {prev_src})"
            ),
            RoundPagesNotAscending { addr, floor } => write!(
                f,
                "PAGES of a ROUND section: addr {addr:#x} below the end {floor:#x} \
                 of the section's previous run"
            ),
            RoundPagesInKernelSpace { addr } => write!(
                f,
                "PAGES of a ROUND section: run at addr {addr:#x} reaches above user space"
            ),
            PrevPagesBadCount { nr_pages } => write!(
                f,
                "PREVPAGES nr_pages {nr_pages} outside 1..={MAX_PAGES_PER_RUN}"
            ),
            PrevPagesUnaligned { addr } => {
                write!(f, "PREVPAGES addr {addr:#x} not page-aligned")
            }
            PrevPagesInKernelSpace { addr } => {
                write!(f, "PREVPAGES run at addr {addr:#x} reaches above user space")
            }
            PrevPagesBadSrc { src } => {
                write!(f, "PREVPAGES src {src} outside 1..={MAX_LIVE_SRCS}")
            }
            PrevPagesReserved => write!(f, "PREVPAGES reserved field not zero"),
            PrevPagesUnknownSrc { src } => {
                write!(f, "PREVPAGES src {src}: no ROUND section of it before")
            }
            PrevPagesSrcMismatch { src, expected } => write!(
                f,
                "PREVPAGES src {src}, but the MM group's earlier PREVPAGES have src {expected}"
            ),
            PrevPagesOutsideVma { addr, nr_pages } => write!(
                f,
                "PREVPAGES addr {addr:#x} nr_pages {nr_pages} not inside the current VMA"
            ),
            PrevPagesNotAscending { addr, floor } => write!(
                f,
                "PREVPAGES addr {addr:#x} below the end {floor:#x} of the VMA's previous run"
            ),
            PrevPagesBadVmaKind { kind } => write!(
                f,
                "PREVPAGES in a VMA of kind {kind} (only private, stack and heap VMAs)"
            ),
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
