//! Plots over the run: free pages per zone after each action, and the zone-lock acquisitions and
//! pages moved of each action, drawn as SVG so they scale and stay sharp.

use std::rc::Rc;

use yew::prelude::*;

use crate::session::Frame;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub frame: Rc<Frame>,
}

const W: f64 = 320.0;
const H: f64 = 90.0;

fn polyline(values: &[f64], max: f64) -> String {
    let n = values.len().max(2) - 1;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", i as f64 / n as f64 * W, H - v / max.max(1.0) * (H - 4.0)))
        .collect::<Vec<_>>()
        .join(" ")
}

const LINE_COLORS: [&str; 4] = ["#2b8a6e", "#3b6fd4", "#c2410c", "#7c3aed"];

#[function_component(Plots)]
pub fn plots(props: &Props) -> Html {
    let f = &props.frame;
    let zones = f.machine.zones.len();
    let series: Vec<Vec<f64>> = (0..zones)
        .map(|z| f.free_curve.iter().map(|row| row.get(z).copied().unwrap_or(0) as f64).collect())
        .collect();
    let max = series.iter().flatten().copied().fold(0.0, f64::max);
    let locks: Vec<f64> = f.outcomes.iter().map(|o| o.cost.zone_lock as f64).collect();
    let moved: Vec<f64> = f.outcomes.iter().map(|o| o.cost.pages_moved as f64).collect();
    let max_cost = locks.iter().chain(&moved).copied().fold(0.0, f64::max);
    let here = if f.actions == 0 { 0.0 } else { f.action as f64 / f.actions.max(1) as f64 * W };
    html! {
        <section class="panel plots" aria-labelledby="plots-title">
            <h2 id="plots-title">{ "Over time" }</h2>
            <figure>
                <svg viewBox={format!("0 0 {W} {H}")} role="img" data-testid="plot-free"
                    aria-label="Free pages per zone after each action, as a percentage of the zone">
                    { for series.iter().enumerate().map(|(z, s)| html! {
                        <polyline points={polyline(s, max)} fill="none" stroke={LINE_COLORS[z % 4]} stroke-width="1.5" />
                    }) }
                    <line x1={here.to_string()} x2={here.to_string()} y1="0" y2={H.to_string()} class="now" />
                </svg>
                <figcaption>{ "Free pages per zone, % of managed (0–100): " }
                    { for f.machine.zones.iter().enumerate().map(|(z, zone)| html! {
                        <span style={format!("color:{}", LINE_COLORS[z % 4])}>{ format!("{} ", zone.label()) }</span>
                    }) }
                </figcaption>
            </figure>
            <figure>
                <svg viewBox={format!("0 0 {W} {H}")} role="img" data-testid="plot-cost"
                    aria-label="Zone-lock acquisitions and pages moved per action">
                    <polyline points={polyline(&moved, max_cost)} fill="none" stroke="#3b6fd4" stroke-width="1.5" />
                    <polyline points={polyline(&locks, max_cost)} fill="none" stroke="#c2410c" stroke-width="1.5" />
                    <line x1={here.to_string()} x2={here.to_string()} y1="0" y2={H.to_string()} class="now" />
                </svg>
                <figcaption><span style="color:#3b6fd4">{ "pages moved " }</span>
                    <span style="color:#c2410c">{ "zone-lock acquisitions" }</span>{ " per action" }</figcaption>
            </figure>
        </section>
    }
}
