//! The orgs one simulated instance holds, in creation order, with the seeded demo data.
//!
//! A record keeps exactly the keys of the vendor's `instanceOrg` schema (which forbids any
//! other), split into the parts the simulator computes (ids, dates, summary) and the rest as
//! given. What a PATCH does with each key, where the docs are silent:
//! - every key replaces the stored value, except `limits`, which is merged key by key (a patch
//!   of `{"limits":{"device":100}}` changes one limit and leaves the others);
//! - `disabledAt: true` stores "now" (the org schema allows only `false` or a date-time), `false`
//!   is stored as `false`, and date-times are normalised to UTC with milliseconds;
//! - `lastUpdated` moves to now on every successful PATCH.
//!
//! A POST starts from a default set of limits (overridden by the body's), an empty summary and
//! `memberCount`/`pendingInviteCount` from `members` (by `userId`/by `email`).

use serde_json::{Map, Value, json};

use super::advanced::Filter;
use super::clock::{iso, parse_rfc3339};
use super::params::{DEFAULT_SPAN_MS, ListParams, SortField, SummaryInclude, fold};
use super::series::{Profile, Range};
use super::validate::as_integer;

/// One org.
#[derive(Debug, Clone)]
pub(crate) struct OrgRecord {
    /// Lowercase 24-hex id (`id` and `orgId` on the wire).
    pub(crate) id: String,
    pub(crate) created_ms: i64,
    pub(crate) updated_ms: i64,
    /// Every other `instanceOrg` key except `instanceId` and `summary`.
    pub(crate) fields: Map<String, Value>,
    /// The summary counters; never `payloadCount`, which is computed when asked for.
    pub(crate) summary: Map<String, Value>,
    /// Billable payloads on a weekday once the org is fully grown (drives the series).
    pub(crate) payloads_per_day: i64,
}

impl OrgRecord {
    fn name(&self) -> &str {
        self.fields
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    fn counter(&self, key: &str) -> i64 {
        self.summary.get(key).and_then(Value::as_i64).unwrap_or(0)
    }

    /// What the usage series need of this org.
    pub(crate) fn profile(&self) -> Profile {
        Profile {
            id: self.id.clone(),
            created_ms: self.created_ms,
            devices: self.counter("deviceCount"),
            notebooks: self.counter("notebookCount"),
            payloads_per_day: self.payloads_per_day,
        }
    }

    /// The org as the API returns it (`instanceOrg`).
    pub(crate) fn render(&self, instance_id: &str, include: SummaryInclude, now: i64) -> Value {
        let mut out = self.fields.clone();
        out.insert("id".to_owned(), json!(self.id));
        out.insert("orgId".to_owned(), json!(self.id));
        out.insert("instanceId".to_owned(), json!(instance_id));
        out.insert("creationDate".to_owned(), json!(iso(self.created_ms)));
        out.insert("lastUpdated".to_owned(), json!(iso(self.updated_ms)));
        let mut summary = self.summary.clone();
        if include.payload_count {
            let range = Range {
                start: (now - DEFAULT_SPAN_MS).max(0),
                end: now.max(1),
            };
            // 31 daily buckets: always within the bucket limit.
            if let Ok(stats) = self.profile().payload_stats(range, false) {
                summary.insert("payloadCount".to_owned(), stats);
            }
        }
        out.insert("summary".to_owned(), Value::Object(summary));
        Value::Object(out)
    }

    /// Applies a validated `instanceOrgPatch` (or the optional part of a post).
    fn apply(&mut self, body: &Map<String, Value>, now: i64) {
        for (key, value) in body {
            match key.as_str() {
                "limits" => {
                    let limits = self
                        .fields
                        .entry("limits")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if !limits.is_object() {
                        *limits = Value::Object(Map::new());
                    }
                    if let (Value::Object(stored), Some(given)) = (limits, value.as_object()) {
                        for (k, v) in given {
                            stored.insert(k.clone(), integral(v));
                        }
                    }
                }
                "disabledAt" => {
                    let stored = match value {
                        Value::Bool(true) => json!(iso(now)),
                        Value::String(s) => {
                            parse_rfc3339(s).map_or(json!(false), |ms| json!(iso(ms)))
                        }
                        _ => json!(false),
                    };
                    self.fields.insert(key.clone(), stored);
                }
                // Members are not part of the org record; a post counts them into the summary.
                "members" => {}
                _ => {
                    self.fields.insert(key.clone(), value.clone());
                }
            }
        }
    }
}

/// `10.0` stored as `10`, so the record's limits are integers however they were written.
fn integral(v: &Value) -> Value {
    match as_integer(v) {
        Some(f) if v.as_i64().is_none() && f.abs() < 9.0e15 => json!(f as i64),
        _ => v.clone(),
    }
}

/// All orgs of the simulated instance.
#[derive(Debug)]
pub(crate) struct Store {
    instance_id: String,
    orgs: Vec<OrgRecord>,
    minted: u64,
}

impl Store {
    pub(crate) fn new(instance_id: &str, seed: bool) -> Store {
        Store {
            instance_id: instance_id.to_owned(),
            orgs: if seed { seed_orgs() } else { Vec::new() },
            minted: 0,
        }
    }

    pub(crate) fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Ids compare without case: they are hex, and the vendor's ids are ObjectIds.
    pub(crate) fn find(&self, id: &str) -> Option<&OrgRecord> {
        self.orgs.iter().find(|o| o.id.eq_ignore_ascii_case(id))
    }

    pub(crate) fn ids(&self) -> Vec<String> {
        self.orgs.iter().map(|o| o.id.clone()).collect()
    }

    /// `instanceOrgs`: filter (or advanced query), sort, page.
    ///
    /// Sorting by name ignores case; ties (and every other key's ties) fall back to the id, so
    /// pages never overlap. A page past the end is empty, with the true `totalCount`.
    pub(crate) fn list(&self, p: &ListParams, advanced: Option<&Filter>, now: i64) -> Value {
        let mut hits: Vec<&OrgRecord> = self
            .orgs
            .iter()
            .filter(|o| match (advanced, &p.filter) {
                (Some(q), _) => q.matches(o),
                (None, Some((_, pattern))) => super::params::glob_match(pattern, o.name()),
                (None, None) => true,
            })
            .collect();
        hits.sort_by(|a, b| {
            let key = match p.sort_field {
                SortField::Name => fold(a.name()).cmp(&fold(b.name())),
                SortField::Id => std::cmp::Ordering::Equal,
                SortField::CreationDate => a.created_ms.cmp(&b.created_ms),
                SortField::LastUpdated => a.updated_ms.cmp(&b.updated_ms),
            };
            let key = key.then_with(|| a.id.cmp(&b.id));
            if p.descending { key.reverse() } else { key }
        });
        let total = hits.len();
        let items: Vec<Value> = hits
            .into_iter()
            .skip(p.page.saturating_mul(p.per_page))
            .take(p.per_page)
            .map(|o| o.render(&self.instance_id, p.summary, now))
            .collect();
        let mut out = json!({
            "items": items,
            "instanceId": self.instance_id,
            "count": items.len(),
            "totalCount": total,
            "perPage": p.per_page,
            "page": p.page,
            "sortField": p.sort_field.as_str(),
            "sortDirection": p.sort_direction,
        });
        if let (Some((field, pattern)), Some(obj)) = (&p.filter, out.as_object_mut()) {
            obj.insert("filterField".to_owned(), json!(field));
            obj.insert("filter".to_owned(), json!(pattern));
        }
        out
    }

    /// Creates an org from a validated `instanceOrgPost`.
    pub(crate) fn create(&mut self, body: &Map<String, Value>, now: i64) -> &OrgRecord {
        let id = self.mint_id(now);
        let (members, invites) = body
            .get("members")
            .and_then(Value::as_array)
            .map(|m| {
                let invites = m.iter().filter(|x| x.get("email").is_some()).count();
                (m.len() - invites, invites)
            })
            .unwrap_or((0, 0));
        let mut fields = Map::new();
        fields.insert("limits".to_owned(), default_limits());
        let mut org = OrgRecord {
            id,
            created_ms: now,
            updated_ms: now,
            fields,
            summary: summary(Size {
                members: members as i64,
                pending_invites: invites as i64,
                ..Size::default()
            }),
            payloads_per_day: 0,
        };
        org.apply(body, now);
        self.orgs.push(org);
        let last = self.orgs.len() - 1;
        &self.orgs[last]
    }

    /// Applies a validated patch; `None` when there is no such org.
    pub(crate) fn patch(
        &mut self,
        id: &str,
        body: &Map<String, Value>,
        now: i64,
    ) -> Option<&OrgRecord> {
        let org = self
            .orgs
            .iter_mut()
            .find(|o| o.id.eq_ignore_ascii_case(id))?;
        org.apply(body, now);
        org.updated_ms = now.max(org.created_ms);
        Some(org)
    }

    /// Deletes an org; false when there is no such org.
    pub(crate) fn delete(&mut self, id: &str) -> bool {
        let before = self.orgs.len();
        self.orgs.retain(|o| !o.id.eq_ignore_ascii_case(id));
        self.orgs.len() != before
    }

    /// A new ObjectId-like id: creation seconds, then a hash of the instance and a counter.
    fn mint_id(&mut self, now: i64) -> String {
        loop {
            self.minted += 1;
            let secs = (now / 1000).clamp(0, i64::from(u32::MAX)) as u32;
            let mut h = 0xCBF2_9CE4_8422_2325u64;
            for b in self.instance_id.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
            }
            let tail = (h ^ self.minted.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                & 0xFFFF_FFFF_FF00_0000
                | (self.minted & 0xFF_FFFF);
            let id = format!("{secs:08x}{tail:016x}");
            if self.find(&id).is_none() {
                return id;
            }
        }
    }
}

/// The sizes a summary is derived from.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    devices: i64,
    members: i64,
    pending_invites: i64,
    apps: i64,
    dashboards: i64,
    flows: i64,
    notebooks: i64,
    experience_users: i64,
    files: i64,
    storage_bytes: i64,
}

/// A full summary: every integer counter of the schema, `storageStats` and `notebookStats`.
fn summary(s: Size) -> Map<String, Value> {
    let has_experience = i64::from(s.experience_users > 0);
    let v = json!({
        "apiTokenCount": s.apps * 2,
        "appCount": s.apps,
        "certificateCount": s.apps / 3,
        "certificateAuthorityCount": s.apps / 4,
        "credentialCount": s.apps,
        "dashCount": s.dashboards,
        "dataTableCount": s.apps * 2,
        "deviceCount": s.devices,
        "deviceRecipeCount": s.apps * 2,
        "eventCount": s.devices / 25,
        "experienceDomainCount": has_experience,
        "experienceEndpointCount": has_experience * 14,
        "experienceGroupCount": has_experience * 3,
        "experienceSlugCount": has_experience * 2,
        "experienceUserCount": s.experience_users,
        "experienceVersionCount": has_experience * 4,
        "experienceViewCount": has_experience * 22,
        "fileCount": s.files,
        "flowCount": s.flows,
        "integrationCount": s.apps,
        "keyCount": s.apps * 3,
        "notebookCount": s.notebooks,
        "privateFileCount": s.files / 4,
        "resourceJobCount": s.apps / 2,
        "webhookCount": s.apps,
        "memberCount": s.members,
        "pendingInviteCount": s.pending_invites,
        "storageStats": { "count": s.files, "size": s.storage_bytes },
        "notebookStats": {
            "awaitingCompletion": i64::from(s.notebooks > 2),
            "minutesThisPeriod": s.notebooks * 37,
            "runsThisPeriod": s.notebooks * 9,
        },
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The limits a new org gets when the post does not set them.
fn default_limits() -> Value {
    json!({
        "apitoken": 50, "application": 10, "dashboard": 50, "device": 500, "flow": 100,
        "member": 25, "notebook": 5, "webhook": 50, "dataTTL": 2_592_000,
        "payload": 10_000_000, "storage": 1_073_741_824, "notebookMinutesPerMonth": 300,
        "notebookMinutesPerRun": 15, "notebookInParallel": 1, "systemInterval": 60,
    })
}

fn date(text: &str) -> i64 {
    parse_rfc3339(text).unwrap_or(0)
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The demo orgs. Each creation date is the one its ObjectId encodes (the first 8 hex digits
/// are seconds since the epoch), as with real Losant ids. Creation order, name order and
/// last-update order all differ, so sorting is visible.
fn seed_orgs() -> Vec<OrgRecord> {
    let enterprise_limits = json!({
        "apitoken": 1000, "application": 100, "applicationcertificate": 500,
        "applicationcertificateauthority": 50, "applicationkey": 5000, "credential": 200,
        "dashboard": 500, "datatable": 200, "device": 5000, "devicerecipe": 500,
        "experiencedomain": 10, "experienceendpoint": 1000, "experiencegroup": 500,
        "experienceslug": 50, "experienceuser": 10_000, "experienceversion": 50,
        "experienceview": 2000, "file": 10_000, "flow": 1000, "integration": 100,
        "notebook": 50, "privatefile": 5000, "resourcejob": 100, "webhook": 500,
        "dataTTL": 31_536_000, "member": 500, "payload": 1_000_000_000,
        "storage": 107_374_182_400_i64, "notebookMinutesPerRun": 60,
        "notebookMinutesPerMonth": 6000, "notebookInParallel": 5, "experienceFlowSlots": 20,
        "applicationFlowSlots": 50, "systemInterval": 5,
    });
    let growth_limits = json!({
        "apitoken": 200, "application": 25, "dashboard": 100, "datatable": 50,
        "device": 2500, "experienceuser": 1000, "flow": 250, "member": 50, "notebook": 10,
        "webhook": 100, "dataTTL": 7_776_000, "payload": 150_000_000,
        "storage": 10_737_418_240_i64, "notebookMinutesPerRun": 30,
        "notebookMinutesPerMonth": 1200, "notebookInParallel": 2, "systemInterval": 30,
    });
    let starter_limits = json!({
        "apitoken": 25, "application": 5, "dashboard": 20, "device": 250, "flow": 50,
        "member": 10, "notebook": 2, "webhook": 20, "dataTTL": 2_592_000,
        "payload": 30_000_000, "storage": 1_073_741_824, "notebookMinutesPerMonth": 120,
        "notebookMinutesPerRun": 10, "notebookInParallel": 1, "systemInterval": 60,
    });

    vec![
        OrgRecord {
            id: "575ed6e87ae143cd83dc4aa8".to_owned(),
            created_ms: date("2016-06-13T15:53:12Z"),
            updated_ms: date("2025-09-18T08:12:45.311Z"),
            fields: object(json!({
                "name": "Acme Industrial",
                "description": "Production telemetry for Acme's three factory floors: presses, CNC cells and the paint line.",
                "iconColor": "#1F6FEB",
                "limits": enterprise_limits,
                "whitelistedEmailDomains": ["acme-industrial.example"],
                "auditLogEnabled": true,
                "isReadOnly": false,
                "tags": [{"key": "region", "value": "us-east"}, {"key": "tier", "value": "enterprise"}],
                "mfaMode": "adminRequired",
                "planId": "enterprise-annual",
                "customerId": "cus_N4pQ8rT2vX6yZ1",
                "subscriptionId": "sub_1MqL3kAcme00017",
                "billingEmail": "billing@acme-industrial.example",
                "subscriptionStatus": "active",
                "currentPeriodStart": "2025-11-01T00:00:00.000Z",
                "currentPeriodEnd": "2026-11-01T00:00:00.000Z",
            })),
            summary: summary(Size {
                devices: 412,
                members: 23,
                pending_invites: 2,
                apps: 6,
                dashboards: 31,
                flows: 58,
                notebooks: 4,
                experience_users: 140,
                files: 268,
                storage_bytes: 734_003_200,
            }),
            payloads_per_day: 590_000,
        },
        OrgRecord {
            id: "5a5c74984b00147c8e21a7c3".to_owned(),
            created_ms: date("2018-01-15T09:30:00Z"),
            updated_ms: date("2026-01-05T17:40:02.128Z"),
            fields: object(json!({
                "name": "Northwind Fleet Telematics",
                "description": "GPS trackers and CAN-bus gateways on the regional delivery fleet.",
                "iconColor": "#0E8A16",
                "limits": growth_limits,
                "auditLogEnabled": false,
                "tags": [{"key": "region", "value": "eu-west"}],
                "mfaMode": "notRequired",
                "planId": "growth-monthly",
                "customerId": "cus_P7sK2mW9qL4nB8",
                "subscriptionId": "sub_1NwF8hNorth0002",
                "billingEmail": "accounts@northwind-fleet.example",
                "subscriptionStatus": "trialing",
                "currentPeriodStart": "2025-12-15T00:00:00.000Z",
                "currentPeriodEnd": "2026-01-15T00:00:00.000Z",
            })),
            summary: summary(Size {
                devices: 1280,
                members: 9,
                pending_invites: 0,
                apps: 3,
                dashboards: 12,
                flows: 27,
                notebooks: 1,
                experience_users: 0,
                files: 41,
                storage_bytes: 52_428_800,
            }),
            payloads_per_day: 1_450_000,
        },
        OrgRecord {
            id: "5d6e730c41c6f9001a3b5c90".to_owned(),
            created_ms: date("2019-09-03T14:05:00Z"),
            updated_ms: date("2024-11-27T10:03:19.870Z"),
            fields: object(json!({
                "name": "Cedar Smart Buildings",
                "limits": starter_limits,
                "auditLogEnabled": false,
                "mfaMode": "notRequired",
                "banner": {"message": "Your last invoice is past due. Update billing to avoid suspension.", "level": "warning"},
                "planId": "starter-monthly",
                "customerId": "cus_C3dR5tY7uI9oP2",
                "subscriptionId": "sub_1PcD4jCedar0003",
                "billingEmail": "facilities@cedar-buildings.example",
                "subscriptionStatus": "past_due",
                "currentPeriodStart": "2024-11-03T00:00:00.000Z",
                "currentPeriodEnd": "2024-12-03T00:00:00.000Z",
            })),
            summary: summary(Size {
                devices: 96,
                members: 4,
                pending_invites: 1,
                apps: 2,
                dashboards: 7,
                flows: 11,
                notebooks: 0,
                experience_users: 0,
                files: 12,
                storage_bytes: 6_291_456,
            }),
            payloads_per_day: 64_000,
        },
        OrgRecord {
            id: "60106426dc03c6aad06540bb".to_owned(),
            created_ms: date("2021-01-26T18:49:10Z"),
            updated_ms: date("2024-02-01T12:00:00.000Z"),
            fields: object(json!({
                "name": "Delta Agritech",
                "description": "Soil moisture pilot across four farms, paused after the 2023 season.",
                "iconColor": "#B08800",
                "limits": starter_limits,
                "auditLogEnabled": false,
                "disabledAt": "2024-02-01T12:00:00.000Z",
                "referralId": "partner-fieldworks",
                "planId": "starter-monthly",
                "customerId": "cus_D8fG1hJ3kL5zX7",
                "subscriptionId": "sub_1OaZ9xDelta0004",
                "billingEmail": "ops@delta-agritech.example",
                "subscriptionStatus": "canceled",
                "currentPeriodStart": "2024-01-01T00:00:00.000Z",
                "currentPeriodEnd": "2024-02-01T00:00:00.000Z",
            })),
            summary: summary(Size {
                devices: 54,
                members: 3,
                pending_invites: 0,
                apps: 1,
                dashboards: 3,
                flows: 6,
                notebooks: 2,
                experience_users: 0,
                files: 5,
                storage_bytes: 1_048_576,
            }),
            payloads_per_day: 21_000,
        },
        OrgRecord {
            id: "659bd5b08a1d4e0012b7a3d4".to_owned(),
            created_ms: date("2024-01-08T11:00:00Z"),
            updated_ms: date("2025-03-14T09:26:53.004Z"),
            fields: object(json!({
                "name": "Bluewater Utilities Sandbox",
                "description": "Read-only copy of the water metering pipeline for training.",
                "limits": {"device": 50, "application": 2, "member": 20, "dataTTL": 604_800, "systemInterval": 300},
                "whitelistedEmailDomains": ["bluewater-utilities.example", "contractor.example"],
                "auditLogEnabled": true,
                "isReadOnly": true,
                "tags": [{"key": "env", "value": "sandbox"}],
                "mfaMode": "required",
            })),
            summary: summary(Size {
                devices: 12,
                members: 14,
                pending_invites: 3,
                apps: 1,
                dashboards: 2,
                flows: 4,
                notebooks: 0,
                experience_users: 0,
                files: 3,
                storage_bytes: 409_600,
            }),
            payloads_per_day: 3_400,
        },
        OrgRecord {
            id: "683dd50cc3b14f0019e6d5a8".to_owned(),
            created_ms: date("2025-06-02T16:45:00Z"),
            updated_ms: date("2025-06-02T16:45:00Z"),
            fields: object(json!({
                "name": "foundry labs",
                "limits": default_limits(),
            })),
            summary: summary(Size {
                devices: 3,
                members: 1,
                apps: 1,
                dashboards: 1,
                flows: 2,
                files: 1,
                storage_bytes: 20_480,
                ..Size::default()
            }),
            payloads_per_day: 1_500,
        },
    ]
}
