//! What the model costs: nanoseconds per page for single order-0 allocations and for bulk array
//! refills, with the trace sink off, counting and recording; traced events per second; and bytes
//! of state per simulated page. Criterion measures (a) and (b); the summary at the end turns its
//! estimates into ns/page, measures (c) and computes (d), each next to the target of the issue.
//!
//! Two more groups: Brouer's `page_bench04_bulk` loops run through the model (its own speed,
//! printed beside the cycles the cost model simulates for them), and a peer comparison with the
//! `buddy_system_allocator` crate's `FrameAllocator` on the same alloc/free sequence of order-0
//! and of mixed-order blocks, printed as a ratio.
//!
//! `cargo bench -p pageflow-core` (about a minute and a half on two cores).

mod common;

use std::hint::black_box;
use std::mem::size_of;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use buddy_system_allocator::FrameAllocator;
use criterion::{criterion_group, Criterion, Throughput};
use pageflow_core::calibrate::{self, Bench04, Bench04Run};
use pageflow_core::machine::{Node, Slots, Zoneref};
use pageflow_core::mem::{MigrateType, Page, Pfn, PAGE_SHIFT};
use pageflow_core::sim::Workload;
use pageflow_core::trace::{Event, Func};
use pageflow_core::zone::{PerCpuPages, Zone};
use pageflow_core::{Gfp, Machine, MachineConfig, Profile, TraceMode};
use rand_core::SeedableRng;
use rand_pcg::Pcg64Mcg;

/// The targets (printed beside the measurements, not asserted).
const TARGET_SINGLE_NS: f64 = 25.0;
const TARGET_BULK_NS_PER_PAGE: f64 = 10.0;
const TARGET_BYTES_PER_PAGE: f64 = 16.0;
const TARGET_EVENTS_PER_SEC: f64 = 20e6;

/// Pages per bulk call: a `struct page *` array of 64, as sunrpc and the network drivers use.
const BULK: usize = 64;
/// A Record-mode trace is emptied when it grows past this many events, so a benchmark that runs
/// millions of iterations keeps a bounded buffer (`clear` of a `Vec` of `Copy` events is O(1)).
const RECORD_CAP: usize = 1 << 16;

const MODES: [(TraceMode, &str); 3] =
    [(TraceMode::Off, "trace_off"), (TraceMode::Count, "trace_count"), (TraceMode::Record, "trace_record")];

/// A 4 GiB machine (DMA 16 MiB, DMA32 2032 MiB, NORMAL 2048 MiB) with 2 CPUs, the default
/// profile, CPU 0 running.
fn machine_4g(mode: TraceMode) -> Machine {
    let config = MachineConfig::simple(2032, 2048, 2);
    Machine::new(&config, Profile::default_profile(), mode).expect("a valid machine")
}

fn gfp_kernel(m: &Machine) -> Gfp {
    Gfp::parse("GFP_KERNEL", m.profile).expect("GFP_KERNEL parses")
}

/// A warm `page_bench04_bulk` loop on the default profile (`calibrate::Bench04Run`): the single
/// loop is `alloc_pages(GFP_KERNEL, 0)` and `__free_pages()`, the bulk one
/// `alloc_pages_bulk(GFP_KERNEL, 64, page_array)` into 64 NULL slots and `__free_pages()` of each.
fn bench04(kind: Bench04, mode: TraceMode) -> Bench04Run {
    Bench04Run::new(Profile::default_profile(), kind, mode)
}

const SINGLE: Bench04 = Bench04::Single;
const ARRAY_64: Bench04 = Bench04::Array { step: BULK as u32 };

/// One round, keeping a Record-mode trace bounded; returns the events the round recorded.
#[inline]
fn round(run: &mut Bench04Run) -> usize {
    let before = run.machine.trace.events.len();
    run.round();
    let n = run.machine.trace.events.len() - before;
    if run.machine.trace.events.len() > RECORD_CAP {
        run.machine.trace.events.clear();
    }
    n
}

fn bench_single(c: &mut Criterion) {
    let mut group = c.benchmark_group("alloc_free_1_page");
    group.throughput(Throughput::Elements(1));
    for (mode, name) in MODES {
        let mut run = bench04(SINGLE, mode);
        group.bench_function(name, |b| b.iter(|| round(&mut run)));
        run.machine.check().expect("the model is consistent after the benchmark");
    }
    group.finish();
}

fn bench_bulk(c: &mut Criterion) {
    let mut group = c.benchmark_group("bulk_array_64_pages");
    group.throughput(Throughput::Elements(BULK as u64));
    for (mode, name) in MODES {
        let mut run = bench04(ARRAY_64, mode);
        group.bench_function(name, |b| b.iter(|| round(&mut run)));
        run.machine.check().expect("the model is consistent after the benchmark");
    }
    group.finish();
}

/// The three `page_bench04_bulk` loops of the calibration, on the local_lock profile (5.14), with
/// the trace off: how fast the model itself runs Brouer's workloads. The summary prints the
/// simulated cycles per page of the same loops beside them.
const BROUER_PROFILE: &str = "5.14";
const BROUER_LOOPS: [(Bench04, &str); 3] = [
    (Bench04::Single, "single"),
    (Bench04::List { step: BULK as u32 }, "list_64"),
    (Bench04::Array { step: BULK as u32 }, "array_64"),
];

fn bench_brouer(c: &mut Criterion) {
    let profile = Profile::by_id(BROUER_PROFILE).expect("the calibration profile exists");
    let mut group = c.benchmark_group("page_bench04_model");
    for (kind, name) in BROUER_LOOPS {
        let mut run = Bench04Run::new(profile, kind, TraceMode::Off);
        group.throughput(Throughput::Elements(u64::from(kind.pages())));
        group.bench_function(name, |b| b.iter(|| run.round()));
        run.machine.check().expect("the model is consistent after the benchmark");
    }
    group.finish();
}

/// The peer: `buddy_system_allocator`'s `FrameAllocator` (a buddy allocator over frame numbers,
/// one `BTreeSet` of free blocks per order) against pageflow's buddy and pcp lists, trace off,
/// on the same sequence of blocks: a round allocates [`PEER_ROUND`] blocks and frees them in
/// the order they came. Orders 0–10 on both sides (`FrameAllocator::<11>`), 1 Mi frames.
const PEER_ROUND: usize = 64;
/// Orders of the mixed round, repeated: mostly single pages, some pcp-sized orders, a few large.
const MIXED_ORDERS: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 0, 4, 9, 0];

/// The orders of one round.
fn peer_orders(mixed: bool) -> Vec<u8> {
    (0..PEER_ROUND).map(|i| if mixed { MIXED_ORDERS[i % MIXED_ORDERS.len()] } else { 0 }).collect()
}

struct PageflowPeer {
    m: Machine,
    holder: u32,
    gfp: Gfp,
    held: Vec<(Pfn, u8)>,
}

impl PageflowPeer {
    fn new() -> PageflowPeer {
        let mut m = machine_4g(TraceMode::Off);
        let holder = m.array_holder("peer", 1).unwrap();
        let gfp = gfp_kernel(&m);
        PageflowPeer { m, holder, gfp, held: Vec::with_capacity(PEER_ROUND) }
    }

    /// `alloc_pages()` each order, then `__free_pages()` each block. The pages are handed back
    /// through one array slot, as in the single-page benchmark.
    fn round(&mut self, orders: &[u8]) {
        self.m.caller = self.holder;
        for &order in orders {
            let pfn = self.m.alloc_pages(self.gfp, order, 0).expect("a 4 GiB machine has free blocks");
            self.held.push((pfn, order));
        }
        for (pfn, order) in self.held.drain(..) {
            self.m.free_held(self.holder, black_box(pfn), order, Some(0)).expect("just allocated");
        }
    }
}

struct FramePeer {
    frames: FrameAllocator<11>,
    held: Vec<(usize, usize)>,
}

impl FramePeer {
    fn new() -> FramePeer {
        let mut frames = FrameAllocator::<11>::new();
        frames.add_frame(0, 1 << 20);
        FramePeer { frames, held: Vec::with_capacity(PEER_ROUND) }
    }

    fn round(&mut self, orders: &[u8]) {
        for &order in orders {
            let count = 1 << order;
            let frame = self.frames.alloc(count).expect("1 Mi frames have free blocks");
            self.held.push((frame, count));
        }
        for (frame, count) in self.held.drain(..) {
            self.frames.dealloc(black_box(frame), count);
        }
    }
}

const PEER_GROUPS: [(&str, bool); 2] = [("peer_order0", false), ("peer_mixed_orders", true)];

fn bench_peer(c: &mut Criterion) {
    for (group_name, mixed) in PEER_GROUPS {
        let orders = peer_orders(mixed);
        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Elements(PEER_ROUND as u64));
        let mut ours = PageflowPeer::new();
        group.bench_function("pageflow", |b| b.iter(|| ours.round(&orders)));
        ours.m.check().expect("the model is consistent after the benchmark");
        let mut theirs = FramePeer::new();
        group.bench_function("buddy_system_allocator", |b| b.iter(|| theirs.round(&orders)));
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_single, bench_bulk, bench_brouer, bench_peer
}

// ---------------------------------------------------------------------------------------------
// The summary: ns/page from criterion's estimates, events/s, bytes/page.

/// Where criterion keeps its results: `$CRITERION_HOME`, else `<target dir>/criterion`, the
/// target dir being three levels above this executable (`<target>/release/deps/alloc-…`).
fn criterion_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(PathBuf::from(home));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

/// Criterion's typical time per iteration in ns (the slope of its linear regression, or the mean),
/// if this run measured that benchmark.
fn estimate_ns(group: &str, id: &str, since: SystemTime) -> Option<f64> {
    let path = criterion_dir()?.join(group).join(id).join("new").join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let slope = v["slope"]["point_estimate"].as_f64();
    slope.or_else(|| v["mean"]["point_estimate"].as_f64())
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "meets"
    } else {
        "MISSES"
    }
}

/// Events a workload produces per iteration in Record mode, and events per second (the trace
/// is emptied as it fills; the time includes everything the model does for those events).
fn events_rate(mut once: impl FnMut() -> usize, how_long: Duration) -> (f64, f64) {
    let (mut events, mut iters) = (0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < how_long {
        for _ in 0..64 {
            events += once() as u64;
            iters += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    (events as f64 / iters as f64, events as f64 / secs)
}

/// Trips past the pcp list per 1000 pages: `rmqueue_bulk` refills and `free_pcppages_bulk` flushes.
fn pcp_traffic(events: &[Event], pages: usize) -> (f64, f64) {
    let count =
        |f: Func| events.iter().filter(|e| matches!(e, Event::Enter { func, .. } if *func == f)).count();
    let per_1000 = |n: usize| n as f64 * 1000.0 / pages as f64;
    (per_1000(count(Func::RmqueueBulk)), per_1000(count(Func::FreePcppagesBulk)))
}

fn rate_line(what: &str, per: f64, unit: &str, rate: f64) {
    println!(
        "      {what:<26} {per:6.1} events/{unit:<4} {:6.1} M events/s  (target ≥ {:.0} M: {})",
        rate / 1e6,
        TARGET_EVENTS_PER_SEC / 1e6,
        verdict(rate >= TARGET_EVENTS_PER_SEC)
    );
}

/// Bytes of model state: the page array, and everything else (machine, zones with their free
/// areas, pcp structures and pageblock types, nodes and zonelists, holders). Traces are not state.
fn state_bytes(m: &Machine) -> (usize, usize) {
    let pages = m.pages.capacity() * size_of::<Page>();
    let mut other = size_of::<Machine>();
    other += m.zones.capacity() * size_of::<Zone>();
    for z in &m.zones {
        // The pcp lists are inside PerCpuPages.
        other += z.pcp.capacity() * size_of::<PerCpuPages>();
        other += z.pageblock_mt.capacity() * size_of::<MigrateType>();
    }
    other += m.nodes.capacity() * size_of::<Node>();
    for n in &m.nodes {
        other += (n.zonelist.capacity() + n.zonelist_nofallback.capacity()) * size_of::<Zoneref>();
        other += n.cpus.capacity() * size_of::<u16>();
    }
    other += m.cpu_node.capacity() * size_of::<u16>();
    other += m.block_zone.capacity() * size_of::<u8>();
    other += m.holders.capacity() * size_of::<pageflow_core::machine::Holder>();
    for h in &m.holders {
        other += h.name.capacity();
        other += match &h.slots {
            Slots::Array(a) => a.capacity() * size_of::<Pfn>(),
            Slots::List(l) => l.heap_bytes(),
        };
    }
    (pages, other)
}

fn summary(since: SystemTime) {
    println!();
    println!(
        "pageflow model cost, profile {} (targets from the issue, not asserted)",
        Profile::default_profile().id
    );
    println!("4 GiB machine, 2 CPUs, GFP_KERNEL, CPU 0, steady state (pcp lists warm)");
    println!();
    println!("  ns per page                       off      count     record    target");
    for (group, label, pages, target) in [
        ("alloc_free_1_page", "(a) alloc_pages+free, order 0", 1.0, TARGET_SINGLE_NS),
        ("bulk_array_64_pages", "(b) bulk array of 64 + frees", BULK as f64, TARGET_BULK_NS_PER_PAGE),
    ] {
        let cells: Vec<Option<f64>> =
            MODES.iter().map(|(_, id)| estimate_ns(group, id, since).map(|ns| ns / pages)).collect();
        let text: Vec<String> =
            cells.iter().map(|c| c.map_or("      n/a".to_owned(), |v| format!("{v:9.2}"))).collect();
        let off = cells[0].map_or("not measured in this run".to_owned(), |v| {
            format!("{} with the trace off", verdict(v <= target))
        });
        println!("  {label:<30} {}  ≤ {target:.0} ns ({off})", text.join("  "));
    }

    println!();
    println!(
        "  page_bench04_bulk through the model (profile {BROUER_PROFILE}, trace off): the model's own \
         speed, and the cycles it simulates"
    );
    let targets = calibrate::brouer_targets();
    for (kind, id) in BROUER_LOOPS {
        let native = estimate_ns("page_bench04_model", id, since)
            .map_or("not measured".to_owned(), |ns| format!("{:6.1} ns/page", ns / f64::from(kind.pages())));
        let t = targets
            .iter()
            .find(|t| t.profile == BROUER_PROFILE && t.name.ends_with(&kind.label()))
            .expect("every loop is a calibration target");
        println!(
            "      {:<24} {native} to run;  simulated {:6.1} cycles/page (published {:.0}, {:+.1} %)",
            kind.label(),
            t.model,
            t.published,
            100.0 * t.error()
        );
    }

    println!();
    println!(
        "  peer: buddy_system_allocator's FrameAllocator against pageflow's buddy and pcp lists (trace off)"
    );
    for (group, mixed) in PEER_GROUPS {
        let ours = estimate_ns(group, "pageflow", since);
        let theirs = estimate_ns(group, "buddy_system_allocator", since);
        let what = if mixed { "mixed orders" } else { "order 0" };
        match (ours, theirs) {
            (Some(o), Some(t)) => println!(
                "      {what:<13} rounds of {PEER_ROUND}: pageflow {:7.1} ns/block, buddy_system_allocator \
                 {:7.1} ns/block: ratio pageflow/peer {:.2}",
                o / PEER_ROUND as f64,
                t / PEER_ROUND as f64,
                o / t
            ),
            _ => println!("      {what}: not measured in this run"),
        }
    }

    println!();
    println!("  (c) traced events per second, Record mode (trace emptied as it fills):");
    let how_long = Duration::from_millis(1500);
    let mut single = bench04(SINGLE, TraceMode::Record);
    let (per, rate) = events_rate(|| round(&mut single), how_long);
    rate_line("single alloc+free", per, "page", rate);
    single.machine.trace.events.clear();
    for _ in 0..1000 {
        single.round();
    }
    let single_traffic = pcp_traffic(&single.machine.trace.events, 1000);
    let mut bulk = bench04(ARRAY_64, TraceMode::Record);
    let (per, rate) = events_rate(|| round(&mut bulk), how_long);
    rate_line("bulk 64 + frees", per / BULK as f64, "page", rate);
    bulk.machine.trace.events.clear();
    for _ in 0..100 {
        bulk.round();
    }
    let bulk_traffic = pcp_traffic(&bulk.machine.trace.events, 100 * BULK);
    // The random workload of the property tests and the `random` action: a mix of single, bulk
    // and high-order allocations, frees, drains, page cache and reclaim. Its rate includes the
    // generator's own work: drawing masks and holders, and finding the blocks it frees in a page
    // cache that on 4 GiB reaches hundreds of thousands of pages (O(log n), `HolderList`).
    for (label, dma32, normal) in [("4 GiB", 2032, 2048), ("256 MiB", 240, 0)] {
        let config = MachineConfig::simple(dma32, normal, 2);
        let mut m = Machine::new(&config, Profile::default_profile(), TraceMode::Record).expect("valid");
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let mut w = Workload::new(0);
        let (per, rate) = events_rate(
            || {
                let before = m.trace.events.len();
                w.step(&mut m, &mut rng).unwrap();
                m.run_kswapd();
                let n = m.trace.events.len() - before;
                if m.trace.events.len() > RECORD_CAP {
                    m.trace.events.clear();
                }
                n
            },
            how_long,
        );
        rate_line(&format!("random workload, {label}"), per, "op", rate);
        m.check().expect("the model is consistent after the random workload");
        let (blocks, bytes) = m.holders.iter().fold((0, 0), |(n, b), h| match &h.slots {
            Slots::List(l) => (n + l.len() as usize, b + l.heap_bytes()),
            Slots::Array(_) => (n, b),
        });
        println!(
            "        its list holders then: {blocks} blocks, {:.1} KiB beside the page records \
             ({:.1} bytes a block)",
            bytes as f64 / 1024.0,
            bytes as f64 / blocks.max(1) as f64
        );
    }
    for (what, (refills, flushes)) in [("single", single_traffic), ("bulk", bulk_traffic)] {
        println!(
            "      steady state of the {what} benchmark: {refills:.1} pcp refills (rmqueue_bulk) and \
             {flushes:.1} pcp flushes (free_pcppages_bulk) per 1000 pages"
        );
    }

    println!();
    println!(
        "  (d) bytes of state per simulated page (struct Page is {} bytes), default profile:",
        size_of::<Page>()
    );
    for (label, dma32, normal) in [("4 GiB", 2032, 2048), ("16 GiB", 4080, 12_288)] {
        for cpus in [4, 64] {
            let m = Machine::new(
                &MachineConfig::simple(dma32, normal, cpus),
                Profile::default_profile(),
                TraceMode::Off,
            )
            .expect("a valid machine");
            let (pages, other) = state_bytes(&m);
            let n = m.pages.len();
            let per = (pages + other) as f64 / n as f64;
            println!(
                "      {label:>6}, {cpus:2} CPUs: {n} pages ({} MiB), {:.1} MiB page array + {:.1} KiB other \
                 = {per:.4} bytes/page  (target ≤ {TARGET_BYTES_PER_PAGE:.0}: {})",
                (n as u64) << PAGE_SHIFT >> 20,
                pages as f64 / (1 << 20) as f64,
                other as f64 / 1024.0,
                verdict(per <= TARGET_BYTES_PER_PAGE)
            );
        }
    }
    println!();
}

fn main() {
    let started = SystemTime::now();
    benches();
    let args: Vec<String> = std::env::args().collect();
    let benchmarking = args.iter().any(|a| a == "--bench")
        && !args.iter().any(|a| a == "--test" || a == "--list" || a.starts_with("--profile-time"));
    if benchmarking {
        summary(started);
    }
    Criterion::default().configure_from_args().final_summary();
}
