//! Workloads with known state, for the guest tests. Each prints one JSON
//! line on stdout describing itself (addresses, pids), then waits to be
//! checkpointed:
//!
//! - `regs`: loads [`GPR_VALUES`] into the general registers, sets a flag
//!   byte (address in the JSON line) and spins in user mode;
//! - `fpu`: loads x87, xmm and ymm registers with known values, sets the
//!   flag and spins;
//! - `mem FILE`: anonymous private, file-backed private (over FILE), shared
//!   anonymous, read-only and PROT_NONE mappings, heap and stack, each filled
//!   with [`pattern`]; then pauses;
//! - `sparse`: a 64 MiB anonymous mapping with 4 pages touched; pauses;
//! - `tree N T`: forks N children, each with T extra threads; all pause;
//! - `shared-tree`: two shared anonymous mappings (`shared`: 2 pages,
//!   `other`: 1 page), then a fork: the child inherits both, writes page 1
//!   of `shared` and maps one of its own (`own`); prints the three
//!   addresses and the child's pid; both pause;
//! - `dirty MIB`: MIB MiB of anonymous memory, all written; pauses;
//! - `files FILE`: opens a regular file (FILE, created), a directory, a
//!   pipe, a socket pair, `/dev/null` and an eventfd, and one more copy of
//!   FILE at fd 100; prints `"fds": [[fd, kind], ...]`; pauses;
//! - `pause`, `nanosleep`: block in that system call;
//! - `spin`: spins in user mode (no flag);
//! - `counter-check`, `regs-check`, `fpu-check sse|avx`, `sleep-check SECS`,
//!   `mem-check MIB`: for the restart tests, they check their own state
//!   after the restart and exit 0 or 1 (see their section below);
//! - `tree-check N`, `threads-check [N]`, `zombie-check`, `pgrp-check`,
//!   `shared-check`: the same for trees (kselftest-tree);
//! - `reaper CMD [ARGS...]`: runs CMD so that its pid is freed as soon as it
//!   dies (no zombie), for the restart tests;
//! - `vfork`: prints `{"pid": P}`, then vforks (`clone(CLONE_VM |
//!   CLONE_VFORK)`) a child that sleeps without exec: the parent waits in
//!   the kernel until the child dies, then pauses;
//! - `clone-vfork`: the same with `CLONE_VFORK` alone (the child has its
//!   own copy of the memory): a parent that cannot be stopped, sharing
//!   nothing;
//! - `file-pos-check PATH`, `append-check PATH`, `shared-offset-check
//!   PATH`, `unlinked-check DIR`, `memfd-check`, `dirfd-check DIR`,
//!   `pipes-check`, `fifo-check DIR`, `fs-check DIR [chroot]`,
//!   `fdflags-check PATH`, `devices-check`, `threads-check-files DIR`,
//!   `eventfd-check`,
//!   `inherit-check FD`, `cycle-check DIR`: open files, pipes and fs
//!   context for kselftest-files (issue 14), self-checking like the
//!   restart workloads (see their section below);
//! - `open-files-check N DIR`, `pipeline-check N BYTES`: the same for the
//!   benches: N open regular files, an N-process pipeline with BYTES in
//!   its pipes;
//! - `sigterm-check PATH`, `siginfo-check`, `sigign-check`,
//!   `rtqueue-check`, `shared-pending-check`, `altstack-check`,
//!   `alarm-check SECS`, `itimer-check`, `posix-timer-check`,
//!   `rlimit-check`, `creds-check`, `nnp-check`, `misc-check`,
//!   `sig-cycle-check`: signals, timers, limits and credentials for
//!   kselftest-signals (issue 15), self-checking (see their section);
//!   `sig-bench NRT NTIMERS` the same for the bench: every signal handled,
//!   NRT queued real-time signals, NTIMERS POSIX timers;
//! - `fork-storm N`: keeps N short-lived workers at all times, each forking
//!   and reaping 4 children that exit at once, then exiting; the root reaps
//!   them and counts the workers it created (`{"pid": P, "forks": ADDR}`:
//!   the u64 count, for the test to read through /proc/PID/mem);
//! - `live-writer PAGES [PER_100MS]`, `live-writer-tree PAGES THREADS
//!   SHARED`: memory
//!   that keeps changing while a live checkpoint copies it (kselftest-live,
//!   issue 16), self-checking (see their section below).

use cptrst_tests::{fill_page, xmm_value, ymmh_value, GPR_VALUES, X87_VALUES};
use cptrst_tests::{f64_to_x87, mem_check_word, FPU_CHECK_FCW, FPU_CHECK_MXCSR, RAX_VALUE, READY_MAGIC};
use std::io::Write;

const PAGE: usize = 4096;

fn ready(json: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{json}");
    let _ = out.flush();
}

fn pause_forever() -> ! {
    loop {
        // SAFETY: pause(2) has no arguments.
        unsafe { libc::pause() };
    }
}

fn mmap(len: usize, prot: i32, flags: i32, fd: i32) -> *mut u8 {
    // SAFETY: a fresh mapping at a kernel-chosen address.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, 0) };
    assert!(p != libc::MAP_FAILED, "mmap: {}", std::io::Error::last_os_error());
    p.cast()
}

fn fill(p: *mut u8, pages: usize, tag: u8) {
    for i in 0..pages {
        // SAFETY: `p` maps `pages` writable pages.
        let s = unsafe { std::slice::from_raw_parts_mut(p.add(i * PAGE), PAGE) };
        fill_page(s, tag, i);
    }
}

fn regs() -> ! {
    let flag = Box::leak(Box::new(0u8)) as *mut u8;
    ready(&format!("{{\"flag\": {}}}", flag as usize));
    // The values, then the flag's address: all read through rax, the one
    // register the tests do not check.
    let mut v: Vec<u64> = GPR_VALUES.iter().map(|&(_, v)| v).collect();
    v.push(flag as u64);
    // SAFETY: loads constants into registers, stores one byte to `flag`
    // (a leaked, valid allocation), and spins forever; nothing returns.
    unsafe {
        std::arch::asm!(
            "mov rbx, [rax + 0]",
            "mov rcx, [rax + 8]",
            "mov rdx, [rax + 16]",
            "mov rsi, [rax + 24]",
            "mov rdi, [rax + 32]",
            "mov rbp, [rax + 40]",
            "mov r8,  [rax + 48]",
            "mov r9,  [rax + 56]",
            "mov r10, [rax + 64]",
            "mov r11, [rax + 72]",
            "mov r12, [rax + 80]",
            "mov r13, [rax + 88]",
            "mov r14, [rax + 96]",
            "mov r15, [rax + 104]",
            "mov rax, [rax + 112]",
            "mov byte ptr [rax], 1",
            "2: jmp 2b",
            in("rax") v.as_ptr(),
            options(noreturn)
        )
    }
}

fn fpu() -> ! {
    let flag = Box::leak(Box::new(0u8)) as *mut u8;
    let mut xmm = [0u8; 256];
    let mut ymmh = [0u8; 256];
    for i in 0..16 {
        xmm[i * 16..i * 16 + 16].copy_from_slice(&xmm_value(i));
        ymmh[i * 16..i * 16 + 16].copy_from_slice(&ymmh_value(i));
    }
    // ymm i = xmm i (low) | ymmh i (high), laid out as 32 bytes each.
    let mut ymm = [0u8; 512];
    for i in 0..16 {
        ymm[i * 32..i * 32 + 16].copy_from_slice(&xmm[i * 16..i * 16 + 16]);
        ymm[i * 32 + 16..i * 32 + 32].copy_from_slice(&ymmh[i * 16..i * 16 + 16]);
    }
    let x87 = X87_VALUES;
    ready(&format!("{{\"flag\": {}}}", flag as usize));
    // SAFETY: loads the vector registers from `ymm` and pushes the x87
    // values from `x87` (both live locals), stores one byte to `flag`, spins.
    unsafe {
        std::arch::asm!(
            "finit",
            "fld qword ptr [rcx + 0]",
            "fld qword ptr [rcx + 8]",
            "fld qword ptr [rcx + 16]",
            "fld qword ptr [rcx + 24]",
            "fld qword ptr [rcx + 32]",
            "fld qword ptr [rcx + 40]",
            "fld qword ptr [rcx + 48]",
            "fld qword ptr [rcx + 56]",
            "vmovdqu ymm0, [rax + 0]",
            "vmovdqu ymm1, [rax + 32]",
            "vmovdqu ymm2, [rax + 64]",
            "vmovdqu ymm3, [rax + 96]",
            "vmovdqu ymm4, [rax + 128]",
            "vmovdqu ymm5, [rax + 160]",
            "vmovdqu ymm6, [rax + 192]",
            "vmovdqu ymm7, [rax + 224]",
            "vmovdqu ymm8, [rax + 256]",
            "vmovdqu ymm9, [rax + 288]",
            "vmovdqu ymm10, [rax + 320]",
            "vmovdqu ymm11, [rax + 352]",
            "vmovdqu ymm12, [rax + 384]",
            "vmovdqu ymm13, [rax + 416]",
            "vmovdqu ymm14, [rax + 448]",
            "vmovdqu ymm15, [rax + 480]",
            "mov byte ptr [rdx], 1",
            "2: jmp 2b",
            in("rax") ymm.as_ptr(),
            in("rcx") x87.as_ptr(),
            in("rdx") flag,
            options(noreturn)
        )
    }
}

fn mem(path: &str) -> ! {
    let anon = mmap(4 * PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1);
    fill(anon, 4, 1);
    // A file of 4 pages of 0xee, mapped private; pages 1 and 3 get written.
    std::fs::write(path, vec![0xeeu8; 4 * PAGE]).expect("write file");
    let f = std::fs::File::open(path).expect("open file");
    let fp = mmap(4 * PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE, std::os::fd::AsRawFd::as_raw_fd(&f));
    for i in [1usize, 3] {
        // SAFETY: page i of the 4-page private file mapping.
        let s = unsafe { std::slice::from_raw_parts_mut(fp.add(i * PAGE), PAGE) };
        fill_page(s, 2, i);
    }
    let shared = mmap(2 * PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1);
    fill(shared, 2, 3);
    let ro = mmap(2 * PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1);
    fill(ro, 2, 4);
    let none = mmap(PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1);
    fill(none, 1, 5);
    // SAFETY: changing the protection of our own fresh mappings.
    unsafe {
        libc::mprotect(ro.cast(), 2 * PAGE, libc::PROT_READ);
        libc::mprotect(none.cast(), PAGE, libc::PROT_NONE);
    }
    // Heap: grow the break by 3 pages, page aligned.
    // SAFETY: sbrk on our own break; the new area is ours.
    let heap = unsafe {
        let cur = libc::sbrk(0) as usize;
        let aligned = (cur + PAGE - 1) & !(PAGE - 1);
        libc::sbrk((aligned - cur + 3 * PAGE) as isize);
        aligned as *mut u8
    };
    fill(heap, 3, 6);
    // Stack: a page-aligned page inside this frame.
    let mut stack = [0u8; 3 * PAGE];
    let sp = ((stack.as_mut_ptr() as usize + PAGE - 1) & !(PAGE - 1)) as *mut u8;
    fill(sp, 1, 7);
    ready(&format!(
        "{{\"anon\": {}, \"file\": {}, \"shared\": {}, \"ro\": {}, \"none\": {}, \"heap\": {}, \"stack\": {}}}",
        anon as usize, fp as usize, shared as usize, ro as usize, none as usize, heap as usize, sp as usize
    ));
    std::hint::black_box(&mut stack);
    pause_forever()
}

fn sparse() -> ! {
    let len = 64 << 20;
    let p = mmap(len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1);
    let touched = [0usize, 100, 5000, len / PAGE - 1];
    for &i in &touched {
        // SAFETY: page i of the mapping.
        let s = unsafe { std::slice::from_raw_parts_mut(p.add(i * PAGE), PAGE) };
        fill_page(s, 8, i);
    }
    ready(&format!("{{\"addr\": {}, \"len\": {}, \"touched\": {:?}}}", p as usize, len, touched));
    pause_forever()
}

fn tree(children: usize, threads: usize) -> ! {
    let mut pids = Vec::new();
    let spawn_threads = || {
        for _ in 0..threads {
            std::thread::spawn(|| pause_forever());
        }
    };
    for _ in 0..children {
        // SAFETY: fork in a program that has not started threads yet.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            spawn_threads();
            pause_forever();
        }
        pids.push(pid);
    }
    spawn_threads();
    // Give the threads time to be created before reporting ready: the
    // tests count them.
    loop {
        let n = std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0);
        if n == threads + 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for &c in &pids {
        loop {
            let n = std::fs::read_dir(format!("/proc/{c}/task")).map(|d| d.count()).unwrap_or(0);
            if n == threads + 1 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    ready(&format!("{{\"children\": {:?}}}", pids));
    pause_forever()
}

/// `shared-tree`: shared anonymous memory inherited across fork (the same
/// objects in both processes) and one object in the child alone.
fn shared_tree() -> ! {
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_SHARED | libc::MAP_ANONYMOUS;
    let shared = mmap(2 * PAGE, rw, flags, -1);
    fill(shared, 1, 10);
    let other = mmap(PAGE, rw, flags, -1);
    fill(other, 1, 11);
    let mut p = [0i32; 2];
    // SAFETY: pipe(2) into a local array.
    assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0, "pipe");
    // SAFETY: fork in a program that has not started threads.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // Page 1 of the inherited mapping, written by the child, is the
        // parent's too.
        // SAFETY: page 1 of the 2-page mapping.
        let s = unsafe { std::slice::from_raw_parts_mut(shared.add(PAGE), PAGE) };
        fill_page(s, 10, 1);
        let own = mmap(PAGE, rw, flags, -1);
        fill(own, 1, 12);
        let b = (own as usize as u64).to_ne_bytes();
        // SAFETY: writes 8 bytes of a local array to the pipe.
        unsafe { libc::write(p[1], b.as_ptr().cast(), b.len()) };
        pause_forever();
    }
    let mut b = [0u8; 8];
    // SAFETY: reads at most 8 bytes into a local array.
    let n = unsafe { libc::read(p[0], b.as_mut_ptr().cast(), b.len()) };
    assert_eq!(n, 8, "the child's address");
    ready(&format!(
        "{{\"shared\": {}, \"other\": {}, \"own\": {}, \"child\": {}}}",
        shared as usize,
        other as usize,
        u64::from_ne_bytes(b),
        pid
    ));
    pause_forever()
}

/// `dirty MIB`: MIB MiB of anonymous memory, every page written; prints
/// the mapping and a checksum of its contents.
fn dirty(mib: usize) -> ! {
    let len = mib << 20;
    let p = mmap(len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1);
    fill(p, len / PAGE, 9);
    // SAFETY: the mapping is `len` readable bytes.
    let s = unsafe { std::slice::from_raw_parts(p, len) };
    let sum = s.iter().fold(0u64, |a, &b| a.wrapping_mul(31).wrapping_add(b as u64));
    ready(&format!("{{\"addr\": {}, \"len\": {}, \"sum\": {}}}", p as usize, len, sum));
    pause_forever()
}

/// `files FILE`: fds of every kind the image names (block devices aside).
fn files(path: &str) -> ! {
    use std::os::fd::IntoRawFd;
    let mut fds: Vec<(i32, &str)> = Vec::new();
    let reg = std::fs::File::create(path).expect("create file").into_raw_fd();
    fds.push((reg, "reg"));
    let dir = std::fs::File::open("/tmp").expect("open /tmp").into_raw_fd();
    fds.push((dir, "dir"));
    let mut p = [0i32; 2];
    // SAFETY: pipe(2) into a 2-int array.
    assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0, "pipe");
    fds.extend([(p[0], "fifo"), (p[1], "fifo")]);
    let mut sv = [0i32; 2];
    // SAFETY: socketpair(2) into a 2-int array.
    assert_eq!(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, sv.as_mut_ptr()) }, 0, "socketpair");
    fds.extend([(sv[0], "sock"), (sv[1], "sock")]);
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null").expect("/dev/null").into_raw_fd();
    fds.push((null, "chr"));
    // SAFETY: eventfd(2) with no flags.
    let ev = unsafe { libc::eventfd(0, 0) };
    assert!(ev >= 0, "eventfd");
    fds.push((ev, "other"));
    // SAFETY: dup2(2) of an fd we own to a free number.
    assert_eq!(unsafe { libc::dup2(reg, 100) }, 100, "dup2");
    fds.push((100, "reg"));
    let list: Vec<String> = fds.iter().map(|(fd, k)| format!("[{fd}, \"{k}\"]")).collect();
    ready(&format!("{{\"fds\": [{}]}}", list.join(", ")));
    pause_forever()
}

/// `counter`: prints `tick N` on stdout every 300 ms, N counted in memory
/// (a single-threaded process, for the restart demo).
fn counter() -> ! {
    let mut n = 0u64;
    loop {
        n += 1;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "tick {n}").and_then(|()| out.flush());
        drop(out);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

// ---------------------------------------------------------------------------
// Self-checking workloads for the restart tests (kselftest-restart).
//
// Each prints `{"pid": P, "ready": A, "go": B, "arg": C, ...}`: `ready` is a
// u32 it sets to READY_MAGIC once its state is in place, `go` a byte the test
// sets to 1 (through /proc/PID/mem) after the restart, `arg` a u64 the test
// may write before `go`. After `go` the workload checks its own state and
// exits 0, or 1 with a message on stderr: `cptrst restart`'s exit status is
// the verdict.
// ---------------------------------------------------------------------------

static mut RST_READY: u32 = 0;
static mut RST_GO: u8 = 0;
static mut RST_ARG: u64 = 0;

fn rst_ready_line(extra: &str) {
    ready(&format!(
        "{{\"pid\": {}, \"ready\": {}, \"go\": {}, \"arg\": {}{}{}}}",
        std::process::id(),
        std::ptr::addr_of!(RST_READY) as usize,
        std::ptr::addr_of!(RST_GO) as usize,
        std::ptr::addr_of!(RST_ARG) as usize,
        if extra.is_empty() { "" } else { ", " },
        extra
    ));
}

fn rst_set_ready() {
    // SAFETY: a volatile store to our own static, read by the test through
    // /proc/PID/mem.
    unsafe { std::ptr::write_volatile(std::ptr::addr_of_mut!(RST_READY), READY_MAGIC) };
}

fn rst_go() -> bool {
    // SAFETY: a volatile load of our own static, written by the test.
    unsafe { std::ptr::read_volatile(std::ptr::addr_of!(RST_GO)) != 0 }
}

fn rst_arg() -> u64 {
    // SAFETY: as rst_go.
    unsafe { std::ptr::read_volatile(std::ptr::addr_of!(RST_ARG)) }
}

/// Exits 0 if `errs` is empty, else prints them and exits 1.
fn rst_verdict(name: &str, errs: &[String]) -> ! {
    if errs.is_empty() {
        std::process::exit(0);
    }
    for e in errs {
        eprintln!("cptrst-testprog {name}: {e}");
    }
    std::process::exit(1)
}

static mut CNT_MEM: u64 = 0;
static mut CNT_OUT: [u64; 2] = [0; 2];

/// `counter-check`: r12 counts up in an asm loop and is stored to memory
/// each turn, r13 = 3 * r12 advances on its own; after `go`: memory ==
/// r12, r13 == 3 * r12, and r12 >= `arg` (the test writes the counter of
/// the image there).
fn counter_check() -> ! {
    rst_ready_line(&format!("\"counter\": {}", std::ptr::addr_of!(CNT_MEM) as usize));
    // SAFETY: registers r12/r13 are declared clobbered; the asm only writes
    // our own statics.
    unsafe {
        std::arch::asm!(
            "xor r12d, r12d",
            "xor r13d, r13d",
            "mov dword ptr [rip + {ready}], {magic}",
            "2:",
            "inc r12",
            "add r13, 3",
            "mov qword ptr [rip + {mem}], r12",
            "cmp byte ptr [rip + {go}], 0",
            "je 2b",
            "mov qword ptr [rip + {out}], r12",
            "mov qword ptr [rip + {out} + 8], r13",
            ready = sym RST_READY,
            go = sym RST_GO,
            mem = sym CNT_MEM,
            out = sym CNT_OUT,
            magic = const READY_MAGIC,
            out("r12") _,
            out("r13") _,
        );
    }
    // SAFETY: plain reads of our statics, the asm is done.
    let (r12, r13, mem) = unsafe {
        let o = std::ptr::read_volatile(std::ptr::addr_of!(CNT_OUT));
        (o[0], o[1], std::ptr::read_volatile(std::ptr::addr_of!(CNT_MEM)))
    };
    let min = rst_arg();
    let mut errs = Vec::new();
    if mem != r12 {
        errs.push(format!("counter in memory {mem} != r12 {r12}"));
    }
    if r13 != r12.wrapping_mul(3) {
        errs.push(format!("r13 {r13} != 3 * r12 ({r12})"));
    }
    if r12 < min {
        errs.push(format!("r12 {r12} below the checkpointed counter {min}: did not continue"));
    }
    rst_verdict("counter-check", &errs)
}

/// rax, then GPR_VALUES order (rbx, rcx, rdx, rsi, rdi, rbp, r8..r15).
static RC_VALUES: [u64; 15] = [
    RAX_VALUE,
    GPR_VALUES[0].1,
    GPR_VALUES[1].1,
    GPR_VALUES[2].1,
    GPR_VALUES[3].1,
    GPR_VALUES[4].1,
    GPR_VALUES[5].1,
    GPR_VALUES[6].1,
    GPR_VALUES[7].1,
    GPR_VALUES[8].1,
    GPR_VALUES[9].1,
    GPR_VALUES[10].1,
    GPR_VALUES[11].1,
    GPR_VALUES[12].1,
    GPR_VALUES[13].1,
];
static mut RC_SAVED: [u64; 15] = [0; 15];

/// `regs-check`: every general register but rsp holds its known value
/// while spinning on `go` (RIP-relative: no register holds an address),
/// then all are stored and compared.
fn regs_check() -> ! {
    rst_ready_line("");
    // SAFETY: rbx and rbp (not declarable as clobbers) are saved on the
    // stack and restored; every other register used is declared clobbered;
    // the asm only writes our own statics.
    unsafe {
        std::arch::asm!(
            "push rbx",
            "push rbp",
            "mov rax, qword ptr [rip + {v}]",
            "mov rbx, qword ptr [rip + {v} + 8]",
            "mov rcx, qword ptr [rip + {v} + 16]",
            "mov rdx, qword ptr [rip + {v} + 24]",
            "mov rsi, qword ptr [rip + {v} + 32]",
            "mov rdi, qword ptr [rip + {v} + 40]",
            "mov rbp, qword ptr [rip + {v} + 48]",
            "mov r8, qword ptr [rip + {v} + 56]",
            "mov r9, qword ptr [rip + {v} + 64]",
            "mov r10, qword ptr [rip + {v} + 72]",
            "mov r11, qword ptr [rip + {v} + 80]",
            "mov r12, qword ptr [rip + {v} + 88]",
            "mov r13, qword ptr [rip + {v} + 96]",
            "mov r14, qword ptr [rip + {v} + 104]",
            "mov r15, qword ptr [rip + {v} + 112]",
            "mov dword ptr [rip + {ready}], {magic}",
            "2:",
            "cmp byte ptr [rip + {go}], 0",
            "je 2b",
            "mov qword ptr [rip + {s}], rax",
            "mov qword ptr [rip + {s} + 8], rbx",
            "mov qword ptr [rip + {s} + 16], rcx",
            "mov qword ptr [rip + {s} + 24], rdx",
            "mov qword ptr [rip + {s} + 32], rsi",
            "mov qword ptr [rip + {s} + 40], rdi",
            "mov qword ptr [rip + {s} + 48], rbp",
            "mov qword ptr [rip + {s} + 56], r8",
            "mov qword ptr [rip + {s} + 64], r9",
            "mov qword ptr [rip + {s} + 72], r10",
            "mov qword ptr [rip + {s} + 80], r11",
            "mov qword ptr [rip + {s} + 88], r12",
            "mov qword ptr [rip + {s} + 96], r13",
            "mov qword ptr [rip + {s} + 104], r14",
            "mov qword ptr [rip + {s} + 112], r15",
            "pop rbp",
            "pop rbx",
            v = sym RC_VALUES,
            s = sym RC_SAVED,
            ready = sym RST_READY,
            go = sym RST_GO,
            magic = const READY_MAGIC,
            out("rax") _, out("rcx") _, out("rdx") _, out("rsi") _, out("rdi") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
        );
    }
    // SAFETY: a plain read of our static, the asm is done.
    let saved = unsafe { std::ptr::read_volatile(std::ptr::addr_of!(RC_SAVED)) };
    let names = std::iter::once("ax").chain(GPR_VALUES.iter().map(|&(n, _)| n));
    let errs: Vec<String> = names
        .zip(RC_VALUES.iter().zip(saved.iter()))
        .filter(|(_, (w, g))| w != g)
        .map(|(n, (w, g))| format!("{n} = {g:#018x}, want {w:#018x}"))
        .collect();
    rst_verdict("regs-check", &errs)
}

/// Inputs and outputs of `fpu-check`, one block so the asm needs one base.
#[repr(C, align(64))]
struct FpuBlock {
    /// ymm i (or xmm i in its low half) at 32 * i.
    vin: [u8; 512],
    vout: [u8; 512],
    x87in: [f64; 8],
    /// st(0) first, 10 bytes each (fstp tbyte).
    x87out: [u8; 80],
    mxcsr_in: u32,
    mxcsr_out: u32,
    fcw_in: u16,
    fcw_out: u16,
    mxcsr_default: u32,
    fcw_default: u16,
}

macro_rules! fpu_check_asm {
    ($load:literal, $store:literal, $b:expr, $($clob:tt)*) => {
        std::arch::asm!(
            "finit",
            "fldcw word ptr [rax + {fcw_in}]",
            "fld qword ptr [rax + {x87in}]",
            "fld qword ptr [rax + {x87in} + 8]",
            "fld qword ptr [rax + {x87in} + 16]",
            "fld qword ptr [rax + {x87in} + 24]",
            "fld qword ptr [rax + {x87in} + 32]",
            "fld qword ptr [rax + {x87in} + 40]",
            "fld qword ptr [rax + {x87in} + 48]",
            "fld qword ptr [rax + {x87in} + 56]",
            "ldmxcsr dword ptr [rax + {mxcsr_in}]",
            concat!($load, " xmm0, [rax + 0]"), concat!($load, " xmm1, [rax + 32]"),
            concat!($load, " xmm2, [rax + 64]"), concat!($load, " xmm3, [rax + 96]"),
            concat!($load, " xmm4, [rax + 128]"), concat!($load, " xmm5, [rax + 160]"),
            concat!($load, " xmm6, [rax + 192]"), concat!($load, " xmm7, [rax + 224]"),
            concat!($load, " xmm8, [rax + 256]"), concat!($load, " xmm9, [rax + 288]"),
            concat!($load, " xmm10, [rax + 320]"), concat!($load, " xmm11, [rax + 352]"),
            concat!($load, " xmm12, [rax + 384]"), concat!($load, " xmm13, [rax + 416]"),
            concat!($load, " xmm14, [rax + 448]"), concat!($load, " xmm15, [rax + 480]"),
            "mov dword ptr [rip + {ready}], {magic}",
            "2:",
            "cmp byte ptr [rip + {go}], 0",
            "je 2b",
            concat!($store, " [rax + 512 + 0], xmm0"), concat!($store, " [rax + 512 + 32], xmm1"),
            concat!($store, " [rax + 512 + 64], xmm2"), concat!($store, " [rax + 512 + 96], xmm3"),
            concat!($store, " [rax + 512 + 128], xmm4"), concat!($store, " [rax + 512 + 160], xmm5"),
            concat!($store, " [rax + 512 + 192], xmm6"), concat!($store, " [rax + 512 + 224], xmm7"),
            concat!($store, " [rax + 512 + 256], xmm8"), concat!($store, " [rax + 512 + 288], xmm9"),
            concat!($store, " [rax + 512 + 320], xmm10"), concat!($store, " [rax + 512 + 352], xmm11"),
            concat!($store, " [rax + 512 + 384], xmm12"), concat!($store, " [rax + 512 + 416], xmm13"),
            concat!($store, " [rax + 512 + 448], xmm14"), concat!($store, " [rax + 512 + 480], xmm15"),
            "fstp tbyte ptr [rax + {x87out}]",
            "fstp tbyte ptr [rax + {x87out} + 10]",
            "fstp tbyte ptr [rax + {x87out} + 20]",
            "fstp tbyte ptr [rax + {x87out} + 30]",
            "fstp tbyte ptr [rax + {x87out} + 40]",
            "fstp tbyte ptr [rax + {x87out} + 50]",
            "fstp tbyte ptr [rax + {x87out} + 60]",
            "fstp tbyte ptr [rax + {x87out} + 70]",
            "stmxcsr dword ptr [rax + {mxcsr_out}]",
            "fnstcw word ptr [rax + {fcw_out}]",
            "ldmxcsr dword ptr [rax + {mxcsr_default}]",
            "fldcw word ptr [rax + {fcw_default}]",
            in("rax") $b,
            fcw_in = const std::mem::offset_of!(FpuBlock, fcw_in),
            fcw_out = const std::mem::offset_of!(FpuBlock, fcw_out),
            fcw_default = const std::mem::offset_of!(FpuBlock, fcw_default),
            mxcsr_in = const std::mem::offset_of!(FpuBlock, mxcsr_in),
            mxcsr_out = const std::mem::offset_of!(FpuBlock, mxcsr_out),
            mxcsr_default = const std::mem::offset_of!(FpuBlock, mxcsr_default),
            x87in = const std::mem::offset_of!(FpuBlock, x87in),
            x87out = const std::mem::offset_of!(FpuBlock, x87out),
            ready = sym RST_READY,
            go = sym RST_GO,
            magic = const READY_MAGIC,
            out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
            out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
            $($clob)*
        )
    };
}

/// x87 + SSE: xmm0-15 loaded with movdqu (the upper ymm halves untouched).
unsafe fn fpu_check_sse(b: *mut FpuBlock) {
    fpu_check_asm!("movdqu", "movdqu", b,
        out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
        out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
        out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
        out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
    );
}

/// x87 + AVX: the whole ymm0-15.
#[target_feature(enable = "avx")]
unsafe fn fpu_check_avx(b: *mut FpuBlock) {
    std::arch::asm!(
        "vmovdqu ymm0, [rax + 0]", "vmovdqu ymm1, [rax + 32]",
        "vmovdqu ymm2, [rax + 64]", "vmovdqu ymm3, [rax + 96]",
        "vmovdqu ymm4, [rax + 128]", "vmovdqu ymm5, [rax + 160]",
        "vmovdqu ymm6, [rax + 192]", "vmovdqu ymm7, [rax + 224]",
        "vmovdqu ymm8, [rax + 256]", "vmovdqu ymm9, [rax + 288]",
        "vmovdqu ymm10, [rax + 320]", "vmovdqu ymm11, [rax + 352]",
        "vmovdqu ymm12, [rax + 384]", "vmovdqu ymm13, [rax + 416]",
        "vmovdqu ymm14, [rax + 448]", "vmovdqu ymm15, [rax + 480]",
        "finit",
        "fldcw word ptr [rax + {fcw_in}]",
        "fld qword ptr [rax + {x87in}]",
        "fld qword ptr [rax + {x87in} + 8]",
        "fld qword ptr [rax + {x87in} + 16]",
        "fld qword ptr [rax + {x87in} + 24]",
        "fld qword ptr [rax + {x87in} + 32]",
        "fld qword ptr [rax + {x87in} + 40]",
        "fld qword ptr [rax + {x87in} + 48]",
        "fld qword ptr [rax + {x87in} + 56]",
        "ldmxcsr dword ptr [rax + {mxcsr_in}]",
        "mov dword ptr [rip + {ready}], {magic}",
        "2:",
        "cmp byte ptr [rip + {go}], 0",
        "je 2b",
        "vmovdqu [rax + 512 + 0], ymm0", "vmovdqu [rax + 512 + 32], ymm1",
        "vmovdqu [rax + 512 + 64], ymm2", "vmovdqu [rax + 512 + 96], ymm3",
        "vmovdqu [rax + 512 + 128], ymm4", "vmovdqu [rax + 512 + 160], ymm5",
        "vmovdqu [rax + 512 + 192], ymm6", "vmovdqu [rax + 512 + 224], ymm7",
        "vmovdqu [rax + 512 + 256], ymm8", "vmovdqu [rax + 512 + 288], ymm9",
        "vmovdqu [rax + 512 + 320], ymm10", "vmovdqu [rax + 512 + 352], ymm11",
        "vmovdqu [rax + 512 + 384], ymm12", "vmovdqu [rax + 512 + 416], ymm13",
        "vmovdqu [rax + 512 + 448], ymm14", "vmovdqu [rax + 512 + 480], ymm15",
        "fstp tbyte ptr [rax + {x87out}]",
        "fstp tbyte ptr [rax + {x87out} + 10]",
        "fstp tbyte ptr [rax + {x87out} + 20]",
        "fstp tbyte ptr [rax + {x87out} + 30]",
        "fstp tbyte ptr [rax + {x87out} + 40]",
        "fstp tbyte ptr [rax + {x87out} + 50]",
        "fstp tbyte ptr [rax + {x87out} + 60]",
        "fstp tbyte ptr [rax + {x87out} + 70]",
        "stmxcsr dword ptr [rax + {mxcsr_out}]",
        "fnstcw word ptr [rax + {fcw_out}]",
        "ldmxcsr dword ptr [rax + {mxcsr_default}]",
        "fldcw word ptr [rax + {fcw_default}]",
        "vzeroupper",
        in("rax") b,
        fcw_in = const std::mem::offset_of!(FpuBlock, fcw_in),
        fcw_out = const std::mem::offset_of!(FpuBlock, fcw_out),
        fcw_default = const std::mem::offset_of!(FpuBlock, fcw_default),
        mxcsr_in = const std::mem::offset_of!(FpuBlock, mxcsr_in),
        mxcsr_out = const std::mem::offset_of!(FpuBlock, mxcsr_out),
        mxcsr_default = const std::mem::offset_of!(FpuBlock, mxcsr_default),
        x87in = const std::mem::offset_of!(FpuBlock, x87in),
        x87out = const std::mem::offset_of!(FpuBlock, x87out),
        ready = sym RST_READY,
        go = sym RST_GO,
        magic = const READY_MAGIC,
        out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
        out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
        out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
        out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
        out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
        out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
    );
}

/// `fpu-check sse|avx`: x87 stack, FCW, MXCSR and xmm0-15 (sse) or the
/// whole ymm0-15 (avx) hold known values while spinning on `go`; then
/// they are stored and compared bit for bit.
fn fpu_check(mode: &str) -> ! {
    let avx = match mode {
        "sse" => false,
        "avx" => true,
        _ => {
            eprintln!("usage: cptrst-testprog fpu-check sse|avx");
            std::process::exit(2)
        }
    };
    if avx && !std::arch::is_x86_feature_detected!("avx") {
        eprintln!("cptrst-testprog fpu-check: this CPU has no AVX");
        std::process::exit(3);
    }
    let mut b = Box::new(FpuBlock {
        vin: [0; 512],
        vout: [0; 512],
        x87in: X87_VALUES,
        x87out: [0; 80],
        mxcsr_in: FPU_CHECK_MXCSR,
        mxcsr_out: 0,
        fcw_in: FPU_CHECK_FCW,
        fcw_out: 0,
        mxcsr_default: 0x1f80,
        fcw_default: 0x037f,
    });
    for i in 0..16 {
        b.vin[i * 32..i * 32 + 16].copy_from_slice(&xmm_value(i));
        b.vin[i * 32 + 16..i * 32 + 32].copy_from_slice(&ymmh_value(i));
    }
    rst_ready_line(&format!("\"avx\": {avx}"));
    let p: *mut FpuBlock = &mut *b;
    // SAFETY: the asm reads and writes only the block and our statics;
    // fpu_check_avx runs only where AVX was detected.
    unsafe {
        if avx {
            fpu_check_avx(p)
        } else {
            fpu_check_sse(p)
        }
    }
    // SAFETY: the asm is done; read its outputs back.
    let b = unsafe { std::ptr::read_volatile(p) };
    let hex = |s: &[u8]| s.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut errs = Vec::new();
    for i in 0..8 {
        let want = f64_to_x87(X87_VALUES[7 - i]);
        let got = &b.x87out[i * 10..i * 10 + 10];
        if got != want {
            errs.push(format!("st({i}) = {}, want {}", hex(got), hex(&want)));
        }
    }
    if b.fcw_out != FPU_CHECK_FCW {
        errs.push(format!("x87 control word {:#06x}, want {FPU_CHECK_FCW:#06x}", b.fcw_out));
    }
    if b.mxcsr_out != FPU_CHECK_MXCSR {
        errs.push(format!("MXCSR {:#x}, want {FPU_CHECK_MXCSR:#x}", b.mxcsr_out));
    }
    for i in 0..16 {
        let (got, want) = (&b.vout[i * 32..i * 32 + 16], &b.vin[i * 32..i * 32 + 16]);
        if got != want {
            errs.push(format!("xmm{i} = {}, want {}", hex(got), hex(want)));
        }
        if avx {
            let (got, want) = (&b.vout[i * 32 + 16..i * 32 + 32], &b.vin[i * 32 + 16..i * 32 + 32]);
            if got != want {
                errs.push(format!("ymm{i} upper half = {}, want {}", hex(got), hex(want)));
            }
        }
    }
    rst_verdict("fpu-check", &errs)
}

fn monotonic() -> std::time::Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime into a local timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `sleep-check SECS`: sleeps SECS seconds with std::thread::sleep (which
/// sleeps again for the remaining time after EINTR); exits 0 if at least
/// SECS seconds of CLOCK_MONOTONIC passed, else 1.
fn sleep_check(secs: u64) -> ! {
    let start = monotonic();
    rst_ready_line(&format!("\"start_ns\": {}", start.as_nanos()));
    rst_set_ready();
    std::thread::sleep(std::time::Duration::from_secs(secs));
    let slept = monotonic().saturating_sub(start);
    let mut errs = Vec::new();
    if slept < std::time::Duration::from_secs(secs) {
        errs.push(format!("slept {slept:?}, less than {secs} s: the remaining time was lost"));
    }
    rst_verdict("sleep-check", &errs)
}

/// The signals `task-check` blocks: SIGUSR1, SIGUSR2, SIGWINCH, SIGRTMIN+3.
const TASK_CHECK_SIGS: [i32; 4] = [libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH, 37];
/// The name `task-check` gives itself.
const TASK_CHECK_COMM: &str = "task-check-42";

fn blocked_now() -> u64 {
    // SAFETY: sigprocmask(2) query into a local set.
    let mut cur: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur) };
    (1..=64).filter(|&n| unsafe { libc::sigismember(&cur, n) } == 1).fold(0u64, |m, n| m | 1 << (n - 1))
}

/// `task-check`: a command name of its own (PR_SET_NAME), signals blocked,
/// ADDR_NO_RANDOMIZE in its personality, an extra fd if `--fd` is given;
/// after `go`: the same name, mask and personality.
fn task_check(extra_fd: bool) -> ! {
    if extra_fd {
        // An fd beyond 0-2 (fd 3, a regular file): restored, or closed
        // with --skip-files.
        let f = std::fs::File::open("/usr/bin/cptrst-testprog").expect("open");
        std::mem::forget(f);
    }
    let name = std::ffi::CString::new(TASK_CHECK_COMM).unwrap_or_default();
    // SAFETY: prctl(PR_SET_NAME) with a NUL-terminated string.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
    // SAFETY: sigprocmask(2) with a set built here.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in TASK_CHECK_SIGS {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    // SAFETY: personality(2) query, then set.
    let pers = unsafe { libc::personality(0xffff_ffff) } as u64 | 0x0040000;
    // SAFETY: as above; ADDR_NO_RANDOMIZE is open to every user.
    unsafe { libc::personality(pers as libc::c_ulong) };
    let mask = blocked_now();
    rst_ready_line(&format!("\"mask\": {mask}, \"personality\": {pers}"));
    rst_set_ready();
    while !rst_go() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let mut errs = Vec::new();
    let mut buf = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes.
    unsafe { libc::prctl(libc::PR_GET_NAME, buf.as_mut_ptr()) };
    let got = String::from_utf8_lossy(buf.split(|&b| b == 0).next().unwrap_or(&[])).into_owned();
    if got != TASK_CHECK_COMM {
        errs.push(format!("name '{got}', want '{TASK_CHECK_COMM}'"));
    }
    let now = blocked_now();
    if now != mask {
        errs.push(format!("blocked signals {now:#x}, want {mask:#x}"));
    }
    // SAFETY: personality(2) query.
    let p = unsafe { libc::personality(0xffff_ffff) } as u64;
    if p != pers {
        errs.push(format!("personality {p:#x}, want {pers:#x}"));
    }
    rst_verdict("task-check", &errs)
}

/// `mem-check MIB`: MIB MiB of anonymous memory, each word a function of
/// its page and place (mem_check_word), and their sum; polls `go` with
/// 5 ms sleeps; then recomputes the sum and compares every page.
fn mem_check(mib: usize) -> ! {
    let len = mib << 20;
    let p = mmap(len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1) as *mut u64;
    let words = PAGE / 8;
    let mut sum = 0u64;
    for page in 0..len / PAGE {
        for w in 0..words {
            let v = mem_check_word(page, w);
            // SAFETY: inside the `len`-byte mapping.
            unsafe { p.add(page * words + w).write(v) };
            sum = sum.wrapping_add(v).rotate_left(1);
        }
    }
    rst_ready_line(&format!("\"addr\": {}, \"len\": {}, \"sum\": {}", p as usize, len, sum));
    rst_set_ready();
    while !rst_go() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // SAFETY: the mapping is `len` readable bytes.
    let s = unsafe { std::slice::from_raw_parts(p, len / 8) };
    let mut errs = Vec::new();
    let again = s.iter().fold(0u64, |a, &v| a.wrapping_add(v).rotate_left(1));
    if again != sum {
        errs.push(format!("checksum {again:#x}, was {sum:#x} before the checkpoint"));
    }
    let mut bad = 0;
    for page in 0..len / PAGE {
        let pg = &s[page * words..(page + 1) * words];
        if let Some(w) = (0..words).find(|&w| pg[w] != mem_check_word(page, w)) {
            bad += 1;
            if bad <= 5 {
                errs.push(format!(
                    "page {page} ({:#x}) word {w}: {:#x}, want {:#x}",
                    p as usize + page * PAGE,
                    pg[w],
                    mem_check_word(page, w)
                ));
            }
        }
    }
    if bad > 5 {
        errs.push(format!("{bad} pages differ in all"));
    }
    rst_verdict("mem-check", &errs)
}

// ---------------------------------------------------------------------------
// Self-checking tree workloads for the tree restart tests (kselftest-tree).
//
// Same protocol as above, per process: every process of the tree has the
// ready/go/arg statics at the same addresses (they come from fork), sets
// its own ready word once its state is in place, and polls its own go byte
// (the test writes every pid's); the root's ready word is set last, once
// every process of the tree is in place. The ready line is the root's, with
// `"pids"` (every live process, the root first) and what each must find
// after the restart. Setup goes through a pipe that every process has
// closed before the root is ready: the image holds fds 0, 1, 2 only. After
// `go` each process checks its own state, reaps its children and checks
// their exit statuses; the root's exit status is the tree's verdict.
// ---------------------------------------------------------------------------

/// How often a tree process looks at its go byte: 100 processes polling
/// under TCG must leave the CPU to the test.
const TREE_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// One process's note to the root through the setup pipe: index, pid,
/// parent pid, process group, session.
type SetupNote = [u32; 5];

fn setup_pipe() -> (i32, i32) {
    let mut p = [0i32; 2];
    // SAFETY: pipe(2) into a 2-int array.
    assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0, "pipe: {}", std::io::Error::last_os_error());
    (p[0], p[1])
}

/// This process's note (index `idx`), written to `wr`, which is closed.
fn setup_note(wr: i32, idx: u32) {
    // SAFETY: plain queries of our own ids.
    let note: SetupNote = unsafe {
        [idx, libc::getpid() as u32, libc::getppid() as u32, libc::getpgid(0) as u32, libc::getsid(0) as u32]
    };
    // SAFETY: writes 20 bytes (below PIPE_BUF: atomic) from a local, closes our fd.
    unsafe {
        libc::write(wr, note.as_ptr().cast(), std::mem::size_of::<SetupNote>());
        libc::close(wr);
    }
}

/// The root: reads the notes until every write end is closed (every
/// process has written its note and holds no fd of the pipe any more).
fn setup_collect(rd: i32, wr: i32, want: usize) -> Vec<SetupNote> {
    // SAFETY: closing our own write end.
    unsafe { libc::close(wr) };
    let mut notes = Vec::new();
    let mut buf = [0u8; 20];
    let mut have = 0;
    loop {
        // SAFETY: read(2) into the rest of a local buffer.
        let n = unsafe { libc::read(rd, buf[have..].as_mut_ptr().cast(), buf.len() - have) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if n <= 0 {
            break;
        }
        have += n as usize;
        if have == buf.len() {
            notes.push(std::array::from_fn(|i| u32::from_le_bytes(buf[i * 4..i * 4 + 4].try_into().unwrap())));
            have = 0;
        }
    }
    // SAFETY: closing our own read end.
    unsafe { libc::close(rd) };
    if notes.len() != want {
        eprintln!("cptrst-testprog: {} setup notes, want {want}", notes.len());
        std::process::exit(2);
    }
    notes.sort_by_key(|n| n[0]);
    notes
}

/// fork(2); in the child, the parent's death kills it (a test that gives
/// up leaves nothing behind).
fn fork_child() -> i32 {
    // SAFETY: the workloads fork only while single-threaded.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: prctl on ourselves.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    }
    pid
}

fn tree_wait_go() {
    while !rst_go() {
        std::thread::sleep(TREE_POLL);
    }
}

/// Waits for each child and wants exit status 0 from it.
fn reap_children(children: &[(usize, i32)], errs: &mut Vec<String>) {
    for &(idx, pid) in children {
        let mut st = 0;
        // SAFETY: waitpid on our own child, into a local.
        let r = unsafe { libc::waitpid(pid, &mut st, 0) };
        if r != pid {
            errs.push(format!("waitpid of child {idx} (pid {pid}): {}", std::io::Error::last_os_error()));
        } else if !(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0) {
            errs.push(format!("child {idx} (pid {pid}) failed its check: wait status {st:#x}"));
        }
    }
}

fn ids_now() -> (i32, i32, i32, i32) {
    // SAFETY: plain queries of our own ids.
    unsafe { (libc::getpid(), libc::getppid(), libc::getpgid(0), libc::getsid(0)) }
}

/// The page of tree-check process `idx` (same address in every process).
static mut TREE_PAGE: [u8; PAGE] = [0; PAGE];
/// How many times this process looked at its go byte.
static mut TREE_POLLS: u64 = 0;

/// The tag of tree-check process `idx`'s page.
fn tree_tag(idx: usize) -> u8 {
    (idx as u8).wrapping_mul(37) ^ 0x5a
}

/// `tree-check N`: a tree of N processes, process i > 0 a child of process
/// (i - 1) / 3 (so depths are mixed: 100 processes reach depth 4). Each
/// fills its page (TREE_PAGE) with the pattern of its index; after `go`
/// it checks the page, its pid and its parent's, and its children's exit
/// statuses.
fn tree_check(n: usize) -> ! {
    if !(1..=1000).contains(&n) {
        eprintln!("usage: cptrst-testprog tree-check N (1..=1000)");
        std::process::exit(2);
    }
    let (rd, wr) = setup_pipe();
    let mut idx = 0usize;
    let mut children = Vec::new();
    // Each process forks its own children, 3 * idx + 1 ..= 3 * idx + 3.
    let mut c = 1;
    while c <= 3 && 3 * idx + c < n {
        let ci = 3 * idx + c;
        let pid = fork_child();
        if pid == 0 {
            // SAFETY: the child does not read the pipe.
            unsafe { libc::close(rd) };
            idx = ci;
            children.clear();
            c = 1;
            continue;
        }
        children.push((ci, pid));
        c += 1;
    }
    let tag = tree_tag(idx);
    // SAFETY: our own static, single-threaded.
    let page = unsafe { &mut *std::ptr::addr_of_mut!(TREE_PAGE) };
    fill_page(page, tag, idx);
    let (pid, ppid, _, _) = ids_now();
    let mut notes = Vec::new();
    if idx == 0 {
        notes = setup_collect(rd, wr, n - 1);
    } else {
        setup_note(wr, idx as u32);
    }
    if idx == 0 {
        let pids: Vec<u32> = std::iter::once(pid as u32).chain(notes.iter().map(|n| n[1])).collect();
        let ppids: Vec<u32> = std::iter::once(ppid as u32).chain(notes.iter().map(|n| n[2])).collect();
        rst_ready_line(&format!(
            "\"pids\": {pids:?}, \"ppids\": {ppids:?}, \"page\": {}",
            std::ptr::addr_of!(TREE_PAGE) as usize
        ));
    }
    rst_set_ready();
    while !rst_go() {
        // SAFETY: our own static, single-threaded.
        unsafe { *std::ptr::addr_of_mut!(TREE_POLLS) += 1 };
        std::thread::sleep(TREE_POLL);
    }
    let mut errs = Vec::new();
    // SAFETY: our own static, single-threaded.
    let page = unsafe { &*std::ptr::addr_of!(TREE_PAGE) };
    if let Some(off) = (0..PAGE).find(|&o| page[o] != cptrst_tests::pattern(tag, idx, o)) {
        errs.push(format!("page byte {off} is {:#04x}, want {:#04x}", page[off], cptrst_tests::pattern(tag, idx, off)));
    }
    let (now_pid, now_ppid, _, _) = ids_now();
    if now_pid != pid {
        errs.push(format!("getpid() {now_pid}, want {pid}"));
    }
    // The root's parent is outside the tree: after a restart it is the
    // restart tool. Every other process must have its parent back.
    if idx != 0 && now_ppid != ppid {
        errs.push(format!("getppid() {now_ppid}, want {ppid}"));
    }
    // SAFETY: our own static.
    if unsafe { *std::ptr::addr_of!(TREE_POLLS) } == 0 {
        errs.push("never polled its go byte before go".into());
    }
    reap_children(&children, &mut errs);
    let errs: Vec<String> = errs.into_iter().map(|e| format!("process {idx} (pid {pid}): {e}")).collect();
    rst_verdict("tree-check", &errs)
}

/// Thread `t`'s values of r12..r15 in `threads-check`.
fn thread_regs(t: usize) -> [u64; 4] {
    core::array::from_fn(|r| 0x7400_0000_0000_0000 | (t as u64) << 40 | (12 + r as u64) << 32 | 0x1234_5678 ^ (t * 0x1111) as u64)
}

/// Thread `t`'s values of xmm8 and xmm9 in `threads-check`.
fn thread_xmm(t: usize) -> [u8; 32] {
    core::array::from_fn(|j| (0x80 + t * 32 + j) as u8 ^ 0x3c)
}

/// Thread `t`'s TLS value in `threads-check`.
fn thread_tls(t: usize) -> u64 {
    0x7415_0000_0000_0000 | ((t as u64 + 1) * 0x0101_0101)
}

thread_local! {
    static THREAD_TLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// `threads-check`'s default and largest number of threads.
const THREADS: usize = 4;
const MAX_THREADS: usize = 64;
/// Threads that have their values in place.
static mut THREADS_IN: u32 = 0;
/// The number of threads less one: the last one in sets the ready word.
static mut THREADS_LAST: u32 = THREADS as u32 - 1;
/// Each thread's tid, for the ready line.
static THREAD_TIDS: [std::sync::atomic::AtomicI32; MAX_THREADS] = [const { std::sync::atomic::AtomicI32::new(0) }; MAX_THREADS];

/// A thread's inputs and outputs, one block for the asm.
#[repr(C, align(16))]
struct ThreadBlock {
    regs_in: [u64; 4],
    xmm_in: [u8; 32],
    regs_out: [u64; 4],
    xmm_out: [u8; 32],
    ts: libc::timespec,
}

/// One thread of `threads-check`: r12-r15, xmm8-9 and its TLS value hold
/// thread `t`'s values while it sleeps in nanosleep (raw system calls,
/// which keep every register but rax, rcx and r11) until `go`.
fn thread_body(t: usize) -> Vec<String> {
    THREAD_TLS.with(|v| v.set(thread_tls(t)));
    let tls_addr = THREAD_TLS.with(|v| v as *const _ as usize);
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    THREAD_TIDS[t].store(tid, std::sync::atomic::Ordering::SeqCst);
    let mut b = Box::new(ThreadBlock {
        regs_in: thread_regs(t),
        xmm_in: thread_xmm(t),
        regs_out: [0; 4],
        xmm_out: [0; 32],
        ts: libc::timespec { tv_sec: 0, tv_nsec: 20_000_000 },
    });
    let p: *mut ThreadBlock = &mut *b;
    // SAFETY: the asm reads and writes the block and our statics; every
    // register it changes is declared; r8 (the block) is left as it was.
    unsafe {
        std::arch::asm!(
            "mov r12, [r8 + {ri}]",
            "mov r13, [r8 + {ri} + 8]",
            "mov r14, [r8 + {ri} + 16]",
            "mov r15, [r8 + {ri} + 24]",
            "movdqu xmm8, [r8 + {xi}]",
            "movdqu xmm9, [r8 + {xi} + 16]",
            // The last thread in sets the ready word.
            "mov eax, 1",
            "lock xadd dword ptr [rip + {cnt}], eax",
            "cmp eax, dword ptr [rip + {last}]",
            "jne 3f",
            "mov dword ptr [rip + {ready}], {magic}",
            "3:",
            "mov eax, {nanosleep}",
            "lea rdi, [r8 + {ts}]",
            "xor esi, esi",
            "syscall",
            "cmp byte ptr [rip + {go}], 0",
            "je 3b",
            "mov [r8 + {ro}], r12",
            "mov [r8 + {ro} + 8], r13",
            "mov [r8 + {ro} + 16], r14",
            "mov [r8 + {ro} + 24], r15",
            "movdqu [r8 + {xo}], xmm8",
            "movdqu [r8 + {xo} + 16], xmm9",
            in("r8") p,
            ri = const std::mem::offset_of!(ThreadBlock, regs_in),
            xi = const std::mem::offset_of!(ThreadBlock, xmm_in),
            ro = const std::mem::offset_of!(ThreadBlock, regs_out),
            xo = const std::mem::offset_of!(ThreadBlock, xmm_out),
            ts = const std::mem::offset_of!(ThreadBlock, ts),
            cnt = sym THREADS_IN,
            last = sym THREADS_LAST,
            ready = sym RST_READY,
            go = sym RST_GO,
            magic = const READY_MAGIC,
            nanosleep = const libc::SYS_nanosleep,
            out("rax") _, out("rcx") _, out("r11") _, out("rdi") _, out("rsi") _,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            out("xmm8") _, out("xmm9") _,
        );
    }
    // SAFETY: the asm is done; read its outputs back.
    let b = unsafe { std::ptr::read_volatile(p) };
    let mut errs = Vec::new();
    for (r, (got, want)) in b.regs_out.iter().zip(b.regs_in.iter()).enumerate() {
        if got != want {
            errs.push(format!("r{} = {got:#018x}, want {want:#018x}", 12 + r));
        }
    }
    let hex = |s: &[u8]| s.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for i in 0..2 {
        let (got, want) = (&b.xmm_out[i * 16..i * 16 + 16], &b.xmm_in[i * 16..i * 16 + 16]);
        if got != want {
            errs.push(format!("xmm{} = {}, want {}", 8 + i, hex(got), hex(want)));
        }
    }
    let tls = THREAD_TLS.with(|v| v.get());
    if tls != thread_tls(t) {
        errs.push(format!("TLS value {tls:#x}, want {:#x}", thread_tls(t)));
    }
    let now_addr = THREAD_TLS.with(|v| v as *const _ as usize);
    if now_addr != tls_addr {
        errs.push(format!("TLS variable at {now_addr:#x}, was at {tls_addr:#x} (fs base)"));
    }
    // SAFETY: gettid has no preconditions.
    let now_tid = unsafe { libc::gettid() };
    if now_tid != tid {
        errs.push(format!("gettid() {now_tid}, want {tid}"));
    }
    errs.into_iter().map(|e| format!("thread {t} (tid {tid}): {e}")).collect()
}

/// `threads-check [N]`: N threads (default 4: the main one and 3 more), each
/// with its own r12-r15, xmm8-9 and TLS value, sleeping in raw nanosleep
/// calls until `go`; then each compares them; the main thread joins the
/// others.
fn threads_check(n: usize) -> ! {
    if !(1..=MAX_THREADS).contains(&n) {
        eprintln!("usage: cptrst-testprog threads-check [N] (1..={MAX_THREADS})");
        std::process::exit(2);
    }
    // SAFETY: written before any other thread exists.
    unsafe { std::ptr::write_volatile(std::ptr::addr_of_mut!(THREADS_LAST), n as u32 - 1) };
    let others: Vec<_> = (1..n).map(|t| std::thread::spawn(move || thread_body(t))).collect();
    while THREAD_TIDS[1..n].iter().any(|t| t.load(std::sync::atomic::Ordering::SeqCst) == 0) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // SAFETY: gettid has no preconditions.
    THREAD_TIDS[0].store(unsafe { libc::gettid() }, std::sync::atomic::Ordering::SeqCst);
    let tids: Vec<i32> = THREAD_TIDS[..n].iter().map(|t| t.load(std::sync::atomic::Ordering::SeqCst)).collect();
    rst_ready_line(&format!("\"tids\": {tids:?}"));
    let mut errs = thread_body(0);
    for (t, h) in others.into_iter().enumerate() {
        match h.join() {
            Ok(e) => errs.extend(e),
            Err(_) => errs.push(format!("thread {} panicked", t + 1)),
        }
    }
    rst_verdict("threads-check", &errs)
}

/// The exit status of `zombie-check`'s first child.
const ZOMBIE_STATUS: i32 = 42;

/// `zombie-check`: two children that die before the checkpoint and are
/// not reaped: one exits with status 42, one is killed by SIGTERM. After
/// `go` the root reaps them and checks their wait statuses.
fn zombie_check() -> ! {
    let a = fork_child();
    if a == 0 {
        // SAFETY: _exit(2) in a forked child.
        unsafe { libc::_exit(ZOMBIE_STATUS) };
    }
    let b = fork_child();
    if b == 0 {
        pause_forever();
    }
    // SAFETY: kill(2) of our own child.
    unsafe { libc::kill(b, libc::SIGTERM) };
    for z in [a, b] {
        // SAFETY: waitid on our own child, WNOWAIT: it stays a zombie.
        let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let r = unsafe { libc::waitid(libc::P_PID, z as libc::id_t, &mut si, libc::WEXITED | libc::WNOWAIT) };
        assert_eq!(r, 0, "waitid {z}: {}", std::io::Error::last_os_error());
    }
    rst_ready_line(&format!("\"pids\": [{}], \"zombies\": [{a}, {b}]", std::process::id()));
    rst_set_ready();
    tree_wait_go();
    let mut errs = Vec::new();
    for (z, want) in [(a, "exit status 42"), (b, "killed by SIGTERM")] {
        let mut st = 0;
        // SAFETY: waitpid on our own child, into a local.
        let r = unsafe { libc::waitpid(z, &mut st, libc::WNOHANG) };
        let ok = if z == a {
            libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == ZOMBIE_STATUS
        } else {
            libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGTERM && !libc::WCOREDUMP(st)
        };
        if r != z {
            errs.push(format!("zombie {z}: waitpid WNOHANG returned {r} ({}): not a zombie child any more", std::io::Error::last_os_error()));
        } else if !ok {
            errs.push(format!("zombie {z}: wait status {st:#x}, want {want}"));
        }
    }
    rst_verdict("zombie-check", &errs)
}

/// `pgrp-check`: the root makes a session (setsid); child A makes its own
/// process group; child B joins A's group; C, B's child, inherits it.
/// After `go` each checks its session, group and parent.
fn pgrp_check() -> ! {
    // SAFETY: setsid(2): the root is not a group leader (its parent's child).
    if unsafe { libc::setsid() } < 0 {
        eprintln!("cptrst-testprog pgrp-check: setsid: {}", std::io::Error::last_os_error());
        std::process::exit(2);
    }
    let (rd, wr) = setup_pipe();
    let mut idx = 0usize;
    let mut children = Vec::new();
    let a = fork_child();
    if a == 0 {
        idx = 1;
        // SAFETY: setpgid on ourselves.
        unsafe { libc::setpgid(0, 0) };
    } else {
        // SAFETY: setpgid on our child too (whichever runs first).
        unsafe { libc::setpgid(a, a) };
        children.push((1, a));
        let b = fork_child();
        if b == 0 {
            idx = 2;
            children.clear();
            // SAFETY: setpgid on ourselves, to A's group in our session.
            unsafe { libc::setpgid(0, a) };
            let c = fork_child();
            if c == 0 {
                idx = 3;
            } else {
                children.push((3, c));
            }
        } else {
            // SAFETY: as above.
            unsafe { libc::setpgid(b, a) };
            children.push((2, b));
        }
    }
    let me = ids_now();
    if idx == 0 {
        let notes = setup_collect(rd, wr, 3);
        let col = |k: usize, mine: i32| -> Vec<u32> { std::iter::once(mine as u32).chain(notes.iter().map(|n| n[k])).collect() };
        rst_ready_line(&format!(
            "\"pids\": {:?}, \"ppids\": {:?}, \"pgids\": {:?}, \"sids\": {:?}",
            col(1, me.0),
            col(2, me.1),
            col(3, me.2),
            col(4, me.3)
        ));
        let pg = col(3, me.2);
        let sid = col(4, me.3);
        if pg != [me.0 as u32, a as u32, a as u32, a as u32] || sid.iter().any(|&s| s != me.0 as u32) {
            eprintln!("cptrst-testprog pgrp-check: groups {pg:?} and sessions {sid:?} not as built");
            std::process::exit(2);
        }
    } else {
        // SAFETY: the children do not read the pipe.
        unsafe { libc::close(rd) };
        setup_note(wr, idx as u32);
    }
    rst_set_ready();
    tree_wait_go();
    let now = ids_now();
    let mut errs = Vec::new();
    for (what, got, want) in [("getpid", now.0, me.0), ("getppid", now.1, me.1), ("getpgid", now.2, me.2), ("getsid", now.3, me.3)] {
        // The root's parent is outside the tree: the restart tool's now.
        if got != want && !(idx == 0 && what == "getppid") {
            errs.push(format!("process {idx} (pid {}): {what}() {got}, want {want}", me.0));
        }
    }
    reap_children(&children, &mut errs);
    rst_verdict("pgrp-check", &errs)
}

/// Words of the `shared-check` page: the child's pid, the child's value,
/// the parent's value; from word 8 on, a pattern.
const SHARED_CHILD_VAL: u64 = 0xc41d_c41d_0000_0001;
const SHARED_PARENT_VAL: u64 = 0x9a4e_9a4e_0000_0002;

/// `shared-check`: a MAP_SHARED | MAP_ANONYMOUS page mapped before fork;
/// after `go` the child writes a value the parent must see, and the parent
/// one the child must see (within 30 s), then both check the pattern.
/// Maps `n` one-page files created in `dir` (file i holds byte i % 251 + 1),
/// each private and read-only: `n` distinct files for the restart to open.
/// After go, every mapping must still show its own file.
fn map_files_check(n: usize, dir: &str) -> ! {
    let mut maps = Vec::with_capacity(n);
    for i in 0..n {
        let path = format!("{dir}/cptrst-map-{i}");
        std::fs::write(&path, vec![(i % 251 + 1) as u8; PAGE]).expect("write file");
        let f = std::fs::File::open(&path).expect("open file");
        maps.push(mmap(PAGE, libc::PROT_READ, libc::MAP_PRIVATE, std::os::fd::AsRawFd::as_raw_fd(&f)));
    }
    rst_ready_line(&format!("\"files\": {n}"));
    rst_set_ready();
    tree_wait_go();
    let mut errs = Vec::new();
    for (i, &m) in maps.iter().enumerate() {
        // SAFETY: each is a live one-page read-only mapping.
        let page = unsafe { std::slice::from_raw_parts(m, PAGE) };
        let want = (i % 251 + 1) as u8;
        if let Some(at) = page.iter().position(|&b| b != want) {
            errs.push(format!("mapping {i} ({dir}/cptrst-map-{i}): byte {at} is {:#x}, want {want:#x}", page[at]));
        }
    }
    rst_verdict("map-files-check", &errs)
}

fn shared_check() -> ! {
    let p = mmap(PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1) as *mut u64;
    let words = PAGE / 8;
    for w in 8..words {
        // SAFETY: inside the page.
        unsafe { p.add(w).write(mem_check_word(0x5a, w)) };
    }
    let child = fork_child();
    let me = std::process::id();
    let word = |w: usize| {
        // SAFETY: inside the page; the other process writes it.
        unsafe { std::ptr::read_volatile(p.add(w)) }
    };
    if child == 0 {
        // SAFETY: inside the page.
        unsafe { std::ptr::write_volatile(p, u64::from(me)) };
    } else {
        while word(0) != child as u64 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        rst_ready_line(&format!("\"pids\": [{me}, {child}], \"shared\": {}", p as usize));
    }
    rst_set_ready();
    tree_wait_go();
    let (mine, theirs, put, want, who) = if child == 0 {
        (1, 2, SHARED_CHILD_VAL, SHARED_PARENT_VAL, "child")
    } else {
        (2, 1, SHARED_PARENT_VAL, SHARED_CHILD_VAL, "parent")
    };
    // SAFETY: inside the page.
    unsafe { std::ptr::write_volatile(p.add(mine), put) };
    let t0 = std::time::Instant::now();
    let mut errs = Vec::new();
    while word(theirs) != want {
        if t0.elapsed() > std::time::Duration::from_secs(30) {
            errs.push(format!("{who} (pid {me}): word {theirs} is {:#x} after 30 s, want {want:#x}: the page is not shared", word(theirs)));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    if let Some(w) = (8..words).find(|&w| word(w) != mem_check_word(0x5a, w)) {
        errs.push(format!("{who} (pid {me}): word {w} is {:#x}, want {:#x}", word(w), mem_check_word(0x5a, w)));
    }
    if child != 0 {
        reap_children(&[(1, child)], &mut errs);
    }
    rst_verdict("shared-check", &errs)
}

/// `reaper CMD [ARGS...]`: runs CMD (its stdout is ours) with SIGCHLD
/// ignored here, so that CMD's death frees its pid at once (no zombie for
/// anyone to reap), then waits to be killed (dies with its parent).
fn reaper(cmd: &[String]) -> ! {
    use std::os::unix::process::CommandExt;
    // SAFETY: setting our own signal disposition and death signal.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::signal(libc::SIGCHLD, libc::SIG_IGN);
    }
    let Some((prog, args)) = cmd.split_first() else {
        eprintln!("usage: cptrst-testprog reaper CMD [ARGS...]");
        std::process::exit(2)
    };
    let mut c = std::process::Command::new(prog);
    c.args(args);
    // SAFETY: signal(2) is async-signal-safe: CMD gets SIGCHLD back at SIG_DFL.
    unsafe {
        c.pre_exec(|| {
            libc::signal(libc::SIGCHLD, libc::SIG_DFL);
            Ok(())
        });
    }
    if let Err(e) = c.spawn() {
        eprintln!("cptrst-testprog reaper: cannot run {prog}: {e}");
        std::process::exit(1);
    }
    // Only CMD holds our stdout now: a reader sees EOF when CMD dies.
    // SAFETY: replacing fd 1 with /dev/null; nothing is printed after this.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
        if null >= 0 {
            libc::dup2(null, 1);
            libc::close(null);
        }
    }
    pause_forever()
}

/// The child of `vfork`/`clone-vfork`: sleeps until killed, raw system
/// calls only (with `CLONE_VM` it runs on its parent's memory).
extern "C" fn vfork_child(_: *mut libc::c_void) -> libc::c_int {
    // SAFETY: raw prctl and nanosleep on locals.
    unsafe {
        libc::syscall(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        loop {
            let ts = libc::timespec { tv_sec: 100_000, tv_nsec: 0 };
            libc::syscall(libc::SYS_nanosleep, &ts as *const libc::timespec, std::ptr::null_mut::<libc::timespec>());
        }
    }
}

/// `vfork` (`CLONE_VM | CLONE_VFORK`) or `clone-vfork` (`CLONE_VFORK`).
fn vfork_parent(flags: libc::c_int) -> ! {
    const STACK: usize = 64 * 1024;
    let stack = mmap(STACK, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1);
    ready(&format!("{{\"pid\": {}}}", std::process::id()));
    // SAFETY: the child runs on its own stack mapping and makes raw system
    // calls only; the parent waits until it dies.
    let r = unsafe { libc::clone(vfork_child, stack.add(STACK - 64).cast(), flags | libc::SIGCHLD, std::ptr::null_mut()) };
    assert!(r > 0, "clone: {}", std::io::Error::last_os_error());
    pause_forever()
}

/// The number of workers `fork-storm` has created.
static mut STORM_FORKS: u64 = 0;

/// `fork-storm N`.
fn fork_storm(n: usize) -> ! {
    let worker = || {
        for _ in 0..4 {
            let c = fork_child();
            // SAFETY: _exit in the child; waitpid on our child into a local.
            unsafe {
                if c == 0 {
                    libc::_exit(0);
                }
                let mut st = 0;
                libc::waitpid(c, &mut st, 0);
            }
        }
        // SAFETY: _exit(2) in a forked child.
        unsafe { libc::_exit(0) }
    };
    let spawn = || {
        if fork_child() == 0 {
            worker();
        }
        // SAFETY: only this (single-threaded) process writes the counter;
        // the test reads it through /proc/PID/mem.
        unsafe {
            std::ptr::write_volatile(std::ptr::addr_of_mut!(STORM_FORKS), std::ptr::read_volatile(std::ptr::addr_of!(STORM_FORKS)) + 1)
        };
    };
    for _ in 0..n {
        spawn();
    }
    ready(&format!("{{\"pid\": {}, \"forks\": {}}}", std::process::id(), std::ptr::addr_of!(STORM_FORKS) as usize));
    loop {
        let mut st = 0;
        // SAFETY: waitpid for any of our children into a local.
        if unsafe { libc::waitpid(-1, &mut st, 0) } > 0 {
            spawn();
        }
    }
}

// ---------------------------------------------------------------------------
// Open files, pipes and fs context (issue 14, kselftest-files and the
// benches). Each mode sets up its files, takes a snapshot of its fd table
// (FdState: every fd's FD_CLOEXEC, status flags, type, position, size, and
// which fds are the same inode), prints its ready line and sets the ready
// word, waits for `go`, then takes the snapshot again first thing and
// compares, and checks what its kind of file must still do. A tree mode's
// root prints the line (with `pids`) and sets its word once every child has
// set itself up; every process polls its own go byte and checks itself; the
// root reaps its children and their statuses are part of its verdict.
// ---------------------------------------------------------------------------

/// A system call's result, or the process dies with what failed (a
/// set-up step that fails is a workload bug, exit status 2).
fn sys(r: i64, what: &str) -> i64 {
    if r < 0 {
        eprintln!("cptrst-testprog: {what}: {}", std::io::Error::last_os_error());
        std::process::exit(2);
    }
    r
}

fn cpath(p: &str) -> std::ffi::CString {
    std::ffi::CString::new(p).unwrap_or_default()
}

/// open(2) with these flags (no O_CLOEXEC unless given), moved to fd `at`
/// (if `at >= 0`).
fn open_at(path: &str, flags: i32, at: i32) -> i32 {
    let c = cpath(path);
    // SAFETY: open(2) with a NUL-terminated path.
    let fd = sys(unsafe { libc::open(c.as_ptr(), flags, 0o644) } as i64, &format!("open {path}")) as i32;
    if at >= 0 { move_fd(fd, at, flags & libc::O_CLOEXEC != 0) } else { fd }
}

/// Moves `fd` to number `at` (dup3, FD_CLOEXEC if `cloexec`), closes `fd`.
fn move_fd(fd: i32, at: i32, cloexec: bool) -> i32 {
    if fd == at {
        // SAFETY: F_SETFD on our own fd.
        unsafe { libc::fcntl(fd, libc::F_SETFD, if cloexec { libc::FD_CLOEXEC } else { 0 }) };
        return fd;
    }
    // SAFETY: dup3 and close of fds we own.
    unsafe {
        sys(libc::dup3(fd, at, if cloexec { libc::O_CLOEXEC } else { 0 }) as i64, &format!("dup3 to {at}"));
        libc::close(fd);
    }
    at
}

/// The bytes of test file `tag`: [`pattern`] over its pages.
fn file_bytes(tag: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| cptrst_tests::pattern(tag, i / PAGE, i % PAGE)).collect()
}

/// Writes all of `b` to `fd` (blocking).
fn write_all(fd: i32, b: &[u8], what: &str) {
    let mut done = 0;
    while done < b.len() {
        // SAFETY: write(2) from a live slice.
        let n = unsafe { libc::write(fd, b[done..].as_ptr().cast(), b.len() - done) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        done += sys(n as i64, what) as usize;
    }
}

/// Reads up to `n` bytes from `fd`: until `n`, EOF, or (non-blocking) no
/// more data. Err with the errno text of a failure.
fn read_upto(fd: i32, n: usize) -> Result<Vec<u8>, String> {
    let mut b = vec![0u8; n];
    let mut have = 0;
    while have < n {
        // SAFETY: read(2) into the rest of a local buffer.
        let r = unsafe { libc::read(fd, b[have..].as_mut_ptr().cast(), n - have) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => break,
                _ => return Err(format!("read fd {fd}: {e}")),
            }
        }
        if r == 0 {
            break;
        }
        have += r as usize;
    }
    b.truncate(have);
    Ok(b)
}

/// Reads `fd` to EOF (blocking).
fn read_to_eof(fd: i32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let b = read_upto(fd, 65536)?;
        if b.is_empty() {
            return Ok(out);
        }
        out.extend_from_slice(&b);
    }
}

/// "" if `got == want`, else where they first differ.
fn diff_bytes(what: &str, got: &[u8], want: &[u8]) -> Option<String> {
    if got == want {
        return None;
    }
    let at = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
    Some(format!(
        "{what}: {} bytes, want {}; first difference at byte {at} ({:?} vs {:?})",
        got.len(),
        want.len(),
        got.get(at),
        want.get(at)
    ))
}

fn lseek_cur(fd: i32) -> i64 {
    // SAFETY: lseek(2) query on an fd.
    unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) }
}

fn fstat(fd: i32) -> Option<libc::stat> {
    // SAFETY: fstat(2) into a zeroed local.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some(st)
}

fn stat_path(p: &str) -> Option<libc::stat> {
    let c = cpath(p);
    // SAFETY: stat(2) into a zeroed local, NUL-terminated path.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    (unsafe { libc::stat(c.as_ptr(), &mut st) } == 0).then_some(st)
}

fn getfl(fd: i32) -> i32 {
    // SAFETY: F_GETFL query.
    unsafe { libc::fcntl(fd, libc::F_GETFL) }
}

fn getfd(fd: i32) -> i32 {
    // SAFETY: F_GETFD query.
    unsafe { libc::fcntl(fd, libc::F_GETFD) }
}

fn pipe_size(fd: i32) -> i32 {
    // SAFETY: F_GETPIPE_SZ query.
    unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) }
}

fn readlink_fd(fd: i32) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|e| format!("<{e}>"))
}

/// What a workload knows of one of its fds.
#[derive(Clone, Debug, PartialEq)]
struct FdState {
    fd: i32,
    fdflags: i32,
    flflags: i32,
    mode: u32,
    rdev: u64,
    size: i64,
    nlink: u64,
    pos: Option<i64>,
    dev: u64,
    ino: u64,
}

/// Every open fd (probed with F_GETFD, below the soft RLIMIT_NOFILE,
/// at most 4096), fds 1 and 2 only by their number: they are the
/// tool's after a restart.
fn fd_states() -> Vec<FdState> {
    // SAFETY: getrlimit into a local.
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: as above.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    let max = rl.rlim_cur.min(4096) as i32;
    let mut out = Vec::new();
    for fd in 0..max {
        let fdflags = getfd(fd);
        if fdflags < 0 {
            continue;
        }
        if fd == 1 || fd == 2 {
            out.push(FdState { fd, fdflags: 0, flflags: 0, mode: 0, rdev: 0, size: 0, nlink: 0, pos: None, dev: 0, ino: 0 });
            continue;
        }
        let st = fstat(fd);
        let pos = lseek_cur(fd);
        out.push(FdState {
            fd,
            fdflags,
            flflags: getfl(fd),
            mode: st.map_or(0, |s| s.st_mode),
            rdev: st.map_or(0, |s| s.st_rdev),
            size: st.map_or(0, |s| if s.st_mode & libc::S_IFMT == libc::S_IFREG { s.st_size } else { 0 }),
            nlink: st.map_or(0, |s| s.st_nlink),
            pos: (pos >= 0).then_some(pos),
            dev: st.map_or(0, |s| s.st_dev),
            ino: st.map_or(0, |s| s.st_ino),
        });
    }
    out
}

/// What differs between two [`fd_states`] snapshots: the fd numbers,
/// each fd's FD_CLOEXEC, status flags, type and mode, device number,
/// position, link count (0 stays 0), size (unless `sizes_may_change`),
/// and which fds are one inode.
fn compare_fd_states(before: &[FdState], after: &[FdState], sizes_may_change: bool) -> Vec<String> {
    let mut errs = Vec::new();
    let nums = |v: &[FdState]| v.iter().map(|s| s.fd).collect::<Vec<_>>();
    if nums(before) != nums(after) {
        errs.push(format!("open fds {:?}, want {:?}", nums(after), nums(before)));
    }
    for b in before {
        let Some(a) = after.iter().find(|a| a.fd == b.fd) else { continue };
        let mut d = Vec::new();
        if a.fdflags != b.fdflags {
            d.push(format!("fd flags {:#x}, want {:#x}", a.fdflags, b.fdflags));
        }
        if a.flflags != b.flflags {
            d.push(format!("status flags {:#o}, want {:#o}", a.flflags, b.flflags));
        }
        if a.mode != b.mode {
            d.push(format!("st_mode {:#o}, want {:#o}", a.mode, b.mode));
        }
        if a.rdev != b.rdev {
            d.push(format!("st_rdev {:#x}, want {:#x}", a.rdev, b.rdev));
        }
        if a.pos != b.pos {
            d.push(format!("position {:?}, want {:?}", a.pos, b.pos));
        }
        if (a.nlink == 0) != (b.nlink == 0) {
            d.push(format!("link count {}, was {}", a.nlink, b.nlink));
        }
        if !sizes_may_change && a.size != b.size {
            d.push(format!("size {}, want {}", a.size, b.size));
        }
        if !d.is_empty() {
            errs.push(format!("fd {} ({}): {}", b.fd, readlink_fd(b.fd), d.join(", ")));
        }
    }
    // One inode before <=> one inode after (fds 1 and 2 aside).
    let same = |v: &[FdState], x: i32, y: i32| {
        let f = |n| v.iter().find(|s| s.fd == n).map(|s| (s.dev, s.ino));
        f(x).is_some() && f(x) == f(y)
    };
    let fds: Vec<i32> = before.iter().map(|s| s.fd).filter(|&f| f != 1 && f != 2).collect();
    for (i, &x) in fds.iter().enumerate() {
        for &y in &fds[i + 1..] {
            let (sb, sa) = (same(before, x, y), same(after, x, y));
            if sb != sa {
                errs.push(format!("fds {x} and {y}: {} after, {} before", if sa { "one inode" } else { "two inodes" }, if sb { "one" } else { "two" }));
            }
        }
    }
    errs
}

/// A shared anonymous word of a files tree workload (mapped before its
/// forks): the root sets it to 1 once it is set up (the others take their
/// snapshots after that: the root's last writes to a shared file are in
/// them), and to 2 once it has taken its snapshot after go (the others
/// wait for that before they touch a shared file: a position or a size
/// the root's snapshot would see moved).
static mut FILES_SYNC: *mut u32 = std::ptr::null_mut();

/// Maps [`FILES_SYNC`]; call before the workload forks.
fn files_sync_init() {
    let p = mmap(PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1);
    // SAFETY: set once, before any fork, single-threaded.
    unsafe { *std::ptr::addr_of_mut!(FILES_SYNC) = p.cast() };
}

/// One process of a files workload: its snapshot, and what it checks.
struct FilesProc {
    name: &'static str,
    idx: usize,
    before: Vec<FdState>,
    errs: Vec<String>,
}

impl FilesProc {
    fn new(name: &'static str, idx: usize) -> FilesProc {
        FilesProc { name, idx, before: Vec::new(), errs: Vec::new() }
    }

    /// The set-up is done: the snapshot, then the ready word (a child of
    /// a tree first waits until the root is set up).
    fn ready(&mut self) {
        // SAFETY: set before the forks; the page is shared by the tree.
        let sync = unsafe { *std::ptr::addr_of!(FILES_SYNC) };
        if !sync.is_null() && self.idx != 0 {
            // SAFETY: a word of the shared page, written by the root.
            while unsafe { sync.read_volatile() } < 1 {
                std::thread::sleep(TREE_POLL);
            }
        }
        self.before = fd_states();
        if !sync.is_null() && self.idx == 0 {
            // SAFETY: a word of the shared page.
            unsafe { sync.write_volatile(1) };
        }
        rst_set_ready();
    }

    /// Waits for go, then compares the snapshot (sizes may change if
    /// `arg` is 1: the test changed a file between checkpoint and restart).
    fn wait_go(&mut self) {
        tree_wait_go();
        let after = fd_states();
        let changed = rst_arg() == 1;
        let d = compare_fd_states(&self.before, &after, changed);
        self.errs.extend(d);
        // SAFETY: set before the forks; the page is shared by the tree.
        let sync = unsafe { *std::ptr::addr_of!(FILES_SYNC) };
        if sync.is_null() {
            return;
        }
        if self.idx == 0 {
            // SAFETY: a word of the shared page.
            unsafe { sync.write_volatile(2) };
            return;
        }
        let t0 = std::time::Instant::now();
        // SAFETY: a word of the shared page, written by the root.
        while unsafe { sync.read_volatile() } != 2 {
            if t0.elapsed() > std::time::Duration::from_secs(120) {
                self.errs.push("the root did not take its snapshot within 120 s after go".into());
                break;
            }
            std::thread::sleep(TREE_POLL);
        }
    }

    fn check(&mut self, cond: bool, msg: impl FnOnce() -> String) {
        if !cond {
            self.errs.push(msg());
        }
    }

    fn push(&mut self, e: Option<String>) {
        self.errs.extend(e);
    }

    /// Exits with the verdict (children first reaped by the caller).
    fn verdict(self) -> ! {
        let pid = std::process::id();
        let errs: Vec<String> = self.errs.into_iter().map(|e| format!("process {} (pid {pid}): {e}", self.idx)).collect();
        rst_verdict(self.name, &errs)
    }
}

/// The set-up pipe's child side: a note, and the pipe closed.
fn child_noted(rd: i32, wr: i32, idx: u32) {
    // SAFETY: the children do not read the set-up pipe.
    unsafe { libc::close(rd) };
    setup_note(wr, idx);
}

/// `file-pos-check PATH`: PATH (re)created, mode 0600, 64 KiB + 123
/// bytes, opened read-only and read up to 32 KiB + 77. After go: the same
/// position and inode, and the rest of the file as written (only the first
/// SIZE bytes: with `arg` 1 the test appended to it).
fn file_pos_check(path: &str) -> ! {
    const SIZE: usize = 65536 + 123;
    const HALF: usize = 32768 + 77;
    let data = file_bytes(0x21, SIZE);
    let _ = std::fs::remove_file(path);
    let fd = open_at(path, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, -1);
    write_all(fd, &data, "write the file");
    // SAFETY: fchmod and close of our fd.
    unsafe {
        libc::fchmod(fd, 0o600);
        libc::close(fd);
    }
    let fd = open_at(path, libc::O_RDONLY, 5);
    let got = read_upto(fd, HALF).unwrap_or_default();
    if got.len() != HALF {
        eprintln!("cptrst-testprog file-pos-check: read {} bytes, want {HALF}", got.len());
        std::process::exit(2);
    }
    let ino = fstat(fd).map_or(0, |s| s.st_ino);
    let mut p = FilesProc::new("file-pos-check", 0);
    rst_ready_line(&format!("\"fd\": {fd}, \"pos\": {HALF}, \"size\": {SIZE}, \"path\": \"{path}\""));
    p.ready();
    p.wait_go();
    let pos = lseek_cur(fd);
    p.check(pos == HALF as i64, || format!("fd {fd}: position {pos}, want {HALF}"));
    let now = fstat(fd).map_or(0, |s| s.st_ino);
    let at_path = stat_path(path).map_or(0, |s| s.st_ino);
    p.check(now == ino && at_path == ino, || format!("fd {fd}: inode {now}, {path} has {at_path}, want {ino}"));
    // SAFETY: lseek on our fd.
    unsafe { libc::lseek(fd, HALF as i64, libc::SEEK_SET) };
    let rest = read_upto(fd, SIZE - HALF);
    match rest {
        Ok(r) => p.push(diff_bytes(&format!("fd {fd}: the rest of {path}"), &r, &data[HALF..])),
        Err(e) => p.errs.push(e),
    }
    p.verdict()
}

/// Writes the log line `tag` of `len` bytes through `fd` (O_APPEND: it
/// must land at the end).
fn append_line(fd: i32, tag: &str, len: usize) {
    write_all(fd, &append_bytes(tag, len), "append");
}

fn append_bytes(tag: &str, len: usize) -> Vec<u8> {
    let mut l = format!("{tag}:").into_bytes();
    l.resize(len - 1, b'a' + (len % 26) as u8);
    l.push(b'\n');
    l
}

/// The log lines of `append-check`, in the order they are written:
/// (writer, tag, length).
const APPEND_LINES: [(usize, &str, usize); 6] =
    [(0, "parent-0", 100), (1, "child-0", 37), (0, "parent-1", 4000), (0, "parent-1b", 15), (1, "child-1", 5000), (0, "parent-2", 13)];

/// `append-check PATH`: a parent and a child each open PATH with
/// O_APPEND (two open files) and write lines in turn: parent-0, child-0,
/// parent-1, parent-1b (the parent's through a dup of its fd) before the
/// checkpoint; after go the child writes child-1 and exits, then the
/// parent writes parent-2 and checks the whole log: every line whole and
/// in order (nothing overwritten), its position at the end.
fn append_check(path: &str) -> ! {
    let _ = std::fs::remove_file(path);
    let fd = open_at(path, libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_TRUNC, 6);
    append_line(fd, APPEND_LINES[0].1, APPEND_LINES[0].2);
    files_sync_init();
    let (rd, wr) = setup_pipe();
    let child = fork_child();
    if child == 0 {
        // SAFETY: closing the parent's fd in the child.
        unsafe { libc::close(fd) };
        let cfd = open_at(path, libc::O_WRONLY | libc::O_APPEND, 7);
        append_line(cfd, APPEND_LINES[1].1, APPEND_LINES[1].2);
        child_noted(rd, wr, 1);
        let mut p = FilesProc::new("append-check", 1);
        p.ready();
        p.wait_go();
        append_line(cfd, APPEND_LINES[4].1, APPEND_LINES[4].2);
        let fl = getfl(cfd);
        p.check(fl & libc::O_APPEND != 0, || format!("fd {cfd}: status flags {fl:#o} without O_APPEND"));
        p.verdict();
    }
    let notes = setup_collect(rd, wr, 1);
    append_line(fd, APPEND_LINES[2].1, APPEND_LINES[2].2);
    // SAFETY: dup of our fd (no O_CLOEXEC).
    let dfd = move_fd(sys(unsafe { libc::dup(fd) } as i64, "dup") as i32, 8, false);
    append_line(dfd, APPEND_LINES[3].1, APPEND_LINES[3].2);
    let mut p = FilesProc::new("append-check", 0);
    rst_ready_line(&format!("\"pids\": [{}, {}], \"path\": \"{path}\"", std::process::id(), notes[0][1]));
    p.ready();
    p.wait_go();
    let mut cerrs = Vec::new();
    reap_children(&[(1, child)], &mut cerrs);
    p.errs.extend(cerrs);
    append_line(fd, APPEND_LINES[5].1, APPEND_LINES[5].2);
    let want: Vec<u8> = APPEND_LINES.iter().flat_map(|&(_, t, l)| append_bytes(t, l)).collect();
    match std::fs::read(path) {
        Ok(got) => p.push(diff_bytes(path, &got, &want)),
        Err(e) => p.errs.push(format!("{path}: {e}")),
    }
    let pos = lseek_cur(fd);
    p.check(pos == want.len() as i64, || format!("fd {fd}: position {pos} after the last append, want {}", want.len()));
    for f in [fd, dfd] {
        let fl = getfl(f);
        p.check(fl & libc::O_APPEND != 0, || format!("fd {f}: status flags {fl:#o} without O_APPEND"));
    }
    p.verdict()
}

/// `shared-offset-check PATH`: PATH of 16 KiB opened read-write at fd 6
/// and dup'ed to fd 7 (one open file), opened again at fd 9 (another) and
/// read 7 bytes there; the parent reads 100 bytes through fd 6, forks, the
/// child reads 50 more. After go the child sees position 150 and reads
/// 200 bytes (the file's bytes 150..350) and exits; then the parent sees
/// 350 through fd 6 and fd 7, a seek through fd 7 moves fd 6, fd 9 is
/// still at 7.
fn shared_offset_check(path: &str) -> ! {
    const SIZE: usize = 16384;
    let data = file_bytes(0x33, SIZE);
    if let Err(e) = std::fs::write(path, &data) {
        eprintln!("cptrst-testprog: {path}: {e}");
        std::process::exit(2);
    }
    let fd = open_at(path, libc::O_RDWR, 6);
    // SAFETY: dup of our fd.
    let dfd = move_fd(sys(unsafe { libc::dup(fd) } as i64, "dup") as i32, 7, false);
    let other = open_at(path, libc::O_RDONLY, 9);
    let _ = read_upto(other, 7);
    let _ = read_upto(fd, 100);
    files_sync_init();
    let (rd, wr) = setup_pipe();
    let child = fork_child();
    if child == 0 {
        let _ = read_upto(fd, 50);
        child_noted(rd, wr, 1);
        let mut p = FilesProc::new("shared-offset-check", 1);
        p.ready();
        p.wait_go();
        let pos = lseek_cur(fd);
        p.check(pos == 150, || format!("fd {fd}: position {pos}, want 150"));
        match read_upto(fd, 200) {
            Ok(b) => p.push(diff_bytes(&format!("fd {fd}: 200 bytes at 150"), &b, &data[150..350])),
            Err(e) => p.errs.push(e),
        }
        p.verdict();
    }
    let notes = setup_collect(rd, wr, 1);
    let pos = lseek_cur(dfd);
    if pos != 150 {
        eprintln!("cptrst-testprog shared-offset-check: fd {dfd} at {pos} after the child's read, want 150");
        std::process::exit(2);
    }
    let mut p = FilesProc::new("shared-offset-check", 0);
    rst_ready_line(&format!("\"pids\": [{}, {}], \"path\": \"{path}\"", std::process::id(), notes[0][1]));
    p.ready();
    p.wait_go();
    let mut cerrs = Vec::new();
    reap_children(&[(1, child)], &mut cerrs);
    p.errs.extend(cerrs);
    for f in [fd, dfd] {
        let pos = lseek_cur(f);
        p.check(pos == 350, || format!("fd {f}: position {pos} after the child read 200 bytes, want 350: the child's open file is not the parent's"));
    }
    // SAFETY: lseek on our fd.
    unsafe { libc::lseek(dfd, 1000, libc::SEEK_SET) };
    let pos = lseek_cur(fd);
    p.check(pos == 1000, || format!("fd {fd}: position {pos} after a seek through its dup fd {dfd} to 1000"));
    match read_upto(fd, 10) {
        Ok(b) => p.push(diff_bytes(&format!("fd {fd}: 10 bytes at 1000"), &b, &data[1000..1010])),
        Err(e) => p.errs.push(e),
    }
    let pos = lseek_cur(other);
    p.check(pos == 7, || format!("fd {other} (another open of {path}): position {pos}, want 7"));
    p.verdict()
}

/// The line of /proc/self/maps that starts at `addr`.
fn maps_line(addr: usize) -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let start = format!("{addr:x}-");
    maps.lines().find(|l| l.starts_with(&start)).unwrap_or("").to_string()
}

/// `unlinked-check DIR`: DIR/cptrst-unlinked-a (3 pages + 500 bytes,
/// read-write at fd 6, at position 1234) mapped shared (3 pages; page 1
/// written through the mapping), and DIR/cptrst-unlinked-b (2 pages),
/// mapped shared with no fd left; both unlinked. After go: fd 6 still
/// unlinked (fstat link count 0), its size, position and content (with the
/// page written through the mapping); a byte written through the mapping
/// is seen through the fd and one written through the fd in the mapping;
/// the second mapping's content, and /proc/self/maps says "(deleted)".
fn unlinked_check(dir: &str) -> ! {
    const SIZE_A: usize = 3 * PAGE + 500;
    let (pa, pb) = (format!("{dir}/cptrst-unlinked-a"), format!("{dir}/cptrst-unlinked-b"));
    let mut want_a = file_bytes(0x41, SIZE_A);
    let _ = std::fs::remove_file(&pa);
    let fd = open_at(&pa, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, 6);
    write_all(fd, &want_a, "write a");
    let ma = mmap(3 * PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd);
    // SAFETY: page 1 of the 3-page shared mapping.
    fill_page(unsafe { std::slice::from_raw_parts_mut(ma.add(PAGE), PAGE) }, 0x44, 1);
    fill_page(&mut want_a[PAGE..2 * PAGE], 0x44, 1);
    // SAFETY: lseek on our fd.
    unsafe { libc::lseek(fd, 1234, libc::SEEK_SET) };
    let want_b = file_bytes(0x42, 2 * PAGE);
    let _ = std::fs::remove_file(&pb);
    let fb = open_at(&pb, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, -1);
    write_all(fb, &want_b, "write b");
    let mb = mmap(2 * PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fb);
    // SAFETY: close of our fd; the mapping stays.
    unsafe { libc::close(fb) };
    for p in [&pa, &pb] {
        if let Err(e) = std::fs::remove_file(p) {
            eprintln!("cptrst-testprog: unlink {p}: {e}");
            std::process::exit(2);
        }
    }
    let mut p = FilesProc::new("unlinked-check", 0);
    rst_ready_line(&format!("\"fd\": {fd}, \"map_a\": {}, \"map_b\": {}", ma as usize, mb as usize));
    p.ready();
    p.wait_go();
    let st = fstat(fd);
    p.check(st.is_some_and(|s| s.st_nlink == 0), || format!("fd {fd}: link count {:?}, want 0 (still unlinked)", st.map(|s| s.st_nlink)));
    p.check(st.is_some_and(|s| s.st_size == SIZE_A as i64), || format!("fd {fd}: size {:?}, want {SIZE_A}", st.map(|s| s.st_size)));
    let link = readlink_fd(fd);
    p.check(link.ends_with(" (deleted)"), || format!("fd {fd}: /proc/self/fd link {link:?}, want a \"(deleted)\" file"));
    let pos = lseek_cur(fd);
    p.check(pos == 1234, || format!("fd {fd}: position {pos}, want 1234"));
    let mut got = vec![0u8; SIZE_A + 10];
    // SAFETY: pread into a local buffer.
    let n = unsafe { libc::pread(fd, got.as_mut_ptr().cast(), got.len(), 0) };
    got.truncate(n.max(0) as usize);
    p.push(diff_bytes(&format!("fd {fd}: the unlinked file's content"), &got, &want_a));
    // SAFETY: the 3-page mapping, readable.
    let m = unsafe { std::slice::from_raw_parts(ma, 3 * PAGE) };
    p.push(diff_bytes("the shared mapping of the unlinked file", m, &want_a[..3 * PAGE]));
    // Through the mapping, seen by the fd; through the fd, seen in the mapping.
    // SAFETY: inside the writable mapping.
    unsafe { ma.add(2 * PAGE + 5).write_volatile(0xa5) };
    let mut b = [0u8; 1];
    // SAFETY: pread of one byte into a local.
    unsafe { libc::pread(fd, b.as_mut_ptr().cast(), 1, (2 * PAGE + 5) as i64) };
    p.check(b[0] == 0xa5, || format!("a byte written through the mapping reads {:#x} through fd {fd}: not one file", b[0]));
    // SAFETY: pwrite of one byte from a local.
    unsafe { libc::pwrite(fd, [0x5au8].as_ptr().cast(), 1, 7) };
    // SAFETY: inside the mapping.
    let v = unsafe { ma.add(7).read_volatile() };
    p.check(v == 0x5a, || format!("a byte written through fd {fd} reads {v:#x} in the mapping: not one file"));
    // SAFETY: the 2-page mapping, readable.
    let m = unsafe { std::slice::from_raw_parts(mb, 2 * PAGE) };
    p.push(diff_bytes("the mapping-only unlinked file", m, &want_b));
    let l = maps_line(mb as usize);
    p.check(l.ends_with("(deleted)"), || format!("the mapping-only unlinked file in /proc/self/maps: {l:?}, want \"(deleted)\""));
    p.verdict()
}

/// The memfds of `memfd-check`: name, size, seals.
const MEMFD_A: &str = "cptrst-memfd-a";
const MEMFD_B: &str = "cptrst-memfd-sealed";
const MEMFD_C: &str = "cptrst-memfd-maponly";

fn memfd(name: &str, flags: u32) -> i32 {
    let c = cpath(name);
    // SAFETY: memfd_create with a NUL-terminated name.
    sys(unsafe { libc::memfd_create(c.as_ptr(), flags) } as i64, "memfd_create") as i32
}

/// `memfd-check`: memfd A (2 pages + 300 bytes, at position 777, sealed
/// against shrinking and growing, mapped shared: a byte written through
/// the mapping), memfd B (1000 bytes, sealed against writing and further
/// seals) and memfd C (a page, mapped shared, no fd left). After go: the
/// /proc/self/fd links name memfd:NAME, the seals, sizes, positions and
/// contents; the mapping and the fd of A are one file; B refuses a write
/// and a new seal (EPERM), A refuses to grow; C's mapping shows its
/// content and /proc/self/maps names it.
fn memfd_check() -> ! {
    let a = move_fd(memfd(MEMFD_A, libc::MFD_ALLOW_SEALING), 10, false);
    let mut want_a = file_bytes(0x61, 2 * PAGE + 300);
    write_all(a, &want_a, "write memfd a");
    let ma = mmap(2 * PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, a);
    // SAFETY: inside the mapping.
    unsafe { ma.add(10).write_volatile(0x99) };
    want_a[10] = 0x99;
    // SAFETY: lseek and F_ADD_SEALS on our memfd.
    unsafe {
        libc::lseek(a, 777, libc::SEEK_SET);
        sys(libc::fcntl(a, libc::F_ADD_SEALS, libc::F_SEAL_SHRINK | libc::F_SEAL_GROW) as i64, "F_ADD_SEALS a");
    }
    let b = move_fd(memfd(MEMFD_B, libc::MFD_ALLOW_SEALING | libc::MFD_CLOEXEC), 11, true);
    let want_b = file_bytes(0x62, 1000);
    write_all(b, &want_b, "write memfd b");
    // SAFETY: F_ADD_SEALS on our memfd (no writable mapping of it).
    unsafe { sys(libc::fcntl(b, libc::F_ADD_SEALS, libc::F_SEAL_WRITE | libc::F_SEAL_SEAL) as i64, "F_ADD_SEALS b") };
    let c = memfd(MEMFD_C, 0);
    let want_c = file_bytes(0x63, PAGE);
    write_all(c, &want_c, "write memfd c");
    let mc = mmap(PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, c);
    // SAFETY: close of our fd: the mapping stays.
    unsafe { libc::close(c) };
    // SAFETY: F_GET_SEALS queries.
    let seals = unsafe { [libc::fcntl(a, libc::F_GET_SEALS), libc::fcntl(b, libc::F_GET_SEALS)] };
    let mut p = FilesProc::new("memfd-check", 0);
    rst_ready_line(&format!("\"fds\": [{a}, {b}], \"seals\": {seals:?}, \"map_a\": {}, \"map_c\": {}", ma as usize, mc as usize));
    p.ready();
    p.wait_go();
    for (fd, name, seal, want) in [(a, MEMFD_A, seals[0], &want_a), (b, MEMFD_B, seals[1], &want_b)] {
        let link = readlink_fd(fd);
        p.check(link.contains(&format!("memfd:{name}")), || format!("fd {fd}: /proc/self/fd link {link:?}, want memfd:{name}"));
        // SAFETY: F_GET_SEALS query.
        let now = unsafe { libc::fcntl(fd, libc::F_GET_SEALS) };
        p.check(now == seal, || format!("fd {fd} (memfd {name}): seals {now:#x}, want {seal:#x}"));
        let mut got = vec![0u8; want.len() + 10];
        // SAFETY: pread into a local buffer.
        let n = unsafe { libc::pread(fd, got.as_mut_ptr().cast(), got.len(), 0) };
        got.truncate(n.max(0) as usize);
        p.push(diff_bytes(&format!("fd {fd} (memfd {name}): content"), &got, want));
    }
    let pos = lseek_cur(a);
    p.check(pos == 777, || format!("fd {a}: position {pos}, want 777"));
    // SAFETY: the 2-page mapping.
    let m = unsafe { std::slice::from_raw_parts(ma, 2 * PAGE) };
    p.push(diff_bytes("the shared mapping of memfd a", m, &want_a[..2 * PAGE]));
    // SAFETY: inside the mapping.
    unsafe { ma.add(PAGE + 3).write_volatile(0x3c) };
    let mut x = [0u8; 1];
    // SAFETY: pread of one byte.
    unsafe { libc::pread(a, x.as_mut_ptr().cast(), 1, (PAGE + 3) as i64) };
    p.check(x[0] == 0x3c, || format!("a byte written through the mapping of memfd a reads {:#x} through fd {a}: not one file", x[0]));
    // SAFETY: ftruncate to grow a memfd sealed against it: must fail.
    let r = unsafe { libc::ftruncate(a, (4 * PAGE) as i64) };
    let e = std::io::Error::last_os_error().raw_os_error();
    p.check(r < 0 && e == Some(libc::EPERM), || format!("ftruncate of memfd a (F_SEAL_GROW) to grow it: {r} (errno {e:?}), want EPERM"));
    // SAFETY: a write to a memfd sealed against writing: must fail.
    let r = unsafe { libc::pwrite(b, [1u8].as_ptr().cast(), 1, 0) };
    let e = std::io::Error::last_os_error().raw_os_error();
    p.check(r < 0 && e == Some(libc::EPERM), || format!("pwrite to memfd b (F_SEAL_WRITE): {r} (errno {e:?}), want EPERM"));
    // SAFETY: a new seal on a memfd with F_SEAL_SEAL: must fail.
    let r = unsafe { libc::fcntl(b, libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) };
    let e = std::io::Error::last_os_error().raw_os_error();
    p.check(r < 0 && e == Some(libc::EPERM), || format!("F_ADD_SEALS on memfd b (F_SEAL_SEAL): {r} (errno {e:?}), want EPERM"));
    // SAFETY: the 1-page mapping.
    let m = unsafe { std::slice::from_raw_parts(mc, PAGE) };
    p.push(diff_bytes("the mapping-only memfd c", m, &want_c));
    let l = maps_line(mc as usize);
    p.check(l.contains(&format!("memfd:{MEMFD_C}")), || format!("the mapping-only memfd in /proc/self/maps: {l:?}, want memfd:{MEMFD_C}"));
    p.verdict()
}

/// `dirfd-check DIR`: DIR (created) with a file `inside` and a directory
/// `sub`; DIR open with O_DIRECTORY at fd 6, DIR/sub with O_PATH at fd 7.
/// After go: openat(6, "inside") reads the file, a file created through
/// openat(6) appears in DIR, fd 7 is DIR/sub (its inode) and usable as a
/// dirfd, its status flags have O_PATH.
fn dirfd_check(dir: &str) -> ! {
    let _ = std::fs::create_dir_all(format!("{dir}/sub"));
    let inside = file_bytes(0x64, 3000);
    let _ = std::fs::write(format!("{dir}/inside"), &inside);
    let _ = std::fs::write(format!("{dir}/sub/deeper"), b"deeper\n");
    let _ = std::fs::remove_file(format!("{dir}/created-after"));
    let dfd = open_at(dir, libc::O_RDONLY | libc::O_DIRECTORY, 6);
    let pfd = open_at(&format!("{dir}/sub"), libc::O_PATH | libc::O_DIRECTORY, 7);
    let mut p = FilesProc::new("dirfd-check", 0);
    rst_ready_line(&format!("\"fds\": [{dfd}, {pfd}], \"dir\": \"{dir}\""));
    p.ready();
    p.wait_go();
    let openat = |d: i32, name: &str, flags: i32| {
        let c = cpath(name);
        // SAFETY: openat(2) with a NUL-terminated name.
        unsafe { libc::openat(d, c.as_ptr(), flags, 0o644) }
    };
    let f = openat(dfd, "inside", libc::O_RDONLY | libc::O_CLOEXEC);
    if f < 0 {
        p.errs.push(format!("openat(fd {dfd}, \"inside\"): {}", std::io::Error::last_os_error()));
    } else {
        let got = read_to_eof(f).unwrap_or_default();
        p.push(diff_bytes(&format!("{dir}/inside through openat(fd {dfd})"), &got, &inside));
        // SAFETY: close of our fd.
        unsafe { libc::close(f) };
    }
    let f = openat(dfd, "created-after", libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC);
    if f < 0 {
        p.errs.push(format!("openat(fd {dfd}, \"created-after\", O_CREAT): {}", std::io::Error::last_os_error()));
    } else {
        // SAFETY: close of our fd.
        unsafe { libc::close(f) };
        let there = std::path::Path::new(&format!("{dir}/created-after")).exists();
        p.check(there, || format!("a file created through openat(fd {dfd}) is not in {dir}"));
        let _ = std::fs::remove_file(format!("{dir}/created-after"));
    }
    let want = stat_path(dir).map(|s| (s.st_dev, s.st_ino));
    let got = fstat(dfd).map(|s| (s.st_dev, s.st_ino));
    p.check(got == want, || format!("fd {dfd}: inode {got:?}, {dir} has {want:?}"));
    let want = stat_path(&format!("{dir}/sub")).map(|s| (s.st_dev, s.st_ino));
    let got = fstat(pfd).map(|s| (s.st_dev, s.st_ino));
    p.check(got == want, || format!("fd {pfd} (O_PATH): inode {got:?}, {dir}/sub has {want:?}"));
    let fl = getfl(pfd);
    p.check(fl & libc::O_PATH != 0, || format!("fd {pfd}: status flags {fl:#o} without O_PATH"));
    let f = openat(pfd, "deeper", libc::O_RDONLY | libc::O_CLOEXEC);
    if f < 0 {
        p.errs.push(format!("openat(fd {pfd} (O_PATH), \"deeper\"): {}", std::io::Error::last_os_error()));
    } else {
        let got = read_to_eof(f).unwrap_or_default();
        p.push(diff_bytes(&format!("{dir}/sub/deeper through openat(fd {pfd})"), &got, b"deeper\n"));
        // SAFETY: close of our fd.
        unsafe { libc::close(f) };
    }
    p.verdict()
}

/// Byte `i` of what `pipes-check` sends the child (`to_child`) or the
/// parent: distinct in each direction, never periodic in a page.
fn pipe_byte(to_child: bool, i: usize) -> u8 {
    let x = (i as u64).wrapping_mul(0x9e37_79b9) >> 7;
    (x as u8) ^ if to_child { 0x3c } else { 0xc3 }
}

fn pipe_stream(to_child: bool, from: usize, to: usize) -> Vec<u8> {
    (from..to).map(|i| pipe_byte(to_child, i)).collect()
}

/// What `pipes-check` puts in its pipes: down (parent to child, 128 KiB
/// capacity) and up (child to parent, default capacity).
const PIPE_DOWN_CAP: i32 = 128 * 1024;
const PIPE_DOWN: usize = 100_000;
const PIPE_DOWN_READ: usize = 1000;
const PIPE_DOWN_MORE: usize = 777;
const PIPE_UP: usize = 30_000;
const PIPE_UP_READ: usize = 500;
const PIPE_UP_MORE: usize = 500;

/// `pipes-check`: a parent and a child with two pipes: down (capacity set
/// to 128 KiB with F_SETPIPE_SZ: 100000 bytes written, the child reads the
/// first 1000) and up (default capacity: 30000 bytes, the parent reads the
/// first 500). Unused ends closed. After go the parent writes 777 more
/// bytes down and closes its end, the child reads down to EOF (the rest,
/// in order), writes 500 more up and exits, the parent reads up to EOF;
/// both check each end's F_GETPIPE_SZ.
fn pipes_check() -> ! {
    let (mut down, mut up) = ([0i32; 2], [0i32; 2]);
    // SAFETY: pipe(2) into local arrays; F_SETPIPE_SZ on our pipe.
    unsafe {
        sys(libc::pipe(down.as_mut_ptr()) as i64, "pipe");
        sys(libc::pipe(up.as_mut_ptr()) as i64, "pipe");
        sys(libc::fcntl(down[1], libc::F_SETPIPE_SZ, PIPE_DOWN_CAP) as i64, "F_SETPIPE_SZ");
    }
    let down = [move_fd(down[0], 20, false), move_fd(down[1], 21, false)];
    let up = [move_fd(up[0], 22, false), move_fd(up[1], 23, false)];
    let up_cap = pipe_size(up[0]);
    write_all(down[1], &pipe_stream(true, 0, PIPE_DOWN), "write down");
    files_sync_init();
    let (rd, wr) = setup_pipe();
    let child = fork_child();
    if child == 0 {
        // SAFETY: closing the parent's ends in the child.
        unsafe {
            libc::close(down[1]);
            libc::close(up[0]);
        }
        let first = read_upto(down[0], PIPE_DOWN_READ).unwrap_or_default();
        write_all(up[1], &pipe_stream(false, 0, PIPE_UP), "write up");
        let mut p = FilesProc::new("pipes-check", 1);
        p.push(diff_bytes("the first bytes down, before the checkpoint", &first, &pipe_stream(true, 0, PIPE_DOWN_READ)));
        child_noted(rd, wr, 1);
        p.ready();
        p.wait_go();
        for (fd, want) in [(down[0], PIPE_DOWN_CAP), (up[1], up_cap)] {
            let cap = pipe_size(fd);
            p.check(cap == want, || format!("fd {fd}: F_GETPIPE_SZ {cap}, want {want}"));
        }
        match read_to_eof(down[0]) {
            Ok(b) => p.push(diff_bytes(
                "the bytes down after the restart (to EOF)",
                &b,
                &pipe_stream(true, PIPE_DOWN_READ, PIPE_DOWN + PIPE_DOWN_MORE),
            )),
            Err(e) => p.errs.push(e),
        }
        write_all(up[1], &pipe_stream(false, PIPE_UP, PIPE_UP + PIPE_UP_MORE), "write up");
        p.verdict();
    }
    // SAFETY: closing the child's ends in the parent.
    unsafe {
        libc::close(down[0]);
        libc::close(up[1]);
    }
    let notes = setup_collect(rd, wr, 1);
    let mut p = FilesProc::new("pipes-check", 0);
    let first = read_upto(up[0], PIPE_UP_READ).unwrap_or_default();
    p.push(diff_bytes("the first bytes up, before the checkpoint", &first, &pipe_stream(false, 0, PIPE_UP_READ)));
    rst_ready_line(&format!(
        "\"pids\": [{}, {}], \"down\": [{}, {}], \"up\": [{}, {}], \"up_cap\": {up_cap}",
        std::process::id(),
        notes[0][1],
        down[0],
        down[1],
        up[0],
        up[1]
    ));
    p.ready();
    p.wait_go();
    for (fd, want) in [(down[1], PIPE_DOWN_CAP), (up[0], up_cap)] {
        let cap = pipe_size(fd);
        p.check(cap == want, || format!("fd {fd}: F_GETPIPE_SZ {cap}, want {want}"));
    }
    write_all(down[1], &pipe_stream(true, PIPE_DOWN, PIPE_DOWN + PIPE_DOWN_MORE), "write down");
    // SAFETY: closing our end: the child sees EOF.
    unsafe { libc::close(down[1]) };
    match read_to_eof(up[0]) {
        Ok(b) => p.push(diff_bytes("the bytes up after the restart (to EOF)", &b, &pipe_stream(false, PIPE_UP_READ, PIPE_UP + PIPE_UP_MORE))),
        Err(e) => p.errs.push(e),
    }
    let mut cerrs = Vec::new();
    reap_children(&[(1, child)], &mut cerrs);
    p.errs.extend(cerrs);
    p.verdict()
}

/// `fifo-check DIR`: a FIFO DIR/cptrst-fifo opened for reading
/// (O_NONBLOCK, fd 6) and writing (fd 7), 5000 bytes written, 100 read.
/// After go: both fds are the FIFO at the path (its inode), the other 4900
/// bytes are there in order, and bytes written now come out.
fn fifo_check(dir: &str) -> ! {
    let path = format!("{dir}/cptrst-fifo");
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::remove_file(&path);
    let c = cpath(&path);
    // SAFETY: mkfifo with a NUL-terminated path.
    sys(unsafe { libc::mkfifo(c.as_ptr(), 0o600) } as i64, "mkfifo");
    let r = open_at(&path, libc::O_RDONLY | libc::O_NONBLOCK, 6);
    let w = open_at(&path, libc::O_WRONLY, 7);
    write_all(w, &pipe_stream(true, 0, 5000), "write the fifo");
    let first = read_upto(r, 100).unwrap_or_default();
    let cap = pipe_size(r);
    let mut p = FilesProc::new("fifo-check", 0);
    p.push(diff_bytes("the first 100 bytes of the FIFO", &first, &pipe_stream(true, 0, 100)));
    rst_ready_line(&format!("\"fds\": [{r}, {w}], \"path\": \"{path}\""));
    p.ready();
    p.wait_go();
    let want = stat_path(&path).map(|s| (s.st_dev, s.st_ino));
    for fd in [r, w] {
        let got = fstat(fd).map(|s| (s.st_dev, s.st_ino, s.st_mode & libc::S_IFMT));
        p.check(got.is_some_and(|g| Some((g.0, g.1)) == want && g.2 == libc::S_IFIFO), || {
            format!("fd {fd}: {got:?}, want the FIFO {path} {want:?}")
        });
    }
    let now = pipe_size(r);
    p.check(now == cap, || format!("fd {r}: F_GETPIPE_SZ {now}, want {cap}"));
    match read_upto(r, 8000) {
        Ok(b) => p.push(diff_bytes("the FIFO's data after the restart", &b, &pipe_stream(true, 100, 5000))),
        Err(e) => p.errs.push(e),
    }
    write_all(w, b"after", "write the fifo");
    match read_upto(r, 100) {
        Ok(b) => p.push(diff_bytes("bytes written to the FIFO after the restart", &b, b"after")),
        Err(e) => p.errs.push(e),
    }
    p.verdict()
}

fn getcwd() -> String {
    std::env::current_dir().map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|e| format!("<{e}>"))
}

fn umask_now() -> u32 {
    // SAFETY: umask(2) twice: read and put back.
    unsafe {
        let m = libc::umask(0);
        libc::umask(m);
        m as u32
    }
}

/// `fs-check DIR [chroot]`: the parent works in a 16-level directory
/// under DIR with umask 027, its child in another (DIR/x/y/z) with umask
/// 077; with `chroot` both are chrooted into DIR first (the paths are then
/// below the new root). After go each checks its cwd (getcwd and the
/// inode of "."), its root (the inode of "/"), its umask, and the mode of
/// a file it creates.
fn fs_check(dir: &str, chroot: bool) -> ! {
    let deep: String = (0..16).map(|i| format!("/level-{i:02}-abcdefghijklmnopqrstuvwxyz")).collect();
    if let Err(e) = std::fs::create_dir_all(format!("{dir}{deep}")).and_then(|()| std::fs::create_dir_all(format!("{dir}/x/y/z"))) {
        eprintln!("cptrst-testprog fs-check: {dir}: {e}");
        std::process::exit(2);
    }
    let enter = |sub: &str| {
        let (where_, c) = if chroot {
            let d = cpath(dir);
            // SAFETY: chroot(2) with a NUL-terminated path (the test runs as root).
            sys(unsafe { libc::chroot(d.as_ptr()) } as i64, "chroot");
            (sub.to_string(), cpath(sub))
        } else {
            (format!("{dir}{sub}"), cpath(&format!("{dir}{sub}")))
        };
        // SAFETY: chdir(2) with a NUL-terminated path.
        sys(unsafe { libc::chdir(c.as_ptr()) } as i64, &format!("chdir {where_}"));
        where_
    };
    let (rd, wr) = setup_pipe();
    let child = fork_child();
    let (idx, cwd, mask) = if child == 0 { (1, enter("/x/y/z"), 0o077) } else { (0, enter(&deep), 0o027) };
    // SAFETY: umask(2).
    unsafe { libc::umask(mask) };
    let dot = stat_path(".").map(|s| (s.st_dev, s.st_ino));
    let root = stat_path("/").map(|s| (s.st_dev, s.st_ino));
    let mut p = FilesProc::new("fs-check", idx);
    if child == 0 {
        child_noted(rd, wr, 1);
    } else {
        let notes = setup_collect(rd, wr, 1);
        rst_ready_line(&format!("\"pids\": [{}, {}], \"cwd\": \"{cwd}\", \"chroot\": {chroot}", std::process::id(), notes[0][1]));
    }
    p.ready();
    p.wait_go();
    let now = getcwd();
    p.check(now == cwd, || format!("getcwd() {now:?}, want {cwd:?}"));
    let d = stat_path(".").map(|s| (s.st_dev, s.st_ino));
    p.check(d == dot, || format!("\".\" is inode {d:?}, want {dot:?}"));
    let r = stat_path("/").map(|s| (s.st_dev, s.st_ino));
    p.check(r == root, || format!("\"/\" is inode {r:?}, want {root:?}{}", if chroot { " (the chroot)" } else { "" }));
    let m = umask_now();
    p.check(m == mask, || format!("umask {m:#o}, want {mask:#o}"));
    let name = format!("new-{idx}");
    let _ = std::fs::remove_file(&name);
    let f = open_at(&name, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC, -1);
    let mode = fstat(f).map_or(0, |s| s.st_mode & 0o777);
    // SAFETY: close of our fd.
    unsafe { libc::close(f) };
    let _ = std::fs::remove_file(&name);
    p.check(mode == 0o644 & !mask, || format!("a file created with mode 0644 has {mode:#o}, want {:#o}", 0o644 & !mask));
    if child != 0 {
        let mut cerrs = Vec::new();
        reap_children(&[(1, child)], &mut cerrs);
        p.errs.extend(cerrs);
    }
    p.verdict()
}

/// `fdflags-check PATH`: PATH (8 KiB) open at fds with chosen numbers,
/// FD_CLOEXEC and status flags: 10 read-only FD_CLOEXEC and its dup 11
/// without, 12 O_WRONLY | O_APPEND, 13 O_RDWR | O_NONBLOCK, 14 O_RDONLY |
/// O_NOATIME, 15 O_RDWR | O_DSYNC, 16 O_RDWR | O_SYNC, 700 O_RDWR |
/// O_APPEND | O_NOATIME FD_CLOEXEC, 701 PATH's directory O_DIRECTORY, 702
/// PATH O_PATH FD_CLOEXEC, a pipe at 40 (O_NONBLOCK, FD_CLOEXEC) and 41; each at its own position.
/// After go: the snapshot (fd numbers, flags, positions), and 10 and 11
/// still one open file.
fn fdflags_check(path: &str) -> ! {
    let data = file_bytes(0x71, 8192);
    if let Err(e) = std::fs::write(path, &data) {
        eprintln!("cptrst-testprog: {path}: {e}");
        std::process::exit(2);
    }
    let a = open_at(path, libc::O_RDONLY | libc::O_CLOEXEC, 10);
    // SAFETY: dup of our fd (no FD_CLOEXEC).
    let b = move_fd(sys(unsafe { libc::dup(a) } as i64, "dup") as i32, 11, false);
    let mut fds = vec![
        a,
        b,
        open_at(path, libc::O_WRONLY | libc::O_APPEND, 12),
        open_at(path, libc::O_RDWR | libc::O_NONBLOCK, 13),
        open_at(path, libc::O_RDONLY | libc::O_NOATIME, 14),
        open_at(path, libc::O_RDWR | libc::O_DSYNC, 15),
        open_at(path, libc::O_RDWR | libc::O_SYNC, 16),
        open_at(path, libc::O_RDWR | libc::O_APPEND | libc::O_NOATIME | libc::O_CLOEXEC, 700),
    ];
    let parent = std::path::Path::new(path).parent().map_or("/".into(), |p| p.to_string_lossy().into_owned());
    fds.push(open_at(&parent, libc::O_RDONLY | libc::O_DIRECTORY, 701));
    fds.push(open_at(path, libc::O_PATH | libc::O_CLOEXEC, 702));
    for (i, &fd) in fds.iter().enumerate() {
        if fd < 701 && fd != b {
            // SAFETY: lseek on our fd.
            unsafe { libc::lseek(fd, (i * 111) as i64, libc::SEEK_SET) };
        }
    }
    let mut pp = [0i32; 2];
    // SAFETY: pipe2(2) into a local array.
    sys(unsafe { libc::pipe2(pp.as_mut_ptr(), libc::O_NONBLOCK) } as i64, "pipe2");
    let pr = move_fd(pp[0], 40, true);
    // SAFETY: clearing O_NONBLOCK on the write end.
    unsafe { libc::fcntl(pp[1], libc::F_SETFL, 0) };
    let pw = move_fd(pp[1], 41, false);
    write_all(pw, b"flags", "write the pipe");
    fds.extend([pr, pw]);
    let mut p = FilesProc::new("fdflags-check", 0);
    rst_ready_line(&format!("\"fds\": {fds:?}, \"path\": \"{path}\""));
    p.ready();
    p.wait_go();
    // SAFETY: lseek on our fd.
    unsafe { libc::lseek(b, 4321, libc::SEEK_SET) };
    let pos = lseek_cur(a);
    p.check(pos == 4321, || format!("fd {a}: position {pos} after a seek through its dup fd {b}: not one open file"));
    match read_upto(pr, 100) {
        Ok(got) => p.push(diff_bytes(&format!("the pipe at fd {pr}"), &got, b"flags")),
        Err(e) => p.errs.push(e),
    }
    p.verdict()
}

/// `threads-check-files`: a thread beside the main one (one fd table, one
/// fs context). After go (and the main thread's snapshot) the thread
/// opens /dev/zero at fd 50, makes
/// DIR/thread-cwd its cwd and sets umask 037, and exits; the main thread
/// then sees fd 50, that cwd and that umask: the table and the fs context
/// are still shared.
fn threads_check_files(dir: &str) -> ! {
    let sub = format!("{dir}/thread-cwd");
    if let Err(e) = std::fs::create_dir_all(&sub) {
        eprintln!("cptrst-testprog: {sub}: {e}");
        std::process::exit(2);
    }
    let mut p = FilesProc::new("threads-check-files", 0);
    let s2 = sub.clone();
    static SNAPPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let t = std::thread::spawn(move || {
        // After go, and after the main thread's snapshot.
        while !SNAPPED.load(std::sync::atomic::Ordering::Acquire) {
            std::thread::sleep(TREE_POLL);
        }
        let fd = open_at("/dev/zero", libc::O_RDONLY, 50);
        let c = cpath(&s2);
        // SAFETY: chdir and umask: shared with the main thread (CLONE_FS).
        unsafe {
            libc::chdir(c.as_ptr());
            libc::umask(0o037);
        }
        fd
    });
    let tid = loop {
        // The thread's tid, for the ready line: the test waits for it too.
        let tasks: Vec<String> = std::fs::read_dir("/proc/self/task")
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned())).collect())
            .unwrap_or_default();
        if tasks.len() == 2 {
            break tasks.into_iter().find(|t| t != &std::process::id().to_string()).unwrap_or_default();
        }
        std::thread::sleep(TREE_POLL);
    };
    rst_ready_line(&format!("\"tid\": {tid}, \"dir\": \"{dir}\""));
    p.ready();
    p.wait_go();
    SNAPPED.store(true, std::sync::atomic::Ordering::Release);
    match t.join() {
        Ok(fd) => {
            let st = fstat(fd);
            p.check(fd == 50 && st.is_some_and(|s| s.st_rdev == libc::makedev(1, 5)), || {
                format!("the thread's fd {fd} is {:?} in the main thread, want /dev/zero: the fd table is not shared", st.map(|s| s.st_rdev))
            });
        }
        Err(_) => p.errs.push("the thread panicked".into()),
    }
    let cwd = getcwd();
    p.check(cwd == sub, || format!("getcwd() {cwd:?} after the thread's chdir to {sub:?}: the fs context is not shared"));
    let m = umask_now();
    p.check(m == 0o037, || format!("umask {m:#o} after the thread's umask(037): the fs context is not shared"));
    p.verdict()
}

/// `devices-check`: /dev/null (write-only, fd 20), /dev/zero (read-only,
/// 21), /dev/urandom (22), /dev/full (read-write, 23), /dev/random
/// (O_NONBLOCK, 24). After go: the snapshot (device numbers, flags), /dev/zero
/// reads zeros, /dev/urandom reads something else, /dev/full refuses a
/// write (ENOSPC), /dev/null takes one and refuses a read (write-only: EBADF).
fn devices_check() -> ! {
    let null = open_at("/dev/null", libc::O_WRONLY, 20);
    let zero = open_at("/dev/zero", libc::O_RDONLY, 21);
    let urandom = open_at("/dev/urandom", libc::O_RDONLY, 22);
    let full = open_at("/dev/full", libc::O_RDWR, 23);
    let random = open_at("/dev/random", libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC, 24);
    let mut p = FilesProc::new("devices-check", 0);
    rst_ready_line(&format!("\"fds\": [{null}, {zero}, {urandom}, {full}, {random}]"));
    p.ready();
    p.wait_go();
    for (fd, minor) in [(null, 3), (zero, 5), (urandom, 9), (full, 7), (random, 8)] {
        let st = fstat(fd);
        let ok = st.is_some_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFCHR && s.st_rdev == libc::makedev(1, minor));
        p.check(ok, || format!("fd {fd}: {:?}, want character device 1:{minor}", st.map(|s| (s.st_mode, s.st_rdev))));
    }
    match read_upto(zero, 4096) {
        Ok(b) => p.check(b.len() == 4096 && b.iter().all(|&x| x == 0), || format!("/dev/zero (fd {zero}): {} bytes, not all zero", b.len())),
        Err(e) => p.errs.push(e),
    }
    match read_upto(urandom, 64) {
        Ok(b) => p.check(b.len() == 64 && b.iter().any(|&x| x != 0), || format!("/dev/urandom (fd {urandom}): {} bytes, all zero", b.len())),
        Err(e) => p.errs.push(e),
    }
    // SAFETY: write(2) of one byte from a constant.
    let r = unsafe { libc::write(full, [1u8].as_ptr().cast(), 1) };
    let e = std::io::Error::last_os_error().raw_os_error();
    p.check(r < 0 && e == Some(libc::ENOSPC), || format!("a write to /dev/full (fd {full}): {r} (errno {e:?}), want ENOSPC"));
    // SAFETY: write(2) of one byte from a constant.
    let r = unsafe { libc::write(null, [1u8].as_ptr().cast(), 1) };
    p.check(r == 1, || format!("a write to /dev/null (fd {null}): {r}: {}", std::io::Error::last_os_error()));
    let mut x = [0u8; 1];
    // SAFETY: read(2) of one byte into a local.
    let r = unsafe { libc::read(null, x.as_mut_ptr().cast(), 1) };
    let e = std::io::Error::last_os_error().raw_os_error();
    p.check(r < 0 && e == Some(libc::EBADF), || format!("a read of write-only /dev/null (fd {null}): {r} (errno {e:?}), want EBADF"));
    p.verdict()
}

/// `eventfd-check`: an eventfd (counter 5) at fd 9: a checkpoint must
/// refuse it (EOPNOTSUPP). After go (the refused checkpoint let it run
/// on): the counter reads 5.
fn eventfd_check() -> ! {
    // SAFETY: eventfd(2).
    let ev = move_fd(sys(unsafe { libc::eventfd(5, 0) } as i64, "eventfd") as i32, 9, false);
    rst_ready_line(&format!("\"fd\": {ev}"));
    rst_set_ready();
    tree_wait_go();
    let mut v = [0u8; 8];
    // SAFETY: read(2) of the 8-byte counter into a local.
    let n = unsafe { libc::read(ev, v.as_mut_ptr().cast(), 8) };
    let got = u64::from_ne_bytes(v);
    let errs = if n == 8 && got == 5 { Vec::new() } else { vec![format!("eventfd at fd {ev}: read {n} bytes, counter {got}, want 5")] };
    rst_verdict("eventfd-check", &errs)
}

/// `inherit-check FD`: FD is open when it starts (the test gives it a
/// pipe whose other end it keeps: an fd from outside the tree). After go:
/// FD is a pipe (arg 1) or /dev/null (arg 2), and takes a line.
fn inherit_check(fd: i32) -> ! {
    if getfd(fd) < 0 {
        eprintln!("cptrst-testprog inherit-check: fd {fd} is not open");
        std::process::exit(2);
    }
    rst_ready_line(&format!("\"fd\": {fd}"));
    rst_set_ready();
    tree_wait_go();
    let mut errs = Vec::new();
    let st = fstat(fd);
    let kind = st.map_or(0, |s| s.st_mode & libc::S_IFMT);
    match rst_arg() {
        1 if kind != libc::S_IFIFO => errs.push(format!("fd {fd} is {} ({kind:#o}), want a pipe", readlink_fd(fd))),
        2 if !(kind == libc::S_IFCHR && st.is_some_and(|s| s.st_rdev == libc::makedev(1, 3))) => {
            errs.push(format!("fd {fd} is {}, want /dev/null", readlink_fd(fd)))
        }
        _ => {}
    }
    let msg = b"cptrst-inherit-ok\n";
    // SAFETY: write(2) from a constant.
    let n = unsafe { libc::write(fd, msg.as_ptr().cast(), msg.len()) };
    if n != msg.len() as isize {
        errs.push(format!("a write to fd {fd}: {n}: {}", std::io::Error::last_os_error()));
    }
    rst_verdict("inherit-check", &errs)
}

/// `cycle-check DIR`: a pipe pair (1000 bytes in it, read end O_NONBLOCK),
/// DIR/cptrst-cycle (4 KiB, at position 100) and a memfd (2000 bytes);
/// fds 1 and 2 become /dev/null after the ready line, so that every fd
/// is of the tree (the test restarts it again and again with --detach).
/// After go: the pipe's data, the file's position and content, the
/// memfd's name and content.
fn cycle_check(dir: &str) -> ! {
    let path = format!("{dir}/cptrst-cycle");
    let data = file_bytes(0x73, 4096);
    if let Err(e) = std::fs::write(&path, &data) {
        eprintln!("cptrst-testprog: {path}: {e}");
        std::process::exit(2);
    }
    let f = open_at(&path, libc::O_RDWR, 6);
    // SAFETY: lseek on our fd.
    unsafe { libc::lseek(f, 100, libc::SEEK_SET) };
    let mut pp = [0i32; 2];
    // SAFETY: pipe(2) into a local array.
    sys(unsafe { libc::pipe(pp.as_mut_ptr()) } as i64, "pipe");
    let pr = move_fd(pp[0], 7, false);
    let pw = move_fd(pp[1], 8, false);
    // SAFETY: F_SETFL on our fd.
    unsafe { libc::fcntl(pr, libc::F_SETFL, libc::O_NONBLOCK) };
    write_all(pw, &pipe_stream(false, 0, 1000), "write the pipe");
    let m = move_fd(memfd("cptrst-cycle", 0), 9, false);
    let mdata = file_bytes(0x74, 2000);
    write_all(m, &mdata, "write the memfd");
    rst_ready_line(&format!("\"fds\": [{f}, {pr}, {pw}, {m}]"));
    // SAFETY: fds 1 and 2 onto /dev/null: nothing is printed after this.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            libc::close(null);
        }
    }
    let mut p = FilesProc::new("cycle-check", 0);
    p.ready();
    p.wait_go();
    match read_upto(pr, 2000) {
        Ok(b) => p.push(diff_bytes("the pipe's data", &b, &pipe_stream(false, 0, 1000))),
        Err(e) => p.errs.push(e),
    }
    let pos = lseek_cur(f);
    p.check(pos == 100, || format!("fd {f}: position {pos}, want 100"));
    match read_upto(f, 5000) {
        Ok(b) => p.push(diff_bytes(&format!("{path} from 100"), &b, &data[100..])),
        Err(e) => p.errs.push(e),
    }
    let link = readlink_fd(m);
    p.check(link.contains("memfd:cptrst-cycle"), || format!("fd {m}: {link:?}, want memfd:cptrst-cycle"));
    // SAFETY: lseek on our fd.
    unsafe { libc::lseek(m, 0, libc::SEEK_SET) };
    match read_upto(m, 5000) {
        Ok(b) => p.push(diff_bytes("the memfd's content", &b, &mdata)),
        Err(e) => p.errs.push(e),
    }
    // The verdict goes to /dev/null: the test has the exit status.
    p.verdict()
}

/// Raises the soft RLIMIT_NOFILE to the hard limit.
fn raise_nofile() {
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a local.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur = rl.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
    }
}

/// `open-files-check N DIR`: N regular files DIR/f-I (created, 100 + I %
/// 900 bytes each), each open read-write at fd 3 + I, at position I % 97.
/// After go: every fd's position and the file's content from there.
fn open_files_check(n: usize, dir: &str) -> ! {
    raise_nofile();
    let _ = std::fs::create_dir_all(dir);
    let content = |i: usize| -> Vec<u8> { (0..100 + i % 900).map(|j| (i * 31 + j * 7) as u8).collect() };
    let mut fds = Vec::with_capacity(n);
    for i in 0..n {
        let path = format!("{dir}/f-{i}");
        if let Err(e) = std::fs::write(&path, content(i)) {
            eprintln!("cptrst-testprog: {path}: {e}");
            std::process::exit(2);
        }
        let fd = open_at(&path, libc::O_RDWR, 3 + i as i32);
        // SAFETY: lseek on our fd.
        unsafe { libc::lseek(fd, (i % 97) as i64, libc::SEEK_SET) };
        fds.push(fd);
    }
    rst_ready_line(&format!("\"files\": {n}"));
    rst_set_ready();
    tree_wait_go();
    let mut errs = Vec::new();
    for (i, &fd) in fds.iter().enumerate() {
        let pos = lseek_cur(fd);
        if pos != (i % 97) as i64 {
            errs.push(format!("fd {fd}: position {pos}, want {}", i % 97));
            continue;
        }
        match read_upto(fd, 2000) {
            Ok(b) => errs.extend(diff_bytes(&format!("fd {fd} ({dir}/f-{i})"), &b, &content(i)[i % 97..])),
            Err(e) => errs.push(e),
        }
        if errs.len() > 10 {
            break;
        }
    }
    rst_verdict("open-files-check", &errs)
}

/// Byte `i` of what pipeline process `k` writes to the next one.
fn pipeline_byte(k: usize, i: usize) -> u8 {
    ((i as u64).wrapping_mul(2654435761) >> 11) as u8 ^ (k as u8).wrapping_mul(29)
}

/// `pipeline-check N BYTES`: N processes (the root and N - 1 children),
/// process K writing into a pipe to process K + 1 (N - 1 pipes, capacity
/// raised so that each holds its share), BYTES bytes in the pipes in all,
/// nobody reading before go. After go each closes its write end, reads its
/// input to EOF and checks it; the root reaps the children.
fn pipeline_check(n: usize, bytes: usize) -> ! {
    let pipes = n.saturating_sub(1).max(1);
    let share = bytes / pipes;
    let cap = share.next_power_of_two().max(65536) as i32;
    let mut ends = Vec::with_capacity(pipes);
    for _ in 0..pipes {
        let mut pp = [0i32; 2];
        // SAFETY: pipe(2) into a local array; F_SETPIPE_SZ on it.
        unsafe {
            sys(libc::pipe(pp.as_mut_ptr()) as i64, "pipe");
            sys(libc::fcntl(pp[1], libc::F_SETPIPE_SZ, cap) as i64, "F_SETPIPE_SZ");
        }
        ends.push(pp);
    }
    let len = |k: usize| if k + 1 == pipes { bytes - share * (pipes - 1) } else { share };
    let (rd, wr) = setup_pipe();
    let mut idx = 0;
    let mut children = Vec::new();
    for k in 1..n {
        let c = fork_child();
        if c == 0 {
            idx = k;
            children.clear();
            break;
        }
        children.push((k, c));
    }
    // Keep the read end of pipe idx - 1 and the write end of pipe idx.
    let mut input = -1;
    let mut output = -1;
    for (j, pp) in ends.iter().enumerate() {
        // SAFETY: closing the ends this process does not use.
        unsafe {
            if j + 1 == idx {
                input = pp[0];
            } else {
                libc::close(pp[0]);
            }
            if j == idx && n > 1 {
                output = pp[1];
            } else {
                libc::close(pp[1]);
            }
        }
    }
    if output >= 0 {
        let data: Vec<u8> = (0..len(idx)).map(|i| pipeline_byte(idx, i)).collect();
        write_all(output, &data, "write the pipeline");
    }
    if idx == 0 {
        let notes = setup_collect(rd, wr, n - 1);
        let pids: Vec<u32> = std::iter::once(std::process::id()).chain(notes.iter().map(|x| x[1])).collect();
        rst_ready_line(&format!("\"pids\": {pids:?}, \"bytes\": {bytes}"));
    } else {
        child_noted(rd, wr, idx as u32);
    }
    rst_set_ready();
    tree_wait_go();
    let mut errs = Vec::new();
    if output >= 0 {
        // SAFETY: closing our write end: the next process sees EOF.
        unsafe { libc::close(output) };
    }
    if input >= 0 {
        let want: Vec<u8> = (0..len(idx - 1)).map(|i| pipeline_byte(idx - 1, i)).collect();
        match read_to_eof(input) {
            Ok(b) => errs.extend(diff_bytes(&format!("process {idx}: its input pipe"), &b, &want)),
            Err(e) => errs.push(format!("process {idx}: {e}")),
        }
    }
    reap_children(&children, &mut errs);
    rst_verdict("pipeline-check", &errs)
}

// ---------------------------------------------------------------------------
// Signals, timers, resource limits and credentials (issue 15,
// kselftest-signals). Each workload sets its state up, takes a snapshot of
// what it can read back of it, sets its ready word and waits for go; then
// it compares, and checks what the state must still do (a handler runs, a
// pending signal arrives with its siginfo, a timer fires, a limit holds).
// Times are CLOCK_MONOTONIC nanoseconds, shared with the test: a lower
// bound the test computes from the image comes in `arg`; no upper bound
// but a generous wait (a busy emulator delivers late, never early).
// ---------------------------------------------------------------------------

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering::SeqCst};

/// How long a workload waits for a signal or a timer after go.
const SIG_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

type SigHandler = extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void);

/// The kernel's `struct sigaction` (x86_64): what `rt_sigaction` reads and
/// writes, for every signal 1-64 (glibc's hides 32 and 33).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct KSigaction {
    handler: u64,
    flags: u64,
    restorer: u64,
    mask: u64,
}

fn sig_name(sig: i32) -> String {
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT",
        "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    match sig {
        1..=31 => format!("SIG{}", NAMES[sig as usize - 1]),
        _ => format!("signal {sig}"),
    }
}

fn gettid() -> i32 {
    // SAFETY: gettid(2) has no arguments.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

fn sig_set(sigs: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset on a local set.
    unsafe {
        let mut s: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut s);
        for &g in sigs {
            libc::sigaddset(&mut s, g);
        }
        s
    }
}

/// Blocks (`SIG_BLOCK`) or unblocks (`SIG_UNBLOCK`) `sigs` in this thread.
fn sig_mask(how: i32, sigs: &[i32]) {
    let s = sig_set(sigs);
    // SAFETY: pthread_sigmask with a set built here.
    unsafe { libc::pthread_sigmask(how, &s, std::ptr::null_mut()) };
}

/// Installs `handler` for `sig` (SA_SIGINFO | `flags`), every signal
/// blocked while it runs if `mask_all` (queued signals are then handled
/// one after the other, in the order they are dequeued).
fn sig_install(sig: i32, handler: SigHandler, flags: i32, mask_all: bool) {
    // SAFETY: sigaction(2) with a struct built here.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as usize;
        sa.sa_flags = libc::SA_SIGINFO | flags;
        if mask_all {
            libc::sigfillset(&mut sa.sa_mask);
        } else {
            libc::sigemptyset(&mut sa.sa_mask);
        }
        sys(libc::sigaction(sig, &sa, std::ptr::null_mut()) as i64, &format!("sigaction {sig}"));
    }
}

fn sig_ignore(sig: i32) {
    // SAFETY: signal(2) with SIG_IGN.
    unsafe { libc::signal(sig, libc::SIG_IGN) };
}

/// The kernel's view of every signal's action (1-64).
fn kernel_actions() -> Vec<KSigaction> {
    (1..=64)
        .map(|sig: i32| {
            let mut a = KSigaction::default();
            // SAFETY: an rt_sigaction query into a local of the kernel's layout.
            unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, std::ptr::null::<KSigaction>(), &mut a as *mut KSigaction, 8) };
            a
        })
        .collect()
}

fn compare_actions(before: &[KSigaction], after: &[KSigaction]) -> Vec<String> {
    before
        .iter()
        .zip(after)
        .enumerate()
        .filter(|(_, (b, a))| b != a)
        .map(|(i, (b, a))| format!("{}: action {a:x?}, want {b:x?}", sig_name(i as i32 + 1)))
        .collect()
}

/// A hex field (`SigPnd:`, `ShdPnd:`, `SigIgn:`, `SigCgt:`, `SigBlk:`) of
/// a /proc status file.
fn status_hex(path: &str, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| u64::from_str_radix(v.trim(), 16).ok()))
        .unwrap_or(u64::MAX)
}

fn sig_bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

/// A 32-bit field of a siginfo at byte `off` (0 si_signo, 8 si_code, 16
/// si_pid / si_tid (timer id), 20 si_uid / si_overrun).
fn si_i32(info: *const libc::siginfo_t, off: usize) -> i32 {
    // SAFETY: siginfo_t is 128 bytes; every caller's off + 4 <= 128.
    unsafe { (info as *const u8).add(off).cast::<i32>().read_unaligned() }
}

/// The si_value (sival_ptr) of a siginfo (byte 24).
fn si_value(info: *const libc::siginfo_t) -> u64 {
    // SAFETY: as si_i32; 24 + 8 <= 128.
    unsafe { (info as *const u8).add(24).cast::<u64>().read_unaligned() }
}

fn sigval(v: u64) -> libc::sigval {
    libc::sigval { sival_ptr: v as usize as *mut libc::c_void }
}

/// `sigqueue(pid, sig, value)`: to the process (its shared queue).
fn queue_to(pid: i32, sig: i32, value: u64) {
    // SAFETY: sigqueue(3) with a value.
    sys(unsafe { libc::sigqueue(pid, sig, sigval(value)) } as i64, &format!("sigqueue {sig}"));
}

/// `rt_tgsigqueueinfo(getpid(), tid, sig, {SI_QUEUE, value})`: to one
/// thread of ours (its private queue).
fn queue_to_thread(tid: i32, sig: i32, value: u64) {
    let mut info = [0u8; 128];
    let pid = std::process::id() as i32;
    // SAFETY: getuid has no arguments.
    let uid = unsafe { libc::getuid() };
    info[0..4].copy_from_slice(&sig.to_ne_bytes());
    info[8..12].copy_from_slice(&libc::SI_QUEUE.to_ne_bytes());
    info[16..20].copy_from_slice(&pid.to_ne_bytes());
    info[20..24].copy_from_slice(&uid.to_ne_bytes());
    info[24..32].copy_from_slice(&value.to_ne_bytes());
    // SAFETY: rt_tgsigqueueinfo with a 128-byte siginfo.
    let r = unsafe { libc::syscall(libc::SYS_rt_tgsigqueueinfo, pid, tid, sig, info.as_ptr()) };
    sys(r, &format!("rt_tgsigqueueinfo {sig} to {tid}"));
}

fn tgkill(tid: i32, sig: i32) {
    // SAFETY: tgkill(2) of a thread of ours.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, std::process::id() as i32, tid, sig) };
    sys(r, &format!("tgkill {sig} to {tid}"));
}

/// `sigtimedwait(sigs, timeout)`: the signal and its siginfo, or None.
fn sig_wait(sigs: &[i32], timeout: std::time::Duration) -> Option<(i32, libc::siginfo_t)> {
    let s = sig_set(sigs);
    let ts = libc::timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: timeout.subsec_nanos() as i64 };
    // SAFETY: sigtimedwait(2) into a zeroed local siginfo.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::sigtimedwait(&s, &mut info, &ts);
        (r > 0).then_some((r, info))
    }
}

fn mono_ns() -> u64 {
    monotonic().as_nanos() as u64
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

/// Waits until `done()` (polling every 5 ms) for at most [`SIG_WAIT`];
/// false if it never was.
fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let t0 = std::time::Instant::now();
    while !done() {
        if t0.elapsed() > SIG_WAIT {
            return false;
        }
        sleep_ms(5);
    }
    true
}

/// What the recording handler saw: signal, code, pid (or timer id),
/// uid (or overrun), value, tid of the thread that ran it, its stack
/// address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Seen {
    sig: i32,
    code: i32,
    pid: i32,
    uid: i32,
    value: u64,
    tid: i32,
    sp: u64,
    at_ns: u64,
}

const SEEN_MAX: usize = 64;
static SEEN_N: AtomicU32 = AtomicU32::new(0);
static mut SEEN: [Seen; SEEN_MAX] = [Seen { sig: 0, code: 0, pid: 0, uid: 0, value: 0, tid: 0, sp: 0, at_ns: 0 }; SEEN_MAX];

/// A handler that records each signal it runs for in [`SEEN`]
/// (async-signal-safe: an atomic slot, raw gettid and clock_gettime).
extern "C" fn record(sig: i32, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let here = 0u8;
    let i = SEEN_N.fetch_add(1, SeqCst) as usize;
    if i >= SEEN_MAX {
        return;
    }
    let s = Seen {
        sig,
        code: si_i32(info, 8),
        pid: si_i32(info, 16),
        uid: si_i32(info, 20),
        value: si_value(info),
        tid: gettid(),
        sp: std::ptr::addr_of!(here) as u64,
        at_ns: mono_ns(),
    };
    // SAFETY: slot i is this handler's alone (the atomic counter).
    unsafe { std::ptr::addr_of_mut!(SEEN[i]).write_volatile(s) };
}

/// What [`record`] saw so far.
fn seen() -> Vec<Seen> {
    let n = (SEEN_N.load(SeqCst) as usize).min(SEEN_MAX);
    // SAFETY: slots below the counter are written (a handler in progress
    // on another thread is waited for by the callers' own logic).
    (0..n).map(|i| unsafe { std::ptr::addr_of!(SEEN[i]).read_volatile() }).collect()
}

fn seen_of(sig: i32) -> Vec<Seen> {
    seen().into_iter().filter(|s| s.sig == sig).collect()
}

/// The last `sig` [`record`] saw in the calling thread (a tgkill to
/// itself runs its handler before the call returns).
fn seen_in_thread(sig: i32) -> Option<Seen> {
    let me = gettid();
    seen_of(sig).into_iter().rev().find(|s| s.tid == me)
}

/// Waits until [`record`] has seen `n` signals `sig`.
fn wait_seen(sig: i32, n: usize) -> bool {
    wait_until(|| seen_of(sig).len() >= n)
}

/// Raw POSIX timer calls (the kernel's int ids; glibc has no wrapper
/// for SIGEV_THREAD_ID without its own thread ids).
fn timer_create(clock: i32, notify: i32, sig: i32, value: u64, tid: i32) -> i32 {
    // SAFETY: a zeroed sigevent, fields set.
    let mut ev: libc::sigevent = unsafe { std::mem::zeroed() };
    ev.sigev_notify = notify;
    ev.sigev_signo = sig;
    ev.sigev_value = sigval(value);
    ev.sigev_notify_thread_id = tid;
    let mut id = -1i32;
    // SAFETY: timer_create(2) with a sigevent and an int for the id.
    let r = unsafe { libc::syscall(libc::SYS_timer_create, clock, &ev as *const libc::sigevent, &mut id as *mut i32) };
    sys(r, "timer_create");
    id
}

fn ts_of(ns: u64) -> libc::timespec {
    libc::timespec { tv_sec: (ns / 1_000_000_000) as i64, tv_nsec: (ns % 1_000_000_000) as i64 }
}

fn ns_of(t: &libc::timespec) -> u64 {
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn timer_set(id: i32, value_ns: u64, interval_ns: u64) {
    let new = libc::itimerspec { it_interval: ts_of(interval_ns), it_value: ts_of(value_ns) };
    // SAFETY: timer_settime(2), relative, with a local itimerspec.
    let r = unsafe { libc::syscall(libc::SYS_timer_settime, id, 0, &new as *const libc::itimerspec, std::ptr::null_mut::<libc::itimerspec>()) };
    sys(r, "timer_settime");
}

/// (remaining, interval) of timer `id`, None if there is no such timer.
fn timer_get(id: i32) -> Option<(u64, u64)> {
    let mut cur = libc::itimerspec { it_interval: ts_of(0), it_value: ts_of(0) };
    // SAFETY: timer_gettime(2) into a local.
    let r = unsafe { libc::syscall(libc::SYS_timer_gettime, id, &mut cur as *mut libc::itimerspec) };
    (r == 0).then(|| (ns_of(&cur.it_value), ns_of(&cur.it_interval)))
}

fn timer_overrun(id: i32) -> i64 {
    // SAFETY: timer_getoverrun(2).
    unsafe { libc::syscall(libc::SYS_timer_getoverrun, id) }
}

fn timer_delete(id: i32) {
    // SAFETY: timer_delete(2).
    sys(unsafe { libc::syscall(libc::SYS_timer_delete, id) }, "timer_delete");
}

fn itimer_get(which: i32) -> (u64, u64) {
    let mut v = libc::itimerval { it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 }, it_value: libc::timeval { tv_sec: 0, tv_usec: 0 } };
    // SAFETY: getitimer(2) into a local.
    unsafe { libc::getitimer(which as _, &mut v) };
    let ns = |t: &libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    (ns(&v.it_value), ns(&v.it_interval))
}

fn itimer_set(which: i32, value_ns: u64, interval_ns: u64) {
    let tv = |ns: u64| libc::timeval { tv_sec: (ns / 1_000_000_000) as i64, tv_usec: ((ns % 1_000_000_000) / 1000) as i64 };
    let v = libc::itimerval { it_interval: tv(interval_ns), it_value: tv(value_ns) };
    // SAFETY: setitimer(2) with a local.
    sys(unsafe { libc::setitimer(which as _, &v, std::ptr::null_mut()) } as i64, "setitimer");
}

/// Starts a thread running `f` and waits until it has told its tid.
fn spawn_thread(f: impl FnOnce() -> Vec<String> + Send + 'static) -> (std::thread::JoinHandle<Vec<String>>, i32) {
    let tid = std::sync::Arc::new(AtomicI32::new(0));
    let t2 = tid.clone();
    let h = std::thread::spawn(move || {
        t2.store(gettid(), SeqCst);
        f()
    });
    while tid.load(SeqCst) == 0 {
        sleep_ms(1);
    }
    (h, tid.load(SeqCst))
}

fn join(h: std::thread::JoinHandle<Vec<String>>, what: &str, errs: &mut Vec<String>) {
    match h.join() {
        Ok(e) => errs.extend(e.into_iter().map(|e| format!("{what}: {e}"))),
        Err(_) => errs.push(format!("{what} panicked")),
    }
}

/// A second u64 the test may write before go (its address `arg2` in the
/// ready line): the CLOCK_MONOTONIC time its restart started.
static SIG_ARG2: AtomicU64 = AtomicU64::new(0);

/// The ready line with `arg2` in it.
fn sig_ready_line(extra: &str) {
    let a2 = format!("\"arg2\": {}", std::ptr::addr_of!(SIG_ARG2) as usize);
    rst_ready_line(&if extra.is_empty() { a2 } else { format!("{a2}, {extra}") });
}

fn sig_arg2() -> u64 {
    SIG_ARG2.load(SeqCst)
}

/// Set when the test has said go: threads wait on it.
static SIG_GO: AtomicU32 = AtomicU32::new(0);

/// The main thread's wait for go, which it passes on to its threads.
fn sig_wait_go() {
    tree_wait_go();
    SIG_GO.store(1, SeqCst);
}

fn thread_wait_go() {
    while SIG_GO.load(SeqCst) == 0 {
        std::thread::sleep(TREE_POLL);
    }
}

/// `sigterm-check PATH`: a SIGTERM handler (SA_RESTART). After go the
/// test sends SIGTERM: the handler sets a flag and the program shuts down
/// cleanly, writing `cptrst-sigterm-ok` (or what went wrong) into PATH,
/// and exits 0 (the default action would kill it).
fn sigterm_check(path: &str) -> ! {
    let _ = std::fs::remove_file(path);
    sig_install(libc::SIGTERM, record, libc::SA_RESTART, false);
    let before = kernel_actions();
    rst_ready_line(&format!("\"path\": \"{path}\""));
    rst_set_ready();
    tree_wait_go();
    let mut errs = compare_actions(&before, &kernel_actions());
    if !wait_seen(libc::SIGTERM, 1) {
        errs.push(format!("no SIGTERM handled within {SIG_WAIT:?} after go"));
    }
    let text = if errs.is_empty() { "cptrst-sigterm-ok\n".to_string() } else { errs.join("\n") + "\n" };
    if let Err(e) = std::fs::write(path, text) {
        errs.push(format!("{path}: {e}"));
    }
    rst_verdict("sigterm-check", &errs)
}

const SIGINFO_RT: i32 = 35;
const SIGINFO_SELF_VALUE: u64 = 0x5151_0001;
const SIGINFO_THREAD_VALUE: u64 = 0x5151_0002;
/// The value the test queues after go (`sigqueue(PID, 35, ...)`); `arg`
/// is the test's pid.
const SIGINFO_TEST_VALUE: u64 = 0x7e57_7e57;

/// `siginfo-check`: SA_SIGINFO handlers (every signal masked while they
/// run) for SIGUSR1 and signal 35, both blocked; queued to itself: 35 by
/// sigqueue (SI_QUEUE, value SIGINFO_SELF_VALUE, shared queue), SIGUSR1
/// by rt_tgsigqueueinfo to its own thread (SI_QUEUE, SIGINFO_THREAD_VALUE,
/// private queue). After go it unblocks them; the test queues one more 35
/// (`arg` = its pid): the handlers must see each with its code, pid, uid
/// and value, the two 35s in queue order.
fn siginfo_check() -> ! {
    sig_install(libc::SIGUSR1, record, 0, true);
    sig_install(SIGINFO_RT, record, 0, true);
    sig_mask(libc::SIG_BLOCK, &[libc::SIGUSR1, SIGINFO_RT]);
    let pid = std::process::id() as i32;
    // SAFETY: getuid has no arguments.
    let uid = unsafe { libc::getuid() } as i32;
    queue_to(pid, SIGINFO_RT, SIGINFO_SELF_VALUE);
    queue_to_thread(gettid(), libc::SIGUSR1, SIGINFO_THREAD_VALUE);
    let before = kernel_actions();
    rst_ready_line(&format!("\"sig\": {SIGINFO_RT}, \"value\": {SIGINFO_TEST_VALUE}"));
    rst_set_ready();
    tree_wait_go();
    let mut errs = compare_actions(&before, &kernel_actions());
    let test_pid = rst_arg() as i32;
    sig_mask(libc::SIG_UNBLOCK, &[libc::SIGUSR1, SIGINFO_RT]);
    if !wait_seen(SIGINFO_RT, 2) {
        errs.push(format!("signal {SIGINFO_RT}: {} handled within {SIG_WAIT:?}, want 2: {:?}", seen_of(SIGINFO_RT).len(), seen()));
    }
    let want_rt = [(SI_QUEUE_CODE, pid, uid, SIGINFO_SELF_VALUE), (SI_QUEUE_CODE, test_pid, 0, SIGINFO_TEST_VALUE)];
    let got_rt: Vec<(i32, i32, i32, u64)> = seen_of(SIGINFO_RT).iter().map(|s| (s.code, s.pid, s.uid, s.value)).collect();
    if got_rt != want_rt {
        errs.push(format!("signal {SIGINFO_RT}: (code, pid, uid, value) {got_rt:x?}, want {want_rt:x?}"));
    }
    let got_usr1: Vec<(i32, i32, i32, u64)> = seen_of(libc::SIGUSR1).iter().map(|s| (s.code, s.pid, s.uid, s.value)).collect();
    let want_usr1 = [(SI_QUEUE_CODE, pid, uid, SIGINFO_THREAD_VALUE)];
    if got_usr1 != want_usr1 {
        errs.push(format!("SIGUSR1: (code, pid, uid, value) {got_usr1:x?}, want {want_usr1:x?}"));
    }
    rst_verdict("siginfo-check", &errs)
}

const SI_QUEUE_CODE: i32 = -1;
const SI_TIMER_CODE: i32 = -2;
const SI_TKILL_CODE: i32 = -6;
const SI_USER_CODE: i32 = 0;

/// The si_code of a tgkill(2): SI_TKILL (6.12; older kernels said SI_USER).
fn tkill_code(code: i32) -> bool {
    code == SI_TKILL_CODE || code == SI_USER_CODE
}

/// `sigign-check`: SIGPIPE ignored (as every Rust program has it), and
/// SIGHUP and SIGUSR2 too; a pipe. After go: the same actions (SigIgn has
/// the three), and they are still ignored: SIGUSR2 and SIGHUP sent to
/// itself do nothing, a write into the pipe once its read end is closed
/// fails with EPIPE instead of killing it.
fn sigign_check() -> ! {
    let mut old = KSigaction::default();
    // SAFETY: an rt_sigaction query into a local.
    unsafe { libc::syscall(libc::SYS_rt_sigaction, libc::SIGPIPE, std::ptr::null::<KSigaction>(), &mut old as *mut KSigaction, 8) };
    if old.handler != libc::SIG_IGN as u64 {
        eprintln!("cptrst-testprog sigign-check: SIGPIPE is not ignored at start ({old:x?}): not a Rust program's default");
        std::process::exit(2);
    }
    sig_ignore(libc::SIGHUP);
    sig_ignore(libc::SIGUSR2);
    let mut pp = [0i32; 2];
    // SAFETY: pipe(2) into a local array.
    sys(unsafe { libc::pipe(pp.as_mut_ptr()) } as i64, "pipe");
    let (rd, wr) = (move_fd(pp[0], 10, false), move_fd(pp[1], 11, false));
    let before = kernel_actions();
    rst_ready_line("");
    rst_set_ready();
    tree_wait_go();
    let mut errs = compare_actions(&before, &kernel_actions());
    let ign = status_hex("/proc/self/status", "SigIgn:");
    let want = sig_bit(libc::SIGHUP) | sig_bit(libc::SIGUSR2) | sig_bit(libc::SIGPIPE);
    if ign & want != want {
        errs.push(format!("SigIgn {ign:#x}, want at least {want:#x} (SIGHUP, SIGUSR2, SIGPIPE)"));
    }
    // SAFETY: kill(2) of ourselves, close and write(2) of our own fds.
    let (r, e) = unsafe {
        libc::kill(std::process::id() as i32, libc::SIGUSR2);
        libc::kill(std::process::id() as i32, libc::SIGHUP);
        libc::close(rd);
        let r = libc::write(wr, [1u8].as_ptr().cast(), 1);
        (r, std::io::Error::last_os_error().raw_os_error())
    };
    if !(r < 0 && e == Some(libc::EPIPE)) {
        errs.push(format!("a write into the pipe without a reader: {r} (errno {e:?}), want EPIPE"));
    }
    rst_verdict("sigign-check", &errs)
}

/// The signals of `rtqueue-check`: the shared RT queue, the private one,
/// a standard signal, and the periodic timer's.
const RTQ_SHARED: i32 = 36;
const RTQ_PRIVATE: i32 = 37;
const RTQ_TIMER: i32 = 38;
const RTQ_TIMER_VALUE: u64 = 0x7133;
const RTQ_PERIOD_NS: u64 = 50_000_000;
const RTQ_ONESHOT_NS: u64 = 1000 * 1_000_000_000;

/// `rtqueue-check`: signals 36 and 37 blocked, with a recording handler;
/// three 36s queued to the process (sigqueue: values 101, 102, 103), three
/// 37s to its thread (rt_tgsigqueueinfo: 201, 202, 203), SIGUSR2 (blocked)
/// sent by kill, a periodic POSIX timer (50 ms, signal 38, blocked: it
/// expires once, its signal waits, its overruns grow), a one-shot one
/// (1000 s, SIGEV_NONE) and alarm(1000). After go: the pending sets
/// (SigPnd 37; ShdPnd 36, 38, SIGUSR2), then unblocked: each signal's
/// values in queue order, the timer's signal with its value.
/// With `arg` 1 (the original process, after `checkpoint --resume`: a
/// checkpoint consumes nothing), also the timers as if nothing happened:
/// the 38's overrun counts every period since it was armed (a checkpoint
/// that re-armed or reset the timer loses them), the one-shot and the
/// alarm still armed with their time minus what passed.
fn rtqueue_check() -> ! {
    for s in [RTQ_SHARED, RTQ_PRIVATE, RTQ_TIMER, libc::SIGUSR2] {
        sig_install(s, record, 0, true);
    }
    sig_mask(libc::SIG_BLOCK, &[RTQ_SHARED, RTQ_PRIVATE, RTQ_TIMER, libc::SIGUSR2]);
    let pid = std::process::id() as i32;
    for i in 1..=3 {
        queue_to(pid, RTQ_SHARED, 100 + i);
        queue_to_thread(gettid(), RTQ_PRIVATE, 200 + i);
    }
    // SAFETY: kill(2) of ourselves.
    unsafe { libc::kill(pid, libc::SIGUSR2) };
    let armed = mono_ns();
    let periodic = timer_create(libc::CLOCK_MONOTONIC, libc::SIGEV_SIGNAL, RTQ_TIMER, RTQ_TIMER_VALUE, 0);
    timer_set(periodic, RTQ_PERIOD_NS, RTQ_PERIOD_NS);
    let oneshot = timer_create(libc::CLOCK_MONOTONIC, libc::SIGEV_NONE, 0, 0, 0);
    timer_set(oneshot, RTQ_ONESHOT_NS, 0);
    // SAFETY: alarm(2).
    unsafe { libc::alarm(1000) };
    // The periodic timer has expired (its signal is queued) before ready.
    while status_hex("/proc/self/status", "ShdPnd:") & sig_bit(RTQ_TIMER) == 0 {
        sleep_ms(5);
    }
    let before = kernel_actions();
    rst_ready_line(&format!("\"timers\": [{periodic}, {oneshot}]"));
    rst_set_ready();
    tree_wait_go();
    let original = rst_arg() == 1;
    let mut errs = compare_actions(&before, &kernel_actions());
    let private = status_hex("/proc/self/status", "SigPnd:");
    let shared = status_hex("/proc/self/status", "ShdPnd:");
    let want_shared = sig_bit(RTQ_SHARED) | sig_bit(RTQ_TIMER) | sig_bit(libc::SIGUSR2);
    if private != sig_bit(RTQ_PRIVATE) {
        errs.push(format!("pending in the thread (SigPnd) {private:#x}, want {:#x} (signal {RTQ_PRIVATE})", sig_bit(RTQ_PRIVATE)));
    }
    if shared & want_shared != want_shared {
        errs.push(format!("pending in the process (ShdPnd) {shared:#x}, want {want_shared:#x} (36, 38, SIGUSR2) at least"));
    }
    let now = mono_ns();
    let passed = now - armed;
    let (alarm_left, _) = itimer_get(libc::ITIMER_REAL);
    let oneshot_left = timer_get(oneshot);
    let slack = 2_000_000_000;
    if alarm_left == 0 || alarm_left > RTQ_ONESHOT_NS {
        errs.push(format!("alarm(1000): {alarm_left} ns left, want armed, at most 1000 s"));
    }
    match oneshot_left {
        Some((v, 0)) if v > 0 && v <= RTQ_ONESHOT_NS => {
            if original && (v + passed + slack < RTQ_ONESHOT_NS || alarm_left + passed + slack < RTQ_ONESHOT_NS) {
                errs.push(format!("{passed} ns after arming: the one-shot timer has {v} ns left, the alarm {alarm_left}: advanced by the checkpoint"));
            }
        }
        o => errs.push(format!("one-shot timer {oneshot}: {o:?}, want armed, at most 1000 s, no interval")),
    }
    sig_mask(libc::SIG_UNBLOCK, &[RTQ_SHARED, RTQ_PRIVATE, RTQ_TIMER, libc::SIGUSR2]);
    if !wait_until(|| seen_of(RTQ_SHARED).len() >= 3 && seen_of(RTQ_PRIVATE).len() >= 3 && !seen_of(RTQ_TIMER).is_empty()) {
        errs.push(format!("not every queued signal was handled within {SIG_WAIT:?}: {:?}", seen()));
    }
    // A signal that came late: let it in before the counts.
    sleep_ms(20);
    for (sig, want) in [(RTQ_SHARED, [101u64, 102, 103]), (RTQ_PRIVATE, [201, 202, 203])] {
        let got: Vec<u64> = seen_of(sig).iter().map(|s| s.value).collect();
        if got != want {
            errs.push(format!("signal {sig}: values {got:?}, want {want:?} (queue order)"));
        }
        if let Some(s) = seen_of(sig).iter().find(|s| s.code != SI_QUEUE_CODE || s.pid != pid) {
            errs.push(format!("signal {sig}: code {} pid {}, want SI_QUEUE from {pid}", s.code, s.pid));
        }
    }
    let usr2 = seen_of(libc::SIGUSR2);
    if usr2.len() != 1 || usr2[0].code != SI_USER_CODE || usr2[0].pid != pid {
        errs.push(format!("SIGUSR2: {usr2:?}, want once, SI_USER from {pid}"));
    }
    let ticks = seen_of(RTQ_TIMER);
    if let Some(t) = ticks.iter().find(|t| t.code != SI_TIMER_CODE || t.value != RTQ_TIMER_VALUE) {
        errs.push(format!("signal {RTQ_TIMER}: code {} value {:#x}, want SI_TIMER, {RTQ_TIMER_VALUE:#x}", t.code, t.value));
    }
    if original {
        // The first delivery's overrun: every period since the first
        // expiry, up to the delivery (a checkpoint leaves the timer alone).
        let periods = (ticks.first().map_or(now, |t| t.at_ns) - armed) / RTQ_PERIOD_NS;
        let got = ticks.first().map_or(0, |t| t.uid as u64 + 1);
        if got + 3 < periods || got > periods + 3 {
            errs.push(format!("timer {periodic}: its first signal counts {got} expiries (1 + overrun), {periods} periods passed: the checkpoint touched it"));
        }
    }
    rst_verdict("rtqueue-check", &errs)
}

/// `shared-pending-check`: two threads, SIGUSR1 and SIGUSR2 blocked in
/// both; SIGUSR1 sent to the process (kill: shared, SI_USER) and to the
/// second thread (tgkill: its private queue, SI_TKILL), SIGUSR2 to the
/// main thread (tgkill). After go: /proc's SigPnd of each thread and
/// ShdPnd; the second thread takes its SIGUSR1 (sigtimedwait: SI_TKILL),
/// then the main thread its SIGUSR2 (SI_TKILL) and the shared SIGUSR1
/// (SI_USER), and nothing more is pending.
fn shared_pending_check() -> ! {
    sig_mask(libc::SIG_BLOCK, &[libc::SIGUSR1, libc::SIGUSR2]);
    let pid = std::process::id() as i32;
    static SECOND_DONE: AtomicU32 = AtomicU32::new(0);
    let (h, tid) = spawn_thread(move || {
        thread_wait_go();
        let mut errs = Vec::new();
        match sig_wait(&[libc::SIGUSR1], std::time::Duration::ZERO) {
            Some((s, info)) if s == libc::SIGUSR1 && tkill_code(si_i32(&info, 8)) && si_i32(&info, 16) == pid => {}
            Some((s, info)) => errs.push(format!("took {} code {} pid {}, want SIGUSR1, SI_TKILL from {pid}", sig_name(s), si_i32(&info, 8), si_i32(&info, 16))),
            None => errs.push("no SIGUSR1 pending".into()),
        }
        SECOND_DONE.store(1, SeqCst);
        errs
    });
    // SAFETY: kill(2) of ourselves.
    unsafe { libc::kill(pid, libc::SIGUSR1) };
    tgkill(tid, libc::SIGUSR1);
    tgkill(pid, libc::SIGUSR2);
    rst_ready_line(&format!("\"tid\": {tid}"));
    rst_set_ready();
    // The pending sets before the second thread takes its signal.
    tree_wait_go();
    let mut errs = Vec::new();
    let main_pnd = status_hex(&format!("/proc/self/task/{pid}/status"), "SigPnd:");
    let second_pnd = status_hex(&format!("/proc/self/task/{tid}/status"), "SigPnd:");
    let shd = status_hex("/proc/self/status", "ShdPnd:");
    for (what, got, want) in
        [("main thread's SigPnd", main_pnd, sig_bit(libc::SIGUSR2)), ("second thread's SigPnd", second_pnd, sig_bit(libc::SIGUSR1)), ("ShdPnd", shd, sig_bit(libc::SIGUSR1))]
    {
        if got != want {
            errs.push(format!("{what} {got:#x}, want {want:#x}"));
        }
    }
    SIG_GO.store(1, SeqCst);
    if !wait_until(|| SECOND_DONE.load(SeqCst) == 1) {
        errs.push("the second thread did not take its signal".into());
    }
    for (want, code) in [(libc::SIGUSR2, SI_TKILL_CODE), (libc::SIGUSR1, SI_USER_CODE)] {
        match sig_wait(&[libc::SIGUSR1, libc::SIGUSR2], std::time::Duration::ZERO) {
            Some((s, info)) if s == want && (si_i32(&info, 8) == code || code == SI_TKILL_CODE && tkill_code(si_i32(&info, 8))) && si_i32(&info, 16) == pid => {}
            Some((s, info)) => errs.push(format!(
                "the main thread took {} code {} pid {}, want {} code {code} from {pid}",
                sig_name(s),
                si_i32(&info, 8),
                si_i32(&info, 16),
                sig_name(want)
            )),
            None => errs.push(format!("the main thread: no {} pending", sig_name(want))),
        }
    }
    if let Some((s, _)) = sig_wait(&[libc::SIGUSR1, libc::SIGUSR2], std::time::Duration::ZERO) {
        errs.push(format!("{} pending once more", sig_name(s)));
    }
    join(h, &format!("thread {tid}"), &mut errs);
    rst_verdict("shared-pending-check", &errs)
}

/// An alternate signal stack of `size` bytes (mmap), installed with `flags`.
fn altstack(size: usize, flags: i32) -> libc::stack_t {
    let p = mmap(size, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1);
    let ss = libc::stack_t { ss_sp: p.cast(), ss_flags: flags, ss_size: size };
    // SAFETY: sigaltstack(2) with a mapping of ours.
    sys(unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) } as i64, "sigaltstack");
    ss
}

/// This thread's alternate stack (sp, size, flags).
fn altstack_now() -> (u64, usize, i32) {
    // SAFETY: a sigaltstack(2) query into a zeroed local.
    let mut ss: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::sigaltstack(std::ptr::null(), &mut ss) };
    (ss.ss_sp as u64, ss.ss_size, ss.ss_flags)
}

static ALT_IN_HANDLER: AtomicU32 = AtomicU32::new(0);
static ALT_HANDLER_SP: AtomicU64 = AtomicU64::new(0);
static ALT_HANDLER_STACK: AtomicU64 = AtomicU64::new(0);
static ALT_HANDLER_MAGIC: AtomicU64 = AtomicU64::new(0);

/// SIGUSR1 of `altstack-check`'s second thread: runs on its alternate
/// stack (SS_AUTODISARM: disarmed while it runs), says so, and waits for
/// go (the checkpoint finds the thread here), then checks its own frame.
extern "C" fn alt_wait_in_handler(_: i32, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let local = std::hint::black_box(0x0a17_57ac_0000_0001u64);
    ALT_HANDLER_SP.store(std::ptr::addr_of!(local) as u64, SeqCst);
    let (sp, size, flags) = altstack_now();
    ALT_HANDLER_STACK.store(sp ^ size as u64 ^ ((flags as u32 as u64) << 32), SeqCst);
    ALT_IN_HANDLER.store(1, SeqCst);
    while SIG_GO.load(SeqCst) == 0 {
        let ts = libc::timespec { tv_sec: 0, tv_nsec: 20_000_000 };
        // SAFETY: nanosleep(2) (async-signal-safe) on a local.
        unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
    }
    ALT_HANDLER_MAGIC.store(std::hint::black_box(local), SeqCst);
    ALT_IN_HANDLER.store(2, SeqCst);
}

/// sigaltstack's SS_AUTODISARM (not in libc).
const SS_AUTODISARM: i32 = i32::MIN;

const ALT_MAIN_SIZE: usize = 64 * 1024;
const ALT_SECOND_SIZE: usize = 48 * 1024;

/// `altstack-check`: an alternate signal stack per thread: the main
/// thread's 64 KiB (flags 0), the second thread's 48 KiB (SS_AUTODISARM);
/// SIGUSR2's handler (SA_ONSTACK) records its stack address. The second
/// thread is inside its SIGUSR1 handler (SA_ONSTACK), on its alternate
/// stack, when checkpointed. After go: the handler returns (its local
/// intact), the second thread's stack is armed again as it was; each
/// thread's sigaltstack() is the same, and SIGUSR2 sent to each thread
/// runs on that thread's stack.
fn altstack_check() -> ! {
    let main_ss = altstack(ALT_MAIN_SIZE, 0);
    sig_install(libc::SIGUSR2, record, libc::SA_ONSTACK, false);
    sig_install(libc::SIGUSR1, alt_wait_in_handler, libc::SA_ONSTACK, false);
    let main_before = altstack_now();
    static SECOND_STACK: AtomicU64 = AtomicU64::new(0);
    let (h, tid) = spawn_thread(|| {
        let ss = altstack(ALT_SECOND_SIZE, SS_AUTODISARM);
        SECOND_STACK.store(ss.ss_sp as u64, SeqCst);
        let before = altstack_now();
        let marker = std::hint::black_box(0x5ec0_0d00_0000_0002u64);
        tgkill(gettid(), libc::SIGUSR1);
        // Back from the handler, after go.
        let mut errs = Vec::new();
        let base = ss.ss_sp as u64;
        let sp = ALT_HANDLER_SP.load(SeqCst);
        if !(base..base + ALT_SECOND_SIZE as u64).contains(&sp) {
            errs.push(format!("the SIGUSR1 handler ran at {sp:#x}, not on the alternate stack {base:#x}+{ALT_SECOND_SIZE:#x}"));
        }
        if ALT_HANDLER_MAGIC.load(SeqCst) != 0x0a17_57ac_0000_0001 || std::hint::black_box(marker) != 0x5ec0_0d00_0000_0002 {
            errs.push(format!("a local of the handler ({:#x}) or of the thread ({marker:#x}) changed", ALT_HANDLER_MAGIC.load(SeqCst)));
        }
        let after = altstack_now();
        if after != before {
            errs.push(format!("after the handler returned: sigaltstack {after:x?}, want {before:x?} (SS_AUTODISARM re-armed)"));
        }
        tgkill(gettid(), libc::SIGUSR2);
        match seen_in_thread(libc::SIGUSR2) {
            Some(s) if (base..base + ALT_SECOND_SIZE as u64).contains(&s.sp) => {}
            s => errs.push(format!("SIGUSR2's handler: {s:x?}, want it on the alternate stack {base:#x}+{ALT_SECOND_SIZE:#x}")),
        }
        errs
    });
    if !wait_until(|| ALT_IN_HANDLER.load(SeqCst) == 1) {
        eprintln!("cptrst-testprog altstack-check: the second thread never entered its handler");
        std::process::exit(2);
    }
    let before = kernel_actions();
    rst_ready_line(&format!("\"tid\": {tid}, \"main_stack\": {}, \"second_stack\": {}", main_ss.ss_sp as u64, SECOND_STACK.load(SeqCst)));
    rst_set_ready();
    sig_wait_go();
    let mut errs = compare_actions(&before, &kernel_actions());
    let now = altstack_now();
    if now != main_before {
        errs.push(format!("main thread: sigaltstack {now:x?}, want {main_before:x?}"));
    }
    tgkill(gettid(), libc::SIGUSR2);
    let base = main_ss.ss_sp as u64;
    match seen_in_thread(libc::SIGUSR2) {
        Some(s) if (base..base + ALT_MAIN_SIZE as u64).contains(&s.sp) => {}
        s => errs.push(format!("main thread: SIGUSR2's handler {s:x?}, want it on the alternate stack {base:#x}+{ALT_MAIN_SIZE:#x}")),
    }
    if !wait_until(|| ALT_IN_HANDLER.load(SeqCst) == 2) {
        errs.push("the second thread's handler did not return after go".into());
    }
    join(h, &format!("thread {tid}"), &mut errs);
    rst_verdict("altstack-check", &errs)
}

/// `alarm-check SECS`: a SIGALRM handler, alarm(SECS). After go it waits
/// for the alarm (if it has not come yet) and wants it once after the
/// restart (`arg2`: when the test started it), none before, and not before
/// `arg` (the test's earliest time: the restart's start plus the time the
/// image says was left, minus a slack; `arg2` when the image holds the
/// SIGALRM pending: then it comes at once); the alarm disarmed after it.
fn alarm_check(secs: u32) -> ! {
    sig_install(libc::SIGALRM, record, libc::SA_RESTART, false);
    let before = kernel_actions();
    // SAFETY: alarm(2).
    unsafe { libc::alarm(secs) };
    sig_ready_line(&format!("\"secs\": {secs}"));
    rst_set_ready();
    tree_wait_go();
    let mut errs = compare_actions(&before, &kernel_actions());
    let (earliest, started) = (rst_arg(), sig_arg2());
    if let Some(s) = seen_of(libc::SIGALRM).iter().find(|s| s.at_ns < started) {
        errs.push(format!("the alarm came at {} ns, before the restart started ({started}): before the checkpoint", s.at_ns));
    }
    if !wait_seen(libc::SIGALRM, 1) {
        errs.push(format!("no SIGALRM within {SIG_WAIT:?} after go: the alarm did not survive"));
    }
    sleep_ms(50);
    let got = seen_of(libc::SIGALRM);
    if got.len() > 1 {
        errs.push(format!("SIGALRM came {} times, want once", got.len()));
    }
    if let Some(s) = got.first() {
        if s.at_ns < earliest {
            errs.push(format!("the alarm came {} ms too early (at {} ns, not before {earliest})", (earliest - s.at_ns) / 1_000_000, s.at_ns));
        }
    }
    let (left, _) = itimer_get(libc::ITIMER_REAL);
    if left != 0 {
        errs.push(format!("ITIMER_REAL still armed ({left} ns) after the alarm"));
    }
    rst_verdict("alarm-check", &errs)
}

const ITIMER_REAL_NS: u64 = 2_000_000_000;
const ITIMER_REAL_INTERVAL_NS: u64 = 1_000_000_000;
const ITIMER_VIRT_NS: (u64, u64) = (1_000_000_000_000, 500_000_000_000);
const ITIMER_PROF_NS: (u64, u64) = (2_000_000_000_000, 700_000_000_000);
/// The bit of `itimer-check`'s `arg` that says a SIGALRM is pending in the
/// image (it comes first, at once).
const ITIMER_PENDING_BIT: u64 = 1 << 63;

/// `itimer-check`: ITIMER_REAL 2 s then every 1 s (a SIGALRM handler
/// records when each comes), ITIMER_VIRTUAL 1000 s / 500 s and
/// ITIMER_PROF 2000 s / 700 s. After go: three SIGALRMs after the restart
/// (`arg2`: when the test started it), the n-th (from 0) of the restarted
/// timer not before `arg` + n seconds (`arg`: the test's earliest time for
/// the first expiry; its top bit set when a SIGALRM was pending in the
/// image: that one comes first, at once); VIRTUAL and PROF still armed,
/// with their intervals, no more left than before.
fn itimer_check() -> ! {
    sig_install(libc::SIGALRM, record, libc::SA_RESTART, false);
    let before = kernel_actions();
    itimer_set(libc::ITIMER_VIRTUAL, ITIMER_VIRT_NS.0, ITIMER_VIRT_NS.1);
    itimer_set(libc::ITIMER_PROF, ITIMER_PROF_NS.0, ITIMER_PROF_NS.1);
    itimer_set(libc::ITIMER_REAL, ITIMER_REAL_NS, ITIMER_REAL_INTERVAL_NS);
    let virt = itimer_get(libc::ITIMER_VIRTUAL);
    let prof = itimer_get(libc::ITIMER_PROF);
    sig_ready_line("");
    rst_set_ready();
    tree_wait_go();
    let mut errs = compare_actions(&before, &kernel_actions());
    let arg = rst_arg();
    let (earliest, pending, started) = (arg & !ITIMER_PENDING_BIT, arg & ITIMER_PENDING_BIT != 0, sig_arg2());
    let after_restart = || -> Vec<u64> { seen_of(libc::SIGALRM).iter().map(|s| s.at_ns).filter(|&t| t >= started).collect() };
    let want = 3 + pending as usize;
    if !wait_until(|| after_restart().len() >= want) {
        errs.push(format!("{} SIGALRMs after the restart within {SIG_WAIT:?}, want {want}", after_restart().len()));
    }
    let after = after_restart();
    let timer = if pending { after.get(1..).unwrap_or(&[]) } else { &after[..] };
    for (n, &at) in timer.iter().enumerate() {
        let bound = earliest + n as u64 * ITIMER_REAL_INTERVAL_NS;
        if at < bound {
            errs.push(format!("SIGALRM {n} of the restarted timer came {} ms early (at {at}, not before {bound})", (bound - at) / 1_000_000));
        }
    }
    for (which, name, was) in [(libc::ITIMER_VIRTUAL, "ITIMER_VIRTUAL", virt), (libc::ITIMER_PROF, "ITIMER_PROF", prof)] {
        let now = itimer_get(which);
        if now.0 == 0 || now.0 > was.0 || now.1 != was.1 {
            errs.push(format!("{name}: {now:?} ns (value, interval), want armed, at most {} ns left, interval {}", was.0, was.1));
        }
    }
    let (_, interval) = itimer_get(libc::ITIMER_REAL);
    if interval != ITIMER_REAL_INTERVAL_NS {
        errs.push(format!("ITIMER_REAL interval {interval} ns, want {ITIMER_REAL_INTERVAL_NS}"));
    }
    rst_verdict("itimer-check", &errs)
}

const PT_SIG: i32 = 38;
const PT_VALUE: u64 = 0xabc;
const PT_PERIOD_NS: u64 = 200_000_000;
const PT_ONESHOT_SIG: i32 = 39;
const PT_ONESHOT_VALUE: u64 = 0xd;
const PT_ONESHOT_NS: u64 = 3_000_000_000;

/// `posix-timer-check`: two threads, signals 38 and 39 blocked in both.
/// Timers: 0 periodic (200 ms, CLOCK_MONOTONIC, SIGEV_THREAD_ID to the
/// second thread, signal 38, value 0xabc); 1 created and deleted (a gap in
/// the ids); 2 SIGEV_NONE, CLOCK_REALTIME, 1000 s; 3 one-shot 3 s,
/// CLOCK_BOOTTIME, signal 39 to the process, value 0xd. The second thread
/// takes 3 ticks (sigwaitinfo), notes timer_getoverrun(), and stops
/// taking them. After go: the same overrun (it_overrun_last restored),
/// three more ticks, each SI_TIMER with the timer's id and value, in the
/// second thread, and never more expiries (1 + overrun each) than periods
/// passed; timer 1 does not exist, timer 2 armed with at most 1000 s; the
/// main thread gets timer 3's signal, not before `arg` (the test's earliest
/// time, 0 if its signal was pending in the image).
fn posix_timer_check() -> ! {
    sig_mask(libc::SIG_BLOCK, &[PT_SIG, PT_ONESHOT_SIG]);
    static TICKS_DONE: AtomicU32 = AtomicU32::new(0);
    static TIMER0: AtomicI32 = AtomicI32::new(-1);
    static OVERRUN: AtomicI32 = AtomicI32::new(-1);
    static EXPIRIES: AtomicU64 = AtomicU64::new(0);
    let created = mono_ns();
    let (h, tid) = spawn_thread(move || {
        while TIMER0.load(SeqCst) < 0 {
            sleep_ms(1);
        }
        let id = TIMER0.load(SeqCst);
        let mut errs = Vec::new();
        let take = |errs: &mut Vec<String>| match sig_wait(&[PT_SIG], SIG_WAIT) {
            Some((_, info)) => {
                let (code, timer, overrun, value) = (si_i32(&info, 8), si_i32(&info, 16), si_i32(&info, 20), si_value(&info));
                if code != SI_TIMER_CODE || timer != id || value != PT_VALUE || overrun < 0 {
                    errs.push(format!("a tick: code {code} timer {timer} overrun {overrun} value {value:#x}, want SI_TIMER, {id}, >= 0, {PT_VALUE:#x}"));
                }
                EXPIRIES.fetch_add(1 + overrun.max(0) as u64, SeqCst);
            }
            None => errs.push(format!("no tick of timer {id} within {SIG_WAIT:?}")),
        };
        for _ in 0..3 {
            take(&mut errs);
        }
        OVERRUN.store(timer_overrun(id) as i32, SeqCst);
        TICKS_DONE.store(1, SeqCst);
        thread_wait_go();
        let o = timer_overrun(id) as i32;
        if o != OVERRUN.load(SeqCst) {
            errs.push(format!("timer_getoverrun({id}) {o}, want {} as before the checkpoint", OVERRUN.load(SeqCst)));
        }
        for _ in 0..3 {
            take(&mut errs);
        }
        errs
    });
    let t0 = timer_create(libc::CLOCK_MONOTONIC, libc::SIGEV_SIGNAL | libc::SIGEV_THREAD_ID, PT_SIG, PT_VALUE, tid);
    let gap = timer_create(libc::CLOCK_MONOTONIC, libc::SIGEV_NONE, 0, 0, 0);
    let t2 = timer_create(libc::CLOCK_REALTIME, libc::SIGEV_NONE, 0, 0, 0);
    let t3 = timer_create(libc::CLOCK_BOOTTIME, libc::SIGEV_SIGNAL, PT_ONESHOT_SIG, PT_ONESHOT_VALUE, 0);
    timer_delete(gap);
    timer_set(t2, RTQ_ONESHOT_NS, 0);
    timer_set(t0, PT_PERIOD_NS, PT_PERIOD_NS);
    TIMER0.store(t0, SeqCst);
    if !wait_until(|| TICKS_DONE.load(SeqCst) == 1) {
        eprintln!("cptrst-testprog posix-timer-check: no 3 ticks before the checkpoint");
        std::process::exit(2);
    }
    timer_set(t3, PT_ONESHOT_NS, 0);
    sig_ready_line(&format!("\"tid\": {tid}, \"timers\": [{t0}, {gap}, {t2}, {t3}]"));
    rst_set_ready();
    sig_wait_go();
    let mut errs = Vec::new();
    let earliest = rst_arg();
    if let Some(g) = timer_get(gap) {
        errs.push(format!("timer {gap} (deleted before the checkpoint) exists: {g:?}"));
    }
    match timer_get(t2) {
        Some((v, 0)) if v > 0 && v <= RTQ_ONESHOT_NS => {}
        g => errs.push(format!("timer {t2}: {g:?}, want armed, at most 1000 s, no interval")),
    }
    match timer_get(t0) {
        Some((v, PT_PERIOD_NS)) if v <= PT_PERIOD_NS => {}
        g => errs.push(format!("timer {t0}: {g:?}, want at most {PT_PERIOD_NS} ns left, interval {PT_PERIOD_NS}")),
    }
    match sig_wait(&[PT_ONESHOT_SIG], SIG_WAIT) {
        Some((_, info)) => {
            let at = mono_ns();
            let (code, timer, value) = (si_i32(&info, 8), si_i32(&info, 16), si_value(&info));
            if code != SI_TIMER_CODE || timer != t3 || value != PT_ONESHOT_VALUE {
                errs.push(format!("timer {t3}'s signal: code {code} timer {timer} value {value:#x}, want SI_TIMER, {t3}, {PT_ONESHOT_VALUE:#x}"));
            }
            if at < earliest {
                errs.push(format!("timer {t3} fired {} ms early", (earliest - at) / 1_000_000));
            }
        }
        None => errs.push(format!("timer {t3} (3 s, CLOCK_BOOTTIME) did not fire within {SIG_WAIT:?} after go")),
    }
    join(h, &format!("thread {tid}"), &mut errs);
    let periods = (mono_ns() - created) / PT_PERIOD_NS;
    let expiries = EXPIRIES.load(SeqCst);
    if expiries > periods + 3 {
        errs.push(format!("timer {t0}: {expiries} expiries counted (ticks + overruns) in {periods} periods"));
    }
    rst_verdict("posix-timer-check", &errs)
}

const RLIMIT_NAMES: [&str; 16] = [
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
];

fn rlimits() -> Vec<(u64, u64)> {
    (0..16)
        .map(|r| {
            let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: getrlimit(2) into a local.
            unsafe { libc::getrlimit(r as _, &mut l) };
            (l.rlim_cur, l.rlim_max)
        })
        .collect()
}

/// The limits `rlimit-check` sets (as root: hard limits raised too), each
/// differing from what it had (`old`), finite, values a process still
/// runs with.
fn new_rlimit(r: usize, old: (u64, u64)) -> (u64, u64) {
    let (cur, max) = match r {
        0 => (3000, 7000),
        1 => (1 << 30, 2 << 30),
        2 => (8 << 30, 16 << 30),
        3 => (6 << 20, 24 << 20),
        4 => (0, 1 << 20),
        5 => (1 << 30, 3 << 30),
        6 => (4000, 5000),
        7 => (300, 800),
        8 => (3 << 20, 5 << 20),
        9 => (40 << 30, 60 << 30),
        10 => (1000, 2000),
        11 => (3000, 4000),
        12 => (100_000, 300_000),
        13 => (5, 10),
        14 => (3, 7),
        _ => (1_000_000, 3_000_000),
    };
    let cur = if (cur, max) == old { cur / 2 } else { cur };
    (cur, max)
}

/// `rlimit-check`: every resource limit (0-15) set to a new soft and hard
/// value. After go: every limit as set; RLIMIT_NOFILE holds (an fd above
/// it cannot be opened: EMFILE), RLIMIT_FSIZE too (a write beyond it:
/// EFBIG, SIGXFSZ ignored).
fn rlimit_check() -> ! {
    let old = rlimits();
    for (r, &o) in old.iter().enumerate() {
        let (cur, max) = new_rlimit(r, o);
        let l = libc::rlimit { rlim_cur: cur, rlim_max: max };
        // Without CAP_SYS_RESOURCE (not the guest's root): lowered only.
        let low = libc::rlimit { rlim_cur: cur.min(o.1 / 2), rlim_max: max.min(o.1) };
        // SAFETY: setrlimit(2) with locals.
        sys(unsafe { if libc::setrlimit(r as _, &l) == 0 { 0 } else { libc::setrlimit(r as _, &low) } } as i64, &format!("setrlimit {}", RLIMIT_NAMES[r]));
    }
    let set = rlimits();
    let changed: Vec<&str> = (0..16).filter(|&r| set[r] != old[r]).map(|r| RLIMIT_NAMES[r]).collect();
    sig_ignore(libc::SIGXFSZ);
    rst_ready_line(&format!("\"changed\": {}", changed.len()));
    rst_set_ready();
    tree_wait_go();
    let mut errs = Vec::new();
    let now = rlimits();
    for r in 0..16 {
        if now[r] != set[r] {
            errs.push(format!("{}: {:?} (soft, hard), want {:?}", RLIMIT_NAMES[r], now[r], set[r]));
        }
    }
    if changed.len() < 16 {
        let same: Vec<&str> = (0..16).filter(|&r| set[r] == old[r]).map(|r| RLIMIT_NAMES[r]).collect();
        errs.push(format!("could not change {same:?} (the inherited limits allow no other value)"));
    }
    // SAFETY: dup2(2) of fd 0 above the soft limit: must fail.
    let r = unsafe { libc::fcntl(0, libc::F_DUPFD, set[7].0 as i32) };
    let e = std::io::Error::last_os_error().raw_os_error();
    if r >= 0 || e != Some(libc::EINVAL) {
        errs.push(format!("F_DUPFD at the RLIMIT_NOFILE soft limit {}: {r} (errno {e:?}), want EINVAL", set[7].0));
    }
    rst_verdict("rlimit-check", &errs)
}

/// The credentials of the calling thread, as it reads them: uids, gids
/// (real, effective, saved, fs), groups, capability sets (effective,
/// permitted, inheritable; bounding and ambient as bit masks),
/// securebits, no_new_privs.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Creds {
    uids: [u32; 4],
    gids: [u32; 4],
    groups: Vec<u32>,
    caps: [u64; 3],
    bset: u64,
    ambient: u64,
    securebits: i32,
    nnp: i32,
}

fn creds_now() -> Creds {
    let (mut r, mut e, mut s) = (0, 0, 0);
    let (mut gr, mut ge, mut gs) = (0, 0, 0);
    let mut groups = vec![0u32; 256];
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    let hdr = Header { version: 0x2008_0522, pid: 0 };
    let mut data = [0u32; 6];
    // SAFETY: raw queries of this thread's credentials into locals (raw
    // system calls: glibc's would be the same, but per thread is the point).
    unsafe {
        libc::syscall(libc::SYS_getresuid, &mut r as *mut u32, &mut e as *mut u32, &mut s as *mut u32);
        libc::syscall(libc::SYS_getresgid, &mut gr as *mut u32, &mut ge as *mut u32, &mut gs as *mut u32);
        let fsu = libc::syscall(libc::SYS_setfsuid, u32::MAX) as u32;
        let fsg = libc::syscall(libc::SYS_setfsgid, u32::MAX) as u32;
        let n = libc::syscall(libc::SYS_getgroups, 256, groups.as_mut_ptr());
        groups.truncate(n.max(0) as usize);
        libc::syscall(libc::SYS_capget, &hdr as *const Header, data.as_mut_ptr());
        let bset = (0..=63).filter(|&c| libc::prctl(libc::PR_CAPBSET_READ, c) == 1).fold(0u64, |m, c| m | 1 << c);
        let ambient = (0..=63)
            .filter(|&c| libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
            .fold(0u64, |m, c| m | 1 << c);
        let w = |lo: u32, hi: u32| lo as u64 | (hi as u64) << 32;
        Creds {
            uids: [r, e, s, fsu],
            gids: [gr, ge, gs, fsg],
            groups,
            caps: [w(data[0], data[3]), w(data[1], data[4]), w(data[2], data[5])],
            bset,
            ambient,
            securebits: libc::prctl(libc::PR_GET_SECUREBITS),
            nnp: libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
        }
    }
}

/// Raw capset(2) of this thread: effective, permitted, inheritable.
fn capset(eff: u64, prm: u64, inh: u64) {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    let hdr = Header { version: 0x2008_0522, pid: 0 };
    let data = [eff as u32, prm as u32, inh as u32, (eff >> 32) as u32, (prm >> 32) as u32, (inh >> 32) as u32];
    // SAFETY: capset(2) with a v3 header and two data structs.
    sys(unsafe { libc::syscall(libc::SYS_capset, &hdr as *const Header, data.as_ptr()) }, "capset");
}

const CAP_CHOWN: u64 = 1 << 0;
const CAP_KILL: u64 = 1 << 5;
const CAP_NET_BIND_SERVICE: u64 = 1 << 10;
/// The uids and gids `creds-check` takes (real, effective, saved), fs 1002.
const CREDS_IDS: [u32; 3] = [1000, 1001, 1002];
const CREDS_GROUPS: [u32; 3] = [100, 200, 1000];
/// The second thread's uids.
const CREDS_THREAD_UID: u32 = 1001;

/// `creds-check` (as root): the bounding set without CAP_SYS_MODULE and
/// CAP_MKNOD, securebits NOROOT | NO_SETUID_FIXUP, groups 100, 200, 1000,
/// gids and uids 1000, 1001, 1002 (fsuid, fsgid 1002), capabilities:
/// permitted CHOWN, KILL, NET_BIND_SERVICE, effective KILL, inheritable
/// and ambient NET_BIND_SERVICE. A second thread then takes uids 1001 for
/// itself alone (raw setresuid). After go, each thread's credentials as
/// before; with `arg` 1 (restarted `--as-invoker` by uid 1000): uids and
/// gids 1000, no groups, in both threads.
fn creds_check() -> ! {
    // SAFETY: raw credential changes of this (single) thread.
    unsafe {
        for cap in [16, 27] {
            sys(libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) as i64, "PR_CAPBSET_DROP");
        }
        sys(libc::prctl(libc::PR_SET_SECUREBITS, libc::SECBIT_NOROOT | libc::SECBIT_NO_SETUID_FIXUP, 0, 0, 0) as i64, "PR_SET_SECUREBITS");
        sys(libc::syscall(libc::SYS_setgroups, CREDS_GROUPS.len(), CREDS_GROUPS.as_ptr()), "setgroups");
        sys(libc::syscall(libc::SYS_setresgid, CREDS_IDS[0], CREDS_IDS[1], CREDS_IDS[2]), "setresgid");
        libc::syscall(libc::SYS_setfsgid, CREDS_IDS[2]);
        sys(libc::syscall(libc::SYS_setresuid, CREDS_IDS[0], CREDS_IDS[1], CREDS_IDS[2]), "setresuid");
        libc::syscall(libc::SYS_setfsuid, CREDS_IDS[2]);
    }
    capset(CAP_KILL, CAP_CHOWN | CAP_KILL | CAP_NET_BIND_SERVICE, CAP_NET_BIND_SERVICE);
    // SAFETY: prctl(2) on ourselves.
    sys(unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE, 10, 0, 0) } as i64, "PR_CAP_AMBIENT_RAISE");
    let main = creds_now();
    static THREAD_READY: AtomicU32 = AtomicU32::new(0);
    let (h, tid) = spawn_thread(|| {
        // SAFETY: a raw setresuid(2): this thread's creds alone.
        let r = unsafe { libc::syscall(libc::SYS_setresuid, CREDS_THREAD_UID, CREDS_THREAD_UID, CREDS_THREAD_UID) };
        sys(r, "setresuid in the thread");
        let before = creds_now();
        THREAD_READY.store(1, SeqCst);
        thread_wait_go();
        creds_compare(&before, &creds_now())
    });
    while THREAD_READY.load(SeqCst) == 0 {
        sleep_ms(1);
    }
    rst_ready_line(&format!("\"tid\": {tid}"));
    rst_set_ready();
    sig_wait_go();
    let mut errs = creds_compare(&main, &creds_now());
    join(h, &format!("thread {tid}"), &mut errs);
    rst_verdict("creds-check", &errs)
}

/// What differs between the credentials before and after; with `arg` 1,
/// whether they are the invoker's (uid 1000) instead.
fn creds_compare(before: &Creds, now: &Creds) -> Vec<String> {
    if rst_arg() == 1 {
        let ok = now.uids == [1000; 4] && now.gids == [1000; 4] && now.groups.is_empty();
        return if ok { Vec::new() } else { vec![format!("restarted as the invoker: {now:x?}, want uids and gids 1000, no groups")] };
    }
    if before == now {
        return Vec::new();
    }
    vec![format!("credentials {now:x?}, want {before:x?}")]
}

/// `nnp-check`: no_new_privs, parent-death signal SIGUSR2 (a child: its
/// own, SIGTERM, and no_new_privs inherited). After go both read them back.
fn nnp_check() -> ! {
    // SAFETY: prctl(2) on ourselves.
    unsafe {
        sys(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) as i64, "PR_SET_NO_NEW_PRIVS");
        sys(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGUSR2) as i64, "PR_SET_PDEATHSIG");
    }
    let (rd, wr) = setup_pipe();
    let check = |pdeath: i32| -> Vec<String> {
        let mut errs = Vec::new();
        let mut sig = 0i32;
        // SAFETY: prctl(2) queries into a local.
        let (nnp, _) = unsafe { (libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), libc::prctl(libc::PR_GET_PDEATHSIG, &mut sig as *mut i32)) };
        if nnp != 1 {
            errs.push(format!("no_new_privs {nnp}, want 1"));
        }
        if sig != pdeath {
            errs.push(format!("parent-death signal {}, want {}", sig_name(sig), sig_name(pdeath)));
        }
        errs
    };
    let child = fork_child();
    if child == 0 {
        // SAFETY: prctl(2) on ourselves.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
        child_noted(rd, wr, 1);
        rst_set_ready();
        tree_wait_go();
        rst_verdict("nnp-check", &check(libc::SIGTERM));
    }
    setup_collect(rd, wr, 1);
    rst_ready_line(&format!("\"pids\": [{}, {child}]", std::process::id()));
    rst_set_ready();
    tree_wait_go();
    let mut errs = check(libc::SIGUSR2);
    reap_children(&[(1, child)], &mut errs);
    rst_verdict("nnp-check", &errs)
}

/// The VmFlags of the mapping at `addr` (/proc/self/smaps).
fn vm_flags(addr: usize) -> String {
    let s = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let mut inside = false;
    for l in s.lines() {
        if let Some((range, _)) = l.split_once(' ') {
            if let Some((a, b)) = range.split_once('-') {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                    inside = (a..b).contains(&addr);
                    continue;
                }
            }
        }
        if inside {
            if let Some(f) = l.strip_prefix("VmFlags:") {
                return f.trim().to_string();
            }
        }
    }
    String::new()
}

/// `misc-check`: child subreaper, THP disabled, dumpable 0, timer slack
/// 123456 ns (the main thread) and 777777 ns (a second thread), and four
/// 4-page private mappings: mlock()ed, MADV_DONTFORK, MADV_WIPEONFORK,
/// MADV_DONTDUMP. After go: each as set (the VmFlags lo, dc, wf, dd).
fn misc_check() -> ! {
    const SLACK: u64 = 123_456;
    const THREAD_SLACK: u64 = 777_777;
    // SAFETY: prctl(2) on ourselves.
    unsafe {
        sys(libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) as i64, "PR_SET_CHILD_SUBREAPER");
        sys(libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) as i64, "PR_SET_THP_DISABLE");
        sys(libc::prctl(libc::PR_SET_TIMERSLACK, SLACK) as i64, "PR_SET_TIMERSLACK");
    }
    let maps: Vec<(usize, i32, &str)> = [(-1, "lo"), (libc::MADV_DONTFORK, "dc"), (libc::MADV_WIPEONFORK, "wf"), (libc::MADV_DONTDUMP, "dd")]
        .iter()
        .map(|&(advice, flag)| {
            let p = mmap(4 * PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1);
            fill(p, 4, 0x77);
            // SAFETY: mlock/madvise of our own fresh mapping.
            let r = unsafe { if advice < 0 { libc::mlock(p.cast(), 4 * PAGE) } else { libc::madvise(p.cast(), 4 * PAGE, advice) } };
            sys(r as i64, flag);
            (p as usize, advice, flag)
        })
        .collect();
    static THREAD_READY: AtomicU32 = AtomicU32::new(0);
    let (h, tid) = spawn_thread(|| {
        // SAFETY: prctl(2) on this thread.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, THREAD_SLACK) };
        THREAD_READY.store(1, SeqCst);
        thread_wait_go();
        // SAFETY: prctl(2) query.
        let s = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK) } as u64;
        if s == THREAD_SLACK { Vec::new() } else { vec![format!("timer slack {s} ns, want {THREAD_SLACK}")] }
    });
    while THREAD_READY.load(SeqCst) == 0 {
        sleep_ms(1);
    }
    // SAFETY: prctl(2) on ourselves.
    unsafe { sys(libc::prctl(libc::PR_SET_DUMPABLE, 0) as i64, "PR_SET_DUMPABLE") };
    rst_ready_line(&format!("\"tid\": {tid}"));
    rst_set_ready();
    sig_wait_go();
    let mut errs = Vec::new();
    // SAFETY: prctl(2) queries.
    let (sub, thp, slack, dumpable) = unsafe {
        let mut sub = 0i32;
        libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut sub as *mut i32);
        (sub, libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0), libc::prctl(libc::PR_GET_TIMERSLACK) as u64, libc::prctl(libc::PR_GET_DUMPABLE))
    };
    for (what, got, want) in [("child subreaper", sub as u64, 1), ("THP disable", thp as u64, 1), ("timer slack (ns)", slack, SLACK), ("dumpable", dumpable as u64, 0)] {
        if got != want {
            errs.push(format!("{what} {got}, want {want}"));
        }
    }
    for &(addr, _, flag) in &maps {
        let f = vm_flags(addr);
        if !f.split_whitespace().any(|x| x == flag) {
            errs.push(format!("the mapping at {addr:#x}: VmFlags '{f}', want '{flag}'"));
        }
    }
    join(h, &format!("thread {tid}"), &mut errs);
    rst_verdict("misc-check", &errs)
}

/// `sig-cycle-check`: what a restart cycle restores, at once: handlers
/// (SIGTERM, SIGUSR1, SIGINT ignored), three values of signal 36 queued
/// and blocked, an alternate stack, a periodic SIGEV_NONE timer,
/// ITIMER_VIRTUAL, RLIMIT_NOFILE 900/1000. Fds 1 and 2 on /dev/null after
/// the ready line (every fd of the tree: restarted again and again with
/// --detach). After go: each as set, the three values in order.
fn sig_cycle_check() -> ! {
    sig_install(libc::SIGTERM, record, libc::SA_RESTART, false);
    sig_install(libc::SIGUSR1, record, libc::SA_NODEFER, true);
    sig_ignore(libc::SIGINT);
    sig_mask(libc::SIG_BLOCK, &[RTQ_SHARED]);
    for v in [11, 12, 13] {
        queue_to(std::process::id() as i32, RTQ_SHARED, v);
    }
    let ss = altstack(ALT_MAIN_SIZE, 0);
    let t = timer_create(libc::CLOCK_MONOTONIC, libc::SIGEV_NONE, 0, 0, 0);
    timer_set(t, 1_000_000_000, 1_000_000_000);
    itimer_set(libc::ITIMER_VIRTUAL, ITIMER_VIRT_NS.0, ITIMER_VIRT_NS.1);
    let l = libc::rlimit { rlim_cur: 900, rlim_max: 1000 };
    // SAFETY: setrlimit(2) with a local.
    sys(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) } as i64, "setrlimit");
    let before = kernel_actions();
    let stack = altstack_now();
    let limits = rlimits();
    rst_ready_line(&format!("\"timer\": {t}, \"stack\": {}", ss.ss_sp as u64));
    // SAFETY: fds 1 and 2 onto /dev/null: nothing is printed after this.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            libc::close(null);
        }
    }
    rst_set_ready();
    tree_wait_go();
    let mut errs = compare_actions(&before, &kernel_actions());
    if altstack_now() != stack {
        errs.push(format!("sigaltstack {:x?}, want {stack:x?}", altstack_now()));
    }
    if rlimits() != limits {
        errs.push("the resource limits changed".into());
    }
    match timer_get(t) {
        Some((v, 1_000_000_000)) if v > 0 => {}
        g => errs.push(format!("timer {t}: {g:?}")),
    }
    if itimer_get(libc::ITIMER_VIRTUAL).1 != ITIMER_VIRT_NS.1 {
        errs.push(format!("ITIMER_VIRTUAL {:?}", itimer_get(libc::ITIMER_VIRTUAL)));
    }
    let mut got = Vec::new();
    while let Some((_, info)) = sig_wait(&[RTQ_SHARED], std::time::Duration::ZERO) {
        got.push(si_value(&info));
    }
    if got != [11, 12, 13] {
        errs.push(format!("signal {RTQ_SHARED}: values {got:?}, want [11, 12, 13]"));
    }
    rst_verdict("sig-cycle-check", &errs)
}

/// `sig-bench NRT NTIMERS` (cptrst-bench): every signal that can be caught
/// (1-64 but SIGKILL and SIGSTOP; 32 and 33, glibc's, through
/// rt_sigaction) handled, the real-time ones blocked, NRT real-time
/// signals queued (values 0, 1, ... over signals 34-64 in turn), NTIMERS
/// POSIX timers (CLOCK_MONOTONIC, signal 64, one-shot 10000 s, every
/// other one with a 1000 s interval). After go: every action as set, the
/// NRT signals pending (taken by sigtimedwait, each signal's values in
/// order), every timer armed.
fn sig_bench(nrt: usize, ntimers: usize) -> ! {
    // Enough queued signals for NRT (and the timers').
    let want = (nrt + ntimers + 64) as u64;
    let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit(2) with a local.
    unsafe {
        libc::getrlimit(libc::RLIMIT_SIGPENDING, &mut l);
        if l.rlim_cur < want {
            l.rlim_cur = want;
            l.rlim_max = l.rlim_max.max(want);
            sys(libc::setrlimit(libc::RLIMIT_SIGPENDING, &l) as i64, "setrlimit RLIMIT_SIGPENDING");
        }
    }
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP || sig == 32 || sig == 33 {
            continue;
        }
        sig_install(sig, record, libc::SA_RESTART, sig >= 34);
    }
    // 32 and 33 like 34 (the same handler and restorer), by the kernel's call.
    let mut a = KSigaction::default();
    // SAFETY: rt_sigaction: a query of 34, the same action for 32 and 33.
    unsafe {
        libc::syscall(libc::SYS_rt_sigaction, 34, std::ptr::null::<KSigaction>(), &mut a as *mut KSigaction, 8);
        for sig in [32, 33] {
            libc::syscall(libc::SYS_rt_sigaction, sig, &a as *const KSigaction, std::ptr::null_mut::<KSigaction>(), 8);
        }
    }
    let rt: Vec<i32> = (34..=64).collect();
    sig_mask(libc::SIG_BLOCK, &rt);
    let pid = std::process::id() as i32;
    for i in 0..nrt {
        queue_to(pid, 34 + (i % rt.len()) as i32, i as u64);
    }
    let timers: Vec<i32> = (0..ntimers)
        .map(|i| {
            let t = timer_create(libc::CLOCK_MONOTONIC, libc::SIGEV_SIGNAL, 64, i as u64, 0);
            timer_set(t, 10_000 * 1_000_000_000, if i % 2 == 1 { 1000 * 1_000_000_000 } else { 0 });
            t
        })
        .collect();
    let before = kernel_actions();
    rst_ready_line(&format!("\"signals\": {nrt}, \"timers\": {ntimers}"));
    // SAFETY: fds 1 and 2 onto /dev/null: nothing is printed after this
    // but the verdict, which the exit status carries.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 1);
            libc::close(null);
        }
    }
    rst_set_ready();
    tree_wait_go();
    let mut errs = compare_actions(&before, &kernel_actions());
    let mut got: Vec<Vec<u64>> = vec![Vec::new(); 65];
    while let Some((s, info)) = sig_wait(&rt, std::time::Duration::ZERO) {
        got[s as usize].push(si_value(&info));
    }
    for (k, &sig) in rt.iter().enumerate() {
        let want: Vec<u64> = (0..nrt).filter(|i| i % rt.len() == k).map(|i| i as u64).collect();
        if got[sig as usize] != want {
            errs.push(format!("signal {sig}: {} values, want {} ({:?}...)", got[sig as usize].len(), want.len(), &got[sig as usize][..got[sig as usize].len().min(4)]));
        }
    }
    let missing = timers.iter().filter(|&&t| timer_get(t).is_none_or(|(v, _)| v == 0)).count();
    if missing > 0 {
        errs.push(format!("{missing} of {ntimers} timers missing or disarmed"));
    }
    rst_verdict("sig-bench", &errs)
}

// ---------------------------------------------------------------------------
// Live writers for kselftest-live (issue 16): memory that keeps changing
// while a live checkpoint copies it, and that checks itself afterwards.
//
// Same protocol as the restart workloads (ready line, ready word, go byte,
// verdict). A writer owns a set of pages and a version table (one u32 per
// page, in its own private memory): it keeps picking one of its pages
// (xorshift), marks its index in progress, rewrites the page as
// live_word(id, version + 1, ...), bumps the version and clears the mark,
// until go. After go (the writers have finished their page and stopped)
// every page is checked against live_word(id, version, ...); the one in
// progress, if any, may hold either version, word by word (a torn page),
// nothing else.
// ---------------------------------------------------------------------------

/// No page in progress.
const LIVE_NONE: u64 = u64::MAX;
/// Words of a page.
const LIVE_WORDS: usize = PAGE / 8;

/// Word `w` of the page with id `id` at version `version`.
fn live_word(id: usize, version: u32, w: usize) -> u64 {
    mem_check_word(id, w) ^ u64::from(version).wrapping_add(1).wrapping_mul(0xd6e8_feb8_6659_fd93)
}

/// Writes version `version` of page `id` at `p`, word by word (volatile:
/// a stop between two words leaves a torn page, never a reordered one).
fn live_fill(p: *mut u64, id: usize, version: u32) {
    for w in 0..LIVE_WORDS {
        // SAFETY: `p` is a writable page of ours.
        unsafe { std::ptr::write_volatile(p.add(w), live_word(id, version, w)) };
    }
}

/// The pages one writer owns, with their ids, its version table, the
/// page in progress and how many pages it wrote (all in memory of its
/// process that only it writes).
struct LivePages {
    pages: Vec<(usize, *mut u64)>,
    versions: *mut u32,
    in_progress: *mut u64,
    writes: *mut u64,
    seed: u64,
}

// SAFETY: each LivePages is used by one thread at a time (moved into its
// writer thread and back through join); the pages it points to are its own.
unsafe impl Send for LivePages {}

impl LivePages {
    /// `pages` are at version 0.
    fn new(pages: Vec<(usize, *mut u64)>, seed: u64) -> LivePages {
        let versions = Box::leak(vec![0u32; pages.len().max(1)].into_boxed_slice()).as_mut_ptr();
        let in_progress = Box::leak(Box::new(LIVE_NONE));
        let writes = Box::leak(Box::new(0u64));
        LivePages { pages, versions, in_progress, writes, seed: seed | 1 }
    }

    fn version(&self, k: usize) -> u32 {
        // SAFETY: `k` indexes `pages`, as long as the version table.
        unsafe { std::ptr::read_volatile(self.versions.add(k)) }
    }

    /// Rewrites page `k` with its next version.
    fn write_page(&self, k: usize) {
        let (id, p) = self.pages[k];
        let v = self.version(k);
        // SAFETY: our own table, mark and counter (volatile: in program
        // order around the page's words).
        unsafe {
            std::ptr::write_volatile(self.in_progress, k as u64);
            live_fill(p, id, v.wrapping_add(1));
            std::ptr::write_volatile(self.versions.add(k), v.wrapping_add(1));
            std::ptr::write_volatile(self.in_progress, LIVE_NONE);
            std::ptr::write_volatile(self.writes, std::ptr::read_volatile(self.writes) + 1);
        }
    }

    /// Writes until go: one page in four is written at all (its hot set:
    /// what it dirties during a round stays below the whole), picked at
    /// random; a short sleep every 8 pages leaves the CPU to the others.
    fn run(&mut self) {
        self.run_paced(None)
    }

    /// [`LivePages::run`], or with `per_100ms`: `per_100ms` pages picked
    /// at random among all of them rewritten every 100 ms (then a sleep to
    /// the next 100 ms tick), for the bench's "a writer dirtying N pages
    /// per 100 ms".
    fn run_paced(&mut self, per_100ms: Option<usize>) {
        if let (Some(n), false) = (per_100ms, self.pages.is_empty()) {
            let tick = std::time::Duration::from_millis(100);
            let t0 = std::time::Instant::now();
            let mut x = self.seed;
            let mut ticks = 0u32;
            while !rst_go() {
                for _ in 0..n {
                    if rst_go() {
                        return;
                    }
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    self.write_page((x % self.pages.len() as u64) as usize);
                }
                ticks += 1;
                let next = t0 + tick * ticks;
                let now = std::time::Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                }
            }
            return;
        }
        if self.pages.is_empty() {
            while !rst_go() {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            return;
        }
        let hot = self.pages.len().div_ceil(4);
        let mut x = self.seed;
        let mut n = 0u64;
        while !rst_go() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.write_page(((x % hot as u64) as usize * 4) % self.pages.len());
            n += 1;
            if n % 8 == 0 {
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
        }
    }

    /// Checks every page against its version (`who` names the writer).
    fn check(&self, who: &str, errs: &mut Vec<String>) {
        // SAFETY: our own mark and counter; the writer has stopped.
        let (ip, writes) = unsafe { (std::ptr::read_volatile(self.in_progress), std::ptr::read_volatile(self.writes)) };
        let mut bad = 0;
        for (k, &(id, p)) in self.pages.iter().enumerate() {
            let v = self.version(k);
            // SAFETY: `p` is a readable page of ours.
            let page = unsafe { std::slice::from_raw_parts(p, LIVE_WORDS) };
            let torn_ok = ip == k as u64;
            let wrong = (0..LIVE_WORDS).find(|&w| page[w] != live_word(id, v, w) && !(torn_ok && page[w] == live_word(id, v.wrapping_add(1), w)));
            if let Some(w) = wrong {
                bad += 1;
                if bad <= 5 {
                    let old = (0..v).rev().take(64).find(|&o| page[w] == live_word(id, o, w));
                    let was = old.map_or(String::new(), |o| format!(" (version {o}'s: a stale copy)"));
                    errs.push(format!(
                        "{who}: page {id} at {:#x} (version {v}{}) word {w} is {:#x}, want {:#x}{was}",
                        p as usize,
                        if torn_ok { ", in progress" } else { "" },
                        page[w],
                        live_word(id, v, w)
                    ));
                }
            }
        }
        if bad > 5 {
            errs.push(format!("{who}: {bad} of {} pages wrong in all", self.pages.len()));
        }
        if writes == 0 && !self.pages.is_empty() {
            errs.push(format!("{who}: never wrote a page"));
        }
    }
}

/// A private anonymous (or `shared`: MAP_SHARED) region of `pages` pages at
/// version 0, page i with id `first_id + i`.
fn live_region(pages: usize, shared: bool, first_id: usize) -> *mut u64 {
    let flags = if shared { libc::MAP_SHARED } else { libc::MAP_PRIVATE } | libc::MAP_ANONYMOUS;
    let p = mmap(pages * PAGE, libc::PROT_READ | libc::PROT_WRITE, flags, -1) as *mut u64;
    for i in 0..pages {
        // SAFETY: inside the mapping.
        live_fill(unsafe { p.add(i * LIVE_WORDS) }, first_id + i, 0);
    }
    p
}

/// The id of shared page j (private pages are 0..PAGES).
const LIVE_SHARED_ID: usize = 1 << 24;

/// `live-writer PAGES [PER_100MS]`: one process, one writer (the main
/// thread) over a private region of PAGES pages; writing all the time, or
/// PER_100MS random pages every 100 ms.
fn live_writer(pages: usize, per_100ms: Option<usize>) -> ! {
    let region = live_region(pages, false, 0);
    // SAFETY: every page is inside the region.
    let mut w = LivePages::new((0..pages).map(|i| (i, unsafe { region.add(i * LIVE_WORDS) })).collect(), 0x5eed_0001);
    rst_ready_line(&format!("\"region\": {}, \"pages\": {pages}", region as usize));
    rst_set_ready();
    w.run_paced(per_100ms);
    let mut errs = Vec::new();
    w.check("writer", &mut errs);
    rst_verdict("live-writer", &errs)
}

/// `live-writer-tree PAGES THREADS SHARED`: a parent and a child, each
/// with THREADS writer threads over its own copy of a private region of
/// PAGES pages (forked: the same addresses and ids), and a MAP_SHARED
/// anonymous region of SHARED pages that both map: the parent writes its
/// even pages, the child its odd ones. Each process checks its own pages;
/// the parent also its child's exit status.
fn live_writer_tree(pages: usize, threads: usize, shared: usize) -> ! {
    let region = live_region(pages, false, 0);
    let sh = live_region(shared, true, LIVE_SHARED_ID);
    let (rd, wr) = setup_pipe();
    let child = fork_child();
    let me = std::process::id();
    let (who, parity) = if child == 0 { ("child", 1) } else { ("parent", 0) };
    // The pages of each thread: a slice of the private region, and every
    // THREADS-th of this process's shared pages.
    let per = pages.div_ceil(threads);
    let mut writers: Vec<LivePages> = (0..threads)
        .map(|t| {
            // SAFETY: every page is inside its region.
            let mut v: Vec<(usize, *mut u64)> = (t * per..((t + 1) * per).min(pages)).map(|i| (i, unsafe { region.add(i * LIVE_WORDS) })).collect();
            let mine = (0..shared).filter(|j| j % 2 == parity).skip(t).step_by(threads);
            // SAFETY: as above.
            v.extend(mine.map(|j| (LIVE_SHARED_ID + j, unsafe { sh.add(j * LIVE_WORDS) })));
            LivePages::new(v, 0x5eed_0100 + (parity * 64 + t) as u64)
        })
        .collect();
    if child == 0 {
        // SAFETY: the child does not read the pipe.
        unsafe { libc::close(rd) };
        setup_note(wr, 1);
    } else {
        let notes = setup_collect(rd, wr, 1);
        rst_ready_line(&format!(
            "\"pids\": [{me}, {}], \"region\": {}, \"pages\": {pages}, \"shared\": {}, \"shared_pages\": {shared}",
            notes[0][1],
            region as usize,
            sh as usize
        ));
    }
    let handles: Vec<std::thread::JoinHandle<LivePages>> = writers
        .drain(..)
        .map(|mut w| {
            std::thread::spawn(move || {
                w.run();
                w
            })
        })
        .collect();
    rst_set_ready();
    tree_wait_go();
    let mut errs = Vec::new();
    for (t, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(w) => w.check(&format!("{who} (pid {me}) thread {t}"), &mut errs),
            Err(_) => errs.push(format!("{who} (pid {me}): writer thread {t} panicked")),
        }
    }
    if child != 0 {
        reap_children(&[(1, child)], &mut errs);
    }
    rst_verdict("live-writer-tree", &errs)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("regs") => regs(),
        Some("fpu") => fpu(),
        Some("mem") => mem(args.get(1).map_or("/tmp/cptrst-mem-file", String::as_str)),
        Some("sparse") => sparse(),
        Some("tree") => {
            let n = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2);
            let t = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
            tree(n, t)
        }
        Some("shared-tree") => shared_tree(),
        Some("counter") => counter(),
        Some("dirty") => dirty(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(256)),
        Some("files") => files(args.get(1).map_or("/tmp/cptrst-files-file", String::as_str)),
        Some("nanosleep") => {
            ready("{}");
            let ts = libc::timespec { tv_sec: 100_000, tv_nsec: 0 };
            // SAFETY: a raw nanosleep with a valid timespec and no remainder.
            unsafe { libc::syscall(libc::SYS_nanosleep, &ts as *const libc::timespec, std::ptr::null_mut::<libc::timespec>()) };
            std::process::exit(0)
        }
        Some("pause") => {
            ready("{}");
            pause_forever()
        }
        Some("counter-check") => counter_check(),
        Some("regs-check") => regs_check(),
        Some("fpu-check") => fpu_check(args.get(1).map_or("sse", String::as_str)),
        Some("sleep-check") => sleep_check(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3)),
        Some("mem-check") => mem_check(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(256)),
        Some("task-check") => task_check(args.get(1).is_some_and(|a| a == "--fd")),
        Some("tree-check") => tree_check(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10)),
        Some("threads-check") => threads_check(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(THREADS)),
        Some("zombie-check") => zombie_check(),
        Some("pgrp-check") => pgrp_check(),
        Some("shared-check") => shared_check(),
        Some("map-files-check") => {
            map_files_check(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(40), args.get(2).map_or("/tmp", String::as_str))
        }
        Some("reaper") => reaper(&args[1..]),
        Some("vfork") => vfork_parent(libc::CLONE_VM | libc::CLONE_VFORK),
        Some("clone-vfork") => vfork_parent(libc::CLONE_VFORK),
        Some("fork-storm") => fork_storm(args.get(1).and_then(|s| s.parse().ok()).filter(|&n| (1..=64).contains(&n)).unwrap_or(4)),
        Some("file-pos-check") => file_pos_check(args.get(1).map_or("/tmp/cptrst-file-pos", String::as_str)),
        Some("append-check") => append_check(args.get(1).map_or("/tmp/cptrst-append.log", String::as_str)),
        Some("shared-offset-check") => shared_offset_check(args.get(1).map_or("/tmp/cptrst-shared-offset", String::as_str)),
        Some("unlinked-check") => unlinked_check(args.get(1).map_or("/tmp", String::as_str)),
        Some("memfd-check") => memfd_check(),
        Some("dirfd-check") => dirfd_check(args.get(1).map_or("/tmp/cptrst-dirfd", String::as_str)),
        Some("pipes-check") => pipes_check(),
        Some("fifo-check") => fifo_check(args.get(1).map_or("/tmp", String::as_str)),
        Some("fs-check") => fs_check(args.get(1).map_or("/tmp/cptrst-fs", String::as_str), args.get(2).is_some_and(|a| a == "chroot")),
        Some("fdflags-check") => fdflags_check(args.get(1).map_or("/tmp/cptrst-fdflags", String::as_str)),
        Some("devices-check") => devices_check(),
        Some("threads-check-files") => threads_check_files(args.get(1).map_or("/tmp/cptrst-threads-files", String::as_str)),
        Some("eventfd-check") => eventfd_check(),
        Some("inherit-check") => inherit_check(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5)),
        Some("cycle-check") => cycle_check(args.get(1).map_or("/tmp", String::as_str)),
        Some("open-files-check") => {
            open_files_check(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000), args.get(2).map_or("/tmp/cptrst-open-files", String::as_str))
        }
        Some("pipeline-check") => pipeline_check(
            args.get(1).and_then(|s| s.parse().ok()).filter(|&n| (1..=100).contains(&n)).unwrap_or(10),
            args.get(2).and_then(|s| s.parse().ok()).filter(|&b| b <= 64 << 20).unwrap_or(1 << 20),
        ),
        Some("sigterm-check") => sigterm_check(args.get(1).map_or("/tmp/cptrst-sigterm", String::as_str)),
        Some("siginfo-check") => siginfo_check(),
        Some("sigign-check") => sigign_check(),
        Some("rtqueue-check") => rtqueue_check(),
        Some("shared-pending-check") => shared_pending_check(),
        Some("altstack-check") => altstack_check(),
        Some("alarm-check") => alarm_check(args.get(1).and_then(|s| s.parse().ok()).filter(|&n| (1..=3600).contains(&n)).unwrap_or(3)),
        Some("itimer-check") => itimer_check(),
        Some("posix-timer-check") => posix_timer_check(),
        Some("rlimit-check") => rlimit_check(),
        Some("creds-check") => creds_check(),
        Some("nnp-check") => nnp_check(),
        Some("misc-check") => misc_check(),
        Some("sig-cycle-check") => sig_cycle_check(),
        Some("sig-bench") => sig_bench(
            args.get(1).and_then(|s| s.parse().ok()).filter(|&n| n <= 8000).unwrap_or(1000),
            args.get(2).and_then(|s| s.parse().ok()).filter(|&n| n <= 4000).unwrap_or(100),
        ),
        Some("live-writer") => live_writer(
            args.get(1).and_then(|s| s.parse().ok()).filter(|&n| (1..=1 << 20).contains(&n)).unwrap_or(4096),
            args.get(2).and_then(|s| s.parse().ok()).filter(|&n| (1..=1 << 20).contains(&n)),
        ),
        Some("live-writer-tree") => live_writer_tree(
            args.get(1).and_then(|s| s.parse().ok()).filter(|&n| (1..=1 << 20).contains(&n)).unwrap_or(1024),
            args.get(2).and_then(|s| s.parse().ok()).filter(|&n| (1..=64).contains(&n)).unwrap_or(3),
            args.get(3).and_then(|s| s.parse().ok()).filter(|&n| n <= 1 << 16).unwrap_or(64),
        ),
        Some("spin") => {
            ready("{}");
            loop {
                std::hint::spin_loop();
            }
        }
        _ => {
            eprintln!("usage: cptrst-testprog regs|fpu|mem [FILE]|sparse|tree [N [T]]|files [FILE]|spin|vfork|clone-vfork|fork-storm [N]");
            std::process::exit(2);
        }
    }
}
