// SPDX-License-Identifier: GPL-2.0
//! Signals: pending signals of the caller, SIGKILL to a thread group with
//! kill(2)'s permission check, the calling task's own death and blocked
//! mask (through [`CurrentTask`]). All through 6.12's bindings.

use kernel::bindings;
use kernel::error::{code, to_result, Result};

use crate::pid::Pid;
use crate::task::{CurrentTask, Task};

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
