//! The code panel: the kernel functions running at this step, innermost lit, each linked to its
//! source for the profile's kernel version.

use std::rc::Rc;

use pageflow_core::profile::SvcAllocArg;
use pageflow_core::users::listing::svc_alloc_arg_listing;
use yew::prelude::*;

use crate::session::Frame;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub frame: Rc<Frame>,
}

/// The Linux tag whose source a profile follows.
fn kernel_tag(profile: &str) -> &'static str {
    match profile {
        "rfc-2021" | "5.13.0" | "5.13" => "v5.13",
        "5.14" => "v5.14",
        "6.6" => "v6.6",
        "6.7" => "v6.7",
        _ => "v6.1",
    }
}

/// The `svc_alloc_arg()` listing with the thread's line lit.
fn listing(thread: u16, form: SvcAllocArg, at: u16) -> Html {
    let l = svc_alloc_arg_listing(form);
    html! {
        <div class="listing" data-testid="listing">
            <h3>{ format!("nfsd thread {thread}: {}() — {}", l.source.function, l.source.era) }
                { " " }<a href={format!("https://elixir.bootlin.com/linux/latest/source/{}", l.source.file)}
                    target="_blank" rel="noopener noreferrer">{ l.source.file }</a></h3>
            <ol class="source">
            { for l.lines.iter().enumerate().map(|(i, line)| {
                let current = i == at as usize;
                html! {
                <li class={classes!(current.then_some("current"))} aria-current={current.then_some("step")}
                    data-line={line.id}>
                    <code>{ format!("{}{}", "    ".repeat(line.depth as usize), line.text) }</code>
                </li>
            }}) }
            </ol>
            <p class="muted">{ "Paraphrased from the kernel source, not copied." }</p>
        </div>
    }
}

#[function_component(CodePanel)]
pub fn code_panel(props: &Props) -> Html {
    let f = &props.frame;
    let tag = kernel_tag(f.machine.profile.id);
    html! {
        <section class="panel code" aria-labelledby="code-title">
            <h2 id="code-title">{ "Running now" }</h2>
            if let Some((thread, form, line)) = f.source {
                { listing(thread, form, line) }
            }
            if f.stack.is_empty() {
                <p class="muted">{ "Between calls: no kernel function is running." }</p>
            } else {
                <ol class="stack" data-testid="call-stack">
                { for f.stack.iter().enumerate().map(|(i, func)| {
                    let current = i + 1 == f.stack.len();
                    let name = func.name();
                    html! {
                    <li class={classes!(current.then_some("current"))} aria-current={current.then_some("step")}>
                        <code>{ format!("{}{name}()", "  ".repeat(i)) }</code>
                        { " " }
                        <a href={format!("https://elixir.bootlin.com/linux/{tag}/C/ident/{name}")} target="_blank" rel="noopener noreferrer"
                            aria-label={format!("{name} in the Linux {tag} source")}>{ "source" }</a>
                    </li>
                }}) }
                </ol>
            }
            <p class="step-text" data-testid="last-event">{ f.last.clone().unwrap_or_else(|| "At the start: press → to take the first step.".into()) }</p>
        </section>
    }
}
