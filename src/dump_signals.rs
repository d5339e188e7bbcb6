// SPDX-License-Identifier: GPL-2.0
//! Dump code for signals, timers and limits: the SIGNALS record of each
//! live task (alternate signal stack, pdeath signal, timer slack, its
//! pending queue and, for a thread group leader, the process-wide one)
//! and the PROCESS record of each live thread group leader (rlimits,
//! interval timers, subreaper, THP, mlockall and dumpable flags,
//! sigactions, POSIX timers); with the task's CREDS
//! ([`crate::dump_creds`]), all read in the checkpoint's pre-pass
//! ([`TreeSignals::collect`]), where whatever cannot be checkpointed is
//! refused before a byte of the image is written, and written after the
//! task's THREAD record ([`TreeSignals::write`]).
//!
//! Nothing is consumed or changed: the pending queues are copied, not
//! dequeued; the timers' remaining times are computed from their expiry
//! and their clock's time as read, without forwarding them or touching
//! their overrun counts. An absolute CLOCK_REALTIME timer is saved like
//! any other, as the time left (restart arms it relative).
//!
//! Refused (`EOPNOTSUPP` unless said, a message naming the task): a
//! seccomp mode or filter; an io_uring; credentials of another user
//! namespace ([`crate::dump_creds`]); a POSIX timer on a CPU-time or
//! alarm clock, with an id of 65536 or more, or notifying a thread that
//! has exited; SIGKILL pending (`EBUSY`: the task is being killed; a
//! pending SIGSTOP is dropped, see [`add_queue`]); more than [`image::MAX_PENDING`] pending signals or
//! [`image::MAX_TIMERS`] timers (`E2BIG`); a handler, restorer or
//! alternate signal stack outside user space.

use core::fmt;

use kernel::error::code;
use kernel::prelude::*;
use kernel::types::ARef;

use crate::dump_creds::{self, CredsRec};
use crate::error::{eopnotsupp, fail, Fail};
use crate::image;
use crate::image_out::ImageOut;
use crate::pid::PidNamespace;
use crate::rlimit::NRLIMIT;
use crate::signal::{self, Pending, ProcFacts, SigActionFacts, NSIG, SIGINFO_LEN, UNBLOCKABLE};
use crate::task::{Task, TaskInfo, TI_LEADER};
use crate::timer::{self, ItimerFacts, TimerFacts, CPU_PROF, CPU_VIRT, TMR_ACTIVE, TMR_HRTIMER};

use image::{
    CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI, MAX_NOFILE, RLIMIT_NOFILE, SIGKILL,
    SIGSTOP, SS_AUTODISARM, SS_DISABLE,
};

/// The first real-time signal: below, a signal is queued at most once.
const SIGRTMIN: u32 = image::SIG_STANDARD_MAX + 1;

// it_sigev_notify and it_clock as the kernel has them (i32).
const SIGEV_SIGNAL: i32 = image::SIGEV_SIGNAL as i32;
const SIGEV_NONE: i32 = image::SIGEV_NONE as i32;
const SIGEV_THREAD_ID: i32 = image::SIGEV_THREAD_ID as i32;
const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
const CLOCK_REALTIME_ALARM: i32 = 8;
const CLOCK_BOOTTIME_ALARM: i32 = 9;

/// Never kept by the kernel (a probe bit); dropped if seen.
const SA_UNSUPPORTED: u64 = image::SA_UNSUPPORTED;

const VM_LOCKED: u64 = 0x2000;
const VM_LOCKONFAULT: u64 = 0x0008_0000;
const MMF_DISABLE_THP: u64 = 1 << 24;

/// The ITIMER_REAL remaining time of an armed timer that is due: what
/// getitimer() says (one microsecond).
const REAL_DUE_NS: u64 = 1000;

/// A task for a message: `task I (pid P)`.
#[derive(Clone, Copy)]
struct Who {
    index: u32,
    pid: i32,
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {} (pid {})", self.index, self.pid)
    }
}

/// A refusal: logged, and its message for the caller.
fn refuse(err: Error, who: Who, args: fmt::Arguments<'_>) -> Fail {
    pr_info!("cptrst: checkpoint: {}: {}\n", who, args);
    fail!(err, "{}: {}", who, args)
}

/// The fixed part of a SIGNALS record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SignalsHead {
    pub(crate) altstack_sp: u64,
    pub(crate) altstack_size: u64,
    pub(crate) altstack_flags: u32,
    pub(crate) pdeath_signal: u32,
    pub(crate) timer_slack_ns: u64,
    pub(crate) nprivate: u32,
    pub(crate) nshared: u32,
}

/// A task's SIGNALS record: the private queue's entries, then the
/// shared queue's.
pub(crate) struct SignalsRec {
    pub(crate) head: SignalsHead,
    pub(crate) entries: KVVec<[u8; SIGINFO_LEN]>,
}

/// A thread group leader's PROCESS record.
pub(crate) struct ProcessRec {
    /// `(cur, max)` by `RLIMIT_*` number.
    pub(crate) rlimits: [(u64, u64); NRLIMIT],
    /// `(value_ns, interval_ns)`: ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF.
    pub(crate) itimers: [(u64, u64); 3],
    pub(crate) flags: u32,
    pub(crate) dumpable: u32,
    /// Entry `i`: signal `i + 1`.
    pub(crate) sigactions: [SigActionFacts; NSIG],
    /// Ascending ids.
    pub(crate) timers: KVVec<image::PosixTimer>,
}

/// What one live task's records say.
struct TaskSig {
    creds: CredsRec,
    signals: SignalsRec,
    process: Option<KBox<ProcessRec>>,
}

/// The CREDS, SIGNALS and PROCESS records of every task of the tree, by
/// image index (`None` for a zombie).
pub(crate) struct TreeSignals {
    tasks: KVec<Option<TaskSig>>,
}

/// A time for the image: at most [`image::MAX_TIME_NS`] (146 years).
fn clamp_time(ns: u64) -> u64 {
    ns.min(image::MAX_TIME_NS)
}

/// The time to the next expiry of a periodic timer of interval `iv` that
/// expired at `expires`, now `now` (`now >= expires`): in `1..=iv`.
fn next_period(expires: i64, now: i64, iv: i64) -> u64 {
    let late = (now as i128 - expires as i128).max(0);
    let iv = iv as i128;
    (iv - late % iv) as u64
}

/// ITIMER_REAL's `(value, interval)`, as getitimer() would say, except
/// that a periodic timer that fired and waits for its SIGALRM to be
/// delivered (to be rearmed then) is saved armed with its next period.
pub(crate) fn real_itimer(it: &ItimerFacts) -> (u64, u64) {
    let incr = it.real_incr.max(0);
    let rem = it.real_expires as i128 - it.real_now as i128;
    let value = if rem > 0 && (it.real_active != 0 || incr != 0) {
        rem.min(i64::MAX as i128) as u64
    } else if incr != 0 {
        next_period(it.real_expires, it.real_now, incr)
    } else if it.real_active != 0 {
        REAL_DUE_NS
    } else {
        return (0, 0);
    };
    (clamp_time(value), clamp_time(incr as u64))
}

/// ITIMER_VIRTUAL's or ITIMER_PROF's `(value, interval)` (`k` is
/// [`CPU_VIRT`] or [`CPU_PROF`]), as getitimer() would say; disarmed, its
/// interval is 0.
pub(crate) fn cpu_itimer(it: &ItimerFacts, k: usize) -> (u64, u64) {
    let expires = it.cpu_expires[k];
    if expires == 0 {
        return (0, 0);
    }
    let sample = it.cpu_sample[k];
    let value = if it.cputimer_active == 0 || expires <= sample {
        // About to fire (without a running cputimer, the best guess).
        it.tick_ns.max(1)
    } else {
        expires - sample
    };
    (clamp_time(value), clamp_time(it.cpu_incr[k]))
}

/// A POSIX timer's `(value, interval)`, as timer_gettime() would say,
/// without forwarding it: a periodic timer is always armed (due: its
/// next period); a one-shot one is armed while queued (due: 1 ns); a
/// SIGEV_NONE one is never queued and armed while not expired.
pub(crate) fn posix_remaining(f: &TimerFacts) -> (u64, u64) {
    let sig_none = f.notify == SIGEV_NONE;
    let iv = f.interval.max(0);
    if iv == 0 && f.flags & TMR_ACTIVE == 0 && !sig_none {
        return (0, 0);
    }
    let rem = f.expires as i128 - f.now as i128;
    let value = if rem > 0 {
        rem.min(i64::MAX as i128) as u64
    } else if iv != 0 {
        next_period(f.expires, f.now, iv)
    } else if sig_none {
        return (0, 0);
    } else {
        1
    };
    (clamp_time(value), clamp_time(iv as u64))
}

/// The altstack of the SIGNALS record: `(sp, size, flags)`; a disabled
/// one is `(0, 0, SS_DISABLE)`. `None` if it is not inside user space.
pub(crate) fn altstack(f: &signal::SigTaskFacts) -> Option<(u64, u64, u32)> {
    if f.sas_ss_size == 0 || f.sas_ss_flags & SS_DISABLE != 0 {
        return Some((0, 0, SS_DISABLE));
    }
    let end = f.sas_ss_sp.checked_add(f.sas_ss_size)?;
    if end > image::USER_SPACE_LIMIT {
        return None;
    }
    // SS_ONSTACK (1) as a mode means enabled, as 0 does.
    Some((f.sas_ss_sp, f.sas_ss_size, f.sas_ss_flags & SS_AUTODISARM))
}

fn signo_of(e: &[u8; SIGINFO_LEN]) -> i32 {
    i32::from_ne_bytes([e[0], e[1], e[2], e[3]])
}

/// Appends the entries of queue `q` to `out` as delivery would see them:
/// every queued entry of a pending signal (a standard signal once, its
/// first entry), then one `SI_USER` entry (zero `si_code`, no sender)
/// for each pending signal without an entry. A pending SIGSTOP is not
/// saved: the tree is stopped anyway, and a tree that the tool left
/// stopped after an earlier checkpoint has one queued (sent while the
/// task was already in its group stop).
///
/// # Errors
/// `EBUSY` if SIGKILL is pending (the task is being killed), `ENOMEM`.
fn add_queue(
    q: &Pending,
    who: Who,
    what: &str,
    out: &mut KVVec<[u8; SIGINFO_LEN]>,
) -> Result<(), Fail> {
    if q.signal & (1 << (SIGKILL - 1)) != 0 {
        return Err(refuse(
            code::EBUSY,
            who,
            format_args!(
                "SIGKILL is pending in its {} queue: it is being killed",
                what
            ),
        ));
    }
    let signal = q.signal & !(1 << (SIGSTOP - 1));
    let mut seen = 0u64;
    for e in q.entries.iter() {
        let signo = signo_of(e);
        if !(1..=NSIG as i32).contains(&signo) {
            continue;
        }
        let bit = 1u64 << (signo - 1);
        // An entry of a signal no longer pending is never delivered.
        if signal & bit == 0 || ((signo as u32) < SIGRTMIN && seen & bit != 0) {
            continue;
        }
        seen |= bit;
        out.push(*e, GFP_KERNEL)?;
    }
    for sig in 1..=NSIG as u32 {
        let bit = 1u64 << (sig - 1);
        if signal & bit != 0 && seen & bit == 0 {
            let mut e = [0u8; SIGINFO_LEN];
            e[..4].copy_from_slice(&(sig as i32).to_ne_bytes());
            out.push(e, GFP_KERNEL)?;
        }
    }
    Ok(())
}

/// The SIGNALS record of live task `t`, checking what it refuses.
fn collect_signals(t: &Task, who: Who, leader: bool) -> Result<SignalsRec, Fail> {
    let f = signal::sig_facts(t);
    if f.seccomp_mode != 0 {
        let what = if f.seccomp_mode == 1 {
            "strict"
        } else {
            "filter"
        };
        return Err(refuse(
            eopnotsupp(),
            who,
            format_args!("seccomp (mode {}, {}): not supported", f.seccomp_mode, what),
        ));
    }
    if f.io_uring != 0 {
        return Err(refuse(
            eopnotsupp(),
            who,
            format_args!("it uses io_uring: not supported"),
        ));
    }
    let Some((sp, size, flags)) = altstack(&f) else {
        return Err(refuse(
            eopnotsupp(),
            who,
            format_args!(
                "its alternate signal stack {:#x} size {:#x} is outside user space: not supported",
                f.sas_ss_sp, f.sas_ss_size
            ),
        ));
    };
    let mut entries = KVVec::new();
    let private = signal::pending(t, false)?;
    add_queue(&private, who, "private", &mut entries)?;
    let nprivate = entries.len();
    if leader {
        let shared = signal::pending(t, true)?;
        add_queue(&shared, who, "process-wide", &mut entries)?;
    }
    let nshared = entries.len() - nprivate;
    if entries.len() > image::MAX_PENDING as usize {
        return Err(refuse(
            code::E2BIG,
            who,
            format_args!(
                "{} pending signals, more than {}: not supported",
                entries.len(),
                image::MAX_PENDING
            ),
        ));
    }
    let slack = if f.timer_slack_ns != 0 {
        f.timer_slack_ns
    } else {
        // A real-time task's is 0 (the kernel's default applies to it).
        f.default_timer_slack_ns.max(1)
    };
    Ok(SignalsRec {
        head: SignalsHead {
            altstack_sp: sp,
            altstack_size: size,
            altstack_flags: flags,
            pdeath_signal: if (0..=NSIG as i32).contains(&f.pdeath_signal) {
                f.pdeath_signal as u32
            } else {
                0
            },
            timer_slack_ns: slack,
            nprivate: nprivate as u32,
            nshared: nshared as u32,
        },
        entries,
    })
}

fn user_addr(a: u64) -> bool {
    a < image::USER_SPACE_LIMIT
}

/// The sigactions of the PROCESS record: the kernel's, SIGKILL's and
/// SIGSTOP's zero, flags the image knows.
fn sigactions(p: &ProcFacts, who: Who) -> Result<[SigActionFacts; NSIG], Fail> {
    let mut a = [SigActionFacts::default(); NSIG];
    for (i, (d, s)) in a.iter_mut().zip(p.action.iter()).enumerate() {
        let sig = i as u32 + 1;
        if sig == SIGKILL || sig == SIGSTOP {
            continue;
        }
        let mut flags = s.flags & image::SA_KNOWN & !SA_UNSUPPORTED;
        if flags & image::SA_RESTORER != 0 && s.restorer == 0 {
            // Returning from the handler faults either way.
            flags &= !image::SA_RESTORER;
        }
        let bad = if s.handler > 1 && !user_addr(s.handler) {
            Some(("handler", s.handler))
        } else if !user_addr(s.restorer) {
            Some(("restorer", s.restorer))
        } else {
            None
        };
        if let Some((what, addr)) = bad {
            return Err(refuse(
                eopnotsupp(),
                who,
                format_args!(
                    "signal {}'s {} {:#x} is outside user space: not supported",
                    sig, what, addr
                ),
            ));
        }
        *d = SigActionFacts {
            handler: s.handler,
            flags,
            restorer: s.restorer,
            mask: s.mask & !UNBLOCKABLE,
        };
    }
    Ok(a)
}

/// The POSIX timer of the PROCESS record, or why not. `group` is the
/// thread group's tasks in the tree (pids in its namespace).
fn timer_rec(f: &TimerFacts, who: Who, group: &[i32]) -> Result<image::PosixTimer, Fail> {
    let no = |args: fmt::Arguments<'_>| {
        refuse(
            eopnotsupp(),
            who,
            format_args!("POSIX timer {}: {}: not supported", f.id, args),
        )
    };
    if !(0..image::MAX_TIMER_ID as i32).contains(&f.id) {
        return Err(no(format_args!("an id of {} or more", image::MAX_TIMER_ID)));
    }
    match f.clock {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_TAI => {}
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => {
            return Err(no(format_args!("on a CPU-time clock ({})", f.clock)))
        }
        // A CPU clock id (CLOCK_PROCESS_CPUTIME_ID is kept as its own
        // process's): bit 2 is CPUCLOCK_PERTHREAD.
        c if c < 0 => {
            let whose = if c & 4 != 0 { "thread" } else { "process" };
            return Err(no(format_args!("on a {} CPU-time clock", whose)));
        }
        CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM => {
            return Err(no(format_args!("on an alarm clock (clock {})", f.clock)))
        }
        c => return Err(no(format_args!("on clock {}", c))),
    }
    if f.flags & TMR_HRTIMER == 0 {
        return Err(no(format_args!("on clock {}", f.clock)));
    }
    let (notify, tid) = match f.notify {
        SIGEV_SIGNAL | SIGEV_NONE => (f.notify as u32, 0),
        n if n == SIGEV_SIGNAL | SIGEV_THREAD_ID => {
            if f.tid <= 0 || !group.contains(&f.tid) {
                return Err(no(format_args!(
                    "it notifies thread {}, which has exited",
                    f.tid
                )));
            }
            (n as u32, f.tid as u32)
        }
        n => return Err(no(format_args!("notification {}", n))),
    };
    let signo = if (1..=NSIG as i32).contains(&f.signo) {
        f.signo as u32
    } else if notify == SIGEV_NONE as u32 {
        0
    } else {
        return Err(no(format_args!("signal {}", f.signo)));
    };
    let (value_ns, interval_ns) = posix_remaining(f);
    Ok(image::PosixTimer {
        id: f.id as u32,
        clock: f.clock,
        notify,
        signo,
        value: f.value,
        tid,
        value_ns,
        interval_ns,
        overrun_last: f.overrun_last.clamp(0, i32::MAX as i64) as u32,
    })
}

/// Sorts `t` by ascending id. The kernel lists a group's timers newest
/// first, so reversed they are mostly in order already: an insertion
/// sort (core's sorts bring code objtool flags).
fn sort_by_id(t: &mut [image::PosixTimer]) {
    t.reverse();
    for i in 1..t.len() {
        let mut j = i;
        while j > 0 && t[j - 1].id > t[j].id {
            t.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// The PROCESS record of live thread group leader `t`.
fn collect_process(
    t: &Task,
    who: Who,
    ns: &PidNamespace,
    group: &[i32],
) -> Result<KBox<ProcessRec>, Fail> {
    let p = signal::proc_facts(t)?;
    let mut rlimits = [(0u64, 0u64); NRLIMIT];
    for (d, r) in rlimits.iter_mut().zip(p.rlim.iter()) {
        *d = (r.cur.min(r.max), r.max);
    }
    if rlimits[RLIMIT_NOFILE].1 > MAX_NOFILE {
        return Err(refuse(
            eopnotsupp(),
            who,
            format_args!(
                "RLIMIT_NOFILE's hard limit {} is above {}: not supported",
                rlimits[RLIMIT_NOFILE].1, MAX_NOFILE
            ),
        ));
    }
    let it = &p.itimers;
    let itimers = [
        real_itimer(it),
        cpu_itimer(it, CPU_VIRT),
        cpu_itimer(it, CPU_PROF),
    ];
    let mut flags = 0;
    if p.subreaper != 0 {
        flags |= image::PROC_CHILD_SUBREAPER;
    }
    if p.has_mm != 0 {
        if p.mm_flags & MMF_DISABLE_THP != 0 {
            flags |= image::PROC_THP_DISABLE;
        }
        if p.def_flags & VM_LOCKED != 0 {
            flags |= image::PROC_MLOCK_FUTURE;
            if p.def_flags & VM_LOCKONFAULT != 0 {
                flags |= image::PROC_MLOCK_ONFAULT;
            }
        }
    }
    let sigactions = sigactions(&p, who)?;
    let facts = timer::timers(t, ns)?;
    if facts.len() > image::MAX_TIMERS as usize {
        return Err(refuse(
            code::E2BIG,
            who,
            format_args!(
                "{} POSIX timers, more than {}: not supported",
                facts.len(),
                image::MAX_TIMERS
            ),
        ));
    }
    let mut timers = KVVec::with_capacity(facts.len(), GFP_KERNEL)?;
    for f in facts.iter() {
        timers.push(timer_rec(f, who, group)?, GFP_KERNEL)?;
    }
    sort_by_id(&mut timers);
    Ok(KBox::new(
        ProcessRec {
            rlimits,
            itimers,
            flags,
            dumpable: p.dumpable.min(2),
            sigactions,
            timers,
        },
        GFP_KERNEL,
    )?)
}

impl TreeSignals {
    /// Reads the credentials, signal state, limits and timers of every
    /// live task of the tree (`tasks` and `infos` in image `order`, pids
    /// in `ns`), refusing what cannot be checkpointed.
    ///
    /// # Errors
    /// `EOPNOTSUPP`, `EBUSY` or `E2BIG` naming the task and what (see the
    /// module's doc), `ESRCH` for a task that is exiting, `ENOMEM`.
    pub(crate) fn collect(
        tasks: &[ARef<Task>],
        infos: &[TaskInfo],
        order: &[usize],
        ns: &PidNamespace,
    ) -> Result<TreeSignals, Fail> {
        let mut all = KVec::with_capacity(order.len(), GFP_KERNEL)?;
        for (index, &k) in order.iter().enumerate() {
            let (t, i) = (&tasks[k], &infos[k]);
            if i.exit_state != 0 {
                all.push(None, GFP_KERNEL)?;
                continue;
            }
            let who = Who {
                index: u32::try_from(index).map_err(|_| code::E2BIG)?,
                pid: i.pids[0],
            };
            let leader = i.flags & TI_LEADER != 0;
            let creds = dump_creds::collect(t, who.index, who.pid)?;
            let signals = collect_signals(t, who, leader)?;
            let process = if leader {
                let mut group: KVec<i32> = KVec::new();
                for o in infos
                    .iter()
                    .filter(|o| o.tgid == i.tgid && o.exit_state == 0)
                {
                    group.push(o.pids[0], GFP_KERNEL)?;
                }
                Some(collect_process(t, who, ns, &group)?)
            } else {
                None
            };
            all.push(
                Some(TaskSig {
                    creds,
                    signals,
                    process,
                }),
                GFP_KERNEL,
            )?;
        }
        Ok(TreeSignals { tasks: all })
    }

    /// Writes the CREDS and SIGNALS records of the task of image index
    /// `index`, and its PROCESS record if it is a live leader; nothing
    /// for a zombie.
    pub(crate) fn write(&self, out: &mut ImageOut, index: usize) -> Result {
        let Some(Some(ts)) = self.tasks.get(index) else {
            return Ok(());
        };
        dump_creds::write(out, &ts.creds)?;
        write_signals(out, &ts.signals)?;
        if let Some(p) = ts.process.as_ref() {
            write_process(out, p)?;
        }
        Ok(())
    }
}

fn write_signals(out: &mut ImageOut, s: &SignalsRec) -> Result {
    let h = image::SignalsHead {
        altstack_sp: s.head.altstack_sp,
        altstack_size: s.head.altstack_size,
        altstack_flags: s.head.altstack_flags,
        pdeath_signal: s.head.pdeath_signal,
        timer_slack_ns: s.head.timer_slack_ns,
        nprivate: s.head.nprivate,
        nshared: s.head.nshared,
    };
    out.put(
        image::RECORD_HEADER_LEN + image::SIGNALS_FIXED_LEN,
        |e, b| e.signals_begin(&h, b),
    )?;
    for e in s.entries.iter() {
        out.put(SIGINFO_LEN, |enc, b| enc.siginfo(e, b))?;
    }
    Ok(())
}

fn write_process(out: &mut ImageOut, p: &ProcessRec) -> Result {
    let mut h = image::ProcessHead::default();
    for (d, s) in h.rlimits.iter_mut().zip(p.rlimits.iter()) {
        *d = image::Rlimit { cur: s.0, max: s.1 };
    }
    for (d, s) in h.itimers.iter_mut().zip(p.itimers.iter()) {
        *d = image::Itimer {
            value_ns: s.0,
            interval_ns: s.1,
        };
    }
    h.flags = p.flags;
    h.dumpable = p.dumpable;
    for (d, s) in h.sigactions.iter_mut().zip(p.sigactions.iter()) {
        *d = image::SigAction {
            handler: s.handler,
            flags: s.flags,
            restorer: s.restorer,
            mask: s.mask,
        };
    }
    let n = u32::try_from(p.timers.len()).map_err(|_| code::E2BIG)?;
    let len = image::Process::payload_len(n).ok_or(code::E2BIG)?;
    out.put(image::RECORD_HEADER_LEN + len, |e, b| {
        e.process(&h, &p.timers, b)
    })
}
