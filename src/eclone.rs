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
//!
//! The namespace rules are decided here ([`check_ns`]) from the facts
//! `src/cptrst_task.c` gathers ([`NsFacts`]).

use core::mem::offset_of;

use kernel::error::code;
use kernel::prelude::*;
use kernel::types::{AsBytes, FromBytes};
use kernel::uaccess::UserSlice;

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
    UserSlice::new(a.pids as usize, 4 * nr)
        .reader()
        .read_slice(&mut raw[..4 * nr])?;
    for (i, p) in pids.iter_mut().enumerate().take(nr) {
        *p = i32::from_ne_bytes([raw[4 * i], raw[4 * i + 1], raw[4 * i + 2], raw[4 * i + 3]]);
    }
    let pids = &pids[..nr];
    uapi::eclone_check(a.flags_low, a.args_size, &cargs, pids).map_err(|_| code::EINVAL)?;
    check_ns(a.flags_low, pids)?;

    let mut set_tid = [0i32; MAX_PID_NS_LEVEL as usize];
    uapi::set_tid_order(pids, &mut set_tid[..nr]);
    for (i, p) in set_tid.iter().enumerate().take(nr) {
        raw[4 * i..4 * i + 4].copy_from_slice(&p.to_ne_bytes());
    }
    UserSlice::new(a.set_tid as usize, 4 * nr)
        .writer()
        .write_slice(&raw[..4 * nr])?;
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

/// `struct cptrst_eclone_level`: one existing pid namespace level.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct NsLevel {
    /// `CAP_CHECKPOINT_RESTORE` or `CAP_SYS_ADMIN` over its owner.
    capable: u8,
    /// It has an init (`child_reaper`).
    has_reaper: u8,
    /// The chosen pid exists in it.
    pid_in_use: u8,
    pad: u8,
}
const _: () = assert!(offset_of!(NsLevel, capable) == 0);
const _: () = assert!(offset_of!(NsLevel, has_reaper) == 1);
const _: () = assert!(offset_of!(NsLevel, pid_in_use) == 2);
const _: () = assert!(offset_of!(NsLevel, pad) == 3);
const _: () = assert!(core::mem::size_of::<NsLevel>() == 4);

/// `struct cptrst_eclone_facts`: the caller's pid namespaces for chosen pids.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct NsFacts {
    /// Level of the caller's `pid_ns_for_children` (the base).
    base_level: u32,
    /// Entries of `lv` filled.
    nr_levels: u32,
    /// Capable over the caller's user ns (asked with `CLONE_NEWPID` only).
    newpid_capable: u32,
    pad: u32,
    /// `[0]`: the base, then its parents; `lv[k]` for the pid
    /// `pids[nr - 1 - newpid - k]`.
    lv: [NsLevel; MAX_PID_NS_LEVEL as usize],
}
const _: () = assert!(offset_of!(NsFacts, base_level) == 0);
const _: () = assert!(offset_of!(NsFacts, nr_levels) == 4);
const _: () = assert!(offset_of!(NsFacts, newpid_capable) == 8);
const _: () = assert!(offset_of!(NsFacts, pad) == 12);
const _: () = assert!(offset_of!(NsFacts, lv) == 16);
const _: () = assert!(core::mem::size_of::<NsFacts>() == 16 + 4 * MAX_PID_NS_LEVEL as usize);

mod ffi {
    extern "C" {
        pub(super) fn cptrst_eclone_ns_facts(
            pids: *const i32,
            nr: u32,
            newpid: u32,
            out: *mut super::NsFacts,
        );
    }
}

/// Checks the chosen `pids` (outermost namespace first; the last one for
/// the child's own namespace: the caller's `pid_ns_for_children`, or a new
/// one below it with `CLONE_NEWPID`) for a clone with `flags`, in the order
/// clone3() would: the depth, then per level from the innermost the
/// capability over the namespace's owner, that a pid other than 1 has an
/// init to live under, and that the pid is free (advisory: it may still be
/// taken before clone3() runs, which then fails the same way).
///
/// # Errors
/// `EINVAL` (more levels than namespaces, a pid other than 1 without an
/// init, or as a new namespace's first), `EPERM` (no
/// `CAP_CHECKPOINT_RESTORE`/`CAP_SYS_ADMIN` over a namespace), `EEXIST`
/// (a pid is in use).
fn check_ns(flags: u32, pids: &[i32]) -> Result {
    let nr = u32::try_from(pids.len()).map_err(|_| code::EINVAL)?;
    let newpid = flags & uapi::CLONE_NEWPID != 0;
    let mut f = NsFacts::default();
    // SAFETY: `pids` is readable for `nr` entries; `f` is a writable local
    // of the C layout; the shim reads at most MAX_PID_NS_LEVEL levels.
    unsafe { ffi::cptrst_eclone_ns_facts(pids.as_ptr(), nr, u32::from(newpid), &mut f) };
    let level = f.base_level as usize + usize::from(newpid);
    if pids.len() > level + 1 {
        return Err(code::EINVAL);
    }
    for (depth, &pid) in pids.iter().rev().enumerate() {
        if newpid && depth == 0 {
            // The new namespace's first task is its init.
            if pid != 1 {
                return Err(code::EINVAL);
            }
            if flags & uapi::CLONE_NEWUSER == 0 && f.newpid_capable == 0 {
                return Err(code::EPERM);
            }
            continue;
        }
        let k = depth - usize::from(newpid);
        let lv =
            f.lv.get(k)
                .filter(|_| k < f.nr_levels as usize)
                .ok_or(code::EINVAL)?;
        if lv.capable == 0 {
            return Err(code::EPERM);
        }
        if pid != 1 && lv.has_reaper == 0 {
            return Err(code::EINVAL);
        }
        if lv.pid_in_use != 0 {
            return Err(code::EEXIST);
        }
    }
    Ok(())
}
