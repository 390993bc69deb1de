//! Shared test helpers live in the integration crate.
