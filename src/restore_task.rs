// SPDX-License-Identifier: GPL-2.0
//! Restore of a task's own state, the counterpart of [`crate::dump_task`]:
//! on the restored task itself, in its last restart call, once its address
//! space is in place: general registers (with the syscall return value
//! queued for after the ioctl has returned), command name, personality,
//! the thread library's registrations, the parent-death signal, the
//! blocked-signal mask, and the
//! FPU registers parked for the coordinator to set (only another task can
//! set a task's xstate: see `Documentation/restart.rst`); and the fds it
//! keeps: those its thread group leader's FDS record lists, which user
//! space has set up (0, 1 and 2 for an image without FDS, or with
//! `RST_SKIP_FILES`).

use kernel::error::code;

use crate::error::{fail, Fail};
use crate::file::{self, DevFile};
use crate::image::regs;
use crate::restore_creds::{self, SelfState};
use crate::restore_plan::TaskPlan;
use crate::restore_prog;
use crate::signal;
use crate::task::{CurrentTask, FpuParked};

/// Restores the calling task's state from `t`, and parks its FPU. `dev`
/// is the ioctl's `/dev/cptrst` file: it keeps the module loaded until the
/// queued return value is set. The regs were validated by the plan. Every
/// fd but those of `keep` (ascending, [`crate::restore_plan::Plan::keep_fds`])
/// is closed: the threads of a group share one table and one list.
pub(crate) fn restore(
    cur: &CurrentTask,
    dev: &DevFile,
    t: &TaskPlan,
    keep: &[u32],
    as_invoker: bool,
) -> Result<FpuParked, Fail> {
    // What the restore program set: the credentials must now be the
    // image's; the POSIX timers get their overrun counts.
    if let Some(c) = t.creds.as_ref() {
        let me = SelfState::get()?;
        restore_creds::verify(&me, &t.ids, c, as_invoker)?;
    }
    if let Some(pr) = t.process.as_deref() {
        restore_prog::set_timer_overruns(pr)?;
    }
    file::close_fds_except(cur, dev, keep);
    let regs = t
        .regs
        .as_ref()
        .ok_or_else(|| fail!(code::EINVAL, "REGS: missing"))?;
    cur.set_regs(regs);
    cur.set_comm(&t.comm);
    cur.set_personality(t.personality)
        .map_err(|e| fail!(e, "TASK: personality {:#x} refused", t.personality))?;
    // After the credentials: a change of them clears it.
    cur.set_pdeath(t.sigs.as_ref().map_or(0, |s| s.pdeath_signal));
    cur.set_thread_state(&t.thread)
        .map_err(|e| fail!(e, "THREAD: refused: error {}", e.to_errno()))?;
    cur.queue_ax(dev, regs.get()[regs::AX])?;
    signal::set_blocked(cur, t.blocked)?;
    Ok(cur.fpu_park())
}
