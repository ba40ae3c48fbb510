//! The buddy allocator: free areas by order and migratetype, `__rmqueue_smallest` with `expand`,
//! `__rmqueue_fallback` with pageblock stealing, `rmqueue_bulk`, and `__free_one_page` with buddy
//! merging (buddy pfn = pfn ^ (1 << order)).

use crate::gfp::AllocFlags;
use crate::machine::{Machine, PAGE_CACHE};
use crate::mem::{MigrateType, PageState, Pfn, MAX_PAGE_ORDER, PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER};
use crate::trace::{Args, Counter, Event, Func, Loc, LockId};

/// `fallbacks[][]` (6.0): the order in which other migratetypes are raided. HIGHATOMIC and
/// ISOLATE have no fallbacks.
pub fn fallbacks(mt: MigrateType) -> &'static [MigrateType] {
    match mt {
        MigrateType::Unmovable => &[MigrateType::Reclaimable, MigrateType::Movable],
        MigrateType::Movable => &[MigrateType::Reclaimable, MigrateType::Unmovable],
        MigrateType::Reclaimable => &[MigrateType::Unmovable, MigrateType::Movable],
        MigrateType::HighAtomic | MigrateType::Isolate => &[],
    }
}

/// Which pcp list a refill goes to: the kernel passes the `struct list_head *` itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcpListId {
    pub cpu: u16,
    pub pindex: usize,
}

/// `watermark_boost_factor` default (150% of the high watermark at most).
pub const WATERMARK_BOOST_FACTOR: u64 = 15_000;

/// `__find_buddy_pfn()`.
#[inline]
pub fn find_buddy_pfn(pfn: Pfn, order: u8) -> Pfn {
    pfn ^ (1 << order)
}

/// `can_steal_fallback()`: whether a fallback may claim the whole pageblock.
fn can_steal_fallback(order: u8, start_mt: MigrateType) -> bool {
    order >= PAGEBLOCK_ORDER / 2 || matches!(start_mt, MigrateType::Reclaimable | MigrateType::Unmovable)
}

impl Machine {
    /// Take `zone->lock`: plain `spin_lock` inside an IRQ-off pcp section, `spin_lock_irqsave`
    /// otherwise (as `rmqueue_buddy`, `free_one_page` and, from 6.2, `rmqueue_bulk` do).
    /// Returns whether this call disabled IRQs.
    #[inline]
    pub(crate) fn zone_lock(&mut self, z: usize) -> bool {
        let irqsave = !self.irqs_disabled;
        if irqsave {
            self.irq_disable::<true>();
        }
        trace_event!(self, Event::Lock { lock: LockId::Zone { zone: z as u16 }, taken: true });
        irqsave
    }

    #[inline]
    pub(crate) fn zone_unlock(&mut self, z: usize, irqrestore: bool) {
        trace_event!(self, Event::Lock { lock: LockId::Zone { zone: z as u16 }, taken: false });
        if irqrestore {
            self.irq_enable::<true>();
        }
    }

    #[inline]
    pub(crate) fn irq_disable<const EVENTS: bool>(&mut self) {
        self.irqs_disabled = true;
        trace_event!(EVENTS, self, Event::Irq { cpu: self.current_cpu, disabled: true });
    }

    #[inline]
    pub(crate) fn irq_enable<const EVENTS: bool>(&mut self) {
        self.irqs_disabled = false;
        trace_event!(EVENTS, self, Event::Irq { cpu: self.current_cpu, disabled: false });
    }

    /// `add_to_free_list()` / `add_to_free_list_tail()` with `set_buddy_order()`.
    #[inline]
    fn add_to_free_list(&mut self, z: usize, pfn: Pfn, order: u8, mt: MigrateType, tail: bool) {
        self.pages[pfn as usize].set_buddy(order, mt);
        let area = &mut self.zones[z].free_area[order as usize];
        let list = &mut area.free_list[mt.index()];
        if tail {
            list.add_tail(&mut self.pages, pfn);
        } else {
            list.add(&mut self.pages, pfn);
        }
        area.nr_free += 1;
    }

    /// `del_page_from_free_list()`: the head leaves its list and is no longer `PageBuddy`.
    #[inline]
    fn del_page_from_free_list(&mut self, z: usize, pfn: Pfn, order: u8) {
        let mt = self.pages[pfn as usize].list();
        let area = &mut self.zones[z].free_area[order as usize];
        area.free_list[mt].del(&mut self.pages, pfn);
        area.nr_free -= 1;
        self.pages[pfn as usize].set_tail();
    }

    /// `move_to_free_list()`: to the tail of another migratetype's list of the same order.
    fn move_to_free_list(&mut self, z: usize, pfn: Pfn, order: u8, mt: MigrateType) {
        let from = MigrateType::from_index(self.pages[pfn as usize].list());
        self.del_page_from_free_list(z, pfn, order);
        self.add_to_free_list(z, pfn, order, mt, true);
        let zone = z as u16;
        trace_event!(
            self,
            Event::Move {
                pfn,
                order,
                from: Loc::Buddy { zone, order, mt: from },
                to: Loc::Buddy { zone, order, mt },
            }
        );
    }

    /// `expand()`: split a block of order `high` down to `low`, putting each upper half back on
    /// the head of `free_list[mt]`, largest first. The caller keeps the lowest-pfn chunk.
    fn expand(&mut self, z: usize, pfn: Pfn, low: u8, mut high: u8, mt: MigrateType) {
        while high > low {
            high -= 1;
            let buddy = pfn + (1 << high);
            self.add_to_free_list(z, buddy, high, mt, false);
            trace_event!(self, Event::Split { zone: z as u16, pfn, buddy, order: high });
        }
    }

    /// `__rmqueue_smallest()`: the first block of the smallest order that has one of `mt`.
    pub(crate) fn rmqueue_smallest(&mut self, z: usize, order: u8, mt: MigrateType) -> Option<Pfn> {
        for current in order..=MAX_PAGE_ORDER {
            let pfn = self.zones[z].free_area[current as usize].free_list[mt.index()].head;
            if pfn == crate::mem::NIL {
                continue;
            }
            self.del_page_from_free_list(z, pfn, current);
            self.expand(z, pfn, order, current, mt);
            // set_pcppage_migratetype(): the type this page is accounted as while on a pcp list.
            self.pages[pfn as usize].set_pcppage_migratetype(mt);
            return Some(pfn);
        }
        None
    }

    /// `find_suitable_fallback()`: the first fallback type with a free block of this order, and
    /// whether the whole pageblock may be claimed.
    fn find_suitable_fallback(&self, z: usize, order: u8, mt: MigrateType) -> Option<(MigrateType, bool)> {
        let area = &self.zones[z].free_area[order as usize];
        if area.nr_free == 0 {
            return None;
        }
        let can_steal = can_steal_fallback(order, mt);
        fallbacks(mt).iter().find(|f| !area.free_list[f.index()].is_empty()).map(|&f| (f, can_steal))
    }

    /// `boost_watermark()`: raise `watermark_boost` by a pageblock, up to 150% of high.
    fn boost_watermark(&mut self, z: usize) -> bool {
        let zone = &mut self.zones[z];
        if u64::from(PAGEBLOCK_NR_PAGES) * 4 > zone.managed_pages {
            return false;
        }
        let max_boost = zone.watermark[2] * WATERMARK_BOOST_FACTOR / 10_000;
        if max_boost == 0 {
            return false;
        }
        let max_boost = max_boost.max(u64::from(PAGEBLOCK_NR_PAGES));
        zone.watermark_boost = (zone.watermark_boost + u64::from(PAGEBLOCK_NR_PAGES)).min(max_boost);
        let value = zone.watermark_boost as i64;
        trace_event!(
            self,
            Event::Counter {
                counter: Counter::WatermarkBoost,
                zone: Some(z as u16),
                cpu: None,
                delta: i64::from(PAGEBLOCK_NR_PAGES),
                value,
            }
        );
        true
    }

    /// `set_pageblock_migratetype()` with an event.
    pub(crate) fn set_pageblock_migratetype(&mut self, z: usize, pfn: Pfn, mt: MigrateType) {
        let from = self.zones[z].pageblock_migratetype(pfn);
        if from != mt {
            self.zones[z].set_pageblock_migratetype(pfn, mt);
            let pfn = Machine::pageblock_start(pfn);
            trace_event!(self, Event::Pageblock { zone: z as u16, pfn, from, to: mt });
        }
    }

    /// `move_freepages_block()`: move every free block of the pageblock to `mt`'s lists. Returns
    /// (free pages moved, movable pages counted: the page cache's LRU pages).
    pub(crate) fn move_freepages_block(&mut self, z: usize, pfn: Pfn, mt: MigrateType) -> (u32, u32) {
        let zone = &self.zones[z];
        let mut start = Machine::pageblock_start(pfn);
        let end = start + PAGEBLOCK_NR_PAGES - 1;
        if !zone.contains(start) {
            start = pfn;
        }
        if !zone.contains(end) {
            return (0, 0);
        }
        let (mut moved, mut movable) = (0, 0);
        let mut p = start;
        while p <= end {
            let page = self.pages[p as usize];
            if page.state() != PageState::Buddy {
                if page.state() == PageState::Allocated && page.owner() == PAGE_CACHE {
                    movable += 1;
                }
                p += 1;
                continue;
            }
            self.move_to_free_list(z, p, page.order(), mt);
            p += 1 << page.order();
            moved += 1 << page.order();
        }
        (moved, movable)
    }

    /// `steal_suitable_fallback()`: take a fallback block for `start_mt`, and claim its whole
    /// pageblock when enough of it is free or alike.
    fn steal_suitable_fallback(
        &mut self,
        z: usize,
        pfn: Pfn,
        alloc_flags: AllocFlags,
        start_mt: MigrateType,
        whole_block: bool,
    ) {
        let current_order = self.pages[pfn as usize].order();
        let old_block_type = self.zones[z].pageblock_migratetype(pfn);
        let single_page = 'steal: {
            if old_block_type == MigrateType::HighAtomic {
                break 'steal true;
            }
            if current_order >= PAGEBLOCK_ORDER {
                // change_pageblock_range()
                for b in 0..1u32 << (current_order - PAGEBLOCK_ORDER) {
                    self.set_pageblock_migratetype(z, pfn + b * PAGEBLOCK_NR_PAGES, start_mt);
                }
                break 'steal true;
            }
            if self.boost_watermark(z) && alloc_flags.contains(AllocFlags::KSWAPD) {
                self.zones[z].boosted_watermark = true;
            }
            if !whole_block {
                break 'steal true;
            }
            let (free, movable) = self.move_freepages_block(z, pfn, start_mt);
            let alike = if start_mt == MigrateType::Movable {
                movable
            } else if old_block_type == MigrateType::Movable {
                PAGEBLOCK_NR_PAGES - (free + movable)
            } else {
                0
            };
            if free == 0 {
                break 'steal true;
            }
            if free + alike >= 1 << (PAGEBLOCK_ORDER - 1) {
                self.set_pageblock_migratetype(z, pfn, start_mt);
            }
            false
        };
        if single_page {
            self.move_to_free_list(z, pfn, current_order, start_mt);
        }
    }

    /// `__rmqueue_fallback()`: steal the largest suitable block of another type (or, for a
    /// movable request that may not claim, the smallest), then let `__rmqueue` retry.
    fn rmqueue_fallback(
        &mut self,
        z: usize,
        order: u8,
        start_mt: MigrateType,
        alloc_flags: AllocFlags,
    ) -> bool {
        trace_event!(
            self,
            Event::Enter {
                func: Func::RmqueueFallback,
                args: Args {
                    zone: Some(z as u16),
                    order: Some(order),
                    mt: Some(start_mt),
                    ..Args::default()
                },
            }
        );
        let min_order = if order < PAGEBLOCK_ORDER && alloc_flags.contains(AllocFlags::NOFRAGMENT) {
            PAGEBLOCK_ORDER
        } else {
            order
        };
        let mut found = None;
        for current in (min_order..=MAX_PAGE_ORDER).rev() {
            if let Some((mt, can_steal)) = self.find_suitable_fallback(z, current, start_mt) {
                if !can_steal && start_mt == MigrateType::Movable && current > order {
                    // find_smallest: a movable request that cannot claim takes the smallest block.
                    found = (order..=MAX_PAGE_ORDER)
                        .find_map(|o| self.find_suitable_fallback(z, o, start_mt).map(|(mt, c)| (o, mt, c)));
                } else {
                    found = Some((current, mt, can_steal));
                }
                break;
            }
        }
        let stole = found.is_some();
        if let Some((current, mt, can_steal)) = found {
            let pfn = self.zones[z].free_area[current as usize].free_list[mt.index()].head;
            self.steal_suitable_fallback(z, pfn, alloc_flags, start_mt, can_steal);
        }
        trace_event!(self, Event::Exit { func: Func::RmqueueFallback, ret: stole as i64 });
        stole
    }

    /// `__rmqueue()`: the smallest block of the type, else steal from a fallback type and retry.
    pub(crate) fn rmqueue_inner(
        &mut self,
        z: usize,
        order: u8,
        mt: MigrateType,
        alloc_flags: AllocFlags,
    ) -> Option<Pfn> {
        loop {
            if let Some(pfn) = self.rmqueue_smallest(z, order, mt) {
                return Some(pfn);
            }
            if !self.rmqueue_fallback(z, order, mt, alloc_flags) {
                return None;
            }
        }
    }

    /// `rmqueue_bulk()`: under one `zone->lock`, take up to `count` blocks onto the tail of a pcp
    /// list (so `expand()` output keeps pfn order), then subtract them from `NR_FREE_PAGES` once.
    pub(crate) fn rmqueue_bulk(
        &mut self,
        z: usize,
        order: u8,
        count: u32,
        list: PcpListId,
        mt: MigrateType,
        alloc_flags: AllocFlags,
    ) -> u32 {
        let PcpListId { cpu, pindex } = list;
        trace_event!(
            self,
            Event::Enter {
                func: Func::RmqueueBulk,
                args: Args {
                    zone: Some(z as u16),
                    order: Some(order),
                    nr: Some(count),
                    mt: Some(mt),
                    ..Args::default()
                },
            }
        );
        let irq = self.zone_lock(z);
        let mut allocated = 0;
        for _ in 0..count {
            let Some(pfn) = self.rmqueue_inner(z, order, mt, alloc_flags) else { break };
            let page = &mut self.pages[pfn as usize];
            let from_mt = page.pcppage_migratetype();
            page.set_pcp(cpu, order, pindex, from_mt);
            self.zones[z].pcp[cpu as usize].lists[pindex].add_tail(&mut self.pages, pfn);
            allocated += 1;
            trace_event!(
                self,
                Event::Move {
                    pfn,
                    order,
                    from: Loc::Buddy { zone: z as u16, order, mt: from_mt },
                    to: Loc::Pcp { zone: z as u16, cpu, pindex: pindex as u8 },
                }
            );
        }
        self.mod_nr_free_pages(z, -(i64::from(allocated) << order));
        self.zone_unlock(z, irq);
        trace_event!(self, Event::Exit { func: Func::RmqueueBulk, ret: i64::from(allocated) });
        allocated
    }

    /// `buddy_merge_likely()`: whether the block one order up is free too, so this block is
    /// likely to merge soon and belongs at the tail.
    fn buddy_merge_likely(&self, z: usize, pfn: Pfn, buddy_pfn: Pfn, order: u8) -> bool {
        if order >= MAX_PAGE_ORDER - 1 {
            return false;
        }
        let higher = buddy_pfn & pfn;
        self.find_buddy(z, higher, order + 1).is_some()
    }

    /// `find_buddy_page_pfn()` with `page_is_buddy()`: the buddy if it is a free block of the
    /// same order in the same zone.
    fn find_buddy(&self, z: usize, pfn: Pfn, order: u8) -> Option<Pfn> {
        let buddy = find_buddy_pfn(pfn, order);
        let zone = &self.zones[z];
        if !zone.contains(buddy) {
            return None;
        }
        self.pages[buddy as usize].is_head(PageState::Buddy, order).then_some(buddy)
    }

    /// `__free_one_page()`: merge with free buddies as far as they go, then put the block at the
    /// head of its free list, or the tail when `to_tail` (FPI_TO_TAIL) or a merge is likely.
    pub(crate) fn free_one_page_inner(
        &mut self,
        z: usize,
        mut pfn: Pfn,
        mut order: u8,
        mt: MigrateType,
        to_tail: bool,
    ) {
        trace_event!(
            self,
            Event::Enter {
                func: Func::FreeOnePage,
                args: Args {
                    zone: Some(z as u16),
                    pfn: Some(pfn),
                    order: Some(order),
                    mt: Some(mt),
                    ..Args::default()
                },
            }
        );
        if mt != MigrateType::Isolate {
            self.mod_nr_free_pages(z, 1 << order);
        }
        self.pages[pfn as usize].set_tail();
        while order < MAX_PAGE_ORDER {
            let Some(buddy) = self.find_buddy(z, pfn, order) else { break };
            if order >= PAGEBLOCK_ORDER {
                let buddy_mt = self.zones[z].pageblock_migratetype(buddy);
                let mergeable = |t: MigrateType| !matches!(t, MigrateType::Isolate | MigrateType::HighAtomic);
                if mt != buddy_mt && (!mergeable(mt) || !mergeable(buddy_mt)) {
                    break;
                }
            }
            self.del_page_from_free_list(z, buddy, order);
            trace_event!(self, Event::Merge { zone: z as u16, pfn, buddy, order });
            pfn &= buddy;
            order += 1;
        }
        let tail = to_tail || self.buddy_merge_likely(z, pfn, find_buddy_pfn(pfn, order), order);
        self.add_to_free_list(z, pfn, order, mt, tail);
        trace_event!(self, Event::Exit { func: Func::FreeOnePage, ret: i64::from(pfn) });
    }

    /// `free_one_page()`: `__free_one_page()` under `zone->lock`, for frees that bypass the pcp.
    pub(crate) fn free_one_page_locked(
        &mut self,
        z: usize,
        pfn: Pfn,
        order: u8,
        mt: MigrateType,
        to_tail: bool,
    ) {
        let irq = self.zone_lock(z);
        self.free_one_page_inner(z, pfn, order, mt, to_tail);
        self.zone_unlock(z, irq);
    }
}
