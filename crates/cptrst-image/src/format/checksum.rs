// SPDX-License-Identifier: GPL-2.0
//! CRC32C (Castagnoli): the table-driven implementation, the running
//! [`Crc32c`] state, and the [`CrcImpl`] hook through which the module
//! plugs in the kernel's accelerated one.

#[cfg(doc)]
use super::{Encoder, Validator};

/// The CRC32C (Castagnoli) polynomial, reflected.
const CRC32C_POLY: u32 = 0x82F6_3B78;

const fn crc32c_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CRC32C_POLY
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut j = 1;
        while j < 8 {
            let prev = t[j - 1][i];
            t[j][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            j += 1;
        }
        i += 1;
    }
    t
}

/// Slicing-by-8 tables, built at compile time.
static CRC32C_TABLES: [[u32; 256]; 8] = crc32c_tables();

#[inline]
fn crc_t(table: usize, byte: u32) -> u32 {
    // `byte as u8` keeps the index below 256; `table` is a constant < 8.
    match CRC32C_TABLES.get(table) {
        Some(t) => t[(byte as u8) as usize],
        None => 0,
    }
}

/// A CRC32C implementation on the raw running state: no initial or final
/// inversion, the convention of the kernel's `crc32c(seed, p, len)`.
/// [`crc32c_raw`] is this crate's; the module plugs in the kernel's
/// (SSE4.2/PCLMULQDQ) one with [`Encoder::set_crc_impl`] and
/// [`Validator::set_crc_impl`]. Every implementation must compute the same
/// function.
pub type CrcImpl = fn(u32, &[u8]) -> u32;

/// Table-driven CRC32C (slice-by-8) on the raw state: see [`CrcImpl`].
pub fn crc32c_raw(state: u32, data: &[u8]) -> u32 {
    let mut c = state;
    let mut chunks = data.chunks_exact(8);
    for ch in &mut chunks {
        let mut w = [0u8; 8];
        for (d, s) in w.iter_mut().zip(ch) {
            *d = *s;
        }
        let lo = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) ^ c;
        let hi = u32::from_le_bytes([w[4], w[5], w[6], w[7]]);
        c = crc_t(7, lo)
            ^ crc_t(6, lo >> 8)
            ^ crc_t(5, lo >> 16)
            ^ crc_t(4, lo >> 24)
            ^ crc_t(3, hi)
            ^ crc_t(2, hi >> 8)
            ^ crc_t(1, hi >> 16)
            ^ crc_t(0, hi >> 24);
    }
    for &b in chunks.remainder() {
        c = crc_t(0, c ^ u32::from(b)) ^ (c >> 8);
    }
    c
}

/// Running CRC32C state (initial value all ones, final XOR all ones).
///
/// `Crc32c::new()` then [`update`](Self::update) over pieces in order gives
/// the same [`value`](Self::value) as [`crc32c`] over their concatenation.
/// Relation to the kernel's `crc32c(seed, p, len)` (no inversions):
/// `value == !crc32c(!0, data)`.
#[derive(Clone, Copy, Debug)]
pub struct Crc32c {
    state: u32,
    pub(super) imp: CrcImpl,
}

impl PartialEq for Crc32c {
    /// Two CRCs are equal if their values are (whatever computes them).
    fn eq(&self, other: &Self) -> bool {
        self.state == other.state
    }
}

impl Eq for Crc32c {}

impl Default for Crc32c {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32c {
    /// A CRC over no data yet.
    pub const fn new() -> Self {
        Self {
            state: !0,
            imp: crc32c_raw,
        }
    }

    /// Resumes from the [`value`](Self::value) of a CRC over a prefix.
    pub const fn resume(value: u32) -> Self {
        Self {
            state: !value,
            imp: crc32c_raw,
        }
    }

    /// Resumes from the raw running [`state`](Self::state) of a CRC over
    /// a prefix (the state a caller carries between calls).
    pub const fn from_state(state: u32) -> Self {
        Self {
            state,
            imp: crc32c_raw,
        }
    }

    /// Computes further updates with `imp`.
    pub fn set_impl(&mut self, imp: CrcImpl) {
        self.imp = imp;
    }

    /// Adds `data` to the CRC.
    pub fn update(&mut self, data: &[u8]) {
        self.state = (self.imp)(self.state, data);
    }

    /// Adds data that the caller checksums itself: `f` maps the raw state
    /// (see [`CrcImpl`]) over it.
    pub fn update_with(&mut self, f: impl FnOnce(u32) -> u32) {
        self.state = f(self.state);
    }

    /// The CRC32C of everything added so far.
    pub const fn value(&self) -> u32 {
        !self.state
    }

    /// The raw running state (see [`CrcImpl`]).
    pub const fn state(&self) -> u32 {
        self.state
    }
}

/// The CRC32C of `data` (`crc32c(b"123456789") == 0xE306_9283`).
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_update(0, data)
}

/// Extends `crc`, the CRC32C of some prefix, by `data`:
/// `crc32c_update(crc32c(a), b) == crc32c(a ++ b)`; `crc32c_update(0, b)`
/// is `crc32c(b)`.
pub fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    let mut c = Crc32c::resume(crc);
    c.update(data);
    c.value()
}
