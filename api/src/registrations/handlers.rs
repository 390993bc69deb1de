//! The registration handlers. Register and delete answer the original's
//! `{"message", "address", "cluster_id"}` (200); the views answer JSON of their own. No
//! answer, view or history entry carries a secret or its digest.

use std::net::IpAddr;

use ipledger_commands::{Command, ExpireService, Register, RegistrationCommand};
use ipledger_domain::events::*;
use ipledger_domain::limits::EVENTS_PAGE_MAX;
use ipledger_domain::records::Reply;
use ipledger_domain::registrations::{
    registration_stream, RegisteredService, RegistrationRecord, ServiceKey,
};
use ipledger_domain::Event;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::fault::Fault;
use crate::kit::wire::timestamp;
use crate::kit::{Answer, Call, Resp};
use crate::registrations::{body, wire};
use ipledger_commands::Meta;

/// Sends a registration command without an idempotency record: an `Idempotency-Key`'s
/// fingerprint is a plain SHA-256 of the body, which holds the secret, and it would be kept
/// in the log (a guessable secret could be found from it offline). The routes need none:
/// registering or deleting again with the same body changes nothing more.
pub(crate) async fn submit(c: &Call<'_>, command: Command) -> Result<Reply, Fault> {
    let meta = Meta {
        actor: c.req.actor.clone(),
        correlation_id: c.req.header("x-correlation-id").map(str::to_string),
        idempotency: None,
    };
    Ok(c.app.writer.submit(command, meta).await?)
}

pub(crate) fn host(address: IpAddr) -> String {
    let bits = if address.is_ipv6() { 128 } else { 32 };
    format!("{address}/{bits}")
}

fn answer(message: &'static str, address: IpAddr, cluster: Uuid) -> Answer {
    Ok(Resp::ok(json!(wire::Registered {
        message,
        address: host(address),
        cluster_id: cluster,
    })))
}

/// `POST /` and `POST /v2/address`: register or update (appendix A cases 1–4).
#[utoipa::path(post, path = "/", tag = "registrations", request_body = body::RegistrationBody,
    responses((status = 200, description = "`address registered` or `address updated`", body = wire::Registered)))]
pub async fn register(c: Call<'_>) -> Answer {
    let b = body::check(body::parse(c.req)?, false)?;
    let key = crate::registrations::key::of(&c.app.auth.registration_key)?;
    let cluster = b.service.cluster_id;
    let command = Command::Registration(RegistrationCommand::Register(Register {
        zone: b.zone,
        ipv6: b.ipv6,
        address: b.address,
        secret_digest: key.digest(&b.secret),
        new_secret_digest: b.new_secret.as_deref().map(|s| key.digest(s)),
        service: b.service,
    }));
    match submit(&c, command).await? {
        Reply::Registration { record, created } => {
            let message = if created {
                "address registered"
            } else {
                "address updated"
            };
            answer(message, record.address, cluster)
        }
        other => Err(Fault::unexpected_reply("a registration", &other)),
    }
}

/// `DELETE /` and `DELETE /v2/service`: the service expires after its retention.
#[utoipa::path(post, path = "/v2/address", tag = "registrations", request_body = body::RegistrationBody,
    responses((status = 200, description = "`address registered` or `address updated`", body = wire::Registered)))]
pub async fn register_v2(c: Call<'_>) -> Answer {
    register(c).await
}

#[utoipa::path(delete, path = "/v2/service", tag = "registrations", request_body = body::RegistrationBody,
    responses((status = 200, description = "`service expiry set`", body = wire::Registered)))]
pub async fn expire_v2(c: Call<'_>) -> Answer {
    expire(c).await
}

#[utoipa::path(delete, path = "/", tag = "registrations", request_body = body::RegistrationBody,
    responses((status = 200, description = "`service expiry set`", body = wire::Registered)))]
pub async fn expire(c: Call<'_>) -> Answer {
    let b = body::check(body::parse(c.req)?, true)?;
    let Some(address) = b.address else {
        return Err(Fault::invalid_field("address", "address is required"));
    };
    let cluster = b.service.cluster_id;
    let command = Command::Registration(RegistrationCommand::Expire(ExpireService {
        zone: b.zone,
        ipv6: b.ipv6,
        address,
        secret_digest: crate::registrations::key::of(&c.app.auth.registration_key)?
            .digest(&b.secret),
        service: b.service,
    }));
    match submit(&c, command).await? {
        Reply::Registration { record, .. } => answer("service expiry set", record.address, cluster),
        other => Err(Fault::unexpected_reply("a registration command", &other)),
    }
}

/// `POST /v1/registrations/clusters/{cluster}/expire` (admins): every service of the cluster
/// expires now, except `deny_external_cleanup` ones, which are listed as skipped.
#[utoipa::path(post, path = "/v1/registrations/clusters/{cluster}/expire", tag = "registrations",
    responses((status = 200, description = "The cluster's services given an expiry, and those skipped", body = wire::Sweep)))]
pub async fn expire_cluster(c: Call<'_>) -> Answer {
    let cluster = Uuid::parse_str(c.param("cluster"))
        .map_err(|_| Fault::invalid_field("cluster", "cluster should be a UUID"))?;
    let command = Command::Registration(RegistrationCommand::ExpireCluster {
        cluster_id: cluster,
    });
    sweep_answer(submit(&c, command).await?)
}

/// `{"expired": [...], "skipped": [...]}` of a cluster or admin delete.
pub(crate) fn sweep_answer(reply: Reply) -> Answer {
    let Reply::ClusterExpired { expired, skipped } = reply else {
        return Err(Fault::unexpected_reply("a registration sweep", &reply));
    };
    let show = |list: &[(String, IpAddr, ServiceKey)]| -> Vec<wire::SweptService> {
        list.iter()
            .map(|(zone, address, k)| wire::SweptService {
                zone: zone.clone(),
                address: host(*address),
                service_name: k.service_name.clone(),
                namespace_id: k.namespace_id,
                cluster_id: k.cluster_id,
            })
            .collect()
    };
    Ok(Resp::ok(json!(wire::Sweep {
        expired: show(&expired),
        skipped: show(&skipped),
    })))
}

fn service_json(s: &RegisteredService) -> wire::Service {
    wire::Service {
        service_name: s.service_name.clone(),
        namespace_id: s.namespace_id,
        cluster_id: s.cluster_id,
        retention_period_days: s.retention_period_days,
        deny_external_cleanup: s.deny_external_cleanup,
        expires_at: s.expires_at.as_ref().map(timestamp),
    }
}

/// A registration as the views show it: everything but the secret's digest.
fn registration_json(r: &RegistrationRecord) -> wire::Registration {
    wire::Registration {
        zone: r.zone.clone(),
        address: host(r.address),
        ip_family: r.family(),
        block_id: r.block_id,
        pool_id: r.pool_id,
        services: r.services.iter().map(service_json).collect(),
        created_at: timestamp(&r.created_at),
        updated_at: timestamp(&r.updated_at),
    }
}

/// `GET /v1/zones`: zone names with, per family, the addresses and how many are free.
#[utoipa::path(get, path = "/v1/zones", tag = "registrations",
    responses((status = 200, description = "Zones of the address pools, per family", body = wire::Zones)))]
pub async fn zones(c: Call<'_>) -> Answer {
    let zones = c.views().zones();
    let zones = zones
        .iter()
        .map(|(name, families)| wire::Zone {
            zone: name.clone(),
            families: families
                .iter()
                .map(|f| wire::ZoneFamily {
                    ip_family: f.family,
                    total: f.total.to_string(),
                    free: f.free.to_string(),
                })
                .collect(),
        })
        .collect();
    Ok(Resp::ok(json!(wire::Zones { zones })))
}

/// An address from a query or path: bare, or a CIDR of one host.
/// The registrations list's filters ([`list`] reads them; `limit` as every page's).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a schema: what `list` reads
pub struct ListParams {
    zone: Option<String>,
    /// An address, bare or as a host prefix.
    address: Option<String>,
    /// A UUID.
    cluster_id: Option<String>,
    /// At most this many (1 to 1000).
    #[param(minimum = 1)]
    limit: Option<u64>,
}

pub(crate) fn address_of(text: &str) -> Result<IpAddr, Fault> {
    let bare = text
        .strip_suffix("/32")
        .or_else(|| text.strip_suffix("/128"))
        .unwrap_or(text);
    bare.parse()
        .map_err(|_| Fault::invalid_field("address", "address should be an IP address"))
}

/// `GET /v1/registrations?zone=&address=&cluster_id=&limit=`.
#[utoipa::path(get, path = "/v1/registrations", tag = "registrations", params(ListParams),
    responses((status = 200, description = "Registrations", body = wire::Registrations)))]
pub async fn list(c: Call<'_>) -> Answer {
    let q = &c.req.query;
    let zone = q.get("zone").map(String::as_str).filter(|z| !z.is_empty());
    let address = q
        .get("address")
        .filter(|a| !a.is_empty())
        .map(|a| address_of(a))
        .transpose()?;
    let cluster = q
        .get("cluster_id")
        .filter(|a| !a.is_empty())
        .map(|t| {
            Uuid::parse_str(t)
                .map_err(|_| Fault::invalid_field("cluster_id", "cluster_id should be a UUID"))
        })
        .transpose()?;
    let limit = c.req.page()?.limit;
    let views = c.views();
    let registrations = views
        .registrations_where(zone, address, cluster, limit)
        .into_iter()
        .map(registration_json)
        .collect();
    Ok(Resp::ok(json!(wire::Registrations { registrations })))
}

/// What one event of a registration's stream says, without secrets or digests.
fn history_entry(event: &Event) -> Value {
    let key = |k: &ServiceKey| json!({"service_name": k.service_name, "namespace_id": k.namespace_id, "cluster_id": k.cluster_id});
    match event {
        Event::RegistrationCreated(e) => {
            json!({"kind": "registered", "service": service_json(&e.service), "block_id": e.block_id, "pool_id": e.pool_id})
        }
        Event::RegistrationServiceSet(e) => {
            json!({"kind": "service_set", "service": service_json(&e.service)})
        }
        Event::RegistrationSecretRotated(_) => json!({"kind": "secret_rotated"}),
        Event::RegistrationServiceExpiring(e) => {
            json!({"kind": "expiry_set", "service": key(&e.service), "cause": e.cause, "expires_at": timestamp(&e.expires_at)})
        }
        Event::RegistrationServiceRemoved(e) => {
            json!({"kind": "service_removed", "service": key(&e.service)})
        }
        Event::RegistrationReleased(RegistrationReleased { block_id, .. }) => {
            json!({"kind": "released", "block_id": block_id})
        }
        other => json!({"kind": other.type_name()}),
    }
}

/// `GET /v1/registrations/{zone}/{address}/history?from=&limit=`: every event of the
/// (zone, address) stream, oldest first, with its time and actor.
#[utoipa::path(get, path = "/v1/registrations/{zone}/{address}/history", tag = "registrations", params(("from" = Option<u64>, Query, minimum = 0, description = "The first version"), ("limit" = Option<u64>, Query, minimum = 0)),
    responses((status = 200, description = "The registration's events, oldest first", body = wire::History)))]
pub async fn history(c: Call<'_>) -> Answer {
    let zone = c.param("zone");
    let address = address_of(c.param("address"))?;
    let from = c.req.number("from", 0)?;
    let limit = (c.req.number("limit", EVENTS_PAGE_MAX as u64)? as usize).clamp(1, EVENTS_PAGE_MAX);
    let events = c
        .app
        .store
        .read_stream(&registration_stream(zone, address), from, limit)
        .await
        .map_err(|e| Fault::unavailable(e.to_string()))?;
    let list: Vec<Value> = events
        .iter()
        .map(|e| {
            let mut entry = history_entry(&e.event);
            entry["version"] = json!(e.version);
            entry["at"] = json!(timestamp(&e.recorded_at));
            entry["actor"] = json!(e.actor);
            entry
        })
        .collect();
    Ok(Resp::ok(json!(wire::History {
        zone: zone.to_string(),
        address: host(address),
        history: list,
    })))
}
