// SPDX-License-Identifier: GPL-2.0
//! cptrst: checkpoint/restart of Linux processes.
//!
//! Crate root of `cptrst.ko`: the `module!` declaration, module init/exit,
//! and the `mod` lines (Documentation/architecture.rst says which file
//! owns what). The module is organised by kernel object:
//! - the device and the operations: [`device`] (the `/dev/cptrst`
//!   registration and the ioctl entry from C), [`ops`] (the ops table),
//!   [`checkpoint`], [`restart`] (by role: registry, context, coordinator,
//!   participant), [`eclone`];
//! - dump and restore, parallel files per state kind: [`dump_task`] /
//!   [`restore_task`], [`dump_mm`] / [`restore_mm`], [`dump_files`] (the
//!   checkpoint's open files, fd tables and fs contexts), with pass 1 of restart
//!   in [`restore_plan`] and the image stream in [`image_out`] / [`image_in`];
//! - the kernel objects, one file each, shaped like upstream's later Rust
//!   abstractions: [`task`], [`pid`], [`cred`], [`signal`], [`mm`],
//!   [`file`], [`wait`], [`crc`], [`rlimit`], [`machine`]; their C side is
//!   `cptrst_task.c`, `cptrst_shim.c` and `cptrst_restore.c`, declared in
//!   `include/cptrst_abi.h`;
//! - [`error`]: the module's error type;
//! - [`image`] and [`uapi`]: the image format and the ioctl ABI, shared with
//!   the tools (`crates/cptrst-image`, `crates/cptrst-uapi`).

// `error::Fail` carries its message inline (240 bytes), so that reporting
// a failure, an allocation failure included, never allocates: every
// `Result<_, Fail>` is a large `Err`, on purpose.
#![allow(clippy::result_large_err)]

use kernel::prelude::*;

mod checkpoint;
mod crc;
mod cred;
mod device;
mod dump_creds;
mod dump_files;
mod dump_mm;
mod dump_signals;
mod dump_task;
mod eclone;
mod error;
mod file;
// The image format, shared with the tools: the module uses part of its API,
// hence the allows (unused items and re-exports; the host crate's
// `cargo clippy -D warnings` catches the real ones).
#[path = "../crates/cptrst-image/src/format/mod.rs"]
#[allow(unreachable_pub, dead_code, unused_imports)]
mod image;
mod image_in;
mod image_out;
mod live;
mod machine;
mod mm;
mod ops;
mod pid;
mod restart;
mod restore_creds;
mod restore_mm;
mod restore_plan;
mod restore_prog;
mod restore_task;
mod rlimit;
mod signal;
mod sort;
mod task;
mod timer;
// Shared with the tools, which use the parts the module does not (command
// numbers, the device path): hence the two allows.
#[path = "../crates/cptrst-uapi/src/abi.rs"]
#[allow(unreachable_pub, dead_code)]
mod uapi;
mod wait;

module! {
    type: CptrstModule,
    name: "cptrst",
    author: "The cptrst developers",
    description: "Checkpoint/restart of Linux processes (/dev/cptrst)",
    license: "GPL",
}

/// The loaded module: owns the `/dev/cptrst` registration.
struct CptrstModule {
    dev: Option<device::Registration>,
}

impl kernel::Module for CptrstModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let dev = device::Registration::new()?;
        pr_info!("cptrst: /dev/cptrst ready (ABI {})\n", uapi::ABI_VERSION);
        Ok(CptrstModule { dev: Some(dev) })
    }
}

impl Drop for CptrstModule {
    fn drop(&mut self) {
        // Unloading disables checkpoint/restart: the device goes first. No
        // file can be open here (each one pins the module).
        drop(self.dev.take());
        pr_info!("cptrst: unloaded\n");
    }
}
