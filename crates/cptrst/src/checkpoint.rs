//! `cptrst checkpoint PID [-o FILE] [--kill|--resume] [--stats FILE]
//! [--stop-timeout SECONDS]`: stop the tree (`crate::stop`), dump it with
//! the ioctl, let go of it.

use std::fs::OpenOptions;
use std::io::{IsTerminal, Seek};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use crate::dev::Dev;
use cptrst_uapi as uapi;
use crate::stop::{self, After};
use cptrst::Failure;

/// Names an errno of the checkpoint ioctl for the user.
fn explain(err: &std::io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(libc::EBUSY) => "a task of the tree is not stopped by this tool (or changed during the dump)",
        Some(libc::EPERM) => "not allowed to checkpoint a task of the tree",
        Some(libc::ESRCH) => "no such process",
        Some(libc::EBADF) => "the output is not open for writing",
        Some(libc::EPIPE) => "the reader of the output went away",
        Some(libc::EINTR) => "interrupted by a signal",
        Some(libc::ENOSPC) => "no space left for the image",
        Some(libc::EOPNOTSUPP) => "the tree uses something cptrst cannot checkpoint yet",
        Some(libc::ETXTBSY) => "the output is a file the tree maps: writing it would change the tree",
        Some(libc::EINVAL) => "invalid request (the tool's own tree, or an output the kernel cannot write to)",
        _ => "checkpoint failed",
    }
}

/// `checkpoint(pid, fd, 0)` with `msg` as the buffer for the kernel's
/// failure message (made raw, as `Dev::checkpoint` passes none).
fn checkpoint_ioctl(dev: &Dev, pid: i32, fd: i32, msg: &mut [u8]) -> std::io::Result<()> {
    let a = uapi::CheckpointArgs {
        pid,
        fd,
        flags: 0,
        msg_len: u32::try_from(msg.len()).unwrap_or(0).min(uapi::RST_MSG_MAX),
        msg: msg.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: IOC_CHECKPOINT's size is that of `CheckpointArgs`; the kernel
    // reads `a` and writes at most `msg_len` bytes at `msg`, which lives
    // across the call.
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), uapi::IOC_CHECKPOINT as libc::c_ulong, &a as *const uapi::CheckpointArgs) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The NUL-terminated message the kernel wrote into `buf`, if any.
fn kernel_message(buf: &[u8]) -> Option<String> {
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// SIGINT/SIGTERM: interrupts the ioctl (EINTR) and the stop's waits.
extern "C" fn interrupted(_sig: libc::c_int) {
    stop::INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
struct Opts {
    pid: i32,
    out: Option<String>,
    after: After,
    stats: Option<String>,
    /// How long stopping the tree may take.
    stop_timeout: Duration,
}

/// The longest `--stop-timeout`, in seconds.
const MAX_STOP_TIMEOUT: u64 = 3600;

fn parse_args(args: &[String]) -> Result<Opts, Failure> {
    let mut pid = None;
    let mut out: Option<String> = None;
    let mut after = After::Stop;
    let mut stats: Option<String> = None;
    let mut stop_timeout = stop::STOP_TIMEOUT;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-o" | "--output" => {
                out = Some(it.next().ok_or_else(|| Failure::usage("-o needs a file"))?.clone());
            }
            "--stats" => {
                stats = Some(it.next().ok_or_else(|| Failure::usage("--stats needs a file"))?.clone());
            }
            "--stop-timeout" => {
                let v = it.next().ok_or_else(|| Failure::usage("--stop-timeout needs a number of seconds"))?;
                let secs = v.parse::<u64>().ok().filter(|s| (1..=MAX_STOP_TIMEOUT).contains(s)).ok_or_else(|| {
                    Failure::usage(format!("bad --stop-timeout '{v}': a whole number of seconds from 1 to {MAX_STOP_TIMEOUT}"))
                })?;
                stop_timeout = Duration::from_secs(secs);
            }
            "--kill" if after == After::Stop => after = After::Kill,
            "--resume" if after == After::Stop => after = After::Resume,
            "--kill" | "--resume" => return Err(Failure::usage("--kill and --resume exclude each other")),
            s if s.starts_with('-') && s != "-" => return Err(Failure::usage(format!("unknown option '{s}'"))),
            s => {
                if pid.is_some() {
                    return Err(Failure::usage(format!("unexpected argument '{s}'")));
                }
                pid = Some(s.parse::<i32>().ok().filter(|&p| p > 0).ok_or_else(|| Failure::usage(format!("bad pid '{s}'")))?);
            }
        }
    }
    let pid = pid.ok_or_else(|| Failure::usage("checkpoint needs a PID"))?;
    Ok(Opts { pid, out, after, stats, stop_timeout })
}

pub fn main(args: &[String]) -> Result<(), Failure> {
    let Opts { pid, out, after, stats, stop_timeout } = parse_args(args)?;
    // FILE is not truncated before the dump: if the kernel refuses it (a
    // file the tree maps), it stays as it was. It is cut to the image's
    // length afterwards, and removed on failure if this tool created it.
    let mut created = false;
    let file = match out.as_deref() {
        None | Some("-") => {
            if std::io::stdout().is_terminal() {
                return Err(Failure::usage("refusing to write an image to a terminal: use -o FILE or a pipe"));
            }
            None
        }
        Some(path) => {
            created = !std::path::Path::new(path).exists();
            Some(OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path).map_err(|e| Failure::os(path, e))?)
        }
    };
    let fd = file.as_ref().map_or(1, |f| f.as_raw_fd());
    let dev = Dev::open()?;
    // A reader that goes away must give EPIPE, not kill the tool; SIGINT
    // and SIGTERM interrupt the dump (EINTR), after which the tool lets
    // the tree run on as it found it.
    // SAFETY: setting signal dispositions; the handler is async-signal-safe
    // (an atomic store; its other effect is to interrupt the ioctl).
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = interrupted as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0; // no SA_RESTART: the ioctl returns EINTR
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
    }
    let t_stop = std::time::Instant::now();
    let tree = match stop::stop_tree(pid, stop_timeout) {
        Ok(t) => t,
        Err(f) => {
            if let (Some(path), true) = (out.as_deref(), created) {
                let _ = std::fs::remove_file(path);
            }
            return Err(Failure { msg: format!("checkpoint of {pid}: {}", f.msg), ..f });
        }
    };
    let t_dump = std::time::Instant::now();
    let mut kmsg = vec![0u8; uapi::RST_MSG_MAX as usize];
    let res = checkpoint_ioctl(&dev, pid, fd, &mut kmsg).and_then(|()| match file.as_ref() {
        Some(mut f) => {
            let len = f.stream_position()?;
            f.set_len(len).map(|()| Some(len))
        }
        None => Ok(None),
    });
    let t_done = std::time::Instant::now();
    match res {
        Ok(len) => {
            if let Some(path) = stats.as_deref() {
                // Frozen time as CRIU's `--display-stats` counts it
                // (freezing + frozen): from the first stop to a complete
                // image.
                let json = format!(
                    "{{\"freezing_us\": {}, \"dump_us\": {}, \"frozen_us\": {}, \"processes\": {}, \"threads\": {}{}}}\n",
                    (t_dump - t_stop).as_micros(),
                    (t_done - t_dump).as_micros(),
                    (t_done - t_stop).as_micros(),
                    tree.procs().len(),
                    tree.tids().len(),
                    len.map_or(String::new(), |l| format!(", \"image_bytes\": {l}"))
                );
                if let Err(e) = std::fs::write(path, json) {
                    eprintln!("cptrst: --stats {path}: {e}");
                }
            }
            if after == After::Stop {
                let pids = tree.pid_list();
                eprintln!("cptrst: checkpointed; left stopped (SIGSTOP): resume with kill -CONT {pids}");
            }
            tree.release(after);
            Ok(())
        }
        Err(e) => {
            // The tree is let run on, as it was before the tool stopped it.
            drop(tree);
            if let (Some(path), true) = (out.as_deref(), created) {
                let _ = std::fs::remove_file(path);
            }
            // The kernel's message names what it refused (task, fd, kind).
            match kernel_message(&kmsg) {
                Some(m) => Err(Failure::op(format!("checkpoint: {m} ({e})"))),
                None => Err(Failure::op(format!("checkpoint of {pid} failed: {}: {e}", explain(&e)))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Opts, Failure> {
        parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults() {
        let o = parse(&["42"]).unwrap();
        assert_eq!(o, Opts { pid: 42, out: None, after: After::Stop, stats: None, stop_timeout: stop::STOP_TIMEOUT });
    }

    #[test]
    fn every_option() {
        let o = parse(&["7", "-o", "/tmp/i", "--kill", "--stats", "/tmp/s", "--stop-timeout", "5"]).unwrap();
        assert_eq!(
            o,
            Opts {
                pid: 7,
                out: Some("/tmp/i".into()),
                after: After::Kill,
                stats: Some("/tmp/s".into()),
                stop_timeout: Duration::from_secs(5)
            }
        );
        assert_eq!(parse(&["--resume", "7"]).unwrap().after, After::Resume);
        assert_eq!(parse(&["7", "--stop-timeout", "3600"]).unwrap().stop_timeout, Duration::from_secs(3600));
    }

    #[test]
    fn kernel_messages() {
        assert_eq!(kernel_message(&[0; 8]), None);
        assert_eq!(kernel_message(b"task 0 (pid 5): fd 3 is x: not supported\0junk").as_deref(), Some("task 0 (pid 5): fd 3 is x: not supported"));
        assert_eq!(kernel_message(b"abc").as_deref(), Some("abc"));
    }

    #[test]
    fn usage_errors() {
        for a in [
            &[][..],
            &["abc"],
            &["-5"],
            &["0"],
            &["1", "2"],
            &["1", "--kill", "--resume"],
            &["1", "--stats"],
            &["1", "-o"],
            &["1", "--stop-timeout"],
            &["1", "--stop-timeout", "0"],
            &["1", "--stop-timeout", "-1"],
            &["1", "--stop-timeout", "1.5"],
            &["1", "--stop-timeout", "abc"],
            &["1", "--stop-timeout", "3601"],
            &["1", "--stop-timeout", ""],
            &["1", "--bogus"],
        ] {
            let e = parse(a).expect_err(&format!("{a:?} accepted"));
            assert_eq!(e.status, 2, "{a:?}: {}", e.msg);
        }
        assert!(parse(&["1", "--stop-timeout", "0"]).unwrap_err().msg.contains("--stop-timeout '0'"));
    }
}
