//! The machine a scenario runs on: nodes, zones and their sizes, CPUs, and the sysctls and boot
//! options the allocator reads. Validation names the field, the value and what is allowed.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::mem::{ZoneType, MAX_PAGE_ORDER, MAX_SIMULATED_PAGES, PAGE_SHIFT};

/// One zone of a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    pub zone: ZoneType,
    /// Size in MiB; a multiple of 4 (one order-10 block).
    pub mib: u64,
    /// Pages at the start of the zone that the allocator never gets (memblock reservations:
    /// the kernel image, `mem_map`, firmware). `present - reserved = managed`.
    #[serde(default)]
    pub reserved_pages: u32,
}

/// One NUMA node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub zones: Vec<ZoneConfig>,
}

fn yes() -> bool {
    true
}

/// The simulated machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineConfig {
    /// 1–4 nodes; node 0 holds DMA and DMA32, as on x86-64 where they lie below 4 GiB.
    pub nodes: Vec<NodeConfig>,
    /// 1–64 CPUs, split over the nodes in contiguous blocks.
    pub cpus: u32,
    /// `vm.min_free_kbytes`; computed from lowmem as at boot when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_free_kbytes: Option<u64>,
    /// `vm.percpu_pagelist_high_fraction` (5.14+) or `vm.percpu_pagelist_fraction` (≤5.13); 0 = unset.
    #[serde(default)]
    pub percpu_pagelist_fraction: u32,
    /// Force every pcp's `batch` (what a patched `zone_batchsize()` would give).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcp_batch: Option<u32>,
    /// Force every pcp's `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcp_high: Option<u32>,
    /// `page_owner=on`: the bulk allocator steps aside (5.14+).
    #[serde(default)]
    pub page_owner: bool,
    /// Kernel memory accounting online (`memcg_kmem_enabled()`), so `__GFP_ACCOUNT` charges.
    #[serde(default = "yes")]
    pub memcg_kmem: bool,
    /// `init_on_alloc=1`: every allocation is zeroed as with `__GFP_ZERO`.
    #[serde(default)]
    pub init_on_alloc: bool,
}

impl MachineConfig {
    /// A one-node machine with DMA 16 MiB, DMA32 and NORMAL of the given sizes.
    pub fn simple(dma32_mib: u64, normal_mib: u64, cpus: u32) -> MachineConfig {
        let mut zones = vec![ZoneConfig { zone: ZoneType::Dma, mib: 16, reserved_pages: 121 }];
        if dma32_mib > 0 {
            zones.push(ZoneConfig { zone: ZoneType::Dma32, mib: dma32_mib, reserved_pages: 0 });
        }
        if normal_mib > 0 {
            zones.push(ZoneConfig { zone: ZoneType::Normal, mib: normal_mib, reserved_pages: 0 });
        }
        MachineConfig {
            nodes: vec![NodeConfig { zones }],
            cpus,
            min_free_kbytes: None,
            percpu_pagelist_fraction: 0,
            pcp_batch: None,
            pcp_high: None,
            page_owner: false,
            memcg_kmem: true,
            init_on_alloc: false,
        }
    }

    /// Total pages of all zones.
    pub fn total_pages(&self) -> u64 {
        self.nodes.iter().flat_map(|n| &n.zones).map(|z| z.mib << (20 - PAGE_SHIFT)).sum()
    }

    /// Check every field; the first problem found is reported.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field: String, value: String, allowed: &str| {
            Err(ConfigError { field, value, allowed: allowed.into() })
        };
        if self.nodes.is_empty() || self.nodes.len() > 4 {
            return err("machine.nodes".into(), format!("{} nodes", self.nodes.len()), "1 to 4 nodes");
        }
        if self.cpus == 0 || self.cpus > 64 {
            return err("machine.cpus".into(), self.cpus.to_string(), "1 to 64");
        }
        let mut low_mib = 0u64;
        for (n, node) in self.nodes.iter().enumerate() {
            if node.zones.is_empty() {
                return err(format!("machine.nodes[{n}].zones"), "[]".into(), "at least one zone");
            }
            let mut last: Option<ZoneType> = None;
            for (i, z) in node.zones.iter().enumerate() {
                let field = format!("machine.nodes[{n}].zones[{i}]");
                if last.is_some_and(|l| l >= z.zone) {
                    return err(
                        format!("{field}.zone"),
                        z.zone.name().into(),
                        "zones of a node in the order DMA, DMA32, NORMAL, MOVABLE, each at most once",
                    );
                }
                last = Some(z.zone);
                if n > 0 && matches!(z.zone, ZoneType::Dma | ZoneType::Dma32) {
                    return err(
                        format!("{field}.zone"),
                        z.zone.name().into(),
                        "NORMAL or MOVABLE (DMA and DMA32 lie below 4 GiB, on node 0)",
                    );
                }
                let block_mib = (1u64 << MAX_PAGE_ORDER) >> (20 - PAGE_SHIFT);
                if z.mib == 0 || z.mib % block_mib != 0 {
                    return err(
                        format!("{field}.mib"),
                        z.mib.to_string(),
                        "a positive multiple of 4 (MiB, the size of one order-10 block)",
                    );
                }
                if z.zone == ZoneType::Dma && z.mib > 16 {
                    return err(
                        format!("{field}.mib"),
                        z.mib.to_string(),
                        "at most 16 for ZONE_DMA (the ISA 16 MiB)",
                    );
                }
                if n == 0 && z.zone <= ZoneType::Dma32 {
                    low_mib += z.mib;
                    if low_mib > 4096 {
                        return err(
                            format!("{field}.mib"),
                            z.mib.to_string(),
                            "DMA and DMA32 together at most 4096 (they end below 4 GiB)",
                        );
                    }
                }
                let pages = z.mib << (20 - PAGE_SHIFT);
                if u64::from(z.reserved_pages) >= pages {
                    return err(
                        format!("{field}.reserved_pages"),
                        z.reserved_pages.to_string(),
                        &format!("fewer than the zone's {pages} pages"),
                    );
                }
            }
        }
        if self.total_pages() > MAX_SIMULATED_PAGES {
            return err(
                "machine.nodes".into(),
                format!("{} MiB in all", self.total_pages() >> (20 - PAGE_SHIFT)),
                "at most 16384 MiB (4M pages) of simulated memory",
            );
        }
        if let Some(k) = self.min_free_kbytes {
            if !(128..=262_144).contains(&k) {
                return err("machine.min_free_kbytes".into(), k.to_string(), "128 to 262144 (KiB)");
            }
        }
        if let Some(b) = self.pcp_batch {
            if b == 0 || b > 4096 {
                return err("machine.pcp_batch".into(), b.to_string(), "1 to 4096 pages");
            }
        }
        if let Some(h) = self.pcp_high {
            if h > 1 << 20 {
                return err("machine.pcp_high".into(), h.to_string(), "0 to 1048576 pages");
            }
        }
        if self.percpu_pagelist_fraction != 0 && self.percpu_pagelist_fraction < 8 {
            return err(
                "machine.percpu_pagelist_fraction".into(),
                self.percpu_pagelist_fraction.to_string(),
                "0 (unset) or at least 8, as the sysctl handler enforces",
            );
        }
        Ok(())
    }
}

/// A field of a machine or scenario that cannot be used, with what would be accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    pub field: String,
    pub value: String,
    pub allowed: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: expected {}", self.field, self.value, self.allowed)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_size_that_is_not_a_whole_number_of_order_10_blocks_is_refused_by_name() {
        let mut m = MachineConfig::simple(64, 0, 2);
        m.nodes[0].zones[1].mib = 6;
        let e = m.validate().unwrap_err();
        assert_eq!(e.field, "machine.nodes[0].zones[1].mib");
        assert_eq!(e.value, "6");
        assert!(e.to_string().contains("multiple of 4"), "{e}");
    }

    #[test]
    fn more_than_64_cpus_or_16_gib_is_refused() {
        assert_eq!(MachineConfig::simple(64, 0, 65).validate().unwrap_err().field, "machine.cpus");
        let big = MachineConfig::simple(4080, 12_304, 4);
        assert!(big.validate().unwrap_err().allowed.contains("16384 MiB"));
        assert!(MachineConfig::simple(4080, 12_288, 4).validate().is_ok());
    }

    #[test]
    fn dma32_on_a_second_node_is_refused() {
        let mut m = MachineConfig::simple(64, 64, 2);
        m.nodes.push(NodeConfig {
            zones: vec![ZoneConfig { zone: ZoneType::Dma32, mib: 64, reserved_pages: 0 }],
        });
        assert_eq!(m.validate().unwrap_err().field, "machine.nodes[1].zones[0].zone");
    }
}
