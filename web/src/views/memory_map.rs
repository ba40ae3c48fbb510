//! The memory map: every pfn a cell on a canvas, coloured by where the page is. At high zoom-out a
//! cell stands for several pages and shows the busiest of them (a caller's or a pcp page wins over
//! a free one), so a lone allocated page never disappears in a sea of free memory.

use std::rc::Rc;

use pageflow_core::view::PageClass;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};
use yew::prelude::*;

use crate::palette;
use crate::session::Frame;

/// Canvas width in cells.
const COLUMNS: usize = 512;

/// How much a class should show when cells are shared: allocated > pcp > page cache > buddy.
fn weight(code: u8) -> u8 {
    match PageClass::from_code(code) {
        PageClass::Allocated => 4,
        PageClass::Pcp { .. } => 3,
        PageClass::PageCache => 2,
        PageClass::Buddy { .. } => 1,
        PageClass::Reserved => 0,
    }
}

/// Cells of `pages_per_cell` pages each, from `first`: one class code per cell.
pub fn cells(class: &[u8], first: usize, pages_per_cell: usize, count: usize) -> Vec<u8> {
    (0..count)
        .map(|i| {
            let start = first + i * pages_per_cell;
            let end = (start + pages_per_cell).min(class.len());
            if start >= end {
                return 0;
            }
            class[start..end].iter().copied().max_by_key(|&c| weight(c)).unwrap_or(0)
        })
        .collect()
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub frame: Rc<Frame>,
}

/// Where the last event's block is on the canvas: `(x, y, cells)` from its first cell.
fn mark_cells(
    touched: Option<(u32, u8)>,
    first: usize,
    ppc: usize,
    rows: usize,
) -> Option<(usize, usize, usize)> {
    let (pfn, order) = touched?;
    let start = (pfn as usize).checked_sub(first)? / ppc;
    let cells = ((1usize << order) / ppc).max(1);
    (start < COLUMNS * rows).then_some((start % COLUMNS, start / COLUMNS, cells))
}

/// Draw, timed with the User Timing API (`pageflow-map-draw` measures) for the browser benchmark.
fn draw(canvas: &HtmlCanvasElement, frame: &Frame, first: usize, ppc: usize, rows: usize) {
    let performance = web_sys::window().and_then(|w| w.performance());
    if let Some(p) = &performance {
        let _ = p.mark("pageflow-map-draw-start");
    }
    paint(canvas, frame, first, ppc, rows);
    if let Some(p) = &performance {
        let _ = p.mark("pageflow-map-draw-end");
        let _ = p.measure_with_start_mark_and_end_mark(
            "pageflow-map-draw",
            "pageflow-map-draw-start",
            "pageflow-map-draw-end",
        );
    }
}

fn paint(canvas: &HtmlCanvasElement, frame: &Frame, first: usize, ppc: usize, rows: usize) {
    let class = &frame.view.class;
    let Ok(Some(ctx)) = canvas.get_context("2d") else { return };
    let Ok(ctx) = ctx.dyn_into::<CanvasRenderingContext2d>() else { return };
    let (even, odd) = (palette::table(false), palette::table(true));
    let cells = cells(class, first, ppc, COLUMNS * rows);
    let mut rgba = Vec::with_capacity(cells.len() * 4);
    for (i, c) in cells.into_iter().enumerate() {
        let pfn = first + i * ppc;
        let shade = match PageClass::from_code(c) {
            PageClass::Buddy { order, .. } if (pfn >> order) & 1 == 1 => &odd,
            _ => &even,
        };
        rgba.extend_from_slice(&shade[c as usize]);
    }
    if let Ok(image) =
        ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), COLUMNS as u32, rows as u32)
    {
        let _ = ctx.put_image_data(&image, 0.0, 0.0);
    }
    // The block that just moved: outlined, so the eye finds where the step happened.
    if let Some((x, y, cells)) = mark_cells(frame.touched, first, ppc, rows) {
        ctx.set_stroke_style_str("#ffd400");
        ctx.set_line_width(2.0);
        let width = cells.min(COLUMNS - x);
        ctx.stroke_rect(x as f64 - 2.0, y as f64 - 2.0, width as f64 + 4.0, 5.0);
    }
}

#[function_component(MemoryMap)]
pub fn memory_map(props: &Props) -> Html {
    let canvas = use_node_ref();
    let pages = props.frame.view.class.len();
    // Zoom: pages per cell, a power of two; the smallest that fits the whole machine is "fit".
    let fit = pages.div_ceil(COLUMNS * 512).next_power_of_two().max(1);
    let ppc = use_state(|| 0usize);
    let first = use_state(|| 0usize);
    let per_cell = if *ppc == 0 { fit } else { *ppc };
    let rows = (pages.saturating_sub(*first)).div_ceil(COLUMNS * per_cell).clamp(1, 512);
    {
        let canvas = canvas.clone();
        let frame = props.frame.clone();
        let first = *first;
        use_effect_with((frame, per_cell, first, rows), move |(frame, ppc, first, rows)| {
            if let Some(c) = canvas.cast::<HtmlCanvasElement>() {
                draw(&c, frame, *first, *ppc, *rows);
            }
        });
    }
    let zoom = |factor: i32| {
        let ppc = ppc.clone();
        let first = first.clone();
        Callback::from(move |_| {
            let now = if *ppc == 0 { fit } else { *ppc };
            let next = if factor > 0 { (now / 2).max(1) } else { (now * 2).min(fit) };
            ppc.set(next);
            if next == fit {
                first.set(0);
            }
        })
    };
    let scroll = |dir: i64| {
        let first = first.clone();
        Callback::from(move |_| {
            let page = (COLUMNS * 512 * per_cell) as i64 / 2;
            let next = (*first as i64 + dir * page).clamp(0, pages.saturating_sub(1) as i64);
            first.set(next as usize);
        })
    };
    let on_click = {
        let canvas = canvas.clone();
        let frame = props.frame.clone();
        let first = *first;
        let hover = use_state(String::new);
        let hover_set = hover.clone();
        let cb = Callback::from(move |e: MouseEvent| {
            let Some(c) = canvas.cast::<HtmlCanvasElement>() else { return };
            let rect = c.get_bounding_client_rect();
            let x = ((f64::from(e.client_x()) - rect.left()) / rect.width() * COLUMNS as f64) as usize;
            let y = ((f64::from(e.client_y()) - rect.top()) / rect.height() * f64::from(c.height())) as usize;
            let pfn = first + (y * COLUMNS + x) * per_cell;
            if pfn < frame.view.class.len() {
                let class = frame.view.class_of(pfn as u32);
                hover_set.set(format!("pfn {pfn}: {}", crate::views::legend::class_text(class)));
            }
        });
        (cb, hover)
    };
    let (on_pick, picked) = on_click;
    let shown_end = (*first + rows * COLUMNS * per_cell).min(pages);
    html! {
        <section class="panel memory-map" aria-labelledby="map-title">
            <h2 id="map-title">{ "Memory map" }</h2>
            <div class="map-tools">
                <button onclick={zoom(1)} aria-label="Zoom in" title="Zoom in">{ "+" }</button>
                <button onclick={zoom(-1)} aria-label="Zoom out" title="Zoom out">{ "−" }</button>
                <button onclick={scroll(-1)} aria-label="Earlier pfns" disabled={*first == 0}>{ "▲" }</button>
                <button onclick={scroll(1)} aria-label="Later pfns" disabled={shown_end >= pages}>{ "▼" }</button>
                <span class="muted" data-testid="map-scale">
                    { format!("pfn {}–{} · {} page{} per cell", *first, shown_end, per_cell, if per_cell == 1 { "" } else { "s" }) }
                </span>
            </div>
            <canvas ref={canvas} width={COLUMNS.to_string()} height={rows.to_string()}
                data-testid="memory-map" onclick={on_pick}
                role="img" aria-label={format!("Memory map of {pages} page frames, coloured by where each page is")}></canvas>
            <p class="muted" aria-live="polite">{ (*picked).clone() }</p>
            <crate::views::legend::Legend frame={props.frame.clone()} />
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pageflow_core::mem::MigrateType;

    #[test]
    fn a_shared_cell_shows_an_allocated_page_over_free_ones() {
        let free = PageClass::Buddy { order: 3, mt: MigrateType::Movable }.code();
        let mut class = vec![free; 16];
        class[5] = PageClass::Allocated.code();
        assert_eq!(cells(&class, 0, 8, 2), vec![PageClass::Allocated.code(), free]);
    }
}
