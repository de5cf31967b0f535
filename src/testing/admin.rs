//! Admin API, Data Center instance and Jira Cloud identity handlers.

use serde_json::{Value, json};

use super::server::{Incoming, Reply};
use super::state::{CursorError, State, Token, iso, tunnel_key_value};

/// The user name of each Data Center instance's administrator.
pub(crate) const DC_USERNAME: &str = "rotation-admin";

/// The organization API's 401 body (`ProxyError`).
fn org_unauthorized() -> Reply {
    Reply::json(
        401,
        &json!({"code": 401, "message": "Unauthorized; scope does not match"}),
    )
}

/// The user-management API's 401 body.
fn user_mgmt_unauthorized() -> Reply {
    Reply::json(401, &json!({"key": "unauthorized"}))
}

/// Jira's error body, for Data Center and the Cloud REST API.
fn jira_error(status: u16, message: &str) -> Reply {
    Reply::json(status, &json!({"errorMessages": [message], "errors": {}}))
}

/// The org and scopes of the request's Admin API key, marking the key used. Every admin route
/// authenticates through here, so a revoked key gets 401 everywhere at once.
fn admin_key(state: &mut State, req: &Incoming) -> Option<(String, Vec<String>)> {
    let key = req.bearer()?;
    state
        .authenticate_admin_key(key)
        .map(|k| (k.org_id.clone(), k.scopes.clone()))
}

/// The org the request's Admin API key belongs to.
fn admin_org(state: &mut State, req: &Incoming) -> Option<String> {
    admin_key(state, req).map(|(org, _)| org)
}

/// Checks the Admin API key against `org`: 401 for an unknown, revoked or expired key, 404 for
/// an unknown org, 403 for a key of another org. Returns the key's scopes (none: a key without
/// scopes).
pub(crate) fn authorize_org(
    state: &mut State,
    req: &Incoming,
    org: &str,
) -> Result<Vec<String>, Reply> {
    let (key_org, scopes) = admin_key(state, req).ok_or_else(org_unauthorized)?;
    if !state.orgs.iter().any(|o| o.id == org) {
        return Err(Reply::errors(404, "ADMIN-404-2", "Organization not found"));
    }
    if key_org != org {
        return Err(Reply::errors(
            403,
            "ADMIN-403-3",
            "Not allowed to manage the org",
        ));
    }
    Ok(scopes)
}

pub(crate) fn instance_base(base: &str, hostname: &str) -> String {
    format!("{base}/dc/{hostname}")
}

pub(crate) fn regenerate(
    state: &mut State,
    base: &str,
    req: &Incoming,
    org: &str,
    hostname: &str,
) -> Reply {
    if let Err(reply) = authorize_org(state, req, org) {
        return reply;
    }
    let Some(tunnel) = state.tunnel_mut(hostname).filter(|t| t.org_id == org) else {
        return Reply::errors(404, "ADMIN-404-1", "Unknown resource: no such tunnel");
    };
    tunnel.current_key = tunnel_key_value();
    Reply::json(
        200,
        &json!({
            "id": tunnel.id,
            "name": tunnel.name,
            "token": tunnel.current_key,
            "status": if tunnel.connected() { "CONNECTED" } else { "DISCONNECTED" },
            "onPremiseUrl": instance_base(base, hostname),
            "upstreamDnsUrl": format!("{hostname}.tunnel.fake-atlassian.invalid"),
        }),
    )
}

pub(crate) fn org(state: &mut State, base: &str, req: &Incoming, org: &str) -> Reply {
    if let Err(reply) = authorize_org(state, req, org) {
        return reply;
    }
    let Some(found) = state.orgs.iter().find(|o| o.id == org) else {
        return Reply::errors(404, "ADMIN-404-2", "Organization not found");
    };
    let this = format!("{base}/admin/v1/orgs/{}", found.id);
    Reply::json(
        200,
        &json!({
            "data": {
                "id": found.id,
                "type": "orgs",
                "attributes": {"name": found.name},
                "relationships": {
                    "domains": {"links": {"related": format!("{this}/domains")}},
                    "users": {"links": {"related": format!("{this}/users")}},
                },
                "links": {"self": this},
            },
            "links": {"self": this},
        }),
    )
}

pub(crate) fn user_tokens(state: &mut State, req: &Incoming, account: &str) -> Reply {
    if admin_org(state, req).is_none() {
        return user_mgmt_unauthorized();
    }
    if state.user(account).is_none() {
        return Reply::json(404, &json!({"key": "accountNotFound"}));
    }
    let tokens: Vec<Value> = state
        .tokens
        .iter()
        .filter(|t| t.account_id == account && !t.revoked)
        .map(|t| {
            let mut item = json!({
                "id": t.id,
                "label": t.label,
                "createdAt": iso(t.created_at),
                "expiry": iso(t.expires_at),
            });
            if let Some(at) = t.last_access {
                item["lastAccess"] = json!(iso(at));
            }
            item
        })
        .collect();
    Reply::json(200, &Value::Array(tokens))
}

pub(crate) fn revoke_user_token(
    state: &mut State,
    req: &Incoming,
    account: &str,
    token_id: &str,
) -> Reply {
    if admin_org(state, req).is_none() {
        return user_mgmt_unauthorized();
    }
    if state.user(account).is_none() {
        return Reply::json(404, &json!({"key": "accountNotFound"}));
    }
    match state
        .tokens
        .iter_mut()
        .find(|t| t.account_id == account && t.id == token_id && !t.revoked)
    {
        Some(token) => {
            token.revoked = true;
            Reply::empty(204)
        }
        None => Reply::json(404, &json!({"key": "notFound"})),
    }
}

/// `ALLOWED` as in Atlassian's example response; the fake's own word for a lapsed token is
/// `EXPIRED`.
fn token_status(token: &Token) -> &'static str {
    if token.is_live() {
        "ALLOWED"
    } else {
        "EXPIRED"
    }
}

pub(crate) fn org_tokens(state: &mut State, base: &str, req: &Incoming, org: &str) -> Reply {
    if let Err(reply) = authorize_org(state, req, org) {
        return reply;
    }
    let scope = format!("org-tokens:{org}");
    let (filters, offset) = match req.param("cursor") {
        Some(cursor) => match state.redeem_cursor(&scope, cursor) {
            Ok(found) => found,
            Err(CursorError::Unknown | CursorError::Expired) => {
                return Reply::errors(400, "ADMIN-400-1", "Invalid page cursor");
            }
        },
        None => (
            json!({"status": req.param("status"), "q": req.param("q")}),
            0,
        ),
    };
    let status = filters["status"].as_str().map(str::to_ascii_uppercase);
    let q = filters["q"].as_str().map(str::to_lowercase);
    let matching: Vec<Value> = state
        .tokens
        .iter()
        .filter(|t| !t.revoked && !state.is_service_account(&t.account_id))
        .filter_map(|t| state.user(&t.account_id).map(|u| (t, u)))
        .filter(|(t, _)| status.as_deref().is_none_or(|s| s == token_status(t)))
        .filter(|(t, u)| {
            q.as_deref().is_none_or(|q| {
                t.label.to_lowercase().contains(q) || u.email.to_lowercase().contains(q)
            })
        })
        .map(|(t, u)| {
            json!({
                "id": t.id,
                "label": t.label,
                "status": token_status(t),
                "createdAt": iso(t.created_at),
                "expiresAt": iso(t.expires_at),
                "lastActiveAt": t.last_access.map(iso),
                "user": {"id": u.account_id, "orgId": org, "name": u.display_name, "email": u.email},
                "scopes": t.scopes,
            })
        })
        .collect();
    let asked = req.param("limit").and_then(|l| l.parse::<usize>().ok());
    let size = asked
        .unwrap_or(usize::MAX)
        .min(state.config.org_token_page_size)
        .max(1);
    let page: Vec<Value> = matching.iter().skip(offset).take(size).cloned().collect();
    let path = format!("/admin/api-access/v1/orgs/{org}/api-tokens");
    let this = req.param("cursor").map(str::to_owned);
    let next = (offset + size < matching.len())
        .then(|| state.issue_cursor(&scope, filters.clone(), offset + size));
    Reply::json(
        200,
        &json!({
            "data": page,
            "links": {
                "self": state.link(base, &path, this.as_deref(), None),
                "next": next.map(|c| state.link(base, &path, Some(&c), None)),
                "prev": null,
            },
        }),
    )
}

/// Checks that the request carries the instance's PAT (Bearer) or its admin's password (Basic).
fn instance_auth(state: &State, req: &Incoming, hostname: &str) -> Result<(), Reply> {
    let Some(tunnel) = state.tunnel(hostname) else {
        return Err(jira_error(404, "No Data Center instance at this address"));
    };
    let by_pat = req.bearer().is_some_and(|pat| pat == tunnel.pat);
    let by_password = req
        .basic()
        .is_some_and(|(user, password)| user == DC_USERNAME && password == tunnel.password);
    match by_pat || by_password {
        true => Ok(()),
        false => Err(jira_error(
            401,
            "You are not authenticated. Authentication required to perform this operation.",
        )),
    }
}

pub(crate) fn install(state: &mut State, base: &str, req: &Incoming, hostname: &str) -> Reply {
    if let Err(reply) = instance_auth(state, req, hostname) {
        return reply;
    }
    let token = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_owned));
    let Some(token) = token else {
        return jira_error(400, "The request body must be {\"token\": \"...\"}");
    };
    let Some(tunnel) = state.tunnel_mut(hostname) else {
        return jira_error(404, "No Data Center instance at this address");
    };
    if token != tunnel.current_key {
        return jira_error(
            400,
            "The tunnel key is invalid or has been replaced by a newer one",
        );
    }
    tunnel.installed_key = Some(token);
    let (name, org_id) = (tunnel.name.clone(), tunnel.org_id.clone());
    let org_name = state
        .orgs
        .iter()
        .find(|o| o.id == org_id)
        .map(|o| o.name.clone())
        .unwrap_or_default();
    Reply::json(
        200,
        &json!({
            "name": name,
            "cloudOrgName": org_name,
            "cloudPageUrl": format!("https://admin.atlassian.com/o/{org_id}/data-center-tunnels"),
            "appLinksUrl": format!(
                "{}/plugins/servlet/applinks/listApplicationLinks",
                instance_base(base, hostname)
            ),
        }),
    )
}

pub(crate) fn dc_myself(state: &State, req: &Incoming, hostname: &str) -> Reply {
    if let Err(reply) = instance_auth(state, req, hostname) {
        return reply;
    }
    Reply::json(
        200,
        &json!({
            "name": DC_USERNAME,
            "key": "JIRAUSER10100",
            "displayName": "Rotation Admin",
            "emailAddress": "rotation-admin@dc.example.test",
            "active": true,
        }),
    )
}

pub(crate) fn probe(state: &State, hostname: &str) -> Reply {
    match state.tunnel(hostname) {
        None => jira_error(404, "No Data Center instance at this address"),
        Some(t) if t.connected() => Reply::json(200, &json!({"status": "CONNECTED"})),
        Some(_) => Reply::text(
            502,
            "text/plain",
            "Bad Gateway: the application tunnel is disconnected".to_owned(),
        ),
    }
}

/// `/rest/api/3/myself`. On the site, only Basic `email:token` of a classic token. On the API
/// gateway, a scoped token as Bearer (no email) or Basic, and a classic token as Basic; a
/// classic token sent as Bearer is refused, as Atlassian refuses it.
pub(crate) fn jira_myself(state: &mut State, base: &str, req: &Incoming, gateway: bool) -> Reply {
    let user = match (req.basic(), req.bearer()) {
        (Some((email, token)), _) => state.authenticate(Some(&email), &token, gateway),
        (None, Some(token)) if gateway => state.authenticate(None, token, true),
        _ => None,
    };
    let Some(user) = user else {
        return jira_error(401, "Client must be authenticated to access this resource.");
    };
    Reply::json(
        200,
        &json!({
            "self": format!("{base}/rest/api/3/user?accountId={}", user.account_id),
            "accountId": user.account_id,
            "accountType": "atlassian",
            "emailAddress": user.email,
            "displayName": user.display_name,
            "active": true,
            "timeZone": "Etc/UTC",
            "locale": "en_US",
        }),
    )
}
