//! Every limit on what one request can make large, each named once with its unit last, so
//! the rules, the API and the README read the same numbers. A request over a limit is
//! refused whole (413) before anything is decided: one client's oversized request must not
//! cost the single writer — and so every other client — more than a bounded amount of work.

/// Interfaces in one instance PUT (`PUT /v0.1/ipam/instances/{device}/interfaces`).
pub const INTERFACES_PER_REQUEST_MAX: usize = 256;

/// Explicit addresses in one request, summed over all its interfaces and networks.
pub const ADDRESSES_PER_REQUEST_MAX: usize = 256;

/// Partner addresses in one NAT assignment (`inside_globals` / `inside_locals` POST).
pub const NAT_PAIRS_PER_REQUEST_MAX: usize = 256;

/// Days an idempotency key's recorded outcome is kept before it is forgotten (by a
/// `CommandForgotten` event); a retry after that is a new request. Configurable.
pub const IDEMPOTENCY_KEEP_DAYS_DEFAULT: u32 = 7;

/// Idempotency records forgotten per command, so one retention run is a bounded batch.
pub const FORGET_BATCH_MAX: usize = 10_000;
