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

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let mut img = rest.to_vec();
    if mode & 1 != 0 {
        cptrst_image::sample::fix_trailer(&mut img);
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
    assert_eq!(
        cptrst_image::sample::validate_streaming(&img, chunk).map(|(s, _)| s),
        whole
    );

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
