//! MAC address ranges (seed 004 "Mac Ranges", decision 16), admin only: create (400 for a
//! bad cidr), list (not paginated, creation order), show, delete.

use ipledger_commands::Command;
use serde_json::json;
use uuid::Uuid;
use warp::http::{Method, StatusCode};

use crate::app::App;
use crate::body;
use crate::body_interfaces::MacRangeEnvelope;
use crate::fault::Fault;
use crate::melange::{exec, method_not_allowed, Answer, Resp};
use crate::request::Request;
use crate::wire_interfaces;

fn range_not_found() -> Fault {
    Fault::not_found("MacAddressRange Not Found")
}

/// `/ipam/mac_address_ranges[/{id}]`.
pub async fn route(app: &App, req: &Request, rest: &[&str]) -> Answer {
    let m = &req.method;
    match rest {
        [] => match *m {
            Method::GET => {
                let v = app.writer.views().read();
                let items: Vec<_> = v
                    .mac_ranges()
                    .into_iter()
                    .map(wire_interfaces::mac_range)
                    .collect();
                Ok(Resp::ok(json!({ "mac_address_ranges": items })))
            }
            Method::POST => {
                let body =
                    body::required::<MacRangeEnvelope>(req, "mac_address_range")?.mac_address_range;
                let command = Command::CreateMacRange {
                    cidr: body.cidr,
                    tenant_id: body.tenant_id,
                };
                exec(app, req, command, "mac_address_range", StatusCode::CREATED).await
            }
            _ => Err(method_not_allowed()),
        },
        [id] => {
            let range_id = || Uuid::parse_str(id).map_err(|_| range_not_found());
            match *m {
                Method::GET => {
                    let range_id = range_id()?;
                    let v = app.writer.views().read();
                    let r = v
                        .nics
                        .mac_ranges
                        .get(&range_id)
                        .ok_or_else(range_not_found)?;
                    Ok(Resp::ok(
                        json!({ "mac_address_range": wire_interfaces::mac_range(r) }),
                    ))
                }
                Method::DELETE => {
                    let command = Command::DeleteMacRange {
                        range_id: range_id()?,
                    };
                    exec(app, req, command, "mac_address_range", StatusCode::OK).await
                }
                _ => Err(method_not_allowed()),
            }
        }
        _ => Err(Fault::not_found("The resource could not be found.")),
    }
}
