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
//! Then (issue 14) hostile FILE, FDS and MAPFILE fields put into a real
//! image and handed straight to the kernel by a coordinator call (the
//! tool checks most of them first): fd over RLIMIT_NOFILE, a MAPFILE of a
//! file beyond the image's or of the wrong kind, `args.files` missing,
//! short, -1, not open or a pipe, a mapped file changed in size or type
//! (with and without `RST_FILE_CHANGED_OK`): each refused in pass 1 with
//! its errno and a message naming the record, the root left alone, and a
//! file taken before a later refusal dropped. And the commit's keep list
//! end to end: a restored process keeps only its FDS fds, never a
//! `/dev/cptrst` one.
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

// ---------------------------------------------------------------------
// Issue 14: the kernel's own checks of the FILE, FDS and MAPFILE records
// (format 1.4), by direct coordinator calls of the restart ioctl: the
// restart tool checks most of this before it calls, so these variants
// reach the kernel only this way. A real counter-check image gets FILE
// records after its TREE, an FDS in its task's FILES slot and a MAPFILE
// after each file VMA (all made here, by the spec's byte layout), then one
// field is made hostile. The coordinator call (from a forked process whose
// child stands in as the root task) must fail in pass 1 with the errno and
// message expected, leave the root task alone, and take no file it keeps.

/// `struct cptrst_restart_args` of the 1.4 ABI, mirrored here (the tests
/// crate does not link the uapi crate): 48 bytes.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct RstArgs {
    ctid: i32,
    fd: i32,
    flags: u32,
    msg_len: u32,
    msg: u64,
    files: u64,
    nfiles: u32,
    pad: u32,
    reserved: u64,
}
const _: () = assert!(std::mem::size_of::<RstArgs>() == 48);
/// `_IOW(0xC7, 2, struct cptrst_restart_args)`.
const IOC_RESTART: u64 = (1 << 30) | (48 << 16) | (0xC7 << 8) | 2;
const RST_COORD: u32 = 1;
const RST_FILE_CHANGED_OK: u32 = 1 << 3;
const S_IFREG: u32 = 0o100000;
const FILE_REG: u32 = 1;
const FILE_MEMFD: u32 = 6;
/// In `args.files`: stands for the image's own fd.
const IMAGE_FD: i32 = -100;

fn pad8(b: &mut Vec<u8>) {
    b.resize(b.len().div_ceil(8) * 8, 0);
}

fn rec(kind: u32, payload: Vec<u8>) -> mutate::RawRec {
    mutate::RawRec { kind, flags: img::record_flags(kind), orig_offset: u64::MAX, payload }
}

/// A FILE payload (64 bytes, then the path padded to 8).
fn file_payload(id: u32, kind: u32, flags: u32, mode: u32, size: u64, data_len: u64, path: &str) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [id, kind, flags, mode] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&size.to_le_bytes());
    for v in [0u32, 0, 0, 0, 0, path.len() as u32] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&data_len.to_le_bytes());
    b.extend_from_slice(path.as_bytes());
    pad8(&mut b);
    b
}

/// An FDS payload: umask 022, root and cwd "/", `fds` as (fd, FILE id).
fn fds_payload(fds: &[(u32, u32)]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [fds.len() as u32, 0o22, 1, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for &(fd, file) in fds {
        for v in [fd, file, 0, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    for _ in 0..2 {
        b.push(b'/');
        pad8(&mut b);
    }
    b
}

fn mapfile_payload(size: u64, mode: u32, file: u32) -> Vec<u8> {
    let mut b = size.to_le_bytes().to_vec();
    b.extend_from_slice(&mode.to_le_bytes());
    b.extend_from_slice(&file.to_le_bytes());
    b
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).map_or(0, |x| u32::from_le_bytes(x.try_into().unwrap_or_default()))
}

/// The path of a VMA payload.
fn vma_path(p: &[u8]) -> String {
    let n = u32_at(p, 36) as usize;
    String::from_utf8_lossy(p.get(img::VMA_FIXED_LEN..img::VMA_FIXED_LEN + n).unwrap_or_default()).into_owned()
}

/// A VMA payload with its path replaced.
fn vma_with_path(p: &[u8], path: &str) -> Vec<u8> {
    let mut b = p[..img::VMA_FIXED_LEN].to_vec();
    b[36..40].copy_from_slice(&(path.len() as u32).to_le_bytes());
    b.extend_from_slice(path.as_bytes());
    pad8(&mut b);
    b
}

/// Size and mode of the file at `path`, as a MAPFILE of it says.
fn stat_of(path: &str) -> Result<(u64, u32), String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
    Ok((m.len(), m.mode()))
}

/// The 1.4 image to vary: FILE 1 a regular file (/usr/bin/cptrst), FILE 2
/// a memfd of 8 bytes; the task's fds 0, 1, 2 on FILE 1; per file VMA
/// (by its rank among them) its path and MAPFILE (size, mode, file) as
/// `vma` gives them (None: as they are, checked against the disk).
struct Fdt {
    fds: Vec<(u32, u32)>,
    vma: Box<VmaFn>,
}

/// A file VMA's path and MAPFILE (size, mode, file), given its rank and path.
type VmaFn = dyn Fn(usize, &str) -> Result<(String, u64, u32, u32), String>;

/// The substrings a message must have, given the file VMAs' offsets.
type WantFn = dyn Fn(&[u64]) -> Vec<String>;

/// The image as `f` says, and the offset of each file VMA record.
fn fdt_image(raw: &mutate::Raw, f: &Fdt) -> Result<(Vec<u8>, Vec<u64>), String> {
    let skip = [img::RECORD_FILE, img::RECORD_FDATA, img::RECORD_FDS, img::RECORD_MAPFILE, img::RECORD_FILES];
    let mut out = mutate::Raw { header: raw.header.clone(), recs: Vec::new() };
    // Format 1.4 at least, the first with these records (an older writer's
    // image is labelled 1.4; a 1.5 one keeps its minor and its CREDS,
    // SIGNALS and PROCESS records).
    let minor = u16::from_le_bytes([out.header[10], out.header[11]]).max(4);
    out.header[10..12].copy_from_slice(&minor.to_le_bytes());
    let (mut fds_done, mut nvma) = (false, 0usize);
    for r in raw.recs.iter().filter(|r| !skip.contains(&r.kind)) {
        if r.kind == img::RECORD_VMA && matches!(u32_at(&r.payload, 32), 2 | 3) {
            let (path, size, mode, file) = (f.vma)(nvma, &vma_path(&r.payload))?;
            nvma += 1;
            out.recs.push(rec(r.kind, vma_with_path(&r.payload, &path)));
            out.recs.push(rec(img::RECORD_MAPFILE, mapfile_payload(size, mode, file)));
            continue;
        }
        out.recs.push(r.clone());
        if r.kind == img::RECORD_TREE {
            let (size, _) = stat_of("/usr/bin/cptrst")?;
            out.recs.push(rec(img::RECORD_FILE, file_payload(1, FILE_REG, 0, S_IFREG | 0o755, size, 0, "/usr/bin/cptrst")));
            out.recs.push(rec(img::RECORD_FILE, file_payload(2, FILE_MEMFD, 2, S_IFREG | 0o600, 8, 8, "kres-test")));
            let mut d = Vec::new();
            for v in [2u32, 0] {
                d.extend_from_slice(&v.to_le_bytes());
            }
            d.extend_from_slice(&0u64.to_le_bytes());
            d.extend_from_slice(b"memfd:8!");
            out.recs.push(rec(img::RECORD_FDATA, d));
        }
        if r.kind == img::RECORD_FPU && !fds_done {
            out.recs.push(rec(img::RECORD_FDS, fds_payload(&f.fds)));
            fds_done = true;
        }
    }
    let data = out.encode();
    let vmas = corrupt::file_vmas(&data)?.iter().map(|r| r.offset as u64).collect();
    Ok((data, vmas))
}

/// Each file VMA as it is: its path, and its file's size and mode now.
fn vma_as_is(_: usize, path: &str) -> Result<(String, u64, u32, u32), String> {
    let (size, mode) = stat_of(path)?;
    Ok((path.to_string(), size, mode, 0))
}

/// How a direct coordinator call ended.
struct Call {
    errno: i32,
    msg: String,
    /// The root stand-in was alive and untouched after the call.
    root_ok: bool,
}

/// Calls restart as coordinator on `image` from a forked process (its
/// child stands in as the root task), with `flags`, `files` as
/// `args.files` (None: 0/0) and RLIMIT_NOFILE's soft limit `nofile`.
fn coordinator_call(image: &[u8], flags: u32, files: Option<&[i32]>, nofile: Option<u64>) -> Result<Call, String> {
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd};
    let name = c"kres-image";
    // SAFETY: memfd_create with a NUL-terminated name.
    let mfd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    ensure(mfd >= 0, || format!("memfd_create: {}", std::io::Error::last_os_error()))?;
    // SAFETY: the new fd is ours.
    let mut mem = unsafe { File::from_raw_fd(mfd) };
    mem.write_all(image).map_err(|e| format!("writing the image memfd: {e}"))?;
    // The image starts at the fd's position.
    std::io::Seek::rewind(&mut mem).map_err(|e| format!("seeking the image memfd: {e}"))?;
    let dev = std::fs::OpenOptions::new().read(true).write(true).open("/dev/cptrst").map_err(|e| format!("/dev/cptrst: {e}"))?;
    let mut p = [0i32; 2];
    // SAFETY: pipe2 into a local array.
    ensure(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } == 0, || "pipe2 failed".into())?;
    // SAFETY: the read end is ours.
    let rd = unsafe { File::from_raw_fd(p[0]) };
    let mut msg = vec![0u8; 4096];
    let mut args = RstArgs { fd: mem.as_raw_fd(), flags: RST_COORD | flags, msg_len: 4096, msg: msg.as_mut_ptr() as u64, ..Default::default() };
    let files: Option<Vec<i32>> = files.map(|f| f.iter().map(|&x| if x == IMAGE_FD { mem.as_raw_fd() } else { x }).collect());
    if let Some(f) = &files {
        args.files = f.as_ptr() as u64;
        args.nfiles = f.len() as u32;
    }
    // SAFETY: the forked coordinator only makes system calls on memory
    // it owns (copies of ours) and ends with _exit.
    let c = unsafe { libc::fork() };
    ensure(c >= 0, || format!("fork: {}", std::io::Error::last_os_error()))?;
    if c == 0 {
        // SAFETY: (in the child) system calls on our own copies, _exit.
        unsafe {
            let root = libc::fork();
            if root == 0 {
                loop {
                    libc::pause();
                }
            }
            if let Some(n) = nofile {
                let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
                l.rlim_cur = n;
                libc::setrlimit(libc::RLIMIT_NOFILE, &l);
            }
            args.ctid = root;
            let r = libc::ioctl(dev.as_raw_fd(), IOC_RESTART as libc::c_ulong, &args as *const RstArgs);
            let errno = if r < 0 { *libc::__errno_location() } else { 0 };
            // The root stand-in: still a child of ours, sleeping in pause.
            let mut st = 0;
            let alive = libc::waitpid(root, &mut st, libc::WNOHANG) == 0 && libc::kill(root, 0) == 0;
            libc::kill(root, libc::SIGKILL);
            libc::waitpid(root, &mut st, 0);
            let mut out = Vec::with_capacity(8 + 4096);
            out.extend_from_slice(&errno.to_le_bytes());
            out.extend_from_slice(&i32::from(alive).to_le_bytes());
            out.extend_from_slice(&msg[..msg.iter().position(|&b| b == 0).unwrap_or(0)]);
            libc::write(p[1], out.as_ptr().cast(), out.len());
            libc::_exit(0);
        }
    }
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(p[1]) };
    let t0 = Instant::now();
    let mut st = 0;
    loop {
        // SAFETY: waitpid of our child into a local.
        if unsafe { libc::waitpid(c, &mut st, libc::WNOHANG) } == c {
            break;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            // SAFETY: kill(2) and reap of our own child.
            unsafe {
                libc::kill(c, libc::SIGKILL);
                libc::waitpid(c, &mut st, 0);
            }
            kill_descendants();
            return Err("the coordinator call did not return within 60 s (pass 1 passed and it waits?)".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut &rd, &mut out).map_err(|e| format!("reading the result: {e}"))?;
    ensure(out.len() >= 8, || "the coordinator process reported nothing".into())?;
    Ok(Call {
        errno: i32::from_le_bytes(out[..4].try_into().unwrap_or_default()),
        root_ok: out[4..8] == 1i32.to_le_bytes(),
        msg: String::from_utf8_lossy(&out[8..]).into_owned(),
    })
}

/// One hostile variant: the image, the call, and what must come back.
struct FdtCase {
    what: &'static str,
    image: Result<(Vec<u8>, Vec<u64>), String>,
    flags: u32,
    files: Option<Vec<i32>>,
    nofile: Option<u64>,
    errno: i32,
    /// Every substring the message must have (given the VMA offsets).
    want: Box<WantFn>,
}

fn fdt_checks() -> Result<(), String> {
    make_specials()?;
    let image = make_image(&["cptrst-testprog", "counter-check"], "fdt")?;
    let raw = image.raw.clone();
    let std_fds = vec![(0, 1), (1, 1), (2, 1)];
    let plain = |fds: Vec<(u32, u32)>| Fdt { fds, vma: Box::new(vma_as_is) };
    // The first file VMA maps FILE `file` instead of its path.
    let first_maps = |file: u32| Fdt {
        fds: vec![(0, 1), (1, 1), (2, 1)],
        vma: Box::new(move |i, path| {
            let (size, mode) = stat_of(path)?;
            Ok((path.to_string(), size, mode, if i == 0 { file } else { 0 }))
        }),
    };
    let good = fdt_image(&raw, &plain(std_fds.clone()))?;
    img::validate(&good.0).map_err(|e| format!("test bug: the image crate refuses the 1.4 variant: {e}"))?;
    ensure(!good.1.is_empty(), || "the counter-check image maps no file".into())?;
    let first_vma = corrupt::file_vmas(&good.0)?.into_iter().next().ok_or("no file VMA")?;
    let first_path = vma_path(&good.0[first_vma.payload()..first_vma.payload() + first_vma.len]);
    let (first_size, _) = stat_of(&first_path)?;
    let nvmas = good.1.len();
    let dir = paths().dir;
    // A memfd to pass for FILE 2, a pipe, and an fd number not open.
    let name = c"kres-memfd";
    // SAFETY: memfd_create with a NUL-terminated name.
    let memfd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    ensure(memfd >= 0, || "memfd_create failed".into())?;
    // SAFETY: sizing our own memfd.
    unsafe { libc::ftruncate(memfd, 8) };
    let mut pipe = [0i32; 2];
    // SAFETY: pipe2 into a local array.
    ensure(unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } == 0, || "pipe2 failed".into())?;
    let closed_fd = 900;
    let ebadf = libc::EBADF;
    let einval = libc::EINVAL;
    let cases: Vec<FdtCase> = vec![
        FdtCase {
            what: "FDS: fd 100 over RLIMIT_NOFILE 64",
            image: fdt_image(&raw, &plain(vec![(0, 1), (1, 1), (2, 1), (100, 2)])),
            flags: 0,
            files: None,
            nofile: Some(64),
            errno: libc::EMFILE,
            want: Box::new(|_| vec!["FDS (type 14) at offset ".into(), "fd 100 is over the caller's RLIMIT_NOFILE (64)".into()]),
        },
        FdtCase {
            what: "FDS of 65536 fds (a payload over 1 MiB, read whole): fd 100 over RLIMIT_NOFILE 100",
            image: fdt_image(&raw, &plain((0..img::MAX_FILES).map(|fd| (fd, 1)).collect())),
            flags: 0,
            files: None,
            nofile: Some(100),
            errno: libc::EMFILE,
            want: Box::new(|_| vec!["FDS (type 14) at offset ".into(), "fd 100 is over the caller's RLIMIT_NOFILE (100)".into()]),
        },
        FdtCase {
            what: "MAPFILE: file 3 of 2 FILEs",
            image: fdt_image(&raw, &first_maps(3)),
            flags: 0,
            files: Some(vec![-1, memfd, -1]),
            nofile: None,
            errno: einval,
            want: Box::new(|_| vec!["MAPFILE (type 15) at offset ".into()]),
        },
        FdtCase {
            what: "MAPFILE: the restart gives 1 file, the image has 2",
            image: fdt_image(&raw, &first_maps(2)),
            flags: 0,
            files: Some(vec![-1]),
            nofile: None,
            errno: einval,
            want: Box::new(|_| vec!["MAPFILE (type 15) at offset ".into(), "the restart gave 1 files, the image has 2".into()]),
        },
        FdtCase {
            what: "MAPFILE: a FILE of kind reg",
            image: fdt_image(&raw, &first_maps(1)),
            flags: 0,
            files: Some(vec![memfd, memfd]),
            nofile: None,
            errno: einval,
            want: Box::new(|_| vec!["MAPFILE (type 15) at offset ".into(), "file 1 is a reg file".into()]),
        },
        FdtCase {
            what: "MAPFILE: args.files missing",
            image: fdt_image(&raw, &first_maps(2)),
            flags: 0,
            files: None,
            nofile: None,
            errno: ebadf,
            want: Box::new(|_| vec!["MAPFILE (type 15) at offset ".into(), "the restart gave no files".into()]),
        },
        FdtCase {
            what: "MAPFILE: args.files[1] is -1",
            image: fdt_image(&raw, &first_maps(2)),
            flags: 0,
            files: Some(vec![-1, -1]),
            nofile: None,
            errno: ebadf,
            want: Box::new(|_| vec!["MAPFILE (type 15) at offset ".into(), "the restart gave no fd for it".into()]),
        },
        FdtCase {
            what: "MAPFILE: args.files[1] is not open",
            image: fdt_image(&raw, &first_maps(2)),
            flags: 0,
            files: Some(vec![-1, closed_fd]),
            nofile: None,
            errno: ebadf,
            want: Box::new(move |_| vec!["MAPFILE (type 15) at offset ".into(), format!("the restart's fd {closed_fd} for it is not open")]),
        },
        FdtCase {
            what: "MAPFILE: args.files[1] is a pipe",
            image: fdt_image(&raw, &first_maps(2)),
            flags: 0,
            files: Some(vec![-1, pipe[0]]),
            nofile: None,
            errno: einval,
            want: Box::new(|_| vec!["MAPFILE (type 15) at offset ".into(), "is not a regular file".into()]),
        },
        FdtCase {
            what: "MAPFILE: args.files[1] is the image",
            image: fdt_image(&raw, &first_maps(2)),
            flags: 0,
            files: Some(vec![-1, IMAGE_FD]),
            nofile: None,
            errno: einval,
            want: Box::new(|_| vec!["MAPFILE (type 15) at offset ".into(), "is the image".into()]),
        },
        FdtCase {
            what: "MAPFILE: the mapped file's size changed",
            // Every VMA of that file says so (one file, one size).
            image: fdt_image(&raw, &Fdt {
                fds: std_fds.clone(),
                vma: Box::new({
                    let fp = first_path.clone();
                    move |_, path| {
                        let (size, mode) = stat_of(path)?;
                        Ok((path.to_string(), if path == fp { size + 4096 } else { size }, mode, 0))
                    }
                }),
            }),
            flags: 0,
            files: None,
            nofile: None,
            errno: libc::ESTALE,
            want: Box::new({
                let fp = first_path.clone();
                move |v| {
                    vec![format!(
                        "VMA at offset {}: {fp} has changed since the checkpoint (size {first_size}, was {})",
                        v[0],
                        first_size + 4096
                    )]
                }
            }),
        },
        FdtCase {
            what: "MAPFILE: the mapped path is a directory now",
            image: fdt_image(&raw, &Fdt {
                fds: std_fds.clone(),
                vma: Box::new(move |i, path| {
                    let (size, mode) = stat_of(path)?;
                    Ok((if i == 0 { dir.clone() } else { path.to_string() }, size, mode, 0))
                }),
            }),
            flags: 0,
            files: None,
            nofile: None,
            errno: libc::ESTALE,
            want: Box::new(|v| vec![format!("VMA at offset {}: ", v[0]), "has changed since the checkpoint (type directory, was regular file)".into()]),
        },
        FdtCase {
            what: "MAPFILE: size and type changed, RST_FILE_CHANGED_OK: only the directory is refused",
            image: fdt_image(&raw, &Fdt {
                fds: std_fds.clone(),
                // The last file VMA names the directory, every other VMA
                // of the first one's file a wrong size.
                vma: Box::new({
                    let (dir, fp) = (paths().dir, first_path.clone());
                    move |i, path| {
                        let (size, mode) = stat_of(path)?;
                        Ok(if i + 1 == nvmas {
                            (dir.clone(), size, mode, 0)
                        } else if path == fp {
                            (path.to_string(), size + 4096, mode, 0)
                        } else {
                            (path.to_string(), size, mode, 0)
                        })
                    }
                }),
            }),
            flags: RST_FILE_CHANGED_OK,
            files: None,
            nofile: None,
            errno: libc::EOPNOTSUPP,
            want: Box::new(|_| vec!["is a directory: only regular files are mapped or executed".into()]),
        },
    ];
    let mut fails = Vec::new();
    let run = |c: &FdtCase| -> Result<(), String> {
        let (data, vmas) = c.image.as_ref().map_err(|e| format!("making the image: {e}"))?;
        let r = coordinator_call(data, c.flags, c.files.as_deref(), c.nofile)?;
        let want = (c.want)(vmas);
        println!("# {}: errno {} ({})", c.what, r.errno, r.msg);
        let mut why = Vec::new();
        if r.errno != c.errno {
            why.push(format!("errno {}, want {}", r.errno, c.errno));
        }
        for w in &want {
            if !r.msg.contains(w.as_str()) {
                why.push(format!("the message lacks {w:?}"));
            }
        }
        if !r.root_ok {
            why.push("the root stand-in was touched".into());
        }
        ensure(why.is_empty(), || format!("{}; message: {:?}", why.join("; "), r.msg))
    };
    for c in &cases {
        if let Err(e) = run(c) {
            fails.push(format!("{}: {e}", c.what));
        }
    }
    // The file of FILE 2 taken (its MAPFILE is on the first file VMA),
    // then a later VMA refused: the file is dropped. Many times: the filp
    // objects must not grow with the count.
    let later_bad = Fdt {
        fds: std_fds.clone(),
        vma: Box::new(|i, path| {
            let (size, mode) = stat_of(path)?;
            Ok(match i {
                0 => (path.to_string(), size, mode, 2),
                1 => ("/usr/bin/cptrst".into(), stat_of("/usr/bin/cptrst")?.0 + 8, S_IFREG | 0o755, 0),
                _ => (path.to_string(), size, mode, 0),
            })
        }),
    };
    if nvmas >= 2 {
        let (data, _) = fdt_image(&raw, &later_bad)?;
        let before = open_files().unwrap_or(0);
        let n = 40;
        for k in 0..n {
            let r = coordinator_call(&data, 0, Some(&[-1, memfd]), None)?;
            if r.errno != libc::ESTALE || !r.msg.contains("/usr/bin/cptrst has changed since the checkpoint") {
                fails.push(format!("memfd taken, a later VMA refused (call {k}): errno {}: {:?}", r.errno, r.msg));
                break;
            }
        }
        let mut after = open_files().unwrap_or(0);
        let t = Instant::now();
        while after > before + n / 2 && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(500));
            after = open_files().unwrap_or(0);
        }
        println!("# memfd taken then dropped, {n} calls: filp objects {before} -> {after}");
        if after > before + n / 2 {
            fails.push(format!("filp objects grew from {before} to {after} over {n} refused calls that took a file"));
        }
    } else {
        println!("# only one file VMA: the taken-then-dropped case is skipped");
    }
    // SAFETY: closing our own fds.
    unsafe {
        libc::close(memfd);
        libc::close(pipe[0]);
        libc::close(pipe[1]);
    }
    ensure(fails.is_empty(), || fails.join("\n"))
}

/// The commit's keep list, end to end through `cptrst restart`: the
/// counter-check image with an FDS listing fds 0 to 20 (FILE 1). Whatever
/// user space put at those fds before the commit (the tool's own fds, or
/// the image's files once the tool opens them) stays; nothing else does,
/// and never a `/dev/cptrst` fd, listed or not.
fn fdt_keep() -> Result<(), String> {
    make_specials()?;
    let image = make_image(&["cptrst-testprog", "counter-check"], "fdt-keep")?;
    let listed: Vec<u32> = (0..=20).collect();
    let (data, _) = fdt_image(&image.raw, &Fdt { fds: listed.iter().map(|&fd| (fd, 1)).collect(), vma: Box::new(vma_as_is) })?;
    img::validate(&data).map_err(|e| format!("test bug: the image crate refuses the variant: {e}"))?;
    let file = format!("{DIR}/fdt-keep.img");
    std::fs::write(&file, &data).map_err(|e| format!("{file}: {e}"))?;
    // Not through pipes: the detached tree keeps the tool's fds 0 to 2.
    let err = format!("{DIR}/fdt-keep.err");
    let st = File::create(&err).and_then(|e| {
        Command::new("cptrst").args(["restart", "-i", &file, "--detach"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(e).status()
    });
    let _ = std::fs::remove_file(&file);
    let root = image.pids[0];
    let r = (|| {
        let st = st.map_err(|e| format!("cannot run cptrst restart: {e}"))?;
        ensure(st.success(), || {
            format!("cptrst restart: {}: {}", status_text(st), std::fs::read_to_string(&err).unwrap_or_default())
        })?;
        let dir = format!("/proc/{root}/fd");
        let mut open = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(|e| format!("{dir}: {e}"))?.flatten() {
            let fd: u32 = e.file_name().to_string_lossy().parse().unwrap_or(u32::MAX);
            let target = std::fs::read_link(e.path()).map(|t| t.display().to_string()).unwrap_or_default();
            open.push((fd, target));
        }
        open.sort();
        println!("# the restored process's fds: {open:?}");
        let mut why = Vec::new();
        for (fd, t) in &open {
            if !listed.contains(fd) {
                why.push(format!("fd {fd} ({t}) is open and not in the FDS list"));
            }
            if t.contains("cptrst") && t.starts_with("/dev/") {
                why.push(format!("fd {fd} is {t}"));
            }
        }
        if !open.iter().any(|(fd, _)| *fd >= 3) {
            why.push("no fd of 3 and up of the FDS list was kept".into());
        }
        ensure(why.is_empty(), || why.join("; "))
    })();
    kill_descendants();
    for &p in &image.pids {
        let _ = wait_gone(p, Duration::from_secs(30));
    }
    r
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
        ("fdt: hostile FILE, FDS and MAPFILE fields: the kernel's errno and message, nothing restored or kept", fdt_checks),
        ("fdt: the commit keeps the leader's FDS fds, closes the others and every /dev/cptrst fd", fdt_keep),
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
