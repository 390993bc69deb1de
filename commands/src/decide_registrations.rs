//! Zone registrations (issue 10, seed 001: vitistack ipam-api), with the original's exact
//! register semantics (peer-systems appendix A):
//!
//! 1. no address, and this service not yet registered under secret + zone + family: the
//!    next free address of the zone's address pools' blocks of that family;
//! 2. no address, service already registered there: an update (its expiry cleared);
//! 3. an address not registered in the zone: that exact address, if it lies in the zone's
//!    blocks of the family and is free;
//! 4. an address registered in the zone: an update, opened by the secret — the service is
//!    added or replaced (address sharing), and `new_secret` rotates the secret only when
//!    exactly one service is registered and it is the caller's.
//!
//! A new registration's address is an `AddressAllocated` (through the Scaleway booking's
//! `allocate`, the same free maps as Melange) beside `RegistrationCreated`, in one
//! decision. A wrong secret gets the answer an address held by anyone else gets, so it
//! does not tell whether the address is registered. Expiry and cleanup are events too: the
//! cleanup removes expired services and, with the last one, frees the address at once.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::Duration;
use ipledger_domain::events::*;
use ipledger_domain::pools::PoolRecord;
use ipledger_domain::records::Reply;
use ipledger_domain::registrations::*;
use ipledger_domain::rejection::FieldErrors;
use ipledger_domain::{Event, Rejection};
use ipledger_projections::{BlockState, State};

use crate::command_registrations::*;
use crate::decide::{Context, Decision};
use crate::decide_network::Holder;
use crate::plan::Plan;

/// At most this many services removed per cleanup command; the scheduler repeats it.
pub const CLEANUP_BATCH_MAX: usize = 10_000;

pub fn decide(
    state: &State,
    c: &RegistrationCommand,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    match c {
        RegistrationCommand::Register(r) => register(state, r, ctx),
        RegistrationCommand::Expire(e) => expire(state, e, ctx),
        RegistrationCommand::ExpireCluster { cluster_id } => {
            expire_cluster(state, *cluster_id, ctx)
        }
        RegistrationCommand::Cleanup { max } => cleanup(state, *max, ctx),
        RegistrationCommand::AdminExpire {
            zone,
            address,
            service,
        } => admin_expire(state, zone, *address, service, ctx),
        RegistrationCommand::AdminRotate {
            zone,
            address,
            new_secret_digest,
        } => {
            let r = registered(state, zone, *address)?;
            let mut record = r.clone();
            record.secret_digest = new_secret_digest.clone();
            record.updated_at = ctx.now;
            let e = RegistrationSecretRotated {
                zone: zone.clone(),
                address: *address,
                secret_digest: new_secret_digest.clone(),
                rotated_at: ctx.now,
            };
            Ok(Decision::new(
                vec![Event::RegistrationSecretRotated(e)],
                Reply::Registration {
                    record,
                    created: false,
                },
            ))
        }
    }
}

/// The registration an admin names (no secret needed: admins see every registration).
fn registered<'s>(
    state: &'s State,
    zone: &str,
    address: IpAddr,
) -> Result<&'s RegistrationRecord, Rejection> {
    state
        .registration(zone, address)
        .ok_or_else(|| Rejection::NotFound(format!("no registration of {address} in zone {zone}")))
}

/// One service expires now, unless it is `deny_external_cleanup`: then it is skipped.
fn admin_expire(
    state: &State,
    zone: &str,
    address: IpAddr,
    key: &ServiceKey,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let r = registered(state, zone, address)?;
    let s = r.service(key).ok_or_else(|| {
        Rejection::NotFound(format!(
            "service {} is not registered at {address} in zone {zone}",
            key.service_name
        ))
    })?;
    let at = (zone.to_string(), address, key.clone());
    if s.deny_external_cleanup {
        let reply = Reply::ClusterExpired {
            expired: vec![],
            skipped: vec![at],
        };
        return Ok(Decision::new(vec![], reply));
    }
    let e = RegistrationServiceExpiring {
        zone: zone.to_string(),
        address,
        service: key.clone(),
        cause: ExpiryCause::Admin,
        expires_at: ctx.now,
        requested_at: ctx.now,
    };
    let reply = Reply::ClusterExpired {
        expired: vec![at],
        skipped: vec![],
    };
    Ok(Decision::new(
        vec![Event::RegistrationServiceExpiring(e)],
        reply,
    ))
}

/// The answer to an address that is not the caller's: held by another surface, registered
/// under another secret, or (for a delete) not registered at all look the same.
fn not_available(address: IpAddr) -> Rejection {
    Rejection::Conflict(format!("{address} is not available with this secret"))
}

fn not_found(zone: &str, address: IpAddr) -> Rejection {
    Rejection::NotFound(format!(
        "no registration of {address} in zone {zone} opens with this secret"
    ))
}

fn check_service(errors: &mut FieldErrors, s: &ServiceRequest) {
    if s.service_name.trim().is_empty() || s.service_name.len() > SERVICE_NAME_BYTES_MAX {
        errors.add(
            "service.service_name",
            format!("service_name is 1 to {SERVICE_NAME_BYTES_MAX} bytes"),
        );
    }
    if s.retention_period_days > RETENTION_DAYS_MAX {
        errors.add(
            "service.retention_period_days",
            format!("retention_period_days is 0 to {RETENTION_DAYS_MAX}"),
        );
    }
}

fn key_of(s: &ServiceRequest) -> ServiceKey {
    ServiceKey {
        service_name: s.service_name.clone(),
        namespace_id: s.namespace_id,
        cluster_id: s.cluster_id,
    }
}

/// The service as a register records it: no expiry.
fn service_of(s: &ServiceRequest) -> RegisteredService {
    RegisteredService {
        service_name: s.service_name.clone(),
        namespace_id: s.namespace_id,
        cluster_id: s.cluster_id,
        retention_period_days: s.retention_period_days,
        deny_external_cleanup: s.deny_external_cleanup,
        expires_at: None,
    }
}

/// The zone's address pools and their blocks of the family, pools in zone order.
fn zone_blocks<'s>(
    state: &'s State,
    zone: &str,
    ipv6: bool,
) -> Result<Vec<(&'s PoolRecord, &'s BlockState)>, Rejection> {
    let pools = state.pools_in_zone(zone);
    if pools.is_empty() {
        return Err(Rejection::invalid(
            "zone",
            format!("zone {zone:?} is not served by any address pool"),
        ));
    }
    let blocks: Vec<_> = pools
        .into_iter()
        .flat_map(|p| {
            p.resources
                .iter()
                .filter_map(|id| state.block(*id))
                .filter(move |b| b.record.cidr.network().is_ipv6() == ipv6)
                .map(move |b| (p, b))
        })
        .collect();
    if blocks.is_empty() {
        return Err(Rejection::invalid(
            "ip_family",
            format!("zone {zone} has no {} block", family_name(ipv6)),
        ));
    }
    Ok(blocks)
}

fn register(state: &State, c: &Register, ctx: &mut Context) -> Result<Decision, Rejection> {
    let mut errors = FieldErrors::default();
    check_service(&mut errors, &c.service);
    if c.address.is_some_and(|a| a.is_ipv6() != c.ipv6) {
        errors.add("address", "the address's family does not match ip_family");
    }
    errors.into_result()?;
    let blocks = zone_blocks(state, &c.zone, c.ipv6)?;
    let key = key_of(&c.service);
    let Some(address) = c.address else {
        // Cases 1 and 2: this service under this secret in the zone and family already?
        let mine = state
            .registrations_by_secret(&c.zone, &c.secret_digest)
            .into_iter()
            .find(|r| r.address.is_ipv6() == c.ipv6 && r.service(&key).is_some());
        return match mine {
            Some(r) => update(r, c, ctx),
            None => create(state, &blocks, c, ctx),
        };
    };
    match state.registration(&c.zone, address) {
        // Case 4, opened by its secret only.
        Some(r) if r.secret_digest == c.secret_digest => update(r, c, ctx),
        Some(_) => Err(not_available(address)),
        // Case 3.
        None => create(state, &blocks, c, ctx),
    }
}

fn create(
    state: &State,
    blocks: &[(&PoolRecord, &BlockState)],
    c: &Register,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let only: Vec<&BlockState> = blocks.iter().map(|(_, b)| *b).collect();
    // The pool's tenant owns the address as Melange sees it.
    let holder = Holder {
        vif: None,
        tenant: blocks[0].0.tenant_id.clone(),
        device: None,
        mac: None,
        sequential: true,
    };
    let mut plan = Plan::new(state);
    let from = format!("zone {}", c.zone);
    let picked = crate::decide_scaleway::allocate(&mut plan, &only, c.address, &holder, &from, ctx);
    let (address_id, block_id, address) = match (picked, c.address) {
        (Err(Rejection::Conflict(_)), Some(a)) => return Err(not_available(a)),
        (other, _) => other?,
    };
    let pool_id = blocks
        .iter()
        .find(|(_, b)| b.record.id == block_id)
        .map_or(uuid::Uuid::nil(), |(p, _)| p.id);
    let service = service_of(&c.service);
    let record = RegistrationRecord {
        zone: c.zone.clone(),
        address,
        address_id,
        block_id,
        pool_id,
        secret_digest: c.secret_digest.clone(),
        services: vec![service.clone()],
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let mut events = plan.events;
    events.push(Event::RegistrationCreated(RegistrationCreated {
        zone: c.zone.clone(),
        address,
        address_id,
        block_id,
        pool_id,
        secret_digest: c.secret_digest.clone(),
        service,
        created_at: ctx.now,
    }));
    Ok(Decision::new(
        events,
        Reply::Registration {
            record,
            created: true,
        },
    ))
}

/// Cases 2 and 4: rotate the secret if asked (and allowed), then add or replace the
/// service. Nothing changed is no event.
fn update(r: &RegistrationRecord, c: &Register, ctx: &mut Context) -> Result<Decision, Rejection> {
    let key = key_of(&c.service);
    let mut after = r.clone();
    let mut events = Vec::new();
    if let Some(new) = c
        .new_secret_digest
        .as_ref()
        .filter(|n| **n != r.secret_digest)
    {
        let alone = r.services.len() == 1 && r.services[0].key() == key;
        if !alone {
            return Err(Rejection::Conflict(
                "the secret can be replaced only while exactly one service is registered at \
                 the address and it is this one"
                    .into(),
            ));
        }
        after.secret_digest = new.clone();
        after.updated_at = ctx.now;
        events.push(Event::RegistrationSecretRotated(
            RegistrationSecretRotated {
                zone: r.zone.clone(),
                address: r.address,
                secret_digest: new.clone(),
                rotated_at: ctx.now,
            },
        ));
    }
    let service = service_of(&c.service);
    if r.service(&key) != Some(&service) {
        let count = after.services.len();
        match after.services.iter_mut().find(|s| s.key() == key) {
            Some(s) => *s = service.clone(),
            None if count >= SERVICES_PER_REGISTRATION_MAX => {
                return Err(Rejection::Unprocessable(format!(
                    "an address is shared by at most {SERVICES_PER_REGISTRATION_MAX} services"
                )))
            }
            None => after.services.push(service.clone()),
        }
        after.updated_at = ctx.now;
        events.push(Event::RegistrationServiceSet(RegistrationServiceSet {
            zone: r.zone.clone(),
            address: r.address,
            service,
            set_at: ctx.now,
        }));
    }
    Ok(Decision::new(
        events,
        Reply::Registration {
            record: after,
            created: false,
        },
    ))
}

fn expire(state: &State, c: &ExpireService, ctx: &mut Context) -> Result<Decision, Rejection> {
    let mut errors = FieldErrors::default();
    check_service(&mut errors, &c.service);
    errors.into_result()?;
    let r = state
        .registration(&c.zone, c.address)
        .filter(|r| r.secret_digest == c.secret_digest && r.address.is_ipv6() == c.ipv6)
        .ok_or_else(|| not_found(&c.zone, c.address))?;
    let key = key_of(&c.service);
    if r.service(&key).is_none() {
        return Err(Rejection::NotFound(format!(
            "service {} of namespace {} in cluster {} is not registered at {}",
            key.service_name, key.namespace_id, key.cluster_id, c.address
        )));
    }
    let days = i64::from(c.service.retention_period_days.min(RETENTION_DAYS_MAX));
    let expires_at = ctx.now + Duration::days(days);
    let mut after = r.clone();
    for s in after.services.iter_mut().filter(|s| s.key() == key) {
        s.expires_at = Some(expires_at);
    }
    after.updated_at = ctx.now;
    let e = RegistrationServiceExpiring {
        zone: r.zone.clone(),
        address: r.address,
        service: key,
        cause: ExpiryCause::Delete,
        expires_at,
        requested_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::RegistrationServiceExpiring(e)],
        Reply::Registration {
            record: after,
            created: false,
        },
    ))
}

/// Every service of the cluster expires now, `deny_external_cleanup` ones excepted: those
/// go only by their own secret.
fn expire_cluster(
    state: &State,
    cluster: uuid::Uuid,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let (mut events, mut expired, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for r in state.registrations_of_cluster(cluster) {
        for s in r.services.iter().filter(|s| s.cluster_id == cluster) {
            let at = (r.zone.clone(), r.address, s.key());
            if s.deny_external_cleanup {
                skipped.push(at);
                continue;
            }
            if s.expires_at.is_some_and(|t| t <= ctx.now) {
                expired.push(at);
                continue;
            }
            events.push(Event::RegistrationServiceExpiring(
                RegistrationServiceExpiring {
                    zone: r.zone.clone(),
                    address: r.address,
                    service: s.key(),
                    cause: ExpiryCause::Cluster,
                    expires_at: ctx.now,
                    requested_at: ctx.now,
                },
            ));
            expired.push(at);
        }
    }
    Ok(Decision::new(
        events,
        Reply::ClusterExpired { expired, skipped },
    ))
}

/// Removes the services whose expiry has come (at most `max`), and releases each
/// registration that loses its last service, freeing its address at once.
fn cleanup(state: &State, max: usize, ctx: &mut Context) -> Result<Decision, Rejection> {
    let due = state.expired_services(ctx.now, max.clamp(1, CLEANUP_BATCH_MAX));
    let removed = due.len() as u64;
    let mut by_registration: BTreeMap<(String, IpAddr), Vec<ServiceKey>> = BTreeMap::new();
    for (zone, address, key) in due {
        by_registration
            .entry((zone, address))
            .or_default()
            .push(key);
    }
    let mut events = Vec::new();
    for ((zone, address), keys) in by_registration {
        let Some(r) = state.registration(&zone, address) else {
            continue;
        };
        for key in &keys {
            events.push(Event::RegistrationServiceRemoved(
                RegistrationServiceRemoved {
                    zone: zone.clone(),
                    address,
                    service: key.clone(),
                    removed_at: ctx.now,
                },
            ));
        }
        let left = r
            .services
            .iter()
            .filter(|s| !keys.contains(&s.key()))
            .count();
        if left > 0 {
            continue;
        }
        events.push(Event::RegistrationReleased(RegistrationReleased {
            zone: zone.clone(),
            address,
            address_id: r.address_id,
            block_id: r.block_id,
            released_at: ctx.now,
        }));
        if let Some(rec) = state.address(r.address_id) {
            events.extend(crate::decide_addresses::freed_at_once(
                state,
                &[rec],
                ctx.now,
            ));
        }
    }
    Ok(Decision::new(events, Reply::Purged(removed)))
}
