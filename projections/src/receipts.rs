//! Answers rendered from receipts: an idempotent retry is answered from the ids its first
//! answer named (`Receipt`, kept in the log) and the state as it is now, so the log never
//! holds a reply's shape.

use ipledger_domain::records::{Receipt, Reply};

use crate::State;

impl State {
    /// The reply naming what `receipt` names, as the objects are now; `None` when one of
    /// them no longer exists (for a list: when none of them does).
    pub fn reply_for(&self, receipt: &Receipt) -> Option<Reply> {
        Some(match receipt {
            Receipt::Done => Reply::Done,
            Receipt::Purged(n) => Reply::Purged(*n),
            Receipt::Block(id) => Reply::Block(self.blocks.get(id)?.record.clone()),
            Receipt::Address(id) => Reply::Address(self.addresses.get(id)?.clone()),
            Receipt::Policy(id) => Reply::Policy(self.policies.get(id)?.record.clone()),
            Receipt::Range {
                policy_id,
                range_id,
            } => Reply::Range(self.policies.get(policy_id)?.ranges.get(range_id)?.clone()),
            Receipt::Octet {
                policy_id,
                octet_id,
            } => Reply::Octet(self.policies.get(policy_id)?.octets.get(octet_id)?.clone()),
            Receipt::Interface(vif) => Reply::Interface(self.interface_view(self.interface(vif)?)),
            Receipt::Interfaces(vifs) => {
                let views: Vec<_> = vifs
                    .iter()
                    .filter_map(|vif| self.interface(vif))
                    .map(|i| self.interface_view(i))
                    .collect();
                if views.is_empty() && !vifs.is_empty() {
                    return None;
                }
                Reply::Interfaces(views)
            }
            Receipt::IpConfigurations(ids) => {
                let configurations: Vec<_> = ids
                    .iter()
                    .filter_map(|id| self.addresses.get(id))
                    .filter_map(|a| self.ip_configuration(a))
                    .collect();
                if configurations.is_empty() && !ids.is_empty() {
                    return None;
                }
                Reply::IpConfigurations(configurations)
            }
            Receipt::MacRange(id) => Reply::MacRange(self.nics.mac_ranges.get(id)?.clone()),
            Receipt::Token(id) => Reply::Token(self.tokens.live.get(id)?.clone()),
            Receipt::Route { block_id, route_id } => {
                Reply::Route(self.route_in(*block_id, *route_id)?.clone())
            }
            Receipt::Request(id) => Reply::Request(self.requests.by_id.get(id)?.clone()),
            Receipt::ScalewayIp(id) => Reply::ScalewayIp(self.scaleway.by_id.get(id)?.clone()),
            Receipt::Pool(id) => Reply::Pool(self.pool_of(None, *id)?.record.clone()),
            Receipt::PoolAllocations {
                pool_id,
                allocations,
            } => {
                let pool = self.pool_of(None, *pool_id)?;
                let list: Vec<_> = allocations
                    .iter()
                    .filter_map(|(id, made)| Some((pool.allocations.get(id)?.clone(), *made)))
                    .collect();
                if list.is_empty() && !allocations.is_empty() {
                    return None;
                }
                Reply::PoolAllocations(list)
            }
            Receipt::Registration {
                zone,
                address,
                created,
            } => Reply::Registration {
                record: self.registration(zone, *address)?.clone(),
                created: *created,
            },
            Receipt::Webhook(id) => Reply::Webhook(self.webhook(*id)?.clone()),
        })
    }
}
