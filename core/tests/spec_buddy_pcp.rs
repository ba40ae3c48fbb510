//! Specifications of the buddy and per-cpu page lists (reference §3 single-page alloc and free
//! paths, §4 pcp parameters) and of bad frees, checked against the model.

mod common;

use common::*;
use pageflow_core::config::{MachineConfig, NodeConfig, ZoneConfig};
use pageflow_core::machine::Machine;
use pageflow_core::mem::{MigrateType, Pfn, ZoneType};
use pageflow_core::trace::{BadPageReason, Event, Func, Loc};
use pageflow_core::BulkTarget;

/// `zone_batchsize()` as written in mm/page_alloc.c (5.13–6.6), for 4 KiB pages.
fn kernel_zone_batchsize(managed: u64) -> u32 {
    let mut batch = (managed >> 10).min((1 << 20) / 4096) / 4;
    if batch < 1 {
        batch = 1;
    }
    let x = batch + batch / 2;
    ((1u64 << (63 - x.leading_zeros())) - 1) as u32
}

fn movable_pindex() -> usize {
    1
}

// ---------------------------------------------------------------------------------------------
// §4 pcp parameters

#[test]
fn batch_is_63_for_zones_of_1_gib_or_more() {
    for profile in ["5.13", "6.1"] {
        let m = simple(profile, 1024, 4096, 2);
        for kind in [ZoneType::Dma32, ZoneType::Normal] {
            let z = z0(&m, kind);
            assert!(m.zones[z].managed_pages >= 1 << 18);
            assert_eq!(m.zones[z].pageset_batch, 63, "{profile} {kind:?}");
            assert!(m.zones[z].pcp.iter().all(|p| p.batch == 63), "{profile} {kind:?}");
        }
        m.check().unwrap();
    }
}

#[test]
fn batch_follows_zone_batchsize_so_a_256_mib_zone_gets_15_not_63() {
    // min(managed >> 10, 1 MiB / PAGE_SIZE) reaches 256 pages only at 1 GiB of managed memory:
    // a 256 MiB zone gives 64 / 4 = 16 → rounddown_pow_of_two(24) - 1 = 15.
    for mib in [64u64, 128, 256, 512, 1024, 2048] {
        let m = simple("6.1", mib, mib, 1);
        for kind in [ZoneType::Dma32, ZoneType::Normal] {
            let z = z0(&m, kind);
            let want = kernel_zone_batchsize(m.zones[z].managed_pages).max(1);
            assert_eq!(m.zones[z].pcp[0].batch, want, "{mib} MiB {kind:?}");
        }
        if mib == 256 {
            assert_eq!(m.zones[z0(&m, ZoneType::Normal)].pcp[0].batch, 15);
        }
        m.check().unwrap();
    }
}

#[test]
fn batch_of_the_16_mib_dma_zone_is_1() {
    let m = simple("6.1", 1024, 1024, 1);
    let dma = z0(&m, ZoneType::Dma);
    assert_eq!(kernel_zone_batchsize(m.zones[dma].managed_pages), 0, "zone_batchsize() gives 0");
    assert_eq!(m.zones[dma].pcp[0].batch, 1, "zone_set_pageset_high_and_batch() takes max(1, batch)");
    m.check().unwrap();
}

#[test]
fn pcp_high_is_six_batches_on_5_13() {
    let m = simple("5.13", 1024, 1024, 4);
    let normal = z0(&m, ZoneType::Normal);
    assert!(m.zones[normal].pcp.iter().all(|p| p.high == 378));
    let dma = z0(&m, ZoneType::Dma);
    assert!(m.zones[dma].pcp.iter().all(|p| p.high == 6 * p.batch));
    m.check().unwrap();
}

#[test]
fn pcp_high_on_6_1_is_the_low_watermark_split_over_the_cpus_of_the_node() {
    for profile in ["5.14", "6.1", "6.6"] {
        let m = simple(profile, 1024, 4096, 2);
        let normal = z0(&m, ZoneType::Normal);
        let low = m.zones[normal].watermark[1];
        let want = (low / 2) as u32;
        assert!(want > 4 * 63, "{profile}: the split wins over four batches here");
        assert!(m.zones[normal].pcp.iter().all(|p| p.high == want), "{profile}: low {low}");
        m.check().unwrap();
    }
}

#[test]
fn pcp_high_on_6_1_is_at_least_four_batches() {
    let m = simple("6.1", 1024, 1024, 64);
    let normal = z0(&m, ZoneType::Normal);
    assert!(m.zones[normal].watermark[1] / 64 < 4 * 63);
    assert!(m.zones[normal].pcp.iter().all(|p| p.high == 4 * 63));
    m.check().unwrap();
}

#[test]
fn pcp_high_on_6_1_for_a_node_without_cpus_is_split_over_all_online_cpus() {
    let mut cfg = MachineConfig::simple(256, 1024, 2);
    for _ in 0..2 {
        cfg.nodes.push(NodeConfig {
            zones: vec![ZoneConfig { zone: ZoneType::Normal, mib: 1024, reserved_pages: 0 }],
        });
    }
    let m = boot(&cfg, "6.1");
    assert_eq!((m.cpu_to_node(0), m.cpu_to_node(1)), (0, 1));
    assert!(m.nodes[2].cpus.is_empty());
    let (n1, n2) = (zone(&m, 1, ZoneType::Normal), zone(&m, 2, ZoneType::Normal));
    let low1 = m.zones[n1].watermark[1];
    let low2 = m.zones[n2].watermark[1];
    assert_eq!(m.zones[n1].pcp[0].high as u64, low1.max(4 * 63), "node 1 has one CPU");
    assert_eq!(m.zones[n2].pcp[0].high as u64, (low2 / 2).max(4 * 63), "node 2 has none: all 2 online");
    m.check().unwrap();
}

#[test]
fn user_pcp_batch_and_high_override_the_computed_values_and_drive_the_refills() {
    for profile in ["5.13", "6.1"] {
        let mut cfg = MachineConfig::simple(1024, 1024, 2);
        cfg.pcp_batch = Some(8);
        cfg.pcp_high = Some(100);
        let mut m = boot(&cfg, profile);
        for z in &m.zones {
            assert!(z.pcp.iter().all(|p| p.batch == 8 && p.high == 100), "{profile} {}", z.label());
        }
        let normal = z0(&m, ZoneType::Normal);
        let gfp = g(&m, "GFP_KERNEL");
        let h = m.holder_id("list").unwrap();
        let mk = mark(&m);
        assert_eq!(bulk(&mut m, 0, gfp, h, 20, BulkTarget::List), 20, "{profile}");
        assert_eq!(entered(since(&m, mk), Func::RmqueueBulk), 3, "{profile}");
        assert_eq!(m.zones[normal].pcp[0].count, 4, "{profile}");
        m.check().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// §3.2 free path: pcp lists

/// Pages freed from a pcp list to the buddy lists, in order.
fn pcp_to_buddy(ev: &[Event]) -> Vec<Pfn> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Move { pfn, from: Loc::Pcp { .. }, to: Loc::Buddy { .. }, .. } => Some(*pfn),
            _ => None,
        })
        .collect()
}

fn pcp_free_sizes(ev: &[Event]) -> Vec<u32> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Enter { func: Func::FreePcppagesBulk, args } => args.nr,
            _ => None,
        })
        .collect()
}

#[test]
fn a_freed_page_goes_to_the_head_of_its_pcp_list() {
    for profile in ["5.13", "6.1"] {
        let mut m = simple(profile, 1024, 1024, 1);
        let normal = z0(&m, ZoneType::Normal);
        let gfp = g(&m, "GFP_HIGHUSER_MOVABLE");
        let h = m.holder_id("list").unwrap();
        assert_eq!(bulk(&mut m, 0, gfp, h, 2, BulkTarget::List), 2);
        let (b, a) = (list(&m, h)[0], list(&m, h)[1]);
        m.free_held(h, a, 0, None).unwrap();
        assert_eq!(pcp_list(&m, normal, 0, movable_pindex())[0], a, "{profile}");
        m.free_held(h, b, 0, None).unwrap();
        assert_eq!(pcp_list(&m, normal, 0, movable_pindex())[..2], [b, a], "{profile}: hot at the head");
        m.check().unwrap();
    }
}

/// A machine with pcp batch 4 and the given high, holding `n` movable pages in "list" with every
/// pcp list drained.
fn small_pcp(profile: &str, high: u32, n: i32) -> (Machine, u32) {
    let mut cfg = MachineConfig::simple(1024, 1024, 1);
    cfg.pcp_batch = Some(4);
    cfg.pcp_high = Some(high);
    let mut m = boot(&cfg, profile);
    let gfp = g(&m, "GFP_HIGHUSER_MOVABLE");
    let h = m.holder_id("list").unwrap();
    assert_eq!(bulk(&mut m, 0, gfp, h, n, BulkTarget::List), n as u32);
    m.drain_pages(0);
    (m, h)
}

#[test]
fn five_thirteen_frees_one_batch_from_the_pcp_tail_when_count_reaches_high() {
    let (mut m, h) = small_pcp("5.13", 10, 10);
    let normal = z0(&m, ZoneType::Normal);
    let pages = list(&m, h);
    for (i, &p) in pages[..9].iter().enumerate() {
        let mk = mark(&m);
        m.free_held(h, p, 0, None).unwrap();
        assert!(pcp_free_sizes(since(&m, mk)).is_empty(), "count {} < high", i + 1);
    }
    let mk = mark(&m);
    m.free_held(h, pages[9], 0, None).unwrap();
    let ev = since(&m, mk);
    assert_eq!(pcp_free_sizes(ev), vec![4], "count 10 >= high 10: free pcp->batch");
    assert_eq!(pcp_to_buddy(ev), pages[..4].to_vec(), "the coldest pages, from the tail");
    assert_eq!(m.zones[normal].pcp[0].count, 6);
    let mut rest: Vec<Pfn> = pages[4..].to_vec();
    rest.reverse();
    assert_eq!(pcp_list(&m, normal, 0, movable_pindex()), rest);
    m.check().unwrap();
}

#[test]
fn six_one_frees_from_the_pcp_tail_a_batch_that_doubles_while_frees_follow_frees() {
    for profile in ["5.14", "6.1", "6.6"] {
        let (mut m, h) = small_pcp(profile, 40, 68);
        let normal = z0(&m, ZoneType::Normal);
        let pages = list(&m, h);
        let mk = mark(&m);
        for &p in &pages {
            m.free_held(h, p, 0, None).unwrap();
        }
        let ev = since(&m, mk);
        // nr_pcp_free(): batch << free_factor, clamped to [batch, high - batch].
        assert_eq!(pcp_free_sizes(ev), vec![4, 8, 16, 32], "{profile}");
        assert_eq!(pcp_to_buddy(ev)[..4], pages[..4], "{profile}: the first four freed are the coldest");
        assert_eq!(m.zones[normal].pcp[0].count, 8, "{profile}");
        assert_eq!(m.zones[normal].pcp[0].free_factor, 4, "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn a_single_page_allocation_halves_free_factor_so_the_next_overflow_frees_less() {
    let (mut m, h) = small_pcp("6.1", 40, 100);
    let normal = z0(&m, ZoneType::Normal);
    let pages = list(&m, h);
    for &p in &pages[..68] {
        m.free_held(h, p, 0, None).unwrap();
    }
    assert_eq!(m.zones[normal].pcp[0].free_factor, 4);
    let gfp = g(&m, "GFP_HIGHUSER_MOVABLE");
    alloc_into(&mut m, h, gfp, 0).unwrap();
    assert_eq!(m.zones[normal].pcp[0].free_factor, 2);
    let mk = mark(&m);
    for p in list(&m, h) {
        m.free_held(h, p, 0, None).unwrap();
    }
    assert_eq!(pcp_free_sizes(since(&m, mk)), vec![16], "4 << 2");
    m.check().unwrap();
}

#[test]
fn draining_returns_every_pcp_page_and_buddies_merge_back_to_the_boot_free_lists() {
    for profile in ["5.13", "6.1", "6.6"] {
        let mut m = simple(profile, 1024, 1024, 2);
        let boot_info: Vec<_> = (0..m.zones.len()).map(|z| buddyinfo(&m, z)).collect();
        let boot_free: Vec<_> = m.zones.iter().map(|z| z.nr_free_pages).collect();
        let gfp = g(&m, "GFP_HIGHUSER_MOVABLE");
        let h = m.holder_id("list").unwrap();
        assert_eq!(bulk(&mut m, 0, gfp, h, 100, BulkTarget::List), 100);
        for p in list(&m, h) {
            m.free_held(h, p, 0, None).unwrap();
        }
        let normal = z0(&m, ZoneType::Normal);
        assert!(m.zones[normal].pcp[0].count > 0, "{profile}");
        let mk = mark(&m);
        m.drain_pages(0);
        let ev = since(&m, mk);
        for z in 0..m.zones.len() {
            assert_eq!(m.zones[z].pcp[0].count, 0, "{profile}");
            assert_eq!(buddyinfo(&m, z), boot_info[z], "{profile}: {}", m.zones[z].label());
            assert_eq!(m.zones[z].nr_free_pages, boot_free[z], "{profile}");
        }
        let merges: Vec<_> = ev
            .iter()
            .filter_map(|e| match e {
                Event::Merge { pfn, buddy, order, .. } => Some((*pfn, *buddy, *order)),
                _ => None,
            })
            .collect();
        assert!(!merges.is_empty(), "{profile}");
        for (pfn, buddy, order) in merges {
            assert_eq!(buddy, pfn ^ (1 << order), "{profile}: buddy pfn = pfn ^ (1 << order)");
        }
        m.check().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// §3.1 buddy: __rmqueue_smallest, expand, rmqueue_bulk

#[test]
fn expand_keeps_the_lowest_chunk_and_puts_upper_halves_at_the_list_heads_largest_first() {
    // Order 5 is not a pcp order in 6.1; order 1 is not one in 5.13.
    for (profile, order) in [("6.1", 5u8), ("5.13", 1u8)] {
        let mut m = simple(profile, 1024, 1024, 1);
        let normal = z0(&m, ZoneType::Normal);
        let first = free_list(&m, normal, 10, MigrateType::Movable)[0];
        let gfp = g(&m, "GFP_HIGHUSER_MOVABLE");
        let h = m.holder_id("one").unwrap();
        let mk = mark(&m);
        let pfn = alloc_into(&mut m, h, gfp, order).unwrap();
        assert_eq!(pfn, first, "{profile}: the head block, lowest chunk kept");
        let splits: Vec<_> = since(&m, mk)
            .iter()
            .filter_map(|e| match e {
                Event::Split { buddy, order, .. } => Some((*order, *buddy)),
                _ => None,
            })
            .collect();
        let want: Vec<_> = (order..10).rev().map(|o| (o, first + (1 << o))).collect();
        assert_eq!(splits, want, "{profile}: largest half first");
        for o in order..10 {
            assert_eq!(free_list(&m, normal, o, MigrateType::Movable)[0], first + (1 << o), "{profile} {o}");
        }
        m.check().unwrap();
    }
}

#[test]
fn rmqueue_bulk_puts_the_batch_on_the_pcp_tail_in_pfn_order() {
    for profile in ["5.13", "6.1"] {
        let mut m = simple(profile, 1024, 1024, 1);
        let normal = z0(&m, ZoneType::Normal);
        let first = free_list(&m, normal, 10, MigrateType::Movable)[0];
        let gfp = g(&m, "GFP_HIGHUSER_MOVABLE");
        let h = m.holder_id("list").unwrap();
        assert_eq!(bulk(&mut m, 0, gfp, h, 2, BulkTarget::List), 2);
        let pcp = pcp_list(&m, normal, 0, movable_pindex());
        assert_eq!(pcp, (first + 2..first + 63).collect::<Vec<_>>(), "{profile}");
        assert_eq!(list(&m, h), vec![first + 1, first], "{profile}: taken from the head, pfn order");
        m.check().unwrap();
    }
}

#[test]
fn free_one_page_puts_a_block_at_the_tail_when_a_merge_is_likely_and_at_the_head_otherwise() {
    // Order-4 blocks bypass the pcp lists in every era. Eight of them come out of the first
    // order-10 block as A..H = P + 16k.
    for profile in ["5.13", "6.1"] {
        let mut m = simple(profile, 1024, 1024, 1);
        let normal = z0(&m, ZoneType::Normal);
        let p = free_list(&m, normal, 10, MigrateType::Movable)[0];
        let gfp = g(&m, "GFP_HIGHUSER_MOVABLE");
        let h = m.holder_id("blocks").unwrap();
        let blocks: Vec<Pfn> = (0..8).map(|_| alloc_into(&mut m, h, gfp, 4).unwrap()).collect();
        assert_eq!(blocks, (0..8).map(|k| p + 16 * k).collect::<Vec<_>>(), "{profile}");
        let [_a, b, c, d, _e, f, _g, hh] = blocks[..] else { unreachable!() };
        let order4 = |m: &Machine| free_list(m, normal, 4, MigrateType::Movable);
        m.free_held(h, c, 4, None).unwrap();
        m.free_held(h, d, 4, None).unwrap(); // merges with C into P+32 at order 5
        assert_eq!(free_list(&m, normal, 5, MigrateType::Movable)[0], p + 32, "{profile}");
        m.free_held(h, f, 4, None).unwrap(); // nothing free around it: head
        assert_eq!(order4(&m), vec![f], "{profile}");
        // B's buddy A is allocated, but the order-5 block next to B's order-5 block (P+32) is
        // free: a merge is likely, so B goes to the tail.
        m.free_held(h, b, 4, None).unwrap();
        assert_eq!(order4(&m), vec![f, b], "{profile}: buddy_merge_likely → tail");
        m.free_held(h, hh, 4, None).unwrap(); // G and E allocated: head
        assert_eq!(order4(&m), vec![hh, f, b], "{profile}");
        m.check().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Bad frees: bad_page(), nothing changes

#[test]
fn freeing_a_page_twice_is_a_bad_page_and_changes_nothing() {
    for profile in ["5.13", "6.1"] {
        let mut m = simple(profile, 1024, 1024, 1);
        let gfp = g(&m, "GFP_KERNEL");
        let h = m.holder_id("list").unwrap();
        let p = alloc_into(&mut m, h, gfp, 0).unwrap();
        m.free_held(h, p, 0, None).unwrap();
        // Second free while the page is on a pcp list.
        let before = snapshot(&m);
        let mk = mark(&m);
        assert_eq!(m.free_held(h, p, 0, None), Err(BadPageReason::AlreadyFree), "{profile}");
        assert!(
            matches!(since(&m, mk), [Event::BadPage { pfn, reason: BadPageReason::AlreadyFree }] if *pfn == p)
        );
        assert_same(&before, &snapshot(&m), profile);
        // Third free after the drain, while it is in the buddy lists.
        m.drain_pages(0);
        let before = snapshot(&m);
        let mk = mark(&m);
        assert!(m.free_held(h, p, 0, None).is_err(), "{profile}");
        assert!(matches!(since(&m, mk), [Event::BadPage { .. }]), "{profile}");
        assert_same(&before, &snapshot(&m), profile);
        m.check().unwrap();
    }
}

#[test]
fn freeing_a_page_owned_by_another_holder_is_a_bad_page_and_changes_nothing() {
    let mut m = simple("6.1", 1024, 1024, 1);
    let gfp = g(&m, "GFP_KERNEL");
    let owner = m.holder_id("owner").unwrap();
    let thief = m.holder_id("thief").unwrap();
    let p = alloc_into(&mut m, owner, gfp, 0).unwrap();
    let arr = array_with(&mut m, 0, &[true, false]);
    let q = array(&m, arr)[0];
    let before = snapshot(&m);
    let mk = mark(&m);
    assert_eq!(m.free_held(thief, p, 0, None), Err(BadPageReason::NotOwner));
    assert_eq!(m.free_held(owner, q, 0, Some(0)), Err(BadPageReason::NotOwner));
    assert_eq!(since(&m, mk).iter().filter(|e| matches!(e, Event::BadPage { .. })).count(), 2);
    assert_same(&before, &snapshot(&m), "foreign frees");
    assert_eq!(list(&m, owner), vec![p]);
    m.check().unwrap();
}

#[test]
fn freeing_with_the_wrong_order_a_tail_pfn_or_a_reserved_pfn_is_a_bad_page_and_changes_nothing() {
    let mut m = simple("6.1", 1024, 1024, 1);
    let gfp = g(&m, "GFP_KERNEL");
    let h = m.holder_id("list").unwrap();
    let q = alloc_into(&mut m, h, gfp, 2).unwrap();
    let before = snapshot(&m);
    assert_eq!(m.free_held(h, q, 0, None), Err(BadPageReason::WrongOrder));
    assert_eq!(m.free_held(h, q + 1, 2, None), Err(BadPageReason::NotHead));
    assert_eq!(m.free_held(h, 0, 0, None), Err(BadPageReason::NotManaged), "DMA's reserved pages");
    assert_same(&before, &snapshot(&m), "bad frees");
    m.check().unwrap();
}
