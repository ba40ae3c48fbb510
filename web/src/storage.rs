//! Autosave: the scenario (its actions are the player's work) and the cursor position, kept in
//! localStorage as the same JSON the CLI reads, and restored on reload. A saved scenario that no
//! longer loads is kept aside under another key, never thrown away, and the page says so.

use pageflow_core::Scenario;
use web_sys::Storage;

use crate::session::Session;

const SCENARIO_KEY: &str = "pageflow.v1.scenario";
const POSITION_KEY: &str = "pageflow.v1.position";
const UNREADABLE_KEY: &str = "pageflow.v1.unreadable-scenario";

/// localStorage, when the browser lets the page have it.
fn local() -> Option<Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn set(key: &str, value: &str) {
    // Storage can be full or switched off; the playground works on without it.
    if let Some(s) = local() {
        let _ = s.set_item(key, value);
    }
}

fn get(key: &str) -> Option<String> {
    local()?.get_item(key).ok()?
}

pub fn save_scenario(s: &Scenario) {
    set(SCENARIO_KEY, &s.to_json());
}

pub fn save_position(pos: usize) {
    set(POSITION_KEY, &pos.to_string());
}

fn built_in() -> Session {
    Session::new(&Scenario::default_scenario()).expect("the built-in scenario runs")
}

/// The saved session, or the built-in scenario with a message saying why the saved one could
/// not be used.
pub fn restore() -> (Session, Option<String>) {
    let Some(text) = get(SCENARIO_KEY) else { return (built_in(), None) };
    match Scenario::from_json(&text).map_err(|e| e.to_string()).and_then(|s| Session::new(&s)) {
        Ok(mut session) => {
            let pos = get(POSITION_KEY).and_then(|p| p.parse().ok()).unwrap_or(0);
            session.go(pos);
            (session, None)
        }
        Err(e) => {
            set(UNREADABLE_KEY, &text);
            if let Some(s) = local() {
                let _ = s.remove_item(SCENARIO_KEY);
            }
            let message = format!(
                "Your saved scenario could not be loaded ({e}). It is kept in localStorage under \
                 \"{UNREADABLE_KEY}\"; the built-in scenario is shown."
            );
            (built_in(), Some(message))
        }
    }
}
