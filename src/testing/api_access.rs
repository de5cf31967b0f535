//! API Access handlers: the org's Admin API keys and service accounts with their tokens.

use serde_json::{Value, json};

use super::admin::authorize_org;
use super::server::{Incoming, Reply};
use super::state::{AdminKey, CursorError, State, iso};

/// Who created or revoked a key in the fake: the org's admin.
fn org_admin(org: &str) -> Value {
    json!({"id": format!("557058:org-admin-{org}"), "name": "Org Admin", "email": "org-admin@example.test"})
}

/// [`authorize_org`], then the key's scope: a key with scopes must hold `scope`.
fn authorize_scope(state: &mut State, req: &Incoming, org: &str, scope: &str) -> Result<(), Reply> {
    let scopes = authorize_org(state, req, org)?;
    if scopes.is_empty() || scopes.iter().any(|s| s == scope) {
        return Ok(());
    }
    Err(Reply::errors(
        403,
        "ADMIN-403-4",
        &format!("The API key does not have the scope {scope}"),
    ))
}

/// The filters and offset of a listing: the cursor's, when the request follows one (400 when
/// it is unknown or expired), else the request's own `names` parameters from the start.
fn start(
    state: &State,
    req: &Incoming,
    scope: &str,
    names: &[&str],
) -> Result<(Value, usize), Reply> {
    match req.param("cursor") {
        Some(cursor) => state.redeem_cursor(scope, cursor).map_err(
            |(CursorError::Unknown | CursorError::Expired)| {
                Reply::errors(400, "ADMIN-400-1", "Invalid page cursor")
            },
        ),
        None => {
            let filters = names
                .iter()
                .filter_map(|n| req.param(n).map(|v| ((*n).to_owned(), json!(v))))
                .collect();
            Ok((Value::Object(filters), 0))
        }
    }
}

/// The page of `items` at `offset` (at most `asked` items, and never more than the fake's page
/// size) and its `links`, for the listing `req` asked for at `path`.
fn page_of(
    state: &mut State,
    base: &str,
    req: &Incoming,
    path: &str,
    (scope, filters, offset): (&str, Value, usize),
    asked: Option<usize>,
    items: Vec<Value>,
) -> (Vec<Value>, Value) {
    let this = req.param("cursor");
    let size = asked
        .unwrap_or(usize::MAX)
        .min(state.config.org_token_page_size)
        .max(1);
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(size).collect();
    let next = (offset + size < total).then(|| state.issue_cursor(scope, filters, offset + size));
    let links = json!({
        "self": state.link(base, path, this, None),
        "next": next.map(|c| state.link(base, path, Some(&c), None)),
        "prev": null,
    });
    (page, links)
}

/// [`page_of`], answered as `{"data": [...], "links": {...}}`.
fn data_page(
    state: &mut State,
    base: &str,
    req: &Incoming,
    path: &str,
    cursor: (&str, Value, usize),
    asked: Option<usize>,
    items: Vec<Value>,
) -> Reply {
    let (data, links) = page_of(state, base, req, path, cursor, asked, items);
    Reply::json(200, &json!({"data": data, "links": links}))
}

fn key_json(key: &AdminKey) -> Value {
    json!({
        "id": key.id,
        "label": key.label,
        "createdAt": iso(key.created_at),
        "lastActiveAt": key.last_active_at.map(iso),
        "expiresAt": iso(key.expires_at),
        "resource": format!("ari:cloud:platform::org/{}", key.org_id),
        "orgId": key.org_id,
        "createdBy": org_admin(&key.org_id),
        "scopes": key.scopes,
        "revokedBy": key.revoked_at.map(|_| org_admin(&key.org_id)),
        "revocationDate": key.revoked_at.map(iso),
    })
}

/// The org's keys matching `filters` (`q`: label or id, any case), in `sort` order
/// (`+field`/`-field` on `createdAt`, `expiresAt`, `lastActiveAt` or `label`; creation order
/// otherwise).
fn matching_keys<'a>(state: &'a State, org: &str, filters: &Value) -> Vec<&'a AdminKey> {
    let q = filters["q"].as_str().map(str::to_lowercase);
    let mut keys: Vec<&AdminKey> = state
        .admin_keys
        .iter()
        .filter(|k| k.org_id == org)
        .filter(|k| {
            q.as_deref().is_none_or(|q| {
                k.label.to_lowercase().contains(q) || k.id.to_lowercase().contains(q)
            })
        })
        .collect();
    if let Some(sort) = filters["sort"].as_str() {
        let (descending, field) = match sort.strip_prefix('-') {
            Some(field) => (true, field),
            None => (false, sort.trim_start_matches('+')),
        };
        keys.sort_by(|a, b| {
            let order = match field {
                "expiresAt" => a.expires_at.cmp(&b.expires_at),
                "lastActiveAt" => a.last_active_at.cmp(&b.last_active_at),
                "label" => a.label.cmp(&b.label),
                _ => a.created_at.cmp(&b.created_at),
            };
            if descending { order.reverse() } else { order }
        });
    }
    keys
}

pub(crate) fn admin_keys(state: &mut State, base: &str, req: &Incoming, org: &str) -> Reply {
    if let Err(reply) = authorize_scope(state, req, org, "read:keys:admin") {
        return reply;
    }
    let scope = format!("admin-keys:{org}");
    let (filters, offset) = match start(state, req, &scope, &["q", "sort", "pageSize"]) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    let items: Vec<Value> = matching_keys(state, org, &filters)
        .into_iter()
        .map(key_json)
        .collect();
    let asked = filters["pageSize"].as_str().and_then(|s| s.parse().ok());
    let path = format!("/admin/api-access/v1/orgs/{org}/api-keys");
    data_page(
        state,
        base,
        req,
        &path,
        (&scope, filters, offset),
        asked,
        items,
    )
}

/// The number of matching keys, as a bare JSON number.
pub(crate) fn admin_key_count(state: &mut State, req: &Incoming, org: &str) -> Reply {
    if let Err(reply) = authorize_scope(state, req, org, "read:keys:admin") {
        return reply;
    }
    let filters = json!({"q": req.param("q")});
    Reply::json(200, &json!(matching_keys(state, org, &filters).len()))
}

pub(crate) fn revoke_admin_key(state: &mut State, req: &Incoming, org: &str, id: &str) -> Reply {
    if let Err(reply) = authorize_scope(state, req, org, "delete:keys:admin") {
        return reply;
    }
    if !serde_json::from_slice::<Value>(&req.body).is_ok_and(|b| b.is_object()) {
        return Reply::errors(400, "ADMIN-400-2", "The request body must be a JSON object");
    }
    match state
        .admin_keys
        .iter_mut()
        .find(|k| k.org_id == org && k.id == id && k.revoked_at.is_none())
    {
        Some(key) => {
            key.revoked_at = Some(time::OffsetDateTime::now_utc());
            Reply::empty(204)
        }
        None => Reply::errors(404, "ADMIN-404-3", "No such API key, or it is revoked"),
    }
}

pub(crate) fn service_accounts(state: &mut State, base: &str, req: &Incoming, org: &str) -> Reply {
    if let Err(reply) = authorize_org(state, req, org) {
        return reply;
    }
    let scope = format!("service-accounts:{org}");
    let (filters, offset) = match start(state, req, &scope, &[]) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    let items: Vec<Value> = state
        .service_accounts
        .iter()
        .filter(|a| a.org_id == org)
        .filter_map(|a| state.user(&a.account_id).map(|u| (a, u)))
        .map(|(a, u)| {
            json!({
                "atlassianId": a.account_id,
                "id": a.id,
                "email": u.email,
                "displayName": u.display_name,
                "status": "ACTIVE",
            })
        })
        .collect();
    let total = items.len();
    let path = format!("/admin/api-access/v1/orgs/{org}/service-accounts");
    let (page, mut links) = page_of(
        state,
        base,
        req,
        &path,
        (&scope, filters, offset),
        None,
        items,
    );
    if let Some(links) = links.as_object_mut() {
        links.remove("self");
    }
    Reply::json(200, &json!({"links": links, "items": page, "total": total}))
}

/// The service account `id` of `org`'s account id, or a 404 reply.
fn service_account(state: &State, org: &str, id: &str) -> Result<String, Reply> {
    state
        .service_accounts
        .iter()
        .find(|a| a.org_id == org && a.id == id)
        .map(|a| a.account_id.clone())
        .ok_or_else(|| Reply::errors(404, "ADMIN-404-4", "Service account not found"))
}

pub(crate) fn service_account_tokens(
    state: &mut State,
    base: &str,
    req: &Incoming,
    org: &str,
    id: &str,
) -> Reply {
    if let Err(reply) = authorize_scope(state, req, org, "read:service-accounts-tokens:admin") {
        return reply;
    }
    let account = match service_account(state, org, id) {
        Ok(account) => account,
        Err(reply) => return reply,
    };
    let scope = format!("service-account-tokens:{org}:{id}");
    let (filters, offset) = match start(state, req, &scope, &["tokenLabel"]) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    let label = filters["tokenLabel"].as_str();
    let items: Vec<Value> = state
        .tokens
        .iter()
        .filter(|t| t.account_id == account && !t.revoked)
        .filter(|t| label.is_none_or(|l| t.label == l))
        .map(|t| {
            json!({
                "id": t.id,
                "label": t.label,
                "createdAt": iso(t.created_at),
                "expiresAt": iso(t.expires_at),
                "lastActiveAt": t.last_access.map(iso),
                "scopes": t.scopes,
            })
        })
        .collect();
    let path = format!("/admin/api-access/v1/orgs/{org}/service-accounts/{id}/api-tokens");
    data_page(
        state,
        base,
        req,
        &path,
        (&scope, filters, offset),
        None,
        items,
    )
}

/// Revokes every API token of the service account.
pub(crate) fn revoke_service_account_tokens(
    state: &mut State,
    req: &Incoming,
    org: &str,
    id: &str,
) -> Reply {
    if let Err(reply) = authorize_org(state, req, org) {
        return reply;
    }
    let account = match service_account(state, org, id) {
        Ok(account) => account,
        Err(reply) => return reply,
    };
    for token in state.tokens.iter_mut().filter(|t| t.account_id == account) {
        token.revoked = true;
    }
    Reply::empty(204)
}
