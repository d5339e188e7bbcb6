// SPDX-License-Identifier: GPL-2.0
//! The ops table: the entry points of checkpoint/restart, in the spirit of
//! the seed patchset's `struct cpt_operations`.
//!
//! An implementation is a `#[vtable]` type; [`OpsTable::of`] turns it into a
//! table of optional entries, and [`OpsTable::call`] dispatches an ioctl to
//! the entry its command number names, after reading and checking the
//! argument block. An entry the implementation does not provide answers
//! `EOPNOTSUPP`: nothing pretends to work.

use kernel::error::{code, VTABLE_DEFAULT_ERROR};

use crate::error::eopnotsupp;
use kernel::prelude::*;
use kernel::types::FromBytes;
use kernel::uaccess::UserSlice;

use crate::device::Device;
use crate::file::DevFile;
use crate::task::CurrentTask;
use crate::uapi::{self, CheckpointArgs, CmdError, EcloneArgs, Op, RestartArgs};

/// The checkpoint/restart operations. Each returns the ioctl's non-negative
/// result, or the error the caller sees. `dev` is the device's state.
#[vtable]
pub(crate) trait CptOperations {
    /// `checkpoint(pid, fd, flags)`: dump the stopped tree rooted at `pid`.
    fn checkpoint(_dev: &Device, _args: &CheckpointArgs) -> Result<isize> {
        kernel::build_error(VTABLE_DEFAULT_ERROR)
    }
    /// `restart(ctid, fd, flags)`: coordinate a restart, or restore the
    /// calling task `cur` from the image. `file` is the `/dev/cptrst` file
    /// of the call (the restored task's final steps pin the module
    /// through it).
    fn restart(
        _dev: &Device,
        _cur: &CurrentTask,
        _file: &DevFile,
        _args: &RestartArgs,
    ) -> Result<isize> {
        kernel::build_error(VTABLE_DEFAULT_ERROR)
    }
    /// `eclone(flags_low, cargs, args_size, pids)`: validate and authorize a
    /// clone with chosen pids.
    fn eclone(_dev: &Device, _args: &EcloneArgs) -> Result<isize> {
        kernel::build_error(VTABLE_DEFAULT_ERROR)
    }
}

type Entry<A> = Option<fn(&Device, &A) -> Result<isize>>;
type RestartEntry = Option<fn(&Device, &CurrentTask, &DevFile, &RestartArgs) -> Result<isize>>;

/// The table of entry points built from a [`CptOperations`] implementation.
pub(crate) struct OpsTable {
    checkpoint: Entry<CheckpointArgs>,
    restart: RestartEntry,
    eclone: Entry<EcloneArgs>,
}

impl OpsTable {
    /// The table of `T`: an entry for each operation `T` implements.
    pub(crate) const fn of<T: CptOperations>() -> Self {
        OpsTable {
            checkpoint: if T::HAS_CHECKPOINT {
                Some(T::checkpoint)
            } else {
                None
            },
            restart: if T::HAS_RESTART {
                Some(T::restart)
            } else {
                None
            },
            eclone: if T::HAS_ECLONE { Some(T::eclone) } else { None },
        }
    }

    /// Dispatches ioctl `cmd` with user argument `arg`.
    ///
    /// # Errors
    /// `ENOTTY` for a command that is not cptrst's; `EINVAL` for a wrong
    /// argument size or direction, unknown flags or non-zero reserved fields;
    /// `EFAULT` if the argument cannot be read; `EOPNOTSUPP` for an operation
    /// this table lacks; otherwise the operation's own result.
    pub(crate) fn call(
        &self,
        dev: &Device,
        cur: &CurrentTask,
        file: &DevFile,
        cmd: u32,
        arg: usize,
    ) -> Result<isize> {
        let op = uapi::decode_cmd(cmd).map_err(|e| match e {
            CmdError::Unknown => code::ENOTTY,
            CmdError::BadSize => code::EINVAL,
        })?;
        match op {
            Op::Checkpoint => {
                let a: CheckpointArgs = read_arg(arg)?;
                a.check().map_err(|_| code::EINVAL)?;
                self.checkpoint.ok_or_else(eopnotsupp)?(dev, &a)
            }
            Op::Restart => {
                let a: RestartArgs = read_arg(arg)?;
                a.check().map_err(|_| code::EINVAL)?;
                self.restart.ok_or_else(eopnotsupp)?(dev, cur, file, &a)
            }
            Op::Eclone => {
                let a: EcloneArgs = read_arg(arg)?;
                a.check().map_err(|_| code::EINVAL)?;
                self.eclone.ok_or_else(eopnotsupp)?(dev, &a)
            }
        }
    }
}

/// Copies an argument block from user space.
fn read_arg<T: FromBytes>(arg: usize) -> Result<T> {
    UserSlice::new(arg, core::mem::size_of::<T>())
        .reader()
        .read::<T>()
}

// SAFETY: `CheckpointArgs` is `#[repr(C)]` and made only of integers and an
// integer array, with no padding (48 bytes = 4+4+4+4+32): every bit pattern
// is a valid value.
unsafe impl FromBytes for CheckpointArgs {}
// SAFETY: as for `CheckpointArgs`: `#[repr(C)]`, integers only, no padding.
unsafe impl FromBytes for RestartArgs {}
// SAFETY: `#[repr(C)]`, integers only (u32, i32, then 8-byte aligned u64s),
// no padding (64 bytes = 4+4+8*4+24).
unsafe impl FromBytes for EcloneArgs {}
