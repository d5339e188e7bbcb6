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
use kernel::types::{AsBytes, FromBytes};
use kernel::uaccess::UserSlice;

use crate::device::Device;
use crate::file::DevFile;
use crate::task::CurrentTask;
use crate::uapi::{self, CheckpointArgs, CmdError, EcloneArgs, LiveArgs, LiveSrc, Op, RestartArgs};

/// The checkpoint/restart operations. Each returns the ioctl's non-negative
/// result, or the error the caller sees. `dev` is the device's state.
#[vtable]
pub(crate) trait CptOperations {
    /// `checkpoint(pid, fd, flags)`: dump the stopped tree rooted at `pid`;
    /// with `CKPT_ROUND` or `CKPT_FINAL`, one call of a live checkpoint,
    /// `live` its [`LiveArgs`] (checked; the stream state and counts it
    /// sets go back to the caller when the call succeeds).
    fn checkpoint(
        _dev: &Device,
        _args: &CheckpointArgs,
        _live: Option<&mut LiveArgs>,
    ) -> Result<isize> {
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
type CheckpointEntry = Option<fn(&Device, &CheckpointArgs, Option<&mut LiveArgs>) -> Result<isize>>;
type RestartEntry = Option<fn(&Device, &CurrentTask, &DevFile, &RestartArgs) -> Result<isize>>;

/// The table of entry points built from a [`CptOperations`] implementation.
pub(crate) struct OpsTable {
    checkpoint: CheckpointEntry,
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
                // Unknown flags, both live flags, or `live` without one.
                a.check().map_err(|_| code::EINVAL)?;
                let entry = self.checkpoint.ok_or_else(eopnotsupp)?;
                if a.live == 0 {
                    return entry(dev, &a, None);
                }
                let at = usize::try_from(a.live).map_err(|_| code::EFAULT)?;
                let mut live: LiveArgs = read_arg(at)?;
                live.check(a.flags).map_err(|_| code::EINVAL)?;
                let r = entry(dev, &a, Some(&mut live))?;
                // The new stream state: lost if the caller's block went
                // away, and with it the stream (EFAULT says so).
                UserSlice::new(at, core::mem::size_of::<LiveArgs>())
                    .writer()
                    .write(&live)?;
                Ok(r)
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
// SAFETY: `#[repr(C)]`, integers only: u64, u64, four u32, then u64s,
// each at its natural alignment with no padding (72 bytes =
// 8+8+4*4+8*5, asserted below): every bit pattern is a valid value, and
// every byte of a value is initialized.
unsafe impl FromBytes for LiveArgs {}
// SAFETY: as for `FromBytes`: no padding, no interior mutability.
unsafe impl AsBytes for LiveArgs {}
// SAFETY: `#[repr(C)]`, integers only (i32, three u32, u64), no padding
// (24 bytes, asserted below).
unsafe impl FromBytes for LiveSrc {}

const _: () = assert!(core::mem::size_of::<LiveArgs>() == 72);
const _: () = assert!(core::mem::size_of::<LiveSrc>() == 24);
