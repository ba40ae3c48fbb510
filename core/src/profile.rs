//! Kernel-era profiles: the places where `mm/page_alloc.c` changed behaviour over time, as data.
//!
//! One code path reads a [`Profile`]; no era has its own copy of an allocator function. Adding an
//! era means adding a row to [`PROFILES`], and [`changelog`] derives the user-visible list of
//! differences from the rows themselves.

use serde::{Deserialize, Serialize};

/// Which targets `__alloc_pages_bulk` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BulkApi {
    /// RFC of February 2021 and v1–v5: `struct list_head *list` only.
    ListOnly,
    /// 5.13–6.13: `page_list` or `page_array`.
    ListAndArray,
}

/// When the bulk allocator hands a request to the single-page allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OnePageRule {
    /// RFC: `if (nr_pages == 1) goto failed;`
    RequestOfOne,
    /// v6 / 5.13+: `if (nr_pages - nr_populated == 1) goto failed;` (one remaining hole).
    OneRemainingHole,
}

/// What an already-full array returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FullArrayReturn {
    /// 5.13.0 (b3b64ebd3822): returns 0, which sunrpc reads as "nothing allocated".
    Zero,
    /// 5.13.1 / 5.14-rc1 on (66d9282523b3): returns `nr_populated` (== `nr_pages`).
    Populated,
}

/// What a bulk call returns when `prepare_alloc_pages()` fails (fault injection).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrepareFailureReturn {
    /// ≤5.13: `return 0`, though an array may hold a populated prefix.
    Zero,
    /// 5.14-rc2 on (e5c15cea3391, then 061478438d04's single `out:` exit): `nr_populated`.
    Populated,
}

/// The condition under which a bulk call whose first pcp take failed falls back to `__alloc_pages`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmptyTakeFallback {
    /// 5.13–5.18: `if (!nr_populated)`: an array with a populated prefix breaks out with no page.
    NothingPopulated,
    /// 5.19+ (c572e4888ad1): `if (!nr_account)`: always try to allocate at least one page.
    NothingAllocated,
}

/// How `PGALLOC` and `zone_statistics` are updated by the bulk allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BulkStats {
    /// 5.13: once per page, inside the IRQ-off section.
    PerPage,
    /// 5.14+ (3e23060b2d0b): once with `nr_account` after the lock is dropped.
    Batched,
}

/// Layout of `pcp->lists`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PcpLists {
    /// ≤5.13: three lists indexed by migratetype; only order-0 pages live on them.
    ByMigratetype,
    /// 5.14–5.17: `order_to_pindex` for orders 0–3 plus one THP list per migratetype (15 lists).
    ByOrderThpPerType,
    /// 5.18+ / 6.1: orders 0–3 per migratetype plus two THP lists, movable and the rest (14 lists).
    ByOrderThpMovableSplit,
}

/// How `pcp->high` is chosen and how much a free above it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PcpHighRule {
    /// ≤5.13: `high = 6 * batch`; a free at `high` returns one batch.
    SixTimesBatch,
    /// 5.14–6.6: `zone_highsize()`: the low watermark split over the node's CPUs, at least
    /// `4 * batch`; `free_factor` doubles the batch freed while frees follow frees.
    LowWatermarkSplit,
    /// 6.7+: `high` floats between `high_min` (the 5.14 value) and `high_max` (1/8 of the zone
    /// split over the CPUs): it grows on refills and when frees hit it, shrinks while the zone is
    /// below its high watermark; `alloc_factor` scales refills, `free_count` the batch freed, and
    /// drains go in chunks of `batch << CONFIG_PCP_BATCH_SCALE_MAX`.
    AutoTune,
}

/// The lock that protects a CPU's pcp lists, which decides what a pcp section costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PcpLocking {
    /// ≤5.13: `local_irq_save` / `local_irq_restore`.
    IrqSave,
    /// 5.14–5.19: `local_lock_irqsave(&pagesets.lock)`.
    LocalLockIrqSave,
    /// 6.0–6.1: `pcp_spin_trylock_irqsave` (a spinlock in the pcp, IRQs off).
    SpinTrylockIrqSave,
    /// 6.2+: `pcp_spin_trylock`, IRQs left enabled; `zone->lock` becomes irqsave instead.
    SpinTrylock,
}

impl PcpLocking {
    /// Whether a pcp section runs with IRQs disabled.
    pub fn disables_irqs(self) -> bool {
        !matches!(self, PcpLocking::SpinTrylock)
    }
}

/// Names and meaning of the reserve alloc flags (`mm/internal.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReserveFlags {
    /// ≤6.2: `__GFP_ATOMIC` exists; `ALLOC_HARDER` (0x10) and `ALLOC_HIGH` (0x20).
    HarderHigh,
    /// 6.3+: no `__GFP_ATOMIC`; `ALLOC_NON_BLOCK` (0x10) and `ALLOC_MIN_RESERVE` (0x20).
    NonBlockMinReserve,
}

/// How `free_pcppages_bulk` picks the lists it frees from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PcpFreeOrder {
    /// ≤5.13: round robin over the migratetype lists with the growing `batch_free` heuristic.
    BatchFreeRoundRobin,
    /// 5.14+: round robin over pindex, starting at the list just freed to, one block per visit.
    PindexRoundRobin,
}

/// How sunrpc's `svc_alloc_arg()` (net/sunrpc/svc_xprt.c) refills a server thread's `rq_pages`.
/// The profile names the form its era shipped; a scenario may pick another to compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SvcAllocArg {
    /// Before 5.13: one `alloc_page(GFP_KERNEL)` per NULL slot, sleeping 500 ms when one fails.
    PerPage,
    /// The February 2021 prototype: count the holes, ask the list API for that many, move them
    /// into the holes; sleep 500 ms if the list runs out.
    ListRfc,
    /// 5.13 (f6e70aab9dfe): `alloc_pages_bulk_array` over the whole array; anything short of
    /// full sleeps 500 ms.
    ArraySleepOnShortfall,
    /// NeilBrown's fix, in its 6.1 form: call again at once while the cursor advances; sleep
    /// (`memalloc_retry_wait`, one jiffy) only when a call made no progress.
    ArrayRetryOnProgress,
}

impl SvcAllocArg {
    /// Whether this form calls the array API (which the RFC profile does not have).
    pub fn needs_array_api(self) -> bool {
        matches!(self, SvcAllocArg::ArraySleepOnShortfall | SvcAllocArg::ArrayRetryOnProgress)
    }
}

/// One kernel era's behaviour of the page allocator, as far as pageflow models it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// Identifier used in scenario files and URLs, e.g. `"6.1"`.
    pub id: &'static str,
    /// One line for menus.
    pub title: &'static str,
    pub bulk_api: BulkApi,
    pub one_page_rule: OnePageRule,
    pub full_array_return: FullArrayReturn,
    pub prepare_failure_return: PrepareFailureReturn,
    pub empty_take_fallback: EmptyTakeFallback,
    pub bulk_stats: BulkStats,
    /// 5.15+ (8dcb3060d81d): `__GFP_ACCOUNT` with kmem accounting goes to the single-page path.
    pub bulk_skips_account: bool,
    /// 5.14+ (187ad460b841): page_owner enabled sends every bulk call to the single-page path.
    pub bulk_skips_page_owner: bool,
    pub pcp_lists: PcpLists,
    pub pcp_high: PcpHighRule,
    pub pcp_locking: PcpLocking,
    pub pcp_free_order: PcpFreeOrder,
    /// 5.14+: `rmqueue` falls through to the buddy lists when `rmqueue_pcplist` returns NULL
    /// (≤5.13 returned the NULL).
    pub rmqueue_buddy_fallthrough: bool,
    pub reserve_flags: ReserveFlags,
    /// The `svc_alloc_arg()` of the era (a user of the allocator, not the allocator itself).
    pub svc_alloc_arg: SvcAllocArg,
    /// Release year and month, for ordering and display.
    pub released: &'static str,
}

impl Profile {
    /// Number of pcp lists (`NR_PCP_LISTS`).
    pub fn nr_pcp_lists(&self) -> usize {
        match self.pcp_lists {
            PcpLists::ByMigratetype => 3,
            PcpLists::ByOrderThpPerType => 15,
            PcpLists::ByOrderThpMovableSplit => 14,
        }
    }

    /// Whether `__GFP_ATOMIC` (0x200) exists in this era.
    pub fn has_gfp_atomic(&self) -> bool {
        self.reserve_flags == ReserveFlags::HarderHigh
    }

    /// Whether the array form of the bulk API exists.
    pub fn has_array_api(&self) -> bool {
        self.bulk_api == BulkApi::ListAndArray
    }

    /// Look a profile up by its identifier.
    pub fn by_id(id: &str) -> Option<&'static Profile> {
        PROFILES.iter().find(|p| p.id == id)
    }

    /// The profile used when a scenario names none: the 5.14–6.6 behaviour as of 6.1.
    pub fn default_profile() -> &'static Profile {
        Profile::by_id(DEFAULT_PROFILE).expect("the default profile is in PROFILES")
    }
}

/// Identifier of the default profile.
pub const DEFAULT_PROFILE: &str = "6.1";

const V5_13: Profile = Profile {
    id: "5.13",
    title: "5.13.1 (first merged bulk allocator, list and array API, full-array fix backported)",
    bulk_api: BulkApi::ListAndArray,
    one_page_rule: OnePageRule::OneRemainingHole,
    full_array_return: FullArrayReturn::Populated,
    prepare_failure_return: PrepareFailureReturn::Zero,
    empty_take_fallback: EmptyTakeFallback::NothingPopulated,
    bulk_stats: BulkStats::PerPage,
    bulk_skips_account: false,
    bulk_skips_page_owner: false,
    pcp_lists: PcpLists::ByMigratetype,
    pcp_high: PcpHighRule::SixTimesBatch,
    pcp_locking: PcpLocking::IrqSave,
    pcp_free_order: PcpFreeOrder::BatchFreeRoundRobin,
    rmqueue_buddy_fallthrough: false,
    reserve_flags: ReserveFlags::HarderHigh,
    svc_alloc_arg: SvcAllocArg::ArraySleepOnShortfall,
    released: "2021-07",
};

const V6_1: Profile = Profile {
    id: "6.1",
    title: "6.1 LTS (5.14–6.6 behaviour: local pcp lock, batched stats, high-order pcp lists)",
    bulk_api: BulkApi::ListAndArray,
    one_page_rule: OnePageRule::OneRemainingHole,
    full_array_return: FullArrayReturn::Populated,
    prepare_failure_return: PrepareFailureReturn::Populated,
    empty_take_fallback: EmptyTakeFallback::NothingAllocated,
    bulk_stats: BulkStats::Batched,
    bulk_skips_account: true,
    bulk_skips_page_owner: true,
    pcp_lists: PcpLists::ByOrderThpMovableSplit,
    pcp_high: PcpHighRule::LowWatermarkSplit,
    pcp_locking: PcpLocking::SpinTrylockIrqSave,
    pcp_free_order: PcpFreeOrder::PindexRoundRobin,
    rmqueue_buddy_fallthrough: true,
    reserve_flags: ReserveFlags::HarderHigh,
    svc_alloc_arg: SvcAllocArg::ArrayRetryOnProgress,
    released: "2022-12",
};

const V6_6: Profile = Profile {
    id: "6.6",
    title: "6.6 LTS (IRQs left enabled for pcp, __GFP_ATOMIC gone)",
    pcp_locking: PcpLocking::SpinTrylock,
    reserve_flags: ReserveFlags::NonBlockMinReserve,
    released: "2023-10",
    ..V6_1
};

/// Every profile, oldest first.
pub static PROFILES: &[Profile] = &[
    Profile {
        id: "rfc-2021",
        title: "RFC of February 2021 (list API only, nr_pages == 1 delegated)",
        bulk_api: BulkApi::ListOnly,
        one_page_rule: OnePageRule::RequestOfOne,
        svc_alloc_arg: SvcAllocArg::ListRfc,
        released: "2021-02",
        ..V5_13
    },
    Profile {
        id: "5.13.0",
        title: "5.13.0 (an already-full array returns 0: the NFSD hang)",
        full_array_return: FullArrayReturn::Zero,
        released: "2021-06",
        ..V5_13
    },
    V5_13,
    Profile {
        id: "5.14",
        title: "5.14 (local_lock, batched stats, high-order pcp lists, zone_highsize)",
        prepare_failure_return: PrepareFailureReturn::Populated,
        bulk_stats: BulkStats::Batched,
        bulk_skips_page_owner: true,
        pcp_lists: PcpLists::ByOrderThpPerType,
        pcp_high: PcpHighRule::LowWatermarkSplit,
        pcp_locking: PcpLocking::LocalLockIrqSave,
        pcp_free_order: PcpFreeOrder::PindexRoundRobin,
        rmqueue_buddy_fallthrough: true,
        released: "2021-08",
        ..V5_13
    },
    V6_1,
    V6_6,
    Profile {
        id: "6.7",
        title: "6.7+ (pcp high auto-tuning: high between high_min and high_max, alloc_factor, free_count)",
        pcp_high: PcpHighRule::AutoTune,
        released: "2024-01",
        ..V6_6
    },
];

/// One difference between two consecutive profiles, for the changelog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub profile: &'static str,
    pub field: &'static str,
    /// What the field decides, in words.
    pub meaning: &'static str,
    pub before: String,
    pub after: String,
}

/// What changes from each profile to the next, derived from the rows of [`PROFILES`].
pub fn changelog() -> Vec<Change> {
    let mut out = Vec::new();
    for pair in PROFILES.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let (fa, fb) = (profile_fields(a), profile_fields(b));
        for ((&(field, meaning), before), after) in FIELDS.iter().zip(fa).zip(fb) {
            if before != after {
                out.push(Change { profile: b.id, field, meaning, before, after });
            }
        }
    }
    out
}

/// The values of a profile's behavioural fields, in the order of [`FIELDS`].
fn profile_fields(p: &Profile) -> Vec<String> {
    let value = serde_json::to_value(p).expect("profiles serialise");
    let serde_json::Value::Object(map) = value else { unreachable!("a struct serialises to a map") };
    FIELDS
        .iter()
        .map(|(f, _)| map[*f].as_str().map(str::to_owned).unwrap_or_else(|| map[*f].to_string()))
        .collect()
}

/// The behavioural fields of [`Profile`] in declaration order, with what each decides
/// (serde_json's map is sorted by key, so the order is kept here).
const FIELDS: &[(&str, &str)] = &[
    ("bulk_api", "which targets __alloc_pages_bulk accepts: a list, or a list or an array"),
    ("one_page_rule", "when a bulk request is handed to the single-page allocator"),
    ("full_array_return", "what a bulk call on an already-full array returns"),
    ("prepare_failure_return", "what a bulk call returns when prepare_alloc_pages() fails (fault injection)"),
    ("empty_take_fallback", "when a bulk call whose pcp list ran dry falls back to __alloc_pages"),
    ("bulk_stats", "whether PGALLOC and NUMA stats are counted per page or once per bulk call"),
    ("bulk_skips_account", "whether __GFP_ACCOUNT sends bulk calls to the single-page path"),
    ("bulk_skips_page_owner", "whether page_owner sends bulk calls to the single-page path"),
    ("pcp_lists", "how the per-CPU lists are indexed: by migratetype, or by order and migratetype"),
    ("pcp_high", "how pcp->high is set and how much a free above it returns"),
    ("pcp_locking", "what protects a CPU's pcp lists: IRQs off, a local lock, or a spinlock"),
    ("pcp_free_order", "in which order free_pcppages_bulk empties the pcp lists"),
    ("rmqueue_buddy_fallthrough", "whether rmqueue tries the buddy lists when the pcp list fails"),
    ("reserve_flags", "the reserve alloc flags: ALLOC_HARDER/HIGH or ALLOC_NON_BLOCK/MIN_RESERVE"),
    ("svc_alloc_arg", "how sunrpc refills rq_pages: per page, the list prototype, or the array loop"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_ids_are_unique_and_default_exists() {
        for (i, p) in PROFILES.iter().enumerate() {
            assert!(PROFILES[i + 1..].iter().all(|q| q.id != p.id), "duplicate {}", p.id);
        }
        assert_eq!(Profile::default_profile().id, "6.1");
    }

    #[test]
    fn changelog_names_the_five_thirteen_zero_regression_and_its_fix() {
        let log = changelog();
        let regression = log.iter().find(|c| c.profile == "5.13.0" && c.field == "full_array_return");
        assert_eq!(regression.map(|c| c.after.as_str()), Some("Zero"));
        let fix = log.iter().find(|c| c.profile == "5.13" && c.field == "full_array_return");
        assert_eq!(fix.map(|c| c.after.as_str()), Some("Populated"));
    }

    #[test]
    fn the_changelog_table_names_every_behavioural_field() {
        let value = serde_json::to_value(Profile::default_profile()).unwrap();
        let names: Vec<&str> = FIELDS.iter().map(|(f, _)| *f).collect();
        for key in value.as_object().unwrap().keys() {
            assert!(
                ["id", "title", "released"].contains(&key.as_str()) || names.contains(&key.as_str()),
                "{key}"
            );
        }
        assert_eq!(value.as_object().unwrap().len(), FIELDS.len() + 3);
    }
}
