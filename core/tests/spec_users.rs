//! Specifications of the allocator's users (reference §6, §8 items 4 and 8): sunrpc's
//! `svc_alloc_arg()` in each era's form, stepped line by line, and page_pool's slow-path refill.

mod common;

use common::*;
use pageflow_core::config::MachineConfig;
use pageflow_core::machine::{Machine, Slots};
use pageflow_core::mem::{MigrateType, ZoneType, NIL};
use pageflow_core::profile::SvcAllocArg;
use pageflow_core::trace::Note;
use pageflow_core::users::page_pool::{PagePool, PoolConfig, PP_ALLOC_CACHE_REFILL};
use pageflow_core::users::sunrpc::{RefillRecord, Rpc, RpcMix, SvcConfig, SvcServ, RPCSVC_MAXPAGES};
use pageflow_core::users::{run_sunrpc, AllocApi, AllocPath};

/// A server of `threads` threads with `form` on a 2 GiB, 2-CPU machine of `profile`.
fn server(profile: &str, threads: u32, form: Option<SvcAllocArg>) -> (Machine, SvcServ) {
    let mut m = simple(profile, 1024, 1024, 2);
    let mut config = SvcConfig::new(threads, m.profile);
    config.form = form.unwrap_or(config.form);
    let serv = SvcServ::new(&mut m, config).expect("a valid server");
    (m, serv)
}

/// The refill records of the last `serve`.
fn last_refill(serv: &SvcServ) -> &RefillRecord {
    serv.refills.last().expect("a refill ran")
}

/// Step thread `t`'s refill to its end, returning the line ids executed and the record.
fn step_through(serv: &mut SvcServ, m: &mut Machine, t: usize) -> (Vec<&'static str>, RefillRecord) {
    assert!(serv.begin_alloc_arg(m, t), "thread {t} can start a refill");
    let mut ids = Vec::new();
    loop {
        let (index, line) = serv.current_line(t).expect("a refill in progress has a current line");
        let step = serv.step(m, t).expect("a refill in progress steps");
        assert_eq!((step.index, step.line), (index, *line), "the step executes the current line");
        ids.push(step.line.id);
        if let Some(record) = step.finished {
            assert!(serv.current_line(t).is_none(), "a finished refill has no current line");
            return (ids, record);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sizing and holes

#[test]
fn a_1_mib_server_has_rq_pages_of_259_and_svc_init_buffer_leaves_the_last_slot_null() {
    let (m, serv) = server("6.1", 2, None);
    assert_eq!(serv.pages, 259);
    assert_eq!(RPCSVC_MAXPAGES, 259);
    for th in &serv.threads {
        let Slots::Array(a) = &m.holders[th.rq_pages as usize].slots else { panic!("an array") };
        assert_eq!(a.len(), 259);
        assert!(a[..258].iter().all(|&p| p != NIL), "sv_max_mesg / PAGE_SIZE + 1 = 258 pages");
        assert_eq!(a[258], NIL);
    }
    m.check().unwrap();
}

#[test]
fn a_reply_releases_only_the_reply_region_so_holes_follow_the_request() {
    let (mut m, mut serv) = server("6.1", 1, None);
    serv.serve(&mut m, &Rpc::Read { kib: 8 });
    let Slots::Array(a) = &m.holders[serv.threads[0].rq_pages as usize].slots else { panic!() };
    let nulls: Vec<usize> = (0..a.len()).filter(|&i| a[i] == NIL).collect();
    assert_eq!(nulls, vec![1, 2, 3], "reply head and two data pages after the one-page request");
    serv.serve(&mut m, &Rpc::Write { kib: 16, split: false });
    let Slots::Array(a) = &m.holders[serv.threads[0].rq_pages as usize].slots else { panic!() };
    let nulls: Vec<usize> = (0..a.len()).filter(|&i| a[i] == NIL).collect();
    assert_eq!(nulls, vec![5], "a WRITE of 16 KiB fills five request pages; the reply page is freed");
    m.check().unwrap();
}

#[test]
fn a_split_tcp_record_leaves_leading_holes_in_the_thread_that_parked_it() {
    let (mut m, mut serv) = server("6.1", 2, None);
    serv.serve(&mut m, &Rpc::Write { kib: 64, split: true });
    // Thread 0 parked the first half of 17 request pages (8) on the socket.
    let Slots::Array(a) = &m.holders[serv.threads[0].rq_pages as usize].slots else { panic!() };
    assert!(a[..8].iter().all(|&p| p == NIL), "{:?}", &a[..10]);
    assert!(a[8..258].iter().all(|&p| p != NIL));
    assert_eq!(serv.sk_pages, 0, "thread 1 took the parked pages over");
    // The next refill of thread 0 sees a populated prefix of 0 and 8 leading holes.
    serv.serve(&mut m, &Rpc::Wakeup);
    serv.serve(&mut m, &Rpc::Wakeup);
    let r = serv.refills.iter().rev().find(|r| r.thread == 0).unwrap();
    assert_eq!((r.holes_before, r.prefix), (8, 0));
    assert_eq!(r.filled, 8);
    m.check().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Steady state and the one-page rule

#[test]
fn in_steady_state_three_holes_are_refilled_by_one_bulk_call_without_sleeping() {
    for profile in ["5.13", "6.1", "6.7"] {
        let (mut m, mut serv) = server(profile, 1, None);
        serv.serve(&mut m, &Rpc::Read { kib: 8 });
        serv.serve(&mut m, &Rpc::Getattr);
        let r = last_refill(&serv);
        assert_eq!((r.holes_before, r.requested, r.filled), (3, 3, 3), "{profile}");
        assert_eq!((r.calls, r.sleeps, r.slept_ms, r.gave_up), (1, 0, 0, false), "{profile}");
        let call = &r.alloc_calls[0];
        assert_eq!(
            (call.api, call.nr_pages, call.returned, call.allocated),
            (AllocApi::BulkArray, 259, 259, 3)
        );
        assert_eq!(call.path, Some(AllocPath::Bulk), "{profile}");
        assert!(r.cost.pcp_lock + r.cost.irq_off > 0, "{profile}: the cost of the call is counted");
        m.check().unwrap();
    }
}

#[test]
fn one_hole_is_handed_to_the_single_page_path_when_the_allocator_sees_a_request_of_one() {
    // The array API counts only the populated prefix: the trailing hole svc_init_buffer leaves
    // is one remaining hole, while a GETATTR's hole at slot 1 goes through the bulk path.
    let (mut m, mut serv) = server("6.1", 1, None);
    serv.serve(&mut m, &Rpc::Getattr);
    let first = &serv.refills[0];
    assert_eq!((first.holes_before, first.prefix), (1, 258));
    assert_eq!(first.alloc_calls[0].path, Some(AllocPath::SinglePage { why: Note::BulkSinglePage }));
    serv.serve(&mut m, &Rpc::Getattr);
    let second = last_refill(&serv);
    assert_eq!((second.holes_before, second.prefix), (1, 1));
    assert_eq!(second.alloc_calls[0].path, Some(AllocPath::Bulk));
    // The RFC prototype asks the list API for exactly the holes: one hole is nr_pages == 1.
    let (mut m, mut serv) = server("rfc-2021", 1, None);
    serv.serve(&mut m, &Rpc::Getattr);
    serv.serve(&mut m, &Rpc::Getattr);
    let r = last_refill(&serv);
    assert_eq!(r.form, SvcAllocArg::ListRfc);
    let call = &r.alloc_calls[0];
    assert_eq!((call.api, call.nr_pages, call.returned), (AllocApi::BulkList, 1, 1));
    assert_eq!(call.path, Some(AllocPath::SinglePage { why: Note::BulkSinglePage }));
    assert_eq!((r.filled, r.single_page_calls, r.sleeps), (1, 1, 0));
    m.check().unwrap();
}

#[test]
fn the_per_page_loop_makes_one_alloc_page_call_per_hole() {
    let (mut m, mut serv) = server("6.1", 1, Some(SvcAllocArg::PerPage));
    serv.serve(&mut m, &Rpc::Read { kib: 64 });
    serv.serve(&mut m, &Rpc::Getattr);
    let r = last_refill(&serv);
    assert_eq!((r.holes_before, r.calls, r.single_page_calls, r.filled), (17, 17, 17, 17));
    assert!(r
        .alloc_calls
        .iter()
        .all(|c| c.api == AllocApi::AllocPage && c.path == Some(AllocPath::AllocPage)));
    m.check().unwrap();
}

// ---------------------------------------------------------------------------------------------
// §8.4: the 5.13.0 full array

#[test]
fn on_5_13_0_a_full_array_returns_0_and_the_thread_sleeps_again_and_again_until_the_budget_stops_it() {
    let (mut m, mut serv) = server("5.13.0", 1, None);
    serv.config.sleep_budget = 5;
    serv.serve(&mut m, &Rpc::Wakeup); // fills the trailing hole: the array is full
    assert_eq!(serv.serve(&mut m, &Rpc::Wakeup), pageflow_core::users::sunrpc::Served::Unserved);
    let r = last_refill(&serv);
    assert_eq!((r.holes_before, r.filled), (0, 0));
    assert_eq!((r.calls, r.sleeps, r.slept_ms, r.gave_up), (6, 5, 2500, true));
    assert!(r.alloc_calls.iter().all(|c| c.returned == 0 && c.path == Some(AllocPath::ArrayFull)));
    assert!(serv.threads[0].hung);
    assert_eq!(serv.clock.ms(), 2500);
    assert_eq!(serv.serve(&mut m, &Rpc::Getattr), pageflow_core::users::sunrpc::Served::Unserved);
    m.check().unwrap();
    // 5.13.1 returns nr_pages for the same full array.
    let (mut m, mut serv) = server("5.13", 1, None);
    serv.serve(&mut m, &Rpc::Wakeup);
    serv.serve(&mut m, &Rpc::Wakeup);
    let r = last_refill(&serv);
    assert_eq!((r.calls, r.sleeps, r.gave_up), (1, 0, false));
    assert_eq!(r.alloc_calls[0].returned, 259);
}

// ---------------------------------------------------------------------------------------------
// §8.8: partial results

/// One NORMAL zone of 16 MiB on one CPU, a one-thread server whose `rq_pages` has 257 holes
/// (after a 1 MiB READ), and a starved zone: 100 usable free pages, a free order-10 block on the
/// HIGHATOMIC list that `nr_reserved_highatomic` does not count (so `LOW + 259` passes while the
/// pcp refill finds only the 100), and 400 page-cache pages reclaim can take.
fn starved_server(form: SvcAllocArg) -> (Machine, SvcServ) {
    let mut m = boot(&one_zone_config(ZoneType::Normal, 16, 1), "6.1");
    let mut config = SvcConfig::new(1, m.profile);
    config.form = form;
    config.sleep_budget = 50;
    let mut serv = SvcServ::new(&mut m, config).unwrap();
    serv.serve(&mut m, &Rpc::Read { kib: 1024 });
    let hog = hog(&mut m, 0, 10);
    unhog(&mut m, hog, 400);
    // Page cache read in below the watermarks without reclaiming itself (no watermark checks),
    // and kswapd not let run before the refill.
    let gfp = g(&m, "GFP_HIGHUSER_MOVABLE | __GFP_MEMALLOC");
    for _ in 0..400 {
        alloc_into(&mut m, pageflow_core::machine::PAGE_CACHE, gfp, 0).expect("a page-cache page");
    }
    m.nodes[0].kswapd_pending = false;
    m.drain_all_pages();
    let pfn = *list(&m, hog).iter().find(|&&p| m.pages[p as usize].order() == 10).unwrap();
    m.zones[0].set_pageblock_migratetype(pfn, MigrateType::HighAtomic);
    m.zones[0].set_pageblock_migratetype(pfn + 512, MigrateType::HighAtomic);
    m.free_held(hog, pfn, 10, None).unwrap();
    unhog(&mut m, hog, 100);
    assert_eq!((m.zones[0].nr_free_pages, m.page_cache_pages()), (1124, 400));
    (m, serv)
}

#[test]
fn a_partial_result_sleeps_500_ms_in_5_13_but_is_retried_at_once_after_the_progress_fix() {
    let (mut m, mut serv) = starved_server(SvcAllocArg::ArraySleepOnShortfall);
    let (ids, r) = step_through(&mut serv, &mut m, 0);
    let first = &r.alloc_calls[0];
    assert!(first.allocated > 0 && first.returned < 259, "a partial result: {first:?}");
    let after_call = ids.iter().position(|&id| id == "bulk").unwrap();
    assert_eq!(ids[after_call + 1..after_call + 5], ["if_full", "state", "stop", "sleep"]);
    // Each sleep is followed by one page from direct reclaim and one pcp batch: many sleeps.
    assert!(r.sleeps >= 2 && r.slept_ms == 500 * u64::from(r.sleeps), "{r:?}");
    assert_eq!((r.filled, r.gave_up), (257, false));
    m.check().unwrap();

    let (mut m, mut serv) = starved_server(SvcAllocArg::ArrayRetryOnProgress);
    let (ids, r) = step_through(&mut serv, &mut m, 0);
    let first = &r.alloc_calls[0];
    assert!(first.allocated > 0 && first.returned < 259, "a partial result: {first:?}");
    let after_call = ids.iter().position(|&id| id == "bulk").unwrap();
    assert_eq!(ids[after_call + 1..after_call + 4], ["progress", "for", "bulk"]);
    assert_eq!((r.sleeps, r.slept_ms), (0, 0), "progress never sleeps");
    assert!(r.calls >= 2);
    assert_eq!((r.filled, r.gave_up), (257, false));
    m.check().unwrap();
}

// ---------------------------------------------------------------------------------------------
// The state machine and its listing

#[test]
fn the_state_machine_steps_through_its_listing_in_order_and_jumps_back_only_to_loop_heads() {
    let forms = [
        ("6.1", SvcAllocArg::PerPage),
        ("rfc-2021", SvcAllocArg::ListRfc),
        ("5.13", SvcAllocArg::ArraySleepOnShortfall),
        ("6.1", SvcAllocArg::ArrayRetryOnProgress),
    ];
    for (profile, form) in forms {
        let (mut m, mut serv) = server(profile, 1, Some(form));
        serv.serve(&mut m, &Rpc::Read { kib: 16 });
        let listing = serv.listing();
        let (ids, r) = step_through(&mut serv, &mut m, 0);
        assert_eq!(ids.first(), Some(&listing.lines[0].id), "{form:?} starts at the first line");
        assert_eq!(ids.last(), Some(&"return"), "{form:?}");
        assert_eq!(r.steps as usize, ids.len());
        let pos: Vec<usize> = ids.iter().map(|id| listing.index_of(id).expect("a listed line")).collect();
        for w in pos.windows(2) {
            let (a, b) = (listing.lines[w[0]].id, listing.lines[w[1]].id);
            assert!(w[1] > w[0] || ["for", "while", "bulk"].contains(&b), "{form:?}: {a} -> {b}");
        }
        assert_eq!(r.filled, 5, "{form:?}");
        m.check().unwrap();
    }
    // A refill that fills at once runs straight down the listing.
    let (mut m, mut serv) = server("5.13", 1, None);
    serv.serve(&mut m, &Rpc::Getattr);
    serv.serve(&mut m, &Rpc::Getattr);
    let (ids, _) = step_through(&mut serv, &mut m, 0);
    assert_eq!(ids, ["pages", "for", "bulk", "if_full", "end", "arg", "len", "return"]);
}

#[test]
fn the_step_that_calls_the_allocator_exposes_the_calls_events() {
    let (mut m, mut serv) = server("6.1", 1, None);
    serv.serve(&mut m, &Rpc::Read { kib: 8 });
    assert!(serv.begin_alloc_arg(&m, 0));
    let call = loop {
        let step = serv.step(&mut m, 0).unwrap();
        if let Some(call) = step.call {
            assert_eq!(step.line.id, "bulk");
            break call;
        }
    };
    let (start, end) = call.events;
    assert!(end > start);
    assert!(matches!(
        m.trace.events[start],
        pageflow_core::Event::Enter { func: pageflow_core::trace::Func::AllocPagesBulk, .. }
    ));
    assert_eq!(call.cost.events, (end - start) as u64);
}

// ---------------------------------------------------------------------------------------------
// Determinism

#[test]
fn the_same_seed_gives_the_same_refills_and_the_same_machine() {
    let run = |seed: u64| {
        let mut m = simple("6.1", 1024, 1024, 2);
        let mut config = SvcConfig::new(3, m.profile);
        config.splice = true;
        let rpcs = RpcMix { count: 60, seed }.generate(config.payload_kib);
        let r = run_sunrpc(&mut m, 0, config, &rpcs, false).unwrap();
        m.check().unwrap();
        (serde_json::to_string(&r).unwrap(), m.trace.events.len(), format!("{:?}", m.holders))
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7).0, run(8).0);
}

// ---------------------------------------------------------------------------------------------
// page_pool

#[test]
fn a_page_pool_refill_of_64_with_two_mapping_failures_caches_62_and_frees_2() {
    let mut m = simple("6.1", 1024, 1024, 2);
    let config = PoolConfig { dma_map_fail: vec![3, 40], ..PoolConfig::default() };
    let mut pool = PagePool::new(&mut m, config, "eth0").unwrap();
    let free_before: i64 = m.zones.iter().map(|z| z.nr_free_pages).sum();
    let page = pool.alloc_page(&mut m).expect("a page");
    let refill = &pool.refills[0];
    assert_eq!((refill.call.nr_pages, refill.call.returned), (PP_ALLOC_CACHE_REFILL, 64));
    assert_eq!(refill.mapped, 62);
    assert_eq!(refill.dma_failed, vec![3, 40]);
    assert_eq!(pool.count, 61, "62 cached, the last handed out");
    assert_eq!(pool.stats.returned, 2);
    let Slots::Array(cache) = &m.holders[pool.cache as usize].slots else { panic!() };
    assert!(cache[..61].iter().all(|&p| p != NIL) && cache[61..].iter().all(|&p| p == NIL));
    assert_eq!(list(&m, pool.in_flight), vec![page]);
    m.drain_all_pages();
    let free_after: i64 = m.zones.iter().map(|z| z.nr_free_pages).sum();
    assert_eq!(free_before - free_after, 62, "64 taken, 2 freed back");
    m.check().unwrap();
}

#[test]
fn page_pool_recycles_drops_into_the_cache_and_passes_through_the_ring() {
    let mut m = simple("6.1", 1024, 1024, 2);
    let config = PoolConfig { verdicts: [0, 100, 0], ..PoolConfig::default() };
    let mut pool = PagePool::new(&mut m, config, "eth0").unwrap();
    assert_eq!(pool.napi_poll(&mut m, 64), 64);
    assert_eq!((pool.refills.len(), pool.ring_len(&m)), (1, 64), "every page came back through the ring");
    pool.napi_poll(&mut m, 64);
    assert_eq!(pool.refills.len(), 1, "the ring refilled the cache");
    assert_eq!(pool.stats.refill, 1);

    let config = PoolConfig { verdicts: [100, 0, 0], ..PoolConfig::default() };
    let mut pool = PagePool::new(&mut m, config, "eth1").unwrap();
    for _ in 0..10 {
        pool.napi_poll(&mut m, 64);
    }
    assert_eq!(pool.refills.len(), 1, "XDP_DROP recycles in place: one refill ever");
    assert_eq!(pool.stats.recycled_cached, 640);

    let config = PoolConfig { verdicts: [0, 0, 100], ..PoolConfig::default() };
    let mut pool = PagePool::new(&mut m, config, "eth2").unwrap();
    for _ in 0..4 {
        pool.napi_poll(&mut m, 64);
    }
    assert_eq!(pool.refills.len(), 4, "released pages leave the pool: a refill per 64 packets");
    assert_eq!(pool.stats.returned, 256);
    m.check().unwrap();
}

#[test]
fn a_page_pool_on_the_rfc_profile_is_refused_with_a_message() {
    let mut m = boot(&MachineConfig::simple(256, 256, 1), "rfc-2021");
    let e = PagePool::new(&mut m, PoolConfig::default(), "eth0").unwrap_err();
    assert!(e.allowed.contains("array API"), "{e}");
}
