//! Guest tests of tree restart (issue 6): each starts a self-checking tree
//! workload (cptrst-testprog `tree-check N`, `threads-check`,
//! `zombie-check`, `pgrp-check`, `shared-check`), waits until every process
//! of it is ready, checkpoints the root with `cptrst checkpoint PID -o IMG
//! --kill`, restarts it with `cptrst restart -i IMG` in the background,
//! waits until every process is back at its pid and running, sets every
//! process's `go` byte through /proc/PID/mem and expects the tool to exit
//! 0: the root's verdict, which covers its whole tree. Then what must fail
//! cleanly: a participant killed with SIGKILL while the restart runs, a
//! tree that does not hold together, a pid of the tree in use (each: exit
//! status 1, a message naming the task, no process left at any of the
//! tree's pids, nothing in D state, no `cptrst` left, kmemleak clean), and
//! 50 checkpoint/restart cycles of a 10-process tree without leaks.
//!
//! The first test pokes every workload without a checkpoint: their own
//! checks pass as they are, and fail when their state is damaged.
//!
//! Workloads are started through `cptrst-testprog reaper` (see
//! kselftest-restart). The test is a child subreaper: the children of a
//! killed tree, and a tree restored with `--detach`, end up its children.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cptrst_image as img;
use cptrst_image::sample::fix_trailer;
use cptrst_tests::corrupt;
use cptrst_tests::proc::{is_back, pid_list, wait_all_gone, wait_root_exit};
use cptrst_tests::rst::{
    comm_of, describe_task, exists, kmemleak_new_leaks, read_mem, kmemleak_start, leftovers, open_files, open_files_within, ready_word, reap, settled_memory, starttime,
    status_text, wait_gone, write_mem, Tool, READY_TIMEOUT,
};
use cptrst_tests::tap::{self, ensure};
use cptrst_tests::READY_MAGIC;
use serde_json::Value;

/// A tree restart may take this long (100 processes under TCG with KASAN).
const TREE_TIMEOUT: Duration = Duration::from_secs(600);

/// Fields 4 (ppid), 5 (pgrp) and 6 (session) of /proc/PID/stat.
fn stat_ids(pid: i32) -> Option<(i32, i32, i32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut f = s[s.rfind(')')? + 1..].split_whitespace().skip(1);
    let mut n = || f.next()?.parse().ok();
    Some((n()?, n()?, n()?))
}

/// Where a workload started `direct` writes its stderr.
const DIRECT_ERR: &str = "/tmp/tree-direct.err";

/// A tree workload: the reaper (or the root itself, `direct`), the root's
/// ready line, every live process (root first) and the zombies.
struct Tree {
    child: Child,
    info: Value,
    /// Live processes, each with its own ready word and go byte.
    pids: Vec<i32>,
    /// Zombies (no memory, no go byte).
    zombies: Vec<i32>,
    comm: String,
    /// Start time of the process now at each of `pids`.
    started: Vec<u64>,
}

impl Tree {
    /// Starts `cptrst-testprog reaper CMD...` (or CMD itself when
    /// `direct`, its stderr in /tmp/tree-direct.err: then the root is our
    /// child and [`Tree::wait_root`] gets its status), waits for the ready
    /// line and every ready word.
    fn start_as(cmd: &[&str], direct: bool) -> Result<Tree, String> {
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
        let mut child = c.stdout(Stdio::piped()).spawn().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
        let out = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).map_err(|e| e.to_string())?;
        let info: Value = match serde_json::from_str(line.trim()) {
            Ok(v) => v,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{cmd:?}: bad ready line '{}': {e}", line.trim()));
            }
        };
        let root = info["pid"].as_i64().ok_or(format!("{cmd:?}: no pid in the ready line"))? as i32;
        let mut pids = pid_list(&info, "pids")?;
        if pids.is_empty() {
            pids.push(root);
        }
        let zombies = pid_list(&info, "zombies")?;
        let mut t = Tree { child, info, pids, zombies, comm: String::new(), started: Vec::new() };
        ensure(t.pids[0] == root, || format!("{cmd:?}: the root {root} is not first in the pid list"))?;
        let ready = t.addr("ready")?;
        let t0 = Instant::now();
        for &p in &t.pids {
            while ready_word(p, ready) != Some(READY_MAGIC) {
                ensure(t0.elapsed() < READY_TIMEOUT, || format!("{cmd:?}: pid {p} never became ready"))?;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        t.comm = comm_of(root).ok_or(format!("{cmd:?}: pid {root} gone"))?;
        t.started = t.pids.iter().map(|&p| starttime(p).unwrap_or(0)).collect();
        Ok(t)
    }

    fn start(cmd: &[&str]) -> Result<Tree, String> {
        Tree::start_as(cmd, false)
    }

    fn root(&self) -> i32 {
        self.pids[0]
    }

    fn addr(&self, key: &str) -> Result<u64, String> {
        self.info[key].as_u64().ok_or(format!("no '{key}' in the ready line {}", self.info))
    }

    /// The indices of the live processes below process `i` (its children,
    /// theirs, ...), from the ready line's `ppids`.
    fn descendants(&self, i: usize) -> Result<Vec<usize>, String> {
        let ppids = pid_list(&self.info, "ppids")?;
        ensure(ppids.len() == self.pids.len(), || format!("the ready line has {} ppids for {} pids", ppids.len(), self.pids.len()))?;
        let mut below = vec![i];
        let mut k = 0;
        while k < below.len() {
            let p = self.pids[below[k]];
            below.extend((0..self.pids.len()).filter(|&c| c != 0 && ppids[c] == p));
            k += 1;
        }
        below.remove(0);
        Ok(below)
    }

    /// Every pid of the tree, zombies included.
    fn all(&self) -> impl Iterator<Item = i32> + '_ {
        self.pids.iter().chain(self.zombies.iter()).copied()
    }

    /// `cptrst checkpoint ROOT -o IMG --kill`, then waits until every pid
    /// of the tree is free.
    fn checkpoint_kill(&self, img: &str) -> Result<(), String> {
        let o = cptrst_tests::workload::cptrst(&["checkpoint", &self.root().to_string(), "-o", img, "--kill", "--stop-timeout", cptrst_tests::workload::STOP_TIMEOUT]);
        ensure(o.status.success(), || {
            format!("cptrst checkpoint {} --kill: {}: {}", self.root(), status_text(o.status), String::from_utf8_lossy(&o.stderr))
        })?;
        self.wait_all_gone(Duration::from_secs(30)).map_err(|e| format!("after checkpoint --kill: {e}"))
    }

    fn wait_all_gone(&self, timeout: Duration) -> Result<(), String> {
        wait_all_gone(self.all(), timeout)
    }

    /// Is process `i` (at `p`) back: a new task at its pid, our comm,
    /// running or sleeping, its ready word (at `ready`) set?
    fn back(&self, ready: u64, i: usize, p: i32) -> bool {
        is_back(p, self.started[i], &self.comm, ready)
    }

    /// Waits until every process of the tree is back (a new task at its
    /// pid, our comm, running or sleeping, ready word set) and every zombie
    /// is a zombie again, as long as `tool` runs (unless `detached`).
    fn wait_restored(&self, tool: &mut Tool, detached: bool) -> Result<(), String> {
        let t0 = Instant::now();
        let ready = self.addr("ready")?;
        loop {
            let missing: Vec<i32> = self.pids.iter().enumerate().filter(|&(i, &p)| !self.back(ready, i, p)).map(|(_, &p)| p).collect();
            let not_zombie: Vec<i32> =
                self.zombies.iter().copied().filter(|&z| cptrst::proc::state(z) != Some('Z')).collect();
            if missing.is_empty() && not_zombie.is_empty() {
                return Ok(());
            }
            if !detached {
                if let Some(st) = tool.child.try_wait().map_err(|e| e.to_string())? {
                    return Err(format!(
                        "cptrst restart ended ({}) before the tree ran again ({} of {} processes back):\n{}",
                        status_text(st),
                        self.pids.len() - missing.len(),
                        self.pids.len(),
                        tool.output()
                    ));
                }
            }
            if t0.elapsed() > TREE_TIMEOUT {
                let first = missing.first().or(not_zombie.first()).copied().unwrap_or(0);
                return Err(format!(
                    "after {TREE_TIMEOUT:?}, {} processes not back and {} zombies not zombies; pid {first}: comm {:?}, state {:?}",
                    missing.len(),
                    not_zombie.len(),
                    comm_of(first),
                    cptrst::proc::state(first)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sets every process's go byte, the deepest (last) first.
    fn go(&self) -> Result<(), String> {
        let go = self.addr("go")?;
        for &p in self.pids.iter().rev() {
            write_mem(p, go, &[1])?;
        }
        Ok(())
    }

    /// The pids' parents, groups and sessions now, against the ready line
    /// (`ppids`, `pgids`, `sids`, those it has).
    fn check_ids(&self) -> Result<(), String> {
        let mut errs = Vec::new();
        for (k, key) in ["ppids", "pgids", "sids"].iter().enumerate() {
            let want = pid_list(&self.info, key)?;
            for (i, (&p, &w)) in self.pids.iter().zip(want.iter()).enumerate() {
                if i == 0 && k == 0 {
                    continue; // the root's parent is the tool
                }
                let got = stat_ids(p).map(|s| [s.0, s.1, s.2][k]);
                if got != Some(w) {
                    errs.push(format!("process {i} (pid {p}): {} {got:?}, want {w}", &key[..key.len() - 1]));
                }
            }
        }
        for &z in &self.zombies {
            let got = stat_ids(z).map(|s| s.0);
            if got != Some(self.root()) {
                errs.push(format!("zombie {z}: parent {got:?}, want the root {}", self.root()));
            }
        }
        ensure(errs.is_empty(), || errs.join("\n"))
    }

    /// When started `direct`: waits for the root's exit status.
    fn wait_root(&mut self, timeout: Duration) -> Result<std::process::ExitStatus, String> {
        let root = self.root();
        wait_root_exit(&mut self.child, root, timeout)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        // The original or the restored processes, if they are still ours.
        for p in self.pids.iter().copied() {
            if comm_of(p).as_deref() == Some(self.comm.as_str()) {
                // SAFETY: kill(2) of this test's workload.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for p in self.all() {
            let _ = wait_gone(p, Duration::from_secs(5));
        }
    }
}

/// The workloads and what a test checks of them from outside.
const WORKLOADS: &[&[&str]] = &[
    &["cptrst-testprog", "tree-check", "10"],
    &["cptrst-testprog", "threads-check"],
    &["cptrst-testprog", "zombie-check"],
    &["cptrst-testprog", "pgrp-check"],
    &["cptrst-testprog", "shared-check"],
];

/// Each workload started directly (the root our child), poked without a
/// checkpoint: exit status 0. Then tree-check with one process's page
/// damaged: exit status 1 and a message naming that process.
fn poke_without_checkpoint() -> Result<(), String> {
    let mut fails = Vec::new();
    for cmd in WORKLOADS {
        let r = (|| {
            let mut t = Tree::start_as(cmd, true)?;
            t.check_ids_before()?;
            t.go()?;
            let st = t.wait_root(Duration::from_secs(120))?;
            let err = std::fs::read_to_string(DIRECT_ERR).unwrap_or_default();
            ensure(st.success(), || format!("{}, want 0; stderr:\n{err}", status_text(st)))
        })();
        if let Err(e) = r {
            fails.push(format!("{cmd:?}: {e}"));
        }
    }
    let r = (|| {
        let mut t = Tree::start_as(&["cptrst-testprog", "tree-check", "5"], true)?;
        let victim = t.pids[4];
        let at = t.addr("page")? + 100;
        let b = read_mem(victim, at, 1)?;
        write_mem(victim, at, &[!b[0]])?;
        t.go()?;
        let st = t.wait_root(Duration::from_secs(60))?;
        let err = std::fs::read_to_string(DIRECT_ERR).unwrap_or_default();
        let want = format!("process 4 (pid {victim}): page byte 100");
        ensure(st.code() == Some(1) && err.contains(&want), || {
            format!("tree-check 5 with process 4's page damaged: {}, want exit status 1 and '{want}'; stderr:\n{err}", status_text(st))
        })
    })();
    if let Err(e) = r {
        fails.push(e);
    }
    ensure(fails.is_empty(), || fails.join("\n"))
}

impl Tree {
    /// Before any checkpoint: the ids in the ready line are the ones /proc shows.
    fn check_ids_before(&self) -> Result<(), String> {
        let mut errs = Vec::new();
        for (k, key) in ["ppids", "pgids", "sids"].iter().enumerate() {
            for (i, (&p, &w)) in self.pids.iter().zip(pid_list(&self.info, key)?.iter()).enumerate() {
                let got = stat_ids(p).map(|s| [s.0, s.1, s.2][k]);
                if got != Some(w) {
                    errs.push(format!("process {i} (pid {p}): {key} {got:?} in /proc, the ready line says {w}"));
                }
            }
        }
        ensure(errs.is_empty(), || errs.join("\n"))
    }
}

/// The whole round trip: start `cmd`, checkpoint --kill, `cptrst restart
/// -i IMG`, wait for the tree, check it from outside (`extra`), go, want
/// exit status 0 from the tool (the root's verdict).
fn round_trip(cmd: &[&str], tag: &str, extra: fn(&Tree) -> Result<(), String>) -> Result<(), String> {
    let t = Tree::start(cmd)?;
    let image = format!("/tmp/tree-{tag}.img");
    let r = (|| {
        let t0 = Instant::now();
        t.checkpoint_kill(&image)?;
        let t1 = Instant::now();
        let mut tool = Tool::restart(&["-i", &image], tag)?;
        t.wait_restored(&mut tool, false)?;
        println!(
            "# {}: {} processes, {} zombies: checkpoint {:?}, restart {:?}",
            cmd[1..].join(" "),
            t.pids.len(),
            t.zombies.len(),
            t1 - t0,
            t1.elapsed()
        );
        t.check_ids()?;
        extra(&t)?;
        t.go()?;
        let st = tool.wait(TREE_TIMEOUT)?;
        ensure(st.success(), || format!("`{}`: {}, want 0 (the root's verdict)\n{}", tool.what, status_text(st), tool.output()))
    })();
    let _ = std::fs::remove_file(&image);
    r
}

fn nothing(_: &Tree) -> Result<(), String> {
    Ok(())
}

fn tree_2() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "tree-check", "2"], "t2", nothing)
}

fn tree_10() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "tree-check", "10"], "t10", nothing)
}

fn tree_100() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "tree-check", "100"], "t100", nothing)
}

/// The restored process has the same 4 threads (tids).
fn threads_back(t: &Tree) -> Result<(), String> {
    let mut want = pid_list(&t.info, "tids")?;
    want.sort();
    let mut got: Vec<i32> = std::fs::read_dir(format!("/proc/{}/task", t.root()))
        .map_err(|e| format!("/proc/PID/task: {e}"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    got.sort();
    ensure(got == want, || format!("threads {got:?} after the restart, want {want:?}"))
}

fn threads() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "threads-check"], "threads", threads_back)
}

fn zombies() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "zombie-check"], "zombie", nothing)
}

fn pgrp() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "pgrp-check"], "pgrp", nothing)
}

/// Both processes map the page shared (`s` in /proc/PID/maps).
fn shared_mapped(t: &Tree) -> Result<(), String> {
    let addr = t.addr("shared")?;
    for &p in &t.pids {
        let maps = std::fs::read_to_string(format!("/proc/{p}/maps")).map_err(|e| e.to_string())?;
        let line = maps
            .lines()
            .find(|l| l.split('-').next().and_then(|a| u64::from_str_radix(a, 16).ok()) == Some(addr))
            .ok_or(format!("pid {p}: no mapping at {addr:#x} after the restart"))?;
        ensure(line.split_whitespace().nth(1).is_some_and(|perm| perm.ends_with('s')), || {
            format!("pid {p}: the mapping at {addr:#x} is not shared: {line}")
        })?;
    }
    Ok(())
}

fn shared() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "shared-check"], "shared", shared_mapped)
}

/// After a failed restart of `t`'s image: no process at any pid of the
/// tree (within 10 s), nothing in D state, no `cptrst` left.
fn nothing_left(t: &Tree) -> Vec<String> {
    let mut why = Vec::new();
    let t0 = Instant::now();
    for p in t.all() {
        while exists(p) && t0.elapsed() < Duration::from_secs(10) {
            reap(p);
            std::thread::sleep(Duration::from_millis(10));
        }
        if exists(p) {
            why.push(format!("pid {p} exists afterwards (comm {:?}, state {:?})", comm_of(p), cptrst::proc::state(p)));
            // SAFETY: kill(2) of what the failed restart left at a pid of our tree.
            unsafe { libc::kill(p, libc::SIGKILL) };
            let _ = wait_gone(p, Duration::from_secs(10));
        }
    }
    why.extend(leftovers());
    why
}

/// The image restarts after the failures, and the tree passes its check.
fn restarts_after(t: &Tree, image: &str, tag: &str) -> Result<(), String> {
    let mut tool = Tool::restart(&["-i", image], tag)?;
    t.wait_restored(&mut tool, false)?;
    t.go()?;
    tool.expect_ok()
}

/// `cptrst restart` of a 10-process tree; a non-root participant killed
/// with SIGKILL while it runs: as soon as its pid appears (process 1,
/// which has children), then (second round) 100 ms after the last pid
/// appeared (process 9). The tool exits 1, nothing is left, kmemleak finds
/// nothing; then the image restarts.
fn kill_participant() -> Result<(), String> {
    let have_kml = kmemleak_start();
    let t = Tree::start(&["cptrst-testprog", "tree-check", "10"])?;
    let image = "/tmp/tree-kill.img";
    let r = (|| {
        t.checkpoint_kill(image)?;
        let mut fails = Vec::new();
        for (round, victim, delay) in [(1, 1usize, Duration::ZERO), (2, 9, Duration::from_millis(100))] {
            let vpid = t.pids[victim];
            let mut tool = Tool::restart(&["-i", image], "kill")?;
            let t0 = Instant::now();
            let seen = loop {
                if exists(vpid) {
                    break Some(t0.elapsed());
                }
                if let Some(st) = tool.child.try_wait().map_err(|e| e.to_string())? {
                    fails.push(format!(
                        "round {round}: cptrst restart ended ({}) before participant {victim} (pid {vpid}) appeared:\n{}",
                        status_text(st),
                        tool.output()
                    ));
                    break None;
                }
                if t0.elapsed() > TREE_TIMEOUT {
                    fails.push(format!("round {round}: participant {victim} (pid {vpid}) did not appear in {TREE_TIMEOUT:?}"));
                    break None;
                }
                std::thread::sleep(Duration::from_millis(1));
            };
            let Some(seen) = seen else { continue };
            std::thread::sleep(delay);
            let state = cptrst::proc::state(vpid);
            // SAFETY: kill(2) of a participant of our restart.
            unsafe { libc::kill(vpid, libc::SIGKILL) };
            let st = tool.wait(TREE_TIMEOUT)?;
            println!("# round {round}: killed participant {victim} (pid {vpid}, state {state:?}) {seen:?} after the tool started");
            let mut why = Vec::new();
            if st.code() != Some(1) {
                why.push(format!("{}, want exit status 1", status_text(st)));
            }
            if tool.stderr().trim().is_empty() {
                why.push("the tool said nothing".into());
            }
            why.extend(nothing_left(&t));
            if !why.is_empty() {
                fails.push(format!("round {round}:\n  {}\n  {}", why.join("\n  "), tool.output().trim_end()));
            }
        }
        if have_kml {
            if let Some(l) = kmemleak_new_leaks().filter(|l| !l.trim().is_empty()) {
                fails.push(format!("kmemleak:\n{l}"));
            }
        }
        if fails.is_empty() {
            restarts_after(&t, image, "kill-ok").map_err(|e| format!("the image after the killed restarts: {e}"))?;
        }
        ensure(fails.is_empty(), || fails.join("\n"))
    })();
    let _ = std::fs::remove_file(image);
    r
}

/// TREE entry `i`'s field at `field` (a u32) in the image `b`.
fn tree_field(recs: &[corrupt::Rec], i: usize, field: usize) -> Result<usize, String> {
    let tree = recs.iter().find(|r| r.kind == img::RECORD_TREE).ok_or("no TREE record")?;
    let at = tree.payload() + img::TREE_FIXED_LEN + i * img::TREE_ENTRY_LEN + field;
    ensure(at + 4 <= tree.payload() + tree.len, || format!("no TREE entry {i}"))?;
    Ok(at)
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// A 2-process image made inconsistent, CRC fixed: the child's parent
/// not in the tree; the child at the root's pid; the child's TASK record
/// naming another pid than its TREE entry. Each refused: exit status 1, the
/// image crate's message (naming the task), nothing left. Then the good
/// image restarts.
fn mismatched_tree() -> Result<(), String> {
    // TreeEntry: flags, nr_levels, tgid, ppid, pgid, sid, exit_code,
    // exit_signal, mm_id, reserved, pids[].
    const TGID: usize = 8;
    const PPID: usize = 12;
    const PID0: usize = 40;
    let t = Tree::start(&["cptrst-testprog", "tree-check", "2"])?;
    let good = "/tmp/tree-good.img";
    let bad = "/tmp/tree-bad.img";
    let r = (|| {
        t.checkpoint_kill(good)?;
        let data = std::fs::read(good).map_err(|e| e.to_string())?;
        let recs = corrupt::records(&data)?;
        let (root, child) = (t.pids[0] as u32, t.pids[1] as u32);
        let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
        let mut b = data.clone();
        put_u32(&mut b, tree_field(&recs, 1, PPID)?, child);
        variants.push((format!("task 1 (pid {child}): parent {child}, itself"), b));
        let mut b = data.clone();
        put_u32(&mut b, tree_field(&recs, 1, PID0)?, root);
        put_u32(&mut b, tree_field(&recs, 1, TGID)?, root);
        variants.push((format!("task 1: pid {root}, the root's"), b));
        let task1 = recs.iter().filter(|r| r.kind == img::RECORD_TASK).nth(1).ok_or("no second TASK record")?;
        let mut b = data.clone();
        put_u32(&mut b, task1.payload() + 4, child + 1);
        variants.push((format!("the TASK record of task 1 says pid {}", child + 1), b));
        let mut fails = Vec::new();
        for (name, mut b) in variants {
            fix_trailer(&mut b);
            let want = match img::validate(&b) {
                Err(e) => e.to_string(),
                Ok(_) => return Err(format!("test bug: '{name}': the image crate accepts it")),
            };
            std::fs::write(bad, &b).map_err(|e| e.to_string())?;
            let mut tool = Tool::restart(&["-i", bad], "bad")?;
            let st = tool.wait(TREE_TIMEOUT)?;
            let err = tool.stderr();
            let mut why = Vec::new();
            if st.code() != Some(1) {
                why.push(format!("{}, want exit status 1", status_text(st)));
            }
            if !err.contains(&want) {
                why.push(format!("the message does not contain '{want}'"));
            }
            why.extend(nothing_left(&t));
            if !why.is_empty() {
                fails.push(format!("{name}:\n  {}\n  stderr: {}", why.join("\n  "), err.trim_end()));
            }
        }
        let _ = std::fs::remove_file(bad);
        if fails.is_empty() {
            restarts_after(&t, good, "good").map_err(|e| format!("the undamaged image after the refusals: {e}"))?;
        }
        ensure(fails.is_empty(), || fails.join("\n"))
    })();
    let _ = std::fs::remove_file(good);
    r
}

/// A 3-process tree checkpointed with --resume; the root killed (its
/// children live on, now ours): the restart cannot create task 1 at its
/// pid. Exit status 1, a message naming the pid, the root's pid free
/// again, the processes holding the pids untouched.
fn child_pid_in_use() -> Result<(), String> {
    let t = Tree::start(&["cptrst-testprog", "tree-check", "3"])?;
    let image = "/tmp/tree-busy.img";
    let r = (|| {
        let o = cptrst_tests::workload::cptrst(&["checkpoint", &t.root().to_string(), "-o", image, "--resume", "--stop-timeout", cptrst_tests::workload::STOP_TIMEOUT]);
        ensure(o.status.success(), || format!("checkpoint --resume: {}", String::from_utf8_lossy(&o.stderr)))?;
        // SAFETY: kill(2) of our workload's root.
        unsafe { libc::kill(t.root(), libc::SIGKILL) };
        wait_gone(t.root(), Duration::from_secs(10))?;
        let mut tool = Tool::restart(&["-i", image], "busy")?;
        let st = tool.wait(TREE_TIMEOUT)?;
        let err = tool.stderr();
        ensure(st.code() == Some(1), || format!("{}, want exit status 1\n{}", status_text(st), tool.output()))?;
        let named = t.pids[1..].iter().any(|p| err.contains(&p.to_string()));
        ensure(named, || format!("the message names neither pid {} nor {}:\n{err}", t.pids[1], t.pids[2]))?;
        let low = err.to_lowercase();
        ensure(low.contains("in use") || low.contains("file exists") || low.contains("eexist"), || {
            format!("the message does not say a pid is in use (EEXIST):\n{err}")
        })?;
        let t0 = Instant::now();
        while exists(t.root()) && t0.elapsed() < Duration::from_secs(10) {
            reap(t.root());
            std::thread::sleep(Duration::from_millis(10));
        }
        ensure(!exists(t.root()), || format!("pid {} (the root) exists after the refusal", t.root()))?;
        for (i, &p) in t.pids.iter().enumerate().skip(1) {
            ensure(comm_of(p).as_deref() == Some(t.comm.as_str()) && starttime(p) == Some(t.started[i]), || {
                format!("the process holding pid {p} is gone or replaced")
            })?;
        }
        let l = leftovers();
        ensure(l.is_empty(), || l.join("\n"))
    })();
    let _ = std::fs::remove_file(image);
    r
}

/// Issue 12: kills at random points of a restart. In each round, after a
/// random delay (0-1.5 s, from a seeded generator: `KILL_SEED=N` replays a
/// run; `KILL_ROUNDS`, `KILL_MAX_MS` and `KILL_HANG_S` widen it while
/// debugging), either the tool or a random participant gets SIGKILL. A
/// restart that had not finished fails (the tool exits non-zero or was the
/// one killed); one that had finished is a running tree, in which the
/// processes below the victim die of their restored parent-death signal
/// (SIGKILL), and which the test kills. A round that does neither reports
/// what every task is doing (state, wait channel, kernel stack).
/// Either way nothing is left: every pid free, no task in D state, no
/// `cptrst` process. After all rounds the open-file count and Slab are
/// where they were, and the image still restarts into a tree that passes
/// its own check.
fn kill_at_random_points() -> Result<(), String> {
    const SLAB_TOLERANCE_KIB: u64 = 1024;
    let env = |name: &str, default: u64| std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    let seed = env("KILL_SEED", 0x5eed_c0de);
    // While debugging: more rounds (KILL_ROUNDS), a wider window (KILL_MAX_MS).
    let rounds = env("KILL_ROUNDS", 12) as u32;
    let max_ms = env("KILL_MAX_MS", 1500).max(1);
    // ... and a shorter bound on a hang (KILL_HANG_S).
    let hang = Duration::from_secs(env("KILL_HANG_S", TREE_TIMEOUT.as_secs()));
    let mut x = seed | 1;
    let mut rand = move |n: u64| {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let t = Tree::start(&["cptrst-testprog", "tree-check", "10"])?;
    let image = "/tmp/tree-rkill.img";
    t.checkpoint_kill(image)?;
    println!("# KILL_SEED={seed}");
    let (files0, slab0) = (open_files(), settled_memory().0);
    let mut fails = Vec::new();
    let (mut killed_tool, mut killed_part, mut finished) = (0, 0, 0);
    let ready = t.addr("ready")?;
    for round in 1..=rounds {
        let delay = Duration::from_millis(rand(max_ms));
        let victim = rand(t.pids.len() as u64 + 1) as usize; // pids.len(): the tool
        // The victim's processes below it die with it once the tree runs
        // again: each has PR_SET_PDEATHSIG(SIGKILL) in the image.
        let below = if victim < t.pids.len() { t.descendants(victim)? } else { Vec::new() };
        let mut tool = Tool::restart(&["-i", image], "rkill")?;
        std::thread::sleep(delay);
        let what = if victim == t.pids.len() {
            killed_tool += 1;
            let _ = tool.child.kill();
            "the tool".to_string()
        } else {
            killed_part += 1;
            let p = t.pids[victim];
            // Its pid appears once its parent has created it.
            let t0 = Instant::now();
            while !exists(p) && tool.child.try_wait().map_err(|e| e.to_string())?.is_none() && t0.elapsed() < TREE_TIMEOUT {
                std::thread::sleep(Duration::from_millis(1));
            }
            if exists(p) {
                // SAFETY: kill(2) of a task at a pid of our tree: a
                // participant, or the restored process.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            format!("participant {victim} (pid {p})")
        };
        // The tool ends by itself, or the restart had finished and the tool
        // waits for the root: then every process but the victim is back,
        // and the test ends the tree. Anything else past the bound hangs.
        let t0 = Instant::now();
        let hung = loop {
            if tool.child.try_wait().map_err(|e| e.to_string())?.is_some() {
                break false;
            }
            let dead = |p: i32| matches!(cptrst::proc::state(p), None | Some('Z') | Some('X'));
            if t.pids.iter().enumerate().all(|(i, &p)| i == victim || t.back(ready, i, p) || below.contains(&i) && dead(p)) {
                finished += 1;
                // Each process below the victim gets its parent's death
                // signal (the restored PR_SET_PDEATHSIG), in cascade.
                let t1 = Instant::now();
                while below.iter().any(|&i| !dead(t.pids[i])) && t1.elapsed() < TREE_TIMEOUT {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let alive: Vec<i32> = below.iter().map(|&i| t.pids[i]).filter(|&p| !dead(p)).collect();
                if !alive.is_empty() {
                    fails.push(format!(
                        "round {round}: {alive:?} below the killed participant {victim} still run {TREE_TIMEOUT:?} later (their PR_SET_PDEATHSIG is SIGKILL)"
                    ));
                }
                for &p in &t.pids {
                    if comm_of(p).as_deref() == Some(t.comm.as_str()) {
                        // SAFETY: kill(2) of the restored tree, ours.
                        unsafe { libc::kill(p, libc::SIGKILL) };
                    }
                }
                break false;
            }
            if t0.elapsed() > hang {
                break true;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if hung {
            // What everyone is doing, before the kill changes it.
            let mut who = vec![format!("the tool: {}", describe_task(tool.child.id() as i32))];
            who.extend(t.pids.iter().enumerate().map(|(i, &p)| format!("participant {i}: {}", describe_task(p))));
            println!("# round {round} hangs:\n# {}", who.join("\n").replace('\n', "\n# "));
            let _ = tool.child.kill();
        }
        let st = tool.wait(TREE_TIMEOUT)?;
        println!("# round {round}: killed {what} after {delay:?}; the tool: {}", status_text(st));
        let mut why = nothing_left(&t);
        if hung {
            why.insert(0, format!("the tool neither ended nor restarted the tree in {hang:?}"));
        }
        if !why.is_empty() {
            fails.push(format!("round {round} (killed {what} after {delay:?}):\n  {}\n  {}", why.join("\n  "), tool.output().trim_end()));
        }
    }
    let files1 = open_files_within(files0.map(|f| f + 16), Duration::from_secs(60));
    let slab1 = settled_memory().0;
    println!("# {rounds} rounds: tool killed {killed_tool}, a participant {killed_part}; {finished} had restarted the tree");
    println!("# open files {files0:?} -> {files1:?}; Slab {slab0} -> {slab1} KiB");
    if files1 > files0.map(|f| f + 16) {
        fails.push(format!("open files grew from {files0:?} to {files1:?}"));
    }
    if slab1 > slab0 + SLAB_TOLERANCE_KIB {
        fails.push(format!("Slab grew by {} KiB (tolerance {SLAB_TOLERANCE_KIB})", slab1 - slab0));
    }
    // The image still restarts whole.
    let r = restarts_after(&t, image, "rkill-good");
    let _ = std::fs::remove_file(image);
    if let Err(e) = r {
        fails.push(format!("after the rounds, the undamaged image: {e}"));
    }
    ensure(fails.is_empty(), || fails.join("\n"))
}

/// 50 checkpoint --kill / restart --detach cycles of a 10-process tree,
/// then its own check; kmemleak finds nothing new, and Slab and
/// VmallocUsed after cycle 50 are within a tolerance of after cycle 10.
fn fifty_cycles() -> Result<(), String> {
    const CYCLES: u32 = 50;
    const SLAB_TOLERANCE_KIB: u64 = 1024;
    const VMALLOC_TOLERANCE_KIB: u64 = 512;
    let have_kml = kmemleak_start();
    let t = Tree::start(&["cptrst-testprog", "tree-check", "10"])?;
    let image = "/tmp/tree-cycle.img";
    let t0 = Instant::now();
    let mut at10 = (0, 0);
    for i in 1..=CYCLES {
        let r = (|| {
            t.checkpoint_kill(image)?;
            let mut tool = Tool::restart(&["-i", image, "--detach"], "cycle")?;
            let st = tool.wait(TREE_TIMEOUT)?;
            ensure(st.success(), || format!("restart --detach: {}\n{}", status_text(st), tool.output()))?;
            t.wait_restored(&mut tool, true)
        })();
        r.map_err(|e| format!("cycle {i}: {e}"))?;
        if i == 10 {
            at10 = settled_memory();
        }
    }
    let at50 = settled_memory();
    let took = t0.elapsed();
    let _ = std::fs::remove_file(image);
    // The root is our child now (subreaper): its status is the verdict.
    t.go()?;
    let t1 = Instant::now();
    let status = loop {
        if let Some(st) = reap(t.root()) {
            break Some(st);
        }
        if !exists(t.root()) {
            break None;
        }
        ensure(t1.elapsed() < Duration::from_secs(120), || "the restored root did not exit after go".into())?;
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut fails = Vec::new();
    match status {
        Some(st) if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0 => {}
        Some(st) => fails.push(format!("after {CYCLES} cycles the tree's own check failed: wait status {st:#x}")),
        None => fails.push("the restored root exited, but not as a child of this test: no status".into()),
    }
    println!("# {CYCLES} cycles in {took:?}");
    println!("# Slab after cycle 10: {} KiB, after cycle {CYCLES}: {} KiB; VmallocUsed: {} -> {} KiB", at10.0, at50.0, at10.1, at50.1);
    if at50.0 > at10.0 + SLAB_TOLERANCE_KIB {
        fails.push(format!("Slab grew by {} KiB from cycle 10 to {CYCLES} (tolerance {SLAB_TOLERANCE_KIB})", at50.0 - at10.0));
    }
    if at50.1 > at10.1 + VMALLOC_TOLERANCE_KIB {
        fails.push(format!("VmallocUsed grew by {} KiB from cycle 10 to {CYCLES} (tolerance {VMALLOC_TOLERANCE_KIB})", at50.1 - at10.1));
    }
    if have_kml {
        if let Some(l) = kmemleak_new_leaks().filter(|l| !l.trim().is_empty()) {
            fails.push(format!("kmemleak after {CYCLES} cycles:\n{l}"));
        }
    } else {
        println!("# kmemleak not available: leak check by Slab/VmallocUsed only");
    }
    ensure(fails.is_empty(), || fails.join("\n"))
}

fn main() {
    // Orphans (children of a killed tree, trees restored with --detach)
    // become our children.
    // SAFETY: prctl on ourselves.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    let tests: &[tap::Test] = &[
        ("every tree workload passes its own check without a checkpoint", poke_without_checkpoint),
        ("tree of 2 processes continues", tree_2),
        ("tree of 10 processes of mixed depth continues", tree_10),
        ("tree of 100 processes of mixed depth continues", tree_100),
        ("4 threads: each its own registers, TLS and xmm", threads),
        ("zombies reaped after restart with their statuses", zombies),
        ("session and process groups preserved", pgrp),
        ("MAP_SHARED anonymous page still shared by parent and child", shared),
        ("kill -9 of a participant mid-restart: exit 1, nothing left", kill_participant),
        ("kill -9 of the tool or a participant at random points: nothing left", kill_at_random_points),
        ("refusal: an inconsistent tree names the task, leaves nothing", mismatched_tree),
        ("refusal: a child's pid in use (EEXIST), exit status 1", child_pid_in_use),
        ("50 tree checkpoint/restart cycles: state kept, no leak", fifty_cycles),
    ];
    // KSELFTEST_TREE_ONLY=WORD[,WORD...]: only the tests whose name
    // contains one of the words (while debugging one case).
    match std::env::var("KSELFTEST_TREE_ONLY") {
        Ok(only) => {
            let words: Vec<&str> = only.split(',').filter(|w| !w.is_empty()).collect();
            let some: Vec<tap::Test> = tests.iter().copied().filter(|(n, _)| words.iter().any(|w| n.contains(w))).collect();
            tap::run(&some)
        }
        Err(_) => tap::run(tests),
    }
}
