//! Zone registrations (issue 10) folded from their events: every live registration by
//! (zone, address), and the indexes the decisions and views seek in — by (zone, secret
//! digest) for a register without an address, by (expiry, ...) for the cleanup, by cluster
//! for a cluster-wide delete, and by address id for `State::holder_of`. The address itself
//! is an ordinary allocation in its block; a released registration is removed (its history
//! stays in its stream).

use imbl::{OrdMap, OrdSet};
use std::net::IpAddr;

use ipledger_domain::records::Holder;
use ipledger_domain::registrations::{RegisteredService, RegistrationRecord, ServiceKey};
use ipledger_domain::{Event, Timestamp};
use uuid::Uuid;

use crate::State;

type Key = (String, IpAddr);

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Registrations {
    pub(crate) by_key: OrdMap<Key, RegistrationRecord>,
    /// (zone, secret digest, address).
    by_secret: OrdSet<(String, String, IpAddr)>,
    /// (expires_at, zone, address, service) of every service with an expiry.
    expiring: OrdSet<(Timestamp, String, IpAddr, ServiceKey)>,
    /// (cluster, zone, address) of every registration with a service of that cluster.
    by_cluster: OrdSet<(Uuid, String, IpAddr)>,
    /// (pool, zone, address) of every registration: a pool holding registered addresses
    /// cannot be deleted.
    by_pool: OrdSet<(Uuid, String, IpAddr)>,
    by_address_id: OrdMap<Uuid, Key>,
}

impl Registrations {
    pub(crate) fn apply(&mut self, event: &Event) {
        match event {
            Event::RegistrationCreated(e) => {
                let record = RegistrationRecord {
                    zone: e.zone.clone(),
                    address: e.address,
                    address_id: e.address_id,
                    block_id: e.block_id,
                    pool_id: e.pool_id,
                    secret_digest: e.secret_digest.clone(),
                    services: Vec::new(),
                    created_at: e.created_at,
                    updated_at: e.created_at,
                };
                let key = (e.zone.clone(), e.address);
                self.unindex(&key);
                self.by_key.insert(key.clone(), record);
                self.by_address_id.insert(e.address_id, key.clone());
                self.edit(&key, |r| set_service(r, &e.service, e.created_at));
            }
            Event::RegistrationServiceSet(e) => {
                self.edit(&(e.zone.clone(), e.address), |r| {
                    set_service(r, &e.service, e.set_at)
                });
            }
            Event::RegistrationSecretRotated(e) => {
                self.edit(&(e.zone.clone(), e.address), |r| {
                    r.secret_digest = e.secret_digest.clone();
                    r.updated_at = e.rotated_at;
                });
            }
            Event::RegistrationServiceExpiring(e) => {
                self.edit(&(e.zone.clone(), e.address), |r| {
                    if let Some(s) = r.services.iter_mut().find(|s| s.key() == e.service) {
                        s.expires_at = Some(e.expires_at);
                    }
                    r.updated_at = e.requested_at;
                });
            }
            Event::RegistrationServiceRemoved(e) => {
                self.edit(&(e.zone.clone(), e.address), |r| {
                    r.services.retain(|s| s.key() != e.service);
                    r.updated_at = e.removed_at;
                });
            }
            Event::RegistrationReleased(e) => {
                let key = (e.zone.clone(), e.address);
                self.unindex(&key);
                self.by_key.remove(&key);
            }
            _ => {}
        }
    }

    /// Changes one registration, keeping every index in step: out before, in after.
    fn edit(&mut self, key: &Key, f: impl FnOnce(&mut RegistrationRecord)) {
        let Some(mut r) = self.by_key.remove(key) else {
            return;
        };
        self.drop_indexes(&r);
        f(&mut r);
        self.add_indexes(&r);
        self.by_key.insert(key.clone(), r);
    }

    fn unindex(&mut self, key: &Key) {
        if let Some(r) = self.by_key.get(key).cloned() {
            self.drop_indexes(&r);
            self.by_address_id.remove(&r.address_id);
        }
    }

    fn drop_indexes(&mut self, r: &RegistrationRecord) {
        self.by_secret
            .remove(&(r.zone.clone(), r.secret_digest.clone(), r.address));
        self.by_pool.remove(&(r.pool_id, r.zone.clone(), r.address));
        for s in &r.services {
            self.by_cluster
                .remove(&(s.cluster_id, r.zone.clone(), r.address));
            if let Some(at) = s.expires_at {
                self.expiring
                    .remove(&(at, r.zone.clone(), r.address, s.key()));
            }
        }
    }

    fn add_indexes(&mut self, r: &RegistrationRecord) {
        self.by_secret
            .insert((r.zone.clone(), r.secret_digest.clone(), r.address));
        self.by_pool.insert((r.pool_id, r.zone.clone(), r.address));
        for s in &r.services {
            self.by_cluster
                .insert((s.cluster_id, r.zone.clone(), r.address));
            if let Some(at) = s.expires_at {
                self.expiring
                    .insert((at, r.zone.clone(), r.address, s.key()));
            }
        }
    }
}

/// Adds the service or replaces the one with its key (a register clears its expiry: the
/// event carries the service as it is now).
fn set_service(r: &mut RegistrationRecord, service: &RegisteredService, at: Timestamp) {
    match r.services.iter_mut().find(|s| s.key() == service.key()) {
        Some(s) => *s = service.clone(),
        None => r.services.push(service.clone()),
    }
    r.updated_at = at;
}

impl State {
    /// The live registration of `address` in `zone`.
    pub fn registration(&self, zone: &str, address: IpAddr) -> Option<&RegistrationRecord> {
        self.registrations.by_key.get(&(zone.to_string(), address))
    }

    /// The registrations of `zone` opened by the secret with this digest, in address order.
    pub fn registrations_by_secret(&self, zone: &str, digest: &str) -> Vec<&RegistrationRecord> {
        let (z, d) = (zone.to_string(), digest.to_string());
        let low = (z.clone(), d.clone(), IpAddr::from([0u8; 4]));
        let high = (z, d, IpAddr::from([0xffu8; 16]));
        self.registrations
            .by_secret
            .range(low..=high)
            .filter_map(|(z, _, a)| self.registration(z, *a))
            .collect()
    }

    /// Up to `max` services whose expiry is at or before `now`, oldest first.
    pub fn expired_services(
        &self,
        now: Timestamp,
        max: usize,
    ) -> Vec<(String, IpAddr, ServiceKey)> {
        self.registrations
            .expiring
            .iter()
            .take_while(|(at, ..)| *at <= now)
            .take(max)
            .map(|(_, z, a, k)| (z.clone(), *a, k.clone()))
            .collect()
    }

    /// The registrations with a service of `cluster`, in (zone, address) order.
    pub fn registrations_of_cluster(&self, cluster: Uuid) -> Vec<&RegistrationRecord> {
        self.registrations
            .by_cluster
            .range((cluster, String::new(), IpAddr::from([0u8; 4]))..)
            .take_while(|(c, ..)| *c == cluster)
            .filter_map(|(_, z, a)| self.registration(z, *a))
            .collect()
    }

    /// The registrations whose address was taken from `pool`, in (zone, address) order; at
    /// most `max`.
    pub fn registrations_in_pool(&self, pool: Uuid, max: usize) -> Vec<&RegistrationRecord> {
        self.registrations
            .by_pool
            .range((pool, String::new(), IpAddr::from([0u8; 4]))..)
            .take_while(|(p, ..)| *p == pool)
            .take(max)
            .filter_map(|(_, z, a)| self.registration(z, *a))
            .collect()
    }

    /// Registrations in (zone, address) order, filtered; at most `max`.
    pub fn registrations_where(
        &self,
        zone: Option<&str>,
        address: Option<IpAddr>,
        cluster: Option<Uuid>,
        max: usize,
    ) -> Vec<&RegistrationRecord> {
        let fits = |r: &&RegistrationRecord| {
            zone.is_none_or(|z| r.zone == z)
                && address.is_none_or(|a| r.address == a)
                && cluster.is_none_or(|c| r.services.iter().any(|s| s.cluster_id == c))
        };
        match (zone, cluster) {
            (_, Some(c)) => self
                .registrations_of_cluster(c)
                .into_iter()
                .filter(fits)
                .take(max)
                .collect(),
            (Some(z), None) => self
                .registrations
                .by_key
                .range((z.to_string(), IpAddr::from([0u8; 4]))..)
                .take_while(|((rz, _), _)| rz == z)
                .map(|(_, r)| r)
                .filter(fits)
                .take(max)
                .collect(),
            (None, None) => self
                .registrations
                .by_key
                .values()
                .filter(fits)
                .take(max)
                .collect(),
        }
    }

    /// Whether a registration holds the address (part of `State::holder_of`).
    pub(crate) fn registration_holder_of(&self, address_id: Uuid) -> Option<Holder> {
        let (zone, address) = self.registrations.by_address_id.get(&address_id)?;
        Some(Holder::Registration {
            zone: zone.clone(),
            address: *address,
        })
    }
}

/// One family of a zone: its addresses over the zone's address pools, and how many are free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFamily {
    pub family: &'static str,
    pub total: u128,
    pub free: u128,
}

impl State {
    /// Every zone name of the address pools, in name order, with its families.
    pub fn zones(&self) -> Vec<(String, Vec<ZoneFamily>)> {
        let mut names: Vec<&String> = self.pools.by_zone.iter().map(|(z, ..)| z).collect();
        names.dedup();
        names
            .into_iter()
            .map(|z| (z.clone(), self.zone_families(z)))
            .filter(|(_, f)| !f.is_empty())
            .collect()
    }

    fn zone_families(&self, zone: &str) -> Vec<ZoneFamily> {
        let mut out: Vec<ZoneFamily> = Vec::new();
        for p in self.pools_in_zone(zone) {
            let Some(pool) = self.pool_of(None, p.id) else {
                continue;
            };
            for r in self.pool_utilization(pool).resources {
                let family =
                    ipledger_domain::registrations::family_name(r.cidr.network().is_ipv6());
                let free = r.total.saturating_sub(r.allocated);
                match out.iter_mut().find(|f| f.family == family) {
                    Some(f) => {
                        f.total = f.total.saturating_add(r.total);
                        f.free = f.free.saturating_add(free);
                    }
                    None => out.push(ZoneFamily {
                        family,
                        total: r.total,
                        free,
                    }),
                }
            }
        }
        out.sort_by_key(|f| f.family);
        out
    }
}
