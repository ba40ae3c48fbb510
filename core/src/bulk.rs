//! The bulk order-0 allocator `__alloc_pages_bulk()`: fill a caller's list, or the NULL slots of
//! a caller's array, with order-0 pages taken from one zone's pcp list in one pcp section,
//! refilling the list from the buddy lists as often as it runs dry. Every era's rule comes from
//! the [`Profile`](crate::profile::Profile); this is the only copy of the function.

use serde::{Deserialize, Serialize};

use crate::gfp::Wmark;
use crate::gfp::{AllocFlags, Gfp};
use crate::machine::{Machine, Slots};
use crate::mem::{Pfn, NIL};
use crate::pcp::order_to_pindex;
use crate::profile::{BulkStats, EmptyTakeFallback, FullArrayReturn, OnePageRule, PrepareFailureReturn};
use crate::trace::{Args, Event, Func, Note};

/// Where the pages go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkTarget {
    /// `struct list_head *page_list`: pages are added at the head, so the list ends up in reverse
    /// allocation order; the return value counts only the pages this call added.
    List,
    /// `struct page **page_array`: only NULL slots are filled; the return value is a cursor.
    Array,
}

impl Machine {
    /// Read slot `i` of the caller's array. The array is exactly as long as the caller made it,
    /// so a read past `nr_pages` (the b08e50dd6448 bug) would panic the model, not pass silently.
    fn bulk_slot(&self, i: usize) -> Pfn {
        match &self.holders[self.caller as usize].slots {
            Slots::Array(a) => a[i],
            Slots::List(_) => unreachable!("array mode has an array holder"),
        }
    }

    /// `__alloc_pages_bulk(gfp, preferred_nid, NULL, nr_pages, page_list, page_array)` for the
    /// current caller (a list or array holder). Returns what the kernel returns.
    pub fn alloc_pages_bulk(
        &mut self,
        gfp: Gfp,
        preferred_nid: usize,
        nr_pages: i32,
        target: BulkTarget,
    ) -> u32 {
        trace_event!(
            self,
            Event::Enter {
                func: Func::AllocPagesBulk,
                args: Args {
                    cpu: Some(self.current_cpu),
                    gfp: Some(gfp),
                    nr: Some(nr_pages.max(0) as u32),
                    ..Args::default()
                },
            }
        );
        let ret = by_trace_mode!(self.alloc_pages_bulk_inner(gfp, preferred_nid, nr_pages, target));
        self.caller_slot = None;
        trace_event!(self, Event::Exit { func: Func::AllocPagesBulk, ret: i64::from(ret) });
        ret
    }

    fn alloc_pages_bulk_inner<const EVENTS: bool>(
        &mut self,
        gfp: Gfp,
        preferred_nid: usize,
        nr_pages: i32,
        target: BulkTarget,
    ) -> u32 {
        let profile = self.profile;
        let array = target == BulkTarget::Array;
        let n = nr_pages.max(0) as u32;
        let mut nr_populated: u32 = 0;
        let mut nr_account: u32 = 0;
        // Skip the leading populated prefix, bounds first (b08e50dd6448).
        while array && nr_populated < n && self.bulk_slot(nr_populated as usize) != NIL {
            nr_populated += 1;
        }
        if nr_pages <= 0 {
            return nr_populated;
        }
        if array && n == nr_populated {
            trace_event!(EVENTS, self, Event::Note { note: Note::BulkArrayFull });
            return match profile.full_array_return {
                FullArrayReturn::Zero => 0,
                FullArrayReturn::Populated => nr_populated,
            };
        }
        let fallback = 'fast: {
            if profile.bulk_skips_account && self.config.memcg_kmem && gfp.contains(Gfp::ACCOUNT) {
                break 'fast Note::BulkAccountFallback;
            }
            let one_page = match profile.one_page_rule {
                OnePageRule::RequestOfOne => n == 1,
                OnePageRule::OneRemainingHole => n - nr_populated == 1,
            };
            if one_page {
                break 'fast Note::BulkSinglePage;
            }
            if profile.bulk_skips_page_owner && self.config.page_owner {
                break 'fast Note::BulkPageOwnerFallback;
            }
            let Some(ac) = self.prepare_alloc_pages(gfp, preferred_nid) else {
                return match profile.prepare_failure_return {
                    PrepareFailureReturn::Zero => 0,
                    PrepareFailureReturn::Populated => nr_populated,
                };
            };
            // The bulk fast path starts at ALLOC_WMARK_LOW and adds nothing else: no
            // ALLOC_NOFRAGMENT, no ALLOC_KSWAPD (cpusets and CMA are not modelled).
            let alloc_flags = AllocFlags::WMARK_LOW;
            let Some(preferred) = self.preferred_zone(&ac) else { break 'fast Note::BulkNoZone };
            let mut zone = None;
            // LOW + the whole request, against the preferred zone's lowmem_reserve index.
            let highest_zoneidx = self.zones[preferred].kind;
            let mut at = None;
            while let Some(r) = self.next_zone(&ac, at) {
                at = Some(r);
                let z = r.zone;
                if self.nodes.len() > 1 && z != preferred && self.zones[z].node != self.zones[preferred].node
                {
                    break 'fast Note::BulkRemoteNode;
                }
                let ok = self.watermark_fast::<EVENTS>(
                    Func::AllocPagesBulk,
                    z,
                    0,
                    Wmark::Low,
                    u64::from(n),
                    highest_zoneidx,
                    alloc_flags,
                    gfp,
                );
                if ok {
                    zone = Some(z);
                    break;
                }
            }
            let Some(z) = zone else { break 'fast Note::BulkNoZone };
            let cpu = self.current_cpu;
            self.pcp_lock::<EVENTS>(z, cpu);
            let pindex = order_to_pindex(profile, ac.migratetype, 0);
            while nr_populated < n {
                if array && self.bulk_slot(nr_populated as usize) != NIL {
                    nr_populated += 1;
                    continue;
                }
                self.caller_slot = array.then_some(nr_populated);
                let Some(pfn) =
                    self.rmqueue_pcplist_locked::<EVENTS>(z, cpu, 0, ac.migratetype, alloc_flags, pindex)
                else {
                    let nothing = match profile.empty_take_fallback {
                        EmptyTakeFallback::NothingAllocated => nr_account == 0,
                        EmptyTakeFallback::NothingPopulated => nr_populated == 0,
                    };
                    if nothing {
                        self.pcp_unlock::<EVENTS>(z, cpu);
                        break 'fast Note::BulkEmptyFallback;
                    }
                    trace_event!(EVENTS, self, Event::Note { note: Note::BulkPartial });
                    break;
                };
                nr_account += 1;
                if profile.bulk_stats == BulkStats::PerPage {
                    self.count_pgalloc::<EVENTS>(z, 1);
                    self.zone_statistics::<EVENTS>(preferred, z, 1);
                }
                self.prep_new_page::<EVENTS>(pfn, 0, gfp);
                self.give_to_holder(self.caller, pfn, array.then_some(nr_populated as usize));
                nr_populated += 1;
            }
            self.pcp_unlock::<EVENTS>(z, cpu);
            if profile.bulk_stats == BulkStats::Batched && nr_account > 0 {
                self.count_pgalloc::<EVENTS>(z, u64::from(nr_account));
                self.zone_statistics::<EVENTS>(preferred, z, u64::from(nr_account));
            }
            return nr_populated;
        };
        // failed: one page from the full allocator, slow path included.
        trace_event!(EVENTS, self, Event::Note { note: fallback });
        self.caller_slot = array.then_some(nr_populated);
        if let Some(pfn) = self.alloc_pages(gfp, 0, preferred_nid) {
            self.give_to_holder(self.caller, pfn, array.then_some(nr_populated as usize));
            nr_populated += 1;
        }
        nr_populated
    }
}
