//! What the restart tests (kselftest-restart, kselftest-tree) share:
//! looking at processes through /proc, reading and writing their memory,
//! running `cptrst` with its output in files, and the leak and leftover
//! checks.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::tap::ensure;

/// How long a restart (or checkpoint) may take under TCG with KASAN.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(180);
/// How long until a workload says it is ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub fn comm_of(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim_end().to_string())
}

/// When the task started: the restored process is a new task, whose start
/// time differs from the original's, even at the same pid.
pub use cptrst::proc::starttime;

pub fn exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

pub fn read_mem(pid: i32, addr: u64, len: usize) -> Result<Vec<u8>, String> {
    let f = File::open(format!("/proc/{pid}/mem")).map_err(|e| format!("/proc/{pid}/mem: {e}"))?;
    let mut b = vec![0u8; len];
    let n = f.read_at(&mut b, addr).map_err(|e| format!("reading {len} bytes at {addr:#x} of {pid}: {e}"))?;
    ensure(n == len, || format!("short read at {addr:#x} of {pid}"))?;
    Ok(b)
}

pub fn write_mem(pid: i32, addr: u64, bytes: &[u8]) -> Result<(), String> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{pid}/mem"))
        .map_err(|e| format!("/proc/{pid}/mem: {e}"))?;
    let n = f.write_at(bytes, addr).map_err(|e| format!("writing at {addr:#x} of {pid}: {e}"))?;
    ensure(n == bytes.len(), || format!("short write at {addr:#x} of {pid}"))
}

pub fn ready_word(pid: i32, addr: u64) -> Option<u32> {
    read_mem(pid, addr, 4).ok().map(|b| u32::from_le_bytes(b[..4].try_into().unwrap()))
}

/// Reaps `pid` if it is a zombie child of ours, without blocking.
pub fn reap(pid: i32) -> Option<i32> {
    let mut st = 0;
    // SAFETY: waitpid on a given pid with WNOHANG, into a local.
    let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
    (r == pid).then_some(st)
}

/// Waits until no process has `pid` (reaping it if it is our zombie).
pub fn wait_gone(pid: i32, timeout: Duration) -> Result<(), String> {
    let t0 = Instant::now();
    loop {
        reap(pid);
        if !exists(pid) {
            return Ok(());
        }
        if t0.elapsed() > timeout {
            return Err(format!("pid {pid} still there after {timeout:?} (state {:?})", cptrst::proc::state(pid)));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn status_text(st: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) if c > 128 => format!("exit status {c} (the restored process was killed by signal {})", c - 128),
        (Some(c), _) => format!("exit status {c}"),
        (_, Some(s)) => format!("killed by signal {s}"),
        _ => format!("{st:?}"),
    }
}

/// A running `cptrst` (or `sh -c`), its output in files.
pub struct Tool {
    /// The process.
    pub child: Child,
    /// Its command line, for messages.
    pub what: String,
    out: String,
    err: String,
}

impl Tool {
    pub fn spawn(prog: &str, args: &[&str], tag: &str) -> Result<Tool, String> {
        let out = format!("/tmp/rst-{tag}.out");
        let err = format!("/tmp/rst-{tag}.err");
        let f = |p: &str| File::create(p).map_err(|e| format!("{p}: {e}"));
        let child = Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(f(&out)?)
            .stderr(f(&err)?)
            .spawn()
            .map_err(|e| format!("cannot run {prog}: {e}"))?;
        Ok(Tool { child, what: format!("{prog} {}", args.join(" ")), out, err })
    }

    /// [`Tool::spawn`], with `setup` applied to the command before it is
    /// started (extra fds, another uid: kselftest-files).
    pub fn spawn_with(prog: &str, args: &[&str], tag: &str, setup: impl FnOnce(&mut Command)) -> Result<Tool, String> {
        let out = format!("/tmp/rst-{tag}.out");
        let err = format!("/tmp/rst-{tag}.err");
        let f = |p: &str| File::create(p).map_err(|e| format!("{p}: {e}"));
        let mut c = Command::new(prog);
        c.args(args).stdin(Stdio::null()).stdout(f(&out)?).stderr(f(&err)?);
        setup(&mut c);
        let child = c.spawn().map_err(|e| format!("cannot run {prog}: {e}"))?;
        Ok(Tool { child, what: format!("{prog} {}", args.join(" ")), out, err })
    }

    /// `cptrst restart ARGS`.
    pub fn restart(args: &[&str], tag: &str) -> Result<Tool, String> {
        let mut a = vec!["restart"];
        a.extend_from_slice(args);
        Tool::spawn("cptrst", &a, tag)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Its stdout and stderr, for a diagnostic.
    pub fn output(&self) -> String {
        let o = std::fs::read_to_string(&self.out).unwrap_or_default();
        format!("`{}` stderr:\n{}{}", self.what, self.stderr(), if o.is_empty() { String::new() } else { format!("stdout:\n{o}") })
    }

    /// Waits for it (killing it after `timeout`).
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok(st);
            }
            if t0.elapsed() > timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!("`{}` still running after {timeout:?}: killed\n{}", self.what, self.output()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for it and wants exit status 0.
    pub fn expect_ok(&mut self) -> Result<(), String> {
        let st = self.wait(TOOL_TIMEOUT)?;
        ensure(st.success(), || format!("`{}`: {}, want 0\n{}", self.what, status_text(st), self.output()))
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.out);
        let _ = std::fs::remove_file(&self.err);
    }
}

pub fn meminfo_kib(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}


/// What `pid` is doing, for the report of a hang: its comm, state,
/// parent, pending and blocked signals, wait channel, user instruction
/// pointer (field 30 of /proc/PID/stat, as root) and kernel stack, and the
/// same of each of its other threads.
pub fn describe_task(pid: i32) -> String {
    let one = |dir: &str| {
        let status = std::fs::read_to_string(format!("{dir}/status")).unwrap_or_default();
        let field = |k: &str| status.lines().find_map(|l| l.strip_prefix(k)).map_or("?", str::trim).to_string();
        let stat = std::fs::read_to_string(format!("{dir}/stat")).unwrap_or_default();
        let rip = stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().nth(27).map(str::to_string)).unwrap_or_default();
        let wchan = std::fs::read_to_string(format!("{dir}/wchan")).unwrap_or_default();
        let stack = std::fs::read_to_string(format!("{dir}/stack")).unwrap_or_default();
        let stack: Vec<&str> = stack.lines().map(|l| l.split_whitespace().nth(1).unwrap_or(l)).collect();
        format!(
            "{} '{}' {} ppid {} SigPnd {} ShdPnd {} SigBlk {} wchan {wchan} rip {rip} stack [{}]",
            dir.rsplit('/').next().unwrap_or(dir),
            field("Name:"),
            field("State:"),
            field("PPid:"),
            field("SigPnd:"),
            field("ShdPnd:"),
            field("SigBlk:"),
            stack.join(" <- ")
        )
    };
    let mut out = vec![one(&format!("/proc/{pid}"))];
    if let Ok(d) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        let mut tids: Vec<i32> = d.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).filter(|&t| t != pid).collect();
        tids.sort_unstable();
        out.extend(tids.iter().map(|t| format!("  thread {}", one(&format!("/proc/{pid}/task/{t}")))));
    }
    out.join("\n")
}

/// Tasks in D state that are not kernel threads, and leftover `cptrst`
/// processes (a participant the tool did not reap).
pub fn leftovers() -> Vec<String> {
    let mut out = Vec::new();
    let Ok(d) = std::fs::read_dir("/proc") else { return out };
    for e in d.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        // Kernel threads have no command line.
        let kthread = std::fs::read(format!("/proc/{pid}/cmdline")).map_or(true, |c| c.is_empty());
        let state = cptrst::proc::state(pid);
        let comm = comm_of(pid).unwrap_or_default();
        if !kthread && state == Some('D') {
            let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
            out.push(format!("pid {pid} ({comm}) in D state, wchan {wchan}"));
        }
        if comm == "cptrst" {
            out.push(format!("a cptrst process is left: pid {pid}, state {state:?}"));
        }
    }
    out
}


pub const KMEMLEAK: &str = "/sys/kernel/debug/kmemleak";

pub fn kmemleak(cmd: &str) -> bool {
    std::fs::write(KMEMLEAK, cmd).is_ok()
}

/// Slab and VmallocUsed (KiB) after shrinking every slab cache: that also
/// empties KASAN's quarantine of the cache, which otherwise keeps freed
/// objects (up to 1/32 of RAM) and makes Slab noisy.
pub fn settled_memory() -> (u64, u64) {
    if let Ok(d) = std::fs::read_dir("/sys/kernel/slab") {
        for e in d.flatten() {
            let _ = std::fs::write(e.path().join("shrink"), "1");
        }
    }
    (meminfo_kib("Slab").unwrap_or(0), meminfo_kib("VmallocUsed").unwrap_or(0))
}


/// The `struct file`s in the system: the active objects of the `filp` slab
/// (/proc/slabinfo) after shrinking it, which also empties KASAN's
/// quarantine of it. (The first field of /proc/sys/fs/file-nr is a per-CPU
/// counter that reads 0 below its batch size.)
pub fn open_files() -> Option<u64> {
    let _ = std::fs::write("/sys/kernel/slab/filp/shrink", "1");
    let s = std::fs::read_to_string("/proc/slabinfo").ok()?;
    s.lines().find_map(|l| l.strip_prefix("filp ")?.split_whitespace().next()?.parse().ok())
}

/// [`open_files`] once it is at most `limit`, or its last value after
/// `bound`: files closed by tasks that just exited are released by the
/// kernel's delayed fput work, which a busy emulator runs late, so a count
/// taken at once can hold them; a leak stays over the limit whatever the
/// wait.
pub fn open_files_within(limit: Option<u64>, bound: Duration) -> Option<u64> {
    let t0 = Instant::now();
    loop {
        let n = open_files();
        if n <= limit || t0.elapsed() >= bound {
            return n;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// What kmemleak reports after a scan (the first 40 lines), `None` if
/// kmemleak is not available. Call [`kmemleak_start`] before the test.
pub fn kmemleak_new_leaks() -> Option<String> {
    // kmemleak reports only objects older than 5 s, and needs two scans.
    std::thread::sleep(Duration::from_secs(6));
    if !kmemleak("scan") {
        return None;
    }
    std::thread::sleep(Duration::from_secs(1));
    kmemleak("scan");
    let leaks = std::fs::read_to_string(KMEMLEAK).unwrap_or_default();
    let head: Vec<&str> = leaks.lines().take(40).collect();
    Some(head.join("\n"))
}

/// Forgets what kmemleak found so far; false if it is not available.
pub fn kmemleak_start() -> bool {
    kmemleak("scan") && kmemleak("clear")
}

/// `pid` runs as before a checkpoint: not traced, not stopped (within a
/// generous bound, 60 s: a tracer's detach takes its time under TCG).
pub fn runs_untraced(pid: i32) -> Result<(), String> {
    let t0 = Instant::now();
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("pid {pid}: {e}"))?;
        let tracer = status.lines().find_map(|l| l.strip_prefix("TracerPid:")).map(str::trim).unwrap_or("?").to_string();
        let state = cptrst::proc::state(pid);
        if tracer == "0" && matches!(state, Some('R' | 'S')) {
            return Ok(());
        }
        if t0.elapsed() >= Duration::from_secs(60) {
            return Err(format!("pid {pid}: state {state:?}, tracer {tracer}: not left running as it was"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
