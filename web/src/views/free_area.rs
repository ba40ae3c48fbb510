//! The buddy allocator's `free_area` per zone: free blocks by order and migratetype, with
//! `NR_FREE_PAGES` drawn against the min/low/high watermarks.

use std::rc::Rc;

use pageflow_core::gfp::Wmark;
use pageflow_core::mem::{MigrateType, NR_PAGE_ORDERS};
use yew::prelude::*;

use crate::session::Frame;
use crate::views::tenths;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub frame: Rc<Frame>,
}

/// Free pages against the watermarks, as a bar: where min, low and high fall.
fn watermark_bar(free: i64, marks: [u64; 3], managed: u64) -> Html {
    // Watermarks are small next to a zone; show the bottom tenth magnified when they would vanish.
    let top = ((marks[2] as f64) * 4.0).max(free as f64 * 1.1).min(managed as f64).max(1.0);
    let pct = |v: f64| (v / top * 100.0).clamp(0.0, 100.0);
    let state = if free <= marks[0] as i64 {
        "below min"
    } else if free <= marks[1] as i64 {
        "below low"
    } else if free <= marks[2] as i64 {
        "below high"
    } else {
        "above high"
    };
    html! {
        <div class="wmark" role="img"
            aria-label={format!("{free} free pages; min {}, low {}, high {}: {state}", marks[0], marks[1], marks[2])}>
            <div class="wmark-fill" style={format!("width:{}%", tenths(pct(free as f64)))}></div>
            { for [("min", marks[0]), ("low", marks[1]), ("high", marks[2])].into_iter().map(|(n, m)| html! {
                <div class={classes!("wmark-line", n)} style={format!("left:{}%", tenths(pct(m as f64)))} title={format!("{n} {m}")}></div>
            }) }
            <span class="wmark-text">{ format!("{free} free · min {} · low {} · high {} ({state})", marks[0], marks[1], marks[2]) }</span>
        </div>
    }
}

#[function_component(FreeArea)]
pub fn free_area(props: &Props) -> Html {
    let f = &props.frame;
    let m = &f.machine;
    html! {
        <section class="panel" aria-labelledby="fa-title">
            <h2 id="fa-title">{ "Buddy free_area" }</h2>
            { for m.zones.iter().zip(&f.view.zones).map(|(z, zv)| {
                let marks = [z.wmark_pages(Wmark::Min), z.wmark_pages(Wmark::Low), z.wmark_pages(Wmark::High)];
                html! {
                <details open={z.managed_pages > 0} class="zone">
                    <summary>{ format!("{} · {} managed pages", z.label(), z.managed_pages) }</summary>
                    { watermark_bar(zv.nr_free_pages, marks, z.managed_pages) }
                    <table class="free-area" data-testid={format!("free-area-{}", z.id)}>
                        <caption class="sr-only">{ format!("Free blocks of {} by order and migratetype", z.label()) }</caption>
                        <thead><tr><th scope="col">{ "order" }</th>
                            { for (0..NR_PAGE_ORDERS).map(|o| html! { <th scope="col">{ o }</th> }) }</tr></thead>
                        <tbody>
                        { for MigrateType::ALL.iter().filter(|mt| **mt != MigrateType::Isolate).map(|mt| html! {
                            <tr><th scope="row">{ mt.name() }</th>
                            { for (0..NR_PAGE_ORDERS).map(|o| {
                                let n = zv.free_blocks[o][mt.index()];
                                html! { <td class={classes!((n == 0).then_some("zero"))}>{ n }</td> }
                            }) }</tr>
                        }) }
                        <tr class="total"><th scope="row">{ "buddyinfo" }</th>
                            { for zv.buddyinfo().iter().map(|n| html! { <td>{ n }</td> }) }</tr>
                        </tbody>
                    </table>
                </details>
            }}) }
        </section>
    }
}
