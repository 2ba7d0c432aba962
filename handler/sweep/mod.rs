//! Fleet sweeps: inventory and per-cluster findings → signals.

pub mod certs;
