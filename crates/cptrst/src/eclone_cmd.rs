//! `cptrst eclone --pid N[,M,...] [--] COMMAND [ARGS...]`: run a command
//! with chosen pids.
//!
//! The pids are listed outermost pid namespace first; the last one is the
//! command's pid in its own namespace. With no more pids than the caller
//! has namespace levels, the command runs in the caller's namespace. With
//! more, new pid namespaces are created below the caller's, one per extra
//! level: the command is the init of the innermost one when its pid there
//! is 1; every other new namespace gets an init started by this tool (its
//! pids outside are not chosen), which waits for the command and exits with
//! its status.

use std::ffi::CString;

use cptrst::eclone::{eclone_fork, Forked};
use cptrst::Failure;

/// The caller's pid namespace level, from the `NSpid` line of
/// /proc/self/status (which counts levels from /proc's namespace down: it
/// must be the caller's or an ancestor's, as on any ordinary system).
fn own_level() -> Result<usize, Failure> {
    let s = std::fs::read_to_string("/proc/self/status").map_err(|e| Failure::os("/proc/self/status", e))?;
    let line = s
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .ok_or_else(|| Failure::op("/proc/self/status has no NSpid line (kernel without CONFIG_PID_NS?)"))?;
    Ok(line.split_whitespace().count() - 2)
}

fn parse_pids(s: &str) -> Result<Vec<i32>, Failure> {
    let pids: Vec<i32> = s
        .split(',')
        .map(|p| p.trim().parse::<i32>().ok().filter(|&p| p > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| Failure::usage(format!("bad pid list '{s}': positive numbers separated by commas")))?;
    if pids.is_empty() || pids.len() > cptrst_uapi::MAX_PID_NS_LEVEL as usize {
        return Err(Failure::usage(format!("between 1 and {} pids", cptrst_uapi::MAX_PID_NS_LEVEL)));
    }
    Ok(pids)
}

fn explain(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EEXIST) => "a chosen pid is in use",
        Some(libc::EPERM) => "not allowed to choose pids in these namespaces (needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN over them)",
        Some(libc::EINVAL) => "invalid request (pid out of range, more levels than namespaces, or a pid other than 1 in a namespace without init)",
        Some(libc::EACCES) => "cannot open /dev/cptrst (root only by default)",
        Some(libc::ENOENT) => "/dev/cptrst not found: is the cptrst module loaded?",
        _ => "eclone failed",
    }
}

/// Waits for `pid` and returns a shell-style exit status.
pub(crate) fn wait_status(pid: i32) -> u8 {
    let mut st = 0;
    loop {
        // SAFETY: waitpid on our own child, status is a local.
        let r = unsafe { libc::waitpid(pid, &mut st, 0) };
        if r == pid {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 1;
        }
    }
    if libc::WIFEXITED(st) {
        libc::WEXITSTATUS(st) as u8
    } else {
        128u8.wrapping_add(libc::WTERMSIG(st) as u8)
    }
}

/// In a child: exec the command, or report and exit 127.
fn exec(cmd: &[CString]) -> ! {
    let mut argv: Vec<*const libc::c_char> = cmd.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: argv is a NULL-terminated array of C strings that outlive the call.
    unsafe { libc::execvp(argv[0], argv.as_ptr()) };
    let msg = b"cptrst eclone: cannot execute the command\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::_exit(127)
    }
}

/// In an init started by the tool: reap every child until `main` exits,
/// then exit with its status.
fn init_wait(main: i32) -> ! {
    let code = wait_status(main);
    // SAFETY: _exit is always safe.
    unsafe { libc::_exit(code as i32) }
}

/// Creates pid namespace levels `level..=last` below the current one and
/// runs the command at `last` with `pids` (outermost first). Returns in the
/// tool (the first caller) with the pid of the direct child.
fn build(level: usize, last: usize, pids: &[i32], cmd: &[CString]) -> Result<i32, Failure> {
    let fail = |e: std::io::Error| Failure::op(format!("eclone {pids:?}: {}: {e}", explain(&e)));
    let sig = libc::SIGCHLD as u32;
    let newpid = libc::CLONE_NEWPID as u32;
    let target_is_init = *pids.last().unwrap_or(&0) == 1;
    // The command itself, at its level: as the init of a new namespace, or
    // as a plain child in the current one.
    if level > last || (level == last && target_is_init) {
        let flags = if level == last { sig | newpid } else { sig };
        // SAFETY: the tool is single-threaded; the child only execs.
        return match unsafe { eclone_fork(flags, pids) }.map_err(fail)? {
            Forked::Child => exec(cmd),
            Forked::Parent(pid) => Ok(pid),
        };
    }
    // An init for the new namespace at `level` (pid 1 there, others free).
    // SAFETY: the tool is single-threaded; the child goes on with plain
    // system calls and exits, it never returns into the caller.
    match unsafe { eclone_fork(sig | newpid, &[1]) }.map_err(fail)? {
        Forked::Parent(pid) => Ok(pid),
        Forked::Child => {
            // SAFETY: prctl with constant arguments.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            match build(level + 1, last, pids, cmd) {
                Ok(child) => init_wait(child),
                Err(f) => {
                    eprintln!("cptrst: {}", f.msg);
                    // SAFETY: _exit is always safe.
                    unsafe { libc::_exit(1) }
                }
            }
        }
    }
}

pub fn main(args: &[String]) -> Result<(), Failure> {
    let mut pids = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--pid" | "-p" => {
                i += 1;
                pids = Some(parse_pids(args.get(i).ok_or_else(|| Failure::usage("--pid needs a list"))?)?);
            }
            s if s.starts_with("--pid=") => pids = Some(parse_pids(&s[6..])?),
            "--" => {
                i += 1;
                break;
            }
            s if s.starts_with('-') => return Err(Failure::usage(format!("unknown option '{s}'"))),
            _ => break,
        }
        i += 1;
    }
    let pids = pids.ok_or_else(|| Failure::usage("eclone needs --pid"))?;
    let cmd: Vec<CString> = args[i..]
        .iter()
        .map(|a| CString::new(a.as_bytes()).map_err(|_| Failure::usage("NUL byte in the command")))
        .collect::<Result<_, _>>()?;
    if cmd.is_empty() {
        return Err(Failure::usage("eclone needs a command"));
    }
    let own = own_level()?;
    // The command's level: the caller's, or deeper by the extra pids.
    let last = own + pids.len().saturating_sub(own + 1);
    let child = build(own + 1, last, &pids, &cmd)?;
    let code = wait_status(child);
    std::process::exit(code as i32)
}
