//! The memory map's legend, which doubles as a count of pages in each kind of place.

use std::rc::Rc;

use pageflow_core::mem::MigrateType;
use pageflow_core::view::PageClass;
use yew::prelude::*;

use crate::palette::css;
use crate::session::Frame;

/// A page class in words.
pub fn class_text(c: PageClass) -> String {
    match c {
        PageClass::Reserved => "reserved (never given to the allocator)".into(),
        PageClass::Buddy { order, mt } => format!("free, in an order-{order} {} block", mt.name()),
        PageClass::Pcp { cpu } => format!("on cpu{cpu}'s pcp list"),
        PageClass::PageCache => "page cache (reclaimable)".into(),
        PageClass::Allocated => "held by a caller".into(),
    }
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub frame: Rc<Frame>,
}

#[function_component(Legend)]
pub fn legend(props: &Props) -> Html {
    let v = &props.frame.view;
    let mut counts = [0u64; 256];
    for &c in &v.class {
        counts[c as usize] += 1;
    }
    let sum = |f: &dyn Fn(PageClass) -> bool| -> u64 {
        (0..=255u8).filter(|&c| f(PageClass::from_code(c))).map(|c| counts[c as usize]).sum()
    };
    let free = sum(&|c| matches!(c, PageClass::Buddy { .. }));
    let pcp = sum(&|c| matches!(c, PageClass::Pcp { .. }));
    let cache = counts[PageClass::PageCache.code() as usize];
    let held = counts[PageClass::Allocated.code() as usize];
    let reserved = counts[0];
    let swatch =
        |c: PageClass| html! { <span class="swatch" style={format!("background:{}", css(c))}></span> };
    let buddy = |o: u8| PageClass::Buddy { order: o, mt: MigrateType::Movable };
    html! {
        <ul class="legend" data-testid="legend">
            <li>{ swatch(buddy(0)) }{ swatch(buddy(5)) }{ swatch(buddy(10)) }
                { format!("free (buddy, order 0 → 10): {free}") }</li>
            <li>{ swatch(PageClass::Pcp { cpu: 0 }) }{ swatch(PageClass::Pcp { cpu: 3 }) }
                { format!("on pcp lists: {pcp}") }</li>
            <li>{ swatch(PageClass::Allocated) }<span data-testid="legend-held">{ format!("held by callers: {held}") }</span></li>
            <li>{ swatch(PageClass::PageCache) }{ format!("page cache: {cache}") }</li>
            <li>{ swatch(PageClass::Reserved) }{ format!("reserved: {reserved}") }</li>
        </ul>
    }
}
