//! `GET Organization`'s query parameters (the "MongoDB cache" parameters cvpysdk's
//! `get_organizations_cache` builds, dialects.md §2.5), all implemented:
//!
//! - `start` (0-based offset, default 0) and `limit` (page size; absent or `0` means no limit,
//!   as in the MongoDB query the cache layer runs): non-negative integers, else an error;
//! - `fl` / `Fl` (the SDK sends both spellings): comma-separated columns such as
//!   `providers.connectName,providers.shortName`; each entry of `providers` keeps exactly the
//!   listed paths (a path through an array, like `providers.primaryContacts.fullName`, keeps that
//!   member of every element). Columns match without regard to case (cvpysdk writes
//!   `providers.shortname.id`) and come back spelled as the simulator spells them; columns that
//!   name nothing are ignored;
//! - `sort=<column>:1|-1`: ascending or descending by one column (numbers as numbers, text
//!   without regard to case); without it, entries come in id order;
//! - `fq=<column>:<op>:<value>`, repeatable, all must hold: ops `contains`, `notContain`, `eq`,
//!   `neq`, `gt`, `lt`, `gteq`, `lteq`, `in` and `nin` (comma-separated values, `null` standing
//!   for a missing or empty column) — the set cvpysdk's `_get_fq_parameters` emits. Text
//!   compares without regard to case; values that both read as numbers compare as numbers;
//! - `search=<col>[,<col>…]:contains:<text>`: an entry matches when any listed column does
//!   (`search=<text>` alone looks in the name and the alias);
//! - `filterQueryCount` in the answer is the number of entries that pass `fq` and `search`,
//!   before paging. It is always present (cvpysdk defaults it to 0 when missing).
//!
//! `hardRefresh`, `includeDeletedCompanies` and any other parameter are accepted and ignored
//! (the simulator keeps no cache and no deleted companies). A malformed parameter is answered
//! with the flat error body, HTTP 200, code 1.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::wire::AppError;

/// A column path below `providers`, e.g. `["primaryContacts", "fullName"]`.
type Path = Vec<String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Contains,
    NotContain,
    Eq,
    Neq,
    Gt,
    Lt,
    Gteq,
    Lteq,
    In,
    Nin,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s.to_ascii_lowercase().as_str() {
            "contains" => Op::Contains,
            "notcontain" | "notcontains" => Op::NotContain,
            "eq" => Op::Eq,
            "neq" => Op::Neq,
            "gt" => Op::Gt,
            "lt" => Op::Lt,
            "gteq" => Op::Gteq,
            "lteq" => Op::Lteq,
            "in" => Op::In,
            "nin" => Op::Nin,
            _ => return None,
        })
    }
}

/// One condition on one or more columns (several only for `search`, where any may match).
#[derive(Debug, Clone)]
struct Condition {
    paths: Vec<Path>,
    op: Op,
    value: String,
}

/// The parsed list parameters.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListParams {
    start: usize,
    limit: Option<usize>,
    fields: Option<Vec<Path>>,
    sort: Option<(Path, bool)>,
    conditions: Vec<Condition>,
}

fn path(column: &str) -> Path {
    let column = column.trim();
    let rest = match column.get(..10) {
        Some(prefix) if prefix.eq_ignore_ascii_case("providers.") => &column[10..],
        _ => column,
    };
    rest.split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn count(name: &str, value: &str) -> Result<usize, AppError> {
    value
        .trim()
        .parse::<usize>()
        .map_err(|_| AppError::invalid(format!("Invalid value [{value}] for {name}")))
}

impl ListParams {
    pub(crate) fn from_query(query: Option<&str>) -> Result<ListParams, AppError> {
        let mut p = ListParams::default();
        let Some(query) = query else {
            return Ok(p);
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.to_ascii_lowercase().as_str() {
                "start" => p.start = count("start", &value)?,
                "limit" => p.limit = Some(count("limit", &value)?).filter(|l| *l > 0),
                "fl" => {
                    let fields = p.fields.get_or_insert_with(Vec::new);
                    fields.extend(value.split(',').map(path).filter(|p| !p.is_empty()));
                }
                "sort" => {
                    let (column, direction) = value.rsplit_once(':').unwrap_or((&value, "1"));
                    let ascending = match direction.trim() {
                        "1" => true,
                        "-1" => false,
                        _ => {
                            return Err(AppError::invalid(format!(
                                "Invalid sort direction [{direction}]"
                            )));
                        }
                    };
                    p.sort = Some((path(column), ascending));
                }
                "fq" => p.conditions.push(condition(&value, "fq")?),
                "search" => {
                    if value.contains(':') {
                        p.conditions.push(condition(&value, "search")?);
                    } else if !value.is_empty() {
                        p.conditions.push(Condition {
                            paths: vec![path("connectName"), path("shortName.domainName")],
                            op: Op::Contains,
                            value: value.into_owned(),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(p)
    }

    /// Filters, sorts, pages and projects `providers` (in id order), returning the answer
    /// body.
    pub(crate) fn apply(&self, providers: Vec<Value>) -> Value {
        let mut matched: Vec<Value> = providers
            .into_iter()
            .filter(|p| self.conditions.iter().all(|c| c.holds(p)))
            .collect();
        let total = matched.len();
        if let Some((column, ascending)) = &self.sort {
            matched.sort_by(|a, b| {
                let order = compare_keys(first(a, column), first(b, column));
                if *ascending { order } else { order.reverse() }
            });
        }
        let page: Vec<Value> = matched
            .into_iter()
            .skip(self.start)
            .take(self.limit.unwrap_or(usize::MAX))
            .map(|p| match &self.fields {
                Some(fields) => project(&p, fields),
                None => p,
            })
            .collect();
        serde_json::json!({ "providers": page, "filterQueryCount": total })
    }
}

fn condition(text: &str, name: &str) -> Result<Condition, AppError> {
    let mut parts = text.splitn(3, ':');
    let (Some(columns), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(AppError::invalid(format!(
            "Invalid {name} [{text}]: expected <column>:<operator>:<value>"
        )));
    };
    let op = Op::parse(op)
        .ok_or_else(|| AppError::invalid(format!("Invalid {name} operator [{op}]")))?;
    Ok(Condition {
        paths: columns.split(',').map(path).collect(),
        op,
        value: value.to_owned(),
    })
}

/// Looks a key up without regard to case.
fn member<'a>(map: &'a Map<String, Value>, key: &str) -> Option<(&'a String, &'a Value)> {
    map.get_key_value(key)
        .or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
}

/// Every scalar at `path` (paths through arrays reach every element).
fn values<'a>(value: &'a Value, path: &[String], out: &mut Vec<&'a Value>) {
    match (value, path.split_first()) {
        (Value::Array(items), _) => items.iter().for_each(|i| values(i, path, out)),
        (Value::Object(map), Some((head, rest))) => {
            if let Some((_, v)) = member(map, head) {
                values(v, rest, out);
            }
        }
        (Value::Object(_), None) | (Value::Null, _) => {}
        (scalar, None) => out.push(scalar),
        (_, Some(_)) => {}
    }
}

fn first<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut found = Vec::new();
    values(value, path, &mut found);
    found.into_iter().next()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string(),
    }
}

fn number(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok()
}

fn compare_text(a: &str, b: &str) -> Ordering {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

fn compare_keys(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => compare_text(&text(x), &text(y)),
    }
}

impl Condition {
    fn holds(&self, provider: &Value) -> bool {
        let mut found = Vec::new();
        for p in &self.paths {
            values(provider, p, &mut found);
        }
        let texts: Vec<String> = found.into_iter().map(text).collect();
        let wanted = self.value.to_lowercase();
        let list: Vec<String> = wanted.split(',').map(|s| s.trim().to_owned()).collect();
        let equal = |t: &String, w: &str| compare_text(t, w) == Ordering::Equal;
        let in_list = |texts: &[String]| {
            list.iter().any(|w| {
                (w == "null" && texts.iter().all(String::is_empty))
                    || texts.iter().any(|t| equal(t, w))
            })
        };
        match self.op {
            Op::Contains => texts.iter().any(|t| t.contains(&wanted)),
            Op::NotContain => !texts.iter().any(|t| t.contains(&wanted)),
            Op::Eq => texts.iter().any(|t| equal(t, &wanted)),
            Op::Neq => !texts.iter().any(|t| equal(t, &wanted)),
            Op::Gt => texts
                .iter()
                .any(|t| compare_text(t, &wanted) == Ordering::Greater),
            Op::Lt => texts
                .iter()
                .any(|t| compare_text(t, &wanted) == Ordering::Less),
            Op::Gteq => texts
                .iter()
                .any(|t| compare_text(t, &wanted) != Ordering::Less),
            Op::Lteq => texts
                .iter()
                .any(|t| compare_text(t, &wanted) != Ordering::Greater),
            Op::In => in_list(&texts),
            Op::Nin => !in_list(&texts),
        }
    }
}

/// The entry with only the listed columns.
fn project(provider: &Value, fields: &[Path]) -> Value {
    let mut out = Value::Object(Map::new());
    for field in fields {
        copy_path(provider, field, &mut out);
    }
    out
}

/// Copies what is at `path` in `src` into `dst`, keeping the structure around it.
fn copy_path(src: &Value, path: &[String], dst: &mut Value) {
    let Some((head, rest)) = path.split_first() else {
        return;
    };
    let (Value::Object(src_map), Value::Object(dst_map)) = (src, &mut *dst) else {
        return;
    };
    let Some((key, value)) = member(src_map, head) else {
        return;
    };
    if rest.is_empty() {
        dst_map.insert(key.clone(), value.clone());
        return;
    }
    match value {
        Value::Object(_) => {
            let slot = dst_map
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                return;
            }
            copy_path(value, rest, slot);
        }
        Value::Array(items) => {
            let slot = dst_map.entry(key.clone()).or_insert_with(|| {
                Value::Array(items.iter().map(|_| Value::Object(Map::new())).collect())
            });
            if let Value::Array(slots) = slot {
                for (item, slot) in items.iter().zip(slots.iter_mut()) {
                    copy_path(item, rest, slot);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn providers() -> Vec<Value> {
        vec![
            json!({"connectName": "Acme", "shortName": {"id": 7, "domainName": "acme"},
                   "primaryContacts": [{"fullName": "Jo Admin", "user": {"userName": "acme\\jo"}}],
                   "associatedEntitiesCount": 100}),
            json!({"connectName": "Globex", "shortName": {"id": 12, "domainName": "globex"},
                   "primaryContacts": [], "associatedEntitiesCount": 9}),
            json!({"connectName": "Initech", "shortName": {"id": 23, "domainName": "initech"},
                   "primaryContacts": [{"fullName": "Bill"}], "associatedEntitiesCount": 20,
                   "ownerCompanyName": "Umbrella"}),
        ]
    }

    fn names(answer: &Value) -> Vec<&str> {
        answer["providers"]
            .as_array()
            .expect("providers")
            .iter()
            .map(|p| p["connectName"].as_str().unwrap_or("?"))
            .collect()
    }

    fn run(query: &str) -> Value {
        ListParams::from_query(Some(query))
            .expect("params")
            .apply(providers())
    }

    #[test]
    fn pages_and_counts() {
        let a = run("start=1&limit=1");
        assert_eq!(names(&a), ["Globex"]);
        assert_eq!(a["filterQueryCount"], 3);
        assert_eq!(names(&run("start=5")), Vec::<&str>::new());
        assert!(ListParams::from_query(Some("limit=-1")).is_err());
    }

    #[test]
    fn sorts_numbers_as_numbers() {
        assert_eq!(
            names(&run("sort=providers.associatedEntitiesCount:1")),
            ["Globex", "Initech", "Acme"]
        );
        assert_eq!(
            names(&run("sort=providers.connectName:-1")),
            ["Initech", "Globex", "Acme"]
        );
        assert!(ListParams::from_query(Some("sort=x:2")).is_err());
    }

    #[test]
    fn filters_and_searches() {
        assert_eq!(
            names(&run("fq=providers.connectName:contains:ob")),
            ["Globex"]
        );
        assert_eq!(
            names(&run(
                "fq=providers.shortname.id:gteq:12&fq=providers.shortName.id:lt:23"
            )),
            ["Globex"]
        );
        assert_eq!(
            names(&run("fq=providers.ownerCompanyName:in:null,")),
            ["Acme", "Globex"]
        );
        assert_eq!(
            names(&run("fq=providers.connectName:nin:acme,globex")),
            ["Initech"]
        );
        let s =
            run("search=providers.connectName,providers.primaryContacts.fullName:contains:bill");
        assert_eq!(names(&s), ["Initech"]);
        assert_eq!(s["filterQueryCount"], 1);
        assert!(ListParams::from_query(Some("fq=a:like:b")).is_err());
    }

    #[test]
    fn projects_columns_without_regard_to_case() {
        let a = run(
            "Fl=providers.connectName,providers.shortname.id,providers.primaryContacts.fullName",
        );
        assert_eq!(
            a["providers"][0],
            json!({"connectName": "Acme", "shortName": {"id": 7},
                   "primaryContacts": [{"fullName": "Jo Admin"}]})
        );
    }
}
