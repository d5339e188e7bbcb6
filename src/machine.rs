// SPDX-License-Identifier: GPL-2.0
//! The machine and kernel the module runs on, as far as an image must
//! match them: the xstate layout and features, the kernel release, the
//! end of user space.

mod ffi {
    extern "C" {
        pub(super) fn cptrst_xstate_size() -> u32;
        pub(super) fn cptrst_xfeatures() -> u64;
        pub(super) fn cptrst_kernel_release(buf: *mut u8, size: u32);
        pub(super) fn cptrst_task_size() -> u64;
    }
}

/// Size of the user-ABI XSAVE area on this machine (0: no XSAVE).
pub(crate) fn xstate_size() -> usize {
    // SAFETY: no precondition.
    unsafe { ffi::cptrst_xstate_size() as usize }
}

/// XCR0: the xstate features enabled for user space.
pub(crate) fn xfeatures() -> u64 {
    // SAFETY: no precondition.
    unsafe { ffi::cptrst_xfeatures() }
}

/// `utsname()->release`, NUL-padded.
pub(crate) fn kernel_release() -> [u8; 64] {
    let mut b = [0u8; 64];
    // SAFETY: `b` is 64 writable bytes.
    unsafe { ffi::cptrst_kernel_release(b.as_mut_ptr(), b.len() as u32) };
    b
}

/// The end of user space for the caller (`TASK_SIZE`).
pub(crate) fn task_size() -> u64 {
    // SAFETY: no precondition.
    unsafe { ffi::cptrst_task_size() }
}
