// SPDX-License-Identifier: GPL-2.0
//! Declarations of the C shim (`include/cptrst_shim.h`, `src/cptrst_shim.c`)
//! for tasks, pid namespaces, the misc device and eclone.
//!
//! Only thin safe wrappers leave this file; every `unsafe` call into C for
//! those objects is here, next to the contract that makes it sound. The
//! memory and file objects have their own files: `mm.rs`, `file.rs`,
//! `crc.rs`, `wait.rs`, `image_in.rs`, `image_out.rs`.

use kernel::error::{to_result, Result};

#[path = "restore_shim.rs"]
pub(crate) mod rst;

mod ffi {
    extern "C" {
        pub(super) fn cptrst_misc_register() -> core::ffi::c_int;
        pub(super) fn cptrst_misc_deregister();
    }
}

/// Registers `/dev/cptrst`.
///
/// # Errors
/// Whatever `misc_register` returns (`EBUSY` if the name is taken, `ENOMEM`).
pub(crate) fn misc_register() -> Result {
    // SAFETY: called once from module init, process context; the C side only
    // touches its own static miscdevice.
    to_result(unsafe { ffi::cptrst_misc_register() })
}

/// Removes `/dev/cptrst`. Only after a successful [`misc_register`].
pub(crate) fn misc_deregister() {
    // SAFETY: called from module exit after a successful registration; no file
    // can be open (each open file holds a module reference), so no ioctl runs.
    unsafe { ffi::cptrst_misc_deregister() }
}

// ---------------------------------------------------------------------
// Dump side.

/// Pid-namespace levels a task can have (`MAX_PID_NS_LEVEL`).
pub(crate) const MAX_LEVELS: usize = 32;

/// `struct cptrst_task_info`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct TaskInfo {
    pub(crate) pids: [i32; MAX_LEVELS],
    pub(crate) nr_levels: u32,
    pub(crate) tgid: i32,
    pub(crate) ppid: i32,
    pub(crate) pgid: i32,
    pub(crate) sid: i32,
    pub(crate) exit_code: i32,
    pub(crate) exit_state: u32,
    pub(crate) flags: u32,
    pub(crate) personality: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) euid: u32,
    pub(crate) egid: u32,
    pub(crate) suid: u32,
    pub(crate) sgid: u32,
    pub(crate) fsuid: u32,
    pub(crate) fsgid: u32,
    pub(crate) exit_signal: i32,
    pub(crate) blocked: u64,
    pub(crate) comm: [u8; 16],
}
const _: () = assert!(core::mem::size_of::<TaskInfo>() == 4 * MAX_LEVELS + 4 * 18 + 8 + 16);

/// `cptrst_task_info.flags`: thread group leader.
pub(crate) const TI_LEADER: u32 = 1 << 0;

/// `struct cptrst_thread_state`: what a task registered with the kernel
/// for its thread library.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct ThreadState {
    pub(crate) clear_child_tid: u64,
    pub(crate) robust_list: u64,
    pub(crate) robust_list_len: u64,
    pub(crate) rseq: u64,
    pub(crate) rseq_len: u32,
    pub(crate) rseq_sig: u32,
}
const _: () = assert!(core::mem::size_of::<ThreadState>() == 40);

/// Opaque C objects: Rust only ever holds pointers to them.
mod opaque {
    macro_rules! opaque {
        ($($name:ident),*) => {$(
            #[repr(C)]
            pub(crate) struct $name {
                _private: [u8; 0],
                _pin: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
            }
        )*};
    }
    opaque!(task_struct, pid_namespace, file);
}

mod dump_ffi {
    use super::opaque::{pid_namespace, task_struct};
    use super::TaskInfo;
    extern "C" {
        pub(super) fn cptrst_task_check_dump(t: *mut task_struct) -> i32;
        pub(super) fn cptrst_task_get_by_vpid(nr: i32) -> *mut task_struct;
        pub(super) fn cptrst_task_put(t: *mut task_struct);
        pub(super) fn cptrst_task_pidns_get(t: *mut task_struct) -> *mut pid_namespace;
        pub(super) fn cptrst_pidns_put(ns: *mut pid_namespace);
        pub(super) fn cptrst_tree_collect(root: *mut task_struct, out: *mut *mut task_struct, max: u32) -> i32;
        pub(super) fn cptrst_task_info(t: *mut task_struct, ns: *mut pid_namespace, out: *mut TaskInfo) -> i32;
        pub(super) fn cptrst_task_regs(t: *mut task_struct, buf: *mut u8, size: u32) -> i32;
        pub(super) fn cptrst_xstate_size() -> u32;
        pub(super) fn cptrst_task_xstate(t: *mut task_struct, buf: *mut u8, size: u32) -> i32;
        pub(super) fn cptrst_task_fds(t: *mut task_struct, fds: *mut u32, kinds: *mut u32, max: u32) -> i32;
        pub(super) fn cptrst_task_thread_state(t: *mut task_struct, out: *mut super::ThreadState);
        pub(super) fn cptrst_signal_pending() -> i32;
        pub(super) fn cptrst_xfeatures() -> u64;
        pub(super) fn cptrst_kernel_release(buf: *mut u8, size: u32);
    }
}

use core::ptr::NonNull;
use kernel::error::{code, Error};
use kernel::prelude::*;
use kernel::types::ARef;

use crate::mm::MmWithUser;

// The memory and file objects, which live in their own files now.
pub(crate) use crate::file::file_kind;
pub(crate) use crate::image_out::OutFile;

fn errno_result(r: i32) -> Result {
    if r < 0 {
        Err(Error::from_errno(r))
    } else {
        Ok(())
    }
}

/// A task with a reference held.
///
/// # Invariants
/// `self.0` points to a `task_struct` on which this value owns one reference.
#[repr(transparent)]
pub(crate) struct Task(NonNull<opaque::task_struct>);

impl Task {
    /// The task with thread id `nr` in the caller's pid namespace.
    pub(crate) fn from_vpid(nr: i32) -> Option<Task> {
        // SAFETY: no precondition; returns a referenced task or NULL.
        let p = unsafe { dump_ffi::cptrst_task_get_by_vpid(nr) };
        // INVARIANT: the shim took a reference for us.
        NonNull::new(p).map(Task)
    }

    fn ptr(&self) -> *mut opaque::task_struct {
        self.0.as_ptr()
    }

    /// May the caller dump this task, and is it stopped by the caller?
    ///
    /// # Errors
    /// `EPERM` (kernel thread, not ptrace-able by the caller), `EBUSY` (not
    /// ptrace-stopped by the caller, or still on its CPU).
    pub(crate) fn check_dump(&self) -> Result {
        // SAFETY: `self` holds a reference on the task (type invariant).
        errno_result(unsafe { dump_ffi::cptrst_task_check_dump(self.ptr()) })
    }

    /// The task's active pid namespace, referenced.
    pub(crate) fn pidns(&self) -> Option<PidNs> {
        // SAFETY: `self` holds a reference on the task.
        let ns = unsafe { dump_ffi::cptrst_task_pidns_get(self.ptr()) };
        // INVARIANT: the shim took a reference on the namespace.
        NonNull::new(ns).map(PidNs)
    }

    /// Ids, state and credentials of the task, as seen from `ns`.
    pub(crate) fn info(&self, ns: &PidNs) -> Result<TaskInfo> {
        let mut out = core::mem::MaybeUninit::<TaskInfo>::uninit();
        // SAFETY: both pointers are referenced objects; `out` is writable
        // and the shim fills all of it (memset first) before returning 0.
        errno_result(unsafe { dump_ffi::cptrst_task_info(self.ptr(), ns.0.as_ptr(), out.as_mut_ptr()) })?;
        // SAFETY: initialized by the successful call above.
        Ok(unsafe { out.assume_init() })
    }

    /// The general registers (`struct user_regs_struct`).
    pub(crate) fn regs(&self, buf: &mut [u8; 216]) -> Result {
        // SAFETY: `buf` is writable for its whole length, given as the size.
        errno_result(unsafe { dump_ffi::cptrst_task_regs(self.ptr(), buf.as_mut_ptr(), buf.len() as u32) })
    }

    /// The xstate in user-ABI XSAVE format; `buf.len()` must be [`xstate_size`].
    pub(crate) fn xstate(&self, buf: &mut [u8]) -> Result {
        let len = u32::try_from(buf.len()).map_err(|_| code::EINVAL)?;
        // SAFETY: `buf` is writable for `len` bytes.
        errno_result(unsafe { dump_ffi::cptrst_task_xstate(self.ptr(), buf.as_mut_ptr(), len) })
    }

    /// The task's open fds in ascending order into `fds`, their kinds
    /// ([`file_kind`]) into `kinds`. Returns how many: at most
    /// `min(fds.len(), kinds.len())`; 0 for a task without files (exiting).
    ///
    /// # Errors
    /// `E2BIG` if the task has more fds than that; `EINTR` if the caller is
    /// being killed.
    pub(crate) fn fds(&self, fds: &mut [u32], kinds: &mut [u32]) -> Result<usize> {
        let max = fds.len().min(kinds.len());
        let max32 = u32::try_from(max).map_err(|_| code::EINVAL)?;
        // SAFETY: `self` holds a reference on the task (type invariant);
        // `fds` and `kinds` are writable for at least `max` entries each, and
        // the shim writes at most `max` of each.
        let n = unsafe { dump_ffi::cptrst_task_fds(self.ptr(), fds.as_mut_ptr(), kinds.as_mut_ptr(), max32) };
        errno_result(n)?;
        // The shim gave each fd's i_mode: its kind is decided in file.rs.
        let n = (n as usize).min(max);
        for k in kinds.iter_mut().take(n) {
            *k = crate::file::kind_of_mode(*k);
        }
        Ok(n)
    }

    /// Its per-thread state registered with the kernel (clear-child-tid,
    /// robust list, rseq).
    pub(crate) fn thread_state(&self) -> ThreadState {
        let mut ts = ThreadState::default();
        // SAFETY: `self` holds a reference on the task; `ts` is a writable
        // local of the C layout.
        unsafe { dump_ffi::cptrst_task_thread_state(self.ptr(), &mut ts) };
        ts
    }

    /// The task's mm, referenced (None for a zombie or a kernel thread).
    pub(crate) fn mm(&self) -> Option<ARef<MmWithUser>> {
        // SAFETY: `self` holds a reference on the task.
        unsafe { MmWithUser::of_task(self.ptr().cast()) }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // SAFETY: we own one reference (type invariant).
        unsafe { dump_ffi::cptrst_task_put(self.ptr()) }
    }
}

/// Every thread of `root`'s thread group and its descendants, referenced, in
/// ascending pid order. At most `max`.
///
/// # Errors
/// `E2BIG` past `max` tasks; `EINVAL` if the caller is in the tree; `ENOMEM`.
pub(crate) fn collect_tree(root: &Task, max: usize) -> Result<KVec<Task>> {
    let mut tasks: KVec<Task> = KVec::with_capacity(max, GFP_KERNEL)?;
    let max32 = u32::try_from(max).map_err(|_| code::EINVAL)?;
    // SAFETY: `Task` is `repr(transparent)` over a non-null task pointer, and
    // `tasks` has room for `max` of them; the shim writes at most `max`
    // non-null, referenced task pointers and returns their count.
    let n = unsafe {
        dump_ffi::cptrst_tree_collect(root.ptr(), tasks.as_mut_ptr().cast::<*mut opaque::task_struct>(), max32)
    };
    errno_result(n)?;
    // SAFETY: the first `n <= max` entries were initialized by the shim;
    // INVARIANT: each carries a reference now owned by its `Task`.
    unsafe { tasks.set_len((n as usize).min(max)) };
    Ok(tasks)
}

/// Size of the user-ABI XSAVE area on this machine (0: no XSAVE).
pub(crate) fn xstate_size() -> usize {
    // SAFETY: no precondition.
    unsafe { dump_ffi::cptrst_xstate_size() as usize }
}

/// XCR0: the xstate features enabled for user space.
pub(crate) fn xfeatures() -> u64 {
    // SAFETY: no precondition.
    unsafe { dump_ffi::cptrst_xfeatures() }
}

/// `utsname()->release`, NUL-padded.
pub(crate) fn kernel_release() -> [u8; 64] {
    let mut b = [0u8; 64];
    // SAFETY: `b` is 64 writable bytes.
    unsafe { dump_ffi::cptrst_kernel_release(b.as_mut_ptr(), b.len() as u32) };
    b
}

/// Has the calling task a signal pending?
pub(crate) fn signal_pending() -> bool {
    // SAFETY: no precondition.
    unsafe { dump_ffi::cptrst_signal_pending() != 0 }
}

/// A referenced pid namespace.
///
/// # Invariants
/// `self.0` points to a `pid_namespace` on which we own one reference.
pub(crate) struct PidNs(NonNull<opaque::pid_namespace>);

impl Drop for PidNs {
    fn drop(&mut self) {
        // SAFETY: we own one reference (type invariant).
        unsafe { dump_ffi::cptrst_pidns_put(self.0.as_ptr()) }
    }
}

// ---------------------------------------------------------------------
// eclone.

mod eclone_ffi {
    extern "C" {
        pub(super) fn cptrst_eclone_check_ns(flags: u32, pids: *const i32, nr: u32) -> i32;
    }
}

/// Checks the chosen `pids` (outermost namespace first) against the
/// caller's pid namespaces for a clone with `flags`.
///
/// # Errors
/// `EINVAL` (more levels than namespaces, a pid other than 1 without an
/// init), `EPERM` (no `CAP_CHECKPOINT_RESTORE`/`CAP_SYS_ADMIN` over a
/// namespace), `EEXIST` (a pid is in use).
pub(crate) fn eclone_check_ns(flags: u32, pids: &[i32]) -> Result {
    let nr = u32::try_from(pids.len()).map_err(|_| code::EINVAL)?;
    // SAFETY: `pids` is readable for `nr` entries; the shim only reads it.
    errno_result(unsafe { eclone_ffi::cptrst_eclone_check_ns(flags, pids.as_ptr(), nr) })
}
