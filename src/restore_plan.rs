// SPDX-License-Identifier: GPL-2.0
//! Restart, pass 1: the coordinator reads the whole image once, through the
//! shared streaming validator, checks it against the restore rules and the
//! machine, and turns it into a [`Plan`] held in kernel memory: per task
//! its ids and state, per address space its layout and VMAs, the opened
//! files, and where each run of pages lies in the image. Nothing is
//! changed, and nothing the image names is looked up or opened, before the
//! whole image has been read: only the trailer says it is whole. Then the
//! files are opened (regular files only; a mapped file's type and size
//! checked against its MAPFILE record), the coordinator's files of the
//! mapped memfds and deleted files taken, and the shared memory objects
//! created, within the caller's `RLIMIT_NOFILE`. Per thread group leader
//! the plan keeps the fds its FDS record lists (the commit closes the
//! others). Pass 2 (the restored tasks, `restore_mm.rs`) only executes the
//! plan, reading page data at the offsets pass 1 recorded.
//!
//! A live checkpoint's image (1.6) starts with ROUND sections, pages
//! copied while the tree ran: pass 1 indexes them ([`RoundIndex`]: per
//! source and page, where each copy lies), and turns each PREVPAGES
//! record of a VMA into runs reading the latest copy of each of its pages
//! ([`Walker::prev_pages_record`]); pass 2 fills those runs like any
//! other, from wherever in the image their data lies.

use kernel::error::code;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::str::BStr;
use kernel::types::ARef;
use kernel::uaccess::UserSlice;

use crate::error::{eopnotsupp, fail, Fail};
use crate::file::{ff, mode, File, LocalFile, Path};
use crate::image::{self, FileHeader, FileKind, Record, Tree, TreeEntry, VmaKind};
use crate::image_in::{self, InFile, Visitor};
use crate::machine;
use crate::mm::{self, MmLayout};
use crate::restore_creds::{self, CredPlan, SelfState};
use crate::task::{RegsError, ThreadState, UserRegs};
use crate::uapi::{RestartArgs, RST_AS_INVOKER, RST_FILE_CHANGED_OK, RST_SKIP_FILES};

/// Lowest address an image mapping may have: the default `mmap_min_addr`.
pub(crate) const MIN_ADDR: u64 = 0x10000;

/// What this machine and kernel are, for the image to match.
pub(crate) struct Machine {
    xcr0: u64,
    xstate_size: u32,
    release: [u8; 64],
    pub(crate) task_size: u64,
    vdso_len: u64,
    vvar_len: u64,
    auxv_words: usize,
}

impl Machine {
    pub(crate) fn get() -> Result<Machine, Fail> {
        let s = mm::special()?;
        Ok(Machine {
            xcr0: machine::xfeatures(),
            xstate_size: u32::try_from(machine::xstate_size()).unwrap_or(0),
            release: machine::kernel_release(),
            task_size: machine::task_size(),
            vdso_len: s.vdso_end - s.vdso_start,
            vvar_len: s.vvar_end - s.vvar_start,
            auxv_words: mm::auxv_max_words(),
        })
    }
}

/// Names of the xstate components (XCR0 bits).
fn xfeature_name(bit: u32) -> &'static str {
    match bit {
        0 => "x87",
        1 => "SSE",
        2 => "AVX",
        3 => "MPX bound registers",
        4 => "MPX bound config",
        5 => "AVX-512 opmask",
        6 => "AVX-512 ZMM_Hi256",
        7 => "AVX-512 Hi16_ZMM",
        9 => "PKRU",
        11 => "CET user",
        14 => "UINTR",
        17 => "AMX TILECFG",
        18 => "AMX TILEDATA",
        19 => "APX",
        _ => "unknown",
    }
}

/// One task of the tree.
pub(crate) struct TaskPlan {
    pub(crate) entry: TreeEntry,
    pub(crate) comm: [u8; 16],
    pub(crate) personality: u32,
    pub(crate) blocked: u64,
    /// General registers (live tasks).
    pub(crate) regs: Option<UserRegs>,
    /// The xstate (live tasks).
    pub(crate) xstate: KVVec<u8>,
    /// Its per-thread kernel state (THREAD record; zeros without one).
    pub(crate) thread: ThreadState,
    /// Index of the task within the live tasks of its mm, 0 for the mm's
    /// owner.
    pub(crate) slot: usize,
    /// A thread group leader's fds, ascending, from its FDS record: what
    /// its tasks keep at their commit (None: no FDS, or `RST_SKIP_FILES`).
    pub(crate) keep_fds: Option<KVec<u32>>,
    /// Its ids, from its TASK record: uid, gid, euid, egid, suid, sgid,
    /// fsuid, fsgid.
    pub(crate) ids: [u32; 8],
    /// Its CREDS, SIGNALS and (a thread group leader's) PROCESS records:
    /// what its restore program sets (none in images of minor <= 4).
    pub(crate) creds: Option<CredPlan>,
    pub(crate) sigs: Option<SigPlan>,
    pub(crate) process: Option<KBox<ProcPlan>>,
    /// Its area of the trampoline mapping (parameter block and restore
    /// program): offset from the mapping's start, and length.
    pub(crate) area_off: u64,
    pub(crate) area_len: u64,
}

/// A task's SIGNALS record.
pub(crate) struct SigPlan {
    pub(crate) altstack_sp: u64,
    pub(crate) altstack_size: u64,
    pub(crate) altstack_flags: u32,
    pub(crate) pdeath_signal: u32,
    pub(crate) timer_slack_ns: u64,
    pub(crate) nprivate: u32,
    pub(crate) nshared: u32,
    /// The siginfos, [`image::SIGINFO_LEN`] bytes each: the task's own
    /// queue, then the process's.
    pub(crate) entries: KVVec<u8>,
}

impl SigPlan {
    /// Entries of both queues.
    pub(crate) fn count(&self) -> usize {
        self.nprivate as usize + self.nshared as usize
    }

    /// Entry `k`'s siginfo.
    pub(crate) fn entry(&self, k: usize) -> &[u8] {
        let n = image::SIGINFO_LEN;
        self.entries.get(k * n..k * n + n).unwrap_or(&[])
    }
}

/// A thread group leader's PROCESS record.
pub(crate) struct ProcPlan {
    /// (cur, max) per `RLIMIT_*`.
    pub(crate) rlimits: [(u64, u64); 16],
    /// (value, interval) of `ITIMER_REAL`, `_VIRTUAL`, `_PROF`, in ns.
    pub(crate) itimers: [(u64, u64); 3],
    pub(crate) flags: u32,
    pub(crate) dumpable: u32,
    /// Per signal (entry k: signal k + 1): handler, flags, restorer, mask.
    pub(crate) sigactions: KVec<[u64; 4]>,
    pub(crate) timers: KVec<image::PosixTimer>,
}

impl TaskPlan {
    pub(crate) fn pid(&self) -> u32 {
        self.entry.pid()
    }

    pub(crate) fn is_zombie(&self) -> bool {
        self.entry.is_zombie()
    }
}

/// One VMA of an address space.
pub(crate) struct VmaPlan {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) pgoff: u64,
    pub(crate) prot: u32,
    pub(crate) flags: u32,
    pub(crate) kind: VmaKind,
    /// Index in [`Plan::files`] (file kinds) or [`Plan::shms`] (shared anonymous).
    pub(crate) object: usize,
    /// Its runs of pages: `runs[first..first + count]` of its mm.
    pub(crate) first_run: usize,
    pub(crate) nr_runs: usize,
}

/// A run of pages: where it goes, where its data lies in the image.
#[derive(Clone, Copy)]
pub(crate) struct RunPlan {
    pub(crate) addr: u64,
    pub(crate) len: u64,
    pub(crate) image_off: u64,
    /// Offset of the record that gave it (for messages): its PAGES, or
    /// the PREVPAGES whose pages it reads from a ROUND section.
    pub(crate) off: u64,
    /// That record's type (`RECORD_PAGES` or `RECORD_PREVPAGES`).
    pub(crate) rec: u32,
}

impl RunPlan {
    /// The record that gave it, for messages: "PAGES (type 7) at offset N".
    pub(crate) fn what(&self) -> impl core::fmt::Display {
        RecAt(self.rec, self.off)
    }
}

/// A record's name, type and offset, displayed for messages.
struct RecAt(u32, u64);

impl core::fmt::Display for RecAt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} (type {}) at offset {}",
            image::record_name(self.0),
            self.0,
            self.1
        )
    }
}

/// Where the ROUND sections of a live image put each page: one entry
/// `(key, data offset)` per page of their PAGES records, `key` the
/// source and page number together ([`RoundIndex::key`]). Built while the
/// sections are read (they all come before the TREE), sorted once at the
/// TREE; a page's latest copy is then the last entry of its key (the
/// sections' rounds increase along the stream, and so do the offsets).
/// Its size is bounded by the image's page count (16 bytes per page).
struct RoundIndex {
    entries: KVVec<(u64, u64)>,
    sorted: bool,
}

impl RoundIndex {
    /// Bits of the page number in a key (user space ends below 2^47).
    const PFN_BITS: u32 = 36;

    /// The key of page `addr` of source `src`, if the page can be in the
    /// index.
    fn key(src: u32, addr: u64) -> Option<u64> {
        let pfn = addr / PAGE_SIZE as u64;
        (pfn >> Self::PFN_BITS == 0).then(|| (u64::from(src) << Self::PFN_BITS) | pfn)
    }

    /// Adds the `nr` pages of a ROUND section's PAGES record of `src`,
    /// from `addr`, whose data starts at `data_off`.
    fn add(&mut self, off: u64, src: u32, addr: u64, nr: u64, data_off: u64) -> Result<(), Fail> {
        let ps = PAGE_SIZE as u64;
        let n = usize::try_from(nr).map_err(|_| code::EFBIG)?;
        self.entries.reserve(n, GFP_KERNEL_ACCOUNT)?;
        for i in 0..nr {
            if i % 4096 == 4095 {
                crate::task::cond_resched();
            }
            let a = addr + i * ps;
            let key = Self::key(src, a).ok_or_else(|| {
                fail!(
                    code::EINVAL,
                    "PAGES (type 7) at offset {}: page {:#x} is outside user space",
                    off,
                    a
                )
            })?;
            self.entries
                .push((key, data_off + i * ps), GFP_KERNEL_ACCOUNT)?;
        }
        Ok(())
    }

    /// Sorts the entries: the ROUND sections are over.
    fn seal(&mut self) {
        if !self.sorted {
            crate::sort::heap_sort_by_key(&mut self.entries, |&e| e);
            self.sorted = true;
        }
    }

    /// Where the latest copy of page `addr` of `src` lies, if any.
    fn latest(&self, src: u32, addr: u64) -> Option<u64> {
        let key = Self::key(src, addr)?;
        let e = &self.entries[..];
        let i = e.partition_point(|&(k, _)| k <= key);
        let (k, data) = *e.get(i.checked_sub(1)?)?;
        (k == key).then_some(data)
    }
}

/// One address space.
pub(crate) struct MmPlan {
    pub(crate) layout: MmLayout,
    pub(crate) auxv: KVec<u64>,
    /// Index in [`Plan::files`] of the executable.
    pub(crate) exe: Option<usize>,
    pub(crate) vmas: KVec<VmaPlan>,
    pub(crate) runs: KVec<RunPlan>,
    /// Every VMA's range, ascending ([vdso] and [vvar] included).
    pub(crate) ranges: KVec<(u64, u64)>,
    pub(crate) vdso: (u64, u64),
    pub(crate) vvar: (u64, u64),
    /// The task (tree index) that restores it: its first live task.
    pub(crate) owner: usize,
    /// Bytes of its tasks' areas in the trampoline mapping, all together
    /// ([`TaskPlan::area_off`]).
    pub(crate) areas_len: u64,
    /// The last of them in tree order (unmaps the trampoline).
    pub(crate) last: usize,
    /// Offset of its MM record (for messages).
    pub(crate) off: u64,
}

/// A shared anonymous memory object (SHM id, or one per VMA in images
/// without SHM records): its size in pages, created by the coordinator.
pub(crate) struct ShmPlan {
    pub(crate) pages: u64,
    pub(crate) file: Option<ARef<File>>,
}

/// The result of pass 1.
pub(crate) struct Plan {
    pub(crate) tasks: KVec<TaskPlan>,
    pub(crate) mms: KVec<MmPlan>,
    pub(crate) files: KVec<ARef<File>>,
    pub(crate) shms: KVec<ShmPlan>,
    /// `RST_AS_INVOKER`: the tasks keep the invoker's credentials.
    pub(crate) as_invoker: bool,
}

impl Plan {
    /// The tree index of the task whose level-0 pid is `pid`.
    pub(crate) fn index_of(&self, pid: u32) -> Option<usize> {
        self.tasks.iter().position(|t| t.pid() == pid)
    }

    /// Is `pid` a level-0 pid of the tree?
    pub(crate) fn has_pid(&self, pid: u32) -> bool {
        pid != 0 && self.index_of(pid).is_some()
    }

    /// The fds task `i` keeps at its commit, ascending: its thread group
    /// leader's FDS list (one list for the group: the threads share the
    /// table), or 0, 1 and 2 (the restart tool's) without one.
    pub(crate) fn keep_fds(&self, i: usize) -> &[u32] {
        static STD_FDS: [u32; 3] = [0, 1, 2];
        let Some(t) = self.tasks.get(i) else {
            return &STD_FDS;
        };
        let leader = self.index_of(t.entry.tgid).unwrap_or(i);
        self.tasks
            .get(leader)
            .and_then(|l| l.keep_fds.as_deref())
            .unwrap_or(&STD_FDS)
    }
}

/// Pass 1: reads and checks the whole image; then opens the mapped files,
/// takes the coordinator's files the image maps, and creates the shared
/// memory objects. `args` is the coordinator's call.
pub(crate) fn plan(image: &InFile, args: &RestartArgs) -> Result<Plan, Fail> {
    let m = Machine::get()?;
    let arg_fds = ArgFds::copy(args)?;
    let mut w = Walker::new(&m, args.flags, arg_fds);
    // Only a whole image (trailer, counts, CRC32C) gets a plan.
    image_in::walk(image, &mut w)?;
    // The image fd, which no MAPFILE may name (compared by file).
    let image_file = LocalFile::fget(args.fd).ok();
    w.finish(image_file.as_deref())
}

/// The coordinator's fds of the image's FILE objects (`args.files`, copied
/// once): for FILE id k, the fd at index k - 1, or -1.
struct ArgFds {
    raw: KVVec<u8>,
}

impl ArgFds {
    fn copy(args: &RestartArgs) -> Result<ArgFds, Fail> {
        let n = args.nfiles as usize;
        if n > image::MAX_FILES as usize {
            return Err(fail!(
                code::EINVAL,
                "the restart gave {} files, more than {}",
                n,
                image::MAX_FILES
            ));
        }
        let mut raw = KVVec::from_elem(0u8, 4 * n, GFP_KERNEL_ACCOUNT)?;
        if n > 0 {
            UserSlice::new(args.files as usize, 4 * n)
                .reader()
                .read_slice(&mut raw)
                .map_err(|e| {
                    fail!(
                        e,
                        "the restart's files array ({} entries at {:#x}) cannot be read",
                        n,
                        args.files
                    )
                })?;
        }
        Ok(ArgFds { raw })
    }

    fn len(&self) -> usize {
        self.raw.len() / 4
    }

    /// The fd of FILE id `id` (1..).
    fn get(&self, id: u32) -> Option<i32> {
        let at = (id as usize).checked_sub(1)?.checked_mul(4)?;
        let b = self.raw.get(at..at + 4)?;
        Some(i32::from_ne_bytes(b.try_into().ok()?))
    }
}

/// What a MAPFILE record says of the file a VMA maps by path.
#[derive(Clone, Copy)]
struct MapExpect {
    mode: u32,
    size: u64,
    /// The VMA's offset (for messages).
    vma_off: u64,
}

/// `ESTALE` (the `kernel` crate of 6.12 does not name it): a file changed
/// since the checkpoint.
fn estale() -> Error {
    Error::from_errno(-(kernel::bindings::ESTALE as i32))
}

/// The name of the file type of mode `m`, for messages.
fn type_name(m: u32) -> &'static str {
    match m & mode::S_IFMT {
        mode::S_IFREG => "regular file",
        mode::S_IFDIR => "directory",
        mode::S_IFIFO => "FIFO",
        mode::S_IFSOCK => "socket",
        mode::S_IFCHR => "character device",
        mode::S_IFBLK => "block device",
        mode::S_IFLNK => "symbolic link",
        _ => "unknown",
    }
}

/// A NUL-terminated copy of a path from the image: absolute, no NUL inside.
fn c_path(p: &[u8]) -> Option<KVec<u8>> {
    if p.first() != Some(&b'/') || p.contains(&0) {
        return None;
    }
    let mut v = KVec::with_capacity(p.len() + 1, GFP_KERNEL_ACCOUNT).ok()?;
    v.extend_from_slice(p, GFP_KERNEL_ACCOUNT).ok()?;
    v.push(0, GFP_KERNEL_ACCOUNT).ok()?;
    Some(v)
}

/// A file the image names: a mapped file or an executable by path, or a
/// FILE object of the image the coordinator passed (`args.files`).
struct FileName {
    /// Absolute, NUL-terminated (empty for a FILE object).
    path: KVec<u8>,
    write: bool,
    /// The record that names it first, and its offset (for messages).
    what: &'static str,
    off: u64,
    /// By path: its type and size, from the MAPFILE record of a VMA.
    expect: Option<MapExpect>,
    /// A FILE object: its id and the coordinator's fd of it.
    object: Option<(u32, i32)>,
}

impl FileName {
    /// The path without its NUL.
    fn name(&self) -> &[u8] {
        self.path.split_last().map_or(&[], |(_, p)| p)
    }
}

/// The files the image names, each path and access mode once. Nothing is
/// opened while the image is read: [`FileTable::open_all`] opens them once
/// the whole image has been read and verified.
struct FileTable {
    names: KVec<FileName>,
    /// Indices into `names`, sorted by path and access mode.
    sorted: KVec<usize>,
}

impl FileTable {
    /// The index of `path` (opened for writing if `write`), added if new.
    fn add(
        &mut self,
        path: &[u8],
        write: bool,
        what: &'static str,
        off: u64,
    ) -> Result<usize, Fail> {
        let names = &self.names;
        let found = self
            .sorted
            .binary_search_by(|&i| (names[i].name(), names[i].write).cmp(&(path, write)));
        let pos = match found {
            Ok(pos) => return Ok(self.sorted[pos]),
            Err(pos) => pos,
        };
        let c = c_path(path).ok_or_else(|| {
            fail!(
                code::EINVAL,
                "{} at offset {}: the path {} is not absolute or holds a NUL",
                what,
                off,
                BStr::from_bytes(path)
            )
        })?;
        self.names.push(
            FileName {
                path: c,
                write,
                what,
                off,
                expect: None,
                object: None,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        self.sorted.push(self.names.len() - 1, GFP_KERNEL_ACCOUNT)?;
        self.sorted[pos..].rotate_right(1);
        Ok(self.names.len() - 1)
    }

    /// Records what the MAPFILE at `off` says of file `i` (by path); every
    /// VMA of one file must say the same.
    fn expect(&mut self, i: usize, off: u64, e: MapExpect) -> Result<(), Fail> {
        let Some(n) = self.names.get_mut(i) else {
            return Ok(());
        };
        match n.expect {
            None => n.expect = Some(e),
            Some(was) if was.size != e.size || was.mode != e.mode => {
                return Err(fail!(
                    code::EINVAL,
                    "MAPFILE (type 15) at offset {}: {} has size {} and mode {:#o}, the VMA at offset {} said size {} and mode {:#o}",
                    off,
                    BStr::from_bytes(n.name()),
                    e.size,
                    e.mode,
                    was.vma_off,
                    was.size,
                    was.mode
                ))
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Adds FILE object `id`, the coordinator's fd `fd`, named first by the
    /// MAPFILE at `off`.
    fn add_object(&mut self, id: u32, fd: i32, write: bool, off: u64) -> Result<usize, Fail> {
        self.names.push(
            FileName {
                path: KVec::new(),
                write,
                what: "MAPFILE (type 15)",
                off,
                expect: None,
                object: Some((id, fd)),
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        Ok(self.names.len() - 1)
    }

    fn len(&self) -> usize {
        self.names.len()
    }

    /// Opens every file, in order (or takes the coordinator's file of a
    /// FILE object, [`Self::take_object`]). Each must be a regular file:
    /// the open of a FIFO blocks, a device's open has effects, and neither
    /// can be restored as a mapping. The type is checked on the looked-up
    /// inode before the open, and that same inode is opened. A file a
    /// MAPFILE describes must still have its type and size (`ESTALE`),
    /// unless `changed_ok`. On failure every file taken so far is dropped.
    fn open_all(
        &self,
        changed_ok: bool,
        image: Option<&LocalFile>,
    ) -> Result<KVec<ARef<File>>, Fail> {
        let mut files = KVec::with_capacity(self.names.len(), GFP_KERNEL_ACCOUNT)?;
        for n in self.names.iter() {
            if let Some((id, fd)) = n.object {
                files.push(take_object(n, id, fd, image)?, GFP_KERNEL_ACCOUNT)?;
                continue;
            }
            let name = BStr::from_bytes(n.name());
            let expect = n.expect.filter(|_| !changed_ok);
            let cannot = |e: Error| {
                fail!(
                    e,
                    "{} at offset {}: cannot open {}: error {}",
                    n.what,
                    n.off,
                    name,
                    e.to_errno()
                )
            };
            let p = Path::lookup(&n.path).map_err(cannot)?;
            if let Some(e) = expect {
                if (p.mode() ^ e.mode) & mode::S_IFMT != 0 {
                    return Err(fail!(
                        estale(),
                        "VMA at offset {}: {} has changed since the checkpoint (type {}, was {})",
                        e.vma_off,
                        name,
                        type_name(p.mode()),
                        type_name(e.mode)
                    ));
                }
            }
            let kind = match p.mode() & mode::S_IFMT {
                mode::S_IFREG if p.on_pseudo_fs() => {
                    Some("on a pseudo file system (proc, sysfs...)")
                }
                mode::S_IFREG => None,
                mode::S_IFDIR => Some("a directory"),
                mode::S_IFIFO => Some("a FIFO"),
                mode::S_IFSOCK => Some("a socket"),
                mode::S_IFCHR => Some("a character device"),
                mode::S_IFBLK => Some("a block device"),
                mode::S_IFLNK => Some("a symbolic link"),
                _ => Some("not a file"),
            };
            if let Some(kind) = kind {
                return Err(fail!(
                    eopnotsupp(),
                    "{} at offset {}: {} is {}: only regular files are mapped or executed",
                    n.what,
                    n.off,
                    name,
                    kind
                ));
            }
            let f = p.open(n.write).map_err(cannot)?;
            if let Some(e) = expect {
                let size = f.facts().size;
                if size != e.size {
                    return Err(fail!(
                        estale(),
                        "VMA at offset {}: {} has changed since the checkpoint (size {}, was {})",
                        e.vma_off,
                        name,
                        size,
                        e.size
                    ));
                }
            }
            files.push(f, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(files)
    }
}

/// The coordinator's file of FILE object `id` (its fd `fd`), which file
/// `n` of the table maps: an open regular file, neither the image nor
/// `/dev/cptrst`, open for writing if a writable shared mapping needs it.
fn take_object(
    n: &FileName,
    id: u32,
    fd: i32,
    image: Option<&LocalFile>,
) -> Result<ARef<File>, Fail> {
    let f = LocalFile::fget(fd).map_err(|_| {
        fail!(
            code::EBADF,
            "{} at offset {}: file {}: the restart's fd {} for it is not open",
            n.what,
            n.off,
            id,
            fd
        )
    })?;
    let facts = f.facts();
    let bad = if image.is_some_and(|i| i.as_ptr() == f.as_ptr()) {
        Some("is the image")
    } else if facts.has(ff::CPTRST_DEV) {
        Some("is /dev/cptrst")
    } else if !facts.is_reg() {
        Some("is not a regular file")
    } else {
        None
    };
    if let Some(bad) = bad {
        return Err(fail!(
            code::EINVAL,
            "{} at offset {}: file {}: the restart's fd {} {}",
            n.what,
            n.off,
            id,
            fd,
            bad
        ));
    }
    if !facts.has(ff::READ) || (n.write && !facts.has(ff::WRITE)) {
        return Err(fail!(
            code::EBADF,
            "{} at offset {}: file {}: the restart's fd {} is not open for {}",
            n.what,
            n.off,
            id,
            fd,
            if n.write {
                "reading and writing"
            } else {
                "reading"
            }
        ));
    }
    // SAFETY: the restart ioctl holds no fdget_pos of any fd.
    Ok(unsafe { LocalFile::assume_no_fdget_pos(f) })
}

#[derive(Clone, Copy)]
struct CurVma {
    kind: VmaKind,
    shm_ok: bool,
}

/// The pass-1 visitor.
struct Walker<'a> {
    m: &'a Machine,
    flags: u32,
    header: Option<FileHeader>,
    tasks: KVec<TaskPlan>,
    /// The task whose records come now.
    cur_task: Option<usize>,
    mms: KVec<MmPlan>,
    files: FileTable,
    /// The caller's `RLIMIT_NOFILE`: the files and shared memory objects
    /// this restart may hold at once.
    max_files: usize,
    shms: KVec<ShmPlan>,
    /// Index in `shms` of each SHM id (id - 1).
    shm_ids: KVec<usize>,
    /// Pages of the last VMA, shared anonymous, until its object is known.
    pending_shm: Option<u64>,
    /// The last VMA, of a file, until the next record says (MAPFILE) how
    /// to check the file, or whether it maps a FILE object instead.
    pending_file: Option<PendingFile>,
    /// The kind of each FILE object (id - 1).
    file_kinds: KVec<FileKind>,
    /// Per FILE id (id - 1): its index in `files` + 1, once a MAPFILE
    /// maps it (0 before; sized at the first such MAPFILE).
    object_index: KVec<usize>,
    /// The coordinator's fds of the FILE objects.
    arg_fds: ArgFds,
    cur: Option<CurVma>,
    tree_off: u64,
    /// The source of the ROUND section whose PAGES come now (None outside
    /// one: before the first ROUND, and from the TREE on).
    round_src: Option<u32>,
    /// Every page of the ROUND sections.
    rounds: RoundIndex,
}

/// A VMA of a file, waiting for its MAPFILE (see [`Walker::pending_file`]).
struct PendingFile {
    path: KVec<u8>,
    write: bool,
    off: u64,
}

impl<'a> Walker<'a> {
    fn new(m: &'a Machine, flags: u32, arg_fds: ArgFds) -> Self {
        Walker {
            m,
            flags,
            header: None,
            tasks: KVec::new(),
            cur_task: None,
            mms: KVec::new(),
            files: FileTable {
                names: KVec::new(),
                sorted: KVec::new(),
            },
            max_files: usize::try_from(crate::file::nofile_max()).unwrap_or(usize::MAX),
            shms: KVec::new(),
            shm_ids: KVec::new(),
            pending_shm: None,
            pending_file: None,
            file_kinds: KVec::new(),
            object_index: KVec::new(),
            arg_fds,
            cur: None,
            tree_off: 0,
            round_src: None,
            rounds: RoundIndex {
                entries: KVVec::new(),
                sorted: false,
            },
        }
    }

    fn page_size(&self) -> u64 {
        self.header
            .map_or(PAGE_SIZE as u64, |h| u64::from(h.page_size))
    }

    /// The last checks, which need the whole image, and the objects.
    /// `image` is the image's file, which no FILE object may be.
    fn finish(mut self, image: Option<&LocalFile>) -> Result<Plan, Fail> {
        self.resolve_shm(0, None)?;
        self.resolve_file(0, None)?;
        for (i, t) in self.tasks.iter().enumerate() {
            if !t.is_zombie() && (t.regs.is_none() || t.xstate.is_empty()) {
                return Err(fail!(
                    code::EINVAL,
                    "TASK {} (pid {}): no registers or FPU state",
                    i,
                    t.pid()
                ));
            }
        }
        self.check_programs()?;
        for (k, mm) in self.mms.iter().enumerate() {
            if mm.vdso.1 == 0 || mm.vvar.1 == 0 {
                return Err(fail!(
                    eopnotsupp(),
                    "MM (type 5) at offset {}: address space {} has no [vdso] or no [vvar]: not supported",
                    mm.off,
                    k + 1
                ));
            }
        }
        for (i, s) in self.shms.iter_mut().enumerate() {
            let size = s.pages.checked_mul(PAGE_SIZE as u64).ok_or(code::EFBIG)?;
            let f = crate::file::shmem_create(size).map_err(|e| {
                fail!(
                    e,
                    "shared memory object {} ({} bytes): error {}",
                    i + 1,
                    size,
                    e.to_errno()
                )
            })?;
            s.file = Some(f);
        }
        let files = self
            .files
            .open_all(self.flags & RST_FILE_CHANGED_OK != 0, image)?;
        let mut plan = Plan {
            tasks: self.tasks,
            mms: self.mms,
            files,
            shms: self.shms,
            as_invoker: self.flags & RST_AS_INVOKER != 0,
        };
        size_areas(&mut plan)?;
        Ok(plan)
    }

    fn mm_mut(&mut self) -> Option<&mut MmPlan> {
        self.mms.last_mut()
    }

    /// What the CREDS, SIGNALS and PROCESS records alone cannot tell:
    /// handlers, restorers and alternate stacks lie in the task's memory,
    /// timers signal threads of their group, and (unless
    /// `RST_AS_INVOKER`) the invoker may give each task its credentials.
    fn check_programs(&self) -> Result<(), Fail> {
        let as_invoker = self.flags & RST_AS_INVOKER != 0;
        let mut inv = None;
        for (i, t) in self.tasks.iter().enumerate() {
            let of_task = |f: Fail| f.prefixed(format_args!("task {} (pid {})", i, t.pid()));
            let ranges = self
                .mms
                .get((t.entry.mm_id as usize).wrapping_sub(1))
                .map_or(&[][..], |m| &m.ranges[..]);
            if let Some(sg) = t.sigs.as_ref() {
                let disabled = sg.altstack_flags == image::SS_DISABLE;
                let end = sg.altstack_sp.checked_add(sg.altstack_size);
                if !disabled && !end.is_some_and(|e| covered(ranges, sg.altstack_sp, e)) {
                    return Err(of_task(fail!(
                        code::EINVAL,
                        "SIGNALS: the alternate signal stack {:#x} ({} bytes) is not in the task's memory",
                        sg.altstack_sp,
                        sg.altstack_size
                    )));
                }
            }
            if let Some(pr) = t.process.as_deref() {
                self.check_process(t, pr, ranges).map_err(of_task)?;
            }
            if let Some(c) = t.creds.as_ref() {
                if inv.is_none() {
                    inv = Some(SelfState::get()?);
                }
                let Some(me) = inv.as_ref() else { continue };
                restore_creds::check_nnp(me, c.no_new_privs, as_invoker).map_err(of_task)?;
                if !as_invoker {
                    restore_creds::check(me, &t.ids, c).map_err(of_task)?;
                }
            }
        }
        Ok(())
    }

    /// A PROCESS's handlers and restorers in memory, its timers' threads
    /// in the group.
    fn check_process(
        &self,
        t: &TaskPlan,
        pr: &ProcPlan,
        ranges: &[(u64, u64)],
    ) -> Result<(), Fail> {
        for (k, a) in pr.sigactions.iter().enumerate() {
            let [handler, _, restorer, _] = *a;
            if handler > 1 && !covered(ranges, handler, handler + 1) {
                return Err(fail!(
                    code::EINVAL,
                    "PROCESS: the handler {:#x} of signal {} is not in the task's memory",
                    handler,
                    k + 1
                ));
            }
            if restorer != 0 && !covered(ranges, restorer, restorer + 1) {
                return Err(fail!(
                    code::EINVAL,
                    "PROCESS: the restorer {:#x} of signal {} is not in the task's memory",
                    restorer,
                    k + 1
                ));
            }
        }
        for tm in pr.timers.iter().filter(|tm| tm.notify & 4 != 0) {
            let ok = self
                .tasks
                .iter()
                .any(|o| o.pid() == tm.tid && o.entry.tgid == t.entry.tgid && !o.is_zombie());
            if !ok {
                return Err(fail!(
                    code::EINVAL,
                    "PROCESS: POSIX timer {} signals thread {}, not a live thread of the process",
                    tm.id,
                    tm.tid
                ));
            }
        }
        Ok(())
    }
}

impl Visitor for Walker<'_> {
    fn header(&mut self, h: &FileHeader) -> Result<(), Fail> {
        if u64::from(h.page_size) != PAGE_SIZE as u64 {
            return Err(fail!(
                code::ENOEXEC,
                "header: page size {} (this machine: {})",
                h.page_size,
                PAGE_SIZE
            ));
        }
        let missing = h.xcr0 & !self.m.xcr0;
        if missing != 0 {
            let mut f = fail!(
                code::ENOEXEC,
                "header: the image needs xstate features this CPU lacks:"
            );
            for bit in 0..64u32 {
                if missing & (1u64 << bit) != 0 {
                    let _ = core::fmt::Write::write_fmt(
                        &mut f.msg,
                        format_args!(" {} (bit {})", xfeature_name(bit), bit),
                    );
                }
            }
            return Err(f);
        }
        if h.xstate_size != self.m.xstate_size {
            return Err(fail!(
                code::ENOEXEC,
                "header: xstate size {} (this CPU: {})",
                h.xstate_size,
                self.m.xstate_size
            ));
        }
        if h.kernel_release != self.m.release {
            let img = core::str::from_utf8(h.release()).unwrap_or("?");
            return Err(fail!(
                code::ENOEXEC,
                "header: checkpointed under kernel {}, another kernel runs here (its vDSO differs)",
                img
            ));
        }
        self.header = Some(*h);
        Ok(())
    }

    fn tree(&mut self, off: u64, t: &Tree<'_>) -> Result<(), Fail> {
        self.tree_off = off;
        // The ROUND sections, if any, are over.
        self.round_src = None;
        self.rounds.seal();
        let n = t.len() as usize;
        self.tasks = KVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
        for e in t.iter() {
            self.tasks.push(
                TaskPlan {
                    entry: e,
                    comm: [0; 16],
                    personality: 0,
                    blocked: 0,
                    regs: None,
                    xstate: KVVec::new(),
                    thread: ThreadState::default(),
                    slot: 0,
                    keep_fds: None,
                    ids: [0; 8],
                    creds: None,
                    sigs: None,
                    process: None,
                    area_off: 0,
                    area_len: 0,
                },
                GFP_KERNEL_ACCOUNT,
            )?;
        }
        check_tree(off, &self.tasks)?;
        // Address spaces: owner, live tasks, parameter slots.
        let nmms = self.tasks.iter().map(|t| t.entry.mm_id).max().unwrap_or(0) as usize;
        self.mms = KVec::with_capacity(nmms, GFP_KERNEL_ACCOUNT)?;
        Ok(())
    }

    fn record(&mut self, off: u64, r: &Record<'_>) -> Result<(), Fail> {
        match r {
            Record::Shm(s) => self.resolve_shm(off, Some(s.id))?,
            _ => self.resolve_shm(off, None)?,
        }
        match r {
            Record::MapFile(mf) => self.resolve_file(off, Some(mf))?,
            _ => self.resolve_file(off, None)?,
        }
        match r {
            Record::File(f) => self.file_record(off, f),
            Record::Fds(f) => self.fds_record(off, f),
            Record::Task(t) => self.task_record(off, t),
            Record::Regs(rg) => self.regs_record(off, rg),
            Record::Fpu(f) => self.fpu_record(off, f),
            Record::Files(files) => self.files_record(off, files),
            Record::Thread(th) => {
                self.thread_record(th);
                Ok(())
            }
            Record::Creds(c) => self.creds_record(off, c),
            Record::Signals(sg) => self.signals_record(off, sg),
            Record::Process(pr) => self.process_record(off, pr),
            Record::Mm(mm) => self.mm_record(off, mm),
            Record::Vma(v) => self.vma_record(off, v),
            Record::Shm(_) => self.shm_record(off),
            Record::Pages(p) => self.pages_record(off, p),
            Record::Round(r) => {
                self.round_src = Some(r.src);
                Ok(())
            }
            Record::PrevPages(p) => self.prev_pages_record(off, p),
            _ => Ok(()),
        }
    }

    fn data(&mut self, _off: u64, _bytes: &[u8]) -> Result<(), Fail> {
        Ok(())
    }

    fn wants_page_data(&self) -> bool {
        // Pass 2 reads page data from the image itself.
        false
    }
}

/// Each live task's area of its trampoline mapping: its parameter block
/// and the largest restore program its records can give; the tasks of an
/// address space one after the other, after the code page.
fn size_areas(plan: &mut Plan) -> Result<(), Fail> {
    let mut lens = KVec::with_capacity(plan.tasks.len(), GFP_KERNEL_ACCOUNT)?;
    for (i, t) in plan.tasks.iter().enumerate() {
        let id = t.entry.mm_id as usize;
        let len = match plan.mms.get(id.wrapping_sub(1)) {
            Some(mm) if !t.is_zombie() => crate::restore_prog::bound(plan, mm, i, plan.as_invoker)
                .map_err(|f| f.prefixed(format_args!("TASK {} (pid {})", i, t.pid())))?,
            _ => 0,
        };
        lens.push(len, GFP_KERNEL_ACCOUNT)?;
    }
    for (k, mm) in plan.mms.iter_mut().enumerate() {
        let mut off = PAGE_SIZE as u64;
        for (t, &len) in plan.tasks.iter_mut().zip(lens.iter()) {
            if t.entry.mm_id as usize == k + 1 && len != 0 {
                t.area_off = off;
                t.area_len = len;
                off = off.checked_add(len).ok_or(code::E2BIG)?;
            }
        }
        mm.areas_len = off - PAGE_SIZE as u64;
    }
    Ok(())
}

/// Is `[start, end)` inside the VMAs `ranges` (ascending, adjacent ones
/// joined)?
fn covered(ranges: &[(u64, u64)], start: u64, end: u64) -> bool {
    let mut at = start;
    for &(s, e) in ranges {
        if e <= at {
            continue;
        }
        if s > at {
            return false;
        }
        at = e;
        if at >= end {
            return true;
        }
    }
    false
}

/// The rules a tree must follow for this restart to build it.
fn check_tree(off: u64, tasks: &[TaskPlan]) -> Result<(), Fail> {
    let Some(root) = tasks.first() else {
        return Err(fail!(
            code::EINVAL,
            "TREE (type 1) at offset {}: no task",
            off
        ));
    };
    if root.is_zombie() || root.entry.is_thread() || root.entry.nr_levels != 1 {
        return Err(fail!(
            eopnotsupp(),
            "TREE (type 1) at offset {}: the root is a zombie, a thread or in a nested pid namespace: not supported",
            off
        ));
    }
    for (i, t) in tasks.iter().enumerate() {
        if t.entry.is_thread() {
            check_thread(off, tasks, i)?;
        } else {
            check_process(off, tasks, i)?;
        }
    }
    Ok(())
}

/// The thread group leader (or process) with pid `tgid`.
fn leader_of(tasks: &[TaskPlan], tgid: u32) -> Option<&TaskPlan> {
    tasks.iter().find(|t| t.pid() == tgid)
}

/// A thread: its leader is in the tree, alive, and shares its mm.
fn check_thread(off: u64, tasks: &[TaskPlan], i: usize) -> Result<(), Fail> {
    let e = &tasks[i].entry;
    let l = leader_of(tasks, e.tgid).ok_or_else(|| {
        fail!(
            code::EINVAL,
            "TREE (type 1) at offset {}: task {} (pid {}): its thread group leader is missing",
            off,
            i,
            e.pid()
        )
    })?;
    if l.is_zombie() || e.is_zombie() {
        return Err(fail!(
            eopnotsupp(),
            "TREE (type 1) at offset {}: task {} (pid {}): a zombie thread or a thread of a zombie: not supported",
            off,
            i,
            e.pid()
        ));
    }
    if l.entry.mm_id != e.mm_id {
        return Err(fail!(
            code::EINVAL,
            "TREE (type 1) at offset {}: task {} (pid {}): not in its leader's mm",
            off,
            i,
            e.pid()
        ));
    }
    Ok(())
}

/// A process's parent: in the tree, alive, at most one pid namespace
/// level above it.
fn check_parent(off: u64, tasks: &[TaskPlan], i: usize) -> Result<(), Fail> {
    let e = &tasks[i].entry;
    let p = leader_of(tasks, e.ppid).ok_or_else(|| {
        fail!(
            code::EINVAL,
            "TREE (type 1) at offset {}: task {} (pid {}): its parent {} is not in the tree",
            off,
            i,
            e.pid(),
            e.ppid
        )
    })?;
    if p.is_zombie() {
        return Err(fail!(
            eopnotsupp(),
            "TREE (type 1) at offset {}: task {} (pid {}): the child of a zombie: not supported",
            off,
            i,
            e.pid()
        ));
    }
    let (depth, pdepth) = (e.nr_levels as usize, p.entry.nr_levels as usize);
    if depth != pdepth && depth != pdepth + 1 {
        return Err(fail!(
            eopnotsupp(),
            "TREE (type 1) at offset {}: task {} (pid {}): {} pid namespace levels under a parent with {}",
            off,
            i,
            e.pid(),
            depth,
            pdepth
        ));
    }
    Ok(())
}

/// A process: a leader whose parent is in the tree and alive, at most one
/// pid namespace level below it, with an address space of its own.
fn check_process(off: u64, tasks: &[TaskPlan], i: usize) -> Result<(), Fail> {
    let e = &tasks[i].entry;
    if e.tgid != e.pid() {
        return Err(fail!(
            code::EINVAL,
            "TREE (type 1) at offset {}: task {} (pid {}): a leader with tgid {}",
            off,
            i,
            e.pid(),
            e.tgid
        ));
    }
    if i > 0 {
        check_parent(off, tasks, i)?;
    }
    // Address spaces shared between thread groups (vfork, CLONE_VM).
    if e.mm_id != 0
        && tasks
            .iter()
            .any(|o| o.entry.mm_id == e.mm_id && o.entry.tgid != e.tgid)
    {
        return Err(fail!(
            eopnotsupp(),
            "TREE (type 1) at offset {}: task {} (pid {}) shares its address space with another process: not supported",
            off,
            i,
            e.pid()
        ));
    }
    Ok(())
}

impl Walker<'_> {
    /// TASK: the task's name, personality and signal mask.
    fn task_record(&mut self, off: u64, t: &image::Task) -> Result<(), Fail> {
        if t.personality & 0xff != 0 {
            return Err(fail!(
                eopnotsupp(),
                "TASK (type 2) at offset {}: personality {:#x} is not the Linux one",
                off,
                t.personality
            ));
        }
        let i = t.index as usize;
        let tp = self
            .tasks
            .get_mut(i)
            .ok_or_else(|| fail!(code::EINVAL, "TASK at offset {}: bad index", off))?;
        tp.comm = t.comm;
        tp.ids = [
            t.uid, t.gid, t.euid, t.egid, t.suid, t.sgid, t.fsuid, t.fsgid,
        ];
        tp.personality = t.personality;
        tp.blocked = t.blocked;
        self.cur_task = Some(i);
        Ok(())
    }

    /// REGS: a 64-bit user context inside user space.
    fn regs_record(&mut self, off: u64, rg: &image::Regs) -> Result<(), Fail> {
        let a = UserRegs::new(rg.to_array(), self.m.task_size).map_err(|e| match e {
            RegsError::NotUser64 { cs, ss } => fail!(
                eopnotsupp(),
                "REGS (type 3) at offset {}: not a 64-bit user context (cs {:#x}, ss {:#x})",
                off,
                cs,
                ss
            ),
            RegsError::OutsideUser => fail!(
                code::EINVAL,
                "REGS (type 3) at offset {}: an address outside user space",
                off
            ),
        })?;
        if let Some(t) = self.cur_task.and_then(|i| self.tasks.get_mut(i)) {
            t.regs = Some(a);
        }
        Ok(())
    }

    /// FPU: the xstate, with a valid MXCSR.
    fn fpu_record(&mut self, off: u64, f: &image::Fpu<'_>) -> Result<(), Fail> {
        let x = f.xstate;
        let mxcsr = x
            .get(24..28)
            .map_or(0, |b| u32::from_ne_bytes(b.try_into().unwrap_or([0; 4])));
        if mxcsr & 0xffff_0000 != 0 {
            return Err(fail!(
                code::EINVAL,
                "FPU (type 4) at offset {}: MXCSR {:#x} has reserved bits set",
                off,
                mxcsr
            ));
        }
        if let Some(t) = self.cur_task.and_then(|i| self.tasks.get_mut(i)) {
            t.xstate = KVVec::with_capacity(x.len(), GFP_KERNEL_ACCOUNT)?;
            t.xstate.extend_from_slice(x, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(())
    }

    /// FILES: only fds 0, 1 and 2 (the restart tool's) unless skipped.
    fn files_record(&self, off: u64, files: &image::Files<'_>) -> Result<(), Fail> {
        if self.flags & RST_SKIP_FILES == 0 {
            if let Some(e) = files.iter().find(|e| e.fd > 2) {
                return Err(fail!(
                    eopnotsupp(),
                    "FILES (type 9) at offset {}: the task had fd {} ({}) open; only fds 0, 1 and 2 are restored (they are the restart tool's): use --skip-files to restart without the others",
                    off,
                    e.fd,
                    image::file_kind_name(e.kind)
                ));
            }
        }
        Ok(())
    }

    /// THREAD: what the task registered for its thread library.
    fn thread_record(&mut self, th: &image::Thread) {
        if let Some(t) = self.cur_task.and_then(|i| self.tasks.get_mut(i)) {
            t.thread = ThreadState {
                clear_child_tid: th.clear_child_tid,
                robust_list: th.robust_list,
                robust_list_len: th.robust_list_len,
                rseq: th.rseq,
                rseq_len: th.rseq_len,
                rseq_sig: th.rseq_sig,
            };
        }
    }

    /// The task whose records come now, for the record at `off`.
    fn cur_task_mut(&mut self, what: &str, off: u64) -> Result<&mut TaskPlan, Fail> {
        self.cur_task
            .and_then(|i| self.tasks.get_mut(i))
            .ok_or_else(|| fail!(code::EINVAL, "{} at offset {}: outside a task", what, off))
    }

    /// CREDS: what the task's restore program sets and its commit checks.
    fn creds_record(&mut self, off: u64, c: &image::Creds<'_>) -> Result<(), Fail> {
        let mut groups = KVec::with_capacity(c.groups.len() as usize, GFP_KERNEL_ACCOUNT)?;
        for g in c.groups.iter() {
            groups.push(g, GFP_KERNEL_ACCOUNT)?;
        }
        let t = self.cur_task_mut("CREDS (type 16)", off)?;
        t.creds = Some(CredPlan {
            inheritable: c.cap_inheritable,
            permitted: c.cap_permitted,
            effective: c.cap_effective,
            bset: c.cap_bset,
            ambient: c.cap_ambient,
            securebits: c.securebits,
            no_new_privs: c.no_new_privs(),
            groups,
        });
        Ok(())
    }

    /// SIGNALS: the alternate stack, parent-death signal, timer slack and
    /// pending signals (copied: the program queues them).
    fn signals_record(&mut self, off: u64, sg: &image::Signals<'_>) -> Result<(), Fail> {
        let n = sg.len() as usize;
        let mut entries = KVVec::with_capacity(n * image::SIGINFO_LEN, GFP_KERNEL_ACCOUNT)?;
        for k in 0..sg.len() {
            let e = sg.entry(k).ok_or_else(|| {
                fail!(
                    code::EINVAL,
                    "SIGNALS (type 17) at offset {}: entry {} missing",
                    off,
                    k
                )
            })?;
            entries.extend_from_slice(e.bytes(), GFP_KERNEL_ACCOUNT)?;
        }
        let t = self.cur_task_mut("SIGNALS (type 17)", off)?;
        t.sigs = Some(SigPlan {
            altstack_sp: sg.altstack_sp,
            altstack_size: sg.altstack_size,
            altstack_flags: sg.altstack_flags,
            pdeath_signal: sg.pdeath_signal,
            timer_slack_ns: sg.timer_slack_ns,
            nprivate: sg.nprivate,
            nshared: sg.nshared,
            entries,
        });
        Ok(())
    }

    /// PROCESS: limits, interval timers, dispositions, POSIX timers and
    /// flags of the thread group.
    fn process_record(&mut self, off: u64, pr: &image::Process<'_>) -> Result<(), Fail> {
        let mut timers = KVec::with_capacity(pr.timers.len() as usize, GFP_KERNEL_ACCOUNT)?;
        for tm in pr.timers.iter() {
            timers.push(tm, GFP_KERNEL_ACCOUNT)?;
        }
        let mut sigactions = KVec::from_elem([0u64; 4], 64, GFP_KERNEL_ACCOUNT)?;
        for (signo, a) in pr.sigactions() {
            if let Some(d) = sigactions.get_mut((signo as usize).wrapping_sub(1)) {
                *d = [a.handler, a.flags, a.restorer, a.mask];
            }
        }
        let mut p = KBox::new(
            ProcPlan {
                rlimits: [(0, 0); 16],
                itimers: [(0, 0); 3],
                flags: pr.flags,
                dumpable: pr.dumpable,
                sigactions,
                timers,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        for (d, r) in p.rlimits.iter_mut().zip(pr.rlimits.iter()) {
            *d = (r.cur, r.max);
        }
        for (d, it) in p.itimers.iter_mut().zip(pr.itimers.iter()) {
            *d = (it.value_ns, it.interval_ns);
        }
        let t = self.cur_task_mut("PROCESS (type 18)", off)?;
        t.process = Some(p);
        Ok(())
    }

    /// SHM: only right after a shared anonymous VMA.
    fn shm_record(&mut self, off: u64) -> Result<(), Fail> {
        let cur = self
            .cur
            .ok_or_else(|| fail!(code::EINVAL, "SHM at offset {}: outside a VMA", off))?;
        if cur.kind != VmaKind::SharedAnon || !cur.shm_ok {
            return Err(fail!(
                code::EINVAL,
                "SHM (type 10) at offset {}: not right after a shared anonymous VMA",
                off
            ));
        }
        if let Some(c) = self.cur.as_mut() {
            c.shm_ok = false;
        }
        Ok(())
    }

    /// PAGES: a run of page data for the current VMA, or in a ROUND
    /// section, pages of its source for the index.
    fn pages_record(&mut self, off: u64, p: &image::Pages<'_>) -> Result<(), Fail> {
        let image_off = off + (image::RECORD_HEADER_LEN + image::PAGES_FIXED_LEN) as u64;
        if let Some(src) = self.round_src {
            return self.rounds.add(off, src, p.addr, p.nr_pages, image_off);
        }
        let cur = self
            .cur
            .ok_or_else(|| fail!(code::EINVAL, "PAGES at offset {}: outside a VMA", off))?;
        match cur.kind {
            VmaKind::AnonPrivate
            | VmaKind::Stack
            | VmaKind::Heap
            | VmaKind::FilePrivate
            | VmaKind::SharedAnon => {}
            _ => {
                return Err(fail!(
                code::EINVAL,
                "PAGES (type 7) at offset {}: pages for a shared file mapping, [vdso] or [vvar]",
                off
            ))
            }
        }
        if let Some(c) = self.cur.as_mut() {
            c.shm_ok = false;
        }
        let ps = self.page_size();
        let len = p.nr_pages.checked_mul(ps).ok_or(code::EFBIG)?;
        let mm = self
            .mm_mut()
            .ok_or_else(|| fail!(code::EINVAL, "PAGES at offset {}: no MM", off))?;
        mm.runs.push(
            RunPlan {
                addr: p.addr,
                len,
                image_off,
                off,
                rec: image::RECORD_PAGES,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        if let Some(v) = mm.vmas.last_mut() {
            v.nr_runs += 1;
        }
        Ok(())
    }

    /// PREVPAGES: pages of the current (private) VMA whose content is
    /// their latest copy in the ROUND sections of its source: runs reading
    /// those copies, one per stretch of pages whose copies lie one after
    /// the other in the image.
    ///
    /// # Errors
    /// `EINVAL` naming the record and the page if no ROUND of the source
    /// copied a page.
    fn prev_pages_record(&mut self, off: u64, p: &image::PrevPages) -> Result<(), Fail> {
        let at = RecAt(image::RECORD_PREVPAGES, off);
        let cur = self
            .cur
            .ok_or_else(|| fail!(code::EINVAL, "{}: outside a VMA", at))?;
        if !matches!(
            cur.kind,
            VmaKind::AnonPrivate | VmaKind::Stack | VmaKind::Heap | VmaKind::FilePrivate
        ) {
            return Err(fail!(
                code::EINVAL,
                "{}: in a VMA that is not private memory",
                at
            ));
        }
        let ps = PAGE_SIZE as u64;
        let mm = self
            .mms
            .last_mut()
            .ok_or_else(|| fail!(code::EINVAL, "{}: no MM", at))?;
        let mut added = 0usize;
        for i in 0..p.nr_pages {
            if i % 4096 == 4095 {
                crate::task::cond_resched();
            }
            let a = p.addr + i * ps;
            let data = self.rounds.latest(p.src, a).ok_or_else(|| {
                fail!(
                    code::EINVAL,
                    "{}: page {:#x}: no ROUND of src {} copied it",
                    at,
                    a,
                    p.src
                )
            })?;
            // The same run goes on if both the page and its copy do.
            if added > 0 {
                if let Some(r) = mm.runs.as_mut_slice().last_mut() {
                    if r.addr + r.len == a && r.image_off + r.len == data {
                        r.len += ps;
                        continue;
                    }
                }
            }
            mm.runs.push(
                RunPlan {
                    addr: a,
                    len: ps,
                    image_off: data,
                    off,
                    rec: image::RECORD_PREVPAGES,
                },
                GFP_KERNEL_ACCOUNT,
            )?;
            added += 1;
        }
        if let Some(v) = mm.vmas.last_mut() {
            v.nr_runs += added;
        }
        if let Some(c) = self.cur.as_mut() {
            c.shm_ok = false;
        }
        Ok(())
    }

    /// Names a file to open after the walk, within the caller's limit.
    fn add_file(
        &mut self,
        path: &[u8],
        write: bool,
        what: &'static str,
        off: u64,
    ) -> Result<usize, Fail> {
        let i = self.files.add(path, write, what, off)?;
        self.check_budget(what, off)?;
        Ok(i)
    }

    /// The files and shared memory objects planned so far must fit the
    /// caller's `RLIMIT_NOFILE`: a restart holds them all at once.
    fn check_budget(&self, what: &str, off: u64) -> Result<(), Fail> {
        let n = self.files.len() + self.shms.len();
        if n > self.max_files {
            return Err(fail!(
                code::EMFILE,
                "{} at offset {}: the image needs more than {} files and shared memory objects (the caller's RLIMIT_NOFILE)",
                what,
                off,
                self.max_files
            ));
        }
        Ok(())
    }

    fn mm_record(&mut self, off: u64, mm: &image::Mm<'_>) -> Result<(), Fail> {
        let layout = self.mm_layout(off, mm)?;
        let auxv = self.mm_auxv(off, mm)?;
        let exe = if mm.exe_path.is_empty() {
            None
        } else {
            Some(self.add_file(mm.exe_path, false, "MM (type 5)", off)?)
        };
        let (owner, _, last) = self.mm_tasks(off, mm.mm_id)?;
        self.mms.push(
            MmPlan {
                layout,
                auxv,
                exe,
                vmas: KVec::new(),
                runs: KVec::new(),
                ranges: KVec::new(),
                vdso: (0, 0),
                vvar: (0, 0),
                owner,
                areas_len: 0,
                last,
                off,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        self.cur = None;
        Ok(())
    }

    /// MM's layout fields: inside user space and in order.
    fn mm_layout(&self, off: u64, mm: &image::Mm<'_>) -> Result<MmLayout, Fail> {
        let f = mm.layout();
        let layout = MmLayout::from_array(f);
        if f.iter()
            .any(|&v| v < PAGE_SIZE as u64 || v >= self.m.task_size)
            || layout.start_code >= layout.end_code
            || layout.start_data > layout.end_data
            || layout.start_brk > layout.brk
            || layout.arg_start > layout.arg_end
            || layout.env_start > layout.env_end
        {
            return Err(fail!(
                code::EINVAL,
                "MM (type 5) at offset {}: invalid layout fields",
                off
            ));
        }
        Ok(layout)
    }

    /// MM's auxv: pairs that fit this kernel's `saved_auxv`, ended by
    /// `AT_NULL`.
    fn mm_auxv(&self, off: u64, mm: &image::Mm<'_>) -> Result<KVec<u64>, Fail> {
        let mut auxv = KVec::new();
        for (k, v) in mm.auxv.iter() {
            auxv.push(k, GFP_KERNEL_ACCOUNT)?;
            auxv.push(v, GFP_KERNEL_ACCOUNT)?;
        }
        if auxv.len() < 2
            || auxv.len() > self.m.auxv_words
            || auxv[auxv.len() - 2] != image::AT_NULL
        {
            return Err(fail!(
                code::EINVAL,
                "MM (type 5) at offset {}: auxv too long or not ended by AT_NULL",
                off
            ));
        }
        Ok(auxv)
    }

    /// The live tasks of address space `id`: its owner (the first), how
    /// many, and the last; each gets its trampoline parameter slot.
    fn mm_tasks(&mut self, off: u64, id: u32) -> Result<(usize, usize, usize), Fail> {
        let (mut owner, mut last, mut n) = (None, 0, 0);
        for (i, t) in self.tasks.iter_mut().enumerate() {
            if t.entry.mm_id == id && !t.is_zombie() {
                owner.get_or_insert(i);
                t.slot = n;
                n += 1;
                last = i;
            }
        }
        let owner = owner.ok_or_else(|| {
            fail!(
                code::EINVAL,
                "MM (type 5) at offset {}: no task uses address space {}",
                off,
                id
            )
        })?;
        Ok((owner, n, last))
    }

    /// A [vdso] or [vvar] VMA: one of each per mm, of this kernel's size.
    fn check_special(&self, off: u64, kind: VmaKind, len: u64) -> Result<(), Fail> {
        let (want, name) = if kind == VmaKind::Vdso {
            (self.m.vdso_len, "[vdso]")
        } else {
            (self.m.vvar_len, "[vvar]")
        };
        let mm = self
            .mms
            .last()
            .ok_or_else(|| fail!(code::EINVAL, "VMA at offset {}: no MM", off))?;
        let slot = if kind == VmaKind::Vdso {
            mm.vdso
        } else {
            mm.vvar
        };
        if slot.1 != 0 || len != want {
            return Err(fail!(
                code::ENOEXEC,
                "VMA (type 6) at offset {}: {} of {} bytes, a second one, or this kernel's is {} bytes",
                off,
                name,
                len,
                want
            ));
        }
        Ok(())
    }

    /// What VMA `v` maps, by kind: its file (an index of the file table),
    /// a shared memory object (known at the next record), or nothing.
    fn vma_object(&mut self, off: u64, v: &image::Vma<'_>) -> Result<usize, Fail> {
        let ps = self.page_size();
        let len = v.end - v.start;
        match v.kind {
            VmaKind::Vdso | VmaKind::Vvar => self.check_special(off, v.kind, len)?,
            VmaKind::FilePrivate | VmaKind::FileShared => {
                v.pgoff.checked_mul(ps).ok_or_else(|| {
                    fail!(
                        code::EINVAL,
                        "VMA (type 6) at offset {}: file offset too large",
                        off
                    )
                })?;
                // The file is known at the next record: by path (checked
                // as its MAPFILE says), or a FILE object.
                let mut path = KVec::with_capacity(v.path.len(), GFP_KERNEL_ACCOUNT)?;
                path.extend_from_slice(v.path, GFP_KERNEL_ACCOUNT)?;
                self.pending_file = Some(PendingFile {
                    path,
                    write: v.kind == VmaKind::FileShared && v.prot & image::PROT_WRITE != 0,
                    off,
                });
            }
            VmaKind::SharedAnon => {
                // Its object is known at the next record: the one an SHM
                // record names, or one of its own.
                let pages = v.pgoff.checked_add(len / ps).ok_or(code::EFBIG)?;
                self.pending_shm = Some(pages);
            }
            VmaKind::AnonPrivate | VmaKind::Stack | VmaKind::Heap => {}
        }
        Ok(0)
    }

    fn vma_record(&mut self, off: u64, v: &image::Vma<'_>) -> Result<(), Fail> {
        let ps = self.page_size();
        if v.start < MIN_ADDR
            || v.end > self.m.task_size
            || v.start >= v.end
            || v.start % ps != 0
            || v.end % ps != 0
        {
            return Err(fail!(
                code::EINVAL,
                "VMA (type 6) at offset {}: {:#x}-{:#x} is outside user space",
                off,
                v.start,
                v.end
            ));
        }
        self.cur = Some(CurVma {
            kind: v.kind,
            shm_ok: true,
        });
        let object = self.vma_object(off, v)?;
        let mm = self
            .mms
            .last_mut()
            .ok_or_else(|| fail!(code::EINVAL, "VMA at offset {}: no MM", off))?;
        match v.kind {
            VmaKind::Vdso => mm.vdso = (v.start, v.end),
            VmaKind::Vvar => mm.vvar = (v.start, v.end),
            _ => {}
        }
        mm.ranges.push((v.start, v.end), GFP_KERNEL_ACCOUNT)?;
        let first_run = mm.runs.len();
        mm.vmas.push(
            VmaPlan {
                start: v.start,
                end: v.end,
                pgoff: v.pgoff,
                prot: v.prot,
                flags: v.flags,
                kind: v.kind,
                object,
                first_run,
                nr_runs: 0,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        Ok(())
    }

    /// Gives the last VMA, a file one waiting for its MAPFILE, its file:
    /// by path (what `mf` says of it checked once it is opened), or the
    /// coordinator's file of the FILE object `mf` names. `off` is the
    /// record after the VMA.
    fn resolve_file(&mut self, off: u64, mf: Option<&image::MapFile>) -> Result<(), Fail> {
        let Some(p) = self.pending_file.take() else {
            if mf.is_some() {
                return Err(fail!(
                    code::EINVAL,
                    "MAPFILE (type 15) at offset {}: not right after a VMA of a file",
                    off
                ));
            }
            return Ok(());
        };
        let idx = match mf {
            Some(mf) if mf.file != 0 => self.map_object(off, mf.file, p.write)?,
            _ => {
                let i = self.add_file(&p.path, p.write, "VMA (type 6)", p.off)?;
                if let Some(mf) = mf {
                    let e = MapExpect {
                        mode: mf.mode,
                        size: mf.size,
                        vma_off: p.off,
                    };
                    self.files.expect(i, off, e)?;
                }
                i
            }
        };
        if let Some(v) = self.mms.last_mut().and_then(|m| m.vmas.last_mut()) {
            v.object = idx;
        }
        Ok(())
    }

    /// The file table's entry of FILE object `id`, which the MAPFILE at
    /// `off` maps (added at its first use): a memfd or a deleted file the
    /// coordinator passed (`args.files[id - 1]`).
    fn map_object(&mut self, off: u64, id: u32, write: bool) -> Result<usize, Fail> {
        let kind = id
            .checked_sub(1)
            .and_then(|k| self.file_kinds.get(k as usize).copied())
            .ok_or_else(|| {
                fail!(
                    code::EINVAL,
                    "MAPFILE (type 15) at offset {}: file {} is not a FILE of the image",
                    off,
                    id
                )
            })?;
        if !matches!(kind, FileKind::Memfd | FileKind::Deleted) {
            return Err(fail!(
                code::EINVAL,
                "MAPFILE (type 15) at offset {}: file {} is a {} file: only a memfd or a deleted file is mapped as a FILE object",
                off,
                id,
                kind.name()
            ));
        }
        let nfiles = self.arg_fds.len();
        if nfiles == 0 {
            return Err(fail!(
                code::EBADF,
                "MAPFILE (type 15) at offset {}: file {} ({}) is mapped, and the restart gave no files",
                off,
                id,
                kind.name()
            ));
        }
        if nfiles != self.file_kinds.len() {
            return Err(fail!(
                code::EINVAL,
                "MAPFILE (type 15) at offset {}: the restart gave {} files, the image has {}",
                off,
                nfiles,
                self.file_kinds.len()
            ));
        }
        let fd = self.arg_fds.get(id).unwrap_or(-1);
        if fd < 0 {
            return Err(fail!(
                code::EBADF,
                "MAPFILE (type 15) at offset {}: file {} ({}) is mapped, and the restart gave no fd for it",
                off,
                id,
                kind.name()
            ));
        }
        if self.object_index.is_empty() {
            self.object_index = KVec::from_elem(0usize, nfiles, GFP_KERNEL_ACCOUNT)?;
        }
        let k = (id - 1) as usize;
        match self.object_index.get(k).copied() {
            Some(0) => {}
            Some(i) => {
                if let Some(n) = self.files.names.get_mut(i - 1) {
                    n.write |= write;
                }
                return Ok(i - 1);
            }
            None => return Err(fail!(code::EINVAL, "MAPFILE at offset {}: bad file", off)),
        }
        let i = self.files.add_object(id, fd, write, off)?;
        self.object_index[k] = i + 1;
        self.check_budget("MAPFILE (type 15)", off)?;
        Ok(i)
    }

    /// FILE: its kind, for the MAPFILE records (ids 1, 2, ... in order).
    fn file_record(&mut self, off: u64, f: &image::OpenFile<'_>) -> Result<(), Fail> {
        let n = self.file_kinds.len();
        if f.id as usize != n + 1 || n >= image::MAX_FILES as usize {
            return Err(fail!(
                code::EINVAL,
                "FILE (type 12) at offset {}: id {} out of order or over {}",
                off,
                f.id,
                image::MAX_FILES
            ));
        }
        self.file_kinds.push(f.kind, GFP_KERNEL_ACCOUNT)?;
        Ok(())
    }

    /// FDS: a live thread group leader's fds, each below the caller's
    /// `RLIMIT_NOFILE` (user space puts them in place before the commit,
    /// which keeps them and closes the others). Not kept with
    /// `RST_SKIP_FILES`: then the tasks keep 0, 1 and 2.
    fn fds_record(&mut self, off: u64, f: &image::Fds<'_>) -> Result<(), Fail> {
        let limit = self.max_files;
        let skip = self.flags & RST_SKIP_FILES != 0;
        let t = self
            .cur_task
            .and_then(|i| self.tasks.get_mut(i))
            .ok_or_else(|| {
                fail!(
                    code::EINVAL,
                    "FDS (type 14) at offset {}: outside a task",
                    off
                )
            })?;
        if t.entry.is_thread() || t.is_zombie() || t.keep_fds.is_some() {
            return Err(fail!(
                code::EINVAL,
                "FDS (type 14) at offset {}: in a thread or a zombie, or a second one",
                off
            ));
        }
        if skip {
            return Ok(());
        }
        let mut keep = KVec::with_capacity(f.len() as usize, GFP_KERNEL_ACCOUNT)?;
        for e in f.iter() {
            if e.fd as usize >= limit {
                return Err(fail!(
                    code::EMFILE,
                    "FDS (type 14) at offset {}: fd {} is over the caller's RLIMIT_NOFILE ({})",
                    off,
                    e.fd,
                    limit
                ));
            }
            if keep.last().is_some_and(|&l| l >= e.fd) {
                return Err(fail!(
                    code::EINVAL,
                    "FDS (type 14) at offset {}: fd {} out of order",
                    off,
                    e.fd
                ));
            }
            keep.push(e.fd, GFP_KERNEL_ACCOUNT)?;
        }
        t.keep_fds = Some(keep);
        Ok(())
    }

    /// Gives the last VMA, a shared anonymous one waiting for its object,
    /// the object SHM `id` names (None: an object of its own).
    fn resolve_shm(&mut self, off: u64, id: Option<u64>) -> Result<(), Fail> {
        let Some(pages) = self.pending_shm.take() else {
            return Ok(());
        };
        let idx = match id {
            Some(id) => {
                let n = self.shm_ids.len() as u64;
                if id == 0 || id > n + 1 {
                    return Err(fail!(
                        code::EINVAL,
                        "SHM (type 10) at offset {}: object {} out of order",
                        off,
                        id
                    ));
                }
                if id == n + 1 {
                    self.shms.push(
                        ShmPlan {
                            pages: 0,
                            file: None,
                        },
                        GFP_KERNEL_ACCOUNT,
                    )?;
                    self.shm_ids.push(self.shms.len() - 1, GFP_KERNEL_ACCOUNT)?;
                }
                self.shm_ids[(id - 1) as usize]
            }
            None => {
                self.shms.push(
                    ShmPlan {
                        pages: 0,
                        file: None,
                    },
                    GFP_KERNEL_ACCOUNT,
                )?;
                self.shms.len() - 1
            }
        };
        self.check_budget("record", off)?;
        if let Some(s) = self.shms.get_mut(idx) {
            s.pages = s.pages.max(pages);
        }
        if let Some(v) = self.mms.last_mut().and_then(|m| m.vmas.last_mut()) {
            v.object = idx;
        }
        Ok(())
    }
}
