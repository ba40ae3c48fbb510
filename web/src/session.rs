//! The playground's state without the browser: a timeline, a cursor on it, and the moves a player
//! makes (step, step over/out, jump to the next refill, run a new action, rebuild the machine).
//! Components only read a [`Frame`] and call these; everything here runs in native tests.

use std::rc::Rc;

use pageflow_core::config::MachineConfig;
use pageflow_core::machine::Machine;
use pageflow_core::narrate;
use pageflow_core::profile::SvcAllocArg;
use pageflow_core::sim::Outcome;
use pageflow_core::trace::{Event, Func, Note};
use pageflow_core::users::sunrpc::{RefillRecord, RequestHistogram};
use pageflow_core::users::UserRun;
use pageflow_core::view::View;
use pageflow_core::{Action, Cursor, Scenario, Timeline};

/// Kinds of event a player can jump to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Landmark {
    /// `rmqueue_bulk()`: a pcp list refilled from the buddy lists.
    Refill,
    /// `free_pcppages_bulk()`: pages going back from a pcp list.
    Drain,
    /// A watermark check that fails.
    WatermarkBreach,
    /// kswapd woken or reclaim.
    Reclaim,
    /// A failed allocation.
    Failure,
    /// A line of a user's code (sunrpc's `svc_alloc_arg`).
    UserLine,
}

impl Landmark {
    pub const ALL: [Landmark; 6] = [
        Landmark::Refill,
        Landmark::Drain,
        Landmark::WatermarkBreach,
        Landmark::Reclaim,
        Landmark::Failure,
        Landmark::UserLine,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Landmark::Refill => "refill (rmqueue_bulk)",
            Landmark::Drain => "drain (free_pcppages_bulk)",
            Landmark::WatermarkBreach => "watermark check failing",
            Landmark::Reclaim => "kswapd / reclaim",
            Landmark::Failure => "allocation failure",
            Landmark::UserLine => "svc_alloc_arg line (sunrpc)",
        }
    }

    pub fn matches(self, ev: &Event) -> bool {
        match self {
            Landmark::Refill => matches!(ev, Event::Enter { func: Func::RmqueueBulk, .. }),
            Landmark::Drain => matches!(ev, Event::Enter { func: Func::FreePcppagesBulk, .. }),
            Landmark::WatermarkBreach => matches!(ev, Event::Watermark { check, .. } if !check.ok),
            Landmark::Reclaim => matches!(ev, Event::KswapdWake { .. } | Event::Reclaim { .. }),
            Landmark::Failure => matches!(ev, Event::Note { note: Note::AllocFailure }),
            Landmark::UserLine => matches!(ev, Event::Line { .. }),
        }
    }
}

/// Events the log shows before the cursor and after it.
const WINDOW_BEFORE: usize = 12;
const WINDOW_AFTER: usize = 8;

/// What the components draw, taken from the session after every move.
#[derive(Debug)]
pub struct Frame {
    /// Which move of the session this frame shows: frames compare by it alone.
    pub generation: u64,
    pub pos: usize,
    pub total: usize,
    pub action: usize,
    pub actions: usize,
    pub view: View,
    /// The machine before the current action: watermarks, batch, high, names of holders.
    pub machine: Rc<Machine>,
    /// Kernel functions entered and not yet returned at `pos`, outermost first.
    pub stack: Vec<Func>,
    /// The event just applied, if any, in words.
    pub last: Option<String>,
    /// The user-code line the cursor is in (sunrpc's `svc_alloc_arg`): the last `Line` event of
    /// the current action at or before the cursor.
    pub source: Option<(u16, SvcAllocArg, u16)>,
    /// The block the last event moved, split or merged: `(pfn, order)`, for the map to mark.
    pub touched: Option<(u32, u8)>,
    pub outcomes: Vec<Outcome>,
    /// Holder names by owner id: the run's last machine has every holder any step has seen.
    pub holder_names: Vec<String>,
    /// Events around `pos`, numbered, in words.
    pub window: Vec<(usize, String)>,
    /// Free and pcp pages after boot and after each action, for the plots.
    pub samples: Vec<Sample>,
    /// How many holes each sunrpc allocator call asked for, over every NFS server run.
    pub request_sizes: Option<RequestHistogram>,
}

impl PartialEq for Frame {
    fn eq(&self, other: &Frame) -> bool {
        self.generation == other.generation
    }
}

/// The request-size histogram of every sunrpc run of a timeline, if any ran.
fn request_sizes(t: &Timeline) -> Option<RequestHistogram> {
    let refills: Vec<RefillRecord> = t
        .users()
        .iter()
        .filter_map(|u| match u {
            UserRun::Sunrpc(run) => Some(run.refills.iter().cloned()),
            UserRun::PagePool(_) => None,
        })
        .flatten()
        .collect();
    (!refills.is_empty()).then(|| RequestHistogram::from_refills(&refills))
}

/// A scenario being played.
#[derive(Clone)]
pub struct Session {
    /// Counts the moves made, so a UI redraws once per move.
    pub generation: u64,
    pub timeline: Timeline,
    pub cursor: Cursor,
    /// Free and pcp pages after boot and after each action run.
    samples: Vec<Sample>,
    /// The request-size histogram of the sunrpc runs, kept with the timeline it is read from.
    request_sizes: Option<RequestHistogram>,
}

/// What the plots follow after each action.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// `NR_FREE_PAGES` per zone.
    pub free: Vec<i64>,
    /// Pages on every pcp list of every zone.
    pub pcp: u64,
}

fn sample(m: &Machine) -> Sample {
    Sample {
        free: m.zones.iter().map(|z| z.nr_free_pages).collect(),
        pcp: m.zones.iter().flat_map(|z| &z.pcp).map(|p| u64::from(p.count)).sum(),
    }
}

impl Session {
    /// Boot a scenario and run its actions; the cursor stands at the start.
    pub fn new(scenario: &Scenario) -> Result<Session, String> {
        let mut timeline = Timeline::new(scenario).map_err(|e| e.to_string())?;
        let mut samples = vec![sample(timeline.machine())];
        while timeline.run_next().is_some() {
            samples.push(sample(timeline.machine()));
        }
        let cursor = timeline.seek(0);
        let request_sizes = request_sizes(&timeline);
        Ok(Session { generation: 0, timeline, cursor, samples, request_sizes })
    }

    pub fn scenario(&self) -> &Scenario {
        self.timeline.scenario()
    }

    pub fn total(&self) -> usize {
        self.timeline.events().len()
    }

    pub fn at_end(&self) -> bool {
        self.cursor.pos >= self.total()
    }

    /// One event forward.
    pub fn step(&mut self) -> bool {
        self.cursor.step(&self.timeline)
    }

    /// `n` events forward (a frame of fast play).
    pub fn advance(&mut self, n: usize) {
        let to = self.cursor.pos + n;
        self.cursor.go(&self.timeline, to);
    }

    pub fn go(&mut self, pos: usize) {
        self.cursor.go(&self.timeline, pos);
    }

    /// One event back.
    pub fn back(&mut self) {
        if self.cursor.pos > 0 {
            self.go(self.cursor.pos - 1);
        }
    }

    /// Call depth after the first `pos` events of the cursor's action.
    fn depth_at(&self, pos: usize) -> usize {
        self.stack_at(pos).len()
    }

    /// The functions entered and not returned after `pos` events, outermost first.
    pub fn stack_at(&self, pos: usize) -> Vec<Func> {
        let t = &self.timeline;
        let start = t.action_start(t.action_at(pos).min(t.outcomes().len()));
        let mut stack = Vec::new();
        for ev in &t.events()[start.min(pos)..pos] {
            match ev {
                Event::Enter { func, .. } => stack.push(*func),
                Event::Exit { .. } => {
                    stack.pop();
                }
                _ => {}
            }
        }
        stack
    }

    /// Step over: forward to the next event at this call depth or shallower, skipping the
    /// insides of a call.
    pub fn step_over(&mut self) {
        let depth = self.depth_at(self.cursor.pos);
        let mut pos = self.cursor.pos;
        let events = self.timeline.events();
        let mut d = depth;
        while pos < events.len() {
            match events[pos] {
                Event::Enter { .. } => d += 1,
                Event::Exit { .. } => d = d.saturating_sub(1),
                _ => {}
            }
            pos += 1;
            if d <= depth {
                break;
            }
        }
        self.go(pos);
    }

    /// Step out: forward until the function we are in returns.
    pub fn step_out(&mut self) {
        let depth = self.depth_at(self.cursor.pos);
        if depth == 0 {
            return self.step_over();
        }
        let events = self.timeline.events();
        let mut pos = self.cursor.pos;
        let mut d = depth;
        while pos < events.len() && d >= depth {
            match events[pos] {
                Event::Enter { .. } => d += 1,
                Event::Exit { .. } => d -= 1,
                _ => {}
            }
            pos += 1;
        }
        self.go(pos);
    }

    /// To the start of the next action (or the end).
    pub fn next_action(&mut self) {
        let next = self.timeline.action_start(self.cursor.action + 1);
        let here = self.timeline.action_start(self.cursor.action);
        self.go(if self.cursor.pos < here { here } else { next });
    }

    /// To the start of the current action, or of the previous one if already there.
    pub fn previous_action(&mut self) {
        let here = self.timeline.action_start(self.cursor.action);
        if self.cursor.pos > here {
            self.go(here);
        } else if self.cursor.action > 0 {
            self.go(self.timeline.action_start(self.cursor.action - 1));
        }
    }

    /// Just after the next event of a kind; false if there is none.
    pub fn jump(&mut self, mark: Landmark) -> bool {
        match self.timeline.find(self.cursor.pos, |e| mark.matches(e)) {
            Some(p) => {
                self.go(p + 1);
                true
            }
            None => false,
        }
    }

    /// Just after the previous event of a kind.
    pub fn jump_back(&mut self, mark: Landmark) -> bool {
        let before = self.cursor.pos.saturating_sub(1);
        match self.timeline.rfind(before, |e| mark.matches(e)) {
            Some(p) => {
                self.go(p + 1);
                true
            }
            None => false,
        }
    }

    /// Run a new action after the cursor's place: later actions are dropped (the player
    /// branches off), the cursor goes to where the new action's events begin. Returns how many
    /// actions were dropped.
    pub fn perform(&mut self, action: Action) -> Result<usize, String> {
        // Half way through an action, the new one comes after it; at its start, before it.
        let mid = self.cursor.pos > self.timeline.action_start(self.cursor.action);
        let keep = (self.cursor.action + usize::from(mid)).min(self.timeline.outcomes().len());
        let dropped = self.scenario().actions.len() - keep;
        let mut candidate = self.timeline.clone();
        candidate.truncate(keep);
        candidate.push(action).map_err(|e| e.to_string())?;
        let start = candidate.events().len();
        candidate.run_next();
        self.samples.truncate(keep + 1);
        self.samples.push(sample(candidate.machine()));
        self.request_sizes = request_sizes(&candidate);
        self.timeline = candidate;
        self.cursor = self.timeline.seek(start);
        Ok(dropped)
    }

    /// The same actions on another machine or kernel profile.
    pub fn reconfigure(&self, machine: MachineConfig, profile: &str) -> Result<Session, String> {
        let mut s = self.scenario().clone();
        s.machine = machine;
        s.profile = profile.to_owned();
        Session::new(&s)
    }

    /// A long run: `chunks` random-workload actions of `ops` operations each, appended and not
    /// yet run; [`Session::run_pending`] runs them a few at a time.
    pub fn queue_workload(&mut self, chunks: u32, ops: u32) -> Result<(), String> {
        self.timeline.truncate(self.timeline.outcomes().len());
        for _ in 0..chunks {
            self.timeline.push(Action::Random { ops, seed: None }).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Actions queued and not run yet.
    pub fn pending(&self) -> usize {
        self.timeline.pending()
    }

    /// Run up to `n` queued actions.
    pub fn run_pending(&mut self, n: usize) {
        for _ in 0..n {
            if self.timeline.run_next().is_none() {
                break;
            }
            self.samples.push(sample(self.timeline.machine()));
        }
    }

    /// Give up the queued actions that have not run.
    pub fn cancel_pending(&mut self) {
        let ran = self.timeline.outcomes().len();
        self.timeline.truncate(ran);
    }

    /// The last line a user thread ran before `pos`, within the current action.
    fn source_at(&self, pos: usize) -> Option<(u16, SvcAllocArg, u16)> {
        let start = self.timeline.action_start(self.cursor.action.min(self.timeline.outcomes().len()));
        let at = self.timeline.rfind(pos, |e| matches!(e, Event::Line { .. }))?;
        match self.timeline.events()[at] {
            Event::Line { thread, form, line } if at >= start => Some((thread, form, line)),
            _ => None,
        }
    }

    /// Events before and after `pos`, for the event log.
    fn window(&self, pos: usize) -> Vec<(usize, String)> {
        let events = self.timeline.events();
        let from = pos.saturating_sub(WINDOW_BEFORE);
        let to = (pos + WINDOW_AFTER).min(events.len());
        (from..to).map(|i| (i, narrate::describe(&events[i]))).collect()
    }

    /// What the components draw now.
    pub fn frame(&self) -> Frame {
        let pos = self.cursor.pos;
        let just = pos.checked_sub(1).map(|p| &self.timeline.events()[p]);
        let last = just.map(narrate::describe);
        let touched = just.and_then(|ev| match *ev {
            Event::Move { pfn, order, .. } => Some((pfn, order)),
            Event::Split { buddy, order, .. } => Some((buddy, order)),
            Event::Merge { pfn, buddy, order, .. } => Some((pfn & buddy, order + 1)),
            _ => None,
        });
        Frame {
            generation: self.generation,
            pos,
            total: self.total(),
            action: self.cursor.action,
            actions: self.timeline.outcomes().len(),
            view: self.cursor.view.clone(),
            machine: self.cursor.machine.clone(),
            stack: self.stack_at(pos),
            last,
            touched,
            source: self.source_at(pos),
            outcomes: self.timeline.outcomes().to_vec(),
            window: self.window(pos),
            holder_names: self.timeline.machine().holders.iter().map(|h| h.name.clone()).collect(),
            samples: self.samples.clone(),
            request_sizes: self.request_sizes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pageflow_core::BulkTarget;

    fn session() -> Session {
        Session::new(&Scenario::default_scenario()).unwrap()
    }

    #[test]
    fn a_new_session_stands_before_the_first_event_with_every_action_run() {
        let s = session();
        assert_eq!(s.cursor.pos, 0);
        assert_eq!(s.timeline.outcomes().len(), s.scenario().actions.len());
        assert!(s.total() > 0);
    }

    #[test]
    fn step_over_skips_a_whole_call_and_step_out_leaves_it() {
        let mut s = session();
        s.jump(Landmark::Refill);
        let inside = s.stack_at(s.cursor.pos);
        assert_eq!(inside.last(), Some(&Func::RmqueueBulk));
        s.step_out();
        let after = s.stack_at(s.cursor.pos);
        assert!(after.len() < inside.len(), "{inside:?} → {after:?}");
        assert!(matches!(s.timeline.events()[s.cursor.pos - 1], Event::Exit { func: Func::RmqueueBulk, .. }));
        let before = s.cursor.pos;
        let depth = after.len();
        s.step_over();
        assert!(s.cursor.pos > before);
        assert!(s.stack_at(s.cursor.pos).len() <= depth);
    }

    #[test]
    fn performing_a_bulk_request_mid_history_drops_the_later_actions_and_plays_from_its_start() {
        let mut s = session();
        s.next_action();
        s.next_action();
        let action = s.cursor.action;
        let dropped = s
            .perform(Action::AllocPagesBulk {
                cpu: 1,
                gfp: "GFP_KERNEL".into(),
                nr_pages: 16,
                target: BulkTarget::Array,
                into: "mine".into(),
            })
            .unwrap();
        assert_eq!(dropped, 12 - action, "the later actions of the built-in scenario");
        assert_eq!(s.scenario().actions.len(), action + 1);
        assert_eq!(s.cursor.action, action);
        assert_eq!(s.timeline.outcomes()[action].result, "16");
        while s.step() {}
        let owner = s.timeline.machine().holders.iter().position(|h| h.name == "mine").unwrap();
        assert_eq!(s.cursor.view.holders[owner].blocks, 16);
    }

    #[test]
    fn an_impossible_action_is_refused_with_a_message_and_nothing_changes() {
        let mut s = session();
        let actions = s.scenario().actions.len();
        let err = s.perform(Action::Drain { cpu: Some(64) }).unwrap_err();
        assert!(err.contains("64"), "{err}");
        assert_eq!(s.scenario().actions.len(), actions);
    }

    #[test]
    fn a_queued_long_run_can_be_cancelled_half_way() {
        let mut s = session();
        let before = s.timeline.outcomes().len();
        s.queue_workload(10, 100).unwrap();
        s.run_pending(4);
        assert_eq!(s.pending(), 6);
        s.cancel_pending();
        assert_eq!(s.pending(), 0);
        assert_eq!(s.timeline.outcomes().len(), before + 4);
    }
}
