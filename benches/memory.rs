//! `memory_20k_vs_2k`: the heap the bulk update (`AutomationTokenRotator::update`, concurrency
//! 16, 10% of the rules holding the token, originals kept on disk with `keep_originals_in`)
//! needs at its peak, for 20,000 rules against 2,000.
//!
//! The fake holds every rule and logs every request, so it runs in a child process (this binary
//! again, with `ATLASSIAN_ROTATION_BENCH_SERVE=<rules>`): the counting allocator of this process
//! sees the client side only. The figure is the peak of live heap bytes during the update minus
//! the live bytes when it started (the client, its runtime and connection pool exist before), so
//! it is what the update itself holds at its worst.
//!
//! ```text
//! cargo bench --bench memory
//! ```

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use atlassian_rotation::rotate::Rotator as _;
use support::{HOLDING, SERVE_ENV, Served, World, bench_line, selected};

/// Counts live heap bytes and their peak.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    CURRENT.fetch_sub(bytes, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, which got it from `System`.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; `new_size` is the caller's.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size > layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SMALL: usize = 2_000;
const LARGE: usize = 20_000;
const CONCURRENCY: usize = 16;

fn main() {
    if let Ok(rules) = std::env::var(SERVE_ENV) {
        serve(rules.parse().expect("a rule count"));
        return;
    }
    if !selected("memory_20k_vs_2k") {
        return;
    }
    let small = peak_of_update(SMALL);
    let large = peak_of_update(LARGE);
    let per_rewritten =
        |a: usize, b: usize| (a as f64 - b as f64) / ((LARGE - SMALL) as f64 * HOLDING);
    eprintln!(
        "memory: peak heap of the update {:.1} MiB at {SMALL} rules, {:.1} MiB at {LARGE} rules: \
         {:.0} bytes more per rewritten rule; still held by the rotator when the update returns: \
         {:.1} MiB and {:.1} MiB ({:.0} bytes per rewritten rule)",
        mib(small.peak),
        mib(large.peak),
        per_rewritten(large.peak, small.peak),
        mib(small.retained),
        mib(large.retained),
        per_rewritten(large.retained, small.retained),
    );
    let (large, small) = (large.peak, small.peak);
    bench_line(
        "memory_20k_vs_2k",
        large as f64,
        small as f64,
        "bytes",
        "lower",
    );
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// Heap growth during an update, over the live bytes when it started.
struct Heap {
    /// At its peak.
    peak: usize,
    /// When it returned, before the rotator is dropped.
    retained: usize,
}

/// The child: seeds a fake with `rules` rules, tells the parent where and with what, and serves
/// until the parent closes its stdin.
fn serve(rules: usize) {
    let served = Served::start();
    let world = World::seed(&served.fake, rules);
    println!("{}", world.to_line());
    served.serve_until_stdin_closes();
}

/// Runs the update against a child-process fake of `rules` rules.
fn peak_of_update(rules: usize) -> Heap {
    let mut child = Command::new(std::env::current_exe().expect("this binary's path"))
        .env(SERVE_ENV, rules.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server process starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("a piped stdout"))
        .read_line(&mut line)
        .expect("the server process announces itself");
    let world = World::from_line(&line);
    let holding = (rules as f64 * HOLDING).round() as usize;

    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the client");
    // Originals on disk, as a large site would keep them: the update's heap then grows with the
    // rules it rewrites only by their ids.
    let originals = tempfile::tempdir().expect("a directory for originals");
    let rotator = world
        .rotator(CONCURRENCY)
        .keep_originals_in(originals.path().join("originals"));
    let started = std::time::Instant::now();
    let before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let updated = runtime
        .block_on(rotator.update(&world.new))
        .expect("the update succeeds");
    let peak = PEAK.load(Ordering::Relaxed);
    let retained = CURRENT.load(Ordering::Relaxed).saturating_sub(before);
    assert_eq!(
        updated.rewritten, holding,
        "every holding rule is rewritten"
    );
    drop(updated);
    eprintln!(
        "memory: {rules} rules updated in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    drop(child.stdin.take());
    child.wait().expect("the server process ends");
    Heap {
        peak: peak.saturating_sub(before),
        retained,
    }
}
