//! A guided lesson: slides of text whose numbers the model fills, an action the learner takes, a
//! question to predict first and check after (the model answers it), and checks on the model's
//! state that let the lesson go on. Lesson text arrives as tokens; raw HTML never reaches here.

use pageflow_core::lesson::markdown::{Tag, Token};
use pageflow_core::lesson::{lessons, Answer, Judgement, Lesson, Question};
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Lesson tokens as elements, escaping every text.
pub fn tokens_html(tokens: &[Token]) -> Html {
    let mut stack: Vec<(Option<Tag>, Vec<Html>)> = vec![(None, Vec::new())];
    for t in tokens {
        match t {
            Token::Start(tag) => stack.push((Some(tag.clone()), Vec::new())),
            Token::End => {
                let Some((Some(tag), children)) = stack.pop() else { continue };
                let node = match tag {
                    Tag::Paragraph => html! { <p>{ for children }</p> },
                    Tag::Heading { .. } => html! { <h3>{ for children }</h3> },
                    Tag::BlockQuote => html! { <blockquote>{ for children }</blockquote> },
                    Tag::CodeBlock => html! { <pre><code>{ for children }</code></pre> },
                    Tag::List { ordered: true } => html! { <ol>{ for children }</ol> },
                    Tag::List { ordered: false } => html! { <ul>{ for children }</ul> },
                    Tag::Item => html! { <li>{ for children }</li> },
                    Tag::Emphasis => html! { <em>{ for children }</em> },
                    Tag::Strong => html! { <strong>{ for children }</strong> },
                    Tag::Link { url } => {
                        html! { <a href={url} target="_blank" rel="noopener noreferrer">{ for children }</a> }
                    }
                };
                if let Some(parent) = stack.last_mut() {
                    parent.1.push(node);
                }
            }
            Token::Text(s) => stack.last_mut().into_iter().for_each(|p| p.1.push(html! { { s.clone() } })),
            Token::Code(s) => {
                stack.last_mut().into_iter().for_each(|p| p.1.push(html! { <code>{ s.clone() }</code> }))
            }
            Token::SoftBreak => stack.last_mut().into_iter().for_each(|p| p.1.push(html! { { " " } })),
            Token::HardBreak => stack.last_mut().into_iter().for_each(|p| p.1.push(html! { <br /> })),
            Token::Rule => stack.last_mut().into_iter().for_each(|p| p.1.push(html! { <hr /> })),
        }
    }
    let children: Vec<Html> = stack.into_iter().flat_map(|(_, c)| c).collect();
    html! { <>{ for children }</> }
}

/// What the lesson panel shows of the slide the learner is on.
#[derive(Clone, PartialEq)]
pub struct SlideState {
    pub lesson: usize,
    pub slide: usize,
    /// The slide's text, filled from the model when the learner arrived.
    pub text: Vec<Token>,
    pub acted: bool,
    pub judgement: Option<Judgement>,
    /// Why the lesson cannot go on yet, if it cannot.
    pub blocked: Option<String>,
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub state: Option<SlideState>,
    pub on_start: Callback<usize>,
    /// The learner's guess (if the slide asks) and "take the action / check".
    pub on_act: Callback<Option<Answer>>,
    pub on_next: Callback<()>,
    pub on_leave: Callback<()>,
}

#[function_component(LessonPanel)]
pub fn lesson_panel(props: &Props) -> Html {
    let all = use_memo((), |_| lessons());
    let guess = use_state(String::new);
    let Some(st) = &props.state else {
        return html! {
            <section class="panel lessons" aria-labelledby="lessons-title">
                <h2 id="lessons-title">{ "Lessons" }</h2>
                <ol class="lesson-list" data-testid="lesson-list">
                { for all.iter().enumerate().map(|(i, l)| {
                    let start = props.on_start.reform(move |_| i);
                    html! { <li><button class="link" onclick={start} data-testid={format!("lesson-{}", l.id)}>{ &l.title }</button>
                        <span class="muted teaches" title={l.teaches.clone()}>{ &l.teaches }</span></li> }
                }) }
                </ol>
            </section>
        };
    };
    let lesson: &Lesson = &all[st.lesson];
    let slide = &lesson.slides[st.slide];
    let last = st.slide + 1 == lesson.slides.len();
    let on_guess = {
        let guess = guess.clone();
        Callback::from(move |e: InputEvent| guess.set(e.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let needs_act = (slide.action.is_some() || slide.question.is_some()) && !st.acted;
    // A form, so that Enter in the prediction field takes the action, as people expect.
    let act = {
        let (guess, cb) = (guess.clone(), props.on_act.clone());
        let question = slide.question.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if !needs_act {
                return;
            }
            let answer = match &question {
                Some(Question::Number { .. }) => guess.trim().parse().ok().map(Answer::Number),
                Some(Question::Choice { .. }) => guess.parse().ok().map(Answer::Choice),
                None => None,
            };
            cb.emit(answer);
        })
    };
    let next = {
        let (guess, cb) = (guess.clone(), props.on_next.clone());
        Callback::from(move |_| {
            guess.set(String::new());
            cb.emit(());
        })
    };
    html! {
        <section class="panel lessons" aria-labelledby="lesson-title" data-testid="lesson">
            <h2 id="lesson-title">{ format!("{} · slide {} of {}", lesson.title, st.slide + 1, lesson.slides.len()) }</h2>
            <div class="slide-text" data-testid="slide-text">{ tokens_html(&st.text) }</div>
            <form onsubmit={act}>
            if let Some(q) = &slide.question {
                <div class="question" data-testid="question">
                    <p><strong>{ "Predict: " }</strong>{ q.prompt() }</p>
                    { match q {
                        Question::Number { .. } => html! {
                            <input type="number" value={(*guess).clone()} oninput={on_guess} disabled={st.acted}
                                aria-label="Your prediction" data-testid="guess" />
                        },
                        Question::Choice { options, .. } => html! {
                            <div role="radiogroup" aria-label="Your prediction">
                            { for options.iter().enumerate().map(|(i, o)| html! {
                                <label class="choice"><input type="radio" name="guess" value={i.to_string()} disabled={st.acted}
                                    checked={*guess == i.to_string()} oninput={on_guess.clone()} data-testid={format!("choice-{i}")} />{ o }</label>
                            }) }
                            </div>
                        },
                    } }
                </div>
            }
            if let Some(j) = &st.judgement {
                <p class={classes!("judgement", if j.correct { "right" } else { "wrong" })} role="status" data-testid="judgement">
                    { if j.correct { "Right: " } else { "Not quite: " } }{ format!("the model says {}.", j.shown) }</p>
            }
            if needs_act {
                <button type="submit" data-testid="slide-act">{ if slide.action.is_some() { "Take the action" } else { "Check my answer" } }</button>
            }
            </form>
            if let Some(why) = &st.blocked {
                <p class="muted" data-testid="blocked">{ why }</p>
            }
            <div class="slide-nav">
                <button onclick={props.on_leave.reform(|_| ())}>{ "Leave the lesson" }</button>
                if last {
                    if st.blocked.is_none() && !needs_act { <p data-testid="lesson-done">{ "Lesson complete." }</p> }
                } else {
                    <button onclick={next} disabled={needs_act || st.blocked.is_some()} data-testid="slide-next">{ "Next slide" }</button>
                }
            </div>
        </section>
    }
}
