//! What the simulated CommCell holds: plans, organizations (companies) with their plan
//! associations and default plans, and the demo data; and how each is rendered on the wire.
//!
//! Invariants the update code keeps (`update.rs`):
//! - every default plan of an organization is one of its associated plans;
//! - an organization (and the CommCell, id 0) has at most one default plan per plan subtype
//!   (a server plan, a laptop plan, …), which is what the `subtype` beside each default plan
//!   on the wire suggests;
//! - names (`connectName`) and aliases (`shortName.domainName`) are unique, compared without
//!   regard to case; plan names are unique as written (a lookup by name tries the exact name,
//!   then the one name equal without regard to case).
//!
//! Counters are kept consistent: `totalMachineCount = serverCount + laptopCount`,
//! `physicalDeviceCount <= totalMachineCount`, laptops never outnumber users (each laptop has an
//! owner), and `associatedEntitiesCount` (a list column cvpysdk asks for) counts the users,
//! machines and the two user groups every company has.

use serde_json::{Map, Value, json};

/// Plan subtypes as cvpysdk's `PlanSubTypes` numbers them.
pub(crate) const SUBTYPE_SERVER: u64 = 33_554_437;
pub(crate) const SUBTYPE_LAPTOP: u64 = 33_554_439;
pub(crate) const SUBTYPE_DATABASE: u64 = 33_579_013;
/// cvpysdk's `PlanTypes.MSP`, the type of server and laptop plans.
const PLAN_TYPE_MSP: u64 = 2;

/// The demo Acme's registration code (`organizationProperties.authCode`).
pub const ACME_AUTH_CODE: &str = "7QK2M9XH";

/// The CommServe's name, shown in list entries and plan ownership.
pub(crate) const COMMCELL_NAME: &str = "cvsim-cs";
const COMMCELL_ID: u64 = 2;
/// The name plans owned by the CommCell itself carry as their company.
const COMMCELL_COMPANY: &str = "Commcell";

/// One plan.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) subtype: u64,
}

impl Plan {
    /// `{"planId":…,"planName":…}`, the plan reference used everywhere.
    pub(crate) fn reference(&self) -> Value {
        json!({ "planId": self.id, "planName": self.name })
    }
}

/// A primary contact (tenant administrator).
#[derive(Debug, Clone)]
pub(crate) struct Contact {
    pub(crate) full_name: String,
    pub(crate) email: String,
    pub(crate) user_name: String,
    pub(crate) user_id: u64,
}

/// One organization (company).
#[derive(Debug, Clone)]
pub(crate) struct Org {
    pub(crate) id: u64,
    /// `connectName`: the display name.
    pub(crate) name: String,
    /// `shortName.domainName`: the alias.
    pub(crate) alias: String,
    pub(crate) description: String,
    pub(crate) email_domains: Vec<String>,
    pub(crate) guid: String,
    pub(crate) enabled: bool,
    pub(crate) contacts: Vec<Contact>,
    pub(crate) users: u64,
    pub(crate) servers: u64,
    pub(crate) laptops: u64,
    pub(crate) physical: u64,
    /// Creation time, seconds since the epoch (cvpysdk feeds it to `datetime.fromtimestamp`).
    pub(crate) created: i64,
    /// A reseller: may create companies of its own.
    pub(crate) reseller: bool,
    /// The reseller company that owns this one, by name.
    pub(crate) owner: Option<String>,
    /// Associated plans, by id, in association order.
    pub(crate) plans: Vec<u64>,
    /// Default plans, by id; always a subset of `plans`.
    pub(crate) defaults: Vec<u64>,
    /// Every other `organizationProperties` member, as last set.
    pub(crate) properties: Map<String, Value>,
}

impl Org {
    fn machines(&self) -> u64 {
        self.servers + self.laptops
    }

    fn associated_entities(&self) -> u64 {
        self.users + self.machines() + 2
    }

    fn contacts_json(&self) -> Value {
        Value::Array(
            self.contacts
                .iter()
                .map(|c| {
                    json!({
                        "fullName": c.full_name,
                        "email": c.email,
                        "user": { "userName": c.user_name, "userId": c.user_id },
                    })
                })
                .collect(),
        )
    }

    fn short_name(&self) -> Value {
        json!({ "id": self.id, "domainName": self.alias })
    }
}

/// The CommCell's plans and companies.
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// Ordered by id.
    pub(crate) orgs: Vec<Org>,
    /// Ordered by id.
    pub(crate) plans: Vec<Plan>,
    /// The CommCell's own default plans (organization id 0).
    pub(crate) commcell_defaults: Vec<u64>,
}

impl Store {
    pub(crate) fn new(seed_demo_data: bool) -> Store {
        if seed_demo_data {
            demo()
        } else {
            Store::default()
        }
    }

    pub(crate) fn org_ids(&self) -> Vec<u64> {
        self.orgs.iter().map(|o| o.id).collect()
    }

    pub(crate) fn org(&self, id: u64) -> Option<&Org> {
        self.orgs.iter().find(|o| o.id == id)
    }

    pub(crate) fn org_mut(&mut self, id: u64) -> Option<&mut Org> {
        self.orgs.iter_mut().find(|o| o.id == id)
    }

    pub(crate) fn org_by_alias(&self, alias: &str) -> Option<&Org> {
        self.orgs
            .iter()
            .find(|o| o.alias.eq_ignore_ascii_case(alias))
    }

    pub(crate) fn plan(&self, id: u64) -> Option<&Plan> {
        self.plans.iter().find(|p| p.id == id)
    }

    /// A plan by name: the exact name first, then the one name equal without regard to case
    /// (Commvault names are case-insensitive; cvpysdk lowercases them).
    pub(crate) fn plan_by_name(&self, name: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.name == name).or_else(|| {
            let mut folded = self
                .plans
                .iter()
                .filter(|p| p.name.to_lowercase() == name.to_lowercase());
            match (folded.next(), folded.next()) {
                (Some(p), None) => Some(p),
                _ => None,
            }
        })
    }

    /// Adds a CommCell-owned plan, returning its id; an existing plan of that exact name is
    /// returned instead of a duplicate.
    pub(crate) fn add_plan(&mut self, name: &str, subtype: u64) -> u64 {
        if let Some(p) = self.plans.iter().find(|p| p.name == name) {
            return p.id;
        }
        let id = self.plans.iter().map(|p| p.id).max().unwrap_or(0) + 1;
        self.plans.push(Plan {
            id,
            name: name.to_owned(),
            subtype,
        });
        id
    }

    fn plan_refs(&self, ids: &[u64]) -> Vec<&Plan> {
        ids.iter().filter_map(|id| self.plan(*id)).collect()
    }

    fn default_plans_json(&self, ids: &[u64]) -> Value {
        Value::Array(
            self.plan_refs(ids)
                .into_iter()
                .map(|p| json!({ "plan": p.reference(), "subtype": p.subtype }))
                .collect(),
        )
    }

    /// `GET Organization/{id}`: `{"organizationInfo":{…}}`.
    pub(crate) fn render_org(&self, org: &Org) -> Value {
        let mut properties = org.properties.clone();
        let computed = json!({
            "defaultPlans": self.default_plans_json(&org.defaults),
            "primaryContacts": org.contacts_json(),
            "userCount": org.users,
            "totalMachineCount": org.machines(),
            "serverCount": org.servers,
            "laptopCount": org.laptops,
            "physicalDeviceCount": org.physical,
            "orgCreationDateTime": org.created,
            "canCreateCompanies": org.reseller,
        });
        if let Value::Object(computed) = computed {
            properties.extend(computed);
        }
        if let Some(owner) = &org.owner {
            properties.insert("resellerCompany".to_owned(), json!(owner));
        }
        let plan_details: Vec<Value> = self
            .plan_refs(&org.plans)
            .into_iter()
            .map(|p| json!({ "plan": p.reference() }))
            .collect();
        json!({
            "organizationInfo": {
                "organization": {
                    "serviceType": 5,
                    "flags": {},
                    "description": org.description,
                    "enabled": org.enabled,
                    "useSecureLdap": 0,
                    "connectName": org.name,
                    "port": 0,
                    "tppm": { "enable": false, "tppmType": 0 },
                    "proxyInformation": { "portNumber": 0 },
                    "emailDomainNames": org.email_domains,
                    "shortName": org.short_name(),
                    "providerGUID": org.guid,
                    "deactivateOptions": {
                        "disableBackup": !org.enabled,
                        "disableRestore": !org.enabled,
                        "disableLogin": !org.enabled,
                    },
                },
                "organizationProperties": Value::Object(properties),
                "planDetails": plan_details,
            }
        })
    }

    /// One entry of `GET Organization`'s `providers` list, before any `fl` projection.
    pub(crate) fn render_provider(&self, org: &Org) -> Value {
        let mut provider = json!({
            "serviceType": 5,
            "flags": {},
            "description": org.description,
            "enabled": org.enabled,
            "bTrustedHostUser": false,
            "useSecureLdap": 0,
            "connectName": org.name,
            "port": 0,
            "bLogin": false,
            "tppm": { "enable": false, "tppmType": 0 },
            "proxyInformation": { "portNumber": 0 },
            "primaryContacts": org.contacts_json(),
            "shortName": org.short_name(),
            "providerGUID": org.guid,
            "associatedEntitiesCount": org.associated_entities(),
            "canCreateCompanies": org.reseller,
            "commcell": { "commCellName": COMMCELL_NAME, "commCellId": COMMCELL_ID },
        });
        if let (Some(owner), Value::Object(map)) = (&org.owner, &mut provider) {
            map.insert("ownerCompanyName".to_owned(), json!(owner));
        }
        provider
    }

    /// One entry of `GET V2/Plan`.
    fn plan_entry(&self, plan: &Plan) -> Value {
        let mut reference = plan.reference();
        if let Value::Object(map) = &mut reference {
            map.insert(
                "entityInfo".to_owned(),
                json!({ "companyId": 0, "companyName": COMMCELL_COMPANY }),
            );
        }
        json!({
            "plan": reference,
            "type": PLAN_TYPE_MSP,
            "subtype": plan.subtype,
            "planStatusFlag": 0,
            "numCompanies": self.orgs.iter().filter(|o| o.plans.contains(&plan.id)).count(),
        })
    }

    /// `GET V2/Plan`.
    pub(crate) fn render_plans(&self) -> Value {
        let plans: Vec<Value> = self.plans.iter().map(|p| self.plan_entry(p)).collect();
        json!({ "plans": plans })
    }

    /// `GET V2/Plan/{id}`: the `plan` document cvpysdk's `Plan` reads (`summary`, the
    /// operation windows, `autoCreatedEntities`).
    pub(crate) fn render_plan(&self, plan: &Plan) -> Value {
        json!({
            "plan": {
                "summary": {
                    "plan": plan.reference(),
                    "type": PLAN_TYPE_MSP,
                    "subtype": plan.subtype,
                    "slaInMinutes": 1440,
                    "planStatusFlag": 0,
                    "numCompanies": self.orgs.iter().filter(|o| o.plans.contains(&plan.id)).count(),
                },
                "operationWindow": { "ruleId": 0 },
                "fullOperationWindow": { "ruleId": 0 },
                "autoCreatedEntities": {},
            }
        })
    }

    /// `GET V4/ServerPlan/{id}`: the V4 view of a server plan, as much of it as cvpysdk reads
    /// (`backupDestinations`, `rpo.backupFrequency.schedules`); the simulator models no storage
    /// or schedules, so both are empty.
    pub(crate) fn render_server_plan_v4(&self, plan: &Plan) -> Value {
        json!({
            "plan": { "id": plan.id, "name": plan.name },
            "company": { "id": 0, "name": COMMCELL_COMPANY },
            "backupDestinations": [],
            "rpo": { "backupFrequency": { "schedules": [] } },
        })
    }

    /// `GET Organization/{id}/defaultplan`; id 0 is the CommCell.
    pub(crate) fn render_default_plans(&self, id: u64) -> Option<Value> {
        let (name, alias, defaults) = if id == 0 {
            (COMMCELL_NAME, COMMCELL_NAME, &self.commcell_defaults)
        } else {
            let org = self.org(id)?;
            (org.name.as_str(), org.alias.as_str(), &org.defaults)
        };
        Some(json!({
            "organizationInfo": {
                "organization": {
                    "connectName": name,
                    "shortName": { "domainName": alias, "id": id },
                },
                "organizationProperties": { "defaultPlans": self.default_plans_json(defaults) },
            }
        }))
    }

    /// `GET UserGroup[?parentProvider/providerId={id}]`: the two groups every company has.
    pub(crate) fn render_user_groups(&self, provider: Option<u64>) -> Value {
        let groups: Vec<Value> = self
            .orgs
            .iter()
            .filter(|o| provider.is_none_or(|id| id == o.id))
            .flat_map(|o| {
                [(1, "Tenant Admin"), (2, "Tenant Users")].map(|(n, group)| {
                    json!({
                        "userGroupEntity": {
                            "userGroupId": o.id * 100 + n,
                            "userGroupName": format!("{}\\{}", o.alias, group),
                        },
                        "providerId": o.id,
                    })
                })
            })
            .collect();
        json!({ "userGroups": groups })
    }
}

/// Builds one demo company.
#[allow(clippy::too_many_arguments)]
fn org(
    id: u64,
    name: &str,
    alias: &str,
    contact: (&str, &str),
    counts: (u64, u64, u64, u64),
    created: i64,
    plans: &[u64],
    defaults: &[u64],
) -> Org {
    let (users, servers, laptops, physical) = counts;
    let (full_name, login) = contact;
    let mut properties = Map::new();
    properties.insert("loginSessionTimeoutInMinutes".to_owned(), json!(30));
    properties.insert("enableAutoDiscovery".to_owned(), json!(false));
    properties.insert("enableAuthCodeGen".to_owned(), json!(false));
    properties.insert("agePasswordDays".to_owned(), json!(0));
    properties.insert("operators".to_owned(), json!([]));
    Org {
        id,
        name: name.to_owned(),
        alias: alias.to_owned(),
        description: format!("{name} (demo company)"),
        email_domains: vec![format!("{alias}.example")],
        guid: format!("5a1b7c00-0000-4000-8000-{id:012x}"),
        enabled: true,
        contacts: vec![Contact {
            full_name: full_name.to_owned(),
            email: format!("{login}@{alias}.example"),
            user_name: format!("{alias}\\{login}"),
            user_id: 1000 + id,
        }],
        users,
        servers,
        laptops,
        physical,
        created,
        reseller: false,
        owner: None,
        plans: plans.to_vec(),
        defaults: defaults.to_vec(),
        properties,
    }
}

/// The demo CommCell: six plans, five companies (ids 1, 7, 12, 23, 31). Company 1 is the
/// docs' `company001`; Acme (7) has the one default plan and Auth Code generation on (its
/// `authCode` is the registration code clients install with, shown in
/// `organizationProperties` where cvpysdk's `auth_code` reads it); Initech (23) is deactivated
/// and owned by the reseller Umbrella Health (31).
fn demo() -> Store {
    let plans = [
        (1, "Server plan", SUBTYPE_SERVER),
        (2, "Laptop plan", SUBTYPE_LAPTOP),
        (3, "Gold backup", SUBTYPE_SERVER),
        (4, "Silver backup", SUBTYPE_SERVER),
        (5, "Bronze laptop", SUBTYPE_LAPTOP),
        (6, "Database plan", SUBTYPE_DATABASE),
    ]
    .map(|(id, name, subtype)| Plan {
        id,
        name: name.to_owned(),
        subtype,
    })
    .to_vec();

    // (users, servers, laptops, physical devices): laptops only where a laptop plan is
    // associated, and every laptop is physical.
    let mut orgs = vec![
        org(
            1,
            "Company001",
            "company001",
            ("Ana Souza", "ana.souza"),
            (12, 3, 0, 2),
            1_552_555_800, // 2019-03-14T09:30:00Z
            &[1],
            &[],
        ),
        org(
            7,
            "Acme",
            "acme",
            ("Jo Admin", "jo.admin"),
            (48, 9, 41, 44),
            1_591_106_700, // 2020-06-02T14:05:00Z
            &[2, 3],
            &[2],
        ),
        org(
            12,
            "Globex",
            "globex",
            ("Hank Scorpio", "hank"),
            (130, 22, 0, 9),
            1_611_055_200, // 2021-01-19T11:20:00Z
            &[1, 4],
            &[],
        ),
        org(
            23,
            "Initech",
            "initech",
            ("Bill Lumbergh", "bill"),
            (7, 0, 6, 6),
            1_664_556_300, // 2022-09-30T16:45:00Z
            &[5],
            &[],
        ),
        org(
            31,
            "Umbrella Health",
            "umbrella",
            ("Alice Marcus", "alice"),
            (260, 40, 0, 14),
            1_681_200_600, // 2023-04-11T08:10:00Z
            &[3, 6],
            &[],
        ),
    ];
    for o in &mut orgs {
        match o.id {
            7 => {
                o.properties
                    .insert("enableAuthCodeGen".to_owned(), json!(true));
                o.properties
                    .insert("authCode".to_owned(), json!(ACME_AUTH_CODE));
            }
            23 => {
                o.enabled = false;
                o.owner = Some("Umbrella Health".to_owned());
            }
            31 => o.reseller = true,
            _ => {}
        }
    }
    Store {
        orgs,
        plans,
        commcell_defaults: vec![1],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_counters_are_consistent() {
        let store = demo();
        for o in &store.orgs {
            assert!(o.physical <= o.machines(), "{}", o.name);
            assert!(o.laptops <= o.users, "{}", o.name);
            assert!(o.defaults.iter().all(|d| o.plans.contains(d)), "{}", o.name);
            let has_laptop_plan = o
                .plans
                .iter()
                .any(|p| store.plan(*p).is_some_and(|p| p.subtype == SUBTYPE_LAPTOP));
            assert_eq!(o.laptops > 0, has_laptop_plan, "{}", o.name);
        }
        assert_eq!(store.org_ids(), vec![1, 7, 12, 23, 31]);
    }

    #[test]
    fn plan_names_match_exactly_then_without_case() {
        let mut store = demo();
        assert_eq!(store.plan_by_name("laptop PLAN").map(|p| p.id), Some(2));
        let upper = store.add_plan("LAPTOP PLAN", SUBTYPE_LAPTOP);
        assert_eq!(store.plan_by_name("LAPTOP PLAN").map(|p| p.id), Some(upper));
        assert_eq!(store.plan_by_name("Laptop plan").map(|p| p.id), Some(2));
        // Two plans differ only in case: a third spelling is ambiguous.
        assert!(store.plan_by_name("laptop plan").is_none());
    }
}
