// SPDX-License-Identifier: GPL-2.0
//! Writes the seed corpus of the `decode` target into `corpus/decode/`
//! (or the directory given as the first argument): the sample image (1.5,
//! with open files, credentials, signals and process state) in both
//! modes, the live 1.6 sample, the 1.4 and 1.3 samples, and a few
//! variants.

use cptrst_image::sample;
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("corpus/decode"));
    std::fs::create_dir_all(&dir)?;
    let mut buf = vec![0u8; sample::SAMPLE_MAX_LEN];
    let n = sample::build(&mut buf).expect("sample builds");
    let img = &buf[..n];
    cptrst_image::validate(img).expect("sample is valid");
    for (name, mode) in [
        ("sample-raw", 0u8),
        ("sample-fix", 1),
        ("sample-fix-chunk", 9),
    ] {
        let mut v = vec![mode];
        v.extend_from_slice(img);
        std::fs::write(dir.join(name), v)?;
    }
    // The live 1.6 sample (ROUND sections, PREVPAGES), the 1.4 sample (no
    // THREAD, CREDS, SIGNALS, PROCESS) and the 1.3 one (FILES records
    // instead of FILE, FDATA, FDS, MAPFILE).
    type Build = fn(&mut [u8]) -> Result<usize, cptrst_image::EncodeError>;
    let older: [(&str, Build); 3] = [
        ("sample-live-fix", sample::build_live),
        ("sample-v1.4-fix", sample::build_v1_4),
        ("sample-v1.3-fix", sample::build_v1_3),
    ];
    for (name, build) in older {
        let mut old = vec![0u8; sample::SAMPLE_MAX_LEN];
        let m = build(&mut old).expect("older sample builds");
        cptrst_image::validate(&old[..m]).expect("older sample is valid");
        let mut v = vec![1u8];
        v.extend_from_slice(&old[..m]);
        std::fs::write(dir.join(name), v)?;
    }
    // The image cut before the page data of its last mm: smaller inputs.
    let mut short = vec![1u8];
    short.extend_from_slice(&img[..img.len().min(4096)]);
    std::fs::write(dir.join("sample-prefix"), short)?;
    println!("wrote seeds to {}", dir.display());
    Ok(())
}
