//! Holders and the page record: a page names its holder in 16 bits, so a machine has at most
//! `MAX_HOLDERS` holders. A scenario that could make more is refused before it runs, naming the
//! action that goes over; a machine asked for one more says so and changes nothing.

mod common;

use common::*;
use pageflow_core::holder_list::HolderList;
use pageflow_core::machine::{Holder, Slots, MAX_HOLDERS, PAGE_CACHE};
use pageflow_core::mem::PageState;
use pageflow_core::sim::alloc_into;
use pageflow_core::timeline::Timeline;
use pageflow_core::{Action, MachineConfig, Scenario};

fn free_pfn_by(from: String) -> Action {
    Action::FreePfn { cpu: 0, pfn: 0, order: 0, from }
}

#[test]
fn a_scenario_naming_more_holders_than_a_page_record_can_name_is_refused_at_the_action_that_goes_over() {
    let mut s = Scenario::default_scenario();
    // The page cache is holder 0: room for MAX_HOLDERS - 1 names.
    s.actions = (0..MAX_HOLDERS - 1).map(|i| free_pfn_by(format!("h{i}"))).collect();
    s.validate().unwrap();
    s.actions.push(free_pfn_by("h0".into()));
    s.validate().expect("a name already counted makes no new holder");

    let mut t = Timeline::new(&s).unwrap();
    let err = t.push(free_pfn_by("one too many".into())).unwrap_err();
    assert_eq!(err.field, format!("actions[{MAX_HOLDERS}].from"));
    assert_eq!(err.value, "\"one too many\"");
    assert!(err.allowed.contains(&format!("at most {MAX_HOLDERS} holders")), "{err}");
    assert_eq!(t.scenario().actions.len(), MAX_HOLDERS, "the scenario stays as it was");
}

#[test]
fn random_workloads_count_three_holders_per_cpu_or_one_per_operation_if_fewer() {
    let mut s = Scenario::default_scenario();
    s.machine = MachineConfig::simple(1008, 1024, 64);
    let random = |ops| Action::Random { ops, seed: Some(1) };
    // 1 + 341 × 3 × 64 = 65473 fit; the 342nd workload could make 192 more.
    s.actions = vec![random(1000); 342];
    let err = s.validate().unwrap_err();
    assert_eq!((err.field.as_str(), err.value.as_str()), ("actions[341].ops", "1000"));
    s.actions = vec![random(10); 342];
    s.validate().expect("a workload of 10 operations makes at most 10 holders");
}

#[test]
fn a_machine_with_every_holder_id_taken_refuses_a_new_name_and_still_serves_the_last_id() {
    let mut m = simple("6.1", 64, 0, 1);
    let room = MAX_HOLDERS - m.holders.len();
    m.holders.extend(
        (0..room).map(|i| Holder { name: format!("h{i}"), slots: Slots::List(HolderList::default()) }),
    );
    let err = m.holder_id("one too many").unwrap_err();
    assert_eq!((err.field.as_str(), err.value.as_str()), ("holders", "\"one too many\""));
    assert!(m.array_holder("one too many", 4).is_err());
    assert_eq!(m.holders.len(), MAX_HOLDERS, "nothing was added");

    // The highest id fits the page record: a page given to it names it, and comes back.
    let last = m.holder_id(&format!("h{}", room - 1)).unwrap();
    assert_eq!(last as usize, MAX_HOLDERS - 1);
    assert_eq!(m.holder_id("page cache"), Ok(PAGE_CACHE));
    let gfp = g(&m, "GFP_KERNEL");
    let pfn = alloc_into(&mut m, last, gfp, 0).unwrap().expect("a page");
    assert_eq!(m.pages[pfn as usize].state(), PageState::Allocated);
    assert_eq!(m.pages[pfn as usize].owner(), last);
    m.check().unwrap();
    m.free_held(last, pfn, 0, None).unwrap();
    m.check().unwrap();
}

#[test]
fn the_workload_of_action_1_frees_only_its_own_blocks_and_the_page_cache_not_those_of_action_10() {
    use pageflow_core::sim::Workload;
    use rand_core::SeedableRng;
    let mut m = simple("6.1", 256, 0, 2);
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
    let mut tenth = Workload::new(10);
    for _ in 0..200 {
        tenth.step(&mut m, &mut rng).expect("room for holders");
    }
    let theirs = |m: &pageflow_core::Machine| -> Vec<(String, Vec<u32>)> {
        let held = |h: &Holder| match &h.slots {
            Slots::List(l) => l.iter().collect(),
            Slots::Array(a) => a.clone(),
        };
        m.holders
            .iter()
            .filter(|h| h.name.starts_with("random10-"))
            .map(|h| (h.name.clone(), held(h)))
            .collect()
    };
    let before = theirs(&m);
    assert!(before.iter().any(|(_, blocks)| !blocks.is_empty()), "the tenth workload holds pages");
    let mut first = Workload::new(1);
    for _ in 0..2000 {
        first.step(&mut m, &mut rng).expect("room for holders");
    }
    assert!(m.holders.iter().any(|h| h.name.starts_with("random1-")), "the first workload made its holders");
    assert_eq!(theirs(&m), before, "the first workload left the tenth's holders alone");
    m.check().expect("consistent");
}
