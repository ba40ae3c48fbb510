//! pageflow in the browser: a Yew UI over the core's [`Timeline`](pageflow_core::Timeline).
//!
//! The [`session::Session`] owns the timeline and the cursor; components get a [`session::Frame`]
//! (what to draw) and callbacks (what the player asked for). Nothing here changes the model but
//! through the session, so what the page shows is what the core computed.

pub mod files;
pub mod palette;
pub mod session;
pub mod storage;
pub mod views;

use std::cell::RefCell;
use std::rc::Rc;

use gloo::events::{EventListener, EventListenerOptions};
use gloo::timers::callback::{Interval, Timeout};
use pageflow_core::{Action, Profile, Scenario};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use session::{Landmark, Session};
use views::code::CodePanel;
use views::compare::ComparePanel;
use views::controls::{ActionForm, GfpEditor, MachineForm};
use views::events::{ActionList, EventLog};
use views::free_area::FreeArea;
use views::holders::Holders;
use views::icons;
use views::lesson::{LessonPanel, SlideState};
use views::memory_map::MemoryMap;
use views::pcp::PcpColumns;
use views::plots::Plots;

/// Play speeds in events per second.
const SPEEDS: [u32; 9] = [1, 2, 5, 10, 30, 100, 1_000, 10_000, 100_000];
const DEFAULT_SPEED: usize = 3;
/// Play ticks this often at speeds above its rate, applying several events per tick.
const TICK_MS: u32 = 50;

/// The session and a way to redraw after changing it.
#[derive(Clone)]
struct Handle {
    session: Rc<RefCell<Session>>,
    redraw: Callback<()>,
}

impl Handle {
    fn act(&self, f: impl FnOnce(&mut Session)) {
        let generation = self.session.borrow().generation;
        f(&mut self.session.borrow_mut());
        self.session.borrow_mut().generation = generation + 1;
        storage::save_position(self.session.borrow().cursor.pos);
        self.redraw.emit(());
    }
}

/// A long run in progress: actions queued at the start and still pending.
#[derive(Clone, Copy, PartialEq)]
struct Progress {
    total: usize,
    left: usize,
}

#[function_component(App)]
pub fn app() -> Html {
    let banner = use_state(|| None::<String>);
    let embed = use_state(|| false);
    let linked_lesson = use_mut_ref(|| None::<(String, u32)>);
    let session = {
        let (banner, embed, linked_lesson) = (banner.clone(), embed.clone(), linked_lesson.clone());
        use_mut_ref(move || {
            let start = storage::start();
            if let Some(p) = start.problem {
                banner.set(Some(p));
            }
            embed.set(start.embed);
            *linked_lesson.borrow_mut() = start.lesson;
            start.session
        })
    };
    let shared = use_state(|| None::<String>);
    // Whether the browser let the Share button copy the link: unknown until it answers.
    let copied = use_state(|| None::<bool>);
    // Lessons: the slide the learner is on, its text filled from the model on arrival.
    let all_lessons = use_memo((), |_| pageflow_core::lesson::lessons());
    let lesson_state = use_state(|| None::<SlideState>);

    let update = use_force_update();
    let handle = Handle { session: session.clone(), redraw: Callback::from(move |_| update.force_update()) };
    let generation = session.borrow().generation;
    let frame = {
        let session = session.clone();
        use_memo(generation, move |_| session.borrow().frame())
    };
    let profile: &'static Profile = frame.machine.profile;

    let playing = use_state(|| false);
    let speed = use_state(|| DEFAULT_SPEED);
    let help = use_state(|| false);
    let gfp = use_state(|| "GFP_KERNEL".to_owned());
    let order = use_state(|| 0u8);
    let progress = use_state(|| None::<Progress>);
    let player = use_mut_ref(|| None::<Interval>);

    // Play: a timer that steps while playing; batches of events per tick at high speeds.
    {
        let handle = handle.clone();
        let playing_flag = playing.clone();
        let player = player.clone();
        use_effect_with((*playing, *speed), move |(on, speed)| {
            *player.borrow_mut() = None;
            if *on {
                let eps = SPEEDS[*speed];
                let (period, per_tick) = if eps * TICK_MS < 1000 {
                    (1000 / eps, 1)
                } else {
                    (TICK_MS, (eps * TICK_MS / 1000) as usize)
                };
                let h = handle.clone();
                *player.borrow_mut() = Some(Interval::new(period, move || {
                    let mut done = false;
                    h.act(|s| {
                        s.advance(per_tick);
                        done = s.at_end();
                    });
                    if done {
                        playing_flag.set(false);
                    }
                }));
            }
        });
    }

    let toggle_play = {
        let playing = playing.clone();
        let handle = handle.clone();
        Callback::from(move |_: ()| {
            if !*playing && handle.session.borrow().at_end() {
                handle.act(|s| s.go(0));
            }
            playing.set(!*playing);
        })
    };
    let nav = |f: fn(&mut Session)| {
        let handle = handle.clone();
        let playing = playing.clone();
        Callback::from(move |_: ()| {
            playing.set(false);
            handle.act(f);
        })
    };
    let step = nav(|s| {
        s.step();
    });
    let back = nav(Session::back);
    let over = nav(Session::step_over);
    let out = nav(Session::step_out);
    let next_action = nav(Session::next_action);
    let prev_action = nav(Session::previous_action);
    let first = nav(|s| s.go(0));
    let last = nav(|s| s.go(usize::MAX));
    let slower = {
        let speed = speed.clone();
        Callback::from(move |_: ()| speed.set(speed.saturating_sub(1)))
    };
    let faster = {
        let speed = speed.clone();
        Callback::from(move |_: ()| speed.set((*speed + 1).min(SPEEDS.len() - 1)))
    };
    let seek = {
        let handle = handle.clone();
        let playing = playing.clone();
        Callback::from(move |pos: usize| {
            playing.set(false);
            handle.act(|s| s.go(pos));
        })
    };
    let landmark = use_state(|| 0usize);
    let jump = {
        let handle = handle.clone();
        let landmark = landmark.clone();
        let banner = banner.clone();
        let playing = playing.clone();
        Callback::from(move |forward: bool| {
            playing.set(false);
            let mark = Landmark::ALL[*landmark];
            let mut found = true;
            handle.act(|s| found = if forward { s.jump(mark) } else { s.jump_back(mark) });
            if !found {
                banner.set(Some(format!(
                    "No {} {} here.",
                    mark.label(),
                    if forward { "after" } else { "before" }
                )));
            }
        })
    };
    let toggle_help = {
        let help = help.clone();
        Callback::from(move |_: ()| help.set(!*help))
    };

    // The keyboard, as in other steppers: Space plays, arrows step, Shift steps over or out.
    {
        let (toggle_play, step, back, over, out) =
            (toggle_play.clone(), step.clone(), back.clone(), over.clone(), out.clone());
        let (next_action, prev_action, first, last) =
            (next_action.clone(), prev_action.clone(), first.clone(), last.clone());
        let (slower, faster, toggle_help, help) =
            (slower.clone(), faster.clone(), toggle_help.clone(), help.clone());
        use_effect_with((), move |_| {
            // Not passive: the keys the player uses must not also scroll the page.
            let options = EventListenerOptions::enable_prevent_default();
            let listener =
                EventListener::new_with_options(&gloo::utils::document(), "keydown", options, move |e| {
                    let Some(e) = e.dyn_ref::<KeyboardEvent>() else { return };
                    if e.ctrl_key() || e.meta_key() || e.alt_key() {
                        return;
                    }
                    let typing = gloo::utils::document()
                        .active_element()
                        .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
                    if typing {
                        return;
                    }
                    let handled = match (e.key().as_str(), e.shift_key()) {
                        (" ", _) => Some(&toggle_play),
                        ("ArrowRight", false) => Some(&step),
                        ("ArrowLeft", false) => Some(&back),
                        ("ArrowRight", true) => Some(&over),
                        ("ArrowLeft", true) => Some(&out),
                        ("PageDown", _) => Some(&next_action),
                        ("PageUp", _) => Some(&prev_action),
                        ("Home", _) => Some(&first),
                        ("End", _) => Some(&last),
                        ("-", _) => Some(&slower),
                        ("+" | "=", _) => Some(&faster),
                        ("?", _) => Some(&toggle_help),
                        ("Escape", _) if *help => Some(&toggle_help),
                        _ => None,
                    };
                    if let Some(cb) = handled {
                        e.prevent_default();
                        cb.emit(());
                    }
                });
            move || drop(listener)
        });
    }

    // One level of undo for running an action in the past, which drops the actions after it.
    let undo = use_mut_ref(|| None::<Session>);
    let undo_note = use_state(|| None::<String>);
    let perform = {
        let handle = handle.clone();
        let banner = banner.clone();
        let playing = playing.clone();
        let (undo, undo_note) = (undo.clone(), undo_note.clone());
        Callback::from(move |action: Action| {
            let before = handle.session.borrow().clone();
            let mut result = Ok(0);
            handle.act(|s| result = s.perform(action));
            match result {
                Ok(dropped) => {
                    if dropped > 0 {
                        let kept = before.scenario().actions.len() - dropped;
                        *undo.borrow_mut() = Some(before);
                        let place = if kept == 0 {
                            "at the start".to_owned()
                        } else {
                            format!("after action {}", kept - 1)
                        };
                        let plural = if dropped == 1 { " was" } else { "s were" };
                        undo_note
                            .set(Some(format!("Ran {place}: the {dropped} later action{plural} dropped.")));
                    } else {
                        undo_note.set(None);
                    }
                    banner.set(None);
                    storage::save_scenario(handle.session.borrow().scenario());
                    playing.set(true);
                }
                Err(e) => banner.set(Some(format!("That action cannot run: {e}"))),
            }
        })
    };
    let reconfigure = {
        let handle = handle.clone();
        let banner = banner.clone();
        let playing = playing.clone();
        Callback::from(move |(config, profile): (pageflow_core::MachineConfig, String)| {
            playing.set(false);
            let next = handle.session.borrow().reconfigure(config, &profile);
            match next {
                Ok(s) => {
                    storage::save_scenario(s.scenario());
                    handle.act(|old| *old = s);
                    banner.set(None);
                }
                Err(e) => banner.set(Some(format!("That machine cannot boot: {e}"))),
            }
        })
    };
    let long_run = {
        let handle = handle.clone();
        let banner = banner.clone();
        let progress = progress.clone();
        Callback::from(move |(chunks, ops): (u32, u32)| {
            let mut result = Ok(());
            handle.act(|s| result = s.queue_workload(chunks, ops));
            if let Err(e) = result {
                banner.set(Some(format!("That workload cannot run: {e}")));
                return;
            }
            progress.set(Some(Progress { total: chunks as usize, left: chunks as usize }));
            run_chunks(handle.clone(), progress.clone(), chunks as usize);
        })
    };
    let undo_perform = {
        let handle = handle.clone();
        let (undo, undo_note) = (undo.clone(), undo_note.clone());
        let playing = playing.clone();
        Callback::from(move |_| {
            if let Some(old) = undo.borrow_mut().take() {
                playing.set(false);
                storage::save_scenario(old.scenario());
                handle.act(|s| *s = old);
            }
            undo_note.set(None);
        })
    };
    let cancel = {
        let handle = handle.clone();
        let progress = progress.clone();
        Callback::from(move |_| {
            handle.act(Session::cancel_pending);
            storage::save_scenario(handle.session.borrow().scenario());
            progress.set(None);
        })
    };
    let reset = {
        let handle = handle.clone();
        let banner = banner.clone();
        Callback::from(move |_| {
            if let Ok(s) = Session::new(&Scenario::default_scenario()) {
                storage::save_scenario(s.scenario());
                handle.act(|old| *old = s);
                banner.set(None);
            }
        })
    };
    let on_gfp = {
        let gfp = gfp.clone();
        Callback::from(move |g: String| gfp.set(g))
    };
    let on_order = {
        let order = order.clone();
        Callback::from(move |o: u8| order.set(o))
    };
    let on_scrub = {
        let seek = seek.clone();
        Callback::from(move |e: InputEvent| {
            let v = e.target_unchecked_into::<web_sys::HtmlInputElement>().value();
            seek.emit(v.parse().unwrap_or(0));
        })
    };
    let on_landmark = {
        let landmark = landmark.clone();
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
            landmark.set(v.parse().unwrap_or(0));
        })
    };
    let share = {
        let handle = handle.clone();
        let (shared, copied, banner, lesson_state, all) =
            (shared.clone(), copied.clone(), banner.clone(), lesson_state.clone(), all_lessons.clone());
        Callback::from(move |_| {
            let s = handle.session.borrow();
            let lesson = lesson_state.as_ref().map(|st| (all[st.lesson].id.clone(), st.slide as u32 + 1));
            match storage::share_url(s.scenario(), s.cursor.pos, lesson) {
                Ok(url) => {
                    // The clipboard may be refused (no focus, no permission): the dialog shows the
                    // link either way, and says whether it was copied.
                    copied.set(None);
                    if let Some(w) = web_sys::window() {
                        let written =
                            wasm_bindgen_futures::JsFuture::from(w.navigator().clipboard().write_text(&url));
                        let copied = copied.clone();
                        yew::platform::spawn_local(async move { copied.set(Some(written.await.is_ok())) });
                    }
                    shared.set(Some(url));
                }
                Err(e) => banner.set(Some(format!(
                    "This scenario cannot be shared as a link: {e}. Export it as a file instead."
                ))),
            }
        })
    };
    let save_scenario_file = {
        let (handle, banner) = (handle.clone(), banner.clone());
        Callback::from(move |_| {
            let s = handle.session.borrow();
            let name = files::file_name(s.scenario(), "json");
            if let Err(e) = files::download(&name, "application/json", &s.scenario().to_json()) {
                banner.set(Some(format!("The file could not be saved: {e}")));
            }
        })
    };
    let save_trace_file = {
        let (handle, banner) = (handle.clone(), banner.clone());
        Callback::from(move |_| {
            let s = handle.session.borrow();
            let name = files::file_name(s.scenario(), "trace.jsonl");
            if let Err(e) =
                files::download(&name, "application/x-ndjson", &files::trace_lines(s.timeline.events()))
            {
                banner.set(Some(format!("The trace could not be saved: {e}")));
            }
        })
    };
    // Reading a file is asynchronous; the reader must live until it calls back.
    let reader = use_mut_ref(|| None::<gloo::file::callbacks::FileReader>);
    let open_file = {
        let (handle, banner, playing, reader) =
            (handle.clone(), banner.clone(), playing.clone(), reader.clone());
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|list| list.get(0)) else { return };
            input.set_value("");
            let file = gloo::file::File::from(file);
            let name = file.name();
            let (handle, banner, playing) = (handle.clone(), banner.clone(), playing.clone());
            let task = gloo::file::callbacks::read_as_text(&file, move |text| {
                let opened = text
                    .map_err(|e| e.to_string())
                    .and_then(|t| Scenario::from_json(&t).map_err(|e| e.to_string()))
                    .and_then(|s| Session::new(&s));
                match opened {
                    Ok(s) => {
                        playing.set(false);
                        storage::replace_work(s.scenario());
                        handle.act(|old| *old = s);
                        banner.set(None);
                    }
                    Err(e) => {
                        banner.set(Some(format!("{name} could not be opened: {e}. Nothing was changed.")))
                    }
                }
            });
            *reader.borrow_mut() = Some(task);
        })
    };
    let arrive =
        |all: &[pageflow_core::lesson::Lesson], s: &Session, lesson: usize, slide: usize| -> SlideState {
            let sl = &all[lesson].slides[slide];
            let t = &s.timeline;
            let needs_act = sl.action.is_some() || sl.question.is_some();
            SlideState {
                lesson,
                slide,
                text: sl.render(t).unwrap_or_else(|e| vec![pageflow_core::lesson::markdown::Token::Text(e)]),
                acted: false,
                judgement: None,
                blocked: if needs_act { None } else { sl.checks_hold(t).err() },
            }
        };
    let start_lesson = {
        let (handle, banner, playing, all, lesson_state) =
            (handle.clone(), banner.clone(), playing.clone(), all_lessons.clone(), lesson_state.clone());
        Callback::from(move |(i, slide): (usize, usize)| {
            // At slide K the actions of the slides before it have been taken.
            let lesson = &all[i];
            let slide = slide.min(lesson.slides.len().saturating_sub(1));
            let mut scenario = lesson.scenario.clone();
            scenario.actions.extend(lesson.slides[..slide].iter().filter_map(|s| s.action.clone()));
            match Session::new(&scenario) {
                Ok(mut s) => {
                    s.go(usize::MAX);
                    playing.set(false);
                    storage::replace_work(s.scenario());
                    lesson_state.set(Some(arrive(&all, &s, i, slide)));
                    handle.act(|old| *old = s);
                }
                Err(e) => banner.set(Some(format!("That lesson cannot start: {e}"))),
            }
        })
    };
    {
        // A link may name a lesson and slide: open it once the page is up.
        let (start_lesson, all, banner, linked_lesson) =
            (start_lesson.clone(), all_lessons.clone(), banner.clone(), linked_lesson.clone());
        use_effect_with((), move |_| {
            if let Some((id, slide)) = linked_lesson.borrow_mut().take() {
                match all.iter().position(|l| l.id == id) {
                    Some(i) => start_lesson.emit((i, slide.saturating_sub(1) as usize)),
                    None => banner.set(Some(format!(
                        "The link names a lesson \"{id}\" that this pageflow does not have."
                    ))),
                }
            }
        });
    }
    let slide_act = {
        let (handle, banner, playing, all, lesson_state) =
            (handle.clone(), banner.clone(), playing.clone(), all_lessons.clone(), lesson_state.clone());
        Callback::from(move |guess: Option<pageflow_core::lesson::Answer>| {
            let Some(mut st) = (*lesson_state).clone() else { return };
            let slide = &all[st.lesson].slides[st.slide];
            if let Some(action) = slide.action.clone() {
                let mut result = Ok(0);
                // A lesson's actions follow each other: run it after everything, never in the past.
                handle.act(|s| {
                    s.go(usize::MAX);
                    result = s.perform(action);
                });
                if let Err(e) = result {
                    banner.set(Some(format!("The lesson's action cannot run: {e}")));
                    return;
                }
                playing.set(true);
            }
            let s = handle.session.borrow();
            if let Some(q) = &slide.question {
                // No guess still reveals the model's answer, judged as a miss.
                let guess = guess.unwrap_or(match q {
                    pageflow_core::lesson::Question::Number { .. } => {
                        pageflow_core::lesson::Answer::Number(i64::MIN)
                    }
                    pageflow_core::lesson::Question::Choice { .. } => {
                        pageflow_core::lesson::Answer::Choice(usize::MAX)
                    }
                });
                match q.judge(&guess, &s.timeline) {
                    Ok(j) => st.judgement = Some(j),
                    Err(e) => banner.set(Some(format!("The model could not answer: {e}"))),
                }
            }
            st.acted = true;
            st.blocked = slide.checks_hold(&s.timeline).err();
            lesson_state.set(Some(st));
        })
    };
    let slide_next = {
        let (handle, all, lesson_state) = (handle.clone(), all_lessons.clone(), lesson_state.clone());
        Callback::from(move |_: ()| {
            let Some(st) = (*lesson_state).clone() else { return };
            if st.slide + 1 < all[st.lesson].slides.len() {
                lesson_state.set(Some(arrive(&all, &handle.session.borrow(), st.lesson, st.slide + 1)));
            }
        })
    };
    let leave_lesson = {
        let lesson_state = lesson_state.clone();
        Callback::from(move |_: ()| lesson_state.set(None))
    };
    let click = |cb: &Callback<()>| cb.reform(|_: MouseEvent| ());
    let scenario_name = session.borrow().scenario().name.clone();

    html! {
        <>
        <header class="top">
            <h1>{ "pageflow" }</h1>
            <p class="subtitle">{ "How Linux hands out pages: " }<span data-testid="scenario-name">{ scenario_name }</span></p>
            <span class="profile-badge" title={profile.title}>{ format!("kernel {}", profile.id) }</span>
            <button onclick={click(&toggle_help)} aria-label="Keyboard shortcuts and help" data-testid="help-button">{ "?" }</button>
            <label class="button" title="Open a scenario file (the format pageflow run reads)">{ "Open…" }
                <input type="file" accept=".json,application/json" onchange={open_file} data-testid="open-file" class="sr-only" /></label>
            <button onclick={save_scenario_file.clone()} data-testid="save-scenario" title="Save the scenario as a file for pageflow run">{ "Save" }</button>
            <button onclick={save_trace_file} data-testid="save-trace" title="Save every event as JSON lines">{ "Save trace" }</button>
            <button onclick={share} data-testid="share" title="Copy a link to this scenario at this step">{ "Share" }</button>
            <button onclick={reset} title="Start again from the built-in scenario">{ "Reset" }</button>
        </header>
        if let Some(url) = (*shared).clone() {
            <div class="notice" role="dialog" aria-label="Share link" data-testid="share-dialog">
                <label>{ match *copied {
                    Some(true) => "Link, copied to the clipboard: ",
                    Some(false) => "Link (the browser did not allow copying; select it and copy): ",
                    None => "Link: ",
                } }<input type="text" readonly=true value={url.clone()} data-testid="share-url" size="60" /></label>
                <span class="muted" data-testid="share-length">{ format!("{} characters", url.len()) }</span>
                <button onclick={save_scenario_file.clone()} title="For scenarios too big for a link">{ "Save as file" }</button>
                <button onclick={ let s = shared.clone(); Callback::from(move |_| s.set(None)) } aria-label="Close">{ "×" }</button>
            </div>
        }
        if let Some(msg) = (*banner).clone() {
            <div class="banner" role="alert" data-testid="banner">
                <span>{ msg }</span>
                <button onclick={ let b = banner.clone(); Callback::from(move |_| b.set(None)) } aria-label="Dismiss">{ "×" }</button>
            </div>
        }
        if let Some(note) = (*undo_note).clone() {
            <div class="notice" role="status" data-testid="undo-note">
                <span>{ note }</span>
                <button onclick={undo_perform} data-testid="undo">{ "Undo" }</button>
                <button onclick={ let n = undo_note.clone(); Callback::from(move |_| n.set(None)) } aria-label="Dismiss">{ "×" }</button>
            </div>
        }
        if let Some(p) = *progress {
            <div class="progress" role="status" data-testid="progress">
                <progress max={p.total.to_string()} value={(p.total - p.left).to_string()}></progress>
                <span>{ format!("running chunk {} of {}", p.total - p.left, p.total) }</span>
                <button onclick={cancel} data-testid="cancel-run">{ "Cancel" }</button>
            </div>
        }
        <nav class="transport" aria-label="Stepping">
            <button onclick={click(&first)} aria-label="First event (Home)" title="First (Home)">{ icons::first() }</button>
            <button onclick={click(&prev_action)} aria-label="Previous action (Page Up)" title="Previous action (PgUp)">{ icons::previous_action() }</button>
            <button onclick={click(&out)} aria-label="Step out (Shift+Left)" title="Step out (Shift+←)">{ icons::step_out() }</button>
            <button onclick={click(&back)} aria-label="Step back (Left)" title="Step back (←)" data-testid="step-back">{ icons::back() }</button>
            <button onclick={click(&toggle_play)} aria-label={if *playing { "Pause (Space)" } else { "Play (Space)" }}
                data-testid="play" class="play">{ if *playing { icons::pause() } else { icons::play() } }</button>
            <button onclick={click(&step)} aria-label="Step (Right)" title="Step (→)" data-testid="step">{ icons::step() }</button>
            <button onclick={click(&over)} aria-label="Step over (Shift+Right)" title="Step over (Shift+→)">{ icons::step_over() }</button>
            <button onclick={click(&next_action)} aria-label="Next action (Page Down)" title="Next action (PgDn)" data-testid="next-action">{ icons::next_action() }</button>
            <button onclick={click(&last)} aria-label="Last event (End)" title="Last (End)">{ icons::last() }</button>
            <span class="speed">
                <button onclick={click(&slower)} aria-label="Slower (-)">{ "−" }</button>
                <span data-testid="speed">{ format!("{}/s", SPEEDS[*speed]) }</span>
                <button onclick={click(&faster)} aria-label="Faster (+)">{ "+" }</button>
            </span>
            <span class="jump">
                <select onchange={on_landmark} aria-label="Kind of event to jump to">
                { for Landmark::ALL.iter().enumerate().map(|(i, m)| html! {
                    <option value={i.to_string()} selected={i == *landmark}>{ m.label() }</option>
                }) }
                </select>
                <button onclick={ let j = jump.clone(); Callback::from(move |_| j.emit(false)) } aria-label="Previous of that kind">{ "◂" }</button>
                <button onclick={ let j = jump.clone(); Callback::from(move |_| j.emit(true)) } aria-label="Next of that kind" data-testid="jump-next">{ "▸" }</button>
            </span>
            <label class="scrub"><span class="sr-only">{ "Timeline position" }</span>
                <input type="range" min="0" max={frame.total.to_string()} value={frame.pos.to_string()}
                    oninput={on_scrub} data-testid="scrubber" aria-valuetext={format!("event {} of {}", frame.pos, frame.total)} />
            </label>
            <span class="pos" data-testid="position">{ format!("event {} / {} · action {} / {}", frame.pos, frame.total, frame.action.min(frame.actions), frame.actions) }</span>
        </nav>
        <p class="sr-only" aria-live="polite" data-testid="narration">{ frame.last.clone().unwrap_or_default() }</p>
        <main class={classes!("layout", embed.then_some("embed"))}>
            if *embed {
                <p class="embed-note"><a href={open_full_url()} target="_blank" rel="noopener">{ "Open in pageflow" }</a></p>
            }
            <div class="col controls-col">
                <LessonPanel state={(*lesson_state).clone()} on_start={start_lesson.reform(|i| (i, 0))} on_act={slide_act}
                    on_next={slide_next} on_leave={leave_lesson} />
                <ActionForm gfp={(*gfp).clone()} cpus={frame.machine.config.cpus} on_order={on_order}
                    on_perform={perform} on_long_run={long_run} />
                <GfpEditor profile={profile} gfp={(*gfp).clone()} order={*order} on_change={on_gfp} />
                <MachineForm frame={frame.clone()} profile={profile.id.to_owned()} on_apply={reconfigure} />
            </div>
            <div class="col main-col">
                <MemoryMap frame={frame.clone()} />
                <PcpColumns frame={frame.clone()} />
                <Holders frame={frame.clone()} />
                <Plots frame={frame.clone()} />
                <ComparePanel scenario={session.borrow().scenario().clone()} />
            </div>
            <div class="col side-col">
                <CodePanel frame={frame.clone()} />
                <EventLog frame={frame.clone()} on_seek={seek.clone()} />
                <FreeArea frame={frame.clone()} />
                <ActionList frame={frame.clone()} on_seek={seek} />
            </div>
        </main>
        if *help {
            <div class="help" role="dialog" aria-modal="true" aria-labelledby="help-title" data-testid="help">
                <h2 id="help-title">{ "Keyboard" }</h2>
                <dl>
                    <dt>{ "Space" }</dt><dd>{ "play / pause" }</dd>
                    <dt>{ "→ / ←" }</dt><dd>{ "one event forward / back" }</dd>
                    <dt>{ "Shift+→" }</dt><dd>{ "step over a call" }</dd>
                    <dt>{ "Shift+←" }</dt><dd>{ "step out of the current function" }</dd>
                    <dt>{ "PgDn / PgUp" }</dt><dd>{ "next / previous action" }</dd>
                    <dt>{ "Home / End" }</dt><dd>{ "first / last event" }</dd>
                    <dt>{ "− / +" }</dt><dd>{ "slower / faster" }</dd>
                    <dt>{ "?" }</dt><dd>{ "this help (Esc closes)" }</dd>
                </dl>
                <p>{ "The model follows mm/page_alloc.c of the chosen kernel; its simplifications are listed in DEVIATIONS.md. Costs are counted events, not measured time." }</p>
                <button onclick={click(&toggle_help)}>{ "Close" }</button>
            </div>
        }
        </>
    }
}

/// This page's address without `embed=1`: the full playground on the same scenario.
fn open_full_url() -> String {
    let href = web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default();
    href.replace("&embed=1", "")
}

/// Run queued chunks one per task, yielding to the browser between them so the page stays
/// responsive, the progress bar moves and Cancel can be clicked.
fn run_chunks(handle: Handle, progress: UseStateHandle<Option<Progress>>, total: usize) {
    Timeout::new(0, move || {
        let left = {
            let mut s = handle.session.borrow_mut();
            s.run_pending(1);
            s.pending()
        };
        // Cancel empties the queue too, so both end here.
        if left == 0 {
            storage::save_scenario(handle.session.borrow().scenario());
            progress.set(None);
            handle.act(|_| ());
        } else {
            progress.set(Some(Progress { total, left }));
            run_chunks(handle, progress, total);
        }
    })
    .forget();
}
