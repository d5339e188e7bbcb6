// SPDX-License-Identifier: GPL-2.0
//! `restart(ctid, fd, flags)`: bring a checkpointed process tree back.
//!
//! Every task of the tree, created by user space at its pids, calls
//! restart; so does the coordinator (`RST_COORD`, the restart tool). They
//! share a restart context ([`Ctx`]):
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
//! Each participant sleeps on its own wait queue: handing over the turn
//! wakes the next task only (a shared queue woke all of them at every
//! step, which made a 100-task restart spend most of its time switching
//! tasks); a phase change (RUN, GO, FAILED) wakes everyone. The coordinator
//! has a queue of its own: arrivals, the last hand-over and phase changes
//! wake it.
//!
//! After the point of no return any failure kills every task of the tree:
//! each participant kills itself, and the coordinator kills the
//! participants (the tasks that joined this restart, never a task found by
//! pid, and with the caller's rights only); the restart tool kills the
//! tasks it created that never joined. Every wait is killable and re-checks
//! its peers. The failure message (naming the task and the image record)
//! goes to the coordinator's buffer.

use core::sync::atomic::{AtomicU32, Ordering};

use kernel::error::code;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::image_in::{fail, Fail, Msg};
use crate::restore_mm::{self, Tramp, TrampParams};
use crate::restore_plan::{self, Plan};
use crate::pid::{Pid, PidNamespace};
use crate::shim::rst::{self, DevFile, InFile, Locked, RstGuard, WaitQ};
use crate::signal;
use crate::task::{self, CurrentTask, FpuParked, Task, TaskExt, TI_LEADER};
use kernel::types::ARef;
use crate::uapi::{RestartArgs, RST_COORD, RST_RESUME, RST_SKIP_FILES, RST_ZOMBIE};

// Phases of a context (`Ctx::phase`).
/// The participants arrive.
const COLLECT: u32 = 0;
/// The tasks restore in turn (`Ctx::turn`).
const RUN: u32 = 1;
/// Done: every task runs the restored program.
const GO: u32 = 2;
/// Failed: every task dies.
const FAILED: u32 = 3;

// Stages of a participant (`Part::stage`).
const ARRIVED: u32 = 0;
/// Past the point of no return, in the trampoline.
const ENTERED: u32 = 1;
/// Its address space is mapped.
const MAPPED: u32 = 2;
/// Committed, parked until GO.
const PARKED: u32 = 3;
/// A zombie, exiting with its status.
const EXITING: u32 = 4;

/// How often a waiter re-checks that its peers are alive.
const POLL_MS: u32 = 200;

/// A participant.
struct Part {
    task: ARef<Task>,
    stage: u32,
    /// Its proof of a parked FPU, from PARKED until the coordinator sets
    /// its xstate ([`release`]).
    parked: Option<FpuParked>,
}

/// The mutable state of a context.
struct State {
    parts: KVec<Option<Part>>,
    /// Per address space: its trampoline, once its owner has entered.
    tramps: KVec<Tramp>,
    failure: Option<Fail>,
}

/// A restart context, shared by the coordinator and the participants.
pub(crate) struct Ctx {
    coord: ARef<Task>,
    /// The root task's pid (in the coordinator's namespace).
    root: ARef<Pid>,
    /// The tree's pid namespace: the root's.
    ns: ARef<PidNamespace>,
    image: InFile,
    flags: u32,
    plan: Plan,
    phase: AtomicU32,
    /// Whose turn it is (tree index).
    turn: AtomicU32,
    /// Participants arrived, a turn passed the last task, or the phase
    /// changed: bumped on every such change; the coordinator waits on it.
    events: AtomicU32,
    wq: WaitQ,
    /// Per participant: bumped when something it waits for changes (its
    /// turn, the phase), with its own queue, so that a hand-over wakes one
    /// task rather than all of them.
    kicks: KVec<AtomicU32>,
    wqs: KVec<WaitQ>,
    st: Locked<State>,
}

// SAFETY: the plan, the task and pid references, the namespace and the
// image are only read or reference counted; the rest is atomics and
// `Locked` state.
unsafe impl Send for Ctx {}
// SAFETY: as above.
unsafe impl Sync for Ctx {}

impl Ctx {
    /// Records the first failure, moves to FAILED and wakes everyone.
    fn fail(&self, f: Fail) {
        let mut g = RstGuard::lock();
        self.st.with(&mut g, |s| {
            if s.failure.is_none() {
                s.failure = Some(f);
            }
        });
        drop(g);
        self.set_phase(FAILED);
    }

    /// Wakes the coordinator.
    fn wake(&self) {
        self.events.fetch_add(1, Ordering::AcqRel);
        self.wq.wake();
    }

    /// Wakes participant `i`.
    fn kick(&self, i: usize) {
        if let (Some(k), Some(q)) = (self.kicks.get(i), self.wqs.get(i)) {
            k.fetch_add(1, Ordering::AcqRel);
            q.wake();
        }
    }

    /// Moves to `phase` and wakes everyone.
    fn set_phase(&self, phase: u32) {
        self.phase.store(phase, Ordering::Release);
        for i in 0..self.kicks.len() {
            self.kick(i);
        }
        self.wake();
    }

    fn failed(&self) -> bool {
        self.phase.load(Ordering::Acquire) == FAILED
    }

    fn take_failure(&self) -> Fail {
        let mut g = RstGuard::lock();
        self.st
            .with(&mut g, |s| s.failure.take())
            .unwrap_or_else(|| fail!(code::ESRCH, "a task being restored died"))
    }

    /// Records participant `i`'s stage. The coordinator looks at stages
    /// only once the last turn has passed ([`Ctx::next_turn`] wakes it).
    fn set_stage(&self, i: usize, stage: u32) {
        let mut g = RstGuard::lock();
        self.st.with(&mut g, |s| {
            if let Some(Some(p)) = s.parts.get_mut(i) {
                p.stage = stage;
            }
        });
    }

    /// Participant `i` parked: its FPU token goes to the coordinator.
    fn park(&self, i: usize, parked: FpuParked) {
        let mut g = RstGuard::lock();
        self.st.with(&mut g, |s| {
            if let Some(Some(p)) = s.parts.get_mut(i) {
                p.stage = PARKED;
                p.parked = Some(parked);
            }
        });
    }

    /// The FPU tokens of the parked participants, taken out (index, token).
    fn take_parked(&self) -> Result<KVec<(usize, FpuParked)>, Fail> {
        let n = self.plan.tasks.len();
        let mut v = KVec::with_capacity(n, GFP_KERNEL).map_err(|_| Fail::errno(code::ENOMEM, "restart"))?;
        let mut g = RstGuard::lock();
        self.st.with(&mut g, |s| {
            for (i, p) in s.parts.iter_mut().enumerate() {
                if let Some(t) = p.as_mut().and_then(|p| p.parked.take()) {
                    // Capacity reserved above: no allocation under the lock.
                    let _ = v.push((i, t), GFP_KERNEL);
                }
            }
        });
        Ok(v)
    }

    fn stage(&self, i: usize) -> Option<u32> {
        let mut g = RstGuard::lock();
        self.st.with(&mut g, |s| s.parts.get(i).and_then(|p| p.as_ref()).map(|p| p.stage))
    }

    /// Participant `i`'s kick count, to load before looking at what it
    /// waits for and to hand to [`Ctx::wait_kick`] (no lost wake-up).
    fn kicks_of(&self, i: usize) -> u32 {
        self.kicks.get(i).map_or(0, |k| k.load(Ordering::Acquire))
    }

    /// Participant `i` sleeps until it is kicked after `seen` (from
    /// [`Ctx::kicks_of`]) or the poll interval passed.
    fn wait_kick(&self, i: usize, seen: u32) -> Result<(), Fail> {
        let (Some(k), Some(q)) = (self.kicks.get(i), self.wqs.get(i)) else {
            return Err(fail!(code::EINVAL, "no such participant"));
        };
        q.wait(k, seen, POLL_MS).map(|_| ()).map_err(|e| fail!(e, "interrupted (a fatal signal)"))
    }

    /// The coordinator sleeps until something changes (or the poll
    /// interval passed).
    fn wait(&self) -> Result<(), Fail> {
        let ev = self.events.load(Ordering::Acquire);
        self.wq
            .wait(&self.events, ev, POLL_MS)
            .map(|_| ())
            .map_err(|e| fail!(e, "interrupted (a fatal signal)"))
    }

    /// Hands the turn from `i` to the next task, waking only that one (or
    /// the coordinator after the last).
    fn next_turn(&self, i: usize) {
        let _ = self.turn.compare_exchange(i as u32, i as u32 + 1, Ordering::AcqRel, Ordering::Acquire);
        if i + 1 < self.kicks.len() {
            self.kick(i + 1);
        } else {
            self.wake();
        }
    }

    /// The name of task `i` for messages: its index and pid.
    fn who(&self, i: usize) -> (usize, u32) {
        (i, self.plan.tasks.get(i).map_or(0, |t| t.pid()))
    }
}

/// The contexts of the restarts under way (free slots are `None`).
static REGISTRY: Locked<KVec<Option<Arc<Ctx>>>> = Locked::new(KVec::new());
/// Bumped whenever a context is registered (participants wait on it).
static GENERATION: AtomicU32 = AtomicU32::new(0);

/// The `restart` operation.
pub(crate) fn restart(dev: &DevFile, args: &RestartArgs) -> Result<isize> {
    let r = if args.flags & RST_COORD != 0 {
        coordinate(args).map(|()| 0)
    } else if args.flags & RST_RESUME != 0 {
        resume(dev).map(|()| 0)
    } else {
        participate(dev, args)
    };
    match r {
        Ok(v) => Ok(v),
        Err(f) => {
            report(args, &f);
            Err(f.err)
        }
    }
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
    let _ = rst::copy_to_user(args.msg, &buf[..n + 1]);
}

/// Prefixes a failure of task `i` with its name.
fn of_task(ctx: &Ctx, i: usize, f: Fail) -> Fail {
    let (i, pid) = ctx.who(i);
    let mut msg = Msg::new();
    let _ = core::fmt::Write::write_fmt(
        &mut msg,
        format_args!("task {} (pid {}): {}", i, pid, core::str::from_utf8(f.msg.as_bytes()).unwrap_or("?")),
    );
    Fail { err: f.err, msg }
}

// ---------------------------------------------------------------------
// Coordinator.

fn coordinate(args: &RestartArgs) -> Result<(), Fail> {
    let image = InFile::get(args.fd).map_err(|e| {
        fail!(e, "the image (fd {}) must be a regular file or memfd open for reading: error {}", args.fd, e.to_errno())
    })?;
    let root = Pid::find_vpid(args.ctid).ok_or_else(|| fail!(code::ESRCH, "no task with pid {}", args.ctid))?;
    let root_task = root.task().ok_or_else(|| fail!(code::ESRCH, "no task with pid {}", args.ctid))?;
    let me = CurrentTask::get().to_ref();
    if !root_task.child_of(&me) {
        return Err(fail!(code::EINVAL, "pid {} is not a child of the caller", args.ctid));
    }
    let ns = root.ns().ok_or_else(|| fail!(code::ESRCH, "no task with pid {}", args.ctid))?;
    let plan = restore_plan::plan(&image, args.flags)?;
    let n = plan.tasks.len();
    let mut parts = KVec::with_capacity(n, GFP_KERNEL).map_err(|_| Fail::errno(code::ENOMEM, "restart"))?;
    let mut tramps = KVec::with_capacity(plan.mms.len(), GFP_KERNEL).map_err(|_| Fail::errno(code::ENOMEM, "restart"))?;
    for _ in 0..n {
        parts.push(None, GFP_KERNEL).map_err(|_| Fail::errno(code::ENOMEM, "restart"))?;
    }
    for _ in 0..plan.mms.len() {
        tramps.push(Tramp::default(), GFP_KERNEL).map_err(|_| Fail::errno(code::ENOMEM, "restart"))?;
    }
    let mut kicks = KVec::with_capacity(n, GFP_KERNEL).map_err(|_| Fail::errno(code::ENOMEM, "restart"))?;
    let mut wqs = KVec::with_capacity(n, GFP_KERNEL).map_err(|_| Fail::errno(code::ENOMEM, "restart"))?;
    for _ in 0..n {
        kicks.push(AtomicU32::new(0), GFP_KERNEL).map_err(|_| Fail::errno(code::ENOMEM, "restart"))?;
        wqs.push(WaitQ::new()?, GFP_KERNEL).map_err(|_| Fail::errno(code::ENOMEM, "restart"))?;
    }
    let ctx = Arc::new(
        Ctx {
            coord: me,
            root,
            ns,
            image,
            flags: args.flags,
            plan,
            phase: AtomicU32::new(COLLECT),
            turn: AtomicU32::new(0),
            events: AtomicU32::new(0),
            wq: WaitQ::new()?,
            kicks,
            wqs,
            st: Locked::new(State { parts, tramps, failure: None }),
        },
        GFP_KERNEL,
    )
    .map_err(|_| Fail::errno(code::ENOMEM, "restart"))?;
    register(&ctx)?;
    let r = drive(&ctx, &root_task);
    if r.is_err() {
        ctx.set_phase(FAILED);
    }
    unregister(&ctx);
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
    let Ok(parts) = snapshot(ctx) else { return };
    for (t, _) in parts.iter().flatten() {
        // A task that already exited, or one the caller may not signal
        // (it cannot be a participant then), is left alone.
        let _ = signal::kill_group(t);
    }
}

fn register(ctx: &Arc<Ctx>) -> Result<(), Fail> {
    let mut g = RstGuard::lock();
    let r = REGISTRY.with(&mut g, |reg| {
        if reg.iter().flatten().any(|c| c.root.same(&ctx.root)) {
            return Err(fail!(code::EBUSY, "another restart already waits for that task"));
        }
        if let Some(slot) = reg.iter_mut().find(|s| s.is_none()) {
            *slot = Some(ctx.clone());
            return Ok(());
        }
        reg.push(Some(ctx.clone()), GFP_KERNEL).map_err(|_| Fail::errno(code::ENOMEM, "restart"))
    });
    drop(g);
    r?;
    GENERATION.fetch_add(1, Ordering::AcqRel);
    WaitQ::global().wake();
    Ok(())
}

fn unregister(ctx: &Arc<Ctx>) {
    let mut g = RstGuard::lock();
    REGISTRY.with(&mut g, |reg| {
        for slot in reg.iter_mut() {
            if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, ctx)) {
                *slot = None;
            }
        }
        if reg.iter().all(|s| s.is_none()) {
            // Free the allocation: nothing may stay behind at unload.
            *reg = KVec::new();
        }
    });
}

/// The participants' tasks and stages, a snapshot.
fn snapshot(ctx: &Ctx) -> Result<KVec<Option<(ARef<Task>, u32)>>, Fail> {
    let mut v = KVec::with_capacity(ctx.plan.tasks.len(), GFP_KERNEL).map_err(|_| Fail::errno(code::ENOMEM, "restart"))?;
    let mut g = RstGuard::lock();
    ctx.st.with(&mut g, |s| {
        for p in s.parts.iter() {
            // Capacity reserved above: no allocation under the lock.
            let _ = v.push(p.as_ref().map(|p| (p.task.clone(), p.stage)), GFP_KERNEL);
        }
    });
    Ok(v)
}

/// The coordinator's side of the restart.
fn drive(ctx: &Ctx, root_task: &Task) -> Result<(), Fail> {
    let n = ctx.plan.tasks.len();
    // 1. Every participant arrives.
    loop {
        if ctx.failed() {
            return Err(ctx.take_failure());
        }
        let parts = snapshot(ctx)?;
        let mut missing = None;
        for (i, p) in parts.iter().enumerate() {
            match p {
                Some((t, _)) if t.gone() => {
                    ctx.fail(of_task(ctx, i, fail!(code::ESRCH, "died before it was restored")));
                }
                Some(_) => {}
                None => missing = missing.or(Some(i)),
            }
        }
        let Some(i) = missing else { break };
        if ctx.failed() {
            continue;
        }
        let pid = ctx.plan.tasks[i].pid();
        // A task that died before it arrived never will: a zombie (its
        // parent, in restart, does not reap it) still holds the pid.
        if !ctx.ns.pid_alive(pid) && (i > 0 || root_task.gone()) {
            ctx.fail(of_task(ctx, i, fail!(code::ESRCH, "missing: no live task has this pid (it died before it joined, or was never created)")));
            continue;
        }
        ctx.wait()?;
    }
    // No task of the subtree may be foreign to the image.
    let tasks = task::collect_tree(root_task, crate::checkpoint::MAX_TASKS)
        .map_err(|e| fail!(e, "listing the tasks of the tree: error {}", e.to_errno()))?;
    {
        let parts = snapshot(ctx)?;
        for t in tasks.iter() {
            if !parts.iter().flatten().any(|(p, _)| p.same(t)) {
                return Err(fail!(
                    code::EINVAL,
                    "the tree has a task (pid {} here) that is not in the image or did not call restart",
                    t.tgid_vnr()
                ));
            }
        }
        if tasks.len() != n {
            return Err(fail!(code::EINVAL, "the tree has {} tasks, the image {}", tasks.len(), n));
        }
    }
    // 2. In turn.
    ctx.set_phase(RUN);
    loop {
        if ctx.failed() {
            return Err(ctx.take_failure());
        }
        let turn = ctx.turn.load(Ordering::Acquire) as usize;
        let parts = snapshot(ctx)?;
        // Everyone still there? (a zombie may be dead already)
        for (i, p) in parts.iter().enumerate() {
            if let Some((t, stage)) = p {
                if *stage != EXITING && t.gone() {
                    ctx.fail(of_task(ctx, i, fail!(code::ESRCH, "died while being restored (killed?)")));
                }
            }
        }
        if turn >= n && !ctx.failed() {
            // 3. Zombies dead with their status, then the FPU states.
            let mut all = true;
            for (i, p) in parts.iter().enumerate() {
                let Some((t, stage)) = p else { continue };
                if *stage == EXITING {
                    match t.zombie_code() {
                        None => all = false,
                        Some(c) if c as u32 != ctx.plan.tasks[i].entry.exit_code => {
                            ctx.fail(of_task(
                                ctx,
                                i,
                                fail!(code::EINVAL, "exited with status {:#x}, the image has {:#x}", c, ctx.plan.tasks[i].entry.exit_code),
                            ));
                        }
                        Some(_) => {}
                    }
                } else if *stage != PARKED {
                    all = false;
                }
            }
            if all && !ctx.failed() {
                return release(ctx, &parts);
            }
        }
        ctx.wait()?;
    }
}

/// Sets every parked task's xstate and lets them all run.
fn release(ctx: &Ctx, parts: &[Option<(ARef<Task>, u32)>]) -> Result<(), Fail> {
    let tokens = ctx.take_parked()?;
    let nr_parked = parts.iter().flatten().filter(|(_, stage)| *stage == PARKED).count();
    if tokens.len() != nr_parked {
        return Err(fail!(code::EINVAL, "a parked task has no FPU token"));
    }
    for (i, token) in tokens {
        let x = &ctx.plan.tasks[i].xstate;
        token
            .set_xstate(x)
            .map_err(|e| of_task(ctx, i, fail!(e, "FPU: the kernel refused the image's xstate: error {}", e.to_errno())))?;
    }
    ctx.set_phase(GO);
    Ok(())
}

// ---------------------------------------------------------------------
// Participant.

/// The context whose tree the caller is in, waiting for it to appear.
fn find_ctx() -> Result<Arc<Ctx>, Fail> {
    let global = WaitQ::global();
    loop {
        let gen = GENERATION.load(Ordering::Acquire);
        let found = {
            let mut g = RstGuard::lock();
            REGISTRY.with(&mut g, |reg| reg.iter().flatten().find(|c| c.root.has_current_below()).cloned())
        };
        if let Some(c) = found {
            return Ok(c);
        }
        global
            .wait(&GENERATION, gen, 1000)
            .map_err(|e| fail!(e, "interrupted while waiting for the coordinator"))?;
    }
}

/// Which task of the image the caller is; checks its pids at every level,
/// its thread group and its parent.
fn identify(ctx: &Ctx) -> Result<usize, Fail> {
    let cur = CurrentTask::get();
    let me = cur.task();
    let info = me.info(&ctx.ns).map_err(|e| fail!(e, "the caller is not in the tree's pid namespace"))?;
    let pid = info.pids[0] as u32;
    let i = ctx
        .plan
        .index_of(pid)
        .ok_or_else(|| fail!(code::EINVAL, "the task with pid {} is not in the image's tree", pid))?;
    let e = &ctx.plan.tasks[i].entry;
    let bad = |what: &str| of_task(ctx, i, fail!(code::EINVAL, "its {} does not match the image", what));
    let n = e.nr_levels as usize;
    if info.nr_levels as usize != n || e.level_pids().iter().zip(info.pids.iter()).any(|(&a, &b)| a != b as u32) {
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

/// A participant's first call: arrive, wait for its turn, restore.
fn participate(dev: &DevFile, args: &RestartArgs) -> Result<isize, Fail> {
    // The fd must at least be an image fd; the context's own is used.
    drop(InFile::get(args.fd).map_err(|e| fail!(e, "the image fd {} cannot be read: error {}", args.fd, e.to_errno()))?);
    let ctx = find_ctx()?;
    if args.ctid != 0 && ctx.coord.tgid_vnr() != args.ctid {
        return Err(fail!(code::EINVAL, "pid {} is not the coordinator of this restart", args.ctid));
    }
    if args.flags & RST_SKIP_FILES != ctx.flags & RST_SKIP_FILES {
        return Err(fail!(code::EINVAL, "the participant and the coordinator disagree on --skip-files"));
    }
    let i = match identify(&ctx) {
        Ok(i) => i,
        Err(f) => return Err(die(&ctx, f)),
    };
    {
        let mut g = RstGuard::lock();
        let taken = ctx.st.with(&mut g, |s| match s.parts.get_mut(i) {
            Some(slot @ None) => {
                *slot = Some(Part { task: CurrentTask::get().to_ref(), stage: ARRIVED, parked: None });
                true
            }
            _ => false,
        });
        drop(g);
        if !taken {
            return Err(die(&ctx, of_task(&ctx, i, fail!(code::EINVAL, "a second task claims this pid"))));
        }
    }
    ctx.wake();
    // Wait for the turn.
    loop {
        let seen = ctx.kicks_of(i);
        match ctx.phase.load(Ordering::Acquire) {
            FAILED => return Err(die(&ctx, fail!(code::EINTR, "the restart failed"))),
            RUN if ctx.turn.load(Ordering::Acquire) as usize == i => break,
            _ => {}
        }
        if ctx.coord.gone() && ctx.phase.load(Ordering::Acquire) != GO {
            return Err(die(&ctx, fail!(code::ESRCH, "the coordinator of the restart died")));
        }
        if let Err(f) = ctx.wait_kick(i, seen) {
            return Err(die(&ctx, of_task(&ctx, i, f)));
        }
    }
    let t = &ctx.plan.tasks[i];
    if t.is_zombie() {
        ctx.set_stage(i, EXITING);
        ctx.next_turn(i);
        return Ok(RST_ZOMBIE as isize | (t.entry.exit_code & 0xffff) as isize);
    }
    match enter(&ctx, dev, i) {
        Ok(()) => {
            ctx.set_stage(i, ENTERED);
            Ok(0)
        }
        Err(f) => Err(die(&ctx, of_task(&ctx, i, f))),
    }
}

/// The mm index of task `i`.
fn mm_of(ctx: &Ctx, i: usize) -> Result<usize, Fail> {
    let id = ctx.plan.tasks[i].entry.mm_id as usize;
    if id == 0 || id > ctx.plan.mms.len() {
        return Err(fail!(code::EINVAL, "no address space"));
    }
    Ok(id - 1)
}

fn enter(ctx: &Ctx, dev: &DevFile, i: usize) -> Result<(), Fail> {
    let cur = CurrentTask::get();
    let k = mm_of(ctx, i)?;
    let mm = &ctx.plan.mms[k];
    let t = &ctx.plan.tasks[i];
    if mm.owner == i {
        let tramp = restore_mm::enter_owner(&cur, mm, t, dev)?;
        let mut g = RstGuard::lock();
        ctx.st.with(&mut g, |s| {
            if let Some(x) = s.tramps.get_mut(k) {
                *x = tramp;
            }
        });
        Ok(())
    } else {
        let tramp = {
            let mut g = RstGuard::lock();
            ctx.st.with(&mut g, |s| s.tramps.get(k).copied())
        };
        let tramp = tramp.filter(|t| t.len != 0).ok_or_else(|| fail!(code::EINVAL, "its address space is not restored"))?;
        restore_mm::enter_thread(&cur, &tramp, t, dev)
    }
}

/// Records the failure, makes the caller die, and returns what to report.
fn die(ctx: &Ctx, f: Fail) -> Fail {
    let err = f.err;
    let mut copy = Msg::new();
    let _ = core::fmt::Write::write_str(&mut copy, core::str::from_utf8(f.msg.as_bytes()).unwrap_or("restart failed"));
    ctx.fail(f);
    signal::kill_current(&CurrentTask::get());
    Fail { err, msg: copy }
}

/// The second and third calls, from the trampoline.
fn resume(dev: &DevFile) -> Result<(), Fail> {
    let found = {
        let mut g = RstGuard::lock();
        let cands = REGISTRY.with(&mut g, |reg| reg.iter().flatten().find(|c| c.root.has_current_below()).cloned());
        cands.and_then(|c| {
            let i = c.st.with(&mut g, |s| s.parts.iter().position(|p| p.as_ref().is_some_and(|p| p.task.is_current())));
            i.map(|i| (c, i))
        })
    };
    let (ctx, i) = found.ok_or_else(|| fail!(code::EINVAL, "the caller is not a task being restored"))?;
    let r = match ctx.stage(i) {
        _ if ctx.failed() => Err(fail!(code::EINTR, "the restart failed")),
        Some(ENTERED) => map(&ctx, i).map(|()| ctx.set_stage(i, MAPPED)),
        Some(MAPPED) => return commit(&ctx, dev, i),
        _ => Err(fail!(code::EINVAL, "resumed out of order")),
    };
    r.map_err(|f| die(&ctx, of_task(&ctx, i, f)))
}

fn tramp_of(ctx: &Ctx, k: usize) -> Tramp {
    let mut g = RstGuard::lock();
    ctx.st.with(&mut g, |s| s.tramps.get(k).copied().unwrap_or_default())
}

/// Call 2: the owner maps its address space; other threads pass.
fn map(ctx: &Ctx, i: usize) -> Result<(), Fail> {
    let k = mm_of(ctx, i)?;
    let mm = &ctx.plan.mms[k];
    let t = &ctx.plan.tasks[i];
    let tramp = tramp_of(ctx, k);
    TrampParams::check(tramp.page(t.slot))?;
    if mm.owner == i {
        restore_mm::map_mm(&ctx.image, &ctx.plan, mm, &tramp, t)?;
    }
    Ok(())
}

/// Call 3: commit, park, hand over, and return into the restored program.
fn commit(ctx: &Ctx, dev: &DevFile, i: usize) -> Result<(), Fail> {
    let cur = CurrentTask::get();
    let r = (|| -> Result<FpuParked, Fail> {
        let k = mm_of(ctx, i)?;
        let mm = &ctx.plan.mms[k];
        let t = &ctx.plan.tasks[i];
        let tramp = tramp_of(ctx, k);
        TrampParams::check(tramp.page(t.slot))?;
        if !rst::vdso_is(mm.vdso.0) {
            return Err(fail!(code::EFAULT, "VMA: the vDSO is not at the image's address {:#x}", mm.vdso.0));
        }
        if mm.last == i {
            rst::munmap(tramp.start, tramp.len)?;
        }
        rst::close_fds_from(3);
        let regs = t.regs.ok_or_else(|| fail!(code::EINVAL, "REGS: missing"))?;
        cur.set_regs(&regs);
        cur.set_comm(&t.comm);
        cur.set_personality(t.personality).map_err(|e| fail!(e, "TASK: personality {:#x} refused", t.personality))?;
        cur.clear_pdeath();
        cur.set_thread_state(&t.thread).map_err(|e| fail!(e, "THREAD: refused: error {}", e.to_errno()))?;
        cur.queue_ax(dev, regs.get()[task::reg::AX])?;
        signal::set_blocked(&cur, t.blocked)?;
        Ok(cur.fpu_park())
    })();
    match r {
        Ok(parked) => ctx.park(i, parked),
        Err(f) => return Err(die(ctx, of_task(ctx, i, f))),
    }
    ctx.next_turn(i);
    loop {
        let seen = ctx.kicks_of(i);
        match ctx.phase.load(Ordering::Acquire) {
            GO => return Ok(()),
            FAILED => {
                signal::kill_current(&cur);
                return Err(fail!(code::EINTR, "the restart failed"));
            }
            _ => {}
        }
        // The coordinator returns (and may exit) right after GO: its death
        // only counts while the phase is not GO, checked after the load.
        if ctx.coord.gone() && ctx.phase.load(Ordering::Acquire) != GO {
            return Err(die(ctx, fail!(code::ESRCH, "the coordinator of the restart died")));
        }
        if let Err(f) = ctx.wait_kick(i, seen) {
            return Err(die(ctx, of_task(ctx, i, f)));
        }
    }
}
