//! Shared pieces of the guest test programs: the known values the workloads
//! put in registers and memory, and how a workload tells it is ready.

/// Values the `regs` workload loads into the general registers, in the
/// order rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15.
pub const GPR_VALUES: [(&str, u64); 14] = [
    ("bx", 0x1111_2222_3333_4444),
    ("cx", 0x5555_6666_7777_8888),
    ("dx", 0x9999_aaaa_bbbb_cccc),
    ("si", 0xdddd_eeee_ffff_0001),
    ("di", 0x0123_4567_89ab_cdef),
    ("bp", 0xfedc_ba98_7654_3210),
    ("r8", 0x0808_0808_0808_0808),
    ("r9", 0x0909_0909_0909_0909),
    ("r10", 0x1010_1010_1010_1010),
    ("r11", 0x1111_1111_1111_1111),
    ("r12", 0x1212_1212_1212_1212),
    ("r13", 0x1313_1313_1313_1313),
    ("r14", 0x1414_1414_1414_1414),
    ("r15", 0x1515_1515_1515_1515),
];

/// The byte pattern of page `page` of a mapping tagged `tag`: every byte is
/// a function of tag, page and offset, so a misplaced page is caught.
pub fn pattern(tag: u8, page: usize, off: usize) -> u8 {
    (tag as usize * 31 + page * 7 + off * 13 + (off >> 8)) as u8
}

/// Fills `buf` (one page, page number `page` of mapping `tag`).
pub fn fill_page(buf: &mut [u8], tag: u8, page: usize) {
    for (off, b) in buf.iter_mut().enumerate() {
        *b = pattern(tag, page, off);
    }
}

/// The xmm register `i` value of the `fpu` workload (16 bytes).
pub fn xmm_value(i: usize) -> [u8; 16] {
    core::array::from_fn(|j| (0x40 + i * 16 + j) as u8)
}

/// The upper half of ymm register `i` of the `fpu` workload (16 bytes).
pub fn ymmh_value(i: usize) -> [u8; 16] {
    core::array::from_fn(|j| (0xa0u8).wrapping_add((i * 16 + j) as u8 ^ 0x5a))
}

/// The x87 values the `fpu` workload pushes, st(0) is the last one.
pub const X87_VALUES: [f64; 8] = [1.0, -2.5, 3.25, 1e10, -7.125, 0.5, 42.0, 6.0221e23];

pub mod corrupt;
pub mod mutate;
pub mod proc;
pub mod rst;
pub mod tap;
pub mod workload;

/// What the self-checking workloads (`counter-check`, `regs-check`,
/// `fpu-check`, `sleep-check`, `mem-check`, tests/progs/glibc-check.c)
/// store in their 32-bit `ready` word once their state is in place.
pub const READY_MAGIC: u32 = 0x600d_f00d;

/// The value `regs-check` puts in rax (the others are [`GPR_VALUES`]).
pub const RAX_VALUE: u64 = 0x0a0a_0a0a_0a0a_0a0a;

/// The MXCSR `fpu-check` loads (round toward zero, all exceptions masked).
pub const FPU_CHECK_MXCSR: u32 = 0x7f80;

/// The x87 control word `fpu-check` loads (round toward zero, extended
/// precision, all exceptions masked).
pub const FPU_CHECK_FCW: u16 = 0x0f7f;

/// Word `word` of page `page` of the `mem-check` mapping.
pub fn mem_check_word(page: usize, word: usize) -> u64 {
    ((page as u64) << 32 | word as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x6d65_6d2d_6368_6b21
}

/// The 80-bit x87 extended encoding (10 bytes, little endian) of a normal,
/// finite f64, as FXSAVE stores it.
pub fn f64_to_x87(v: f64) -> [u8; 10] {
    let bits = v.to_bits();
    let sign = (bits >> 63) as u16;
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1 << 52) - 1);
    let mut out = [0u8; 10];
    if exp == 0 && frac == 0 {
        out[9] = (sign << 7) as u8;
        return out;
    }
    let e80 = (exp - 1023 + 16383) as u16;
    let mant = ((1u64 << 52) | frac) << 11;
    out[..8].copy_from_slice(&mant.to_le_bytes());
    out[8..].copy_from_slice(&(e80 | (sign << 15)).to_le_bytes());
    out
}
