//! `/v1/pools/{pool}/allocations[...]` and `/v1/pools/{pool}/utilization` (issue 9 §2): one
//! allocation (201 when made, 200 when the identifier already had it), a batch (all or
//! nothing, at most `POOL_BATCH_MAX`), listing, lookup and release by identifier.

use ipledger_commands::{AllocateFromPool, Command, PoolRequest};
use ipledger_domain::pools::PoolAllocationRecord;
use serde::Deserialize;
use serde_json::{json, Value};
use warp::http::StatusCode;

use crate::fault::Fault;
use crate::kit::body::{self, string_like};
use crate::kit::wire::collection;
use crate::kit::{parse_id, submit, Answer, Call, Resp};
use crate::pools::wire;
use crate::request::PageQuery;

/// One allocation's request, flat or under `"allocation"`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AllocationBody {
    #[serde(default, deserialize_with = "string_like")]
    identifier: Option<String>,
    #[serde(default, deserialize_with = "body::double_integer")]
    prefix_length: Option<Option<i64>>,
    /// Any JSON, kept with the allocation (null: none).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
    #[serde(default, deserialize_with = "string_like")]
    strategy: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    allocations: Vec<AllocationBody>,
}

impl AllocationBody {
    fn request(self) -> PoolRequest {
        PoolRequest {
            identifier: self.identifier,
            prefix_length: self.prefix_length.flatten(),
            // Compact text of the parsed value: equal data compare equal (object keys are
            // sorted), so a retry with the same data is the same request.
            data: self.data.filter(|d| !d.is_null()).map(|d| d.to_string()),
            strategy: self.strategy,
        }
    }
}

async fn run(
    c: &Call<'_>,
    requests: Vec<PoolRequest>,
) -> Result<Vec<(PoolAllocationRecord, bool)>, Fault> {
    let command = Command::AllocateFromPool(AllocateFromPool {
        owner: c.owner().map(str::to_string),
        pool_id: parse_id(c.param("pool"), "Pool")?,
        requests,
    });
    submit(c.app, c.req, command)
        .await?
        .into_pool_allocations()
        .map_err(|other| Fault::unexpected_reply("a pool allocation", &other))
}

/// 201 when this request made something, 200 when its identifiers already had it all.
fn status(made: &[(PoolAllocationRecord, bool)]) -> StatusCode {
    if made.iter().any(|(_, new)| *new) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// `POST /v1/pools/{pool}/allocations`.
#[utoipa::path(post, path = "/v1/pools/{pool}/allocations", tag = "pools", request_body = AllocationBody,
    responses((status = 201, description = "Allocated", body = wire::AllocationOne),
              (status = 200, description = "The identifier already had it", body = wire::AllocationOne)))]
pub async fn allocate(c: Call<'_>) -> Answer {
    let b: AllocationBody = body::parse_unwrapped(c.req, "allocation")?.unwrap_or_default();
    let made = run(&c, vec![b.request()]).await?;
    let Some((a, _)) = made.first() else {
        return Err(Fault::bad_request("no allocation was made"));
    };
    let body = json!({ "allocation": wire::allocation(a) });
    Ok(Resp::new(status(&made), Some(body)))
}

/// `POST /v1/pools/{pool}/allocations/batch`: all or nothing.
#[utoipa::path(post, path = "/v1/pools/{pool}/allocations/batch", tag = "pools", request_body = BatchBody,
    responses((status = 201, description = "Allocated (all or nothing)", body = wire::AllocationBatch),
              (status = 200, description = "The identifiers already had them all", body = wire::AllocationBatch)))]
pub async fn batch(c: Call<'_>) -> Answer {
    let b: BatchBody = body::required(c.req, "allocations")?;
    let made = run(
        &c,
        b.allocations
            .into_iter()
            .map(AllocationBody::request)
            .collect(),
    )
    .await?;
    let list: Vec<wire::Allocation> = made.iter().map(|(a, _)| wire::allocation(a)).collect();
    Ok(Resp::new(
        status(&made),
        Some(json!({ "allocations": list })),
    ))
}

/// `GET /v1/pools/{pool}/allocations`, in id order, paginated.
#[utoipa::path(get, path = "/v1/pools/{pool}/allocations", tag = "pools", params(PageQuery),
    responses((status = 200, description = "The pool's allocations", body = wire::Allocations)))]
pub async fn list(c: Call<'_>) -> Answer {
    let id = parse_id(c.param("pool"), "Pool")?;
    let page = c.req.page()?;
    let listed = {
        let views = c.views();
        let p = views
            .pool_of(c.owner(), id)
            .ok_or_else(|| Fault::not_found("Pool Not Found"))?;
        views.pool_allocations(p, page).cloned()
    };
    Ok(Resp::ok(collection(
        c.req,
        "allocations",
        listed,
        wire::allocation,
    )))
}

/// `GET /v1/pools/{pool}/allocations/{identifier}`.
#[utoipa::path(get, path = "/v1/pools/{pool}/allocations/{identifier}", tag = "pools",
    responses((status = 200, description = "The allocation", body = wire::AllocationOne)))]
pub async fn show(c: Call<'_>) -> Answer {
    let id = parse_id(c.param("pool"), "Pool")?;
    let views = c.views();
    let p = views
        .pool_of(c.owner(), id)
        .ok_or_else(|| Fault::not_found("Pool Not Found"))?;
    let a = p
        .allocation(c.param("identifier"))
        .ok_or_else(|| Fault::not_found("PoolAllocation Not Found"))?;
    Ok(Resp::ok(json!({ "allocation": wire::allocation(a) })))
}

/// `DELETE /v1/pools/{pool}/allocations/{identifier}`: the address is free at once, or the
/// prefix's block deleted (409 while it has allocations or subnets of its own).
#[utoipa::path(delete, path = "/v1/pools/{pool}/allocations/{identifier}", tag = "pools",
    responses((status = 204, description = "Released")))]
pub async fn release(c: Call<'_>) -> Answer {
    let command = Command::ReleasePoolAllocation {
        owner: c.owner().map(str::to_string),
        pool_id: parse_id(c.param("pool"), "Pool")?,
        identifier: c.param("identifier").to_string(),
    };
    submit(c.app, c.req, command).await?;
    Ok(Resp::new(StatusCode::NO_CONTENT, None))
}

/// `GET /v1/pools/{pool}/utilization`.
#[utoipa::path(get, path = "/v1/pools/{pool}/utilization", tag = "pools",
    responses((status = 200, description = "Allocated and free, per resource and in all", body = wire::PoolUseOne)))]
pub async fn utilization(c: Call<'_>) -> Answer {
    let id = parse_id(c.param("pool"), "Pool")?;
    let views = c.views();
    let p = views
        .pool_of(c.owner(), id)
        .ok_or_else(|| Fault::not_found("Pool Not Found"))?;
    let u = views.pool_utilization(p);
    Ok(Resp::ok(json!({ "utilization": wire::utilization(&u) })))
}
