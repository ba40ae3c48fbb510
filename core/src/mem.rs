//! Physical memory as the kernel lays it out: page frames, zones, migratetypes, and the intrusive
//! lists (`struct list_head` threaded through `page->lru`) that free areas, pcp lists and callers'
//! lists are made of.
//!
//! Every page frame is one [`Page`] record in an arena indexed by pfn. Lists link records by pfn,
//! so head/tail order is the kernel's and removal is O(1), and a page record is 16 bytes.

use serde::{Deserialize, Serialize};

/// A page frame number.
pub type Pfn = u32;
/// The "no page" link, like a NULL `struct page *`.
pub const NIL: Pfn = u32::MAX;

pub const PAGE_SHIFT: u32 = 12;
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
/// The highest buddy order (`MAX_ORDER - 1` before 6.4, `MAX_PAGE_ORDER` after).
pub const MAX_PAGE_ORDER: u8 = 10;
/// Orders 0..=10 (`NR_PAGE_ORDERS`, or `MAX_ORDER` before 6.4).
pub const NR_PAGE_ORDERS: usize = MAX_PAGE_ORDER as usize + 1;
/// `pageblock_order` on x86-64 with 4 KiB pages (`HUGETLB_PAGE_ORDER`).
pub const PAGEBLOCK_ORDER: u8 = 9;
pub const PAGEBLOCK_NR_PAGES: u32 = 1 << PAGEBLOCK_ORDER;
/// `PAGE_ALLOC_COSTLY_ORDER`: the highest order kept on pcp lists besides THP.
pub const PAGE_ALLOC_COSTLY_ORDER: u8 = 3;
/// Simulated memory is capped at 16 GiB.
pub const MAX_SIMULATED_PAGES: u64 = 4 << 20;

/// `enum zone_type` on x86-64 (no HIGHMEM on 64-bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ZoneType {
    Dma,
    Dma32,
    Normal,
    Movable,
}

impl ZoneType {
    pub const ALL: [ZoneType; 4] = [ZoneType::Dma, ZoneType::Dma32, ZoneType::Normal, ZoneType::Movable];

    /// `zone_idx()`.
    pub fn idx(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            ZoneType::Dma => "DMA",
            ZoneType::Dma32 => "DMA32",
            ZoneType::Normal => "Normal",
            ZoneType::Movable => "Movable",
        }
    }
}

/// `MAX_NR_ZONES`.
pub const MAX_NR_ZONES: usize = 4;

/// `enum migratetype`, the ones pageflow models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MigrateType {
    Unmovable = 0,
    Movable = 1,
    Reclaimable = 2,
    HighAtomic = 3,
    Isolate = 4,
}

/// `MIGRATE_PCPTYPES`: the types that have pcp lists.
pub const MIGRATE_PCPTYPES: usize = 3;
/// `MIGRATE_TYPES` as modelled (no CMA).
pub const MIGRATE_TYPES: usize = 5;

impl MigrateType {
    pub const ALL: [MigrateType; MIGRATE_TYPES] = [
        MigrateType::Unmovable,
        MigrateType::Movable,
        MigrateType::Reclaimable,
        MigrateType::HighAtomic,
        MigrateType::Isolate,
    ];

    pub fn from_index(i: usize) -> MigrateType {
        MigrateType::ALL[i]
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            MigrateType::Unmovable => "Unmovable",
            MigrateType::Movable => "Movable",
            MigrateType::Reclaimable => "Reclaimable",
            MigrateType::HighAtomic => "HighAtomic",
            MigrateType::Isolate => "Isolate",
        }
    }
}

/// Where a page frame is, as recorded in its [`Page`] record. Only the first page of a block
/// carries the block's state; the other pages of a free or allocated block are [`PageState::Tail`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum PageState {
    /// Never given to the allocator (`memblock` reserved, the kernel image, holes).
    Reserved,
    /// Head of a free block on `free_area[order].free_list[mt]` (`PageBuddy`).
    Buddy,
    /// Head of a block on a CPU's pcp list.
    Pcp,
    /// Head of a block held by a caller (an owner in the simulation).
    Allocated,
    /// A page inside a block whose head carries the state.
    Tail,
}

/// One `struct page`, reduced to what the allocator looks at. 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Page {
    /// `lru.next`.
    pub next: Pfn,
    /// `lru.prev`.
    pub prev: Pfn,
    /// For [`PageState::Pcp`]: the CPU; for [`PageState::Allocated`]: the owner id.
    pub owner: u32,
    /// `buddy_order()` for buddy heads; the block order for pcp and allocated heads.
    pub order: u8,
    pub state: PageState,
    /// For buddy heads: the free list's migratetype; for pcp heads: the pindex.
    pub list: u8,
    /// The pcp migratetype cache (`set_pcppage_migratetype`, kept in `page->index`): the
    /// migratetype a pcp page returns to the buddy lists with.
    pub pcp_mt: u8,
}

impl Page {
    pub const RESERVED: Page =
        Page { next: NIL, prev: NIL, owner: 0, order: 0, state: PageState::Reserved, list: 0, pcp_mt: 0 };
}

/// A `struct list_head` anchor: the head and tail pfn, and the length (kept for O(1) counts and
/// checked against a walk by the invariants).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct List {
    pub head: Pfn,
    pub tail: Pfn,
    pub len: u32,
}

impl Default for List {
    fn default() -> Self {
        List::EMPTY
    }
}

impl List {
    pub const EMPTY: List = List { head: NIL, tail: NIL, len: 0 };

    pub fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// `list_add()`: insert at the head.
    #[inline]
    pub fn add(&mut self, pages: &mut [Page], pfn: Pfn) {
        let old = self.head;
        pages[pfn as usize].prev = NIL;
        pages[pfn as usize].next = old;
        if old == NIL {
            self.tail = pfn;
        } else {
            pages[old as usize].prev = pfn;
        }
        self.head = pfn;
        self.len += 1;
    }

    /// `list_add_tail()`: insert at the tail.
    #[inline]
    pub fn add_tail(&mut self, pages: &mut [Page], pfn: Pfn) {
        let old = self.tail;
        pages[pfn as usize].next = NIL;
        pages[pfn as usize].prev = old;
        if old == NIL {
            self.head = pfn;
        } else {
            pages[old as usize].next = pfn;
        }
        self.tail = pfn;
        self.len += 1;
    }

    /// `list_del()`: unlink a page that is on this list.
    #[inline]
    pub fn del(&mut self, pages: &mut [Page], pfn: Pfn) {
        let Page { next, prev, .. } = pages[pfn as usize];
        if prev == NIL {
            self.head = next;
        } else {
            pages[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            pages[next as usize].prev = prev;
        }
        pages[pfn as usize].next = NIL;
        pages[pfn as usize].prev = NIL;
        self.len -= 1;
    }

    /// `list_first_entry()` then `list_del()`: take the head of a list that is not empty.
    #[inline]
    pub fn del_first(&mut self, pages: &mut [Page]) -> Pfn {
        let pfn = self.head;
        let next = pages[pfn as usize].next;
        self.head = next;
        if next == NIL {
            self.tail = NIL;
        } else {
            pages[next as usize].prev = NIL;
        }
        pages[pfn as usize].next = NIL;
        self.len -= 1;
        pfn
    }

    /// The pfns on the list, head first.
    pub fn iter<'a>(&self, pages: &'a [Page]) -> ListIter<'a> {
        ListIter { pages, at: self.head }
    }
}

/// Walks a [`List`] from head to tail.
pub struct ListIter<'a> {
    pages: &'a [Page],
    at: Pfn,
}

impl Iterator for ListIter<'_> {
    type Item = Pfn;
    fn next(&mut self) -> Option<Pfn> {
        if self.at == NIL {
            return None;
        }
        let pfn = self.at;
        self.at = self.pages[pfn as usize].next;
        Some(pfn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_record_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Page>(), 16);
    }

    #[test]
    fn list_add_puts_pages_at_the_head_and_add_tail_at_the_tail() {
        let mut pages = vec![Page::RESERVED; 4];
        let mut list = List::EMPTY;
        list.add(&mut pages, 1);
        list.add(&mut pages, 2);
        list.add_tail(&mut pages, 3);
        assert_eq!(list.iter(&pages).collect::<Vec<_>>(), vec![2, 1, 3]);
        list.del(&mut pages, 1);
        assert_eq!(list.iter(&pages).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!((list.head, list.tail, list.len), (2, 3, 2));
        assert_eq!(list.del_first(&mut pages), 2);
        list.del(&mut pages, 3);
        assert!(list.is_empty());
        assert_eq!(list.tail, NIL);
    }
}
