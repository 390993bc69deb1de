//! Payloads of old event versions and their upcasters to the current version. Each old
//! version keeps a frozen struct here forever; it reads only what the upcast needs, so the
//! old bytes keep decoding whatever the current domain types become.

use ipledger_domain::events::CommandRecorded;
use ipledger_domain::records::Receipt;
use serde::Deserialize;
use uuid::Uuid;

/// `CommandRecorded` version 1 kept the whole reply (records in the shapes of the day);
/// version 2 keeps a [`Receipt`] of ids. Only the ids are read from the old reply.
#[derive(Debug, Deserialize)]
pub(super) struct CommandRecordedV1 {
    key: String,
    fingerprint: String,
    reply: ReplyV1,
    #[serde(with = "ipledger_domain::time_format")]
    recorded_at: ipledger_domain::Timestamp,
}

/// Version 1's reply, as MessagePack wrote it (externally tagged enum, records as maps
/// with field names): every variant reduced to the ids a receipt needs. Unknown fields of
/// the old records are skipped.
#[derive(Debug, Deserialize)]
enum ReplyV1 {
    Done,
    Block(Id),
    Address(Id),
    Policy(Id),
    Range(RuleV1),
    Octet(RuleV1),
    Interface(InterfaceViewV1),
    Interfaces(Vec<InterfaceViewV1>),
    IpConfigurations(Vec<IpConfigurationV1>),
    MacRange(Id),
    Token(Id),
    Route(RouteV1),
    Purged(u64),
    Request(Id),
}

#[derive(Debug, Deserialize)]
struct Id {
    id: Uuid,
}

#[derive(Debug, Deserialize)]
struct RuleV1 {
    id: Uuid,
    policy_id: Uuid,
}

#[derive(Debug, Deserialize)]
struct RouteV1 {
    id: Uuid,
    block_id: Uuid,
}

#[derive(Debug, Deserialize)]
struct VifV1 {
    vif: String,
}

#[derive(Debug, Deserialize)]
struct InterfaceViewV1 {
    interface: VifV1,
}

#[derive(Debug, Deserialize)]
struct IpConfigurationV1 {
    address: Id,
}

impl From<ReplyV1> for Receipt {
    fn from(reply: ReplyV1) -> Receipt {
        match reply {
            ReplyV1::Done => Receipt::Done,
            ReplyV1::Block(b) => Receipt::Block(b.id),
            ReplyV1::Address(a) => Receipt::Address(a.id),
            ReplyV1::Policy(p) => Receipt::Policy(p.id),
            ReplyV1::Range(r) => Receipt::Range {
                policy_id: r.policy_id,
                range_id: r.id,
            },
            ReplyV1::Octet(o) => Receipt::Octet {
                policy_id: o.policy_id,
                octet_id: o.id,
            },
            ReplyV1::Interface(v) => Receipt::Interface(v.interface.vif),
            ReplyV1::Interfaces(vs) => {
                Receipt::Interfaces(vs.into_iter().map(|v| v.interface.vif).collect())
            }
            ReplyV1::IpConfigurations(cs) => {
                Receipt::IpConfigurations(cs.into_iter().map(|c| c.address.id).collect())
            }
            ReplyV1::MacRange(r) => Receipt::MacRange(r.id),
            ReplyV1::Token(t) => Receipt::Token(t.id),
            ReplyV1::Route(r) => Receipt::Route {
                block_id: r.block_id,
                route_id: r.id,
            },
            ReplyV1::Purged(n) => Receipt::Purged(n),
            ReplyV1::Request(r) => Receipt::Request(r.id),
        }
    }
}

impl From<CommandRecordedV1> for CommandRecorded {
    fn from(v1: CommandRecordedV1) -> CommandRecorded {
        CommandRecorded {
            key: v1.key,
            fingerprint: v1.fingerprint,
            receipt: v1.reply.into(),
            recorded_at: v1.recorded_at,
        }
    }
}
