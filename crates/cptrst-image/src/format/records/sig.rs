// SPDX-License-Identifier: GPL-2.0
//! The version 1.5 records of a live task's credentials, signals and
//! process-wide state: [`Creds`] (CREDS: capability sets, securebits,
//! no_new_privs, the supplementary [`Groups`]), [`Signals`] (SIGNALS: the
//! alternate stack, parent-death signal, timer slack and the pending
//! [`SigInfo`]s) and [`Process`] (PROCESS: [`Rlimit`]s, [`Itimer`]s,
//! [`SigAction`]s, the POSIX [`Timers`], prctl flags).
//!
//! The encoder takes the fixed parts as [`CredsHead`], [`SignalsHead`] and
//! [`ProcessHead`] and the variable parts as slices. Each decoder checks
//! what the record alone can tell; the rules that need the tree (no shared
//! queue and no PROCESS in a thread, a timer's target thread) and the
//! placement are the [`Validator`]'s.

use super::super::consts::*;
use super::super::error::ErrorKind;
use super::super::wire::{all_zero, pad8, to_u64, Rd, Wr};
#[cfg(doc)]
use super::super::{Encoder, Validator};

/// SIGKILL and SIGSTOP as signal mask bits (bit `n - 1` for signal `n`).
const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

/// The fixed part of a CREDS record (what the [`Encoder`] takes besides the
/// groups). Capability sets have bit `n` for capability `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CredsHead {
    /// Inheritable capabilities.
    pub cap_inheritable: u64,
    /// Permitted capabilities.
    pub cap_permitted: u64,
    /// Effective capabilities (within the permitted ones).
    pub cap_effective: u64,
    /// The capability bounding set.
    pub cap_bset: u64,
    /// Ambient capabilities (within the permitted and inheritable ones).
    pub cap_ambient: u64,
    /// `SECBIT_*` bits (within [`SECUREBITS_KNOWN`]).
    pub securebits: u32,
    /// [`CREDS_NO_NEW_PRIVS`] or 0.
    pub flags: u32,
}

impl CredsHead {
    /// The rules of the fixed part, field by field.
    pub(in super::super) fn check(&self) -> Result<(), ErrorKind> {
        use ErrorKind::*;
        for (field, caps) in [
            ("cap_inheritable", self.cap_inheritable),
            ("cap_permitted", self.cap_permitted),
            ("cap_effective", self.cap_effective),
            ("cap_bset", self.cap_bset),
            ("cap_ambient", self.cap_ambient),
        ] {
            if caps & !CAP_VALID != 0 {
                return Err(CapsUnknown { field, caps });
            }
        }
        if self.cap_effective & !self.cap_permitted != 0 {
            return Err(CapsNotSubset {
                field: "cap_effective",
                caps: self.cap_effective,
                of: "cap_permitted",
            });
        }
        if self.cap_ambient & !(self.cap_permitted & self.cap_inheritable) != 0 {
            return Err(CapsNotSubset {
                field: "cap_ambient",
                caps: self.cap_ambient,
                of: "cap_permitted & cap_inheritable",
            });
        }
        if self.securebits & !SECUREBITS_KNOWN != 0 {
            return Err(BadSecurebits {
                securebits: self.securebits,
            });
        }
        if self.flags & !CREDS_FLAGS_KNOWN != 0 {
            return Err(BadCredsFlags { flags: self.flags });
        }
        Ok(())
    }

    /// Writes the fixed part for `ngroups` groups.
    pub(in super::super) fn encode(&self, ngroups: u32, w: &mut Wr<'_>) -> Option<()> {
        w.u64(self.cap_inheritable)?;
        w.u64(self.cap_permitted)?;
        w.u64(self.cap_effective)?;
        w.u64(self.cap_bset)?;
        w.u64(self.cap_ambient)?;
        w.u32(self.securebits)?;
        w.u32(self.flags)?;
        w.u32(ngroups)?;
        w.u32(0)
    }
}

/// The supplementary groups of a CREDS record (gids as seen from the
/// checkpointer's user namespace), borrowing the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Groups<'a> {
    /// The gids, 4 bytes each, little endian.
    pub(in super::super) raw: &'a [u8],
}

impl<'a> Groups<'a> {
    /// Number of groups.
    pub fn len(&self) -> u32 {
        u32::try_from(self.raw.len() / 4).unwrap_or(u32::MAX)
    }

    /// No supplementary group.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Group `i`.
    pub fn get(&self, i: u32) -> Option<u32> {
        let start = (i as usize).checked_mul(4)?;
        let end = start.checked_add(4)?;
        Rd::new(self.raw.get(start..end)?).u32()
    }

    /// The groups, in record order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        let raw = self.raw;
        raw.chunks_exact(4).filter_map(|c| Rd::new(c).u32())
    }
}

/// The CREDS record (version 1.5): a live task's capability sets,
/// securebits, no_new_privs and supplementary groups (its ids are in its
/// TASK record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creds<'a> {
    /// Inheritable capabilities.
    pub cap_inheritable: u64,
    /// Permitted capabilities.
    pub cap_permitted: u64,
    /// Effective capabilities.
    pub cap_effective: u64,
    /// The capability bounding set.
    pub cap_bset: u64,
    /// Ambient capabilities.
    pub cap_ambient: u64,
    /// `SECBIT_*` bits.
    pub securebits: u32,
    /// [`CREDS_NO_NEW_PRIVS`] or 0.
    pub flags: u32,
    /// The supplementary groups (none is `u32::MAX`).
    pub groups: Groups<'a>,
}

impl<'a> Creds<'a> {
    /// Payload length of a CREDS record of `ngroups` groups.
    pub fn payload_len(ngroups: u32) -> Option<usize> {
        CREDS_FIXED_LEN.checked_add(pad8((ngroups as usize).checked_mul(4)?)?)
    }

    /// The fixed part.
    pub fn head(&self) -> CredsHead {
        CredsHead {
            cap_inheritable: self.cap_inheritable,
            cap_permitted: self.cap_permitted,
            cap_effective: self.cap_effective,
            cap_bset: self.cap_bset,
            cap_ambient: self.cap_ambient,
            securebits: self.securebits,
            flags: self.flags,
        }
    }

    /// no_new_privs is set.
    pub fn no_new_privs(&self) -> bool {
        self.flags & CREDS_NO_NEW_PRIVS != 0
    }

    pub(super) fn decode(p: &'a [u8]) -> Result<Self, ErrorKind> {
        use ErrorKind::*;
        let short = BadPayloadLength {
            len: to_u64(p.len()),
            expected: CREDS_FIXED_LEN as u64,
        };
        let mut r = Rd::new(p);
        let head = CredsHead {
            cap_inheritable: r.u64().ok_or(short)?,
            cap_permitted: r.u64().ok_or(short)?,
            cap_effective: r.u64().ok_or(short)?,
            cap_bset: r.u64().ok_or(short)?,
            cap_ambient: r.u64().ok_or(short)?,
            securebits: r.u32().ok_or(short)?,
            flags: r.u32().ok_or(short)?,
        };
        let ngroups = r.u32().ok_or(short)?;
        let reserved = r.u32().ok_or(short)?;
        if reserved != 0 {
            return Err(NonZeroReserved);
        }
        if ngroups > MAX_GROUPS {
            return Err(TooManyGroups { count: ngroups });
        }
        let expected = Self::payload_len(ngroups).ok_or(short)?;
        if p.len() != expected {
            return Err(BadPayloadLength {
                len: to_u64(p.len()),
                expected: to_u64(expected),
            });
        }
        let raw = r.bytes((ngroups as usize).saturating_mul(4)).ok_or(short)?;
        if !all_zero(r.rest()) {
            return Err(NonZeroPadding);
        }
        head.check()?;
        let groups = Groups { raw };
        if let Some(i) = groups.iter().position(|g| g == u32::MAX) {
            return Err(BadGroup {
                index: u32::try_from(i).unwrap_or(u32::MAX),
            });
        }
        Ok(Creds {
            cap_inheritable: head.cap_inheritable,
            cap_permitted: head.cap_permitted,
            cap_effective: head.cap_effective,
            cap_bset: head.cap_bset,
            cap_ambient: head.cap_ambient,
            securebits: head.securebits,
            flags: head.flags,
            groups,
        })
    }
}

/// Writes a CREDS payload; `groups` writes the `ngroups` gids.
pub(in super::super) fn encode_creds(
    head: &CredsHead,
    ngroups: u32,
    w: &mut Wr<'_>,
    groups: impl FnOnce(&mut Wr<'_>) -> Option<()>,
) -> Option<()> {
    head.encode(ngroups, w)?;
    groups(w)?;
    w.pad()
}

/// One pending signal of a SIGNALS record: the 128 bytes of a user
/// `siginfo_t` (`si_signo` at 0, `si_errno` at 4, `si_code` at 8, the union
/// from 16; zero from [`KERNEL_SIGINFO_LEN`] on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo<'a> {
    raw: &'a [u8; SIGINFO_LEN],
}

impl<'a> SigInfo<'a> {
    /// The entry of these bytes.
    pub fn from_bytes(raw: &'a [u8; SIGINFO_LEN]) -> Self {
        Self { raw }
    }

    fn word(&self, off: usize) -> u32 {
        let b = self.raw;
        match b.get(off..off.saturating_add(4)) {
            Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
            _ => 0,
        }
    }

    /// `si_signo`.
    pub fn signo(&self) -> u32 {
        self.word(0)
    }

    /// `si_errno`.
    pub fn errno(&self) -> i32 {
        self.word(4) as i32
    }

    /// `si_code` (`SI_USER` 0, `SI_QUEUE` -1, `SI_TIMER` -2, `SI_TKILL` -6,
    /// positive: sent by the kernel).
    pub fn code(&self) -> i32 {
        self.word(8) as i32
    }

    /// The sender's pid (`si_pid`, at 16) for signals sent by a process
    /// (`kill`, `sigqueue`, `tgkill`); the timer id for `SI_TIMER`.
    pub fn pid(&self) -> u32 {
        self.word(16)
    }

    /// The sender's uid (`si_uid`, at 20) for signals sent by a process;
    /// the overrun count for `SI_TIMER`.
    pub fn uid(&self) -> u32 {
        self.word(20)
    }

    /// `si_value` (at 24), for `SI_QUEUE`, `SI_TIMER` and `SI_MESGQ`.
    pub fn value(&self) -> u64 {
        u64::from(self.word(24)) | (u64::from(self.word(28)) << 32)
    }

    /// The raw 128 bytes.
    pub fn bytes(&self) -> &'a [u8; SIGINFO_LEN] {
        self.raw
    }

    fn from_chunk(c: &'a [u8]) -> Option<Self> {
        c.try_into().ok().map(Self::from_bytes)
    }
}

/// The fixed part of a SIGNALS record (what the [`Encoder`] takes besides
/// the entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SignalsHead {
    /// The alternate signal stack's base (`sas_ss_sp`).
    pub altstack_sp: u64,
    /// Its size (`sas_ss_size`).
    pub altstack_size: u64,
    /// `sas_ss_flags`: a mode 0, [`SS_ONSTACK`] or [`SS_DISABLE`], with or
    /// without [`SS_AUTODISARM`].
    pub altstack_flags: u32,
    /// The parent-death signal (`pdeath_signal`), 0..=[`MAX_SIGNAL`].
    pub pdeath_signal: u32,
    /// The timer slack (`timer_slack_ns`), at least 1.
    pub timer_slack_ns: u64,
    /// Entries of the task's own pending queue.
    pub nprivate: u32,
    /// Entries of the process-wide pending queue (0 unless a thread group
    /// leader).
    pub nshared: u32,
}

impl SignalsHead {
    /// Entries of both queues (`None` on overflow).
    pub fn count(&self) -> Option<u32> {
        self.nprivate.checked_add(self.nshared)
    }

    /// The alternate stack is disabled (its mode is [`SS_DISABLE`]).
    pub fn altstack_disabled(&self) -> bool {
        self.altstack_flags & !SS_AUTODISARM == SS_DISABLE
    }

    /// The rules of the fixed part, field by field.
    pub(in super::super) fn check(&self) -> Result<(), ErrorKind> {
        use ErrorKind::*;
        let flags = self.altstack_flags;
        if !matches!(flags & !SS_AUTODISARM, 0 | SS_ONSTACK | SS_DISABLE) {
            return Err(BadAltstackFlags { flags });
        }
        let (sp, size) = (self.altstack_sp, self.altstack_size);
        if !self.altstack_disabled()
            && (size == 0
                || match sp.checked_add(size) {
                    Some(end) => end > USER_SPACE_LIMIT,
                    None => true,
                })
        {
            return Err(BadAltstack { sp, size });
        }
        if self.pdeath_signal > MAX_SIGNAL {
            return Err(BadPdeathSignal {
                signal: self.pdeath_signal,
            });
        }
        if self.timer_slack_ns == 0 {
            return Err(BadTimerSlack);
        }
        match self.count() {
            Some(n) if n <= MAX_PENDING => Ok(()),
            _ => Err(TooManyPending {
                count: self.nprivate.saturating_add(self.nshared),
            }),
        }
    }

    /// Writes the fixed part.
    pub(in super::super) fn encode(&self, w: &mut Wr<'_>) -> Option<()> {
        w.u64(self.altstack_sp)?;
        w.u64(self.altstack_size)?;
        w.u32(self.altstack_flags)?;
        w.u32(self.pdeath_signal)?;
        w.u64(self.timer_slack_ns)?;
        w.u32(self.nprivate)?;
        w.u32(self.nshared)?;
        w.u64(0)
    }
}

/// The SIGNALS record (version 1.5): a live task's alternate signal stack,
/// parent-death signal, timer slack and pending signals (its blocked mask
/// is in its TASK record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signals<'a> {
    /// The alternate signal stack's base (`sas_ss_sp`).
    pub altstack_sp: u64,
    /// Its size (`sas_ss_size`).
    pub altstack_size: u64,
    /// `sas_ss_flags`.
    pub altstack_flags: u32,
    /// The parent-death signal, 0 for none.
    pub pdeath_signal: u32,
    /// The timer slack, in nanoseconds.
    pub timer_slack_ns: u64,
    /// Entries of the task's own pending queue (the first entries).
    pub nprivate: u32,
    /// Entries of the process-wide pending queue (after the private ones).
    pub nshared: u32,
    /// The entries, [`SIGINFO_LEN`] bytes each (checked by the decoder).
    pub(in super::super) raw: &'a [u8],
}

impl<'a> Signals<'a> {
    /// Payload length of a SIGNALS record of `count` entries (both queues).
    pub fn payload_len(count: u32) -> Option<usize> {
        (count as usize)
            .checked_mul(SIGINFO_LEN)?
            .checked_add(SIGNALS_FIXED_LEN)
    }

    /// The fixed part.
    pub fn head(&self) -> SignalsHead {
        SignalsHead {
            altstack_sp: self.altstack_sp,
            altstack_size: self.altstack_size,
            altstack_flags: self.altstack_flags,
            pdeath_signal: self.pdeath_signal,
            timer_slack_ns: self.timer_slack_ns,
            nprivate: self.nprivate,
            nshared: self.nshared,
        }
    }

    /// The alternate stack is disabled.
    pub fn altstack_disabled(&self) -> bool {
        self.head().altstack_disabled()
    }

    /// Entries of both queues.
    pub fn len(&self) -> u32 {
        u32::try_from(self.raw.len() / SIGINFO_LEN).unwrap_or(u32::MAX)
    }

    /// No pending signal.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i` of both queues (the private ones first).
    pub fn entry(&self, i: u32) -> Option<SigInfo<'a>> {
        let start = (i as usize).checked_mul(SIGINFO_LEN)?;
        let end = start.checked_add(SIGINFO_LEN)?;
        SigInfo::from_chunk(self.raw.get(start..end)?)
    }

    /// The entries of the task's own queue, in queue order.
    pub fn private(&self) -> impl Iterator<Item = SigInfo<'a>> + 'a {
        let raw = self.raw;
        raw.chunks_exact(SIGINFO_LEN)
            .take(self.nprivate as usize)
            .filter_map(SigInfo::from_chunk)
    }

    /// The entries of the process-wide queue, in queue order.
    pub fn shared(&self) -> impl Iterator<Item = SigInfo<'a>> + 'a {
        let raw = self.raw;
        raw.chunks_exact(SIGINFO_LEN)
            .skip(self.nprivate as usize)
            .filter_map(SigInfo::from_chunk)
    }

    pub(super) fn decode(p: &'a [u8]) -> Result<Self, ErrorKind> {
        use ErrorKind::*;
        let short = BadPayloadLength {
            len: to_u64(p.len()),
            expected: SIGNALS_FIXED_LEN as u64,
        };
        let mut r = Rd::new(p);
        let head = SignalsHead {
            altstack_sp: r.u64().ok_or(short)?,
            altstack_size: r.u64().ok_or(short)?,
            altstack_flags: r.u32().ok_or(short)?,
            pdeath_signal: r.u32().ok_or(short)?,
            timer_slack_ns: r.u64().ok_or(short)?,
            nprivate: r.u32().ok_or(short)?,
            nshared: r.u32().ok_or(short)?,
        };
        if r.u64().ok_or(short)? != 0 {
            return Err(NonZeroReserved);
        }
        head.check()?;
        let count = head.count().unwrap_or(u32::MAX);
        let expected = Self::payload_len(count).ok_or(short)?;
        if p.len() != expected {
            return Err(BadPayloadLength {
                len: to_u64(p.len()),
                expected: to_u64(expected),
            });
        }
        let raw = r.rest();
        // Standard signals seen in the private queue, then the shared one.
        let mut seen = 0u32;
        for (i, c) in raw.chunks_exact(SIGINFO_LEN).enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            if index == head.nprivate {
                seen = 0;
            }
            let e = SigInfo::from_chunk(c).ok_or(short)?;
            let signo = e.signo();
            if !(1..=MAX_SIGNAL).contains(&signo) || signo == SIGKILL || signo == SIGSTOP {
                return Err(BadPendingSignal { index, signo });
            }
            if !all_zero(c.get(KERNEL_SIGINFO_LEN..).unwrap_or(&[])) {
                return Err(BadSiginfoTail { index, signo });
            }
            if signo <= SIG_STANDARD_MAX {
                let bit = 1u32 << (signo - 1);
                if seen & bit != 0 {
                    return Err(DuplicatePendingSignal { index, signo });
                }
                seen |= bit;
            }
        }
        Ok(Signals {
            altstack_sp: head.altstack_sp,
            altstack_size: head.altstack_size,
            altstack_flags: head.altstack_flags,
            pdeath_signal: head.pdeath_signal,
            timer_slack_ns: head.timer_slack_ns,
            nprivate: head.nprivate,
            nshared: head.nshared,
            raw,
        })
    }
}

/// One resource limit of a PROCESS record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Rlimit {
    /// The soft limit ([`RLIM_INFINITY`]: none).
    pub cur: u64,
    /// The hard limit ([`RLIM_INFINITY`]: none), at least `cur`.
    pub max: u64,
}

/// One interval timer (`setitimer(2)`) of a PROCESS record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Itimer {
    /// Time left until it fires, in nanoseconds (0: disarmed).
    pub value_ns: u64,
    /// Its period, in nanoseconds (0: one-shot; 0 if disarmed).
    pub interval_ns: u64,
}

/// One signal disposition of a PROCESS record (the kernel's `struct
/// sigaction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SigAction {
    /// `sa_handler`: [`SIG_DFL`], [`SIG_IGN`] or a user address.
    pub handler: u64,
    /// `sa_flags` (within [`SA_KNOWN`]).
    pub flags: u64,
    /// `sa_restorer` (a user address; not 0 with [`SA_RESTORER`]).
    pub restorer: u64,
    /// `sa_mask` (without SIGKILL and SIGSTOP).
    pub mask: u64,
}

impl SigAction {
    /// The default disposition (`SIG_DFL`, no flags, empty mask).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    fn decode(r: &mut Rd<'_>) -> Option<Self> {
        Some(Self {
            handler: r.u64()?,
            flags: r.u64()?,
            restorer: r.u64()?,
            mask: r.u64()?,
        })
    }

    /// The rules of the disposition of signal `signo`; `Err` names the
    /// field.
    fn check(&self, signo: u32) -> Result<(), &'static str> {
        if signo == SIGKILL || signo == SIGSTOP {
            // Unchangeable: all zero, or the first field that is not.
            let fields = [
                ("handler", self.handler),
                ("flags", self.flags),
                ("restorer", self.restorer),
                ("mask", self.mask),
            ];
            return match fields.iter().find(|(_, v)| *v != 0) {
                Some((name, _)) => Err(name),
                None => Ok(()),
            };
        }
        if self.flags & !SA_KNOWN != 0 {
            return Err("flags");
        }
        if self.handler >= USER_SPACE_LIMIT {
            return Err("handler");
        }
        if self.restorer >= USER_SPACE_LIMIT
            || (self.flags & SA_RESTORER != 0 && self.restorer == 0)
        {
            return Err("restorer");
        }
        if self.mask & UNBLOCKABLE != 0 {
            return Err("mask");
        }
        Ok(())
    }

    fn encode(&self, w: &mut Wr<'_>) -> Option<()> {
        w.u64(self.handler)?;
        w.u64(self.flags)?;
        w.u64(self.restorer)?;
        w.u64(self.mask)
    }
}

/// One POSIX timer (`timer_create(2)`) of a PROCESS record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PosixTimer {
    /// Its id, below [`MAX_TIMER_ID`] (ascending in the record).
    pub id: u32,
    /// Its clock: [`CLOCK_REALTIME`], [`CLOCK_MONOTONIC`],
    /// [`CLOCK_BOOTTIME`] or [`CLOCK_TAI`].
    pub clock: i32,
    /// `sigev_notify`: [`SIGEV_SIGNAL`], [`SIGEV_NONE`] or
    /// [`SIGEV_THREAD_ID`] (`SIGEV_SIGNAL | SIGEV_THREAD_ID`).
    pub notify: u32,
    /// `sigev_signo`, 1..=[`MAX_SIGNAL`] (0 allowed only with
    /// [`SIGEV_NONE`]).
    pub signo: u32,
    /// `sigev_value` (the `si_value` of its signals).
    pub value: u64,
    /// With [`SIGEV_THREAD_ID`]: the target thread's pid in the tree's
    /// namespace (`pids[0]` of a live tree entry of the thread group);
    /// else 0.
    pub tid: u32,
    /// Time left until it fires, in nanoseconds (0: disarmed).
    pub value_ns: u64,
    /// Its period, in nanoseconds (0 if disarmed).
    pub interval_ns: u64,
    /// What `timer_getoverrun(2)` returns, at most `i32::MAX`.
    pub overrun_last: u32,
}

impl PosixTimer {
    fn decode(b: &[u8]) -> Option<(Self, [u64; 2])> {
        let mut r = Rd::new(b);
        let id = r.u32()?;
        let clock = r.u32()? as i32;
        let notify = r.u32()?;
        let signo = r.u32()?;
        let value = r.u64()?;
        let tid = r.u32()?;
        let res1 = r.u32()?;
        let value_ns = r.u64()?;
        let interval_ns = r.u64()?;
        let overrun_last = r.u32()?;
        let res2 = r.u32()?;
        let res3 = r.u64()?;
        let t = Self {
            id,
            clock,
            notify,
            signo,
            value,
            tid,
            value_ns,
            interval_ns,
            overrun_last,
        };
        Some((t, [u64::from(res1) | (u64::from(res2) << 32), res3]))
    }

    /// Targets one thread ([`SIGEV_THREAD_ID`]).
    pub fn to_thread(self) -> bool {
        self.notify & SIGEV_THREAD_ID != 0
    }

    /// The rules of one timer alone; `Err` names the field.
    fn check(&self) -> Result<(), &'static str> {
        if self.id >= MAX_TIMER_ID {
            return Err("id");
        }
        if !matches!(
            self.clock,
            CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_TAI
        ) {
            return Err("clock");
        }
        if !matches!(self.notify, SIGEV_SIGNAL | SIGEV_NONE | SIGEV_THREAD_ID) {
            return Err("notify");
        }
        if self.signo > MAX_SIGNAL || (self.signo == 0 && self.notify != SIGEV_NONE) {
            return Err("signo");
        }
        let tid_ok = if self.to_thread() {
            self.tid != 0 && self.tid <= PID_MAX_LIMIT
        } else {
            self.tid == 0
        };
        if !tid_ok {
            return Err("tid");
        }
        if self.value_ns > MAX_TIME_NS {
            return Err("value_ns");
        }
        if self.interval_ns > MAX_TIME_NS || (self.value_ns == 0 && self.interval_ns != 0) {
            return Err("interval_ns");
        }
        if self.overrun_last > i32::MAX as u32 {
            return Err("overrun_last");
        }
        Ok(())
    }

    pub(in super::super) fn encode(&self, w: &mut Wr<'_>) -> Option<()> {
        w.u32(self.id)?;
        w.u32(self.clock as u32)?;
        w.u32(self.notify)?;
        w.u32(self.signo)?;
        w.u64(self.value)?;
        w.u32(self.tid)?;
        w.u32(0)?;
        w.u64(self.value_ns)?;
        w.u64(self.interval_ns)?;
        w.u32(self.overrun_last)?;
        w.u32(0)?;
        w.u64(0)
    }
}

/// The POSIX timers of a PROCESS record, in ascending id order, borrowing
/// the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Timers<'a> {
    /// The timers, [`TIMER_LEN`] bytes each (checked by the decoder).
    pub(in super::super) raw: &'a [u8],
}

impl<'a> Timers<'a> {
    /// Number of timers.
    pub fn len(&self) -> u32 {
        u32::try_from(self.raw.len() / TIMER_LEN).unwrap_or(u32::MAX)
    }

    /// No timer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Timer `i` (not its id: its place in the record).
    pub fn get(&self, i: u32) -> Option<PosixTimer> {
        let start = (i as usize).checked_mul(TIMER_LEN)?;
        let end = start.checked_add(TIMER_LEN)?;
        PosixTimer::decode(self.raw.get(start..end)?).map(|(t, _)| t)
    }

    /// The timers, in ascending id order.
    pub fn iter(&self) -> impl Iterator<Item = PosixTimer> + 'a {
        let raw = self.raw;
        raw.chunks_exact(TIMER_LEN)
            .filter_map(|c| PosixTimer::decode(c).map(|(t, _)| t))
    }
}

/// The fixed part of a PROCESS record (what the [`Encoder`] takes besides
/// the timers). 2.4 KiB: keep it off a kernel stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessHead {
    /// The resource limits, indexed by `RLIMIT_*`.
    pub rlimits: [Rlimit; RLIMIT_COUNT],
    /// The interval timers: [`ITIMER_REAL`], [`ITIMER_VIRTUAL`],
    /// [`ITIMER_PROF`].
    pub itimers: [Itimer; ITIMER_COUNT],
    /// `PROC_*` flags.
    pub flags: u32,
    /// `get_dumpable()`: 0, 1 or 2.
    pub dumpable: u32,
    /// The signal dispositions: entry `i` is signal `i + 1`.
    pub sigactions: [SigAction; MAX_SIGNAL as usize],
}

impl Default for ProcessHead {
    fn default() -> Self {
        Self {
            rlimits: [Rlimit::default(); RLIMIT_COUNT],
            itimers: [Itimer::default(); ITIMER_COUNT],
            flags: 0,
            dumpable: 0,
            sigactions: [SigAction::default(); MAX_SIGNAL as usize],
        }
    }
}

impl ProcessHead {
    /// Writes the fixed part for `ntimers` timers.
    pub(in super::super) fn encode(&self, ntimers: u32, w: &mut Wr<'_>) -> Option<()> {
        for l in &self.rlimits {
            w.u64(l.cur)?;
            w.u64(l.max)?;
        }
        for t in &self.itimers {
            w.u64(t.value_ns)?;
            w.u64(t.interval_ns)?;
        }
        w.u32(self.flags)?;
        w.u32(self.dumpable)?;
        w.u32(ntimers)?;
        w.u32(0)?;
        self.sigactions.iter().try_for_each(|a| a.encode(w))
    }
}

/// Offset of the signal dispositions in a PROCESS payload.
const SIGACTIONS_OFFSET: usize = PROCESS_FIXED_LEN - MAX_SIGNAL as usize * SIGACTION_LEN;

/// The PROCESS record (version 1.5): a live thread group's resource limits,
/// interval timers, prctl state, signal dispositions and POSIX timers.
/// The dispositions stay in the payload (2 KiB): read them with
/// [`sigaction`](Self::sigaction) or [`sigactions`](Self::sigactions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Process<'a> {
    /// The resource limits, indexed by `RLIMIT_*`.
    pub rlimits: [Rlimit; RLIMIT_COUNT],
    /// The interval timers: [`ITIMER_REAL`], [`ITIMER_VIRTUAL`],
    /// [`ITIMER_PROF`].
    pub itimers: [Itimer; ITIMER_COUNT],
    /// `PROC_*` flags.
    pub flags: u32,
    /// `get_dumpable()`: 0, 1 or 2.
    pub dumpable: u32,
    /// The POSIX timers.
    pub timers: Timers<'a>,
    /// The 64 dispositions, [`SIGACTION_LEN`] bytes each.
    pub(in super::super) raw_actions: &'a [u8],
}

impl<'a> Process<'a> {
    /// Payload length of a PROCESS record of `ntimers` timers.
    pub fn payload_len(ntimers: u32) -> Option<usize> {
        (ntimers as usize)
            .checked_mul(TIMER_LEN)?
            .checked_add(PROCESS_FIXED_LEN)
    }

    /// The disposition of signal `signo` (1..=[`MAX_SIGNAL`]).
    pub fn sigaction(&self, signo: u32) -> Option<SigAction> {
        let start = (signo.checked_sub(1)? as usize).checked_mul(SIGACTION_LEN)?;
        let end = start.checked_add(SIGACTION_LEN)?;
        SigAction::decode(&mut Rd::new(self.raw_actions.get(start..end)?))
    }

    /// The dispositions `(signo, action)`, signals 1 to [`MAX_SIGNAL`].
    pub fn sigactions(&self) -> impl Iterator<Item = (u32, SigAction)> + 'a {
        let raw = self.raw_actions;
        (1..=MAX_SIGNAL)
            .zip(raw.chunks_exact(SIGACTION_LEN))
            .filter_map(|(s, c)| SigAction::decode(&mut Rd::new(c)).map(|a| (s, a)))
    }

    /// The fixed part (2.4 KiB: keep it off a kernel stack).
    pub fn head(&self) -> ProcessHead {
        let mut h = ProcessHead {
            rlimits: self.rlimits,
            itimers: self.itimers,
            flags: self.flags,
            dumpable: self.dumpable,
            ..ProcessHead::default()
        };
        for (s, a) in self.sigactions() {
            if let Some(d) = h.sigactions.get_mut((s as usize).saturating_sub(1)) {
                *d = a;
            }
        }
        h
    }

    pub(super) fn decode(p: &'a [u8]) -> Result<Self, ErrorKind> {
        use ErrorKind::*;
        let short = BadPayloadLength {
            len: to_u64(p.len()),
            expected: PROCESS_FIXED_LEN as u64,
        };
        let mut r = Rd::new(p);
        let mut rlimits = [Rlimit::default(); RLIMIT_COUNT];
        for (i, l) in rlimits.iter_mut().enumerate() {
            *l = Rlimit {
                cur: r.u64().ok_or(short)?,
                max: r.u64().ok_or(short)?,
            };
            if l.cur > l.max || (i == RLIMIT_NOFILE && l.max > MAX_NOFILE) {
                return Err(BadRlimit {
                    resource: u32::try_from(i).unwrap_or(u32::MAX),
                    cur: l.cur,
                    max: l.max,
                });
            }
        }
        let mut itimers = [Itimer::default(); ITIMER_COUNT];
        for (i, t) in itimers.iter_mut().enumerate() {
            *t = Itimer {
                value_ns: r.u64().ok_or(short)?,
                interval_ns: r.u64().ok_or(short)?,
            };
            let which = u32::try_from(i).unwrap_or(u32::MAX);
            if t.value_ns > MAX_TIME_NS {
                return Err(BadItimer {
                    which,
                    field: "value_ns",
                });
            }
            if t.interval_ns > MAX_TIME_NS || (t.value_ns == 0 && t.interval_ns != 0) {
                return Err(BadItimer {
                    which,
                    field: "interval_ns",
                });
            }
        }
        let flags = r.u32().ok_or(short)?;
        let dumpable = r.u32().ok_or(short)?;
        let ntimers = r.u32().ok_or(short)?;
        let reserved = r.u32().ok_or(short)?;
        if reserved != 0 {
            return Err(NonZeroReserved);
        }
        if flags & !PROC_FLAGS_KNOWN != 0
            || (flags & PROC_MLOCK_ONFAULT != 0 && flags & PROC_MLOCK_FUTURE == 0)
        {
            return Err(BadProcessFlags { flags });
        }
        if dumpable > MAX_DUMPABLE {
            return Err(BadDumpable { dumpable });
        }
        if ntimers > MAX_TIMERS {
            return Err(TooManyTimers { count: ntimers });
        }
        let expected = Self::payload_len(ntimers).ok_or(short)?;
        if p.len() != expected {
            return Err(BadPayloadLength {
                len: to_u64(p.len()),
                expected: to_u64(expected),
            });
        }
        let raw_actions = r.bytes(MAX_SIGNAL as usize * SIGACTION_LEN).ok_or(short)?;
        let mut a = Rd::new(raw_actions);
        for signo in 1..=MAX_SIGNAL {
            let act = SigAction::decode(&mut a).ok_or(short)?;
            act.check(signo)
                .map_err(|field| BadSigaction { signo, field })?;
        }
        let raw = r.rest();
        let mut prev: Option<u32> = None;
        for c in raw.chunks_exact(TIMER_LEN) {
            let (t, reserved) = PosixTimer::decode(c).ok_or(short)?;
            let id = t.id;
            if reserved != [0, 0] {
                return Err(BadTimer {
                    id,
                    field: "reserved",
                });
            }
            t.check().map_err(|field| BadTimer { id, field })?;
            if prev.is_some_and(|p| id <= p) {
                return Err(TimerIdNotAscending { id });
            }
            prev = Some(id);
        }
        Ok(Process {
            rlimits,
            itimers,
            flags,
            dumpable,
            timers: Timers { raw },
            raw_actions,
        })
    }

    /// Writes the payload again.
    pub(in super::super) fn encode_body(&self, w: &mut Wr<'_>) -> Option<()> {
        for l in &self.rlimits {
            w.u64(l.cur)?;
            w.u64(l.max)?;
        }
        for t in &self.itimers {
            w.u64(t.value_ns)?;
            w.u64(t.interval_ns)?;
        }
        w.u32(self.flags)?;
        w.u32(self.dumpable)?;
        w.u32(self.timers.len())?;
        w.u32(0)?;
        w.put(self.raw_actions)?;
        w.put(self.timers.raw)
    }
}

// The fixed part: rlimits, itimers, four words, then the dispositions.
const _: () =
    assert!(SIGACTIONS_OFFSET == RLIMIT_COUNT * RLIMIT_LEN + ITIMER_COUNT * ITIMER_LEN + 16);
