//! A run that can be replayed: every event of every action kept in order, and machine checkpoints
//! so a player can stand at any event, step back, or jump, and see exactly the state it saw
//! when it first passed there.
//!
//! Positions count events: position `p` is the state after the first `p` events. The state at a
//! position is the machine before the action that holds it (a checkpoint replayed forward; the
//! model is deterministic) read into a [`View`], with the action's events up to `p` applied.

use std::rc::Rc;

use crate::config::ConfigError;
use crate::machine::Machine;
use crate::scenario::{Action, Scenario, ScenarioError};
use crate::sim::{Outcome, Sim};
use crate::trace::{Cost, Event, TraceMode};
use crate::users::UserRun;
use crate::view::View;

/// Events between machine checkpoints at least; bigger machines space them further apart, so a
/// checkpoint (16 bytes a page) never costs more memory than the events it saves replaying.
const CHECKPOINT_EVENTS: usize = 1 << 16;

/// A scenario being run, with its whole history.
#[derive(Clone, Debug)]
pub struct Timeline {
    /// The live run: its machine is the state after every action applied so far, recording.
    sim: Sim,
    /// `(actions applied, machine)`, the first at boot; machines carry no events.
    checkpoints: Vec<(usize, Machine)>,
    interval: usize,
}

/// A place in a timeline, with the state there.
#[derive(Clone, Debug)]
pub struct Cursor {
    /// Events applied.
    pub pos: usize,
    /// The action whose events come next (or the number of actions at the end).
    pub action: usize,
    /// The machine before `action`, for what events do not carry (watermarks, batch, high);
    /// shared, as it changes only between actions.
    pub machine: Rc<Machine>,
    /// The state at `pos`.
    pub view: View,
    /// The state before `action`.
    base: View,
}

/// A machine without its recorded events, for checkpoints and cursors.
fn without_events(m: &mut Machine) -> Machine {
    let events = std::mem::take(&mut m.trace.events);
    let mut copy = m.clone();
    m.trace.events = events;
    copy.trace.mode = TraceMode::Off;
    copy
}

impl Timeline {
    /// Boot the scenario's machine; no action has run yet.
    pub fn new(scenario: &Scenario) -> Result<Timeline, ScenarioError> {
        let mut sim = Sim::new(scenario, TraceMode::Record)?;
        // The timeline starts at the booted machine: boot's own events are not steps.
        sim.machine.trace.events.clear();
        sim.machine.trace.cost = Cost::default();
        let boot = without_events(&mut sim.machine);
        let interval = CHECKPOINT_EVENTS.max(boot.pages.len() / 4);
        Ok(Timeline { sim, checkpoints: vec![(0, boot)], interval })
    }

    /// Boot and run every action.
    pub fn run(scenario: &Scenario) -> Result<Timeline, ScenarioError> {
        let mut t = Timeline::new(scenario)?;
        while t.run_next().is_some() {}
        Ok(t)
    }

    pub fn scenario(&self) -> &Scenario {
        &self.sim.scenario
    }

    /// The machine after every action run so far.
    pub fn machine(&self) -> &Machine {
        &self.sim.machine
    }

    pub fn events(&self) -> &[Event] {
        &self.sim.machine.trace.events
    }

    /// What the user actions (sunrpc servers, page pools) of the run did.
    pub fn users(&self) -> &[UserRun] {
        &self.sim.users
    }

    pub fn outcomes(&self) -> &[Outcome] {
        &self.sim.outcomes
    }

    /// Actions of the scenario not run yet.
    pub fn pending(&self) -> usize {
        self.sim.scenario.actions.len() - self.sim.outcomes.len()
    }

    /// Run the next action of the scenario, if any is left.
    pub fn run_next(&mut self) -> Option<&Outcome> {
        let i = self.sim.outcomes.len();
        let action = self.sim.scenario.actions.get(i)?.clone();
        let outcome = self.sim.apply(i, &action);
        self.sim.outcomes.push(outcome);
        let last = self.checkpoints.last().map_or(0, |(n, _)| *n);
        let since = self.events().len() - self.sim.outcomes.get(last).map_or(0, |o| o.events.0);
        if since >= self.interval {
            let m = without_events(&mut self.sim.machine);
            self.checkpoints.push((i + 1, m));
        }
        self.sim.outcomes.last()
    }

    /// Add an action at the end of the scenario (it runs with the next [`Timeline::run_next`]).
    /// Rejected like a scenario file with that action would be.
    pub fn push(&mut self, action: Action) -> Result<(), ConfigError> {
        let mut scenario = self.sim.scenario.clone();
        scenario.actions.push(action);
        scenario.validate()?;
        self.sim.scenario = scenario;
        Ok(())
    }

    /// Forget actions from `keep` on, run or not: the way a player branches off from the past.
    pub fn truncate(&mut self, keep: usize) {
        if keep >= self.sim.scenario.actions.len() {
            return;
        }
        self.sim.scenario.actions.truncate(keep);
        if keep >= self.sim.outcomes.len() {
            return;
        }
        let cut = self.sim.outcomes[keep].events.0;
        let mut machine = self.machine_before(keep);
        machine.trace.mode = TraceMode::Record;
        machine.trace.events = std::mem::take(&mut self.sim.machine.trace.events);
        machine.trace.events.truncate(cut);
        machine.trace.cost = Cost::of(&machine.trace.events);
        self.sim.machine = machine;
        self.sim.outcomes.truncate(keep);
        self.sim.users.retain(|u| match u {
            UserRun::Sunrpc(run) => run.action < keep,
            UserRun::PagePool(run) => run.action < keep,
        });
        self.checkpoints.retain(|(n, _)| *n <= keep);
    }

    /// The machine as it was before action `action` ran (or after the last, past the end),
    /// without events.
    pub fn machine_before(&self, action: usize) -> Machine {
        let action = action.min(self.sim.outcomes.len());
        let (start, checkpoint) =
            self.checkpoints.iter().rev().find(|(n, _)| *n <= action).expect("the boot checkpoint");
        let mut replay = Sim::resume(&self.sim.scenario, checkpoint.clone());
        for i in *start..action {
            replay.apply(i, &self.sim.scenario.actions[i]);
        }
        replay.machine
    }

    /// The action that holds event position `pos`: the first whose events end after it.
    pub fn action_at(&self, pos: usize) -> usize {
        let outcomes = &self.sim.outcomes;
        outcomes.partition_point(|o| o.events.1 <= pos).min(outcomes.len())
    }

    /// The first event position of an action (the number of events at the end).
    pub fn action_start(&self, action: usize) -> usize {
        self.sim.outcomes.get(action).map_or(self.events().len(), |o| o.events.0)
    }

    /// The state after `pos` events (clamped to the events there are).
    pub fn seek(&self, pos: usize) -> Cursor {
        let pos = pos.min(self.events().len());
        let action = self.action_at(pos);
        let machine = Rc::new(self.machine_before(action));
        let base = View::of(&machine);
        let mut cursor = Cursor { pos: self.action_start(action), action, machine, view: base.clone(), base };
        cursor.forward_to(self, pos);
        cursor
    }

    /// The first event at or after `from` that `pred` picks: "next refill", "next drain".
    pub fn find(&self, from: usize, pred: impl Fn(&Event) -> bool) -> Option<usize> {
        self.events().iter().skip(from).position(pred).map(|i| i + from)
    }

    /// The last event before `before` that `pred` picks.
    pub fn rfind(&self, before: usize, pred: impl Fn(&Event) -> bool) -> Option<usize> {
        let before = before.min(self.events().len());
        self.events()[..before].iter().rposition(pred)
    }
}

impl Cursor {
    /// Apply events until `pos`, crossing into later actions as their events come.
    fn forward_to(&mut self, t: &Timeline, pos: usize) {
        let events = t.events();
        while self.pos < pos {
            self.view.apply(&events[self.pos]);
            self.pos += 1;
            self.settle(t);
        }
        self.settle(t);
    }

    /// After the last event of an action, the cursor stands before the next one.
    fn settle(&mut self, t: &Timeline) {
        let outcomes = t.outcomes();
        while self.action < outcomes.len() && outcomes[self.action].events.1 <= self.pos {
            let mut replay = Sim::resume(t.scenario(), (*self.machine).clone());
            replay.apply(self.action, &t.scenario().actions[self.action]);
            self.machine = Rc::new(replay.machine);
            self.action += 1;
            self.base = self.view.clone();
        }
    }

    /// One event forward; false at the end.
    pub fn step(&mut self, t: &Timeline) -> bool {
        if self.pos >= t.events().len() {
            return false;
        }
        self.forward_to(t, self.pos + 1);
        true
    }

    /// Move to `pos`: within the current action by applying events (from its start when going
    /// back), into another action by seeking from a checkpoint.
    pub fn go(&mut self, t: &Timeline, pos: usize) {
        let pos = pos.min(t.events().len());
        let (start, next) = (t.action_start(self.action), t.action_start(self.action + 1));
        if (start..=next).contains(&pos) && self.action < t.outcomes().len() {
            if pos < self.pos {
                self.view = self.base.clone();
                self.pos = start;
            }
            self.forward_to(t, pos);
        } else if pos != self.pos {
            *self = t.seek(pos);
        }
    }
}
