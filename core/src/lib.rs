//! pageflow-core: a deterministic, traced model of the Linux page allocator (`mm/page_alloc.c`)
//! and its bulk order-0 API `alloc_pages_bulk`. See ARCHITECTURE.md for the map.
//!
//! The model is single threaded and deterministic: the same scenario gives the same events, on
//! every platform, in tests, the CLI, benchmarks and the browser.

pub mod alloc;
pub mod buddy;
pub mod bulk;
pub mod check;
pub mod config;
pub mod free;
pub mod gfp;
pub mod machine;
pub mod mem;
pub mod pcp;
pub mod profile;
pub mod reclaim;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod trace;
pub mod users;
pub mod watermark;
pub mod why;
pub mod zone;

pub use bulk::BulkTarget;
pub use config::MachineConfig;
pub use gfp::Gfp;
pub use machine::Machine;
pub use profile::Profile;
pub use scenario::{Action, Scenario};
pub use sim::Sim;
pub use trace::{Event, TraceMode};
