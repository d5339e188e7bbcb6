// SPDX-License-Identifier: GPL-2.0
//! The `/dev/cptrst` ioctl ABI: one `#[repr(C)]` struct per command, the
//! command numbers, and the argument checks shared by the module and the
//! tools. Mirrors `include/uapi/linux/cptrst.h` field for field.
//!
//! This file is included by the kernel module with `#[path]`: core only,
//! no crate-level attributes, nothing newer than Rust 1.85.

/// Version of this ABI, printed by the module at load time. Bumped on any
/// incompatible change (none may happen once released).
pub const ABI_VERSION: u32 = 1;

/// Path of the character device.
pub const DEVICE: &str = "/dev/cptrst";
/// The ioctl type ("magic") byte of every cptrst command.
pub const IOC_MAGIC: u32 = 0xC7;

const IOC_NRBITS: u32 = 8;
const IOC_TYPEBITS: u32 = 8;
const IOC_SIZEBITS: u32 = 14;
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;
/// `_IOC_WRITE`: user space writes the argument, the kernel reads it.
pub const IOC_WRITE: u32 = 1;

/// `_IOW(IOC_MAGIC, nr, size)` as the C macro computes it on x86_64.
pub const fn iow(nr: u32, size: usize) -> u32 {
    (IOC_WRITE << IOC_DIRSHIFT)
        | (IOC_MAGIC << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
}

/// The parts of an ioctl command number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IocParts {
    /// Direction bits (`_IOC_DIR`).
    pub dir: u32,
    /// Type byte (`_IOC_TYPE`).
    pub ty: u32,
    /// Command number (`_IOC_NR`).
    pub nr: u32,
    /// Argument size (`_IOC_SIZE`).
    pub size: usize,
}

impl IocParts {
    /// Splits `cmd` as `_IOC_DIR/_IOC_TYPE/_IOC_NR/_IOC_SIZE` do.
    pub const fn of(cmd: u32) -> Self {
        IocParts {
            dir: cmd >> IOC_DIRSHIFT,
            ty: (cmd >> IOC_TYPESHIFT) & ((1 << IOC_TYPEBITS) - 1),
            nr: (cmd >> IOC_NRSHIFT) & ((1 << IOC_NRBITS) - 1),
            size: ((cmd >> IOC_SIZESHIFT) & ((1 << IOC_SIZEBITS) - 1)) as usize,
        }
    }
}

/// The operations of the ops table, by ioctl command number (`_IOC_NR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `checkpoint(pid, fd, flags)`.
    Checkpoint = 1,
    /// `restart(ctid, fd, flags)`.
    Restart = 2,
    /// `eclone(flags_low, cargs, args_size, pids)`.
    Eclone = 3,
}

impl Op {
    /// The operation with command number `nr`, if any.
    pub const fn from_nr(nr: u32) -> Option<Op> {
        match nr {
            1 => Some(Op::Checkpoint),
            2 => Some(Op::Restart),
            3 => Some(Op::Eclone),
            _ => None,
        }
    }

    /// Size of this operation's argument structure.
    pub const fn arg_size(self) -> usize {
        match self {
            Op::Checkpoint => core::mem::size_of::<CheckpointArgs>(),
            Op::Restart => core::mem::size_of::<RestartArgs>(),
            Op::Eclone => core::mem::size_of::<EcloneArgs>(),
        }
    }

    /// The full ioctl command number of this operation.
    pub const fn cmd(self) -> u32 {
        iow(self as u32, self.arg_size())
    }
}

/// How a command number that has cptrst's type byte is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmdError {
    /// Not a cptrst command at all (wrong type byte or unknown number): `ENOTTY`.
    Unknown,
    /// A known command with the wrong size or direction: `EINVAL`.
    BadSize,
}

/// Decodes an ioctl command: which operation it is, or why it is refused.
pub const fn decode_cmd(cmd: u32) -> Result<Op, CmdError> {
    let p = IocParts::of(cmd);
    if p.ty != IOC_MAGIC {
        return Err(CmdError::Unknown);
    }
    let op = match Op::from_nr(p.nr) {
        Some(op) => op,
        None => return Err(CmdError::Unknown),
    };
    if p.dir != IOC_WRITE || p.size != op.arg_size() {
        return Err(CmdError::BadSize);
    }
    Ok(op)
}

/// `struct cptrst_checkpoint_args`: argument of `CPTRST_IOC_CHECKPOINT`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointArgs {
    /// Root of the tree, in the caller's pid namespace.
    pub pid: i32,
    /// Where the image goes: a file, pipe or socket open for writing.
    pub fd: i32,
    /// `CKPT_*` flags.
    pub flags: u32,
    /// Size of the `msg` buffer (at most [`RST_MSG_MAX`]), 0 without one.
    pub msg_len: u32,
    /// User pointer to a buffer for the failure message, or 0.
    pub msg: u64,
    /// With [`CKPT_ROUND`] or [`CKPT_FINAL`]: user pointer to a
    /// [`LiveArgs`] (read, and written back); otherwise 0.
    pub live: u64,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `flags`: one pre-copy round of a live checkpoint. The tree runs (it
/// need not be stopped; the caller must be allowed to ptrace every task
/// of it): the pages that [`LiveArgs::srcs`] name are copied into ROUND
/// sections of the stream, which starts with the file header when
/// [`LiveArgs::offset`] is 0. Nothing else is written: no tree, no trailer.
pub const CKPT_ROUND: u32 = 1 << 0;
/// `flags`: the end of a live checkpoint: the checkpoint of the stopped
/// tree, continuing the stream of the rounds (no header), in which each
/// present page of an address space with rounds that is outside its
/// dirty ranges is a PREVPAGES reference to its latest round copy.
pub const CKPT_FINAL: u32 = 1 << 1;
/// All flags `checkpoint` knows.
pub const CKPT_FLAGS_ALL: u32 = CKPT_ROUND | CKPT_FINAL;

/// Most [`LiveSrc`] entries of one call (one per address space).
pub const LIVE_MAX_SRCS: u32 = 4096;
/// Most ranges of one [`LiveSrc`].
pub const LIVE_MAX_RANGES: u32 = 1 << 20;

/// `struct cptrst_live_args`: what a live checkpoint's calls share. The
/// caller carries the stream state from one call to the next: the module
/// keeps nothing between calls.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveArgs {
    /// In and out: bytes of the stream written so far (0 before the first
    /// round; a multiple of 8).
    pub offset: u64,
    /// In and out: records written so far.
    pub records: u64,
    /// In and out: the running CRC32C of the stream (raw state, as the
    /// image encoder keeps it; 0 before the first round).
    pub crc: u32,
    /// [`CKPT_ROUND`]: the round's number, 1, 2, ..., not below the last
    /// one's; [`CKPT_FINAL`]: 0.
    pub round: u32,
    /// Number of [`LiveSrc`] entries at `srcs`, 1..=[`LIVE_MAX_SRCS`].
    pub nr_srcs: u32,
    /// Must be 0.
    pub pad: u32,
    /// User pointer to `nr_srcs` [`LiveSrc`].
    pub srcs: u64,
    /// Out: pages copied by this call (ROUND: into ROUND sections; FINAL:
    /// into PAGES records).
    pub pages: u64,
    /// Out (FINAL): pages referenced with PREVPAGES records.
    pub prev_pages: u64,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `struct cptrst_live_src`: one address space of a live checkpoint.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveSrc {
    /// A process of the tree using the address space, in the caller's pid
    /// namespace.
    pub pid: i32,
    /// The address space's source id in the image, 1..=[`LIVE_MAX_SRCS`],
    /// distinct in one call and the same in every round. FINAL: 0 for an
    /// address space without rounds (every present page is written).
    pub src: u32,
    /// Number of `(start, end)` ranges at `ranges`, 0..=[`LIVE_MAX_RANGES`].
    pub nr_ranges: u32,
    /// Must be 0.
    pub pad: u32,
    /// User pointer to `nr_ranges` pairs of `u64`, `start < end`, both
    /// multiples of 4096, at most the end of user space, sorted and not
    /// overlapping. ROUND: the pages to copy (`[0, 0x7fff_ffff_f000)` for
    /// all). FINAL: the pages written since the last round (soft-dirty),
    /// which are dumped; every other present page is a PREVPAGES.
    pub ranges: u64,
}

/// `struct cptrst_restart_args`: argument of `CPTRST_IOC_RESTART`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestartArgs {
    /// Coordinator: the pid of the tree's root task in the caller's pid
    /// namespace. Participant: the coordinator's pid as the participant
    /// sees it, or 0 when the coordinator is outside its pid namespace.
    pub ctid: i32,
    /// The image: open for reading, seekable.
    pub fd: i32,
    /// `RST_*` flags.
    pub flags: u32,
    /// Size of the `msg` buffer (at most [`RST_MSG_MAX`]), 0 without one.
    pub msg_len: u32,
    /// User pointer to a buffer for the error message, or 0.
    pub msg: u64,
    /// Coordinator only: user pointer to `i32[nfiles]`, for the image's
    /// FILE id k the coordinator's fd of that open file at index k - 1 (or
    /// -1); 0 without. Participants pass 0.
    pub files: u64,
    /// Entries of `files` (at most [`RST_MAX_FILES`]); 0 without.
    pub nfiles: u32,
    /// Must be 0.
    pub pad: u32,
    /// Must be 0.
    pub reserved: [u64; 1],
}

/// The caller is the coordinator of the restart.
pub const RST_COORD: u32 = 1 << 0;
/// Restore even if the image lists open files other than fds 0, 1 and 2
/// (they are not restored).
pub const RST_SKIP_FILES: u32 = 1 << 1;
/// Internal: the second call of a participant, from the restore trampoline.
pub const RST_RESUME: u32 = 1 << 2;
/// A zombie participant's successful call returns this, ORed with the wait
/// status (low 16 bits) it must exit with.
pub const RST_ZOMBIE: u32 = 0x10000;
/// Map files whose type or size differ from the image's MAPFILE record
/// (else `ESTALE`).
pub const RST_FILE_CHANGED_OK: u32 = 1 << 3;
/// Restore every task with the invoker's credentials (ids, groups,
/// capabilities, securebits) instead of the image's: no credential is
/// checked or set (the coordinator's flag; a participant may pass it too).
pub const RST_AS_INVOKER: u32 = 1 << 4;
/// All flags `restart` knows.
pub const RST_FLAGS_ALL: u32 =
    RST_COORD | RST_SKIP_FILES | RST_RESUME | RST_FILE_CHANGED_OK | RST_AS_INVOKER;
/// Most entries of `RestartArgs::files` (the format's `MAX_FILES`).
pub const RST_MAX_FILES: u32 = 65536;
/// Largest error-message buffer the kernel fills.
pub const RST_MSG_MAX: u32 = 4096;

/// `struct cptrst_clone_args`: the seed's v13 eclone `struct clone_args`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloneArgs {
    /// Clone flags above bit 31: must be 0.
    pub clone_flags_high: u64,
    /// The child's stack pointer (x86_64: its top); 0 shares the parent's.
    pub child_stack: u64,
    /// Must be 0 on x86_64.
    pub child_stack_size: u64,
    /// `CLONE_PARENT_SETTID` target.
    pub parent_tid_ptr: u64,
    /// `CLONE_CHILD_SETTID`/`CLONE_CHILD_CLEARTID` target.
    pub child_tid_ptr: u64,
    /// Number of entries in `pids[]`.
    pub nr_pids: u32,
    /// Must be 0.
    pub reserved0: u32,
}

/// `struct cptrst_eclone_args`: argument of `CPTRST_IOC_ECLONE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EcloneArgs {
    /// Clone flags, low 32 bits, with the exit signal.
    pub flags_low: u32,
    /// Must be `size_of::<CloneArgs>()`.
    pub args_size: i32,
    /// User pointer to a [`CloneArgs`].
    pub cargs: u64,
    /// User pointer to `pid_t[nr_pids]`, outermost namespace first.
    pub pids: u64,
    /// User pointer to a clone3 `struct clone_args` to fill.
    pub clone3_args: u64,
    /// User pointer to `pid_t[nr_pids]` to fill for clone3.
    pub set_tid: u64,
    /// Must be 0.
    pub reserved: [u64; 3],
}

/// clone3's `struct clone_args` (`<linux/sched.h>`, `CLONE_ARGS_SIZE_VER2`),
/// as the eclone operation fills it for the library to pass to `clone3()`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clone3Args {
    /// Clone flags, without the exit signal.
    pub flags: u64,
    /// `CLONE_PIDFD` target.
    pub pidfd: u64,
    /// `CLONE_CHILD_SETTID`/`CLONE_CHILD_CLEARTID` target.
    pub child_tid: u64,
    /// `CLONE_PARENT_SETTID` target.
    pub parent_tid: u64,
    /// Signal sent to the parent when the child exits.
    pub exit_signal: u64,
    /// Lowest address of the child's stack (0: the parent's stack).
    pub stack: u64,
    /// Size of the child's stack; the child starts with `sp = stack + stack_size`.
    pub stack_size: u64,
    /// `CLONE_SETTLS` value (never set by eclone).
    pub tls: u64,
    /// User pointer to the pids, innermost namespace first.
    pub set_tid: u64,
    /// Number of entries of `set_tid`.
    pub set_tid_size: u64,
    /// `CLONE_INTO_CGROUP` fd (never set by eclone).
    pub cgroup: u64,
}

/// The low byte of the clone flags: the exit signal (`CSIGNAL`).
pub const CSIGNAL: u32 = 0xff;
/// `CLONE_VM`.
pub const CLONE_VM: u32 = 0x0000_0100;
/// `CLONE_SETTLS`: not in the v13 ABI (it has no TLS argument).
pub const CLONE_SETTLS: u32 = 0x0008_0000;
/// `CLONE_PIDFD`: clone3 would write the pidfd where `parent_tid` points.
pub const CLONE_PIDFD: u32 = 0x0000_1000;
/// `CLONE_NEWPID`: the child starts a new pid namespace.
pub const CLONE_NEWPID: u32 = 0x2000_0000;
/// `CLONE_NEWUSER`: the child starts a new user namespace.
pub const CLONE_NEWUSER: u32 = 0x1000_0000;
/// `CLONE_THREAD`.
pub const CLONE_THREAD: u32 = 0x0001_0000;
/// Most pid namespace levels (`MAX_PID_NS_LEVEL`).
pub const MAX_PID_NS_LEVEL: u32 = 32;
/// Upper bound of any pid (`PID_MAX_LIMIT` on 64-bit).
pub const PID_MAX_LIMIT: i32 = 4 * 1024 * 1024;

/// Why an eclone request is refused before the kernel looks at namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EcloneError {
    /// `args_size` is not `size_of::<CloneArgs>()`.
    ArgsSize,
    /// `clone_flags_high`, `reserved0` or `child_stack_size` is not 0.
    NonZeroField,
    /// More pids than `MAX_PID_NS_LEVEL`.
    TooManyPids,
    /// A pid `< 1` or `>= PID_MAX_LIMIT`.
    PidRange,
    /// A flag the v13 ABI cannot express (`CLONE_SETTLS`, `CLONE_PIDFD`).
    Flags,
}

/// Checks what can be checked of a v13 request without the kernel's
/// namespaces: every error is `EINVAL`.
pub fn eclone_check(
    flags_low: u32,
    args_size: i32,
    cargs: &CloneArgs,
    pids: &[i32],
) -> Result<(), EcloneError> {
    if args_size < 0 || args_size as usize != core::mem::size_of::<CloneArgs>() {
        return Err(EcloneError::ArgsSize);
    }
    if cargs.clone_flags_high != 0 || cargs.reserved0 != 0 || cargs.child_stack_size != 0 {
        return Err(EcloneError::NonZeroField);
    }
    if flags_low & (CLONE_SETTLS | CLONE_PIDFD) != 0 {
        return Err(EcloneError::Flags);
    }
    if cargs.nr_pids > MAX_PID_NS_LEVEL || pids.len() != cargs.nr_pids as usize {
        return Err(EcloneError::TooManyPids);
    }
    if pids.iter().any(|&p| !(1..PID_MAX_LIMIT).contains(&p)) {
        return Err(EcloneError::PidRange);
    }
    Ok(())
}

/// Translates a checked v13 request into clone3 arguments. `set_tid` is
/// the user address where the pids go innermost first (see [`set_tid_order`]).
pub fn eclone_to_clone3(flags_low: u32, cargs: &CloneArgs, set_tid: u64) -> Clone3Args {
    // clone3 wants the stack as [stack, stack + size) and starts the child
    // at sp = stack + size: one byte below the requested sp gives exactly it.
    let (stack, stack_size) = if cargs.child_stack != 0 {
        (cargs.child_stack - 1, 1)
    } else {
        (0, 0)
    };
    Clone3Args {
        flags: (flags_low & !CSIGNAL) as u64 | (cargs.clone_flags_high << 32),
        pidfd: 0,
        child_tid: cargs.child_tid_ptr,
        parent_tid: cargs.parent_tid_ptr,
        exit_signal: (flags_low & CSIGNAL) as u64,
        stack,
        stack_size,
        tls: 0,
        set_tid: if cargs.nr_pids > 0 { set_tid } else { 0 },
        set_tid_size: cargs.nr_pids as u64,
        cgroup: 0,
    }
}

/// eclone's `pids[]` lists the outermost requested namespace first and the
/// child's own namespace last (the patchset's order); clone3's `set_tid[]`
/// is the reverse. Writes `pids` reversed into `out` (same length).
pub fn set_tid_order(pids: &[i32], out: &mut [i32]) {
    for (o, p) in out.iter_mut().zip(pids.iter().rev()) {
        *o = *p;
    }
}

/// Why an argument block is refused (every case is `EINVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgError {
    /// A flag the module does not know.
    UnknownFlags,
    /// A padding or reserved field is not zero.
    NonZeroReserved,
    /// A field has a value outside its range.
    BadValue,
}

fn all_zero(r: &[u64]) -> bool {
    r.iter().all(|&x| x == 0)
}

/// A message buffer: at most [`RST_MSG_MAX`] bytes, pointer and length
/// both set or both 0.
fn msg_ok(msg: u64, msg_len: u32) -> bool {
    msg_len <= RST_MSG_MAX && (msg == 0) == (msg_len == 0)
}

impl CheckpointArgs {
    /// Checks flags, the message buffer and the reserved fields.
    pub fn check(&self) -> Result<(), ArgError> {
        if self.flags & !CKPT_FLAGS_ALL != 0 {
            return Err(ArgError::UnknownFlags);
        }
        if !msg_ok(self.msg, self.msg_len) {
            return Err(ArgError::BadValue);
        }
        if !all_zero(&self.reserved) {
            return Err(ArgError::NonZeroReserved);
        }
        let live = self.flags & (CKPT_ROUND | CKPT_FINAL);
        if live == CKPT_ROUND | CKPT_FINAL || (live != 0) != (self.live != 0) {
            return Err(ArgError::BadValue);
        }
        Ok(())
    }
}

impl LiveArgs {
    /// Checks the counts, the state and the reserved fields, for a call
    /// with `flags` (one of [`CKPT_ROUND`], [`CKPT_FINAL`]).
    pub fn check(&self, flags: u32) -> Result<(), ArgError> {
        if self.pad != 0 || !all_zero(&self.reserved) {
            return Err(ArgError::NonZeroReserved);
        }
        if self.nr_srcs == 0
            || self.nr_srcs > LIVE_MAX_SRCS
            || self.srcs == 0
            || self.offset % 8 != 0
        {
            return Err(ArgError::BadValue);
        }
        let round_ok = if flags & CKPT_ROUND != 0 {
            self.round != 0 && (self.offset == 0) == (self.records == 0)
        } else {
            // The final call continues a stream that has its header.
            self.round == 0 && self.offset >= 128
        };
        if !round_ok {
            return Err(ArgError::BadValue);
        }
        Ok(())
    }
}

impl LiveSrc {
    /// Checks the counts and the padding for a call with `flags`.
    pub fn check(&self, flags: u32) -> Result<(), ArgError> {
        if self.pad != 0 {
            return Err(ArgError::NonZeroReserved);
        }
        let src_ok = if flags & CKPT_ROUND != 0 {
            self.src != 0
        } else {
            true
        };
        if !src_ok
            || self.src > LIVE_MAX_SRCS
            || self.nr_ranges > LIVE_MAX_RANGES
            || (self.nr_ranges != 0) != (self.ranges != 0)
        {
            return Err(ArgError::BadValue);
        }
        Ok(())
    }
}

impl RestartArgs {
    /// Checks flags, the message buffer, the file table (the
    /// coordinator's only: pointer and count both set or both 0, at most
    /// [`RST_MAX_FILES`]; a participant's 0) and the reserved fields.
    pub fn check(&self) -> Result<(), ArgError> {
        if self.flags & !RST_FLAGS_ALL != 0 {
            return Err(ArgError::UnknownFlags);
        }
        if self.flags & RST_COORD != 0 && self.flags & RST_RESUME != 0 {
            return Err(ArgError::UnknownFlags);
        }
        if !msg_ok(self.msg, self.msg_len) {
            return Err(ArgError::BadValue);
        }
        let coord = self.flags & RST_COORD != 0;
        if (self.files == 0) != (self.nfiles == 0)
            || self.nfiles > RST_MAX_FILES
            || (!coord && self.nfiles != 0)
        {
            return Err(ArgError::BadValue);
        }
        if self.pad != 0 || !all_zero(&self.reserved) {
            return Err(ArgError::NonZeroReserved);
        }
        Ok(())
    }
}

impl EcloneArgs {
    /// Checks the reserved fields (the clone flags are checked by the op).
    pub fn check(&self) -> Result<(), ArgError> {
        if !all_zero(&self.reserved) {
            return Err(ArgError::NonZeroReserved);
        }
        Ok(())
    }
}

/// Command number of `CPTRST_IOC_CHECKPOINT`.
pub const IOC_CHECKPOINT: u32 = Op::Checkpoint.cmd();
/// Command number of `CPTRST_IOC_RESTART`.
pub const IOC_RESTART: u32 = Op::Restart.cmd();
/// Command number of `CPTRST_IOC_ECLONE`.
pub const IOC_ECLONE: u32 = Op::Eclone.cmd();

// The layouts are part of the ABI: fixed on every 64-bit architecture.
const _: () = assert!(core::mem::size_of::<CheckpointArgs>() == 48);
const _: () = assert!(core::mem::size_of::<RestartArgs>() == 48);
const _: () = assert!(core::mem::size_of::<CloneArgs>() == 48);
const _: () = assert!(core::mem::size_of::<EcloneArgs>() == 64);
const _: () = assert!(core::mem::size_of::<Clone3Args>() == 88);
