//! The event log around the cursor and the list of actions with what each returned and cost.

use std::rc::Rc;

use yew::prelude::*;

use crate::session::Frame;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub frame: Rc<Frame>,
    pub on_seek: Callback<usize>,
}

#[function_component(EventLog)]
pub fn event_log(props: &Props) -> Html {
    let f = &props.frame;
    html! {
        <section class="panel" aria-labelledby="log-title">
            <h2 id="log-title">{ format!("Events ({} of {})", f.pos, f.total) }</h2>
            <ol class="event-log" data-testid="event-log">
            { for f.window.iter().map(|(i, text)| {
                let i = *i;
                let seek = props.on_seek.reform(move |_| i + 1);
                let done = i < f.pos;
                let just = i + 1 == f.pos;
                html! {
                <li class={classes!(done.then_some("done"), just.then_some("current"))}
                    aria-current={just.then_some("step")}>
                    <button class="link" onclick={seek} title="Go to just after this event">{ format!("{:>6}", i + 1) }</button>
                    { " " }{ text }
                </li>
            }}) }
            </ol>
        </section>
    }
}

#[function_component(ActionList)]
pub fn action_list(props: &Props) -> Html {
    let f = &props.frame;
    html! {
        <section class="panel" aria-labelledby="actions-title">
            <h2 id="actions-title">{ "Actions" }</h2>
            <div class="table-scroll">
            <table class="actions" data-testid="action-list">
                <thead><tr><th scope="col">{ "#" }</th><th scope="col">{ "call" }</th><th scope="col">{ "returned" }</th>
                    <th scope="col" title="zone->lock acquisitions">{ "zone lock" }</th>
                    <th scope="col" title="pcp lock / IRQ-off sections">{ "pcp/irq" }</th>
                    <th scope="col">{ "pages moved" }</th></tr></thead>
                <tbody>
                { for f.outcomes.iter().enumerate().map(|(i, o)| {
                    let start = o.events.0;
                    let seek = props.on_seek.reform(move |_| start);
                    html! {
                    <tr class={classes!((i == f.action).then_some("current"))} data-testid="action-row">
                        <td><button class="link" onclick={seek} title="Go to the start of this action">{ i }</button></td>
                        <td><code>{ &o.call }</code></td>
                        <td data-testid="action-result">{ &o.result }</td>
                        <td>{ o.cost.zone_lock }</td>
                        <td>{ o.cost.pcp_lock.max(o.cost.irq_off) }</td>
                        <td>{ o.cost.pages_moved }</td>
                    </tr>
                }}) }
                </tbody>
            </table>
            </div>
        </section>
    }
}
