// SPDX-License-Identifier: GPL-2.0
//! Signals: pending signals of the caller, SIGKILL to a thread group with
//! kill(2)'s permission check, the calling task's own death and blocked
//! mask (through [`CurrentTask`]), all through 6.12's bindings; and the
//! read side of a stopped task's signal state for the checkpoint, from
//! `src/cptrst_sig.c`: its altstack, pdeath signal, timer slack, seccomp
//! and io_uring use ([`sig_facts`]), its pending queues ([`pending`]),
//! and its thread group's sigactions, rlimits, interval timers and mm
//! flags ([`proc_facts`]). Nothing read is consumed.

use core::mem::{offset_of, size_of};

use kernel::bindings;
use kernel::error::{code, to_result, Result};
use kernel::prelude::*;

use crate::pid::Pid;
use crate::rlimit::{RlimitFacts, NRLIMIT};
use crate::task::{CurrentTask, Task, TaskExt};
use crate::timer::ItimerFacts;

// Kernel structs by pointer only (see task.rs).
#[allow(improper_ctypes)]
mod ffi {
    use super::{PendingFacts, ProcFacts, SigTaskFacts};

    extern "C" {
        pub(super) fn cptrst_task_sig_facts(
            t: *mut kernel::bindings::task_struct,
            out: *mut SigTaskFacts,
        ) -> core::ffi::c_int;
        pub(super) fn cptrst_task_pending(
            t: *mut kernel::bindings::task_struct,
            shared: core::ffi::c_int,
            out: *mut PendingFacts,
            buf: *mut u8,
            max: core::ffi::c_uint,
        ) -> core::ffi::c_int;
        pub(super) fn cptrst_task_proc_facts(
            t: *mut kernel::bindings::task_struct,
            out: *mut ProcFacts,
        ) -> core::ffi::c_int;
    }
}

/// Signals that can never be blocked (SIGKILL, SIGSTOP).
pub(crate) const UNBLOCKABLE: u64 = (1 << (bindings::SIGKILL - 1)) | (1 << (bindings::SIGSTOP - 1));
const _: () = assert!(UNBLOCKABLE == (1 << 8) | (1 << 18));
// One word of signals (`_NSIG_WORDS == 1`), 64 bits: the casts below are exact.
const _: () = assert!(core::mem::size_of::<bindings::sigset_t>() == 8);
const _: () = assert!(core::mem::size_of::<usize>() == 8);

/// Has the calling task a signal pending? (A read: no [`CurrentTask`].)
pub(crate) fn current_pending() -> bool {
    kernel::current!().signal_pending()
}

/// Sends `t`'s thread group SIGKILL with the caller's rights (kill(2)'s
/// check_kill_permission): `EPERM` for a task the caller may not signal,
/// `ESRCH` once it is reaped.
pub(crate) fn kill_group(t: &Task) -> Result {
    let pid = Pid::of_task_group(t).ok_or(code::ESRCH)?;
    // SAFETY: a referenced pid; kill_pid() handles an exiting group.
    to_result(unsafe { bindings::kill_pid(pid.as_raw(), bindings::SIGKILL as i32, 0) })
}

/// Makes the calling task die on its way out of the kernel: no user
/// instruction runs.
pub(crate) fn kill_current(_cur: &CurrentTask) {
    // SAFETY: no precondition; acts on current, the task `_cur` stands for.
    unsafe { bindings::force_sig(bindings::SIGKILL as i32) }
}

fn set_mask(mask: u64) -> Result<u64> {
    let mut set = bindings::sigset_t {
        sig: [(mask & !UNBLOCKABLE) as usize],
    };
    let mut old = bindings::sigset_t { sig: [0] };
    // SAFETY: both are writable locals; sigprocmask() acts on current.
    to_result(unsafe { bindings::sigprocmask(bindings::SIG_SETMASK as i32, &mut set, &mut old) })?;
    Ok(old.sig[0] as u64)
}

/// Blocks every blockable signal of the calling task; returns the old mask.
pub(crate) fn block_all(_cur: &CurrentTask) -> Result<u64> {
    set_mask(u64::MAX)
}

/// Sets the calling task's blocked mask (SIGKILL and SIGSTOP stay unblocked).
pub(crate) fn set_blocked(_cur: &CurrentTask, blocked: u64) -> Result {
    set_mask(blocked).map(|_| ())
}

/// Bytes of a user `siginfo_t` (a pending entry as the dump copies it).
pub(crate) const SIGINFO_LEN: usize = 128;
/// Signals (`_NSIG`).
pub(crate) const NSIG: usize = 64;

/// `struct cptrst_sig_task`: a task's own signal facts.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct SigTaskFacts {
    pub(crate) sas_ss_sp: u64,
    pub(crate) sas_ss_size: u64,
    pub(crate) timer_slack_ns: u64,
    pub(crate) default_timer_slack_ns: u64,
    pub(crate) sas_ss_flags: u32,
    pub(crate) pdeath_signal: i32,
    /// `task->seccomp.mode` (0: none).
    pub(crate) seccomp_mode: u32,
    /// 1 if the task has an io_uring context.
    pub(crate) io_uring: u32,
}
const _: () = assert!(offset_of!(SigTaskFacts, sas_ss_sp) == 0);
const _: () = assert!(offset_of!(SigTaskFacts, sas_ss_size) == 8);
const _: () = assert!(offset_of!(SigTaskFacts, timer_slack_ns) == 16);
const _: () = assert!(offset_of!(SigTaskFacts, default_timer_slack_ns) == 24);
const _: () = assert!(offset_of!(SigTaskFacts, sas_ss_flags) == 32);
const _: () = assert!(offset_of!(SigTaskFacts, pdeath_signal) == 36);
const _: () = assert!(offset_of!(SigTaskFacts, seccomp_mode) == 40);
const _: () = assert!(offset_of!(SigTaskFacts, io_uring) == 44);
const _: () = assert!(size_of::<SigTaskFacts>() == 48);

/// `struct cptrst_pending`: one pending queue's set and entry count.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct PendingFacts {
    /// Bit `n - 1`: signal `n` is pending.
    pub(crate) signal: u64,
    /// Entries of the queue (all of them, copied or not).
    pub(crate) count: u32,
    pub(crate) pad: u32,
}
const _: () = assert!(offset_of!(PendingFacts, signal) == 0);
const _: () = assert!(offset_of!(PendingFacts, count) == 8);
const _: () = assert!(offset_of!(PendingFacts, pad) == 12);
const _: () = assert!(size_of::<PendingFacts>() == 16);

/// `struct cptrst_sigaction`: the kernel's `struct sigaction`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct SigActionFacts {
    pub(crate) handler: u64,
    pub(crate) flags: u64,
    pub(crate) restorer: u64,
    pub(crate) mask: u64,
}
const _: () = assert!(offset_of!(SigActionFacts, handler) == 0);
const _: () = assert!(offset_of!(SigActionFacts, flags) == 8);
const _: () = assert!(offset_of!(SigActionFacts, restorer) == 16);
const _: () = assert!(offset_of!(SigActionFacts, mask) == 24);
const _: () = assert!(size_of::<SigActionFacts>() == 32);

/// `struct cptrst_proc_facts`: what a thread group shares.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProcFacts {
    pub(crate) rlim: [RlimitFacts; NRLIMIT],
    pub(crate) itimers: ItimerFacts,
    /// Entry `i`: signal `i + 1`.
    pub(crate) action: [SigActionFacts; NSIG],
    /// `mm->flags` (`MMF_*`), 0 without an mm.
    pub(crate) mm_flags: u64,
    /// `mm->def_flags`.
    pub(crate) def_flags: u64,
    pub(crate) has_mm: u32,
    /// `get_dumpable()`.
    pub(crate) dumpable: u32,
    /// `signal->is_child_subreaper`.
    pub(crate) subreaper: u32,
    pub(crate) pad: u32,
}
const _: () = assert!(offset_of!(ProcFacts, rlim) == 0);
const _: () = assert!(offset_of!(ProcFacts, itimers) == 256);
const _: () = assert!(offset_of!(ProcFacts, action) == 344);
const _: () = assert!(offset_of!(ProcFacts, mm_flags) == 2392);
const _: () = assert!(offset_of!(ProcFacts, def_flags) == 2400);
const _: () = assert!(offset_of!(ProcFacts, has_mm) == 2408);
const _: () = assert!(offset_of!(ProcFacts, dumpable) == 2412);
const _: () = assert!(offset_of!(ProcFacts, subreaper) == 2416);
const _: () = assert!(offset_of!(ProcFacts, pad) == 2420);
const _: () = assert!(size_of::<ProcFacts>() == 2424);

/// The signal facts of a stopped task `t`.
pub(crate) fn sig_facts(t: &Task) -> SigTaskFacts {
    let mut f = SigTaskFacts::default();
    // SAFETY: a referenced task; `f` is a writable local of the C layout.
    unsafe { ffi::cptrst_task_sig_facts(t.as_raw(), &mut f) };
    f
}

/// A copy of one pending queue: its set and its entries, each a user
/// `siginfo_t` of [`SIGINFO_LEN`] bytes, in queue order.
pub(crate) struct Pending {
    pub(crate) signal: u64,
    pub(crate) entries: KVVec<[u8; SIGINFO_LEN]>,
}

/// Most entries one queue copy takes (beyond, `E2BIG`: the image's
/// `MAX_PENDING` is less).
const PENDING_COPY_MAX: usize = 1 << 16;

/// Copies `t`'s private pending queue, or with `shared` its thread
/// group's, without dequeuing anything: a buffer as big as the queue,
/// copied under the siglock, again with a bigger buffer if the queue grew
/// meanwhile.
///
/// # Errors
/// `ESRCH` for an exiting task, `E2BIG` past 65536 entries, `ENOMEM`.
pub(crate) fn pending(t: &Task, shared: bool) -> Result<Pending> {
    let mut cap = 0usize;
    let mut buf: KVVec<[u8; SIGINFO_LEN]> = KVVec::new();
    loop {
        let mut f = PendingFacts::default();
        // SAFETY: a referenced task; `buf` holds `cap` entries of
        // SIGINFO_LEN bytes, which is what the C side writes at most.
        to_result(unsafe {
            ffi::cptrst_task_pending(
                t.as_raw(),
                shared as core::ffi::c_int,
                &mut f,
                buf.as_mut_ptr().cast(),
                cap as core::ffi::c_uint,
            )
        })?;
        let n = f.count as usize;
        if n <= cap {
            let mut entries = KVVec::with_capacity(n, GFP_KERNEL)?;
            entries.extend_from_slice(&buf[..n], GFP_KERNEL)?;
            return Ok(Pending {
                signal: f.signal,
                entries,
            });
        }
        if n > PENDING_COPY_MAX {
            return Err(code::E2BIG);
        }
        // Room for some growth before the next try.
        cap = (n + n / 4 + 8).min(PENDING_COPY_MAX);
        buf = KVVec::from_elem([0u8; SIGINFO_LEN], cap, GFP_KERNEL)?;
    }
}

/// What the thread group of the leader `t` shares: sigactions, rlimits,
/// interval timers, the subreaper flag and the mm's flags.
///
/// # Errors
/// `ESRCH` for an exiting task, `ENOMEM`.
pub(crate) fn proc_facts(t: &Task) -> Result<KBox<ProcFacts>> {
    let mut f = KBox::new(
        ProcFacts {
            rlim: [RlimitFacts::default(); NRLIMIT],
            itimers: ItimerFacts::default(),
            action: [SigActionFacts::default(); NSIG],
            mm_flags: 0,
            def_flags: 0,
            has_mm: 0,
            dumpable: 0,
            subreaper: 0,
            pad: 0,
        },
        GFP_KERNEL,
    )?;
    // SAFETY: a referenced task; `f` is writable memory of the C layout.
    to_result(unsafe { ffi::cptrst_task_proc_facts(t.as_raw(), &mut *f) })?;
    Ok(f)
}
