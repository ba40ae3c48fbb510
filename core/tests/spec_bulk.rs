//! Specifications of `__alloc_pages_bulk()` from the reference (§1 API and return values, §2 the
//! bulk fast path step by step), each checked against the model.

mod common;

use common::*;
use pageflow_core::config::{MachineConfig, NodeConfig, ZoneConfig};
use pageflow_core::machine::Machine;
use pageflow_core::mem::{ZoneType, NIL};
use pageflow_core::trace::{Counter, Event, Func, LockId, Note};
use pageflow_core::BulkTarget;

/// A 2 GiB one-node machine (DMA 16 MiB, DMA32 1 GiB, NORMAL 1 GiB: batch 63) on `profile`.
fn two_gib(profile: &str) -> Machine {
    simple(profile, 1024, 1024, 1)
}

/// Two nodes: node 0 has DMA, DMA32 and NORMAL, node 1 a NORMAL zone; CPU 0 is on node 0 and
/// CPU 1 on node 1.
fn two_nodes(profile: &str) -> Machine {
    let mut cfg = MachineConfig::simple(256, 256, 2);
    cfg.nodes
        .push(NodeConfig { zones: vec![ZoneConfig { zone: ZoneType::Normal, mib: 256, reserved_pages: 0 }] });
    let m = boot(&cfg, profile);
    assert_eq!((m.cpu_to_node(0), m.cpu_to_node(1)), (0, 1));
    m
}

// ---------------------------------------------------------------------------------------------
// §1.2 array mode: the return value is a cursor

#[test]
fn array_bulk_skips_the_leading_populated_prefix_and_fills_from_the_first_null_slot() {
    for profile in ["5.13", "6.1"] {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL");
        let r = bulk_array(&mut m, 0, gfp, &[true, true, false, false, false]);
        assert_eq!(r.ret, 5, "{profile}");
        let slots: Vec<_> = handed_out(since(&m, r.mark)).iter().map(|&(_, s)| s).collect();
        assert_eq!(slots, vec![Some(2), Some(3), Some(4)], "{profile}: only the holes after the prefix");
        assert_eq!(r.after[..2], r.before[..2], "{profile}: the prefix is untouched");
        assert!(r.after.iter().all(|&p| p != NIL), "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn array_bulk_returns_the_cursor_not_the_number_of_pages_it_allocated() {
    for profile in ["5.13", "6.1"] {
        let mut m = two_gib(profile);
        let normal = z0(&m, ZoneType::Normal);
        let gfp = g(&m, "GFP_KERNEL");
        let holder = array_with(&mut m, 0, &[false, false, true, true, true]);
        let pgalloc = m.zones[normal].events.pgalloc;
        let r = bulk_on(&mut m, 0, gfp, holder, 5);
        assert_eq!(r.ret, 5, "{profile}: the cursor walks over the populated tail");
        assert_eq!(handed_out(since(&m, r.mark)).len(), 2, "{profile}: two pages were allocated");
        assert_eq!(m.zones[normal].events.pgalloc - pgalloc, 2, "{profile}");
        assert_eq!(r.after[2..], r.before[2..], "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn array_bulk_fills_the_holes_of_p_p_null_p_null_and_returns_5() {
    for profile in ["5.13", "5.14", "6.1", "6.6", "6.7"] {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL");
        let r = bulk_array(&mut m, 0, gfp, &[true, true, false, true, false]);
        assert_eq!(r.ret, 5, "{profile}");
        for i in [0, 1, 3] {
            assert_eq!(r.after[i], r.before[i], "{profile}: populated slot {i} is kept");
        }
        for i in [2, 4] {
            assert_ne!(r.after[i], NIL, "{profile}: hole {i} is filled");
        }
        let slots: Vec<_> = handed_out(since(&m, r.mark)).iter().map(|&(_, s)| s).collect();
        assert_eq!(slots, vec![Some(2), Some(4)], "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn array_bulk_stops_at_the_first_slot_it_cannot_fill_and_leaves_the_later_slots_untouched() {
    for profile in ["5.13", "6.1"] {
        // Two usable pages: slot 0 and slot 2 get them, slot 3 cannot be filled.
        let slots = [false, true, false, false, false, true, false];
        let (mut m, rq, _) = starved(profile, &slots, 2, true);
        let gfp = g(&m, "GFP_KERNEL");
        let r = bulk_on(&mut m, 0, gfp, rq, slots.len() as i32);
        let ev = since(&m, r.mark);
        assert_eq!(r.ret, 3, "{profile}: the cursor stops at the slot that could not be filled");
        assert_eq!(handed_out(ev).len(), 2, "{profile}: two pages allocated");
        assert!(r.after[0] != NIL && r.after[2] != NIL, "{profile}");
        assert_eq!(r.after[1], r.before[1], "{profile}");
        assert_eq!((r.after[3], r.after[4], r.after[6]), (NIL, NIL, NIL), "{profile}: later holes stay NULL");
        assert_eq!(r.after[5], r.before[5], "{profile}: a later populated slot is untouched");
        assert!(has_note(ev, Note::BulkPartial), "{profile}: {:?}", notes(ev));
        assert_eq!(entered(ev, Func::AllocPages), 0, "{profile}: a partial result is returned as is");
        m.check().unwrap();
    }
}

#[test]
fn bulk_with_nr_pages_zero_or_negative_returns_0_and_changes_nothing() {
    for profile in ["5.13.0", "5.13", "6.1"] {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL");
        let arr = array_with(&mut m, 0, &[true, true, false]);
        let lst = list_with(&mut m, 0, 2);
        let before = snapshot(&m);
        for nr in [0, -1, -3] {
            assert_eq!(bulk(&mut m, 0, gfp, arr, nr, BulkTarget::Array), 0, "{profile} array nr {nr}");
            assert_eq!(bulk(&mut m, 0, gfp, lst, nr, BulkTarget::List), 0, "{profile} list nr {nr}");
        }
        assert_same(&before, &snapshot(&m), profile);
        m.check().unwrap();
    }
}

#[test]
fn an_already_full_array_returns_nr_pages_and_changes_nothing() {
    for profile in ["5.13", "5.14", "6.1", "6.6", "6.7"] {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL");
        let holder = array_with(&mut m, 0, &[true; 8]);
        let before = snapshot(&m);
        let r = bulk_on(&mut m, 0, gfp, holder, 8);
        assert_eq!(r.ret, 8, "{profile}");
        assert!(has_note(since(&m, r.mark), Note::BulkArrayFull), "{profile}");
        assert_same(&before, &snapshot(&m), profile);
        m.check().unwrap();
    }
}

#[test]
fn an_already_full_array_returns_0_under_5_13_0_and_changes_nothing() {
    let mut m = two_gib("5.13.0");
    let gfp = g(&m, "GFP_KERNEL");
    let holder = array_with(&mut m, 0, &[true; 8]);
    let before = snapshot(&m);
    let r = bulk_on(&mut m, 0, gfp, holder, 8);
    assert_eq!(r.ret, 0);
    assert_same(&before, &snapshot(&m), "5.13.0");
    m.check().unwrap();
}

// ---------------------------------------------------------------------------------------------
// §1.3 list mode

#[test]
fn list_bulk_adds_each_page_at_the_head_so_the_list_head_is_the_last_page_taken() {
    for profile in ["rfc-2021", "5.13", "6.1"] {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL");
        let h = m.holder_id("list").unwrap();
        let mk = mark(&m);
        assert_eq!(bulk(&mut m, 0, gfp, h, 5, BulkTarget::List), 5, "{profile}");
        let taken: Vec<_> = handed_out(since(&m, mk)).iter().map(|&(p, _)| p).collect();
        let mut reversed = taken.clone();
        reversed.reverse();
        assert_eq!(list(&m, h), reversed, "{profile}: reverse allocation order");
        m.check().unwrap();
    }
}

#[test]
fn list_bulk_returns_only_the_pages_added_by_this_call_even_when_the_list_was_not_empty() {
    for profile in ["rfc-2021", "5.13", "6.1"] {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL");
        let h = list_with(&mut m, 0, 3);
        let old = list(&m, h);
        assert_eq!(bulk(&mut m, 0, gfp, h, 5, BulkTarget::List), 5, "{profile}: not 8");
        let now = list(&m, h);
        assert_eq!(now.len(), 8, "{profile}");
        assert_eq!(now[5..], old[..], "{profile}: the old entries stay behind the new ones");
        m.check().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// §1.4 one remaining hole

#[test]
fn one_remaining_hole_after_the_prefix_goes_to_the_single_page_allocator() {
    for profile in ["5.13", "6.1", "6.6", "6.7"] {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL");
        let r = bulk_array(&mut m, 0, gfp, &[true, true, true, false]);
        let ev = since(&m, r.mark);
        assert_eq!(r.ret, 4, "{profile}");
        assert!(has_note(ev, Note::BulkSinglePage), "{profile}: {:?}", notes(ev));
        assert_eq!(entered(ev, Func::AllocPages), 1, "{profile}: __alloc_pages");
        assert!(wmark_checks(ev, Func::AllocPagesBulk).is_empty(), "{profile}: no bulk zone walk");
        assert_ne!(r.after[3], NIL, "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn a_leading_hole_with_the_rest_populated_takes_the_bulk_path() {
    for profile in ["5.13", "6.1", "6.6", "6.7"] {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL");
        let r = bulk_array(&mut m, 0, gfp, &[false, true, true, true]);
        let ev = since(&m, r.mark);
        assert_eq!(r.ret, 4, "{profile}");
        assert_eq!(entered(ev, Func::AllocPages), 0, "{profile}: only the leading prefix counts");
        assert!(!has_note(ev, Note::BulkSinglePage), "{profile}");
        assert_eq!(wmark_checks(ev, Func::AllocPagesBulk).len(), 1, "{profile}");
        assert_eq!(handed_out(ev).iter().map(|&(_, s)| s).collect::<Vec<_>>(), vec![Some(0)], "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn a_list_request_of_one_page_goes_to_the_single_page_allocator() {
    for profile in ["rfc-2021", "5.13", "6.1"] {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL");
        let h = m.holder_id("list").unwrap();
        let mk = mark(&m);
        assert_eq!(bulk(&mut m, 0, gfp, h, 1, BulkTarget::List), 1, "{profile}");
        let ev = since(&m, mk);
        assert!(has_note(ev, Note::BulkSinglePage), "{profile}");
        assert_eq!(entered(ev, Func::AllocPages), 1, "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn rfc_profile_bulk_allocates_a_list_request_of_two_pages_without_the_single_page_allocator() {
    let mut m = two_gib("rfc-2021");
    let gfp = g(&m, "GFP_KERNEL");
    let h = m.holder_id("list").unwrap();
    let mk = mark(&m);
    assert_eq!(bulk(&mut m, 0, gfp, h, 2, BulkTarget::List), 2);
    let ev = since(&m, mk);
    assert_eq!(entered(ev, Func::AllocPages), 0);
    assert!(!has_note(ev, Note::BulkSinglePage));
    assert_eq!(wmark_checks(ev, Func::AllocPagesBulk).len(), 1);
    m.check().unwrap();
}

// ---------------------------------------------------------------------------------------------
// §2.3 the zone walk and its watermark

#[test]
fn a_zone_exactly_at_low_plus_nr_pages_is_skipped_and_the_next_zone_dma32_is_used() {
    for profile in ["5.13", "6.1"] {
        let mut m = two_gib(profile);
        let (normal, dma32) = (z0(&m, ZoneType::Normal), z0(&m, ZoneType::Dma32));
        bulk_low_at_limit(&mut m, normal, 16, ZoneType::Normal, 0);
        let gfp = g(&m, "GFP_KERNEL");
        let h = m.holder_id("list").unwrap();
        let mk = mark(&m);
        assert_eq!(bulk(&mut m, 0, gfp, h, 16, BulkTarget::List), 16, "{profile}");
        let checks = wmark_checks(since(&m, mk), Func::AllocPagesBulk);
        assert_eq!(checks.len(), 2, "{profile}");
        assert_eq!(
            (checks[0].zone, checks[0].ok),
            (normal, false),
            "{profile}: free == mark fails (strict >)"
        );
        assert_eq!(checks[0].mark, m.zones[normal].watermark[1] + 16, "{profile}: LOW + nr_pages");
        assert_eq!((checks[1].zone, checks[1].ok), (dma32, true), "{profile}");
        assert!(list(&m, h).iter().all(|&p| m.pfn_zone(p) == Some(dma32)), "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn a_zone_one_page_above_low_plus_nr_pages_is_used() {
    let mut m = two_gib("6.1");
    let normal = z0(&m, ZoneType::Normal);
    bulk_low_at_limit(&mut m, normal, 16, ZoneType::Normal, 1);
    let gfp = g(&m, "GFP_KERNEL");
    let h = m.holder_id("list").unwrap();
    let mk = mark(&m);
    assert_eq!(bulk(&mut m, 0, gfp, h, 16, BulkTarget::List), 16);
    let checks = wmark_checks(since(&m, mk), Func::AllocPagesBulk);
    assert_eq!(checks.len(), 1);
    assert!(checks[0].ok);
    assert!(list(&m, h).iter().all(|&p| m.pfn_zone(p) == Some(normal)));
    m.check().unwrap();
}

#[test]
fn bulk_watermark_counts_the_whole_request_not_just_the_holes() {
    let mut m = two_gib("6.1");
    let (normal, dma32) = (z0(&m, ZoneType::Normal), z0(&m, ZoneType::Dma32));
    let mut slots = [true; 16];
    slots[14] = false;
    slots[15] = false;
    let holder = array_with(&mut m, 0, &slots);
    // Two holes would pass LOW + 2 easily; the request is 16 pages.
    bulk_low_at_limit(&mut m, normal, 16, ZoneType::Normal, 0);
    let gfp = g(&m, "GFP_KERNEL");
    let r = bulk_on(&mut m, 0, gfp, holder, 16);
    assert_eq!(r.ret, 16);
    let checks = wmark_checks(since(&m, r.mark), Func::AllocPagesBulk);
    assert_eq!(checks[0].mark, m.zones[normal].watermark[1] + 16);
    assert!(!checks[0].ok, "LOW + 16 with free == LOW + 16 fails");
    assert_eq!(m.pfn_zone(r.after[14]), Some(dma32));
    assert_eq!(m.pfn_zone(r.after[15]), Some(dma32));
    m.check().unwrap();
}

#[test]
fn when_no_zone_meets_low_plus_nr_pages_bulk_falls_back_to_one_page_from_alloc_pages() {
    for profile in ["5.13", "6.1"] {
        let mut m = two_gib(profile);
        for kind in [ZoneType::Normal, ZoneType::Dma32, ZoneType::Dma] {
            let z = z0(&m, kind);
            let reserve = m.zones[z].lowmem_reserve[ZoneType::Normal.idx()];
            if m.zones[z].nr_free_pages as u64 > 16 + reserve {
                bulk_low_at_limit(&mut m, z, 16, ZoneType::Normal, 0);
            }
        }
        let gfp = g(&m, "GFP_KERNEL");
        let h = m.holder_id("list").unwrap();
        let mk = mark(&m);
        assert_eq!(bulk(&mut m, 0, gfp, h, 16, BulkTarget::List), 1, "{profile}");
        let ev = since(&m, mk);
        assert_eq!(wmark_checks(ev, Func::AllocPagesBulk).iter().filter(|c| c.ok).count(), 0, "{profile}");
        assert!(has_note(ev, Note::BulkNoZone), "{profile}: {:?}", notes(ev));
        assert_eq!(entered(ev, Func::AllocPages), 1, "{profile}");
        // The single-page fast path needs only LOW, which NORMAL still meets.
        assert_eq!(m.pfn_zone(list(&m, h)[0]), Some(z0(&m, ZoneType::Normal)), "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn bulk_watermark_uses_the_lowmem_reserve_of_the_preferred_zone() {
    let mut m = two_gib("6.1");
    let (normal, dma32, dma) = (z0(&m, ZoneType::Normal), z0(&m, ZoneType::Dma32), z0(&m, ZoneType::Dma));
    // For a NORMAL-preferred request DMA32 keeps lowmem_reserve[NORMAL] back; for a
    // DMA32-preferred one it keeps lowmem_reserve[DMA32] = 0.
    let reserve = m.zones[dma32].lowmem_reserve[ZoneType::Normal.idx()];
    assert!(reserve > 0);
    assert_eq!(m.zones[dma32].lowmem_reserve[ZoneType::Dma32.idx()], 0);
    bulk_low_at_limit(&mut m, normal, 16, ZoneType::Normal, 0);
    bulk_low_at_limit(&mut m, dma32, 16, ZoneType::Normal, 0);
    let dma_free = m.zones[dma].nr_free_pages as u64;
    set_wmarks(&mut m, dma, dma_free, dma_free, dma_free);

    let kernel = g(&m, "GFP_KERNEL");
    let h = m.holder_id("kernel").unwrap();
    let mk = mark(&m);
    assert_eq!(bulk(&mut m, 0, kernel, h, 16, BulkTarget::List), 1, "GFP_KERNEL finds no zone");
    let checks = wmark_checks(since(&m, mk), Func::AllocPagesBulk);
    let d = checks.iter().find(|c| c.zone == dma32).expect("DMA32 was checked");
    assert_eq!(d.lowmem_reserve, reserve, "DMA32 is checked with lowmem_reserve[NORMAL]");
    assert!(!d.ok);

    let dma32_gfp = g(&m, "GFP_DMA32");
    let h2 = m.holder_id("dma32").unwrap();
    let mk = mark(&m);
    assert_eq!(bulk(&mut m, 0, dma32_gfp, h2, 16, BulkTarget::List), 16, "GFP_DMA32 passes in DMA32");
    let checks = wmark_checks(since(&m, mk), Func::AllocPagesBulk);
    assert_eq!((checks[0].zone, checks[0].lowmem_reserve, checks[0].ok), (dma32, 0, true));
    m.check().unwrap();
}

#[test]
fn bulk_watermark_does_not_count_the_highatomic_reserve_as_usable() {
    let mut m = two_gib("6.1");
    let (normal, dma32) = (z0(&m, ZoneType::Normal), z0(&m, ZoneType::Dma32));
    bulk_low_at_limit(&mut m, normal, 16, ZoneType::Normal, 10);
    m.zones[normal].nr_reserved_highatomic = 10;
    let gfp = g(&m, "GFP_KERNEL");
    let h = m.holder_id("list").unwrap();
    let mk = mark(&m);
    assert_eq!(bulk(&mut m, 0, gfp, h, 16, BulkTarget::List), 16);
    let checks = wmark_checks(since(&m, mk), Func::AllocPagesBulk);
    assert_eq!((checks[0].zone, checks[0].ok), (normal, false), "free - highatomic == LOW + 16");
    assert!(list(&m, h).iter().all(|&p| m.pfn_zone(p) == Some(dma32)));
    m.check().unwrap();
}

// ---------------------------------------------------------------------------------------------
// §2.1 no ALLOC_NOFRAGMENT, no ALLOC_KSWAPD, no free_factor decay

/// A one-zone 16 MiB NORMAL machine whose only free memory is one MOVABLE order-8 block, so an
/// UNMOVABLE request must steal from a block smaller than a pageblock. LOW is 0.
fn fragmented(profile: &str) -> Machine {
    let mut m = boot(&one_zone_config(ZoneType::Normal, 16, 1), profile);
    let hog = hog(&mut m, 0, 8);
    let pfn = list(&m, hog)[0];
    assert_eq!(m.pages[pfn as usize].order(), 8);
    m.free_held(hog, pfn, 8, None).unwrap();
    set_wmarks(&mut m, 0, 0, 0, 100);
    assert_eq!(m.zones[0].nr_free_pages, 256);
    m
}

fn fallback_results(ev: &[Event]) -> Vec<i64> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Exit { func: Func::RmqueueFallback, ret } => Some(*ret),
            _ => None,
        })
        .collect()
}

#[test]
fn bulk_fast_path_has_no_alloc_nofragment_so_it_steals_a_block_below_pageblock_order() {
    let mut m = fragmented("6.1");
    let gfp = g(&m, "GFP_KERNEL");
    let h = m.holder_id("list").unwrap();
    let mk = mark(&m);
    assert_eq!(bulk(&mut m, 0, gfp, h, 4, BulkTarget::List), 4);
    let ev = since(&m, mk);
    assert_eq!(entered(ev, Func::AllocPages), 0, "the refill succeeded in the fast path");
    assert_eq!(fallback_results(ev), vec![1], "the first fallback attempt steals the order-8 block");
    m.check().unwrap();

    // The single-page allocator's fast path carries ALLOC_NOFRAGMENT: its first fallback
    // attempt may not take a block below pageblock_order.
    let mut m = fragmented("6.1");
    let h = m.holder_id("one").unwrap();
    let mk = mark(&m);
    assert!(alloc_into(&mut m, h, gfp, 0).is_some());
    let ev = since(&m, mk);
    let first = ev.iter().find_map(|e| match e {
        Event::Enter { func: Func::GetPageFromFreelist, args } => args.alloc_flags,
        _ => None,
    });
    assert!(first.unwrap().contains(pageflow_core::gfp::AllocFlags::NOFRAGMENT));
    assert_eq!(fallback_results(ev)[0], 0);
    m.check().unwrap();
}

#[test]
fn bulk_fast_path_never_wakes_kswapd_even_when_its_refill_boosts_the_watermark() {
    for profile in ["5.13", "6.1", "6.6", "6.7"] {
        let mut m = fragmented(profile);
        let gfp = g(&m, "GFP_KERNEL");
        let h = m.holder_id("list").unwrap();
        let mk = mark(&m);
        assert_eq!(bulk(&mut m, 0, gfp, h, 4, BulkTarget::List), 4, "{profile}");
        let ev = since(&m, mk);
        assert!(m.zones[0].watermark_boost > 0, "{profile}: the steal boosted the watermark");
        assert!(!m.zones[0].boosted_watermark, "{profile}: no ALLOC_KSWAPD, so no ZONE_BOOSTED_WATERMARK");
        assert!(!ev.iter().any(|e| matches!(e, Event::KswapdWake { .. })), "{profile}");
        assert_eq!(entered(ev, Func::WakeAllKswapds), 0, "{profile}");
        assert!(!m.nodes[0].kswapd_pending, "{profile}");
        m.check().unwrap();
    }
    // The same steal by the single-page allocator (ALLOC_KSWAPD) wakes kswapd from rmqueue().
    let mut m = fragmented("6.1");
    let gfp = g(&m, "GFP_KERNEL");
    let h = m.holder_id("one").unwrap();
    let mk = mark(&m);
    assert!(alloc_into(&mut m, h, gfp, 0).is_some());
    let ev = since(&m, mk);
    assert!(has_note(ev, Note::BoostedWatermarkWake));
    assert!(ev.iter().any(|e| matches!(e, Event::KswapdWake { .. })));
    m.check().unwrap();
}

#[test]
fn bulk_allocation_does_not_decay_free_factor_but_a_single_page_allocation_halves_it() {
    let mut m = two_gib("6.1");
    let normal = z0(&m, ZoneType::Normal);
    let gfp = g(&m, "GFP_KERNEL");
    m.zones[normal].pcp[0].free_factor = 3;
    let h = m.holder_id("list").unwrap();
    assert_eq!(bulk(&mut m, 0, gfp, h, 8, BulkTarget::List), 8);
    assert_eq!(m.zones[normal].pcp[0].free_factor, 3, "bulk leaves free_factor alone");
    alloc_into(&mut m, h, gfp, 0).unwrap();
    assert_eq!(m.zones[normal].pcp[0].free_factor, 1, "rmqueue_pcplist halves it");
    m.check().unwrap();
}

// ---------------------------------------------------------------------------------------------
// §2.2 multi-node

#[test]
fn bulk_reaching_a_remote_nodes_zone_falls_back_to_one_page_from_the_single_page_allocator() {
    for profile in ["5.13", "6.1"] {
        let mut m = two_nodes(profile);
        let n1 = zone(&m, 1, ZoneType::Normal);
        all_zones_unreachable(&mut m);
        let free = m.zones[n1].nr_free_pages as u64;
        set_wmarks(&mut m, n1, free, free, free);
        for z in 0..m.zones.len() {
            if m.zones[z].node == 0 {
                set_wmarks(&mut m, z, 0, 0, 0);
            }
        }
        let gfp = g(&m, "GFP_KERNEL");
        let h = m.holder_id("list").unwrap();
        let mk = mark(&m);
        assert_eq!(bulk(&mut m, 1, gfp, h, 16, BulkTarget::List), 1, "{profile}");
        let ev = since(&m, mk);
        assert!(has_note(ev, Note::BulkRemoteNode), "{profile}: {:?}", notes(ev));
        let checks = wmark_checks(ev, Func::AllocPagesBulk);
        assert_eq!(checks.len(), 1, "{profile}: the remote zone is not even checked");
        assert_eq!(checks[0].zone, n1, "{profile}");
        assert_eq!(entered(ev, Func::AllocPages), 1, "{profile}");
        assert_eq!(m.zones[m.pfn_zone(list(&m, h)[0]).unwrap()].node, 0, "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn bulk_on_a_multi_node_machine_uses_lower_zones_of_the_local_node() {
    let mut m = two_nodes("6.1");
    let (normal, dma32) = (zone(&m, 0, ZoneType::Normal), zone(&m, 0, ZoneType::Dma32));
    bulk_low_at_limit(&mut m, normal, 16, ZoneType::Normal, 0);
    let gfp = g(&m, "GFP_KERNEL");
    let h = m.holder_id("list").unwrap();
    let mk = mark(&m);
    assert_eq!(bulk(&mut m, 0, gfp, h, 16, BulkTarget::List), 16);
    let ev = since(&m, mk);
    assert!(!has_note(ev, Note::BulkRemoteNode));
    assert!(list(&m, h).iter().all(|&p| m.pfn_zone(p) == Some(dma32)));
    m.check().unwrap();
}

// ---------------------------------------------------------------------------------------------
// §2.5 refills, locking

#[test]
fn bulk_request_of_16_on_an_empty_pcp_refills_one_batch_and_leaves_47() {
    for profile in ["5.13", "5.14", "6.1", "6.6"] {
        let mut m = two_gib(profile);
        let normal = z0(&m, ZoneType::Normal);
        assert_eq!(m.zones[normal].pcp[0].batch, 63, "{profile}");
        let gfp = g(&m, "GFP_KERNEL");
        let h = m.holder_id("list").unwrap();
        let mk = mark(&m);
        assert_eq!(bulk(&mut m, 0, gfp, h, 16, BulkTarget::List), 16, "{profile}");
        assert_eq!(entered(since(&m, mk), Func::RmqueueBulk), 1, "{profile}");
        assert_eq!(m.zones[normal].pcp[0].count, 47, "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn bulk_request_of_200_refills_four_times_in_one_pcp_lock_section_without_rechecking_the_watermark() {
    let mut m = two_gib("6.1");
    let normal = z0(&m, ZoneType::Normal);
    bulk_low_at_limit(&mut m, normal, 200, ZoneType::Normal, 1);
    let free = m.zones[normal].nr_free_pages;
    let gfp = g(&m, "GFP_KERNEL");
    let h = m.holder_id("list").unwrap();
    let mk = mark(&m);
    assert_eq!(bulk(&mut m, 0, gfp, h, 200, BulkTarget::List), 200);
    let ev = since(&m, mk);
    assert_eq!(entered(ev, Func::RmqueueBulk), 4, "63 * 3 < 200 <= 63 * 4");
    assert_eq!(zone_locks(ev), 4, "zone->lock once per refill");
    assert_eq!(pcp_locks(ev), 1, "one pcp lock section");
    assert_eq!(irq_offs(ev), 1, "6.1: pcp_spin_trylock_irqsave; zone->lock is a plain spin_lock inside");
    assert_eq!(wmark_checks(ev, Func::AllocPagesBulk).len(), 1, "no re-check between refills");
    assert_eq!(m.zones[normal].pcp[0].count, 52);
    assert_eq!(m.zones[normal].nr_free_pages, free - 252);
    assert!(
        (m.zones[normal].nr_free_pages as u64) < m.zones[normal].watermark[1],
        "the refills took the zone below LOW, which nobody re-checked"
    );
    m.check().unwrap();
}

#[test]
fn five_thirteen_bulk_refills_inside_one_irq_disabled_section_without_a_pcp_lock() {
    let mut m = two_gib("5.13");
    let gfp = g(&m, "GFP_KERNEL");
    let h = m.holder_id("list").unwrap();
    let mk = mark(&m);
    assert_eq!(bulk(&mut m, 0, gfp, h, 200, BulkTarget::List), 200);
    let ev = since(&m, mk);
    assert_eq!(entered(ev, Func::RmqueueBulk), 4);
    assert_eq!(zone_locks(ev), 4);
    assert_eq!(pcp_locks(ev), 0, "local_irq_save only");
    assert_eq!(irq_offs(ev), 1);
    m.check().unwrap();
}

#[test]
fn six_six_bulk_keeps_irqs_enabled_and_takes_zone_lock_irqsave_for_each_refill() {
    let mut m = two_gib("6.6");
    let gfp = g(&m, "GFP_KERNEL");
    let h = m.holder_id("list").unwrap();
    let mk = mark(&m);
    assert_eq!(bulk(&mut m, 0, gfp, h, 200, BulkTarget::List), 200);
    let ev = since(&m, mk);
    assert_eq!(pcp_locks(ev), 1);
    assert_eq!(zone_locks(ev), 4);
    assert_eq!(irq_offs(ev), 4, "only zone->lock disables IRQs");
    m.check().unwrap();
}

// ---------------------------------------------------------------------------------------------
// §2.9 statistics

#[test]
fn five_thirteen_counts_pgalloc_once_per_page_inside_the_irq_off_section() {
    let mut m = two_gib("5.13");
    let normal = z0(&m, ZoneType::Normal) as u16;
    let gfp = g(&m, "GFP_KERNEL");
    let h = m.holder_id("list").unwrap();
    let mk = mark(&m);
    assert_eq!(bulk(&mut m, 0, gfp, h, 16, BulkTarget::List), 16);
    let ev = since(&m, mk);
    let updates = counter_updates(ev, Counter::Pgalloc);
    assert_eq!(updates.len(), 16);
    let off = position(ev, |e| matches!(e, Event::Irq { disabled: true, .. })).unwrap();
    let on = position(ev, |e| matches!(e, Event::Irq { disabled: false, .. })).unwrap();
    for (i, zone, delta) in updates {
        assert_eq!((zone, delta), (Some(normal), 1));
        assert!(off < i && i < on, "PGALLOC per page with IRQs off");
    }
    m.check().unwrap();
}

#[test]
fn six_one_counts_pgalloc_once_with_nr_account_after_the_pcp_lock_is_dropped() {
    for profile in ["5.14", "6.1", "6.6"] {
        let mut m = two_gib(profile);
        let normal = z0(&m, ZoneType::Normal) as u16;
        let gfp = g(&m, "GFP_KERNEL");
        let h = m.holder_id("list").unwrap();
        let mk = mark(&m);
        assert_eq!(bulk(&mut m, 0, gfp, h, 16, BulkTarget::List), 16, "{profile}");
        let ev = since(&m, mk);
        let updates = counter_updates(ev, Counter::Pgalloc);
        assert_eq!(updates.len(), 1, "{profile}");
        assert_eq!((updates[0].1, updates[0].2), (Some(normal), 16), "{profile}");
        let unlock =
            position(ev, |e| matches!(e, Event::Lock { lock: LockId::Pcp { .. }, taken: false })).unwrap();
        assert!(updates[0].0 > unlock, "{profile}: counted after the unlock");
        assert_eq!(counter_updates(ev, Counter::NumaHit).len(), 1, "{profile}: zone_statistics once");
        m.check().unwrap();
    }
}

#[test]
fn nr_free_pages_changes_only_when_the_pcp_list_is_refilled() {
    for profile in ["5.13", "6.1"] {
        let mut m = two_gib(profile);
        let normal = z0(&m, ZoneType::Normal);
        let free = m.zones[normal].nr_free_pages;
        let gfp = g(&m, "GFP_KERNEL");
        let h = m.holder_id("list").unwrap();
        let mk = mark(&m);
        assert_eq!(bulk(&mut m, 0, gfp, h, 16, BulkTarget::List), 16, "{profile}");
        let ev = since(&m, mk);
        let enter = position(ev, |e| matches!(e, Event::Enter { func: Func::RmqueueBulk, .. })).unwrap();
        let exit = position(ev, |e| matches!(e, Event::Exit { func: Func::RmqueueBulk, .. })).unwrap();
        let updates = counter_updates(ev, Counter::NrFreePages);
        assert_eq!(updates.len(), 1, "{profile}: once per refill");
        assert!(enter < updates[0].0 && updates[0].0 < exit, "{profile}: inside rmqueue_bulk");
        assert_eq!(updates[0].2, -63, "{profile}: the whole batch, not the 16 pages handed out");
        assert_eq!(m.zones[normal].nr_free_pages, free - 63, "{profile}");
        m.check().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// §2.10 memcg, §2.11 page_owner

#[test]
fn gfp_kernel_account_bulk_takes_the_single_page_path_from_5_15_on() {
    for profile in ["6.1", "6.6", "6.7"] {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL_ACCOUNT");
        let r = bulk_array(&mut m, 0, gfp, &[false; 16]);
        let ev = since(&m, r.mark);
        assert_eq!(r.ret, 1, "{profile}");
        assert!(has_note(ev, Note::BulkAccountFallback), "{profile}");
        assert_eq!(entered(ev, Func::AllocPages), 1, "{profile}");
        assert!(wmark_checks(ev, Func::AllocPagesBulk).is_empty(), "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn gfp_kernel_account_bulk_takes_the_bulk_path_on_5_13_and_5_14() {
    for profile in ["5.13", "5.14"] {
        let mut m = two_gib(profile);
        let gfp = g(&m, "GFP_KERNEL_ACCOUNT");
        let r = bulk_array(&mut m, 0, gfp, &[false; 16]);
        assert_eq!(r.ret, 16, "{profile}");
        assert_eq!(entered(since(&m, r.mark), Func::AllocPages), 0, "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn gfp_kernel_account_bulk_takes_the_bulk_path_when_kmem_accounting_is_off() {
    let mut cfg = MachineConfig::simple(1024, 1024, 1);
    cfg.memcg_kmem = false;
    let mut m = boot(&cfg, "6.1");
    let gfp = g(&m, "GFP_KERNEL_ACCOUNT");
    let r = bulk_array(&mut m, 0, gfp, &[false; 16]);
    assert_eq!(r.ret, 16);
    assert_eq!(entered(since(&m, r.mark), Func::AllocPages), 0);
    m.check().unwrap();
}

#[test]
fn page_owner_sends_every_bulk_call_to_the_single_page_path_from_5_14_on() {
    for profile in ["5.14", "6.1", "6.6", "6.7"] {
        let mut cfg = MachineConfig::simple(1024, 1024, 1);
        cfg.page_owner = true;
        let mut m = boot(&cfg, profile);
        let gfp = g(&m, "GFP_KERNEL");
        let r = bulk_array(&mut m, 0, gfp, &[false; 16]);
        let ev = since(&m, r.mark);
        assert_eq!(r.ret, 1, "{profile}");
        assert!(has_note(ev, Note::BulkPageOwnerFallback), "{profile}");
        assert_eq!(entered(ev, Func::AllocPages), 1, "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn page_owner_does_not_affect_bulk_on_5_13() {
    let mut cfg = MachineConfig::simple(1024, 1024, 1);
    cfg.page_owner = true;
    let mut m = boot(&cfg, "5.13");
    let gfp = g(&m, "GFP_KERNEL");
    let r = bulk_array(&mut m, 0, gfp, &[false; 16]);
    assert_eq!(r.ret, 16);
    assert_eq!(entered(since(&m, r.mark), Func::AllocPages), 0);
    m.check().unwrap();
}
