// SPDX-License-Identifier: GPL-2.0
//! The image stream, write side: the caller's image fd ([`OutFile`]:
//! which fds are acceptable, the write position), and records encoded by
//! the shared format code ([`crate::image::Encoder`]) into one buffer,
//! written to it in large writes. A live checkpoint's calls each resume
//! the stream where the previous one left it ([`ImageOut::resume`],
//! [`StreamState`]): the caller carries the state between them.
//!
//! # Invariants
//! `buf[..len]` holds encoded bytes not yet written; `buf.len()` is
//! [`BUF_LEN`] for the writer's whole life.

use kernel::error::code;
use kernel::prelude::*;

use kernel::types::ARef;

use crate::crc::{self, PagesJob};
use crate::file::{ff, File, LocalFile};
use crate::image::{self, EncodeError, Encoder, FileHeader};
use crate::mm::PinnedPages;

/// The caller's image fd, referenced, with our write position.
pub(crate) struct OutFile {
    f: ARef<File>,
    pos: u64,
    stream: bool,
}

impl OutFile {
    /// Takes fd `fd` of the caller for writing the image: any file open
    /// for writing that the kernel can write (a regular file, a pipe, a
    /// socket...), not one without `->write_iter` (`/proc/PID/mem` and the
    /// like) and not `/dev/cptrst` itself.
    ///
    /// # Errors
    /// `EBADF` if not an fd open for writing (`/proc/self/maps`, which can
    /// only be opened read-only); `EINVAL` if the kernel cannot write it.
    pub(crate) fn get(fd: i32) -> Result<OutFile> {
        let f = LocalFile::fget(fd)?;
        let facts = f.facts();
        if !facts.has(ff::WRITE) {
            return Err(code::EBADF);
        }
        if !facts.has(ff::WRITE_ITER) || facts.has(ff::CPTRST_DEV) {
            return Err(code::EINVAL);
        }
        let stream = facts.has(ff::STREAM);
        // SAFETY: the checkpoint ioctl holds no fdget_pos of any fd.
        let f = unsafe { LocalFile::assume_no_fdget_pos(f) };
        Ok(OutFile {
            f,
            pos: if stream { 0 } else { facts.pos },
            stream,
        })
    }

    /// The file.
    pub(crate) fn file(&self) -> &LocalFile {
        &self.f
    }

    /// Writes all of `buf`.
    ///
    /// # Errors
    /// `EINTR` on a signal, `EPIPE`, `ENOSPC`, `EIO` and the like.
    pub(crate) fn write(&mut self, buf: &[u8]) -> Result {
        self.f.write_all(buf, &mut self.pos)
    }

    /// Writes pages `i..j` of `pins` straight from the pages.
    pub(crate) fn write_pages(&mut self, pins: &PinnedPages, i: usize, j: usize) -> Result {
        self.f.write_pages(pins.range(i, j)?, &mut self.pos)
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        // The caller's file position moves past what was written, as for
        // write(2); a stream has none.
        if !self.stream {
            self.f.set_pos(self.pos);
        }
    }
}

/// Size of the output buffer: page runs go out in writes of this size.
pub(crate) const BUF_LEN: usize = 1 << 20;

/// Most pages of one run that fit in the buffer with its record header.
pub(crate) const RUN_PAGES: usize = (BUF_LEN - 64) / kernel::page::PAGE_SIZE;

/// Most bytes of one [`ImageOut::data_chunk`]: an FDATA record fits in
/// the buffer with its header.
pub(crate) const FDATA_CHUNK_MAX: usize = {
    let n = (BUF_LEN - 64) & !7;
    if n < image::FDATA_MAX_CHUNK {
        n
    } else {
        image::FDATA_MAX_CHUNK
    }
};

/// Maps an encoder error: the dump code sized everything, so any is a bug
/// or a limit of the format (too many VMAs, a path too long...).
pub(crate) fn enc_err(e: EncodeError) -> Error {
    pr_warn!("cptrst: checkpoint: image encoding refused: {:?}\n", e);
    code::EINVAL
}

/// Where a stream stands after a call, and what the call wrote.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StreamState {
    /// Bytes of the stream written so far (by every call).
    pub(crate) offset: u64,
    /// Records written so far.
    pub(crate) records: u64,
    /// The raw CRC32C state of everything written so far.
    pub(crate) crc: u32,
    /// Pages this call wrote in PAGES records.
    pub(crate) pages: u64,
    /// Pages this call referenced with PREVPAGES records.
    pub(crate) prev_pages: u64,
}

/// The output side of a checkpoint.
pub(crate) struct ImageOut {
    file: OutFile,
    enc: Encoder,
    buf: KVVec<u8>,
    len: usize,
    pages: u64,
    prev_pages: u64,
}

/// This machine's file header.
fn machine_header() -> Result<FileHeader> {
    let xstate = crate::machine::xstate_size();
    Ok(FileHeader::new(
        crate::machine::xfeatures(),
        u32::try_from(xstate).map_err(|_| code::EINVAL)?,
        &crate::machine::kernel_release(),
    ))
}

impl ImageOut {
    /// A writer of an image with this machine's header to `file`.
    pub(crate) fn new(file: OutFile) -> Result<ImageOut> {
        Self::with(file, Encoder::new(machine_header()?))
    }

    /// A writer that continues a stream of this machine's header at
    /// `offset` bytes, `records` records and raw CRC32C state `crc` (as
    /// [`ImageOut::end`] left them); at offset 0, a new stream (the file
    /// header is still to be written).
    ///
    /// # Errors
    /// `EINVAL` if the state cannot be one a stream had (offset 0 with
    /// records, or not past a file header).
    pub(crate) fn resume(file: OutFile, offset: u64, records: u64, crc: u32) -> Result<ImageOut> {
        let header = machine_header()?;
        if offset == 0 {
            if records != 0 || crc != 0 {
                return Err(code::EINVAL);
            }
            return Self::with(file, Encoder::new(header));
        }
        if offset < image::HEADER_LEN as u64 || offset % 8 != 0 {
            return Err(code::EINVAL);
        }
        Self::with(file, Encoder::resume(header, offset, records, crc))
    }

    fn with(file: OutFile, mut enc: Encoder) -> Result<ImageOut> {
        let buf = KVVec::from_elem(0u8, BUF_LEN, GFP_KERNEL)?;
        if let Some(imp) = crc::crc_impl() {
            enc.set_crc_impl(imp);
        }
        // INVARIANT: the buffer is BUF_LEN long and empty.
        Ok(ImageOut {
            file,
            enc,
            buf,
            len: 0,
            pages: 0,
            prev_pages: 0,
        })
    }

    /// Whether nothing is written yet (the file header is next).
    pub(crate) fn at_start(&self) -> bool {
        self.enc.offset() == 0
    }

    /// The size of every FPU record's xstate.
    pub(crate) fn xstate_size(&self) -> usize {
        self.enc.file_header().xstate_size as usize
    }

    /// Writes out what the buffer holds.
    pub(crate) fn flush(&mut self) -> Result {
        if self.len > 0 {
            self.file.write(&self.buf[..self.len])?;
            self.len = 0;
        }
        Ok(())
    }

    /// Makes room for `n` more bytes in the buffer.
    fn room(&mut self, n: usize) -> Result {
        if n > BUF_LEN {
            return Err(code::EINVAL);
        }
        if BUF_LEN - self.len < n {
            self.flush()?;
        }
        Ok(())
    }

    /// Encodes one piece with `f`, which needs at most `max` bytes.
    pub(crate) fn put(
        &mut self,
        max: usize,
        f: impl FnOnce(&mut Encoder, &mut [u8]) -> core::result::Result<usize, EncodeError>,
    ) -> Result {
        // Borrow the encoder and the buffer's free part separately.
        self.room(max)?;
        let free = &mut self.buf[self.len..];
        let n = f(&mut self.enc, free).map_err(enc_err)?;
        self.len += n;
        Ok(())
    }

    /// Writes the file header.
    pub(crate) fn header(&mut self) -> Result {
        self.put(image::HEADER_LEN, |e, b| e.header(b))
    }

    /// Starts a PAGES record of `nr` pages at `addr`; then call
    /// [`ImageOut::page`] `nr` times. `nr` is at most [`RUN_PAGES`].
    pub(crate) fn pages_begin(&mut self, addr: u64, nr: usize) -> Result {
        if nr == 0 || nr > RUN_PAGES {
            return Err(code::EINVAL);
        }
        // Header and all the data in one buffer: one write per run.
        let total = 64 + nr * kernel::page::PAGE_SIZE;
        self.room(total)?;
        self.put(64, |e, b| e.pages_begin(addr, nr as u64, b))?;
        self.pages += nr as u64;
        Ok(())
    }

    /// Writes the ROUND record that starts the section of source `src`
    /// (pid `pid` in the tree's namespace) in round `round`.
    pub(crate) fn round(&mut self, round: u32, src: u32, pid: u32) -> Result {
        let r = image::Round { round, src, pid };
        self.put(
            image::RECORD_HEADER_LEN + image::ROUND_PAYLOAD_LEN,
            |e, b| e.round(&r, b),
        )
    }

    /// Writes a PREVPAGES record: `nr` pages at `addr` whose content is
    /// their latest copy in the ROUND sections of `src`.
    pub(crate) fn prev_pages(&mut self, addr: u64, nr: u64, src: u32) -> Result {
        let p = image::PrevPages {
            addr,
            nr_pages: nr,
            src,
        };
        self.put(
            image::RECORD_HEADER_LEN + image::PREVPAGES_PAYLOAD_LEN,
            |e, b| e.prev_pages(&p, b),
        )?;
        self.prev_pages += nr;
        Ok(())
    }

    /// Appends one page of the open PAGES record; `fill` writes its bytes.
    pub(crate) fn page(&mut self, fill: impl FnOnce(&mut [u8]) -> Result) -> Result {
        let ps = kernel::page::PAGE_SIZE;
        self.room(ps)?;
        let dst = &mut self.buf[self.len..self.len + ps];
        fill(dst)?;
        self.enc.data(dst).map_err(enc_err)?;
        self.len += ps;
        Ok(())
    }

    /// Writes one FDATA record of `n` bytes (1..=[`FDATA_CHUNK_MAX`]) of
    /// the content of FILE `file` at `offset`: `fill` writes the bytes
    /// straight into the buffer, the zero padding follows.
    pub(crate) fn data_chunk(
        &mut self,
        file: u32,
        offset: u64,
        n: usize,
        fill: impl FnOnce(&mut [u8]) -> Result,
    ) -> Result {
        if n == 0 || n > FDATA_CHUNK_MAX {
            return Err(code::EINVAL);
        }
        let padded = (n + 7) & !7;
        self.room(64 + padded)?;
        self.put(64, |e, b| e.fdata_begin(file, offset, n, b))?;
        let dst = &mut self.buf[self.len..self.len + padded];
        let (data, pad) = dst.split_at_mut(n);
        fill(data)?;
        pad.fill(0);
        self.enc.data(data).map_err(enc_err)?;
        if !pad.is_empty() {
            self.enc.data(pad).map_err(enc_err)?;
        }
        self.len += padded;
        Ok(())
    }

    /// Writes a whole PAGES record of pages `i..j` of `pins`, which map
    /// consecutive addresses from `addr`: the header through the buffer,
    /// the data straight from the pages (no copy), its CRC computed in
    /// place (by a worker, at the same time, when it can).
    pub(crate) fn pages_pinned(
        &mut self,
        addr: u64,
        pins: &PinnedPages,
        i: usize,
        j: usize,
    ) -> Result {
        let nr = j.checked_sub(i).filter(|&n| n > 0).ok_or(code::EINVAL)?;
        self.put(64, |e, b| e.pages_begin(addr, nr as u64, b))?;
        self.pages += nr as u64;
        self.flush()?;
        // The CRC in a worker while this thread writes the same pages: the
        // two passes over the data overlap when a second CPU is idle.
        if let Some(job) = PagesJob::start(pins, i, j) {
            self.file.write_pages(pins, i, j)?;
            return self
                .enc
                .data_with_crc(nr * kernel::page::PAGE_SIZE, |st| job.finish(st))
                .map_err(enc_err);
        }
        let mut crc = Ok(0);
        self.enc
            .data_with_crc(nr * kernel::page::PAGE_SIZE, |st| {
                match crc::pages(pins, st, i, j) {
                    Ok(c) => c,
                    Err(e) => {
                        crc = Err(e);
                        st
                    }
                }
            })
            .map_err(enc_err)?;
        crc?;
        self.file.write_pages(pins, i, j)
    }

    /// Writes everything still buffered; where the stream stands then.
    pub(crate) fn end(mut self) -> Result<StreamState> {
        self.flush()?;
        Ok(StreamState {
            offset: self.enc.offset(),
            records: self.enc.records(),
            crc: self.enc.crc_state(),
            pages: self.pages,
            prev_pages: self.prev_pages,
        })
    }

    /// Writes the trailer and everything still buffered.
    pub(crate) fn finish(mut self) -> Result<StreamState> {
        self.put(image::TRAILER_RECORD_LEN, |e, b| e.trailer(b))?;
        self.end()
    }
}
