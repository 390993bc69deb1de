//! Every limit on what one request can make large, each named once with its unit last, so
//! the rules, the API and the README read the same numbers. A request over a limit is
//! refused whole (413) before anything is decided: one client's oversized request must not
//! cost the single writer — and so every other client — more than a bounded amount of work.

/// A configured bootstrap admin token, in characters (shorter: the server refuses to start).
pub const ADMIN_TOKEN_CHARS_MIN: usize = 32;

/// A request body, in bytes (413 over it).
pub const BODY_BYTES_MAX: usize = 1 << 20;

/// One path segment (a tenant id, an address, ...), in bytes (400 over it).
pub const SEGMENT_BYTES_MAX: usize = 255;

/// One string field of a request body, in bytes (400 over it): it bounds every event's size
/// well below the log's record limit.
pub const STRING_BYTES_MAX: usize = 4096;

/// An `Idempotency-Key` header: printable ASCII, at most this many bytes (400 over it).
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 255;

/// Items in one page of a listing, whatever the client asks for.
pub const PAGE_LIMIT_MAX: usize = 1000;

/// Records a filtered listing looks at for one page when its filter has no index (the IP
/// request review list by network, address or time): a page that runs out of them comes back
/// short, with a next link from where it stopped, so no read holds the views for long.
pub const PAGE_SCAN_MAX: usize = 10_000;

/// Events in one page of `GET /v1/events`.
pub const EVENTS_PAGE_MAX: usize = 1000;

/// Nesting depth of an XML request body (400 over it): the converter recurses.
pub const XML_DEPTH_MAX: usize = 32;

/// One stored event record of the embedded log, in bytes: an event over it refuses its
/// command (413) before anything is applied.
pub const RECORD_BYTES_MAX: usize = 1 << 20;

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

/// Resource blocks of one pool (`POST`/`PUT /v1/pools`).
pub const POOL_RESOURCES_MAX: usize = 256;

/// Allocations in one pool batch (`POST /v1/pools/{pool}/allocations/batch`; 400 above).
pub const POOL_BATCH_MAX: usize = 256;
