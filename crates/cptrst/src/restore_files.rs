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
//!   has opened nothing by path.
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

/// An owned copy of a FILE record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRec {
    pub id: u32,
    pub kind: FileKind,
    pub flags: u32,
    pub mode: u32,
    pub pos: u64,
    pub size: u64,
    pub rdev_major: u32,
    pub rdev_minor: u32,
    pub pipe: u32,
    pub pipe_size: u32,
    pub seals: u32,
    pub data_len: u64,
    pub path: Vec<u8>,
}

impl FileRec {
    pub fn of(f: &OpenFile) -> Self {
        FileRec {
            id: f.id,
            kind: f.kind,
            flags: f.flags,
            mode: f.mode,
            pos: f.pos,
            size: f.size,
            rdev_major: f.rdev_major,
            rdev_minor: f.rdev_minor,
            pipe: f.pipe,
            pipe_size: f.pipe_size,
            seals: f.seals,
            data_len: f.data_len,
            path: f.path.to_vec(),
        }
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

/// The FILE objects of an image, built as its head is read.
#[derive(Debug)]
pub struct Builder {
    /// Create objects (false with `--skip-files`: records are only kept).
    build: bool,
    allow_changed: bool,
    files: Vec<FileRec>,
    objs: Vec<Obj>,
    pipes: Vec<PipeObj>,
}

impl Builder {
    pub fn new(build: bool, allow_changed: bool) -> Self {
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

    /// A FILE record (ids come in order, checked by the validator).
    pub fn on_file(&mut self, f: &OpenFile) {
        let r = FileRec::of(f);
        self.files.push(r.clone());
        self.objs.push(Obj::None);
        // Room for the objects at their first fds (moved later).
        if self.build && self.files.len() % 256 == 0 {
            if let Err(why) = ensure_nofile(self.files.len() as u64 + 256) {
                self.fail(r.id, why);
                return;
            }
        }
        if r.pipe as usize > self.pipes.len() {
            self.pipes.resize_with(r.pipe as usize, PipeObj::default);
        }
        if !self.build {
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
                open_c(&dir, libc::O_TMPFILE | libc::O_RDWR, r.mode & 0o7777).map(Obj::Fd).map_err(|e| {
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
        if !self.build || bytes.is_empty() {
            return;
        }
        let Some(r) = self.files.get(file as usize - 1) else { return };
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
            if matches!(self.objs[i], Obj::Failed(_)) {
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
        let nofollow = (r.flags & libc::O_NOFOLLOW as u32) as i32;
        let p = open_c(&r.cpath(), libc::O_PATH | nofollow, 0).map_err(|e| format!("cannot open {name}: {}", err_text(e)))?;
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
            // The umask applied to O_TMPFILE's mode. After the reopen: the
            // file was opened before its mode was set, as the original.
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
}

/// "task I (pid P)".
pub fn task_name(tree: &[TreeEntry], i: usize) -> String {
    format!("task {i} (pid {})", tree.get(i).map_or(0, TreeEntry::pid))
}

/// Resolves every fd of `fds` (by task index): refuses an fd of a thing
/// outside the tree at fd 3 or above without `--inherit-fd` (EBADF).
pub fn plan_fds(tree: &[TreeEntry], files: &[FileRec], fds: &[Option<TaskFds>], inherit: &[Inherit]) -> Result<FdPlan, String> {
    let mut plan = FdPlan { tasks: Vec::with_capacity(fds.len()), inherit_used: Vec::new(), max_fd: -1 };
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
            plan.max_fd = plan.max_fd.max(i64::from(e.fd));
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
    /// The base.
    pub base: i32,
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
        let mut s = Staging { base, ..Default::default() };
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

    #[test]
    fn inherit_fd_values() {
        let h = parse_inherit("5=/dev/tty", &[]).unwrap();
        assert_eq!(h, Inherit { fd: 5, src: InheritSrc::Path("/dev/tty".into()) });
        assert_eq!(parse_inherit("7=fd:1", &[]).unwrap(), Inherit { fd: 7, src: InheritSrc::Fd(1) });
        assert_eq!(parse_inherit("0=fd:2", &[]).unwrap().fd, 0);
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
}
