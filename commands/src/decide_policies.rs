//! Policies and their unusable ranges and octets: create, update, delete.

use ipledger_domain::events::*;
use ipledger_domain::policy::check_range_length;
use ipledger_domain::records::{OctetRecord, PolicyRecord, RangeRecord, Reply};
use ipledger_domain::{Event, Rejection};
use ipledger_projections::{PolicyState, State};
use uuid::Uuid;

use crate::decide::{Context, Decision};

fn policy<'a>(state: &'a State, tenant: &str, id: Uuid) -> Result<&'a PolicyState, Rejection> {
    state
        .policy_of(tenant, id)
        .ok_or_else(|| Rejection::not_found("Policy"))
}

fn required_name(name: &Option<String>) -> Result<String, Rejection> {
    match name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => Ok(n.to_string()),
        _ => Err(Rejection::invalid("name", "name should be present")),
    }
}

pub fn create(
    _state: &State,
    tenant: &str,
    name: &Option<String>,
    description: &Option<String>,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let name = required_name(name)?;
    let e = PolicyCreated {
        policy_id: ctx.ids.next_id(),
        tenant_id: tenant.to_string(),
        name,
        description: description.clone(),
        created_at: ctx.now,
    };
    let record = PolicyRecord {
        id: e.policy_id,
        tenant_id: e.tenant_id.clone(),
        name: e.name.clone(),
        description: e.description.clone(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::PolicyCreated(e)],
        Reply::Policy(record),
    ))
}

pub fn update(
    state: &State,
    tenant: &str,
    id: Uuid,
    name: &Option<String>,
    description: &Option<Option<String>>,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let p = policy(state, tenant, id)?;
    let name = match name {
        Some(_) => required_name(name)?,
        None => p.record.name.clone(),
    };
    let description = description
        .clone()
        .unwrap_or_else(|| p.record.description.clone());
    let mut record = p.record.clone();
    record.name = name.clone();
    record.description = description.clone();
    record.updated_at = ctx.now;
    let e = PolicyUpdated {
        policy_id: id,
        name,
        description,
        updated_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::PolicyUpdated(e)],
        Reply::Policy(record),
    ))
}

pub fn delete(
    state: &State,
    tenant: &str,
    id: Uuid,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    policy(state, tenant, id)?;
    let e = PolicyDeleted {
        policy_id: id,
        deleted_at: ctx.now,
    };
    Ok(Decision::new(vec![Event::PolicyDeleted(e)], Reply::Done))
}

pub fn create_range(
    state: &State,
    tenant: &str,
    policy_id: Uuid,
    offset: i64,
    length: u64,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    policy(state, tenant, policy_id)?;
    check_range_length(length)?;
    let range_id = ctx.ids.next_id();
    let e = UnusableRangeCreated {
        policy_id,
        range_id,
        offset,
        length,
        created_at: ctx.now,
    };
    let record = RangeRecord {
        id: range_id,
        policy_id,
        offset,
        length,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::UnusableRangeCreated(e)],
        Reply::Range(record),
    ))
}

pub fn update_range(
    state: &State,
    tenant: &str,
    policy_id: Uuid,
    range_id: Uuid,
    offset: Option<i64>,
    length: Option<u64>,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let p = policy(state, tenant, policy_id)?;
    let current = p
        .ranges
        .get(&range_id)
        .ok_or_else(|| Rejection::not_found("IpRange"))?;
    if let Some(length) = length {
        check_range_length(length)?;
    }
    let mut record = current.clone();
    record.offset = offset.unwrap_or(current.offset);
    record.length = length.unwrap_or(current.length);
    record.updated_at = ctx.now;
    let e = UnusableRangeUpdated {
        policy_id,
        range_id,
        offset: record.offset,
        length: record.length,
        updated_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::UnusableRangeUpdated(e)],
        Reply::Range(record),
    ))
}

pub fn delete_range(
    state: &State,
    tenant: &str,
    policy_id: Uuid,
    range_id: Uuid,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let p = policy(state, tenant, policy_id)?;
    p.ranges
        .get(&range_id)
        .ok_or_else(|| Rejection::not_found("IpRange"))?;
    let e = UnusableRangeDeleted {
        policy_id,
        range_id,
        deleted_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::UnusableRangeDeleted(e)],
        Reply::Done,
    ))
}

pub fn create_octet(
    state: &State,
    tenant: &str,
    policy_id: Uuid,
    octet: u8,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    policy(state, tenant, policy_id)?;
    let octet_id = ctx.ids.next_id();
    let e = UnusableOctetCreated {
        policy_id,
        octet_id,
        octet,
        created_at: ctx.now,
    };
    let record = OctetRecord {
        id: octet_id,
        policy_id,
        octet,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::UnusableOctetCreated(e)],
        Reply::Octet(record),
    ))
}

pub fn update_octet(
    state: &State,
    tenant: &str,
    policy_id: Uuid,
    octet_id: Uuid,
    octet: Option<u8>,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let p = policy(state, tenant, policy_id)?;
    let current = p
        .octets
        .get(&octet_id)
        .ok_or_else(|| Rejection::not_found("IpOctet"))?;
    let mut record = current.clone();
    record.octet = octet.unwrap_or(current.octet);
    record.updated_at = ctx.now;
    let e = UnusableOctetUpdated {
        policy_id,
        octet_id,
        octet: record.octet,
        updated_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::UnusableOctetUpdated(e)],
        Reply::Octet(record),
    ))
}

pub fn delete_octet(
    state: &State,
    tenant: &str,
    policy_id: Uuid,
    octet_id: Uuid,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let p = policy(state, tenant, policy_id)?;
    p.octets
        .get(&octet_id)
        .ok_or_else(|| Rejection::not_found("IpOctet"))?;
    let e = UnusableOctetDeleted {
        policy_id,
        octet_id,
        deleted_at: ctx.now,
    };
    Ok(Decision::new(
        vec![Event::UnusableOctetDeleted(e)],
        Reply::Done,
    ))
}
