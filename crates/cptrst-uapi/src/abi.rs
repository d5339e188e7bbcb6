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
    (IOC_WRITE << IOC_DIRSHIFT) | (IOC_MAGIC << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT) | ((size as u32) << IOC_SIZESHIFT)
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
    /// Must be 0.
    pub pad: u32,
    /// Must be 0.
    pub reserved: [u64; 4],
}

/// All flags `checkpoint` knows (none yet).
pub const CKPT_FLAGS_ALL: u32 = 0;

/// `struct cptrst_restart_args`: argument of `CPTRST_IOC_RESTART`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestartArgs {
    /// The restart context: the coordinator's pid.
    pub ctid: i32,
    /// Where the image comes from, open for reading.
    pub fd: i32,
    /// `RST_*` flags.
    pub flags: u32,
    /// Must be 0.
    pub pad: u32,
    /// Must be 0.
    pub reserved: [u64; 4],
}

/// All flags `restart` knows (none yet).
pub const RST_FLAGS_ALL: u32 = 0;

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

/// Why an argument block is refused (every case is `EINVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgError {
    /// A flag the module does not know.
    UnknownFlags,
    /// A padding or reserved field is not zero.
    NonZeroReserved,
}

fn all_zero(r: &[u64]) -> bool {
    r.iter().all(|&x| x == 0)
}

impl CheckpointArgs {
    /// Checks flags and reserved fields.
    pub fn check(&self) -> Result<(), ArgError> {
        if self.flags & !CKPT_FLAGS_ALL != 0 {
            return Err(ArgError::UnknownFlags);
        }
        if self.pad != 0 || !all_zero(&self.reserved) {
            return Err(ArgError::NonZeroReserved);
        }
        Ok(())
    }
}

impl RestartArgs {
    /// Checks flags and reserved fields.
    pub fn check(&self) -> Result<(), ArgError> {
        if self.flags & !RST_FLAGS_ALL != 0 {
            return Err(ArgError::UnknownFlags);
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
