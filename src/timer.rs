// SPDX-License-Identifier: GPL-2.0
//! Timers, the read side: a thread group's interval timers
//! ([`ItimerFacts`], read with the rest of [`crate::signal::ProcFacts`])
//! and POSIX timers ([`timers`]) as `src/cptrst_sig.c` copies them: the
//! raw expiry and the clock's time, never forwarded or rearmed, the
//! overrun counts untouched. What the image says of them (remaining
//! time, refusals) is decided in [`crate::dump_signals`].

use core::mem::{offset_of, size_of};

use kernel::error::{code, Result};
use kernel::prelude::*;

use crate::pid::PidNamespace;
use crate::task::{Task, TaskExt};

// Kernel structs by pointer only (see task.rs).
#[allow(improper_ctypes)]
mod ffi {
    use super::TimerFacts;

    extern "C" {
        pub(super) fn cptrst_task_timers(
            t: *mut kernel::bindings::task_struct,
            ns: *mut kernel::bindings::pid_namespace,
            buf: *mut TimerFacts,
            max: core::ffi::c_uint,
        ) -> core::ffi::c_int;
    }
}

/// `struct cptrst_itimers`: a thread group's interval timers.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct ItimerFacts {
    /// `real_timer`'s expiry, in its base's clock (ns).
    pub(crate) real_expires: i64,
    /// That clock's time when read.
    pub(crate) real_now: i64,
    /// `it_real_incr`.
    pub(crate) real_incr: i64,
    /// `hrtimer_active(&real_timer)`.
    pub(crate) real_active: u32,
    /// The group's cputimer runs (the samples are valid).
    pub(crate) cputimer_active: u32,
    /// `it[CPUCLOCK_PROF]`, `it[CPUCLOCK_VIRT]`: expiry in group cputime
    /// (0: disarmed), and interval.
    pub(crate) cpu_expires: [u64; 2],
    pub(crate) cpu_incr: [u64; 2],
    /// The group's cputime: utime + stime, utime.
    pub(crate) cpu_sample: [u64; 2],
    /// `TICK_NSEC`.
    pub(crate) tick_ns: u64,
}
const _: () = assert!(offset_of!(ItimerFacts, real_expires) == 0);
const _: () = assert!(offset_of!(ItimerFacts, real_now) == 8);
const _: () = assert!(offset_of!(ItimerFacts, real_incr) == 16);
const _: () = assert!(offset_of!(ItimerFacts, real_active) == 24);
const _: () = assert!(offset_of!(ItimerFacts, cputimer_active) == 28);
const _: () = assert!(offset_of!(ItimerFacts, cpu_expires) == 32);
const _: () = assert!(offset_of!(ItimerFacts, cpu_incr) == 48);
const _: () = assert!(offset_of!(ItimerFacts, cpu_sample) == 64);
const _: () = assert!(offset_of!(ItimerFacts, tick_ns) == 80);
const _: () = assert!(size_of::<ItimerFacts>() == 88);

/// Index of `ItimerFacts::cpu_*` for ITIMER_PROF (`CPUCLOCK_PROF`).
pub(crate) const CPU_PROF: usize = 0;
/// Index of `ItimerFacts::cpu_*` for ITIMER_VIRTUAL (`CPUCLOCK_VIRT`).
pub(crate) const CPU_VIRT: usize = 1;

/// `TimerFacts::flags`: `it_active`, the hrtimer is queued.
pub(crate) const TMR_ACTIVE: u32 = 1 << 0;
/// `TimerFacts::flags`: an hrtimer clock, `expires` and `now` were read.
pub(crate) const TMR_HRTIMER: u32 = 1 << 1;

/// `struct cptrst_timer_facts`: one POSIX timer.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct TimerFacts {
    pub(crate) id: i32,
    /// `it_clock` (a negative id: a CPU-time clock).
    pub(crate) clock: i32,
    /// `it_sigev_notify`.
    pub(crate) notify: i32,
    pub(crate) signo: i32,
    /// The `sigev_value` its signals carry.
    pub(crate) value: u64,
    /// `SIGEV_THREAD_ID`: the target's pid in the tree's namespace, else 0.
    pub(crate) tid: i32,
    /// `TMR_*`.
    pub(crate) flags: u32,
    /// The hrtimer's expiry, in its base's clock (ns; `TMR_HRTIMER`).
    pub(crate) expires: i64,
    /// That clock's time when read.
    pub(crate) now: i64,
    /// `it_interval` (ns; 0: one shot).
    pub(crate) interval: i64,
    /// `it_overrun_last`.
    pub(crate) overrun_last: i64,
}
const _: () = assert!(offset_of!(TimerFacts, id) == 0);
const _: () = assert!(offset_of!(TimerFacts, clock) == 4);
const _: () = assert!(offset_of!(TimerFacts, notify) == 8);
const _: () = assert!(offset_of!(TimerFacts, signo) == 12);
const _: () = assert!(offset_of!(TimerFacts, value) == 16);
const _: () = assert!(offset_of!(TimerFacts, tid) == 24);
const _: () = assert!(offset_of!(TimerFacts, flags) == 28);
const _: () = assert!(offset_of!(TimerFacts, expires) == 32);
const _: () = assert!(offset_of!(TimerFacts, now) == 40);
const _: () = assert!(offset_of!(TimerFacts, interval) == 48);
const _: () = assert!(offset_of!(TimerFacts, overrun_last) == 56);
const _: () = assert!(size_of::<TimerFacts>() == 64);

/// Most timers one copy takes (beyond, `E2BIG`: the image's `MAX_TIMERS`
/// is less).
const TIMERS_COPY_MAX: usize = 1 << 16;

/// The POSIX timers of the thread group of the leader `t`, in the
/// kernel's list order (newest first), target threads named in `ns`: a
/// buffer as big as the list, copied under the siglock, again with a
/// bigger one if the list grew meanwhile.
///
/// # Errors
/// `ESRCH` for an exiting task, `EBUSY` if a timer stayed locked by its
/// expiry, `E2BIG` past 65536 timers, `ENOMEM`.
pub(crate) fn timers(t: &Task, ns: &PidNamespace) -> Result<KVVec<TimerFacts>> {
    let mut cap = 0usize;
    let mut buf: KVVec<TimerFacts> = KVVec::new();
    loop {
        // SAFETY: a referenced task and pid namespace; `buf` holds `cap`
        // entries, which is what the C side writes at most.
        let n = unsafe {
            ffi::cptrst_task_timers(
                t.as_raw(),
                ns.as_raw(),
                buf.as_mut_ptr(),
                cap as core::ffi::c_uint,
            )
        };
        let n = usize::try_from(n).map_err(|_| Error::from_errno(n))?;
        if n <= cap {
            let mut all = KVVec::with_capacity(n, GFP_KERNEL)?;
            all.extend_from_slice(&buf[..n], GFP_KERNEL)?;
            return Ok(all);
        }
        if n > TIMERS_COPY_MAX {
            return Err(code::E2BIG);
        }
        cap = (n + n / 4 + 8).min(TIMERS_COPY_MAX);
        buf = KVVec::from_elem(TimerFacts::default(), cap, GFP_KERNEL)?;
    }
}
