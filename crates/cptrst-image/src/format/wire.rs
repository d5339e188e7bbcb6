// SPDX-License-Identifier: GPL-2.0
//! The little-endian byte cursors every decoder and encoder use ([`Rd`],
//! [`Wr`]), and the small checks on raw bytes (zero padding, NUL padding,
//! paths, variable-length fields).

use super::consts::ALIGN;
use super::error::ErrorKind;

/// Bounds-checked little-endian reader.
pub(super) struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        Self { b, pos: 0 }
    }

    pub(super) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }

    pub(super) fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    pub(super) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    pub(super) fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    pub(super) fn rest(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or(&[])
    }
}

/// Bounds-checked little-endian writer.
pub(super) struct Wr<'a> {
    b: &'a mut [u8],
    pub(super) pos: usize,
}

impl<'a> Wr<'a> {
    pub(super) fn new(b: &'a mut [u8]) -> Self {
        Self { b, pos: 0 }
    }

    pub(super) fn put(&mut self, src: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(src.len())?;
        let dst = self.b.get_mut(self.pos..end)?;
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
        self.pos = end;
        Some(())
    }

    pub(super) fn zeros(&mut self, n: usize) -> Option<()> {
        let end = self.pos.checked_add(n)?;
        let dst = self.b.get_mut(self.pos..end)?;
        dst.fill(0);
        self.pos = end;
        Some(())
    }

    /// Zeros up to the next multiple of [`ALIGN`] (relative to the start).
    pub(super) fn pad(&mut self) -> Option<()> {
        let n = pad8(self.pos)?.checked_sub(self.pos)?;
        self.zeros(n)
    }

    pub(super) fn u16(&mut self, v: u16) -> Option<()> {
        self.put(&v.to_le_bytes())
    }

    pub(super) fn u32(&mut self, v: u32) -> Option<()> {
        self.put(&v.to_le_bytes())
    }

    pub(super) fn u64(&mut self, v: u64) -> Option<()> {
        self.put(&v.to_le_bytes())
    }
}

/// `n` rounded up to a multiple of [`ALIGN`].
pub(super) fn pad8(n: usize) -> Option<usize> {
    Some(n.checked_add(ALIGN - 1)? & !(ALIGN - 1))
}

pub(super) fn to_u64(n: usize) -> u64 {
    // usize is at most 64 bits on every target Linux supports.
    u64::try_from(n).unwrap_or(u64::MAX)
}

pub(super) fn all_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

/// `b` is NUL-terminated within its length, zeros after the first NUL.
pub(super) fn nul_padded(b: &[u8]) -> bool {
    match b.iter().position(|&x| x == 0) {
        Some(i) => all_zero(b.get(i..).unwrap_or(&[])),
        None => false,
    }
}

/// Checks a path: absolute, no NUL. An empty path is valid (none).
pub(super) fn path_ok(p: &[u8]) -> bool {
    p.is_empty() || (p.first() == Some(&b'/') && !p.contains(&0))
}

/// Splits `len` bytes of a variable field then checks the zero padding up
/// to the end of `rd` (which must end exactly at the padded length).
pub(super) fn var_field<'a>(rd: &mut Rd<'a>, len: usize) -> Result<&'a [u8], ErrorKind> {
    let f = rd
        .bytes(len)
        .ok_or(ErrorKind::TruncatedRecord { missing: 0 })?;
    if !all_zero(rd.rest()) {
        return Err(ErrorKind::NonZeroPadding);
    }
    Ok(f)
}
