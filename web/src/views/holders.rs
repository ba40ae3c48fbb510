//! The callers' lists and arrays: which pages each holds, slot by slot, NULL holes shown.

use std::rc::Rc;

use pageflow_core::machine::PAGE_CACHE;
use pageflow_core::mem::NIL;
use pageflow_core::view::HolderView;
use yew::prelude::*;

use crate::session::Frame;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub frame: Rc<Frame>,
}

/// Slots shown before "… and N more".
const SHOWN: usize = 96;
/// Holders shown: the non-empty ones, most recently created first (a long random run makes
/// hundreds, and drawing every slot of each would stall the page).
const HOLDERS_SHOWN: usize = 8;

#[function_component(Holders)]
pub fn holders(props: &Props) -> Html {
    let f = &props.frame;
    let names = &f.holder_names;
    let held: Vec<(usize, &HolderView)> = f
        .view
        .holders
        .iter()
        .enumerate()
        .filter(|(i, h)| *i as u32 != PAGE_CACHE && (h.blocks > 0 || !h.array.is_empty()))
        .collect();
    let shown: Vec<(usize, &HolderView)> = held.iter().rev().take(HOLDERS_SHOWN).copied().collect();
    let hidden = held.len() - shown.len();
    html! {
        <section class="panel" aria-labelledby="holders-title">
            <h2 id="holders-title">{ "Callers' lists and arrays" }</h2>
            <div data-testid="holders">
            { for shown.iter().map(|&(i, h)| {
                let name = names.get(i).cloned().unwrap_or_else(|| format!("caller {i}"));
                let array = !h.array.is_empty();
                let slots: Vec<u32> = if array { h.array.clone() } else { h.list.clone() };
                html! {
                <div class="holder" data-testid={format!("holder-{name}")}>
                    <h3>{ &name }<span class="muted">{ format!(" · {} {} · {} block{}", if array { "array" } else { "list" },
                        if array { "slots" } else { "head first" }, h.blocks, if h.blocks == 1 { "" } else { "s" }) }</span></h3>
                    <ol class={classes!("slots", array.then_some("array"))}>
                    { for slots.iter().take(SHOWN).enumerate().map(|(s, &pfn)| if pfn == NIL {
                        html! { <li class="slot null" title={format!("slot {s}: NULL")}>{ "NULL" }</li> }
                    } else {
                        html! { <li class="slot" title={format!("slot {s}: pfn {pfn}")}>{ pfn }</li> }
                    }) }
                    </ol>
                    if slots.len() > SHOWN { <p class="muted">{ format!("… and {} more", slots.len() - SHOWN) }</p> }
                </div>
            }}) }
            </div>
            if hidden > 0 {
                <p class="muted">{ format!("… and {hidden} more callers holding pages") }</p>
            }
            if held.is_empty() {
                <p class="muted">{ "No caller holds pages here." }</p>
            }
            <p class="muted">{ format!("page cache: {} pages", f.view.holders.first().map_or(0, |h| h.blocks)) }</p>
        </section>
    }
}
