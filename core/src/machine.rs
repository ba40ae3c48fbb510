//! The simulated machine: page frames, zones, nodes and their zonelists, CPUs, and the callers
//! that hold pages. Built the way the kernel boots: every pageblock starts MOVABLE, memblock frees
//! the managed pages to the buddy lists in ascending order (`__free_pages_core`, to the tail),
//! then `init_per_zone_wmark_min()` sets watermarks, `lowmem_reserve` and the pcp sizes.

use serde::Serialize;

use crate::config::{ConfigError, MachineConfig};
use crate::gfp::TaskContext;
use crate::gfp::Wmark;
use crate::holder_list::HolderList;
use crate::mem::{List, MigrateType, Page, Pfn, ZoneType, MAX_NR_ZONES, MAX_PAGE_ORDER, NIL, PAGE_SHIFT};
use crate::mem::{PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER};
use crate::profile::Profile;
use crate::trace::{Counter, Event, Loc, Trace, TraceMode};
use crate::watermark::{self, PcpSizingInput};
use crate::zone::{FreeArea, PerCpuPages, Zone, ZoneEvents, NR_PCP_LISTS_MAX};

/// `struct pglist_data`, reduced.
#[derive(Clone, Debug, Serialize)]
pub struct Node {
    pub id: usize,
    /// Zone ids of this node by zone type.
    pub zones: [Option<usize>; MAX_NR_ZONES],
    /// `ZONELIST_FALLBACK`: this node's zones high to low, then the other nodes' by distance.
    pub zonelist: Vec<Zoneref>,
    /// `ZONELIST_NOFALLBACK` (`__GFP_THISNODE`): this node's zones only.
    pub zonelist_nofallback: Vec<Zoneref>,
    pub cpus: Vec<u16>,
    /// kswapd has been woken and will run when the current action ends.
    pub kswapd_pending: bool,
}

/// `struct zoneref`: a zonelist entry, the zone and its type, so a walk that skips zones above
/// `highest_zoneidx` reads the entry only (`zonelist_zone_idx()`), not the zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Zoneref {
    /// Index into `Machine::zones`.
    pub zone: usize,
    pub zone_idx: ZoneType,
}

/// Node-wide and global event counters of `/proc/vmstat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VmEvents {
    pub pgfree: u64,
    pub pgsteal_kswapd: u64,
    pub pgsteal_direct: u64,
    pub allocstall: u64,
    pub kswapd_wakeups: u64,
    pub alloc_failures: u64,
}

/// What a holder keeps its pages in.
#[derive(Clone, Debug, Serialize)]
pub enum Slots {
    /// A `struct list_head` of blocks, threaded through the pages' `lru` in the kernel.
    List(HolderList),
    /// A `struct page **` array: `NIL` is a NULL slot.
    Array(Vec<Pfn>),
}

impl Slots {
    /// Blocks held: list entries, or non-NULL slots.
    pub fn blocks(&self) -> u32 {
        match self {
            Slots::List(l) => l.len(),
            Slots::Array(a) => a.iter().filter(|&&p| p != NIL).count() as u32,
        }
    }
}

/// A caller that holds allocated pages: a driver's list, sunrpc's `rq_pages`, the page cache.
#[derive(Clone, Debug, Serialize)]
pub struct Holder {
    pub name: String,
    pub slots: Slots,
}

/// The page cache pool that reclaim takes pages from (owner id 0).
pub const PAGE_CACHE: u32 = 0;

/// The most holders a machine has: a page record names its holder in 16 bits
/// ([`crate::mem::Page`]). [`Machine::holder_id`] refuses more, and `Scenario::validate` refuses
/// a scenario that could ask for more.
pub const MAX_HOLDERS: usize = 1 << 16;

/// The whole simulated machine.
#[derive(Clone, Debug)]
pub struct Machine {
    pub profile: &'static Profile,
    pub config: MachineConfig,
    pub pages: Vec<Page>,
    pub zones: Vec<Zone>,
    pub nodes: Vec<Node>,
    /// The node of each CPU (`cpu_to_node`).
    pub cpu_node: Vec<u16>,
    pub min_free_kbytes: u64,
    pub vm: VmEvents,
    pub holders: Vec<Holder>,
    pub trace: Trace,
    /// The CPU the simulated task runs on (`smp_processor_id()`); one CPU runs at a time.
    pub current_cpu: u16,
    /// IRQs are disabled on the current CPU.
    pub irqs_disabled: bool,
    /// The context the simulated task allocates from.
    pub task: TaskContext,
    /// Fault injection (`CONFIG_FAIL_PAGE_ALLOC`): this many coming `should_fail_alloc_page()`
    /// calls fail, as with debugfs `fail_page_alloc` set to probability 100, interval 1, `times`
    /// N, `min-order` 0 and neither `ignore-gfp-wait` nor `ignore-gfp-highmem`. 0 injects
    /// nothing.
    pub fail_page_alloc: u32,
    /// The holder that receives the pages of the call in progress.
    pub caller: u32,
    /// The array slot being filled, for bulk array calls (shown in `Move` events).
    pub caller_slot: Option<u32>,
    /// The zone id of each order-10 block (`page_zone()` without a search): zones are whole
    /// order-10 blocks laid end to end from pfn 0, so the block decides the zone. At most 4096
    /// bytes for 16 GiB.
    pub block_zone: Vec<u8>,
}

impl Machine {
    /// Boot a machine.
    pub fn new(
        config: &MachineConfig,
        profile: &'static Profile,
        mode: TraceMode,
    ) -> Result<Machine, ConfigError> {
        config.validate()?;
        let total = config.total_pages() as usize;
        let nr_cpus = config.cpus as usize;
        let nr_nodes = config.nodes.len();
        let cpu_node: Vec<u16> = (0..nr_cpus).map(|c| (c * nr_nodes / nr_cpus) as u16).collect();
        let mut m = Machine {
            profile,
            config: config.clone(),
            pages: vec![Page::RESERVED; total],
            zones: Vec::new(),
            nodes: Vec::new(),
            cpu_node,
            min_free_kbytes: 0,
            vm: VmEvents::default(),
            holders: vec![Holder { name: "page cache".into(), slots: Slots::List(HolderList::default()) }],
            trace: Trace::new(TraceMode::Off),
            current_cpu: 0,
            irqs_disabled: false,
            task: TaskContext::default(),
            fail_page_alloc: 0,
            caller: PAGE_CACHE,
            caller_slot: None,
            block_zone: Vec::with_capacity(total >> MAX_PAGE_ORDER),
        };
        let mut pfn: Pfn = 0;
        for (n, node_cfg) in config.nodes.iter().enumerate() {
            let mut node = Node {
                id: n,
                zones: [None; MAX_NR_ZONES],
                zonelist: Vec::new(),
                zonelist_nofallback: Vec::new(),
                cpus: (0..nr_cpus as u16).filter(|&c| m.cpu_node[c as usize] as usize == n).collect(),
                kswapd_pending: false,
            };
            for zc in &node_cfg.zones {
                let spanned = (zc.mib << (20 - PAGE_SHIFT)) as u32;
                let id = m.zones.len();
                node.zones[zc.kind_idx()] = Some(id);
                m.zones.push(Zone {
                    id,
                    node: n,
                    kind: zc.zone,
                    start_pfn: pfn,
                    spanned_pages: spanned,
                    managed_pages: u64::from(spanned - zc.reserved_pages),
                    free_area: std::array::from_fn(|_| FreeArea::default()),
                    watermark: [0; 4],
                    watermark_boost: 0,
                    lowmem_reserve: [0; MAX_NR_ZONES],
                    nr_reserved_highatomic: 0,
                    nr_free_pages: 0,
                    pageset_batch: 0,
                    pageset_high: 0,
                    pageset_high_max: 0,
                    boosted_watermark: false,
                    reclaim_active: false,
                    below_high: false,
                    nr_file_pages: 0,
                    pcp: vec![
                        PerCpuPages {
                            count: 0,
                            high: 0,
                            batch: 1,
                            free_factor: 0,
                            high_min: 0,
                            high_max: 0,
                            alloc_factor: 0,
                            free_count: 0,
                            prev_free_high_order: false,
                            lists: [List::EMPTY; NR_PCP_LISTS_MAX],
                            nr_lists: profile.nr_pcp_lists() as u8,
                            locked: false,
                        };
                        nr_cpus
                    ],
                    events: ZoneEvents::default(),
                    pageblock_mt: vec![MigrateType::Movable; spanned.div_ceil(PAGEBLOCK_NR_PAGES) as usize],
                });
                let blocks = (spanned >> MAX_PAGE_ORDER) as usize;
                m.block_zone.extend(std::iter::repeat_n(id as u8, blocks));
                pfn += spanned;
            }
            m.nodes.push(node);
        }
        m.build_zonelists();
        m.free_boot_memory(config);
        m.init_per_zone_wmark_min();
        m.trace = Trace::new(mode);
        Ok(m)
    }

    /// `build_zonelists()`: local zones from the highest type down, then each other node in turn
    /// (uniform distances: the next node first, wrapping around).
    fn build_zonelists(&mut self) {
        let nr = self.nodes.len();
        let zonerefs = |m: &Machine, node: usize| -> Vec<Zoneref> {
            let zones = m.nodes[node].zones.iter().rev().flatten();
            zones.map(|&zone| Zoneref { zone, zone_idx: m.zones[zone].kind }).collect()
        };
        for n in 0..nr {
            let local = zonerefs(self, n);
            let mut list = local.clone();
            for k in 1..nr {
                list.extend(zonerefs(self, (n + k) % nr));
            }
            self.nodes[n].zonelist = list;
            self.nodes[n].zonelist_nofallback = local;
        }
    }

    /// `memblock_free_all()`: each zone's managed range goes to the buddy lists in the largest
    /// aligned blocks, lowest pfn first, each to the tail of its free list (`FPI_TO_TAIL`).
    fn free_boot_memory(&mut self, config: &MachineConfig) {
        let reserved = config.nodes.iter().flat_map(|n| n.zones.iter().map(|z| z.reserved_pages));
        for (z, reserved) in reserved.enumerate() {
            let end = self.zones[z].end_pfn();
            let mut pfn = self.zones[z].start_pfn + reserved;
            while pfn < end {
                let mut order = (pfn.trailing_zeros() as u8).min(MAX_PAGE_ORDER);
                while pfn + (1 << order) > end {
                    order -= 1;
                }
                for p in pfn..pfn + (1 << order) {
                    self.pages[p as usize].set_tail();
                }
                self.free_one_page_locked(z, pfn, order, MigrateType::Movable, true);
                pfn += 1 << order;
            }
        }
    }

    /// `init_per_zone_wmark_min()`: `min_free_kbytes`, watermarks, `lowmem_reserve`, then
    /// `zone_pcp_update()` for every zone.
    fn init_per_zone_wmark_min(&mut self) {
        // nr_free_buffer_pages() at boot: managed pages of the zones GFP_USER may use, all nodes.
        let buffer_pages: u64 =
            self.zones.iter().filter(|z| z.kind <= ZoneType::Normal).map(|z| z.managed_pages).sum();
        self.min_free_kbytes =
            self.config.min_free_kbytes.unwrap_or_else(|| watermark::calculate_min_free_kbytes(buffer_pages));
        let managed: Vec<u64> = self.zones.iter().map(|z| z.managed_pages).collect();
        for (zone, w) in
            self.zones.iter_mut().zip(watermark::setup_per_zone_wmarks(self.min_free_kbytes, &managed))
        {
            zone.watermark = w;
        }
        for node in &self.nodes {
            let mut node_managed = [0u64; MAX_NR_ZONES];
            for (t, id) in node.zones.iter().enumerate() {
                node_managed[t] = id.map_or(0, |id| self.zones[id].managed_pages);
            }
            let reserve = watermark::setup_per_zone_lowmem_reserve(&node_managed);
            for (t, id) in node.zones.iter().enumerate() {
                if let Some(id) = *id {
                    self.zones[id].lowmem_reserve = reserve[t];
                }
            }
        }
        for z in 0..self.zones.len() {
            self.zone_pcp_update(z);
        }
    }

    /// `zone_pcp_update()` → `zone_set_pageset_high_and_batch()`, then the user's overrides.
    pub fn zone_pcp_update(&mut self, z: usize) {
        let zone = &self.zones[z];
        let sizing = watermark::pcp_sizing(
            self.profile,
            PcpSizingInput {
                managed: zone.managed_pages,
                low_wmark: zone.wmark_pages(Wmark::Low),
                node_cpus: self.nodes[zone.node].cpus.len() as u32,
                online_cpus: self.config.cpus,
                fraction: self.config.percpu_pagelist_fraction,
            },
        );
        let batch = self.config.pcp_batch.unwrap_or(sizing.batch);
        // A fixed high pins the range, as `percpu_pagelist_high_fraction` does in 6.7+.
        let (high_min, high_max) = match self.config.pcp_high {
            Some(h) => (h, h),
            None => (sizing.high_min, sizing.high_max),
        };
        let zone = &mut self.zones[z];
        zone.pageset_batch = batch;
        zone.pageset_high = high_min;
        zone.pageset_high_max = high_max;
        for pcp in &mut zone.pcp {
            pcp.batch = batch;
            pcp.high_min = high_min;
            pcp.high_max = high_max;
            // 6.7+ starts `high` at 0 and clamps it into the range at first use; starting at
            // high_min shows the same value from the start.
            pcp.high = high_min;
        }
    }

    /// Zone id of a pfn (`page_zone`), or None for a pfn outside every zone.
    #[inline]
    pub fn pfn_zone(&self, pfn: Pfn) -> Option<usize> {
        self.block_zone.get((pfn >> MAX_PAGE_ORDER) as usize).map(|&z| usize::from(z))
    }

    /// The node a CPU belongs to (`cpu_to_node`).
    pub fn cpu_to_node(&self, cpu: u16) -> usize {
        self.cpu_node[cpu as usize] as usize
    }

    /// Change `NR_FREE_PAGES` of a zone (`__mod_zone_page_state`).
    #[inline]
    pub fn mod_nr_free_pages(&mut self, z: usize, delta: i64) {
        let zone = &mut self.zones[z];
        zone.nr_free_pages += delta;
        let value = zone.nr_free_pages;
        trace_event!(
            self,
            Event::Counter { counter: Counter::NrFreePages, zone: Some(z as u16), cpu: None, delta, value }
        );
    }

    /// The page cache pool's list (reclaimable memory), oldest at the tail.
    pub fn page_cache(&self) -> &HolderList {
        match &self.holders[PAGE_CACHE as usize].slots {
            Slots::List(l) => l,
            Slots::Array(_) => unreachable!("the page cache is a list"),
        }
    }

    /// Pages the page cache pool holds.
    pub fn page_cache_pages(&self) -> u32 {
        self.page_cache().len()
    }

    /// Blocks a holder has.
    pub fn held(&self, owner: u32) -> u32 {
        self.holders[owner as usize].slots.blocks()
    }

    /// The pageblock a pfn is in, as its first pfn.
    pub fn pageblock_start(pfn: Pfn) -> Pfn {
        pfn & !((1 << PAGEBLOCK_ORDER) - 1)
    }

    /// Free pages of a zone's buddy lists as the sum the kernel would print in `/proc/buddyinfo`.
    pub fn buddyinfo(&self, z: usize) -> [u64; crate::mem::NR_PAGE_ORDERS] {
        std::array::from_fn(|o| self.zones[z].free_area[o].nr_free)
    }

    /// Index of the holder with this name, creating a list holder if it does not exist; an
    /// error, and no holder, when the machine has [`MAX_HOLDERS`] already.
    pub fn holder_id(&mut self, name: &str) -> Result<u32, ConfigError> {
        if let Some(i) = self.holders.iter().position(|h| h.name == name) {
            return Ok(i as u32);
        }
        if self.holders.len() >= MAX_HOLDERS {
            return Err(ConfigError {
                field: "holders".into(),
                value: format!("{name:?}"),
                allowed: format!(
                    "at most {MAX_HOLDERS} holders on a machine (page records name them in 16 bits)"
                ),
            });
        }
        self.holders.push(Holder { name: name.into(), slots: Slots::List(HolderList::default()) });
        Ok((self.holders.len() - 1) as u32)
    }

    /// Hand an allocated block from one holder (and slot) to another without freeing it: sunrpc
    /// moving pages from its bulk list into `rq_pages`, TCP saving a partial record's pages on
    /// the socket, page_pool compacting its cache. A `Move` event between the two callers.
    pub fn move_held(&mut self, pfn: Pfn, from: (u32, Option<usize>), to: (u32, Option<usize>)) {
        let order = self.pages[pfn as usize].order();
        self.release_from_holder(from.0, pfn, from.1);
        self.pages[pfn as usize].set_owner(to.0);
        self.give_to_holder(to.0, pfn, to.1);
        trace_event!(
            self,
            Event::Move {
                pfn,
                order,
                from: Loc::Caller { owner: from.0, slot: from.1.map(|s| s as u32) },
                to: Loc::Caller { owner: to.0, slot: to.1.map(|s| s as u32) },
            }
        );
    }

    /// An array holder of `len` slots (created, or resized keeping its pages); an error as for
    /// [`Machine::holder_id`].
    pub fn array_holder(&mut self, name: &str, len: usize) -> Result<u32, ConfigError> {
        let id = self.holder_id(name)?;
        let h = &mut self.holders[id as usize];
        match &mut h.slots {
            Slots::Array(a) if a.len() >= len => {}
            Slots::Array(a) => a.resize(len, NIL),
            Slots::List(l) if l.is_empty() => h.slots = Slots::Array(vec![NIL; len]),
            Slots::List(_) => {}
        }
        Ok(id)
    }
}

impl crate::config::ZoneConfig {
    fn kind_idx(&self) -> usize {
        self.zone.idx()
    }
}
