//! Plots over the run, drawn as SVG so they scale and stay sharp: free pages per zone and pages on
//! pcp lists after each action, each action's zone-lock acquisitions, pages moved and simulated
//! ns per page, and the sizes of sunrpc's allocator requests.

use std::rc::Rc;

use pageflow_core::cost::CostModel;
use pageflow_core::users::sunrpc::RequestHistogram;
use yew::prelude::*;

use crate::session::Frame;
use crate::views::{tenths, whole};

#[derive(Properties, PartialEq)]
pub struct Props {
    pub frame: Rc<Frame>,
}

const W: f64 = 320.0;
const H: f64 = 90.0;
const LINE_COLORS: [&str; 4] = ["#2b8a6e", "#3b6fd4", "#c2410c", "#7c3aed"];

fn polyline(values: &[f64], max: f64) -> String {
    let n = values.len().max(2) - 1;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!("{},{}", tenths(i as f64 / n as f64 * W), tenths(H - v / max.max(1.0) * (H - 4.0)))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line chart: `(label, colour, values)` per series, a marker at the current action.
fn chart(id: &str, label: &str, series: &[(String, &str, Vec<f64>)], max: f64, here: f64) -> Html {
    html! {
        <figure>
            <svg viewBox={format!("0 0 {} {}", whole(W), whole(H))} role="img" data-testid={id.to_owned()} aria-label={label.to_owned()}>
                { for series.iter().map(|(_, color, values)| html! {
                    <polyline points={polyline(values, max)} fill="none" stroke={color.to_string()} stroke-width="1.5" />
                }) }
                <line x1={tenths(here)} x2={tenths(here)} y1="0" y2={whole(H)} class="now" />
            </svg>
            <figcaption>{ format!("{label}: ") }
                { for series.iter().map(|(name, color, _)| html! { <span style={format!("color:{color}")}>{ format!("{name} ") }</span> }) }
                { format!("(top {})", whole(max)) }
            </figcaption>
        </figure>
    }
}

/// The request-size histogram as bars: calls per bucket, the single-page share darker.
fn histogram(h: &RequestHistogram) -> Html {
    let max = h.buckets.iter().map(|b| b.calls).max().unwrap_or(1).max(1) as f64;
    let width = W / h.buckets.len().max(1) as f64;
    let label = |lo: u32, hi: u32| match (lo, hi) {
        (lo, u32::MAX) => format!("{lo}+"),
        (lo, hi) if lo == hi => lo.to_string(),
        (lo, hi) => format!("{lo}-{hi}"),
    };
    html! {
        <figure>
            <svg viewBox={format!("0 0 {} {}", whole(W), whole(H + 12.0))} role="img" data-testid="plot-request-sizes"
                aria-label={format!("sunrpc allocator calls by pages asked for: {} calls, {} to the single-page path", h.calls, h.single_page)}>
                { for h.buckets.iter().enumerate().map(|(i, b)| {
                    let x = i as f64 * width;
                    let all = b.calls as f64 / max * (H - 4.0);
                    let single = b.single_page as f64 / max * (H - 4.0);
                    html! {
                    <g>
                        <title>{ format!("{} pages: {} calls, {} single-page", label(b.lo, b.hi), b.calls, b.single_page) }</title>
                        <rect x={tenths(x + 1.0)} y={tenths(H - all)} width={tenths(width - 2.0)}
                            height={tenths(all)} fill="#3b6fd4" />
                        <rect x={tenths(x + 1.0)} y={tenths(H - single)} width={tenths(width - 2.0)}
                            height={tenths(single)} fill="#c2410c" />
                        <text x={tenths(x + width / 2.0)} y={whole(H + 10.0)} font-size="7" text-anchor="middle"
                            class="axis">{ label(b.lo, b.hi) }</text>
                    </g>
                }}) }
            </svg>
            <figcaption>{ format!("sunrpc allocator calls by pages asked for ({} calls; ", h.calls) }
                <span style="color:#c2410c">{ format!("{} went to the single-page path", h.single_page) }</span>{ ")" }</figcaption>
        </figure>
    }
}

#[function_component(Plots)]
pub fn plots(props: &Props) -> Html {
    let f = &props.frame;
    let here = if f.actions == 0 { 0.0 } else { f.action as f64 / f.actions.max(1) as f64 * W };
    // Each zone as a share of its managed pages, so a 16 MiB DMA zone reads beside a 1 GiB one.
    let free: Vec<(String, &str, Vec<f64>)> = f
        .machine
        .zones
        .iter()
        .enumerate()
        .map(|(z, zone)| {
            let managed = zone.managed_pages.max(1) as f64;
            let values =
                f.samples.iter().map(|s| s.free.get(z).copied().unwrap_or(0) as f64 / managed * 100.0);
            (zone.label(), LINE_COLORS[z % 4], values.collect())
        })
        .collect();
    let pcp: Vec<f64> = f.samples.iter().map(|s| s.pcp as f64).collect();
    let pcp_max = pcp.iter().copied().fold(0.0, f64::max);
    let locks: Vec<f64> = f.outcomes.iter().map(|o| o.cost.zone_lock as f64).collect();
    let moved: Vec<f64> = f.outcomes.iter().map(|o| o.cost.pages_moved as f64).collect();
    let max_cost = locks.iter().chain(&moved).copied().fold(0.0, f64::max);
    let model = CostModel::for_profile(f.machine.profile);
    let per_page: Vec<f64> =
        f.outcomes.iter().map(|o| model.nanos(&o.cost) / o.cost.pages_moved.max(1) as f64).collect();
    let per_page_max = per_page.iter().copied().fold(0.0, f64::max);
    html! {
        <section class="panel plots" aria-labelledby="plots-title">
            <h2 id="plots-title">{ "Over time" }</h2>
            { chart("plot-free", "Free pages per zone, % of managed", &free, 100.0, here) }
            { chart("plot-pcp", "Pages on pcp lists, all CPUs", &[("pcp pages".into(), "#d97706", pcp)], pcp_max, here) }
            { chart("plot-cost", "Per action", &[("pages moved".into(), "#3b6fd4", moved), ("zone->lock sections".into(), "#c2410c", locks)], max_cost, here) }
            { chart("plot-ns-per-page", "Simulated ns per page moved (a model, not measured)",
                &[("sim ns / page".into(), "#7c3aed", per_page)], per_page_max, here) }
            if let Some(h) = &f.request_sizes {
                { histogram(h) }
            }
        </section>
    }
}
