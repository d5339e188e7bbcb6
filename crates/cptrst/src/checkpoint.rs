//! `cptrst checkpoint PID [-o FILE] [--kill|--resume] [--stats FILE]
//! [--stop-timeout SECONDS] [--live [--rounds N] [--downtime-target MS]]`:
//! stop the tree (`crate::stop`), dump it with the
//! ioctl, let go of it. With `--live` the memory is copied in rounds while
//! the tree runs first (`crate::live`), into the same stream.

use std::fs::OpenOptions;
use std::io::{IsTerminal, Seek};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use crate::dev::Dev;
use crate::live::{self, LiveOpts};
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

/// `checkpoint(pid, fd, flags)` with `msg` as the buffer for the kernel's
/// failure message (made raw, as `Dev::checkpoint` passes none) and, with
/// `CKPT_ROUND` or `CKPT_FINAL`, `live` pointing to a `LiveArgs` (0
/// otherwise) whose `srcs` and their ranges live across the call.
pub(crate) fn checkpoint_ioctl(dev: &Dev, pid: i32, fd: i32, flags: u32, live: u64, msg: &mut [u8]) -> std::io::Result<()> {
    let a = uapi::CheckpointArgs {
        pid,
        fd,
        flags,
        msg_len: u32::try_from(msg.len()).unwrap_or(0).min(uapi::RST_MSG_MAX),
        msg: msg.as_mut_ptr() as u64,
        live,
        ..Default::default()
    };
    // SAFETY: IOC_CHECKPOINT's size is that of `CheckpointArgs`; the kernel
    // reads `a` (and the `LiveArgs` at `live`, which it writes back, and
    // what that points to: the caller keeps them alive) and writes at most
    // `msg_len` bytes at `msg`, which lives across the call.
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

/// The failure of a checkpoint call (`what`: "checkpoint", "live round
/// 2"...): the kernel's message, which names what it refused (task, fd,
/// kind, range), or the errno explained.
pub(crate) fn ioctl_failure(what: &str, pid: i32, kmsg: &[u8], e: &std::io::Error) -> Failure {
    match kernel_message(kmsg) {
        Some(m) => Failure::op(format!("{what}: {m} ({e})")),
        None => Failure::op(format!("{what} of {pid} failed: {}: {e}", explain(e))),
    }
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
    /// `--live`: copy the memory in rounds first.
    live: Option<LiveOpts>,
}

/// The longest `--stop-timeout`, in seconds.
const MAX_STOP_TIMEOUT: u64 = 3600;

fn parse_args(args: &[String]) -> Result<Opts, Failure> {
    let mut pid = None;
    let mut out: Option<String> = None;
    let mut after = After::Stop;
    let mut stats: Option<String> = None;
    let mut stop_timeout = stop::STOP_TIMEOUT;
    let mut live = false;
    let mut rounds: Option<u32> = None;
    let mut downtime: Option<u64> = None;
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
            "--live" => live = true,
            "--rounds" => {
                let v = it.next().ok_or_else(|| Failure::usage("--rounds needs a number"))?;
                let max = live::MAX_ROUNDS;
                rounds = Some(v.parse::<u32>().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
                    Failure::usage(format!("bad --rounds '{v}': a whole number of rounds from 1 to {max}"))
                })?);
            }
            "--downtime-target" => {
                let v = it.next().ok_or_else(|| Failure::usage("--downtime-target needs a number of milliseconds"))?;
                let max = live::MAX_DOWNTIME_MS;
                downtime = Some(v.parse::<u64>().ok().filter(|n| *n <= max).ok_or_else(|| {
                    Failure::usage(format!("bad --downtime-target '{v}': a whole number of milliseconds from 0 to {max}"))
                })?);
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
    let live = if live {
        Some(LiveOpts {
            rounds: rounds.unwrap_or(live::DEFAULT_ROUNDS),
            downtime_ms: downtime.unwrap_or(live::DEFAULT_DOWNTIME_MS),
        })
    } else {
        let named = [(rounds.is_some(), "--rounds"), (downtime.is_some(), "--downtime-target")];
        if let Some((_, o)) = named.iter().find(|(set, _)| *set) {
            return Err(Failure::usage(format!("{o} is an option of a live checkpoint: it needs --live")));
        }
        None
    };
    Ok(Opts { pid, out, after, stats, stop_timeout, live })
}

pub fn main(args: &[String]) -> Result<(), Failure> {
    let Opts { pid, out, after, stats, stop_timeout, live } = parse_args(args)?;
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
    let remove_created = || {
        if let (Some(path), true) = (out.as_deref(), created) {
            let _ = std::fs::remove_file(path);
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
    // The dump, the tree stopped at its end: (tree, freezing, dump,
    // frozen, the live checkpoint's stats).
    let dumped = match &live {
        Some(lopts) => live::run(&dev, pid, fd, lopts, stop_timeout).map(|(tree, st)| {
            let (freezing, frozen) = (st.final_freezing, st.frozen);
            (tree, freezing, st.final_stop.saturating_sub(freezing), frozen, Some(st))
        }),
        None => {
            let t_stop = std::time::Instant::now();
            let tree = stop::stop_tree(pid, stop_timeout).map_err(|f| Failure { msg: format!("checkpoint of {pid}: {}", f.msg), ..f });
            tree.and_then(|tree| {
                let t_dump = std::time::Instant::now();
                let mut kmsg = vec![0u8; uapi::RST_MSG_MAX as usize];
                match checkpoint_ioctl(&dev, pid, fd, 0, 0, &mut kmsg) {
                    Ok(()) => Ok((tree, t_dump - t_stop, t_dump.elapsed(), t_stop.elapsed(), None)),
                    // The tree is let run on (dropped), as it was before
                    // the tool stopped it.
                    Err(e) => Err(ioctl_failure("checkpoint", pid, &kmsg, &e)),
                }
            })
        }
    };
    let (tree, freezing, dump, frozen, live_stats) = dumped.inspect_err(|_| remove_created())?;
    let len = match file.as_ref() {
        Some(mut f) => match f.stream_position().and_then(|len| f.set_len(len).map(|()| len)) {
            Ok(len) => Some(len),
            Err(e) => {
                drop(tree);
                remove_created();
                return Err(Failure::os(format!("checkpoint of {pid}: cutting {} to the image's length", out.as_deref().unwrap_or("")), e));
            }
        },
        None => None,
    };
    if let Some(st) = &live_stats {
        eprintln!("{}", st.line());
    }
    if let Some(path) = stats.as_deref() {
        // Frozen time as CRIU's `--display-stats` counts it (freezing +
        // frozen): from the first stop to a complete image (with --live:
        // every stop, summed; freezing and dump: the final stop's; and
        // the live keys).
        let json = format!(
            "{{\"freezing_us\": {}, \"dump_us\": {}, \"frozen_us\": {}, \"processes\": {}, \"threads\": {}{}{}}}\n",
            freezing.as_micros(),
            dump.as_micros(),
            frozen.as_micros(),
            tree.procs().len(),
            tree.tids().len(),
            len.map_or(String::new(), |l| format!(", \"image_bytes\": {l}")),
            live_stats.as_ref().map_or(String::new(), |st| format!(", {}", st.json_fields()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Opts, Failure> {
        parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults() {
        let o = parse(&["42"]).unwrap();
        assert_eq!(o, Opts { pid: 42, out: None, after: After::Stop, stats: None, stop_timeout: stop::STOP_TIMEOUT, live: None });
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
                stop_timeout: Duration::from_secs(5),
                live: None
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
            &["1", "--rounds", "4"],
            &["1", "--downtime-target", "5"],
            &["1", "--live", "--rounds"],
            &["1", "--live", "--rounds", "0"],
            &["1", "--live", "--rounds", "65"],
            &["1", "--live", "--rounds", "-1"],
            &["1", "--live", "--rounds", "x"],
            &["1", "--live", "--downtime-target"],
            &["1", "--live", "--downtime-target", "-1"],
            &["1", "--live", "--downtime-target", "1.5"],
            &["1", "--live", "--downtime-target", "3600001"],
            &["1", "--live", "--stats-json", "/tmp/j"],
        ] {
            let e = parse(a).expect_err(&format!("{a:?} accepted"));
            assert_eq!(e.status, 2, "{a:?}: {}", e.msg);
        }
        assert!(parse(&["1", "--stop-timeout", "0"]).unwrap_err().msg.contains("--stop-timeout '0'"));
        assert!(parse(&["1", "--rounds", "3"]).unwrap_err().msg.contains("--rounds is an option of a live checkpoint: it needs --live"));
        assert!(parse(&["1", "--live", "--rounds", "65"]).unwrap_err().msg.contains("from 1 to 64"));
    }

    #[test]
    fn live_options() {
        let o = parse(&["7", "--live"]).unwrap();
        assert_eq!(o.live, Some(LiveOpts { rounds: 8, downtime_ms: 100 }));
        // --live excludes nothing else; the order does not matter.
        let o = parse(&["--rounds", "64", "7", "--downtime-target", "0", "--live", "--kill", "-o", "/tmp/i", "--stats", "/tmp/s"]).unwrap();
        assert_eq!(o.live, Some(LiveOpts { rounds: 64, downtime_ms: 0 }));
        assert_eq!((o.after, o.out.as_deref(), o.stats.as_deref()), (After::Kill, Some("/tmp/i"), Some("/tmp/s")));
        assert_eq!(parse(&["7", "--live", "--resume", "--rounds", "1"]).unwrap().live.map(|l| l.rounds), Some(1));
        assert_eq!(parse(&["7", "--live", "--downtime-target", "3600000"]).unwrap().live.map(|l| l.downtime_ms), Some(3_600_000));
    }
}
