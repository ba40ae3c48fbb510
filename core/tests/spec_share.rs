//! Shareable scenarios (`pageflow_core::share`): a scenario in a URL fragment and back.
//!
//! - Every committed scenario survives a link, with every optional parameter.
//! - Version-1 links decode forever: `share_fixtures/NAME.link` is a link made when version 1
//!   was new, and `share_fixtures/NAME.json` the scenario it must open. A fixture is never
//!   regenerated; a change that breaks one breaks links people have shared.
//! - Bad links (garbage, cut short, changed, inflating past the cap, from another version) are
//!   each refused with their own error, never a panic.
//! - Fuzzing: random and mutated links never panic the decoder, and whatever it accepts
//!   re-encodes to the same link contents. `PAGEFLOW_SHARE_FUZZ` sets how many inputs
//!   (default 30,000); the README has the command for a million.

use std::cell::Cell;
use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use miniz_oxide::deflate::compress_to_vec_zlib;
use pageflow_core::config::ConfigError;
use pageflow_core::scenario::DEFAULT_SCENARIO;
use pageflow_core::share::v1::ScenarioV1;
use pageflow_core::share::{MAX_DECODED_BYTES, MAX_PAYLOAD_CHARS};
use pageflow_core::{Link, Scenario, ShareError};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("core/ is inside the workspace").to_path_buf()
}

/// The `.json` files of a directory, sorted, with their stems.
fn json_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| (p.file_stem().expect("a file name").to_string_lossy().into_owned(), p))
        .collect();
    files.sort();
    files
}

fn read_scenario(path: &Path) -> Scenario {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Scenario::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn committed_scenarios() -> Vec<(String, Scenario)> {
    json_files(&root().join("scenarios")).into_iter().map(|(name, p)| (name, read_scenario(&p))).collect()
}

fn fragment(s: &Scenario) -> String {
    Link::new(s.clone()).to_fragment().expect("a committed scenario has a link")
}

/// A version-1 link whose payload is `bytes`, deflated the way links are.
fn packed(bytes: &[u8]) -> String {
    format!("s=1.jz.{}", URL_SAFE_NO_PAD.encode(compress_to_vec_zlib(bytes, 6)))
}

/// A version-1 link of a scenario that skipped validation.
fn packed_unchecked(s: &Scenario) -> String {
    packed(&serde_json::to_vec(&ScenarioV1::from(s)).expect("version-1 scenarios serialise"))
}

fn error(link: &str) -> ShareError {
    Link::parse(link).expect_err("the link is refused")
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn every_committed_scenario_opens_from_its_link_unchanged() {
    let scenarios = committed_scenarios();
    assert!(scenarios.len() >= 10, "scenarios/ has the examples");
    for (name, s) in scenarios {
        let link = Link::parse(&fragment(&s)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(link, Link::new(s), "{name}");
    }
}

#[test]
fn step_lesson_slide_and_embed_ride_along_with_the_scenario() {
    let link = Link {
        scenario: Scenario::default_scenario(),
        step: Some(1234),
        lesson: Some("bulk-array_2".into()),
        slide: Some(3),
        embed: true,
    };
    let text = link.to_fragment().expect("a link");
    assert!(text.starts_with("s=1.jz."), "{text}");
    assert!(text.ends_with("&step=1234&lesson=bulk-array_2&slide=3&embed=1"), "{text}");
    assert_eq!(Link::parse(&text), Ok(link));
}

#[test]
fn a_whole_url_a_hash_fragment_and_a_bare_fragment_open_the_same_link() {
    let f = fragment(&Scenario::default_scenario());
    let bare = Link::parse(&f).expect("a bare fragment");
    assert_eq!(Link::parse(&format!("#{f}")), Ok(bare.clone()));
    assert_eq!(
        Link::parse(&format!("  https://example.org/pageflow/?x=1#{f}&step=7\n")).map(|l| l.step),
        Ok(Some(7))
    );
    assert_eq!(Link::parse(&format!("https://example.org/#{f}")), Ok(bare));
}

#[test]
fn unknown_parameters_are_ignored_and_the_order_of_parameters_does_not_matter() {
    let f = fragment(&Scenario::default_scenario());
    let link = Link::parse(&format!("theme=dark&slide=2&{f}&&future=x=y&embed=0")).expect("opens");
    assert_eq!((link.slide, link.embed, link.step, link.lesson), (Some(2), false, None, None));
}

#[test]
fn the_default_scenarios_link_fits_comfortably_in_a_url() {
    let f = fragment(&Scenario::default_scenario());
    println!("default scenario link: {} characters (#{f})", f.len() + 1);
    assert!(f.len() + 1 < 2000, "the default link is {} characters", f.len() + 1);
}

#[test]
fn names_and_descriptions_come_back_as_the_text_they_were_markup_and_all() {
    let mut s = Scenario::default_scenario();
    s.name = "<script>alert('pwned')</script> & \"quotes\" #s=2.x.y&step=1".into();
    s.description = "</textarea><img src=x onerror=alert(1)> ünïcødé \u{202e}rtl \u{0} nul".into();
    let back = Link::parse(&fragment(&s)).expect("opens").scenario;
    assert_eq!((back.name.as_str(), back.description.as_str()), (s.name.as_str(), s.description.as_str()));
}

#[test]
fn a_link_is_refused_when_made_for_a_scenario_that_would_not_open() {
    let mut s = Scenario::default_scenario();
    s.machine.cpus = 0;
    assert!(matches!(Link::new(s).to_fragment(), Err(ShareError::Invalid(e)) if e.field == "machine.cpus"));
    let mut link = Link::new(Scenario::default_scenario());
    link.lesson = Some("no spaces".into());
    assert!(matches!(link.to_fragment(), Err(ShareError::BadParam { name: "lesson", .. })));
    let mut huge = Scenario::default_scenario();
    huge.description = "x".repeat(MAX_DECODED_BYTES);
    assert_eq!(Link::new(huge).to_fragment(), Err(ShareError::TooBig));
}

// ---------------------------------------------------------------------------------------------
// Version-1 fixtures

#[test]
fn version_1_fixture_links_open_their_scenarios_forever() {
    let dir = root().join("core/tests/share_fixtures");
    let fixtures = json_files(&dir);
    assert!(fixtures.len() >= 10, "the fixtures are committed");
    let mut ops = Vec::new();
    for (name, json) in fixtures {
        let link_path = dir.join(format!("{name}.link"));
        let text = fs::read_to_string(&link_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", link_path.display()));
        assert!(text.starts_with("s=1.jz."), "{name} is a version-1 link");
        let link = Link::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(link.scenario, read_scenario(&json), "{name}");
        for a in &link.scenario.actions {
            let op =
                serde_json::to_value(a).expect("actions serialise")["op"].as_str().expect("an op").to_owned();
            ops.push(op);
        }
    }
    ops.sort();
    ops.dedup();
    let every_op = [
        "alloc_pages",
        "alloc_pages_bulk",
        "drain",
        "free",
        "free_pfn",
        "page_cache",
        "page_pool",
        "random",
        "sunrpc",
    ];
    assert_eq!(ops, every_op, "the fixtures hold every kind of action");
}

// ---------------------------------------------------------------------------------------------
// Bad links

#[test]
fn garbage_and_links_without_a_scenario_are_refused() {
    assert_eq!(error(""), ShareError::NoScenario);
    assert_eq!(error("hello world"), ShareError::NoScenario);
    assert_eq!(error("https://example.org/pageflow/#step=3"), ShareError::NoScenario);
    assert_eq!(error("s=1jz"), ShareError::Malformed("1jz".into()));
    assert_eq!(error("s="), ShareError::Malformed(String::new()));
    assert!(matches!(error("s=1.jz.!!!!"), ShareError::Base64(_)));
    assert!(matches!(error("s=1.jz.AAAA="), ShareError::Base64(_)), "padding is not URL-safe");
    assert!(matches!(error("s=1.jz.ab+/"), ShareError::Base64(_)), "the standard alphabet is not URL-safe");
    assert!(matches!(error("s=1.jz.aGVsbG8gd29ybGQ"), ShareError::Corrupt), "base64 of plain text");
}

#[test]
fn another_version_or_codec_is_refused_by_name() {
    let f = fragment(&Scenario::default_scenario());
    let payload = f.strip_prefix("s=1.jz.").expect("a version-1 link");
    let e = error(&format!("s=2.jz.{payload}"));
    assert_eq!(e, ShareError::UnknownVersion("2".into()));
    assert_eq!(e.to_string(), "the link has version \"2\"; this pageflow reads version 1");
    let e = error(&format!("s=1.pc.{payload}"));
    assert_eq!(e, ShareError::UnknownCodec { version: "1".into(), codec: "pc".into() });
    assert!(e.to_string().contains("jz"), "{e}");
}

#[test]
fn a_link_cut_short_is_refused_as_cut_short() {
    let f = fragment(&Scenario::default_scenario());
    for keep in (10..f.len()).step_by(7) {
        let cut = &f[..keep];
        match error(cut) {
            ShareError::Truncated => {}
            // Base64 cannot end with a lone character: no whole byte is left in it.
            ShareError::Base64(m) if (keep - "s=1.jz.".len()) % 4 == 1 => {
                assert!(m.contains("length"), "{m}")
            }
            other => panic!("cut to {keep} characters: {other:?}"),
        }
    }
}

#[test]
fn a_link_with_a_bit_of_its_payload_flipped_is_refused_as_damaged_never_read_as_another_scenario() {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let f = fragment(&Scenario::default_scenario());
    let original = Link::parse(&f).expect("the link opens");
    let start = "s=1.jz.".len();
    let (mut damaged, mut unused) = (0, 0);
    for i in start..f.len() {
        // Each base64 character holds six bits; the last one's low bits may be unused padding.
        for bit in [5, 3, 0].into_iter().filter(|&b| i + 1 < f.len() || b == 5) {
            let mut bytes = f.clone().into_bytes();
            let value = ALPHABET.iter().position(|&c| c == bytes[i]).expect("a base64 character");
            bytes[i] = ALPHABET[value ^ (1 << bit)];
            let changed = String::from_utf8(bytes).expect("base64 is ASCII");
            match Link::parse(&changed) {
                Err(ShareError::Corrupt | ShareError::Truncated) => damaged += 1,
                // A few bits deflate never reads (the padding after the final block): no change.
                Ok(link) if link == original => unused += 1,
                other => panic!("bit {bit} of character {i} flipped: {other:?}"),
            }
        }
    }
    assert!(unused * 100 < damaged, "{damaged} flips refused, {unused} in unused bits");
}

#[test]
fn a_decompression_bomb_stops_at_the_size_cap() {
    let bomb = packed(&vec![b' '; 64 * MAX_DECODED_BYTES]);
    assert!(bomb.len() < 40_000, "the bomb is a short link ({} characters)", bomb.len());
    assert_eq!(error(&bomb), ShareError::TooBig);
    let long = format!("s=1.jz.{}", "A".repeat(MAX_PAYLOAD_CHARS + 1));
    assert_eq!(error(&long), ShareError::PayloadTooLong(MAX_PAYLOAD_CHARS + 1));
}

#[test]
fn a_payload_that_is_not_a_version_1_scenario_is_refused_with_serdes_reason() {
    assert!(matches!(error(&packed(b"{not json")), ShareError::Json(_)));
    assert!(matches!(error(&packed(&[0xff, 0xfe, 0x00])), ShareError::Json(_)), "not UTF-8");
    // The file format leaves fields to defaults; a version-1 link pins every one of them.
    match error(&packed(DEFAULT_SCENARIO.as_bytes())) {
        ShareError::Json(m) => assert!(m.contains("missing field"), "{m}"),
        other => panic!("{other:?}"),
    }
    let mut v1 = serde_json::to_value(ScenarioV1::from(&Scenario::default_scenario())).expect("serialises");
    v1["colour"] = "red".into();
    match error(&packed(v1.to_string().as_bytes())) {
        ShareError::Json(m) => assert!(m.contains("unknown field `colour`"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_version_1_action_must_give_every_field_but_an_optional_one() {
    let with_actions = |actions: serde_json::Value| {
        let mut v1 =
            serde_json::to_value(ScenarioV1::from(&Scenario::default_scenario())).expect("serialises");
        v1["actions"] = actions;
        packed(v1.to_string().as_bytes())
    };
    // `cpu` of drain is an Option: absent, it is None, as with a derived reader.
    let link = Link::parse(&with_actions(serde_json::json!([{ "op": "drain" }]))).expect("opens");
    assert_eq!(link.scenario.actions, vec![pageflow_core::Action::Drain { cpu: None }]);
    // page_cache's `cpu` is not: version 1 pins it, where a scenario file would default it.
    let missing = with_actions(serde_json::json!([{ "op": "drain" }, { "op": "page_cache", "pages": 5 }]));
    match error(&missing) {
        ShareError::Json(m) => assert!(m.starts_with("actions[1]: missing field `cpu`"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_scenario_that_fails_validation_is_refused_with_its_own_message() {
    let mut s = Scenario::default_scenario();
    s.profile = "2.6".into();
    let e = error(&packed_unchecked(&s));
    assert!(matches!(&e, ShareError::Invalid(ConfigError { field, .. }) if field == "profile"), "{e:?}");
    assert!(
        e.to_string().starts_with("the link's scenario is invalid: profile = \"2.6\": expected one of"),
        "{e}"
    );
    // However long the offending value, the message stays short enough for a banner.
    let mut s = Scenario::default_scenario();
    s.name = "x".repeat(100_000);
    s.machine.cpus = 65;
    let e = error(&packed_unchecked(&s));
    assert_eq!(e.to_string(), "the link's scenario is invalid: machine.cpus = 65: expected 1 to 64");
    s.actions[1] =
        serde_json::from_value(serde_json::json!({"op": "alloc_pages", "gfp": "G".repeat(50_000)}))
            .expect("an action");
    s.machine.cpus = 4;
    let message = error(&packed_unchecked(&s)).to_string();
    assert!(message.contains("actions[1].gfp") && message.chars().count() < 300, "{message}");
}

#[test]
fn bad_or_repeated_parameters_are_refused_by_name() {
    let f = fragment(&Scenario::default_scenario());
    let bad = |tail: &str| error(&format!("{f}&{tail}"));
    assert!(matches!(bad("step=-1"), ShareError::BadParam { name: "step", .. }));
    assert!(matches!(bad("step=+1"), ShareError::BadParam { name: "step", .. }));
    assert!(matches!(bad("step=99999999999999999999"), ShareError::BadParam { name: "step", .. }));
    assert!(matches!(bad("slide="), ShareError::BadParam { name: "slide", .. }));
    assert!(matches!(bad("embed=yes"), ShareError::BadParam { name: "embed", .. }));
    assert!(matches!(bad("lesson=<b>"), ShareError::BadParam { name: "lesson", .. }));
    assert!(matches!(
        bad(&format!("lesson={}", "a".repeat(65))),
        ShareError::BadParam { name: "lesson", .. }
    ));
    assert_eq!(bad("step=1&step=2"), ShareError::Repeated("step".into()));
    assert_eq!(bad(&f), ShareError::Repeated("s".into()));
    let e = bad("step=1e3");
    assert_eq!(e.to_string(), "the link's step=\"1e3\" is not a whole number in range");
}

// ---------------------------------------------------------------------------------------------
// Fuzzing

/// Inputs the fuzz property feeds the decoder.
fn fuzz_inputs() -> u64 {
    std::env::var("PAGEFLOW_SHARE_FUZZ").map_or(30_000, |v| {
        v.replace('_', "").parse().unwrap_or_else(|_| panic!("PAGEFLOW_SHARE_FUZZ={v:?} is not a number"))
    })
}

/// One change to a text: replace, insert or delete at a position (taken modulo the length).
#[derive(Clone, Debug)]
enum Edit {
    Replace(usize, char),
    Insert(usize, char),
    Delete(usize),
    Truncate(usize),
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match *edit {
            Edit::Replace(i, c) if !chars.is_empty() => {
                let i = at(i, chars.len());
                chars[i] = c;
            }
            Edit::Insert(i, c) => chars.insert(at(i, chars.len() + 1), c),
            Edit::Delete(i) if !chars.is_empty() => {
                chars.remove(at(i, chars.len()));
            }
            Edit::Truncate(i) => chars.truncate(at(i, chars.len() + 1)),
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn edits(alphabet: &'static str) -> impl Strategy<Value = Vec<Edit>> {
    let c = proptest::sample::select(alphabet.chars().collect::<Vec<char>>());
    let edit = prop_oneof![
        (any::<usize>(), c.clone()).prop_map(|(i, c)| Edit::Replace(i, c)),
        (any::<usize>(), c).prop_map(|(i, c)| Edit::Insert(i, c)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
    ];
    proptest::collection::vec(edit, 1..6)
}

const BASE64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.&#%+/ ";
const JSON_BITS: &str = "{}[]\":,0123456789-.eE tfnul\\xyz_\u{e9}\u{1F600}";

#[test]
fn the_decoder_survives_random_and_mutated_links_and_accepts_only_what_reencodes() {
    let scenarios = committed_scenarios();
    let links: Vec<String> = scenarios.iter().map(|(_, s)| fragment(s)).collect();
    let jsons: Vec<String> = scenarios
        .iter()
        .map(|(_, s)| serde_json::to_string(&ScenarioV1::from(s)).expect("version-1 scenarios serialise"))
        .collect();
    let n = links.len();
    let input = prop_oneof![
        // Anything at all, and things shaped like a link.
        "\\PC{0,300}",
        "(s=)?[0-9]{0,3}\\.?[a-z]{0,3}\\.?[A-Za-z0-9_-]{0,400}(&[a-z]{1,6}=[^&]{0,12}){0,4}",
        // Real links with characters changed, added, dropped or cut off.
        (0..n, edits(BASE64URL)).prop_map(move |(i, e)| apply(&links[i], &e)),
        // Real scenarios with their JSON mangled, then packed properly: reaches serde and validation.
        (0..n, edits(JSON_BITS)).prop_map(move |(i, e)| packed(apply(&jsons[i], &e).as_bytes())),
        // Random bytes, packed or merely base64'd.
        proptest::collection::vec(any::<u8>(), 0..600).prop_map(|b| packed(&b)),
        proptest::collection::vec(any::<u8>(), 0..600)
            .prop_map(|b| format!("s=1.jz.{}", URL_SAFE_NO_PAD.encode(b))),
    ];
    let cases = fuzz_inputs();
    let mut runner = TestRunner::new(Config {
        cases: u32::try_from(cases).expect("fewer than 4 billion inputs"),
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x5ba4_e11c),
        max_shrink_time: 60_000,
        ..Config::default()
    });
    let (ran, accepted) = (Cell::new(0u64), Cell::new(0u64));
    runner
        .run(&input, |text| {
            ran.set(ran.get() + 1);
            match Link::parse(&text) {
                Ok(link) => {
                    accepted.set(accepted.get() + 1);
                    let again =
                        link.to_fragment().map_err(|e| TestCaseError::fail(format!("re-encoding: {e}")))?;
                    prop_assert_eq!(Link::parse(&again), Ok(link));
                }
                Err(e) => {
                    let message = e.to_string();
                    prop_assert!(message.chars().count() < 400, "a long message: {}", message);
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{} links fed to the decoder, {} accepted", ran.get(), accepted.get());
    assert!(ran.get() >= cases, "ran {} of {cases}", ran.get());
    assert!(accepted.get() > 0, "some mutations still decode (the property checks their re-encoding)");
}
