//! Unit tests of the JSON ↔ XML converter: the writer's exact output for the shapes the API
//! answers with, the reader's mapping of request bodies, and the refusals that keep malformed
//! or hostile XML a 400.

use serde_json::json;

use super::*;

const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

fn xml(value: &Value) -> String {
    String::from_utf8(encode(value, false)).expect("utf-8")
}

fn fault_xml(value: &Value) -> String {
    String::from_utf8(encode(value, true)).expect("utf-8")
}

#[test]
fn singulars_come_from_the_table_first_then_the_default_rule() {
    for (many, one) in [
        ("ip_blocks", "ip_block"),
        ("policies", "policy"),
        ("ip_addresses", "ip_address"),
        ("mac_address_ranges", "mac_address_range"),
        ("allowed_ips", "allowed_ip"),
        ("links", "link"),
        ("ip_blocks_links", "link"),
        ("entries", "entry"),
        ("statuses", "status"),
        ("widgets", "widget"),
        ("class", "item"),
        ("data", "item"),
        ("s", "item"),
    ] {
        assert_eq!(singular(many), one, "{many}");
    }
}

#[test]
fn an_object_under_one_key_becomes_that_root_with_child_elements() {
    let v = json!({"ip_block": {"cidr": "10.0.0.0/24", "version": 4, "shared": true}});
    assert_eq!(
        xml(&v),
        format!("{DECL}<ip_block><cidr>10.0.0.0/24</cidr><shared>true</shared><version>4</version></ip_block>")
    );
}

#[test]
fn list_items_are_named_by_the_singular_and_the_next_link_joins_the_collection() {
    let v = json!({
        "policies": [{"name": "a"}, {"name": "b"}],
        "policies_links": [{"rel": "next", "href": "http://h/p?limit=2&marker=x"}],
    });
    assert_eq!(
        xml(&v),
        format!(
            "{DECL}<policies><policy><name>a</name></policy><policy><name>b</name></policy>\
             <link rel=\"next\" href=\"http://h/p?limit=2&amp;marker=x\"/></policies>"
        )
    );
}

#[test]
fn an_empty_list_is_an_empty_element() {
    assert_eq!(
        xml(&json!({"extensions": []})),
        format!("{DECL}<extensions></extensions>")
    );
}

#[test]
fn null_is_an_xsi_nil_element_declared_on_the_root() {
    let v = json!({"ip_address": {"interface_id": null, "address": "10.0.0.2"}});
    assert_eq!(
        xml(&v),
        format!(
            "{DECL}<ip_address xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
             <address>10.0.0.2</address><interface_id xsi:nil=\"true\"/></ip_address>"
        )
    );
}

#[test]
fn text_is_escaped_and_keys_that_are_not_names_become_entries() {
    let v = json!({"policy": {"description": "a<b & \"c\"", "1x": "y"}});
    let out = xml(&v);
    assert!(
        out.contains("<description>a&lt;b &amp; &quot;c&quot;</description>"),
        "{out}"
    );
    assert!(out.contains("<entry key=\"1x\">y</entry>"), "{out}");
}

#[test]
fn links_of_a_version_are_attributes() {
    let v = json!({"versions": [{"name": "v0.1", "links": [{"rel": "self", "href": "http://h/v0.1"}]}]});
    assert_eq!(
        xml(&v),
        format!(
            "{DECL}<versions><version><links><link rel=\"self\" href=\"http://h/v0.1\"/></links>\
             <name>v0.1</name></version></versions>"
        )
    );
}

#[test]
fn several_top_level_keys_are_wrapped_in_a_response_element() {
    let v = json!({"status": "ok", "events": 3});
    assert_eq!(
        xml(&v),
        format!("{DECL}<response><events>3</events><status>ok</status></response>")
    );
}

#[test]
fn a_fault_has_its_code_as_an_attribute_and_field_errors_as_elements() {
    let v = json!({"NotFound": {"code": 404, "message": "The resource could not be found.", "detail": "IpBlock Not Found"}});
    assert_eq!(
        fault_xml(&v),
        format!(
            "{DECL}<NotFound code=\"404\"><detail>IpBlock Not Found</detail>\
             <message>The resource could not be found.</message></NotFound>"
        )
    );
    let v = json!({"BadRequest": {"code": 400, "message": "m", "detail": "d",
        "errors": {"cidr": ["cidr is invalid"], "type": ["one", "two"]}}});
    assert_eq!(
        fault_xml(&v),
        format!(
            "{DECL}<BadRequest code=\"400\"><detail>d</detail><message>m</message><errors>\
             <error field=\"cidr\">cidr is invalid</error><error field=\"type\">one</error>\
             <error field=\"type\">two</error></errors></BadRequest>"
        )
    );
}

fn read(body: &str) -> Result<Value, XmlError> {
    decode(body.as_bytes())
}

#[test]
fn a_request_body_becomes_the_equivalent_json() {
    let v = read("<?xml version=\"1.0\"?>\n<ip_block>\n  <cidr>10.0.0.0/24</cidr>\n  <type>private</type>\n</ip_block>\n");
    assert_eq!(
        v,
        Ok(json!({"ip_block": {"cidr": "10.0.0.0/24", "type": "private"}}))
    );
}

#[test]
fn attributes_are_fields_and_xsi_nil_is_null() {
    let v = read(
        "<ip_block xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" cidr=\"10.0.0.0/24\">\
         <gateway xsi:nil=\"true\"/><dns1></dns1></ip_block>",
    );
    assert_eq!(
        v,
        Ok(json!({"ip_block": {"cidr": "10.0.0.0/24", "gateway": null, "dns1": ""}}))
    );
}

#[test]
fn list_keys_and_repeated_singular_children_become_lists() {
    let v = read(
        "<interface><network><id>net1</id><addresses><address>10.0.0.2</address></addresses>\
         </network></interface>",
    );
    assert_eq!(
        v,
        Ok(json!({"interface": {"network": {"id": "net1", "addresses": ["10.0.0.2"]}}}))
    );
    let v = read("<instance><interfaces/></instance>");
    assert_eq!(v, Ok(json!({"instance": {"interfaces": []}})));
    let v = read("<things><thing>a</thing><thing>b</thing></things>");
    assert_eq!(v, Ok(json!({"things": ["a", "b"]})));
}

#[test]
fn an_empty_root_or_struct_is_an_empty_object() {
    assert_eq!(read("<ip_address/>"), Ok(json!({"ip_address": {}})));
    assert_eq!(
        read("<ip_block><cidr>10.0.0.0/8</cidr></ip_block>").map(|v| v["ip_block"]["cidr"].clone()),
        Ok(json!("10.0.0.0/8"))
    );
    assert_eq!(
        read("<x><policy>\n</policy></x>"),
        Ok(json!({"x": {"policy": {}}}))
    );
}

#[test]
fn entities_and_cdata_are_text() {
    let v = read("<policy><name>a &lt;&amp;&gt; &#65;&#x42;<![CDATA[<c>]]></name></policy>");
    assert_eq!(v, Ok(json!({"policy": {"name": "a <&> AB<c>"}})));
}

#[test]
fn a_doctype_is_refused_so_no_entity_can_expand() {
    let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">\
                  <!ENTITY lol2 \"&lol;&lol;&lol;\">]><policy><name>&lol2;</name></policy>";
    assert_eq!(read(laughs), Err(XmlError::Doctype));
    let external = "<!DOCTYPE p [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><p>&x;</p>";
    assert_eq!(read(external), Err(XmlError::Doctype));
}

#[test]
fn malformed_or_ill_shaped_xml_is_refused() {
    let malformed = [
        "",
        "   ",
        "<ip_block>",
        "<ip_block></ip_blok>",
        "<ip_block><cidr>1</ip_block>",
        "</ip_block>",
        "<a>&undefined;</a>",
        "<a>& b</a>",
        "not xml",
        "{\"ip_block\": {}}",
        "<a b=\"1\" b=\"2\"/>",
        "<a b=1/>",
    ];
    for body in malformed {
        assert!(
            read(body).is_err(),
            "{body:?} was accepted: {:?}",
            read(body)
        );
    }
    let shaped = [
        "<a/><b/>",
        "<a/>text",
        "<a>text<b/></a>",
        "<a><b>1</b><b>2</b></a>",
        "<a b=\"1\"><b>2</b></a>",
        "<a><addresses>text</addresses></a>",
        "<a xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:nil=\"true\">x</a>",
    ];
    for body in shaped {
        assert!(
            matches!(read(body), Err(XmlError::Shape(_))),
            "{body:?}: {:?}",
            read(body)
        );
    }
    assert_eq!(
        decode(&[b'<', b'a', b'>', 0xff, b'<', b'/', b'a', b'>']),
        Err(XmlError::Malformed)
    );
}

#[test]
fn nesting_is_bounded() {
    let ok = format!("{}{}", "<a>".repeat(DEPTH_MAX), "</a>".repeat(DEPTH_MAX));
    assert!(read(&ok).is_ok());
    let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    assert_eq!(read(&deep), Err(XmlError::TooDeep));
}

#[test]
fn writing_then_reading_gives_back_a_value_of_strings() {
    let v = json!({"ip_block": {
        "cidr": "10.0.0.0/24", "gateway": null, "note": " spaced <&> ",
        "network": {"id": "n1", "addresses": ["10.0.0.2", "10.0.0.3"]},
    }});
    assert_eq!(decode(&encode(&v, false)), Ok(v));
}

#[test]
fn characters_xml_cannot_carry_are_replaced_and_a_cr_survives() {
    let v = json!({"policy": {"name": "a\u{1}b\u{ffff}", "description": "x\r\ny\tz"}});
    let out = xml(&v);
    assert!(
        out.contains("<description>x&#13;\ny\tz</description>"),
        "{out}"
    );
    assert_eq!(
        decode(out.as_bytes()),
        Ok(json!({"policy": {"name": "a\u{fffd}b\u{fffd}", "description": "x\r\ny\tz"}}))
    );
    let link = json!({"links": [{"rel": "x\ty", "href": "a\nb"}]});
    let out = xml(&link);
    assert!(
        out.contains("<link rel=\"x&#9;y\" href=\"a&#10;b\"/>"),
        "{out}"
    );
}
