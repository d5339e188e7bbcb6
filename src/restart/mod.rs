// SPDX-License-Identifier: GPL-2.0
//! `restart(ctid, fd, flags)`: bring a checkpointed process tree back.
//!
//! The code is split by role: [`registry`] (the restarts under way),
//! [`context`] (what one restart shares: phases, stages, wake-ups),
//! [`coordinator`] and [`participant`]. The task state and the address
//! space are restored by [`crate::restore_task`] and [`crate::restore_mm`]
//! from the plan of [`crate::restore_plan`].
//!
//! Every task of the tree, created by user space at its pids, calls
//! restart; so does the coordinator (`RST_COORD`, the restart tool). They
//! share a restart context ([`context::Ctx`]):
//! 1. the coordinator reads and checks the whole image (pass 1,
//!    [`crate::restore_plan`]), registers the context and waits, killably,
//!    until every task of the image has arrived; a task whose pids, parent
//!    or thread group do not match its TREE entry, a task the image does
//!    not have, a duplicate, or a missing one fails the restart;
//! 2. tasks restore in image order, each handing over to the next. The
//!    first live task of each address space restores it (pass 2,
//!    [`crate::restore_mm`]) in three calls: the point of no return (all
//!    but [vdso]/[vvar] unmapped, the trampoline mapped), the mapping of the
//!    image after the trampoline parked [vdso]/[vvar], and the commit after
//!    the trampoline moved them and set fs/gs. The other threads of that
//!    address space enter the same trampoline with their own parameters.
//!    A zombie's call returns `RST_ZOMBIE | status`, and it exits with that
//!    status in user space;
//! 3. once every task has committed (parked, its FPU registers saved) and
//!    every zombie is dead with its status, the coordinator sets each
//!    task's xstate (only another task can) and lets them all go at once.
//!
//! After the point of no return any failure kills every task of the tree:
//! each participant kills itself, and the coordinator kills the
//! participants (the tasks that joined this restart, never a task found by
//! pid, and with the caller's rights only); the restart tool kills the
//! tasks it created that never joined. Every wait is killable and re-checks
//! its peers. The failure message (naming the task and the image record)
//! goes to the coordinator's buffer.

use kernel::prelude::*;
use kernel::uaccess::UserSlice;

use crate::error::Fail;
use crate::file::DevFile;
use crate::task::CurrentTask;
use crate::uapi::{RestartArgs, RST_COORD, RST_RESUME};

mod context;
mod coordinator;
mod participant;
mod registry;

pub(crate) use registry::Registry;

/// The `restart` operation of the calling task `cur`. `reg` is the
/// device's registry of restarts.
pub(crate) fn restart(
    reg: &Registry,
    cur: &CurrentTask,
    dev: &DevFile,
    args: &RestartArgs,
) -> Result<isize> {
    let r = if args.flags & RST_COORD != 0 {
        coordinator::coordinate(reg, cur, args).map(|()| 0)
    } else if args.flags & RST_RESUME != 0 {
        participant::resume(reg, cur, dev).map(|()| 0)
    } else {
        participant::participate(reg, cur, dev, args)
    };
    r.map_err(|f| {
        report(args, &f);
        f.err
    })
}

/// Writes the message of `f` into the caller's buffer, if it gave one.
fn report(args: &RestartArgs, f: &Fail) {
    if args.msg == 0 || args.msg_len == 0 {
        return;
    }
    let text = f.msg.as_bytes();
    let n = text.len().min(args.msg_len as usize - 1);
    let mut buf = [0u8; 256];
    buf[..n].copy_from_slice(&text[..n]);
    // A bad buffer loses the message, not the errno.
    let _ = UserSlice::new(args.msg as usize, n + 1)
        .writer()
        .write_slice(&buf[..n + 1]);
}
