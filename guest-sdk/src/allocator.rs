//! A bump allocator for rules modules, on by default (feature `bump-allocator`).
//!
//! The host runs every callback on a fresh instance and throws it away afterwards, so
//! memory never needs to be returned: allocating is a pointer increment and freeing is
//! free, except that the most recent block can be freed or grown in place (which covers
//! `Vec` growth and temporary strings). With the general-purpose allocator, allocating
//! and freeing the cart's strings cost more fuel than most rules themselves.
//!
//! Blocks come first from a 1 MiB arena in the module's zero-initialised data, which is
//! part of the instance's initial memory: a callback that fits in it never grows
//! memory, and so costs the host no page-protection change per instance (each growth
//! is one `mprotect` to grow and one to shrink the pooled slot back on the next
//! instance). Past the arena, memory grows page by page as needed.
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

/// The arena's size: a decision on a 200-line cart fits with room to spare.
const ARENA_BYTES: usize = 256 << 10;

/// Zero-initialised, so it costs no bytes in the module and no work at instantiation:
/// only the pages a callback touches become resident.
#[repr(C, align(16))]
struct Arena([u8; ARENA_BYTES]);

static mut ARENA: Arena = Arena([0; ARENA_BYTES]);

/// The allocator state. Wasm rules modules are single-threaded.
pub struct BumpAllocator {
    next: Cell<usize>,
    /// 0 until the first allocation claims the arena.
    end: Cell<usize>,
}

// SAFETY: a wasm rules module runs on one thread; no other thread can observe
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

    /// Makes room for `layout`: the first time, by claiming the arena (here rather than
    /// in `carve`, so the common path has no extra branch); after that, by growing
    /// linear memory by enough pages. The new pages continue the current region unless
    /// something else grew memory in between: then a new region starts at them.
    fn grow(&self, layout: Layout) -> bool {
        if self.end.get() == 0 && layout.size() + layout.align() <= ARENA_BYTES {
            let arena = (&raw const ARENA) as usize;
            self.next.set(arena);
            self.end.set(arena + ARENA_BYTES);
            return true;
        }
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
