//! # aks-cadence
//!
//! An Azure Functions custom handler that keeps AKS clusters on a healthy upgrade cadence.
//!
//! ```text
//! core (pure: no IO crate, no edge, no run layer — tests/core_imports.rs)
//!   domain     clusters, concerns, signals, operation statuses: the vocabulary
//!   action     actions, keys, holds (`Hold::describe`), the one time format
//!   error      outbound failures classified where born: transient, throttled, configuration,
//!              permanent, already done, deferred
//!   retry      the one retry policy: failure class + attempt → wait or give up
//!   policy/    policy file, selectors, cadence, rings (the soak gate), maintenance windows (parsed at load), versions
//!              and support (one model)
//!   plan       Signal + Policy + ledger facts + now → Vec<Action>
//!   facts/     the planner's facts as data: a sweep's ClusterSnapshot, sweep memory (memory),
//!              first sightings (sightings); sweep_plan_facts, baseline_of, snapshot signals
//!   followup   failure reports through a concern's other channels
//!   baseline/  the AKS security baseline: check catalogue, pure evaluation against ARM JSON,
//!              failing checks as concerns (baseline::report)
//!   readiness  before an upgrade: surge settings, vCPU quota and subnet headroom; AKS errors → causes
//!   dashboard  the fleet dashboard (GitHub issue, `handler status`): fleet status → markdown
//!   json_text  JSON string text escaped as serde_json escapes it (log lines, dry-run text, answers)
//! edges (import the core and each other, never the run layer)
//!   ingest/    Event Grid / CloudEvents wire types → Signal (wire types stop here)
//!   sweep/     inventory + per-cluster reads → ClusterSnapshot / Signal; fan-out messages
//!   actions/   adapters: log, github, email, chat, azure upgrade/rotate; each returns Done
//!              { detail, operation } (a typed operation report) or a classified ActionError;
//!              never import sweep
//!   azure/     identity, the ARM client, and the AKS reads sweep and actions share (aks, certs)
//!   store/     the ledger: SQLite (embedded) | Azure Blob (scale-out)
//!   settings   environment → validated Settings, once at start-up
//!   topics     the Event Grid topic allow-list both event routes apply
//! run (sequences the stages; imports anything below)
//!   pipeline   the one orchestrator: each entry gathers signals and facts → plan → one path
//!              (carry_out: execute → log → report failures → verdict)
//!   execute/   claim(key) → adapter → complete(key, outcome); the executor's retry limits
//!   sweeper    the sweep functions end to end (timer, queue message, `handler sweep`)
//!   fleet_status  after a sweep: the dashboard issues updated from the fleet records (sweep::fleet)
//!   host/      custom-handler protocol, Event Grid webhook handshakes, defensive decoding
//!   wiring     Settings → policy, ledger, adapters, executor, pipeline, sweeper (main and tests)
//!   output/    what the command line prints for a person: the plan as text, sweep progress
//! ```
//!
//! `tests/core_imports.rs` enforces the layers: the core names no IO crate and no edge or run
//! module; the edges name no run module; the action adapters do not name the sweep.

pub mod action;
pub mod actions;
pub mod azure;
pub mod baseline;
pub mod dashboard;
pub mod domain;
pub mod error;
pub mod execute;
pub mod facts;
pub mod fleet_status;
pub mod followup;
pub mod host;
pub mod ingest;
pub mod json_text;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod readiness;
pub mod retry;
pub mod settings;
pub mod store;
pub mod sweep;
pub mod sweeper;
pub mod topics;
pub mod wiring;
