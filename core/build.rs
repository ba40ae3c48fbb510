//! Lessons are written in TOML (tutorials/*.toml) and embedded as JSON: the same serde types read
//! both, and the browser's wasm then needs no TOML parser. A file that is not TOML stops the build
//! with its name and the parser's message; what the lesson says is checked by `Lesson::from_json`
//! (and tests/spec_lessons.rs).

use std::path::Path;
use std::{env, fs};

fn main() {
    let tutorials = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tutorials");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("lessons");
    fs::create_dir_all(&out).expect("OUT_DIR is writable");
    println!("cargo:rerun-if-changed={}", tutorials.display());
    let mut entries: Vec<_> = fs::read_dir(&tutorials).expect("tutorials/ exists").flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let text = fs::read_to_string(&path).expect("a lesson file is readable");
        let table: toml::Table =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{} is not TOML: {e}", path.display()));
        let json = serde_json::to_string(&table).expect("TOML values are JSON values");
        let name = path.with_extension("json");
        let name = name.file_name().expect("a file name");
        fs::write(out.join(name), json).expect("OUT_DIR is writable");
    }
}
