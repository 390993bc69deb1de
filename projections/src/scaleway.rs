//! Scaleway IPs folded from their events: every live IP by id (UUID v7: in booking order)
//! and by project, so a project's listing and the isolation check are range seeks. A
//! released IP is removed: Scaleway shows no released IPs. The address itself lives in its
//! block like every other (`State::address_allocated`); this view holds what only the
//! Scaleway surface knows (source, tags, reverses, resource).

use imbl::{OrdMap, OrdSet};

use ipledger_domain::records::Holder;
use ipledger_domain::scaleway::ScalewayIpRecord;
use ipledger_domain::Event;
use uuid::Uuid;

use crate::State;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScalewayIps {
    pub(crate) by_id: OrdMap<Uuid, ScalewayIpRecord>,
    /// (project, ip id) of every live IP.
    pub(crate) by_project: OrdSet<(String, Uuid)>,
}

impl ScalewayIps {
    pub(crate) fn apply(&mut self, event: &Event) {
        match event {
            Event::ScalewayIpBooked(e) => {
                let record = ScalewayIpRecord {
                    id: e.ip_id,
                    project_id: e.project_id.clone(),
                    block_id: e.block_id,
                    address: e.address,
                    source: e.source.clone(),
                    tags: e.tags.clone(),
                    reverses: Vec::new(),
                    attached_at: e.resource.as_ref().map(|_| e.booked_at),
                    resource: e.resource.clone(),
                    created_at: e.booked_at,
                    updated_at: e.booked_at,
                };
                if let Some(old) = self.by_id.insert(e.ip_id, record) {
                    self.by_project.remove(&(old.project_id, old.id));
                }
                self.by_project.insert((e.project_id.clone(), e.ip_id));
            }
            Event::ScalewayIpUpdated(e) => self.with(e.ip_id, |r| {
                r.tags = e.tags.clone();
                r.reverses = e.reverses.clone();
                r.updated_at = e.updated_at;
            }),
            Event::ScalewayIpAttached(e) => self.with(e.ip_id, |r| {
                r.resource = Some(e.resource.clone());
                r.attached_at = Some(e.attached_at);
                r.updated_at = e.attached_at;
            }),
            Event::ScalewayIpDetached(e) => self.with(e.ip_id, |r| {
                r.resource = None;
                r.attached_at = None;
                r.updated_at = e.detached_at;
            }),
            Event::ScalewayIpReleased(e) => {
                if let Some(old) = self.by_id.remove(&e.ip_id) {
                    self.by_project.remove(&(old.project_id, old.id));
                }
            }
            _ => {}
        }
    }

    fn with(&mut self, id: Uuid, f: impl FnOnce(&mut ScalewayIpRecord)) {
        if let Some(r) = self.by_id.get_mut(&id) {
            f(r);
        }
    }
}

impl State {
    /// A live Scaleway IP by id.
    pub fn scaleway_ip(&self, id: Uuid) -> Option<&ScalewayIpRecord> {
        self.scaleway.by_id.get(&id)
    }

    /// The live Scaleway IPs of `project` (every project's for `None`), in booking order.
    pub fn scaleway_ips(
        &self,
        project: Option<&str>,
    ) -> Box<dyn Iterator<Item = &ScalewayIpRecord> + '_> {
        match project {
            None => Box::new(self.scaleway.by_id.values()),
            Some(p) => Box::new(
                self.scaleway
                    .by_project
                    .range((p.to_string(), Uuid::nil())..=(p.to_string(), Uuid::max()))
                    .filter_map(|(_, id)| self.scaleway.by_id.get(id)),
            ),
        }
    }

    /// Whether a Scaleway IP holds the address `address_id` (part of `State::holder_of`).
    pub(crate) fn scaleway_holder_of(&self, address_id: Uuid) -> Option<Holder> {
        if self.scaleway.by_id.contains_key(&address_id) {
            return Some(Holder::Scaleway { ip_id: address_id });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use ipledger_domain::events::*;
    use ipledger_domain::records::BlockType;
    use ipledger_domain::scaleway::*;
    use ipledger_domain::{Envelope, Event};

    use super::*;

    fn fold(events: &[Event]) -> State {
        let mut s = State::default();
        for (i, event) in events.iter().enumerate() {
            s.apply(&Envelope {
                position: i as u64,
                stream: event.stream(),
                version: i as u64,
                event_id: Uuid::from_u128(1000 + i as u128),
                recorded_at: Utc.timestamp_opt(0, 0).unwrap(),
                actor: "test".into(),
                correlation_id: None,
                idempotency_key: None,
                event: event.clone(),
            });
        }
        s
    }

    #[test]
    fn release_deallocates_and_purges_back_to_back() {
        // The release decision appends AddressDeallocated then AddressPurged at once: the
        // address must come out free and forgotten, as a booking never made.
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let (block, ip) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let address = "10.0.0.2".parse().unwrap();
        let created = Event::BlockCreated(BlockCreated {
            block_id: block,
            tenant_id: "p".into(),
            cidr: "10.0.0.0/29".parse().unwrap(),
            block_type: BlockType::Private,
            network_id: None,
            policy_id: None,
            gateway: None,
            dns1: None,
            dns2: None,
            parent_id: None,
            created_at: now,
            ipv6_generator: None,
        });
        let booked = [
            Event::AddressAllocated(AddressAllocated {
                block_id: block,
                address_id: ip,
                address,
                interface_id: None,
                used_by_tenant: "p".into(),
                used_by_device: None,
                mac_address: None,
                allocated_at: now,
            }),
            Event::ScalewayIpBooked(ScalewayIpBooked {
                ip_id: ip,
                project_id: "p".into(),
                block_id: block,
                address,
                source: ScalewaySource {
                    private_network_id: None,
                    subnet_id: Some(block),
                    zonal: None,
                },
                tags: vec![],
                resource: None,
                booked_at: now,
            }),
        ];
        let mut all = vec![created.clone()];
        all.extend(booked.iter().cloned());
        let held = fold(&all);
        assert_eq!(held.holder_of(ip), Some(Holder::Scaleway { ip_id: ip }));
        assert_eq!(held.scaleway_ips(Some("p")).count(), 1);
        all.extend([
            Event::ScalewayIpReleased(ScalewayIpReleased {
                ip_id: ip,
                block_id: block,
                released_at: now,
            }),
            Event::AddressDeallocated(AddressDeallocated {
                block_id: block,
                address,
                deallocated_at: now,
            }),
            Event::AddressPurged(AddressPurged {
                block_id: block,
                address,
                purged_at: now,
            }),
        ]);
        let released = fold(&all);
        assert_eq!(released.holder_of(ip), None);
        assert_eq!(released.scaleway_ips(None).count(), 0);
        let b = released.block(block).expect("block");
        assert!(!b.free.is_used(2));
        assert_eq!((b.by_offset.len(), b.deallocated), (0, 0));
        assert!(released.address(ip).is_none());
    }
}
