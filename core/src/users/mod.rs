//! Users of the page allocator: the kernel code that calls `alloc_pages_bulk`, modelled so the
//! allocator can be watched under the load it was written for.
//!
//! - [`sunrpc`]: an NFS server's threads (`svc_rqst`) refilling `rq_pages` with each era's
//!   `svc_alloc_arg()`, stepped one source line at a time, and a workload of RPCs that leaves the
//!   holes the kernel leaves.
//! - [`page_pool`]: a NAPI consumer refilling its 64-slot cache through the array API, with
//!   DMA-mapping failures and recycling.
//! - [`listing`]: the paraphrased kernel source a UI lights as a thread steps.
//!
//! Users call the allocator only through its public functions (`alloc_pages`,
//! `alloc_pages_bulk`, `free_held`), as the kernel's users do; what each call did is an
//! [`AllocCall`].

pub mod listing;
pub mod page_pool;
pub mod sunrpc;

use serde::Serialize;

use crate::bulk::BulkTarget;
use crate::gfp::Gfp;
use crate::machine::Machine;
use crate::trace::{Cost, Event, Note, TraceMode};

/// Which allocator entry a user called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocApi {
    /// `alloc_page(gfp)`: `__alloc_pages` for one order-0 page.
    AllocPage,
    /// `alloc_pages_bulk(gfp, nr, list)` / `alloc_pages_bulk_list`.
    BulkList,
    /// `alloc_pages_bulk_array(gfp, nr, array)`.
    BulkArray,
}

/// The way a call went, read from its events (known unless the trace is off).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "path", rename_all = "snake_case")]
pub enum AllocPath {
    /// The single-page allocator itself (`alloc_page`).
    AllocPage,
    /// The bulk fast path took pages from a pcp list.
    Bulk,
    /// The array was already full: nothing was allocated.
    ArrayFull,
    /// The bulk allocator handed the request to `__alloc_pages` for one page, and why.
    SinglePage { why: Note },
}

/// One call into the allocator made by a user, for the UI's "step into" and for the cost of a
/// refill.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AllocCall {
    pub api: AllocApi,
    pub cpu: u16,
    /// `nr_pages` as passed (1 for `alloc_page`).
    pub nr_pages: u32,
    /// Pages the call was asked to supply: the NULL slots of an array's first `nr_pages`, or
    /// `nr_pages` for a list and for `alloc_page`.
    pub holes: u32,
    /// What it returned: pages added (list), the cursor (array), 1 or 0 (`alloc_page`).
    pub returned: u32,
    /// Pages it actually handed over.
    pub allocated: u32,
    /// `None` when the trace was off.
    pub path: Option<AllocPath>,
    /// The trace events of the call (`start..end`), when recorded (empty when only counted).
    pub events: (usize, usize),
    /// What the call cost (zero with `TraceMode::Off`).
    pub cost: Cost,
}

/// The way a recorded call went: the first bulk fallback note decides.
fn classify(api: AllocApi, events: &[Event]) -> AllocPath {
    if api == AllocApi::AllocPage {
        return AllocPath::AllocPage;
    }
    for ev in events {
        if let Event::Note { note } = *ev {
            match note {
                Note::BulkArrayFull => return AllocPath::ArrayFull,
                Note::BulkSinglePage
                | Note::BulkAccountFallback
                | Note::BulkPageOwnerFallback
                | Note::BulkRemoteNode
                | Note::BulkNoZone
                | Note::BulkEmptyFallback => return AllocPath::SinglePage { why: note },
                _ => {}
            }
        }
    }
    AllocPath::Bulk
}

/// Call `alloc_page` or `alloc_pages_bulk` on `cpu` for holder `owner` and record the call. For
/// `alloc_page` the page goes to array slot `slot`.
fn call_allocator(
    m: &mut Machine,
    cpu: u16,
    api: AllocApi,
    gfp: Gfp,
    owner: u32,
    nr_pages: u32,
    slot: Option<usize>,
) -> AllocCall {
    m.current_cpu = cpu;
    let nid = m.cpu_to_node(cpu);
    let holes = match api {
        AllocApi::BulkArray => match &m.holders[owner as usize].slots {
            crate::machine::Slots::Array(a) => {
                a.iter().take(nr_pages as usize).filter(|&&p| p == crate::mem::NIL).count() as u32
            }
            crate::machine::Slots::List(_) => 0,
        },
        _ => nr_pages,
    };
    let held_before = m.held(owner);
    let cost_before = m.trace.cost;
    let first = m.trace.events.len();
    // A counting trace records the call's events just long enough to read its path from them,
    // so refills know their single-page calls in every mode but Off, and memory stays flat.
    let counting = m.trace.mode == TraceMode::Count;
    if counting {
        m.trace.mode = TraceMode::Record;
    }
    let returned = match api {
        AllocApi::AllocPage => u32::from(crate::sim::alloc_into_slot(m, owner, slot, gfp, 0).is_some()),
        AllocApi::BulkList | AllocApi::BulkArray => {
            let target = if api == AllocApi::BulkList { BulkTarget::List } else { BulkTarget::Array };
            m.caller = owner;
            m.alloc_pages_bulk(gfp, nid, nr_pages as i32, target)
        }
    };
    let mut end = m.trace.events.len();
    let path = (m.trace.mode == TraceMode::Record).then(|| classify(api, &m.trace.events[first..end]));
    if counting {
        m.trace.events.truncate(first);
        m.trace.mode = TraceMode::Count;
        end = first;
    }
    AllocCall {
        api,
        cpu,
        nr_pages,
        holes,
        returned,
        allocated: m.held(owner) - held_before,
        path,
        events: (first, end),
        cost: m.trace.cost.since(&cost_before),
    }
}

/// A user's simulated clock: sleeps advance it; nothing else takes time in the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Clock {
    pub ns: u64,
}

impl Clock {
    pub fn ms(&self) -> u64 {
        self.ns / 1_000_000
    }

    pub fn sleep_ms(&mut self, ms: u64) {
        self.ns += ms * 1_000_000;
    }
}

/// What a user action of a scenario did, for the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "user", rename_all = "snake_case")]
pub enum UserRun {
    Sunrpc(SunrpcRun),
    PagePool(PagePoolRun),
}

/// An NFS server's run: every refill, the request-size histogram, and optionally the same
/// workload on every profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SunrpcRun {
    pub action: usize,
    pub config: sunrpc::SvcConfig,
    /// `svc_alloc_arg`'s `pages`.
    pub pages: u32,
    pub rpcs: u64,
    pub served: u64,
    pub unserved: u64,
    pub hung_threads: u32,
    /// The server's simulated clock at the end (sleeps only).
    pub clock_ms: u64,
    pub refills: Vec<sunrpc::RefillRecord>,
    pub histogram: sunrpc::RequestHistogram,
    /// Empty unless the action asked to compare profiles.
    pub by_profile: Vec<sunrpc::ProfileHistogram>,
}

/// Run a server over `rpcs` on the machine; with `compare`, run the same RPCs on a fresh machine
/// of every profile too.
pub fn run_sunrpc(
    m: &mut Machine,
    action: usize,
    config: sunrpc::SvcConfig,
    rpcs: &[sunrpc::Rpc],
    compare: bool,
) -> Result<SunrpcRun, crate::config::ConfigError> {
    let mut serv = sunrpc::SvcServ::new(m, config)?;
    for rpc in rpcs {
        serv.serve(m, rpc);
        m.run_kswapd();
    }
    let by_profile = if compare { sunrpc::request_histograms(&m.config, config, rpcs)? } else { Vec::new() };
    Ok(SunrpcRun {
        action,
        config,
        pages: serv.pages,
        rpcs: rpcs.len() as u64,
        served: serv.served,
        unserved: serv.unserved,
        hung_threads: serv.hung_threads(),
        clock_ms: serv.clock.ms(),
        histogram: sunrpc::RequestHistogram::from_refills(&serv.refills),
        refills: serv.refills,
        by_profile,
    })
}

/// A page_pool's run: its refills and counters, and where its pages are at the end.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PagePoolRun {
    pub action: usize,
    pub polls: u32,
    pub budget: u32,
    /// Packets that got a page.
    pub received: u64,
    pub stats: page_pool::PoolStats,
    pub refills: Vec<page_pool::PoolRefill>,
    /// Pages in the cache, on the ring, and in flight at the end.
    pub cached: u32,
    pub ring: u32,
    pub in_flight: u32,
}

/// Create a pool named `page_pool<action>` and run `polls` NAPI polls of `budget` packets.
pub fn run_page_pool(
    m: &mut Machine,
    action: usize,
    config: page_pool::PoolConfig,
    polls: u32,
    budget: u32,
) -> Result<PagePoolRun, crate::config::ConfigError> {
    let mut pool = page_pool::PagePool::new(m, config, &format!("page_pool{action}"))?;
    let mut received = 0;
    for _ in 0..polls {
        received += u64::from(pool.napi_poll(m, budget));
        m.run_kswapd();
    }
    Ok(PagePoolRun {
        action,
        polls,
        budget,
        received,
        stats: pool.stats,
        cached: pool.count,
        ring: pool.ring_len(m),
        in_flight: m.held(pool.in_flight),
        refills: pool.refills,
    })
}
