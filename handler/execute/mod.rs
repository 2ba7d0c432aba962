//! The executor: claim → act → complete, for every planned action.

pub mod retry;
