//! The org list's `query` parameter: a JSON `advancedInstanceOrgQuery` that "overrides all other
//! filter params" (Mongo-like: `$and`/`$or`/`$nor`, and per field either a value or an object of
//! operators `$eq $ne $gt $lt $gte $lte $in $nin $startsWith $endsWith $contains`, with `$ci` for
//! case-insensitive string matching).
//!
//! The simulator implements the scalar fields of that schema: `id`, `name`, `creationDate`,
//! `lastUpdated`, `mfaMode`, `isReadOnly`, `auditLogEnabled`, `disabledAt`, `referralId`.
//! `tags` and `memberId` are valid vendor queries it does not simulate: they get a 400 that says
//! so, rather than a silently wrong answer. Any other key is a 400, as in the schema
//! (`additionalProperties: false`). Values of different types never compare (as in Mongo); dates
//! compare with numbers (ms since the epoch) and with date-time strings.

use std::cmp::Ordering;

use serde_json::Value;

use super::clock::parse_rfc3339;
use super::error::ApiError;
use super::params::fold;
use super::store::OrgRecord;

/// How deep `$and`/`$or`/`$nor` may nest.
const MAX_DEPTH: usize = 16;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    NoneOf(Vec<Filter>),
    Field {
        field: Field,
        conds: Vec<(Op, Value)>,
        ci: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Id,
    Name,
    CreationDate,
    LastUpdated,
    MfaMode,
    IsReadOnly,
    AuditLogEnabled,
    DisabledAt,
    ReferralId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Gte,
    Lte,
    In,
    Nin,
    StartsWith,
    EndsWith,
    Contains,
}

/// A field's value on one org.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Null,
    Bool(bool),
    Str(String),
    Date(i64),
}

/// Parses the `query` parameter.
pub(crate) fn parse(text: &str) -> Result<Filter, ApiError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|_| ApiError::validation("query must be a JSON object"))?;
    parse_object(&value, "query", 0)
}

fn parse_object(value: &Value, path: &str, depth: usize) -> Result<Filter, ApiError> {
    if depth > MAX_DEPTH {
        return Err(ApiError::validation(format!("{path} is nested too deeply")));
    }
    let Some(map) = value.as_object() else {
        return Err(ApiError::validation(format!("{path} must be an object")));
    };
    let mut all = Vec::with_capacity(map.len());
    for (key, v) in map {
        let here = format!("{path}.{key}");
        let filter = match key.as_str() {
            "$and" | "$or" | "$nor" => {
                let Some(items) = v.as_array().filter(|a| a.len() <= 100) else {
                    return Err(ApiError::validation(format!(
                        "{here} must be an array of at most 100 queries"
                    )));
                };
                let parts = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| parse_object(item, &format!("{here}[{i}]"), depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                match key.as_str() {
                    "$and" => Filter::All(parts),
                    "$or" => Filter::Any(parts),
                    _ => Filter::NoneOf(parts),
                }
            }
            "tags" | "memberId" => {
                return Err(ApiError::validation(format!(
                    "{here} queries are not supported by this simulator"
                )));
            }
            name => {
                let field = field_named(name)
                    .ok_or_else(|| ApiError::validation(format!("{here} is not allowed")))?;
                parse_field(field, v, &here)?
            }
        };
        all.push(filter);
    }
    Ok(Filter::All(all))
}

fn field_named(name: &str) -> Option<Field> {
    Some(match name {
        "id" => Field::Id,
        "name" => Field::Name,
        "creationDate" => Field::CreationDate,
        "lastUpdated" => Field::LastUpdated,
        "mfaMode" => Field::MfaMode,
        "isReadOnly" => Field::IsReadOnly,
        "auditLogEnabled" => Field::AuditLogEnabled,
        "disabledAt" => Field::DisabledAt,
        "referralId" => Field::ReferralId,
        _ => return None,
    })
}

fn is_scalar(v: &Value) -> bool {
    !(v.is_object() || v.is_array())
}

fn parse_field(field: Field, value: &Value, path: &str) -> Result<Filter, ApiError> {
    let Some(ops) = value.as_object() else {
        if !is_scalar(value) {
            return Err(ApiError::validation(format!(
                "{path} must be a value or an object of operators"
            )));
        }
        return Ok(Filter::Field {
            field,
            conds: vec![(Op::Eq, value.clone())],
            ci: false,
        });
    };
    let mut conds = Vec::with_capacity(ops.len());
    let mut ci = false;
    for (op, v) in ops {
        let here = format!("{path}.{op}");
        let op = match op.as_str() {
            "$ci" => {
                ci = v
                    .as_bool()
                    .ok_or_else(|| ApiError::validation(format!("{here} must be a boolean")))?;
                continue;
            }
            "$eq" => Op::Eq,
            "$ne" => Op::Ne,
            "$gt" => Op::Gt,
            "$lt" => Op::Lt,
            "$gte" => Op::Gte,
            "$lte" => Op::Lte,
            "$in" => Op::In,
            "$nin" => Op::Nin,
            "$startsWith" => Op::StartsWith,
            "$endsWith" => Op::EndsWith,
            "$contains" => Op::Contains,
            _ => return Err(ApiError::validation(format!("{here} is not allowed"))),
        };
        let ok = match op {
            Op::In | Op::Nin => v
                .as_array()
                .is_some_and(|a| a.len() <= 100 && a.iter().all(|x| is_scalar(x) && !x.is_null())),
            Op::StartsWith | Op::EndsWith | Op::Contains => {
                v.as_str().is_some_and(|s| !s.is_empty())
            }
            _ => is_scalar(v),
        };
        if !ok {
            return Err(ApiError::validation(format!(
                "{here} has a value of the wrong type"
            )));
        }
        conds.push((op, v.clone()));
    }
    Ok(Filter::Field { field, conds, ci })
}

impl Filter {
    /// Whether `org` satisfies the query.
    pub(crate) fn matches(&self, org: &OrgRecord) -> bool {
        match self {
            Filter::All(parts) => parts.iter().all(|f| f.matches(org)),
            Filter::Any(parts) => parts.iter().any(|f| f.matches(org)),
            Filter::NoneOf(parts) => !parts.iter().any(|f| f.matches(org)),
            Filter::Field { field, conds, ci } => {
                let actual = value_of(*field, org);
                // Ids are hex: their case never matters.
                let ci = *ci || *field == Field::Id;
                conds.iter().all(|(op, v)| test(&actual, *op, v, ci))
            }
        }
    }
}

fn value_of(field: Field, org: &OrgRecord) -> Scalar {
    let stored = |key: &str| org.fields.get(key);
    let string = |key: &str| match stored(key) {
        Some(Value::String(s)) => Scalar::Str(s.clone()),
        _ => Scalar::Null,
    };
    let boolean = |key: &str| match stored(key) {
        Some(Value::Bool(b)) => Scalar::Bool(*b),
        _ => Scalar::Null,
    };
    match field {
        Field::Id => Scalar::Str(org.id.clone()),
        Field::Name => string("name"),
        Field::CreationDate => Scalar::Date(org.created_ms),
        Field::LastUpdated => Scalar::Date(org.updated_ms),
        Field::MfaMode => string("mfaMode"),
        Field::IsReadOnly => boolean("isReadOnly"),
        Field::AuditLogEnabled => boolean("auditLogEnabled"),
        Field::DisabledAt => match stored("disabledAt") {
            Some(Value::String(s)) => parse_rfc3339(s).map_or(Scalar::Null, Scalar::Date),
            Some(Value::Bool(b)) => Scalar::Bool(*b),
            _ => Scalar::Null,
        },
        Field::ReferralId => string("referralId"),
    }
}

fn compare(actual: &Scalar, wanted: &Value, ci: bool) -> Option<Ordering> {
    match (actual, wanted) {
        (Scalar::Null, Value::Null) => Some(Ordering::Equal),
        (Scalar::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Scalar::Str(a), Value::String(b)) if ci => Some(fold(a).cmp(&fold(b))),
        (Scalar::Str(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
        (Scalar::Date(a), Value::Number(n)) => n.as_f64().and_then(|b| (*a as f64).partial_cmp(&b)),
        (Scalar::Date(a), Value::String(s)) => parse_rfc3339(s).map(|b| a.cmp(&b)),
        _ => None,
    }
}

fn test(actual: &Scalar, op: Op, wanted: &Value, ci: bool) -> bool {
    let eq = |w: &Value| compare(actual, w, ci) == Some(Ordering::Equal);
    let text = |f: fn(&str, &str) -> bool| match (actual, wanted.as_str()) {
        (Scalar::Str(a), Some(w)) if ci => f(&fold(a), &fold(w)),
        (Scalar::Str(a), Some(w)) => f(a, w),
        _ => false,
    };
    let order = compare(actual, wanted, ci);
    match op {
        Op::Eq => eq(wanted),
        Op::Ne => !eq(wanted),
        Op::Gt => order == Some(Ordering::Greater),
        Op::Lt => order == Some(Ordering::Less),
        Op::Gte => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
        Op::Lte => matches!(order, Some(Ordering::Less | Ordering::Equal)),
        Op::In => wanted.as_array().is_some_and(|a| a.iter().any(eq)),
        Op::Nin => !wanted.as_array().is_some_and(|a| a.iter().any(eq)),
        Op::StartsWith => text(|a, w| a.starts_with(w)),
        Op::EndsWith => text(|a, w| a.ends_with(w)),
        Op::Contains => text(|a, w| a.contains(w)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn query(v: Value) -> Result<Filter, ApiError> {
        parse(&v.to_string())
    }

    #[test]
    fn rejects_what_the_schema_rejects() {
        assert!(query(json!({"size": 3})).is_err());
        assert!(query(json!({"name": {"$like": "x"}})).is_err());
        assert!(query(json!({"name": {"$startsWith": ""}})).is_err());
        assert!(query(json!([1])).is_err());
        assert!(parse("{").is_err());
        let unsupported = query(json!({"tags": {"$tagKey": "a"}}));
        assert!(unsupported.is_err_and(|e| e.message.contains("not supported")));
    }

    #[test]
    fn parses_nested_queries() {
        let q = query(json!({"$or": [{"name": "A"}, {"name": {"$startsWith": "b", "$ci": true}}]}));
        assert!(matches!(q, Ok(Filter::All(ref v)) if v.len() == 1));
    }
}
