//! Calibration of the [`CostModel`] against published kernel numbers: the workloads behind them
//! run on the model, and each becomes a [`Target`] (published figure, model figure) that the
//! calibration test checks and `pageflow cost` prints.
//!
//! Jesper Brouer's `page_bench04_bulk` (prototype-kernel, reference §7) times alloc+free per page
//! on a Xeon E5-1650 v4: one page at a time with `alloc_pages()` and `__free_page()`, or
//! `alloc_pages_bulk` of 64 pages into an array or a list and then `__free_page()` of each. The
//! model runs the same loops on a warm 4 GiB machine (pcp lists already filled, as in a timed
//! loop after its first rounds) and prices what they did with the era's [`CostModel`]. Two
//! series were published: v5r9 of the bulk series (IRQs disabled around pcp sections, stats per
//! page: the "5.13" profile) and v1r15 of Mel Gorman's local_lock series (local_lock, batched
//! bulk stats: the "5.14" profile).
//!
//! Chuck Lever's `svc_alloc_arg()` latencies (reference §7, posted with his SUNRPC patches on
//! the v5r9 series) time one refill of an nfsd thread's `rq_pages`: the per-page `alloc_page()`
//! loop of 5.12, the list prototype, and 5.13's array loop, on a kernel built with KASAN. The
//! model runs the sunrpc user model ([`crate::users::sunrpc`]) in each form on the same warm
//! machine, priced with the same table as Brouer's rows ([`LeverRun`]); the rows are printed,
//! not held, because the model has no KASAN.

use std::fmt::Write as _;

use serde::Serialize;

use crate::bulk::BulkTarget;
use crate::config::MachineConfig;
use crate::cost::CostModel;
use crate::gfp::Gfp;
use crate::machine::{Machine, Slots};
use crate::mem::NIL;
use crate::profile::Profile;
use crate::profile::SvcAllocArg;
use crate::trace::{Cost, TraceMode};
use crate::users::sunrpc::{RefillRecord, Rpc, SvcConfig, SvcServ};

/// How far a model figure may be from its published one and still count as calibrated.
pub const TOLERANCE: f64 = 0.20;

/// One loop of `page_bench04_bulk`, per round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Bench04 {
    /// `alloc_pages(GFP_KERNEL, 0)`, then `__free_page()`: one page a round.
    Single,
    /// `alloc_pages_bulk_array(GFP_KERNEL, step, pages)` into NULL slots, then `__free_page()`
    /// of every slot.
    Array { step: u32 },
    /// `alloc_pages_bulk_list(GFP_KERNEL, step, &list)`, then `__free_page()` of every entry.
    List { step: u32 },
}

impl Bench04 {
    /// Pages one round allocates and frees.
    pub fn pages(self) -> u32 {
        match self {
            Bench04::Single => 1,
            Bench04::Array { step } | Bench04::List { step } => step,
        }
    }

    pub fn label(self) -> String {
        match self {
            Bench04::Single => "single alloc_pages+free".to_owned(),
            Bench04::Array { step } => format!("array step {step}"),
            Bench04::List { step } => format!("list step {step}"),
        }
    }
}

/// A machine running one `page_bench04_bulk` loop on CPU 0.
pub struct Bench04Run {
    pub machine: Machine,
    pub kind: Bench04,
    holder: u32,
    gfp: Gfp,
}

/// Rounds run before measuring, in pages: the first refills of the pcp list are not what a timed
/// loop sees.
const WARM_UP_PAGES: u32 = 10_000;

/// The machine every calibration workload runs on: 4 GiB (DMA 16 MiB, DMA32 2032 MiB, NORMAL
/// 2048 MiB), 2 CPUs.
fn calibration_machine(profile: &'static Profile, mode: TraceMode) -> Machine {
    Machine::new(&MachineConfig::simple(2032, 2048, 2), profile, mode).expect("a valid machine")
}

impl Bench04Run {
    /// A warm 4 GiB machine (`calibration_machine`).
    pub fn new(profile: &'static Profile, kind: Bench04, mode: TraceMode) -> Bench04Run {
        let mut machine = calibration_machine(profile, mode);
        let holder = match kind {
            Bench04::Single => machine.array_holder("page_bench04", 1),
            Bench04::Array { step } => machine.array_holder("page_bench04", step as usize),
            Bench04::List { .. } => machine.holder_id("page_bench04"),
        }
        .expect("a new machine has room for a holder");
        let gfp = Gfp::parse("GFP_KERNEL", profile).expect("GFP_KERNEL parses in every era");
        let mut run = Bench04Run { machine, kind, holder, gfp };
        for _ in 0..WARM_UP_PAGES.div_ceil(kind.pages()) {
            run.round();
        }
        run
    }

    /// One round: allocate the round's pages, then free each.
    pub fn round(&mut self) {
        let m = &mut self.machine;
        m.caller = self.holder;
        match self.kind {
            Bench04::Single => {
                let pfn = m.alloc_pages(self.gfp, 0, 0).expect("a 4 GiB machine has a free page");
                m.free_held(self.holder, pfn, 0, Some(0)).expect("the page was just allocated");
            }
            Bench04::Array { step } => {
                let n = m.alloc_pages_bulk(self.gfp, 0, step as i32, BulkTarget::Array);
                assert_eq!(n, step, "the bulk call filled every slot");
                for slot in 0..step as usize {
                    let Slots::Array(a) = &m.holders[self.holder as usize].slots else {
                        unreachable!("an array holder")
                    };
                    let pfn = a[slot];
                    m.free_held(self.holder, pfn, 0, Some(slot)).expect("the page was just allocated");
                }
            }
            Bench04::List { step } => {
                let n = m.alloc_pages_bulk(self.gfp, 0, step as i32, BulkTarget::List);
                assert_eq!(n, step, "the bulk call added every page");
                loop {
                    let Slots::List(l) = &m.holders[self.holder as usize].slots else {
                        unreachable!("a list holder")
                    };
                    let pfn = l.head();
                    if pfn == NIL {
                        break;
                    }
                    m.free_held(self.holder, pfn, 0, None).expect("the page was just allocated");
                }
            }
        }
    }

    /// What `rounds` rounds cost, counted (the machine must count or record events).
    pub fn measure(&mut self, rounds: u32) -> Cost {
        assert!(self.machine.trace.on(), "costs are counted only with the trace on");
        let before = self.machine.trace.cost;
        for _ in 0..rounds {
            self.round();
        }
        self.machine.trace.cost.since(&before)
    }
}

/// Simulated cycles per page of a `page_bench04_bulk` loop under a profile's cost model.
pub fn bench04_cycles_per_page(profile: &'static Profile, kind: Bench04) -> f64 {
    let rounds = 100_000 / kind.pages();
    let cost = Bench04Run::new(profile, kind, TraceMode::Count).measure(rounds);
    CostModel::for_profile(profile).cycles(&cost) / f64::from(rounds * kind.pages())
}

/// Chuck Lever's workload as he describes it ("SUNRPC consumer for the bulk page allocator",
/// 23 March 2021, on Mel Gorman's `mm-bulk-rebase-v5r9`): a mixture of 256 KB NFSv3 READs and
/// WRITEs, the latency of each `svc_alloc_arg()` call taken by a tracepoint in `svc_recv()` and
/// averaged. In the model: one nfsd thread on CPU 0 of the calibration machine answering 256 KiB
/// READs and WRITEs in turn over TCP, refilling its `rq_pages` with one form of
/// `svc_alloc_arg()` before every request. A READ's reply takes the head page and 64 data pages
/// after the request page, and `svc_xprt_release()` drops sunrpc's references to all 65; a
/// WRITE's 65 request pages stay in `rq_pages` (nfsd copies them into the page cache) and only
/// its one reply page is put. So refills alternate between 65 holes and 1, 33 on average.
///
/// His server's kernel was built with KASAN, which he says exaggerates the comparison; the
/// model prices a kernel without it (the one Brouer's rows were measured on), so these rows are
/// printed beside the model's figures, not held to them (DEVIATIONS.md, "Cost model").
///
/// The reply went out by `kernel_sendpage()`, so its pages are freed when TCP frees the skbs
/// after the ACK, in the NET_RX softirq of the CPU the connection's interrupts go to, not on the
/// nfsd thread's CPU ([`SvcConfig::tx_completion_cpu`]). The thread's pcp list therefore does
/// not get its pages back: its refills drain it and `rmqueue_bulk()` refills it from the buddy
/// lists under `zone->lock`, as on a server whose nfsd threads outnumber its interrupt CPUs.
pub struct LeverRun {
    pub machine: Machine,
    pub serv: SvcServ,
    /// Requests served so far: the next is `LEVER_RPCS[served % 2]`.
    served: usize,
}

/// The requests of Lever's workload, served in turn.
pub const LEVER_RPCS: [Rpc; 2] = [Rpc::Read { kib: 256 }, Rpc::Write { kib: 256, split: false }];
/// The CPU whose softirq frees the transmitted pages; the nfsd thread runs on CPU 0.
const LEVER_TX_COMPLETION_CPU: u16 = 1;
/// Requests served before measuring: the thread's first refills (after `svc_init_buffer()`) and
/// the pcp lists' first refills are not what a long NFS run sees.
const LEVER_WARM_UP_REQUESTS: u32 = 64;

impl LeverRun {
    /// A warm server whose threads refill with `form` (which must be one the profile has the
    /// API for).
    pub fn new(profile: &'static Profile, form: SvcAllocArg, mode: TraceMode) -> LeverRun {
        let mut machine = calibration_machine(profile, mode);
        let config = SvcConfig {
            form,
            tx_completion_cpu: Some(LEVER_TX_COMPLETION_CPU),
            ..SvcConfig::new(1, profile)
        };
        let serv = SvcServ::new(&mut machine, config).expect("the calibration profiles have the form's API");
        let mut run = LeverRun { machine, serv, served: 0 };
        for _ in 0..LEVER_WARM_UP_REQUESTS {
            run.request();
        }
        run
    }

    /// Serve the next request, as `run_sunrpc` does (kswapd runs after it), and return the
    /// `svc_alloc_arg()` refill it needed: one, since no refill gives up on a 4 GiB machine.
    pub fn request(&mut self) -> RefillRecord {
        let rpc = LEVER_RPCS[self.served % LEVER_RPCS.len()];
        self.served += 1;
        self.serv.serve(&mut self.machine, &rpc);
        self.machine.run_kswapd();
        let mut refills = std::mem::take(&mut self.serv.refills);
        assert_eq!(refills.len(), 1, "one svc_alloc_arg() per request");
        refills.pop().expect("one refill")
    }
}

/// What `svc_alloc_arg()` costs per call in one form, on average over a run of requests.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SvcAllocArgCost {
    pub refills: u32,
    /// Holes filled per refill.
    pub pages_per_refill: f64,
    /// Allocator calls per refill.
    pub calls_per_refill: f64,
    /// The allocator's counted events, summed over the refills.
    pub cost: Cost,
    /// Sleeps taken: none on a warm machine (a sleep is server time, not CPU time, and would not
    /// be priced).
    pub sleeps: u32,
    /// Simulated µs per refill: the priced allocator events. The lines of `svc_alloc_arg()`
    /// itself (the hole scan, moving pages off the list) are the caller's instructions and have
    /// no price in the model.
    pub micros_per_refill: f64,
}

/// `svc_alloc_arg()` in `form`, run for `requests` requests on a warm [`LeverRun`] and priced
/// with the profile's [`CostModel`].
pub fn svc_alloc_arg_cost(profile: &'static Profile, form: SvcAllocArg, requests: u32) -> SvcAllocArgCost {
    let mut run = LeverRun::new(profile, form, TraceMode::Count);
    let (mut cost, mut pages, mut calls, mut sleeps) = (Cost::default(), 0u64, 0u64, 0u32);
    for _ in 0..requests {
        let r = run.request();
        cost = cost.plus(&r.cost);
        pages += u64::from(r.filled);
        calls += u64::from(r.calls);
        sleeps += r.sleeps;
    }
    let n = f64::from(requests);
    SvcAllocArgCost {
        refills: requests,
        pages_per_refill: pages as f64 / n,
        calls_per_refill: calls as f64 / n,
        cost,
        sleeps,
        micros_per_refill: CostModel::for_profile(profile).nanos(&cost) / n / 1000.0,
    }
}

/// Lever's `svc_alloc_arg()` µs per call (reference §7): the per-page loop (532,571 calls), the
/// list API (517,034) and the array API (517,442), all on the bulk series v5r9, which the "5.13"
/// profile models (IRQs disabled around pcp sections, stats per page); the list form is the
/// prototype's (count the holes, one list call, move the pages into the holes).
const LEVER: [(SvcAllocArg, &str, f64); 3] = [
    (SvcAllocArg::PerPage, "per-page alloc_page loop", 25.007),
    (SvcAllocArg::ListRfc, "list API", 6.258),
    (SvcAllocArg::ArraySleepOnShortfall, "array API", 4.590),
];
const LEVER_PROFILE: &str = "5.13";
/// Requests measured per form (33 pages a refill on average, so about 100,000 pages).
const LEVER_REQUESTS: u32 = 3000;

/// Every Lever row, run on the model. None is held to [`TOLERANCE`]: Lever's kernel had KASAN,
/// the model's prices are for a kernel without it ([`LeverRun`]).
pub fn lever_targets() -> Vec<Target> {
    let profile = Profile::by_id(LEVER_PROFILE).expect("calibration profiles exist");
    LEVER
        .iter()
        .map(|&(form, label, published)| Target {
            name: format!("svc_alloc_arg 256 KiB READ/WRITE, {label}"),
            source: "Lever, v5r9 on a KASAN kernel",
            profile: LEVER_PROFILE,
            unit: "µs/call",
            published,
            model: svc_alloc_arg_cost(profile, form, LEVER_REQUESTS).micros_per_refill,
            asserted: false,
        })
        .collect()
}

/// Every calibration row: Brouer's, then Lever's, all priced with [`CostModel::for_profile`].
pub fn targets() -> Vec<Target> {
    let mut all = brouer_targets();
    all.extend(lever_targets());
    all
}

/// A published figure and the model's figure for the same workload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    /// The workload.
    pub name: String,
    /// Who published it, where.
    pub source: &'static str,
    /// The profile the model ran.
    pub profile: &'static str,
    /// "cycles/page", "µs/call" …
    pub unit: &'static str,
    pub published: f64,
    pub model: f64,
    /// The calibration test holds this row to [`TOLERANCE`]. A row that is not is printed all
    /// the same: the model is known to leave out work its workload does, and DEVIATIONS.md says
    /// which.
    pub asserted: bool,
}

impl Target {
    /// (model − published) / published.
    pub fn error(&self) -> f64 {
        (self.model - self.published) / self.published
    }

    pub fn within_tolerance(&self) -> bool {
        self.error().abs() <= TOLERANCE
    }
}

/// Brouer's `page_bench04_bulk` cycles per page (reference §7): v5r9 on the bulk series and
/// v1r15 on the local_lock series.
const BROUER: [(&str, &str, Bench04, f64); 6] = [
    ("Brouer, bulk series v5r9", "5.13", Bench04::Single, 199.0),
    ("Brouer, bulk series v5r9", "5.13", Bench04::List { step: 64 }, 134.0),
    ("Brouer, bulk series v5r9", "5.13", Bench04::Array { step: 64 }, 110.0),
    ("Brouer, local_lock series v1r15", "5.14", Bench04::Single, 194.0),
    ("Brouer, local_lock series v1r15", "5.14", Bench04::List { step: 64 }, 115.0),
    ("Brouer, local_lock series v1r15", "5.14", Bench04::Array { step: 64 }, 98.0),
];

/// Every Brouer row, run on the model.
pub fn brouer_targets() -> Vec<Target> {
    BROUER
        .iter()
        .map(|&(source, profile, kind, published)| {
            let p = Profile::by_id(profile).expect("calibration profiles exist");
            Target {
                name: format!("page_bench04_bulk {}", kind.label()),
                source,
                profile,
                unit: "cycles/page",
                published,
                model: bench04_cycles_per_page(p, kind),
                asserted: true,
            }
        })
        .collect()
}

/// The targets as a table: model against published, the error, whether it is within
/// [`TOLERANCE`], and which rows the calibration test does not hold to it.
pub fn render(targets: &[Target]) -> String {
    let name_w = targets.iter().map(|t| t.name.len()).max().unwrap_or(0).max(8);
    let source_w = targets.iter().map(|t| t.source.len()).max().unwrap_or(0).max(6);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<name_w$}  {:<source_w$}  {:<7}  {:>10}  {:>10}  {:>7}  unit",
        "workload", "source", "profile", "published", "model", "error"
    );
    for t in targets {
        let _ = writeln!(
            out,
            "  {:<name_w$}  {:<source_w$}  {:<7}  {:>10.2}  {:>10.2}  {:>+6.1}%  {}{}",
            t.name,
            t.source,
            t.profile,
            t.published,
            t.model,
            100.0 * t.error(),
            t.unit,
            match (t.within_tolerance(), t.asserted) {
                (true, true) => "",
                (true, false) => "  (not asserted)",
                (false, true) => "  (outside tolerance)",
                (false, false) => "  (outside tolerance; not asserted: see DEVIATIONS.md)",
            }
        );
    }
    out
}
