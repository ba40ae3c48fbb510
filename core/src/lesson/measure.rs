//! What a lesson can ask the model: a [`Measure`] names one quantity of a [`Timeline`] (the last
//! action's return and cost, a pcp list, a zone, a holder, vmstat, a GFP mask's meaning, an NFS
//! server's refills), and [`Measure::of`] reads it. Questions, checks and the numbers in a
//! slide's text are all measures, so every number a lesson shows comes from the model.

use serde::{Deserialize, Serialize};

use crate::buddy::find_buddy_pfn;
use crate::cost::CostModel;
use crate::gfp::{self, Gfp, ReserveAccess, Wmark};
use crate::machine::{Machine, Slots};
use crate::mem::{ZoneType, NIL};
use crate::sim::Outcome;
use crate::timeline::Timeline;
use crate::trace::{Cost, Event, Func};
use crate::users::sunrpc::RefillRecord;
use crate::users::{SunrpcRun, UserRun};
use crate::zone::{PerCpuPages, Zone};

/// A value the model gives: a count, or words (a zone name, a migratetype, "yes").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Number(i64),
    Text(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Text(t) => f.write_str(t),
        }
    }
}

/// A count of the last action's [`Cost`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostKind {
    /// `zone->lock` sections.
    ZoneLock,
    /// pcp lock sections.
    PcpLock,
    IrqOff,
    /// Blocks moved between lists and callers.
    PagesMoved,
    /// `expand()` halves put back.
    Splits,
    /// `__free_one_page()` merges.
    Merges,
    WatermarkChecks,
}

/// A vmstat event counter (`/proc/vmstat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VmCounter {
    KswapdWakeups,
    Allocstall,
    PgstealKswapd,
    PgstealDirect,
    AllocFailures,
}

/// What a GFP mask decides, read through [`gfp::explain`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GfpAsk {
    /// The highest zone (`gfp_zone`), as the kernel names it ("Normal").
    Zone,
    /// `gfp_migratetype` ("Movable").
    Migratetype,
    /// `__GFP_DIRECT_RECLAIM`: "yes" or "no".
    MaySleep,
    /// `__GFP_KSWAPD_RECLAIM`: "yes" or "no".
    WakesKswapd,
    /// The watermark of the slow path's attempt ("min").
    SlowPathWmark,
    /// How much of the min watermark the slow path still respects, in 1024ths (1024: all of it,
    /// 0: none, `ALLOC_NO_WATERMARKS`).
    SlowPathMinPer1024,
}

/// A figure of an NFS server run (the `sunrpc` action).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SunrpcStat {
    Served,
    HungThreads,
    /// `svc_alloc_arg()` calls.
    Refills,
    /// Allocator calls made by the refills.
    AllocatorCalls,
    /// Of those, calls served by the single-page allocator.
    SinglePageCalls,
    /// Pages the refills put into `rq_pages`.
    Filled,
    Sleeps,
    SleptMs,
    /// `zone->lock` sections taken by the refills' allocator calls.
    ZoneLock,
    /// pcp lock (IRQ-off in older eras) sections taken by the refills' allocator calls.
    PcpLock,
    /// Watermark checks made by the refills' allocator calls.
    WatermarkChecks,
    /// Simulated ns of the refills' allocator calls, priced by the era's cost model.
    SimNs,
    /// Simulated ns per refill (rounded down).
    SimNsPerRefill,
}

/// One quantity of the model. In a lesson file a measure is written as its snake_case name,
/// with its fields as a table: `"returned"`, `{ pcp_count = { cpu = 0, zone = "NORMAL" } }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Measure {
    /// The last action's return as a number: a bulk call's `nr_populated` or count, the pfn of
    /// `alloc_pages`.
    Returned,
    /// Pages the last action took from the allocator (negative when it gave pages back).
    PagesTaken,
    /// A count of the last action's cost.
    Cost(CostKind),
    /// How many times the last action entered a kernel function.
    Entered(Func),
    /// `pcp->count` of a CPU's pageset in a zone of node 0.
    PcpCount { cpu: u16, zone: ZoneType },
    /// `pcp->batch`.
    PcpBatch { cpu: u16, zone: ZoneType },
    /// `pcp->high`.
    PcpHigh { cpu: u16, zone: ZoneType },
    /// `NR_FREE_PAGES` of a zone of node 0.
    FreePages { zone: ZoneType },
    /// Free blocks of one order in a zone of node 0 (its `/proc/buddyinfo` column).
    FreeBlocks { zone: ZoneType, order: u8 },
    /// A watermark of a zone of node 0, in pages.
    Watermark { zone: ZoneType, mark: Wmark },
    /// Blocks a holder holds (array slots that are not NULL, or list entries).
    Held { holder: String },
    /// NULL slots of a holder's array.
    Holes { holder: String },
    /// The pfn in an array slot, or at a position of a list from its head.
    Pfn { holder: String, slot: u32 },
    /// `__find_buddy_pfn()` of the block in a holder's slot, at an order.
    BuddyPfn { holder: String, slot: u32, order: u8 },
    /// A vmstat event counter.
    Vm(VmCounter),
    /// What a GFP mask decides, in the scenario's era and task context.
    Gfp { mask: String, ask: GfpAsk },
    /// A figure of an NFS server run: the `run`th `sunrpc` action (from 0), or the last.
    Sunrpc {
        stat: SunrpcStat,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<usize>,
    },
    /// Allocator calls of an NFS server run (as [`Measure::Sunrpc`] picks it) in the buckets of
    /// its request-size histogram that lie within `lo..=hi` pages; with `single_page`, only
    /// those the single-page allocator served.
    Requests {
        lo: u32,
        hi: u32,
        #[serde(default)]
        single_page: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<usize>,
    },
}

fn node0_zone(m: &Machine, kind: ZoneType) -> Result<&Zone, String> {
    m.zones
        .iter()
        .find(|z| z.node == 0 && z.kind == kind)
        .ok_or_else(|| format!("the machine has no zone {} on node 0", kind.name()))
}

fn pcp(m: &Machine, cpu: u16, kind: ZoneType) -> Result<&PerCpuPages, String> {
    node0_zone(m, kind)?.pcp.get(cpu as usize).ok_or_else(|| format!("the machine has no cpu{cpu}"))
}

fn last_outcome(t: &Timeline) -> Result<&Outcome, String> {
    t.outcomes().last().ok_or_else(|| "no action has run yet".to_owned())
}

fn holder_slots<'m>(m: &'m Machine, name: &str) -> Result<&'m Slots, String> {
    m.holders
        .iter()
        .find(|h| h.name == name)
        .map(|h| &h.slots)
        .ok_or_else(|| format!("nothing has been allocated into {name:?} yet"))
}

fn slot_pfn(m: &Machine, name: &str, slot: u32) -> Result<u32, String> {
    let pfn = match holder_slots(m, name)? {
        Slots::Array(a) => a.get(slot as usize).copied().unwrap_or(NIL),
        Slots::List(l) => l.iter().nth(slot as usize).unwrap_or(NIL),
    };
    if pfn == NIL {
        Err(format!("{name:?} holds no page in slot {slot}"))
    } else {
        Ok(pfn)
    }
}

fn sunrpc_run(t: &Timeline, run: Option<usize>) -> Result<&SunrpcRun, String> {
    let runs: Vec<&SunrpcRun> = t
        .users()
        .iter()
        .filter_map(|u| match u {
            UserRun::Sunrpc(r) => Some(r),
            UserRun::PagePool(_) => None,
        })
        .collect();
    let picked = match run {
        Some(i) => runs.get(i),
        None => runs.last(),
    };
    picked.copied().ok_or_else(|| match run {
        Some(i) => format!("there is no NFS server run number {i} (there are {})", runs.len()),
        None => "no NFS server has run yet".to_owned(),
    })
}

fn refill_cost(refills: &[RefillRecord]) -> Cost {
    let mut total = Cost::default();
    for r in refills {
        total = total.plus(&r.cost);
    }
    total
}

fn yes_no(b: bool) -> Value {
    Value::Text(if b { "yes" } else { "no" }.to_owned())
}

fn count(n: impl TryInto<i64>) -> Value {
    Value::Number(n.try_into().unwrap_or(i64::MAX))
}

impl Measure {
    /// Read the measure off a timeline: the machine after every action run so far, and the last
    /// action's outcome. An error says, in a learner's words, why there is no value yet.
    pub fn of(&self, t: &Timeline) -> Result<Value, String> {
        let m = t.machine();
        Ok(match self {
            Measure::Returned => {
                let o = last_outcome(t)?;
                let number = o.result.strip_prefix("pfn ").unwrap_or(&o.result);
                match number.parse::<i64>() {
                    Ok(n) => Value::Number(n),
                    Err(_) => return Err(format!("the last call returned {:?}, not a number", o.result)),
                }
            }
            Measure::PagesTaken => Value::Number(last_outcome(t)?.pages),
            Measure::Cost(kind) => {
                let c = &last_outcome(t)?.cost;
                count(match kind {
                    CostKind::ZoneLock => c.zone_lock,
                    CostKind::PcpLock => c.pcp_lock,
                    CostKind::IrqOff => c.irq_off,
                    CostKind::PagesMoved => c.pages_moved,
                    CostKind::Splits => c.splits,
                    CostKind::Merges => c.merges,
                    CostKind::WatermarkChecks => c.watermark_checks,
                })
            }
            Measure::Entered(func) => {
                let (start, end) = last_outcome(t)?.events;
                let events = &t.events()[start..end];
                count(
                    events.iter().filter(|e| matches!(e, Event::Enter { func: f, .. } if f == func)).count(),
                )
            }
            Measure::PcpCount { cpu, zone } => count(pcp(m, *cpu, *zone)?.count),
            Measure::PcpBatch { cpu, zone } => count(pcp(m, *cpu, *zone)?.batch),
            Measure::PcpHigh { cpu, zone } => count(pcp(m, *cpu, *zone)?.high),
            Measure::FreePages { zone } => Value::Number(node0_zone(m, *zone)?.nr_free_pages),
            Measure::FreeBlocks { zone, order } => {
                let z = node0_zone(m, *zone)?;
                let area =
                    z.free_area.get(*order as usize).ok_or_else(|| format!("there is no order {order}"))?;
                count(area.free_list.iter().map(|l| u64::from(l.len)).sum::<u64>())
            }
            Measure::Watermark { zone, mark } => count(node0_zone(m, *zone)?.watermark[*mark as usize]),
            Measure::Held { holder } => count(holder_slots(m, holder)?.blocks()),
            Measure::Holes { holder } => match holder_slots(m, holder)? {
                Slots::Array(a) => count(a.iter().filter(|&&p| p == NIL).count()),
                Slots::List(_) => return Err(format!("{holder:?} is a list: it has no NULL slots")),
            },
            Measure::Pfn { holder, slot } => count(slot_pfn(m, holder, *slot)?),
            Measure::BuddyPfn { holder, slot, order } => {
                count(find_buddy_pfn(slot_pfn(m, holder, *slot)?, *order))
            }
            Measure::Vm(c) => count(match c {
                VmCounter::KswapdWakeups => m.vm.kswapd_wakeups,
                VmCounter::Allocstall => m.vm.allocstall,
                VmCounter::PgstealKswapd => m.vm.pgsteal_kswapd,
                VmCounter::PgstealDirect => m.vm.pgsteal_direct,
                VmCounter::AllocFailures => m.vm.alloc_failures,
            }),
            Measure::Gfp { mask, ask } => {
                let g =
                    Gfp::parse(mask, m.profile).map_err(|e| format!("{mask:?} is not a GFP mask: {e}"))?;
                let e = gfp::explain(g, 0, m.profile, &m.task);
                match ask {
                    GfpAsk::Zone => match e.zone {
                        Some(z) => Value::Text(z.name().to_owned()),
                        None => return Err(e.zone_error.unwrap_or_default()),
                    },
                    GfpAsk::Migratetype => match e.migratetype {
                        Some(mt) => Value::Text(mt.name().to_owned()),
                        None => return Err(e.migratetype_error.unwrap_or_default()),
                    },
                    GfpAsk::MaySleep => yes_no(e.may_sleep),
                    GfpAsk::WakesKswapd => yes_no(e.may_wake_kswapd),
                    GfpAsk::SlowPathWmark => Value::Text(e.slow_path.wmark.name().to_owned()),
                    GfpAsk::SlowPathMinPer1024 => count(match e.slow_path.reserve {
                        ReserveAccess::NoAccess => 1024,
                        ReserveAccess::Partial { min_per_1024 } => min_per_1024,
                        ReserveAccess::All => 0,
                    }),
                }
            }
            Measure::Sunrpc { stat, run } => {
                let r = sunrpc_run(t, *run)?;
                let refills = &r.refills;
                let ns = || CostModel::for_profile(m.profile).nanos(&refill_cost(refills)) as u64;
                match stat {
                    SunrpcStat::Served => count(r.served),
                    SunrpcStat::HungThreads => count(r.hung_threads),
                    SunrpcStat::Refills => count(refills.len()),
                    SunrpcStat::AllocatorCalls => {
                        count(refills.iter().map(|x| u64::from(x.calls)).sum::<u64>())
                    }
                    SunrpcStat::SinglePageCalls => {
                        count(refills.iter().map(|x| u64::from(x.single_page_calls)).sum::<u64>())
                    }
                    SunrpcStat::Filled => count(refills.iter().map(|x| u64::from(x.filled)).sum::<u64>()),
                    SunrpcStat::Sleeps => count(refills.iter().map(|x| u64::from(x.sleeps)).sum::<u64>()),
                    SunrpcStat::SleptMs => count(refills.iter().map(|x| x.slept_ms).sum::<u64>()),
                    SunrpcStat::ZoneLock => count(refill_cost(refills).zone_lock),
                    SunrpcStat::PcpLock => count(refill_cost(refills).pcp_lock),
                    SunrpcStat::WatermarkChecks => count(refill_cost(refills).watermark_checks),
                    SunrpcStat::SimNs => count(ns()),
                    SunrpcStat::SimNsPerRefill => count(ns().checked_div(refills.len() as u64).unwrap_or(0)),
                }
            }
            Measure::Requests { lo, hi, single_page, run } => {
                let buckets =
                    sunrpc_run(t, *run)?.histogram.buckets.iter().filter(|b| *lo <= b.lo && b.hi <= *hi);
                count(buckets.map(|b| if *single_page { b.single_page } else { b.calls }).sum::<u64>())
            }
        })
    }

    /// The measure in words, for a check's message: "cpu0's pcp count in zone Normal".
    pub fn describe(&self) -> String {
        match self {
            Measure::Returned => "what the last call returned".into(),
            Measure::PagesTaken => "the pages the last action took".into(),
            Measure::Cost(kind) => format!("the last action's {kind:?} count"),
            Measure::Entered(func) => format!("the number of calls to {} in the last action", func.name()),
            Measure::PcpCount { cpu, zone } => format!("cpu{cpu}'s pcp count in zone {}", zone.name()),
            Measure::PcpBatch { cpu, zone } => format!("cpu{cpu}'s pcp batch in zone {}", zone.name()),
            Measure::PcpHigh { cpu, zone } => format!("cpu{cpu}'s pcp high in zone {}", zone.name()),
            Measure::FreePages { zone } => format!("NR_FREE_PAGES of zone {}", zone.name()),
            Measure::FreeBlocks { zone, order } => {
                format!("free order-{order} blocks in zone {}", zone.name())
            }
            Measure::Watermark { zone, mark } => {
                format!("the {} watermark of zone {}", mark.name(), zone.name())
            }
            Measure::Held { holder } => format!("the pages {holder} holds"),
            Measure::Holes { holder } => format!("the NULL slots of {holder}"),
            Measure::Pfn { holder, slot } => format!("the pfn in slot {slot} of {holder}"),
            Measure::BuddyPfn { holder, slot, order } => {
                format!("the order-{order} buddy of the page in slot {slot} of {holder}")
            }
            Measure::Vm(c) => format!("vmstat {c:?}"),
            Measure::Gfp { mask, ask } => format!("{ask:?} of {mask}"),
            Measure::Sunrpc { stat, .. } => format!("the NFS server's {stat:?}"),
            Measure::Requests { lo, hi, single_page, .. } => format!(
                "the NFS server's allocator calls for {lo} to {hi} pages{}",
                if *single_page { " served by the single-page allocator" } else { "" }
            ),
        }
    }
}
