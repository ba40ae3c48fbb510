//! The timeline and its views: what a player shows between any two events, and that stepping
//! back shows exactly what stepping forward showed.

use pageflow_core::timeline::Timeline;
use pageflow_core::trace::{Event, Func};
use pageflow_core::view::{PageClass, View};
use pageflow_core::{Action, BulkTarget, Scenario};

fn scenario(file: &str) -> Scenario {
    let path = format!("{}/../scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    Scenario::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn all_scenarios() -> Vec<(String, Scenario)> {
    let dir = format!("{}/../scenarios", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".json"))
        .collect();
    files.sort();
    files.into_iter().map(|f| (f.clone(), scenario(&f))).collect()
}

/// The rule stepping rests on: the view read after an action equals the view read before it with
/// the action's events applied, one by one.
#[test]
fn applying_an_actions_events_to_the_view_before_it_gives_the_view_after_it_in_every_scenario() {
    for (name, s) in all_scenarios() {
        let t = Timeline::run(&s).unwrap();
        let mut view = View::of(&t.machine_before(0));
        for (i, o) in t.outcomes().iter().enumerate() {
            for ev in &t.events()[o.events.0..o.events.1] {
                view.apply(ev);
            }
            let after = View::of(&t.machine_before(i + 1));
            if view != after {
                let diff = view.class.iter().zip(&after.class).position(|(a, b)| a != b).map(|pfn| {
                    format!("pfn {pfn}: {:?} vs {:?}", view.class_of(pfn as u32), after.class_of(pfn as u32))
                });
                panic!(
                    "{name}, action {i} ({}): view from events differs from the machine; first pfn: {diff:?}\nzones equal: {}, holders equal: {}",
                    o.call,
                    view.zones == after.zones,
                    view.holders == after.holders
                );
            }
        }
    }
}

#[test]
fn replaying_from_a_checkpoint_gives_the_machine_the_live_run_reached() {
    for (name, s) in all_scenarios() {
        let t = Timeline::run(&s).unwrap();
        let replayed = t.machine_before(t.outcomes().len());
        assert!(View::of(&replayed) == View::of(t.machine()), "{name}: views differ");
        assert!(replayed.pages == t.machine().pages, "{name}: page records differ");
    }
}

#[test]
fn stepping_back_one_event_shows_exactly_what_stepping_forward_showed() {
    let t = Timeline::run(&scenario("bulk-array-holes.json")).unwrap();
    let total = t.events().len();
    assert!(total > 100, "the scenario has events to step through");
    let mut forward = vec![];
    let mut c = t.seek(0);
    forward.push(c.view.clone());
    while c.step(&t) {
        forward.push(c.view.clone());
    }
    assert_eq!(forward.len(), total + 1);
    for pos in (0..total).rev() {
        c.go(&t, pos);
        assert_eq!(c.pos, pos);
        assert!(c.view == forward[pos], "position {pos}: the view differs from the one stepping forward saw");
    }
}

#[test]
fn seeking_anywhere_gives_the_state_stepping_reached() {
    let t = Timeline::run(&scenario("random-workload.json")).unwrap();
    let total = t.events().len();
    let mut c = t.seek(0);
    let probes = [0, 1, total / 7, total / 3, total / 2, total - 1, total];
    let mut at = vec![];
    for &p in &probes {
        c.go(&t, p);
        at.push((c.view.clone(), c.action));
    }
    for (&p, (view, action)) in probes.iter().zip(at) {
        let s = t.seek(p);
        assert_eq!(s.action, action, "position {p}");
        assert!(s.view == view, "position {p}");
    }
}

#[test]
fn a_bulk_array_request_of_eight_shows_pages_arriving_in_the_slots_one_event_at_a_time() {
    let mut s = scenario("default.json");
    s.actions = vec![Action::AllocPagesBulk {
        cpu: 0,
        gfp: "GFP_KERNEL".into(),
        nr_pages: 8,
        target: BulkTarget::Array,
        into: "rq_pages".into(),
    }];
    let t = Timeline::run(&s).unwrap();
    let owner = t.machine().holders.iter().position(|h| h.name == "rq_pages").unwrap();
    let mut c = t.seek(0);
    let mut filled = vec![];
    while c.step(&t) {
        let n = c.view.holders.get(owner).map_or(0, |h| h.blocks);
        if filled.last() != Some(&n) {
            filled.push(n);
        }
    }
    assert_eq!(filled, (0..=8).collect::<Vec<u64>>());
    for slot in &c.view.holders[owner].array {
        assert_eq!(c.view.class_of(*slot), PageClass::Allocated);
    }
}

#[test]
fn branching_off_the_past_forgets_the_later_actions_and_their_events() {
    let s = scenario("bulk-list.json");
    let full = Timeline::run(&s).unwrap();
    assert!(full.outcomes().len() >= 2);
    let mut t = full.clone();
    t.truncate(1);
    assert_eq!(t.outcomes().len(), 1);
    assert_eq!(t.events().len(), full.outcomes()[0].events.1);
    assert!(View::of(t.machine()) == View::of(&full.machine_before(1)));
    t.push(Action::Drain { cpu: None }).unwrap();
    t.run_next().unwrap();
    assert_eq!(t.outcomes()[1].call, "drain_all_pages()");
}

#[test]
fn an_invalid_action_is_refused_and_the_scenario_stays_as_it_was() {
    let mut t = Timeline::new(&scenario("default.json")).unwrap();
    let before = t.scenario().actions.len();
    let err = t.push(Action::Drain { cpu: Some(999) }).unwrap_err();
    assert!(err.to_string().contains("999"), "{err}");
    assert_eq!(t.scenario().actions.len(), before);
}

#[test]
fn find_jumps_to_the_next_refill() {
    let t = Timeline::run(&scenario("default.json")).unwrap();
    let refill = |e: &Event| matches!(e, Event::Enter { func: Func::RmqueueBulk, .. });
    let first = t.find(0, refill).expect("the default scenario refills a pcp list");
    assert!(refill(&t.events()[first]));
    assert_eq!(t.rfind(first + 1, refill), Some(first));
    assert_eq!(t.rfind(first, refill), None);
}
