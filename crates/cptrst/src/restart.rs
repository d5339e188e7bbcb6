//! `cptrst restart [-i FILE|-] [--detach] [--skip-files] [--pid-wait
//! SECONDS] [--allow-changed-files] [--as-invoker] [--inherit-fd
//! FD=PATH|FD=fd:M]...`:
//! restart a checkpointed process tree from its image.
//!
//! The protocol (Documentation/restart.rst, for trees its "Roles"
//! section): the tool creates the root with eclone
//! at its pid (pid 1 of a new pid namespace when the tree had its own);
//! each process then creates its children at their pids, and its threads,
//! as planned by [`crate::plan`] before the first eclone. Every task is a
//! participant: prepared as the kernel expects (death signal, default
//! signal dispositions, every signal but those ignored by default blocked
//! until the commit sets the image's mask, only fds 0, 1, 2, the device,
//! the image and the report pipe left open), with its session and process group set, it
//! writes a ready note (its image index) to the tool's report pipe (a
//! leader writes its threads' notes, as they share its fd table), closes
//! the pipe and calls `CPTRST_IOC_RESTART`, which does not return on
//! success: it becomes the restored task. A zombie's call returns
//! `RST_ZOMBIE` | the wait status it then exits with. A task that cannot be
//! built writes a failure note instead and exits.
//!
//! The tool reads the pipe (packet mode: one note per read) until all the
//! tasks are ready, then makes the coordinator call: the kernel checks the
//! whole image, restores every task, and the call returns once they run,
//! or fails with a message naming the bad record (the tasks are then
//! killed). A failure note, a death (the root's exit, or EOF on the pipe
//! before every note) or 60 s without every note: the tool kills the tasks
//! it knows of (the others die with their parents, `PR_SET_PDEATHSIG`) and
//! exits 1 with `cptrst: restart: task I (pid P): MESSAGE`.
//!
//! Before the first eclone the tool waits (`--pid-wait`, 10 s by default)
//! for every pid of the tree still held by a zombie or an exiting task (the
//! checkpointed tree, just killed, not reaped yet by its parent); a live
//! process at one of the pids, or one still held when the wait ends, fails
//! the restart with a message naming the pid and its holder.
//!
//! The kernel reads the image twice, so it needs a seekable fd: a regular
//! file is passed as is, anything else (pipe, socket) is first copied into
//! a sealed memfd, so that `cptrst checkpoint PID --kill | cptrst restart`
//! works. The tool reads the image up to its first MM record (the TREE,
//! and in an image 1.4 the open files: FILE, FDATA, FDS); the kernel
//! validates the whole image again.
//!
//! Open files (image 1.4, [`crate::restore_files`]): before the first
//! eclone the tool creates every FILE object once, at a staging fd above
//! every fd of the image (its own device, image and report fds go there
//! too); every participant keeps them through its first close, and each
//! thread-group leader, after creating its children and threads, `dup3`s
//! its fds from them, closes fds 0-2 the image does not list, sets its
//! cwd, root and umask, and closes the staging fds. The coordinator call
//! passes the staging fd of each FILE (`files`), for the mappings of memfd
//! and unlinked files.

use std::fs::File;
use std::io::{IsTerminal, Read, Seek, SeekFrom};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::eclone_cmd::wait_status;
use crate::plan::{self, Group, Plan};
use crate::restore_files::{self as rf, Build, Builder, Inherit, Staging, TaskFds, TaskFiles};
use cptrst::eclone::{eclone_fork, eclone_on_stack, Forked};
use cptrst::{dev::Dev, errno_name, proc, strerror, Failure};
use cptrst_image::{self as image, Expect, Record, TreeEntry, Validator};
use cptrst_uapi::{RestartArgs, RST_AS_INVOKER, RST_COORD, RST_FILE_CHANGED_OK, RST_MSG_MAX, RST_SKIP_FILES, RST_ZOMBIE};

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
struct Opts {
    /// Image file, `-` for standard input.
    input: String,
    /// Exit once the process is restored instead of waiting for it.
    detach: bool,
    /// `RST_SKIP_FILES`: restore even if the image lists other fds.
    skip_files: bool,
    /// How long to wait for a pid of the tree held by a zombie or an
    /// exiting task.
    pid_wait: Duration,
    /// `--allow-changed-files`: restore files (and mappings) whose size or
    /// type changed since the checkpoint (`RST_FILE_CHANGED_OK`).
    allow_changed: bool,
    /// `--as-invoker`: every task gets the invoker's credentials, not the
    /// image's (`RST_AS_INVOKER`).
    as_invoker: bool,
    /// `--inherit-fd`: what the fds of things outside the tree get.
    inherit: Vec<Inherit>,
}

/// How long the restart waits, by default, for a pid held by a zombie or an
/// exiting task (the checkpointed tree, just killed).
const PID_WAIT: Duration = Duration::from_secs(10);

/// The longest `--pid-wait`, in seconds.
const MAX_PID_WAIT: u64 = 3600;

fn parse_args(args: &[String]) -> Result<Opts, Failure> {
    let mut o = Opts {
        input: "-".into(),
        detach: false,
        skip_files: false,
        pid_wait: PID_WAIT,
        allow_changed: false,
        as_invoker: false,
        inherit: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-i" | "--input" => {
                o.input = it.next().ok_or_else(|| Failure::usage(format!("{a} needs a file (or - for standard input)")))?.clone();
            }
            "--detach" => o.detach = true,
            "--skip-files" => o.skip_files = true,
            "--allow-changed-files" => o.allow_changed = true,
            "--as-invoker" => o.as_invoker = true,
            "--inherit-fd" => {
                let v = it.next().ok_or_else(|| Failure::usage("--inherit-fd needs FD=PATH or FD=fd:M"))?;
                let h = rf::parse_inherit(v, &o.inherit).map_err(Failure::usage)?;
                o.inherit.push(h);
            }
            s if s.starts_with("--inherit-fd=") => {
                let h = rf::parse_inherit(&s["--inherit-fd=".len()..], &o.inherit).map_err(Failure::usage)?;
                o.inherit.push(h);
            }
            "--pid-wait" => {
                let v = it.next().ok_or_else(|| Failure::usage("--pid-wait needs a number of seconds"))?;
                let secs =
                    v.parse::<u64>().ok().filter(|&s| s <= MAX_PID_WAIT).ok_or_else(|| {
                        Failure::usage(format!("bad --pid-wait '{v}': a whole number of seconds from 0 to {MAX_PID_WAIT}"))
                    })?;
                o.pid_wait = Duration::from_secs(secs);
            }
            s if s.starts_with('-') && s != "-" => return Err(Failure::usage(format!("unknown option '{s}'"))),
            s => return Err(Failure::usage(format!("unexpected argument '{s}' (the image is given with -i FILE)"))),
        }
    }
    if o.input.is_empty() {
        return Err(Failure::usage("-i needs a file (or - for standard input)"));
    }
    Ok(o)
}

/// The NUL-terminated message the kernel wrote in `buf`, if any.
fn kernel_message(buf: &[u8]) -> Option<String> {
    let n = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    let s = String::from_utf8_lossy(&buf[..n]).trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// Opens /dev/null on any of fds 0, 1, 2 that is closed, so that every fd
/// the tool opens later is above them (the restored process gets fds 0-2;
/// the kernel closes the device and image fds).
fn ensure_stdio() {
    for fd in 0..3 {
        // SAFETY: F_GETFD on a small integer; open of a constant path.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) < 0 && *libc::__errno_location() == libc::EBADF {
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            }
        }
    }
}

/// Copies `r` to the end into a sealed memfd, positioned at its start.
fn copy_to_memfd(r: &mut dyn Read, name: &str) -> Result<OwnedFd, Failure> {
    // SAFETY: a constant name and flags.
    let fd = unsafe { libc::memfd_create(c"cptrst-image".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(Failure::os("memfd_create", std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just created and is owned by nobody else.
    let mut f = unsafe { File::from_raw_fd(fd) };
    std::io::copy(r, &mut f).map_err(|e| Failure::os(format!("reading the image from {name}"), e))?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: F_ADD_SEALS on our own memfd.
    if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(Failure::os("sealing the image memfd", std::io::Error::last_os_error()));
    }
    f.seek(SeekFrom::Start(0)).map_err(|e| Failure::os("memfd", e))?;
    Ok(f.into())
}

/// The image as a readable, seekable fd (close-on-exec, above 2), and its
/// name for messages.
fn open_image(input: &str) -> Result<(OwnedFd, String), Failure> {
    if input == "-" {
        let name = "standard input".to_string();
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err(Failure::usage("refusing to read an image from a terminal: use -i FILE or a pipe"));
        }
        // SAFETY: fstat into a local.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(0, &mut st) } < 0 {
            return Err(Failure::os(&name, std::io::Error::last_os_error()));
        }
        if st.st_mode & libc::S_IFMT == libc::S_IFREG {
            // The image starts at stdin's current position; a copy of the
            // fd, as the kernel closes the image fd in the restored process.
            // SAFETY: F_DUPFD_CLOEXEC of fd 0 returns a new fd we own.
            let fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3) };
            if fd < 0 {
                return Err(Failure::os(&name, std::io::Error::last_os_error()));
            }
            // SAFETY: `fd` is new and ours.
            return Ok((unsafe { OwnedFd::from_raw_fd(fd) }, name));
        }
        let fd = copy_to_memfd(&mut stdin.lock(), &name)?;
        return Ok((fd, name));
    }
    // std opens with O_CLOEXEC.
    let mut f = File::open(input).map_err(|e| Failure::os(input, e))?;
    let meta = f.metadata().map_err(|e| Failure::os(input, e))?;
    if meta.file_type().is_file() {
        return Ok((f.into(), input.to_string()));
    }
    if meta.file_type().is_dir() {
        return Err(Failure::op(format!("{input}: is a directory")));
    }
    let fd = copy_to_memfd(&mut f, input)?;
    Ok((fd, input.to_string()))
}

/// `pread` until `buf` is full or the end of the file; returns the bytes read.
fn pread_full(fd: RawFd, buf: &mut [u8], mut off: u64) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        // SAFETY: the pointer and length describe the unfilled part of `buf`.
        let r = unsafe { libc::pread(fd, buf[n..].as_mut_ptr().cast(), buf.len() - n, off as libc::off_t) };
        match r {
            0 => break,
            r if r < 0 => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            r => {
                n += r as usize;
                off += r as u64;
            }
        }
    }
    Ok(n)
}

/// Why reading the head of the image failed.
#[derive(Debug)]
enum HeadError {
    Io(std::io::Error),
    Image(image::Error),
}

/// What the tool reads of an image: its TREE and, per task (by index),
/// its FDS record if it has one.
#[derive(Debug)]
struct Head {
    tree: Vec<TreeEntry>,
    fds: Vec<Option<TaskFds>>,
}

/// Reads and checks the file header and the TREE record at the fd's
/// current position (without moving it); skippable unknown records before
/// the TREE are read through. Returns the TREE's entries, in image order.
#[cfg(test)]
fn read_tree(fd: RawFd) -> Result<Vec<TreeEntry>, HeadError> {
    read_head(fd, &mut Builder::new(Build::Nothing, false)).map(|h| h.tree)
}

/// Reads and checks the image at the fd's current position (without moving
/// it) from its file header up to its first MM record (or its end): the
/// TREE, then the FILE records and their FDATA (handed to `b`, which
/// builds the objects and writes the data straight into them), the FDS
/// record of each thread-group leader.
fn read_head(fd: RawFd, b: &mut Builder) -> Result<Head, HeadError> {
    // SAFETY: lseek on an fd we own, without moving it.
    let start = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
    if start < 0 {
        return Err(HeadError::Io(std::io::Error::last_os_error()));
    }
    let mut off = start as u64;
    let mut v = Validator::new();
    let mut hdr = [0u8; image::HEADER_LEN];
    let n = pread_full(fd, &mut hdr, off).map_err(HeadError::Io)?;
    v.feed_header(&hdr[..n]).map_err(HeadError::Image)?;
    off += n as u64;
    let cut = |v: &mut Validator, what: &str| {
        v.end_of_input().map_or_else(HeadError::Image, |_| HeadError::Io(std::io::Error::other(format!("the image ends {what}"))))
    };
    let tree_len = loop {
        match v.expect() {
            Expect::RecordHeader => {
                let mut rh = [0u8; image::RECORD_HEADER_LEN];
                let n = pread_full(fd, &mut rh, off).map_err(HeadError::Io)?;
                v.feed_record_header(&rh[..n]).map_err(HeadError::Image)?;
                off += n as u64;
            }
            // An unknown record the format allows to skip.
            Expect::Data(left) => {
                let mut buf = vec![0u8; (left as usize).min(64 * 1024)];
                let n = pread_full(fd, &mut buf, off).map_err(HeadError::Io)?;
                if n == 0 {
                    // Cut inside the record: the validator says where.
                    return Err(cut(&mut v, "before its TREE"));
                }
                v.feed_data(&buf[..n]).map_err(HeadError::Image)?;
                off += n as u64;
            }
            // A live image's ROUND sections (1.6): ROUND records and their
            // PAGES, before the TREE; the module reads them (pass 1).
            Expect::Payload(len) => {
                let mut buf = vec![0u8; len as usize];
                let n = pread_full(fd, &mut buf, off).map_err(HeadError::Io)?;
                if n == 0 {
                    return Err(cut(&mut v, "before its TREE"));
                }
                v.feed_payload(&buf[..n]).map_err(HeadError::Image)?;
                off += n as u64;
            }
            Expect::Tree(len) => break len,
            Expect::Failed(e) => return Err(HeadError::Image(e)),
            // The validator asks for the TREE before any other known record.
            Expect::Header | Expect::End => {
                return Err(HeadError::Io(std::io::Error::other("unexpected validator state before the TREE")));
            }
        }
    };
    // The validator checked the length against the TREE's bounds.
    let mut payload = vec![0u8; tree_len as usize];
    let n = pread_full(fd, &mut payload, off).map_err(HeadError::Io)?;
    off += n as u64;
    let tree = v.feed_tree(&payload[..n]).map_err(HeadError::Image)?;
    if tree.is_empty() {
        return Err(HeadError::Io(std::io::Error::other("empty TREE")));
    }
    let tree: Vec<TreeEntry> = tree.iter().collect();
    let mut fds: Vec<Option<TaskFds>> = vec![None; tree.len()];
    // The task whose records these are (its TASK's index).
    let mut task = 0usize;
    // The FILE whose FDATA is being read: its id, and the offset of the
    // next byte.
    let mut fdata: Option<(u32, u64)> = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match v.expect() {
            Expect::RecordHeader => {
                let mut rh = [0u8; image::RECORD_HEADER_LEN];
                let n = pread_full(fd, &mut rh, off).map_err(HeadError::Io)?;
                if n == 0 {
                    // An image without MM (every task a zombie): its end.
                    v.end_of_input().map_err(HeadError::Image)?;
                    break;
                }
                let h = v.feed_record_header(&rh[..n]).map_err(HeadError::Image)?;
                off += n as u64;
                if h.kind == image::RECORD_MM {
                    break;
                }
                if h.kind != image::RECORD_FDATA {
                    fdata = None;
                }
            }
            Expect::Payload(len) => {
                let mut p = vec![0u8; len as usize];
                let n = pread_full(fd, &mut p, off).map_err(HeadError::Io)?;
                off += n as u64;
                match v.feed_payload(&p[..n]).map_err(HeadError::Image)? {
                    Record::Task(t) => task = t.index as usize,
                    Record::File(f) => b.on_file(&f),
                    Record::FileData(d) => fdata = Some((d.file, d.offset)),
                    Record::Fds(f) => {
                        if let Some(slot) = fds.get_mut(task) {
                            *slot = Some(TaskFds::of(&f));
                        }
                    }
                    _ => {}
                }
            }
            // FDATA's data, or another record's (skipped).
            Expect::Data(left) => {
                let want = (left as usize).min(buf.len());
                // Of an FDATA's bytes, those before its padding are data.
                let content = v.data_chunk_left();
                let n = pread_full(fd, &mut buf[..want], off).map_err(HeadError::Io)?;
                if n == 0 {
                    return Err(cut(&mut v, "inside a record"));
                }
                v.feed_data(&buf[..n]).map_err(HeadError::Image)?;
                off += n as u64;
                if let Some((file, at)) = fdata.as_mut() {
                    let k = (n as u64).min(content) as usize;
                    b.on_data(*file, *at, &buf[..k]);
                    *at += k as u64;
                }
            }
            Expect::End => break,
            Expect::Failed(e) => return Err(HeadError::Image(e)),
            Expect::Header | Expect::Tree(_) => {
                return Err(HeadError::Io(std::io::Error::other("unexpected validator state after the TREE")));
            }
        }
    }
    Ok(Head { tree, fds })
}

/// How long the tool waits for every task to be ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A participant's note to the tool, one packet of the report pipe.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Note {
    /// [`NOTE_READY`] or [`NOTE_FAILED`].
    kind: u32,
    /// The task it is about (image index).
    index: u32,
    /// For a failure: what failed (`FAIL_*`).
    what: u32,
    /// For a failure: the errno.
    errno: i32,
    /// For a failure: its argument (the fd of `FAIL_DUP`).
    arg: u32,
}

/// The task has created its children and threads and is about to call restart.
const NOTE_READY: u32 = 1;
/// The task could not be built (it exits, or was never created).
const NOTE_FAILED: u32 = 2;

/// Creating the task failed (eclone): it does not exist.
const FAIL_CREATE: u32 = 1;
/// Its `setsid()` failed.
const FAIL_SETSID: u32 = 2;
/// Its `setpgid()` failed.
const FAIL_SETPGID: u32 = 3;
/// Its parent went away before it was set up.
const FAIL_PARENT_GONE: u32 = 4;
/// Mapping the stack of the thread failed.
const FAIL_STACK: u32 = 5;
/// `dup3` of one of its fds (the note's `arg`) from its staging fd failed.
const FAIL_DUP: u32 = 6;
/// `chdir` to its cwd failed.
const FAIL_CHDIR: u32 = 7;
/// `chroot` to its root failed.
const FAIL_CHROOT: u32 = 8;

impl Note {
    fn from_bytes(b: &[u8]) -> Option<Note> {
        if b.len() != std::mem::size_of::<Note>() {
            return None;
        }
        let w = |i: usize| u32::from_ne_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
        Some(Note { kind: w(0), index: w(1), what: w(2), errno: w(3) as i32, arg: w(4) })
    }
}

/// What the tasks need, computed by the tool before the first one is
/// created: the tasks only read it (their copy, or the shared memory of a
/// thread group).
struct Ctx<'a> {
    plans: &'a [Plan],
    /// The /dev/cptrst fd (the eclone library's too).
    dev: RawFd,
    /// The image fd.
    img: RawFd,
    /// The write end of the report pipe.
    report: RawFd,
    /// `RST_SKIP_FILES` or 0.
    skip: u32,
    /// The tool's process group (for [`Group::JoinTool`]).
    tool_pgid: i32,
    /// The fds every task keeps through its first close (0, 1, 2, the
    /// device, image and report fds, the staging fds), ascending.
    keep: &'a [i32],
    /// The staging fds, closed by every process once it has its own fds.
    staged: &'a [i32],
    /// What each thread-group leader does with its files (by task index;
    /// empty without files).
    files: &'a [Option<TaskFiles>],
    /// The RLIMIT_NOFILE each process gets back once the staging fds are
    /// closed, if the tool raised it.
    nofile: Option<libc::rlimit>,
}

/// The fds kept through a task's first close: 0, 1, 2, the tool's and the
/// staging ones, ascending.
fn keep_list(tool: &[RawFd], staged: &[i32]) -> Vec<i32> {
    let mut v: Vec<i32> = [0, 1, 2].iter().chain(tool).chain(staged).copied().filter(|&f| f >= 0).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Writes one note to the tool. Async-signal-safe.
fn note(c: &Ctx, kind: u32, index: u32, what: u32, errno: i32) {
    note_arg(c, kind, index, what, errno, 0)
}

/// [`note`] with an argument. Async-signal-safe.
fn note_arg(c: &Ctx, kind: u32, index: u32, what: u32, errno: i32, arg: u32) {
    let n = Note { kind, index, what, errno, arg };
    // SAFETY: a write of a local; a packet of the pipe (O_DIRECT) or, at
    // 16 bytes, an atomic write anyway.
    unsafe { libc::write(c.report, (&n as *const Note).cast(), std::mem::size_of::<Note>()) };
}

/// Reports a failure about task `index` and exits. Async-signal-safe.
fn fail(c: &Ctx, index: u32, what: u32, errno: i32) -> ! {
    note(c, NOTE_FAILED, index, what, errno);
    // SAFETY: _exit is always safe.
    unsafe { libc::_exit(127) }
}

fn errno() -> i32 {
    // SAFETY: errno of the calling thread.
    unsafe { *libc::__errno_location() }
}

/// The kernel's `struct sigaction` for rt_sigaction (not glibc's, which
/// refuses glibc's own signals 32 and 33): all zero is SIG_DFL.
#[repr(C)]
struct KSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

const SIG_DFL_ACTION: KSigaction = KSigaction { handler: 0, flags: 0, restorer: 0, mask: 0 };

/// A zombie's restart call returned `status` (a wait status): exit with it.
fn exit_as(status: i32) -> ! {
    let sig = status & 0x7f;
    // SAFETY: plain system calls on locals; the task exits.
    unsafe {
        if sig == 0 {
            libc::_exit((status >> 8) & 0xff);
        }
        let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
        libc::syscall(libc::SYS_rt_sigaction, sig, &SIG_DFL_ACTION as *const KSigaction, 0usize, 8usize);
        let set: u64 = 1u64 << ((sig - 1) & 63);
        libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_UNBLOCK, &set as *const u64, 0usize, 8usize);
        libc::kill(libc::getpid(), sig);
        libc::_exit(127)
    }
}

/// What a thread needs, at the bottom of its own stack mapping.
#[repr(C)]
struct ThreadStart {
    dev: RawFd,
    args: RestartArgs,
}

/// Size of a thread's stack mapping (gone at restore: the restored task
/// gets the image's memory).
const THREAD_STACK: usize = 64 * 1024;

/// A thread of a participant: calls restart. It shares its leader's memory
/// and TLS: raw system calls only.
extern "C" fn thread_main(arg: *mut libc::c_void) -> i32 {
    let t = arg as *const ThreadStart;
    // SAFETY: `arg` is the ThreadStart its leader wrote at the bottom of
    // this thread's stack mapping, which stays until the restore replaces
    // the memory (after every task entered restart).
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::ioctl((*t).dev, cptrst_uapi::IOC_RESTART as libc::c_ulong, &(*t).args as *const RestartArgs);
    }
    // The call failed: this thread exits (eclone_fn's exit, not the whole
    // group's), its leader goes on, and the coordinator names the task
    // that is missing or failed.
    127
}

/// A task the tool, or its parent `creator` (its pid as the parent saw
/// it), just created for entry `i`: prepare as the protocol says, set the
/// session and group, create the children and threads, report ready, and
/// become the restored task. Only system calls and reads of `c` (the
/// eclone library allocates a little, in this task's own copy of the
/// memory, before any thread exists).
fn participant(c: &Ctx, i: usize, creator: i32) -> ! {
    let p = &c.plans[i];
    let args = RestartArgs { ctid: 0, fd: c.img, flags: c.skip, ..Default::default() };
    // SAFETY: plain system calls on constants and locals; nothing here
    // takes a lock.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        // The parent may have died before the prctl. In a new pid namespace
        // the parent is outside it, and getppid() returns 0.
        let ppid = libc::getppid();
        if ppid != creator && !(p.new_ns() && ppid == 0) {
            fail(c, i as u32, FAIL_PARENT_GONE, 0);
        }
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(libc::SYS_rt_sigaction, sig, &SIG_DFL_ACTION as *const KSigaction, 0usize, 8usize);
            }
        }
        // Every signal blocked until the commit sets the image's mask (its
        // children and threads inherit it): a pending signal the restore
        // queues for the process (a shared SIGUSR1 at SIG_DFL, blocked in
        // every thread of the image) must not reach a task of it that is
        // still waiting here, for which its default action would kill the
        // group. But those whose default is to be ignored (SIGCHLD,
        // SIGCONT, SIGURG, SIGWINCH): dropped at SIG_DFL unless blocked,
        // one sent now must not end up pending in the restored task.
        let ignored = [libc::SIGCHLD, libc::SIGCONT, libc::SIGURG, libc::SIGWINCH];
        let mask: u64 = ignored.iter().fold(!0u64, |m, &s| m & !(1u64 << (s - 1)));
        libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &mask as *const u64, 0usize, 8usize);
        let mut next: u32 = 0;
        for &k in c.keep {
            let k = k as u32;
            if k > next {
                libc::syscall(libc::SYS_close_range, next, k - 1, 0u32);
            }
            next = next.max(k + 1);
        }
        libc::syscall(libc::SYS_close_range, next, u32::MAX, 0u32);
        let (r, what) = match p.group {
            Group::Keep => (0, 0),
            Group::Setsid => (libc::setsid(), FAIL_SETSID),
            Group::Lead => (libc::setpgid(0, 0), FAIL_SETPGID),
            Group::Join(g) => (join_group(g), FAIL_SETPGID),
            Group::JoinTool => (libc::setpgid(0, c.tool_pgid), FAIL_SETPGID),
        };
        if r < 0 {
            fail(c, i as u32, what, errno());
        }
        let me = libc::getpid();
        for &ch in &p.children {
            let cp = &c.plans[ch as usize];
            match eclone_fork(cp.flags, &cp.pids) {
                Ok(Forked::Child) => participant(c, ch as usize, me),
                Ok(Forked::Parent(_)) => {}
                Err(e) => fail(c, ch, FAIL_CREATE, e.raw_os_error().unwrap_or(0)),
            }
        }
        for &t in &p.threads {
            let tp = &c.plans[t as usize];
            let prot = libc::PROT_READ | libc::PROT_WRITE;
            let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK;
            let base = libc::mmap(std::ptr::null_mut(), THREAD_STACK, prot, flags, -1, 0);
            if base == libc::MAP_FAILED {
                fail(c, t, FAIL_STACK, errno());
            }
            let start = base as *mut ThreadStart;
            start.write(ThreadStart { dev: c.dev, args });
            let top = (base as u64 + THREAD_STACK as u64) & !15;
            if let Err(e) = eclone_on_stack(thread_main, start.cast(), tp.flags, top, &tp.pids) {
                fail(c, t, FAIL_CREATE, e.raw_os_error().unwrap_or(0));
            }
            // The thread shares the fd table: the leader reports for it.
            note(c, NOTE_READY, t, 0, 0);
        }
        // Its own fds and fs context, now that its children have their
        // copy of the staging fds (its threads share its table).
        if let Some(Some(f)) = c.files.get(i) {
            for &(from, to, fl) in &f.dups {
                if libc::dup3(from, to, fl) < 0 {
                    note_arg(c, NOTE_FAILED, i as u32, FAIL_DUP, errno(), to as u32);
                    libc::_exit(127);
                }
            }
            for &fd in &f.close {
                libc::close(fd);
            }
            if libc::chdir(f.cwd.as_ptr()) < 0 {
                fail(c, i as u32, FAIL_CHDIR, errno());
            }
            if let Some(root) = &f.root {
                if libc::chroot(root.as_ptr()) < 0 {
                    fail(c, i as u32, FAIL_CHROOT, errno());
                }
            }
            libc::umask(f.umask as libc::mode_t);
        }
        for &fd in c.staged {
            libc::close(fd);
        }
        if let Some(rl) = &c.nofile {
            libc::setrlimit(libc::RLIMIT_NOFILE, rl);
        }
        note(c, NOTE_READY, i as u32, 0, 0);
        libc::close(c.report);
        let r = libc::ioctl(c.dev, cptrst_uapi::IOC_RESTART as libc::c_ulong, &args as *const RestartArgs);
        if r > 0 && p.zombie && r as u32 & RST_ZOMBIE != 0 {
            exit_as(r & 0xffff);
        }
        // The coordinator reports the failure.
        libc::_exit(127)
    }
}

/// `setpgid(0, g)` once group `g` exists. Its leader, another participant,
/// creates it with its own `setpgid(0, 0)` or `setsid()`, and nothing orders
/// that before this call, which fails with EPERM until then: so wait
/// (`getpgid(g) == g`, every millisecond, at most about 30 s), then make the
/// call, whose error, if any, is the answer. Only system calls: this runs
/// in a child of a fork.
fn join_group(g: i32) -> i32 {
    let ms = libc::timespec { tv_sec: 0, tv_nsec: 1_000_000 };
    for _ in 0..30_000 {
        // SAFETY: getpgid of a pid; nanosleep on a local timespec.
        unsafe {
            if libc::getpgid(g) == g {
                break;
            }
            libc::nanosleep(&ms, std::ptr::null_mut());
        }
    }
    // SAFETY: setpgid of the caller.
    unsafe { libc::setpgid(0, g) }
}

use rf::task_name;

/// The message for a failure note.
fn failure_text(tree: &[TreeEntry], plans: &[Plan], files: &[Option<TaskFiles>], n: &Note) -> String {
    let i = n.index as usize;
    let err = || format!("{} ({})", strerror(n.errno), errno_name(n.errno));
    let why = match n.what {
        FAIL_CREATE => {
            let pids: Vec<String> = plans.get(i).map(|p| p.pids.iter().map(i32::to_string).collect()).unwrap_or_default();
            let by = plans.get(i).and_then(|p| p.creator).map_or("the tool".into(), |c| task_name(tree, c as usize));
            let hint = match n.errno {
                libc::EEXIST => ": a pid is in use",
                libc::EPERM => ": choosing pids needs CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN) over the pid namespaces",
                _ => "",
            };
            format!("{by} cannot create it at pid {}: {}{hint}", pids.join("/"), err())
        }
        FAIL_SETSID => format!("setsid() failed: {}", err()),
        FAIL_SETPGID => {
            let g = match plans.get(i).map(|p| p.group) {
                Some(Group::Join(g)) => g.to_string(),
                Some(Group::JoinTool) => "<the tool's group>".into(),
                _ => "0".into(),
            };
            format!("setpgid(0, {g}) failed: {}", err())
        }
        FAIL_PARENT_GONE => "its parent went away before it was set up".into(),
        FAIL_STACK => format!("mapping its stack failed: {}", err()),
        FAIL_DUP => {
            let from = files.get(i).and_then(Option::as_ref).and_then(|f| f.dups.iter().find(|d| d.1 == n.arg as i32)).map_or(-1, |d| d.0);
            format!("fd {}: dup3 from its staging fd {from} failed: {}", n.arg, err())
        }
        FAIL_CHDIR => {
            let cwd = files.get(i).and_then(Option::as_ref).map_or("?".into(), |f| f.cwd.to_string_lossy().into_owned());
            format!("chdir({cwd}) failed: {}", err())
        }
        FAIL_CHROOT => {
            let root = files.get(i).and_then(Option::as_ref).and_then(|f| f.root.as_ref()).map_or("?".into(), |r| r.to_string_lossy().into_owned());
            let hint = if n.errno == libc::EPERM { ": restoring a root other than / needs CAP_SYS_CHROOT" } else { "" };
            format!("chroot({root}) failed: {}{hint}", err())
        }
        w => format!("failed (reason {w}, {})", err()),
    };
    format!("{}: {why}", task_name(tree, i))
}

/// The ready notes the tool has received.
struct Readiness<'a> {
    tree: &'a [TreeEntry],
    plans: &'a [Plan],
    files: &'a [Option<TaskFiles>],
    ready: Vec<bool>,
    count: usize,
    /// A pidfd per ready process, taken when its note arrives (it is then
    /// blocked entering restart, alive): the tool kills through these, so
    /// that a kill can never reach a later process at the same pid. Empty
    /// when the tree's pids are not the tool's (a new pid namespace: the
    /// root's death ends it all).
    pidfds: Vec<OwnedFd>,
    take_pidfds: bool,
}

impl<'a> Readiness<'a> {
    fn new(tree: &'a [TreeEntry], plans: &'a [Plan]) -> Self {
        Readiness { tree, plans, files: &[], ready: vec![false; tree.len()], count: 0, pidfds: Vec::new(), take_pidfds: false }
    }

    /// Names the paths of the leaders' files in failure messages.
    fn with_files(mut self, files: &'a [Option<TaskFiles>]) -> Self {
        self.files = files;
        self
    }

    /// Takes a pidfd of each process that reports ready (the tree's pids
    /// are the tool's).
    fn with_pidfds(mut self) -> Self {
        self.take_pidfds = true;
        self
    }

    fn all(&self) -> bool {
        self.count == self.tree.len()
    }

    /// Takes one packet; a failure gives its message.
    fn feed(&mut self, packet: &[u8]) -> Result<(), String> {
        let n = Note::from_bytes(packet).ok_or_else(|| format!("a bad note of {} bytes on the report pipe", packet.len()))?;
        let i = n.index as usize;
        if i >= self.tree.len() {
            return Err(format!("a note about task {i}, which is not in the tree"));
        }
        match n.kind {
            NOTE_READY => {
                if !self.ready[i] {
                    self.ready[i] = true;
                    self.count += 1;
                    if self.take_pidfds && !self.tree[i].is_thread() {
                        // A process that is gone already needs no kill.
                        if let Ok(fd) = proc::pidfd_open(self.tree[i].pid() as i32) {
                            self.pidfds.push(fd);
                        }
                    }
                }
                Ok(())
            }
            NOTE_FAILED => Err(failure_text(self.tree, self.plans, self.files, &n)),
            k => Err(format!("a note of unknown kind {k}")),
        }
    }

    /// The tasks not ready yet, for a message.
    fn missing(&self) -> String {
        let v: Vec<String> = (0..self.tree.len()).filter(|&i| !self.ready[i]).map(|i| task_name(self.tree, i)).collect();
        if v.len() > 8 {
            format!("{} and {} more", v[..8].join(", "), v.len() - 8)
        } else {
            v.join(", ")
        }
    }

    /// The first task not ready (image order).
    fn first_missing(&self) -> usize {
        self.ready.iter().position(|r| !r).unwrap_or(0)
    }

    /// The process pids (level 0) of the ready tasks: those a failure
    /// kills through [`Readiness::pidfds`].
    #[cfg(test)]
    fn pids(&self) -> Vec<i32> {
        (0..self.tree.len()).filter(|&i| self.ready[i] && !self.tree[i].is_thread()).map(|i| self.tree[i].pid() as i32).collect()
    }

}

/// `waitpid(pid, WNOHANG)`: its wait status if it has exited.
fn try_wait(pid: i32) -> Option<i32> {
    let mut st = 0;
    // SAFETY: waitpid on our own child, status is a local.
    let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG | libc::__WALL) };
    (r == pid).then_some(st)
}

/// Reads the report pipe until every task is ready; otherwise the message.
/// `root_status` gets the root's wait status if it was reaped meanwhile.
fn wait_ready(rd: RawFd, root: i32, r: &mut Readiness, root_status: &mut Option<i32>, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 64];
    while !r.all() {
        let now = Instant::now();
        if now >= deadline {
            return Err(format!("timed out after {} s waiting for {} to be ready", timeout.as_secs(), r.missing()));
        }
        let ms = (deadline - now).as_millis().min(200) as i32;
        let mut pfd = libc::pollfd { fd: rd, events: libc::POLLIN, revents: 0 };
        // SAFETY: poll on one local pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 && pfd.revents != 0 {
            // SAFETY: read into a local buffer.
            let got = unsafe { libc::read(rd, buf.as_mut_ptr().cast(), buf.len()) };
            if got > 0 {
                r.feed(&buf[..got as usize])?;
                continue;
            }
            if got < 0 && errno() == libc::EINTR {
                continue;
            }
            if got < 0 {
                return Err(format!("reading the report pipe: {}", std::io::Error::last_os_error()));
            }
            // EOF: every task has entered restart or died, and some are
            // missing. A root that is not ready is exiting: give it a moment.
            for _ in 0..100 {
                *root_status = root_status.or_else(|| try_wait(root));
                if root_status.is_some() || r.ready[0] {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let first = r.first_missing();
            return Err(match *root_status {
                Some(st) if first == 0 => format!("{}: died before it was ready ({})", task_name(r.tree, 0), cptrst::proc::wait_status_text(st)),
                _ => format!("{}: died before it was ready (not ready: {})", task_name(r.tree, first), r.missing()),
            });
        }
        if let Some(st) = try_wait(root) {
            *root_status = Some(st);
            let when = if r.ready[0] { "before the other tasks were ready" } else { "before it was ready" };
            return Err(format!("{}: died {when} ({})", task_name(r.tree, 0), cptrst::proc::wait_status_text(st)));
        }
    }
    Ok(())
}

/// Kills every task of the tree the tool knows of: its child the root, and
/// the ready processes through their pidfds (the others die with their
/// parents: `PR_SET_PDEATHSIG`); then reaps the root.
fn kill_tree(root: i32, pidfds: &[OwnedFd], root_status: Option<i32>) {
    // SAFETY: kill(2) of our own child, not reaped yet: its pid is its own.
    unsafe { libc::kill(root, libc::SIGKILL) };
    for fd in pidfds {
        let _ = proc::pidfd_kill(fd);
    }
    if root_status.is_none() {
        wait_status(root);
    }
}

/// Who has a pid that the restart needs.
#[derive(Debug, PartialEq, Eq)]
enum Holder {
    /// Nobody: the pid is free.
    Free,
    /// A zombie or a task that is exiting: worth waiting for.
    Dying(String),
    /// A live process: the pid will not come free.
    Live(String),
}

/// `'comm'` of `pid`, or `'?'`.
fn comm_text(pid: &str) -> String {
    format!("'{}'", std::fs::read_to_string(format!("/proc/{pid}/comm")).map_or("?".into(), |c| c.trim_end().to_string()))
}

/// Is signal `sig` in the hex signal mask `mask` (/proc/PID/status)?
fn mask_has(mask: Option<String>, sig: i32) -> bool {
    mask.and_then(|m| u64::from_str_radix(&m, 16).ok()).is_some_and(|m| m & (1 << (sig - 1)) != 0)
}

/// Who holds `pid` now (a process or a thread id).
fn holder(pid: i32) -> Holder {
    let Some(state) = proc::state(pid) else {
        return Holder::Free;
    };
    let me = comm_text(&pid.to_string());
    let ppid = proc::status_field(pid, "PPid").unwrap_or_else(|| "?".into());
    let parent = format!("parent pid {ppid} {}", comm_text(&ppid));
    // PF_EXITING in the flags of /proc/PID/stat (field 9), or SIGKILL
    // pending: on its way out.
    let flags = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').and_then(|i| s[i + 1..].split_whitespace().nth(6).and_then(|f| f.parse::<u64>().ok())));
    const PF_EXITING: u64 = 0x4;
    let killed = mask_has(proc::status_field(pid, "SigPnd"), libc::SIGKILL) || mask_has(proc::status_field(pid, "ShdPnd"), libc::SIGKILL);
    match state {
        'Z' => Holder::Dying(format!("a zombie {me} of {parent} (not reaped by its parent yet)")),
        'X' => Holder::Dying(format!("the dead task {me} (being reaped)")),
        _ if killed || flags.is_some_and(|f| f & PF_EXITING != 0) => Holder::Dying(format!("the exiting task {me} ({parent})")),
        _ => Holder::Live(format!("the live process {me} ({parent}, state {state})")),
    }
}

/// How long a pid held by a live process is looked at before the restart
/// gives up on it.
const LIVE_GRACE: Duration = Duration::from_secs(1);

/// Waits until every pid of `pids` is free, as long as each one still
/// taken is held by a zombie or an exiting task and `limit` has not passed
/// since `start`. A live holder fails within [`LIVE_GRACE`].
fn wait_pids_free(pids: &[i32], start: Instant, limit: Duration) -> Result<(), String> {
    loop {
        let mut dying = None;
        for &p in pids {
            match holder(p) {
                Holder::Free => {}
                // A task between taking its SIGKILL and PF_EXITING looks
                // live for a moment: fail only if it stays so.
                Holder::Live(who) if start.elapsed() >= limit.min(LIVE_GRACE) => return Err(format!("pid {p} is in use by {who}")),
                Holder::Live(who) => {
                    dying = Some((p, who));
                    break;
                }
                Holder::Dying(who) => {
                    dying = Some((p, who));
                    break;
                }
            }
        }
        let Some((p, who)) = dying else {
            return Ok(());
        };
        if start.elapsed() >= limit {
            return Err(format!(
                "pid {p} is in use, still held by {who} after {} s (waited for with --pid-wait {})",
                start.elapsed().as_secs(),
                limit.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The RLIMIT_NOFILE of the tool.
fn nofile_limit() -> Option<libc::rlimit> {
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit into a local.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } == 0).then_some(rl)
}

/// A close-on-exec copy of `fd`.
fn rf_owned_dup(fd: RawFd) -> Result<OwnedFd, Failure> {
    // SAFETY: F_DUPFD_CLOEXEC of our fd returns a new fd we own.
    let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if r < 0 {
        return Err(Failure::os("restart: dup of the device fd", std::io::Error::last_os_error()));
    }
    // SAFETY: `r` is new and ours.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// The coordinator's `CPTRST_IOC_RESTART` (the kernel writes a failure
/// message through `a.msg`).
fn restart_call(dev: RawFd, a: &RestartArgs) -> std::io::Result<()> {
    // SAFETY: the restart command, whose argument is a `RestartArgs`; the
    // kernel reads it and the buffers it points to (`msg`, `files`), alive
    // here.
    if unsafe { libc::ioctl(dev, cptrst_uapi::IOC_RESTART as libc::c_ulong, a as *const RestartArgs) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

pub fn main(args: &[String]) -> Result<(), Failure> {
    let o = parse_args(args)?;
    ensure_stdio();
    let op = |m: String| Failure::op(format!("restart: {m}"));
    let nofile0 = nofile_limit();
    let (img, name) = open_image(&o.input)?;
    // The FILE objects of the anonymous kinds are built as the head is
    // read (nothing of them is visible outside the tool). With
    // --skip-files no fd is restored, but a mapping of a memfd or an
    // unlinked file still needs its object.
    let build = if o.skip_files { Build::Mapped } else { Build::All };
    let mut b = Builder::new(build, o.allow_changed);
    let head = read_head(img.as_raw_fd(), &mut b).map_err(|e| match e {
        HeadError::Io(e) => Failure::os(format!("restart: reading {name}"), e),
        HeadError::Image(e) => Failure::op(format!("restart: {name}: invalid image: {e}")),
    })?;
    let tree = head.tree;
    let plans = plan::plan_tree(&tree).map_err(|r| Failure::op(format!("restart: {name}: this tree cannot be rebuilt: {r}")))?;
    let root_pid = tree[0].pid();
    let new_ns = plans[0].new_ns();
    let with_files = !o.skip_files && !b.files().is_empty();
    // Every fd of the image resolved (an outside thing without
    // --inherit-fd refused), then the objects named by a path opened.
    let fdplan = if with_files { rf::plan_fds(&tree, b.files(), &head.fds, &o.inherit).map_err(op)? } else { Default::default() };
    let mut inherited = Vec::new();
    let staged = !b.files().is_empty();
    if staged {
        b.finish();
        if let Some(m) = rf::first_failure(&tree, &b, &fdplan) {
            return Err(op(m));
        }
    }
    if with_files {
        inherited = rf::open_inherited(&fdplan, b.files(), &o.inherit).map_err(op)?;
    }
    // The staging fds and the tool's own go at or above a base above every
    // fd of the image, so that no dup3 of a task can hit them.
    let base = (fdplan.max_fd + 1).max(3) as i32;
    if staged {
        rf::ensure_nofile(base as u64 + (b.built() + inherited.len()) as u64 + 4).map_err(|m| {
            op(format!("{}: fd {}: {m}", task_name(&tree, fdplan.max_task), fdplan.max_fd))
        })?;
    }
    let dev0 = Dev::open()?;
    let mv = |fd: OwnedFd| rf::move_above(fd, base).map_err(|e| op(format!("moving an fd above {base}: {}", rf::err_text(e))));
    let dev = mv(rf_owned_dup(dev0.as_raw_fd())?)?;
    drop(dev0);
    let img = mv(img)?;
    let skip = if o.skip_files { RST_SKIP_FILES } else { 0 };
    let changed = if o.allow_changed { RST_FILE_CHANGED_OK } else { 0 };
    let invoker = if o.as_invoker { RST_AS_INVOKER } else { 0 };
    let mut pipe = [0; 2];
    // SAFETY: pipe2 into a local array.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC | libc::O_DIRECT) } < 0 {
        return Err(Failure::os("restart: pipe2", std::io::Error::last_os_error()));
    }
    // SAFETY: both fds are new and ours.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };
    let wr = mv(wr)?;
    let staging = if staged { Staging::new(&mut b, inherited, base).map_err(op)? } else { Staging::default() };
    let task_files = if with_files { staging.task_files(&fdplan, &head.fds) } else { Vec::new() };
    // A raised soft limit goes back down in the restored processes (not
    // below what their fds need).
    let nofile = match (nofile0, nofile_limit()) {
        (Some(a), Some(now)) if now.rlim_cur != a.rlim_cur => {
            Some(libc::rlimit { rlim_cur: a.rlim_cur.max((fdplan.max_fd + 1) as libc::rlim_t).min(now.rlim_max), rlim_max: now.rlim_max })
        }
        _ => None,
    };
    let keep = keep_list(&[dev.as_raw_fd(), img.as_raw_fd(), wr.as_raw_fd()], &staging.fds);
    // SAFETY: getpid and getpgid(0) have no preconditions.
    let (tool, tool_pgid) = unsafe { (libc::getpid(), libc::getpgid(0)) };
    let ctx = Ctx {
        plans: &plans,
        dev: dev.as_raw_fd(),
        img: img.as_raw_fd(),
        report: wr.as_raw_fd(),
        skip,
        tool_pgid,
        keep: &keep,
        staged: &staging.fds,
        files: &task_files,
        nofile,
    };
    // The eclone library uses the tool's device fd rather than opening one
    // of its own that would stay open (and pin the module) while the tool
    // waits for the restored process.
    cptrst::eclone::set_device_fd(dev.as_raw_fd());
    // The checkpointed tree may have just been killed (`cptrst checkpoint
    // PID --kill | cptrst restart`): its pids stay taken while its tasks
    // exit and until their parents (a shell, or whoever inherited them)
    // reap them. Wait for that, within --pid-wait; a live process at a pid
    // of the tree fails at once.
    let start = Instant::now();
    if !new_ns {
        let pids: Vec<i32> = tree.iter().map(|e| e.pid() as i32).collect();
        wait_pids_free(&pids, start, o.pid_wait).map_err(|m| Failure::op(format!("restart: {m}")))?;
    }
    let forked = loop {
        // SAFETY: the tool is single-threaded; the child only makes system
        // calls (`participant`) and never returns.
        let r = unsafe { eclone_fork(plans[0].flags, &plans[0].pids) };
        match r {
            // Taken again meanwhile, by a task that is going away.
            Err(ref e)
                if e.raw_os_error() == Some(libc::EEXIST)
                    && !new_ns
                    && start.elapsed() < o.pid_wait
                    && !matches!(holder(root_pid as i32), Holder::Live(_)) =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            r => break r,
        }
    };
    if !matches!(forked, Ok(Forked::Child)) {
        cptrst::eclone::set_device_fd(-1);
    }
    let child = match forked {
        Ok(Forked::Child) => participant(&ctx, 0, tool),
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => {
            let what = match e.raw_os_error() {
                Some(libc::EEXIST) => match holder(root_pid as i32) {
                    Holder::Dying(who) => {
                        format!(
                            "pid {root_pid} is in use, still held by {who} after {} s (--pid-wait {})",
                            start.elapsed().as_secs(),
                            o.pid_wait.as_secs()
                        )
                    }
                    Holder::Live(who) => format!("pid {root_pid} is in use by {who}"),
                    Holder::Free => format!("pid {root_pid} is in use"),
                },
                Some(libc::EPERM) if new_ns => {
                    "a restart at pid 1 of a new pid namespace needs CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE (root)".into()
                }
                Some(libc::EPERM) => format!("a restart at a chosen pid ({root_pid}) needs CAP_CHECKPOINT_RESTORE (or root)"),
                _ => format!("creating the task at pid {root_pid}: {e}"),
            };
            return Err(Failure::op(format!("restart: {what}")));
        }
    };
    // Only the tasks hold the write end now: EOF means they have all
    // entered restart or died.
    drop(wr);
    // Tree pids are the tool's only when the root is in the tool's namespace;
    // otherwise killing the root (the namespace's init) kills them all.
    let mut ready = Readiness::new(&tree, &plans).with_files(&task_files);
    if !new_ns {
        ready = ready.with_pidfds();
    }
    let mut root_status = None;
    let res = wait_ready(rd.as_raw_fd(), child, &mut ready, &mut root_status, READY_TIMEOUT);
    drop(rd);
    if let Err(msg) = res {
        kill_tree(child, &ready.pidfds, root_status);
        return Err(Failure::op(format!("restart: {msg}")));
    }
    let mut msg = vec![0u8; RST_MSG_MAX as usize];
    let coord = RestartArgs {
        ctid: child,
        fd: img.as_raw_fd(),
        flags: RST_COORD | skip | changed | invoker,
        msg_len: RST_MSG_MAX,
        msg: msg.as_mut_ptr() as u64,
        files: if staging.files.is_empty() { 0 } else { staging.files.as_ptr() as u64 },
        nfiles: staging.files.len() as u32,
        ..Default::default()
    };
    let res = restart_call(dev.as_raw_fd(), &coord);
    // The restored processes hold their own image and device fds until
    // their commit; the tool's go now (a memfd holds the whole image in
    // memory), and its copies of the files (a pipe end it held would keep
    // a restored reader from ever seeing EOF).
    drop(img);
    drop(dev);
    drop(staging);
    if let Err(e) = res {
        let errno = e.raw_os_error().unwrap_or(0);
        // The kernel has killed the tree already; this is harmless then.
        kill_tree(child, &ready.pidfds, None);
        let text = kernel_message(&msg).unwrap_or_else(|| strerror(errno));
        return Err(Failure::op(format!("restart: {text} ({})", errno_name(errno))));
    }
    if o.detach {
        if tree.len() > 1 {
            eprintln!("cptrst: restarted pid {child} ({} tasks)", tree.len());
        } else {
            eprintln!("cptrst: restarted pid {child}");
        }
        return Ok(());
    }
    std::process::exit(wait_status(child) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn parse(a: &[&str]) -> Result<Opts, Failure> {
        parse_args(&args(a))
    }

    #[test]
    fn defaults_to_standard_input() {
        assert_eq!(
            parse(&[]).unwrap(),
            Opts { input: "-".into(), detach: false, skip_files: false, pid_wait: PID_WAIT, allow_changed: false, as_invoker: false, inherit: Vec::new() }
        );
    }

    #[test]
    fn every_option() {
        let o = parse(&["-i", "/tmp/img", "--detach", "--skip-files", "--pid-wait", "3"]).unwrap();
        assert_eq!(
            o,
            Opts {
                input: "/tmp/img".into(),
                detach: true,
                skip_files: true,
                pid_wait: Duration::from_secs(3),
                allow_changed: false,
                as_invoker: false,
                inherit: Vec::new()
            }
        );
        let o = parse(&["--allow-changed-files", "--inherit-fd", "5=/dev/null", "--inherit-fd=7=fd:2"]).unwrap();
        assert!(o.allow_changed);
        assert_eq!(
            o.inherit,
            [Inherit { fd: 5, src: rf::InheritSrc::Path("/dev/null".into()) }, Inherit { fd: 7, src: rf::InheritSrc::Fd(2) }]
        );
        assert!(parse(&["--as-invoker", "-i", "x"]).unwrap().as_invoker);
        assert_eq!(parse(&["--pid-wait", "0"]).unwrap().pid_wait, Duration::ZERO);
        assert_eq!(parse(&["--pid-wait", "3600"]).unwrap().pid_wait, Duration::from_secs(3600));
        assert_eq!(parse(&["--input", "-"]).unwrap().input, "-");
        assert_eq!(
            parse(&["--skip-files", "-i", "x"]).unwrap(),
            Opts { input: "x".into(), detach: false, skip_files: true, pid_wait: PID_WAIT, allow_changed: false, as_invoker: false, inherit: Vec::new() }
        );
    }

    #[test]
    fn usage_errors() {
        for a in [
            &["-i"][..],
            &["--input"],
            &["-i", ""],
            &["--bogus"],
            &["-x"],
            &["--detach=yes"],
            &["/tmp/img"],
            &["-"],
            &["-i", "a", "b"],
            &["--pid-wait"],
            &["--pid-wait", ""],
            &["--pid-wait", "-1"],
            &["--pid-wait", "2.5"],
            &["--pid-wait", "ten"],
            &["--pid-wait", "3601"],
            &["--inherit-fd"],
            &["--inherit-fd", "5"],
            &["--inherit-fd", "5=relative"],
            &["--inherit-fd", "x=/a"],
            &["--inherit-fd", "1073741824=/a"],
            &["--inherit-fd", "5=fd:1000000"],
            &["--inherit-fd", "5=/a", "--inherit-fd", "5=/b"],
            &["--inherit-fd=5"],
            &["--allow-changed-files=yes"],
            &["--as-invoker=yes"],
        ] {
            let e = parse(a).expect_err(&format!("{a:?} accepted"));
            assert_eq!(e.status, 2, "{a:?}: {}", e.msg);
        }
    }

    /// A zombie holding a pid is waited for (and named when the wait gives
    /// up); a live process fails at once; a free pid does not wait.
    #[test]
    fn pids_held_by_zombies_and_live_processes() {
        // SAFETY: fork in a test; the children only make system calls.
        let (zombie, live) = unsafe {
            let z = libc::fork();
            if z == 0 {
                libc::_exit(0);
            }
            let l = libc::fork();
            if l == 0 {
                libc::pause();
                libc::_exit(0);
            }
            (z, l)
        };
        assert!(zombie > 0 && live > 0);
        // The zombie: once it has exited, Dying, naming its parent (us).
        let t0 = Instant::now();
        while proc::state(zombie) != Some('Z') {
            assert!(t0.elapsed() < Duration::from_secs(60), "child {zombie} never became a zombie");
            std::thread::sleep(Duration::from_millis(5));
        }
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        match holder(zombie) {
            Holder::Dying(w) => assert!(w.starts_with("a zombie ") && w.contains(&format!("of parent pid {me} ")), "{w}"),
            h => panic!("zombie {zombie}: {h:?}"),
        }
        let e = wait_pids_free(&[zombie], Instant::now(), Duration::ZERO).unwrap_err();
        assert!(e.starts_with(&format!("pid {zombie} is in use, still held by a zombie ")) && e.contains("--pid-wait 0"), "{e}");
        // Reaped meanwhile: the wait ends (the limit is only a bound).
        let reaper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let mut st = 0;
            // SAFETY: waitpid on our own child into a local.
            unsafe { libc::waitpid(zombie, &mut st, 0) };
        });
        assert_eq!(wait_pids_free(&[zombie], Instant::now(), Duration::from_secs(120)), Ok(()));
        reaper.join().unwrap();
        assert_eq!(holder(zombie), Holder::Free);
        // The live one: at once, whatever the limit.
        match holder(live) {
            Holder::Live(w) => assert!(w.starts_with("the live process ") && w.contains(&format!("parent pid {me} ")), "{w}"),
            h => panic!("live {live}: {h:?}"),
        }
        let e = wait_pids_free(&[zombie, live], Instant::now(), Duration::from_secs(3600)).unwrap_err();
        // (within LIVE_GRACE, not the hour)
        assert!(e.starts_with(&format!("pid {live} is in use by the live process ")), "{e}");
        // Killed, and a zombie: dying until reaped.
        // SAFETY: kill(2) of our own child.
        unsafe { libc::kill(live, libc::SIGKILL) };
        let t0 = Instant::now();
        while proc::state(live) != Some('Z') {
            assert!(t0.elapsed() < Duration::from_secs(60), "child {live} never became a zombie");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(matches!(holder(live), Holder::Dying(_)), "{:?}", holder(live));
        assert_eq!(wait_status(live), 9 + 128);
        assert_eq!(holder(live), Holder::Free);
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(libc::EINVAL), "EINVAL");
        assert_eq!(errno_name(libc::EOPNOTSUPP), "EOPNOTSUPP");
        assert_eq!(errno_name(libc::ESTALE), "ESTALE");
        assert_eq!(errno_name(9999), "errno 9999");
    }

    #[test]
    fn kernel_messages() {
        let mut b = [0u8; 16];
        assert_eq!(kernel_message(&b), None);
        b[..5].copy_from_slice(b"VMA x");
        assert_eq!(kernel_message(&b).as_deref(), Some("VMA x"));
        assert_eq!(kernel_message(b"no nul"), Some("no nul".into()));
    }

    fn sample() -> Vec<u8> {
        let mut buf = vec![0u8; image::sample::SAMPLE_MAX_LEN];
        let n = image::sample::build(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    /// A pipe whose read end gets `data` from a writer thread.
    fn pipe_with(data: Vec<u8>) -> File {
        let mut p = [0; 2];
        // SAFETY: pipe2 into a local array.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both fds are new and ours.
        let (r, mut w) = unsafe { (File::from_raw_fd(p[0]), File::from_raw_fd(p[1])) };
        std::thread::spawn(move || w.write_all(&data).unwrap());
        r
    }

    #[test]
    fn reads_the_root_through_a_sealed_memfd() {
        let img = sample();
        let fd = copy_to_memfd(&mut pipe_with(img.clone()), "pipe").unwrap();
        // SAFETY: F_GET_SEALS on our memfd.
        let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
        assert_eq!(seals, libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL);
        let mut f = File::from(fd);
        assert_eq!(f.stream_position().unwrap(), 0);
        assert_eq!(read_tree(f.as_raw_fd()).unwrap(), image::sample::tree_entries());
        // Not moved: the kernel reads the image from the fd's position.
        assert_eq!(f.stream_position().unwrap(), 0);
        let mut back = Vec::new();
        f.read_to_end(&mut back).unwrap();
        assert_eq!(back, img);
        assert!(f.write_all(b"x").is_err(), "a sealed memfd must not be writable");
    }

    fn one_process(pid: u32) -> Vec<TreeEntry> {
        let mut e = image::sample::tree_entries()[0];
        e.pids[0] = pid;
        e.tgid = pid;
        // Keeps the test's session and group.
        e.pgid = 7;
        e.sid = 7;
        vec![e]
    }

    /// The child's preparation runs through to the ioctl, which fails on a
    /// file that is not /dev/cptrst: the child reports ready, closes the
    /// report pipe and exits 127.
    #[test]
    fn a_participant_whose_call_returns_exits_127() {
        let dev = File::open("/dev/null").unwrap();
        let img = copy_to_memfd(&mut pipe_with(sample()), "pipe").unwrap();
        let tree = one_process(100);
        let plans = plan::plan_tree(&tree).unwrap();
        let mut p = [0; 2];
        // SAFETY: pipe2 into a local array.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC | libc::O_DIRECT) }, 0);
        // SAFETY: both fds are new and ours.
        let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
        let keep = keep_list(&[dev.as_raw_fd(), img.as_raw_fd(), wr.as_raw_fd()], &[]);
        let ctx = Ctx {
            plans: &plans,
            dev: dev.as_raw_fd(),
            img: img.as_raw_fd(),
            report: wr.as_raw_fd(),
            skip: 0,
            tool_pgid: 0,
            keep: &keep,
            staged: &[],
            files: &[],
            nofile: None,
        };
        // SAFETY: getpid and fork; the child only runs `participant`
        // (system calls) and exits.
        let pid = unsafe {
            let me = libc::getpid();
            let pid = libc::fork();
            if pid == 0 {
                participant(&ctx, 0, me);
            }
            pid
        };
        assert!(pid > 0);
        drop(wr);
        let mut r = Readiness::new(&tree, &plans);
        let mut st = None;
        assert_eq!(wait_ready(rd.as_raw_fd(), pid, &mut r, &mut st, READY_TIMEOUT), Ok(()));
        assert_eq!(r.pids(), [100]);
        assert_eq!(wait_status(pid), 127);
        // Then EOF: the child closed its copy before its call.
        let mut b = [0u8; 16];
        // SAFETY: read into a local.
        assert_eq!(unsafe { libc::read(rd.as_raw_fd(), b.as_mut_ptr().cast(), 16) }, 0);
    }

    /// A participant that cannot set up its group reports it, naming itself.
    #[test]
    fn a_participant_that_fails_reports_it() {
        let dev = File::open("/dev/null").unwrap();
        let mut tree = one_process(100);
        // Join a group that does not exist.
        tree.push(tree[0]);
        tree[1].pids[0] = 101;
        tree[1].tgid = 101;
        tree[1].ppid = 100;
        tree[0].pgid = 100;
        tree[0].sid = 7;
        tree[1].pgid = 100;
        let mut plans = plan::plan_tree(&tree).unwrap();
        assert_eq!(plans[0].group, Group::Lead);
        // A group that exists, in another session: setpgid gives EPERM
        // (a group that never appears would be waited for, 30 s).
        // SAFETY: fork; the child only makes system calls and never returns.
        let other = unsafe {
            let pid = libc::fork();
            if pid == 0 {
                libc::setsid();
                loop {
                    libc::pause();
                }
            }
            pid
        };
        assert!(other > 0);
        // SAFETY: getpgid of our child.
        while unsafe { libc::getpgid(other) } != other {
            std::thread::sleep(Duration::from_millis(1));
        }
        plans[0].group = Group::Join(other);
        let mut p = [0; 2];
        // SAFETY: pipe2 into a local array.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC | libc::O_DIRECT) }, 0);
        // SAFETY: both fds are new and ours.
        let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
        let keep = keep_list(&[dev.as_raw_fd(), wr.as_raw_fd()], &[]);
        let ctx = Ctx {
            plans: &plans,
            dev: dev.as_raw_fd(),
            img: dev.as_raw_fd(),
            report: wr.as_raw_fd(),
            skip: 0,
            tool_pgid: 0,
            keep: &keep,
            staged: &[],
            files: &[],
            nofile: None,
        };
        // SAFETY: as above.
        let pid = unsafe {
            let me = libc::getpid();
            let pid = libc::fork();
            if pid == 0 {
                participant(&ctx, 0, me);
            }
            pid
        };
        drop(wr);
        let mut r = Readiness::new(&tree, &plans);
        let mut st = None;
        let e = wait_ready(rd.as_raw_fd(), pid, &mut r, &mut st, READY_TIMEOUT).unwrap_err();
        // SAFETY: kill(2) of our own child, not reaped yet.
        unsafe { libc::kill(other, libc::SIGKILL) };
        wait_status(other);
        assert!(e.starts_with(&format!("task 0 (pid 100): setpgid(0, {other}) failed: ")), "{e}");
        assert!(e.contains("(EPERM)"), "{e}");
        assert_eq!(wait_status(pid), 127);
    }

    /// A root that dies without a word: EOF, then its status.
    #[test]
    fn a_silent_death_is_reported() {
        let tree = one_process(100);
        let plans = plan::plan_tree(&tree).unwrap();
        let mut p = [0; 2];
        // SAFETY: pipe2 into a local array.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC | libc::O_DIRECT) }, 0);
        // SAFETY: both fds are new and ours; the child exits at once.
        let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
        let pid = unsafe {
            let pid = libc::fork();
            if pid == 0 {
                libc::_exit(3);
            }
            pid
        };
        drop(wr);
        let mut r = Readiness::new(&tree, &plans);
        let mut st = None;
        let e = wait_ready(rd.as_raw_fd(), pid, &mut r, &mut st, READY_TIMEOUT).unwrap_err();
        assert_eq!(e, "task 0 (pid 100): died before it was ready (exit status 3)");
        assert!(st.is_some());
    }

    /// Nobody says anything: the timeout names the missing tasks.
    #[test]
    fn a_timeout_names_the_missing_tasks() {
        let tree = image::sample::tree_entries();
        let plans = plan::plan_tree(&tree).unwrap();
        let mut p = [0; 2];
        // SAFETY: pipe2 into a local array.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC | libc::O_DIRECT) }, 0);
        // SAFETY: both fds are new and ours.
        let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
        let ready = Note { kind: NOTE_READY, index: 2, what: 0, errno: 0, arg: 0 };
        // SAFETY: a write of a local.
        unsafe { libc::write(wr.as_raw_fd(), (&ready as *const Note).cast(), std::mem::size_of::<Note>()) };
        let mut r = Readiness::new(&tree, &plans);
        let mut st = None;
        // SAFETY: getpid has no preconditions; not a child: no wait status.
        let me = unsafe { libc::getpid() };
        let e = wait_ready(rd.as_raw_fd(), me, &mut r, &mut st, Duration::from_millis(300)).unwrap_err();
        assert_eq!(e, "timed out after 0 s waiting for task 0 (pid 100), task 1 (pid 101), task 3 (pid 103) to be ready");
        drop(wr);
    }

    #[test]
    fn notes_and_failure_messages() {
        let tree = image::sample::tree_entries();
        let plans = plan::plan_tree(&tree).unwrap();
        let bytes = |n: Note| -> Vec<u8> { [n.kind, n.index, n.what, n.errno as u32, n.arg].iter().flat_map(|w| w.to_ne_bytes()).collect() };
        let mut r = Readiness::new(&tree, &plans);
        r.feed(&bytes(Note { kind: NOTE_READY, index: 2, what: 0, errno: 0, arg: 0 })).unwrap();
        r.feed(&bytes(Note { kind: NOTE_READY, index: 2, what: 0, errno: 0, arg: 0 })).unwrap();
        r.feed(&bytes(Note { kind: NOTE_READY, index: 1, what: 0, errno: 0, arg: 0 })).unwrap();
        assert!(!r.all());
        assert_eq!(r.missing(), "task 0 (pid 100), task 3 (pid 103)");
        assert_eq!(r.first_missing(), 0);
        // Threads are killed with their group.
        assert_eq!(r.pids(), [102]);
        let e = r.feed(&bytes(Note { kind: NOTE_FAILED, index: 2, what: FAIL_CREATE, errno: libc::EEXIST, arg: 0 })).unwrap_err();
        let eexist = strerror(libc::EEXIST);
        assert_eq!(e, format!("task 2 (pid 102): task 0 (pid 100) cannot create it at pid 102/1: {eexist} (EEXIST): a pid is in use"));
        let e = r.feed(&bytes(Note { kind: NOTE_FAILED, index: 0, what: FAIL_SETSID, errno: libc::EPERM, arg: 0 })).unwrap_err();
        assert!(e.starts_with("task 0 (pid 100): setsid() failed: ") && e.ends_with("(EPERM)"), "{e}");
        assert!(r.feed(&bytes(Note { kind: NOTE_READY, index: 4, what: 0, errno: 0, arg: 0 })).unwrap_err().contains("not in the tree"));
        assert!(r.feed(&[1, 2, 3]).unwrap_err().contains("bad note"));
        r.feed(&bytes(Note { kind: NOTE_READY, index: 0, what: 0, errno: 0, arg: 0 })).unwrap();
        r.feed(&bytes(Note { kind: NOTE_READY, index: 3, what: 0, errno: 0, arg: 0 })).unwrap();
        assert!(r.all());
        assert_eq!(r.pids(), [100, 102, 103]);
    }

    /// The head of a 1.4 image: the FILE objects built with their data,
    /// each leader's FDS, the fd plan.
    #[test]
    fn reads_the_files_of_the_head() {
        let fd = copy_to_memfd(&mut pipe_with(sample()), "pipe").unwrap();
        let mut b = Builder::new(Build::All, false);
        let head = read_head(fd.as_raw_fd(), &mut b).unwrap();
        assert_eq!(head.tree, image::sample::tree_entries());
        assert_eq!(b.files().len(), 9);
        for i in 0..4 {
            let want = image::sample::fds(i as u32).map(|(umask, root, cwd, e)| TaskFds {
                umask,
                root: root.to_vec(),
                cwd: cwd.to_vec(),
                entries: e.to_vec(),
            });
            assert_eq!(head.fds[i], want, "task {i}");
        }
        b.finish();
        // The memfd (FILE 5): its content, seals and position.
        let m = b.fd_of(5).expect("memfd built");
        let mut got = vec![0u8; image::sample::SAMPLE_MEMFD_SIZE as usize + 10];
        let n = pread_full(m, &mut got, 0).unwrap();
        let want: Vec<u8> = (0..image::sample::SAMPLE_MEMFD_SIZE).map(|i| image::sample::file_byte(5, i)).collect();
        assert_eq!(&got[..n], &want[..]);
        // SAFETY: F_GET_SEALS, lseek of our memfd.
        assert_eq!(unsafe { libc::fcntl(m, libc::F_GET_SEALS) }, 0x5);
        assert_eq!(unsafe { libc::lseek(m, 0, libc::SEEK_CUR) }, 17);
        // The pipe (FILEs 3, 4): its data.
        let mut got = [0u8; 64];
        // SAFETY: read into a local.
        let n = unsafe { libc::read(b.fd_of(3).unwrap(), got.as_mut_ptr().cast(), 64) };
        assert_eq!(&got[..n as usize], image::sample::SAMPLE_PIPE_DATA);
        // The unlinked file (FILE 8).
        let d = b.fd_of(8).expect("unlinked file built");
        let mut got = [0u8; 16];
        let n = pread_full(d, &mut got, 0).unwrap();
        let want: Vec<u8> = (0..5).map(|i| image::sample::file_byte(8, i)).collect();
        assert_eq!(&got[..n], &want[..]);
        // The terminal is outside: nothing built.
        assert!(b.fd_of(1).is_none() && b.failure_of(1).is_none());
        let p = rf::plan_fds(&head.tree, b.files(), &head.fds, &[]).unwrap();
        assert_eq!(p.max_fd, 100);
        assert_eq!(p.tasks[0].as_ref().unwrap()[0], (0, rf::Source::Tool, 0));
        assert_eq!(p.tasks[2].as_ref().unwrap()[4], (6, rf::Source::File(5), image::FD_FLAG_CLOEXEC));
        // Without files: only read.
        let mut b = Builder::new(Build::Nothing, false);
        let head = read_head(fd.as_raw_fd(), &mut b).unwrap();
        assert_eq!((b.files().len(), b.built(), head.fds.iter().flatten().count()), (9, 0, 2));
    }

    /// An image cut anywhere before its first MM (in a FILE, an FDATA, an
    /// FDS...) is refused, never half-read as good; cut after it, the head
    /// is whole.
    #[test]
    fn a_head_cut_short_is_refused() {
        let img = sample();
        let mm = image::Reader::new(&img)
            .unwrap()
            .map(|i| i.unwrap())
            .find(|i| i.record.kind() == image::RECORD_MM)
            .map(|i| i.offset as usize)
            .unwrap();
        for cut in (image::HEADER_LEN..mm + image::RECORD_HEADER_LEN).step_by(29).chain([mm + image::RECORD_HEADER_LEN - 1]) {
            let fd = copy_to_memfd(&mut pipe_with(img[..cut].to_vec()), "pipe").unwrap();
            assert!(read_head(fd.as_raw_fd(), &mut Builder::new(Build::All, false)).is_err(), "cut at {cut} of {mm}");
        }
        let fd = copy_to_memfd(&mut pipe_with(img[..mm + image::RECORD_HEADER_LEN].to_vec()), "pipe").unwrap();
        let mut b = Builder::new(Build::Nothing, false);
        assert!(read_head(fd.as_raw_fd(), &mut b).is_ok());
        assert_eq!(b.files().len(), 9);
    }

    /// A live image (1.6): its ROUND sections before the TREE are read
    /// through (the module takes them); cut inside them, refused.
    #[test]
    fn reads_the_head_of_a_live_image() {
        let mut buf = vec![0u8; image::sample::SAMPLE_MAX_LEN];
        let n = image::sample::build_live(&mut buf).unwrap();
        let img = &buf[..n];
        let fd = copy_to_memfd(&mut pipe_with(img.to_vec()), "pipe").unwrap();
        let head = read_head(fd.as_raw_fd(), &mut Builder::new(Build::Nothing, false)).unwrap();
        assert!(!head.tree.is_empty());
        let tree = image::Reader::new(img)
            .unwrap()
            .map(|i| i.unwrap())
            .find(|i| i.record.kind() == image::RECORD_TREE)
            .map(|i| i.offset as usize)
            .unwrap();
        assert!(tree > image::HEADER_LEN + 32, "no ROUND section before the TREE at {tree}");
        for cut in (image::HEADER_LEN..tree).step_by(37) {
            let fd = copy_to_memfd(&mut pipe_with(img[..cut].to_vec()), "pipe").unwrap();
            assert!(read_head(fd.as_raw_fd(), &mut Builder::new(Build::Nothing, false)).is_err(), "cut at {cut} of {tree}");
        }
    }

    /// A 1.3 image: no files, as before.
    #[test]
    fn reads_a_head_without_files() {
        let mut buf = vec![0u8; image::sample::SAMPLE_MAX_LEN];
        let n = image::sample::build_v1_3(&mut buf).unwrap();
        let fd = copy_to_memfd(&mut pipe_with(buf[..n].to_vec()), "pipe").unwrap();
        let mut b = Builder::new(Build::All, false);
        let head = read_head(fd.as_raw_fd(), &mut b).unwrap();
        assert_eq!(head.tree, image::sample::tree_entries());
        assert!(b.files().is_empty() && head.fds.iter().all(Option::is_none));
    }

    /// A leader that cannot take its fds or its cwd reports it, naming
    /// the fd or the path.
    #[test]
    fn a_participant_whose_files_fail_reports_it() {
        for (files, want) in [
            (
                TaskFiles { dups: vec![(-1, 7, 0)], close: vec![], cwd: c"/".into(), root: None, umask: 0o22 },
                "task 0 (pid 100): fd 7: dup3 from its staging fd -1 failed: Bad file descriptor (EBADF)",
            ),
            (
                TaskFiles { dups: vec![], close: vec![], cwd: c"/nonexistent-cwd".into(), root: None, umask: 0o22 },
                "task 0 (pid 100): chdir(/nonexistent-cwd) failed: No such file or directory (ENOENT)",
            ),
        ] {
            let dev = File::open("/dev/null").unwrap();
            let tree = one_process(100);
            let plans = plan::plan_tree(&tree).unwrap();
            let mut p = [0; 2];
            // SAFETY: pipe2 into a local array.
            assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC | libc::O_DIRECT) }, 0);
            // SAFETY: both fds are new and ours.
            let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
            let keep = keep_list(&[dev.as_raw_fd(), wr.as_raw_fd()], &[]);
            let all = [Some(files)];
            let ctx = Ctx {
                plans: &plans,
                dev: dev.as_raw_fd(),
                img: dev.as_raw_fd(),
                report: wr.as_raw_fd(),
                skip: 0,
                tool_pgid: 0,
                keep: &keep,
                staged: &[],
                files: &all,
                nofile: None,
            };
            // SAFETY: getpid and fork; the child only runs `participant`.
            let pid = unsafe {
                let me = libc::getpid();
                let pid = libc::fork();
                if pid == 0 {
                    participant(&ctx, 0, me);
                }
                pid
            };
            drop(wr);
            let mut r = Readiness::new(&tree, &plans).with_files(&all);
            let mut st = None;
            let e = wait_ready(rd.as_raw_fd(), pid, &mut r, &mut st, READY_TIMEOUT).unwrap_err();
            assert_eq!(e, want);
            assert_eq!(wait_status(pid), 127);
        }
    }

    #[test]
    fn keep_lists() {
        assert_eq!(keep_list(&[9, 4, 5], &[50, 51]), [0, 1, 2, 4, 5, 9, 50, 51]);
        assert_eq!(keep_list(&[2, -1], &[]), [0, 1, 2]);
    }

    #[test]
    fn a_regular_file_is_passed_as_is() {
        let path = std::env::temp_dir().join(format!("cptrst-restart-test-{}.img", std::process::id()));
        std::fs::write(&path, sample()).unwrap();
        let (fd, name) = open_image(path.to_str().unwrap()).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(name, path.to_str().unwrap());
        // SAFETY: F_GETFD/F_GET_SEALS on our fd.
        let (fdflags, seals) = unsafe {
            (libc::fcntl(fd.as_raw_fd(), libc::F_GETFD), libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS))
        };
        assert_eq!(fdflags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        assert!(seals < 0, "a regular file is not copied into a memfd");
        assert_eq!(read_tree(fd.as_raw_fd()).unwrap().len(), 4);
    }

    #[test]
    fn bad_heads_name_the_record_and_offset() {
        let mut img = sample();
        // The first TREE entry's nr_levels, right after the TREE's fixed part.
        let at = image::HEADER_LEN + image::RECORD_HEADER_LEN + image::TREE_FIXED_LEN + 4;
        img[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
        let fd = copy_to_memfd(&mut pipe_with(img), "pipe").unwrap();
        match read_tree(fd.as_raw_fd()) {
            Err(HeadError::Image(e)) => {
                assert_eq!(e.record, image::RECORD_TREE);
                assert_eq!(e.offset, image::HEADER_LEN as u64);
                assert!(e.to_string().contains("at offset 128"), "{e}");
            }
            r => panic!("accepted: {r:?}"),
        }
        // Cut inside the header.
        let fd = copy_to_memfd(&mut pipe_with(sample()[..50].to_vec()), "pipe").unwrap();
        assert!(matches!(read_tree(fd.as_raw_fd()), Err(HeadError::Image(_))));
        // Cut inside the TREE.
        let fd = copy_to_memfd(&mut pipe_with(sample()[..200].to_vec()), "pipe").unwrap();
        assert!(matches!(read_tree(fd.as_raw_fd()), Err(HeadError::Image(e)) if e.record == image::RECORD_TREE));
    }
}
