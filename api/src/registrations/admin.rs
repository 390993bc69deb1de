//! The admin CLI's routes over registrations (issue 10 item 7): delete one service (never a
//! `deny_external_cleanup` one: reported as skipped), replace a secret without the old one,
//! and check whether a secret opens a registration — the original's `show-secret` could
//! print secrets back; here nothing can, so the question becomes "does this one open it?".

use ipledger_commands::{Command, RegistrationCommand};
use ipledger_domain::records::Reply;
use ipledger_domain::registrations::{secret_problem, ServiceKey};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::auth::secret::same_digest;
use crate::fault::Fault;
use crate::kit::{body as kit_body, Answer, Call, Resp};
use crate::registrations::handlers::{address_of, host, submit, sweep_answer};
use crate::registrations::wire;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ServiceNamed {
    service_name: String,
    namespace_id: Uuid,
    cluster_id: Uuid,
}

/// Never `Debug`: it holds a secret.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SecretBody {
    #[serde(alias = "new_secret")]
    secret: String,
}

/// `POST /v1/registrations/{zone}/{address}/services/expire`: the service expires now.
#[utoipa::path(post, path = "/v1/registrations/{zone}/{address}/services/expire", tag = "registrations", request_body = ServiceNamed,
    responses((status = 200, description = "The service given an expiry (or skipped)", body = wire::Sweep)))]
pub async fn expire_service(c: Call<'_>) -> Answer {
    let address = address_of(c.param("address"))?;
    let b: ServiceNamed =
        kit_body::parse(c.req)?.ok_or_else(|| kit_body::missing("service_name"))?;
    let command = Command::Registration(RegistrationCommand::AdminExpire {
        zone: c.param("zone").to_string(),
        address,
        service: ServiceKey {
            service_name: b.service_name,
            namespace_id: b.namespace_id,
            cluster_id: b.cluster_id,
        },
    });
    sweep_answer(submit(&c, command).await?)
}

fn secret_of(c: &Call<'_>) -> Result<String, Fault> {
    let b: SecretBody = kit_body::parse(c.req)?.ok_or_else(|| kit_body::missing("secret"))?;
    if let Some(problem) = secret_problem(&b.secret) {
        return Err(Fault::invalid_field("secret", problem));
    }
    Ok(b.secret)
}

/// `PUT /v1/registrations/{zone}/{address}/secret` `{"new_secret"}`.
#[utoipa::path(put, path = "/v1/registrations/{zone}/{address}/secret", tag = "registrations", request_body = SecretBody,
    responses((status = 200, description = "Replaced", body = wire::SecretReplaced)))]
pub async fn replace_secret(c: Call<'_>) -> Answer {
    let address = address_of(c.param("address"))?;
    let secret = secret_of(&c)?;
    let command = Command::Registration(RegistrationCommand::AdminRotate {
        zone: c.param("zone").to_string(),
        address,
        new_secret_digest: crate::registrations::key::of(&c.app.auth.registration_key)?
            .digest(&secret),
    });
    match submit(&c, command).await? {
        Reply::Registration { record, .. } => Ok(Resp::ok(json!(wire::SecretReplaced {
            message: "secret replaced",
            address: host(record.address),
        }))),
        other => Err(Fault::unexpected_reply("a secret replacement", &other)),
    }
}

/// `POST /v1/registrations/{zone}/{address}/check-secret` `{"secret"}` → `{"opens": bool}`.
#[utoipa::path(post, path = "/v1/registrations/{zone}/{address}/check-secret", tag = "registrations", request_body = SecretBody,
    responses((status = 200, description = "Whether the secret opens the registration", body = wire::SecretCheck)))]
pub async fn check_secret(c: Call<'_>) -> Answer {
    let (zone, address) = (c.param("zone"), address_of(c.param("address"))?);
    let secret = secret_of(&c)?;
    let presented =
        hex_bytes(&crate::registrations::key::of(&c.app.auth.registration_key)?.digest(&secret));
    let stored = {
        let views = c.views();
        let r = views.registration(zone, address).ok_or_else(|| {
            Fault::not_found(format!("no registration of {address} in zone {zone}"))
        })?;
        hex_bytes(&r.secret_digest)
    };
    let opens = same_digest(&presented, &stored);
    Ok(Resp::ok(json!(wire::SecretCheck {
        zone: zone.to_string(),
        address: host(address),
        opens,
    })))
}

fn hex_bytes(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(bytes) = hex::decode(text) {
        if bytes.len() == 32 {
            out.copy_from_slice(&bytes);
        }
    }
    out
}
