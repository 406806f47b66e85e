//! cafleet: declare a team of coding agents in a fleet file, run it in tmux, and let the
//! agents message each other through a SQLite registry.
//!
//! The binary is a thin `main.rs` over this library; see `cli` for the commands and
//! `manifest` → `plan` → `apply` for the reconcile pipeline.

pub mod apply;
pub mod backend;
pub mod broker;
pub mod cli;
pub mod courier;
pub mod doctor;
pub mod error;
pub mod hooks;
pub mod manifest;
pub mod model;
pub mod monitor;
pub mod permissions;
pub mod plan;
pub mod registry;
pub mod safe_text;
pub mod skills;
pub mod team;
pub mod tmux;
pub mod web;
