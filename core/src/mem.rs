//! Physical memory as the kernel lays it out: page frames, zones, migratetypes, and the intrusive
//! lists (`struct list_head` threaded through `page->lru`) that free areas, pcp lists and callers'
//! lists are made of.
//!
//! Every page frame is one [`Page`] record in an arena indexed by pfn. Lists link records by pfn,
//! so head/tail order is the kernel's and removal is O(1), and a page record is 12 bytes.

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

/// One `struct page`, reduced to what the allocator looks at, in 12 bytes: two list links, the
/// owner, and two bytes that pack the rest, as the kernel packs `page->flags` and reuses
/// `page->private` and `page->index` for whatever the page's state needs.
///
/// The state and the order share a byte (state in the high nibble, order in the low), so the
/// tests the hot paths make, "the head of a free block of this order" (`page_is_buddy()`) and
/// "the head of an allocated block of this order" (`free_pages_prepare()`), are one compare of
/// that byte. The other byte holds the list the head is on (low nibble) and the pcp
/// migratetype (high nibble). Each setter writes whole bytes, never reading them first: what it
/// does not name is meaningless in the state it sets (a tail's order, a buddy's pcp
/// migratetype, the list of a page leaving the free lists).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Page {
    /// `lru.next`; on a page a holder's list holds, its place in that list
    /// ([`crate::holder_list::HolderList`]), as nothing else reads a held page's `lru`.
    pub next: Pfn,
    /// `lru.prev` (unused on a page a holder's list holds).
    pub prev: Pfn,
    /// For [`PageState::Pcp`]: the CPU; for [`PageState::Allocated`]: the holder id, which is
    /// why a machine has at most [`crate::machine::MAX_HOLDERS`] holders.
    owner: u16,
    /// `state << 4 | order`: the order is `buddy_order()` for buddy heads, the block order for
    /// pcp and allocated heads, 0 for the rest.
    head: u8,
    /// `pcp_mt << 4 | list`. `list`: for buddy heads the free list's migratetype, for pcp heads
    /// the pindex (below `NR_PCP_LISTS_MAX`, 15). `pcp_mt`: the pcp migratetype cache
    /// (`set_pcppage_migratetype()`, kept in `page->index`), the migratetype a pcp page returns
    /// to the buddy lists with, and a page taken off the free lists is accounted as.
    lists: u8,
}

/// The low nibble of a packed byte.
const NIBBLE: u8 = 0x0f;

impl Page {
    pub const RESERVED: Page = Page { next: NIL, prev: NIL, owner: 0, head: 0, lists: 0 };

    /// The packed state and order byte of a head.
    #[inline(always)]
    const fn head_byte(state: PageState, order: u8) -> u8 {
        (state as u8) << 4 | order
    }

    #[inline(always)]
    pub fn state(&self) -> PageState {
        match self.head >> 4 {
            0 => PageState::Reserved,
            1 => PageState::Buddy,
            2 => PageState::Pcp,
            3 => PageState::Allocated,
            _ => PageState::Tail,
        }
    }

    /// The block order of a head.
    #[inline(always)]
    pub fn order(&self) -> u8 {
        self.head & NIBBLE
    }

    /// Whether this is the head of a block of `order` in `state`: one compare.
    #[inline(always)]
    pub fn is_head(&self, state: PageState, order: u8) -> bool {
        self.head == Page::head_byte(state, order)
    }

    /// The holder of an allocated head, or the CPU of a pcp head.
    #[inline(always)]
    pub fn owner(&self) -> u32 {
        u32::from(self.owner)
    }

    /// The list a free head is on: the migratetype of its free list (buddy), or its pindex (pcp).
    #[inline(always)]
    pub fn list(&self) -> usize {
        usize::from(self.lists & NIBBLE)
    }

    /// `get_pcppage_migratetype()`.
    #[inline(always)]
    pub fn pcppage_migratetype(&self) -> MigrateType {
        MigrateType::from_index(usize::from(self.lists >> 4))
    }

    /// `set_pcppage_migratetype()` of a page just taken off the free lists.
    #[inline(always)]
    pub fn set_pcppage_migratetype(&mut self, mt: MigrateType) {
        self.lists = (mt as u8) << 4;
    }

    /// `set_buddy_order()` and `__SetPageBuddy()`: the head of a free block on `free_list[mt]`.
    #[inline(always)]
    pub fn set_buddy(&mut self, order: u8, mt: MigrateType) {
        self.head = Page::head_byte(PageState::Buddy, order);
        self.lists = mt as u8;
    }

    /// The head of a block on `cpu`'s pcp list `pindex`, to return to the buddy lists as `mt`
    /// (`set_pcppage_migratetype()`, written with the list).
    #[inline(always)]
    pub fn set_pcp(&mut self, cpu: u16, order: u8, pindex: usize, mt: MigrateType) {
        self.head = Page::head_byte(PageState::Pcp, order);
        self.owner = cpu;
        self.lists = (mt as u8) << 4 | pindex as u8;
    }

    /// The head of a block held by `owner`, an id below [`crate::machine::MAX_HOLDERS`]
    /// (`Machine::holder_id` hands out no other).
    #[inline(always)]
    pub fn set_allocated(&mut self, owner: u32, order: u8) {
        self.head = Page::head_byte(PageState::Allocated, order);
        self.set_owner(owner);
    }

    /// Another holder has the allocated block now.
    #[inline(always)]
    pub fn set_owner(&mut self, owner: u32) {
        debug_assert!(owner <= u32::from(u16::MAX), "holder ids fit the page record");
        self.owner = owner as u16;
    }

    /// A page inside a block now: the block's head carries its state and order.
    #[inline(always)]
    pub fn set_tail(&mut self) {
        self.head = Page::head_byte(PageState::Tail, 0);
    }
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("next", &self.next)
            .field("prev", &self.prev)
            .field("owner", &self.owner)
            .field("state", &self.state())
            .field("order", &self.order())
            .field("list", &self.list())
            .field("pcp_mt", &self.pcppage_migratetype())
            .finish()
    }
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
    fn a_page_record_is_twelve_bytes() {
        assert_eq!(std::mem::size_of::<Page>(), 12);
    }

    #[test]
    fn a_page_record_keeps_state_order_owner_list_and_pcp_migratetype_apart() {
        let mut page = Page::RESERVED;
        page.set_pcp(63, PAGE_ALLOC_COSTLY_ORDER, 14, MigrateType::Isolate);
        assert_eq!(page.state(), PageState::Pcp);
        assert_eq!((page.owner(), page.order(), page.list()), (63, PAGE_ALLOC_COSTLY_ORDER, 14));
        assert_eq!(page.pcppage_migratetype(), MigrateType::Isolate);

        page.set_allocated(u32::from(u16::MAX), MAX_PAGE_ORDER);
        assert!(page.is_head(PageState::Allocated, MAX_PAGE_ORDER));
        assert!(!page.is_head(PageState::Allocated, MAX_PAGE_ORDER - 1));
        assert!(!page.is_head(PageState::Buddy, MAX_PAGE_ORDER));
        assert_eq!(page.owner(), u32::from(u16::MAX));
        assert_eq!((page.list(), page.pcppage_migratetype()), (14, MigrateType::Isolate));

        page.set_tail();
        assert_eq!(page.state(), PageState::Tail);
        page.set_buddy(MAX_PAGE_ORDER, MigrateType::HighAtomic);
        assert!(page.is_head(PageState::Buddy, MAX_PAGE_ORDER));
        assert_eq!(page.list(), MigrateType::HighAtomic.index());
        page.set_pcppage_migratetype(MigrateType::Reclaimable);
        assert_eq!(page.pcppage_migratetype(), MigrateType::Reclaimable);
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
