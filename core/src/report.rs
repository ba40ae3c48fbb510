//! What a finished run looks like: a [`Report`] gathers the state of the machine after a
//! scenario (zones with their buddy lists, `/proc/buddyinfo` and `/proc/pagetypeinfo` counts,
//! watermarks, per-CPU pagesets, vmstat counters, the callers' holdings) and every action's
//! [`Outcome`] with its cost. It serialises to JSON for the CLI and the web UI, and
//! [`Report::to_text`] is the one text rendering of it.
//!
//! Everything here is read from the model in a fixed order (zones by id, CPUs by number,
//! holders in creation order), so the same run always gives the same report.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cost::CostModel;
use crate::gfp::{TaskContext, Wmark};
use crate::machine::{Machine, Slots, VmEvents};
use crate::mem::{
    MigrateType, Pfn, ZoneType, MAX_NR_ZONES, MIGRATE_PCPTYPES, NIL, NR_PAGE_ORDERS, PAGE_SHIFT,
};
use crate::mem::{PAGEBLOCK_NR_PAGES, PAGE_ALLOC_COSTLY_ORDER};
use crate::pcp::pindex_to_order;
use crate::profile::{PcpHighRule, PcpLists, Profile};
use crate::sim::svc_alloc_arg_name;
use crate::sim::{Outcome, Sim};
use crate::trace::{BadPageReason, Cost, Event, Note, TraceMode};
use crate::users::sunrpc::RequestHistogram;
use crate::users::{PagePoolRun, SunrpcRun, UserRun};
use crate::zone::{Zone, ZoneEvents};

/// The kernel-era profile a run used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileSummary {
    pub id: &'static str,
    pub title: &'static str,
}

/// The machine as booted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MachineSummary {
    pub nodes: usize,
    pub cpus: u32,
    /// Memory of every zone, reserved pages included.
    pub total_mib: u64,
    pub total_pages: u64,
    /// Pages given to the allocator (the sum of the zones' `managed_pages`).
    pub managed_pages: u64,
    /// `vm.min_free_kbytes`, as set or as computed at boot.
    pub min_free_kbytes: u64,
    /// `vm.percpu_pagelist_(high_)fraction`; 0 = unset.
    pub percpu_pagelist_fraction: u32,
    pub page_owner: bool,
    pub memcg_kmem: bool,
    pub init_on_alloc: bool,
}

/// One NUMA node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeReport {
    pub id: usize,
    pub cpus: Vec<u16>,
    /// Labels of the zones its `ZONELIST_FALLBACK` visits, in order.
    pub zonelist: Vec<String>,
}

/// `_watermark[]` of a zone, without the boost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Watermarks {
    pub min: u64,
    pub low: u64,
    pub high: u64,
    pub promo: u64,
}

/// Free blocks of one migratetype, per order (a row of `/proc/pagetypeinfo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FreeBlocks {
    pub migratetype: MigrateType,
    pub counts: [u64; NR_PAGE_ORDERS],
}

/// How many pageblocks have a migratetype ("Number of blocks type" in `/proc/pagetypeinfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PageblockCount {
    pub migratetype: MigrateType,
    pub blocks: u64,
}

/// One CPU's `struct per_cpu_pages` for a zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PcpReport {
    pub cpu: u16,
    /// Base pages on all its lists.
    pub count: u32,
    pub batch: u32,
    pub high: u32,
    /// 5.14–6.6: grows while frees follow frees, scaling the batch a free above `high` returns.
    pub free_factor: u8,
    /// 6.7+: the range `high` floats in.
    pub high_min: u32,
    pub high_max: u32,
    /// 6.7+: refills take `batch << alloc_factor`.
    pub alloc_factor: u8,
    /// 6.7+: pages freed since the last allocation.
    pub free_count: u32,
    /// Blocks on each list, by pindex (`order_to_pindex`).
    pub lists: Vec<u32>,
}

/// One zone after the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ZoneReport {
    /// Index in the machine's zone table.
    pub id: usize,
    /// "Node 0 Normal".
    pub label: String,
    pub node: usize,
    pub zone: ZoneType,
    pub start_pfn: Pfn,
    /// One past the last pfn.
    pub end_pfn: Pfn,
    pub spanned_pages: u32,
    pub managed_pages: u64,
    /// `NR_FREE_PAGES`: the buddy lists only; pages on pcp lists are not counted.
    pub free_pages: i64,
    /// Pages on the zone's pcp lists, all CPUs.
    pub pcp_pages: u64,
    /// Page-cache pages (what reclaim can take back).
    pub file_pages: u64,
    pub watermarks: Watermarks,
    pub watermark_boost: u64,
    /// `lowmem_reserve[]` (the "protection" of `/proc/zoneinfo`), by zone type DMA..MOVABLE.
    pub lowmem_reserve: [u64; MAX_NR_ZONES],
    pub nr_reserved_highatomic: u64,
    /// `nr_free` of each order, as `/proc/buddyinfo` prints it.
    pub buddyinfo: [u64; NR_PAGE_ORDERS],
    /// Free blocks per migratetype per order, as `/proc/pagetypeinfo` prints them.
    pub pagetypeinfo: Vec<FreeBlocks>,
    pub pageblocks: Vec<PageblockCount>,
    /// `pageset_batch` / `pageset_high` / `pageset_high_max`: what every CPU's pcp was last
    /// sized to (`pcp_high` is `high_min` in 6.7+; before 6.7 the two are equal).
    pub pcp_batch: u32,
    pub pcp_high: u32,
    pub pcp_high_max: u32,
    /// `ZONE_RECLAIM_ACTIVE` (5.14+): kswapd is reclaiming; pcp lists are capped at four batches.
    pub reclaim_active: bool,
    /// `ZONE_BELOW_HIGH` (6.7+): free pages fell below the high watermark, so pcp `high` decays.
    pub below_high: bool,
    pub pcp: Vec<PcpReport>,
    pub events: ZoneEvents,
}

/// What a holder keeps its pages in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HolderKind {
    List,
    Array,
}

/// A caller holding pages at the end of the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HolderReport {
    pub name: String,
    pub kind: HolderKind,
    /// Blocks held (list entries or non-NULL array slots).
    pub blocks: u64,
    /// Base pages held.
    pub pages: u64,
    /// Array length, for arrays.
    pub slots: Option<usize>,
    /// The first [`HOLDER_HEAD`] entries: a list from its head (the latest `list_add` first), an
    /// array slot by slot (`None` for a NULL slot). Each is the pfn of a block's first page.
    pub head: Vec<Option<Pfn>>,
}

/// How many entries of each holder a report shows.
pub const HOLDER_HEAD: usize = 16;

/// Everything a finished run shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub scenario: String,
    pub description: String,
    pub profile: ProfileSummary,
    pub seed: u64,
    pub task: TaskContext,
    pub machine: MachineSummary,
    pub nodes: Vec<NodeReport>,
    pub zones: Vec<ZoneReport>,
    /// Global `/proc/vmstat` events.
    pub vm: VmEvents,
    pub holders: Vec<HolderReport>,
    /// Whether the run recorded its events, so each call's notes are known.
    pub recorded: bool,
    pub calls: Vec<CallReport>,
    /// Cost of the whole run (equal to the sum of the calls' costs).
    pub total: Cost,
    /// The cycle table the calls are priced with (a model: simulated cycles, not measured ones).
    pub cost_model: CostModel,
    /// Simulated cycles and ns of the whole run.
    pub total_cycles: f64,
    pub total_sim_ns: f64,
    /// What the user actions (sunrpc servers, page pools) did.
    pub users: Vec<UserRun>,
}

/// One action: its [`Outcome`] and, from a recorded trace, what the model noted on the way.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallReport {
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Simulated cycles of the call's cost under the report's [`CostModel`].
    pub cycles: f64,
    /// The same as simulated nanoseconds.
    pub sim_ns: f64,
    /// Empty when the run was not recorded.
    pub notes: Vec<CallNote>,
}

/// A noteworthy event of a call, in the order first met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallNote {
    /// A statement of the model (a fallback taken, a failure, something not modelled), and how
    /// many times it was made.
    Note { note: Note, count: u64 },
    /// Pages refused by the free-path checks (`bad_page()`) for one reason: the first one's pfn,
    /// and how many.
    BadPage { reason: BadPageReason, pfn: Pfn, count: u64 },
    /// kswapd woken, how many times.
    KswapdWake { count: u64 },
    /// Page-cache pages reclaimed by kswapd or by direct reclaim, in how many rounds.
    Reclaim { direct: bool, pages: u64, rounds: u64 },
}

/// The notes of one call's events.
fn call_notes(events: &[Event]) -> Vec<CallNote> {
    let mut notes: Vec<CallNote> = Vec::new();
    for ev in events {
        match *ev {
            Event::Note { note } => {
                match notes.iter_mut().find(|n| matches!(n, CallNote::Note { note: m, .. } if *m == note)) {
                    Some(CallNote::Note { count, .. }) => *count += 1,
                    _ => notes.push(CallNote::Note { note, count: 1 }),
                }
            }
            Event::BadPage { pfn, reason } => match notes
                .iter_mut()
                .find(|n| matches!(n, CallNote::BadPage { reason: r, .. } if *r == reason))
            {
                Some(CallNote::BadPage { count, .. }) => *count += 1,
                _ => notes.push(CallNote::BadPage { reason, pfn, count: 1 }),
            },
            Event::KswapdWake { .. } => {
                match notes.iter_mut().find(|n| matches!(n, CallNote::KswapdWake { .. })) {
                    Some(CallNote::KswapdWake { count }) => *count += 1,
                    _ => notes.push(CallNote::KswapdWake { count: 1 }),
                }
            }
            Event::Reclaim { pages, direct, .. } => match notes
                .iter_mut()
                .find(|n| matches!(n, CallNote::Reclaim { direct: d, .. } if *d == direct))
            {
                Some(CallNote::Reclaim { pages: p, rounds, .. }) => {
                    *p += u64::from(pages);
                    *rounds += 1;
                }
                _ => notes.push(CallNote::Reclaim { direct, pages: u64::from(pages), rounds: 1 }),
            },
            _ => {}
        }
    }
    notes
}

/// A model note in words.
fn note_text(note: Note) -> &'static str {
    match note {
        Note::AllocFailure => "allocation failure (warn_alloc)",
        Note::NofailBounded => "__GFP_NOFAIL stopped after a bounded number of rounds",
        Note::BulkSinglePage => "one hole left: single-page path (__alloc_pages)",
        Note::BulkAccountFallback => "__GFP_ACCOUNT with kmem accounting: single-page path",
        Note::BulkPageOwnerFallback => "page_owner on: single-page path",
        Note::BulkRemoteNode => "reached a remote node's zone: one page via __alloc_pages",
        Note::BulkNoZone => "no zone above LOW + nr_pages: single-page path",
        Note::BulkEmptyFallback => "pcp list empty before any page: single-page path",
        Note::BulkPartial => "pcp list ran dry: returned a partial result",
        Note::BulkArrayFull => "array already full",
        Note::CompactionSkipped => "compaction not modelled",
        Note::OomNotModelled => "OOM killer not modelled",
        Note::BoostedWatermarkWake => "boosted watermark: kswapd woken from rmqueue",
        Note::FailPageAlloc => "fault injection: prepare_alloc_pages failed",
        #[allow(unreachable_patterns)]
        _ => "model note",
    }
}

fn bad_page_text(reason: BadPageReason) -> &'static str {
    match reason {
        BadPageReason::AlreadyFree => "already free (double free)",
        BadPageReason::NotManaged => "not a managed page",
        BadPageReason::NotHead => "not the head of its block",
        BadPageReason::WrongOrder => "freed with the wrong order",
        BadPageReason::NotOwner => "held by another owner",
        #[allow(unreachable_patterns)]
        _ => "refused",
    }
}

impl CallNote {
    /// The note in words.
    pub fn text(&self) -> String {
        match *self {
            CallNote::Note { note, count: 1 } => note_text(note).to_owned(),
            CallNote::Note { note, count } => format!("{} (x{count})", note_text(note)),
            CallNote::BadPage { reason, pfn, count: 1 } => {
                format!("bad page pfn {pfn}: {}", bad_page_text(reason))
            }
            CallNote::BadPage { reason, pfn, count } => {
                format!("{count} bad pages, {} (the first pfn {pfn})", bad_page_text(reason))
            }
            CallNote::KswapdWake { count: 1 } => "kswapd woken".to_owned(),
            CallNote::KswapdWake { count } => format!("kswapd woken x{count}"),
            CallNote::Reclaim { direct, pages, rounds } => format!(
                "{} reclaimed {pages} page-cache page{} in {rounds} round{}",
                if direct { "direct reclaim" } else { "kswapd" },
                plural(pages),
                plural(rounds)
            ),
        }
    }
}

impl Report {
    /// Read a report off a sim that has run (or is part way through) its scenario, priced with
    /// the calibrated cost model of its profile.
    pub fn from_sim(sim: &Sim) -> Report {
        Report::from_sim_priced(sim, &CostModel::for_profile(sim.machine.profile))
    }

    /// [`Report::from_sim`] with a cost model of the caller's (the UI's edited table).
    pub fn from_sim_priced(sim: &Sim, model: &CostModel) -> Report {
        let m = &sim.machine;
        let s = &sim.scenario;
        let zones: Vec<ZoneReport> = m.zones.iter().map(|z| zone_report(m, z)).collect();
        Report {
            scenario: s.name.clone(),
            description: s.description.clone(),
            profile: ProfileSummary { id: m.profile.id, title: m.profile.title },
            seed: s.seed,
            task: s.task,
            machine: MachineSummary {
                nodes: m.nodes.len(),
                cpus: m.config.cpus,
                total_mib: m.config.total_pages() >> (20 - PAGE_SHIFT),
                total_pages: m.config.total_pages(),
                managed_pages: zones.iter().map(|z| z.managed_pages).sum(),
                min_free_kbytes: m.min_free_kbytes,
                percpu_pagelist_fraction: m.config.percpu_pagelist_fraction,
                page_owner: m.config.page_owner,
                memcg_kmem: m.config.memcg_kmem,
                init_on_alloc: m.config.init_on_alloc,
            },
            nodes: m
                .nodes
                .iter()
                .map(|n| NodeReport {
                    id: n.id,
                    cpus: n.cpus.clone(),
                    zonelist: n.zonelist.iter().map(|r| m.zones[r.zone].label()).collect(),
                })
                .collect(),
            zones,
            vm: m.vm,
            holders: m.holders.iter().map(|h| holder_report(m, &h.slots, &h.name)).collect(),
            recorded: m.trace.mode == TraceMode::Record,
            calls: sim
                .outcomes
                .iter()
                .map(|o| {
                    let notes = match m.trace.events.get(o.events.0..o.events.1) {
                        Some(events) if m.trace.mode == TraceMode::Record => call_notes(events),
                        _ => Vec::new(),
                    };
                    CallReport {
                        outcome: o.clone(),
                        cycles: model.cycles(&o.cost),
                        sim_ns: model.nanos(&o.cost),
                        notes,
                    }
                })
                .collect(),
            total: m.trace.cost,
            cost_model: *model,
            total_cycles: model.cycles(&m.trace.cost),
            total_sim_ns: model.nanos(&m.trace.cost),
            users: sim.users.clone(),
        }
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
    }

    /// The report as text: a header, each call with its result and cost, then every zone
    /// (watermarks against free pages, buddyinfo, pagetypeinfo, pcp counts), vmstat and holders.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write_header(&mut out);
        self.write_calls(&mut out);
        for run in &self.users {
            match run {
                UserRun::Sunrpc(r) => write_sunrpc(&mut out, r),
                UserRun::PagePool(r) => write_page_pool(&mut out, r),
            }
        }
        for zone in &self.zones {
            self.write_zone(&mut out, zone);
        }
        self.write_vmstat(&mut out);
        self.write_holders(&mut out);
        out
    }

    fn write_header(&self, out: &mut String) {
        let m = &self.machine;
        let _ = writeln!(out, "Scenario: {}", self.scenario);
        for line in wrap(&self.description, 98) {
            let _ = writeln!(out, "  {line}");
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "Profile:  {}: {}", self.profile.id, self.profile.title);
        let _ = writeln!(
            out,
            "Machine:  {} node{}, {} CPU{}, {} MiB ({} pages, {} managed), min_free_kbytes {}",
            m.nodes,
            plural(m.nodes as u64),
            m.cpus,
            plural(u64::from(m.cpus)),
            m.total_mib,
            m.total_pages,
            m.managed_pages,
            m.min_free_kbytes
        );
        let mut options = Vec::new();
        if m.percpu_pagelist_fraction != 0 {
            options.push(format!("percpu_pagelist_fraction {}", m.percpu_pagelist_fraction));
        }
        if m.page_owner {
            options.push("page_owner=on".to_owned());
        }
        if !m.memcg_kmem {
            options.push("kmem accounting off".to_owned());
        }
        if m.init_on_alloc {
            options.push("init_on_alloc=1".to_owned());
        }
        if !options.is_empty() {
            let _ = writeln!(out, "          {}", options.join(", "));
        }
        for n in &self.nodes {
            let _ = writeln!(
                out,
                "  node {}: cpus {}; zonelist {}",
                n.id,
                cpu_ranges(&n.cpus),
                n.zonelist.join(", ")
            );
        }
        let _ = writeln!(out, "Task:     {}", task_text(&self.task));
        let _ = writeln!(out, "Seed:     {}", self.seed);
    }

    fn write_calls(&self, out: &mut String) {
        let _ = writeln!(out);
        let _ = writeln!(out, "Calls");
        let _ = writeln!(
            out,
            "  pages: net pages taken from the free and pcp lists (+) or given back (-), reclaim included;"
        );
        let _ = writeln!(
            out,
            "  zone-lock: zone->lock taken; pcp: pcp sections; irq-off: IRQ-disabled sections; moved: \
             pages moved;"
        );
        let _ = writeln!(out, "  stats: counter updates; wmark: watermark checks; events: all trace events;");
        let _ = writeln!(
            out,
            "  cycles, sim ns: simulated by the cost model at {} GHz (`pageflow cost`), not measured",
            self.cost_model.cpu_ghz
        );
        const HEAD: [&str; 13] = [
            "#",
            "pages",
            "zone-lock",
            "pcp",
            "irq-off",
            "moved",
            "stats",
            "splits",
            "merges",
            "wmark",
            "events",
            "cycles",
            "sim ns",
        ];
        let row = |index: String, pages: String, c: &Cost, cycles: f64, ns: f64| -> [String; 13] {
            [
                index,
                pages,
                c.zone_lock.to_string(),
                c.pcp_lock.to_string(),
                c.irq_off.to_string(),
                c.pages_moved.to_string(),
                c.stat_updates.to_string(),
                c.splits.to_string(),
                c.merges.to_string(),
                c.watermark_checks.to_string(),
                c.events.to_string(),
                format!("{cycles:.0}"),
                format!("{ns:.1}"),
            ]
        };
        let mut rows: Vec<([String; 13], String, String)> = self
            .calls
            .iter()
            .map(|c| {
                let o = &c.outcome;
                let pages = if o.pages > 0 { format!("+{}", o.pages) } else { o.pages.to_string() };
                let notes: Vec<String> = c.notes.iter().map(CallNote::text).collect();
                (
                    row(o.action.to_string(), pages, &o.cost, c.cycles, c.sim_ns),
                    format!("{} => {}", o.call, o.result),
                    notes.join("; "),
                )
            })
            .collect();
        let net: i64 = self.calls.iter().map(|c| c.outcome.pages).sum();
        let net = if net > 0 { format!("+{net}") } else { net.to_string() };
        rows.push((
            row("total".into(), net, &self.total, self.total_cycles, self.total_sim_ns),
            String::new(),
            String::new(),
        ));
        let mut widths: [usize; 13] = HEAD.map(str::len);
        for (cells, _, _) in &rows {
            for (w, c) in widths.iter_mut().zip(cells) {
                *w = (*w).max(c.len());
            }
        }
        let line = |cells: &[String], tail: &str| {
            let mut s = String::from(" ");
            for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
                if i == 0 {
                    let _ = write!(s, " {c:<w$}");
                } else {
                    let _ = write!(s, "  {c:>w$}");
                }
            }
            if !tail.is_empty() {
                let _ = write!(s, "  {tail}");
            }
            s
        };
        let head: Vec<String> = HEAD.iter().map(|h| h.to_string()).collect();
        let _ = writeln!(out, "{}", line(&head, "call => result"));
        let indent = line(&rows[0].0, "").len() + 2;
        for (cells, tail, notes) in &rows {
            let _ = writeln!(out, "{}", line(cells, tail));
            if !notes.is_empty() {
                let _ = writeln!(out, "{:indent$}({notes})", "");
            }
        }
        if !self.recorded {
            let _ = writeln!(out, "  (events not recorded: the calls' notes are not shown)");
        }
    }

    fn write_zone(&self, out: &mut String, z: &ZoneReport) {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}: pfn {}-{}, spanned {}, managed {}",
            zone_title(z),
            z.start_pfn,
            z.end_pfn.saturating_sub(1),
            z.spanned_pages,
            z.managed_pages
        );
        let w = &z.watermarks;
        let boosted = |mark: u64| mark + z.watermark_boost;
        let free = z.free_pages;
        let position = if free <= boosted(w.min) as i64 {
            "at or below min"
        } else if free <= boosted(w.low) as i64 {
            "at or below low"
        } else if free <= boosted(w.high) as i64 {
            "at or below high"
        } else {
            "above high"
        };
        let _ = writeln!(
            out,
            "  free {} ({position}); watermarks min {} low {} high {}, boost {}",
            free, w.min, w.low, w.high, z.watermark_boost
        );
        let _ = writeln!(
            out,
            "  on pcp lists {}, page cache {}, highatomic reserve {}, lowmem_reserve ({})",
            z.pcp_pages,
            z.file_pages,
            z.nr_reserved_highatomic,
            z.lowmem_reserve.map(|r| r.to_string()).join(", ")
        );

        let orders: String = (0..NR_PAGE_ORDERS).map(|o| format!("{o:>7}")).collect();
        let _ = writeln!(out, "  buddyinfo          order{orders}");
        let counts = |c: &[u64; NR_PAGE_ORDERS]| c.iter().map(|n| format!(" {n:>6}")).collect::<String>();
        let _ = writeln!(out, "  Node {}, zone {:>8}{}", z.node, z.zone.name(), counts(&z.buddyinfo));
        let _ = writeln!(out, "  pagetypeinfo (free blocks by migratetype)");
        for row in &z.pagetypeinfo {
            let _ = writeln!(
                out,
                "  Node {:>4}, zone {:>8}, type {:>12}{}",
                z.node,
                z.zone.name(),
                row.migratetype.name(),
                counts(&row.counts)
            );
        }
        let blocks: Vec<String> =
            z.pageblocks.iter().map(|b| format!("{} {}", b.migratetype.name(), b.blocks)).collect();
        let _ = writeln!(out, "  pageblocks: {}", blocks.join(", "));

        let rules = self.profile_rules();
        let auto_tune = rules.pcp_high == PcpHighRule::AutoTune;
        let mut flags = Vec::new();
        if z.reclaim_active {
            flags.push("reclaim active");
        }
        if z.below_high {
            flags.push("below high watermark");
        }
        let flags = if flags.is_empty() { String::new() } else { format!("; {}", flags.join(", ")) };
        if auto_tune {
            let _ = writeln!(
                out,
                "  pcp (batch {}, high from {} to {}{flags})",
                z.pcp_batch, z.pcp_high, z.pcp_high_max
            );
        } else {
            let _ = writeln!(out, "  pcp (batch {}, high {}{flags})", z.pcp_batch, z.pcp_high);
        }
        let width = |f: &dyn Fn(&PcpReport) -> String| z.pcp.iter().map(|p| f(p).len()).max().unwrap_or(1);
        let iw = width(&|p| format!("cpu{}", p.cpu));
        let cw = width(&|p| p.count.to_string());
        let hw = width(&|p| p.high.to_string());
        let bw = width(&|p| p.batch.to_string());
        for p in &z.pcp {
            let mut line = format!(
                "    {:<iw$}  count {:>cw$} / high {:>hw$}  batch {:>bw$}",
                format!("cpu{}", p.cpu),
                p.count,
                p.high,
                p.batch
            );
            match rules.pcp_high {
                PcpHighRule::SixTimesBatch => {}
                PcpHighRule::LowWatermarkSplit => {
                    let _ = write!(line, "  free_factor {}", p.free_factor);
                }
                _ => {
                    let _ = write!(line, "  alloc_factor {}  free_count {}", p.alloc_factor, p.free_count);
                }
            }
            let lists: Vec<String> = p
                .lists
                .iter()
                .enumerate()
                .filter(|&(_, &n)| n > 0)
                .map(|(pindex, n)| format!("{} {n}", pindex_label(rules, pindex)))
                .collect();
            if !lists.is_empty() {
                let _ = write!(line, "  [{}]", lists.join(", "));
            }
            let _ = writeln!(out, "{line}");
        }
        let e = &z.events;
        let _ = writeln!(
            out,
            "  events: pgalloc {}, numa_hit {}, numa_miss {}, numa_foreign {}, numa_local {}, numa_other {}",
            e.pgalloc, e.numa_hit, e.numa_miss, e.numa_foreign, e.numa_local, e.numa_other
        );
    }

    fn write_vmstat(&self, out: &mut String) {
        let _ = writeln!(out);
        let _ = writeln!(out, "vmstat");
        let mut rows: Vec<(String, String)> = Vec::new();
        let sum = |f: &dyn Fn(&ZoneReport) -> u64| -> u64 { self.zones.iter().map(f).sum() };
        let free: i64 = self.zones.iter().map(|z| z.free_pages).sum();
        rows.push(("nr_free_pages".into(), free.to_string()));
        rows.push(("nr_file_pages".into(), sum(&|z| z.file_pages).to_string()));
        rows.push(("pcp pages (all CPUs)".into(), sum(&|z| z.pcp_pages).to_string()));
        for kind in ZoneType::ALL {
            if self.zones.iter().any(|z| z.zone == kind) {
                let n = sum(&|z| if z.zone == kind { z.events.pgalloc } else { 0 });
                rows.push((format!("pgalloc_{}", kind.name().to_ascii_lowercase()), n.to_string()));
            }
        }
        let v = &self.vm;
        rows.push(("pgfree".into(), v.pgfree.to_string()));
        rows.push(("numa_hit".into(), sum(&|z| z.events.numa_hit).to_string()));
        rows.push(("numa_miss".into(), sum(&|z| z.events.numa_miss).to_string()));
        rows.push(("numa_foreign".into(), sum(&|z| z.events.numa_foreign).to_string()));
        rows.push(("numa_local".into(), sum(&|z| z.events.numa_local).to_string()));
        rows.push(("numa_other".into(), sum(&|z| z.events.numa_other).to_string()));
        rows.push(("pgsteal_kswapd".into(), v.pgsteal_kswapd.to_string()));
        rows.push(("pgsteal_direct".into(), v.pgsteal_direct.to_string()));
        rows.push(("allocstall".into(), v.allocstall.to_string()));
        rows.push(("kswapd wake-ups".into(), v.kswapd_wakeups.to_string()));
        rows.push(("allocation failures".into(), v.alloc_failures.to_string()));
        let kw = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in rows {
            let _ = writeln!(out, "  {k:<kw$}  {v}");
        }
    }

    fn write_holders(&self, out: &mut String) {
        let _ = writeln!(out);
        let _ = writeln!(out, "Holders");
        let nw = self.holders.iter().map(|h| h.name.len()).max().unwrap_or(0);
        for h in &self.holders {
            let what = match (h.kind, h.slots) {
                (HolderKind::Array, Some(slots)) => {
                    format!("array of {slots}: {} filled, {} NULL", h.blocks, slots as u64 - h.blocks)
                }
                _ => format!("list of {} block{}", h.blocks, plural(h.blocks)),
            };
            let _ = writeln!(out, "  {:<nw$}  {:>7} page{}  {what}", h.name, h.pages, plural1(h.pages));
            if h.blocks == 0 {
                continue;
            }
            let mut entries: Vec<String> =
                h.head.iter().map(|p| p.map_or_else(|| "NULL".to_owned(), |p| p.to_string())).collect();
            let total = h.slots.unwrap_or(h.blocks as usize);
            if total > h.head.len() {
                entries.push(format!("... ({} more)", total - h.head.len()));
            }
            let what = if h.kind == HolderKind::List { "head" } else { "slots" };
            let _ = writeln!(out, "  {:<nw$}  {what}: {}", "", entries.join(" "));
        }
    }

    /// The profile's pcp list layout, for naming pcp lists.
    fn profile_rules(&self) -> &'static Profile {
        Profile::by_id(self.profile.id).expect("a report names a known profile")
    }
}

/// How many refills of a sunrpc run the text report lists.
pub const REFILL_ROWS: usize = 24;

/// Rows of cells as a table: the first column left-aligned, the rest right-aligned.
fn table(out: &mut String, indent: &str, rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(String::len).max().unwrap_or(0)).collect();
    for row in rows {
        let mut line = String::from(indent);
        for (c, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if c == 0 {
                let _ = write!(line, "{cell:<w$}");
            } else {
                let _ = write!(line, "  {cell:>w$}");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// The cost columns shared by the users' tables.
fn cost_cells(c: &Cost) -> Vec<String> {
    [c.zone_lock, c.pcp_lock, c.irq_off, c.pages_moved, c.events].iter().map(u64::to_string).collect()
}

const COST_HEAD: [&str; 5] = ["zone-lock", "pcp", "irq-off", "moved", "events"];

fn write_sunrpc(out: &mut String, r: &SunrpcRun) {
    let c = &r.config;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "sunrpc (action {}): {} nfsd thread{}, rq_pages of {} (payload {} KiB), svc_alloc_arg: {}{}",
        r.action,
        c.threads,
        plural(u64::from(c.threads)),
        r.pages,
        c.payload_kib,
        svc_alloc_arg_name(c.form),
        if c.splice { ", splice reads" } else { "" }
    );
    let sleeps: u64 = r.refills.iter().map(|f| u64::from(f.sleeps)).sum();
    let _ = writeln!(
        out,
        "  {} RPCs: {} served, {} unserved; {} thread{} hung; {} refills, {sleeps} sleep{}, server clock {} ms",
        r.rpcs,
        r.served,
        r.unserved,
        r.hung_threads,
        plural(u64::from(r.hung_threads)),
        r.refills.len(),
        plural(sleeps),
        r.clock_ms
    );
    let _ = writeln!(
        out,
        "  holes: NULL slots on entry; prefix: populated slots before the first hole; asked: pages the calls \
         were asked for;"
    );
    let _ =
        writeln!(out, "  single: calls that ended in the single-page allocator; then the allocator's cost");
    let mut head: Vec<String> =
        ["refill", "thread", "holes", "prefix", "asked", "filled", "calls", "single", "sleeps", "slept-ms"]
            .iter()
            .map(|h| h.to_string())
            .collect();
    head.extend(COST_HEAD.iter().map(|h| h.to_string()));
    let mut rows = vec![head];
    for (i, f) in r.refills.iter().enumerate().take(REFILL_ROWS) {
        let mut row: Vec<String> = vec![
            i.to_string(),
            f.thread.to_string(),
            f.holes_before.to_string(),
            f.prefix.to_string(),
            f.requested.to_string(),
            f.filled.to_string(),
            f.calls.to_string(),
            f.single_page_calls.to_string(),
            f.sleeps.to_string(),
            f.slept_ms.to_string(),
        ];
        row.extend(cost_cells(&f.cost));
        if f.gave_up {
            row.push("gave up: thread hung".into());
        }
        rows.push(row);
    }
    table(out, "  ", &rows);
    if r.refills.len() > REFILL_ROWS {
        let _ = writeln!(out, "  ... ({} more refills)", r.refills.len() - REFILL_ROWS);
    }
    let _ = writeln!(out, "  bulk request sizes (holes each allocator call was asked to fill)");
    out.push_str(&r.histogram.to_text("    "));
    if !r.by_profile.is_empty() {
        write_by_profile(out, r);
    }
}

/// The per-profile comparison: one row per profile, the request-size buckets as columns.
fn write_by_profile(out: &mut String, r: &SunrpcRun) {
    let _ = writeln!(
        out,
        "  the same {} RPCs on a fresh machine of every profile, each with its own svc_alloc_arg:",
        r.rpcs
    );
    let _ = writeln!(out, "  calls by holes asked for (single-page calls in brackets)");
    let buckets = &r.by_profile[0].histogram.buckets;
    let mut head: Vec<String> = vec!["profile".into(), "svc_alloc_arg".into()];
    head.extend(buckets.iter().map(|b| bucket_label(b.lo, b.hi)));
    head.extend(["calls", "single", "sleeps", "slept-ms", "hung"].iter().map(|h| h.to_string()));
    let mut rows = vec![head];
    for p in &r.by_profile {
        let h: &RequestHistogram = &p.histogram;
        let mut row = vec![p.profile.to_string(), format!("{:?}", p.form)];
        row.extend(h.buckets.iter().map(|b| match (b.calls, b.single_page) {
            (0, _) => "-".to_owned(),
            (n, 0) => n.to_string(),
            (n, s) => format!("{n}[{s}]"),
        }));
        row.extend([
            h.calls.to_string(),
            h.single_page.to_string(),
            p.sleeps.to_string(),
            p.slept_ms.to_string(),
            p.hung_threads.to_string(),
        ]);
        rows.push(row);
    }
    table(out, "    ", &rows);
}

/// "0", "3-4", "257+".
pub fn bucket_label(lo: u32, hi: u32) -> String {
    match (lo, hi) {
        (lo, hi) if lo == hi => lo.to_string(),
        (lo, u32::MAX) => format!("{lo}+"),
        (lo, hi) => format!("{lo}-{hi}"),
    }
}

fn write_page_pool(out: &mut String, r: &PagePoolRun) {
    let s = &r.stats;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "page_pool (action {}): {} NAPI poll{} of {}, {} packets received",
        r.action,
        r.polls,
        plural(u64::from(r.polls)),
        r.budget,
        r.received
    );
    let _ = writeln!(
        out,
        "  allocations: {} from the cache, {} cache refills from the ring, {} from the slow path, {} failed; \
         ring empty {} times",
        s.fast, s.refill, s.slow, s.failed, s.empty
    );
    let _ = writeln!(
        out,
        "  recycled: {} into the cache, {} into the ring, {} turned away by a full ring; {} pages returned \
         to the allocator ({} failed DMA mapping)",
        s.recycled_cached, s.recycled_ring, s.ring_full, s.returned, s.dma_map_failed
    );
    let _ = writeln!(
        out,
        "  at the end: {} cached, {} on the ring, {} in flight; the pool's pages: hold_cnt {} - release_cnt {} = {}",
        r.cached,
        r.ring,
        r.in_flight,
        s.hold_cnt,
        s.release_cnt,
        s.hold_cnt - s.release_cnt
    );
    let mut head: Vec<String> =
        ["refill", "asked", "got", "mapped", "dma-failed"].iter().map(|h| h.to_string()).collect();
    head.extend(COST_HEAD.iter().map(|h| h.to_string()));
    let mut rows = vec![head];
    for (i, f) in r.refills.iter().enumerate().take(REFILL_ROWS) {
        let failed: Vec<String> = f.dma_failed.iter().map(|s| format!("slot {s}")).collect();
        let mut row = vec![
            i.to_string(),
            f.call.nr_pages.to_string(),
            f.call.allocated.to_string(),
            f.mapped.to_string(),
            if failed.is_empty() { "-".to_owned() } else { failed.join(" ") },
        ];
        row.extend(cost_cells(&f.call.cost));
        rows.push(row);
    }
    table(out, "  ", &rows);
    if r.refills.len() > REFILL_ROWS {
        let _ = writeln!(out, "  ... ({} more refills)", r.refills.len() - REFILL_ROWS);
    }
}

fn zone_report(m: &Machine, z: &Zone) -> ZoneReport {
    let mut pageblocks: Vec<PageblockCount> =
        MigrateType::ALL.iter().map(|&mt| PageblockCount { migratetype: mt, blocks: 0 }).collect();
    for mt in &z.pageblock_mt {
        pageblocks[mt.index()].blocks += 1;
    }
    debug_assert_eq!(z.pageblock_mt.len() as u64, u64::from(z.spanned_pages.div_ceil(PAGEBLOCK_NR_PAGES)));
    ZoneReport {
        id: z.id,
        label: z.label(),
        node: z.node,
        zone: z.kind,
        start_pfn: z.start_pfn,
        end_pfn: z.end_pfn(),
        spanned_pages: z.spanned_pages,
        managed_pages: z.managed_pages,
        free_pages: z.nr_free_pages,
        pcp_pages: z.pcp.iter().map(|p| u64::from(p.count)).sum(),
        file_pages: z.nr_file_pages,
        watermarks: Watermarks {
            min: z.watermark[Wmark::Min.index()],
            low: z.watermark[Wmark::Low.index()],
            high: z.watermark[Wmark::High.index()],
            promo: z.watermark[Wmark::Promo.index()],
        },
        watermark_boost: z.watermark_boost,
        lowmem_reserve: z.lowmem_reserve,
        nr_reserved_highatomic: z.nr_reserved_highatomic,
        buddyinfo: m.buddyinfo(z.id),
        pagetypeinfo: MigrateType::ALL
            .iter()
            .map(|&mt| FreeBlocks {
                migratetype: mt,
                counts: std::array::from_fn(|o| u64::from(z.free_area[o].free_list[mt.index()].len)),
            })
            .collect(),
        pageblocks,
        pcp_batch: z.pageset_batch,
        pcp_high: z.pageset_high,
        pcp_high_max: z.pageset_high_max,
        reclaim_active: z.reclaim_active,
        below_high: z.below_high,
        pcp: z
            .pcp
            .iter()
            .enumerate()
            .map(|(cpu, p)| PcpReport {
                cpu: cpu as u16,
                count: p.count,
                batch: p.batch,
                high: p.high,
                free_factor: p.free_factor,
                high_min: p.high_min,
                high_max: p.high_max,
                alloc_factor: p.alloc_factor,
                free_count: p.free_count,
                lists: p.lists().iter().map(|l| l.len).collect(),
            })
            .collect(),
        events: z.events,
    }
}

fn holder_report(m: &Machine, slots: &Slots, name: &str) -> HolderReport {
    let order_pages = |pfn: Pfn| 1u64 << m.pages[pfn as usize].order();
    let (kind, blocks, pages, len, head) = match slots {
        Slots::List(l) => (
            HolderKind::List,
            u64::from(l.len()),
            l.iter().map(order_pages).sum(),
            None,
            l.iter().take(HOLDER_HEAD).map(Some).collect(),
        ),
        Slots::Array(a) => {
            let held: Vec<Pfn> = a.iter().copied().filter(|&p| p != NIL).collect();
            (
                HolderKind::Array,
                held.len() as u64,
                held.iter().map(|&p| order_pages(p)).sum(),
                Some(a.len()),
                a.iter().take(HOLDER_HEAD).map(|&p| (p != NIL).then_some(p)).collect(),
            )
        }
    };
    HolderReport { name: name.to_owned(), kind, blocks, pages, slots: len, head }
}

/// "order-0 Unmovable", "THP Movable": what a pcp list holds.
fn pindex_label(profile: &Profile, pindex: usize) -> String {
    let low_lists = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER as usize + 1);
    let mt = |i: usize| MigrateType::from_index(i).name();
    match profile.pcp_lists {
        PcpLists::ByMigratetype => format!("order-0 {}", mt(pindex)),
        _ if pindex < low_lists => format!("order-{} {}", pindex_to_order(profile, pindex), mt(pindex % 3)),
        PcpLists::ByOrderThpPerType => format!("THP {}", mt(pindex - low_lists)),
        PcpLists::ByOrderThpMovableSplit if pindex == low_lists => "THP Unmovable/Reclaimable".to_owned(),
        PcpLists::ByOrderThpMovableSplit => "THP Movable".to_owned(),
    }
}

/// "Node 0, zone   Normal", as `/proc/zoneinfo` and `/proc/buddyinfo` name zones.
fn zone_title(z: &ZoneReport) -> String {
    format!("Node {}, zone {:>8}", z.node, z.zone.name())
}

fn task_text(t: &TaskContext) -> String {
    let mut parts = vec![if t.in_task { "process context" } else { "softirq context" }];
    if t.rt_task {
        parts.push("rt task");
    }
    if t.pf_memalloc {
        parts.push("PF_MEMALLOC");
    }
    if t.oom_victim {
        parts.push("OOM victim");
    }
    parts.join(", ")
}

/// "0-3", "0-1, 4", from a sorted list of CPUs.
fn cpu_ranges(cpus: &[u16]) -> String {
    if cpus.is_empty() {
        return "none".to_owned();
    }
    let mut parts = Vec::new();
    let mut start = cpus[0];
    let mut prev = cpus[0];
    for &c in &cpus[1..] {
        if c != prev + 1 {
            parts.push(range_text(start, prev));
            start = c;
        }
        prev = c;
    }
    parts.push(range_text(start, prev));
    parts.join(", ")
}

fn range_text(a: u16, b: u16) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a}-{b}")
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// "s" or " " so columns of "page"/"pages" stay aligned.
fn plural1(n: u64) -> &'static str {
    if n == 1 {
        " "
    } else {
        "s"
    }
}

/// Greedy word wrap.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use crate::trace::TraceMode;

    fn default_report() -> Report {
        let mut sim = Sim::new(&Scenario::default_scenario(), TraceMode::Count).unwrap();
        sim.run();
        Report::from_sim(&sim)
    }

    #[test]
    fn the_total_cost_is_the_sum_of_the_outcomes() {
        let r = default_report();
        let events: u64 = r.calls.iter().map(|c| c.outcome.cost.events).sum();
        let moved: u64 = r.calls.iter().map(|c| c.outcome.cost.pages_moved).sum();
        assert_eq!(events, r.total.events);
        assert_eq!(moved, r.total.pages_moved);
    }

    #[test]
    fn buddyinfo_and_pagetypeinfo_agree_with_free_pages() {
        let r = default_report();
        for z in &r.zones {
            let pages: u64 = z.buddyinfo.iter().enumerate().map(|(o, n)| n << o).sum();
            assert_eq!(pages as i64, z.free_pages, "{}", z.label);
            for o in 0..NR_PAGE_ORDERS {
                let by_type: u64 = z.pagetypeinfo.iter().map(|row| row.counts[o]).sum();
                assert_eq!(by_type, z.buddyinfo[o], "{} order {o}", z.label);
            }
            let blocks: u64 = z.pageblocks.iter().map(|b| b.blocks).sum();
            assert_eq!(blocks, u64::from(z.spanned_pages.div_ceil(PAGEBLOCK_NR_PAGES)));
        }
    }

    #[test]
    fn the_text_report_is_deterministic_and_names_every_zone() {
        let (a, b) = (default_report().to_text(), default_report().to_text());
        assert_eq!(a, b);
        assert!(a.contains("Node 0, zone   Normal"), "{a}");
        assert!(a.contains("Node 0, zone    DMA32"), "{a}");
    }

    #[test]
    fn cpu_ranges_are_compact() {
        assert_eq!(cpu_ranges(&[0, 1, 2, 3]), "0-3");
        assert_eq!(cpu_ranges(&[0, 1, 4]), "0-1, 4");
        assert_eq!(cpu_ranges(&[2]), "2");
        assert_eq!(cpu_ranges(&[]), "none");
    }
}
