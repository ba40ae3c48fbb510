//! Specifications of the watermark arithmetic and of what GFP flags buy (reference §5), checked
//! against the model.

mod common;

use common::*;
use pageflow_core::config::{MachineConfig, ZoneConfig};
use pageflow_core::gfp::{self, AllocFlags, TaskContext};
use pageflow_core::machine::Machine;
use pageflow_core::mem::{MigrateType, ZoneType};
use pageflow_core::trace::{Event, Func, Note};
use pageflow_core::watermark;
use pageflow_core::why::NoWhy;
use pageflow_core::Profile;

fn int_sqrt(x: u64) -> u64 {
    let mut r = 0u64;
    while (r + 1) * (r + 1) <= x {
        r += 1;
    }
    r
}

/// A one-zone machine (NORMAL, 64 MiB, one CPU) whose watermarks are set relative to the free
/// pages F: min = F * min_num / min_den, low = high = max(min, F).
fn pressed(profile: &str, min_num: u64, min_den: u64) -> Machine {
    let mut m = boot(&one_zone_config(ZoneType::Normal, 64, 1), profile);
    let free = m.zones[0].nr_free_pages as u64;
    let min = free * min_num / min_den;
    set_wmarks(&mut m, 0, min, min.max(free), min.max(free));
    m
}

/// The alloc flags of each `get_page_from_freelist()` attempt and whether it found a page.
fn attempts(ev: &[Event]) -> Vec<(AllocFlags, bool)> {
    let mut out = Vec::new();
    let mut flags = None;
    for e in ev {
        match e {
            Event::Enter { func: Func::GetPageFromFreelist, args } => flags = args.alloc_flags,
            Event::Exit { func: Func::GetPageFromFreelist, ret } => {
                out.push((flags.take().expect("an enter before the exit"), *ret >= 0))
            }
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// §5.6 watermark computation

#[test]
fn min_free_kbytes_is_the_square_root_of_sixteen_times_lowmem_kbytes() {
    for (dma32, normal, cpus) in [(1024, 1024, 1), (4080, 12288, 4), (256, 0, 2), (64, 64, 1)] {
        let m = simple("6.1", dma32, normal, cpus);
        let lowmem: u64 =
            m.zones.iter().filter(|z| z.kind <= ZoneType::Normal).map(|z| z.managed_pages).sum();
        let want = int_sqrt(lowmem * 4 * 16).clamp(128, 262_144);
        assert_eq!(m.min_free_kbytes, want, "{dma32}+{normal} MiB");
        m.check().unwrap();
    }
    assert_eq!(watermark::calculate_min_free_kbytes(1), 128, "clamped below");
    assert_eq!(watermark::calculate_min_free_kbytes(1 << 40), 262_144, "clamped above");
}

#[test]
fn a_min_free_kbytes_setting_replaces_the_computed_value() {
    let mut cfg = MachineConfig::simple(1024, 1024, 1);
    cfg.min_free_kbytes = Some(20_000);
    let m = boot(&cfg, "6.1");
    assert_eq!(m.min_free_kbytes, 20_000);
    let total: u64 = m.zones.iter().map(|z| z.watermark[0]).sum();
    assert!(total <= 20_000 / 4 && total + 3 >= 20_000 / 4, "the mins add up to pages_min: {total}");
    m.check().unwrap();
}

#[test]
fn each_zone_gets_a_share_of_pages_min_by_size_and_low_and_high_step_by_the_larger_of_min_over_4_and_a_tenth_of_a_percent(
) {
    for profile in ["5.13", "6.1"] {
        for (dma32, normal) in [(1024, 1024), (256, 4096), (4080, 12288)] {
            let m = simple(profile, dma32, normal, 2);
            let pages_min = m.min_free_kbytes >> 2;
            let lowmem: u64 = m.zones.iter().map(|z| z.managed_pages).sum();
            for z in &m.zones {
                let tmp = pages_min * z.managed_pages / lowmem;
                let step = (tmp >> 2).max(z.managed_pages * 10 / 10_000);
                assert_eq!(z.watermark[0], tmp, "{profile} {}", z.label());
                assert_eq!(z.watermark[1], tmp + step, "{profile} {}", z.label());
                assert_eq!(z.watermark[2], tmp + 2 * step, "{profile} {}", z.label());
                assert_eq!(z.watermark_boost, 0);
            }
            m.check().unwrap();
        }
    }
}

#[test]
fn lowmem_reserve_is_the_managed_pages_of_the_higher_zones_over_the_lower_zones_ratio() {
    let mut cfg = MachineConfig::simple(1024, 2048, 1);
    cfg.nodes[0].zones.push(ZoneConfig { zone: ZoneType::Movable, mib: 512, reserved_pages: 0 });
    let m = boot(&cfg, "6.1");
    let managed = |k| m.zones[z0(&m, k)].managed_pages;
    let (d32, n, mv) = (managed(ZoneType::Dma32), managed(ZoneType::Normal), managed(ZoneType::Movable));
    let r = |k| m.zones[z0(&m, k)].lowmem_reserve;
    // DMA 256, DMA32 256, NORMAL 32, MOVABLE 0.
    assert_eq!(r(ZoneType::Dma), [0, d32 / 256, (d32 + n) / 256, (d32 + n + mv) / 256]);
    assert_eq!(r(ZoneType::Dma32), [0, 0, n / 256, (n + mv) / 256]);
    assert_eq!(r(ZoneType::Normal), [0, 0, 0, mv / 32]);
    assert_eq!(r(ZoneType::Movable), [0, 0, 0, 0]);
    m.check().unwrap();
}

// ---------------------------------------------------------------------------------------------
// §5.4/§5.5 reserve levels

/// The share of min = 1024 a request may not go below in the slow path.
fn level(profile: &Profile, gfp_text: &str, ctx: &TaskContext) -> u64 {
    let g = pageflow_core::Gfp::parse(gfp_text, profile).unwrap();
    let flags = gfp::gfp_to_alloc_flags(g, 0, profile, ctx, &mut NoWhy);
    let reserve = gfp::__gfp_pfmemalloc_flags(g, ctx, &mut NoWhy);
    let flags = if reserve.is_empty() { flags } else { reserve | (flags & AllocFlags::KSWAPD) };
    gfp::reserve_adjusted_min(1024, flags, profile, &mut NoWhy)
}

#[test]
fn reserve_levels_with_min_1024_are_1024_plain_512_high_384_atomic_and_512_oom_victim_in_every_era() {
    let task = TaskContext::default();
    let victim = TaskContext { oom_victim: true, ..TaskContext::default() };
    for id in ["5.13", "6.1", "6.6", "6.7"] {
        let p = Profile::by_id(id).unwrap();
        assert_eq!(level(p, "GFP_KERNEL", &task), 1024, "{id} plain");
        assert_eq!(level(p, "GFP_NOWAIT", &task), 1024, "{id} GFP_NOWAIT gets no reserve");
        assert_eq!(level(p, "GFP_KERNEL | __GFP_HIGH", &task), 512, "{id} __GFP_HIGH");
        assert_eq!(level(p, "GFP_ATOMIC", &task), 384, "{id} GFP_ATOMIC");
        assert_eq!(level(p, "GFP_KERNEL", &victim), 512, "{id} OOM victim");
    }
}

#[test]
fn zone_watermark_ok_applies_the_reserve_levels_with_a_strict_comparison() {
    for id in ["5.13", "6.1", "6.6"] {
        let m = simple(id, 1024, 1024, 1);
        let p = m.profile;
        let zone = &m.zones[z0(&m, ZoneType::Normal)];
        let atomic = gfp::gfp_to_alloc_flags(g(&m, "GFP_ATOMIC"), 0, p, &TaskContext::default(), &mut NoWhy);
        let high = gfp::gfp_to_alloc_flags(
            g(&m, "GFP_KERNEL | __GFP_HIGH"),
            0,
            p,
            &TaskContext::default(),
            &mut NoWhy,
        );
        for (flags, lvl) in
            [(AllocFlags::WMARK_MIN, 1024), (high, 512), (atomic, 384), (AllocFlags::OOM, 512)]
        {
            let ok = |free| watermark::zone_watermark_ok(zone, 0, 1024, ZoneType::Normal, flags, free, p).ok;
            assert!(!ok(lvl), "{id} {flags:?}: free == level fails");
            assert!(ok(lvl + 1), "{id} {flags:?}: free == level + 1 passes");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What GFP flags buy under pressure

#[test]
fn gfp_atomic_succeeds_below_min_where_gfp_kernels_fast_path_fails() {
    for profile in ["5.13", "6.1", "6.6"] {
        // free == min: no plain request passes; GFP_ATOMIC may go to 3/8 of min.
        let mut m = pressed(profile, 1, 1);
        let h = m.holder_id("list").unwrap();
        let kernel = g(&m, "GFP_KERNEL");
        let mk = mark(&m);
        assert_eq!(alloc_into(&mut m, h, kernel, 0), None, "{profile}");
        let tries = attempts(since(&m, mk));
        assert!(!tries[0].1, "{profile}: the fast path fails");
        assert!(tries.iter().all(|t| !t.1), "{profile}");

        let atomic = g(&m, "GFP_ATOMIC");
        let mk = mark(&m);
        assert!(alloc_into(&mut m, h, atomic, 0).is_some(), "{profile}");
        let ev = since(&m, mk);
        let tries = attempts(ev);
        assert!(!tries[0].1, "{profile}: the fast path fails for GFP_ATOMIC too");
        let (flags, ok) = *tries.last().unwrap();
        assert!(ok && flags.contains(AllocFlags::HIGH | AllocFlags::HARDER), "{profile}: {flags:?}");
        assert_eq!(entered(ev, Func::DirectReclaim), 0, "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn gfp_atomic_fails_below_three_eighths_of_min() {
    let mut m = pressed("6.1", 3, 1); // free = min / 3 < 3/8 of min
    let h = m.holder_id("list").unwrap();
    let atomic = g(&m, "GFP_ATOMIC");
    assert_eq!(alloc_into(&mut m, h, atomic, 0), None);
    m.check().unwrap();
}

#[test]
fn gfp_nowait_fails_below_min_without_entering_reclaim_but_wakes_kswapd() {
    for profile in ["5.13", "6.1", "6.6"] {
        let mut m = pressed(profile, 1, 1);
        let h = m.holder_id("list").unwrap();
        let gfp = g(&m, "GFP_NOWAIT");
        let (stalls, failures) = (m.vm.allocstall, m.vm.alloc_failures);
        let mk = mark(&m);
        assert_eq!(alloc_into(&mut m, h, gfp, 0), None, "{profile}");
        let ev = since(&m, mk);
        assert_eq!(entered(ev, Func::DirectReclaim), 0, "{profile}");
        assert_eq!(m.vm.allocstall, stalls, "{profile}");
        assert_eq!(m.vm.alloc_failures, failures + 1, "{profile}");
        assert!(has_note(ev, Note::AllocFailure), "{profile}");
        assert!(ev.iter().any(|e| matches!(e, Event::KswapdWake { .. })), "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn gfp_memalloc_ignores_the_watermarks() {
    for profile in ["5.13", "6.1", "6.6"] {
        let mut m = pressed(profile, 100, 1); // min = 100 * free
        let h = m.holder_id("list").unwrap();
        let gfp = g(&m, "GFP_KERNEL | __GFP_MEMALLOC");
        let mk = mark(&m);
        assert!(alloc_into(&mut m, h, gfp, 0).is_some(), "{profile}");
        let ev = since(&m, mk);
        let (flags, ok) = *attempts(ev).last().unwrap();
        assert!(ok && flags.contains(AllocFlags::NO_WATERMARKS), "{profile}: {flags:?}");
        // get_page_from_freelist() still evaluates the watermark, and goes to try_this_zone
        // although it fails (mm/page_alloc.c, "if (alloc_flags & ALLOC_NO_WATERMARKS) goto
        // try_this_zone").
        let last_enter = ev
            .iter()
            .rposition(|e| matches!(e, Event::Enter { func: Func::GetPageFromFreelist, .. }))
            .unwrap();
        let checks: Vec<_> = ev[last_enter..]
            .iter()
            .filter_map(|e| match e {
                Event::Watermark { check, .. } => Some(check.ok),
                _ => None,
            })
            .collect();
        assert!(checks.iter().all(|ok| !ok), "{profile}: the zone is far below min: {checks:?}");
        m.check().unwrap();
    }
}

#[test]
fn gfp_nomemalloc_forbids_the_emergency_reserves_even_with_gfp_memalloc() {
    let mut m = pressed("6.1", 100, 1);
    let h = m.holder_id("list").unwrap();
    let gfp = g(&m, "GFP_KERNEL | __GFP_MEMALLOC | __GFP_NOMEMALLOC");
    assert_eq!(alloc_into(&mut m, h, gfp, 0), None);
    m.check().unwrap();
}

#[test]
fn a_pf_memalloc_task_ignores_the_watermarks_and_an_oom_victim_gets_half_of_min() {
    for profile in ["5.13", "6.1", "6.6"] {
        let mut m = pressed(profile, 100, 1);
        m.task = TaskContext { pf_memalloc: true, ..TaskContext::default() };
        let h = m.holder_id("list").unwrap();
        let gfp = g(&m, "GFP_KERNEL");
        assert!(alloc_into(&mut m, h, gfp, 0).is_some(), "{profile}: PF_MEMALLOC");
        m.check().unwrap();

        // free = 2/3 of min: above min / 2.
        let mut m = pressed(profile, 3, 2);
        let h = m.holder_id("list").unwrap();
        assert_eq!(alloc_into(&mut m, h, gfp, 0), None, "{profile}: an ordinary task fails");
        m.task = TaskContext { oom_victim: true, ..TaskContext::default() };
        let mk = mark(&m);
        assert!(alloc_into(&mut m, h, gfp, 0).is_some(), "{profile}: the OOM victim succeeds");
        let (flags, _) = *attempts(since(&m, mk)).last().unwrap();
        assert!(flags.contains(AllocFlags::OOM), "{profile}: {flags:?}");
        m.check().unwrap();
    }
}

/// A one-zone machine with 256 page-cache pages, pcp lists drained, and min 100 pages above
/// what is free: reclaim frees 32 pages a round, so four rounds are needed.
fn reclaimable(profile: &str) -> Machine {
    let mut m = boot(&one_zone_config(ZoneType::Normal, 64, 1), profile);
    assert_eq!(page_cache(&mut m, 0, 256), 256);
    m.drain_all_pages();
    let free = m.zones[0].nr_free_pages as u64;
    set_wmarks(&mut m, 0, free + 100, free + 100, free + 100);
    m
}

#[test]
fn gfp_noretry_gives_up_after_one_reclaim_round() {
    for profile in ["5.13", "6.1", "6.6"] {
        let mut m = reclaimable(profile);
        let h = m.holder_id("list").unwrap();
        let gfp = g(&m, "GFP_KERNEL | __GFP_NORETRY");
        let mk = mark(&m);
        assert_eq!(alloc_into(&mut m, h, gfp, 0), None, "{profile}");
        assert_eq!(entered(since(&m, mk), Func::DirectReclaim), 1, "{profile}");
        m.check().unwrap();

        // Without __GFP_NORETRY reclaim goes on while it makes progress, and succeeds.
        let mut m = reclaimable(profile);
        let h = m.holder_id("list").unwrap();
        let gfp = g(&m, "GFP_KERNEL");
        let mk = mark(&m);
        assert!(alloc_into(&mut m, h, gfp, 0).is_some(), "{profile}");
        assert!(entered(since(&m, mk), Func::DirectReclaim) > 1, "{profile}");
        m.check().unwrap();
    }
}

#[test]
fn gfp_nofail_is_bounded_with_a_note_when_nothing_can_be_reclaimed() {
    for profile in ["5.13", "6.1", "6.6"] {
        let mut m = pressed(profile, 2, 1); // free = min / 2: below even the HARDER fallback
        let h = m.holder_id("list").unwrap();
        let gfp = g(&m, "GFP_KERNEL | __GFP_NOFAIL");
        let mk = mark(&m);
        assert_eq!(alloc_into(&mut m, h, gfp, 0), None, "{profile}");
        assert!(has_note(since(&m, mk), Note::NofailBounded), "{profile}");
        m.check().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Highatomic reserves (§3.1: "a high-order atomic allocation may call
// reserve_highatomic_pageblock"; §5.5: ≤6.2 ALLOC_HARDER, 6.3+ ALLOC_HIGHATOMIC)

fn high_order_atomic_reserves_its_pageblock(profile: &str) {
    let mut m = pressed(profile, 1, 1);
    let h = m.holder_id("list").unwrap();
    let gfp = g(&m, "GFP_ATOMIC");
    let mk = mark(&m);
    let pfn = alloc_into(&mut m, h, gfp, 1).expect("GFP_ATOMIC gets an order-1 block below min");
    assert!(!attempts(since(&m, mk))[0].1, "{profile}: it came from the slow path");
    assert_eq!(m.zones[0].nr_reserved_highatomic, 512, "{profile}: one pageblock reserved");
    assert_eq!(m.zones[0].pageblock_migratetype(pfn), MigrateType::HighAtomic, "{profile}");
    m.check().unwrap();
}

#[test]
fn a_high_order_gfp_atomic_allocation_in_the_slow_path_reserves_a_highatomic_pageblock_on_5_13() {
    high_order_atomic_reserves_its_pageblock("5.13");
}

#[test]
fn a_high_order_gfp_atomic_allocation_in_the_slow_path_reserves_a_highatomic_pageblock_on_6_1() {
    high_order_atomic_reserves_its_pageblock("6.1");
}

#[test]
fn a_high_order_gfp_atomic_allocation_in_the_slow_path_reserves_a_highatomic_pageblock_on_6_6() {
    high_order_atomic_reserves_its_pageblock("6.6");
}

#[test]
fn a_high_order_gfp_atomic_allocation_in_the_slow_path_reserves_a_highatomic_pageblock_on_6_7() {
    high_order_atomic_reserves_its_pageblock("6.7");
}
