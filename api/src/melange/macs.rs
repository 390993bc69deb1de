//! MAC address ranges (seed 004 "Mac Ranges", decision 16), admin only: create (400 for a
//! bad cidr), list (not paginated, creation order), show, delete.

use ipledger_commands::Command;
use serde_json::json;
use uuid::Uuid;
use warp::http::StatusCode;

use crate::fault::Fault;
use crate::kit::{body, Answer, Call, Resp};
use crate::melange::body_interfaces::MacRangeEnvelope;
use crate::melange::common::exec;
use crate::melange::wire_interfaces;

fn range_not_found() -> Fault {
    Fault::not_found("MacAddressRange Not Found")
}

/// `{range}` of the path; one that is not an id names no range.
fn range_id(c: Call<'_>) -> Result<Uuid, Fault> {
    Uuid::parse_str(c.param("range")).map_err(|_| range_not_found())
}

#[utoipa::path(get, path = "/v0.1/ipam/mac_address_ranges", tag = "melange", 
    responses((status = 200, description = "MAC ranges", body = wire_interfaces::MacAddressRanges)))]
pub async fn list(c: Call<'_>) -> Answer {
    let v = c.views();
    let items: Vec<_> = v
        .mac_ranges()
        .into_iter()
        .map(wire_interfaces::mac_range)
        .collect();
    Ok(Resp::ok(json!({ "mac_address_ranges": items })))
}

#[utoipa::path(post, path = "/v0.1/ipam/mac_address_ranges", tag = "melange", request_body = MacRangeEnvelope, 
    responses((status = 201, description = "Created", body = wire_interfaces::MacAddressRangeOne)))]
pub async fn create(c: Call<'_>) -> Answer {
    let body = body::required::<MacRangeEnvelope>(c.req, "mac_address_range")?.mac_address_range;
    let command = Command::CreateMacRange {
        cidr: body.cidr,
        tenant_id: body.tenant_id,
    };
    exec(
        c.app,
        c.req,
        command,
        "mac_address_range",
        StatusCode::CREATED,
    )
    .await
}

#[utoipa::path(get, path = "/v0.1/ipam/mac_address_ranges/{range}", tag = "melange", 
    responses((status = 200, description = "The range", body = wire_interfaces::MacAddressRangeOne)))]
pub async fn show(c: Call<'_>) -> Answer {
    let range_id = range_id(c)?;
    let v = c.views();
    let r = v.mac_range(range_id).ok_or_else(range_not_found)?;
    Ok(Resp::ok(
        json!({ "mac_address_range": wire_interfaces::mac_range(r) }),
    ))
}

#[utoipa::path(delete, path = "/v0.1/ipam/mac_address_ranges/{range}", tag = "melange", 
    responses((status = 200, description = "Deleted")))]
pub async fn delete(c: Call<'_>) -> Answer {
    let command = Command::DeleteMacRange {
        range_id: range_id(c)?,
    };
    exec(c.app, c.req, command, "mac_address_range", StatusCode::OK).await
}
