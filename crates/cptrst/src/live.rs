//! `cptrst checkpoint PID --live`: the iterative pre-copy checkpoint. The
//! tree keeps running while its memory is copied in rounds (`CKPT_ROUND`);
//! the kernel's soft-dirty tracking (`/proc/PID/clear_refs` "4", then
//! `PAGEMAP_SCAN` for `PAGE_IS_SOFT_DIRTY`) tells what it wrote meanwhile;
//! then the tree is stopped for good and only the rest is written, with
//! the non-memory state (`CKPT_FINAL`), into the same stream.
//!
//! This file owns the rounds: stopping and letting go of the tree around
//! each one (`crate::stop`), clearing and scanning the soft-dirty bits of
//! each address space, the ranges handed to the module (one `LiveSrc` per
//! thread group, tracked across rounds by pid and /proc start time), the
//! decision when to stop for good, and the stats line. The stream state
//! (offset, records, CRC) lives in [`uapi::LiveArgs`], carried from one
//! call to the next: the module keeps nothing between calls.
//!
//! On any failure the tree is left as it was (running if it was running:
//! between rounds it is not stopped at all) and the tool fails.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::checkpoint::{checkpoint_ioctl, ioctl_failure};
use crate::dev::Dev;
use crate::stop::{self, After, Stopped};
use cptrst::Failure;
use cptrst_uapi as uapi;

const PAGE: u64 = 4096;
/// The end of user space on x86_64 (4-level paging): what a round-1 range
/// covers, and what no range passes.
pub const USER_END: u64 = 0x7fff_ffff_f000;

/// The most rounds `--rounds` allows.
pub const MAX_ROUNDS: u32 = 64;
/// `--rounds` by default.
pub const DEFAULT_ROUNDS: u32 = 8;
/// `--downtime-target` by default, in milliseconds.
pub const DEFAULT_DOWNTIME_MS: u64 = 100;
/// The largest `--downtime-target`, in milliseconds.
pub const MAX_DOWNTIME_MS: u64 = 3_600_000;

/// What `--live` and its options ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveOpts {
    /// At most this many ROUND calls before the final stop.
    pub rounds: u32,
    /// Stop for good once the dirty pages would take at most this long
    /// to write, at the copy rate of round 1.
    pub downtime_ms: u64,
}

impl Default for LiveOpts {
    fn default() -> Self {
        LiveOpts { rounds: DEFAULT_ROUNDS, downtime_ms: DEFAULT_DOWNTIME_MS }
    }
}

// ---------------------------------------------------------------------------
// PAGEMAP_SCAN (linux/fs.h, 6.7+) and clear_refs.
// ---------------------------------------------------------------------------

/// `struct page_region` of linux/fs.h.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct PageRegion {
    start: u64,
    end: u64,
    categories: u64,
}

/// `struct pm_scan_arg` of linux/fs.h (6.12).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct PmScanArg {
    size: u64,
    flags: u64,
    start: u64,
    end: u64,
    walk_end: u64,
    vec: u64,
    vec_len: u64,
    max_pages: u64,
    category_inverted: u64,
    category_mask: u64,
    category_anyof_mask: u64,
    return_mask: u64,
}

const _: () = assert!(std::mem::size_of::<PmScanArg>() == 96);
const _: () = assert!(std::mem::size_of::<PageRegion>() == 24);

/// `PAGE_IS_SOFT_DIRTY` of linux/fs.h.
const PAGE_IS_SOFT_DIRTY: u64 = 1 << 7;
/// `PAGE_IS_PRESENT` of linux/fs.h (the host tests' scan where the kernel
/// tracks no soft-dirty bits).
#[cfg(test)]
const PAGE_IS_PRESENT: u64 = 1 << 3;
/// `_IOWR('f', 16, struct pm_scan_arg)`.
const PAGEMAP_SCAN: u64 = (3 << 30) | ((std::mem::size_of::<PmScanArg>() as u64) << 16) | ((b'f' as u64) << 8) | 16;
/// Regions taken per PAGEMAP_SCAN call.
const SCAN_VEC: usize = 512;

/// The soft-dirty ranges of the address space of `pid` (`/proc/PID/pagemap`
/// or any pagemap file), sorted, disjoint, page aligned. Pages of a VMA
/// created since the last clear (`VM_SOFTDIRTY`) count as soft-dirty,
/// present or not.
pub fn soft_dirty_of(pagemap: &File) -> io::Result<Vec<(u64, u64)>> {
    scan(pagemap, PAGE_IS_SOFT_DIRTY, SCAN_VEC)
}

/// The ranges of the pages in `category` (a `PAGE_IS_*` bit), scanned
/// `vec_len` regions per call, up to the end of user space.
fn scan(pagemap: &File, category: u64, vec_len: usize) -> io::Result<Vec<(u64, u64)>> {
    let mut vec = vec![PageRegion::default(); vec_len];
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut start = 0u64;
    while start < USER_END {
        let mut a = PmScanArg {
            size: std::mem::size_of::<PmScanArg>() as u64,
            start,
            end: USER_END,
            vec: vec.as_mut_ptr() as u64,
            vec_len: vec.len() as u64,
            category_mask: category,
            return_mask: category,
            ..Default::default()
        };
        // SAFETY: PAGEMAP_SCAN reads and writes `a` (its size is in `a.size`
        // and the command) and writes at most `vec_len` regions at `vec`,
        // which lives across the call.
        let n = unsafe { libc::ioctl(pagemap.as_raw_fd(), PAGEMAP_SCAN as libc::c_ulong, &mut a as *mut PmScanArg) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        for r in &vec[..(n as usize).min(vec.len())] {
            push_range(&mut out, r.start, r.end);
        }
        if a.walk_end <= start {
            return Err(io::Error::other(format!("PAGEMAP_SCAN made no progress at {start:#x}")));
        }
        start = a.walk_end;
    }
    // Already sorted and merged as the kernel walks; made sure of, as the
    // module refuses anything else.
    Ok(coalesce(out))
}

/// [`soft_dirty_of`] the process `pid`.
pub fn soft_dirty(pid: i32) -> io::Result<Vec<(u64, u64)>> {
    soft_dirty_of(&File::open(format!("/proc/{pid}/pagemap"))?)
}

/// Clears the soft-dirty bits of the address space of `pid`
/// (`/proc/PID/clear_refs` "4"): from now on its writes are tracked.
pub fn clear_soft_dirty(pid: i32) -> io::Result<()> {
    std::fs::OpenOptions::new().write(true).open(format!("/proc/{pid}/clear_refs"))?.write_all(b"4")
}

/// Checks on this process that the kernel tracks soft-dirty pages: a page
/// written after a clear must be reported. Without `CONFIG_MEM_SOFT_DIRTY`
/// nothing is ever soft-dirty, and a live checkpoint would keep stale
/// copies; without `PAGEMAP_SCAN` (before 6.7) nothing can be scanned.
pub fn check_soft_dirty_support() -> Result<(), Failure> {
    let fail = |what: String| Failure::op(format!("live checkpoint: {what}"));
    // SAFETY: a fresh private anonymous page, unmapped below.
    let p = unsafe {
        libc::mmap(std::ptr::null_mut(), PAGE as usize, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    if p == libc::MAP_FAILED {
        return Err(fail(format!("mmap: {}", io::Error::last_os_error())));
    }
    let res = (|| {
        // SAFETY: `p` is a writable page of ours.
        unsafe { std::ptr::write_volatile(p.cast::<u8>(), 1) };
        clear_soft_dirty(std::process::id() as i32).map_err(|e| fail(format!("/proc/self/clear_refs: {e}")))?;
        // SAFETY: as above.
        unsafe { std::ptr::write_volatile(p.cast::<u8>(), 2) };
        let pm = File::open("/proc/self/pagemap").map_err(|e| fail(format!("/proc/self/pagemap: {e}")))?;
        let d = soft_dirty_of(&pm).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTTY) | Some(libc::EINVAL) => fail(format!("the kernel has no PAGEMAP_SCAN (Linux 6.7 or later is needed): {e}")),
            _ => fail(format!("PAGEMAP_SCAN of /proc/self/pagemap: {e}")),
        })?;
        let a = p as u64;
        if !d.iter().any(|&(s, e)| s <= a && a < e) {
            return Err(fail("the kernel does not track soft-dirty pages (CONFIG_MEM_SOFT_DIRTY): a written page was not reported".into()));
        }
        Ok(())
    })();
    // SAFETY: unmapping the page mapped above.
    unsafe { libc::munmap(p, PAGE as usize) };
    res
}

// ---------------------------------------------------------------------------
// Ranges.
// ---------------------------------------------------------------------------

/// Appends `[start, end)` (page aligned outward, clipped to user space) to
/// sorted, disjoint `out`, merging it with the last range if they touch.
fn push_range(out: &mut Vec<(u64, u64)>, start: u64, end: u64) {
    let s = start & !(PAGE - 1);
    let e = end.saturating_add(PAGE - 1) & !(PAGE - 1);
    let e = e.min(USER_END);
    if s >= e {
        return;
    }
    match out.last_mut() {
        Some(last) if s <= last.1 => last.1 = last.1.max(e),
        _ => out.push((s, e)),
    }
}

/// Any ranges made sorted, disjoint, page aligned (outward) and clipped to
/// user space, as the module wants them.
pub fn coalesce(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut out = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        push_range(&mut out, s, e);
    }
    out
}

/// The pages `ranges` cover.
pub fn pages_in(ranges: &[(u64, u64)]) -> u64 {
    ranges.iter().map(|&(s, e)| (e - s) / PAGE).sum()
}

/// The `(start, end)` pairs as the ioctl reads them.
pub fn flatten(ranges: &[(u64, u64)]) -> Vec<u64> {
    ranges.iter().flat_map(|&(s, e)| [s, e]).collect()
}

// ---------------------------------------------------------------------------
// The decision.
// ---------------------------------------------------------------------------

/// Why the tree is stopped for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalWhy {
    /// The dirty pages fit the downtime target.
    Small,
    /// `--rounds` rounds are done.
    Rounds,
    /// The dirty set did not shrink (at least 90 % of the previous one).
    NoShrink,
}

impl FinalWhy {
    pub fn as_str(self) -> &'static str {
        match self {
            FinalWhy::Small => "downtime-target",
            FinalWhy::Rounds => "rounds",
            FinalWhy::NoShrink => "no-shrink",
        }
    }
}

/// After `done` rounds, with `dirty` pages written since the last one
/// (`prev`: the previous round's dirty pages, or round 1's copied ones):
/// stop for good (and why), or `None`: one more round. `copy_ms_per_page`
/// is round 1's measured copy time per page.
pub fn decide(done: u32, max_rounds: u32, dirty: u64, prev: u64, copy_ms_per_page: f64, target_ms: u64) -> Option<FinalWhy> {
    if dirty as f64 * copy_ms_per_page <= target_ms as f64 {
        Some(FinalWhy::Small)
    } else if done >= max_rounds {
        Some(FinalWhy::Rounds)
    } else if dirty.saturating_mul(10) >= prev.saturating_mul(9) {
        Some(FinalWhy::NoShrink)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// Stats.
// ---------------------------------------------------------------------------

/// What a live checkpoint did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveStats {
    /// Pages copied by each ROUND call.
    pub round_pages: Vec<u64>,
    /// Pages written in the final stop (PAGES).
    pub final_pages: u64,
    /// Pages referenced in the final stop (PREVPAGES).
    pub prev_pages: u64,
    /// Sum of every stop (rounds and final), until the image was complete.
    pub frozen: Duration,
    /// The final stop, until the image was complete.
    pub final_stop: Duration,
    /// The final stop's stopping of the tree alone.
    pub final_freezing: Duration,
    /// Why the tree was stopped for good.
    pub why: Option<FinalWhy>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl LiveStats {
    pub fn live_pages(&self) -> u64 {
        self.round_pages.iter().sum()
    }

    /// The one stats line (stderr).
    pub fn line(&self) -> String {
        format!(
            "cptrst: live checkpoint: {} rounds, {} pages copied while running, {} pages in the final stop ({} referenced), frozen {:.1} ms (final stop {:.1} ms)",
            self.round_pages.len(),
            self.live_pages(),
            self.final_pages,
            self.prev_pages,
            ms(self.frozen),
            ms(self.final_stop)
        )
    }

    /// The live keys of `--stats` (JSON members, no braces): the rounds,
    /// the pages, the final stop's time; `frozen_us`, the sum of every
    /// stop, is the file's own key.
    pub fn json_fields(&self) -> String {
        format!(
            "\"rounds\": {}, \"live_pages\": {}, \"final_pages\": {}, \"prev_pages\": {}, \"final_stop_us\": {}, \"round_pages\": {}, \"final_reason\": {}",
            self.round_pages.len(),
            self.live_pages(),
            self.final_pages,
            self.prev_pages,
            self.final_stop.as_micros(),
            serde_json::Value::from(self.round_pages.clone()),
            serde_json::Value::from(self.why.map(FinalWhy::as_str))
        )
    }
}

// ---------------------------------------------------------------------------
// The rounds.
// ---------------------------------------------------------------------------

/// The processes of a stopped tree that have an address space (zombies
/// have none), with their start times.
fn live_procs(tree: &Stopped) -> Vec<(i32, u64)> {
    tree.procs().iter().filter(|&&p| !matches!(cptrst::proc::state(p), None | Some('Z' | 'X'))).filter_map(|&p| Some((p, cptrst::proc::starttime(p)?))).collect()
}

/// One address space with rounds: its src id and its process.
#[derive(Clone, Copy, Debug)]
struct Src {
    id: u32,
    pid: i32,
    start: u64,
}

/// One `LiveSrc` to be: its process, its src id (0: no rounds), its ranges.
type SrcEntry = (i32, u32, Vec<(u64, u64)>);

/// The `LiveSrc` entries of a call and the range buffers they point into.
struct SrcTable {
    srcs: Vec<uapi::LiveSrc>,
    _ranges: Vec<Vec<u64>>,
}

impl SrcTable {
    fn new(entries: Vec<SrcEntry>) -> SrcTable {
        let ranges: Vec<Vec<u64>> = entries.iter().map(|(_, _, r)| flatten(r)).collect();
        let srcs = entries
            .iter()
            .zip(&ranges)
            .map(|((pid, src, _), r)| uapi::LiveSrc {
                pid: *pid,
                src: *src,
                nr_ranges: (r.len() / 2) as u32,
                pad: 0,
                ranges: if r.is_empty() { 0 } else { r.as_ptr() as u64 },
            })
            .collect();
        SrcTable { srcs, _ranges: ranges }
    }
}

/// The stream state between calls, and the calls.
struct Stream<'a> {
    dev: &'a Dev,
    pid: i32,
    fd: i32,
    state: uapi::LiveArgs,
}

impl Stream<'_> {
    /// One call (`flags`: CKPT_ROUND or CKPT_FINAL) for `table`: the pages
    /// it copied, and (FINAL) the pages it referenced.
    fn call(&mut self, flags: u32, round: u32, table: &SrcTable) -> Result<(u64, u64), Failure> {
        let mut a = uapi::LiveArgs {
            offset: self.state.offset,
            records: self.state.records,
            crc: self.state.crc,
            round,
            nr_srcs: table.srcs.len() as u32,
            srcs: table.srcs.as_ptr() as u64,
            ..Default::default()
        };
        let mut kmsg = vec![0u8; uapi::RST_MSG_MAX as usize];
        checkpoint_ioctl(self.dev, self.pid, self.fd, flags, &mut a as *mut uapi::LiveArgs as u64, &mut kmsg).map_err(|e| {
            let what = if flags & uapi::CKPT_ROUND != 0 { format!("live round {round}") } else { "live final stop".to_string() };
            ioctl_failure(&what, self.pid, &kmsg, &e)
        })?;
        self.state.offset = a.offset;
        self.state.records = a.records;
        self.state.crc = a.crc;
        Ok((a.pages, a.prev_pages))
    }
}

fn os_fail(what: String, e: io::Error) -> Failure {
    Failure::op(format!("live checkpoint: {what}: {e}"))
}

/// Stops the tree, failing with the checkpoint's message.
fn stop(pid: i32, timeout: Duration, round: u32) -> Result<Stopped, Failure> {
    if stop::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(Failure::op(format!("checkpoint of {pid}: live round {round}: interrupted (EINTR)")));
    }
    stop::stop_tree(pid, timeout).map_err(|f| Failure { msg: format!("checkpoint of {pid}: live round {round}: {}", f.msg), ..f })
}

/// Runs the live checkpoint of the tree of `pid` into `fd`: the rounds,
/// then the final call with the tree stopped. Returns the tree, still
/// stopped, for the caller to release as `--kill`/`--resume` say, and
/// what was done. On failure the tree is let go as it was.
pub fn run(dev: &Dev, pid: i32, fd: i32, opts: &LiveOpts, stop_timeout: Duration) -> Result<(Stopped, LiveStats), Failure> {
    check_soft_dirty_support()?;
    let mut stats = LiveStats::default();
    let mut stream = Stream { dev, pid, fd, state: uapi::LiveArgs::default() };

    // Round 1: every page of every address space; tracking starts.
    let t0 = Instant::now();
    let tree = stop(pid, stop_timeout, 1)?;
    let procs = live_procs(&tree);
    if procs.len() > uapi::LIVE_MAX_SRCS as usize {
        return Err(Failure::op(format!(
            "checkpoint of {pid}: a live checkpoint takes at most {} processes, the tree has {}",
            uapi::LIVE_MAX_SRCS,
            procs.len()
        )));
    }
    let srcs: Vec<Src> = procs.iter().enumerate().map(|(i, &(p, s))| Src { id: i as u32 + 1, pid: p, start: s }).collect();
    for s in &srcs {
        clear_soft_dirty(s.pid).map_err(|e| os_fail(format!("/proc/{}/clear_refs", s.pid), e))?;
    }
    tree.release(After::Resume);
    stats.frozen += t0.elapsed();
    let table = SrcTable::new(srcs.iter().map(|s| (s.pid, s.id, vec![(0, USER_END)])).collect());
    let t1 = Instant::now();
    let (p1, _) = stream.call(uapi::CKPT_ROUND, 1, &table)?;
    let copy_ms_per_page = if p1 == 0 { 0.0 } else { ms(t1.elapsed()) / p1 as f64 };
    stats.round_pages.push(p1);
    let mut prev = p1;

    loop {
        let round = stats.round_pages.len() as u32 + 1;
        let ts = Instant::now();
        let tree = stop(pid, stop_timeout, round)?;
        let freezing = ts.elapsed();
        // The address spaces tracked since round 1 that are still there
        // (the same process: pid and start time), with what they wrote.
        let now: BTreeMap<i32, u64> = live_procs(&tree).into_iter().collect();
        let mut dirty: BTreeMap<i32, Vec<(u64, u64)>> = BTreeMap::new();
        for s in srcs.iter().filter(|s| now.get(&s.pid) == Some(&s.start)) {
            let d = soft_dirty(s.pid).map_err(|e| os_fail(format!("PAGEMAP_SCAN of /proc/{}/pagemap", s.pid), e))?;
            dirty.insert(s.pid, d);
        }
        let total: u64 = dirty.values().map(|d| pages_in(d)).sum();
        let done = round - 1;
        if let Some(why) = decide(done, opts.rounds, total, prev, copy_ms_per_page, opts.downtime_ms) {
            // The final stop: every process of the tree; those tracked
            // since round 1 with their dirty ranges, the others (forked
            // since) with src 0: every page written.
            stats.why = Some(why);
            let mut entries = Vec::new();
            for &p in now.keys() {
                match srcs.iter().find(|s| s.pid == p && dirty.contains_key(&p)) {
                    Some(s) => entries.push((p, s.id, dirty.remove(&p).unwrap_or_default())),
                    None => entries.push((p, 0, Vec::new())),
                }
            }
            // The root first, as the tree lists it.
            entries.sort_by_key(|e| (e.0 != pid, tree.procs().iter().position(|&q| q == e.0)));
            let table = SrcTable::new(entries);
            let (f, x) = stream.call(uapi::CKPT_FINAL, 0, &table)?;
            stats.final_pages = f;
            stats.prev_pages = x;
            stats.final_stop = ts.elapsed();
            stats.final_freezing = freezing;
            stats.frozen += stats.final_stop;
            return Ok((tree, stats));
        }
        let live: Vec<Src> = srcs.iter().copied().filter(|s| dirty.contains_key(&s.pid)).collect();
        for s in &live {
            clear_soft_dirty(s.pid).map_err(|e| os_fail(format!("/proc/{}/clear_refs", s.pid), e))?;
        }
        tree.release(After::Resume);
        stats.frozen += ts.elapsed();
        let table = SrcTable::new(
            live.iter().filter_map(|s| dirty.remove(&s.pid).filter(|d| !d.is_empty()).map(|d| (s.pid, s.id, d))).collect(),
        );
        let (pages, _) = stream.call(uapi::CKPT_ROUND, round, &table)?;
        stats.round_pages.push(pages);
        prev = total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_coalesce_and_align() {
        assert_eq!(coalesce(vec![]), vec![]);
        assert_eq!(coalesce(vec![(0x3000, 0x4000), (0x1000, 0x2000), (0x2000, 0x3000)]), vec![(0x1000, 0x4000)]);
        // Outward alignment, overlap, containment.
        assert_eq!(coalesce(vec![(0x1001, 0x1002), (0x5000, 0x9000), (0x6000, 0x7000)]), vec![(0x1000, 0x2000), (0x5000, 0x9000)]);
        assert_eq!(coalesce(vec![(0x1000, 0x3000), (0x2fff, 0x4001)]), vec![(0x1000, 0x5000)]);
        // Empty ranges vanish; nothing passes the end of user space.
        assert_eq!(coalesce(vec![(0x2000, 0x2000), (USER_END - 0x1000, u64::MAX)]), vec![(USER_END - 0x1000, USER_END)]);
        assert_eq!(coalesce(vec![(USER_END, u64::MAX)]), vec![]);
        let r = coalesce(vec![(0x10000, 0x12000), (0x1000, 0x2000)]);
        assert_eq!(pages_in(&r), 3);
        assert_eq!(flatten(&r), vec![0x1000, 0x2000, 0x10000, 0x12000]);
    }

    #[test]
    fn decisions() {
        // 0.01 ms a page: 10000 pages take 100 ms.
        let c = 0.01;
        assert_eq!(decide(1, 8, 10_000, 100_000, c, 100), Some(FinalWhy::Small));
        assert_eq!(decide(1, 8, 10_001, 100_000, c, 100), None);
        assert_eq!(decide(1, 8, 0, 100_000, c, 0), Some(FinalWhy::Small));
        assert_eq!(decide(1, 8, 1, 100_000, c, 0), None);
        // The last round allowed.
        assert_eq!(decide(8, 8, 50_000, 100_000, c, 100), Some(FinalWhy::Rounds));
        assert_eq!(decide(1, 1, 50_000, 100_000, c, 100), Some(FinalWhy::Rounds));
        assert_eq!(decide(7, 8, 50_000, 100_000, c, 100), None);
        // Did not shrink below 90 %.
        assert_eq!(decide(2, 8, 90_000, 100_000, c, 100), Some(FinalWhy::NoShrink));
        assert_eq!(decide(2, 8, 89_999, 100_000, c, 100), None);
        assert_eq!(decide(2, 8, 200_000, 100_000, c, 100), Some(FinalWhy::NoShrink));
        // Small wins over the other two.
        assert_eq!(decide(8, 8, 5, 5, c, 100), Some(FinalWhy::Small));
        // No copy time measured (round 1 copied nothing): small at once.
        assert_eq!(decide(1, 8, 1_000_000, 0, 0.0, 0), Some(FinalWhy::Small));
    }

    #[test]
    fn stats_line_and_json() {
        let s = LiveStats {
            round_pages: vec![1000, 200, 30],
            final_pages: 7,
            prev_pages: 1100,
            frozen: Duration::from_micros(12_500),
            final_stop: Duration::from_micros(4_250),
            final_freezing: Duration::from_micros(1_000),
            why: Some(FinalWhy::NoShrink),
        };
        assert_eq!(
            s.line(),
            "cptrst: live checkpoint: 3 rounds, 1230 pages copied while running, 7 pages in the final stop (1100 referenced), frozen 12.5 ms (final stop 4.2 ms)"
        );
        let v: serde_json::Value = serde_json::from_str(&format!("{{{}}}", s.json_fields())).unwrap();
        assert_eq!(v["rounds"], 3);
        assert_eq!(v["live_pages"], 1230);
        assert_eq!(v["final_pages"], 7);
        assert_eq!(v["prev_pages"], 1100);
        assert_eq!(v["final_stop_us"], 4250);
        assert_eq!(v["round_pages"], serde_json::json!([1000, 200, 30]));
        assert_eq!(v["final_reason"], "no-shrink");
    }

    #[test]
    fn scan_command_number() {
        // _IOWR('f', 16, struct pm_scan_arg) as linux/fs.h computes it.
        assert_eq!(PAGEMAP_SCAN, 0xc060_6610);
    }

    /// A child with a mapping of `pages` pages, `touched` present, that
    /// writes one page of its own when told to (a byte on a
    /// pipe), then waits; dies with the test.
    fn writer_child(pages: usize, touched: &[usize]) -> (i32, u64, i32, i32) {
        let mut to = [0i32; 2];
        let mut from = [0i32; 2];
        // SAFETY: pipes into local arrays; the child makes system calls and
        // volatile stores to its own mapping only, and never returns.
        unsafe {
            assert_eq!(libc::pipe(to.as_mut_ptr()), 0);
            assert_eq!(libc::pipe(from.as_mut_ptr()), 0);
            let p = libc::mmap(std::ptr::null_mut(), pages * 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
            assert!(p != libc::MAP_FAILED);
            for &i in touched {
                std::ptr::write_volatile(p.cast::<u8>().add(i * 4096), 1);
            }
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                let mut b = 0u8;
                loop {
                    if libc::read(to[0], (&mut b as *mut u8).cast(), 1) != 1 {
                        libc::_exit(0);
                    }
                    std::ptr::write_volatile(p.cast::<u8>().add(b as usize * 4096), 2);
                    libc::write(from[1], (&b as *const u8).cast(), 1);
                }
            }
            (pid, p as u64, to[1], from[0])
        }
    }

    fn poke(to: i32, from: i32, page: u8) {
        let mut b = page;
        // SAFETY: one byte each way on our pipes.
        unsafe {
            assert_eq!(libc::write(to, (&b as *const u8).cast(), 1), 1);
            assert_eq!(libc::read(from, (&mut b as *mut u8).cast(), 1), 1);
        }
    }

    /// PAGEMAP_SCAN's layout and the walk_end loop, on what every kernel
    /// with it reports: the present pages of a child's mapping with holes,
    /// one region per call.
    #[test]
    fn pagemap_scan_present_pages() {
        let (pid, base, to, from) = writer_child(16, &[0, 1, 2, 7, 12, 13, 14, 15]);
        let pm = File::open(format!("/proc/{pid}/pagemap")).unwrap();
        match scan(&pm, PAGE_IS_PRESENT, 1) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTTY | libc::EINVAL)) => {
                println!("SKIP: no PAGEMAP_SCAN: {e}");
                return;
            }
            r => {
                r.unwrap();
            }
        }
        let ours = |d: &[(u64, u64)]| coalesce(d.iter().map(|&(s, e)| (s.max(base), e.min(base + 16 * 4096))).filter(|(s, e)| s < e).collect());
        poke(to, from, 9);
        let one = scan(&pm, PAGE_IS_PRESENT, 1).unwrap();
        let many = scan(&pm, PAGE_IS_PRESENT, SCAN_VEC).unwrap();
        assert_eq!(one, many);
        assert!(many.windows(2).all(|w| w[0].1 < w[1].0), "not sorted and disjoint: {many:x?}");
        let p = |a: u64, b: u64| (base + a * 4096, base + b * 4096);
        assert_eq!(ours(&many), vec![p(0, 3), p(7, 8), p(9, 10), p(12, 16)], "{many:x?}");
        // SAFETY: killing and reaping our own child; closing our pipe ends.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            let mut st = 0;
            libc::waitpid(pid, &mut st, 0);
            libc::close(to);
            libc::close(from);
        }
    }

    /// The scan of a child after clear_refs: exactly the pages it wrote
    /// since, among its mapping (skipped where the kernel has no
    /// soft-dirty tracking or no PAGEMAP_SCAN).
    #[test]
    fn pagemap_scan_of_a_child() {
        if let Err(f) = check_soft_dirty_support() {
            println!("SKIP: {}", f.msg);
            return;
        }
        let (pid, base, to, from) = writer_child(16, &(0..16).collect::<Vec<_>>());
        clear_soft_dirty(pid).unwrap();
        let d = soft_dirty(pid).unwrap();
        let ours = |d: &[(u64, u64)]| coalesce(d.iter().map(|&(s, e)| (s.max(base), e.min(base + 16 * 4096))).filter(|(s, e)| s < e).collect());
        assert_eq!(ours(&d), vec![], "dirty right after the clear: {d:x?}");
        for p in [3u8, 4, 9] {
            poke(to, from, p);
        }
        let d = soft_dirty(pid).unwrap();
        assert_eq!(ours(&d), vec![(base + 3 * 4096, base + 5 * 4096), (base + 9 * 4096, base + 10 * 4096)], "{d:x?}");
        // A scan does not clear.
        assert_eq!(ours(&soft_dirty(pid).unwrap()), ours(&d));
        clear_soft_dirty(pid).unwrap();
        poke(to, from, 15);
        assert_eq!(ours(&soft_dirty(pid).unwrap()), vec![(base + 15 * 4096, base + 16 * 4096)]);
        // SAFETY: killing and reaping our own child; closing our pipe ends.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            let mut st = 0;
            libc::waitpid(pid, &mut st, 0);
            libc::close(to);
            libc::close(from);
        }
    }
}
