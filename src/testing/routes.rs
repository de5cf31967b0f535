//! Which endpoint a request is for, and the handler that answers it.

use hyper::Method;

use super::Route;
use super::server::{Incoming, Reply};
use super::state::State;
use super::{admin, api_access, automation};

/// A routed request with its path parameters.
pub(crate) enum Endpoint {
    Regenerate {
        org: String,
        hostname: String,
    },
    Org {
        org: String,
    },
    UserTokens {
        account: String,
    },
    RevokeUserToken {
        account: String,
        token: String,
    },
    OrgTokens {
        org: String,
    },
    AdminKeys {
        org: String,
    },
    AdminKeyCount {
        org: String,
    },
    RevokeAdminKey {
        org: String,
        key: String,
    },
    ServiceAccounts {
        org: String,
    },
    ServiceAccountTokens {
        org: String,
        account: String,
    },
    RevokeServiceAccountTokens {
        org: String,
        account: String,
    },
    Install {
        hostname: String,
    },
    DcMyself {
        hostname: String,
    },
    Probe {
        hostname: String,
    },
    /// `gateway`: on the API gateway (`/ex/jira/{cloudId}/...`) rather than the site.
    JiraMyself {
        gateway: bool,
    },
    /// `prefix` is the path up to and including the cloud id, for full-URL links.
    RuleSummaries {
        cloud: String,
        prefix: String,
    },
    RuleSearch {
        cloud: String,
        prefix: String,
    },
    RuleGet {
        cloud: String,
        uuid: String,
    },
    RulePut {
        cloud: String,
        uuid: String,
    },
    RuleState {
        cloud: String,
        uuid: String,
    },
}

impl Endpoint {
    pub fn route(&self) -> Route {
        match self {
            Self::Regenerate { .. } => Route::AdminRegenerate,
            Self::Org { .. } => Route::AdminOrg,
            Self::UserTokens { .. } => Route::UserTokens,
            Self::RevokeUserToken { .. } => Route::RevokeUserToken,
            Self::OrgTokens { .. } => Route::OrgTokens,
            Self::AdminKeys { .. } => Route::AdminKeys,
            Self::AdminKeyCount { .. } => Route::AdminKeyCount,
            Self::RevokeAdminKey { .. } => Route::RevokeAdminKey,
            Self::ServiceAccounts { .. } => Route::ServiceAccounts,
            Self::ServiceAccountTokens { .. } => Route::ServiceAccountTokens,
            Self::RevokeServiceAccountTokens { .. } => Route::RevokeServiceAccountTokens,
            Self::Install { .. } => Route::InstallTunnelKey,
            Self::DcMyself { .. } => Route::DcMyself,
            Self::Probe { .. } => Route::TunnelProbe,
            Self::JiraMyself { .. } => Route::JiraMyself,
            Self::RuleSummaries { .. } => Route::RuleSummaries,
            Self::RuleSearch { .. } => Route::RuleSearch,
            Self::RuleGet { .. } => Route::RuleGet,
            Self::RulePut { .. } => Route::RulePut,
            Self::RuleState { .. } => Route::RuleState,
        }
    }
}

/// Matches the method and the decoded path segments against every route the fake serves.
pub(crate) fn classify(req: &Incoming) -> Option<Endpoint> {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let s = |v: &str| v.to_owned();
    let m = &req.method;
    let endpoint = match segs.as_slice() {
        ["admin", "v1", "orgs", org, "tunnels", host, "token"] if m == Method::PUT => {
            Endpoint::Regenerate {
                org: s(org),
                hostname: s(host),
            }
        }
        ["admin", "v1", "orgs", org] if m == Method::GET => Endpoint::Org { org: s(org) },
        ["users", account, "manage", "api-tokens"] if m == Method::GET => Endpoint::UserTokens {
            account: s(account),
        },
        ["users", account, "manage", "api-tokens", token] if m == Method::DELETE => {
            Endpoint::RevokeUserToken {
                account: s(account),
                token: s(token),
            }
        }
        ["admin", "api-access", "v1", "orgs", org, "api-tokens"] if m == Method::GET => {
            Endpoint::OrgTokens { org: s(org) }
        }
        ["admin", "api-access", "v1", "orgs", org, rest @ ..] => api_access_endpoint(m, org, rest)?,
        [
            "dc",
            host,
            "rest",
            "secure-tunneling",
            "latest",
            "tunnel",
            "token",
        ] if m == Method::PUT => Endpoint::Install { hostname: s(host) },
        ["dc", host, "rest", "api", "2", "myself"] if m == Method::GET => {
            Endpoint::DcMyself { hostname: s(host) }
        }
        ["dc", host, "probe"] if m == Method::GET => Endpoint::Probe { hostname: s(host) },
        ["rest", "api", "3", "myself"] if m == Method::GET => {
            Endpoint::JiraMyself { gateway: false }
        }
        ["ex", "jira", _cloud, "rest", "api", "3", "myself"] if m == Method::GET => {
            Endpoint::JiraMyself { gateway: true }
        }
        ["automation", "public", product, cloud, rest @ ..] => {
            let prefix = format!("/automation/public/{product}/{cloud}");
            automation_endpoint(m, product, cloud, prefix, rest)?
        }
        [
            "gateway",
            "api",
            "automation",
            "public",
            product,
            cloud,
            rest @ ..,
        ] => {
            let prefix = format!("/gateway/api/automation/public/{product}/{cloud}");
            automation_endpoint(m, product, cloud, prefix, rest)?
        }
        _ => return None,
    };
    Some(endpoint)
}

/// The API Access routes below `/admin/api-access/v1/orgs/{org}` besides the org's API tokens.
fn api_access_endpoint(m: &Method, org: &str, rest: &[&str]) -> Option<Endpoint> {
    let org = org.to_owned();
    Some(match rest {
        ["api-keys"] if m == Method::GET => Endpoint::AdminKeys { org },
        ["api-keys", "count"] if m == Method::GET => Endpoint::AdminKeyCount { org },
        ["api-keys", "revoke", key] if m == Method::PATCH => Endpoint::RevokeAdminKey {
            org,
            key: (*key).to_owned(),
        },
        ["service-accounts"] if m == Method::GET => Endpoint::ServiceAccounts { org },
        ["service-accounts", account, "api-tokens"] if m == Method::GET => {
            Endpoint::ServiceAccountTokens {
                org,
                account: (*account).to_owned(),
            }
        }
        ["service-accounts", account, "api-tokens"] if m == Method::DELETE => {
            Endpoint::RevokeServiceAccountTokens {
                org,
                account: (*account).to_owned(),
            }
        }
        _ => return None,
    })
}

fn automation_endpoint(
    m: &Method,
    product: &str,
    cloud: &str,
    prefix: String,
    rest: &[&str],
) -> Option<Endpoint> {
    if !matches!(product, "jira" | "confluence") {
        return None;
    }
    let cloud = cloud.to_owned();
    Some(match rest {
        ["rest", "v1", "rule", "summary"] if m == Method::GET => {
            Endpoint::RuleSummaries { cloud, prefix }
        }
        ["rest", "v1", "rule", "summary"] if m == Method::POST => {
            Endpoint::RuleSearch { cloud, prefix }
        }
        ["rest", "v1", "rule", uuid] if m == Method::GET => Endpoint::RuleGet {
            cloud,
            uuid: (*uuid).to_owned(),
        },
        ["rest", "v1", "rule", uuid] if m == Method::PUT => Endpoint::RulePut {
            cloud,
            uuid: (*uuid).to_owned(),
        },
        ["rest", "v1", "rule", uuid, "state"] if m == Method::PUT => Endpoint::RuleState {
            cloud,
            uuid: (*uuid).to_owned(),
        },
        _ => return None,
    })
}

/// Answers a routed request; an unrouted one gets a loud 404.
pub(crate) fn dispatch(
    state: &mut State,
    base: &str,
    req: &Incoming,
    endpoint: Option<Endpoint>,
) -> Reply {
    let Some(endpoint) = endpoint else {
        return Reply::errors(
            404,
            "fake.no-such-route",
            &format!(
                "FakeAtlassian has no route for {} /{}",
                req.method,
                req.segments.join("/")
            ),
        );
    };
    match endpoint {
        Endpoint::Regenerate { org, hostname } => {
            admin::regenerate(state, base, req, &org, &hostname)
        }
        Endpoint::Org { org } => admin::org(state, base, req, &org),
        Endpoint::UserTokens { account } => admin::user_tokens(state, req, &account),
        Endpoint::RevokeUserToken { account, token } => {
            admin::revoke_user_token(state, req, &account, &token)
        }
        Endpoint::OrgTokens { org } => admin::org_tokens(state, base, req, &org),
        Endpoint::AdminKeys { org } => api_access::admin_keys(state, base, req, &org),
        Endpoint::AdminKeyCount { org } => api_access::admin_key_count(state, req, &org),
        Endpoint::RevokeAdminKey { org, key } => {
            api_access::revoke_admin_key(state, req, &org, &key)
        }
        Endpoint::ServiceAccounts { org } => api_access::service_accounts(state, base, req, &org),
        Endpoint::ServiceAccountTokens { org, account } => {
            api_access::service_account_tokens(state, base, req, &org, &account)
        }
        Endpoint::RevokeServiceAccountTokens { org, account } => {
            api_access::revoke_service_account_tokens(state, req, &org, &account)
        }
        Endpoint::Install { hostname } => admin::install(state, base, req, &hostname),
        Endpoint::DcMyself { hostname } => admin::dc_myself(state, req, &hostname),
        Endpoint::Probe { hostname } => admin::probe(state, &hostname),
        Endpoint::JiraMyself { gateway } => admin::jira_myself(state, base, req, gateway),
        Endpoint::RuleSummaries { cloud, prefix } => {
            automation::summaries(state, base, req, &cloud, &prefix)
        }
        Endpoint::RuleSearch { cloud, prefix } => {
            automation::search(state, base, req, &cloud, &prefix)
        }
        Endpoint::RuleGet { cloud, uuid } => automation::get(state, req, &cloud, &uuid),
        Endpoint::RulePut { cloud, uuid } => automation::put(state, req, &cloud, &uuid),
        Endpoint::RuleState { cloud, uuid } => automation::set_state(state, req, &cloud, &uuid),
    }
}
