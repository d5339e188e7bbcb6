// SPDX-License-Identifier: GPL-2.0
//! The frame around the records: the [`FileHeader`] that opens an image,
//! the [`RecordHeader`] in front of every record, and the [`Trailer`] that
//! closes it (counts and CRC32C).

use super::consts::*;
use super::error::{EncodeError, Error, ErrorKind};
use super::wire::{all_zero, to_u64, Rd, Wr};
#[cfg(doc)]
use super::Validator;

/// The file header: the first [`HEADER_LEN`] bytes of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHeader {
    /// Major version ([`VERSION_MAJOR`]).
    pub major: u16,
    /// Minor version.
    pub minor: u16,
    /// Architecture ([`ARCH_X86_64`]).
    pub arch: u32,
    /// Page size of the checkpointed system.
    pub page_size: u32,
    /// XCR0 of the checkpointed CPU: the xstate features the FPU records may use.
    pub xcr0: u64,
    /// Size of every FPU record's xstate (user ABI XSAVE size).
    pub xstate_size: u32,
    /// Header flags (none defined: 0).
    pub flags: u32,
    /// `utsname()->release` of the checkpointing kernel, NUL-padded.
    pub kernel_release: [u8; KERNEL_RELEASE_LEN],
}

impl FileHeader {
    /// A version 1.0 x86_64 header; `release` is cut to 64 bytes.
    pub fn new(xcr0: u64, xstate_size: u32, release: &[u8]) -> Self {
        let mut kernel_release = [0u8; KERNEL_RELEASE_LEN];
        for (d, s) in kernel_release.iter_mut().zip(release) {
            *d = *s;
        }
        Self {
            major: VERSION_MAJOR,
            minor: VERSION_MINOR,
            arch: ARCH_X86_64,
            page_size: PAGE_SIZE_X86_64,
            xcr0,
            xstate_size,
            flags: 0,
            kernel_release,
        }
    }

    /// The kernel release, up to its first NUL.
    pub fn release(&self) -> &[u8] {
        let n = self
            .kernel_release
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(KERNEL_RELEASE_LEN);
        self.kernel_release.get(..n).unwrap_or(&[])
    }

    /// First address above user space: no VMA may end above it.
    pub fn user_space_end(&self) -> u64 {
        USER_SPACE_LIMIT.saturating_sub(u64::from(self.page_size))
    }

    /// Writes the header into `buf`; returns [`HEADER_LEN`].
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if buf.len() < HEADER_LEN {
            return Err(EncodeError::BufferTooSmall { needed: HEADER_LEN });
        }
        let mut w = Wr::new(buf);
        let ok = (|| {
            w.put(&MAGIC)?;
            w.u16(self.major)?;
            w.u16(self.minor)?;
            w.u32(HEADER_LEN as u32)?;
            w.u32(self.arch)?;
            w.u32(self.page_size)?;
            w.u64(self.xcr0)?;
            w.u32(self.xstate_size)?;
            w.u32(self.flags)?;
            w.put(&self.kernel_release)?;
            w.zeros(HEADER_LEN - 104)
        })();
        ok.map(|()| HEADER_LEN)
            .ok_or(EncodeError::BufferTooSmall { needed: HEADER_LEN })
    }

    /// Reads and checks a file header (offset 0 of an image).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        Self::decode_kind(bytes).map_err(|k| Error::new(0, 0, k))
    }

    fn decode_kind(bytes: &[u8]) -> Result<Self, ErrorKind> {
        use ErrorKind::*;
        let mut r = Rd::new(bytes.get(..HEADER_LEN).ok_or(TruncatedHeader)?);
        let magic: [u8; 8] = r.array().ok_or(TruncatedHeader)?;
        if magic != MAGIC {
            return Err(BadMagic);
        }
        let major = r.u16().ok_or(TruncatedHeader)?;
        let minor = r.u16().ok_or(TruncatedHeader)?;
        if major != VERSION_MAJOR {
            return Err(UnsupportedMajor { major });
        }
        let len = r.u32().ok_or(TruncatedHeader)?;
        if len as usize != HEADER_LEN {
            return Err(BadHeaderLength { len });
        }
        let arch = r.u32().ok_or(TruncatedHeader)?;
        if arch != ARCH_X86_64 {
            return Err(WrongArch { arch });
        }
        let page_size = r.u32().ok_or(TruncatedHeader)?;
        if page_size != PAGE_SIZE_X86_64 {
            return Err(BadPageSize { page_size });
        }
        let xcr0 = r.u64().ok_or(TruncatedHeader)?;
        if xcr0 & XCR0_REQUIRED != XCR0_REQUIRED {
            return Err(BadXcr0 { xcr0 });
        }
        let xstate_size = r.u32().ok_or(TruncatedHeader)?;
        if !(MIN_XSTATE_SIZE..=MAX_XSTATE_SIZE).contains(&xstate_size) {
            return Err(BadXstateSize { size: xstate_size });
        }
        let flags = r.u32().ok_or(TruncatedHeader)?;
        if flags & !HEADER_FLAGS_KNOWN != 0 {
            return Err(UnknownHeaderFlags { flags });
        }
        let kernel_release: [u8; KERNEL_RELEASE_LEN] = r.array().ok_or(TruncatedHeader)?;
        if let Some(i) = kernel_release.iter().position(|&b| b == 0) {
            if !all_zero(kernel_release.get(i..).unwrap_or(&[])) {
                return Err(BadKernelRelease);
            }
        }
        if !all_zero(r.rest()) {
            return Err(NonZeroReserved);
        }
        Ok(Self {
            major,
            minor,
            arch,
            page_size,
            xcr0,
            xstate_size,
            flags,
            kernel_release,
        })
    }
}

/// The 16-byte header in front of every record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Record type (`RECORD_*`).
    pub kind: u32,
    /// Record flags (`RECORD_FLAG_*`).
    pub flags: u32,
    /// Payload length in bytes, a multiple of [`ALIGN`]; the next record
    /// starts right after the payload.
    pub len: u64,
}

impl RecordHeader {
    /// A header for a 1.0 record type (must-understand); for FILES and
    /// SHM, set `flags` to [`record_flags`] of the type (0).
    pub const fn new(kind: u32, len: u64) -> Self {
        Self {
            kind,
            flags: RECORD_FLAG_MUST_UNDERSTAND,
            len,
        }
    }

    /// Writes the header into `buf`; returns [`RECORD_HEADER_LEN`].
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Wr::new(buf);
        let ok = (|| {
            w.u32(self.kind)?;
            w.u32(self.flags)?;
            w.u64(self.len)
        })();
        ok.map(|()| RECORD_HEADER_LEN)
            .ok_or(EncodeError::BufferTooSmall {
                needed: RECORD_HEADER_LEN,
            })
    }

    /// Reads a record header found at `offset` and checks what needs no
    /// context: length overflow, alignment, [`MAX_RECORD_PAYLOAD`], flags,
    /// type 0 (not the type-specific rules: see [`Validator`]).
    pub fn decode(bytes: &[u8], offset: u64) -> Result<Self, Error> {
        let mut r = Rd::new(bytes);
        let (Some(kind), Some(flags), Some(len)) = (r.u32(), r.u32(), r.u64()) else {
            return Err(Error::new(
                offset,
                0,
                ErrorKind::TruncatedRecordHeader {
                    available: to_u64(bytes.len()),
                },
            ));
        };
        let h = Self { kind, flags, len };
        let err = |k| Err(Error::new(offset, kind, k));
        let end = offset
            .checked_add(RECORD_HEADER_LEN as u64)
            .and_then(|v| v.checked_add(len));
        if end.is_none() || usize::try_from(len).is_err() {
            return err(ErrorKind::LengthOverflow { len });
        }
        if len.checked_rem(ALIGN as u64) != Some(0) {
            return err(ErrorKind::MisalignedLength { len });
        }
        if len > MAX_RECORD_PAYLOAD {
            return err(ErrorKind::RecordTooLarge {
                len,
                max: MAX_RECORD_PAYLOAD,
            });
        }
        if kind == 0 {
            return err(ErrorKind::InvalidRecordType);
        }
        if flags & !RECORD_FLAGS_KNOWN != 0 {
            return err(ErrorKind::BadRecordFlags { flags });
        }
        Ok(h)
    }

    /// The type is one this version (1.0 to 1.6) defines.
    pub fn is_known(&self) -> bool {
        (RECORD_TREE..=RECORD_PREVPAGES).contains(&self.kind)
    }
}

/// The TRAILER record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// Number of records before the trailer (skipped ones included).
    pub records: u64,
    /// Size of the whole image, trailer included.
    pub total_bytes: u64,
    /// CRC32C of every byte before the trailer record.
    pub crc32c: u32,
}

impl Trailer {
    pub(super) fn decode(p: &[u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let (Some(records), Some(total_bytes), Some(crc32c), Some(reserved)) =
            (r.u64(), r.u64(), r.u32(), r.u32())
        else {
            return Err(ErrorKind::TruncatedRecord { missing: 0 });
        };
        if reserved != 0 {
            return Err(ErrorKind::NonZeroReserved);
        }
        Ok(Self {
            records,
            total_bytes,
            crc32c,
        })
    }
}
