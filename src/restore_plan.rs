// SPDX-License-Identifier: GPL-2.0
//! Restart, pass 1: the coordinator reads the whole image once, through the
//! shared streaming validator, checks it against the restore rules and the
//! machine, and turns it into a [`Plan`] held in kernel memory: per task
//! its ids and state, per address space its layout and VMAs, the opened
//! files, and where each run of pages lies in the image. Nothing is
//! changed, and nothing the image names is looked up or opened, before the
//! whole image has been read: only the trailer says it is whole. Then the
//! files are opened (regular files only) and the shared memory objects
//! created, within the caller's `RLIMIT_NOFILE`. Pass 2 (the restored tasks, `restore_mm.rs`) only executes the
//! plan, reading page data at the offsets pass 1 recorded.

use kernel::error::code;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::str::BStr;
use kernel::types::ARef;

use crate::error::{eopnotsupp, fail, Fail};
use crate::file::{mode, File, Path};
use crate::image::{self, FileHeader, Record, Tree, TreeEntry, VmaKind};
use crate::image_in::{self, InFile, Visitor};
use crate::machine;
use crate::mm::{self, MmLayout};
use crate::task::{RegsError, ThreadState, UserRegs};
use crate::uapi::RST_SKIP_FILES;

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
    /// Index of the task within the live tasks of its mm (its parameter
    /// page in the trampoline), 0 for the mm's owner.
    pub(crate) slot: usize,
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
    pub(crate) off: u64,
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
    /// Live tasks sharing it (parameter pages of the trampoline).
    pub(crate) nr_tasks: usize,
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
}

/// Pass 1: reads and checks the whole image; then opens the mapped files and
/// creates the shared memory objects.
pub(crate) fn plan(image: &InFile, flags: u32) -> Result<Plan, Fail> {
    let m = Machine::get()?;
    let mut w = Walker::new(&m, flags);
    // Only a whole image (trailer, counts, CRC32C) gets a plan.
    image_in::walk(image, &mut w)?;
    w.finish()
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

/// A file the image names: a mapped file or an executable.
struct FileName {
    /// Absolute, NUL-terminated.
    path: KVec<u8>,
    write: bool,
    /// The record that names it first, and its offset (for messages).
    what: &'static str,
    off: u64,
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
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        self.sorted.push(self.names.len() - 1, GFP_KERNEL_ACCOUNT)?;
        self.sorted[pos..].rotate_right(1);
        Ok(self.names.len() - 1)
    }

    fn len(&self) -> usize {
        self.names.len()
    }

    /// Opens every file, in order. Each must be a regular file: the open of
    /// a FIFO blocks, a device's open has effects, and neither can be
    /// restored as a mapping. The type is checked on the looked-up inode
    /// before the open, and that same inode is opened.
    fn open_all(&self) -> Result<KVec<ARef<File>>, Fail> {
        let mut files = KVec::with_capacity(self.names.len(), GFP_KERNEL_ACCOUNT)?;
        for n in self.names.iter() {
            let name = BStr::from_bytes(n.name());
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
            files.push(f, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(files)
    }
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
    cur: Option<CurVma>,
    tree_off: u64,
}

impl<'a> Walker<'a> {
    fn new(m: &'a Machine, flags: u32) -> Self {
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
            cur: None,
            tree_off: 0,
        }
    }

    fn page_size(&self) -> u64 {
        self.header
            .map_or(PAGE_SIZE as u64, |h| u64::from(h.page_size))
    }

    /// The last checks, which need the whole image, and the objects.
    fn finish(mut self) -> Result<Plan, Fail> {
        self.resolve_shm(0, None)?;
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
        let files = self.files.open_all()?;
        Ok(Plan {
            tasks: self.tasks,
            mms: self.mms,
            files,
            shms: self.shms,
        })
    }

    fn mm_mut(&mut self) -> Option<&mut MmPlan> {
        self.mms.last_mut()
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
            Record::Task(t) => self.task_record(off, t),
            Record::Regs(rg) => self.regs_record(off, rg),
            Record::Fpu(f) => self.fpu_record(off, f),
            Record::Files(files) => self.files_record(off, files),
            Record::Thread(th) => {
                self.thread_record(th);
                Ok(())
            }
            Record::Mm(mm) => self.mm_record(off, mm),
            Record::Vma(v) => self.vma_record(off, v),
            Record::Shm(_) => self.shm_record(off),
            Record::Pages(p) => self.pages_record(off, p),
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

    /// PAGES: a run of page data for the current VMA.
    fn pages_record(&mut self, off: u64, p: &image::Pages<'_>) -> Result<(), Fail> {
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
        let image_off = off + (image::RECORD_HEADER_LEN + image::PAGES_FIXED_LEN) as u64;
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
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        if let Some(v) = mm.vmas.last_mut() {
            v.nr_runs += 1;
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
        let (owner, nr_tasks, last) = self.mm_tasks(off, mm.mm_id)?;
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
                nr_tasks,
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
                let write = v.kind == VmaKind::FileShared && v.prot & image::PROT_WRITE != 0;
                return self.add_file(v.path, write, "VMA (type 6)", off);
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
