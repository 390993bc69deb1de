//! The fold tests' share of zone registrations: operations that emit what the writer could
//! have decided (a registration is `AddressAllocated` then `RegistrationCreated` on a free
//! address; services set, expiring and removed; secret rotations; the last removal releases
//! the registration and frees the address), the plain model of what they say, and the
//! check that the folded state agrees (services, expiries, digests, `holder_of`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipledger_domain::events::*;
use ipledger_domain::records::Holder;
use ipledger_domain::registrations::*;
use ipledger_domain::{Event, Timestamp};
use proptest::prelude::*;
use proptest::sample::Index;
use uuid::Uuid;

use super::Model;
use crate::State;

const ZONE: &str = "z1";

#[derive(Debug, Clone)]
pub(super) enum RegistrationOp {
    Register { block: Index, seed: u64 },
    SetService { reg: Index, name: u8 },
    Rotate { reg: Index },
    Expire { reg: Index, service: Index },
    Remove { reg: Index, service: Index },
}

pub(super) fn op() -> impl Strategy<Value = RegistrationOp> {
    let idx = any::<Index>;
    prop_oneof![
        3 => (idx(), any::<u64>()).prop_map(|(block, seed)| RegistrationOp::Register { block, seed }),
        2 => (idx(), 0u8..4).prop_map(|(reg, name)| RegistrationOp::SetService { reg, name }),
        1 => idx().prop_map(|reg| RegistrationOp::Rotate { reg }),
        2 => (idx(), idx()).prop_map(|(reg, service)| RegistrationOp::Expire { reg, service }),
        2 => (idx(), idx()).prop_map(|(reg, service)| RegistrationOp::Remove { reg, service }),
    ]
}

#[derive(Debug, Clone)]
struct Reg {
    address_id: Uuid,
    block_id: Uuid,
    offset: u128,
    digest: String,
    /// Service name → expiry.
    services: BTreeMap<String, Option<Timestamp>>,
}

/// Live registrations by address (one zone).
#[derive(Debug, Default)]
pub(super) struct RegistrationModel {
    regs: BTreeMap<IpAddr, Reg>,
}

fn service(name: &str, expires_at: Option<Timestamp>) -> RegisteredService {
    RegisteredService {
        service_name: name.into(),
        namespace_id: Uuid::from_u128(7),
        cluster_id: Uuid::from_u128(8),
        retention_period_days: 0,
        deny_external_cleanup: false,
        expires_at,
    }
}

fn pick(model: &Model, reg: &Index) -> Option<(IpAddr, Reg)> {
    let regs = &model.registrations.regs;
    let (a, r) = regs.iter().nth(reg.index(regs.len().max(1)))?;
    Some((*a, r.clone()))
}

fn pick_service(r: &Reg, service: &Index) -> String {
    let names: Vec<&String> = r.services.keys().collect();
    names[service.index(names.len())].clone()
}

pub(super) fn interpret(model: &mut Model, op: &RegistrationOp) {
    let now = model.now();
    let zone = || ZONE.to_string();
    match op {
        RegistrationOp::Register { block, seed } => register(model, block, *seed),
        RegistrationOp::SetService { reg, name } => {
            let Some((address, _)) = pick(model, reg) else {
                return;
            };
            model.emit(Event::RegistrationServiceSet(RegistrationServiceSet {
                zone: zone(),
                address,
                service: service(&format!("s{name}"), None),
                set_at: now,
            }));
        }
        RegistrationOp::Rotate { reg } => {
            let Some((address, _)) = pick(model, reg) else {
                return;
            };
            let digest = format!("d{}", model.fresh_id());
            model.emit(Event::RegistrationSecretRotated(
                RegistrationSecretRotated {
                    zone: zone(),
                    address,
                    secret_digest: digest,
                    rotated_at: now,
                },
            ));
        }
        RegistrationOp::Expire { reg, service: s } => {
            let Some((address, r)) = pick(model, reg) else {
                return;
            };
            let name = pick_service(&r, s);
            model.emit(Event::RegistrationServiceExpiring(
                RegistrationServiceExpiring {
                    zone: zone(),
                    address,
                    service: service(&name, None).key(),
                    cause: ExpiryCause::Delete,
                    expires_at: now,
                    requested_at: now,
                },
            ));
        }
        RegistrationOp::Remove { reg, service: s } => remove(model, reg, s),
    }
}

fn remove(model: &mut Model, reg: &Index, s: &Index) {
    let now = model.now();
    let Some((address, r)) = pick(model, reg) else {
        return;
    };
    let name = pick_service(&r, s);
    let last = r.services.len() == 1;
    // The cleanup frees the address with the last service; the generic operations may have
    // deallocated it meanwhile (the writer would refuse that), so release only a live one.
    let live = model
        .block(r.block_id)
        .is_some_and(|b| b.used.get(&r.offset) == Some(&false));
    if last && !live {
        return;
    }
    model.emit(Event::RegistrationServiceRemoved(
        RegistrationServiceRemoved {
            zone: ZONE.into(),
            address,
            service: service(&name, None).key(),
            removed_at: now,
        },
    ));
    if !last {
        return;
    }
    model.emit(Event::RegistrationReleased(RegistrationReleased {
        zone: ZONE.into(),
        address,
        address_id: r.address_id,
        block_id: r.block_id,
        released_at: now,
    }));
    model.emit(Event::AddressDeallocated(AddressDeallocated {
        block_id: r.block_id,
        address,
        deallocated_at: now,
    }));
    model.emit(Event::AddressPurged(AddressPurged {
        block_id: r.block_id,
        address,
        purged_at: now,
    }));
}

fn register(model: &mut Model, pick: &Index, seed: u64) {
    let Some((block_id, address)) = model.free_address(pick, seed) else {
        return;
    };
    if model.registrations.regs.contains_key(&address) {
        return;
    }
    let address_id = model.fresh_id();
    let now = model.now();
    model.emit(Event::AddressAllocated(AddressAllocated {
        block_id,
        address_id,
        address,
        interface_id: None,
        used_by_tenant: "p1".into(),
        used_by_device: None,
        mac_address: None,
        allocated_at: now,
    }));
    model.emit(Event::RegistrationCreated(RegistrationCreated {
        zone: ZONE.into(),
        address,
        address_id,
        block_id,
        pool_id: Uuid::nil(),
        secret_digest: format!("d{address_id}"),
        service: service("s0", None),
        created_at: now,
    }));
}

impl RegistrationModel {
    pub(super) fn observe(
        &mut self,
        event: &Event,
        offset_of: impl Fn(Uuid, IpAddr) -> Option<u128>,
    ) {
        match event {
            Event::RegistrationCreated(e) => {
                let Some(offset) = offset_of(e.block_id, e.address) else {
                    return;
                };
                let services = BTreeMap::from([(e.service.service_name.clone(), None)]);
                self.regs.insert(
                    e.address,
                    Reg {
                        address_id: e.address_id,
                        block_id: e.block_id,
                        offset,
                        digest: e.secret_digest.clone(),
                        services,
                    },
                );
            }
            Event::RegistrationServiceSet(e) => {
                if let Some(r) = self.regs.get_mut(&e.address) {
                    r.services.insert(e.service.service_name.clone(), None);
                }
            }
            Event::RegistrationSecretRotated(e) => {
                if let Some(r) = self.regs.get_mut(&e.address) {
                    r.digest = e.secret_digest.clone();
                }
            }
            Event::RegistrationServiceExpiring(e) => {
                if let Some(s) = self
                    .regs
                    .get_mut(&e.address)
                    .and_then(|r| r.services.get_mut(&e.service.service_name))
                {
                    *s = Some(e.expires_at);
                }
            }
            Event::RegistrationServiceRemoved(e) => {
                if let Some(r) = self.regs.get_mut(&e.address) {
                    r.services.remove(&e.service.service_name);
                }
            }
            Event::RegistrationReleased(e) => {
                self.regs.remove(&e.address);
            }
            _ => {}
        }
    }
}

pub(super) fn check(state: &State, model: &Model) -> Result<(), TestCaseError> {
    type Seen = BTreeMap<IpAddr, (String, BTreeMap<String, Option<Timestamp>>)>;
    let folded: Seen = state
        .registrations_where(Some(ZONE), None, None, usize::MAX)
        .into_iter()
        .map(|r| {
            let services = r
                .services
                .iter()
                .map(|s| (s.service_name.clone(), s.expires_at))
                .collect();
            (r.address, (r.secret_digest.clone(), services))
        })
        .collect();
    let expected: Seen = model
        .registrations
        .regs
        .iter()
        .map(|(a, r)| (*a, (r.digest.clone(), r.services.clone())))
        .collect();
    prop_assert_eq!(&folded, &expected);
    let expiring: usize = expected
        .values()
        .map(|(_, s)| s.values().filter(|e| e.is_some()).count())
        .sum();
    let far = super::at(1 << 30);
    prop_assert_eq!(state.expired_services(far, usize::MAX).len(), expiring);
    for (address, r) in &model.registrations.regs {
        let by_secret = state.registrations_by_secret(ZONE, &r.digest);
        prop_assert!(by_secret.iter().any(|x| x.address == *address));
        prop_assert_eq!(
            state.holder_of(r.address_id),
            Some(Holder::Registration {
                zone: ZONE.into(),
                address: *address,
            })
        );
    }
    Ok(())
}
