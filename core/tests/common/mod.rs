//! Shared helpers for the `spec_*` tests: booting machines, filling holders the way callers do,
//! calling the bulk API, starving a zone, snapshotting state and reading the trace.
#![allow(dead_code)]

use pageflow_core::config::{MachineConfig, NodeConfig, ZoneConfig};
use pageflow_core::gfp::Gfp;
use pageflow_core::machine::{Machine, Slots, PAGE_CACHE};
use pageflow_core::mem::{MigrateType, Page, Pfn, ZoneType};
use pageflow_core::trace::{Counter, Event, Func, LockId, Note, TraceMode};
use pageflow_core::watermark::WatermarkCheck;
use pageflow_core::{BulkTarget, Profile};

// ---------------------------------------------------------------------------------------------
// Machines

/// Boot a machine on a profile, recording every event.
pub fn boot(cfg: &MachineConfig, profile: &str) -> Machine {
    let p = Profile::by_id(profile).unwrap_or_else(|| panic!("no profile {profile:?}"));
    Machine::new(cfg, p, TraceMode::Record).expect("a valid machine")
}

/// One node with DMA 16 MiB, DMA32 and NORMAL of the given sizes.
pub fn simple(profile: &str, dma32_mib: u64, normal_mib: u64, cpus: u32) -> Machine {
    boot(&MachineConfig::simple(dma32_mib, normal_mib, cpus), profile)
}

/// A one-node machine with a single zone of `kind` (no reserved pages).
pub fn one_zone_config(kind: ZoneType, mib: u64, cpus: u32) -> MachineConfig {
    let mut cfg = MachineConfig::simple(64, 0, cpus);
    cfg.nodes = vec![NodeConfig { zones: vec![ZoneConfig { zone: kind, mib, reserved_pages: 0 }] }];
    cfg
}

/// Zone id of `kind` on `node`.
pub fn zone(m: &Machine, node: usize, kind: ZoneType) -> usize {
    m.nodes[node].zones[kind.idx()].unwrap_or_else(|| panic!("node {node} has no {kind:?} zone"))
}

/// Zone id of `kind` on node 0.
pub fn z0(m: &Machine, kind: ZoneType) -> usize {
    zone(m, 0, kind)
}

/// A GFP expression in the machine's era.
pub fn g(m: &Machine, text: &str) -> Gfp {
    Gfp::parse(text, m.profile).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
}

/// Set a zone's watermarks (min, low, high; promo = high) and drop any boost.
pub fn set_wmarks(m: &mut Machine, z: usize, min: u64, low: u64, high: u64) {
    m.zones[z].watermark = [min, low, high, high];
    m.zones[z].watermark_boost = 0;
}

/// Set a zone's LOW watermark so that a bulk request of `nr` from a preferred zone of type
/// `preferred` is exactly at the limit: `free == LOW + nr + lowmem_reserve[preferred]`, which
/// fails because the check is strict. `slack` pages below that make it pass.
pub fn bulk_low_at_limit(m: &mut Machine, z: usize, nr: u64, preferred: ZoneType, slack: u64) {
    let free = m.zones[z].nr_free_pages as u64;
    let reserve = m.zones[z].lowmem_reserve[preferred.idx()];
    let low = free.checked_sub(nr + reserve + slack).expect("the zone has enough free pages to set up");
    let min = m.zones[z].watermark[0].min(low);
    let high = m.zones[z].watermark[2].max(low);
    set_wmarks(m, z, min, low, high);
}

/// Make every zone fail any watermark check.
pub fn all_zones_unreachable(m: &mut Machine) {
    for z in 0..m.zones.len() {
        let huge = 1 << 40;
        set_wmarks(m, z, huge, huge, huge);
    }
}

// ---------------------------------------------------------------------------------------------
// Holders

/// `alloc_pages()` into a holder, as `Sim` does (the core's own helper): the block goes to the
/// head of a list holder or the first NULL slot of an array holder.
pub fn alloc_into(m: &mut Machine, h: u32, gfp: Gfp, order: u8) -> Option<Pfn> {
    pageflow_core::sim::alloc_into(m, h, gfp, order).expect("an array holder has a NULL slot")
}

/// Grow the page cache by `n` reclaimable pages (`GFP_HIGHUSER_MOVABLE`) on `cpu`.
pub fn page_cache(m: &mut Machine, cpu: u16, n: u32) -> u32 {
    m.current_cpu = cpu;
    let gfp = g(m, "GFP_HIGHUSER_MOVABLE");
    (0..n).take_while(|_| alloc_into(m, PAGE_CACHE, gfp, 0).is_some()).count() as u32
}

/// A new array holder whose slots are populated (`true`) with `GFP_KERNEL` pages allocated on
/// `cpu`, or NULL; then every pcp list is drained, so the call under test starts on empty pcp
/// lists.
pub fn array_with(m: &mut Machine, cpu: u16, populated: &[bool]) -> u32 {
    let name = format!("array{}", m.holders.len());
    let h = m.array_holder(&name, populated.len()).unwrap();
    m.current_cpu = cpu;
    let gfp = g(m, "GFP_KERNEL");
    for (i, &p) in populated.iter().enumerate() {
        if p {
            m.caller = h;
            m.caller_slot = Some(i as u32);
            let nid = m.cpu_to_node(cpu);
            let pfn = m.alloc_pages(gfp, 0, nid).expect("a page for a populated slot");
            m.caller_slot = None;
            match &mut m.holders[h as usize].slots {
                Slots::Array(a) => a[i] = pfn,
                Slots::List(_) => unreachable!(),
            }
        }
    }
    m.drain_all_pages();
    h
}

/// A new list holder with `n` pages already on it (`GFP_KERNEL`), pcp lists drained after.
pub fn list_with(m: &mut Machine, cpu: u16, n: usize) -> u32 {
    let name = format!("list{}", m.holders.len());
    let h = m.holder_id(&name).unwrap();
    m.current_cpu = cpu;
    let gfp = g(m, "GFP_KERNEL");
    for _ in 0..n {
        alloc_into(m, h, gfp, 0).expect("a page for the list");
    }
    m.drain_all_pages();
    h
}

/// The slots of an array holder.
pub fn array(m: &Machine, h: u32) -> Vec<Pfn> {
    match &m.holders[h as usize].slots {
        Slots::Array(a) => a.clone(),
        Slots::List(_) => panic!("holder {h} is a list"),
    }
}

/// The pfns of a list holder, head first.
pub fn list(m: &Machine, h: u32) -> Vec<Pfn> {
    match &m.holders[h as usize].slots {
        Slots::List(l) => l.iter().collect(),
        Slots::Array(_) => panic!("holder {h} is an array"),
    }
}

/// `alloc_pages_bulk` on `cpu` for holder `h`, from the CPU's node.
pub fn bulk(m: &mut Machine, cpu: u16, gfp: Gfp, h: u32, nr: i32, target: BulkTarget) -> u32 {
    m.current_cpu = cpu;
    m.caller = h;
    let nid = m.cpu_to_node(cpu);
    m.alloc_pages_bulk(gfp, nid, nr, target)
}

/// One bulk array call and what it saw and left.
pub struct BulkArray {
    pub holder: u32,
    pub before: Vec<Pfn>,
    pub after: Vec<Pfn>,
    pub ret: u32,
    /// Index of the first trace event of the call.
    pub mark: usize,
}

/// Build an array shaped like `slots` (true = populated) on `cpu`, then call the bulk allocator
/// with `nr_pages = slots.len()`.
pub fn bulk_array(m: &mut Machine, cpu: u16, gfp: Gfp, slots: &[bool]) -> BulkArray {
    let holder = array_with(m, cpu, slots);
    bulk_on(m, cpu, gfp, holder, slots.len() as i32)
}

/// Call the bulk allocator on an existing array holder.
pub fn bulk_on(m: &mut Machine, cpu: u16, gfp: Gfp, holder: u32, nr: i32) -> BulkArray {
    let before = array(m, holder);
    let mark = mark(m);
    let ret = bulk(m, cpu, gfp, holder, nr, BulkTarget::Array);
    let after = array(m, holder);
    BulkArray { holder, before, after, ret, mark }
}

// ---------------------------------------------------------------------------------------------
// Starving a zone

/// Allocate every free page of the machine into the holder "hog", largest blocks first, with
/// `__GFP_MEMALLOC` so watermarks do not stop it; then let kswapd run (it finds nothing to
/// reclaim) so no wake-up is left pending.
pub fn hog(m: &mut Machine, cpu: u16, top_order: u8) -> u32 {
    m.drain_all_pages();
    let h = m.holder_id("hog").unwrap();
    m.current_cpu = cpu;
    let gfp = g(m, "GFP_HIGHUSER_MOVABLE | __GFP_MEMALLOC | __GFP_NORETRY | __GFP_NOWARN");
    for order in (0..=top_order).rev() {
        while alloc_into(m, h, gfp, order).is_some() {}
    }
    m.drain_all_pages();
    m.run_kswapd();
    for z in &m.zones {
        assert_eq!(z.nr_free_pages, 0, "{} still has free pages after hogging", z.label());
    }
    h
}

/// Give back exactly `n` free order-0-usable pages from the hog (to the buddy lists).
pub fn unhog(m: &mut Machine, hog: u32, n: u32) {
    if n == 0 {
        return;
    }
    let need = n.next_power_of_two().trailing_zeros() as u8;
    let blocks = list(m, hog);
    let pfn = *blocks
        .iter()
        .filter(|&&p| m.pages[p as usize].order() >= need)
        .min_by_key(|&&p| m.pages[p as usize].order())
        .expect("a hog block big enough");
    let order = m.pages[pfn as usize].order();
    m.free_held(hog, pfn, order, None).unwrap();
    m.drain_all_pages();
    let gfp = g(m, "GFP_HIGHUSER_MOVABLE | __GFP_MEMALLOC | __GFP_NORETRY | __GFP_NOWARN");
    for _ in 0..(1u32 << order) - n {
        alloc_into(m, hog, gfp, 0).expect("re-take a page of the freed block");
    }
    m.drain_all_pages();
    m.run_kswapd();
}

/// A machine whose only zone (NORMAL, 16 MiB, one CPU) has all of its memory held by "hog",
/// except `usable` free pages any migratetype can use and, if `highatomic`, one free order-10
/// block on the MIGRATE_HIGHATOMIC list that `nr_reserved_highatomic` does not count (the
/// counter lags, as vmstat drift can). So the LOW watermark passes while `__rmqueue()` finds
/// only `usable` pages. The array holder shaped like `slots` is filled before the zone is
/// starved. Returns (machine, array holder, hog holder).
pub fn starved(profile: &str, slots: &[bool], usable: u32, highatomic: bool) -> (Machine, u32, u32) {
    let mut m = boot(&one_zone_config(ZoneType::Normal, 16, 1), profile);
    let rq = array_with(&mut m, 0, slots);
    let hog = hog(&mut m, 0, 10);
    if highatomic {
        let z = 0;
        let pfn = *list(&m, hog)
            .iter()
            .find(|&&p| m.pages[p as usize].order() == 10)
            .expect("the hog holds an order-10 block");
        m.zones[z].set_pageblock_migratetype(pfn, MigrateType::HighAtomic);
        m.zones[z].set_pageblock_migratetype(pfn + 512, MigrateType::HighAtomic);
        m.free_held(hog, pfn, 10, None).unwrap();
        assert_eq!(m.zones[z].free_area[10].free_list[MigrateType::HighAtomic.index()].head, pfn);
        assert_eq!(m.zones[z].nr_reserved_highatomic, 0);
    }
    unhog(&mut m, hog, usable);
    let expect = usable as i64 + if highatomic { 1024 } else { 0 };
    assert_eq!(m.zones[0].nr_free_pages, expect);
    assert_eq!(m.zones[0].pcp[0].count, 0);
    (m, rq, hog)
}

// ---------------------------------------------------------------------------------------------
// State

/// Everything an allocator call could change, except the trace.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub pages: Vec<Page>,
    pub zones: Vec<String>,
    pub holders: String,
    pub vm: String,
    pub nodes: String,
}

pub fn snapshot(m: &Machine) -> Snapshot {
    Snapshot {
        pages: m.pages.clone(),
        zones: m.zones.iter().map(|z| format!("{z:?}")).collect(),
        holders: format!("{:?}", m.holders),
        vm: format!("{:?}", m.vm),
        nodes: format!("{:?}", m.nodes),
    }
}

/// Assert two snapshots are equal, naming the first part that differs.
pub fn assert_same(before: &Snapshot, after: &Snapshot, what: &str) {
    if let Some(i) = (0..before.pages.len()).find(|&i| before.pages[i] != after.pages[i]) {
        panic!("{what}: page {i} changed: {:?} -> {:?}", before.pages[i], after.pages[i]);
    }
    for (i, (a, b)) in before.zones.iter().zip(&after.zones).enumerate() {
        assert!(a == b, "{what}: zone {i} changed");
    }
    assert_eq!(before.holders, after.holders, "{what}: holders changed");
    assert_eq!(before.vm, after.vm, "{what}: vm events changed");
    assert_eq!(before.nodes, after.nodes, "{what}: nodes changed");
}

/// A pcp list, head first.
pub fn pcp_list(m: &Machine, z: usize, cpu: u16, pindex: usize) -> Vec<Pfn> {
    m.zones[z].pcp[cpu as usize].lists[pindex].iter(&m.pages).collect()
}

/// A buddy free list, head first.
pub fn free_list(m: &Machine, z: usize, order: u8, mt: MigrateType) -> Vec<Pfn> {
    m.zones[z].free_area[order as usize].free_list[mt.index()].iter(&m.pages).collect()
}

/// Free pages per order, as /proc/buddyinfo.
pub fn buddyinfo(m: &Machine, z: usize) -> Vec<u64> {
    m.zones[z].free_area.iter().map(|a| a.nr_free).collect()
}

// ---------------------------------------------------------------------------------------------
// Trace

/// The index the next event will have.
pub fn mark(m: &Machine) -> usize {
    m.trace.events.len()
}

/// Events from `mark` on.
pub fn since(m: &Machine, mark: usize) -> &[Event] {
    &m.trace.events[mark..]
}

/// How many times `func` was entered.
pub fn entered(ev: &[Event], func: Func) -> usize {
    ev.iter().filter(|e| matches!(e, Event::Enter { func: f, .. } if *f == func)).count()
}

/// The notes, in order.
pub fn notes(ev: &[Event]) -> Vec<Note> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Note { note } => Some(*note),
            _ => None,
        })
        .collect()
}

pub fn has_note(ev: &[Event], note: Note) -> bool {
    notes(ev).contains(&note)
}

/// `zone->lock` acquisitions.
pub fn zone_locks(ev: &[Event]) -> usize {
    ev.iter().filter(|e| matches!(e, Event::Lock { lock: LockId::Zone { .. }, taken: true })).count()
}

/// pcp lock acquisitions.
pub fn pcp_locks(ev: &[Event]) -> usize {
    ev.iter().filter(|e| matches!(e, Event::Lock { lock: LockId::Pcp { .. }, taken: true })).count()
}

/// IRQ-disable transitions.
pub fn irq_offs(ev: &[Event]) -> usize {
    ev.iter().filter(|e| matches!(e, Event::Irq { disabled: true, .. })).count()
}

/// Watermark checks made by `func`.
pub fn wmark_checks(ev: &[Event], func: Func) -> Vec<WatermarkCheck> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Watermark { func: f, check, .. } if *f == func => Some(*check),
            _ => None,
        })
        .collect()
}

/// (position in `ev`, zone, delta) of every update of `counter`.
pub fn counter_updates(ev: &[Event], counter: Counter) -> Vec<(usize, Option<u16>, i64)> {
    ev.iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Event::Counter { counter: c, zone, delta, .. } if *c == counter => Some((i, *zone, *delta)),
            _ => None,
        })
        .collect()
}

/// The pfns handed to callers, in order (with their array slot).
pub fn handed_out(ev: &[Event]) -> Vec<(Pfn, Option<u32>)> {
    use pageflow_core::trace::Loc;
    ev.iter()
        .filter_map(|e| match e {
            Event::Move { pfn, to: Loc::Caller { slot, .. }, .. } => Some((*pfn, *slot)),
            _ => None,
        })
        .collect()
}

/// Positions of the first and last event matching `pred`.
pub fn position(ev: &[Event], pred: impl Fn(&Event) -> bool) -> Option<usize> {
    ev.iter().position(pred)
}
