//! Giving pages back: the checks `free_pages_prepare()` makes before a page may be freed (a page
//! that fails them is reported with `bad_page()` and leaked, state unchanged), `__free_pages()` →
//! `free_the_page()`, and the holders' side of handing pages over.

use crate::machine::{Machine, Slots, PAGE_CACHE};
use crate::mem::{PageState, Pfn, NIL};
use crate::pcp::pcp_allowed_order;
use crate::trace::{Args, BadPageReason, Event, Func, Loc};

impl Machine {
    /// The `free_pages_prepare()` checks, from the caller's side: the pfn must be the head of a
    /// block of this order that `owner` holds. Returns the block's zone (`page_zone()`).
    #[inline]
    pub fn check_free(&self, owner: u32, pfn: Pfn, order: u8) -> Result<usize, BadPageReason> {
        let Some(z) = self.pfn_zone(pfn) else { return Err(BadPageReason::NotManaged) };
        let page = &self.pages[pfn as usize];
        if page.is_head(PageState::Allocated, order) && page.owner() == owner {
            return Ok(z);
        }
        Err(match page.state() {
            PageState::Reserved => BadPageReason::NotManaged,
            PageState::Buddy | PageState::Pcp => BadPageReason::AlreadyFree,
            PageState::Tail => BadPageReason::NotHead,
            PageState::Allocated if page.owner() != owner => BadPageReason::NotOwner,
            PageState::Allocated => BadPageReason::WrongOrder,
        })
    }

    /// `bad_page()`: report and leave the page alone.
    pub fn bad_page(&mut self, pfn: Pfn, reason: BadPageReason) {
        trace_event!(self, Event::BadPage { pfn, reason });
    }

    /// `__free_pages()` → `free_the_page()` for a block that passed [`Machine::check_free`] and
    /// left its holder: pcp-sized orders go to `free_unref_page()`, the rest to
    /// `__free_pages_ok()` → `free_one_page()`.
    #[inline]
    pub(crate) fn free_pages_checked<const EVENTS: bool>(&mut self, z: usize, pfn: Pfn, order: u8) {
        trace_event!(
            EVENTS,
            self,
            Event::Enter {
                func: Func::FreePages,
                args: Args {
                    cpu: Some(self.current_cpu),
                    pfn: Some(pfn),
                    order: Some(order),
                    ..Args::default()
                },
            }
        );
        if pcp_allowed_order(self.profile, order) {
            self.free_unref_page::<EVENTS>(z, pfn, order);
        } else {
            self.vm.pgfree += 1 << order;
            let mt = self.zones[z].pageblock_migratetype(pfn);
            let owner = self.pages[pfn as usize].owner();
            trace_event!(
                EVENTS,
                self,
                Event::Move {
                    pfn,
                    order,
                    from: Loc::Caller { owner, slot: None },
                    to: Loc::Buddy { zone: z as u16, order, mt },
                }
            );
            self.free_one_page_locked(z, pfn, order, mt, false);
        }
        trace_event!(EVENTS, self, Event::Exit { func: Func::FreePages, ret: 0 });
    }

    /// Take a block out of its holder: unlink it from a list, or clear its array slot.
    #[inline(always)]
    pub(crate) fn release_from_holder(&mut self, owner: u32, pfn: Pfn, slot: Option<usize>) {
        match &mut self.holders[owner as usize].slots {
            Slots::List(list) => list.del(&mut self.pages, pfn),
            Slots::Array(array) => {
                let i = slot.unwrap_or_else(|| {
                    array.iter().position(|&p| p == pfn).expect("held pages are in the array")
                });
                array[i] = NIL;
            }
        }
        if owner == PAGE_CACHE {
            let z = self.pfn_zone(pfn).expect("held pages are in a zone");
            self.zones[z].nr_file_pages -= 1;
        }
    }

    /// Put a block the current caller received into its holder: at the head of a list
    /// (`list_add`), or into an array slot.
    #[inline(always)]
    pub(crate) fn give_to_holder(&mut self, owner: u32, pfn: Pfn, slot: Option<usize>) {
        match &mut self.holders[owner as usize].slots {
            Slots::List(list) => list.add(&mut self.pages, pfn),
            Slots::Array(array) => {
                let i = slot
                    .unwrap_or_else(|| array.iter().position(|&p| p == NIL).expect("callers check for room"));
                array[i] = pfn;
            }
        }
        if owner == PAGE_CACHE {
            let z = self.pfn_zone(pfn).expect("allocated pages are in a zone");
            self.zones[z].nr_file_pages += 1;
        }
    }

    /// Free a block a holder has: check, release, free. Returns the bad-page reason if refused.
    pub fn free_held(
        &mut self,
        owner: u32,
        pfn: Pfn,
        order: u8,
        slot: Option<usize>,
    ) -> Result<(), BadPageReason> {
        let z = match self.check_free(owner, pfn, order) {
            Ok(z) => z,
            Err(reason) => {
                self.bad_page(pfn, reason);
                return Err(reason);
            }
        };
        self.release_from_holder(owner, pfn, slot);
        by_trace_mode!(self.free_pages_checked(z, pfn, order));
        Ok(())
    }
}
