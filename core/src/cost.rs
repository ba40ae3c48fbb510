//! The cost model: simulated CPU cycles for what a call did. It is a **model**, not a
//! measurement: every event kind the trace counts ([`Cost`]) has a price in cycles, chosen from
//! what the kernel code behind that event executes on a 2016-era x86 server core (the Xeon
//! E5-1650 v4 of Jesper Brouer's `page_bench04_bulk` numbers, 3.6 GHz), and a call costs the sum.
//! "Simulated ns" are those cycles at [`CostModel::cpu_ghz`].
//!
//! One table serves every call: the calibration test (`core/tests/calibration.rs`) runs Brouer's
//! workloads on the model with this table and checks them against his published cycles. The
//! prices are not fitted per workload; the doc comment of each says what kernel work it stands
//! for and why it costs that much. Only the pcp lock differs between eras, because the kernel's
//! code for it did: see [`CostModel::for_profile`].

use serde::{Deserialize, Serialize};

use crate::profile::{PcpLocking, Profile};
use crate::trace::Cost;

/// Cycles of the pcp lock proper in 5.14–5.19: `local_lock_irqsave(&pagesets.lock)` is
/// `local_irq_save()` plus a lockdep annotation on a non-`PREEMPT_RT` kernel, so beyond the IRQ
/// pair (charged as [`CostModel::irq_save_restore`]) it costs nothing.
pub const PCP_LOCAL_LOCK_CYCLES: f64 = 0.0;

/// Cycles of the pcp lock proper from 6.0: `pcp_spin_trylock()` is `preempt_disable()` and a
/// `spin_trylock()` (a `lock cmpxchg` on a cache-hot line, about 20 cycles), and
/// `pcp_spin_unlock()` a byte store and `preempt_enable()`.
pub const PCP_SPIN_LOCK_CYCLES: f64 = 24.0;

/// Cycles per event kind, and the clock that turns them into simulated time. Every field is
/// editable (the UI shows them as inputs); [`CostModel::default`] is the calibrated table for
/// the default profile.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// Clock of the simulated CPU in GHz: simulated ns = cycles / `cpu_ghz`. The E5-1650 v4 of
    /// the calibration runs at 3.6 GHz (Brouer's 98 cycles are 27.3 ns).
    pub cpu_ghz: f64,
    /// Entering a simulated kernel function (`__alloc_pages`, `get_page_from_freelist`,
    /// `rmqueue_pcplist`, `prep_new_page`, `__free_pages`, `free_unref_page` …): call and return,
    /// frame and callee-saved registers, and the handful of flag tests and static-key branches
    /// each of them makes on entry. About ten cycles; the allocator's entry points do a little
    /// more (`prepare_alloc_pages`), its helpers less.
    pub function_call: f64,
    /// One `local_irq_save()` / `local_irq_restore()` pair (also the IRQ half of
    /// `spin_lock_irqsave`): `pushf; pop; cli`, and since 5.8 a conditional `sti` on restore.
    /// `pushf` is microcoded and `cli`/`sti` are not free: about 14 cycles.
    pub irq_save_restore: f64,
    /// The pcp lock itself, per pcp section, on top of the IRQ pair: era dependent
    /// ([`PCP_LOCAL_LOCK_CYCLES`], [`PCP_SPIN_LOCK_CYCLES`]); ≤5.13 has no pcp lock at all.
    pub pcp_lock: f64,
    /// `spin_lock(&zone->lock)` and `spin_unlock()`, uncontended (the model has one CPU running):
    /// a `lock cmpxchg` on a line this CPU owns and a byte store, about 22 cycles.
    pub zone_lock: f64,
    /// A block put on or taken off a pcp list: `list_add` / `list_del` on a cache-hot
    /// `page->lru` and `pcp->count` (`__rmqueue_pcplist`, `free_unref_page_commit`,
    /// `rmqueue_bulk`, `free_pcppages_bulk`), about 5 cycles. `__alloc_pages_bulk()` in list
    /// mode does the same `list_add()` on the same hot `page->lru` to put each page on the
    /// caller's `page_list`, so this price serves that counter too.
    pub pcp_list_op: f64,
    /// A block taken off or put on a buddy free list by `__rmqueue_smallest()` (the scan up the
    /// orders, `del_page_from_free_list`, `set_pcppage_migratetype`) or by `__free_one_page()`
    /// (`add_to_free_list`, `buddy_merge_likely`): the `struct page` is often cold, about 12.
    pub buddy_list_op: f64,
    /// One halving in `expand()`: the upper half goes on a free list with `set_buddy_order()`,
    /// touching a `struct page` not yet in cache: about 10 cycles.
    pub split: f64,
    /// One merge in `__free_one_page()`: `find_buddy_page_pfn()` and `page_is_buddy()` read the
    /// buddy's `struct page` (frequently a cache miss), then `del_page_from_free_list()`:
    /// about 20 cycles.
    pub merge: f64,
    /// One vmstat or zone counter update: `__count_zid_vm_events(PGALLOC)`,
    /// `__count_vm_event(PGFREE)`, `zone_statistics()`'s NUMA events, `__mod_zone_page_state(
    /// NR_FREE_PAGES)`: a per-CPU `add` with a `gs:` prefix, about 3 cycles.
    pub stat_update: f64,
    /// `zone_watermark_fast()`: read `NR_FREE_PAGES`, the watermark, `lowmem_reserve[]`, and the
    /// order-0 shortcut (the full `__zone_watermark_ok()` is rare on a fast path): about 10.
    pub watermark_check: f64,
    /// `prep_new_page()` → `post_alloc_hook()` per base page: `set_page_private`,
    /// `set_page_refcounted` (a plain store), `clear_page_pfmemalloc`, and the static-key tests
    /// for debug_pagealloc, KASAN, page_owner and init_on_alloc: about 15 cycles.
    pub prep_new_page: f64,
    /// Freeing one base page before it reaches a list: `put_page_testzero()`'s `lock decl`
    /// (about 20 cycles), `free_pages_prepare()`'s flag checks and clears (about 12) and
    /// `get_pfnblock_migratetype()`'s bitmap read (about 8): 40 cycles.
    pub free_pages_prepare: f64,
    /// Zeroing one 4 KiB page in `kernel_init_pages()` → `clear_highpage()` (`__GFP_ZERO` or
    /// `init_on_alloc`): `rep stosb` at about 16 bytes a cycle into cache, 256 cycles.
    pub zero_page: f64,
}

/// One line of a cost breakdown: what is charged, how often, at what price.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Term {
    /// The [`CostModel`] field.
    pub name: &'static str,
    /// The [`Cost`] counter it multiplies.
    pub counter: &'static str,
    /// The kernel code it stands for, in short (the field's doc comment says why it costs that).
    pub stands_for: &'static str,
    /// Cycles each.
    pub each: f64,
    pub count: u64,
    pub cycles: f64,
}

impl Default for CostModel {
    /// The calibrated table for the default profile.
    fn default() -> Self {
        CostModel::for_profile(Profile::default_profile())
    }
}

impl CostModel {
    /// The calibrated table for a kernel era: the same prices, with the pcp lock of that era.
    pub fn for_profile(profile: &Profile) -> CostModel {
        let pcp_lock = match profile.pcp_locking {
            PcpLocking::IrqSave | PcpLocking::LocalLockIrqSave => PCP_LOCAL_LOCK_CYCLES,
            PcpLocking::SpinTrylockIrqSave | PcpLocking::SpinTrylock => PCP_SPIN_LOCK_CYCLES,
        };
        CostModel {
            cpu_ghz: 3.6,
            function_call: 10.0,
            irq_save_restore: 14.0,
            pcp_lock,
            zone_lock: 22.0,
            pcp_list_op: 5.0,
            buddy_list_op: 12.0,
            split: 10.0,
            merge: 20.0,
            stat_update: 3.0,
            watermark_check: 10.0,
            prep_new_page: 15.0,
            free_pages_prepare: 40.0,
            zero_page: 256.0,
        }
    }

    /// Each priced event kind of `cost`, with its count and cycles, in the order of the fields
    /// (`pcp_list_op` twice: for pcp lists and for the bulk allocator's `page_list`).
    pub fn terms(&self, cost: &Cost) -> [Term; 14] {
        let term = |name, counter, stands_for, each: f64, count: u64| Term {
            name,
            counter,
            stands_for,
            each,
            count,
            cycles: each * count as f64,
        };
        [
            term(
                "function_call",
                "calls",
                "entering __alloc_pages, rmqueue_pcplist, __free_pages …",
                self.function_call,
                cost.calls,
            ),
            term(
                "irq_save_restore",
                "irq_off",
                "local_irq_save + local_irq_restore",
                self.irq_save_restore,
                cost.irq_off,
            ),
            term(
                "pcp_lock",
                "pcp_lock",
                "local_lock / pcp_spin_trylock + unlock",
                self.pcp_lock,
                cost.pcp_lock,
            ),
            term("zone_lock", "zone_lock", "spin_lock(&zone->lock) + unlock", self.zone_lock, cost.zone_lock),
            term(
                "pcp_list_op",
                "pcp_list_ops",
                "list_add / list_del on pcp->lists[], pcp->count",
                self.pcp_list_op,
                cost.pcp_list_ops,
            ),
            term(
                "pcp_list_op",
                "page_list_adds",
                "__alloc_pages_bulk: list_add onto the caller's page_list",
                self.pcp_list_op,
                cost.page_list_adds,
            ),
            term(
                "buddy_list_op",
                "buddy_list_ops",
                "__rmqueue_smallest / add_to_free_list",
                self.buddy_list_op,
                cost.buddy_list_ops,
            ),
            term("split", "splits", "expand(), one halving", self.split, cost.splits),
            term("merge", "merges", "__free_one_page(), one merge", self.merge, cost.merges),
            term(
                "stat_update",
                "vm_stat_updates",
                "__count_vm_events, __mod_zone_page_state",
                self.stat_update,
                cost.vm_stat_updates,
            ),
            term(
                "watermark_check",
                "watermark_checks",
                "zone_watermark_fast",
                self.watermark_check,
                cost.watermark_checks,
            ),
            term(
                "prep_new_page",
                "prep_pages",
                "prep_new_page -> post_alloc_hook, per page",
                self.prep_new_page,
                cost.prep_pages,
            ),
            term(
                "free_pages_prepare",
                "freed_pages",
                "put_page_testzero + free_pages_prepare, per page",
                self.free_pages_prepare,
                cost.freed_pages,
            ),
            term(
                "zero_page",
                "zeroed_pages",
                "clear_highpage (__GFP_ZERO, init_on_alloc), per page",
                self.zero_page,
                cost.zeroed_pages,
            ),
        ]
    }

    /// Simulated cycles of what `cost` counted.
    pub fn cycles(&self, cost: &Cost) -> f64 {
        self.terms(cost).iter().map(|t| t.cycles).sum()
    }

    /// Simulated nanoseconds of what `cost` counted, at [`CostModel::cpu_ghz`].
    pub fn nanos(&self, cost: &Cost) -> f64 {
        self.to_nanos(self.cycles(cost))
    }

    /// Cycles as simulated nanoseconds.
    pub fn to_nanos(&self, cycles: f64) -> f64 {
        cycles / self.cpu_ghz
    }

    /// Why a table cannot be used: a price or the clock that is negative, not finite, or (for
    /// the clock) zero. Names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.cpu_ghz.is_finite() && self.cpu_ghz > 0.0) {
            return Err(format!("cpu_ghz: {} is not a positive clock", self.cpu_ghz));
        }
        for t in self.terms(&Cost::default()) {
            if !(t.each.is_finite() && t.each >= 0.0) {
                return Err(format!("{}: {} is not a price in cycles (0 or more)", t.name, t.each));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pcp_lock_is_the_only_price_that_changes_between_eras() {
        let local_lock = CostModel::for_profile(Profile::by_id("5.14").unwrap());
        let spin_lock = CostModel::for_profile(Profile::by_id("6.1").unwrap());
        assert_eq!(local_lock.pcp_lock, PCP_LOCAL_LOCK_CYCLES);
        assert_eq!(spin_lock.pcp_lock, PCP_SPIN_LOCK_CYCLES);
        assert_eq!(CostModel { pcp_lock: spin_lock.pcp_lock, ..local_lock }, spin_lock);
        assert_eq!(CostModel::default(), spin_lock, "the default profile is 6.1");
    }

    #[test]
    fn a_call_costs_the_sum_of_its_terms_and_ns_follow_the_clock() {
        let model = CostModel::default();
        let cost = Cost { calls: 3, irq_off: 1, pcp_list_ops: 2, zeroed_pages: 1, ..Cost::default() };
        let cycles =
            3.0 * model.function_call + model.irq_save_restore + 2.0 * model.pcp_list_op + model.zero_page;
        assert_eq!(model.cycles(&cost), cycles);
        assert_eq!(model.nanos(&cost), cycles / model.cpu_ghz);
    }

    #[test]
    fn a_negative_price_or_a_zero_clock_is_refused_by_name() {
        assert_eq!(CostModel::default().validate(), Ok(()));
        let bad = CostModel { merge: -1.0, ..CostModel::default() };
        assert!(bad.validate().unwrap_err().starts_with("merge:"));
        let stopped = CostModel { cpu_ghz: 0.0, ..CostModel::default() };
        assert!(stopped.validate().unwrap_err().starts_with("cpu_ghz:"));
    }
}
