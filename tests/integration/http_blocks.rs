//! Black-box HTTP tests of versions, extensions, IP blocks and subnets (seed 004 "Versions",
//! "Extensions", "IP Blocks"; decisions 1–6, 21–23; melange-semantics.md §1 and §8
//! scenarios 1–3).

use serde_json::{json, Value};

use crate::support::{Res, TestServer};

/// Every field of the spec's ip_block JSON shape, plus ipledger's `ipv6_generator`
/// (decision 11: the block's own generator, null for the deployment's).
const BLOCK_FIELDS: [&str; 15] = [
    "broadcast",
    "cidr",
    "created_at",
    "dns1",
    "dns2",
    "gateway",
    "id",
    "ipv6_generator",
    "netmask",
    "network_id",
    "parent_id",
    "policy_id",
    "tenant_id",
    "type",
    "updated_at",
];

fn fault_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "UnprocessableEntity",
        _ => panic!("no fault name for {status}"),
    }
}

/// Asserts the status and Melange's fault shape `{Name: {code, message, detail}}`; returns
/// the inner object.
fn fault(r: &Res, status: u16) -> Value {
    assert_eq!(r.status, status, "unexpected status; body: {}", r.text);
    let obj = r
        .json
        .as_object()
        .unwrap_or_else(|| panic!("fault body is not a JSON object: {}", r.text));
    assert_eq!(obj.len(), 1, "fault has one root key: {}", r.text);
    let inner = &r.json[fault_name(status)];
    assert_eq!(inner["code"], status, "{}", r.text);
    assert!(
        inner["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.text
    );
    assert!(inner["detail"].is_string(), "{}", r.text);
    inner.clone()
}

fn fault_detail(r: &Res, status: u16, detail: &str) {
    let inner = fault(r, status);
    assert_eq!(inner["detail"], detail, "{}", r.text);
}

/// `YYYY-MM-DDTHH:MM:SS` (decision 21).
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

fn blocks_path(tenant: &str) -> String {
    format!("/v0.1/ipam/tenants/{tenant}/ip_blocks")
}

fn block_path(tenant: &str, id: &str) -> String {
    format!("/v0.1/ipam/tenants/{tenant}/ip_blocks/{id}")
}

/// Creates a block and returns its JSON (asserting 201).
async fn create_block(srv: &TestServer, tenant: &str, body: Value) -> Value {
    let r = srv
        .post(&blocks_path(tenant), json!({ "ip_block": body }))
        .await;
    assert_eq!(r.status, 201, "create block: {}", r.text);
    r.json["ip_block"].clone()
}

async fn private_block(srv: &TestServer, tenant: &str, cidr: &str) -> Value {
    create_block(srv, tenant, json!({"type": "private", "cidr": cidr})).await
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().expect("a list").iter().map(id).collect()
}

/// Follows an absolute next href of this server.
async fn follow(srv: &TestServer, href: &Value) -> Res {
    let href = href.as_str().expect("href is a string");
    let rest = href
        .strip_prefix(&srv.base)
        .unwrap_or_else(|| panic!("href {href} is not on {}", srv.base));
    srv.get(rest).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_versions_list_v0_1_as_current() {
    let srv = TestServer::start().await;
    let r = srv.get("/").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let versions = r.json["versions"].as_array().expect("versions list");
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["name"], "v0.1");
    assert_eq!(versions[0]["status"], "CURRENT");
    assert_eq!(
        versions[0]["links"],
        json!([{"rel": "self", "href": format!("{}/v0.1", srv.base)}])
    );

    let r = srv.get("/v0.1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["version"]["name"], "v0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_extensions_list_is_empty_and_an_alias_is_not_found() {
    let srv = TestServer::start().await;
    let r = srv.get("/v0.1/extensions").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json, json!({"extensions": []}));

    let r = srv.get("/v0.1/extensions/os-fancy").await;
    fault_detail(&r, 404, "Extension with alias os-fancy does not exist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_block_create_renders_every_spec_field() {
    let srv = TestServer::start().await;
    let r = srv
        .post(&blocks_path("tb-create"), json!({"ip_block": {"type": "private", "cidr": "10.1.1.77/24", "network_id": "quantum_net_id3"}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/json");
    let b = &r.json["ip_block"];
    let mut keys: Vec<&str> = b
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, BLOCK_FIELDS, "exactly the spec's fields");
    assert!(
        uuid::Uuid::parse_str(b["id"].as_str().unwrap()).is_ok(),
        "id is a uuid: {}",
        b["id"]
    );
    assert_eq!(
        b["cidr"], "10.1.1.0/24",
        "cidr is normalised to its network address"
    );
    assert_eq!(
        b["gateway"], "10.1.1.1",
        "gateway defaults to the second address"
    );
    assert_eq!(b["dns1"], "8.8.8.8");
    assert_eq!(b["dns2"], "8.8.4.4");
    assert_eq!(b["broadcast"], "10.1.1.255");
    assert_eq!(b["netmask"], "255.255.255.0");
    assert_eq!(b["network_id"], "quantum_net_id3");
    assert_eq!(b["parent_id"], Value::Null);
    assert_eq!(b["policy_id"], Value::Null);
    assert_eq!(b["tenant_id"], "tb-create");
    assert_eq!(b["type"], "private");
    assert!(
        is_timestamp(&b["created_at"]),
        "created_at: {}",
        b["created_at"]
    );
    assert!(
        is_timestamp(&b["updated_at"]),
        "updated_at: {}",
        b["updated_at"]
    );
    assert_eq!(b["created_at"], b["updated_at"]);

    let shown = srv.get(&block_path("tb-create", &id(b))).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(
        &shown.json["ip_block"], b,
        "show returns what create returned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_block_create_ipv6_renders_broadcast_and_prefix_netmask() {
    let srv = TestServer::start().await;
    let b = create_block(
        &srv,
        "tb-v6",
        json!({"type": "private", "cidr": "FE::1/64"}),
    )
    .await;
    assert_eq!(b["cidr"], "fe::/64");
    assert_eq!(b["broadcast"], "fe::ffff:ffff:ffff:ffff");
    assert_eq!(b["netmask"], "64");
    assert_eq!(b["gateway"], "fe::1");
    assert_eq!(b["dns1"], "8.8.8.8");

    let small = create_block(
        &srv,
        "tb-v6",
        json!({"type": "private", "cidr": "fe:1::/96"}),
    )
    .await;
    assert_eq!(small["broadcast"], "fe:1::ffff:ffff");
    assert_eq!(small["netmask"], "96");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_block_create_keeps_given_gateway_dns_and_ignores_body_tenant_and_parent() {
    let srv = TestServer::start().await;
    let b = create_block(
        &srv,
        "tb-given",
        json!({"type": "private", "cidr": "10.0.0.0/24", "gateway": "10.0.0.2", "dns1": "1.1.1.1", "dns2": "9.9.9.9",
               "tenant_id": "someone-else", "parent_id": "4ad71669-7225-4e3c-b82c-38533ddaef23"}),
    )
    .await;
    assert_eq!(b["gateway"], "10.0.0.2");
    assert_eq!(b["dns1"], "1.1.1.1");
    assert_eq!(b["dns2"], "9.9.9.9");
    assert_eq!(b["tenant_id"], "tb-given", "the tenant comes from the URL");
    assert_eq!(
        b["parent_id"],
        Value::Null,
        "a body parent_id is ignored on create"
    );

    // A single-address block has no second address, hence no default gateway.
    let host = create_block(
        &srv,
        "tb-given",
        json!({"type": "private", "cidr": "10.9.9.9/32"}),
    )
    .await;
    assert_eq!(host["gateway"], Value::Null);
    assert_eq!(host["broadcast"], "10.9.9.9");
    assert_eq!(host["netmask"], "255.255.255.255");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_block_create_validation_errors_use_the_fault_shape() {
    let srv = TestServer::start().await;
    let path = blocks_path("tb-invalid");
    let r = srv
        .post(
            &path,
            json!({"ip_block": {"type": "foo", "cidr": "abc", "gateway": "nope"}}),
        )
        .await;
    let inner = fault(&r, 400);
    assert_eq!(
        inner["message"],
        "The server could not comply with the request since it is either malformed or otherwise incorrect."
    );
    assert!(
        inner["detail"]
            .as_str()
            .unwrap()
            .starts_with("The following values are invalid: "),
        "{}",
        r.text
    );
    assert_eq!(inner["errors"]["cidr"], json!(["cidr is invalid"]));
    assert_eq!(
        inner["errors"]["type"],
        json!(["type should be one among public, private"])
    );
    assert_eq!(
        inner["errors"]["gateway"],
        json!(["Gateway is not a valid address"])
    );

    let r = srv
        .post(&path, json!({"ip_block": {"type": "private"}}))
        .await;
    assert_eq!(
        fault(&r, 400)["errors"]["cidr"],
        json!(["cidr is invalid"]),
        "a missing cidr fails like a bad one, as in Melange"
    );

    let r = srv
        .post(
            &path,
            json!({"ip_block": {"type": "private", "cidr": "10.0.0.0/33"}}),
        )
        .await;
    assert_eq!(fault(&r, 400)["errors"]["cidr"], json!(["cidr is invalid"]));

    let r = srv
        .post(&path, json!({"ip_block": {"cidr": "10.0.0.0/24"}}))
        .await;
    assert_eq!(
        fault(&r, 400)["errors"]["type"],
        json!(["type should be one among public, private"])
    );

    let missing_policy = "2f730874-2088-4f91-87fb-63792c753971";
    let r = srv.post(&path, json!({"ip_block": {"type": "private", "cidr": "10.0.0.0/24", "policy_id": missing_policy}})).await;
    assert_eq!(
        fault(&r, 400)["errors"]["policy_id"],
        json!([format!("Policy with id {missing_policy} doesn't exist")])
    );

    let r = srv
        .post(
            &path,
            json!({"ip_block": {"type": "private", "cidr": "10.0.0.0/24", "dns1": "dns.example"}}),
        )
        .await;
    assert_eq!(
        fault(&r, 400)["errors"]["dns1"],
        json!(["dns1 is not a valid address"])
    );

    let r = srv.post(&path, json!({"not_a_block": {}})).await;
    fault(&r, 400);

    let listed = srv.get(&path).await;
    assert_eq!(
        listed.json["ip_blocks"],
        json!([]),
        "no failed create left a block behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_block_list_is_exactly_the_tenants_blocks_and_filters_by_type() {
    let srv = TestServer::start().await;
    // Scenario 2: two blocks for a tenant; the list is exactly those two.
    let a = private_block(&srv, "tb-list", "10.0.0.0/24").await;
    let b = create_block(
        &srv,
        "tb-list",
        json!({"type": "public", "cidr": "77.0.0.0/24"}),
    )
    .await;
    private_block(&srv, "tb-list-other", "10.0.0.0/24").await;

    let r = srv.get(&blocks_path("tb-list")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["ip_blocks"],
        json!([a.clone(), b.clone()]),
        "both, in creation order, nothing else"
    );
    assert!(
        r.json.get("ip_blocks_links").is_none(),
        "no next link on a single page: {}",
        r.text
    );

    let r = srv
        .get(&format!("{}?type=public", blocks_path("tb-list")))
        .await;
    assert_eq!(r.json["ip_blocks"], json!([b]));
    let r = srv
        .get(&format!("{}?type=private", blocks_path("tb-list")))
        .await;
    assert_eq!(r.json["ip_blocks"], json!([a]));

    let r = srv
        .get(&format!("{}?type=bogus", blocks_path("tb-list")))
        .await;
    assert_eq!(
        fault(&r, 400)["errors"]["type"],
        json!(["type should be one among public, private"])
    );

    let r = srv.get(&blocks_path("tb-list-nobody")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json, json!({"ip_blocks": []}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_block_list_paginates_with_limit_marker_and_next_link() {
    let srv = TestServer::start().await;
    let tenant = "tb-pages";
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(id(
            &private_block(&srv, tenant, &format!("10.{i}.0.0/24")).await
        ));
    }

    let first = srv.get(&format!("{}?limit=2", blocks_path(tenant))).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(ids(&first.json["ip_blocks"]), created[0..2]);
    let links = first.json["ip_blocks_links"]
        .as_array()
        .expect("next link when more remain")
        .clone();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0]["rel"], "next");
    let href = links[0]["href"].as_str().unwrap();
    assert!(
        href.contains(&format!("marker={}", created[1])),
        "marker is the last id of the page: {href}"
    );
    assert!(href.contains("limit=2"), "the limit is kept: {href}");

    let second = follow(&srv, &links[0]["href"]).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(ids(&second.json["ip_blocks"]), created[2..4]);
    let third = follow(&srv, &second.json["ip_blocks_links"][0]["href"]).await;
    assert_eq!(ids(&third.json["ip_blocks"]), created[4..5]);
    assert!(
        third.json.get("ip_blocks_links").is_none(),
        "no link on the last page: {}",
        third.text
    );

    // Exactly a page's worth remaining: no link.
    let exact = srv.get(&format!("{}?limit=5", blocks_path(tenant))).await;
    assert_eq!(ids(&exact.json["ip_blocks"]), created);
    assert!(
        exact.json.get("ip_blocks_links").is_none(),
        "{}",
        exact.text
    );

    // The marker need not be on a page boundary, and the type filter survives into the link.
    let filtered = srv
        .get(&format!(
            "{}?type=private&limit=1&marker={}",
            blocks_path(tenant),
            created[2]
        ))
        .await;
    assert_eq!(ids(&filtered.json["ip_blocks"]), created[3..4]);
    let href = filtered.json["ip_blocks_links"][0]["href"]
        .as_str()
        .expect("next link")
        .to_string();
    assert!(href.contains("type=private"), "{href}");
    let rest = follow(&srv, &json!(href)).await;
    assert_eq!(ids(&rest.json["ip_blocks"]), created[4..5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_block_crud_scenario_1() {
    let srv = TestServer::start().await;
    let tenant = "tb-crud";
    let created = create_block(
        &srv,
        tenant,
        json!({"type": "private", "cidr": "10.1.1.0/29", "network_id": "net-a1"}),
    )
    .await;
    let path = block_path(tenant, &id(&created));
    let shown = srv.get(&path).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json["ip_block"], created);

    let r = srv
        .put(&path, json!({"ip_block": {"network_id": "net-b2"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let updated = r.json["ip_block"].clone();
    assert_eq!(updated["network_id"], "net-b2");
    for field in [
        "id",
        "cidr",
        "type",
        "gateway",
        "dns1",
        "dns2",
        "tenant_id",
        "created_at",
        "broadcast",
        "netmask",
    ] {
        assert_eq!(
            updated[field], created[field],
            "{field} unchanged by the update"
        );
    }
    assert!(is_timestamp(&updated["updated_at"]));
    let shown = srv.get(&path).await;
    assert_eq!(shown.json["ip_block"], updated, "show returns the update");

    let r = srv.delete(&path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, "", "delete answers an empty body");
    fault_detail(&srv.get(&path).await, 404, "IpBlock Not Found");
    fault_detail(&srv.delete(&path).await, 404, "IpBlock Not Found");
    fault_detail(
        &srv.put(&path, json!({"ip_block": {"network_id": "x"}}))
            .await,
        404,
        "IpBlock Not Found",
    );
    assert_eq!(
        srv.get(&blocks_path(tenant)).await.json["ip_blocks"],
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_block_update_ignores_cidr_and_redefaults_cleared_fields() {
    let srv = TestServer::start().await;
    let tenant = "tb-upd";
    let b = create_block(
        &srv,
        tenant,
        json!({"type": "private", "cidr": "10.0.0.0/24", "gateway": "10.0.0.9", "dns1": "1.1.1.1"}),
    )
    .await;
    let path = block_path(tenant, &id(&b));

    // Sending back what was received (cidr, tenant_id) is accepted and changes nothing.
    let r = srv
        .put(
            &path,
            json!({"ip_block": {"cidr": "99.0.0.0/8", "tenant_id": "thief"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["ip_block"]["cidr"], "10.0.0.0/24");
    assert_eq!(r.json["ip_block"]["tenant_id"], tenant);

    // A cleared gateway or dns falls back to the default, as Melange re-defaulted on save.
    let r = srv
        .put(&path, json!({"ip_block": {"gateway": null, "dns1": ""}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["ip_block"]["gateway"], "10.0.0.1");
    assert_eq!(r.json["ip_block"]["dns1"], "8.8.8.8");

    let r = srv
        .put(
            &path,
            json!({"ip_block": {"gateway": "10.0.0.254", "dns2": "4.4.4.4"}}),
        )
        .await;
    assert_eq!(r.json["ip_block"]["gateway"], "10.0.0.254");
    assert_eq!(r.json["ip_block"]["dns2"], "4.4.4.4");

    let r = srv
        .put(&path, json!({"ip_block": {"gateway": "not-an-ip"}}))
        .await;
    assert_eq!(
        fault(&r, 400)["errors"]["gateway"],
        json!(["Gateway is not a valid address"])
    );
    let r = srv
        .put(&path, json!({"ip_block": {"policy_id": "no-such-policy"}}))
        .await;
    assert_eq!(
        fault(&r, 400)["errors"]["policy_id"],
        json!(["Policy with id no-such-policy doesn't exist"])
    );
    assert_eq!(
        srv.get(&path).await.json["ip_block"]["gateway"],
        "10.0.0.254",
        "failed updates change nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_block_type_update_is_revalidated_against_public_overlap() {
    let srv = TestServer::start().await;
    create_block(
        &srv,
        "tb-type-a",
        json!({"type": "public", "cidr": "50.0.0.0/24"}),
    )
    .await;
    let b = private_block(&srv, "tb-type-b", "50.0.0.0/16").await;
    let path = block_path("tb-type-b", &id(&b));

    // Decision 5: `type` is updatable, and a private block turning public must not overlap a
    // public root of anyone.
    let r = srv
        .put(&path, json!({"ip_block": {"type": "public"}}))
        .await;
    assert_eq!(
        fault(&r, 400)["errors"]["cidr"],
        json!(["cidr overlaps with public block 50.0.0.0/24"])
    );
    assert_eq!(srv.get(&path).await.json["ip_block"]["type"], "private");

    let r = srv.put(&path, json!({"ip_block": {"type": "bogus"}})).await;
    assert_eq!(
        fault(&r, 400)["errors"]["type"],
        json!(["type should be one among public, private"])
    );

    let c = private_block(&srv, "tb-type-b", "60.0.0.0/24").await;
    let r = srv
        .put(
            &block_path("tb-type-b", &id(&c)),
            json!({"ip_block": {"type": "public"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["ip_block"]["type"], "public");
    let publics = srv
        .get(&format!("{}?type=public", blocks_path("tb-type-b")))
        .await;
    assert_eq!(ids(&publics.json["ip_blocks"]), [id(&c)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_public_blocks_never_overlap_across_tenants() {
    let srv = TestServer::start().await;
    create_block(
        &srv,
        "tb-pub-1",
        json!({"type": "public", "cidr": "50.0.0.0/24"}),
    )
    .await;

    let path = blocks_path("tb-pub-2");
    for cidr in ["50.0.0.0/16", "50.0.0.128/25", "50.0.0.0/24"] {
        let r = srv
            .post(&path, json!({"ip_block": {"type": "public", "cidr": cidr}}))
            .await;
        assert_eq!(
            fault(&r, 400)["errors"]["cidr"],
            json!(["cidr overlaps with public block 50.0.0.0/24"]),
            "{cidr}"
        );
    }
    // Private blocks may overlap anything; disjoint public blocks are fine.
    private_block(&srv, "tb-pub-2", "50.0.0.0/24").await;
    create_block(
        &srv,
        "tb-pub-2",
        json!({"type": "public", "cidr": "50.0.1.0/24"}),
    )
    .await;
    assert_eq!(
        srv.get(&path).await.json["ip_blocks"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_top_level_blocks_of_one_network_never_overlap() {
    let srv = TestServer::start().await;
    create_block(
        &srv,
        "tb-net-1",
        json!({"type": "private", "cidr": "10.0.0.0/24", "network_id": "shared-net"}),
    )
    .await;

    let r = srv.post(&blocks_path("tb-net-2"), json!({"ip_block": {"type": "private", "cidr": "10.0.0.0/25", "network_id": "shared-net"}})).await;
    assert_eq!(
        fault(&r, 400)["errors"]["cidr"],
        json!(["cidr overlaps with block 10.0.0.0/24 in same network"])
    );

    let r = srv.post(&blocks_path("tb-net-2"), json!({"ip_block": {"type": "public", "cidr": "70.0.0.0/24", "network_id": "shared-net"}})).await;
    assert_eq!(
        fault(&r, 400)["errors"]["type"],
        json!(["type should be same within a network"])
    );

    // Other network, or no network: free to overlap.
    create_block(
        &srv,
        "tb-net-2",
        json!({"type": "private", "cidr": "10.0.0.0/25", "network_id": "other-net"}),
    )
    .await;
    private_block(&srv, "tb-net-2", "10.0.0.0/25").await;

    // Moving a block into the network by update is checked the same way.
    let loose = private_block(&srv, "tb-net-2", "10.0.0.0/26").await;
    let r = srv
        .put(
            &block_path("tb-net-2", &id(&loose)),
            json!({"ip_block": {"network_id": "shared-net"}}),
        )
        .await;
    assert_eq!(
        fault(&r, 400)["errors"]["cidr"],
        json!(["cidr overlaps with block 10.0.0.0/24 in same network"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_block_delete_is_refused_while_it_holds_live_allocations() {
    let srv = TestServer::start().await;
    let tenant = "tb-del-ips";
    let b = private_block(&srv, tenant, "10.0.0.0/29").await;
    let path = block_path(tenant, &id(&b));
    let r = srv
        .post(&format!("{path}/ip_addresses"), json!({"ip_address": {}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let address = r.json["ip_address"]["address"]
        .as_str()
        .unwrap()
        .to_string();

    let r = srv.delete(&path).await;
    let inner = fault(&r, 409);
    assert!(
        inner["detail"].as_str().unwrap().contains("allocated"),
        "says why: {}",
        r.text
    );
    assert_eq!(srv.get(&path).await.status, 200, "the block is still there");

    // Decision 6: once every address is deallocated, the block goes, and them with it.
    let r = srv.delete(&format!("{path}/ip_addresses/{address}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = srv.delete(&path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, "");
    fault_detail(&srv.get(&path).await, 404, "IpBlock Not Found");
    fault_detail(
        &srv.get(&format!("{path}/ip_addresses")).await,
        404,
        "IpBlock Not Found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_block_delete_is_refused_while_it_has_subnets() {
    let srv = TestServer::start().await;
    let tenant = "tb-del-sub";
    let parent = private_block(&srv, tenant, "10.0.0.0/24").await;
    let ppath = block_path(tenant, &id(&parent));
    let r = srv
        .post(
            &format!("{ppath}/subnets"),
            json!({"subnet": {"cidr": "10.0.0.0/28"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sub = r.json["subnet"].clone();

    let r = srv.delete(&ppath).await;
    let inner = fault(&r, 409);
    assert!(
        inner["detail"].as_str().unwrap().contains("subnet"),
        "says why: {}",
        r.text
    );

    assert_eq!(srv.delete(&block_path(tenant, &id(&sub))).await.status, 200);
    assert_eq!(
        srv.get(&format!("{ppath}/subnets")).await.json,
        json!({"subnets": []})
    );
    assert_eq!(srv.delete(&ppath).await.status, 200);
    fault_detail(&srv.get(&ppath).await, 404, "IpBlock Not Found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_subnets_scenario_3_under_the_subnet_key() {
    let srv = TestServer::start().await;
    let tenant = "tb-sub-123";
    let parent = create_block(
        &srv,
        tenant,
        json!({"type": "private", "cidr": "10.0.0.0/8", "network_id": "net-sub"}),
    )
    .await;
    let spath = format!("{}/subnets", block_path(tenant, &id(&parent)));

    let r = srv
        .post(&spath, json!({"subnet": {"cidr": "10.0.1.0/29"}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let first = r.json["subnet"].clone();
    let mut keys: Vec<&str> = first
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, BLOCK_FIELDS);
    assert_eq!(first["cidr"], "10.0.1.0/29");
    assert_eq!(first["parent_id"], parent["id"]);
    assert_eq!(first["type"], "private", "type is the parent's");
    assert_eq!(
        first["network_id"], "net-sub",
        "network defaults to the parent's"
    );
    assert_eq!(
        first["tenant_id"], tenant,
        "tenant defaults to the parent's"
    );
    assert_eq!(first["gateway"], "10.0.1.1");
    assert_eq!(first["broadcast"], "10.0.1.7");
    assert_eq!(first["netmask"], "255.255.255.248");
    assert_eq!(first["dns1"], "8.8.8.8");

    let r = srv
        .post(&spath, json!({"subnet": {"cidr": "10.0.0.0/29"}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let second = r.json["subnet"].clone();

    let r = srv.get(&spath).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut listed = ids(&r.json["subnets"]);
    listed.sort();
    let mut expected = vec![id(&first), id(&second)];
    expected.sort();
    assert_eq!(listed, expected, "exactly the two subnets");

    // A subnet is a block of its own.
    let shown = srv.get(&block_path(tenant, &id(&first))).await;
    assert_eq!(shown.json["ip_block"], first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_subnet_body_is_also_accepted_under_ip_block() {
    let srv = TestServer::start().await;
    let parent = private_block(&srv, "tb-sub-key", "10.0.0.0/16").await;
    let spath = format!("{}/subnets", block_path("tb-sub-key", &id(&parent)));

    // Decision 4: the spec's "ip_block" root works too, including the spec's tenant_id.
    let r = srv
        .post(
            &spath,
            json!({"ip_block": {"cidr": "10.0.4.0/24", "tenant_id": "tb-sub-lessee"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sub = r.json["subnet"].clone();
    assert_eq!(sub["cidr"], "10.0.4.0/24");
    assert_eq!(sub["tenant_id"], "tb-sub-lessee");
    assert_eq!(sub["parent_id"], parent["id"]);

    assert_eq!(
        ids(&srv.get(&spath).await.json["subnets"]),
        [id(&sub)],
        "listed under the parent whatever its tenant"
    );
    assert_eq!(
        srv.get(&block_path("tb-sub-lessee", &id(&sub)))
            .await
            .status,
        200
    );
    fault_detail(
        &srv.get(&block_path("tb-sub-key", &id(&sub))).await,
        404,
        "IpBlock Not Found",
    );

    let r = srv.post(&spath, json!({})).await;
    assert_eq!(
        fault(&r, 400)["detail"],
        "Required params are missing: subnet"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_subnet_must_lie_inside_its_parent_and_not_overlap_siblings() {
    let srv = TestServer::start().await;
    let tenant = "tb-sub-rules";
    let parent = create_block(
        &srv,
        tenant,
        json!({"type": "private", "cidr": "10.0.0.0/24", "network_id": "n-rules"}),
    )
    .await;
    let spath = format!("{}/subnets", block_path(tenant, &id(&parent)));

    let r = srv
        .post(&spath, json!({"subnet": {"cidr": "10.0.1.0/29"}}))
        .await;
    assert_eq!(
        fault(&r, 400)["errors"]["cidr"],
        json!(["cidr should be within parent block's cidr"])
    );
    let r = srv
        .post(&spath, json!({"subnet": {"cidr": "10.0.0.0/16"}}))
        .await;
    assert_eq!(
        fault(&r, 400)["errors"]["cidr"],
        json!(["cidr should be within parent block's cidr"])
    );

    assert_eq!(
        srv.post(&spath, json!({"subnet": {"cidr": "10.0.0.0/26"}}))
            .await
            .status,
        201
    );
    let r = srv
        .post(&spath, json!({"subnet": {"cidr": "10.0.0.32/27"}}))
        .await;
    assert_eq!(
        fault(&r, 400)["errors"]["cidr"],
        json!(["cidr overlaps with sibling 10.0.0.0/26"])
    );

    let r = srv
        .post(
            &spath,
            json!({"subnet": {"cidr": "10.0.0.64/26", "network_id": "n-elsewhere"}}),
        )
        .await;
    assert_eq!(
        fault(&r, 400)["errors"]["network_id"],
        json!(["network_id should be same as that of parent"])
    );

    let r = srv
        .post(&spath, json!({"subnet": {"cidr": "garbage"}}))
        .await;
    assert_eq!(fault(&r, 400)["errors"]["cidr"], json!(["cidr is invalid"]));
    assert_eq!(
        srv.get(&spath).await.json["subnets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_public_blocks_can_be_subnetted() {
    // Guards decision 3: Melange's public-overlap check hit a public subnet's own parent, so a
    // public block could never be subnetted; ipledger must allow it.
    let srv = TestServer::start().await;
    let parent = create_block(
        &srv,
        "tb-pub-sub",
        json!({"type": "public", "cidr": "80.0.0.0/24"}),
    )
    .await;
    let r = srv
        .post(
            &format!("{}/subnets", block_path("tb-pub-sub", &id(&parent))),
            json!({"subnet": {"cidr": "80.0.0.0/28"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["subnet"]["type"], "public");
    assert_eq!(r.json["subnet"]["parent_id"], parent["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_block_with_addresses_is_not_subnettable() {
    let srv = TestServer::start().await;
    let parent = private_block(&srv, "tb-sub-ips", "10.0.0.0/24").await;
    let ppath = block_path("tb-sub-ips", &id(&parent));
    assert_eq!(
        srv.post(
            &format!("{ppath}/ip_addresses"),
            json!({"ip_address": {"address": "10.0.0.5"}})
        )
        .await
        .status,
        201
    );
    let r = srv
        .post(
            &format!("{ppath}/subnets"),
            json!({"subnet": {"cidr": "10.0.0.128/25"}}),
        )
        .await;
    assert_eq!(
        fault(&r, 400)["errors"]["parent_id"],
        json!(["parent is not subnettable since it has allocated ips"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_another_tenants_block_is_not_found() {
    let srv = TestServer::start().await;
    let b = private_block(&srv, "tb-owner", "10.0.0.0/24").await;
    let theirs = block_path("tb-intruder", &id(&b));

    fault_detail(&srv.get(&theirs).await, 404, "IpBlock Not Found");
    fault_detail(
        &srv.put(&theirs, json!({"ip_block": {"network_id": "stolen"}}))
            .await,
        404,
        "IpBlock Not Found",
    );
    fault_detail(&srv.delete(&theirs).await, 404, "IpBlock Not Found");
    fault_detail(
        &srv.get(&format!("{theirs}/subnets")).await,
        404,
        "IpBlock Not Found",
    );
    fault_detail(
        &srv.post(
            &format!("{theirs}/subnets"),
            json!({"subnet": {"cidr": "10.0.0.0/28"}}),
        )
        .await,
        404,
        "IpBlock Not Found",
    );
    fault_detail(
        &srv.get(&format!("{theirs}/ip_addresses")).await,
        404,
        "IpBlock Not Found",
    );
    fault_detail(
        &srv.post(&format!("{theirs}/ip_addresses"), json!({"ip_address": {}}))
            .await,
        404,
        "IpBlock Not Found",
    );

    let mine = srv.get(&block_path("tb-owner", &id(&b))).await;
    assert_eq!(
        mine.json["ip_block"], b,
        "untouched by the other tenant's attempts"
    );
    assert_eq!(
        srv.get(&format!("{}/subnets", block_path("tb-owner", &id(&b))))
            .await
            .json["subnets"],
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_block_heatmap_counts_states_per_cell() {
    // Issue 14: the console's heat map of a large block, counted by the server.
    let srv = TestServer::start().await;
    let b = id(&private_block(&srv, "acme", "10.10.0.0/20").await);
    let addresses = format!("{}/ip_addresses", block_path("acme", &b));
    for address in ["10.10.3.5", "10.10.3.6", "10.10.5.1"] {
        let r = srv
            .post(&addresses, json!({"ip_address": {"address": address}}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = srv.delete(&format!("{addresses}/10.10.5.1")).await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = srv
        .post("/v1/agent/ipam/request", json!({"ip": "10.10.7.9"}))
        .await;
    assert_eq!(r.json["valid"], true, "{}", r.text);

    let heatmap = format!("{}/heatmap", block_path("acme", &b));
    let r = srv.get(&format!("{heatmap}?cells=16")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let h = &r.json["heatmap"];
    assert_eq!(h["cidr"], "10.10.0.0/20");
    assert_eq!(h["size"], 4096);
    assert_eq!(h["cell_prefix"], 24);
    assert_eq!(h["cell_size"], 256);
    let cells = h["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 16);
    let counts = |i: usize| {
        let c = &cells[i];
        [
            c["allocated"].as_u64().unwrap(),
            c["deallocated"].as_u64().unwrap(),
            c["held"].as_u64().unwrap(),
            c["reserved"].as_u64().unwrap(),
            c["free"].as_u64().unwrap(),
        ]
    };
    assert_eq!(cells[3]["start"], "10.10.3.0");
    // [allocated, deallocated, held, reserved, free]
    assert_eq!(counts(0), [0, 0, 0, 2, 254], "network and gateway");
    assert_eq!(counts(3), [2, 0, 0, 0, 254]);
    assert_eq!(counts(5), [0, 1, 0, 0, 255]);
    assert_eq!(counts(7), [0, 0, 1, 0, 255]);
    assert_eq!(counts(15), [0, 0, 0, 1, 255], "broadcast");
    assert_eq!(counts(9), [0, 0, 0, 0, 256]);

    // Cells are a power of two, never more than the addresses; the default is 1024.
    let r = srv.get(&format!("{heatmap}?cells=20")).await;
    assert_eq!(r.json["heatmap"]["cells"].as_array().unwrap().len(), 16);
    let r = srv.get(&heatmap).await;
    assert_eq!(r.json["heatmap"]["cells"].as_array().unwrap().len(), 1024);
    assert_eq!(r.json["heatmap"]["cell_prefix"], 30);
    let small = id(&private_block(&srv, "acme", "10.11.0.0/28").await);
    let r = srv
        .get(&format!(
            "{}/heatmap?cells=4096",
            block_path("acme", &small)
        ))
        .await;
    assert_eq!(r.json["heatmap"]["cells"].as_array().unwrap().len(), 16);
    assert_eq!(r.json["heatmap"]["cell_prefix"], 32);
    // An IPv6 block's size does not fit a JSON number: a decimal string.
    let v6 = id(&private_block(&srv, "acme", "fd00:1::/64").await);
    let r = srv
        .get(&format!("{}/heatmap?cells=4", block_path("acme", &v6)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["heatmap"]["size"], "18446744073709551616");
    assert_eq!(r.json["heatmap"]["cell_prefix"], 66);
    assert_eq!(r.json["heatmap"]["cells"][1]["start"], "fd00:1:0:0:4000::");

    // The whole IPv6 space: one cell, or 4096, and nothing overflows.
    let all = id(&private_block(&srv, "wide", "::/0").await);
    for (cells, prefix) in [(1, 0), (4096, 12)] {
        let r = srv
            .get(&format!(
                "{}/heatmap?cells={cells}",
                block_path("wide", &all)
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["heatmap"]["cell_prefix"], prefix, "{}", r.text);
        assert_eq!(r.json["heatmap"]["cells"].as_array().unwrap().len(), cells);
    }

    for bad in ["0", "4097", "x", "-1", ""] {
        let r = srv.get(&format!("{heatmap}?cells={bad}")).await;
        fault(&r, 400);
    }
    fault(
        &srv.get(&format!("{}/heatmap", block_path("globex", &b)))
            .await,
        404,
    );
}
