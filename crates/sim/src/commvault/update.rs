//! `PUT Organization`: the seed's XML (`Api_UpdateOrganizationPropertiesRequest`) and the JSON
//! cvpysdk sends (`PUT Organization?organizationId=7`), read into one [`Update`] and applied to
//! the store all at once or not at all.
//!
//! # Reading the request
//! - Form: `Content-Type` naming XML or JSON decides; without one, the first character of the
//!   body. An XML body must have the documented root element; its attributes and elements read
//!   as in `xml.rs`, so the XML and JSON forms go through the same code below.
//! - Which organization: `organizationInfo.organization.shortName.id` and/or the query's
//!   `organizationId` (cvpysdk sends both; they must agree); without an id, `shortName.domainName`
//!   (the alias, without regard to case). With an id, `domainName` is not checked: the docs call
//!   the id the identifier. Id 0 is the CommCell itself (cvpysdk's `set_default_plan`): only its
//!   default plans can change.
//! - Operation types: the documented names `ADD`, `OVERWRITE`, `DELETE` (any case), or cvpysdk's
//!   numbers, read with its generic enum `NONE 0, OVERWRITE 1, ADD 2, DELETE 3, CLEAR 4`
//!   (dialects.md §2.3 explains the inference); numbers may come as strings (XML).
//! - Plans: each `plan` names a plan by `planId` (preferred when present) or `planName` (the
//!   exact name first, then the one name equal without regard to case). In XML, several plans
//!   may come as several `planDetails` elements or several `plan` elements in one.
//! - `planDetails` with plans but no `planDetailsOperationType` is refused (the docs always pair
//!   them, and guessing an operation would hide a client bug). `defaultPlans` without
//!   `defaultPlansOperationType` means OVERWRITE: cvpysdk's `default_plan = "name"` sends it so,
//!   meaning "this is the default plan now". An operation type without a list acts on an empty
//!   list (`OVERWRITE` then clears; cvpysdk's `default_plan = None` relies on this).
//! - Renames: `newCompanyName`, `newAliasName` (top level, as cvpysdk sends them). From
//!   `organization`: `description` and `emailDomainNames` are applied; the rest of that object
//!   (cvpysdk echoes the whole object it read) identifies the organization or is ignored.
//! - Other `organizationProperties` members (`loginSessionTimeoutInMinutes`, …) are stored and
//!   shown by `GET Organization/{id}`; `loginSessionTimeoutInMinutes` must be a non-negative
//!   integer and `canCreateCompanies` a boolean. The counters and creation time are read-only
//!   and ignored, as are `primaryContacts` (contacts are not editable in the simulator) and
//!   `authCode` (the CommCell generates it).
//!
//! # Applying it
//! The two operations (associations, default plans) apply in document order, as the CommCell
//! applies them: an operation's place is that of its list (`planDetails`, or
//! `organizationProperties` for the default plans), or, for an association without a list, that
//! of `planDetailsOperationType`; in XML the attributes of `organizationInfo` come before its
//! child elements, in JSON the members come as written (`xml::member_order`). So the seed's two
//! examples in one body (association, then default) associate a plan and make it the default,
//! while a body that dissociates a plan and then removes it as a default is refused: when the
//! default-plan operation applies, the plan is no longer associated.
//! - Associations: `ADD` appends plans not yet associated; `OVERWRITE` replaces the list;
//!   `DELETE` removes the plans (a plan not associated is no error); `NONE` keeps, `CLEAR`
//!   empties the list.
//! - A plan that stops being associated stops being a default plan too.
//! - Default plans: every plan an `ADD`, `OVERWRITE` or `DELETE` names must be associated with
//!   the organization when that operation applies, else the whole request fails (`errorCode` 4,
//!   "… is not associated with the company […], so it cannot be a default plan") — cvpysdk
//!   refuses the same client-side (its `Organization` error 111, "plan not associated") before
//!   asking the server, which shows what the product requires. An organization has at most one
//!   default plan per plan subtype: `ADD` replaces the default of the same subtype, `OVERWRITE`
//!   replaces all and may not name two of one subtype, `DELETE` removes (an associated plan that
//!   is not a default is no error).
//!
//! # Answer
//! HTTP 200 with `{"error":{"errorMessage":"","errorCode":0}}` (S1), or HTTP 200 with the same
//! shape and a non-zero code (`wire::Code`) and a message such as `Plan [Platinum] does not
//! exist`; nothing changes on failure.

use serde_json::{Map, Value};

use super::store::{Org, Store};
use super::wire::{AppError, Code};
use super::xml;

/// The XML request's root element (S1).
pub(crate) const XML_ROOT: &str = "Api_UpdateOrganizationPropertiesRequest";
/// XML elements that are lists in the JSON form.
const XML_LISTS: &[&str] = &["planDetails", "defaultPlans", "emailDomainNames"];

/// What to do with a list of plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListOp {
    None,
    Overwrite,
    Add,
    Delete,
    Clear,
}

/// A plan as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PlanRef {
    Id(u64),
    Name(String),
}

/// A parsed update.
#[derive(Debug, Clone)]
pub(crate) struct Update {
    org_id: Option<u64>,
    alias: Option<String>,
    plans: Option<(ListOp, Vec<PlanRef>)>,
    defaults: Option<(ListOp, Vec<PlanRef>)>,
    description: Option<String>,
    email_domains: Option<Vec<String>>,
    new_name: Option<String>,
    new_alias: Option<String>,
    properties: Map<String, Value>,
    reseller: Option<bool>,
    /// The default-plan operation comes before the association in the document.
    defaults_first: bool,
}

/// A number, or a string holding one.
fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_u64().map(|n| n != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// An array, a lone element (XML) or nothing.
fn items(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::String(s)) if s.is_empty() => Vec::new(),
        Some(other) => vec![other],
    }
}

fn list_op(v: &Value, name: &str) -> Result<ListOp, AppError> {
    if let Some(n) = as_u64(v) {
        return match n {
            0 => Ok(ListOp::None),
            1 => Ok(ListOp::Overwrite),
            2 => Ok(ListOp::Add),
            3 => Ok(ListOp::Delete),
            4 => Ok(ListOp::Clear),
            _ => Err(AppError::invalid(format!("Invalid {name} [{n}]"))),
        };
    }
    let text = as_text(v).unwrap_or_default();
    match text.trim().to_ascii_uppercase().as_str() {
        "NONE" => Ok(ListOp::None),
        "OVERWRITE" => Ok(ListOp::Overwrite),
        "ADD" => Ok(ListOp::Add),
        "DELETE" => Ok(ListOp::Delete),
        "CLEAR" => Ok(ListOp::Clear),
        _ => Err(AppError::invalid(format!("Invalid {name} [{text}]"))),
    }
}

/// The plans of a `planDetails` / `defaultPlans` list.
fn plan_refs(list: Option<&Value>, name: &str) -> Result<Vec<PlanRef>, AppError> {
    let mut refs = Vec::new();
    for entry in items(list) {
        let plans = items(entry.get("plan"));
        if plans.is_empty() {
            return Err(AppError::invalid(format!(
                "Every {name} entry needs a plan"
            )));
        }
        for plan in plans {
            let id = plan.get("planId").and_then(as_u64).filter(|id| *id > 0);
            let plan_name = plan
                .get("planName")
                .and_then(as_text)
                .filter(|n| !n.is_empty());
            refs.push(match (id, plan_name) {
                (Some(id), _) => PlanRef::Id(id),
                (None, Some(n)) => PlanRef::Name(n),
                (None, None) => {
                    return Err(AppError::invalid(format!(
                        "A plan in {name} needs a planId or a planName"
                    )));
                }
            });
        }
    }
    Ok(refs)
}

/// Members of `organizationProperties` that are computed, not set.
const READ_ONLY: &[&str] = &[
    "userCount",
    "totalMachineCount",
    "serverCount",
    "laptopCount",
    "physicalDeviceCount",
    "orgCreationDateTime",
    "primaryContacts",
    "authCode",
    "defaultPlans",
    "defaultPlansOperationType",
    "resellerCompany",
];

impl Update {
    /// Reads a request body (and the query's `organizationId`).
    pub(crate) fn parse(
        content_type: Option<&str>,
        body: &[u8],
        query_org_id: Option<&str>,
    ) -> Result<Update, AppError> {
        let value = xml::read_request(content_type, body, XML_ROOT, XML_LISTS)
            .map_err(|e| AppError::invalid(format!("Invalid request: {e}")))?;
        let mut update = Update::from_value(&value, query_org_id)?;
        let order = xml::member_order(content_type, body, "organizationInfo");
        let place = |name: &str| order.iter().position(|m| m == name);
        let association = place("planDetails").or_else(|| place("planDetailsOperationType"));
        update.defaults_first = matches!(
            (place("organizationProperties"), association),
            (Some(d), Some(a)) if d < a
        );
        Ok(update)
    }

    fn from_value(value: &Value, query_org_id: Option<&str>) -> Result<Update, AppError> {
        let info = value.get("organizationInfo").unwrap_or(&Value::Null);
        let organization = info.get("organization").unwrap_or(&Value::Null);
        let short_name = organization.get("shortName").unwrap_or(&Value::Null);

        let body_id = match short_name.get("id") {
            None | Some(Value::Null) => None,
            Some(v) => {
                Some(as_u64(v).ok_or_else(|| AppError::invalid("shortName id must be a number"))?)
            }
        };
        let query_id = match query_org_id {
            None => None,
            Some(q) => Some(
                q.trim()
                    .parse::<u64>()
                    .map_err(|_| AppError::invalid(format!("Invalid organizationId [{q}]")))?,
            ),
        };
        let org_id = match (body_id, query_id) {
            (Some(b), Some(q)) if b != q => {
                return Err(AppError::invalid(format!(
                    "organizationId [{q}] does not match the organization id [{b}] in the body"
                )));
            }
            (b, q) => b.or(q),
        };
        let alias = short_name
            .get("domainName")
            .and_then(as_text)
            .filter(|a| !a.is_empty());

        let plans = match (
            info.get("planDetailsOperationType"),
            info.get("planDetails"),
        ) {
            (None, None) => None,
            (None, Some(list)) => {
                let refs = plan_refs(Some(list), "planDetails")?;
                if !refs.is_empty() {
                    return Err(AppError::invalid(
                        "planDetails needs a planDetailsOperationType",
                    ));
                }
                None
            }
            (Some(op), list) => Some((
                list_op(op, "planDetailsOperationType")?,
                plan_refs(list, "planDetails")?,
            )),
        };

        let props = info.get("organizationProperties").unwrap_or(&Value::Null);
        let defaults = match (
            props.get("defaultPlansOperationType"),
            props.get("defaultPlans"),
        ) {
            (None, None) => None,
            (op, list) => Some((
                match op {
                    Some(op) => list_op(op, "defaultPlansOperationType")?,
                    None => ListOp::Overwrite,
                },
                plan_refs(list, "defaultPlans")?,
            )),
        };

        let mut properties = Map::new();
        let mut reseller = None;
        if let Value::Object(map) = props {
            for (key, v) in map {
                if READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(key)) {
                    continue;
                }
                match key.as_str() {
                    "loginSessionTimeoutInMinutes" => {
                        let minutes = as_u64(v).ok_or_else(|| {
                            AppError::invalid(
                                "loginSessionTimeoutInMinutes must be a non-negative integer",
                            )
                        })?;
                        properties.insert(key.clone(), Value::from(minutes));
                    }
                    "canCreateCompanies" => {
                        reseller = Some(as_bool(v).ok_or_else(|| {
                            AppError::invalid("canCreateCompanies must be a boolean")
                        })?);
                    }
                    _ => {
                        properties.insert(key.clone(), v.clone());
                    }
                }
            }
        }

        let description = match organization.get("description") {
            None | Some(Value::Null) => None,
            Some(v) => {
                Some(as_text(v).ok_or_else(|| AppError::invalid("description must be a string"))?)
            }
        };
        let email_domains = match organization.get("emailDomainNames") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                items(Some(v))
                    .into_iter()
                    .map(|d| {
                        as_text(d)
                            .ok_or_else(|| AppError::invalid("emailDomainNames must hold strings"))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let rename = |key: &str| -> Result<Option<String>, AppError> {
            match value.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => match as_text(v).map(|s| s.trim().to_owned()) {
                    Some(s) if !s.is_empty() => Ok(Some(s)),
                    _ => Err(AppError::invalid(format!(
                        "{key} must be a non-empty string"
                    ))),
                },
            }
        };
        Ok(Update {
            org_id,
            alias,
            plans,
            defaults,
            description,
            email_domains,
            new_name: rename("newCompanyName")?,
            new_alias: rename("newAliasName")?,
            properties,
            reseller,
            defaults_first: false,
        })
    }

    /// The id of the organization the update targets (0 for the CommCell).
    fn target(&self, store: &Store) -> Result<u64, AppError> {
        match (self.org_id, &self.alias) {
            (Some(0), _) => Ok(0),
            (Some(id), _) => store.org(id).map(|o| o.id).ok_or_else(|| {
                AppError::new(
                    Code::NoSuchOrganization,
                    format!("Organization [{id}] does not exist"),
                )
            }),
            (None, Some(alias)) => store.org_by_alias(alias).map(|o| o.id).ok_or_else(|| {
                AppError::new(
                    Code::NoSuchOrganization,
                    format!("Organization [{alias}] does not exist"),
                )
            }),
            (None, None) => Err(AppError::invalid(
                "The organization is not specified: give organizationId or shortName",
            )),
        }
    }

    /// Checks the whole update against the store, then applies it; nothing changes on error.
    /// Returns the organization id it changed (0 for the CommCell).
    pub(crate) fn apply(self, store: &mut Store) -> Result<u64, AppError> {
        let id = self.target(store)?;
        let resolve = |refs: &[PlanRef]| -> Result<Vec<u64>, AppError> {
            let mut ids: Vec<u64> = Vec::new();
            for r in refs {
                let plan = match r {
                    PlanRef::Id(pid) => store.plan(*pid),
                    PlanRef::Name(name) => store.plan_by_name(name),
                };
                let plan = plan.ok_or_else(|| {
                    let shown = match r {
                        PlanRef::Id(pid) => pid.to_string(),
                        PlanRef::Name(name) => name.clone(),
                    };
                    AppError::new(Code::NoSuchPlan, format!("Plan [{shown}] does not exist"))
                })?;
                if !ids.contains(&plan.id) {
                    ids.push(plan.id);
                }
            }
            Ok(ids)
        };
        let plan_change = match &self.plans {
            Some((op, refs)) => Some((*op, resolve(refs)?)),
            None => None,
        };
        let default_change = match &self.defaults {
            Some((op, refs)) => Some((*op, resolve(refs)?)),
            None => None,
        };
        let subtype = |pid: u64| store.plan(pid).map_or(0, |p| p.subtype);

        if id == 0 {
            if plan_change.is_some()
                || self.new_name.is_some()
                || self.new_alias.is_some()
                || self.description.is_some()
                || self.email_domains.is_some()
                || self.reseller.is_some()
                || !self.properties.is_empty()
            {
                return Err(AppError::invalid(
                    "Only the default plans of the CommCell (organization 0) can be changed",
                ));
            }
            let mut defaults = store.commcell_defaults.clone();
            if let Some((op, given)) = default_change {
                defaults = change_defaults(defaults, op, &given, &subtype)?;
            }
            store.commcell_defaults = defaults;
            return Ok(0);
        }

        let org = store.org(id).ok_or_else(|| {
            AppError::new(
                Code::NoSuchOrganization,
                format!("Organization [{id}] does not exist"),
            )
        })?;
        let mut plans = org.plans.clone();
        let mut defaults = org.defaults.clone();
        let steps = if self.defaults_first {
            [Step::Defaults, Step::Associations]
        } else {
            [Step::Associations, Step::Defaults]
        };
        for step in steps {
            match (step, &plan_change, &default_change) {
                (Step::Associations, Some((op, given)), _) => {
                    match op {
                        ListOp::None => {}
                        ListOp::Overwrite => plans = given.clone(),
                        ListOp::Add => {
                            let new: Vec<u64> = given
                                .iter()
                                .copied()
                                .filter(|p| !plans.contains(p))
                                .collect();
                            plans.extend(new);
                        }
                        ListOp::Delete => plans.retain(|p| !given.contains(p)),
                        ListOp::Clear => plans.clear(),
                    }
                    // A plan that stops being associated stops being a default plan too.
                    defaults.retain(|d| plans.contains(d));
                }
                (Step::Defaults, _, Some((op, given))) => {
                    if matches!(op, ListOp::Add | ListOp::Overwrite | ListOp::Delete)
                        && let Some(stray) = given.iter().find(|p| !plans.contains(p))
                    {
                        let name = store
                            .plan(*stray)
                            .map_or_else(|| stray.to_string(), |p| p.name.clone());
                        return Err(AppError::new(
                            Code::PlanNotAssociated,
                            format!(
                                "Plan [{name}] is not associated with the company [{}], so it \
                                 cannot be a default plan",
                                org.name
                            ),
                        ));
                    }
                    defaults = change_defaults(defaults, *op, given, &subtype)?;
                }
                _ => {}
            }
        }
        check_unique(
            store,
            org,
            self.new_name.as_deref(),
            |o| &o.name,
            "Company name",
        )?;
        check_unique(
            store,
            org,
            self.new_alias.as_deref(),
            |o| &o.alias,
            "Company alias",
        )?;

        let org = store.org_mut(id).ok_or_else(|| {
            AppError::new(
                Code::NoSuchOrganization,
                format!("Organization [{id}] does not exist"),
            )
        })?;
        org.plans = plans;
        org.defaults = defaults;
        if let Some(name) = self.new_name {
            org.name = name;
        }
        if let Some(alias) = self.new_alias {
            org.alias = alias;
        }
        if let Some(description) = self.description {
            org.description = description;
        }
        if let Some(domains) = self.email_domains {
            org.email_domains = domains;
        }
        if let Some(reseller) = self.reseller {
            org.reseller = reseller;
        }
        org.properties.extend(self.properties);
        Ok(id)
    }
}

/// The two operations of a request, applied in document order.
#[derive(Debug, Clone, Copy)]
enum Step {
    Associations,
    Defaults,
}

/// Applies a default-plan operation, keeping one default per plan subtype.
fn change_defaults(
    mut defaults: Vec<u64>,
    op: ListOp,
    given: &[u64],
    subtype: &dyn Fn(u64) -> u64,
) -> Result<Vec<u64>, AppError> {
    match op {
        ListOp::None => {}
        ListOp::Add => {
            for p in given {
                defaults.retain(|d| subtype(*d) != subtype(*p));
                defaults.push(*p);
            }
        }
        ListOp::Overwrite => {
            for (i, p) in given.iter().enumerate() {
                if given[..i].iter().any(|q| subtype(*q) == subtype(*p)) {
                    return Err(AppError::invalid(
                        "Only one default plan of each plan type is allowed",
                    ));
                }
            }
            defaults = given.to_vec();
        }
        ListOp::Delete => defaults.retain(|d| !given.contains(d)),
        ListOp::Clear => defaults.clear(),
    }
    Ok(defaults)
}

/// Refuses a new name or alias another organization already has (without regard to case).
fn check_unique(
    store: &Store,
    org: &Org,
    new: Option<&str>,
    field: fn(&Org) -> &String,
    what: &str,
) -> Result<(), AppError> {
    let Some(new) = new else {
        return Ok(());
    };
    let clash = store
        .orgs
        .iter()
        .any(|o| o.id != org.id && field(o).eq_ignore_ascii_case(new));
    if clash {
        return Err(AppError::new(
            Code::NameInUse,
            format!("{what} [{new}] is already in use"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> Store {
        Store::new(true)
    }

    fn xml(body: &str) -> Result<u64, AppError> {
        let mut s = store();
        Update::parse(Some("application/xml"), body.as_bytes(), None)?.apply(&mut s)
    }

    #[test]
    fn op_types_read_as_names_and_numbers() {
        assert_eq!(list_op(&json!("add"), "x"), Ok(ListOp::Add));
        assert_eq!(list_op(&json!(1), "x"), Ok(ListOp::Overwrite));
        assert_eq!(list_op(&json!("3"), "x"), Ok(ListOp::Delete));
        assert!(list_op(&json!("MERGE"), "x").is_err());
        assert!(list_op(&json!(9), "x").is_err());
    }

    #[test]
    fn combined_add_and_default_applies_in_order() {
        let mut s = store();
        // Written as text: the order of the members is the order of the operations.
        let body = r#"{"organizationInfo": {
            "organization": {"shortName": {"id": 12}},
            "planDetailsOperationType": "ADD",
            "planDetails": [{"plan": {"planName": "Laptop plan"}}],
            "organizationProperties": {"defaultPlansOperationType": "ADD",
                                       "defaultPlans": [{"plan": {"planName": "Laptop plan"}}]}
        }}"#;
        let u = Update::parse(None, body.as_bytes(), None).expect("parse");
        assert_eq!(u.apply(&mut s), Ok(12));
        let org = s.org(12).expect("org");
        assert_eq!(org.plans, vec![1, 4, 2]);
        assert_eq!(org.defaults, vec![2]);
    }

    #[test]
    fn failures_change_nothing() {
        let mut s = store();
        let before = s.org(7).expect("org").plans.clone();
        let body = json!({"organizationInfo": {
            "organization": {"shortName": {"id": 7}},
            "planDetailsOperationType": 2,
            "planDetails": [{"plan": {"planId": 1}}, {"plan": {"planName": "Nope"}}]
        }});
        let err = Update::parse(None, body.to_string().as_bytes(), None)
            .and_then(|u| u.apply(&mut s))
            .expect_err("unknown plan");
        assert_eq!(err.code, Code::NoSuchPlan);
        assert_eq!(err.message, "Plan [Nope] does not exist");
        assert_eq!(s.org(7).expect("org").plans, before);
    }

    #[test]
    fn a_default_plan_must_be_associated() {
        let err = xml(r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo><organization><shortName id="1"/></organization><organizationProperties defaultPlansOperationType="ADD"><defaultPlans><plan planName="Laptop plan"/></defaultPlans></organizationProperties></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#)
            .expect_err("not associated");
        assert_eq!(err.code, Code::PlanNotAssociated);
    }

    #[test]
    fn dissociating_a_default_plan_drops_the_default() {
        let mut s = store();
        let body = br#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="DELETE"><planDetails><plan planName="Laptop plan"/></planDetails><organization><shortName domainName="acme" id="7"/></organization></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#;
        Update::parse(Some("application/xml"), body, None)
            .and_then(|u| u.apply(&mut s))
            .expect("apply");
        let org = s.org(7).expect("org");
        assert_eq!(org.plans, vec![3]);
        assert!(org.defaults.is_empty());
    }

    /// Acme (7) has Laptop plan (2) associated and as its default, and Gold backup (3).
    const ACME_DROP_LAPTOP_ASSOCIATION_THEN_DEFAULT: &str = r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="DELETE"><planDetails><plan planName="Laptop plan"/></planDetails><organization><shortName domainName="acme" id="7"/></organization><organizationProperties defaultPlansOperationType="DELETE"><defaultPlans><plan planName="Laptop plan"/></defaultPlans></organizationProperties></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#;

    #[test]
    fn operations_apply_in_document_order() {
        // The association goes first, so the default DELETE meets a plan no longer associated.
        let mut s = store();
        let err = Update::parse(
            Some("application/xml"),
            ACME_DROP_LAPTOP_ASSOCIATION_THEN_DEFAULT.as_bytes(),
            None,
        )
        .and_then(|u| u.apply(&mut s))
        .expect_err("the default DELETE meets a dissociated plan");
        assert_eq!(err.code, Code::PlanNotAssociated);
        assert_eq!(
            err.message,
            "Plan [Laptop plan] is not associated with the company [Acme], so it cannot be a default plan"
        );
        let org = s.org(7).expect("org");
        assert_eq!(
            (org.plans.clone(), org.defaults.clone()),
            (vec![2, 3], vec![2])
        );

        // The default first, then the association: both apply.
        let body = r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo planDetailsOperationType="DELETE"><organization><shortName id="7"/></organization><organizationProperties defaultPlansOperationType="DELETE"><defaultPlans><plan planName="Laptop plan"/></defaultPlans></organizationProperties><planDetails><plan planName="Laptop plan"/></planDetails></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#;
        Update::parse(Some("application/xml"), body.as_bytes(), None)
            .and_then(|u| u.apply(&mut s))
            .expect("default, then association");
        let org = s.org(7).expect("org");
        assert_eq!((org.plans.clone(), org.defaults.clone()), (vec![3], vec![]));
    }

    #[test]
    fn json_members_apply_in_the_order_written() {
        // The default ADD is written before the association ADD: the plan is not associated yet.
        let defaults_first = r#"{"organizationInfo": {"organization": {"shortName": {"id": 12}},
            "organizationProperties": {"defaultPlansOperationType": "ADD",
                                       "defaultPlans": [{"plan": {"planName": "Laptop plan"}}]},
            "planDetailsOperationType": "ADD",
            "planDetails": [{"plan": {"planName": "Laptop plan"}}]}}"#;
        let mut s = store();
        let err = Update::parse(None, defaults_first.as_bytes(), None)
            .and_then(|u| u.apply(&mut s))
            .expect_err("default before association");
        assert_eq!(err.code, Code::PlanNotAssociated);
        assert_eq!(s.org(12).expect("org").plans, vec![1, 4]);
    }

    #[test]
    fn a_default_delete_needs_an_associated_plan() {
        // Globex (12) does not have Laptop plan.
        let err = xml(r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo><organization><shortName id="12"/></organization><organizationProperties defaultPlansOperationType="DELETE"><defaultPlans><plan planName="Laptop plan"/></defaultPlans></organizationProperties></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#)
            .expect_err("not associated");
        assert_eq!(err.code, Code::PlanNotAssociated);
        // An associated plan that is not a default: nothing to remove, no error.
        assert_eq!(
            xml(
                r#"<Api_UpdateOrganizationPropertiesRequest><organizationInfo><organization><shortName id="12"/></organization><organizationProperties defaultPlansOperationType="DELETE"><defaultPlans><plan planName="Server plan"/></defaultPlans></organizationProperties></organizationInfo></Api_UpdateOrganizationPropertiesRequest>"#
            ),
            Ok(12)
        );
    }

    #[test]
    fn ids_in_query_and_body_must_agree() {
        let body = json!({"organizationInfo": {"organization": {"shortName": {"id": 7}}}});
        let err =
            Update::parse(None, body.to_string().as_bytes(), Some("12")).expect_err("mismatch");
        assert_eq!(err.code, Code::InvalidRequest);
        let mut s = store();
        let ok = Update::parse(None, b"{\"organizationInfo\":{}}", Some("12")).expect("parse");
        assert_eq!(ok.apply(&mut s), Ok(12));
    }

    #[test]
    fn one_default_per_subtype() {
        let mut s = store();
        // Acme: Laptop plan (default) and Gold backup (server). Add Bronze laptop, make it default.
        let body = r#"{"organizationInfo": {
            "organization": {"shortName": {"id": 7}},
            "planDetailsOperationType": 2, "planDetails": [{"plan": {"planId": 5}}],
            "organizationProperties": {"defaultPlansOperationType": "ADD",
                "defaultPlans": [{"plan": {"planId": 5}}, {"plan": {"planId": 3}}]}
        }}"#;
        Update::parse(None, body.as_bytes(), None)
            .and_then(|u| u.apply(&mut s))
            .expect("apply");
        assert_eq!(s.org(7).expect("org").defaults, vec![5, 3]);
        let body = json!({"organizationInfo": {
            "organization": {"shortName": {"id": 7}},
            "organizationProperties": {"defaultPlans": [{"plan": {"planId": 5}}, {"plan": {"planId": 2}}]}
        }});
        let err = Update::parse(None, body.to_string().as_bytes(), None)
            .and_then(|u| u.apply(&mut s))
            .expect_err("two laptop defaults");
        assert_eq!(err.code, Code::InvalidRequest);
    }
}
