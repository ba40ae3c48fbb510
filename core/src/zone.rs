//! `struct zone` and `struct per_cpu_pages`, reduced to the fields the allocator reads and writes.

use serde::Serialize;

use crate::gfp::Wmark;
use crate::mem::{List, MigrateType, ZoneType, MAX_NR_ZONES, MIGRATE_TYPES, NR_PAGE_ORDERS};
use crate::mem::{Pfn, PAGEBLOCK_ORDER};

/// The most pcp lists an era has (5.14's 15: orders 0–3 and THP, each by migratetype).
pub const NR_PCP_LISTS_MAX: usize = 15;

/// `struct free_area`: one list per migratetype and the number of free blocks of this order.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FreeArea {
    pub free_list: [List; MIGRATE_TYPES],
    pub nr_free: u64,
}

/// `struct per_cpu_pages`: a CPU's cache of free pages for one zone.
#[derive(Clone, Debug, Serialize)]
pub struct PerCpuPages {
    /// Pages on all lists, counted in base pages (`count += 1 << order`).
    pub count: u32,
    /// Free back to the buddy lists when `count` reaches this.
    pub high: u32,
    /// Chunk size for refill (`rmqueue_bulk`) and free (`free_pcppages_bulk`).
    pub batch: u32,
    /// 5.14–6.6: grows while frees dominate, scaling the batch freed; halved on allocation.
    pub free_factor: u8,
    /// 6.7+: the range `high` floats in.
    pub high_min: u32,
    pub high_max: u32,
    /// 6.7+: refills take `batch << alloc_factor` while allocations follow allocations; halved on
    /// every free.
    pub alloc_factor: u8,
    /// 6.7+: pages freed since the last allocation (halved on allocation): the batch freed.
    pub free_count: u32,
    /// 6.7+ `PCPF_PREV_FREE_HIGH_ORDER`: the previous free was of order 1–3.
    pub prev_free_high_order: bool,
    /// `lists[NR_PCP_LISTS]`, indexed by `order_to_pindex`: the first `nr_lists` are the era's
    /// (the rest stay empty). Kept in the struct, not behind a pointer: every allocation and free
    /// reaches a list, and this way it is one offset from the pcp.
    pub lists: [List; NR_PCP_LISTS_MAX],
    /// `NR_PCP_LISTS` of the era.
    pub nr_lists: u8,
    /// Whether the pcp lock (or its IRQ-off section) is held right now; the model is single
    /// threaded, so this only guards against re-entry bugs in the model itself, and only builds
    /// with debug assertions (the tests) keep it: elsewhere it stays false.
    #[serde(skip)]
    pub locked: bool,
}

impl PerCpuPages {
    /// The era's lists, `pcp->lists[0..NR_PCP_LISTS]`.
    pub fn lists(&self) -> &[List] {
        &self.lists[..usize::from(self.nr_lists)]
    }

    /// Change `count` by `delta` base pages; returns the new count.
    #[inline]
    pub fn mod_count(&mut self, delta: i64) -> i64 {
        self.count = (i64::from(self.count) + delta) as u32;
        i64::from(self.count)
    }
}

/// Per-zone event counters (`/proc/vmstat` rows that are per zone, and `numa_*` from
/// `/sys/devices/system/node/nodeN/numastat`, kept per zone as `per_cpu_zonestats` does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ZoneEvents {
    pub pgalloc: u64,
    pub numa_hit: u64,
    pub numa_miss: u64,
    pub numa_foreign: u64,
    pub numa_local: u64,
    pub numa_other: u64,
}

/// `struct zone`.
#[derive(Clone, Debug, Serialize)]
pub struct Zone {
    /// Index in the machine's zone table (`page_zone_id`).
    pub id: usize,
    pub node: usize,
    pub kind: ZoneType,
    pub start_pfn: Pfn,
    pub spanned_pages: u32,
    /// Pages given to the allocator (`zone_managed_pages`).
    pub managed_pages: u64,
    pub free_area: [FreeArea; NR_PAGE_ORDERS],
    /// `_watermark[WMARK_MIN..=WMARK_PROMO]`.
    pub watermark: [u64; 4],
    pub watermark_boost: u64,
    pub lowmem_reserve: [u64; MAX_NR_ZONES],
    pub nr_reserved_highatomic: u64,
    /// `vm_stat[NR_FREE_PAGES]`, exact (no per-CPU drift: see the deviations list).
    pub nr_free_pages: i64,
    /// `pageset_batch` / `pageset_high` (6.7+: `pageset_high_min`) / `pageset_high_max`: what
    /// every CPU's pcp was last sized to.
    pub pageset_batch: u32,
    pub pageset_high: u32,
    pub pageset_high_max: u32,
    /// `ZONE_BOOSTED_WATERMARK`.
    pub boosted_watermark: bool,
    /// `ZONE_RECLAIM_ACTIVE` (5.14+): kswapd is reclaiming this zone's node, so pcp lists hold
    /// at most four batches.
    pub reclaim_active: bool,
    /// `ZONE_BELOW_HIGH` (6.7+): free pages fell below the high watermark, so pcp `high` decays.
    pub below_high: bool,
    /// Page-cache pages of this zone (`NR_ZONE_*_FILE`): what reclaim can free.
    pub nr_file_pages: u64,
    pub pcp: Vec<PerCpuPages>,
    pub events: ZoneEvents,
    /// Migratetype of each pageblock of the zone (`get_pageblock_migratetype`).
    pub pageblock_mt: Vec<MigrateType>,
}

impl Zone {
    pub fn end_pfn(&self) -> Pfn {
        self.start_pfn + self.spanned_pages
    }

    pub fn contains(&self, pfn: Pfn) -> bool {
        pfn >= self.start_pfn && pfn < self.end_pfn()
    }

    /// `wmark_pages()`: a watermark including `watermark_boost`.
    pub fn wmark_pages(&self, w: Wmark) -> u64 {
        self.watermark[w.index()] + self.watermark_boost
    }

    /// Display name like `/proc/zoneinfo`: "Node 0, zone Normal".
    pub fn label(&self) -> String {
        format!("Node {} {}", self.node, self.kind.name())
    }

    /// `get_pageblock_migratetype()`.
    pub fn pageblock_migratetype(&self, pfn: Pfn) -> MigrateType {
        self.pageblock_mt[((pfn - self.start_pfn) >> PAGEBLOCK_ORDER) as usize]
    }

    /// `set_pageblock_migratetype()`.
    pub fn set_pageblock_migratetype(&mut self, pfn: Pfn, mt: MigrateType) {
        self.pageblock_mt[((pfn - self.start_pfn) >> PAGEBLOCK_ORDER) as usize] = mt;
    }

    /// Free pages in the buddy lists, counted from the free areas (for the invariants).
    pub fn free_pages_recount(&self) -> u64 {
        self.free_area.iter().enumerate().map(|(order, a)| a.nr_free << order).sum()
    }
}
