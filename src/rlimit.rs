// SPDX-License-Identifier: GPL-2.0
//! Resource limits of the calling task (`rlimit()`, an inline function
//! in C): what restart checks its plan against before it creates
//! anything; and the C layout of one limit as the checkpoint reads a
//! thread group's ([`RlimitFacts`], part of [`crate::signal::ProcFacts`]).

use core::mem::{offset_of, size_of};

use kernel::bindings;

/// Resources with a limit (`RLIM_NLIMITS`).
pub(crate) const NRLIMIT: usize = 16;
const _: () = assert!(bindings::RLIM_NLIMITS as usize == NRLIMIT);

/// `struct cptrst_rlimit`: one limit (`RLIM_INFINITY` is `u64::MAX`).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct RlimitFacts {
    pub(crate) cur: u64,
    pub(crate) max: u64,
}
const _: () = assert!(offset_of!(RlimitFacts, cur) == 0);
const _: () = assert!(offset_of!(RlimitFacts, max) == 8);
const _: () = assert!(size_of::<RlimitFacts>() == 16);

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
