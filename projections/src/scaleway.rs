//! Scaleway IPs folded from their events: every live IP by id (UUID v7: in booking order)
//! and by project, so a project's listing and the isolation check are range seeks. A
//! released IP is removed: Scaleway shows no released IPs. The address itself lives in its
//! block like every other (`State::address_allocated`); this view holds what only the
//! Scaleway surface knows (source, tags, reverses, resource).

use std::collections::{BTreeMap, BTreeSet};

use ipledger_domain::records::Holder;
use ipledger_domain::scaleway::ScalewayIpRecord;
use ipledger_domain::Event;
use uuid::Uuid;

use crate::State;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScalewayIps {
    pub(crate) by_id: BTreeMap<Uuid, ScalewayIpRecord>,
    /// (project, ip id) of every live IP.
    pub(crate) by_project: BTreeSet<(String, Uuid)>,
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

    /// Which non-Melange surface holds the address `address_id`, if any (issue 9).
    pub fn holder_of(&self, address_id: Uuid) -> Option<Holder> {
        if self.scaleway.by_id.contains_key(&address_id) {
            return Some(Holder::Scaleway { ip_id: address_id });
        }
        None
    }
}
