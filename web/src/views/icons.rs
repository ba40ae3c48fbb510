//! Transport icons as inline SVG: media-control characters are missing from many fonts.

use yew::prelude::*;

/// A 16×16 icon from path data, drawn in the text colour.
fn icon(d: &'static str) -> Html {
    html! {
        <svg class="icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
            <path d={d} fill="currentColor" />
        </svg>
    }
}

pub fn first() -> Html {
    icon("M3 3h2v10H3zM14 3v10L6 8z")
}
pub fn previous_action() -> Html {
    icon("M8 3v10L1 8zM15 3v10L8 8z")
}
pub fn step_out() -> Html {
    icon("M8 2l5 5h-3v4H6V7H3zM3 13h10v1.5H3z")
}
pub fn back() -> Html {
    icon("M12 3v10L4 8z")
}
pub fn play() -> Html {
    icon("M4 2.5v11L13.5 8z")
}
pub fn pause() -> Html {
    icon("M4 3h3v10H4zM9 3h3v10H9z")
}
pub fn step() -> Html {
    icon("M4 3v10l8-5zM12 3h1.5v10H12z")
}
pub fn step_over() -> Html {
    icon("M2 9a6 6 0 0 1 11-3.3V3h1.5v5.5H9V7h2.9A4.5 4.5 0 0 0 3.5 9zM7 11h2v2H7z")
}
pub fn next_action() -> Html {
    icon("M1 3v10l7-5zM8 3v10l7-5z")
}
pub fn last() -> Html {
    icon("M2 3v10l8-5zM11 3h2v10h-2z")
}
