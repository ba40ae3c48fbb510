//! Watermarks, `lowmem_reserve`, and the pcp `batch`/`high` sizing, computed as
//! `init_per_zone_wmark_min()` and `zone_pcp_update()` do; and the watermark checks
//! `__zone_watermark_ok()` / `zone_watermark_fast()`.

use serde::{Deserialize, Serialize};

use crate::gfp::{self, AllocFlags, Gfp, Wmark};
use crate::mem::{MigrateType, ZoneType, MAX_NR_ZONES, MIGRATE_PCPTYPES, NR_PAGE_ORDERS, PAGE_SHIFT};
use crate::profile::{PcpHighRule, Profile, ReserveFlags};
use crate::why::NoWhy;
use crate::zone::Zone;

/// `watermark_scale_factor` default (0.1% of the zone between watermarks).
pub const WATERMARK_SCALE_FACTOR: u64 = 10;
/// `sysctl_lowmem_reserve_ratio` on x86-64: DMA 256, DMA32 256, NORMAL 32, MOVABLE 0.
pub const LOWMEM_RESERVE_RATIO: [u64; MAX_NR_ZONES] = [256, 256, 32, 0];
/// `SWAP_CLUSTER_MAX`.
pub const SWAP_CLUSTER_MAX: u64 = 32;

/// `int_sqrt()`: the largest integer whose square is at most `x`.
pub fn int_sqrt(x: u64) -> u64 {
    let mut r = (x as f64).sqrt() as u64;
    while r * r > x {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= x {
        r += 1;
    }
    r
}

/// `calculate_min_free_kbytes()`: `sqrt(lowmem_kbytes * 16)` clamped to 128 KiB..256 MiB, where
/// `lowmem_kbytes` is `nr_free_buffer_pages()` in KiB: at boot, before watermarks exist, the managed
/// pages of the zones `GFP_USER` may use (DMA, DMA32, NORMAL).
pub fn calculate_min_free_kbytes(buffer_pages: u64) -> u64 {
    let lowmem_kbytes = buffer_pages * (1 << (PAGE_SHIFT - 10));
    int_sqrt(lowmem_kbytes * 16).clamp(128, 262_144)
}

/// `__setup_per_zone_wmarks()` for every zone of the machine, given each zone's managed pages.
/// Returns `[min, low, high, promo]` per zone. Every zone of a 64-bit kernel is lowmem (ZONE_MOVABLE is
/// carved from NORMAL), so each gets a share of `pages_min` proportional to its size.
pub fn setup_per_zone_wmarks(min_free_kbytes: u64, managed: &[u64]) -> Vec<[u64; 4]> {
    let pages_min = min_free_kbytes >> (PAGE_SHIFT - 10);
    let lowmem_pages: u64 = managed.iter().sum::<u64>().max(1);
    managed
        .iter()
        .map(|&m| {
            let tmp = pages_min * m / lowmem_pages;
            let step = (tmp >> 2).max(m * WATERMARK_SCALE_FACTOR / 10_000);
            let min = tmp;
            [min, min + step, min + 2 * step, min + 3 * step]
        })
        .collect()
}

/// `setup_per_zone_lowmem_reserve()` for one node: `lowmem_reserve[j]` of zone `i` is the managed
/// pages of the zones above `i` up to `j`, divided by zone `i`'s ratio (0 when the ratio is 0 or
/// the zone is empty).
pub fn setup_per_zone_lowmem_reserve(
    node_managed: &[u64; MAX_NR_ZONES],
) -> [[u64; MAX_NR_ZONES]; MAX_NR_ZONES] {
    let mut reserve = [[0u64; MAX_NR_ZONES]; MAX_NR_ZONES];
    for i in 0..MAX_NR_ZONES - 1 {
        let ratio = LOWMEM_RESERVE_RATIO[i];
        let clear = ratio == 0 || node_managed[i] == 0;
        let mut upper = 0;
        for j in i + 1..MAX_NR_ZONES {
            upper += node_managed[j];
            reserve[i][j] = if clear { 0 } else { upper / ratio };
        }
    }
    reserve
}

/// `rounddown_pow_of_two()`.
fn rounddown_pow_of_two(x: u64) -> u64 {
    if x == 0 {
        0
    } else {
        1 << (63 - x.leading_zeros())
    }
}

/// `zone_batchsize()`: about 0.1% of the zone or 1 MiB, whichever is smaller, divided by four and
/// clamped to `2^n - 1`: 15 for a 256 MiB zone, 31 for 512 MiB, 63 from 688 MiB managed.
pub fn zone_batchsize(managed: u64) -> u32 {
    let batch = ((managed >> 10).min((1 << 20) / (1 << PAGE_SHIFT)) / 4).max(1);
    (rounddown_pow_of_two(batch + batch / 2) - 1) as u32
}

/// How `pcp->batch` and the range of `pcp->high` come out for one zone (`high_min == high_max`
/// before 6.7, where `high` is fixed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PcpSizing {
    pub batch: u32,
    pub high_min: u32,
    pub high_max: u32,
}

/// `MIN_PERCPU_PAGELIST_HIGH_FRACTION`: 6.7+ lets `high` grow to 1/8 of the zone.
pub const MIN_PERCPU_PAGELIST_HIGH_FRACTION: u32 = 8;

/// Inputs of the pcp sizing rules that are not properties of the zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcpSizingInput {
    pub managed: u64,
    pub low_wmark: u64,
    /// CPUs on the zone's node (`cpumask_weight(cpumask_of_node(nid))`).
    pub node_cpus: u32,
    /// All online CPUs, for memoryless-CPU nodes.
    pub online_cpus: u32,
    /// `vm.percpu_pagelist_high_fraction` (5.14+) or `vm.percpu_pagelist_fraction` (≤5.13); 0 = unset.
    pub fraction: u32,
}

/// `zone_highsize()`: the low watermark (or `managed / fraction`) split over the node's CPUs, at
/// least four batches.
fn zone_highsize(input: &PcpSizingInput, batch: u32, fraction: u32) -> u32 {
    let total = if fraction == 0 { input.low_wmark } else { input.managed / u64::from(fraction) };
    let split = if input.node_cpus == 0 { input.online_cpus } else { input.node_cpus }.max(1);
    ((total / u64::from(split)) as u32).max(batch << 2)
}

/// `zone_set_pageset_high_and_batch()` (5.14+) or `pageset_set_high_and_batch()` (≤5.13).
pub fn pcp_sizing(profile: &Profile, input: PcpSizingInput) -> PcpSizing {
    let batch = zone_batchsize(input.managed).max(1);
    let fixed = |batch, high| PcpSizing { batch, high_min: high, high_max: high };
    match profile.pcp_high {
        PcpHighRule::SixTimesBatch if input.fraction != 0 => {
            // ≤5.13 `pageset_set_high()`: high from the fraction, batch a quarter of it, capped.
            let high = (input.managed / input.fraction as u64) as u32;
            fixed((high / 4).clamp(1, PAGE_SHIFT * 8), high)
        }
        PcpHighRule::SixTimesBatch => fixed(batch, 6 * batch),
        PcpHighRule::LowWatermarkSplit => fixed(batch, zone_highsize(&input, batch, input.fraction)),
        PcpHighRule::AutoTune if input.fraction != 0 => {
            fixed(batch, zone_highsize(&input, batch, input.fraction))
        }
        PcpHighRule::AutoTune => PcpSizing {
            batch,
            high_min: zone_highsize(&input, batch, 0),
            high_max: zone_highsize(&input, batch, MIN_PERCPU_PAGELIST_HIGH_FRACTION),
        },
    }
}

/// The numbers of one watermark check, for the trace and the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatermarkCheck {
    pub zone: usize,
    pub order: u8,
    /// The mark asked for (watermark + boost, plus `nr_pages` for bulk).
    pub mark: u64,
    /// The mark after reserve reductions (`min` in `__zone_watermark_ok`).
    pub min: u64,
    pub lowmem_reserve: u64,
    pub free: i64,
    /// Free pages the caller may not use (highatomic reserve, `(1 << order) - 1`).
    pub unusable: i64,
    pub ok: bool,
}

/// The reserve rights an allocation has, by era: ≤6.2 `alloc_harder` (`ALLOC_HARDER|ALLOC_OOM`);
/// 6.3+ `ALLOC_RESERVES` (`NON_BLOCK|MIN_RESERVE|HIGHATOMIC|OOM`).
fn has_reserve_rights(profile: &Profile, alloc_flags: AllocFlags) -> bool {
    match profile.reserve_flags {
        ReserveFlags::HarderHigh => alloc_flags.intersects(AllocFlags::HARDER | AllocFlags::OOM),
        ReserveFlags::NonBlockMinReserve => alloc_flags.intersects(
            AllocFlags::NON_BLOCK | AllocFlags::MIN_RESERVE | AllocFlags::HIGHATOMIC | AllocFlags::OOM,
        ),
    }
}

/// `__zone_watermark_unusable_free()`: the `(1 << order) - 1` pages a block needs beyond one, and
/// the highatomic reserve for callers without reserve rights.
fn unusable_free(z: &Zone, order: u8, alloc_flags: AllocFlags, profile: &Profile) -> i64 {
    let mut unusable = (1i64 << order) - 1;
    if !has_reserve_rights(profile, alloc_flags) {
        unusable += z.nr_reserved_highatomic as i64;
    }
    unusable
}

/// `__zone_watermark_ok()`: free pages above `mark` (reduced for reserve users) plus
/// `lowmem_reserve[highest_zoneidx]`, and for order > 0 a free block of a suitable size and type.
pub fn zone_watermark_ok(
    z: &Zone,
    order: u8,
    mark: u64,
    highest_zoneidx: ZoneType,
    alloc_flags: AllocFlags,
    free_pages: i64,
    profile: &Profile,
) -> WatermarkCheck {
    let unusable = unusable_free(z, order, alloc_flags, profile);
    let free = free_pages - unusable;
    let min = gfp::reserve_adjusted_min(mark, alloc_flags, profile, &mut NoWhy) as i64;
    let reserve = z.lowmem_reserve[highest_zoneidx.idx()];
    let mut ok = free > min + reserve as i64;
    if ok && order > 0 {
        let highatomic_rights = match profile.reserve_flags {
            ReserveFlags::HarderHigh => has_reserve_rights(profile, alloc_flags),
            ReserveFlags::NonBlockMinReserve => {
                alloc_flags.intersects(AllocFlags::HIGHATOMIC | AllocFlags::OOM)
            }
        };
        ok = (order as usize..NR_PAGE_ORDERS).any(|o| {
            let area = &z.free_area[o];
            area.nr_free > 0
                && ((0..MIGRATE_PCPTYPES).any(|mt| !area.free_list[mt].is_empty())
                    || (highatomic_rights && !area.free_list[MigrateType::HighAtomic.index()].is_empty()))
        });
    }
    WatermarkCheck {
        zone: z.id,
        order,
        mark,
        min: min.max(0) as u64,
        lowmem_reserve: reserve,
        free: free_pages,
        unusable,
        ok,
    }
}

/// The arguments of `zone_watermark_fast()`: a zone, an order, a mark and what the request may
/// use below it.
pub struct WatermarkQuery<'a> {
    pub zone: &'a Zone,
    pub order: u8,
    pub mark: u64,
    pub highest_zoneidx: ZoneType,
    pub alloc_flags: AllocFlags,
    pub gfp: Gfp,
    pub profile: &'a Profile,
}

impl WatermarkQuery<'_> {
    /// `zone_watermark_fast()`: the order-0 shortcut on usable free pages, then the full check,
    /// then for atomic order-0 requests at WMARK_MIN a second try that ignores `watermark_boost`.
    #[inline(always)]
    pub fn fast(&self) -> WatermarkCheck {
        self.order0_shortcut().unwrap_or_else(|| self.full())
    }

    /// Whether [`WatermarkQuery::fast`] passes, for callers with the trace off. The same two
    /// steps, but the shortcut's numbers are never built: merged with what the out-of-line full
    /// check returns, they would be stored on every allocation only to be dropped.
    #[inline(always)]
    pub fn fast_passes(&self) -> bool {
        self.order0_shortcut().is_some() || self.full().ok
    }

    /// The order-0 shortcut of `zone_watermark_fast()`: usable free pages above the mark and
    /// `lowmem_reserve` pass at once. The check when it passes.
    #[inline(always)]
    fn order0_shortcut(&self) -> Option<WatermarkCheck> {
        let z = self.zone;
        if self.order != 0 {
            return None;
        }
        let free_pages = z.nr_free_pages;
        let unusable = unusable_free(z, 0, self.alloc_flags, self.profile);
        let usable = free_pages - free_pages.min(unusable);
        let reserve = z.lowmem_reserve[self.highest_zoneidx.idx()];
        (usable > (self.mark + reserve) as i64).then_some(WatermarkCheck {
            zone: z.id,
            order: 0,
            mark: self.mark,
            min: self.mark,
            lowmem_reserve: reserve,
            free: free_pages,
            unusable,
            ok: true,
        })
    }

    /// The part of `zone_watermark_fast()` past its order-0 shortcut.
    #[inline(never)]
    fn full(&self) -> WatermarkCheck {
        let WatermarkQuery { zone: z, order, mark, highest_zoneidx, alloc_flags, gfp, profile } = *self;
        let free_pages = z.nr_free_pages;
        let check = zone_watermark_ok(z, order, mark, highest_zoneidx, alloc_flags, free_pages, profile);
        let atomic = if profile.has_gfp_atomic() {
            gfp.contains(Gfp::ATOMIC)
        } else {
            alloc_flags.contains(AllocFlags::MIN_RESERVE)
        };
        if !check.ok && order == 0 && atomic && z.watermark_boost > 0 && alloc_flags.wmark() == Wmark::Min {
            let unboosted = z.watermark[Wmark::Min.index()];
            return zone_watermark_ok(z, order, unboosted, highest_zoneidx, alloc_flags, free_pages, profile);
        }
        check
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_free_kbytes_follows_the_kernel_table() {
        // The table in calculate_min_free_kbytes(): 1 GiB → 4096k, 16 GiB → 16384k, 16 MiB → 512k.
        assert_eq!(calculate_min_free_kbytes(1 << 18), 4096);
        assert_eq!(calculate_min_free_kbytes(4 << 20), 16384);
        assert_eq!(calculate_min_free_kbytes(4096), 512);
        assert_eq!(calculate_min_free_kbytes(1), 128);
    }

    #[test]
    fn batch_is_63_from_688_mib_managed_and_smaller_below() {
        // 0.1% of the zone or 1 MiB (256 pages), whichever is smaller, over four, then 2^n - 1.
        assert_eq!(zone_batchsize(262_144), 63);
        assert_eq!(zone_batchsize(176_128), 63);
        assert_eq!(zone_batchsize(176_127), 31);
        assert_eq!(zone_batchsize(131_072), 31);
        assert_eq!(zone_batchsize(65_536), 15);
        assert_eq!(zone_batchsize(4 << 20), 63);
        // DMA zone of 16 MiB with 3975 managed pages: 3975 >> 10 = 3, /4 = 0 → 1 → 1 + 0 → 1 - 1 = 0,
        // then zone_set_pageset_high_and_batch() takes max(1, batch).
        assert_eq!(zone_batchsize(3_975), 0);
        assert_eq!(zone_batchsize(16_384), 3);
    }

    #[test]
    fn watermarks_split_pages_min_by_zone_size_and_step_by_a_quarter() {
        // 4 GiB in one zone: min_free_kbytes 8192 → pages_min 2048; step = max(512, 1048576*10/10000=1048).
        let w = setup_per_zone_wmarks(8192, &[1 << 20]);
        assert_eq!(w, vec![[2048, 2048 + 1048, 2048 + 2 * 1048, 2048 + 3 * 1048]]);
    }

    #[test]
    fn lowmem_reserve_divides_upper_zones_by_the_ratio() {
        let r = setup_per_zone_lowmem_reserve(&[3_975, 257_536, 262_144, 0]);
        assert_eq!(r[0][1], 257_536 / 256);
        assert_eq!(r[0][2], (257_536 + 262_144) / 256);
        assert_eq!(r[1][2], 262_144 / 256);
        assert_eq!(r[2][3], 0);
        assert_eq!(r[3], [0; 4]);
    }

    #[test]
    fn pcp_high_is_six_batches_in_5_13_and_the_low_watermark_split_in_6_1() {
        let input =
            PcpSizingInput { managed: 262_144, low_wmark: 4_000, node_cpus: 4, online_cpus: 4, fraction: 0 };
        let old = pcp_sizing(Profile::by_id("5.13").unwrap(), input);
        assert_eq!(old, PcpSizing { batch: 63, high_min: 378, high_max: 378 });
        let new = pcp_sizing(Profile::by_id("6.1").unwrap(), input);
        assert_eq!(new, PcpSizing { batch: 63, high_min: 1000, high_max: 1000 });
        let tiny = pcp_sizing(Profile::by_id("6.1").unwrap(), PcpSizingInput { low_wmark: 100, ..input });
        assert_eq!(tiny.high_min, 63 * 4, "high is at least four batches");
    }

    #[test]
    fn pcp_high_in_6_7_floats_up_to_an_eighth_of_the_zone_split_over_the_cpus() {
        let input =
            PcpSizingInput { managed: 262_144, low_wmark: 4_000, node_cpus: 4, online_cpus: 4, fraction: 0 };
        let auto = pcp_sizing(Profile::by_id("6.7").unwrap(), input);
        assert_eq!(auto, PcpSizing { batch: 63, high_min: 1000, high_max: 262_144 / 8 / 4 });
        let pinned = pcp_sizing(Profile::by_id("6.7").unwrap(), PcpSizingInput { fraction: 64, ..input });
        assert_eq!((pinned.high_min, pinned.high_max), (1024, 1024));
    }
}
