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

use std::fmt::Write as _;

use serde::Serialize;

use crate::bulk::BulkTarget;
use crate::config::MachineConfig;
use crate::cost::CostModel;
use crate::gfp::Gfp;
use crate::machine::{Machine, Slots};
use crate::mem::NIL;
use crate::profile::Profile;
use crate::trace::{Cost, TraceMode};

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

impl Bench04Run {
    /// A warm 4 GiB machine (DMA 16 MiB, DMA32 2032 MiB, NORMAL 2048 MiB, 2 CPUs).
    pub fn new(profile: &'static Profile, kind: Bench04, mode: TraceMode) -> Bench04Run {
        let mut machine =
            Machine::new(&MachineConfig::simple(2032, 2048, 2), profile, mode).expect("a valid machine");
        let holder = match kind {
            Bench04::Single => machine.array_holder("page_bench04", 1),
            Bench04::Array { step } => machine.array_holder("page_bench04", step as usize),
            Bench04::List { .. } => machine.holder_id("page_bench04"),
        };
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
                    let pfn = l.head;
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
            }
        })
        .collect()
}

/// The targets as a table: model against published, the error, and whether it is within
/// [`TOLERANCE`].
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
            if t.within_tolerance() { "" } else { "  (outside tolerance)" }
        );
    }
    out
}
