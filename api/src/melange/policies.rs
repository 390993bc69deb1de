//! Policies with their unusable IP ranges and octets (the spec's "IP Policy" sections).
//! Unusable octet updates accept PUT and POST (decision 18).

use ipledger_commands::Command;
use serde_json::json;
use uuid::Uuid;
use warp::http::{Method, StatusCode};

use crate::app::App;
use crate::body;
use crate::fault::Fault;
use crate::melange::{exec, int_field, method_not_allowed, parse_id, policy_scope, Answer, Resp};
use crate::request::Request;
use crate::wire;

pub async fn route(app: &App, req: &Request, tenant: &str, rest: &[&str]) -> Answer {
    let m = &req.method;
    match rest {
        [] => match *m {
            Method::GET => list(app, req, tenant),
            Method::POST => create(app, req, tenant).await,
            _ => Err(method_not_allowed()),
        },
        [p] => match *m {
            Method::GET => show(app, tenant, p),
            Method::PUT => update(app, req, tenant, p).await,
            Method::DELETE => {
                let policy_id = parse_id(p, "Policy")?;
                let command = Command::DeletePolicy {
                    tenant: tenant.to_string(),
                    policy_id,
                };
                exec(app, req, command, "policy", StatusCode::OK).await
            }
            _ => Err(method_not_allowed()),
        },
        [p, "unusable_ip_ranges", rest @ ..] => ranges(app, req, tenant, p, rest).await,
        [p, "unusable_ip_octets", rest @ ..] => octets(app, req, tenant, p, rest).await,
        _ => Err(Fault::not_found("The resource could not be found.")),
    }
}

fn list(app: &App, req: &Request, tenant: &str) -> Answer {
    let page = req.page()?;
    let v = app.writer.views().read();
    let listed = v.list_policies(tenant, page);
    Ok(Resp::ok(wire::collection(req, "policies", listed, |p| {
        wire::policy(p)
    })))
}

fn show(app: &App, tenant: &str, id: &str) -> Answer {
    let v = app.writer.views().read();
    let p = policy_scope(&v, tenant, id)?;
    Ok(Resp::ok(json!({"policy": wire::policy(&p.record)})))
}

async fn create(app: &App, req: &Request, tenant: &str) -> Answer {
    let body = body::required::<body::PolicyEnvelope>(req, "policy")?.policy;
    let command = Command::CreatePolicy {
        tenant: tenant.to_string(),
        name: body.name,
        description: body.description.flatten(),
    };
    exec(app, req, command, "policy", StatusCode::CREATED).await
}

async fn update(app: &App, req: &Request, tenant: &str, id: &str) -> Answer {
    let policy_id = parse_id(id, "Policy")?;
    let body = body::required::<body::PolicyEnvelope>(req, "policy")?.policy;
    let command = Command::UpdatePolicy {
        tenant: tenant.to_string(),
        policy_id,
        name: body.name,
        description: body.description,
    };
    exec(app, req, command, "policy", StatusCode::OK).await
}

const OFFSET_MESSAGE: &str = "offset should be of type integer";
const LENGTH_MESSAGE: &str = "length should be a positive integer";

fn range_values(body: &body::RangeBody) -> Result<(Option<i64>, Option<u64>), Fault> {
    let offset = int_field(&body.offset, "offset", OFFSET_MESSAGE)?;
    let length = match int_field(&body.length, "length", LENGTH_MESSAGE)? {
        Some(l) if l < 0 => return Err(Fault::invalid_field("length", LENGTH_MESSAGE)),
        other => other.map(|l| l as u64),
    };
    Ok((offset, length))
}

async fn ranges(app: &App, req: &Request, tenant: &str, policy: &str, rest: &[&str]) -> Answer {
    let m = &req.method;
    let policy_id = parse_id(policy, "Policy")?;
    let t = tenant.to_string();
    match (rest, m.clone()) {
        ([], Method::GET) => {
            let page = req.page()?;
            let v = app.writer.views().read();
            let p = policy_scope(&v, tenant, policy)?;
            Ok(Resp::ok(wire::collection(
                req,
                "ip_ranges",
                v.list_ranges(p, page),
                |r| wire::range(r),
            )))
        }
        ([], Method::POST) => {
            let body = body::required::<body::RangeEnvelope>(req, "ip_range")?.ip_range;
            let (offset, length) = range_values(&body)?;
            let offset = offset.ok_or_else(|| Fault::invalid_field("offset", OFFSET_MESSAGE))?;
            let length = length.ok_or_else(|| Fault::invalid_field("length", LENGTH_MESSAGE))?;
            let command = Command::CreateUnusableRange {
                tenant: t,
                policy_id,
                offset,
                length,
            };
            exec(app, req, command, "ip_range", StatusCode::CREATED).await
        }
        ([id], Method::GET) => {
            let v = app.writer.views().read();
            let p = policy_scope(&v, tenant, policy)?;
            let r = item_id(id, "IpRange").and_then(|id| {
                p.ranges
                    .get(&id)
                    .ok_or_else(|| Fault::not_found("IpRange Not Found"))
            })?;
            Ok(Resp::ok(json!({"ip_range": wire::range(r)})))
        }
        ([id], Method::PUT) => {
            let range_id = item_id(id, "IpRange")?;
            let body = body::required::<body::RangeEnvelope>(req, "ip_range")?.ip_range;
            let (offset, length) = range_values(&body)?;
            let command = Command::UpdateUnusableRange {
                tenant: t,
                policy_id,
                range_id,
                offset,
                length,
            };
            exec(app, req, command, "ip_range", StatusCode::OK).await
        }
        ([id], Method::DELETE) => {
            let range_id = item_id(id, "IpRange")?;
            exec(
                app,
                req,
                Command::DeleteUnusableRange {
                    tenant: t,
                    policy_id,
                    range_id,
                },
                "ip_range",
                StatusCode::OK,
            )
            .await
        }
        ([] | [_], _) => Err(method_not_allowed()),
        _ => Err(Fault::not_found("The resource could not be found.")),
    }
}

fn item_id(text: &str, model: &str) -> Result<Uuid, Fault> {
    parse_id(text, model)
}

const OCTET_MESSAGE: &str = "octet should be an integer between 0 and 255";

fn octet_value(body: &body::OctetBody) -> Result<Option<u8>, Fault> {
    match int_field(&body.octet, "octet", OCTET_MESSAGE)? {
        None => Ok(None),
        Some(o) => u8::try_from(o)
            .map(Some)
            .map_err(|_| Fault::invalid_field("octet", OCTET_MESSAGE)),
    }
}

async fn octets(app: &App, req: &Request, tenant: &str, policy: &str, rest: &[&str]) -> Answer {
    let m = &req.method;
    let policy_id = parse_id(policy, "Policy")?;
    let t = tenant.to_string();
    match (rest, m.clone()) {
        ([], Method::GET) => {
            let page = req.page()?;
            let v = app.writer.views().read();
            let p = policy_scope(&v, tenant, policy)?;
            Ok(Resp::ok(wire::collection(
                req,
                "ip_octets",
                v.list_octets(p, page),
                |o| wire::octet(o),
            )))
        }
        ([], Method::POST) => {
            let body = body::required::<body::OctetEnvelope>(req, "ip_octet")?.ip_octet;
            let octet =
                octet_value(&body)?.ok_or_else(|| Fault::invalid_field("octet", OCTET_MESSAGE))?;
            exec(
                app,
                req,
                Command::CreateUnusableOctet {
                    tenant: t,
                    policy_id,
                    octet,
                },
                "ip_octet",
                StatusCode::CREATED,
            )
            .await
        }
        ([id], Method::GET) => {
            let v = app.writer.views().read();
            let p = policy_scope(&v, tenant, policy)?;
            let o = item_id(id, "IpOctet").and_then(|id| {
                p.octets
                    .get(&id)
                    .ok_or_else(|| Fault::not_found("IpOctet Not Found"))
            })?;
            Ok(Resp::ok(json!({"ip_octet": wire::octet(o)})))
        }
        ([id], Method::PUT | Method::POST) => {
            let octet_id = item_id(id, "IpOctet")?;
            let body = body::required::<body::OctetEnvelope>(req, "ip_octet")?.ip_octet;
            let octet = octet_value(&body)?;
            let command = Command::UpdateUnusableOctet {
                tenant: t,
                policy_id,
                octet_id,
                octet,
            };
            exec(app, req, command, "ip_octet", StatusCode::OK).await
        }
        ([id], Method::DELETE) => {
            let octet_id = item_id(id, "IpOctet")?;
            exec(
                app,
                req,
                Command::DeleteUnusableOctet {
                    tenant: t,
                    policy_id,
                    octet_id,
                },
                "ip_octet",
                StatusCode::OK,
            )
            .await
        }
        ([] | [_], _) => Err(method_not_allowed()),
        _ => Err(Fault::not_found("The resource could not be found.")),
    }
}
