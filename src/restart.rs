// SPDX-License-Identifier: GPL-2.0
//! `restart(ctid, fd, flags)`: bring a checkpointed process back.
//!
//! Two kinds of callers share a restart context ([`Ctx`]):
//! - the **coordinator** (`RST_COORD`, the restart tool): it checks the
//!   whole image against the machine before anything changes (pass 1: the
//!   streaming validator plus the restore rules below), opens the files the
//!   image maps, registers the context, waits for the participant, and at
//!   the end sets the participant's FPU state (which only another task can
//!   do: see [`crate::shim::rst::fpu_park`]) and lets it go;
//! - the **participant**, the task created at the image's pid: it finds
//!   the context that expects it and restores itself, in three calls:
//!   1. (its own restart call) the last checks, then the point of no
//!      return: every mapping but the vDSO and vvar goes, a trampoline is
//!      mapped in a hole of the image's layout, and the call returns there;
//!   2. (from the trampoline, which parked [vdso] and [vvar] in its own
//!      mapping) pass 2 over the image: every VMA mapped and filled, the mm
//!      layout and auxv set; back to the trampoline, which moves [vdso] and
//!      [vvar] to the image's addresses and sets the fs/gs bases;
//!   3. (from the trampoline) commit: registers, signal mask, comm,
//!      personality, fds, rax (a task work), then park until the
//!      coordinator has set the FPU state; return into the restored program.
//!
//! Every check runs in both passes ([`Walker`]), so an image that changed
//! between them is refused too (and its CRC32C must still match pass 1).
//! After the point of no return any failure kills the participant: no
//! half-restored process ever runs. All waits are killable, and each one
//! re-checks that its peer is still alive.

use core::sync::atomic::{AtomicU32, Ordering};

use kernel::error::code;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::image::{self, FileHeader, Record, Summary, Tree, VmaKind};
use crate::image_in::{self, fail, Fail, Visitor};
use crate::ops::eopnotsupp;
use crate::shim::{self, Task};
use crate::shim::rst::{self, DevFile, FileRef, InFile, Locked, PidRef, RstGuard, WaitQ, Woken};
use crate::shim::MmLayout;
use crate::uapi::{RestartArgs, RST_COORD, RST_RESUME, RST_SKIP_FILES};

// Phases of a context (`Ctx::phase`).
/// Waiting for the participant.
const OPEN: u32 = 0;
/// The participant took the context and unmapped its old memory.
const ENTERED: u32 = 1;
/// The image is mapped.
const MAPPED: u32 = 2;
/// The participant committed and waits for its FPU state.
const PARKED: u32 = 3;
/// Done: the participant runs the restored program.
const GO: u32 = 4;
/// Failed: the participant dies.
const FAILED: u32 = 5;

/// How often a waiter re-checks that its peer is alive.
const POLL_MS: u32 = 200;

/// Lowest address an image mapping may have: the default `mmap_min_addr`.
const MIN_ADDR: u64 = 0x10000;

// mmap flags (uapi asm-generic/mman*.h).
const MAP_SHARED: u32 = 0x01;
const MAP_PRIVATE: u32 = 0x02;
const MAP_FIXED: u32 = 0x10;
const MAP_ANONYMOUS: u32 = 0x20;
const MAP_GROWSDOWN: u32 = 0x100;
const MAP_NORESERVE: u32 = 0x4000;

/// user_regs_struct indices.
mod reg {
    pub(super) const AX: usize = 10;
    pub(super) const IP: usize = 16;
    pub(super) const CS: usize = 17;
    pub(super) const SP: usize = 19;
    pub(super) const SS: usize = 20;
    pub(super) const FS_BASE: usize = 21;
    pub(super) const GS_BASE: usize = 22;
}
const USER_CS: u64 = 0x33;
const USER_DS: u64 = 0x2b;

/// The trampoline's parameter block (`TP_*` in cptrst_restore.c).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct TrampParams {
    step: u64,
    err: u64,
    devfd: u64,
    vvar_cur: u64,
    vvar_park: u64,
    vvar_img: u64,
    vvar_len: u64,
    vdso_cur: u64,
    vdso_park: u64,
    vdso_img: u64,
    vdso_len: u64,
    exefd: i64,
    fs_base: u64,
    gs_base: u64,
    args: RestartArgs,
    cmd: u64,
}
const _: () = assert!(core::mem::size_of::<TrampParams>() == 168);
const _: () = assert!(core::mem::offset_of!(TrampParams, args) == 112);

impl TrampParams {
    fn to_bytes(self) -> [u8; 168] {
        let w: [u64; 14] = [
            self.step,
            self.err,
            self.devfd,
            self.vvar_cur,
            self.vvar_park,
            self.vvar_img,
            self.vvar_len,
            self.vdso_cur,
            self.vdso_park,
            self.vdso_img,
            self.vdso_len,
            self.exefd as u64,
            self.fs_base,
            self.gs_base,
        ];
        let mut b = [0u8; 168];
        for (i, v) in w.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
        }
        let a = &self.args;
        b[112..116].copy_from_slice(&a.ctid.to_ne_bytes());
        b[116..120].copy_from_slice(&a.fd.to_ne_bytes());
        b[120..124].copy_from_slice(&a.flags.to_ne_bytes());
        b[124..128].copy_from_slice(&a.msg_len.to_ne_bytes());
        b[128..136].copy_from_slice(&a.msg.to_ne_bytes());
        b[160..168].copy_from_slice(&self.cmd.to_ne_bytes());
        b
    }
}

/// Pages of the trampoline mapping before the parking places: code,
/// parameters, stack.
const TRAMP_FIXED_PAGES: u64 = 3;

/// What this machine and kernel are, for the image to match.
struct Machine {
    xcr0: u64,
    xstate_size: u32,
    release: [u8; 64],
    task_size: u64,
    vdso_len: u64,
    vvar_len: u64,
    auxv_words: usize,
}

impl Machine {
    fn get() -> Result<Machine, Fail> {
        let s = rst::special()?;
        Ok(Machine {
            xcr0: shim::xfeatures(),
            xstate_size: u32::try_from(shim::xstate_size()).unwrap_or(0),
            release: shim::kernel_release(),
            task_size: rst::task_size(),
            vdso_len: s.vdso_end - s.vdso_start,
            vvar_len: s.vvar_end - s.vvar_start,
            auxv_words: rst::auxv_max_words(),
        })
    }
}

/// Names of the xstate components (XCR0 bits).
fn xfeature_name(bit: u32) -> &'static str {
    match bit {
        0 => "x87",
        1 => "SSE",
        2 => "AVX",
        3 => "MPX bound registers",
        4 => "MPX bound config",
        5 => "AVX-512 opmask",
        6 => "AVX-512 ZMM_Hi256",
        7 => "AVX-512 Hi16_ZMM",
        9 => "PKRU",
        11 => "CET user",
        14 => "UINTR",
        17 => "AMX TILECFG",
        18 => "AMX TILEDATA",
        19 => "APX",
        _ => "unknown",
    }
}

/// The pass-1 results: what the participant needs that must not change.
struct Plan {
    summary: Summary,
    root_pid: u32,
    /// Every VMA of the image (vDSO and vvar included), ascending.
    ranges: KVec<(u64, u64)>,
    /// One opened file per file-backed VMA, in VMA order.
    files: KVec<FileRef>,
    exe: Option<FileRef>,
    vdso: (u64, u64),
    vvar: (u64, u64),
}

/// The participant's state between its calls.
struct PartState {
    task: Option<Task>,
    failure: Option<Fail>,
    /// The trampoline mapping: start, length.
    tramp: (u64, u64),
    regs: [u64; 27],
    blocked: u64,
    comm: [u8; 16],
    personality: u32,
    xstate: KVVec<u8>,
}

/// A restart context, shared by the coordinator and the participant.
pub(crate) struct Ctx {
    coord: Task,
    root: PidRef,
    image: InFile,
    flags: u32,
    plan: Plan,
    phase: AtomicU32,
    wq: WaitQ,
    st: Locked<PartState>,
}

impl Ctx {
    /// Records the first failure, moves to FAILED and wakes everyone.
    fn fail(&self, f: Fail) {
        let mut g = RstGuard::lock();
        self.st.with(&mut g, |s| {
            if s.failure.is_none() {
                s.failure = Some(f);
            }
        });
        drop(g);
        self.phase.store(FAILED, Ordering::Release);
        self.wq.wake();
    }

    fn set_phase(&self, p: u32) {
        self.phase.store(p, Ordering::Release);
        self.wq.wake();
    }

    /// The participant, if it has entered.
    fn participant(&self) -> Option<Task> {
        let mut g = RstGuard::lock();
        self.st.with(&mut g, |s| s.task.as_ref().map(|t| t.clone_ref()))
    }

    fn take_failure(&self) -> Option<Fail> {
        let mut g = RstGuard::lock();
        self.st.with(&mut g, |s| s.failure.take())
    }
}

/// The contexts of the restarts under way (free slots are `None`).
static REGISTRY: Locked<KVec<Option<Arc<Ctx>>>> = Locked::new(KVec::new());
/// Bumped whenever a context is registered (participants wait on it).
static GENERATION: AtomicU32 = AtomicU32::new(0);

/// The `restart` operation.
pub(crate) fn restart(dev: &DevFile, args: &RestartArgs) -> Result<isize> {
    let r = if args.flags & RST_COORD != 0 {
        coordinate(args)
    } else if args.flags & RST_RESUME != 0 {
        resume(dev, args)
    } else {
        participate(dev, args)
    };
    match r {
        Ok(()) => Ok(0),
        Err(f) => {
            report(args, &f);
            Err(f.err)
        }
    }
}

/// Writes the message of `f` into the caller's buffer, if it gave one.
fn report(args: &RestartArgs, f: &Fail) {
    if args.msg == 0 || args.msg_len == 0 {
        return;
    }
    let text = f.msg.as_bytes();
    let n = text.len().min(args.msg_len as usize - 1);
    let mut buf = [0u8; 256];
    buf[..n].copy_from_slice(&text[..n]);
    // A bad buffer loses the message, not the errno.
    let _ = rst::copy_to_user(args.msg, &buf[..n + 1]);
}

// ---------------------------------------------------------------------
// Coordinator.

fn coordinate(args: &RestartArgs) -> Result<(), Fail> {
    let image = InFile::get(args.fd).map_err(|e| {
        fail!(e, "the image (fd {}) must be a regular file or memfd open for reading: error {}", args.fd, e.to_errno())
    })?;
    let root = PidRef::from_vpid(args.ctid).ok_or_else(|| fail!(code::ESRCH, "no task with pid {}", args.ctid))?;
    let root_task = root.task().ok_or_else(|| fail!(code::ESRCH, "no task with pid {}", args.ctid))?;
    let me = Task::current();
    if !root_task.child_of(&me) {
        return Err(fail!(code::EINVAL, "pid {} is not a child of the caller", args.ctid));
    }
    let res = coordinate_root(image, root, &root_task, me, args);
    if res.is_err() {
        // Whatever it is doing, the task at the root pid must not run on.
        root_task.kill();
    }
    res
}

fn coordinate_root(image: InFile, root: PidRef, root_task: &Task, me: Task, args: &RestartArgs) -> Result<(), Fail> {
    let machine = Machine::get()?;
    // Pass 1: the whole image, before anything changes.
    let mut w = Walker::new(&machine, args.flags, None);
    let summary = image_in::walk(&image, &mut w)?;
    let plan = w.into_plan(summary)?;
    let xstate = KVVec::new();
    let ctx = Arc::new(
        Ctx {
            coord: me,
            root,
            image,
            flags: args.flags,
            plan,
            phase: AtomicU32::new(OPEN),
            wq: WaitQ::new()?,
            st: Locked::new(PartState {
                task: None,
                failure: None,
                tramp: (0, 0),
                regs: [0; 27],
                blocked: 0,
                comm: [0; 16],
                personality: 0,
                xstate,
            }),
        },
        GFP_KERNEL,
    )
    .map_err(|_| Fail::errno(code::ENOMEM, "restart"))?;
    register(&ctx)?;
    let res = drive(&ctx, root_task);
    unregister(&ctx);
    if res.is_err() {
        if let Some(p) = ctx.participant() {
            p.kill();
        }
    }
    res
}

fn register(ctx: &Arc<Ctx>) -> Result<(), Fail> {
    let mut g = RstGuard::lock();
    let r = REGISTRY.with(&mut g, |reg| {
        if reg.iter().flatten().any(|c| c.root_is(&ctx.root)) {
            return Err(fail!(code::EBUSY, "another restart already waits for that task"));
        }
        if let Some(slot) = reg.iter_mut().find(|s| s.is_none()) {
            *slot = Some(ctx.clone());
            return Ok(());
        }
        reg.push(Some(ctx.clone()), GFP_KERNEL).map_err(|_| Fail::errno(code::ENOMEM, "restart"))
    });
    drop(g);
    r?;
    GENERATION.fetch_add(1, Ordering::AcqRel);
    WaitQ::global().wake();
    Ok(())
}

fn unregister(ctx: &Arc<Ctx>) {
    let mut g = RstGuard::lock();
    REGISTRY.with(&mut g, |reg| {
        for slot in reg.iter_mut() {
            if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, ctx)) {
                *slot = None;
            }
        }
        if reg.iter().all(|s| s.is_none()) {
            // Free the allocation: nothing may stay behind at unload.
            *reg = KVec::new();
        }
    });
}

impl Ctx {
    fn root_is(&self, other: &PidRef) -> bool {
        self.root.same(other)
    }
}

/// The coordinator's side: wait for the participant, set its FPU state
/// once it has parked, and let it go.
fn drive(ctx: &Ctx, root_task: &Task) -> Result<(), Fail> {
    loop {
        let ph = ctx.phase.load(Ordering::Acquire);
        match ph {
            PARKED => return release(ctx),
            FAILED => {
                return Err(ctx
                    .take_failure()
                    .unwrap_or_else(|| fail!(code::ESRCH, "the task being restored died")));
            }
            _ => {}
        }
        match ctx.wq.wait(&ctx.phase, ph, POLL_MS) {
            Err(_) => {
                ctx.fail(fail!(code::EINTR, "the restart was interrupted"));
            }
            Ok(Woken::Timeout) => {
                let alive = match ctx.participant() {
                    Some(p) => !p.gone(),
                    None => !root_task.gone(),
                };
                if !alive && ctx.phase.load(Ordering::Acquire) == ph {
                    ctx.fail(fail!(
                        code::ESRCH,
                        "the task being restored died before it was restored (killed, or it never called restart)"
                    ));
                }
            }
            Ok(Woken::Changed) => {}
        }
    }
}

/// Sets the parked participant's xstate and lets it run.
fn release(ctx: &Ctx) -> Result<(), Fail> {
    let (task, xstate) = {
        let mut g = RstGuard::lock();
        ctx.st.with(&mut g, |s| (s.task.as_ref().map(|t| t.clone_ref()), core::mem::replace(&mut s.xstate, KVVec::new())))
    };
    let task = task.ok_or_else(|| fail!(code::EINVAL, "no participant"))?;
    if let Err(e) = task.set_xstate(&xstate) {
        let f = fail!(e, "FPU: the kernel refused the image's xstate: error {}", e.to_errno());
        let e2 = f.err;
        ctx.fail(f);
        return Err(ctx.take_failure().unwrap_or_else(|| Fail::errno(e2, "FPU")));
    }
    ctx.set_phase(GO);
    Ok(())
}

// ---------------------------------------------------------------------
// Participant.

/// The context that waits for the caller, waiting for it to appear.
fn find_ctx() -> Result<Arc<Ctx>, Fail> {
    let global = WaitQ::global();
    loop {
        let gen = GENERATION.load(Ordering::Acquire);
        let found = {
            let mut g = RstGuard::lock();
            REGISTRY.with(&mut g, |reg| reg.iter().flatten().find(|c| c.root.is_current()).cloned())
        };
        if let Some(c) = found {
            return Ok(c);
        }
        global
            .wait(&GENERATION, gen, 1000)
            .map_err(|e| fail!(e, "interrupted while waiting for the coordinator"))?;
    }
}

/// Call 1: take the context, check, unmap, return into the trampoline.
fn participate(dev: &DevFile, args: &RestartArgs) -> Result<(), Fail> {
    if !rst::current_single() {
        return Err(fail!(code::EINVAL, "a restored task must be single-threaded when it calls restart"));
    }
    // The fd must at least be an image fd; the context's own is used.
    drop(InFile::get(args.fd).map_err(|e| fail!(e, "the image fd {} cannot be read: error {}", args.fd, e.to_errno()))?);
    let ctx = find_ctx()?;
    if args.ctid != 0 && ctx.coord.tgid_vnr() != args.ctid {
        return Err(fail!(code::EINVAL, "pid {} is not the coordinator of this restart", args.ctid));
    }
    if args.flags & RST_SKIP_FILES != ctx.flags & RST_SKIP_FILES {
        return Err(fail!(code::EINVAL, "the participant and the coordinator disagree on --skip-files"));
    }
    {
        let mut g = RstGuard::lock();
        let taken = ctx.st.with(&mut g, |s| {
            if s.task.is_some() || ctx.phase.load(Ordering::Acquire) != OPEN {
                return false;
            }
            s.task = Some(Task::current());
            true
        });
        if !taken {
            return Err(fail!(code::EBUSY, "this restart already has its task"));
        }
    }
    match enter(&ctx, dev) {
        Ok(()) => {
            ctx.set_phase(ENTERED);
            Ok(())
        }
        Err(f) => Err(die(&ctx, f)),
    }
}

/// Records the failure, makes the caller die, and returns what to report.
fn die(ctx: &Ctx, f: Fail) -> Fail {
    let err = f.err;
    let mut copy = image_in::Msg::new();
    let _ = core::fmt::Write::write_str(&mut copy, core::str::from_utf8(f.msg.as_bytes()).unwrap_or("restart failed"));
    ctx.fail(f);
    rst::current_kill();
    Fail { err, msg: copy }
}

/// A hole of `len` bytes in the image's layout, away from `extra` ranges.
fn find_hole(ranges: &[(u64, u64)], extra: &[(u64, u64)], len: u64, top: u64) -> Option<u64> {
    let mut a: u64 = 0x10_0000;
    let mut i = 0;
    loop {
        let end = a.checked_add(len)?;
        if end > top {
            return None;
        }
        while i < ranges.len() && ranges[i].1 <= a {
            i += 1;
        }
        let mut next = None;
        if i < ranges.len() && ranges[i].0 < end {
            next = Some(ranges[i].1);
        }
        for &(s, e) in extra {
            if s < end && a < e {
                next = Some(next.map_or(e, |n: u64| n.max(e)));
            }
        }
        match next {
            None => return Some(a),
            Some(n) => a = (n + PAGE_SIZE as u64 - 1) & !(PAGE_SIZE as u64 - 1),
        }
    }
}

fn enter(ctx: &Ctx, dev: &DevFile) -> Result<(), Fail> {
    let plan = &ctx.plan;
    let pid = rst::current_vpid();
    if u32::try_from(pid).ok() != Some(plan.root_pid) {
        return Err(fail!(
            code::EINVAL,
            "TREE: the task to restore has pid {}, the image's root has pid {}",
            pid,
            plan.root_pid
        ));
    }
    let cur = rst::special()?;
    let vdso_len = plan.vdso.1 - plan.vdso.0;
    let vvar_len = plan.vvar.1 - plan.vvar.0;
    if cur.vdso_end - cur.vdso_start != vdso_len || cur.vvar_end - cur.vvar_start != vvar_len {
        return Err(fail!(code::ENOEXEC, "the task's [vdso]/[vvar] differ in size from the image's"));
    }
    let page = PAGE_SIZE as u64;
    let len = TRAMP_FIXED_PAGES * page + vvar_len + vdso_len;
    let extra = [(cur.vdso_start, cur.vdso_end), (cur.vvar_start, cur.vvar_end)];
    let h = find_hole(&plan.ranges, &extra, len, rst::task_size())
        .ok_or_else(|| fail!(code::ENOMEM, "no room for the restore trampoline in the image's layout"))?;
    let code = rst::tramp_code();
    if code.len() > PAGE_SIZE {
        return Err(fail!(code::EINVAL, "trampoline too large"));
    }

    // The point of no return.
    rst::block_signals()?;
    rst::unmap_all().map_err(|e| fail!(e, "unmapping the task's memory: error {}", e.to_errno()))?;
    rst::mmap(None, h, len, 7, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0)
        .map_err(|e| fail!(e, "mapping the restore trampoline at {:#x}: error {}", h, e.to_errno()))?;
    rst::copy_to_user(h, code)?;
    let devfd = rst::install_fd(dev.as_ptr())?;
    let p = TrampParams {
        devfd: devfd as u64,
        vvar_cur: cur.vvar_start,
        vvar_park: h + TRAMP_FIXED_PAGES * page,
        vvar_img: plan.vvar.0,
        vvar_len,
        vdso_cur: cur.vdso_start,
        vdso_park: h + TRAMP_FIXED_PAGES * page + vvar_len,
        vdso_img: plan.vdso.0,
        vdso_len,
        exefd: -1,
        args: RestartArgs { ctid: 0, fd: -1, flags: RST_RESUME, ..Default::default() },
        cmd: u64::from(crate::uapi::IOC_RESTART),
        ..Default::default()
    };
    rst::copy_to_user(h + page, &p.to_bytes())?;
    {
        let mut g = RstGuard::lock();
        ctx.st.with(&mut g, |s| s.tramp = (h, len));
    }
    rst::set_ip_sp(h, h + TRAMP_FIXED_PAGES * page);
    Ok(())
}

/// Calls 2 and 3, from the trampoline.
fn resume(dev: &DevFile, _args: &RestartArgs) -> Result<(), Fail> {
    let ctx = {
        let mut g = RstGuard::lock();
        let c = REGISTRY.with(&mut g, |reg| reg.iter().flatten().find(|c| c.root.is_current()).cloned());
        c.filter(|c| c.st.with(&mut g, |s| s.task.as_ref().is_some_and(|t| t.is_current())))
    };
    let ctx = ctx.ok_or_else(|| fail!(code::EINVAL, "the caller is not a task being restored"))?;
    let r = match ctx.phase.load(Ordering::Acquire) {
        ENTERED => map_image(&ctx).map(|()| ctx.set_phase(MAPPED)),
        MAPPED => return commit(&ctx, dev),
        _ => Err(fail!(code::EINVAL, "restart: resumed out of order")),
    };
    r.map_err(|f| die(&ctx, f))
}

/// The trampoline's parameter block, read back.
fn tramp_params(ctx: &Ctx) -> Result<(u64, u64, [u8; 168]), Fail> {
    let (h, len) = {
        let mut g = RstGuard::lock();
        ctx.st.with(&mut g, |s| s.tramp)
    };
    let mut b = [0u8; 168];
    rst::copy_from_user(&mut b, h + PAGE_SIZE as u64)?;
    let step = u64::from_ne_bytes(b[0..8].try_into().unwrap_or([0; 8]));
    let err = u64::from_ne_bytes(b[8..16].try_into().unwrap_or([0; 8]));
    if step != 0 {
        let what = match step {
            1 | 3 => "moving [vvar]",
            2 | 4 => "moving [vdso]",
            6 => "setting the fs base",
            7 => "setting the gs base",
            _ => "an unknown step",
        };
        return Err(fail!(code::EFAULT, "restore trampoline: {} failed: error {}", what, -(err as i64)));
    }
    let _ = len;
    Ok((h, len, b))
}

/// Call 2: pass 2 over the image, mapping and filling.
fn map_image(ctx: &Ctx) -> Result<(), Fail> {
    let (h, len, mut params) = tramp_params(ctx)?;
    let machine = Machine::get()?;
    let mut w = Walker::new(&machine, ctx.flags, Some(Restore { ctx, tramp: (h, h + len) }));
    let summary = image_in::walk(&ctx.image, &mut w)?;
    if summary.crc32c != ctx.plan.summary.crc32c || summary.total_bytes != ctx.plan.summary.total_bytes {
        return Err(fail!(code::EINVAL, "TRAILER: the image changed after it was checked"));
    }
    let mm = w.mm.take().ok_or_else(|| fail!(code::EINVAL, "MM: missing"))?;
    rst::set_mm(&mm.layout, &mm.auxv)
        .map_err(|e| fail!(e, "MM: the kernel refused the layout or auxv: error {}", e.to_errno()))?;
    let exefd = match &ctx.plan.exe {
        Some(f) => i64::from(rst::install_fd(f.as_ptr())?),
        None => -1,
    };
    let regs = w.regs.ok_or_else(|| fail!(code::EINVAL, "REGS: missing"))?;
    params[88..96].copy_from_slice(&exefd.to_ne_bytes());
    params[96..104].copy_from_slice(&regs[reg::FS_BASE].to_ne_bytes());
    params[104..112].copy_from_slice(&regs[reg::GS_BASE].to_ne_bytes());
    rst::copy_to_user(h + PAGE_SIZE as u64, &params)?;
    let task = w.task.ok_or_else(|| fail!(code::EINVAL, "TASK: missing"))?;
    let xstate = core::mem::replace(&mut w.xstate, KVVec::new());
    let mut g = RstGuard::lock();
    ctx.st.with(&mut g, |s| {
        s.regs = regs;
        s.blocked = task.blocked;
        s.comm = task.comm;
        s.personality = task.personality;
        s.xstate = xstate;
    });
    Ok(())
}

/// Call 3: commit, park, and return into the restored program.
fn commit(ctx: &Ctx, dev: &DevFile) -> Result<(), Fail> {
    let r = (|| -> Result<(), Fail> {
        let (h, len, _) = tramp_params(ctx)?;
        if !rst::vdso_is(ctx.plan.vdso.0) {
            return Err(fail!(code::EFAULT, "VMA: the vDSO is not at the image's address {:#x}", ctx.plan.vdso.0));
        }
        rst::munmap(h, len)?;
        rst::close_fds_from(3);
        let (regs, blocked, comm, personality) = {
            let mut g = RstGuard::lock();
            ctx.st.with(&mut g, |s| (s.regs, s.blocked, s.comm, s.personality))
        };
        rst::set_regs(&regs).map_err(|e| fail!(e, "REGS: refused: error {}", e.to_errno()))?;
        rst::set_comm(&comm);
        rst::set_personality(personality).map_err(|e| fail!(e, "TASK: personality {:#x} refused", personality))?;
        rst::clear_pdeath();
        rst::queue_ax(dev.as_ptr(), regs[reg::AX])?;
        rst::set_sigmask(blocked)?;
        rst::fpu_park();
        Ok(())
    })();
    if let Err(f) = r {
        return Err(die(ctx, f));
    }
    ctx.set_phase(PARKED);
    loop {
        match ctx.phase.load(Ordering::Acquire) {
            GO => return Ok(()),
            FAILED => {
                rst::current_kill();
                return Err(fail!(code::EINTR, "the restart failed"));
            }
            _ => {}
        }
        match ctx.wq.wait(&ctx.phase, PARKED, POLL_MS) {
            Err(_) => {
                return Err(die(ctx, fail!(code::EINTR, "the task being restored was killed")));
            }
            Ok(Woken::Timeout) if ctx.coord.gone() => {
                return Err(die(ctx, fail!(code::ESRCH, "the coordinator of the restart died")));
            }
            Ok(_) => {}
        }
    }
}

// ---------------------------------------------------------------------
// The two passes.

/// What pass 2 acts on.
struct Restore<'a> {
    ctx: &'a Ctx,
    /// The trampoline mapping, which no image mapping may touch.
    tramp: (u64, u64),
}

struct TaskRec {
    comm: [u8; 16],
    personality: u32,
    blocked: u64,
}

struct MmRec {
    layout: MmLayout,
    auxv: KVec<u64>,
}

#[derive(Clone, Copy)]
struct CurVma {
    start: u64,
    end: u64,
    kind: VmaKind,
    prot: u32,
}

/// One pass over the image: the restore rules, and in pass 2 the restore.
struct Walker<'a> {
    m: &'a Machine,
    flags: u32,
    restore: Option<Restore<'a>>,
    header: Option<FileHeader>,
    root_pid: u32,
    task: Option<TaskRec>,
    regs: Option<[u64; 27]>,
    xstate: KVVec<u8>,
    mm: Option<MmRec>,
    exe: Option<FileRef>,
    ranges: KVec<(u64, u64)>,
    files: KVec<FileRef>,
    file_index: usize,
    vdso: Option<(u64, u64)>,
    vvar: Option<(u64, u64)>,
    cur: Option<CurVma>,
    page_addr: u64,
}

impl<'a> Walker<'a> {
    fn new(m: &'a Machine, flags: u32, restore: Option<Restore<'a>>) -> Self {
        Walker {
            m,
            flags,
            restore,
            header: None,
            root_pid: 0,
            task: None,
            regs: None,
            xstate: KVVec::new(),
            mm: None,
            exe: None,
            ranges: KVec::new(),
            files: KVec::new(),
            file_index: 0,
            vdso: None,
            vvar: None,
            cur: None,
            page_addr: 0,
        }
    }

    fn into_plan(self, summary: Summary) -> Result<Plan, Fail> {
        if self.mm.is_none() || self.regs.is_none() {
            return Err(fail!(code::EINVAL, "image: no address space or registers to restore"));
        }
        let vdso = self.vdso.ok_or_else(|| fail!(eopnotsupp(), "MM: the image has no [vdso]: not supported"))?;
        let vvar = self.vvar.ok_or_else(|| fail!(eopnotsupp(), "MM: the image has no [vvar]: not supported"))?;
        Ok(Plan {
            summary,
            root_pid: self.root_pid,
            ranges: self.ranges,
            files: self.files,
            exe: self.exe,
            vdso,
            vvar,
        })
    }

    fn page_size(&self) -> u64 {
        self.header.map_or(PAGE_SIZE as u64, |h| u64::from(h.page_size))
    }
}

fn alloc_fail<T>(_: T) -> Fail {
    Fail::errno(code::ENOMEM, "restart")
}

/// A NUL-terminated copy of a path from the image: absolute, no NUL inside.
fn c_path(p: &[u8]) -> Option<KVec<u8>> {
    if p.first() != Some(&b'/') || p.contains(&0) {
        return None;
    }
    let mut v = KVec::with_capacity(p.len() + 1, GFP_KERNEL).ok()?;
    v.extend_from_slice(p, GFP_KERNEL).ok()?;
    v.push(0, GFP_KERNEL).ok()?;
    Some(v)
}

impl Visitor for Walker<'_> {
    fn header(&mut self, h: &FileHeader) -> Result<(), Fail> {
        if u64::from(h.page_size) != PAGE_SIZE as u64 {
            return Err(fail!(code::ENOEXEC, "header: page size {} (this machine: {})", h.page_size, PAGE_SIZE));
        }
        let missing = h.xcr0 & !self.m.xcr0;
        if missing != 0 {
            let mut f = fail!(code::ENOEXEC, "header: the image needs xstate features this CPU lacks:");
            for bit in 0..64u32 {
                if missing & (1u64 << bit) != 0 {
                    let _ = core::fmt::Write::write_fmt(&mut f.msg, format_args!(" {} (bit {})", xfeature_name(bit), bit));
                }
            }
            return Err(f);
        }
        if h.xstate_size != self.m.xstate_size {
            return Err(fail!(
                code::ENOEXEC,
                "header: xstate size {} (this CPU: {})",
                h.xstate_size,
                self.m.xstate_size
            ));
        }
        if h.kernel_release != self.m.release {
            let img = core::str::from_utf8(h.release()).unwrap_or("?");
            return Err(fail!(
                code::ENOEXEC,
                "header: checkpointed under kernel {}, another kernel runs here (its vDSO differs)",
                img
            ));
        }
        self.header = Some(*h);
        Ok(())
    }

    fn tree(&mut self, off: u64, t: &Tree<'_>) -> Result<(), Fail> {
        if t.len() != 1 {
            return Err(fail!(
                eopnotsupp(),
                "TREE (type 1) at offset {}: {} tasks; this version restores a single process",
                off,
                t.len()
            ));
        }
        let e = t.get(0).ok_or_else(|| fail!(code::EINVAL, "TREE at offset {}: empty", off))?;
        if e.is_zombie() || e.is_thread() || e.mm_id != 1 || e.nr_levels != 1 {
            return Err(fail!(
                eopnotsupp(),
                "TREE (type 1) at offset {}: the root is a zombie, a thread or in nested pid namespaces: not supported",
                off
            ));
        }
        self.root_pid = e.pid();
        Ok(())
    }

    fn record(&mut self, off: u64, r: &Record<'_>) -> Result<(), Fail> {
        match r {
            Record::Task(t) => {
                if t.personality & 0xff != 0 {
                    return Err(fail!(
                        eopnotsupp(),
                        "TASK (type 2) at offset {}: personality {:#x} is not the Linux one",
                        off,
                        t.personality
                    ));
                }
                self.task = Some(TaskRec { comm: t.comm, personality: t.personality, blocked: t.blocked });
            }
            Record::Regs(rg) => {
                let a = rg.to_array();
                let top = self.m.task_size;
                if a[reg::CS] != USER_CS || a[reg::SS] != USER_DS {
                    return Err(fail!(
                        eopnotsupp(),
                        "REGS (type 3) at offset {}: not a 64-bit user context (cs {:#x}, ss {:#x})",
                        off,
                        a[reg::CS],
                        a[reg::SS]
                    ));
                }
                if a[reg::IP] >= top || a[reg::SP] >= top || a[reg::FS_BASE] >= top || a[reg::GS_BASE] >= top {
                    return Err(fail!(code::EINVAL, "REGS (type 3) at offset {}: an address outside user space", off));
                }
                self.regs = Some(a);
            }
            Record::Fpu(f) => {
                let x = f.xstate;
                let word = |o: usize| x.get(o..o + 8).map_or(0, |b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])));
                let mxcsr = x.get(24..28).map_or(0, |b| u32::from_ne_bytes(b.try_into().unwrap_or([0; 4])));
                let xcr0 = self.header.map_or(0, |h| h.xcr0);
                if word(image::XSAVE_HEADER_OFFSET) & !xcr0 != 0 || word(image::XSAVE_HEADER_OFFSET + 8) != 0 || mxcsr & 0xffff_0000 != 0 {
                    return Err(fail!(
                        code::EINVAL,
                        "FPU (type 4) at offset {}: invalid xstate (features outside the header's XCR0, compacted format or MXCSR reserved bits)",
                        off
                    ));
                }
                if self.restore.is_some() {
                    self.xstate = KVVec::with_capacity(x.len(), GFP_KERNEL).map_err(alloc_fail)?;
                    self.xstate.extend_from_slice(x, GFP_KERNEL).map_err(alloc_fail)?;
                }
            }
            Record::Files(files) => {
                if self.flags & RST_SKIP_FILES == 0 {
                    if let Some(e) = files.iter().find(|e| e.fd > 2) {
                        return Err(fail!(
                            eopnotsupp(),
                            "FILES (type 9) at offset {}: the task had fd {} ({}) open; only fds 0, 1 and 2 are restored (they are the restart tool's): use --skip-files to restart without the others",
                            off,
                            e.fd,
                            image::file_kind_name(e.kind)
                        ));
                    }
                }
            }
            Record::Mm(mm) => self.mm_record(off, mm)?,
            Record::Vma(v) => self.vma_record(off, v)?,
            Record::Pages(p) => {
                let cur = self.cur.ok_or_else(|| fail!(code::EINVAL, "PAGES at offset {}: outside a VMA", off))?;
                match cur.kind {
                    VmaKind::AnonPrivate | VmaKind::Stack | VmaKind::Heap | VmaKind::FilePrivate | VmaKind::SharedAnon => {}
                    _ => {
                        return Err(fail!(
                            code::EINVAL,
                            "PAGES (type 7) at offset {}: pages for a shared file mapping, [vdso] or [vvar]",
                            off
                        ))
                    }
                }
                self.page_addr = p.addr;
            }
            _ => {}
        }
        Ok(())
    }

    fn data(&mut self, off: u64, bytes: &[u8]) -> Result<(), Fail> {
        let addr = self.page_addr;
        self.page_addr = addr.saturating_add(bytes.len() as u64);
        let (Some(_), Some(cur)) = (&self.restore, self.cur) else {
            return Ok(());
        };
        let end = addr.checked_add(bytes.len() as u64);
        if addr < cur.start || end.is_none_or(|e| e > cur.end) {
            return Err(fail!(code::EINVAL, "PAGES (type 7) at offset {}: data outside its VMA", off));
        }
        let r = match cur.kind {
            VmaKind::SharedAnon => rst::write_shmem(addr, bytes),
            _ if cur.prot & image::PROT_WRITE != 0 => rst::copy_to_user(addr, bytes),
            _ => rst::write_force(addr, bytes),
        };
        r.map_err(|e| fail!(e, "PAGES (type 7) at offset {}: writing {:#x}: error {}", off, addr, e.to_errno()))
    }
}

impl Walker<'_> {
    fn mm_record(&mut self, off: u64, mm: &image::Mm<'_>) -> Result<(), Fail> {
        let f = mm.layout();
        let layout = MmLayout::from_array(f);
        if f.iter().any(|&v| v < PAGE_SIZE as u64 || v >= self.m.task_size)
            || layout.start_code >= layout.end_code
            || layout.start_data > layout.end_data
            || layout.start_brk > layout.brk
            || layout.arg_start > layout.arg_end
            || layout.env_start > layout.env_end
        {
            return Err(fail!(code::EINVAL, "MM (type 5) at offset {}: invalid layout fields", off));
        }
        let mut auxv = KVec::new();
        for (k, v) in mm.auxv.iter() {
            auxv.push(k, GFP_KERNEL).map_err(alloc_fail)?;
            auxv.push(v, GFP_KERNEL).map_err(alloc_fail)?;
        }
        if auxv.len() < 2 || auxv.len() > self.m.auxv_words || auxv[auxv.len() - 2] != image::AT_NULL {
            return Err(fail!(code::EINVAL, "MM (type 5) at offset {}: auxv too long or not ended by AT_NULL", off));
        }
        if !mm.exe_path.is_empty() {
            let path = c_path(mm.exe_path)
                .ok_or_else(|| fail!(code::EINVAL, "MM (type 5) at offset {}: the executable's path is not absolute", off))?;
            if self.restore.is_none() {
                let f = FileRef::open(&path, false).map_err(|e| {
                    fail!(e, "MM (type 5) at offset {}: cannot open the executable {}: error {}", off, BStr(mm.exe_path), e.to_errno())
                })?;
                self.exe = Some(f);
            }
        }
        self.mm = Some(MmRec { layout, auxv });
        Ok(())
    }

    fn vma_record(&mut self, off: u64, v: &image::Vma<'_>) -> Result<(), Fail> {
        let ps = self.page_size();
        if v.start < MIN_ADDR || v.end > self.m.task_size || v.start >= v.end || v.start % ps != 0 || v.end % ps != 0 {
            return Err(fail!(
                code::EINVAL,
                "VMA (type 6) at offset {}: {:#x}-{:#x} is outside user space",
                off,
                v.start,
                v.end
            ));
        }
        let len = v.end - v.start;
        self.cur = Some(CurVma { start: v.start, end: v.end, kind: v.kind, prot: v.prot });
        if let Some(r) = &self.restore {
            let (ts, te) = r.tramp;
            if v.start < te && ts < v.end {
                return Err(fail!(code::EINVAL, "VMA (type 6) at offset {}: the image changed after it was checked", off));
            }
        } else {
            self.ranges.push((v.start, v.end), GFP_KERNEL).map_err(alloc_fail)?;
        }
        let mut flags = MAP_FIXED;
        if v.flags & image::VMA_NORESERVE != 0 {
            flags |= MAP_NORESERVE;
        }
        match v.kind {
            VmaKind::Vdso | VmaKind::Vvar => {
                let (slot, want, name) = if v.kind == VmaKind::Vdso {
                    (&mut self.vdso, self.m.vdso_len, "[vdso]")
                } else {
                    (&mut self.vvar, self.m.vvar_len, "[vvar]")
                };
                if slot.is_some() || len != want {
                    return Err(fail!(
                        code::ENOEXEC,
                        "VMA (type 6) at offset {}: {} of {} bytes, a second one, or this kernel's is {} bytes",
                        off,
                        name,
                        len,
                        want
                    ));
                }
                *slot = Some((v.start, v.end));
                return Ok(());
            }
            VmaKind::AnonPrivate | VmaKind::Stack | VmaKind::Heap => {
                flags |= MAP_PRIVATE | MAP_ANONYMOUS;
                if v.flags & image::VMA_GROWSDOWN != 0 {
                    flags |= MAP_GROWSDOWN;
                }
                self.map(off, v, None, flags, 0)
            }
            VmaKind::SharedAnon => self.map(off, v, None, flags | MAP_SHARED | MAP_ANONYMOUS, 0),
            VmaKind::FilePrivate | VmaKind::FileShared => {
                let shared = v.kind == VmaKind::FileShared;
                let pgoff = v
                    .pgoff
                    .checked_mul(ps)
                    .ok_or_else(|| fail!(code::EINVAL, "VMA (type 6) at offset {}: file offset too large", off))?;
                let path = c_path(v.path)
                    .ok_or_else(|| fail!(code::EINVAL, "VMA (type 6) at offset {}: the file's path is not absolute", off))?;
                let flags = flags | if shared { MAP_SHARED } else { MAP_PRIVATE };
                if self.restore.is_some() {
                    let plan = &self.restore.as_ref().map(|r| &r.ctx.plan);
                    let f = plan
                        .and_then(|p| p.files.get(self.file_index))
                        .map(|f| f.clone_ref())
                        .ok_or_else(|| fail!(code::EINVAL, "VMA (type 6) at offset {}: the image changed after it was checked", off))?;
                    self.file_index += 1;
                    self.map(off, v, Some(&f), flags, pgoff)
                } else {
                    let write = shared && v.prot & image::PROT_WRITE != 0;
                    let f = FileRef::open(&path, write).map_err(|e| {
                        fail!(e, "VMA (type 6) at offset {}: cannot open {}: error {}", off, BStr(v.path), e.to_errno())
                    })?;
                    self.files.push(f, GFP_KERNEL).map_err(alloc_fail)?;
                    Ok(())
                }
            }
        }
    }

    /// Pass 2: maps one VMA of the image.
    fn map(&mut self, off: u64, v: &image::Vma<'_>, f: Option<&FileRef>, flags: u32, pgoff: u64) -> Result<(), Fail> {
        if self.restore.is_none() {
            return Ok(());
        }
        rst::mmap(f, v.start, v.end - v.start, v.prot, flags, pgoff).map_err(|e| {
            fail!(e, "VMA (type 6) at offset {}: mapping {:#x}-{:#x}: error {}", off, v.start, v.end, e.to_errno())
        })
    }
}

/// Bytes shown as text, non-printable ones as `?`.
struct BStr<'a>(&'a [u8]);

impl core::fmt::Display for BStr<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &b in self.0 {
            let c = if (0x20..0x7f).contains(&b) { b as char } else { '?' };
            core::fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}
