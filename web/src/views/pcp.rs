//! One column per CPU: its pcp lists for each zone, `count` drawn against `batch` and `high`.

use std::rc::Rc;

use pageflow_core::view::PageClass;
use yew::prelude::*;

use crate::palette::css;
use crate::session::Frame;
use crate::views::tenths;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub frame: Rc<Frame>,
}

#[function_component(PcpColumns)]
pub fn pcp_columns(props: &Props) -> Html {
    let f = &props.frame;
    let m = &f.machine;
    let cpus = m.config.cpus as usize;
    let zones: Vec<usize> = (0..m.zones.len()).filter(|&z| m.zones[z].managed_pages > 0).collect();
    html! {
        <section class="panel" aria-labelledby="pcp-title">
            <h2 id="pcp-title">{ "Per-CPU page lists" }</h2>
            <div class="pcp-grid" data-testid="pcp-columns">
            { for (0..cpus).map(|cpu| html! {
                <div class="pcp-col" data-testid="pcp-column" aria-label={format!("cpu{cpu}")}>
                    <h3 style={format!("border-color:{}", css(PageClass::Pcp { cpu: cpu as u16 }))}>{ format!("cpu{cpu}") }</h3>
                    { for zones.iter().map(|&z| {
                        let p = &m.zones[z].pcp[cpu];
                        let count = f.view.zones[z].pcp[cpu].count;
                        let high = p.high.max(1);
                        let pct = (f64::from(count) / f64::from(high) * 100.0).min(100.0);
                        let batch_pct = (f64::from(p.batch) / f64::from(high) * 100.0).min(100.0);
                        html! {
                        <div class="pcp-zone" title={format!("{}: count {count}, batch {}, high {}", m.zones[z].label(), p.batch, p.high)}>
                            <div class="pcp-label">{ m.zones[z].kind.name() }</div>
                            <div class="pcp-bar" role="meter" aria-valuemin="0" aria-valuemax={p.high.to_string()}
                                aria-valuenow={count.to_string()}
                                aria-label={format!("cpu{cpu} {} pcp count {count} of high {}", m.zones[z].kind.name(), p.high)}>
                                <div class="pcp-fill" style={format!("width:{}%;background:{}", tenths(pct), css(PageClass::Pcp { cpu: cpu as u16 }))}></div>
                                <div class="pcp-batch" style={format!("left:{}%", tenths(batch_pct))}></div>
                            </div>
                            <div class="pcp-nums" data-testid={format!("pcp-count-{cpu}-{z}")}>{ format!("{count} / {}", p.high) }
                                <span class="muted">{ format!(" batch {}", p.batch) }</span></div>
                        </div>
                    }}) }
                </div>
            }) }
            </div>
        </section>
    }
}
