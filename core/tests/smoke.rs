use pageflow_core::{Scenario, Sim, TraceMode};

#[test]
fn default_scenario_keeps_every_invariant() {
    let s = Scenario::default_scenario();
    let mut sim = Sim::new(&s, TraceMode::Record).unwrap();
    sim.machine.check().unwrap();
    for (i, a) in s.actions.iter().enumerate() {
        let o = sim.apply(i, a);
        println!("{} -> {} ({:?})", o.call, o.result, o.cost);
        sim.machine.check().unwrap_or_else(|e| panic!("after {}: {e}", o.call));
    }
    for z in &sim.machine.zones {
        println!(
            "{} managed {} free {} wm {:?} batch {} high {}",
            z.label(),
            z.managed_pages,
            z.nr_free_pages,
            z.watermark,
            z.pageset_batch,
            z.pageset_high
        );
    }
}
