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
//! - `dirty MIB`: MIB MiB of anonymous memory, all written; pauses;
//! - `files FILE`: opens a regular file (FILE, created), a directory, a
//!   pipe, a socket pair, `/dev/null` and an eventfd, and one more copy of
//!   FILE at fd 100; prints `"fds": [[fd, kind], ...]`; pauses;
//! - `pause`, `nanosleep`: block in that system call;
//! - `spin`: spins in user mode (no flag).

use cptrst_tests::{fill_page, xmm_value, ymmh_value, GPR_VALUES, X87_VALUES};
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
        Some("spin") => {
            ready("{}");
            loop {
                std::hint::spin_loop();
            }
        }
        _ => {
            eprintln!("usage: cptrst-testprog regs|fpu|mem [FILE]|sparse|tree [N [T]]|files [FILE]|spin");
            std::process::exit(2);
        }
    }
}
