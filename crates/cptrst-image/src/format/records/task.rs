// SPDX-License-Identifier: GPL-2.0
//! A live task's own records besides its registers: [`Task`] (identity,
//! credentials, signal mask), [`Fpu`] (its xstate), [`Thread`] (the
//! per-thread state user libraries register with the kernel).

use super::super::consts::*;
use super::super::error::ErrorKind;
use super::super::header::FileHeader;
use super::super::wire::{all_zero, nul_padded, pad8, to_u64, var_field, Rd, Wr};

/// The TASK record: a task's identity, credentials and signal mask.
///
/// Credentials are as seen from the checkpointing caller's user namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Task {
    /// Index of the task in the tree.
    pub index: u32,
    /// Its level-0 pid (must match the tree).
    pub pid: u32,
    /// Command name, NUL-padded.
    pub comm: [u8; 16],
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Saved uid.
    pub suid: u32,
    /// Saved gid.
    pub sgid: u32,
    /// Filesystem uid.
    pub fsuid: u32,
    /// Filesystem gid.
    pub fsgid: u32,
    /// Personality.
    pub personality: u32,
    /// Blocked signal mask (bit `n - 1` for signal `n`).
    pub blocked: u64,
}

/// Signals that can never be blocked: SIGKILL (9) and SIGSTOP (19).
const UNBLOCKABLE: u64 = (1 << 8) | (1 << 18);

impl Task {
    pub(super) fn decode(p: &[u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let t = (|| {
            let index = r.u32()?;
            let pid = r.u32()?;
            let comm: [u8; 16] = r.array()?;
            let mut c = [0u32; 8];
            for v in c.iter_mut() {
                *v = r.u32()?;
            }
            let personality = r.u32()?;
            let reserved = r.u32()?;
            let blocked = r.u64()?;
            let [uid, gid, euid, egid, suid, sgid, fsuid, fsgid] = c;
            Some((
                Task {
                    index,
                    pid,
                    comm,
                    uid,
                    gid,
                    euid,
                    egid,
                    suid,
                    sgid,
                    fsuid,
                    fsgid,
                    personality,
                    blocked,
                },
                reserved,
            ))
        })();
        let (t, reserved) = t.ok_or(ErrorKind::TruncatedRecord { missing: 0 })?;
        if reserved != 0 {
            return Err(ErrorKind::NonZeroReserved);
        }
        if !nul_padded(&t.comm) {
            return Err(ErrorKind::BadComm);
        }
        if t.creds().contains(&u32::MAX) {
            return Err(ErrorKind::BadCreds);
        }
        if t.blocked & UNBLOCKABLE != 0 {
            return Err(ErrorKind::BadSigmask);
        }
        Ok(t)
    }

    fn creds(&self) -> [u32; 8] {
        [
            self.uid, self.gid, self.euid, self.egid, self.suid, self.sgid, self.fsuid, self.fsgid,
        ]
    }

    pub(in super::super) fn encode_body(&self, w: &mut Wr<'_>) -> Option<()> {
        w.u32(self.index)?;
        w.u32(self.pid)?;
        w.put(&self.comm)?;
        for c in self.creds() {
            w.u32(c)?;
        }
        w.u32(self.personality)?;
        w.u32(0)?;
        w.u64(self.blocked)
    }
}

/// The FPU record: the task's xstate in the standard (non-compacted) XSAVE
/// layout of the user ABI (`PTRACE_GETREGSET NT_X86_XSTATE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fpu<'a> {
    /// The xstate, [`FileHeader::xstate_size`] bytes.
    pub xstate: &'a [u8],
}

impl<'a> Fpu<'a> {
    /// Payload length for an xstate of `size` bytes.
    pub fn payload_len(size: u32) -> Option<usize> {
        pad8(size as usize)?.checked_add(FPU_FIXED_LEN)
    }

    pub(super) fn decode(p: &'a [u8], h: &FileHeader) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let (Some(len), Some(reserved)) = (r.u32(), r.u32()) else {
            return Err(ErrorKind::TruncatedRecord { missing: 0 });
        };
        if reserved != 0 {
            return Err(ErrorKind::NonZeroReserved);
        }
        if len != h.xstate_size {
            return Err(ErrorKind::XstateSizeMismatch {
                len,
                expected: h.xstate_size,
            });
        }
        let xstate = var_field(&mut r, len as usize)?;
        let mut x = Rd::new(xstate.get(XSAVE_HEADER_OFFSET..).unwrap_or(&[]));
        let (Some(xstate_bv), Some(xcomp_bv)) = (x.u64(), x.u64()) else {
            return Err(ErrorKind::XstateSizeMismatch {
                len,
                expected: MIN_XSTATE_SIZE,
            });
        };
        if xstate_bv & !h.xcr0 != 0 {
            return Err(ErrorKind::XstateFeaturesNotInXcr0 { xstate_bv });
        }
        if xcomp_bv != 0 {
            return Err(ErrorKind::XstateCompacted);
        }
        if !all_zero(x.bytes(48).unwrap_or(&[1])) {
            return Err(ErrorKind::XstateHeaderReserved);
        }
        Ok(Fpu { xstate })
    }
}

/// The THREAD record: per-thread state a task registered with the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Thread {
    /// `set_tid_address()` / `CLONE_CHILD_CLEARTID`: cleared and woken at exit.
    pub clear_child_tid: u64,
    /// `set_robust_list()` head, 0 for none.
    pub robust_list: u64,
    /// Its length.
    pub robust_list_len: u64,
    /// The registered rseq area, 0 for none.
    pub rseq: u64,
    /// Its length.
    pub rseq_len: u32,
    /// Its signature.
    pub rseq_sig: u32,
}

impl Thread {
    pub(super) fn decode(p: &[u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let (Some(clear_child_tid), Some(robust_list), Some(robust_list_len), Some(rseq)) =
            (r.u64(), r.u64(), r.u64(), r.u64())
        else {
            return Err(ErrorKind::BadPayloadLength {
                len: to_u64(p.len()),
                expected: THREAD_PAYLOAD_LEN as u64,
            });
        };
        let (Some(rseq_len), Some(rseq_sig), Some(reserved)) = (r.u32(), r.u32(), r.u64()) else {
            return Err(ErrorKind::BadPayloadLength {
                len: to_u64(p.len()),
                expected: THREAD_PAYLOAD_LEN as u64,
            });
        };
        if reserved != 0 {
            return Err(ErrorKind::NonZeroReserved);
        }
        let t = Self {
            clear_child_tid,
            robust_list,
            robust_list_len,
            rseq,
            rseq_len,
            rseq_sig,
        };
        if clear_child_tid >= USER_SPACE_LIMIT
            || robust_list >= USER_SPACE_LIMIT
            || rseq >= USER_SPACE_LIMIT
            || robust_list_len > MAX_ROBUST_LIST_LEN
            || rseq_len > 4096
        {
            return Err(ErrorKind::BadThreadState);
        }
        Ok(t)
    }
}
