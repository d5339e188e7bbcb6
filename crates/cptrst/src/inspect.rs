//! `cptrst inspect FILE|- [--json] [--page ADDR]`: validate an image and
//! print what it holds, like CRIU's `crit`.
//!
//! The whole image is validated first (every record, the trailer's counts
//! and CRC32C): a bad image gives exit status 1 and a message naming the
//! record and its byte offset, and nothing else is printed.
//!
//! A task's open fds (FILES record, image 1.1) show in the JSON as
//! `"files": [{"fd": 0, "kind": "chr"}, ...]`, and in the text as a line
//! `fds 0:chr 1:chr ...`; a task without a FILES record (a zombie, or any
//! task of a 1.0 image) has no `files` key.
//!
//! The shmem object of a shared anonymous VMA (SHM record, image 1.2)
//! shows in the JSON as the VMA's `"shm": 1`, and in the text as `shm#1`
//! in the PATH column: VMAs with the same id map the same memory, in one
//! mm or several. A VMA without an SHM record has no `shm` key.
//!
//! Open files (image 1.4): the JSON has a top-level `"files"` list of the
//! FILE objects (`id`, `kind`, `flags` as names, `open_flags` as a number,
//! `pos`, `size`, `mode`, `rdev`, `pipe`, `pipe_size`, `seals`,
//! `data_len`, `path`), and each thread group leader with an FDS record
//! `"fds": [{"fd": 3, "file": 2, "kind": "reg", "flags": ["rdonly",
//! "cloexec"], "pos": 123, "target": "/etc/passwd", "size": 2000}, ...]`,
//! `"umask"`, `"root"` and `"cwd"` (a thread shares its leader's). A file
//! VMA's MAPFILE record is its `"mapfile": {"size", "mode", "file"}`. The
//! text shows the leader's `fds 0:KIND 1:KIND ...` line, then its umask,
//! root and cwd, then one line per fd: number, kind, flags, position,
//! target (path, `pipe#ID`, `memfd:NAME`, what an external object was);
//! and the open files, one line each, after the tree.
//!
//! Signals, timers, limits and credentials (image 1.5): a task's CREDS
//! record adds to its `"creds"` the capability sets (`cap_effective`,
//! `cap_permitted`, `cap_inheritable`, `cap_ambient`, `cap_bset`, as
//! numbers), `securebits`, `no_new_privs` and `groups`; its SIGNALS record
//! is `"signals": {"altstack": {"sp", "size", "flags", "flag_names"},
//! "pdeath_signal", "timer_slack_ns", "pending": [{"queue": "private" or
//! "shared", "signo", "name", "code", "code_name", "pid", "uid", "value"},
//! ...]}` (queue order, private first); a process's PROCESS record is
//! `"process": {"rlimits": [{"resource": "RLIMIT_NOFILE", "cur", "max"},
//! ...] (a number or "unlimited"), "itimers": [{"which", "value_ns",
//! "interval_ns"}], "flags", "dumpable", "sigactions": [...], "timers":
//! [{"id", "clock", "notify", "signo", "value", "tid", "value_ns",
//! "interval_ns", "overrun"}]}`, its sigactions only the signals whose
//! action is not the default (`"disposition"`: `SIG_IGN`, `SIG_DFL` with
//! flags, or `handler`; `"flags"` as names). The text shows the same
//! under the task: uids and gids, capabilities in hex with the names of a
//! few, the alternate stack, parent-death signal, timer slack, one line
//! per pending signal, the limits, armed itimers, process flags, one line
//! per non-default disposition and per timer.
//!
//! A live checkpoint (image 1.6): the JSON has a top-level `"rounds"`
//! list, one entry per ROUND section in stream order: `{"round", "src",
//! "pid", "pages", "runs": [[addr, nr_pages], ...]}` (the pages copied
//! while the tree ran); a VMA with PREVPAGES records has `"prev":
//! [{"addr", "pages", "src"}, ...]` and `"prev_pages"` (its `"pages"` and
//! `"runs"` stay the PAGES records written at the final stop); the
//! summary adds `"rounds"` (the highest round), `"round_sections"`,
//! `"live_pages"` (pages of the ROUND sections) and `"prev_pages"` (pages
//! referenced by PREVPAGES). The text lists the round sections after the
//! header, one line per PREVPAGES under its VMA, and the live totals in
//! the last line. `--page ADDR` gives the page the restart would map: a
//! PREVPAGES page's latest copy in its src's round sections.

use std::collections::HashMap;
use std::io::{Read, Write};

use cptrst_image::{self as image, Creds, FileKind, OpenFile, Process, Reader, Record, SigInfo, Signals, VmaKind};
use serde_json::{json, Value};

use cptrst::Failure;

const REG_NAMES: [&str; 27] = [
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di", "orig_ax",
    "ip", "cs", "flags", "sp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
];

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn cstr(b: &[u8]) -> String {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..n]).into_owned()
}

fn kind_name(k: VmaKind) -> &'static str {
    match k {
        VmaKind::AnonPrivate => "anon",
        VmaKind::FilePrivate => "file-private",
        VmaKind::FileShared => "file-shared",
        VmaKind::SharedAnon => "shared-anon",
        VmaKind::Vdso => "vdso",
        VmaKind::Vvar => "vvar",
        VmaKind::Stack => "stack",
        VmaKind::Heap => "heap",
    }
}

/// The FPU record's registers in the standard XSAVE layout: x87 st0-7
/// (80 bits each, at 32 + 16i), xmm0-15 (at 160 + 16i), the AVX upper
/// halves ymmh0-15 (component 2, at 576 + 16i, if present in xstate_bv).
fn fpu_json(x: &[u8]) -> Value {
    let get = |off: usize, len: usize| x.get(off..off + len).map(hex);
    let xstate_bv = x.get(512..520).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).unwrap_or(0);
    let st: Vec<Value> = (0..8).filter_map(|i| get(32 + 16 * i, 10)).map(Value::String).collect();
    let xmm: Vec<Value> = (0..16).filter_map(|i| get(160 + 16 * i, 16)).map(Value::String).collect();
    let ymmh: Vec<Value> = if xstate_bv & 4 != 0 {
        (0..16).filter_map(|i| get(576 + 16 * i, 16)).map(Value::String).collect()
    } else {
        Vec::new()
    };
    let u16_at = |o: usize| x.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]])).unwrap_or(0);
    let u32_at = |o: usize| x.get(o..o + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(0);
    json!({
        "size": x.len(),
        "xstate_bv": xstate_bv,
        "fcw": u16_at(0), "fsw": u16_at(2), "ftw": x.get(4).copied().unwrap_or(0),
        "mxcsr": u32_at(24),
        "st": st, "xmm": xmm, "ymmh": ymmh,
    })
}

/// The names of `open(2)` flags (access mode first), then `cloexec` for
/// the fd flag.
fn flag_names(flags: u32, cloexec: bool) -> Vec<&'static str> {
    let mut v = vec![match flags & image::OF_ACCMODE {
        image::OF_RDONLY => "rdonly",
        image::OF_WRONLY => "wronly",
        _ => "rdwr",
    }];
    for (bit, name) in [
        (image::OF_APPEND, "append"),
        (image::OF_NONBLOCK, "nonblock"),
        (image::OF_DSYNC, "dsync"),
        (image::OF_ASYNC, "async"),
        (image::OF_DIRECT, "direct"),
        (image::OF_LARGEFILE, "largefile"),
        (image::OF_DIRECTORY, "directory"),
        (image::OF_NOFOLLOW, "nofollow"),
        (image::OF_NOATIME, "noatime"),
        (image::OF_SYNC, "sync"),
        (image::OF_PATH, "path"),
    ] {
        if flags & bit != 0 {
            v.push(name);
        }
    }
    if cloexec {
        v.push("cloexec");
    }
    v
}

/// What an open file is, in a word or a path: the path (a deleted file's
/// with " (deleted)"), `pipe#ID`, `memfd:NAME`, what an external object was.
fn file_target(f: &OpenFile<'_>) -> String {
    let path = String::from_utf8_lossy(f.path);
    match f.kind {
        FileKind::Pipe => format!("pipe#{}", f.pipe),
        FileKind::Memfd => format!("memfd:{path}"),
        FileKind::Deleted => format!("{path} (deleted)"),
        _ => path.into_owned(),
    }
}

/// A FILE record as JSON.
fn file_json(f: &OpenFile<'_>) -> Value {
    json!({
        "id": f.id, "kind": f.kind.name(), "flags": flag_names(f.flags, false), "open_flags": f.flags,
        "pos": f.pos, "size": f.size, "mode": f.mode, "rdev": format!("{}:{}", f.rdev_major, f.rdev_minor),
        "pipe": f.pipe, "pipe_size": f.pipe_size, "seals": f.seals, "data_len": f.data_len,
        "path": String::from_utf8_lossy(f.path), "target": file_target(f),
    })
}

/// Builds the JSON description of a valid image (and the page index).
fn describe(data: &[u8]) -> Result<(Value, Vec<(u64, usize)>), image::Error> {
    let mut reader = Reader::new(data)?;
    let h = *reader.header();
    let mut tasks: Vec<Value> = Vec::new();
    let mut mms: Vec<Value> = Vec::new();
    let mut trailer = Value::Null;
    let mut files: Vec<Value> = Vec::new();
    let mut rounds: Vec<Value> = Vec::new();
    // Page index: (address, offset of its data in `data`), the pages the
    // restart maps (PREVPAGES ones resolved to their round copies).
    let mut pages: Vec<(u64, usize)> = Vec::new();
    // The latest round copy of each page, by (src, address): later
    // sections overwrite earlier ones (rounds only increase).
    let mut copies: HashMap<(u32, u64), usize> = HashMap::new();
    let mut in_tree = false;
    let ps = h.page_size as usize;
    for item in &mut reader {
        let item = item?;
        match item.record {
            Record::Tree(t) => {
                in_tree = true;
                let all: Vec<_> = t.iter().collect();
                for e in &all {
                    // The child processes (not threads) of a process, by index.
                    let children: Vec<usize> = if e.is_thread() {
                        Vec::new()
                    } else {
                        all.iter().enumerate().filter(|(_, c)| !c.is_thread() && c.ppid == e.pid()).map(|(i, _)| i).collect()
                    };
                    tasks.push(json!({
                        "pid": e.pid(), "pids": e.level_pids(), "tgid": e.tgid, "ppid": e.ppid,
                        "pgid": e.pgid, "sid": e.sid, "thread": e.is_thread(), "zombie": e.is_zombie(),
                        "exit_code": e.exit_code, "exit_signal": e.exit_signal, "mm_id": e.mm_id,
                        "children": children,
                    }));
                }
            }
            Record::Task(t) => {
                if let Some(v) = tasks.get_mut(t.index as usize).and_then(Value::as_object_mut) {
                    v.insert("comm".into(), json!(cstr(&t.comm)));
                    v.insert(
                        "creds".into(),
                        json!({"uid": t.uid, "gid": t.gid, "euid": t.euid, "egid": t.egid,
                               "suid": t.suid, "sgid": t.sgid, "fsuid": t.fsuid, "fsgid": t.fsgid}),
                    );
                    v.insert("personality".into(), json!(t.personality));
                    v.insert("blocked".into(), json!(t.blocked));
                    v.insert("index".into(), json!(t.index));
                }
            }
            Record::Regs(r) => {
                let a = r.to_array();
                let regs: serde_json::Map<String, Value> =
                    REG_NAMES.iter().zip(a.iter()).map(|(n, v)| (n.to_string(), json!(v))).collect();
                if let Some(v) = tasks.iter_mut().rev().find(|t| t.get("comm").is_some()) {
                    v["regs"] = Value::Object(regs);
                }
            }
            Record::Fpu(f) => {
                if let Some(v) = tasks.iter_mut().rev().find(|t| t.get("comm").is_some()) {
                    v["fpu"] = fpu_json(f.xstate);
                }
            }
            Record::Files(f) => {
                let files: Vec<Value> =
                    f.iter().map(|e| json!({"fd": e.fd, "kind": image::file_kind_name(e.kind)})).collect();
                if let Some(v) = tasks.iter_mut().rev().find(|t| t.get("comm").is_some()) {
                    v["files"] = Value::Array(files);
                }
            }
            Record::Thread(t) => {
                if let Some(v) = tasks.iter_mut().rev().find(|t| t.get("comm").is_some()) {
                    v["thread_state"] = json!({"clear_child_tid": t.clear_child_tid, "robust_list": t.robust_list,
                                               "robust_list_len": t.robust_list_len, "rseq": t.rseq,
                                               "rseq_len": t.rseq_len, "rseq_sig": t.rseq_sig});
                }
            }
            Record::Shm(s) => {
                if let Some(v) = mms
                    .last_mut()
                    .and_then(|m| m["vmas"].as_array_mut())
                    .and_then(|v| v.last_mut())
                {
                    v["shm"] = json!(s.id);
                }
            }
            Record::Mm(m) => {
                let auxv: Vec<Value> = m.auxv.iter().map(|(k, v)| json!([k, v])).collect();
                mms.push(json!({
                    "mm_id": m.mm_id, "start_code": m.start_code, "end_code": m.end_code,
                    "start_data": m.start_data, "end_data": m.end_data, "start_brk": m.start_brk,
                    "brk": m.brk, "start_stack": m.start_stack, "arg_start": m.arg_start,
                    "arg_end": m.arg_end, "env_start": m.env_start, "env_end": m.env_end,
                    "auxv": auxv, "exe": String::from_utf8_lossy(m.exe_path), "vmas": [],
                }));
            }
            Record::Vma(v) => {
                if let Some(vmas) = mms.last_mut().and_then(|m| m["vmas"].as_array_mut()) {
                    vmas.push(json!({
                        "start": v.start, "end": v.end, "pgoff": v.pgoff, "prot": v.prot,
                        "flags": v.flags, "kind": kind_name(v.kind),
                        "path": String::from_utf8_lossy(v.path), "pages": 0, "runs": [],
                    }));
                }
            }
            Record::Pages(p) if !in_tree => {
                let base = p.data.as_ptr() as usize - data.as_ptr() as usize;
                let Some(r) = rounds.last_mut() else { continue };
                let src = r["src"].as_u64().unwrap_or(0) as u32;
                for i in 0..p.nr_pages as usize {
                    copies.insert((src, p.addr + (i * ps) as u64), base + i * ps);
                }
                r["pages"] = json!(r["pages"].as_u64().unwrap_or(0) + p.nr_pages);
                if let Some(runs) = r["runs"].as_array_mut() {
                    runs.push(json!([p.addr, p.nr_pages]));
                }
            }
            Record::Pages(p) => {
                let base = p.data.as_ptr() as usize - data.as_ptr() as usize;
                for i in 0..p.nr_pages as usize {
                    pages.push((p.addr + (i * ps) as u64, base + i * ps));
                }
                if let Some(v) = mms
                    .last_mut()
                    .and_then(|m| m["vmas"].as_array_mut())
                    .and_then(|v| v.last_mut())
                {
                    let n = v["pages"].as_u64().unwrap_or(0) + p.nr_pages;
                    v["pages"] = json!(n);
                    if let Some(r) = v["runs"].as_array_mut() {
                        r.push(json!([p.addr, p.nr_pages]));
                    }
                }
            }
            Record::Trailer(t) => {
                trailer = json!({"records": t.records, "total_bytes": t.total_bytes, "crc32c": t.crc32c});
            }
            Record::File(f) => files.push(file_json(&f)),
            Record::FileData(_) => {}
            Record::Fds(f) => {
                let fds: Vec<Value> = f
                    .iter()
                    .map(|e| {
                        let file = e
                            .file
                            .checked_sub(1)
                            .and_then(|i| files.get(i as usize))
                            .cloned()
                            .unwrap_or(Value::Null);
                        json!({
                            "fd": e.fd, "file": e.file, "kind": file["kind"],
                            "flags": flag_names(file["open_flags"].as_u64().unwrap_or(0) as u32,
                                                e.flags & image::FD_FLAG_CLOEXEC != 0),
                            "pos": file["pos"], "target": file["target"], "size": file["size"],
                        })
                    })
                    .collect();
                if let Some(v) = tasks.iter_mut().rev().find(|t| t.get("comm").is_some()) {
                    v["fds"] = Value::Array(fds);
                    v["umask"] = json!(f.umask);
                    v["root"] = json!(String::from_utf8_lossy(f.root));
                    v["cwd"] = json!(String::from_utf8_lossy(f.cwd));
                }
            }
            Record::MapFile(m) => {
                if let Some(v) = mms
                    .last_mut()
                    .and_then(|m| m["vmas"].as_array_mut())
                    .and_then(|v| v.last_mut())
                {
                    v["mapfile"] = json!({"size": m.size, "mode": m.mode, "file": m.file});
                }
            }
            Record::Creds(c) => {
                if let Some(v) = tasks.iter_mut().rev().find(|t| t.get("comm").is_some()) {
                    if let Some(m) = v["creds"].as_object_mut() {
                        m.extend(creds_json(&c));
                    }
                }
            }
            Record::Signals(s) => {
                if let Some(v) = tasks.iter_mut().rev().find(|t| t.get("comm").is_some()) {
                    v["signals"] = signals_json(&s);
                }
            }
            Record::Process(p) => {
                if let Some(v) = tasks.iter_mut().rev().find(|t| t.get("comm").is_some()) {
                    v["process"] = process_json(&p);
                }
            }
            Record::Round(r) => {
                rounds.push(json!({"round": r.round, "src": r.src, "pid": r.pid, "pages": 0, "runs": []}));
            }
            Record::PrevPages(p) => {
                for i in 0..p.nr_pages {
                    let a = p.addr + i * ps as u64;
                    if let Some(&off) = copies.get(&(p.src, a)) {
                        pages.push((a, off));
                    }
                }
                if let Some(v) = mms
                    .last_mut()
                    .and_then(|m| m["vmas"].as_array_mut())
                    .and_then(|v| v.last_mut())
                {
                    let n = v["prev_pages"].as_u64().unwrap_or(0) + p.nr_pages;
                    v["prev_pages"] = json!(n);
                    let entry = json!({"addr": p.addr, "pages": p.nr_pages, "src": p.src});
                    match v["prev"].as_array_mut() {
                        Some(l) => l.push(entry),
                        None => v["prev"] = json!([entry]),
                    }
                }
            }
            Record::Unknown { kind, .. } => {
                eprintln!("cptrst inspect: skipped a record of unknown type {kind} at offset {}", item.offset);
            }
        }
    }
    let header = json!({
        "version": format!("{}.{}", h.major, h.minor), "arch": h.arch, "page_size": h.page_size,
        "xcr0": h.xcr0, "xstate_size": h.xstate_size, "flags": h.flags,
        "kernel_release": String::from_utf8_lossy(h.release()),
    });
    let v = json!({"header": header, "files": files, "tasks": tasks, "mms": mms, "trailer": trailer, "rounds": rounds});
    Ok((v, pages))
}

/// One line of the tree: pid (`{tid}` for a thread), comm, and what
/// matters to rebuild it.
fn tree_line(t: &Value) -> String {
    let pid = t["pid"].as_u64().unwrap_or(0);
    let mut s = if t["thread"].as_bool() == Some(true) { format!("{{{pid}}}") } else { pid.to_string() };
    s += &format!(" {}", t["comm"].as_str().unwrap_or("?"));
    let pids = t["pids"].as_array().map_or(0, Vec::len);
    if pids > 1 {
        let v: Vec<String> = t["pids"].as_array().into_iter().flatten().map(Value::to_string).collect();
        s += &format!("  pids {}", v.join("/"));
    }
    if t["thread"].as_bool() != Some(true) {
        let (pg, sid) = (t["pgid"].as_u64().unwrap_or(0), t["sid"].as_u64().unwrap_or(0));
        s += &format!("  pgid {pg} sid {sid}");
        if sid == pid {
            s += " (session leader)";
        } else if pg == pid {
            s += " (group leader)";
        }
    } else {
        s += "  (thread)";
    }
    if t["zombie"].as_bool() == Some(true) {
        s += &format!("  <zombie, wait status {:#x}>", t["exit_code"].as_u64().unwrap_or(0));
    }
    s
}

/// The tree, pstree-like: each process, then its threads and children.
fn tree_lines(tasks: &[Value]) -> Vec<String> {
    fn walk(tasks: &[Value], i: usize, prefix: &str, last: bool, top: bool, out: &mut Vec<String>) {
        let branch = if top { "" } else if last { "`- " } else { "|- " };
        out.push(format!("{prefix}{branch}{}", tree_line(&tasks[i])));
        let pid = tasks[i]["pid"].as_u64();
        let is_thread = |j: usize| tasks[j]["thread"].as_bool() == Some(true) && tasks[j]["tgid"].as_u64() == pid;
        let threads = (0..tasks.len()).filter(|&j| j != i && is_thread(j));
        let children = tasks[i]["children"].as_array().into_iter().flatten().filter_map(Value::as_u64).map(|c| c as usize);
        // Only forward links: a bad image cannot make it loop.
        let next: Vec<usize> = threads.chain(children).filter(|&j| j > i && j < tasks.len()).collect();
        let sub = if top { prefix.to_string() } else { format!("{prefix}{}", if last { "   " } else { "|  " }) };
        for (k, &j) in next.iter().enumerate() {
            walk(tasks, j, &sub, k + 1 == next.len(), false, out);
        }
    }
    let mut out = Vec::new();
    if !tasks.is_empty() {
        walk(tasks, 0, "  ", true, true, &mut out);
    }
    out
}

fn print_text(v: &Value) {
    let h = &v["header"];
    println!(
        "image {} x86_64, kernel {}, page size {}, xcr0 {:#x}, xstate {} bytes",
        h["version"].as_str().unwrap_or("?"),
        h["kernel_release"].as_str().unwrap_or("?"),
        h["page_size"],
        h["xcr0"].as_u64().unwrap_or(0),
        h["xstate_size"]
    );
    let t = &v["trailer"];
    println!("{} records, {} bytes, crc32c {:#010x}: valid", t["records"], t["total_bytes"], t["crc32c"].as_u64().unwrap_or(0));
    for l in round_lines(v) {
        println!("{l}");
    }
    let tasks = v["tasks"].as_array().cloned().unwrap_or_default();
    println!("\n{} task(s):", tasks.len());
    println!("  {:>7} {:>7} {:>7} {:>7} {:>7} {:>3}  {:<7} {:<16} PIDS (nested ns)", "PID", "TGID", "PPID", "PGID", "SID", "MM", "STATE", "COMM");
    for t in &tasks {
        let state = if t["zombie"].as_bool() == Some(true) {
            "zombie"
        } else if t["thread"].as_bool() == Some(true) {
            "thread"
        } else {
            "process"
        };
        let n = |k: &str| t[k].to_string();
        println!(
            "  {:>7} {:>7} {:>7} {:>7} {:>7} {:>3}  {:<7} {:<16} {}",
            n("pid"), n("tgid"), n("ppid"), n("pgid"), n("sid"), n("mm_id"), state,
            t["comm"].as_str().unwrap_or(""), t["pids"]
        );
        if let Some(r) = t.get("regs") {
            println!(
                "      ip {:#x} sp {:#x} ax {:#x} fs_base {:#x}  fpu {} bytes",
                r["ip"].as_u64().unwrap_or(0),
                r["sp"].as_u64().unwrap_or(0),
                r["ax"].as_u64().unwrap_or(0),
                r["fs_base"].as_u64().unwrap_or(0),
                t["fpu"]["size"]
            );
        }
        if let Some(files) = t.get("files").and_then(Value::as_array) {
            let list: Vec<String> = files
                .iter()
                .map(|f| format!("{}:{}", f["fd"], f["kind"].as_str().unwrap_or("?")))
                .collect();
            println!("      fds {}", if list.is_empty() { "none".to_string() } else { list.join(" ") });
        }
        for l in fd_lines(t) {
            println!("{l}");
        }
        for l in sig_lines(t) {
            println!("{l}");
        }
    }
    println!("\ntree:");
    for l in tree_lines(&tasks) {
        println!("{l}");
    }
    let files = v["files"].as_array().cloned().unwrap_or_default();
    if !files.is_empty() {
        println!("\n{} open file(s):", files.len());
        println!("  {:>5} {:<8} {:<24} {:>10} {:>10} {:>7}  TARGET", "ID", "KIND", "FLAGS", "POS", "SIZE", "MODE");
        for f in &files {
            println!("{}", file_line(f));
        }
    }
    for m in v["mms"].as_array().cloned().unwrap_or_default() {
        println!(
            "\nmm {}: exe {}, brk {:#x}-{:#x}, stack {:#x}",
            m["mm_id"],
            m["exe"].as_str().unwrap_or(""),
            m["start_brk"].as_u64().unwrap_or(0),
            m["brk"].as_u64().unwrap_or(0),
            m["start_stack"].as_u64().unwrap_or(0)
        );
        println!("  {:<33} {:<4} {:<12} {:>10} {:>7}  PATH", "RANGE", "PROT", "KIND", "SIZE", "PAGES");
        for vma in m["vmas"].as_array().cloned().unwrap_or_default() {
            let (s, e) = (vma["start"].as_u64().unwrap_or(0), vma["end"].as_u64().unwrap_or(0));
            let p = vma["prot"].as_u64().unwrap_or(0);
            let prot = format!(
                "{}{}{}",
                if p & 1 != 0 { 'r' } else { '-' },
                if p & 2 != 0 { 'w' } else { '-' },
                if p & 4 != 0 { 'x' } else { '-' }
            );
            let mut path = match vma.get("shm").and_then(Value::as_u64) {
                Some(id) => format!("shm#{id}"),
                None => vma["path"].as_str().unwrap_or("").to_string(),
            };
            if let Some(m) = vma.get("mapfile") {
                path += &match m["file"].as_u64().unwrap_or(0) {
                    0 => format!("  (size {}, mode {:o})", m["size"], m["mode"].as_u64().unwrap_or(0)),
                    id => format!("  (file #{id})"),
                };
            }
            println!(
                "  {:016x}-{:016x} {:<4} {:<12} {:>9}K {:>7}  {}",
                s, e, prot, vma["kind"].as_str().unwrap_or(""), (e - s) / 1024, vma["pages"].to_string(),
                path
            );
            for l in prev_lines(&vma) {
                println!("{l}");
            }
        }
    }
}

/// The round sections of a live image, as text (none for another image):
/// a blank line, a title with the totals, one line per section.
fn round_lines(v: &Value) -> Vec<String> {
    let rounds = v["rounds"].as_array().cloned().unwrap_or_default();
    if rounds.is_empty() {
        return Vec::new();
    }
    let last = rounds.iter().filter_map(|r| r["round"].as_u64()).max().unwrap_or(0);
    let pages: u64 = rounds.iter().filter_map(|r| r["pages"].as_u64()).sum();
    let mut out = vec![
        String::new(),
        format!("live checkpoint: {last} round(s), {} section(s), {pages} page(s) copied while running:", rounds.len()),
        format!("  {:>5} {:>5} {:>8} {:>8} {:>5}", "ROUND", "SRC", "PID", "PAGES", "RUNS"),
    ];
    for r in &rounds {
        out.push(format!(
            "  {:>5} {:>5} {:>8} {:>8} {:>5}",
            num(&r["round"]),
            num(&r["src"]),
            num(&r["pid"]),
            num(&r["pages"]),
            r["runs"].as_array().map_or(0, Vec::len)
        ));
    }
    out
}

/// A VMA's PREVPAGES records, as text: one line each.
fn prev_lines(vma: &Value) -> Vec<String> {
    vma["prev"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "    prev {:016x} {:>7} page(s) from src {}",
                p["addr"].as_u64().unwrap_or(0),
                num(&p["pages"]),
                num(&p["src"])
            )
        })
        .collect()
}

/// The last line of the text: the totals (with the live ones in a live
/// image).
fn totals_line(s: &image::Summary) -> String {
    let mut l = format!(
        "{} task(s), {} mm(s), {} VMA(s), {} page(s) in {} run(s), {} open file(s)",
        s.tasks, s.mms, s.vmas, s.pages, s.page_runs, s.files
    );
    if s.round_sections > 0 {
        l += &format!(
            "; live: {} round(s), {} page(s) copied while running, {} referenced page(s) in {} run(s)",
            s.rounds, s.round_pages, s.prev_pages, s.prev_runs
        );
    }
    l
}

/// The name of signal `sig` as `kill -l` gives it: SIGHUP ... SIGSYS,
/// SIG32, SIG33 (glibc's own), SIGRTMIN, SIGRTMIN+1 ... SIGRTMAX-1, SIGRTMAX.
pub fn signal_name(sig: u32) -> String {
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT",
        "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    match sig {
        1..=31 => format!("SIG{}", NAMES[sig as usize - 1]),
        34 => "SIGRTMIN".into(),
        35..=48 => format!("SIGRTMIN+{}", sig - 34),
        49..=63 => format!("SIGRTMAX-{}", 64 - sig),
        64 => "SIGRTMAX".into(),
        _ => format!("SIG{sig}"),
    }
}

/// The name of an si_code the kernel or a sender sets for any signal
/// (SI_USER, SI_QUEUE, SI_TIMER, SI_TKILL, ...); a positive code of a
/// fault or SIGCHLD is shown as its number.
fn si_code_name(code: i32) -> String {
    match code {
        0 => "SI_USER".into(),
        0x80 => "SI_KERNEL".into(),
        -1 => "SI_QUEUE".into(),
        -2 => "SI_TIMER".into(),
        -3 => "SI_MESGQ".into(),
        -4 => "SI_ASYNCIO".into(),
        -5 => "SI_SIGIO".into(),
        -6 => "SI_TKILL".into(),
        c => format!("code {c}"),
    }
}

const CAP_NAMES: [&str; 41] = [
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap", "linux_immutable",
    "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot",
    "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease",
    "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read",
    "perfmon", "bpf", "checkpoint_restore",
];

/// A capability set in a few words: `0x...` and, if it has at most 4
/// capabilities, their names; `all` for every capability the kernel knows.
fn caps_text(caps: u64) -> String {
    if caps == image::CAP_VALID {
        return format!("{caps:#x} (all)");
    }
    let names: Vec<&str> = (0..CAP_NAMES.len()).filter(|&i| caps & (1 << i) != 0).map(|i| CAP_NAMES[i]).collect();
    match names.len() {
        0 => "0".into(),
        1..=4 => format!("{caps:#x} ({})", names.join(",")),
        n => format!("{caps:#x} ({n} capabilities)"),
    }
}

fn sa_flag_names(flags: u64) -> Vec<&'static str> {
    [
        (image::SA_NOCLDSTOP, "SA_NOCLDSTOP"),
        (image::SA_NOCLDWAIT, "SA_NOCLDWAIT"),
        (image::SA_SIGINFO, "SA_SIGINFO"),
        (image::SA_UNSUPPORTED, "SA_UNSUPPORTED"),
        (image::SA_EXPOSE_TAGBITS, "SA_EXPOSE_TAGBITS"),
        (image::SA_RESTORER, "SA_RESTORER"),
        (image::SA_ONSTACK, "SA_ONSTACK"),
        (image::SA_RESTART, "SA_RESTART"),
        (image::SA_NODEFER, "SA_NODEFER"),
        (image::SA_RESETHAND, "SA_RESETHAND"),
    ]
    .iter()
    .filter(|(b, _)| flags & b != 0)
    .map(|&(_, n)| n)
    .collect()
}

fn altstack_flag_names(flags: u32) -> Vec<&'static str> {
    let mut v = Vec::new();
    match flags & !image::SS_AUTODISARM {
        image::SS_ONSTACK => v.push("SS_ONSTACK"),
        image::SS_DISABLE => v.push("SS_DISABLE"),
        _ => {}
    }
    if flags & image::SS_AUTODISARM != 0 {
        v.push("SS_AUTODISARM");
    }
    v
}

/// A signal mask: `0x...` and the names if there are at most 4.
fn mask_text(mask: u64) -> String {
    let sigs: Vec<String> = (1..=64u32).filter(|&s| mask & (1 << (s - 1)) != 0).map(signal_name).collect();
    match sigs.len() {
        0 => "0".into(),
        1..=4 => format!("{mask:#x} ({})", sigs.join(",")),
        n => format!("{mask:#x} ({n} signals)"),
    }
}

const RLIMIT_NAMES: [&str; image::RLIMIT_COUNT] = [
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
];

const ITIMER_NAMES: [&str; image::ITIMER_COUNT] = ["ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF"];

/// A limit: its number, or "unlimited" (RLIM_INFINITY).
fn limit_json(v: u64) -> Value {
    if v == image::RLIM_INFINITY {
        json!("unlimited")
    } else {
        json!(v)
    }
}

fn clock_name(clock: i32) -> String {
    match clock {
        image::CLOCK_REALTIME => "CLOCK_REALTIME".into(),
        image::CLOCK_MONOTONIC => "CLOCK_MONOTONIC".into(),
        image::CLOCK_BOOTTIME => "CLOCK_BOOTTIME".into(),
        image::CLOCK_TAI => "CLOCK_TAI".into(),
        c => format!("clock {c}"),
    }
}

fn notify_name(notify: u32) -> String {
    match notify {
        image::SIGEV_SIGNAL => "SIGEV_SIGNAL".into(),
        image::SIGEV_NONE => "SIGEV_NONE".into(),
        image::SIGEV_THREAD_ID => "SIGEV_THREAD_ID".into(),
        n => format!("notify {n}"),
    }
}

/// A CREDS record: the keys added to the task's `creds` (from TASK).
fn creds_json(c: &Creds<'_>) -> serde_json::Map<String, Value> {
    let v = json!({
        "cap_inheritable": c.cap_inheritable, "cap_permitted": c.cap_permitted, "cap_effective": c.cap_effective,
        "cap_bset": c.cap_bset, "cap_ambient": c.cap_ambient, "securebits": c.securebits,
        "no_new_privs": c.no_new_privs(), "groups": c.groups.iter().collect::<Vec<u32>>(),
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// One pending signal of a SIGNALS record.
fn pending_json(queue: &str, s: &SigInfo<'_>) -> Value {
    json!({
        "queue": queue, "signo": s.signo(), "name": signal_name(s.signo()), "code": s.code(),
        "code_name": si_code_name(s.code()), "pid": s.pid(), "uid": s.uid(), "value": s.value(),
    })
}

fn signals_json(s: &Signals<'_>) -> Value {
    let pending: Vec<Value> =
        s.private().map(|e| pending_json("private", &e)).chain(s.shared().map(|e| pending_json("shared", &e))).collect();
    json!({
        "altstack": {"sp": s.altstack_sp, "size": s.altstack_size, "flags": s.altstack_flags,
                     "flag_names": altstack_flag_names(s.altstack_flags)},
        "pdeath_signal": s.pdeath_signal, "timer_slack_ns": s.timer_slack_ns, "pending": pending,
    })
}

fn process_json(p: &Process<'_>) -> Value {
    let rlimits: Vec<Value> = p
        .rlimits
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"resource": RLIMIT_NAMES[i], "cur": limit_json(r.cur), "max": limit_json(r.max)}))
        .collect();
    let itimers: Vec<Value> = p
        .itimers
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"which": ITIMER_NAMES[i], "value_ns": t.value_ns, "interval_ns": t.interval_ns}))
        .collect();
    let sigactions: Vec<Value> = p
        .sigactions()
        .filter(|(_, a)| !a.is_default())
        .map(|(sig, a)| {
            let disposition = match a.handler {
                image::SIG_DFL => "SIG_DFL",
                image::SIG_IGN => "SIG_IGN",
                _ => "handler",
            };
            json!({"signo": sig, "name": signal_name(sig), "disposition": disposition, "handler": a.handler,
                   "flags": sa_flag_names(a.flags), "sa_flags": a.flags, "mask": a.mask, "restorer": a.restorer})
        })
        .collect();
    let timers: Vec<Value> = p
        .timers
        .iter()
        .map(|t| {
            json!({"id": t.id, "clock": clock_name(t.clock), "notify": notify_name(t.notify), "signo": t.signo,
                   "value": t.value, "tid": t.tid, "value_ns": t.value_ns, "interval_ns": t.interval_ns,
                   "overrun": t.overrun_last})
        })
        .collect();
    let flags: Vec<&str> = [
        (image::PROC_CHILD_SUBREAPER, "child_subreaper"),
        (image::PROC_THP_DISABLE, "thp_disable"),
        (image::PROC_MLOCK_FUTURE, "mlockall_future"),
        (image::PROC_MLOCK_ONFAULT, "mlockall_onfault"),
    ]
    .iter()
    .filter(|(b, _)| p.flags & b != 0)
    .map(|&(_, n)| n)
    .collect();
    json!({"rlimits": rlimits, "itimers": itimers, "flags": flags, "dumpable": p.dumpable,
           "sigactions": sigactions, "timers": timers})
}

/// The lines of a task's CREDS, SIGNALS and PROCESS records (image 1.5;
/// none without them).
fn sig_lines(t: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let c = &t["creds"];
    if c.get("cap_effective").is_some() {
        let ids = |k: [&str; 4]| k.iter().map(|k| c[*k].to_string()).collect::<Vec<_>>().join("/");
        let groups: Vec<String> = c["groups"].as_array().into_iter().flatten().map(Value::to_string).collect();
        out.push(format!(
            "      creds uid {} gid {} (real/effective/saved/fs)  groups {}",
            ids(["uid", "euid", "suid", "fsuid"]),
            ids(["gid", "egid", "sgid", "fsgid"]),
            if groups.is_empty() { "none".into() } else { groups.join(",") }
        ));
        out.push(format!(
            "      caps effective {} permitted {} inheritable {} ambient {} bounding {}",
            caps_text(num(&c["cap_effective"])),
            caps_text(num(&c["cap_permitted"])),
            caps_text(num(&c["cap_inheritable"])),
            caps_text(num(&c["cap_ambient"])),
            caps_text(num(&c["cap_bset"]))
        ));
        out.push(format!(
            "      securebits {:#x}{}",
            num(&c["securebits"]),
            if c["no_new_privs"].as_bool() == Some(true) { "  no_new_privs" } else { "" }
        ));
    }
    if let Some(s) = t.get("signals") {
        let a = &s["altstack"];
        let names: Vec<&str> = a["flag_names"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let stack = if names.contains(&"SS_DISABLE") {
            "none".to_string()
        } else {
            format!("{:#x}+{:#x}{}", num(&a["sp"]), num(&a["size"]), if names.is_empty() { String::new() } else { format!(" {}", names.join(",")) })
        };
        let pdeath = match num(&s["pdeath_signal"]) {
            0 => "none".to_string(),
            n => signal_name(n as u32),
        };
        let pending = s["pending"].as_array().cloned().unwrap_or_default();
        out.push(format!(
            "      altstack {stack}  pdeath signal {pdeath}  timer slack {} ns  {} pending",
            num(&s["timer_slack_ns"]),
            pending.len()
        ));
        for p in &pending {
            let code = p["code"].as_i64().unwrap_or(0);
            let what = match code {
                -2 => format!("timer {} overrun {} value {:#x}", p["pid"], p["uid"], num(&p["value"])),
                -1 => format!("pid {} uid {} value {:#x}", p["pid"], p["uid"], num(&p["value"])),
                0 | -6 => format!("pid {} uid {}", p["pid"], p["uid"]),
                _ => String::new(),
            };
            out.push(format!(
                "      pending {:<7} {:<12} {:<10} {what}",
                p["queue"].as_str().unwrap_or("?"),
                p["name"].as_str().unwrap_or("?"),
                p["code_name"].as_str().unwrap_or("?")
            ));
        }
    }
    let Some(p) = t.get("process") else {
        return out;
    };
    let lim = |v: &Value| v.as_u64().map_or_else(|| v.as_str().unwrap_or("?").to_string(), |n| n.to_string());
    let rl: Vec<String> = p["rlimits"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| format!("{} {}/{}", r["resource"].as_str().unwrap_or("?"), lim(&r["cur"]), lim(&r["max"])))
        .collect();
    for chunk in rl.chunks(4) {
        out.push(format!("      rlimits {}", chunk.join(", ")));
    }
    let it: Vec<String> = p["itimers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| num(&t["value_ns"]) != 0)
        .map(|t| format!("{} in {} ns every {} ns", t["which"].as_str().unwrap_or("?"), num(&t["value_ns"]), num(&t["interval_ns"])))
        .collect();
    out.push(format!("      itimers {}", if it.is_empty() { "none".into() } else { it.join(", ") }));
    let flags: Vec<&str> = p["flags"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    out.push(format!("      process flags {}  dumpable {}", if flags.is_empty() { "none".into() } else { flags.join(",") }, p["dumpable"]));
    for a in p["sigactions"].as_array().into_iter().flatten() {
        let flags: Vec<&str> = a["flags"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let handler = match a["disposition"].as_str() {
            Some("handler") => format!("handler {:#x}", num(&a["handler"])),
            Some(d) => d.to_string(),
            None => "?".into(),
        };
        let mut s = format!("      sigaction {:<12} {handler}", a["name"].as_str().unwrap_or("?"));
        if !flags.is_empty() {
            s += &format!("  {}", flags.join(","));
        }
        if num(&a["mask"]) != 0 {
            s += &format!("  mask {}", mask_text(num(&a["mask"])));
        }
        if num(&a["restorer"]) != 0 {
            s += &format!("  restorer {:#x}", num(&a["restorer"]));
        }
        out.push(s);
    }
    for t in p["timers"].as_array().into_iter().flatten() {
        let sig = match (t["notify"].as_str(), num(&t["signo"])) {
            (Some("SIGEV_NONE"), _) => String::new(),
            (_, s) => format!(" {}", signal_name(s as u32)),
        };
        let to = if num(&t["tid"]) != 0 { format!(" to thread {}", t["tid"]) } else { String::new() };
        let when = match (num(&t["value_ns"]), num(&t["interval_ns"])) {
            (0, _) => "disarmed".to_string(),
            (v, 0) => format!("in {v} ns"),
            (v, i) => format!("in {v} ns every {i} ns"),
        };
        out.push(format!(
            "      timer {} {} {}{sig}{to} value {:#x}  {when}  overrun {}",
            t["id"],
            t["clock"].as_str().unwrap_or("?"),
            t["notify"].as_str().unwrap_or("?"),
            num(&t["value"]),
            t["overrun"]
        ));
    }
    out
}

/// The lines of a thread group leader's FDS record (none without one):
/// its umask, root and cwd, then one line per fd.
fn fd_lines(t: &Value) -> Vec<String> {
    let Some(fds) = t.get("fds").and_then(Value::as_array) else {
        return Vec::new();
    };
    let list: Vec<String> = fds.iter().map(|f| format!("{}:{}", f["fd"], f["kind"].as_str().unwrap_or("?"))).collect();
    let mut out = vec![
        format!("      fds {}", if list.is_empty() { "none".to_string() } else { list.join(" ") }),
        format!(
            "      umask {:03o}  root {}  cwd {}",
            t["umask"].as_u64().unwrap_or(0),
            t["root"].as_str().unwrap_or("?"),
            t["cwd"].as_str().unwrap_or("?")
        ),
    ];
    for f in fds {
        let flags: Vec<&str> = f["flags"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        out.push(format!(
            "      fd {:>4}  {:<8} {:<24}  pos {:<8}  {}",
            num(&f["fd"]),
            f["kind"].as_str().unwrap_or("?"),
            flags.join(","),
            num(&f["pos"]),
            f["target"].as_str().unwrap_or("?")
        ));
    }
    out
}

/// A JSON number (0 if it is none), for width-formatted columns.
fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// One line of the open files: id, kind, flags, position, size, mode and
/// target, with a pipe's capacity and buffered bytes, a memfd's seals.
fn file_line(f: &Value) -> String {
    let flags: Vec<&str> = f["flags"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mut s = format!(
        "  {:>5} {:<8} {:<24} {:>10} {:>10} {:>7o}  {}",
        num(&f["id"]),
        f["kind"].as_str().unwrap_or("?"),
        flags.join(","),
        num(&f["pos"]),
        num(&f["size"]),
        num(&f["mode"]),
        f["target"].as_str().unwrap_or("?")
    );
    match f["kind"].as_str() {
        Some("pipe" | "fifo") => {
            s += &format!("  (pipe #{}, capacity {}, {} byte(s) buffered)", f["pipe"], f["pipe_size"], f["data_len"]);
        }
        Some("memfd") => s += &format!("  (seals {:#x})", f["seals"].as_u64().unwrap_or(0)),
        Some("chr") => s += &format!("  (device {})", f["rdev"].as_str().unwrap_or("?")),
        _ => {}
    }
    s
}

fn parse_addr(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The `"summary"` of the JSON.
fn summary_json(s: &image::Summary) -> Value {
    json!({"tasks": s.tasks, "mms": s.mms, "vmas": s.vmas, "page_runs": s.page_runs, "pages": s.pages,
           "shm_objects": s.shm_objects, "files": s.files, "rounds": s.rounds, "round_sections": s.round_sections,
           "live_pages": s.round_pages, "round_runs": s.round_runs, "prev_pages": s.prev_pages,
           "prev_runs": s.prev_runs})
}

pub fn main(args: &[String]) -> Result<(), Failure> {
    let mut path = None;
    let mut json_out = false;
    let mut page = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => json_out = true,
            "--page" => {
                let v = it.next().ok_or_else(|| Failure::usage("--page needs an address"))?;
                page = Some(parse_addr(v).ok_or_else(|| Failure::usage(format!("bad address '{v}'")))?);
            }
            s if s.starts_with('-') && s != "-" => return Err(Failure::usage(format!("unknown option '{s}'"))),
            s if path.is_none() => path = Some(s.to_string()),
            s => return Err(Failure::usage(format!("unexpected argument '{s}'"))),
        }
    }
    let path = path.ok_or_else(|| Failure::usage("inspect needs an image file (or - for standard input)"))?;
    let mut data = Vec::new();
    if path == "-" {
        std::io::stdin().read_to_end(&mut data).map_err(|e| Failure::os("standard input", e))?;
    } else {
        data = std::fs::read(&path).map_err(|e| Failure::os(&path, e))?;
    }
    let summary = image::validate(&data).map_err(|e| Failure::op(format!("{path}: invalid image: {e}")))?;
    let (v, pages) = describe(&data).map_err(|e| Failure::op(format!("{path}: invalid image: {e}")))?;
    let mut out = std::io::stdout().lock();
    if let Some(addr) = page {
        let ps = summary.header.page_size as usize;
        let off = pages
            .iter()
            .find(|(a, _)| *a == addr)
            .map(|(_, o)| *o)
            .ok_or_else(|| Failure::op(format!("{path}: no page at {addr:#x} in the image")))?;
        return out.write_all(&data[off..off + ps]).map_err(|e| Failure::os("standard output", e));
    }
    if json_out {
        let mut v = v;
        v["summary"] = summary_json(&summary);
        writeln!(out, "{v}").map_err(|e| Failure::os("standard output", e))?;
    } else {
        print_text(&v);
        println!("\n{}", totals_line(&summary));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> (Vec<u8>, Value, Vec<(u64, usize)>) {
        let mut buf = vec![0u8; image::sample::SAMPLE_MAX_LEN];
        let n = image::sample::build_live(&mut buf).unwrap();
        buf.truncate(n);
        let (v, pages) = describe(&buf).unwrap();
        (buf, v, pages)
    }

    #[test]
    fn rounds_of_the_live_sample() {
        let (_, v, _) = live();
        let r = v["rounds"].as_array().unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(
            r[0],
            json!({"round": 1, "src": 1, "pid": 100, "pages": 7,
                   "runs": [[0x40_1000, 1], [0x60_0000, 3], [0x7fff_ffff_c000u64, 3]]})
        );
        assert_eq!(r[1], json!({"round": 1, "src": 2, "pid": 102, "pages": 1, "runs": [[0x7f10_0000_0000u64, 1]]}));
        assert_eq!((r[2]["round"].clone(), r[2]["pages"].clone()), (json!(2), json!(2)));
        assert_eq!(r[3], json!({"round": 2, "src": 2, "pid": 102, "pages": 0, "runs": []}));
        assert_eq!(
            round_lines(&v),
            [
                "",
                "live checkpoint: 2 round(s), 4 section(s), 10 page(s) copied while running:",
                "  ROUND   SRC      PID    PAGES  RUNS",
                "      1     1      100        7     3",
                "      1     2      102        1     1",
                "      2     1      100        2     2",
                "      2     2      102        0     0",
            ]
        );
        // Not a live image: no rounds, no lines.
        let s = sample();
        assert_eq!(s["rounds"], json!([]));
        assert!(round_lines(&s).is_empty());
    }

    #[test]
    fn prev_pages_on_their_vmas() {
        let (_, v, _) = live();
        let heap = &v["mms"][0]["vmas"][1];
        assert_eq!(heap["kind"], "heap");
        assert_eq!(heap["prev"], json!([{"addr": 0x60_0000, "pages": 1, "src": 1}, {"addr": 0x60_2000, "pages": 1, "src": 1}]));
        assert_eq!((heap["prev_pages"].clone(), heap["pages"].clone()), (json!(2), json!(1)));
        assert_eq!(heap["runs"], json!([[0x60_1000, 1]]));
        let stack = &v["mms"][0]["vmas"][3];
        assert_eq!(stack["prev"], json!([{"addr": 0x7fff_ffff_c000u64, "pages": 2, "src": 1}]));
        assert_eq!(v["mms"][1]["vmas"][1]["prev"], json!([{"addr": 0x7f10_0000_0000u64, "pages": 1, "src": 2}]));
        // The shared VMAs have none.
        assert!(v["mms"][0]["vmas"][2].get("prev").is_none());
        assert!(v["mms"][1]["vmas"][2].get("prev").is_none());
        assert_eq!(
            prev_lines(heap),
            [
                "    prev 0000000000600000       1 page(s) from src 1",
                "    prev 0000000000602000       1 page(s) from src 1",
            ]
        );
        assert!(prev_lines(&v["mms"][0]["vmas"][2]).is_empty());
    }

    #[test]
    fn live_totals() {
        let (b, _, _) = live();
        let s = image::validate(&b).unwrap();
        assert_eq!(
            totals_line(&s),
            "4 task(s), 2 mm(s), 9 VMA(s), 5 page(s) in 5 run(s), 9 open file(s); \
             live: 2 round(s), 10 page(s) copied while running, 6 referenced page(s) in 5 run(s)"
        );
        let j = summary_json(&s);
        assert_eq!(
            (j["rounds"].clone(), j["round_sections"].clone(), j["live_pages"].clone(), j["prev_pages"].clone()),
            (json!(2), json!(4), json!(10), json!(6))
        );
        assert_eq!((j["round_runs"].clone(), j["prev_runs"].clone(), j["pages"].clone()), (json!(6), json!(5), json!(5)));
        // Not a live image: the totals as before.
        let mut buf = vec![0u8; image::sample::SAMPLE_MAX_LEN];
        let n = image::sample::build(&mut buf).unwrap();
        let s = image::validate(&buf[..n]).unwrap();
        assert!(!totals_line(&s).contains("live"));
        assert_eq!(summary_json(&s)["live_pages"], 0);
    }

    #[test]
    fn page_index_resolves_prev_pages_to_the_latest_round() {
        use image::sample::{page_byte, round_page_byte};
        let (b, _, pages) = live();
        let at = |addr: u64| {
            let v: Vec<usize> = pages.iter().filter(|(a, _)| *a == addr).map(|(_, o)| *o).collect();
            assert_eq!(v.len(), 1, "{addr:#x}: {} entries", v.len());
            v[0]
        };
        // Copied in round 1 only, in rounds 1 and 2, written at the end.
        assert_eq!(b[at(0x60_0000) + 5], round_page_byte(1, 0x60_0000, 5));
        assert_eq!(b[at(0x60_2000) + 5], round_page_byte(2, 0x60_2000, 5));
        assert_eq!(b[at(0x60_1000) + 5], page_byte(0x60_1000, 5));
        assert_eq!(b[at(0x7fff_ffff_c000) + 7], round_page_byte(1, 0x7fff_ffff_c000, 7));
        assert_eq!(b[at(0x7fff_ffff_d000) + 7], round_page_byte(2, 0x7fff_ffff_d000, 7));
        // The child's, of src 2.
        assert_eq!(b[at(0x7f10_0000_0000) + 1], round_page_byte(1, 0x7f10_0000_0000, 1));
        // A page a round copied that the final image does not reference
        // (0x60_1000's round copy is superseded by its PAGES) is not
        // indexed twice; nor are round pages of no PREVPAGES.
        assert_eq!(pages.iter().filter(|(a, _)| *a == 0x60_1000).count(), 1);
        // 0x7fff_ffff_e000: round 1 copied it, PAGES rewrote it.
        assert_eq!(b[at(0x7fff_ffff_e000)], page_byte(0x7fff_ffff_e000, 0));
        assert_ne!(page_byte(0x7fff_ffff_e000, 0), round_page_byte(1, 0x7fff_ffff_e000, 0));
    }

    #[test]
    fn shm_ids_on_the_vmas() {
        let mut buf = vec![0u8; image::sample::SAMPLE_MAX_LEN];
        let n = image::sample::build(&mut buf).unwrap();
        let (v, _) = describe(&buf[..n]).unwrap();
        let shm = |mm: usize, vma: usize| v["mms"][mm]["vmas"][vma].get("shm").cloned();
        // The root's shared mapping and the child's inherited copy: object 1.
        assert_eq!(shm(0, 2), Some(json!(1)));
        assert_eq!(shm(1, 2), Some(json!(1)));
        assert_eq!(shm(1, 3), Some(json!(2)));
        assert_eq!(v["mms"][1]["vmas"][3]["kind"], "shared-anon");
        // Not on the other VMAs; the pages stay with their VMA.
        assert_eq!(shm(0, 1), None);
        assert_eq!(shm(0, 3), None);
        assert_eq!(v["mms"][0]["vmas"][2]["pages"], 1);
    }

    fn sample() -> Value {
        let mut buf = vec![0u8; image::sample::SAMPLE_MAX_LEN];
        let n = image::sample::build(&mut buf).unwrap();
        describe(&buf[..n]).unwrap().0
    }

    #[test]
    fn fds_of_the_sample() {
        let v = sample();
        let root = &v["tasks"][0];
        assert_eq!((root["umask"].clone(), root["root"].clone(), root["cwd"].clone()), (json!(18), json!("/"), json!("/tmp")));
        let fds = root["fds"].as_array().unwrap();
        assert_eq!(fds.len(), 12);
        assert_eq!(
            fds[3],
            json!({"fd": 3, "file": 2, "kind": "reg", "flags": ["rdonly", "largefile", "noatime", "cloexec"],
                   "pos": 123, "target": "/etc/passwd", "size": 2000})
        );
        assert_eq!(fds[4]["target"], "pipe#1");
        assert_eq!(fds[6]["target"], "memfd:sample-memfd");
        assert_eq!(fds[9]["target"], "/tmp/gone (deleted)");
        assert_eq!(fds[11]["flags"], json!(["wronly", "nonblock", "cloexec"]));
        // The child shares the pipe's read end and the memfd, its own fd flags.
        let child = &v["tasks"][2];
        assert_eq!(child["umask"], 0o077);
        assert_eq!(child["fds"][4]["flags"], json!(["rdwr", "largefile", "cloexec"]));
        assert_eq!(child["fds"][4]["pos"], 17);
        // The thread and the zombie: no fd table of their own.
        assert!(v["tasks"][1].get("fds").is_none());
        assert!(v["tasks"][3].get("fds").is_none());
        assert_eq!(
            fd_lines(root)[..4],
            [
                "      fds 0:external 1:external 2:external 3:reg 4:pipe 5:pipe 6:memfd 7:dir 9:chr 10:deleted 11:fifo 100:pipe",
                "      umask 022  root /  cwd /tmp",
                "      fd    0  external rdwr,largefile            pos 0         /dev/pts/0",
                "      fd    1  external rdwr,largefile            pos 0         /dev/pts/0",
            ]
        );
        assert_eq!(fd_lines(root)[5], "      fd    3  reg      rdonly,largefile,noatime,cloexec  pos 123       /etc/passwd");
        assert!(fd_lines(&v["tasks"][1]).is_empty());
    }

    #[test]
    fn files_of_the_sample() {
        let v = sample();
        let files = v["files"].as_array().unwrap();
        assert_eq!(files.len(), 9);
        let ids: Vec<u64> = files.iter().map(|f| f["id"].as_u64().unwrap()).collect();
        assert_eq!(ids, (1..=9).collect::<Vec<_>>());
        assert_eq!(
            files[2],
            json!({"id": 3, "kind": "pipe", "flags": ["rdonly"], "open_flags": 0, "pos": 0, "size": 0,
                   "mode": 0o10600, "rdev": "0:0", "pipe": 1, "pipe_size": 65536, "seals": 0, "data_len": 13,
                   "path": "pipe:[4242]", "target": "pipe#1"})
        );
        assert_eq!(files[4]["seals"], 5);
        assert_eq!(files[4]["data_len"], 4100);
        assert_eq!(files[6]["rdev"], "1:3");
        assert_eq!(
            file_line(&files[2]),
            "      3 pipe     rdonly                            0          0   10600  pipe#1  (pipe #1, capacity 65536, 13 byte(s) buffered)"
        );
        assert!(file_line(&files[4]).ends_with("memfd:sample-memfd  (seals 0x5)"));
        assert!(file_line(&files[6]).ends_with("/dev/null  (device 1:3)"));
        // The MAPFILE records, on their VMAs.
        assert_eq!(v["mms"][0]["vmas"][0]["mapfile"], json!({"size": 0x5000, "mode": 0o100755, "file": 0}));
        assert_eq!(v["mms"][1]["vmas"][4]["mapfile"]["file"], 5);
        assert!(v["mms"][0]["vmas"][1].get("mapfile").is_none());
        // A 1.3 image: no files, the FILES line.
        let mut buf = vec![0u8; image::sample::SAMPLE_MAX_LEN];
        let n = image::sample::build_v1_3(&mut buf).unwrap();
        let (old, _) = describe(&buf[..n]).unwrap();
        assert_eq!(old["files"], json!([]));
        assert_eq!(old["tasks"][0]["files"][3], json!({"fd": 3, "kind": "reg"}));
    }

    #[test]
    fn the_tree_as_a_tree() {
        let mut buf = vec![0u8; image::sample::SAMPLE_MAX_LEN];
        let n = image::sample::build(&mut buf).unwrap();
        let (v, _) = describe(&buf[..n]).unwrap();
        let tasks = v["tasks"].as_array().unwrap();
        assert_eq!(tasks[0]["children"], json!([2, 3]));
        assert_eq!(tasks[1]["children"], json!([]));
        let lines = tree_lines(tasks);
        assert_eq!(
            lines,
            [
                "  100 sample  pgid 100 sid 100 (session leader)",
                "  |- {101} sample  (thread)",
                "  |- 102 sample  pids 102/1  pgid 100 sid 100",
                "  `- 103 sample  pgid 100 sid 100  <zombie, wait status 0x100>",
            ]
        );
    }

    #[test]
    fn deeper_trees_indent() {
        let t = |pid: u32, ppid: u32, children: &[usize]| {
            json!({"pid": pid, "pids": [pid], "tgid": pid, "ppid": ppid, "pgid": 1, "sid": 1, "thread": false,
                   "zombie": false, "exit_code": 0, "comm": "x", "children": children})
        };
        let tasks = [t(1, 0, &[1, 2]), t(2, 1, &[3]), t(3, 1, &[]), t(4, 2, &[])];
        assert_eq!(
            tree_lines(&tasks),
            [
                "  1 x  pgid 1 sid 1 (session leader)",
                "  |- 2 x  pgid 1 sid 1",
                "  |  `- 4 x  pgid 1 sid 1",
                "  `- 3 x  pgid 1 sid 1",
            ]
        );
    }

    #[test]
    fn creds_of_the_sample() {
        let v = sample();
        let root = &v["tasks"][0]["creds"];
        assert_eq!(root["uid"], 1000);
        assert_eq!(root["groups"], json!([27, 100, 1000]));
        assert_eq!((root["cap_bset"].clone(), root["cap_effective"].clone()), (json!(image::CAP_VALID), json!(0)));
        assert_eq!(root["no_new_privs"], false);
        let child = &v["tasks"][2]["creds"];
        assert_eq!((child["cap_ambient"].clone(), child["securebits"].clone(), child["no_new_privs"].clone()), (json!(1 << 10), json!(3), json!(true)));
        assert_eq!(child["groups"], json!([]));
        // The zombie has none.
        assert!(v["tasks"][3]["creds"].get("cap_effective").is_none());
        let l = sig_lines(&v["tasks"][2]);
        assert_eq!(l[0], "      creds uid 1000/1000/1000/1000 gid 1000/1000/1000/1000 (real/effective/saved/fs)  groups none");
        assert_eq!(
            l[1],
            "      caps effective 0x1000 (net_admin) permitted 0x1400 (net_bind_service,net_admin) inheritable 0x400 (net_bind_service) \
             ambient 0x400 (net_bind_service) bounding 0x201400 (net_bind_service,net_admin,sys_admin)"
        );
        assert_eq!(l[2], "      securebits 0x3  no_new_privs");
        assert!(sig_lines(&v["tasks"][0])[1].ends_with("bounding 0x1ffffffffff (all)"));
        assert!(sig_lines(&v["tasks"][3]).is_empty());
    }

    #[test]
    fn signals_of_the_sample() {
        let v = sample();
        let s = &v["tasks"][0]["signals"];
        assert_eq!(s["altstack"], json!({"sp": 0x60_1000, "size": 0x2000, "flags": 0, "flag_names": []}));
        assert_eq!(s["timer_slack_ns"], 50_000);
        let p = s["pending"].as_array().unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(
            p[1],
            json!({"queue": "shared", "signo": 34, "name": "SIGRTMIN", "code": -1, "code_name": "SI_QUEUE", "pid": 102,
                   "uid": 1000, "value": 0x1234})
        );
        assert_eq!((p[0]["queue"].clone(), p[0]["name"].clone()), (json!("private"), json!("SIGUSR1")));
        assert_eq!(p[3]["name"], "SIGTERM");
        assert_eq!(v["tasks"][1]["signals"]["altstack"]["flag_names"], json!(["SS_DISABLE"]));
        assert_eq!(v["tasks"][1]["signals"]["pending"][0]["code_name"], "SI_TKILL");
        assert_eq!(v["tasks"][2]["signals"]["pdeath_signal"], 9);
        let l = sig_lines(&v["tasks"][0]);
        assert_eq!(l[3], "      altstack 0x601000+0x2000  pdeath signal none  timer slack 50000 ns  4 pending");
        assert_eq!(l[5], "      pending shared  SIGRTMIN     SI_QUEUE   pid 102 uid 1000 value 0x1234");
        let l = sig_lines(&v["tasks"][1]);
        assert_eq!(l[3], "      altstack none  pdeath signal none  timer slack 50000 ns  1 pending");
        let l = sig_lines(&v["tasks"][2]);
        assert_eq!(l[3], "      altstack 0x7f1000000000+0x1000 SS_AUTODISARM  pdeath signal SIGKILL  timer slack 1 ns  0 pending");
        assert_eq!(
            [signal_name(1), signal_name(31), signal_name(32), signal_name(34), signal_name(36), signal_name(50), signal_name(64)],
            ["SIGHUP", "SIGSYS", "SIG32", "SIGRTMIN", "SIGRTMIN+2", "SIGRTMAX-14", "SIGRTMAX"]
        );
    }

    #[test]
    fn process_of_the_sample() {
        let v = sample();
        let p = &v["tasks"][0]["process"];
        let rl = p["rlimits"].as_array().unwrap();
        assert_eq!(rl.len(), 16);
        assert_eq!(rl[7], json!({"resource": "RLIMIT_NOFILE", "cur": 1024, "max": 4096}));
        assert_eq!(rl[3], json!({"resource": "RLIMIT_STACK", "cur": 8 << 20, "max": "unlimited"}));
        assert_eq!(p["itimers"][0], json!({"which": "ITIMER_REAL", "value_ns": 1_500_000_000u64, "interval_ns": 1_000_000_000u64}));
        assert_eq!((p["flags"].clone(), p["dumpable"].clone()), (json!(["child_subreaper"]), json!(1)));
        // Only the non-default dispositions.
        let sa = p["sigactions"].as_array().unwrap();
        let sigs: Vec<u64> = sa.iter().map(|a| a["signo"].as_u64().unwrap()).collect();
        assert_eq!(sigs, [10, 13, 17]);
        assert_eq!(sa[0]["flags"], json!(["SA_SIGINFO", "SA_RESTORER", "SA_ONSTACK", "SA_RESTART"]));
        assert_eq!((sa[1]["disposition"].clone(), sa[2]["disposition"].clone()), (json!("SIG_IGN"), json!("SIG_DFL")));
        let t = p["timers"].as_array().unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(
            t[1],
            json!({"id": 2, "clock": "CLOCK_REALTIME", "notify": "SIGEV_THREAD_ID", "signo": 12, "value": 0xdead_beefu64,
                   "tid": 101, "value_ns": 0, "interval_ns": 0, "overrun": 0})
        );
        assert_eq!(v["tasks"][2]["process"]["flags"], json!(["thp_disable", "mlockall_future", "mlockall_onfault"]));
        // A thread has none.
        assert!(v["tasks"][1].get("process").is_none());
        let l = sig_lines(&v["tasks"][0]);
        assert_eq!(
            l[9],
            "      rlimits RLIMIT_CORE 0/0, RLIMIT_RSS unlimited/unlimited, RLIMIT_NPROC unlimited/unlimited, RLIMIT_NOFILE 1024/4096"
        );
        assert_eq!(l[12], "      itimers ITIMER_REAL in 1500000000 ns every 1000000000 ns");
        assert_eq!(l[13], "      process flags child_subreaper  dumpable 1");
        assert_eq!(
            l[14],
            "      sigaction SIGUSR1      handler 0x401100  SA_SIGINFO,SA_RESTORER,SA_ONSTACK,SA_RESTART  mask 0x4000 (SIGTERM)  restorer 0x401200"
        );
        assert_eq!(l[15], "      sigaction SIGPIPE      SIG_IGN");
        assert_eq!(l[17], "      timer 0 CLOCK_MONOTONIC SIGEV_SIGNAL SIGRTMIN value 0x7  in 250000000 ns every 1000000000 ns  overrun 0");
        assert_eq!(l[18], "      timer 2 CLOCK_REALTIME SIGEV_THREAD_ID SIGUSR2 to thread 101 value 0xdeadbeef  disarmed  overrun 0");
        assert_eq!(l[19], "      timer 5 CLOCK_BOOTTIME SIGEV_NONE value 0x0  in 5000000000 ns  overrun 3");
        assert_eq!(sig_lines(&v["tasks"][2]).last().unwrap(), "      process flags thp_disable,mlockall_future,mlockall_onfault  dumpable 0");
        // A 1.4 image: none of it.
        let mut buf = vec![0u8; image::sample::SAMPLE_MAX_LEN];
        let n = image::sample::build_v1_4(&mut buf).unwrap();
        let (old, _) = describe(&buf[..n]).unwrap();
        assert!(old["tasks"][0].get("signals").is_none() && old["tasks"][0].get("process").is_none());
        assert!(sig_lines(&old["tasks"][0]).is_empty());
    }
}
