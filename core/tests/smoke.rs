//! The default scenario runs under every profile and keeps every invariant after each action.

use pageflow_core::profile::PROFILES;
use pageflow_core::scenario::Action;
use pageflow_core::{BulkTarget, Scenario, Sim, TraceMode};

#[test]
fn the_default_scenario_keeps_every_invariant_under_every_profile() {
    for profile in PROFILES {
        let mut s = Scenario::default_scenario();
        s.profile = profile.id.into();
        if !profile.has_array_api() {
            for a in &mut s.actions {
                if let Action::AllocPagesBulk { target, .. } = a {
                    *target = BulkTarget::List;
                }
            }
        }
        let mut sim = Sim::new(&s, TraceMode::Record).unwrap();
        sim.machine.check().unwrap();
        for (i, a) in s.actions.iter().enumerate() {
            let o = sim.apply(i, a);
            sim.machine.check().unwrap_or_else(|e| panic!("{}: after {}: {e}", profile.id, o.call));
        }
        let held: u64 = sim.machine.zones.iter().map(|z| z.nr_file_pages).sum();
        let free: i64 = sim.machine.zones.iter().map(|z| z.nr_free_pages).sum();
        let managed: u64 = sim.machine.zones.iter().map(|z| z.managed_pages).sum();
        assert_eq!(
            free as u64 + held,
            managed,
            "{}: after the final drain only the page cache is held",
            profile.id
        );
    }
}
