//! A bump allocator for rules modules, on by default (feature `bump-allocator`).
//!
//! The host runs every callback on a fresh instance and throws it away afterwards, so
//! memory never needs to be returned: allocating is a pointer increment and freeing is
//! free, except that the most recent block can be freed or grown in place (which covers
//! `Vec` growth and temporary strings). With the general-purpose allocator, allocating
//! and freeing the cart's strings cost more fuel than most rules themselves.
//!
//! The trade-off: memory freed in the middle of the heap is not reused, so a module
//! that allocates and drops a lot in a loop grows towards its memory limit. Such a
//! module can turn the feature off (`default-features = false`) to get Rust's standard
//! allocator back.

#![allow(unsafe_code)]

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::Cell;

const PAGE: usize = 65536;

/// The allocator state. Wasm rules modules are single-threaded.
pub struct BumpAllocator {
    next: Cell<usize>,
    end: Cell<usize>,
}

// SAFETY: a wasm32-wasip2 rules module runs on one thread; no other thread can observe
// the cells.
unsafe impl Sync for BumpAllocator {}

impl BumpAllocator {
    const fn new() -> Self {
        BumpAllocator {
            next: Cell::new(0),
            end: Cell::new(0),
        }
    }

    /// Carves `layout` out of `[next, end)`, if it fits.
    fn carve(&self, layout: Layout) -> Option<usize> {
        let start = self.next.get().checked_add(layout.align() - 1)? & !(layout.align() - 1);
        let until = start.checked_add(layout.size())?;
        (until <= self.end.get()).then(|| {
            self.next.set(until);
            start
        })
    }

    /// Grows linear memory by enough pages for `layout`. The new pages continue the
    /// current region unless something else grew memory in between (or this is the
    /// first growth): then a new region starts at them.
    fn grow(&self, layout: Layout) -> bool {
        let pages = (layout.size() + layout.align()).div_ceil(PAGE);
        let old = wasm32::memory_grow(0, pages);
        if old == usize::MAX {
            return false;
        }
        let base = old * PAGE;
        if base != self.end.get() {
            self.next.set(base);
        }
        self.end.set(base + pages * PAGE);
        true
    }
}

// SAFETY: blocks never overlap: each is carved from [next, end), which only ever
// covers memory no block occupies, and `next` moves back only over the most recent
// block when that block is freed.
unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.carve(layout) {
            Some(start) => start as *mut u8,
            None if self.grow(layout) => self
                .carve(layout)
                .map_or(core::ptr::null_mut(), |start| start as *mut u8),
            None => core::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ptr as usize + layout.size() == self.next.get() {
            self.next.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = ptr as usize;
        let is_last = start + layout.size() == self.next.get();
        if is_last
            && start
                .checked_add(new_size)
                .is_some_and(|until| until <= self.end.get())
        {
            // The most recent block, with room to grow or shrink in place.
            self.next.set(start + new_size);
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: the new layout keeps the alignment and has a non-zero size.
        let moved =
            unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
        if !moved.is_null() {
            // SAFETY: both blocks are valid for `layout.size()` bytes and do not overlap.
            unsafe { core::ptr::copy_nonoverlapping(ptr, moved, layout.size()) };
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: BumpAllocator = BumpAllocator::new();

/// The canonical ABI's allocation entry point, through which the host writes the cart
/// into the instance. wasi-libc provides a weak one on top of `malloc`; this one takes
/// precedence so that every allocation comes from the bump allocator.
///
/// # Safety
/// Called by the host with a block previously returned by this function (or null with
/// `old_len` 0), as the canonical ABI specifies.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    // SAFETY: the canonical ABI passes a power-of-two alignment and sizes that fit.
    let block = unsafe {
        if old_len == 0 {
            if new_len == 0 {
                return align as *mut u8;
            }
            ALLOCATOR.alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            ALLOCATOR.realloc(
                old_ptr,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        }
    };
    if block.is_null() {
        // Out of memory: trap, as the canonical ABI expects.
        wasm32::unreachable();
    }
    block
}
