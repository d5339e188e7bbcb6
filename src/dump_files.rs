// SPDX-License-Identifier: GPL-2.0
//! Dump code for open files: the checkpoint's pre-pass over the fd tables
//! and fs contexts of the tree ([`TreeFiles::collect`]), the FILE objects
//! it finds (each distinct `struct file`, by pointer), their
//! classification into the image's [`FileKind`]s or the refusal of what
//! cannot be checkpointed ([`classify`]), and the FILE/FDATA and FDS
//! records ([`TreeFiles::write_files`], [`TreeFiles::write_fds`]).
//!
//! Everything that can refuse the checkpoint is done here before a byte of
//! the image is written; the tree is only read (no position moves, pipe
//! data is peeked, content read at explicit offsets).

use core::fmt;

use kernel::error::code;
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::types::ARef;

use crate::error::{eopnotsupp, fail, Fail};
use crate::file::{df, df_mode, mode, File, FileDumpFacts};
use crate::image::{self, FdEntry, FileKind};
use crate::image_out::ImageOut;
use crate::task::{Task, TaskExt, TaskInfo, TI_LEADER};

// Super block magics (include/uapi/linux/magic.h) of the file systems
// whose files are kernel objects, not data: refused (besides those with
// SB_I_NOEXEC or SB_NOUSER).
const PIPEFS_MAGIC: u64 = 0x5049_5045;
const ANON_INODE_FS_MAGIC: u64 = 0x0904_1934;
const PID_FS_MAGIC: u64 = 0x5049_4446;
const PSEUDO_MAGICS: [u64; 22] = [
    0x9fa0,      // PROC_SUPER_MAGIC
    0x6265_6572, // SYSFS_MAGIC
    0x6462_6720, // DEBUGFS_MAGIC
    0x7472_6163, // TRACEFS_MAGIC
    0x7363_6673, // SECURITYFS_MAGIC
    0xf97c_ff8c, // SELINUX_MAGIC
    0x4341_5d53, // SMACK_MAGIC
    0x0027_e0eb, // CGROUP_SUPER_MAGIC
    0x6367_7270, // CGROUP2_SUPER_MAGIC
    0x0765_5821, // RDTGROUP_SUPER_MAGIC
    0xcafe_4a11, // BPF_FS_MAGIC
    0x6265_6570, // CONFIGFS_MAGIC
    0xde5e_81e4, // EFIVARFS_MAGIC
    0x6165_676c, // PSTOREFS_MAGIC
    0x4249_4e4d, // BINFMTFS_MAGIC
    0x6e73_6673, // NSFS_MAGIC
    0x5345_434d, // SECRETMEM_MAGIC
    0x444d_4142, // DMA_BUF_MAGIC
    0x6264_6576, // BDEVFS_MAGIC
    0x9fa2,      // USBDEVICE_SUPER_MAGIC
    0x5a3c_69f0, // AAFS_MAGIC
    0x6c6f_6f70, // BINDERFS_SUPER_MAGIC
];

/// Most fds one FDS record holds: it is encoded whole in the output
/// buffer, with two paths of at most `MAX_PATH_LEN` bytes.
const FDS_MAX: usize = {
    let room = crate::image_out::BUF_LEN
        - image::RECORD_HEADER_LEN
        - image::FDS_FIXED_LEN
        - 2 * image::MAX_PATH_LEN;
    let n = room / image::FD_ENTRY_LEN;
    if n < image::MAX_FILES as usize {
        n
    } else {
        image::MAX_FILES as usize
    }
};

/// Most FILE objects of one image.
const FILES_MAX: usize = 1 << 20;

/// Bytes of content per FDATA record (a multiple of 8, within the output
/// buffer and `FDATA_MAX_CHUNK`).
const FDATA_CHUNK: usize = 512 * 1024;
const _: () = assert!(FDATA_CHUNK % 8 == 0 && FDATA_CHUNK <= image::FDATA_MAX_CHUNK);
const _: () = assert!(FDATA_CHUNK + 64 <= crate::image_out::BUF_LEN);

/// Bytes shown as text in a message: printable ASCII as is, anything else
/// as `?`.
pub(crate) struct Show<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Show<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            let c = if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            };
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

/// What a file is not, for the refusal message (`fd N is KIND: not
/// supported`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused<'a> {
    /// Its `d_path` says what it is (`anon_inode:[eventfd]`,
    /// `socket:[123]`, `/dev/cptrst`).
    Named(&'a [u8]),
    /// A character device.
    Chr(u32, u32),
    /// A block device.
    Blk(u32, u32),
    /// A file of a pseudo file system (`proc`, `sysfs`...).
    PseudoFs(&'a [u8]),
    /// Something else, described.
    Other(&'static str, &'a [u8]),
}

impl fmt::Display for Refused<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Named(p) => write!(f, "{}", Show(p)),
            Refused::Chr(ma, mi) => write!(f, "character device {}:{}", ma, mi),
            Refused::Blk(ma, mi) => write!(f, "block device {}:{}", ma, mi),
            Refused::PseudoFs(n) => write!(f, "a file of {}", Show(n)),
            Refused::Other(what, p) => write!(f, "{} ({})", what, Show(p)),
        }
    }
}

/// The class of a file from its facts alone (pipes are settled once every
/// fd of the tree is known: [`Class::PipeEnd`]).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum Class {
    /// A FILE of this kind.
    Kind(FileKind),
    /// An anonymous pipe end: [`FileKind::Pipe`] if all the pipe's ends are
    /// in the tree, else [`FileKind::External`].
    PipeEnd,
}

/// The canonical path of memory device `1:minor`.
fn chr_mem_path(minor: u32) -> Option<&'static [u8]> {
    Some(match minor {
        image::CHR_MEM_NULL => b"/dev/null",
        image::CHR_MEM_ZERO => b"/dev/zero",
        image::CHR_MEM_FULL => b"/dev/full",
        image::CHR_MEM_RANDOM => b"/dev/random",
        image::CHR_MEM_URANDOM => b"/dev/urandom",
        _ => return None,
    })
}

/// A terminal: the virtual consoles (4), /dev/tty and /dev/console (5:0,
/// 5:1; not 5:2, /dev/ptmx, a master), the pty slaves (136-143).
fn is_tty(major: u32, minor: u32) -> bool {
    major == 4 || (major == 5 && minor <= 1) || (136..=143).contains(&major)
}

const DELETED_SUFFIX: &[u8] = b" (deleted)";
const MEMFD_PREFIX: &[u8] = b"memfd:";

/// The memfd name of a dentry name `memfd:NAME`.
fn memfd_name(name: &[u8]) -> Option<&[u8]> {
    name.strip_prefix(MEMFD_PREFIX)
}

/// Classifies a file from its facts and `d_path` `path`.
pub(crate) fn classify<'a>(f: &'a FileDumpFacts, path: &'a [u8]) -> Result<Class, Refused<'a>> {
    let t = f.file_type();
    let o_path = f.has_mode(df_mode::PATH);
    if f.has(df::CPTRST_DEV) {
        return Err(Refused::Named(b"/dev/cptrst"));
    }
    if f.f_flags & image::OF_ACCMODE == image::OF_ACCMODE && !o_path {
        return Err(Refused::Other("opened with access mode 3", path));
    }
    match t {
        mode::S_IFCHR => {
            if o_path {
                return Err(Refused::Other("an O_PATH fd of a device", path));
            }
            if f.rdev_major == image::CHR_MEM_MAJOR && chr_mem_path(f.rdev_minor).is_some() {
                return Ok(Class::Kind(FileKind::Chr));
            }
            if is_tty(f.rdev_major, f.rdev_minor) {
                return Ok(Class::Kind(FileKind::External));
            }
            return Err(Refused::Chr(f.rdev_major, f.rdev_minor));
        }
        mode::S_IFBLK => return Err(Refused::Blk(f.rdev_major, f.rdev_minor)),
        mode::S_IFSOCK => return Ok(Class::Kind(FileKind::External)),
        _ => {}
    }
    if f.s_magic == ANON_INODE_FS_MAGIC || f.s_magic == PID_FS_MAGIC || t == 0 {
        return Err(Refused::Named(path));
    }
    if t == mode::S_IFIFO {
        if o_path {
            return Err(Refused::Other("an O_PATH fd of a FIFO", path));
        }
        if f.has(df::WATCH_QUEUE) {
            return Err(Refused::Other("a notification pipe", path));
        }
        if f.pipe == 0 {
            return Err(Refused::Other("a FIFO without its pipe", path));
        }
        if f.s_magic == PIPEFS_MAGIC {
            return Ok(Class::PipeEnd);
        }
        if f.has(df::UNLINKED) {
            return Err(Refused::Other("a deleted FIFO", path));
        }
    }
    // A memfd lives on the kernel's internal shm mount (SB_NOUSER).
    if t == mode::S_IFREG && memfd_name(f.name()).is_some() && !f.has(df::SHMEM) {
        return Err(Refused::Other("a hugetlb memfd", path));
    }
    if t == mode::S_IFREG && f.has(df::SHMEM) && memfd_name(f.name()).is_some() {
        if o_path {
            return Err(Refused::Other("an O_PATH fd of a memfd", path));
        }
        return Ok(Class::Kind(FileKind::Memfd));
    }
    if f.has(df::NOEXEC_SB) || f.has(df::NOUSER_SB) || PSEUDO_MAGICS.contains(&f.s_magic) {
        return Err(Refused::PseudoFs(f.fs_name()));
    }
    match t {
        mode::S_IFIFO => Ok(Class::Kind(FileKind::Fifo)),
        mode::S_IFDIR if f.has(df::UNLINKED) => Err(Refused::Other("a deleted directory", path)),
        mode::S_IFDIR => Ok(Class::Kind(FileKind::Dir)),
        mode::S_IFREG if f.has(df::UNLINKED) => {
            if o_path {
                return Err(Refused::Other("an O_PATH fd of a deleted file", path));
            }
            Ok(Class::Kind(FileKind::Deleted))
        }
        mode::S_IFREG => Ok(Class::Kind(FileKind::Reg)),
        mode::S_IFLNK => Err(Refused::Other("a symbolic link", path)),
        _ => Err(Refused::Other("a file of an unknown type", path)),
    }
}

/// The FILE path of a file of kind `k` with `d_path` `path`, or None if
/// it has none the image can carry.
fn image_path<'a>(k: FileKind, f: &'a FileDumpFacts, path: &'a [u8]) -> Option<&'a [u8]> {
    let p = match k {
        FileKind::Chr => chr_mem_path(f.rdev_minor)?,
        FileKind::Memfd => {
            let n = memfd_name(f.name())?;
            if n.len() > image::MAX_MEMFD_NAME || n.contains(&b'/') {
                return None;
            }
            n
        }
        FileKind::Deleted => path.strip_suffix(DELETED_SUFFIX).unwrap_or(path),
        _ => path,
    };
    let abs = matches!(
        k,
        FileKind::Reg | FileKind::Dir | FileKind::Fifo | FileKind::Deleted
    );
    if p.is_empty() || p.len() > image::MAX_PATH_LEN || p.contains(&0) || (abs && p[0] != b'/') {
        return None;
    }
    Some(p)
}

/// One FILE object: a distinct `struct file` of the tree.
struct OpenObj {
    file: ARef<File>,
    facts: FileDumpFacts,
    /// `Class::PipeEnd` until [`TreeFiles::settle_pipes`].
    class: Class,
    kind: FileKind,
    /// Its `d_path`.
    dpath: KVec<u8>,
    /// Pipe and Fifo: the pipe object's id.
    pipe: u32,
    /// Pipe and Fifo, on the first FILE of its pipe: the buffered bytes.
    pipe_data: KVVec<u8>,
}

impl OpenObj {
    fn data_len(&self) -> u64 {
        match self.kind {
            FileKind::Memfd | FileKind::Deleted => self.facts.size,
            FileKind::Pipe | FileKind::Fifo => self.pipe_data.len() as u64,
            _ => 0,
        }
    }

    fn path(&self) -> &[u8] {
        image_path(self.kind, &self.facts, &self.dpath).unwrap_or(b"?")
    }

    fn record(&self, id: u32) -> image::OpenFile<'_> {
        let pipe = self.kind.is_pipe();
        image::OpenFile {
            id,
            kind: self.kind,
            flags: self.facts.f_flags & image::OPEN_FLAGS_KNOWN,
            mode: self.facts.i_mode,
            pos: if pipe || self.kind == FileKind::External {
                0
            } else {
                self.facts.pos
            },
            size: if self.kind.has_size() {
                self.facts.size
            } else {
                0
            },
            rdev_major: if self.kind == FileKind::Chr {
                self.facts.rdev_major
            } else {
                0
            },
            rdev_minor: if self.kind == FileKind::Chr {
                self.facts.rdev_minor
            } else {
                0
            },
            pipe: if pipe { self.pipe } else { 0 },
            pipe_size: if pipe { self.facts.pipe_size } else { 0 },
            seals: if self.kind == FileKind::Memfd {
                self.facts.seals
            } else {
                0
            },
            data_len: self.data_len(),
            path: self.path(),
        }
    }
}

/// A live thread group leader's fd table and fs context.
struct FdTable {
    entries: KVVec<FdEntry>,
    umask: u32,
    root: KVec<u8>,
    cwd: KVec<u8>,
}

/// Who refers to a file, for messages: `task I (pid P): fd N` or a mapping.
#[derive(Clone, Copy)]
pub(crate) enum Who {
    Fd { index: u32, pid: i32, fd: u32 },
    Vma { index: u32, pid: i32, start: u64 },
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Who::Fd { index, pid, fd } => write!(f, "task {} (pid {}): fd {}", index, pid, fd),
            Who::Vma { index, pid, start } => {
                write!(f, "task {} (pid {}): mapping at {:#x}", index, pid, start)
            }
        }
    }
}

/// The open files of a tree: FILE objects (id = index + 1) and the fd
/// table of each live thread group leader, by image index.
pub(crate) struct TreeFiles {
    objs: KVec<OpenObj>,
    /// `struct file` pointer to FILE id.
    ids: RBTree<usize, u32>,
    /// By image index: the FDS of a live leader, None for the others.
    tables: KVec<Option<FdTable>>,
    /// Scratch for `d_path`.
    path: KVec<u8>,
}

/// A copy of `b`.
fn copy_of(b: &[u8]) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(b.len(), GFP_KERNEL)?;
    v.extend_from_slice(b, GFP_KERNEL)?;
    Ok(v)
}

/// The refusal of `who`'s file.
fn refuse(who: Who, r: &Refused<'_>) -> Fail {
    pr_info!("cptrst: checkpoint: {} is {}: not supported\n", who, r);
    fail!(eopnotsupp(), "{} is {}: not supported", who, r)
}

fn tree_fail(err: Error, args: fmt::Arguments<'_>) -> Fail {
    pr_info!("cptrst: checkpoint: {}\n", args);
    Fail::new(err, args)
}

impl TreeFiles {
    /// The pre-pass over the fd tables and fs contexts of `tasks` (in
    /// image `order`, `infos` by task): every live thread group leader's
    /// fds, umask, root and cwd; its threads must share its fd table and
    /// fs context, and no two processes may share one.
    ///
    /// # Errors
    /// `EOPNOTSUPP` naming the task and fd for what cannot be
    /// checkpointed, `E2BIG`, `ENOMEM`, `EINTR`, `EBUSY` for a task whose
    /// fd table went away.
    pub(crate) fn collect(
        tasks: &[ARef<Task>],
        infos: &[TaskInfo],
        order: &[usize],
    ) -> Result<TreeFiles, Fail> {
        let mut tf = TreeFiles {
            objs: KVec::new(),
            ids: RBTree::new(),
            tables: KVec::with_capacity(order.len(), GFP_KERNEL)?,
            path: KVec::from_elem(0u8, crate::mm::PATH_MAX, GFP_KERNEL)?,
        };
        // (files id, fs id, image index) of every live leader so far.
        let mut leaders: KVec<(u64, u64, u32, i32)> = KVec::new();
        // Live tasks of the tree using each leader's files and fs.
        let mut users: KVec<(u32, u32)> = KVec::new();
        for (index, &k) in order.iter().enumerate() {
            let index = u32::try_from(index).map_err(|_| code::E2BIG)?;
            let (t, i) = (&tasks[k], &infos[k]);
            tf.tables.push(None, GFP_KERNEL)?;
            if i.exit_state != 0 {
                continue;
            }
            let pid = i.pids[0];
            let ctx = t.ctx();
            if i.flags & TI_LEADER == 0 {
                // Its leader comes before it in image order.
                let leader = infos.iter().position(|l| {
                    l.tgid == i.tgid && l.flags & TI_LEADER != 0 && l.exit_state == 0
                });
                let Some(lk) = leader else {
                    // A zombie leader: the FDS record is a live leader's,
                    // so the fds its live threads still hold would be
                    // dropped without a word.
                    return Err(tree_fail(
                        eopnotsupp(),
                        format_args!(
                            "task {} (pid {}): a live thread of an exited thread group leader: its fd table cannot be saved: not supported",
                            index, pid
                        ),
                    ));
                };
                let Some(li) = leaders.iter().position(|l| l.3 == infos[lk].pids[0]) else {
                    continue;
                };
                if ctx.files != leaders[li].0 || ctx.fs != leaders[li].1 {
                    return Err(tree_fail(
                        eopnotsupp(),
                        format_args!(
                            "task {} (pid {}): a thread with its own fd table or fs context (unshare): not supported",
                            index, pid
                        ),
                    ));
                }
                users[li].0 += 1;
                users[li].1 += 1;
                continue;
            }
            if ctx.files == 0 || ctx.fs == 0 {
                return Err(tree_fail(
                    code::EBUSY,
                    format_args!("task {} (pid {}) is exiting", index, pid),
                ));
            }
            if let Some(o) = leaders.iter().find(|l| l.0 == ctx.files || l.1 == ctx.fs) {
                let what = if o.0 == ctx.files {
                    "fd table (CLONE_FILES)"
                } else {
                    "fs context (CLONE_FS)"
                };
                return Err(tree_fail(
                    eopnotsupp(),
                    format_args!(
                        "task {} (pid {}) shares its {} with task {} (pid {}): not supported",
                        index, pid, what, o.2, o.3
                    ),
                ));
            }
            leaders.push((ctx.files, ctx.fs, index, pid), GFP_KERNEL)?;
            users.push((1, 1), GFP_KERNEL)?;
        }
        // Nobody outside the tree may share them either.
        for (li, l) in leaders.iter().enumerate() {
            let k = order[l.2 as usize];
            let ctx = tasks[k].ctx();
            if ctx.files_users > users[li].0 || ctx.fs_users > users[li].1 {
                return Err(tree_fail(
                    eopnotsupp(),
                    format_args!(
                        "task {} (pid {}) shares its fd table or fs context with a process outside the tree: not supported",
                        l.2, l.3
                    ),
                ));
            }
        }
        for l in leaders.iter() {
            let k = order[l.2 as usize];
            let table = tf.table_of(&tasks[k], l.2, l.3)?;
            tf.tables[l.2 as usize] = Some(table);
        }
        Ok(tf)
    }

    /// The fd table and fs context of the leader `t`, image index `index`.
    fn table_of(&mut self, t: &Task, index: u32, pid: i32) -> Result<FdTable, Fail> {
        let mut entries: KVVec<FdEntry> = KVVec::new();
        let mut from = 0u32;
        while let Some((fd, cloexec, file)) = t.next_fd(from) {
            let who = Who::Fd { index, pid, fd };
            if entries.len() >= FDS_MAX || fd >= image::FD_LIMIT {
                return Err(tree_fail(
                    code::E2BIG,
                    format_args!(
                        "task {} (pid {}): fd {}: more than {} fds or an fd past {}: not supported",
                        index,
                        pid,
                        fd,
                        FDS_MAX,
                        image::FD_LIMIT - 1
                    ),
                ));
            }
            let id = self.add(file, who)?;
            entries.push(
                FdEntry {
                    fd,
                    file: id,
                    flags: if cloexec { image::FD_FLAG_CLOEXEC } else { 0 },
                },
                GFP_KERNEL,
            )?;
            if crate::signal::current_pending() {
                return Err(code::EINTR.into());
            }
            match fd.checked_add(1) {
                Some(n) => from = n,
                None => break,
            }
        }
        let mut root = KVec::from_elem(0u8, crate::mm::PATH_MAX, GFP_KERNEL)?;
        let mut cwd = KVec::from_elem(0u8, crate::mm::PATH_MAX, GFP_KERNEL)?;
        let p = t.fs_paths(&mut root, &mut cwd).map_err(|e| {
            tree_fail(
                e,
                format_args!(
                    "task {} (pid {}): its root or cwd cannot be named: error {}",
                    index,
                    pid,
                    e.to_errno()
                ),
            )
        })?;
        let root = copy_of(&root[..p.root_len as usize])?;
        let cwd = copy_of(&cwd[..p.cwd_len as usize])?;
        for (name, path, unlinked) in [
            ("root", &root, p.root_unlinked),
            ("cwd", &cwd, p.cwd_unlinked),
        ] {
            if unlinked != 0 || path.first() != Some(&b'/') || path.len() > image::MAX_PATH_LEN {
                return Err(tree_fail(
                    eopnotsupp(),
                    format_args!(
                        "task {} (pid {}): its {} {} is a deleted directory or cannot be named: not supported",
                        index,
                        pid,
                        name,
                        Show(path)
                    ),
                ));
            }
        }
        let umask = t.ctx().umask & 0o777;
        Ok(FdTable {
            entries,
            umask,
            root,
            cwd,
        })
    }

    /// The FILE id of `file`, a new FILE object on first sight, as seen
    /// by `who`.
    fn add(&mut self, file: ARef<File>, who: Who) -> Result<u32, Fail> {
        let key = file.as_ptr() as usize;
        if let Some(&id) = self.ids.get(&key) {
            let o = &self.objs[(id - 1) as usize];
            // A socket is an outside object only at fds 0-2.
            if o.facts.file_type() == mode::S_IFSOCK {
                if let Who::Fd { fd, .. } = who {
                    if fd >= 3 {
                        return Err(refuse(who, &Refused::Named(&o.dpath)));
                    }
                }
            }
            return Ok(id);
        }
        if self.objs.len() >= FILES_MAX {
            return Err(code::E2BIG.into());
        }
        let facts = file.dump_facts(&mut self.path).map_err(|e| {
            tree_fail(
                e,
                format_args!("{} cannot be named: error {}", who, e.to_errno()),
            )
        })?;
        let dpath = &self.path[..facts.path_len as usize];
        let class = match classify(&facts, dpath) {
            Ok(c) => c,
            Err(r) => return Err(refuse(who, &r)),
        };
        let kind = match class {
            Class::Kind(k) => k,
            Class::PipeEnd => FileKind::Pipe,
        };
        if let Who::Fd { fd, .. } = who {
            if facts.file_type() == mode::S_IFSOCK && fd >= 3 {
                return Err(refuse(who, &Refused::Named(dpath)));
            }
        }
        if image_path(kind, &facts, dpath).is_none() {
            return Err(refuse(
                who,
                &Refused::Other("a file whose name the image cannot hold", dpath),
            ));
        }
        if kind.has_content() && facts.size > image::MAX_FILE_DATA {
            return Err(tree_fail(
                code::EFBIG,
                format_args!(
                    "{} is {} of {} bytes: too large to checkpoint",
                    who,
                    kind.name(),
                    facts.size
                ),
            ));
        }
        if kind == FileKind::Memfd && facts.seals & !image::SEALS_KNOWN != 0 {
            return Err(refuse(
                who,
                &Refused::Other("a memfd with unknown seals", dpath),
            ));
        }
        if facts.pos > i64::MAX as u64 {
            return Err(refuse(
                who,
                &Refused::Other("a file at a negative position", dpath),
            ));
        }
        let d = copy_of(dpath)?;
        let id = u32::try_from(self.objs.len() + 1).map_err(|_| code::E2BIG)?;
        self.objs.push(
            OpenObj {
                file,
                facts,
                class,
                kind,
                dpath: d,
                pipe: 0,
                pipe_data: KVVec::new(),
            },
            GFP_KERNEL,
        )?;
        self.ids.try_create_and_insert(key, id, GFP_KERNEL)?;
        Ok(id)
    }

    /// The MAPFILE `file` of a mapping of `file` (`who` names it;
    /// `deleted`: the mapping's file is unlinked, as the VMA walk saw it):
    /// the FILE id of a memfd or a deleted file (a new FILE object, after
    /// the fds' ones, on first sight), else 0 (a file mapped by path).
    pub(crate) fn map_id(
        &mut self,
        file: ARef<File>,
        who: Who,
        deleted: bool,
    ) -> Result<u32, Fail> {
        if let Some(&id) = self.ids.get(&(file.as_ptr() as usize)) {
            let k = self.objs[(id - 1) as usize].kind;
            return Ok(if k.has_content() { id } else { 0 });
        }
        let facts = file.dump_facts(&mut self.path).map_err(|e| {
            tree_fail(
                e,
                format_args!("{} cannot be named: error {}", who, e.to_errno()),
            )
        })?;
        let dpath = &self.path[..facts.path_len as usize];
        let unlinked = deleted || facts.has(df::UNLINKED);
        match classify(&facts, dpath) {
            Ok(Class::Kind(k)) if k.has_content() => self.add(file, who),
            // A deleted file has no path to map it by.
            Err(r) if unlinked => Err(refuse(who, &r)),
            _ if unlinked => Err(refuse(who, &Refused::Other("a deleted file", dpath))),
            // By path: restart checks what it finds there.
            _ => Ok(0),
        }
    }

    /// Settles the pipes once every file is known: an anonymous pipe is a
    /// Pipe if the tree has all its ends (as many distinct files open for
    /// reading and for writing as the pipe counts), else External; then
    /// numbers the pipe objects in FILE order and peeks each one's data.
    ///
    /// # Errors
    /// `EBUSY` if a pipe's data changed during the checkpoint, `ENOMEM`,
    /// `EOPNOTSUPP` for a capacity the image cannot hold.
    pub(crate) fn settle_pipes(&mut self) -> Result<(), Fail> {
        for i in 0..self.objs.len() {
            if self.objs[i].class != Class::PipeEnd {
                continue;
            }
            let pipe = self.objs[i].facts.pipe;
            let (mut r, mut w) = (0u32, 0u32);
            for o in self.objs.iter().filter(|o| o.facts.pipe == pipe) {
                r += u32::from(o.facts.has_mode(df_mode::READ));
                w += u32::from(o.facts.has_mode(df_mode::WRITE));
            }
            let f = &self.objs[i].facts;
            let inside = r == f.pipe_readers && w == f.pipe_writers;
            self.objs[i].kind = if inside {
                FileKind::Pipe
            } else {
                FileKind::External
            };
        }
        let mut pipes: RBTree<u64, u32> = RBTree::new();
        let mut last = 0u32;
        for (i, o) in self.objs.iter_mut().enumerate() {
            if !o.kind.is_pipe() {
                continue;
            }
            let size = o.facts.pipe_size;
            if !size.is_power_of_two()
                || (size as usize) < kernel::page::PAGE_SIZE
                || size > image::MAX_PIPE_SIZE
            {
                return Err(tree_fail(
                    eopnotsupp(),
                    format_args!(
                        "FILE {}: {} has a capacity of {} bytes: not supported",
                        i + 1,
                        Show(&o.dpath),
                        size
                    ),
                ));
            }
            if let Some(&id) = pipes.get(&o.facts.pipe) {
                o.pipe = id;
                continue;
            }
            last += 1;
            o.pipe = last;
            pipes.try_create_and_insert(o.facts.pipe, last, GFP_KERNEL)?;
            let n = o.facts.pipe_bytes as usize;
            if n > size as usize {
                return Err(code::EBUSY.into());
            }
            let mut data = KVVec::from_elem(0u8, n, GFP_KERNEL)?;
            let got = o.file.pipe_peek(&mut data).map_err(|e| {
                if e == code::ENOSPC {
                    tree_fail(
                        code::EBUSY,
                        format_args!("{}: its data changed during the checkpoint", Show(&o.dpath)),
                    )
                } else {
                    Fail::new(e, format_args!("{}: cannot read its data", Show(&o.dpath)))
                }
            })?;
            if got != n {
                return Err(tree_fail(
                    code::EBUSY,
                    format_args!("{}: its data changed during the checkpoint", Show(&o.dpath)),
                ));
            }
            o.pipe_data = data;
        }
        Ok(())
    }

    /// Writes every FILE record, each followed by the FDATA of its content.
    pub(crate) fn write_files(&self, out: &mut ImageOut) -> Result {
        for (i, o) in self.objs.iter().enumerate() {
            let id = u32::try_from(i + 1).map_err(|_| code::E2BIG)?;
            let rec = o.record(id);
            let len = image::OpenFile::payload_len(rec.path.len()).ok_or(code::EINVAL)?;
            out.put(image::RECORD_HEADER_LEN + len, |e, b| e.file(&rec, b))?;
            match o.kind {
                FileKind::Memfd | FileKind::Deleted => write_content(out, id, o)?,
                FileKind::Pipe | FileKind::Fifo => {
                    let mut off = 0usize;
                    while off < o.pipe_data.len() {
                        let n = (o.pipe_data.len() - off).min(FDATA_CHUNK);
                        let src = &o.pipe_data[off..off + n];
                        out.data_chunk(id, off as u64, n, |dst| {
                            dst.copy_from_slice(src);
                            Ok(())
                        })?;
                        off += n;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes the FDS record of the task at image index `index`, if it is
    /// a live thread group leader.
    pub(crate) fn write_fds(&self, out: &mut ImageOut, index: usize) -> Result {
        let Some(Some(t)) = self.tables.get(index) else {
            return Ok(());
        };
        let count = u32::try_from(t.entries.len()).map_err(|_| code::E2BIG)?;
        let len = image::Fds::payload_len(count, t.root.len(), t.cwd.len()).ok_or(code::E2BIG)?;
        out.put(image::RECORD_HEADER_LEN + len, |e, b| {
            e.fds(t.umask, &t.root, &t.cwd, &t.entries, b)
        })
    }
}

/// Streams the content of a memfd or deleted file `o` (FILE `id`) as
/// FDATA chunks, read at explicit offsets from a read-only view of it.
fn write_content(out: &mut ImageOut, id: u32, o: &OpenObj) -> Result {
    let size = o.facts.size;
    if size == 0 {
        return Ok(());
    }
    let f = o.file.open_read()?;
    let mut off = 0u64;
    while off < size {
        if crate::signal::current_pending() {
            return Err(code::EINTR);
        }
        let n = (size - off).min(FDATA_CHUNK as u64) as usize;
        out.data_chunk(id, off, n, |dst| {
            // Fewer bytes: the file shrank during the checkpoint.
            if f.read_at(off, dst)? != n {
                return Err(code::EBUSY);
            }
            Ok(())
        })?;
        off += n as u64;
    }
    Ok(())
}
