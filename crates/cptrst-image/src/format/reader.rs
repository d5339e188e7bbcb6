// SPDX-License-Identifier: GPL-2.0
//! Reading an image in memory: the [`Reader`] iterator over its records
//! and [`validate`], both a [`Validator`] over the whole slice.

use super::consts::*;
use super::error::Error;
use super::header::{FileHeader, RecordHeader};
use super::records::fdt::FileData;
use super::records::mm::Pages;
use super::records::Record;
use super::validator::{Expect, Summary, Validator};
use super::wire::to_u64;

/// A record of an image in memory, with its place.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Item<'a> {
    /// Offset of its record header.
    pub offset: u64,
    /// Its record header.
    pub header: RecordHeader,
    /// The record, borrowing from the image.
    pub record: Record<'a>,
}

/// Iterator over the records of an image in memory, validating as it goes
/// (a [`Validator`] inside). Yields each record, then `None` after a valid
/// trailer at the end of the input, or one `Err` and then `None`.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    v: Validator<'a>,
    done: bool,
    header: FileHeader,
}

impl<'a> Reader<'a> {
    /// Reads and checks the file header.
    pub fn new(data: &'a [u8]) -> Result<Self, Error> {
        let mut v = Validator::new();
        let n = data.len().min(HEADER_LEN);
        let header = v.feed_header(data.get(..n).unwrap_or(&[]))?;
        Ok(Self {
            data,
            pos: n,
            v,
            done: false,
            header,
        })
    }

    /// The file header.
    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    /// The validator state (e.g. [`Validator::end_of_input`] after the last
    /// record for the [`Summary`]).
    pub fn validator(&mut self) -> &mut Validator<'a> {
        &mut self.v
    }

    /// Takes up to `n` bytes.
    fn take(&mut self, n: u64) -> &'a [u8] {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let n = usize::try_from(n).unwrap_or(usize::MAX).min(rest.len());
        self.pos = self.pos.saturating_add(n);
        rest.get(..n).unwrap_or(&[])
    }

    fn step(&mut self) -> Result<Option<Item<'a>>, Error> {
        let at_end = self.pos >= self.data.len();
        match self.v.expect() {
            Expect::Failed(e) => return Err(e),
            Expect::End if at_end => return Ok(None),
            Expect::RecordHeader if at_end => {
                self.v.end_of_input()?;
                return Ok(None);
            }
            _ => {}
        }
        let bytes = self.take(RECORD_HEADER_LEN as u64);
        let header = self.v.feed_record_header(bytes)?;
        let offset = self.v.current().1;
        let record = match self.v.expect() {
            Expect::Tree(n) => {
                let p = self.take(n);
                Record::Tree(self.v.feed_tree(p)?)
            }
            Expect::Payload(n) => {
                let p = self.take(n);
                let rec = self.v.feed_payload(p)?;
                match (rec, self.v.expect()) {
                    (Record::Pages(pg), Expect::Data(n)) => {
                        let data = self.take(n);
                        self.v.feed_data(data)?;
                        if to_u64(data.len()) != n {
                            self.v.end_of_input()?;
                        }
                        Record::Pages(Pages { data, ..pg })
                    }
                    (Record::FileData(d), Expect::Data(n)) => {
                        let chunk = self.v.data_chunk_left();
                        let data = self.take(n);
                        self.v.feed_data(data)?;
                        if to_u64(data.len()) != n {
                            self.v.end_of_input()?;
                        }
                        let chunk = usize::try_from(chunk).unwrap_or(usize::MAX);
                        let data = data.get(..chunk).unwrap_or(data);
                        Record::FileData(FileData { data, ..d })
                    }
                    (rec, _) => rec,
                }
            }
            Expect::Data(n) => {
                let p = self.take(n);
                self.v.feed_data(p)?;
                if to_u64(p.len()) != n {
                    self.v.end_of_input()?;
                }
                Record::Unknown {
                    kind: header.kind,
                    flags: header.flags,
                    payload: p,
                }
            }
            _ => Record::Unknown {
                kind: header.kind,
                flags: header.flags,
                payload: &[],
            },
        };
        Ok(Some(Item {
            offset,
            header,
            record,
        }))
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Item<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step();
        match r {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Checks a whole image in memory: every rule, the trailer, nothing after
/// it. A restart must not act on an image before this (or a
/// [`Validator`] over the whole stream) has returned `Ok`.
pub fn validate(data: &[u8]) -> Result<Summary, Error> {
    let mut r = Reader::new(data)?;
    for item in &mut r {
        item?;
    }
    r.v.end_of_input()
}
