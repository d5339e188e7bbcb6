//! Guest tests of the live (iterative pre-copy) checkpoint (issue 16):
//! `cptrst checkpoint PID --live` of programs that keep writing their
//! memory while the rounds copy it (cptrst-testprog `live-writer PAGES`:
//! one writer; `live-writer-tree PAGES THREADS SHARED`: a parent and a
//! child, each with writer threads, and a MAP_SHARED anonymous region
//! both write). Each writer keeps a version table of its pages; after a
//! restart and `go` it checks every page against it (a stale copy of an
//! earlier round shows as an old version) and the root's exit status is
//! the verdict.
//!
//! The cases: a live checkpoint with `--kill` (at least two rounds really
//! happened: the `--stats` file says so; the image is valid), then a
//! restart, every page checked; a live checkpoint into a pipe straight
//! into `cptrst restart`; the tree with threads and shared memory;
//! `--resume` (the original runs on and passes its check, then the image
//! restarts and passes it too); left stopped (every process in group
//! stop, untraced; after SIGCONT it passes its check); the ioctl called
//! directly with bad arguments (ROUND with unsorted, overlapping,
//! unaligned or too high ranges, a src 0 or a src id twice; FINAL naming
//! a pid outside the tree: each EINVAL, the workload untouched); and 50
//! live checkpoint/restart cycles without a leak (Slab and VmallocUsed as
//! kselftest-tree counts them, open files as kselftest-signals does,
//! kmemleak).
//!
//! Rounds are forced with `--downtime-target 0` (only a round with no
//! dirty page at all is "small enough"), so that the number of rounds
//! depends on what the writers dirty, not on the emulator's speed: a
//! writer writes one page in four of its own (its hot set), so round 2
//! always has less to copy than round 1 (which copies everything), and
//! at least as much as nothing. Every wait is bounded generously; nothing
//! is timed from above.
//!
//! The harness runs each case in a process of its own (`--case N`),
//! bounded (300 s; the cycles 1200 s). `KSELFTEST_LIVE_ONLY=WORD[,WORD...]`
//! runs only the cases whose name contains one of the words.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use cptrst_tests::proc::{run_cases, wait_all_gone, Case, Proc, CASE_BOUND};
use cptrst_tests::rst::{
    kmemleak_start, open_files, open_files_within, runs_untraced, settled_memory, status_text, Tool,
    TOOL_TIMEOUT,
};
use cptrst_tests::tap::ensure;
use cptrst_tests::workload::{cptrst, inspect_json, Workload, STOP_TIMEOUT};
use cptrst_uapi as uapi;
use serde_json::Value;

/// Where a workload started `direct` writes its stderr.
const DIRECT_ERR: &str = "/tmp/live-direct.err";

/// The bound of the 50 cycles.
const LIVE_CYCLES_BOUND: Duration = Duration::from_secs(1200);

/// The writer of most cases: 16 MiB.
const WRITER: &[&str] = &["cptrst-testprog", "live-writer", "4096"];
/// The tree: 2 processes of 3 writer threads, 4 MiB private each, 64
/// shared pages.
const WRITER_TREE: &[&str] = &["cptrst-testprog", "live-writer-tree", "1024", "3", "64"];

/// The options that force rounds (see the top of the file).
const FORCE_ROUNDS: &[&str] = &["--live", "--rounds", "8", "--downtime-target", "0"];

/// `cptrst checkpoint ROOT -o IMG --live ... EXTRA --stats FILE`: the
/// stats, after checking them against the stats line on stderr.
fn live_checkpoint(p: &Proc, img: &str, extra: &[&str]) -> Result<Value, String> {
    let json = format!("{img}.stats");
    let root = p.root().to_string();
    let mut a = vec!["checkpoint", &root, "-o", img, "--stop-timeout", STOP_TIMEOUT];
    a.extend_from_slice(FORCE_ROUNDS);
    a.extend_from_slice(extra);
    a.extend_from_slice(&["--stats", &json]);
    let o = cptrst(&a);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    ensure(o.status.success(), || format!("cptrst {}: {}: {err}", a.join(" "), status_text(o.status)))?;
    let stats = read_stats(&json)?;
    let _ = std::fs::remove_file(&json);
    let line = format!("cptrst: live checkpoint: {} rounds, {} pages copied while running", stats["rounds"], stats["live_pages"]);
    ensure(err.contains(&line), || format!("stderr does not have the stats line '{line}...' of {stats}:\n{err}"))?;
    println!("# {}", err.lines().find(|l| l.contains("live checkpoint:")).unwrap_or(""));
    Ok(stats)
}

/// The `--stats` file, checked: its keys, and the rounds' pages add up.
fn read_stats(path: &str) -> Result<Value, String> {
    let s = std::fs::read_to_string(path).map_err(|e| format!("--stats {path}: {e}"))?;
    let v: Value = serde_json::from_str(s.trim()).map_err(|e| format!("--stats {path}: {e}: {s}"))?;
    for k in ["rounds", "live_pages", "final_pages", "prev_pages", "frozen_us", "final_stop_us", "round_pages", "freezing_us", "dump_us"] {
        ensure(!v[k].is_null(), || format!("--stats has no '{k}': {v}"))?;
    }
    let rp: Vec<u64> = v["round_pages"].as_array().into_iter().flatten().filter_map(Value::as_u64).collect();
    ensure(rp.len() as u64 == v["rounds"].as_u64().unwrap_or(0) && rp.iter().sum::<u64>() == v["live_pages"].as_u64().unwrap_or(0), || {
        format!("--stats: round_pages do not add up to rounds and live_pages: {v}")
    })?;
    ensure(v["final_stop_us"].as_u64() <= v["frozen_us"].as_u64(), || format!("--stats: the final stop is longer than the frozen time: {v}"))?;
    Ok(v)
}

/// At least two rounds, round 1 copied something, and the final stop
/// referenced pages of the rounds instead of writing them again.
fn rounds_happened(stats: &Value) -> Result<(), String> {
    let rounds = stats["rounds"].as_u64().unwrap_or(0);
    ensure(rounds >= 2, || format!("{rounds} rounds, want at least 2 (the writers keep writing): {stats}"))?;
    ensure(stats["round_pages"][0].as_u64().unwrap_or(0) > 0, || format!("round 1 copied nothing: {stats}"))?;
    ensure(stats["prev_pages"].as_u64().unwrap_or(0) > 0, || format!("the final stop referenced no page of the rounds: {stats}"))
}

/// The image is valid for `cptrst inspect` (the validator runs on it).
fn image_valid(img: &str) -> Result<(), String> {
    let v = inspect_json(img)?;
    ensure(v["tasks"].as_array().is_some_and(|t| !t.is_empty()), || format!("inspect --json {img}: no task"))
}

/// Start, live checkpoint with `--kill`, the stats and the image, restart,
/// go: the root's verdict.
fn kill_and_restart(cmd: &[&str], tag: &str) -> Result<(), String> {
    let mut p = Proc::start(cmd)?;
    let img = format!("/tmp/live-{tag}.img");
    let r = (|| {
        let stats = live_checkpoint(&p, &img, &["--kill"])?;
        p.wait_all_gone(Duration::from_secs(60)).map_err(|e| format!("after checkpoint --live --kill: {e}"))?;
        rounds_happened(&stats)?;
        image_valid(&img)?;
        let mut t = Tool::restart(&["-i", &img], tag)?;
        p.wait_restored(&mut t, false)?;
        p.go(None)?;
        t.expect_ok()
    })();
    let _ = std::fs::remove_file(&img);
    r
}

/// Every workload passes its own check without a checkpoint, and fails
/// it with one page changed behind its back.
fn poke_without_checkpoint() -> Result<(), String> {
    let mut fails = Vec::new();
    for cmd in [WRITER, WRITER_TREE] {
        for damage in [false, true] {
            let r = (|| {
                let mut p = Proc::start_with(cmd, Some(DIRECT_ERR), |_| {})?;
                // Let them write for a while.
                std::thread::sleep(Duration::from_millis(300));
                if damage {
                    // A page that no writer rewrites (not in a hot set: page 1).
                    let at = p.addr("region")? + 4096 + 64;
                    let last = *p.pids.last().unwrap_or(&p.root());
                    cptrst_tests::rst::write_mem(last, at, &[0xa5; 8])?;
                }
                p.go(None)?;
                let st = p.wait_direct(Duration::from_secs(120))?;
                let err = std::fs::read_to_string(DIRECT_ERR).unwrap_or_default();
                if damage {
                    ensure(st.code() == Some(1) && err.contains("page 1 at"), || {
                        format!("with page 1 changed: {}, want exit status 1 naming page 1; stderr:\n{err}", status_text(st))
                    })
                } else {
                    ensure(st.success(), || format!("{}, want 0; stderr:\n{err}", status_text(st)))
                }
            })();
            if let Err(e) = r {
                fails.push(format!("{cmd:?}{}: {e}", if damage { " damaged" } else { "" }));
            }
        }
    }
    ensure(fails.is_empty(), || fails.join("\n"))
}

fn writer_kill_restart() -> Result<(), String> {
    kill_and_restart(WRITER, "writer")
}

fn tree_kill_restart() -> Result<(), String> {
    kill_and_restart(WRITER_TREE, "tree")
}

/// `sh -c 'cptrst checkpoint ROOT --live --kill | cptrst restart'`.
fn into_a_pipe() -> Result<(), String> {
    let mut p = Proc::start(WRITER)?;
    let json = "/tmp/live-pipe.stats";
    let cmd = format!(
        "cptrst checkpoint {} --stop-timeout {STOP_TIMEOUT} {} --kill --stats {json} | cptrst restart",
        p.root(),
        FORCE_ROUNDS.join(" ")
    );
    let r = (|| {
        let mut t = Tool::spawn("sh", &["-c", &cmd], "pipe")?;
        p.wait_restored(&mut t, false)?;
        let stats = read_stats(json)?;
        println!("# {stats}");
        rounds_happened(&stats)?;
        p.go(None)?;
        t.expect_ok()
    })();
    let _ = std::fs::remove_file(json);
    r
}

/// `--resume` twice: the original runs on, untraced, and passes its own
/// check; then the last image restarts and passes it too.
fn resume() -> Result<(), String> {
    let mut p = Proc::start_with(WRITER, Some(DIRECT_ERR), |_| {})?;
    let img = "/tmp/live-resume.img";
    let r = (|| {
        for _ in 0..2 {
            let stats = live_checkpoint(&p, img, &["--resume"])?;
            rounds_happened(&stats)?;
            runs_untraced(p.root())?;
        }
        image_valid(img)?;
        p.go(None)?;
        let st = p.wait_direct(Duration::from_secs(120))?;
        let err = std::fs::read_to_string(DIRECT_ERR).unwrap_or_default();
        ensure(st.success(), || format!("after two checkpoint --live --resume the original's own check: {}, want 0; stderr:\n{err}", status_text(st)))?;
        p.wait_all_gone(Duration::from_secs(60))?;
        // The image of a tree that ran on: as it was at the final stop.
        let mut t = Tool::restart(&["-i", img], "resume")?;
        p.wait_restored(&mut t, false)?;
        p.go(None)?;
        t.expect_ok().map_err(|e| format!("the --resume image: {e}"))
    })();
    let _ = std::fs::remove_file(img);
    r
}

/// `TracerPid` of /proc/PID/status.
fn tracer(pid: i32) -> Option<String> {
    cptrst::proc::status_field(pid, "TracerPid")
}

/// Without --kill or --resume: every process left in group stop,
/// untraced; after SIGCONT the tree runs on and passes its own check.
fn left_stopped() -> Result<(), String> {
    let mut p = Proc::start_with(WRITER_TREE, Some(DIRECT_ERR), |_| {})?;
    let img = "/tmp/live-stopped.img";
    let r = (|| {
        let stats = live_checkpoint(&p, img, &[])?;
        rounds_happened(&stats)?;
        let t0 = Instant::now();
        for &q in &p.pids {
            while !(cptrst::proc::state(q) == Some('T') && tracer(q).as_deref() == Some("0")) {
                ensure(t0.elapsed() < Duration::from_secs(60), || {
                    format!("pid {q}: state {:?}, tracer {:?}: not left stopped and untraced", cptrst::proc::state(q), tracer(q))
                })?;
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Still stopped a while later: nothing resumed it behind our back.
        std::thread::sleep(Duration::from_millis(500));
        for &q in &p.pids {
            ensure(cptrst::proc::state(q) == Some('T'), || format!("pid {q} left its stop: state {:?}", cptrst::proc::state(q)))?;
        }
        for &q in &p.pids {
            // SAFETY: kill(2) of this test's workload.
            unsafe { libc::kill(q, libc::SIGCONT) };
        }
        for &q in &p.pids {
            runs_untraced(q)?;
        }
        p.go(None)?;
        let st = p.wait_direct(Duration::from_secs(120))?;
        let err = std::fs::read_to_string(DIRECT_ERR).unwrap_or_default();
        ensure(st.success(), || format!("after SIGCONT its own check: {}, want 0; stderr:\n{err}", status_text(st)))
    })();
    let _ = std::fs::remove_file(img);
    r
}

// ---------------------------------------------------------------------------
// The ioctl with bad arguments.
// ---------------------------------------------------------------------------

/// One checkpoint call with `live`: its errno (0: it succeeded) and the
/// kernel's message.
fn live_ioctl(dev: &File, pid: i32, fd: i32, flags: u32, live: &mut uapi::LiveArgs) -> (i32, String) {
    let mut msg = vec![0u8; uapi::RST_MSG_MAX as usize];
    let a = uapi::CheckpointArgs {
        pid,
        fd,
        flags,
        msg_len: uapi::RST_MSG_MAX,
        msg: msg.as_mut_ptr() as u64,
        live: live as *mut uapi::LiveArgs as u64,
        ..Default::default()
    };
    // SAFETY: IOC_CHECKPOINT's size is that of CheckpointArgs; the kernel
    // reads `a`, reads and writes `*live` (and reads the srcs and ranges it
    // points to, which the caller keeps alive), and writes at most msg_len
    // bytes at `msg`.
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), uapi::IOC_CHECKPOINT as libc::c_ulong, &a as *const uapi::CheckpointArgs) };
    let errno = if r < 0 { std::io::Error::last_os_error().raw_os_error().unwrap_or(-1) } else { 0 };
    let n = msg.iter().position(|&b| b == 0).unwrap_or(msg.len());
    (errno, String::from_utf8_lossy(&msg[..n]).into_owned())
}

fn ptrace(req: libc::c_uint, pid: i32, data: usize) -> Result<(), String> {
    // SAFETY: SEIZE, INTERRUPT, DETACH and GETEVENTMSG with an integer or a
    // pointer to a local u64 as data.
    let r = unsafe { libc::ptrace(req, pid, 0usize, data) };
    ensure(r >= 0, || format!("ptrace({req}, {pid}): {}", std::io::Error::last_os_error()))
}

/// Stops the single-threaded process `pid` as the tool does (seize,
/// interrupt, wait; one more request waits until it is off its CPU).
fn seize_and_stop(pid: i32) -> Result<(), String> {
    ptrace(libc::PTRACE_SEIZE, pid, 0)?;
    ptrace(libc::PTRACE_INTERRUPT, pid, 0)?;
    let t0 = Instant::now();
    loop {
        let mut st = 0;
        // SAFETY: waitpid of our tracee, into a local.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::__WALL | libc::WNOHANG) };
        if r == pid && libc::WIFSTOPPED(st) {
            if st >> 16 == 0 {
                // A signal-delivery stop first: give the signal back.
                ptrace(libc::PTRACE_CONT, pid, libc::WSTOPSIG(st) as usize)?;
                continue;
            }
            let mut m = 0u64;
            return ptrace(libc::PTRACE_GETEVENTMSG, pid, &mut m as *mut u64 as usize);
        }
        ensure(r == 0, || format!("waitpid({pid}): {r}, status {st:#x}"))?;
        ensure(t0.elapsed() < Duration::from_secs(60), || format!("pid {pid} did not stop within 60 s"))?;
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A call's srcs: (pid, src id, flat ranges).
type Srcs = Vec<(i32, u32, Vec<u64>)>;

/// The `(start, end)` pairs flat.
fn flat(r: &[(u64, u64)]) -> Vec<u64> {
    r.iter().flat_map(|&(s, e)| [s, e]).collect()
}

/// ROUND with bad ranges or src ids and FINAL naming a pid outside the
/// tree, through the ioctl: each EINVAL; the workload runs on untouched
/// and passes its own check.
fn bad_arguments() -> Result<(), String> {
    let mut p = Proc::start_with(&["cptrst-testprog", "live-writer", "64"], Some(DIRECT_ERR), |_| {})?;
    // A process outside the tree (our child, not the writer's).
    let outsider = Workload::start(&["pause"])?;
    let img = "/tmp/live-bad.img";
    let r = (|| {
        let dev = std::fs::OpenOptions::new().read(true).write(true).open(uapi::DEVICE).map_err(|e| format!("{}: {e}", uapi::DEVICE))?;
        let out = File::create(img).map_err(|e| format!("{img}: {e}"))?;
        let root = p.root();
        let base = p.addr("region")?;
        let mut fails = Vec::new();
        let end = 0x7fff_ffff_f000u64;
        let bad_ranges: &[(&str, Vec<(u64, u64)>)] = &[
            ("unsorted ranges", vec![(base + 0x2000, base + 0x3000), (base, base + 0x1000)]),
            ("overlapping ranges", vec![(base, base + 0x2000), (base + 0x1000, base + 0x3000)]),
            ("an unaligned range", vec![(base + 8, base + 0x1000)]),
            ("an empty range", vec![(base, base)]),
            ("a range past the end of user space", vec![(end - 0x1000, end + 0x1000)]),
        ];
        // ROUND with each: (label, srcs as (pid, src, ranges)).
        let mut calls: Vec<(String, Srcs)> =
            bad_ranges.iter().map(|(what, r)| (format!("ROUND with {what}"), vec![(root, 1, flat(r))])).collect();
        calls.push(("ROUND with a src 0".into(), vec![(root, 0, flat(&[(0, end)]))]));
        calls.push(("ROUND with a src above 4096".into(), vec![(root, uapi::LIVE_MAX_SRCS + 1, flat(&[(0, end)]))]));
        calls.push(("ROUND with the same src twice".into(), vec![(root, 1, flat(&[(0, end)])), (root, 1, flat(&[(0, end)]))]));
        for (what, srcs) in &calls {
            let table: Vec<uapi::LiveSrc> = srcs
                .iter()
                .map(|(pid, src, r)| uapi::LiveSrc { pid: *pid, src: *src, nr_ranges: (r.len() / 2) as u32, pad: 0, ranges: r.as_ptr() as u64 })
                .collect();
            let mut live = uapi::LiveArgs { round: 1, nr_srcs: table.len() as u32, srcs: table.as_ptr() as u64, ..Default::default() };
            let (errno, msg) = live_ioctl(&dev, root, out.as_raw_fd(), uapi::CKPT_ROUND, &mut live);
            println!("# {what}: errno {errno}, '{msg}'");
            if errno != libc::EINVAL {
                fails.push(format!("{what}: errno {errno} ('{msg}'), want EINVAL"));
            }
        }
        // FINAL with the tree stopped by us, naming a pid outside it.
        seize_and_stop(root)?;
        let table = [
            uapi::LiveSrc { pid: root, src: 0, ..Default::default() },
            uapi::LiveSrc { pid: outsider.pid(), src: 0, ..Default::default() },
        ];
        let mut live = uapi::LiveArgs { offset: 128, records: 1, nr_srcs: 2, srcs: table.as_ptr() as u64, ..Default::default() };
        let (errno, msg) = live_ioctl(&dev, root, out.as_raw_fd(), uapi::CKPT_FINAL, &mut live);
        println!("# FINAL naming pid {} outside the tree: errno {errno}, '{msg}'", outsider.pid());
        if errno != libc::EINVAL {
            fails.push(format!("FINAL naming pid {} outside the tree: errno {errno} ('{msg}'), want EINVAL", outsider.pid()));
        }
        ptrace(libc::PTRACE_DETACH, root, 0)?;
        runs_untraced(root)?;
        p.go(None)?;
        let st = p.wait_direct(Duration::from_secs(120))?;
        let err = std::fs::read_to_string(DIRECT_ERR).unwrap_or_default();
        if !st.success() {
            fails.push(format!("after the refused calls the workload's own check: {}, want 0; stderr:\n{err}", status_text(st)));
        }
        ensure(fails.is_empty(), || fails.join("\n"))
    })();
    let _ = std::fs::remove_file(img);
    r
}

/// 50 live checkpoint --kill / restart --detach cycles of a writer:
/// Slab and VmallocUsed after the last cycle within kselftest-tree's
/// tolerance of after cycle 10, open files within 16, kmemleak clean,
/// nothing left over; then its own check.
fn fifty_cycles() -> Result<(), String> {
    const CYCLES: u32 = 50;
    const SLAB_TOLERANCE_KIB: u64 = 1024;
    const VMALLOC_TOLERANCE_KIB: u64 = 512;
    const SLACK: u64 = 16;
    let kml = kmemleak_start();
    let mut p = Proc::start(&["cptrst-testprog", "live-writer", "256"])?;
    let img = "/tmp/live-cycle.img";
    let t0 = Instant::now();
    let (mut at10, mut files10) = ((0, 0), None);
    let mut rounds = Vec::new();
    for i in 1..=CYCLES {
        let r = (|| {
            let stats = live_checkpoint(&p, img, &["--kill"])?;
            rounds.push(stats["rounds"].as_u64().unwrap_or(0));
            wait_all_gone(p.pids.iter().copied(), Duration::from_secs(60))?;
            let mut t = Tool::restart(&["-i", img, "--detach"], "cycle")?;
            let st = t.wait(TOOL_TIMEOUT)?;
            ensure(st.success(), || format!("restart --detach: {}\n{}", status_text(st), t.output()))?;
            p.wait_restored(&mut t, true)
        })();
        r.map_err(|e| format!("cycle {i}: {e}"))?;
        if i == 10 {
            at10 = settled_memory();
            files10 = open_files();
        }
    }
    let at50 = settled_memory();
    let files50 = open_files_within(files10.map(|f| f + SLACK), Duration::from_secs(60));
    let _ = std::fs::remove_file(img);
    println!("# {CYCLES} cycles in {:?}; rounds {rounds:?}", t0.elapsed());
    println!("# Slab after cycle 10: {} KiB, after cycle {CYCLES}: {} KiB; VmallocUsed: {} -> {} KiB; open files {files10:?} -> {files50:?}", at10.0, at50.0, at10.1, at50.1);
    let mut fails = Vec::new();
    if at50.0 > at10.0 + SLAB_TOLERANCE_KIB {
        fails.push(format!("Slab grew by {} KiB from cycle 10 to {CYCLES} (tolerance {SLAB_TOLERANCE_KIB})", at50.0 - at10.0));
    }
    if at50.1 > at10.1 + VMALLOC_TOLERANCE_KIB {
        fails.push(format!("VmallocUsed grew by {} KiB from cycle 10 to {CYCLES} (tolerance {VMALLOC_TOLERANCE_KIB})", at50.1 - at10.1));
    }
    if files50 > files10.map(|f| f + SLACK) {
        fails.push(format!("open files grew from {files10:?} after cycle 10 to {files50:?} after cycle {CYCLES} (slack {SLACK})"));
    }
    if rounds.iter().any(|&r| r < 2) {
        fails.push(format!("a cycle with fewer than 2 rounds: {rounds:?}"));
    }
    p.cycles_verdict(CYCLES, kml, fails)
}

const CASES: &[Case] = &[
    ("every live writer passes its own check, and fails it when a page is changed (no checkpoint)", poke_without_checkpoint, CASE_BOUND),
    ("live checkpoint --kill of a writer: 2 rounds or more, restart, every page checked", writer_kill_restart, CASE_BOUND),
    ("live checkpoint into a pipe straight into cptrst restart", into_a_pipe, CASE_BOUND),
    ("a tree with writer threads and shared memory: live --kill, restart, every page checked", tree_kill_restart, CASE_BOUND),
    ("live checkpoint --resume twice: the original runs on correctly, the image restarts", resume, CASE_BOUND),
    ("live checkpoint leaving the tree stopped: group stop, untraced, SIGCONT runs it on", left_stopped, CASE_BOUND),
    ("the ioctl with bad ranges, src ids and a pid outside the tree: EINVAL, nothing touched", bad_arguments, CASE_BOUND),
    ("50 live checkpoint/restart cycles: state kept, no leak", fifty_cycles, LIVE_CYCLES_BOUND),
];

/// Where a case process writes the reason it skipped (none so far: every
/// case runs in the guest, as root).
const SKIP_FILE: &str = "/tmp/kselftest-live.skip";

fn main() {
    run_cases("kselftest-live", "KSELFTEST_LIVE_ONLY", SKIP_FILE, CASES)
}
