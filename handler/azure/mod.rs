//! Azure Resource Manager: identity, the ARM client, and the upgrade/rotation adapter.
