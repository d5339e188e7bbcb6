// SPDX-License-Identifier: GPL-2.0
//! Pids and pid namespaces: [`Pid`] (a `struct pid`) and [`PidNamespace`]
//! (a `struct pid_namespace`), both reference counted and held as `ARef`,
//! shaped like the kernel crate's later `pid_namespace.rs` (6.13+), which
//! would replace [`PidNamespace`]. Bindings where 6.12 exports them; the
//! inline `get_pid()`/`get_pid_ns()` and the RCU walks in
//! `src/cptrst_task.c`.

use core::ptr::NonNull;

use kernel::bindings;
use kernel::types::{ARef, AlwaysRefCounted, Opaque};

use crate::task::{Task, TaskExt};

// Kernel structs by pointer only (see task.rs).
#[allow(improper_ctypes)]
mod ffi {
    use super::bindings;
    extern "C" {
        pub(super) fn cptrst_pid_get(pid: *mut bindings::pid);
        pub(super) fn cptrst_pidns_get(ns: *mut bindings::pid_namespace);
        pub(super) fn cptrst_task_pidns_get(
            t: *mut bindings::task_struct,
        ) -> *mut bindings::pid_namespace;
        pub(super) fn cptrst_pid_ns_get(pid: *mut bindings::pid) -> *mut bindings::pid_namespace;
        pub(super) fn cptrst_pid_alive(ns: *mut bindings::pid_namespace, nr: i32) -> i32;
        pub(super) fn cptrst_current_in_tree_of(root: *mut bindings::pid) -> i32;
        // Exported (kernel/pid_namespace.c), not in 6.12's bindings.
        pub(super) fn put_pid_ns(ns: *mut bindings::pid_namespace);
    }
}

/// A `struct pid`.
///
/// # Invariants
/// Instances exist only behind references to pids with a nonzero count
/// (an `ARef<Pid>` owns one).
#[repr(transparent)]
pub(crate) struct Pid(Opaque<bindings::pid>);

// SAFETY: a pid is reference counted; put_pid() works from any task.
unsafe impl Send for Pid {}
// SAFETY: the methods only compare, or look up under RCU.
unsafe impl Sync for Pid {}

// SAFETY: get_pid()/put_pid() keep the object alive while the count is
// nonzero (type invariant).
unsafe impl AlwaysRefCounted for Pid {
    fn inc_ref(&self) {
        // SAFETY: a shared reference means the count is nonzero.
        unsafe { ffi::cptrst_pid_get(self.0.get()) }
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives up one reference it owns.
        unsafe { bindings::put_pid(obj.cast().as_ptr()) }
    }
}

/// Takes over a reference the kernel returned (NULL: none).
///
/// # Safety
/// `p` is NULL or carries one reference the caller gives up.
unsafe fn pid_from_raw(p: *mut bindings::pid) -> Option<ARef<Pid>> {
    // SAFETY: `Pid` is transparent over `struct pid`; the caller's
    // reference passes to the `ARef`.
    NonNull::new(p.cast::<Pid>()).map(|p| unsafe { ARef::from_raw(p) })
}

impl Pid {
    /// The `struct pid`.
    pub(crate) fn as_raw(&self) -> *mut bindings::pid {
        self.0.get()
    }

    /// The pid `nr` of the caller's pid namespace.
    pub(crate) fn find_vpid(nr: i32) -> Option<ARef<Pid>> {
        if nr <= 0 {
            return None;
        }
        // SAFETY: no precondition; find_get_pid() returns a reference or NULL.
        unsafe { pid_from_raw(bindings::find_get_pid(nr)) }
    }

    /// The pid of `t`'s thread group (None once `t` is reaped).
    pub(crate) fn of_task_group(t: &Task) -> Option<ARef<Pid>> {
        // SAFETY: a live task; get_task_pid() returns a reference or NULL.
        unsafe {
            pid_from_raw(bindings::get_task_pid(
                t.as_raw(),
                bindings::pid_type_PIDTYPE_TGID,
            ))
        }
    }

    /// Is it the same pid as `other`?
    pub(crate) fn same(&self, other: &Pid) -> bool {
        core::ptr::eq(self, other)
    }

    /// The task that has this pid now.
    pub(crate) fn task(&self) -> Option<ARef<Task>> {
        // SAFETY: a live pid; get_pid_task() returns a reference or NULL.
        let t = unsafe { bindings::get_pid_task(self.as_raw(), bindings::pid_type_PIDTYPE_PID) };
        // SAFETY: that reference passes to the `ARef`; `Task` is
        // transparent over `task_struct`.
        NonNull::new(t.cast::<Task>()).map(|t| unsafe { ARef::from_raw(t) })
    }

    /// The pid namespace it was allocated in (the active one of its task).
    pub(crate) fn ns(&self) -> Option<ARef<PidNamespace>> {
        // SAFETY: a live pid; the shim takes a namespace reference.
        unsafe { PidNamespace::from_raw(ffi::cptrst_pid_ns_get(self.as_raw())) }
    }

    /// Is the caller the task with this pid, in its thread group, or a
    /// descendant of it?
    pub(crate) fn has_current_below(&self) -> bool {
        // SAFETY: a live pid; the shim walks the parents under RCU.
        unsafe { ffi::cptrst_current_in_tree_of(self.as_raw()) != 0 }
    }
}

/// A `struct pid_namespace`.
///
/// # Invariants
/// Instances exist only behind references to namespaces with a nonzero
/// count (an `ARef<PidNamespace>` owns one).
#[repr(transparent)]
pub(crate) struct PidNamespace(Opaque<bindings::pid_namespace>);

// SAFETY: reference counted; put_pid_ns() works from any task.
unsafe impl Send for PidNamespace {}
// SAFETY: the methods only look up under RCU.
unsafe impl Sync for PidNamespace {}

// SAFETY: get_pid_ns()/put_pid_ns() keep it alive while the count is
// nonzero (type invariant).
unsafe impl AlwaysRefCounted for PidNamespace {
    fn inc_ref(&self) {
        // SAFETY: a shared reference means the count is nonzero.
        unsafe { ffi::cptrst_pidns_get(self.0.get()) }
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives up one reference it owns.
        unsafe { ffi::put_pid_ns(obj.cast().as_ptr()) }
    }
}

impl PidNamespace {
    /// # Safety
    /// `ns` is NULL or carries one reference the caller gives up.
    unsafe fn from_raw(ns: *mut bindings::pid_namespace) -> Option<ARef<PidNamespace>> {
        // SAFETY: transparent over the C struct; the reference passes on.
        NonNull::new(ns.cast::<PidNamespace>()).map(|ns| unsafe { ARef::from_raw(ns) })
    }

    /// The `struct pid_namespace`.
    pub(crate) fn as_raw(&self) -> *mut bindings::pid_namespace {
        self.0.get()
    }

    /// `t`'s active pid namespace (None once `t` is reaped).
    pub(crate) fn of_task(t: &Task) -> Option<ARef<PidNamespace>> {
        // SAFETY: a live task; the shim returns a new reference or NULL.
        unsafe { Self::from_raw(ffi::cptrst_task_pidns_get(t.as_raw())) }
    }

    /// Does a live task (neither exiting nor a zombie) have pid `nr` here?
    pub(crate) fn pid_alive(&self, nr: u32) -> bool {
        let Ok(nr) = i32::try_from(nr) else {
            return false;
        };
        // SAFETY: a live namespace; the shim looks up under RCU.
        unsafe { ffi::cptrst_pid_alive(self.as_raw(), nr) != 0 }
    }
}
