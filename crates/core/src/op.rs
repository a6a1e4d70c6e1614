//! The operations of docs/API.md §4 that reach a backend, and what each returns.
//!
//! One variant per route that a backend serves. Org ids here are native ids, already validated
//! and canonicalized by the backend's [`crate::Backend::canonical_id`].

use crate::model::{Org, OrgStatus, Page, Plan, Subscription, UsageSeries, UsageSummary};
use crate::query::{Interval, ListQuery, Metric, SeriesOptions, TimeRange};

/// A JSON merge-patch value: absent, `null`, or a value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// The field was not in the patch: leave it.
    #[default]
    Keep,
    /// The field was `null`: clear it.
    Clear,
    /// Set the field.
    Set(T),
}

impl<T> Patch<T> {
    /// Whether the patch touches the field.
    pub fn is_keep(&self) -> bool {
        matches!(self, Patch::Keep)
    }
}

/// The fields of an org a caller may patch (docs/API.md §4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrgPatch {
    pub name: Patch<String>,
    pub description: Patch<String>,
    pub status: Patch<OrgStatus>,
}

/// A patchable field, for capability descriptions and `422 unsupported_field`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchField {
    Name,
    Description,
    Status,
}

impl PatchField {
    /// The field's name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchField::Name => "name",
            PatchField::Description => "description",
            PatchField::Status => "status",
        }
    }
}

impl OrgPatch {
    /// The fields this patch touches.
    pub fn fields(&self) -> Vec<PatchField> {
        let mut out = Vec::new();
        if !self.name.is_keep() {
            out.push(PatchField::Name);
        }
        if !self.description.is_keep() {
            out.push(PatchField::Description);
        }
        if !self.status.is_keep() {
            out.push(PatchField::Status);
        }
        out
    }
}

/// One call to a backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    GetOrg {
        org: String,
    },
    PatchOrg {
        org: String,
        patch: OrgPatch,
    },
    DeleteOrg {
        org: String,
    },
    ListOrgs {
        query: ListQuery,
    },
    ListPlans {
        org: String,
        query: ListQuery,
    },
    PutPlan {
        org: String,
        plan: String,
        make_default: bool,
    },
    DeletePlan {
        org: String,
        plan: String,
    },
    GetUsage {
        org: String,
    },
    GetUsageSeries {
        org: String,
        metric: Metric,
        interval: Interval,
        range: TimeRange,
        options: SeriesOptions,
    },
    ListCustomers {
        org: String,
        query: ListQuery,
        filter: CustomerFilter,
    },
    CreateCustomer {
        org: String,
        name: String,
    },
    ListSubscriptions {
        org: String,
        customer: String,
        query: ListQuery,
    },
    CreateSubscription {
        org: String,
        customer: String,
        plan_id: String,
        name: Option<String>,
    },
}

/// Filters of the customer list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerFilter {
    pub status: Option<OrgStatus>,
    pub recursive: bool,
    pub max_depth: Option<u32>,
}

/// The kind of an operation, without its arguments: what capability lists are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    GetOrg,
    PatchOrg,
    DeleteOrg,
    ListOrgs,
    ListPlans,
    PutPlan,
    DeletePlan,
    GetUsage,
    GetUsageSeries,
    ListCustomers,
    CreateCustomer,
    ListSubscriptions,
    CreateSubscription,
}

impl OpKind {
    /// A stable name, for `GET /v1/backends`, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::GetOrg => "org.get",
            OpKind::PatchOrg => "org.patch",
            OpKind::DeleteOrg => "org.delete",
            OpKind::ListOrgs => "orgs.list",
            OpKind::ListPlans => "plans.list",
            OpKind::PutPlan => "plans.put",
            OpKind::DeletePlan => "plans.delete",
            OpKind::GetUsage => "usage.get",
            OpKind::GetUsageSeries => "usage.series",
            OpKind::ListCustomers => "customers.list",
            OpKind::CreateCustomer => "customers.create",
            OpKind::ListSubscriptions => "subscriptions.list",
            OpKind::CreateSubscription => "subscriptions.create",
        }
    }

    /// Whether the operation only reads (and so may be retried or cached).
    pub fn is_read(self) -> bool {
        matches!(
            self,
            OpKind::GetOrg
                | OpKind::ListOrgs
                | OpKind::ListPlans
                | OpKind::GetUsage
                | OpKind::GetUsageSeries
                | OpKind::ListCustomers
                | OpKind::ListSubscriptions
        )
    }
}

impl Operation {
    /// The operation's kind.
    pub fn kind(&self) -> OpKind {
        match self {
            Operation::GetOrg { .. } => OpKind::GetOrg,
            Operation::PatchOrg { .. } => OpKind::PatchOrg,
            Operation::DeleteOrg { .. } => OpKind::DeleteOrg,
            Operation::ListOrgs { .. } => OpKind::ListOrgs,
            Operation::ListPlans { .. } => OpKind::ListPlans,
            Operation::PutPlan { .. } => OpKind::PutPlan,
            Operation::DeletePlan { .. } => OpKind::DeletePlan,
            Operation::GetUsage { .. } => OpKind::GetUsage,
            Operation::GetUsageSeries { .. } => OpKind::GetUsageSeries,
            Operation::ListCustomers { .. } => OpKind::ListCustomers,
            Operation::CreateCustomer { .. } => OpKind::CreateCustomer,
            Operation::ListSubscriptions { .. } => OpKind::ListSubscriptions,
            Operation::CreateSubscription { .. } => OpKind::CreateSubscription,
        }
    }
}

/// What a backend answers to an [`Operation`].
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// GetOrg, PatchOrg, CreateCustomer (boxed: an org is large, the other variants small).
    Org(Box<Org>),
    /// ListOrgs, ListCustomers.
    Orgs(Page<Org>),
    /// ListPlans.
    Plans(Page<Plan>),
    /// PutPlan: the plan as now associated.
    Plan(Plan),
    /// GetUsage.
    Usage(UsageSummary),
    /// GetUsageSeries.
    Series(UsageSeries),
    /// ListSubscriptions.
    Subscriptions(Page<Subscription>),
    /// CreateSubscription.
    Subscription(Subscription),
    /// DeleteOrg, DeletePlan: done, nothing to show.
    Done,
}

/// `Output::into_*`: the one variant an operation answers with, or `None` for any other.
macro_rules! into_variant {
    ($($name:ident: $variant:ident => $ty:ty;)*) => {
        impl Output {
            $(
                #[doc = concat!("The `", stringify!($variant), "` answer, if this is one.")]
                pub fn $name(self) -> Option<$ty> {
                    match self {
                        Output::$variant(v) => Some(v),
                        _ => None,
                    }
                }
            )*
        }
    };
}

into_variant! {
    into_org: Org => Box<Org>;
    into_orgs: Orgs => Page<Org>;
    into_plans: Plans => Page<Plan>;
    into_plan: Plan => Plan;
    into_usage: Usage => UsageSummary;
    into_series: Series => UsageSeries;
    into_subscriptions: Subscriptions => Page<Subscription>;
    into_subscription: Subscription => Subscription;
}

impl Output {
    /// `Some(())` if this is `Done`.
    pub fn into_done(self) -> Option<()> {
        matches!(self, Output::Done).then_some(())
    }

    /// A short name of the variant, for error messages about mismatched answers.
    pub fn name(&self) -> &'static str {
        match self {
            Output::Org(_) => "org",
            Output::Orgs(_) => "org list",
            Output::Plans(_) => "plan list",
            Output::Plan(_) => "plan",
            Output::Usage(_) => "usage",
            Output::Series(_) => "usage series",
            Output::Subscriptions(_) => "subscription list",
            Output::Subscription(_) => "subscription",
            Output::Done => "nothing",
        }
    }
}
