//! The XML wire format (decision 20): the handlers build `serde_json::Value`s and read request
//! bodies as `Value`s, and this module converts both ways, so XML is a second spelling of the
//! same JSON rather than a second set of handlers. Writing and reading go through `quick-xml`.
//!
//! JSON → XML (Melange's convention, with proper singulars):
//! - the root element is the single top-level key (`{"ip_block": {...}}` → `<ip_block>`);
//!   anything else is wrapped in `<response>`;
//! - object keys become child elements; list items are named by the singular of the list's
//!   key (the [`SINGULAR`] table first, then `ies`→`y`, `sses`/`ses`→ strip `es`, strip `s`);
//! - a `<collection>_links` entry next to `<collection>` becomes `<link rel=".." href=".."/>`
//!   children of the collection element (Melange's pagination form), and every `link` object
//!   is written with attributes;
//! - null is an empty element with `xsi:nil="true"` (the root then declares `xmlns:xsi`), so
//!   it stays distinct from the empty string; numbers and booleans are their JSON text;
//! - a key that is not an XML name becomes `<entry key="...">`.
//!
//! Faults: `<NotFound code="404"><message>…</message><detail>…</detail></NotFound>`, and a
//! 400's field errors as `<errors><error field="cidr">cidr is invalid</error></errors>`.
//!
//! XML → JSON (request bodies): the root element becomes the single top-level key; child
//! elements and attributes become fields; text is a string (the body types accept numeric
//! strings); `xsi:nil="true"` is null; the children of a list key ([`SINGULAR`]'s plurals,
//! e.g. `<addresses><address>..</address></addresses>`) become a list, as do repeated children
//! named by their parent's singular. A DOCTYPE is refused (no entity can be declared, so none
//! can expand), nesting is bounded by [`DEPTH_MAX`], and the body-size limit is the server's.

use std::borrow::Cow;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;
use quick_xml::{Reader, Writer};
use serde_json::{Map, Value};

use crate::fault::Fault;

/// Keys whose value is a struct. serde's derived structs would read a list there by position
/// (`{"ip_block": ["10.0.0.0/24", "private"]}` as cidr and type), so anything but an object is
/// refused before deserializing (`kit::body`); in an XML body, such an element left empty is
/// an empty object.
pub const STRUCT_KEYS: &[&str] = &[
    "ip_block",
    "subnet",
    "ip_address",
    "policy",
    "ip_range",
    "ip_octet",
    "interface",
    "network",
    "instance",
    "allowed_ip",
    "mac_address_range",
    "ip_route",
];

/// Plural keys and the names of their items. A key listed here is also read back as a list.
pub const SINGULAR: &[(&str, &str)] = &[
    ("ip_blocks", "ip_block"),
    ("subnets", "subnet"),
    ("policies", "policy"),
    ("ip_addresses", "ip_address"),
    ("ip_ranges", "ip_range"),
    ("ip_octets", "ip_octet"),
    ("ip_routes", "ip_route"),
    ("interfaces", "interface"),
    ("mac_address_ranges", "mac_address_range"),
    ("versions", "version"),
    ("links", "link"),
    ("extensions", "extension"),
    ("tokens", "token"),
    ("events", "event"),
    ("allowed_ips", "allowed_ip"),
    ("addresses", "address"),
    ("networks", "network"),
    ("ip_allocations", "ip_allocation"),
    ("instances", "instance"),
    ("errors", "error"),
    ("pools", "pool"),
    ("resources", "resource"),
    ("allocations", "allocation"),
];

/// Request elements nested deeper than this are refused (the converter recurses).
pub use ipledger_domain::limits::XML_DEPTH_MAX as DEPTH_MAX;

/// The element name used for a top-level value that has no single root key.
const WRAPPER: &str = "response";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// The name of an item of the list under `key`.
pub fn singular(key: &str) -> Cow<'_, str> {
    if let Some((_, one)) = SINGULAR.iter().find(|(many, _)| *many == key) {
        return Cow::Borrowed(one);
    }
    if key.ends_with("_links") {
        return Cow::Borrowed("link");
    }
    if let Some(stem) = key.strip_suffix("ies") {
        return Cow::Owned(format!("{stem}y"));
    }
    if let Some(stem) = key.strip_suffix("ses") {
        return Cow::Owned(format!("{stem}s"));
    }
    match key.strip_suffix('s') {
        Some(stem) if !stem.is_empty() && !stem.ends_with('s') => Cow::Borrowed(stem),
        _ => Cow::Borrowed("item"),
    }
}

fn is_list_key(key: &str) -> bool {
    SINGULAR.iter().any(|(many, _)| *many == key)
}

/// Whether `name` can be written as an element or attribute name as it is.
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Is `mime` (lower-cased, without parameters) an XML media type?
pub fn is_xml_mime(mime: &str) -> bool {
    mime == "application/xml"
        || mime == "text/xml"
        || (mime.starts_with("application/") && mime.ends_with("+xml"))
}

// ---------------------------------------------------------------------------------------------
// JSON → XML

type W = Writer<Vec<u8>>;
type IoResult = std::io::Result<()>;

/// A response body as an XML document. A fault's value (`{Name: {code, message, detail}}`)
/// is written in Melange's fault form when `fault` is set.
pub fn encode(value: &Value, fault: bool) -> Vec<u8> {
    let mut w = Writer::new(Vec::with_capacity(256));
    let written = w
        .write_event(Event::Decl(quick_xml::events::BytesDecl::new(
            "1.0",
            Some("UTF-8"),
            None,
        )))
        .and_then(|()| match value {
            Value::Object(map) if fault && map.len() == 1 => write_fault(&mut w, map),
            _ => write_document(&mut w, value),
        });
    // Writing into a Vec cannot fail; were it to, an empty body beats a panic.
    match written {
        Ok(()) => w.into_inner(),
        Err(_) => Vec::new(),
    }
}

fn write_document(w: &mut W, value: &Value) -> IoResult {
    let nil_ns = contains_null(value);
    if let Value::Object(map) = value {
        let keys: Vec<&String> = map.keys().filter(|k| !absorbed_links(map, k)).collect();
        if let [root] = keys.as_slice() {
            let links = map.get(&format!("{root}_links"));
            return write_element(w, root, &map[root.as_str()], links, nil_ns);
        }
    }
    write_element(w, WRAPPER, value, None, nil_ns)
}

/// `K_links` next to a list `K` is written inside `K`, not as an element of its own.
fn absorbed_links(map: &Map<String, Value>, key: &str) -> bool {
    key.strip_suffix("_links")
        .is_some_and(|k| map.get(k).is_some_and(Value::is_array))
}

fn contains_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.iter().any(contains_null),
        Value::Object(map) => map.values().any(contains_null),
        _ => false,
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `text` escaped for XML 1.0 by quick-xml, then what it leaves alone: a CR as `&#13;` (a
/// reader would fold it into LF), in attributes also tab and LF (a reader would make them
/// spaces), and the characters XML 1.0 cannot carry at all (other C0 controls, U+FFFE,
/// U+FFFF) as U+FFFD, so every answer is a well-formed document.
fn escaped(text: &str, attribute: bool) -> String {
    let basic = quick_xml::escape::escape(text);
    let mut out = String::with_capacity(basic.len());
    for c in basic.chars() {
        match c {
            '\r' => out.push_str("&#13;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' | '\t' => out.push(c),
            c if u32::from(c) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn text_event(text: &str) -> Event<'static> {
    Event::Text(BytesText::from_escaped(escaped(text, false)))
}

fn push_attr(start: &mut BytesStart, key: &str, value: &str) {
    start.push_attribute(Attribute {
        key: QName(key),
        value: Cow::Owned(escaped(value, true)),
    });
}

/// The start tag of `key`: the key itself when it is an XML name, else `<entry key="..">`.
fn start_tag<'a>(key: &'a str, nil_ns: bool) -> BytesStart<'a> {
    let mut start = if is_xml_name(key) {
        BytesStart::new(key)
    } else {
        let mut s = BytesStart::new("entry");
        push_attr(&mut s, "key", key);
        s
    };
    if nil_ns {
        start.push_attribute(("xmlns:xsi", XSI_NS));
    }
    start
}

/// Writes `value` as the element `key`; `links` are extra `<link/>` children of a list.
/// `nil_ns` is set on the root only: it declares the `xsi` prefix there.
fn write_element(
    w: &mut W,
    key: &str,
    value: &Value,
    links: Option<&Value>,
    nil_ns: bool,
) -> IoResult {
    let start = start_tag(key, nil_ns);
    let end = BytesEnd::new(start.name().into_inner().to_string());
    match value {
        Value::Null => {
            let mut start = start;
            start.push_attribute(("xsi:nil", "true"));
            w.write_event(Event::Empty(start))
        }
        Value::Array(items) => {
            w.write_event(Event::Start(start))?;
            let item = singular(key);
            for v in items {
                write_element(w, &item, v, None, false)?;
            }
            if let Some(Value::Array(links)) = links {
                for link in links {
                    write_element(w, "link", link, None, false)?;
                }
            }
            w.write_event(Event::End(end))
        }
        Value::Object(map) if key == "link" && map.values().all(|v| scalar_text(v).is_some()) => {
            let mut start = start;
            // `rel` first, as Melange wrote it: `<link rel="next" href="..."/>`.
            let rel = map.get_key_value("rel");
            let rest = map.iter().filter(|(k, _)| *k != "rel");
            for (k, v) in rel.into_iter().chain(rest).filter(|(k, _)| is_xml_name(k)) {
                push_attr(&mut start, k, &scalar_text(v).unwrap_or_default());
            }
            w.write_event(Event::Empty(start))
        }
        Value::Object(map) => {
            w.write_event(Event::Start(start))?;
            for (k, v) in map.iter().filter(|(k, _)| !absorbed_links(map, k)) {
                write_element(w, k, v, map.get(&format!("{k}_links")), false)?;
            }
            w.write_event(Event::End(end))
        }
        scalar => {
            w.write_event(Event::Start(start))?;
            w.write_event(text_event(&scalar_text(scalar).unwrap_or_default()))?;
            w.write_event(Event::End(end))
        }
    }
}

/// `<Name code="404"><message/><detail/><errors><error field="f">m</error></errors></Name>`.
fn write_fault(w: &mut W, map: &Map<String, Value>) -> IoResult {
    let Some((name, Value::Object(inner))) = map.iter().next() else {
        return write_document(w, &Value::Object(map.clone()));
    };
    let mut start = BytesStart::new(name.as_str());
    if let Some(code) = inner.get("code").and_then(scalar_text) {
        push_attr(&mut start, "code", &code);
    }
    w.write_event(Event::Start(start))?;
    for (k, v) in inner.iter().filter(|(k, _)| *k != "code" && *k != "errors") {
        write_element(w, k, v, None, false)?;
    }
    if let Some(Value::Object(errors)) = inner.get("errors") {
        w.write_event(Event::Start(BytesStart::new("errors")))?;
        for (field, messages) in errors {
            let messages = messages.as_array().map(Vec::as_slice).unwrap_or_default();
            for message in messages {
                let mut e = BytesStart::new("error");
                push_attr(&mut e, "field", field);
                w.write_event(Event::Start(e))?;
                w.write_event(text_event(&scalar_text(message).unwrap_or_default()))?;
                w.write_event(Event::End(BytesEnd::new("error")))?;
            }
        }
        w.write_event(Event::End(BytesEnd::new("errors")))?;
    }
    w.write_event(Event::End(BytesEnd::new(name.as_str())))
}

// ---------------------------------------------------------------------------------------------
// XML → JSON

/// Why an XML request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("Malformed request body")]
    Malformed,
    #[error("Invalid request body: DOCTYPE declarations are not accepted")]
    Doctype,
    #[error("Invalid request body: elements nest deeper than {DEPTH_MAX} levels")]
    TooDeep,
    #[error("Invalid request body: {0}")]
    Shape(String),
}

impl From<XmlError> for Fault {
    fn from(e: XmlError) -> Self {
        Fault::bad_request(e.to_string())
    }
}

/// One element of a request body, as read.
#[derive(Debug, Default)]
struct Node {
    name: String,
    /// Attributes that are fields (namespace declarations and `xsi:*` left out).
    attrs: Vec<(String, String)>,
    nil: bool,
    children: Vec<Node>,
    text: String,
}

/// An XML request body as the equivalent JSON value `{root: {...}}`.
pub fn decode(body: &[u8]) -> Result<Value, XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| XmlError::Malformed)?;
    let root = read_tree(text.strip_prefix('\u{feff}').unwrap_or(text))?;
    let value = node_value(&root, true)?;
    let mut map = Map::new();
    map.insert(root.name, value);
    Ok(Value::Object(map))
}

/// Reads the document into a tree without recursion; refuses DOCTYPE, unknown entities,
/// text or a second element outside the root, and nesting deeper than [`DEPTH_MAX`].
fn read_tree(text: &str) -> Result<Node, XmlError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let event = reader.read_event().map_err(|_| XmlError::Malformed)?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() && stack.is_empty() => {
                return Err(XmlError::Shape("more than one root element".into()));
            }
            Event::Start(e) => {
                if stack.len() >= DEPTH_MAX {
                    return Err(XmlError::TooDeep);
                }
                stack.push(start_node(&e)?);
            }
            Event::Empty(e) => close(&mut stack, &mut root, start_node(&e)?),
            Event::End(_) => match stack.pop() {
                Some(node) => close(&mut stack, &mut root, node),
                None => return Err(XmlError::Malformed),
            },
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|_| XmlError::Malformed)? {
                    Some(c) => c.to_string(),
                    None => resolve_predefined_entity(&r)
                        .ok_or(XmlError::Malformed)?
                        .to_string(),
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    match (root, stack.is_empty()) {
        (Some(root), true) => Ok(root),
        _ => Err(XmlError::Malformed),
    }
}

fn close(stack: &mut [Node], root: &mut Option<Node>, node: Node) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => *root = Some(node),
    }
}

/// Text belongs to the open element; outside the root only whitespace is allowed.
fn push_text(stack: &mut [Node], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(node) => {
            node.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError::Shape("text outside the root element".into())),
    }
}

fn start_node(e: &BytesStart) -> Result<Node, XmlError> {
    let name = e.local_name().into_inner().to_string();
    let mut node = Node {
        name,
        ..Node::default()
    };
    for attr in e.attributes() {
        let attr = attr.map_err(|_| XmlError::Malformed)?;
        let key = attr.key;
        let prefix = key.prefix().map(|p| p.into_inner());
        let local = key.local_name().into_inner().to_string();
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|_| XmlError::Malformed)?
            .into_owned();
        match prefix {
            _ if key.as_namespace_binding().is_some() => {}
            Some("xsi") if local == "nil" => node.nil = matches!(value.trim(), "true" | "1"),
            Some("xsi") => {}
            _ => node.attrs.push((local, value)),
        }
    }
    Ok(node)
}

/// The JSON value of one element (see the module docs for the rules).
fn node_value(node: &Node, root: bool) -> Result<Value, XmlError> {
    let has_text = !node.text.trim().is_empty();
    if node.nil {
        if has_text || !node.children.is_empty() || !node.attrs.is_empty() {
            return Err(shape(&node.name, "is nil but has content"));
        }
        return Ok(Value::Null);
    }
    if is_list_key(&node.name) {
        if has_text || !node.attrs.is_empty() {
            return Err(shape(
                &node.name,
                "is a list: only child elements are allowed",
            ));
        }
        let items = node.children.iter().map(|c| node_value(c, false));
        return items.collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    if node.children.is_empty() && node.attrs.is_empty() {
        return Ok(
            if !has_text && (root || STRUCT_KEYS.contains(&node.name.as_str())) {
                Value::Object(Map::new())
            } else {
                Value::String(node.text.clone())
            },
        );
    }
    if has_text {
        return Err(shape(&node.name, "mixes text and elements"));
    }
    let item = singular(&node.name);
    if node.children.len() > 1
        && node.attrs.is_empty()
        && node.children.iter().all(|c| c.name == item)
    {
        let items = node.children.iter().map(|c| node_value(c, false));
        return items.collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    let mut map = Map::new();
    for (k, v) in &node.attrs {
        insert_once(&mut map, &node.name, k, Value::String(v.clone()))?;
    }
    for child in &node.children {
        insert_once(&mut map, &node.name, &child.name, node_value(child, false)?)?;
    }
    Ok(Value::Object(map))
}

fn insert_once(
    map: &mut Map<String, Value>,
    parent: &str,
    key: &str,
    v: Value,
) -> Result<(), XmlError> {
    if map.insert(key.to_string(), v).is_some() {
        return Err(shape(parent, &format!("has {key} more than once")));
    }
    Ok(())
}

fn shape(name: &str, what: &str) -> XmlError {
    XmlError::Shape(format!("element {name} {what}"))
}

#[cfg(test)]
mod tests;
