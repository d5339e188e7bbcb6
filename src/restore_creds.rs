// SPDX-License-Identifier: GPL-2.0
//! Restart, credentials: the calling task's own state ([`SelfState`],
//! what the restore program is built against), pass 1's mirror of the
//! kernel's credential rules against the invoker's credentials
//! ([`check`]: what the image's tasks could not set for themselves is
//! refused before anything is created), the sequence of calls that sets
//! a task's credentials ([`plan_ops`], run by the task itself in the
//! trampoline: `Documentation/restart.rst`), and the commit's check that
//! the task now has the image's credentials ([`verify`]).
//!
//! The mirror follows `kernel/sys.c` (setres[ug]id, setfs[ug]id,
//! setgroups) and `security/commoncap.c` (capset, `PR_CAPBSET_DROP`,
//! `PR_SET_SECUREBITS`, `PR_CAP_AMBIENT`, the set*uid fixups). It cannot
//! see LSM hooks: those refuse in the program, with the call named.

use core::mem::{offset_of, size_of};

use kernel::error::code;
use kernel::prelude::*;

use crate::error::{fail, Fail};

/// `struct cptrst_rst_self`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct RawSelf {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) euid: u32,
    pub(crate) egid: u32,
    pub(crate) suid: u32,
    pub(crate) sgid: u32,
    pub(crate) fsuid: u32,
    pub(crate) fsgid: u32,
    pub(crate) cap_inheritable: u64,
    pub(crate) cap_permitted: u64,
    pub(crate) cap_effective: u64,
    pub(crate) cap_bset: u64,
    pub(crate) cap_ambient: u64,
    pub(crate) securebits: u32,
    pub(crate) no_new_privs: u32,
    pub(crate) ngroups: u32,
    pub(crate) sas_ss_flags: u32,
    pub(crate) sas_ss_sp: u64,
    pub(crate) sas_ss_size: u64,
    pub(crate) timer_slack_ns: u64,
    pub(crate) rlim: [[u64; 2]; RLIMITS],
    pub(crate) tgid: i32,
    pub(crate) pid: i32,
}

impl RawSelf {
    /// uid, gid, euid, egid, suid, sgid, fsuid, fsgid (a TASK record's order).
    pub(crate) fn ids(&self) -> [u32; 8] {
        [
            self.uid, self.gid, self.euid, self.egid, self.suid, self.sgid, self.fsuid, self.fsgid,
        ]
    }
}
const _: () = {
    assert!(offset_of!(RawSelf, uid) == 0);
    assert!(offset_of!(RawSelf, fsgid) == 28);
    assert!(offset_of!(RawSelf, cap_inheritable) == 32);
    assert!(offset_of!(RawSelf, cap_ambient) == 64);
    assert!(offset_of!(RawSelf, securebits) == 72);
    assert!(offset_of!(RawSelf, no_new_privs) == 76);
    assert!(offset_of!(RawSelf, ngroups) == 80);
    assert!(offset_of!(RawSelf, sas_ss_flags) == 84);
    assert!(offset_of!(RawSelf, sas_ss_sp) == 88);
    assert!(offset_of!(RawSelf, sas_ss_size) == 96);
    assert!(offset_of!(RawSelf, timer_slack_ns) == 104);
    assert!(offset_of!(RawSelf, rlim) == 112);
    assert!(offset_of!(RawSelf, tgid) == 112 + 16 * RLIMITS);
    assert!(offset_of!(RawSelf, pid) == 116 + 16 * RLIMITS);
    assert!(size_of::<RawSelf>() == 120 + 16 * RLIMITS);
};

/// Resource limits (`RLIM_NLIMITS`, `CPTRST_RLIMITS`).
pub(crate) const RLIMITS: usize = 16;

mod ffi {
    extern "C" {
        pub(super) fn cptrst_rst_self(out: *mut super::RawSelf);
        pub(super) fn cptrst_rst_groups(out: *mut u32, max: u32) -> u32;
        pub(super) fn cptrst_rst_reset_altstack();
    }
}

/// Forgets the calling task's alternate signal stack (the restart tool's,
/// in the address space being replaced; the restore program sets the
/// image's).
pub(crate) fn reset_altstack(_cur: &crate::task::CurrentTask) {
    // SAFETY: no precondition; acts on current, the task `_cur` stands for.
    unsafe { ffi::cptrst_rst_reset_altstack() }
}

/// Capability numbers the rules look at.
pub(crate) mod cap {
    pub(crate) const SETGID: u32 = 6;
    pub(crate) const SETUID: u32 = 7;
    pub(crate) const SETPCAP: u32 = 8;
    /// `CAP_FS_MASK`: what an fsuid change to or from root drops or raises.
    pub(crate) const FS_MASK: u64 =
        (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 9) | (1 << 32);
    /// Every capability (`CAP_LAST_CAP` 40).
    pub(crate) const VALID: u64 = (1 << 41) - 1;
}

/// Securebits.
pub(crate) mod secbit {
    pub(crate) const NO_SETUID_FIXUP: u32 = 1 << 2;
    pub(crate) const KEEP_CAPS: u32 = 1 << 4;
    pub(crate) const NO_CAP_AMBIENT_RAISE: u32 = 1 << 6;
    /// `SECURE_ALL_LOCKS`.
    pub(crate) const LOCKS: u32 = 0xaa;
}

/// The calling task's credentials and the rest of its own state.
pub(crate) struct SelfState {
    pub(crate) raw: RawSelf,
    /// Supplementary groups, ascending.
    pub(crate) groups: KVec<u32>,
}

impl SelfState {
    /// The calling task's.
    pub(crate) fn get() -> Result<SelfState, Fail> {
        let mut raw = RawSelf::default();
        // SAFETY: `raw` is a writable `struct cptrst_rst_self` (layout
        // asserted above); the shim reads the caller's own state.
        unsafe { ffi::cptrst_rst_self(&mut raw) };
        loop {
            let n = raw.ngroups as usize;
            let mut groups = KVec::with_capacity(n, GFP_KERNEL)?;
            // SAFETY: `groups` has room for `n` u32 (reserved above); the
            // shim writes at most `n` of them.
            let got = unsafe { ffi::cptrst_rst_groups(groups.as_mut_ptr(), n as u32) };
            if got as usize <= n {
                // SAFETY: the shim wrote the first `got` entries.
                unsafe { groups.set_len(got as usize) };
                raw.ngroups = got;
                return Ok(SelfState { raw, groups });
            }
            raw.ngroups = got;
        }
    }

    fn has(&self, c: u32) -> bool {
        self.raw.cap_effective & (1 << c) != 0
    }
}

/// What a task's credentials are to be: its TASK record's ids and its
/// CREDS record.
pub(crate) struct CredPlan {
    pub(crate) inheritable: u64,
    pub(crate) permitted: u64,
    pub(crate) effective: u64,
    pub(crate) bset: u64,
    pub(crate) ambient: u64,
    pub(crate) securebits: u32,
    pub(crate) no_new_privs: bool,
    /// Supplementary groups as the image lists them.
    pub(crate) groups: KVec<u32>,
}

/// The names of the ids of [`RawSelf::ids`] and a TASK record's.
const ID_NAMES: [&str; 8] = [
    "uid", "gid", "euid", "egid", "suid", "sgid", "fsuid", "fsgid",
];

/// Are `a` and `b` the same groups (as sets: setgroups() sorts them)?
fn same_groups(a: &[u32], b: &[u32]) -> bool {
    a.len() == b.len() && a.iter().all(|g| b.contains(g)) && b.iter().all(|g| a.contains(g))
}

fn refuse(what: core::fmt::Arguments<'_>) -> Fail {
    fail!(
        code::EPERM,
        "{}: the restarting user may not set it (use --as-invoker to restart with your own credentials)",
        what
    )
}

/// The capability sets after set*uid (`cap_emulate_setxuid` and the fsuid
/// fixup of `cap_task_fix_setuid`), unless `SECBIT_NO_SETUID_FIXUP`.
#[derive(Clone, Copy)]
struct Caps {
    eff: u64,
    prm: u64,
    inh: u64,
    amb: u64,
}

fn fix_setuid(c: &mut Caps, old: [u32; 3], new: [u32; 3], securebits: u32) {
    if securebits & secbit::NO_SETUID_FIXUP != 0 {
        return;
    }
    let root = |v: [u32; 3]| v.iter().any(|&u| u == 0);
    if root(old) && !root(new) {
        if securebits & secbit::KEEP_CAPS == 0 {
            c.prm = 0;
            c.eff = 0;
        }
        c.amb = 0;
    }
    if old[1] == 0 && new[1] != 0 {
        c.eff = 0;
    }
    if old[1] != 0 && new[1] == 0 {
        c.eff = c.prm;
    }
}

fn fix_setfsuid(c: &mut Caps, old: u32, new: u32, securebits: u32) {
    if securebits & secbit::NO_SETUID_FIXUP != 0 {
        return;
    }
    if old == 0 && new != 0 {
        c.eff &= !cap::FS_MASK;
    }
    if old != 0 && new == 0 {
        c.eff |= c.prm & cap::FS_MASK;
    }
}

/// Pass 1: may the invoker `inv` give a task the ids `ids` (TASK) and the
/// credentials `c` (CREDS)? `EPERM` naming the first that it may not.
pub(crate) fn check(inv: &SelfState, ids: &[u32; 8], c: &CredPlan) -> Result<(), Fail> {
    let r = &inv.raw;
    let [ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid] = r.ids();
    for (k, &v) in ids.iter().enumerate() {
        let gid = k % 2 == 1;
        let (allowed, capable) = if gid {
            ([rgid, egid, sgid, fsgid], inv.has(cap::SETGID))
        } else {
            ([ruid, euid, suid, fsuid], inv.has(cap::SETUID))
        };
        // setfs[ug]id also allows the current fs id; setres[ug]id not.
        let ok = if k >= 6 { &allowed[..] } else { &allowed[..3] };
        if !capable && !ok.contains(&v) {
            return Err(refuse(format_args!("{} {}", ID_NAMES[k], v)));
        }
    }
    if !inv.has(cap::SETGID) && !same_groups(&c.groups, &inv.groups) {
        return Err(refuse(format_args!(
            "supplementary groups ({} of them)",
            c.groups.len()
        )));
    }
    if c.bset & !r.cap_bset != 0 || (c.bset != r.cap_bset && !inv.has(cap::SETPCAP)) {
        return Err(refuse(format_args!("bounding set {:#x}", c.bset)));
    }
    if c.securebits != r.securebits {
        let locked = (r.securebits & secbit::LOCKS) >> 1;
        if !inv.has(cap::SETPCAP)
            || locked & (r.securebits ^ c.securebits) != 0
            || r.securebits & secbit::LOCKS & !c.securebits != 0
        {
            return Err(refuse(format_args!("securebits {:#x}", c.securebits)));
        }
    }
    // The permitted set left after the uid change (kept with
    // SECBIT_NO_SETUID_FIXUP, which the program sets first if it may).
    let mut caps = Caps {
        eff: r.cap_effective,
        prm: r.cap_permitted,
        inh: r.cap_inheritable,
        amb: r.cap_ambient,
    };
    let mut sb = r.securebits;
    let uid_changes = [ids[0], ids[2], ids[4], ids[6]] != [ruid, euid, suid, fsuid];
    if uid_changes && inv.has(cap::SETPCAP) {
        sb |= secbit::NO_SETUID_FIXUP;
    }
    fix_setuid(&mut caps, [ruid, euid, suid], [ids[0], ids[2], ids[4]], sb);
    if c.permitted & !caps.prm != 0 {
        return Err(refuse(format_args!(
            "permitted capabilities {:#x}",
            c.permitted
        )));
    }
    if !inv.has(cap::SETPCAP) && c.inheritable & !(caps.inh | caps.prm) != 0
        || c.inheritable & !(caps.inh | c.bset) != 0
    {
        return Err(refuse(format_args!(
            "inheritable capabilities {:#x}",
            c.inheritable
        )));
    }
    if r.securebits & secbit::NO_CAP_AMBIENT_RAISE != 0 && c.ambient & !r.cap_ambient != 0 {
        return Err(refuse(format_args!(
            "ambient capabilities {:#x}",
            c.ambient
        )));
    }
    Ok(())
}

/// Pass 1, every task and also with `--as-invoker`: no_new_privs cannot
/// be cleared. `as_invoker` keeps the invoker's.
pub(crate) fn check_nnp(inv: &SelfState, nnp: bool, as_invoker: bool) -> Result<(), Fail> {
    if inv.raw.no_new_privs != 0 && !nnp && !as_invoker {
        return Err(refuse(format_args!("no_new_privs 0")));
    }
    Ok(())
}

/// One call of the credential sequence.
pub(crate) enum CredOp {
    BsetDrop(u32),
    SetGroups,
    SetResGid([u32; 3]),
    SetFsGid(u32),
    /// `PR_SET_SECUREBITS`, the value; `true` for the final one.
    SecureBits(u32, bool),
    SetResUid([u32; 3]),
    SetFsUid(u32),
    /// capset(effective, permitted, inheritable); `true` for the final one.
    Capset(u64, u64, u64, bool),
    AmbientClear,
    AmbientRaise(u32),
}

/// The calls that turn the calling task's credentials `me` into `ids` and
/// `c`, in order (see the module doc), through `emit`.
pub(crate) fn plan_ops(
    me: &SelfState,
    ids: &[u32; 8],
    c: &CredPlan,
    mut emit: impl FnMut(CredOp) -> Result<(), Fail>,
) -> Result<(), Fail> {
    let r = &me.raw;
    let cur = r.ids();
    let mut caps = Caps {
        eff: r.cap_effective,
        prm: r.cap_permitted,
        inh: r.cap_inheritable,
        amb: r.cap_ambient,
    };
    let mut sb = r.securebits;
    for k in 0..=40u32 {
        if r.cap_bset & !c.bset & (1 << k) != 0 {
            emit(CredOp::BsetDrop(k))?;
        }
    }
    if !same_groups(&c.groups, &me.groups) {
        emit(CredOp::SetGroups)?;
    }
    let gids = [ids[1], ids[3], ids[5]];
    let mut fsgid = cur[7];
    if gids != [cur[1], cur[3], cur[5]] {
        emit(CredOp::SetResGid(gids))?;
        fsgid = ids[3];
    }
    if ids[7] != fsgid {
        emit(CredOp::SetFsGid(ids[7]))?;
    }
    let uids = [ids[0], ids[2], ids[4]];
    let old_uids = [cur[0], cur[2], cur[4]];
    let mut fsuid = cur[6];
    let uid_changes = uids != old_uids || ids[6] != fsuid;
    if uid_changes && caps.eff & (1 << cap::SETPCAP) != 0 && sb & secbit::NO_SETUID_FIXUP == 0 {
        sb |= secbit::NO_SETUID_FIXUP;
        emit(CredOp::SecureBits(sb, false))?;
    }
    if uids != old_uids {
        emit(CredOp::SetResUid(uids))?;
        fix_setuid(&mut caps, old_uids, uids, sb);
        fsuid = ids[2];
    }
    if ids[6] != fsuid {
        emit(CredOp::SetFsUid(ids[6]))?;
        fix_setfsuid(&mut caps, fsuid, ids[6], sb);
    }
    // What needs the caller's permitted set effective and the image's
    // inheritable set first: ambient raises, the securebits.
    let raise = c.ambient & !caps.amb;
    let clear = caps.amb & !c.ambient != 0;
    if (raise != 0 || clear || sb != c.securebits)
        && (caps.eff != caps.prm || caps.inh != c.inheritable)
    {
        emit(CredOp::Capset(caps.prm, caps.prm, c.inheritable, false))?;
        caps.eff = caps.prm;
        caps.inh = c.inheritable;
        caps.amb &= caps.prm & caps.inh;
    }
    if caps.amb & !c.ambient != 0 {
        emit(CredOp::AmbientClear)?;
        caps.amb = 0;
    }
    for k in 0..=40u32 {
        if c.ambient & !caps.amb & (1 << k) != 0 {
            emit(CredOp::AmbientRaise(k))?;
        }
    }
    if sb != c.securebits {
        emit(CredOp::SecureBits(c.securebits, true))?;
    }
    if (caps.eff, caps.prm, caps.inh) != (c.effective, c.permitted, c.inheritable) {
        emit(CredOp::Capset(
            c.effective,
            c.permitted,
            c.inheritable,
            true,
        ))?;
    }
    Ok(())
}

/// The commit: the calling task `me` has the ids `ids` and the
/// credentials `c`, unless `as_invoker` (then only no_new_privs, which
/// it has if the image has it). `EPERM` naming the first that differs.
pub(crate) fn verify(
    me: &SelfState,
    ids: &[u32; 8],
    c: &CredPlan,
    as_invoker: bool,
) -> Result<(), Fail> {
    let r = &me.raw;
    let differs = |what: core::fmt::Arguments<'_>| {
        fail!(
            code::EPERM,
            "CREDS: after the restore program, {} differs from the image's",
            what
        )
    };
    if c.no_new_privs && r.no_new_privs == 0 {
        return Err(differs(format_args!("no_new_privs")));
    }
    if as_invoker {
        return Ok(());
    }
    if r.no_new_privs != 0 && !c.no_new_privs {
        return Err(differs(format_args!("no_new_privs")));
    }
    let have = r.ids();
    for k in 0..8 {
        if have[k] != ids[k] {
            return Err(differs(format_args!(
                "{} ({}, the image {})",
                ID_NAMES[k], have[k], ids[k]
            )));
        }
    }
    if !same_groups(&me.groups, &c.groups) {
        return Err(differs(format_args!("the supplementary groups")));
    }
    let sets = [
        ("the inheritable set", r.cap_inheritable, c.inheritable),
        ("the permitted set", r.cap_permitted, c.permitted),
        ("the effective set", r.cap_effective, c.effective),
        ("the bounding set", r.cap_bset & cap::VALID, c.bset),
        ("the ambient set", r.cap_ambient, c.ambient),
    ];
    for (what, have, want) in sets {
        if have != want {
            return Err(differs(format_args!(
                "{} ({:#x}, the image {:#x})",
                what, have, want
            )));
        }
    }
    if r.securebits != c.securebits {
        return Err(differs(format_args!(
            "securebits ({:#x}, the image {:#x})",
            r.securebits, c.securebits
        )));
    }
    Ok(())
}
