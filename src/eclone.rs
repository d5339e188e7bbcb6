// SPDX-License-Identifier: GPL-2.0
//! `eclone(flags_low, cargs, args_size, pids)`: the module's half of eclone.
//!
//! A module cannot create tasks (`kernel_clone` and `copy_process` are not
//! exported), and it must not reach for them. So the work is split:
//! - here, the request in the seed's v13 ABI is validated (sizes, reserved
//!   fields, flags, pid ranges), checked against the caller's pid
//!   namespaces (depth, capability per level, pid in use) and translated
//!   into the arguments of `clone3()` with `set_tid`, eclone's upstream
//!   descendant, which the module writes back to the caller;
//! - the library (`lib/cptrst_eclone.c`) then calls `clone3()`, which
//!   applies the same rules again, atomically, when it creates the task.

use kernel::error::code;
use kernel::prelude::*;
use kernel::types::{AsBytes, FromBytes};
use kernel::uaccess::UserSlice;

use crate::shim;
use crate::uapi::{self, Clone3Args, CloneArgs, EcloneArgs, MAX_PID_NS_LEVEL};

/// The `eclone` operation.
pub(crate) fn eclone(a: &EcloneArgs) -> Result<isize> {
    if a.args_size < 0 || a.args_size as usize != core::mem::size_of::<CloneArgs>() {
        return Err(code::EINVAL);
    }
    let cargs: CloneArgs = UserSlice::new(a.cargs as usize, core::mem::size_of::<CloneArgs>())
        .reader()
        .read()?;
    if cargs.nr_pids > MAX_PID_NS_LEVEL {
        return Err(code::EINVAL);
    }
    let nr = cargs.nr_pids as usize;
    let mut pids = [0i32; MAX_PID_NS_LEVEL as usize];
    let mut raw = [0u8; 4 * MAX_PID_NS_LEVEL as usize];
    UserSlice::new(a.pids as usize, 4 * nr).reader().read_slice(&mut raw[..4 * nr])?;
    for (i, p) in pids.iter_mut().enumerate().take(nr) {
        *p = i32::from_ne_bytes([raw[4 * i], raw[4 * i + 1], raw[4 * i + 2], raw[4 * i + 3]]);
    }
    let pids = &pids[..nr];
    uapi::eclone_check(a.flags_low, a.args_size, &cargs, pids).map_err(|_| code::EINVAL)?;
    shim::eclone_check_ns(a.flags_low, pids)?;

    let mut set_tid = [0i32; MAX_PID_NS_LEVEL as usize];
    uapi::set_tid_order(pids, &mut set_tid[..nr]);
    for (i, p) in set_tid.iter().enumerate().take(nr) {
        raw[4 * i..4 * i + 4].copy_from_slice(&p.to_ne_bytes());
    }
    UserSlice::new(a.set_tid as usize, 4 * nr).writer().write_slice(&raw[..4 * nr])?;
    let c3 = uapi::eclone_to_clone3(a.flags_low, &cargs, a.set_tid);
    UserSlice::new(a.clone3_args as usize, core::mem::size_of::<Clone3Args>())
        .writer()
        .write(&c3)?;
    Ok(0)
}

// SAFETY: `#[repr(C)]`, integers only (five u64, two u32), no padding
// (48 bytes): every bit pattern is valid.
unsafe impl FromBytes for CloneArgs {}
// SAFETY: `#[repr(C)]`, eleven u64 and nothing else: no padding, so no
// uninitialized byte is ever copied out.
unsafe impl AsBytes for Clone3Args {}
