//! The Scaleway IPAM v1 surface over HTTP (issue 9): the IP object, errors in Scaleway's
//! shape (what the SDKs parse), the list's filters, orders and pages, the seed's guarantees
//! (release refused while attached, sets all or nothing), tenant isolation, the one address
//! space shared with Melange — and the official Python SDK as the client
//! (`tests/sdk/scaleway_sdk_test.py`, run from [`the_official_sdk_drives_the_api`]).

use std::collections::BTreeSet;
use std::path::PathBuf;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{Client, Res, TestServer};

const IPS: &str = "/ipam/v1/regions/fr-par/ips";
const MAC: &str = "02:00:00:00:00:01";

/// A project (tenant) id as the SDK validates them: a UUID.
fn project(n: u8) -> String {
    format!("00000000-0000-4000-8000-0000000000{n:02x}")
}

/// Creates a private block for `tenant` (optionally in a network) and returns its id.
async fn block(admin: &Client, tenant: &str, cidr: &str, network: Option<&str>) -> String {
    let mut b = json!({"type": "private", "cidr": cidr});
    if let Some(n) = network {
        b["network_id"] = json!(n);
    }
    let r = admin
        .post(
            &format!("/v0.1/ipam/tenants/{tenant}/ip_blocks"),
            json!({ "ip_block": b }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json["ip_block"]["id"].as_str().expect("id").to_string()
}

/// A tenant token's client (sent as `X-Auth-Token`, as the SDK sends its secret key).
async fn tenant(admin: &Client, tenant: &str) -> Client {
    let r = admin
        .post(
            "/v1/auth/tokens",
            json!({"name": format!("scw-{tenant}"), "role": format!("tenant:{tenant}")}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    admin.with_x_auth_token(r.json["token"]["secret"].as_str().expect("secret"))
}

async fn book(c: &Client, body: Value) -> Res {
    c.post(IPS, body).await
}

fn in_subnet(subnet: &str) -> Value {
    json!({"source": {"subnet_id": subnet}, "is_ipv6": false})
}

/// GET or DELETE the way the SDK sends them: a `{}` body without Content-Type.
async fn sdk(c: &Client, method: Method, path: &str) -> Res {
    c.raw(method, path, None, "{}").await
}

#[tokio::test]
async fn the_ip_object_has_every_key_the_sdk_reads() {
    let s = TestServer::start().await;
    let p = project(1);
    let subnet = block(&s, &p, "10.1.0.0/24", Some("pn-1")).await;
    let me = tenant(&s, &p).await;
    let mut body = in_subnet(&subnet);
    body["tags"] = json!(["a", "b"]);
    let r = book(&me, body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ip = &r.json;
    for key in [
        "id",
        "address",
        "project_id",
        "is_ipv6",
        "created_at",
        "updated_at",
        "source",
        "resource",
        "tags",
        "reverses",
        "region",
        "zone",
    ] {
        assert!(ip.get(key).is_some(), "{key} missing: {ip}");
    }
    assert_eq!(ip["address"], "10.1.0.2/24", "the block's prefix length");
    assert_eq!(ip["project_id"], p.as_str());
    assert_eq!(ip["region"], "fr-par");
    assert_eq!(ip["zone"], Value::Null);
    assert_eq!(ip["resource"], Value::Null);
    assert_eq!(ip["source"]["subnet_id"], subnet.as_str());
    assert_eq!(ip["tags"], json!(["a", "b"]));
    assert_eq!(ip["reverses"], json!([]));
    let id = ip["id"].as_str().expect("id");
    let path = format!("{IPS}/{id}");
    let got = sdk(&me, Method::GET, &path).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(&got.json, ip);

    // Update: each given list replaces the IP's; the address never changes.
    let patch = json!({"tags": ["c"], "reverses": [{"hostname": "web-1.example.com", "address": "10.1.0.2"}]});
    let r = me.send(Method::PATCH, &path, Some(&patch), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["tags"], json!(["c"]));
    assert_eq!(r.json["reverses"][0]["hostname"], "web-1.example.com");
    assert_eq!(r.json["address"], ip["address"]);
    let r = me
        .send(
            Method::PATCH,
            &path,
            Some(&json!({"reverses": [{"hostname": "x", "address": "10.1.0.9"}]})),
            &[],
        )
        .await;
    assert_eq!(
        r.status, 400,
        "a reverse names the IP's own address: {}",
        r.text
    );
    assert_eq!(r.json["message"], "Validation Error");

    // Release: 204, then it is gone (404 naming the IP).
    let r = sdk(&me, Method::DELETE, &path).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = sdk(&me, Method::GET, &path).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json,
        json!({"message": "resource is not found", "type": "not_found", "resource": "ip", "resource_id": id, "help_message": format!("ip {id} not found")})
    );
}

#[tokio::test]
async fn errors_take_scaleway_shapes() {
    let s = TestServer::start().await;
    let p = project(2);
    let subnet = block(&s, &p, "10.2.0.0/24", None).await;
    let me = tenant(&s, &p).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"is_ipv6": false}), "source"),
        (
            json!({"source": {"vpc_id": "v"}, "is_ipv6": false}),
            "source",
        ),
        (
            json!({"source": {"regional": false}, "is_ipv6": false}),
            "source",
        ),
        (
            json!({"source": {"zonal": "fr-par-1"}, "is_ipv6": false}),
            "source",
        ),
        (json!({"source": {"subnet_id": subnet}}), "is_ipv6"),
        (
            json!({"source": {"subnet_id": subnet}, "is_ipv6": true}),
            "is_ipv6",
        ),
        (
            json!({"source": {"subnet_id": subnet}, "is_ipv6": false, "address": "nope"}),
            "address",
        ),
        (
            json!({"source": {"subnet_id": subnet}, "is_ipv6": false, "resource": {"mac_address": "zz"}}),
            "resource.mac_address",
        ),
        (
            json!({"source": {"subnet_id": subnet}, "is_ipv6": false, "tags": [""]}),
            "tags",
        ),
    ];
    for (body, field) in cases {
        let r = book(&me, body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.json["message"], "Validation Error", "{body}: {}", r.text);
        assert!(r.json["fields"].get(field).is_some(), "{body}: {}", r.text);
    }
    let r = book(&me, json!({"source": {"vpc_id": "v"}, "is_ipv6": false})).await;
    assert!(
        r.text.contains("private_network_id") && r.text.contains("subnet_id"),
        "{}",
        r.text
    );
    let r = book(
        &me,
        json!({"source": {"zonal": "fr-par-1"}, "is_ipv6": false}),
    )
    .await;
    assert!(
        r.text
            .contains("zonal sources are served by pools with that zone"),
        "{}",
        r.text
    );
    // Malformed bodies and unknown fields: 400 invalid_arguments, never a 5xx.
    let r = me
        .raw(Method::POST, IPS, Some("application/json"), "{")
        .await;
    assert_eq!(
        (r.status.as_u16(), &r.json["type"]),
        (400, &json!("invalid_arguments"))
    );
    let r = book(
        &me,
        json!({"source": {"subnet_id": subnet}, "is_ipv6": false, "extra": 1}),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), &r.json["type"]),
        (400, &json!("invalid_arguments"))
    );
    // A missing subnet or network: 404 naming it.
    let r = book(&me, in_subnet("00000000-0000-4000-8000-000000000000")).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json["resource"], "subnet");
    let r = book(
        &me,
        json!({"source": {"private_network_id": "nope"}, "is_ipv6": false}),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), &r.json["resource"]),
        (404, &json!("private_network"))
    );
    // Auth and region.
    let r = s.anonymous().get(IPS).await;
    assert_eq!(
        (r.status.as_u16(), &r.json["type"]),
        (401, &json!("denied_authentication"))
    );
    let r = me.get("/ipam/v1/regions/nl-ams/ips").await;
    assert_eq!(
        (r.status.as_u16(), &r.json["resource"]),
        (404, &json!("region"))
    );
    let r = me.get(&format!("{IPS}/not-a-uuid")).await;
    assert_eq!(
        (r.status.as_u16(), &r.json["resource"]),
        (404, &json!("ip"))
    );
    // Query validation.
    for q in [
        "page_size=101",
        "page_size=0",
        "page=0",
        "order_by=nope",
        "attached=maybe",
        "bogus=1",
        "resource_type=martian",
    ] {
        let r = me.get(&format!("{IPS}?{q}")).await;
        assert_eq!(r.status, 400, "{q}: {}", r.text);
        assert_eq!(r.json["message"], "Validation Error", "{q}");
    }
    // A body on a GET other than the SDK's `{}` is refused, the SDK's is taken.
    let r = me.raw(Method::GET, IPS, None, "{\"x\": 1}").await;
    assert_eq!(r.status, 400);
    let r = sdk(&me, Method::GET, IPS).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn an_attached_ip_is_not_released_and_sets_are_all_or_nothing() {
    let s = TestServer::start().await;
    let p = project(3);
    let subnet = block(&s, &p, "10.3.0.0/24", None).await;
    let me = tenant(&s, &p).await;
    let free = book(&me, in_subnet(&subnet)).await.json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let held = book(&me, in_subnet(&subnet)).await.json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let attach = me
        .post(
            &format!("{IPS}/{held}/attach"),
            json!({"resource": {"mac_address": MAC, "name": "vm-1"}}),
        )
        .await;
    assert_eq!(attach.status, 200, "{}", attach.text);
    assert_eq!(attach.json["resource"]["type"], "custom");
    assert_eq!(attach.json["resource"]["mac_address"], MAC);
    assert!(uuid::Uuid::parse_str(attach.json["resource"]["id"].as_str().unwrap()).is_ok());
    let again = me
        .post(
            &format!("{IPS}/{held}/attach"),
            json!({"resource": {"mac_address": "02:00:00:00:00:09"}}),
        )
        .await;
    assert_eq!(
        (again.status.as_u16(), &again.json["type"]),
        (409, &json!("conflict"))
    );
    let r = sdk(&me, Method::DELETE, &format!("{IPS}/{held}")).await;
    assert_eq!(
        (r.status.as_u16(), &r.json["type"]),
        (409, &json!("conflict"))
    );
    let set = json!({"ip_ids": [free, held]});
    let r = me
        .post("/ipam/v1/regions/fr-par/ip-sets/release", set.clone())
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(
        sdk(&me, Method::GET, &format!("{IPS}/{free}")).await.status,
        200,
        "nothing released"
    );
    // Move to another resource, detach from it, then the set goes.
    let r = me
        .post(&format!("{IPS}/{held}/move"), json!({"from_resource": {"mac_address": MAC}, "to_resource": {"mac_address": "02:00:00:00:00:02"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["resource"]["mac_address"], "02:00:00:00:00:02");
    let r = me
        .post(
            &format!("{IPS}/{held}/detach"),
            json!({"resource": {"mac_address": MAC}}),
        )
        .await;
    assert_eq!(
        r.status, 409,
        "detach names the resource it is attached to: {}",
        r.text
    );
    let r = me
        .post(
            &format!("{IPS}/{held}/detach"),
            json!({"resource": {"mac_address": "02:00:00:00:00:02"}}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), &r.json["resource"]),
        (200, &Value::Null)
    );
    let r = me
        .post("/ipam/v1/regions/fr-par/ip-sets/release", set)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = me.get(IPS).await;
    assert_eq!(r.json, json!({"total_count": 0, "ips": []}));
}

fn ids(r: &Res) -> Vec<String> {
    r.json["ips"]
        .as_array()
        .unwrap_or_else(|| panic!("ips in {}", r.text))
        .iter()
        .map(|ip| ip["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn the_list_filters_orders_and_pages() {
    let s = TestServer::start().await;
    let p = project(4);
    let a = block(&s, &p, "10.4.0.0/24", Some("pn-a")).await;
    let b = block(&s, &p, "10.4.1.0/24", None).await;
    let me = tenant(&s, &p).await;
    let mut booked = Vec::new();
    for i in 0..5u8 {
        let mut body = if i % 2 == 0 {
            json!({"source": {"private_network_id": "pn-a"}, "is_ipv6": false})
        } else {
            in_subnet(&b)
        };
        body["tags"] = json!([format!("t{i}"), "all"]);
        body["address"] = json!(format!("10.4.{}.{}", i % 2, 50 - i));
        if i < 2 {
            body["resource"] = json!({"mac_address": format!("02:00:00:00:00:0{}", 5 - i), "name": format!("vm-{i}")});
        }
        let r = book(&me, body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        booked.push(r.json["id"].as_str().unwrap().to_string());
    }
    let list = |q: String| {
        let me = me.clone();
        async move {
            let r = me.get(&format!("{IPS}?{q}")).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            r
        }
    };
    let set = |r: &Res| ids(r).into_iter().collect::<BTreeSet<_>>();
    let of = |is: &[usize]| {
        is.iter()
            .map(|i| booked[*i].clone())
            .collect::<BTreeSet<_>>()
    };
    // Default order: newest first.
    let all = list(String::new()).await;
    assert_eq!(all.json["total_count"], 5);
    assert_eq!(ids(&all), booked.iter().rev().cloned().collect::<Vec<_>>());
    assert_eq!(ids(&list("order_by=created_at_asc".into()).await), booked);
    assert_eq!(
        set(&list("private_network_id=pn-a".into()).await),
        of(&[0, 2, 4])
    );
    assert_eq!(set(&list(format!("subnet_id={b}")).await), of(&[1, 3]));
    assert_eq!(set(&list(format!("subnet_id={a}")).await), of(&[0, 2, 4]));
    assert_eq!(set(&list("attached=True".into()).await), of(&[0, 1]));
    assert_eq!(set(&list("attached=false".into()).await), of(&[2, 3, 4]));
    assert_eq!(set(&list("is_ipv6=False".into()).await).len(), 5);
    assert_eq!(set(&list("is_ipv6=true".into()).await).len(), 0);
    assert_eq!(set(&list("tags=t1&tags=t3".into()).await), of(&[1, 3]));
    assert_eq!(
        set(&list("mac_address=02:00:00:00:00:05".into()).await),
        of(&[0])
    );
    assert_eq!(set(&list("resource_name=vm-".into()).await), of(&[0, 1]));
    assert_eq!(set(&list("resource_type=custom".into()).await), of(&[0, 1]));
    assert_eq!(
        set(&list("resource_types=instance_server".into()).await).len(),
        0
    );
    let rid = all.json["ips"][4]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(set(&list(format!("resource_id={rid}")).await), of(&[0]));
    assert_eq!(
        set(&list(format!("resource_ids={rid}&resource_ids=x")).await),
        of(&[0])
    );
    assert_eq!(
        set(&list(format!("ip_ids={}&ip_ids={}", booked[2], booked[3])).await),
        of(&[2, 3])
    );
    assert_eq!(set(&list("zonal=fr-par-1".into()).await).len(), 0);
    assert_eq!(set(&list("vpc_id=v".into()).await).len(), 0);
    assert_eq!(
        set(&list(format!("project_id={p}&organization_id={p}")).await).len(),
        5
    );
    // Every order, both ways.
    let addr = |r: &Res| -> Vec<String> {
        r.json["ips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|ip| ip["address"].as_str().unwrap().to_string())
            .collect()
    };
    let asc = addr(&list("order_by=ip_address_asc".into()).await);
    let mut sorted = asc.clone();
    sorted.sort_by_key(|a| {
        a.split('/')
            .next()
            .unwrap()
            .parse::<std::net::IpAddr>()
            .unwrap()
    });
    assert_eq!(asc, sorted);
    let mut desc = addr(&list("order_by=ip_address_desc".into()).await);
    desc.reverse();
    assert_eq!(desc, asc);
    let macs = ids(&list("order_by=mac_address_desc".into()).await);
    assert_eq!(
        &macs[..2],
        &[booked[0].clone(), booked[1].clone()],
        "05 then 04"
    );
    for order in [
        "updated_at_desc",
        "updated_at_asc",
        "attached_at_desc",
        "attached_at_asc",
        "mac_address_asc",
        "created_at_desc",
    ] {
        let r = list(format!("order_by={order}")).await;
        assert_eq!(set(&r).len(), 5, "{order}");
    }
    let attached = ids(&list("order_by=attached_at_desc&attached=true".into()).await);
    assert_eq!(attached, vec![booked[1].clone(), booked[0].clone()]);
    // Pages: exactly page_size items until the last, total_count on every page, then [].
    let mut seen = Vec::new();
    for page in 1..=3 {
        let r = list(format!("order_by=created_at_asc&page_size=2&page={page}")).await;
        assert_eq!(r.json["total_count"], 5);
        seen.extend(ids(&r));
    }
    assert_eq!(seen, booked);
    let r = list("page_size=2&page=4".into()).await;
    assert_eq!(r.json, json!({"total_count": 5, "ips": []}));
}

#[tokio::test]
async fn projects_see_and_change_only_their_own_ips() {
    let s = TestServer::start().await;
    let (p, q) = (project(5), project(6));
    let subnet = block(&s, &p, "10.5.0.0/24", None).await;
    let theirs = block(&s, &q, "10.6.0.0/24", None).await;
    let (me, other) = (tenant(&s, &p).await, tenant(&s, &q).await);
    let mine = book(&me, in_subnet(&subnet)).await.json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = book(&other, in_subnet(&theirs)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Another project's IP is not found, whatever the verb.
    let path = format!("{IPS}/{mine}");
    assert_eq!(other.get(&path).await.status, 404);
    assert_eq!(sdk(&other, Method::DELETE, &path).await.status, 404);
    let r = other
        .post(
            &format!("{path}/attach"),
            json!({"resource": {"mac_address": MAC}}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = other
        .post(
            "/ipam/v1/regions/fr-par/ip-sets/release",
            json!({"ip_ids": [mine]}),
        )
        .await;
    assert_eq!(r.status, 404);
    // Its list shows its own; naming another project is 403, booking in one too.
    let r = other.get(IPS).await;
    assert_eq!(r.json["total_count"], 1);
    assert!(!r.text.contains(&mine));
    assert_eq!(
        other.get(&format!("{IPS}?project_id={p}")).await.status,
        403
    );
    let mut body = in_subnet(&subnet);
    body["project_id"] = json!(p);
    let r = book(&other, body).await;
    assert_eq!(
        (r.status.as_u16(), &r.json["type"]),
        (403, &json!("permissions_denied"))
    );
    // Another project's subnet is not found by a tenant; an admin books in any project.
    let r = book(&other, in_subnet(&subnet)).await;
    assert_eq!(r.status, 404);
    let r = book(&s, in_subnet(&subnet)).await;
    assert_eq!(r.status, 400, "an admin names the project: {}", r.text);
    let mut body = in_subnet(&subnet);
    body["project_id"] = json!(p);
    assert_eq!(book(&s, body).await.status, 200);
    assert_eq!(s.get(IPS).await.json["total_count"], 3);
    assert_eq!(me.get(IPS).await.json["total_count"], 2);
    assert_eq!(sdk(&me, Method::DELETE, &path).await.status, 204);
}

#[tokio::test]
async fn melange_and_scaleway_share_one_address_space() {
    let s = TestServer::start().await;
    let p = project(7);
    let subnet = block(&s, &p, "10.7.0.0/26", Some("pn-7")).await;
    let me = tenant(&s, &p).await;
    let addresses = format!("/v0.1/ipam/tenants/{p}/ip_blocks/{subnet}/ip_addresses");
    // Concurrent callers on both surfaces: no address is handed out twice.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (s, me, addresses) = (s.client.clone(), me.clone(), addresses.clone());
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                let r = s.post(&addresses, json!({})).await;
                assert_eq!(r.status, 201, "{}", r.text);
                (
                    true,
                    r.json["ip_address"]["address"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            } else {
                let body = json!({"source": {"private_network_id": "pn-7"}, "is_ipv6": false});
                let r = me.post(IPS, body).await;
                assert_eq!(r.status, 200, "{}", r.text);
                (
                    false,
                    r.json["address"]
                        .as_str()
                        .unwrap()
                        .split('/')
                        .next()
                        .unwrap()
                        .to_string(),
                )
            }
        }));
    }
    let mut got = BTreeSet::new();
    let mut melange_held = None;
    for t in tasks {
        let (melange, address) = t.await.expect("task");
        if melange {
            melange_held = Some(address.clone());
        }
        assert!(got.insert(address), "an address handed out twice");
    }
    assert_eq!(got.len(), 40);
    // The block's Melange listing shows the Scaleway IPs too.
    let listed = s.get(&format!("{addresses}?limit=1000")).await;
    let shown: BTreeSet<String> = listed.json["ip_addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .map(|a| a["address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(shown, got);
    // Asking Melange for a Scaleway-held address is a conflict, and so is freeing it.
    let scw = me.get(IPS).await.json["ips"][0].clone();
    let held = scw["address"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let r = s
        .post(&addresses, json!({"ip_address": {"address": held}}))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = s.delete(&format!("{addresses}/{held}")).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains(scw["id"].as_str().unwrap()), "{}", r.text);
    let r = s
        .put(&format!("{addresses}/{held}/restore"), json!({}))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    // Booking a Melange-held address is a conflict too.
    let mut body = in_subnet(&subnet);
    body["address"] = json!(melange_held.expect("a Melange address"));
    let r = book(&me, body).await;
    assert_eq!(r.status, 409, "{}", r.text);
    // Released through Scaleway, the address is free for Melange at once.
    let id = scw["id"].as_str().unwrap();
    assert_eq!(
        sdk(&me, Method::DELETE, &format!("{IPS}/{id}"))
            .await
            .status,
        204
    );
    let r = s
        .post(&addresses, json!({"ip_address": {"address": held}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // One address asked for on both surfaces at once: exactly one caller gets it.
    let mut racers = Vec::new();
    for i in 0..16 {
        let (s, me, addresses) = (s.client.clone(), me.clone(), addresses.clone());
        racers.push(tokio::spawn(async move {
            let r = if i % 2 == 0 {
                s.post(&addresses, json!({"ip_address": {"address": "10.7.0.60"}})).await
            } else {
                let body = json!({"source": {"private_network_id": "pn-7"}, "is_ipv6": false, "address": "10.7.0.60"});
                me.post(IPS, body).await
            };
            r.status.as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for r in racers {
        statuses.push(r.await.expect("task"));
    }
    let won = statuses.iter().filter(|s| matches!(s, 200 | 201)).count();
    assert_eq!(won, 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 201 | 409)),
        "{statuses:?}"
    );
    // `ipledger verify` finds no address held twice in the log (a copy: the server runs).
    let copy = tempfile::tempdir().expect("tempdir");
    copy_dir(&s.dir, copy.path());
    let dir = copy.path().to_str().expect("utf-8 path");
    let (ok, out, err) = crate::support::run_cli(&["verify", "--data-dir", dir]);
    assert!(ok, "verify failed:\n{out}\n{err}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        if e.file_type().expect("file type").is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

/// The venv `scripts/install-test-deps` makes: `target/test-venv` (or `IPLEDGER_TEST_VENV`).
pub(crate) fn venv_python() -> PathBuf {
    if let Some(dir) = std::env::var_os("IPLEDGER_TEST_VENV") {
        return PathBuf::from(dir).join("bin/python");
    }
    let exe = std::env::current_exe().expect("current exe");
    let target = exe.ancestors().nth(3).expect("target dir");
    target.join("test-venv/bin/python")
}

/// The official `scaleway` SDK (2.12.0) drives the API unchanged, with `api_url` pointing
/// here: booking in a private network and a subnet, a given address, tags and reverses,
/// attach/detach/move, release refused while attached, release sets, every filter and
/// order, paging and `list_i_ps_all`, isolation, and the SDK's own exceptions.
#[tokio::test]
async fn the_official_sdk_drives_the_api() {
    let python = venv_python();
    if !python.exists() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "{} is missing: scripts/install-test-deps creates it (pip install scaleway==2.12.0)",
            python.display()
        );
        eprintln!(
            "SKIPPED: {} is missing; run scripts/install-test-deps to test with the Scaleway SDK",
            python.display()
        );
        return;
    }
    let s = TestServer::start().await;
    let (p, q) = (project(8), project(9));
    let subnet = block(&s, &p, "10.8.0.0/24", Some("pn-8")).await;
    let other_subnet = block(&s, &q, "10.9.0.0/24", None).await;
    // The zone fr-par-2: an address pool of the provider's tenant, shared by the projects.
    let provider = block(&s, "provider", "10.77.0.0/24", None).await;
    let r = s
        .client
        .post(
            "/v1/pools",
            json!({"name": "fr-par-2", "kind": "address", "tenant_id": "provider",
                   "resources": [provider], "zone": "fr-par-2"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = |c: &str| {
        let admin = s.client.clone();
        let c = c.to_string();
        async move {
            let r = admin
                .post(
                    "/v1/auth/tokens",
                    json!({"name": format!("sdk-{c}"), "role": format!("tenant:{c}")}),
                )
                .await;
            r.json["token"]["secret"]
                .as_str()
                .expect("secret")
                .to_string()
        }
    };
    let (mine, theirs) = (secret(&p).await, secret(&q).await);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sdk/scaleway_sdk_test.py");
    let base = s.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .env("API_URL", base)
            .env("PROJECT_ID", &p)
            .env("SECRET_KEY", mine)
            .env("OTHER_PROJECT_ID", &q)
            .env("OTHER_SECRET_KEY", theirs)
            .env("PRIVATE_NETWORK_ID", "pn-8")
            .env("SUBNET_ID", subnet)
            .env("OTHER_SUBNET_ID", other_subnet)
            .env("ZONE", "fr-par-2")
            .env("ZONE_PREFIX", "10.77.0.")
            .output()
            .expect("run the SDK script")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK script failed\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("SDK OK"), "{stdout}\n{stderr}");
}

#[tokio::test]
async fn bookings_survive_a_restart_and_retries_book_once() {
    // The events are folded again from the log at start: the IP, its resource and its
    // address's place in the free map come back; an Idempotency-Key retry books nothing new.
    let s = TestServer::start().await;
    let p = project(10);
    let subnet = block(&s, &p, "10.10.0.0/24", None).await;
    let mut body = in_subnet(&subnet);
    body["project_id"] = json!(p);
    body["resource"] = json!({"mac_address": MAC, "name": "vm-1"});
    let key = [("idempotency-key", "book-once")];
    let first = s.send(Method::POST, IPS, Some(&body), &key).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let again = s.send(Method::POST, IPS, Some(&body), &key).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        again.json, first.json,
        "the retry answers the first booking"
    );
    assert_eq!(s.get(IPS).await.json["total_count"], 1);
    let s = s.restart().await;
    let id = first.json["id"].as_str().unwrap();
    let r = s.get(&format!("{IPS}/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json, first.json);
    let next = book(&s, body).await;
    assert_ne!(next.json["address"], first.json["address"], "{}", next.text);
}
