//! The playground's panels, each drawing part of a [`Frame`](crate::session::Frame).

pub mod code;
pub mod compare;
pub mod controls;
pub mod events;
pub mod free_area;
pub mod holders;
pub mod icons;
pub mod legend;
pub mod lesson;
pub mod memory_map;
pub mod pcp;
pub mod plots;
