//! Scenarios: a machine, a kernel profile, a seed and a script of actions, as JSON on disk, in
//! URLs and in the browser. Validation names the field, the value and what is allowed.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::bulk::BulkTarget;
use crate::config::{ConfigError, MachineConfig};
use crate::gfp::{self, Gfp, TaskContext};
use crate::machine::MAX_HOLDERS;
use crate::mem::MAX_PAGE_ORDER;
use crate::profile::{Profile, SvcAllocArg, DEFAULT_PROFILE};
use crate::sim::Workload;
use crate::tagged::read_tagged;
use crate::users::page_pool::{PagePool, PoolConfig};
use crate::users::sunrpc::{
    Rpc, RpcMix, SvcConfig, SvcServ, DEFAULT_SLEEP_BUDGET, MAX_RPCS, RPCSVC_MAXPAYLOAD,
};
use crate::why::NoWhy;

fn default_profile() -> String {
    DEFAULT_PROFILE.into()
}

fn default_holder() -> String {
    "pages".into()
}

fn one() -> u32 {
    1
}

/// The largest `nr_pages` or repeat count an action may ask for.
pub const MAX_ACTION_PAGES: u32 = 1 << 20;
/// The most operations one random workload may generate.
pub const MAX_RANDOM_OPS: u32 = 50_000_000;

/// One step of a scenario. Read by hand (`read_tagged!` below, from `tagged.rs`), not derived: the same JSON,
/// a fraction of the code. A field left out takes the default its doc names.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Action {
    /// `alloc_pages(gfp, order)` on a CPU, `count` times; each block goes into the holder. A
    /// woken kswapd runs between the calls, unless `burst` says they come faster than kswapd can
    /// run: then it runs only after the last, and the calls meet the pressure themselves.
    AllocPages {
        cpu: u16,
        gfp: String,
        order: u8,
        into: String,
        count: u32,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        burst: bool,
    },
    /// `alloc_pages_bulk_list` / `alloc_pages_bulk_array` on a CPU. An array holder is created
    /// with `nr_pages` NULL slots if it does not exist; freeing some of its slots leaves holes.
    AllocPagesBulk { cpu: u16, gfp: String, nr_pages: i32, target: BulkTarget, into: String },
    /// Free what a holder has: the given array slots, or the first `count` blocks of a list
    /// (from its head), or everything.
    Free {
        cpu: u16,
        from: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        slots: Option<Vec<u32>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        count: Option<u32>,
    },
    /// `__free_pages(pfn_to_page(pfn), order)` by a holder, whether or not it holds that page:
    /// a page it does not own gets the kernel's bad-page treatment.
    FreePfn { cpu: u16, pfn: u32, order: u8, from: String },
    /// `drain_pages(cpu)`, or `drain_all_pages()` without a CPU.
    Drain {
        #[serde(skip_serializing_if = "Option::is_none")]
        cpu: Option<u16>,
    },
    /// Read files: `pages` page-cache pages (`GFP_HIGHUSER_MOVABLE`) that reclaim may take back.
    PageCache { cpu: u16, pages: u32 },
    /// A seeded random workload of `ops` operations (allocations, bulk calls, frees, drains,
    /// page-cache growth) over all CPUs.
    Random {
        ops: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        seed: Option<u64>,
    },
    /// An NFS server of `threads` sunrpc threads serving `rpcs`, then a seeded `random` mix;
    /// each request first refills the thread's `rq_pages` with `svc_alloc_arg` (the profile's
    /// form unless `svc_alloc_arg` names another). A refill that sleeps `sleep_budget` times
    /// stops its thread as hung. `compare_profiles` also runs the same RPCs on a fresh machine of
    /// every profile, each with its own form, and reports the bulk request sizes of each.
    Sunrpc {
        threads: u32,
        payload_kib: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        svc_alloc_arg: Option<SvcAllocArg>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        splice: bool,
        sleep_budget: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        tx_completion_cpu: Option<u16>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        rpcs: Vec<Rpc>,
        #[serde(skip_serializing_if = "Option::is_none")]
        random: Option<RpcMix>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        compare_profiles: bool,
    },
    /// A page_pool on `pool.cpu` consumed by `polls` NAPI polls of `budget` packets each.
    PagePool { pool: PoolConfig, polls: u32, budget: u32 },
}

read_tagged!(Action, "op", {
    AllocPages "alloc_pages" {
        cpu: or(u16::default),
        gfp: field,
        order: or(u8::default),
        into: or(default_holder),
        count: or(one),
        burst: or(bool::default),
    },
    AllocPagesBulk "alloc_pages_bulk" {
        cpu: or(u16::default),
        gfp: field,
        nr_pages: field,
        target: field,
        into: or(default_holder),
    },
    Free "free" { cpu: or(u16::default), from: field, slots: opt, count: opt },
    FreePfn "free_pfn" { cpu: or(u16::default), pfn: field, order: or(u8::default), from: or(default_holder) },
    Drain "drain" { cpu: opt },
    PageCache "page_cache" { cpu: or(u16::default), pages: field },
    Random "random" { ops: field, seed: opt },
    Sunrpc "sunrpc" {
        threads: field,
        payload_kib: or(default_payload_kib),
        svc_alloc_arg: opt,
        splice: or(bool::default),
        sleep_budget: or(default_sleep_budget),
        tx_completion_cpu: opt,
        rpcs: or(Vec::new),
        random: opt,
        compare_profiles: or(bool::default),
    },
    PagePool "page_pool" { pool: or(PoolConfig::default), polls: field, budget: or(default_napi_budget) },
});

fn default_payload_kib() -> u32 {
    RPCSVC_MAXPAYLOAD >> 10
}

fn default_sleep_budget() -> u32 {
    DEFAULT_SLEEP_BUDGET
}

/// `NAPI_POLL_WEIGHT`.
fn default_napi_budget() -> u32 {
    64
}

/// The most sleeps a refill may be allowed.
pub const MAX_SLEEP_BUDGET: u32 = 10_000;
/// The largest NAPI budget a poll may have.
pub const MAX_NAPI_BUDGET: u32 = 1024;

/// An upper bound on the holders a scenario's actions make, so that a validated scenario never
/// meets [`MAX_HOLDERS`]: the page cache, each name an action allocates into or frees a pfn
/// from, each random workload's and page_pool's own, and those of the largest sunrpc server
/// (servers share their holders' names).
#[derive(Default)]
struct HolderBound<'a> {
    named: BTreeSet<&'a str>,
    /// By random workloads and page pools, whose holders are named after their action.
    made: usize,
    svc_threads: Option<u32>,
}

impl<'a> HolderBound<'a> {
    /// Count an action's holders; the field and value that make them, if it makes any.
    fn add(&mut self, action: &'a Action, cpus: u32) -> Option<(&'static str, String)> {
        match action {
            Action::AllocPages { into, .. } | Action::AllocPagesBulk { into, .. } => {
                self.named.insert(into);
                Some(("into", format!("{into:?}")))
            }
            Action::FreePfn { from, .. } => {
                self.named.insert(from);
                Some(("from", format!("{from:?}")))
            }
            Action::Random { ops, .. } => {
                // One holder at most per operation.
                self.made += (*ops as usize).min(Workload::HOLDERS_PER_CPU * cpus as usize);
                Some(("ops", ops.to_string()))
            }
            Action::Sunrpc { threads, .. } => {
                self.svc_threads = self.svc_threads.max(Some(*threads));
                Some(("threads", threads.to_string()))
            }
            Action::PagePool { .. } => {
                self.made += PagePool::HOLDERS;
                Some(("op", "\"page_pool\"".into()))
            }
            Action::Free { .. } | Action::Drain { .. } | Action::PageCache { .. } => None,
        }
    }

    fn total(&self) -> usize {
        1 + self.named.len() + self.made + self.svc_threads.map_or(0, SvcServ::max_holders)
    }
}

impl Action {
    /// An NFS server of `threads` threads serving a random mix of RPCs, with every other field
    /// as a scenario file leaves it out: 1 MiB payload, the profile's `svc_alloc_arg`, no splice.
    pub fn nfs_server(threads: u32, random: Option<RpcMix>) -> Action {
        Action::Sunrpc {
            threads,
            payload_kib: default_payload_kib(),
            svc_alloc_arg: None,
            splice: false,
            sleep_budget: default_sleep_budget(),
            tx_completion_cpu: None,
            rpcs: Vec::new(),
            random,
            compare_profiles: false,
        }
    }

    /// The server configuration of a `sunrpc` action on `profile`.
    pub fn svc_config(&self, profile: &Profile) -> Option<SvcConfig> {
        match self {
            Action::Sunrpc {
                threads,
                payload_kib,
                svc_alloc_arg,
                splice,
                sleep_budget,
                tx_completion_cpu,
                ..
            } => Some(SvcConfig {
                threads: *threads,
                payload_kib: *payload_kib,
                form: svc_alloc_arg.unwrap_or(profile.svc_alloc_arg),
                splice: *splice,
                sleep_budget: *sleep_budget,
                tx_completion_cpu: *tx_completion_cpu,
            }),
            _ => None,
        }
    }

    /// The RPCs of a `sunrpc` action: the listed ones, then the random mix.
    pub fn sunrpc_rpcs(&self) -> Vec<Rpc> {
        match self {
            Action::Sunrpc { rpcs, random, payload_kib, .. } => {
                let mut all = rpcs.clone();
                if let Some(mix) = random {
                    all.extend(mix.generate(*payload_kib));
                }
                all
            }
            _ => Vec::new(),
        }
    }
}

/// A whole scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Kernel-era profile id (see `pageflow profiles`).
    #[serde(default = "default_profile")]
    pub profile: String,
    #[serde(default)]
    pub seed: u64,
    pub machine: MachineConfig,
    /// The context allocations run in (task or softirq, rt, PF_MEMALLOC, OOM victim).
    #[serde(default)]
    pub task: TaskContext,
    #[serde(deserialize_with = "crate::tagged::actions")]
    pub actions: Vec<Action>,
}

/// The default scenario, embedded so the CLI and the browser need no file.
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/default.json");

/// A scenario that cannot be used: bad JSON, or a field out of range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScenarioError {
    /// The text is not a scenario (syntax, a missing or unknown field); serde's message has the
    /// line and column.
    Parse(String),
    Invalid(ConfigError),
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScenarioError::Parse(m) => write!(f, "not a valid scenario: {m}"),
            ScenarioError::Invalid(e) => write!(f, "invalid scenario: {e}"),
        }
    }
}

impl std::error::Error for ScenarioError {}

impl From<ConfigError> for ScenarioError {
    fn from(e: ConfigError) -> Self {
        ScenarioError::Invalid(e)
    }
}

impl Scenario {
    /// Parse and validate JSON text.
    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        // `from_slice`, as for a link's inflated bytes (share.rs), so the wasm carries one JSON
        // reader rather than two; on a `str` it reads and errs exactly as `from_str`.
        let s: Scenario =
            serde_json::from_slice(text.as_bytes()).map_err(|e| ScenarioError::Parse(e.to_string()))?;
        s.validate()?;
        Ok(s)
    }

    /// The embedded default scenario.
    pub fn default_scenario() -> Scenario {
        Scenario::from_json(DEFAULT_SCENARIO).expect("the embedded default scenario is valid")
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("scenarios serialise")
    }

    /// The profile this scenario pins.
    pub fn kernel_profile(&self) -> Result<&'static Profile, ConfigError> {
        Profile::by_id(&self.profile).ok_or_else(|| ConfigError {
            field: "profile".into(),
            value: format!("{:?}", self.profile),
            allowed: format!(
                "one of {}",
                crate::profile::PROFILES.iter().map(|p| p.id).collect::<Vec<_>>().join(", ")
            ),
        })
    }

    /// Check the machine and every action against the profile.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let profile = self.kernel_profile()?;
        self.machine.validate()?;
        let cpus = self.machine.cpus;
        let mut holders = HolderBound::default();
        for (i, action) in self.actions.iter().enumerate() {
            let field = |name: &str| format!("actions[{i}].{name}");
            let bad = |name: &str, value: String, allowed: String| ConfigError {
                field: field(name),
                value,
                allowed,
            };
            let check_cpu_field = |name: &str, cpu: u16| {
                if u32::from(cpu) >= cpus {
                    Err(bad(
                        name,
                        cpu.to_string(),
                        format!("0 to {} (the machine has {cpus} CPUs)", cpus - 1),
                    ))
                } else {
                    Ok(())
                }
            };
            let check_cpu = |cpu: u16| check_cpu_field("cpu", cpu);
            let check_gfp = |text: &str| -> Result<Gfp, ConfigError> {
                let refuse = |e: &dyn std::fmt::Display| {
                    bad(
                        "gfp",
                        format!("{text:?}"),
                        format!("a GFP mask valid in profile {} ({e})", profile.id),
                    )
                };
                let g = Gfp::parse(text, profile).map_err(|e| refuse(&e))?;
                gfp::gfp_zone(g, &mut NoWhy).map_err(|e| refuse(&e))?;
                gfp::gfp_migratetype(g, &mut NoWhy).map_err(|e| refuse(&e))?;
                Ok(g)
            };
            let check_order = |order: u8| {
                if order > MAX_PAGE_ORDER {
                    Err(bad("order", order.to_string(), format!("0 to {MAX_PAGE_ORDER}")))
                } else {
                    Ok(())
                }
            };
            let check_count = |name: &str, n: u32| {
                if n > MAX_ACTION_PAGES {
                    Err(bad(name, n.to_string(), format!("at most {MAX_ACTION_PAGES}")))
                } else {
                    Ok(())
                }
            };
            match action {
                Action::AllocPages { cpu, gfp, order, count, .. } => {
                    check_cpu(*cpu)?;
                    check_gfp(gfp)?;
                    check_order(*order)?;
                    check_count("count", *count)?;
                }
                Action::AllocPagesBulk { cpu, gfp, nr_pages, target, .. } => {
                    check_cpu(*cpu)?;
                    check_gfp(gfp)?;
                    if *nr_pages > MAX_ACTION_PAGES as i32 {
                        return Err(bad(
                            "nr_pages",
                            nr_pages.to_string(),
                            format!("at most {MAX_ACTION_PAGES}"),
                        ));
                    }
                    if *target == BulkTarget::Array && !profile.has_array_api() {
                        return Err(bad(
                            "target",
                            "\"array\"".into(),
                            format!("\"list\": profile {} has only the list API", profile.id),
                        ));
                    }
                }
                Action::Free { cpu, count, .. } => {
                    check_cpu(*cpu)?;
                    check_count("count", count.unwrap_or(0))?;
                }
                Action::FreePfn { cpu, order, .. } => {
                    check_cpu(*cpu)?;
                    check_order(*order)?;
                }
                Action::Drain { cpu } => {
                    if let Some(c) = cpu {
                        check_cpu(*c)?;
                    }
                }
                Action::PageCache { cpu, pages } => {
                    check_cpu(*cpu)?;
                    check_count("pages", *pages)?;
                }
                Action::Random { ops, .. } => {
                    if *ops > MAX_RANDOM_OPS {
                        return Err(bad("ops", ops.to_string(), format!("at most {MAX_RANDOM_OPS}")));
                    }
                }
                Action::Sunrpc { sleep_budget, rpcs, random, tx_completion_cpu, .. } => {
                    if let Some(c) = tx_completion_cpu {
                        check_cpu_field("tx_completion_cpu", *c)?;
                    }
                    let svc = action.svc_config(profile).expect("a sunrpc action");
                    svc.validate(profile, &format!("actions[{i}]"))?;
                    if *sleep_budget > MAX_SLEEP_BUDGET {
                        return Err(bad(
                            "sleep_budget",
                            sleep_budget.to_string(),
                            format!("at most {MAX_SLEEP_BUDGET}"),
                        ));
                    }
                    for (k, rpc) in rpcs.iter().enumerate() {
                        rpc.validate(&svc, &format!("actions[{i}].rpcs[{k}]"))?;
                    }
                    let count = rpcs.len() as u64 + random.map_or(0, |r| u64::from(r.count));
                    if count > u64::from(MAX_RPCS) {
                        return Err(bad(
                            "random.count",
                            count.to_string(),
                            format!("at most {MAX_RPCS} RPCs in all"),
                        ));
                    }
                }
                Action::PagePool { pool, polls, budget } => {
                    pool.validate(cpus, profile, &format!("actions[{i}].pool"))?;
                    check_count("polls", *polls)?;
                    if *budget == 0 || *budget > MAX_NAPI_BUDGET {
                        return Err(bad("budget", budget.to_string(), format!("1 to {MAX_NAPI_BUDGET}")));
                    }
                }
            }
            if let Some((name, value)) = holders.add(action, cpus) {
                if holders.total() > MAX_HOLDERS {
                    return Err(bad(
                        name,
                        value,
                        format!(
                            "actions that make at most {MAX_HOLDERS} holders in all; up to here they may make {} \
                             (the page cache, {} named, {} of random workloads and page pools, {} of sunrpc)",
                            holders.total(),
                            holders.named.len(),
                            holders.made,
                            holders.svc_threads.map_or(0, SvcServ::max_holders)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scenario_parses_and_validates() {
        let s = Scenario::default_scenario();
        assert_eq!(s.profile, DEFAULT_PROFILE);
        assert!(!s.actions.is_empty());
    }

    #[test]
    fn a_misspelt_gfp_flag_is_reported_with_its_action_index() {
        let mut s = Scenario::default_scenario();
        s.actions = vec![Action::AllocPages {
            cpu: 0,
            gfp: "GFP_KERNAL".into(),
            order: 0,
            into: "x".into(),
            count: 1,
            burst: false,
        }];
        let e = s.validate().unwrap_err();
        assert_eq!(e.field, "actions[0].gfp");
        assert!(e.value.contains("GFP_KERNAL"));
    }

    #[test]
    fn an_array_request_under_the_rfc_profile_is_refused() {
        let mut s = Scenario::default_scenario();
        s.profile = "rfc-2021".into();
        s.actions = vec![Action::AllocPagesBulk {
            cpu: 0,
            gfp: "GFP_KERNEL".into(),
            nr_pages: 8,
            target: BulkTarget::Array,
            into: "a".into(),
        }];
        assert_eq!(s.validate().unwrap_err().field, "actions[0].target");
    }

    #[test]
    fn user_actions_are_validated_with_field_value_and_range() {
        let mut s = Scenario::default_scenario();
        s.actions = vec![Action::nfs_server(0, None)];
        let e = s.validate().unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("actions[0].threads", "0"));
        assert!(e.allowed.contains("1 to"), "{e}");
        if let Action::Sunrpc { threads, tx_completion_cpu, .. } = &mut s.actions[0] {
            (*threads, *tx_completion_cpu) = (1, Some(4));
        }
        let e = s.validate().unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("actions[0].tx_completion_cpu", "4"));
        s.profile = "rfc-2021".into();
        s.actions = vec![Action::Sunrpc {
            threads: 1,
            payload_kib: 1024,
            svc_alloc_arg: Some(SvcAllocArg::ArrayRetryOnProgress),
            splice: false,
            sleep_budget: 8,
            tx_completion_cpu: None,
            rpcs: vec![Rpc::Read { kib: 2048 }],
            random: None,
            compare_profiles: false,
        }];
        assert_eq!(s.validate().unwrap_err().field, "actions[0].svc_alloc_arg");
        s.profile = "6.1".into();
        assert_eq!(s.validate().unwrap_err().field, "actions[0].rpcs[0].kib");
        s.actions = vec![Action::PagePool {
            pool: PoolConfig { verdicts: [50, 50, 50], ..PoolConfig::default() },
            polls: 1,
            budget: 64,
        }];
        assert_eq!(s.validate().unwrap_err().field, "actions[0].pool.verdicts");
    }

    #[test]
    fn an_unknown_field_is_a_parse_error_naming_it() {
        let text = DEFAULT_SCENARIO.replacen("\"seed\"", "\"sede\"", 1);
        match Scenario::from_json(&text) {
            Err(ScenarioError::Parse(m)) => assert!(m.contains("sede"), "{m}"),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }
}
