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

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use cptrst_tests::proc::{as_uid_1000_with_cap_checkpoint_restore, chmod, expect_refused, names_errno, run_cases, Case, Proc, CASE_BOUND, CYCLES_BOUND};
use cptrst_tests::rst::{leftovers, open_files, runs_untraced, status_text, Tool, TOOL_TIMEOUT};
use cptrst_tests::tap::ensure;
use cptrst_tests::workload::{cptrst, STOP_TIMEOUT};

/// Where a workload started `direct` writes its stderr.
const DIRECT_ERR: &str = "/tmp/files-direct.err";

/// The device the EACCES case opens up to uid 1000.
const DEVICE: &str = "/dev/cptrst";

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
            let mut p = Proc::start_with(cmd, Some(DIRECT_ERR), |_| {})?;
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
        let mut p = Proc::start_with(&["cptrst-testprog", "inherit-check", "5"], Some(DIRECT_ERR), |c| give_fd(c, fd, 5))?;
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
        let mut p = Proc::start_with(&["cptrst-testprog", "memfd-check"], Some(DIRECT_ERR), |_| {})?;
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
    let mut p = Proc::start_with(&["cptrst-testprog", "eventfd-check"], Some(DIRECT_ERR), |_| {})?;
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
    let mut p = Proc::start_with(&["cptrst-testprog", "inherit-check", "5"], None, |c| give_fd(c, fd, 5))?;
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
    p.own_check_after_cycles(CYCLES, &mut fails)?;
    let _ = std::fs::remove_dir_all(dir);
    ensure(fails.is_empty(), || fails.join("\n"))
}

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

fn main() {
    run_cases("kselftest-files", "KSELFTEST_FILES_ONLY", SKIP_FILE, CASES)
}
