//! Rust mirror of `include/uapi/linux/cptrst.h`, the `/dev/cptrst` ioctl ABI.
//!
//! The definitions live in `abi.rs`, which is compiled both here and into
//! the kernel module (as a child module, so it carries no crate attributes).
#![no_std]

mod abi;
pub use abi::*;

#[cfg(test)]
mod tests;
