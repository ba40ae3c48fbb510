//! The trace: every change of state is an [`Event`]. A [`Trace`] records them all, only counts
//! them, or drops them, so benchmarks can run without the cost of recording while the UI and the
//! CLI see everything.

use serde::{Deserialize, Serialize};

use crate::gfp::{AllocFlags, Gfp, Wmark};
use crate::mem::{MigrateType, Pfn};
use crate::profile::SvcAllocArg;
use crate::watermark::WatermarkCheck;

/// A simulated kernel function. `name()` is the kernel's spelling, for the code panel and grep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Func {
    AllocPages,
    AllocPagesBulk,
    AllocPagesSlowpath,
    GetPageFromFreelist,
    Rmqueue,
    RmqueuePcplist,
    RmqueuePcplistLocked,
    RmqueueBuddy,
    RmqueueBulk,
    RmqueueSmallest,
    RmqueueFallback,
    PrepNewPage,
    FreePages,
    FreeUnrefPage,
    FreeUnrefPageCommit,
    FreePcppagesBulk,
    FreeOnePage,
    DrainPagesZone,
    DrainAllPages,
    WakeAllKswapds,
    Kswapd,
    DirectReclaim,
}

impl Func {
    pub fn name(self) -> &'static str {
        match self {
            Func::AllocPages => "__alloc_pages",
            Func::AllocPagesBulk => "__alloc_pages_bulk",
            Func::AllocPagesSlowpath => "__alloc_pages_slowpath",
            Func::GetPageFromFreelist => "get_page_from_freelist",
            Func::Rmqueue => "rmqueue",
            Func::RmqueuePcplist => "rmqueue_pcplist",
            Func::RmqueuePcplistLocked => "__rmqueue_pcplist",
            Func::RmqueueBuddy => "rmqueue_buddy",
            Func::RmqueueBulk => "rmqueue_bulk",
            Func::RmqueueSmallest => "__rmqueue_smallest",
            Func::RmqueueFallback => "__rmqueue_fallback",
            Func::PrepNewPage => "prep_new_page",
            Func::FreePages => "__free_pages",
            Func::FreeUnrefPage => "free_unref_page",
            Func::FreeUnrefPageCommit => "free_unref_page_commit",
            Func::FreePcppagesBulk => "free_pcppages_bulk",
            Func::FreeOnePage => "__free_one_page",
            Func::DrainPagesZone => "drain_pages_zone",
            Func::DrainAllPages => "drain_all_pages",
            Func::WakeAllKswapds => "wake_all_kswapds",
            Func::Kswapd => "kswapd",
            Func::DirectReclaim => "__alloc_pages_direct_reclaim",
        }
    }
}

/// The arguments of a call, as far as the UI shows them. Absent fields do not apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Args {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpu: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub zone: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gfp: Option<Gfp>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub order: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pfn: Option<Pfn>,
    /// `nr_pages` for bulk, `count` for `rmqueue_bulk` / `free_pcppages_bulk`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nr: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mt: Option<MigrateType>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alloc_flags: Option<AllocFlags>,
}

/// Where a block of pages is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", rename_all = "snake_case")]
pub enum Loc {
    /// `zone->free_area[order].free_list[mt]`.
    Buddy { zone: u16, order: u8, mt: MigrateType },
    /// `pcp->lists[pindex]` of a CPU for a zone.
    Pcp { zone: u16, cpu: u16, pindex: u8 },
    /// Held by a caller: a holder (list or array) of the simulation; `slot` for arrays.
    Caller { owner: u32, slot: Option<u32> },
}

/// A lock of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "lock", rename_all = "snake_case")]
pub enum LockId {
    /// `zone->lock`.
    Zone { zone: u16 },
    /// The pcp lock of a CPU for a zone (era-dependent form: see `PcpLocking`).
    Pcp { zone: u16, cpu: u16 },
}

/// A counter of `/proc/vmstat`, `/proc/zoneinfo` or a pcp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Counter {
    NrFreePages,
    Pgalloc,
    Pgfree,
    NumaHit,
    NumaMiss,
    NumaForeign,
    NumaLocal,
    NumaOther,
    PcpCount,
    NrReservedHighatomic,
    WatermarkBoost,
    PgstealKswapd,
    PgstealDirect,
    Allocstall,
}

/// Why a page could not be freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadPageReason {
    /// The page is free already (`PageBuddy` or on a pcp list): a double free.
    AlreadyFree,
    /// The pfn is reserved or outside every zone.
    NotManaged,
    /// The pfn is inside a block, not its head.
    NotHead,
    /// The order given does not match the allocation.
    WrongOrder,
    /// The page belongs to another owner.
    NotOwner,
}

/// Plain statements the model makes about what it did or did not model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Note {
    /// The allocation failed (`warn_alloc`: "page allocation failure").
    AllocFailure,
    /// `__GFP_NOFAIL` would loop forever here; the model stops after a bounded number of rounds.
    NofailBounded,
    /// Bulk: fewer than two holes left; the request goes to `__alloc_pages` (one page).
    BulkSinglePage,
    /// Bulk: `__GFP_ACCOUNT` with kmem accounting sends the request to the single-page path.
    BulkAccountFallback,
    /// Bulk: page_owner is enabled, so every bulk request takes the single-page path.
    BulkPageOwnerFallback,
    /// Bulk: a zone of a remote node was reached; one page via the normal allocator.
    BulkRemoteNode,
    /// Bulk: no zone passed the watermark `LOW + nr_pages`.
    BulkNoZone,
    /// Bulk: the first pcp take failed; fall back to the single-page allocator.
    BulkEmptyFallback,
    /// Bulk: the pcp list ran dry after some pages; return what was allocated.
    BulkPartial,
    /// Bulk: the array is full already.
    BulkArrayFull,
    /// Compaction is not modelled.
    CompactionSkipped,
    /// The OOM killer is not modelled; a failed allocation fails.
    OomNotModelled,
    /// `ZONE_BOOSTED_WATERMARK` was cleared and kswapd woken from `rmqueue`.
    BoostedWatermarkWake,
    /// Fault injection: `should_fail_alloc_page()` failed `prepare_alloc_pages()`.
    FailPageAlloc,
}

/// One change of state.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum Event {
    /// A simulated kernel function is entered.
    Enter {
        func: Func,
        args: Args,
    },
    /// It returns: `ret` is a pfn, a count, or -1 for NULL, as the function returns.
    Exit {
        func: Func,
        ret: i64,
    },
    /// A block of `1 << order` pages moved.
    Move {
        pfn: Pfn,
        order: u8,
        from: Loc,
        to: Loc,
    },
    /// `expand()`: the upper half of a block at `order + 1` goes back at `order`.
    Split {
        zone: u16,
        pfn: Pfn,
        buddy: Pfn,
        order: u8,
    },
    /// `__free_one_page()`: `pfn` and its buddy merge into a block of `order + 1`.
    Merge {
        zone: u16,
        pfn: Pfn,
        buddy: Pfn,
        order: u8,
    },
    Lock {
        lock: LockId,
        taken: bool,
    },
    Irq {
        cpu: u16,
        disabled: bool,
    },
    /// A watermark check: which watermark (bulk adds `nr_pages` to LOW), and its numbers.
    Watermark {
        func: Func,
        wmark: Wmark,
        check: WatermarkCheck,
    },
    Counter {
        counter: Counter,
        zone: Option<u16>,
        cpu: Option<u16>,
        delta: i64,
        value: i64,
    },
    Pageblock {
        zone: u16,
        pfn: Pfn,
        from: MigrateType,
        to: MigrateType,
    },
    KswapdWake {
        node: u16,
    },
    Reclaim {
        node: u16,
        pages: u32,
        direct: bool,
    },
    BadPage {
        pfn: Pfn,
        reason: BadPageReason,
    },
    Note {
        note: Note,
    },
    /// A user of the allocator runs one line of its listing: sunrpc thread `thread`'s
    /// `svc_alloc_arg()` in `form`, at position `line` of `users::listing`.
    Line {
        thread: u16,
        form: SvcAllocArg,
        line: u16,
    },
}

/// What a call cost, counted from its events. [`crate::cost::CostModel`] turns the counts into
/// simulated cycles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    pub events: u64,
    pub zone_lock: u64,
    pub pcp_lock: u64,
    pub irq_off: u64,
    pub pages_moved: u64,
    /// Every counter event, pcp `count` changes included.
    pub stat_updates: u64,
    pub splits: u64,
    pub merges: u64,
    pub watermark_checks: u64,
    /// Simulated kernel functions entered.
    #[serde(default)]
    pub calls: u64,
    /// Blocks put on or taken off a pcp list (`list_add` / `list_del` on `pcp->lists[]`).
    #[serde(default)]
    pub pcp_list_ops: u64,
    /// Blocks put on or taken off a buddy free list by a move (splits and merges are counted
    /// apart).
    #[serde(default)]
    pub buddy_list_ops: u64,
    /// Blocks `__alloc_pages_bulk()` put on the caller's `page_list` with `list_add()` (list
    /// mode; in array mode the slot store is a plain store and counts nothing).
    #[serde(default)]
    pub page_list_adds: u64,
    /// Updates of vmstat and zone counters (`NR_FREE_PAGES`, `PGALLOC`, `PGFREE`, the NUMA
    /// events …): `stat_updates` without the pcp `count` changes, which are part of a list op.
    #[serde(default)]
    pub vm_stat_updates: u64,
    /// Base pages through `prep_new_page()`.
    #[serde(default)]
    pub prep_pages: u64,
    /// Base pages zeroed by `prep_new_page()` (`__GFP_ZERO` or `init_on_alloc`).
    #[serde(default)]
    pub zeroed_pages: u64,
    /// Base pages through `__free_pages()` (the reference drop and `free_pages_prepare()`).
    #[serde(default)]
    pub freed_pages: u64,
}

/// The list operations one end of a move costs: (pcp list, buddy free list); a caller's own
/// list or array is not the allocator's work.
fn list_ends(loc: &Loc) -> (u64, u64) {
    match loc {
        Loc::Pcp { .. } => (1, 0),
        Loc::Buddy { .. } => (0, 1),
        Loc::Caller { .. } => (0, 0),
    }
}

impl Cost {
    #[inline(always)]
    fn count(&mut self, ev: &Event) {
        self.events += 1;
        match ev {
            Event::Enter { func, args } => {
                self.calls += 1;
                let pages = 1 << args.order.unwrap_or(0);
                match func {
                    Func::PrepNewPage => self.prep_pages += pages,
                    Func::FreePages => self.freed_pages += pages,
                    _ => {}
                }
            }
            Event::Lock { lock: LockId::Zone { .. }, taken: true } => self.zone_lock += 1,
            Event::Lock { lock: LockId::Pcp { .. }, taken: true } => self.pcp_lock += 1,
            Event::Irq { disabled: true, .. } => self.irq_off += 1,
            Event::Move { order, from, to, .. } => {
                self.pages_moved += 1 << order;
                let (pcp_from, buddy_from) = list_ends(from);
                let (pcp_to, buddy_to) = list_ends(to);
                self.pcp_list_ops += pcp_from + pcp_to;
                self.buddy_list_ops += buddy_from + buddy_to;
            }
            Event::Counter { counter, .. } => {
                self.stat_updates += 1;
                if *counter != Counter::PcpCount {
                    self.vm_stat_updates += 1;
                }
            }
            Event::Split { .. } => self.splits += 1,
            Event::Merge { .. } => self.merges += 1,
            Event::Watermark { .. } => self.watermark_checks += 1,
            _ => {}
        }
    }

    /// The cost of a run of recorded events, counted afresh as a counting trace would.
    pub fn of(events: &[Event]) -> Cost {
        let mut trace = Trace::new(TraceMode::Count);
        events.iter().for_each(|ev| trace.emit(*ev));
        trace.cost
    }

    /// The cost of two runs together.
    pub fn plus(&self, other: &Cost) -> Cost {
        Cost {
            events: self.events + other.events,
            zone_lock: self.zone_lock + other.zone_lock,
            pcp_lock: self.pcp_lock + other.pcp_lock,
            irq_off: self.irq_off + other.irq_off,
            pages_moved: self.pages_moved + other.pages_moved,
            stat_updates: self.stat_updates + other.stat_updates,
            splits: self.splits + other.splits,
            merges: self.merges + other.merges,
            watermark_checks: self.watermark_checks + other.watermark_checks,
            calls: self.calls + other.calls,
            pcp_list_ops: self.pcp_list_ops + other.pcp_list_ops,
            buddy_list_ops: self.buddy_list_ops + other.buddy_list_ops,
            page_list_adds: self.page_list_adds + other.page_list_adds,
            vm_stat_updates: self.vm_stat_updates + other.vm_stat_updates,
            prep_pages: self.prep_pages + other.prep_pages,
            zeroed_pages: self.zeroed_pages + other.zeroed_pages,
            freed_pages: self.freed_pages + other.freed_pages,
        }
    }

    /// The cost of what happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Cost) -> Cost {
        Cost {
            events: self.events - earlier.events,
            zone_lock: self.zone_lock - earlier.zone_lock,
            pcp_lock: self.pcp_lock - earlier.pcp_lock,
            irq_off: self.irq_off - earlier.irq_off,
            pages_moved: self.pages_moved - earlier.pages_moved,
            stat_updates: self.stat_updates - earlier.stat_updates,
            splits: self.splits - earlier.splits,
            merges: self.merges - earlier.merges,
            watermark_checks: self.watermark_checks - earlier.watermark_checks,
            calls: self.calls - earlier.calls,
            pcp_list_ops: self.pcp_list_ops - earlier.pcp_list_ops,
            buddy_list_ops: self.buddy_list_ops - earlier.buddy_list_ops,
            page_list_adds: self.page_list_adds - earlier.page_list_adds,
            vm_stat_updates: self.vm_stat_updates - earlier.vm_stat_updates,
            prep_pages: self.prep_pages - earlier.prep_pages,
            zeroed_pages: self.zeroed_pages - earlier.zeroed_pages,
            freed_pages: self.freed_pages - earlier.freed_pages,
        }
    }
}

/// Events as JSON lines, one object a line: the trace file format of `pageflow run --trace` and
/// of the playground's trace download.
pub fn write_json_lines(events: &[Event], w: &mut impl std::io::Write) -> std::io::Result<()> {
    for ev in events {
        serde_json::to_writer(&mut *w, ev)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// `trace_event!(m, event)`: emit `event` into the machine `m`'s trace, building it only when
/// the trace is on. With the trace off an event costs the mode test: `Trace::emit(event)` would
/// have the event's fields stored before the test (the order-0 paths emit about thirty events a
/// page).
///
/// `trace_event!(EVENTS, m, event)` in the hot functions, which are generic over
/// `const EVENTS: bool`: a call made while the trace is off passes `false` ([`by_trace_mode!`])
/// and its events are compiled out, mode tests included; other callers pass `true`, and each
/// event tests the mode as above.
macro_rules! trace_event {
    ($events:expr, $m:expr, $ev:expr) => {
        if $events && $m.trace.on() {
            let ev = $ev;
            $m.trace.keep(ev);
        }
    };
    ($m:expr, $ev:expr) => {
        trace_event!(true, $m, $ev)
    };
}

/// `by_trace_mode!(m.f(args))`: call the hot function `f` with its events (`f::<true>`) when
/// the trace counts or records, without them (`f::<false>`) when it is off. Without the
/// `untraced` feature (the browser, which always records) only the `true` copy is compiled, and
/// it still honours a trace that is off, event by event: smaller code, the same behaviour.
macro_rules! by_trace_mode {
    ($m:ident . $f:ident ( $($arg:expr),* $(,)? )) => {{
        #[cfg(feature = "untraced")]
        let result = if $m.trace.on() { $m.$f::<true>($($arg),*) } else { $m.$f::<false>($($arg),*) };
        #[cfg(not(feature = "untraced"))]
        let result = $m.$f::<true>($($arg),*);
        result
    }};
}

/// What a [`Trace`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceMode {
    /// Drop events: the fastest; costs are not counted.
    Off,
    /// Count events into [`Cost`] without keeping them.
    Count,
    /// Keep every event and count it.
    Record,
}

/// The event sink.
#[derive(Clone, Debug)]
pub struct Trace {
    pub mode: TraceMode,
    pub events: Vec<Event>,
    pub cost: Cost,
    /// Base pages of the `prep_new_page()` entered last: its exit says whether they were zeroed
    /// (`ret` 1), its entry how many they are.
    prep_block: u64,
    /// Inside `__alloc_pages_bulk()`: a block it hands to the caller without an array slot goes
    /// on `page_list` (its `list_add()`, fast path and single-page fallback alike).
    in_bulk: bool,
}

impl Trace {
    pub fn new(mode: TraceMode) -> Trace {
        Trace { mode, events: Vec::new(), cost: Cost::default(), prep_block: 0, in_bulk: false }
    }

    /// Count an event into [`Cost`], with what only the events around it tell: the zeroing
    /// `prep_new_page()` reports on its exit, and the bulk allocator's `list_add()`s.
    #[inline(always)]
    fn count(&mut self, ev: &Event) {
        self.cost.count(ev);
        match ev {
            Event::Enter { func: Func::PrepNewPage, args } => self.prep_block = 1 << args.order.unwrap_or(0),
            Event::Exit { func: Func::PrepNewPage, ret: 1 } => self.cost.zeroed_pages += self.prep_block,
            Event::Enter { func: Func::AllocPagesBulk, .. } => self.in_bulk = true,
            Event::Exit { func: Func::AllocPagesBulk, .. } => self.in_bulk = false,
            Event::Move { to: Loc::Caller { slot: None, .. }, .. } if self.in_bulk => {
                self.cost.page_list_adds += 1
            }
            _ => {}
        }
    }

    /// Whether events are looked at at all; callers skip building costly events when not.
    #[inline(always)]
    pub fn on(&self) -> bool {
        self.mode != TraceMode::Off
    }

    /// Hand an event to the sink. The allocator's paths use `trace_event!` instead, which
    /// builds the event only when the trace is on.
    #[inline(always)]
    pub fn emit(&mut self, ev: Event) {
        if self.on() {
            self.keep(ev);
        }
    }

    /// Count, and in `Record` mode keep, an event. Inlined with the counting: at each site the
    /// event's kind is known, so counting folds into the few fields it adds to.
    #[inline(always)]
    pub(crate) fn keep(&mut self, ev: Event) {
        self.count(&ev);
        if self.mode == TraceMode::Record {
            self.events.push(ev);
        }
    }
}
