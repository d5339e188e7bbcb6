//! The self-checking workloads of the guest suites kselftest-files,
//! kselftest-signals and kselftest-live, and what they share with
//! kselftest-tree: [`Proc`]
//! (a workload started through `cptrst-testprog reaper`, or directly: its
//! ready line and ready words, checkpoint, waiting until it is back after
//! a restart, its `go` bytes, its own check after the 50 cycles), the
//! checks of a refused restart, the uid-1000 command setup, and the
//! harness ([`run_cases`]) that runs each case in a process of its own,
//! bounded, as TAP.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::rst::{comm_of, exists, kmemleak_new_leaks, leftovers, ready_word, reap, starttime, status_text, wait_gone, write_mem, Tool, READY_TIMEOUT, TOOL_TIMEOUT};
use crate::tap::ensure;
use crate::workload::{cptrst, STOP_TIMEOUT};
use crate::READY_MAGIC;

/// How long a case may take (the 50 cycles: [`CYCLES_BOUND`]).
pub const CASE_BOUND: Duration = Duration::from_secs(300);
pub const CYCLES_BOUND: Duration = Duration::from_secs(900);

/// How long a restored tree may take to be back (TCG, KASAN, a busy host).
pub const BACK_TIMEOUT: Duration = Duration::from_secs(240);

/// A case of a suite: its name, the test, its bound.
pub type Case = (&'static str, fn() -> Result<(), String>, Duration);

/// The pid list `key` of a ready line (none: empty).
pub fn pid_list(info: &Value, key: &str) -> Result<Vec<i32>, String> {
    match &info[key] {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .map(|v| v.as_i64().map(|p| p as i32).ok_or(format!("'{key}' in the ready line is not a pid list: {info}")))
            .collect(),
        _ => Err(format!("'{key}' in the ready line is not a list: {info}")),
    }
}

/// Waits until no process has any of `pids` (`timeout` for them all).
pub fn wait_all_gone(pids: impl Iterator<Item = i32>, timeout: Duration) -> Result<(), String> {
    let t0 = Instant::now();
    let mut errs = Vec::new();
    for p in pids {
        if let Err(e) = wait_gone(p, timeout.saturating_sub(t0.elapsed()).max(Duration::from_millis(100))) {
            errs.push(e);
        }
    }
    ensure(errs.is_empty(), || errs.join("\n"))
}

/// Is `p` back: a new task at the pid (not the one that started at
/// `started`), comm `comm`, running or sleeping, its ready word (at
/// `ready`) set?
pub fn is_back(p: i32, started: u64, comm: &str, ready: u64) -> bool {
    starttime(p).is_some_and(|t| t != started)
        && comm_of(p).as_deref() == Some(comm)
        && matches!(cptrst::proc::state(p), Some('R') | Some('S'))
        && ready_word(p, ready) == Some(READY_MAGIC)
}

/// Waits for the exit status of `child`, the root `root` of a workload
/// started directly (an error after `timeout`).
pub fn wait_root_exit(child: &mut Child, root: i32, timeout: Duration) -> Result<ExitStatus, String> {
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(st);
        }
        ensure(t0.elapsed() < timeout, || format!("the root {root} did not exit {timeout:?} after go"))?;
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A workload: the reaper that started it (or the root itself, `direct`),
/// its ready line, every live process (root first).
pub struct Proc {
    pub child: Child,
    pub info: Value,
    pub pids: Vec<i32>,
    pub comm: String,
    /// Start time of the process now at each of `pids`.
    pub started: Vec<u64>,
}

impl Proc {
    pub fn start(cmd: &[&str]) -> Result<Proc, String> {
        Proc::start_with(cmd, None, |_| {})
    }

    /// Starts `cptrst-testprog reaper CMD...` (or CMD itself when
    /// `direct` is a path: its stderr goes there, and the root is our child),
    /// `setup` applied to the command, stdin /dev/null; waits for the
    /// ready line and every process's ready word.
    pub fn start_with(cmd: &[&str], direct: Option<&str>, setup: impl FnOnce(&mut Command)) -> Result<Proc, String> {
        let mut c = if let Some(direct_err) = direct {
            let mut c = Command::new(cmd[0]);
            let err = std::fs::File::create(direct_err).map_err(|e| format!("{direct_err}: {e}"))?;
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
                let err = direct.map(|f| std::fs::read_to_string(f).unwrap_or_default()).unwrap_or_default();
                return Err(format!("{cmd:?}: bad ready line '{}': {e}\n{err}", line.trim()));
            }
        };
        let root = info["pid"].as_i64().ok_or(format!("{cmd:?}: no pid in the ready line"))? as i32;
        let mut pids = pid_list(&info, "pids")?;
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

    pub fn root(&self) -> i32 {
        self.pids[0]
    }

    pub fn addr(&self, key: &str) -> Result<u64, String> {
        self.info[key].as_u64().ok_or(format!("no '{key}' in the ready line {}", self.info))
    }

    /// `cptrst checkpoint ROOT -o IMG EXTRA...`.
    pub fn checkpoint(&self, img: &str, extra: &[&str]) -> Result<(), String> {
        let root = self.root().to_string();
        let mut a = vec!["checkpoint", &root, "-o", img, "--stop-timeout", STOP_TIMEOUT];
        a.extend_from_slice(extra);
        let o = cptrst(&a);
        ensure(o.status.success(), || format!("cptrst {}: {}: {}", a.join(" "), status_text(o.status), String::from_utf8_lossy(&o.stderr)))
    }

    /// `cptrst checkpoint ROOT -o IMG --kill`, then waits until every pid
    /// of the tree is free.
    pub fn checkpoint_kill(&self, img: &str) -> Result<(), String> {
        self.checkpoint(img, &["--kill"])?;
        self.wait_all_gone(Duration::from_secs(60)).map_err(|e| format!("after checkpoint --kill: {e}"))
    }

    pub fn wait_all_gone(&self, timeout: Duration) -> Result<(), String> {
        wait_all_gone(self.pids.iter().copied(), timeout)
    }

    /// Is process `i` (at `p`) back: a new task at its pid, our comm,
    /// running or sleeping, its ready word set?
    pub fn back(&self, ready: u64, i: usize, p: i32) -> bool {
        is_back(p, self.started[i], &self.comm, ready)
    }

    /// Waits until every process is back, as long as `tool` runs (unless
    /// `detached`: the tool has returned already).
    pub fn wait_restored(&mut self, tool: &mut Tool, detached: bool) -> Result<(), String> {
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
    pub fn go(&self, arg: Option<u64>) -> Result<(), String> {
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

    /// [`Proc::go`] with `arg2` too (the signal workloads: the time the
    /// restart started).
    pub fn go2(&self, arg: u64, arg2: u64) -> Result<(), String> {
        let at = self.addr("arg2")?;
        for &p in &self.pids {
            write_mem(p, at, &arg2.to_le_bytes())?;
        }
        self.go(Some(arg))
    }

    /// After `cycles` restarts with `--detach` (the root is our child now:
    /// we are a subreaper): go, then its own check, from its exit status;
    /// a failed check goes to `fails`.
    pub fn own_check_after_cycles(&self, cycles: u32, fails: &mut Vec<String>) -> Result<(), String> {
        self.go(None)?;
        let t1 = Instant::now();
        let status = loop {
            if let Some(st) = reap(self.root()) {
                break Some(st);
            }
            if !exists(self.root()) {
                break None;
            }
            ensure(t1.elapsed() < Duration::from_secs(120), || "the restored process did not exit after go".into())?;
            std::thread::sleep(Duration::from_millis(10));
        };
        match status {
            Some(st) if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0 => {}
            Some(st) => fails.push(format!("after {cycles} cycles the process's own check failed: wait status {st:#x}")),
            None => fails.push("the restored process exited, but not as a child of this test: no status".into()),
        }
        Ok(())
    }

    /// The end of a cycles test: what the cycles left (D-state tasks,
    /// `cptrst` processes), the process's own check, and, when `kml`,
    /// kmemleak's new reports, added to `fails`; an error listing them all
    /// unless there are none.
    pub fn cycles_verdict(&self, cycles: u32, kml: bool, mut fails: Vec<String>) -> Result<(), String> {
        fails.extend(leftovers());
        self.own_check_after_cycles(cycles, &mut fails)?;
        if kml {
            if let Some(l) = kmemleak_new_leaks().filter(|l| !l.trim().is_empty()) {
                fails.push(format!("kmemleak after {cycles} cycles:\n{l}"));
            }
        } else {
            println!("# kmemleak not available: the leak check counts objects only");
        }
        ensure(fails.is_empty(), || fails.join("\n"))
    }

    /// Started `direct`: waits for the root's exit status.
    pub fn wait_direct(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        let root = self.root();
        wait_root_exit(&mut self.child, root, timeout)
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
pub fn nothing_left(p: &Proc) -> Result<(), String> {
    p.wait_all_gone(Duration::from_secs(30)).map_err(|e| format!("after the refusal: {e}"))?;
    let l = leftovers();
    ensure(l.is_empty(), || l.join("\n"))
}

/// Waits for a restart that must be refused; an error at once if the
/// workload comes back instead.
pub fn wait_refused(p: &Proc, t: &mut Tool) -> Result<ExitStatus, String> {
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
pub fn expect_refused(p: &Proc, mut t: Tool, want: &[&str]) -> Result<String, String> {
    let st = wait_refused(p, &mut t)?;
    let err = t.stderr();
    ensure(st.code() == Some(1), || format!("{}, want exit status 1\n{}", status_text(st), t.output()))?;
    let missing: Vec<&&str> = want.iter().filter(|w| !err.contains(**w)).collect();
    ensure(missing.is_empty(), || format!("the message does not contain {missing:?}:\n{err}"))?;
    nothing_left(p)?;
    Ok(err)
}

/// Does the error text name this errno (its name, or its strerror text)?
pub fn names_errno(err: &str, name: &str, text: &str) -> bool {
    err.contains(name) || err.contains(text)
}

/// Sets the mode bits of `path`, returns the old ones.
pub fn chmod(path: &str, mode: u32) -> Result<u32, String> {
    use std::os::unix::fs::PermissionsExt;
    let old = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?.permissions().mode() & 0o7777;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| format!("chmod {path}: {e}"))?;
    Ok(old)
}

/// Makes the command's process uid and gid 1000, no supplementary
/// groups, with CAP_CHECKPOINT_RESTORE alone (ambient, so that it holds
/// across exec: choosing pids needs it; it does not bypass file
/// permissions).
pub fn as_uid_1000_with_cap_checkpoint_restore(c: &mut Command) {
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

/// `--case N`: runs case N in this process; exit status 0 passed, 1
/// failed (the diagnostics printed as TAP comments), 3 skipped.
fn run_case(cases: &[Case], skip_file: &str, i: usize) -> ! {
    // SAFETY: prctl on ourselves: restored --detach processes become our children.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    let (_, f, _) = cases[i];
    let r = std::panic::catch_unwind(f).unwrap_or_else(|_| Err("panicked".into()));
    match r {
        Ok(()) => std::process::exit(0),
        Err(e) if e.starts_with("SKIP ") => {
            let _ = std::fs::write(skip_file, &e[5..]);
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
fn run_bounded(cases: &[Case], skip_file: &str, i: usize) -> Result<Option<String>, String> {
    let (_, _, bound) = cases[i];
    let _ = std::fs::remove_file(skip_file);
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
        Some(3) => Ok(Some(std::fs::read_to_string(skip_file).unwrap_or_default())),
        Some(1) => Err(String::new()),
        _ => Err(format!("the case process ended with {}", status_text(st))),
    }
}

/// The `main` of a suite `prog` (its `cases`): with `--case N` runs case
/// N in this process; else runs each chosen case in a process of its own,
/// bounded, as TAP. `only_var` names the environment variable that
/// chooses cases (`WORD[,WORD...]`: those whose name contains one of the
/// words); `skip_file` is where a case process writes why it skipped.
pub fn run_cases(prog: &str, only_var: &str, skip_file: &str, cases: &[Case]) -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--case") {
        match args.get(1).and_then(|s| s.parse::<usize>().ok()).filter(|&i| i < cases.len()) {
            Some(i) => run_case(cases, skip_file, i),
            None => {
                eprintln!("usage: {prog} [--case N]");
                std::process::exit(2)
            }
        }
    }
    // Orphans of a case (a killed case's restored processes) come to us.
    // SAFETY: prctl on ourselves.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    let only = std::env::var(only_var).ok();
    let words: Vec<String> = only.iter().flat_map(|s| s.split(',')).filter(|w| !w.is_empty()).map(String::from).collect();
    let chosen: Vec<usize> = (0..cases.len()).filter(|&i| words.is_empty() || words.iter().any(|w| cases[i].0.contains(w.as_str()))).collect();
    println!("TAP version 13");
    println!("1..{}", chosen.len());
    let mut failed = 0;
    for (n, &i) in chosen.iter().enumerate() {
        let name = cases[i].0;
        let t0 = Instant::now();
        let r = run_bounded(cases, skip_file, i);
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
