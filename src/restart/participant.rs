// SPDX-License-Identifier: GPL-2.0
//! A participant's side of a restart: a task of the tree, created by user
//! space at its pids. Its first call ([`participate`]) finds the context,
//! checks that the caller is the image's task, waits for its turn and
//! enters the trampoline past the point of no return; the trampoline's
//! two further calls ([`resume`]) map the address space and commit the
//! task state, then park the task until the coordinator lets everyone go.
//! Any failure past the point of no return kills the caller ([`die`]).

use kernel::error::code;
use kernel::prelude::*;

use super::context::{Ctx, Part, Phase, Stage};
use super::registry::Registry;
use crate::error::{fail, Fail};
use crate::file::DevFile;
use crate::image_in::InFile;
use crate::restore_creds::SelfState;
use crate::restore_mm::{self, TrampParams};
use crate::restore_prog;
use crate::restore_task;
use crate::signal;
use crate::task::{CurrentTask, FpuParked, TaskExt, TI_LEADER};
use crate::uapi::{RestartArgs, RST_SKIP_FILES, RST_ZOMBIE};

/// A participant's first call: arrive, wait for its turn, restore.
pub(super) fn participate(
    reg: &Registry,
    cur: &CurrentTask,
    dev: &DevFile,
    args: &RestartArgs,
) -> Result<isize, Fail> {
    // The fd must at least be an image fd; the context's own is used.
    drop(InFile::get(args.fd).map_err(|e| {
        fail!(
            e,
            "the image fd {} cannot be read: error {}",
            args.fd,
            e.to_errno()
        )
    })?);
    let ctx = reg.find_waiting()?;
    if args.ctid != 0 && ctx.coord.tgid_vnr() != args.ctid {
        return Err(fail!(
            code::EINVAL,
            "pid {} is not the coordinator of this restart",
            args.ctid
        ));
    }
    if args.flags & RST_SKIP_FILES != ctx.flags & RST_SKIP_FILES {
        return Err(fail!(
            code::EINVAL,
            "the participant and the coordinator disagree on --skip-files"
        ));
    }
    let i = identify(&ctx, cur).map_err(|f| die(&ctx, cur, f))?;
    join(&ctx, cur, i).map_err(|f| die(&ctx, cur, ctx.of_task(i, f)))?;
    wait_turn(&ctx, cur, i)?;
    let t = &ctx.plan.tasks[i];
    if t.is_zombie() {
        ctx.set_stage(i, Stage::Exiting);
        ctx.next_turn(i);
        return Ok(RST_ZOMBIE as isize | (t.entry.exit_code & 0xffff) as isize);
    }
    enter(&ctx, cur, dev, i).map_err(|f| die(&ctx, cur, ctx.of_task(i, f)))?;
    ctx.set_stage(i, Stage::Entered);
    Ok(0)
}

/// Which task of the image the caller is; checks its pids at every level,
/// its thread group and its parent.
fn identify(ctx: &Ctx, cur: &CurrentTask) -> Result<usize, Fail> {
    let me = cur.task();
    let info = me
        .info(&ctx.ns)
        .map_err(|e| fail!(e, "the caller is not in the tree's pid namespace"))?;
    let pid = info.pids[0] as u32;
    let i = ctx.plan.index_of(pid).ok_or_else(|| {
        fail!(
            code::EINVAL,
            "the task with pid {} is not in the image's tree",
            pid
        )
    })?;
    let e = &ctx.plan.tasks[i].entry;
    let bad = |what: &str| {
        ctx.of_task(
            i,
            fail!(code::EINVAL, "its {} does not match the image", what),
        )
    };
    let n = e.nr_levels as usize;
    if info.nr_levels as usize != n
        || e.level_pids()
            .iter()
            .zip(info.pids.iter())
            .any(|(&a, &b)| a != b as u32)
    {
        return Err(bad("pids in the nested pid namespaces"));
    }
    if info.tgid as u32 != e.tgid || (info.flags & TI_LEADER != 0) == e.is_thread() {
        return Err(bad("thread group"));
    }
    if i == 0 {
        if !me.child_of(&ctx.coord) {
            return Err(bad("parent (the root must be the coordinator's child)"));
        }
    } else if !e.is_thread() && info.ppid as u32 != e.ppid {
        return Err(bad("parent"));
    }
    // Groups and sessions led inside the tree must be the image's.
    if ctx.plan.has_pid(e.pgid) && info.pgid as u32 != e.pgid {
        return Err(bad("process group"));
    }
    if ctx.plan.has_pid(e.sid) && info.sid as u32 != e.sid {
        return Err(bad("session"));
    }
    Ok(i)
}

/// Takes tree entry `i` for the caller, and tells the coordinator.
fn join(ctx: &Ctx, cur: &CurrentTask, i: usize) -> Result<(), Fail> {
    let me = cur.to_ref();
    let taken = ctx.with(|s| match s.parts.get_mut(i) {
        Some(slot @ None) => {
            *slot = Some(Part {
                task: me,
                stage: Stage::Arrived,
                parked: None,
            });
            true
        }
        _ => false,
    });
    if !taken {
        return Err(fail!(code::EINVAL, "a second task claims this pid"));
    }
    ctx.wake();
    Ok(())
}

/// Sleeps until it is task `i`'s turn.
fn wait_turn(ctx: &Ctx, cur: &CurrentTask, i: usize) -> Result<(), Fail> {
    loop {
        let seen = ctx.kicks_of(i);
        match ctx.phase() {
            (Phase::Failed, _) => {
                return Err(die(ctx, cur, fail!(code::EINTR, "the restart failed")))
            }
            (Phase::Run, turn) if turn == i => return Ok(()),
            (Phase::Collect | Phase::Run | Phase::Go, _) => {}
        }
        sleep(ctx, cur, i, seen)?;
    }
}

/// Between two looks at the phase: dies if the coordinator died before
/// GO, else sleeps until kicked after `seen`. (The coordinator returns,
/// and may exit, right after GO: its death only counts while the phase
/// is not GO, checked after the death was seen.)
fn sleep(ctx: &Ctx, cur: &CurrentTask, i: usize, seen: u32) -> Result<(), Fail> {
    if ctx.coord.gone() && ctx.phase().0 != Phase::Go {
        return Err(die(
            ctx,
            cur,
            fail!(code::ESRCH, "the coordinator of the restart died"),
        ));
    }
    ctx.wait_kick(i, seen)
        .map_err(|f| die(ctx, cur, ctx.of_task(i, f)))
}

/// Past the point of no return: the owner of the address space empties
/// it and maps the trampoline; its other threads enter that trampoline.
fn enter(ctx: &Ctx, cur: &CurrentTask, dev: &DevFile, i: usize) -> Result<(), Fail> {
    let k = ctx.mm_of(i)?;
    let mm = &ctx.plan.mms[k];
    let t = &ctx.plan.tasks[i];
    let tramp = if mm.owner == i {
        let tramp = restore_mm::enter_owner(cur, mm, t, dev)?;
        ctx.with(|s| {
            if let Some(x) = s.tramps.get_mut(k) {
                *x = tramp;
            }
        });
        tramp
    } else {
        let tramp = Some(ctx.tramp(k))
            .filter(|t| t.len != 0)
            .ok_or_else(|| fail!(code::EINVAL, "its address space is not restored"))?;
        restore_mm::enter_thread(cur, &tramp, t, dev)?;
        tramp
    };
    // Its restore program, against its own state and pids.
    let me = SelfState::get()?;
    let area = tramp.page(t);
    let prog = restore_prog::build(&ctx.plan, mm, i, &me, ctx.plan.as_invoker, area)?;
    if !prog.is_empty() {
        let (ops, nops) = restore_prog::write(&prog, area, t.area_len)?;
        TrampParams::store_prog(area, ops, nops)?;
    }
    Ok(())
}

/// Records the failure, makes the caller die, and returns what to report.
fn die(ctx: &Ctx, cur: &CurrentTask, f: Fail) -> Fail {
    let copy = Fail::new(f.err, format_args!("{}", f.msg.as_str()));
    ctx.fail(f);
    signal::kill_current(cur);
    copy
}

/// The second and third calls, from the trampoline.
pub(super) fn resume(reg: &Registry, cur: &CurrentTask, dev: &DevFile) -> Result<(), Fail> {
    let found = reg.find().and_then(|c| {
        let i = c.with(|s| {
            s.parts
                .iter()
                .position(|p| p.as_ref().is_some_and(|p| p.task.is_current()))
        });
        i.map(|i| (c, i))
    });
    let (ctx, i) =
        found.ok_or_else(|| fail!(code::EINVAL, "the caller is not a task being restored"))?;
    if ctx.failed() {
        return Err(die(
            &ctx,
            cur,
            ctx.of_task(i, fail!(code::EINTR, "the restart failed")),
        ));
    }
    match ctx.stage(i) {
        Some(Stage::Entered) => {
            map(&ctx, i).map_err(|f| die(&ctx, cur, ctx.of_task(i, f)))?;
            ctx.set_stage(i, Stage::Mapped);
            Ok(())
        }
        Some(Stage::Mapped) => commit(&ctx, cur, dev, i),
        Some(Stage::Arrived | Stage::Parked | Stage::Exiting) | None => Err(die(
            &ctx,
            cur,
            ctx.of_task(i, fail!(code::EINVAL, "resumed out of order")),
        )),
    }
}

/// Call 2: the owner maps its address space; other threads pass.
fn map(ctx: &Ctx, i: usize) -> Result<(), Fail> {
    let k = ctx.mm_of(i)?;
    let mm = &ctx.plan.mms[k];
    let t = &ctx.plan.tasks[i];
    let tramp = ctx.tramp(k);
    TrampParams::check(tramp.page(t), t)?;
    if mm.owner == i {
        restore_mm::map_mm(&ctx.image, &ctx.plan, mm, &tramp, t)?;
    }
    Ok(())
}

/// Call 3: commit, park, hand over, and wait for the others.
fn commit(ctx: &Ctx, cur: &CurrentTask, dev: &DevFile, i: usize) -> Result<(), Fail> {
    let finish = || -> Result<FpuParked, Fail> {
        let k = ctx.mm_of(i)?;
        let mm = &ctx.plan.mms[k];
        let t = &ctx.plan.tasks[i];
        let tramp = ctx.tramp(k);
        TrampParams::check(tramp.page(t), t)?;
        restore_mm::finish(mm, &tramp, mm.last == i)?;
        restore_task::restore(cur, dev, t, ctx.plan.keep_fds(i), ctx.plan.as_invoker)
    };
    let parked = finish().map_err(|f| die(ctx, cur, ctx.of_task(i, f)))?;
    ctx.park(i, parked);
    ctx.next_turn(i);
    wait_go(ctx, cur, i)
}

/// A parked task sleeps until the coordinator lets everyone go.
fn wait_go(ctx: &Ctx, cur: &CurrentTask, i: usize) -> Result<(), Fail> {
    loop {
        let seen = ctx.kicks_of(i);
        match ctx.phase().0 {
            Phase::Go => return Ok(()),
            Phase::Failed => {
                signal::kill_current(cur);
                return Err(fail!(code::EINTR, "the restart failed"));
            }
            Phase::Collect | Phase::Run => {}
        }
        sleep(ctx, cur, i, seen)?;
    }
}
