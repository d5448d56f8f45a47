//! SQL for searches. Every value is a bound parameter; the SQL text is assembled only from fixed
//! fragments chosen by the plan's closed enums, and table aliases numbered by nesting depth.

use crate::{
    Clause, CompositeMatch, IndexKind, PageKey, ParamAliases, Predicate, Prefix, QuantityUnit,
    SearchQuery, SortKey, SortKind, SortValue, StringMatch, TokenSystem, UriMatch,
};
use rusqlite::types::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The largest string that sorts after every string with a given prefix, appended to the prefix.
const PREFIX_END: char = '\u{10FFFF}';

/// A SQL fragment with its bound values, built in order, and the parameter aliases its
/// lookups expand.
#[derive(Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) params: Vec<Value>,
    aliases: Arc<ParamAliases>,
}

impl Sql {
    pub(crate) fn new(aliases: &Arc<ParamAliases>) -> Sql {
        Sql {
            aliases: Arc::clone(aliases),
            ..Sql::default()
        }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.text.push('?');
        self.params.push(value.into());
        self
    }

    fn bind_list(&mut self, values: &[String]) -> &mut Self {
        for (n, value) in values.iter().enumerate() {
            if n > 0 {
                self.text.push_str(", ");
            }
            self.bind(value.clone());
        }
        self
    }
}

fn table(kind: IndexKind) -> &'static str {
    match kind {
        IndexKind::String => "idx_string",
        IndexKind::Token => "idx_token",
        IndexKind::Date => "idx_date",
        IndexKind::Number => "idx_number",
        IndexKind::Quantity => "idx_quantity",
        IndexKind::Reference => "idx_reference",
        IndexKind::Uri => "idx_uri",
        IndexKind::Composite => "idx_composite",
    }
}

/// How an index-table predicate is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `r.res_key IN (SELECT x.res_key FROM t x WHERE …)`: the list is built once; right for
    /// the most selective clause, which then drives the query.
    In,
    /// `EXISTS (SELECT 1 FROM t x WHERE x.res_key = r.res_key AND …)`: a probe per candidate
    /// resource; right for every other clause, so their full match lists are never built.
    Exists,
    /// `(SELECT 1 FROM t x WHERE …)`: the matching rows, for estimating selectivity.
    Estimate,
}

/// Opens an index-table predicate in `form`. The caller appends its conditions on `x` and
/// closes with `)`.
fn open_index(
    sql: &mut Sql,
    depth: usize,
    kind: IndexKind,
    types: &[String],
    param: &str,
    form: Form,
) {
    match form {
        Form::In => {
            sql.push(&format!(
                "r{depth}.res_key IN (SELECT x.res_key FROM {} x WHERE ",
                table(kind)
            ));
        }
        Form::Exists => {
            sql.push(&format!(
                "EXISTS (SELECT 1 FROM {} x WHERE x.res_key = r{depth}.res_key AND ",
                table(kind)
            ));
        }
        Form::Estimate => {
            sql.push(&format!("(SELECT 1 FROM {} x WHERE ", table(kind)));
        }
    }
    let target = (kind == IndexKind::Reference).then_some("x.target_type");
    // A probe must go through the primary key (`res_key` first): `+` keeps SQLite from
    // choosing a value index by `pid`, which would walk every row of the parameter.
    let column = if form == Form::Exists {
        "+x.pid"
    } else {
        "x.pid"
    };
    push_param_ids(sql, column, target, types, param);
}

/// Appends "`column` is the id of parameter `code` of one of `types`" (of any type when
/// `types` is empty). Where `code` is an alias, its members' ids are used instead, and for
/// members restricted to one target type, `target_column` must name that type. The
/// subqueries do not depend on the outer row, so SQLite runs each once.
fn push_param_ids(
    sql: &mut Sql,
    column: &str,
    target_column: Option<&str>,
    types: &[String],
    code: &str,
) {
    let aliases = Arc::clone(&sql.aliases);
    // `patient:identifier` rows are those of the member (`subject:identifier`); identifier
    // rows carry no target type, so a restriction cannot apply to them.
    let (base, suffix) = match code.strip_suffix(":identifier") {
        Some(base) => (base, ":identifier"),
        None => (code, ""),
    };
    let aliased: Vec<&str> = if types.is_empty() {
        let mut all: Vec<&str> = aliases.types_aliasing(base).collect();
        all.sort_unstable();
        all
    } else {
        types
            .iter()
            .map(String::as_str)
            .filter(|t| aliases.members(t, base).is_some())
            .collect()
    };
    if aliased.is_empty() {
        push_plain_param_ids(sql, column, types, code);
        return;
    }
    // Members grouped by their target restriction: each group is one lookup.
    let mut groups: BTreeMap<Option<String>, Vec<(String, String)>> = BTreeMap::new();
    for resource_type in &aliased {
        for member in aliases.members(resource_type, base).unwrap_or_default() {
            let target = member
                .target_type
                .clone()
                .filter(|_| target_column.is_some() && suffix.is_empty());
            groups.entry(target).or_default().push((
                (*resource_type).to_owned(),
                format!("{}{suffix}", member.code),
            ));
        }
    }
    let plain: Vec<String> = types
        .iter()
        .filter(|t| !aliased.contains(&t.as_str()))
        .cloned()
        .collect();
    let mut parts = 0;
    sql.push("(");
    if types.is_empty() {
        // Every other type's own `code`.
        sql.push(&format!(
            "{column} IN (SELECT pid FROM params WHERE code = "
        ))
        .bind(code.to_owned())
        .push(" AND res_type NOT IN (");
        for (n, resource_type) in aliased.iter().enumerate() {
            if n > 0 {
                sql.push(", ");
            }
            sql.bind((*resource_type).to_owned());
        }
        sql.push("))");
        parts += 1;
    } else if !plain.is_empty() {
        push_plain_param_ids(sql, column, &plain, code);
        parts += 1;
    }
    for (target, pairs) in groups {
        if parts > 0 {
            sql.push(" OR ");
        }
        parts += 1;
        sql.push("(");
        if let [(resource_type, member)] = pairs.as_slice() {
            sql.push(&format!(
                "{column} = (SELECT pid FROM params WHERE res_type = "
            ))
            .bind(resource_type.clone())
            .push(" AND code = ")
            .bind(member.clone())
            .push(")");
        } else {
            sql.push(&format!(
                "{column} IN (SELECT pid FROM params WHERE (res_type, code) IN (VALUES "
            ));
            for (n, (resource_type, member)) in pairs.into_iter().enumerate() {
                if n > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind(resource_type)
                    .push(", ")
                    .bind(member)
                    .push(")");
            }
            sql.push("))");
        }
        if let (Some(target), Some(target_column)) = (target, target_column) {
            sql.push(&format!(" AND {target_column} = ")).bind(target);
        }
        sql.push(")");
    }
    sql.push(")");
}

/// [`push_param_ids`] without aliases.
fn push_plain_param_ids(sql: &mut Sql, column: &str, types: &[String], code: &str) {
    match types {
        [only] => {
            sql.push(&format!(
                "{column} = (SELECT pid FROM params WHERE res_type = "
            ))
            .bind(only.clone())
            .push(" AND code = ")
            .bind(code.to_owned())
            .push(")");
        }
        many => {
            sql.push(&format!(
                "{column} IN (SELECT pid FROM params WHERE code = "
            ))
            .bind(code.to_owned());
            if !many.is_empty() {
                sql.push(" AND res_type IN (").bind_list(many).push(")");
            }
            sql.push(")");
        }
    }
}

/// Appends the comparison of a range column pair `[low, high)` against the search range.
fn push_range_prefix(
    sql: &mut Sql,
    low_col: &str,
    high_col: &str,
    prefix: Prefix,
    low: Value,
    high: Value,
) {
    let l = low_col;
    let h = high_col;
    let contained = |sql: &mut Sql, low: &Value, high: &Value| {
        sql.push(&format!("({l} >= "))
            .bind(low.clone())
            .push(&format!(" AND {h} <= "))
            .bind(high.clone())
            .push(")");
    };
    match prefix {
        Prefix::Eq => contained(sql, &low, &high),
        Prefix::Ne => {
            sql.push("NOT ");
            contained(sql, &low, &high);
        }
        Prefix::Gt => {
            sql.push(&format!("{h} > ")).bind(high);
        }
        Prefix::Lt => {
            sql.push(&format!("{l} < ")).bind(low);
        }
        Prefix::Ge => {
            sql.push(&format!("({h} > "))
                .bind(high.clone())
                .push(" OR ");
            contained(sql, &low, &high);
            sql.push(")");
        }
        Prefix::Le => {
            sql.push(&format!("({l} < ")).bind(low.clone()).push(" OR ");
            contained(sql, &low, &high);
            sql.push(")");
        }
        Prefix::Sa => {
            sql.push(&format!("{l} >= ")).bind(high);
        }
        Prefix::Eb => {
            sql.push(&format!("{h} <= ")).bind(low);
        }
        Prefix::Ap => {
            sql.push(&format!("({l} < "))
                .bind(high)
                .push(&format!(" AND {h} > "))
                .bind(low)
                .push(")");
        }
    }
}

/// Appends the comparison of a point column against a search value and its precision range.
fn push_point_prefix(sql: &mut Sql, column: &str, prefix: Prefix, value: f64, low: f64, high: f64) {
    let c = column;
    match prefix {
        Prefix::Eq | Prefix::Ap => {
            sql.push(&format!("({c} >= "))
                .bind(low)
                .push(&format!(" AND {c} < "))
                .bind(high)
                .push(")");
        }
        Prefix::Ne => {
            sql.push(&format!("NOT ({c} >= "))
                .bind(low)
                .push(&format!(" AND {c} < "))
                .bind(high)
                .push(")");
        }
        Prefix::Gt | Prefix::Sa => {
            sql.push(&format!("{c} > ")).bind(value);
        }
        Prefix::Lt | Prefix::Eb => {
            sql.push(&format!("{c} < ")).bind(value);
        }
        Prefix::Ge => {
            sql.push(&format!("{c} >= ")).bind(value);
        }
        Prefix::Le => {
            sql.push(&format!("{c} <= ")).bind(value);
        }
    }
}

fn push_token_match(
    sql: &mut Sql,
    system_col: &str,
    code_col: &str,
    system: &TokenSystem,
    code: Option<&String>,
) {
    sql.push("1");
    if let Some(code) = code {
        sql.push(&format!(" AND {code_col} = ")).bind(code.clone());
    }
    match system {
        TokenSystem::Any => {}
        TokenSystem::None => {
            sql.push(&format!(" AND {system_col} IS NULL"));
        }
        TokenSystem::Is(system) => {
            sql.push(&format!(" AND {system_col} = "))
                .bind(system.clone());
        }
    }
}

fn push_quantity_match(
    sql: &mut Sql,
    prefix: Prefix,
    value: f64,
    low: f64,
    high: f64,
    unit: &QuantityUnit,
    columns: [&str; 5],
) {
    let [
        value_col,
        system_col,
        code_col,
        canonical_value_col,
        canonical_code_col,
    ] = columns;
    match unit {
        QuantityUnit::Any => push_point_prefix(sql, value_col, prefix, value, low, high),
        QuantityUnit::Canonical(code) => {
            sql.push(&format!("{canonical_code_col} = "))
                .bind(code.clone())
                .push(" AND ");
            push_point_prefix(sql, canonical_value_col, prefix, value, low, high);
        }
        QuantityUnit::Written { system, code } => {
            sql.push(&format!("{code_col} = "))
                .bind(code.clone())
                .push(" AND ");
            if let Some(system) = system {
                sql.push(&format!("{system_col} = "))
                    .bind(system.clone())
                    .push(" AND ");
            }
            push_point_prefix(sql, value_col, prefix, value, low, high);
        }
    }
}

fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.to_owned();
    end.push(PREFIX_END);
    end
}

/// Quotes words for an FTS5 query: every word must occur, as a prefix. Words are cut at the
/// characters the `unicode61` tokenizer does not index (punctuation, NUL, …), as the indexed
/// text was, so no input can make the query malformed. `None` when no indexable word is left.
fn fts_query(column: &str, words: &[String]) -> Option<String> {
    let terms: Vec<String> = words
        .iter()
        .flat_map(|word| word.split(|c: char| !c.is_alphanumeric()))
        .filter(|term| !term.is_empty())
        .map(|term| format!("\"{term}\"*"))
        .collect();
    (!terms.is_empty()).then(|| format!("{column} : ({})", terms.join(" AND ")))
}

/// Appends one predicate about `r{depth}`, where `types` are the searched resource types.
fn push_predicate(
    sql: &mut Sql,
    depth: usize,
    types: &[String],
    predicate: &Predicate,
    form: Form,
) {
    let r = format!("r{depth}");
    match predicate {
        Predicate::Id(id) => {
            sql.push(&format!("{r}.res_id = ")).bind(id.clone());
        }
        Predicate::LastUpdated { prefix, low, high } => {
            // A version's timestamp is a point: the range [t, t + 1µs).
            let (column_low, column_high) = (
                format!("{r}.last_updated"),
                format!("({r}.last_updated + 1)"),
            );
            push_range_prefix(
                sql,
                &column_low,
                &column_high,
                *prefix,
                Value::Integer(low.0),
                Value::Integer(high.0),
            );
        }
        Predicate::String { param, value, mode } => {
            open_index(sql, depth, IndexKind::String, types, param, form);
            match mode {
                StringMatch::Prefix => {
                    sql.push(" AND x.normalized >= ")
                        .bind(value.clone())
                        .push(" AND x.normalized < ")
                        .bind(prefix_end(value));
                }
                StringMatch::Exact => {
                    sql.push(" AND x.exact = ").bind(value.clone());
                }
                StringMatch::Contains => {
                    sql.push(" AND instr(x.normalized, ")
                        .bind(value.clone())
                        .push(") > 0");
                }
            }
            sql.push(")");
        }
        Predicate::Token {
            param,
            system,
            code,
        } => {
            open_index(sql, depth, IndexKind::Token, types, param, form);
            sql.push(" AND ");
            push_token_match(sql, "x.system", "x.code", system, code.as_ref());
            sql.push(")");
        }
        Predicate::TokenIn { param, systems } => {
            if systems.iter().all(|codes| codes.codes.is_empty()) {
                sql.push("0");
                return;
            }
            open_index(sql, depth, IndexKind::Token, types, param, form);
            // Grouped by system so that each group is an index range walk on (pid, code, system).
            // Rows without a system are plain `code` elements (Patient.gender), whose system
            // the element's binding implies: they match by code.
            sql.push(" AND (");
            let mut first = true;
            for codes in systems.iter().filter(|codes| !codes.codes.is_empty()) {
                if !first {
                    sql.push(" OR ");
                }
                first = false;
                sql.push("(x.code IN (")
                    .bind_list(&codes.codes)
                    .push(") AND (x.system = ")
                    .bind(codes.system.clone())
                    .push(" OR x.system IS NULL))");
            }
            sql.push("))");
        }
        Predicate::TokenText { param, text } => {
            open_index(sql, depth, IndexKind::Token, types, param, form);
            sql.push(" AND x.text >= ")
                .bind(text.clone())
                .push(" AND x.text < ")
                .bind(prefix_end(text))
                .push(")");
        }
        Predicate::Date {
            param,
            prefix,
            low,
            high,
        } => {
            open_index(sql, depth, IndexKind::Date, types, param, form);
            sql.push(" AND ");
            push_range_prefix(
                sql,
                "x.low",
                "x.high",
                *prefix,
                Value::Integer(*low),
                Value::Integer(*high),
            );
            sql.push(")");
        }
        Predicate::Number {
            param,
            prefix,
            value,
            low,
            high,
        } => {
            open_index(sql, depth, IndexKind::Number, types, param, form);
            sql.push(" AND ");
            push_point_prefix(sql, "x.value", *prefix, *value, *low, *high);
            sql.push(")");
        }
        Predicate::Quantity {
            param,
            prefix,
            value,
            low,
            high,
            unit,
        } => {
            open_index(sql, depth, IndexKind::Quantity, types, param, form);
            sql.push(" AND ");
            push_quantity_match(
                sql,
                *prefix,
                *value,
                *low,
                *high,
                unit,
                [
                    "x.value",
                    "x.system",
                    "x.code",
                    "x.canonical_value",
                    "x.canonical_code",
                ],
            );
            sql.push(")");
        }
        Predicate::Reference {
            param,
            target_type,
            target_id,
            target_version,
            url,
        } => {
            open_index(sql, depth, IndexKind::Reference, types, param, form);
            if let Some(id) = target_id {
                sql.push(" AND x.target_id = ").bind(id.clone());
            }
            if let Some(target_type) = target_type {
                sql.push(" AND x.target_type = ").bind(target_type.clone());
            }
            if let Some(version) = target_version {
                sql.push(" AND x.target_version = ").bind(version.clone());
            }
            if let Some(url) = url {
                sql.push(" AND x.url = ").bind(url.clone());
            }
            sql.push(")");
        }
        Predicate::Uri { param, value, mode } => {
            open_index(sql, depth, IndexKind::Uri, types, param, form);
            match mode {
                UriMatch::Exact => {
                    sql.push(" AND x.uri = ").bind(value.clone());
                }
                UriMatch::Below => {
                    sql.push(" AND x.uri >= ")
                        .bind(value.clone())
                        .push(" AND x.uri < ")
                        .bind(prefix_end(value));
                }
                UriMatch::Above => {
                    sql.push(" AND substr(")
                        .bind(value.clone())
                        .push(", 1, length(x.uri)) = x.uri");
                }
            }
            sql.push(")");
        }
        Predicate::Composite {
            param,
            system,
            code,
            value,
        } => {
            open_index(sql, depth, IndexKind::Composite, types, param, form);
            sql.push(" AND ");
            push_token_match(sql, "x.system", "x.code", system, code.as_ref());
            sql.push(" AND ");
            match value {
                CompositeMatch::Token { system, code } => {
                    push_token_match(sql, "x.v_system", "x.v_code", system, code.as_ref())
                }
                CompositeMatch::Quantity {
                    prefix,
                    low,
                    high,
                    unit,
                } => {
                    let value = (low + high) / 2.0;
                    push_quantity_match(
                        sql,
                        *prefix,
                        value,
                        *low,
                        *high,
                        unit,
                        [
                            "x.v_value",
                            "x.v_system",
                            "x.v_code",
                            "x.v_canonical_value",
                            "x.v_canonical_code",
                        ],
                    );
                }
                CompositeMatch::Date { prefix, low, high } => {
                    push_range_prefix(
                        sql,
                        "x.v_low",
                        "x.v_high",
                        *prefix,
                        Value::Integer(*low),
                        Value::Integer(*high),
                    );
                }
                CompositeMatch::String(text) => {
                    sql.push("x.v_text >= ")
                        .bind(text.clone())
                        .push(" AND x.v_text < ")
                        .bind(prefix_end(text));
                }
            }
            sql.push(")");
        }
        Predicate::Missing {
            param,
            kind,
            missing,
        } => {
            if *missing {
                sql.push("NOT ");
            }
            open_index(sql, depth, *kind, types, param, form);
            sql.push(")");
        }
        Predicate::Not(inner) => {
            sql.push("NOT (");
            push_predicate(sql, depth, types, inner, Form::In);
            sql.push(")");
        }
        Predicate::Chain { param, query } => {
            let inner = depth + 1;
            open_index(sql, depth, IndexKind::Reference, types, param, form);
            sql.push(&format!(" AND x.target_id IS NOT NULL AND (x.target_type, x.target_id) IN (SELECT r{inner}.res_type, r{inner}.res_id FROM resources r{inner} WHERE "));
            push_where(sql, inner, query, Plan::AllIn);
            sql.push("))");
        }
        Predicate::Has { param, query } => {
            let inner = depth + 1;
            sql.push(&format!("({r}.res_type, {r}.res_id) IN (SELECT h.target_type, h.target_id FROM idx_reference h WHERE h.target_id IS NOT NULL AND "));
            push_param_ids(
                sql,
                "h.pid",
                Some("h.target_type"),
                &query.resource_types,
                param,
            );
            sql.push(&format!(
                " AND h.res_key IN (SELECT r{inner}.res_key FROM resources r{inner} WHERE "
            ));
            push_where(sql, inner, query, Plan::AllIn);
            sql.push("))");
        }
        Predicate::FullText { content, words } => {
            let column = if *content { "content" } else { "text" };
            match fts_query(column, words) {
                Some(query) => {
                    sql.push(&format!(
                        "{r}.res_key IN (SELECT rowid FROM fts WHERE fts MATCH "
                    ))
                    .bind(query)
                    .push(")");
                }
                None => {
                    sql.push("0");
                }
            }
        }
        Predicate::InList(list_id) => {
            sql.push(&format!(
                "({r}.res_type, {r}.res_id) IN (SELECT l.target_type, l.target_id FROM idx_reference l \
                 JOIN resources lr ON lr.res_key = l.res_key WHERE lr.res_type = 'List' AND lr.deleted = 0 AND lr.res_id = "
            ))
            .bind(list_id.clone())
            .push(" AND l.pid = (SELECT pid FROM params WHERE res_type = 'List' AND code = 'item'))");
        }
    }
}

/// Which clause of a query drives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Every clause as an `IN` list (inner queries of chains and `_has`, which are selective).
    AllIn,
    /// This clause as an `IN` list, the others as probes.
    Driver(usize),
    /// No clause is selective: scan the type in storage order, probing every clause.
    Scan,
}

/// Appends the conditions of `query` about `r{depth}` (types, not deleted, clauses).
pub(crate) fn push_where(sql: &mut Sql, depth: usize, query: &SearchQuery, plan: Plan) {
    let r = format!("r{depth}");
    sql.push(&format!("{r}.deleted = 0"));
    match query.resource_types.as_slice() {
        [] => {}
        [only] => {
            sql.push(&format!(" AND {r}.res_type = "))
                .bind(only.clone());
        }
        many => {
            sql.push(&format!(" AND {r}.res_type IN ("))
                .bind_list(many)
                .push(")");
        }
    }
    for (index, Clause(predicates)) in query.clauses.iter().enumerate() {
        let form = match plan {
            Plan::AllIn => Form::In,
            Plan::Driver(driver) if driver == index => Form::In,
            _ => Form::Exists,
        };
        sql.push(" AND (");
        for (n, predicate) in predicates.iter().enumerate() {
            if n > 0 {
                sql.push(" OR ");
            }
            push_predicate(sql, depth, &query.resource_types, predicate, form);
        }
        if predicates.is_empty() {
            sql.push("0");
        }
        sql.push(")");
    }
}

/// Whether a predicate is an index lookup whose matches an index range finds directly, so
/// that counting them costs no more than the count: those can be estimated and drive a query.
/// Open ranges (`date=ge2020`), substrings and `:above` would scan, so they only filter.
fn is_index_predicate(predicate: &Predicate) -> bool {
    match predicate {
        Predicate::Token { code, .. } => code.is_some(),
        Predicate::TokenIn { systems, .. } => systems.iter().any(|codes| !codes.codes.is_empty()),
        Predicate::String { mode, .. } => *mode != StringMatch::Contains,
        Predicate::Date { prefix, .. } => *prefix == Prefix::Eq,
        Predicate::Number { prefix, .. } | Predicate::Quantity { prefix, .. } => {
            *prefix == Prefix::Eq
        }
        Predicate::Reference { .. } | Predicate::Composite { .. } => true,
        Predicate::Uri { mode, .. } => *mode != UriMatch::Above,
        _ => false,
    }
}

/// A query counting (up to `cap`) the index rows one predicate matches; `None` for
/// predicates that are not index lookups.
pub(crate) fn estimate_query(
    aliases: &Arc<ParamAliases>,
    types: &[String],
    predicate: &Predicate,
    cap: usize,
) -> Option<Sql> {
    if !is_index_predicate(predicate) {
        return None;
    }
    let mut sql = Sql::new(aliases);
    sql.push("SELECT count(*) FROM (SELECT * FROM ");
    push_predicate(&mut sql, 0, types, predicate, Form::Estimate);
    sql.push(" LIMIT ")
        .bind(i64::try_from(cap).unwrap_or(i64::MAX))
        .push(")");
    Some(sql)
}

/// The SQL expression for a sort key of `r0`, as (expression, bound values).
fn sort_expression(aliases: &Arc<ParamAliases>, key: &SortKey) -> Sql {
    let mut sql = Sql::new(aliases);
    let aggregate = if key.descending { "max" } else { "min" };
    match key.kind {
        SortKind::Id => {
            sql.push("r0.res_id");
        }
        SortKind::LastUpdated => {
            sql.push("r0.last_updated");
        }
        SortKind::Index(kind) => {
            let column = match (kind, key.descending) {
                (IndexKind::String, _) => "normalized",
                (IndexKind::Token, _) => "code",
                (IndexKind::Date, false) => "low",
                (IndexKind::Date, true) => "high",
                (IndexKind::Number, _) => "value",
                (IndexKind::Quantity, _) => "coalesce(canonical_value, value)",
                (IndexKind::Reference, _) => "coalesce(target_id, url)",
                (IndexKind::Uri, _) => "uri",
                (IndexKind::Composite, _) => "code",
            };
            // The resource fixes the type, so the parameter's ids of every type can be listed.
            sql.push(&format!(
                "(SELECT {aggregate}({column}) FROM {} s WHERE s.res_key = r0.res_key AND ",
                table(kind)
            ));
            push_param_ids(&mut sql, "+s.pid", None, &[], &key.param);
            sql.push(")");
        }
    }
    sql
}

fn append(sql: &mut Sql, other: &Sql) {
    sql.text.push_str(&other.text);
    sql.params.extend(other.params.iter().cloned());
}

fn sort_value_param(value: &SortValue) -> Value {
    match value {
        SortValue::Null => Value::Null,
        SortValue::Integer(n) => Value::Integer(*n),
        SortValue::Real(x) => Value::Real(*x),
        SortValue::Text(text) => Value::Text(text.clone()),
    }
}

/// Appends "comes after `after`" in the order given by the sort keys (nulls last), with the
/// storage key as the final tie-breaker.
fn push_after(sql: &mut Sql, expressions: &[Sql], keys: &[SortKey], after: &PageKey, index: usize) {
    let Some(expression) = expressions.get(index) else {
        sql.push("r0.res_key > ").bind(after.key);
        return;
    };
    let descending = keys.get(index).is_some_and(|key| key.descending);
    match after.values.get(index).unwrap_or(&SortValue::Null) {
        SortValue::Null => {
            sql.push("((");
            append(sql, expression);
            sql.push(") IS NULL AND ");
            push_after(sql, expressions, keys, after, index + 1);
            sql.push(")");
        }
        value => {
            let value = sort_value_param(value);
            sql.push("((");
            append(sql, expression);
            sql.push(") IS NULL OR (");
            append(sql, expression);
            sql.push(if descending { ") < " } else { ") > " })
                .bind(value.clone())
                .push(" OR ((");
            append(sql, expression);
            sql.push(") = ").bind(value).push(" AND ");
            push_after(sql, expressions, keys, after, index + 1);
            sql.push("))");
        }
    }
}

/// The page query: selects the version columns, the storage key and each sort value.
pub(crate) fn page_query(
    aliases: &Arc<ParamAliases>,
    query: &SearchQuery,
    columns: &str,
    plan: Plan,
) -> Sql {
    let expressions: Vec<Sql> = query
        .sort
        .iter()
        .map(|key| sort_expression(aliases, key))
        .collect();
    let mut sql = Sql::new(aliases);
    sql.push(&format!("SELECT {columns}, r0.res_key"));
    for expression in &expressions {
        sql.push(", ");
        append(&mut sql, expression);
    }
    sql.push(" FROM resources r0 JOIN versions v ON v.seq = r0.version_seq WHERE ");
    push_where(&mut sql, 0, query, plan);
    if let Some(after) = &query.after {
        sql.push(" AND ");
        push_after(&mut sql, &expressions, &query.sort, after, 0);
    }
    sql.push(" ORDER BY ");
    for (expression, key) in expressions.iter().zip(&query.sort) {
        sql.push("(");
        append(&mut sql, expression);
        sql.push(") IS NULL, (");
        append(&mut sql, expression);
        sql.push(if key.descending {
            ") DESC, "
        } else {
            ") ASC, "
        });
    }
    sql.push("r0.res_key ASC LIMIT ")
        .bind(i64::try_from(query.count.saturating_add(1)).unwrap_or(i64::MAX));
    sql
}

/// The count query of a search.
pub(crate) fn count_query(aliases: &Arc<ParamAliases>, query: &SearchQuery, plan: Plan) -> Sql {
    let mut sql = Sql::new(aliases);
    sql.push("SELECT count(*) FROM resources r0 WHERE ");
    push_where(&mut sql, 0, query, plan);
    sql
}
