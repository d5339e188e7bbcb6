//! A TAP producer for the Rust guest test programs: each test is a named
//! closure returning `Result<(), String>`; a panic counts as a failure.

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
            Err(e) => {
                failed += 1;
                println!("not ok {} {}", i + 1, name);
                for l in e.lines() {
                    println!("# {l}");
                }
            }
        }
    }
    std::process::exit(if failed > 0 { 1 } else { 0 })
}

/// `Err` with a message unless `cond`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}
