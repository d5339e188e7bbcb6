//! Guest fuzzer of the kernel restart path (issue 12): real images made
//! here from a few workloads (one static process, a dynamically linked
//! glibc program, a small tree, threads), mutated structure-aware by
//! `cptrst_tests::mutate` with every length and the trailer's count, size
//! and CRC32C recomputed, so that each mutant gets past the checksum to the
//! checks that matter, and fed to `cptrst restart -i IMG --detach`, whose
//! coordinator call hands the whole image to the kernel (the tool itself
//! reads only the header and the TREE).
//!
//! Each case must end, within a generous timeout, in one of two ways: the
//! restart is refused (exit status 1, a message naming a record, a task or
//! a pid), or the mutant was harmless and the tree runs again (then it is
//! killed). It must never hang (a restart blocked opening a FIFO is caught
//! at once by its wchan), never restart an image the image crate refuses,
//! never leave a task behind (at the tree's pids, in D state, a `cptrst`
//! participant); the VM runner fails the run on any kernel splat. Per
//! workload, Slab (after shrinking the caches), the open files (the
//! `filp` cache's objects) and MemAvailable before and after the
//! cases are compared with a tolerance.
//!
//! Then images whose file mapping or executable names a FIFO, /dev/ptmx or
//! a directory: with the checksum left bad they must be refused naming the
//! TRAILER without any of those being opened (inotify) and without
//! blocking; with the checksum right, refused without blocking.
//!
//! Environment (printed at the start, so a failure can be reproduced):
//! `CPTRST_FUZZ_CASES` (mutants over all fuzz workloads, default 320),
//! `CPTRST_FUZZ_SEED` (default 0xc0ffee), `CPTRST_FUZZ_FIRST` (first case
//! number, default 0), `CPTRST_FUZZ_BUDGET` (seconds for all the mutants,
//! default 0: none, every case runs, so that what a run covers does not
//! depend on the emulator's speed; with a budget a workload stops early
//! when its share is spent, for long `make fuzz-guest` runs),
//! `CPTRST_FUZZ_TIMEOUT` (seconds per case, default 90: above the tool's
//! own 60 s wait for its tasks),
//! `CPTRST_FUZZ_ONLY=WORD[,WORD]` (only the tests whose name contains a
//! word). The workloads run without address-space randomisation, so that
//! the same guest makes the same images and case N of seed S is the same
//! mutant.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cptrst_image as img;
use cptrst_tests::corrupt;
use cptrst_tests::mutate::{self, Mutant, Paths, Raw};
use cptrst_tests::rst::{comm_of, exists, leftovers, meminfo_kib, open_files, ready_word, settled_memory, status_text, wait_gone};
use cptrst_tests::tap::{self, ensure};
use cptrst_tests::workload::cptrst;
use cptrst_tests::READY_MAGIC;
use serde_json::Value;

/// The run's parameters.
struct Config {
    cases: u64,
    seed: u64,
    first: u64,
    budget: Duration,
    timeout: Duration,
    only: Vec<String>,
}

fn env_u64(key: &str, default: u64) -> u64 {
    match std::env::var(key) {
        Ok(v) => {
            let v = v.trim();
            let r = match v.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => v.parse(),
            };
            r.unwrap_or_else(|_| {
                println!("# {key}={v} is not a number: using {default}");
                default
            })
        }
        Err(_) => default,
    }
}

fn config() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(|| Config {
        cases: env_u64("CPTRST_FUZZ_CASES", 320),
        seed: env_u64("CPTRST_FUZZ_SEED", 0xc0ffee),
        first: env_u64("CPTRST_FUZZ_FIRST", 0),
        budget: Duration::from_secs(env_u64("CPTRST_FUZZ_BUDGET", 0)),
        timeout: Duration::from_secs(env_u64("CPTRST_FUZZ_TIMEOUT", 90).max(1)),
        only: std::env::var("CPTRST_FUZZ_ONLY")
            .map(|s| s.split(',').filter(|w| !w.is_empty()).map(String::from).collect())
            .unwrap_or_default(),
    })
}

/// Where the mutants, the FIFO and the directory are.
const DIR: &str = "/tmp/cptrst-fuzz";

fn paths() -> Paths {
    Paths { fifo: format!("{DIR}/fifo"), dir: format!("{DIR}/dir"), regular: "/usr/bin/cptrst".into() }
}

/// Creates the FIFO and the directory the mutants may name.
fn make_specials() -> Result<(), String> {
    let p = paths();
    std::fs::create_dir_all(&p.dir).map_err(|e| format!("{}: {e}", p.dir))?;
    if std::fs::metadata(&p.fifo).is_err() {
        let c = std::ffi::CString::new(p.fifo.clone()).map_err(|e| e.to_string())?;
        // SAFETY: mkfifo with a NUL-terminated path.
        let r = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        ensure(r == 0, || format!("mkfifo {}: {}", p.fifo, std::io::Error::last_os_error()))?;
    }
    Ok(())
}

fn pid_list(info: &Value, key: &str) -> Vec<i32> {
    info[key].as_array().map(|a| a.iter().filter_map(|v| v.as_i64().map(|p| p as i32)).collect()).unwrap_or_default()
}

/// A checkpointed workload: its image and the pids it had.
struct Image {
    data: Vec<u8>,
    raw: Raw,
    /// Every pid of the tree (live processes and zombies).
    pids: Vec<i32>,
}

/// Starts `cptrst-testprog reaper CMD...` without address-space
/// randomisation, waits until every process is ready, checkpoints the
/// root with `--kill`, and waits until every pid is free.
fn make_image(cmd: &[&str], tag: &str) -> Result<Image, String> {
    let mut c = Command::new("cptrst-testprog");
    c.arg("reaper").args(cmd).stdout(Stdio::piped());
    // SAFETY: personality(2) only, between fork and exec.
    unsafe {
        c.pre_exec(|| {
            libc::personality(libc::ADDR_NO_RANDOMIZE as libc::c_ulong);
            Ok(())
        });
    }
    let mut reaper = c.spawn().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let started = std::cell::RefCell::new(Vec::new());
    let r = (|| {
        let out = reaper.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).map_err(|e| e.to_string())?;
        let info: Value =
            serde_json::from_str(line.trim()).map_err(|e| format!("{cmd:?}: bad ready line '{}': {e}", line.trim()))?;
        let root = info["pid"].as_i64().ok_or(format!("{cmd:?}: no pid in the ready line"))? as i32;
        let mut live = pid_list(&info, "pids");
        if live.is_empty() {
            live.push(root);
        }
        started.borrow_mut().extend(live.iter().copied());
        let ready = info["ready"].as_u64().ok_or(format!("{cmd:?}: no ready address"))?;
        let t0 = Instant::now();
        for &p in &live {
            while ready_word(p, ready) != Some(READY_MAGIC) {
                ensure(t0.elapsed() < Duration::from_secs(120), || format!("{cmd:?}: pid {p} never became ready"))?;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let file = format!("{DIR}/{tag}.good");
        let o = cptrst(&["checkpoint", &root.to_string(), "-o", &file, "--kill", "--stop-timeout", cptrst_tests::workload::STOP_TIMEOUT]);
        let data = std::fs::read(&file);
        let _ = std::fs::remove_file(&file);
        ensure(o.status.success(), || {
            format!("cptrst checkpoint {root} --kill: {}: {}", status_text(o.status), String::from_utf8_lossy(&o.stderr))
        })?;
        let mut pids = live;
        pids.extend(pid_list(&info, "zombies"));
        for &p in &pids {
            wait_gone(p, Duration::from_secs(30)).map_err(|e| format!("after checkpoint --kill: {e}"))?;
        }
        let data = data.map_err(|e| format!("{file}: {e}"))?;
        img::validate(&data).map_err(|e| format!("the image crate refuses the checkpoint of {cmd:?}: {e}"))?;
        let raw = Raw::parse(&data)?;
        Ok(Image { data, raw, pids })
    })();
    if r.is_err() {
        for &p in started.borrow().iter() {
            // SAFETY: kill(2) of the workload this function started.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
    }
    let _ = reaper.kill();
    let _ = reaper.wait();
    r
}

/// Kills every descendant of this process (what a restart left, the
/// restored tree) and reaps them; true if there were any.
fn kill_descendants() -> bool {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let d = cptrst::proc::descendants(me);
    for &p in &d {
        // SAFETY: kill(2) of a descendant of this test: its own restarts.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
    reap_all();
    !d.is_empty()
}

/// Reaps every exited child (orphans of restarts come to us: subreaper).
fn reap_all() {
    loop {
        let mut st = 0;
        // SAFETY: waitpid into a local, without blocking.
        let r = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG | libc::__WALL) };
        if r <= 0 {
            return;
        }
    }
}

fn wchan(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default()
}

/// A task of the restart (the tool or a participant) blocked opening a
/// FIFO: no writer will ever come.
fn blocked_on_fifo(tool: i32) -> Option<String> {
    let mut all = vec![tool];
    all.extend(cptrst::proc::descendants(tool));
    for p in all {
        for t in cptrst::proc::threads(p).unwrap_or_default() {
            let w = std::fs::read_to_string(format!("/proc/{p}/task/{t}/wchan")).unwrap_or_default();
            if w.contains("wait_for_partner") || w.contains("fifo_open") {
                return Some(format!("pid {p} (thread {t}, {:?}) blocked in {w}", comm_of(p).unwrap_or_default()));
            }
        }
    }
    None
}

/// How a case ended.
enum Outcome {
    /// Exit status 1; the message; whether it has the image crate's text.
    Refused(String, bool),
    /// Exit status 0: the tree ran, and was killed.
    Restarted,
    /// Anything else: what went wrong. `hang` for a timeout or a block.
    Failed { why: String, hang: bool },
}

/// Does a refusal say what it refuses: a record, the header, a task, a pid?
fn names_something(msg: &str) -> bool {
    // "(type N)": a record, known or not, as the image crate names it.
    let names = (1..=11).map(img::record_name).chain(["(type ", "header", "task ", "pid ", "image"]);
    names.into_iter().any(|n| msg.contains(n))
}

/// Runs `cptrst restart -i FILE --detach` on `data`, and cleans up after it.
fn run_case(data: &[u8], pids: &[i32], timeout: Duration) -> Outcome {
    let file = format!("{DIR}/mutant.img");
    let (out, err) = (format!("{DIR}/restart.out"), format!("{DIR}/restart.err"));
    if let Err(e) = std::fs::write(&file, data) {
        return Outcome::Failed { why: format!("{file}: {e}"), hang: false };
    }
    let lib = img::validate(data).err();
    let spawn = || -> Result<Child, String> {
        let f = |p: &str| File::create(p).map_err(|e| format!("{p}: {e}"));
        Command::new("cptrst")
            .args(["restart", "-i", &file, "--detach"])
            .stdin(Stdio::null())
            .stdout(f(&out)?)
            .stderr(f(&err)?)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run cptrst: {e}"))
    };
    let mut child = match spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Failed { why: e, hang: false },
    };
    let tool = child.id() as i32;
    let t0 = Instant::now();
    let mut last_look = Instant::now();
    let status: Result<ExitStatus, (String, bool)> = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Ok(st),
            Ok(None) => {}
            Err(e) => break Err((format!("waiting for cptrst: {e}"), false)),
        }
        if last_look.elapsed() > Duration::from_millis(100) {
            last_look = Instant::now();
            if let Some(b) = blocked_on_fifo(tool) {
                break Err((format!("blocked opening a FIFO after {:?}: {b}", t0.elapsed()), true));
            }
        }
        if t0.elapsed() > timeout {
            let w = wchan(tool);
            break Err((format!("still running after {timeout:?} (the tool's wchan: {w})"), true));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if status.is_err() {
        // SAFETY: kill(2) of the tool's process group (the tool and the
        // participants that have not made their own group yet).
        unsafe { libc::kill(-tool, libc::SIGKILL) };
        let _ = child.kill();
        let _ = child.wait();
    }
    let msg = std::fs::read_to_string(&err).unwrap_or_default().trim_end().to_string();
    // Whatever ran or was left: the restored tree (detached), participants.
    kill_descendants();
    let mut left = Vec::new();
    let t1 = Instant::now();
    while t1.elapsed() < Duration::from_secs(30) {
        reap_all();
        if pids.iter().all(|&p| !exists(p)) && cptrst::proc::descendants(std::process::id() as i32).is_empty() {
            break;
        }
        kill_descendants();
        std::thread::sleep(Duration::from_millis(20));
    }
    for &p in pids {
        if exists(p) {
            left.push(format!("pid {p} of the tree still exists ({:?}, state {:?})", comm_of(p), cptrst::proc::state(p)));
        }
    }
    for p in cptrst::proc::descendants(std::process::id() as i32) {
        left.push(format!("pid {p} ({:?}, state {:?}) survived SIGKILL for 30 s", comm_of(p), cptrst::proc::state(p)));
    }
    left.extend(leftovers());
    let _ = std::fs::remove_file(&file);
    let outcome = match status {
        Err((why, hang)) => Outcome::Failed { why: format!("{why}; stderr: {msg}"), hang },
        Ok(st) if st.code() == Some(0) => match &lib {
            Some(e) => Outcome::Failed { why: format!("restarted an image the image crate refuses ({e})"), hang: false },
            None => Outcome::Restarted,
        },
        Ok(st) if st.code() == Some(1) => {
            if !msg.starts_with("cptrst:") || !names_something(&msg) {
                Outcome::Failed { why: format!("refused, but the message names nothing: {msg:?}"), hang: false }
            } else {
                let exact = lib.as_ref().is_some_and(|e| {
                    msg.contains(&format!("{} (type {}) at offset {}", img::record_name(e.record), e.record, e.offset))
                });
                Outcome::Refused(msg, exact)
            }
        }
        Ok(st) => Outcome::Failed {
            why: format!(
                "{} (signal {:?}), want 0 or 1; stderr: {msg}",
                status_text(st),
                st.signal().or(st.code().filter(|&c| c > 128).map(|c| c - 128))
            ),
            hang: false,
        },
    };
    if left.is_empty() {
        outcome
    } else {
        let before = match outcome {
            Outcome::Refused(m, _) => format!("refused ({m})"),
            Outcome::Restarted => "restarted".into(),
            Outcome::Failed { why, .. } => why,
        };
        Outcome::Failed { why: format!("{before}; left behind: {}", left.join("; ")), hang: false }
    }
}

/// Processes with more than 2 MiB of anonymous memory: pid, comm, KiB.
fn anon_holders() -> Vec<(i32, String, u64)> {
    let mut out = Vec::new();
    let Ok(d) = std::fs::read_dir("/proc") else { return out };
    for e in d.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let anon = st
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        if anon > 2048 {
            out.push((pid, comm_of(pid).unwrap_or_default(), anon));
        }
    }
    out
}

/// Every line of /proc/meminfo, in KiB.
fn meminfo_all() -> Vec<(String, u64)> {
    let s = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    s.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.to_string(), v.split_whitespace().next()?.parse().ok()?))
        })
        .collect()
}

/// Slab (after shrinking, KiB), open files ([`open_files`]: the `filp`
/// slab cache's objects; /proc/sys/fs/file-nr's count is a per-CPU counter
/// read without folding, 0 on a quiet guest), MemAvailable plus this test's own
/// anonymous memory (KiB), and file-nr's count.
fn resources() -> (u64, u64, u64, u64) {
    // This test's own heap holds copies of a 9 MiB image per case; glibc
    // keeps freed memory (measured: +93 MB of RssAnon over 373 cases of
    // glibc-dyn): give it back, and do not count what is left of it.
    // SAFETY: malloc_trim has no preconditions.
    unsafe { libc::malloc_trim(0) };
    let (slab, _) = settled_memory();
    let first =
        |p: &str| -> u64 { std::fs::read_to_string(p).ok().and_then(|s| s.split_whitespace().next()?.parse().ok()).unwrap_or(0) };
    let own = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| st.lines().find_map(|l| l.strip_prefix("RssAnon:"))?.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    let avail = meminfo_kib("MemAvailable").unwrap_or(0) + own;
    (slab, open_files().unwrap_or(0), avail, first("/proc/sys/fs/file-nr"))
}

const SLAB_TOLERANCE_KIB: u64 = 2048;
const FILES_TOLERANCE: u64 = 64;
const MEMAVAIL_TOLERANCE_KIB: u64 = 32 * 1024;

/// The fuzz workloads (name for the TAP, command, tag).
const WORKLOADS: [(&str, &[&str], &str); 4] = [
    ("fuzz: one static process (counter-check)", &["cptrst-testprog", "counter-check"], "counter"),
    ("fuzz: dynamic glibc program, many file mappings (glibc-dyn)", &["glibc-dyn"], "glibc"),
    ("fuzz: a tree of 3 processes (tree-check 3)", &["cptrst-testprog", "tree-check", "3"], "tree"),
    ("fuzz: 4 threads (threads-check)", &["cptrst-testprog", "threads-check"], "threads"),
];

/// How many fuzz workloads this run selects.
fn selected_workloads() -> u64 {
    let c = config();
    WORKLOADS.iter().filter(|(n, _, _)| c.only.is_empty() || c.only.iter().any(|w| n.contains(w.as_str()))).count().max(1) as u64
}

/// What the seed of a workload's mutants is mixed with (FNV-1a of its
/// tag), so that case N is another mutation for each workload.
fn tag_seed(tag: &str) -> u64 {
    tag.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn fuzz(w: usize) -> Result<(), String> {
    let (_, cmd, tag) = WORKLOADS[w];
    let c = config();
    make_specials()?;
    let image = make_image(cmd, tag)?;
    let recs = image.raw.recs.len();
    // The image as it is restarts (else no mutant can tell anything).
    match run_case(&image.data, &image.pids, c.timeout) {
        Outcome::Restarted => {}
        Outcome::Refused(m, _) => return Err(format!("the unmutated image is refused: {m}")),
        Outcome::Failed { why, .. } => return Err(format!("the unmutated image: {why}")),
    }
    let per = c.cases.div_ceil(selected_workloads());
    let budget = c.budget / selected_workloads() as u32;
    let before = resources();
    let p = paths();
    let (mut tried, mut refused, mut exact, mut lib_refused, mut restarted, mut hung, mut special) = (0, 0, 0, 0, 0, 0, 0);
    let mut fails: Vec<(Mutant, String, bool)> = Vec::new();
    let mut inexact: Vec<String> = Vec::new();
    let mut drops: Vec<(u64, u64, String)> = Vec::new();
    let info_before = meminfo_all();
    let t0 = Instant::now();
    let mut slowest = (Duration::ZERO, 0u64);
    for case in c.first..c.first + per {
        if !budget.is_zero() && t0.elapsed() > budget {
            println!("# {tag}: time budget of {budget:?} spent after {tried} of {per} cases");
            break;
        }
        let m = mutate::mutant(&image.raw, c.seed ^ tag_seed(tag), case, &p);
        tried += 1;
        if m.special.is_some() {
            special += 1;
        }
        if img::validate(&m.data).is_err() {
            lib_refused += 1;
        }
        let t = Instant::now();
        let avail = meminfo_kib("MemAvailable").unwrap_or(0);
        let o = run_case(&m.data, &image.pids, c.timeout);
        if t.elapsed() > slowest.0 {
            slowest = (t.elapsed(), case);
        }
        // The cases after which the most memory is gone (noisy: a hint of
        // which mutants leak, for a MemAvailable that does not come back).
        let drop = avail.saturating_sub(meminfo_kib("MemAvailable").unwrap_or(0));
        if drop > 0 {
            let kind = match &o {
                Outcome::Refused(msg, _) => format!("refused: {msg}"),
                Outcome::Restarted => "restarted".into(),
                Outcome::Failed { why, .. } => format!("failed: {why}"),
            };
            drops.push((drop, case, format!("{}; {kind}", m.what)));
            drops.sort_by_key(|d| std::cmp::Reverse(d.0));
            drops.truncate(5);
        }
        match o {
            Outcome::Refused(msg, x) => {
                refused += 1;
                exact += u32::from(x);
                // Refused by another check than the image crate's first
                // one (or by the kernel alone): worth a look, not a failure.
                if let (false, Some(e), true) = (x, img::validate(&m.data).err(), inexact.len() < 5) {
                    inexact.push(format!("case {case}: {}: the image crate: {e}; the restart: {msg}", m.what));
                }
            }
            Outcome::Restarted => restarted += 1,
            Outcome::Failed { why, hang } => {
                hung += u32::from(hang);
                println!("# {tag}: case {case} FAILED: {}: {why}", m.what);
                fails.push((m, why, hang));
            }
        }
    }
    // Memory and files come back a little after the last task died
    // (deferred fput, RCU): look again for a while before calling it a leak.
    let over = |a: &(u64, u64, u64, u64)| {
        a.0 > before.0 + SLAB_TOLERANCE_KIB || a.1 > before.1 + FILES_TOLERANCE || a.2 + MEMAVAIL_TOLERANCE_KIB < before.2
    };
    let mut after = resources();
    let settle = Instant::now();
    while over(&after) && settle.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_secs(1));
        after = resources();
    }
    if settle.elapsed() > Duration::from_millis(500) {
        println!("# {tag}: the numbers below settled in {:.1?}", settle.elapsed());
    }
    let took = t0.elapsed();
    println!(
        "# {tag}: seed {:#x}, cases {}..{}: {tried} tried on an image of {} bytes, {recs} records, in {took:.1?} \
         (slowest: case {}, {:.1?})",
        c.seed,
        c.first,
        c.first + tried.max(1) - 1,
        image.data.len(),
        slowest.1,
        slowest.0
    );
    println!(
        "# {tag}: {refused} refused cleanly ({exact} with the image crate's record and offset; the image crate refuses \
         {lib_refused}), {restarted} restarted (harmless, killed), {hung} hung, {} failed; {special} named a FIFO, \
         device or directory",
        fails.len()
    );
    println!(
        "# {tag}: Slab {} -> {} KiB, open files (filp objects) {} -> {}, MemAvailable (+ this test's RssAnon) {} -> {} KiB, file-nr {} -> {}",
        before.0, after.0, before.1, after.1, before.2, after.2, before.3, after.3
    );
    let info_after = meminfo_all();
    let moved: Vec<String> = info_before
        .iter()
        .filter_map(|(k, a)| {
            let b = info_after.iter().find(|(k2, _)| k2 == k)?.1;
            (a.abs_diff(b) >= 4096).then(|| format!("{k} {a} -> {b}"))
        })
        .collect();
    if !moved.is_empty() {
        println!("# {tag}: /proc/meminfo (KiB) moved by 4 MiB or more: {}", moved.join(", "));
        // Who holds anonymous memory now (a process left, or none: then
        // the kernel holds an address space no task uses).
        for (pid, comm, anon) in anon_holders() {
            println!("# {tag}: pid {pid} ({comm}): RssAnon {anon} KiB");
        }
    }
    if after.2 + MEMAVAIL_TOLERANCE_KIB < before.2 {
        for (d, case, what) in &drops {
            println!("# {tag}: MemAvailable fell by {d} KiB over case {case}: {what}");
        }
    }
    for l in &inexact {
        println!("# {tag}: refused otherwise than the image crate: {l}");
    }
    let mut why: Vec<String> = fails
        .iter()
        .map(|(m, w, _)| {
            format!(
                "case {} (CPTRST_FUZZ_SEED={:#x} CPTRST_FUZZ_FIRST={} CPTRST_FUZZ_CASES=1 CPTRST_FUZZ_ONLY={tag}): {}: {w}",
                m.case, c.seed, m.case, m.what
            )
        })
        .collect();
    let mut leaks = Vec::new();
    if after.0 > before.0 + SLAB_TOLERANCE_KIB {
        leaks.push(format!("Slab grew by {} KiB (tolerance {SLAB_TOLERANCE_KIB})", after.0 - before.0));
    }
    if after.1 > before.1 + FILES_TOLERANCE {
        leaks.push(format!("open files (filp objects) grew by {} (tolerance {FILES_TOLERANCE})", after.1 - before.1));
    }
    if after.2 + MEMAVAIL_TOLERANCE_KIB < before.2 {
        leaks.push(format!("MemAvailable fell by {} KiB (tolerance {MEMAVAIL_TOLERANCE_KIB})", before.2 - after.2));
    }
    why.extend(leaks);
    ensure(why.is_empty(), || why.join("\n"))
}

fn fuzz_counter() -> Result<(), String> {
    fuzz(0)
}

fn fuzz_glibc() -> Result<(), String> {
    fuzz(1)
}

fn fuzz_tree() -> Result<(), String> {
    fuzz(2)
}

fn fuzz_threads() -> Result<(), String> {
    fuzz(3)
}

/// Watches `paths` for opens (inotify `IN_OPEN`).
struct OpenWatch {
    fd: i32,
    wds: Vec<(i32, String)>,
}

impl OpenWatch {
    fn new(paths: &[String]) -> Result<OpenWatch, String> {
        // SAFETY: inotify_init1 with valid flags.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        ensure(fd >= 0, || format!("inotify_init1: {}", std::io::Error::last_os_error()))?;
        let mut w = OpenWatch { fd, wds: Vec::new() };
        for p in paths {
            let c = std::ffi::CString::new(p.as_str()).map_err(|e| e.to_string())?;
            // SAFETY: a watch on a NUL-terminated path, on our inotify fd.
            let wd = unsafe { libc::inotify_add_watch(fd, c.as_ptr(), libc::IN_OPEN) };
            ensure(wd >= 0, || format!("inotify_add_watch {p}: {}", std::io::Error::last_os_error()))?;
            w.wds.push((wd, p.clone()));
        }
        Ok(w)
    }

    /// The watched paths opened since the last call.
    fn opened(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: read into a local buffer from our inotify fd.
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return out;
            }
            let mut at = 0usize;
            let hdr = std::mem::size_of::<libc::inotify_event>();
            while at + hdr <= n as usize {
                let wd = i32::from_ne_bytes(buf[at..at + 4].try_into().unwrap_or_default());
                let len = u32::from_ne_bytes(buf[at + 12..at + 16].try_into().unwrap_or_default()) as usize;
                if let Some((_, p)) = self.wds.iter().find(|(w, _)| *w == wd) {
                    if !out.contains(p) {
                        out.push(p.clone());
                    }
                }
                at += hdr + len;
            }
        }
    }
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        // SAFETY: closing our own inotify fd.
        unsafe { libc::close(self.fd) };
    }
}

/// The counter-check image with the path of its first file mapping, or
/// of its executable, set to `target` (checksum right).
fn with_path(image: &Image, exe: bool, target: &str) -> Result<Vec<u8>, String> {
    let recs = corrupt::records(&image.data)?;
    let data = if exe {
        let mm = recs.into_iter().find(|r| r.kind == img::RECORD_MM).ok_or("no MM record")?;
        corrupt::with_exe_path(&image.data, mm, target.as_bytes())
    } else {
        let kind = |r: &corrupt::Rec| image.data.get(r.payload() + 32..r.payload() + 36).map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()));
        let v = corrupt::file_vmas(&image.data)?.into_iter().find(|r| kind(r) == Some(2)).ok_or("no private file mapping in the image")?;
        corrupt::with_vma_path(&image.data, v, target.as_bytes())
    };
    img::validate(&data).map_err(|e| format!("test bug: the image crate refuses the path {target}: {e}"))?;
    Ok(data)
}

/// The special files and where they go in the image.
fn special_variants() -> Vec<(String, bool)> {
    let p = paths();
    let mut v = Vec::new();
    for target in [p.fifo, "/dev/ptmx".to_string(), p.dir] {
        for exe in [false, true] {
            v.push((target.clone(), exe));
        }
    }
    v
}

fn special_paths(bad_crc: bool) -> Result<(), String> {
    let c = config();
    make_specials()?;
    let image = make_image(&["cptrst-testprog", "counter-check"], if bad_crc { "special-bad" } else { "special-good" })?;
    let p = paths();
    let watch = OpenWatch::new(&[p.fifo.clone(), p.dir.clone(), "/dev/ptmx".into()])?;
    let mut fails = Vec::new();
    for (target, exe) in special_variants() {
        let mut data = with_path(&image, exe, &target)?;
        if bad_crc {
            mutate::break_crc(&mut data);
        }
        let want = img::validate(&data).err();
        let what = format!(
            "{} -> {target}{}",
            if exe { "exe path" } else { "first file mapping" },
            if bad_crc { ", CRC bad" } else { "" }
        );
        watch.opened();
        let t = Instant::now();
        let o = run_case(&data, &image.pids, c.timeout);
        let took = t.elapsed();
        let opened = watch.opened();
        let mut why = Vec::new();
        match o {
            Outcome::Refused(m, exact) => {
                println!("# {what}: refused in {took:.1?}: {m}");
                if bad_crc && !exact {
                    why.push(format!("refused, but not naming the TRAILER as the image crate does ({want:?}): {m}"));
                }
            }
            Outcome::Restarted => why.push("restarted".into()),
            Outcome::Failed { why: w, .. } => why.push(w),
        }
        if bad_crc && !opened.is_empty() {
            why.push(format!("opened before the image was verified: {}", opened.join(", ")));
        }
        if !why.is_empty() {
            fails.push(format!("{what}: {}", why.join("; ")));
        }
    }
    ensure(fails.is_empty(), || fails.join("\n"))
}

fn special_bad_crc() -> Result<(), String> {
    special_paths(true)
}

fn special_good_crc() -> Result<(), String> {
    special_paths(false)
}

const EXCEPTION_TRACE: &str = "/proc/sys/debug/exception-trace";
static OLD_TRACE: OnceLock<String> = OnceLock::new();

extern "C" fn put_back_trace() {
    if let Some(v) = OLD_TRACE.get().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        let _ = std::fs::write(EXCEPTION_TRACE, v);
    }
}

fn main() {
    // Orphans of the restarts (a detached tree, participants) become our
    // children; crashes of restored mutants dump no core.
    // SAFETY: prctl and setrlimit on ourselves.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
        let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
    }
    let c = config();
    println!(
        "# kselftest-fuzz: CPTRST_FUZZ_SEED={:#x} CPTRST_FUZZ_CASES={} CPTRST_FUZZ_FIRST={} CPTRST_FUZZ_BUDGET={} \
         CPTRST_FUZZ_TIMEOUT={} CPTRST_FUZZ_ONLY={}",
        c.seed,
        c.cases,
        c.first,
        c.budget.as_secs(),
        c.timeout.as_secs(),
        c.only.join(",")
    );
    let tests: &[tap::Test] = &[
        (WORKLOADS[0].0, fuzz_counter),
        (WORKLOADS[1].0, fuzz_glibc),
        (WORKLOADS[2].0, fuzz_tree),
        (WORKLOADS[3].0, fuzz_threads),
        ("paths to a FIFO, /dev/ptmx, a directory, checksum bad: refused, nothing opened, no hang", special_bad_crc),
        ("paths to a FIFO, /dev/ptmx, a directory, checksum right: refused, no hang", special_good_crc),
    ];
    // Restored mutants may fault in user space (registers, code mapped
    // from another file): no "traps: ... general protection fault" or
    // "segfault at" lines in the kernel log, which the VM runner takes
    // for kernel splats. Put back at exit (tap::run exits).
    let _ = OLD_TRACE.set(std::fs::read_to_string(EXCEPTION_TRACE).unwrap_or_default());
    if std::fs::write(EXCEPTION_TRACE, "0").is_err() {
        println!("# cannot write {EXCEPTION_TRACE}: user-space faults of restored mutants will be logged");
    }
    // SAFETY: registers a plain function with no preconditions.
    unsafe { libc::atexit(put_back_trace) };
    let some: Vec<tap::Test> =
        tests.iter().copied().filter(|(n, _)| c.only.is_empty() || c.only.iter().any(|w| n.contains(w.as_str()))).collect();
    let r = std::fs::create_dir_all(DIR);
    if let Err(e) = r {
        println!("# {DIR}: {e}");
    }
    tap::run(&some)
}
