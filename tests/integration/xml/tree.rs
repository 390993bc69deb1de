//! A small XML tree reader for the XML tests (quick-xml events, no converter of the server's)
//! and the checks that an XML document spells a JSON value by decision 20's rules.

use std::collections::BTreeMap;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde_json::Value;

use crate::support::Res;

/// One parsed XML element: qualified attribute names as written, text with entities resolved.
#[derive(Debug, Clone)]
pub struct Elem {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    pub children: Vec<Elem>,
    pub text: String,
}

impl Elem {
    pub fn child(&self, name: &str) -> &Elem {
        let found = self.children.iter().find(|c| c.name == name);
        found.unwrap_or_else(|| panic!("<{}> has no <{name}>: {self:?}", self.name))
    }

    fn new(e: &BytesStart) -> Elem {
        let name = e.name().into_inner().to_string();
        let attrs = e
            .attributes()
            .map(|a| {
                let a = a.expect("attribute");
                let key = a.key.into_inner().to_string();
                let value = a
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .expect("attribute value");
                (key, value.into_owned())
            })
            .collect();
        Elem {
            name,
            attrs,
            children: Vec::new(),
            text: String::new(),
        }
    }
}

/// Parses a whole document; panics on anything that is not well-formed.
pub fn parse(text: &str) -> Elem {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Elem> = Vec::new();
    let mut root = None;
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("{e}: {text}"))
        {
            Event::Start(e) => stack.push(Elem::new(&e)),
            Event::Empty(e) => match stack.last_mut() {
                Some(parent) => parent.children.push(Elem::new(&e)),
                None => root = Some(Elem::new(&e)),
            },
            Event::End(_) => {
                let done = stack.pop().expect("balanced");
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(t) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().expect("char ref") {
                    Some(c) => c.to_string(),
                    None => resolve_predefined_entity(&r).expect("entity").to_string(),
                };
                stack
                    .last_mut()
                    .expect("inside an element")
                    .text
                    .push_str(&c);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {text}");
    root.unwrap_or_else(|| panic!("no root element: {text}"))
}

/// The item names decision 20 promises, written out here rather than taken from the server.
fn item_name(list_key: &str) -> &'static str {
    match list_key {
        "ip_blocks" => "ip_block",
        "subnets" => "subnet",
        "policies" => "policy",
        "ip_addresses" => "ip_address",
        "ip_ranges" => "ip_range",
        "ip_octets" => "ip_octet",
        "ip_routes" => "ip_route",
        "interfaces" => "interface",
        "mac_address_ranges" => "mac_address_range",
        "versions" => "version",
        "links" => "link",
        "extensions" => "extension",
        "allowed_ips" => "allowed_ip",
        "inside_globals" | "inside_locals" => "ip_address",
        other => panic!("no item name known for list {other}"),
    }
}

/// Asserts that `elem` spells `json` by the rules of decision 20; `at` names the place.
pub fn assert_same(json: &Value, elem: &Elem, at: &str) {
    match json {
        Value::Null => {
            assert_eq!(
                elem.attrs.get("xsi:nil").map(String::as_str),
                Some("true"),
                "{at} is null"
            );
            assert!(
                elem.children.is_empty() && elem.text.is_empty(),
                "{at}: {elem:?}"
            );
        }
        Value::String(s) => assert_text(elem, s, at),
        Value::Number(n) => assert_text(elem, &n.to_string(), at),
        Value::Bool(b) => assert_text(elem, &b.to_string(), at),
        Value::Array(items) => {
            let item = item_name(&elem.name);
            let listed: Vec<&Elem> = elem
                .children
                .iter()
                .filter(|c| c.name != "link" || item == "link")
                .collect();
            assert_eq!(listed.len(), items.len(), "{at}: items of <{}>", elem.name);
            for (i, (v, e)) in items.iter().zip(listed).enumerate() {
                assert_eq!(e.name, item, "{at}[{i}] element name");
                assert_same(v, e, &format!("{at}[{i}]"));
            }
        }
        Value::Object(map) if elem.name == "link" => {
            for (k, v) in map {
                assert_eq!(
                    elem.attrs.get(k).map(String::as_str),
                    v.as_str(),
                    "{at}.{k}"
                );
            }
        }
        Value::Object(map) => {
            let mut names: Vec<&str> = elem.children.iter().map(|c| c.name.as_str()).collect();
            names.sort_unstable();
            let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(names, keys, "{at}: children of <{}>", elem.name);
            for (k, v) in map {
                assert_same(v, elem.child(k), &format!("{at}.{k}"));
            }
        }
    }
}

fn assert_text(elem: &Elem, text: &str, at: &str) {
    assert!(
        elem.children.is_empty(),
        "{at} has child elements: {elem:?}"
    );
    assert_eq!(elem.text, text, "{at}");
}

/// Asserts a whole JSON document (`{root: ..}` plus an optional `root_links`) against XML.
pub fn assert_doc(json: &Value, xml: &Elem) {
    let map = json.as_object().expect("a JSON object");
    let root = map
        .keys()
        .find(|k| !k.ends_with("_links"))
        .expect("a root key");
    assert_eq!(&xml.name, root, "root element");
    assert_same(&map[root], xml, root);
    let links: Vec<&Elem> = xml.children.iter().filter(|c| c.name == "link").collect();
    match map.get(&format!("{root}_links")) {
        None => assert!(
            links.is_empty() || root == "links",
            "no next link expected: {xml:?}"
        ),
        Some(Value::Array(expected)) => {
            assert_eq!(links.len(), expected.len(), "link elements");
            for (e, x) in expected.iter().zip(links) {
                // The link repeats the request's path: `.xml` there when asked with `.xml`.
                let mut x = x.clone();
                if let Some(href) = x.attrs.get_mut("href") {
                    *href = href.replace(".xml?", "?");
                }
                assert_same(e, &x, "link");
            }
        }
        Some(other) => panic!("links are a list: {other}"),
    }
}

/// An XML response: checks the Content-Type and parses the body.
pub fn xml(r: &Res) -> Elem {
    let ct = r.headers.get("content-type").and_then(|v| v.to_str().ok());
    assert_eq!(ct, Some("application/xml"), "{} {}", r.status, r.text);
    assert!(r.text.starts_with("<?xml"), "{}", r.text);
    parse(&r.text)
}
