// SPDX-License-Identifier: GPL-2.0
//! Resource limits of the calling task (`rlimit()`, an inline function
//! in C): what restart checks its plan against before it creates
//! anything.

use kernel::bindings;

mod ffi {
    extern "C" {
        pub(super) fn cptrst_rlimit(which: u32) -> core::ffi::c_ulong;
    }
}

/// A resource with a limit.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Resource {
    /// `RLIMIT_NOFILE`: open files.
    Nofile,
    /// `RLIMIT_DATA`: the data segment and private writable mappings.
    Data,
}

/// The caller's soft limit of `r` (`RLIM_INFINITY` is `u64::MAX`).
pub(crate) fn current_soft(r: Resource) -> u64 {
    let which = match r {
        Resource::Nofile => bindings::RLIMIT_NOFILE,
        Resource::Data => bindings::RLIMIT_DATA,
    };
    // SAFETY: no precondition: reads the caller's own signal struct.
    unsafe { ffi::cptrst_rlimit(which) }
}
