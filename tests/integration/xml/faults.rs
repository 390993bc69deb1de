//! XML faults over HTTP: each kind of error in Melange's XML fault form, the negotiated format
//! for malformed bodies, the `.json` suffix winning over Accept, and a sweep of hostile or
//! broken XML bodies over every body route (always a 4xx, never an event).

use reqwest::Method;
use serde_json::json;

use super::tree::{xml, Elem};
use super::{create, dot_xml, send_xml, tenant, XML};
use crate::support::{Res, TestServer};

/// Asserts an XML fault: root name, `code` attribute, message and detail elements.
fn xml_fault(r: &Res, status: u16, name: &str) -> Elem {
    assert_eq!(r.status, status, "{}", r.text);
    let f = xml(r);
    assert_eq!(f.name, name, "{}", r.text);
    assert_eq!(f.attrs.get("code"), Some(&status.to_string()), "{}", r.text);
    assert!(!f.child("message").text.is_empty(), "{}", r.text);
    f.child("detail");
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_faults_for_each_kind_of_error() {
    let srv = TestServer::start().await;
    let blocks = format!("{}/ip_blocks", tenant("x-err"));
    let missing = format!("{blocks}/{}", uuid::Uuid::nil());
    let f = xml_fault(&srv.get(&dot_xml(&missing)).await, 404, "NotFound");
    assert_eq!(f.child("detail").text, "IpBlock Not Found");
    let r = srv
        .send(Method::GET, &missing, None, &[("accept", XML)])
        .await;
    xml_fault(&r, 404, "NotFound");
    xml_fault(&srv.get("/no/such/route.xml").await, 404, "NotFound");
    xml_fault(
        &srv.raw(Method::PATCH, &dot_xml(&blocks), Some(XML), "<ip_block/>")
            .await,
        405,
        "MethodNotAllowed",
    );
    // Malformed XML: 400 in the negotiated format — XML for `.xml`, JSON otherwise.
    let f = xml_fault(
        &send_xml(&srv, Method::POST, &blocks, "<ip_block><cidr>").await,
        400,
        "BadRequest",
    );
    assert_eq!(f.child("detail").text, "Malformed request body");
    let r = srv
        .raw(Method::POST, &blocks, Some(XML), "<ip_block><cidr>")
        .await;
    assert_eq!(
        (r.status.as_u16(), r.json["BadRequest"]["detail"].as_str()),
        (400, Some("Malformed request body"))
    );
    // Invalid values: the structured errors as <error field=".."> elements, as in JSON.
    let bad = "<ip_block><cidr>nonsense</cidr><type>private</type></ip_block>";
    let f = xml_fault(
        &send_xml(&srv, Method::POST, &blocks, bad).await,
        400,
        "BadRequest",
    );
    let json = srv
        .post(
            &blocks,
            json!({"ip_block": {"cidr": "nonsense", "type": "private"}}),
        )
        .await;
    let errors = f.child("errors");
    let expected = json.json["BadRequest"]["errors"]
        .as_object()
        .expect("structured errors");
    let listed: Vec<(String, String)> = errors
        .children
        .iter()
        .map(|e| (e.attrs["field"].clone(), e.text.clone()))
        .collect();
    let wanted: Vec<(String, String)> = expected
        .iter()
        .flat_map(|(k, msgs)| {
            msgs.as_array()
                .unwrap()
                .iter()
                .map(move |m| (k.clone(), m.as_str().unwrap().to_string()))
        })
        .collect();
    assert_eq!(listed, wanted);
    assert_eq!(
        f.child("detail").text,
        json.json["BadRequest"]["detail"].as_str().unwrap()
    );
    let f = xml_fault(
        &send_xml(
            &srv,
            Method::POST,
            &blocks,
            "<ip_block><color>red</color></ip_block>",
        )
        .await,
        400,
        "BadRequest",
    );
    assert!(
        f.child("detail").text.contains("color"),
        "unknown fields are refused: {f:?}"
    );
    // 415: a body that is neither JSON nor XML.
    let r = srv
        .raw(
            Method::POST,
            &dot_xml(&blocks),
            Some("text/plain"),
            "<ip_block/>",
        )
        .await;
    xml_fault(&r, 415, "UnsupportedMediaType");
    // 413: too large, still answered in XML.
    let huge = format!("<ip_block><cidr>{}</cidr></ip_block>", "x".repeat(1 << 20));
    xml_fault(
        &send_xml(&srv, Method::POST, &blocks, &huge).await,
        413,
        "RequestEntityTooLarge",
    );
    // 422 and 409 from the domain.
    let block = create(
        &srv,
        &blocks,
        "<ip_block><cidr>10.2.0.0/24</cidr><type>private</type></ip_block>",
        "ip_block",
    )
    .await;
    let addresses = format!("{blocks}/{}/ip_addresses", block["id"].as_str().unwrap());
    let outside = "<ip_address><address>192.168.9.9</address></ip_address>";
    xml_fault(
        &send_xml(&srv, Method::POST, &addresses, outside).await,
        422,
        "UnprocessableEntity",
    );
    let gateway = "<ip_address><address>10.2.0.1</address></ip_address>";
    xml_fault(
        &send_xml(&srv, Method::POST, &addresses, gateway).await,
        409,
        "Conflict",
    );
    assert_eq!(
        srv.get(&blocks).await.json["ip_blocks"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "only the good block"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_the_json_suffix_wins_over_accept_and_formats_are_independent() {
    let srv = TestServer::start().await;
    let blocks = format!("{}/ip_blocks", tenant("x-neg"));
    let r = srv
        .send(
            Method::GET,
            &format!("{blocks}.json"),
            None,
            &[("accept", XML)],
        )
        .await;
    assert_eq!(r.headers.get("content-type").unwrap(), "application/json");
    assert!(r.json["ip_blocks"].is_array(), "{}", r.text);
    let r = srv
        .send(
            Method::GET,
            &format!("{blocks}.xml"),
            None,
            &[("accept", "application/json")],
        )
        .await;
    assert_eq!(xml(&r).name, "ip_blocks");
    // An XML body with a JSON answer (no suffix, no Accept), and a JSON body answered in XML.
    let r = srv
        .raw(
            Method::POST,
            &blocks,
            Some(XML),
            "<ip_block><cidr>10.3.0.0/24</cidr><type>private</type></ip_block>",
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["ip_block"]["cidr"], "10.3.0.0/24");
    let body = json!({"ip_block": {"cidr": "10.4.0.0/24", "type": "private"}});
    let r = srv
        .send(Method::POST, &blocks, Some(&body), &[("accept", XML)])
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(xml(&r).child("cidr").text, "10.4.0.0/24");
}

/// Hostile or broken XML bodies: each must be a 4xx XML fault, never a 5xx, and create nothing.
fn garbage(key: &str, field: &str) -> Vec<String> {
    vec![
        format!("<{key}>"),
        format!("<{key}><{field}>1</{key}>"),
        format!("<{key}>&undefined;</{key}>"),
        format!("<!DOCTYPE {key} [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><{key}><{field}>&b;</{field}></{key}>"),
        format!("<!DOCTYPE {key} [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><{key}><{field}>&x;</{field}></{key}>"),
        format!("<{key}/><{key}/>"),
        format!("<{key}>text<{field}>1</{field}></{key}>"),
        format!("<{key}><{field}>1</{field}><{field}>2</{field}></{key}>"),
        format!("<{key}><{field}><deep>1</deep></{field}></{key}>"),
        format!("<{key}><unknown>1</unknown></{key}>"),
        format!("<{key}><{field}>{}</{field}></{key}>", "y".repeat(5000)),
        format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000)),
        "<wrong_root/>".into(),
        "text".into(),
        "{\"json\": \"as xml\"}".into(),
        "<a>\u{0}</a>".into(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_garbage_bodies_on_every_body_route_are_4xx_xml_faults() {
    let srv = TestServer::start().await;
    let t = tenant("x-garbage");
    let blocks = format!("{t}/ip_blocks");
    let block = create(
        &srv,
        &blocks,
        "<ip_block><cidr>10.5.0.0/24</cidr><type>private</type></ip_block>",
        "ip_block",
    )
    .await;
    let block = format!("{blocks}/{}", block["id"].as_str().unwrap());
    let policy = create(
        &srv,
        &format!("{t}/policies"),
        "<policy><name>p</name></policy>",
        "policy",
    )
    .await;
    let policy = format!("{t}/policies/{}", policy["id"].as_str().unwrap());
    let range = create(
        &srv,
        &format!("{policy}/unusable_ip_ranges"),
        "<ip_range><offset>1</offset><length>1</length></ip_range>",
        "ip_range",
    )
    .await;
    let octet = create(
        &srv,
        &format!("{policy}/unusable_ip_octets"),
        "<ip_octet><octet>9</octet></ip_octet>",
        "ip_octet",
    )
    .await;
    let routes = [
        (Method::POST, blocks.clone(), "ip_block", "cidr"),
        (Method::PUT, block.clone(), "ip_block", "network_id"),
        (Method::POST, format!("{block}/subnets"), "subnet", "cidr"),
        (
            Method::POST,
            format!("{block}/ip_addresses"),
            "ip_address",
            "address",
        ),
        (Method::POST, format!("{t}/policies"), "policy", "name"),
        (Method::PUT, policy.clone(), "policy", "name"),
        (
            Method::POST,
            format!("{policy}/unusable_ip_ranges"),
            "ip_range",
            "offset",
        ),
        (
            Method::PUT,
            format!(
                "{policy}/unusable_ip_ranges/{}",
                range["id"].as_str().unwrap()
            ),
            "ip_range",
            "length",
        ),
        (
            Method::POST,
            format!("{policy}/unusable_ip_octets"),
            "ip_octet",
            "octet",
        ),
        (
            Method::PUT,
            format!(
                "{policy}/unusable_ip_octets/{}",
                octet["id"].as_str().unwrap()
            ),
            "ip_octet",
            "octet",
        ),
    ];
    let before = srv.get("/healthz").await.json["events"].clone();
    for (method, path, key, field) in &routes {
        for body in garbage(key, field) {
            let r = send_xml(&srv, method.clone(), path, &body).await;
            let what = format!("{method} {path} {}", &body[..body.len().min(80)]);
            assert!(
                r.status.is_client_error(),
                "{what}: {} {}",
                r.status,
                r.text
            );
            let f = xml(&r);
            assert_eq!(
                f.attrs.get("code"),
                Some(&r.status.as_u16().to_string()),
                "{what}"
            );
        }
    }
    assert_eq!(
        srv.get("/healthz").await.json["events"],
        before,
        "no garbage body wrote an event"
    );
}
