//! The gateway-side sort and page engine of docs/API.md §5. A list whose backend sorts by the
//! field asked for is one backend call; any other sort the backend's capabilities allow is done
//! here, over the whole list (up to [`MAX_GATEWAY_SORT`] items), and paged by offset.

use std::cmp::Ordering;

use orgway_core::{
    Cursor, ListQuery, OpKind, Org, Page, Plan, Sort, SortField, Subscription, Timestamp,
};

use crate::error::ApiError;
use crate::routing::BackendEntry;

/// The most items the gateway fetches to sort a list the backend cannot sort itself.
pub const MAX_GATEWAY_SORT: usize = 10_000;

/// A value's sort key for the gateway's own sorting. Text compares case-insensitively first,
/// the way people read names, and exactly second, so the order is total and stable.
/// Numeric ids compare as numbers ("2" before "10").
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
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
pub(crate) fn org_key(o: &Org, f: SortField) -> Option<Key> {
    match f {
        SortField::Id => Some(id(&o.native_id)),
        SortField::Name => o.name.as_deref().map(text),
        SortField::CreatedAt => o.created_at.map(Key::Time),
        SortField::UpdatedAt => o.updated_at.map(Key::Time),
        SortField::Status => o.status.map(|s| text(s.as_str())),
    }
}

/// A plan's sort key.
pub(crate) fn plan_key(p: &Plan, f: SortField) -> Option<Key> {
    match f {
        SortField::Id => Some(id(&p.id)),
        SortField::Name => p.name.as_deref().map(text),
        _ => None,
    }
}

/// A subscription's sort key.
pub(crate) fn subscription_key(s: &Subscription, f: SortField) -> Option<Key> {
    match f {
        SortField::Id => Some(id(&s.id)),
        SortField::Name => s.plan_name.as_deref().map(text),
        SortField::Status => s.status.map(|st| text(st.as_str())),
        _ => None,
    }
}

/// Sorts items by a sort order; items without the field sort last either way.
fn sort_items<T>(items: Vec<T>, sort: Sort, key: fn(&T, SortField) -> Option<Key>) -> Vec<T> {
    let mut keyed: Vec<(Option<Key>, T)> = items
        .into_iter()
        .map(|i| (key(&i, sort.field), i))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| match (a, b) {
        (Some(x), Some(y)) if sort.descending => y.cmp(x),
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Lists one page of the list `op` of a backend, honouring the sort asked for: natively when
/// the backend sorts by that field, otherwise by fetching the whole list (up to
/// [`MAX_GATEWAY_SORT`] items) and sorting it here. A sort is never silently ignored.
///
/// `fetch` asks the backend for one page (through its policy stack); `key` reads an item's
/// sort key.
pub(crate) async fn list<T, F, Fut>(
    entry: &BackendEntry,
    query: ListQuery,
    op: OpKind,
    fetch: F,
    key: fn(&T, SortField) -> Option<Key>,
) -> Result<Page<T>, ApiError>
where
    F: Fn(ListQuery) -> Fut,
    Fut: Future<Output = Result<Page<T>, ApiError>>,
{
    let support = entry.adapter.capabilities().list(op);
    let sort = match query.sort {
        Some(s) if !support.can_sort(s.field) => {
            let sortable: Vec<&str> = support.sortable().iter().map(|f| f.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "backend `{}` ({}) cannot sort this list by {}; it sorts by {}",
                entry.name,
                entry.kind.name(),
                s.field.as_str(),
                if sortable.is_empty() {
                    "nothing".to_owned()
                } else {
                    sortable.join(", ")
                }
            ))
            .with_backend(&entry.name));
        }
        Some(s) if !support.native_sorts.contains(&s.field) => s,
        _ => return fetch(query).await,
    };
    let mut all: Vec<T> = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page_query = ListQuery {
            limit: ListQuery::MAX_LIMIT,
            cursor: cursor.take(),
            sort: None,
        };
        let page = fetch(page_query).await?;
        let got = page.items.len();
        all.extend(page.items);
        if all.len() > MAX_GATEWAY_SORT {
            return Err(ApiError::bad_request(format!(
                "sorting by {} needs the whole list, which has more than {MAX_GATEWAY_SORT} items; ask without `sort`",
                sort.field.as_str()
            ))
            .with_backend(&entry.name));
        }
        match page.next {
            Some(next) if got > 0 => cursor = Some(next),
            _ => break,
        }
    }
    let all = sort_items(all, sort, key);
    Ok(Page::window(all, &query))
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
}
