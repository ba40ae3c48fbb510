//! `pageflow`: run page-allocator scenarios natively and print what the allocator did.
//!
//! Exit status: 0 on success; 2 for bad input (a missing or unreadable file, bad JSON, an invalid
//! scenario, an unknown profile, a bad GFP expression, a link that does not open), with
//! `pageflow: <message>` on stderr; 1 if the model broke one of its own invariants (a bug in the
//! model).

use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pageflow_core::gfp::{self, TaskContext};
use pageflow_core::lesson;
use pageflow_core::mem::MAX_PAGE_ORDER;
use pageflow_core::profile::{self, PROFILES};
use pageflow_core::report::Report;
use pageflow_core::scenario::DEFAULT_SCENARIO;
use pageflow_core::trace::{write_json_lines, Cost};
use pageflow_core::{calibrate, compare, Action, CostModel, Gfp, Link, Profile, Scenario, Sim, TraceMode};

#[derive(Parser)]
#[command(
    name = "pageflow",
    version,
    about = "A deterministic, traced model of the Linux page allocator",
    after_help = "Exit status: 0 on success, 2 for bad input (file, JSON, scenario, profile, GFP \
                  expression, link), 1 if the model broke one of its invariants."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and print a report of the machine and of every call
    Run {
        /// Scenario file (JSON); `-` reads standard input; the built-in default when absent
        file: Option<PathBuf>,
        /// Print the report as JSON instead of text
        #[arg(long)]
        json: bool,
        /// Record every event of the run and write them to FILE, one JSON object per line
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
    },
    /// Run two scenarios and print them side by side: totals, each action, free pages per zone
    Compare {
        /// Scenario A (JSON); `-` reads standard input
        a: PathBuf,
        /// Scenario B (JSON)
        b: PathBuf,
        /// Print the comparison as JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// List the kernel-era profiles and what changes from each to the next
    Profiles {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the cost model: simulated cycles per event kind (a model, not a measurement)
    Cost {
        /// Kernel-era profile id whose table to print (eras differ in the pcp lock)
        #[arg(long, default_value = profile::DEFAULT_PROFILE)]
        profile: String,
        /// Also run the calibration workloads and print model against published figures
        #[arg(long)]
        calibrate: bool,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the link fragment (`s=…`, to put after `#` in the playground's URL) of a scenario
    Share {
        /// Scenario file (JSON); `-` reads standard input
        file: PathBuf,
    },
    /// Print the scenario of a link (a whole URL or its fragment) as JSON, as `run` reads it;
    /// the link's step, lesson, slide and embed settings are not part of the scenario
    Unshare {
        /// A playground URL, `#s=…` or `s=…` (quote it: `&` and `#` mean something to the shell)
        link: String,
    },
    /// Explain what the allocator decides from a GFP mask, e.g. "GFP_KERNEL | __GFP_ZERO"
    Gfp {
        /// A GFP expression: composites, __GFP_* bits, hex numbers, `|`, `&`, `~`, parentheses
        expr: String,
        /// Kernel-era profile id (see `pageflow profiles`)
        #[arg(long, default_value = profile::DEFAULT_PROFILE)]
        profile: String,
        /// Allocation order (0 to 10)
        #[arg(long, default_value_t = 0)]
        order: u32,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// List the lessons, or walk one: its slides as text, each action's result and the model's
    /// answer to each question
    Lesson {
        /// Lesson id (see `pageflow lesson`)
        id: Option<String>,
    },
}

/// Why the command failed, and with which exit status.
enum Failure {
    /// Bad input: status 2.
    Input(String),
    /// The model broke an invariant: status 1.
    Model(String),
}

impl Failure {
    fn io(what: &str, e: io::Error) -> Failure {
        Failure::Input(format!("{what}: {e}"))
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version go to stdout with status 0.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.render().to_string();
            eprint!("pageflow: {}", text.strip_prefix("error: ").unwrap_or(&text));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Run { file, json, trace } => run(file, json, trace),
        Command::Compare { a, b, json } => compare(&a, &b, json),
        Command::Profiles { json } => profiles(json),
        Command::Cost { profile, calibrate, json } => cost(&profile, calibrate, json),
        Command::Gfp { expr, profile, order, json } => explain_gfp(&expr, &profile, order, json),
        Command::Share { file } => share(&file),
        Command::Unshare { link } => unshare(&link),
        Command::Lesson { id } => lesson(id.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(message)) => {
            eprintln!("pageflow: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Model(message)) => {
            eprintln!("pageflow: {message}");
            ExitCode::from(1)
        }
    }
}

/// Write to stdout; a closed pipe (`pageflow run | head`) ends quietly.
fn print(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Failure::io("writing the output", e)),
        _ => Ok(()),
    }
}

/// The scenario text and a name for it in messages.
fn read_scenario(file: Option<&PathBuf>) -> Result<(String, String), Failure> {
    match file {
        None => Ok((DEFAULT_SCENARIO.to_owned(), "the default scenario".to_owned())),
        Some(path) if path.as_os_str() == "-" => {
            let mut text = String::new();
            io::stdin().read_to_string(&mut text).map_err(|e| Failure::io("reading standard input", e))?;
            Ok((text, "<stdin>".to_owned()))
        }
        Some(path) => {
            let name = path.display().to_string();
            let text =
                fs::read_to_string(path).map_err(|e| Failure::io(&format!("cannot read {name}"), e))?;
            Ok((text, name))
        }
    }
}

/// Scenarios up to this much work (see [`work`]) keep their events, so the report can show what
/// the model noted in each call; larger ones only count them, to keep memory bounded (a recorded
/// event is 64 bytes and a page allocation makes about twenty). `--trace` always records.
const RECORD_LIMIT: u64 = 100_000;

/// A rough size of a scenario: pages it asks for, and 16 per random operation.
fn work(s: &Scenario) -> u64 {
    s.actions
        .iter()
        .map(|a| match a {
            Action::AllocPages { count, .. } => u64::from(*count),
            Action::AllocPagesBulk { nr_pages, .. } => (*nr_pages).max(0) as u64,
            Action::PageCache { pages, .. } => u64::from(*pages),
            Action::Random { ops, .. } => u64::from(*ops) * 16,
            Action::Free { .. } | Action::FreePfn { .. } | Action::Drain { .. } => 1,
            // A request refills a few holes on average; a large READ refills hundreds.
            a @ Action::Sunrpc { .. } => a.sunrpc_rpcs().len() as u64 * 64,
            Action::PagePool { polls, budget, .. } => u64::from(*polls) * u64::from(*budget),
        })
        .sum()
}

fn run(file: Option<PathBuf>, json: bool, trace: Option<PathBuf>) -> Result<(), Failure> {
    let (text, name) = read_scenario(file.as_ref())?;
    let scenario = Scenario::from_json(&text).map_err(|e| Failure::Input(format!("{name}: {e}")))?;
    let mode =
        if trace.is_some() || work(&scenario) <= RECORD_LIMIT { TraceMode::Record } else { TraceMode::Count };
    // Open the trace file before running, so a bad path fails fast.
    let trace_out = match &trace {
        Some(path) => Some(BufWriter::new(
            fs::File::create(path)
                .map_err(|e| Failure::io(&format!("cannot create {}", path.display()), e))?,
        )),
        None => None,
    };
    let mut sim = Sim::new(&scenario, mode).map_err(|e| Failure::Input(format!("{name}: {e}")))?;
    sim.run();
    sim.machine.check().map_err(|e| Failure::Model(format!("{name}: {e}")))?;
    if let (Some(mut w), Some(path)) = (trace_out, &trace) {
        write_json_lines(&sim.machine.trace.events, &mut w)
            .map_err(|e| Failure::io(&format!("writing {}", path.display()), e))?;
    }
    let report = Report::from_sim(&sim);
    if json {
        print(&(report.to_json() + "\n"))
    } else {
        print(&report.to_text())
    }
}

fn compare(a: &PathBuf, b: &PathBuf, json: bool) -> Result<(), Failure> {
    let parse = |path: &PathBuf| -> Result<Scenario, Failure> {
        let (text, name) = read_scenario(Some(path))?;
        Scenario::from_json(&text).map_err(|e| Failure::Input(format!("{name}: {e}")))
    };
    let (sa, sb) = (parse(a)?, parse(b)?);
    let comparison = compare::compare(&sa, &sb, None).map_err(|e| match e {
        compare::CompareError::Model(..) => Failure::Model(e.to_string()),
        _ => Failure::Input(e.to_string()),
    })?;
    if json {
        print(&(comparison.to_json() + "\n"))
    } else {
        print(&comparison.to_text())
    }
}

fn share(file: &PathBuf) -> Result<(), Failure> {
    let (text, name) = read_scenario(Some(file))?;
    let scenario = Scenario::from_json(&text).map_err(|e| Failure::Input(format!("{name}: {e}")))?;
    let fragment = Link::new(scenario).to_fragment().map_err(|e| Failure::Input(format!("{name}: {e}")))?;
    print(&(fragment + "\n"))
}

fn unshare(link: &str) -> Result<(), Failure> {
    let link = Link::parse(link).map_err(|e| Failure::Input(e.to_string()))?;
    print(&(link.scenario.to_json() + "\n"))
}

fn profiles(json: bool) -> Result<(), Failure> {
    let log = profile::changelog();
    if json {
        let value = serde_json::json!({
            "default": profile::DEFAULT_PROFILE,
            "profiles": PROFILES,
            "changelog": log,
        });
        return print(&(serde_json::to_string_pretty(&value).expect("profiles serialise") + "\n"));
    }
    let mut out = String::from("Profiles (oldest first; * is the default)\n");
    let width = PROFILES.iter().map(|p| p.id.len()).max().unwrap_or(0);
    for p in PROFILES {
        let mark = if p.id == profile::DEFAULT_PROFILE { '*' } else { ' ' };
        out += &format!("{mark} {:<width$}  {}  {}\n", p.id, p.released, p.title);
    }
    out += "\nChangelog (what each profile changes from the one before)\n";
    let mut last = "";
    for c in &log {
        if c.profile != last {
            out += &format!("  {}\n", c.profile);
            last = c.profile;
        }
        out += &format!("    {}: {} -> {}\n      ({})\n", c.field, c.before, c.after, c.meaning);
    }
    print(&out)
}

/// A profile named on the command line.
fn lesson(id: Option<&str>) -> Result<(), Failure> {
    let all = lesson::lessons();
    let Some(id) = id else {
        let width = all.iter().map(|l| l.id.len()).max().unwrap_or(0);
        let list: String = all
            .iter()
            .map(|l| format!("{:<width$}  {}\n{:<width$}  {}\n", l.id, l.title, "", l.teaches))
            .collect();
        return print(&list);
    };
    let Some(lesson) = all.into_iter().find(|l| l.id == id) else {
        let ids: Vec<String> = lesson::lessons().into_iter().map(|l| l.id).collect();
        return Err(Failure::Input(format!("unknown lesson {id:?}: expected one of {}", ids.join(", "))));
    };
    let walk = lesson.walk().map_err(|e| Failure::Model(e.to_string()))?;
    let mut out = format!(
        "{} ({})\n{}\nStarts from scenarios/{}\n",
        lesson.title, lesson.id, lesson.teaches, lesson.scenario_file
    );
    for (i, (slide, run)) in lesson.slides.iter().zip(&walk).enumerate() {
        out += &format!("\n--- slide {} of {} ---\n\n", i + 1, walk.len());
        out += &lesson::markdown::to_text(&run.text);
        if let Some(o) = &run.outcome {
            out += &format!("\n> action: {} -> {}\n", o.call, o.result);
        }
        if let (Some(q), Some(j)) = (&slide.question, &run.answer) {
            out += &format!("\n? {}\n", q.prompt());
            if let lesson::Question::Choice { options, .. } = q {
                out += &format!("  options: {}\n", options.join(" | "));
            }
            out += &format!("  the model's answer: {}\n", j.shown);
        }
        for check in &slide.checks {
            out += &format!(
                "  check holds: {} is {} {}\n",
                check.that.describe(),
                check.is.words(),
                match &check.than {
                    lesson::Operand::Number(n) => n.to_string(),
                    lesson::Operand::Measure(m) => m.describe(),
                }
            );
        }
    }
    print(&out)
}

fn find_profile(id: &str) -> Result<&'static Profile, Failure> {
    Profile::by_id(id).ok_or_else(|| {
        let ids: Vec<&str> = PROFILES.iter().map(|p| p.id).collect();
        Failure::Input(format!("unknown profile {id:?}: expected one of {}", ids.join(", ")))
    })
}

fn cost(profile_id: &str, calibrate: bool, json: bool) -> Result<(), Failure> {
    let profile = find_profile(profile_id)?;
    let model = CostModel::for_profile(profile);
    let terms = model.terms(&Cost::default());
    let targets = if calibrate { calibrate::targets() } else { Vec::new() };
    if json {
        let mut value = serde_json::json!({ "profile": profile.id, "model": model, "terms": terms });
        if calibrate {
            value["calibration"] =
                serde_json::json!({ "tolerance": calibrate::TOLERANCE, "targets": targets });
        }
        return print(&(serde_json::to_string_pretty(&value).expect("cost tables serialise") + "\n"));
    }
    let mut out = format!(
        "Cost model, profile {}: simulated cycles per event at {} GHz (a model, not a measurement)\n",
        profile.id, model.cpu_ghz
    );
    let nw = terms.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let cw = terms.iter().map(|t| t.counter.len()).max().unwrap_or(0);
    out += &format!("  {:<nw$}  {:>6}  {:<cw$}  stands for\n", "price", "cycles", "per");
    for t in &terms {
        out += &format!("  {:<nw$}  {:>6.1}  {:<cw$}  {}\n", t.name, t.each, t.counter, t.stands_for);
    }
    if calibrate {
        out += &format!(
            "\nCalibration: page_bench04_bulk and svc_alloc_arg on the model, each row priced with its \
             profile's table (tolerance ±{:.0} %)\n",
            calibrate::TOLERANCE * 100.0
        );
        out += &calibrate::render(&targets);
    }
    print(&out)
}

fn explain_gfp(expr: &str, profile_id: &str, order: u32, json: bool) -> Result<(), Failure> {
    let profile = find_profile(profile_id)?;
    let order = match u8::try_from(order) {
        Ok(o) if o <= MAX_PAGE_ORDER => o,
        _ => return Err(Failure::Input(format!("--order {order}: expected 0 to {MAX_PAGE_ORDER}"))),
    };
    let mask = Gfp::parse(expr, profile).map_err(|e| Failure::Input(format!("{expr:?}: {e}")))?;
    let x = gfp::explain(mask, order, profile, &TaskContext::default());
    if json {
        return print(&(serde_json::to_string_pretty(&x).expect("explanations serialise") + "\n"));
    }
    let mut out = String::new();
    out += &format!("{} = {} (profile {}, order {})\n", x.gfp, x.gfp_hex, x.profile, x.order);
    if let Some(invalid) = &x.invalid {
        out += &format!("  invalid in this era: {invalid}\n");
    }
    let zone = match (&x.zone, &x.zone_error) {
        (Some(z), _) => format!("up to ZONE_{}", z.name().to_ascii_uppercase()),
        (None, Some(e)) => format!("none: {e}"),
        (None, None) => "none".to_owned(),
    };
    let mt = match (&x.migratetype, &x.migratetype_error) {
        (Some(mt), _) => mt.name().to_owned(),
        (None, Some(e)) => format!("none: {e}"),
        (None, None) => "none".to_owned(),
    };
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let attempt = |a: &gfp::Attempt| {
        let reserve = match a.reserve {
            gfp::ReserveAccess::NoAccess => "no reserves".to_owned(),
            gfp::ReserveAccess::Partial { min_per_1024 } => {
                format!("min watermark lowered to {min_per_1024}/1024")
            }
            gfp::ReserveAccess::All => "every free page (no watermark)".to_owned(),
        };
        format!("{} (watermark {}, {reserve})", a.alloc_flags, a.wmark.name())
    };
    out += &format!("  zone:             {zone}\n");
    out += &format!("  migratetype:      {mt}\n");
    out += &format!("  zonelist:         {:?}\n", x.zonelist);
    out += &format!("  may sleep:        {}\n", yes_no(x.may_sleep));
    out += &format!("  may wake kswapd:  {}\n", yes_no(x.may_wake_kswapd));
    out += &format!("  fast path:        ALLOC_WMARK_{}\n", x.fast_path_wmark.name().to_ascii_uppercase());
    out += &format!("  slow path:        {}\n", attempt(&x.slow_path));
    if let Some(p) = &x.pfmemalloc {
        out += &format!("  reserve retry:    {}\n", attempt(p));
    }
    out += "Why:\n";
    for r in &x.reasons {
        out += &format!("  - {r}\n");
    }
    print(&out)
}
