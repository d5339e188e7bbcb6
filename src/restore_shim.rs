// SPDX-License-Identifier: GPL-2.0
//! Declarations of the restart side of the C shim (`include/cptrst_restore.h`,
//! `src/cptrst_restore.c`) and their safe wrappers. A child module of
//! [`crate::shim`], so that it shares its opaque types. Tasks, pids and
//! the calling task's registers and signals: `task.rs`, `pid.rs`,
//! `signal.rs`.
//!
//! Functions without a task argument act on the calling task: in the
//! restart code that is the task being restored, inside its own ioctl.

use core::ptr::NonNull;
use core::sync::atomic::AtomicU32;

use kernel::error::{code, Error, Result};

use super::opaque::file;
use super::{errno_result, MmLayout};

mod opaque {
    #[repr(C)]
    pub(crate) struct cptrst_waitq {
        _private: [u8; 0],
        _pin: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
    }
    #[repr(C)]
    pub(crate) struct path {
        _private: [u8; 0],
        _pin: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
    }
}
use opaque::{cptrst_waitq, path};

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
    use super::opaque::{cptrst_waitq, path};
    use super::{file, MmLayout, Special};
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


        pub(super) fn cptrst_rst_special(out: *mut Special) -> i32;
        pub(super) fn cptrst_rst_unmap_all() -> isize;
        pub(super) fn cptrst_rst_mmap(f: *mut file, addr: u64, len: u64, prot: u32, flags: u32, off: u64) -> isize;
        pub(super) fn cptrst_rst_munmap(addr: u64, len: u64) -> i32;
        pub(super) fn cptrst_rst_write_force(addr: u64, buf: *const u8, len: usize) -> i32;
        pub(super) fn cptrst_shmem_create(size: u64) -> *mut file;
        pub(super) fn cptrst_file_write(f: *mut file, pos: u64, buf: *const u8, len: usize) -> i32;
        pub(super) fn cptrst_rst_copy_to_user(addr: u64, buf: *const u8, len: usize) -> i32;
        pub(super) fn cptrst_rst_copy_from_user(buf: *mut u8, addr: u64, len: usize) -> i32;
        pub(super) fn cptrst_rst_set_mm(l: *const MmLayout, auxv: *const u64, words: u32) -> i32;
        pub(super) fn cptrst_rst_vdso_is(addr: u64) -> i32;
        pub(super) fn cptrst_auxv_max_words() -> u32;

        pub(super) static cptrst_tramp_start: [u8; 0];
        pub(super) static cptrst_tramp_end: [u8; 0];

        pub(super) fn cptrst_rst_install_fd(f: *mut file) -> i32;
        pub(super) fn cptrst_rst_close_fds_from(first: u32);
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
