// SPDX-License-Identifier: GPL-2.0
//! Restart, the restore program: per task, the system calls that restore
//! its signal dispositions, alternate stack, pending signals, interval and
//! POSIX timers, memory locks and advice, prctl state, resource limits and
//! credentials, which the task makes itself from the restore trampoline
//! (with every signal blocked, once its address space is in place, before
//! its commit), so that each is checked as for any process.
//!
//! A program is an array of [`Op`]s and the data they point to (sigaction
//! structs, siginfos, timer specs, groups, capability data), written into
//! the task's area of the trampoline mapping after its parameter block:
//! `[block | data | ops]`. Each op runs `count` times, `inc` added to its
//! first argument after each call; an error stops the program, and the
//! commit fails with a message built from the op ([`failure`]).
//!
//! The program is built in the task's own first restart call ([`build`]),
//! against its own state ([`SelfState`]: only what differs is set) and its
//! pids in its own pid namespace; pass 1 sizes each task's area by the
//! largest program its records can give ([`bound`]).

use core::mem::size_of;

use kernel::error::code;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::types::AsBytes;
use kernel::uaccess::UserSlice;

use crate::error::{fail, Fail};
use crate::image;
use crate::restore_creds::{self, CredOp, SelfState};
use crate::restore_plan::{MmPlan, Plan, TaskPlan};

const PAGE: u64 = PAGE_SIZE as u64;

/// Where the data starts in a task's area (after the parameter block).
pub(crate) const DATA_OFF: u64 = 256;
const _: () = assert!(size_of::<crate::restore_mm::TrampParams>() as u64 <= DATA_OFF);

/// `struct cptrst_tramp_op`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Op {
    pub(crate) nr: u64,
    pub(crate) arg: [u64; 6],
    pub(crate) count: u32,
    pub(crate) what: u32,
    pub(crate) inc: u64,
}
// The CPTRST_OP_* offsets of include/cptrst_abi.h.
const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(Op, nr) == 0);
    assert!(offset_of!(Op, arg) == 8);
    assert!(offset_of!(Op, count) == 56);
    assert!(offset_of!(Op, what) == 60);
    assert!(offset_of!(Op, inc) == 64);
    assert!(size_of::<Op>() == 72);
};
// SAFETY: `repr(C)`, integers only, no padding (the offsets above place
// every field right after the previous one up to the size).
unsafe impl AsBytes for Op {}
// SAFETY: as for `AsBytes`; every bit pattern is a valid `Op`.
unsafe impl kernel::types::FromBytes for Op {}

/// x86_64 system call numbers.
mod nr {
    pub(super) const MADVISE: u64 = 28;
    pub(super) const SETITIMER: u64 = 38;
    pub(super) const SETRESUID: u64 = 117;
    pub(super) const SETRESGID: u64 = 119;
    pub(super) const SETFSUID: u64 = 122;
    pub(super) const SETFSGID: u64 = 123;
    pub(super) const SETGROUPS: u64 = 116;
    pub(super) const CAPSET: u64 = 126;
    pub(super) const RT_SIGQUEUEINFO: u64 = 129;
    pub(super) const SIGALTSTACK: u64 = 131;
    pub(super) const MLOCKALL: u64 = 151;
    pub(super) const PRCTL: u64 = 157;
    pub(super) const TIMER_CREATE: u64 = 222;
    pub(super) const TIMER_SETTIME: u64 = 223;
    pub(super) const TIMER_DELETE: u64 = 226;
    pub(super) const RT_TGSIGQUEUEINFO: u64 = 297;
    pub(super) const PRLIMIT64: u64 = 302;
    pub(super) const MLOCK2: u64 = 325;
    pub(super) const RT_SIGACTION: u64 = 13;
}

/// prctl options and values.
mod pr {
    pub(super) const SET_DUMPABLE: u64 = 4;
    pub(super) const CAPBSET_DROP: u64 = 24;
    pub(super) const SET_SECUREBITS: u64 = 28;
    pub(super) const SET_TIMERSLACK: u64 = 29;
    pub(super) const SET_CHILD_SUBREAPER: u64 = 36;
    pub(super) const SET_NO_NEW_PRIVS: u64 = 38;
    pub(super) const SET_THP_DISABLE: u64 = 41;
    pub(super) const CAP_AMBIENT: u64 = 47;
    pub(super) const CAP_AMBIENT_RAISE: u64 = 2;
    pub(super) const CAP_AMBIENT_CLEAR_ALL: u64 = 4;
    pub(super) const MADV_DONTFORK: u64 = 10;
    pub(super) const MADV_DONTDUMP: u64 = 16;
    pub(super) const MADV_WIPEONFORK: u64 = 18;
    pub(super) const MLOCK_ONFAULT: u64 = 1;
    pub(super) const MCL_FUTURE: u64 = 2;
    pub(super) const MCL_ONFAULT: u64 = 4;
    pub(super) const SS_DISABLE: u32 = 2;
    pub(super) const SIGEV_NONE: u32 = 1;
    pub(super) const CLOCK_MONOTONIC: u64 = 1;
    pub(super) const CAP_VERSION_3: u32 = 0x2008_0522;
}

/// Most dummy timers alive at once while the ids are reached.
const DUMMY_CHUNK: u32 = 256;

/// What an op restores (`Op::what` is `kind << 20 | param`).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Kind {
    Sigaction = 1,
    Altstack,
    PendingPrivate,
    PendingShared,
    Itimer,
    TimerDummy,
    TimerCreate,
    TimerDelete,
    TimerSettime,
    Mlock,
    Madvise,
    Mlockall,
    Subreaper,
    ThpDisable,
    TimerSlack,
    Rlimit,
    BsetDrop,
    SetGroups,
    SetResGid,
    SetFsGid,
    SecureBitsFixup,
    SetResUid,
    SetFsUid,
    CapsetStep,
    AmbientClear,
    AmbientRaise,
    SecureBits,
    Capset,
    NoNewPrivs,
    Dumpable,
}

const KINDS: [Kind; 30] = [
    Kind::Sigaction,
    Kind::Altstack,
    Kind::PendingPrivate,
    Kind::PendingShared,
    Kind::Itimer,
    Kind::TimerDummy,
    Kind::TimerCreate,
    Kind::TimerDelete,
    Kind::TimerSettime,
    Kind::Mlock,
    Kind::Madvise,
    Kind::Mlockall,
    Kind::Subreaper,
    Kind::ThpDisable,
    Kind::TimerSlack,
    Kind::Rlimit,
    Kind::BsetDrop,
    Kind::SetGroups,
    Kind::SetResGid,
    Kind::SetFsGid,
    Kind::SecureBitsFixup,
    Kind::SetResUid,
    Kind::SetFsUid,
    Kind::CapsetStep,
    Kind::AmbientClear,
    Kind::AmbientRaise,
    Kind::SecureBits,
    Kind::Capset,
    Kind::NoNewPrivs,
    Kind::Dumpable,
];

fn what(k: Kind, param: u32) -> u32 {
    ((k as u32) << 20) | (param & 0xf_ffff)
}

/// A program being built: its data (at user address `base` once
/// written) and its ops. With `count_only`, only sizes are kept.
pub(crate) struct Prog {
    data: KVVec<u8>,
    ops: KVVec<Op>,
    base: u64,
    data_len: usize,
    nops: usize,
    count_only: bool,
    /// The credential ops ran (dumpable is restored after them).
    creds_ran: bool,
}

impl Prog {
    fn new(base: u64, count_only: bool) -> Prog {
        Prog {
            data: KVVec::new(),
            ops: KVVec::new(),
            base,
            data_len: 0,
            nops: 0,
            count_only,
            creds_ran: false,
        }
    }

    /// Adds `bytes` (8-aligned) and returns their user address.
    fn data(&mut self, bytes: &[u8]) -> Result<u64, Fail> {
        let at = self.base + self.data_len as u64;
        let len = (bytes.len() + 7) & !7;
        if !self.count_only {
            self.data.extend_from_slice(bytes, GFP_KERNEL)?;
            for _ in bytes.len()..len {
                self.data.push(0, GFP_KERNEL)?;
            }
        }
        self.data_len += len;
        Ok(at)
    }

    fn words(&mut self, w: &[u64]) -> Result<u64, Fail> {
        let mut b = [0u8; 64];
        let n = w.len().min(8);
        for (k, v) in w.iter().take(n).enumerate() {
            b[8 * k..8 * k + 8].copy_from_slice(&v.to_ne_bytes());
        }
        self.data(&b[..8 * n])
    }

    fn op_n(
        &mut self,
        nr: u64,
        arg: [u64; 6],
        count: u32,
        what: u32,
        inc: u64,
    ) -> Result<(), Fail> {
        if count == 0 {
            return Ok(());
        }
        if !self.count_only {
            self.ops.push(
                Op {
                    nr,
                    arg,
                    count,
                    what,
                    inc,
                },
                GFP_KERNEL,
            )?;
        }
        self.nops += 1;
        Ok(())
    }

    fn op(&mut self, nr: u64, arg: [u64; 6], what: u32) -> Result<(), Fail> {
        self.op_n(nr, arg, 1, what, 0)
    }

    /// Bytes of the task's area: block, data, ops, in whole pages.
    fn area_len(&self) -> u64 {
        let n = DATA_OFF + self.data_len as u64 + (self.nops * size_of::<Op>()) as u64;
        (n + PAGE - 1) & !(PAGE - 1)
    }

    /// Is there a program at all?
    pub(crate) fn is_empty(&self) -> bool {
        self.nops == 0
    }
}

/// A `timespec` of `ns` nanoseconds (seconds, nanoseconds).
fn timespec(ns: u64) -> [u64; 2] {
    [ns / 1_000_000_000, ns % 1_000_000_000]
}

/// A `timeval` of `ns` nanoseconds, rounded up to a microsecond (a
/// remaining time never becomes 0, which would disarm).
fn timeval(ns: u64) -> [u64; 2] {
    let us = ns.div_ceil(1000);
    [us / 1_000_000, us % 1_000_000]
}

/// One tick of the kernel's clock (`TICK_NSEC`).
const TICK_NSEC: u64 =
    (1_000_000_000 + kernel::bindings::CONFIG_HZ as u64 / 2) / kernel::bindings::CONFIG_HZ as u64;

/// What to give `setitimer` for interval timer `which` (0 `ITIMER_REAL`,
/// 1 `ITIMER_VIRTUAL`, 2 `ITIMER_PROF`) to have `ns` left: the kernel
/// adds a tick to the value of a CPU-time one when it arms it
/// (`set_cpu_itimer`), and the image holds what `getitimer` would say,
/// that tick included; without taking it back each restart would add one.
fn itimer_value(which: usize, ns: u64) -> u64 {
    if which == 0 || ns <= TICK_NSEC {
        ns
    } else {
        ns - TICK_NSEC
    }
}

/// The pid the calling task's namespace gives tree entry `j`'s task: its
/// last level's (a thread group shares one namespace).
fn own_pid(plan: &Plan, tree_pid: u32) -> Option<u64> {
    let j = plan.index_of(tree_pid)?;
    plan.tasks[j]
        .entry
        .level_pids()
        .last()
        .map(|&p| u64::from(p))
}

/// The largest program task `i`'s records can give, in bytes of its area
/// (at least the page of its parameter block).
pub(crate) fn bound(plan: &Plan, mm: &MmPlan, i: usize, as_invoker: bool) -> Result<u64, Fail> {
    let mut p = Prog::new(DATA_OFF, true);
    emit(&mut p, plan, mm, i, None, as_invoker)?;
    Ok(p.area_len())
}

/// Task `i`'s program, against the calling task's state `me`, for the
/// area at user address `area`.
pub(crate) fn build(
    plan: &Plan,
    mm: &MmPlan,
    i: usize,
    me: &SelfState,
    as_invoker: bool,
    area: u64,
) -> Result<Prog, Fail> {
    let mut p = Prog::new(area + DATA_OFF, false);
    emit(&mut p, plan, mm, i, Some(me), as_invoker)?;
    Ok(p)
}

/// Writes program `p` into the area at `area` of `len` bytes; returns the
/// user address of its ops and their number.
pub(crate) fn write(p: &Prog, area: u64, len: u64) -> Result<(u64, u64), Fail> {
    if p.area_len() > len {
        return Err(fail!(
            code::E2BIG,
            "the restore program ({} bytes) does not fit its area ({} bytes)",
            p.area_len(),
            len
        ));
    }
    let data_at = usize::try_from(area + DATA_OFF).map_err(|_| code::EFAULT)?;
    UserSlice::new(data_at, p.data.len())
        .writer()
        .write_slice(&p.data)?;
    let ops_at = area + DATA_OFF + p.data_len as u64;
    let mut w = UserSlice::new(
        usize::try_from(ops_at).map_err(|_| code::EFAULT)?,
        p.ops.len() * size_of::<Op>(),
    )
    .writer();
    for op in p.ops.iter() {
        w.write(op)?;
    }
    Ok((ops_at, p.ops.len() as u64))
}

/// Does `me`'s value differ (always, when sizing)?
fn differs<T: PartialEq>(me: Option<&SelfState>, f: impl FnOnce(&SelfState) -> T, want: T) -> bool {
    me.map_or(true, |m| f(m) != want)
}

/// The program of task `i`, in order (`Documentation/restart.rst`).
fn emit(
    p: &mut Prog,
    plan: &Plan,
    mm: &MmPlan,
    i: usize,
    me: Option<&SelfState>,
    as_invoker: bool,
) -> Result<(), Fail> {
    let t = &plan.tasks[i];
    // Images of minor <= 4 have no such records: no program.
    let (Some(sigs), Some(creds)) = (t.sigs.as_ref(), t.creds.as_ref()) else {
        return Ok(());
    };
    let proc_ = t.process.as_deref();
    let (tgid, pid) = me.map_or((0, 0), |m| (m.raw.tgid as u64, m.raw.pid as u64));

    // 1. Signal dispositions (the thread group's, from its leader).
    if let Some(pr) = proc_ {
        for (k, a) in pr.sigactions.iter().enumerate() {
            if a.iter().any(|&v| v != 0) {
                let at = p.words(a)?;
                let sig = k as u64 + 1;
                p.op(
                    nr::RT_SIGACTION,
                    [sig, at, 0, 8, 0, 0],
                    what(Kind::Sigaction, sig as u32),
                )?;
            }
        }
    }
    // 2. The alternate signal stack.
    let disabled = sigs.altstack_flags == pr::SS_DISABLE;
    let want = if disabled {
        (0, 0, pr::SS_DISABLE)
    } else {
        (sigs.altstack_sp, sigs.altstack_size, sigs.altstack_flags)
    };
    let have = |m: &SelfState| {
        if m.raw.sas_ss_flags == pr::SS_DISABLE {
            (0, 0, pr::SS_DISABLE)
        } else {
            (m.raw.sas_ss_sp, m.raw.sas_ss_size, m.raw.sas_ss_flags)
        }
    };
    if differs(me, have, want) {
        let at = p.words(&[want.0, u64::from(want.2), want.1])?;
        p.op(
            nr::SIGALTSTACK,
            [at, 0, 0, 0, 0, 0],
            what(Kind::Altstack, 0),
        )?;
    }
    // 3. Pending signals, queued to itself while it blocks them all.
    for k in 0..sigs.count() {
        let info = sigs.entry(k);
        let signo = u64::from(u32::from_ne_bytes([info[0], info[1], info[2], info[3]]));
        let at = p.data(info)?;
        if k < sigs.nprivate as usize {
            p.op(
                nr::RT_TGSIGQUEUEINFO,
                [tgid, pid, signo, at, 0, 0],
                what(Kind::PendingPrivate, k as u32),
            )?;
        } else {
            p.op(
                nr::RT_SIGQUEUEINFO,
                [tgid, signo, at, 0, 0, 0],
                what(Kind::PendingShared, (k - sigs.nprivate as usize) as u32),
            )?;
        }
    }
    // 4. Interval timers and POSIX timers (the process's).
    if let Some(pr) = proc_ {
        for (w, it) in pr.itimers.iter().enumerate() {
            if it.0 != 0 {
                let [is, ius] = timeval(it.1);
                let [vs, vus] = timeval(itimer_value(w, it.0));
                let at = p.words(&[is, ius, vs, vus])?;
                p.op(
                    nr::SETITIMER,
                    [w as u64, at, 0, 0, 0, 0],
                    what(Kind::Itimer, w as u32),
                )?;
            }
        }
        timers(p, plan, pr)?;
    }
    // 5. Memory locks and advice (the address space's owner).
    if mm.owner == i {
        vma_ops(p, mm)?;
        if let Some(pr) = proc_ {
            if pr.flags & image::PROC_MLOCK_FUTURE != 0 {
                let mut f = pr::MCL_FUTURE;
                if pr.flags & image::PROC_MLOCK_ONFAULT != 0 {
                    f |= pr::MCL_ONFAULT;
                }
                p.op(nr::MLOCKALL, [f, 0, 0, 0, 0, 0], what(Kind::Mlockall, 0))?;
            }
        }
    }
    // 6. prctl state.
    if let Some(pr) = proc_ {
        if pr.flags & image::PROC_CHILD_SUBREAPER != 0 {
            p.op(
                nr::PRCTL,
                [pr::SET_CHILD_SUBREAPER, 1, 0, 0, 0, 0],
                what(Kind::Subreaper, 0),
            )?;
        }
        if pr.flags & image::PROC_THP_DISABLE != 0 {
            p.op(
                nr::PRCTL,
                [pr::SET_THP_DISABLE, 1, 0, 0, 0, 0],
                what(Kind::ThpDisable, 0),
            )?;
        }
    }
    if differs(me, |m| m.raw.timer_slack_ns, sigs.timer_slack_ns) {
        p.op(
            nr::PRCTL,
            [pr::SET_TIMERSLACK, sigs.timer_slack_ns, 0, 0, 0, 0],
            what(Kind::TimerSlack, 0),
        )?;
    }
    // 7. Resource limits, before the credentials (raising a hard limit
    // needs CAP_SYS_RESOURCE).
    if let Some(pr) = proc_ {
        for (r, l) in pr.rlimits.iter().enumerate() {
            if differs(me, |m| (m.raw.rlim[r][0], m.raw.rlim[r][1]), *l) {
                let at = p.words(&[l.0, l.1])?;
                p.op(
                    nr::PRLIMIT64,
                    [0, r as u64, at, 0, 0, 0],
                    what(Kind::Rlimit, r as u32),
                )?;
            }
        }
    }
    // 8. Credentials.
    if !as_invoker {
        creds_ops(p, t, creds, me)?;
    }
    // 9. no_new_privs, dumpable.
    if creds.no_new_privs && differs(me, |m| m.raw.no_new_privs, 1) {
        p.op(
            nr::PRCTL,
            [pr::SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0],
            what(Kind::NoNewPrivs, 0),
        )?;
    }
    // Dumpable is the address space's: a credential change resets it,
    // so a thread whose credentials changed sets it again.
    let dumpable = match proc_ {
        Some(pr) => Some(pr.dumpable),
        None if p.creds_ran || me.is_none() => leader_dumpable(plan, t),
        None => None,
    };
    if let Some(d) = dumpable.filter(|&d| d <= 1) {
        p.op(
            nr::PRCTL,
            [pr::SET_DUMPABLE, u64::from(d), 0, 0, 0, 0],
            what(Kind::Dumpable, d),
        )?;
    }
    Ok(())
}

/// The dumpable value of `t`'s thread group (its leader's PROCESS).
fn leader_dumpable(plan: &Plan, t: &TaskPlan) -> Option<u32> {
    let l = plan.index_of(t.entry.tgid)?;
    plan.tasks[l].process.as_ref().map(|pr| pr.dumpable)
}

/// POSIX timers: the ids of a new process go 0, 1, 2...: a dummy timer
/// takes each id the image has none at (deleted by chunks, so few are
/// alive at once), each image timer is created when its id comes, then
/// the armed ones are set (relative).
fn timers(p: &mut Prog, plan: &Plan, pr: &crate::restore_plan::ProcPlan) -> Result<(), Fail> {
    if pr.timers.is_empty() {
        return Ok(());
    }
    let none = p.words(&[0, u64::from(pr::SIGEV_NONE) << 32, 0, 0, 0, 0, 0, 0])?;
    let scratch = p.words(&[0])?;
    // Runs of dummies alive: (first id, how many).
    let mut runs: KVec<(u32, u32)> = KVec::new();
    let mut alive = 0u32;
    let mut next = 0u32;
    let flush = |p: &mut Prog, runs: &mut KVec<(u32, u32)>| -> Result<(), Fail> {
        for &(first, n) in runs.iter() {
            p.op_n(
                nr::TIMER_DELETE,
                [u64::from(first), 0, 0, 0, 0, 0],
                n,
                what(Kind::TimerDelete, first),
                1,
            )?;
        }
        *runs = KVec::new();
        Ok(())
    };
    for tm in pr.timers.iter() {
        while next < tm.id {
            let n = (tm.id - next).min(DUMMY_CHUNK - alive);
            p.op_n(
                nr::TIMER_CREATE,
                [pr::CLOCK_MONOTONIC, none, scratch, 0, 0, 0],
                n,
                what(Kind::TimerDummy, next),
                0,
            )?;
            runs.push((next, n), GFP_KERNEL)?;
            next += n;
            alive += n;
            if alive == DUMMY_CHUNK {
                flush(p, &mut runs)?;
                alive = 0;
            }
        }
        let tid = if tm.notify & 4 != 0 {
            own_pid(plan, tm.tid).unwrap_or(0)
        } else {
            0
        };
        let sev = p.words(&[
            tm.value,
            u64::from(tm.signo) | (u64::from(tm.notify) << 32),
            tid,
            0,
            0,
            0,
            0,
            0,
        ])?;
        p.op(
            nr::TIMER_CREATE,
            [tm.clock as u64, sev, scratch, 0, 0, 0],
            what(Kind::TimerCreate, tm.id),
        )?;
        next = tm.id + 1;
    }
    flush(p, &mut runs)?;
    for tm in pr.timers.iter().filter(|tm| tm.value_ns != 0) {
        let [is, ins] = timespec(tm.interval_ns);
        let [vs, vns] = timespec(tm.value_ns);
        let at = p.words(&[is, ins, vs, vns])?;
        p.op(
            nr::TIMER_SETTIME,
            [u64::from(tm.id), 0, at, 0, 0, 0],
            what(Kind::TimerSettime, tm.id),
        )?;
    }
    Ok(())
}

/// mlock2 and madvise for each VMA with those flags.
fn vma_ops(p: &mut Prog, mm: &MmPlan) -> Result<(), Fail> {
    for (k, v) in mm.vmas.iter().enumerate() {
        if matches!(v.kind, image::VmaKind::Vdso | image::VmaKind::Vvar) {
            continue;
        }
        let len = v.end - v.start;
        let w = |kind| what(kind, k as u32);
        if v.flags & image::VMA_LOCKED != 0 {
            let f = if v.flags & image::VMA_LOCKONFAULT != 0 {
                pr::MLOCK_ONFAULT
            } else {
                0
            };
            p.op(nr::MLOCK2, [v.start, len, f, 0, 0, 0], w(Kind::Mlock))?;
        }
        for (bit, advice) in [
            (image::VMA_DONTFORK, pr::MADV_DONTFORK),
            (image::VMA_WIPEONFORK, pr::MADV_WIPEONFORK),
            (image::VMA_DONTDUMP, pr::MADV_DONTDUMP),
        ] {
            if v.flags & bit != 0 {
                p.op(
                    nr::MADVISE,
                    [v.start, len, advice, 0, 0, 0],
                    w(Kind::Madvise),
                )?;
            }
        }
    }
    Ok(())
}

/// The capability data of capset(): header, then two `{effective,
/// permitted, inheritable}` words (low and high halves).
fn capset_data(p: &mut Prog, eff: u64, prm: u64, inh: u64) -> Result<(u64, u64), Fail> {
    let hdr = p.words(&[u64::from(pr::CAP_VERSION_3)])?;
    let lo = |v: u64| v & 0xffff_ffff;
    let hi = |v: u64| v >> 32;
    let data = p.words(&[
        lo(eff) | (lo(prm) << 32),
        lo(inh) | (hi(eff) << 32),
        hi(prm) | (hi(inh) << 32),
    ])?;
    Ok((hdr, data))
}

/// The credential calls (restore_creds::plan_ops).
fn creds_ops(
    p: &mut Prog,
    t: &TaskPlan,
    c: &restore_creds::CredPlan,
    me: Option<&SelfState>,
) -> Result<(), Fail> {
    let before = p.nops;
    let Some(me) = me else {
        // Sizing: every call the sequence can make.
        for k in 0..=40u32 {
            if c.bset & (1 << k) == 0 {
                p.op(0, [0; 6], 0)?;
            }
        }
        cred_op(p, t, c, CredOp::SetGroups)?;
        for _ in 0..6 {
            p.op(0, [0; 6], 0)?;
        }
        for _ in 0..2 {
            capset_data(p, 0, 0, 0)?;
            p.op(0, [0; 6], 0)?;
        }
        for _ in 0..=41u32 {
            p.op(0, [0; 6], 0)?;
        }
        p.op(0, [0; 6], 0)?;
        return Ok(());
    };
    restore_creds::plan_ops(me, &t.ids, c, |op| cred_op(p, t, c, op))?;
    p.creds_ran = p.nops != before;
    Ok(())
}

fn cred_op(
    p: &mut Prog,
    _t: &TaskPlan,
    c: &restore_creds::CredPlan,
    op: CredOp,
) -> Result<(), Fail> {
    let w3 = |v: [u32; 3]| [u64::from(v[0]), u64::from(v[1]), u64::from(v[2]), 0, 0, 0];
    match op {
        CredOp::BsetDrop(k) => p.op(
            nr::PRCTL,
            [pr::CAPBSET_DROP, u64::from(k), 0, 0, 0, 0],
            what(Kind::BsetDrop, k),
        ),
        CredOp::SetGroups => {
            let mut b = KVVec::with_capacity(4 * c.groups.len(), GFP_KERNEL)?;
            for g in c.groups.iter() {
                b.extend_from_slice(&g.to_ne_bytes(), GFP_KERNEL)?;
            }
            let at = p.data(&b)?;
            p.op(
                nr::SETGROUPS,
                [c.groups.len() as u64, at, 0, 0, 0, 0],
                what(Kind::SetGroups, 0),
            )
        }
        CredOp::SetResGid(g) => p.op(nr::SETRESGID, w3(g), what(Kind::SetResGid, 0)),
        CredOp::SetFsGid(g) => p.op(
            nr::SETFSGID,
            [u64::from(g), 0, 0, 0, 0, 0],
            what(Kind::SetFsGid, 0),
        ),
        CredOp::SecureBits(v, last) => p.op(
            nr::PRCTL,
            [pr::SET_SECUREBITS, u64::from(v), 0, 0, 0, 0],
            what(
                if last {
                    Kind::SecureBits
                } else {
                    Kind::SecureBitsFixup
                },
                v,
            ),
        ),
        CredOp::SetResUid(u) => p.op(nr::SETRESUID, w3(u), what(Kind::SetResUid, 0)),
        CredOp::SetFsUid(u) => p.op(
            nr::SETFSUID,
            [u64::from(u), 0, 0, 0, 0, 0],
            what(Kind::SetFsUid, 0),
        ),
        CredOp::Capset(eff, prm, inh, last) => {
            let (hdr, data) = capset_data(p, eff, prm, inh)?;
            p.op(
                nr::CAPSET,
                [hdr, data, 0, 0, 0, 0],
                what(if last { Kind::Capset } else { Kind::CapsetStep }, 0),
            )
        }
        CredOp::AmbientClear => p.op(
            nr::PRCTL,
            [pr::CAP_AMBIENT, pr::CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0],
            what(Kind::AmbientClear, 0),
        ),
        CredOp::AmbientRaise(k) => p.op(
            nr::PRCTL,
            [
                pr::CAP_AMBIENT,
                pr::CAP_AMBIENT_RAISE,
                u64::from(k),
                0,
                0,
                0,
            ],
            what(Kind::AmbientRaise, k),
        ),
    }
}

/// The name of errno `e` (positive), for messages.
fn errno_name(e: i64) -> &'static str {
    match e {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        7 => "E2BIG",
        11 => "EAGAIN",
        12 => "ENOMEM",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        22 => "EINVAL",
        24 => "EMFILE",
        38 => "ENOSYS",
        95 => "EOPNOTSUPP",
        _ => "",
    }
}

const RLIMIT_NAMES: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

/// A limit value for messages (`RLIM_INFINITY` by name).
struct Lim(u64);

impl core::fmt::Display for Lim {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 == u64::MAX {
            f.write_str("unlimited")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// The failure of op `index` of the program at `prog` (`nops` ops) of
/// task `t`, which returned `err` (negative) with `arg0` as its first
/// argument: the call and its arguments, named as the image says them.
pub(crate) fn failure(t: &TaskPlan, prog: u64, nops: u64, index: u64, arg0: u64, err: i64) -> Fail {
    let e = i32::try_from(err)
        .ok()
        .filter(|e| (-4095..0).contains(e))
        .map_or(code::EINVAL, Error::from_errno);
    let en = -err;
    let name = errno_name(en);
    let op = (index < nops)
        .then(|| {
            let at = usize::try_from(prog + index * size_of::<Op>() as u64).ok()?;
            UserSlice::new(at, size_of::<Op>())
                .reader()
                .read::<Op>()
                .ok()
        })
        .flatten();
    let Some(op) = op else {
        return fail!(e, "restore program: op {} failed: error {}", index, en);
    };
    let kind = KINDS
        .get(((op.what >> 20) as usize).wrapping_sub(1))
        .copied();
    let param = op.what & 0xf_ffff;
    let a = op.arg;
    let mut f = match kind {
        Some(Kind::Sigaction) => {
            let (h, fl) = t
                .process
                .as_ref()
                .and_then(|pr| pr.sigactions.get((param as usize).wrapping_sub(1)))
                .map_or((0, 0), |s| (s[0], s[1]));
            fail!(e, "sigaction of signal {} (handler {:#x}, flags {:#x})", param, h, fl)
        }
        Some(Kind::Altstack) => t.sigs.as_ref().map_or_else(
            || fail!(e, "sigaltstack"),
            |s| {
                fail!(
                    e,
                    "sigaltstack({:#x}, {} bytes, flags {:#x})",
                    s.altstack_sp,
                    s.altstack_size,
                    s.altstack_flags
                )
            },
        ),
        Some(Kind::PendingPrivate) => fail!(
            e,
            "pending signal {} (entry {} of the task's queue)",
            a[2],
            param
        ),
        Some(Kind::PendingShared) => fail!(
            e,
            "pending signal {} (entry {} of the process's queue)",
            a[1],
            param
        ),
        Some(Kind::Itimer) => fail!(
            e,
            "setitimer({})",
            ["ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF"]
                .get(param as usize)
                .unwrap_or(&"?")
        ),
        Some(Kind::TimerDummy) => fail!(
            e,
            "creating placeholder POSIX timers from id {} (reaching the image's timer ids)",
            param
        ),
        Some(Kind::TimerCreate) => fail!(e, "timer_create of POSIX timer {} (clock {})", param, a[0] as i64),
        Some(Kind::TimerDelete) => fail!(e, "timer_delete of placeholder POSIX timer {}", arg0),
        Some(Kind::TimerSettime) => fail!(e, "timer_settime of POSIX timer {}", param),
        Some(Kind::Mlock) => fail!(e, "mlock2 of VMA {:#x}-{:#x}", a[0], a[0] + a[1]),
        Some(Kind::Madvise) => fail!(
            e,
            "madvise({:#x}-{:#x}, {})",
            a[0],
            a[0] + a[1],
            match a[2] {
                pr::MADV_DONTFORK => "MADV_DONTFORK",
                pr::MADV_WIPEONFORK => "MADV_WIPEONFORK",
                _ => "MADV_DONTDUMP",
            }
        ),
        Some(Kind::Mlockall) => fail!(e, "mlockall({:#x})", a[0]),
        Some(Kind::Subreaper) => fail!(e, "PR_SET_CHILD_SUBREAPER"),
        Some(Kind::ThpDisable) => fail!(e, "PR_SET_THP_DISABLE"),
        Some(Kind::TimerSlack) => fail!(e, "PR_SET_TIMERSLACK {}", a[1]),
        Some(Kind::Rlimit) => {
            let l = t
                .process
                .as_ref()
                .and_then(|pr| pr.rlimits.get(param as usize).copied())
                .unwrap_or((0, 0));
            fail!(
                e,
                "{} {}/{}",
                RLIMIT_NAMES.get(param as usize).unwrap_or(&"RLIMIT_?"),
                Lim(l.0),
                Lim(l.1)
            )
        }
        Some(Kind::BsetDrop) => fail!(e, "PR_CAPBSET_DROP {}", param),
        Some(Kind::SetGroups) => fail!(e, "setgroups({} groups)", a[0]),
        Some(Kind::SetResGid) => fail!(e, "setresgid({}, {}, {})", a[0], a[1], a[2]),
        Some(Kind::SetFsGid) => fail!(e, "setfsgid({})", a[0]),
        Some(Kind::SecureBitsFixup) => fail!(
            e,
            "PR_SET_SECUREBITS {:#x} (SECBIT_NO_SETUID_FIXUP, to keep the capabilities across setresuid)",
            a[1]
        ),
        Some(Kind::SetResUid) => fail!(e, "setresuid({}, {}, {})", a[0], a[1], a[2]),
        Some(Kind::SetFsUid) => fail!(e, "setfsuid({})", a[0]),
        Some(Kind::CapsetStep) => fail!(e, "capset (the invoker's permitted set, the image's inheritable set)"),
        Some(Kind::AmbientClear) => fail!(e, "PR_CAP_AMBIENT_CLEAR_ALL"),
        Some(Kind::AmbientRaise) => fail!(e, "PR_CAP_AMBIENT_RAISE {}", param),
        Some(Kind::SecureBits) => fail!(e, "PR_SET_SECUREBITS {:#x}", a[1]),
        Some(Kind::Capset) => t.creds.as_ref().map_or_else(
            || fail!(e, "capset"),
            |c| {
                fail!(
                    e,
                    "capset(effective {:#x}, permitted {:#x}, inheritable {:#x})",
                    c.effective,
                    c.permitted,
                    c.inheritable
                )
            },
        ),
        Some(Kind::NoNewPrivs) => fail!(e, "PR_SET_NO_NEW_PRIVS"),
        Some(Kind::Dumpable) => fail!(e, "PR_SET_DUMPABLE {}", param),
        None => fail!(e, "restore program: op {}", index),
    };
    let _ = if name.is_empty() {
        core::fmt::Write::write_fmt(&mut f.msg, format_args!(": error {}", en))
    } else {
        core::fmt::Write::write_fmt(&mut f.msg, format_args!(": {}", name))
    };
    f
}

/// The commit's part: the overrun counts of the process's POSIX timers
/// (each must exist with its image id).
pub(crate) fn set_timer_overruns(pr: &crate::restore_plan::ProcPlan) -> Result<(), Fail> {
    extern "C" {
        fn cptrst_rst_timer_set_overrun(id: i32, overrun: i64) -> i32;
    }
    for tm in pr.timers.iter() {
        // SAFETY: no pointer; the shim looks the id up in the caller's
        // own timers under their locks.
        let r = unsafe { cptrst_rst_timer_set_overrun(tm.id as i32, i64::from(tm.overrun_last)) };
        if r != 0 {
            return Err(fail!(
                code::EINVAL,
                "PROCESS: POSIX timer {} was not created with its id",
                tm.id
            ));
        }
    }
    Ok(())
}
