//! The one retry policy (house rule 7).
