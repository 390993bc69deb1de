//! Black-box HTTP tests of addresses (seed 004 "IP Address"): allocation order, specific
//! allocation and its conflicts, soft deallocation and restore, the allocated lists, and
//! policies during allocation (decisions 7–10, 13, 14; melange-semantics.md §2, §3, §7 and
//! §8 scenarios 8–10).

use serde_json::{json, Value};

use crate::support::{Res, TestServer};

const ADDRESS_FIELDS: [&str; 10] = [
    "address",
    "created_at",
    "deallocated_at",
    "id",
    "interface_id",
    "ip_block_id",
    "updated_at",
    "used_by_device",
    "used_by_tenant",
    "version",
];

fn fault_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        404 => "NotFound",
        409 => "Conflict",
        422 => "UnprocessableEntity",
        _ => panic!("no fault name for {status}"),
    }
}

/// Asserts the status, the fault shape and the detail; returns the inner fault object.
fn fault(r: &Res, status: u16, detail: &str) -> Value {
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
    assert_eq!(inner["detail"], detail, "{}", r.text);
    inner
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

fn block_path(tenant: &str, id: &Value) -> String {
    format!(
        "/v0.1/ipam/tenants/{tenant}/ip_blocks/{}",
        id.as_str().expect("block id")
    )
}

/// Creates a block (201) and returns its path `/v0.1/ipam/tenants/{t}/ip_blocks/{id}`.
async fn block(srv: &TestServer, tenant: &str, body: Value) -> (String, Value) {
    let r = srv
        .post(
            &format!("/v0.1/ipam/tenants/{tenant}/ip_blocks"),
            json!({ "ip_block": body }),
        )
        .await;
    assert_eq!(r.status, 201, "create block: {}", r.text);
    let b = r.json["ip_block"].clone();
    (block_path(tenant, &b["id"]), b)
}

async fn private_block(srv: &TestServer, tenant: &str, cidr: &str) -> (String, Value) {
    block(srv, tenant, json!({"type": "private", "cidr": cidr})).await
}

async fn allocate(srv: &TestServer, block: &str, body: Value) -> Res {
    srv.post(
        &format!("{block}/ip_addresses"),
        json!({ "ip_address": body }),
    )
    .await
}

/// Allocates (asserting 201) and returns the address JSON.
async fn allocated(srv: &TestServer, block: &str, body: Value) -> Value {
    let r = allocate(srv, block, body).await;
    assert_eq!(r.status, 201, "allocate: {}", r.text);
    r.json["ip_address"].clone()
}

fn addresses(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|a| a["address"].as_str().expect("address").to_string())
        .collect()
}

async fn create_policy(srv: &TestServer, tenant: &str) -> String {
    let r = srv
        .post(
            &format!("/v0.1/ipam/tenants/{tenant}/policies"),
            json!({"policy": {"name": "infra"}}),
        )
        .await;
    assert_eq!(r.status, 201, "create policy: {}", r.text);
    format!(
        "/v0.1/ipam/tenants/{tenant}/policies/{}",
        r.json["policy"]["id"].as_str().unwrap()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_next_address_order_of_a_29_then_full() {
    let srv = TestServer::start().await;
    let tenant = "ta-order";
    let (path, b) = private_block(&srv, tenant, "10.0.0.0/29").await;
    let mut got = Vec::new();
    for _ in 0..5 {
        let a = allocated(&srv, &path, json!({})).await;
        let mut keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ADDRESS_FIELDS);
        assert_eq!(a["ip_block_id"], b["id"]);
        assert_eq!(a["version"], 4);
        assert_eq!(
            a["used_by_tenant"], tenant,
            "the lessee defaults to the block owner"
        );
        assert_eq!(a["interface_id"], Value::Null);
        assert_eq!(a["used_by_device"], Value::Null);
        assert_eq!(a["deallocated_at"], Value::Null);
        assert!(
            is_timestamp(&a["created_at"]) && is_timestamp(&a["updated_at"]),
            "{a}"
        );
        got.push(a["address"].as_str().unwrap().to_string());
    }
    // Decision 7: not the network address (/30 or shorter), not the gateway .1, not the
    // broadcast .7.
    assert_eq!(
        got,
        ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
    );
    fault(
        &allocate(&srv, &path, json!({})).await,
        422,
        "IpBlock is full",
    );

    // Decision 8: no "full" latch, and a specific request may name the network address.
    let a = allocated(&srv, &path, json!({"address": "10.0.0.0"})).await;
    assert_eq!(a["address"], "10.0.0.0");
    fault(
        &allocate(&srv, &path, json!({})).await,
        422,
        "IpBlock is full",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_allocate_without_any_body_takes_the_next_address() {
    let srv = TestServer::start().await;
    let (path, _) = private_block(&srv, "ta-nobody", "10.0.0.0/24").await;
    let r = srv
        .send(
            reqwest::Method::POST,
            &format!("{path}/ip_addresses"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["ip_address"]["address"], "10.0.0.2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_allocate_a_given_address_and_its_refusals() {
    let srv = TestServer::start().await;
    let tenant = "ta-given";
    let (path, b) = private_block(&srv, tenant, "10.0.0.0/24").await;

    let a = allocated(
        &srv,
        &path,
        json!({"address": "10.0.0.50", "interface_id": "vif-1", "tenant_id": "ta-lessee", "used_by_device": "vm-1", "mac_address": "AB:CD:EF:01:02:03"}),
    )
    .await;
    assert_eq!(a["address"], "10.0.0.50");
    assert_eq!(a["ip_block_id"], b["id"]);
    assert_eq!(a["interface_id"], "vif-1");
    assert_eq!(a["used_by_tenant"], "ta-lessee");
    assert_eq!(a["used_by_device"], "vm-1");

    fault(
        &allocate(&srv, &path, json!({"address": "10.0.0.50"})).await,
        409,
        "Address is already allocated",
    );
    fault(
        &allocate(&srv, &path, json!({"address": "10.0.0.1"})).await,
        409,
        "Address is already allocated",
    );
    fault(
        &allocate(&srv, &path, json!({"address": "10.0.0.255"})).await,
        409,
        "Address is already allocated",
    );
    fault(
        &allocate(&srv, &path, json!({"address": "10.0.1.5"})).await,
        422,
        "Address does not belong to IpBlock",
    );
    fault(
        &allocate(&srv, &path, json!({"address": "fe::5"})).await,
        422,
        "Address does not belong to IpBlock",
    );

    // Decision 10: an unparsable address is 400 naming the field, never 500.
    for bad in ["abc", "10.0.0.256", "10.0.0", "10.0.0.5/24", "::g"] {
        let inner = fault(&allocate(&srv, &path, json!({"address": bad})).await, 400, &format!("The following values are invalid: {{'address': ['{bad} is not a valid IP address']}}"));
        assert_eq!(
            inner["errors"]["address"],
            json!([format!("{bad} is not a valid IP address")]),
            "{bad}"
        );
    }

    // Leading zeros are read as Melange normalised them.
    let a = allocated(&srv, &path, json!({"address": "10.0.0.051"})).await;
    assert_eq!(a["address"], "10.0.0.51");
    fault(
        &allocate(&srv, &path, json!({"address": "10.0.0.51"})).await,
        409,
        "Address is already allocated",
    );

    let listed = srv.get(&format!("{path}/ip_addresses")).await;
    assert_eq!(
        addresses(&listed.json["ip_addresses"]),
        ["10.0.0.50", "10.0.0.51"],
        "refusals allocated nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_show_address_and_its_not_found() {
    let srv = TestServer::start().await;
    let tenant = "ta-show";
    let (path, _) = private_block(&srv, tenant, "10.0.0.0/24").await;
    let a = allocated(
        &srv,
        &path,
        json!({"address": "10.0.0.7", "interface_id": "vif-7"}),
    )
    .await;

    let r = srv.get(&format!("{path}/ip_addresses/10.0.0.7")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["ip_address"], a);

    fault(
        &srv.get(&format!("{path}/ip_addresses/10.0.0.8")).await,
        404,
        "IpAddress Not Found",
    );
    fault(
        &srv.get(&format!("{path}/ip_addresses/10.9.9.9")).await,
        404,
        "IpAddress Not Found",
    );
    let r = srv.get(&format!("{path}/ip_addresses/not-an-ip")).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.json["BadRequest"]["errors"]["address"],
        json!(["not-an-ip is not a valid IP address"])
    );
    let other = format!(
        "/v0.1/ipam/tenants/ta-show-other/ip_blocks/{}/ip_addresses/10.0.0.7",
        a["ip_block_id"].as_str().unwrap()
    );
    fault(&srv.get(&other).await, 404, "IpBlock Not Found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_address_crud_scenario_10_with_soft_deallocation_and_restore() {
    let srv = TestServer::start().await;
    let tenant = "ta-crud";
    let (path, _) = private_block(&srv, tenant, "10.1.1.0/24").await;
    let two = allocated(
        &srv,
        &path,
        json!({"address": "10.1.1.2", "interface_id": "vif-2", "used_by_device": "vm-2"}),
    )
    .await;
    let shown = srv.get(&format!("{path}/ip_addresses/10.1.1.2")).await;
    assert_eq!(shown.json["ip_address"], two);
    let three = allocated(&srv, &path, json!({"address": "10.1.1.3"})).await;

    let list = srv.get(&format!("{path}/ip_addresses")).await;
    assert_eq!(list.status, 200);
    assert_eq!(
        list.json["ip_addresses"],
        json!([two.clone(), three.clone()]),
        "exactly the two"
    );

    let r = srv.delete(&format!("{path}/ip_addresses/10.1.1.2")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, "", "deallocate answers an empty body");

    // Decision 14: a deallocated address still shows and lists, interface fields null.
    let r = srv.get(&format!("{path}/ip_addresses/10.1.1.2")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let gone = r.json["ip_address"].clone();
    assert!(
        is_timestamp(&gone["deallocated_at"]),
        "deallocated_at is set: {gone}"
    );
    assert_eq!(gone["interface_id"], Value::Null);
    assert_eq!(gone["used_by_device"], Value::Null);
    assert_eq!(gone["used_by_tenant"], tenant);
    assert_eq!(gone["id"], two["id"]);
    let list = srv.get(&format!("{path}/ip_addresses")).await;
    assert_eq!(
        list.json["ip_addresses"],
        json!([gone.clone(), three.clone()]),
        "allocated and soft-deallocated"
    );

    // Decision 13: it stays occupied.
    fault(
        &allocate(&srv, &path, json!({"address": "10.1.1.2"})).await,
        409,
        "Address is already allocated",
    );
    let next = allocated(&srv, &path, json!({})).await;
    assert_eq!(
        next["address"], "10.1.1.4",
        "auto allocation skips the deallocated .2"
    );

    let r = srv
        .put(&format!("{path}/ip_addresses/10.1.1.2/restore"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, "", "restore answers an empty body");
    let back = srv.get(&format!("{path}/ip_addresses/10.1.1.2")).await.json["ip_address"].clone();
    assert_eq!(back["deallocated_at"], Value::Null);
    assert_eq!(
        back["interface_id"], "vif-2",
        "restore brings the interface link back"
    );
    assert_eq!(back["used_by_device"], "vm-2");

    // Restoring a live address is a no-op success; unknown addresses are 404.
    let r = srv
        .send(
            reqwest::Method::PUT,
            &format!("{path}/ip_addresses/10.1.1.2/restore"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    fault(
        &srv.delete(&format!("{path}/ip_addresses/10.1.1.99")).await,
        404,
        "IpAddress Not Found",
    );
    fault(
        &srv.put(&format!("{path}/ip_addresses/10.1.1.99/restore"), json!({}))
            .await,
        404,
        "IpAddress Not Found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_block_address_list_paginates() {
    let srv = TestServer::start().await;
    let (path, _) = private_block(&srv, "ta-pages", "10.0.0.0/24").await;
    let mut all = Vec::new();
    for _ in 0..3 {
        all.push(
            allocated(&srv, &path, json!({})).await["address"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let first = srv.get(&format!("{path}/ip_addresses?limit=2")).await;
    assert_eq!(addresses(&first.json["ip_addresses"]), all[0..2]);
    let href = first.json["ip_addresses_links"][0]["href"]
        .as_str()
        .expect("next link")
        .to_string();
    let rest = srv
        .get(href.strip_prefix(&srv.base).expect("href on this server"))
        .await;
    assert_eq!(addresses(&rest.json["ip_addresses"]), all[2..3]);
    assert!(
        rest.json.get("ip_addresses_links").is_none(),
        "{}",
        rest.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_provider_allocated_list_filters_by_device_scenario_8() {
    let srv = TestServer::start().await;
    let (path, b) = private_block(&srv, "ta-provider", "30.1.1.1/24").await;
    assert_eq!(b["cidr"], "30.1.1.0/24");
    let d1 = allocated(
        &srv,
        &path,
        json!({"address": "30.1.1.2", "used_by_device": "ta-d1"}),
    )
    .await;
    let d2 = allocated(
        &srv,
        &path,
        json!({"address": "30.1.1.3", "used_by_device": "ta-d2"}),
    )
    .await;

    let r = srv
        .get("/v0.1/ipam/allocated_ip_addresses?used_by_device=ta-d1")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["ip_addresses"],
        json!([d1.clone()]),
        "exactly the first"
    );
    let r = srv.get("/v0.1/ipam/allocated_ip_addresses").await;
    assert_eq!(r.json["ip_addresses"], json!([d1, d2.clone()]));

    // Soft-deallocated addresses are not "allocated".
    assert_eq!(
        srv.delete(&format!("{path}/ip_addresses/30.1.1.2"))
            .await
            .status,
        200
    );
    let r = srv
        .get("/v0.1/ipam/allocated_ip_addresses?used_by_device=ta-d1")
        .await;
    assert_eq!(r.json["ip_addresses"], json!([]));
    let r = srv.get("/v0.1/ipam/allocated_ip_addresses").await;
    assert_eq!(r.json["ip_addresses"], json!([d2]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_tenant_allocated_list_is_by_lessee_scenario_9() {
    let srv = TestServer::start().await;
    let (path, _) = private_block(&srv, "ta-owner", "10.0.0.0/24").await;
    let a = allocated(
        &srv,
        &path,
        json!({"tenant_id": "ta-t1", "used_by_device": "vm-a"}),
    )
    .await;
    let b = allocated(&srv, &path, json!({"tenant_id": "ta-t2"})).await;
    let c = allocated(
        &srv,
        &path,
        json!({"tenant_id": "ta-t1", "used_by_device": "vm-c"}),
    )
    .await;
    assert_eq!(a["used_by_tenant"], "ta-t1");

    let r = srv
        .get("/v0.1/ipam/tenants/ta-t1/allocated_ip_addresses")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["ip_addresses"],
        json!([a.clone(), c.clone()]),
        "exactly its two"
    );
    let r = srv
        .get("/v0.1/ipam/tenants/ta-t2/allocated_ip_addresses")
        .await;
    assert_eq!(r.json["ip_addresses"], json!([b]));
    let r = srv
        .get("/v0.1/ipam/tenants/ta-owner/allocated_ip_addresses")
        .await;
    assert_eq!(
        r.json["ip_addresses"],
        json!([]),
        "the block owner is not the lessee"
    );

    let r = srv
        .get("/v0.1/ipam/tenants/ta-t1/allocated_ip_addresses?used_by_device=vm-c")
        .await;
    assert_eq!(r.json["ip_addresses"], json!([c.clone()]));

    let r = srv
        .get("/v0.1/ipam/tenants/ta-t1/allocated_ip_addresses?limit=1")
        .await;
    assert_eq!(r.json["ip_addresses"], json!([a.clone()]));
    assert!(
        r.json["ip_addresses_links"][0]["href"]
            .as_str()
            .is_some_and(|h| h.contains(&format!("marker={}", a["id"].as_str().unwrap()))),
        "{}",
        r.text
    );

    let addr = a["address"].as_str().unwrap();
    assert_eq!(
        srv.delete(&format!("{path}/ip_addresses/{addr}"))
            .await
            .status,
        200
    );
    let r = srv
        .get("/v0.1/ipam/tenants/ta-t1/allocated_ip_addresses")
        .await;
    assert_eq!(r.json["ip_addresses"], json!([c]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_subnetted_block_cannot_allocate() {
    let srv = TestServer::start().await;
    let tenant = "ta-subnetted";
    let (path, _) = private_block(&srv, tenant, "10.0.0.0/24").await;
    let r = srv
        .post(
            &format!("{path}/subnets"),
            json!({"subnet": {"cidr": "10.0.0.0/28"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sub = block_path(tenant, &r.json["subnet"]["id"]);

    fault(
        &allocate(&srv, &path, json!({})).await,
        422,
        "Subnetted block cannot allocate IPAddress",
    );
    fault(
        &allocate(&srv, &path, json!({"address": "10.0.0.200"})).await,
        422,
        "Subnetted block cannot allocate IPAddress",
    );
    let a = allocated(&srv, &sub, json!({})).await;
    assert_eq!(a["address"], "10.0.0.2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_policy_ranges_and_octets_refuse_auto_and_specific_allocation() {
    let srv = TestServer::start().await;
    let tenant = "ta-policy";
    let policy = create_policy(&srv, tenant).await;
    let r = srv
        .post(
            &format!("{policy}/unusable_ip_ranges"),
            json!({"ip_range": {"offset": 0, "length": 2}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = srv
        .post(
            &format!("{policy}/unusable_ip_octets"),
            json!({"ip_octet": {"octet": 3}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let policy_id = policy.rsplit('/').next().unwrap();
    // The gateway is moved to .6 so that the range 0..2 is what refuses .1.
    let (path, b) = block(&srv, tenant, json!({"type": "private", "cidr": "10.0.0.0/29", "gateway": "10.0.0.6", "policy_id": policy_id})).await;
    assert_eq!(b["policy_id"], policy_id);

    for refused in ["10.0.0.0", "10.0.0.1", "10.0.0.3"] {
        fault(
            &allocate(&srv, &path, json!({"address": refused})).await,
            422,
            "Block policy does not allow this address",
        );
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(
            allocated(&srv, &path, json!({})).await["address"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(got, ["10.0.0.2", "10.0.0.4", "10.0.0.5"]);
    fault(
        &allocate(&srv, &path, json!({})).await,
        422,
        "IpBlock is full",
    );
    fault(
        &allocate(&srv, &path, json!({"address": "10.0.0.6"})).await,
        409,
        "Address is already allocated",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_negative_range_offsets_count_from_the_end() {
    let srv = TestServer::start().await;
    let tenant = "ta-negative";
    let policy = create_policy(&srv, tenant).await;
    let r = srv
        .post(
            &format!("{policy}/unusable_ip_ranges"),
            json!({"ip_range": {"offset": -3, "length": 2}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let policy_id = policy.rsplit('/').next().unwrap();
    let (path, _) = block(
        &srv,
        tenant,
        json!({"type": "private", "cidr": "10.0.0.0/29", "policy_id": policy_id}),
    )
    .await;

    fault(
        &allocate(&srv, &path, json!({"address": "10.0.0.5"})).await,
        422,
        "Block policy does not allow this address",
    );
    fault(
        &allocate(&srv, &path, json!({"address": "10.0.0.6"})).await,
        422,
        "Block policy does not allow this address",
    );
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(
            allocated(&srv, &path, json!({})).await["address"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(got, ["10.0.0.2", "10.0.0.3", "10.0.0.4"]);
    fault(
        &allocate(&srv, &path, json!({})).await,
        422,
        "IpBlock is full",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_policy_changes_apply_to_the_next_allocation() {
    // Guards decision 8: Melange latched `is_full` and consumed skipped candidates for good, so
    // removing a policy rule never freed anything; here fullness is derived from state.
    let srv = TestServer::start().await;
    let tenant = "ta-policy-live";
    let policy = create_policy(&srv, tenant).await;
    let r = srv
        .post(
            &format!("{policy}/unusable_ip_ranges"),
            json!({"ip_range": {"offset": 0, "length": 8}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let range = format!(
        "{policy}/unusable_ip_ranges/{}",
        r.json["ip_range"]["id"].as_str().unwrap()
    );
    let (path, _) = private_block(&srv, tenant, "10.0.0.0/29").await;
    let r = srv
        .put(
            &path,
            json!({"ip_block": {"policy_id": policy.rsplit('/').next().unwrap()}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    fault(
        &allocate(&srv, &path, json!({})).await,
        422,
        "IpBlock is full",
    );

    let r = srv
        .put(&range, json!({"ip_range": {"offset": 2, "length": 1}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        allocated(&srv, &path, json!({})).await["address"],
        "10.0.0.3"
    );

    assert_eq!(srv.delete(&range).await.status, 200);
    assert_eq!(
        allocated(&srv, &path, json!({})).await["address"],
        "10.0.0.2"
    );

    // An octet rule added later applies at once.
    let r = srv
        .post(
            &format!("{policy}/unusable_ip_octets"),
            json!({"ip_octet": {"octet": 4}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        allocated(&srv, &path, json!({})).await["address"],
        "10.0.0.5"
    );

    // Deleting the policy detaches it from the block.
    assert_eq!(srv.delete(&policy).await.status, 200);
    assert_eq!(
        srv.get(&path).await.json["ip_block"]["policy_id"],
        Value::Null
    );
    assert_eq!(
        allocated(&srv, &path, json!({"address": "10.0.0.4"})).await["address"],
        "10.0.0.4"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_ipv6_specific_allocation_obeys_octet_rules_and_prints_compressed() {
    let srv = TestServer::start().await;
    let tenant = "ta-v6";
    let policy = create_policy(&srv, tenant).await;
    let r = srv
        .post(
            &format!("{policy}/unusable_ip_octets"),
            json!({"ip_octet": {"octet": 5}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let policy_id = policy.rsplit('/').next().unwrap();
    let (path, _) = block(
        &srv,
        tenant,
        json!({"type": "private", "cidr": "fe::/64", "policy_id": policy_id}),
    )
    .await;

    fault(
        &allocate(&srv, &path, json!({"address": "fe::5"})).await,
        422,
        "Block policy does not allow this address",
    );
    fault(
        &allocate(&srv, &path, json!({"address": "fe::1"})).await,
        409,
        "Address is already allocated",
    );
    fault(
        &allocate(&srv, &path, json!({"address": "fe::ffff:ffff:ffff:ffff"})).await,
        409,
        "Address is already allocated",
    );
    let a = allocated(
        &srv,
        &path,
        json!({"address": "00fe:0000:0000:0000:0000:0000:0000:0006"}),
    )
    .await;
    assert_eq!(a["address"], "fe::6");
    assert_eq!(a["version"], 6);
    let r = srv
        .get(&format!("{path}/ip_addresses/00fe:0:0:0:0:0:0:6"))
        .await;
    assert_eq!(r.status, 200, "any input form finds it: {}", r.text);
    assert_eq!(r.json["ip_address"], a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_broadcast_of_the_whole_ipv6_space_is_reserved() {
    // Guards the 2^128 edge: `::/0` has 2^128 addresses (sizes saturate at u128::MAX), and its
    // last address must still count as the broadcast, refused like any other block's.
    let srv = TestServer::start().await;
    let (path, b) = private_block(&srv, "ta-everything", "::/0").await;
    assert_eq!(b["broadcast"], "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    fault(
        &allocate(
            &srv,
            &path,
            json!({"address": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}),
        )
        .await,
        409,
        "Address is already allocated",
    );
    let a = allocated(
        &srv,
        &path,
        json!({"address": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"}),
    )
    .await;
    assert_eq!(a["address"], "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_allocation_in_unknown_or_foreign_blocks_is_not_found() {
    let srv = TestServer::start().await;
    let (path, b) = private_block(&srv, "ta-mine", "10.0.0.0/24").await;
    let foreign = block_path("ta-not-mine", &b["id"]);
    fault(
        &allocate(&srv, &foreign, json!({})).await,
        404,
        "IpBlock Not Found",
    );
    fault(
        &srv.delete(&format!("{foreign}/ip_addresses/10.0.0.2"))
            .await,
        404,
        "IpBlock Not Found",
    );
    let unknown = "/v0.1/ipam/tenants/ta-mine/ip_blocks/0190f6a4-0000-7000-8000-000000000000";
    fault(
        &allocate(&srv, unknown, json!({})).await,
        404,
        "IpBlock Not Found",
    );
    assert_eq!(
        srv.get(&format!("{path}/ip_addresses")).await.json["ip_addresses"],
        json!([])
    );
}

/// Walks every page of `path` (a list of `ip_addresses`) by its next links, `limit` at a time.
async fn every_page(srv: &TestServer, path: &str, limit: usize) -> Vec<Vec<String>> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut next = Some(format!("{path}{sep}limit={limit}"));
    let mut pages = Vec::new();
    while let Some(p) = next.take() {
        let r = srv.get(&p).await;
        assert_eq!(r.status, 200, "{}", r.text);
        pages.push(addresses(&r.json["ip_addresses"]));
        next = r.json["ip_addresses_links"][0]["href"].as_str().map(|h| {
            h.strip_prefix(&srv.base)
                .expect("on this server")
                .to_string()
        });
        assert!(pages.len() < 20, "pagination does not end");
    }
    pages
}

/// The address lists are served from indexes now (block by id, live by device); what they
/// answer must not change: a block's list is in id (allocation) order, not address order,
/// and keeps soft-deallocated addresses; the marker is the last id of the previous page; the
/// device filter applies before the limit, for a lessee and for the provider, and follows
/// deallocation and restore.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_address_pages_keep_id_order_markers_and_filters() {
    let srv = TestServer::start().await;
    let (path, _) = private_block(&srv, "ta-order", "10.9.0.0/24").await;
    let order = ["10.9.0.9", "10.9.0.3", "10.9.0.7", "10.9.0.2", "10.9.0.5"];
    for (i, a) in order.iter().enumerate() {
        let device = if i % 2 == 0 {
            "ta-dev-even"
        } else {
            "ta-dev-odd"
        };
        allocated(
            &srv,
            &path,
            json!({"address": a, "tenant_id": "ta-lessee", "used_by_device": device}),
        )
        .await;
    }
    assert_eq!(
        srv.delete(&format!("{path}/ip_addresses/10.9.0.7"))
            .await
            .status,
        200
    );
    let list = format!("{path}/ip_addresses");
    assert_eq!(
        every_page(&srv, &list, 2).await,
        vec![
            vec!["10.9.0.9", "10.9.0.3"],
            vec!["10.9.0.7", "10.9.0.2"],
            vec!["10.9.0.5"]
        ],
        "id order, soft-deallocated kept"
    );
    let lessee = "/v0.1/ipam/tenants/ta-lessee/allocated_ip_addresses?used_by_device=ta-dev-even";
    let provider = "/v0.1/ipam/allocated_ip_addresses?used_by_device=ta-dev-even";
    for filtered in [lessee, provider] {
        assert_eq!(
            every_page(&srv, filtered, 1).await,
            vec![vec!["10.9.0.9"], vec!["10.9.0.5"]],
            "{filtered}: the deallocated .7 is not allocated"
        );
    }
    let other = "/v0.1/ipam/tenants/ta-order/allocated_ip_addresses?used_by_device=ta-dev-even";
    assert_eq!(every_page(&srv, other, 5).await, vec![Vec::<String>::new()]);
    let unknown = "/v0.1/ipam/allocated_ip_addresses?used_by_device=ta-nobody";
    assert_eq!(
        every_page(&srv, unknown, 5).await,
        vec![Vec::<String>::new()]
    );

    assert_eq!(
        srv.put(&format!("{path}/ip_addresses/10.9.0.7/restore"), json!({}))
            .await
            .status,
        200
    );
    assert_eq!(
        every_page(&srv, lessee, 2).await,
        vec![vec!["10.9.0.9", "10.9.0.7"], vec!["10.9.0.5"]],
        "restored, in id order again"
    );
    assert_eq!(
        every_page(
            &srv,
            "/v0.1/ipam/tenants/ta-lessee/allocated_ip_addresses",
            3
        )
        .await,
        vec![
            vec!["10.9.0.9", "10.9.0.3", "10.9.0.7"],
            vec!["10.9.0.2", "10.9.0.5"]
        ]
    );
}
