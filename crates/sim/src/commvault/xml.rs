//! XML on the Commvault wire: request bodies read into the same `serde_json::Value` shape as
//! their JSON twins, and responses written from that shape.
//!
//! Commvault's JSON is a mechanical rendering of its XML messages: an attribute becomes a scalar
//! member, a child element an object member, a repeated element an array (compare the seed's
//! `<organizationInfo planDetailsOperationType="ADD"><planDetails><plan planName=…/>` with the
//! JSON `{"organizationInfo":{"planDetailsOperationType":…,"planDetails":[{"plan":{…}}]}}` in
//! dialects.md §2.3). Reading XML into that shape lets one code path check both forms.
//!
//! Reading:
//! - attributes become string members (XML has no types; the readers of the value accept numeric
//!   strings wherever a number is expected);
//! - a child element becomes a member holding an object, or, when it has neither attributes nor
//!   children, its text as a string;
//! - a name seen twice under one parent, or listed in the caller's `arrays`, becomes an array;
//! - attribute values are unescaped and normalised by quick-xml as the XML specification says
//!   (entities, character references, tabs and newlines to spaces), so a plan named
//!   `a"/><x y="` sent as `planName="a&quot;/&gt;&lt;x y=&quot;"` arrives as that exact name;
//! - namespace prefixes are dropped; comments, processing instructions and the declaration are
//!   skipped; anything that is not well-formed XML is an error.
//!
//! The `Value` a body is read into keeps no order (its maps are sorted by key), so where order
//! matters [`member_order`] reads it from the document itself.
//!
//! Writing is the inverse: scalars become attributes, objects child elements, arrays repeated
//! child elements (an array of scalars becomes repeated elements holding text), nulls are left
//! out.

use std::fmt;
use std::fmt::Write as _;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

/// How deep a request may nest elements; deeper is refused rather than followed.
const MAX_DEPTH: usize = 64;

/// An element being read: its name, its members so far and its text.
struct Open {
    name: String,
    members: Map<String, Value>,
    text: String,
}

impl Open {
    fn start(e: &BytesStart<'_>) -> Result<Open, String> {
        let name = e.local_name().as_ref().to_owned();
        let mut members = Map::new();
        for attr in e.attributes() {
            let attr = attr.map_err(|err| format!("bad attribute in <{name}>: {err}"))?;
            let key = attr.key.local_name().as_ref().to_owned();
            // quick-xml lets a raw `<` through; the XML specification does not.
            if attr.value.contains('<') {
                return Err(format!("a raw '<' in attribute {key} of <{name}>"));
            }
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| format!("bad attribute value in <{name}>: {err}"))?;
            members.insert(key, Value::String(value.into_owned()));
        }
        Ok(Open {
            name,
            members,
            text: String::new(),
        })
    }

    /// The element as a value: an object, or its trimmed text when it holds nothing else.
    fn finish(self) -> (String, Value) {
        let value = if self.members.is_empty() {
            Value::String(self.text.trim().to_owned())
        } else {
            Value::Object(self.members)
        };
        (self.name, value)
    }
}

/// Adds `value` under `name`, turning repeated names (and names in `arrays`) into arrays.
/// An element's own value is never an array, so an array already under `name` is one this
/// function made.
fn add_member(parent: &mut Map<String, Value>, name: String, value: Value, arrays: &[&str]) {
    let listed = arrays.iter().any(|a| a.eq_ignore_ascii_case(&name));
    match parent.get_mut(&name) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None if listed => {
            parent.insert(name, Value::Array(vec![value]));
        }
        None => {
            parent.insert(name, value);
        }
    }
}

/// Reads an XML document: the root element's local name and its content as a JSON value.
/// Element names in `arrays` always become arrays, even when they appear once.
pub(crate) fn parse(body: &[u8], arrays: &[&str]) -> Result<(String, Value), String> {
    let text = std::str::from_utf8(body).map_err(|_| "the XML body is not UTF-8".to_owned())?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<(String, Value)> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(e) => {
                if root.is_some() {
                    return Err("content after the root element".to_owned());
                }
                if stack.len() >= MAX_DEPTH {
                    return Err("the XML body is nested too deeply".to_owned());
                }
                stack.push(Open::start(&e)?);
            }
            Event::Empty(e) => {
                let open = Open::start(&e)?;
                close(&mut stack, &mut root, open, arrays)?;
            }
            Event::End(_) => {
                // quick-xml checks that the end tag matches the open one.
                let open = stack
                    .pop()
                    .ok_or_else(|| "an end tag without a start tag".to_owned())?;
                close(&mut stack, &mut root, open, arrays)?;
            }
            Event::Text(t) => {
                let content = t.xml_content(XmlVersion::Implicit1_0);
                match stack.last_mut() {
                    Some(open) => open.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err("text outside the root element".to_owned()),
                }
            }
            Event::CData(c) => match stack.last_mut() {
                Some(open) => open.text.push_str(&c),
                None => return Err("CDATA outside the root element".to_owned()),
            },
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref() {
                    Ok(Some(ch)) => ch,
                    Ok(None) => predefined_entity(&r.xml_content(XmlVersion::Implicit1_0))
                        .ok_or_else(|| "an undefined entity reference".to_owned())?,
                    Err(e) => return Err(format!("a bad character reference: {e}")),
                };
                match stack.last_mut() {
                    Some(open) => open.text.push(ch),
                    None => return Err("text outside the root element".to_owned()),
                }
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("the XML body ends inside an element".to_owned());
    }
    root.ok_or_else(|| "the XML body has no root element".to_owned())
}

fn close(
    stack: &mut [Open],
    root: &mut Option<(String, Value)>,
    open: Open,
    arrays: &[&str],
) -> Result<(), String> {
    let (name, value) = open.finish();
    match stack.last_mut() {
        Some(parent) => add_member(&mut parent.members, name, value, arrays),
        None if root.is_none() => *root = Some((name, value)),
        None => return Err("more than one root element".to_owned()),
    }
    Ok(())
}

fn predefined_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

/// Whether a request body is XML: its `Content-Type` says so, or, without a content type that
/// names XML or JSON, its first non-blank character is `<`.
fn is_xml(content_type: Option<&str>, body: &[u8]) -> bool {
    match content_type.map(str::to_ascii_lowercase) {
        Some(ct) if ct.contains("xml") => true,
        Some(ct) if ct.contains("json") => false,
        _ => body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'<'),
    }
}

/// Reads a request body in either form into a JSON object: JSON as it is, XML as described
/// above, its root element required to be `xml_root`.
pub(crate) fn read_request(
    content_type: Option<&str>,
    body: &[u8],
    xml_root: &str,
    arrays: &[&str],
) -> Result<Value, String> {
    let value = if is_xml(content_type, body) {
        let (root, value) = parse(body, arrays).map_err(|e| format!("invalid XML: {e}"))?;
        if root != xml_root {
            return Err(format!(
                "unexpected root element [{root}], expected [{xml_root}]"
            ));
        }
        value
    } else {
        serde_json::from_slice::<Value>(body).map_err(|e| format!("invalid JSON: {e}"))?
    };
    if value.is_object() {
        Ok(value)
    } else {
        Err("the request body must be an object".to_owned())
    }
}

/// The names of the members of `child` (a member of the document's top-level object, or a
/// child element of the XML root) in the order the document writes them: in JSON its keys; in
/// XML its attributes, then its child elements (a repeated one each time it appears). Empty
/// when there is no such object. Meant for bodies [`read_request`] has accepted.
pub(crate) fn member_order(content_type: Option<&str>, body: &[u8], child: &str) -> Vec<String> {
    if is_xml(content_type, body) {
        xml_member_order(body, child)
    } else {
        let mut de = serde_json::Deserializer::from_slice(body);
        MemberKeys(Some(child))
            .deserialize(&mut de)
            .unwrap_or_default()
    }
}

fn xml_member_order(body: &[u8], child: &str) -> Vec<String> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Vec::new();
    };
    let mut reader = Reader::from_str(text);
    let attrs = |e: &BytesStart<'_>| -> Vec<String> {
        e.attributes()
            .filter_map(Result::ok)
            .map(|a| a.key.local_name().as_ref().to_owned())
            .collect()
    };
    // Open elements; `inside` once the wanted element is open (at depth 2).
    let mut depth = 0usize;
    let mut inside = false;
    let mut out = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.local_name().as_ref().to_owned();
                if depth == 1 && !inside && name == child {
                    inside = true;
                    out = attrs(&e);
                } else if inside && depth == 2 {
                    out.push(name);
                }
                depth += 1;
            }
            Ok(Event::Empty(e)) => {
                let name = e.local_name().as_ref().to_owned();
                if depth == 1 && !inside && name == child {
                    return attrs(&e);
                } else if inside && depth == 2 {
                    out.push(name);
                }
            }
            Ok(Event::End(_)) => {
                depth = depth.saturating_sub(1);
                if inside && depth == 1 {
                    return out;
                }
            }
            Ok(Event::Eof) | Err(_) => return out,
            Ok(_) => {}
        }
    }
}

/// Reads a JSON object's keys in the order written: its own (`None`), or those of its member
/// `Some(name)`, which must be an object.
struct MemberKeys<'a>(Option<&'a str>);

impl<'de> DeserializeSeed<'de> for MemberKeys<'_> {
    type Value = Vec<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MemberKeys<'_> {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match self.0 {
                None => {
                    map.next_value::<IgnoredAny>()?;
                    out.push(key);
                }
                Some(wanted) if key == wanted => {
                    out = map.next_value_seed(MemberKeys(None))?;
                }
                Some(_) => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// Writes `value` as an XML document whose root element is `root`.
pub(crate) fn render(root: &str, value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    element(&mut out, root, value);
    out
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                element(out, name, item);
            }
        }
        Value::Object(members) => {
            let _ = write!(out, "<{name}");
            for (key, member) in members {
                if let Some(text) = scalar_text(member) {
                    let _ = write!(out, " {key}=\"{}\"", quick_xml::escape::escape(text));
                }
            }
            let children: Vec<(&String, &Value)> = members
                .iter()
                .filter(|(_, v)| matches!(v, Value::Object(_) | Value::Array(_)))
                .collect();
            if children.is_empty() {
                out.push_str("/>");
                return;
            }
            out.push('>');
            for (key, child) in children {
                element(out, key, child);
            }
            let _ = write!(out, "</{name}>");
        }
        scalar => {
            let text = scalar_text(scalar).unwrap_or_default();
            let _ = write!(out, "<{name}>{}</{name}>", quick_xml::escape::escape(text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_seed_request() {
        let body = br#"<Api_UpdateOrganizationPropertiesRequest> <organizationInfo planDetailsOperationType="ADD"> <planDetails> <plan planName="Laptop plan" /> </planDetails> <organization> <shortName domainName="company001" id="1" /> </organization> </organizationInfo>
</Api_UpdateOrganizationPropertiesRequest>"#;
        let (root, value) = parse(body, &["planDetails"]).expect("parse");
        assert_eq!(root, "Api_UpdateOrganizationPropertiesRequest");
        assert_eq!(
            value,
            json!({"organizationInfo": {
                "planDetailsOperationType": "ADD",
                "planDetails": [{"plan": {"planName": "Laptop plan"}}],
                "organization": {"shortName": {"domainName": "company001", "id": "1"}}
            }})
        );
    }

    #[test]
    fn unescapes_attribute_values_exactly() {
        let body = br#"<r><plan planName="a&quot;/&gt;&lt;x y=&quot;&#x26;&apos;"/></r>"#;
        let (_, value) = parse(body, &[]).expect("parse");
        assert_eq!(value["plan"]["planName"], "a\"/><x y=\"&'");
    }

    #[test]
    fn repeated_elements_and_text_become_arrays_and_strings() {
        let body = b"<r><d>a.com</d><d>b&amp;c.com</d><one>x</one></r>";
        let (_, value) = parse(body, &[]).expect("parse");
        assert_eq!(value, json!({"d": ["a.com", "b&c.com"], "one": "x"}));
    }

    #[test]
    fn refuses_what_is_not_well_formed() {
        for bad in [
            &b"<r><a></r>"[..],
            b"<r>",
            b"",
            b"not xml",
            b"<r/><s/>",
            b"<r a=\"1\" a=\"2\"/>",
            b"<r>&bogus;</r>",
            b"<r a=\"<\"/>",
        ] {
            assert!(parse(bad, &[]).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn reads_either_form_by_content_type_or_first_character() {
        let xml = b"  <Req a=\"1\"/>";
        let json = br#"{"a": "1"}"#;
        for (ct, body) in [
            (None, &xml[..]),
            (Some("application/xml"), xml),
            (None, json),
        ] {
            let v = read_request(ct, body, "Req", &[]).expect("read");
            assert_eq!(v, json!({"a": "1"}));
        }
        assert!(read_request(Some("application/json"), xml, "Req", &[]).is_err());
        assert!(read_request(None, xml, "Other", &[]).is_err());
        assert!(read_request(None, b"[1]", "Req", &[]).is_err());
    }

    #[test]
    fn member_order_is_the_order_written() {
        let xml = br#"<R><info b="1" a="2"><z/><y>t</y><z/></info><other c="3"/></R>"#;
        assert_eq!(member_order(None, xml, "info"), ["b", "a", "z", "y", "z"]);
        assert_eq!(
            member_order(None, br#"<R><info b="1"/></R>"#, "info"),
            ["b"]
        );
        assert!(member_order(None, xml, "missing").is_empty());
        let json = br#"{"x": 1, "info": {"zeta": [1, {"a": 2}], "alpha": null}, "y": {}}"#;
        assert_eq!(
            member_order(Some("application/json"), json, "info"),
            ["zeta", "alpha"]
        );
        assert!(member_order(None, br#"{"info": 3}"#, "info").is_empty());
    }

    #[test]
    fn renders_scalars_as_attributes_and_escapes_them() {
        let text = render(
            "App_GenericResp",
            &json!({"error": {"errorCode": 0, "errorMessage": "a<\"b\">"}, "list": [{"x": 1}, {"x": 2}], "tags": ["t1"]}),
        );
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><App_GenericResp><error errorCode=\"0\" errorMessage=\"a&lt;&quot;b&quot;&gt;\"/><list x=\"1\"/><list x=\"2\"/><tags>t1</tags></App_GenericResp>"
        );
        // And what it writes reads back.
        let (_, back) = parse(text.as_bytes(), &["list"]).expect("parse");
        assert_eq!(back["error"]["errorMessage"], "a<\"b\">");
        assert_eq!(back["list"][1]["x"], "2");
    }
}
