//! Guest tests of open files, pipes and fs context (issue 14): each case
//! starts a self-checking workload (cptrst-testprog `file-pos-check`,
//! `append-check`, `pipes-check`, ...: it snapshots its own fd table and
//! checks it, and what its files must still do, after `go`), checkpoints it
//! with `cptrst checkpoint PID -o IMG --kill`, restarts it with `cptrst
//! restart -i IMG`, waits until every process is back at its pid and
//! running, sets their `go` bytes and expects the tool to exit 0: the root's
//! verdict, which covers its children. Then what must be refused: a file or
//! a mapped file changed since the checkpoint (ESTALE, unless
//! `--allow-changed-files`), an eventfd (refused at checkpoint,
//! EOPNOTSUPP, the process runs on), a file the restarting user may not
//! open (EACCES), an fd from outside the tree (unless `--inherit-fd`); and
//! 50 checkpoint/restart cycles without a leak of open files.
//!
//! The harness runs each case in a process of its own (this program with
//! `--case N`) and bounds it (300 s; the cycles 900 s): a case that hangs
//! is killed with everything it started, reported as failed, and the next
//! case runs. `KSELFTEST_FILES_ONLY=WORD[,WORD...]` runs only the cases
//! whose name contains one of the words.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use cptrst_tests::rst::{comm_of, exists, leftovers, open_files, ready_word, reap, runs_untraced, starttime, status_text, wait_gone, write_mem, Tool, READY_TIMEOUT, TOOL_TIMEOUT};
use cptrst_tests::tap::ensure;
use cptrst_tests::workload::{cptrst, STOP_TIMEOUT};
use cptrst_tests::READY_MAGIC;
use serde_json::Value;

/// How long a case may take (the 50 cycles: [`CYCLES_BOUND`]).
const CASE_BOUND: Duration = Duration::from_secs(300);
const CYCLES_BOUND: Duration = Duration::from_secs(900);

/// How long a restored tree may take to be back (TCG, KASAN, a busy host).
const BACK_TIMEOUT: Duration = Duration::from_secs(240);

/// Where a workload started `direct` writes its stderr.
const DIRECT_ERR: &str = "/tmp/files-direct.err";

/// The device the EACCES case opens up to uid 1000.
const DEVICE: &str = "/dev/cptrst";

fn pid_list(info: &Value) -> Result<Vec<i32>, String> {
    match &info["pids"] {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a.iter().map(|v| v.as_i64().map(|p| p as i32).ok_or(format!("'pids' in the ready line is not a pid list: {info}"))).collect(),
        _ => Err(format!("'pids' in the ready line is not a list: {info}")),
    }
}

/// Makes `fd` (of this process) fd `at` of the command's process.
fn give_fd(c: &mut Command, fd: i32, at: i32) {
    // SAFETY: dup2 and fcntl are async-signal-safe; `fd` stays open in
    // this process until the command is spawned.
    unsafe {
        c.pre_exec(move || {
            if fd == at {
                libc::fcntl(fd, libc::F_SETFD, 0);
            } else if libc::dup2(fd, at) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A pipe, both ends O_CLOEXEC, as (read, write) files.
fn pipe() -> Result<(std::fs::File, std::fs::File), String> {
    use std::os::fd::FromRawFd;
    let mut p = [0i32; 2];
    // SAFETY: pipe2(2) into a 2-int array.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe2: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: two fresh fds, owned by the files from here on.
    Ok(unsafe { (std::fs::File::from_raw_fd(p[0]), std::fs::File::from_raw_fd(p[1])) })
}

/// A workload: the reaper that started it (or the root itself, `direct`),
/// its ready line, every live process (root first).
struct Proc {
    child: Child,
    info: Value,
    pids: Vec<i32>,
    comm: String,
    /// Start time of the process now at each of `pids`.
    started: Vec<u64>,
}

impl Proc {
    fn start(cmd: &[&str]) -> Result<Proc, String> {
        Proc::start_with(cmd, false, |_| {})
    }

    /// Starts `cptrst-testprog reaper CMD...` (or CMD itself when
    /// `direct`, its stderr in DIRECT_ERR: then the root is our child),
    /// `setup` applied to the command, stdin /dev/null; waits for the
    /// ready line and every process's ready word.
    fn start_with(cmd: &[&str], direct: bool, setup: impl FnOnce(&mut Command)) -> Result<Proc, String> {
        let mut c = if direct {
            let mut c = Command::new(cmd[0]);
            let err = std::fs::File::create(DIRECT_ERR).map_err(|e| format!("{DIRECT_ERR}: {e}"))?;
            c.args(&cmd[1..]).stderr(err);
            c
        } else {
            let mut c = Command::new("cptrst-testprog");
            c.arg("reaper").args(cmd);
            c
        };
        c.stdin(Stdio::null()).stdout(Stdio::piped());
        setup(&mut c);
        let mut child = c.spawn().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
        let out = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).map_err(|e| e.to_string())?;
        let info: Value = match serde_json::from_str(line.trim()) {
            Ok(v) => v,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let err = if direct { std::fs::read_to_string(DIRECT_ERR).unwrap_or_default() } else { String::new() };
                return Err(format!("{cmd:?}: bad ready line '{}': {e}\n{err}", line.trim()));
            }
        };
        let root = info["pid"].as_i64().ok_or(format!("{cmd:?}: no pid in the ready line"))? as i32;
        let mut pids = pid_list(&info)?;
        if pids.is_empty() {
            pids.push(root);
        }
        let mut p = Proc { child, info, pids, comm: String::new(), started: Vec::new() };
        ensure(p.pids[0] == root, || format!("{cmd:?}: the root {root} is not first in the pid list"))?;
        let ready = p.addr("ready")?;
        let t0 = Instant::now();
        for &q in &p.pids {
            while ready_word(q, ready) != Some(READY_MAGIC) {
                ensure(t0.elapsed() < READY_TIMEOUT, || format!("{cmd:?}: pid {q} never became ready (state {:?})", cptrst::proc::state(q)))?;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        p.comm = comm_of(root).ok_or(format!("{cmd:?}: pid {root} gone"))?;
        p.started = p.pids.iter().map(|&q| starttime(q).unwrap_or(0)).collect();
        Ok(p)
    }

    fn root(&self) -> i32 {
        self.pids[0]
    }

    fn addr(&self, key: &str) -> Result<u64, String> {
        self.info[key].as_u64().ok_or(format!("no '{key}' in the ready line {}", self.info))
    }

    /// `cptrst checkpoint ROOT -o IMG EXTRA...`.
    fn checkpoint(&self, img: &str, extra: &[&str]) -> Result<(), String> {
        let root = self.root().to_string();
        let mut a = vec!["checkpoint", &root, "-o", img, "--stop-timeout", STOP_TIMEOUT];
        a.extend_from_slice(extra);
        let o = cptrst(&a);
        ensure(o.status.success(), || format!("cptrst {}: {}: {}", a.join(" "), status_text(o.status), String::from_utf8_lossy(&o.stderr)))
    }

    /// `cptrst checkpoint ROOT -o IMG --kill`, then waits until every pid
    /// of the tree is free.
    fn checkpoint_kill(&self, img: &str) -> Result<(), String> {
        self.checkpoint(img, &["--kill"])?;
        self.wait_all_gone(Duration::from_secs(60)).map_err(|e| format!("after checkpoint --kill: {e}"))
    }

    fn wait_all_gone(&self, timeout: Duration) -> Result<(), String> {
        let t0 = Instant::now();
        let mut errs = Vec::new();
        for &p in &self.pids {
            if let Err(e) = wait_gone(p, timeout.saturating_sub(t0.elapsed()).max(Duration::from_millis(100))) {
                errs.push(e);
            }
        }
        ensure(errs.is_empty(), || errs.join("\n"))
    }

    /// Is process `i` (at `p`) back: a new task at its pid, our comm,
    /// running or sleeping, its ready word set?
    fn back(&self, ready: u64, i: usize, p: i32) -> bool {
        starttime(p).is_some_and(|t| t != self.started[i])
            && comm_of(p).as_deref() == Some(self.comm.as_str())
            && matches!(cptrst::proc::state(p), Some('R') | Some('S'))
            && ready_word(p, ready) == Some(READY_MAGIC)
    }

    /// Waits until every process is back, as long as `tool` runs (unless
    /// `detached`: the tool has returned already).
    fn wait_restored(&mut self, tool: &mut Tool, detached: bool) -> Result<(), String> {
        let t0 = Instant::now();
        let ready = self.addr("ready")?;
        loop {
            let missing: Vec<i32> = self.pids.iter().enumerate().filter(|&(i, &p)| !self.back(ready, i, p)).map(|(_, &p)| p).collect();
            if missing.is_empty() {
                self.started = self.pids.iter().map(|&q| starttime(q).unwrap_or(0)).collect();
                return Ok(());
            }
            if !detached {
                if let Some(st) = tool.child.try_wait().map_err(|e| e.to_string())? {
                    return Err(format!(
                        "cptrst restart ended ({}) before the workload ran again ({} of {} processes back):\n{}",
                        status_text(st),
                        self.pids.len() - missing.len(),
                        self.pids.len(),
                        tool.output()
                    ));
                }
            }
            if t0.elapsed() > BACK_TIMEOUT {
                let p = missing[0];
                return Err(format!(
                    "after {BACK_TIMEOUT:?}, {} processes not back; pid {p}: comm {:?}, state {:?}\n{}",
                    missing.len(),
                    comm_of(p),
                    cptrst::proc::state(p),
                    tool.output()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Writes `arg` (if any) to every process, then every go byte, the
    /// last process first.
    fn go(&self, arg: Option<u64>) -> Result<(), String> {
        if let Some(a) = arg {
            let at = self.addr("arg")?;
            for &p in &self.pids {
                write_mem(p, at, &a.to_le_bytes())?;
            }
        }
        let go = self.addr("go")?;
        for &p in self.pids.iter().rev() {
            write_mem(p, go, &[1])?;
        }
        Ok(())
    }

    /// Started `direct`: waits for the root's exit status.
    fn wait_direct(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok(st);
            }
            ensure(t0.elapsed() < timeout, || format!("the root {} did not exit {timeout:?} after go", self.root()))?;
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        for &p in &self.pids {
            if comm_of(p).as_deref() == Some(self.comm.as_str()) {
                // SAFETY: kill(2) of this test's workload (the original or restored one).
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for &p in &self.pids {
            let _ = wait_gone(p, Duration::from_secs(10));
        }
    }
}

/// Nothing left after a refused restart: no process at the tree's pids,
/// nothing in D state, no `cptrst` left.
fn nothing_left(p: &Proc) -> Result<(), String> {
    p.wait_all_gone(Duration::from_secs(30)).map_err(|e| format!("after the refusal: {e}"))?;
    let l = leftovers();
    ensure(l.is_empty(), || l.join("\n"))
}

/// Waits for a restart that must be refused; an error at once if the
/// workload comes back instead.
fn wait_refused(p: &Proc, t: &mut Tool) -> Result<ExitStatus, String> {
    let ready = p.addr("ready")?;
    let t0 = Instant::now();
    loop {
        if let Some(st) = t.child.try_wait().map_err(|e| e.to_string())? {
            return Ok(st);
        }
        if p.pids.iter().enumerate().any(|(i, &q)| p.back(ready, i, q)) {
            return Err(format!("the workload was restarted instead of refused\n{}", t.output()));
        }
        if t0.elapsed() > TOOL_TIMEOUT {
            return t.wait(Duration::ZERO);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a restart that must be refused: exit status 1 and every one of
/// `want` in its stderr; then nothing left. Its stderr.
fn expect_refused(p: &Proc, mut t: Tool, want: &[&str]) -> Result<String, String> {
    let st = wait_refused(p, &mut t)?;
    let err = t.stderr();
    ensure(st.code() == Some(1), || format!("{}, want exit status 1\n{}", status_text(st), t.output()))?;
    let missing: Vec<&&str> = want.iter().filter(|w| !err.contains(**w)).collect();
    ensure(missing.is_empty(), || format!("the message does not contain {missing:?}:\n{err}"))?;
    nothing_left(p)?;
    Ok(err)
}

/// Does the error text name this errno (its name, or its strerror text)?
fn names_errno(err: &str, name: &str, text: &str) -> bool {
    err.contains(name) || err.contains(text)
}

/// The whole round trip of the self-checking workload `cmd`: start,
/// (with `resume_first` a `checkpoint --resume` first: a checkpoint must
/// change nothing it saves, no position moved, no pipe data consumed),
/// checkpoint --kill, restart, go, want exit status 0.
fn round_trip(cmd: &[&str], tag: &str, resume_first: bool) -> Result<(), String> {
    let mut p = Proc::start(cmd)?;
    let img = format!("/tmp/files-{tag}.img");
    let r = (|| {
        if resume_first {
            p.checkpoint(&img, &["--resume"])?;
        }
        p.checkpoint_kill(&img)?;
        let mut t = Tool::restart(&["-i", &img], tag)?;
        p.wait_restored(&mut t, false)?;
        p.go(None)?;
        t.expect_ok()
    })();
    let _ = std::fs::remove_file(&img);
    r
}

/// The workloads, each started directly and poked without a checkpoint.
fn poke_without_checkpoint() -> Result<(), String> {
    let _ = std::fs::create_dir_all("/tmp/files-poke");
    let workloads: &[&[&str]] = &[
        &["cptrst-testprog", "file-pos-check", "/tmp/files-poke/pos"],
        &["cptrst-testprog", "append-check", "/tmp/files-poke/append.log"],
        &["cptrst-testprog", "shared-offset-check", "/tmp/files-poke/shared"],
        &["cptrst-testprog", "unlinked-check", "/tmp/files-poke"],
        &["cptrst-testprog", "memfd-check"],
        &["cptrst-testprog", "dirfd-check", "/tmp/files-poke/dir"],
        &["cptrst-testprog", "pipes-check"],
        &["cptrst-testprog", "fifo-check", "/tmp/files-poke"],
        &["cptrst-testprog", "fs-check", "/tmp/files-poke/fs"],
        &["cptrst-testprog", "fs-check", "/tmp/files-poke/fsroot", "chroot"],
        &["cptrst-testprog", "fdflags-check", "/tmp/files-poke/flags"],
        &["cptrst-testprog", "devices-check"],
        &["cptrst-testprog", "threads-check-files", "/tmp/files-poke/threads"],
        &["cptrst-testprog", "eventfd-check"],
        &["cptrst-testprog", "cycle-check", "/tmp/files-poke"],
        &["cptrst-testprog", "open-files-check", "100", "/tmp/files-poke/open"],
        &["cptrst-testprog", "pipeline-check", "10", "1048576"],
    ];
    let mut fails = Vec::new();
    for cmd in workloads {
        let r = (|| {
            let mut p = Proc::start_with(cmd, true, |_| {})?;
            p.go(None)?;
            let st = p.wait_direct(Duration::from_secs(120))?;
            let err = std::fs::read_to_string(DIRECT_ERR).unwrap_or_default();
            ensure(st.success(), || format!("{}, want 0; stderr:\n{err}", status_text(st)))
        })();
        if let Err(e) = r {
            fails.push(format!("{cmd:?}: {e}"));
        }
    }
    // inherit-check with a pipe at fd 5.
    let r = (|| {
        let (mut rd, wr) = pipe()?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&wr);
        let mut p = Proc::start_with(&["cptrst-testprog", "inherit-check", "5"], true, |c| give_fd(c, fd, 5))?;
        drop(wr);
        p.go(Some(1))?;
        let st = p.wait_direct(Duration::from_secs(120))?;
        let err = std::fs::read_to_string(DIRECT_ERR).unwrap_or_default();
        ensure(st.success(), || format!("{}, want 0; stderr:\n{err}", status_text(st)))?;
        let mut got = String::new();
        rd.read_to_string(&mut got).map_err(|e| e.to_string())?;
        ensure(got == "cptrst-inherit-ok\n", || format!("the pipe got {got:?}"))
    })();
    if let Err(e) = r {
        fails.push(format!("inherit-check 5: {e}"));
    }
    // A damaged one must fail: a byte of memfd-check's memfd a changed
    // through /proc/PID/fd/10 (the same memfd).
    let r = (|| {
        let mut p = Proc::start_with(&["cptrst-testprog", "memfd-check"], true, |_| {})?;
        let path = format!("/proc/{}/fd/10", p.root());
        let f = std::fs::OpenOptions::new().write(true).open(&path).map_err(|e| format!("{path}: {e}"))?;
        std::os::unix::fs::FileExt::write_at(&f, &[0xffu8 ^ 0x61], 100).map_err(|e| format!("{path}: {e}"))?;
        drop(f);
        p.go(None)?;
        let st = p.wait_direct(Duration::from_secs(120))?;
        let err = std::fs::read_to_string(DIRECT_ERR).unwrap_or_default();
        ensure(st.code() == Some(1) && err.contains("fd 10 (memfd cptrst-memfd-a): content"), || {
            format!("memfd-check with its memfd changed: {}, want exit status 1 naming fd 10's content; stderr:\n{err}", status_text(st))
        })
    })();
    if let Err(e) = r {
        fails.push(e);
    }
    let _ = std::fs::remove_dir_all("/tmp/files-poke");
    ensure(fails.is_empty(), || fails.join("\n"))
}

/// A file read halfway: the same position after restart, and `inspect`
/// names the file.
fn file_position() -> Result<(), String> {
    let path = "/tmp/files-pos";
    let mut p = Proc::start(&["cptrst-testprog", "file-pos-check", path])?;
    let img = "/tmp/files-pos.img";
    let r = (|| {
        p.checkpoint(img, &["--resume"])?;
        p.checkpoint_kill(img)?;
        let o = cptrst(&["inspect", img]);
        let text = String::from_utf8_lossy(&o.stdout);
        ensure(o.status.success() && text.contains(path), || {
            format!("cptrst inspect {img}: {}, its output does not name {path}:\n{text}{}", status_text(o.status), String::from_utf8_lossy(&o.stderr))
        })?;
        let o = cptrst(&["inspect", "--json", img]);
        let text = String::from_utf8_lossy(&o.stdout);
        ensure(o.status.success() && text.contains(path), || format!("cptrst inspect --json {img}: its output does not name {path}"))?;
        let mut t = Tool::restart(&["-i", img], "pos")?;
        p.wait_restored(&mut t, false)?;
        p.go(None)?;
        t.expect_ok()
    })();
    let _ = std::fs::remove_file(img);
    let _ = std::fs::remove_file(path);
    r
}

fn append_log() -> Result<(), String> {
    let r = round_trip(&["cptrst-testprog", "append-check", "/tmp/files-append.log"], "append", false);
    let _ = std::fs::remove_file("/tmp/files-append.log");
    r
}

fn shared_offset() -> Result<(), String> {
    let r = round_trip(&["cptrst-testprog", "shared-offset-check", "/tmp/files-shared"], "shared", true);
    let _ = std::fs::remove_file("/tmp/files-shared");
    r
}

fn unlinked() -> Result<(), String> {
    let dir = "/tmp/files-unlinked";
    std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
    let r = round_trip(&["cptrst-testprog", "unlinked-check", dir], "unlinked", false);
    let _ = std::fs::remove_dir_all(dir);
    r
}

fn memfd() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "memfd-check"], "memfd", false)
}

fn dirfd() -> Result<(), String> {
    let dir = "/tmp/files-dirfd";
    let r = round_trip(&["cptrst-testprog", "dirfd-check", dir], "dirfd", false);
    let _ = std::fs::remove_dir_all(dir);
    r
}

fn pipes() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "pipes-check"], "pipes", true)
}

fn fifo() -> Result<(), String> {
    let dir = "/tmp/files-fifo";
    std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
    let r = round_trip(&["cptrst-testprog", "fifo-check", dir], "fifo", true);
    let _ = std::fs::remove_dir_all(dir);
    r
}

fn fs_context() -> Result<(), String> {
    let dir = "/tmp/files-fs";
    let r = round_trip(&["cptrst-testprog", "fs-check", dir], "fs", false);
    let _ = std::fs::remove_dir_all(dir);
    r
}

fn fs_chroot() -> Result<(), String> {
    let dir = "/tmp/files-chroot";
    let r = round_trip(&["cptrst-testprog", "fs-check", dir, "chroot"], "chroot", false);
    let _ = std::fs::remove_dir_all(dir);
    r
}

fn fd_flags() -> Result<(), String> {
    let path = "/tmp/files-flags";
    let r = round_trip(&["cptrst-testprog", "fdflags-check", path], "flags", false);
    let _ = std::fs::remove_file(path);
    r
}

fn threads_share() -> Result<(), String> {
    let dir = "/tmp/files-threads";
    let r = round_trip(&["cptrst-testprog", "threads-check-files", dir], "threads", false);
    let _ = std::fs::remove_dir_all(dir);
    r
}

/// fdflags-check's fds 700-702 restarted under `ulimit -n 512`: refused
/// with EMFILE naming one of them (the tool raises its soft limit only up to the
/// hard one), nothing left; without the limit it restarts.
fn fd_above_limit() -> Result<(), String> {
    let path = "/tmp/files-nofile";
    let mut p = Proc::start(&["cptrst-testprog", "fdflags-check", path])?;
    let img = "/tmp/files-nofile.img";
    let r = (|| {
        p.checkpoint_kill(img)?;
        let t = Tool::spawn("sh", &["-c", &format!("ulimit -S -n 512 && ulimit -H -n 512 && exec cptrst restart -i {img}")], "nofile")?;
        let err = expect_refused(&p, t, &[])?;
        ensure(["fd 700", "fd 701", "fd 702"].iter().any(|f| err.contains(f)), || format!("the refusal names none of fds 700-702:\n{err}"))?;
        ensure(names_errno(&err, "EMFILE", "Too many open files"), || format!("the refusal does not name EMFILE:\n{err}"))?;
        let mut t = Tool::restart(&["-i", img], "nofile-ok")?;
        p.wait_restored(&mut t, false)?;
        p.go(None)?;
        t.expect_ok()
    })();
    let _ = std::fs::remove_file(img);
    let _ = std::fs::remove_file(path);
    r
}

fn devices() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "devices-check"], "devices", false)
}

/// Appends `n` bytes to `path`.
fn grow(path: &str, n: usize) -> Result<(), String> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).map_err(|e| format!("{path}: {e}"))?;
    f.write_all(&vec![b'x'; n]).map_err(|e| format!("{path}: {e}"))
}

/// The file at fd 5 grown between checkpoint and restart: refused (exit
/// 1, ESTALE, naming the fd, the path and both sizes), nothing left;
/// with --allow-changed-files it restarts (at its position).
fn changed_file() -> Result<(), String> {
    let path = "/tmp/files-changed";
    let mut p = Proc::start(&["cptrst-testprog", "file-pos-check", path])?;
    let size = p.addr("size")?;
    let fd = p.addr("fd")?;
    let img = "/tmp/files-changed.img";
    let r = (|| {
        p.checkpoint_kill(img)?;
        grow(path, 10)?;
        let t = Tool::restart(&["-i", img], "changed")?;
        let fdn = format!("fd {fd}: {path} has changed since the checkpoint");
        let sizes = format!("size {}, was {size}", size + 10);
        let err = expect_refused(&p, t, &[&fdn, &sizes])?;
        ensure(names_errno(&err, "ESTALE", "Stale file handle"), || format!("the refusal does not name ESTALE:\n{err}"))?;
        let mut t = Tool::restart(&["-i", img, "--allow-changed-files"], "changed-ok")?;
        p.wait_restored(&mut t, false)?;
        p.go(Some(1))?;
        t.expect_ok()
    })();
    let _ = std::fs::remove_file(img);
    let _ = std::fs::remove_file(path);
    r
}

/// A file mapped (no fd) grown between checkpoint and restart: refused by
/// the kernel (exit 1, ESTALE, "VMA at offset ...: PATH has changed"),
/// nothing left; with --allow-changed-files it restarts and the mapping
/// shows the file.
fn changed_mapped_file() -> Result<(), String> {
    let dir = "/tmp/files-mapchanged";
    std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
    let path = format!("{dir}/cptrst-map-0");
    let mut p = Proc::start(&["cptrst-testprog", "map-files-check", "1", dir])?;
    let img = "/tmp/files-mapchanged.img";
    let r = (|| {
        p.checkpoint_kill(img)?;
        grow(&path, 100)?;
        let t = Tool::restart(&["-i", img], "mapchanged")?;
        let want = format!("{path} has changed since the checkpoint");
        let err = expect_refused(&p, t, &["VMA at offset", &want])?;
        ensure(names_errno(&err, "ESTALE", "Stale file handle"), || format!("the refusal does not name ESTALE:\n{err}"))?;
        let mut t = Tool::restart(&["-i", img, "--allow-changed-files"], "mapchanged-ok")?;
        p.wait_restored(&mut t, false)?;
        p.go(None)?;
        t.expect_ok()
    })();
    let _ = std::fs::remove_file(img);
    let _ = std::fs::remove_dir_all(dir);
    r
}

/// An eventfd at fd 9: the checkpoint is refused (exit 1, EOPNOTSUPP,
/// naming the task, the fd and its kind) before any byte of the image is
/// written (-o FILE: no file left; to stdout: nothing written); the
/// process runs on, untraced, and passes its own check.
fn eventfd_refused() -> Result<(), String> {
    let mut p = Proc::start_with(&["cptrst-testprog", "eventfd-check"], true, |_| {})?;
    let pid = p.root();
    let img = "/tmp/files-eventfd.img";
    let _ = std::fs::remove_file(img);
    let want = format!("task 0 (pid {pid}): fd 9 is anon_inode:[eventfd]: not supported");
    let o = cptrst(&["checkpoint", &pid.to_string(), "-o", img, "--stop-timeout", STOP_TIMEOUT]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    ensure(o.status.code() == Some(1), || format!("checkpoint -o {img}: {}, want exit status 1: {err}", status_text(o.status)))?;
    ensure(err.contains(&want), || format!("the message does not contain '{want}':\n{err}"))?;
    ensure(names_errno(&err, "EOPNOTSUPP", "not supported"), || format!("the refusal does not name EOPNOTSUPP:\n{err}"))?;
    ensure(!std::path::Path::new(img).exists(), || format!("{img} exists after the refused checkpoint"))?;
    runs_untraced(pid)?;
    let out = "/tmp/files-eventfd.out";
    let o = Command::new("sh")
        .args(["-c", &format!("exec cptrst checkpoint {pid} --stop-timeout {STOP_TIMEOUT} > {out}")])
        .output()
        .map_err(|e| format!("sh: {e}"))?;
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let n = std::fs::metadata(out).map(|m| m.len()).unwrap_or(u64::MAX);
    let _ = std::fs::remove_file(out);
    ensure(o.status.code() == Some(1) && err.contains(&want), || format!("checkpoint to stdout: {}, want exit status 1 and '{want}': {err}", status_text(o.status)))?;
    ensure(n == 0, || format!("the refused checkpoint wrote {n} bytes to its standard output, want none"))?;
    runs_untraced(pid)?;
    p.go(None)?;
    let st = p.wait_direct(Duration::from_secs(120))?;
    let err = std::fs::read_to_string(DIRECT_ERR).unwrap_or_default();
    ensure(st.success(), || format!("after the refused checkpoints the workload's own check: {}, want 0; stderr:\n{err}", status_text(st)))
}

/// Sets the mode bits of `path`, returns the old ones.
fn chmod(path: &str, mode: u32) -> Result<u32, String> {
    use std::os::unix::fs::PermissionsExt;
    let old = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?.permissions().mode() & 0o7777;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| format!("chmod {path}: {e}"))?;
    Ok(old)
}

/// Makes the command's process uid and gid 1000, no supplementary
/// groups, with CAP_CHECKPOINT_RESTORE alone (ambient, so that it holds
/// across exec: choosing pids needs it; it does not bypass file
/// permissions).
fn as_uid_1000_with_cap_checkpoint_restore(c: &mut Command) {
    const CAP_CHECKPOINT_RESTORE: u32 = 40;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    // SAFETY: only async-signal-safe system calls on locals, in the child
    // before exec.
    unsafe {
        c.pre_exec(|| {
            let fail = || Err(std::io::Error::last_os_error());
            if libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0
                || libc::setgroups(0, std::ptr::null()) != 0
                || libc::setresgid(1000, 1000, 1000) != 0
                || libc::setresuid(1000, 1000, 1000) != 0
            {
                return fail();
            }
            let bit = 1u32 << (CAP_CHECKPOINT_RESTORE - 32);
            let hdr = Header { version: 0x2008_0522, pid: 0 };
            let data = [Data { effective: 0, permitted: 0, inheritable: 0 }, Data { effective: bit, permitted: bit, inheritable: bit }];
            if libc::syscall(libc::SYS_capset, &hdr as *const Header, data.as_ptr()) != 0
                || libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE, CAP_CHECKPOINT_RESTORE as libc::c_ulong, 0, 0) != 0
            {
                return fail();
            }
            Ok(())
        });
    }
}

/// The image of a root process holding a root-only file (mode 0600) at fd
/// 5, restarted by uid 1000 with CAP_CHECKPOINT_RESTORE (the device opened
/// up to it for this case): refused with EACCES naming the fd and the
/// path, nothing left; as root it restarts.
fn cannot_open() -> Result<(), String> {
    let path = "/tmp/files-secret";
    let mut p = Proc::start(&["cptrst-testprog", "file-pos-check", path])?;
    let fd = p.addr("fd")?;
    let img = "/tmp/files-secret.img";
    let r = (|| {
        p.checkpoint_kill(img)?;
        chmod(img, 0o644)?;
        let old = chmod(DEVICE, 0o666)?;
        let r = (|| {
            let t = Tool::spawn_with("cptrst", &["restart", "-i", img], "secret", as_uid_1000_with_cap_checkpoint_restore)?;
            let want = format!("fd {fd}: cannot open {path}: Permission denied (EACCES)");
            expect_refused(&p, t, &[&want]).map(drop)
        })();
        chmod(DEVICE, old)?;
        r?;
        let mut t = Tool::restart(&["-i", img], "secret-root")?;
        p.wait_restored(&mut t, false)?;
        p.go(None)?;
        t.expect_ok()
    })();
    let _ = std::fs::remove_file(img);
    let _ = std::fs::remove_file(path);
    r
}

/// fd 5 of the workload a pipe whose other end this test holds: outside
/// the tree. Restart without --inherit-fd is refused naming fd 5 and what
/// it was; `--inherit-fd 5=fd:7` (the tool's fd 7 a pipe of ours) gives the
/// restored process that pipe (it writes a line we read); `--inherit-fd
/// 5=/dev/null` gives it /dev/null.
fn inherit_fd() -> Result<(), String> {
    let (_keep, wr) = pipe()?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&wr);
    let mut p = Proc::start_with(&["cptrst-testprog", "inherit-check", "5"], false, |c| give_fd(c, fd, 5))?;
    drop(wr);
    let img = "/tmp/files-inherit.img";
    let r = (|| {
        p.checkpoint_kill(img)?;
        let t = Tool::restart(&["-i", img], "inherit")?;
        expect_refused(&p, t, &["fd 5 was pipe:[", "outside the tree", "--inherit-fd 5="])?;
        let (mut rd, wr) = pipe()?;
        let w = std::os::fd::AsRawFd::as_raw_fd(&wr);
        let mut t = Tool::spawn_with("cptrst", &["restart", "-i", img, "--inherit-fd", "5=fd:7"], "inherit-fd", |c| give_fd(c, w, 7))?;
        drop(wr);
        p.wait_restored(&mut t, false)?;
        p.go(Some(1))?;
        t.expect_ok()?;
        let mut got = String::new();
        rd.read_to_string(&mut got).map_err(|e| format!("reading the inherited pipe: {e}"))?;
        ensure(got == "cptrst-inherit-ok\n", || format!("through --inherit-fd 5=fd:7 the pipe got {got:?}, want the workload's line"))?;
        let mut t = Tool::restart(&["-i", img, "--inherit-fd", "5=/dev/null"], "inherit-null")?;
        p.wait_restored(&mut t, false)?;
        p.go(Some(2))?;
        t.expect_ok()
    })();
    let _ = std::fs::remove_file(img);
    r
}

/// 50 checkpoint --kill / restart --detach cycles of a process holding a
/// pipe pair (with data), a regular file and a memfd; the open files
/// (filp objects) after the last cycle within a small slack of after cycle
/// 10, nothing left over; then the process's own check.
fn fifty_cycles() -> Result<(), String> {
    const CYCLES: u32 = 50;
    const SLACK: u64 = 16;
    let dir = "/tmp/files-cycle";
    std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
    let mut p = Proc::start(&["cptrst-testprog", "cycle-check", dir])?;
    let img = "/tmp/files-cycle.img";
    let t0 = Instant::now();
    let mut at10 = None;
    for i in 1..=CYCLES {
        let r = (|| {
            p.checkpoint_kill(img)?;
            let mut t = Tool::restart(&["-i", img, "--detach"], "cycle")?;
            let st = t.wait(TOOL_TIMEOUT)?;
            ensure(st.success(), || format!("restart --detach: {}\n{}", status_text(st), t.output()))?;
            p.wait_restored(&mut t, true)
        })();
        r.map_err(|e| format!("cycle {i}: {e}"))?;
        if i == 10 {
            at10 = open_files();
        }
    }
    let last = open_files();
    let took = t0.elapsed();
    let _ = std::fs::remove_file(img);
    println!("# {CYCLES} cycles in {took:?}; open files (filp objects) after cycle 10: {at10:?}, after cycle {CYCLES}: {last:?}");
    let mut fails = Vec::new();
    if last > at10.map(|f| f + SLACK) {
        fails.push(format!("open files grew from {at10:?} after cycle 10 to {last:?} after cycle {CYCLES} (slack {SLACK})"));
    }
    fails.extend(leftovers());
    // Its own check, and its exit status: it is our child now (subreaper).
    p.go(None)?;
    let t1 = Instant::now();
    let status = loop {
        if let Some(st) = reap(p.root()) {
            break Some(st);
        }
        if !exists(p.root()) {
            break None;
        }
        ensure(t1.elapsed() < Duration::from_secs(120), || "the restored process did not exit after go".into())?;
        std::thread::sleep(Duration::from_millis(10));
    };
    match status {
        Some(st) if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0 => {}
        Some(st) => fails.push(format!("after {CYCLES} cycles the process's own check failed: wait status {st:#x}")),
        None => fails.push("the restored process exited, but not as a child of this test: no status".into()),
    }
    let _ = std::fs::remove_dir_all(dir);
    ensure(fails.is_empty(), || fails.join("\n"))
}

type Case = (&'static str, fn() -> Result<(), String>, Duration);

const CASES: &[Case] = &[
    ("every files workload passes its own check, and fails it when damaged (no checkpoint)", poke_without_checkpoint, CASE_BOUND),
    ("a file read halfway: same position after restart; inspect names it", file_position, CASE_BOUND),
    ("an O_APPEND log of parent and child: still appending, in order", append_log, CASE_BOUND),
    ("one open file shared by dup and fork: the offset moves for both", shared_offset, CASE_BOUND),
    ("unlinked open files and their shared mappings: content, still unlinked", unlinked, CASE_BOUND),
    ("memfds: name, content, seals, shared mapping", memfd, CASE_BOUND),
    ("a directory fd and an O_PATH fd used with openat", dirfd, CASE_BOUND),
    ("two pipes between parent and child: unread data both ways, capacity", pipes, CASE_BOUND),
    ("a FIFO with data in it", fifo, CASE_BOUND),
    ("cwd in a deep directory and umask of parent and child", fs_context, CASE_BOUND),
    ("chroot, cwd and umask of parent and child", fs_chroot, CASE_BOUND),
    ("fd numbers (up to 700), FD_CLOEXEC and status flags kept", fd_flags, CASE_BOUND),
    ("/dev/null, zero, urandom, full and random fds", devices, CASE_BOUND),
    ("threads: one fd table and one fs context after restart", threads_share, CASE_BOUND),
    ("refusal: an fd above RLIMIT_NOFILE (EMFILE); restarts without the limit", fd_above_limit, CASE_BOUND),
    ("refusal: a file changed since the checkpoint (ESTALE); --allow-changed-files", changed_file, CASE_BOUND),
    ("refusal: a mapped file changed since the checkpoint (ESTALE); --allow-changed-files", changed_mapped_file, CASE_BOUND),
    ("refusal at checkpoint: an eventfd (EOPNOTSUPP), the process runs on", eventfd_refused, CASE_BOUND),
    ("refusal: a file the restarting user cannot open (EACCES)", cannot_open, CASE_BOUND),
    ("an fd from outside the tree: refused, --inherit-fd 5=fd:N and 5=/dev/null", inherit_fd, CASE_BOUND),
    ("50 checkpoint/restart cycles with pipes, a file and a memfd: no leak", fifty_cycles, CYCLES_BOUND),
];

/// Where a case process writes the reason it skipped (none so far: every
/// case runs in the guest, as root).
const SKIP_FILE: &str = "/tmp/kselftest-files.skip";

/// `--case N`: runs case N in this process; exit status 0 passed, 1
/// failed (the diagnostics printed as TAP comments), 3 skipped.
fn run_case(i: usize) -> ! {
    // SAFETY: prctl on ourselves: restored --detach processes become our children.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    let (_, f, _) = CASES[i];
    let r = std::panic::catch_unwind(f).unwrap_or_else(|_| Err("panicked".into()));
    match r {
        Ok(()) => std::process::exit(0),
        Err(e) if e.starts_with("SKIP ") => {
            let _ = std::fs::write(SKIP_FILE, &e[5..]);
            std::process::exit(3)
        }
        Err(e) => {
            for l in e.lines() {
                println!("# {l}");
            }
            std::process::exit(1)
        }
    }
}

/// Kills every process below us (what a case left), and reaps them.
fn kill_descendants() {
    // SAFETY: getpid has no arguments.
    let me = unsafe { libc::getpid() };
    for p in cptrst::proc::descendants(me) {
        // SAFETY: kill(2) of a process this suite started (or restored).
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
    let t0 = Instant::now();
    loop {
        let mut st = 0;
        // SAFETY: waitpid into a local.
        let r = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG | libc::__WALL) };
        if r <= 0 && (cptrst::proc::descendants(me).is_empty() || t0.elapsed() > Duration::from_secs(30)) {
            return;
        }
        if r <= 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs case `i` in a process of its own, bounded by its time.
fn run_bounded(i: usize) -> Result<Option<String>, String> {
    let (_, _, bound) = CASES[i];
    let _ = std::fs::remove_file(SKIP_FILE);
    let me = std::env::current_exe().map_err(|e| format!("/proc/self/exe: {e}"))?;
    let mut c = Command::new(me).arg("--case").arg(i.to_string()).stdin(Stdio::null()).spawn().map_err(|e| format!("cannot run the case: {e}"))?;
    let t0 = Instant::now();
    let st = loop {
        if let Some(st) = c.try_wait().map_err(|e| e.to_string())? {
            break st;
        }
        if t0.elapsed() > bound {
            let _ = c.kill();
            let _ = c.wait();
            kill_descendants();
            return Err(format!("timed out after {bound:?}: killed with everything it started"));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    kill_descendants();
    match st.code() {
        Some(0) => Ok(None),
        Some(3) => Ok(Some(std::fs::read_to_string(SKIP_FILE).unwrap_or_default())),
        Some(1) => Err(String::new()),
        _ => Err(format!("the case process ended with {}", status_text(st))),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--case") {
        match args.get(1).and_then(|s| s.parse::<usize>().ok()).filter(|&i| i < CASES.len()) {
            Some(i) => run_case(i),
            None => {
                eprintln!("usage: kselftest-files [--case N]");
                std::process::exit(2)
            }
        }
    }
    // Orphans of a case (a killed case's restored processes) come to us.
    // SAFETY: prctl on ourselves.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    let only = std::env::var("KSELFTEST_FILES_ONLY").ok();
    let words: Vec<String> = only.iter().flat_map(|s| s.split(',')).filter(|w| !w.is_empty()).map(String::from).collect();
    let chosen: Vec<usize> = (0..CASES.len()).filter(|&i| words.is_empty() || words.iter().any(|w| CASES[i].0.contains(w.as_str()))).collect();
    println!("TAP version 13");
    println!("1..{}", chosen.len());
    let mut failed = 0;
    for (n, &i) in chosen.iter().enumerate() {
        let name = CASES[i].0;
        let t0 = Instant::now();
        let r = run_bounded(i);
        // Before the result: check-guest shows a failure with the lines before it.
        println!("# case {} took {:?}", n + 1, t0.elapsed());
        match r {
            Ok(None) => println!("ok {} {name}", n + 1),
            Ok(Some(why)) => println!("ok {} {name} # SKIP {}", n + 1, why.trim()),
            Err(e) => {
                failed += 1;
                for l in e.lines() {
                    println!("# {l}");
                }
                println!("not ok {} {name}", n + 1);
            }
        }
    }
    std::process::exit(if failed > 0 { 1 } else { 0 })
}
