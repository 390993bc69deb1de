//! Policies with their unusable IP ranges and octets (the spec's "IP Policy" sections).
//! Unusable octet updates accept PUT and POST (decision 18).

use ipledger_commands::Command;
use serde_json::json;
use warp::http::StatusCode;

use crate::fault::Fault;
use crate::kit::{body, parse_id, Answer, Call, Resp};
use crate::melange::body::{OctetBody, OctetEnvelope, PolicyEnvelope, RangeBody, RangeEnvelope};
use crate::melange::common::{exec, int_field, policy_scope};
use crate::melange::wire;
use crate::request::PageQuery;

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/policies", tag = "melange", params(PageQuery), 
    responses((status = 200, description = "The tenant's policies", body = wire::Policies)))]
pub async fn list(c: Call<'_>) -> Answer {
    let page = c.req.page()?;
    let v = c.views();
    let listed = v.list_policies(c.param("tenant"), page);
    Ok(Resp::ok(wire::collection(c.req, "policies", listed, |p| {
        wire::policy(p)
    })))
}

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/policies/{policy}", tag = "melange", 
    responses((status = 200, description = "The policy", body = wire::PolicyOne)))]
pub async fn show(c: Call<'_>) -> Answer {
    let v = c.views();
    let p = policy_scope(&v, c.param("tenant"), c.param("policy"))?;
    Ok(Resp::ok(json!({"policy": wire::policy(&p.record)})))
}

#[utoipa::path(post, path = "/v0.1/ipam/tenants/{tenant}/policies", tag = "melange", request_body = PolicyEnvelope, 
    responses((status = 201, description = "Created", body = wire::PolicyOne)))]
pub async fn create(c: Call<'_>) -> Answer {
    let body = body::required::<PolicyEnvelope>(c.req, "policy")?.policy;
    let command = Command::CreatePolicy {
        tenant: c.param("tenant").to_string(),
        name: body.name,
        description: body.description.flatten(),
    };
    exec(c.app, c.req, command, "policy", StatusCode::CREATED).await
}

#[utoipa::path(put, path = "/v0.1/ipam/tenants/{tenant}/policies/{policy}", tag = "melange", request_body = PolicyEnvelope, 
    responses((status = 200, description = "Updated", body = wire::PolicyOne)))]
pub async fn update(c: Call<'_>) -> Answer {
    let policy_id = parse_id(c.param("policy"), "Policy")?;
    let body = body::required::<PolicyEnvelope>(c.req, "policy")?.policy;
    let command = Command::UpdatePolicy {
        tenant: c.param("tenant").to_string(),
        policy_id,
        name: body.name,
        description: body.description,
    };
    exec(c.app, c.req, command, "policy", StatusCode::OK).await
}

#[utoipa::path(delete, path = "/v0.1/ipam/tenants/{tenant}/policies/{policy}", tag = "melange", 
    responses((status = 200, description = "Deleted")))]
pub async fn delete(c: Call<'_>) -> Answer {
    let policy_id = parse_id(c.param("policy"), "Policy")?;
    let command = Command::DeletePolicy {
        tenant: c.param("tenant").to_string(),
        policy_id,
    };
    exec(c.app, c.req, command, "policy", StatusCode::OK).await
}

const OFFSET_MESSAGE: &str = "offset should be of type integer";
const LENGTH_MESSAGE: &str = "length should be a positive integer";

fn range_values(body: &RangeBody) -> Result<(Option<i64>, Option<u64>), Fault> {
    let offset = int_field(&body.offset, "offset", OFFSET_MESSAGE)?;
    let length = match int_field(&body.length, "length", LENGTH_MESSAGE)? {
        Some(l) if l < 0 => return Err(Fault::invalid_field("length", LENGTH_MESSAGE)),
        other => other.map(|l| l as u64),
    };
    Ok((offset, length))
}

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges", tag = "melange", params(PageQuery), 
    responses((status = 200, description = "The policy's unusable ranges", body = wire::IpRanges)))]
pub async fn list_ranges(c: Call<'_>) -> Answer {
    let policy = c.param("policy");
    parse_id(policy, "Policy")?;
    let page = c.req.page()?;
    let v = c.views();
    let p = policy_scope(&v, c.param("tenant"), policy)?;
    Ok(Resp::ok(wire::collection(
        c.req,
        "ip_ranges",
        v.list_ranges(p, page),
        |r| wire::range(r),
    )))
}

#[utoipa::path(post, path = "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges", tag = "melange", request_body = RangeEnvelope, 
    responses((status = 201, description = "Created", body = wire::IpRangeOne)))]
pub async fn create_range(c: Call<'_>) -> Answer {
    let policy_id = parse_id(c.param("policy"), "Policy")?;
    let body = body::required::<RangeEnvelope>(c.req, "ip_range")?.ip_range;
    let (offset, length) = range_values(&body)?;
    let offset = offset.ok_or_else(|| Fault::invalid_field("offset", OFFSET_MESSAGE))?;
    let length = length.ok_or_else(|| Fault::invalid_field("length", LENGTH_MESSAGE))?;
    let command = Command::CreateUnusableRange {
        tenant: c.param("tenant").to_string(),
        policy_id,
        offset,
        length,
    };
    exec(c.app, c.req, command, "ip_range", StatusCode::CREATED).await
}

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges/{range}", tag = "melange", 
    responses((status = 200, description = "The range", body = wire::IpRangeOne)))]
pub async fn show_range(c: Call<'_>) -> Answer {
    let policy = c.param("policy");
    parse_id(policy, "Policy")?;
    let v = c.views();
    let p = policy_scope(&v, c.param("tenant"), policy)?;
    let r = parse_id(c.param("range"), "IpRange").and_then(|id| {
        p.ranges
            .get(&id)
            .ok_or_else(|| Fault::not_found("IpRange Not Found"))
    })?;
    Ok(Resp::ok(json!({"ip_range": wire::range(r)})))
}

#[utoipa::path(put, path = "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges/{range}", tag = "melange", request_body = RangeEnvelope, 
    responses((status = 200, description = "Updated", body = wire::IpRangeOne)))]
pub async fn update_range(c: Call<'_>) -> Answer {
    let policy_id = parse_id(c.param("policy"), "Policy")?;
    let range_id = parse_id(c.param("range"), "IpRange")?;
    let body = body::required::<RangeEnvelope>(c.req, "ip_range")?.ip_range;
    let (offset, length) = range_values(&body)?;
    let command = Command::UpdateUnusableRange {
        tenant: c.param("tenant").to_string(),
        policy_id,
        range_id,
        offset,
        length,
    };
    exec(c.app, c.req, command, "ip_range", StatusCode::OK).await
}

#[utoipa::path(delete, path = "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges/{range}", tag = "melange", 
    responses((status = 200, description = "Deleted")))]
pub async fn delete_range(c: Call<'_>) -> Answer {
    let policy_id = parse_id(c.param("policy"), "Policy")?;
    let range_id = parse_id(c.param("range"), "IpRange")?;
    let command = Command::DeleteUnusableRange {
        tenant: c.param("tenant").to_string(),
        policy_id,
        range_id,
    };
    exec(c.app, c.req, command, "ip_range", StatusCode::OK).await
}

const OCTET_MESSAGE: &str = "octet should be an integer between 0 and 255";

fn octet_value(body: &OctetBody) -> Result<Option<u8>, Fault> {
    match int_field(&body.octet, "octet", OCTET_MESSAGE)? {
        None => Ok(None),
        Some(o) => u8::try_from(o)
            .map(Some)
            .map_err(|_| Fault::invalid_field("octet", OCTET_MESSAGE)),
    }
}

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets", tag = "melange", params(PageQuery), 
    responses((status = 200, description = "The policy's unusable octets", body = wire::IpOctets)))]
pub async fn list_octets(c: Call<'_>) -> Answer {
    let policy = c.param("policy");
    parse_id(policy, "Policy")?;
    let page = c.req.page()?;
    let v = c.views();
    let p = policy_scope(&v, c.param("tenant"), policy)?;
    Ok(Resp::ok(wire::collection(
        c.req,
        "ip_octets",
        v.list_octets(p, page),
        |o| wire::octet(o),
    )))
}

#[utoipa::path(post, path = "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets", tag = "melange", request_body = OctetEnvelope, 
    responses((status = 201, description = "Created", body = wire::IpOctetOne)))]
pub async fn create_octet(c: Call<'_>) -> Answer {
    let policy_id = parse_id(c.param("policy"), "Policy")?;
    let body = body::required::<OctetEnvelope>(c.req, "ip_octet")?.ip_octet;
    let octet = octet_value(&body)?.ok_or_else(|| Fault::invalid_field("octet", OCTET_MESSAGE))?;
    let command = Command::CreateUnusableOctet {
        tenant: c.param("tenant").to_string(),
        policy_id,
        octet,
    };
    exec(c.app, c.req, command, "ip_octet", StatusCode::CREATED).await
}

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}", tag = "melange", 
    responses((status = 200, description = "The octet", body = wire::IpOctetOne)))]
pub async fn show_octet(c: Call<'_>) -> Answer {
    let policy = c.param("policy");
    parse_id(policy, "Policy")?;
    let v = c.views();
    let p = policy_scope(&v, c.param("tenant"), policy)?;
    let o = parse_id(c.param("octet"), "IpOctet").and_then(|id| {
        p.octets
            .get(&id)
            .ok_or_else(|| Fault::not_found("IpOctet Not Found"))
    })?;
    Ok(Resp::ok(json!({"ip_octet": wire::octet(o)})))
}

/// PUT or POST (decision 18).
#[utoipa::path(put, path = "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}", tag = "melange", request_body = OctetEnvelope, 
    responses((status = 200, description = "Updated", body = wire::IpOctetOne)))]
pub async fn update_octet(c: Call<'_>) -> Answer {
    let policy_id = parse_id(c.param("policy"), "Policy")?;
    let octet_id = parse_id(c.param("octet"), "IpOctet")?;
    let body = body::required::<OctetEnvelope>(c.req, "ip_octet")?.ip_octet;
    let octet = octet_value(&body)?;
    let command = Command::UpdateUnusableOctet {
        tenant: c.param("tenant").to_string(),
        policy_id,
        octet_id,
        octet,
    };
    exec(c.app, c.req, command, "ip_octet", StatusCode::OK).await
}

#[utoipa::path(delete, path = "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}", tag = "melange", 
    responses((status = 200, description = "Deleted")))]
pub async fn delete_octet(c: Call<'_>) -> Answer {
    let policy_id = parse_id(c.param("policy"), "Policy")?;
    let octet_id = parse_id(c.param("octet"), "IpOctet")?;
    let command = Command::DeleteUnusableOctet {
        tenant: c.param("tenant").to_string(),
        policy_id,
        octet_id,
    };
    exec(c.app, c.req, command, "ip_octet", StatusCode::OK).await
}

/// `POST` on an octet: the original's update verb, served as `PUT`.
#[utoipa::path(post, path = "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}", tag = "melange", request_body = OctetEnvelope,
    responses((status = 200, description = "Updated", body = wire::IpOctetOne)))]
pub async fn update_octet_by_post(c: Call<'_>) -> Answer {
    update_octet(c).await
}
