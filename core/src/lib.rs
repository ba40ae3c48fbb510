//! pageflow-core: a deterministic, traced model of the Linux page allocator (`mm/page_alloc.c`)
//! and its bulk order-0 API `alloc_pages_bulk`. See ARCHITECTURE.md for the map.
//!
//! The model is single threaded and deterministic: the same scenario gives the same events, on
//! every platform, in tests, the CLI, benchmarks and the browser.

#[macro_use]
pub mod trace;

pub mod alloc;
pub mod buddy;
pub mod bulk;
pub mod calibrate;
pub mod check;
pub mod compare;
pub mod config;
pub mod cost;
pub mod free;
pub mod gfp;
pub mod holder_list;
pub mod lesson;
pub mod machine;
pub mod mem;
pub mod narrate;
pub mod pcp;
pub mod profile;
pub mod reclaim;
pub mod report;
pub mod scenario;
pub mod share;
pub mod sim;
mod tagged;
pub mod timeline;
pub mod users;
pub mod view;
pub mod watermark;
pub mod why;
pub mod zone;

pub use bulk::BulkTarget;
pub use config::MachineConfig;
pub use cost::CostModel;
pub use gfp::Gfp;
pub use machine::Machine;
pub use profile::Profile;
pub use scenario::{Action, Scenario};
pub use share::{Link, ShareError};
pub use sim::Sim;
pub use timeline::{Cursor, Timeline};
pub use trace::{Event, TraceMode};
pub use view::{PageClass, View};
