//! What the model costs: nanoseconds per page for single order-0 allocations and for bulk array
//! refills, with the trace sink off, counting and recording; traced events per second; and bytes
//! of state per simulated page. Criterion measures (a) and (b); the summary at the end turns its
//! estimates into ns/page, measures (c) and computes (d), each next to the target of the issue.
//!
//! `cargo bench -p pageflow-core` (about a minute on two cores).

use std::hint::black_box;
use std::mem::size_of;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, Criterion, Throughput};
use pageflow_core::machine::{Node, Slots};
use pageflow_core::mem::{List, MigrateType, Page, Pfn, PAGE_SHIFT};
use pageflow_core::sim::Workload;
use pageflow_core::trace::{Event, Func};
use pageflow_core::zone::{PerCpuPages, Zone};
use pageflow_core::{BulkTarget, Gfp, Machine, MachineConfig, Profile, TraceMode};
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

/// The single-page workload: `alloc_pages(GFP_KERNEL, 0)` and `__free_pages()` of the page,
/// through an array holder of one slot (the page is handed straight back, so the slot stays NULL).
struct Single {
    m: Machine,
    holder: u32,
    gfp: Gfp,
}

impl Single {
    fn new(mode: TraceMode) -> Single {
        let mut m = machine_4g(mode);
        let holder = m.array_holder("bench-single", 1);
        let gfp = gfp_kernel(&m);
        let mut s = Single { m, holder, gfp };
        // Steady state: the first call refills the pcp list with a batch; later ones take from it.
        for _ in 0..10_000 {
            s.once();
        }
        s.trim();
        s
    }

    #[inline]
    fn once(&mut self) {
        let m = &mut self.m;
        m.caller = self.holder;
        let pfn = m.alloc_pages(self.gfp, 0, 0).expect("a 4 GiB machine has a free page");
        m.free_held(self.holder, black_box(pfn), 0, Some(0)).expect("the page was just allocated");
    }

    #[inline]
    fn trim(&mut self) {
        if self.m.trace.events.len() > RECORD_CAP {
            self.m.trace.events.clear();
        }
    }
}

/// The bulk workload: `alloc_pages_bulk(GFP_KERNEL, 64, page_array)` into 64 NULL slots, then
/// `__free_pages()` of every slot.
struct Bulk {
    m: Machine,
    holder: u32,
    gfp: Gfp,
}

impl Bulk {
    fn new(mode: TraceMode) -> Bulk {
        let mut m = machine_4g(mode);
        let holder = m.array_holder("bench-bulk", BULK);
        let gfp = gfp_kernel(&m);
        let mut b = Bulk { m, holder, gfp };
        for _ in 0..1_000 {
            b.once();
        }
        b.trim();
        b
    }

    #[inline]
    fn once(&mut self) {
        let m = &mut self.m;
        m.caller = self.holder;
        let n = m.alloc_pages_bulk(self.gfp, 0, BULK as i32, BulkTarget::Array);
        assert_eq!(n as usize, BULK, "the bulk call filled every slot");
        for slot in 0..BULK {
            let pfn: Pfn = match &m.holders[self.holder as usize].slots {
                Slots::Array(a) => a[slot],
                Slots::List(_) => unreachable!("an array holder"),
            };
            m.free_held(self.holder, pfn, 0, Some(slot)).expect("the page was just allocated");
        }
    }

    #[inline]
    fn trim(&mut self) {
        if self.m.trace.events.len() > RECORD_CAP {
            self.m.trace.events.clear();
        }
    }
}

fn bench_single(c: &mut Criterion) {
    let mut group = c.benchmark_group("alloc_free_1_page");
    group.throughput(Throughput::Elements(1));
    for (mode, name) in MODES {
        let mut s = Single::new(mode);
        group.bench_function(name, |b| {
            b.iter(|| {
                s.once();
                s.trim();
            })
        });
        s.m.check().expect("the model is consistent after the benchmark");
    }
    group.finish();
}

fn bench_bulk(c: &mut Criterion) {
    let mut group = c.benchmark_group("bulk_array_64_pages");
    group.throughput(Throughput::Elements(BULK as u64));
    for (mode, name) in MODES {
        let mut bulk = Bulk::new(mode);
        group.bench_function(name, |b| {
            b.iter(|| {
                bulk.once();
                bulk.trim();
            })
        });
        bulk.m.check().expect("the model is consistent after the benchmark");
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_single, bench_bulk
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
        other += z.pcp.capacity() * size_of::<PerCpuPages>();
        other += z.pcp.iter().map(|p| p.lists.capacity() * size_of::<List>()).sum::<usize>();
        other += z.pageblock_mt.capacity() * size_of::<MigrateType>();
    }
    other += m.nodes.capacity() * size_of::<Node>();
    for n in &m.nodes {
        other += (n.zonelist.capacity() + n.zonelist_nofallback.capacity()) * size_of::<usize>();
        other += n.cpus.capacity() * size_of::<u16>();
    }
    other += m.cpu_node.capacity() * size_of::<u16>();
    other += m.block_zone.capacity() * size_of::<u8>();
    other += m.holders.capacity() * size_of::<pageflow_core::machine::Holder>();
    for h in &m.holders {
        other += h.name.capacity();
        if let Slots::Array(a) = &h.slots {
            other += a.capacity() * size_of::<Pfn>();
        }
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
    println!("  (c) traced events per second, Record mode (trace emptied as it fills):");
    let how_long = Duration::from_millis(1500);
    let mut single = Single::new(TraceMode::Record);
    let (per, rate) = events_rate(
        || {
            let before = single.m.trace.events.len();
            single.once();
            let n = single.m.trace.events.len() - before;
            single.trim();
            n
        },
        how_long,
    );
    rate_line("single alloc+free", per, "page", rate);
    single.m.trace.events.clear();
    for _ in 0..1000 {
        single.once();
    }
    let single_traffic = pcp_traffic(&single.m.trace.events, 1000);
    let mut bulk = Bulk::new(TraceMode::Record);
    let (per, rate) = events_rate(
        || {
            let before = bulk.m.trace.events.len();
            bulk.once();
            let n = bulk.m.trace.events.len() - before;
            bulk.trim();
            n
        },
        how_long,
    );
    rate_line("bulk 64 + frees", per / BULK as f64, "page", rate);
    bulk.m.trace.events.clear();
    for _ in 0..100 {
        bulk.once();
    }
    let bulk_traffic = pcp_traffic(&bulk.m.trace.events, 100 * BULK);
    // The random workload of the property tests and the `random` action: a mix of single, bulk
    // and high-order allocations, frees, drains, page cache and reclaim. Its rate includes the
    // generator's own work, which grows with the holders it picks blocks from (on 4 GiB the page
    // cache reaches hundreds of thousands of pages), so a small machine is measured as well.
    for (label, dma32, normal) in [("4 GiB", 2032, 2048), ("256 MiB", 240, 0)] {
        let config = MachineConfig::simple(dma32, normal, 2);
        let mut m = Machine::new(&config, Profile::default_profile(), TraceMode::Record).expect("valid");
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let mut w = Workload::new(0);
        let (per, rate) = events_rate(
            || {
                let before = m.trace.events.len();
                w.step(&mut m, &mut rng);
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
