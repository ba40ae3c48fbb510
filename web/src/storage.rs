//! Autosave: the scenario (its actions are the player's work) and the cursor position, kept in
//! localStorage as the same JSON the CLI reads, and restored on reload. A saved scenario that no
//! longer loads is kept aside under another key, never thrown away, and the page says so.

use pageflow_core::share::Link;
use pageflow_core::Scenario;
use web_sys::Storage;

use crate::session::Session;

const SCENARIO_KEY: &str = "pageflow.v1.scenario";
const POSITION_KEY: &str = "pageflow.v1.position";
const UNREADABLE_KEY: &str = "pageflow.v1.unreadable-scenario";
/// Where the scenario a shared link replaced is kept.
const PREVIOUS_KEY: &str = "pageflow.v1.previous-scenario";

/// How the page starts: the session, a message for the banner, and whether it is embedded.
pub struct Start {
    pub session: Session,
    pub problem: Option<String>,
    pub embed: bool,
    /// A lesson and slide (counted from 1) the link asks to open.
    pub lesson: Option<(String, u32)>,
}

/// The page's address fragment, if any.
fn fragment() -> Option<String> {
    web_sys::window()?.location().hash().ok().filter(|h| h.contains("s="))
}

/// Start from a shared link in the address if there is one, else from the saved work. A link
/// that cannot be opened leaves the saved work as it was and says why; a good one becomes the
/// current work, the work it replaces kept under another key.
pub fn start() -> Start {
    let Some(hash) = fragment() else {
        let (session, problem) = restore();
        return Start { session, problem, embed: false, lesson: None };
    };
    let opened = Link::parse(&hash).map_err(|e| e.to_string()).and_then(|link| {
        let session = Session::new(&link.scenario)?;
        Ok((link, session))
    });
    match opened {
        Ok((link, mut session)) => {
            if !link.embed {
                replace_work(session.scenario());
            }
            if let Some(step) = link.step {
                session.go(usize::try_from(step).unwrap_or(usize::MAX));
            }
            let lesson = link.lesson.map(|id| (id, link.slide.unwrap_or(1)));
            Start { session, problem: None, embed: link.embed, lesson }
        }
        Err(e) => {
            let (session, problem) = restore();
            let message =
                format!("This link could not be opened: {e}. Nothing was changed; your own work is shown.");
            Start {
                session,
                problem: Some(problem.map_or(message.clone(), |p| format!("{message} {p}"))),
                embed: false,
                lesson: None,
            }
        }
    }
}

/// Make `scenario` the saved work (from a link or a file), keeping the work it replaces under
/// another key.
pub fn replace_work(scenario: &Scenario) {
    let json = scenario.to_json();
    if let Some(saved) = get(SCENARIO_KEY).filter(|saved| *saved != json) {
        set(PREVIOUS_KEY, &saved);
    }
    set(SCENARIO_KEY, &json);
}

/// The address of the current scenario at `step`, to share.
/// `lesson` is the lesson id and slide (counted from 1) the learner is on, if any.
pub fn share_url(scenario: &Scenario, step: usize, lesson: Option<(String, u32)>) -> Result<String, String> {
    let (lesson, slide) = lesson.map_or((None, None), |(id, slide)| (Some(id), Some(slide)));
    let link = Link { step: Some(step as u64), lesson, slide, ..Link::new(scenario.clone()) };
    let fragment = link.to_fragment().map_err(|e| e.to_string())?;
    let location = web_sys::window().ok_or("no window")?.location();
    let href = location.href().map_err(|_| "no address")?;
    let base = href.split('#').next().unwrap_or(&href).to_owned();
    Ok(format!("{base}#{fragment}"))
}

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
fn restore() -> (Session, Option<String>) {
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
