//! The invariants, checked after every step in tests and fuzzing: every pfn is in exactly one
//! place; free blocks are aligned, of their stated order and on the list their record says; no
//! two free buddies are left unmerged where the kernel would merge them; pcp counts equal their
//! lists; `NR_FREE_PAGES` and the page-cache counts equal a recount.

use crate::machine::{Machine, Slots, MAX_HOLDERS};
use crate::mem::{List, MigrateType, PageState, Pfn, MAX_PAGE_ORDER, NIL, PAGEBLOCK_ORDER};
use crate::pcp::pindex_to_order;

/// A broken invariant, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantError(pub String);

impl std::fmt::Display for InvariantError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invariant broken: {}", self.0)
    }
}

impl std::error::Error for InvariantError {}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)*) => {
        if !$cond {
            return Err(InvariantError(format!($($msg)*)));
        }
    };
}

impl Machine {
    /// Check every invariant; the first broken one is reported.
    pub fn check(&self) -> Result<(), InvariantError> {
        let mut seen = vec![false; self.pages.len()];
        let mut claim = |pfn: Pfn, order: u8, what: &dyn Fn() -> String| -> Result<(), InvariantError> {
            ensure!((pfn as usize) + (1usize << order) <= self.pages.len(), "{} runs past memory", what());
            for p in pfn..pfn + (1 << order) {
                ensure!(!seen[p as usize], "pfn {p} is in two places (again in {})", what());
                seen[p as usize] = true;
                if p != pfn {
                    ensure!(
                        self.pages[p as usize].state() == PageState::Tail,
                        "pfn {p} inside {} is not a tail",
                        what()
                    );
                }
            }
            Ok(())
        };
        let walk = |list: &List, what: &str| -> Result<Vec<Pfn>, InvariantError> {
            let mut out = Vec::with_capacity(list.len as usize);
            let mut prev = NIL;
            let mut at = list.head;
            while at != NIL {
                ensure!(out.len() < self.pages.len(), "{what} loops");
                ensure!(self.pages[at as usize].prev == prev, "{what}: pfn {at} has a wrong prev link");
                out.push(at);
                prev = at;
                at = self.pages[at as usize].next;
            }
            ensure!(list.tail == prev, "{what}: tail is {} but the walk ends at {prev}", list.tail);
            ensure!(out.len() == list.len as usize, "{what}: length {} but {} entries", list.len, out.len());
            Ok(out)
        };

        for zone in &self.zones {
            let label = zone.label();
            let mut free_pages = 0i64;
            for order in 0..=MAX_PAGE_ORDER {
                let area = &zone.free_area[order as usize];
                let mut blocks = 0;
                for mt in MigrateType::ALL {
                    let what = format!("{label} free_area[{order}].free_list[{}]", mt.name());
                    for pfn in walk(&area.free_list[mt.index()], &what)? {
                        let page = &self.pages[pfn as usize];
                        ensure!(page.state() == PageState::Buddy, "{what}: pfn {pfn} is not PageBuddy");
                        ensure!(page.order() == order, "{what}: pfn {pfn} says order {}", page.order());
                        ensure!(page.list() == mt.index(), "{what}: pfn {pfn} says list {}", page.list());
                        ensure!(
                            pfn & ((1 << order) - 1) == 0,
                            "{what}: pfn {pfn} is not aligned to its order"
                        );
                        ensure!(
                            zone.contains(pfn) && zone.contains(pfn + (1 << order) - 1),
                            "{what}: pfn {pfn} leaves the zone"
                        );
                        claim(pfn, order, &|| what.clone())?;
                        // A free buddy of the same order would have been merged, unless the
                        // pageblock types forbid it above pageblock_order.
                        if order < MAX_PAGE_ORDER {
                            let buddy = pfn ^ (1 << order);
                            if zone.contains(buddy) {
                                let b = &self.pages[buddy as usize];
                                // At pageblock order and above a pageblock's type can keep buddies
                                // apart, and a later type change (unreserving a highatomic block)
                                // does not merge them: the kernel leaves them so too.
                                let unmergeable = order >= PAGEBLOCK_ORDER;
                                ensure!(
                                    !b.is_head(PageState::Buddy, order) || unmergeable,
                                    "{what}: pfn {pfn} and its buddy {buddy} are both free at order {order}"
                                );
                            }
                        }
                        free_pages += 1 << order;
                        blocks += 1;
                    }
                }
                ensure!(
                    area.nr_free == blocks,
                    "{label} free_area[{order}].nr_free is {} but {blocks} blocks",
                    area.nr_free
                );
            }
            ensure!(
                zone.nr_free_pages == free_pages,
                "{label} NR_FREE_PAGES is {} but the buddy lists hold {free_pages}",
                zone.nr_free_pages
            );
            for (cpu, pcp) in zone.pcp.iter().enumerate() {
                ensure!(!pcp.locked, "{label} cpu{cpu} pcp lock left held");
                let mut count = 0u32;
                for (pindex, list) in pcp.lists().iter().enumerate() {
                    let what = format!("{label} cpu{cpu} pcp list {pindex}");
                    let order = pindex_to_order(self.profile, pindex);
                    for pfn in walk(list, &what)? {
                        let page = &self.pages[pfn as usize];
                        ensure!(page.state() == PageState::Pcp, "{what}: pfn {pfn} is not marked pcp");
                        ensure!(
                            page.owner() as usize == cpu && page.list() == pindex,
                            "{what}: pfn {pfn} has a stale record"
                        );
                        ensure!(
                            page.order() == order && zone.contains(pfn),
                            "{what}: pfn {pfn} order or zone wrong"
                        );
                        claim(pfn, order, &|| what.clone())?;
                        count += 1 << order;
                    }
                }
                ensure!(
                    pcp.lists[pcp.lists().len()..].iter().all(List::is_empty),
                    "{label} cpu{cpu} has pages on a pcp list its era does not have"
                );
                ensure!(
                    pcp.count == count,
                    "{label} cpu{cpu} pcp count is {} but the lists hold {count}",
                    pcp.count
                );
            }
        }

        ensure!(
            self.holders.len() <= MAX_HOLDERS,
            "{} holders, more than page records can name ({MAX_HOLDERS})",
            self.holders.len()
        );
        let mut file_pages = vec![0u64; self.zones.len()];
        for (owner, holder) in self.holders.iter().enumerate() {
            let what = format!("holder {:?}", holder.name);
            let blocks: Vec<Pfn> = match &holder.slots {
                Slots::List(l) => {
                    l.verify(&self.pages).map_err(|e| InvariantError(format!("{what}: {e}")))?
                }
                Slots::Array(a) => a.iter().copied().filter(|&p| p != NIL).collect(),
            };
            for pfn in blocks {
                let page = &self.pages[pfn as usize];
                ensure!(page.state() == PageState::Allocated, "{what}: pfn {pfn} is not marked allocated");
                ensure!(
                    page.owner() as usize == owner,
                    "{what}: pfn {pfn} is owned by holder {}",
                    page.owner()
                );
                claim(pfn, page.order(), &|| what.clone())?;
                if owner == crate::machine::PAGE_CACHE as usize {
                    file_pages[self.pfn_zone(pfn).expect("claimed pages are in memory")] += 1;
                }
            }
        }
        for (z, zone) in self.zones.iter().enumerate() {
            ensure!(
                zone.nr_file_pages == file_pages[z],
                "{} counts {} page-cache pages but holds {}",
                zone.label(),
                zone.nr_file_pages,
                file_pages[z]
            );
        }

        for (pfn, page) in self.pages.iter().enumerate() {
            match page.state() {
                PageState::Reserved => ensure!(!seen[pfn], "reserved pfn {pfn} is on a list"),
                _ => {
                    ensure!(seen[pfn], "pfn {pfn} ({:?}) is in no list, pcp or holder: leaked", page.state())
                }
            }
        }
        ensure!(!self.irqs_disabled, "IRQs left disabled");
        Ok(())
    }
}
