// SPDX-License-Identifier: GPL-2.0
//! The image stream, read side: the caller's image fd ([`InFile`]: which
//! fds are acceptable, where the image starts) read in large pieces, every byte fed to the shared streaming validator
//! ([`crate::image::Validator`]), each record handed to a [`Visitor`] once
//! the validator has accepted it. Page data comes in pieces, never more
//! than the buffer holds. The restart code walks an image twice: once to
//! check all of it before anything changes, once to restore.
//!
//! Failures carry a message that names the record and its byte offset;
//! the restart operation returns it to the caller.

use kernel::error::code;
use kernel::prelude::*;

use kernel::types::ARef;

use crate::error::{fail, image_fail, Fail};
use crate::file::{ff, File, LocalFile};
use crate::image::{self, Expect, FileHeader, Record, Summary, Tree, Validator};

/// The image: a referenced, readable, seekable file, and where it starts.
pub(crate) struct InFile {
    f: ARef<File>,
    base: u64,
}

impl InFile {
    /// Takes fd `fd` of the caller to read the image twice: a regular file
    /// (a memfd is one) open for reading at any offset; a pipe or socket
    /// cannot be read twice (the tool copies those into a memfd).
    ///
    /// # Errors
    /// `EBADF` unless open for reading (or if it is `/dev/cptrst`); `ESPIPE`
    /// unless a regular file readable at any offset.
    pub(crate) fn get(fd: i32) -> Result<InFile> {
        let f = LocalFile::fget(fd)?;
        let facts = f.facts();
        if !facts.has(ff::READ) || facts.has(ff::CPTRST_DEV) {
            return Err(code::EBADF);
        }
        if !facts.is_reg() || !facts.has(ff::PREAD | ff::CAN_READ) || facts.has(ff::STREAM) {
            return Err(code::ESPIPE);
        }
        // SAFETY: the restart ioctl holds no fdget_pos of any fd.
        let f = unsafe { LocalFile::assume_no_fdget_pos(f) };
        Ok(InFile { f, base: facts.pos })
    }

    /// Reads up to `buf.len()` bytes at image offset `off`; fewer only at
    /// the end of the file.
    ///
    /// # Errors
    /// `EINTR` on a fatal signal, I/O errors.
    pub(crate) fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize> {
        self.f
            .read_at(self.base.checked_add(off).ok_or(code::EFBIG)?, buf)
    }

    /// Extends the raw CRC32C state `crc` over `len` bytes at image offset
    /// `off`, in place if it can ([`crate::crc::file_range`]); `None` if
    /// it could not (then read the bytes instead).
    ///
    /// # Errors
    /// `EINTR` on a fatal signal.
    pub(crate) fn crc_in_place(&self, off: u64, len: usize, crc: u32) -> Result<Option<u32>> {
        crate::crc::file_range(
            &self.f,
            self.base.checked_add(off).ok_or(code::EFBIG)?,
            len,
            crc,
        )
    }

    /// Reads exactly `len` bytes at image offset `off` straight into the
    /// current task's memory at `addr`.
    ///
    /// # Errors
    /// `EINTR` on a fatal signal, `EFAULT` for a bad destination,
    /// `ENODATA` if the image ends first, I/O errors.
    pub(crate) fn read_to_user(&self, off: u64, addr: u64, len: usize) -> Result {
        self.f
            .read_to_user(self.base.checked_add(off).ok_or(code::EFBIG)?, addr, len)
    }
}

/// Size of the read buffer: it holds any payload the validator hands over
/// whole (the largest, a full FDS record, is just over 1 MiB).
const BUF_LEN: usize = 2 << 20;
const _: () = assert!(BUF_LEN >= image::MAX_META_PAYLOAD);

/// At most this much page data is checksummed in place at once.
const IN_PLACE_MAX: u64 = 64 << 20;

/// Page data shorter than this goes through the buffer even when it could
/// be checksummed in place.
const IN_PLACE_MIN: u64 = 64 << 10;

/// What a walk hands over, in image order.
pub(crate) trait Visitor {
    /// The file header.
    fn header(&mut self, h: &FileHeader) -> Result<(), Fail>;
    /// The TREE record (at its offset).
    fn tree(&mut self, off: u64, t: &Tree<'_>) -> Result<(), Fail>;
    /// Any other record, at its offset (a PAGES record without its data):
    /// a live image's ROUND sections before the TREE, the rest after it.
    fn record(&mut self, off: u64, r: &Record<'_>) -> Result<(), Fail>;
    /// The next piece of the current PAGES record's data.
    fn data(&mut self, off: u64, bytes: &[u8]) -> Result<(), Fail>;
    /// Whether [`data`](Self::data) needs the bytes: if not, the walk may
    /// checksum page data in place instead of reading it.
    fn wants_page_data(&self) -> bool {
        true
    }
}

/// A buffered reader of the image.
struct BufIn<'f> {
    file: &'f InFile,
    /// Image offset of `buf[0]`.
    base: u64,
    buf: KVVec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl<'f> BufIn<'f> {
    fn new(file: &'f InFile) -> Result<Self, Fail> {
        let buf = KVVec::from_elem(0u8, BUF_LEN, GFP_KERNEL)?;
        Ok(BufIn {
            file,
            base: 0,
            buf,
            start: 0,
            end: 0,
            eof: false,
        })
    }

    /// Makes at least `need` bytes available unless the file ends first.
    fn fill(&mut self, need: usize) -> Result<(), Fail> {
        if self.end - self.start >= need || self.eof {
            return Ok(());
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        while self.end < need.min(BUF_LEN) && !self.eof {
            let off = self.base + self.end as u64;
            let dst = self.buf.get_mut(self.end..).unwrap_or(&mut []);
            let n = self.file.read_at(off, dst).map_err(|e| {
                fail!(
                    e,
                    "reading the image at offset {}: error {}",
                    off,
                    e.to_errno()
                )
            })?;
            if n == 0 {
                self.eof = true;
            }
            self.end += n;
        }
        Ok(())
    }

    /// Whether nothing read is left in the buffer.
    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Skips `n` bytes the caller consumed without reading (the buffer
    /// must be empty).
    fn skip(&mut self, n: u64) {
        self.base += self.end as u64 + n;
        self.start = 0;
        self.end = 0;
    }

    /// The image offset of the next byte.
    fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Up to `n` bytes (fewer only at the end of the file or past the
    /// buffer's size when `partial`).
    fn take(&mut self, n: u64, partial: bool) -> Result<&[u8], Fail> {
        let want = usize::try_from(n).unwrap_or(usize::MAX).min(BUF_LEN);
        if partial {
            if self.start == self.end {
                self.fill(want)?;
            }
        } else {
            self.fill(want)?;
        }
        let avail = (self.end - self.start).min(want);
        let s = self.start;
        self.start += avail;
        Ok(self.buf.get(s..s + avail).unwrap_or(&[]))
    }
}

/// Walks the whole image of `file` through the validator, handing each
/// accepted piece to `v`. Returns the validator's summary: only then is the
/// image known to be whole (trailer, counts, CRC32C).
pub(crate) fn walk(file: &InFile, v: &mut dyn Visitor) -> Result<Summary, Fail> {
    let mut input = BufIn::new(file)?;
    let mut val = Validator::new();
    if let Some(imp) = crate::crc::crc_impl() {
        val.set_crc_impl(imp);
    }
    let h = {
        let b = input.take(image::HEADER_LEN as u64, false)?;
        val.feed_header(b).map_err(image_fail)?
    };
    v.header(&h)?;
    // Up to the TREE: record headers, skipped unknown records, and a live
    // image's ROUND sections (ROUND and PAGES records, 1.6).
    let tree_len = loop {
        match val.expect() {
            Expect::Tree(n) => break n,
            Expect::Failed(e) => return Err(image_fail(e)),
            Expect::Payload(n) => payload(&mut input, &mut val, v, n)?,
            e => {
                if let Some(end) = common_step(&mut input, &mut val, e, &mut *v)? {
                    return end;
                }
            }
        }
    };
    // The TREE payload must outlive the validator: its own buffer.
    let len = usize::try_from(tree_len).map_err(|_| fail!(code::EINVAL, "TREE: too long"))?;
    let mut tree_buf = KVVec::from_elem(0u8, len, GFP_KERNEL)?;
    let got = {
        let b = input.take(tree_len, false)?;
        let n = b.len().min(len);
        tree_buf[..n].copy_from_slice(&b[..n]);
        n
    };
    let tree = val.feed_tree(&tree_buf[..got]).map_err(image_fail)?;
    let (_, off) = val.current();
    v.tree(off, &tree)?;
    records(&mut input, &mut val, v)
}

/// The next record's payload (`n` bytes), validated, to the visitor.
fn payload(
    input: &mut BufIn<'_>,
    val: &mut Validator<'_>,
    v: &mut dyn Visitor,
    n: u64,
) -> Result<(), Fail> {
    let b = input.take(n, false)?;
    let rec = val.feed_payload(b).map_err(image_fail)?;
    let (_, off) = val.current();
    v.record(off, &rec)
}

/// The records after the TREE, to the end of the image.
fn records(
    input: &mut BufIn<'_>,
    val: &mut Validator<'_>,
    v: &mut dyn Visitor,
) -> Result<Summary, Fail> {
    loop {
        match val.expect() {
            Expect::Payload(n) => payload(input, val, v, n)?,
            Expect::End => {
                // Nothing may follow the trailer.
                let b = input.take(image::RECORD_HEADER_LEN as u64, false)?;
                if !b.is_empty() {
                    val.feed_record_header(b).map_err(image_fail)?;
                }
                return val.end_of_input().map_err(image_fail);
            }
            Expect::Failed(e) => return Err(image_fail(e)),
            Expect::Header | Expect::Tree(_) => {
                return Err(fail!(code::EINVAL, "image: a second TREE record"));
            }
            e => {
                if let Some(end) = common_step(input, val, e, &mut *v)? {
                    return end;
                }
            }
        }
    }
}

/// Checksums the next `n` bytes of page data where they are (at most
/// [`IN_PLACE_MAX`]), if the image file allows: true if it did (they are
/// skipped), false to read them through the buffer instead.
fn crc_in_place(input: &mut BufIn<'_>, val: &mut Validator<'_>, n: u64) -> Result<bool, Fail> {
    let len = n.min(IN_PLACE_MAX);
    let off = input.offset();
    let mut res = Ok(());
    let done = val
        .feed_data_crc(len, |st| {
            match input.file.crc_in_place(off, len as usize, st) {
                Ok(c) => c,
                Err(e) => {
                    res = Err(e);
                    None
                }
            }
        })
        .map_err(image_fail)?;
    res.map_err(|e| {
        fail!(
            e,
            "reading the image at offset {}: error {}",
            off,
            e.to_errno()
        )
    })?;
    if done {
        input.skip(len);
    }
    Ok(done)
}

/// The steps both loops of [`walk`] take: a record header, or a piece of
/// data (page data goes to the visitor). `Some` when the input ended (the
/// validator then says whether that was the right place).
fn common_step(
    input: &mut BufIn<'_>,
    val: &mut Validator<'_>,
    e: Expect,
    v: &mut dyn Visitor,
) -> Result<Option<Result<Summary, Fail>>, Fail> {
    let (n, partial) = match e {
        Expect::RecordHeader => (image::RECORD_HEADER_LEN as u64, false),
        Expect::Data(n) => (n, true),
        _ => return Err(fail!(code::EINVAL, "image: a record out of place")),
    };
    // Page data that only needs its checksum: in place, if the image file
    // allows (no copy through the buffer).
    if partial
        && input.is_empty()
        && !v.wants_page_data()
        && n >= IN_PLACE_MIN
        && val.current().0.kind == image::RECORD_PAGES
    {
        if crc_in_place(input, val, n)? {
            return Ok(None);
        }
    }
    let b = input.take(n, partial)?;
    if b.is_empty() {
        return Ok(Some(val.end_of_input().map_err(image_fail)));
    }
    if partial {
        val.feed_data(b).map_err(image_fail)?;
        let (h, off) = val.current();
        if h.kind == image::RECORD_PAGES {
            v.data(off, b)?;
        }
    } else {
        val.feed_record_header(b).map_err(image_fail)?;
    }
    Ok(None)
}
