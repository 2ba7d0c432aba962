//! The embedded ledger on a SQLite file.

/// SQLite-backed [`super::Ledger`].
#[derive(Debug)]
pub struct SqliteLedger {}
