//! The Melange v0.1 routes (seed 004), route for route: paths, verbs, status codes and JSON
//! shapes of the spec, with ipledger's decisions where the spec is vague.

use std::net::IpAddr;

use ipledger_commands::{AllocateAddress, Command, CreateBlock, Meta, UpdateBlock};
use ipledger_domain::block::parse_address;
use ipledger_domain::records::BlockType;
use ipledger_projections::{BlockState, PolicyState, State};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use warp::http::{Method, StatusCode};

use crate::app::App;
use crate::body::{self, integer};
use crate::fault::Fault;
use crate::request::Request;
use crate::wire;

/// A handler's answer before it is encoded.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Option<Value>,
}

impl Resp {
    pub fn ok(body: Value) -> Self {
        Resp {
            status: StatusCode::OK,
            body: Some(body),
        }
    }
}

pub type Answer = Result<Resp, Fault>;

pub fn method_not_allowed() -> Fault {
    Fault::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed on this resource",
    )
}

/// Idempotency-Key header limits: printable ASCII, at most this many bytes.
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 255;

/// The command's metadata: who asks, and the idempotency key with the request fingerprint.
pub fn meta(req: &Request, actor: &str) -> Result<Meta, Fault> {
    let idempotency = match req.header("idempotency-key") {
        None => None,
        Some(key) if key.is_empty() || key.len() > IDEMPOTENCY_KEY_BYTES_MAX || !key.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(Fault::bad_request(format!(
                "Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_BYTES_MAX} printable ASCII characters"
            )))
        }
        Some(key) => {
            let mut h = Sha256::new();
            h.update(req.method.as_str().as_bytes());
            h.update(b" ");
            h.update(req.path.as_bytes());
            h.update(b"\n");
            h.update(&req.body);
            Some((format!("{actor}:{key}"), hex::encode(h.finalize())))
        }
    };
    let correlation_id = req.header("x-correlation-id").map(str::to_string);
    Ok(Meta {
        actor: actor.to_string(),
        correlation_id,
        idempotency,
    })
}

/// Sends a command and renders its reply under `key` with `status`.
pub async fn exec(
    app: &App,
    req: &Request,
    command: Command,
    key: &str,
    status: StatusCode,
) -> Answer {
    let meta = meta(req, &req.actor)?;
    let reply = app.writer.submit(command, meta).await?;
    Ok(Resp {
        status,
        body: wire::reply(key, &reply),
    })
}

fn uuid_or(text: &str, model: &str) -> Result<Uuid, Fault> {
    Uuid::parse_str(text).map_err(|_| Fault::not_found(format!("{model} Not Found")))
}

fn address_param(text: &str) -> Result<IpAddr, Fault> {
    parse_address(text)
        .ok_or_else(|| Fault::invalid_field("address", format!("{text} is not a valid IP address")))
}

fn block_in<'a>(v: &'a State, tenant: &str, id: &str) -> Result<&'a BlockState, Fault> {
    let id = uuid_or(id, "IpBlock")?;
    v.block_of(tenant, id)
        .ok_or_else(|| Fault::not_found("IpBlock Not Found"))
}

fn policy_in<'a>(v: &'a State, tenant: &str, id: &str) -> Result<&'a PolicyState, Fault> {
    let id = uuid_or(id, "Policy")?;
    v.policy_of(tenant, id)
        .ok_or_else(|| Fault::not_found("Policy Not Found"))
}

pub async fn ipam(app: &App, req: &Request, rest: &[&str]) -> Answer {
    let m = &req.method;
    match rest {
        ["tenants", t, "ip_blocks"] => match *m {
            Method::GET => list_blocks(app, req, t),
            Method::POST => create_block(app, req, t, None).await,
            _ => Err(method_not_allowed()),
        },
        ["tenants", t, "ip_blocks", b] => match *m {
            Method::GET => show_block(app, t, b),
            Method::PUT => update_block(app, req, t, b).await,
            Method::DELETE => delete_block(app, req, t, b).await,
            _ => Err(method_not_allowed()),
        },
        ["tenants", t, "ip_blocks", b, "subnets"] => match *m {
            Method::GET => list_subnets(app, t, b),
            Method::POST => create_block(app, req, t, Some(b)).await,
            _ => Err(method_not_allowed()),
        },
        ["tenants", t, "ip_blocks", b, "ip_addresses"] => match *m {
            Method::GET => list_addresses(app, req, t, b),
            Method::POST => allocate(app, req, t, b).await,
            _ => Err(method_not_allowed()),
        },
        ["tenants", t, "ip_blocks", b, "ip_addresses", a] => match *m {
            Method::GET => show_address(app, t, b, a),
            Method::DELETE => address_command(app, req, t, b, a, false).await,
            _ => Err(method_not_allowed()),
        },
        ["tenants", t, "ip_blocks", b, "ip_addresses", a, "restore"] => match *m {
            Method::PUT => address_command(app, req, t, b, a, true).await,
            _ => Err(method_not_allowed()),
        },
        ["tenants", t, "allocated_ip_addresses"] => get_only(m, || allocated(app, req, Some(t))),
        ["allocated_ip_addresses"] => get_only(m, || allocated(app, req, None)),
        ["tenants", t, "ip_blocks", b, "ip_routes", rest @ ..] => {
            crate::melange_routes::route(app, req, t, b, rest).await
        }
        ["ip_blocks", b, "ip_addresses", a, side @ ("inside_globals" | "inside_locals"), rest @ ..] => {
            crate::melange_nat::route(app, req, None, [b, a, side], rest).await
        }
        ["tenants", t, "ip_blocks", b, "ip_addresses", a, side @ ("inside_globals" | "inside_locals"), rest @ ..] => {
            crate::melange_nat::route(app, req, Some(t), [b, a, side], rest).await
        }
        ["tenants", t, "policies", rest @ ..] => {
            crate::melange_policies::route(app, req, t, rest).await
        }
        // Interfaces, instance interfaces, network allocations, MAC ranges.
        ["interfaces", rest @ ..] => crate::melange_interfaces::admin(app, req, rest).await,
        ["tenants", t, "interfaces", rest @ ..] => {
            crate::melange_interfaces::tenant(app, req, t, rest).await
        }
        ["tenants", t, "networks", n, "interfaces", rest @ ..] => {
            crate::melange_networks::route(app, req, t, n, rest).await
        }
        ["instances", d, "interfaces", rest @ ..] => {
            crate::melange_instances::route(app, req, d, rest).await
        }
        // The spec writes this one route with a singular `instance` (seed 004, "Deallocate all
        // IpAddresses on an Interface"); the route table admits only its DELETE.
        ["instance", d, "interfaces", vif, "ip_addresses"] => {
            crate::melange_instances::route(app, req, d, &[vif, "ip_addresses"]).await
        }
        ["mac_address_ranges", rest @ ..] => crate::melange_macs::route(app, req, rest).await,
        _ => Err(Fault::not_found("The resource could not be found.")),
    }
}

pub fn get_only(m: &Method, f: impl FnOnce() -> Answer) -> Answer {
    if *m == Method::GET {
        f()
    } else {
        Err(method_not_allowed())
    }
}

fn list_blocks(app: &App, req: &Request, tenant: &str) -> Answer {
    let kind = match req.query.get("type").map(String::as_str) {
        None | Some("") => None,
        Some(t) => Some(BlockType::parse(t).ok_or_else(|| {
            Fault::invalid_field("type", "type should be one among public, private")
        })?),
    };
    let page = req.page()?;
    let v = app.writer.views().read();
    let listed = v.list_blocks(tenant, kind, page);
    Ok(Resp::ok(wire::collection(req, "ip_blocks", listed, |b| {
        wire::block(b)
    })))
}

fn show_block(app: &App, tenant: &str, id: &str) -> Answer {
    let v = app.writer.views().read();
    let b = block_in(&v, tenant, id)?;
    Ok(Resp::ok(json!({"ip_block": wire::block(&b.record)})))
}

fn list_subnets(app: &App, tenant: &str, id: &str) -> Answer {
    let v = app.writer.views().read();
    let b = block_in(&v, tenant, id)?;
    let subnets: Vec<Value> = v.subnets(b).into_iter().map(wire::block).collect();
    Ok(Resp::ok(json!({ "subnets": subnets })))
}

async fn create_block(app: &App, req: &Request, tenant: &str, parent: Option<&str>) -> Answer {
    let parent_id = parent.map(|p| uuid_or(p, "IpBlock")).transpose()?;
    let (body, key) = if parent_id.is_some() {
        let env: body::SubnetEnvelope = body::required(req, "subnet")?;
        (
            env.subnet
                .or(env.ip_block)
                .ok_or_else(|| body::missing("subnet"))?,
            "subnet",
        )
    } else {
        (
            body::required::<body::BlockEnvelope>(req, "ip_block")?.ip_block,
            "ip_block",
        )
    };
    let command = Command::CreateBlock(CreateBlock {
        tenant: tenant.to_string(),
        parent_id,
        cidr: body.cidr,
        block_type: body.block_type,
        network_id: body.network_id,
        policy_id: body.policy_id,
        gateway: body.gateway,
        dns1: body.dns1,
        dns2: body.dns2,
        subnet_tenant: if parent_id.is_some() {
            body.tenant_id
        } else {
            None
        },
        ipv6_generator: body.ipv6_generator,
    });
    exec(app, req, command, key, StatusCode::CREATED).await
}

async fn update_block(app: &App, req: &Request, tenant: &str, id: &str) -> Answer {
    let block_id = uuid_or(id, "IpBlock")?;
    let body = body::required::<body::BlockUpdateEnvelope>(req, "ip_block")?.ip_block;
    let command = Command::UpdateBlock(UpdateBlock {
        tenant: tenant.to_string(),
        block_id,
        block_type: body.block_type,
        network_id: body.network_id,
        policy_id: body.policy_id,
        gateway: body.gateway,
        dns1: body.dns1,
        dns2: body.dns2,
        ipv6_generator: body.ipv6_generator,
    });
    exec(app, req, command, "ip_block", StatusCode::OK).await
}

async fn delete_block(app: &App, req: &Request, tenant: &str, id: &str) -> Answer {
    let block_id = uuid_or(id, "IpBlock")?;
    let command = Command::DeleteBlock {
        tenant: tenant.to_string(),
        block_id,
    };
    exec(app, req, command, "ip_block", StatusCode::OK).await
}

fn list_addresses(app: &App, req: &Request, tenant: &str, id: &str) -> Answer {
    let page = req.page()?;
    let v = app.writer.views().read();
    let b = block_in(&v, tenant, id)?;
    let listed = v.block_addresses(b, page);
    Ok(Resp::ok(wire::collection(
        req,
        "ip_addresses",
        listed,
        |a| wire::address(a),
    )))
}

fn show_address(app: &App, tenant: &str, id: &str, address: &str) -> Answer {
    let v = app.writer.views().read();
    let b = block_in(&v, tenant, id)?;
    let addr = address_param(address)?;
    let a = v
        .address_in(b, addr)
        .ok_or_else(|| Fault::not_found("IpAddress Not Found"))?;
    Ok(Resp::ok(json!({"ip_address": wire::address(a)})))
}

async fn allocate(app: &App, req: &Request, tenant: &str, id: &str) -> Answer {
    let block_id = uuid_or(id, "IpBlock")?;
    let body = body::parse::<body::AddressEnvelope>(req)?
        .and_then(|e| e.ip_address)
        .unwrap_or_default();
    let address = body
        .address
        .as_deref()
        .filter(|a| !a.trim().is_empty())
        .map(address_param)
        .transpose()?;
    let command = Command::AllocateAddress(AllocateAddress {
        tenant: tenant.to_string(),
        block_id,
        address,
        interface_id: body.interface_id,
        used_by_tenant: body.tenant_id,
        used_by_device: body.used_by_device,
        mac_address: body.mac_address,
    });
    exec(app, req, command, "ip_address", StatusCode::CREATED).await
}

async fn address_command(
    app: &App,
    req: &Request,
    tenant: &str,
    id: &str,
    address: &str,
    restore: bool,
) -> Answer {
    let block_id = uuid_or(id, "IpBlock")?;
    let address = address_param(address)?;
    let tenant = tenant.to_string();
    let command = if restore {
        Command::RestoreAddress {
            tenant,
            block_id,
            address,
        }
    } else {
        Command::DeallocateAddress {
            tenant,
            block_id,
            address,
        }
    };
    exec(app, req, command, "ip_address", StatusCode::OK).await
}

fn allocated(app: &App, req: &Request, tenant: Option<&str>) -> Answer {
    let page = req.page()?;
    let device = req.query.get("used_by_device").map(String::as_str);
    let v = app.writer.views().read();
    let listed = v.allocated_addresses(tenant, device, page);
    Ok(Resp::ok(wire::collection(
        req,
        "ip_addresses",
        listed,
        |a| wire::address(a),
    )))
}

/// An integer field of a range or octet body, with Melange's messages.
pub fn int_field(v: &Option<Value>, field: &str, message: &str) -> Result<Option<i64>, Fault> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => integer(v)
            .map(Some)
            .ok_or_else(|| Fault::invalid_field(field, message)),
    }
}

/// Shared by every handler that answers with a policy-scoped record.
pub fn policy_scope<'a>(v: &'a State, tenant: &str, id: &str) -> Result<&'a PolicyState, Fault> {
    policy_in(v, tenant, id)
}

pub fn parse_id(text: &str, model: &str) -> Result<Uuid, Fault> {
    uuid_or(text, model)
}
