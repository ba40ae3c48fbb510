//! Two scenarios side by side: the same actions under another profile, batch or GFP mask, or two
//! different workloads. [`compare`] runs both and lines up what they cost: totals as generic
//! rows (`name, a, b, delta`), each action's counters and simulated time, and the free pages of
//! every zone after boot and after each action. The UI draws a [`Comparison`]; the CLI prints
//! [`Comparison::to_text`].
//!
//! Simulated time comes from the [`CostModel`]: a model, not a measurement. Models of callers
//! (sunrpc's sleeps, time per refill) add their own rows to [`Comparison::user_rows`].

use std::fmt::Write as _;

use serde::Serialize;

use crate::cost::CostModel;
use crate::scenario::{Scenario, ScenarioError};
use crate::sim::Sim;
use crate::trace::{Cost, TraceMode};
use crate::users::{SunrpcRun, UserRun};

/// One line of a side-by-side table: a quantity in A and in B, and `delta = b - a`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub name: String,
    pub a: f64,
    pub b: f64,
    pub delta: f64,
}

impl Row {
    pub fn new(name: impl Into<String>, a: f64, b: f64) -> Row {
        Row { name: name.into(), a, b, delta: b - a }
    }
}

/// Which run of a comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Side {
    pub scenario: String,
    pub profile: &'static str,
    /// The cycle table this side was priced with.
    pub cost_model: CostModel,
}

/// One action as one side ran it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallSide {
    pub call: String,
    pub result: String,
    /// Pages taken from (+) or given back to (-) the free and pcp lists.
    pub pages: i64,
    pub cost: Cost,
    pub cycles: f64,
    pub sim_ns: f64,
}

/// The action at one index in both scenarios; `None` where a scenario has fewer actions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallPair {
    pub action: usize,
    pub a: Option<CallSide>,
    pub b: Option<CallSide>,
}

/// `NR_FREE_PAGES` of one zone: after boot, then after each action. `None` for a side whose
/// machine has no zone of that label.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FreeCurve {
    /// "Node 0 Normal".
    pub zone: String,
    pub a: Option<Vec<i64>>,
    pub b: Option<Vec<i64>>,
}

/// Everything side by side.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub a: Side,
    pub b: Side,
    /// Totals over the whole run.
    pub totals: Vec<Row>,
    pub calls: Vec<CallPair>,
    pub free_pages: Vec<FreeCurve>,
    /// Rows the models of the callers add: for sunrpc, refills, sleeps, slept ms, allocator
    /// and single-page calls, and simulated ns per refill; empty when neither side has a user.
    pub user_rows: Vec<Row>,
}

/// Why two scenarios could not be compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompareError {
    /// A scenario is invalid: which side ('A' or 'B'), and why.
    Scenario(char, ScenarioError),
    /// A cost model is unusable (a negative price, a zero clock).
    CostModel(String),
    /// The model broke one of its invariants on a side: a bug in the model.
    Model(char, String),
}

impl std::fmt::Display for CompareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompareError::Scenario(side, e) => write!(f, "scenario {side}: {e}"),
            CompareError::CostModel(e) => write!(f, "cost model: {e}"),
            CompareError::Model(side, e) => write!(f, "scenario {side}: {e}"),
        }
    }
}

impl std::error::Error for CompareError {}

/// A finished run of one side.
struct Run {
    side: Side,
    calls: Vec<CallSide>,
    total: Cost,
    /// (zone label, free pages after boot and after each action).
    curves: Vec<(String, Vec<i64>)>,
    /// The side's sunrpc actions summed, if it has any.
    sunrpc: Option<SunrpcTotals>,
}

/// What the `svc_alloc_arg()` refills of a side's sunrpc actions did, summed.
#[derive(Clone, Copy, Debug, Default)]
struct SunrpcTotals {
    refills: u64,
    sleeps: u64,
    slept_ms: u64,
    calls: u64,
    single_page_calls: u64,
    cost: Cost,
}

impl SunrpcTotals {
    /// The sums over every sunrpc run of a simulation; `None` if it ran none.
    fn of(users: &[UserRun]) -> Option<SunrpcTotals> {
        let runs: Vec<&SunrpcRun> = users
            .iter()
            .filter_map(|u| match u {
                UserRun::Sunrpc(run) => Some(run),
                UserRun::PagePool(_) => None,
            })
            .collect();
        if runs.is_empty() {
            return None;
        }
        let mut t = SunrpcTotals::default();
        for r in runs.iter().flat_map(|run| &run.refills) {
            t.refills += 1;
            t.sleeps += u64::from(r.sleeps);
            t.slept_ms += r.slept_ms;
            t.calls += u64::from(r.calls);
            t.single_page_calls += u64::from(r.single_page_calls);
            t.cost = t.cost.plus(&r.cost);
        }
        Some(t)
    }
}

fn run(label: char, scenario: &Scenario, prices: Option<&CostModel>) -> Result<Run, CompareError> {
    let mut sim = Sim::new(scenario, TraceMode::Count).map_err(|e| CompareError::Scenario(label, e))?;
    let model = prices.copied().unwrap_or_else(|| CostModel::for_profile(sim.machine.profile));
    let snapshot = |sim: &Sim| -> Vec<i64> { sim.machine.zones.iter().map(|z| z.nr_free_pages).collect() };
    let mut points = vec![snapshot(&sim)];
    let mut calls = Vec::new();
    for (i, action) in scenario.actions.iter().enumerate() {
        let o = sim.apply(i, action);
        calls.push(CallSide {
            call: o.call,
            result: o.result,
            pages: o.pages,
            cost: o.cost,
            cycles: model.cycles(&o.cost),
            sim_ns: model.nanos(&o.cost),
        });
        points.push(snapshot(&sim));
    }
    sim.machine.check().map_err(|e| CompareError::Model(label, e.to_string()))?;
    let curves = sim
        .machine
        .zones
        .iter()
        .enumerate()
        .map(|(z, zone)| (zone.label(), points.iter().map(|p| p[z]).collect()))
        .collect();
    Ok(Run {
        side: Side { scenario: scenario.name.clone(), profile: sim.machine.profile.id, cost_model: model },
        calls,
        total: sim.machine.trace.cost,
        curves,
        sunrpc: SunrpcTotals::of(&sim.users),
    })
}

/// The totals compared, in the order the text shows them.
fn totals(a: &Run, b: &Run) -> Vec<Row> {
    let count = |name: &str, f: fn(&Cost) -> u64| Row::new(name, f(&a.total) as f64, f(&b.total) as f64);
    let sum = |run: &Run, f: fn(&CallSide) -> f64| run.calls.iter().map(f).sum::<f64>();
    let per_call = |run: &Run| sum(run, |c| c.sim_ns) / run.calls.len().max(1) as f64;
    vec![
        Row::new("net pages allocated", sum(a, |c| c.pages as f64), sum(b, |c| c.pages as f64)),
        count("pages moved", |c| c.pages_moved),
        count("zone->lock sections", |c| c.zone_lock),
        count("pcp lock sections", |c| c.pcp_lock),
        count("IRQ-off sections", |c| c.irq_off),
        count("watermark checks", |c| c.watermark_checks),
        count("splits", |c| c.splits),
        count("merges", |c| c.merges),
        count("counter updates", |c| c.stat_updates),
        count("function calls", |c| c.calls),
        Row::new("simulated cycles", a.side.cost_model.cycles(&a.total), b.side.cost_model.cycles(&b.total)),
        Row::new("simulated ns", a.side.cost_model.nanos(&a.total), b.side.cost_model.nanos(&b.total)),
        Row::new("simulated ns per action", per_call(a), per_call(b)),
    ]
}

/// The sunrpc rows, when either side served RPCs (a side without sunrpc actions counts zero):
/// `svc_alloc_arg()` refills, the sleeps they took and the server time those took, allocator
/// calls, the calls that ended in the single-page allocator, and the simulated time of the
/// allocator's work per refill (sleeps are server time and are not in it).
fn user_rows(a: &Run, b: &Run) -> Vec<Row> {
    if a.sunrpc.is_none() && b.sunrpc.is_none() {
        return Vec::new();
    }
    let (ta, tb) = (a.sunrpc.unwrap_or_default(), b.sunrpc.unwrap_or_default());
    let count = |name: &str, f: fn(&SunrpcTotals) -> u64| Row::new(name, f(&ta) as f64, f(&tb) as f64);
    let ns_per_refill = |run: &Run, t: &SunrpcTotals| {
        if t.refills == 0 {
            0.0
        } else {
            run.side.cost_model.nanos(&t.cost) / t.refills as f64
        }
    };
    vec![
        count("sunrpc svc_alloc_arg refills", |t| t.refills),
        count("sunrpc sleeps", |t| t.sleeps),
        count("sunrpc slept ms", |t| t.slept_ms),
        count("sunrpc allocator calls", |t| t.calls),
        count("sunrpc single-page calls", |t| t.single_page_calls),
        Row::new("sunrpc simulated ns per refill", ns_per_refill(a, &ta), ns_per_refill(b, &tb)),
    ]
}

/// Run two scenarios and line them up. `prices`: one cost model for both sides (the UI's edited
/// table), or `None` for each side's own era table ([`CostModel::for_profile`]).
pub fn compare(a: &Scenario, b: &Scenario, prices: Option<&CostModel>) -> Result<Comparison, CompareError> {
    if let Some(model) = prices {
        model.validate().map_err(CompareError::CostModel)?;
    }
    let (ra, rb) = (run('A', a, prices)?, run('B', b, prices)?);
    let n = ra.calls.len().max(rb.calls.len());
    let calls = (0..n)
        .map(|i| CallPair { action: i, a: ra.calls.get(i).cloned(), b: rb.calls.get(i).cloned() })
        .collect();
    let mut labels: Vec<&String> = ra.curves.iter().map(|(l, _)| l).collect();
    labels.extend(rb.curves.iter().map(|(l, _)| l).filter(|l| !ra.curves.iter().any(|(m, _)| m == *l)));
    let curve_of =
        |run: &Run, label: &str| run.curves.iter().find(|(l, _)| l == label).map(|(_, c)| c.clone());
    let free_pages = labels
        .into_iter()
        .map(|l| FreeCurve { zone: l.clone(), a: curve_of(&ra, l), b: curve_of(&rb, l) })
        .collect();
    let user_rows = user_rows(&ra, &rb);
    Ok(Comparison { totals: totals(&ra, &rb), a: ra.side, b: rb.side, calls, free_pages, user_rows })
}

/// A number for a table: whole numbers without decimals, others with one.
fn num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn signed(x: f64) -> String {
    if x > 0.0 {
        format!("+{}", num(x))
    } else {
        num(x)
    }
}

/// Rows as a table: name, A, B, delta.
fn write_rows(out: &mut String, title: &str, rows: &[Row]) {
    let _ = writeln!(out, "{title}");
    let nw = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let w =
        rows.iter().flat_map(|r| [num(r.a).len(), num(r.b).len(), signed(r.delta).len()]).max().unwrap_or(1);
    let _ = writeln!(out, "  {:<nw$}  {:>w$}  {:>w$}  {:>w$}", "", "A", "B", "B - A");
    for r in rows {
        let _ =
            writeln!(out, "  {:<nw$}  {:>w$}  {:>w$}  {:>w$}", r.name, num(r.a), num(r.b), signed(r.delta));
    }
}

impl Comparison {
    /// The comparison as text: both sides, the totals, each action, the free-page curves and any
    /// user rows.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (label, side) in [('A', &self.a), ('B', &self.b)] {
            let _ = writeln!(out, "{label}: {} (profile {})", side.scenario, side.profile);
        }
        let _ = writeln!(
            out,
            "Simulated time is the cost model's (`pageflow cost`): cycles at {} / {} GHz, not measured.",
            self.a.cost_model.cpu_ghz, self.b.cost_model.cpu_ghz
        );
        let _ = writeln!(out);
        write_rows(&mut out, "Totals", &self.totals);
        if !self.user_rows.is_empty() {
            let _ = writeln!(out);
            write_rows(&mut out, "User model", &self.user_rows);
        }
        self.write_calls(&mut out);
        self.write_curves(&mut out);
        out
    }

    fn write_calls(&self, out: &mut String) {
        let _ = writeln!(out);
        let _ =
            writeln!(out, "Actions (A / B): pages, zone->lock, pcp and IRQ-off sections, watermark checks");
        let pair = |f: fn(&CallSide) -> String, p: &CallPair| {
            let get = |s: &Option<CallSide>| s.as_ref().map_or("-".to_owned(), f);
            format!("{} / {}", get(&p.a), get(&p.b))
        };
        let rows: Vec<[String; 9]> = self
            .calls
            .iter()
            .map(|p| {
                let ns = |s: &Option<CallSide>| s.as_ref().map(|c| c.sim_ns);
                let delta = match (ns(&p.a), ns(&p.b)) {
                    (Some(a), Some(b)) => format!("{:+.1}", b - a),
                    _ => "-".to_owned(),
                };
                [
                    p.action.to_string(),
                    pair(|c| signed(c.pages as f64), p),
                    pair(|c| c.cost.zone_lock.to_string(), p),
                    pair(|c| c.cost.pcp_lock.to_string(), p),
                    pair(|c| c.cost.irq_off.to_string(), p),
                    pair(|c| c.cost.watermark_checks.to_string(), p),
                    ns(&p.a).map_or("-".to_owned(), |v| format!("{v:.1}")),
                    ns(&p.b).map_or("-".to_owned(), |v| format!("{v:.1}")),
                    delta,
                ]
            })
            .collect();
        let head = ["#", "pages", "zone-lock", "pcp", "irq-off", "wmark", "A sim ns", "B sim ns", "B - A"];
        let mut widths = head.map(str::len);
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.len());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::from(" ");
            for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
                let _ = if i == 0 { write!(s, " {c:<w$}") } else { write!(s, "  {c:>w$}") };
            }
            s
        };
        let _ = writeln!(out, "{}  call", line(&head.map(str::to_owned)));
        for (r, p) in rows.iter().zip(&self.calls) {
            let text = |s: &CallSide| format!("{} => {}", s.call, s.result);
            let call = match (&p.a, &p.b) {
                (Some(a), Some(b)) if a.call == b.call && a.result == b.result => text(a),
                (Some(a), Some(b)) => format!("A: {}; B: {}", text(a), text(b)),
                (Some(a), None) => format!("A: {}", text(a)),
                (None, Some(b)) => format!("B: {}", text(b)),
                (None, None) => String::new(),
            };
            let _ = writeln!(out, "{}  {call}", line(r));
        }
    }

    fn write_curves(&self, out: &mut String) {
        let _ = writeln!(out);
        let _ = writeln!(out, "Free pages (NR_FREE_PAGES) per zone, A / B, after boot and after each action");
        let steps = self
            .free_pages
            .iter()
            .flat_map(|c| [c.a.as_ref().map_or(0, Vec::len), c.b.as_ref().map_or(0, Vec::len)])
            .max()
            .unwrap_or(0);
        let cell = |c: &FreeCurve, i: usize| {
            let get = |v: &Option<Vec<i64>>| {
                v.as_ref().and_then(|v| v.get(i)).map_or("-".to_owned(), i64::to_string)
            };
            format!("{} / {}", get(&c.a), get(&c.b))
        };
        let step_name = |i: usize| if i == 0 { "boot".to_owned() } else { (i - 1).to_string() };
        let widths: Vec<usize> = self
            .free_pages
            .iter()
            .map(|c| (0..steps).map(|i| cell(c, i).len()).max().unwrap_or(0).max(c.zone.len()))
            .collect();
        let mut head = format!("  {:<5}", "after");
        for (c, w) in self.free_pages.iter().zip(&widths) {
            let _ = write!(head, "  {:>w$}", c.zone);
        }
        let _ = writeln!(out, "{head}");
        for i in 0..steps {
            let mut line = format!("  {:<5}", step_name(i));
            for (c, w) in self.free_pages.iter().zip(&widths) {
                let _ = write!(line, "  {:>w$}", cell(c, i));
            }
            let _ = writeln!(out, "{line}");
        }
    }

    /// The comparison as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("comparisons serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    #[test]
    fn a_scenario_against_itself_differs_in_nothing() {
        let s = Scenario::default_scenario();
        let c = compare(&s, &s, None).unwrap();
        assert!(c.totals.iter().all(|r| r.delta == 0.0 && r.a == r.b), "{:#?}", c.totals);
        assert!(c.calls.iter().all(|p| p.a == p.b));
        assert!(c
            .free_pages
            .iter()
            .all(|f| f.a == f.b && f.a.as_ref().unwrap().len() == s.actions.len() + 1));
    }

    #[test]
    fn each_side_is_priced_with_its_own_era_unless_one_table_is_given() {
        let a = Scenario::default_scenario();
        let b = Scenario { profile: "5.14".into(), ..a.clone() };
        let c = compare(&a, &b, None).unwrap();
        assert_eq!(c.a.cost_model, CostModel::for_profile(Profile::by_id("6.1").unwrap()));
        assert_eq!(c.b.cost_model, CostModel::for_profile(Profile::by_id("5.14").unwrap()));
        let one = CostModel { cpu_ghz: 2.0, ..CostModel::default() };
        let c = compare(&a, &b, Some(&one)).unwrap();
        assert_eq!((c.a.cost_model, c.b.cost_model), (one, one));
    }

    #[test]
    fn a_shorter_scenario_leaves_its_side_of_the_later_actions_empty() {
        let a = Scenario::default_scenario();
        let mut b = a.clone();
        b.actions.truncate(2);
        let c = compare(&a, &b, None).unwrap();
        assert_eq!(c.calls.len(), a.actions.len());
        assert!(c.calls[2].a.is_some() && c.calls[2].b.is_none());
        assert!(c.to_text().contains("A: "), "the lone side is named");
    }

    #[test]
    fn user_rows_are_shown_after_the_totals() {
        let s = Scenario::default_scenario();
        let mut c = compare(&s, &s, None).unwrap();
        assert!(!c.to_text().contains("User model"));
        c.user_rows.push(Row::new("sleeps", 3.0, 1.0));
        let text = c.to_text();
        assert!(text.contains("User model") && text.contains("sleeps"), "{text}");
        assert_eq!(c.user_rows[0].delta, -2.0);
    }

    #[test]
    fn bad_input_names_its_side() {
        let good = Scenario::default_scenario();
        let bad = Scenario { profile: "7.0".into(), ..good.clone() };
        assert!(matches!(compare(&good, &bad, None), Err(CompareError::Scenario('B', _))));
        let free = CostModel { cpu_ghz: 0.0, ..CostModel::default() };
        assert!(matches!(compare(&good, &good, Some(&free)), Err(CompareError::CostModel(_))));
    }
}
