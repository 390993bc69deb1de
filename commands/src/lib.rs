//! Commands and their handlers: `decide(state, command) -> events or a rejection`, plus the
//! single writer that decides commands in arrival order, appends each batch durably with one
//! write and one fdatasync (group commit), and only then publishes the events to the read
//! views and answers the callers.

pub mod clock;
pub mod command;
mod command_interfaces;
mod command_pools;
mod command_registrations;
mod command_requests;
mod command_routing;
mod command_scaleway;
pub mod decide;
mod decide_addresses;
mod decide_auth;
mod decide_blocks;
mod decide_interfaces;
mod decide_macs;
mod decide_nat;
mod decide_network;
mod decide_policies;
mod decide_pool_allocations;
mod decide_pools;
pub mod decide_registrations;
pub mod decide_requests;
pub mod decide_retention;
mod decide_routes;
mod decide_scaleway;
mod decide_webhooks;
mod idempotency;
pub mod memstore;
mod plan;
pub mod store;
pub mod writer;

#[cfg(test)]
mod tests;

pub use clock::{Clock, ManualClock, SystemClock, UuidV7Source};
pub use command::*;
pub use command_interfaces::{
    AllowIp, InterfaceScope, InterfaceSpec, NetworkAllocation, NetworkRequest, ReleaseAddresses,
};
pub use command_pools::{AllocateFromPool, CreatePool, PoolRequest, UpdatePool};
pub use command_registrations::{ExpireService, Register, RegistrationCommand, ServiceRequest};
pub use command_requests::{DecideRequest, RecordDelivery, SubmitRequest};
pub use command_routing::{AssignNat, NatAt, RemoveNat, RouteChange};
pub use command_scaleway::{
    BookScalewayIp, CustomResource, ReverseRequest, ScalewayCommand, SourceRequest,
    UpdateScalewayIp,
};
pub use decide::{decide, Context, Decision};
pub use decide_nat::address_at as nat_address;
pub use decide_requests::DUPLICATE_MESSAGE;
pub use decide_scaleway::{SUPPORTED_SOURCES, ZONAL_SOURCE};
pub use decide_webhooks::WebhookCommand;
pub use writer::{CommandError, Meta, Published, Writer, WriterConfig};
