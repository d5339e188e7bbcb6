// SPDX-License-Identifier: GPL-2.0
//! A live checkpoint's records (version 1.6): [`Round`] (the start of a
//! round section: pages of one address space copied while the tree ran)
//! and [`PrevPages`] (pages of a VMA whose content is their latest copy in
//! the round sections of a source).

use super::super::consts::*;
use super::super::error::ErrorKind;
use super::super::header::FileHeader;
use super::super::wire::{to_u64, Rd, Wr};
#[cfg(doc)]
use super::super::{Pages, Validator};

/// The ROUND record (version 1.6): starts a round section. The [`Pages`]
/// records after it, up to the next ROUND or the TREE, are pages of the
/// address space `src` copied during round `round`, while the tree ran
/// (absolute addresses, sorted, not overlapping; no VMA context). Along the
/// stream `(round, src)` strictly increases (the [`Validator`] checks it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Round {
    /// The round, from 1.
    pub round: u32,
    /// The source (one address space of the tree), 1..=[`MAX_LIVE_SRCS`],
    /// the same in every round.
    pub src: u32,
    /// The pid of the source's process in the tree's pid namespace
    /// (informational), 1..=[`PID_MAX_LIMIT`].
    pub pid: u32,
}

impl Round {
    /// Checks the fields.
    fn check(&self) -> Result<(), ErrorKind> {
        if self.round == 0 {
            return Err(ErrorKind::RoundBadNumber { round: self.round });
        }
        if self.src == 0 || self.src > MAX_LIVE_SRCS {
            return Err(ErrorKind::RoundBadSrc { src: self.src });
        }
        if self.pid == 0 || self.pid > PID_MAX_LIMIT {
            return Err(ErrorKind::RoundBadPid { pid: self.pid });
        }
        Ok(())
    }

    pub(super) fn decode(p: &[u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let (Some(round), Some(src), Some(pid), Some(reserved)) =
            (r.u32(), r.u32(), r.u32(), r.u32())
        else {
            return Err(ErrorKind::BadPayloadLength {
                len: to_u64(p.len()),
                expected: ROUND_PAYLOAD_LEN as u64,
            });
        };
        if reserved != 0 {
            return Err(ErrorKind::RoundReserved);
        }
        let rd = Self { round, src, pid };
        rd.check()?;
        Ok(rd)
    }

    /// Writes the payload; `None` if a field is out of range or `w` too
    /// short.
    pub(in super::super) fn encode_body(&self, w: &mut Wr<'_>) -> Option<()> {
        self.check().ok()?;
        w.u32(self.round)?;
        w.u32(self.src)?;
        w.u32(self.pid)?;
        w.u32(0)
    }
}

/// The PREVPAGES record (version 1.6): `nr_pages` pages at `addr`, inside
/// the current VMA, among its [`Pages`] records (sorted by address with
/// them, not overlapping them), carrying no data: each page's content is
/// its latest copy (highest round) in the ROUND sections of `src`. Only in
/// a VMA of kind AnonPrivate, FilePrivate, Stack or Heap; every PREVPAGES
/// of one MM group has the same `src`, one that has a ROUND section earlier
/// in the stream (the [`Validator`] checks it; that a ROUND of `src` copied
/// every page is the restart's check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrevPages {
    /// Address of the first page (a multiple of the page size).
    pub addr: u64,
    /// Number of pages, 1..=[`MAX_PAGES_PER_RUN`].
    pub nr_pages: u64,
    /// The source whose round sections hold the pages,
    /// 1..=[`MAX_LIVE_SRCS`].
    pub src: u32,
}

impl PrevPages {
    /// First address past the run (`None` if it overflows).
    pub fn end(&self, page_size: u32) -> Option<u64> {
        self.addr
            .checked_add(self.nr_pages.checked_mul(u64::from(page_size))?)
    }

    /// Checks the fields against the file header.
    fn check(&self, h: &FileHeader) -> Result<(), ErrorKind> {
        if self.nr_pages == 0 || self.nr_pages > MAX_PAGES_PER_RUN {
            return Err(ErrorKind::PrevPagesBadCount {
                nr_pages: self.nr_pages,
            });
        }
        if self.addr.checked_rem(u64::from(h.page_size)) != Some(0) {
            return Err(ErrorKind::PrevPagesUnaligned { addr: self.addr });
        }
        let end = self.end(h.page_size).filter(|&e| e <= h.user_space_end());
        if end.is_none() {
            return Err(ErrorKind::PrevPagesInKernelSpace { addr: self.addr });
        }
        if self.src == 0 || self.src > MAX_LIVE_SRCS {
            return Err(ErrorKind::PrevPagesBadSrc { src: self.src });
        }
        Ok(())
    }

    pub(super) fn decode(p: &[u8], h: &FileHeader) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let (Some(addr), Some(nr_pages), Some(src), Some(reserved)) =
            (r.u64(), r.u64(), r.u32(), r.u32())
        else {
            return Err(ErrorKind::BadPayloadLength {
                len: to_u64(p.len()),
                expected: PREVPAGES_PAYLOAD_LEN as u64,
            });
        };
        if reserved != 0 {
            return Err(ErrorKind::PrevPagesReserved);
        }
        let pp = Self {
            addr,
            nr_pages,
            src,
        };
        pp.check(h)?;
        Ok(pp)
    }

    /// Writes the payload; `None` if a field is out of range for `h` or
    /// `w` too short.
    pub(in super::super) fn encode_body(&self, h: &FileHeader, w: &mut Wr<'_>) -> Option<()> {
        self.check(h).ok()?;
        w.u64(self.addr)?;
        w.u64(self.nr_pages)?;
        w.u32(self.src)?;
        w.u32(0)
    }
}
