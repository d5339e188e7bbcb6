// SPDX-License-Identifier: GPL-2.0
//! The cptrst checkpoint image format.
//!
//! The definitions live in `format/` (its `mod.rs` lists the files), which
//! is compiled both here and into the kernel module (as a child module, so
//! it carries no crate attributes and uses `core` only). This crate adds
//! the tests, and with the `sample` feature a builder of a small valid
//! image.
#![no_std]

mod format;
pub use format::*;

#[cfg(any(test, feature = "sample"))]
pub mod sample;

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod tests;
