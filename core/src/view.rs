//! What a UI shows of the machine at one moment, and how each event changes it.
//!
//! A [`View`] is read off a [`Machine`] between actions ([`View::of`]) and then moved forward one
//! event at a time ([`View::apply`]), so a player can stand between any two events of an action and
//! see pages half way through a refill. The rule that makes stepping trustworthy: reading the
//! machine after an action gives the same view as applying the action's events to the view read
//! before it (tested for every scenario and for random workloads).

use serde::Serialize;

use crate::machine::{Machine, Slots, PAGE_CACHE};
use crate::mem::{MigrateType, PageState, Pfn, MIGRATE_TYPES, NIL, NR_PAGE_ORDERS};
use crate::trace::{Counter, Event, Loc};

/// Where one page frame is, packed in a byte for the memory map: one byte per pfn keeps a 16 GiB
/// machine's map at 4 MiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PageClass {
    /// Not given to the allocator: memblock-reserved, a hole, the kernel image.
    Reserved,
    /// Part of a free block of `order` on `free_area[order].free_list[mt]`.
    Buddy { order: u8, mt: MigrateType },
    /// On a CPU's pcp list.
    Pcp { cpu: u16 },
    /// Held by the page cache (reclaimable).
    PageCache,
    /// Held by a caller.
    Allocated,
}

const BUDDY_BASE: u8 = 1;
const PCP_BASE: u8 = 64;
const PAGE_CACHE_CODE: u8 = 128;
const ALLOCATED_CODE: u8 = 129;

impl PageClass {
    /// The byte the memory map stores.
    pub fn code(self) -> u8 {
        match self {
            PageClass::Reserved => 0,
            PageClass::Buddy { order, mt } => BUDDY_BASE + order * MIGRATE_TYPES as u8 + mt as u8,
            PageClass::Pcp { cpu } => PCP_BASE + cpu as u8,
            PageClass::PageCache => PAGE_CACHE_CODE,
            PageClass::Allocated => ALLOCATED_CODE,
        }
    }

    /// The class a byte of the memory map stands for.
    pub fn from_code(code: u8) -> PageClass {
        let buddy_end = BUDDY_BASE + (NR_PAGE_ORDERS * MIGRATE_TYPES) as u8;
        match code {
            0 => PageClass::Reserved,
            c if (BUDDY_BASE..buddy_end).contains(&c) => {
                let i = (c - BUDDY_BASE) as usize;
                PageClass::Buddy {
                    order: (i / MIGRATE_TYPES) as u8,
                    mt: MigrateType::from_index(i % MIGRATE_TYPES),
                }
            }
            c if (PCP_BASE..PAGE_CACHE_CODE).contains(&c) => PageClass::Pcp { cpu: u16::from(c - PCP_BASE) },
            PAGE_CACHE_CODE => PageClass::PageCache,
            _ => PageClass::Allocated,
        }
    }

    fn of_loc(loc: Loc) -> PageClass {
        match loc {
            Loc::Buddy { order, mt, .. } => PageClass::Buddy { order, mt },
            Loc::Pcp { cpu, .. } => PageClass::Pcp { cpu },
            Loc::Caller { owner: PAGE_CACHE, .. } => PageClass::PageCache,
            Loc::Caller { .. } => PageClass::Allocated,
        }
    }
}

/// A CPU's pageset for one zone: pages counted and blocks per list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PcpView {
    /// `pcp->count`, in pages.
    pub count: u32,
    /// Blocks on each `pcp->lists[pindex]`.
    pub lists: Vec<u32>,
}

/// One zone: its free blocks by order and migratetype, `NR_FREE_PAGES`, and its pagesets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ZoneView {
    /// `free_area[order].free_list[mt]` lengths.
    pub free_blocks: [[u32; MIGRATE_TYPES]; NR_PAGE_ORDERS],
    /// `NR_FREE_PAGES` as the zone counts it.
    pub nr_free_pages: i64,
    pub pcp: Vec<PcpView>,
}

impl ZoneView {
    /// Free blocks of each order over all migratetypes: a line of `/proc/buddyinfo`.
    pub fn buddyinfo(&self) -> [u32; NR_PAGE_ORDERS] {
        std::array::from_fn(|o| self.free_blocks[o].iter().sum())
    }
}

/// What a holder holds: the pfns of its blocks, list head first, or its array slots (`NIL` for a
/// NULL slot). The page cache is kept as a count: it can hold most of memory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HolderView {
    pub list: Vec<Pfn>,
    pub array: Vec<Pfn>,
    pub blocks: u64,
}

/// The machine as a UI draws it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct View {
    /// One [`PageClass::code`] per pfn.
    #[serde(skip)]
    pub class: Vec<u8>,
    pub zones: Vec<ZoneView>,
    /// By owner id, as the machine numbers its holders.
    pub holders: Vec<HolderView>,
}

impl View {
    /// Read the view off a machine between actions.
    pub fn of(m: &Machine) -> View {
        let mut class = vec![0u8; m.pages.len()];
        for (pfn, page) in m.pages.iter().enumerate() {
            let c = match page.state() {
                PageState::Reserved | PageState::Tail => continue,
                PageState::Buddy => {
                    PageClass::Buddy { order: page.order(), mt: MigrateType::from_index(page.list()) }
                }
                PageState::Pcp => PageClass::Pcp { cpu: page.owner() as u16 },
                PageState::Allocated if page.owner() == PAGE_CACHE => PageClass::PageCache,
                PageState::Allocated => PageClass::Allocated,
            };
            let end = (pfn + (1 << page.order())).min(class.len());
            class[pfn..end].fill(c.code());
        }
        let zones = m
            .zones
            .iter()
            .map(|z| ZoneView {
                free_blocks: std::array::from_fn(|o| {
                    std::array::from_fn(|t| z.free_area[o].free_list[t].len)
                }),
                nr_free_pages: z.nr_free_pages,
                pcp: z
                    .pcp
                    .iter()
                    .map(|p| PcpView { count: p.count, lists: p.lists().iter().map(|l| l.len).collect() })
                    .collect(),
            })
            .collect();
        let holders = m
            .holders
            .iter()
            .enumerate()
            .map(|(owner, h)| match &h.slots {
                Slots::List(l) if owner as u32 == PAGE_CACHE => {
                    HolderView { blocks: u64::from(l.len()), ..HolderView::default() }
                }
                Slots::List(l) => HolderView {
                    list: l.iter().collect(),
                    blocks: u64::from(l.len()),
                    ..HolderView::default()
                },
                Slots::Array(a) => {
                    let mut array = a.clone();
                    trim_nulls(&mut array);
                    let blocks = array.iter().filter(|&&p| p != NIL).count() as u64;
                    HolderView { array, blocks, ..HolderView::default() }
                }
            })
            .collect();
        View { class, zones, holders }
    }

    /// The class of one pfn.
    pub fn class_of(&self, pfn: Pfn) -> PageClass {
        PageClass::from_code(self.class[pfn as usize])
    }

    /// Move the view one event forward.
    pub fn apply(&mut self, ev: &Event) {
        match *ev {
            Event::Move { pfn, order, from, to } => {
                self.leave(from, pfn, order);
                self.enter(to, pfn, order);
                self.paint(pfn, order, PageClass::of_loc(to));
            }
            // `expand()`: the block of `order + 1` at `pfn` becomes two free blocks of `order`;
            // the caller goes on splitting the lower one or takes it with a `Move`.
            Event::Split { zone, pfn, buddy, order } => {
                let PageClass::Buddy { mt, .. } = self.class_of(pfn) else { return };
                let area = &mut self.zones[zone as usize].free_blocks;
                area[order as usize + 1][mt.index()] -= 1;
                area[order as usize][mt.index()] += 2;
                let half = PageClass::Buddy { order, mt };
                self.paint(pfn, order, half);
                self.paint(buddy, order, half);
            }
            // `__free_one_page()`: the block at `pfn` (already counted free) and its buddy leave
            // their lists and one block of `order + 1` takes their place.
            Event::Merge { zone, pfn, buddy, order } => {
                let PageClass::Buddy { mt, .. } = self.class_of(pfn) else { return };
                let PageClass::Buddy { mt: buddy_mt, .. } = self.class_of(buddy) else { return };
                let area = &mut self.zones[zone as usize].free_blocks;
                area[order as usize][mt.index()] -= 1;
                area[order as usize][buddy_mt.index()] -= 1;
                area[order as usize + 1][mt.index()] += 1;
                self.paint(pfn & buddy, order + 1, PageClass::Buddy { order: order + 1, mt });
            }
            Event::Counter { counter: Counter::NrFreePages, zone: Some(z), value, .. } => {
                self.zones[z as usize].nr_free_pages = value;
            }
            _ => {}
        }
    }

    fn paint(&mut self, pfn: Pfn, order: u8, class: PageClass) {
        let start = pfn as usize;
        self.class[start..start + (1 << order)].fill(class.code());
    }

    fn holder(&mut self, owner: u32) -> &mut HolderView {
        let owner = owner as usize;
        if self.holders.len() <= owner {
            self.holders.resize(owner + 1, HolderView::default());
        }
        &mut self.holders[owner]
    }

    fn leave(&mut self, from: Loc, pfn: Pfn, order: u8) {
        match from {
            Loc::Buddy { zone, order, mt } => {
                self.zones[zone as usize].free_blocks[order as usize][mt.index()] -= 1
            }
            Loc::Pcp { zone, cpu, pindex } => {
                let pcp = &mut self.zones[zone as usize].pcp[cpu as usize];
                pcp.count -= 1 << order;
                pcp.lists[pindex as usize] -= 1;
            }
            // A free names the page, not the slot (`put_page()`); the caller clears its slot.
            Loc::Caller { owner, .. } => {
                let page_cache = owner == PAGE_CACHE;
                let h = self.holder(owner);
                h.blocks -= 1;
                if let Some(i) = h.array.iter().position(|&p| p == pfn) {
                    h.array[i] = NIL;
                    trim_nulls(&mut h.array);
                } else if !page_cache {
                    h.list.retain(|&p| p != pfn);
                }
            }
        }
    }

    fn enter(&mut self, to: Loc, pfn: Pfn, order: u8) {
        match to {
            Loc::Buddy { zone, order, mt } => {
                self.zones[zone as usize].free_blocks[order as usize][mt.index()] += 1
            }
            Loc::Pcp { zone, cpu, pindex } => {
                let pcp = &mut self.zones[zone as usize].pcp[cpu as usize];
                pcp.count += 1 << order;
                pcp.lists[pindex as usize] += 1;
            }
            Loc::Caller { owner, slot } => {
                let page_cache = owner == PAGE_CACHE;
                let h = self.holder(owner);
                h.blocks += 1;
                match slot {
                    Some(s) => {
                        let s = s as usize;
                        if h.array.len() <= s {
                            h.array.resize(s + 1, NIL);
                        }
                        h.array[s] = pfn;
                    }
                    None if page_cache => {}
                    // Callers' lists take blocks with `list_add()`, at the head.
                    None => h.list.insert(0, pfn),
                }
            }
        }
    }
}

/// Arrays are compared and drawn up to their last page: the machine sizes an array when a
/// call first uses it, which no event records.
fn trim_nulls(array: &mut Vec<Pfn>) {
    while array.last() == Some(&NIL) {
        array.pop();
    }
}
