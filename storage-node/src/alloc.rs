//! A counting wrapper around the system allocator, so INFO's `used_memory` and `maxmemory`
//! enforcement see every byte the process holds on the heap (as Redis's zmalloc does).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The allocator installed in `main`.
pub struct Counting;

static USED: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            USED.fetch_add(layout.size(), Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        USED.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            USED.fetch_add(layout.size(), Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            USED.fetch_add(new_size, Relaxed);
            USED.fetch_sub(layout.size(), Relaxed);
        }
        p
    }
}

/// Bytes currently allocated.
pub fn used_memory() -> usize {
    let used = USED.load(Relaxed);
    if used > PEAK.load(Relaxed) {
        PEAK.store(used, Relaxed);
    }
    used
}

/// Highest `used_memory` observed.
pub fn peak_memory() -> usize {
    PEAK.load(Relaxed).max(used_memory())
}

/// Resident set size from /proc, 0 where unavailable.
pub fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<usize>().ok()))
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}
