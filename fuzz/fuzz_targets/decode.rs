// SPDX-License-Identifier: GPL-2.0
//! Fuzz target `decode`: arbitrary bytes into `validate`, the `Reader`
//! iterator and the streaming `Validator`, which must agree; a valid image
//! must re-encode to the same bytes.
//!
//! The first input byte selects a mode: bit 0 set rewrites the trailer
//! (count, size, CRC32C) so that mutations reach past the CRC check; bits
//! 1..7 choose the chunk size of the streaming run. The rest is the image.
#![no_main]

use cptrst_image::*;
use libfuzzer_sys::fuzz_target;

/// Rewrites the trailer of `b` (if its framing allows) with the right
/// count, size and CRC32C.
fn fix_trailer(b: &mut [u8]) {
    if b.len() < HEADER_LEN + TRAILER_RECORD_LEN {
        return;
    }
    let t = b.len() - TRAILER_RECORD_LEN;
    let mut pos = HEADER_LEN;
    let mut count = 0u64;
    while pos < t {
        let len = u64::from_le_bytes(b[pos + 8..pos + 16].try_into().unwrap());
        pos = match (pos as u64)
            .checked_add(16)
            .and_then(|p| p.checked_add(len))
        {
            Some(p) if p <= t as u64 => p as usize,
            _ => return,
        };
        count += 1;
    }
    if pos != t {
        return;
    }
    let crc = crc32c(&b[..t]);
    let total = b.len() as u64;
    b[t + 16..t + 24].copy_from_slice(&count.to_le_bytes());
    b[t + 24..t + 32].copy_from_slice(&total.to_le_bytes());
    b[t + 32..t + 36].copy_from_slice(&crc.to_le_bytes());
}

/// The streaming validator, payloads copied, data in `chunk`-byte pieces.
fn stream(img: &[u8], chunk: usize) -> Result<Summary, Error> {
    let mut v = Validator::new();
    let mut pos = 0usize;
    loop {
        let rem = img.len() - pos;
        match v.expect() {
            Expect::Header => {
                let n = rem.min(HEADER_LEN);
                v.feed_header(&img[pos..pos + n])?;
                pos += n;
            }
            Expect::RecordHeader => {
                if rem == 0 {
                    return v.end_of_input();
                }
                let n = rem.min(RECORD_HEADER_LEN);
                v.feed_record_header(&img[pos..pos + n])?;
                pos += n;
            }
            Expect::Tree(n) => {
                let n = rem.min(n as usize);
                v.feed_tree(&img[pos..pos + n])?;
                pos += n;
            }
            Expect::Payload(n) => {
                let n = rem.min(n as usize);
                let copy = img[pos..pos + n].to_vec();
                v.feed_payload(&copy)?;
                pos += n;
            }
            Expect::Data(n) => {
                let n = rem.min(n as usize).min(chunk);
                if n == 0 {
                    return v.end_of_input();
                }
                v.feed_data(&img[pos..pos + n])?;
                pos += n;
            }
            Expect::End => {
                if rem == 0 {
                    return v.end_of_input();
                }
                v.feed_record_header(&img[pos..pos + rem.min(16)])?;
                panic!("data after the trailer accepted");
            }
            Expect::Failed(e) => return Err(e),
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let mut img = rest.to_vec();
    if mode & 1 != 0 {
        fix_trailer(&mut img);
    }
    let chunk = 1 + usize::from(mode >> 1) * 97;

    let whole = validate(&img);

    // The iterator: same verdict, records in order, offsets increasing.
    let mut items = Vec::new();
    let via_reader = match Reader::new(&img) {
        Err(e) => Err(e),
        Ok(mut r) => {
            let mut err = None;
            let mut last = 0u64;
            for item in &mut r {
                match item {
                    Ok(it) => {
                        assert!(it.offset >= last);
                        last = it.offset;
                        items.push(it);
                    }
                    Err(e) => err = Some(e),
                }
            }
            match err {
                Some(e) => Err(e),
                None => r.validator().end_of_input(),
            }
        }
    };
    assert_eq!(whole, via_reader);
    assert_eq!(stream(&img, chunk), whole);

    // A valid image is canonical: re-encoding gives the same bytes.
    if let Ok(s) = whole {
        assert_eq!(s.total_bytes, img.len() as u64);
        let header = FileHeader::decode(&img).unwrap();
        let mut e = Encoder::new(header);
        let mut out = vec![0u8; img.len()];
        let mut pos = e.header(&mut out).unwrap();
        for it in &items {
            pos += match it.record {
                Record::Trailer(_) => e.trailer(&mut out[pos..]).unwrap(),
                r => e.record_any(&r, &mut out[pos..]).unwrap(),
            };
        }
        assert_eq!(pos, img.len());
        assert_eq!(out, img);
    }
});
