//! Running a scenario: each action becomes calls into the model on a CPU, each call's result and
//! cost become an [`Outcome`], and kswapd runs between actions when it was woken.

use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use crate::bulk::BulkTarget;
use crate::config::ConfigError;
use crate::gfp::Gfp;
use crate::machine::{Machine, Slots, PAGE_CACHE};
use crate::mem::{Pfn, NIL};
use crate::profile::SvcAllocArg;
use crate::scenario::{Action, Scenario, ScenarioError};
use crate::trace::{Cost, TraceMode};
use crate::users::{self, UserRun};

/// What one action did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// Index of the action in the scenario.
    pub action: usize,
    /// A one-line description of the call, kernel style.
    pub call: String,
    /// What it returned, in words ("16", "pfn 4096", "NULL", "bad page: already free").
    pub result: String,
    /// Pages allocated (+) or freed (-) by the action.
    pub pages: i64,
    pub cost: Cost,
    /// Range of the trace's events this action produced (when recording).
    pub events: (usize, usize),
}

/// A machine running a scenario.
#[derive(Clone, Debug)]
pub struct Sim {
    pub scenario: Scenario,
    pub machine: Machine,
    pub outcomes: Vec<Outcome>,
    /// What the user actions (sunrpc, page_pool) did, in action order.
    pub users: Vec<UserRun>,
}

/// A mask from an already-validated scenario.
fn parse_gfp(text: &str, m: &Machine) -> Gfp {
    Gfp::parse(text, m.profile).expect("scenario masks are validated")
}

impl Sim {
    /// Validate a scenario and boot its machine.
    pub fn new(scenario: &Scenario, mode: TraceMode) -> Result<Sim, ScenarioError> {
        scenario.validate()?;
        let profile = scenario.kernel_profile()?;
        let mut machine = Machine::new(&scenario.machine, profile, mode)?;
        machine.task = scenario.task;
        Ok(Sim { scenario: scenario.clone(), machine, outcomes: Vec::new(), users: Vec::new() })
    }

    /// Carry on a scenario from a machine it reached (a checkpoint): no outcomes yet.
    pub fn resume(scenario: &Scenario, machine: Machine) -> Sim {
        Sim { scenario: scenario.clone(), machine, outcomes: Vec::new(), users: Vec::new() }
    }

    /// Run every action of the scenario.
    pub fn run(&mut self) {
        for i in 0..self.scenario.actions.len() {
            let action = self.scenario.actions[i].clone();
            let outcome = self.apply(i, &action);
            self.outcomes.push(outcome);
        }
    }

    /// Apply one action, then let kswapd run if it was woken.
    pub fn apply(&mut self, index: usize, action: &Action) -> Outcome {
        let before = self.machine.trace.cost;
        let first_event = self.machine.trace.events.len();
        let free_before = allocator_free_pages(&self.machine);
        let (call, result) = self.perform(index, action);
        self.machine.run_kswapd();
        Outcome {
            action: index,
            call,
            result,
            pages: free_before - allocator_free_pages(&self.machine),
            cost: self.machine.trace.cost.since(&before),
            events: (first_event, self.machine.trace.events.len()),
        }
    }

    /// Carry an action out: the call in kernel style and its result in words.
    fn perform(&mut self, index: usize, action: &Action) -> (String, String) {
        let m = &mut self.machine;
        match action {
            Action::AllocPages { cpu, gfp, order, into, count, burst } => {
                let g = parse_gfp(gfp, m);
                m.current_cpu = *cpu;
                let call = match (count, burst) {
                    (1, _) => format!("cpu{cpu}: alloc_pages({gfp}, order {order})"),
                    (_, false) => format!("cpu{cpu}: {count} × alloc_pages({gfp}, order {order})"),
                    (_, true) => format!("cpu{cpu}: burst of {count} × alloc_pages({gfp}, order {order})"),
                };
                let owner = match m.holder_id(into) {
                    Ok(owner) => owner,
                    Err(e) => return (call, format!("error: {e}")),
                };
                let mut got = 0;
                let mut last = None;
                for _ in 0..*count {
                    match alloc_into(m, owner, g, *order) {
                        Ok(Some(pfn)) => {
                            got += 1;
                            last = Some(pfn);
                        }
                        Ok(None) => break,
                        Err(e) => return (call, e),
                    }
                    // Each call is its own kernel entry: a woken kswapd runs in between.
                    if !burst {
                        m.run_kswapd();
                    }
                }
                let result = match (count, last) {
                    (1, Some(pfn)) => format!("pfn {pfn}"),
                    (1, None) => "NULL".into(),
                    _ => format!("{got} of {count} allocated"),
                };
                (call, result)
            }
            Action::AllocPagesBulk { cpu, gfp, nr_pages, target, into } => {
                let g = parse_gfp(gfp, m);
                m.current_cpu = *cpu;
                let name = match target {
                    BulkTarget::Array => "alloc_pages_bulk_array",
                    BulkTarget::List => "alloc_pages_bulk_list",
                };
                let call = format!("cpu{cpu}: {name}({gfp}, {nr_pages}, {into})");
                let owner = match target {
                    BulkTarget::Array => m.array_holder(into, (*nr_pages).max(0) as usize),
                    BulkTarget::List => m.holder_id(into),
                };
                let owner = match owner {
                    Ok(owner) => owner,
                    Err(e) => return (call, format!("error: {e}")),
                };
                if owner == PAGE_CACHE {
                    return (
                        call,
                        format!("error: actions[{index}].into: {into:?} is the page cache, not a caller"),
                    );
                }
                match (&m.holders[owner as usize].slots, target) {
                    (Slots::List(_), BulkTarget::Array) => {
                        return (
                            call,
                            format!("error: actions[{index}].into: {into:?} already holds a list"),
                        );
                    }
                    (Slots::Array(_), BulkTarget::List) => {
                        return (
                            call,
                            format!("error: actions[{index}].into: {into:?} already holds an array"),
                        );
                    }
                    _ => {}
                }
                m.caller = owner;
                let ret = m.alloc_pages_bulk(g, m.cpu_to_node(*cpu), *nr_pages, *target);
                (call, ret.to_string())
            }
            Action::Free { cpu, from, slots, count } => {
                m.current_cpu = *cpu;
                let call = format!("cpu{cpu}: free pages of {from}");
                let Some(owner) = m.holders.iter().position(|h| h.name == *from) else {
                    return (call, format!("error: actions[{index}].from: no holder named {from:?}"));
                };
                let owner = owner as u32;
                let mut freed = 0u64;
                let mut bad = 0;
                for (slot, pfn) in holder_blocks(m, owner, slots.as_deref(), *count) {
                    let order = m.pages[pfn as usize].order();
                    match m.free_held(owner, pfn, order, slot) {
                        Ok(()) => freed += 1 << order,
                        Err(_) => bad += 1,
                    }
                }
                let pages = if freed == 1 { "1 page".to_owned() } else { format!("{freed} pages") };
                let result =
                    if bad > 0 { format!("{pages} freed, {bad} bad") } else { format!("{pages} freed") };
                (call, result)
            }
            Action::FreePfn { cpu, pfn, order, from } => {
                m.current_cpu = *cpu;
                let call = format!("cpu{cpu}: __free_pages(pfn {pfn}, order {order})");
                let owner = match m.holder_id(from) {
                    Ok(owner) => owner,
                    Err(e) => return (call, format!("error: {e}")),
                };
                let slot = match &m.holders[owner as usize].slots {
                    Slots::Array(a) => a.iter().position(|&p| p == *pfn),
                    Slots::List(_) => None,
                };
                match m.free_held(owner, *pfn, *order, slot) {
                    Ok(()) => (call, "freed".into()),
                    Err(reason) => (call, format!("bad page: {reason:?}")),
                }
            }
            Action::Drain { cpu: Some(c) } => {
                m.current_cpu = *c;
                m.drain_pages(*c);
                (format!("drain_pages(cpu{c})"), "done".into())
            }
            Action::Drain { cpu: None } => {
                m.drain_all_pages();
                ("drain_all_pages()".into(), "done".into())
            }
            Action::PageCache { cpu, pages } => {
                m.current_cpu = *cpu;
                let g = Gfp::parse("GFP_HIGHUSER_MOVABLE", m.profile).expect("a composite every era has");
                let mut got = 0;
                for _ in 0..*pages {
                    match alloc_into(m, PAGE_CACHE, g, 0) {
                        Ok(Some(_)) => got += 1,
                        _ => break,
                    }
                    m.run_kswapd();
                }
                (format!("cpu{cpu}: page cache grows by {pages} pages"), format!("{got} added"))
            }
            Action::Random { ops, seed } => {
                let seed =
                    seed.unwrap_or(self.scenario.seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                let mut rng = Pcg64Mcg::seed_from_u64(seed);
                let mut w = Workload::new(index);
                let call = format!("random workload of {ops} operations (seed {seed})");
                for _ in 0..*ops {
                    if let Err(e) = w.step(&mut self.machine, &mut rng) {
                        return (call, format!("error: {e}"));
                    }
                    self.machine.run_kswapd();
                }
                (call, "done".into())
            }
            Action::Sunrpc { compare_profiles, .. } => {
                let svc = action.svc_config(m.profile).expect("a sunrpc action");
                let rpcs = action.sunrpc_rpcs();
                let call = format!(
                    "sunrpc: {} nfsd thread{}, svc_alloc_arg {}, {} RPCs",
                    svc.threads,
                    if svc.threads == 1 { "" } else { "s" },
                    svc_alloc_arg_name(svc.form),
                    rpcs.len()
                );
                match users::run_sunrpc(m, index, svc, &rpcs, *compare_profiles) {
                    Ok(run) => {
                        let sleeps: u64 = run.refills.iter().map(|r| u64::from(r.sleeps)).sum();
                        let result = format!(
                            "{} served, {} unserved, {} hung; {} refills, {sleeps} sleeps ({} ms)",
                            run.served,
                            run.unserved,
                            run.hung_threads,
                            run.refills.len(),
                            run.clock_ms
                        );
                        self.users.push(UserRun::Sunrpc(run));
                        (call, result)
                    }
                    Err(e) => (call, format!("error: {e}")),
                }
            }
            Action::PagePool { pool, polls, budget } => {
                let call = format!(
                    "cpu{}: page_pool, {polls} NAPI poll{} of {budget}",
                    pool.cpu,
                    if *polls == 1 { "" } else { "s" }
                );
                match users::run_page_pool(m, index, pool.clone(), *polls, *budget) {
                    Ok(run) => {
                        let result = format!(
                            "{} packets, {} slow-path refills, {} DMA map failures",
                            run.received,
                            run.refills.len(),
                            run.stats.dma_map_failed
                        );
                        self.users.push(UserRun::PagePool(run));
                        (call, result)
                    }
                    Err(e) => (call, format!("error: {e}")),
                }
            }
        }
    }
}

/// A form of `svc_alloc_arg` in a few words.
pub fn svc_alloc_arg_name(form: SvcAllocArg) -> &'static str {
    match form {
        SvcAllocArg::PerPage => "per-page alloc_page loop",
        SvcAllocArg::ListRfc => "RFC list prototype",
        SvcAllocArg::ArraySleepOnShortfall => "5.13 array loop (sleeps on any shortfall)",
        SvcAllocArg::ArrayRetryOnProgress => "array loop retrying on progress",
    }
}

/// `alloc_pages()` for a holder: the block goes to the list head or the first NULL slot.
pub fn alloc_into(m: &mut Machine, owner: u32, gfp: Gfp, order: u8) -> Result<Option<Pfn>, String> {
    let slot = match &m.holders[owner as usize].slots {
        Slots::Array(a) => match a.iter().position(|&p| p == NIL) {
            Some(i) => Some(i),
            None => return Err(format!("error: {:?} has no NULL slot", m.holders[owner as usize].name)),
        },
        Slots::List(_) => None,
    };
    Ok(alloc_into_slot(m, owner, slot, gfp, order))
}

/// `alloc_pages()` for a holder, into a given array slot (which must be NULL) or onto its list.
pub fn alloc_into_slot(m: &mut Machine, owner: u32, slot: Option<usize>, gfp: Gfp, order: u8) -> Option<Pfn> {
    m.caller = owner;
    m.caller_slot = slot.map(|s| s as u32);
    let nid = m.cpu_to_node(m.current_cpu);
    let page = m.alloc_pages(gfp, order, nid);
    m.caller_slot = None;
    if let Some(pfn) = page {
        m.give_to_holder(owner, pfn, slot);
    }
    page
}

/// Free pages the allocator has: the buddy lists and every pcp list.
fn allocator_free_pages(m: &Machine) -> i64 {
    m.zones.iter().map(|z| z.nr_free_pages + z.pcp.iter().map(|p| i64::from(p.count)).sum::<i64>()).sum()
}

/// The blocks of a holder to free: given array slots, the first `count` list entries, or all.
fn holder_blocks(
    m: &Machine,
    owner: u32,
    slots: Option<&[u32]>,
    count: Option<u32>,
) -> Vec<(Option<usize>, Pfn)> {
    let limit = count.map_or(usize::MAX, |c| c as usize);
    match &m.holders[owner as usize].slots {
        Slots::List(l) => l.iter().take(limit).map(|p| (None, p)).collect(),
        Slots::Array(a) => {
            let wanted = |i: usize| slots.is_none_or(|s| s.contains(&(i as u32)));
            a.iter()
                .enumerate()
                .filter(|&(i, &p)| p != NIL && wanted(i))
                .take(limit)
                .map(|(i, &p)| (Some(i), p))
                .collect()
        }
    }
}

/// `take` blocks of a holder from its `start`th on, wrapping round to the first: the same blocks,
/// in the same order, as [`holder_blocks`] cycled, without collecting every block of a page cache
/// that may hold hundreds of thousands.
fn holder_window(m: &Machine, owner: u32, start: usize, take: usize) -> Vec<(Option<usize>, Pfn)> {
    match &m.holders[owner as usize].slots {
        Slots::List(l) => l.window(start, take).into_iter().map(|pfn| (None, pfn)).collect(),
        Slots::Array(_) => {
            holder_blocks(m, owner, None, None).into_iter().cycle().skip(start).take(take).collect()
        }
    }
}

/// A seeded random workload: the property tests and the `random` action drive the model with it.
pub struct Workload {
    /// What the names of this workload's holders start with (`random3-` for the workload of
    /// action 3: its lists `random3-list0`, …), and no other workload's do.
    prefix: String,
}

/// GFP masks a random workload draws from.
const RANDOM_MASKS: &[&str] = &[
    "GFP_KERNEL",
    "GFP_KERNEL",
    "GFP_HIGHUSER_MOVABLE",
    "GFP_ATOMIC",
    "GFP_NOWAIT",
    "GFP_KERNEL | __GFP_RECLAIMABLE",
    "GFP_DMA32",
    "GFP_KERNEL | __GFP_ZERO",
    "GFP_KERNEL_ACCOUNT",
];

impl Workload {
    /// The holders a workload makes on each CPU: a list, a bulk list and an array.
    pub const HOLDERS_PER_CPU: usize = 3;

    pub fn new(tag: usize) -> Workload {
        Workload { prefix: format!("random{tag}-") }
    }

    /// One random operation on the machine; an error only if the machine has no room for a
    /// holder the operation needs ([`crate::machine::MAX_HOLDERS`]).
    pub fn step(&mut self, m: &mut Machine, rng: &mut impl Rng) -> Result<(), ConfigError> {
        let cpu = (rng.next_u32() % m.config.cpus) as u16;
        m.current_cpu = cpu;
        let mask_text = RANDOM_MASKS[(rng.next_u32() as usize) % RANDOM_MASKS.len()];
        let gfp = Gfp::parse(mask_text, m.profile).expect("random masks parse in every era");
        let nid = m.cpu_to_node(cpu);
        match rng.next_u32() % 100 {
            0..=29 => {
                let order = [0, 0, 0, 0, 1, 2, 3, 4, 9, 10][(rng.next_u32() % 10) as usize];
                let owner = m.holder_id(&format!("{}list{cpu}", self.prefix))?;
                let _ = alloc_into(m, owner, gfp, order);
            }
            30..=44 => {
                let n = 1 + (rng.next_u32() % 80) as i32;
                let owner = m.holder_id(&format!("{}bulklist{cpu}", self.prefix))?;
                m.caller = owner;
                m.alloc_pages_bulk(gfp, nid, n, BulkTarget::List);
            }
            45..=59 if m.profile.has_array_api() => {
                let n = 1 + (rng.next_u32() % 64) as usize;
                let owner = m.array_holder(&format!("{}array{cpu}", self.prefix), n)?;
                m.caller = owner;
                m.alloc_pages_bulk(gfp, nid, n as i32, BulkTarget::Array);
            }
            60..=89 => {
                // Free part of a random holder of this workload, or of the page cache.
                let candidates: Vec<u32> = (0..m.holders.len() as u32)
                    .filter(|&h| h == PAGE_CACHE || m.holders[h as usize].name.starts_with(&self.prefix))
                    .collect();
                let owner = candidates[(rng.next_u32() as usize) % candidates.len()];
                let held = m.held(owner) as usize;
                if held == 0 {
                    return Ok(());
                }
                let start = (rng.next_u32() as usize) % held;
                let take = (1 + (rng.next_u32() as usize) % held.min(64)).min(held);
                for (slot, pfn) in holder_window(m, owner, start, take) {
                    let order = m.pages[pfn as usize].order();
                    m.free_held(owner, pfn, order, slot).expect("a workload frees only what it holds");
                }
            }
            90..=94 => {
                let pages = 1 + rng.next_u32() % 256;
                let g = Gfp::parse("GFP_HIGHUSER_MOVABLE", m.profile).expect("parses");
                for _ in 0..pages {
                    if !matches!(alloc_into(m, PAGE_CACHE, g, 0), Ok(Some(_))) {
                        break;
                    }
                }
            }
            95..=97 => m.drain_pages(cpu),
            _ => {
                // A double free: the model must refuse it and change nothing.
                let pfn = rng.next_u32() % m.pages.len() as u32;
                let _ = m.free_held(PAGE_CACHE, pfn, 0, None).map_err(|_| ());
            }
        }
        Ok(())
    }
}
