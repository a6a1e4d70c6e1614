//! What `include=raw` never shows (docs/API.md §8): the members of a vendor's records an adapter
//! declares secret or personal ([`Capabilities::raw_redactions`](crate::Capabilities)), removed
//! from every raw record of every answer by the gateway's policy stack, as the answer comes out
//! of the adapter, so they are neither cached nor rendered.
//!
//! A declared name is a member (key) name, removed wherever it appears: at any depth, in
//! objects nested in objects and in arrays, compared without regard to ASCII case. So a name
//! must be one the vendor uses only for what is to be removed; the whole member goes, whatever
//! its value holds (a list of contacts goes with every name, address and number in it).

use serde_json::Value;

use crate::op::Output;

/// Removes every member named one of `keys` (without regard to ASCII case) from `value`, at
/// any depth.
pub fn redact(value: &mut Value, keys: &[&str]) {
    if keys.is_empty() {
        return;
    }
    match value {
        Value::Object(members) => {
            members.retain(|k, _| !keys.iter().any(|key| key.eq_ignore_ascii_case(k)));
            for member in members.values_mut() {
                redact(member, keys);
            }
        }
        Value::Array(items) => {
            for item in items {
                redact(item, keys);
            }
        }
        _ => {}
    }
}

fn redact_opt(raw: &mut Option<Value>, keys: &[&str]) {
    if let Some(v) = raw {
        redact(v, keys);
    }
}

impl Output {
    /// Applies [`redact`] to every raw record this answer carries (the org's, each listed
    /// item's, the usage's, …).
    pub fn redact_raw(&mut self, keys: &[&str]) {
        if keys.is_empty() {
            return;
        }
        match self {
            Output::Org(org) => redact_opt(&mut org.raw, keys),
            Output::Orgs(page) => page
                .items
                .iter_mut()
                .for_each(|o| redact_opt(&mut o.raw, keys)),
            Output::Plans(page) => page
                .items
                .iter_mut()
                .for_each(|p| redact_opt(&mut p.raw, keys)),
            Output::Plan(plan) => redact_opt(&mut plan.raw, keys),
            Output::Usage(usage) => redact_opt(&mut usage.raw, keys),
            Output::Series(series) => redact_opt(&mut series.raw, keys),
            Output::Subscriptions(page) => page
                .items
                .iter_mut()
                .for_each(|s| redact_opt(&mut s.raw, keys)),
            Output::Subscription(s) => redact_opt(&mut s.raw, keys),
            Output::Done => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Org, Page};
    use serde_json::json;

    #[test]
    fn removes_named_members_at_any_depth_without_regard_to_case() {
        let mut v = json!({
            "authCode": "X1",
            "keep": 1,
            "props": {"AUTHCODE": "X2", "contacts": [{"email": "a@b"}], "n": [1, {"authcode": 3}]},
            "list": [{"contacts": [], "name": "x"}]
        });
        redact(&mut v, &["authCode", "contacts"]);
        assert_eq!(
            v,
            json!({"keep": 1, "props": {"n": [1, {}]}, "list": [{"name": "x"}]})
        );
        let mut same = json!({"authCode": 1});
        redact(&mut same, &[]);
        assert_eq!(same, json!({"authCode": 1}));
    }

    #[test]
    fn every_raw_of_an_answer() {
        let mut org = Org::bare("7");
        org.raw = Some(json!({"secret": 1, "name": "a"}));
        let mut out = Output::Orgs(Page {
            items: vec![org.clone(), Org::bare("8")],
            next: None,
            total: None,
        });
        out.redact_raw(&["secret"]);
        let page = out.into_orgs().unwrap();
        assert_eq!(page.items[0].raw, Some(json!({"name": "a"})));
        assert_eq!(page.items[1].raw, None);
        let mut one = Output::Org(Box::new(org));
        one.redact_raw(&["SECRET"]);
        assert_eq!(one.into_org().unwrap().raw, Some(json!({"name": "a"})));
    }
}
