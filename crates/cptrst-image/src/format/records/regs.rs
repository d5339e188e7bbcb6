// SPDX-License-Identifier: GPL-2.0
//! The REGS record: a task's general registers, in the x86_64
//! `struct user_regs_struct` order.

use super::super::consts::*;
use super::super::error::ErrorKind;
use super::super::wire::Rd;

/// The REGS record: x86_64 `struct user_regs_struct`, in the kernel's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Regs {
    /// Register `r15`.
    pub r15: u64,
    /// Register `r14`.
    pub r14: u64,
    /// Register `r13`.
    pub r13: u64,
    /// Register `r12`.
    pub r12: u64,
    /// Register `bp`.
    pub bp: u64,
    /// Register `bx`.
    pub bx: u64,
    /// Register `r11`.
    pub r11: u64,
    /// Register `r10`.
    pub r10: u64,
    /// Register `r9`.
    pub r9: u64,
    /// Register `r8`.
    pub r8: u64,
    /// Register `ax`.
    pub ax: u64,
    /// Register `cx`.
    pub cx: u64,
    /// Register `dx`.
    pub dx: u64,
    /// Register `si`.
    pub si: u64,
    /// Register `di`.
    pub di: u64,
    /// Register `orig_ax`.
    pub orig_ax: u64,
    /// Register `ip`.
    pub ip: u64,
    /// Register `cs`.
    pub cs: u64,
    /// Register `flags`.
    pub flags: u64,
    /// Register `sp`.
    pub sp: u64,
    /// Register `ss`.
    pub ss: u64,
    /// Register `fs_base`.
    pub fs_base: u64,
    /// Register `gs_base`.
    pub gs_base: u64,
    /// Register `ds`.
    pub ds: u64,
    /// Register `es`.
    pub es: u64,
    /// Register `fs`.
    pub fs: u64,
    /// Register `gs`.
    pub gs: u64,
}

impl Regs {
    /// From the registers in `user_regs_struct` order.
    pub fn from_array(a: [u64; REGS_COUNT]) -> Self {
        let [r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss, fs_base, gs_base, ds, es, fs, gs] =
            a;
        Self {
            r15,
            r14,
            r13,
            r12,
            bp,
            bx,
            r11,
            r10,
            r9,
            r8,
            ax,
            cx,
            dx,
            si,
            di,
            orig_ax,
            ip,
            cs,
            flags,
            sp,
            ss,
            fs_base,
            gs_base,
            ds,
            es,
            fs,
            gs,
        }
    }

    /// The registers in `user_regs_struct` order.
    pub fn to_array(&self) -> [u64; REGS_COUNT] {
        [
            self.r15,
            self.r14,
            self.r13,
            self.r12,
            self.bp,
            self.bx,
            self.r11,
            self.r10,
            self.r9,
            self.r8,
            self.ax,
            self.cx,
            self.dx,
            self.si,
            self.di,
            self.orig_ax,
            self.ip,
            self.cs,
            self.flags,
            self.sp,
            self.ss,
            self.fs_base,
            self.gs_base,
            self.ds,
            self.es,
            self.fs,
            self.gs,
        ]
    }

    pub(super) fn decode(p: &[u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let mut a = [0u64; REGS_COUNT];
        for v in a.iter_mut() {
            *v = r.u64().ok_or(ErrorKind::TruncatedRecord { missing: 0 })?;
        }
        Ok(Self::from_array(a))
    }
}
