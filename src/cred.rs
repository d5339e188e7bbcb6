// SPDX-License-Identifier: GPL-2.0
//! Credentials: a task's ids as the dump records them ([`Creds`], part of
//! `TaskInfo`) and the checkpoint permission rule, decided here from the
//! facts `src/cptrst_task.c` gathers ([`DumpFacts`]); the rest of a
//! task's credentials for the CREDS record, read by `src/cptrst_sig.c`
//! ([`creds_ext`]: capability sets, securebits, no_new_privs and the
//! supplementary groups in the caller's user namespace).

use core::mem::offset_of;

use kernel::error::{code, Result};
use kernel::prelude::*;

use crate::task::{Task, TaskExt};

// Kernel structs by pointer only (see task.rs).
#[allow(improper_ctypes)]
mod ffi {
    use super::CredsExt;

    extern "C" {
        pub(super) fn cptrst_task_creds_ext(
            t: *mut kernel::bindings::task_struct,
            out: *mut CredsExt,
            groups: *mut u32,
            max: core::ffi::c_uint,
        ) -> core::ffi::c_int;
    }
}

/// `struct cptrst_creds`: a task's ids, mapped into the caller's user
/// namespace.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Creds {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) euid: u32,
    pub(crate) egid: u32,
    pub(crate) suid: u32,
    pub(crate) sgid: u32,
    pub(crate) fsuid: u32,
    pub(crate) fsgid: u32,
}
const _: () = assert!(offset_of!(Creds, uid) == 0);
const _: () = assert!(offset_of!(Creds, gid) == 4);
const _: () = assert!(offset_of!(Creds, euid) == 8);
const _: () = assert!(offset_of!(Creds, egid) == 12);
const _: () = assert!(offset_of!(Creds, suid) == 16);
const _: () = assert!(offset_of!(Creds, sgid) == 20);
const _: () = assert!(offset_of!(Creds, fsuid) == 24);
const _: () = assert!(offset_of!(Creds, fsgid) == 28);
const _: () = assert!(core::mem::size_of::<Creds>() == 32);

/// `struct cptrst_dump_facts`: what the permission rule looks at, for one
/// task and the caller; each field 0 or 1.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct DumpFacts {
    /// A kernel thread.
    pub(crate) kthread: u8,
    /// The caller's uid and gid are the task's real, effective and saved ones.
    pub(crate) same_ids: u8,
    /// The caller has `CAP_SYS_PTRACE` over the task's credentials' user ns.
    pub(crate) cap_cred_ns: u8,
    pub(crate) has_mm: u8,
    /// `get_dumpable() == SUID_DUMP_USER` (1 without an mm).
    pub(crate) dumpable_user: u8,
    /// The caller has `CAP_SYS_PTRACE` over the mm's user ns.
    pub(crate) cap_mm_ns: u8,
    /// A zombie (or dead).
    pub(crate) exited: u8,
    /// Ptraced by the caller's thread group.
    pub(crate) traced_by_caller: u8,
    /// In a ptrace stop.
    pub(crate) traced: u8,
    /// Still on its CPU.
    pub(crate) on_cpu: u8,
    pub(crate) pad: [u8; 6],
}
const _: () = assert!(offset_of!(DumpFacts, kthread) == 0);
const _: () = assert!(offset_of!(DumpFacts, same_ids) == 1);
const _: () = assert!(offset_of!(DumpFacts, cap_cred_ns) == 2);
const _: () = assert!(offset_of!(DumpFacts, has_mm) == 3);
const _: () = assert!(offset_of!(DumpFacts, dumpable_user) == 4);
const _: () = assert!(offset_of!(DumpFacts, cap_mm_ns) == 5);
const _: () = assert!(offset_of!(DumpFacts, exited) == 6);
const _: () = assert!(offset_of!(DumpFacts, traced_by_caller) == 7);
const _: () = assert!(offset_of!(DumpFacts, traced) == 8);
const _: () = assert!(offset_of!(DumpFacts, on_cpu) == 9);
const _: () = assert!(offset_of!(DumpFacts, pad) == 10);
const _: () = assert!(core::mem::size_of::<DumpFacts>() == 16);

impl DumpFacts {
    /// May the caller checkpoint the task, and is it stopped by the caller?
    ///
    /// Refuses kernel threads (`EPERM`), tasks the caller could not ptrace
    /// by the basic uid/dumpable rules (`EPERM`; the real grant is being
    /// the ptracer: ptrace_attach() ran the full may-access and LSM
    /// checks), and tasks that are not ptrace-stopped by the caller and
    /// off their CPU (`EBUSY`). Zombies need no stop.
    pub(crate) fn decide(&self) -> Result {
        self.decide_running()?;
        if self.exited != 0 {
            return Ok(());
        }
        if self.traced_by_caller == 0 || self.traced == 0 || self.on_cpu != 0 {
            return Err(code::EBUSY);
        }
        Ok(())
    }

    /// May the caller read the task while it runs (a live checkpoint's
    /// round)? The permission part of [`DumpFacts::decide`] alone: no
    /// kernel thread (`EPERM`), the basic uid/dumpable rules of ptrace
    /// (`EPERM`); no stop is required.
    pub(crate) fn decide_running(&self) -> Result {
        if self.kthread != 0 {
            return Err(code::EPERM);
        }
        if self.same_ids == 0 && self.cap_cred_ns == 0 {
            return Err(code::EPERM);
        }
        if self.has_mm != 0 && self.dumpable_user == 0 && self.cap_mm_ns == 0 {
            return Err(code::EPERM);
        }
        Ok(())
    }
}

/// `struct cptrst_creds_ext`: a task's capabilities, securebits,
/// no_new_privs and group count.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct CredsExt {
    pub(crate) cap_inheritable: u64,
    pub(crate) cap_permitted: u64,
    pub(crate) cap_effective: u64,
    pub(crate) cap_bset: u64,
    pub(crate) cap_ambient: u64,
    pub(crate) securebits: u32,
    /// `task_no_new_privs()`.
    pub(crate) no_new_privs: u32,
    pub(crate) ngroups: u32,
    /// 1 if the credentials' user namespace is not the caller's.
    pub(crate) foreign_ns: u32,
}
const _: () = assert!(offset_of!(CredsExt, cap_inheritable) == 0);
const _: () = assert!(offset_of!(CredsExt, cap_permitted) == 8);
const _: () = assert!(offset_of!(CredsExt, cap_effective) == 16);
const _: () = assert!(offset_of!(CredsExt, cap_bset) == 24);
const _: () = assert!(offset_of!(CredsExt, cap_ambient) == 32);
const _: () = assert!(offset_of!(CredsExt, securebits) == 40);
const _: () = assert!(offset_of!(CredsExt, no_new_privs) == 44);
const _: () = assert!(offset_of!(CredsExt, ngroups) == 48);
const _: () = assert!(offset_of!(CredsExt, foreign_ns) == 52);
const _: () = assert!(core::mem::size_of::<CredsExt>() == 56);

/// Most supplementary groups (`NGROUPS_MAX`).
pub(crate) const NGROUPS_MAX: usize = 65536;

/// The credentials of `t` beyond its ids, and its supplementary groups
/// mapped into the caller's user namespace (`from_kgid_munged`). A
/// task's credentials are replaced, never changed, so one copy is
/// consistent; a bigger group list than the first count gives another.
///
/// # Errors
/// `E2BIG` past `NGROUPS_MAX` groups, `ENOMEM`.
pub(crate) fn creds_ext(t: &Task) -> Result<(CredsExt, KVVec<u32>)> {
    let mut groups: KVVec<u32> = KVVec::new();
    loop {
        let mut c = CredsExt::default();
        let cap = groups.len();
        // SAFETY: a referenced task; `groups` holds `cap` u32s, which is
        // what the C side writes at most.
        let n = unsafe {
            ffi::cptrst_task_creds_ext(t.as_raw(), &mut c, groups.as_mut_ptr(), cap as _)
        };
        let n = usize::try_from(n).map_err(|_| Error::from_errno(n))?;
        if n == cap {
            return Ok((c, groups));
        }
        if n < cap {
            let mut g = KVVec::with_capacity(n, GFP_KERNEL)?;
            g.extend_from_slice(&groups[..n], GFP_KERNEL)?;
            return Ok((c, g));
        }
        if n > NGROUPS_MAX {
            return Err(code::E2BIG);
        }
        groups = KVVec::from_elem(0u32, n, GFP_KERNEL)?;
    }
}
