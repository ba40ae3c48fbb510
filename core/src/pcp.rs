//! Per-CPU pagesets: `__rmqueue_pcplist` with its `rmqueue_bulk` refills, `rmqueue_pcplist`,
//! `free_unref_page` / `free_unref_page_commit` with the `high` / `batch` rules,
//! `free_pcppages_bulk`, and the drains.

use crate::buddy::PcpListId;
use crate::gfp::{AllocFlags, Wmark};
use crate::machine::Machine;
use crate::mem::{MigrateType, Pfn, ZoneType, MIGRATE_PCPTYPES, PAGEBLOCK_ORDER, PAGE_ALLOC_COSTLY_ORDER};
use crate::profile::{PcpFreeOrder, PcpHighRule, PcpLists, PcpLocking, Profile};
use crate::trace::{Args, Counter, Event, Func, Loc, LockId};
use crate::zone::PerCpuPages;

/// `CONFIG_PCP_BATCH_SCALE_MAX` (default 5): how far 6.7+ scales refills and frees.
pub const PCP_BATCH_SCALE_MAX: u32 = 5;

/// The kernel's `clamp(v, lo, hi)`: `min(max(v, lo), hi)`, which gives `hi` when `lo > hi`
/// (Rust's `clamp` would panic there).
fn kernel_clamp(v: u32, lo: u32, hi: u32) -> u32 {
    v.max(lo).min(hi)
}

/// The `PcpCount` event of a change of `delta` that left a pcp's count at `value`.
#[inline(always)]
fn pcp_count_event(z: usize, cpu: u16, delta: i64, value: i64) -> Event {
    Event::Counter { counter: Counter::PcpCount, zone: Some(z as u16), cpu: Some(cpu), delta, value }
}

/// `order_to_pindex()`: orders 0–3 by migratetype, then the THP list(s). Order 0 is the
/// migratetype in every era's layout, answered before the era is looked at.
#[inline]
pub fn order_to_pindex(profile: &Profile, mt: MigrateType, order: u8) -> usize {
    let mt = mt.index();
    if order == 0 {
        return mt;
    }
    match profile.pcp_lists {
        PcpLists::ByMigratetype => mt,
        _ if order <= PAGE_ALLOC_COSTLY_ORDER => MIGRATE_PCPTYPES * order as usize + mt,
        PcpLists::ByOrderThpPerType => MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER as usize + 1) + mt,
        PcpLists::ByOrderThpMovableSplit => {
            MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER as usize + 1)
                + usize::from(mt == MigrateType::Movable.index())
        }
    }
}

/// `pindex_to_order()`.
pub fn pindex_to_order(profile: &Profile, pindex: usize) -> u8 {
    match profile.pcp_lists {
        PcpLists::ByMigratetype => 0,
        _ if pindex < MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER as usize + 1) => {
            (pindex / MIGRATE_PCPTYPES) as u8
        }
        _ => PAGEBLOCK_ORDER,
    }
}

/// `pcp_allowed_order()`: orders that may use the pcp lists in this era (order 0 in all).
#[inline]
pub fn pcp_allowed_order(profile: &Profile, order: u8) -> bool {
    if order == 0 {
        return true;
    }
    match profile.pcp_lists {
        PcpLists::ByMigratetype => false,
        _ => order <= PAGE_ALLOC_COSTLY_ORDER || order == PAGEBLOCK_ORDER,
    }
}

/// `nr_pcp_high()`: the count at which a free returns pages to the buddy lists. ≤5.13 `high`
/// as set. 5.14–6.6: 0 when freeing high-order pages in a batch, at most four batches while
/// the node is under reclaim. 6.7+ also moves `high` itself: down by what was freed while the
/// zone is under reclaim or below its high watermark, up to `free_count + batch` when frees
/// keep hitting it. The zone's `ZONE_RECLAIM_ACTIVE` and `ZONE_BELOW_HIGH` come as arguments, so
/// the caller's borrow of the pcp serves.
#[inline]
fn nr_pcp_high(
    rule: PcpHighRule,
    pcp: &mut PerCpuPages,
    reclaim_active: bool,
    below_high: bool,
    free_high: bool,
) -> u32 {
    let batch = pcp.batch;
    match rule {
        PcpHighRule::SixTimesBatch => pcp.high,
        PcpHighRule::LowWatermarkSplit => {
            if pcp.high == 0 || free_high {
                0
            } else if reclaim_active {
                (batch << 2).min(pcp.high)
            } else {
                pcp.high
            }
        }
        PcpHighRule::AutoTune => {
            let (high_min, high_max) = (pcp.high_min, pcp.high_max);
            pcp.high = kernel_clamp(pcp.high, high_min, high_max);
            let high = pcp.high;
            if high == 0 {
                return 0;
            }
            if free_high {
                pcp.high = high.saturating_sub(batch << PCP_BATCH_SCALE_MAX).max(high_min);
                return 0;
            }
            if reclaim_active {
                pcp.high = high.saturating_sub(pcp.free_count.max(batch)).max(high_min);
                return (batch << 2).min(pcp.high);
            }
            if high_min == high_max {
                return high;
            }
            if below_high {
                pcp.high = high.saturating_sub(pcp.free_count.max(batch)).max(high_min);
                return pcp.count.max(high_min);
            }
            if pcp.count >= high {
                let need_high = pcp.free_count + batch;
                if pcp.high < need_high {
                    pcp.high = kernel_clamp(need_high, high_min, high_max);
                }
            }
            high
        }
    }
}

impl Machine {
    /// Enter a pcp section in this era's form: `local_irq_save` (≤5.13), `local_lock_irqsave`
    /// (5.14–5.19), `pcp_spin_trylock_irqsave` (6.0–6.1) or `pcp_spin_trylock` (6.2+). The model
    /// runs one CPU at a time, so the trylock always succeeds.
    #[inline(always)]
    pub(crate) fn pcp_lock<const EVENTS: bool>(&mut self, z: usize, cpu: u16) {
        let locking = self.profile.pcp_locking;
        if locking.disables_irqs() {
            self.irq_disable::<EVENTS>();
        }
        if locking != PcpLocking::IrqSave {
            trace_event!(
                EVENTS,
                self,
                Event::Lock { lock: LockId::Pcp { zone: z as u16, cpu }, taken: true }
            );
        }
        // Every section closes before the call returns, so the flag only catches re-entry bugs
        // of the model: builds with debug assertions (the tests) keep it, the others skip it.
        if cfg!(debug_assertions) {
            let pcp = &mut self.zones[z].pcp[cpu as usize];
            assert!(!pcp.locked, "pcp lock of zone {z} cpu {cpu} taken twice");
            pcp.locked = true;
        }
    }

    #[inline(always)]
    pub(crate) fn pcp_unlock<const EVENTS: bool>(&mut self, z: usize, cpu: u16) {
        if cfg!(debug_assertions) {
            self.zones[z].pcp[cpu as usize].locked = false;
        }
        let locking = self.profile.pcp_locking;
        if locking != PcpLocking::IrqSave {
            trace_event!(
                EVENTS,
                self,
                Event::Lock { lock: LockId::Pcp { zone: z as u16, cpu }, taken: false }
            );
        }
        if locking.disables_irqs() {
            self.irq_enable::<EVENTS>();
        }
    }

    /// Change a pcp's `count` with an event.
    #[inline]
    fn mod_pcp_count(&mut self, z: usize, cpu: u16, delta: i64) {
        let value = self.zones[z].pcp[cpu as usize].mod_count(delta);
        trace_event!(self, pcp_count_event(z, cpu, delta, value));
    }

    /// `__rmqueue_pcplist()`: take the first block of a pcp list, refilling it from the buddy
    /// lists with `rmqueue_bulk()` whenever it is empty. The block goes to the current caller.
    #[inline(always)]
    pub(crate) fn rmqueue_pcplist_locked<const EVENTS: bool>(
        &mut self,
        z: usize,
        cpu: u16,
        order: u8,
        mt: MigrateType,
        alloc_flags: AllocFlags,
        pindex: usize,
    ) -> Option<Pfn> {
        // The pcp is borrowed once for the list and the count (the hot path of every allocation),
        // again only after a refill.
        let mut pcp = &mut self.zones[z].pcp[cpu as usize];
        if pcp.lists[pindex].is_empty() {
            if !self.refill_pcplist(z, cpu, order, mt, alloc_flags, pindex) {
                return None;
            }
            pcp = &mut self.zones[z].pcp[cpu as usize];
        }
        let list = &mut pcp.lists[pindex];
        let pfn = list.del_first(&mut self.pages);
        let delta = -(1i64 << order);
        let value = pcp.mod_count(delta);
        trace_event!(EVENTS, self, pcp_count_event(z, cpu, delta, value));
        self.hand_to_caller::<EVENTS>(pfn, order, Loc::Pcp { zone: z as u16, cpu, pindex: pindex as u8 });
        Some(pfn)
    }

    /// The refill of `__rmqueue_pcplist()`: `rmqueue_bulk()` of a batch (6.7+: `nr_pcp_alloc()`)
    /// onto an empty list. Returns whether the list has a block now. Out of line: it runs once a
    /// batch, and keeping it apart keeps the take from a warm list short.
    #[inline(never)]
    fn refill_pcplist(
        &mut self,
        z: usize,
        cpu: u16,
        order: u8,
        mt: MigrateType,
        alloc_flags: AllocFlags,
        pindex: usize,
    ) -> bool {
        let batch = if self.profile.pcp_high == PcpHighRule::AutoTune {
            self.nr_pcp_alloc(z, cpu, order)
        } else {
            let batch = self.zones[z].pcp[cpu as usize].batch;
            if batch > 1 {
                (batch >> order).max(2)
            } else {
                batch
            }
        };
        let alloced = self.rmqueue_bulk(z, order, batch, PcpListId { cpu, pindex }, mt, alloc_flags);
        self.mod_pcp_count(z, cpu, i64::from(alloced) << order);
        !self.zones[z].pcp[cpu as usize].lists[pindex].is_empty()
    }

    /// The block now belongs to the current caller (and its array slot, for bulk array calls).
    #[inline]
    pub(crate) fn hand_to_caller<const EVENTS: bool>(&mut self, pfn: Pfn, order: u8, from: Loc) {
        let (owner, slot) = (self.caller, self.caller_slot);
        self.pages[pfn as usize].set_allocated(owner, order);
        trace_event!(EVENTS, self, Event::Move { pfn, order, from, to: Loc::Caller { owner, slot } });
    }

    /// `rmqueue_pcplist()`: one block from the current CPU's pcp list under the pcp lock, then
    /// `PGALLOC` and `zone_statistics()`.
    pub(crate) fn rmqueue_pcplist<const EVENTS: bool>(
        &mut self,
        preferred: usize,
        z: usize,
        order: u8,
        mt: MigrateType,
        alloc_flags: AllocFlags,
    ) -> Option<Pfn> {
        let cpu = self.current_cpu;
        trace_event!(
            EVENTS,
            self,
            Event::Enter {
                func: Func::RmqueuePcplist,
                args: Args {
                    cpu: Some(cpu),
                    zone: Some(z as u16),
                    order: Some(order),
                    mt: Some(mt),
                    ..Args::default()
                },
            }
        );
        self.pcp_lock::<EVENTS>(z, cpu);
        // An allocation ends a run of frees: the batch freed shrinks again.
        let pcp = &mut self.zones[z].pcp[cpu as usize];
        match self.profile.pcp_high {
            PcpHighRule::SixTimesBatch => {}
            PcpHighRule::LowWatermarkSplit => pcp.free_factor >>= 1,
            PcpHighRule::AutoTune => pcp.free_count >>= 1,
        }
        let pindex = order_to_pindex(self.profile, mt, order);
        let page = self.rmqueue_pcplist_locked::<EVENTS>(z, cpu, order, mt, alloc_flags, pindex);
        self.pcp_unlock::<EVENTS>(z, cpu);
        if page.is_some() {
            self.count_pgalloc::<EVENTS>(z, 1 << order);
            self.zone_statistics::<EVENTS>(preferred, z, 1);
        }
        trace_event!(
            EVENTS,
            self,
            Event::Exit { func: Func::RmqueuePcplist, ret: page.map_or(-1, i64::from) }
        );
        page
    }

    /// `__count_zid_vm_events(PGALLOC, ...)`.
    #[inline]
    pub(crate) fn count_pgalloc<const EVENTS: bool>(&mut self, z: usize, n: u64) {
        let zone = &mut self.zones[z];
        zone.events.pgalloc += n;
        let value = zone.events.pgalloc as i64;
        trace_event!(
            EVENTS,
            self,
            Event::Counter {
                counter: Counter::Pgalloc,
                zone: Some(z as u16),
                cpu: None,
                delta: n as i64,
                value,
            }
        );
    }

    /// `zone_statistics()`: NUMA_HIT or MISS/FOREIGN, and LOCAL or OTHER against the running CPU.
    /// The allocating zone is borrowed once for its two counters.
    #[inline(always)]
    pub(crate) fn zone_statistics<const EVENTS: bool>(&mut self, preferred: usize, z: usize, n: u64) {
        let local_node = self.cpu_to_node(self.current_cpu);
        let preferred_node = self.zones[preferred].node;
        let zone = &mut self.zones[z];
        let (hit, local) = (zone.node == preferred_node, zone.node == local_node);
        let ev = &mut zone.events;
        let bump = |(counter, slot): (Counter, &mut u64)| {
            *slot += n;
            (counter, *slot)
        };
        let (first, first_value) = bump(if hit {
            (Counter::NumaHit, &mut ev.numa_hit)
        } else {
            (Counter::NumaMiss, &mut ev.numa_miss)
        });
        let (second, second_value) = bump(if local {
            (Counter::NumaLocal, &mut ev.numa_local)
        } else {
            (Counter::NumaOther, &mut ev.numa_other)
        });
        let counter = |counter, zone: usize, value: u64| Event::Counter {
            counter,
            zone: Some(zone as u16),
            cpu: None,
            delta: n as i64,
            value: value as i64,
        };
        trace_event!(EVENTS, self, counter(first, z, first_value));
        if !hit {
            let (foreign, value) =
                bump((Counter::NumaForeign, &mut self.zones[preferred].events.numa_foreign));
            trace_event!(EVENTS, self, counter(foreign, preferred, value));
        }
        trace_event!(EVENTS, self, counter(second, z, second_value));
    }

    /// `free_unref_page()`: a block the caller no longer holds goes to the current CPU's pcp list,
    /// or straight to the buddy lists if its pageblock is isolated.
    pub(crate) fn free_unref_page<const EVENTS: bool>(&mut self, z: usize, pfn: Pfn, order: u8) {
        let cpu = self.current_cpu;
        trace_event!(
            EVENTS,
            self,
            Event::Enter {
                func: Func::FreeUnrefPage,
                args: Args {
                    cpu: Some(cpu),
                    zone: Some(z as u16),
                    pfn: Some(pfn),
                    order: Some(order),
                    ..Args::default()
                },
            }
        );
        // free_unref_page_prepare() caches the pageblock's type in the page; the commit stores
        // it, with the pcp list, as only a page on a pcp list reads it.
        let mt = self.zones[z].pageblock_migratetype(pfn);
        if mt == MigrateType::Isolate {
            self.free_one_page_locked(z, pfn, order, mt, false);
        } else {
            self.pcp_lock::<EVENTS>(z, cpu);
            self.free_unref_page_commit::<EVENTS>(z, cpu, pfn, mt, order);
            self.pcp_unlock::<EVENTS>(z, cpu);
        }
        trace_event!(EVENTS, self, Event::Exit { func: Func::FreeUnrefPage, ret: 0 });
    }

    /// `free_unref_page_commit()`: add to the head of the pcp list (hot), then free a batch to the
    /// buddy lists if `count` reached `high`. `mt` is the pageblock's type, which the page keeps
    /// as its pcp migratetype.
    fn free_unref_page_commit<const EVENTS: bool>(
        &mut self,
        z: usize,
        cpu: u16,
        pfn: Pfn,
        mt: MigrateType,
        order: u8,
    ) {
        let rule = self.profile.pcp_high;
        self.count_pgfree::<EVENTS>(1 << order);
        // The pcp lists are by the pcp types: a highatomic block goes on the movable list.
        let pcp_mt = if mt.index() >= MIGRATE_PCPTYPES { MigrateType::Movable } else { mt };
        let pindex = order_to_pindex(self.profile, pcp_mt, order);
        let page = &mut self.pages[pfn as usize];
        let from = Loc::Caller { owner: page.owner(), slot: None };
        page.set_pcp(cpu, order, pindex, mt);
        // The zone and the pcp are borrowed once for everything below (the hot path of every free).
        let zone = &mut self.zones[z];
        let (reclaim_active, below_high) = (zone.reclaim_active, zone.below_high);
        let pcp = &mut zone.pcp[cpu as usize];
        if rule == PcpHighRule::AutoTune {
            // A free ends a run of allocations: refills shrink again.
            pcp.alloc_factor >>= 1;
        }
        pcp.lists[pindex].add(&mut self.pages, pfn);
        trace_event!(
            EVENTS,
            self,
            Event::Move { pfn, order, from, to: Loc::Pcp { zone: z as u16, cpu, pindex: pindex as u8 } }
        );
        let delta = 1i64 << order;
        let value = pcp.mod_count(delta);
        trace_event!(EVENTS, self, pcp_count_event(z, cpu, delta, value));
        let (count, batch) = (pcp.count, pcp.batch);
        let high_order = order > 0 && order <= PAGE_ALLOC_COSTLY_ORDER;
        let free_high = match rule {
            PcpHighRule::SixTimesBatch => false,
            PcpHighRule::LowWatermarkSplit => pcp.free_factor > 0 && high_order,
            PcpHighRule::AutoTune => {
                // Consecutive high-order frees drain the pcp (PCPF_PREV_FREE_HIGH_ORDER);
                // PCPF_FREE_HIGH_BATCH is taken as set (a CPU cache slice larger than 3 batches),
                // so a batch stays behind.
                let free_high =
                    high_order && pcp.free_count >= batch && pcp.prev_free_high_order && count >= batch;
                pcp.prev_free_high_order = high_order;
                if pcp.free_count < batch << PCP_BATCH_SCALE_MAX {
                    pcp.free_count += 1 << order;
                }
                free_high
            }
        };
        let high = nr_pcp_high(rule, pcp, reclaim_active, below_high, free_high);
        if count >= high {
            let n = self.nr_pcp_free(z, cpu, high, free_high);
            self.free_pcppages_bulk(z, cpu, n, pindex);
            if rule == PcpHighRule::AutoTune && self.zones[z].below_high {
                let zone = &self.zones[z];
                let mark = zone.wmark_pages(Wmark::High);
                let free = zone.nr_free_pages;
                let ok = crate::watermark::zone_watermark_ok(
                    zone,
                    0,
                    mark,
                    ZoneType::Movable,
                    AllocFlags::empty(),
                    free,
                    self.profile,
                );
                if ok.ok {
                    self.zones[z].below_high = false;
                }
            }
        }
    }

    /// `__count_vm_events(PGFREE, ...)`.
    #[inline]
    fn count_pgfree<const EVENTS: bool>(&mut self, n: u64) {
        self.vm.pgfree += n;
        let value = self.vm.pgfree as i64;
        trace_event!(
            EVENTS,
            self,
            Event::Counter { counter: Counter::Pgfree, zone: None, cpu: None, delta: n as i64, value }
        );
    }

    /// `nr_pcp_free()`: how much a free at `high` returns. ≤5.13 one batch. 5.14–6.6: the batch
    /// doubled for each free since the last allocation (`free_factor`). 6.7+: the pages freed
    /// since the last allocation (`free_count`). Both keep at least a batch on the list.
    fn nr_pcp_free(&mut self, z: usize, cpu: u16, high: u32, free_high: bool) -> u32 {
        let pcp = &mut self.zones[z].pcp[cpu as usize];
        let batch = pcp.batch;
        match self.profile.pcp_high {
            PcpHighRule::SixTimesBatch => batch,
            PcpHighRule::LowWatermarkSplit => {
                if free_high {
                    return pcp.count;
                }
                if high < batch {
                    return 1;
                }
                let scaled = batch
                    .checked_shl(u32::from(pcp.free_factor))
                    .filter(|b| b >> pcp.free_factor == batch)
                    .unwrap_or(u32::MAX);
                if scaled < high - batch {
                    pcp.free_factor += 1;
                }
                kernel_clamp(scaled, batch, high - batch)
            }
            PcpHighRule::AutoTune => {
                if free_high {
                    return pcp.count.min(batch << PCP_BATCH_SCALE_MAX);
                }
                if high < batch {
                    return 1;
                }
                kernel_clamp(pcp.free_count, batch, high - batch)
            }
        }
    }

    /// `nr_pcp_alloc()` (6.7+): a refill takes `batch << alloc_factor` (growing while refills
    /// follow refills) but no more than leaves room below `high`, and raises `high` by the refill
    /// unless the zone is below its high watermark.
    fn nr_pcp_alloc(&mut self, z: usize, cpu: u16, order: u8) -> u32 {
        let below_high = self.zones[z].below_high;
        let pcp = &mut self.zones[z].pcp[cpu as usize];
        let base = pcp.batch;
        let (high_min, high_max) = (pcp.high_min, pcp.high_max);
        pcp.high = kernel_clamp(pcp.high, high_min, high_max);
        let mut high = pcp.high;
        if high < base {
            return 1;
        }
        let mut batch = if order > 0 { base } else { base << pcp.alloc_factor };
        if high_min != high_max && !below_high {
            high = (high + batch).min(high_max);
            pcp.high = high;
        }
        if order == 0 {
            let max_nr_alloc = (high as i64 - pcp.count as i64 - base as i64).max(base as i64) as u32;
            if batch <= max_nr_alloc && pcp.alloc_factor < PCP_BATCH_SCALE_MAX as u8 {
                pcp.alloc_factor += 1;
            }
            batch = batch.min(max_nr_alloc);
        }
        if batch > 1 {
            batch = (batch >> order).max(2);
        }
        batch
    }

    /// `free_pcppages_bulk()`: under `zone->lock`, return `count` base pages from the tails
    /// (coldest ends) of the pcp lists to the buddy lists.
    pub(crate) fn free_pcppages_bulk(&mut self, z: usize, cpu: u16, count: u32, pindex: usize) {
        let count = count.min(self.zones[z].pcp[cpu as usize].count);
        trace_event!(
            self,
            Event::Enter {
                func: Func::FreePcppagesBulk,
                args: Args { cpu: Some(cpu), zone: Some(z as u16), nr: Some(count), ..Args::default() },
            }
        );
        let irq = self.zone_lock(z);
        let nr_lists = self.profile.nr_pcp_lists();
        let mut count = i64::from(count);
        match self.profile.pcp_free_order {
            PcpFreeOrder::BatchFreeRoundRobin => {
                // ≤5.14: visit lists round robin from list 1; each empty list passed makes the
                // next non-empty one give up more pages; the only non-empty list gives them all.
                let (mut pindex, mut batch_free) = (0usize, 0i64);
                while count > 0 {
                    loop {
                        batch_free += 1;
                        pindex = (pindex + 1) % nr_lists;
                        if !self.zones[z].pcp[cpu as usize].lists[pindex].is_empty() {
                            break;
                        }
                    }
                    if batch_free == nr_lists as i64 {
                        batch_free = count;
                    }
                    loop {
                        count -= self.free_pcp_tail(z, cpu, pindex);
                        batch_free -= 1;
                        if count <= 0
                            || batch_free == 0
                            || self.zones[z].pcp[cpu as usize].lists[pindex].is_empty()
                        {
                            break;
                        }
                    }
                }
            }
            PcpFreeOrder::PindexRoundRobin => {
                // 6.0+: start with the list just freed to, empty each list visited in turn.
                let (mut min_p, mut max_p) = (0usize, nr_lists - 1);
                let mut p = pindex as isize - 1;
                while count > 0 {
                    loop {
                        p += 1;
                        if p as usize > max_p {
                            p = min_p as isize;
                        }
                        let pu = p as usize;
                        if !self.zones[z].pcp[cpu as usize].lists[pu].is_empty() {
                            break;
                        }
                        if pu == max_p {
                            max_p -= 1;
                        }
                        if pu == min_p {
                            min_p += 1;
                        }
                    }
                    let pu = p as usize;
                    loop {
                        count -= self.free_pcp_tail(z, cpu, pu);
                        if count <= 0 || self.zones[z].pcp[cpu as usize].lists[pu].is_empty() {
                            break;
                        }
                    }
                }
            }
        }
        self.zone_unlock(z, irq);
        trace_event!(self, Event::Exit { func: Func::FreePcppagesBulk, ret: 0 });
    }

    /// Move the last (coldest) block of a pcp list to the buddy lists; returns its base pages.
    fn free_pcp_tail(&mut self, z: usize, cpu: u16, pindex: usize) -> i64 {
        let pfn = self.zones[z].pcp[cpu as usize].lists[pindex].tail;
        self.zones[z].pcp[cpu as usize].lists[pindex].del(&mut self.pages, pfn);
        let order = pindex_to_order(self.profile, pindex);
        self.mod_pcp_count(z, cpu, -(1i64 << order));
        let mt = self.pages[pfn as usize].pcppage_migratetype();
        let zone = z as u16;
        trace_event!(
            self,
            Event::Move {
                pfn,
                order,
                from: Loc::Pcp { zone, cpu, pindex: pindex as u8 },
                to: Loc::Buddy { zone, order, mt },
            }
        );
        self.free_one_page_inner(z, pfn, order, mt, false);
        1 << order
    }

    /// `drain_pages_zone()`: free everything a CPU's pcp holds for a zone; 6.7+ in chunks of
    /// `batch << CONFIG_PCP_BATCH_SCALE_MAX`, each in its own lock section.
    pub fn drain_pages_zone(&mut self, cpu: u16, z: usize) {
        if self.zones[z].pcp[cpu as usize].count == 0 {
            return;
        }
        trace_event!(
            self,
            Event::Enter {
                func: Func::DrainPagesZone,
                args: Args { cpu: Some(cpu), zone: Some(z as u16), ..Args::default() },
            }
        );
        loop {
            self.pcp_lock::<true>(z, cpu);
            let pcp = &self.zones[z].pcp[cpu as usize];
            let count = pcp.count;
            let chunk = match self.profile.pcp_high {
                PcpHighRule::AutoTune => count.min(pcp.batch << PCP_BATCH_SCALE_MAX),
                _ => count,
            };
            if chunk > 0 {
                self.free_pcppages_bulk(z, cpu, chunk, 0);
            }
            self.pcp_unlock::<true>(z, cpu);
            if self.zones[z].pcp[cpu as usize].count == 0 {
                break;
            }
        }
        trace_event!(self, Event::Exit { func: Func::DrainPagesZone, ret: 0 });
    }

    /// `drain_pages()`: every zone of one CPU.
    pub fn drain_pages(&mut self, cpu: u16) {
        for z in 0..self.zones.len() {
            self.drain_pages_zone(cpu, z);
        }
    }

    /// `drain_all_pages(NULL)`: every CPU with pages on its lists (the kernel queues work on
    /// each; the model runs them in CPU order).
    pub fn drain_all_pages(&mut self) {
        trace_event!(self, Event::Enter { func: Func::DrainAllPages, args: Args::default() });
        let saved = self.current_cpu;
        for cpu in 0..self.config.cpus as u16 {
            self.current_cpu = cpu;
            self.drain_pages(cpu);
        }
        self.current_cpu = saved;
        trace_event!(self, Event::Exit { func: Func::DrainAllPages, ret: 0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_zero_movable_is_pindex_1_in_every_era() {
        for p in crate::profile::PROFILES {
            assert_eq!(order_to_pindex(p, MigrateType::Movable, 0), 1, "{}", p.id);
        }
    }

    #[test]
    fn thp_lists_split_movable_from_the_rest_in_6_1() {
        let p = Profile::by_id("6.1").unwrap();
        assert_eq!(order_to_pindex(p, MigrateType::Movable, PAGEBLOCK_ORDER), 13);
        assert_eq!(order_to_pindex(p, MigrateType::Unmovable, PAGEBLOCK_ORDER), 12);
        assert_eq!(order_to_pindex(p, MigrateType::Reclaimable, 3), 11);
        assert_eq!(pindex_to_order(p, 11), 3);
        assert_eq!(pindex_to_order(p, 13), PAGEBLOCK_ORDER);
    }
}
