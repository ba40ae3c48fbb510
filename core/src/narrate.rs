//! Events in words: one sentence each, for the event log, the screen reader's live region and the
//! CLI. Kernel names stay as the kernel spells them, so a reader can grep for them.

use crate::trace::{Counter, Event, Loc, LockId, Note};
use crate::users::listing::svc_alloc_arg_listing;

/// Where a block is, as a person would say it.
pub fn place(loc: Loc) -> String {
    match loc {
        Loc::Buddy { zone, order, mt } => format!("zone {zone} free_area[{order}] {}", mt.name()),
        Loc::Pcp { zone, cpu, pindex } => format!("cpu{cpu} pcp list {pindex} (zone {zone})"),
        Loc::Caller { owner: 0, .. } => "the page cache".to_owned(),
        Loc::Caller { owner, slot: Some(s) } => format!("caller {owner} slot {s}"),
        Loc::Caller { owner, slot: None } => format!("caller {owner}"),
    }
}

fn pages(order: u8) -> String {
    match order {
        0 => "page".to_owned(),
        o => format!("order-{o} block"),
    }
}

/// One event as a sentence.
pub fn describe(ev: &Event) -> String {
    match ev {
        Event::Enter { func, args } => {
            let mut parts = Vec::new();
            if let Some(c) = args.cpu {
                parts.push(format!("cpu {c}"));
            }
            if let Some(z) = args.zone {
                parts.push(format!("zone {z}"));
            }
            if let Some(o) = args.order {
                parts.push(format!("order {o}"));
            }
            if let Some(n) = args.nr {
                parts.push(format!("nr {n}"));
            }
            if let Some(p) = args.pfn {
                parts.push(format!("pfn {p}"));
            }
            if let Some(mt) = args.mt {
                parts.push(mt.name().to_owned());
            }
            format!("{}({}) is called", func.name(), parts.join(", "))
        }
        Event::Exit { func, ret } => format!("{} returns {ret}", func.name()),
        Event::Move { pfn, order, from, to } => {
            format!("{} {pfn} moves from {} to {}", pages(*order), place(*from), place(*to))
        }
        Event::Split { pfn, buddy, order, .. } => {
            format!("expand: the block at {pfn} splits; its buddy {buddy} goes back at order {order}")
        }
        Event::Merge { pfn, buddy, order, .. } => {
            format!("{pfn} merges with its buddy {buddy} into an order-{} block", order + 1)
        }
        Event::Lock { lock, taken } => {
            let what = match lock {
                LockId::Zone { zone } => format!("zone {zone}'s zone->lock"),
                LockId::Pcp { zone, cpu } => format!("cpu{cpu}'s pcp lock for zone {zone}"),
            };
            format!("{what} is {}", if *taken { "taken" } else { "released" })
        }
        Event::Irq { cpu, disabled } => {
            format!("cpu{cpu}: interrupts {}", if *disabled { "off" } else { "back on" })
        }
        Event::Watermark { func, wmark, check } => format!(
            "{}: zone {} {} watermark check, {} free against a mark of {}: {}",
            func.name(),
            check.zone,
            wmark.name(),
            check.free,
            check.min + check.lowmem_reserve,
            if check.ok { "passes" } else { "fails" }
        ),
        Event::Counter { counter, zone, cpu, delta, value } => {
            let whose = match (zone, cpu) {
                (Some(z), Some(c)) => format!(" (zone {z}, cpu{c})"),
                (Some(z), None) => format!(" (zone {z})"),
                _ => String::new(),
            };
            format!("{}{whose} {delta:+} → {value}", counter_name(*counter))
        }
        Event::Pageblock { pfn, from, to, .. } => {
            format!("the pageblock at {pfn} changes from {} to {}", from.name(), to.name())
        }
        Event::KswapdWake { node } => format!("kswapd{node} is woken"),
        Event::Reclaim { node, pages, direct } => format!(
            "{} reclaims {pages} page-cache pages on node {node}",
            if *direct { "direct reclaim" } else { "kswapd" }
        ),
        Event::BadPage { pfn, reason } => format!("BUG: Bad page state, pfn {pfn}: {reason:?}"),
        Event::Note { note } => note_text(*note).to_owned(),
        Event::Line { thread, form, line } => {
            let listing = svc_alloc_arg_listing(*form);
            let text = listing.lines.get(*line as usize).map_or("", |l| l.text);
            format!("nfsd thread {thread}, {}: {}", listing.source.function, text.trim())
        }
    }
}

/// The kernel's name of a counter.
pub fn counter_name(c: Counter) -> &'static str {
    match c {
        Counter::NrFreePages => "NR_FREE_PAGES",
        Counter::Pgalloc => "PGALLOC",
        Counter::Pgfree => "PGFREE",
        Counter::NumaHit => "NUMA_HIT",
        Counter::NumaMiss => "NUMA_MISS",
        Counter::NumaForeign => "NUMA_FOREIGN",
        Counter::NumaLocal => "NUMA_LOCAL",
        Counter::NumaOther => "NUMA_OTHER",
        Counter::PcpCount => "pcp->count",
        Counter::NrReservedHighatomic => "nr_reserved_highatomic",
        Counter::WatermarkBoost => "watermark_boost",
        Counter::PgstealKswapd => "PGSTEAL_KSWAPD",
        Counter::PgstealDirect => "PGSTEAL_DIRECT",
        Counter::Allocstall => "ALLOCSTALL",
    }
}

fn note_text(n: Note) -> &'static str {
    match n {
        Note::AllocFailure => "page allocation failure: the request fails",
        Note::NofailBounded => "__GFP_NOFAIL would retry forever; the model stops after a few rounds",
        Note::BulkSinglePage => "fewer than two holes: the bulk call takes one page through __alloc_pages",
        Note::BulkAccountFallback => "__GFP_ACCOUNT: the bulk call falls back to the single-page path",
        Note::BulkPageOwnerFallback => "page_owner is on: the bulk call takes the single-page path",
        Note::BulkRemoteNode => "a remote node's zone: one page through the normal allocator",
        Note::BulkNoZone => "no zone passes LOW + nr_pages: fall back to one page",
        Note::BulkEmptyFallback => "the first pcp take failed: fall back to the single-page allocator",
        Note::BulkPartial => "the pcp list ran dry: return what was allocated",
        Note::BulkArrayFull => "the array is full already",
        Note::CompactionSkipped => "compaction is not modelled",
        Note::OomNotModelled => "the OOM killer is not modelled",
        Note::BoostedWatermarkWake => "ZONE_BOOSTED_WATERMARK cleared: kswapd is woken",
        Note::FailPageAlloc => "fault injection: should_fail_alloc_page() fails prepare_alloc_pages()",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::MigrateType;

    #[test]
    fn a_refill_move_names_both_places() {
        let ev = Event::Move {
            pfn: 4096,
            order: 0,
            from: Loc::Buddy { zone: 2, order: 0, mt: MigrateType::Unmovable },
            to: Loc::Pcp { zone: 2, cpu: 1, pindex: 0 },
        };
        assert_eq!(
            describe(&ev),
            "page 4096 moves from zone 2 free_area[0] Unmovable to cpu1 pcp list 0 (zone 2)"
        );
    }
}
