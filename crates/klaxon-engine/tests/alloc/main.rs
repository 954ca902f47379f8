//! Heap allocations and memory of both engines, counted by a wrapping global allocator (figure
//! (c) of BENCHMARKS.md and the zero-allocation steady states).
//!
//! A binary of its own: the allocator counts every allocation of the process, so a test running
//! beside these in another thread would show up in their counts. The tests here take [`SERIAL`]
//! so that only one of them counts at a time.
// A global allocator needs `unsafe impl GlobalAlloc`; it only forwards to the system allocator.
#![allow(unsafe_code)]

mod event;
mod threshold;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

struct Counting;

/// Allocations (and reallocations) so far.
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
/// Bytes held now.
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The counters are global: tests that read them must not run at the same time.
static SERIAL: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE.fetch_add(l.size() as isize, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE.fetch_add(new as isize - l.size() as isize, Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;
