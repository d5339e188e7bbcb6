// SPDX-License-Identifier: GPL-2.0
//! Declarations of the restart side of the C shim (`include/cptrst_restore.h`,
//! `src/cptrst_restore.c`) and their safe wrappers. A child module of
//! [`crate::shim`], so that it shares its opaque types and [`Task`].
//!
//! Functions without a task argument act on the calling task: in the
//! restart code that is the task being restored, inside its own ioctl.

use core::ptr::NonNull;
use core::sync::atomic::AtomicU32;

use kernel::error::{code, Error, Result};

use super::opaque::{file, pid_namespace, task_struct};
use super::PidNs;
use super::{errno_result, MmLayout, Task};

mod opaque {
    #[repr(C)]
    pub(crate) struct cptrst_waitq {
        _private: [u8; 0],
        _pin: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
    }
    #[repr(C)]
    pub(crate) struct pid {
        _private: [u8; 0],
        _pin: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
    }
    #[repr(C)]
    pub(crate) struct path {
        _private: [u8; 0],
        _pin: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
    }
}
use opaque::{cptrst_waitq, path, pid};

/// `struct cptrst_special`: where the vDSO and vvar are (zeros: none).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Special {
    pub(crate) vdso_start: u64,
    pub(crate) vdso_end: u64,
    pub(crate) vvar_start: u64,
    pub(crate) vvar_end: u64,
}
const _: () = assert!(core::mem::size_of::<Special>() == 32);


mod ffi {
    use super::opaque::{cptrst_waitq, path, pid};
    use super::{file, pid_namespace, task_struct, MmLayout, Special};
    extern "C" {
        pub(super) fn cptrst_in_get(fd: i32, pos: *mut u64) -> *mut file;
        pub(super) fn cptrst_in_read(f: *mut file, buf: *mut u8, len: usize, pos: u64) -> isize;
        pub(super) fn cptrst_in_read_user(f: *mut file, addr: u64, len: usize, pos: u64) -> isize;
        pub(super) fn cptrst_in_crc(f: *mut file, pos: u64, len: usize, crc: *mut u32) -> isize;
        pub(super) fn cptrst_path_get(name: *const u8, mode: *mut u32, pseudo: *mut u32) -> *mut path;
        pub(super) fn cptrst_path_open(p: *const path, write: i32) -> *mut file;
        pub(super) fn cptrst_path_put(p: *mut path);
        pub(super) fn cptrst_nofile_max() -> core::ffi::c_ulong;
        pub(super) fn cptrst_file_put(f: *mut file);

        pub(super) fn cptrst_waitq_new() -> *mut cptrst_waitq;
        pub(super) fn cptrst_waitq_free(q: *mut cptrst_waitq);
        pub(super) fn cptrst_waitq_wait(q: *mut cptrst_waitq, word: *const u32, old: u32, timeout_ms: u32) -> i32;
        pub(super) fn cptrst_waitq_wake(q: *mut cptrst_waitq);

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

        pub(super) fn cptrst_rst_special(out: *mut Special) -> i32;
        pub(super) fn cptrst_rst_unmap_all() -> isize;
        pub(super) fn cptrst_rst_mmap(f: *mut file, addr: u64, len: u64, prot: u32, flags: u32, off: u64) -> isize;
        pub(super) fn cptrst_rst_munmap(addr: u64, len: u64) -> i32;
        pub(super) fn cptrst_rst_write_force(addr: u64, buf: *const u8, len: usize) -> i32;
        pub(super) fn cptrst_shmem_create(size: u64) -> *mut file;
        pub(super) fn cptrst_file_write(f: *mut file, pos: u64, buf: *const u8, len: usize) -> i32;
        pub(super) fn cptrst_pid_ns_get(p: *mut pid) -> *mut pid_namespace;
        pub(super) fn cptrst_pid_alive(ns: *mut pid_namespace, nr: i32) -> i32;
        pub(super) fn cptrst_current_in_tree_of(root: *mut pid) -> i32;
        pub(super) fn cptrst_task_exit_code(t: *mut task_struct, code: *mut i32) -> i32;
        pub(super) fn cptrst_rst_copy_to_user(addr: u64, buf: *const u8, len: usize) -> i32;
        pub(super) fn cptrst_rst_copy_from_user(buf: *mut u8, addr: u64, len: usize) -> i32;
        pub(super) fn cptrst_rst_set_mm(l: *const MmLayout, auxv: *const u64, words: u32) -> i32;
        pub(super) fn cptrst_rst_vdso_is(addr: u64) -> i32;
        pub(super) fn cptrst_auxv_max_words() -> u32;
        pub(super) fn cptrst_rst_set_ip_sp(ip: u64, sp: u64);

        pub(super) static cptrst_tramp_start: [u8; 0];
        pub(super) static cptrst_tramp_end: [u8; 0];

        pub(super) fn cptrst_rst_install_fd(f: *mut file) -> i32;
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

fn err_ptr<T>(p: *mut T) -> Result<NonNull<T>> {
    let v = p as isize;
    if (-4095..0).contains(&v) {
        return Err(Error::from_errno(v as i32));
    }
    NonNull::new(p).ok_or(code::ENOENT)
}

fn isize_result(r: isize) -> Result<isize> {
    if r < 0 {
        Err(Error::from_errno(r as i32))
    } else {
        Ok(r)
    }
}

// ---------------------------------------------------------------------
// Files.

/// A referenced `struct file`.
///
/// # Invariants
/// `self.0` points to a file on which this value owns one reference.
pub(crate) struct FileRef(NonNull<file>);

// SAFETY: a file reference may be used and dropped from any task: `struct
// file` is reference counted and `fput` works from any process context.
unsafe impl Send for FileRef {}
// SAFETY: `FileRef` only hands out the pointer for calls that are safe
// concurrently (reads at explicit offsets, mmap, get_file).
unsafe impl Sync for FileRef {}

impl FileRef {
    pub(crate) fn as_ptr(&self) -> *mut file {
        self.0.as_ptr()
    }
}

impl Drop for FileRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference (type invariant).
        unsafe { ffi::cptrst_file_put(self.0.as_ptr()) }
    }
}

/// File types (`S_IFMT` bits of an inode's mode).
pub(crate) mod mode {
    pub(crate) const S_IFMT: u32 = 0o170000;
    pub(crate) const S_IFSOCK: u32 = 0o140000;
    pub(crate) const S_IFLNK: u32 = 0o120000;
    pub(crate) const S_IFREG: u32 = 0o100000;
    pub(crate) const S_IFBLK: u32 = 0o060000;
    pub(crate) const S_IFDIR: u32 = 0o040000;
    pub(crate) const S_IFCHR: u32 = 0o020000;
    pub(crate) const S_IFIFO: u32 = 0o010000;
}

/// A looked-up path (a referenced `struct path`), not opened: what it names
/// can be examined before anything of it runs (a FIFO's open blocks, a
/// device's open method has effects).
///
/// # Invariants
/// `self.p` points to a `struct path` allocated by the shim, holding a
/// reference on its mount and dentry, owned by this value.
pub(crate) struct PathRef {
    p: NonNull<path>,
    mode: u32,
    pseudo: bool,
}

impl PathRef {
    /// Looks up the absolute `name` (NUL-terminated) as the caller,
    /// following symbolic links.
    pub(crate) fn lookup(name: &[u8]) -> Result<PathRef> {
        if name.last() != Some(&0) {
            return Err(code::EINVAL);
        }
        let (mut mode, mut pseudo) = (0u32, 0u32);
        // SAFETY: `name` is a NUL-terminated string valid for the call;
        // `mode` and `pseudo` are writable locals.
        let p = unsafe { ffi::cptrst_path_get(name.as_ptr(), &mut mode, &mut pseudo) };
        // INVARIANT: kern_path() filled the shim's allocation and took the
        // references.
        err_ptr(p).map(|p| PathRef { p, mode, pseudo: pseudo != 0 })
    }

    /// Is it on a pseudo file system (`SB_I_NOEXEC`: proc, sysfs, cgroupfs,
    /// pidfs...), whose files are not data to map or execute?
    pub(crate) fn on_pseudo_fs(&self) -> bool {
        self.pseudo
    }

    /// The inode's mode (type and permission bits).
    pub(crate) fn mode(&self) -> u32 {
        self.mode
    }

    /// Opens it read-only or read-write, with open(2)'s permission checks
    /// for the caller.
    pub(crate) fn open(&self, write: bool) -> Result<FileRef> {
        // SAFETY: `self.p` is a valid, referenced path (type invariant).
        let f = unsafe { ffi::cptrst_path_open(self.p.as_ptr(), i32::from(write)) };
        // INVARIANT: dentry_open() returned a new reference.
        err_ptr(f).map(FileRef)
    }
}

impl Drop for PathRef {
    fn drop(&mut self) {
        // SAFETY: we own the allocation and its references (type invariant).
        unsafe { ffi::cptrst_path_put(self.p.as_ptr()) }
    }
}

/// The caller's `RLIMIT_NOFILE` soft limit.
pub(crate) fn nofile_max() -> u64 {
    // SAFETY: no precondition; reads the caller's rlimit.
    u64::from(unsafe { ffi::cptrst_nofile_max() })
}

/// The image: a referenced, readable, seekable file, and where it starts.
pub(crate) struct InFile {
    f: FileRef,
    base: u64,
}

impl InFile {
    /// Takes fd `fd` of the caller.
    ///
    /// # Errors
    /// `EBADF` unless open for reading (or if it is `/dev/cptrst`); `ESPIPE`
    /// unless a regular file readable at any offset.
    pub(crate) fn get(fd: i32) -> Result<InFile> {
        let mut pos = 0u64;
        // SAFETY: `pos` is a local the shim writes.
        let f = unsafe { ffi::cptrst_in_get(fd, &mut pos) };
        // INVARIANT: fget() took the reference `FileRef` owns.
        let f = FileRef(err_ptr(f).map_err(|e| if e == code::ENOENT { code::EBADF } else { e })?);
        Ok(InFile { f, base: pos })
    }

    /// Reads up to `buf.len()` bytes at image offset `off`; fewer only at
    /// the end of the file.
    ///
    /// # Errors
    /// `EINTR` on a fatal signal, I/O errors.
    pub(crate) fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize> {
        let pos = self.base.checked_add(off).ok_or(code::EFBIG)?;
        // SAFETY: `buf` is writable for its length; the file is referenced.
        let r = unsafe { ffi::cptrst_in_read(self.f.as_ptr(), buf.as_mut_ptr(), buf.len(), pos) };
        isize_result(r).map(|n| (n as usize).min(buf.len()))
    }

    /// Extends the raw CRC32C state `crc` over `len` bytes at image offset
    /// `off`, read in place in the page cache if the image is a shmem file
    /// with all those pages in memory; `None` if it could not (then read
    /// the bytes instead).
    ///
    /// # Errors
    /// `EINTR` on a fatal signal.
    pub(crate) fn crc_in_place(&self, off: u64, len: usize, crc: u32) -> Result<Option<u32>> {
        let pos = self.base.checked_add(off).ok_or(code::EFBIG)?;
        let mut c = crc;
        // SAFETY: the file is referenced; `c` is a local the shim writes.
        let r = unsafe { ffi::cptrst_in_crc(self.f.as_ptr(), pos, len, &mut c) };
        Ok((isize_result(r)? == 1).then_some(c))
    }

    /// Reads exactly `len` bytes at image offset `off` straight into the
    /// current task's memory at `addr`.
    ///
    /// # Errors
    /// `EINTR` on a fatal signal, `EFAULT` for a bad destination,
    /// `ENODATA` if the image ends first, I/O errors.
    pub(crate) fn read_to_user(&self, off: u64, addr: u64, len: usize) -> Result {
        let pos = self.base.checked_add(off).ok_or(code::EFBIG)?;
        // SAFETY: the file is referenced; the destination is user memory,
        // which the kernel's copy checks and faults in.
        let r = unsafe { ffi::cptrst_in_read_user(self.f.as_ptr(), addr, len, pos) };
        isize_result(r).map(|_| ())
    }
}

// ---------------------------------------------------------------------
// Waiting and locking.

/// A wait queue on which tasks sleep until a word changes.
///
/// # Invariants
/// `self.q` points to a queue allocated by `cptrst_waitq_new` and owned here.
pub(crate) struct WaitQ {
    q: NonNull<cptrst_waitq>,
}

// SAFETY: a wait queue is made to be used by several tasks at once; its
// own spinlock protects it.
unsafe impl Send for WaitQ {}
// SAFETY: as above.
unsafe impl Sync for WaitQ {}

/// What a [`WaitQ::wait`] saw.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Woken {
    /// The word changed.
    Changed,
    /// The timeout passed: re-check the world, then wait again.
    Timeout,
}

impl WaitQ {
    /// A new queue.
    pub(crate) fn new() -> Result<WaitQ> {
        // SAFETY: no precondition.
        let q = unsafe { ffi::cptrst_waitq_new() };
        // INVARIANT: a fresh allocation, owned.
        NonNull::new(q).map(|q| WaitQ { q }).ok_or(code::ENOMEM)
    }

    /// Sleeps until `word` differs from `old`, a fatal signal, or `timeout_ms`.
    ///
    /// # Errors
    /// `EINTR` on a fatal signal.
    pub(crate) fn wait(&self, word: &AtomicU32, old: u32, timeout_ms: u32) -> Result<Woken> {
        // SAFETY: the queue is alive (type invariant); `word` is a valid
        // atomic for the whole call, which the C side only reads (READ_ONCE).
        let r = unsafe { ffi::cptrst_waitq_wait(self.q.as_ptr(), word.as_ptr(), old, timeout_ms) };
        match r {
            r if r < 0 => Err(code::EINTR),
            0 => Ok(Woken::Timeout),
            _ => Ok(Woken::Changed),
        }
    }

    /// Wakes every sleeper.
    pub(crate) fn wake(&self) {
        // SAFETY: the queue is alive (type invariant).
        unsafe { ffi::cptrst_waitq_wake(self.q.as_ptr()) }
    }
}

impl Drop for WaitQ {
    fn drop(&mut self) {
        // SAFETY: we own the allocation (type invariant); nobody sleeps on
        // it any more: every sleeper holds a reference to the object that
        // owns this queue (a restart context or the registry).
        unsafe { ffi::cptrst_waitq_free(self.q.as_ptr()) }
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

/// Where the caller's vDSO and vvar are.
pub(crate) fn special() -> Result<Special> {
    let mut s = Special::default();
    // SAFETY: `s` is a writable local of the C layout.
    errno_result(unsafe { ffi::cptrst_rst_special(&mut s) })?;
    Ok(s)
}

/// Unmaps every mapping of the caller but its vDSO and vvar.
pub(crate) fn unmap_all() -> Result<usize> {
    // SAFETY: no precondition; acts on the caller's mm.
    isize_result(unsafe { ffi::cptrst_rst_unmap_all() }).map(|n| n as usize)
}

/// `vm_mmap()` of `file` (or anonymous memory) at exactly `addr`.
pub(crate) fn mmap(file: Option<&FileRef>, addr: u64, len: u64, prot: u32, flags: u32, off: u64) -> Result {
    let f = file.map_or(core::ptr::null_mut(), |f| f.as_ptr());
    // SAFETY: `f` is NULL or a referenced file; the shim checks the flags.
    isize_result(unsafe { ffi::cptrst_rst_mmap(f, addr, len, prot, flags, off) }).map(|_| ())
}

/// Unmaps `[addr, addr + len)` of the caller.
pub(crate) fn munmap(addr: u64, len: u64) -> Result {
    // SAFETY: no precondition; vm_munmap() checks the range.
    errno_result(unsafe { ffi::cptrst_rst_munmap(addr, len) })
}

/// Copies `buf` to user address `addr` of the caller.
pub(crate) fn copy_to_user(addr: u64, buf: &[u8]) -> Result {
    // SAFETY: `buf` is readable for its length; the user side is checked.
    errno_result(unsafe { ffi::cptrst_rst_copy_to_user(addr, buf.as_ptr(), buf.len()) })
}

/// Copies from user address `addr` of the caller into `buf`.
pub(crate) fn copy_from_user(buf: &mut [u8], addr: u64) -> Result {
    // SAFETY: `buf` is writable for its length; the user side is checked.
    errno_result(unsafe { ffi::cptrst_rst_copy_from_user(buf.as_mut_ptr(), addr, buf.len()) })
}

/// Writes `buf` at `addr` of a private mapping the caller may not write
/// (read-only, `PROT_NONE`), breaking copy-on-write as ptrace does.
pub(crate) fn write_force(addr: u64, buf: &[u8]) -> Result {
    // SAFETY: `buf` is readable for its length.
    errno_result(unsafe { ffi::cptrst_rst_write_force(addr, buf.as_ptr(), buf.len()) })
}

/// Sets the caller's mm layout and saved auxv (`auxv` ends with AT_NULL).
pub(crate) fn set_mm(l: &MmLayout, auxv: &[u64]) -> Result {
    let words = u32::try_from(auxv.len()).map_err(|_| code::EINVAL)?;
    // SAFETY: `l` and `auxv` are readable for the given sizes.
    errno_result(unsafe { ffi::cptrst_rst_set_mm(l, auxv.as_ptr(), words) })
}

/// Is the caller's vDSO (`mm->context.vdso`) at `addr`?
pub(crate) fn vdso_is(addr: u64) -> bool {
    // SAFETY: no precondition.
    unsafe { ffi::cptrst_rst_vdso_is(addr) != 0 }
}

/// Words of `mm->saved_auxv` (`AT_VECTOR_SIZE`).
pub(crate) fn auxv_max_words() -> usize {
    // SAFETY: no precondition.
    unsafe { ffi::cptrst_auxv_max_words() as usize }
}

/// Where the caller returns to user space: `ip`, on stack `sp`.
pub(crate) fn set_ip_sp(ip: u64, sp: u64) {
    // SAFETY: no precondition; only the caller's saved user registers change.
    unsafe { ffi::cptrst_rst_set_ip_sp(ip, sp) }
}

/// The trampoline's machine code.
pub(crate) fn tramp_code() -> &'static [u8] {
    // SAFETY: the two symbols delimit one byte array in .rodata, defined
    // in cptrst_restore.c, end after start; it lives as long as the module.
    unsafe {
        let start = ffi::cptrst_tramp_start.as_ptr();
        let end = ffi::cptrst_tramp_end.as_ptr();
        core::slice::from_raw_parts(start, (end as usize).saturating_sub(start as usize))
    }
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

fn install(f: *mut file) -> Result<i32> {
    // SAFETY: `f` is a file the caller holds a reference on for the call
    // (the ioctl's /dev/cptrst file or a `FileRef`); the shim takes its own.
    let fd = unsafe { ffi::cptrst_rst_install_fd(f) };
    errno_result(fd)?;
    Ok(fd)
}

/// Installs the ioctl's `/dev/cptrst` file as a new close-on-exec fd of the caller.
pub(crate) fn install_fd(dev: &DevFile) -> Result<i32> {
    install(dev.as_ptr())
}

/// Installs `f` as a new close-on-exec fd of the caller.
pub(crate) fn install_file(f: &FileRef) -> Result<i32> {
    install(f.as_ptr())
}

/// A new shared memory object of `size` bytes, as `mmap(MAP_SHARED |
/// MAP_ANONYMOUS)` creates ("dev/zero" on the internal shm mount).
pub(crate) fn shmem_create(size: u64) -> Result<FileRef> {
    // SAFETY: no precondition; returns a new file reference or an error.
    let f = unsafe { ffi::cptrst_shmem_create(size) };
    // INVARIANT: shmem_kernel_file_setup() returned a new reference.
    err_ptr(f).map(FileRef)
}

/// Writes all of `buf` into `f` at `pos`.
pub(crate) fn file_write(f: &FileRef, pos: u64, buf: &[u8]) -> Result {
    // SAFETY: referenced file; `buf` readable for its length.
    errno_result(unsafe { ffi::cptrst_file_write(f.as_ptr(), pos, buf.as_ptr(), buf.len()) })
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
