//! The gateway-side sort and page engine of docs/API.md §5. A list whose backend sorts by the
//! field asked for is one backend call; any other sort the backend's capabilities allow is done
//! here, over the whole list (up to [`MAX_GATEWAY_SORT`] items), and paged by offset. Ties are
//! broken by id, so the order is total: the pages cut from it neither repeat nor skip an item,
//! whatever order the backend lists equal items in from one fetch to the next. The keys and the
//! sort are core's (`orgway_core::sort`), which an adapter sorting a whole list uses too.

use orgway_core::sort::{Key, sort_items};
use orgway_core::{Cursor, ListQuery, OpKind, Page, SortField};

use crate::error::ApiError;
use crate::routing::BackendEntry;

/// The most items the gateway fetches to sort a list the backend cannot sort itself.
pub const MAX_GATEWAY_SORT: usize = 10_000;

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
