//! `cptrst-bench`: cptrst against CRIU, side by side in one guest (`make
//! bench`, scripts/bench).
//!
//! ```text
//! cptrst-bench [--reps N] [--dir DIR] [--mem MIB,...] [--trees N,...]
//!              [--threads N,...] [--files N,...] [--pipelines N,...]
//!              [--signals N,...] [--live MIB,...] [--criu-predumps N]
//!              [--tools cptrst,criu] [--perf]
//! ```
//!
//! For each workload (cptrst-testprog `mem-check MIB`, `tree-check N`,
//! `threads-check N`, `open-files-check N` (N regular files open, in a
//! directory of DIR), `pipeline-check N` (N processes in a chain of pipes
//! holding 1 MiB in all), `sig-bench N 100` (every signal that can be
//! caught handled, N real-time signals queued, 100 POSIX timers): programs
//! that check their own state after a restart)
//! and, with `--live MIB`, two workloads of MIB MiB checkpointed live,
//! each tool in its matching mode (`cptrst checkpoint --live`; CRIU's
//! `pre-dump --track-mem` rounds, `--criu-predumps` of them, then `dump
//! --track-mem --prev-images-dir`): `mem-check MIB` (idle memory) and
//! `live-writer PAGES PAGES/100` (a writer that rewrites 1 % of its pages
//! every 100 ms while it is checkpointed, and checks every page after the
//! restart),
//! and each repetition, it runs every tool in turn (the order alternating
//! between repetitions) on a fresh instance of the workload:
//! - checkpoint: `cptrst checkpoint PID -o IMG --kill --stats F` or `criu
//!   dump -t PID -D DIR --display-stats`; wall time, frozen time (from
//!   stopping the tree to a complete image: the tool's own count), image
//!   size, and the tool's peak RSS (`wait4`);
//! - restart: `cptrst restart -i IMG --detach` or `criu restore -D DIR -d`,
//!   which both return once the tree runs again; wall time and peak RSS;
//! - the restored workload is then told to check itself; a run whose
//!   workload finds a difference (or does not exit 0) is a failure, not a
//!   time.
//!
//! As the physical-limit reference, it times a plain copy of each memory
//! size in the same guest: memcpy into fresh anonymous memory, and write(2)
//! into a file in DIR.
//!
//! With `--perf` every checkpoint and restart runs under `perf record -a`
//! (cpu-clock samples: TCG has no hardware counters) and the profile's top
//! symbols are printed after it; the times of such a run include perf's
//! overhead, so use it to see where time goes, not for the table.
//!
//! DIR (default /bench, mounted as tmpfs if it is not one) holds both
//! tools' images and the workloads' output. The report goes to stdout:
//! a table, then the JSON between `--- json ---` and `--- end json ---`
//! and the plot data between `--- plot ---` and `--- end plot ---`
//! (scripts/bench turns these into files and a PNG).

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cptrst::proc::wait_status_text as status_text;
use cptrst_tests::rst::{exists, ready_word, write_mem};
use cptrst_tests::READY_MAGIC;
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(900);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ToolKind {
    Cptrst,
    Criu,
}

impl ToolKind {
    fn name(self) -> &'static str {
        match self {
            ToolKind::Cptrst => "cptrst",
            ToolKind::Criu => "criu",
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Work {
    Mem(usize),
    Tree(usize),
    Threads(usize),
    Files(usize),
    Pipeline(usize),
    Signals(usize),
    /// MiB of idle memory, checkpointed live.
    LiveIdle(usize),
    /// MiB written at 1 % of the pages per 100 ms, checkpointed live.
    LiveDirty(usize),
}

/// The POSIX timers of a `sig-bench` workload.
const SIGNALS_TIMERS: usize = 100;

/// What a `pipeline-check` workload holds in its pipes, in all.
const PIPELINE_BYTES: usize = 1 << 20;

impl Work {
    fn name(self) -> String {
        match self {
            Work::Mem(m) => format!("mem {m} MiB"),
            Work::Tree(n) => format!("tree of {n}"),
            Work::Threads(n) => format!("{n} threads"),
            Work::Files(n) => format!("{n} files"),
            Work::Pipeline(n) => format!("pipeline of {n}"),
            Work::Signals(n) => format!("{n} signals"),
            Work::LiveIdle(m) => format!("live idle {m}M"),
            Work::LiveDirty(m) => format!("live 1%/100ms {m}M"),
        }
    }

    /// Checkpointed live (each tool in its pre-copy mode)?
    fn live(self) -> bool {
        matches!(self, Work::LiveIdle(_) | Work::LiveDirty(_))
    }

    fn args(self, dir: &str) -> Vec<String> {
        match self {
            Work::Mem(m) => vec!["mem-check".into(), m.to_string()],
            Work::Tree(n) => vec!["tree-check".into(), n.to_string()],
            Work::Threads(n) => vec!["threads-check".into(), n.to_string()],
            Work::Files(n) => vec!["open-files-check".into(), n.to_string(), format!("{dir}/open-files")],
            Work::Pipeline(n) => vec!["pipeline-check".into(), n.to_string(), PIPELINE_BYTES.to_string()],
            Work::Signals(n) => vec!["sig-bench".into(), n.to_string(), SIGNALS_TIMERS.to_string()],
            Work::LiveIdle(m) => vec!["mem-check".into(), m.to_string()],
            Work::LiveDirty(m) => {
                let pages = m * 256;
                vec!["live-writer".into(), pages.to_string(), (pages / 100).max(1).to_string()]
            }
        }
    }
}

struct Opts {
    reps: usize,
    dir: String,
    mem: Vec<usize>,
    trees: Vec<usize>,
    threads: Vec<usize>,
    files: Vec<usize>,
    pipelines: Vec<usize>,
    signals: Vec<usize>,
    live: Vec<usize>,
    criu_predumps: usize,
    tools: Vec<ToolKind>,
    perf: bool,
}

fn usage(msg: &str) -> ! {
    eprintln!("cptrst-bench: {msg}");
    eprintln!(
        "usage: cptrst-bench [--reps N] [--dir DIR] [--mem MIB,...] [--trees N,...] [--threads N,...] [--files N,...] [--pipelines N,...] [--signals N,...] [--live MIB,...] [--criu-predumps N] [--tools cptrst,criu] [--perf]"
    );
    std::process::exit(2)
}

fn list(s: Option<&String>, what: &str, max: usize) -> Vec<usize> {
    let s = s.unwrap_or_else(|| usage(&format!("{what} needs a list")));
    if s.is_empty() || s == "none" {
        return Vec::new();
    }
    s.split(',')
        .map(|x| match x.parse::<usize>() {
            Ok(v) if (1..=max).contains(&v) => v,
            _ => usage(&format!("{what}: '{x}' is not a number in 1..={max}")),
        })
        .collect()
}

fn parse() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Opts {
        reps: 5,
        dir: "/bench".into(),
        mem: vec![64, 256, 1024],
        trees: vec![1, 10, 100],
        threads: vec![16],
        files: vec![1000],
        pipelines: vec![10],
        signals: vec![1000],
        live: vec![1024],
        criu_predumps: 2,
        tools: vec![ToolKind::Cptrst, ToolKind::Criu],
        perf: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--reps" => o.reps = list(it.next(), "--reps", 1000).first().copied().unwrap_or_else(|| usage("--reps 0")),
            "--dir" => o.dir = it.next().unwrap_or_else(|| usage("--dir needs a directory")).clone(),
            "--mem" => o.mem = list(it.next(), "--mem", 16384),
            "--trees" => o.trees = list(it.next(), "--trees", 1000),
            "--threads" => o.threads = list(it.next(), "--threads", 64),
            "--files" => o.files = list(it.next(), "--files", 60000),
            "--pipelines" => o.pipelines = list(it.next(), "--pipelines", 100),
            "--signals" => o.signals = list(it.next(), "--signals", 8000),
            "--live" => o.live = list(it.next(), "--live", 16384),
            "--criu-predumps" => {
                o.criu_predumps = list(it.next(), "--criu-predumps", 16).first().copied().unwrap_or_else(|| usage("--criu-predumps 0"))
            }
            "--tools" => {
                let s = it.next().unwrap_or_else(|| usage("--tools needs a list"));
                o.tools = s
                    .split(',')
                    .map(|t| match t {
                        "cptrst" => ToolKind::Cptrst,
                        "criu" => ToolKind::Criu,
                        _ => usage(&format!("--tools: unknown tool '{t}'")),
                    })
                    .collect();
            }
            "--perf" => o.perf = true,
            "-h" | "--help" => usage("cptrst against CRIU"),
            _ => usage(&format!("unknown argument '{a}'")),
        }
    }
    o
}

/// One repetition of one tool on one workload.
#[derive(Clone, Debug, Default)]
struct Sample {
    checkpoint_s: f64,
    frozen_s: f64,
    restart_s: f64,
    image_bytes: f64,
    checkpoint_rss_kib: f64,
    restart_rss_kib: f64,
}

const METRICS: [(&str, &str); 6] = [
    ("checkpoint_s", "checkpoint (s)"),
    ("frozen_s", "frozen (s)"),
    ("restart_s", "restart (s)"),
    ("image_bytes", "image (MiB)"),
    ("checkpoint_rss_kib", "ckpt peak RSS (MiB)"),
    ("restart_rss_kib", "restart peak RSS (MiB)"),
];

impl Sample {
    fn get(&self, m: &str) -> f64 {
        match m {
            "checkpoint_s" => self.checkpoint_s,
            "frozen_s" => self.frozen_s,
            "restart_s" => self.restart_s,
            "image_bytes" => self.image_bytes,
            "checkpoint_rss_kib" => self.checkpoint_rss_kib,
            "restart_rss_kib" => self.restart_rss_kib,
            _ => unreachable!(),
        }
    }
}

/// What a finished command left: wall time, wait status, peak RSS.
struct Ran {
    secs: f64,
    status: i32,
    maxrss_kib: f64,
}

/// Runs `prog args` to the end, its stdout and stderr into `out` and `err`,
/// through `cptrst-bench --measure`: a peak RSS from `wait4` counts the
/// memory of the process that called exec (Linux keeps the larger of the
/// old and the new mm's high-water marks), so the program must be started
/// by a small process, not by this one with its copy buffers.
fn run(prog: &str, args: &[&str], out: &str, err: &str) -> Result<Ran, String> {
    let f = |p: &str| File::create(p).map_err(|e| format!("{p}: {e}"));
    let m = format!("{out}.measure");
    let _ = std::fs::remove_file(&m);
    let me = std::env::current_exe().map_err(|e| format!("/proc/self/exe: {e}"))?;
    let st = Command::new(me)
        .arg("--measure")
        .arg(&m)
        .arg("--")
        .arg(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(f(out)?)
        .stderr(f(err)?)
        .status()
        .map_err(|e| format!("cannot run {prog}: {e}"))?;
    let text = read(&m);
    let v: Vec<&str> = text.split_whitespace().collect();
    match (st.success(), v.as_slice()) {
        (true, [secs, status, rss]) => Ok(Ran {
            secs: secs.parse().map_err(|_| format!("--measure: bad output {text:?}"))?,
            status: status.parse().map_err(|_| format!("--measure: bad output {text:?}"))?,
            maxrss_kib: rss.parse().map_err(|_| format!("--measure: bad output {text:?}"))?,
        }),
        _ => Err(format!("cannot run {prog} {}: {}", args.join(" "), read(err))),
    }
}

/// [`run`], under `perf record -a` if `perf` (then prints the profile's
/// top symbols, headed with `what`).
fn run_maybe_perf(perf: bool, what: &str, prog: &str, args: &[&str], out: &str, err: &str) -> Result<Ran, String> {
    if !perf {
        return run(prog, args, out, err);
    }
    let data = format!("{out}.perf");
    let mut a = vec!["record", "-q", "-a", "-e", "cpu-clock", "-F", "2000", "-o", &data, "--", prog];
    a.extend_from_slice(args);
    let r = run("perf", &a, out, err)?;
    let rep = Command::new("perf")
        .args(["report", "-i", &data, "--stdio", "-q", "--sort", "comm,dso,sym", "--percent-limit", "1"])
        .output()
        .map_err(|e| format!("perf report: {e}"))?;
    println!("--- profile: {what} ---");
    for l in String::from_utf8_lossy(&rep.stdout).lines().filter(|l| !l.trim().is_empty()).take(40) {
        println!("{l}");
    }
    println!("--- end profile ---");
    let _ = std::fs::remove_file(&data);
    Ok(r)
}

/// `cptrst-bench --measure FILE -- PROG ARGS...`: runs PROG (stdio
/// inherited) and writes its wall time in seconds, its wait status and its
/// peak RSS in KiB to FILE.
fn measure(args: &[String]) -> ! {
    let (file, prog) = match args {
        [f, dd, prog, ..] if dd == "--" => (f, prog),
        _ => usage("--measure FILE -- PROG [ARGS...]"),
    };
    let t0 = Instant::now();
    let child = match Command::new(prog).args(&args[3..]).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cptrst-bench: cannot run {prog}: {e}");
            std::process::exit(1)
        }
    };
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: rusage is plain old data, written by wait4.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 on our own child, into locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            eprintln!("cptrst-bench: wait4 {pid}: {e}");
            std::process::exit(1)
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    if let Err(e) = std::fs::write(file, format!("{secs} {status} {}\n", ru.ru_maxrss)) {
        eprintln!("cptrst-bench: {file}: {e}");
        std::process::exit(1)
    }
    std::process::exit(0)
}

fn read(p: &str) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn status_ok(st: i32) -> bool {
    libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0
}

/// Reaps every zombie child (orphans come to us: we are a subreaper);
/// returns the status of `want` if it was among them.
fn reap_all(want: i32) -> Option<i32> {
    let mut got = None;
    loop {
        let mut st = 0;
        // SAFETY: waitpid into a local.
        let r = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG | libc::__WALL) };
        if r <= 0 {
            return got;
        }
        if r == want {
            got = Some(st);
        }
    }
}

fn wait_gone(pids: &[i32]) -> Result<(), String> {
    let t0 = Instant::now();
    while pids.iter().any(|&p| exists(p)) {
        reap_all(0);
        if t0.elapsed() > TIMEOUT {
            return Err(format!("processes {pids:?} still there after {TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// SIGKILLs every process of a workload (the original or the restored
/// one) and waits until they are gone.
fn kill_all(pids: &[i32]) -> Result<(), String> {
    for &p in pids {
        // SAFETY: kill(2) of a workload this bench started or restored.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
    wait_gone(pids)
}

/// The last lines of CRIU's log `path` for a failure message (cptrst
/// reports on its stderr: nothing).
fn log_tail(tool: ToolKind, path: &str) -> String {
    if tool != ToolKind::Criu {
        return String::new();
    }
    let log = read(path);
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// A running workload: its pid, every process's pid, its go byte.
struct Live {
    pid: i32,
    pids: Vec<i32>,
    go: u64,
}

fn start(w: Work, dir: &str) -> Result<Live, String> {
    let out = format!("{dir}/workload.out");
    let err = format!("{dir}/workload.err");
    let f = |p: &str| File::create(p).map_err(|e| format!("{p}: {e}"));
    let mut cmd = Command::new("cptrst-testprog");
    cmd.args(w.args(dir)).stdin(Stdio::null()).stdout(f(&out)?).stderr(f(&err)?);
    // Its own session, as a service would be (CRIU then needs no
    // --shell-job).
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        })
    };
    let child = cmd.spawn().map_err(|e| format!("cannot start cptrst-testprog: {e}"))?;
    let pid = child.id() as i32;
    let t0 = Instant::now();
    let line = loop {
        let s = read(&out);
        if let Some(l) = s.lines().next().filter(|l| l.ends_with('}')) {
            break l.to_string();
        }
        if let Some(st) = reap_all(pid) {
            return Err(format!("{} exited ({}): {}", w.name(), status_text(st), read(&err)));
        }
        if t0.elapsed() > TIMEOUT {
            return Err(format!("{} not ready after {TIMEOUT:?}", w.name()));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let v: Value = serde_json::from_str(&line).map_err(|e| format!("ready line {line:?}: {e}"))?;
    let num = |k: &str| v[k].as_u64().ok_or_else(|| format!("ready line without {k}: {line}"));
    let (ready, go) = (num("ready")?, num("go")?);
    let pids = match v["pids"].as_array() {
        Some(a) => a.iter().filter_map(|p| p.as_i64()).map(|p| p as i32).collect(),
        None => vec![pid],
    };
    while ready_word(pid, ready) != Some(READY_MAGIC) {
        if let Some(st) = reap_all(pid) {
            return Err(format!("{} exited ({}): {}", w.name(), status_text(st), read(&err)));
        }
        if t0.elapsed() > TIMEOUT {
            return Err(format!("{} not ready after {TIMEOUT:?}", w.name()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Live { pid, pids, go })
}

fn dir_bytes(p: &str) -> u64 {
    std::fs::read_dir(p)
        .map(|d| d.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// CRIU's `--display-stats` line `NAME: N us`, in seconds.
fn criu_stat(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':')?.trim().strip_suffix("us")?.trim().parse::<f64>().ok())
        .map(|us| us / 1e6)
}

/// One checkpoint, restart and check of `w` by `tool`.
fn one(tool: ToolKind, w: Work, dir: &str, perf: bool, predumps: usize) -> Result<Sample, String> {
    let live = start(w, dir)?;
    let (o, e) = (format!("{dir}/tool.out"), format!("{dir}/tool.err"));
    let img = format!("{dir}/{}.img", tool.name());
    let _ = std::fs::remove_dir_all(&img);
    let _ = std::fs::remove_file(&img);
    let mut s = Sample::default();
    let ck = match tool {
        ToolKind::Cptrst => {
            let stats = format!("{dir}/stats.json");
            let what = format!("cptrst checkpoint, {}", w.name());
            let pid = live.pid.to_string();
            let mut a = vec!["checkpoint", &pid, "-o", &img, "--kill", "--stats", &stats];
            if w.live() {
                a.push("--live");
            }
            let r = run_maybe_perf(perf, &what, "cptrst", &a, &o, &e)?;
            if status_ok(r.status) {
                let v: Value = serde_json::from_str(&read(&stats)).map_err(|e| format!("cptrst --stats: {e}"))?;
                s.frozen_s = v["frozen_us"].as_f64().unwrap_or(f64::NAN) / 1e6;
                s.image_bytes = std::fs::metadata(&img).map(|m| m.len() as f64).unwrap_or(f64::NAN);
            }
            r
        }
        ToolKind::Criu => {
            // Live: pre-dump rounds into img/pre1, img/pre2, ..., each
            // with the one before as its parent, then the dump into
            // img/final. Every step freezes the tree: the frozen time is
            // their sum, the wall time too, the image all the directories.
            let steps = if w.live() { predumps + 1 } else { 1 };
            let pid = live.pid.to_string();
            let log = format!("{dir}/criu-dump.log");
            let mut total = Ran { secs: 0.0, status: 0, maxrss_kib: 0.0 };
            s.frozen_s = 0.0;
            for step in 1..=steps {
                let last = step == steps;
                let sub = if !w.live() {
                    img.clone()
                } else if last {
                    format!("{img}/final")
                } else {
                    format!("{img}/pre{step}")
                };
                std::fs::create_dir_all(&sub).map_err(|e| format!("{sub}: {e}"))?;
                let parent = format!("../pre{}", step - 1);
                let mut a = vec![if last { "dump" } else { "pre-dump" }, "-t", &pid, "-D", &sub, "-o", &log, "--display-stats"];
                if w.live() {
                    a.push("--track-mem");
                    if step > 1 {
                        a.extend(["--prev-images-dir", &parent]);
                    }
                }
                let what = format!("criu {}, {}", a[0], w.name());
                let r = run_maybe_perf(perf, &what, "criu", &a, &o, &e)?;
                total.secs += r.secs;
                total.status = r.status;
                total.maxrss_kib = total.maxrss_kib.max(r.maxrss_kib);
                if !status_ok(r.status) {
                    break;
                }
                let out = read(&o) + &read(&e);
                let freezing = criu_stat(&out, "Freezing time").ok_or_else(|| format!("no freezing time in criu's stats:\n{out}"))?;
                let frozen = criu_stat(&out, "Frozen time").ok_or_else(|| format!("no frozen time in criu's stats:\n{out}"))?;
                s.frozen_s += freezing + frozen;
            }
            if status_ok(total.status) {
                s.image_bytes = if w.live() {
                    std::fs::read_dir(&img)
                        .map(|d| d.filter_map(Result::ok).map(|e| dir_bytes(&e.path().to_string_lossy())).sum::<u64>())
                        .unwrap_or(0) as f64
                } else {
                    dir_bytes(&img) as f64
                };
            }
            total
        }
    };
    if !status_ok(ck.status) {
        kill_all(&live.pids)?;
        let tail = log_tail(tool, &format!("{dir}/criu-dump.log"));
        return Err(format!("{} checkpoint: {}\n{}{}{tail}", tool.name(), status_text(ck.status), read(&o), read(&e)));
    }
    s.checkpoint_s = ck.secs;
    s.checkpoint_rss_kib = ck.maxrss_kib;
    wait_gone(&live.pids)?;

    let rs = match tool {
        ToolKind::Cptrst => run_maybe_perf(perf, &format!("cptrst restart, {}", w.name()), "cptrst", &["restart", "-i", &img, "--detach"], &o, &e)?,
        ToolKind::Criu => run_maybe_perf(
            perf,
            &format!("criu restore, {}", w.name()),
            "criu",
            &["restore", "-D", &if w.live() { format!("{img}/final") } else { img.clone() }, "-d", "-o", &format!("{dir}/criu-restore.log")],
            &o,
            &e,
        )?,
    };
    let cleanup = |pids: &[i32]| {
        let _ = kill_all(pids);
        let _ = std::fs::remove_dir_all(&img);
        let _ = std::fs::remove_file(&img);
    };
    if !status_ok(rs.status) {
        cleanup(&live.pids);
        let tail = log_tail(tool, &format!("{dir}/criu-restore.log"));
        return Err(format!("{} restart: {}\n{}{}{tail}", tool.name(), status_text(rs.status), read(&o), read(&e)));
    }
    s.restart_s = rs.secs;
    s.restart_rss_kib = rs.maxrss_kib;
    // The restored workload checks itself: go to every process, then the
    // root's exit status (it reaps its own children) is the verdict.
    for &p in &live.pids {
        if let Err(err) = write_mem(p, live.go, &[1]) {
            cleanup(&live.pids);
            return Err(format!("{} restart: {err}", tool.name()));
        }
    }
    let t0 = Instant::now();
    let st = loop {
        if let Some(st) = reap_all(live.pid) {
            break st;
        }
        if !exists(live.pid) {
            cleanup(&live.pids);
            return Err(format!("{}: the restored root {} is not our child", tool.name(), live.pid));
        }
        if t0.elapsed() > TIMEOUT {
            cleanup(&live.pids);
            return Err(format!("{}: the restored workload did not finish its check", tool.name()));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    cleanup(&live.pids);
    if !status_ok(st) {
        return Err(format!(
            "{}: the restored {} failed its check ({}): {}{}",
            tool.name(),
            w.name(),
            status_text(st),
            read(&format!("{dir}/workload.err")),
            read(&e)
        ));
    }
    Ok(s)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)))
}

/// A plain copy of `mib` MiB: memcpy into fresh anonymous memory, and
/// write(2) into a file in `dir`; `reps` times each, in seconds.
fn plain_copy(mib: usize, reps: usize, dir: &str) -> (Vec<f64>, Vec<f64>) {
    use std::io::Write;
    let len = mib << 20;
    let src: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4096) as u8).collect();
    let (mut mc, mut wr) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let t0 = Instant::now();
        let mut dst: Vec<u8> = Vec::with_capacity(len);
        dst.extend_from_slice(&src);
        std::hint::black_box(&dst);
        mc.push(t0.elapsed().as_secs_f64());
        drop(dst);
        let p = format!("{dir}/copy");
        let t0 = Instant::now();
        let ok = File::create(&p).and_then(|mut f| f.write_all(&src));
        wr.push(t0.elapsed().as_secs_f64());
        let _ = std::fs::remove_file(&p);
        if let Err(e) = ok {
            eprintln!("cptrst-bench: write to {p}: {e}");
        }
    }
    (mc, wr)
}

fn ensure_tmpfs(dir: &str) {
    let _ = std::fs::create_dir_all(dir);
    let mounts = read("/proc/self/mounts");
    if !mounts.lines().any(|l| {
        let f: Vec<_> = l.split_whitespace().collect();
        f.len() > 2 && f[1] == dir && f[2] == "tmpfs"
    }) {
        let st = Command::new("mount").args(["-t", "tmpfs", "-o", "size=90%", "bench", dir]).status();
        if !matches!(st, Ok(s) if s.success()) {
            eprintln!("cptrst-bench: cannot mount a tmpfs on {dir}");
            std::process::exit(1);
        }
    }
}

fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(if o.stdout.is_empty() { &o.stderr } else { &o.stdout }).lines().next().unwrap_or("").to_string())
        .unwrap_or_default()
}

fn fmt(m: &str, x: f64) -> String {
    if x.is_nan() {
        return "-".into();
    }
    match m {
        "image_bytes" => format!("{:.1}", x / 1048576.0),
        "checkpoint_rss_kib" | "restart_rss_kib" => format!("{:.1}", x / 1024.0),
        _ => format!("{x:.3}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--measure") {
        measure(&args[1..]);
    }
    let o = parse();
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        eprintln!("cptrst-bench: PR_SET_CHILD_SUBREAPER: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    ensure_tmpfs(&o.dir);
    if o.tools.contains(&ToolKind::Criu) {
        let c = Command::new("criu").arg("check").output();
        match c {
            Ok(c) if c.status.success() => eprintln!("cptrst-bench: criu check: {}", String::from_utf8_lossy(&c.stdout).trim()),
            Ok(c) => {
                eprintln!("cptrst-bench: `criu check` failed:\n{}{}", String::from_utf8_lossy(&c.stdout), String::from_utf8_lossy(&c.stderr));
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("cptrst-bench: cannot run criu: {e}");
                std::process::exit(1);
            }
        }
    }
    let mut works: Vec<Work> = o.mem.iter().map(|&m| Work::Mem(m)).collect();
    works.extend(o.trees.iter().map(|&n| Work::Tree(n)));
    works.extend(o.threads.iter().map(|&n| Work::Threads(n)));
    works.extend(o.files.iter().map(|&n| Work::Files(n)));
    works.extend(o.pipelines.iter().map(|&n| Work::Pipeline(n)));
    works.extend(o.signals.iter().map(|&n| Work::Signals(n)));
    works.extend(o.live.iter().flat_map(|&m| [Work::LiveIdle(m), Work::LiveDirty(m)]));

    let mut copies = serde_json::Map::new();
    for &m in &o.mem {
        eprintln!("cptrst-bench: plain copy of {m} MiB");
        let (mc, wr) = plain_copy(m, o.reps, &o.dir);
        copies.insert(
            m.to_string(),
            json!({"memcpy_s": mc, "memcpy_median_s": median(&mc), "write_s": wr, "write_median_s": median(&wr)}),
        );
    }

    let mut results = Vec::new();
    let mut failures = 0usize;
    for &w in &works {
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); o.tools.len()];
        let mut errors: Vec<Vec<String>> = vec![Vec::new(); o.tools.len()];
        for rep in 0..o.reps {
            for k in 0..o.tools.len() {
                // Alternate which tool goes first.
                let ti = if rep % 2 == 0 { k } else { o.tools.len() - 1 - k };
                let tool = o.tools[ti];
                eprint!("cptrst-bench: {} rep {} {}: ", w.name(), rep + 1, tool.name());
                match one(tool, w, &o.dir, o.perf, o.criu_predumps) {
                    Ok(s) => {
                        eprintln!("checkpoint {:.3} s, restart {:.3} s", s.checkpoint_s, s.restart_s);
                        samples[ti].push(s);
                    }
                    Err(e) => {
                        eprintln!("FAILED: {e}");
                        failures += 1;
                        errors[ti].push(e);
                    }
                }
            }
        }
        let mut tools = serde_json::Map::new();
        for (ti, t) in o.tools.iter().enumerate() {
            let mut med = serde_json::Map::new();
            let mut spread = serde_json::Map::new();
            let mut all = serde_json::Map::new();
            for (m, _) in METRICS {
                let v: Vec<f64> = samples[ti].iter().map(|s| s.get(m)).collect();
                let (lo, hi) = min_max(&v);
                med.insert(m.into(), json!(median(&v)));
                spread.insert(m.into(), json!([lo, hi]));
                all.insert(m.into(), json!(v));
            }
            tools.insert(
                t.name().into(),
                json!({"runs": samples[ti].len(), "failures": errors[ti], "median": med, "min_max": spread, "samples": all}),
            );
        }
        let (kind, size) = match w {
            Work::Mem(m) => ("mem", m),
            Work::Tree(n) => ("tree", n),
            Work::Threads(n) => ("threads", n),
            Work::Files(n) => ("files", n),
            Work::Pipeline(n) => ("pipeline", n),
            Work::Signals(n) => ("signals", n),
            Work::LiveIdle(m) => ("live-idle", m),
            Work::LiveDirty(m) => ("live-dirty", m),
        };
        results.push(json!({"workload": w.name(), "kind": kind, "size": size, "tools": tools}));
    }

    // The table.
    let has = |t: ToolKind| o.tools.contains(&t);
    let both = has(ToolKind::Cptrst) && has(ToolKind::Criu);
    println!(
        "cptrst vs CRIU: median [min-max] of {} repetitions; ratio = cptrst / CRIU (below 1: cptrst is faster or smaller)",
        o.reps
    );
    println!("{:<14} {:<22} {:>24} {:>24} {:>7}", "workload", "metric", "cptrst", "CRIU", "ratio");
    let mut ratios = Vec::new();
    for r in &results {
        for (m, label) in METRICS {
            let cell = |t: ToolKind| {
                let v = &r["tools"][t.name()];
                if v.is_null() {
                    return ("-".to_string(), f64::NAN);
                }
                let med = v["median"][m].as_f64().unwrap_or(f64::NAN);
                let lo = v["min_max"][m][0].as_f64().unwrap_or(f64::NAN);
                let hi = v["min_max"][m][1].as_f64().unwrap_or(f64::NAN);
                (format!("{} [{}-{}]", fmt(m, med), fmt(m, lo), fmt(m, hi)), med)
            };
            let (c, cm) = cell(ToolKind::Cptrst);
            let (k, km) = cell(ToolKind::Criu);
            let ratio = if both { cm / km } else { f64::NAN };
            ratios.push(json!({"workload": r["workload"], "metric": m, "ratio": ratio}));
            println!(
                "{:<14} {:<22} {:>24} {:>24} {:>7}",
                r["workload"].as_str().unwrap_or(""),
                label,
                c,
                k,
                if ratio.is_nan() { "-".into() } else { format!("{ratio:.2}") }
            );
        }
        if let (Some("mem"), Some(size)) = (r["kind"].as_str(), r["size"].as_u64()) {
            let c = &copies[&size.to_string()];
            let mc = c["memcpy_median_s"].as_f64().unwrap_or(f64::NAN);
            let wr = c["write_median_s"].as_f64().unwrap_or(f64::NAN);
            println!("{:<14} {:<22} {:>24}", r["workload"].as_str().unwrap_or(""), "plain memcpy (s)", format!("{mc:.3}"));
            println!("{:<14} {:<22} {:>24}", r["workload"].as_str().unwrap_or(""), "plain write (s)", format!("{wr:.3}"));
            for t in &o.tools {
                let ck = r["tools"][t.name()]["median"]["checkpoint_s"].as_f64().unwrap_or(f64::NAN);
                println!(
                    "{:<14} {:<22} {:>24}",
                    r["workload"].as_str().unwrap_or(""),
                    format!("{} ckpt / memcpy", t.name()),
                    format!("{:.2}", ck / mc)
                );
            }
        }
    }
    println!("{failures} failed runs");

    let uname = first_line("uname", &["-r"]);
    // `criu --version` says "Version: 3.17.1".
    let criu_v = if has(ToolKind::Criu) {
        format!("CRIU {}", first_line("criu", &["--version"]).trim_start_matches("Version:").trim())
    } else {
        String::new()
    };
    let report = json!({
        "reps": o.reps,
        "dir": o.dir,
        "kernel": uname,
        "criu": criu_v,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "mem_total_kib": cptrst_tests::rst::meminfo_kib("MemTotal"),
        "plain_copy": copies,
        "workloads": results,
        "ratios": ratios,
        "failures": failures,
    });
    println!("--- json ---");
    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    println!("--- end json ---");
    // Plot data: MiB, then checkpoint and restart medians of each tool, memcpy.
    println!("--- plot ---");
    println!("# MiB cptrst_ckpt cptrst_restart criu_ckpt criu_restart memcpy write");
    for r in report["workloads"].as_array().into_iter().flatten().filter(|r| r["kind"] == "mem") {
        let size = r["size"].as_u64().unwrap_or(0);
        let g = |t: &str, m: &str| r["tools"][t]["median"][m].as_f64().map_or("NaN".to_string(), |x| format!("{x:.4}"));
        let c = &report["plain_copy"][size.to_string()];
        println!(
            "{size} {} {} {} {} {:.4} {:.4}",
            g("cptrst", "checkpoint_s"),
            g("cptrst", "restart_s"),
            g("criu", "checkpoint_s"),
            g("criu", "restart_s"),
            c["memcpy_median_s"].as_f64().unwrap_or(f64::NAN),
            c["write_median_s"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!("--- end plot ---");
    std::process::exit(if failures == 0 { 0 } else { 1 });
}
