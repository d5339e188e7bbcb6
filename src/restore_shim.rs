// SPDX-License-Identifier: GPL-2.0
//! Declarations of the restart side of the C shim (`include/cptrst_restore.h`,
//! `src/cptrst_restore.c`) and their safe wrappers. A child module of
//! [`crate::shim`], so that it shares its opaque types and [`Task`].
//!
//! Functions without a task argument act on the calling task: in the
//! restart code that is the task being restored, inside its own ioctl.

use core::cell::UnsafeCell;
use core::ptr::NonNull;

use kernel::error::{code, Result};

use super::opaque::{file, pid_namespace, task_struct};
use super::PidNs;
use super::{errno_result, Task};

// The memory and file objects the restart code reaches through here
// (their homes: src/mm.rs, src/file.rs, src/wait.rs, src/image_in.rs).
pub(crate) use crate::file::{nofile_max, shmem_create};
pub(crate) use crate::image_in::InFile;
pub(crate) use crate::mm::{copy_to_user, munmap, vdso_is};
pub(crate) use crate::wait::WaitQ;

mod opaque {
    #[repr(C)]
    pub(crate) struct pid {
        _private: [u8; 0],
        _pin: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
    }
}
use opaque::pid;

mod ffi {
    use super::opaque::pid;
    use super::{file, pid_namespace, task_struct};
    extern "C" {
        pub(super) fn cptrst_rst_lock();
        pub(super) fn cptrst_rst_unlock();

        pub(super) fn cptrst_current_get() -> *mut task_struct;
        pub(super) fn cptrst_pid_get_vpid(nr: i32) -> *mut pid;
        pub(super) fn cptrst_pid_put(p: *mut pid);
        pub(super) fn cptrst_pid_task_get(p: *mut pid) -> *mut task_struct;
        pub(super) fn cptrst_task_gone(t: *mut task_struct) -> i32;
        pub(super) fn cptrst_task_get(t: *mut task_struct) -> *mut task_struct;
        pub(super) fn cptrst_task_is_current(t: *mut task_struct) -> i32;
        pub(super) fn cptrst_task_child_of(t: *mut task_struct, parent: *mut task_struct) -> i32;
        pub(super) fn cptrst_task_tgid_vnr(t: *mut task_struct) -> i32;
        pub(super) fn cptrst_task_kill(t: *mut task_struct) -> i32;
        pub(super) fn cptrst_current_kill();
        pub(super) fn cptrst_task_size() -> u64;

        pub(super) fn cptrst_pid_ns_get(p: *mut pid) -> *mut pid_namespace;
        pub(super) fn cptrst_pid_alive(ns: *mut pid_namespace, nr: i32) -> i32;
        pub(super) fn cptrst_current_in_tree_of(root: *mut pid) -> i32;
        pub(super) fn cptrst_task_exit_code(t: *mut task_struct, code: *mut i32) -> i32;
        pub(super) fn cptrst_rst_set_ip_sp(ip: u64, sp: u64);

        pub(super) fn cptrst_rst_close_fds_from(first: u32);
        pub(super) fn cptrst_rst_block_signals(old: *mut u64) -> i32;
        pub(super) fn cptrst_rst_set_sigmask(blocked: u64) -> i32;
        pub(super) fn cptrst_rst_set_regs(regs: *const u64, n: u32) -> i32;
        pub(super) fn cptrst_rst_set_comm(comm: *const u8);
        pub(super) fn cptrst_rst_set_personality(p: u32) -> i32;
        pub(super) fn cptrst_rst_clear_pdeath();
        pub(super) fn cptrst_rst_set_thread_state(ts: *const crate::shim::ThreadState) -> i32;
        pub(super) fn cptrst_rst_queue_ax(pin: *mut file, ax: u64) -> i32;
        pub(super) fn cptrst_rst_fpu_park();
        pub(super) fn cptrst_task_set_xstate(t: *mut task_struct, buf: *const u8, size: u32) -> i32;
    }
}

// ---------------------------------------------------------------------
// Waiting and locking.


/// The global restart lock (a mutex, taken killably). Data of type
/// [`Locked`] is reached only through a `&mut` borrow of the guard.
pub(crate) struct RstGuard(());

impl RstGuard {
    /// Takes the lock (held only for a few loads and stores).
    pub(crate) fn lock() -> RstGuard {
        // SAFETY: no precondition; process context, the lock is not held
        // by the caller (a guard is never kept across a call into here).
        unsafe { ffi::cptrst_rst_lock() };
        RstGuard(())
    }
}

impl Drop for RstGuard {
    fn drop(&mut self) {
        // SAFETY: the guard exists only while the lock is held by this task.
        unsafe { ffi::cptrst_rst_unlock() }
    }
}

/// Data protected by the global restart lock.
pub(crate) struct Locked<T>(UnsafeCell<T>);

// SAFETY: the contents are only reached with the global mutex held (see
// `with`), which serializes every access across tasks.
unsafe impl<T: Send> Sync for Locked<T> {}
// SAFETY: moving the wrapper moves a `T: Send`.
unsafe impl<T: Send> Send for Locked<T> {}

impl<T> Locked<T> {
    /// Wraps `v`.
    pub(crate) const fn new(v: T) -> Self {
        Locked(UnsafeCell::new(v))
    }

    /// Runs `f` on the contents, with the lock held: the `&mut` borrow of
    /// the guard makes every such access exclusive.
    pub(crate) fn with<R>(&self, _g: &mut RstGuard, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: the global mutex is held (a guard exists) and borrowed
        // mutably for the whole call, so no other access to any `Locked`
        // can happen at the same time, on this task or another.
        f(unsafe { &mut *self.0.get() })
    }
}

// ---------------------------------------------------------------------
// Tasks and pids.

// SAFETY: a task reference may be held and dropped from any task.
unsafe impl Send for Task {}
// SAFETY: the methods of `Task` are safe to call concurrently.
unsafe impl Sync for Task {}

impl Task {
    /// The calling task, referenced.
    pub(crate) fn current() -> Task {
        // SAFETY: no precondition; returns `current` with a new reference.
        let t = unsafe { ffi::cptrst_current_get() };
        // INVARIANT: get_task_struct() took the reference.
        Task(NonNull::new(t).unwrap_or(NonNull::dangling()))
    }

    fn raw(&self) -> *mut task_struct {
        self.0.as_ptr()
    }

    /// Another reference to the same task.
    pub(crate) fn clone_ref(&self) -> Task {
        // SAFETY: referenced task; get_task_struct() returns its argument.
        let t = unsafe { ffi::cptrst_task_get(self.raw()) };
        // INVARIANT: a new reference was taken.
        Task(NonNull::new(t).unwrap_or(self.0))
    }

    /// Is it the same task as `other`?
    pub(crate) fn same(&self, other: &Task) -> bool {
        self.0 == other.0
    }

    /// Is it the calling task?
    pub(crate) fn is_current(&self) -> bool {
        // SAFETY: referenced task; compares pointers.
        unsafe { ffi::cptrst_task_is_current(self.raw()) != 0 }
    }

    /// Is it exiting or dead?
    pub(crate) fn gone(&self) -> bool {
        // SAFETY: referenced task.
        unsafe { ffi::cptrst_task_gone(self.raw()) != 0 }
    }

    /// Its thread group id as the caller sees it (0: not visible).
    pub(crate) fn tgid_vnr(&self) -> i32 {
        // SAFETY: referenced task.
        unsafe { ffi::cptrst_task_tgid_vnr(self.raw()) }
    }

    /// Sends its thread group SIGKILL with the caller's rights (kill(2)'s
    /// permission check): `EPERM` for a task the caller may not signal.
    pub(crate) fn kill(&self) -> Result {
        // SAFETY: referenced task; kill_pid() handles exiting tasks.
        errno_result(unsafe { ffi::cptrst_task_kill(self.raw()) })
    }

    /// Sets its xstate from a standard-format XSAVE buffer. Only on a task
    /// parked in its restart call after [`fpu_park`], never the caller.
    pub(crate) fn set_xstate(&self, buf: &[u8]) -> Result {
        let n = u32::try_from(buf.len()).map_err(|_| code::EINVAL)?;
        // SAFETY: referenced task; `buf` readable for `n` bytes. The C side
        // refuses the caller itself; the restart protocol guarantees the
        // task is parked with TIF_NEED_FPU_LOAD set (see restart.rs).
        errno_result(unsafe { ffi::cptrst_task_set_xstate(self.raw(), buf.as_ptr(), n) })
    }
}

/// A referenced `struct pid`.
///
/// # Invariants
/// `self.0` points to a pid on which this value owns one reference.
pub(crate) struct PidRef(NonNull<pid>);

// SAFETY: struct pid is reference counted; put_pid() works from any task.
unsafe impl Send for PidRef {}
// SAFETY: the methods only compare or look up under RCU.
unsafe impl Sync for PidRef {}

impl PidRef {
    /// The pid `nr` of the caller's pid namespace.
    pub(crate) fn from_vpid(nr: i32) -> Option<PidRef> {
        // SAFETY: no precondition; find_get_pid() returns a reference or NULL.
        let p = unsafe { ffi::cptrst_pid_get_vpid(nr) };
        // INVARIANT: the reference comes from find_get_pid().
        NonNull::new(p).map(PidRef)
    }

    /// Is it the same pid as `other`?
    pub(crate) fn same(&self, other: &PidRef) -> bool {
        self.0 == other.0
    }

    /// The pid namespace it was allocated in (the active one of its task).
    pub(crate) fn ns(&self) -> Option<PidNs> {
        // SAFETY: referenced pid; the shim takes a namespace reference.
        let ns = unsafe { ffi::cptrst_pid_ns_get(self.0.as_ptr()) };
        // INVARIANT: get_pid_ns() took the reference `PidNs` owns.
        NonNull::new(ns).map(PidNs)
    }

    /// Is the caller the task with this pid, or in its thread group, or a
    /// descendant of it?
    pub(crate) fn has_current_below(&self) -> bool {
        // SAFETY: referenced pid; the shim walks parents under RCU.
        unsafe { ffi::cptrst_current_in_tree_of(self.0.as_ptr()) != 0 }
    }

    /// The task that has this pid now, referenced.
    pub(crate) fn task(&self) -> Option<Task> {
        // SAFETY: referenced pid; get_pid_task() returns a reference or NULL.
        let t = unsafe { ffi::cptrst_pid_task_get(self.0.as_ptr()) };
        // INVARIANT: the reference comes from get_pid_task().
        NonNull::new(t).map(Task)
    }
}

impl Drop for PidRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference (type invariant).
        unsafe { ffi::cptrst_pid_put(self.0.as_ptr()) }
    }
}

impl Task {
    /// Is it a child of `parent`'s thread group?
    pub(crate) fn child_of(&self, parent: &Task) -> bool {
        // SAFETY: both referenced.
        unsafe { ffi::cptrst_task_child_of(self.raw(), parent.raw()) != 0 }
    }
}

/// Does a live task (neither exiting nor a zombie) have pid `nr` in `ns`?
pub(crate) fn pid_alive(ns: &PidNs, nr: u32) -> bool {
    let Ok(nr) = i32::try_from(nr) else { return false };
    // SAFETY: referenced namespace; the shim looks up under RCU.
    unsafe { ffi::cptrst_pid_alive(ns.0.as_ptr(), nr) != 0 }
}

impl Task {
    /// Its exit code once it is a zombie (None while it lives).
    pub(crate) fn zombie_code(&self) -> Option<i32> {
        let mut code = 0;
        // SAFETY: referenced task; `code` is a writable local.
        let z = unsafe { ffi::cptrst_task_exit_code(self.raw(), &mut code) };
        (z != 0).then_some(code)
    }
}

/// Makes the caller die on its way out of the kernel.
pub(crate) fn current_kill() {
    // SAFETY: no precondition.
    unsafe { ffi::cptrst_current_kill() }
}

/// The end of user space for the caller (`TASK_SIZE`).
pub(crate) fn task_size() -> u64 {
    // SAFETY: no precondition.
    unsafe { ffi::cptrst_task_size() }
}

// ---------------------------------------------------------------------
// The caller's address space.

/// Where the caller returns to user space: `ip`, on stack `sp`.
pub(crate) fn set_ip_sp(ip: u64, sp: u64) {
    // SAFETY: no precondition; only the caller's saved user registers change.
    unsafe { ffi::cptrst_rst_set_ip_sp(ip, sp) }
}

/// The `/dev/cptrst` file of the running ioctl.
///
/// # Invariants
/// `self.0` is the file the ioctl runs on; the ioctl path holds it for the
/// whole call, and a `DevFile` never outlives the call.
pub(crate) struct DevFile(NonNull<file>);

impl DevFile {
    /// # Safety
    /// `f` must be the `struct file` of the ioctl being served, and the
    /// value must not outlive that ioctl.
    pub(crate) unsafe fn from_raw(f: *mut core::ffi::c_void) -> Option<DevFile> {
        NonNull::new(f.cast::<file>()).map(DevFile)
    }

    pub(crate) fn as_ptr(&self) -> *mut file {
        self.0.as_ptr()
    }
}

// ---------------------------------------------------------------------
// The caller's task state.

/// Installs the ioctl's `/dev/cptrst` file as a new close-on-exec fd of the caller.
pub(crate) fn install_fd(dev: &DevFile) -> Result<i32> {
    // SAFETY: the ioctl's file, referenced by the ioctl for the whole call
    // (type invariant of `DevFile`).
    unsafe { crate::file::install_raw(dev.as_ptr().cast()) }
}

/// Closes every fd of the caller from `first` on.
pub(crate) fn close_fds_from(first: u32) {
    // SAFETY: no precondition.
    unsafe { ffi::cptrst_rst_close_fds_from(first) }
}

/// Blocks every blockable signal of the caller.
pub(crate) fn block_signals() -> Result {
    let mut old = 0u64;
    // SAFETY: `old` is a writable local.
    errno_result(unsafe { ffi::cptrst_rst_block_signals(&mut old) })
}

/// Sets the caller's blocked-signal mask (SIGKILL and SIGSTOP stay unblocked).
pub(crate) fn set_sigmask(blocked: u64) -> Result {
    // SAFETY: no precondition.
    errno_result(unsafe { ffi::cptrst_rst_set_sigmask(blocked) })
}

/// Writes the caller's saved user registers (user_regs_struct order).
pub(crate) fn set_regs(regs: &[u64; 27]) -> Result {
    // SAFETY: `regs` is readable for 27 words.
    errno_result(unsafe { ffi::cptrst_rst_set_regs(regs.as_ptr(), 27) })
}

/// Sets the caller's command name.
pub(crate) fn set_comm(comm: &[u8; 16]) {
    // SAFETY: `comm` is 16 readable bytes (TASK_COMM_LEN).
    unsafe { ffi::cptrst_rst_set_comm(comm.as_ptr()) }
}

/// Sets the caller's personality.
pub(crate) fn set_personality(p: u32) -> Result {
    // SAFETY: no precondition.
    errno_result(unsafe { ffi::cptrst_rst_set_personality(p) })
}

/// Sets the caller's clear-child-tid address, robust list and rseq area.
pub(crate) fn set_thread_state(ts: &crate::shim::ThreadState) -> Result {
    // SAFETY: `ts` is readable, of the C layout.
    errno_result(unsafe { ffi::cptrst_rst_set_thread_state(ts) })
}

/// Clears the caller's parent-death signal.
pub(crate) fn clear_pdeath() {
    // SAFETY: no precondition.
    unsafe { ffi::cptrst_rst_clear_pdeath() }
}

/// Queues the task work that sets the caller's rax to `ax` once the ioctl
/// has returned. `pin` (the /dev/cptrst file of the ioctl) keeps the module
/// loaded until the work has run.
pub(crate) fn queue_ax(pin: &DevFile, ax: u64) -> Result {
    // SAFETY: `pin` is the file of the running ioctl, referenced by the
    // caller of the ioctl for the whole call; the shim takes its own.
    errno_result(unsafe { ffi::cptrst_rst_queue_ax(pin.as_ptr(), ax) })
}

/// Saves the caller's live FPU registers and marks them to be reloaded on
/// the way to user space, so that another task may set its xstate.
pub(crate) fn fpu_park() {
    // SAFETY: no precondition; process context, no FPU use in between.
    unsafe { ffi::cptrst_rst_fpu_park() }
}
