//! Pure conversions between Commvault's wire shapes and orgway's model, both ways, including
//! the XML body of `PUT Organization` (seed: `Api_UpdateOrganizationPropertiesRequest`). No I/O.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use orgway_core::text::excerpt;
use orgway_core::{
    BackendError, Counts, ListQuery, Org, OrgStatus, Plan, PlanRef, SortField, Timestamp, Unit,
    UsageMetric, UsageSummary,
};
use quick_xml::Writer;
use serde_json::json;

use crate::wire::{OrganizationInfo, PlanEntry, Provider};

/// Checks a native org id (a positive integer) and returns its canonical spelling.
pub fn canonical_id(raw: &str) -> Result<String, String> {
    let ok = !raw.is_empty() && raw.len() <= 19 && raw.bytes().all(|b| b.is_ascii_digit());
    match ok.then(|| raw.parse::<u64>().ok()).flatten() {
        Some(n) if n > 0 => Ok(n.to_string()),
        _ => Err(format!(
            "`{}` is not a Commvault organization id (a positive integer)",
            excerpt(raw, 64)
        )),
    }
}

fn bad(backend: &str, what: &str) -> BackendError {
    BackendError::bad_response(format!("{backend} sent {what}"))
}

fn created(backend: &str, seconds: Option<i64>) -> Result<Option<Timestamp>, BackendError> {
    match seconds {
        // 0 is what an unset epoch field holds; it is not a creation time.
        None | Some(0) => Ok(None),
        Some(s) => Timestamp::from_unix_seconds(s)
            .map(Some)
            .map_err(|_| bad(backend, "an orgCreationDateTime out of range")),
    }
}

fn status(enabled: Option<bool>, login_disabled: bool) -> Option<OrgStatus> {
    match enabled {
        Some(false) => Some(OrgStatus::Disabled),
        Some(true) if login_disabled => Some(OrgStatus::Disabled),
        Some(true) => Some(OrgStatus::Active),
        None => None,
    }
}

fn plan_ref(entries: &[PlanEntry]) -> Option<PlanRef> {
    let p = entries.iter().find_map(|e| e.plan.as_ref())?;
    Some(PlanRef {
        id: p.plan_id.as_ref().map(|i| i.text()),
        name: p.plan_name.clone(),
    })
}

/// `GET Organization/{id}` as an org: the name from `connectName`, the counters of
/// `organizationProperties`, the creation time from `orgCreationDateTime` (seconds), the plan
/// from the (first) default plan.
pub fn org_from_info(
    backend: &str,
    info: &OrganizationInfo,
    raw: Option<serde_json::Value>,
) -> Result<Org, BackendError> {
    let o = info.organization.clone().unwrap_or_default();
    let props = info.organization_properties.clone().unwrap_or_default();
    let id = o
        .short_name
        .as_ref()
        .and_then(|s| s.id.as_ref())
        .ok_or_else(|| bad(backend, "an organization without shortName.id"))?;
    let native_id = canonical_id(&id.text())
        .map_err(|m| bad(backend, &format!("an organization id it cannot use: {m}")))?;
    let login_disabled = o
        .deactivate_options
        .as_ref()
        .and_then(|d| d.disable_login)
        .unwrap_or(false);
    Ok(Org {
        native_id,
        name: o.connect_name,
        description: o.description.filter(|d| !d.is_empty()),
        status: status(o.enabled, login_disabled),
        parent_native_id: None,
        plan: plan_ref(&props.default_plans),
        created_at: created(backend, props.org_creation_date_time)?,
        updated_at: None,
        counts: Counts {
            users: props.user_count,
            machines: props.total_machine_count,
            servers: props.server_count,
            ..Counts::default()
        },
        raw,
    })
}

/// One element of `GET Organization`'s `providers` as an org.
pub fn org_from_provider(
    backend: &str,
    p: &Provider,
    raw: Option<serde_json::Value>,
) -> Result<Org, BackendError> {
    let id = p
        .short_name
        .as_ref()
        .and_then(|s| s.id.as_ref())
        .ok_or_else(|| bad(backend, "a provider without shortName.id"))?;
    let native_id = canonical_id(&id.text())
        .map_err(|m| bad(backend, &format!("an organization id it cannot use: {m}")))?;
    let mut org = Org::bare(native_id);
    org.name = p.connect_name.clone();
    org.description = p.description.clone().filter(|d| !d.is_empty());
    org.status = status(p.enabled, false);
    org.raw = raw;
    Ok(org)
}

fn plan_key(e: &PlanEntry) -> Option<(Option<String>, Option<String>)> {
    let p = e.plan.as_ref()?;
    Some((p.plan_id.as_ref().map(|i| i.text()), p.plan_name.clone()))
}

/// The plans associated with an org (`planDetails`), with `isDefault` from `defaultPlans`.
/// A plan's id is Commvault's `planId`, or its name when Commvault gives no id. `raw` is the
/// whole `GET Organization/{id}` answer, when the caller asked for raw records; each plan then
/// carries its own `planDetails` element.
pub fn plans_from_info(info: &OrganizationInfo, raw: Option<&serde_json::Value>) -> Vec<Plan> {
    let raw_entries = raw
        .and_then(|r| r.pointer("/organizationInfo/planDetails"))
        .and_then(|v| v.as_array());
    let defaults: Vec<(Option<String>, Option<String>)> = info
        .organization_properties
        .as_ref()
        .map(|p| p.default_plans.iter().filter_map(plan_key).collect())
        .unwrap_or_default();
    info.plan_details
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let (id, name) = plan_key(e)?;
            let is_default = defaults.iter().any(|(did, dname)| match (&id, did) {
                (Some(a), Some(b)) => a == b,
                _ => name.is_some() && &name == dname,
            });
            Some(Plan {
                id: id.clone().or_else(|| name.clone())?,
                name,
                description: None,
                is_default: Some(is_default),
                quotas: Vec::new(),
                assignees: None,
                raw: raw_entries.and_then(|r| r.get(i)).cloned(),
            })
        })
        .collect()
}

/// `GET /v1/orgs/{org}/usage` from the org's counters.
pub fn usage_from_info(info: &OrganizationInfo, raw: Option<serde_json::Value>) -> UsageSummary {
    let props = info.organization_properties.clone().unwrap_or_default();
    let mut metrics = Vec::new();
    let mut push = |metric: &str, value: Option<u64>| {
        if let Some(value) = value {
            metrics.push(UsageMetric {
                metric: metric.to_owned(),
                value,
                unit: Unit::Count,
            });
        }
    };
    push("users", props.user_count);
    push("machines", props.total_machine_count);
    push("servers", props.server_count);
    push("physical-devices", props.physical_device_count);
    push("plans", Some(info.plan_details.len() as u64));
    UsageSummary { metrics, raw }
}

/// The sort orders `GET Organization` applies itself, and the column each sorts by.
pub const SORTS: &[SortField] = &[SortField::Name, SortField::Id];

/// `start`, `limit` and `sort` of `GET Organization` for a list query.
pub fn list_params(query: &ListQuery) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("start", query.offset().to_string()),
        ("limit", query.limit.to_string()),
    ];
    if let Some(sort) = query.sort {
        let column = match sort.field {
            SortField::Name => Some("providers.connectName"),
            SortField::Id => Some("providers.shortname.id"),
            _ => None,
        };
        if let Some(c) = column {
            out.push((
                "sort",
                format!("{c}:{}", if sort.descending { -1 } else { 1 }),
            ));
        }
    }
    out
}

/// What a `PUT Organization` changes about one plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanChange<'a> {
    pub plan_name: &'a str,
    /// Associate (`Some(true)`), dissociate (`Some(false)`) or leave (`None`) the plan.
    pub associate: Option<bool>,
    /// Make it a default plan (`Some(true)`), stop it being one (`Some(false)`), or leave it.
    pub default: Option<bool>,
}

fn op(add: bool) -> &'static str {
    if add { "ADD" } else { "DELETE" }
}

/// The XML body of `PUT Organization` for a plan change, in the seed's structure:
///
/// ```xml
/// <Api_UpdateOrganizationPropertiesRequest>
///   <organizationInfo planDetailsOperationType="ADD">
///     <planDetails><plan planName="Laptop plan"/></planDetails>
///     <organization><shortName domainName="company001" id="1"/></organization>
///     <organizationProperties defaultPlansOperationType="ADD">
///       <defaultPlans><plan planName="Laptop plan"/></defaultPlans>
///     </organizationProperties>
///   </organizationInfo>
/// </Api_UpdateOrganizationPropertiesRequest>
/// ```
///
/// Every attribute value is escaped (see [`attribute`]), so any plan or org name arrives as
/// written.
pub fn update_xml(org_id: &str, domain_name: &str, change: PlanChange<'_>) -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = w
        .create_element("Api_UpdateOrganizationPropertiesRequest")
        .write_inner_content(|w| {
            let mut info = w.create_element("organizationInfo");
            if let Some(add) = change.associate {
                info = info.with_attribute(("planDetailsOperationType", op(add)));
            }
            info.write_inner_content(|w| {
                if change.associate.is_some() {
                    w.create_element("planDetails").write_inner_content(|w| {
                        w.create_element("plan")
                            .with_attribute(attribute("planName", change.plan_name))
                            .write_empty()
                            .map(|_| ())
                    })?;
                }
                w.create_element("organization").write_inner_content(|w| {
                    w.create_element("shortName")
                        .with_attribute(attribute("domainName", domain_name))
                        .with_attribute(attribute("id", org_id))
                        .write_empty()
                        .map(|_| ())
                })?;
                if let Some(add) = change.default {
                    w.create_element("organizationProperties")
                        .with_attribute(("defaultPlansOperationType", op(add)))
                        .write_inner_content(|w| {
                            w.create_element("defaultPlans").write_inner_content(|w| {
                                w.create_element("plan")
                                    .with_attribute(attribute("planName", change.plan_name))
                                    .write_empty()
                                    .map(|_| ())
                            })?;
                            Ok(())
                        })?;
                }
                Ok(())
            })?;
            Ok(())
        });
    w.into_inner()
}

/// An attribute whose value any XML parser reads back as written: quick-xml escapes `<`, `>`,
/// `&`, `'` and `"`; a tab, line feed or carriage return, which a parser normalizes to a space
/// in an attribute value, is written as a character reference.
fn attribute<'a>(name: &'a str, value: &str) -> quick_xml::events::attributes::Attribute<'a> {
    let escaped = quick_xml::escape::escape(value);
    let value = if escaped.contains(['\t', '\n', '\r']) {
        escaped
            .replace('\t', "&#9;")
            .replace('\n', "&#10;")
            .replace('\r', "&#13;")
    } else {
        escaped.into_owned()
    };
    quick_xml::events::attributes::Attribute {
        key: quick_xml::name::QName(name),
        value: std::borrow::Cow::Owned(value),
    }
}

/// The body of `POST Login` (the documented JSON form), with the password base64-encoded as
/// Commvault expects.
pub fn login_body(
    username: &str,
    password: &str,
    domain: Option<&str>,
    device_id: &str,
) -> Vec<u8> {
    let mut body = json!({
        "username": username,
        "password": STANDARD.encode(password.as_bytes()),
        "deviceId": device_id,
    });
    if let Some(d) = domain {
        body["domain"] = json!(d);
    }
    body.to_string().into_bytes()
}

/// The body of `POST RenewLoginToken`.
pub fn renew_body(token: &str, device_id: &str) -> Vec<u8> {
    json!({ "sessionId": token, "deviceId": device_id })
        .to_string()
        .into_bytes()
}

/// Whether two plan names name the same plan to Commvault, which compares them without regard
/// to case.
pub fn same_plan_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// A plan named in a route (`{plan}`), found among the org's plans or the CommCell's: a caller
/// may give the plan's id (as listed) or its name, in any letter case as long as only one plan
/// matches that way.
pub fn find_plan<'a>(
    wanted: &str,
    plans: &'a [(Option<String>, Option<String>)],
) -> Option<&'a (Option<String>, Option<String>)> {
    plans
        .iter()
        .find(|(id, _)| id.as_deref() == Some(wanted))
        .or_else(|| {
            plans
                .iter()
                .find(|(_, name)| name.as_deref() == Some(wanted))
        })
        .or_else(|| {
            let mut folded = plans
                .iter()
                .filter(|(_, name)| name.as_deref().is_some_and(|n| same_plan_name(n, wanted)));
            match (folded.next(), folded.next()) {
                (Some(one), None) => Some(one),
                _ => None,
            }
        })
}

/// `(planId, planName)` of each entry.
pub fn plan_keys(entries: &[PlanEntry]) -> Vec<(Option<String>, Option<String>)> {
    entries.iter().filter_map(plan_key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(canonical_id("7").unwrap(), "7");
        assert_eq!(canonical_id("007").unwrap(), "7");
        assert!(canonical_id("0").is_err());
        assert!(canonical_id("-1").is_err());
        assert!(canonical_id("1e3").is_err());
        assert!(canonical_id("../1").is_err());
        assert!(canonical_id("99999999999999999999").is_err());
        assert!(canonical_id("").is_err());
    }

    #[test]
    fn xml_has_the_seed_structure() {
        let x = update_xml(
            "1",
            "company001",
            PlanChange {
                plan_name: "Laptop plan",
                associate: Some(true),
                default: None,
            },
        );
        assert_eq!(
            String::from_utf8(x).unwrap(),
            r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="ADD"><planDetails><plan planName="Laptop plan"/></planDetails><organization><shortName domainName="company001" id="1"/></organization></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#
        );
        let x = update_xml(
            "1",
            "company001",
            PlanChange {
                plan_name: "Laptop plan",
                associate: None,
                default: Some(true),
            },
        );
        assert_eq!(
            String::from_utf8(x).unwrap(),
            r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo><organization><shortName domainName="company001" id="1"/></organization><organizationProperties defaultPlansOperationType="ADD"><defaultPlans><plan planName="Laptop plan"/></defaultPlans></organizationProperties></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#
        );
    }

    #[test]
    fn xml_escapes_every_value() {
        let evil = "a\"/><x y=\"\tb\nc\r";
        let x = String::from_utf8(update_xml(
            "1",
            "o&<'",
            PlanChange {
                plan_name: evil,
                associate: Some(false),
                default: Some(false),
            },
        ))
        .unwrap();
        assert!(
            x.contains(r#"planName="a&quot;/&gt;&lt;x y=&quot;&#9;b&#10;c&#13;""#),
            "{x}"
        );
        assert!(x.contains(r#"domainName="o&amp;&lt;&apos;""#), "{x}");
        assert!(x.contains(r#"planDetailsOperationType="DELETE""#));
        assert!(x.contains(r#"defaultPlansOperationType="DELETE""#));
        // Read back with an XML parser, the name is exactly what was written.
        let mut reader = quick_xml::Reader::from_str(&x);
        let mut names = Vec::new();
        loop {
            match reader.read_event().unwrap() {
                quick_xml::events::Event::Empty(e) if e.name().into_inner() == "plan" => {
                    let a = e.try_get_attribute("planName").unwrap().unwrap();
                    names.push(
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned(),
                    );
                }
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(names, [evil, evil]);
    }

    #[test]
    fn login_password_is_base64() {
        let b: serde_json::Value =
            serde_json::from_slice(&login_body("admin", "secret", None, "dev-1")).unwrap();
        assert_eq!(
            b,
            json!({"username": "admin", "password": "c2VjcmV0", "deviceId": "dev-1"})
        );
        let b: serde_json::Value =
            serde_json::from_slice(&login_body("jo", "pässword", Some("corp"), "d")).unwrap();
        assert_eq!(b["password"], STANDARD.encode("pässword".as_bytes()));
        assert_eq!(b["domain"], "corp");
    }

    #[test]
    fn list_parameters() {
        let q = ListQuery {
            limit: 25,
            cursor: Some(orgway_core::Cursor::Offset(50)),
            sort: orgway_core::Sort::parse("-name"),
        };
        assert_eq!(
            list_params(&q),
            vec![
                ("start", "50".to_owned()),
                ("limit", "25".to_owned()),
                ("sort", "providers.connectName:-1".to_owned())
            ]
        );
    }

    #[test]
    fn plans_by_id_or_name() {
        let plans = vec![
            (Some("3".to_owned()), Some("Laptop plan".to_owned())),
            (Some("4".to_owned()), Some("3".to_owned())),
        ];
        assert_eq!(
            find_plan("3", &plans).unwrap().1.as_deref(),
            Some("Laptop plan"),
            "ids win over names"
        );
        assert_eq!(
            find_plan("Laptop plan", &plans).unwrap().0.as_deref(),
            Some("3")
        );
        assert!(find_plan("Gold", &plans).is_none());
        assert_eq!(
            find_plan("LAPTOP plan", &plans).unwrap().0.as_deref(),
            Some("3"),
            "any case"
        );
        let twins = vec![
            (Some("1".to_owned()), Some("Gold".to_owned())),
            (Some("2".to_owned()), Some("GOLD".to_owned())),
        ];
        assert_eq!(
            find_plan("GOLD", &twins).unwrap().0.as_deref(),
            Some("2"),
            "an exact name wins"
        );
        assert!(
            find_plan("gold", &twins).is_none(),
            "two plans match without case: ambiguous"
        );
    }
}
