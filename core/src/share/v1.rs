//! Version 1 of the shared scenario: frozen copies of the scenario types as they were when
//! version 1 was made, with conversions to and from the live types.
//!
//! Nothing here may change once links are out: the serde names, the fields and what a missing
//! field means are the format. The live types may grow; each conversion destructures its live
//! type without `..`, so a new field stops the build here and the author decides whether
//! version 1 can carry it (a default in `From<…V1>`) or a version 2 is due.

use serde::{Deserialize, Serialize};

use crate::bulk::BulkTarget;
use crate::config::{ConfigError, MachineConfig, NodeConfig, ZoneConfig};
use crate::gfp::TaskContext;
use crate::mem::ZoneType;
use crate::profile::SvcAllocArg;
use crate::scenario::{Action, Scenario};
use crate::tagged::read_tagged;
use crate::users::page_pool::PoolConfig;
use crate::users::sunrpc::{Rpc, RpcMix};

/// A scenario, every field explicit: the kernel profile is pinned, no default stands in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioV1 {
    pub name: String,
    pub description: String,
    pub profile: String,
    pub seed: u64,
    pub machine: MachineV1,
    pub task: TaskV1,
    #[serde(deserialize_with = "crate::tagged::actions")]
    pub actions: Vec<ActionV1>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineV1 {
    pub nodes: Vec<NodeV1>,
    pub cpus: u32,
    pub min_free_kbytes: Option<u64>,
    pub percpu_pagelist_fraction: u32,
    pub pcp_batch: Option<u32>,
    pub pcp_high: Option<u32>,
    pub page_owner: bool,
    pub memcg_kmem: bool,
    pub init_on_alloc: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeV1 {
    pub zones: Vec<ZoneV1>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneV1 {
    pub zone: ZoneTypeV1,
    pub mib: u64,
    pub reserved_pages: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ZoneTypeV1 {
    Dma,
    Dma32,
    Normal,
    Movable,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskV1 {
    pub in_task: bool,
    pub rt_task: bool,
    pub pf_memalloc: bool,
    pub oom_victim: bool,
}

/// Read by hand (`read_tagged!` below, from `tagged.rs`), not derived: the same JSON, a fraction of the code.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ActionV1 {
    AllocPages {
        cpu: u16,
        gfp: String,
        order: u8,
        into: String,
        count: u32,
        burst: bool,
    },
    AllocPagesBulk {
        cpu: u16,
        gfp: String,
        nr_pages: i32,
        target: BulkTargetV1,
        into: String,
    },
    Free {
        cpu: u16,
        from: String,
        slots: Option<Vec<u32>>,
        count: Option<u32>,
    },
    FreePfn {
        cpu: u16,
        pfn: u32,
        order: u8,
        from: String,
    },
    Drain {
        cpu: Option<u16>,
    },
    PageCache {
        cpu: u16,
        pages: u32,
    },
    Random {
        ops: u32,
        seed: Option<u64>,
    },
    Sunrpc {
        threads: u32,
        payload_kib: u32,
        svc_alloc_arg: Option<SvcAllocArgV1>,
        splice: bool,
        sleep_budget: u32,
        /// Added after the first links were made: absent in them, and left out when `None`, so
        /// those links and their bytes stay as they were.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tx_completion_cpu: Option<u16>,
        rpcs: Vec<RpcV1>,
        random: Option<RpcMixV1>,
        compare_profiles: bool,
    },
    PagePool {
        pool: PoolV1,
        polls: u32,
        budget: u32,
    },
}

read_tagged!(ActionV1, "op", {
    AllocPages "alloc_pages" { cpu: field, gfp: field, order: field, into: field, count: field, burst: field },
    AllocPagesBulk "alloc_pages_bulk" { cpu: field, gfp: field, nr_pages: field, target: field, into: field },
    Free "free" { cpu: field, from: field, slots: opt, count: opt },
    FreePfn "free_pfn" { cpu: field, pfn: field, order: field, from: field },
    Drain "drain" { cpu: opt },
    PageCache "page_cache" { cpu: field, pages: field },
    Random "random" { ops: field, seed: opt },
    Sunrpc "sunrpc" {
        threads: field,
        payload_kib: field,
        svc_alloc_arg: opt,
        splice: field,
        sleep_budget: field,
        tx_completion_cpu: opt,
        rpcs: field,
        random: opt,
        compare_profiles: field,
    },
    PagePool "page_pool" { pool: field, polls: field, budget: field },
});

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkTargetV1 {
    List,
    Array,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SvcAllocArgV1 {
    PerPage,
    ListRfc,
    ArraySleepOnShortfall,
    ArrayRetryOnProgress,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "proc", rename_all = "snake_case", deny_unknown_fields)]
pub enum RpcV1 {
    Getattr,
    Read { kib: u32 },
    Write { kib: u32, split: bool },
    Wakeup,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcMixV1 {
    pub count: u32,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolV1 {
    pub cpu: u16,
    pub ring_size: u32,
    pub verdicts: [u32; 3],
    pub dma_map_fail: Vec<u64>,
    pub dma_fail_per_mille: u32,
    pub seed: u64,
}

// ---------------------------------------------------------------------------------------------
// Both ways, for the types whose version-1 twin has the same variants or fields.

/// `From` in both directions between a live type and its version-1 twin that has the same
/// variants (with the same fields) or the same fields. Every variant and field is written out:
/// one added to the live type is a compile error here until version 1 decides what it means.
macro_rules! same_both_ways {
    (enum $live:ident <=> $v1:ident { $($variant:ident $({ $($field:ident),* })?),* $(,)? }) => {
        impl From<$live> for $v1 {
            fn from(x: $live) -> Self {
                match x { $($live::$variant $({ $($field),* })? => $v1::$variant $({ $($field),* })?),* }
            }
        }
        impl From<$v1> for $live {
            fn from(x: $v1) -> Self {
                match x { $($v1::$variant $({ $($field),* })? => $live::$variant $({ $($field),* })?),* }
            }
        }
    };
    (struct $live:ident <=> $v1:ident { $($field:ident),* $(,)? }) => {
        impl From<$live> for $v1 {
            fn from(x: $live) -> Self {
                let $live { $($field),* } = x;
                $v1 { $($field),* }
            }
        }
        impl From<$v1> for $live {
            fn from(x: $v1) -> Self {
                let $v1 { $($field),* } = x;
                $live { $($field),* }
            }
        }
    };
}

same_both_ways!(enum ZoneType <=> ZoneTypeV1 { Dma, Dma32, Normal, Movable });
same_both_ways!(enum BulkTarget <=> BulkTargetV1 { List, Array });
same_both_ways!(enum SvcAllocArg <=> SvcAllocArgV1 { PerPage, ListRfc, ArraySleepOnShortfall, ArrayRetryOnProgress });
same_both_ways!(enum Rpc <=> RpcV1 { Getattr, Read { kib }, Write { kib, split }, Wakeup });
same_both_ways!(struct TaskContext <=> TaskV1 { in_task, rt_task, pf_memalloc, oom_victim });
same_both_ways!(struct RpcMix <=> RpcMixV1 { count, seed });
same_both_ways!(struct PoolConfig <=> PoolV1 { cpu, ring_size, verdicts, dma_map_fail, dma_fail_per_mille, seed });

// ---------------------------------------------------------------------------------------------
// Live → V1

impl From<&Scenario> for ScenarioV1 {
    fn from(s: &Scenario) -> Self {
        let Scenario { name, description, profile, seed, machine, task, actions } = s;
        ScenarioV1 {
            name: name.clone(),
            description: description.clone(),
            profile: profile.clone(),
            seed: *seed,
            machine: machine.into(),
            task: (*task).into(),
            actions: actions.iter().map(ActionV1::from).collect(),
        }
    }
}

impl From<&MachineConfig> for MachineV1 {
    fn from(m: &MachineConfig) -> Self {
        let MachineConfig {
            nodes,
            cpus,
            min_free_kbytes,
            percpu_pagelist_fraction,
            pcp_batch,
            pcp_high,
            page_owner,
            memcg_kmem,
            init_on_alloc,
        } = m;
        MachineV1 {
            nodes: nodes.iter().map(NodeV1::from).collect(),
            cpus: *cpus,
            min_free_kbytes: *min_free_kbytes,
            percpu_pagelist_fraction: *percpu_pagelist_fraction,
            pcp_batch: *pcp_batch,
            pcp_high: *pcp_high,
            page_owner: *page_owner,
            memcg_kmem: *memcg_kmem,
            init_on_alloc: *init_on_alloc,
        }
    }
}

impl From<&NodeConfig> for NodeV1 {
    fn from(n: &NodeConfig) -> Self {
        let NodeConfig { zones } = n;
        NodeV1 { zones: zones.iter().map(ZoneV1::from).collect() }
    }
}

impl From<&ZoneConfig> for ZoneV1 {
    fn from(z: &ZoneConfig) -> Self {
        let ZoneConfig { zone, mib, reserved_pages } = z;
        ZoneV1 { zone: (*zone).into(), mib: *mib, reserved_pages: *reserved_pages }
    }
}

impl From<&Action> for ActionV1 {
    fn from(a: &Action) -> Self {
        match a.clone() {
            Action::AllocPages { cpu, gfp, order, into, count, burst } => {
                ActionV1::AllocPages { cpu, gfp, order, into, count, burst }
            }
            Action::AllocPagesBulk { cpu, gfp, nr_pages, target, into } => {
                ActionV1::AllocPagesBulk { cpu, gfp, nr_pages, target: target.into(), into }
            }
            Action::Free { cpu, from, slots, count } => ActionV1::Free { cpu, from, slots, count },
            Action::FreePfn { cpu, pfn, order, from } => ActionV1::FreePfn { cpu, pfn, order, from },
            Action::Drain { cpu } => ActionV1::Drain { cpu },
            Action::PageCache { cpu, pages } => ActionV1::PageCache { cpu, pages },
            Action::Random { ops, seed } => ActionV1::Random { ops, seed },
            Action::Sunrpc {
                threads,
                payload_kib,
                svc_alloc_arg,
                splice,
                sleep_budget,
                tx_completion_cpu,
                rpcs,
                random,
                compare_profiles,
            } => ActionV1::Sunrpc {
                threads,
                payload_kib,
                svc_alloc_arg: svc_alloc_arg.map(SvcAllocArgV1::from),
                splice,
                sleep_budget,
                tx_completion_cpu,
                rpcs: rpcs.into_iter().map(RpcV1::from).collect(),
                random: random.map(RpcMixV1::from),
                compare_profiles,
            },
            Action::PagePool { pool, polls, budget } => {
                ActionV1::PagePool { pool: pool.into(), polls, budget }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// V1 → live: a scenario comes out only if it passes the live validation.

impl TryFrom<ScenarioV1> for Scenario {
    type Error = ConfigError;

    fn try_from(s: ScenarioV1) -> Result<Self, ConfigError> {
        let ScenarioV1 { name, description, profile, seed, machine, task, actions } = s;
        let scenario = Scenario {
            name,
            description,
            profile,
            seed,
            machine: machine.into(),
            task: task.into(),
            actions: actions.into_iter().map(Action::from).collect(),
        };
        scenario.validate()?;
        Ok(scenario)
    }
}

impl From<MachineV1> for MachineConfig {
    fn from(m: MachineV1) -> Self {
        let MachineV1 {
            nodes,
            cpus,
            min_free_kbytes,
            percpu_pagelist_fraction,
            pcp_batch,
            pcp_high,
            page_owner,
            memcg_kmem,
            init_on_alloc,
        } = m;
        MachineConfig {
            nodes: nodes.into_iter().map(NodeConfig::from).collect(),
            cpus,
            min_free_kbytes,
            percpu_pagelist_fraction,
            pcp_batch,
            pcp_high,
            page_owner,
            memcg_kmem,
            init_on_alloc,
        }
    }
}

impl From<NodeV1> for NodeConfig {
    fn from(n: NodeV1) -> Self {
        NodeConfig { zones: n.zones.into_iter().map(ZoneConfig::from).collect() }
    }
}

impl From<ZoneV1> for ZoneConfig {
    fn from(z: ZoneV1) -> Self {
        let ZoneV1 { zone, mib, reserved_pages } = z;
        ZoneConfig { zone: zone.into(), mib, reserved_pages }
    }
}

impl From<ActionV1> for Action {
    fn from(a: ActionV1) -> Self {
        match a {
            ActionV1::AllocPages { cpu, gfp, order, into, count, burst } => {
                Action::AllocPages { cpu, gfp, order, into, count, burst }
            }
            ActionV1::AllocPagesBulk { cpu, gfp, nr_pages, target, into } => {
                Action::AllocPagesBulk { cpu, gfp, nr_pages, target: target.into(), into }
            }
            ActionV1::Free { cpu, from, slots, count } => Action::Free { cpu, from, slots, count },
            ActionV1::FreePfn { cpu, pfn, order, from } => Action::FreePfn { cpu, pfn, order, from },
            ActionV1::Drain { cpu } => Action::Drain { cpu },
            ActionV1::PageCache { cpu, pages } => Action::PageCache { cpu, pages },
            ActionV1::Random { ops, seed } => Action::Random { ops, seed },
            ActionV1::Sunrpc {
                threads,
                payload_kib,
                svc_alloc_arg,
                splice,
                sleep_budget,
                tx_completion_cpu,
                rpcs,
                random,
                compare_profiles,
            } => Action::Sunrpc {
                threads,
                payload_kib,
                svc_alloc_arg: svc_alloc_arg.map(SvcAllocArg::from),
                splice,
                sleep_budget,
                tx_completion_cpu,
                rpcs: rpcs.into_iter().map(Rpc::from).collect(),
                random: random.map(RpcMix::from),
                compare_profiles,
            },
            ActionV1::PagePool { pool, polls, budget } => {
                Action::PagePool { pool: pool.into(), polls, budget }
            }
        }
    }
}
