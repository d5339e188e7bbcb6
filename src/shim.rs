// SPDX-License-Identifier: GPL-2.0
//! Declarations of the C shim (`include/cptrst_shim.h`, `src/cptrst_shim.c`).
//!
//! Only thin safe wrappers leave this file; every `unsafe` call into C is
//! here, next to the contract that makes it sound.

use kernel::error::Result;

#[path = "restore_shim.rs"]
pub(crate) mod rst;

// ---------------------------------------------------------------------
// Dump side.

/// Words of `saved_auxv` the shim copies out.
pub(crate) const AUXV_WORDS: usize = 128;
/// Size of a path buffer.
pub(crate) const PATH_MAX: usize = 4096;

/// `struct cptrst_mm_layout`: the mm's layout fields, prctl(PR_SET_MM_MAP) order.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct MmLayout {
    pub(crate) start_code: u64,
    pub(crate) end_code: u64,
    pub(crate) start_data: u64,
    pub(crate) end_data: u64,
    pub(crate) start_brk: u64,
    pub(crate) brk: u64,
    pub(crate) start_stack: u64,
    pub(crate) arg_start: u64,
    pub(crate) arg_end: u64,
    pub(crate) env_start: u64,
    pub(crate) env_end: u64,
}
const _: () = assert!(core::mem::size_of::<MmLayout>() == 88);

impl MmLayout {
    /// From the fields in this order (`image::Mm::layout`).
    pub(crate) fn from_array(a: [u64; 11]) -> MmLayout {
        let [start_code, end_code, start_data, end_data, start_brk, brk, start_stack, arg_start, arg_end, env_start, env_end] =
            a;
        MmLayout { start_code, end_code, start_data, end_data, start_brk, brk, start_stack, arg_start, arg_end, env_start, env_end }
    }
}

/// `struct cptrst_mm_info`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct MmInfo {
    pub(crate) layout: MmLayout,
    pub(crate) vdso: u64,
    pub(crate) auxv: [u64; AUXV_WORDS],
    pub(crate) nr_auxv_words: u32,
    pub(crate) exe_path_len: u32,
}
const _: () = assert!(core::mem::size_of::<MmInfo>() == 8 * 12 + 8 * AUXV_WORDS + 8);

/// `cptrst_vma_info.kind` values.
pub(crate) mod vma_kind {
    pub(crate) const ANON: u32 = 1;
    pub(crate) const FILE_PRIVATE: u32 = 2;
    pub(crate) const FILE_SHARED: u32 = 3;
    pub(crate) const SHARED_ANON: u32 = 4;
    pub(crate) const VDSO: u32 = 5;
    pub(crate) const VVAR: u32 = 6;
}

/// `struct cptrst_vma_info`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct VmaInfo {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) flags: u64,
    pub(crate) pgoff: u64,
    /// The mapped file's inode number; for a shared anonymous VMA, the
    /// shmem object's, which with `dev` identifies the object (the ids of
    /// the image's SHM records, see `dump_mm::ShmIds`).
    pub(crate) inode: u64,
    /// The super block dev of the mapped file (or shmem object).
    pub(crate) dev: u64,
    pub(crate) kind: u32,
    pub(crate) path_len: u32,
    pub(crate) file_deleted: u32,
    pub(crate) pad: u32,
}
const _: () = assert!(core::mem::size_of::<VmaInfo>() == 8 * 6 + 16);

/// `CPTRST_FILE_*`: the kinds [`TaskExt::fds`] gives (the same numbers as the
/// image's `FILE_KIND_*`, translated in `dump_task.rs` all the same).
pub(crate) mod file_kind {
    pub(crate) const REG: u32 = 1;
    pub(crate) const DIR: u32 = 2;
    pub(crate) const FIFO: u32 = 3;
    pub(crate) const SOCK: u32 = 4;
    pub(crate) const CHR: u32 = 5;
    pub(crate) const BLK: u32 = 6;
    /// Anything else (anonymous inodes).
    pub(crate) const OTHER: u32 = 7;
}

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
    opaque!(mm_struct, page, file, cptrst_crc_job);
}

// task_struct by pointer only (see task.rs).
#[allow(improper_ctypes)]
mod dump_ffi {
    use super::opaque::{cptrst_crc_job, file, mm_struct, page};
    use super::{MmInfo, VmaInfo};
    use kernel::bindings::task_struct;
    extern "C" {
        pub(super) fn cptrst_task_mm_get(t: *mut task_struct) -> *mut mm_struct;
        pub(super) fn cptrst_mm_put(mm: *mut mm_struct);
        pub(super) fn cptrst_mm_read_lock(mm: *mut mm_struct) -> i32;
        pub(super) fn cptrst_mm_read_unlock(mm: *mut mm_struct);
        pub(super) fn cptrst_mm_info(mm: *mut mm_struct, out: *mut MmInfo, path: *mut u8, size: u32) -> i32;
        pub(super) fn cptrst_vma_info(mm: *mut mm_struct, addr: u64, out: *mut VmaInfo, path: *mut u8, size: u32) -> i32;
        pub(super) fn cptrst_mm_pages(mm: *mut mm_struct, addr: u64, nr: usize, pages: *mut *mut page) -> isize;
        pub(super) fn cptrst_shmem_page(mm: *mut mm_struct, addr: u64, dst: *mut u8) -> isize;
        pub(super) fn cptrst_page_is_anon(p: *mut page) -> i32;
        pub(super) fn cptrst_page_copy(p: *mut page, dst: *mut u8);
        pub(super) fn cptrst_page_put(p: *mut page);
        pub(super) fn cptrst_out_get(fd: i32, pos: *mut u64) -> *mut file;
        pub(super) fn cptrst_out_write(f: *mut file, buf: *const u8, len: usize, pos: *mut u64) -> isize;
        pub(super) fn cptrst_out_write_pages(f: *mut file, pages: *const *mut page, n: usize, pos: *mut u64) -> isize;
        pub(super) fn cptrst_out_put(f: *mut file, pos: u64);
        pub(super) fn cptrst_mm_maps_file(mm: *mut mm_struct, f: *mut file) -> i32;
        pub(super) fn cptrst_crc32c_available() -> i32;
        pub(super) fn cptrst_crc32c(crc: u32, p: *const u8, len: usize) -> u32;
        pub(super) fn cptrst_pages_crc32c(crc: u32, pages: *const *mut page, n: usize) -> u32;
        pub(super) fn cptrst_crc_job_start(pages: *const *mut page, n: usize) -> *mut cptrst_crc_job;
        pub(super) fn cptrst_crc_job_finish(j: *mut cptrst_crc_job) -> u32;
        pub(super) fn cptrst_crc32c_shift(crc: u32, len: usize) -> u32;
    }
}

use core::ptr::NonNull;
use kernel::bindings;
use kernel::error::{code, Error};
use kernel::prelude::*;

use crate::task::{Task, TaskExt};

fn errno_result(r: i32) -> Result {
    if r < 0 {
        Err(Error::from_errno(r))
    } else {
        Ok(())
    }
}

/// An mm with an `mm_users` reference.
///
/// # Invariants
/// `self.0` points to an `mm_struct` on which we own one `mm_users` reference.
pub(crate) struct Mm(NonNull<opaque::mm_struct>);

impl Mm {
    /// `t`'s mm (None for a zombie or a kernel thread).
    pub(crate) fn of_task(t: &Task) -> Option<Mm> {
        // SAFETY: a live task; get_task_mm() returns a reference or NULL.
        let mm = unsafe { dump_ffi::cptrst_task_mm_get(t.as_raw()) };
        // INVARIANT: get_task_mm() took an mm_users reference.
        NonNull::new(mm).map(Mm)
    }

    /// Whether `other` is the same address space.
    pub(crate) fn is(&self, other: &Mm) -> bool {
        self.0 == other.0
    }

    /// Takes the mmap lock for reading (killable).
    pub(crate) fn read_lock(&self) -> Result<MmReadGuard<'_>> {
        // SAFETY: the mm is referenced (type invariant).
        errno_result(unsafe { dump_ffi::cptrst_mm_read_lock(self.0.as_ptr()) })?;
        Ok(MmReadGuard(self))
    }
}

impl Drop for Mm {
    fn drop(&mut self) {
        // SAFETY: we own one mm_users reference (type invariant).
        unsafe { dump_ffi::cptrst_mm_put(self.0.as_ptr()) }
    }
}

/// The mmap lock of an [`Mm`], held for reading.
pub(crate) struct MmReadGuard<'a>(&'a Mm);

/// Pages pinned from an mm by [`MmReadGuard::pin_pages`]; unpinned on drop.
pub(crate) struct PinnedPages {
    /// [`PIN_BATCH`] entries, the first `n` pinned.
    pages: KVVec<*mut opaque::page>,
    n: usize,
}

/// How many pages [`MmReadGuard::pin_pages`] pins at most.
pub(crate) const PIN_BATCH: usize = 4096;

impl PinnedPages {
    /// An empty set.
    pub(crate) fn new() -> Result<Self> {
        Ok(PinnedPages { pages: KVVec::from_elem(core::ptr::null_mut(), PIN_BATCH, GFP_KERNEL)?, n: 0 })
    }

    /// Whether page `i` is anonymous (private, not page cache).
    pub(crate) fn is_anon(&self, i: usize) -> bool {
        // SAFETY: `i < n` entries are pinned pages (bounds-checked index).
        i < self.n && unsafe { dump_ffi::cptrst_page_is_anon(self.pages[i]) != 0 }
    }

    /// Copies page `i` into `dst` (one page long).
    pub(crate) fn copy(&self, i: usize, dst: &mut [u8]) -> Result {
        if i >= self.n || dst.len() != kernel::page::PAGE_SIZE {
            return Err(code::EINVAL);
        }
        // SAFETY: the page is pinned, `dst` is PAGE_SIZE writable bytes.
        unsafe { dump_ffi::cptrst_page_copy(self.pages[i], dst.as_mut_ptr()) };
        Ok(())
    }

    /// Extends the raw CRC32C state `crc` (see [`crate::image::CrcImpl`])
    /// over pages `i..j`, read in place.
    pub(crate) fn crc(&self, crc: u32, i: usize, j: usize) -> Result<u32> {
        if i > j || j > self.n {
            return Err(code::EINVAL);
        }
        match crc_impl() {
            // SAFETY: entries `i..j` are pinned pages (checked above); the
            // shim only maps and reads them.
            Some(_) => Ok(unsafe { dump_ffi::cptrst_pages_crc32c(crc, self.pages[i..j].as_ptr(), j - i) }),
            None => {
                let mut page = KVec::from_elem(0u8, kernel::page::PAGE_SIZE, GFP_KERNEL)?;
                let mut c = crc;
                for k in i..j {
                    self.copy(k, &mut page)?;
                    c = crate::image::crc32c_raw(c, &page);
                }
                Ok(c)
            }
        }
    }

    /// Starts computing the CRC32C of pages `i..j` (from a zero state) in a
    /// worker, to overlap it with writing them; `None` if that is not
    /// possible (no memory, no kernel crc32c): then use [`PinnedPages::crc`].
    pub(crate) fn crc_job(&self, i: usize, j: usize) -> Option<CrcJob<'_>> {
        // A short run: handing it to a worker costs more than it saves
        // (measured: a 100-process tree's checkpoint 0.22 s inline, 0.36 s
        // with a job per run).
        if i >= j || j > self.n || j - i < CRC_JOB_MIN_PAGES {
            return None;
        }
        // SAFETY: entries `i..j` are pinned pages (checked above); the
        // returned job borrows `self`, so they stay pinned until it is
        // finished or dropped, which waits for the worker.
        let job = unsafe { dump_ffi::cptrst_crc_job_start(self.pages[i..j].as_ptr(), j - i) };
        NonNull::new(job).map(|job| CrcJob { job, len: (j - i) * kernel::page::PAGE_SIZE, _pins: core::marker::PhantomData })
    }

    fn release(&mut self) {
        while self.n > 0 {
            self.n -= 1;
            // SAFETY: entries below the old `n` are pinned by GUP.
            unsafe { dump_ffi::cptrst_page_put(self.pages[self.n]) };
        }
    }
}

/// Runs shorter than this (256 KiB) get their CRC inline.
const CRC_JOB_MIN_PAGES: usize = 64;

/// A CRC32C computation over pinned pages in a worker
/// ([`PinnedPages::crc_job`]); dropping it waits for the worker.
///
/// # Invariants
/// `job` is a started job not yet finished; the pages it reads are pinned
/// by the [`PinnedPages`] it borrows.
pub(crate) struct CrcJob<'a> {
    job: NonNull<opaque::cptrst_crc_job>,
    len: usize,
    _pins: core::marker::PhantomData<&'a PinnedPages>,
}

impl CrcJob<'_> {
    /// Waits for the worker; returns the raw CRC32C state `state`
    /// extended over the job's pages.
    pub(crate) fn finish(self, state: u32) -> u32 {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: a started, unfinished job (type invariant); `this` is not
        // dropped, so it is finished exactly once.
        let crc = unsafe { dump_ffi::cptrst_crc_job_finish(this.job.as_ptr()) };
        // SAFETY: jobs are only started with the kernel's crc32c and its
        // shift available; a pure computation.
        unsafe { dump_ffi::cptrst_crc32c_shift(state, this.len) ^ crc }
    }
}

impl Drop for CrcJob<'_> {
    fn drop(&mut self) {
        // SAFETY: a started, unfinished job (type invariant).
        unsafe { dump_ffi::cptrst_crc_job_finish(self.job.as_ptr()) };
    }
}

impl Drop for PinnedPages {
    fn drop(&mut self) {
        self.release();
    }
}

impl MmReadGuard<'_> {
    fn mm(&self) -> *mut opaque::mm_struct {
        self.0 .0.as_ptr()
    }

    /// The layout fields, auxv, and the exe path (into `path`).
    pub(crate) fn info(&self, path: &mut [u8]) -> Result<MmInfo> {
        let mut out = core::mem::MaybeUninit::<MmInfo>::uninit();
        let size = u32::try_from(path.len()).map_err(|_| code::EINVAL)?;
        // SAFETY: the lock is held (guard), `out` and `path` are writable.
        errno_result(unsafe { dump_ffi::cptrst_mm_info(self.mm(), out.as_mut_ptr(), path.as_mut_ptr(), size) })?;
        // SAFETY: fully written by the successful call (memset first).
        Ok(unsafe { out.assume_init() })
    }

    /// The first VMA ending above `addr`, its file path into `path`.
    pub(crate) fn vma(&self, addr: u64, path: &mut [u8]) -> Result<Option<VmaInfo>> {
        let mut out = core::mem::MaybeUninit::<VmaInfo>::uninit();
        let size = u32::try_from(path.len()).map_err(|_| code::EINVAL)?;
        // SAFETY: the lock is held (guard), `out` and `path` are writable.
        let r = unsafe { dump_ffi::cptrst_vma_info(self.mm(), addr, out.as_mut_ptr(), path.as_mut_ptr(), size) };
        if r == -(bindings::ENOENT as i32) {
            return Ok(None);
        }
        errno_result(r)?;
        // SAFETY: fully written by the successful call (memset first).
        Ok(Some(unsafe { out.assume_init() }))
    }

    /// Pins up to `nr` (at most [`PIN_BATCH`]) present pages from `addr`
    /// into `pins` (emptied first). Returns how many; 0 if `addr` is a hole.
    pub(crate) fn pin_pages(&self, addr: u64, nr: usize, pins: &mut PinnedPages) -> Result<usize> {
        pins.release();
        let nr = nr.min(PIN_BATCH);
        // SAFETY: the lock is held; `pins.pages` has room for `nr` entries.
        let r = unsafe { dump_ffi::cptrst_mm_pages(self.mm(), addr, nr, pins.pages.as_mut_ptr()) };
        if r == -(bindings::EFAULT as isize) {
            return Ok(0);
        }
        if r < 0 {
            return Err(Error::from_errno(r as i32));
        }
        pins.n = (r as usize).min(nr);
        Ok(pins.n)
    }

    /// Whether this mm maps `out`'s file or runs it as its executable.
    pub(crate) fn maps_file(&self, out: &OutFile) -> bool {
        // SAFETY: the lock is held (guard); the file is referenced by `out`.
        unsafe { dump_ffi::cptrst_mm_maps_file(self.mm(), out.f.as_ptr()) != 0 }
    }

    /// Copies the shared-anonymous page at `addr` into `dst` if it exists.
    pub(crate) fn shmem_page(&self, addr: u64, dst: &mut [u8]) -> Result<bool> {
        if dst.len() != kernel::page::PAGE_SIZE {
            return Err(code::EINVAL);
        }
        // SAFETY: the lock is held; `dst` is PAGE_SIZE writable bytes.
        let r = unsafe { dump_ffi::cptrst_shmem_page(self.mm(), addr, dst.as_mut_ptr()) };
        if r < 0 {
            return Err(Error::from_errno(r as i32));
        }
        Ok(r == 1)
    }
}

impl Drop for MmReadGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the guard exists only while the read lock is held.
        unsafe { dump_ffi::cptrst_mm_read_unlock(self.mm()) }
    }
}

/// The caller's image fd, referenced, with our write position.
///
/// # Invariants
/// `f` points to a `file` on which we own one reference.
pub(crate) struct OutFile {
    f: NonNull<opaque::file>,
    pos: u64,
}

impl OutFile {
    /// Takes fd `fd` of the caller for writing.
    ///
    /// # Errors
    /// `EBADF` if not an fd open for writing; `EINVAL` if the kernel cannot write it.
    pub(crate) fn get(fd: i32) -> Result<OutFile> {
        let mut pos = 0u64;
        // SAFETY: `pos` is a local the shim writes.
        let f = unsafe { dump_ffi::cptrst_out_get(fd, &mut pos) };
        if (f as isize) < 0 && (f as isize) >= -4095 {
            return Err(Error::from_errno(f as isize as i32));
        }
        // INVARIANT: the shim returned a referenced file (fget).
        NonNull::new(f).map(|f| OutFile { f, pos }).ok_or(code::EBADF)
    }

    /// Writes all of `buf`.
    ///
    /// # Errors
    /// `EINTR` on a signal, `EPIPE`, `ENOSPC`, `EIO` and the like.
    pub(crate) fn write(&mut self, buf: &[u8]) -> Result {
        // SAFETY: `buf` is readable for its length; the file is referenced.
        let r = unsafe { dump_ffi::cptrst_out_write(self.f.as_ptr(), buf.as_ptr(), buf.len(), &mut self.pos) };
        if r < 0 {
            return Err(Error::from_errno(r as i32));
        }
        Ok(())
    }
}

impl OutFile {
    /// Writes pages `i..j` of `pins` straight from the pages.
    ///
    /// # Errors
    /// As [`OutFile::write`].
    pub(crate) fn write_pages(&mut self, pins: &PinnedPages, i: usize, j: usize) -> Result {
        if i > j || j > pins.n {
            return Err(code::EINVAL);
        }
        // SAFETY: entries `i..j` are pinned pages (checked above); the file
        // is referenced; the shim only reads the pages.
        let r = unsafe { dump_ffi::cptrst_out_write_pages(self.f.as_ptr(), pins.pages[i..j].as_ptr(), j - i, &mut self.pos) };
        if r < 0 {
            return Err(Error::from_errno(r as i32));
        }
        Ok(())
    }
}

/// The kernel's CRC32C on the raw state.
fn kernel_crc32c(crc: u32, data: &[u8]) -> u32 {
    // SAFETY: `data` is readable for its length; only called once
    // `cptrst_crc32c_available` said the kernel has crc32c.
    unsafe { dump_ffi::cptrst_crc32c(crc, data.as_ptr(), data.len()) }
}

/// The kernel's CRC32C (SSE4.2/PCLMULQDQ where the CPU has them) for the
/// image code, if the kernel has crc32c (CONFIG_LIBCRC32C); else `None`
/// and the image code uses its own table-driven one.
pub(crate) fn crc_impl() -> Option<crate::image::CrcImpl> {
    // SAFETY: no arguments, no state.
    (unsafe { dump_ffi::cptrst_crc32c_available() } != 0).then_some(kernel_crc32c as crate::image::CrcImpl)
}

impl Drop for OutFile {
    fn drop(&mut self) {
        // SAFETY: we own one reference (type invariant).
        unsafe { dump_ffi::cptrst_out_put(self.f.as_ptr(), self.pos) }
    }
}
