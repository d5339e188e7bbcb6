// SPDX-License-Identifier: GPL-2.0
//! `/dev/cptrst`: the device, its registration, and the entry point from
//! the C file operations into Rust.
//!
//! The C shim owns the misc device and its `file_operations` (6.12's
//! `kernel` crate has no misc device; 6.13's `miscdevice` replaces this
//! file's FFI). [`Registration`] registers the device with the module's
//! [`Device`] as its data and deregisters it when dropped; every ioctl
//! lands in [`cptrst_rs_ioctl`] with that data, a trampoline into the ops
//! table.

use core::ffi::{c_long, c_uint, c_ulong, c_void};

use kernel::error::{to_result, Result};
use kernel::prelude::*;

use crate::file::DevFile;
use crate::ops::{CptOperations, OpsTable};
use crate::restart::Registry;
use crate::task::CurrentTask;
use crate::uapi::{CheckpointArgs, EcloneArgs, LiveArgs, RestartArgs};

mod ffi {
    use core::ffi::{c_int, c_void};
    extern "C" {
        pub(super) fn cptrst_misc_register(data: *const c_void) -> c_int;
        pub(super) fn cptrst_misc_deregister();
    }
}

/// What the device serves: the state shared by every call.
#[pin_data]
pub(crate) struct Device {
    /// The restarts under way.
    #[pin]
    restarts: Registry,
}

/// `/dev/cptrst`, registered; deregistered on drop.
///
/// # Invariants
/// The misc device is registered with `dev` as its data for as long as
/// this value lives.
pub(crate) struct Registration {
    /// Owned here, reached by the ioctls through the C side.
    _dev: Pin<KBox<Device>>,
}

impl Registration {
    /// Creates the device and registers `/dev/cptrst`.
    ///
    /// # Errors
    /// `ENOMEM`; whatever `misc_register` returns (`EBUSY` if the name is
    /// taken).
    pub(crate) fn new() -> Result<Registration> {
        let dev = KBox::pin_init(
            try_pin_init!(Device { restarts <- Registry::new()? }),
            GFP_KERNEL,
        )?;
        let data: *const Device = &*dev;
        // SAFETY: `data` points to the pinned `Device`, which the returned
        // `Registration` owns and frees only after deregistering in `drop`;
        // the C side stores it and hands it to each ioctl.
        to_result(unsafe { ffi::cptrst_misc_register(data.cast::<c_void>()) })?;
        // INVARIANT: registered with `dev` as its data.
        Ok(Registration { _dev: dev })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant). Module exit drops this only
        // when no /dev/cptrst file is open (each open file pins the
        // module), so no ioctl is running and none can start; `dev` is
        // freed after this returns.
        unsafe { ffi::cptrst_misc_deregister() };
    }
}

/// The operations this build of the module implements.
///
/// An operation not implemented here would answer `EOPNOTSUPP`; all three are.
struct Cptrst;

#[vtable]
impl CptOperations for Cptrst {
    fn checkpoint(
        _dev: &Device,
        args: &CheckpointArgs,
        live: Option<&mut LiveArgs>,
    ) -> Result<isize> {
        crate::checkpoint::checkpoint(args, live)
    }

    fn restart(
        dev: &Device,
        cur: &CurrentTask,
        file: &DevFile,
        args: &RestartArgs,
    ) -> Result<isize> {
        crate::restart::restart(&dev.restarts, cur, file, args)
    }

    fn eclone(_dev: &Device, args: &EcloneArgs) -> Result<isize> {
        crate::eclone::eclone(args)
    }
}

/// The module's ops table.
static OPS: OpsTable = OpsTable::of::<Cptrst>();

/// `unlocked_ioctl` of `/dev/cptrst`, called by the C shim.
///
/// # Safety
/// Called only by the kernel's ioctl path through the shim, with `data`
/// the [`Device`] the misc device was registered with and `file` an open
/// `/dev/cptrst` file held by the caller for the whole call.
#[no_mangle]
unsafe extern "C" fn cptrst_rs_ioctl(
    data: *const c_void,
    file: *mut kernel::bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: `data` is the registered `Device` (see `Registration::new`),
    // alive until deregistration, which cannot happen while an ioctl runs
    // (the open file pins the module).
    let Some(dev) = (unsafe { data.cast::<Device>().as_ref() }) else {
        return kernel::error::code::ENODEV.to_errno() as c_long;
    };
    // SAFETY: `file` is the file of this ioctl, held by the ioctl path for
    // the whole call; the `DevFile` does not outlive the call.
    let Some(file) = (unsafe { DevFile::from_raw(file) }) else {
        return kernel::error::code::EBADF.to_errno() as c_long;
    };
    // SAFETY: this is the calling task's own ioctl, in process context;
    // `cur` lives on this stack frame only.
    let cur = unsafe { CurrentTask::new() };
    match OPS.call(dev, &cur, &file, cmd, arg as usize) {
        Ok(v) => v as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}
