//! The cost model is calibrated: published kernel figures, rerun on the model and priced with
//! one cycle table ([`CostModel::for_profile`], which differs between eras only in the pcp lock),
//! land within ±20 %. The table of model against published figures is printed
//! (`cargo test -p pageflow-core --test calibration -- --nocapture`).
//!
//! Brouer's `page_bench04_bulk` cycles per page: required by the issue, the local_lock series
//! (profile 5.14) single page 194 cycles and array step 64 98 cycles; the other four rows (list
//! step 64, and the v5r9 series on profile 5.13) are checked too.
//!
//! Lever's `svc_alloc_arg()` µs per call, on the sunrpc user model answering the 256 KiB READs
//! and WRITEs he ran ([`calibrate::LeverRun`]), are printed but not asserted: his kernel was
//! built with KASAN and the model prices one without it (DEVIATIONS.md, "Cost model"). The
//! tests below pin down what the model does hold of them: the refills his workload makes, the
//! order of his three forms, and that the gap is a shortfall of the model, not an excess.

use pageflow_core::calibrate::{self, render, Bench04, LeverRun, Target, TOLERANCE};
use pageflow_core::mem::ZoneType;
use pageflow_core::profile::SvcAllocArg;
use pageflow_core::sim::alloc_into;
use pageflow_core::trace::{Cost, TraceMode};
use pageflow_core::{BulkTarget, CostModel, Gfp, Machine, MachineConfig, Profile};

fn target<'a>(targets: &'a [Target], profile: &str, name: &str) -> &'a Target {
    targets
        .iter()
        .find(|t| t.profile == profile && t.name.ends_with(name))
        .unwrap_or_else(|| panic!("no target {name:?} on profile {profile}"))
}

#[test]
fn every_asserted_row_is_within_tolerance_with_one_cost_table() {
    let targets = calibrate::targets();
    println!("\nCost model calibration (simulated cycles and µs, tolerance ±{:.0} %)", TOLERANCE * 100.0);
    print!("{}", render(&targets));
    for name in ["single alloc_pages+free", "array step 64"] {
        let t = target(&targets, "5.14", name);
        assert!(t.asserted && t.within_tolerance(), "the issue's row {name:?} on 5.14");
    }
    let lever = targets.iter().filter(|t| t.source.starts_with("Lever"));
    assert!(lever.clone().count() == 3 && lever.clone().all(|t| !t.asserted), "Lever's kernel had KASAN");
    let outside: Vec<&Target> = targets.iter().filter(|t| t.asserted && !t.within_tolerance()).collect();
    assert!(outside.is_empty(), "outside ±{:.0} %: {outside:#?}", TOLERANCE * 100.0);
}

#[test]
fn bulk_allocation_is_cheaper_per_page_than_single_pages_in_both_series() {
    let targets = calibrate::brouer_targets();
    for profile in ["5.13", "5.14"] {
        let single = target(&targets, profile, "single alloc_pages+free").model;
        let array = target(&targets, profile, "array step 64").model;
        assert!(array < 0.75 * single, "profile {profile}: array {array:.1} vs single {single:.1}");
    }
}

#[test]
fn the_local_lock_series_batches_the_bulk_stats_so_its_array_rounds_cost_less() {
    let targets = calibrate::brouer_targets();
    let v5 = target(&targets, "5.13", "array step 64").model;
    let local_lock = target(&targets, "5.14", "array step 64").model;
    assert!(local_lock < v5, "5.14 {local_lock:.1} vs 5.13 {v5:.1}");
}

#[test]
fn a_warm_single_page_loop_never_takes_the_zone_lock() {
    // page_bench04's single loop frees each page before the next allocation: the pcp list
    // neither empties nor reaches high, so only pcp sections are priced.
    let p = Profile::by_id("5.14").unwrap();
    let cost = calibrate::Bench04Run::new(p, Bench04::Single, TraceMode::Count).measure(1000);
    assert_eq!(cost.zone_lock, 0);
    assert_eq!(cost.pcp_lock, 2000, "one pcp section to allocate, one to free");
    assert_eq!(cost.prep_pages, 1000);
    assert_eq!(cost.freed_pages, 1000);
}

#[test]
fn levers_refills_fill_65_holes_after_a_read_and_1_after_a_write_without_sleeping() {
    // A 256 KiB READ's reply is a head page and 64 data pages, all put when the reply is
    // released; a WRITE's request pages stay in rq_pages and only its reply page is put. The
    // per-page loop makes one alloc_page() call per hole, the bulk forms one call for all.
    let p = Profile::by_id("5.13").unwrap();
    for form in [SvcAllocArg::PerPage, SvcAllocArg::ListRfc, SvcAllocArg::ArraySleepOnShortfall] {
        let mut run = LeverRun::new(p, form, TraceMode::Count);
        for _ in 0..10 {
            let (a, b) = (run.request(), run.request());
            let (small, big) = if a.filled < b.filled { (a, b) } else { (b, a) };
            assert_eq!((small.filled, big.filled), (1, 65), "{form:?}");
            let calls = if form == SvcAllocArg::PerPage { 65 } else { 1 };
            assert_eq!((small.calls, big.calls), (1, calls), "{form:?}");
            assert_eq!(small.sleeps + big.sleeps, 0, "{form:?}");
            assert_eq!(big.cost.freed_pages, 0, "{form:?}: frees belong to svc_xprt_release, not the refill");
        }
    }
}

#[test]
fn transmit_completions_on_another_cpu_make_the_refills_take_their_pages_from_the_buddy_lists() {
    // The reply pages are freed on CPU 1, so the thread's pcp list on CPU 0 never gets them
    // back: beyond what is left of its last rmqueue_bulk() batch, every page a refill takes
    // comes off a buddy list, a batch at a time under zone->lock.
    let p = Profile::by_id("5.13").unwrap();
    let mut run = LeverRun::new(p, SvcAllocArg::ArraySleepOnShortfall, TraceMode::Count);
    let normal = run.machine.zones.iter().position(|z| z.kind == ZoneType::Normal).unwrap();
    let batch = u64::from(run.machine.zones[normal].pcp[0].batch);
    let (mut cost, mut pages) = (Cost::default(), 0u64);
    for _ in 0..40 {
        let r = run.request();
        cost = cost.plus(&r.cost);
        pages += u64::from(r.filled);
    }
    assert_eq!(pages, 20 * 66);
    assert!(cost.buddy_list_ops >= pages - batch, "{pages} pages, batch {batch}: {cost:?}");
    assert!(cost.zone_lock >= (pages - batch) / batch, "a batch per zone->lock section: {cost:?}");
}

#[test]
fn levers_three_forms_keep_his_order_per_page_then_list_then_array() {
    // Lever measured 25.007, 6.258 and 4.590 µs. The model keeps the order: the bulk calls save
    // the per-call work of 33 alloc_page() calls, and the list call adds a list_add() a page.
    let targets = calibrate::lever_targets();
    let [per_page, list, array] = ["per-page alloc_page loop", "list API", "array API"]
        .map(|name| target(&targets, "5.13", name).model);
    assert!(array < list && list < per_page, "{per_page:.2} > {list:.2} > {array:.2} µs");
    assert!(array < 0.6 * per_page, "the array API halves the refill: {array:.2} vs {per_page:.2} µs");
}

#[test]
fn the_rows_not_asserted_are_ones_the_model_prices_too_low() {
    // The model leaves work out (KASAN's checks, the caller's list handling); it never adds work
    // the kernel does not do.
    let targets = calibrate::targets();
    let loose: Vec<&Target> = targets.iter().filter(|t| !t.asserted).collect();
    assert!(!loose.is_empty());
    for t in loose {
        assert!(t.model < t.published, "{t:#?}");
    }
}

#[test]
fn zeroing_is_charged_for_every_page_prep_new_page_zeroes() {
    let model = CostModel::default();
    let p = Profile::default_profile();
    let mut m = Machine::new(&MachineConfig::simple(240, 0, 1), p, TraceMode::Count).unwrap();
    let plain = Gfp::parse("GFP_KERNEL", p).unwrap();
    let zero = Gfp::parse("GFP_KERNEL | __GFP_ZERO", p).unwrap();
    let owner = m.holder_id("x").unwrap();
    let mut cost_of = |gfp, order| {
        let before = m.trace.cost;
        alloc_into(&mut m, owner, gfp, order).unwrap().expect("memory is free");
        m.trace.cost.since(&before)
    };
    // The first order-2 allocation refills the pcp list; the next two take from it alike.
    cost_of(plain, 2);
    let (a, b) = (cost_of(plain, 2), cost_of(zero, 2));
    assert_eq!((a.zeroed_pages, b.zeroed_pages), (0, 4), "an order-2 block is four pages");
    assert_eq!(model.cycles(&b) - model.cycles(&a), 4.0 * model.zero_page);
}

#[test]
fn a_list_bulk_round_costs_one_list_add_per_page_more_than_the_same_array_round() {
    // __alloc_pages_bulk() puts each page on the caller's page_list with list_add(); in array
    // mode it stores the page in its slot. Everything else the two loops do is the same work.
    for profile in ["5.13", "5.14"] {
        let p = Profile::by_id(profile).unwrap();
        let list = calibrate::Bench04Run::new(p, Bench04::List { step: 64 }, TraceMode::Count).measure(100);
        let array = calibrate::Bench04Run::new(p, Bench04::Array { step: 64 }, TraceMode::Count).measure(100);
        assert_eq!((list.page_list_adds, array.page_list_adds), (6400, 0), "{profile}");
        assert_eq!(Cost { page_list_adds: 0, ..list }, array, "{profile}");
        let model = CostModel::for_profile(p);
        assert_eq!(model.cycles(&list) - model.cycles(&array), 6400.0 * model.pcp_list_op, "{profile}");
    }
}

#[test]
fn only_the_bulk_allocator_puts_pages_on_a_callers_list() {
    // The single-page fallback of a list call is list_add()ed too; alloc_pages() returns its
    // page, and whatever its caller does with it is the caller's.
    let p = Profile::by_id("5.13").unwrap();
    let mut m = Machine::new(&MachineConfig::simple(240, 0, 1), p, TraceMode::Count).unwrap();
    let gfp = Gfp::parse("GFP_KERNEL", p).unwrap();
    let list = m.holder_id("list").unwrap();
    m.caller = list;
    let before = m.trace.cost;
    assert_eq!(m.alloc_pages_bulk(gfp, 0, 8, BulkTarget::List), 8);
    assert_eq!(m.trace.cost.since(&before).page_list_adds, 8);
    let before = m.trace.cost;
    assert_eq!(m.alloc_pages_bulk(gfp, 0, 1, BulkTarget::List), 1, "one page: the fallback");
    assert_eq!(m.trace.cost.since(&before).page_list_adds, 1);
    let before = m.trace.cost;
    alloc_into(&mut m, list, gfp, 0).unwrap().expect("memory is free");
    assert_eq!(m.trace.cost.since(&before).page_list_adds, 0);
}
