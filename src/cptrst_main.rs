// SPDX-License-Identifier: GPL-2.0
//! cptrst: checkpoint/restart of Linux processes.
//!
//! Crate root of `cptrst.ko`: the `module!` declaration, module init/exit,
//! and the `mod` lines. The work lives in one file per unit:
//! - [`checkpoint`]: the checkpoint operation, with its dump code in
//!   [`dump_task`] and [`dump_mm`], writing through [`image_out`];
//! - [`restart`]: the restart operation (coordinator and restored task),
//!   reading through [`image_in`], with its C side in `cptrst_restore.c`;
//! - [`image`]: the image format, shared with the tools (`crates/cptrst-image`);
//! - [`ops`]: the ops table (`checkpoint`, `restart`, `eclone`) and the ioctl dispatcher;
//! - [`device`]: the entry point from the C file operations;
//! - [`eclone`]: the eclone operation (validation and translation to clone3);
//! - [`shim`]: the declarations of the C shim (`cptrst_shim.c`);
//! - [`uapi`]: the ioctl ABI, shared with the tools (`crates/cptrst-uapi`).

use kernel::prelude::*;

mod checkpoint;
mod crc;
mod device;
mod dump_mm;
mod dump_task;
mod eclone;
mod file;
#[path = "../crates/cptrst-image/src/format.rs"]
#[allow(unreachable_pub, dead_code)]
mod image;
mod image_in;
mod image_out;
mod mm;
mod ops;
mod restart;
mod restore_mm;
mod restore_plan;
mod shim;
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
struct CptrstModule;

impl kernel::Module for CptrstModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        shim::misc_register()?;
        pr_info!("cptrst: /dev/cptrst ready (ABI {})\n", uapi::ABI_VERSION);
        Ok(CptrstModule)
    }
}

impl Drop for CptrstModule {
    fn drop(&mut self) {
        // Unloading disables checkpoint/restart: the device goes first. No
        // file can be open here (each one pins the module).
        shim::misc_deregister();
        pr_info!("cptrst: unloaded\n");
    }
}
