//! `cptrst restart [-i FILE|-] [--detach] [--skip-files]`: restart a
//! checkpointed process from its image.
//!
//! The protocol (Documentation/restart-design.rst): the tool creates one
//! child with eclone at the image's root pid (pid 1 of a new pid namespace
//! when the tree had its own), and both call `CPTRST_IOC_RESTART` on the
//! same image fd. The child is the participant: prepared as the kernel
//! expects (death signal, default signal dispositions, only fds 0, 1, 2,
//! the device and the image left open), its call does not return on
//! success: it becomes the restored process. The tool is the coordinator:
//! the kernel checks the whole image, restores the child, and the tool's
//! call returns once the restored process runs, or fails with a message
//! naming the bad record (the child is then killed).
//!
//! The kernel reads the image twice, so it needs a seekable fd: a regular
//! file is passed as is, anything else (pipe, socket) is first copied into
//! a sealed memfd, so that `cptrst checkpoint PID --kill | cptrst restart`
//! works. The tool parses only the file header and the TREE record, to
//! learn the root pid and the number of tasks; the kernel validates the
//! whole image again.
//!
//! This version restarts a single process (one task in the TREE).

use std::ffi::CStr;
use std::fs::File;
use std::io::{IsTerminal, Read, Seek, SeekFrom};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::eclone_cmd::wait_status;
use cptrst::eclone::{eclone_fork, Forked};
use cptrst::{dev::Dev, proc, Failure};
use cptrst_image::{self as image, Expect, Validator};
use cptrst_uapi::{RestartArgs, RST_COORD, RST_MSG_MAX, RST_SKIP_FILES};

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
struct Opts {
    /// Image file, `-` for standard input.
    input: String,
    /// Exit once the process is restored instead of waiting for it.
    detach: bool,
    /// `RST_SKIP_FILES`: restore even if the image lists other fds.
    skip_files: bool,
}

fn parse_args(args: &[String]) -> Result<Opts, Failure> {
    let mut o = Opts { input: "-".into(), detach: false, skip_files: false };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-i" | "--input" => {
                o.input = it.next().ok_or_else(|| Failure::usage(format!("{a} needs a file (or - for standard input)")))?.clone();
            }
            "--detach" => o.detach = true,
            "--skip-files" => o.skip_files = true,
            s if s.starts_with('-') && s != "-" => return Err(Failure::usage(format!("unknown option '{s}'"))),
            s => return Err(Failure::usage(format!("unexpected argument '{s}' (the image is given with -i FILE)"))),
        }
    }
    if o.input.is_empty() {
        return Err(Failure::usage("-i needs a file (or - for standard input)"));
    }
    Ok(o)
}

/// The symbolic name of an errno, for messages.
fn errno_name(e: i32) -> String {
    let name = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EPIPE => "EPIPE",
        libc::ERANGE => "ERANGE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ENODATA => "ENODATA",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EBADMSG => "EBADMSG",
        libc::EPROTO => "EPROTO",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENOKEY => "ENOKEY",
        libc::EKEYREJECTED => "EKEYREJECTED",
        libc::ECANCELED => "ECANCELED",
        libc::ETIMEDOUT => "ETIMEDOUT",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

/// `strerror(e)`.
fn strerror(e: i32) -> String {
    // SAFETY: strerror returns a valid C string; the tool is single-threaded
    // (nothing else can overwrite its static buffer meanwhile).
    unsafe { CStr::from_ptr(libc::strerror(e)) }.to_string_lossy().into_owned()
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

/// What the tool needs to know of the image.
#[derive(Debug, PartialEq, Eq)]
struct Root {
    /// The root task's pid in the tree's own pid namespace.
    pid: u32,
    /// Tasks (processes and threads) in the tree.
    tasks: u32,
}

/// Why reading the head of the image failed.
#[derive(Debug)]
enum HeadError {
    Io(std::io::Error),
    Image(image::Error),
}

/// Reads and checks the file header and the TREE record at the fd's
/// current position (without moving it); skippable unknown records before
/// the TREE are read through.
fn read_root(fd: RawFd) -> Result<Root, HeadError> {
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
                    return Err(v.end_of_input().map_or_else(HeadError::Image, |_| {
                        HeadError::Io(std::io::Error::other("the image ends before its TREE"))
                    }));
                }
                v.feed_data(&buf[..n]).map_err(HeadError::Image)?;
                off += n as u64;
            }
            Expect::Tree(len) => break len,
            Expect::Failed(e) => return Err(HeadError::Image(e)),
            // The validator asks for the TREE before any other known record.
            Expect::Header | Expect::Payload(_) | Expect::End => {
                return Err(HeadError::Io(std::io::Error::other("unexpected validator state before the TREE")));
            }
        }
    };
    // The validator checked the length against the TREE's bounds.
    let mut payload = vec![0u8; tree_len as usize];
    let n = pread_full(fd, &mut payload, off).map_err(HeadError::Io)?;
    let tree = v.feed_tree(&payload[..n]).map_err(HeadError::Image)?;
    let root = tree.get(0).ok_or_else(|| HeadError::Io(std::io::Error::other("empty TREE")))?;
    Ok(Root { pid: root.pid(), tasks: tree.len() })
}

/// In the child: prepare as the protocol says, then become the restored
/// process. Async-signal-safe only: raw system calls, no allocation.
fn participant(dev: RawFd, img: RawFd, tool: i32, new_ns: bool, args: &RestartArgs) -> ! {
    fn die(msg: &[u8]) -> ! {
        // SAFETY: write(2) and _exit(2) are async-signal-safe.
        unsafe {
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::_exit(127)
        }
    }
    // The kernel's `struct sigaction` for rt_sigaction (not glibc's, which
    // refuses glibc's own signals 32 and 33): all zero is SIG_DFL.
    #[repr(C)]
    struct KSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let dfl = KSigaction { handler: 0, flags: 0, restorer: 0, mask: 0 };
    // SAFETY: plain system calls on constants and locals; nothing here
    // allocates or takes a lock.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        // The tool may have died before the prctl. In a new pid namespace
        // the parent is outside it, and getppid() returns 0.
        let ppid = libc::getppid();
        if ppid != tool && !(new_ns && ppid == 0) {
            die(b"cptrst restart: the restart tool went away\n");
        }
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(libc::SYS_rt_sigaction, sig, &dfl as *const KSigaction, 0usize, 8usize);
            }
        }
        let mut keep = [0, 1, 2, dev, img];
        keep.sort_unstable();
        let mut next: u32 = 0;
        for &k in &keep {
            let k = k as u32;
            if k > next {
                libc::syscall(libc::SYS_close_range, next, k - 1, 0u32);
            }
            next = next.max(k + 1);
        }
        libc::syscall(libc::SYS_close_range, next, u32::MAX, 0u32);
        libc::ioctl(dev, cptrst_uapi::IOC_RESTART as libc::c_ulong, args as *const RestartArgs);
    }
    die(b"cptrst restart: the restored task's restart call failed\n")
}

pub fn main(args: &[String]) -> Result<(), Failure> {
    let o = parse_args(args)?;
    ensure_stdio();
    let (img, name) = open_image(&o.input)?;
    let root = read_root(img.as_raw_fd()).map_err(|e| match e {
        HeadError::Io(e) => Failure::os(format!("restart: reading {name}"), e),
        HeadError::Image(e) => Failure::op(format!("restart: {name}: invalid image: {e}")),
    })?;
    if root.tasks != 1 {
        return Err(Failure::op(format!(
            "restart: {name}: the image holds {} tasks (processes and threads): this version restarts a single-threaded process only",
            root.tasks
        )));
    }
    let dev = Dev::open()?;
    let skip = if o.skip_files { RST_SKIP_FILES } else { 0 };
    let sigchld = libc::SIGCHLD as u32;
    let (new_ns, flags, pids) = if root.pid == 1 {
        (true, sigchld | cptrst_uapi::CLONE_NEWPID, [1])
    } else {
        (false, sigchld, [root.pid as i32])
    };
    let part = RestartArgs { ctid: 0, fd: img.as_raw_fd(), flags: skip, ..Default::default() };
    // SAFETY: getpid has no preconditions.
    let tool = unsafe { libc::getpid() };
    // The eclone library uses the tool's device fd rather than opening one
    // of its own that would stay open (and pin the module) while the tool
    // waits for the restored process.
    cptrst::eclone::set_device_fd(dev.as_raw_fd());
    // The checkpointed process may have just been killed (`cptrst
    // checkpoint PID --kill | cptrst restart`): while its parent has not
    // reaped it yet, its pid is taken. Wait a little for that.
    let deadline = Instant::now() + Duration::from_secs(2);
    let forked = loop {
        // SAFETY: the tool is single-threaded; the child only makes raw
        // system calls (`participant`) and never returns.
        let r = unsafe { eclone_fork(flags, &pids) };
        let dying = || matches!(proc::state(pids[0]), None | Some('Z' | 'X'));
        match r {
            Err(ref e) if e.raw_os_error() == Some(libc::EEXIST) && !new_ns && Instant::now() < deadline && dying() => {
                std::thread::sleep(Duration::from_millis(20));
            }
            r => break r,
        }
    };
    if !matches!(forked, Ok(Forked::Child)) {
        cptrst::eclone::set_device_fd(-1);
    }
    let child = match forked {
        Ok(Forked::Child) => participant(dev.as_raw_fd(), img.as_raw_fd(), tool, new_ns, &part),
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => {
            let what = match e.raw_os_error() {
                Some(libc::EEXIST) if proc::state(pids[0]) == Some('Z') => {
                    format!("pid {} is in use (by a zombie: its parent has not reaped it)", root.pid)
                }
                Some(libc::EEXIST) => format!("pid {} is in use", root.pid),
                Some(libc::EPERM) if new_ns => {
                    "a restart at pid 1 of a new pid namespace needs CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE (root)".into()
                }
                Some(libc::EPERM) => format!("a restart at a chosen pid ({}) needs CAP_CHECKPOINT_RESTORE (or root)", root.pid),
                _ => format!("creating the task at pid {}: {e}", root.pid),
            };
            return Err(Failure::op(format!("restart: {what}")));
        }
    };
    let mut msg = vec![0u8; RST_MSG_MAX as usize];
    let coord = RestartArgs {
        ctid: child,
        fd: img.as_raw_fd(),
        flags: RST_COORD | skip,
        msg_len: RST_MSG_MAX,
        msg: msg.as_mut_ptr() as u64,
        ..Default::default()
    };
    let res = dev.restart(&coord);
    // The restored process holds its own image and device fds until its
    // commit; the tool's go now (a memfd holds the whole image in memory).
    drop(img);
    drop(dev);
    if let Err(e) = res {
        let errno = e.raw_os_error().unwrap_or(0);
        // The kernel has killed the child already; this is harmless then.
        // SAFETY: kill(2) of our own, not yet reaped, child.
        unsafe { libc::kill(child, libc::SIGKILL) };
        wait_status(child);
        let text = kernel_message(&msg).unwrap_or_else(|| strerror(errno));
        return Err(Failure::op(format!("restart: {text} ({})", errno_name(errno))));
    }
    if o.detach {
        eprintln!("cptrst: restarted pid {child}");
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
        assert_eq!(parse(&[]).unwrap(), Opts { input: "-".into(), detach: false, skip_files: false });
    }

    #[test]
    fn every_option() {
        let o = parse(&["-i", "/tmp/img", "--detach", "--skip-files"]).unwrap();
        assert_eq!(o, Opts { input: "/tmp/img".into(), detach: true, skip_files: true });
        assert_eq!(parse(&["--input", "-"]).unwrap().input, "-");
        assert_eq!(parse(&["--skip-files", "-i", "x"]).unwrap(), Opts { input: "x".into(), detach: false, skip_files: true });
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
        ] {
            let e = parse(a).expect_err(&format!("{a:?} accepted"));
            assert_eq!(e.status, 2, "{a:?}: {}", e.msg);
        }
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(libc::EINVAL), "EINVAL");
        assert_eq!(errno_name(libc::EOPNOTSUPP), "EOPNOTSUPP");
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
        let root = read_root(f.as_raw_fd()).unwrap();
        assert_eq!(root, Root { pid: 100, tasks: 4 });
        // Not moved: the kernel reads the image from the fd's position.
        assert_eq!(f.stream_position().unwrap(), 0);
        let mut back = Vec::new();
        f.read_to_end(&mut back).unwrap();
        assert_eq!(back, img);
        assert!(f.write_all(b"x").is_err(), "a sealed memfd must not be writable");
    }

    /// The child's preparation runs through to the ioctl, which fails on a
    /// file that is not /dev/cptrst: the child exits 127.
    #[test]
    fn a_participant_whose_call_returns_exits_127() {
        let dev = File::open("/dev/null").unwrap();
        let img = copy_to_memfd(&mut pipe_with(sample()), "pipe").unwrap();
        let args = RestartArgs { fd: img.as_raw_fd(), ..Default::default() };
        // SAFETY: getpid and fork; the child only runs `participant`
        // (raw system calls) and exits.
        let pid = unsafe {
            let me = libc::getpid();
            let pid = libc::fork();
            if pid == 0 {
                participant(dev.as_raw_fd(), img.as_raw_fd(), me, false, &args);
            }
            pid
        };
        assert!(pid > 0);
        assert_eq!(wait_status(pid), 127);
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
        assert_eq!(read_root(fd.as_raw_fd()).unwrap(), Root { pid: 100, tasks: 4 });
    }

    #[test]
    fn bad_heads_name_the_record_and_offset() {
        let mut img = sample();
        // The first TREE entry's nr_levels, right after the TREE's fixed part.
        let at = image::HEADER_LEN + image::RECORD_HEADER_LEN + image::TREE_FIXED_LEN + 4;
        img[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
        let fd = copy_to_memfd(&mut pipe_with(img), "pipe").unwrap();
        match read_root(fd.as_raw_fd()) {
            Err(HeadError::Image(e)) => {
                assert_eq!(e.record, image::RECORD_TREE);
                assert_eq!(e.offset, image::HEADER_LEN as u64);
                assert!(e.to_string().contains("at offset 128"), "{e}");
            }
            r => panic!("accepted: {r:?}"),
        }
        // Cut inside the header.
        let fd = copy_to_memfd(&mut pipe_with(sample()[..50].to_vec()), "pipe").unwrap();
        assert!(matches!(read_root(fd.as_raw_fd()), Err(HeadError::Image(_))));
        // Cut inside the TREE.
        let fd = copy_to_memfd(&mut pipe_with(sample()[..200].to_vec()), "pipe").unwrap();
        assert!(matches!(read_root(fd.as_raw_fd()), Err(HeadError::Image(e)) if e.record == image::RECORD_TREE));
    }
}
