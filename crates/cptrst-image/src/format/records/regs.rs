// SPDX-License-Identifier: GPL-2.0
//! The register layout, and the REGS record that carries it.
//!
//! The layout is x86_64 `struct user_regs_struct`
//! (`arch/x86/include/asm/user_64.h`): 27 `unsigned long`s in the order
//! below. It is the order of `PTRACE_GETREGS`, of the `NT_PRSTATUS` regset
//! (`REGSET_GENERAL`) the module reads and writes, and of the REGS payload.
//! The index constants here are its one definition: code that holds the
//! registers as `[u64; COUNT]` (the module's dump and restore, the tools)
//! indexes them by these names, and [`Regs`] maps its fields through them.

use super::super::error::ErrorKind;
use super::super::wire::Rd;

/// Index of `r15` in `user_regs_struct`.
pub const R15: usize = 0;
/// Index of `r14` in `user_regs_struct`.
pub const R14: usize = 1;
/// Index of `r13` in `user_regs_struct`.
pub const R13: usize = 2;
/// Index of `r12` in `user_regs_struct`.
pub const R12: usize = 3;
/// Index of `bp` in `user_regs_struct`.
pub const BP: usize = 4;
/// Index of `bx` in `user_regs_struct`.
pub const BX: usize = 5;
/// Index of `r11` in `user_regs_struct`.
pub const R11: usize = 6;
/// Index of `r10` in `user_regs_struct`.
pub const R10: usize = 7;
/// Index of `r9` in `user_regs_struct`.
pub const R9: usize = 8;
/// Index of `r8` in `user_regs_struct`.
pub const R8: usize = 9;
/// Index of `ax` in `user_regs_struct`.
pub const AX: usize = 10;
/// Index of `cx` in `user_regs_struct`.
pub const CX: usize = 11;
/// Index of `dx` in `user_regs_struct`.
pub const DX: usize = 12;
/// Index of `si` in `user_regs_struct`.
pub const SI: usize = 13;
/// Index of `di` in `user_regs_struct`.
pub const DI: usize = 14;
/// Index of `orig_ax` in `user_regs_struct`.
pub const ORIG_AX: usize = 15;
/// Index of `ip` in `user_regs_struct`.
pub const IP: usize = 16;
/// Index of `cs` in `user_regs_struct`.
pub const CS: usize = 17;
/// Index of `flags` in `user_regs_struct`.
pub const FLAGS: usize = 18;
/// Index of `sp` in `user_regs_struct`.
pub const SP: usize = 19;
/// Index of `ss` in `user_regs_struct`.
pub const SS: usize = 20;
/// Index of `fs_base` in `user_regs_struct`.
pub const FS_BASE: usize = 21;
/// Index of `gs_base` in `user_regs_struct`.
pub const GS_BASE: usize = 22;
/// Index of `ds` in `user_regs_struct`.
pub const DS: usize = 23;
/// Index of `es` in `user_regs_struct`.
pub const ES: usize = 24;
/// Index of `fs` in `user_regs_struct`.
pub const FS: usize = 25;
/// Index of `gs` in `user_regs_struct`.
pub const GS: usize = 26;

/// Number of registers: `sizeof(struct user_regs_struct) / 8`.
pub const COUNT: usize = 27;

/// The field names of `user_regs_struct`, by index (`NAMES[AX] == "ax"`).
pub const NAMES: [&str; COUNT] = [
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di",
    "orig_ax", "ip", "cs", "flags", "sp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
];

/// The indices in declaration order: checked below to be 0, 1, ...,
/// `COUNT - 1`, so that each constant names one register and none is
/// skipped.
const ORDER: [usize; COUNT] = [
    R15, R14, R13, R12, BP, BX, R11, R10, R9, R8, AX, CX, DX, SI, DI, ORIG_AX, IP, CS, FLAGS, SP,
    SS, FS_BASE, GS_BASE, DS, ES, FS, GS,
];

const _: () = {
    let mut i = 0;
    while i < COUNT {
        assert!(ORDER[i] == i);
        i += 1;
    }
};

/// The REGS record: x86_64 `struct user_regs_struct`, in the kernel's order
/// (field `x` at index `X` of the arrays of [`from_array`](Self::from_array)
/// and [`to_array`](Self::to_array)).
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
    /// From the registers in `user_regs_struct` order (indexed by the
    /// constants of this module).
    pub fn from_array(a: [u64; COUNT]) -> Self {
        Self {
            r15: a[R15],
            r14: a[R14],
            r13: a[R13],
            r12: a[R12],
            bp: a[BP],
            bx: a[BX],
            r11: a[R11],
            r10: a[R10],
            r9: a[R9],
            r8: a[R8],
            ax: a[AX],
            cx: a[CX],
            dx: a[DX],
            si: a[SI],
            di: a[DI],
            orig_ax: a[ORIG_AX],
            ip: a[IP],
            cs: a[CS],
            flags: a[FLAGS],
            sp: a[SP],
            ss: a[SS],
            fs_base: a[FS_BASE],
            gs_base: a[GS_BASE],
            ds: a[DS],
            es: a[ES],
            fs: a[FS],
            gs: a[GS],
        }
    }

    /// The registers in `user_regs_struct` order (indexed by the constants
    /// of this module).
    pub fn to_array(self) -> [u64; COUNT] {
        let mut a = [0u64; COUNT];
        a[R15] = self.r15;
        a[R14] = self.r14;
        a[R13] = self.r13;
        a[R12] = self.r12;
        a[BP] = self.bp;
        a[BX] = self.bx;
        a[R11] = self.r11;
        a[R10] = self.r10;
        a[R9] = self.r9;
        a[R8] = self.r8;
        a[AX] = self.ax;
        a[CX] = self.cx;
        a[DX] = self.dx;
        a[SI] = self.si;
        a[DI] = self.di;
        a[ORIG_AX] = self.orig_ax;
        a[IP] = self.ip;
        a[CS] = self.cs;
        a[FLAGS] = self.flags;
        a[SP] = self.sp;
        a[SS] = self.ss;
        a[FS_BASE] = self.fs_base;
        a[GS_BASE] = self.gs_base;
        a[DS] = self.ds;
        a[ES] = self.es;
        a[FS] = self.fs;
        a[GS] = self.gs;
        a
    }

    pub(super) fn decode(p: &[u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let mut a = [0u64; COUNT];
        for v in a.iter_mut() {
            *v = r.u64().ok_or(ErrorKind::TruncatedRecord { missing: 0 })?;
        }
        Ok(Self::from_array(a))
    }
}
