//! Lesson Markdown (CommonMark, no extensions) to [`Token`]s, dropping raw HTML. The build runs
//! this on the embedded lessons (build.rs includes this file), and `Lesson::parse` on
//! other lesson files; the browser's wasm only reads the tokens.

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag as CmarkTag};

use super::markdown::{Tag, Token};

fn level(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// The tag a Markdown element becomes, or `None` for one whose markup is dropped (raw HTML
/// blocks, images, links to anything but an `http(s)` URL) while its text, if any, is kept.
fn tag(t: CmarkTag<'_>) -> Option<Tag> {
    Some(match t {
        CmarkTag::Paragraph => Tag::Paragraph,
        CmarkTag::Heading { level: l, .. } => Tag::Heading { level: level(l) },
        CmarkTag::BlockQuote(_) => Tag::BlockQuote,
        CmarkTag::CodeBlock(_) => Tag::CodeBlock,
        CmarkTag::List(start) => Tag::List { ordered: start.is_some() },
        CmarkTag::Item => Tag::Item,
        CmarkTag::Emphasis => Tag::Emphasis,
        CmarkTag::Strong => Tag::Strong,
        CmarkTag::Link { dest_url, .. }
            if dest_url.starts_with("https://") || dest_url.starts_with("http://") =>
        {
            Tag::Link { url: dest_url.into_string() }
        }
        _ => return None,
    })
}

/// Render Markdown to tokens, dropping raw HTML.
pub fn render(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    // For each open element: whether its start was emitted (so its end is too).
    let mut open = Vec::new();
    for event in Parser::new(text) {
        match event {
            Event::Start(t) => {
                let kept = tag(t);
                open.push(kept.is_some());
                out.extend(kept.map(Token::Start));
            }
            Event::End(_) if open.pop().unwrap_or(false) => out.push(Token::End),
            Event::End(_) => {}
            // One text token for a run of text events (the parser splits text at characters that
            // could have been markup), so a `{{name}}` placeholder is always whole in one token.
            Event::Text(s) => match out.last_mut() {
                Some(Token::Text(last)) => last.push_str(&s),
                _ => out.push(Token::Text(s.into_string())),
            },
            Event::Code(s) => out.push(Token::Code(s.into_string())),
            Event::SoftBreak => out.push(Token::SoftBreak),
            Event::HardBreak => out.push(Token::HardBreak),
            Event::Rule => out.push(Token::Rule),
            _ => {}
        }
    }
    out
}
