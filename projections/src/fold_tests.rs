//! Property tests of the fold: for random but valid event logs, folding the log in chunks
//! (a published copy handed on between chunks, as the writer and a snapshot do) gives exactly
//! the state a rebuild from position 0 gives, the writer's path (`apply_event` plus the log
//! bookkeeping) gives the same state as `apply`, folding is deterministic, and the folded
//! state agrees with a plain model of what the log says.
//!
//! The logs are built by interpreting random operations against that model, which only
//! emits events the writer could have decided: blocks (IPv4 and IPv6, dense and sparse free
//! maps) and nested subnets, distinct allocations, deallocation (also twice), restore,
//! purge, block deletion with its purges, policies with ranges and octets, and idempotency
//! records.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, TimeZone, Utc};
use ipledger_domain::auth::Role;
use ipledger_domain::block;
use ipledger_domain::events::*;
use ipledger_domain::records::{BlockType, Receipt};
use ipledger_domain::{Envelope, Event};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use proptest::sample::Index;
use uuid::Uuid;

use crate::State;

mod interface_ops;
mod pool_ops;
mod registration_ops;
mod request_ops;
mod routing_ops;
mod scaleway_ops;

#[derive(Debug, Clone)]
enum Op {
    CreateRoot {
        v6: bool,
        host_bits: u8,
        lessor: bool,
        policy: Option<Index>,
    },
    CreateSubnet {
        parent: Index,
        quarter: u8,
    },
    UpdateBlock {
        block: Index,
        public: bool,
        policy: Option<Index>,
    },
    DeleteBlock {
        block: Index,
    },
    Allocate {
        block: Index,
        seed: u64,
        lessee: bool,
    },
    Deallocate {
        address: Index,
    },
    Restore {
        address: Index,
    },
    Purge {
        address: Index,
    },
    CreatePolicy,
    UpdatePolicy {
        policy: Index,
    },
    DeletePolicy {
        policy: Index,
    },
    CreateRange {
        policy: Index,
        offset: i64,
        length: u64,
    },
    UpdateRange {
        policy: Index,
        range: Index,
        offset: i64,
    },
    DeleteRange {
        policy: Index,
        range: Index,
    },
    CreateOctet {
        policy: Index,
        octet: u8,
    },
    UpdateOctet {
        policy: Index,
        octet_pick: Index,
        octet: u8,
    },
    DeleteOctet {
        policy: Index,
        octet_pick: Index,
    },
    RecordCommand {
        key: u8,
    },
    ForgetCommand {
        key: u8,
    },
    IssueToken {
        role: u8,
    },
    RevokeToken {
        token: Index,
    },
    RegisterWebhook {
        all_types: bool,
    },
    DeleteWebhook {
        webhook: Index,
    },
    WebhookDelivered {
        webhook: Index,
        count: u8,
    },
    Routing(routing_ops::RoutingOp),
    Requests(request_ops::RequestOp),
    Interfaces(interface_ops::InterfaceOp),
    Scaleway(scaleway_ops::ScalewayOp),
    Pools(pool_ops::PoolOp),
    Registrations(registration_ops::RegistrationOp),
}

fn op() -> impl Strategy<Value = Op> {
    let idx = any::<Index>;
    prop_oneof![
        3 => (any::<bool>(), prop_oneof![0u8..=8, Just(64u8)], any::<bool>(), proptest::option::of(idx()))
            .prop_map(|(v6, host_bits, lessor, policy)| Op::CreateRoot { v6, host_bits, lessor, policy }),
        2 => (idx(), 0u8..4).prop_map(|(parent, quarter)| Op::CreateSubnet { parent, quarter }),
        1 => (idx(), any::<bool>(), proptest::option::of(idx()))
            .prop_map(|(block, public, policy)| Op::UpdateBlock { block, public, policy }),
        1 => idx().prop_map(|block| Op::DeleteBlock { block }),
        8 => (idx(), any::<u64>(), any::<bool>()).prop_map(|(block, seed, lessee)| Op::Allocate { block, seed, lessee }),
        3 => idx().prop_map(|address| Op::Deallocate { address }),
        2 => idx().prop_map(|address| Op::Restore { address }),
        2 => idx().prop_map(|address| Op::Purge { address }),
        1 => Just(Op::CreatePolicy),
        1 => idx().prop_map(|policy| Op::UpdatePolicy { policy }),
        1 => idx().prop_map(|policy| Op::DeletePolicy { policy }),
        1 => (idx(), -10i64..10, 0u64..5).prop_map(|(policy, offset, length)| Op::CreateRange { policy, offset, length }),
        1 => (idx(), idx(), -10i64..10).prop_map(|(policy, range, offset)| Op::UpdateRange { policy, range, offset }),
        1 => (idx(), idx()).prop_map(|(policy, range)| Op::DeleteRange { policy, range }),
        1 => (idx(), any::<u8>()).prop_map(|(policy, octet)| Op::CreateOctet { policy, octet }),
        1 => (idx(), idx(), any::<u8>()).prop_map(|(policy, octet_pick, octet)| Op::UpdateOctet { policy, octet_pick, octet }),
        1 => (idx(), idx()).prop_map(|(policy, octet_pick)| Op::DeleteOctet { policy, octet_pick }),
        1 => (0u8..4).prop_map(|key| Op::RecordCommand { key }),
        1 => (0u8..4).prop_map(|key| Op::ForgetCommand { key }),
        1 => (0u8..3).prop_map(|role| Op::IssueToken { role }),
        1 => idx().prop_map(|token| Op::RevokeToken { token }),
        1 => any::<bool>().prop_map(|all_types| Op::RegisterWebhook { all_types }),
        1 => idx().prop_map(|webhook| Op::DeleteWebhook { webhook }),
        1 => (idx(), any::<u8>()).prop_map(|(webhook, count)| Op::WebhookDelivered { webhook, count }),
        4 => routing_ops::op().prop_map(Op::Routing),
        3 => request_ops::op().prop_map(Op::Requests),
        4 => interface_ops::op().prop_map(Op::Interfaces),
        2 => scaleway_ops::op().prop_map(Op::Scaleway),
        3 => pool_ops::op().prop_map(Op::Pools),
        3 => registration_ops::op().prop_map(Op::Registrations),
    ]
}

/// What the log says, kept plainly: the reference the folded state is checked against.
#[derive(Debug, Clone)]
struct ModelBlock {
    id: Uuid,
    cidr: IpNet,
    parent: Option<Uuid>,
    policy: Option<Uuid>,
    children: BTreeSet<Uuid>,
    /// Occupied offsets: true when soft-deallocated.
    used: BTreeMap<u128, bool>,
    /// Offsets held by pending requests.
    held: BTreeSet<u128>,
}

#[derive(Debug, Default)]
struct Model {
    blocks: Vec<ModelBlock>,
    policies: Vec<(Uuid, Vec<Uuid>, Vec<Uuid>)>,
    next_id: u128,
    roots: u16,
    events: Vec<Event>,
    routing: routing_ops::RoutingModel,
    requests: request_ops::RequestModel,
    /// Whether each request gave an e-mail (it then owes a decision notice).
    request_emails: BTreeMap<Uuid, bool>,
    /// The offset each pending request holds.
    held_offsets: BTreeMap<Uuid, u128>,
    interfaces: interface_ops::InterfaceModel,
    scaleway: scaleway_ops::ScalewayModel,
    pools: pool_ops::PoolModel,
    registrations: registration_ops::RegistrationModel,
    /// Live token ids, in issue order.
    tokens: Vec<Uuid>,
    /// Live webhook ids, in registration order.
    webhooks: Vec<Uuid>,
}

fn at(seconds: usize) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2012, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(seconds as i64)
}

impl Model {
    fn fresh_id(&mut self) -> Uuid {
        self.next_id += 1;
        Uuid::from_u128(self.next_id)
    }

    fn now(&self) -> DateTime<Utc> {
        at(self.events.len())
    }

    /// Records an event of the log and brings the model up to date with it.
    fn emit(&mut self, event: Event) {
        self.model_apply(&event);
        self.routing.observe(&event);
        self.requests.observe(&event, &mut self.request_emails);
        self.interfaces.observe(&event);
        let blocks = &self.blocks;
        let offset_of = |b: Uuid, a| {
            let b = blocks.iter().find(|m| m.id == b)?;
            block::offset_of(&b.cidr, a)
        };
        self.scaleway.observe(&event, offset_of);
        self.registrations.observe(&event, offset_of);
        self.events.push(event);
    }

    fn pick_policy(&self, pick: Option<&Index>) -> Option<Uuid> {
        let pick = pick?;
        (!self.policies.is_empty()).then(|| self.policies[pick.index(self.policies.len())].0)
    }

    /// (block position, offset, deallocated) of every occupied address, in a stable order.
    fn occupied(&self) -> Vec<(usize, u128, bool)> {
        let mut out = Vec::new();
        for (b, block) in self.blocks.iter().enumerate() {
            out.extend(block.used.iter().map(|(o, d)| (b, *o, *d)));
        }
        out
    }

    fn interpret(&mut self, op: &Op) {
        match op {
            Op::CreateRoot {
                v6,
                host_bits,
                lessor,
                policy,
            } => self.create_root(*v6, *host_bits, *lessor, policy.as_ref()),
            Op::CreateSubnet { parent, quarter } => self.create_subnet(parent, *quarter),
            Op::UpdateBlock {
                block,
                public,
                policy,
            } => {
                if self.blocks.is_empty() {
                    return;
                }
                let id = self.blocks[block.index(self.blocks.len())].id;
                let e = BlockUpdated {
                    block_id: id,
                    block_type: if *public {
                        BlockType::Public
                    } else {
                        BlockType::Private
                    },
                    network_id: Some(format!("net-{}", block.index(3))),
                    policy_id: self.pick_policy(policy.as_ref()),
                    gateway: None,
                    dns1: Some("1.1.1.1".parse().unwrap()),
                    dns2: None,
                    updated_at: self.now(),
                    ipv6_generator: None,
                };
                // As the decision does when a block moves into a network (or turns public).
                let b = &self.blocks[block.index(self.blocks.len())];
                let claim = |scope| {
                    Event::BlockClaimed(BlockClaimed {
                        block_id: id,
                        cidr: b.cidr,
                        scope,
                        claimed_at: e.updated_at,
                    })
                };
                let mut claims = vec![claim(ClaimScope::Network(
                    e.network_id.clone().expect("set above"),
                ))];
                if *public && b.parent.is_none() {
                    claims.push(claim(ClaimScope::Public));
                }
                self.emit(Event::BlockUpdated(e));
                for c in claims {
                    self.emit(c);
                }
            }
            Op::DeleteBlock { block } => self.delete_block(block),
            Op::Allocate {
                block,
                seed,
                lessee,
            } => self.allocate(block, *seed, *lessee),
            Op::Deallocate { address } => self.address_event(
                address,
                |_| true,
                |b, a, now| {
                    Event::AddressDeallocated(AddressDeallocated {
                        block_id: b,
                        address: a,
                        deallocated_at: now,
                    })
                },
            ),
            Op::Restore { address } => self.address_event(
                address,
                |d| d,
                |b, a, now| {
                    Event::AddressRestored(AddressRestored {
                        block_id: b,
                        address: a,
                        restored_at: now,
                    })
                },
            ),
            Op::Purge { address } => self.address_event(
                address,
                |d| d,
                |b, a, now| {
                    Event::AddressPurged(AddressPurged {
                        block_id: b,
                        address: a,
                        purged_at: now,
                    })
                },
            ),
            Op::CreatePolicy => {
                let policy_id = self.fresh_id();
                let e = PolicyCreated {
                    policy_id,
                    tenant_id: "t1".into(),
                    name: format!("p{policy_id}"),
                    description: None,
                    created_at: self.now(),
                };
                self.emit(Event::PolicyCreated(e));
            }
            Op::ForgetCommand { key } => {
                let e = CommandForgotten {
                    key: format!("key-{key}"),
                    forgotten_at: self.now(),
                };
                self.emit(Event::CommandForgotten(e));
            }
            Op::RecordCommand { key } => {
                let e = CommandRecorded {
                    key: format!("key-{key}"),
                    fingerprint: format!("POST /x {}", self.events.len()),
                    receipt: Receipt::Done,
                    recorded_at: self.now(),
                };
                self.emit(Event::CommandRecorded(e));
            }
            Op::IssueToken { role } => {
                let token_id = self.fresh_id();
                let role = match role {
                    0 => Role::Admin,
                    1 => Role::Agent,
                    _ => Role::Tenant(format!("t{}", self.tokens.len() % 3)),
                };
                let e = TokenIssued {
                    token_id,
                    name: format!("token-{token_id}"),
                    role,
                    secret_sha256: format!("{:064x}", token_id.as_u128()),
                    issued_at: self.now(),
                };
                self.tokens.push(token_id);
                self.emit(Event::TokenIssued(e));
            }
            Op::RevokeToken { token } => {
                if self.tokens.is_empty() {
                    return;
                }
                let token_id = self.tokens.remove(token.index(self.tokens.len()));
                let e = TokenRevoked {
                    token_id,
                    revoked_at: self.now(),
                };
                self.emit(Event::TokenRevoked(e));
            }
            Op::RegisterWebhook { all_types } => {
                let webhook_id = self.fresh_id();
                let e = ipledger_domain::webhooks::WebhookRegistered {
                    webhook_id,
                    url: format!("https://hooks.example.com/{webhook_id}"),
                    event_types: (!all_types).then(|| vec!["AddressAllocated".into()]),
                    secret_sealed: format!("sealed-{webhook_id}"),
                    follow_from: self.events.len() as u64,
                    created_at: self.now(),
                };
                self.webhooks.push(webhook_id);
                self.emit(Event::WebhookRegistered(e));
            }
            Op::DeleteWebhook { webhook } => {
                if self.webhooks.is_empty() {
                    return;
                }
                let webhook_id = self.webhooks.remove(webhook.index(self.webhooks.len()));
                let e = ipledger_domain::webhooks::WebhookDeleted { webhook_id };
                self.emit(Event::WebhookDeleted(e));
            }
            Op::WebhookDelivered { webhook, count } => {
                if self.webhooks.is_empty() {
                    return;
                }
                let e = ipledger_domain::webhooks::WebhookDelivered {
                    webhook_id: self.webhooks[webhook.index(self.webhooks.len())],
                    delivered_to: self.events.len() as u64,
                    count: u64::from(*count),
                    delivered_at: self.now(),
                };
                self.emit(Event::WebhookDelivered(e));
            }
            Op::Routing(r) => routing_ops::interpret(self, r),
            Op::Requests(r) => request_ops::interpret(self, r),
            Op::Scaleway(o) => scaleway_ops::interpret(self, o),
            Op::Interfaces(i) => interface_ops::interpret(self, i),
            Op::Pools(p) => pool_ops::interpret(self, p),
            Op::Registrations(r) => registration_ops::interpret(self, r),
            _ => self.policy_rule(op),
        }
    }

    fn create_root(&mut self, v6: bool, host_bits: u8, lessor: bool, policy: Option<&Index>) {
        self.roots += 1;
        let n = self.roots;
        let cidr = if v6 {
            let base = Ipv6Addr::new(0xfe, n, 0, 0, 0, 0, 0, 0);
            IpNet::V6(Ipv6Net::new(base, 128 - host_bits).unwrap())
        } else {
            let base = Ipv4Addr::new(10, (n % 256) as u8, (n / 256) as u8, 0);
            IpNet::V4(Ipv4Net::new(base, 32 - host_bits.min(8)).unwrap())
        };
        let block_id = self.fresh_id();
        let e = BlockCreated {
            block_id,
            tenant_id: if lessor { "t1" } else { "t2" }.into(),
            cidr,
            block_type: BlockType::Private,
            network_id: None,
            policy_id: self.pick_policy(policy),
            gateway: block::default_gateway(&cidr),
            dns1: None,
            dns2: None,
            parent_id: None,
            created_at: self.now(),
            ipv6_generator: None,
        };
        self.emit(Event::BlockCreated(e));
    }

    /// A quarter of a parent that holds no address and has room for four quarters.
    fn create_subnet(&mut self, parent: &Index, quarter: u8) {
        if self.blocks.is_empty() {
            return;
        }
        let p = &self.blocks[parent.index(self.blocks.len())];
        if !p.used.is_empty() || block::host_bits(&p.cidr) < 2 {
            return;
        }
        let prefix = p.cidr.prefix_len() + 2;
        let start = block::address_at(&p.cidr, block::size(&p.cidr) / 4 * quarter as u128);
        let cidr = IpNet::new(start, prefix).unwrap();
        let taken = p.children.iter().any(|c| {
            self.block(*c)
                .is_some_and(|c| block::overlaps(&c.cidr, &cidr))
        });
        if taken {
            return;
        }
        let parent_id = p.id;
        let block_id = self.fresh_id();
        let e = BlockCreated {
            block_id,
            tenant_id: "t1".into(),
            cidr,
            block_type: BlockType::Private,
            network_id: None,
            policy_id: None,
            gateway: None,
            dns1: None,
            dns2: None,
            parent_id: Some(parent_id),
            created_at: self.now(),
            ipv6_generator: None,
        };
        let added = SubnetAdded {
            parent_id,
            block_id,
            cidr,
            created_at: e.created_at,
        };
        self.emit(Event::BlockCreated(e));
        self.emit(Event::SubnetAdded(added));
    }

    fn block(&self, id: Uuid) -> Option<&ModelBlock> {
        self.blocks.iter().find(|b| b.id == id)
    }

    /// Decision 6: only a block without subnets or live addresses, with its purges first.
    fn delete_block(&mut self, pick: &Index) {
        if self.blocks.is_empty() {
            return;
        }
        let b = self.blocks[pick.index(self.blocks.len())].clone();
        let busy = b.used.values().any(|deallocated| !deallocated) || !b.held.is_empty();
        if !b.children.is_empty() || busy {
            return;
        }
        let now = self.now();
        for offset in b.used.keys() {
            let address = block::address_at(&b.cidr, *offset);
            self.emit(Event::AddressPurged(AddressPurged {
                block_id: b.id,
                address,
                purged_at: now,
            }));
        }
        self.emit(Event::BlockDeleted(BlockDeleted {
            block_id: b.id,
            deleted_at: now,
        }));
    }

    /// A free, unheld address near `seed` (within the first 4096 offsets) of the picked
    /// block, if it has no subnets: (block id, address).
    fn free_address(&self, pick: &Index, seed: u64) -> Option<(Uuid, std::net::IpAddr)> {
        if self.blocks.is_empty() {
            return None;
        }
        let b = &self.blocks[pick.index(self.blocks.len())];
        if !b.children.is_empty() {
            return None;
        }
        let window = block::size(&b.cidr).min(1 << 12);
        let start = seed as u128 % window;
        let offset = (0..window)
            .map(|i| (start + i) % window)
            .find(|o| !b.used.contains_key(o) && !b.held.contains(o))?;
        Some((b.id, block::address_at(&b.cidr, offset)))
    }

    /// A free offset near `seed` in a block without subnets.
    fn allocate(&mut self, pick: &Index, seed: u64, lessee: bool) {
        let Some((block_id, address)) = self.free_address(pick, seed) else {
            return;
        };
        let address_id = self.fresh_id();
        let e = AddressAllocated {
            block_id,
            address_id,
            address,
            interface_id: Some(format!("vif-{address_id}")),
            used_by_tenant: if lessee { "t1" } else { "t2" }.into(),
            used_by_device: seed.is_multiple_of(3).then(|| "vm".to_string()),
            mac_address: None,
            allocated_at: self.now(),
        };
        self.emit(Event::AddressAllocated(e));
    }

    /// An event about an occupied address whose deallocated flag satisfies `wanted`.
    fn address_event(
        &mut self,
        pick: &Index,
        wanted: impl Fn(bool) -> bool,
        make: impl Fn(Uuid, std::net::IpAddr, DateTime<Utc>) -> Event,
    ) {
        let candidates: Vec<_> = self
            .occupied()
            .into_iter()
            .filter(|(_, _, d)| wanted(*d))
            .collect();
        if candidates.is_empty() {
            return;
        }
        let (b, offset, _) = candidates[pick.index(candidates.len())];
        let block = &self.blocks[b];
        let event = make(block.id, block::address_at(&block.cidr, offset), self.now());
        self.emit(event);
    }

    fn policy_rule(&mut self, op: &Op) {
        if self.policies.is_empty() {
            return;
        }
        let now = self.now();
        let pick = |i: &Index, n: usize| i.index(n);
        let event = match op {
            Op::UpdatePolicy { policy } => {
                let policy_id = self.policies[pick(policy, self.policies.len())].0;
                Event::PolicyUpdated(PolicyUpdated {
                    policy_id,
                    name: "renamed".into(),
                    description: Some("d".into()),
                    updated_at: now,
                })
            }
            Op::DeletePolicy { policy } => {
                let policy_id = self.policies[pick(policy, self.policies.len())].0;
                Event::PolicyDeleted(PolicyDeleted {
                    policy_id,
                    deleted_at: now,
                })
            }
            Op::CreateRange {
                policy,
                offset,
                length,
            } => {
                let policy_id = self.policies[pick(policy, self.policies.len())].0;
                let range_id = self.fresh_id();
                Event::UnusableRangeCreated(UnusableRangeCreated {
                    policy_id,
                    range_id,
                    offset: *offset,
                    length: *length,
                    created_at: now,
                })
            }
            Op::CreateOctet { policy, octet } => {
                let policy_id = self.policies[pick(policy, self.policies.len())].0;
                let octet_id = self.fresh_id();
                Event::UnusableOctetCreated(UnusableOctetCreated {
                    policy_id,
                    octet_id,
                    octet: *octet,
                    created_at: now,
                })
            }
            Op::UpdateRange {
                policy,
                range,
                offset,
            } => {
                let (policy_id, ranges, _) = &self.policies[pick(policy, self.policies.len())];
                let Some(range_id) =
                    (!ranges.is_empty()).then(|| ranges[pick(range, ranges.len())])
                else {
                    return;
                };
                Event::UnusableRangeUpdated(UnusableRangeUpdated {
                    policy_id: *policy_id,
                    range_id,
                    offset: *offset,
                    length: 2,
                    updated_at: now,
                })
            }
            Op::DeleteRange { policy, range } => {
                let (policy_id, ranges, _) = &self.policies[pick(policy, self.policies.len())];
                let Some(range_id) =
                    (!ranges.is_empty()).then(|| ranges[pick(range, ranges.len())])
                else {
                    return;
                };
                Event::UnusableRangeDeleted(UnusableRangeDeleted {
                    policy_id: *policy_id,
                    range_id,
                    deleted_at: now,
                })
            }
            Op::UpdateOctet {
                policy,
                octet_pick,
                octet,
            } => {
                let (policy_id, _, octets) = &self.policies[pick(policy, self.policies.len())];
                let Some(octet_id) =
                    (!octets.is_empty()).then(|| octets[pick(octet_pick, octets.len())])
                else {
                    return;
                };
                Event::UnusableOctetUpdated(UnusableOctetUpdated {
                    policy_id: *policy_id,
                    octet_id,
                    octet: *octet,
                    updated_at: now,
                })
            }
            Op::DeleteOctet { policy, octet_pick } => {
                let (policy_id, _, octets) = &self.policies[pick(policy, self.policies.len())];
                let Some(octet_id) =
                    (!octets.is_empty()).then(|| octets[pick(octet_pick, octets.len())])
                else {
                    return;
                };
                Event::UnusableOctetDeleted(UnusableOctetDeleted {
                    policy_id: *policy_id,
                    octet_id,
                    deleted_at: now,
                })
            }
            _ => unreachable!("not a policy operation: {op:?}"),
        };
        self.emit(event);
    }

    fn model_apply(&mut self, event: &Event) {
        match event {
            Event::BlockCreated(e) => {
                if let Some(parent) = self.blocks.iter_mut().find(|b| Some(b.id) == e.parent_id) {
                    parent.children.insert(e.block_id);
                }
                self.blocks.push(ModelBlock {
                    id: e.block_id,
                    cidr: e.cidr,
                    parent: e.parent_id,
                    policy: e.policy_id,
                    children: BTreeSet::new(),
                    used: BTreeMap::new(),
                    held: BTreeSet::new(),
                });
            }
            Event::SubnetAdded(_) | Event::BlockClaimed(_) => {}
            Event::BlockUpdated(e) => self.block_mut(e.block_id).policy = e.policy_id,
            Event::BlockDeleted(e) => {
                let gone = self
                    .blocks
                    .iter()
                    .position(|b| b.id == e.block_id)
                    .expect("deleted block exists");
                let gone = self.blocks.remove(gone);
                if let Some(parent) = gone.parent {
                    self.block_mut(parent).children.remove(&gone.id);
                }
            }
            Event::AddressAllocated(e) => {
                let b = self.block_mut(e.block_id);
                let offset = block::offset_of(&b.cidr, e.address).unwrap();
                assert!(
                    b.used.insert(offset, false).is_none(),
                    "the model allocated twice"
                );
            }
            Event::AddressDeallocated(e) => self.set_address(e.block_id, e.address, Some(true)),
            Event::AddressRestored(e) => self.set_address(e.block_id, e.address, Some(false)),
            Event::AddressPurged(e) => self.set_address(e.block_id, e.address, None),
            Event::PolicyCreated(e) => self.policies.push((e.policy_id, Vec::new(), Vec::new())),
            Event::PolicyDeleted(e) => {
                self.policies.retain(|(id, _, _)| *id != e.policy_id);
                for b in self
                    .blocks
                    .iter_mut()
                    .filter(|b| b.policy == Some(e.policy_id))
                {
                    b.policy = None;
                }
            }
            Event::UnusableRangeCreated(e) => self.policy_mut(e.policy_id).1.push(e.range_id),
            Event::UnusableRangeDeleted(e) => self
                .policy_mut(e.policy_id)
                .1
                .retain(|id| *id != e.range_id),
            Event::UnusableOctetCreated(e) => self.policy_mut(e.policy_id).2.push(e.octet_id),
            Event::UnusableOctetDeleted(e) => self
                .policy_mut(e.policy_id)
                .2
                .retain(|id| *id != e.octet_id),
            Event::PolicyUpdated(_)
            | Event::UnusableRangeUpdated(_)
            | Event::UnusableOctetUpdated(_)
            | Event::CommandRecorded(_)
            | Event::CommandForgotten(_)
            // Tokens touch no address state (`tokens.rs` has its own tests).
            | Event::TokenIssued(_)
            | Event::TokenRevoked(_) => {}
            // Interfaces, MACs and allowed IPs touch no address state (`interfaces.rs` has
            // its own fold tests).
            Event::InterfaceCreated(_)
            | Event::InterfaceDeleted(_)
            | Event::MacAddressAllocated(_)
            | Event::MacAddressReleased(_)
            | Event::MacRangeCreated(_)
            | Event::MacRangeDeleted(_)
            | Event::AllowedIpAdded(_)
            | Event::AllowedIpRemoved(_) => {}
            // A Scaleway IP's address is an ordinary allocation (modelled above); its own
            // events touch no address state (`scaleway.rs` has its own fold test).
            Event::ScalewayIpBooked(_)
            | Event::ScalewayIpUpdated(_)
            | Event::ScalewayIpAttached(_)
            | Event::ScalewayIpDetached(_)
            | Event::ScalewayIpReleased(_) => {}
            Event::RequestSubmitted(e) => {
                let b = self.block_mut(e.block_id);
                let offset = block::offset_of(&b.cidr, e.ip).unwrap();
                assert!(b.held.insert(offset), "the model held twice");
                self.held_offsets.insert(e.request_id, offset);
                self.requests.note_pending(e.request_id, e.block_id, offset);
            }
            Event::RequestApproved(e) => self.release_hold(e.block_id, e.request_id),
            Event::RequestRejected(e) => self.release_hold(e.block_id, e.request_id),
            Event::RequestExpired(e) => self.release_hold(e.block_id, e.request_id),
            Event::NotificationDelivered(_) => {}
            // Pool events hold no address themselves: the address or block of an allocation
            // is its own event, modelled above.
            Event::PoolCreated(_)
            | Event::PoolUpdated(_)
            | Event::PoolDeleted(_)
            | Event::PoolAllocated(_)
            | Event::PoolReleased(_) => {}
            // A registration's address is an ordinary allocation (modelled above); its own
            // events are modelled in `registration_ops`.
            Event::RegistrationCreated(_)
            | Event::RegistrationServiceSet(_)
            | Event::RegistrationSecretRotated(_)
            | Event::RegistrationServiceExpiring(_)
            | Event::RegistrationServiceRemoved(_)
            | Event::RegistrationReleased(_) => {}
            // Webhook endpoints touch no address state.
            Event::WebhookRegistered(_) | Event::WebhookDeleted(_) | Event::WebhookDelivered(_) => {}
            // Routes and NAT pairs are modelled in `routing_ops` (`self.routing`).
            Event::RouteCreated(_)
            | Event::RouteUpdated(_)
            | Event::RouteDeleted(_)
            | Event::NatAssigned(_)
            | Event::NatRemoved(_) => {}
        }
    }

    fn release_hold(&mut self, block_id: Uuid, request_id: Uuid) {
        let offset = self.held_offsets.remove(&request_id).expect("held request");
        self.block_mut(block_id).held.remove(&offset);
    }

    fn block_mut(&mut self, id: Uuid) -> &mut ModelBlock {
        self.blocks
            .iter_mut()
            .find(|b| b.id == id)
            .expect("the model knows the block")
    }

    fn policy_mut(&mut self, id: Uuid) -> &mut (Uuid, Vec<Uuid>, Vec<Uuid>) {
        self.policies
            .iter_mut()
            .find(|p| p.0 == id)
            .expect("the model knows the policy")
    }

    /// Marks an occupied address deallocated or live, or (None) frees it.
    fn set_address(
        &mut self,
        block_id: Uuid,
        address: std::net::IpAddr,
        deallocated: Option<bool>,
    ) {
        let b = self.block_mut(block_id);
        let offset = block::offset_of(&b.cidr, address).unwrap();
        match deallocated {
            Some(flag) => *b.used.get_mut(&offset).expect("the address is occupied") = flag,
            None => {
                b.used.remove(&offset).expect("the address is occupied");
            }
        }
    }
}

/// A valid log from random operations: the events in envelopes with consecutive positions
/// and per-stream versions, plus the model of what they say.
fn log(ops: &[Op]) -> (Vec<Envelope>, Model) {
    let mut model = Model::default();
    for op in ops {
        model.interpret(op);
    }
    let mut versions: HashMap<String, u64> = HashMap::new();
    let envelopes = model
        .events
        .iter()
        .enumerate()
        .map(|(position, event)| {
            let stream = event.stream();
            let version = versions.get(&stream).map_or(0, |v| v + 1);
            versions.insert(stream.clone(), version);
            Envelope {
                position: position as u64,
                stream,
                version,
                event_id: Uuid::from_u128(1 << 100 | position as u128),
                recorded_at: at(position),
                actor: "prop".into(),
                correlation_id: None,
                idempotency_key: None,
                event: event.clone(),
            }
        })
        .collect();
    (envelopes, model)
}

fn rebuild(envelopes: &[Envelope]) -> State {
    let mut state = State::default();
    for envelope in envelopes {
        state.apply(envelope);
    }
    state
}

/// Chunk boundaries: sorted, distinct cut positions in `0..=len`.
fn cuts(picks: &[Index], len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = picks.iter().map(|p| p.index(len + 1)).collect();
    cuts.push(len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 0..120)
}

/// The folded state says what the model says.
fn check_against_model(state: &State, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(state.blocks.len(), model.blocks.len());
    let mut live = 0;
    for m in &model.blocks {
        let b = state
            .blocks
            .get(&m.id)
            .ok_or_else(|| TestCaseError::fail(format!("block {} missing", m.id)))?;
        prop_assert_eq!(b.record.cidr, m.cidr);
        prop_assert_eq!(b.record.parent_id, m.parent);
        prop_assert_eq!(b.record.policy_id, m.policy);
        prop_assert_eq!(&b.children, &imbl::OrdSet::from(&m.children));
        prop_assert_eq!(
            b.by_offset.keys().copied().collect::<Vec<_>>(),
            m.used.keys().copied().collect::<Vec<_>>()
        );
        prop_assert_eq!(b.free.used_count(), (m.used.len() + m.held.len()) as u128);
        prop_assert_eq!(
            &b.ids,
            &b.by_offset.values().copied().collect::<imbl::OrdSet<_>>()
        );
        for (offset, deallocated) in &m.used {
            prop_assert!(b.free.is_used(*offset));
            let record = &state.addresses[&b.by_offset[offset]];
            prop_assert_eq!(record.deallocated_at.is_some(), *deallocated);
            prop_assert_eq!(state.live_addresses.contains(&record.id), !*deallocated);
        }
        let deallocated = m.used.values().filter(|d| **d).count();
        prop_assert_eq!(b.deallocated, deallocated);
        live += m.used.len() - deallocated;
    }
    prop_assert_eq!(
        state.addresses.len(),
        model.blocks.iter().map(|b| b.used.len()).sum::<usize>()
    );
    prop_assert_eq!(state.live_addresses.len(), live);
    prop_assert_eq!(state.live_by_tenant.len(), live);
    let on_devices = state
        .addresses
        .values()
        .filter(|r| r.deallocated_at.is_none() && r.used_by_device.is_some());
    prop_assert_eq!(state.live_by_device.len(), on_devices.count());
    prop_assert_eq!(state.policies.len(), model.policies.len());
    for (id, ranges, octets) in &model.policies {
        let p = &state.policies[id];
        prop_assert_eq!(
            p.ranges.keys().copied().collect::<BTreeSet<_>>(),
            ranges.iter().copied().collect::<BTreeSet<_>>()
        );
        prop_assert_eq!(
            p.octets.keys().copied().collect::<BTreeSet<_>>(),
            octets.iter().copied().collect::<BTreeSet<_>>()
        );
    }
    prop_assert_eq!(state.blocks_by_tenant.len(), state.blocks.len());
    prop_assert_eq!(state.policies_by_tenant.len(), state.policies.len());
    routing_ops::check(state, model)?;
    interface_ops::check(state, model)?;
    request_ops::check(state, model)?;
    scaleway_ops::check(state, model)?;
    pool_ops::check(state, model)?;
    registration_ops::check(state, model)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Folding in chunks, each chunk continuing from a copy of the state the previous one
    /// left (a published view, a snapshot), equals a rebuild from position 0.
    #[test]
    fn folding_in_chunks_equals_a_rebuild(ops in ops(), picks in proptest::collection::vec(any::<Index>(), 0..6)) {
        let (envelopes, model) = log(&ops);
        let rebuilt = rebuild(&envelopes);
        let mut state = State::default();
        let mut from = 0;
        for cut in cuts(&picks, envelopes.len()) {
            let mut continued = state.clone();
            for envelope in &envelopes[from..cut] {
                continued.apply(envelope);
            }
            prop_assert_eq!(continued.next_position, cut as u64);
            state = continued;
            from = cut;
        }
        prop_assert_eq!(&state, &rebuilt);
        prop_assert_eq!(rebuilt.next_position, envelopes.len() as u64);
        check_against_model(&rebuilt, &model)?;
    }

    /// The writer folds events with `apply_event` and sets the log bookkeeping itself once
    /// the batch is durable; that must give the state the readers' `apply` gives.
    #[test]
    fn the_writers_fold_equals_the_readers(ops in ops()) {
        let (envelopes, _) = log(&ops);
        let mut writer = State::default();
        for envelope in &envelopes {
            writer.apply_event(&envelope.event);
        }
        for envelope in &envelopes {
            writer.stream_versions.insert(envelope.stream.clone(), envelope.version);
            writer.next_position = envelope.position + 1;
        }
        prop_assert_eq!(&writer, &rebuild(&envelopes));
    }

    /// Folding the same log twice gives the same state at every step.
    #[test]
    fn folding_is_deterministic(ops in ops()) {
        let (envelopes, _) = log(&ops);
        let (mut a, mut b) = (State::default(), State::default());
        for envelope in &envelopes {
            a.apply(envelope);
            b.apply(envelope);
            prop_assert_eq!(&a, &b);
        }
    }
}

/// The generator must reach the interesting events, or the properties above prove little.
#[test]
fn the_generated_logs_cover_every_kind_of_event() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        let ops = ops().new_tree(&mut runner).unwrap().current();
        let (envelopes, _) = log(&ops);
        seen.extend(envelopes.iter().map(|e| e.event.type_name()));
    }
    let all: BTreeSet<&str> = ipledger_domain::events::EVENT_TYPES
        .iter()
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(seen, all);
}
