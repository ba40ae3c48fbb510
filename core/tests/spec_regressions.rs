//! The known bugs of the bulk allocator as regression scenarios (reference §8), checked against
//! the model in the eras where each bug or its fix applies.
//!
//! Not expressible with the model: §8.8 (a property of sunrpc, the caller, not of the
//! allocator), §8.13 (the model runs one CPU at a time and its pcp trylock always succeeds, so
//! no UP interrupt can find the lock held).

mod common;

use common::*;
use pageflow_core::gfp::TaskContext;
use pageflow_core::machine::Machine;
use pageflow_core::mem::{ZoneType, NIL};
use pageflow_core::trace::{Counter, Event, Func, Note};
use pageflow_core::BulkTarget;

fn two_gib(profile: &str) -> Machine {
    simple(profile, 1024, 1024, 1)
}

/// §8.1: the bulk allocator compares against LOW + nr_pages: it skips a zone that is above
/// MIN + nr_pages but not above LOW + nr_pages, and takes a zone that is above LOW + nr_pages
/// though below HIGH + nr_pages.
#[test]
fn regression_1_bulk_compares_against_the_low_watermark_not_min_or_high() {
    for profile in ["5.13", "6.1", "6.6"] {
        let mut m = two_gib(profile);
        let normal = z0(&m, ZoneType::Normal);
        let free = m.zones[normal].nr_free_pages as u64;
        let gfp = g(&m, "GFP_KERNEL");

        // MIN + 16 < free == LOW + 16 < HIGH + 16: skipped.
        set_wmarks(&mut m, normal, free - 1000, free - 16, free + 1000);
        let h = m.holder_id("skipped").unwrap();
        let mk = mark(&m);
        assert_eq!(bulk(&mut m, 0, gfp, h, 16, BulkTarget::List), 16, "{profile}");
        let ev = since(&m, mk);
        let wm: Vec<_> = ev
            .iter()
            .filter_map(|e| match e {
                Event::Watermark { func: Func::AllocPagesBulk, wmark, check } => Some((*wmark, *check)),
                _ => None,
            })
            .collect();
        assert_eq!(wm[0].0, pageflow_core::gfp::Wmark::Low, "{profile}");
        assert_eq!(wm[0].1.mark, free, "{profile}: LOW + 16");
        assert!(!wm[0].1.ok, "{profile}: above MIN + 16 is not enough");
        assert!(list(&m, h).iter().all(|&p| m.pfn_zone(p) != Some(normal)), "{profile}");

        // LOW + 16 < free < HIGH + 16: used.
        let free = m.zones[normal].nr_free_pages as u64;
        set_wmarks(&mut m, normal, free - 1000, free - 17, free + 1000);
        let h = m.holder_id("used").unwrap();
        let mk = mark(&m);
        assert_eq!(bulk(&mut m, 0, gfp, h, 16, BulkTarget::List), 16, "{profile}");
        assert!(wmark_checks(since(&m, mk), Func::AllocPagesBulk)[0].ok, "{profile}: HIGH is not asked for");
        assert!(list(&m, h).iter().all(|&p| m.pfn_zone(p) == Some(normal)), "{profile}");
        m.check().unwrap();
    }
}

/// §8.2: the skip loop checks the bound before reading a slot. The model's array is exactly
/// `nr_pages` long, so reading index N would panic this test.
#[test]
fn regression_2_a_full_array_of_exactly_n_slots_is_never_read_at_index_n() {
    for (profile, want) in [("5.13.0", 0), ("5.13", 16), ("5.14", 16), ("6.1", 16), ("6.6", 16), ("6.7", 16)]
    {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL");
        let holder = array_with(&mut m, 0, &[true; 16]);
        assert_eq!(array(&m, holder).len(), 16);
        let r = bulk_on(&mut m, 0, gfp, holder, 16);
        assert_eq!(r.ret, want, "{profile}");
        m.check().unwrap();
    }
}

/// §8.3: with a full array and no zone passing the watermark, nothing is allocated and nothing
/// is written, not even to a slot just past `nr_pages`.
#[test]
fn regression_3_a_full_array_with_every_zone_under_the_watermark_allocates_nothing_and_writes_nothing() {
    for profile in ["5.13.0", "5.13", "6.1", "6.6", "6.7"] {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL");
        // N = 8 populated slots and a NULL guard slot at index N.
        let mut slots = [true; 9];
        slots[8] = false;
        let holder = array_with(&mut m, 0, &slots);
        all_zones_unreachable(&mut m);
        let before = snapshot(&m);
        let r = bulk_on(&mut m, 0, gfp, holder, 8);
        let ev = since(&m, r.mark);
        assert_eq!(r.after[8], NIL, "{profile}: page_array[nr_pages] is not written");
        assert_eq!(entered(ev, Func::AllocPages), 0, "{profile}: no extra page is allocated");
        assert!(handed_out(ev).is_empty(), "{profile}");
        assert_same(&before, &snapshot(&m), profile);
        m.check().unwrap();
    }
}

/// §8.4: 5.13.0 returns 0 for an already full array (sunrpc then sleeps forever); 5.13.1 and
/// later return `nr_pages`. Either way nothing changes.
#[test]
fn regression_4_a_full_array_returns_0_on_5_13_0_and_n_on_5_13_1_and_later() {
    for (profile, want) in [("5.13.0", 0), ("5.13", 12), ("5.14", 12), ("6.1", 12), ("6.6", 12), ("6.7", 12)]
    {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL");
        let holder = array_with(&mut m, 0, &[true; 12]);
        let before = snapshot(&m);
        let r = bulk_on(&mut m, 0, gfp, holder, 12);
        assert_eq!(r.ret, want, "{profile}");
        assert_same(&before, &snapshot(&m), profile);
        m.check().unwrap();
    }
}

/// §8.5 (e5c15cea3391, 5.14-rc2): when fault injection fails `prepare_alloc_pages()`, a call on
/// an array with 3 leading populated entries returns 3 from 5.14 on, and 0 in 5.13.0 and
/// 5.13.1. Either way it allocates nothing and changes nothing, and the next call, the fault
/// used up, fills the holes.
#[test]
fn regression_5_a_failed_prepare_alloc_pages_returns_the_populated_prefix_from_5_14_and_0_before() {
    for (profile, want) in [("5.13.0", 0), ("5.13", 0), ("5.14", 3), ("6.1", 3), ("6.6", 3), ("6.7", 3)] {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL");
        let holder = array_with(&mut m, 0, &[true, true, true, false, false, false, false, false]);
        m.fail_page_alloc = 1;
        let before = snapshot(&m);
        let r = bulk_on(&mut m, 0, gfp, holder, 8);
        let ev = since(&m, r.mark);
        assert_eq!(r.ret, want, "{profile}");
        assert_eq!(notes(ev), vec![Note::FailPageAlloc], "{profile}");
        assert!(handed_out(ev).is_empty(), "{profile}");
        assert_eq!(entered(ev, Func::AllocPages), 0, "{profile}: no single-page fallback");
        assert_same(&before, &snapshot(&m), profile);
        assert_eq!(m.fail_page_alloc, 0, "{profile}: the injected fault is used up");
        assert_eq!(bulk_on(&mut m, 0, gfp, holder, 8).ret, 8, "{profile}: the next call fills the holes");
        m.check().unwrap();
    }
}

/// §8.5, the fault itself: `should_fail_alloc_page()` never fails a `__GFP_NOFAIL` request (and
/// such a request does not use up the count), and it fails a single-page request in
/// `prepare_alloc_pages()` too, before any zone is tried or the slow path entered.
#[test]
fn regression_5_fault_injection_spares_gfp_nofail_and_fails_a_single_page_request_before_the_slow_path() {
    let mut m = two_gib("6.1");
    let h = m.holder_id("pages").unwrap();
    m.fail_page_alloc = 1;
    let nofail = g(&m, "GFP_KERNEL | __GFP_NOFAIL");
    assert!(alloc_into(&mut m, h, nofail, 0).is_some());
    assert_eq!(m.fail_page_alloc, 1, "a __GFP_NOFAIL request does not count");
    let mk = mark(&m);
    let gfp = g(&m, "GFP_KERNEL");
    assert_eq!(alloc_into(&mut m, h, gfp, 0), None);
    let ev = since(&m, mk);
    assert_eq!(notes(ev), vec![Note::FailPageAlloc]);
    assert_eq!(entered(ev, Func::GetPageFromFreelist), 0);
    assert_eq!(entered(ev, Func::AllocPagesSlowpath), 0);
    assert_eq!(m.fail_page_alloc, 0);
    assert!(alloc_into(&mut m, h, gfp, 0).is_some(), "the fault is used up");
    m.check().unwrap();
}

/// §8.6: with page_owner enabled (5.14+), every call takes the single-page path: at most one
/// page per call, whatever the request.
#[test]
fn regression_6_with_page_owner_every_bulk_call_gets_at_most_one_page() {
    for profile in ["5.14", "6.1", "6.6", "6.7"] {
        let mut cfg = pageflow_core::MachineConfig::simple(1024, 1024, 1);
        cfg.page_owner = true;
        let mut m = boot(&cfg, profile);
        let gfp = g(&m, "GFP_KERNEL");
        let arr = m.array_holder("rq", 32).unwrap();
        let lst = m.holder_id("list").unwrap();
        for call in 1..=4u32 {
            let mk = mark(&m);
            assert_eq!(
                bulk(&mut m, 0, gfp, arr, 32, BulkTarget::Array),
                call,
                "{profile}: array call {call}"
            );
            assert_eq!(bulk(&mut m, 0, gfp, lst, 32, BulkTarget::List), 1, "{profile}: list call {call}");
            let ev = since(&m, mk);
            assert_eq!(handed_out(ev).len(), 2, "{profile}");
            assert_eq!(notes(ev).iter().filter(|n| **n == Note::BulkPageOwnerFallback).count(), 2);
        }
        m.check().unwrap();
    }
}

/// §8.7: `GFP_KERNEL_ACCOUNT` bulk goes to the single-page allocator (which charges the page):
/// a request of 16 with a populated prefix of 3 returns prefix + 1.
#[test]
fn regression_7_gfp_kernel_account_bulk_of_16_returns_at_most_prefix_plus_one() {
    for profile in ["6.1", "6.6", "6.7"] {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL_ACCOUNT");
        let mut slots = [false; 16];
        slots[..3].fill(true);
        let r = bulk_array(&mut m, 0, gfp, &slots);
        let ev = since(&m, r.mark);
        assert_eq!(r.ret, 4, "{profile}");
        assert_eq!(handed_out(ev).len(), 1, "{profile}: exactly the page returned");
        assert_eq!(entered(ev, Func::AllocPages), 1, "{profile}: through __alloc_pages, which charges");
        assert!(r.after[4..].iter().all(|&p| p == NIL), "{profile}");
        m.check().unwrap();
    }
}

/// §8.9 (c572e4888ad1): array [P,P,NULL,NULL], the watermark passes, the pcp list is empty and
/// the buddy refill finds nothing usable. 5.19+ (the 6.1 profile) goes to the single-page
/// allocator, whose slow path wakes kswapd and, here, gets a page back from the highatomic
/// reserve, so the call returns 3.
#[test]
fn regression_9_six_one_calls_the_single_page_allocator_when_the_first_take_fails_after_a_prefix() {
    for profile in ["6.1", "6.6", "6.7"] {
        let (mut m, rq, _) = starved(profile, &[true, true, false, false], 0, true);
        // HIGH above what is free, so the node is not balanced and kswapd has work.
        let w = m.zones[0].watermark;
        set_wmarks(&mut m, 0, w[0], w[1], 4096);
        let gfp = g(&m, "GFP_KERNEL");
        let r = bulk_on(&mut m, 0, gfp, rq, 4);
        let ev = since(&m, r.mark);
        assert!(wmark_checks(ev, Func::AllocPagesBulk)[0].ok, "{profile}: the watermark passes");
        assert!(has_note(ev, Note::BulkEmptyFallback), "{profile}: {:?}", notes(ev));
        assert_eq!(entered(ev, Func::AllocPages), 1, "{profile}");
        assert!(entered(ev, Func::AllocPagesSlowpath) >= 1, "{profile}: the slow path");
        assert!(entered(ev, Func::WakeAllKswapds) >= 1, "{profile}");
        assert!(ev.iter().any(|e| matches!(e, Event::KswapdWake { .. })), "{profile}: kswapd woken");
        assert_eq!(r.ret, 3, "{profile}");
        assert_ne!(r.after[2], NIL, "{profile}");
        assert_eq!(r.after[3], NIL, "{profile}");
        m.check().unwrap();
    }
}

/// §8.9, before the fix: 5.13–5.18 only fall back when nothing is populated, so the same call
/// breaks out with 2 and never reaches `__alloc_pages` or kswapd.
#[test]
fn regression_9_five_thirteen_breaks_out_with_2_and_no_alloc_pages_call_when_the_first_take_fails() {
    for profile in ["5.13", "5.14"] {
        let (mut m, rq, _) = starved(profile, &[true, true, false, false], 0, true);
        let w = m.zones[0].watermark;
        set_wmarks(&mut m, 0, w[0], w[1], 4096);
        let gfp = g(&m, "GFP_KERNEL");
        let r = bulk_on(&mut m, 0, gfp, rq, 4);
        let ev = since(&m, r.mark);
        assert!(wmark_checks(ev, Func::AllocPagesBulk)[0].ok, "{profile}");
        assert_eq!(r.ret, 2, "{profile}");
        assert_eq!(entered(ev, Func::AllocPages), 0, "{profile}");
        assert_eq!(entered(ev, Func::WakeAllKswapds), 0, "{profile}");
        assert!(!ev.iter().any(|e| matches!(e, Event::KswapdWake { .. })), "{profile}");
        assert_eq!((r.after[2], r.after[3]), (NIL, NIL), "{profile}");
        m.check().unwrap();
    }
}

/// §8.10: when a bulk call allocates nothing, PGALLOC and the NUMA counters do not move and no
/// zero-sized update is made.
#[test]
fn regression_10_counters_are_unchanged_when_a_bulk_call_allocates_nothing() {
    for profile in ["5.13", "6.1", "6.6", "6.7"] {
        let (mut m, _, _) = starved(profile, &[], 0, false);
        let gfp = g(&m, "GFP_NOWAIT");
        let h = m.holder_id("list").unwrap();
        let arr = m.array_holder("rq", 8).unwrap();
        let events = m.zones[0].events;
        let mk = mark(&m);
        assert_eq!(bulk(&mut m, 0, gfp, h, 8, BulkTarget::List), 0, "{profile}");
        assert_eq!(bulk(&mut m, 0, gfp, arr, 8, BulkTarget::Array), 0, "{profile}");
        let ev = since(&m, mk);
        assert_eq!(m.zones[0].events, events, "{profile}");
        for c in [Counter::Pgalloc, Counter::NumaHit, Counter::NumaLocal, Counter::NumaMiss] {
            assert!(counter_updates(ev, c).is_empty(), "{profile}: {c:?} updated");
        }
        m.check().unwrap();
    }
}

/// §8.11: no eligible zone for the request (here `GFP_DMA` on a machine without ZONE_DMA), so
/// the preferred zoneref has no zone: the walk finds nothing, the single-page allocator is
/// tried, and the call returns 0 without crashing.
#[test]
fn regression_11_a_request_with_no_preferred_zone_falls_back_and_returns_0_without_a_crash() {
    for profile in ["5.13", "6.1"] {
        let mut cfg = one_zone_config(ZoneType::Normal, 64, 1);
        cfg.nodes[0].zones.insert(
            0,
            pageflow_core::config::ZoneConfig { zone: ZoneType::Dma32, mib: 64, reserved_pages: 0 },
        );
        let mut m = boot(&cfg, profile);
        let gfp = g(&m, "GFP_DMA");
        let h = m.holder_id("list").unwrap();
        let mk = mark(&m);
        assert_eq!(bulk(&mut m, 0, gfp, h, 8, BulkTarget::List), 0, "{profile}");
        let ev = since(&m, mk);
        assert!(has_note(ev, Note::BulkNoZone), "{profile}: {:?}", notes(ev));
        assert!(wmark_checks(ev, Func::AllocPagesBulk).is_empty(), "{profile}");
        assert!(list(&m, h).is_empty(), "{profile}");
        m.check().unwrap();
    }
}

/// §8.12: PGALLOC grows by the pages this call allocated, never by pre-populated entries.
#[test]
fn regression_12_pgalloc_counts_the_pages_allocated_never_the_pre_populated_entries() {
    for profile in ["5.13", "6.1", "6.6", "6.7"] {
        let mut m = two_gib(profile);
        let normal = z0(&m, ZoneType::Normal);
        let gfp = g(&m, "GFP_KERNEL");
        let holder = array_with(&mut m, 0, &[true, false, true, false, false, true, true, false]);
        let pgalloc = m.zones[normal].events.pgalloc;
        let hit = m.zones[normal].events.numa_hit;
        let r = bulk_on(&mut m, 0, gfp, holder, 8);
        assert_eq!(r.ret, 8, "{profile}");
        assert_eq!(m.zones[normal].events.pgalloc - pgalloc, 4, "{profile}");
        assert_eq!(m.zones[normal].events.numa_hit - hit, 4, "{profile}");
        m.check().unwrap();
    }
}

/// §8.14: an OOM victim is not treated specially by the fast path: the same call on the same
/// machine does exactly the same thing.
#[test]
fn regression_14_an_oom_victim_is_not_special_in_the_bulk_fast_path() {
    for profile in ["5.13", "6.1", "6.6", "6.7"] {
        let run = |victim: bool| {
            let mut m = two_gib(profile);
            m.task = TaskContext { oom_victim: victim, ..TaskContext::default() };
            let gfp = g(&m, "GFP_KERNEL");
            let r = bulk_array(&mut m, 0, gfp, &[true, false, false, true, false, false, false, false]);
            m.check().unwrap();
            (r.ret, r.after, m.trace.events[r.mark..].to_vec())
        };
        let (ret, after, events) = run(false);
        let (vret, vafter, vevents) = run(true);
        assert_eq!(ret, 8, "{profile}");
        assert_eq!((ret, after), (vret, vafter), "{profile}");
        assert_eq!(events, vevents, "{profile}: the same trace");
    }
}
