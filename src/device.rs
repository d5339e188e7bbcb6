// SPDX-License-Identifier: GPL-2.0
//! `/dev/cptrst`: the entry point from the C file operations into Rust.
//!
//! The C shim owns the misc device and its `file_operations`; every ioctl
//! lands in [`cptrst_rs_ioctl`], a trampoline into the ops table.



use crate::ops::{CptOperations, OpsTable};
use crate::shim::rst::DevFile;

/// The operations this build of the module implements.
///
/// An operation not implemented here would answer `EOPNOTSUPP`; all three are.
struct Cptrst;

#[kernel::prelude::vtable]
impl CptOperations for Cptrst {
    fn checkpoint(args: &crate::uapi::CheckpointArgs) -> kernel::error::Result<isize> {
        crate::checkpoint::checkpoint(args)
    }

    fn restart(dev: &DevFile, args: &crate::uapi::RestartArgs) -> kernel::error::Result<isize> {
        crate::restart::restart(dev, args)
    }

    fn eclone(args: &crate::uapi::EcloneArgs) -> kernel::error::Result<isize> {
        crate::eclone::eclone(args)
    }
}

/// The module's ops table.
static OPS: OpsTable = OpsTable::of::<Cptrst>();

/// `unlocked_ioctl` of `/dev/cptrst`, called by the C shim.
///
/// # Safety
/// Called only by the kernel's ioctl path through the shim, with `file` an
/// open `/dev/cptrst` file held by the caller for the whole call.
#[no_mangle]
unsafe extern "C" fn cptrst_rs_ioctl(
    file: *mut core::ffi::c_void,
    cmd: core::ffi::c_uint,
    arg: core::ffi::c_ulong,
) -> core::ffi::c_long {
    // SAFETY: `file` is the file of this ioctl, held by the ioctl path for
    // the whole call; the `DevFile` does not outlive the call.
    let Some(dev) = (unsafe { DevFile::from_raw(file) }) else {
        return kernel::error::code::EBADF.to_errno() as core::ffi::c_long;
    };
    match OPS.call(&dev, cmd, arg as usize) {
        Ok(v) => v as core::ffi::c_long,
        Err(e) => e.to_errno() as core::ffi::c_long,
    }
}
