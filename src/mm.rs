// SPDX-License-Identifier: GPL-2.0
//! Address spaces, shaped like upstream's `kernel::mm` (6.13+): an mm with
//! an `mm_users` reference ([`MmWithUser`], `ARef`-counted), its mmap lock
//! held for reading ([`MmapReadGuard`]) and the VMA walk on the guard,
//! each VMA's facts ([`VmaInfo`]) classified here ([`VmaInfo::class`]),
//! pinned pages ([`PinnedPages`]), and the restored task's own address
//! space: its layout and auxv ([`MmLayout`]), mappings, and user copies
//! through [`UserSlice`].
//!
//! The C side (`cptrst_mm_*`, `cptrst_vma_*` in `src/cptrst_shim.c`,
//! `include/cptrst_abi.h`) only reads fields behind inline functions and
//! the mmap lock; every decision is here.

use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{code, to_result, Error, Result};
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::types::{ARef, AlwaysRefCounted, Opaque};
use kernel::uaccess::UserSlice;

use crate::file::LocalFile;
use crate::task::{Task, TaskExt};

/// Words of `saved_auxv` the dump copies out (`CPTRST_AUXV_WORDS`).
pub(crate) const AUXV_WORDS: usize = 128;
/// Size of a path buffer (`CPTRST_PATH_MAX`).
pub(crate) const PATH_MAX: usize = 4096;

mod ffi {
    use super::{MmInfo, MmLayout, VmaInfo};
    use kernel::bindings::{file, mm_struct, page};
    // bindgen gives some kernel structs zero-sized members: pointers to
    // them only pass through, as in bindgen's own declarations.
    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn cptrst_mmget(mm: *mut mm_struct);
        pub(super) fn cptrst_mm_read_lock_killable(mm: *mut mm_struct) -> i32;
        pub(super) fn cptrst_mm_read_unlock(mm: *mut mm_struct);
        pub(super) fn cptrst_mm_info_locked(
            mm: *mut mm_struct,
            out: *mut MmInfo,
            path: *mut u8,
            size: u32,
        ) -> i32;
        pub(super) fn cptrst_vma_info_locked(
            mm: *mut mm_struct,
            addr: u64,
            out: *mut VmaInfo,
        ) -> i32;
        pub(super) fn cptrst_vma_path_locked(
            mm: *mut mm_struct,
            addr: u64,
            path: *mut u8,
            size: u32,
        ) -> i32;
        pub(super) fn cptrst_mm_maps_file_locked(mm: *mut mm_struct, f: *mut file) -> i32;
        pub(super) fn cptrst_shmem_page_locked(
            mm: *mut mm_struct,
            addr: u64,
            dst: *mut u8,
        ) -> isize;
        pub(super) fn cptrst_mm_apply_layout(mm: *mut mm_struct, l: *const MmLayout) -> i32;
        pub(super) fn cptrst_mm_apply_auxv(mm: *mut mm_struct, auxv: *const u64, words: u32);
        pub(super) fn cptrst_auxv_max_words() -> u32;
        pub(super) fn cptrst_mm_vdso(mm: *mut mm_struct) -> u64;
        pub(super) fn cptrst_page_is_anon(p: *mut page) -> i32;
        pub(super) fn cptrst_page_copy(p: *mut page, dst: *mut u8);
        pub(super) fn cptrst_page_put(p: *mut page);
    }
}

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
const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(MmLayout, start_code) == 0);
    assert!(offset_of!(MmLayout, end_code) == 8);
    assert!(offset_of!(MmLayout, start_data) == 16);
    assert!(offset_of!(MmLayout, end_data) == 24);
    assert!(offset_of!(MmLayout, start_brk) == 32);
    assert!(offset_of!(MmLayout, brk) == 40);
    assert!(offset_of!(MmLayout, start_stack) == 48);
    assert!(offset_of!(MmLayout, arg_start) == 56);
    assert!(offset_of!(MmLayout, arg_end) == 64);
    assert!(offset_of!(MmLayout, env_start) == 72);
    assert!(offset_of!(MmLayout, env_end) == 80);
    assert!(core::mem::size_of::<MmLayout>() == 88);
};

impl MmLayout {
    /// From the fields in this order (`image::Mm::layout`).
    pub(crate) fn from_array(a: [u64; 11]) -> MmLayout {
        let [start_code, end_code, start_data, end_data, start_brk, brk, start_stack, arg_start, arg_end, env_start, env_end] =
            a;
        MmLayout {
            start_code,
            end_code,
            start_data,
            end_data,
            start_brk,
            brk,
            start_stack,
            arg_start,
            arg_end,
            env_start,
            env_end,
        }
    }

    /// prctl(PR_SET_MM_MAP)'s `RLIMIT_DATA` check (`check_data_rlimit`):
    /// the heap and the data segment together within `rlim`.
    fn data_within(&self, rlim: u64) -> bool {
        let heap = self.brk.wrapping_sub(self.start_brk);
        let data = self.end_data.wrapping_sub(self.start_data);
        rlim == u64::MAX || heap.wrapping_add(data) <= rlim
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
const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(MmInfo, layout) == 0);
    assert!(offset_of!(MmInfo, vdso) == 88);
    assert!(offset_of!(MmInfo, auxv) == 96);
    assert!(offset_of!(MmInfo, nr_auxv_words) == 96 + 8 * AUXV_WORDS);
    assert!(offset_of!(MmInfo, exe_path_len) == 100 + 8 * AUXV_WORDS);
    assert!(core::mem::size_of::<MmInfo>() == 104 + 8 * AUXV_WORDS);
};

/// `cptrst_vma_info.facts` bits (`CPTRST_VF_*`).
mod vf {
    pub(super) const FILE: u32 = 1 << 0;
    pub(super) const SHMEM: u32 = 1 << 1;
    pub(super) const DELETED: u32 = 1 << 2;
    pub(super) const NAMED: u32 = 1 << 3;
}

// vm_flags bits (include/linux/mm.h) the classification reads.
const VM_MAYSHARE: u64 = 0x80;
const VM_PFNMAP: u64 = 0x400;
const VM_IO: u64 = 0x4000;
const VM_HUGETLB: u64 = 0x40_0000;
const VM_MIXEDMAP: u64 = 0x1000_0000;

/// `struct cptrst_vma_info`: one VMA as it is, read under the mmap lock.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct VmaInfo {
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// `vm_flags`.
    pub(crate) flags: u64,
    pub(crate) pgoff: u64,
    /// The mapped file's inode number; for a shared anonymous VMA, the
    /// shmem object's, which with `dev` identifies the object (the ids of
    /// the image's SHM records, see `dump_mm::ShmIds`).
    pub(crate) inode: u64,
    /// The super block dev of the mapped file (or shmem object).
    pub(crate) dev: u64,
    facts: u32,
    pad: u32,
    special_name: [u8; 16],
    file_name: [u8; 16],
}
const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(VmaInfo, start) == 0);
    assert!(offset_of!(VmaInfo, end) == 8);
    assert!(offset_of!(VmaInfo, flags) == 16);
    assert!(offset_of!(VmaInfo, pgoff) == 24);
    assert!(offset_of!(VmaInfo, inode) == 32);
    assert!(offset_of!(VmaInfo, dev) == 40);
    assert!(offset_of!(VmaInfo, facts) == 48);
    assert!(offset_of!(VmaInfo, pad) == 52);
    assert!(offset_of!(VmaInfo, special_name) == 56);
    assert!(offset_of!(VmaInfo, file_name) == 72);
    assert!(core::mem::size_of::<VmaInfo>() == 88);
};

/// What a VMA is, for checkpoint and restart.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum VmaClass {
    /// Private anonymous memory.
    Anon,
    /// A private mapping of a file.
    FilePrivate,
    /// A shared mapping of a file.
    FileShared,
    /// Shared anonymous memory (a "dev/zero" shmem object).
    SharedAnon,
    /// The vDSO.
    Vdso,
    /// The vDSO's data pages.
    Vvar,
    /// A device, hugetlb, PFN or other special mapping: not supported.
    OtherSpecial,
}

/// A NUL-padded name field equal to `name`?
fn name_is(field: &[u8; 16], name: &[u8]) -> bool {
    field.get(..name.len()) == Some(name) && field.get(name.len()) == Some(&0)
}

impl VmaInfo {
    /// The class of the VMA: a special mapping by its name, then device
    /// and hugetlb mappings, anonymous memory, shared anonymous memory
    /// (shmem's "dev/zero" object), and files.
    pub(crate) fn class(&self) -> VmaClass {
        let shared = self.flags & VM_MAYSHARE != 0;
        if self.facts & vf::NAMED != 0 {
            return if name_is(&self.special_name, b"[vdso]") {
                VmaClass::Vdso
            } else if name_is(&self.special_name, b"[vvar]") {
                VmaClass::Vvar
            } else {
                VmaClass::OtherSpecial
            };
        }
        if self.flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP | VM_HUGETLB) != 0 {
            return VmaClass::OtherSpecial;
        }
        if self.facts & vf::FILE == 0 {
            return if shared {
                VmaClass::OtherSpecial
            } else {
                VmaClass::Anon
            };
        }
        if shared && self.facts & vf::SHMEM != 0 && name_is(&self.file_name, b"dev/zero") {
            return VmaClass::SharedAnon;
        }
        if shared {
            VmaClass::FileShared
        } else {
            VmaClass::FilePrivate
        }
    }

    /// Is the mapped file unlinked (only meaningful for file classes)?
    pub(crate) fn file_deleted(&self) -> bool {
        self.facts & vf::DELETED != 0
    }
}

/// An `mm_struct` with an `mm_users` reference (upstream's `MmWithUser`):
/// its address space, not only the struct, stays alive.
///
/// # Invariants
/// Every `&MmWithUser` points into an `mm_struct` whose `mm_users` count
/// is non-zero for the life of the borrow.
#[repr(transparent)]
pub(crate) struct MmWithUser {
    mm: Opaque<bindings::mm_struct>,
}

// SAFETY: the counts are atomics; `mmput` may run on any task in process
// context (it defers what needs more to a worker when called from one).
unsafe impl Send for MmWithUser {}
// SAFETY: the methods taking `&self` only take the mmap lock or read
// fields under it, which is safe from several tasks at once.
unsafe impl Sync for MmWithUser {}

// SAFETY: `mmget`/`mmput` keep the `mm_users` count, which keeps the
// object alive while non-zero.
unsafe impl AlwaysRefCounted for MmWithUser {
    fn inc_ref(&self) {
        // SAFETY: the count is non-zero (type invariant).
        unsafe { ffi::cptrst_mmget(self.as_raw()) }
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns one reference.
        unsafe { bindings::mmput(obj.cast::<bindings::mm_struct>().as_ptr()) }
    }
}

impl MmWithUser {
    /// The mm of `task`, referenced (None for a kernel thread or a task
    /// that has exited its mm).
    pub(crate) fn of_task(task: &Task) -> Option<ARef<MmWithUser>> {
        // SAFETY: `task` is a valid task for the borrow; get_task_mm()
        // takes an mm_users reference under task_lock.
        let mm = unsafe { bindings::get_task_mm(task.as_raw()) };
        // SAFETY: a new mm_users reference, which the ARef owns;
        // INVARIANT: the count stays non-zero while it lives.
        NonNull::new(mm).map(|mm| unsafe { ARef::from_raw(mm.cast::<MmWithUser>()) })
    }

    /// The calling task's mm, referenced.
    pub(crate) fn current() -> Result<ARef<MmWithUser>> {
        Self::of_task(kernel::current!()).ok_or(code::ESRCH)
    }

    fn as_raw(&self) -> *mut bindings::mm_struct {
        self.mm.get()
    }

    /// Is `other` the same address space?
    pub(crate) fn is(&self, other: &MmWithUser) -> bool {
        self.as_raw() == other.as_raw()
    }

    /// Takes the mmap lock for reading, killably.
    ///
    /// # Errors
    /// `EINTR` on a fatal signal.
    pub(crate) fn mmap_read_lock_killable(&self) -> Result<MmapReadGuard<'_>> {
        // SAFETY: the mm is alive (type invariant).
        to_result(unsafe { ffi::cptrst_mm_read_lock_killable(self.as_raw()) })?;
        // INVARIANT: the lock is held.
        Ok(MmapReadGuard {
            mm: self,
            _nts: core::marker::PhantomData,
        })
    }

    /// Where its vDSO is (`mm->context.vdso`).
    pub(crate) fn vdso(&self) -> u64 {
        // SAFETY: the mm is alive; a plain read.
        unsafe { ffi::cptrst_mm_vdso(self.as_raw()) }
    }

    /// Sets the layout fields and saved auxv of the caller's own mm, with
    /// the checks prctl(PR_SET_MM_MAP) makes that `restore_plan.rs` could
    /// not make in advance (`RLIMIT_DATA`); the auxv ends with `AT_NULL`.
    ///
    /// # Errors
    /// `EINVAL` if refused, `EINTR` on a fatal signal.
    pub(crate) fn set_layout_auxv(&self, l: &MmLayout, auxv: &[u64]) -> Result {
        let rlim = crate::rlimit::current_soft(crate::rlimit::Resource::Data);
        let words = u32::try_from(auxv.len()).map_err(|_| code::EINVAL)?;
        if !l.data_within(rlim)
            || auxv.len() < 2
            || auxv.len() > auxv_max_words()
            || auxv.len() % 2 != 0
        {
            return Err(code::EINVAL);
        }
        // SAFETY: the mm is alive, `l` is readable of the C layout.
        to_result(unsafe { ffi::cptrst_mm_apply_layout(self.as_raw(), l) })?;
        // SAFETY: `auxv` is readable for `words` words, at most the
        // array's size (checked above).
        unsafe { ffi::cptrst_mm_apply_auxv(self.as_raw(), auxv.as_ptr(), words) };
        Ok(())
    }
}

/// Words of `mm->saved_auxv` (`AT_VECTOR_SIZE`).
pub(crate) fn auxv_max_words() -> usize {
    // SAFETY: no precondition.
    unsafe { ffi::cptrst_auxv_max_words() as usize }
}

/// The mmap lock of a [`MmWithUser`], held for reading (upstream's
/// `MmapReadGuard`), with the VMA walk.
///
/// # Invariants
/// The mmap lock of `mm` is held for reading by this task while the guard lives.
pub(crate) struct MmapReadGuard<'a> {
    mm: &'a MmWithUser,
    /// A lock is released by the task that took it: not `Send`.
    _nts: core::marker::PhantomData<*mut ()>,
}

impl MmapReadGuard<'_> {
    fn raw(&self) -> *mut bindings::mm_struct {
        self.mm.as_raw()
    }

    /// The layout fields, auxv, and the exe path (into `path`).
    pub(crate) fn mm_info(&self, path: &mut [u8]) -> Result<MmInfo> {
        let mut out = core::mem::MaybeUninit::<MmInfo>::uninit();
        let size = u32::try_from(path.len()).map_err(|_| code::EINVAL)?;
        // SAFETY: the lock is held (type invariant), `out` and `path` are writable.
        to_result(unsafe {
            ffi::cptrst_mm_info_locked(self.raw(), out.as_mut_ptr(), path.as_mut_ptr(), size)
        })?;
        // SAFETY: fully written by the successful call (memset first).
        Ok(unsafe { out.assume_init() })
    }

    /// The first VMA ending above `addr` (`find_vma`).
    pub(crate) fn find_vma(&self, addr: u64) -> Result<Option<VmaInfo>> {
        let mut out = core::mem::MaybeUninit::<VmaInfo>::uninit();
        // SAFETY: the lock is held (type invariant), `out` is writable.
        let r = unsafe { ffi::cptrst_vma_info_locked(self.raw(), addr, out.as_mut_ptr()) };
        if r == -(bindings::ENOENT as i32) {
            return Ok(None);
        }
        to_result(r)?;
        // SAFETY: fully written by the successful call (memset first).
        Ok(Some(unsafe { out.assume_init() }))
    }

    /// The path of the file the VMA at `addr` maps, into `path`; its length.
    pub(crate) fn vma_path(&self, addr: u64, path: &mut [u8]) -> Result<usize> {
        let size = u32::try_from(path.len()).map_err(|_| code::EINVAL)?;
        // SAFETY: the lock is held (type invariant), `path` is writable.
        let r = unsafe { ffi::cptrst_vma_path_locked(self.raw(), addr, path.as_mut_ptr(), size) };
        to_result(r)?;
        Ok((r as usize).min(path.len()))
    }

    /// Pins up to `nr` (at most [`PIN_BATCH`]) present pages from `addr`
    /// into `pins` (emptied first). Returns how many; 0 if `addr` is a hole.
    pub(crate) fn pin_pages(&self, addr: u64, nr: usize, pins: &mut PinnedPages) -> Result<usize> {
        pins.release();
        let nr = nr.min(PIN_BATCH);
        let flags = bindings::FOLL_DUMP | bindings::FOLL_FORCE;
        // SAFETY: the lock is held; `pins.pages` has room for `nr` entries.
        // FOLL_DUMP: no fault-in of never-touched pages nor the zero page;
        // FOLL_FORCE reads PROT_NONE mappings as ptrace does.
        let r = unsafe {
            bindings::get_user_pages_remote(
                self.raw(),
                addr as _,
                nr as _,
                flags,
                pins.pages.as_mut_ptr(),
                core::ptr::null_mut(),
            )
        };
        if r == -(bindings::EFAULT as isize) {
            return Ok(0);
        }
        if r < 0 {
            return Err(Error::from_errno(r as i32));
        }
        // INVARIANT: GUP pinned the first `r` entries.
        pins.n = (r as usize).min(nr);
        Ok(pins.n)
    }

    /// Whether this mm maps `f`'s inode or runs it as its executable.
    pub(crate) fn maps_file(&self, f: &LocalFile) -> bool {
        // SAFETY: the lock is held (type invariant); the file is referenced.
        unsafe { ffi::cptrst_mm_maps_file_locked(self.raw(), f.as_ptr()) != 0 }
    }

    /// Copies the shared-anonymous page at `addr` into `dst` if it exists.
    pub(crate) fn shmem_page(&self, addr: u64, dst: &mut [u8]) -> Result<bool> {
        if dst.len() != PAGE_SIZE {
            return Err(code::EINVAL);
        }
        // SAFETY: the lock is held; `dst` is PAGE_SIZE writable bytes.
        let r = unsafe { ffi::cptrst_shmem_page_locked(self.raw(), addr, dst.as_mut_ptr()) };
        if r < 0 {
            return Err(Error::from_errno(r as i32));
        }
        Ok(r == 1)
    }
}

impl Drop for MmapReadGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the lock is held by this task (type invariant).
        unsafe { ffi::cptrst_mm_read_unlock(self.raw()) }
    }
}

/// How many pages [`MmapReadGuard::pin_pages`] pins at most.
pub(crate) const PIN_BATCH: usize = 4096;

/// Pages pinned from an mm by [`MmapReadGuard::pin_pages`]; unpinned on drop.
///
/// # Invariants
/// `pages` has [`PIN_BATCH`] entries, the first `n` pinned by GUP and
/// owned by this value.
pub(crate) struct PinnedPages {
    pages: KVVec<*mut bindings::page>,
    n: usize,
}

impl PinnedPages {
    /// An empty set.
    pub(crate) fn new() -> Result<Self> {
        // INVARIANT: none pinned.
        Ok(PinnedPages {
            pages: KVVec::from_elem(core::ptr::null_mut(), PIN_BATCH, GFP_KERNEL)?,
            n: 0,
        })
    }

    /// Pages `i..j`, all pinned while `self` is borrowed.
    pub(crate) fn range(&self, i: usize, j: usize) -> Result<&[*mut bindings::page]> {
        if i > j || j > self.n {
            return Err(code::EINVAL);
        }
        Ok(&self.pages[i..j])
    }

    /// Whether page `i` is anonymous (private, not page cache).
    pub(crate) fn is_anon(&self, i: usize) -> bool {
        // SAFETY: `i < n` entries are pinned pages (type invariant).
        i < self.n && unsafe { ffi::cptrst_page_is_anon(self.pages[i]) != 0 }
    }

    /// Copies page `i` into `dst` (one page long).
    pub(crate) fn copy(&self, i: usize, dst: &mut [u8]) -> Result {
        if i >= self.n || dst.len() != PAGE_SIZE {
            return Err(code::EINVAL);
        }
        // SAFETY: the page is pinned, `dst` is PAGE_SIZE writable bytes.
        unsafe { ffi::cptrst_page_copy(self.pages[i], dst.as_mut_ptr()) };
        Ok(())
    }

    fn release(&mut self) {
        while self.n > 0 {
            self.n -= 1;
            // SAFETY: entries below the old `n` are pinned by GUP (type
            // invariant); INVARIANT: `n` counts down as each is unpinned.
            unsafe { ffi::cptrst_page_put(self.pages[self.n]) };
        }
    }
}

impl Drop for PinnedPages {
    fn drop(&mut self) {
        self.release();
    }
}

// ---------------------------------------------------------------------
// The caller's address space, rebuilt by restart.

/// Where the caller's vDSO and vvar are (zeros: none).
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Special {
    pub(crate) vdso_start: u64,
    pub(crate) vdso_end: u64,
    pub(crate) vvar_start: u64,
    pub(crate) vvar_end: u64,
}

/// Where the caller's vDSO and vvar are now.
///
/// # Errors
/// `EINTR` on a fatal signal.
pub(crate) fn special() -> Result<Special> {
    let mm = MmWithUser::current()?;
    let g = mm.mmap_read_lock_killable()?;
    let mut s = Special::default();
    let mut addr = 0;
    while let Some(v) = g.find_vma(addr)? {
        match v.class() {
            VmaClass::Vdso => (s.vdso_start, s.vdso_end) = (v.start, v.end),
            VmaClass::Vvar => (s.vvar_start, s.vvar_end) = (v.start, v.end),
            _ => {}
        }
        addr = v.end;
    }
    Ok(s)
}

/// Unmaps every mapping of the caller but its vDSO and vvar, which a
/// module cannot create or move (the trampoline moves them). Returns how
/// many mappings were removed.
pub(crate) fn unmap_all() -> Result<usize> {
    let mm = MmWithUser::current()?;
    let (mut addr, mut n) = (0u64, 0usize);
    loop {
        let next = {
            let g = mm.mmap_read_lock_killable()?;
            let mut found = None;
            while let Some(v) = g.find_vma(addr)? {
                if !matches!(v.class(), VmaClass::Vdso | VmaClass::Vvar) {
                    found = Some((v.start, v.end));
                    break;
                }
                addr = v.end;
            }
            found
        };
        let Some((start, end)) = next else {
            return Ok(n);
        };
        munmap(start, end - start)?;
        addr = end;
        n += 1;
    }
}

/// mmap flags and protections (uapi asm-generic/mman*.h).
pub(crate) mod mman {
    pub(crate) const MAP_SHARED: u32 = 0x01;
    pub(crate) const MAP_PRIVATE: u32 = 0x02;
    pub(crate) const MAP_FIXED: u32 = 0x10;
    pub(crate) const MAP_ANONYMOUS: u32 = 0x20;
    pub(crate) const MAP_GROWSDOWN: u32 = 0x100;
    pub(crate) const MAP_NORESERVE: u32 = 0x4000;
    pub(crate) const PROT_RWX: u32 = 0x7;
}

/// The mmap flags restart uses; anything else is a bug of the caller.
const MAP_OK: u32 = mman::MAP_SHARED
    | mman::MAP_PRIVATE
    | mman::MAP_FIXED
    | mman::MAP_ANONYMOUS
    | mman::MAP_GROWSDOWN
    | mman::MAP_NORESERVE;

/// `vm_mmap()` of `file` (or anonymous memory) at exactly `addr`.
///
/// # Errors
/// `EINVAL` for other flags than restart's, without `MAP_FIXED`, or if the
/// kernel placed it elsewhere; what `vm_mmap` returns.
pub(crate) fn mmap(
    file: Option<&LocalFile>,
    addr: u64,
    len: u64,
    prot: u32,
    flags: u32,
    off: u64,
) -> Result {
    if flags & !MAP_OK != 0 || flags & mman::MAP_FIXED == 0 || prot & !mman::PROT_RWX != 0 {
        return Err(code::EINVAL);
    }
    let f = file.map_or(core::ptr::null_mut(), |f| f.as_ptr());
    // SAFETY: `f` is NULL or a referenced file (the mapping takes its own
    // reference); vm_mmap() acts on the caller's mm and checks the rest.
    let r = unsafe { bindings::vm_mmap(f, addr as _, len as _, prot as _, flags as _, off as _) }
        as u64;
    if r >= (-4095i64) as u64 {
        return Err(Error::from_errno(r as i64 as i32));
    }
    if r != addr {
        // Not where it must be: undo the mapping just made elsewhere.
        let _ = munmap(r, len);
        return Err(code::EINVAL);
    }
    Ok(())
}

/// Unmaps `[addr, addr + len)` of the caller.
pub(crate) fn munmap(addr: u64, len: u64) -> Result {
    let len = usize::try_from(len).map_err(|_| code::EINVAL)?;
    // SAFETY: no precondition; vm_munmap() checks the range and acts on
    // the caller's mm.
    to_result(unsafe { bindings::vm_munmap(addr as _, len) })
}

/// Writes `buf` at `addr` of a private mapping the caller may not write
/// (read-only, `PROT_NONE`), breaking copy-on-write as a ptrace POKE does.
pub(crate) fn write_force(addr: u64, buf: &[u8]) -> Result {
    let len = i32::try_from(buf.len()).map_err(|_| code::EINVAL)?;
    let flags = bindings::FOLL_FORCE | bindings::FOLL_WRITE;
    // SAFETY: `current` is alive; `buf` is readable for `len` bytes, which
    // access_process_vm() only reads with FOLL_WRITE.
    let n = unsafe {
        bindings::access_process_vm(
            bindings::get_current(),
            addr as _,
            buf.as_ptr() as *mut core::ffi::c_void,
            len,
            flags,
        )
    };
    if n == len {
        Ok(())
    } else {
        Err(code::EFAULT)
    }
}

/// Is the caller's vDSO (`mm->context.vdso`) at `addr`?
pub(crate) fn vdso_is(addr: u64) -> bool {
    MmWithUser::current().is_ok_and(|mm| mm.vdso() == addr)
}

/// Sets the caller's mm layout and saved auxv (`auxv` ends with AT_NULL).
pub(crate) fn set_mm(l: &MmLayout, auxv: &[u64]) -> Result {
    MmWithUser::current()?.set_layout_auxv(l, auxv)
}

/// Copies `buf` to user address `addr` of the caller.
pub(crate) fn copy_to_user(addr: u64, buf: &[u8]) -> Result {
    let addr = usize::try_from(addr).map_err(|_| code::EFAULT)?;
    UserSlice::new(addr, buf.len()).writer().write_slice(buf)
}
