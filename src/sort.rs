// SPDX-License-Identifier: GPL-2.0
//! An in-place heapsort by key: O(n log n), no allocation, no recursion.
//! Core's slice sorts are not used in the module: objtool flags their
//! code (a function falling through into the next). It yields the CPU
//! every [`RESCHED_EVERY`] steps: the index it sorts can have millions of
//! entries.

/// Steps between two [`crate::task::cond_resched`] calls.
const RESCHED_EVERY: usize = 4096;

/// Sorts `v` by ascending `key` (not stable).
pub(crate) fn heap_sort_by_key<T, K: Ord>(v: &mut [T], key: impl Fn(&T) -> K) {
    let n = v.len();
    // Moves v[root] down the heap of v[..end].
    let sift = |v: &mut [T], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && key(&v[child]) < key(&v[child + 1]) {
            child += 1;
        }
        if key(&v[root]) >= key(&v[child]) {
            return;
        }
        v.swap(root, child);
        root = child;
    };
    for root in (0..n / 2).rev() {
        sift(v, root, n);
        if root % RESCHED_EVERY == 0 {
            crate::task::cond_resched();
        }
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift(v, 0, end);
        if end % RESCHED_EVERY == 0 {
            crate::task::cond_resched();
        }
    }
}
