//! Lesson text is Markdown (CommonMark, no extensions). A UI draws it from [`Token`]s, never from
//! HTML: raw HTML in the text is dropped, images become their alt text, and a link keeps its
//! target only when it is an `http(s)` URL, so nothing in a lesson can become markup or script.

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag as CmarkTag};
use serde::Serialize;

/// A block or inline element that a [`Token::Start`] opens and the matching [`Token::End`] closes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "tag", rename_all = "snake_case")]
pub enum Tag {
    Paragraph,
    Heading { level: u8 },
    BlockQuote,
    CodeBlock,
    List { ordered: bool },
    Item,
    Emphasis,
    Strong,
    Link { url: String },
}

/// One token of rendered lesson text. Starts and ends nest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "token", content = "value", rename_all = "snake_case")]
pub enum Token {
    Start(Tag),
    /// Closes the innermost open [`Token::Start`].
    End,
    /// Text to show as it is (a UI escapes it).
    Text(String),
    /// Inline code.
    Code(String),
    SoftBreak,
    HardBreak,
    Rule,
}

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
            Event::Text(s) => out.push(Token::Text(s.into_string())),
            Event::Code(s) => out.push(Token::Code(s.into_string())),
            Event::SoftBreak => out.push(Token::SoftBreak),
            Event::HardBreak => out.push(Token::HardBreak),
            Event::Rule => out.push(Token::Rule),
            _ => {}
        }
    }
    out
}

/// The tokens as plain text, for a terminal: paragraphs and list items on their own lines.
pub fn to_text(tokens: &[Token]) -> String {
    let mut out = String::new();
    let mut stack = Vec::new();
    for token in tokens {
        match token {
            Token::Start(t) => {
                match t {
                    Tag::Heading { level } => out += &format!("{} ", "#".repeat(*level as usize)),
                    Tag::Item => out += "  - ",
                    Tag::CodeBlock => out += "\n",
                    _ => {}
                }
                stack.push(t);
            }
            Token::End => match stack.pop() {
                Some(Tag::Paragraph | Tag::Heading { .. } | Tag::CodeBlock) => out += "\n\n",
                Some(Tag::Link { url }) => out += &format!(" <{url}>"),
                Some(Tag::List { .. } | Tag::Item) => out += "\n",
                _ => {}
            },
            Token::Text(s) if stack.contains(&&Tag::CodeBlock) => {
                out += &s.lines().map(|l| format!("    {l}\n")).collect::<String>()
            }
            Token::Text(s) => out += s,
            Token::Code(s) => out += &format!("`{s}`"),
            Token::SoftBreak => out += " ",
            Token::HardBreak => out += "\n",
            Token::Rule => out += "----\n\n",
        }
    }
    out.trim_end().to_owned() + "\n"
}
