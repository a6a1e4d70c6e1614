//! What the simulated Access Service holds — organisations, their plans and the figures the
//! statistics endpoints report — the demo data, and how each is rendered on the wire.
//!
//! Numbers the vendor sends as strings of digits (ids, quotas in MiB, `count`, `offset`) are
//! rendered as strings; counters as JSON numbers; `percentageOfAllOriginators` as a float
//! (the seed's types, dialects.md §3.3). A plan's quota is kept as the text the vendor would
//! send, so a test can make it malformed (`"12x"`).
//!
//! Figures are kept consistent: a plan's `unusedPlanQuotaOriginatorsCount` and
//! `usedPlanQuotaOriginatorsCount` add up to its `originatorsCount`, and
//! `exceededPlanQuotaOriginatorsCount` counts some of the users who used storage; the users
//! statistics' `originatorCount` is the sum over the plans; the storage statistics' required
//! storage is the sum over the plans of quota times originators.

use serde_json::{Value, json};

/// One plan of an organisation (a per-user storage quota for users with the Originator role).
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    /// The quota in MiB, as the text the vendor sends (`"4096"`).
    pub(crate) quota: String,
    pub(crate) is_default: bool,
    /// Originators assigned this plan who have not used storage yet.
    pub(crate) unused: u64,
    /// Originators assigned this plan who have used storage.
    pub(crate) used: u64,
    /// Of those, the ones over the plan's quota.
    pub(crate) exceeded: u64,
}

impl Plan {
    fn originators(&self) -> u64 {
        self.unused + self.used
    }

    fn quota_mib(&self) -> u64 {
        self.quota.parse().unwrap_or(0)
    }

    /// The plan as `…/plans` lists it (dialects.md §3.3, inferred: `id, name, description,
    /// quota` and the default flag, `isDefault`).
    pub(crate) fn render(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "quota": self.quota,
            "isDefault": self.is_default,
        })
    }

    /// The plan as `…/statistics/plans` lists it: exactly the seed's members.
    fn render_statistics(&self, all_originators: u64) -> Value {
        let percentage = if all_originators == 0 {
            0.0
        } else {
            // Rounded to a tenth, like a dashboard shows it.
            (self.originators() as f64 * 1000.0 / all_originators as f64).round() / 10.0
        };
        json!({
            "id": self.id,
            "name": self.name,
            "quota": self.quota,
            "originatorsCount": self.originators(),
            "percentageOfAllOriginators": percentage,
            "unusedPlanQuotaOriginatorsCount": self.unused,
            "usedPlanQuotaOriginatorsCount": self.used,
            "exceededPlanQuotaOriginatorsCount": self.exceeded,
        })
    }
}

/// One organisation.
#[derive(Debug, Clone)]
pub(crate) struct Org {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    /// Storage allocated to the organisation, in MiB.
    pub(crate) quota_mib: u64,
    pub(crate) admin_email: String,
    pub(crate) contact_email: String,
    pub(crate) company_name: String,
    pub(crate) addressbook_enabled: bool,
    pub(crate) watermarking_enabled: bool,
    pub(crate) enforce_mfa: bool,
    /// Plans in the order they were added: the order every list answers in, whatever its
    /// `sortBy` and `orderBy` (the documented bug).
    pub(crate) plans: Vec<Plan>,
    pub(crate) collaborators: u64,
    pub(crate) org_admins: u64,
    /// Storage used by the organisation's originators, in bytes.
    pub(crate) used_bytes: u64,
}

impl Org {
    fn all_originators(&self) -> u64 {
        self.plans.iter().map(Plan::originators).sum()
    }

    /// `GET /api/v1/organisations/{orgGroupId}` (members from the update page's field list,
    /// dialects.md §3.1; the quota as a string of digits like every quota the vendor sends).
    pub(crate) fn render(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "quota": self.quota_mib.to_string(),
            "adminEmail": self.admin_email,
            "contactEmail": self.contact_email,
            "companyName": self.company_name,
            "addressbookEnabled": self.addressbook_enabled,
            "watermarkingEnabled": self.watermarking_enabled,
            "enforceMfa": self.enforce_mfa,
            "i18nDefaultAsString": "en",
        })
    }

    /// The items of `…/statistics/plans`.
    pub(crate) fn plan_statistics(&self) -> Vec<Value> {
        let all = self.all_originators();
        self.plans
            .iter()
            .map(|p| p.render_statistics(all))
            .collect()
    }

    /// `…/statistics/users`: users per role, Ad hoc users excluded.
    pub(crate) fn user_statistics(&self) -> Value {
        json!({
            "originatorCount": self.all_originators(),
            "collaboratorCount": self.collaborators,
            "organisationAdminCount": self.org_admins,
        })
    }

    /// `…/statistics/items/storage`: allocated and required MiB, used bytes.
    pub(crate) fn storage_statistics(&self) -> Value {
        let required: u64 = self
            .plans
            .iter()
            .map(|p| p.quota_mib().saturating_mul(p.originators()))
            .sum();
        json!({
            "allocatedStorage": self.quota_mib.to_string(),
            "requiredStorage": required.to_string(),
            "usedStorage": self.used_bytes.to_string(),
        })
    }
}

/// Everything the simulator holds.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) orgs: Vec<Org>,
}

/// A plan of the demo data.
#[allow(clippy::too_many_arguments)]
fn plan(
    id: &str,
    name: &str,
    description: &str,
    quota: u64,
    is_default: bool,
    unused: u64,
    used: u64,
    exceeded: u64,
) -> Plan {
    Plan {
        id: id.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        quota: quota.to_string(),
        is_default,
        unused,
        used,
        exceeded,
    }
}

impl Store {
    pub(crate) fn new(seed_demo_data: bool) -> Store {
        if !seed_demo_data {
            return Store::default();
        }
        Store {
            orgs: vec![
                // The seed's organisation, with exactly the plans of its example answer.
                Org {
                    id: super::DEMO_ORG_ID.to_owned(),
                    name: "XY Company".to_owned(),
                    description: "The organisation of the vendor's examples".to_owned(),
                    quota_mib: 2_094_080,
                    admin_email: "org.administrator@xy-company.com".to_owned(),
                    contact_email: "org.administrator@xy-company.com".to_owned(),
                    company_name: "XY Company".to_owned(),
                    addressbook_enabled: true,
                    watermarking_enabled: false,
                    enforce_mfa: false,
                    plans: vec![
                        plan(
                            "756753535244587008",
                            "Temporary Staff Originators",
                            "4 GiB for each temporary staff member",
                            4096,
                            false,
                            0,
                            0,
                            0,
                        ),
                        plan(
                            "749419742544326656",
                            "Staff Originators",
                            "10 GiB for each staff member",
                            10240,
                            true,
                            0,
                            1,
                            0,
                        ),
                    ],
                    collaborators: 4,
                    org_admins: 1,
                    used_bytes: 734_003_200,
                },
                // Six plans in an order that is neither by name nor by quota.
                Org {
                    id: super::DEMO_PLANS_ORG_ID.to_owned(),
                    name: "Acme Research".to_owned(),
                    description: "Research and development".to_owned(),
                    quota_mib: 4_194_304,
                    admin_email: "it@acme-research.example".to_owned(),
                    contact_email: "office@acme-research.example".to_owned(),
                    company_name: "Acme Research Ltd".to_owned(),
                    addressbook_enabled: true,
                    watermarking_enabled: true,
                    enforce_mfa: true,
                    plans: vec![
                        plan(
                            "761105110712827904",
                            "Contractors",
                            "2 GiB for contractors",
                            2048,
                            false,
                            3,
                            2,
                            1,
                        ),
                        plan(
                            "761105247614910464",
                            "Engineering",
                            "50 GiB for engineers",
                            51200,
                            true,
                            1,
                            11,
                            0,
                        ),
                        plan(
                            "761105381945884672",
                            "Archive",
                            "1 TiB for the records team",
                            1_048_576,
                            false,
                            0,
                            2,
                            0,
                        ),
                        plan(
                            "761105498337820672",
                            "Interns",
                            "1 GiB for interns",
                            1024,
                            false,
                            4,
                            1,
                            1,
                        ),
                        plan(
                            "761105612657770496",
                            "Sales",
                            "10 GiB for sales",
                            10240,
                            false,
                            2,
                            5,
                            0,
                        ),
                        plan(
                            "761105733923487744",
                            "Design",
                            "20 GiB for designers",
                            20480,
                            false,
                            0,
                            3,
                            2,
                        ),
                    ],
                    collaborators: 57,
                    org_admins: 2,
                    used_bytes: 1_932_735_283_200,
                },
                Org {
                    id: "774412230955606016".to_owned(),
                    name: "Northwind Legal".to_owned(),
                    description: String::new(),
                    quota_mib: 524_288,
                    admin_email: "admin@northwind-legal.example".to_owned(),
                    contact_email: "admin@northwind-legal.example".to_owned(),
                    company_name: "Northwind Legal LLP".to_owned(),
                    addressbook_enabled: false,
                    watermarking_enabled: true,
                    enforce_mfa: true,
                    plans: vec![
                        plan(
                            "774412377370370048",
                            "Partners",
                            "100 GiB for partners",
                            102_400,
                            true,
                            0,
                            4,
                            0,
                        ),
                        plan(
                            "774412459729723392",
                            "Associates",
                            "20 GiB for associates",
                            20480,
                            false,
                            2,
                            9,
                            1,
                        ),
                    ],
                    collaborators: 12,
                    org_admins: 1,
                    used_bytes: 205_084_688_384,
                },
            ],
        }
    }

    pub(crate) fn org(&self, id: &str) -> Option<&Org> {
        self.orgs.iter().find(|o| o.id == id)
    }

    pub(crate) fn org_mut(&mut self, id: &str) -> Option<&mut Org> {
        self.orgs.iter_mut().find(|o| o.id == id)
    }

    /// The plan with `id` in any organisation.
    pub(crate) fn plan_mut(&mut self, id: &str) -> Option<&mut Plan> {
        self.orgs
            .iter_mut()
            .flat_map(|o| o.plans.iter_mut())
            .find(|p| p.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_figures_are_consistent() {
        let store = Store::new(true);
        for org in &store.orgs {
            for p in &org.plans {
                assert!(p.exceeded <= p.used, "{}", p.name);
                assert!(p.quota.bytes().all(|b| b.is_ascii_digit()));
            }
            assert_eq!(
                org.plans.iter().filter(|p| p.is_default).count(),
                1,
                "one default plan in {}",
                org.name
            );
            let stats = org.plan_statistics();
            let total: f64 = stats
                .iter()
                .map(|s| s["percentageOfAllOriginators"].as_f64().unwrap())
                .sum();
            assert!((total - 100.0).abs() < 0.5, "{total}");
            assert_eq!(
                org.user_statistics()["originatorCount"],
                stats
                    .iter()
                    .map(|s| s["originatorsCount"].as_u64().unwrap())
                    .sum::<u64>()
            );
        }
        assert!(Store::new(false).orgs.is_empty());
    }
}
