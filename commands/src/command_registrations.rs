//! The commands of zone registrations (issue 10, vitistack ipam-api), kept beside
//! `command.rs` so that file stays a plain list of variants. Secrets arrive as keyed
//! digests (the API layer hashes them): nothing here can show a secret.

use std::net::IpAddr;

use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationCommand {
    /// `POST /` and `POST /v2/address`: register or update (appendix A cases 1–4).
    Register(Register),
    /// `DELETE /` and `DELETE /v2/service`: set a service's expiry.
    Expire(ExpireService),
    /// An admin's cluster-wide delete: every service of the cluster expires now, except
    /// `deny_external_cleanup` ones (reported as skipped).
    ExpireCluster { cluster_id: Uuid },
    /// An admin's delete of one service (CLI `delete-service`): it expires now, unless it is
    /// `deny_external_cleanup` (reported as skipped).
    AdminExpire {
        zone: String,
        address: IpAddr,
        service: ipledger_domain::registrations::ServiceKey,
    },
    /// An admin's secret replacement (CLI `replace-secret`), without the old secret.
    AdminRotate {
        zone: String,
        address: IpAddr,
        new_secret_digest: String,
    },
    /// The scheduled cleanup: remove up to `max` expired services, releasing each address
    /// whose last service goes.
    Cleanup { max: usize },
}

/// The request's `service` object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceRequest {
    pub service_name: String,
    pub namespace_id: Uuid,
    pub cluster_id: Uuid,
    pub retention_period_days: u32,
    pub deny_external_cleanup: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    pub zone: String,
    pub ipv6: bool,
    pub address: Option<IpAddr>,
    pub secret_digest: String,
    pub new_secret_digest: Option<String>,
    pub service: ServiceRequest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpireService {
    pub zone: String,
    pub ipv6: bool,
    pub address: IpAddr,
    pub secret_digest: String,
    pub service: ServiceRequest,
}
