//! Lessons are written in TOML (tutorials/*.toml) with Markdown text, and embedded as JSON with
//! each slide's text already turned into tokens: the same serde types read both, and the
//! browser's wasm then needs neither a TOML nor a Markdown parser. The tokens come from the
//! crate's own tokeniser (the two files included below), so the build and `Lesson::parse` cannot
//! tokenise differently. A file that is not TOML stops the build with its name and the parser's
//! message; what the lesson says is checked by `Lesson::from_json` (and tests/spec_lessons.rs).

use std::path::Path;
use std::{env, fs};

#[path = "src/lesson/markdown.rs"]
#[expect(dead_code, reason = "the build writes tokens; reading them is the crate's business")]
mod markdown;

#[path = "src/lesson/commonmark.rs"]
mod commonmark;

fn main() {
    let tutorials = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tutorials");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("lessons");
    fs::create_dir_all(&out).expect("OUT_DIR is writable");
    println!("cargo:rerun-if-changed={}", tutorials.display());
    println!("cargo:rerun-if-changed=src/lesson/markdown.rs");
    println!("cargo:rerun-if-changed=src/lesson/commonmark.rs");
    let mut entries: Vec<_> = fs::read_dir(&tutorials).expect("tutorials/ exists").flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let text = fs::read_to_string(&path).expect("a lesson file is readable");
        let lesson: toml::Table =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{} is not TOML: {e}", path.display()));
        let mut json = serde_json::to_value(&lesson).expect("TOML values are JSON values");
        // A text that is not a string stays as it is, for `Lesson::from_json` to refuse by name.
        for slide in json.get_mut("slides").and_then(|s| s.as_array_mut()).into_iter().flatten() {
            if let Some(text) = slide.get_mut("text") {
                if let Some(markdown) = text.as_str() {
                    *text = serde_json::to_value(commonmark::render(markdown)).expect("tokens are JSON");
                }
            }
        }
        let name = path.with_extension("json");
        let name = name.file_name().expect("a file name");
        fs::write(out.join(name), json.to_string()).expect("OUT_DIR is writable");
    }
}
