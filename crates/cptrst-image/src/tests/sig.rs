// SPDX-License-Identifier: GPL-2.0
//! Tests of the records of version 1.5 (CREDS, SIGNALS, PROCESS) and its
//! VMA flags.

use super::{check, Img};


#[test]
fn sample15_is_valid() {
    let s = check(&Img::sample15().bytes()).unwrap();
    assert_eq!(s.header.minor, 5);
}
