//! Guest tests of checkpoint: each sets up a workload with known state,
//! checkpoints it with `cptrst checkpoint`, and checks the image's contents
//! byte for byte through `cptrst inspect --json` / `--page`; then the
//! refusals, through the tool and through the ioctl directly; the signal
//! state (CREDS, SIGNALS, PROCESS decoded by the image crate; nothing
//! consumed) and its refusals; then trees
//! that are hard to stop (a vfork parent, a task that does not stop, a
//! fork storm) and a restart that must wait for a zombie's pid.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cptrst::dev::Dev;
use cptrst_tests::tap::{self, ensure};
use cptrst_tests::workload::{checkpoint_json, cptrst, image_page, inspect_json, Workload};
use cptrst_tests::{f64_to_x87, fill_page, xmm_value, ymmh_value, GPR_VALUES, X87_VALUES};
use serde_json::Value;

const PAGE: usize = 4096;

fn task0(img: &Value) -> &Value {
    &img["tasks"][0]
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn general_registers() -> Result<(), String> {
    let w = Workload::start(&["regs"])?;
    let img = checkpoint_json(w.pid(), "/tmp/ck-regs.img")?;
    let regs = &task0(&img)["regs"];
    for (name, want) in GPR_VALUES {
        let got = regs[name].as_u64().ok_or(format!("no register {name}"))?;
        ensure(got == want, || format!("{name} = {got:#x}, want {want:#x}"))?;
    }
    // Stopped in user mode: no system call to restart.
    ensure(regs["orig_ax"].as_u64() == Some(u64::MAX), || format!("orig_ax = {}", regs["orig_ax"]))?;
    ensure(regs["cs"].as_u64() == Some(0x33), || format!("cs = {}", regs["cs"]))
}

fn fpu_registers() -> Result<(), String> {
    let w = Workload::start(&["fpu"])?;
    let img = checkpoint_json(w.pid(), "/tmp/ck-fpu.img")?;
    let fpu = &task0(&img)["fpu"];
    ensure(fpu["size"].as_u64() == img["header"]["xstate_size"].as_u64(), || "FPU size != header".into())?;
    for i in 0..8 {
        let want = hexs(&f64_to_x87(X87_VALUES[7 - i]));
        ensure(fpu["st"][i].as_str() == Some(want.as_str()), || format!("st{i} = {}, want {want}", fpu["st"][i]))?;
    }
    for i in 0..16 {
        let want = hexs(&xmm_value(i));
        ensure(fpu["xmm"][i].as_str() == Some(want.as_str()), || format!("xmm{i} = {}, want {want}", fpu["xmm"][i]))?;
        let want = hexs(&ymmh_value(i));
        ensure(fpu["ymmh"][i].as_str() == Some(want.as_str()), || format!("ymmh{i} = {}, want {want}", fpu["ymmh"][i]))?;
    }
    Ok(())
}

/// A task stopped inside a system call is saved ready to resume it: the
/// restartable `pause` as a restart of the call (ax = its number, ip back
/// on the `syscall` instruction), `nanosleep` as an interrupted call (EINTR).
fn syscall_restart_normalized() -> Result<(), String> {
    use std::os::unix::fs::FileExt;
    for (prog, want_ax, back) in [("pause", libc::SYS_pause as u64, true), ("nanosleep", (-libc::EINTR) as i64 as u64, false)] {
        let w = Workload::start(&[prog])?;
        // Let it enter the call.
        let mut inside = false;
        for _ in 0..500 {
            let sc = std::fs::read_to_string(format!("/proc/{}/syscall", w.pid())).unwrap_or_default();
            if sc.split_whitespace().next().and_then(|n| n.parse::<i64>().ok()).is_some_and(|n| n >= 0) {
                inside = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        ensure(inside, || format!("{prog}: never entered its system call"))?;
        let img = checkpoint_json(w.pid(), "/tmp/ck-sys.img")?;
        let regs = &task0(&img)["regs"];
        ensure(regs["ax"].as_u64() == Some(want_ax), || format!("{prog}: ax = {}, want {want_ax:#x}", regs["ax"]))?;
        ensure(regs["orig_ax"].as_u64() == Some(u64::MAX), || format!("{prog}: orig_ax = {}", regs["orig_ax"]))?;
        let ip = regs["ip"].as_u64().ok_or("no ip")?;
        let mem = std::fs::File::open(format!("/proc/{}/mem", w.pid())).map_err(|e| e.to_string())?;
        let mut insn = [0u8; 2];
        let at = if back { ip } else { ip - 2 };
        mem.read_at(&mut insn, at).map_err(|e| e.to_string())?;
        ensure(insn == [0x0f, 0x05], || format!("{prog}: no syscall instruction at {at:#x}: {insn:02x?}"))?;
    }
    Ok(())
}

fn vma_at(img: &Value, addr: u64) -> Option<&Value> {
    img["mms"][0]["vmas"].as_array()?.iter().find(|v| {
        v["start"].as_u64().is_some_and(|s| s <= addr) && v["end"].as_u64().is_some_and(|e| addr < e)
    })
}

/// Checks pages `pages` of the region at `base` (tag `tag`) byte for byte.
fn check_pages(file: &str, base: u64, tag: u8, pages: &[usize]) -> Result<(), String> {
    let mut want = vec![0u8; PAGE];
    for &p in pages {
        let addr = base + (p * PAGE) as u64;
        let got = image_page(file, addr).ok_or(format!("page {addr:#x} (tag {tag}) not in the image"))?;
        fill_page(&mut want, tag, p);
        ensure(got == want, || format!("page {addr:#x} (tag {tag}) differs"))?;
    }
    Ok(())
}

fn memory_patterns() -> Result<(), String> {
    let w = Workload::start(&["mem", "/tmp/ck-mem-file"])?;
    let f = "/tmp/ck-mem.img";
    let img = checkpoint_json(w.pid(), f)?;
    let at = |k: &str| w.info[k].as_u64().unwrap_or(0);
    let expect = [
        ("anon", 1u8, &[0usize, 1, 2, 3][..], "anon", 3u64),
        ("file", 2, &[1, 3], "file-private", 3),
        ("shared", 3, &[0, 1], "shared-anon", 3),
        ("ro", 4, &[0, 1], "anon", 1),
        ("none", 5, &[0], "anon", 0),
        ("heap", 6, &[0, 1, 2], "heap", 3),
        ("stack", 7, &[0], "stack", 3),
    ];
    for (name, tag, pages, kind, prot) in expect {
        let v = vma_at(&img, at(name)).ok_or(format!("no VMA for {name} at {:#x}", at(name)))?;
        ensure(v["kind"].as_str() == Some(kind), || format!("{name}: kind {}, want {kind}", v["kind"]))?;
        ensure(v["prot"].as_u64() == Some(prot), || format!("{name}: prot {}, want {prot}", v["prot"]))?;
        check_pages(f, at(name), tag, pages)?;
    }
    let fv = vma_at(&img, at("file")).ok_or("no file VMA")?;
    ensure(fv["path"].as_str() == Some("/tmp/ck-mem-file"), || format!("file path {}", fv["path"]))?;
    // The file pages never written are the file's: not in the image.
    for p in [0u64, 2] {
        let a = at("file") + p * PAGE as u64;
        ensure(image_page(f, a).is_none(), || format!("clean file page {a:#x} is in the image"))?;
    }
    ensure(fv["pages"].as_u64() == Some(2), || format!("file VMA has {} pages, want 2", fv["pages"]))
}

fn sparse_mapping() -> Result<(), String> {
    let w = Workload::start(&["sparse"])?;
    let f = "/tmp/ck-sparse.img";
    let img = checkpoint_json(w.pid(), f)?;
    let base = w.info["addr"].as_u64().unwrap_or(0);
    let v = vma_at(&img, base).ok_or("no VMA for the 64 MiB mapping")?;
    ensure(v["end"].as_u64().unwrap_or(0) - v["start"].as_u64().unwrap_or(0) >= 64 << 20, || "VMA too small".into())?;
    let touched: Vec<usize> =
        w.info["touched"].as_array().ok_or("no touched list")?.iter().filter_map(|x| x.as_u64()).map(|x| x as usize).collect();
    ensure(v["pages"].as_u64() == Some(touched.len() as u64), || {
        format!("the 64 MiB VMA has {} pages in the image, want {}", v["pages"], touched.len())
    })?;
    check_pages(f, base, 8, &touched)?;
    // The image is small: a few pages, not 64 MiB.
    let size = std::fs::metadata(f).map_err(|e| e.to_string())?.len();
    ensure(size < 4 << 20, || format!("image is {size} bytes"))
}

fn process_tree() -> Result<(), String> {
    let w = Workload::start(&["tree", "2", "1"])?;
    let img = checkpoint_json(w.pid(), "/tmp/ck-tree.img")?;
    let tasks = img["tasks"].as_array().ok_or("no tasks")?;
    let children: Vec<u64> = w.info["children"].as_array().ok_or("no children")?.iter().filter_map(|c| c.as_u64()).collect();
    let root = w.pid() as u64;
    ensure(tasks.len() == 6, || format!("{} tasks, want 6 (3 processes x 2 threads)", tasks.len()))?;
    ensure(tasks[0]["pid"].as_u64() == Some(root) && tasks[0]["ppid"].as_u64() == Some(0), || "root not first".into())?;
    let procs: Vec<&Value> = tasks.iter().filter(|t| t["thread"].as_bool() == Some(false)).collect();
    let threads: Vec<&Value> = tasks.iter().filter(|t| t["thread"].as_bool() == Some(true)).collect();
    ensure(procs.len() == 3 && threads.len() == 3, || "3 processes and 3 threads expected".into())?;
    for c in &children {
        let t = procs.iter().find(|t| t["pid"].as_u64() == Some(*c)).ok_or(format!("child {c} missing"))?;
        ensure(t["ppid"].as_u64() == Some(root), || format!("child {c} ppid {}", t["ppid"]))?;
    }
    for t in &threads {
        let leader = t["tgid"].as_u64();
        let l = procs.iter().find(|p| p["pid"].as_u64() == leader).ok_or("thread without leader")?;
        ensure(l["mm_id"] == t["mm_id"], || "thread mm differs from its leader's".into())?;
    }
    let mut mm_ids: Vec<u64> = procs.iter().filter_map(|p| p["mm_id"].as_u64()).collect();
    mm_ids.dedup();
    ensure(mm_ids.len() == 3, || format!("mm ids {mm_ids:?}"))?;
    ensure(img["mms"].as_array().map(Vec::len) == Some(3), || "3 MM groups expected".into())?;
    // Every process has its fd table (FDS), no thread has one of its own.
    let has_fds = |t: &Value| ["fds", "files"].iter().any(|k| t[*k].is_array() || t[*k]["fds"].is_array());
    ensure(procs.iter().all(|t| has_fds(t)), || "a live process without an FDS record".into())?;
    ensure(threads.iter().all(|t| !has_fds(t)), || "a thread with an FDS record".into())?;
    let pg = tasks[0]["pgid"].clone();
    ensure(tasks.iter().all(|t| t["pgid"] == pg && t["sid"] == tasks[0]["sid"]), || "pgid/sid differ".into())
}

/// The VMA at `addr` of the mm of the task `pid` in `img`.
fn vma_of_task(img: &Value, pid: u64, addr: u64) -> Result<&Value, String> {
    let tasks = img["tasks"].as_array().ok_or("no tasks")?;
    let t = tasks.iter().find(|t| t["pid"].as_u64() == Some(pid)).ok_or(format!("task {pid} not in the image"))?;
    let id = t["mm_id"].as_u64().ok_or(format!("task {pid} without an mm"))?;
    let mm = img["mms"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["mm_id"].as_u64() == Some(id)))
        .ok_or(format!("no MM group {id}"))?;
    mm["vmas"]
        .as_array()
        .and_then(|v| {
            v.iter().find(|v| {
                v["start"].as_u64().is_some_and(|s| s <= addr) && v["end"].as_u64().is_some_and(|e| addr < e)
            })
        })
        .ok_or(format!("task {pid}: no VMA at {addr:#x}"))
}

/// SHM records: a shared anonymous mapping inherited across fork has the
/// same object id in the parent's and the child's VMA; separate mappings
/// (one more in both, one in the child alone) have their own ids, numbered
/// 1, 2, 3 in order of first appearance.
fn shared_anon_objects() -> Result<(), String> {
    let w = Workload::start(&["shared-tree"])?;
    let f = "/tmp/ck-shm.img";
    let img = checkpoint_json(w.pid(), f)?;
    let at = |k: &str| w.info[k].as_u64().unwrap_or(0);
    let (parent, child) = (w.pid() as u64, at("child"));
    let shm = |pid: u64, name: &str| -> Result<u64, String> {
        let v = vma_of_task(&img, pid, at(name))?;
        ensure(v["kind"].as_str() == Some("shared-anon"), || format!("{pid} {name}: kind {}", v["kind"]))?;
        v["shm"].as_u64().ok_or(format!("task {pid}, mapping {name}: no SHM id ({v})"))
    };
    let (ps, cs) = (shm(parent, "shared")?, shm(child, "shared")?);
    ensure(ps == cs, || format!("inherited mapping: id {ps} in the parent, {cs} in the child"))?;
    let (po, co) = (shm(parent, "other")?, shm(child, "other")?);
    ensure(po == co, || format!("second inherited mapping: id {po} in the parent, {co} in the child"))?;
    let own = shm(child, "own")?;
    let mut ids = vec![ps, po, own];
    ids.sort_unstable();
    ensure(ids == [1, 2, 3], || format!("ids shared {ps}, other {po}, own {own}: want 1, 2, 3 in some order"))?;
    ensure(img["summary"]["shm_objects"].as_u64() == Some(3), || format!("summary {}", img["summary"]))?;
    // The mms in id order number the objects in order of first appearance:
    // the parent's mm (mm 1) has ids 1 and 2.
    ensure(ps.max(po) == 2, || format!("parent's ids {ps} and {po}, want 1 and 2"))?;
    // No SHM on other VMAs.
    let n = img["mms"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["vmas"].as_array().into_iter().flatten())
        .filter(|v| v.get("shm").is_some() != (v["kind"].as_str() == Some("shared-anon")))
        .count();
    ensure(n == 0, || format!("{n} VMAs with an SHM record and not shared anonymous, or the reverse"))?;
    // Each mapper's pages are dumped; page 1, written by the child, is the
    // parent's too.
    check_pages(f, at("shared"), 10, &[0, 1])?;
    check_pages(f, at("other"), 11, &[0])?;
    // The text names the objects in the PATH column.
    let out = cptrst(&["inspect", f]);
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!("shm#{ps}");
    ensure(text.lines().filter(|l| l.contains("shared-anon") && l.trim_end().ends_with(&want)).count() == 2, || {
        format!("the text does not show {want} twice:\n{text}")
    })
}

/// The `files` workload has a socketpair and an eventfd: refused at the
/// lowest of their fds, naming it, with nothing written.
fn open_files_refused() -> Result<(), String> {
    let w = Workload::start(&["files", "/tmp/ck-files-reg"])?;
    let want = w.info["fds"].as_array().ok_or("no fds in the ready line")?;
    let bad = want
        .iter()
        .filter(|p| matches!(p[1].as_str(), Some("sock" | "other")))
        .filter_map(|p| p[0].as_u64())
        .min()
        .ok_or("no socket nor eventfd in the workload")?;
    let img = "/tmp/ck-files.img";
    let _ = std::fs::remove_file(img);
    let o = cptrst(&["checkpoint", &w.pid().to_string(), "-o", img]);
    let err = String::from_utf8_lossy(&o.stderr);
    ensure(o.status.code() == Some(1), || format!("status {:?}: {err}", o.status))?;
    let head = format!("cptrst: checkpoint: task 0 (pid {}): fd {bad} is ", w.pid());
    ensure(err.contains(&head) && err.contains(": not supported"), || format!("message: {err}"))?;
    ensure(!std::path::Path::new(img).exists(), || "the refused image file was left".into())?;
    ensure(w.alive(), || "the workload died".into())
}

// ---------------------------------------------------------------------------
// Open files: workloads forked from this test (raw system calls only in the
// child), each fd at a known number; the child reports through pipes.
// ---------------------------------------------------------------------------

/// Fds of the forked file workloads.
const FW_PIPE_R: i32 = 30;
const FW_PIPE_W: i32 = 31;
const FW_REG: i32 = 32;
const FW_MEMFD: i32 = 33;
const FW_DIR: i32 = 34;
const FW_NULL: i32 = 35;
const FW_DUP: i32 = 100;
const FW_RES: i32 = 40;
const FW_CTL: i32 = 41;
/// The data left in the workload's pipe, and its regular file's position.
const FW_PIPE_DATA: &[u8] = b"pipe-data-42";
const FW_REG_POS: i64 = 37;
const FW_MEMFD_LEN: usize = 10000;

/// What a forked workload adds to its common files, at fd `at`.
#[derive(Clone, Copy, Debug)]
enum Extra {
    None,
    Eventfd,
    Socket,
    Ptmx,
    Epoll,
    ProcFile,
    /// A child process sharing the fd table (`CLONE_FILES` without
    /// `CLONE_THREAD`), its pid written to the report pipe after the
    /// ready byte.
    SharedFiles,
}

/// A forked workload: a pipe with [`FW_PIPE_DATA`] in it (both ends), an
/// O_APPEND file at [`FW_REG_POS`] (dup'ed at [`FW_DUP`]), a sealed memfd
/// (also mapped shared), a mapping of a deleted file, a directory,
/// `/dev/null` close-on-exec, umask 027, cwd /tmp; and its [`Extra`].
/// Killed when dropped.
struct FileWorkload {
    pid: i32,
    res: std::fs::File,
    ctl: std::fs::File,
}

fn pipe2() -> Result<(i32, i32), String> {
    let mut p = [0i32; 2];
    // SAFETY: pipe2(2) into a 2-int array.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe2: {}", std::io::Error::last_os_error()));
    }
    Ok((p[0], p[1]))
}

/// The child's part: raw system calls, then `_exit`. Exit codes 20+: setup
/// step that failed.
///
/// # Safety
/// Only in the child of a fork, with `res_w`/`ctl_r` its ends of the pipes.
unsafe fn file_child(extra: Extra, at: i32, res_w: i32, ctl_r: i32) -> ! {
    use libc::*;
    // SAFETY (whole function): system calls on the child's own fds and
    // static C strings; it ends in _exit.
    unsafe {
        let step = |ok: bool, code: i32| {
            if !ok {
                _exit(code)
            }
        };
        step(dup2(res_w, FW_RES) == FW_RES && dup2(ctl_r, FW_CTL) == FW_CTL, 20);
        // Nothing inherited from the test but fds 0-2 and the two pipes.
        syscall(SYS_close_range, 3u32, (FW_RES - 1) as u32, 0u32);
        syscall(SYS_close_range, (FW_CTL + 1) as u32, u32::MAX, 0u32);
        let mut p = [0i32; 2];
        step(pipe(p.as_mut_ptr()) == 0, 21);
        step(dup2(p[0], FW_PIPE_R) == FW_PIPE_R && dup2(p[1], FW_PIPE_W) == FW_PIPE_W, 22);
        close(p[0]);
        close(p[1]);
        step(write(FW_PIPE_W, FW_PIPE_DATA.as_ptr().cast(), FW_PIPE_DATA.len()) == FW_PIPE_DATA.len() as isize, 23);
        let reg = open(c"/tmp/ck-fw-reg".as_ptr(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0o644);
        step(reg >= 0 && dup2(reg, FW_REG) == FW_REG, 24);
        close(reg);
        let buf = [b'r'; 100];
        step(write(FW_REG, buf.as_ptr().cast(), 100) == 100, 25);
        step(lseek(FW_REG, FW_REG_POS, SEEK_SET) == FW_REG_POS, 26);
        step(dup2(FW_REG, FW_DUP) == FW_DUP, 27);
        let m = memfd_create(c"ck-memfd".as_ptr(), MFD_ALLOW_SEALING);
        step(m >= 0 && dup2(m, FW_MEMFD) == FW_MEMFD, 28);
        close(m);
        let mut page = [0u8; 1000];
        for (i, b) in page.iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        for _ in 0..FW_MEMFD_LEN / page.len() {
            step(write(FW_MEMFD, page.as_ptr().cast(), page.len()) == page.len() as isize, 29);
        }
        step(fcntl(FW_MEMFD, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK) == 0, 30);
        // The memfd mapped shared; a file mapped, then closed and unlinked:
        // a mapping-only deleted file.
        step(mmap(std::ptr::null_mut(), 8192, PROT_READ | PROT_WRITE, MAP_SHARED, FW_MEMFD, 0) != MAP_FAILED, 40);
        let del = open(c"/tmp/ck-fw-del".as_ptr(), O_RDWR | O_CREAT | O_TRUNC, 0o600);
        step(del >= 0, 41);
        let dbuf = [b'd'; 4096];
        step(write(del, dbuf.as_ptr().cast(), 4096) == 4096, 42);
        step(mmap(std::ptr::null_mut(), 4096, PROT_READ, MAP_PRIVATE, del, 0) != MAP_FAILED, 43);
        close(del);
        step(unlink(c"/tmp/ck-fw-del".as_ptr()) == 0, 44);
        let d = open(c"/tmp".as_ptr(), O_RDONLY | O_DIRECTORY);
        step(d >= 0 && dup2(d, FW_DIR) == FW_DIR, 31);
        close(d);
        let n = open(c"/dev/null".as_ptr(), O_WRONLY);
        step(n >= 0 && dup3(n, FW_NULL, O_CLOEXEC) == FW_NULL, 32);
        close(n);
        umask(0o027);
        step(chdir(c"/tmp".as_ptr()) == 0, 33);
        let mut sharer = 0i32;
        if let Extra::SharedFiles = extra {
            let c = syscall(SYS_clone, (CLONE_FILES | SIGCHLD) as c_long, 0 as c_long, 0 as c_long, 0 as c_long, 0 as c_long);
            if c == 0 {
                prctl(PR_SET_PDEATHSIG, SIGKILL as c_ulong);
                loop {
                    pause();
                }
            }
            step(c > 0, 45);
            sharer = c as i32;
        }
        let x = match extra {
            Extra::None | Extra::SharedFiles => -1,
            Extra::Eventfd => eventfd(0, 0),
            Extra::Socket => {
                let mut sv = [0i32; 2];
                step(socketpair(AF_UNIX, SOCK_STREAM, 0, sv.as_mut_ptr()) == 0, 34);
                close(sv[1]);
                sv[0]
            }
            Extra::Ptmx => open(c"/dev/ptmx".as_ptr(), O_RDWR | O_NOCTTY),
            Extra::Epoll => epoll_create1(0),
            Extra::ProcFile => open(c"/proc/self/status".as_ptr(), O_RDONLY),
        };
        if !matches!(extra, Extra::None | Extra::SharedFiles) {
            step(x >= 0, 35);
            if x != at {
                step(dup2(x, at) == at, 36);
                close(x);
            }
        }
        step(write(FW_RES, b"R".as_ptr().cast(), 1) == 1, 37);
        if sharer > 0 {
            step(write(FW_RES, (&raw const sharer).cast(), 4) == 4, 46);
        }
        // Wait for the test, then report what it left: the pipe's data
        // and the file's position, read by the workload itself.
        let mut b = 0u8;
        step(read(FW_CTL, (&raw mut b).cast(), 1) == 1, 38);
        let mut out = [0u8; 64 + 8];
        let pos = lseek(FW_REG, 0, SEEK_CUR);
        out[..8].copy_from_slice(&pos.to_le_bytes());
        fcntl(FW_PIPE_R, F_SETFL, O_NONBLOCK);
        let n = read(FW_PIPE_R, out[8..].as_mut_ptr().cast(), 64);
        let n = if n < 0 { 0 } else { n as usize };
        step(write(FW_RES, out.as_ptr().cast(), 8 + n) == (8 + n) as isize, 39);
        _exit(0)
    }
}

impl FileWorkload {
    fn start(extra: Extra, at: i32) -> Result<FileWorkload, String> {
        let (res_r, res_w) = pipe2()?;
        let (ctl_r, ctl_w) = pipe2()?;
        // SAFETY: fork in this single-threaded test; the child only makes
        // system calls (file_child) and _exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: in the child, with its pipe ends.
            unsafe { file_child(extra, at, res_w, ctl_r) }
        }
        // SAFETY: closing the child's ends, which we own.
        unsafe {
            libc::close(res_w);
            libc::close(ctl_r);
        }
        use std::os::fd::FromRawFd;
        // SAFETY: our ends, owned from here on.
        let (res, ctl) = unsafe { (std::fs::File::from_raw_fd(res_r), std::fs::File::from_raw_fd(ctl_w)) };
        if pid < 0 {
            return Err("fork failed".into());
        }
        let mut w = FileWorkload { pid, res, ctl };
        let mut b = [0u8; 1];
        if std::io::Read::read(&mut w.res, &mut b).map_err(|e| e.to_string())? != 1 {
            let mut st = 0;
            // SAFETY: reaping our child.
            unsafe { libc::waitpid(pid, &mut st, 0) };
            w.pid = 0;
            return Err(format!("the {extra:?} workload failed to set up: {}", cptrst::proc::wait_status_text(st)));
        }
        Ok(w)
    }

    /// The file position the kernel shows for fd `fd` (/proc/PID/fdinfo).
    fn fdinfo_pos(&self, fd: i32) -> Option<u64> {
        let t = std::fs::read_to_string(format!("/proc/{}/fdinfo/{fd}", self.pid)).ok()?;
        t.lines().find_map(|l| l.strip_prefix("pos:")).and_then(|v| v.trim().parse().ok())
    }

    /// Lets the workload report its file position and pipe data, and reaps it.
    fn report(mut self) -> Result<(i64, Vec<u8>), String> {
        std::io::Write::write_all(&mut self.ctl, b"G").map_err(|e| e.to_string())?;
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut self.res, &mut v).map_err(|e| e.to_string())?;
        let mut st = 0;
        // SAFETY: reaping our child.
        unsafe { libc::waitpid(self.pid, &mut st, 0) };
        self.pid = 0;
        ensure(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, || format!("workload: {}", cptrst::proc::wait_status_text(st)))?;
        ensure(v.len() >= 8, || format!("short report: {v:?}"))?;
        let pos = i64::from_le_bytes(v[..8].try_into().map_err(|_| "report")?);
        Ok((pos, v[8..].to_vec()))
    }
}

impl Drop for FileWorkload {
    fn drop(&mut self) {
        if self.pid > 0 {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// Stops `pid` for the checkpoint ioctl as the tool does (PTRACE_SEIZE,
/// PTRACE_INTERRUPT, wait for the stop).
fn ptrace_stop(pid: i32) -> Result<(), String> {
    // SAFETY: ptrace requests on our own child; waitpid for its stop.
    unsafe {
        if libc::ptrace(libc::PTRACE_SEIZE, pid, 0, 0) != 0 || libc::ptrace(libc::PTRACE_INTERRUPT, pid, 0, 0) != 0 {
            return Err(format!("ptrace: {}", std::io::Error::last_os_error()));
        }
        loop {
            let mut st = 0;
            if libc::waitpid(pid, &mut st, libc::__WALL) != pid || !libc::WIFSTOPPED(st) {
                return Err(format!("no ptrace stop: {st:#x}"));
            }
            // A signal-delivery stop first: give the signal back, the
            // interrupt's trap comes next.
            if st >> 16 == 0 {
                libc::ptrace(libc::PTRACE_CONT, pid, 0, libc::WSTOPSIG(st) as usize);
                continue;
            }
            break;
        }
        // One more request returns only once the task is off its CPU
        // (ptrace_check_attach), as the module wants it.
        let mut msg: u64 = 0;
        if libc::ptrace(libc::PTRACE_GETEVENTMSG, pid, 0, &mut msg as *mut u64) != 0 {
            return Err(format!("PTRACE_GETEVENTMSG: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

fn ptrace_detach(pid: i32) {
    // SAFETY: detaching from our stopped tracee.
    unsafe { libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0) };
}

/// Each unsupported kind is refused at checkpoint: through the tool with
/// the message naming the task, pid, fd and kind (exit 1, no image file);
/// through the ioctl on a tree this test stopped: EOPNOTSUPP, nothing
/// written, the tree still stopped, the file position and the pipe data
/// unchanged (read by /proc/PID/fdinfo, then by the workload itself).
fn refusals_unsupported_files() -> Result<(), String> {
    let cases: [(Extra, i32, &str); 5] = [
        (Extra::Eventfd, 20, "anon_inode:[eventfd]"),
        (Extra::Socket, 5, "socket:["),
        (Extra::Ptmx, 20, "character device 5:2"),
        (Extra::Epoll, 20, "anon_inode:[eventpoll]"),
        (Extra::ProcFile, 20, "a file of proc"),
    ];
    let dev = Dev::open().map_err(|f| f.msg)?;
    for (extra, at, kind) in cases {
        let w = FileWorkload::start(extra, at)?;
        let img = "/tmp/ck-unsup.img";
        let _ = std::fs::remove_file(img);
        let o = cptrst(&["checkpoint", &w.pid.to_string(), "-o", img]);
        let err = String::from_utf8_lossy(&o.stderr);
        let want = format!("cptrst: checkpoint: task 0 (pid {}): fd {at} is {kind}", w.pid);
        ensure(o.status.code() == Some(1), || format!("{extra:?}: status {:?}: {err}", o.status))?;
        ensure(err.contains(&want) && err.contains(": not supported"), || format!("{extra:?}: message '{err}', want '{want}...: not supported'"))?;
        ensure(!std::path::Path::new(img).exists(), || format!("{extra:?}: the image file was left"))?;
        // The ioctl itself, on a tree stopped by this test.
        let out = std::fs::File::create(img).map_err(|e| e.to_string())?;
        ptrace_stop(w.pid)?;
        let r = errno_of(dev.checkpoint(w.pid, out.as_raw_fd(), 0));
        let state = cptrst::proc::state(w.pid);
        let pos = w.fdinfo_pos(FW_REG);
        ptrace_detach(w.pid);
        ensure(r == Some(libc::EOPNOTSUPP), || format!("{extra:?}: ioctl gave {r:?}, not EOPNOTSUPP"))?;
        ensure(state == Some('t'), || format!("{extra:?}: after the refusal the task is in state {state:?}, not stopped"))?;
        ensure(pos == Some(FW_REG_POS as u64), || format!("{extra:?}: fdinfo pos {pos:?}, want {FW_REG_POS}"))?;
        let len = out.metadata().map_err(|e| e.to_string())?.len();
        ensure(len == 0, || format!("{extra:?}: {len} bytes written by the refused checkpoint"))?;
        let (pos, data) = w.report()?;
        ensure(pos == FW_REG_POS, || format!("{extra:?}: the workload's file position is {pos}, want {FW_REG_POS}"))?;
        ensure(data == FW_PIPE_DATA, || format!("{extra:?}: the workload's pipe holds {:?}", String::from_utf8_lossy(&data)))?;
    }
    Ok(())
}

/// Two processes sharing one fd table (`CLONE_FILES` without
/// `CLONE_THREAD`): refused, naming both, nothing written, the tree
/// unchanged.
fn refusal_shared_fd_table() -> Result<(), String> {
    let mut w = FileWorkload::start(Extra::SharedFiles, 0)?;
    let mut b = [0u8; 4];
    std::io::Read::read_exact(&mut w.res, &mut b).map_err(|e| format!("the sharing child's pid: {e}"))?;
    let child = i32::from_le_bytes(b);
    let img = "/tmp/ck-shared.img";
    let _ = std::fs::remove_file(img);
    let o = cptrst(&["checkpoint", &w.pid.to_string(), "-o", img]);
    let err = String::from_utf8_lossy(&o.stderr);
    let want = format!("task 1 (pid {child}) shares its fd table (CLONE_FILES) with task 0 (pid {}): not supported", w.pid);
    ensure(o.status.code() == Some(1), || format!("status {:?}: {err}", o.status))?;
    ensure(err.contains(&want), || format!("message '{err}', want '{want}'"))?;
    ensure(!std::path::Path::new(img).exists(), || "the image file was left".into())?;
    let (pos, data) = w.report()?;
    ensure(pos == FW_REG_POS && data == FW_PIPE_DATA, || format!("after the refusal: position {pos}, pipe {:?}", String::from_utf8_lossy(&data)))
}

/// The fd entries of the first task in `cptrst inspect --json`, each
/// merged with the FILE object it refers to (if the entry names one by
/// id): by fd.
fn fds_of(img: &Value) -> Result<Vec<(u64, Value)>, String> {
    let t = task0(img);
    let list = ["fds", "files"]
        .iter()
        .find_map(|k| t[*k].as_array().or_else(|| t[*k]["fds"].as_array()))
        .ok_or_else(|| format!("no fd list in task 0: {t}"))?;
    let objects = ["files", "open_files", "file_objects"].iter().find_map(|k| img[*k].as_array());
    let mut out = Vec::new();
    for e in list {
        let fd = e["fd"].as_u64().ok_or_else(|| format!("fd entry without fd: {e}"))?;
        let mut m = e.clone();
        if let (Some(id), Some(objs)) = (e["file"].as_u64(), objects) {
            if let Some(o) = objs.iter().find(|o| o["id"].as_u64() == Some(id)) {
                if let (Some(mo), Some(oo)) = (m.as_object_mut(), o.as_object()) {
                    for (k, v) in oo {
                        mo.entry(k.clone()).or_insert(v.clone());
                    }
                }
            }
        }
        out.push((fd, m));
    }
    Ok(out)
}

/// A successful dump of the file workload: the image's fds are the
/// workload's, each of the right kind, with the position, path, flags
/// and sharing it had; its file mappings with their MAPFILE (the memfd's
/// and a deleted file's naming their FILE objects); the workload is
/// unchanged afterwards.
fn files_dump() -> Result<(), String> {
    let w = FileWorkload::start(Extra::None, 0)?;
    // --resume: the workload reports its state afterwards.
    let o = cptrst(&["checkpoint", &w.pid.to_string(), "-o", "/tmp/ck-fw.img", "--resume"]);
    ensure(o.status.success(), || format!("checkpoint: {}", String::from_utf8_lossy(&o.stderr)))?;
    let img = inspect_json("/tmp/ck-fw.img")?;
    let fds = fds_of(&img)?;
    let get = |fd: i32| fds.iter().find(|(f, _)| *f == fd as u64).map(|(_, v)| v);
    let text = |v: &Value| v.to_string();
    // Exactly the workload's fds.
    let mut want: Vec<u64> = vec![0, 1, 2];
    want.extend([FW_PIPE_R, FW_PIPE_W, FW_REG, FW_MEMFD, FW_DIR, FW_NULL, FW_RES, FW_CTL, FW_DUP].map(|f| f as u64));
    want.sort();
    let got: Vec<u64> = fds.iter().map(|(f, _)| *f).collect();
    ensure(got == want, || format!("fds {got:?}, want {want:?}"))?;
    for (fd, kind) in [
        (FW_PIPE_R, "pipe"),
        (FW_PIPE_W, "pipe"),
        (FW_REG, "reg"),
        (FW_DUP, "reg"),
        (FW_MEMFD, "memfd"),
        (FW_DIR, "dir"),
        (FW_NULL, "chr"),
        (FW_RES, "external"),
        (FW_CTL, "external"),
    ] {
        let e = get(fd).ok_or(format!("no fd {fd}"))?;
        ensure(e["kind"].as_str() == Some(kind), || format!("fd {fd}: {}, want kind {kind}", text(e)))?;
    }
    let reg = get(FW_REG).ok_or("no reg fd")?;
    ensure(reg["pos"].as_u64() == Some(FW_REG_POS as u64), || format!("reg: {}", text(reg)))?;
    ensure(text(reg).contains("/tmp/ck-fw-reg"), || format!("reg path: {}", text(reg)))?;
    // O_APPEND: by number or by name.
    let flags = &reg["flags"];
    let append = flags.as_u64().map(|f| f & 0o2000 != 0).unwrap_or_else(|| text(flags).to_lowercase().contains("append"));
    ensure(append, || format!("reg flags without O_APPEND: {}", text(reg)))?;
    // The dup shares the open file.
    let dup = get(FW_DUP).ok_or("no dup fd")?;
    if let (Some(a), Some(b)) = (reg["file"].as_u64(), dup["file"].as_u64()) {
        ensure(a == b, || format!("fd {FW_DUP} is FILE {b}, fd {FW_REG} FILE {a}: not shared"))?;
    }
    let m = get(FW_MEMFD).ok_or("no memfd")?;
    ensure(text(m).contains("ck-memfd"), || format!("memfd: {}", text(m)))?;
    ensure(m["size"].as_u64() == Some(FW_MEMFD_LEN as u64), || format!("memfd size: {}", text(m)))?;
    let n = get(FW_NULL).ok_or("no /dev/null")?;
    ensure(text(n).contains("/dev/null"), || format!("null: {}", text(n)))?;
    let cloexec = |v: &Value| {
        v["cloexec"].as_bool().unwrap_or(false)
            || v["fd_flags"].as_u64().is_some_and(|f| f & 1 != 0)
            || text(&v["flags"]).to_lowercase().contains("cloexec")
    };
    ensure(cloexec(n), || format!("/dev/null without FD_CLOEXEC: {}", text(n)))?;
    ensure(!cloexec(reg), || format!("reg fd with FD_CLOEXEC: {}", text(reg)))?;
    let pipe = get(FW_PIPE_R).ok_or("no pipe")?;
    let all = img.to_string();
    ensure(pipe["pipe_size"].as_u64().is_none_or(|s| s == 65536), || format!("pipe capacity: {}", text(pipe)))?;
    if let Some(d) = pipe["data_len"].as_u64().filter(|&d| d > 0) {
        ensure(d == FW_PIPE_DATA.len() as u64, || format!("pipe data: {}", text(pipe)))?;
    }
    // The mappings: every file VMA has its MAPFILE; the memfd's names its
    // FILE, the deleted file's a mapping-only FILE after the fds' ones.
    let objs = img["files"].as_array().ok_or("no FILE objects in the image")?;
    let del = objs.iter().find(|f| f["kind"].as_str() == Some("deleted")).ok_or("no deleted FILE")?;
    let del_id = del["id"].as_u64().ok_or("deleted FILE without id")?;
    ensure(del["path"].as_str() == Some("/tmp/ck-fw-del") && del["size"].as_u64() == Some(4096), || format!("deleted FILE: {del}"))?;
    ensure(del["data_len"].as_u64() == Some(4096), || format!("deleted FILE without its content: {del}"))?;
    let max_fd_file = fds.iter().filter_map(|(_, e)| e["file"].as_u64()).max().unwrap_or(0);
    ensure(del_id > max_fd_file, || format!("the mapping-only FILE is {del_id}, not after the fds' ({max_fd_file})"))?;
    let vmas = img["mms"][0]["vmas"].as_array().ok_or("no VMAs")?;
    for v in vmas.iter().filter(|v| matches!(v["kind"].as_str(), Some("file-private" | "file-shared"))) {
        ensure(v["mapfile"].is_object(), || format!("file VMA without MAPFILE: {v}"))?;
    }
    let memfd_id = m["file"].as_u64().ok_or("memfd fd without FILE id")?;
    ensure(vmas.iter().any(|v| v["mapfile"]["file"].as_u64() == Some(memfd_id) && v["kind"].as_str() == Some("file-shared")), || {
        format!("no shared VMA of the memfd (FILE {memfd_id}) with its MAPFILE")
    })?;
    ensure(vmas.iter().any(|v| v["mapfile"]["file"].as_u64() == Some(del_id)), || format!("no VMA of the deleted file (FILE {del_id})"))?;
    // umask and cwd of the process.
    ensure(all.contains("\"/tmp\""), || "no cwd /tmp in the image".into())?;
    let t = task0(&img).to_string();
    ensure(t.contains("\"umask\":23") || t.contains("\"umask\":\"027\"") || t.contains("\"umask\":\"0027\""), || format!("umask: {t}"))?;
    // The dump changed nothing.
    let (pos, data) = w.report()?;
    ensure(pos == FW_REG_POS, || format!("file position after the dump: {pos}"))?;
    ensure(data == FW_PIPE_DATA, || format!("pipe data after the dump: {:?}", String::from_utf8_lossy(&data)))
}

/// The same stopped process dumped to a file, a pipe and a unix socket
/// gives the same image.
fn file_pipe_socket() -> Result<(), String> {
    let w = Workload::start(&["mem", "/tmp/ck-fps-file"])?;
    let pid = w.pid().to_string();
    let o = cptrst(&["checkpoint", &pid, "-o", "/tmp/ck-f.img"]);
    ensure(o.status.success(), || format!("to a file: {}", String::from_utf8_lossy(&o.stderr)))?;
    let by_file = std::fs::read("/tmp/ck-f.img").map_err(|e| e.to_string())?;
    // A pipe: the tool's stdout.
    let o = Command::new("cptrst").args(["checkpoint", &pid]).stdout(Stdio::piped()).output().map_err(|e| e.to_string())?;
    ensure(o.status.success(), || format!("to a pipe: {}", String::from_utf8_lossy(&o.stderr)))?;
    let by_pipe = o.stdout;
    // A unix socket: the tool's stdout is one end of a socketpair.
    let (a, b) = UnixStream::pair().map_err(|e| e.to_string())?;
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let mut b = b;
        std::io::Read::read_to_end(&mut b, &mut v).map(|_| v)
    });
    let st = Command::new("cptrst")
        .args(["checkpoint", &pid])
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(a)))
        .status()
        .map_err(|e| e.to_string())?;
    let by_socket = reader.join().map_err(|_| "reader panicked")?.map_err(|e| e.to_string())?;
    ensure(st.success(), || "to a socket: failed".into())?;
    ensure(by_file.len() > 4096, || "image too small".into())?;
    ensure(by_pipe == by_file, || format!("pipe image ({} bytes) differs from file image ({})", by_pipe.len(), by_file.len()))?;
    ensure(by_socket == by_file, || format!("socket image ({} bytes) differs from file image ({})", by_socket.len(), by_file.len()))?;
    std::fs::write("/tmp/ck-p.img", &by_pipe).map_err(|e| e.to_string())?;
    inspect_json("/tmp/ck-p.img").map(|_| ())
}

fn errno_of(r: std::io::Result<()>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

/// Refusals through the ioctl: the kernel's own checks.
fn refusals_ioctl() -> Result<(), String> {
    let dev = Dev::open().map_err(|f| f.msg)?;
    let out = std::fs::File::create("/tmp/ck-refuse.img").map_err(|e| e.to_string())?;
    let fd = out.as_raw_fd();
    // A running task that nobody stopped: EBUSY.
    let w = Workload::start(&["spin"])?;
    ensure(errno_of(dev.checkpoint(w.pid(), fd, 0)) == Some(libc::EBUSY), || "running task: not EBUSY".into())?;
    // A pid that does not exist: ESRCH.
    ensure(errno_of(dev.checkpoint(4_000_000, fd, 0)) == Some(libc::ESRCH), || "no such pid: not ESRCH".into())?;
    // A kernel thread (kthreadd): EPERM.
    ensure(errno_of(dev.checkpoint(2, fd, 0)) == Some(libc::EPERM), || "kernel thread: not EPERM".into())?;
    // The caller's own tree (itself, or init, its ancestor): EINVAL.
    let me = std::process::id() as i32;
    ensure(errno_of(dev.checkpoint(me, fd, 0)) == Some(libc::EINVAL), || "own tree: not EINVAL".into())?;
    ensure(errno_of(dev.checkpoint(1, fd, 0)) == Some(libc::EINVAL), || "ancestor's tree: not EINVAL".into())?;
    // Outputs: read-only fd, a closed fd, /proc/self/maps, /proc/PID/mem.
    let ro = std::fs::File::open("/tmp/ck-refuse.img").map_err(|e| e.to_string())?;
    ensure(errno_of(dev.checkpoint(w.pid(), ro.as_raw_fd(), 0)) == Some(libc::EBADF), || "read-only fd: not EBADF".into())?;
    ensure(errno_of(dev.checkpoint(w.pid(), 999, 0)) == Some(libc::EBADF), || "closed fd: not EBADF".into())?;
    let maps = std::fs::File::open("/proc/self/maps").map_err(|e| e.to_string())?;
    ensure(errno_of(dev.checkpoint(w.pid(), maps.as_raw_fd(), 0)) == Some(libc::EBADF), || "/proc/self/maps: not EBADF".into())?;
    let mem = std::fs::OpenOptions::new().read(true).write(true).open(format!("/proc/{}/mem", w.pid())).map_err(|e| e.to_string())?;
    ensure(errno_of(dev.checkpoint(w.pid(), mem.as_raw_fd(), 0)) == Some(libc::EINVAL), || "/proc/PID/mem: not EINVAL".into())?;
    // Nothing was written by any refusal.
    let len = std::fs::metadata("/tmp/ck-refuse.img").map_err(|e| e.to_string())?.len();
    ensure(len == 0, || format!("{len} bytes written by refused checkpoints"))?;
    ensure(w.alive(), || "the workload died".into())
}

/// Another user's task, by an unprivileged caller holding the device open.
fn refusal_other_user() -> Result<(), String> {
    let w = Workload::start(&["spin"])?;
    let dev = Dev::open().map_err(|f| f.msg)?;
    let target = w.pid();
    // SAFETY: fork in a test program; the child only makes system calls
    // and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: dropping privileges, then the ioctl, then _exit.
        unsafe {
            if libc::setresgid(1000, 1000, 1000) != 0 || libc::setresuid(1000, 1000, 1000) != 0 {
                libc::_exit(10);
            }
            let code = match errno_of(dev.checkpoint(target, 1, 0)) {
                Some(libc::EPERM) => 0,
                _ => 11,
            };
            libc::_exit(code)
        }
    }
    let mut st = 0;
    // SAFETY: waiting for our child.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    ensure(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, || format!("child status {st:#x} (10: setuid failed, 11: not EPERM)"))?;
    // Through the tool, the seize itself is refused.
    let o = Command::new("su").args(["-s", "/bin/sh", "cptuser", "-c", &format!("cptrst checkpoint {target} -o /tmp/x.img")]).output().map_err(|e| e.to_string())?;
    ensure(!o.status.success(), || "unprivileged cptrst checkpoint succeeded".into())?;
    ensure(w.alive(), || "the workload died".into())
}

/// The reader of a pipe dies mid-dump: EPIPE, and the tree is intact.
fn pipe_reader_dies() -> Result<(), String> {
    let w = Workload::start(&["sparse"])?;
    let mut child = Command::new("cptrst")
        .args(["checkpoint", &w.pid().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let mut buf = [0u8; 4096];
    std::io::Read::read_exact(&mut out, &mut buf).map_err(|e| format!("read: {e}"))?;
    drop(out);
    let o = child.wait_with_output().map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&o.stderr);
    ensure(!o.status.success(), || "checkpoint succeeded with a dead reader".into())?;
    ensure(err.contains("Broken pipe") || err.contains("went away"), || format!("message: {err}"))?;
    ensure(w.alive(), || "the workload died".into())?;
    // Intact: a new checkpoint of it works and has its 4 pages.
    let img = checkpoint_json(w.pid(), "/tmp/ck-after-epipe.img")?;
    let base = w.info["addr"].as_u64().unwrap_or(0);
    let v = vma_at(&img, base).ok_or("no VMA")?;
    ensure(v["pages"].as_u64() == Some(4), || format!("{} pages after EPIPE", v["pages"]))?;
    check_pages("/tmp/ck-after-epipe.img", base, 8, &[0, 100, 5000, (64 << 20) / PAGE - 1])
}

/// A signal to the checkpointing tool aborts the dump with EINTR; the tree
/// runs on.
fn signal_interrupts() -> Result<(), String> {
    let w = Workload::start(&["mem", "/tmp/ck-sig-file"])?;
    // Nobody reads the pipe: the dump blocks once it is full (64 KiB).
    let child = Command::new("cptrst")
        .args(["checkpoint", &w.pid().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    // Wait until the dump is blocked writing.
    let mut blocked = false;
    for _ in 0..500 {
        let wchan = std::fs::read_to_string(format!("/proc/{}/wchan", child.id())).unwrap_or_default();
        if wchan.contains("pipe") {
            blocked = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    ensure(blocked, || "the dump never blocked on the pipe".into())?;
    // SAFETY: kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&o.stderr);
    ensure(o.status.code() == Some(1), || format!("status {:?}: {err}", o.status))?;
    ensure(err.contains("interrupted"), || format!("message: {err}"))?;
    ensure(w.alive(), || "the workload died".into())?;
    // Running again, not left stopped: its state letter is not T/t.
    let state = cptrst::proc::state(w.pid());
    ensure(matches!(state, Some('S') | Some('R')), || format!("workload state {state:?} after the interrupted dump"))
}

/// The image cannot go into a file the tree maps: ETXTBSY, and the file
/// and the tree are untouched.
fn refusal_mapped_output() -> Result<(), String> {
    let w = Workload::start(&["mem", "/tmp/ck-mapped-file"])?;
    let o = cptrst(&["checkpoint", &w.pid().to_string(), "-o", "/tmp/ck-mapped-file"]);
    let err = String::from_utf8_lossy(&o.stderr);
    ensure(o.status.code() == Some(1), || format!("status {:?}: {err}", o.status))?;
    ensure(err.contains("the tree maps"), || format!("message: {err}"))?;
    let data = std::fs::read("/tmp/ck-mapped-file").map_err(|e| e.to_string())?;
    ensure(data.len() == 4 * PAGE && data.iter().all(|&b| b == 0xee), || "the mapped file was changed".into())?;
    ensure(w.alive(), || "the workload died".into())?;
    // Through the ioctl too, with the tree stopped by nobody: the stop
    // check comes first, so use the tool's path above for ETXTBSY, and
    // check here that an existing image file is cut to the new image.
    std::fs::write("/tmp/ck-long.img", vec![0x55u8; 8 << 20]).map_err(|e| e.to_string())?;
    let o = cptrst(&["checkpoint", &w.pid().to_string(), "-o", "/tmp/ck-long.img"]);
    ensure(o.status.success(), || format!("over an existing file: {}", String::from_utf8_lossy(&o.stderr)))?;
    inspect_json("/tmp/ck-long.img").map(|_| ())
}

/// `--stats FILE`: freezing, dump and frozen time and the image size, as
/// JSON; a FILE that cannot be written only warns (the checkpoint itself
/// succeeded), and the tree runs on (--resume) either way.
fn stats_file() -> Result<(), String> {
    let w = Workload::start(&["mem", "/tmp/ck-stats-file"])?;
    let pid = w.pid().to_string();
    let (img, stats) = ("/tmp/ck-stats.img", "/tmp/ck-stats.json");
    let r = (|| {
        let o = cptrst(&["checkpoint", &pid, "-o", img, "--resume", "--stats", stats]);
        ensure(o.status.success(), || format!("--stats: {}", String::from_utf8_lossy(&o.stderr)))?;
        let text = std::fs::read_to_string(stats).map_err(|e| format!("{stats}: {e}"))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{stats}: {e}: {text}"))?;
        let num = |k: &str| v[k].as_u64().ok_or(format!("no {k} in {text}"));
        let len = std::fs::metadata(img).map_err(|e| e.to_string())?.len();
        ensure(num("image_bytes")? == len, || format!("image_bytes in {text}, the image has {len}"))?;
        ensure(num("frozen_us")? >= num("dump_us")? && num("frozen_us")? >= num("freezing_us")?, || {
            format!("frozen time shorter than a part of it: {text}")
        })?;
        ensure(num("processes")? == 1 && num("threads")? >= 1, || format!("processes/threads: {text}"))?;
        let o = cptrst(&["checkpoint", &pid, "-o", img, "--resume", "--stats", "/nonexistent/dir/s.json"]);
        let err = String::from_utf8_lossy(&o.stderr);
        ensure(o.status.success(), || format!("an unwritable --stats file failed the checkpoint: {err}"))?;
        ensure(err.contains("--stats /nonexistent/dir/s.json"), || format!("no warning naming the --stats file: {err}"))?;
        inspect_json(img)?;
        ensure(w.alive(), || "the workload died".into())
    })();
    let _ = std::fs::remove_file(img);
    let _ = std::fs::remove_file(stats);
    r
}

/// How long a `cptrst` run (or a wait for a workload) may take before the
/// test calls it a hang: far more than any run needs, even under TCG with
/// other guests beside (the suite's own timeout in run-all allows for it).
const HANG: Duration = Duration::from_secs(120);

/// Runs `cptrst ARGS`, killing it if it is still running after [`HANG`].
/// Its stderr goes through a file: a restored tree (`restart --detach`)
/// keeps the tool's stderr open.
fn cptrst_bounded(args: &[&str]) -> Result<std::process::Output, String> {
    let path = format!("/tmp/ck-tool-{}.err", std::process::id());
    let err = std::fs::File::create(&path).map_err(|e| format!("{path}: {e}"))?;
    let mut child = Command::new("cptrst").args(args).stdout(Stdio::null()).stderr(err).spawn().map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break st;
        }
        if t0.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(format!("cptrst {args:?} still running after {HANG:?}: {text}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    Ok(std::process::Output { status, stdout: Vec::new(), stderr })
}

/// Waits (bounded) until `cond` holds; `what` names it for the failure.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) -> Result<(), String> {
    let t0 = Instant::now();
    while !cond() {
        ensure(t0.elapsed() < HANG, || format!("{what}: not after {HANG:?}"))?;
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn tracer_of(pid: i32) -> Option<String> {
    cptrst::proc::status_field(pid, "TracerPid")
}

/// A `vfork`/`clone-vfork` workload, once its parent waits for its child:
/// (workload, child pid).
fn vfork_workload(kind: &str) -> Result<(Workload, i32), String> {
    let w = Workload::start(&[kind])?;
    let p = w.pid();
    let mut child = 0;
    wait_for(&format!("{kind} {p} waiting for a sleeping child"), || {
        child = cptrst::proc::children(p, p).first().copied().unwrap_or(0);
        child > 0 && cptrst::proc::state(p) == Some('D') && cptrst::proc::state(child) == Some('S')
    })?;
    Ok((w, child))
}

/// After a refused checkpoint the vfork tree is as it was: nobody traces
/// it, the child sleeps, the parent waits; and once the child dies the
/// parent carries on (it pauses: 'S', where a parent left traced with
/// its interrupt pending would stop, 't').
fn vfork_tree_untouched(w: &Workload, child: i32) -> Result<(), String> {
    let p = w.pid();
    for t in [p, child] {
        ensure(tracer_of(t).as_deref() == Some("0"), || format!("task {t} still traced by {:?}", tracer_of(t)))?;
    }
    ensure(cptrst::proc::state(child) == Some('S'), || format!("child {child}: state {:?}", cptrst::proc::state(child)))?;
    ensure(cptrst::proc::state(p) == Some('D'), || format!("parent {p}: state {:?}, not in its vfork wait", cptrst::proc::state(p)))?;
    // SAFETY: kill(2) of the workload's child.
    unsafe { libc::kill(child, libc::SIGKILL) };
    wait_for(&format!("vfork parent {p} running again (pause) after its child died"), || cptrst::proc::state(p) == Some('S'))?;
    ensure(w.alive(), || "the workload died".into())
}

/// A parent blocked in vfork() cannot be stopped: the checkpoint refuses
/// it at once with EOPNOTSUPP, naming both, leaves no image, and leaves
/// the tree running as it was.
fn vfork_parent_refused() -> Result<(), String> {
    let (w, child) = vfork_workload("vfork")?;
    let p = w.pid();
    let img = "/tmp/ck-vfork.img";
    let _ = std::fs::remove_file(img);
    let o = cptrst_bounded(&["checkpoint", &p.to_string(), "-o", img])?;
    let err = String::from_utf8_lossy(&o.stderr);
    ensure(o.status.code() == Some(1), || format!("status {:?}: {err}", o.status))?;
    ensure(err.contains("(EOPNOTSUPP)") && err.contains("vfork"), || format!("message: {err}"))?;
    ensure(err.contains(&format!("process {p} ")) && err.contains(&format!("child {child} ")), || {
        format!("message does not name {p} and {child}: {err}")
    })?;
    ensure(!std::path::Path::new(img).exists(), || format!("{img} left behind"))?;
    vfork_tree_untouched(&w, child)
}

/// A task that does not stop (a CLONE_VFORK parent, which shares nothing
/// with its child): the stop gives up at --stop-timeout with ETIMEDOUT,
/// naming it, and the tree runs on as it was once the tool has exited.
fn unstoppable_task_times_out() -> Result<(), String> {
    let (w, child) = vfork_workload("clone-vfork")?;
    let p = w.pid();
    let o = cptrst_bounded(&["checkpoint", &p.to_string(), "-o", "/tmp/ck-clone-vfork.img", "--stop-timeout", "5"])?;
    let err = String::from_utf8_lossy(&o.stderr);
    ensure(o.status.code() == Some(1), || format!("status {:?}: {err}", o.status))?;
    ensure(err.contains("did not stop within 5 s") && err.contains("(ETIMEDOUT)"), || format!("message: {err}"))?;
    ensure(err.contains(&format!("task {p} (")), || format!("message does not name task {p}: {err}"))?;
    ensure(!std::path::Path::new("/tmp/ck-clone-vfork.img").exists(), || "image left behind".into())?;
    vfork_tree_untouched(&w, child)
}

/// Every task of an image has its parent in the image (the root's is 0).
fn consistent_tree(img: &Value) -> Result<usize, String> {
    let tasks = img["tasks"].as_array().ok_or("no tasks")?;
    let pids: std::collections::BTreeSet<u64> = tasks.iter().filter_map(|t| t["pid"].as_u64()).collect();
    for t in &tasks[1..] {
        let pp = t["ppid"].as_u64().unwrap_or(0);
        ensure(pids.contains(&pp), || format!("task {} has parent {pp}, not in the image", t["pid"]))?;
    }
    Ok(tasks.len())
}

/// The u64 at `addr` in process `pid`.
fn read_u64(pid: i32, addr: u64) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut b = [0u8; 8];
    f.read_exact_at(&mut b, addr).ok()?;
    Some(u64::from_le_bytes(b))
}

/// A tree that forks and exits all the time: the stop converges on a
/// consistent tree (stops what appeared meanwhile, forgets what exited),
/// checkpoint after checkpoint; the last image (taken with --kill)
/// restarts, and the restored root goes on creating workers.
fn fork_storm() -> Result<(), String> {
    let mut w = Workload::start(&["fork-storm", "4"])?;
    let p = w.pid();
    let forks = w.info["forks"].as_u64().ok_or("no forks address")?;
    let img = "/tmp/ck-storm.img";
    let mut sizes = Vec::new();
    for i in 0..5 {
        let kill = i == 4;
        let o = cptrst_bounded(&["checkpoint", &p.to_string(), "-o", img, if kill { "--kill" } else { "--resume" }])?;
        ensure(o.status.success(), || format!("checkpoint {} of the storm: {}", i + 1, String::from_utf8_lossy(&o.stderr)))?;
        sizes.push(consistent_tree(&inspect_json(img)?).map_err(|e| format!("image {}: {e}", i + 1))?);
        if !kill {
            ensure(w.alive(), || "the storm died".into())?;
        }
    }
    // Reaped: its pid is free (its workers, reparented, are reaped by init,
    // or waited for by the restart).
    let _ = w.child.wait();
    let o = cptrst_bounded(&["restart", "-i", img, "--detach"])?;
    ensure(o.status.success(), || format!("restart of the storm ({sizes:?} tasks): {}", String::from_utf8_lossy(&o.stderr)))?;
    let r = (|| {
        let at = read_u64(p, forks).ok_or(format!("restored root {p}: cannot read its counter"))?;
        wait_for(&format!("restored storm {p} creating workers past {at}"), || read_u64(p, forks).is_some_and(|n| n > at))
    })();
    for q in cptrst::proc::descendants(p).into_iter().chain([p]) {
        // SAFETY: kill(2) of the restored tree.
        unsafe { libc::kill(q, libc::SIGKILL) };
    }
    r
}

/// A pid of the image still held by a zombie: the restart waits for it
/// (here until the test reaps it), and when --pid-wait runs out it names
/// the pid, the zombie's parent and how long it waited.
fn restart_waits_for_a_zombie() -> Result<(), String> {
    let mut w = Workload::start(&["pause"])?;
    let p = w.pid();
    let img = "/tmp/ck-zombie-pid.img";
    let o = cptrst_bounded(&["checkpoint", &p.to_string(), "-o", img, "--kill"])?;
    ensure(o.status.success(), || format!("checkpoint --kill: {}", String::from_utf8_lossy(&o.stderr)))?;
    // --kill returned once the task had exited: a zombie of this test now.
    ensure(cptrst::proc::state(p) == Some('Z'), || format!("{p} after checkpoint --kill: {:?}, not a zombie", cptrst::proc::state(p)))?;
    let o = cptrst_bounded(&["restart", "-i", img, "--pid-wait", "1"])?;
    let err = String::from_utf8_lossy(&o.stderr);
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    ensure(o.status.code() == Some(1), || format!("status {:?}: {err}", o.status))?;
    ensure(err.contains(&format!("pid {p} is in use, still held by a zombie 'cptrst-testprog' of parent pid {me} ")), || {
        format!("message: {err}")
    })?;
    ensure(err.contains("--pid-wait 1"), || format!("message: {err}"))?;
    // Reaped while the restart waits (a generous --pid-wait): it goes on.
    let reaper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let _ = w.child.wait();
    });
    let o = cptrst_bounded(&["restart", "-i", img, "--detach", "--pid-wait", "3600"]);
    let _ = reaper.join();
    let o = o?;
    let err = String::from_utf8_lossy(&o.stderr);
    let st = o.status;
    let back = cptrst::proc::state(p);
    // SAFETY: kill(2) of the restored workload.
    unsafe { libc::kill(p, libc::SIGKILL) };
    ensure(st.success(), || format!("restart after the reap: {st}: {err}"))?;
    ensure(matches!(back, Some('S' | 'R')), || format!("restored {p}: state {back:?}"))
}

/// `cptrst checkpoint` with bad arguments: clear usage errors.
fn tool_usage_errors() -> Result<(), String> {
    for (args, code) in [
        (&["checkpoint"][..], 2),
        (&["checkpoint", "abc"], 2),
        (&["checkpoint", "-5"], 2),
        (&["checkpoint", "1", "--kill", "--resume"], 2),
        (&["checkpoint", "1", "--stats"], 2),
        (&["checkpoint", "1", "--stop-timeout"], 2),
        (&["checkpoint", "1", "--stop-timeout", "0"], 2),
        (&["checkpoint", "1", "--stop-timeout", "x"], 2),
        (&["checkpoint", "1", "--stop-timeout", "3601"], 2),
        (&["restart", "--pid-wait"], 2),
        (&["restart", "--pid-wait", "-1"], 2),
        (&["restart", "--pid-wait", "soon"], 2),
        (&["checkpoint", "4000000", "-o", "/tmp/x"], 1),
        (&["inspect"], 2),
        (&["inspect", "/nonexistent"], 1),
    ] {
        let o = cptrst(args);
        ensure(o.status.code() == Some(code), || format!("cptrst {args:?}: status {:?}, want {code}", o.status.code()))?;
        ensure(!o.stderr.is_empty(), || format!("cptrst {args:?}: no message"))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------
// Signals, timers, limits and credentials (CREDS, SIGNALS, PROCESS).

/// What the signal workload sets up before it reports ready.
#[derive(Clone, Copy, Debug, PartialEq)]
enum SigSetup {
    /// Handlers, blocked and pending signals, limits, timers, altstack.
    Full,
    /// An allow-all seccomp filter.
    Seccomp,
    /// A POSIX timer on CLOCK_PROCESS_CPUTIME_ID.
    CpuTimer,
}

const SW_RT_PRIV: i32 = 34; // SIGRTMIN + 2 (glibc keeps 32 and 33)
const SW_RT_TIMER: i32 = 36;
const SW_VALUE: u64 = 0x1234;
const SW_TIMER_VALUE: u64 = 0x77;
const SW_NOFILE: (u64, u64) = (123, 456);
const SW_SLACK: u64 = 12345;
const SW_REAL: (u64, u64) = (100, 5); // seconds
const SW_TIMER: (u64, u64) = (200, 1);
const SW_STACK: usize = 65536;

extern "C" fn sw_handler(_: libc::c_int) {}

/// The signal workload: forks a child that sets up `setup`, reports
/// `R` + its altstack address, waits for `G`, then reports what it has
/// left (pending set, timer and itimer remaining, the dequeued values).
struct SigWorkload {
    pid: i32,
    res: std::fs::File,
    ctl: std::fs::File,
    stack: u64,
}

/// # Safety
/// Only in the child of a fork, with its pipe ends.
unsafe fn sig_child(setup: SigSetup, res_w: i32, ctl_r: i32) -> ! {
    use libc::*;
    // SAFETY (whole function): system calls on the child's own state and
    // fds, into locals; it ends in _exit.
    unsafe {
        let step = |ok: bool, code: i32| {
            if !ok {
                _exit(code)
            }
        };
        // Nothing inherited from the test but fds 0-2 and the two pipes
        // (the test's /dev/cptrst would be refused first).
        let (res_w, ctl_r) = (dup2(res_w, 100), dup2(ctl_r, 101));
        step(res_w == 100 && ctl_r == 101, 19);
        syscall(SYS_close_range, 3u32, 99u32, 0u32);
        syscall(SYS_close_range, 102u32, u32::MAX, 0u32);
        let pid = getpid();
        match setup {
            SigSetup::Seccomp => {
                let mut insn = [sock_filter { code: (BPF_RET | BPF_K) as u16, jt: 0, jf: 0, k: SECCOMP_RET_ALLOW }];
                let prog = sock_fprog { len: 1, filter: insn.as_mut_ptr() };
                step(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, 20);
                step(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog as *const sock_fprog) == 0, 21);
            }
            SigSetup::CpuTimer => {
                let mut id: timer_t = std::ptr::null_mut();
                step(timer_create(CLOCK_PROCESS_CPUTIME_ID, std::ptr::null_mut(), &mut id) == 0, 22);
            }
            SigSetup::Full => {
                let mut sa: sigaction = std::mem::zeroed();
                sa.sa_sigaction = sw_handler as *const () as usize;
                sa.sa_flags = SA_SIGINFO | SA_RESTART;
                sigaddset(&mut sa.sa_mask, SIGUSR2);
                step(sigaction(SIGUSR1, &sa, std::ptr::null_mut()) == 0, 23);
                let mut ign: sigaction = std::mem::zeroed();
                ign.sa_sigaction = SIG_IGN;
                step(sigaction(SIGPIPE, &ign, std::ptr::null_mut()) == 0, 24);
                let mut set: sigset_t = std::mem::zeroed();
                for s in [SIGUSR2, SIGALRM, SW_RT_PRIV, SW_RT_TIMER] {
                    sigaddset(&mut set, s);
                }
                step(sigprocmask(SIG_BLOCK, &set, std::ptr::null_mut()) == 0, 25);
                for k in 0..2u64 {
                    let mut si: siginfo_t = std::mem::zeroed();
                    let raw = (&raw mut si).cast::<u8>();
                    *raw.cast::<i32>() = SW_RT_PRIV;
                    *raw.add(8).cast::<i32>() = SI_QUEUE;
                    *raw.add(16).cast::<i32>() = pid;
                    *raw.add(24).cast::<u64>() = SW_VALUE + k;
                    step(syscall(SYS_rt_tgsigqueueinfo, pid, pid, SW_RT_PRIV, &si as *const siginfo_t) == 0, 26);
                }
                step(kill(pid, SIGUSR2) == 0, 27);
                let lim = rlimit { rlim_cur: SW_NOFILE.0, rlim_max: SW_NOFILE.1 };
                step(setrlimit(RLIMIT_NOFILE, &lim) == 0, 28);
                let it = itimerval {
                    it_value: timeval { tv_sec: SW_REAL.0 as i64, tv_usec: 0 },
                    it_interval: timeval { tv_sec: SW_REAL.1 as i64, tv_usec: 0 },
                };
                step(setitimer(ITIMER_REAL, &it, std::ptr::null_mut()) == 0, 29);
                let mut ev: sigevent = std::mem::zeroed();
                ev.sigev_notify = SIGEV_SIGNAL;
                ev.sigev_signo = SW_RT_TIMER;
                ev.sigev_value = sigval { sival_ptr: SW_TIMER_VALUE as *mut c_void };
                let mut id: timer_t = std::ptr::null_mut();
                step(timer_create(CLOCK_MONOTONIC, &mut ev, &mut id) == 0, 30);
                let ts = itimerspec {
                    it_value: timespec { tv_sec: SW_TIMER.0 as i64, tv_nsec: 0 },
                    it_interval: timespec { tv_sec: SW_TIMER.1 as i64, tv_nsec: 0 },
                };
                step(timer_settime(id, 0, &ts, std::ptr::null_mut()) == 0, 31);
                let st = mmap(std::ptr::null_mut(), SW_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                step(st != MAP_FAILED, 32);
                let ss = stack_t { ss_sp: st, ss_flags: 0, ss_size: SW_STACK };
                step(sigaltstack(&ss, std::ptr::null_mut()) == 0, 33);
                let stack_addr = st as u64;
                step(prctl(PR_SET_TIMERSLACK, SW_SLACK as c_ulong, 0, 0, 0) == 0, 34);
                step(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, 35);
                step(prctl(PR_SET_PDEATHSIG, SIGKILL as c_ulong, 0, 0, 0) == 0, 36);
                // Ready: report the timer's id too (0 in a fresh process).
                let mut out = [0u8; 1 + 16];
                out[0] = b'R';
                out[1..9].copy_from_slice(&stack_addr.to_le_bytes());
                out[9..17].copy_from_slice(&(id as u64).to_le_bytes());
                step(write(res_w, out.as_ptr().cast(), out.len()) == out.len() as isize, 37);
                let mut b = 0u8;
                step(read(ctl_r, (&raw mut b).cast(), 1) == 1, 38);
                // What is left: pending set, timer, itimer, the queued values.
                let mut rep = [0u64; 8];
                let mut pend: sigset_t = std::mem::zeroed();
                sigpending(&mut pend);
                for s in 1..=64 {
                    if sigismember(&pend, s) == 1 {
                        rep[0] |= 1 << (s - 1);
                    }
                }
                let mut cur: itimerspec = std::mem::zeroed();
                timer_gettime(id, &mut cur);
                rep[1] = cur.it_value.tv_sec as u64 * 1_000_000_000 + cur.it_value.tv_nsec as u64;
                let mut real: itimerval = std::mem::zeroed();
                getitimer(ITIMER_REAL, &mut real);
                rep[2] = real.it_value.tv_sec as u64 * 1_000_000 + real.it_value.tv_usec as u64;
                let zero = timespec { tv_sec: 0, tv_nsec: 0 };
                let mut only: sigset_t = std::mem::zeroed();
                sigaddset(&mut only, SW_RT_PRIV);
                for k in 0..2 {
                    let mut si: siginfo_t = std::mem::zeroed();
                    if sigtimedwait(&only, &mut si, &zero) == SW_RT_PRIV {
                        rep[3 + k] = si.si_value().sival_ptr as u64;
                    }
                }
                let mut usr2: sigset_t = std::mem::zeroed();
                sigaddset(&mut usr2, SIGUSR2);
                let mut si: siginfo_t = std::mem::zeroed();
                rep[5] = sigtimedwait(&usr2, &mut si, &zero) as u64;
                step(write(res_w, rep.as_ptr().cast(), 64) == 64, 39);
                _exit(0)
            }
        }
        let out = [b'R'; 17];
        step(write(res_w, out.as_ptr().cast(), out.len()) == out.len() as isize, 37);
        let mut b = 0u8;
        step(read(ctl_r, (&raw mut b).cast(), 1) == 1, 38);
        _exit(0)
    }
}

impl SigWorkload {
    fn start(setup: SigSetup) -> Result<SigWorkload, String> {
        let (res_r, res_w) = pipe2()?;
        let (ctl_r, ctl_w) = pipe2()?;
        // SAFETY: fork in this single-threaded test; the child only makes
        // system calls (sig_child) and _exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: in the child, with its pipe ends.
            unsafe { sig_child(setup, res_w, ctl_r) }
        }
        // SAFETY: closing the child's ends, which we own.
        unsafe {
            libc::close(res_w);
            libc::close(ctl_r);
        }
        use std::os::fd::FromRawFd;
        // SAFETY: our ends, owned from here on.
        let (res, ctl) = unsafe { (std::fs::File::from_raw_fd(res_r), std::fs::File::from_raw_fd(ctl_w)) };
        if pid < 0 {
            return Err("fork failed".into());
        }
        let mut w = SigWorkload { pid, res, ctl, stack: 0 };
        let mut b = [0u8; 17];
        if std::io::Read::read_exact(&mut w.res, &mut b).is_err() || b[0] != b'R' {
            let mut st = 0;
            // SAFETY: reaping our child.
            unsafe { libc::waitpid(pid, &mut st, 0) };
            w.pid = 0;
            return Err(format!("the {setup:?} signal workload failed to set up: {}", cptrst::proc::wait_status_text(st)));
        }
        if setup == SigSetup::Full {
            w.stack = u64::from_le_bytes(b[1..9].try_into().map_err(|_| "report")?);
        }
        Ok(w)
    }

    /// A `/proc/PID/status` field.
    fn status(&self, key: &str) -> Option<String> {
        let t = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        t.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_string())
    }

    /// Lets the workload report and reaps it (the full setup's report:
    /// 8 words).
    fn report(mut self) -> Result<Vec<u64>, String> {
        std::io::Write::write_all(&mut self.ctl, b"G").map_err(|e| e.to_string())?;
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut self.res, &mut v).map_err(|e| e.to_string())?;
        let mut st = 0;
        // SAFETY: reaping our child.
        unsafe { libc::waitpid(self.pid, &mut st, 0) };
        self.pid = 0;
        ensure(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, || format!("signal workload: {}", cptrst::proc::wait_status_text(st)))?;
        Ok(v.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).collect())
    }
}

impl Drop for SigWorkload {
    fn drop(&mut self) {
        if self.pid > 0 {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// A seccomp filter or a CPU-clock POSIX timer is refused at checkpoint:
/// through the tool with the message naming the task and what (exit 1, no
/// image); through the ioctl on a tree this test stopped: EOPNOTSUPP,
/// nothing written, the task still stopped.
fn refusals_signal_state() -> Result<(), String> {
    let dev = Dev::open().map_err(|f| f.msg)?;
    for (setup, what) in [
        (SigSetup::Seccomp, "seccomp (mode 2, filter): not supported".to_string()),
        (SigSetup::CpuTimer, "POSIX timer 0: on a process CPU-time clock: not supported".to_string()),
    ] {
        let w = SigWorkload::start(setup)?;
        let img = "/tmp/ck-sigref.img";
        let _ = std::fs::remove_file(img);
        let o = cptrst(&["checkpoint", &w.pid.to_string(), "-o", img]);
        let err = String::from_utf8_lossy(&o.stderr);
        let want = format!("task 0 (pid {}): {what}", w.pid);
        ensure(o.status.code() == Some(1), || format!("{setup:?}: status {:?}: {err}", o.status))?;
        ensure(err.contains(&want), || format!("{setup:?}: message '{err}', want '{want}'"))?;
        ensure(!std::path::Path::new(img).exists(), || format!("{setup:?}: the image file was left"))?;
        let out = std::fs::File::create(img).map_err(|e| e.to_string())?;
        ptrace_stop(w.pid)?;
        let r = errno_of(dev.checkpoint(w.pid, out.as_raw_fd(), 0));
        let state = cptrst::proc::state(w.pid);
        ptrace_detach(w.pid);
        ensure(r == Some(libc::EOPNOTSUPP), || format!("{setup:?}: ioctl gave {r:?}, not EOPNOTSUPP"))?;
        ensure(state == Some('t'), || format!("{setup:?}: after the refusal the task is in state {state:?}, not stopped"))?;
        let len = out.metadata().map_err(|e| e.to_string())?.len();
        ensure(len == 0, || format!("{setup:?}: {len} bytes written by the refused checkpoint"))?;
        ensure(w.report().is_ok(), || format!("{setup:?}: the workload did not exit cleanly"))?;
    }
    Ok(())
}

fn word(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |w| u64::from_le_bytes(w.try_into().unwrap_or_default()))
}

fn int(b: &[u8], at: usize) -> i32 {
    b.get(at..at + 4).map_or(0, |w| i32::from_le_bytes(w.try_into().unwrap_or_default()))
}

/// The signal workload's state in the image, decoded by the image crate:
/// records in order (THREAD, CREDS, SIGNALS, PROCESS), the handler, the
/// pending entries and their values, the rlimit, the itimer, the timer,
/// the altstack, slack, pdeath signal and subreaper. And the checkpoint
/// consumed nothing: SigPnd/ShdPnd the same before and after, the timers
/// still armed, both queued values still there to dequeue.
fn signals_dump() -> Result<(), String> {
    use cptrst_image::Record;
    let w = SigWorkload::start(SigSetup::Full)?;
    let pnd = |w: &SigWorkload| (w.status("SigPnd:"), w.status("ShdPnd:"));
    let before = pnd(&w);
    let want = (Some(format!("{:016x}", 1u64 << (SW_RT_PRIV - 1))), Some(format!("{:016x}", 1u64 << (libc::SIGUSR2 - 1))));
    ensure(before == want, || format!("pending before: {before:?}, want {want:?}"))?;
    let img = "/tmp/ck-sig.img";
    let o = cptrst(&["checkpoint", &w.pid.to_string(), "-o", img, "--resume"]);
    ensure(o.status.success(), || format!("checkpoint: {:?}: {}", o.status, String::from_utf8_lossy(&o.stderr)))?;
    let after = pnd(&w);
    ensure(after == before, || format!("pending after the checkpoint: {after:?}, before: {before:?}"))?;

    let bytes = std::fs::read(img).map_err(|e| e.to_string())?;
    let mut seq = String::new();
    let (mut creds, mut sigs, mut process) = (None, None, None);
    for item in cptrst_image::Reader::new(&bytes).map_err(|e| e.to_string())? {
        match item.map_err(|e| e.to_string())?.record {
            Record::Task(_) => seq.push('T'),
            Record::Thread(_) => seq.push('H'),
            Record::Creds(c) => {
                seq.push('C');
                creds = Some(c);
            }
            Record::Signals(s) => {
                seq.push('S');
                sigs = Some(s);
            }
            Record::Process(p) => {
                seq.push('P');
                process = Some(p);
            }
            _ => {}
        }
    }
    ensure(seq == "THCSP", || format!("records {seq}, want THCSP (TASK THREAD CREDS SIGNALS PROCESS)"))?;
    let (Some(c), Some(s), Some(p)) = (creds, sigs, process) else {
        return Err("a record is missing".into());
    };
    ensure(c.cap_effective == c.cap_permitted && c.flags == 0, || format!("creds: {c:?}"))?;
    ensure(s.altstack_sp == w.stack && s.altstack_size == SW_STACK as u64 && s.altstack_flags == 0, || format!("altstack {:#x}/{:#x}/{:#x}, want {:#x}/{SW_STACK:#x}/0", s.altstack_sp, s.altstack_size, s.altstack_flags, w.stack))?;
    ensure(s.pdeath_signal == 9 && s.timer_slack_ns == SW_SLACK, || format!("pdeath {} slack {}", s.pdeath_signal, s.timer_slack_ns))?;
    ensure(s.nprivate == 2 && s.nshared == 1, || format!("{} private and {} shared entries, want 2 and 1", s.nprivate, s.nshared))?;
    for (k, e) in s.private().enumerate() {
        let b = e.bytes();
        ensure(e.signo() == SW_RT_PRIV as u32 && e.code() == libc::SI_QUEUE && word(b, 24) == SW_VALUE + k as u64 && int(b, 16) == w.pid, || format!("private entry {k}: {:?}", &b[..32]))?;
    }
    for e in s.shared() {
        let b = e.bytes();
        ensure(e.signo() == libc::SIGUSR2 as u32 && e.code() == libc::SI_USER && int(b, 16) == w.pid, || format!("shared entry: {:?}", &b[..32]))?;
    }
    let nofile = p.rlimits[libc::RLIMIT_NOFILE as usize];
    ensure((nofile.cur, nofile.max) == SW_NOFILE, || format!("RLIMIT_NOFILE {}/{}", nofile.cur, nofile.max))?;
    let real = p.itimers[0];
    let sec = 1_000_000_000u64;
    ensure(real.value_ns > (SW_REAL.0 - 30) * sec && real.value_ns <= SW_REAL.0 * sec && real.interval_ns == SW_REAL.1 * sec, || format!("ITIMER_REAL {real:?}"))?;
    ensure(p.itimers[1].value_ns == 0 && p.itimers[2].value_ns == 0, || format!("CPU itimers {:?}", p.itimers))?;
    ensure(p.flags == 1 && p.dumpable == 1, || format!("flags {:#x} dumpable {}", p.flags, p.dumpable))?;
    let act = |sig: i32| p.sigaction(sig as u32).unwrap_or_default();
    let usr1 = act(libc::SIGUSR1);
    let want_flags = (libc::SA_SIGINFO | libc::SA_RESTART) as u64;
    ensure(usr1.handler == sw_handler as *const () as u64 && usr1.flags & want_flags == want_flags && usr1.mask == 1 << (libc::SIGUSR2 - 1), || format!("SIGUSR1 action {usr1:?}"))?;
    ensure(act(libc::SIGPIPE).handler == 1, || "SIGPIPE is not SIG_IGN".into())?;
    ensure(act(libc::SIGINT).is_default(), || format!("SIGINT is not SIG_DFL: {:?}", act(libc::SIGINT)))?;
    let timers: Vec<_> = p.timers.iter().collect();
    ensure(timers.len() == 1, || format!("{} timers, want 1", timers.len()))?;
    let t = &timers[0];
    ensure(t.id == 0 && t.clock == libc::CLOCK_MONOTONIC && t.notify == 0 && t.signo == SW_RT_TIMER as u32 && t.value == SW_TIMER_VALUE, || format!("timer {t:?}"))?;
    ensure(t.value_ns > (SW_TIMER.0 - 30) * sec && t.value_ns <= SW_TIMER.0 * sec && t.interval_ns == SW_TIMER.1 * sec, || format!("timer times {t:?}"))?;

    // The workload itself: nothing dequeued, the timers still armed.
    let rep = w.report()?;
    ensure(rep.len() == 8, || format!("short report {rep:?}"))?;
    let pend = (1u64 << (SW_RT_PRIV - 1)) | (1 << (libc::SIGUSR2 - 1));
    ensure(rep[0] & pend == pend, || format!("pending after: {:#x}", rep[0]))?;
    ensure(rep[1] > (SW_TIMER.0 - 30) * sec, || format!("the POSIX timer has {} ns left", rep[1]))?;
    ensure(rep[2] > (SW_REAL.0 - 30) * 1_000_000, || format!("ITIMER_REAL has {} us left", rep[2]))?;
    ensure(rep[3] == SW_VALUE && rep[4] == SW_VALUE + 1, || format!("dequeued values {:#x} {:#x}", rep[3], rep[4]))?;
    ensure(rep[5] == libc::SIGUSR2 as u64, || format!("SIGUSR2 not pending after: {}", rep[5]))
}

fn main() {
    tap::run(&[
        ("general registers", general_registers),
        ("x87, SSE and AVX registers", fpu_registers),
        ("a task in a system call: restart state normalized", syscall_restart_normalized),
        ("memory: anon, file, shared, ro, PROT_NONE, heap, stack", memory_patterns),
        ("64 MiB mapping with 4 pages touched", sparse_mapping),
        ("tree of parent, children and threads", process_tree),
        ("open fds: a socket or an eventfd refuses the files workload, naming the fd", open_files_refused),
        ("open files: each unsupported kind refused, named, the tree unchanged", refusals_unsupported_files),
        ("open files: two processes sharing an fd table refused, naming both", refusal_shared_fd_table),
        ("open files: fds, kinds, positions, flags, sharing, memfd, umask and cwd", files_dump),
        ("shared anonymous memory across fork: SHM ids", shared_anon_objects),
        ("same image to a file, a pipe and a unix socket", file_pipe_socket),
        ("refusals: EBUSY, ESRCH, EPERM, EINVAL, EBADF", refusals_ioctl),
        ("refusal: another user's task, unprivileged caller", refusal_other_user),
        ("pipe reader dies mid-dump: EPIPE, tree intact", pipe_reader_dies),
        ("a signal to the tool: EINTR, tree runs on", signal_interrupts),
        ("refusal: an output file the tree maps (ETXTBSY)", refusal_mapped_output),
        ("checkpoint --stats: timings and image size as JSON", stats_file),
        ("a vfork parent: EOPNOTSUPP at once, tree untouched", vfork_parent_refused),
        ("a task that does not stop: ETIMEDOUT, tree untouched", unstoppable_task_times_out),
        ("a fork storm: consistent images, and the last one restarts", fork_storm),
        ("restart waits for a pid held by a zombie, names it when it gives up", restart_waits_for_a_zombie),
        ("tool usage errors", tool_usage_errors),
        ("signals, timers, limits: CREDS, SIGNALS, PROCESS right, nothing consumed or disarmed", signals_dump),
        ("refusals: a seccomp filter, a CPU-clock POSIX timer (EOPNOTSUPP, named, nothing written)", refusals_signal_state),
    ])
}
