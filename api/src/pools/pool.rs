//! `/v1/pools` and `/v1/pools/{pool}`: create, list, show, update, delete (issue 9 §2).
//! A tenant token creates pools for its own tenant only (403 otherwise; `tenant_id` defaults
//! to it) and finds no other tenant's pool (404).

use ipledger_commands::{Command, CreatePool, UpdatePool};
use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;

use crate::fault::Fault;
use crate::kit::body::{self, double, string_like};
use crate::kit::wire::collection;
use crate::kit::{parse_id, submit, Answer, Call, Resp};
use crate::pools::wire;
use crate::request::PageQuery;

/// The pool body of `POST` and `PUT` (`PUT` leaves absent fields as they are), flat or
/// under `"pool"` (XML's `<pool>`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PoolBody {
    #[serde(default, deserialize_with = "string_like")]
    name: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    tenant_id: Option<String>,
    #[serde(default)]
    resources: Option<Vec<String>>,
    #[serde(default, deserialize_with = "body::double_integer")]
    default_prefix_length: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double")]
    zone: Option<Option<String>>,
    #[serde(default, deserialize_with = "string_like")]
    strategy: Option<String>,
}

fn pool_answer(status: StatusCode, reply: ipledger_domain::records::Reply) -> Answer {
    let p = reply
        .into_pool()
        .map_err(|other| Fault::unexpected_reply("a pool command", &other))?;
    Ok(Resp::new(status, Some(json!({ "pool": wire::pool(&p) }))))
}

/// `POST /v1/pools`.
#[utoipa::path(post, path = "/v1/pools", tag = "pools", request_body = PoolBody,
    responses((status = 201, description = "Created", body = wire::PoolOne)))]
pub async fn create(c: Call<'_>) -> Answer {
    let b: PoolBody = body::parse_unwrapped(c.req, "pool")?.ok_or_else(|| body::missing("name"))?;
    let owner = c.owner();
    let tenant = b.tenant_id.or_else(|| owner.map(str::to_string));
    if let (Some(o), Some(t)) = (owner, tenant.as_deref()) {
        if o != t.trim() {
            return Err(Fault::new(
                StatusCode::FORBIDDEN,
                "A tenant token creates pools for its own tenant only",
            ));
        }
    }
    let command = Command::CreatePool(CreatePool {
        owner: owner.map(str::to_string),
        name: b.name,
        kind: b.kind,
        tenant_id: tenant,
        resources: b.resources,
        default_prefix_length: b.default_prefix_length.flatten(),
        zone: b.zone.flatten(),
        strategy: b.strategy,
    });
    pool_answer(StatusCode::CREATED, submit(c.app, c.req, command).await?)
}

/// `GET /v1/pools`, optionally `?tenant_id=` (a tenant token lists its own only).
#[utoipa::path(get, path = "/v1/pools", tag = "pools", params(PageQuery,
        ("tenant_id" = Option<String>, Query, description = "Only this tenant's pools")),
    responses((status = 200, description = "Pools", body = wire::Pools)))]
pub async fn list(c: Call<'_>) -> Answer {
    let page = c.req.page()?;
    let tenant = c.req.query.get("tenant_id").filter(|t| !t.is_empty());
    let listed = {
        let views = c.views();
        views
            .list_pools(c.owner(), tenant.map(String::as_str), page)
            .cloned()
    };
    Ok(Resp::ok(collection(c.req, "pools", listed, wire::pool)))
}

/// `GET /v1/pools/{pool}`.
#[utoipa::path(get, path = "/v1/pools/{pool}", tag = "pools",
    responses((status = 200, description = "The pool", body = wire::PoolOne)))]
pub async fn show(c: Call<'_>) -> Answer {
    let id = parse_id(c.param("pool"), "Pool")?;
    let views = c.views();
    let p = views
        .pool_of(c.owner(), id)
        .ok_or_else(|| Fault::not_found("Pool Not Found"))?;
    Ok(Resp::ok(json!({ "pool": wire::pool(&p.record) })))
}

/// `PUT /v1/pools/{pool}`: name, resources, defaults, zone, strategy.
#[utoipa::path(put, path = "/v1/pools/{pool}", tag = "pools", request_body = PoolBody,
    responses((status = 200, description = "Updated", body = wire::PoolOne)))]
pub async fn update(c: Call<'_>) -> Answer {
    let pool_id = parse_id(c.param("pool"), "Pool")?;
    let b: PoolBody = body::parse_unwrapped(c.req, "pool")?.unwrap_or_default();
    let command = Command::UpdatePool(UpdatePool {
        owner: c.owner().map(str::to_string),
        pool_id,
        name: b.name,
        kind: b.kind,
        tenant_id: b.tenant_id,
        resources: b.resources,
        default_prefix_length: b.default_prefix_length,
        zone: b.zone,
        strategy: b.strategy,
    });
    pool_answer(StatusCode::OK, submit(c.app, c.req, command).await?)
}

/// `DELETE /v1/pools/{pool}`: 409 while it has allocations.
#[utoipa::path(delete, path = "/v1/pools/{pool}", tag = "pools",
    responses((status = 204, description = "Deleted")))]
pub async fn delete(c: Call<'_>) -> Answer {
    let pool_id = parse_id(c.param("pool"), "Pool")?;
    let command = Command::DeletePool {
        owner: c.owner().map(str::to_string),
        pool_id,
    };
    submit(c.app, c.req, command).await?;
    Ok(Resp::new(StatusCode::NO_CONTENT, None))
}
