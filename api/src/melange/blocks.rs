//! IP blocks and their subnets (seed 004 "IP Blocks", "Subnets"):
//! `/v0.1/ipam/tenants/{tenant}/ip_blocks[/{block}[/subnets]]`.

use ipledger_commands::{Command, CreateBlock, UpdateBlock};
use ipledger_domain::records::BlockType;
use serde_json::json;
use warp::http::StatusCode;

use crate::fault::Fault;
use crate::kit::{body, parse_id, Answer, Call, Resp};
use crate::melange::body::{BlockEnvelope, BlockUpdateEnvelope, SubnetEnvelope};
use crate::melange::common::{block_in, exec};
use crate::melange::wire;
use crate::request::PageQuery;

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks", tag = "melange", params(PageQuery, ("type" = Option<String>, Query, description = "`private` or `public`")), 
    responses((status = 200, description = "The tenant's blocks", body = wire::IpBlocks)))]
pub async fn list(c: Call<'_>) -> Answer {
    let req = c.req;
    let kind = match req.query.get("type").map(String::as_str) {
        None | Some("") => None,
        Some(t) => Some(BlockType::parse(t).ok_or_else(|| {
            Fault::invalid_field("type", "type should be one among public, private")
        })?),
    };
    let page = req.page()?;
    let v = c.views();
    let listed = v.list_blocks(c.param("tenant"), kind, page);
    Ok(Resp::ok(wire::collection(req, "ip_blocks", listed, |b| {
        wire::block(b)
    })))
}

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}", tag = "melange", 
    responses((status = 200, description = "The block", body = wire::IpBlockOne)))]
pub async fn show(c: Call<'_>) -> Answer {
    let v = c.views();
    let b = block_in(&v, c.param("tenant"), c.param("block"))?;
    Ok(Resp::ok(json!({"ip_block": wire::block(&b.record)})))
}

#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/subnets", tag = "melange", 
    responses((status = 200, description = "The block's subnets", body = wire::Subnets)))]
pub async fn list_subnets(c: Call<'_>) -> Answer {
    let v = c.views();
    let b = block_in(&v, c.param("tenant"), c.param("block"))?;
    let subnets: Vec<wire::IpBlock> = v.subnets(b).into_iter().map(wire::block).collect();
    Ok(Resp::ok(json!({ "subnets": subnets })))
}

#[utoipa::path(post, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks", tag = "melange", request_body = BlockEnvelope, 
    responses((status = 201, description = "Created", body = wire::IpBlockOne)))]
pub async fn create(c: Call<'_>) -> Answer {
    create_block(c, None).await
}

#[utoipa::path(post, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/subnets", tag = "melange", request_body = SubnetEnvelope, 
    responses((status = 201, description = "Created, under the key the request used", body = wire::SubnetOne)))]
pub async fn create_subnet(c: Call<'_>) -> Answer {
    create_block(c, Some(c.param("block"))).await
}

async fn create_block(c: Call<'_>, parent: Option<&str>) -> Answer {
    let req = c.req;
    let parent_id = parent.map(|p| parse_id(p, "IpBlock")).transpose()?;
    let (body, key) = if parent_id.is_some() {
        let env: SubnetEnvelope = body::required(req, "subnet")?;
        (
            env.subnet
                .or(env.ip_block)
                .ok_or_else(|| body::missing("subnet"))?,
            "subnet",
        )
    } else {
        (
            body::required::<BlockEnvelope>(req, "ip_block")?.ip_block,
            "ip_block",
        )
    };
    let command = Command::CreateBlock(CreateBlock {
        tenant: c.param("tenant").to_string(),
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
    exec(c.app, req, command, key, StatusCode::CREATED).await
}

#[utoipa::path(put, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}", tag = "melange", request_body = BlockUpdateEnvelope, 
    responses((status = 200, description = "Updated", body = wire::IpBlockOne)))]
pub async fn update(c: Call<'_>) -> Answer {
    let block_id = parse_id(c.param("block"), "IpBlock")?;
    let body = body::required::<BlockUpdateEnvelope>(c.req, "ip_block")?.ip_block;
    let command = Command::UpdateBlock(UpdateBlock {
        tenant: c.param("tenant").to_string(),
        block_id,
        block_type: body.block_type,
        network_id: body.network_id,
        policy_id: body.policy_id,
        gateway: body.gateway,
        dns1: body.dns1,
        dns2: body.dns2,
        ipv6_generator: body.ipv6_generator,
    });
    exec(c.app, c.req, command, "ip_block", StatusCode::OK).await
}

#[utoipa::path(delete, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}", tag = "melange", 
    responses((status = 200, description = "Deleted")))]
pub async fn delete(c: Call<'_>) -> Answer {
    let block_id = parse_id(c.param("block"), "IpBlock")?;
    let command = Command::DeleteBlock {
        tenant: c.param("tenant").to_string(),
        block_id,
    };
    exec(c.app, c.req, command, "ip_block", StatusCode::OK).await
}

/// The most cells a heat map may ask for; the default when `cells` is not given.
const HEATMAP_CELLS_MAX: u32 = 4096;
const HEATMAP_CELLS_DEFAULT: u32 = 1024;

/// `GET .../ip_blocks/{block}/heatmap?cells=N`: the block's address space in at most N cells
/// (a power of two), each with its counts by state (issue 14: the console's heat map of a
/// large block). O(cells + occupied addresses): it never walks free ones.
#[utoipa::path(get, path = "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/heatmap", tag = "melange",
    params(("cells" = Option<u32>, Query, description = "Cells wanted, 1 to 4096 (default 1024), rounded down to a power of two")),
    responses((status = 200, description = "The block's address space by cell and state", body = wire::BlockHeatmapOne)))]
pub async fn heatmap(c: Call<'_>) -> Answer {
    let cells = match c.req.query.get("cells") {
        None => HEATMAP_CELLS_DEFAULT,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=HEATMAP_CELLS_MAX).contains(n))
            .ok_or_else(|| {
                Fault::invalid_field(
                    "cells",
                    format!("cells should be an integer from 1 to {HEATMAP_CELLS_MAX}"),
                )
            })?,
    };
    let v = c.views();
    let b = block_in(&v, c.param("tenant"), c.param("block"))?;
    let map = v.block_heatmap(b, cells);
    Ok(Resp::ok(json!({"heatmap": wire::heatmap(&b.record, &map)})))
}
