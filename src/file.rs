// SPDX-License-Identifier: GPL-2.0
//! Files, shaped like upstream's `kernel::fs::file` (6.13+): a reference
//! counted `struct file` ([`LocalFile`], [`File`], held as `ARef`), the
//! lookup of a caller's fd ([`LocalFile::fget`], failing with
//! [`BadFdError`]), a file's facts ([`FileFacts`]: mode bits, inode type,
//! position) and the decisions taken on them, what the checkpoint
//! classifies an open file on ([`FileDumpFacts`], the classification being
//! `dump_files.rs`'s), a pipe's buffered bytes read without consuming them
//! ([`LocalFile::pipe_peek`]), I/O at explicit offsets, fd installation,
//! and a looked-up, not yet opened [`Path`].
//!
//! The C side (`cptrst_file_*`, `cptrst_path_*`) reads the fields behind
//! inline functions and drives iov_iters; it decides nothing.

use core::ops::Deref;
use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{code, Error, Result};
use kernel::types::{ARef, AlwaysRefCounted, Opaque};

mod ffi {
    use super::FileFacts;
    use kernel::bindings::{file, page, path};
    // bindgen gives some kernel structs zero-sized members: pointers to
    // them only pass through, as in bindgen's own declarations.
    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn cptrst_file_get(f: *mut file);
        pub(super) fn cptrst_file_facts(f: *mut file, out: *mut FileFacts);
        pub(super) fn cptrst_file_set_pos(f: *mut file, pos: u64);
        pub(super) fn cptrst_file_read(f: *mut file, buf: *mut u8, len: usize, pos: u64) -> isize;
        pub(super) fn cptrst_file_read_user(f: *mut file, addr: u64, len: usize, pos: u64)
            -> isize;
        pub(super) fn cptrst_file_write_at(
            f: *mut file,
            pos: u64,
            buf: *const u8,
            len: usize,
        ) -> isize;
        pub(super) fn cptrst_file_write_all(
            f: *mut file,
            buf: *const u8,
            len: usize,
            pos: *mut u64,
        ) -> isize;
        pub(super) fn cptrst_file_write_pages(
            f: *mut file,
            pages: *const *mut page,
            n: usize,
            pos: *mut u64,
        ) -> isize;
        pub(super) fn cptrst_shmem_create(size: u64) -> *mut file;
        pub(super) fn cptrst_path_lookup(
            name: *const u8,
            mode: *mut u32,
            pseudo: *mut u32,
        ) -> *mut path;
        pub(super) fn cptrst_path_open(p: *const path, write: i32) -> *mut file;
        pub(super) fn cptrst_path_put(p: *mut path);
    }
}

fn isize_result(r: isize) -> Result<usize> {
    if r < 0 {
        Err(Error::from_errno(r as i32))
    } else {
        Ok(r as usize)
    }
}

/// `ERR_PTR`/`NULL`/pointer to a result (`NULL` gives `ENOENT`).
fn from_err_ptr<T>(p: *mut T) -> Result<NonNull<T>> {
    kernel::error::from_err_ptr(p).and_then(|p| NonNull::new(p).ok_or(code::ENOENT))
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

/// `cptrst_file_facts.flags` bits (`CPTRST_FF_*`).
pub(crate) mod ff {
    pub(crate) const READ: u32 = 1 << 0;
    pub(crate) const WRITE: u32 = 1 << 1;
    pub(crate) const PREAD: u32 = 1 << 2;
    pub(crate) const STREAM: u32 = 1 << 3;
    pub(crate) const CAN_READ: u32 = 1 << 4;
    pub(crate) const READ_ITER: u32 = 1 << 5;
    pub(crate) const WRITE_ITER: u32 = 1 << 6;
    pub(crate) const CPTRST_DEV: u32 = 1 << 7;
    pub(crate) const SHMEM: u32 = 1 << 8;
}

/// `struct cptrst_file_facts`: what a file is, at the time of the call.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct FileFacts {
    /// `f_pos`.
    pub(crate) pos: u64,
    /// The inode's size.
    pub(crate) size: u64,
    /// The inode's type and permission bits.
    pub(crate) i_mode: u32,
    /// [`ff`] bits.
    pub(crate) flags: u32,
}
const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(FileFacts, pos) == 0);
    assert!(offset_of!(FileFacts, size) == 8);
    assert!(offset_of!(FileFacts, i_mode) == 16);
    assert!(offset_of!(FileFacts, flags) == 20);
    assert!(core::mem::size_of::<FileFacts>() == 24);
};

impl FileFacts {
    /// Has it all the `bits` ([`ff`])?
    pub(crate) fn has(&self, bits: u32) -> bool {
        self.flags & bits == bits
    }

    /// Is it a regular file?
    pub(crate) fn is_reg(&self) -> bool {
        self.i_mode & mode::S_IFMT == mode::S_IFREG
    }
}

mod dump_ffi {
    use super::FileDumpFacts;
    use kernel::bindings::file;
    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn cptrst_file_dump_facts(
            f: *mut file,
            out: *mut FileDumpFacts,
            path: *mut u8,
            size: u32,
        ) -> i32;
        pub(super) fn cptrst_pipe_peek(f: *mut file, buf: *mut u8, size: usize) -> isize;
        pub(super) fn cptrst_file_open_read(f: *mut file) -> *mut file;
    }
}

/// `cptrst_file_dump_facts.fmode` bits (`CPTRST_DF_*`).
pub(crate) mod df_mode {
    pub(crate) const READ: u32 = 1 << 0;
    pub(crate) const WRITE: u32 = 1 << 1;
    pub(crate) const PATH: u32 = 1 << 2;
}

/// `cptrst_file_dump_facts.facts` bits (`CPTRST_DF_*`).
pub(crate) mod df {
    pub(crate) const UNLINKED: u32 = 1 << 0;
    pub(crate) const SHMEM: u32 = 1 << 1;
    pub(crate) const CPTRST_DEV: u32 = 1 << 2;
    pub(crate) const NOEXEC_SB: u32 = 1 << 3;
    pub(crate) const NOUSER_SB: u32 = 1 << 4;
    pub(crate) const WATCH_QUEUE: u32 = 1 << 5;
}

/// Bytes of [`FileDumpFacts::name`] (`CPTRST_DF_NAME_LEN`).
pub(crate) const DF_NAME_LEN: usize = 256;
/// Bytes of [`FileDumpFacts::fs_name`] (`CPTRST_DF_FS_NAME_LEN`).
pub(crate) const DF_FS_NAME_LEN: usize = 32;

/// `struct cptrst_file_dump_facts`: what the checkpoint classifies an open
/// file on (`dump_files.rs` decides).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct FileDumpFacts {
    /// `f_pos`.
    pub(crate) pos: u64,
    /// `i_size`.
    pub(crate) size: u64,
    pub(crate) ino: u64,
    /// The super block's magic.
    pub(crate) s_magic: u64,
    /// The pipe of a pipe or FIFO end as an opaque id, 0 for none.
    pub(crate) pipe: u64,
    /// The raw `f_flags`.
    pub(crate) f_flags: u32,
    /// [`df_mode`] bits.
    pub(crate) fmode: u32,
    pub(crate) i_mode: u32,
    pub(crate) rdev_major: u32,
    pub(crate) rdev_minor: u32,
    /// [`df`] bits.
    pub(crate) facts: u32,
    /// Shmem seals (`F_SEAL_*`).
    pub(crate) seals: u32,
    pub(crate) pipe_readers: u32,
    pub(crate) pipe_writers: u32,
    /// The pipe's capacity in bytes.
    pub(crate) pipe_size: u32,
    /// Bytes buffered in the pipe.
    pub(crate) pipe_bytes: u32,
    /// Length of the file's `d_path`.
    pub(crate) path_len: u32,
    /// The dentry's name, NUL-padded, truncated.
    pub(crate) name: [u8; DF_NAME_LEN],
    /// The file system type's name, NUL-padded.
    pub(crate) fs_name: [u8; DF_FS_NAME_LEN],
}
const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(FileDumpFacts, pos) == 0);
    assert!(offset_of!(FileDumpFacts, size) == 8);
    assert!(offset_of!(FileDumpFacts, ino) == 16);
    assert!(offset_of!(FileDumpFacts, s_magic) == 24);
    assert!(offset_of!(FileDumpFacts, pipe) == 32);
    assert!(offset_of!(FileDumpFacts, f_flags) == 40);
    assert!(offset_of!(FileDumpFacts, fmode) == 44);
    assert!(offset_of!(FileDumpFacts, i_mode) == 48);
    assert!(offset_of!(FileDumpFacts, rdev_major) == 52);
    assert!(offset_of!(FileDumpFacts, rdev_minor) == 56);
    assert!(offset_of!(FileDumpFacts, facts) == 60);
    assert!(offset_of!(FileDumpFacts, seals) == 64);
    assert!(offset_of!(FileDumpFacts, pipe_readers) == 68);
    assert!(offset_of!(FileDumpFacts, pipe_writers) == 72);
    assert!(offset_of!(FileDumpFacts, pipe_size) == 76);
    assert!(offset_of!(FileDumpFacts, pipe_bytes) == 80);
    assert!(offset_of!(FileDumpFacts, path_len) == 84);
    assert!(offset_of!(FileDumpFacts, name) == 88);
    assert!(offset_of!(FileDumpFacts, fs_name) == 88 + DF_NAME_LEN);
    assert!(core::mem::size_of::<FileDumpFacts>() == 88 + DF_NAME_LEN + DF_FS_NAME_LEN);
};

/// The bytes of a NUL-padded C string array, up to its first NUL.
pub(crate) fn c_str_bytes(a: &[u8]) -> &[u8] {
    let n = a.iter().position(|&b| b == 0).unwrap_or(a.len());
    &a[..n]
}

impl FileDumpFacts {
    /// The inode's type (`S_IFMT` bits).
    pub(crate) fn file_type(&self) -> u32 {
        self.i_mode & mode::S_IFMT
    }

    /// Has it all the [`df`] `bits`?
    pub(crate) fn has(&self, bits: u32) -> bool {
        self.facts & bits == bits
    }

    /// Has it all the [`df_mode`] `bits`?
    pub(crate) fn has_mode(&self, bits: u32) -> bool {
        self.fmode & bits == bits
    }

    /// The dentry's name.
    pub(crate) fn name(&self) -> &[u8] {
        c_str_bytes(&self.name)
    }

    /// The file system type's name.
    pub(crate) fn fs_name(&self) -> &[u8] {
        c_str_bytes(&self.fs_name)
    }
}

/// The caller's fd was not open (upstream's `BadFdError`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BadFdError;

impl From<BadFdError> for Error {
    fn from(_: BadFdError) -> Error {
        code::EBADF
    }
}

/// A `struct file` that may only be used by the task that looked it up
/// (upstream's `LocalFile`: an `fdget_pos` may be active on it).
///
/// # Invariants
/// Every `&LocalFile` points into a file with a non-zero reference count
/// for the life of the borrow.
#[repr(transparent)]
pub(crate) struct LocalFile {
    inner: Opaque<bindings::file>,
}

// SAFETY: `get_file`/`fput` keep the reference count, which keeps the
// file alive while non-zero.
unsafe impl AlwaysRefCounted for LocalFile {
    fn inc_ref(&self) {
        // SAFETY: the count is non-zero (type invariant).
        unsafe { ffi::cptrst_file_get(self.as_ptr()) }
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns one reference.
        unsafe { bindings::fput(obj.cast::<bindings::file>().as_ptr()) }
    }
}

impl LocalFile {
    /// The caller's fd `fd`, with a new reference (`fget`).
    pub(crate) fn fget(fd: i32) -> Result<ARef<LocalFile>, BadFdError> {
        let fd = u32::try_from(fd).map_err(|_| BadFdError)?;
        // SAFETY: no precondition; fget() returns a new reference or NULL.
        let f = NonNull::new(unsafe { bindings::fget(fd) }).ok_or(BadFdError)?;
        // SAFETY: the reference fget() took is now owned by the ARef.
        Ok(unsafe { ARef::from_raw(f.cast::<LocalFile>()) })
    }

    /// Makes it a [`File`], usable from any task.
    ///
    /// # Safety
    /// No `fdget_pos` of this file may be active on the calling task (the
    /// restart and checkpoint ioctls take none: only `fdget` of
    /// `/dev/cptrst`).
    pub(crate) unsafe fn assume_no_fdget_pos(this: ARef<LocalFile>) -> ARef<File> {
        let p = NonNull::from(&*this).cast::<File>();
        core::mem::forget(this);
        // SAFETY: `File` is a transparent wrapper of `LocalFile`; the
        // reference moves from `this` (forgotten) to the new ARef.
        unsafe { ARef::from_raw(p) }
    }

    /// The raw `struct file`.
    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.inner.get()
    }

    /// What it is now.
    pub(crate) fn facts(&self) -> FileFacts {
        let mut out = FileFacts::default();
        // SAFETY: the file is referenced (type invariant), `out` is a
        // writable local of the C layout.
        unsafe { ffi::cptrst_file_facts(self.as_ptr(), &mut out) };
        out
    }

    /// What the checkpoint classifies it on, its `d_path` into `path`
    /// (its length in [`FileDumpFacts::path_len`]).
    ///
    /// # Errors
    /// `ENAMETOOLONG` if the path does not fit.
    pub(crate) fn dump_facts(&self, path: &mut [u8]) -> Result<FileDumpFacts> {
        let size = u32::try_from(path.len()).map_err(|_| code::EINVAL)?;
        let mut out = core::mem::MaybeUninit::<FileDumpFacts>::uninit();
        // SAFETY: the file is referenced (type invariant); `out` and `path`
        // are writable for their sizes; C fills all of `out` (memset first)
        // before it looks at the path.
        let r = unsafe {
            dump_ffi::cptrst_file_dump_facts(
                self.as_ptr(),
                out.as_mut_ptr(),
                path.as_mut_ptr(),
                size,
            )
        };
        kernel::error::to_result(r)?;
        // SAFETY: fully written by the successful call.
        let f = unsafe { out.assume_init() };
        if f.path_len as usize > path.len() {
            return Err(code::EINVAL);
        }
        Ok(f)
    }

    /// Copies the bytes buffered in its pipe into `buf`, without
    /// consuming them; how many.
    ///
    /// # Errors
    /// `ENOSPC` if the pipe holds more than `buf.len()` bytes, `EINVAL` if
    /// it is no pipe end, `EIO` and the like from a spliced page.
    pub(crate) fn pipe_peek(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: `buf` is writable for its length; the file is referenced.
        let r = unsafe { dump_ffi::cptrst_pipe_peek(self.as_ptr(), buf.as_mut_ptr(), buf.len()) };
        isize_result(r).map(|n| n.min(buf.len()))
    }

    /// It, if open for reading; else a new read-only open of its path
    /// (a write-only or `O_PATH` fd), as the caller, with open(2)'s
    /// permission check.
    ///
    /// # Errors
    /// `EACCES`, what `dentry_open` returns.
    pub(crate) fn open_read(&self) -> Result<ARef<File>> {
        // SAFETY: the file is referenced; C returns a new reference.
        let f = from_err_ptr(unsafe { dump_ffi::cptrst_file_open_read(self.as_ptr()) })?;
        // SAFETY: the new reference is owned by the ARef; the checkpoint
        // ioctl holds no fdget_pos of any file.
        Ok(unsafe { ARef::from_raw(f.cast::<File>()) })
    }

    /// Sets its file position (the caller decides when that is right).
    pub(crate) fn set_pos(&self, pos: u64) {
        // SAFETY: the file is referenced; a plain store as lseek's.
        unsafe { ffi::cptrst_file_set_pos(self.as_ptr(), pos) }
    }

    /// Reads up to `buf.len()` bytes at `pos`; fewer only at the end.
    ///
    /// # Errors
    /// `EINTR` on a fatal signal, I/O errors.
    pub(crate) fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: `buf` is writable for its length; the file is referenced.
        let r = unsafe { ffi::cptrst_file_read(self.as_ptr(), buf.as_mut_ptr(), buf.len(), pos) };
        isize_result(r).map(|n| n.min(buf.len()))
    }

    /// Reads exactly `len` bytes at `pos` into the caller's memory at `addr`.
    ///
    /// # Errors
    /// `EINTR`, `EFAULT`, `ENODATA` if the file ends first,
    /// `EOPNOTSUPP` without `->read_iter`, I/O errors.
    pub(crate) fn read_to_user(&self, pos: u64, addr: u64, len: usize) -> Result {
        // Only ->read: the caller reads through a buffer.
        if !self.facts().has(ff::READ_ITER) {
            return Err(crate::error::eopnotsupp());
        }
        // SAFETY: the file is referenced; the destination is user memory,
        // which the kernel's copy checks and faults in.
        isize_result(unsafe { ffi::cptrst_file_read_user(self.as_ptr(), addr, len, pos) })
            .map(|_| ())
    }

    /// Writes all of `buf` at `pos`.
    pub(crate) fn write_at(&self, pos: u64, buf: &[u8]) -> Result {
        // SAFETY: `buf` is readable for its length; the file is referenced.
        isize_result(unsafe {
            ffi::cptrst_file_write_at(self.as_ptr(), pos, buf.as_ptr(), buf.len())
        })
        .map(|_| ())
    }

    /// Writes all of `buf` at `*pos`, advancing it.
    ///
    /// # Errors
    /// `EINTR` on a signal, `EPIPE`, `ENOSPC`, `EIO` and the like.
    pub(crate) fn write_all(&self, buf: &[u8], pos: &mut u64) -> Result {
        // SAFETY: `buf` is readable for its length; the file is referenced.
        isize_result(unsafe {
            ffi::cptrst_file_write_all(self.as_ptr(), buf.as_ptr(), buf.len(), pos)
        })
        .map(|_| ())
    }

    /// Writes `pages` (pinned by the caller for the call) at `*pos`.
    pub(crate) fn write_pages(&self, pages: &[*mut bindings::page], pos: &mut u64) -> Result {
        // SAFETY: the caller's borrow of the pinned pages (see
        // `PinnedPages::range`) keeps them pinned; C only reads them.
        isize_result(unsafe {
            ffi::cptrst_file_write_pages(self.as_ptr(), pages.as_ptr(), pages.len(), pos)
        })
        .map(|_| ())
    }

    /// Installs it as a new close-on-exec fd of the caller.
    pub(crate) fn install(&self) -> Result<i32> {
        // SAFETY: the file is referenced by `self` for the call.
        unsafe { install_raw(self.as_ptr()) }
    }
}

/// A `struct file` usable from any task (upstream's `File`).
#[repr(transparent)]
pub(crate) struct File {
    inner: LocalFile,
}

// SAFETY: `File` is only made by `assume_no_fdget_pos` or from a new
// file no fd refers to: no task-local state is attached to it.
unsafe impl Send for File {}
// SAFETY: its methods do I/O at explicit offsets, mmap, get_file:
// safe from several tasks at once.
unsafe impl Sync for File {}

// SAFETY: as for `LocalFile`.
unsafe impl AlwaysRefCounted for File {
    fn inc_ref(&self) {
        self.inner.inc_ref()
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: same object, the caller owns one reference.
        unsafe { LocalFile::dec_ref(obj.cast()) }
    }
}

impl Deref for File {
    type Target = LocalFile;
    fn deref(&self) -> &LocalFile {
        &self.inner
    }
}

/// A new close-on-exec fd of the caller for `f`, with its own reference.
///
/// # Safety
/// `f` must point to a file the caller holds a reference on for the call.
pub(crate) unsafe fn install_raw(f: *mut bindings::file) -> Result<i32> {
    // SAFETY: no precondition.
    let fd = unsafe { bindings::get_unused_fd_flags(bindings::O_CLOEXEC) };
    if fd < 0 {
        return Err(Error::from_errno(fd));
    }
    // SAFETY: `f` is referenced (precondition): take the reference the fd
    // table will own; `fd` is reserved and unused, fd_install consumes it.
    unsafe {
        ffi::cptrst_file_get(f);
        bindings::fd_install(fd as u32, f);
    }
    Ok(fd)
}

/// The caller's `RLIMIT_NOFILE` soft limit.
pub(crate) fn nofile_max() -> u64 {
    crate::rlimit::current_soft(crate::rlimit::Resource::Nofile)
}

/// A new shared memory object of `size` bytes, as `mmap(MAP_SHARED |
/// MAP_ANONYMOUS)` creates ("dev/zero" on the internal shm mount).
///
/// # Errors
/// `EINVAL` for an empty one or one past the largest file size
/// (`MAX_LFS_FILESIZE`); what `shmem_kernel_file_setup` returns.
pub(crate) fn shmem_create(size: u64) -> Result<ARef<File>> {
    if size == 0 || size > i64::MAX as u64 {
        return Err(code::EINVAL);
    }
    // SAFETY: no precondition; returns a new file reference or an error.
    let f = from_err_ptr(unsafe { ffi::cptrst_shmem_create(size) })?;
    // SAFETY: the new reference is owned by the ARef; no fd refers to the
    // file, so no fdget_pos can be active on it.
    Ok(unsafe { ARef::from_raw(f.cast::<File>()) })
}

/// A looked-up path (a referenced `struct path`), not opened: what it names
/// can be examined before anything of it runs (a FIFO's open blocks, a
/// device's open method has effects).
///
/// # Invariants
/// `self.p` points to a `struct path` allocated by the shim, holding a
/// reference on its mount and dentry, owned by this value.
pub(crate) struct Path {
    p: NonNull<bindings::path>,
    mode: u32,
    pseudo: bool,
}

impl Path {
    /// Looks up the absolute `name` (NUL-terminated) as the caller,
    /// following symbolic links.
    pub(crate) fn lookup(name: &[u8]) -> Result<Path> {
        if name.last() != Some(&0) {
            return Err(code::EINVAL);
        }
        let (mut mode, mut pseudo) = (0u32, 0u32);
        // SAFETY: `name` is a NUL-terminated string valid for the call;
        // `mode` and `pseudo` are writable locals.
        let p = unsafe { ffi::cptrst_path_lookup(name.as_ptr(), &mut mode, &mut pseudo) };
        // INVARIANT: kern_path() filled the shim's allocation and took the
        // references.
        from_err_ptr(p).map(|p| Path {
            p,
            mode,
            pseudo: pseudo != 0,
        })
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
    pub(crate) fn open(&self, write: bool) -> Result<ARef<File>> {
        // SAFETY: `self.p` is a valid, referenced path (type invariant).
        let f = from_err_ptr(unsafe { ffi::cptrst_path_open(self.p.as_ptr(), i32::from(write)) })?;
        // SAFETY: dentry_open() returned a new reference, owned by the
        // ARef; no fd refers to the file yet.
        Ok(unsafe { ARef::from_raw(f.cast::<File>()) })
    }
}

impl Drop for Path {
    fn drop(&mut self) {
        // SAFETY: we own the allocation and its references (type invariant).
        unsafe { ffi::cptrst_path_put(self.p.as_ptr()) }
    }
}

/// The `/dev/cptrst` file of the running ioctl.
///
/// # Invariants
/// `self.0` is the file the ioctl runs on; the ioctl path holds it for the
/// whole call, and a `DevFile` never outlives the call.
pub(crate) struct DevFile(NonNull<bindings::file>);

impl DevFile {
    /// # Safety
    /// `f` must be the `struct file` of the ioctl being served, and the
    /// value must not outlive that ioctl.
    pub(crate) unsafe fn from_raw(f: *mut bindings::file) -> Option<DevFile> {
        // INVARIANT: the caller's promise.
        NonNull::new(f).map(DevFile)
    }

    /// The file, for the C calls that take a reference of their own.
    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.0.as_ptr()
    }

    /// Installs it as a new close-on-exec fd of the caller.
    pub(crate) fn install(&self) -> Result<i32> {
        // SAFETY: the ioctl's file, referenced by the ioctl for the whole
        // call (type invariant).
        unsafe { install_raw(self.as_ptr()) }
    }
}

mod fdtable_ffi {
    use kernel::bindings::file;
    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn cptrst_rst_close_fds_except(keep: *const u32, n: u32, dev: *mut file);
    }
}

/// Closes every fd of the calling task but those of `keep` (ascending:
/// an fd out of order may be closed), and every fd of `dev` (no restored
/// program keeps `/dev/cptrst` open), at a restored task's commit.
pub(crate) fn close_fds_except(_cur: &crate::task::CurrentTask, dev: &DevFile, keep: &[u32]) {
    let n = keep.len().min(u32::MAX as usize) as u32;
    // SAFETY: `keep` is readable for `n` entries for the call; acts on the
    // caller's own fd table; `dev` is only compared with table entries.
    unsafe { fdtable_ffi::cptrst_rst_close_fds_except(keep.as_ptr(), n, dev.as_ptr()) }
}
