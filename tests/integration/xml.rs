//! XML over real HTTP (decision 20): every resource created from an XML body, read back with a
//! `.xml` suffix and with `Accept: application/xml`, and compared value by value with its
//! JSON form; the pagination link; faults in XML (404, 400 malformed and invalid, 405, 413,
//! 415, 422); the `.json` suffix winning over Accept; hostile XML never a 5xx.
//! The XML is parsed here with a small tree reader of its own, not the server's converter.

mod faults;
mod resources;
mod tree;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{Res, TestServer};
use tree::{assert_doc, xml, Elem};

const XML: &str = "application/xml";

/// `path` with `.xml` appended before the query.
fn dot_xml(path: &str) -> String {
    match path.split_once('?') {
        Some((p, q)) => format!("{p}.xml?{q}"),
        None => format!("{path}.xml"),
    }
}

/// POSTs (or PUTs) an XML body to `path.xml`; the answer is XML.
async fn send_xml(srv: &TestServer, method: Method, path: &str, body: &str) -> Res {
    srv.raw(method, &dot_xml(path), Some(XML), body).await
}

/// Reads `path` as JSON, as `.xml` and with each XML Accept header, and checks they agree.
async fn read_back(srv: &TestServer, path: &str) -> Value {
    let json = srv.get(path).await;
    assert_eq!(json.status, 200, "{path}: {}", json.text);
    let r = srv.get(&dot_xml(path)).await;
    assert_eq!(r.status, 200, "{path}.xml: {}", r.text);
    assert_doc(&json.json, &xml(&r));
    for accept in [XML, "application/vnd.openstack.melange+xml"] {
        let r = srv
            .send(Method::GET, path, None, &[("accept", accept)])
            .await;
        assert_eq!(r.status, 200, "{path} as {accept}: {}", r.text);
        assert_doc(&json.json, &xml(&r));
    }
    json.json
}

/// Creates from an XML body (201); checks the XML answer against the JSON read of the same
/// object; returns that JSON (the inner object).
async fn create(srv: &TestServer, collection: &str, body: &str, key: &str) -> Value {
    let r = send_xml(srv, Method::POST, collection, body).await;
    assert_eq!(r.status, 201, "POST {collection}.xml {body}: {}", r.text);
    let created = xml(&r);
    assert_eq!(created.name, key);
    let id = &created.child("id").text;
    let one = format!("{collection}/{id}");
    let json = read_back(srv, &one).await;
    assert_doc(&json, &created);
    json[key].clone()
}

fn tenant(t: &str) -> String {
    format!("/v0.1/ipam/tenants/{t}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_blocks_and_subnets_round_trip() {
    let srv = TestServer::start().await;
    let blocks = format!("{}/ip_blocks", tenant("x-blocks"));
    let body = "<?xml version=\"1.0\"?>\n<ip_block>\n  <cidr>10.0.0.0/24</cidr>\n  \
                <type>private</type>\n  <network_id>net1</network_id>\n</ip_block>";
    let block = create(&srv, &blocks, body, "ip_block").await;
    assert_eq!(block["cidr"], "10.0.0.0/24");
    assert_eq!(block["network_id"], "net1");
    assert_eq!(block["gateway"], "10.0.0.1", "defaults apply as for JSON");
    let path = format!("{blocks}/{}", block["id"].as_str().unwrap());
    // An update from XML: a value, and an explicit null that clears the network.
    let update = "<ip_block xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
                  <dns1>1.1.1.1</dns1><network_id xsi:nil=\"true\"/></ip_block>";
    let r = send_xml(&srv, Method::PUT, &path, update).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let updated = read_back(&srv, &path).await;
    assert_doc(&updated, &xml(&r));
    assert_eq!(updated["ip_block"]["dns1"], "1.1.1.1");
    assert_eq!(updated["ip_block"]["network_id"], Value::Null);
    // Subnets, under either root key (decision 4).
    let subnets = format!("{path}/subnets");
    let r = send_xml(
        &srv,
        Method::POST,
        &subnets,
        "<subnet><cidr>10.0.0.0/26</cidr></subnet>",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        xml(&r).child("parent_id").text,
        block["id"].as_str().unwrap()
    );
    let r = send_xml(
        &srv,
        Method::POST,
        &subnets,
        "<ip_block cidr=\"10.0.0.64/26\"/>",
    )
    .await;
    assert_eq!(r.status, 201, "attributes are fields: {}", r.text);
    let listed = read_back(&srv, &subnets).await;
    assert_eq!(listed["subnets"].as_array().unwrap().len(), 2);
    let all = read_back(&srv, &blocks).await;
    assert_eq!(all["ip_blocks"].as_array().unwrap().len(), 3);
    let r = srv
        .raw(
            Method::DELETE,
            &dot_xml(&format!(
                "{blocks}/{}",
                listed["subnets"][0]["id"].as_str().unwrap()
            )),
            None,
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.is_empty(),
        "delete answers an empty body: {}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_addresses_round_trip_with_nulls_after_deallocation() {
    let srv = TestServer::start().await;
    let blocks = format!("{}/ip_blocks", tenant("x-addr"));
    let block = create(
        &srv,
        &blocks,
        "<ip_block><cidr>10.1.0.0/24</cidr><type>private</type></ip_block>",
        "ip_block",
    )
    .await;
    let block_path = format!("{blocks}/{}", block["id"].as_str().unwrap());
    let addresses = format!("{block_path}/ip_addresses");
    let body = "<ip_address><address>10.1.0.10</address><interface_id>vif1</interface_id>\
                <used_by_device>vm1</used_by_device></ip_address>";
    let r = send_xml(&srv, Method::POST, &addresses, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created = xml(&r);
    assert_eq!(created.child("version").text, "4");
    // The address itself ends in `.xml`: the suffix is the format, not part of the address.
    let one = format!("{addresses}/10.1.0.10");
    let json = read_back(&srv, &one).await;
    assert_doc(&json, &created);
    assert_eq!(json["ip_address"]["interface_id"], "vif1");
    // An empty root element allocates the next address, like `{"ip_address": {}}`.
    let r = send_xml(&srv, Method::POST, &addresses, "<ip_address/>").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(xml(&r).child("address").text, "10.1.0.2");
    let r = srv.raw(Method::DELETE, &dot_xml(&one), None, "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let gone = read_back(&srv, &one).await;
    assert_eq!(
        gone["ip_address"]["interface_id"],
        Value::Null,
        "deallocated: nulls in XML too"
    );
    read_back(&srv, &addresses).await;
    read_back(
        &srv,
        &format!("{}/allocated_ip_addresses", tenant("x-addr")),
    )
    .await;
    read_back(&srv, "/v0.1/ipam/allocated_ip_addresses").await;
    let r = srv
        .raw(Method::PUT, &dot_xml(&format!("{one}/restore")), None, "")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        read_back(&srv, &one).await["ip_address"]["interface_id"],
        "vif1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_policies_ranges_and_octets_round_trip() {
    let srv = TestServer::start().await;
    let policies = format!("{}/policies", tenant("x-pol"));
    let body = "<policy><name>p &amp; q</name><description>&lt;none&gt;</description></policy>";
    let policy = create(&srv, &policies, body, "policy").await;
    assert_eq!(policy["name"], "p & q");
    assert_eq!(policy["description"], "<none>");
    let path = format!("{policies}/{}", policy["id"].as_str().unwrap());
    let r = send_xml(
        &srv,
        Method::PUT,
        &path,
        "<policy><name>renamed</name></policy>",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(read_back(&srv, &path).await["policy"]["name"], "renamed");
    create(
        &srv,
        &policies,
        "<policy><name>second</name></policy>",
        "policy",
    )
    .await;
    read_back(&srv, &policies).await;
    // Numbers arrive as text and are read as the numbers JSON would carry.
    let ranges = format!("{path}/unusable_ip_ranges");
    let range = create(
        &srv,
        &ranges,
        "<ip_range><offset>10</offset><length>3</length></ip_range>",
        "ip_range",
    )
    .await;
    assert_eq!(
        (range["offset"].clone(), range["length"].clone()),
        (json!(10), json!(3))
    );
    let range_path = format!("{ranges}/{}", range["id"].as_str().unwrap());
    let r = send_xml(
        &srv,
        Method::PUT,
        &range_path,
        "<ip_range><length>4</length></ip_range>",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(read_back(&srv, &range_path).await["ip_range"]["length"], 4);
    read_back(&srv, &ranges).await;
    let octets = format!("{path}/unusable_ip_octets");
    let octet = create(
        &srv,
        &octets,
        "<ip_octet><octet>254</octet></ip_octet>",
        "ip_octet",
    )
    .await;
    assert_eq!(octet["octet"], 254);
    read_back(&srv, &octets).await;
    let r = srv
        .raw(Method::DELETE, &dot_xml(&range_path), None, "")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_versions_and_extensions() {
    let srv = TestServer::start().await;
    let r = srv.send(Method::GET, "/", None, &[("accept", XML)]).await;
    let versions = xml(&r);
    assert_doc(&srv.get("/").await.json, &versions);
    let link = versions.child("version").child("links").child("link");
    assert_eq!(link.attrs.get("rel").map(String::as_str), Some("self"));
    read_back(&srv, "/v0.1").await;
    let r = srv.get("/v0.1/extensions.xml").await;
    let extensions = xml(&r);
    assert_eq!(
        (extensions.name.as_str(), extensions.children.len()),
        ("extensions", 0)
    );
    let r = srv.get("/v0.1/extensions/nope.xml").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        xml(&r).child("detail").text,
        "Extension with alias nope does not exist"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_pagination_puts_the_next_link_in_the_collection() {
    let srv = TestServer::start().await;
    let blocks = format!("{}/ip_blocks", tenant("x-page"));
    for i in 0..3 {
        let body = format!("<ip_block><cidr>10.{i}.0.0/24</cidr><type>private</type></ip_block>");
        assert_eq!(
            send_xml(&srv, Method::POST, &blocks, &body).await.status,
            201
        );
    }
    let page = read_back(&srv, &format!("{blocks}?limit=2")).await;
    assert_eq!(page["ip_blocks"].as_array().unwrap().len(), 2);
    let first = xml(&srv.get(&dot_xml(&format!("{blocks}?limit=2"))).await);
    let links: Vec<&Elem> = first.children.iter().filter(|c| c.name == "link").collect();
    assert_eq!(links.len(), 1, "{first:?}");
    assert_eq!(links[0].attrs["rel"], "next");
    let href = &links[0].attrs["href"];
    let last_id = first.children[1].child("id").text.clone();
    assert!(
        href.contains(&format!("marker={last_id}")) && href.contains("limit=2"),
        "{href}"
    );
    // The link keeps the `.xml` path, so following it stays in XML.
    let next = href
        .strip_prefix(&srv.base)
        .expect("an absolute link to this server");
    assert!(next.contains(".xml?"), "{href}");
    let second = xml(&srv.get(next).await);
    assert_eq!(second.children.len(), 1, "last page, no link: {second:?}");
    assert_eq!(second.children[0].name, "ip_block");
}
