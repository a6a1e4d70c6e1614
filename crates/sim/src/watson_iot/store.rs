//! The simulated organizations and the API keys that may act on them, with the demo data, and
//! an org rendered the way `GET /api/v0002/` returns it (the View Organization document and the
//! 2019 swagger's `Organization` model).

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// How an org was provisioned through Bluemix, in one of the two spellings the sources give:
/// the View Organization document's and the 2019 swagger's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bluemix {
    /// `region, organizationGuid, serviceInstanceGuid, spaceGuid, planId` (the View
    /// Organization document).
    Document {
        region: String,
        organization_guid: String,
        service_instance_guid: String,
        space_guid: String,
        plan_id: String,
    },
    /// `region, organization, space, serviceInstance, plan` (the swagger's
    /// `OrganizationBluemixConfig`).
    Swagger {
        region: String,
        organization: String,
        space: String,
        service_instance: String,
        plan: String,
    },
}

/// One simulated organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSeed {
    /// Six lowercase letters and digits, the first label of its host name.
    pub id: String,
    pub name: String,
    pub enabled: bool,
    /// One of the document's `type` values ("Bluemix Free", …, "Subscription").
    pub plan_type: String,
    pub bluemix: Option<Bluemix>,
    /// `ibmMarketplace {customerAccountId, masterSubscriptionId}`.
    pub marketplace: Option<(u64, u64)>,
    /// `config.historian {enabled, retention}` (months; 0 keeps data forever).
    pub historian: (bool, u32),
    /// ISO-8601, as the document prints them (`2015-04-08T11:23:23+00:00`).
    pub created: String,
    pub updated: String,
    /// How many devices it has, for the active-device figures.
    pub devices: u32,
    /// Its typical daily data traffic, in kB.
    pub daily_kb: u64,
}

impl OrgSeed {
    /// The org as `GET /api/v0002/` returns it.
    pub fn render(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "enabled": self.enabled,
            "type": self.plan_type,
            "config": {
                "historian": { "enabled": self.historian.0, "retention": self.historian.1 }
            },
            "created": self.created,
            "updated": self.updated,
        });
        if let Some(b) = &self.bluemix {
            v["bluemix"] = match b {
                Bluemix::Document {
                    region,
                    organization_guid,
                    service_instance_guid,
                    space_guid,
                    plan_id,
                } => json!({
                    "region": region,
                    "organizationGuid": organization_guid,
                    "serviceInstanceGuid": service_instance_guid,
                    "spaceGuid": space_guid,
                    "planId": plan_id,
                }),
                Bluemix::Swagger {
                    region,
                    organization,
                    space,
                    service_instance,
                    plan,
                } => json!({
                    "region": region,
                    "organization": organization,
                    "space": space,
                    "serviceInstance": service_instance,
                    "plan": plan,
                }),
            };
        }
        if let Some((account, subscription)) = self.marketplace {
            v["ibmMarketplace"] = json!({
                "customerAccountId": account,
                "masterSubscriptionId": subscription,
            });
        }
        v
    }

    /// The Bluemix region it was provisioned in, if any.
    pub fn region(&self) -> Option<&str> {
        match &self.bluemix {
            Some(Bluemix::Document { region, .. }) | Some(Bluemix::Swagger { region, .. }) => {
                Some(region)
            }
            None => None,
        }
    }

    /// The calendar date it was created (`YYYY-MM-DD`, the first ten characters of `created`).
    pub fn created_date(&self) -> &str {
        self.created.get(..10).unwrap_or("")
    }
}

/// An API key (`a-{orgId}-{random}`) and its authentication token.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub key: String,
    pub token: String,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("key", &self.key)
            .field("token", &"***")
            .finish()
    }
}

/// The org an API key belongs to: its middle part, as wiotp-sdk reads it
/// (`apiKey.split("-")[1]`).
pub fn key_org(key: &str) -> Option<&str> {
    let mut parts = key.split('-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("a"), Some(org), Some(rest)) if is_org_id(org) && !rest.is_empty() => Some(org),
        _ => None,
    }
}

/// Whether `s` is an org id: six lowercase letters and digits.
pub fn is_org_id(s: &str) -> bool {
    s.len() == 6
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The orgs and keys.
#[derive(Debug, Default)]
pub struct Store {
    orgs: BTreeMap<String, OrgSeed>,
    /// key → token.
    keys: BTreeMap<String, String>,
}

impl Store {
    /// A store holding `orgs` and accepting `keys` (a key for an org not held is kept too: it
    /// is refused like any key of another org).
    pub fn new(orgs: Vec<OrgSeed>, keys: Vec<ApiKey>) -> Store {
        Store {
            orgs: orgs.into_iter().map(|o| (o.id.clone(), o)).collect(),
            keys: keys.into_iter().map(|k| (k.key, k.token)).collect(),
        }
    }

    pub fn org(&self, id: &str) -> Option<&OrgSeed> {
        self.orgs.get(id)
    }

    pub fn org_mut(&mut self, id: &str) -> Option<&mut OrgSeed> {
        self.orgs.get_mut(id)
    }

    /// The ids of the orgs held, in order.
    pub fn org_ids(&self) -> Vec<String> {
        self.orgs.keys().cloned().collect()
    }

    /// The token of a key, if the key exists.
    pub fn token(&self, key: &str) -> Option<&str> {
        self.keys.get(key).map(String::as_str)
    }
}

/// The demo orgs: the View Organization document's own example (`ab8de4`), one org with each
/// spelling of the Bluemix block, one that is not from Bluemix, and one that is disabled.
pub fn demo_orgs() -> Vec<OrgSeed> {
    vec![
        OrgSeed {
            id: "ab8de4".into(),
            name: "My organization".into(),
            enabled: true,
            plan_type: "Bluemix Free".into(),
            bluemix: Some(Bluemix::Document {
                region: "us-south".into(),
                organization_guid: "025273cb-d3c5-4204-9fef-ad5f84c2af02".into(),
                service_instance_guid: "90d13f02-152c-4cd7-b23e-aaae87b2f338".into(),
                space_guid: "6d0535f9-9f15-48f3-8b67-43f59a3a5c65".into(),
                plan_id: "iotf-service-bronze-id".into(),
            }),
            marketplace: None,
            historian: (true, 1),
            created: "2015-04-08T11:23:23+00:00".into(),
            updated: "2015-04-08T11:23:23+00:00".into(),
            devices: 12,
            daily_kb: 850,
        },
        OrgSeed {
            id: "abc123".into(),
            name: "Acme Devices".into(),
            enabled: true,
            plan_type: "Bluemix Gold".into(),
            bluemix: Some(Bluemix::Swagger {
                region: "eu-gb".into(),
                organization: "5fa3c8e4-1b7d-4c2a-9e61-0d8f2b3a4c51".into(),
                space: "b2e9d7c1-6a4f-4f0b-8c3d-7e1a9f5b2d60".into(),
                service_instance: "c7d1e2f3-4a5b-4c6d-8e9f-0a1b2c3d4e5f".into(),
                plan: "iotf-service-gold-id".into(),
            }),
            marketplace: None,
            historian: (true, 0),
            created: "2018-02-11T09:30:00+00:00".into(),
            updated: "2023-06-01T14:05:10+00:00".into(),
            devices: 40,
            daily_kb: 5200,
        },
        OrgSeed {
            id: "xyz789".into(),
            name: "Globex Sensors".into(),
            enabled: true,
            plan_type: "Subscription".into(),
            bluemix: None,
            marketplace: Some((2_847_113, 91_004_552)),
            historian: (false, 0),
            created: "2019-09-23T16:45:00+00:00".into(),
            updated: "2022-11-30T08:00:00+00:00".into(),
            devices: 25,
            daily_kb: 3100,
        },
        OrgSeed {
            id: "q7w3e9".into(),
            name: "Initech Pilot".into(),
            enabled: false,
            plan_type: "Trial".into(),
            bluemix: None,
            marketplace: None,
            historian: (false, 0),
            created: "2021-01-05T10:00:00+00:00".into(),
            updated: "2021-03-05T10:00:00+00:00".into(),
            devices: 5,
            daily_kb: 120,
        },
    ]
}

/// One demo key per demo org (`a-{org}-demokey001`), its token `watson-demo-{org}`.
pub fn demo_keys() -> Vec<ApiKey> {
    demo_orgs()
        .iter()
        .map(|o| ApiKey {
            key: demo_key(&o.id),
            token: demo_token(&o.id),
        })
        .collect()
}

/// The demo API key of an org.
pub fn demo_key(org: &str) -> String {
    format!("a-{org}-demokey001")
}

/// The demo token of an org.
pub fn demo_token(org: &str) -> String {
    format!("watson-demo-{org}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documents_example_renders_as_printed() {
        let org = demo_orgs().remove(0).render();
        assert_eq!(
            org,
            json!({"id":"ab8de4","name":"My organization","enabled":true,"type":"Bluemix Free",
             "bluemix":{"region":"us-south","organizationGuid":"025273cb-d3c5-4204-9fef-ad5f84c2af02",
                        "serviceInstanceGuid":"90d13f02-152c-4cd7-b23e-aaae87b2f338",
                        "spaceGuid":"6d0535f9-9f15-48f3-8b67-43f59a3a5c65","planId":"iotf-service-bronze-id"},
             "config":{"historian":{"enabled":true,"retention":1}},
             "created":"2015-04-08T11:23:23+00:00","updated":"2015-04-08T11:23:23+00:00"})
        );
    }

    #[test]
    fn keys_name_their_org() {
        assert_eq!(key_org("a-abc123-kodl0vqqrk"), Some("abc123"));
        assert_eq!(key_org("a-abc123-"), None);
        assert_eq!(key_org("b-abc123-x"), None);
        assert_eq!(key_org("a-ABC123-x"), None);
        assert_eq!(key_org("a-abc12-x"), None);
        for o in demo_orgs() {
            assert!(is_org_id(&o.id), "{}", o.id);
            assert_eq!(key_org(&demo_key(&o.id)), Some(o.id.as_str()));
        }
    }
}
