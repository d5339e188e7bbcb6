//! A TAP producer for the Rust guest test programs: each test is a named
//! closure returning `Result<(), String>`; a panic counts as a failure;
//! [`skip`] reports a test as skipped (`ok N NAME # SKIP REASON`).

use std::panic::{catch_unwind, AssertUnwindSafe};

/// A test: its name and body.
pub type Test = (&'static str, fn() -> Result<(), String>);

/// Runs the tests, prints TAP, and exits 1 if any failed.
pub fn run(tests: &[Test]) -> ! {
    println!("TAP version 13");
    println!("1..{}", tests.len());
    let mut failed = 0;
    for (i, (name, f)) in tests.iter().enumerate() {
        let r = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err("panicked".into()));
        match r {
            Ok(()) => println!("ok {} {}", i + 1, name),
            Err(e) if e.starts_with(SKIP_MARK) => println!("ok {} {} # SKIP {}", i + 1, name, &e[SKIP_MARK.len()..]),
            Err(e) => {
                failed += 1;
                // The diagnostics first, as kselftest_harness.h does:
                // scripts/check-guest shows the lines before a failure
                // with it.
                for l in e.lines() {
                    println!("# {l}");
                }
                println!("not ok {} {}", i + 1, name);
            }
        }
    }
    std::process::exit(if failed > 0 { 1 } else { 0 })
}

/// What [`skip`] puts in front of its reason.
const SKIP_MARK: &str = "\u{1}SKIP ";

/// The result of a test that cannot run here (`return tap::skip("no AVX")`):
/// reported as `ok N NAME # SKIP REASON`.
pub fn skip(reason: impl std::fmt::Display) -> Result<(), String> {
    Err(format!("{SKIP_MARK}{reason}"))
}

/// `Err` with a message unless `cond`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}
