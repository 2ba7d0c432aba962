//! # aks-cadence
//!
//! An Azure Functions custom handler that keeps AKS clusters on a healthy upgrade cadence.
//!
//! ```text
//! host/      custom-handler protocol, Event Grid webhook handshakes, defensive decoding
//! ingest/    Event Grid / CloudEvents wire types → Signal (wire types stop here)
//! sweep/     inventory + per-cluster findings → Signal
//! policy/    policy file, selectors, cadence, maintenance windows, versions
//! plan       Signal + Policy + ledger facts + now → Vec<Action>   (pure)
//! retry      the one retry policy: failure class + attempt → wait or give up   (pure)
//! error      outbound failures classified where born: transient, throttled, configuration,
//!            permanent, already done, deferred
//! execute/   claim(key) → adapter → complete(key, outcome); the executor's retry limits
//! actions/   adapters: log, github, email, chat, azure upgrade/rotate
//! store/     the ledger: SQLite (embedded) | Azure Blob (scale-out)
//! baseline/  the AKS security baseline: check catalogue, pure evaluation against ARM JSON
//! azure/     identity and the ARM client
//! pipeline   the one orchestrator that sequences the stages
//! topics     the Event Grid topic allow-list both event routes apply
//! ```
//!
//! Layers: the pure core (`domain`, `action`, `error`, `retry`, `policy/`, `plan`, `followup`,
//! `baseline/`) imports no IO crate and nothing from the edges (`ingest/`, `sweep/`, `actions/`,
//! `azure/`, `store/`, `host/`, `settings`) or the run layer (`pipeline`, `execute/`);
//! `tests/core_imports.rs` fails when it does.

pub mod action;
pub mod actions;
pub mod azure;
pub mod baseline;
pub mod domain;
pub mod error;
pub mod execute;
pub mod followup;
pub mod host;
pub mod ingest;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod retry;
pub mod settings;
pub mod store;
pub mod sweep;
pub mod topics;
pub mod wiring;
