//! Memory pressure that can rise and fall: a page-cache pool that workloads fill, kswapd woken
//! below the low watermark and run until a zone of the node is back above high
//! (`balance_pgdat`), and direct reclaim from the allocator's slow path. Reclaim frees the
//! oldest page-cache pages through the normal free path, so they land on a pcp list first.

use crate::alloc::AllocContext;
use crate::gfp::Wmark;
use crate::gfp::{AllocFlags, Gfp};
use crate::machine::{Machine, PAGE_CACHE};
use crate::mem::{Pfn, ZoneType, NIL};
use crate::trace::{Args, Counter, Event, Func};
use crate::watermark::SWAP_CLUSTER_MAX;

impl Machine {
    /// `zone_reclaimable_pages()`: the page-cache pages of a zone.
    pub(crate) fn zone_reclaimable_pages(&self, z: usize) -> u64 {
        self.zones[z].nr_file_pages
    }

    /// `pgdat_balanced()`: some zone of the node up to `highest` is above its high watermark.
    /// A node with no such zone needs no balancing.
    fn pgdat_balanced(&self, node: usize, highest: ZoneType) -> bool {
        let mut any = false;
        for z in self.nodes[node].zones.iter().flatten() {
            let zone = &self.zones[*z];
            if zone.kind > highest || zone.managed_pages == 0 {
                continue;
            }
            any = true;
            let mark = zone.wmark_pages(Wmark::High);
            let check = crate::watermark::zone_watermark_ok(
                zone,
                0,
                mark,
                highest,
                AllocFlags::empty(),
                zone.nr_free_pages,
                self.profile,
            );
            if check.ok {
                return true;
            }
        }
        !any
    }

    /// `wake_all_kswapds()`: wake the kswapd of each node the zonelist reaches.
    pub(crate) fn wake_all_kswapds(&mut self, ac: &AllocContext) {
        trace_event!(self, Event::Enter { func: Func::WakeAllKswapds, args: Args::default() });
        let mut at = None;
        let mut last_node = usize::MAX;
        while let Some(r) = self.next_zone(ac, at) {
            at = Some(r);
            let z = r.zone;
            if self.zones[z].node != last_node {
                last_node = self.zones[z].node;
                self.wakeup_kswapd(z, ac.highest_zoneidx);
            }
        }
        trace_event!(self, Event::Exit { func: Func::WakeAllKswapds, ret: 0 });
    }

    /// `wakeup_kswapd()`: unless the node is balanced and not boosted, kswapd will run when the
    /// current action ends (the model's kswapd is a thread that runs between actions).
    pub(crate) fn wakeup_kswapd(&mut self, z: usize, highest: ZoneType) {
        let node = self.zones[z].node;
        if self.nodes[node].kswapd_pending {
            return;
        }
        let boosted = self.nodes[node].zones.iter().flatten().any(|&z| self.zones[z].watermark_boost > 0);
        if self.pgdat_balanced(node, highest) && !boosted {
            return;
        }
        self.nodes[node].kswapd_pending = true;
        self.vm.kswapd_wakeups += 1;
        trace_event!(self, Event::KswapdWake { node: node as u16 });
    }

    /// Run every woken kswapd: `balance_pgdat()` reclaims page cache in rounds of
    /// `SWAP_CLUSTER_MAX` until the node is balanced or nothing is left to reclaim, with
    /// `ZONE_RECLAIM_ACTIVE` set meanwhile, then drops the watermark boosts.
    pub fn run_kswapd(&mut self) {
        for node in 0..self.nodes.len() {
            if !self.nodes[node].kswapd_pending {
                continue;
            }
            self.nodes[node].kswapd_pending = false;
            trace_event!(self, Event::Enter { func: Func::Kswapd, args: Args::default() });
            let saved_cpu = self.current_cpu;
            self.current_cpu = self.nodes[node].cpus.first().copied().unwrap_or(0);
            let zones: Vec<usize> = self.nodes[node].zones.iter().flatten().copied().collect();
            for &z in &zones {
                self.zones[z].reclaim_active = true;
            }
            let mut reclaimed = 0;
            while !self.pgdat_balanced(node, ZoneType::Movable) {
                let n = self.shrink_node(node, SWAP_CLUSTER_MAX as u32, false);
                if n == 0 {
                    break;
                }
                reclaimed += n;
            }
            for &z in &zones {
                self.zones[z].reclaim_active = false;
                self.zones[z].watermark_boost = 0;
            }
            self.current_cpu = saved_cpu;
            trace_event!(self, Event::Exit { func: Func::Kswapd, ret: i64::from(reclaimed) });
        }
    }

    /// `shrink_node()`, reduced: free up to `nr` of the node's oldest page-cache pages.
    fn shrink_node(&mut self, node: usize, nr: u32, direct: bool) -> u32 {
        let mut freed = 0;
        let mut pfn = self.page_cache().tail();
        while pfn != NIL && freed < nr {
            let newer = self.page_cache().newer(&self.pages, pfn);
            let z = self.pfn_zone(pfn).expect("page cache pages are in a zone");
            if self.zones[z].node == node {
                self.release_from_holder(PAGE_CACHE, pfn, None);
                // Not by_trace_mode!: a second caller of the copy without events would stop the
                // compiler inlining it into free_held(), on every order-0 free (+20 instructions).
                self.free_pages_checked::<true>(z, pfn, 0);
                freed += 1;
            }
            pfn = newer;
        }
        if freed > 0 {
            let (counter, total) = if direct {
                self.vm.pgsteal_direct += u64::from(freed);
                (Counter::PgstealDirect, self.vm.pgsteal_direct)
            } else {
                self.vm.pgsteal_kswapd += u64::from(freed);
                (Counter::PgstealKswapd, self.vm.pgsteal_kswapd)
            };
            trace_event!(
                self,
                Event::Counter {
                    counter,
                    zone: None,
                    cpu: None,
                    delta: i64::from(freed),
                    value: total as i64,
                }
            );
            trace_event!(self, Event::Reclaim { node: node as u16, pages: freed, direct });
        }
        freed
    }

    /// `__alloc_pages_direct_reclaim()`: reclaim up to `SWAP_CLUSTER_MAX` pages from the nodes
    /// the zonelist reaches, try again, and once drain the pcp lists and the highatomic reserve
    /// and try a last time. Returns the page and whether reclaim made progress.
    pub(crate) fn alloc_pages_direct_reclaim(
        &mut self,
        gfp: Gfp,
        order: u8,
        alloc_flags: AllocFlags,
        ac: &AllocContext,
    ) -> (Option<Pfn>, bool) {
        trace_event!(
            self,
            Event::Enter {
                func: Func::DirectReclaim,
                args: Args { gfp: Some(gfp), order: Some(order), ..Args::default() },
            }
        );
        self.vm.allocstall += 1;
        let value = self.vm.allocstall as i64;
        trace_event!(
            self,
            Event::Counter { counter: Counter::Allocstall, zone: None, cpu: None, delta: 1, value }
        );
        let mut progress = 0;
        let mut at = None;
        let mut last_node = usize::MAX;
        while let Some(r) = self.next_zone(ac, at) {
            at = Some(r);
            let z = r.zone;
            let node = self.zones[z].node;
            if node == last_node || progress >= SWAP_CLUSTER_MAX as u32 {
                continue;
            }
            last_node = node;
            progress += self.shrink_node(node, SWAP_CLUSTER_MAX as u32 - progress, true);
        }
        let mut page = self.get_page_from_freelist::<true>(gfp, order, alloc_flags, ac);
        if page.is_none() {
            self.unreserve_highatomic_pageblock(ac, false);
            self.drain_all_pages();
            page = self.get_page_from_freelist::<true>(gfp, order, alloc_flags, ac);
        }
        trace_event!(self, Event::Exit { func: Func::DirectReclaim, ret: i64::from(progress) });
        (page, progress > 0)
    }
}
