//! page_pool (net/core/page_pool.c) as a user of the page allocator: a network driver's pool of
//! order-0 receive pages, consumed by NAPI polls in softirq context.
//!
//! An allocation takes the last page of the pool's `alloc.cache` (128 slots); an empty cache is
//! refilled from the recycle ring, and an empty ring sends the pool to
//! `__page_pool_alloc_pages_slow()`, which asks the array API for 64 pages at once, DMA-maps
//! each (a page that fails to map is put back to the allocator) and compacts the mapped ones to
//! the front of the cache. Pages come back recycled straight into the cache (XDP_DROP, in
//! softirq), through the ring (a page freed later by the stack), or released to the allocator
//! (the stack kept a reference).

use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use super::{call_allocator, AllocApi, AllocCall};
use crate::config::ConfigError;
use crate::gfp::Gfp;
use crate::machine::{Machine, Slots};
use crate::mem::{Pfn, NIL};
use crate::profile::Profile;

/// `PP_ALLOC_CACHE_SIZE`: slots of `pool->alloc.cache`.
pub const PP_ALLOC_CACHE_SIZE: usize = 128;
/// `PP_ALLOC_CACHE_REFILL`: pages one slow-path refill asks for.
pub const PP_ALLOC_CACHE_REFILL: u32 = 64;
/// The default `ptr_ring` size (`pool_size` unset).
pub const DEFAULT_RING_SIZE: u32 = 1024;
/// The largest ring `page_pool_init` accepts.
pub const MAX_RING_SIZE: u32 = 16384;

/// What happens to a received packet's page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// XDP_DROP: recycled straight into the cache during the poll (`allow_direct` in softirq).
    Drop,
    /// The packet goes up the stack and its page comes back after the poll, into the ring.
    Pass,
    /// The stack keeps a reference: the pool lets the page go (`page_pool_release_page` +
    /// `put_page`), back to the allocator.
    Release,
}

/// How a pool is set up, and how its packets fare (percentages of drop, pass, release).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    #[serde(default)]
    pub cpu: u16,
    /// `pool_size`: slots of the recycle ring.
    #[serde(default = "default_ring_size")]
    pub ring_size: u32,
    /// Percent of packets dropped by XDP, passed to the stack, released; they add up to 100.
    #[serde(default = "default_mix")]
    pub verdicts: [u32; 3],
    /// DMA mappings that fail, by their number (0 = the pool's first mapping).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dma_map_fail: Vec<u64>,
    /// Besides those, each mapping fails with this chance in 1000 (seeded).
    #[serde(default)]
    pub dma_fail_per_mille: u32,
    #[serde(default)]
    pub seed: u64,
}

fn default_ring_size() -> u32 {
    DEFAULT_RING_SIZE
}

fn default_mix() -> [u32; 3] {
    [50, 30, 20]
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            cpu: 0,
            ring_size: DEFAULT_RING_SIZE,
            verdicts: default_mix(),
            dma_map_fail: Vec::new(),
            dma_fail_per_mille: 0,
            seed: 0,
        }
    }
}

impl PoolConfig {
    /// Check the numbers against a machine of `cpus` CPUs on `profile`; `field` prefixes field
    /// names in errors.
    pub fn validate(&self, cpus: u32, profile: &Profile, field: &str) -> Result<(), ConfigError> {
        let bad = |name: &str, value: String, allowed: String| ConfigError {
            field: format!("{field}.{name}"),
            value,
            allowed,
        };
        if u32::from(self.cpu) >= cpus {
            return Err(bad(
                "cpu",
                self.cpu.to_string(),
                format!("0 to {} (the machine has {cpus} CPUs)", cpus - 1),
            ));
        }
        if self.ring_size == 0 || self.ring_size > MAX_RING_SIZE {
            return Err(bad("ring_size", self.ring_size.to_string(), format!("1 to {MAX_RING_SIZE}")));
        }
        if self.verdicts.iter().map(|&v| u64::from(v)).sum::<u64>() != 100 {
            return Err(bad(
                "verdicts",
                format!("{:?}", self.verdicts),
                "[drop, pass, release] percentages adding up to 100".into(),
            ));
        }
        if self.dma_fail_per_mille > 1000 {
            return Err(bad("dma_fail_per_mille", self.dma_fail_per_mille.to_string(), "0 to 1000".into()));
        }
        if !profile.has_array_api() {
            return Err(bad(
                "op",
                "\"page_pool\"".into(),
                format!("a profile with the array API: {} has only the list API", profile.id),
            ));
        }
        Ok(())
    }
}

/// What one `__page_pool_alloc_pages_slow()` did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolRefill {
    /// The bulk call (`alloc_pages_bulk_array(GFP_ATOMIC | __GFP_NOWARN, 64, cache)`).
    pub call: AllocCall,
    /// Pages DMA-mapped into the cache.
    pub mapped: u32,
    /// Cache slots whose page failed to map and went back to the allocator.
    pub dma_failed: Vec<u32>,
}

/// The pool's counters (`page_pool_stats`, and the in-flight accounting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PoolStats {
    /// Allocations served from the cache.
    pub fast: u64,
    /// Slow-path refills that returned a page.
    pub slow: u64,
    /// Cache refills from the ring.
    pub refill: u64,
    /// Times the ring was empty when the cache was.
    pub empty: u64,
    /// Allocations that got no page.
    pub failed: u64,
    /// Pages recycled into the cache, into the ring, and those the full ring turned away.
    pub recycled_cached: u64,
    pub recycled_ring: u64,
    pub ring_full: u64,
    /// Pages given back to the allocator (released, ring full, failed mapping, NUMA mismatch).
    pub returned: u64,
    pub dma_map_failed: u64,
    /// `pages_state_hold_cnt` and `pages_state_release_cnt`: in flight = hold - release.
    pub hold_cnt: u64,
    pub release_cnt: u64,
}

/// A page_pool and the pages its driver has out.
#[derive(Clone, Debug, Serialize)]
pub struct PagePool {
    pub config: PoolConfig,
    /// Holder of `alloc.cache` (128 slots; the first `count` hold pages).
    pub cache: u32,
    pub count: u32,
    /// Holder of the recycle `ptr_ring` (consumed from its tail: first in, first out).
    pub ring: u32,
    /// Holder of the pages the driver and the stack have (in flight).
    pub in_flight: u32,
    /// The node the pool allocates on (`numa_mem_id()` of its CPU).
    pub nid: usize,
    /// DMA mappings made so far.
    pub maps: u64,
    pub refills: Vec<PoolRefill>,
    pub stats: PoolStats,
    gfp: Gfp,
    #[serde(skip)]
    rng: Pcg64Mcg,
}

/// Run `f` on `cpu` in softirq context, as NAPI does.
fn in_softirq<T>(m: &mut Machine, cpu: u16, f: impl FnOnce(&mut Machine) -> T) -> T {
    let saved = m.task;
    m.task.in_task = false;
    m.current_cpu = cpu;
    let out = f(m);
    m.task = saved;
    out
}

impl PagePool {
    /// The holders a pool makes: its cache, its ring and its pages in flight.
    pub const HOLDERS: usize = 3;

    /// `page_pool_create()`: holders `<name> alloc.cache`, `<name> ring`, `<name> in flight`.
    pub fn new(m: &mut Machine, config: PoolConfig, name: &str) -> Result<PagePool, ConfigError> {
        config.validate(m.config.cpus, m.profile, "page_pool")?;
        // Softirq callers pass GFP_ATOMIC, and the slow path adds __GFP_NOWARN to it.
        let gfp = Gfp::composite("GFP_ATOMIC", m.profile).expect("every era has GFP_ATOMIC") | Gfp::NOWARN;
        Ok(PagePool {
            cache: m.array_holder(&format!("{name} alloc.cache"), PP_ALLOC_CACHE_SIZE)?,
            count: 0,
            ring: m.holder_id(&format!("{name} ring"))?,
            in_flight: m.holder_id(&format!("{name} in flight"))?,
            nid: m.cpu_to_node(config.cpu),
            maps: 0,
            refills: Vec::new(),
            stats: PoolStats::default(),
            gfp,
            rng: Pcg64Mcg::seed_from_u64(config.seed),
            config,
        })
    }

    /// `alloc.cache[--count]`, handed to the driver.
    fn take_from_cache(&mut self, m: &mut Machine) -> Pfn {
        self.count -= 1;
        let i = self.count as usize;
        let pfn = match &m.holders[self.cache as usize].slots {
            Slots::Array(a) => a[i],
            Slots::List(_) => NIL,
        };
        m.move_held(pfn, (self.cache, Some(i)), (self.in_flight, None));
        pfn
    }

    /// `page_pool_alloc_pages()`: the cache, else the ring, else the slow path. The page is in
    /// flight until it is recycled or released.
    pub fn alloc_page(&mut self, m: &mut Machine) -> Option<Pfn> {
        if self.count > 0 {
            self.stats.fast += 1;
            return Some(self.take_from_cache(m));
        }
        if let Some(pfn) = self.refill_alloc_cache(m) {
            return Some(pfn);
        }
        let page = in_softirq(m, self.config.cpu, |m| self.alloc_pages_slow(m));
        if page.is_none() {
            self.stats.failed += 1;
        }
        page
    }

    /// `page_pool_refill_alloc_cache()`: move up to 64 pages from the ring into the cache; a
    /// page of another node is given back and ends the refill.
    fn refill_alloc_cache(&mut self, m: &mut Machine) -> Option<Pfn> {
        if m.held(self.ring) == 0 {
            self.stats.empty += 1;
            return None;
        }
        while self.count < PP_ALLOC_CACHE_REFILL {
            let pfn = match &m.holders[self.ring as usize].slots {
                Slots::List(l) if !l.is_empty() => l.tail(),
                _ => break,
            };
            let node = m.pfn_zone(pfn).map(|z| m.zones[z].node);
            if node != Some(self.nid) {
                self.return_page(m, self.ring, pfn);
                break;
            }
            m.move_held(pfn, (self.ring, None), (self.cache, Some(self.count as usize)));
            self.count += 1;
        }
        if self.count == 0 {
            return None;
        }
        self.stats.refill += 1;
        Some(self.take_from_cache(m))
    }

    /// Whether the next DMA mapping fails: listed, or by the seeded rate.
    fn dma_map_fails(&mut self) -> bool {
        let n = self.maps;
        self.maps += 1;
        let listed = self.config.dma_map_fail.contains(&n);
        let random =
            self.config.dma_fail_per_mille > 0 && self.rng.next_u32() % 1000 < self.config.dma_fail_per_mille;
        listed || random
    }

    /// `__page_pool_alloc_pages_slow()` for order 0: the cache is empty (its 64 slots NULL), one
    /// bulk array call of 64; map each page, put the ones that fail, pack the rest at the front
    /// of the cache; hand out the last.
    fn alloc_pages_slow(&mut self, m: &mut Machine) -> Option<Pfn> {
        let call = call_allocator(
            m,
            self.config.cpu,
            AllocApi::BulkArray,
            self.gfp,
            self.cache,
            PP_ALLOC_CACHE_REFILL,
            None,
        );
        let nr_pages = call.returned;
        let mut refill = PoolRefill { call, mapped: 0, dma_failed: Vec::new() };
        for i in 0..nr_pages as usize {
            let pfn = match &m.holders[self.cache as usize].slots {
                Slots::Array(a) => a[i],
                Slots::List(_) => NIL,
            };
            if self.dma_map_fails() {
                self.stats.dma_map_failed += 1;
                self.stats.returned += 1;
                refill.dma_failed.push(i as u32);
                m.free_held(self.cache, pfn, 0, Some(i)).expect("the cache holds its pages");
                continue;
            }
            let to = self.count as usize;
            if to != i {
                m.move_held(pfn, (self.cache, Some(i)), (self.cache, Some(to)));
            }
            self.count += 1;
            self.stats.hold_cnt += 1;
            refill.mapped += 1;
        }
        self.refills.push(refill);
        if self.count == 0 {
            return None;
        }
        self.stats.slow += 1;
        Some(self.take_from_cache(m))
    }

    /// `page_pool_return_page()`: unmap and put a page the pool owns (`from` is its holder).
    fn return_page(&mut self, m: &mut Machine, from: u32, pfn: Pfn) {
        self.stats.release_cnt += 1;
        self.stats.returned += 1;
        m.current_cpu = self.config.cpu;
        m.free_held(from, pfn, 0, None).expect("the pool holds its pages");
    }

    /// `page_pool_put_page()` for a page in flight whose last reference comes back: into the
    /// cache when recycled directly in softirq and the cache has room, else into the ring, else
    /// back to the allocator.
    pub fn put_page(&mut self, m: &mut Machine, pfn: Pfn, allow_direct: bool) {
        if allow_direct && (self.count as usize) < PP_ALLOC_CACHE_SIZE {
            m.move_held(pfn, (self.in_flight, None), (self.cache, Some(self.count as usize)));
            self.count += 1;
            self.stats.recycled_cached += 1;
            return;
        }
        if m.held(self.ring) < self.config.ring_size {
            m.move_held(pfn, (self.in_flight, None), (self.ring, None));
            self.stats.recycled_ring += 1;
            return;
        }
        self.stats.ring_full += 1;
        self.return_page(m, self.in_flight, pfn);
    }

    /// A page the stack keeps a reference to: the pool lets it go to the allocator.
    pub fn release_page(&mut self, m: &mut Machine, pfn: Pfn) {
        self.return_page(m, self.in_flight, pfn);
    }

    /// One NAPI poll of `budget` packets: each takes a page; XDP drops are recycled at once,
    /// passed and released pages come back when the poll is over. Returns packets received.
    pub fn napi_poll(&mut self, m: &mut Machine, budget: u32) -> u32 {
        let mut later = Vec::new();
        let mut received = 0;
        for _ in 0..budget {
            let Some(pfn) = self.alloc_page(m) else { break };
            received += 1;
            let [drop, pass, _] = self.config.verdicts;
            let roll = self.rng.next_u32() % 100;
            let verdict = if roll < drop {
                Verdict::Drop
            } else if roll < drop + pass {
                Verdict::Pass
            } else {
                Verdict::Release
            };
            match verdict {
                Verdict::Drop => self.put_page(m, pfn, true),
                _ => later.push((pfn, verdict)),
            }
        }
        for (pfn, verdict) in later {
            match verdict {
                Verdict::Release => self.release_page(m, pfn),
                _ => self.put_page(m, pfn, false),
            }
        }
        received
    }

    /// Pages on the ring.
    pub fn ring_len(&self, m: &Machine) -> u32 {
        m.held(self.ring)
    }
}
