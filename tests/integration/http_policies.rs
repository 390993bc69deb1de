//! Black-box HTTP tests of policies, unusable IP ranges and unusable IP octets (seed 004
//! "IP Policy", "Unusable IP Ranges", "Tenant Policy Unusable Ip Octets"; decision 18;
//! melange-semantics.md §6 and §8 scenarios 4–7).

use serde_json::{json, Value};

use crate::support::{Res, TestServer};

fn fault_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        _ => panic!("no fault name for {status}"),
    }
}

/// Asserts the status and the fault shape; returns the inner fault object.
fn fault(r: &Res, status: u16) -> Value {
    assert_eq!(r.status, status, "unexpected status; body: {}", r.text);
    assert_eq!(
        r.json.as_object().map(|o| o.len()),
        Some(1),
        "fault has one root key: {}",
        r.text
    );
    let inner = r.json[fault_name(status)].clone();
    assert_eq!(inner["code"], status, "{}", r.text);
    assert!(
        inner["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.text
    );
    assert!(inner["detail"].is_string(), "{}", r.text);
    inner
}

fn not_found(r: &Res, detail: &str) {
    assert_eq!(fault(r, 404)["detail"], detail, "{}", r.text);
}

/// A 400 whose structured errors name `field` with exactly `message`.
fn invalid(r: &Res, field: &str, message: &str) {
    let inner = fault(r, 400);
    assert_eq!(inner["errors"][field], json!([message]), "{}", r.text);
}

fn is_timestamp(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    s.len() == 19
        && s.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        })
}

fn policies(tenant: &str) -> String {
    format!("/v0.1/ipam/tenants/{tenant}/policies")
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().expect("a list").iter().map(id).collect()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

/// Creates a policy (201); returns its JSON and its path.
async fn policy(srv: &TestServer, tenant: &str, name: &str) -> (Value, String) {
    let r = srv
        .post(
            &policies(tenant),
            json!({"policy": {"name": name, "description": format!("{name} desc")}}),
        )
        .await;
    assert_eq!(r.status, 201, "create policy: {}", r.text);
    let p = r.json["policy"].clone();
    let path = format!("{}/{}", policies(tenant), id(&p));
    (p, path)
}

async fn create(srv: &TestServer, path: &str, key: &str, body: Value) -> Value {
    let r = srv.post(path, json!({ key: body })).await;
    assert_eq!(r.status, 201, "create {key}: {}", r.text);
    r.json[key].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_policy_crud_scenario_5() {
    let srv = TestServer::start().await;
    let tenant = "tp-crud";
    let r = srv.post(&policies(tenant), json!({"policy": {"name": "infrastructure", "description": "no infra ips", "tenant_id": "ignored"}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let p = r.json["policy"].clone();
    assert_eq!(
        keys(&p),
        [
            "created_at",
            "description",
            "id",
            "name",
            "tenant_id",
            "updated_at"
        ]
    );
    assert_eq!(p["name"], "infrastructure");
    assert_eq!(p["description"], "no infra ips");
    assert_eq!(p["tenant_id"], tenant, "the tenant comes from the URL");
    assert!(
        is_timestamp(&p["created_at"]) && is_timestamp(&p["updated_at"]),
        "{p}"
    );
    let path = format!("{}/{}", policies(tenant), id(&p));

    let shown = srv.get(&path).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json["policy"], p);

    let r = srv.put(&path, json!({"policy": {"name": "renamed"}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let updated = r.json["policy"].clone();
    assert_eq!(updated["name"], "renamed");
    assert_eq!(
        updated["description"], "no infra ips",
        "an absent description is kept"
    );
    assert_eq!(updated["id"], p["id"]);
    assert_eq!(updated["created_at"], p["created_at"]);
    assert_eq!(srv.get(&path).await.json["policy"], updated);

    let r = srv
        .put(&path, json!({"policy": {"description": null}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["policy"]["description"],
        Value::Null,
        "an explicit null clears it"
    );
    assert_eq!(r.json["policy"]["name"], "renamed");

    let r = srv.delete(&path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, "");
    not_found(&srv.get(&path).await, "Policy Not Found");
    not_found(&srv.delete(&path).await, "Policy Not Found");
    not_found(
        &srv.put(&path, json!({"policy": {"name": "x"}})).await,
        "Policy Not Found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_policy_list_scenario_4_is_per_tenant() {
    let srv = TestServer::start().await;
    let (a, _) = policy(&srv, "tp-list", "first").await;
    let (b, _) = policy(&srv, "tp-list", "second").await;
    let (c, cpath) = policy(&srv, "tp-list-other", "theirs").await;

    let r = srv.get(&policies("tp-list")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json,
        json!({"policies": [a, b]}),
        "exactly the two, no links"
    );
    assert_eq!(
        srv.get(&policies("tp-list-other")).await.json["policies"],
        json!([c.clone()])
    );

    // Another tenant's policy is invisible under your tenant.
    let foreign = cpath.replace("tp-list-other", "tp-list");
    not_found(&srv.get(&foreign).await, "Policy Not Found");
    not_found(&srv.delete(&foreign).await, "Policy Not Found");
    not_found(
        &srv.get(&format!("{foreign}/unusable_ip_ranges")).await,
        "Policy Not Found",
    );
    not_found(
        &srv.post(
            &format!("{foreign}/unusable_ip_octets"),
            json!({"ip_octet": {"octet": 1}}),
        )
        .await,
        "Policy Not Found",
    );
    assert_eq!(srv.get(&cpath).await.json["policy"], c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_policy_validation() {
    let srv = TestServer::start().await;
    let path = policies("tp-invalid");
    invalid(
        &srv.post(&path, json!({"policy": {"description": "no name"}}))
            .await,
        "name",
        "name should be present",
    );
    invalid(
        &srv.post(&path, json!({"policy": {"name": "   "}})).await,
        "name",
        "name should be present",
    );
    fault(
        &srv.post(&path, json!({"policy": {"name": "x", "colour": "red"}}))
            .await,
        400,
    );
    fault(&srv.post(&path, json!({"name": "x"})).await, 400);
    fault(
        &srv.post(&path, json!({"policy": {"name": {"nested": 1}}}))
            .await,
        400,
    );

    let (_, ppath) = policy(&srv, "tp-invalid", "kept").await;
    invalid(
        &srv.put(&ppath, json!({"policy": {"name": ""}})).await,
        "name",
        "name should be present",
    );
    assert_eq!(srv.get(&ppath).await.json["policy"]["name"], "kept");
    let r = srv
        .post(&path, json!({"policy": {"name": "no description"}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["policy"]["description"], Value::Null);
    assert_eq!(
        srv.get(&path).await.json["policies"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_policy_list_paginates_with_policies_links() {
    let srv = TestServer::start().await;
    let tenant = "tp-pages";
    let mut made = Vec::new();
    for i in 0..3 {
        made.push(id(&policy(&srv, tenant, &format!("p{i}")).await.0));
    }
    let r = srv.get(&format!("{}?limit=2", policies(tenant))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r.json["policies"]), made[0..2]);
    let link = &r.json["policies_links"][0];
    assert_eq!(link["rel"], "next");
    let href = link["href"].as_str().expect("href");
    assert!(href.contains(&format!("marker={}", made[1])), "{href}");
    let rest = srv
        .get(href.strip_prefix(&srv.base).expect("on this server"))
        .await;
    assert_eq!(ids(&rest.json["policies"]), made[2..3]);
    assert!(rest.json.get("policies_links").is_none(), "{}", rest.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_unusable_ranges_crud_scenario_6() {
    let srv = TestServer::start().await;
    let (p, ppath) = policy(&srv, "tp-ranges", "ranges").await;
    let rpath = format!("{ppath}/unusable_ip_ranges");

    let first = create(&srv, &rpath, "ip_range", json!({"offset": 1, "length": 2})).await;
    assert_eq!(
        keys(&first),
        [
            "created_at",
            "id",
            "length",
            "offset",
            "policy_id",
            "updated_at"
        ]
    );
    assert_eq!(first["offset"], 1);
    assert_eq!(first["length"], 2);
    assert_eq!(first["policy_id"], p["id"]);
    assert!(is_timestamp(&first["created_at"]));
    let first_path = format!("{rpath}/{}", id(&first));
    assert_eq!(srv.get(&first_path).await.json["ip_range"], first);

    // The spec sends integers as strings: "10" is 10.
    let r = srv
        .put(
            &first_path,
            json!({"ip_range": {"offset": "10", "length": "122"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let updated = r.json["ip_range"].clone();
    assert_eq!(updated["offset"], 10);
    assert_eq!(updated["length"], 122);
    assert_eq!(updated["id"], first["id"]);
    assert_eq!(srv.get(&first_path).await.json["ip_range"], updated);

    let second = create(
        &srv,
        &rpath,
        "ip_range",
        json!({"offset": "1", "length": "2"}),
    )
    .await;
    assert_eq!(second["offset"], 1);
    let list = srv.get(&rpath).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(
        list.json,
        json!({"ip_ranges": [updated, second.clone()]}),
        "exactly the two"
    );

    let r = srv.delete(&first_path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, "");
    not_found(&srv.get(&first_path).await, "IpRange Not Found");
    not_found(&srv.delete(&first_path).await, "IpRange Not Found");
    not_found(
        &srv.put(&first_path, json!({"ip_range": {"offset": 1}}))
            .await,
        "IpRange Not Found",
    );
    assert_eq!(srv.get(&rpath).await.json["ip_ranges"], json!([second]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_unusable_range_values_are_validated() {
    let srv = TestServer::start().await;
    let (_, ppath) = policy(&srv, "tp-range-rules", "rules").await;
    let rpath = format!("{ppath}/unusable_ip_ranges");
    const OFFSET: &str = "offset should be of type integer";
    const LENGTH: &str = "length should be a positive integer";

    invalid(
        &srv.post(&rpath, json!({"ip_range": {"offset": "abc", "length": 2}}))
            .await,
        "offset",
        OFFSET,
    );
    invalid(
        &srv.post(&rpath, json!({"ip_range": {"offset": 1.5, "length": 2}}))
            .await,
        "offset",
        OFFSET,
    );
    invalid(
        &srv.post(&rpath, json!({"ip_range": {"offset": [1], "length": 2}}))
            .await,
        "offset",
        OFFSET,
    );
    invalid(
        &srv.post(&rpath, json!({"ip_range": {"length": 2}})).await,
        "offset",
        OFFSET,
    );
    invalid(
        &srv.post(&rpath, json!({"ip_range": {"offset": 1, "length": "x"}}))
            .await,
        "length",
        LENGTH,
    );
    invalid(
        &srv.post(&rpath, json!({"ip_range": {"offset": 1, "length": -1}}))
            .await,
        "length",
        LENGTH,
    );
    invalid(
        &srv.post(&rpath, json!({"ip_range": {"offset": 1}})).await,
        "length",
        LENGTH,
    );
    fault(
        &srv.post(
            &rpath,
            json!({"ip_range": {"offset": 1, "length": 1, "extra": true}}),
        )
        .await,
        400,
    );
    assert_eq!(
        srv.get(&rpath).await.json["ip_ranges"],
        json!([]),
        "nothing was created"
    );

    // A zero length refuses nothing, so it is refused (issue 8, defect 8).
    invalid(
        &srv.post(&rpath, json!({"ip_range": {"offset": -3, "length": 0}}))
            .await,
        "length",
        LENGTH,
    );
    assert_eq!(srv.get(&rpath).await.json["ip_ranges"], json!([]));
    // Negative offsets (from the end) are valid.
    let r = create(&srv, &rpath, "ip_range", json!({"offset": -3, "length": 1})).await;
    assert_eq!(
        (r["offset"].clone(), r["length"].clone()),
        (json!(-3), json!(1))
    );
    let rp = format!("{rpath}/{}", id(&r));
    invalid(
        &srv.put(&rp, json!({"ip_range": {"offset": "x"}})).await,
        "offset",
        OFFSET,
    );
    invalid(
        &srv.put(&rp, json!({"ip_range": {"length": -5}})).await,
        "length",
        LENGTH,
    );
    invalid(
        &srv.put(&rp, json!({"ip_range": {"length": 0}})).await,
        "length",
        LENGTH,
    );
    let r = srv.put(&rp, json!({"ip_range": {"length": 4}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["ip_range"]["offset"], -3, "an absent offset is kept");
    assert_eq!(r.json["ip_range"]["length"], 4);

    // Unknown or non-uuid ids are the model's 404.
    not_found(
        &srv.get(&format!("{rpath}/not-a-uuid")).await,
        "IpRange Not Found",
    );
    not_found(
        &srv.get(&format!("{rpath}/0190f6a4-0000-7000-8000-000000000000"))
            .await,
        "IpRange Not Found",
    );
    not_found(
        &srv.get("/v0.1/ipam/tenants/tp-range-rules/policies/nope/unusable_ip_ranges")
            .await,
        "Policy Not Found",
    );
    not_found(
        &srv.post("/v0.1/ipam/tenants/tp-range-rules/policies/0190f6a4-0000-7000-8000-000000000000/unusable_ip_ranges", json!({"ip_range": {"offset": 1, "length": 1}})).await,
        "Policy Not Found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_unusable_octets_crud_scenario_7() {
    let srv = TestServer::start().await;
    let (p, ppath) = policy(&srv, "tp-octets", "octets").await;
    let opath = format!("{ppath}/unusable_ip_octets");

    let first = create(&srv, &opath, "ip_octet", json!({"octet": 255})).await;
    assert_eq!(
        keys(&first),
        ["created_at", "id", "octet", "policy_id", "updated_at"]
    );
    assert_eq!(first["octet"], 255);
    assert_eq!(first["policy_id"], p["id"]);
    let first_path = format!("{opath}/{}", id(&first));
    assert_eq!(srv.get(&first_path).await.json["ip_octet"], first);

    let r = srv
        .put(&first_path, json!({"ip_octet": {"octet": 200}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let updated = r.json["ip_octet"].clone();
    assert_eq!(updated["octet"], 200);
    assert_eq!(srv.get(&first_path).await.json["ip_octet"], updated);

    let second = create(&srv, &opath, "ip_octet", json!({"octet": 200})).await;
    let list = srv.get(&opath).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(
        list.json,
        json!({"ip_octets": [updated, second.clone()]}),
        "exactly the two"
    );

    let r = srv.delete(&first_path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, "");
    not_found(&srv.get(&first_path).await, "IpOctet Not Found");
    not_found(&srv.delete(&first_path).await, "IpOctet Not Found");
    not_found(&srv.get(&format!("{opath}/zzz")).await, "IpOctet Not Found");
    assert_eq!(srv.get(&opath).await.json["ip_octets"], json!([second]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_unusable_octet_update_accepts_post_as_in_the_spec() {
    let srv = TestServer::start().await;
    let (_, ppath) = policy(&srv, "tp-octet-post", "octets").await;
    let opath = format!("{ppath}/unusable_ip_octets");
    let o = create(&srv, &opath, "ip_octet", json!({"octet": 123})).await;
    let path = format!("{opath}/{}", id(&o));

    // Decision 18: the spec updates an octet with POST, the original with PUT; both work.
    let r = srv.post(&path, json!({"ip_octet": {"octet": 7}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["ip_octet"]["octet"], 7);
    assert_eq!(r.json["ip_octet"]["id"], o["id"]);
    assert_eq!(srv.get(&path).await.json["ip_octet"]["octet"], 7);
    let r = srv.put(&path, json!({"ip_octet": {"octet": "8"}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["ip_octet"]["octet"], 8);
    assert_eq!(
        srv.get(&opath).await.json["ip_octets"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "POST on an id updates, never creates"
    );
    not_found(
        &srv.post(
            &format!("{opath}/0190f6a4-0000-7000-8000-000000000000"),
            json!({"ip_octet": {"octet": 1}}),
        )
        .await,
        "IpOctet Not Found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_unusable_octets_are_enforced_to_0_255() {
    let srv = TestServer::start().await;
    let (_, ppath) = policy(&srv, "tp-octet-range", "octets").await;
    let opath = format!("{ppath}/unusable_ip_octets");
    const MESSAGE: &str = "octet should be an integer between 0 and 255";

    for bad in [
        json!(256),
        json!(-1),
        json!("abc"),
        json!(1.5),
        json!(true),
        json!(100000000000000000000u128 as f64),
    ] {
        invalid(
            &srv.post(&opath, json!({"ip_octet": {"octet": bad}})).await,
            "octet",
            MESSAGE,
        );
    }
    invalid(
        &srv.post(&opath, json!({"ip_octet": {}})).await,
        "octet",
        MESSAGE,
    );
    assert_eq!(srv.get(&opath).await.json["ip_octets"], json!([]));

    let zero = create(&srv, &opath, "ip_octet", json!({"octet": "0"})).await;
    assert_eq!(zero["octet"], 0);
    let path = format!("{opath}/{}", id(&zero));
    invalid(
        &srv.put(&path, json!({"ip_octet": {"octet": 256}})).await,
        "octet",
        MESSAGE,
    );
    invalid(
        &srv.post(&path, json!({"ip_octet": {"octet": 999}})).await,
        "octet",
        MESSAGE,
    );
    assert_eq!(
        srv.get(&path).await.json["ip_octet"]["octet"],
        0,
        "refused updates change nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_ranges_and_octets_paginate_with_links() {
    let srv = TestServer::start().await;
    let (_, ppath) = policy(&srv, "tp-rule-pages", "pages").await;
    for (path, key, body) in [
        (
            format!("{ppath}/unusable_ip_ranges"),
            "ip_range",
            json!({"offset": 1, "length": 1}),
        ),
        (
            format!("{ppath}/unusable_ip_octets"),
            "ip_octet",
            json!({"octet": 1}),
        ),
    ] {
        let a = id(&create(&srv, &path, key, body.clone()).await);
        let b = id(&create(&srv, &path, key, body).await);
        let list_key = format!("{key}s");
        let r = srv.get(&format!("{path}?limit=1")).await;
        assert_eq!(ids(&r.json[&list_key]), std::slice::from_ref(&a));
        let href = r.json[format!("{list_key}_links")][0]["href"]
            .as_str()
            .expect("next link")
            .to_string();
        assert!(href.contains(&format!("marker={a}")), "{href}");
        let rest = srv.get(href.strip_prefix(&srv.base).unwrap()).await;
        assert_eq!(ids(&rest.json[&list_key]), [b]);
        assert!(
            rest.json.get(format!("{list_key}_links")).is_none(),
            "{}",
            rest.text
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_deleting_a_policy_removes_its_rules_and_detaches_blocks() {
    let srv = TestServer::start().await;
    let tenant = "tp-cascade";
    let (p, ppath) = policy(&srv, tenant, "doomed").await;
    let range = create(
        &srv,
        &format!("{ppath}/unusable_ip_ranges"),
        "ip_range",
        json!({"offset": 0, "length": 4}),
    )
    .await;
    let r = srv
        .post(
            &format!("/v0.1/ipam/tenants/{tenant}/ip_blocks"),
            json!({"ip_block": {"type": "private", "cidr": "10.0.0.0/24", "policy_id": p["id"]}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let bpath = format!(
        "/v0.1/ipam/tenants/{tenant}/ip_blocks/{}",
        id(&r.json["ip_block"])
    );

    assert_eq!(srv.delete(&ppath).await.status, 200);
    assert_eq!(
        srv.get(&bpath).await.json["ip_block"]["policy_id"],
        Value::Null
    );
    not_found(
        &srv.get(&format!("{ppath}/unusable_ip_ranges/{}", id(&range)))
            .await,
        "Policy Not Found",
    );
    assert_eq!(srv.get(&policies(tenant)).await.json["policies"], json!([]));
    let r = srv
        .post(
            &format!("{bpath}/ip_addresses"),
            json!({"ip_address": {"address": "10.0.0.2"}}),
        )
        .await;
    assert_eq!(
        r.status, 201,
        "the deleted policy's range no longer applies: {}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_policy_routes_refuse_other_methods() {
    let srv = TestServer::start().await;
    let (_, ppath) = policy(&srv, "tp-methods", "m").await;
    let o = create(
        &srv,
        &format!("{ppath}/unusable_ip_octets"),
        "ip_octet",
        json!({"octet": 1}),
    )
    .await;
    let r = create(
        &srv,
        &format!("{ppath}/unusable_ip_ranges"),
        "ip_range",
        json!({"offset": 1, "length": 1}),
    )
    .await;
    for (method, path) in [
        (reqwest::Method::DELETE, policies("tp-methods")),
        (reqwest::Method::POST, ppath.clone()),
        (reqwest::Method::PUT, format!("{ppath}/unusable_ip_ranges")),
        (
            reqwest::Method::POST,
            format!("{ppath}/unusable_ip_ranges/{}", id(&r)),
        ),
        (
            reqwest::Method::PATCH,
            format!("{ppath}/unusable_ip_octets/{}", id(&o)),
        ),
    ] {
        let res = srv.send(method.clone(), &path, None, &[]).await;
        fault(&res, 405);
        assert!(
            res.json["MethodNotAllowed"]["detail"].as_str().is_some(),
            "{method} {path}"
        );
    }
}

/// A tenant's policy refusing all 256 last octets on `0.0.0.0/0` made each automatic
/// allocation walk the block inside the single writer (~3.6 s each; eight in parallel held
/// another tenant's allocation 27.9 s). Now "full" is known from the rules: every one of
/// eight parallel attempts answers 422 and another tenant's allocation goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_a_policy_refusing_every_octet_is_full_at_once_and_blocks_no_one() {
    let srv = TestServer::start().await;
    let hostile = "tp-hostile";
    let (p, ppath) = policy(&srv, hostile, "everything").await;
    for octet in 0..=255 {
        let path = format!("{ppath}/unusable_ip_octets");
        create(&srv, &path, "ip_octet", json!({"octet": octet})).await;
    }
    let blocks = format!("/v0.1/ipam/tenants/{hostile}/ip_blocks");
    let body = json!({"type": "private", "cidr": "0.0.0.0/0", "policy_id": p["id"]});
    let whole = create(&srv, &blocks, "ip_block", body).await;
    let hostile_addresses = format!("{blocks}/{}/ip_addresses", id(&whole));
    let victim_blocks = "/v0.1/ipam/tenants/tp-victim/ip_blocks";
    let body = json!({"type": "private", "cidr": "10.9.0.0/29"});
    let small = create(&srv, victim_blocks, "ip_block", body).await;
    let victim_addresses = format!("{victim_blocks}/{}/ip_addresses", id(&small));

    let attempts: Vec<_> = (0..8)
        .map(|_| srv.post(&hostile_addresses, json!({"ip_address": {}})))
        .collect();
    let (answers, victim) = tokio::join!(
        futures::future::join_all(attempts),
        srv.post(&victim_addresses, json!({"ip_address": {}}))
    );
    for r in answers {
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(
            r.json["UnprocessableEntity"]["detail"], "IpBlock is full",
            "{}",
            r.text
        );
    }
    assert_eq!(victim.status, 201, "{}", victim.text);
    assert_eq!(victim.json["ip_address"]["address"], "10.9.0.2");
}
