//! A holder's list of blocks: in the kernel a caller's `struct list_head` threaded through
//! `page->lru`, to which `alloc_pages_bulk` and `list_add()` add at the head. The model keeps the
//! same order (head = the block added last) but stores it so that the block at any position is
//! found in O(log n): a random workload frees a run of blocks from a random position of a page
//! cache that may hold hundreds of thousands, and walking `lru` links there cost milliseconds a
//! step.
//!
//! Every block added gets the next stamp; the blocks sit in a vector by stamp (`NIL` where a
//! block has left), and a Fenwick tree counts the live blocks per chunk of stamps. While a page
//! is held its `lru.next` is unused, so it keeps the page's stamp there, which makes removing a
//! block O(log n) too. The vector is compacted when a third of it is holes.

use serde::Serialize;

use crate::mem::{Page, Pfn, NIL};

/// Stamps per chunk of the live-block count.
const CHUNK: usize = 64;

/// A list of held blocks, head (the block added last) first.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HolderList {
    /// Blocks by stamp, oldest first; `NIL` where a block has left.
    stamps: Vec<Pfn>,
    /// Every stamp below this one is a hole.
    first: usize,
    /// Live blocks per chunk of `CHUNK` stamps, as a Fenwick tree (1-based, `tree[0]` unused).
    tree: Vec<u32>,
    len: u32,
}

impl HolderList {
    /// Blocks on the list.
    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The block added last (`list_first_entry()`), or `NIL`.
    pub fn head(&self) -> Pfn {
        self.iter().next().unwrap_or(NIL)
    }

    /// The block added first (`list_last_entry()`), or `NIL`.
    pub fn tail(&self) -> Pfn {
        self.stamps.get(self.first).copied().unwrap_or(NIL)
    }

    /// The blocks, head first (`list_for_each_entry()`).
    pub fn iter(&self) -> impl Iterator<Item = Pfn> + '_ {
        self.stamps[self.first..].iter().rev().copied().filter(|&p| p != NIL)
    }

    /// The block after `pfn` in a walk from the tail towards the head (`lru.prev`, the way
    /// reclaim walks the LRU from its oldest end), or `NIL` past the head. `pfn` must be on the
    /// list.
    pub fn newer(&self, pages: &[Page], pfn: Pfn) -> Pfn {
        let stamp = pages[pfn as usize].next as usize;
        self.stamps[stamp + 1..].iter().copied().find(|&p| p != NIL).unwrap_or(NIL)
    }

    /// `list_add()`: `pfn` becomes the head.
    pub fn add(&mut self, pages: &mut [Page], pfn: Pfn) {
        // Holes are at most half as many as blocks, and the vector grows by a quarter at a
        // time: about 6 bytes a held block, rather than the 16 that holes up to the blocks'
        // number and doubling would allow.
        if self.stamps.len() >= self.len as usize * 3 / 2 + CHUNK {
            self.compact(pages);
        }
        if self.stamps.len() == self.stamps.capacity() {
            self.stamps.reserve_exact(self.stamps.len() / 4 + CHUNK);
        }
        let stamp = self.stamps.len();
        self.stamps.push(pfn);
        pages[pfn as usize].next = stamp as Pfn;
        let chunk = stamp / CHUNK;
        while self.tree.len() <= chunk + 1 {
            self.grow_tree();
        }
        self.count(chunk, 1);
        self.len += 1;
    }

    /// `list_del()`: take `pfn`, which must be on the list, off it.
    pub fn del(&mut self, pages: &mut [Page], pfn: Pfn) {
        let stamp = pages[pfn as usize].next as usize;
        debug_assert_eq!(self.stamps[stamp], pfn, "a held page keeps its stamp in lru.next");
        self.stamps[stamp] = NIL;
        pages[pfn as usize].next = NIL;
        self.count(stamp / CHUNK, -1);
        self.len -= 1;
        while self.stamps.last() == Some(&NIL) {
            self.stamps.pop();
        }
        self.first = self.first.min(self.stamps.len());
        while self.first < self.stamps.len() && self.stamps[self.first] == NIL {
            self.first += 1;
        }
    }

    /// `take` blocks from the `start`th (0 = the head) on, towards the tail and round to the
    /// head again: the blocks [`HolderList::iter`] cycled would give. `start` must be below the
    /// length.
    pub fn window(&self, start: usize, take: usize) -> Vec<Pfn> {
        let mut window = Vec::with_capacity(take);
        if self.is_empty() {
            return window;
        }
        // The head is the newest block: position `start` is the live block of rank len-1-start,
        // counting from the oldest.
        let mut stamp = self.stamp_of_rank(self.len as usize - 1 - start);
        while window.len() < take {
            window.push(self.stamps[stamp]);
            stamp = match self.stamps[self.first..stamp].iter().rposition(|&p| p != NIL) {
                Some(i) => self.first + i,
                None => self.stamps.iter().rposition(|&p| p != NIL).expect("the list is not empty"),
            };
        }
        window
    }

    /// The blocks on the list, each with the stamp its page records, checked against the live
    /// counts: an error names what disagrees.
    pub fn verify(&self, pages: &[Page]) -> Result<Vec<Pfn>, String> {
        let mut blocks = Vec::with_capacity(self.len as usize);
        for (stamp, &pfn) in self.stamps.iter().enumerate().rev() {
            if pfn == NIL {
                continue;
            }
            if stamp < self.first {
                return Err(format!("pfn {pfn} is before the first live stamp {}", self.first));
            }
            let recorded = pages.get(pfn as usize).map(|p| p.next);
            if recorded != Some(stamp as Pfn) {
                return Err(format!("pfn {pfn} is at stamp {stamp} but its page records {recorded:?}"));
            }
            blocks.push(pfn);
        }
        if blocks.len() != self.len as usize {
            return Err(format!("length is {} but {} blocks are on it", self.len, blocks.len()));
        }
        for chunk in 0..self.tree.len().saturating_sub(1) {
            let live = self.stamps.iter().skip(chunk * CHUNK).take(CHUNK).filter(|&&p| p != NIL).count();
            let counted = self.prefix(chunk + 1) - self.prefix(chunk);
            if counted as usize != live {
                return Err(format!("chunk {chunk} counts {counted} live blocks but holds {live}"));
            }
        }
        Ok(blocks)
    }

    /// Bytes the list keeps outside the page records.
    pub fn heap_bytes(&self) -> usize {
        self.stamps.capacity() * size_of::<Pfn>() + self.tree.capacity() * size_of::<u32>()
    }

    /// Renumber the live blocks from 0, dropping the holes.
    fn compact(&mut self, pages: &mut [Page]) {
        self.stamps.retain(|&p| p != NIL);
        self.stamps.shrink_to(self.stamps.len() * 5 / 4 + CHUNK);
        self.first = 0;
        self.tree.clear();
        let chunks = self.stamps.len().div_ceil(CHUNK);
        for _ in 0..=chunks {
            self.grow_tree();
        }
        for (stamp, &pfn) in self.stamps.iter().enumerate() {
            pages[pfn as usize].next = stamp as Pfn;
        }
        for chunk in 0..chunks {
            let live = (self.stamps.len() - chunk * CHUNK).min(CHUNK);
            self.count(chunk, live as i32);
        }
    }

    /// Append a Fenwick node for the next chunk, which has no live blocks yet: node `i` sums the
    /// chunks `i - lowbit(i) .. i`, all of which are already counted.
    fn grow_tree(&mut self) {
        let i = self.tree.len();
        if i == 0 {
            self.tree.push(0);
            return;
        }
        let low = i & i.wrapping_neg();
        let sum = self.prefix(i - 1) - self.prefix(i - low);
        self.tree.push(sum);
    }

    /// Add `delta` to a chunk's live count.
    fn count(&mut self, chunk: usize, delta: i32) {
        let mut i = chunk + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].wrapping_add_signed(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// Live blocks in the chunks before `chunks`.
    fn prefix(&self, chunks: usize) -> u32 {
        let (mut i, mut sum) = (chunks, 0);
        while i > 0 {
            sum += self.tree[i];
            i &= i - 1;
        }
        sum
    }

    /// The stamp of the live block with `rank` live blocks older than it.
    fn stamp_of_rank(&self, rank: usize) -> usize {
        // Fenwick descent: the last chunk whose prefix count is at most `rank`.
        let mut rest = rank as u32;
        let mut i = 0;
        let mut step = (self.tree.len() - 1).next_power_of_two();
        while step > 0 {
            let j = i + step;
            if j < self.tree.len() && self.tree[j] <= rest {
                i = j;
                rest -= self.tree[j];
            }
            step >>= 1;
        }
        let chunk = &self.stamps[i * CHUNK..((i + 1) * CHUNK).min(self.stamps.len())];
        let at = chunk
            .iter()
            .enumerate()
            .filter(|&(_, &p)| p != NIL)
            .nth(rest as usize)
            .map(|(k, _)| k)
            .expect("a rank below the length is in some chunk");
        i * CHUNK + at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::List;

    fn pages(n: usize) -> Vec<Page> {
        vec![Page::RESERVED; n]
    }

    #[test]
    fn blocks_come_out_head_first_as_list_add_puts_them() {
        let mut p = pages(8);
        let mut l = HolderList::default();
        for pfn in [3, 5, 1] {
            l.add(&mut p, pfn);
        }
        assert_eq!(l.iter().collect::<Vec<_>>(), [1, 5, 3]);
        assert_eq!((l.head(), l.tail(), l.len()), (1, 3, 3));
        l.del(&mut p, 5);
        assert_eq!(l.iter().collect::<Vec<_>>(), [1, 3]);
        assert_eq!(l.newer(&p, 3), 1);
        assert_eq!(l.newer(&p, 1), NIL);
        l.del(&mut p, 3);
        assert_eq!((l.head(), l.tail(), l.len()), (1, 1, 1));
    }

    #[test]
    fn a_window_from_any_position_matches_a_walk_of_an_lru_list_through_adds_and_removals() {
        // The same operations on a kernel-style list and on the holder list: every window, of
        // every length up to one more than the list (wrapping round), must agree.
        let n = 3000;
        let mut lru_pages = pages(n);
        let mut lru = List::EMPTY;
        let mut p = pages(n);
        let mut l = HolderList::default();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rand = |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        let mut held = vec![false; n];
        for step in 0..20_000 {
            let pfn = rand(n as u64) as usize;
            if held[pfn] {
                lru.del(&mut lru_pages, pfn as Pfn);
                l.del(&mut p, pfn as Pfn);
            } else {
                lru.add(&mut lru_pages, pfn as Pfn);
                l.add(&mut p, pfn as Pfn);
            }
            held[pfn] = !held[pfn];
            if step % 97 == 0 && !lru.is_empty() {
                let walk: Vec<Pfn> = lru.iter(&lru_pages).collect();
                assert_eq!(l.verify(&p).expect("consistent"), walk);
                assert_eq!((l.head(), l.tail()), (lru.head, lru.tail));
                let start = rand(walk.len() as u64) as usize;
                let take = 1 + rand(walk.len() as u64 + 1) as usize;
                let cycled: Vec<Pfn> = walk.iter().copied().cycle().skip(start).take(take).collect();
                assert_eq!(l.window(start, take), cycled, "window({start}, {take}) at step {step}");
                let mut from_tail = Vec::new();
                let mut q = l.tail();
                while q != NIL {
                    from_tail.push(q);
                    q = l.newer(&p, q);
                }
                assert_eq!(from_tail, walk.iter().rev().copied().collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn removing_most_blocks_compacts_the_stamps_on_the_next_add() {
        let mut p = pages(1000);
        let mut l = HolderList::default();
        (0..1000).for_each(|pfn| l.add(&mut p, pfn));
        (0..990).for_each(|pfn| l.del(&mut p, pfn));
        l.add(&mut p, 0);
        assert_eq!(l.stamps.len(), 11);
        assert_eq!(l.iter().collect::<Vec<_>>(), [0, 999, 998, 997, 996, 995, 994, 993, 992, 991, 990]);
        l.verify(&p).expect("consistent after compaction");
    }
}
