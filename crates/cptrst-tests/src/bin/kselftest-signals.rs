//! Guest tests of signals, timers, resource limits and credentials
//! (issue 15): each case starts a self-checking workload (cptrst-testprog
//! `sigterm-check`, `siginfo-check`, `rtqueue-check`, ...: it sets the
//! state up, takes a snapshot of it, and after `go` compares and checks
//! what the state must still do: a handler runs, a pending signal arrives
//! with its siginfo, a timer fires, a limit holds), checkpoints it with
//! `cptrst checkpoint PID -o IMG --kill`, looks at the image (`inspect
//! --json`: what the checkpoint saved), restarts it with `cptrst restart
//! -i IMG`, waits until every process is back at its pid and running,
//! sets their `go` bytes (with `arg` and `arg2`: the earliest time a timer
//! may fire, computed from the image and the restart's start, and when the
//! restart started) and expects the tool to exit 0: the root's verdict.
//! Times are never bounded from above but by a generous wait: a busy
//! emulator delivers late, never early. Then: a checkpoint consumes
//! nothing (two `--resume` checkpoints, then the original's own check),
//! credentials refused for an unprivileged invoker (EPERM) and restored
//! with `--as-invoker`, and 50 cycles without a leak.
//!
//! The harness runs each case in a process of its own (this program with
//! `--case N`) and bounds it (300 s; the cycles 900 s): a case that hangs
//! is killed with everything it started, reported as failed, and the next
//! case runs. `KSELFTEST_SIGNALS_ONLY=WORD[,WORD...]` runs only the cases
//! whose name contains one of the words.

use std::time::{Duration, Instant};

use cptrst_tests::proc::{as_uid_1000_with_cap_checkpoint_restore, chmod, expect_refused, names_errno, run_cases, Case, Proc, CASE_BOUND, CYCLES_BOUND};
use cptrst_tests::rst::{
    kmemleak_start, open_files, open_files_within, runs_untraced, status_text, Tool, TOOL_TIMEOUT,
};
use cptrst_tests::tap::ensure;
use cptrst_tests::workload::inspect_json;
use serde_json::{json, Value};

/// Where a workload started `direct` writes its stderr.
const DIRECT_ERR: &str = "/tmp/signals-direct.err";

/// The device the unprivileged-invoker case opens up to uid 1000.
const DEVICE: &str = "/dev/cptrst";

/// CLOCK_MONOTONIC in nanoseconds: the workloads' clock too.
fn mono_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime into a local timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// What a timer's time may be rounded by between the image and its
/// re-arming (a time is never early: this is for rounding only).
const TIME_SLACK_NS: u64 = 20_000_000;

/// The tasks of `cptrst inspect --json IMG`.
fn image_tasks(img: &str) -> Result<Vec<Value>, String> {
    Ok(inspect_json(img)?["tasks"].as_array().cloned().unwrap_or_default())
}

/// The pending entries of signal `signo` in a task's `queue` ("private",
/// "shared", or "" for both).
fn pending_of(task: &Value, signo: u64, queue: &str) -> Vec<Value> {
    task["signals"]["pending"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["signo"].as_u64() == Some(signo) && (queue.is_empty() || p["queue"].as_str() == Some(queue)))
        .cloned()
        .collect()
}

/// A task's non-default disposition of `signo`, from the image.
fn action_of(task: &Value, signo: u64) -> Option<Value> {
    task["process"]["sigactions"].as_array()?.iter().find(|a| a["signo"].as_u64() == Some(signo)).cloned()
}

fn image_ensure(cond: bool, what: impl FnOnce() -> String, task: &Value) -> Result<(), String> {
    ensure(cond, || format!("the image: {}; the task in inspect --json:\n{task}", what()))
}

/// The round trip of a self-checking workload: start, checkpoint --kill,
/// `check` the image's root task (inspect --json), restart; once it is
/// back `go` with what `arg` computes from the image and the restart's
/// start time (arg, arg2), then `after_go` (its root's pid); want exit
/// status 0.
fn round_trip_with(
    cmd: &[&str],
    tag: &str,
    check: impl FnOnce(&[Value]) -> Result<(), String>,
    arg: impl FnOnce(&[Value], u64) -> Result<(u64, u64), String>,
    after_go: impl FnOnce(i32) -> Result<(), String>,
) -> Result<(), String> {
    let mut p = Proc::start(cmd)?;
    let img = format!("/tmp/signals-{tag}.img");
    let r = (|| {
        p.checkpoint_kill(&img)?;
        let tasks = image_tasks(&img)?;
        ensure(!tasks.is_empty(), || "inspect --json: no task".into())?;
        check(&tasks)?;
        let t0 = mono_ns();
        let (a, a2) = arg(&tasks, t0)?;
        let mut t = Tool::restart(&["-i", &img], tag)?;
        p.wait_restored(&mut t, false)?;
        if p.info.get("arg2").is_some() {
            p.go2(a, a2)?;
        } else {
            p.go(Some(a))?;
        }
        after_go(p.root())?;
        t.expect_ok()
    })();
    let _ = std::fs::remove_file(&img);
    r
}

fn round_trip(cmd: &[&str], tag: &str, check: impl FnOnce(&[Value]) -> Result<(), String>) -> Result<(), String> {
    round_trip_with(cmd, tag, check, |_, _| Ok((0, 0)), |_| Ok(()))
}

fn sigqueue(pid: i32, sig: i32, value: u64) -> Result<(), String> {
    let v = libc::sigval { sival_ptr: value as usize as *mut libc::c_void };
    // SAFETY: sigqueue(3) to a process of this test.
    let r = unsafe { libc::sigqueue(pid, sig, v) };
    ensure(r == 0, || format!("sigqueue({pid}, {sig}): {}", std::io::Error::last_os_error()))
}

fn kill(pid: i32, sig: i32) -> Result<(), String> {
    // SAFETY: kill(2) of a process of this test.
    let r = unsafe { libc::kill(pid, sig) };
    ensure(r == 0, || format!("kill({pid}, {sig}): {}", std::io::Error::last_os_error()))
}

fn my_pid() -> u64 {
    std::process::id() as u64
}

const SIGTERM_FILE: &str = "/tmp/signals-sigterm.out";
const SIGINFO_TEST_VALUE: u64 = 0x7e57_7e57;

/// The workloads, each started directly and told to go without a
/// checkpoint: each passes its own check (and a damaged one fails it).
fn poke_without_checkpoint() -> Result<(), String> {
    type After = fn(i32) -> Result<(), String>;
    let none: After = |_| Ok(());
    let term: After = |pid| {
        std::thread::sleep(Duration::from_millis(100));
        kill(pid, libc::SIGTERM)
    };
    let queue: After = |pid| sigqueue(pid, 35, SIGINFO_TEST_VALUE);
    let workloads: &[(&[&str], u64, After)] = &[
        (&["cptrst-testprog", "sigterm-check", SIGTERM_FILE], 0, term),
        (&["cptrst-testprog", "siginfo-check"], my_pid(), queue),
        (&["cptrst-testprog", "sigign-check"], 0, none),
        (&["cptrst-testprog", "rtqueue-check"], 1, none),
        (&["cptrst-testprog", "shared-pending-check"], 0, none),
        (&["cptrst-testprog", "altstack-check"], 0, none),
        (&["cptrst-testprog", "alarm-check", "1"], 0, none),
        (&["cptrst-testprog", "itimer-check"], 0, none),
        (&["cptrst-testprog", "posix-timer-check"], 0, none),
        (&["cptrst-testprog", "rlimit-check"], 0, none),
        (&["cptrst-testprog", "creds-check"], 0, none),
        (&["cptrst-testprog", "nnp-check"], 0, none),
        (&["cptrst-testprog", "misc-check"], 0, none),
        (&["cptrst-testprog", "sig-cycle-check"], 0, none),
        (&["cptrst-testprog", "sig-bench", "1000", "100"], 0, none),
    ];
    let mut fails = Vec::new();
    for &(cmd, arg, after) in workloads {
        let r = (|| {
            let mut p = Proc::start_with(cmd, Some(DIRECT_ERR), |_| {})?;
            if p.info.get("arg2").is_some() {
                p.go2(arg, 0)?;
            } else {
                p.go(Some(arg))?;
            }
            after(p.root())?;
            let st = p.wait_direct(Duration::from_secs(200))?;
            let err = std::fs::read_to_string(DIRECT_ERR).unwrap_or_default();
            ensure(st.success(), || format!("{}, want 0; stderr:\n{err}", status_text(st)))
        })();
        if let Err(e) = r {
            fails.push(format!("{cmd:?}: {e}"));
        }
    }
    let out = std::fs::read_to_string(SIGTERM_FILE).unwrap_or_default();
    if out != "cptrst-sigterm-ok\n" {
        fails.push(format!("sigterm-check wrote {out:?} into {SIGTERM_FILE}"));
    }
    let _ = std::fs::remove_file(SIGTERM_FILE);
    // A damaged one must fail: rlimit-check's RLIMIT_NOFILE changed from
    // outside (prlimit) before go.
    let r = (|| {
        let mut p = Proc::start_with(&["cptrst-testprog", "rlimit-check"], Some(DIRECT_ERR), |_| {})?;
        let l = libc::rlimit { rlim_cur: 200, rlim_max: 800 };
        // SAFETY: prlimit(2) of our child, from a local.
        let r = unsafe { libc::prlimit(p.root(), libc::RLIMIT_NOFILE, &l, std::ptr::null_mut()) };
        ensure(r == 0, || format!("prlimit: {}", std::io::Error::last_os_error()))?;
        p.go(None)?;
        let st = p.wait_direct(Duration::from_secs(120))?;
        let err = std::fs::read_to_string(DIRECT_ERR).unwrap_or_default();
        ensure(st.code() == Some(1) && err.contains("RLIMIT_NOFILE: (200, 800)"), || {
            format!("rlimit-check with its RLIMIT_NOFILE changed: {}, want exit status 1 naming it; stderr:\n{err}", status_text(st))
        })
    })();
    if let Err(e) = r {
        fails.push(e);
    }
    ensure(fails.is_empty(), || fails.join("\n"))
}

/// A SIGTERM handler (the image has it, inspect shows it): after restart
/// the test's SIGTERM is handled, the program writes its verdict and
/// exits 0 instead of being killed.
fn sigterm() -> Result<(), String> {
    let _ = std::fs::remove_file(SIGTERM_FILE);
    round_trip_with(
        &["cptrst-testprog", "sigterm-check", SIGTERM_FILE],
        "sigterm",
        |t| {
            let a = action_of(&t[0], 15);
            image_ensure(a.as_ref().is_some_and(|a| a["disposition"] == "handler"), || format!("SIGTERM's action {a:?}, want a handler"), &t[0])
        },
        |_, _| Ok((0, 0)),
        |pid| kill(pid, libc::SIGTERM),
    )?;
    let out = std::fs::read_to_string(SIGTERM_FILE).unwrap_or_default();
    let _ = std::fs::remove_file(SIGTERM_FILE);
    ensure(out == "cptrst-sigterm-ok\n", || format!("after its SIGTERM the restored program wrote {out:?}, want its clean verdict"))
}

fn siginfo() -> Result<(), String> {
    round_trip_with(
        &["cptrst-testprog", "siginfo-check"],
        "siginfo",
        |t| {
            let (rt, usr1) = (pending_of(&t[0], 35, "shared"), pending_of(&t[0], 10, "private"));
            let ok = rt.len() == 1 && rt[0]["code_name"] == "SI_QUEUE" && rt[0]["value"] == 0x5151_0001u64 && usr1.len() == 1;
            image_ensure(ok, || format!("pending 35 {rt:?}, SIGUSR1 {usr1:?}"), &t[0])?;
            let a = action_of(&t[0], 35);
            image_ensure(
                a.as_ref().is_some_and(|a| a["flags"].as_array().is_some_and(|f| f.contains(&json!("SA_SIGINFO")))),
                || format!("signal 35's action {a:?}, want SA_SIGINFO"),
                &t[0],
            )
        },
        |_, _| Ok((my_pid(), 0)),
        |pid| sigqueue(pid, 35, SIGINFO_TEST_VALUE),
    )
}

fn sigign() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "sigign-check"], "sigign", |t| {
        for s in [1, 12, 13] {
            let a = action_of(&t[0], s);
            image_ensure(a.as_ref().is_some_and(|a| a["disposition"] == "SIG_IGN"), || format!("signal {s}'s action {a:?}, want SIG_IGN"), &t[0])?;
        }
        Ok(())
    })
}

/// The pending signals of rtqueue-check, in the image.
fn rtqueue_image(t: &[Value]) -> Result<(), String> {
    let v = |q: &[Value]| q.iter().map(|p| p["value"].as_u64().unwrap_or(0)).collect::<Vec<_>>();
    let (shared, private) = (pending_of(&t[0], 36, "shared"), pending_of(&t[0], 37, "private"));
    image_ensure(v(&shared) == [101, 102, 103], || format!("signal 36 shared {shared:?}, want values 101, 102, 103"), &t[0])?;
    image_ensure(v(&private) == [201, 202, 203], || format!("signal 37 private {private:?}, want values 201, 202, 203"), &t[0])?;
    let (usr2, timer) = (pending_of(&t[0], 12, "shared"), pending_of(&t[0], 38, "shared"));
    image_ensure(usr2.len() == 1 && timer.len() == 1, || format!("SIGUSR2 {usr2:?}, signal 38 {timer:?}: want one each"), &t[0])?;
    image_ensure(timer[0]["code_name"] == "SI_TIMER", || format!("signal 38 {timer:?}: want SI_TIMER"), &t[0])
}

fn rtqueue() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "rtqueue-check"], "rtqueue", rtqueue_image)
}

/// Two `checkpoint --resume` of rtqueue-check, then go in the original:
/// the checkpoints consumed no pending signal (its own check: every one
/// still comes, in order) and left its timers alone (the periodic one's
/// overrun counts every period, the one-shot and the alarm neither
/// disarmed nor advanced).
fn consumes_nothing() -> Result<(), String> {
    let mut p = Proc::start_with(&["cptrst-testprog", "rtqueue-check"], Some(DIRECT_ERR), |_| {})?;
    let img = "/tmp/signals-resume.img";
    let r = (|| {
        p.checkpoint(img, &["--resume"])?;
        runs_untraced(p.root())?;
        p.checkpoint(img, &["--resume"])?;
        runs_untraced(p.root())?;
        rtqueue_image(&image_tasks(img)?)?;
        p.go(Some(1))?;
        let st = p.wait_direct(Duration::from_secs(200))?;
        let err = std::fs::read_to_string(DIRECT_ERR).unwrap_or_default();
        ensure(st.success(), || format!("after two checkpoint --resume the original's own check: {}, want 0; stderr:\n{err}", status_text(st)))
    })();
    let _ = std::fs::remove_file(img);
    r
}

fn shared_pending() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "shared-pending-check"], "shared", |t| {
        image_ensure(t.len() == 2, || format!("{} tasks, want the process and its thread", t.len()), &t[0])?;
        let (main, shared, thread) = (pending_of(&t[0], 12, "private"), pending_of(&t[0], 10, "shared"), pending_of(&t[1], 10, "private"));
        image_ensure(main.len() == 1 && shared.len() == 1, || format!("main thread: SIGUSR2 {main:?}, shared SIGUSR1 {shared:?}"), &t[0])?;
        image_ensure(thread.len() == 1 && pending_of(&t[1], 10, "shared").is_empty(), || format!("second thread: SIGUSR1 {thread:?}"), &t[1])
    })
}

fn altstack() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "altstack-check"], "altstack", |t| {
        let a = &t[0]["signals"]["altstack"];
        image_ensure(a["size"] == 65536 && a["flags"] == 0, || format!("the main thread's altstack {a}, want 64 KiB, flags 0"), &t[0])
    })
}

/// The earliest a restarted ITIMER_REAL may fire: when the restart
/// started plus what the image says was left, minus a rounding slack.
fn real_timer_bound(t: &Value, t0: u64) -> u64 {
    let left = t["process"]["itimers"][0]["value_ns"].as_u64().unwrap_or(0);
    (t0 + left).saturating_sub(TIME_SLACK_NS)
}

/// alarm(3): it fires after the restart, not before the time the image
/// says was left (or at once if it was pending), and once.
fn alarm() -> Result<(), String> {
    round_trip_with(
        &["cptrst-testprog", "alarm-check", "3"],
        "alarm",
        |_| Ok(()),
        |t, t0| {
            let armed = t[0]["process"]["itimers"][0]["value_ns"].as_u64().unwrap_or(0) != 0;
            let pending = !pending_of(&t[0], 14, "").is_empty();
            println!("# alarm in the image: {}", if armed { "armed" } else if pending { "SIGALRM pending" } else { "neither" });
            image_ensure(armed || pending, || "ITIMER_REAL disarmed and no SIGALRM pending: the alarm fired before the checkpoint stopped it".into(), &t[0])?;
            Ok((if armed { real_timer_bound(&t[0], t0) } else { t0 }, t0))
        },
        |_| Ok(()),
    )
}

fn itimer() -> Result<(), String> {
    round_trip_with(
        &["cptrst-testprog", "itimer-check"],
        "itimer",
        |t| {
            let it = &t[0]["process"]["itimers"];
            let ok = it[0]["interval_ns"] == 1_000_000_000u64 && it[1]["interval_ns"] == 500_000_000_000u64 && it[2]["interval_ns"] == 700_000_000_000u64;
            image_ensure(ok, || format!("itimers {it}, want intervals 1 s, 500 s, 700 s"), &t[0])
        },
        |t, t0| {
            let pending = !pending_of(&t[0], 14, "").is_empty();
            Ok((real_timer_bound(&t[0], t0) | (pending as u64) << 63, t0))
        },
        |_| Ok(()),
    )
}

fn posix_timers() -> Result<(), String> {
    let mut p = Proc::start(&["cptrst-testprog", "posix-timer-check"])?;
    let ids: Vec<u64> = p.info["timers"].as_array().into_iter().flatten().filter_map(Value::as_u64).collect();
    let tid = p.info["tid"].as_u64().unwrap_or(0);
    ensure(ids.len() == 4, || format!("the ready line's timers: {}", p.info))?;
    let img = "/tmp/signals-timers.img";
    let r = (|| {
        p.checkpoint_kill(img)?;
        let t = image_tasks(img)?;
        let timers = t[0]["process"]["timers"].as_array().cloned().unwrap_or_default();
        let got: Vec<u64> = timers.iter().filter_map(|x| x["id"].as_u64()).collect();
        image_ensure(got == [ids[0], ids[2], ids[3]], || format!("timer ids {got:?}, want {:?} (not the deleted {})", [ids[0], ids[2], ids[3]], ids[1]), &t[0])?;
        let t0i = &timers[0];
        image_ensure(
            t0i["notify"] == "SIGEV_THREAD_ID" && t0i["tid"] == tid && t0i["signo"] == 38 && t0i["interval_ns"] == 200_000_000,
            || format!("timer {}: {t0i}, want SIGEV_THREAD_ID to {tid}, signal 38, every 200 ms", ids[0]),
            &t[0],
        )?;
        let start = mono_ns();
        let left = timers[2]["value_ns"].as_u64().unwrap_or(0);
        let earliest = if !pending_of(&t[0], 39, "").is_empty() || left == 0 { 0 } else { (start + left).saturating_sub(TIME_SLACK_NS) };
        let mut tool = Tool::restart(&["-i", img], "timers")?;
        p.wait_restored(&mut tool, false)?;
        p.go2(earliest, start)?;
        tool.expect_ok()
    })();
    let _ = std::fs::remove_file(img);
    r
}

fn rlimits() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "rlimit-check"], "rlimit", |t| {
        let r = &t[0]["process"]["rlimits"][7];
        image_ensure(*r == json!({"resource": "RLIMIT_NOFILE", "cur": 300, "max": 800}), || format!("{r}, want RLIMIT_NOFILE 300/800"), &t[0])
    })
}

/// creds-check (uids 1000/1001/1002, groups, capabilities, securebits,
/// a thread with uid 1001 alone): restarted by uid 1000 it is refused
/// (EPERM, naming the task and a credential, pointing at --as-invoker),
/// nothing left; by uid 1000 with --as-invoker it runs with uid 1000's
/// credentials; by root with its own.
fn creds() -> Result<(), String> {
    // In /tmp: uid 1000 must be able to enter its cwd (run-all's
    // directory is root's, mode 0700).
    let mut p = Proc::start_with(&["cptrst-testprog", "creds-check"], None, |c| {
        c.current_dir("/tmp");
    })?;
    let img = "/tmp/signals-creds.img";
    let r = (|| {
        p.checkpoint_kill(img)?;
        let t = image_tasks(img)?;
        let c = &t[0]["creds"];
        image_ensure(
            c["uid"] == 1000 && c["euid"] == 1001 && c["suid"] == 1002 && c["groups"] == json!([100, 200, 1000]) && c["cap_effective"] == 32,
            || format!("creds {c}"),
            &t[0],
        )?;
        image_ensure(t.get(1).is_some_and(|x| x["creds"]["uid"] == 1001), || "the thread's uid is not 1001".into(), &t[0])?;
        chmod(img, 0o644)?;
        let old = chmod(DEVICE, 0o666)?;
        let r = (|| {
            let tool = Tool::spawn_with("cptrst", &["restart", "-i", img], "creds-user", as_uid_1000_with_cap_checkpoint_restore)?;
            let task = format!("task 0 (pid {})", p.root());
            let err = expect_refused(&p, tool, &[&task, "--as-invoker"])?;
            ensure(names_errno(&err, "EPERM", "Operation not permitted"), || format!("the refusal does not name EPERM:\n{err}"))?;
            let mut tool = Tool::spawn_with("cptrst", &["restart", "-i", img, "--as-invoker"], "creds-invoker", as_uid_1000_with_cap_checkpoint_restore)?;
            p.wait_restored(&mut tool, false)?;
            p.go(Some(1))?;
            tool.expect_ok().map_err(|e| format!("restarted --as-invoker by uid 1000: {e}"))
        })();
        chmod(DEVICE, old)?;
        r?;
        let mut tool = Tool::restart(&["-i", img], "creds-root")?;
        p.wait_restored(&mut tool, false)?;
        p.go(Some(0))?;
        tool.expect_ok().map_err(|e| format!("restarted by root: {e}"))
    })();
    let _ = std::fs::remove_file(img);
    r
}

fn nnp() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "nnp-check"], "nnp", |t| {
        image_ensure(t[0]["creds"]["no_new_privs"] == true, || "no no_new_privs".into(), &t[0])?;
        image_ensure(t[0]["signals"]["pdeath_signal"] == 12, || "the parent-death signal is not SIGUSR2".into(), &t[0])
    })
}

fn misc() -> Result<(), String> {
    round_trip(&["cptrst-testprog", "misc-check"], "misc", |t| {
        let p = &t[0]["process"];
        let ok = p["flags"] == json!(["child_subreaper", "thp_disable"]) && p["dumpable"] == 0 && t[0]["signals"]["timer_slack_ns"] == 123_456;
        image_ensure(ok, || format!("process flags {}, dumpable {}, timer slack {}", p["flags"], p["dumpable"], t[0]["signals"]["timer_slack_ns"]), &t[0])
    })
}

/// The active objects of slab cache `name` (after shrinking it), if it
/// is not merged into another one.
fn slab_active(name: &str) -> Option<u64> {
    let _ = std::fs::write(format!("/sys/kernel/slab/{name}/shrink"), "1");
    let s = std::fs::read_to_string("/proc/slabinfo").ok()?;
    s.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.split_whitespace().next()?.parse().ok())
}

/// 50 checkpoint --kill / restart --detach cycles of sig-cycle-check
/// (handlers, three queued signals, an alternate stack, a timer, an
/// itimer, a lowered limit): open files, the sigqueue and POSIX timer
/// slabs after the last cycle within a small slack of after cycle 10,
/// kmemleak clean, nothing left over; then the process's own check.
fn fifty_cycles() -> Result<(), String> {
    const CYCLES: u32 = 50;
    const SLACK: u64 = 16;
    let kml = kmemleak_start();
    let mut p = Proc::start(&["cptrst-testprog", "sig-cycle-check"])?;
    let img = "/tmp/signals-cycle.img";
    let t0 = Instant::now();
    let counts = || [open_files(), slab_active("sigqueue"), slab_active("posix_timers_cache")];
    let mut at10 = [None; 3];
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
            at10 = counts();
        }
    }
    let files = open_files_within(at10[0].map(|f| f + SLACK), Duration::from_secs(60));
    let last = [files, slab_active("sigqueue"), slab_active("posix_timers_cache")];
    let _ = std::fs::remove_file(img);
    println!("# {CYCLES} cycles in {:?}; open files, sigqueue, posix_timers_cache after cycle 10: {at10:?}, after cycle {CYCLES}: {last:?}", t0.elapsed());
    let mut fails = Vec::new();
    for (k, what) in ["open files", "sigqueue objects", "POSIX timers"].iter().enumerate() {
        if last[k] > at10[k].map(|f| f + SLACK) {
            fails.push(format!("{what} grew from {:?} after cycle 10 to {:?} after cycle {CYCLES} (slack {SLACK})", at10[k], last[k]));
        }
    }
    p.cycles_verdict(CYCLES, kml, fails)
}

const CASES: &[Case] = &[
    ("every signals workload passes its own check, and fails it when damaged (no checkpoint)", poke_without_checkpoint, CASE_BOUND),
    ("a SIGTERM handler: after restart SIGTERM makes it write its verdict and exit 0", sigterm, CASE_BOUND),
    ("SA_SIGINFO handlers see si_code, si_pid, si_uid and si_value", siginfo, CASE_BOUND),
    ("SIG_IGN kept: SIGPIPE (a Rust program's), SIGHUP, SIGUSR2", sigign, CASE_BOUND),
    ("blocked real-time signals queued 3 times with values: delivered in order", rtqueue, CASE_BOUND),
    ("a checkpoint consumes nothing: pending signals still pending, timers untouched", consumes_nothing, CASE_BOUND),
    ("a shared pending SIGUSR1 and thread-directed ones in a 2-thread process", shared_pending, CASE_BOUND),
    ("sigaltstack per thread, a thread stopped inside its handler on it", altstack, CASE_BOUND),
    ("alarm(3) fires after restart, not before its remaining time", alarm, CASE_BOUND),
    ("ITIMER_REAL periodic after restart; ITIMER_VIRTUAL and ITIMER_PROF kept", itimer, CASE_BOUND),
    ("POSIX timers: ids, clocks, SIGEV_THREAD_ID ticks and overruns, a one-shot", posix_timers, CASE_BOUND),
    ("every resource limit changed and kept", rlimits, CASE_BOUND),
    ("credentials: root restores them, uid 1000 is refused (EPERM), --as-invoker", creds, CASE_BOUND),
    ("no_new_privs and the parent-death signal kept", nnp, CASE_BOUND),
    ("child subreaper, THP disable, dumpable, timer slack, mlock and madvise flags", misc, CASE_BOUND),
    ("50 checkpoint/restart cycles with signals and timers: no leak", fifty_cycles, CYCLES_BOUND),
];

/// Where a case process writes the reason it skipped (none so far: every
/// case runs in the guest, as root).
const SKIP_FILE: &str = "/tmp/kselftest-signals.skip";

fn main() {
    run_cases("kselftest-signals", "KSELFTEST_SIGNALS_ONLY", SKIP_FILE, CASES)
}
