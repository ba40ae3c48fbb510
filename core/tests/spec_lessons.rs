//! Lessons (tutorials/*.toml) as a learner meets them: every embedded lesson parses, walks to
//! its end with the model's own answers, judges a wrong answer wrong, and has checks that
//! only hold once their slide's action is taken. Lesson text cannot smuggle in markup.

use std::collections::BTreeSet;

use pageflow_core::lesson::{self, Answer, Lesson, Measure, Operand, Question, Tag, Token};
use pageflow_core::mem::ZoneType;

#[test]
fn every_lesson_parses_and_there_are_at_least_eight_with_unique_ids() {
    let all = lesson::lessons();
    assert!(all.len() >= 8, "{} lessons", all.len());
    let ids: BTreeSet<&str> = all.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids.len(), all.len(), "lesson ids are unique");
    for l in &all {
        assert!(!l.title.is_empty() && !l.teaches.is_empty() && !l.slides.is_empty(), "{}", l.id);
        assert_eq!(lesson::lesson(&l.id).as_ref(), Some(l));
    }
}

#[test]
fn walking_every_lesson_with_the_models_answers_reaches_the_end() {
    for l in lesson::lessons() {
        let walk = l.walk().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(walk.len(), l.slides.len());
        for (i, (slide, run)) in l.slides.iter().zip(&walk).enumerate() {
            assert_eq!(slide.action.is_some(), run.outcome.is_some(), "{} slide {}", l.id, i + 1);
            let left = run.text.iter().filter_map(Token::words).any(|w| w.contains("{{"));
            assert!(!left, "{} slide {}: a placeholder is left", l.id, i + 1);
            if let Some(j) = &run.answer {
                assert!(j.correct, "{} slide {}: the model's own answer is judged right", l.id, i + 1);
            }
        }
    }
}

/// The learner's walk by hand, slide by slide: a guess off by one (or the next option) is wrong.
#[test]
fn a_wrong_answer_is_reported_wrong_and_the_right_one_is_shown() {
    for l in lesson::lessons() {
        let mut t = l.start();
        for (i, slide) in l.slides.iter().enumerate() {
            slide.take_action(&mut t).unwrap();
            if let Some(q) = &slide.question {
                let right = q.answer(&t).unwrap();
                let wrong = match (&right, q) {
                    (Answer::Number(n), _) => Answer::Number(n + 1),
                    (Answer::Choice(k), Question::Choice { options, .. }) => {
                        Answer::Choice((k + 1) % options.len())
                    }
                    (Answer::Choice(_), Question::Number { .. }) => unreachable!("numbers answer numbers"),
                };
                let judged = q.judge(&wrong, &t).unwrap();
                assert!(!judged.correct, "{} slide {}", l.id, i + 1);
                assert_eq!(judged.answer, right, "{} slide {}", l.id, i + 1);
                assert!(q.judge(&right, &t).unwrap().correct);
            }
            slide.checks_hold(&t).unwrap_or_else(|e| panic!("{} slide {}: {e}", l.id, i + 1));
        }
    }
}

/// A check is worth having only if it stops a learner who has not acted yet: on every slide
/// with checks, they do not all hold before the slide's action, and the message says why.
#[test]
fn checks_fail_before_their_action_is_taken_and_say_why() {
    for l in lesson::lessons() {
        let mut t = l.start();
        for (i, slide) in l.slides.iter().enumerate() {
            if !slide.checks.is_empty() {
                assert!(slide.action.is_some(), "{} slide {}: a check follows an action", l.id, i + 1);
                let why = slide.checks_hold(&t).expect_err(&format!("{} slide {}", l.id, i + 1));
                assert!(!why.is_empty());
            }
            slide.take_action(&mut t).unwrap();
            slide.checks_hold(&t).unwrap();
        }
    }
}

#[test]
fn a_check_that_does_not_hold_names_the_quantity_the_value_and_the_hint() {
    let l = lesson::lesson("pcp").expect("the pcp lesson");
    let t = l.start();
    let slide = l.slides.iter().find(|s| !s.checks.is_empty()).unwrap();
    let why = slide.checks_hold(&t).unwrap_err();
    assert!(why.contains("cpu0's pcp count in zone Normal is 0"), "{why}");
    assert!(why.contains("Take the action"), "{why}");
}

const LESSON_HEAD: &str =
    "id = \"broken\"\ntitle = \"t\"\nteaches = \"t\"\nscenario = \"lesson-2gib.json\"\n";

#[test]
fn a_bad_lesson_is_refused_with_its_lesson_slide_and_field() {
    let unknown_scenario =
        "id = \"x\"\ntitle = \"t\"\nteaches = \"t\"\nscenario = \"nope.json\"\n[[slides]]\ntext = \"a\"\n";
    let e = Lesson::parse("x.toml", unknown_scenario).unwrap_err();
    assert_eq!((e.lesson.as_str(), e.slide, e.field.as_str()), ("x", None, "scenario"));

    let bad_cpu = format!(
        "{LESSON_HEAD}[[slides]]\ntext = \"a\"\n[[slides]]\ntext = \"b\"\naction = {{ op = \"drain\", cpu = 9 }}\n"
    );
    let e = Lesson::parse("broken.toml", &bad_cpu).unwrap_err();
    assert_eq!((e.slide, e.field.as_str()), (Some(2), "action"));
    assert!(e.to_string().starts_with("lesson broken, slide 2, action: "), "{e}");

    let missing_value = format!("{LESSON_HEAD}[[slides]]\ntext = \"batch {{{{batch}}}}\"\n");
    let e = Lesson::parse("broken.toml", &missing_value).unwrap_err();
    assert_eq!((e.slide, e.field.as_str()), (Some(1), "text"));

    let one_option = format!(
        "{LESSON_HEAD}[[slides]]\ntext = \"a\"\nquestion = {{ prompt = \"?\", options = [\"yes\"], choice = \"returned\" }}\n"
    );
    assert_eq!(Lesson::parse("broken.toml", &one_option).unwrap_err().field, "question");

    let not_toml = Lesson::parse("broken.toml", "id = ").unwrap_err();
    assert_eq!(not_toml.lesson, "broken.toml");
    let bad_id = format!("{}[[slides]]\ntext = \"a\"\n", LESSON_HEAD.replace("broken", "no spaces"));
    assert_eq!(Lesson::parse("broken.toml", &bad_id).unwrap_err().field, "id");
}

/// A check compares with a number or with a measure, named alone or with its fields; anything
/// else is refused with what was expected.
#[test]
fn a_check_compares_with_a_number_or_a_measure_and_nothing_else() {
    let with_than = |than: &str| {
        format!(
            "{LESSON_HEAD}[[slides]]\ntext = \"a\"\naction = {{ op = \"drain\" }}\n\
             checks = [{{ that = \"returned\", is = \"equal\", than = {than} }}]\n"
        )
    };
    let than =
        |text: &str| Lesson::parse("t.toml", &with_than(text)).map(|l| l.slides[0].checks[0].than.clone());
    assert_eq!(than("16"), Ok(Operand::Number(16)));
    assert_eq!(than("-1"), Ok(Operand::Number(-1)));
    assert_eq!(than("\"pages_taken\""), Ok(Operand::Measure(Measure::PagesTaken)));
    assert_eq!(
        than("{ pcp_batch = { cpu = 1, zone = \"NORMAL\" } }"),
        Ok(Operand::Measure(Measure::PcpBatch { cpu: 1, zone: ZoneType::Normal }))
    );
    for (bad, why) in [
        ("1.5", "expected a number or a measure"),
        ("true", "expected a number or a measure"),
        ("9223372036854775808", "expected a number or a measure"),
        ("\"nope\"", "unknown variant `nope`"),
        ("{ pcp_batch = { cpu = 1 } }", "missing field `zone`"),
        ("{ pcp_batch = { cpu = 1, zone = \"NORMAL\" }, returned = {} }", "expected one measure"),
    ] {
        let e = than(bad).expect_err(bad);
        assert!(e.lesson == "t.toml" && e.message.contains(why), "{bad}: {e}");
    }
}

/// A slide's values are kept in name order whatever order the file gives them, and in JSON (which
/// allows a name twice) the later entry of a name is the one kept.
#[test]
fn a_slides_values_are_in_name_order_and_the_last_of_a_name_wins() {
    let file = format!(
        "{LESSON_HEAD}[[slides]]\ntext = \"{{{{b}}}} {{{{a}}}}\"\n\
         values.b = \"returned\"\nvalues.a = \"pages_taken\"\n"
    );
    let l = Lesson::parse("t.toml", &file).unwrap();
    let names: Vec<&str> = l.slides[0].values.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let json = r#"{"id": "t", "title": "t", "teaches": "t", "scenario": "lesson-2gib.json", "slides": [
        {"text": [{"text": "{{a}}"}], "values": {"a": "returned", "a": "pages_taken"}}]}"#;
    let l = Lesson::from_json("t.json", json).unwrap();
    assert_eq!(l.slides[0].values, [("a".to_owned(), Measure::PagesTaken)]);
}

/// The build turns the lesson files into the embedded lessons with the tokeniser `Lesson::parse`
/// uses, so what holds for a parsed lesson file holds for the embedded ones.
#[test]
fn the_embedded_lessons_are_the_lesson_files_parsed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tutorials");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|x| x == "toml"));
    files.sort();
    let parsed: Vec<Lesson> = files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            Lesson::parse(name, &std::fs::read_to_string(p).unwrap()).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    assert_eq!(parsed, lesson::lessons());
}

#[test]
fn raw_html_and_script_in_lesson_text_never_come_through_as_markup() {
    let text = "<script>alert(1)</script>\n\nA <b>bold</b> [link](javascript:alert(2)) and \
                [kernel](https://kernel.org) ![img](x.png)\n\n<div onclick=\"x()\">block</div>\n";
    let file = format!("{LESSON_HEAD}[[slides]]\ntext = {text:?}\n");
    let tokens = &Lesson::parse("html.toml", &file).unwrap().slides[0].text;
    let all_text: String = tokens
        .iter()
        .filter_map(|t| match t {
            Token::Text(s) | Token::Code(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    assert!(!all_text.contains("<script") && !all_text.contains("alert(1)"), "{all_text}");
    assert!(!all_text.contains("<b>") && !all_text.contains("<div"), "{all_text}");
    assert!(all_text.contains("bold") && all_text.contains("link") && all_text.contains("img"));
    let links: Vec<&Tag> = tokens
        .iter()
        .filter_map(|t| match t {
            Token::Start(tag @ Tag::Link { .. }) => Some(tag),
            _ => None,
        })
        .collect();
    assert_eq!(links, [&Tag::Link { url: "https://kernel.org".into() }]);
    let starts = tokens.iter().filter(|t| matches!(t, Token::Start(_))).count();
    let ends = tokens.iter().filter(|t| matches!(t, Token::End)).count();
    assert_eq!(starts, ends, "every start is closed");
}

#[test]
fn slide_text_renders_with_the_models_numbers_filled_in() {
    let l = lesson::lesson("pcp").unwrap();
    let t = l.start();
    let tokens = l.slides[0].render(&t).unwrap();
    let batch = t.machine().zones.iter().find(|z| z.kind.name() == "Normal").unwrap().pcp[0].batch;
    assert!(tokens.contains(&Token::Text(batch.to_string())), "{tokens:?}");
}
