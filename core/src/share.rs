//! Shareable scenarios: a scenario's inputs (machine, pinned kernel profile, seed, actions, name
//! and description; never any state) in a URL fragment, and back.
//!
//! The fragment is `s=<version>.<codec>.<payload>`, optionally followed by `&step=N`,
//! `&lesson=ID`, `&slide=K` and `&embed=1`; unknown parameters are ignored, so later versions
//! of the playground may add some. Version 1 with codec `jz` is the scenario as
//! [`v1::ScenarioV1`] JSON, zlib-deflated ([`miniz_oxide`]; zlib's Adler-32 check turns a
//! mangled link into an error instead of a different scenario), in URL-safe base64 without
//! padding. Old versions decode forever: committed fixture links (`core/tests/share_fixtures/`)
//! prove it.
//!
//! Decoding takes untrusted text: the payload length and the inflated size are capped, and
//! every failure is a [`ShareError`], never a panic. Names and descriptions come back as the
//! text they were, script tags and all; whoever shows them must treat them as text.

pub mod v1;

use std::fmt;

use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use miniz_oxide::deflate::{compress_to_vec_zlib, CompressionLevel};
use miniz_oxide::inflate::{decompress_to_vec_zlib_with_limit, TINFLStatus};

use crate::config::ConfigError;
use crate::scenario::Scenario;
use v1::ScenarioV1;

/// The version links are made with.
pub const VERSION: &str = "1";
/// Version 1's codec: JSON, zlib, base64url.
pub const CODEC_JSON_ZLIB: &str = "jz";
/// The longest payload (base64 characters) a link may carry.
pub const MAX_PAYLOAD_CHARS: usize = 64 * 1024;
/// The most bytes a payload may inflate to.
pub const MAX_DECODED_BYTES: usize = 256 * 1024;
/// The longest lesson id.
pub const MAX_LESSON_ID: usize = 64;

/// URL-safe base64 without padding. Decoding ignores the unused low bits of the last character,
/// so a link cut anywhere reads as cut short (the inflater says so) rather than as bad base64.
const LINK_BASE64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// What a shared link opens: a scenario, and optionally a position, a lesson slide, or the
/// embedded (chrome-less) layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub scenario: Scenario,
    /// The cursor position (events from the start) to open at.
    pub step: Option<u64>,
    /// The lesson to open, by id: ASCII letters, digits, `-` and `_`.
    pub lesson: Option<String>,
    /// The slide of the lesson.
    pub slide: Option<u32>,
    /// `embed=1`: the page is embedded in another (a lesson, a blog post).
    pub embed: bool,
}

/// Why a link cannot be made or opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShareError {
    /// The fragment has no `s=` parameter.
    NoScenario,
    /// A parameter appears twice.
    Repeated(String),
    /// A known parameter with a value it cannot have.
    BadParam { name: &'static str, value: String, expected: &'static str },
    /// `s=` is not `<version>.<codec>.<payload>`.
    Malformed(String),
    /// A version this build does not read.
    UnknownVersion(String),
    /// A codec the version does not have.
    UnknownCodec { version: String, codec: String },
    /// The payload is longer than [`MAX_PAYLOAD_CHARS`].
    PayloadTooLong(usize),
    /// The payload is not URL-safe base64 without padding.
    Base64(String),
    /// The compressed data ends early: the link was cut short.
    Truncated,
    /// The compressed data is damaged (a changed character, a failed checksum).
    Corrupt,
    /// The scenario is larger than [`MAX_DECODED_BYTES`].
    TooBig,
    /// The payload inflates to something that is not a version-1 scenario.
    Json(String),
    /// The scenario is well formed but cannot run: its own validation message.
    Invalid(ConfigError),
}

/// Untrusted text cut to `max` characters, and whether it was cut: a message echoes a bounded
/// excerpt of a link, however long the link.
fn clip(text: &str, max: usize) -> (&str, &'static str) {
    match text.char_indices().nth(max) {
        Some((cut, _)) => (&text[..cut], "…"),
        None => (text, ""),
    }
}

/// At most 40 characters of untrusted text, quoted.
fn excerpt(text: &str) -> String {
    let (head, more) = clip(text, 40);
    format!("{head:?}{more}")
}

/// A message built from untrusted text (serde's, the scenario validation's), cut to 240 characters.
fn clipped(message: String) -> String {
    let (head, more) = clip(&message, 240);
    format!("{head}{more}")
}

impl fmt::Display for ShareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareError::NoScenario => write!(f, "the link has no scenario (no s= parameter)"),
            ShareError::Repeated(name) => write!(f, "the link has the parameter {} twice", excerpt(name)),
            ShareError::BadParam { name, value, expected } => {
                write!(f, "the link's {name}={} is not {expected}", excerpt(value))
            }
            ShareError::Malformed(value) => {
                write!(f, "the link's s={} is not <version>.<codec>.<payload>", excerpt(value))
            }
            ShareError::UnknownVersion(v) => {
                write!(f, "the link has version {}; this pageflow reads version {VERSION}", excerpt(v))
            }
            ShareError::UnknownCodec { version, codec } => write!(
                f,
                "the link's codec {} is not one of version {}'s ({CODEC_JSON_ZLIB})",
                excerpt(codec),
                excerpt(version)
            ),
            ShareError::PayloadTooLong(n) => {
                write!(f, "the link's payload is {n} characters long; at most {MAX_PAYLOAD_CHARS} are read")
            }
            ShareError::Base64(e) => {
                write!(f, "the link's payload is not URL-safe base64 (was it cut short or changed?): {e}")
            }
            ShareError::Truncated => write!(f, "the link is cut short (its compressed data ends early)"),
            ShareError::Corrupt => write!(f, "the link is damaged (its compressed data does not check out)"),
            ShareError::TooBig => write!(f, "the scenario is larger than {} KiB", MAX_DECODED_BYTES >> 10),
            ShareError::Json(e) => write!(f, "the link does not hold a scenario: {}", clipped(e.clone())),
            ShareError::Invalid(e) => write!(f, "the link's scenario is invalid: {}", clipped(e.to_string())),
        }
    }
}

impl std::error::Error for ShareError {}

impl From<ConfigError> for ShareError {
    fn from(e: ConfigError) -> Self {
        ShareError::Invalid(e)
    }
}

/// Why a lesson id is refused, if it is.
pub(crate) fn check_lesson(id: &str) -> Result<(), ShareError> {
    let fine = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if id.is_empty() || id.len() > MAX_LESSON_ID || !id.chars().all(fine) {
        return Err(ShareError::BadParam {
            name: "lesson",
            value: id.to_owned(),
            expected: "an id of 1 to 64 ASCII letters, digits, '-' and '_'",
        });
    }
    Ok(())
}

/// A number parameter.
fn number<T: std::str::FromStr>(name: &'static str, value: &str) -> Result<T, ShareError> {
    // `parse` would take a leading '+'; a link has only digits.
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| value.parse().ok()).flatten().ok_or_else(|| ShareError::BadParam {
        name,
        value: value.to_owned(),
        expected: "a whole number in range",
    })
}

/// `<version>.<codec>.<payload>` of a scenario.
fn encode_scenario(scenario: &Scenario) -> Result<String, ShareError> {
    scenario.validate()?;
    let json = serde_json::to_vec(&ScenarioV1::from(scenario)).expect("version-1 scenarios serialise");
    if json.len() > MAX_DECODED_BYTES {
        return Err(ShareError::TooBig);
    }
    let payload = LINK_BASE64.encode(compress_to_vec_zlib(&json, CompressionLevel::UberCompression as u8));
    if payload.len() > MAX_PAYLOAD_CHARS {
        return Err(ShareError::PayloadTooLong(payload.len()));
    }
    Ok(format!("{VERSION}.{CODEC_JSON_ZLIB}.{payload}"))
}

/// The scenario of an `s=` value.
fn decode_scenario(value: &str) -> Result<Scenario, ShareError> {
    let mut parts = value.splitn(3, '.');
    let (Some(version), Some(codec), Some(payload)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ShareError::Malformed(value.to_owned()));
    };
    if version != VERSION {
        return Err(ShareError::UnknownVersion(version.to_owned()));
    }
    if codec != CODEC_JSON_ZLIB {
        return Err(ShareError::UnknownCodec { version: version.to_owned(), codec: codec.to_owned() });
    }
    if payload.len() > MAX_PAYLOAD_CHARS {
        return Err(ShareError::PayloadTooLong(payload.len()));
    }
    let packed = LINK_BASE64.decode(payload).map_err(|e| ShareError::Base64(e.to_string()))?;
    let json = decompress_to_vec_zlib_with_limit(&packed, MAX_DECODED_BYTES).map_err(|e| match e.status {
        TINFLStatus::HasMoreOutput => ShareError::TooBig,
        TINFLStatus::FailedCannotMakeProgress => ShareError::Truncated,
        _ => ShareError::Corrupt,
    })?;
    let v1: ScenarioV1 = serde_json::from_slice(&json).map_err(|e| ShareError::Json(e.to_string()))?;
    Ok(Scenario::try_from(v1)?)
}

impl Link {
    /// A link to a scenario from its start.
    pub fn new(scenario: Scenario) -> Link {
        Link { scenario, step: None, lesson: None, slide: None, embed: false }
    }

    /// The fragment (without `#`): `s=…` and the parameters that are set. Whatever this returns,
    /// [`Link::parse`] reads back as `self`; a scenario that fails validation or is too large to
    /// share is an error here rather than a link that will not open.
    pub fn to_fragment(&self) -> Result<String, ShareError> {
        let mut out = format!("s={}", encode_scenario(&self.scenario)?);
        if let Some(step) = self.step {
            out += &format!("&step={step}");
        }
        if let Some(lesson) = &self.lesson {
            check_lesson(lesson)?;
            out += &format!("&lesson={lesson}");
        }
        if let Some(slide) = self.slide {
            out += &format!("&slide={slide}");
        }
        if self.embed {
            out += "&embed=1";
        }
        Ok(out)
    }

    /// Read a link: a whole URL (what follows its first `#`), a fragment with or without `#`.
    pub fn parse(text: &str) -> Result<Link, ShareError> {
        let text = text.trim();
        let fragment = text.split_once('#').map_or(text, |(_, f)| f);
        let (mut s, mut step, mut lesson, mut slide, mut embed) = (None, None, None, None, None);
        for param in fragment.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            let slot_taken = match name {
                "s" => s.replace(value).is_some(),
                "step" => step.replace(number("step", value)?).is_some(),
                "lesson" => {
                    check_lesson(value)?;
                    lesson.replace(value.to_owned()).is_some()
                }
                "slide" => slide.replace(number("slide", value)?).is_some(),
                "embed" => {
                    let on = match value {
                        "1" => true,
                        "0" => false,
                        _ => {
                            return Err(ShareError::BadParam {
                                name: "embed",
                                value: value.to_owned(),
                                expected: "1 or 0",
                            })
                        }
                    };
                    embed.replace(on).is_some()
                }
                _ => false,
            };
            if slot_taken {
                return Err(ShareError::Repeated(name.to_owned()));
            }
        }
        let scenario = decode_scenario(s.ok_or(ShareError::NoScenario)?)?;
        Ok(Link { scenario, step, lesson, slide, embed: embed.unwrap_or(false) })
    }
}
