//! Side by side: the same actions on a second configuration (another kernel, batch, high or CPU
//! count, or the single-page path forced by page_owner), with the counters of both and their
//! difference, from the core's `compare`.

use pageflow_core::compare::{compare, Comparison};
use pageflow_core::profile::PROFILES;
use pageflow_core::Scenario;
use std::rc::Rc;
use web_sys::{HtmlInputElement, HtmlSelectElement};

use yew::prelude::*;

use crate::session::{Frame, Session};
use crate::views::memory_map::MemoryMap;
use crate::views::pcp::PcpColumns;
use crate::views::{tenths, whole};

#[derive(Properties, PartialEq)]
pub struct Props {
    /// The scenario running now: side A.
    pub scenario: Scenario,
}

/// Side B: side A with the fields the form changes.
fn variant(
    a: &Scenario,
    profile: &str,
    batch: Option<u32>,
    high: Option<u32>,
    cpus: u32,
    single: bool,
) -> Scenario {
    let mut b = a.clone();
    b.profile = profile.to_owned();
    b.machine.pcp_batch = batch;
    b.machine.pcp_high = high;
    b.machine.cpus = cpus;
    // page_owner makes every bulk call take the single-page path (the kernel's own rule).
    b.machine.page_owner = single;
    b.name = format!("{} (B)", a.name);
    b
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        whole(v)
    } else {
        tenths(v)
    }
}

#[function_component(ComparePanel)]
pub fn compare_panel(props: &Props) -> Html {
    let a = &props.scenario;
    let profile = use_state(|| a.profile.clone());
    let batch = use_state(|| a.machine.pcp_batch);
    let high = use_state(|| a.machine.pcp_high);
    let cpus = use_state(|| a.machine.cpus);
    let single = use_state(|| false);
    let result = use_state(|| None::<Result<Comparison, String>>);
    // Side B played to its end, for its own panes.
    let pane = use_state(|| None::<Rc<Frame>>);
    let run = {
        let (profile, batch, high, cpus, single, result, pane) = (
            profile.clone(),
            batch.clone(),
            high.clone(),
            cpus.clone(),
            single.clone(),
            result.clone(),
            pane.clone(),
        );
        let a = a.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let b = variant(&a, &profile, *batch, *high, *cpus, *single);
            let compared = compare(&a, &b, None).map_err(|e| e.to_string());
            pane.set(compared.is_ok().then(|| Session::new(&b).ok()).flatten().map(|mut s| {
                s.go(usize::MAX);
                Rc::new(s.frame())
            }));
            result.set(Some(compared));
        })
    };
    let num = |h: UseStateHandle<Option<u32>>| {
        Callback::from(move |e: Event| {
            h.set(e.target_unchecked_into::<HtmlInputElement>().value().trim().parse().ok())
        })
    };
    let on_cpus = {
        let cpus = cpus.clone();
        Callback::from(move |e: Event| {
            cpus.set(e.target_unchecked_into::<HtmlInputElement>().value().parse().unwrap_or(0))
        })
    };
    let on_profile = {
        let profile = profile.clone();
        Callback::from(move |e: Event| profile.set(e.target_unchecked_into::<HtmlSelectElement>().value()))
    };
    let on_single = {
        let single = single.clone();
        Callback::from(move |e: Event| single.set(e.target_unchecked_into::<HtmlInputElement>().checked()))
    };
    html! {
        <section class="panel compare" aria-labelledby="cmp-title">
            <h2 id="cmp-title">{ "Side by side" }</h2>
            <form class="controls cmp-form" onsubmit={run} novalidate=true>
                <p class="muted">{ "The same actions again as B, with:" }</p>
                <label>{ "kernel " }
                    <select onchange={on_profile} data-testid="cmp-profile">
                    { for PROFILES.iter().map(|p| html! { <option value={p.id} selected={p.id == *profile}>{ p.id }</option> }) }
                    </select></label>
                <label>{ "CPUs " }<input type="number" min="1" max="64" value={cpus.to_string()} onchange={on_cpus} data-testid="cmp-cpus" /></label>
                <label>{ "pcp batch " }<input type="number" min="1" placeholder="kernel's" onchange={num(batch.clone())}
                    value={batch.map(|b| b.to_string()).unwrap_or_default()} data-testid="cmp-batch" /></label>
                <label>{ "pcp high " }<input type="number" min="1" placeholder="kernel's" onchange={num(high.clone())}
                    value={high.map(|b| b.to_string()).unwrap_or_default()} /></label>
                <label title="page_owner on: the kernel sends every bulk request to the single-page allocator">
                    { "single-page path (page_owner) " }<input type="checkbox" checked={*single} onchange={on_single} /></label>
                <button type="submit" data-testid="cmp-run">{ "Compare" }</button>
            </form>
            { match &*result {
                None => html! {},
                Some(Err(e)) => html! { <p class="error" role="alert" data-testid="cmp-error">{ e }</p> },
                Some(Ok(c)) => html! {
                    <>
                    <table class="cmp" data-testid="cmp-totals">
                        <caption>{ format!("A: {} on {} · B: {} on {}", c.a.scenario, c.a.profile, c.b.scenario, c.b.profile) }</caption>
                        <thead><tr><th scope="col">{ "total" }</th><th scope="col">{ "A" }</th><th scope="col">{ "B" }</th><th scope="col">{ "B − A" }</th></tr></thead>
                        <tbody>
                        { for c.totals.iter().chain(&c.user_rows).map(|r| html! {
                            <tr><th scope="row">{ &r.name }</th><td>{ number(r.a) }</td><td>{ number(r.b) }</td>
                                <td class={classes!(if r.delta < 0.0 { "better" } else if r.delta > 0.0 { "worse" } else { "" })}>
                                    { if r.delta > 0.0 { format!("+{}", number(r.delta)) } else { number(r.delta) } }</td></tr>
                        }) }
                        </tbody>
                    </table>
                    <table class="cmp">
                        <thead><tr><th scope="col">{ "#" }</th><th scope="col">{ "A returned" }</th><th scope="col">{ "B returned" }</th>
                            <th scope="col">{ "A sim ns" }</th><th scope="col">{ "B sim ns" }</th></tr></thead>
                        <tbody>
                        { for c.calls.iter().map(|p| html! {
                            <tr><td title={p.a.as_ref().map(|s| s.call.clone()).unwrap_or_default()}>{ p.action }</td>
                                <td>{ p.a.as_ref().map(|s| s.result.clone()).unwrap_or_default() }</td>
                                <td>{ p.b.as_ref().map(|s| s.result.clone()).unwrap_or_default() }</td>
                                <td>{ p.a.as_ref().map(|s| whole(s.sim_ns)).unwrap_or_default() }</td>
                                <td>{ p.b.as_ref().map(|s| whole(s.sim_ns)).unwrap_or_default() }</td></tr>
                        }) }
                        </tbody>
                    </table>
                    <p class="muted">{ "sim ns: simulated by the cost model, not measured." }</p>
                    if let Some(frame) = (*pane).clone() {
                        <h3>{ "B at the end of its run" }</h3>
                        <div class="pane-b" data-testid="cmp-pane-b">
                            <MemoryMap frame={frame.clone()} />
                            <PcpColumns frame={frame} />
                        </div>
                    }
                    </>
                },
            } }
        </section>
    }
}
