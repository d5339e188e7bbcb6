// SPDX-License-Identifier: GPL-2.0
//! Dump code for address spaces: the mm layout, auxv and exe path, one
//! record per VMA, and the contents of the pages that exist.
//!
//! Pages are read without changing the task: anonymous memory through
//! `get_user_pages_remote(FOLL_DUMP)` (never-touched pages and the zero
//! page are holes, not faulted in), private file mappings likewise but only
//! their anonymous (written) pages, shared anonymous memory from its shmem
//! object without allocating. Shared file mappings, the vDSO and vvar carry
//! no pages: the file and the kernel have them. The mmap lock is held only
//! to pin a batch of pages, never while writing the image.
//!
//! Each shared anonymous VMA is followed by an SHM record naming its shmem
//! object: the same id for every VMA, in any mm of the tree, that maps the
//! same object (a mapping inherited across fork), numbered 1, 2, ... in
//! order of first appearance ([`ShmIds`]). Each mapper's pages are still
//! dumped.
//!
//! A live checkpoint: its rounds copy, while the tree runs, the present
//! pages of the private VMAs inside the caller's ranges ([`write_round`]:
//! each page copied into the buffer before it is checksummed); its final
//! call dumps, in an address space with rounds, only the pages inside the
//! dirty ranges and writes PREVPAGES runs for the other present pages
//! ([`LiveMm`], `write_pages_live`).

use kernel::error::code;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::rbtree::RBTree;

use crate::dump_files::{TreeFiles, Who};
use crate::error::eopnotsupp;
use crate::error::{fail, Fail};
use crate::image::{self, VmaKind};
use crate::image_out::{ImageOut, RUN_PAGES};
use crate::mm::{self, MmInfo, MmWithUser, PinnedPages, VmaClass, VmaInfo, PIN_BATCH};
use crate::task::{Task, TaskExt, TaskInfo};
use kernel::types::ARef;

// vm_flags bits (include/linux/mm.h).
const VM_READ: u64 = 0x1;
const VM_WRITE: u64 = 0x2;
const VM_EXEC: u64 = 0x4;
const VM_MAYREAD: u64 = 0x10;
const VM_MAYWRITE: u64 = 0x20;
const VM_MAYEXEC: u64 = 0x40;
const VM_GROWSDOWN: u64 = 0x100;
const VM_LOCKED: u64 = 0x2000;
const VM_DONTCOPY: u64 = 0x20000;
const VM_LOCKONFAULT: u64 = 0x0008_0000;
const VM_NORESERVE: u64 = 0x200000;
const VM_WIPEONFORK: u64 = 0x0200_0000;
const VM_DONTDUMP: u64 = 0x0400_0000;

/// What [`collect`] finds: the address spaces, each task's mm id, each
/// address space's first task (its position in the order).
pub(crate) type Collected = (KVec<ARef<MmWithUser>>, KVec<u32>, KVec<usize>);

/// The distinct address spaces of `tasks`, each task's mm id (index in
/// the returned list plus one; 0 for none), numbered in tree `order`, and
/// for each address space the position in `order` of its first task.
pub(crate) fn collect(tasks: &[ARef<Task>], order: &[usize]) -> Result<Collected> {
    let mut mms: KVec<ARef<MmWithUser>> = KVec::new();
    let mut owners: KVec<usize> = KVec::new();
    let mut ids: KVec<u32> = KVec::from_elem(0u32, tasks.len(), GFP_KERNEL)?;
    for (pos, &k) in order.iter().enumerate() {
        let Some(mm) = MmWithUser::of_task(&tasks[k]) else {
            continue;
        };
        let id = match mms.iter().position(|m| m.is(&mm)) {
            Some(p) => p,
            None => {
                mms.push(mm, GFP_KERNEL)?;
                owners.push(pos, GFP_KERNEL)?;
                mms.len() - 1
            }
        };
        ids[k] = u32::try_from(id + 1).map_err(|_| code::E2BIG)?;
    }
    Ok((mms, ids, owners))
}

/// The MAPFILE of the file VMA starting at `start`.
pub(crate) struct MapFileAt {
    start: u64,
    rec: image::MapFile,
}

/// The pre-pass over the file mappings of every address space (`owners`:
/// the position in `order` of a task of each): the file of each file
/// VMA, its size and mode for the MAPFILE, and the files of memfd and
/// deleted-file mappings added to `files` as FILE objects (after the fds'
/// ones, in mm order). Per mm, the MAPFILE records in VMA order.
///
/// # Errors
/// `EOPNOTSUPP` (a mapping of something that is neither a regular file
/// nor a memfd or a deleted regular file), `EBUSY` (a mapping went away),
/// `EINTR`, `ENOMEM`.
pub(crate) fn collect_map_files(
    mms: &[ARef<MmWithUser>],
    owners: &[usize],
    tasks: &[ARef<Task>],
    infos: &[TaskInfo],
    order: &[usize],
    files: &mut TreeFiles,
) -> Result<KVec<KVec<MapFileAt>>, Fail> {
    let mut all = KVec::with_capacity(mms.len(), GFP_KERNEL)?;
    for (mm, &pos) in mms.iter().zip(owners.iter()) {
        let k = order[pos];
        let (t, index, pid) = (&tasks[k], pos as u32, infos[k].pids[0]);
        // The file VMAs, read under the lock; their files looked up without it.
        let mut starts: KVec<(u64, bool)> = KVec::new();
        {
            let g = mm.mmap_read_lock_killable()?;
            let mut addr = 0u64;
            while let Some(v) = g.find_vma(addr)? {
                if matches!(v.class(), VmaClass::FilePrivate | VmaClass::FileShared) {
                    starts.push((v.start, v.file_deleted()), GFP_KERNEL)?;
                }
                addr = v.end;
            }
        }
        let mut recs = KVec::with_capacity(starts.len(), GFP_KERNEL)?;
        for &(start, deleted) in starts.iter() {
            let who = Who::Vma { index, pid, start };
            let Some(file) = t.vma_file(start)? else {
                return Err(fail!(
                    code::EBUSY,
                    "{} went away during the checkpoint",
                    who
                ));
            };
            let facts = file.facts();
            if !facts.is_reg() {
                pr_info!(
                    "cptrst: checkpoint: {} maps a file that is not regular\n",
                    who
                );
                return Err(fail!(
                    eopnotsupp(),
                    "{} maps a file that is not regular: not supported",
                    who
                ));
            }
            let id = files.map_id(file, who, deleted)?;
            recs.push(
                MapFileAt {
                    start,
                    rec: image::MapFile {
                        size: facts.size,
                        mode: facts.i_mode,
                        file: id,
                    },
                },
                GFP_KERNEL,
            )?;
        }
        all.push(recs, GFP_KERNEL)?;
    }
    Ok(all)
}

/// One VMA as read under the lock, its path in the arena.
struct VmaRec {
    info: VmaInfo,
    path_off: usize,
    path_len: usize,
}

fn prot_of(f: u64) -> u32 {
    (if f & VM_READ != 0 {
        image::PROT_READ
    } else {
        0
    }) | (if f & VM_WRITE != 0 {
        image::PROT_WRITE
    } else {
        0
    }) | (if f & VM_EXEC != 0 {
        image::PROT_EXEC
    } else {
        0
    })
}

fn flags_of(f: u64) -> u32 {
    let map = [
        (VM_GROWSDOWN, image::VMA_GROWSDOWN),
        (VM_LOCKED, image::VMA_LOCKED),
        (VM_DONTCOPY, image::VMA_DONTFORK),
        (VM_DONTDUMP, image::VMA_DONTDUMP),
        (VM_NORESERVE, image::VMA_NORESERVE),
        (VM_MAYREAD, image::VMA_MAYREAD),
        (VM_MAYWRITE, image::VMA_MAYWRITE),
        (VM_MAYEXEC, image::VMA_MAYEXEC),
        (VM_WIPEONFORK, image::VMA_WIPEONFORK),
    ];
    let flags = map
        .iter()
        .filter(|(k, _)| f & k != 0)
        .fold(0, |a, (_, v)| a | v);
    // mlock2(MLOCK_ONFAULT) sets both, munlock clears both.
    if f & VM_LOCKED != 0 && f & VM_LOCKONFAULT != 0 {
        flags | image::VMA_LOCKONFAULT
    } else {
        flags
    }
}

/// The image's kind of a VMA, or why it cannot be checkpointed.
fn kind_of(v: &VmaInfo, mm: &MmInfo) -> Result<VmaKind> {
    let l = &mm.layout;
    let kind = match v.class() {
        VmaClass::Anon if v.start <= l.start_stack && l.start_stack < v.end => VmaKind::Stack,
        VmaClass::Anon if l.brk > l.start_brk && v.start >= l.start_brk && v.start < l.brk => {
            VmaKind::Heap
        }
        VmaClass::Anon => VmaKind::AnonPrivate,
        VmaClass::FilePrivate => VmaKind::FilePrivate,
        VmaClass::FileShared => VmaKind::FileShared,
        VmaClass::SharedAnon => VmaKind::SharedAnon,
        VmaClass::Vdso => VmaKind::Vdso,
        VmaClass::Vvar => VmaKind::Vvar,
        VmaClass::OtherSpecial => {
            pr_info!(
                "cptrst: checkpoint: mapping {:#x}-{:#x} is a device, hugetlb or special mapping: not supported\n",
                v.start,
                v.end
            );
            return Err(eopnotsupp());
        }
    };
    // A deleted file or memfd is mapped from its FILE object (MAPFILE).
    Ok(kind)
}

/// The ids of the SHM records: one per shmem object, numbered 1, 2, ... in
/// order of first appearance across all the mms of the image (the format
/// requires that order), keyed by the object's identity.
///
/// The identity is the shmem inode's (super block dev, inode number), as
/// `cptrst_vma_info_locked` gives them for a shared anonymous VMA. Every
/// "dev/zero" object is created by `shmem_zero_setup()` on the kernel's
/// internal shm mount (`shm_mnt`, an `SB_KERNMOUNT` super block), whose
/// inode numbers come from a 64-bit counter (`shmem_reserve_inode()`, per
/// cpu batches of `sbinfo->next_ino`) that never wraps nor hands out a
/// number twice: on that super block the inode number names one object for
/// the life of the system, even one freed meanwhile. The dev is only there
/// so that the key stays unique should another shmem super block ever be
/// involved.
struct ShmIds {
    ids: RBTree<(u64, u64), u64>,
    last: u64,
}

impl ShmIds {
    fn new() -> Self {
        ShmIds {
            ids: RBTree::new(),
            last: 0,
        }
    }

    /// The id of the object of shared anonymous VMA `v`, a new one if the
    /// object was not seen before.
    fn id(&mut self, v: &VmaInfo) -> Result<u64> {
        let key = (v.dev, v.inode);
        if let Some(&id) = self.ids.get(&key) {
            return Ok(id);
        }
        let id = self.last.checked_add(1).ok_or(code::E2BIG)?;
        self.ids.try_create_and_insert(key, id, GFP_KERNEL)?;
        self.last = id;
        Ok(id)
    }
}

/// Writes every address space: MM, then each VMA with its MAPFILE
/// (`maps`, from [`collect_map_files`]) and its pages.
///
/// `live`: a live checkpoint's final call, per address space the source
/// whose rounds copied it (None: dump all its pages), loaded as its turn
/// comes (one source's ranges in memory at a time).
pub(crate) fn write_mms(
    out: &mut ImageOut,
    mms: &[ARef<MmWithUser>],
    maps: &[KVec<MapFileAt>],
    live: &[Option<crate::live::SrcRef>],
) -> Result {
    let mut path = KVec::from_elem(0u8, mm::PATH_MAX, GFP_KERNEL)?;
    // One numbering for the whole image: objects are shared across mms.
    let mut shm = ShmIds::new();
    for (i, mm) in mms.iter().enumerate() {
        let lm = match live.get(i).and_then(|s| s.as_ref()) {
            Some(s) => Some(LiveMm {
                src: s.src,
                dirty: s.ranges().map_err(|f| f.err)?,
            }),
            None => None,
        };
        write_mm(
            out,
            u32::try_from(i + 1).map_err(|_| code::E2BIG)?,
            mm,
            maps.get(i).map_or(&[][..], |m| &m[..]),
            &mut path,
            &mut shm,
            lm.as_ref(),
        )?;
    }
    Ok(())
}

/// Reads the layout, the exe path and the VMA list (with the paths of the
/// mapped files) under the mmap lock, the paths into `arena`.
fn read_mm(
    mm: &MmWithUser,
    path: &mut [u8],
    arena: &mut KVec<u8>,
) -> Result<(MmInfo, usize, KVec<VmaRec>)> {
    let mut vmas: KVec<VmaRec> = KVec::new();
    let g = mm.mmap_read_lock_killable()?;
    let info = g.mm_info(path)?;
    let exe_len = (info.exe_path_len as usize).min(path.len());
    arena.extend_from_slice(&path[..exe_len], GFP_KERNEL)?;
    let mut addr = 0u64;
    while let Some(v) = g.find_vma(addr)? {
        if vmas.len() >= image::MAX_VMAS as usize {
            return Err(code::E2BIG);
        }
        let path_off = arena.len();
        let path_len = match v.class() {
            VmaClass::FilePrivate | VmaClass::FileShared => g.vma_path(v.start, path)?,
            _ => 0,
        };
        arena.extend_from_slice(&path[..path_len], GFP_KERNEL)?;
        vmas.push(
            VmaRec {
                info: v,
                path_off,
                path_len,
            },
            GFP_KERNEL,
        )?;
        addr = v.end;
    }
    Ok((info, exe_len, vmas))
}

/// The MM record of `info`.
fn mm_record<'a>(
    mm_id: u32,
    info: &'a MmInfo,
    nr_vmas: usize,
    exe_path: &'a [u8],
) -> Result<image::Mm<'a>> {
    let words = (info.nr_auxv_words as usize).min(info.auxv.len());
    let auxv = image::Auxv::from_words(&info.auxv[..words & !1]).ok_or(code::EINVAL)?;
    let l = &info.layout;
    Ok(image::Mm {
        mm_id,
        nr_vmas: u32::try_from(nr_vmas).map_err(|_| code::E2BIG)?,
        start_code: l.start_code,
        end_code: l.end_code,
        start_data: l.start_data,
        end_data: l.end_data,
        start_brk: l.start_brk,
        brk: l.brk,
        start_stack: l.start_stack,
        arg_start: l.arg_start,
        arg_end: l.arg_end,
        env_start: l.env_start,
        env_end: l.env_end,
        auxv,
        exe_path,
    })
}

fn write_mm(
    out: &mut ImageOut,
    mm_id: u32,
    mm: &MmWithUser,
    maps: &[MapFileAt],
    path: &mut [u8],
    shm: &mut ShmIds,
    live: Option<&LiveMm>,
) -> Result {
    let mut maps = maps.iter();
    // One walk over the dirty ranges for all the VMAs, in address order.
    let mut cur = RangeCursor {
        r: live.map_or(&[][..], |l| &l.dirty[..]),
        k: 0,
    };
    // Read the layout and the VMA list under the lock; write without it.
    let mut arena: KVec<u8> = KVec::new();
    let (info, exe_len, vmas) = read_mm(mm, path, &mut arena)?;
    let rec = mm_record(mm_id, &info, vmas.len(), &arena[..exe_len])?;
    out.put(64 + image::MM_MAX_PAYLOAD, |e, b| e.mm(&rec, b))?;
    for v in vmas.iter() {
        let kind = kind_of(&v.info, &info)?;
        let rec = image::Vma {
            start: v.info.start,
            end: v.info.end,
            pgoff: v.info.pgoff,
            prot: prot_of(v.info.flags),
            flags: flags_of(v.info.flags),
            kind,
            path: if kind.has_path() {
                &arena[v.path_off..v.path_off + v.path_len]
            } else {
                &[]
            },
        };
        out.put(64 + image::VMA_MAX_PAYLOAD, |e, b| e.vma(&rec, b))?;
        if matches!(kind, VmaKind::FileShared | VmaKind::FilePrivate) {
            // The pre-pass saw the same VMAs: the tree is stopped.
            let m = maps
                .next()
                .filter(|m| m.start == v.info.start)
                .ok_or(code::EBUSY)?;
            out.put(
                image::RECORD_HEADER_LEN + image::MAPFILE_PAYLOAD_LEN,
                |e, b| e.map_file(&m.rec, b),
            )?;
        }
        if kind == VmaKind::SharedAnon {
            let s = image::Shm {
                id: shm.id(&v.info)?,
            };
            out.put(image::RECORD_HEADER_LEN + image::SHM_PAYLOAD_LEN, |e, b| {
                e.shm(&s, b)
            })?;
        }
        let anon_only = kind == VmaKind::FilePrivate;
        match (kind, live) {
            (
                VmaKind::AnonPrivate | VmaKind::Stack | VmaKind::Heap | VmaKind::FilePrivate,
                None,
            ) => write_pages(out, mm, &v.info, anon_only)?,
            (
                VmaKind::AnonPrivate | VmaKind::Stack | VmaKind::Heap | VmaKind::FilePrivate,
                Some(l),
            ) => write_pages_live(out, mm, &v.info, anon_only, l, &mut cur)?,
            (VmaKind::SharedAnon, _) => write_shmem_pages(out, mm, &v.info)?,
            (VmaKind::FileShared | VmaKind::Vdso | VmaKind::Vvar, _) => {}
        }
    }
    Ok(())
}

/// Calls `f(addr, pins, i, j)` for each run of consecutive pages of
/// `[lo, hi)` that exist (and, `anon_only`, are anonymous), pinned in
/// `pins[i..j]` from `addr`, in address order. The mmap lock is held only
/// while a batch is pinned, never while `f` runs.
fn for_each_present(
    mm: &MmWithUser,
    lo: u64,
    hi: u64,
    anon_only: bool,
    pins: &mut PinnedPages,
    mut f: impl FnMut(u64, &PinnedPages, usize, usize) -> Result,
) -> Result {
    let mut addr = lo;
    while addr < hi {
        if crate::signal::current_pending() {
            return Err(code::EINTR);
        }
        let left = ((hi - addr) as usize) / PAGE_SIZE;
        let n = {
            let g = mm.mmap_read_lock_killable()?;
            g.pin_pages(addr, left.min(PIN_BATCH), pins)?
        };
        if n == 0 {
            addr += PAGE_SIZE as u64;
            continue;
        }
        // Runs of consecutive pages to dump among the n pinned ones.
        let mut i = 0;
        while i < n {
            if anon_only && !pins.is_anon(i) {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < n && (!anon_only || pins.is_anon(j)) {
                j += 1;
            }
            f(addr + (i * PAGE_SIZE) as u64, pins, i, j)?;
            i = j;
        }
        addr += (n * PAGE_SIZE) as u64;
    }
    Ok(())
}

/// Dumps the pages of a private VMA that exist: all of them for anonymous
/// memory, only the anonymous (written, copied-on-write) ones over a file.
fn write_pages(out: &mut ImageOut, mm: &MmWithUser, v: &VmaInfo, anon_only: bool) -> Result {
    let mut pins = PinnedPages::new()?;
    for_each_present(mm, v.start, v.end, anon_only, &mut pins, |a, p, i, j| {
        out.pages_pinned(a, p, i, j)
    })
}

/// A cursor over sorted, disjoint ranges, asked about ascending addresses.
struct RangeCursor<'a> {
    r: &'a [(u64, u64)],
    k: usize,
}

impl RangeCursor<'_> {
    /// Whether `a` is inside a range, and up to where that stays so (the
    /// range's end, or the next range's start). `a` never goes down
    /// between calls.
    fn at(&mut self, a: u64) -> (bool, u64) {
        while self.r.get(self.k).is_some_and(|&(_, e)| e <= a) {
            self.k += 1;
        }
        match self.r.get(self.k) {
            Some(&(s, e)) if s <= a => (true, e),
            Some(&(s, _)) => (false, s),
            None => (false, u64::MAX),
        }
    }
}

/// A live checkpoint's final dump of one address space: its source id and
/// its dirty ranges (sorted, disjoint, page aligned).
pub(crate) struct LiveMm {
    pub(crate) src: u32,
    pub(crate) dirty: KVVec<(u64, u64)>,
}

/// The PREVPAGES run being gathered: consecutive clean pages, written
/// once a page that does not continue it comes (or at the VMA's end).
struct PrevRun {
    src: u32,
    addr: u64,
    nr: u64,
}

impl PrevRun {
    fn flush(&mut self, out: &mut ImageOut) -> Result {
        if self.nr > 0 {
            out.prev_pages(self.addr, self.nr, self.src)?;
            self.nr = 0;
        }
        Ok(())
    }

    fn add(&mut self, out: &mut ImageOut, addr: u64, nr: u64) -> Result {
        let (mut addr, mut nr) = (addr, nr);
        while nr > 0 {
            let contiguous = self.nr > 0 && self.addr + self.nr * PAGE_SIZE as u64 == addr;
            if !contiguous || self.nr == image::MAX_PAGES_PER_RUN {
                self.flush(out)?;
                self.addr = addr;
            }
            let k = nr.min(image::MAX_PAGES_PER_RUN - self.nr);
            self.nr += k;
            addr += k * PAGE_SIZE as u64;
            nr -= k;
        }
        Ok(())
    }
}

/// The final dump of a private VMA of an address space with rounds: its
/// present pages inside the dirty ranges as PAGES, the others as
/// PREVPAGES of `live.src`, in address order together. `cur` walks the
/// dirty ranges across the address space's VMAs (in address order).
fn write_pages_live(
    out: &mut ImageOut,
    mm: &MmWithUser,
    v: &VmaInfo,
    anon_only: bool,
    live: &LiveMm,
    cur: &mut RangeCursor<'_>,
) -> Result {
    let mut pins = PinnedPages::new()?;
    let mut prev = PrevRun {
        src: live.src,
        addr: 0,
        nr: 0,
    };
    let ps = PAGE_SIZE as u64;
    for_each_present(mm, v.start, v.end, anon_only, &mut pins, |a, p, i, j| {
        let end = a + ((j - i) * PAGE_SIZE) as u64;
        let mut x = a;
        while x < end {
            let (dirty, until) = cur.at(x);
            let y = until.min(end);
            let (pi, pj) = (i + ((x - a) / ps) as usize, i + ((y - a) / ps) as usize);
            if dirty {
                prev.flush(out)?;
                out.pages_pinned(x, p, pi, pj)?;
            } else {
                prev.add(out, x, (y - x) / ps)?;
            }
            x = y;
        }
        Ok(())
    })?;
    prev.flush(out)
}

/// Copies the pages of `[lo, hi)` that exist into PAGES records, for a
/// round of a live checkpoint: the tree runs, so each page is copied into
/// the buffer first and its checksum taken from the copy (the page may
/// change meanwhile: the caller finds it dirty and copies it again).
fn copy_pages(
    out: &mut ImageOut,
    mm: &MmWithUser,
    lo: u64,
    hi: u64,
    anon_only: bool,
    pins: &mut PinnedPages,
) -> Result {
    for_each_present(mm, lo, hi, anon_only, pins, |a, p, i, j| {
        let mut k = i;
        while k < j {
            let n = (j - k).min(RUN_PAGES);
            out.pages_begin(a + ((k - i) * PAGE_SIZE) as u64, n)?;
            for m in k..k + n {
                out.page(|dst| p.copy(m, dst))?;
            }
            k += n;
        }
        Ok(())
    })
}

/// A round of a live checkpoint for one address space (the tree runs):
/// the present pages of its private VMAs (anonymous, stack, heap, and the
/// anonymous pages of private file mappings) inside `ranges` (sorted,
/// disjoint), as PAGES records in address order. Shared memory, shared
/// file mappings, the vDSO and vvar are never copied in rounds.
pub(crate) fn write_round(out: &mut ImageOut, mm: &MmWithUser, ranges: &[(u64, u64)]) -> Result {
    // The private VMAs as they are now, read under the lock; they may
    // change while the pages are copied (the caller's dirty tracking
    // catches that: a new mapping is dirty in every page).
    let mut vmas: KVec<(u64, u64, bool)> = KVec::new();
    {
        let g = mm.mmap_read_lock_killable()?;
        let mut addr = 0u64;
        while let Some(v) = g.find_vma(addr)? {
            if vmas.len() >= image::MAX_VMAS as usize {
                return Err(code::E2BIG);
            }
            match v.class() {
                VmaClass::Anon => vmas.push((v.start, v.end, false), GFP_KERNEL)?,
                VmaClass::FilePrivate => vmas.push((v.start, v.end, true), GFP_KERNEL)?,
                _ => {}
            }
            addr = v.end;
        }
    }
    let mut pins = PinnedPages::new()?;
    let mut k = 0;
    for &(start, end, anon_only) in vmas.iter() {
        while ranges.get(k).is_some_and(|&(_, e)| e <= start) {
            k += 1;
        }
        let mut j = k;
        while let Some(&(s, e)) = ranges.get(j).filter(|&&(s, _)| s < end) {
            copy_pages(out, mm, s.max(start), e.min(end), anon_only, &mut pins)?;
            j += 1;
        }
    }
    Ok(())
}

/// Pages of shared anonymous memory copied and written at once.
const SHM_BATCH: usize = 64;

/// Dumps the pages of a shared anonymous VMA that its shmem object has:
/// each batch of consecutive present pages is copied once, under one lock,
/// into `run`, then written as one PAGES record.
fn write_shmem_pages(out: &mut ImageOut, mm: &MmWithUser, v: &VmaInfo) -> Result {
    let mut run = KVVec::from_elem(0u8, SHM_BATCH * PAGE_SIZE, GFP_KERNEL)?;
    let mut addr = v.start;
    while addr < v.end {
        if crate::signal::current_pending() {
            return Err(code::EINTR);
        }
        let left = ((v.end - addr) as usize) / PAGE_SIZE;
        let mut n = 0;
        {
            let g = mm.mmap_read_lock_killable()?;
            while n < left.min(SHM_BATCH)
                && g.shmem_page(
                    addr + (n * PAGE_SIZE) as u64,
                    &mut run[n * PAGE_SIZE..(n + 1) * PAGE_SIZE],
                )?
            {
                n += 1;
            }
        }
        if n == 0 {
            addr += PAGE_SIZE as u64;
            continue;
        }
        out.pages_begin(addr, n)?;
        for k in 0..n {
            out.page(|dst| {
                dst.copy_from_slice(&run[k * PAGE_SIZE..(k + 1) * PAGE_SIZE]);
                Ok(())
            })?;
        }
        addr += (n * PAGE_SIZE) as u64;
    }
    Ok(())
}
