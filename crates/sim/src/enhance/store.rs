//! What one simulated control panel holds: the org tree (the MO at its root, resellers and
//! their customers below), the plans each org offers, the subscriptions binding an org to its
//! parent's plan, and the seeded demo data. Every write checks everything first and changes the
//! store only when it succeeds, so a refused write leaves no trace.
//!
//! The reseller rule (the createCustomerSubscription description): a new subscription of a
//! customer to a reseller's plan draws from the reseller's own subscription. For each resource
//! of the plan, the reseller's subscription must have quota left for the plan's `total`
//! (`usage + total <= its total`), and may only sell an unlimited amount (no `total`) of a
//! resource it holds unlimited; if any resource does not fit, nothing is sold (409). After a
//! sale each sold resource's `usage` on the reseller's subscription rises by the sold amount.
//! Where the documents are silent, this simulator decides:
//! - the reseller's subscription is its first active subscription to its parent's plans; an org
//!   that is neither the MO nor holds one may not sell (403);
//! - a customer already subscribed (active) to the same plan cannot subscribe again (409);
//! - a soft-deleted subscription (its customer deleted) gives its sold amount back to the
//!   reseller's subscription it was drawn from.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::error::ApiError;

/// One organization.
#[derive(Debug, Clone)]
pub(crate) struct OrgRec {
    pub(crate) id: String,
    pub(crate) parent: Option<String>,
    pub(crate) name: String,
    pub(crate) deleted: bool,
    pub(crate) suspended_by: Option<String>,
    pub(crate) created_ms: i64,
    pub(crate) locale: String,
    pub(crate) owner_email: Option<String>,
    pub(crate) websites: u64,
    pub(crate) slack_webhook: Option<String>,
}

/// One plan an org offers: its resources are `(name, total)`, `None` being unlimited.
#[derive(Debug, Clone)]
pub(crate) struct PlanRec {
    pub(crate) id: u64,
    pub(crate) org: String,
    pub(crate) name: String,
    pub(crate) resources: Vec<(String, Option<i64>)>,
    pub(crate) created_ms: i64,
}

/// One subscription of `subscriber` to a plan of `vendor`.
#[derive(Debug, Clone)]
pub(crate) struct SubRec {
    pub(crate) id: u64,
    pub(crate) plan: u64,
    pub(crate) subscriber: String,
    pub(crate) vendor: String,
    pub(crate) deleted: bool,
    pub(crate) suspended_by: Option<String>,
    pub(crate) friendly_name: String,
    /// Usage by resource name (resources not in the map are unused).
    pub(crate) usage: BTreeMap<String, i64>,
    /// The reseller subscription this one's resources were drawn from.
    pub(crate) drawn_from: Option<u64>,
}

/// A customer list's parameters, validated.
#[derive(Debug, Clone, Default)]
pub(crate) struct CustomerQuery {
    pub(crate) offset: usize,
    pub(crate) limit: Option<usize>,
    pub(crate) sort_by: Option<String>,
    pub(crate) descending: bool,
    pub(crate) recursive: bool,
    pub(crate) max_depth: Option<u32>,
    pub(crate) status: Option<String>,
    pub(crate) plan_id: Option<u64>,
}

/// A changed org, as `OrgUpdate` gives it (validated).
#[derive(Debug, Clone, Default)]
pub(crate) struct OrgUpdate {
    pub(crate) name: Option<String>,
    pub(crate) deleted: Option<bool>,
    pub(crate) suspended: Option<bool>,
    pub(crate) locale: Option<String>,
    pub(crate) slack_webhook: Option<Option<String>>,
}

/// The store.
#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) orgs: Vec<OrgRec>,
    pub(crate) plans: Vec<PlanRec>,
    pub(crate) subs: Vec<SubRec>,
    next_plan: u64,
    next_sub: u64,
    rng: u64,
}

/// The demo data's ids (see `mod.rs` for the public constants).
pub(crate) mod demo {
    pub(crate) const MO: &str = "11111111-1111-1111-1111-111111111111";
    pub(crate) const RESELLER: &str = "5b0c3a64-8a1e-4c2f-9d41-2f6e8c1a7b90";
    pub(crate) const BAKERY: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
    pub(crate) const AGENCY: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    pub(crate) const CAFE: &str = "d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70";
    pub(crate) const OLD_CLIENT: &str = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b";
    pub(crate) const TINY_SHOP: &str = "9b2f4c1e-3d5a-4e6f-8a7b-1c2d3e4f5a6b";
    pub(crate) const RESELLER_PLAN: u64 = 1;
    pub(crate) const STARTER_PLAN: u64 = 2;
    pub(crate) const BUSINESS_PLAN: u64 = 3;
}

const DAY_MS: i64 = 86_400_000;
const GIB: i64 = 1024 * 1024 * 1024;

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether `s` is a UUID in its hyphenated form (any case).
pub(crate) fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl Store {
    /// A store with the demo data, its dates counted back from `now`.
    pub(crate) fn demo(now: i64, seed: u64) -> Store {
        let mut s = Store {
            orgs: Vec::new(),
            plans: Vec::new(),
            subs: Vec::new(),
            next_plan: 1,
            next_sub: 1,
            rng: seed,
        };
        let org =
            |id: &str, parent: Option<&str>, name: &str, days_ago: i64, websites: u64| OrgRec {
                id: id.to_owned(),
                parent: parent.map(str::to_owned),
                name: name.to_owned(),
                deleted: false,
                suspended_by: None,
                created_ms: now - days_ago * DAY_MS,
                locale: "en-GB".to_owned(),
                owner_email: None,
                websites,
                slack_webhook: None,
            };
        let mut mo = org(demo::MO, None, "Example Hosting MO", 700, 0);
        mo.owner_email = Some("admin@hosting.example".into());
        let mut reseller = org(demo::RESELLER, Some(demo::MO), "Acme Hosting", 400, 2);
        reseller.owner_email = Some("owner@acme-hosting.example".into());
        let mut cafe = org(demo::CAFE, Some(demo::RESELLER), "Corner Cafe", 5, 0);
        cafe.suspended_by = Some(demo::RESELLER.to_owned());
        let mut old = org(demo::OLD_CLIENT, Some(demo::RESELLER), "Old Client", 40, 0);
        old.deleted = true;
        s.orgs = vec![
            mo,
            reseller,
            org(demo::BAKERY, Some(demo::RESELLER), "Blue Bakery", 20, 1),
            org(demo::AGENCY, Some(demo::RESELLER), "Dev Agency", 12, 3),
            cafe,
            old,
            org(demo::TINY_SHOP, Some(demo::AGENCY), "Tiny Shop", 3, 1),
        ];
        let plan = |s: &mut Store, org: &str, name: &str, res: &[(&str, Option<i64>)]| {
            let id = s.next_plan;
            s.next_plan += 1;
            s.plans.push(PlanRec {
                id,
                org: org.to_owned(),
                name: name.to_owned(),
                resources: res.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect(),
                created_ms: now - 500 * DAY_MS,
            });
            id
        };
        // The MO sells a reseller plan; Acme Hosting resells from it.
        plan(
            &mut s,
            demo::MO,
            "Reseller Pro",
            &[
                ("websites", Some(20)),
                ("diskspace", Some(100 * GIB)),
                ("mailboxes", None),
            ],
        );
        plan(
            &mut s,
            demo::RESELLER,
            "Starter",
            &[
                ("websites", Some(1)),
                ("diskspace", Some(5 * GIB)),
                ("mailboxes", Some(10)),
            ],
        );
        plan(
            &mut s,
            demo::RESELLER,
            "Business",
            &[
                ("websites", Some(5)),
                ("diskspace", Some(20 * GIB)),
                ("mailboxes", None),
            ],
        );
        // The reseller's own subscription: what it has sold so far is recorded as its usage.
        let reseller_sub = s.push_sub(
            demo::RESELLER_PLAN,
            demo::RESELLER,
            demo::MO,
            "Reseller Pro",
            None,
        );
        for (name, usage) in [("websites", 6), ("diskspace", 25 * GIB), ("mailboxes", 10)] {
            s.sub_mut(reseller_sub).usage.insert(name.to_owned(), usage);
        }
        let bakery = s.push_sub(
            demo::STARTER_PLAN,
            demo::BAKERY,
            demo::RESELLER,
            "Starter",
            Some(reseller_sub),
        );
        let usage = &mut s.sub_mut(bakery).usage;
        usage.insert("websites".into(), 1);
        usage.insert("diskspace".into(), 734_003_200);
        usage.insert("mailboxes".into(), 3);
        let agency = s.push_sub(
            demo::BUSINESS_PLAN,
            demo::AGENCY,
            demo::RESELLER,
            "Business",
            Some(reseller_sub),
        );
        let usage = &mut s.sub_mut(agency).usage;
        usage.insert("websites".into(), 3);
        usage.insert("diskspace".into(), 4 * GIB);
        usage.insert("mailboxes".into(), 42);
        s
    }

    fn push_sub(
        &mut self,
        plan: u64,
        subscriber: &str,
        vendor: &str,
        friendly_name: &str,
        drawn_from: Option<u64>,
    ) -> u64 {
        let id = self.next_sub;
        self.next_sub += 1;
        self.subs.push(SubRec {
            id,
            plan,
            subscriber: subscriber.to_owned(),
            vendor: vendor.to_owned(),
            deleted: false,
            suspended_by: None,
            friendly_name: friendly_name.to_owned(),
            usage: BTreeMap::new(),
            drawn_from,
        });
        id
    }

    fn sub_mut(&mut self, id: u64) -> &mut SubRec {
        self.subs
            .iter_mut()
            .find(|s| s.id == id)
            .expect("a subscription the store just made")
    }

    /// A new random (version 4) UUID.
    fn new_uuid(&mut self) -> String {
        let a = splitmix(&mut self.rng);
        let b = splitmix(&mut self.rng);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    /// A random token (for session cookies).
    pub(crate) fn random_bytes(&mut self) -> [u8; 24] {
        let mut out = [0u8; 24];
        for chunk in out.chunks_mut(8) {
            let n = splitmix(&mut self.rng).to_le_bytes();
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
        out
    }

    pub(crate) fn org(&self, id: &str) -> Option<&OrgRec> {
        self.orgs.iter().find(|o| o.id == id)
    }

    fn org_mut(&mut self, id: &str) -> Option<&mut OrgRec> {
        self.orgs.iter_mut().find(|o| o.id == id)
    }

    /// Whether `ancestor` is `org` or one of its parents.
    pub(crate) fn is_self_or_ancestor(&self, ancestor: &str, org: &str) -> bool {
        let mut cur = Some(org.to_owned());
        while let Some(id) = cur {
            if id == ancestor {
                return true;
            }
            cur = self.org(&id).and_then(|o| o.parent.clone());
        }
        false
    }

    /// The org `id`, checked to exist (404) and to be within the reach of the caller's org
    /// `actor` (403): the caller's own org or one below it.
    pub(crate) fn reachable(&self, actor: &str, id: &str) -> Result<&OrgRec, ApiError> {
        let org = self
            .org(id)
            .ok_or_else(|| ApiError::not_found(format!("organization {id} not found")))?;
        if !self.is_self_or_ancestor(actor, id) {
            return Err(ApiError::forbidden(
                "the session holder is not a member of this organization or a parent",
            ));
        }
        Ok(org)
    }

    /// An org as `getOrg` answers it (`Org`).
    pub(crate) fn render_org(&self, o: &OrgRec) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(o.id));
        if let Some(p) = &o.parent {
            m.insert("parentId".into(), json!(p));
        }
        m.insert("name".into(), json!(o.name));
        m.insert(
            "status".into(),
            json!(if o.deleted { "deleted" } else { "active" }),
        );
        if let Some(by) = &o.suspended_by {
            m.insert("suspendedBy".into(), json!(by));
        }
        if let Some(e) = &o.owner_email {
            m.insert("ownerEmail".into(), json!(e));
        }
        let subscriptions = self
            .subs
            .iter()
            .filter(|s| s.subscriber == o.id && !s.deleted)
            .count();
        m.insert("subscriptionsCount".into(), json!(subscriptions));
        m.insert("websitesCount".into(), json!(o.websites));
        m.insert("createdAt".into(), json!(super::iso(o.created_ms)));
        m.insert("locale".into(), json!(o.locale));
        if let Some(w) = &o.slack_webhook {
            m.insert("slackNotificationWebhookUrl".into(), json!(w));
        }
        Value::Object(m)
    }

    /// A plan as `getPlans` lists it (`Plan`).
    pub(crate) fn render_plan(&self, p: &PlanRec) -> Value {
        let resources: Vec<Value> = p
            .resources
            .iter()
            .map(|(name, total)| match total {
                Some(t) => json!({ "name": name, "total": t }),
                None => json!({ "name": name }),
            })
            .collect();
        let subscriptions = self
            .subs
            .iter()
            .filter(|s| s.plan == p.id && !s.deleted)
            .count();
        json!({
            "id": p.id,
            "name": p.name,
            "orgId": p.org,
            "resources": resources,
            "allowances": [],
            "selections": [],
            "subscriptionsCount": subscriptions,
            "createdAt": super::iso(p.created_ms),
            "planType": "shared",
            "allowedPhpVersions": ["php82", "php83"],
            "defaultPhpVersion": "php83",
            "redisAllowed": false,
        })
    }

    /// A subscription as listed (`Subscription`): each of its plan's resources with its total
    /// and usage.
    pub(crate) fn render_sub(&self, s: &SubRec) -> Value {
        let plan = self.plans.iter().find(|p| p.id == s.plan);
        let resources: Vec<Value> = plan
            .map(|p| p.resources.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|(name, total)| {
                let usage = s.usage.get(name).copied().unwrap_or(0);
                match total {
                    Some(t) => json!({ "name": name, "total": t, "usage": usage }),
                    None => json!({ "name": name, "usage": usage }),
                }
            })
            .collect();
        let mut v = json!({
            "id": s.id,
            "planId": s.plan,
            "planName": plan.map(|p| p.name.as_str()).unwrap_or(""),
            "subscriberId": s.subscriber,
            "vendorId": s.vendor,
            "status": if s.deleted { "deleted" } else { "active" },
            "resources": resources,
            "allowances": [],
            "selections": [],
            "planType": "shared",
            "allowedPhpVersions": ["php82", "php83"],
            "defaultPhpVersion": "php83",
            "redisAllowed": false,
            "friendlyName": s.friendly_name,
        });
        if let Some(by) = &s.suspended_by {
            v["suspendedBy"] = json!(by);
        }
        v
    }

    /// The customers of `org` for `getOrgCustomers`: `(total, page)`.
    pub(crate) fn customers(&self, org: &str, q: &CustomerQuery) -> (usize, Vec<Value>) {
        // Depth 1 is the direct customers; without `recursive` only those.
        let max_depth = if q.recursive {
            q.max_depth.unwrap_or(u32::MAX)
        } else {
            1
        };
        let mut found: Vec<&OrgRec> = Vec::new();
        let mut frontier = vec![org.to_owned()];
        let mut depth = 0;
        while !frontier.is_empty() && depth < max_depth {
            depth += 1;
            let level: Vec<&OrgRec> = self
                .orgs
                .iter()
                .filter(|o| o.parent.as_ref().is_some_and(|p| frontier.contains(p)))
                .collect();
            frontier = level.iter().map(|o| o.id.clone()).collect();
            found.extend(level);
        }
        let mut items: Vec<&OrgRec> = found
            .into_iter()
            .filter(|o| match q.status.as_deref() {
                None => !o.deleted,
                Some("active") => !o.deleted && o.suspended_by.is_none(),
                Some("suspended") => !o.deleted && o.suspended_by.is_some(),
                Some(_) => o.deleted,
            })
            .filter(|o| {
                q.plan_id.is_none_or(|plan| {
                    self.subs
                        .iter()
                        .any(|s| s.subscriber == o.id && s.plan == plan && !s.deleted)
                })
            })
            .collect();
        // The natural order is creation order; ties (and every sort) fall back to the id.
        items.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        if let Some(field) = q.sort_by.as_deref() {
            let subs = |o: &OrgRec| {
                self.subs
                    .iter()
                    .filter(|s| s.subscriber == o.id && !s.deleted)
                    .count()
            };
            items.sort_by(|a, b| {
                let ord = match field {
                    "id" => a.id.cmp(&b.id),
                    "name" => {
                        (a.name.to_lowercase(), &a.name).cmp(&(b.name.to_lowercase(), &b.name))
                    }
                    "status" => a.deleted.cmp(&b.deleted),
                    "subscriptionsCount" => subs(a).cmp(&subs(b)),
                    "websitesCount" => a.websites.cmp(&b.websites),
                    _ => a.created_ms.cmp(&b.created_ms),
                };
                if q.descending { ord.reverse() } else { ord }
            });
        }
        let total = items.len();
        let page = items
            .into_iter()
            .skip(q.offset)
            .take(q.limit.unwrap_or(usize::MAX))
            .map(|o| self.render_org(o))
            .collect();
        (total, page)
    }

    /// Creates a customer of `parent` (already checked to be reachable).
    pub(crate) fn create_customer(
        &mut self,
        parent: &str,
        name: &str,
        now: i64,
    ) -> Result<String, ApiError> {
        if self.org(parent).is_some_and(|p| p.deleted) {
            return Err(ApiError::not_found(format!(
                "organization {parent} is deleted"
            )));
        }
        let taken = self.orgs.iter().any(|o| {
            o.parent.as_deref() == Some(parent)
                && !o.deleted
                && o.name.to_lowercase() == name.to_lowercase()
        });
        if taken {
            return Err(ApiError::conflict(
                "already_exists",
                format!("a customer named `{name}` already exists"),
            ));
        }
        let id = self.new_uuid();
        self.orgs.push(OrgRec {
            id: id.clone(),
            parent: Some(parent.to_owned()),
            name: name.to_owned(),
            deleted: false,
            suspended_by: None,
            created_ms: now,
            locale: "en-GB".to_owned(),
            owner_email: None,
            websites: 0,
            slack_webhook: None,
        });
        Ok(id)
    }

    /// Applies an `OrgUpdate` to a reachable org; `actor` is recorded as the suspender.
    pub(crate) fn update_org(
        &mut self,
        id: &str,
        actor: &str,
        u: OrgUpdate,
    ) -> Result<(), ApiError> {
        let org = self
            .org(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("organization {id} not found")))?;
        if let Some(name) = &u.name {
            let taken = self.orgs.iter().any(|o| {
                o.id != id
                    && o.parent == org.parent
                    && org.parent.is_some()
                    && !o.deleted
                    && o.name.to_lowercase() == name.to_lowercase()
            });
            if taken {
                return Err(ApiError::invalid(format!(
                    "another customer of the same parent is named `{name}`"
                )));
            }
        }
        if u.deleted == Some(true) {
            self.soft_delete(id);
        } else if u.deleted == Some(false)
            && let Some(o) = self.org_mut(id)
        {
            // Restores the org itself; what the delete ended stays ended.
            o.deleted = false;
        }
        let o = self.org_mut(id).expect("checked above");
        if let Some(name) = u.name {
            o.name = name;
        }
        match u.suspended {
            Some(true) => o.suspended_by = Some(actor.to_owned()),
            Some(false) => o.suspended_by = None,
            None => {}
        }
        if let Some(l) = u.locale {
            o.locale = l;
        }
        if let Some(w) = u.slack_webhook {
            o.slack_webhook = w;
        }
        Ok(())
    }

    /// Soft-deletes an org, everything below it, and their subscriptions (giving what each
    /// subscription drew back to its reseller's subscription).
    pub(crate) fn soft_delete(&mut self, id: &str) {
        let doomed: Vec<String> = self
            .orgs
            .iter()
            .filter(|o| self.is_self_or_ancestor(id, &o.id))
            .map(|o| o.id.clone())
            .collect();
        for o in self.orgs.iter_mut().filter(|o| doomed.contains(&o.id)) {
            o.deleted = true;
        }
        let ended: Vec<u64> = self
            .subs
            .iter()
            .filter(|s| !s.deleted && doomed.contains(&s.subscriber))
            .map(|s| s.id)
            .collect();
        for sid in ended {
            self.release(sid);
            self.sub_mut(sid).deleted = true;
        }
    }

    /// Removes an org and everything below it for good (`force=true`).
    pub(crate) fn force_delete(&mut self, id: &str) {
        self.soft_delete(id);
        let gone: Vec<String> = self
            .orgs
            .iter()
            .filter(|o| self.is_self_or_ancestor(id, &o.id))
            .map(|o| o.id.clone())
            .collect();
        self.orgs.retain(|o| !gone.contains(&o.id));
        self.subs
            .retain(|s| !gone.contains(&s.subscriber) && !gone.contains(&s.vendor));
        self.plans.retain(|p| !gone.contains(&p.org));
    }

    /// Gives what subscription `sid` drew back to the reseller subscription it came from.
    fn release(&mut self, sid: u64) {
        let Some(sub) = self.subs.iter().find(|s| s.id == sid).cloned() else {
            return;
        };
        let (Some(from), Some(plan)) = (
            sub.drawn_from,
            self.plans.iter().find(|p| p.id == sub.plan).cloned(),
        ) else {
            return;
        };
        if let Some(reseller) = self.subs.iter_mut().find(|s| s.id == from) {
            for (name, total) in &plan.resources {
                if let (Some(t), Some(u)) = (total, reseller.usage.get_mut(name)) {
                    *u = (*u - t).max(0);
                }
            }
        }
    }

    /// The reseller subscription `vendor` sells from: `None` for the MO, which sells from
    /// nothing; 403 for an org that holds none.
    fn reseller_subscription(&self, vendor: &OrgRec) -> Result<Option<u64>, ApiError> {
        if vendor.parent.is_none() {
            return Ok(None);
        }
        self.subs
            .iter()
            .find(|s| s.subscriber == vendor.id && !s.deleted && s.suspended_by.is_none())
            .map(|s| Some(s.id))
            .ok_or_else(|| {
                ApiError::forbidden(
                    "only a reseller with a reseller subscription, or the MO, may subscribe another organization to its plans",
                )
            })
    }

    /// Subscribes `customer` to plan `plan_id` of `vendor` (already checked reachable),
    /// applying the reseller rule.
    pub(crate) fn create_subscription(
        &mut self,
        vendor: &str,
        customer: &str,
        plan_id: u64,
        friendly_name: Option<String>,
    ) -> Result<u64, ApiError> {
        let v = self
            .org(vendor)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("organization {vendor} not found")))?;
        if v.deleted {
            return Err(ApiError::not_found(format!(
                "organization {vendor} is deleted"
            )));
        }
        let c = self
            .org(customer)
            .filter(|c| c.parent.as_deref() == Some(vendor) && !c.deleted);
        if c.is_none() {
            return Err(ApiError::not_found(format!(
                "organization {customer} is not a customer of {vendor}"
            )));
        }
        let plan = self
            .plans
            .iter()
            .find(|p| p.id == plan_id && p.org == vendor)
            .cloned()
            .ok_or_else(|| {
                ApiError::not_found(format!("plan {plan_id} is not a plan of {vendor}"))
            })?;
        if self
            .subs
            .iter()
            .any(|s| s.subscriber == customer && s.plan == plan_id && !s.deleted)
        {
            return Err(ApiError::conflict(
                "already_exists",
                format!("organization {customer} already subscribes to plan {plan_id}"),
            ));
        }
        let from = self.reseller_subscription(&v)?;
        if let Some(from) = from {
            let reseller = self.subs.iter().find(|s| s.id == from).cloned();
            let reseller_plan = reseller
                .as_ref()
                .and_then(|r| self.plans.iter().find(|p| p.id == r.plan));
            let (Some(reseller), Some(reseller_plan)) = (reseller.as_ref(), reseller_plan) else {
                return Err(ApiError::forbidden("the reseller subscription is unusable"));
            };
            for (name, sold) in &plan.resources {
                let held = reseller_plan.resources.iter().find(|(n, _)| n == name);
                let used = reseller.usage.get(name).copied().unwrap_or(0);
                let fits = match (held, sold) {
                    // The reseller does not hold this resource at all.
                    (None, _) => false,
                    // Unlimited held: anything can be sold.
                    (Some((_, None)), _) => true,
                    // Limited held: unlimited cannot be sold, a limited amount must fit.
                    (Some((_, Some(_))), None) => false,
                    (Some((_, Some(total))), Some(amount)) => used + amount <= *total,
                };
                if !fits {
                    return Err(ApiError::conflict(
                        "quota_exceeded",
                        format!(
                            "the reseller subscription has not enough `{name}` quota left for plan {plan_id}"
                        ),
                    ));
                }
            }
            let r = self.sub_mut(from);
            for (name, sold) in &plan.resources {
                if let Some(amount) = sold {
                    *r.usage.entry(name.clone()).or_insert(0) += amount;
                }
            }
        }
        let name = friendly_name.unwrap_or_else(|| plan.name.clone());
        Ok(self.push_sub(plan_id, customer, vendor, &name, from))
    }

    /// The whole store as JSON, for tests that check a refused write changed nothing.
    pub(crate) fn snapshot(&self) -> Value {
        json!({
            "orgs": self.orgs.iter().map(|o| self.render_org(o)).collect::<Vec<_>>(),
            "plans": self.plans.iter().map(|p| self.render_plan(p)).collect::<Vec<_>>(),
            "subscriptions": self.subs.iter().map(|s| self.render_sub(s)).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_well_formed_and_differ() {
        let mut s = Store::demo(0, 7);
        let a = s.new_uuid();
        let b = s.new_uuid();
        assert!(is_uuid(&a) && is_uuid(&b), "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(&a[14..15], "4", "version 4");
        assert!(is_uuid(demo::RESELLER) && !is_uuid("3fa85f64-5717-4562-b3fc-2c963f66afa"));
    }

    #[test]
    fn recursion_is_bounded_by_depth() {
        let s = Store::demo(1_000 * DAY_MS, 1);
        let q = |recursive, max_depth| CustomerQuery {
            recursive,
            max_depth,
            ..CustomerQuery::default()
        };
        let names = |q: CustomerQuery| -> Vec<String> {
            s.customers(demo::RESELLER, &q)
                .1
                .iter()
                .map(|o| o["name"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            names(q(false, None)),
            ["Blue Bakery", "Dev Agency", "Corner Cafe"]
        );
        assert_eq!(names(q(true, Some(1))).len(), 3);
        assert_eq!(names(q(true, Some(2))).len(), 4);
        assert_eq!(names(q(true, None)).len(), 4);
        assert_eq!(s.customers(demo::MO, &q(true, None)).0, 5);
    }
}
