// SPDX-License-Identifier: GPL-2.0
//! CRC32C of the image by the kernel (SSE4.2/PCLMULQDQ where the CPU has
//! them), on the raw state (see [`crate::image::CrcImpl`]): which
//! implementation, and how a range is split: what is checksummed inline
//! and what by a worker (on another CPU if one is idle) at the same time,
//! for pinned pages on the dump side ([`pages`], [`PagesJob`]) and for the
//! image's page cache on the restart side ([`file_range`]).
//!
//! The C side (`cptrst_*crc32c*`, `cptrst_crc_job_*`) computes one range at
//! a time and says what the kernel has; every threshold is here.

use core::ptr::NonNull;

use kernel::error::{Error, Result};
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;

use crate::file::{ff, LocalFile};
use crate::mm::PinnedPages;

mod ffi {
    use kernel::bindings::{file, page};
    #[repr(C)]
    pub(super) struct cptrst_crc_job {
        _private: [u8; 0],
        _pin: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
    }
    // bindgen gives some kernel structs zero-sized members: pointers to
    // them only pass through, as in bindgen's own declarations.
    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn cptrst_crc32c_available() -> i32;
        pub(super) fn cptrst_crc32c_shift_available() -> i32;
        pub(super) fn cptrst_crc32c(crc: u32, p: *const u8, len: usize) -> u32;
        pub(super) fn cptrst_crc32c_shift(crc: u32, len: usize) -> u32;
        pub(super) fn cptrst_pages_crc32c(crc: u32, pages: *const *mut page, n: usize) -> u32;
        pub(super) fn cptrst_file_crc32c(
            f: *mut file,
            pos: u64,
            len: usize,
            crc: *mut u32,
        ) -> isize;
        pub(super) fn cptrst_crc_job_pages(
            pages: *const *mut page,
            n: usize,
        ) -> *mut cptrst_crc_job;
        pub(super) fn cptrst_crc_job_file(
            f: *mut file,
            pos: u64,
            len: usize,
        ) -> *mut cptrst_crc_job;
        pub(super) fn cptrst_crc_job_finish(j: *mut cptrst_crc_job, crc: *mut u32) -> isize;
    }
}

/// Page runs shorter than this (256 KiB) get their CRC inline: handing
/// them to a worker costs more than it saves (measured: a 100-process
/// tree's checkpoint 0.22 s inline, 0.36 s with a job per run).
const PAGES_JOB_MIN: usize = 64;

/// Image ranges checksummed in place from this size on (2 MiB) are split
/// in two, the second half by a worker.
const FILE_SPLIT_MIN: usize = 2 << 20;

/// The kernel's CRC32C on the raw state.
fn kernel_crc32c(crc: u32, data: &[u8]) -> u32 {
    // SAFETY: `data` is readable for its length; only called once
    // `cptrst_crc32c_available` said the kernel has crc32c.
    unsafe { ffi::cptrst_crc32c(crc, data.as_ptr(), data.len()) }
}

/// The kernel's CRC32C for the image code, if the kernel has crc32c
/// (CONFIG_LIBCRC32C); else `None` and the image code uses its own
/// table-driven one.
pub(crate) fn crc_impl() -> Option<crate::image::CrcImpl> {
    // SAFETY: no arguments, no state.
    (unsafe { ffi::cptrst_crc32c_available() } != 0)
        .then_some(kernel_crc32c as crate::image::CrcImpl)
}

/// Can a worker's CRC be combined into a running one (the kernel's crc32c
/// and its shift, CONFIG_CRC32)?
fn jobs_possible() -> bool {
    // SAFETY: no arguments, no state.
    crc_impl().is_some() && unsafe { ffi::cptrst_crc32c_shift_available() } != 0
}

/// `state` followed by `len` bytes whose CRC from a zero state is `crc`.
fn combine(state: u32, len: usize, crc: u32) -> u32 {
    // SAFETY: only called for jobs, which need the shift (`jobs_possible`).
    unsafe { ffi::cptrst_crc32c_shift(state, len) ^ crc }
}

/// Extends the raw CRC32C state `crc` over pinned pages `i..j`, read in place.
pub(crate) fn pages(pins: &PinnedPages, crc: u32, i: usize, j: usize) -> Result<u32> {
    let run = pins.range(i, j)?;
    if crc_impl().is_some() {
        // SAFETY: the pages are pinned while `pins` is borrowed; the shim
        // only maps and reads them.
        return Ok(unsafe { ffi::cptrst_pages_crc32c(crc, run.as_ptr(), run.len()) });
    }
    let mut page = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
    let mut c = crc;
    for k in i..j {
        pins.copy(k, &mut page)?;
        c = crate::image::crc32c_raw(c, &page);
    }
    Ok(c)
}

/// A CRC32C computation in a worker; dropping it waits for the worker.
///
/// # Invariants
/// `job` is a started job not yet finished, over `len` bytes that stay
/// valid (pages pinned, file referenced) for `'a`.
pub(crate) struct PagesJob<'a> {
    job: NonNull<ffi::cptrst_crc_job>,
    len: usize,
    _data: core::marker::PhantomData<&'a ()>,
}

impl<'a> PagesJob<'a> {
    /// Starts computing the CRC32C of pinned pages `i..j` in a worker, to
    /// overlap it with writing them; `None` when inline is better (a short
    /// run) or the only way (no memory, no kernel crc32c or shift).
    pub(crate) fn start(pins: &'a PinnedPages, i: usize, j: usize) -> Option<PagesJob<'a>> {
        let run = pins.range(i, j).ok()?;
        if run.len() < PAGES_JOB_MIN || !jobs_possible() {
            return None;
        }
        // SAFETY: the pages are pinned while `pins` is borrowed, which the
        // job does for 'a; finishing or dropping it waits for the worker.
        let job = unsafe { ffi::cptrst_crc_job_pages(run.as_ptr(), run.len()) };
        // INVARIANT: started, over pages valid for 'a.
        NonNull::new(job).map(|job| PagesJob {
            job,
            len: run.len() * PAGE_SIZE,
            _data: core::marker::PhantomData,
        })
    }

    /// Waits for the worker: its range's CRC from a zero state and result.
    fn wait(self) -> (isize, u32) {
        let this = core::mem::ManuallyDrop::new(self);
        let mut crc = 0;
        // SAFETY: a started, unfinished job (type invariant); `this` is not
        // dropped, so it is finished exactly once.
        let r = unsafe { ffi::cptrst_crc_job_finish(this.job.as_ptr(), &mut crc) };
        (r, crc)
    }

    /// Waits for the worker; returns the raw CRC32C state `state` extended
    /// over the job's bytes.
    pub(crate) fn finish(self, state: u32) -> u32 {
        let len = self.len;
        let (_, crc) = self.wait();
        combine(state, len, crc)
    }
}

impl Drop for PagesJob<'_> {
    fn drop(&mut self) {
        let mut crc = 0;
        // SAFETY: a started, unfinished job (type invariant).
        unsafe { ffi::cptrst_crc_job_finish(self.job.as_ptr(), &mut crc) };
    }
}

/// One range of `f` in its page cache: `Some` when done, `None` when a
/// page is not in memory.
fn file_part(f: &LocalFile, pos: u64, len: usize, crc: u32) -> Result<Option<u32>> {
    let mut c = crc;
    // SAFETY: the file is referenced; `c` is a local the shim writes.
    let r = unsafe { ffi::cptrst_file_crc32c(f.as_ptr(), pos, len, &mut c) };
    match r {
        r if r < 0 => Err(Error::from_errno(r as i32)),
        1 => Ok(Some(c)),
        _ => Ok(None),
    }
}

/// Extends the raw CRC32C `crc` over `len` bytes of `f` at `pos`, read in
/// place in the page cache without copying them: only for a shmem file
/// (tmpfs, memfd: what `cptrst restart` reads) whose pages are all in
/// memory, with the kernel's crc32c. A range of [`FILE_SPLIT_MIN`] or more
/// is split in two, the second half checksummed by a worker meanwhile.
/// `None` when it could not (then read the bytes).
///
/// # Errors
/// `EINTR` on a fatal signal.
pub(crate) fn file_range(f: &LocalFile, pos: u64, len: usize, crc: u32) -> Result<Option<u32>> {
    let facts = f.facts();
    let end = pos.checked_add(len as u64);
    if crc_impl().is_none() || !facts.has(ff::SHMEM) || end.map_or(true, |e| e > facts.size) {
        return Ok(None);
    }
    let half = (len / 2) & !(PAGE_SIZE - 1);
    let job = if len >= FILE_SPLIT_MIN && jobs_possible() {
        // SAFETY: the file is referenced by the caller's borrow, which
        // outlives the job: it is finished below before returning.
        NonNull::new(unsafe { ffi::cptrst_crc_job_file(f.as_ptr(), pos + half as u64, len - half) })
    } else {
        None
    };
    let Some(job) = job else {
        return file_part(f, pos, len, crc);
    };
    let first = file_part(f, pos, half, crc);
    let mut jcrc = 0;
    // SAFETY: the job started above and is finished once, here; it reads
    // the caller's file, a bounded computation (not killable).
    let jr = unsafe { ffi::cptrst_crc_job_finish(job.as_ptr(), &mut jcrc) };
    let Some(c) = first? else { return Ok(None) };
    match jr {
        r if r < 0 => Err(Error::from_errno(r as i32)),
        1 => Ok(Some(combine(c, len - half, jcrc))),
        _ => Ok(None),
    }
}
