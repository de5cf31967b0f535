//! The HTTP side: a small hyper 1 server on loopback, one task per connection.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::fault::Effect;
use super::log::{KEPT_HEADERS, RequestRecord};
use super::routes::{self, Endpoint};
use super::state::{Arrival, State, random_hex};

/// What every route handler and fault shares.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Shared {
    pub fn new(base: String) -> Self {
        Self {
            state: Mutex::new(State::default()),
            base,
        }
    }

    /// Locks the state. Never held across an await; a panic in a handler does not poison the
    /// fake for the rest of the test.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A request, read in full.
pub(crate) struct Incoming {
    pub method: hyper::Method,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub body: Bytes,
}

impl Incoming {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The credential after `Bearer `.
    pub fn bearer(&self) -> Option<&str> {
        let auth = self.authorization.as_deref()?;
        let (scheme, token) = auth.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }

    /// `(email, token)` from `Basic base64(email:token)`.
    pub fn basic(&self) -> Option<(String, String)> {
        use base64::Engine as _;
        let auth = self.authorization.as_deref()?;
        let (scheme, encoded) = auth.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (email, token) = decoded.split_once(':')?;
        Some((email.to_owned(), token.to_owned()))
    }
}

/// A response, before it becomes a hyper one.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, body: &impl serde::Serialize) -> Self {
        // Serializing a `Value` or a struct of references cannot fail.
        Self::bytes(
            status,
            "application/json",
            serde_json::to_vec(body).unwrap_or_default(),
        )
    }

    pub fn text(status: u16, content_type: &str, body: String) -> Self {
        Self::bytes(status, content_type, body.into_bytes())
    }

    fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The Automation and organization APIs' error shape, `{"errors": [{id, status, code, title}]}`.
    pub fn errors(status: u16, code: &str, title: &str) -> Self {
        Self::field_error(status, code, title, None)
    }

    /// [`Reply::errors`] about one request field.
    pub fn field_error(status: u16, code: &str, title: &str, field: Option<&str>) -> Self {
        let mut item = json!({
            "id": super::state::random_uuid(&mut fastrand::Rng::new()),
            "status": status.to_string(),
            "code": code,
            "title": title,
        });
        if let Some(field) = field {
            item["field"] = json!(field);
        }
        Self::json(status, &json!({ "errors": [item] }))
    }

    pub fn header(mut self, name: &str, value: String) -> Self {
        self.headers.push((name.to_owned(), value));
        self
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut builder = Response::builder()
            .status(self.status)
            .header("Atl-Traceid", random_hex(16));
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        builder
            .body(Full::new(Bytes::from(self.body)))
            .unwrap_or_else(|_| {
                let mut fallback = Response::new(Full::new(Bytes::from_static(b"bad fake reply")));
                *fallback.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                fallback
            })
    }
}

/// Returned from the service to make hyper close the connection without a response.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

/// Accepts connections until the task is aborted; aborting it drops the listener and every
/// open connection with it.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |req| handle(Arc::clone(&shared), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Answers one request, then holds the answer until the configured latency has passed since the
/// request arrived: the fake's own work is part of the latency, not added to it, so the latency
/// a client sees does not grow with the load on the fake.
async fn handle(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let mut arrival = Arrival::now();
    let latency = shared.lock().config.latency;
    let answer = answer(&shared, req, &mut arrival).await;
    latency.since(arrival).await;
    answer
}

/// The answer to one request; `arrival` moves past a [`Fault::latency`](super::Fault::latency)
/// delay, so that the configured latency adds to it.
async fn answer(
    shared: &Shared,
    req: Request<hyper::body::Incoming>,
    arrival: &mut Arrival,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let incoming = Incoming {
        method: parts.method.clone(),
        segments: parts
            .uri
            .path()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect(),
        query: parts
            .uri
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default(),
        authorization: header("authorization"),
        body,
    };
    let endpoint = routes::classify(&incoming);
    let route = endpoint.as_ref().map(Endpoint::route);
    let record = RequestRecord {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        route,
        headers: KEPT_HEADERS
            .iter()
            .filter_map(|name| header(name).map(|v| ((*name).to_owned(), v)))
            .collect(),
        authorization: incoming.authorization.clone(),
        body: incoming.body.to_vec(),
    };

    let (refusal, fault) = {
        let mut state = shared.lock();
        state.log.push(record);
        let refusal = state.rate_limit.as_mut().and_then(|limit| limit.check());
        let fault = match (&refusal, route) {
            (None, Some(route)) => take_fault(&mut state, route),
            _ => None,
        };
        (refusal, fault)
    };
    if let Some(reply) = refusal {
        return Ok(reply.into_response());
    }

    let handle_now = |endpoint: Option<Endpoint>| {
        let mut state = shared.lock();
        routes::dispatch(&mut state, &shared.base, &incoming, endpoint)
    };
    let Some((effect, apply_first)) = fault else {
        return Ok(handle_now(endpoint).into_response());
    };
    match effect {
        Effect::Delay(delay) => {
            tokio::time::sleep(delay).await;
            *arrival = Arrival::now();
            Ok(handle_now(endpoint).into_response())
        }
        Effect::Hold(gate) => {
            gate.hold().await;
            *arrival = Arrival::now();
            Ok(handle_now(endpoint).into_response())
        }
        Effect::Drop => {
            if apply_first {
                handle_now(endpoint);
            }
            Err(DropConnection)
        }
        Effect::Respond(reply) => {
            if apply_first {
                handle_now(endpoint);
            }
            Ok(reply.into_response())
        }
    }
}

/// Takes one use of the first fault registered for `route`.
fn take_fault(state: &mut State, route: super::Route) -> Option<(Effect, bool)> {
    let index = state
        .faults
        .iter()
        .position(|(r, f)| r.matches(route) && f.remaining > 0)?;
    let (_, fault) = &mut state.faults[index];
    fault.remaining -= 1;
    let taken = (fault.kind.effect(), fault.apply_first);
    if fault.remaining == 0 {
        state.faults.remove(index);
    }
    Some(taken)
}

/// Decodes `%XX` escapes in one path segment.
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
