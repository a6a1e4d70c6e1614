//! Sorting lists of orgs, plans and subscriptions by a field (docs/API.md §5), where the
//! backend does not: the gateway's list engine over a whole list, or an adapter whose vendor
//! sent the whole list unsorted. Ties are broken by id, so the order is total.

use std::cmp::Ordering;

use crate::{Org, Plan, Quota, Sort, SortField, Subscription, Timestamp};

/// A value's sort key for the gateway's own sorting. Text compares case-insensitively first,
/// the way people read names, and exactly second, so the order is total and stable.
/// Numeric ids compare as numbers ("2" before "10").
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    Number(u128),
    Text(String, String),
    Time(Timestamp),
}

fn text(s: &str) -> Key {
    Key::Text(s.to_lowercase(), s.to_owned())
}

fn id(s: &str) -> Key {
    match s.parse::<u128>() {
        Ok(n) if s.bytes().all(|b| b.is_ascii_digit()) => Key::Number(n),
        _ => text(s),
    }
}

/// An org's sort key (for org and customer lists).
pub fn org_key(o: &Org, f: SortField) -> Option<Key> {
    match f {
        SortField::Id => Some(id(&o.native_id)),
        SortField::Name => o.name.as_deref().map(text),
        SortField::CreatedAt => o.created_at.map(Key::Time),
        SortField::UpdatedAt => o.updated_at.map(Key::Time),
        SortField::Status => o.status.map(|s| text(s.as_str())),
        SortField::Quota => None,
    }
}

/// A plan's sort key.
pub fn plan_key(p: &Plan, f: SortField) -> Option<Key> {
    match f {
        SortField::Id => Some(id(&p.id)),
        SortField::Name => p.name.as_deref().map(text),
        SortField::Quota => quota_key(&p.quotas),
        _ => None,
    }
}

/// The key of a plan's quota: its storage quota, else its first quota; an unlimited quota sorts
/// as the largest. A plan without quotas has none (and sorts last).
fn quota_key(quotas: &[Quota]) -> Option<Key> {
    let q = quotas
        .iter()
        .find(|q| q.resource == "storage")
        .or_else(|| quotas.first())?;
    Some(Key::Number(q.limit.map_or(u128::MAX, u128::from)))
}

/// A subscription's sort key.
pub fn subscription_key(s: &Subscription, f: SortField) -> Option<Key> {
    match f {
        SortField::Id => Some(id(&s.id)),
        SortField::Name => s.plan_name.as_deref().map(text),
        SortField::Status => s.status.map(|st| text(st.as_str())),
        _ => None,
    }
}

/// Sorts items by a sort order; items without the field sort last either way, and ties are
/// broken by id, ascending.
pub fn sort_items<T>(items: Vec<T>, sort: Sort, key: fn(&T, SortField) -> Option<Key>) -> Vec<T> {
    let mut keyed: Vec<(Option<Key>, Option<Key>, T)> = items
        .into_iter()
        .map(|i| (key(&i, sort.field), key(&i, SortField::Id), i))
        .collect();
    keyed.sort_by(|(a, a_id, _), (b, b_id, _)| {
        let by_field = match (a, b) {
            (Some(x), Some(y)) if sort.descending => y.cmp(x),
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_field.then_with(|| a_id.cmp(b_id))
    });
    keyed.into_iter().map(|(_, _, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str, name: Option<&str>) -> Org {
        let mut o = Org::bare(id);
        o.name = name.map(str::to_owned);
        o
    }

    fn ids(orgs: &[Org]) -> Vec<&str> {
        orgs.iter().map(|o| o.native_id.as_str()).collect()
    }

    #[test]
    fn gateway_sorting() {
        let orgs = vec![
            org("10", Some("beta")),
            org("2", None),
            org("9", Some("Alpha")),
            org("x", Some("alpha")),
        ];
        let by = |s: &str, v: Vec<Org>| sort_items(v, Sort::parse(s).unwrap(), org_key);
        assert_eq!(
            ids(&by("id", orgs.clone())),
            ["2", "9", "10", "x"],
            "numbers as numbers, before text"
        );
        assert_eq!(ids(&by("-id", orgs.clone())), ["x", "10", "9", "2"]);
        assert_eq!(
            ids(&by("name", orgs.clone())),
            ["9", "x", "10", "2"],
            "case-insensitive first; no name last"
        );
        assert_eq!(
            ids(&by("-name", orgs.clone())),
            ["10", "x", "9", "2"],
            "no name last either way"
        );
    }

    fn plan(id: &str, quotas: &[(&str, Option<u64>)]) -> Plan {
        Plan {
            id: id.to_owned(),
            name: None,
            description: None,
            is_default: None,
            quotas: quotas
                .iter()
                .map(|(resource, limit)| Quota {
                    resource: (*resource).to_owned(),
                    limit: *limit,
                    unit: crate::Unit::Bytes,
                })
                .collect(),
            assignees: None,
            raw: None,
        }
    }

    #[test]
    fn plans_sort_by_quota() {
        let plans = vec![
            plan("1", &[("storage", Some(4 << 30))]),
            plan("2", &[]),
            plan("3", &[("websites", Some(10)), ("storage", None)]),
            plan("4", &[("websites", Some(5))]),
            plan("5", &[("storage", Some(10 << 30))]),
        ];
        let by = |s: &str| {
            sort_items(plans.clone(), Sort::parse(s).unwrap(), plan_key)
                .into_iter()
                .map(|p| p.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            by("quota"),
            ["4", "1", "5", "3", "2"],
            "storage first, else the first quota; unlimited largest; none last"
        );
        assert_eq!(by("-quota"), ["3", "5", "1", "4", "2"]);
    }

    #[test]
    fn ties_are_broken_by_id() {
        let same = [("storage", Some(1024))];
        let plans = vec![plan("30", &same), plan("4", &same), plan("200", &same)];
        for s in ["quota", "-quota"] {
            let order: Vec<String> = sort_items(plans.clone(), Sort::parse(s).unwrap(), plan_key)
                .into_iter()
                .map(|p| p.id)
                .collect();
            assert_eq!(order, ["4", "30", "200"], "{s}");
        }
        let orgs = vec![org("b", None), org("a", None), org("c", Some("x"))];
        assert_eq!(
            ids(&sort_items(orgs, Sort::parse("-name").unwrap(), org_key)),
            ["c", "a", "b"]
        );
    }
}
