//! Lessons: guided walks through the model. A lesson is a TOML file in `tutorials/` (embedded at
//! build time, so the playground works offline): an id, a title, what it teaches, a starting
//! scenario from `scenarios/`, and slides. A slide has Markdown text (tokens by the time the crate
//! has it, [`markdown`]) whose `{{name}}` placeholders the model fills, and optionally an action
//! the learner takes (an [`Action`], the scenario format), a predict-then-check [`Question`] whose
//! answer the model computes after the action, and [`Check`]s on the model's state that let the
//! lesson go on.
//!
//! A learner's walk: [`Lesson::start`] gives the timeline; on each slide, [`Slide::render`] (shown
//! before the action), the guess, [`Slide::take_action`], [`Question::judge`], then
//! [`Slide::checks_hold`] before the next slide. [`Lesson::walk`] does all of it with the model's
//! own answers (the CLI prints it; the tests walk every lesson with it).

#[cfg(feature = "toml")]
pub mod commonmark;
pub mod markdown;
pub mod measure;

use serde::de::{self, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::config::ConfigError;
use crate::scenario::{Action, Scenario};
use crate::sim::Outcome;
use crate::timeline::Timeline;
pub use markdown::{Tag, Token};
pub use measure::{CostKind, GfpAsk, Measure, SunrpcStat, Value, VmCounter};

/// The lesson files, in teaching order, as the build turned them into JSON with each slide's text
/// as tokens (build.rs).
const LESSON_FILES: &[(&str, &str)] = &[
    ("01-buddy.toml", include_str!(concat!(env!("OUT_DIR"), "/lessons/01-buddy.json"))),
    ("02-pcp.toml", include_str!(concat!(env!("OUT_DIR"), "/lessons/02-pcp.json"))),
    ("03-gfp.toml", include_str!(concat!(env!("OUT_DIR"), "/lessons/03-gfp.json"))),
    ("04-watermarks.toml", include_str!(concat!(env!("OUT_DIR"), "/lessons/04-watermarks.json"))),
    ("05-bulk-api.toml", include_str!(concat!(env!("OUT_DIR"), "/lessons/05-bulk-api.json"))),
    ("06-sunrpc.toml", include_str!(concat!(env!("OUT_DIR"), "/lessons/06-sunrpc.json"))),
    (
        "07-one-page-requests.toml",
        include_str!(concat!(env!("OUT_DIR"), "/lessons/07-one-page-requests.json")),
    ),
    ("08-regressions.toml", include_str!(concat!(env!("OUT_DIR"), "/lessons/08-regressions.json"))),
];

/// The scenario files lessons start from, by name in `scenarios/`.
const SCENARIO_FILES: &[(&str, &str)] = &[
    ("lesson-2gib.json", include_str!("../../../scenarios/lesson-2gib.json")),
    ("lesson-2gib-5.13.0.json", include_str!("../../../scenarios/lesson-2gib-5.13.0.json")),
    ("lesson-76mib.json", include_str!("../../../scenarios/lesson-76mib.json")),
];

/// A comparison a [`Check`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cmp {
    Equal,
    NotEqual,
    AtLeast,
    AtMost,
    Above,
    Below,
}

impl Cmp {
    fn holds(self, a: i64, b: i64) -> bool {
        match self {
            Cmp::Equal => a == b,
            Cmp::NotEqual => a != b,
            Cmp::AtLeast => a >= b,
            Cmp::AtMost => a <= b,
            Cmp::Above => a > b,
            Cmp::Below => a < b,
        }
    }

    /// The comparison in words: "at least".
    pub fn words(self) -> &'static str {
        match self {
            Cmp::Equal => "exactly",
            Cmp::NotEqual => "other than",
            Cmp::AtLeast => "at least",
            Cmp::AtMost => "at most",
            Cmp::Above => "more than",
            Cmp::Below => "less than",
        }
    }
}

/// What a check compares with: a number the learner chose in the action (16 slots), or another
/// measure (the pcp batch). Written as either: `than = 16`, `than = { pcp_batch = { .. } }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Operand {
    Number(i64),
    Measure(Measure),
}

/// By hand rather than `#[serde(untagged)]`: that buffers the value and reads the measure from the
/// buffer, which compiles every measure's deserializer a second time into the wasm.
impl<'de> Deserialize<'de> for Operand {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Operand, D::Error> {
        struct OperandVisitor;
        impl<'de> Visitor<'de> for OperandVisitor {
            type Value = Operand;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a measure")
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Operand, E> {
                Ok(Operand::Number(n))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Operand, E> {
                let n = i64::try_from(n).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(n), &self))?;
                Ok(Operand::Number(n))
            }

            /// A measure without fields: `"returned"`.
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Operand, E> {
                Measure::deserialize(name.into_deserializer()).map(Operand::Measure)
            }

            /// A measure with fields: a map of one key, the measure's name.
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Operand, A::Error> {
                let measure = Measure::deserialize(de::value::MapAccessDeserializer::new(&mut map))?;
                if map.next_key::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(2, &"one measure"));
                }
                Ok(Operand::Measure(measure))
            }
        }
        deserializer.deserialize_any(OperandVisitor)
    }
}

/// A condition on the model that must hold before the lesson goes on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub that: Measure,
    pub is: Cmp,
    pub than: Operand,
    /// What to do when it does not hold, in the learner's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

fn number(measure: &Measure, t: &Timeline) -> Result<i64, String> {
    match measure.of(t)? {
        Value::Number(n) => Ok(n),
        Value::Text(s) => Err(format!("{} is {s:?}, not a number", measure.describe())),
    }
}

impl Check {
    /// Whether the check holds on the timeline; if not, why, in a learner's words.
    pub fn holds(&self, t: &Timeline) -> Result<(), String> {
        let hint = self.hint.as_ref().map(|h| format!(" {h}")).unwrap_or_default();
        let left = number(&self.that, t).map_err(|e| format!("{e}.{hint}"))?;
        let (right, named) = match &self.than {
            Operand::Number(n) => (*n, n.to_string()),
            Operand::Measure(m) => {
                let v = number(m, t).map_err(|e| format!("{e}.{hint}"))?;
                (v, format!("{v} ({})", m.describe()))
            }
        };
        if self.is.holds(left, right) {
            Ok(())
        } else {
            Err(format!(
                "{} is {left}; to go on it must be {} {named}.{hint}",
                self.that.describe(),
                self.is.words()
            ))
        }
    }
}

/// A predict-then-check question; the model answers it once the slide's action has run.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Question {
    Number {
        prompt: String,
        measure: Measure,
    },
    /// The answer is the option equal to the measure's value.
    Choice {
        prompt: String,
        options: Vec<String>,
        measure: Measure,
    },
}

/// A learner's guess, or the model's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Answer {
    Number(i64),
    /// An index into the options.
    Choice(usize),
}

/// A guess judged against the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Judgement {
    pub correct: bool,
    pub answer: Answer,
    /// The answer in words: the number, or the option's text.
    pub shown: String,
}

impl Question {
    pub fn prompt(&self) -> &str {
        match self {
            Question::Number { prompt, .. } | Question::Choice { prompt, .. } => prompt,
        }
    }

    /// The model's answer on the timeline as it stands.
    pub fn answer(&self, t: &Timeline) -> Result<Answer, String> {
        match self {
            Question::Number { measure, .. } => number(measure, t).map(Answer::Number),
            Question::Choice { options, measure, .. } => {
                let v = measure.of(t)?.to_string();
                options
                    .iter()
                    .position(|o| *o == v)
                    .map(Answer::Choice)
                    .ok_or_else(|| format!("the model says {v:?}, which is none of the options {options:?}"))
            }
        }
    }

    /// Judge a guess against the model's answer.
    pub fn judge(&self, guess: &Answer, t: &Timeline) -> Result<Judgement, String> {
        let answer = self.answer(t)?;
        let shown = match (&answer, self) {
            (Answer::Choice(i), Question::Choice { options, .. }) => options[*i].clone(),
            (Answer::Choice(i), Question::Number { .. }) => i.to_string(),
            (Answer::Number(n), _) => n.to_string(),
        };
        Ok(Judgement { correct: *guess == answer, answer, shown })
    }
}

/// One slide of a lesson.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Slide {
    /// The Markdown as tokens, with `{{name}}` placeholders for [`Slide::values`] in their words.
    pub text: Vec<Token>,
    /// The measures the placeholders show, read when the slide is shown (before its action).
    pub values: Vec<(String, Measure)>,
    pub action: Option<Action>,
    pub question: Option<Question>,
    pub checks: Vec<Check>,
}

/// The placeholders `{{name}}` of a text, in order.
fn placeholders(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else { break };
        names.push(rest[start + 2..start + 2 + len].trim());
        rest = &rest[start + 2 + len + 2..];
    }
    names
}

impl Slide {
    /// The text with its placeholders filled from the model, as tokens for a UI.
    pub fn render(&self, t: &Timeline) -> Result<Vec<Token>, String> {
        let mut filled = Vec::new();
        for (name, measure) in &self.values {
            let value = measure.of(t).map_err(|e| format!("{{{{{name}}}}}: {e}"))?;
            filled.push((format!("{{{{{name}}}}}"), value.to_string()));
        }
        let mut text = self.text.clone();
        for words in text.iter_mut().filter_map(Token::words_mut) {
            for (placeholder, value) in &filled {
                *words = words.replace(placeholder, value);
            }
        }
        Ok(text)
    }

    /// Run the slide's action, if it has one, at the end of the timeline.
    pub fn take_action(&self, t: &mut Timeline) -> Result<Option<Outcome>, ConfigError> {
        let Some(action) = &self.action else { return Ok(None) };
        t.push(action.clone())?;
        while t.pending() > 0 {
            t.run_next();
        }
        Ok(t.outcomes().last().cloned())
    }

    /// Every check holds, or the first that does not says why.
    pub fn checks_hold(&self, t: &Timeline) -> Result<(), String> {
        self.checks.iter().try_for_each(|c| c.holds(t))
    }
}

/// A lesson, parsed and checked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Lesson {
    /// Also the `lesson=` of a shared link.
    pub id: String,
    pub title: String,
    /// What it teaches, in a sentence.
    pub teaches: String,
    /// The name of the starting scenario in `scenarios/`.
    pub scenario_file: String,
    pub scenario: Scenario,
    pub slides: Vec<Slide>,
}

/// A lesson that cannot be used, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LessonError {
    /// The lesson's id, or its file name before the id is known.
    pub lesson: String,
    /// The slide, counted from 1.
    pub slide: Option<usize>,
    pub field: String,
    pub message: String,
}

impl LessonError {
    /// A problem with the file as a whole, before its id is read.
    fn file(file: &str, message: String) -> LessonError {
        LessonError { lesson: file.to_owned(), slide: None, field: String::new(), message }
    }
}

impl std::fmt::Display for LessonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lesson {}", self.lesson)?;
        if let Some(s) = self.slide {
            write!(f, ", slide {s}")?;
        }
        if !self.field.is_empty() {
            write!(f, ", {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LessonError {}

/// A lesson file's values; a slide's text is Markdown (`String`) in a lesson file and tokens in
/// the embedded JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLesson<Text> {
    id: String,
    title: String,
    teaches: String,
    scenario: String,
    slides: Vec<RawSlide<Text>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlide<Text> {
    text: Text,
    #[serde(default, deserialize_with = "by_name")]
    values: Vec<(String, Measure)>,
    action: Option<Action>,
    question: Option<RawQuestion>,
    #[serde(default)]
    checks: Vec<Check>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    prompt: String,
    number: Option<Measure>,
    choice: Option<Measure>,
    #[serde(default)]
    options: Vec<String>,
}

/// A table of measures as pairs in name order, a later entry of a name replacing the earlier, as
/// a `BTreeMap` would keep them: a sorted `Vec` spares the wasm the B-tree's code.
fn by_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, Measure)>, D::Error> {
    struct ByName;
    impl<'de> Visitor<'de> for ByName {
        type Value = Vec<(String, Measure)>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut pairs: Vec<(String, Measure)> = Vec::new();
            while let Some((name, measure)) = map.next_entry::<String, Measure>()? {
                match pairs.binary_search_by(|(n, _)| n.cmp(&name)) {
                    Ok(i) => pairs[i].1 = measure,
                    Err(i) => pairs.insert(i, (name, measure)),
                }
            }
            Ok(pairs)
        }
    }
    deserializer.deserialize_map(ByName)
}

impl Lesson {
    /// Parse a lesson file (`file` names it in errors until its id is read).
    #[cfg(feature = "toml")]
    pub fn parse(file: &str, text: &str) -> Result<Lesson, LessonError> {
        let raw: RawLesson<String> =
            toml::from_str(text).map_err(|e| LessonError::file(file, e.to_string()))?;
        Lesson::from_raw(file, raw, |markdown| commonmark::render(&markdown))
    }

    /// Read a lesson the build embedded as JSON (the TOML file's values, slide text as tokens).
    pub fn from_json(file: &str, text: &str) -> Result<Lesson, LessonError> {
        // `from_slice` for one JSON reader in the wasm (see `Scenario::from_json`).
        let raw =
            serde_json::from_slice(text.as_bytes()).map_err(|e| LessonError::file(file, e.to_string()))?;
        Lesson::from_raw(file, raw, |tokens| tokens)
    }

    fn from_raw<Text>(
        file: &str,
        raw: RawLesson<Text>,
        tokens: impl Fn(Text) -> Vec<Token>,
    ) -> Result<Lesson, LessonError> {
        let error = |lesson: &str, slide: Option<usize>, field: &str, message: String| LessonError {
            lesson: lesson.to_owned(),
            slide,
            field: field.to_owned(),
            message,
        };
        let id = raw.id.as_str();
        crate::share::check_lesson(id).map_err(|e| error(file, None, "id", e.to_string()))?;
        let scenario_text = SCENARIO_FILES
            .iter()
            .find(|(name, _)| *name == raw.scenario)
            .map(|(_, text)| *text)
            .ok_or_else(|| {
                let known: Vec<&str> = SCENARIO_FILES.iter().map(|(n, _)| *n).collect();
                error(id, None, "scenario", format!("{:?} is not one of {}", raw.scenario, known.join(", ")))
            })?;
        let scenario =
            Scenario::from_json(scenario_text).map_err(|e| error(id, None, "scenario", e.to_string()))?;
        // Every action the slides take, after the scenario's own, must make a valid scenario.
        let mut walked = scenario.clone();
        let mut slides = Vec::new();
        for (i, s) in raw.slides.into_iter().enumerate() {
            let at = Some(i + 1);
            if let Some(action) = &s.action {
                walked.actions.push(action.clone());
                walked.validate().map_err(|e| error(id, at, "action", e.to_string()))?;
            }
            let text = tokens(s.text);
            for name in text.iter().filter_map(Token::words).flat_map(placeholders) {
                if !s.values.iter().any(|(n, _)| n == name) {
                    return Err(error(id, at, "text", format!("{{{{{name}}}}} has no entry in values")));
                }
            }
            let question = match s.question {
                None => None,
                Some(q) => Some(match (q.number, q.choice) {
                    (Some(measure), None) if q.options.is_empty() => {
                        Question::Number { prompt: q.prompt, measure }
                    }
                    (None, Some(measure)) if q.options.len() >= 2 => {
                        Question::Choice { prompt: q.prompt, options: q.options, measure }
                    }
                    _ => {
                        return Err(error(
                            id,
                            at,
                            "question",
                            "give either `number` (and no options) or `choice` with at least two options"
                                .into(),
                        ))
                    }
                }),
            };
            slides.push(Slide { text, values: s.values, action: s.action, question, checks: s.checks });
        }
        if slides.is_empty() {
            return Err(error(id, None, "slides", "a lesson needs at least one slide".into()));
        }
        Ok(Lesson {
            id: raw.id,
            title: raw.title,
            teaches: raw.teaches,
            scenario_file: raw.scenario,
            scenario,
            slides,
        })
    }

    /// The timeline a learner starts from: the scenario booted and its actions run.
    pub fn start(&self) -> Timeline {
        Timeline::run(&self.scenario).expect("a lesson's scenario is validated when it is parsed")
    }

    /// Walk the lesson as a learner who always answers what the model answers: each slide's text
    /// filled, its action taken, its question answered, its checks holding.
    pub fn walk(&self) -> Result<Vec<SlideRun>, LessonError> {
        let mut t = self.start();
        let mut runs = Vec::new();
        for (i, slide) in self.slides.iter().enumerate() {
            let fail = |field: &str, message: String| LessonError {
                lesson: self.id.clone(),
                slide: Some(i + 1),
                field: field.to_owned(),
                message,
            };
            let text = slide.render(&t).map_err(|e| fail("text", e))?;
            let outcome = slide.take_action(&mut t).map_err(|e| fail("action", e.to_string()))?;
            let answer = match &slide.question {
                Some(q) => {
                    let answer = q.answer(&t).map_err(|e| fail("question", e))?;
                    Some(q.judge(&answer, &t).map_err(|e| fail("question", e))?)
                }
                None => None,
            };
            slide.checks_hold(&t).map_err(|e| fail("checks", e))?;
            runs.push(SlideRun { text, outcome, answer });
        }
        Ok(runs)
    }
}

/// One slide as a walk saw it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlideRun {
    /// The text with its placeholders filled.
    pub text: Vec<Token>,
    pub outcome: Option<Outcome>,
    /// The model's answer to the question.
    pub answer: Option<Judgement>,
}

/// Every embedded lesson, in teaching order.
pub fn lessons() -> Vec<Lesson> {
    LESSON_FILES
        .iter()
        .map(|(file, text)| {
            Lesson::from_json(file, text).expect("the embedded lessons parse (tests/spec_lessons.rs)")
        })
        .collect()
}

/// An embedded lesson by id.
pub fn lesson(id: &str) -> Option<Lesson> {
    lessons().into_iter().find(|l| l.id == id)
}
