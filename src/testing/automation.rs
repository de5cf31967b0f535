//! Automation REST API handlers (`/rest/v1/rule/...`).

use serde_json::{Map, Value, json};

use super::server::{Incoming, Reply};
use super::state::{State, StoredRule};

const LIMIT_MAX: u64 = 100;

fn unauthorized() -> Reply {
    Reply::errors(
        401,
        "api.authentication.required",
        "Authentication required: basic email:api_token of a live token",
    )
}

/// Refuses a request without a live `email:token` pair.
fn authenticate(state: &mut State, req: &Incoming) -> Result<(), Reply> {
    let (email, token) = req.basic().ok_or_else(unauthorized)?;
    state
        .authenticate_basic(&email, &token)
        .map(|_| ())
        .ok_or_else(unauthorized)
}

fn bad_request(code: &str, title: &str) -> Reply {
    Reply::errors(400, code, title)
}

fn limit_out_of_range() -> Reply {
    bad_request(
        "api.validation.outside-range",
        "'limit' must be in the range [1,100]",
    )
}

fn not_found(uuid: &str) -> Reply {
    Reply::errors(
        404,
        "api.rule.not-found",
        &format!("No rule with UUID {uuid}"),
    )
}

/// A limit from a query string or a JSON body: an integer in 1..=100.
fn parse_limit(value: Option<&Value>, default: u64) -> Result<u64, Reply> {
    let limit = match value {
        None | Some(Value::Null) => default,
        Some(Value::Number(n)) => n.as_u64().ok_or_else(limit_out_of_range)?,
        Some(Value::String(s)) => s.parse().map_err(|_| limit_out_of_range())?,
        Some(_) => return Err(limit_out_of_range()),
    };
    if (1..=LIMIT_MAX).contains(&limit) {
        Ok(limit)
    } else {
        Err(limit_out_of_range())
    }
}

/// The summary of a stored rule, per the spec's `RuleSummary`.
fn summary(rule: &StoredRule) -> Value {
    let mut out = Map::new();
    out.insert("uuid".into(), json!(rule.uuid));
    for key in [
        "name",
        "state",
        "description",
        "labels",
        "ruleScopeARIs",
        "authorAccountId",
        "created",
        "updated",
    ] {
        if let Some(v) = rule.rule.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    let actor = &rule.rule["actor"];
    if actor["type"] == "ACCOUNT_ID" {
        out.insert("actorAccountId".into(), actor["actor"].clone());
    }
    Value::Object(out)
}

fn matches(rule: &StoredRule, filters: &Value) -> bool {
    let field = |name: &str| filters[name].as_str();
    field("state").is_none_or(|s| rule.rule["state"] == s)
        && field("trigger").is_none_or(|t| rule.rule["trigger"]["type"] == t)
        && field("scope").is_none_or(|scope| {
            rule.rule["ruleScopeARIs"]
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == scope))
        })
}

/// One page of summaries, shared by the GET listing and the POST search.
fn page(
    state: &mut State,
    base: &str,
    path: &str,
    cloud: &str,
    cursor: Option<&str>,
    filters: Value,
    limit: u64,
) -> Reply {
    let scope = format!("rules:{cloud}");
    let (filters, offset) = match cursor {
        Some(cursor) => match state.redeem_cursor(&scope, cursor) {
            Ok(found) => found,
            Err(_) => {
                return bad_request(
                    "api.validation.invalid-cursor",
                    "The cursor is invalid or has expired; start again without a cursor",
                );
            }
        },
        None => (filters, 0),
    };
    let size = (limit as usize).min(state.config.rule_page_max.max(1));
    let mut matching = state
        .rules
        .iter()
        .filter(|r| r.cloud_id == cloud && matches(r, &filters))
        .skip(offset);
    // Summaries are built for this page only.
    let data: Vec<Value> = matching.by_ref().take(size).map(summary).collect();
    let more = matching.next().is_some();
    let next = more.then(|| state.issue_cursor(&scope, filters.clone(), offset + size));
    let limit = Some(limit as usize);
    Reply::json(
        200,
        &json!({
            "links": {
                "self": state.link(base, path, cursor, limit),
                "next": next.map(|c| state.link(base, path, Some(&c), limit)),
                "prev": null,
            },
            "data": data,
        }),
    )
}

pub(crate) fn summaries(
    state: &mut State,
    base: &str,
    req: &Incoming,
    cloud: &str,
    prefix: &str,
) -> Reply {
    if let Err(reply) = authenticate(state, req) {
        return reply;
    }
    let limit = match parse_limit(req.param("limit").map(|l| json!(l)).as_ref(), LIMIT_MAX) {
        Ok(limit) => limit,
        Err(reply) => return reply,
    };
    let path = format!("{prefix}/rest/v1/rule/summary");
    let cursor = req.param("cursor").map(str::to_owned);
    page(
        state,
        base,
        &path,
        cloud,
        cursor.as_deref(),
        json!({}),
        limit,
    )
}

pub(crate) fn search(
    state: &mut State,
    base: &str,
    req: &Incoming,
    cloud: &str,
    prefix: &str,
) -> Reply {
    if let Err(reply) = authenticate(state, req) {
        return reply;
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&req.body) else {
        return bad_request(
            "api.validation.invalid-body",
            "The request body must be a JSON object",
        );
    };
    let cursor = body.get("cursor").and_then(Value::as_str);
    let has_query = ["trigger", "state", "scope", "limit"]
        .iter()
        .any(|k| body.get(*k).is_some_and(|v| !v.is_null()));
    if cursor.is_none() && !has_query {
        return bad_request(
            "api.validation.empty-query",
            "At least one of trigger, state, scope, or limit must be present",
        );
    }
    if let Some(s) = body.get("state").filter(|v| !v.is_null()) {
        if s != "ENABLED" && s != "DISABLED" {
            return Reply::field_error(
                400,
                "api.validation.invalid-value",
                "'state' must be ENABLED or DISABLED",
                Some("state"),
            );
        }
    }
    let limit = match parse_limit(body.get("limit"), 50) {
        Ok(limit) => limit,
        Err(reply) => return reply,
    };
    let filters = json!({
        "trigger": body.get("trigger"),
        "state": body.get("state"),
        "scope": body.get("scope"),
    });
    let path = format!("{prefix}/rest/v1/rule/summary");
    page(state, base, &path, cloud, cursor, filters, limit)
}

pub(crate) fn get(state: &mut State, req: &Incoming, cloud: &str, uuid: &str) -> Reply {
    if let Err(reply) = authenticate(state, req) {
        return reply;
    }
    let Some(rule) = state.rule_mut(cloud, uuid) else {
        return not_found(uuid);
    };
    rule.gets += 1;
    /// The document, serialized from the stored rule without copying it first.
    #[derive(serde::Serialize)]
    struct Document<'a> {
        rule: &'a Value,
        connections: &'a Value,
    }
    if req.param("redactSensitiveFields") == Some("true") {
        let mut redacted = rule.rule.clone();
        redact_secure(&mut redacted);
        return Reply::json(
            200,
            &Document {
                rule: &redacted,
                connections: &rule.connections,
            },
        );
    }
    Reply::json(
        200,
        &Document {
            rule: &rule.rule,
            connections: &rule.connections,
        },
    )
}

/// `?redactSensitiveFields=true`: every secure header value (`headerSecure: true`) and secure
/// URL (`urlSecure: true`) becomes `***`.
fn redact_secure(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (flag, field) in [("headerSecure", "value"), ("urlSecure", "url")] {
                if map.get(flag) == Some(&Value::Bool(true)) && map.contains_key(field) {
                    map.insert(field.to_owned(), json!("***"));
                }
            }
            map.values_mut().for_each(redact_secure);
        }
        Value::Array(items) => items.iter_mut().for_each(redact_secure),
        _ => {}
    }
}

pub(crate) fn put(state: &mut State, req: &Incoming, cloud: &str, uuid: &str) -> Reply {
    if let Err(reply) = authenticate(state, req) {
        return reply;
    }
    let body = match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(body)) => body,
        Ok(_) | Err(_) => {
            return bad_request(
                "api.validation.invalid-body",
                "The request body must be a JSON object {\"rule\": {...}, \"connections\": [...]}",
            );
        }
    };
    let Some(new_rule) = body.get("rule").filter(|r| r.is_object()) else {
        return Reply::field_error(
            400,
            "api.validation.required",
            "'rule' is required and must be an object",
            Some("rule"),
        );
    };
    let Some(rule) = state.rule_mut(cloud, uuid) else {
        return not_found(uuid);
    };
    rule.rule = new_rule.clone();
    if let Some(connections) = body.get("connections").filter(|c| c.is_array()) {
        rule.connections = connections.clone();
    }
    rule.puts += 1;
    Reply::json(200, &json!({"ruleUuid": uuid}))
}

pub(crate) fn set_state(state: &mut State, req: &Incoming, cloud: &str, uuid: &str) -> Reply {
    if let Err(reply) = authenticate(state, req) {
        return reply;
    }
    let value = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .and_then(|v| v.get("value").and_then(Value::as_str).map(str::to_owned));
    let Some(value) = value.filter(|v| v == "ENABLED" || v == "DISABLED") else {
        return Reply::field_error(
            400,
            "api.validation.invalid-value",
            "'value' must be ENABLED or DISABLED",
            Some("value"),
        );
    };
    let Some(rule) = state.rule_mut(cloud, uuid) else {
        return not_found(uuid);
    };
    rule.rule["state"] = json!(value);
    rule.state_puts += 1;
    Reply::empty(200)
}
