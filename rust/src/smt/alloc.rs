//! The crate's allocator: the system one, plus transparent huge pages for big blocks.
//!
//! The tree's node tables are hundreds of megabytes read at random, one node per probe;
//! with 4 KiB pages nearly every probe also misses the TLB. Asking the kernel for huge
//! pages on large allocations (`MADV_HUGEPAGE`, honoured when transparent huge pages are
//! in `madvise` or `always` mode) made committed updates about 1.4x faster at a million
//! leaves here (docs/native.md). Small allocations are untouched.

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations from this size on get the advice (the node tables, not batch buffers).
const HUGE_FROM: usize = 32 << 20;
const PAGE: usize = 4096;
const MADV_HUGEPAGE: i32 = 14;

extern "C" {
    fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
}

pub struct HugePageAlloc;

/// Advise the whole pages inside `[ptr, ptr + size)`; failure only loses the speed-up.
fn advise(ptr: *mut u8, size: usize) {
    if ptr.is_null() || size < HUGE_FROM {
        return;
    }
    let start = (ptr as usize).div_ceil(PAGE) * PAGE;
    let end = (ptr as usize + size) / PAGE * PAGE;
    if end > start {
        // SAFETY: the range lies inside an allocation we own; madvise only changes how the
        // kernel backs it, never its contents or validity.
        unsafe {
            madvise(start as *mut std::ffi::c_void, end - start, MADV_HUGEPAGE);
        }
    }
}

// SAFETY: every call is forwarded to `System` with the same arguments; `advise` only adds
// a kernel hint on memory the allocation already owns.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        advise(new, new_size);
        new
    }
}

#[global_allocator]
static GLOBAL: HugePageAlloc = HugePageAlloc;
