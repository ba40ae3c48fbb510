//! Scenarios and traces as files, in the formats the command line reads and writes: a scenario
//! saved here runs in `pageflow run`, and a scenario file from the command line opens here.

use gloo::file::{Blob, ObjectUrl};
use pageflow_core::trace::{write_json_lines, Event};
use pageflow_core::Scenario;
use wasm_bindgen::JsCast;

/// Offer `text` as a download named `name`.
pub fn download(name: &str, mime: &str, text: &str) -> Result<(), String> {
    let url = ObjectUrl::from(Blob::new_with_options(text, Some(mime)));
    let document = gloo::utils::document();
    let a: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|_| "the page cannot make a link")?
        .dyn_into()
        .map_err(|_| "the page cannot make a link")?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    Ok(())
}

/// A file name from a scenario's name: letters, digits and dashes.
pub fn file_name(scenario: &Scenario, extension: &str) -> String {
    let stem: String = scenario
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .take(8)
        .collect::<Vec<_>>()
        .join("-");
    format!("{}.{extension}", if stem.is_empty() { "pageflow-scenario" } else { &stem })
}

/// The events as JSON lines, as `pageflow run --trace FILE` writes them.
pub fn trace_lines(events: &[Event]) -> String {
    let mut out = Vec::with_capacity(events.len() * 96);
    // Writing to memory cannot fail.
    let _ = write_json_lines(events, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_keeps_the_words_of_the_scenario_name() {
        let mut s = Scenario::default_scenario();
        s.name = "A first look: single pages, <b>bulk</b>!".into();
        assert_eq!(file_name(&s, "json"), "a-first-look-single-pages-b-bulk-b.json");
        s.name = "???".into();
        assert_eq!(file_name(&s, "json"), "pageflow-scenario.json");
    }
}
