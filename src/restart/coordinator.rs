// SPDX-License-Identifier: GPL-2.0
//! The coordinator's side of a restart (`RST_COORD`, the restart tool's
//! call): pass 1 over the image ([`crate::restore_plan`]), the context's
//! registration, the three steps (every participant arrives; they restore
//! in turn; every zombie is dead with its status and every task parked,
//! then their FPU states are set and they all go), and the clean-up of a
//! failed restart.

use kernel::error::code;
use kernel::prelude::*;
use kernel::sync::Arc;

use super::context::{Ctx, CtxParts, Phase, Snapshot, Stage};
use super::registry::Registry;
use crate::error::{fail, Fail};
use crate::image_in::InFile;
use crate::pid::Pid;
use crate::restore_plan;
use crate::signal;
use crate::task::{self, CurrentTask, Task, TaskExt};
use crate::uapi::RestartArgs;

/// Checks the image and the tree, then drives the restart to its end.
pub(super) fn coordinate(
    reg: &Registry,
    cur: &CurrentTask,
    args: &RestartArgs,
) -> Result<(), Fail> {
    let image = InFile::get(args.fd).map_err(|e| {
        fail!(
            e,
            "the image (fd {}) must be a regular file or memfd open for reading: error {}",
            args.fd,
            e.to_errno()
        )
    })?;
    let no_task = || fail!(code::ESRCH, "no task with pid {}", args.ctid);
    let root = Pid::find_vpid(args.ctid).ok_or_else(no_task)?;
    let root_task = root.task().ok_or_else(no_task)?;
    let coord = cur.to_ref();
    if !root_task.child_of(&coord) {
        return Err(fail!(
            code::EINVAL,
            "pid {} is not a child of the caller",
            args.ctid
        ));
    }
    let ns = root.ns().ok_or_else(no_task)?;
    let plan = restore_plan::plan(&image, args)?;
    let ctx = Ctx::new(CtxParts {
        coord,
        root,
        ns,
        image,
        flags: args.flags,
        plan,
    })?;
    let registered = reg.register(&ctx)?;
    let r = drive(&ctx, &root_task);
    if r.is_err() {
        ctx.set_phase(Phase::Failed);
    }
    drop(registered);
    if r.is_err() {
        kill_parts(&ctx);
    }
    r
}

/// Kills every participant of `ctx`: only tasks that joined this restart
/// (by task, never by pid: a pid may have been reused), and only with the
/// coordinator's rights (kill(2)'s permission check). Each also kills
/// itself when it sees the failure; this is for those asleep. Tasks of the
/// tree that never joined are the restart tool's to kill.
fn kill_parts(ctx: &Ctx) {
    let Ok(parts) = ctx.snapshot() else { return };
    for (t, _) in parts.iter().flatten() {
        // A task that already exited, or one the caller may not signal
        // (it cannot be a participant then), is left alone.
        let _ = signal::kill_group(t);
    }
}

/// The coordinator's three steps.
fn drive(ctx: &Arc<Ctx>, root_task: &Task) -> Result<(), Fail> {
    collect(ctx, root_task)?;
    check_tree(ctx, root_task)?;
    ctx.set_phase(Phase::Run);
    loop {
        let seen = ctx.events();
        let (phase, turn) = ctx.phase();
        if phase == Phase::Failed {
            return Err(ctx.take_failure());
        }
        let parts = ctx.snapshot()?;
        check_alive(ctx, &parts);
        if turn >= ctx.plan.tasks.len() && all_done(ctx, &parts) && !ctx.failed() {
            return release(ctx, &parts);
        }
        ctx.wait(seen)?;
    }
}

/// Step 1: waits until every task of the image has joined; fails as soon
/// as one is dead or cannot come.
fn collect(ctx: &Ctx, root_task: &Task) -> Result<(), Fail> {
    loop {
        let seen = ctx.events();
        if ctx.failed() {
            return Err(ctx.take_failure());
        }
        let parts = ctx.snapshot()?;
        let mut missing = None;
        for (i, p) in parts.iter().enumerate() {
            match p {
                Some((t, _)) if t.gone() => {
                    ctx.fail(ctx.of_task(i, fail!(code::ESRCH, "died before it was restored")));
                }
                Some(_) => {}
                None => missing = missing.or(Some(i)),
            }
        }
        let Some(i) = missing else { return Ok(()) };
        if ctx.failed() {
            continue;
        }
        // A task that died before it arrived never will: a zombie (its
        // parent, in restart, does not reap it) still holds the pid.
        let pid = ctx.plan.tasks[i].pid();
        if !ctx.ns.pid_alive(pid) && (i > 0 || root_task.gone()) {
            ctx.fail(ctx.of_task(
                i,
                fail!(code::ESRCH, "missing: no live task has this pid (it died before it joined, or was never created)"),
            ));
            continue;
        }
        ctx.wait(seen)?;
    }
}

/// No task of the subtree may be foreign to the image.
fn check_tree(ctx: &Ctx, root_task: &Task) -> Result<(), Fail> {
    let tasks = task::collect_tree(root_task, crate::checkpoint::MAX_TASKS)
        .map_err(|e| fail!(e, "listing the tasks of the tree: error {}", e.to_errno()))?;
    let parts = ctx.snapshot()?;
    for t in tasks.iter() {
        if !parts.iter().flatten().any(|(p, _)| p.same(t)) {
            return Err(fail!(
                code::EINVAL,
                "the tree has a task (pid {} here) that is not in the image or did not call restart",
                t.tgid_vnr()
            ));
        }
    }
    let n = ctx.plan.tasks.len();
    if tasks.len() != n {
        return Err(fail!(
            code::EINVAL,
            "the tree has {} tasks, the image {}",
            tasks.len(),
            n
        ));
    }
    Ok(())
}

/// Fails the restart if a participant died (a zombie's exit is expected).
fn check_alive(ctx: &Ctx, parts: &Snapshot) {
    for (i, p) in parts.iter().enumerate() {
        if let Some((t, stage)) = p {
            if *stage != Stage::Exiting && t.gone() {
                ctx.fail(ctx.of_task(i, fail!(code::ESRCH, "died while being restored (killed?)")));
            }
        }
    }
}

/// Step 3's condition: every zombie dead with the image's status, every
/// other task parked. Fails the restart on a wrong status.
fn all_done(ctx: &Ctx, parts: &Snapshot) -> bool {
    let mut all = true;
    for (i, p) in parts.iter().enumerate() {
        let Some((t, stage)) = p else { continue };
        let want = ctx.plan.tasks[i].entry.exit_code;
        match stage {
            Stage::Exiting => match t.zombie_code() {
                None => all = false,
                Some(c) if c as u32 != want => {
                    ctx.fail(ctx.of_task(
                        i,
                        fail!(
                            code::EINVAL,
                            "exited with status {:#x}, the image has {:#x}",
                            c,
                            want
                        ),
                    ));
                }
                Some(_) => {}
            },
            Stage::Parked => {}
            Stage::Arrived | Stage::Entered | Stage::Mapped => all = false,
        }
    }
    all
}

/// Sets every parked task's xstate (with the token each left when it
/// parked) and lets them all run.
fn release(ctx: &Ctx, parts: &Snapshot) -> Result<(), Fail> {
    let tokens = ctx.take_parked()?;
    let nr_parked = parts
        .iter()
        .flatten()
        .filter(|(_, stage)| *stage == Stage::Parked)
        .count();
    if tokens.len() != nr_parked {
        return Err(fail!(code::EINVAL, "a parked task has no FPU token"));
    }
    for (i, token) in tokens {
        let x = &ctx.plan.tasks[i].xstate;
        token.set_xstate(x).map_err(|e| {
            ctx.of_task(
                i,
                fail!(
                    e,
                    "FPU: the kernel refused the image's xstate: error {}",
                    e.to_errno()
                ),
            )
        })?;
    }
    match ctx.set_phase(Phase::Go) {
        Phase::Go => Ok(()),
        Phase::Collect | Phase::Run | Phase::Failed => Err(ctx.take_failure()),
    }
}
