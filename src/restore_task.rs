// SPDX-License-Identifier: GPL-2.0
//! Restore of a task's own state, the counterpart of [`crate::dump_task`]:
//! on the restored task itself, in its last restart call, once its address
//! space is in place: general registers (with the syscall return value
//! queued for after the ioctl has returned), command name, personality,
//! the thread library's registrations, the blocked-signal mask, and the
//! FPU registers parked for the coordinator to set (only another task can
//! set a task's xstate: see `Documentation/restart.rst`).

use crate::error::{fail, Fail};
use crate::image::regs;
use crate::restore_plan::TaskPlan;
use crate::shim::rst::{self, DevFile};

/// Restores the calling task's state from `t`. `dev` is the ioctl's
/// `/dev/cptrst` file: it keeps the module loaded until the queued return
/// value is set.
pub(crate) fn restore(dev: &DevFile, t: &TaskPlan) -> Result<(), Fail> {
    rst::close_fds_from(3);
    let regs = t.regs.ok_or_else(|| fail!(kernel::error::code::EINVAL, "REGS: missing"))?;
    rst::set_regs(&regs).map_err(|e| fail!(e, "REGS: refused: error {}", e.to_errno()))?;
    rst::set_comm(&t.comm);
    rst::set_personality(t.personality).map_err(|e| fail!(e, "TASK: personality {:#x} refused", t.personality))?;
    rst::clear_pdeath();
    rst::set_thread_state(&t.thread).map_err(|e| fail!(e, "THREAD: refused: error {}", e.to_errno()))?;
    rst::queue_ax(dev, regs[regs::AX])?;
    rst::set_sigmask(t.blocked)?;
    rst::fpu_park();
    Ok(())
}
