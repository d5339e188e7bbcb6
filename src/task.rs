// SPDX-License-Identifier: GPL-2.0
//! Tasks: 6.12's [`kernel::task::Task`] (held as `ARef<Task>`) and
//! [`TaskExt`], the one extension trait for what 6.12's `Task` lacks (a
//! newer kernel crate makes most of it redundant); the calling task as a
//! proof value ([`CurrentTask`]) with its actions; the FPU-parked proof
//! ([`FpuParked`]); the validated general registers ([`UserRegs`]) and the
//! one definition of their indices ([`reg`]); the structs shared with
//! `src/cptrst_task.c` ([`TaskInfo`], [`ThreadState`]) and the fd-table
//! and fs-context walk of the checkpoint ([`TaskCtx`], [`TaskPaths`],
//! [`TaskExt::next_fd`]), offsets asserted.
//!
//! The C functions (include/cptrst_abi.h, "task objects") return facts or
//! write what Rust validated; the decisions are here and in `cred.rs`,
//! `signal.rs`, `pid.rs`.

use core::marker::PhantomData;
use core::mem::offset_of;
use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{code, to_result, Result};
use kernel::prelude::*;
pub(crate) use kernel::task::Task;

use crate::image::regs;
use kernel::types::ARef;

use crate::cred::{Creds, DumpFacts};
use crate::file::{DevFile, File};
use crate::pid::{Pid, PidNamespace};

/// Pid-namespace levels a task can have (`MAX_PID_NS_LEVEL`).
pub(crate) const MAX_LEVELS: usize = 32;

/// `struct cptrst_task_info`: what the dump needs of one task, ids as seen
/// from the tree's pid namespace.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct TaskInfo {
    /// `[0]`: the tree's namespace, then the deeper ones.
    pub(crate) pids: [i32; MAX_LEVELS],
    pub(crate) nr_levels: u32,
    pub(crate) tgid: i32,
    /// The real parent's tgid, 0 if not visible.
    pub(crate) ppid: i32,
    pub(crate) pgid: i32,
    pub(crate) sid: i32,
    pub(crate) exit_code: i32,
    /// `EXIT_ZOMBIE`, `EXIT_DEAD` or 0.
    pub(crate) exit_state: u32,
    /// `TI_*`.
    pub(crate) flags: u32,
    pub(crate) personality: u32,
    pub(crate) cred: Creds,
    /// Signal to the parent at exit, -1 for threads.
    pub(crate) exit_signal: i32,
    pub(crate) blocked: u64,
    pub(crate) comm: [u8; 16],
}
const _: () = assert!(offset_of!(TaskInfo, pids) == 0);
const _: () = assert!(offset_of!(TaskInfo, nr_levels) == 128);
const _: () = assert!(offset_of!(TaskInfo, tgid) == 132);
const _: () = assert!(offset_of!(TaskInfo, ppid) == 136);
const _: () = assert!(offset_of!(TaskInfo, pgid) == 140);
const _: () = assert!(offset_of!(TaskInfo, sid) == 144);
const _: () = assert!(offset_of!(TaskInfo, exit_code) == 148);
const _: () = assert!(offset_of!(TaskInfo, exit_state) == 152);
const _: () = assert!(offset_of!(TaskInfo, flags) == 156);
const _: () = assert!(offset_of!(TaskInfo, personality) == 160);
const _: () = assert!(offset_of!(TaskInfo, cred) == 164);
const _: () = assert!(offset_of!(TaskInfo, exit_signal) == 196);
const _: () = assert!(offset_of!(TaskInfo, blocked) == 200);
const _: () = assert!(offset_of!(TaskInfo, comm) == 208);
const _: () = assert!(core::mem::size_of::<TaskInfo>() == 224);

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
const _: () = assert!(offset_of!(ThreadState, clear_child_tid) == 0);
const _: () = assert!(offset_of!(ThreadState, robust_list) == 8);
const _: () = assert!(offset_of!(ThreadState, robust_list_len) == 16);
const _: () = assert!(offset_of!(ThreadState, rseq) == 24);
const _: () = assert!(offset_of!(ThreadState, rseq_len) == 32);
const _: () = assert!(offset_of!(ThreadState, rseq_sig) == 36);
const _: () = assert!(core::mem::size_of::<ThreadState>() == 40);

/// `struct cptrst_task_ctx`: a task's fd table and fs context as opaque
/// ids (compared, never followed), their counts, its umask.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct TaskCtx {
    /// `files_struct` id, 0 for none.
    pub(crate) files: u64,
    /// `fs_struct` id, 0 for none.
    pub(crate) fs: u64,
    /// Tasks sharing the fd table (`files->count`).
    pub(crate) files_users: u32,
    /// Tasks sharing the fs context (`fs->users`).
    pub(crate) fs_users: u32,
    pub(crate) umask: u32,
    pub(crate) pad: u32,
}
const _: () = assert!(offset_of!(TaskCtx, files) == 0);
const _: () = assert!(offset_of!(TaskCtx, fs) == 8);
const _: () = assert!(offset_of!(TaskCtx, files_users) == 16);
const _: () = assert!(offset_of!(TaskCtx, fs_users) == 20);
const _: () = assert!(offset_of!(TaskCtx, umask) == 24);
const _: () = assert!(offset_of!(TaskCtx, pad) == 28);
const _: () = assert!(core::mem::size_of::<TaskCtx>() == 32);

/// `struct cptrst_task_paths`: the lengths of a task's root and cwd paths
/// and whether each is unlinked.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct TaskPaths {
    pub(crate) root_len: u32,
    pub(crate) cwd_len: u32,
    pub(crate) root_unlinked: u32,
    pub(crate) cwd_unlinked: u32,
}
const _: () = assert!(offset_of!(TaskPaths, root_len) == 0);
const _: () = assert!(offset_of!(TaskPaths, cwd_len) == 4);
const _: () = assert!(offset_of!(TaskPaths, root_unlinked) == 8);
const _: () = assert!(offset_of!(TaskPaths, cwd_unlinked) == 12);
const _: () = assert!(core::mem::size_of::<TaskPaths>() == 16);

/// `sizeof(struct robust_list_head)` (asserted in `cptrst_task.c`).
const ROBUST_LIST_HEAD_LEN: u64 = 24;
/// `__alignof__(struct rseq)`.
const RSEQ_ALIGN: u64 = 32;
/// `ORIG_RSEQ_SIZE`: the first rseq ABI's size, the least a task registers.
const ORIG_RSEQ_LEN: u32 = 32;

impl ThreadState {
    /// Can the calling task take it, with user space ending at `top`?
    fn check(&self, top: u64) -> Result {
        if self.clear_child_tid >= top || self.robust_list >= top || self.rseq >= top {
            return Err(code::EINVAL);
        }
        if self.robust_list != 0 && self.robust_list_len != ROBUST_LIST_HEAD_LEN {
            return Err(code::EINVAL);
        }
        if self.rseq != 0 {
            if !cfg!(CONFIG_RSEQ) {
                return Err(crate::error::eopnotsupp());
            }
            if self.rseq % RSEQ_ALIGN != 0 || self.rseq_len < ORIG_RSEQ_LEN {
                return Err(code::EINVAL);
            }
        }
        Ok(())
    }
}

// The image's register layout (`image::regs`) is this kernel's
// `struct user_regs_struct`, field by field.
const _: () = {
    use core::mem::{offset_of, size_of};
    use kernel::bindings::user_regs_struct as U;
    assert!(size_of::<U>() == regs::COUNT * 8);
    assert!(offset_of!(U, r15) == regs::R15 * 8);
    assert!(offset_of!(U, r14) == regs::R14 * 8);
    assert!(offset_of!(U, r13) == regs::R13 * 8);
    assert!(offset_of!(U, r12) == regs::R12 * 8);
    assert!(offset_of!(U, bp) == regs::BP * 8);
    assert!(offset_of!(U, bx) == regs::BX * 8);
    assert!(offset_of!(U, r11) == regs::R11 * 8);
    assert!(offset_of!(U, r10) == regs::R10 * 8);
    assert!(offset_of!(U, r9) == regs::R9 * 8);
    assert!(offset_of!(U, r8) == regs::R8 * 8);
    assert!(offset_of!(U, ax) == regs::AX * 8);
    assert!(offset_of!(U, cx) == regs::CX * 8);
    assert!(offset_of!(U, dx) == regs::DX * 8);
    assert!(offset_of!(U, si) == regs::SI * 8);
    assert!(offset_of!(U, di) == regs::DI * 8);
    assert!(offset_of!(U, orig_ax) == regs::ORIG_AX * 8);
    assert!(offset_of!(U, ip) == regs::IP * 8);
    assert!(offset_of!(U, cs) == regs::CS * 8);
    assert!(offset_of!(U, flags) == regs::FLAGS * 8);
    assert!(offset_of!(U, sp) == regs::SP * 8);
    assert!(offset_of!(U, ss) == regs::SS * 8);
    assert!(offset_of!(U, fs_base) == regs::FS_BASE * 8);
    assert!(offset_of!(U, gs_base) == regs::GS_BASE * 8);
    assert!(offset_of!(U, ds) == regs::DS * 8);
    assert!(offset_of!(U, es) == regs::ES * 8);
    assert!(offset_of!(U, fs) == regs::FS * 8);
    assert!(offset_of!(U, gs) == regs::GS * 8);
};

/// The 64-bit user code selector (`__USER_CS`).
pub(crate) const USER_CS: u64 = 0x33;
/// The 64-bit user stack selector (`__USER_DS`).
pub(crate) const USER_DS: u64 = 0x2b;

/// Why [`UserRegs::new`] refused registers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RegsError {
    /// Not a 64-bit user context: these cs and ss.
    NotUser64 { cs: u64, ss: u64 },
    /// ip, sp or an fs/gs base outside user space.
    OutsideUser,
}

/// General registers (`user_regs_struct` order) fit for a 64-bit user
/// context: the only thing [`CurrentTask::set_regs`] takes.
///
/// # Invariants
/// cs and ss are [`USER_CS`] and [`USER_DS`]; ip, sp and the fs/gs bases
/// are below the user-space limit given to [`UserRegs::new`].
#[derive(Clone, Copy)]
pub(crate) struct UserRegs([u64; regs::COUNT]);

impl UserRegs {
    /// Checks `a` against user space ending at `top` (`TASK_SIZE`).
    pub(crate) fn new(a: [u64; regs::COUNT], top: u64) -> Result<UserRegs, RegsError> {
        if a[regs::CS] != USER_CS || a[regs::SS] != USER_DS {
            return Err(RegsError::NotUser64 {
                cs: a[regs::CS],
                ss: a[regs::SS],
            });
        }
        if [regs::IP, regs::SP, regs::FS_BASE, regs::GS_BASE]
            .iter()
            .any(|&r| a[r] >= top)
        {
            return Err(RegsError::OutsideUser);
        }
        // INVARIANT: both checked above.
        Ok(UserRegs(a))
    }

    /// The registers.
    pub(crate) fn get(&self) -> &[u64; regs::COUNT] {
        &self.0
    }
}

// The bindings' kernel structs are passed by pointer only; bindgen gives
// some of their members no fields, hence the lint (as in the bindings crate).
#[allow(improper_ctypes)]
mod ffi {
    use super::{bindings, TaskCtx, TaskInfo, TaskPaths, ThreadState};
    use crate::cred::DumpFacts;
    extern "C" {
        pub(super) fn cptrst_tree_collect(
            root: *mut bindings::task_struct,
            out: *mut *mut bindings::task_struct,
            max: u32,
            caller_inside: *mut u32,
        ) -> i32;
        pub(super) fn cptrst_task_dump_facts(t: *mut bindings::task_struct, out: *mut DumpFacts);
        pub(super) fn cptrst_task_info(
            t: *mut bindings::task_struct,
            ns: *mut bindings::pid_namespace,
            out: *mut TaskInfo,
        ) -> i32;
        pub(super) fn cptrst_task_child_of(
            t: *mut bindings::task_struct,
            parent: *mut bindings::task_struct,
        ) -> i32;
        pub(super) fn cptrst_task_thread_state(
            t: *mut bindings::task_struct,
            out: *mut ThreadState,
        );
        pub(super) fn cptrst_task_regs(
            t: *mut bindings::task_struct,
            buf: *mut u8,
            size: u32,
        ) -> i32;
        pub(super) fn cptrst_task_xstate(
            t: *mut bindings::task_struct,
            buf: *mut u8,
            size: u32,
        ) -> i32;
        pub(super) fn cptrst_task_set_xstate(
            t: *mut bindings::task_struct,
            buf: *const u8,
            size: u32,
        ) -> i32;
        pub(super) fn cptrst_task_next_fd(
            t: *mut bindings::task_struct,
            fd: *mut u32,
            cloexec: *mut u32,
        ) -> *mut bindings::file;
        pub(super) fn cptrst_task_ctx(t: *mut bindings::task_struct, out: *mut TaskCtx);
        pub(super) fn cptrst_task_fs_paths(
            t: *mut bindings::task_struct,
            out: *mut TaskPaths,
            root: *mut u8,
            cwd: *mut u8,
            size: u32,
        ) -> i32;
        pub(super) fn cptrst_task_vma_file(
            t: *mut bindings::task_struct,
            start: u64,
        ) -> *mut bindings::file;
        pub(super) fn cptrst_cur_set_regs(regs: *const u64);
        pub(super) fn cptrst_cur_set_ip_sp(ip: u64, sp: u64);
        pub(super) fn cptrst_cur_set_comm(comm: *const u8);
        pub(super) fn cptrst_cur_set_thread_state(ts: *const ThreadState);
        pub(super) fn cptrst_cur_queue_ax(pin: *mut bindings::file, ax: u64) -> i32;
        pub(super) fn cptrst_cur_fpu_park();
    }
}

/// What 6.12's `Task` lacks, for `kernel::task::Task` (each method takes
/// a task the caller holds a reference on, through `&Task`).
pub(crate) trait TaskExt {
    /// The `task_struct`.
    fn as_raw(&self) -> *mut bindings::task_struct;
    /// Is it the same task as `other`?
    fn same(&self, other: &Task) -> bool;
    /// Is it the calling task?
    fn is_current(&self) -> bool;
    /// Is it exiting or dead?
    fn gone(&self) -> bool;
    /// Its exit code once it is a zombie (None while it lives).
    fn zombie_code(&self) -> Option<i32>;
    /// Its thread group id as the caller sees it (0: not visible).
    fn tgid_vnr(&self) -> i32;
    /// Is it a child of `parent`'s thread group?
    fn child_of(&self, parent: &Task) -> bool;
    /// May the caller dump it, and is it stopped by the caller? The rule
    /// is [`DumpFacts::decide`].
    fn check_dump(&self) -> Result;
    /// May the caller read it while it runs? [`DumpFacts::decide_running`].
    fn check_live(&self) -> Result;
    /// Ids, state and credentials, as seen from `ns`.
    fn info(&self, ns: &PidNamespace) -> Result<TaskInfo>;
    /// The general registers (`struct user_regs_struct`) of a stopped task.
    fn regs(&self, buf: &mut [u8; 8 * regs::COUNT]) -> Result;
    /// The xstate in user-ABI XSAVE format; `buf.len()` must be
    /// [`crate::machine::xstate_size`].
    fn xstate(&self, buf: &mut [u8]) -> Result;
    /// Its first open fd at or above `from`: the fd, its `FD_CLOEXEC` bit
    /// and the file, referenced; None past its last fd (or without an fd
    /// table: exiting).
    fn next_fd(&self, from: u32) -> Option<(u32, bool, ARef<File>)>;
    /// Its fd table and fs context as opaque ids, their counts, its umask.
    fn ctx(&self) -> TaskCtx;
    /// Its root and cwd as paths from the caller's root, into `root` and
    /// `cwd` (of the same length); their lengths and whether unlinked.
    ///
    /// # Errors
    /// `ESRCH` without an fs context, `ENAMETOOLONG`.
    fn fs_paths(&self, root: &mut [u8], cwd: &mut [u8]) -> Result<TaskPaths>;
    /// The file its mapping at `start` maps, referenced (None: no mapping
    /// starts there, or it maps no file).
    ///
    /// # Errors
    /// `ESRCH` without an mm, `EINTR` on a fatal signal.
    fn vma_file(&self, start: u64) -> Result<Option<ARef<File>>>;
    /// Its clear-child-tid address, robust list and rseq area.
    fn thread_state(&self) -> ThreadState;
}

impl TaskExt for Task {
    fn as_raw(&self) -> *mut bindings::task_struct {
        // `Task` is `repr(transparent)` over `Opaque<task_struct>`.
        (self as *const Task).cast_mut().cast()
    }

    fn same(&self, other: &Task) -> bool {
        core::ptr::eq(self, other)
    }

    fn is_current(&self) -> bool {
        // SAFETY: no precondition; only the pointer is compared.
        self.as_raw() == unsafe { bindings::get_current() }
    }

    fn gone(&self) -> bool {
        let t = self.as_raw();
        // SAFETY: `&self` is a live task; the fields are read once each, as
        // READ_ONCE() does (they change under us, as for the C readers).
        let (flags, exit_state) = unsafe {
            (
                core::ptr::addr_of!((*t).flags).read_volatile(),
                core::ptr::addr_of!((*t).exit_state).read_volatile(),
            )
        };
        flags & bindings::PF_EXITING != 0 || exit_state != 0
    }

    fn zombie_code(&self) -> Option<i32> {
        let t = self.as_raw();
        // SAFETY: as in `gone`.
        let exit_state = unsafe { core::ptr::addr_of!((*t).exit_state).read_volatile() };
        if exit_state != bindings::EXIT_ZOMBIE as i32 {
            return None;
        }
        // SAFETY: as in `gone`; a zombie's exit code no longer changes.
        Some(unsafe { core::ptr::addr_of!((*t).exit_code).read_volatile() })
    }

    fn tgid_vnr(&self) -> i32 {
        // SAFETY: a live task; NULL ns: the caller's (task_tgid_vnr()).
        unsafe {
            bindings::__task_pid_nr_ns(
                self.as_raw(),
                bindings::pid_type_PIDTYPE_TGID,
                core::ptr::null_mut(),
            )
        }
    }

    fn child_of(&self, parent: &Task) -> bool {
        // SAFETY: both live; the shim reads real_parent under RCU.
        unsafe { ffi::cptrst_task_child_of(self.as_raw(), parent.as_raw()) != 0 }
    }

    fn check_dump(&self) -> Result {
        let mut f = DumpFacts::default();
        // SAFETY: a live task; `f` is a writable local of the C layout.
        unsafe { ffi::cptrst_task_dump_facts(self.as_raw(), &mut f) };
        f.decide()
    }

    fn check_live(&self) -> Result {
        let mut f = DumpFacts::default();
        // SAFETY: a live task; `f` is a writable local of the C layout.
        unsafe { ffi::cptrst_task_dump_facts(self.as_raw(), &mut f) };
        f.decide_running()
    }

    fn info(&self, ns: &PidNamespace) -> Result<TaskInfo> {
        let mut out = core::mem::MaybeUninit::<TaskInfo>::uninit();
        // SAFETY: a live task and namespace; `out` is writable and the shim
        // fills all of it (memset first) before returning 0.
        to_result(unsafe { ffi::cptrst_task_info(self.as_raw(), ns.as_raw(), out.as_mut_ptr()) })?;
        // SAFETY: initialized by the successful call above.
        Ok(unsafe { out.assume_init() })
    }

    fn regs(&self, buf: &mut [u8; 8 * regs::COUNT]) -> Result {
        // SAFETY: `buf` is writable for its whole length, given as the size.
        to_result(unsafe {
            ffi::cptrst_task_regs(self.as_raw(), buf.as_mut_ptr(), buf.len() as u32)
        })
    }

    fn xstate(&self, buf: &mut [u8]) -> Result {
        let len = u32::try_from(buf.len()).map_err(|_| code::EINVAL)?;
        // SAFETY: `buf` is writable for `len` bytes.
        to_result(unsafe { ffi::cptrst_task_xstate(self.as_raw(), buf.as_mut_ptr(), len) })
    }

    fn next_fd(&self, from: u32) -> Option<(u32, bool, ARef<File>)> {
        let (mut fd, mut cloexec) = (from, 0u32);
        // SAFETY: a live task; `fd` and `cloexec` are writable locals; C
        // returns a new file reference or NULL.
        let f = unsafe { ffi::cptrst_task_next_fd(self.as_raw(), &mut fd, &mut cloexec) };
        let f = NonNull::new(f)?;
        // SAFETY: the reference is now owned by the ARef (`File` is
        // transparent over `struct file`); the checkpoint holds no
        // fdget_pos of another task's file.
        let f = unsafe { ARef::from_raw(f.cast::<File>()) };
        Some((fd, cloexec != 0, f))
    }

    fn ctx(&self) -> TaskCtx {
        let mut out = TaskCtx::default();
        // SAFETY: a live task; `out` is a writable local of the C layout.
        unsafe { ffi::cptrst_task_ctx(self.as_raw(), &mut out) };
        out
    }

    fn fs_paths(&self, root: &mut [u8], cwd: &mut [u8]) -> Result<TaskPaths> {
        let len = root.len().min(cwd.len());
        let size = u32::try_from(len).map_err(|_| code::EINVAL)?;
        let mut out = TaskPaths::default();
        // SAFETY: a live task; `root` and `cwd` are writable for `size`
        // bytes each, `out` is a writable local of the C layout.
        to_result(unsafe {
            ffi::cptrst_task_fs_paths(
                self.as_raw(),
                &mut out,
                root.as_mut_ptr(),
                cwd.as_mut_ptr(),
                size,
            )
        })?;
        if out.root_len as usize > len || out.cwd_len as usize > len {
            return Err(code::EINVAL);
        }
        Ok(out)
    }

    fn vma_file(&self, start: u64) -> Result<Option<ARef<File>>> {
        // SAFETY: a live task; C returns a new file reference or ERR_PTR.
        let f = unsafe { ffi::cptrst_task_vma_file(self.as_raw(), start) };
        match kernel::error::from_err_ptr(f) {
            Ok(p) => Ok(NonNull::new(p).map(|p| {
                // SAFETY: the new reference is owned by the ARef.
                unsafe { ARef::from_raw(p.cast::<File>()) }
            })),
            Err(e) if e == code::ENOENT => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn thread_state(&self) -> ThreadState {
        let mut ts = ThreadState::default();
        // SAFETY: a live task; `ts` is a writable local of the C layout.
        unsafe { ffi::cptrst_task_thread_state(self.as_raw(), &mut ts) };
        ts
    }
}

/// Lets the scheduler run another task if one should (the kernel's
/// `cond_resched()`): long loops of the module call it every few thousand
/// steps, since the kernels it runs on may not preempt kernel code.
/// Process context only, no spinlock held: it may sleep.
pub(crate) fn cond_resched() {
    // SAFETY: `__cond_resched` (exported) only yields the CPU; every
    // caller is in process context (an ioctl) and holds no spinlock.
    unsafe { bindings::__cond_resched() };
}

/// The task with thread id `nr` in the caller's pid namespace.
pub(crate) fn from_vpid(nr: i32) -> Option<ARef<Task>> {
    Pid::find_vpid(nr)?.task()
}

/// Every thread of `root`'s thread group and its descendants, referenced,
/// in ascending pid order. At most `max`.
///
/// # Errors
/// `E2BIG` past `max` tasks; `EINVAL` if the caller is in the tree; `ENOMEM`.
pub(crate) fn collect_tree(root: &Task, max: usize) -> Result<KVec<ARef<Task>>> {
    let max32 = u32::try_from(max).map_err(|_| code::EINVAL)?;
    let mut raw: KVec<*mut bindings::task_struct> =
        KVec::from_elem(core::ptr::null_mut(), max, GFP_KERNEL)?;
    let mut tasks = KVec::with_capacity(max, GFP_KERNEL)?;
    let mut caller_inside = 0u32;
    // SAFETY: `root` is live; `raw` has room for `max` pointers, and the
    // shim writes at most `max` referenced task pointers, returning how
    // many; `caller_inside` is a writable local.
    let n = unsafe {
        ffi::cptrst_tree_collect(root.as_raw(), raw.as_mut_ptr(), max32, &mut caller_inside)
    };
    to_result(n)?;
    // A task cannot dump or check the tree it is in (it is not stopped).
    if caller_inside != 0 {
        return Err(code::EINVAL);
    }
    for &p in raw.iter().take((n as usize).min(max)) {
        let Some(p) = NonNull::new(p.cast::<Task>()) else {
            continue;
        };
        // SAFETY: the shim took one reference on each task for us, which
        // the `ARef` now owns; `Task` is transparent over `task_struct`.
        let t = unsafe { ARef::from_raw(p) };
        // Cannot fail: the capacity is `max`.
        tasks.push(t, GFP_KERNEL)?;
    }
    Ok(tasks)
}

/// The calling task, as a proof that the code runs in that task's own
/// kernel call (the ioctl): every action on "current" takes one.
///
/// # Invariants
/// Made by [`CurrentTask::new`] on the task it stands for, at its entry
/// point, and handed down by reference; not `Send`, so
/// it stays on that task (it must not be put into anything made `Send` by
/// hand).
pub(crate) struct CurrentTask {
    _not_send: PhantomData<*mut ()>,
}

impl CurrentTask {
    /// The calling task, for an entry point to hand down.
    ///
    /// # Safety
    /// Only at an entry point that runs in process context on behalf of
    /// the calling task (the ioctl: `device::cptrst_rs_ioctl`), and the
    /// value must not outlive that call.
    pub(crate) unsafe fn new() -> CurrentTask {
        // INVARIANT: made on the calling task; `PhantomData<*mut ()>`.
        CurrentTask {
            _not_send: PhantomData,
        }
    }

    /// It, as a `Task`.
    pub(crate) fn task(&self) -> &Task {
        // SAFETY: the reference lives no longer than `self`, which stays
        // on the calling task (type invariant), so the task outlives it.
        unsafe { &*bindings::get_current().cast::<Task>() }
    }

    /// A new reference to it.
    pub(crate) fn to_ref(&self) -> ARef<Task> {
        self.task().into()
    }

    fn raw(&self) -> *mut bindings::task_struct {
        self.task().as_raw()
    }

    /// Writes the saved user registers, in effect when the ioctl returns.
    pub(crate) fn set_regs(&self, regs: &UserRegs) {
        // SAFETY: 27 readable words; the shim writes current's pt_regs
        // with what `UserRegs` guarantees valid for a 64-bit user context.
        unsafe { ffi::cptrst_cur_set_regs(regs.0.as_ptr()) }
    }

    /// Where it returns to user space: `ip`, on stack `sp`.
    pub(crate) fn set_ip_sp(&self, ip: u64, sp: u64) {
        // SAFETY: only its own saved user registers change; a bad address
        // faults in user mode.
        unsafe { ffi::cptrst_cur_set_ip_sp(ip, sp) }
    }

    /// Sets its command name.
    pub(crate) fn set_comm(&self, comm: &[u8; 16]) {
        // SAFETY: `comm` is 16 readable bytes (TASK_COMM_LEN).
        unsafe { ffi::cptrst_cur_set_comm(comm.as_ptr()) }
    }

    /// Sets its personality: the Linux execution domain only (`EINVAL`),
    /// its flags (`ADDR_NO_RANDOMIZE`, ...) as given.
    pub(crate) fn set_personality(&self, p: u32) -> Result {
        if p & 0xff != 0 {
            return Err(code::EINVAL);
        }
        // SAFETY: its own task_struct; only current writes its personality.
        unsafe { core::ptr::addr_of_mut!((*self.raw()).personality).write(p) };
        Ok(())
    }

    /// Sets its clear-child-tid address, robust list and rseq area, with
    /// the checks of set_tid_address, set_robust_list and rseq, all before
    /// anything is written.
    ///
    /// # Errors
    /// `EINVAL` (an address outside user space, a robust list head of
    /// another size, a misaligned or short rseq area), `EOPNOTSUPP` (an
    /// rseq area without `CONFIG_RSEQ`).
    pub(crate) fn set_thread_state(&self, ts: &ThreadState) -> Result {
        ThreadState::check(ts, crate::machine::task_size())?;
        // SAFETY: `ts` is readable, of the C layout; checked above.
        unsafe { ffi::cptrst_cur_set_thread_state(ts) };
        Ok(())
    }

    /// Sets its parent-death signal (0: none; the caller validated it).
    pub(crate) fn set_pdeath(&self, sig: u32) {
        // SAFETY: its own task_struct; a plain store, as prctl() does.
        unsafe { core::ptr::addr_of_mut!((*self.raw()).pdeath_signal).write(sig as i32) };
    }

    /// Queues the task work that sets its rax to `ax` once the ioctl has
    /// returned; `pin` (the ioctl's /dev/cptrst file) keeps the module
    /// loaded until the work has run.
    pub(crate) fn queue_ax(&self, pin: &DevFile, ax: u64) -> Result {
        // SAFETY: `pin` is the file of the running ioctl, referenced by the
        // caller of the ioctl for the whole call; the shim takes its own.
        to_result(unsafe { ffi::cptrst_cur_queue_ax(pin.as_ptr().cast(), ax) })
    }

    /// Saves its live FPU registers and marks them to be reloaded on the
    /// way to user space; the token lets another task set its xstate.
    pub(crate) fn fpu_park(&self) -> FpuParked {
        // SAFETY: process context, no FPU use in between.
        unsafe { ffi::cptrst_cur_fpu_park() };
        // INVARIANT: parked just now, inside its kernel call.
        FpuParked {
            task: self.to_ref(),
        }
    }
}

/// Proof that a task parked its FPU state ([`CurrentTask::fpu_park`]):
/// what [`FpuParked::set_xstate`] requires. Sendable: the restart code
/// hands it to the coordinator.
///
/// # Invariants
/// `task` saved its FPU registers into its fpstate with `TIF_NEED_FPU_LOAD`
/// set, inside a kernel call it has not left when the token was made; the
/// restart protocol keeps it inside that call (waiting for its context's
/// GO) while the token is used, and `task` is never the task holding it
/// (the parked task gives the token away; the C side also refuses current).
pub(crate) struct FpuParked {
    task: ARef<Task>,
}

impl FpuParked {
    /// Sets the parked task's xstate from a standard-format XSAVE buffer
    /// (validated by the kernel's regset); once: the token is consumed.
    pub(crate) fn set_xstate(self, buf: &[u8]) -> Result {
        let n = u32::try_from(buf.len()).map_err(|_| code::EINVAL)?;
        // SAFETY: a referenced task; `buf` readable for `n` bytes; the task
        // is parked with TIF_NEED_FPU_LOAD (type invariant).
        to_result(unsafe { ffi::cptrst_task_set_xstate(self.task.as_raw(), buf.as_ptr(), n) })
    }
}
