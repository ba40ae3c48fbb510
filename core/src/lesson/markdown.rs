//! Lesson text as a UI draws it: [`Token`]s, never HTML. The lesson files' Markdown becomes
//! tokens when the crate is built (build.rs, through `lesson::commonmark`), so the browser's
//! wasm carries no Markdown parser; raw HTML is dropped then, images become their alt text, and a
//! link keeps its target only when it is an `http(s)` URL, so nothing in a lesson can become
//! markup or script.

use serde::{Deserialize, Serialize};

/// A block or inline element that a [`Token::Start`] opens and the matching [`Token::End`] closes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// One token of rendered lesson text. Starts and ends nest. Serde's default (externally tagged)
/// form is the one the build writes and the wasm reads: it deserializes without buffering.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

impl Token {
    /// The words the token carries (text, code, a link's target): where a slide's `{{name}}`
    /// placeholders are.
    pub fn words(&self) -> Option<&str> {
        match self {
            Token::Text(s) | Token::Code(s) | Token::Start(Tag::Link { url: s }) => Some(s),
            _ => None,
        }
    }

    /// The words, to fill the placeholders in.
    pub fn words_mut(&mut self) -> Option<&mut String> {
        match self {
            Token::Text(s) | Token::Code(s) | Token::Start(Tag::Link { url: s }) => Some(s),
            _ => None,
        }
    }
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
