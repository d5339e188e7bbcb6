//! The open files of `cptrst restart` (image 1.4; Documentation/restart.rst,
//! "Files"): everything the tool does about them in user space, as the
//! invoking user through ordinary system calls, so that every permission
//! rule of the kernel holds.
//!
//! - [`Builder`] takes the FILE and FDATA records as the tool reads the
//!   head of the image and creates each FILE object once: at once, with its
//!   data written straight into it, for the anonymous kinds (memfd, file
//!   unlinked while open: `O_TMPFILE`, anonymous pipe); once the head is
//!   read ([`Builder::finish`]) for the kinds named by a path (regular
//!   file, directory, character device, FIFO) and the `--inherit-fd`
//!   objects, after the fd plan refused what it must: so a refused restart
//!   has opened nothing by path. With `--skip-files` only memfds and
//!   unlinked files are built ([`Build::Mapped`]): no fd is restored, but
//!   the kernel maps these.
//! - [`plan_fds`] resolves every fd of every thread-group leader (its FDS
//!   record) to the object it gets: a FILE object, the tool's own fd 0-2
//!   for a thing outside the tree at fd 0-2, or an `--inherit-fd` object;
//!   a thing outside the tree at another fd without `--inherit-fd` is
//!   refused (EBADF).
//! - [`Staging`] moves every object and the tool's own fds to *staging fds*
//!   at or above a base above every fd of the image (raising the
//!   `RLIMIT_NOFILE` soft limit when needed), and [`TaskFiles`] is what each
//!   leader does after creating its children and threads: `dup3` each of
//!   its fds from its staging fd, close fds 0-2 the image does not list,
//!   `chdir`, `chroot`, `umask` (see `restart::participant`).
//!
//! Failures name the task, pid, fd and path (`task I (pid P): fd N: ...`)
//! with the errno, like the tool's other messages.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use cptrst::{errno_name, strerror};
use cptrst_image::{self as image, FdEntry, FileKind, Fds, OpenFile, TreeEntry};

/// `O_*` values of the image (x86_64), as `libc` has them.
const ACCMODE: u32 = libc::O_ACCMODE as u32;
const PATH: u32 = libc::O_PATH as u32;

/// Status flags `F_SETFL` can change.
const SETFL_MASK: u32 = (libc::O_APPEND | libc::O_NONBLOCK | libc::O_DIRECT | libc::O_NOATIME | libc::O_ASYNC) as u32;

/// An fd of `--inherit-fd FD=...` is below this (the image's fd bound).
pub const INHERIT_FD_LIMIT: u32 = 1 << 30;

/// What `--inherit-fd FD=...` gives fd FD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InheritSrc {
    /// `FD=PATH`: PATH opened with the access mode and status flags of the
    /// image's file.
    Path(String),
    /// `FD=fd:M`: a copy of the tool's fd M.
    Fd(i32),
}

/// One `--inherit-fd FD=...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inherit {
    /// The fd number it applies to, in every task.
    pub fd: u32,
    /// What it gets.
    pub src: InheritSrc,
}

/// Parses the value of `--inherit-fd` (`FD=PATH` or `FD=fd:M`), checking
/// that M is open in the tool; `seen` are those given before (a repeated
/// FD is refused).
pub fn parse_inherit(v: &str, seen: &[Inherit]) -> Result<Inherit, String> {
    let bad = |why: &str| format!("bad --inherit-fd '{v}': {why}");
    let (fd, what) = v.split_once('=').ok_or_else(|| bad("FD=PATH or FD=fd:M expected"))?;
    let fd = fd
        .parse::<u32>()
        .ok()
        .filter(|&n| n < INHERIT_FD_LIMIT && !fd.starts_with('+'))
        .ok_or_else(|| bad(&format!("FD must be a number below {INHERIT_FD_LIMIT}")))?;
    if seen.iter().any(|i| i.fd == fd) {
        return Err(bad(&format!("fd {fd} is given twice")));
    }
    let src = if let Some(m) = what.strip_prefix("fd:") {
        let m = m.parse::<i32>().ok().filter(|&m| m >= 0 && !m.to_string().is_empty() && !what[3..].starts_with('+'));
        let m = m.ok_or_else(|| bad("fd:M needs a number M, an fd of this tool"))?;
        // SAFETY: F_GETFD of a number.
        if unsafe { libc::fcntl(m, libc::F_GETFD) } < 0 {
            return Err(bad(&format!("fd {m} is not open in this tool")));
        }
        InheritSrc::Fd(m)
    } else {
        if !what.starts_with('/') {
            return Err(bad("PATH must be absolute (or fd:M)"));
        }
        if what.len() > image::MAX_PATH_LEN {
            return Err(bad("PATH is too long"));
        }
        InheritSrc::Path(what.to_string())
    };
    Ok(Inherit { fd, src })
}

/// An owned copy of a FILE record: its fixed part (the format's
/// [`OpenFile`], whose fields it derefs to, with an empty path) and its path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRec {
    head: OpenFile<'static>,
    pub path: Vec<u8>,
}

impl std::ops::Deref for FileRec {
    type Target = OpenFile<'static>;

    fn deref(&self) -> &OpenFile<'static> {
        &self.head
    }
}

impl FileRec {
    pub fn of(f: &OpenFile) -> Self {
        FileRec { head: OpenFile { path: &[], ..*f }, path: f.path.to_vec() }
    }

    /// The path (or name) for messages.
    pub fn name(&self) -> String {
        let p = String::from_utf8_lossy(&self.path);
        match self.kind {
            FileKind::Memfd => format!("memfd:{p}"),
            _ => p.into_owned(),
        }
    }

    fn cpath(&self) -> CString {
        // The validator refuses a path with a NUL.
        CString::new(self.path.clone()).unwrap_or_default()
    }
}

/// The fs context and fds of a thread-group leader (its FDS record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskFds {
    pub umask: u32,
    pub root: Vec<u8>,
    pub cwd: Vec<u8>,
    pub entries: Vec<FdEntry>,
}

impl TaskFds {
    pub fn of(f: &Fds) -> Self {
        TaskFds { umask: f.umask, root: f.root.to_vec(), cwd: f.cwd.to_vec(), entries: f.iter().collect() }
    }
}

/// `strerror (ENAME)`.
pub fn err_text(e: i32) -> String {
    format!("{} ({})", strerror(e), errno_name(e))
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Takes ownership of a new fd from a system call's result.
fn owned(r: i32) -> Result<OwnedFd, i32> {
    if r < 0 {
        Err(errno())
    } else {
        // SAFETY: a new fd, owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(r) })
    }
}

fn open_c(path: &CString, flags: i32, mode: u32) -> Result<OwnedFd, i32> {
    // SAFETY: a NUL-terminated path and plain flags.
    owned(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, mode) })
}

/// Opens the file of `fd` again (`/proc/self/fd/N`): a new open file of
/// the same inode, with the usual permission checks.
fn reopen(fd: RawFd, flags: i32) -> Result<OwnedFd, i32> {
    let p = CString::new(format!("/proc/self/fd/{fd}")).unwrap_or_default();
    // The magic link must be followed.
    open_c(&p, (flags & !libc::O_NOFOLLOW) | libc::O_NOCTTY, 0)
}

fn fstat(fd: RawFd) -> Result<libc::stat, i32> {
    // SAFETY: fstat into a zeroed local.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(errno());
    }
    Ok(st)
}

/// The name of a file type (`st_mode & S_IFMT`) for messages.
pub fn type_name(mode: u32) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFREG => "regular file",
        libc::S_IFDIR => "directory",
        libc::S_IFCHR => "character device",
        libc::S_IFBLK => "block device",
        libc::S_IFIFO => "FIFO",
        libc::S_IFSOCK => "socket",
        libc::S_IFLNK => "symbolic link",
        _ => "unknown type",
    }
}

/// Sets the status flags `F_SETFL` can set to those of `flags`.
fn set_status(fd: RawFd, flags: u32) -> Result<(), i32> {
    // SAFETY: F_SETFL on our fd.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, (flags & SETFL_MASK) as i32) } < 0 {
        return Err(errno());
    }
    Ok(())
}

fn seek(fd: RawFd, pos: u64) -> Result<(), i32> {
    // SAFETY: lseek on our fd.
    if unsafe { libc::lseek(fd, pos as libc::off_t, libc::SEEK_SET) } < 0 {
        return Err(errno());
    }
    Ok(())
}

/// `pwrite` all of `b` at `off`.
fn pwrite_all(fd: RawFd, mut b: &[u8], mut off: u64) -> Result<(), i32> {
    while !b.is_empty() {
        // SAFETY: the pointer and length describe `b`.
        let r = unsafe { libc::pwrite(fd, b.as_ptr().cast(), b.len(), off as libc::off_t) };
        if r < 0 {
            let e = errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        b = &b[r as usize..];
        off += r as u64;
    }
    Ok(())
}

/// `write` all of `b` (into a non-blocking pipe that must take it).
fn write_all(fd: RawFd, mut b: &[u8]) -> Result<(), i32> {
    while !b.is_empty() {
        // SAFETY: the pointer and length describe `b`.
        let r = unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
        if r < 0 {
            let e = errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        b = &b[r as usize..];
    }
    Ok(())
}

/// The largest pipe capacity an unprivileged user may set.
fn pipe_max_size() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/pipe-max-size").ok()?.trim().parse().ok()
}

fn set_pipe_size(fd: RawFd, size: u32) -> Result<(), String> {
    // SAFETY: F_SETPIPE_SZ on our pipe.
    if unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, size as i32) } >= 0 {
        return Ok(());
    }
    let e = errno();
    let hint = match pipe_max_size() {
        Some(m) if e == libc::EPERM && u64::from(size) > m => {
            format!(": above /proc/sys/fs/pipe-max-size ({m}), which only CAP_SYS_RESOURCE may exceed")
        }
        _ if e == libc::EPERM => ": the user's pipe buffers are over /proc/sys/fs/pipe-user-pages-soft".into(),
        _ => String::new(),
    };
    Err(format!("cannot set the pipe capacity to {size} bytes: {}{hint}", err_text(e)))
}

/// A FILE object as built.
#[derive(Debug)]
enum Obj {
    /// Not built (yet), or nothing to build (External).
    None,
    /// The object.
    Fd(OwnedFd),
    /// Building it failed: why (after `fd N: `).
    Failed(String),
}

/// A pipe (or FIFO) object of the image, by pipe id.
#[derive(Debug, Default)]
struct PipeObj {
    /// Anonymous pipe: its read end, while no FILE took it.
    rd: Option<OwnedFd>,
    /// Anonymous pipe: its write end, while no FILE took it.
    wr: Option<OwnedFd>,
    /// FIFO: the keeper (`O_RDWR`), kept until every end is open.
    keeper: Option<OwnedFd>,
    /// FIFO: its data, written through the keeper once it is open.
    data: Vec<u8>,
    /// Why it could not be built.
    failed: Option<String>,
}

/// Which FILE objects a [`Builder`] creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// None: the records are only kept.
    Nothing,
    /// Only memfds and unlinked files, which a mapping may need
    /// (`--skip-files`: no fd is restored, but the kernel maps these).
    Mapped,
    /// Every object.
    All,
}

/// The FILE objects of an image, built as its head is read.
#[derive(Debug)]
pub struct Builder {
    /// What to create.
    build: Build,
    allow_changed: bool,
    files: Vec<FileRec>,
    objs: Vec<Obj>,
    pipes: Vec<PipeObj>,
}

impl Builder {
    pub fn new(build: Build, allow_changed: bool) -> Self {
        Builder { build, allow_changed, files: Vec::new(), objs: Vec::new(), pipes: Vec::new() }
    }

    /// The FILE records, by id - 1.
    pub fn files(&self) -> &[FileRec] {
        &self.files
    }

    fn fail(&mut self, id: u32, why: String) {
        if let Some(o) = self.objs.get_mut(id as usize - 1) {
            if !matches!(o, Obj::Failed(_)) {
                *o = Obj::Failed(why);
            }
        }
    }

    /// Whether objects of this kind are built.
    fn builds(&self, kind: FileKind) -> bool {
        match self.build {
            Build::Nothing => false,
            Build::Mapped => matches!(kind, FileKind::Memfd | FileKind::Deleted),
            Build::All => true,
        }
    }

    /// A FILE record (ids come in order, checked by the validator).
    pub fn on_file(&mut self, f: &OpenFile) {
        let r = FileRec::of(f);
        self.files.push(r.clone());
        self.objs.push(Obj::None);
        // Room for the objects at their first fds (moved later).
        if self.build != Build::Nothing && self.files.len() % 256 == 0 {
            if let Err(why) = ensure_nofile(self.files.len() as u64 + 256) {
                self.fail(r.id, why);
                return;
            }
        }
        if r.pipe as usize > self.pipes.len() {
            self.pipes.resize_with(r.pipe as usize, PipeObj::default);
        }
        if !self.builds(r.kind) {
            return;
        }
        let res = match r.kind {
            FileKind::Memfd => {
                let name = CString::new(r.path.clone()).unwrap_or_default();
                // SAFETY: a NUL-terminated name and constant flags.
                owned(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_ALLOW_SEALING | libc::MFD_CLOEXEC) })
                    .map(Obj::Fd)
                    .map_err(|e| format!("cannot create {}: memfd_create: {}", r.name(), err_text(e)))
            }
            FileKind::Deleted => {
                let dir = match r.path.iter().rposition(|&c| c == b'/') {
                    Some(0) => b"/".to_vec(),
                    Some(i) => r.path[..i].to_vec(),
                    None => b".".to_vec(),
                };
                let dir = CString::new(dir).unwrap_or_default();
                open_c(&dir, libc::O_TMPFILE | libc::O_RDWR, 0o600).map(Obj::Fd).map_err(|e| {
                    format!(
                        "cannot re-create the unlinked {} (O_TMPFILE in {}): {}",
                        r.name(),
                        dir.to_string_lossy(),
                        err_text(e)
                    )
                })
            }
            FileKind::Pipe if self.pipes[r.pipe as usize - 1].rd.is_none() && self.pipes[r.pipe as usize - 1].failed.is_none() => {
                let p = r.pipe as usize - 1;
                match new_pipe(r.pipe_size) {
                    Ok((rd, wr)) => {
                        self.pipes[p].rd = Some(rd);
                        self.pipes[p].wr = Some(wr);
                    }
                    Err(why) => self.pipes[p].failed = Some(format!("{}: {why}", r.name())),
                }
                Ok(Obj::None)
            }
            _ => Ok(Obj::None),
        };
        match res {
            Ok(o) => *self.objs.last_mut().expect("pushed") = o,
            Err(why) => self.fail(r.id, why),
        }
    }

    /// `bytes` at `offset` of the data of FILE `file` (the padding cut).
    pub fn on_data(&mut self, file: u32, offset: u64, bytes: &[u8]) {
        let Some(r) = self.files.get(file as usize - 1) else { return };
        if !self.builds(r.kind) || bytes.is_empty() {
            return;
        }
        let (kind, name, pipe) = (r.kind, r.name(), r.pipe as usize);
        match kind {
            FileKind::Memfd | FileKind::Deleted => {
                if let Obj::Fd(fd) = &self.objs[file as usize - 1] {
                    if let Err(e) = pwrite_all(fd.as_raw_fd(), bytes, offset) {
                        self.fail(file, format!("cannot write the content of {name}: {}", err_text(e)));
                    }
                }
            }
            FileKind::Pipe => {
                let p = &mut self.pipes[pipe - 1];
                if let (Some(wr), None) = (&p.wr, &p.failed) {
                    if let Err(e) = write_all(wr.as_raw_fd(), bytes) {
                        p.failed = Some(format!("{name}: cannot write its data: {}", err_text(e)));
                    }
                }
            }
            FileKind::Fifo => self.pipes[pipe - 1].data.extend_from_slice(bytes),
            _ => {}
        }
    }

    /// Builds what is left, once the head is read and the fd plan is
    /// known: objects by path, pipe ends, memfd seals, positions, and the
    /// `--inherit-fd` objects the plan uses. Unused pipe ends and FIFO
    /// keepers are closed.
    pub fn finish(&mut self) {
        for i in 0..self.files.len() {
            let r = self.files[i].clone();
            if matches!(self.objs[i], Obj::Failed(_)) || !self.builds(r.kind) {
                continue;
            }
            let res = match r.kind {
                FileKind::Reg | FileKind::Dir | FileKind::Chr => self.open_path(&r),
                FileKind::Fifo => self.open_fifo(&r),
                FileKind::Pipe => self.pipe_end(&r),
                FileKind::Memfd | FileKind::Deleted => self.finish_anon(&r),
                FileKind::External => Ok(None),
            };
            match res {
                Ok(Some(fd)) => self.objs[i] = Obj::Fd(fd),
                Ok(None) => {}
                Err(why) => self.fail(r.id, why),
            }
        }
        for p in &mut self.pipes {
            p.rd = None;
            p.wr = None;
            p.keeper = None;
            p.data = Vec::new();
        }
    }

    /// Reg, Dir, Chr: opened by path with its flags; its type (and size,
    /// device) checked first on an `O_PATH` fd, so that nothing else (a
    /// FIFO that would block, another device) is ever opened.
    fn open_path(&self, r: &FileRec) -> Result<Option<OwnedFd>, String> {
        let name = r.name();
        // An O_PATH file is this fd, with its own O_PATH flags (opening one
        // has no effect on the file).
        let keep = if r.flags & PATH != 0 { libc::O_DIRECTORY | libc::O_NOFOLLOW } else { libc::O_NOFOLLOW };
        let p = open_c(&r.cpath(), libc::O_PATH | (r.flags as i32 & keep), 0).map_err(|e| format!("cannot open {name}: {}", err_text(e)))?;
        let st = fstat(p.as_raw_fd()).map_err(|e| format!("cannot open {name}: fstat: {}", err_text(e)))?;
        let (ty, was) = (st.st_mode & libc::S_IFMT, r.mode & libc::S_IFMT);
        if ty != was {
            // Another kind of file: never opened (with
            // --allow-changed-files only a regular file may change size).
            return Err(format!(
                "{name} has changed since the checkpoint (type {}, was {}) (ESTALE)",
                type_name(ty),
                type_name(was)
            ));
        }
        match r.kind {
            FileKind::Reg if st.st_size as u64 != r.size && !self.allow_changed => {
                return Err(format!(
                    "{name} has changed since the checkpoint (size {}, was {}) (ESTALE): --allow-changed-files restores it anyway",
                    st.st_size, r.size
                ));
            }
            FileKind::Chr => {
                let (ma, mi) = (libc::major(st.st_rdev), libc::minor(st.st_rdev));
                if (ma, mi) != (r.rdev_major, r.rdev_minor) {
                    return Err(format!(
                        "{name} has changed since the checkpoint (device {ma}:{mi}, was {}:{}) (ESTALE)",
                        r.rdev_major, r.rdev_minor
                    ));
                }
            }
            _ => {}
        }
        if r.flags & PATH != 0 {
            return Ok(Some(p));
        }
        // Non-blocking for the open (a lease, a device), then its own flags.
        let flags = (r.flags & !PATH) as i32 | libc::O_NONBLOCK | libc::O_NOCTTY;
        let fd = reopen(p.as_raw_fd(), flags).map_err(|e| format!("cannot open {name}: {}", err_text(e)))?;
        set_status(fd.as_raw_fd(), r.flags).map_err(|e| format!("{name}: cannot set its status flags: {}", err_text(e)))?;
        if r.pos != 0 {
            seek(fd.as_raw_fd(), r.pos).map_err(|e| format!("{name}: cannot seek to {}: {}", r.pos, err_text(e)))?;
        }
        Ok(Some(fd))
    }

    /// A FIFO end: the keeper (first FILE of the pipe id: `O_RDWR`, never
    /// blocks) gets the capacity and the data; each end is opened through
    /// it non-blocking, then gets its own status flags.
    fn open_fifo(&mut self, r: &FileRec) -> Result<Option<OwnedFd>, String> {
        let name = r.name();
        let p = r.pipe as usize - 1;
        if let Some(why) = &self.pipes[p].failed {
            return Err(why.clone());
        }
        if self.pipes[p].keeper.is_none() {
            let made = (|| {
                let o = open_c(&r.cpath(), libc::O_PATH, 0).map_err(|e| format!("cannot open {name}: {}", err_text(e)))?;
                let st = fstat(o.as_raw_fd()).map_err(|e| format!("cannot open {name}: fstat: {}", err_text(e)))?;
                if st.st_mode & libc::S_IFMT != libc::S_IFIFO {
                    return Err(format!(
                        "{name} has changed since the checkpoint (type {}, was FIFO) (ESTALE)",
                        type_name(st.st_mode)
                    ));
                }
                let k = reopen(o.as_raw_fd(), libc::O_RDWR | libc::O_NONBLOCK)
                    .map_err(|e| format!("cannot open {name} (read-write, to hold it open): {}", err_text(e)))?;
                set_pipe_size(k.as_raw_fd(), r.pipe_size).map_err(|w| format!("{name}: {w}"))?;
                let data = std::mem::take(&mut self.pipes[p].data);
                write_all(k.as_raw_fd(), &data).map_err(|e| format!("{name}: cannot write its data: {}", err_text(e)))?;
                Ok(k)
            })();
            match made {
                Ok(k) => self.pipes[p].keeper = Some(k),
                Err(why) => {
                    self.pipes[p].failed = Some(why.clone());
                    return Err(why);
                }
            }
        }
        let k = self.pipes[p].keeper.as_ref().expect("set above").as_raw_fd();
        let fd = reopen(k, (r.flags & (ACCMODE | SETFL_MASK)) as i32 | libc::O_NONBLOCK)
            .map_err(|e| format!("cannot open {name}: {}", err_text(e)))?;
        set_status(fd.as_raw_fd(), r.flags).map_err(|e| format!("{name}: cannot set its status flags: {}", err_text(e)))?;
        Ok(Some(fd))
    }

    /// An anonymous pipe end: the first FILE of each end takes the pipe's
    /// own fd, the others open it again.
    fn pipe_end(&mut self, r: &FileRec) -> Result<Option<OwnedFd>, String> {
        let name = r.name();
        let p = &mut self.pipes[r.pipe as usize - 1];
        if let Some(why) = &p.failed {
            return Err(why.clone());
        }
        let acc = r.flags & ACCMODE;
        let take = match acc {
            0 => p.rd.take(),
            1 => p.wr.take(),
            _ => None,
        };
        let fd = match take {
            Some(fd) => fd,
            None => {
                // A second open file of that end (or O_RDWR): open it again
                // through the end still held, or a new one.
                let held = self.objs.iter().zip(&self.files).find_map(|(o, f)| match o {
                    Obj::Fd(fd) if f.kind == FileKind::Pipe && f.pipe == r.pipe => Some(fd.as_raw_fd()),
                    _ => None,
                });
                let p = &self.pipes[r.pipe as usize - 1];
                let via = p.rd.as_ref().or(p.wr.as_ref()).map(AsRawFd::as_raw_fd).or(held);
                let via = via.ok_or_else(|| format!("{name}: no end of the pipe left to open it again"))?;
                reopen(via, acc as i32 | libc::O_NONBLOCK).map_err(|e| format!("cannot open {name} again: {}", err_text(e)))?
            }
        };
        set_status(fd.as_raw_fd(), r.flags).map_err(|e| format!("{name}: cannot set its status flags: {}", err_text(e)))?;
        Ok(Some(fd))
    }

    /// Memfd and unlinked files, their content written: size, seals (memfd),
    /// mode (unlinked), the recorded access mode and status flags, position.
    fn finish_anon(&mut self, r: &FileRec) -> Result<Option<OwnedFd>, String> {
        let name = r.name();
        let Obj::Fd(fd) = std::mem::replace(&mut self.objs[r.id as usize - 1], Obj::None) else {
            return Ok(None);
        };
        let raw = fd.as_raw_fd();
        // SAFETY: ftruncate of our new file (its content is data_len == size
        // bytes: a no-op, unless the last bytes were never written).
        if unsafe { libc::ftruncate(raw, r.size as libc::off_t) } < 0 {
            return Err(format!("cannot set the size of {name} to {}: {}", r.size, err_text(errno())));
        }
        if r.kind == FileKind::Memfd && r.mode & 0o7777 != 0o777 {
            // Before the seals (F_SEAL_EXEC forbids changing exec bits).
            // SAFETY: fchmod of our memfd.
            if unsafe { libc::fchmod(raw, r.mode & 0o7777) } < 0 {
                return Err(format!("cannot set the mode of {name} to {:o}: {}", r.mode & 0o7777, err_text(errno())));
            }
        }
        if r.kind == FileKind::Memfd && r.seals != 0 {
            // SAFETY: F_ADD_SEALS on our memfd.
            if unsafe { libc::fcntl(raw, libc::F_ADD_SEALS, r.seals as i32) } < 0 {
                return Err(format!("cannot seal {name} ({:#x}): {}", r.seals, err_text(errno())));
            }
        }
        let fd = if r.flags & ACCMODE != libc::O_RDWR as u32 || r.flags & !(ACCMODE | SETFL_MASK | libc::O_LARGEFILE as u32) != 0 {
            let flags = (r.flags & !PATH) as i32 | libc::O_NONBLOCK;
            reopen(raw, flags).map_err(|e| format!("cannot open {name} again with its flags: {}", err_text(e)))?
        } else {
            fd
        };
        if r.kind == FileKind::Deleted {
            // Created owner read-write; its mode after the reopen (the
            // original was opened before its mode changed, if it did).
            // SAFETY: fchmod of our file.
            if unsafe { libc::fchmod(fd.as_raw_fd(), r.mode & 0o7777) } < 0 {
                return Err(format!("cannot set the mode of {name} to {:o}: {}", r.mode & 0o7777, err_text(errno())));
            }
        }
        set_status(fd.as_raw_fd(), r.flags).map_err(|e| format!("{name}: cannot set its status flags: {}", err_text(e)))?;
        if r.pos != 0 {
            seek(fd.as_raw_fd(), r.pos).map_err(|e| format!("{name}: cannot seek to {}: {}", r.pos, err_text(e)))?;
        }
        Ok(Some(fd))
    }

    /// The object of FILE `id`, if built.
    #[cfg(test)]
    pub fn fd_of(&self, id: u32) -> Option<RawFd> {
        match self.objs.get(id as usize - 1)? {
            Obj::Fd(fd) => Some(fd.as_raw_fd()),
            _ => None,
        }
    }

    /// Why FILE `id` could not be built.
    pub fn failure_of(&self, id: u32) -> Option<&str> {
        match self.objs.get(id as usize - 1)? {
            Obj::Failed(w) => Some(w),
            _ => None,
        }
    }

    /// How many objects are built.
    pub fn built(&self) -> usize {
        self.objs.iter().filter(|o| matches!(o, Obj::Fd(_))).count()
    }

    /// Takes every built object, by FILE id - 1.
    pub fn take(&mut self) -> Vec<Option<OwnedFd>> {
        self.objs
            .iter_mut()
            .map(|o| match std::mem::replace(o, Obj::None) {
                Obj::Fd(fd) => Some(fd),
                _ => None,
            })
            .collect()
    }
}

/// A new pipe of `size` bytes, both ends non-blocking for now (its data
/// must fit).
fn new_pipe(size: u32) -> Result<(OwnedFd, OwnedFd), String> {
    let mut p = [0; 2];
    // SAFETY: pipe2 into a local array.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
        return Err(format!("pipe2: {}", err_text(errno())));
    }
    // SAFETY: both fds are new and ours.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
    set_pipe_size(wr.as_raw_fd(), size)?;
    Ok((rd, wr))
}

/// Where one fd of a task comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// FILE object `id`.
    File(u32),
    /// The tool's own fd (0-2): left in place.
    Tool,
    /// The `--inherit-fd` object of this fd number.
    Inherit(u32),
}

/// The resolved fds of every task: for each thread-group leader with an
/// FDS record, `(fd, source, fd flags)` in ascending fd order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FdPlan {
    pub tasks: Vec<Option<Vec<(u32, Source, u32)>>>,
    /// The `--inherit-fd` fds the plan uses, with the FILE whose access
    /// mode and status flags they take.
    pub inherit_used: Vec<(u32, u32)>,
    /// The largest fd of the image (-1 for none).
    pub max_fd: i64,
    /// The task with that fd.
    pub max_task: usize,
}

/// "task I (pid P)".
pub fn task_name(tree: &[TreeEntry], i: usize) -> String {
    format!("task {i} (pid {})", tree.get(i).map_or(0, TreeEntry::pid))
}

/// Resolves every fd of `fds` (by task index): refuses an fd of a thing
/// outside the tree at fd 3 or above without `--inherit-fd` (EBADF).
pub fn plan_fds(tree: &[TreeEntry], files: &[FileRec], fds: &[Option<TaskFds>], inherit: &[Inherit]) -> Result<FdPlan, String> {
    let mut plan = FdPlan { tasks: Vec::with_capacity(fds.len()), inherit_used: Vec::new(), max_fd: -1, max_task: 0 };
    for (i, t) in fds.iter().enumerate() {
        let Some(t) = t else {
            plan.tasks.push(None);
            continue;
        };
        let mut v = Vec::with_capacity(t.entries.len());
        for e in &t.entries {
            let f = files
                .get((e.file as usize).wrapping_sub(1))
                .ok_or_else(|| format!("{}: fd {}: file {} is not in the image", task_name(tree, i), e.fd, e.file))?;
            if i64::from(e.fd) > plan.max_fd {
                plan.max_fd = i64::from(e.fd);
                plan.max_task = i;
            }
            let src = if let Some(inh) = inherit.iter().find(|h| h.fd == e.fd) {
                if f.kind == FileKind::External {
                    if !plan.inherit_used.iter().any(|&(fd, _)| fd == inh.fd) {
                        plan.inherit_used.push((inh.fd, f.id));
                    }
                    Source::Inherit(inh.fd)
                } else {
                    Source::File(f.id)
                }
            } else if f.kind == FileKind::External {
                if e.fd >= 3 {
                    return Err(format!(
                        "{}: fd {} was {}, outside the tree: give it with --inherit-fd {}=PATH or {}=fd:M (EBADF)",
                        task_name(tree, i),
                        e.fd,
                        f.name(),
                        e.fd,
                        e.fd
                    ));
                }
                Source::Tool
            } else {
                Source::File(f.id)
            };
            v.push((e.fd, src, e.flags));
        }
        plan.tasks.push(Some(v));
    }
    Ok(plan)
}

/// Opens the `--inherit-fd` objects the plan uses.
pub fn open_inherited(plan: &FdPlan, files: &[FileRec], inherit: &[Inherit]) -> Result<Vec<(u32, OwnedFd)>, String> {
    let mut out = Vec::new();
    for &(fd, file) in &plan.inherit_used {
        let Some(h) = inherit.iter().find(|h| h.fd == fd) else { continue };
        let f = &files[file as usize - 1];
        let o = match &h.src {
            InheritSrc::Fd(m) => {
                // SAFETY: F_DUPFD_CLOEXEC of an fd of the tool.
                owned(unsafe { libc::fcntl(*m, libc::F_DUPFD_CLOEXEC, 0) })
                    .map_err(|e| format!("--inherit-fd {fd}=fd:{m}: {}", err_text(e)))?
            }
            InheritSrc::Path(p) => {
                let c = CString::new(p.as_str()).map_err(|_| format!("--inherit-fd {fd}={p}: a NUL in the path"))?;
                let flags = (f.flags & (ACCMODE | SETFL_MASK)) as i32 | libc::O_NONBLOCK | libc::O_NOCTTY;
                let o = open_c(&c, flags, 0).map_err(|e| format!("--inherit-fd {fd}={p}: cannot open {p}: {}", err_text(e)))?;
                set_status(o.as_raw_fd(), f.flags).map_err(|e| format!("--inherit-fd {fd}={p}: {}", err_text(e)))?;
                o
            }
        };
        out.push((fd, o));
    }
    Ok(out)
}

/// The first failure of a FILE object, named by the first task and fd
/// that uses it (or as a file of a mapping only).
pub fn first_failure(tree: &[TreeEntry], b: &Builder, plan: &FdPlan) -> Option<String> {
    for (i, t) in plan.tasks.iter().enumerate() {
        for &(fd, src, _) in t.iter().flatten() {
            if let Source::File(id) = src {
                if let Some(w) = b.failure_of(id) {
                    return Some(format!("{}: fd {fd}: {w}", task_name(tree, i)));
                }
            }
        }
    }
    (1..=b.files.len() as u32).find_map(|id| b.failure_of(id).map(|w| format!("file {id} (of a mapping): {w}")))
}

/// What a thread-group leader does with its files, after creating its
/// children and threads: precomputed, read only by the task.
#[derive(Debug, PartialEq, Eq)]
pub struct TaskFiles {
    /// `dup3(src, dst, flags)`, in ascending `dst` order.
    pub dups: Vec<(i32, i32, i32)>,
    /// Fds 0-2 to close (not in the image, nor kept from the tool).
    pub close: Vec<i32>,
    pub cwd: CString,
    /// None for "/".
    pub root: Option<CString>,
    pub umask: u32,
}

/// The staging fds: every object and the tool's own fds at or above a base
/// above every fd of the image.
#[derive(Debug, Default)]
pub struct Staging {
    /// Staging fd of each FILE id - 1 (-1 for none), for the coordinator.
    pub files: Vec<i32>,
    /// The objects (FILE ones and inherited ones), owned.
    pub owned: Vec<OwnedFd>,
    /// Staging fd of each used `--inherit-fd`.
    pub inherited: Vec<(u32, i32)>,
    /// Every staging fd, ascending (closed by each leader after its dup3s).
    pub fds: Vec<i32>,
}

/// Moves `fd` to the lowest free fd at or above `base` (close-on-exec).
pub fn move_above(fd: OwnedFd, base: i32) -> Result<OwnedFd, i32> {
    // SAFETY: F_DUPFD_CLOEXEC of our fd; the old one is closed by the drop.
    owned(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, base) })
}

/// Raises the soft RLIMIT_NOFILE to the hard limit if fds up to `top`
/// cannot be opened under it; fails (EMFILE) if the hard limit is too low.
pub fn ensure_nofile(top: u64) -> Result<(), String> {
    // SAFETY: getrlimit/setrlimit of a local.
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } < 0 {
        return Err(format!("getrlimit: {}", err_text(errno())));
    }
    if top < rl.rlim_cur {
        return Ok(());
    }
    if top >= rl.rlim_max {
        return Err(format!(
            "the restart needs fds up to {top}, at or above the RLIMIT_NOFILE hard limit ({}): {}",
            rl.rlim_max,
            err_text(libc::EMFILE)
        ));
    }
    rl.rlim_cur = rl.rlim_max;
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) } < 0 {
        return Err(format!("raising the RLIMIT_NOFILE soft limit to {}: {}", rl.rlim_max, err_text(errno())));
    }
    Ok(())
}

impl Staging {
    /// Moves the objects of `b` and `inherited` to staging fds at or
    /// above `base` (the caller made room: [`ensure_nofile`]).
    pub fn new(b: &mut Builder, inherited: Vec<(u32, OwnedFd)>, base: i32) -> Result<Staging, String> {
        let objs = b.take();
        let mut s = Staging::default();
        let mv = |fd: OwnedFd| move_above(fd, base).map_err(|e| format!("moving an fd above {base}: {}", err_text(e)));
        for o in objs {
            match o {
                Some(fd) => {
                    let fd = mv(fd)?;
                    s.files.push(fd.as_raw_fd());
                    s.fds.push(fd.as_raw_fd());
                    s.owned.push(fd);
                }
                None => s.files.push(-1),
            }
        }
        for (n, fd) in inherited {
            let fd = mv(fd)?;
            s.inherited.push((n, fd.as_raw_fd()));
            s.fds.push(fd.as_raw_fd());
            s.owned.push(fd);
        }
        s.fds.sort_unstable();
        Ok(s)
    }

    /// What each task does: `dup3` each fd from its staging fd, close the
    /// unlisted fds 0-2, chdir, chroot, umask.
    pub fn task_files(&self, plan: &FdPlan, fds: &[Option<TaskFds>]) -> Vec<Option<TaskFiles>> {
        plan.tasks
            .iter()
            .zip(fds)
            .map(|(p, t)| {
                let (p, t) = (p.as_ref()?, t.as_ref()?);
                let mut dups = Vec::new();
                let mut std_kept = [false; 3];
                for &(fd, src, fl) in p {
                    let from = match src {
                        Source::Tool => {
                            std_kept[fd as usize] = true;
                            continue;
                        }
                        Source::File(id) => self.files.get(id as usize - 1).copied().unwrap_or(-1),
                        Source::Inherit(n) => self.inherited.iter().find(|&&(m, _)| m == n).map_or(-1, |&(_, s)| s),
                    };
                    if fd < 3 {
                        std_kept[fd as usize] = true;
                    }
                    let flags = if fl & image::FD_FLAG_CLOEXEC != 0 { libc::O_CLOEXEC } else { 0 };
                    dups.push((from, fd as i32, flags));
                }
                let close = (0..3).filter(|&f| !std_kept[f as usize]).collect();
                let root = (t.root != b"/").then(|| CString::new(t.root.clone()).unwrap_or_default());
                Some(TaskFiles { dups, close, cwd: CString::new(t.cwd.clone()).unwrap_or_default(), root, umask: t.umask })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cptrst_image::{OF_APPEND, OF_NONBLOCK, OF_RDONLY, OF_RDWR, OF_WRONLY};

    const IFREG: u32 = libc::S_IFREG;

    fn base() -> OpenFile<'static> {
        OpenFile {
            id: 1,
            kind: FileKind::Reg,
            flags: OF_RDONLY,
            mode: IFREG | 0o644,
            pos: 0,
            size: 0,
            rdev_major: 0,
            rdev_minor: 0,
            pipe: 0,
            pipe_size: 0,
            seals: 0,
            data_len: 0,
            path: b"",
        }
    }

    fn status(fd: RawFd) -> u32 {
        // SAFETY: F_GETFL of a number.
        (unsafe { libc::fcntl(fd, libc::F_GETFL) }) as u32
    }

    fn pos(fd: RawFd) -> i64 {
        // SAFETY: lseek without a move.
        unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) }
    }

    fn pread(fd: RawFd, n: usize, off: i64) -> Vec<u8> {
        let mut b = vec![0u8; n];
        // SAFETY: pread into a local buffer.
        let r = unsafe { libc::pread(fd, b.as_mut_ptr().cast(), n, off) };
        b.truncate(r.max(0) as usize);
        b
    }

    fn read(fd: RawFd, n: usize) -> Vec<u8> {
        let mut b = vec![0u8; n];
        // SAFETY: read into a local buffer.
        let r = unsafe { libc::read(fd, b.as_mut_ptr().cast(), n) };
        b.truncate(r.max(0) as usize);
        b
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("cptrst-rf-{}-{name}", std::process::id()))
    }

    #[test]
    fn inherit_fd_values() {
        let h = parse_inherit("5=/dev/tty", &[]).unwrap();
        assert_eq!(h, Inherit { fd: 5, src: InheritSrc::Path("/dev/tty".into()) });
        assert_eq!(parse_inherit("7=fd:1", &[]).unwrap(), Inherit { fd: 7, src: InheritSrc::Fd(1) });
        assert_eq!(parse_inherit("0=fd:2", &[]).unwrap().fd, 0);
        assert_eq!(parse_inherit("1073741823=/x", &[]).unwrap().fd, (1 << 30) - 1);
        for bad in [
            "", "5", "=/x", "x=/x", "-1=/x", "+5=/x", "1073741824=/x", "5=rel", "5=", "5=fd:", "5=fd:x", "5=fd:-1",
            "5=fd:+1", "5=fd:999999",
        ] {
            assert!(parse_inherit(bad, &[]).is_err(), "{bad} accepted");
        }
        let e = parse_inherit("5=/b", &[h]).unwrap_err();
        assert!(e.contains("given twice"), "{e}");
        assert!(parse_inherit(&format!("5=/{}", "a".repeat(5000)), &[]).is_err());
    }

    /// A regular file: opened with its flags at its position; a changed
    /// size refused (ESTALE) unless allowed; another type never opened.
    #[test]
    fn regular_files_and_changes() {
        let p = tmp("reg");
        std::fs::write(&p, b"0123456789").unwrap();
        let path = p.to_str().unwrap().as_bytes().to_vec();
        let f = OpenFile { flags: OF_RDWR | OF_APPEND, pos: 4, size: 10, path: &path, ..base() };
        let mut b = Builder::new(Build::All, false);
        b.on_file(&f);
        b.finish();
        let fd = b.fd_of(1).expect("opened");
        assert_eq!(pos(fd), 4);
        assert_eq!(status(fd) & (libc::O_ACCMODE | libc::O_APPEND) as u32, (libc::O_RDWR | libc::O_APPEND) as u32);
        // SAFETY: F_GETFD of our fd.
        assert_ne!(unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC, 0);
        // The size changed.
        let f = OpenFile { size: 3, ..f };
        let mut b = Builder::new(Build::All, false);
        b.on_file(&f);
        b.finish();
        let w = b.failure_of(1).unwrap();
        assert_eq!(
            w,
            format!(
                "{} has changed since the checkpoint (size 10, was 3) (ESTALE): --allow-changed-files restores it anyway",
                p.display()
            )
        );
        let mut b = Builder::new(Build::All, true);
        b.on_file(&f);
        b.finish();
        assert!(b.fd_of(1).is_some());
        // Now a directory: refused even when allowed.
        std::fs::remove_file(&p).unwrap();
        std::fs::create_dir(&p).unwrap();
        let mut b = Builder::new(Build::All, true);
        b.on_file(&f);
        b.finish();
        assert!(b.failure_of(1).unwrap().ends_with("has changed since the checkpoint (type directory, was regular file) (ESTALE)"));
        std::fs::remove_dir(&p).unwrap();
        // Gone.
        let mut b = Builder::new(Build::All, false);
        b.on_file(&f);
        b.finish();
        assert_eq!(b.failure_of(1).unwrap(), format!("cannot open {}: No such file or directory (ENOENT)", p.display()));
    }

    #[test]
    fn directories_devices_and_o_path() {
        let d = OpenFile {
            kind: FileKind::Dir,
            flags: OF_RDONLY | libc::O_DIRECTORY as u32,
            mode: libc::S_IFDIR | 0o755,
            path: b"/",
            ..base()
        };
        let o = OpenFile { id: 2, flags: libc::O_PATH as u32, ..d };
        let n = OpenFile {
            id: 3,
            kind: FileKind::Chr,
            flags: OF_WRONLY | OF_APPEND,
            mode: libc::S_IFCHR | 0o666,
            rdev_major: 1,
            rdev_minor: 3,
            path: b"/dev/null",
            ..base()
        };
        let z = OpenFile { id: 4, rdev_minor: 5, ..n };
        let od = OpenFile { id: 5, flags: (libc::O_PATH | libc::O_DIRECTORY) as u32, ..d };
        let mut b = Builder::new(Build::All, false);
        for f in [d, o, n, z, od] {
            b.on_file(&f);
        }
        b.finish();
        assert_eq!(fstat(b.fd_of(1).unwrap()).unwrap().st_mode & libc::S_IFMT, libc::S_IFDIR);
        assert_eq!(status(b.fd_of(2).unwrap()) & (libc::O_PATH | libc::O_DIRECTORY) as u32, libc::O_PATH as u32);
        assert_eq!(status(b.fd_of(5).unwrap()) & (libc::O_PATH | libc::O_DIRECTORY) as u32, (libc::O_PATH | libc::O_DIRECTORY) as u32);
        assert_eq!(status(b.fd_of(3).unwrap()) & (libc::O_ACCMODE | libc::O_APPEND) as u32, (libc::O_WRONLY | libc::O_APPEND) as u32);
        assert_eq!(b.failure_of(4).unwrap(), "/dev/null has changed since the checkpoint (device 1:3, was 1:5) (ESTALE)");
        assert_eq!(b.built(), 4);
    }

    /// A pipe: its capacity, its data, each end's flags; a second open
    /// file of an end opened again; an end no FILE takes is closed.
    #[test]
    fn pipes() {
        let r = OpenFile {
            kind: FileKind::Pipe,
            flags: OF_RDONLY,
            mode: libc::S_IFIFO | 0o600,
            pipe: 1,
            pipe_size: 1 << 16,
            data_len: 5,
            path: b"pipe:[1]",
            ..base()
        };
        let w = OpenFile { id: 2, flags: OF_WRONLY | OF_NONBLOCK, data_len: 0, ..r };
        let r2 = OpenFile { id: 3, flags: OF_RDONLY | OF_NONBLOCK, data_len: 0, ..r };
        // A second pipe, only its read end in the tree: a small capacity.
        let lone = OpenFile { id: 4, pipe: 2, pipe_size: 4096, data_len: 0, path: b"pipe:[2]", ..r };
        let mut b = Builder::new(Build::All, false);
        b.on_file(&r);
        b.on_data(1, 0, b"hel");
        b.on_data(1, 3, b"lo");
        for f in [w, r2, lone] {
            b.on_file(&f);
        }
        b.finish();
        let (rd, wr, rd2, l) = (b.fd_of(1).unwrap(), b.fd_of(2).unwrap(), b.fd_of(3).unwrap(), b.fd_of(4).unwrap());
        // SAFETY: F_GETPIPE_SZ of our pipes.
        assert_eq!(unsafe { libc::fcntl(rd, libc::F_GETPIPE_SZ) }, 1 << 16);
        // SAFETY: as above.
        assert_eq!(unsafe { libc::fcntl(l, libc::F_GETPIPE_SZ) }, 4096);
        assert_eq!(status(rd) & libc::O_NONBLOCK as u32, 0);
        assert_ne!(status(wr) & libc::O_NONBLOCK as u32, 0);
        assert_ne!(status(rd2) & libc::O_NONBLOCK as u32, 0);
        assert_eq!(read(rd2, 3), b"hel");
        assert_eq!(read(rd, 10), b"lo");
        // One pipe: what one end writes, the others read.
        write_all(wr, b"x").unwrap();
        assert_eq!(read(rd, 10), b"x");
        // The lone read end: no writer left, EOF.
        assert_eq!(read(l, 10), b"");
        // Data beyond the capacity: refused, naming the pipe.
        let big = OpenFile { pipe_size: 4096, data_len: 4096, ..r };
        let mut b = Builder::new(Build::All, false);
        b.on_file(&big);
        b.on_data(1, 0, &[7u8; 4096]);
        b.on_data(1, 4096, &[7u8; 1]);
        b.finish();
        assert!(b.failure_of(1).unwrap().starts_with("pipe:[1]: cannot write its data: "), "{:?}", b.failure_of(1));
    }

    #[test]
    fn fifos() {
        let p = tmp("fifo");
        let c = CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo of a new path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let path = p.to_str().unwrap().as_bytes().to_vec();
        let r = OpenFile {
            kind: FileKind::Fifo,
            flags: OF_RDONLY,
            mode: libc::S_IFIFO | 0o600,
            pipe: 1,
            pipe_size: 8192,
            data_len: 3,
            path: &path,
            ..base()
        };
        let w = OpenFile { id: 2, flags: OF_WRONLY, data_len: 0, ..r };
        let mut b = Builder::new(Build::All, false);
        b.on_file(&r);
        b.on_data(1, 0, b"abc");
        b.on_file(&w);
        b.finish();
        let (rd, wr) = (b.fd_of(1).unwrap(), b.fd_of(2).unwrap());
        assert_eq!(status(rd) & (libc::O_ACCMODE | libc::O_NONBLOCK) as u32, libc::O_RDONLY as u32);
        assert_eq!(status(wr) & (libc::O_ACCMODE | libc::O_NONBLOCK) as u32, libc::O_WRONLY as u32);
        // SAFETY: F_GETPIPE_SZ of our FIFO.
        assert_eq!(unsafe { libc::fcntl(rd, libc::F_GETPIPE_SZ) }, 8192);
        assert_eq!(read(rd, 10), b"abc");
        // Not a FIFO: never opened.
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, b"").unwrap();
        let mut b = Builder::new(Build::All, false);
        b.on_file(&r);
        b.on_file(&w);
        b.finish();
        let e = format!("{} has changed since the checkpoint (type regular file, was FIFO) (ESTALE)", p.display());
        assert_eq!(b.failure_of(1).unwrap(), e);
        assert_eq!(b.failure_of(2).unwrap(), e);
        std::fs::remove_file(&p).unwrap();
    }

    /// A memfd: name, content, seals, access mode, position; an unlinked
    /// file: content, mode, no link, position.
    #[test]
    fn memfds_and_unlinked_files() {
        let m = OpenFile {
            kind: FileKind::Memfd,
            flags: OF_RDONLY,
            mode: IFREG | 0o777,
            pos: 3,
            size: 10,
            seals: (libc::F_SEAL_SHRINK | libc::F_SEAL_GROW) as u32,
            data_len: 10,
            path: b"my-memfd",
            ..base()
        };
        let dir = std::env::temp_dir();
        let gone = format!("{}/cptrst-gone", dir.display());
        let d = OpenFile { id: 2, kind: FileKind::Deleted, flags: OF_WRONLY | OF_APPEND, mode: IFREG | 0o640, path: gone.as_bytes(), seals: 0, ..m };
        let mut b = Builder::new(Build::All, false);
        b.on_file(&m);
        b.on_data(1, 0, b"01234567");
        b.on_data(1, 8, b"89");
        b.on_file(&d);
        b.on_data(2, 0, b"abcdefghij");
        b.finish();
        let fd = b.fd_of(1).unwrap();
        assert_eq!(pread(fd, 20, 0), b"0123456789");
        assert_eq!(pos(fd), 3);
        assert_eq!(status(fd) & libc::O_ACCMODE as u32, libc::O_RDONLY as u32);
        // SAFETY: F_GET_SEALS of our memfd.
        assert_eq!(unsafe { libc::fcntl(fd, libc::F_GET_SEALS) }, libc::F_SEAL_SHRINK | libc::F_SEAL_GROW);
        let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        assert_eq!(link.to_str().unwrap(), "/memfd:my-memfd (deleted)");
        let fd = b.fd_of(2).unwrap();
        let st = fstat(fd).unwrap();
        assert_eq!((st.st_mode & 0o7777, st.st_nlink, st.st_size), (0o640, 0, 10));
        assert_eq!(status(fd) & (libc::O_ACCMODE | libc::O_APPEND) as u32, (libc::O_WRONLY | libc::O_APPEND) as u32);
        assert_eq!(pos(fd), 3);
        let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        assert!(link.to_str().unwrap().starts_with(&format!("{}/#", dir.display())), "{link:?}");
        // The directory is gone: named.
        let d = OpenFile { id: 1, path: b"/nonexistent-dir/x", ..d };
        let mut b = Builder::new(Build::All, false);
        b.on_file(&d);
        b.finish();
        assert_eq!(
            b.failure_of(1).unwrap(),
            "cannot re-create the unlinked /nonexistent-dir/x (O_TMPFILE in /nonexistent-dir): No such file or directory (ENOENT)"
        );
        // Nothing at all.
        let mut b = Builder::new(Build::Nothing, false);
        b.on_file(&m);
        b.on_data(1, 0, b"0123456789");
        b.finish();
        assert_eq!((b.built(), b.files().len()), (0, 1));
        // With --skip-files, only what a mapping may need.
        let reg = OpenFile { id: 2, path: b"/", kind: FileKind::Dir, mode: libc::S_IFDIR | 0o755, ..base() };
        let pipe = OpenFile { id: 3, kind: FileKind::Pipe, mode: libc::S_IFIFO, pipe: 1, pipe_size: 4096, path: b"pipe:[1]", ..base() };
        let mut b = Builder::new(Build::Mapped, false);
        for f in [m, reg, pipe] {
            b.on_file(&f);
        }
        b.on_data(1, 0, b"0123456789");
        b.finish();
        assert_eq!(b.built(), 1);
        assert_eq!(pread(b.fd_of(1).unwrap(), 20, 0), b"0123456789");
    }

    fn tree(n: usize) -> Vec<TreeEntry> {
        let mut t: Vec<TreeEntry> = image::sample::tree_entries().to_vec();
        t.truncate(n);
        t
    }

    fn rec(id: u32, kind: FileKind, path: &[u8]) -> FileRec {
        FileRec::of(&OpenFile { id, kind, flags: OF_RDWR, path, ..base() })
    }

    fn fds(entries: &[(u32, u32, u32)]) -> TaskFds {
        TaskFds {
            umask: 0o027,
            root: b"/".to_vec(),
            cwd: b"/tmp".to_vec(),
            entries: entries.iter().map(|&(fd, file, flags)| FdEntry { fd, file, flags }).collect(),
        }
    }

    /// Outside things: the tool's own fds at 0-2, --inherit-fd elsewhere,
    /// refused (EBADF) without it.
    #[test]
    fn fd_plans() {
        let files = [rec(1, FileKind::External, b"/dev/pts/3"), rec(2, FileKind::Memfd, b"m"), rec(3, FileKind::External, b"socket:[99]")];
        let t = tree(3);
        let all = [Some(fds(&[(0, 1, 0), (1, 1, 0), (5, 2, 1)])), None, Some(fds(&[(2, 1, 0), (9, 3, 0)]))];
        let e = plan_fds(&t, &files, &all, &[]).unwrap_err();
        assert_eq!(e, "task 2 (pid 102): fd 9 was socket:[99], outside the tree: give it with --inherit-fd 9=PATH or 9=fd:M (EBADF)");
        let inherit = [Inherit { fd: 9, src: InheritSrc::Fd(2) }, Inherit { fd: 0, src: InheritSrc::Path("/dev/null".into()) }];
        let p = plan_fds(&t, &files, &all, &inherit).unwrap();
        assert_eq!(p.max_fd, 9);
        assert_eq!(p.tasks[0].as_deref(), Some(&[(0, Source::Inherit(0), 0), (1, Source::Tool, 0), (5, Source::File(2), 1)][..]));
        assert_eq!(p.tasks[1], None);
        assert_eq!(p.tasks[2].as_deref(), Some(&[(2, Source::Tool, 0), (9, Source::Inherit(9), 0)][..]));
        assert_eq!(p.inherit_used, [(0, 1), (9, 3)]);
        // A missing FILE (the validator refuses it; named anyway).
        let bad = [Some(fds(&[(3, 7, 0)])), None, None];
        assert_eq!(plan_fds(&t, &files, &bad, &[]).unwrap_err(), "task 0 (pid 100): fd 3: file 7 is not in the image");
    }

    /// The staging layout: every object at or above the base, the
    /// coordinator's table by FILE id, each leader's dup3s and closes.
    #[test]
    fn staging_layout() {
        let m = OpenFile { kind: FileKind::Memfd, flags: OF_RDWR, mode: IFREG | 0o600, path: b"m", ..base() };
        let ext = OpenFile { id: 2, kind: FileKind::External, flags: OF_RDWR, mode: libc::S_IFCHR | 0o620, path: b"/dev/pts/0", ..base() };
        let null = OpenFile {
            id: 3,
            kind: FileKind::Chr,
            flags: OF_RDWR,
            mode: libc::S_IFCHR | 0o666,
            rdev_major: 1,
            rdev_minor: 3,
            path: b"/dev/null",
            ..base()
        };
        let mut b = Builder::new(Build::All, false);
        for f in [m, ext, null] {
            b.on_file(&f);
        }
        b.finish();
        let t = tree(3);
        let all = [
            Some(fds(&[(0, 2, 0), (1, 3, 0), (40, 1, image::FD_FLAG_CLOEXEC), (41, 7 - 4, 0)])),
            None,
            Some(TaskFds { root: b"/srv/root".to_vec(), ..fds(&[(7, 2, 0)]) }),
        ];
        let inherit = [Inherit { fd: 7, src: InheritSrc::Fd(1) }];
        let p = plan_fds(&t, b.files(), &all, &inherit).unwrap();
        let inh = open_inherited(&p, b.files(), &inherit).unwrap();
        let base_fd = (p.max_fd + 1) as i32;
        assert_eq!(base_fd, 42);
        let s = Staging::new(&mut b, inh, base_fd).unwrap();
        assert_eq!(s.files.len(), 3);
        assert_eq!(s.files[1], -1);
        assert!(s.files[0] >= 42 && s.files[2] >= 42);
        assert_eq!(s.inherited.len(), 1);
        assert!(s.fds.iter().all(|&f| f >= 42) && s.fds.len() == 3 && s.fds.windows(2).all(|w| w[0] < w[1]));
        let tf = s.task_files(&p, &all);
        let t0 = tf[0].as_ref().unwrap();
        assert_eq!(t0.dups, [(s.files[2], 1, 0), (s.files[0], 40, libc::O_CLOEXEC), (s.files[2], 41, 0)]);
        // 0 is the tool's (outside), 1 the image's, 2 not in the image.
        assert_eq!(t0.close, [2]);
        assert_eq!((t0.cwd.as_bytes(), t0.root.is_none(), t0.umask), (&b"/tmp"[..], true, 0o027));
        assert!(tf[1].is_none());
        let t2 = tf[2].as_ref().unwrap();
        assert_eq!(t2.dups, [(s.inherited[0].1, 7, 0)]);
        assert_eq!(t2.close, [0, 1, 2]);
        assert_eq!(t2.root.as_deref(), Some(c"/srv/root"));
        // The inherited fd is a copy of the tool's fd 1.
        let (a, c) = (fstat(1).unwrap(), fstat(s.inherited[0].1).unwrap());
        assert_eq!((a.st_dev, a.st_ino), (c.st_dev, c.st_ino));
    }

    #[test]
    fn first_failures_name_the_task_and_fd() {
        let reg = OpenFile { kind: FileKind::Reg, path: b"/nonexistent/file", ..base() };
        let mut b = Builder::new(Build::All, false);
        b.on_file(&reg);
        b.on_file(&OpenFile { id: 2, ..reg });
        b.finish();
        let t = tree(3);
        let all = [Some(fds(&[(0, 1, 0)])), None, Some(fds(&[(5, 1, 0)]))];
        let p = plan_fds(&t, b.files(), &all, &[]).unwrap();
        assert_eq!(
            first_failure(&t, &b, &p).unwrap(),
            "task 0 (pid 100): fd 0: cannot open /nonexistent/file: No such file or directory (ENOENT)"
        );
        let none = [None, None, None];
        let p = plan_fds(&t, b.files(), &none, &[]).unwrap();
        assert_eq!(
            first_failure(&t, &b, &p).unwrap(),
            "file 1 (of a mapping): cannot open /nonexistent/file: No such file or directory (ENOENT)"
        );
    }

    #[test]
    fn the_fd_limit() {
        assert_eq!(ensure_nofile(10), Ok(()));
        let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit into a local.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
        if rl.rlim_max != libc::RLIM_INFINITY {
            let e = ensure_nofile(rl.rlim_max).unwrap_err();
            assert!(e.ends_with("Too many open files (EMFILE)"), "{e}");
        }
    }
}
