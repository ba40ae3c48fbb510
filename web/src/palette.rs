//! Colours of the memory map and its legend: buddy blocks in greens that darken with order, each
//! CPU's pcp pages in its own warm hue, callers' pages in red, the page cache in violet.

use pageflow_core::view::PageClass;

/// An sRGB colour.
pub type Rgb = [u8; 3];

const RESERVED: Rgb = [96, 96, 108];
const PAGE_CACHE: Rgb = [150, 110, 215];
const ALLOCATED: Rgb = [222, 60, 90];

/// HSL (degrees, percent, percent) to RGB.
fn hsl(h: f32, s: f32, l: f32) -> Rgb {
    let (s, l) = (s / 100.0, l / 100.0);
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = (h % 360.0) / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    [((r + m) * 255.0).round() as u8, ((g + m) * 255.0).round() as u8, ((b + m) * 255.0).round() as u8]
}

/// The colour of a page class.
pub fn color(class: PageClass) -> Rgb {
    match class {
        PageClass::Reserved => RESERVED,
        PageClass::Buddy { order, .. } => {
            hsl(150.0 + f32::from(order) * 4.0, 55.0, 78.0 - f32::from(order) * 4.5)
        }
        PageClass::Pcp { cpu } => {
            hsl(18.0 + f32::from(cpu % 8) * 6.0, 90.0, 50.0 + f32::from(cpu / 8 % 3) * 8.0)
        }
        PageClass::PageCache => PAGE_CACHE,
        PageClass::Allocated => ALLOCATED,
    }
}

/// A CSS colour for the legend and the tables.
pub fn css(class: PageClass) -> String {
    let [r, g, b] = color(class);
    format!("rgb({r},{g},{b})")
}

/// The RGBA of every class code, for filling image data a byte at a time; `odd` gives the shade
/// of free blocks at odd positions (`(pfn >> order) & 1`), so neighbouring buddies show apart and
/// a split or a merge is visible.
pub fn table(odd: bool) -> Vec<[u8; 4]> {
    (0..=255u8)
        .map(|code| {
            let class = PageClass::from_code(code);
            let [r, g, b] = color(class);
            match class {
                PageClass::Buddy { .. } if odd => {
                    let darker = |v: u8| (f32::from(v) * 0.86) as u8;
                    [darker(r), darker(g), darker(b), 255]
                }
                _ => [r, g, b, 255],
            }
        })
        .collect()
}
