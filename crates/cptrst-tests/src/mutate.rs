//! Structure-aware mutations of a real image, for the kernel fuzzer
//! (kselftest-fuzz): the image is split into its file header and records,
//! one record and one field of it is picked (the fields of every record
//! type are known here: TREE entries, TASK, REGS, FPU, MM and its auxv,
//! VMA and its path, PAGES headers, FILES, SHM, THREAD, FILE, FDATA, FDS
//! and its entries, MAPFILE, CREDS and its groups, SIGNALS and its
//! siginfo entries, PROCESS and its limits, timers, dispositions and POSIX
//! timers, a live image's ROUND and PREVPAGES, the record headers and the
//! file header), its value is replaced by an interesting one (0,
//! 1, -1, the largest value, off by one, off by a page, page-unaligned, a
//! kernel or non-canonical address, a huge count), or the records are
//! reshaped (swapped, duplicated, removed, resized, an unknown record
//! inserted), or a path is cut or pointed at a FIFO, a device, a directory
//! or a /proc file; then the image is encoded again with every record
//! length and the trailer (record count, size, CRC32C) recomputed, so
//! that it gets past the checksum and reaches the checks that matter. The
//! format has no per-record checksum: the trailer's CRC32C covers
//! everything before it.
//!
//! Deterministic: [`mutant`] is a pure function of the image, the seed,
//! the case number and the paths; case N of seed S is the same mutant
//! every time (for the same image).

use cptrst_image as img;

use crate::corrupt;

const PAGE: u64 = img::PAGE_SIZE_X86_64 as u64;

/// One record of a split image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRec {
    /// `RECORD_*` (or anything, for an inserted unknown record).
    pub kind: u32,
    /// The record header's flags.
    pub flags: u32,
    /// Offset of its header in the original image (`u64::MAX` for an
    /// inserted record), for the description of a mutant.
    pub orig_offset: u64,
    /// The payload (its length is the record's `len` when encoded).
    pub payload: Vec<u8>,
}

/// An image split into its file header and its records (the trailer is
/// not kept: [`Raw::encode`] writes it again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raw {
    /// The 128-byte file header.
    pub header: Vec<u8>,
    /// Every record before the trailer, in order.
    pub recs: Vec<RawRec>,
}

fn get(b: &[u8], at: usize, size: usize) -> u64 {
    let mut v = [0u8; 8];
    v[..size].copy_from_slice(&b[at..at + size]);
    u64::from_le_bytes(v)
}

fn put(b: &mut [u8], at: usize, size: usize, v: u64) {
    b[at..at + size].copy_from_slice(&v.to_le_bytes()[..size]);
}

fn round8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

impl Raw {
    /// Splits a well-framed image whose last record is the trailer.
    pub fn parse(b: &[u8]) -> Result<Raw, String> {
        if b.len() < img::HEADER_LEN {
            return Err(format!("{} bytes: shorter than a file header", b.len()));
        }
        let recs = corrupt::records(b)?;
        let (last, rest) = recs.split_last().ok_or("no records")?;
        if last.kind != img::RECORD_TRAILER || last.len != img::TRAILER_PAYLOAD_LEN {
            return Err(format!("the last record (at {}) is not a trailer", last.offset));
        }
        let recs = rest
            .iter()
            .map(|r| RawRec {
                kind: r.kind,
                flags: get(b, r.offset + 4, 4) as u32,
                orig_offset: r.offset as u64,
                payload: b[r.payload()..r.payload() + r.len].to_vec(),
            })
            .collect();
        Ok(Raw { header: b[..img::HEADER_LEN].to_vec(), recs })
    }

    /// The image: header, records (each `len` its payload's length), and a
    /// trailer with the right record count, size and CRC32C.
    pub fn encode(&self) -> Vec<u8> {
        let body: usize = self.recs.iter().map(|r| img::RECORD_HEADER_LEN + r.payload.len()).sum();
        let mut b = Vec::with_capacity(self.header.len() + body + img::TRAILER_RECORD_LEN);
        b.extend_from_slice(&self.header);
        for r in &self.recs {
            b.extend_from_slice(&r.kind.to_le_bytes());
            b.extend_from_slice(&r.flags.to_le_bytes());
            b.extend_from_slice(&(r.payload.len() as u64).to_le_bytes());
            b.extend_from_slice(&r.payload);
        }
        let crc = img::crc32c(&b);
        let total = (b.len() + img::TRAILER_RECORD_LEN) as u64;
        b.extend_from_slice(&img::RECORD_TRAILER.to_le_bytes());
        b.extend_from_slice(&img::record_flags(img::RECORD_TRAILER).to_le_bytes());
        b.extend_from_slice(&(img::TRAILER_PAYLOAD_LEN as u64).to_le_bytes());
        b.extend_from_slice(&(self.recs.len() as u64).to_le_bytes());
        b.extend_from_slice(&total.to_le_bytes());
        b.extend_from_slice(&crc.to_le_bytes());
        b.extend_from_slice(&[0u8; 4]);
        b
    }

    /// Indices of the records of type `kind`.
    pub fn of_kind(&self, kind: u32) -> Vec<usize> {
        (0..self.recs.len()).filter(|&i| self.recs[i].kind == kind).collect()
    }
}

/// Flips one bit of the trailer's CRC32C: every check but the checksum
/// passes, and the image must be refused naming the TRAILER.
pub fn break_crc(b: &mut [u8]) {
    let at = b.len() - img::TRAILER_RECORD_LEN + img::RECORD_HEADER_LEN + 16;
    b[at] ^= 0x01;
}

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// The generator of case `case` of seed `seed`.
    pub fn new(seed: u64, case: u64) -> Rng {
        let mut r = Rng(seed ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.bits();
        r.bits();
        r
    }

    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.bits() % n as u64) as usize
        }
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True with probability `n` in `d`.
    pub fn chance(&mut self, n: u64, d: u64) -> bool {
        self.bits() % d < n
    }
}

/// Paths a mutant may name instead of a mapped file or the executable.
#[derive(Clone, Debug)]
pub struct Paths {
    /// A FIFO (opening it for reading blocks until a writer comes).
    pub fifo: String,
    /// A directory.
    pub dir: String,
    /// An existing regular file (the one mapped is another).
    pub regular: String,
}

impl Paths {
    /// Special files every Linux guest has.
    pub const SYSTEM: [&'static str; 6] = [
        "/dev/ptmx",
        "/dev/null",
        "/dev/zero",
        "/proc/self/maps",
        "/proc/self/mem",
        "/sys/kernel/mm/transparent_hugepage/enabled",
    ];

    /// Is `p` a path this fuzzer uses that is not a regular file (a FIFO,
    /// a device, a directory)? Opening those is what pass 1 must not do
    /// before the image is verified.
    pub fn is_special(&self, p: &str) -> bool {
        p == self.fifo || p == self.dir || p.starts_with("/dev/")
    }
}

/// A mutated image.
#[derive(Clone, Debug)]
pub struct Mutant {
    /// The case number.
    pub case: u64,
    /// What was done, precisely enough to do it again by hand.
    pub what: String,
    /// The image, with its trailer recomputed.
    pub data: Vec<u8>,
    /// A path to a non-regular file ([`Paths::is_special`]) the mutant
    /// names, if any.
    pub special: Option<String>,
}

/// A field of a fixed-layout part of a record: name, offset, size.
type Field = (&'static str, usize, usize);

const HEADER_FIELDS: &[Field] = &[
    ("major", 8, 2),
    ("minor", 10, 2),
    ("header_len", 12, 4),
    ("arch", 16, 4),
    ("page_size", 20, 4),
    ("xcr0", 24, 8),
    ("xstate_size", 32, 4),
    ("flags", 36, 4),
    ("kernel_release[0]", 40, 1),
    ("kernel_release[20]", 60, 1),
    ("reserved", 104, 8),
];

const TREE_ENTRY_FIELDS: &[Field] = &[
    ("flags", 0, 4),
    ("nr_levels", 4, 4),
    ("tgid", 8, 4),
    ("ppid", 12, 4),
    ("pgid", 16, 4),
    ("sid", 20, 4),
    ("exit_code", 24, 4),
    ("exit_signal", 28, 4),
    ("mm_id", 32, 4),
    ("reserved", 36, 4),
    ("pids[0]", 40, 4),
    ("pids[1]", 44, 4),
    ("pids[31]", 164, 4),
];

const TASK_FIELDS: &[Field] = &[
    ("index", 0, 4),
    ("pid", 4, 4),
    ("comm[0]", 8, 1),
    ("comm[15]", 23, 1),
    ("uid", 24, 4),
    ("gid", 28, 4),
    ("euid", 32, 4),
    ("egid", 36, 4),
    ("suid", 40, 4),
    ("sgid", 44, 4),
    ("fsuid", 48, 4),
    ("fsgid", 52, 4),
    ("personality", 56, 4),
    ("reserved", 60, 4),
    ("blocked", 64, 8),
];

const REG_NAMES: [&str; img::REGS_COUNT] = [
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di", "orig_ax", "ip", "cs",
    "flags", "sp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
];

/// Fields of the FPU record (offsets in the payload: the xstate starts at 8).
const FPU_FIELDS: &[Field] = &[
    ("length", 0, 4),
    ("reserved", 4, 4),
    ("xstate.fcw", 8, 2),
    ("xstate.fsw", 10, 2),
    ("xstate.ftw", 12, 1),
    ("xstate.fop", 14, 2),
    ("xstate.mxcsr", 32, 4),
    ("xstate.mxcsr_mask", 36, 4),
    ("xstate.st0", 40, 8),
    ("xstate.xmm0", 168, 8),
    ("xstate.sw_reserved[0] (fx_sw magic)", 8 + 464, 4),
    ("xstate.xstate_bv", 8 + 512, 8),
    ("xstate.xcomp_bv", 8 + 520, 8),
    ("xstate.header_reserved", 8 + 528, 8),
    ("xstate.ymmh0", 8 + 576, 8),
];

const MM_FIELDS: &[Field] = &[
    ("mm_id", 0, 4),
    ("nr_vmas", 4, 4),
    ("start_code", 8, 8),
    ("end_code", 16, 8),
    ("start_data", 24, 8),
    ("end_data", 32, 8),
    ("start_brk", 40, 8),
    ("brk", 48, 8),
    ("start_stack", 56, 8),
    ("arg_start", 64, 8),
    ("arg_end", 72, 8),
    ("env_start", 80, 8),
    ("env_end", 88, 8),
    ("auxv_count", 96, 4),
    ("exe_path_len", 100, 4),
];

const VMA_FIELDS: &[Field] =
    &[("start", 0, 8), ("end", 8, 8), ("pgoff", 16, 8), ("prot", 24, 4), ("flags", 28, 4), ("kind", 32, 4), ("path_len", 36, 4)];

const PAGES_FIELDS: &[Field] = &[("addr", 0, 8), ("nr_pages", 8, 8)];

const FILES_FIELDS: &[Field] = &[("count", 0, 4), ("reserved", 4, 4)];

const SHM_FIELDS: &[Field] = &[("id", 0, 8), ("reserved", 8, 8)];

const FILE_FIELDS: &[Field] = &[
    ("id", 0, 4),
    ("kind", 4, 4),
    ("flags", 8, 4),
    ("mode", 12, 4),
    ("pos", 16, 8),
    ("size", 24, 8),
    ("rdev_major", 32, 4),
    ("rdev_minor", 36, 4),
    ("pipe", 40, 4),
    ("pipe_size", 44, 4),
    ("seals", 48, 4),
    ("path_len", 52, 4),
    ("data_len", 56, 8),
];
const FDATA_FIELDS: &[Field] = &[("file", 0, 4), ("reserved", 4, 4), ("offset", 8, 8)];
const FDS_FIELDS: &[Field] = &[("count", 0, 4), ("umask", 4, 4), ("root_len", 8, 4), ("cwd_len", 12, 4)];
const MAPFILE_FIELDS: &[Field] = &[("size", 0, 8), ("mode", 8, 4), ("file", 12, 4)];
const THREAD_FIELDS: &[Field] = &[
    ("clear_child_tid", 0, 8),
    ("robust_list", 8, 8),
    ("robust_list_len", 16, 8),
    ("rseq", 24, 8),
    ("rseq_len", 32, 4),
    ("rseq_sig", 36, 4),
    ("reserved", 40, 8),
];

const CREDS_FIELDS: &[Field] = &[
    ("cap_inheritable", 0, 8),
    ("cap_permitted", 8, 8),
    ("cap_effective", 16, 8),
    ("cap_bset", 24, 8),
    ("cap_ambient", 32, 8),
    ("securebits", 40, 4),
    ("flags", 44, 4),
    ("ngroups", 48, 4),
    ("reserved", 52, 4),
];
const SIGNALS_FIELDS: &[Field] = &[
    ("altstack_sp", 0, 8),
    ("altstack_size", 8, 8),
    ("altstack_flags", 16, 4),
    ("pdeath_signal", 20, 4),
    ("timer_slack_ns", 24, 8),
    ("nprivate", 32, 4),
    ("nshared", 36, 4),
    ("reserved", 40, 8),
];
/// Fields of one pending signal (a user siginfo_t) of a SIGNALS record.
const SIGINFO_FIELDS: &[Field] = &[
    ("si_signo", 0, 4),
    ("si_errno", 4, 4),
    ("si_code", 8, 4),
    ("si_pid", 16, 4),
    ("si_uid", 20, 4),
    ("si_value", 24, 8),
    ("tail[48]", 48, 8),
    ("tail[120]", 120, 8),
];
const PROCESS_FIELDS: &[Field] = &[("flags", 304, 4), ("dumpable", 308, 4), ("ntimers", 312, 4), ("reserved", 316, 4)];
/// Fields of one signal disposition of a PROCESS record.
const SIGACTION_FIELDS: &[Field] = &[("handler", 0, 8), ("flags", 8, 8), ("restorer", 16, 8), ("mask", 24, 8)];
/// Fields of one POSIX timer of a PROCESS record.
const TIMER_FIELDS: &[Field] = &[
    ("id", 0, 4),
    ("clock", 4, 4),
    ("notify", 8, 4),
    ("signo", 12, 4),
    ("value", 16, 8),
    ("tid", 24, 4),
    ("reserved", 28, 4),
    ("value_ns", 32, 8),
    ("interval_ns", 40, 8),
    ("overrun_last", 48, 4),
    ("reserved2", 52, 4),
    ("reserved3", 56, 8),
];
const ITIMER_NAMES: [&str; 3] = ["real", "virtual", "prof"];

const ROUND_FIELDS: &[Field] = &[("round", 0, 4), ("src", 4, 4), ("pid", 8, 4), ("reserved", 12, 4)];
/// A PREVPAGES addr off by a page makes one of its pages one that no
/// ROUND of its src copied: the format accepts it, the restart must not.
const PREVPAGES_FIELDS: &[Field] = &[("addr", 0, 8), ("nr_pages", 8, 8), ("src", 16, 4), ("reserved", 20, 4)];

const TRAILER_FIELDS: &[Field] = &[];

/// The fields of record `r`, variable parts included (TREE entries, auxv
/// pairs, FILES entries), as (name, offset, size) in its payload.
fn fields_of(r: &RawRec) -> Vec<(String, usize, usize)> {
    let fixed: &[Field] = match r.kind {
        img::RECORD_TREE => &[("count", 0, 4), ("reserved", 4, 4)],
        img::RECORD_TASK => TASK_FIELDS,
        img::RECORD_FPU => FPU_FIELDS,
        img::RECORD_MM => MM_FIELDS,
        img::RECORD_VMA => VMA_FIELDS,
        img::RECORD_PAGES => PAGES_FIELDS,
        img::RECORD_FILES => FILES_FIELDS,
        img::RECORD_SHM => SHM_FIELDS,
        img::RECORD_THREAD => THREAD_FIELDS,
        img::RECORD_FILE => FILE_FIELDS,
        img::RECORD_FDATA => FDATA_FIELDS,
        img::RECORD_FDS => FDS_FIELDS,
        img::RECORD_MAPFILE => MAPFILE_FIELDS,
        img::RECORD_CREDS => CREDS_FIELDS,
        img::RECORD_SIGNALS => SIGNALS_FIELDS,
        img::RECORD_PROCESS => PROCESS_FIELDS,
        img::RECORD_ROUND => ROUND_FIELDS,
        img::RECORD_PREVPAGES => PREVPAGES_FIELDS,
        _ => TRAILER_FIELDS,
    };
    let mut out: Vec<(String, usize, usize)> = fixed.iter().map(|&(n, o, s)| (n.to_string(), o, s)).collect();
    let len = r.payload.len();
    match r.kind {
        img::RECORD_TREE => {
            let n = len.saturating_sub(img::TREE_FIXED_LEN) / img::TREE_ENTRY_LEN;
            for i in 0..n {
                for &(f, o, s) in TREE_ENTRY_FIELDS {
                    out.push((format!("entry[{i}].{f}"), img::TREE_FIXED_LEN + i * img::TREE_ENTRY_LEN + o, s));
                }
            }
        }
        img::RECORD_REGS => {
            for (i, n) in REG_NAMES.iter().enumerate() {
                out.push((n.to_string(), 8 * i, 8));
            }
        }
        img::RECORD_MM if len >= img::MM_FIXED_LEN => {
            let n = (get(&r.payload, 96, 4) as usize).min((len - img::MM_FIXED_LEN) / 16);
            for k in 0..n {
                out.push((format!("auxv[{k}].key"), img::MM_FIXED_LEN + 16 * k, 8));
                out.push((format!("auxv[{k}].value"), img::MM_FIXED_LEN + 16 * k + 8, 8));
            }
        }
        img::RECORD_FDS if len >= img::FDS_FIXED_LEN => {
            let n = (get(&r.payload, 0, 4) as usize).min((len - img::FDS_FIXED_LEN) / img::FD_ENTRY_LEN);
            for k in 0..n {
                let at = img::FDS_FIXED_LEN + img::FD_ENTRY_LEN * k;
                out.push((format!("entry[{k}].fd"), at, 4));
                out.push((format!("entry[{k}].file"), at + 4, 4));
                out.push((format!("entry[{k}].flags"), at + 8, 4));
                out.push((format!("entry[{k}].reserved"), at + 12, 4));
            }
        }
        img::RECORD_CREDS => {
            let n = len.saturating_sub(img::CREDS_FIXED_LEN) / 4;
            for k in 0..n {
                out.push((format!("groups[{k}]"), img::CREDS_FIXED_LEN + 4 * k, 4));
            }
        }
        img::RECORD_SIGNALS => {
            let n = len.saturating_sub(img::SIGNALS_FIXED_LEN) / img::SIGINFO_LEN;
            for k in 0..n {
                for &(f, o, s) in SIGINFO_FIELDS {
                    out.push((format!("entry[{k}].{f}"), img::SIGNALS_FIXED_LEN + img::SIGINFO_LEN * k + o, s));
                }
            }
        }
        img::RECORD_PROCESS => {
            for r in 0..img::RLIMIT_COUNT {
                out.push((format!("rlimits[{r}].cur"), img::RLIMIT_LEN * r, 8));
                out.push((format!("rlimits[{r}].max"), img::RLIMIT_LEN * r + 8, 8));
            }
            for (t, n) in ITIMER_NAMES.iter().enumerate() {
                let at = img::RLIMIT_COUNT * img::RLIMIT_LEN + img::ITIMER_LEN * t;
                out.push((format!("itimer_{n}.value_ns"), at, 8));
                out.push((format!("itimer_{n}.interval_ns"), at + 8, 8));
            }
            let actions = img::PROCESS_FIXED_LEN - img::MAX_SIGNAL as usize * img::SIGACTION_LEN;
            for sig in 0..img::MAX_SIGNAL as usize {
                for &(f, o, s) in SIGACTION_FIELDS {
                    out.push((format!("sigactions[{}].{f}", sig + 1), actions + img::SIGACTION_LEN * sig + o, s));
                }
            }
            let n = len.saturating_sub(img::PROCESS_FIXED_LEN) / img::TIMER_LEN;
            for k in 0..n {
                for &(f, o, s) in TIMER_FIELDS {
                    out.push((format!("timers[{k}].{f}"), img::PROCESS_FIXED_LEN + img::TIMER_LEN * k + o, s));
                }
            }
        }
        img::RECORD_FILES => {
            let n = len.saturating_sub(img::FILES_FIXED_LEN) / img::FILE_ENTRY_LEN;
            for k in 0..n {
                out.push((format!("entry[{k}].fd"), img::FILES_FIXED_LEN + 8 * k, 4));
                out.push((format!("entry[{k}].kind"), img::FILES_FIXED_LEN + 8 * k + 4, 4));
            }
        }
        _ => {}
    }
    out.retain(|&(_, o, s)| o + s <= len);
    out
}

/// An interesting value for a field of `size` bytes that holds `orig`.
fn interesting(rng: &mut Rng, size: usize, orig: u64) -> u64 {
    let mask = if size >= 8 { u64::MAX } else { (1u64 << (size * 8)) - 1 };
    let (bit, rnd) = (rng.below(size * 8), rng.bits());
    let opts: Vec<u64> = match size {
        8 => vec![
            0,
            1,
            u64::MAX,
            orig.wrapping_add(1),
            orig.wrapping_sub(1),
            orig.wrapping_add(PAGE),
            orig.wrapping_sub(PAGE),
            orig | 0x7ff,
            orig ^ 0x800,
            orig << 1,
            orig >> 1,
            !orig,
            0x7fff_ffff_f000, // USER_SPACE_END
            0x7fff_ffff_e000,
            0x0000_8000_0000_0000, // first non-canonical
            0x0000_7fff_ffff_ffff,
            0xffff_8880_0000_0000, // the direct map
            0xffff_ffff_8100_0000, // kernel text
            0xffff_ffff_ff60_0000, // vsyscall
            1 << 63,
            i64::MAX as u64,
            0x1_0000,
            0xffff,
            0xffff_ffff,
            0x1_0000_0000,
            0x1000,
            0x0fff,
            1 << bit,
            orig ^ 1 << bit,
            rnd,
        ],
        4 => vec![
            0,
            1,
            2,
            u32::MAX as u64,
            orig.wrapping_add(1),
            orig.wrapping_sub(1),
            orig << 1,
            orig >> 1,
            0x7fff_ffff,
            0x8000_0000,
            0xffff,
            0x1_0000,
            0x1_0001,
            4096,
            4097,
            32,
            33,
            64,
            65,
            4_194_304,
            4_194_305,
            orig ^ 1 << bit,
            rnd,
        ],
        2 => vec![0, 1, 0xffff, orig.wrapping_add(1), orig.wrapping_sub(1), 0x8000, orig ^ 1 << bit, rnd],
        _ => vec![0, 0xff, 0x7f, b'/' as u64, 0x80, orig ^ 1 << bit, rnd],
    };
    *rng.pick(&opts) & mask
}

/// A record to mutate: most often one the kernel alone checks in depth.
fn pick_record(rng: &mut Rng, raw: &Raw) -> usize {
    // Weights by kind; PAGES are many and mostly data: weighted per record.
    let w = |k: u32| -> u64 {
        match k {
            img::RECORD_TREE => 6,
            img::RECORD_TASK | img::RECORD_REGS | img::RECORD_FPU => 6,
            img::RECORD_MM => 10,
            img::RECORD_VMA => 4,
            img::RECORD_PAGES | img::RECORD_FDATA => 1,
            img::RECORD_FILES | img::RECORD_SHM | img::RECORD_THREAD => 6,
            img::RECORD_FILE | img::RECORD_FDS | img::RECORD_MAPFILE => 6,
            img::RECORD_CREDS | img::RECORD_SIGNALS | img::RECORD_PROCESS => 6,
            img::RECORD_ROUND | img::RECORD_PREVPAGES => 6,
            _ => 2,
        }
    };
    let total: u64 = raw.recs.iter().map(|r| w(r.kind)).sum();
    let mut x = rng.bits() % total.max(1);
    for (i, r) in raw.recs.iter().enumerate() {
        if x < w(r.kind) {
            return i;
        }
        x -= w(r.kind);
    }
    0
}

fn rec_name(raw: &Raw, i: usize) -> String {
    let r = &raw.recs[i];
    let nth = raw.recs[..i].iter().filter(|o| o.kind == r.kind).count();
    if r.orig_offset == u64::MAX {
        format!("{} #{nth} (inserted)", img::record_name(r.kind))
    } else {
        format!("{} #{nth} (record {i}, offset {})", img::record_name(r.kind), r.orig_offset)
    }
}

/// Sets a path field: `len_at` the u32 length, `path_at` where the path
/// starts (the payload is cut there and padded again).
fn set_path(payload: &mut Vec<u8>, len_at: usize, path_at: usize, path: &[u8]) {
    put(payload, len_at, 4, path.len() as u64);
    payload.truncate(path_at);
    payload.extend_from_slice(path);
    payload.resize(path_at + round8(path.len()), 0);
}

/// The path of a VMA or MM record: (length field offset, path offset, path).
fn path_of(r: &RawRec) -> Option<(usize, usize, Vec<u8>)> {
    let p = &r.payload;
    match r.kind {
        img::RECORD_VMA if p.len() >= img::VMA_FIXED_LEN => {
            let n = (get(p, 36, 4) as usize).min(p.len() - img::VMA_FIXED_LEN);
            Some((36, img::VMA_FIXED_LEN, p[img::VMA_FIXED_LEN..img::VMA_FIXED_LEN + n].to_vec()))
        }
        img::RECORD_MM if p.len() >= img::MM_FIXED_LEN => {
            let at = (img::MM_FIXED_LEN + 16 * get(p, 96, 4) as usize).min(p.len());
            let n = (get(p, 100, 4) as usize).min(p.len() - at);
            Some((100, at, p[at..at + n].to_vec()))
        }
        _ => None,
    }
}

/// A new path for a mapped file or the executable, and what it is.
fn new_path(rng: &mut Rng, old: &[u8], paths: &Paths) -> (Vec<u8>, String) {
    let s = |x: &str| x.as_bytes().to_vec();
    match rng.below(14) {
        0 | 1 => (s(&paths.fifo), format!("a FIFO ({})", paths.fifo)),
        2 => (s(&paths.dir), format!("a directory ({})", paths.dir)),
        3..=5 => {
            let p = *rng.pick(&Paths::SYSTEM);
            (s(p), p.to_string())
        }
        6 => (s(&paths.regular), format!("another regular file ({})", paths.regular)),
        7 => {
            let n = old.len() / 2;
            (old[..n].to_vec(), format!("cut to its first {n} bytes"))
        }
        8 => (s("/"), "/".into()),
        9 => (s("/nonexistent/cptrst-fuzz"), "a path that does not exist".into()),
        10 => {
            let mut p = old.to_vec();
            if !p.is_empty() {
                let k = rng.below(p.len());
                p[k] = 0;
            }
            (p, "a NUL byte inside".into())
        }
        11 => {
            let mut p = old.to_vec();
            p.retain(|&c| c != b'/');
            (p, "relative (every / removed)".into())
        }
        12 => {
            let mut p = b"/".to_vec();
            p.resize(img::MAX_PATH_LEN + rng.below(2), b'a');
            (p.clone(), format!("/aaa... of {} bytes", p.len()))
        }
        _ => {
            let mut p = old.to_vec();
            p.extend_from_slice(b"/..");
            (p, "with /.. appended".into())
        }
    }
}

/// Mutation of one field of record `i` (or of the file header for `None`).
fn mutate_field(rng: &mut Rng, raw: &mut Raw, i: Option<usize>) -> String {
    let (name, fields) = match i {
        None => ("header".to_string(), HEADER_FIELDS.iter().map(|&(n, o, s)| (n.to_string(), o, s)).collect()),
        Some(i) => (rec_name(raw, i), fields_of(&raw.recs[i])),
    };
    let bytes = match i {
        None => &mut raw.header,
        Some(i) => {
            let r = &mut raw.recs[i];
            // A byte of page data now and then: harmless, a restart that works.
            if r.kind == img::RECORD_PAGES && r.payload.len() > img::PAGES_FIXED_LEN && rng.chance(1, 3) {
                let at = img::PAGES_FIXED_LEN + rng.below(r.payload.len() - img::PAGES_FIXED_LEN);
                r.payload[at] ^= 0xff;
                return format!("{name}: page data byte {at} inverted");
            }
            &mut r.payload
        }
    };
    if fields.is_empty() {
        return format!("{name}: no field to mutate (unchanged)");
    }
    let (f, at, size) = rng.pick(&fields).clone();
    let orig = get(bytes, at, size);
    let mut v = interesting(rng, size, orig);
    if v == orig {
        v = orig ^ 1;
    }
    put(bytes, at, size, v);
    format!("{name}: {f} (payload offset {at}, {size} bytes) {orig:#x} -> {v:#x}")
}

/// Mutation of the path of a VMA or of the executable; `None` if the image
/// has neither with a path.
fn mutate_path(rng: &mut Rng, raw: &mut Raw, paths: &Paths, special: &mut Option<String>) -> Option<String> {
    let with_path: Vec<usize> =
        (0..raw.recs.len()).filter(|&i| path_of(&raw.recs[i]).is_some_and(|(_, _, p)| !p.is_empty())).collect();
    let anon_vmas: Vec<usize> = raw.of_kind(img::RECORD_VMA).into_iter().filter(|i| !with_path.contains(i)).collect();
    if with_path.is_empty() && anon_vmas.is_empty() {
        return None;
    }
    // Now and then an anonymous VMA becomes a private file mapping of it.
    let turn_anon = !anon_vmas.is_empty() && (with_path.is_empty() || rng.chance(1, 5));
    let i = if turn_anon { *rng.pick(&anon_vmas) } else { *rng.pick(&with_path) };
    let name = rec_name(raw, i);
    let (len_at, path_at, old) = path_of(&raw.recs[i])?;
    let (p, what) = new_path(rng, &old, paths);
    if let Ok(s) = std::str::from_utf8(&p) {
        if paths.is_special(s) {
            *special = Some(s.to_string());
        }
    }
    let r = &mut raw.recs[i];
    set_path(&mut r.payload, len_at, path_at, &p);
    if turn_anon {
        put(&mut r.payload, 32, 4, img::VmaKind::FilePrivate.as_u32() as u64);
        return Some(format!("{name}: anonymous VMA made a private file mapping of {what}"));
    }
    let field = if r.kind == img::RECORD_VMA { "path" } else { "exe path" };
    Some(format!("{name}: {field} {:?} -> {what}", String::from_utf8_lossy(&old)))
}

/// A record resized (its framing stays right: the next record starts
/// where the new length says), its inner lengths left as they were.
fn mutate_length(rng: &mut Rng, raw: &mut Raw) -> String {
    let i = pick_record(rng, raw);
    let name = rec_name(raw, i);
    let r = &mut raw.recs[i];
    let old = r.payload.len();
    let new = match rng.below(7) {
        0 => 0,
        1 => old.saturating_sub(8),
        2 => old + 8,
        3 => round8(old / 2),
        4 => 8,
        5 => old + 4096,
        _ => old + 8 * (1 + rng.below(64)),
    };
    r.payload.resize(new, 0);
    format!("{name}: payload resized {old} -> {new} bytes (zero-filled)")
}

/// Records swapped, duplicated, removed, moved, or an unknown one added.
fn mutate_structure(rng: &mut Rng, raw: &mut Raw) -> String {
    let n = raw.recs.len();
    match rng.below(7) {
        0 if n >= 2 => {
            let i = rng.below(n - 1);
            let what = format!("{} and {} swapped", rec_name(raw, i), rec_name(raw, i + 1));
            raw.recs.swap(i, i + 1);
            what
        }
        1 => {
            // Two records of one kind (two VMAs, two TASKs...) swapped.
            let i = pick_record(rng, raw);
            let same = raw.of_kind(raw.recs[i].kind);
            let j = *rng.pick(&same);
            let what = format!("{} and {} swapped", rec_name(raw, i), rec_name(raw, j));
            raw.recs.swap(i, j);
            what
        }
        2 => {
            let i = pick_record(rng, raw);
            let what = format!("{} duplicated (the copy right after it)", rec_name(raw, i));
            let mut copy = raw.recs[i].clone();
            copy.orig_offset = u64::MAX;
            raw.recs.insert(i + 1, copy);
            what
        }
        3 if n >= 2 => {
            let i = pick_record(rng, raw);
            let what = format!("{} removed", rec_name(raw, i));
            raw.recs.remove(i);
            what
        }
        4 => {
            let i = pick_record(rng, raw);
            let what = rec_name(raw, i);
            let r = raw.recs.remove(i);
            let j = rng.below(raw.recs.len() + 1);
            raw.recs.insert(j, r);
            format!("{what} moved to position {j}")
        }
        5 => {
            let flags = if rng.chance(1, 2) { 0 } else { img::RECORD_FLAG_MUST_UNDERSTAND };
            // Type 0 (invalid), the first type after the known ones, two far ones.
            let kind = *rng.pick(&[0u32, img::RECORD_PREVPAGES + 1, 0x7fff, 0xffff_ffff]);
            let len = 8 * rng.below(9);
            let payload = (0..len).map(|_| rng.bits() as u8).collect();
            let j = rng.below(raw.recs.len() + 1);
            raw.recs.insert(j, RawRec { kind, flags, orig_offset: u64::MAX, payload });
            format!("an unknown record (type {kind:#x}, flags {flags}, {len} bytes) inserted at position {j}")
        }
        _ => {
            // The record header: another type, other flags.
            let i = pick_record(rng, raw);
            let what = rec_name(raw, i);
            let r = &mut raw.recs[i];
            if rng.chance(1, 2) {
                let old = r.kind;
                r.kind = *rng.pick(&[
                    0,
                    img::RECORD_TREE,
                    img::RECORD_TASK,
                    img::RECORD_REGS,
                    img::RECORD_FPU,
                    img::RECORD_MM,
                    img::RECORD_VMA,
                    img::RECORD_PAGES,
                    img::RECORD_TRAILER,
                    img::RECORD_FILES,
                    img::RECORD_SHM,
                    img::RECORD_THREAD,
                    img::RECORD_FILE,
                    img::RECORD_FDATA,
                    img::RECORD_FDS,
                    img::RECORD_MAPFILE,
                    img::RECORD_CREDS,
                    img::RECORD_SIGNALS,
                    img::RECORD_PROCESS,
                    img::RECORD_ROUND,
                    img::RECORD_PREVPAGES,
                    12,
                ]);
                format!("{what}: record type {old} -> {}", r.kind)
            } else {
                let old = r.flags;
                r.flags ^= *rng.pick(&[img::RECORD_FLAG_MUST_UNDERSTAND, 2, 1 << 31]);
                format!("{what}: record flags {old:#x} -> {:#x}", r.flags)
            }
        }
    }
}

/// Case `case` of seed `seed` of the image `good` (split by [`Raw::parse`]).
pub fn mutant(good: &Raw, seed: u64, case: u64, paths: &Paths) -> Mutant {
    let mut rng = Rng::new(seed, case);
    let mut raw = good.clone();
    let mut special = None;
    let mut what = Vec::new();
    // Mostly one mutation; sometimes two or three on top of each other.
    let rounds = if rng.chance(1, 10) { 2 + rng.below(2) } else { 1 };
    for _ in 0..rounds {
        let w = match rng.below(100) {
            0..=49 => {
                let i = pick_record(&mut rng, &raw);
                mutate_field(&mut rng, &mut raw, Some(i))
            }
            50..=64 => match mutate_path(&mut rng, &mut raw, paths, &mut special) {
                Some(w) => w,
                None => mutate_field(&mut rng, &mut raw, None),
            },
            65..=74 => mutate_length(&mut rng, &mut raw),
            75..=94 => mutate_structure(&mut rng, &mut raw),
            _ => mutate_field(&mut rng, &mut raw, None),
        };
        what.push(w);
    }
    Mutant { case, what: what.join("; "), data: raw.encode(), special }
}

/// Is `e`, a refusal of `image`, about its framing or its checksum (which
/// [`mutant`] must never get wrong)? A length that overflows is framing
/// only when it is the record header's (a PAGES record's `nr_pages` may
/// overflow too), too large only above the limit of every record (each
/// type has its own, lower one).
pub fn is_framing_error(e: &img::Error, image: &[u8]) -> bool {
    use img::ErrorKind as K;
    match e.kind {
        K::LengthOverflow { len } => {
            let at = e.offset as usize + 8;
            image.get(at..at + 8).is_some_and(|l| u64::from_le_bytes(l.try_into().unwrap_or_default()) == len)
        }
        K::RecordTooLarge { max, .. } => max == img::MAX_RECORD_PAYLOAD,
        K::TruncatedHeader
        | K::TruncatedRecordHeader { .. }
        | K::TruncatedRecord { .. }
        | K::MisalignedLength { .. }
        | K::MissingTrailer
        | K::DataAfterTrailer
        | K::TrailerCountMismatch { .. }
        | K::TrailerSizeMismatch { .. }
        | K::TrailerCrcMismatch { .. } => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cptrst_image::sample;

    fn sample_image() -> Vec<u8> {
        let mut buf = vec![0u8; sample::SAMPLE_MAX_LEN];
        let n = sample::build(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    fn paths() -> Paths {
        Paths { fifo: "/tmp/fuzz.fifo".into(), dir: "/tmp/fuzz.dir".into(), regular: "/usr/bin/cptrst".into() }
    }

    /// Split and encoded again, the sample is the same bytes.
    #[test]
    fn parse_encode_round_trip() {
        let good = sample_image();
        let raw = Raw::parse(&good).unwrap();
        assert_eq!(raw.encode(), good);
        assert_eq!(raw.recs.len() as u64, img::validate(&good).unwrap().records);
    }

    /// 2000 mutants of the sample: each well framed (the records
    /// add up to the image), with a trailer that `fix_trailer` would not
    /// change, and the validator refuses none for its framing or checksum;
    /// the same case gives the same bytes. Many mutants are refused (by
    /// many different checks), some pass.
    #[test]
    fn mutants_are_framed_and_checksummed() {
        let good = sample_image();
        let raw = Raw::parse(&good).unwrap();
        let mut kinds = std::collections::BTreeMap::new();
        let (mut valid, mut changed) = (0, 0);
        for case in 0..2000u64 {
            let m = mutant(&raw, 0x5eed, case, &paths());
            let again = mutant(&raw, 0x5eed, case, &paths());
            assert_eq!(m.data, again.data, "case {case} not deterministic");
            assert_eq!(m.what, again.what);
            let recs = corrupt::records(&m.data).unwrap_or_else(|e| panic!("case {case} ({}): {e}", m.what));
            assert_eq!(recs.last().unwrap().kind, img::RECORD_TRAILER, "case {case}");
            let mut fixed = m.data.clone();
            sample::fix_trailer(&mut fixed);
            assert_eq!(fixed, m.data, "case {case} ({}): trailer not right", m.what);
            assert_eq!(Raw::parse(&m.data).unwrap().encode(), m.data);
            if m.data != good {
                changed += 1;
            }
            match img::validate(&m.data) {
                Ok(_) => valid += 1,
                Err(e) => {
                    assert!(!is_framing_error(&e, &m.data), "case {case} ({}): {e}", m.what);
                    let k = format!("{:?}", e.kind);
                    let k = k.split([' ', '{', '(']).next().unwrap_or("").to_string();
                    *kinds.entry(k).or_insert(0u32) += 1;
                }
            }
            // The streaming validator (the kernel's way) agrees.
            let streaming = sample::validate_streaming(&m.data, 4096).map(|(s, _)| s);
            assert_eq!(streaming, img::validate(&m.data), "case {case} ({})", m.what);
        }
        eprintln!("{valid} valid, {changed} changed; refusals: {kinds:?}");
        assert!(changed > 1950, "only {changed} of 2000 mutants differ from the image");
        assert!(valid > 50, "only {valid} mutants are valid: nothing gets past the format");
        assert!(kinds.len() > 25, "only {} kinds of refusal: {kinds:?}", kinds.len());
    }

    /// 1000 mutants of the live sample (ROUND sections, PREVPAGES): framed
    /// and checksummed, the streaming validator agrees, and the live rules
    /// refuse some of them.
    #[test]
    fn mutants_of_the_live_sample() {
        let mut buf = vec![0u8; sample::SAMPLE_MAX_LEN];
        let n = sample::build_live(&mut buf).unwrap();
        buf.truncate(n);
        let raw = Raw::parse(&buf).unwrap();
        assert_eq!(raw.encode(), buf);
        let mut live_refusals = std::collections::BTreeSet::new();
        let mut valid = 0;
        for case in 0..1000u64 {
            let m = mutant(&raw, 0x11fe, case, &paths());
            let mut fixed = m.data.clone();
            sample::fix_trailer(&mut fixed);
            assert_eq!(fixed, m.data, "case {case} ({}): trailer not right", m.what);
            let v = img::validate(&m.data);
            match v {
                Ok(_) => valid += 1,
                Err(e) => {
                    assert!(!is_framing_error(&e, &m.data), "case {case} ({}): {e}", m.what);
                    let k = format!("{:?}", e.kind);
                    if k.starts_with("Round") || k.starts_with("PrevPages") {
                        live_refusals.insert(k.split([' ', '{', '(']).next().unwrap_or("").to_string());
                    }
                }
            }
            let streaming = sample::validate_streaming(&m.data, 4096).map(|(s, _)| s);
            assert_eq!(streaming, v, "case {case} ({})", m.what);
        }
        eprintln!("{valid} valid; live refusals: {live_refusals:?}");
        assert!(valid > 20, "only {valid} mutants are valid");
        assert!(live_refusals.len() >= 6, "live refusals: {live_refusals:?}");
    }

    /// Another seed, other mutants.
    #[test]
    fn seeds_differ() {
        let raw = Raw::parse(&sample_image()).unwrap();
        let same = (0..100).filter(|&c| mutant(&raw, 1, c, &paths()).data == mutant(&raw, 2, c, &paths()).data).count();
        assert!(same < 20, "{same} of 100 cases are the same for seeds 1 and 2");
    }

    /// Path mutations reach the special files, and say so.
    #[test]
    fn special_paths_are_used() {
        let raw = Raw::parse(&sample_image()).unwrap();
        let p = paths();
        let specials: Vec<String> = (0..3000).filter_map(|c| mutant(&raw, 7, c, &p).special).collect();
        for want in [p.fifo.as_str(), p.dir.as_str(), "/dev/ptmx"] {
            assert!(specials.iter().any(|s| s == want), "no mutant names {want}");
        }
    }

    /// A broken CRC is the only thing wrong with an otherwise valid image.
    #[test]
    fn break_crc_is_a_crc_error() {
        let mut b = sample_image();
        break_crc(&mut b);
        let e = img::validate(&b).unwrap_err();
        assert!(matches!(e.kind, img::ErrorKind::TrailerCrcMismatch { .. }), "{e}");
        assert_eq!(e.record, img::RECORD_TRAILER);
    }
}
