//! The process tree as /proc shows it (threads, children, state), and pidfds.

use std::io;

/// The thread ids of process `pid` (/proc/PID/task).
pub fn threads(pid: i32) -> io::Result<Vec<i32>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        if let Some(tid) = e?.file_name().to_str().and_then(|s| s.parse().ok()) {
            v.push(tid);
        }
    }
    Ok(v)
}

/// The children of thread `tid` of `pid` (/proc/PID/task/TID/children);
/// empty if it has exited.
pub fn children(pid: i32, tid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/children"))
        .map(|s| s.split_whitespace().filter_map(|w| w.parse().ok()).collect())
        .unwrap_or_default()
}

/// Every descendant process of `pid`, breadth first.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut next = 0;
    let mut parent = pid;
    loop {
        for t in threads(parent).unwrap_or_default() {
            out.extend(children(parent, t));
        }
        if next == out.len() {
            return out;
        }
        parent = out[next];
        next += 1;
    }
}

/// The state letter of /proc/PID/stat ('R', 'S', 'T', 'Z'...), None if gone.
pub fn state(pid: i32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// Field 22 of /proc/PID/stat: when the task started (clock ticks after
/// boot), None if gone. With the pid it names one task for good (a pid may
/// be reused; a restored task at the same pid has another).
pub fn starttime(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 1..].split_whitespace().nth(19)?.parse().ok()
}

/// The value of field `name` of /proc/PID/status (`TracerPid`, `PPid`...),
/// None if gone.
pub fn status_field(pid: i32, name: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(|v| v.trim().to_string()))
}

/// A raw wait status (`waitpid`, `wait4`) for messages.
pub fn wait_status_text(st: i32) -> String {
    if libc::WIFEXITED(st) {
        format!("exit status {}", libc::WEXITSTATUS(st))
    } else if libc::WIFSIGNALED(st) {
        format!("killed by signal {}", libc::WTERMSIG(st))
    } else {
        format!("wait status {st:#x}")
    }
}

/// A pidfd for process `pid` (`pidfd_open(2)`): it names that process for
/// good, where a pid may be reused once the process is reaped.
pub fn pidfd_open(pid: i32) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags; it returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the fd is new and nobody else owns it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// SIGKILL to the process `fd` names (`pidfd_send_signal(2)`).
pub fn pidfd_kill(fd: &std::os::fd::OwnedFd) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal with a valid pidfd, no siginfo, no flags.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), libc::SIGKILL, std::ptr::null::<u8>(), 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
