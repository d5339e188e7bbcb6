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
//! - `fork-storm N`: keeps N short-lived workers at all times, each forking
//!   and reaping 4 children that exit at once, then exiting; the root reaps
//!   them and counts the workers it created (`{"pid": P, "forks": ADDR}`:
//!   the u64 count, for the test to read through /proc/PID/mem).

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
        // An fd beyond 0-2: restart refuses it unless --skip-files.
        let f = std::fs::File::open("/proc/self/status").expect("open");
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
