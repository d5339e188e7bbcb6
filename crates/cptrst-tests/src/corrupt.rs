//! Damaged variants of a real image, for the restart refusal tests: each
//! record kind cut short, a record length that overflows, overlapping VMAs,
//! a VMA in kernel space, wrong magic/major/arch, an XCR0 feature the CPU
//! lacks, another kernel release, a bad checksum. A live image (1.6, with
//! ROUND sections) gets more: cut inside a round section, two ROUND
//! records out of order, a PREVPAGES of a src no ROUND has, one outside
//! its VMA, and one whose page no ROUND of its src copied (which the
//! format accepts and only the restart can refuse).
//!
//! Every variant whose damage is not the checksum itself gets a trailer
//! with the right CRC32C again (`sample::fix_trailer`), so that only the
//! check aimed at gets to refuse it. [`variants`] runs the image crate's
//! own validator over each one: the record it names is what the refusal
//! must name too (the kernel and the tool use the same code and `Display`).

use cptrst_image as img;
use cptrst_image::sample::fix_trailer;

const PAGE: u64 = img::PAGE_SIZE_X86_64 as u64;

/// One record of an image: where, what, how long its payload is.
#[derive(Clone, Copy, Debug)]
pub struct Rec {
    /// Offset of its record header.
    pub offset: usize,
    /// `RECORD_*`.
    pub kind: u32,
    /// Payload length.
    pub len: usize,
}

impl Rec {
    /// Offset of its payload.
    pub fn payload(&self) -> usize {
        self.offset + img::RECORD_HEADER_LEN
    }

    /// Its index in `recs` (the records of its image).
    fn index_in(&self, recs: &[Rec]) -> usize {
        recs.iter().position(|r| r.offset == self.offset).unwrap_or(recs.len())
    }
}

/// The records of a well-framed image, trailer included.
pub fn records(b: &[u8]) -> Result<Vec<Rec>, String> {
    let mut out = Vec::new();
    let mut pos = img::HEADER_LEN;
    while pos < b.len() {
        let h = b.get(pos..pos + 16).ok_or(format!("record header cut at {pos}"))?;
        let kind = u32::from_le_bytes(h[0..4].try_into().unwrap());
        let len = u64::from_le_bytes(h[8..16].try_into().unwrap());
        let len = usize::try_from(len).map_err(|_| format!("record at {pos}: length {len}"))?;
        let end = pos + 16 + len;
        if end > b.len() {
            return Err(format!("record at {pos}: {len} bytes run past the end ({})", b.len()));
        }
        out.push(Rec { offset: pos, kind, len });
        pos = end;
    }
    Ok(out)
}

/// A damaged image and what must refuse it.
pub struct Variant {
    /// What was done to it.
    pub name: String,
    /// The bytes.
    pub data: Vec<u8>,
    /// The record a refusal must name: `header`, `TREE`, `MM`, `VMA`...
    pub record: &'static str,
    /// The image crate's verdict (`Some` for damage the format check sees,
    /// `None` for what only the running system can refuse: CPU features,
    /// kernel release).
    pub lib_error: Option<img::Error>,
}

impl Variant {
    /// The text the refusal message must contain: `MM (type 5) at offset
    /// 1234` as `format::Error` prints it, or just the record name.
    pub fn expected_text(&self) -> String {
        match &self.lib_error {
            Some(e) => format!("{} (type {}) at offset {}", img::record_name(e.record), e.record, e.offset),
            None => self.record.to_string(),
        }
    }
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// `b` without the records `drop`, its trailer fixed.
fn without(b: &[u8], drop: &[Rec]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut pos = 0;
    for r in drop {
        out.extend_from_slice(&b[pos..r.offset]);
        pos = r.payload() + r.len;
    }
    out.extend_from_slice(&b[pos..]);
    fix_trailer(&mut out);
    out
}

/// A variant before its check: (name, data, record, the library must
/// refuse it).
type RawVariant = (String, Vec<u8>, &'static str, bool);

/// The variants only a live image (with ROUND sections) has.
fn live_variants(good: &[u8], recs: &[Rec]) -> Result<Vec<RawVariant>, String> {
    let mut raw = Vec::new();
    let tree = recs.iter().position(|r| r.kind == img::RECORD_TREE).ok_or("the image has no TREE record")?;
    let sections = &recs[..tree];
    let rounds: Vec<Rec> = sections.iter().copied().filter(|r| r.kind == img::RECORD_ROUND).collect();
    if rounds.is_empty() {
        return Ok(raw);
    }
    // The page data of the last PAGES record of the round sections, cut.
    if let Some(p) = sections.iter().rev().find(|r| r.kind == img::RECORD_PAGES) {
        let data = p.len - img::PAGES_FIXED_LEN;
        let cut = p.payload() + img::PAGES_FIXED_LEN + data / 2;
        raw.push((
            format!("cut in the page data of the last PAGES record of the round sections (at {cut} of {})", good.len()),
            good[..cut].to_vec(),
            "PAGES",
            true,
        ));
    }
    // The second ROUND with the first one's (round, src).
    if let [r0, r1, ..] = rounds[..] {
        let mut b = good.to_vec();
        b.copy_within(r0.payload()..r0.payload() + 8, r1.payload());
        fix_trailer(&mut b);
        let (round, src) = (get_u32(good, r0.payload()), get_u32(good, r0.payload() + 4));
        raw.push((format!("ROUND at offset {} made (round {round}, src {src}), as the one before", r1.offset), b, "ROUND", true));
    }
    let Some(pp) = recs[tree..].iter().copied().find(|r| r.kind == img::RECORD_PREVPAGES) else {
        return Ok(raw);
    };
    let (addr, src) = (get_u64(good, pp.payload()), get_u32(good, pp.payload() + 16));
    // A src that has no ROUND section.
    let srcs: Vec<u32> = rounds.iter().map(|r| get_u32(good, r.payload() + 4)).collect();
    let unknown = (1..=img::MAX_LIVE_SRCS).find(|s| !srcs.contains(s)).ok_or("every src has a ROUND section")?;
    let mut b = good.to_vec();
    put_u32(&mut b, pp.payload() + 16, unknown);
    fix_trailer(&mut b);
    raw.push((format!("PREVPAGES at offset {} of src {unknown}, which no ROUND has", pp.offset), b, "PREVPAGES", true));
    // Moved a page below the start of its VMA.
    let vma = recs[..pp.index_in(recs)].iter().rev().find(|r| r.kind == img::RECORD_VMA).ok_or("PREVPAGES before any VMA")?;
    let start = get_u64(good, vma.payload());
    let mut b = good.to_vec();
    put_u64(&mut b, pp.payload(), start - PAGE);
    fix_trailer(&mut b);
    raw.push((
        format!("PREVPAGES at offset {} moved to {:#x}, a page below its VMA (at offset {})", pp.offset, start - PAGE, vma.offset),
        b,
        "PREVPAGES",
        true,
    ));
    // Its first page copied by no ROUND of its src: every PAGES run of a
    // section of src holding it removed. The format cannot tell (the
    // validator keeps no index of the pages); the restart must refuse it.
    let mut drop = Vec::new();
    let mut cur_src = 0;
    for r in sections {
        match r.kind {
            img::RECORD_ROUND => cur_src = get_u32(good, r.payload() + 4),
            img::RECORD_PAGES if cur_src == src => {
                let (a, n) = (get_u64(good, r.payload()), get_u64(good, r.payload() + 8));
                if a <= addr && addr < a + n * PAGE {
                    drop.push(*r);
                }
            }
            _ => {}
        }
    }
    if !drop.is_empty() {
        raw.push((
            format!(
                "PREVPAGES at offset {} (src {src}): the page {addr:#x} copied by no ROUND of src {src} ({} PAGES record(s) removed)",
                pp.offset,
                drop.len()
            ),
            without(good, &drop),
            "PREVPAGES",
            false,
        ));
    }
    Ok(raw)
}

/// `b` with the variable field of record `r` (its length, a `u32`, at
/// payload offset `len_at`; its bytes from payload offset `data_at`, padded
/// to 8) replaced by `new`: record length, field length and trailer fixed.
fn replace_var_field(b: &[u8], r: Rec, len_at: usize, data_at: usize, new: &[u8]) -> Vec<u8> {
    let pad8 = |n: usize| n.div_ceil(8) * 8;
    let old = get_u32(b, r.payload() + len_at) as usize;
    let start = r.payload() + data_at;
    let mut out = b[..start].to_vec();
    out.extend_from_slice(new);
    out.resize(start + pad8(new.len()), 0);
    out.extend_from_slice(&b[start + pad8(old)..]);
    out[r.payload() + len_at..r.payload() + len_at + 4].copy_from_slice(&(new.len() as u32).to_le_bytes());
    let len = r.len - pad8(old) + pad8(new.len());
    put_u64(&mut out, r.offset + 8, len as u64);
    fix_trailer(&mut out);
    out
}

/// `b` with the path of VMA record `v` replaced by `path`, checksummed
/// again: every check but the checksum sees it.
pub fn with_vma_path(b: &[u8], v: Rec, path: &[u8]) -> Vec<u8> {
    replace_var_field(b, v, 36, img::VMA_FIXED_LEN, path)
}

/// `b` with the executable path of MM record `mm` replaced by `path`,
/// checksummed again.
pub fn with_exe_path(b: &[u8], mm: Rec, path: &[u8]) -> Vec<u8> {
    let auxv = get_u32(b, mm.payload() + 96) as usize;
    replace_var_field(b, mm, 100, 104 + 16 * auxv, path)
}

/// The VMA records of `b` that map a file (kinds 2 and 3).
pub fn file_vmas(b: &[u8]) -> Result<Vec<Rec>, String> {
    Ok(records(b)?
        .into_iter()
        .filter(|r| r.kind == img::RECORD_VMA && matches!(get_u32(b, r.payload() + 32), 2 | 3))
        .collect())
}

/// The variants of `good` (a valid image of a single process).
/// `missing_xcr0_bit` is an XCR0 feature bit the CPU that will restart
/// them does not have.
pub fn variants(good: &[u8], missing_xcr0_bit: u32) -> Result<Vec<Variant>, String> {
    img::validate(good).map_err(|e| format!("the original image is refused by the image crate: {e}"))?;
    let recs = records(good)?;
    let first = |kind: u32| {
        recs.iter()
            .copied()
            .find(|r| r.kind == kind)
            .ok_or(format!("the image has no {} record", img::record_name(kind)))
    };
    let mut raw: Vec<RawVariant> = Vec::new();

    for kind in [
        img::RECORD_TREE,
        img::RECORD_TASK,
        img::RECORD_REGS,
        img::RECORD_FPU,
        img::RECORD_MM,
        img::RECORD_VMA,
        img::RECORD_PAGES,
        img::RECORD_TRAILER,
        img::RECORD_CREDS,
        img::RECORD_SIGNALS,
        img::RECORD_PROCESS,
        img::RECORD_ROUND,
        img::RECORD_PREVPAGES,
    ] {
        // An image older than 1.5 has no CREDS, SIGNALS or PROCESS, one
        // that is not live no ROUND or PREVPAGES.
        let optional = matches!(
            kind,
            img::RECORD_CREDS | img::RECORD_SIGNALS | img::RECORD_PROCESS | img::RECORD_ROUND | img::RECORD_PREVPAGES
        );
        let r = match first(kind) {
            Ok(r) => r,
            Err(_) if optional => continue,
            Err(e) => return Err(e),
        };
        let cut = r.payload() + r.len / 2;
        raw.push((
            format!("cut in the middle of the first {} record (at {cut} of {})", img::record_name(kind), good.len()),
            good[..cut].to_vec(),
            img::record_name(kind),
            true,
        ));
    }

    let mm = first(img::RECORD_MM)?;
    let mut b = good.to_vec();
    put_u64(&mut b, mm.offset + 8, !7u64);
    raw.push(("MM record length 0xffff_ffff_ffff_fff8".into(), b, "MM", true));

    // VMAs of the first MM: the VMA records between it and the next MM.
    let vmas: Vec<Rec> = recs
        .iter()
        .skip_while(|r| r.offset <= mm.offset)
        .take_while(|r| r.kind != img::RECORD_MM && r.kind != img::RECORD_TRAILER)
        .filter(|r| r.kind == img::RECORD_VMA)
        .copied()
        .collect();
    if vmas.len() < 2 {
        return Err(format!("the first MM has {} VMAs, want at least 2", vmas.len()));
    }
    let (a, v) = (vmas[0], vmas[1]);
    let a_end = get_u64(good, a.payload() + 8);
    let mut b = good.to_vec();
    put_u64(&mut b, v.payload(), a_end - PAGE);
    fix_trailer(&mut b);
    raw.push((format!("VMA at offset {} starts a page below the end of the one before", v.offset), b, "VMA", true));

    let last = *vmas.last().unwrap();
    let mut b = good.to_vec();
    put_u64(&mut b, last.payload(), 0xffff_ffff_ff60_0000);
    put_u64(&mut b, last.payload() + 8, 0xffff_ffff_ff60_1000);
    fix_trailer(&mut b);
    raw.push((format!("VMA at offset {} moved to 0xffffffffff600000 (kernel space)", last.offset), b, "VMA", true));

    let mut b = good.to_vec();
    b[0] ^= 0xff;
    fix_trailer(&mut b);
    raw.push(("wrong magic".into(), b, "header", true));

    let mut b = good.to_vec();
    b[8..10].copy_from_slice(&(img::VERSION_MAJOR + 1).to_le_bytes());
    fix_trailer(&mut b);
    raw.push((format!("major version {}", img::VERSION_MAJOR + 1), b, "header", true));

    let mut b = good.to_vec();
    b[16..20].copy_from_slice(&183u32.to_le_bytes()); // EM_AARCH64
    fix_trailer(&mut b);
    raw.push(("architecture 183 (aarch64)".into(), b, "header", true));

    let mut b = good.to_vec();
    let xcr0 = get_u64(good, 24) | 1u64 << missing_xcr0_bit;
    put_u64(&mut b, 24, xcr0);
    fix_trailer(&mut b);
    raw.push((format!("XCR0 {xcr0:#x}: feature bit {missing_xcr0_bit}, which this CPU lacks"), b, "header", false));

    let mut b = good.to_vec();
    let other = b"0.0.1-not-this-kernel";
    b[40..40 + img::KERNEL_RELEASE_LEN].fill(0);
    b[40..40 + other.len()].copy_from_slice(other);
    fix_trailer(&mut b);
    raw.push(("another kernel release (0.0.1-not-this-kernel)".into(), b, "header", false));

    let pages = first(img::RECORD_PAGES)?;
    let mut b = good.to_vec();
    b[pages.payload() + img::PAGES_FIXED_LEN] ^= 0x01;
    raw.push((format!("one bit of the first page (offset {}) flipped, CRC not fixed", pages.payload() + 16), b, "TRAILER", true));

    raw.extend(live_variants(good, &recs)?);

    let mut out = Vec::new();
    for (name, data, record, lib_refuses) in raw {
        let lib_error = img::validate(&data).err();
        match (&lib_error, lib_refuses) {
            (Some(e), true) if img::record_name(e.record) == record => {}
            (None, false) => {}
            (Some(e), _) => return Err(format!("test bug: '{name}': the image crate says '{e}', not a {record} error")),
            (None, _) => return Err(format!("test bug: '{name}': the image crate accepts it")),
        }
        out.push(Variant { name, data, record, lib_error });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_replaced_stay_valid() {
        let mut buf = vec![0u8; 1 << 20];
        let n = img::sample::build(&mut buf).unwrap();
        let good = &buf[..n];
        let vmas = file_vmas(good).unwrap();
        assert!(!vmas.is_empty());
        for path in [&b"/x"[..], b"/a/much/longer/path/than/before/to/grow/the/record", b"/dev/ptmx"] {
            let b = with_vma_path(good, vmas[0], path);
            img::validate(&b).unwrap();
            let r = records(&b).unwrap().into_iter().find(|r| r.offset == vmas[0].offset).unwrap();
            let len = get_u32(&b, r.payload() + 36) as usize;
            assert_eq!(&b[r.payload() + 40..r.payload() + 40 + len], path);
            let mm = records(&b).unwrap().into_iter().find(|r| r.kind == img::RECORD_MM).unwrap();
            let b2 = with_exe_path(&b, mm, path);
            img::validate(&b2).unwrap();
        }
    }

    /// The sample image (4 tasks, 2 MMs, version 1.5) gives every variant, each refused
    /// by the library with the record aimed at, and the streaming validator
    /// (the kernel's way) agrees on the error.
    #[test]
    fn variants_of_the_sample() {
        let mut buf = vec![0u8; img::sample::SAMPLE_MAX_LEN];
        let n = img::sample::build(&mut buf).unwrap();
        buf.truncate(n);
        let vs = variants(&buf, 17).unwrap();
        assert_eq!(vs.len(), 20);
        for v in &vs {
            let streaming = img::sample::validate_streaming(&v.data, 4096).err();
            assert_eq!(streaming, v.lib_error, "{}", v.name);
            if let Some(e) = &v.lib_error {
                assert!(e.to_string().starts_with(&v.expected_text()), "{}: {e}", v.name);
                eprintln!("{}: {e}", v.name);
            }
        }
    }

    /// The live sample (1.6) gives the variants of every image and the live
    /// ones; the one whose page no ROUND copied passes the format.
    #[test]
    fn variants_of_the_live_sample() {
        let mut buf = vec![0u8; img::sample::SAMPLE_MAX_LEN];
        let n = img::sample::build_live(&mut buf).unwrap();
        buf.truncate(n);
        let vs = variants(&buf, 17).unwrap();
        // 20 as the 1.5 sample, 2 cuts (ROUND, PREVPAGES), 5 live ones.
        assert_eq!(vs.len(), 27);
        for v in &vs {
            let streaming = img::sample::validate_streaming(&v.data, 4096).err();
            assert_eq!(streaming, v.lib_error, "{}", v.name);
            if let Some(e) = &v.lib_error {
                assert!(e.to_string().starts_with(&v.expected_text()), "{}: {e}", v.name);
                eprintln!("{}: {e}", v.name);
            }
        }
        let kinds: Vec<_> = vs.iter().filter_map(|v| v.lib_error.map(|e| e.kind)).collect();
        use img::ErrorKind as K;
        assert!(kinds.iter().any(|k| matches!(k, K::RoundNotAscending { .. })));
        assert!(kinds.iter().any(|k| matches!(k, K::PrevPagesUnknownSrc { src: 3 })));
        assert!(kinds.iter().any(|k| matches!(k, K::PrevPagesOutsideVma { addr: 0x3f_f000, .. })));
        let cut = vs.iter().find(|v| v.name.starts_with("cut in the page data")).unwrap();
        assert!(matches!(cut.lib_error.unwrap().kind, K::TruncatedRecord { .. }));
        // The uncopied page: valid for the format, and no round PAGES of
        // src 1 holds 0x401000 any more.
        let v = vs.iter().find(|v| v.lib_error.is_none() && v.record == "PREVPAGES").unwrap();
        let s = img::validate(&v.data).unwrap();
        assert_eq!(s.round_runs, 5);
        assert_eq!(v.expected_text(), "PREVPAGES");
        let pages: Vec<(u32, u64, u64)> = {
            let mut src = 0;
            let mut out = Vec::new();
            for it in img::Reader::new(&v.data).unwrap() {
                match it.unwrap().record {
                    img::Record::Round(r) => src = r.src,
                    img::Record::Pages(p) if src != 0 => out.push((src, p.addr, p.nr_pages)),
                    img::Record::Tree(_) => src = 0,
                    _ => {}
                }
            }
            out
        };
        assert!(!pages.iter().any(|&(s, a, n)| s == 1 && a <= 0x40_1000 && 0x40_1000 < a + n * PAGE), "{pages:x?}");
    }
}
