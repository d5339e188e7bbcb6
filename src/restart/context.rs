// SPDX-License-Identifier: GPL-2.0
//! The restart context ([`Ctx`]): what the coordinator and the
//! participants of one restart share, its phases ([`Phase`]), the stages
//! of each participant ([`Stage`]), and the wake-ups between them.
//!
//! Each participant sleeps on its own wait queue: handing over the turn
//! wakes the next task only (a shared queue woke all of them at every
//! step, which made a 100-task restart spend most of its time switching
//! tasks); a phase change wakes everyone. The coordinator has a queue of
//! its own: arrivals, the last hand-over and phase changes wake it.
//!
//! Waits are killable and bounded by [`POLL_MS`], after which a waiter
//! re-checks that its peers are alive: a dead peer wakes nobody.

use core::sync::atomic::{AtomicU32, Ordering};

use kernel::error::code;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};
use kernel::types::ARef;

use crate::error::{fail, Fail};
use crate::image_in::InFile;
use crate::pid::{Pid, PidNamespace};
use crate::restore_mm::Tramp;
use crate::restore_plan::Plan;
use crate::task::{FpuParked, Task};
use crate::wait::WaitQ;

/// How often a waiter re-checks that its peers are alive.
pub(super) const POLL_MS: u32 = 200;

/// The phase of a restart.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Phase {
    /// The participants arrive.
    Collect,
    /// The tasks restore in turn ([`State::turn`]).
    Run,
    /// Done: every task runs the restored program.
    Go,
    /// Failed: every task dies.
    Failed,
}

/// How far a participant is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Stage {
    /// Arrived, waiting for its turn.
    Arrived,
    /// Past the point of no return, in the trampoline.
    Entered,
    /// Its address space is mapped.
    Mapped,
    /// Committed, parked until [`Phase::Go`].
    Parked,
    /// A zombie, exiting with its status.
    Exiting,
}

/// The participants as seen at one moment: per tree entry, the task that
/// joined as it and its stage.
pub(super) type Snapshot = KVec<Option<(ARef<Task>, Stage)>>;

/// A participant: a task that joined this restart.
pub(super) struct Part {
    pub(super) task: ARef<Task>,
    pub(super) stage: Stage,
    /// Its proof of a parked FPU, from [`Stage::Parked`] until the
    /// coordinator sets its xstate.
    pub(super) parked: Option<FpuParked>,
}

/// The mutable state of a context, protected by [`Ctx::state`].
pub(super) struct State {
    pub(super) phase: Phase,
    /// Whose turn it is (tree index), in [`Phase::Run`].
    pub(super) turn: usize,
    /// Per tree entry: the task that joined as it.
    pub(super) parts: KVec<Option<Part>>,
    /// Per address space: its trampoline, once its owner has entered.
    pub(super) tramps: KVec<Tramp>,
    /// The first failure, for the coordinator to report.
    pub(super) failure: Option<Fail>,
}

/// A restart context, shared by the coordinator and the participants.
#[pin_data]
pub(crate) struct Ctx {
    /// The coordinator (the restart tool's task).
    pub(super) coord: ARef<Task>,
    /// The root task's pid (in the coordinator's namespace).
    pub(super) root: ARef<Pid>,
    /// The tree's pid namespace: the root's.
    pub(super) ns: ARef<PidNamespace>,
    pub(super) image: InFile,
    /// The coordinator's `RST_*` flags.
    pub(super) flags: u32,
    pub(super) plan: Plan,
    /// Bumped on every change the coordinator waits for (an arrival, the
    /// turn passing the last task, a phase change).
    events: AtomicU32,
    wq: WaitQ,
    /// Per participant: bumped when something it waits for changes (its
    /// turn, the phase), with its own queue.
    kicks: KVec<AtomicU32>,
    wqs: KVec<WaitQ>,
    /// Phase, turn, participants, trampolines and failure: everything
    /// that changes once the context is shared. Never held across a wait,
    /// a user copy or a call into another subsystem that may take it.
    #[pin]
    state: Mutex<State>,
}

/// What a new context is made of (see [`Ctx::new`]).
pub(super) struct CtxParts {
    pub(super) coord: ARef<Task>,
    pub(super) root: ARef<Pid>,
    pub(super) ns: ARef<PidNamespace>,
    pub(super) image: InFile,
    pub(super) flags: u32,
    pub(super) plan: Plan,
}

impl Ctx {
    /// A new context for `p.plan`, in [`Phase::Collect`].
    pub(super) fn new(p: CtxParts) -> Result<Arc<Ctx>, Fail> {
        let n = p.plan.tasks.len();
        let mut parts = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut kicks = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut wqs = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            parts.push(None, GFP_KERNEL)?;
            kicks.push(AtomicU32::new(0), GFP_KERNEL)?;
            wqs.push(WaitQ::new()?, GFP_KERNEL)?;
        }
        let mut tramps = KVec::with_capacity(p.plan.mms.len(), GFP_KERNEL)?;
        for _ in 0..p.plan.mms.len() {
            tramps.push(Tramp::default(), GFP_KERNEL)?;
        }
        let state = State {
            phase: Phase::Collect,
            turn: 0,
            parts,
            tramps,
            failure: None,
        };
        let wq = WaitQ::new()?;
        let init = pin_init!(Ctx {
            coord: p.coord,
            root: p.root,
            ns: p.ns,
            image: p.image,
            flags: p.flags,
            plan: p.plan,
            events: AtomicU32::new(0),
            wq,
            kicks,
            wqs,
            state <- new_mutex!(state, "Ctx::state"),
        });
        Ok(Arc::pin_init(init, GFP_KERNEL)?)
    }

    /// Runs `f` on the state, with [`Ctx::state`] held.
    pub(super) fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut g = self.state.lock();
        f(&mut g)
    }

    /// The phase and the turn.
    pub(super) fn phase(&self) -> (Phase, usize) {
        self.with(|s| (s.phase, s.turn))
    }

    /// Has the restart failed?
    pub(super) fn failed(&self) -> bool {
        self.phase().0 == Phase::Failed
    }

    /// Records the first failure, moves to [`Phase::Failed`] and wakes
    /// everyone.
    pub(super) fn fail(&self, f: Fail) {
        self.with(|s| {
            if s.failure.is_none() {
                s.failure = Some(f);
            }
        });
        self.set_phase(Phase::Failed);
    }

    /// The recorded failure (or a generic one).
    pub(super) fn take_failure(&self) -> Fail {
        self.with(|s| s.failure.take())
            .unwrap_or_else(|| fail!(code::ESRCH, "a task being restored died"))
    }

    /// Moves to `phase` (a failed restart stays failed), wakes everyone,
    /// and returns the phase it is in now.
    pub(super) fn set_phase(&self, phase: Phase) -> Phase {
        let now = self.with(|s| {
            if s.phase != Phase::Failed {
                s.phase = phase;
            }
            s.phase
        });
        for i in 0..self.kicks.len() {
            self.kick(i);
        }
        self.wake();
        now
    }

    /// Records participant `i`'s stage. The coordinator looks at stages
    /// only once the last turn has passed ([`Ctx::next_turn`] wakes it).
    pub(super) fn set_stage(&self, i: usize, stage: Stage) {
        self.with(|s| {
            if let Some(Some(p)) = s.parts.get_mut(i) {
                p.stage = stage;
            }
        });
    }

    /// Participant `i` parked: its stage and its FPU token, for the
    /// coordinator, under one lock.
    pub(super) fn park(&self, i: usize, parked: FpuParked) {
        self.with(|s| {
            if let Some(Some(p)) = s.parts.get_mut(i) {
                p.stage = Stage::Parked;
                p.parked = Some(parked);
            }
        });
    }

    /// The FPU tokens of the parked participants, taken out (index, token).
    pub(super) fn take_parked(&self) -> Result<KVec<(usize, FpuParked)>, Fail> {
        let mut v = KVec::with_capacity(self.plan.tasks.len(), GFP_KERNEL)?;
        self.with(|s| {
            for (i, p) in s.parts.iter_mut().enumerate() {
                if let Some(t) = p.as_mut().and_then(|p| p.parked.take()) {
                    // Capacity reserved above: no allocation under the lock.
                    let _ = v.push((i, t), GFP_NOWAIT);
                }
            }
        });
        Ok(v)
    }

    /// Participant `i`'s stage (None: it has not joined).
    pub(super) fn stage(&self, i: usize) -> Option<Stage> {
        self.with(|s| s.parts.get(i).and_then(|p| p.as_ref()).map(|p| p.stage))
    }

    /// The trampoline of address space `k` (empty until its owner entered).
    pub(super) fn tramp(&self, k: usize) -> Tramp {
        self.with(|s| s.tramps.get(k).copied().unwrap_or_default())
    }

    /// Hands the turn from `i` to the next task, waking only that one (or
    /// the coordinator after the last).
    pub(super) fn next_turn(&self, i: usize) {
        self.with(|s| {
            if s.turn == i {
                s.turn = i + 1;
            }
        });
        if i + 1 < self.kicks.len() {
            self.kick(i + 1);
        } else {
            self.wake();
        }
    }

    /// The participants' tasks and stages, a snapshot.
    pub(super) fn snapshot(&self) -> Result<Snapshot, Fail> {
        let mut v = KVec::with_capacity(self.plan.tasks.len(), GFP_KERNEL)?;
        self.with(|s| {
            for p in s.parts.iter() {
                // Capacity reserved above: no allocation under the lock.
                let _ = v.push(p.as_ref().map(|p| (p.task.clone(), p.stage)), GFP_NOWAIT);
            }
        });
        Ok(v)
    }

    /// Wakes the coordinator.
    pub(super) fn wake(&self) {
        self.events.fetch_add(1, Ordering::AcqRel);
        self.wq.wake();
    }

    /// The coordinator's event count, to load before looking at what it
    /// waits for and to hand to [`Ctx::wait`] (no lost wake-up).
    pub(super) fn events(&self) -> u32 {
        self.events.load(Ordering::Acquire)
    }

    /// The coordinator sleeps until an event after `seen` (from
    /// [`Ctx::events`]), a fatal signal, or the poll interval.
    pub(super) fn wait(&self, seen: u32) -> Result<(), Fail> {
        self.wq
            .wait(&self.events, seen, POLL_MS)
            .map(|_| ())
            .map_err(|e| fail!(e, "interrupted (a fatal signal)"))
    }

    /// Wakes participant `i`.
    pub(super) fn kick(&self, i: usize) {
        if let (Some(k), Some(q)) = (self.kicks.get(i), self.wqs.get(i)) {
            k.fetch_add(1, Ordering::AcqRel);
            q.wake();
        }
    }

    /// Participant `i`'s kick count, to load before looking at what it
    /// waits for and to hand to [`Ctx::wait_kick`] (no lost wake-up).
    pub(super) fn kicks_of(&self, i: usize) -> u32 {
        self.kicks.get(i).map_or(0, |k| k.load(Ordering::Acquire))
    }

    /// Participant `i` sleeps until it is kicked after `seen`, a fatal
    /// signal, or the poll interval.
    pub(super) fn wait_kick(&self, i: usize, seen: u32) -> Result<(), Fail> {
        let (Some(k), Some(q)) = (self.kicks.get(i), self.wqs.get(i)) else {
            return Err(fail!(code::EINVAL, "no such participant"));
        };
        q.wait(k, seen, POLL_MS)
            .map(|_| ())
            .map_err(|e| fail!(e, "interrupted (a fatal signal)"))
    }

    /// Prefixes a failure of task `i` with its name: its index and pid.
    pub(super) fn of_task(&self, i: usize, f: Fail) -> Fail {
        let pid = self.plan.tasks.get(i).map_or(0, |t| t.pid());
        f.prefixed(format_args!("task {} (pid {})", i, pid))
    }

    /// The mm index of task `i`.
    pub(super) fn mm_of(&self, i: usize) -> Result<usize, Fail> {
        let id = self.plan.tasks.get(i).map_or(0, |t| t.entry.mm_id as usize);
        if id == 0 || id > self.plan.mms.len() {
            return Err(fail!(code::EINVAL, "no address space"));
        }
        Ok(id - 1)
    }
}
