//! The controls: the machine and kernel profile, the GFP editor with what a mask decides, and the
//! action a player runs next.

use std::rc::Rc;

use bitflags::Flags;
use pageflow_core::config::MachineConfig;
use pageflow_core::gfp::{self, Gfp, TaskContext};
use pageflow_core::profile::PROFILES;
use pageflow_core::users::page_pool::PoolConfig;
use pageflow_core::users::sunrpc::RpcMix;
use pageflow_core::{Action, BulkTarget, Profile};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::session::Frame;

fn input_value(e: &Event) -> String {
    e.target_unchecked_into::<HtmlInputElement>().value()
}

fn select_value(e: &Event) -> String {
    e.target_unchecked_into::<HtmlSelectElement>().value()
}

// ---------------------------------------------------------------------------------------------
// Machine

/// One field of the machine form: how a typed value changes the config.
type EditConfig = dyn Fn(&mut MachineConfig, &str);

#[derive(Properties, PartialEq)]
pub struct MachineProps {
    pub frame: Rc<Frame>,
    pub profile: String,
    pub on_apply: Callback<(MachineConfig, String)>,
}

#[function_component(MachineForm)]
pub fn machine_form(props: &MachineProps) -> Html {
    let config = use_state(|| props.frame.machine.config.clone());
    let profile = use_state(|| props.profile.clone());
    {
        // A new scenario (a reload, a lesson) resets the form to what runs.
        let config = config.clone();
        let profile = profile.clone();
        use_effect_with((props.frame.machine.config.clone(), props.profile.clone()), move |(c, p)| {
            config.set(c.clone());
            profile.set(p.clone());
        });
    }
    let set = |f: Rc<EditConfig>| {
        let config = config.clone();
        Callback::from(move |e: Event| {
            let mut c = (*config).clone();
            f(&mut c, &input_value(&e));
            config.set(c);
        })
    };
    let on_cpus = set(Rc::new(|c, v| c.cpus = v.parse().unwrap_or(0)));
    let on_batch = set(Rc::new(|c, v| c.pcp_batch = v.trim().parse().ok()));
    let on_high = set(Rc::new(|c, v| c.pcp_high = v.trim().parse().ok()));
    let on_profile = {
        let profile = profile.clone();
        Callback::from(move |e: Event| profile.set(select_value(&e)))
    };
    let apply = {
        let config = config.clone();
        let profile = profile.clone();
        let cb = props.on_apply.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            cb.emit(((*config).clone(), (*profile).clone()));
        })
    };
    html! {
        <form class="panel controls" onsubmit={apply} novalidate=true aria-labelledby="machine-title">
            <h2 id="machine-title">{ "Machine" }</h2>
            <label>{ "Kernel profile " }
                <select onchange={on_profile} data-testid="profile" aria-label="Kernel profile">
                { for PROFILES.iter().map(|p| html! {
                    <option value={p.id} selected={p.id == *profile} title={p.title}>{ format!("{} — {}", p.id, p.title) }</option>
                }) }
                </select>
            </label>
            <label>{ "CPUs " }
                <input type="number" min="1" max="64" value={config.cpus.to_string()} onchange={on_cpus} data-testid="cpus" />
            </label>
            { for config.nodes.iter().enumerate().map(|(n, node)| html! {
                <fieldset class="node"><legend>{ format!("node {n}") }</legend>
                { for node.zones.iter().enumerate().map(|(zi, z)| {
                    let f = set(Rc::new(move |c: &mut MachineConfig, v: &str| {
                        c.nodes[n].zones[zi].mib = v.parse().unwrap_or(0);
                    }));
                    html! {
                    <label>{ format!("{:?} MiB ", z.zone) }
                        <input type="number" min="0" value={z.mib.to_string()} onchange={f}
                            data-testid={format!("zone-mib-{n}-{zi}")} />
                    </label>
                }}) }
                </fieldset>
            }) }
            <label title="Fixed pcp->batch for every zone (the kernel computes it from the zone size)">{ "pcp batch " }
                <input type="number" min="1" placeholder="kernel's" value={config.pcp_batch.map(|b| b.to_string()).unwrap_or_default()}
                    onchange={on_batch} data-testid="pcp-batch" />
            </label>
            <label title="Fixed pcp->high, as percpu_pagelist_high_fraction would set it">{ "pcp high " }
                <input type="number" min="1" placeholder="kernel's" value={config.pcp_high.map(|b| b.to_string()).unwrap_or_default()}
                    onchange={on_high} data-testid="pcp-high" />
            </label>
            <button type="submit" data-testid="apply-machine">{ "Rebuild machine and rerun" }</button>
        </form>
    }
}

// ---------------------------------------------------------------------------------------------
// GFP editor

#[derive(Properties, PartialEq)]
pub struct GfpProps {
    pub profile: &'static Profile,
    pub gfp: String,
    pub order: u8,
    pub on_change: Callback<String>,
}

#[function_component(GfpEditor)]
pub fn gfp_editor(props: &GfpProps) -> Html {
    let p = props.profile;
    let parsed = Gfp::parse(&props.gfp, p);
    let mask = parsed.as_ref().map(|g| *g).unwrap_or(Gfp::empty());
    let on_text = {
        let cb = props.on_change.clone();
        Callback::from(move |e: InputEvent| cb.emit(e.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let on_preset = {
        let cb = props.on_change.clone();
        Callback::from(move |e: Event| cb.emit(select_value(&e)))
    };
    let bits: Vec<(&'static str, Gfp)> = Gfp::FLAGS
        .iter()
        .filter(|f| f.value().bits().is_power_of_two())
        .map(|f| (f.name(), *f.value()))
        .collect();
    let toggle = |bit: Gfp| {
        let cb = props.on_change.clone();
        Callback::from(move |_| cb.emit(mask.symmetric_difference(bit).format(p)))
    };
    let explanation = parsed.as_ref().ok().map(|g| gfp::explain(*g, props.order, p, &TaskContext::default()));
    html! {
        <section class="panel gfp" aria-labelledby="gfp-title">
            <h2 id="gfp-title">{ "GFP flags" }</h2>
            <label>{ "Mask " }
                <input type="text" value={props.gfp.clone()} oninput={on_text} data-testid="gfp-text"
                    aria-invalid={parsed.is_err().to_string()} spellcheck="false" />
            </label>
            <label>{ "Preset " }
                <select onchange={on_preset} aria-label="GFP preset">
                    <option value="" selected=true disabled=true>{ "choose…" }</option>
                    { for gfp::composites(p).iter().map(|c| html! {
                        <option value={c.name} title={c.meaning}>{ c.name }</option>
                    }) }
                </select>
            </label>
            if let Err(e) = &parsed {
                <p class="error" role="alert" data-testid="gfp-error">{ e.to_string() }</p>
            }
            <details>
                <summary>{ format!("Bits ({})", mask.format(p)) }</summary>
                <div class="bits">
                { for bits.iter().map(|(name, bit)| html! {
                    <label class="bit"><input type="checkbox" checked={mask.contains(*bit)} onchange={toggle(*bit)} />
                        { format!("__GFP_{name}") }</label>
                }) }
                </div>
            </details>
            if let Some(x) = explanation {
                <dl class="consequences" data-testid="gfp-consequences">
                    <dt>{ "zone" }</dt><dd>{ x.zone.map(|z| z.name().to_owned()).or(x.zone_error.clone()).unwrap_or_default() }</dd>
                    <dt>{ "migratetype" }</dt><dd>{ x.migratetype.map(|m| m.name().to_owned()).or(x.migratetype_error.clone()).unwrap_or_default() }</dd>
                    <dt>{ "may sleep" }</dt><dd>{ if x.may_sleep { "yes (direct reclaim)" } else { "no" } }</dd>
                    <dt>{ "wakes kswapd" }</dt><dd>{ if x.may_wake_kswapd { "yes" } else { "no" } }</dd>
                    <dt>{ "fast path" }</dt><dd>{ format!("{} watermark", x.fast_path_wmark.name()) }</dd>
                    <dt>{ "slow path" }</dt><dd>{ format!("{} ({} watermark, {:?})", x.slow_path.alloc_flags, x.slow_path.wmark.name(), x.slow_path.reserve) }</dd>
                </dl>
                <details><summary>{ "Why" }</summary>
                    <ul class="reasons">{ for x.reasons.iter().map(|r| html! { <li>{ r }</li> }) }</ul>
                </details>
            }
        </section>
    }
}

// ---------------------------------------------------------------------------------------------
// Actions

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Alloc,
    BulkArray,
    BulkList,
    Free,
    Drain,
    DrainAll,
    PageCache,
    Sunrpc,
    PagePool,
}

impl Op {
    const ALL: [(Op, &'static str); 9] = [
        (Op::BulkArray, "alloc_pages_bulk (array)"),
        (Op::BulkList, "alloc_pages_bulk (list)"),
        (Op::Alloc, "alloc_pages"),
        (Op::Free, "free a holder's pages"),
        (Op::Drain, "drain_pages (one CPU)"),
        (Op::DrainAll, "drain_all_pages"),
        (Op::PageCache, "read files into the page cache"),
        (Op::Sunrpc, "NFS server: sunrpc svc_alloc_arg"),
        (Op::PagePool, "network: page_pool NAPI polls"),
    ];
}

/// A random-workload operation makes about 300 events: 3 500 of them are a million-event run.
const DEFAULT_LONG_RUN_OPS: u32 = 3_500;
/// Operations per chunk of a long run: some 15 000 events, a few milliseconds of work.
const LONG_RUN_CHUNK_OPS: u32 = 50;
/// The longest run offered: about 3 million events, some 200 MB of recorded trace.
const MAX_LONG_RUN_OPS: u32 = 10_000;

#[derive(Properties, PartialEq)]
pub struct ActionProps {
    pub gfp: String,
    pub cpus: u32,
    pub on_order: Callback<u8>,
    pub on_perform: Callback<Action>,
    pub on_long_run: Callback<(u32, u32)>,
}

#[function_component(ActionForm)]
pub fn action_form(props: &ActionProps) -> Html {
    let op = use_state(|| Op::BulkArray);
    let cpu = use_state(|| 0u16);
    let n = use_state(|| 16i32);
    let order = use_state(|| 0u8);
    let into = use_state(|| "rq_pages".to_owned());
    let slots = use_state(String::new);
    let ops = use_state(|| DEFAULT_LONG_RUN_OPS);
    let num =
        |s: UseStateHandle<i32>| Callback::from(move |e: Event| s.set(input_value(&e).parse().unwrap_or(0)));
    let on_op = {
        let op = op.clone();
        Callback::from(move |e: Event| {
            let i: usize = select_value(&e).parse().unwrap_or(0);
            op.set(Op::ALL[i.min(Op::ALL.len() - 1)].0);
        })
    };
    let on_cpu = {
        let cpu = cpu.clone();
        Callback::from(move |e: Event| cpu.set(input_value(&e).parse().unwrap_or(0)))
    };
    let on_order = {
        let order = order.clone();
        let cb = props.on_order.clone();
        Callback::from(move |e: Event| {
            let o = input_value(&e).parse().unwrap_or(0);
            order.set(o);
            cb.emit(o);
        })
    };
    let on_into = {
        let into = into.clone();
        Callback::from(move |e: Event| into.set(input_value(&e)))
    };
    let on_slots = {
        let slots = slots.clone();
        Callback::from(move |e: Event| slots.set(input_value(&e)))
    };
    let on_ops = {
        let ops = ops.clone();
        Callback::from(move |e: Event| ops.set(input_value(&e).parse().unwrap_or(0)))
    };
    let submit = {
        let (op, cpu, n, order, into, slots) =
            (op.clone(), cpu.clone(), n.clone(), order.clone(), into.clone(), slots.clone());
        let gfp = props.gfp.clone();
        let cb = props.on_perform.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (cpu, gfp, into) = (*cpu, gfp.clone(), (*into).clone());
            let action = match *op {
                Op::Alloc => Action::AllocPages {
                    cpu,
                    gfp,
                    order: *order,
                    into,
                    count: (*n).max(1) as u32,
                    burst: false,
                },
                Op::BulkArray => {
                    Action::AllocPagesBulk { cpu, gfp, nr_pages: *n, target: BulkTarget::Array, into }
                }
                Op::BulkList => {
                    Action::AllocPagesBulk { cpu, gfp, nr_pages: *n, target: BulkTarget::List, into }
                }
                Op::Free => {
                    let list: Vec<u32> =
                        slots.split([',', ' ']).filter_map(|s| s.trim().parse().ok()).collect();
                    Action::Free { cpu, from: into, slots: (!list.is_empty()).then_some(list), count: None }
                }
                Op::Drain => Action::Drain { cpu: Some(cpu) },
                Op::DrainAll => Action::Drain { cpu: None },
                Op::PageCache => Action::PageCache { cpu, pages: (*n).max(0) as u32 },
                // Two nfsd threads serving `n` random RPCs (reads, writes, metadata); the kernel
                // profile picks the era's svc_alloc_arg.
                Op::Sunrpc => Action::nfs_server(2, Some(RpcMix { count: (*n).max(0) as u32, seed: 1 })),
                Op::PagePool => Action::PagePool {
                    pool: PoolConfig { cpu, ..PoolConfig::default() },
                    polls: (*n).max(0) as u32,
                    budget: 64,
                },
            };
            cb.emit(action);
        })
    };
    let long_run = {
        let ops = ops.clone();
        let cb = props.on_long_run.clone();
        Callback::from(move |_| {
            // Each chunk is one action, small enough to run between two frames, so progress
            // shows and Cancel stops between chunks.
            let total = (*ops).clamp(1, MAX_LONG_RUN_OPS);
            let chunk = total.min(LONG_RUN_CHUNK_OPS);
            cb.emit((total.div_ceil(chunk), chunk));
        })
    };
    let uses_n =
        matches!(*op, Op::Alloc | Op::BulkArray | Op::BulkList | Op::PageCache | Op::Sunrpc | Op::PagePool);
    let uses_into = matches!(*op, Op::Alloc | Op::BulkArray | Op::BulkList | Op::Free);
    html! {
        <form class="panel controls" onsubmit={submit} novalidate=true aria-labelledby="do-title">
            <h2 id="do-title">{ "Do" }</h2>
            <label>{ "Call " }
                <select onchange={on_op} data-testid="action-op">
                { for Op::ALL.iter().enumerate().map(|(i, (o, label))| html! {
                    <option value={i.to_string()} selected={*o == *op}>{ *label }</option>
                }) }
                </select>
            </label>
            if *op != Op::DrainAll {
                <label>{ "on CPU " }<input type="number" min="0" max={(props.cpus.max(1) - 1).to_string()} value={cpu.to_string()}
                    onchange={on_cpu} data-testid="action-cpu" /></label>
            }
            if uses_n {
                <label>{ match *op { Op::Alloc => "times ", Op::PageCache => "pages ", Op::Sunrpc => "RPCs ",
                    Op::PagePool => "NAPI polls ", _ => "nr_pages " } }
                    <input type="number" value={n.to_string()} onchange={num(n.clone())} data-testid="action-n" /></label>
            }
            if *op == Op::Alloc {
                <label>{ "order " }<input type="number" min="0" max="10" value={order.to_string()} onchange={on_order} /></label>
            }
            if uses_into {
                <label>{ if *op == Op::Free { "from " } else { "into " } }
                    <input type="text" value={(*into).clone()} onchange={on_into} data-testid="action-into" /></label>
            }
            if *op == Op::Free {
                <label title="Array slots to free, e.g. 3 4 5; empty frees everything">{ "slots " }
                    <input type="text" value={(*slots).clone()} onchange={on_slots} placeholder="all" data-testid="action-slots" /></label>
            }
            if matches!(*op, Op::Alloc | Op::BulkArray | Op::BulkList) {
                <p class="muted">{ format!("with {}", props.gfp) }</p>
            }
            <button type="submit" data-testid="run-action">{ "Run" }</button>
            <hr />
            <label>{ "Random workload of " }
                <input type="number" min="1" max={MAX_LONG_RUN_OPS.to_string()} value={ops.to_string()} onchange={on_ops}
                    data-testid="long-ops" />{ " operations " }</label>
            <p class="muted">{ format!("About 300 events an operation; up to {MAX_LONG_RUN_OPS} operations.") }</p>
            <button type="button" onclick={long_run} data-testid="long-run">{ "Run long workload" }</button>
        </form>
    }
}
