//! The single-block allocator: `__alloc_pages` → `prepare_alloc_pages` → `get_page_from_freelist`
//! → `rmqueue` (pcp or buddy) → `prep_new_page`, and a slow path that is honest about what it
//! models: kswapd wake-ups, reserves, direct reclaim from the page cache, drain and retry,
//! `__GFP_NORETRY`, a bounded `__GFP_NOFAIL`, and failure. Compaction and the OOM killer are not
//! modelled and say so in the trace.

use crate::gfp::Wmark;
use crate::gfp::{self, AllocFlags, Gfp};
use crate::machine::{Machine, Zoneref};
use crate::mem::{MigrateType, Pfn, ZoneType, PAGE_ALLOC_COSTLY_ORDER};
use crate::pcp::pcp_allowed_order;
use crate::profile::{PcpHighRule, ReserveFlags};
use crate::trace::{Args, Event, Func, Loc, Note};
use crate::watermark::WatermarkQuery;
use crate::why::NoWhy;

/// `MAX_RECLAIM_RETRIES`.
pub const MAX_RECLAIM_RETRIES: u32 = 16;
/// How many times the model lets `__GFP_NOFAIL` go round before it stops (the kernel loops
/// until memory appears, which in a single-threaded model would be forever).
pub const NOFAIL_ROUNDS: u32 = 4;

/// `struct alloc_context`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocContext {
    /// The node whose zonelist is used (`preferred_nid`).
    pub node: usize,
    /// `__GFP_THISNODE`: the NOFALLBACK zonelist.
    pub thisnode: bool,
    pub highest_zoneidx: ZoneType,
    pub migratetype: MigrateType,
    /// `preferred_zoneref`: the first eligible zone; None when no zone is eligible.
    pub preferred: Option<ZonerefAt>,
}

/// A `struct zoneref *` into the zonelist being walked: its position, and the zone there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZonerefAt {
    /// Position in the zonelist.
    pub pos: usize,
    /// Index into `Machine::zones`.
    pub zone: usize,
}

impl Machine {
    /// The zonelist an allocation context walks.
    pub fn zonelist(&self, ac: &AllocContext) -> &[Zoneref] {
        let node = &self.nodes[ac.node];
        if ac.thisnode {
            &node.zonelist_nofallback
        } else {
            &node.zonelist
        }
    }

    /// The zones eligible from a position on: `for_next_zone_zonelist_nodemask()`.
    fn eligible_zone(&self, ac: &AllocContext, pos: usize) -> Option<ZonerefAt> {
        let list = self.zonelist(ac);
        let pos = (pos..list.len()).find(|&i| list[i].zone_idx <= ac.highest_zoneidx)?;
        Some(ZonerefAt { pos, zone: list[pos].zone })
    }

    /// The preferred zone (`ac->preferred_zoneref->zone`).
    pub(crate) fn preferred_zone(&self, ac: &AllocContext) -> Option<usize> {
        ac.preferred.map(|r| r.zone)
    }

    /// The next eligible zone of a zonelist walk: the preferred zone first (the walk starts at
    /// `ac->preferred_zoneref`, already found by `prepare_alloc_pages`), then those after `at`.
    /// The preferred zoneref is the first eligible one, so this is also the walk of the whole
    /// zonelist (`for_each_zone_zonelist_nodemask()`) that reclaim and the retry checks make.
    #[inline]
    pub(crate) fn next_zone(&self, ac: &AllocContext, at: Option<ZonerefAt>) -> Option<ZonerefAt> {
        match at {
            None => ac.preferred,
            Some(r) => self.eligible_zone(ac, r.pos + 1),
        }
    }

    /// `prepare_alloc_pages()`: zone limit, zonelist, migratetype and preferred zone from the GFP
    /// mask. None when fault injection fails the request, and for a mask with a bad zone or
    /// migratetype combination (the kernel would hit a `VM_BUG_ON`; actions check masks before
    /// they get here). Inlined into its two callers, the single-page and the bulk allocator,
    /// since it runs before every allocation.
    #[inline]
    pub(crate) fn prepare_alloc_pages(&mut self, gfp: Gfp, preferred_nid: usize) -> Option<AllocContext> {
        let highest_zoneidx = gfp::gfp_zone(gfp, &mut NoWhy).ok()?;
        let migratetype = gfp::gfp_migratetype(gfp, &mut NoWhy).ok()?;
        if self.should_fail_alloc_page(gfp) {
            return None;
        }
        let mut ac = AllocContext {
            node: preferred_nid,
            thisnode: gfp.contains(Gfp::THISNODE),
            highest_zoneidx,
            migratetype,
            preferred: None,
        };
        ac.preferred = self.eligible_zone(&ac, 0);
        Some(ac)
    }

    /// `should_fail_alloc_page()` as [`Machine::fail_page_alloc`] sets it up: every request but a
    /// `__GFP_NOFAIL` one fails while the count lasts.
    #[inline]
    fn should_fail_alloc_page(&mut self, gfp: Gfp) -> bool {
        self.fail_page_alloc > 0 && !gfp.contains(Gfp::NOFAIL) && self.inject_page_alloc_failure()
    }

    /// Use up one injected failure. Cold and out of line, so the test in front of every
    /// allocation stays a load and a branch.
    #[cold]
    #[inline(never)]
    fn inject_page_alloc_failure(&mut self) -> bool {
        self.fail_page_alloc -= 1;
        trace_event!(self, Event::Note { note: Note::FailPageAlloc });
        true
    }

    /// `alloc_flags_nofragment()`: `ALLOC_KSWAPD` from `__GFP_KSWAPD_RECLAIM`, and
    /// `ALLOC_NOFRAGMENT` when the preferred zone is NORMAL and a DMA32 zone exists below it.
    fn alloc_flags_nofragment(&self, preferred: Option<usize>, gfp: Gfp) -> AllocFlags {
        let mut flags =
            if gfp.contains(Gfp::KSWAPD_RECLAIM) { AllocFlags::KSWAPD } else { AllocFlags::empty() };
        let Some(z) = preferred else { return flags };
        let zone = &self.zones[z];
        if zone.kind != ZoneType::Normal {
            return flags;
        }
        if self.nodes.len() > 1 && self.nodes[zone.node].zones[ZoneType::Dma32.idx()].is_none() {
            return flags;
        }
        flags |= AllocFlags::NOFRAGMENT;
        flags
    }

    /// `get_page_from_freelist()`: the first zone from the preferred one on that passes its
    /// watermark gets the request; `ALLOC_NOFRAGMENT` is dropped before leaving the local node and
    /// before giving up.
    pub(crate) fn get_page_from_freelist<const EVENTS: bool>(
        &mut self,
        gfp: Gfp,
        order: u8,
        mut alloc_flags: AllocFlags,
        ac: &AllocContext,
    ) -> Option<Pfn> {
        trace_event!(
            EVENTS,
            self,
            Event::Enter {
                func: Func::GetPageFromFreelist,
                args: Args {
                    gfp: Some(gfp),
                    order: Some(order),
                    alloc_flags: Some(alloc_flags),
                    ..Args::default()
                },
            }
        );
        let preferred_zone = self.preferred_zone(ac);
        let page = 'retry: loop {
            let no_fallback = alloc_flags.contains(AllocFlags::NOFRAGMENT);
            let mut at = None;
            while let Some(r) = self.next_zone(ac, at) {
                at = Some(r);
                let z = r.zone;
                let preferred = preferred_zone.expect("a zone was found, so a preferred one exists");
                if no_fallback
                    && self.nodes.len() > 1
                    && z != preferred
                    && self.zones[z].node != self.zones[preferred].node
                {
                    alloc_flags.remove(AllocFlags::NOFRAGMENT);
                    continue 'retry;
                }
                let check = |m: &mut Machine, wmark| {
                    let (highest, func) = (ac.highest_zoneidx, Func::GetPageFromFreelist);
                    m.watermark_fast::<EVENTS>(func, z, order, wmark, 0, highest, alloc_flags, gfp)
                };
                // 6.7+: note a zone below its high watermark first (ZONE_BELOW_HIGH), so the free
                // path shrinks pcp->high; a zone above high is used without a second check.
                let mut above_high = false;
                if self.profile.pcp_high == PcpHighRule::AutoTune && !self.zones[z].below_high {
                    above_high = check(self, Wmark::High);
                    self.zones[z].below_high = !above_high;
                }
                if !above_high
                    && !check(self, alloc_flags.wmark())
                    && !alloc_flags.contains(AllocFlags::NO_WATERMARKS)
                {
                    // node_reclaim() is off by default (vm.zone_reclaim_mode = 0).
                    continue;
                }
                if let Some(pfn) =
                    self.rmqueue::<EVENTS>(preferred, z, order, gfp, alloc_flags, ac.migratetype)
                {
                    self.prep_new_page::<EVENTS>(pfn, order, gfp);
                    if self.highatomic_first(order, alloc_flags) {
                        self.reserve_highatomic_pageblock(z, pfn);
                    }
                    break 'retry Some(pfn);
                }
            }
            if no_fallback {
                alloc_flags.remove(AllocFlags::NOFRAGMENT);
                continue;
            }
            break None;
        };
        trace_event!(
            EVENTS,
            self,
            Event::Exit { func: Func::GetPageFromFreelist, ret: page.map_or(-1, i64::from) }
        );
        page
    }

    /// `zone_watermark_fast()` of a zone against one of its watermarks plus `extra` pages (the
    /// bulk allocator checks LOW + `nr_pages`), traced as a check `func` made. With the trace
    /// off only the verdict is computed.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn watermark_fast<const EVENTS: bool>(
        &mut self,
        func: Func,
        z: usize,
        order: u8,
        wmark: Wmark,
        extra: u64,
        highest_zoneidx: ZoneType,
        alloc_flags: AllocFlags,
        gfp: Gfp,
    ) -> bool {
        let zone = &self.zones[z];
        let mark = zone.wmark_pages(wmark) + extra;
        let query =
            WatermarkQuery { zone, order, mark, highest_zoneidx, alloc_flags, gfp, profile: self.profile };
        if !(EVENTS && self.trace.on()) {
            return query.fast_passes();
        }
        let check = query.fast();
        trace_event!(EVENTS, self, Event::Watermark { func, wmark, check });
        check.ok
    }

    /// `rmqueue()`: orders the pcp allows come from the current CPU's pcp list (5.14+: falling
    /// through to the buddy lists if that fails); the rest from the buddy lists under
    /// `zone->lock`. A boosted watermark wakes kswapd on the way out.
    fn rmqueue<const EVENTS: bool>(
        &mut self,
        preferred: usize,
        z: usize,
        order: u8,
        gfp: Gfp,
        alloc_flags: AllocFlags,
        mt: MigrateType,
    ) -> Option<Pfn> {
        trace_event!(
            EVENTS,
            self,
            Event::Enter {
                func: Func::Rmqueue,
                args: Args {
                    zone: Some(z as u16),
                    gfp: Some(gfp),
                    order: Some(order),
                    mt: Some(mt),
                    ..Args::default()
                },
            }
        );
        let mut page = None;
        let via_pcp = pcp_allowed_order(self.profile, order);
        if via_pcp {
            page = self.rmqueue_pcplist::<EVENTS>(preferred, z, order, mt, alloc_flags);
        }
        if page.is_none() && (!via_pcp || self.profile.rmqueue_buddy_fallthrough) {
            page = self.rmqueue_buddy(preferred, z, order, alloc_flags, mt);
        }
        if self.zones[z].boosted_watermark {
            self.zones[z].boosted_watermark = false;
            trace_event!(EVENTS, self, Event::Note { note: Note::BoostedWatermarkWake });
            let zone_idx = self.zones[z].kind;
            self.wakeup_kswapd(z, zone_idx);
        }
        trace_event!(EVENTS, self, Event::Exit { func: Func::Rmqueue, ret: page.map_or(-1, i64::from) });
        page
    }

    /// `rmqueue_buddy()`: one block from the buddy lists under `zone->lock` (highatomic first
    /// for `ALLOC_HIGHATOMIC`, and as a last resort for OOM / non-blocking requests). Out of line:
    /// inlined, its registers and spills would burden the pcp path of every order-0 request.
    #[inline(never)]
    fn rmqueue_buddy(
        &mut self,
        preferred: usize,
        z: usize,
        order: u8,
        alloc_flags: AllocFlags,
        mt: MigrateType,
    ) -> Option<Pfn> {
        trace_event!(
            self,
            Event::Enter {
                func: Func::RmqueueBuddy,
                args: Args { zone: Some(z as u16), order: Some(order), mt: Some(mt), ..Args::default() },
            }
        );
        let irq = self.zone_lock(z);
        let mut page = None;
        if self.highatomic_first(order, alloc_flags) {
            page = self.rmqueue_smallest(z, order, MigrateType::HighAtomic);
        }
        if page.is_none() {
            page = self.rmqueue_inner(z, order, mt, alloc_flags);
            // 6.3+: OOM victims and non-blocking requests may take a highatomic block last.
            let last_resort = self.profile.reserve_flags == ReserveFlags::NonBlockMinReserve
                && alloc_flags.intersects(AllocFlags::OOM | AllocFlags::NON_BLOCK);
            if page.is_none() && last_resort {
                page = self.rmqueue_smallest(z, order, MigrateType::HighAtomic);
            }
        }
        if let Some(pfn) = page {
            self.mod_nr_free_pages(z, -(1i64 << order));
            let from_mt = self.pages[pfn as usize].pcppage_migratetype();
            self.hand_to_caller::<true>(pfn, order, Loc::Buddy { zone: z as u16, order, mt: from_mt });
        }
        self.zone_unlock(z, irq);
        if page.is_some() {
            self.count_pgalloc::<true>(z, 1 << order);
            self.zone_statistics::<true>(preferred, z, 1);
        }
        trace_event!(self, Event::Exit { func: Func::RmqueueBuddy, ret: page.map_or(-1, i64::from) });
        page
    }

    /// Whether a request may use, and reserves, highatomic pageblocks: ≤6.2 a high-order
    /// `ALLOC_HARDER` request; 6.3+ `ALLOC_HIGHATOMIC` (set for high-order `__GFP_HIGH` atomics).
    fn highatomic_first(&self, order: u8, alloc_flags: AllocFlags) -> bool {
        match self.profile.reserve_flags {
            ReserveFlags::HarderHigh => order > 0 && alloc_flags.contains(AllocFlags::HARDER),
            ReserveFlags::NonBlockMinReserve => alloc_flags.contains(AllocFlags::HIGHATOMIC),
        }
    }

    /// `prep_new_page()` → `post_alloc_hook()`: refcount, and zeroing when `__GFP_ZERO` or
    /// `init_on_alloc` asks for it (the cost model charges it; page contents are not modelled).
    #[inline]
    pub(crate) fn prep_new_page<const EVENTS: bool>(&mut self, pfn: Pfn, order: u8, gfp: Gfp) {
        trace_event!(
            EVENTS,
            self,
            Event::Enter {
                func: Func::PrepNewPage,
                args: Args { pfn: Some(pfn), order: Some(order), gfp: Some(gfp), ..Args::default() },
            }
        );
        trace_event!(
            EVENTS,
            self,
            Event::Exit {
                func: Func::PrepNewPage,
                ret: i64::from(gfp.contains(Gfp::ZERO) || self.config.init_on_alloc),
            }
        );
    }

    /// `reserve_highatomic_pageblock()`: set aside the pageblock of a high-order atomic
    /// allocation, up to 1% of the zone plus a pageblock.
    #[inline(never)]
    fn reserve_highatomic_pageblock(&mut self, z: usize, pfn: Pfn) {
        let max_managed = self.zones[z].managed_pages / 100 + u64::from(crate::mem::PAGEBLOCK_NR_PAGES);
        if self.zones[z].nr_reserved_highatomic >= max_managed {
            return;
        }
        let irq = self.zone_lock(z);
        let mt = self.zones[z].pageblock_migratetype(pfn);
        if !matches!(mt, MigrateType::HighAtomic | MigrateType::Isolate) {
            self.zones[z].nr_reserved_highatomic += u64::from(crate::mem::PAGEBLOCK_NR_PAGES);
            self.set_pageblock_migratetype(z, pfn, MigrateType::HighAtomic);
            self.move_freepages_block(z, pfn, MigrateType::HighAtomic);
        }
        self.zone_unlock(z, irq);
    }

    /// `unreserve_highatomic_pageblock()`: give a highatomic pageblock back to the requested type.
    pub(crate) fn unreserve_highatomic_pageblock(&mut self, ac: &AllocContext, force: bool) -> bool {
        let mut at = None;
        while let Some(r) = self.next_zone(ac, at) {
            at = Some(r);
            let z = r.zone;
            if !force && self.zones[z].nr_reserved_highatomic <= u64::from(crate::mem::PAGEBLOCK_NR_PAGES) {
                continue;
            }
            let irq = self.zone_lock(z);
            for order in 0..crate::mem::NR_PAGE_ORDERS {
                let pfn = self.zones[z].free_area[order].free_list[MigrateType::HighAtomic.index()].head;
                if pfn == crate::mem::NIL {
                    continue;
                }
                if self.zones[z].pageblock_migratetype(pfn) == MigrateType::HighAtomic {
                    let zone = &mut self.zones[z];
                    zone.nr_reserved_highatomic -=
                        u64::from(crate::mem::PAGEBLOCK_NR_PAGES).min(zone.nr_reserved_highatomic);
                }
                self.set_pageblock_migratetype(z, pfn, ac.migratetype);
                let (moved, _) = self.move_freepages_block(z, pfn, ac.migratetype);
                if moved > 0 {
                    self.zone_unlock(z, irq);
                    return true;
                }
            }
            self.zone_unlock(z, irq);
        }
        false
    }

    /// `__alloc_pages()`: the fast path at the LOW watermark, then the slow path.
    pub fn alloc_pages(&mut self, gfp: Gfp, order: u8, preferred_nid: usize) -> Option<Pfn> {
        by_trace_mode!(self.alloc_pages_events(gfp, order, preferred_nid))
    }

    /// [`Machine::alloc_pages`] with its events compiled in or out (`EVENTS`).
    fn alloc_pages_events<const EVENTS: bool>(
        &mut self,
        gfp: Gfp,
        order: u8,
        preferred_nid: usize,
    ) -> Option<Pfn> {
        trace_event!(
            EVENTS,
            self,
            Event::Enter {
                func: Func::AllocPages,
                args: Args {
                    cpu: Some(self.current_cpu),
                    gfp: Some(gfp),
                    order: Some(order),
                    ..Args::default()
                },
            }
        );
        let page = 'alloc: {
            let Some(ac) = self.prepare_alloc_pages(gfp, preferred_nid) else { break 'alloc None };
            let alloc_flags =
                AllocFlags::WMARK_LOW | self.alloc_flags_nofragment(self.preferred_zone(&ac), gfp);
            if let Some(pfn) = self.get_page_from_freelist::<EVENTS>(gfp, order, alloc_flags, &ac) {
                break 'alloc Some(pfn);
            }
            self.alloc_pages_slowpath(gfp, order, &ac)
        };
        trace_event!(EVENTS, self, Event::Exit { func: Func::AllocPages, ret: page.map_or(-1, i64::from) });
        page
    }

    /// `__alloc_pages_slowpath()`, as far as pageflow models it.
    fn alloc_pages_slowpath(&mut self, gfp: Gfp, order: u8, ac: &AllocContext) -> Option<Pfn> {
        trace_event!(
            self,
            Event::Enter {
                func: Func::AllocPagesSlowpath,
                args: Args { gfp: Some(gfp), order: Some(order), ..Args::default() },
            }
        );
        let page = self.slowpath_rounds(gfp, order, ac);
        if page.is_none() {
            self.vm.alloc_failures += 1;
            trace_event!(self, Event::Note { note: Note::AllocFailure });
        }
        trace_event!(self, Event::Exit { func: Func::AllocPagesSlowpath, ret: page.map_or(-1, i64::from) });
        page
    }

    fn slowpath_rounds(&mut self, gfp: Gfp, order: u8, ac: &AllocContext) -> Option<Pfn> {
        let can_direct_reclaim = gfp.contains(Gfp::DIRECT_RECLAIM);
        let costly_order = order > PAGE_ALLOC_COSTLY_ORDER;
        let ctx = self.task;
        let gfp = gfp::slowpath_gfp_mask(gfp, self.profile, &mut NoWhy);
        let mut alloc_flags = gfp::gfp_to_alloc_flags(gfp, order, self.profile, &ctx, &mut NoWhy);
        ac.preferred?;
        if alloc_flags.contains(AllocFlags::KSWAPD) {
            self.wake_all_kswapds(ac);
        }
        if let Some(pfn) = self.get_page_from_freelist::<true>(gfp, order, alloc_flags, ac) {
            return Some(pfn);
        }
        if can_direct_reclaim && (costly_order || (order > 0 && ac.migratetype != MigrateType::Movable)) {
            trace_event!(self, Event::Note { note: Note::CompactionSkipped });
        }
        let mut no_progress_loops = 0;
        let mut nofail_rounds = 0;
        loop {
            if alloc_flags.contains(AllocFlags::KSWAPD) {
                self.wake_all_kswapds(ac);
            }
            let reserve_flags = gfp::__gfp_pfmemalloc_flags(gfp, &ctx, &mut NoWhy);
            if !reserve_flags.is_empty() {
                alloc_flags = reserve_flags | (alloc_flags & AllocFlags::KSWAPD);
            }
            if let Some(pfn) = self.get_page_from_freelist::<true>(gfp, order, alloc_flags, ac) {
                return Some(pfn);
            }
            let mut retry = false;
            if can_direct_reclaim && !ctx.pf_memalloc {
                let (page, progress) = self.alloc_pages_direct_reclaim(gfp, order, alloc_flags, ac);
                if page.is_some() {
                    return page;
                }
                // __GFP_NORETRY gives up here, and so does a costly order without
                // __GFP_RETRY_MAYFAIL; only then is should_reclaim_retry() asked.
                let gives_up =
                    gfp.contains(Gfp::NORETRY) || (costly_order && !gfp.contains(Gfp::RETRY_MAYFAIL));
                retry = !gives_up
                    && self.should_reclaim_retry(order, ac, alloc_flags, progress, &mut no_progress_loops);
                if !retry && !gfp.contains(Gfp::NORETRY) && !costly_order {
                    trace_event!(self, Event::Note { note: Note::OomNotModelled });
                }
            }
            if retry {
                continue;
            }
            // nopage:
            if !gfp.contains(Gfp::NOFAIL) || !can_direct_reclaim {
                return None;
            }
            let fallback = match self.profile.reserve_flags {
                ReserveFlags::HarderHigh => AllocFlags::HARDER,
                ReserveFlags::NonBlockMinReserve => AllocFlags::MIN_RESERVE,
            };
            // __alloc_pages_cpuset_fallback(): cpusets are not modelled, so one attempt.
            if let Some(pfn) = self.get_page_from_freelist::<true>(gfp, order, fallback, ac) {
                return Some(pfn);
            }
            nofail_rounds += 1;
            if nofail_rounds >= NOFAIL_ROUNDS {
                trace_event!(self, Event::Note { note: Note::NofailBounded });
                return None;
            }
        }
    }

    /// `should_reclaim_retry()`: retry while reclaim makes progress, up to
    /// `MAX_RECLAIM_RETRIES` rounds without it, and only while some zone could meet its min
    /// watermark if everything reclaimable were reclaimed.
    fn should_reclaim_retry(
        &mut self,
        order: u8,
        ac: &AllocContext,
        alloc_flags: AllocFlags,
        progress: bool,
        no_progress_loops: &mut u32,
    ) -> bool {
        if progress && order <= PAGE_ALLOC_COSTLY_ORDER {
            *no_progress_loops = 0;
        } else {
            *no_progress_loops += 1;
        }
        let mut ret = false;
        if *no_progress_loops <= MAX_RECLAIM_RETRIES {
            let mut at = None;
            while let Some(r) = self.next_zone(ac, at) {
                at = Some(r);
                let z = r.zone;
                let available = self.zone_reclaimable_pages(z) as i64 + self.zones[z].nr_free_pages;
                let zone = &self.zones[z];
                let min = zone.wmark_pages(Wmark::Min);
                let check = crate::watermark::zone_watermark_ok(
                    zone,
                    order,
                    min,
                    ac.highest_zoneidx,
                    alloc_flags,
                    available,
                    self.profile,
                );
                if check.ok {
                    ret = true;
                    break;
                }
            }
        }
        if !ret {
            return self.unreserve_highatomic_pageblock(ac, true);
        }
        ret
    }
}
