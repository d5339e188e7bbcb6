//! Stopping a process tree with ptrace, as the module requires before a
//! checkpoint, and letting go of it afterwards. Being the tracer is also
//! what grants the checkpoint: the kernel ran its ptrace permission and LSM
//! checks on the seize.
//!
//! The stop goes in rounds, all bounded by one deadline ([`STOP_TIMEOUT`]
//! unless the caller says otherwise): find the tree in /proc (the root, its
//! threads, its descendants through the `children` lists), refuse it if a
//! process shares its address space with a child (`vfork`, `CLONE_VM`: a
//! vfork parent sleeps in a killable-only wait that `PTRACE_INTERRUPT`
//! cannot end), seize (`PTRACE_SEIZE`) and interrupt (`PTRACE_INTERRUPT`)
//! every thread not stopped yet, and wait for their stops without ever
//! blocking (`waitpid(WNOHANG)`, woken by `SIGCHLD`). A stopped task
//! cannot create another, so the rounds end when a scan finds nothing new.
//! A task that exits meanwhile is forgotten, one that left the tree (its
//! parent exited and it was reparented out) is let go; a task that is still
//! not stopped at the deadline fails the stop with `ETIMEDOUT`, naming it.
//!
//! On failure everything this process stopped is let go as it was (running,
//! or in the group stop it was in before); a task seized but never stopped
//! cannot be detached (`PTRACE_DETACH` needs a stopped tracee) and is
//! released by the kernel when this process exits, which the tool does
//! right after the failure.
//!
//! A live checkpoint (`crate::live`) stops the tree once per round and lets
//! go of it ([`After::Resume`]) before the round's pages are copied: each
//! [`stop_tree`] is a stop of its own, with the same guarantees, and finds
//! the tree as it is then (tasks created or gone since the last one).
//!
//! With [`After::Kill`] the tree is killed and every killed task waited
//! for (as its tracer, bounded by [`KILL_WAIT`]): when the tool exits, and
//! closes the image stream, the tree has exited.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cptrst::{errno_name, proc, strerror, Failure};

/// Set by the tool's SIGINT/SIGTERM handler: the stop gives up (EINTR).
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How long stopping a tree may take, by default.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long `--kill` waits for the killed tasks to exit.
pub const KILL_WAIT: Duration = Duration::from_secs(10);

/// How often a wait re-checks what it waits for even without a `SIGCHLD`.
const RECHECK: Duration = Duration::from_millis(100);

/// `kcmp(2)`'s `KCMP_VM`: do two tasks share their `mm`?
const KCMP_VM: libc::c_int = 1;

/// What happens to the tree when the tool lets go of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Left in group stop (`SIGSTOP`): resume it with `SIGCONT`.
    Stop,
    /// Let run on, as if nothing happened.
    Resume,
    /// Killed with `SIGKILL`.
    Kill,
}

/// `SIGCHLD` blocked, so that [`wait_sigchld`] can wait for it; the old
/// mask comes back on drop.
struct SigchldBlocked {
    old: libc::sigset_t,
}

impl SigchldBlocked {
    fn new() -> SigchldBlocked {
        // SAFETY: sigset operations on locals; sigprocmask of this
        // (single-threaded) process.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGCHLD);
            libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
            SigchldBlocked { old }
        }
    }
}

impl Drop for SigchldBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new`.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// Waits up to `limit` for a `SIGCHLD` (blocked by [`SigchldBlocked`]):
/// a tracee stopped or exited.
fn wait_sigchld(limit: Duration) {
    let ts = libc::timespec { tv_sec: limit.as_secs() as libc::time_t, tv_nsec: limit.subsec_nanos() as libc::c_long };
    // SAFETY: sigtimedwait on a local set, no siginfo wanted.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigtimedwait(&set, std::ptr::null_mut(), &ts);
    }
}

/// A tree of processes stopped by this process. Dropping it resumes the
/// tree (the state it had before), unless [`Stopped::release`] said otherwise.
pub struct Stopped {
    /// Thread group ids, root first.
    pub procs: Vec<i32>,
    /// Every seized thread, in ptrace-stop.
    pub tids: BTreeSet<i32>,
    /// Seized threads that have not stopped (yet): only the kernel can let
    /// go of them, when this process exits.
    unstopped: BTreeSet<i32>,
    released: bool,
    _sigchld: SigchldBlocked,
}

fn ptrace(req: libc::c_uint, tid: i32, data: usize) -> io::Result<libc::c_long> {
    // SAFETY: the requests used here (SEIZE, INTERRUPT, DETACH, CONT,
    // GETEVENTMSG) take an integer or a pointer to a local u64 as `data`,
    // nothing else.
    let r = unsafe { libc::ptrace(req, tid, 0usize, data) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `'comm'` of a task, for messages.
fn comm(tid: i32) -> String {
    let c = std::fs::read_to_string(format!("/proc/{tid}/comm")).unwrap_or_default();
    format!("'{}'", c.trim_end())
}

/// "task T ('comm')", with its process when it is another thread.
fn task_text(tid: i32, pid: i32) -> String {
    if tid == pid {
        format!("task {tid} ({})", comm(tid))
    } else {
        format!("task {tid} ({}, a thread of process {pid})", comm(tid))
    }
}

/// "task T ('comm', state S)" of a task that does not stop.
fn stuck_text(tid: i32, pid: i32) -> String {
    let state = proc::state(tid).map_or(String::new(), |c| format!(", state {c}"));
    if tid == pid {
        format!("task {tid} ({}{state})", comm(tid))
    } else {
        format!("task {tid} ({}{state}, a thread of process {pid})", comm(tid))
    }
}

/// A failure with its errno, named: "WHAT: strerror (ENAME)".
fn errno_failure(what: impl std::fmt::Display, errno: i32) -> Failure {
    Failure::op(format!("{what}: {} ({})", strerror(errno), errno_name(errno)))
}

/// Do `a` and `b` share their address space? `None` if that cannot be
/// told (a task exited, or no `kcmp`).
fn same_mm(a: i32, b: i32) -> Option<bool> {
    // SAFETY: kcmp(2) compares two tasks' kernel objects; no memory is passed.
    let r = unsafe { libc::syscall(libc::SYS_kcmp, a as libc::c_long, b as libc::c_long, KCMP_VM as libc::c_long, 0usize, 0usize) };
    (r >= 0).then_some(r == 0)
}

/// The refusal of a process `parent` whose child `child` shares its address
/// space.
fn shared_mm_failure(parent: i32, child: i32) -> Failure {
    let why = if proc::state(parent) == Some('D') {
        format!("{parent} is waiting in vfork() for {child} to exec or exit, and cannot be stopped meanwhile")
    } else {
        format!("{parent} created {child} with clone(CLONE_VM)")
    };
    errno_failure(
        format!(
            "process {parent} ({}) and its child {child} ({}) share one address space ({why}); \
             address spaces shared between processes are not supported",
            comm(parent),
            comm(child)
        ),
        libc::EOPNOTSUPP,
    )
}

/// The tree as one scan of /proc found it.
#[derive(Default)]
struct Scan {
    /// Every process (zombies included), root first.
    procs: Vec<i32>,
    /// Every live (non-zombie) thread, with its process.
    threads: BTreeMap<i32, i32>,
    /// (thread, live child process) pairs.
    children: Vec<(i32, i32)>,
}

/// Finds the tree rooted at `root` in /proc.
fn scan(root: i32) -> Scan {
    let mut s = Scan::default();
    let mut queue = vec![root];
    while let Some(p) = queue.pop() {
        let threads = match proc::threads(p) {
            Ok(t) => t,
            Err(_) => continue, // exited meanwhile
        };
        s.procs.push(p);
        for t in threads {
            let live = proc::state(t).is_some_and(|c| c != 'Z' && c != 'X');
            for c in proc::children(p, t) {
                queue.push(c);
                if live && proc::state(c).is_some_and(|c| c != 'Z' && c != 'X') {
                    s.children.push((t, c));
                }
            }
            if live {
                s.threads.insert(t, p);
            }
        }
    }
    s
}

/// Refuses a tree in which a thread and its child process share an mm.
fn check_shared_mm(pairs: &[(i32, i32)], threads: &BTreeMap<i32, i32>) -> Result<(), Failure> {
    for &(t, c) in pairs {
        if same_mm(t, c) == Some(true) {
            return Err(shared_mm_failure(threads.get(&t).copied().unwrap_or(t), c));
        }
    }
    Ok(())
}

/// Stops the tree rooted at `root` within `timeout`.
pub fn stop_tree(root: i32, timeout: Duration) -> Result<Stopped, Failure> {
    if root <= 0 {
        return Err(Failure::usage(format!("bad pid {root}")));
    }
    if !std::path::Path::new(&format!("/proc/{root}")).exists() {
        return Err(Failure::op(format!("pid {root}: no such process")));
    }
    let deadline = Instant::now() + timeout;
    let mut st =
        Stopped { procs: Vec::new(), tids: BTreeSet::new(), unstopped: BTreeSet::new(), released: false, _sigchld: SigchldBlocked::new() };
    loop {
        // Exits of stopped tasks (killed meanwhile) are forgotten first.
        st.drain(&mut BTreeMap::new())?;
        let s = scan(root);
        if s.procs.is_empty() {
            return Err(errno_failure(format!("pid {root} exited while being stopped"), libc::ESRCH));
        }
        check_shared_mm(&s.children, &s.threads)?;
        let new: BTreeMap<i32, i32> = s.threads.iter().filter(|(t, _)| !st.tids.contains(t)).map(|(&t, &p)| (t, p)).collect();
        if new.is_empty() {
            // Settled. What was stopped and is not in the tree any more left
            // it (reparented out when its parent exited): let it go.
            let gone: Vec<i32> = st.tids.iter().copied().filter(|t| !s.threads.contains_key(t)).collect();
            for t in gone {
                let _ = ptrace(libc::PTRACE_DETACH, t, 0);
                st.tids.remove(&t);
            }
            st.procs = s.procs;
            return Ok(st);
        }
        if Instant::now() >= deadline {
            let (&t, &p) = new.iter().next().unwrap_or((&root, &root));
            return Err(errno_failure(
                format!(
                    "the tree of {root} did not settle within {} s: it keeps creating tasks ({} stopped, {} new, e.g. {})",
                    timeout.as_secs(),
                    st.tids.len(),
                    new.len(),
                    task_text(t, p)
                ),
                libc::ETIMEDOUT,
            ));
        }
        let mut pending = BTreeMap::new();
        for (&t, &p) in &new {
            match ptrace(libc::PTRACE_SEIZE, t, 0) {
                Ok(_) => {}
                // Exited since the scan (a task that has begun to exit
                // gives EPERM).
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => continue,
                Err(e) if e.raw_os_error() == Some(libc::EPERM) && !proc::state(t).is_some_and(|c| c != 'Z' && c != 'X') => continue,
                Err(e) => {
                    let tracer = proc::status_field(t, "TracerPid").filter(|v| v != "0");
                    let by = tracer.map_or(String::new(), |v| format!(" (already traced by pid {v})"));
                    st.settle(&mut pending);
                    return Err(Failure::os(format!("cannot seize {}{by}", task_text(t, p)), e));
                }
            }
            st.unstopped.insert(t);
            pending.insert(t, p);
            // ESRCH: it is exiting; its exit is waited for like a stop.
            if let Err(e) = ptrace(libc::PTRACE_INTERRUPT, t, 0) {
                if e.raw_os_error() != Some(libc::ESRCH) {
                    st.settle(&mut pending);
                    return Err(Failure::os(format!("cannot interrupt {}", task_text(t, p)), e));
                }
            }
        }
        st.wait_stops(&mut pending, deadline, timeout)?;
    }
}

impl Stopped {
    /// Takes every ptrace event there is, without blocking: a stop of a
    /// `pending` task makes it stopped, an exit forgets the task.
    fn drain(&mut self, pending: &mut BTreeMap<i32, i32>) -> Result<(), Failure> {
        loop {
            let mut status = 0;
            // SAFETY: waitpid into a local; this process's children are only
            // its tracees (the tool forks nothing while it stops a tree).
            let t = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
            if t == 0 {
                return Ok(());
            }
            if t < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::ECHILD) => return Ok(()),
                    Some(libc::EINTR) => continue,
                    _ => return Err(Failure::os("waiting for the tree to stop", e)),
                }
            }
            if !libc::WIFSTOPPED(status) {
                // Exited (or killed): forgotten.
                pending.remove(&t);
                self.unstopped.remove(&t);
                self.tids.remove(&t);
                continue;
            }
            let Some(p) = pending.get(&t).copied() else {
                continue;
            };
            if status >> 16 == 0 {
                // A signal-delivery stop: the task took a signal before the
                // interrupt. Give the signal back; the interrupt trap comes
                // next.
                let _ = ptrace(libc::PTRACE_CONT, t, libc::WSTOPSIG(status) as usize);
                continue;
            }
            // One more request returns only once the task is off its CPU
            // (`ptrace_check_attach`), as the module wants it.
            let mut msg: u64 = 0;
            match ptrace(libc::PTRACE_GETEVENTMSG, t, &mut msg as *mut u64 as usize) {
                Ok(_) => {
                    pending.remove(&t);
                    self.unstopped.remove(&t);
                    self.tids.insert(t);
                }
                // Killed meanwhile: its exit comes next.
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => return Err(Failure::os(format!("{} did not stop", task_text(t, p)), e)),
            }
        }
    }

    /// Waits until every `pending` task has stopped or exited, up to
    /// `deadline`; a pending task found waiting for a vfork child fails at
    /// once.
    fn wait_stops(&mut self, pending: &mut BTreeMap<i32, i32>, deadline: Instant, timeout: Duration) -> Result<(), Failure> {
        let mut recheck = Instant::now() + RECHECK;
        loop {
            self.drain(pending)?;
            if pending.is_empty() {
                return Ok(());
            }
            if INTERRUPTED.load(Ordering::SeqCst) {
                self.settle(pending);
                return Err(errno_failure("stopping the tree", libc::EINTR));
            }
            let now = Instant::now();
            if now >= recheck {
                recheck = now + RECHECK;
                // A task that vforked after the scan never stops.
                let pairs: Vec<(i32, i32)> =
                    pending.iter().flat_map(|(&t, &p)| proc::children(p, t).into_iter().map(move |c| (t, c))).collect();
                if let Err(f) = check_shared_mm(&pairs, pending) {
                    self.settle(pending);
                    return Err(f);
                }
            }
            if now >= deadline {
                let names: Vec<String> = pending.iter().take(8).map(|(&t, &p)| stuck_text(t, p)).collect();
                let more = if pending.len() > 8 { format!(" and {} more", pending.len() - 8) } else { String::new() };
                return Err(errno_failure(
                    format!(
                        "{}{more} did not stop within {} s (a task in an uninterruptible or killable wait, \
                         e.g. a parent waiting for its CLONE_VFORK child to exec or exit, cannot be stopped)",
                        names.join(", "),
                        timeout.as_secs()
                    ),
                    libc::ETIMEDOUT,
                ));
            }
            wait_sigchld((deadline - now).min(recheck.saturating_duration_since(now)).max(Duration::from_millis(1)));
        }
    }

    /// Before a failure: gives the other `pending` tasks a moment to stop,
    /// so that they can be let go (detached) rather than left to the
    /// tracer's exit.
    fn settle(&mut self, pending: &mut BTreeMap<i32, i32>) {
        let end = Instant::now() + Duration::from_secs(2);
        while !pending.is_empty() && Instant::now() < end {
            if self.drain(pending).is_err() {
                return;
            }
            // Only those that can stop: a vfork parent is not waited for.
            if pending.iter().all(|(&t, &p)| proc::children(p, t).into_iter().any(|c| same_mm(t, c) == Some(true))) {
                return;
            }
            wait_sigchld(Duration::from_millis(20));
        }
    }

    /// Lets go of the tree, leaving it as `after` says.
    pub fn release(mut self, after: After) {
        self.released = true;
        self.let_go(after);
    }

    /// The stopped processes (the root first).
    pub fn procs(&self) -> &[i32] {
        &self.procs
    }

    /// The stopped threads.
    pub fn tids(&self) -> &BTreeSet<i32> {
        &self.tids
    }

    /// The processes as a space-separated list.
    pub fn pid_list(&self) -> String {
        self.procs.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" ")
    }

    fn let_go(&mut self, after: After) {
        let sig = match after {
            After::Stop => libc::SIGSTOP,
            After::Kill => libc::SIGKILL,
            After::Resume => 0,
        };
        if sig != 0 {
            for &p in &self.procs {
                // SAFETY: kill(2) with a pid we stopped ourselves.
                unsafe { libc::kill(p, sig) };
            }
        }
        if after == After::Kill {
            self.wait_killed(KILL_WAIT);
            return;
        }
        for &t in &self.tids {
            let _ = ptrace(libc::PTRACE_DETACH, t, 0);
        }
    }

    /// Waits, as their tracer, until every killed task has exited (its
    /// exit reported to this process, which hands it on to its parent), up
    /// to `limit`; then warns about those still there.
    fn wait_killed(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut left: BTreeMap<i32, i32> = self.tids.iter().chain(&self.unstopped).map(|&t| (t, t)).collect();
        loop {
            loop {
                let mut status = 0;
                // SAFETY: waitpid into a local; our children are our tracees.
                let t = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
                if t > 0 {
                    if !libc::WIFSTOPPED(status) {
                        left.remove(&t);
                    }
                    continue;
                }
                if t < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                if t < 0 {
                    // ECHILD: no tracee left.
                    left.clear();
                }
                break;
            }
            let now = Instant::now();
            if left.is_empty() || now >= deadline {
                break;
            }
            wait_sigchld((deadline - now).min(RECHECK));
        }
        if let Some((&t, _)) = left.iter().next() {
            eprintln!(
                "cptrst: warning: {} of the killed tasks (e.g. task {t} {}) had not exited {} s after SIGKILL",
                left.len(),
                comm(t),
                limit.as_secs()
            );
        }
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if !self.released {
            self.let_go(After::Resume);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Each test runs in a process of its own (this test binary again,
    //! only that test): the stop waits for any child (`waitpid(-1)`),
    //! which would take other tests' children.

    use super::*;

    /// Runs the test `name` (its body is `body`) in a fresh process.
    fn isolated(name: &str, body: fn()) {
        if std::env::var("CPTRST_STOP_TEST").as_deref() == Ok(name) {
            body();
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let o = std::process::Command::new(exe)
            .args([&format!("stop::tests::{name}"), "--exact", "--test-threads=1", "--nocapture"])
            .env("CPTRST_STOP_TEST", name)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success() && out.contains("1 passed"), "{name}: {}\n{out}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    }

    /// Forks a child that runs `f` (only system calls) and never returns;
    /// it dies with its parent, as the processes it creates do.
    fn spawn(f: fn() -> !) -> i32 {
        let pid = fork();
        assert!(pid >= 0);
        if pid == 0 {
            f();
        }
        pid
    }

    /// fork(2), the child killed when its parent dies.
    fn fork() -> i32 {
        // SAFETY: fork and prctl; the callers' children make system calls only.
        unsafe {
            let pid = libc::fork();
            if pid == 0 {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            }
            pid
        }
    }

    fn sleep_forever() -> ! {
        loop {
            let ts = libc::timespec { tv_sec: 1000, tv_nsec: 0 };
            // SAFETY: a raw nanosleep of a local timespec.
            unsafe { libc::syscall(libc::SYS_nanosleep, &ts as *const libc::timespec, 0usize) };
        }
    }

    extern "C" fn clone_child(_: *mut libc::c_void) -> libc::c_int {
        // SAFETY: prctl on ourselves.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        sleep_forever()
    }

    /// Creates a child with `clone(flags)` on a stack of its own, which
    /// sleeps: with `CLONE_VFORK` the caller waits until it exits.
    fn clone_sleeper(flags: libc::c_int) -> ! {
        const STACK: usize = 64 * 1024;
        let stack = Box::leak(vec![0u8; STACK].into_boxed_slice());
        // SAFETY: the child runs on its own stack and makes raw system calls only.
        unsafe {
            let top = stack.as_mut_ptr().add(STACK - 64).cast();
            libc::clone(clone_child, top, flags | libc::SIGCHLD, std::ptr::null_mut());
        }
        sleep_forever()
    }

    fn vfork_parent() -> ! {
        clone_sleeper(libc::CLONE_VM | libc::CLONE_VFORK)
    }

    fn clone_vfork_parent() -> ! {
        clone_sleeper(libc::CLONE_VFORK)
    }

    /// Forks and reaps children that exit at once, forever; two of them at
    /// a time.
    fn fork_storm() -> ! {
        if fork() == 0 {
            storm()
        }
        storm()
    }

    fn storm() -> ! {
        loop {
            let c = fork();
            // SAFETY: _exit in the child; waitpid into a local.
            unsafe {
                if c == 0 {
                    libc::_exit(0);
                }
                let mut st = 0;
                libc::waitpid(c, &mut st, 0);
            }
        }
    }

    /// The first child of `pid`, once it has one (bounded).
    fn child_of(pid: i32) -> i32 {
        let t0 = Instant::now();
        loop {
            if let Some(&c) = proc::children(pid, pid).first() {
                return c;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "{pid} has no child");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn tracer(pid: i32) -> Option<String> {
        proc::status_field(pid, "TracerPid")
    }

    fn kill_all(pids: &[i32]) {
        for &p in pids {
            // SAFETY: kill(2) of this test's own processes.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
    }

    #[test]
    fn a_vfork_parent_is_refused_untouched() {
        isolated("a_vfork_parent_is_refused_untouched", || {
            let root = spawn(vfork_parent);
            let child = child_of(root);
            let e = stop_tree(root, Duration::from_secs(600)).err().expect("a vfork parent was stopped");
            assert!(e.msg.contains(&format!("process {root} ")) && e.msg.contains(&format!("child {child} ")), "{}", e.msg);
            assert!(e.msg.ends_with("(EOPNOTSUPP)"), "{}", e.msg);
            assert_eq!(e.status, 1);
            // Nothing was seized.
            assert_eq!(tracer(root).as_deref(), Some("0"));
            assert_eq!(tracer(child).as_deref(), Some("0"));
            kill_all(&[child, root]);
        });
    }

    #[test]
    fn a_task_that_does_not_stop_times_out() {
        isolated("a_task_that_does_not_stop_times_out", || {
            let root = spawn(clone_vfork_parent);
            let child = child_of(root);
            let e = stop_tree(root, Duration::from_secs(2)).err().expect("a CLONE_VFORK parent was stopped");
            assert!(e.msg.contains(&format!("task {root} (")) && e.msg.contains("did not stop within 2 s"), "{}", e.msg);
            assert!(e.msg.ends_with("(ETIMEDOUT)"), "{}", e.msg);
            // Its child was stopped, and let go: running, untraced.
            assert_eq!(tracer(child).as_deref(), Some("0"));
            assert!(matches!(proc::state(child), Some('S' | 'R')), "{:?}", proc::state(child));
            kill_all(&[child, root]);
        });
    }

    #[test]
    fn a_fork_storm_is_stopped_whole() {
        isolated("a_fork_storm_is_stopped_whole", || {
            let root = spawn(fork_storm);
            child_of(root);
            for _ in 0..5 {
                let st = stop_tree(root, Duration::from_secs(60)).unwrap_or_else(|f| panic!("{}", f.msg));
                // Every live task of the tree is stopped by us, nothing else.
                let s = scan(root);
                assert_eq!(s.threads.keys().copied().collect::<BTreeSet<_>>(), st.tids);
                for &t in &st.tids {
                    assert_eq!(proc::state(t), Some('t'), "task {t}");
                }
                assert_eq!(st.procs[0], root);
                let tids = st.tids.clone();
                st.release(After::Resume);
                for t in tids {
                    assert!(tracer(t).is_none_or(|v| v == "0"), "task {t} still traced");
                }
            }
            let mut all = proc::descendants(root);
            all.push(root);
            kill_all(&all);
        });
    }

    #[test]
    fn a_stopped_tree_stays_stopped_and_a_killed_one_has_exited() {
        isolated("a_stopped_tree_stays_stopped_and_a_killed_one_has_exited", || {
            let root = spawn(|| {
                if fork() == 0 {
                    sleep_forever()
                }
                sleep_forever()
            });
            let child = child_of(root);
            // SAFETY: kill(2) of our own child.
            unsafe { libc::kill(root, libc::SIGSTOP) };
            let t0 = Instant::now();
            while proc::state(root) != Some('T') {
                assert!(t0.elapsed() < Duration::from_secs(60));
                std::thread::sleep(Duration::from_millis(5));
            }
            // Failure path (drop): let go as it was: the root goes back to
            // its group stop (not at once: detached, it re-enters it), and
            // stays there; had it been resumed it would sleep ('S').
            drop(stop_tree(root, Duration::from_secs(60)).unwrap_or_else(|f| panic!("{}", f.msg)));
            assert_eq!(tracer(root).as_deref(), Some("0"));
            let t0 = Instant::now();
            while proc::state(root) != Some('T') {
                assert!(t0.elapsed() < Duration::from_secs(60), "root {root}: {:?}, not back in its stop", proc::state(root));
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(matches!(proc::state(child), Some('S' | 'R')), "{:?}", proc::state(child));
            // Killed: when release returns, no task of the tree runs.
            let st = stop_tree(root, Duration::from_secs(60)).unwrap_or_else(|f| panic!("{}", f.msg));
            st.release(After::Kill);
            for p in [root, child] {
                assert!(matches!(proc::state(p), None | Some('Z' | 'X')), "{p}: {:?}", proc::state(p));
            }
            let mut s = 0;
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(root, &mut s, 0) };
        });
    }
}
