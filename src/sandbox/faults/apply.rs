//! Applying fault rules: the per-route middleware and the broken answers.
//!
//! Every provider route is wrapped by [`tagged`], which counts the request
//! (for `/sandbox/state` and `request_count`), asks the [`FaultBook`] whether
//! a rule fires, and either passes through or answers badly. Broken bodies are
//! built from streams because that is the only way to make hyper send headers
//! and then abort, or keep a response open forever.

use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use futures::stream;

use super::{FaultKind, FaultRule, RetryAfter};
use crate::sandbox::shared::{AppState, lock};

/// Interval between the bytes of a trickling body.
const TRICKLE_EVERY: Duration = Duration::from_millis(50);
/// How long a reset waits after its partial body, so hyper flushes it first.
const FLUSH_PAUSE: Duration = Duration::from_millis(20);

/// Marks a request whose authorize step must act as a refused consent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ForceDeny;

/// The active rules, with how many matching requests each has seen (for `rate`).
#[derive(Debug, Default)]
pub(crate) struct FaultBook {
    rules: Vec<(FaultRule, u64)>,
}

impl FaultBook {
    pub(crate) fn new(rules: Vec<FaultRule>) -> Self {
        Self {
            rules: rules.into_iter().map(|r| (r, 0)).collect(),
        }
    }

    pub(crate) fn add(&mut self, rules: Vec<FaultRule>) {
        self.rules.extend(rules.into_iter().map(|r| (r, 0)));
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn specs(&self) -> Vec<String> {
        self.rules.iter().map(|(r, _)| r.to_string()).collect()
    }

    /// The fault to apply to this request, if a rule fires; uses up counts.
    pub(crate) fn take(&mut self, route: &str) -> Option<FaultKind> {
        let idx = self.rules.iter_mut().position(|(rule, seen)| {
            if !rule.matches(route) {
                return false;
            }
            *seen += 1;
            // Fire when the running total of `rate` crosses an integer:
            // rate 0.5 fires on every 2nd request, 0.25 on every 4th.
            rule.rate.is_none_or(|r| {
                let n = *seen as f64;
                (n * r).floor() > ((n - 1.0) * r).floor()
            })
        })?;
        let (rule, _) = &mut self.rules[idx];
        let kind = rule.kind.clone();
        if let Some(left) = rule.count.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.rules.remove(idx);
            }
        }
        Some(kind)
    }
}

#[derive(Clone)]
struct Tag {
    shared: AppState,
    route: &'static str,
}

/// Wraps a provider route so it is counted and can be faulted under `route`.
pub(crate) fn tagged(
    shared: &AppState,
    route: &'static str,
    inner: MethodRouter<AppState>,
) -> MethodRouter<AppState> {
    let tag = Tag {
        shared: shared.clone(),
        route,
    };
    inner.layer(middleware::from_fn_with_state(tag, intercept))
}

async fn intercept(State(tag): State<Tag>, mut req: Request, next: Next) -> Response {
    tag.shared.count(tag.route);
    let fault = lock(&tag.shared.faults).take(tag.route);
    tracing::debug!(route = tag.route, fault = ?fault.as_ref().map(|k| k.to_string()), "sandbox request");
    let Some(kind) = fault else {
        return next.run(req).await;
    };
    match kind {
        FaultKind::Latency(delay) => {
            tokio::time::sleep(delay).await;
            next.run(req).await
        }
        FaultKind::Stall => {
            tag.shared.closed().await;
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        FaultKind::Deny => {
            req.extensions_mut().insert(ForceDeny);
            next.run(req).await
        }
        FaultKind::Lose => {
            // The handler's effects stay applied; only the answer is lost.
            let _lost = next.run(req).await;
            aborted_body(None)
        }
        other => canned(&other, &tag.shared),
    }
}

fn canned(kind: &FaultKind, shared: &AppState) -> Response {
    match kind {
        FaultKind::TooManyRequests(after) => too_many(after, shared.clock.now()),
        FaultKind::Status(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = serde_json::json!({"error": "sandbox_fault", "status": code});
            (status, axum::Json(body)).into_response()
        }
        FaultKind::MalformedJson => json_200(Body::from(r#"{"success": true, "status": "do"#)),
        FaultKind::Html => html_200(),
        FaultKind::Oversized(size) => json_200(Body::from(oversized(*size))),
        FaultKind::Trickle => json_200(trickle(shared.clone())),
        FaultKind::Reset => aborted_body(Some(r#"{"success":true,"sta"#)),
        // Handled in `intercept`; kept total so a new kind cannot be forgotten.
        FaultKind::Latency(_) | FaultKind::Stall | FaultKind::Deny | FaultKind::Lose => {
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn too_many(after: &RetryAfter, now: i64) -> Response {
    let value = match after {
        RetryAfter::Seconds(s) => Some(s.to_string()),
        RetryAfter::DateIn(s) => {
            let at = u64::try_from(now).unwrap_or(0).saturating_add(*s);
            let when = std::time::UNIX_EPOCH + Duration::from_secs(at);
            Some(httpdate::fmt_http_date(when))
        }
        RetryAfter::Garbage => Some("soon-ish, maybe".to_owned()),
        RetryAfter::None => None,
    };
    let body = serde_json::json!({"error": "too_many_requests", "error_description": "Rate limit exceeded"});
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn json_200(body: Body) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn html_200() -> Response {
    let page = "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>\
                <body><h1>We'll be right back</h1><p>Scheduled maintenance.</p></body></html>\n";
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// A valid JSON object of exactly `size` bytes (at least 14).
fn oversized(size: usize) -> String {
    let pad = size.saturating_sub(14);
    format!(r#"{{"padding":"{}"}}"#, "x".repeat(pad))
}

/// A JSON body that starts, then adds a space every [`TRICKLE_EVERY`] until
/// the sandbox shuts down.
fn trickle(shared: AppState) -> Body {
    let chunks = stream::unfold((shared, true), |(shared, first)| async move {
        if first {
            return Some((
                Ok::<_, io::Error>(Bytes::from_static(b"{\"data\":")),
                (shared, false),
            ));
        }
        tokio::select! {
            () = tokio::time::sleep(TRICKLE_EVERY) => Some((Ok(Bytes::from_static(b" ")), (shared, false))),
            () = shared.closed() => None,
        }
    });
    Body::from_stream(chunks)
}

/// Where an aborted body is in its short life.
enum Abort {
    Partial(&'static str),
    /// Lets hyper flush the partial body before the error ends the connection.
    Pause,
    Fail,
    Done,
}

/// `200` headers, then `partial` (if any), then an error that makes hyper
/// abort the connection instead of finishing the message. Without `partial`
/// the error comes at once, so typically not even the headers get out.
fn aborted_body(partial: Option<&'static str>) -> Response {
    let start = partial.map_or(Abort::Fail, Abort::Partial);
    let chunks = stream::unfold(start, |step| async move {
        let reset = || io::Error::new(io::ErrorKind::ConnectionReset, "sandbox fault");
        match step {
            Abort::Partial(text) => Some((Ok(Bytes::from_static(text.as_bytes())), Abort::Pause)),
            Abort::Pause => {
                tokio::time::sleep(FLUSH_PAUSE).await;
                Some((Err(reset()), Abort::Done))
            }
            Abort::Fail => Some((Err(reset()), Abort::Done)),
            Abort::Done => None,
        }
    });
    json_200(Body::from_stream(chunks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::faults::parse_fault;

    #[test]
    fn count_retires_a_rule_and_rate_is_deterministic() {
        let mut book = FaultBook::new(vec![
            parse_fault("dapi.exchange:503,count=1").unwrap(),
            parse_fault("oidc.*:500,rate=0.5").unwrap(),
        ]);
        assert_eq!(book.take("dapi.exchange"), Some(FaultKind::Status(503)));
        assert_eq!(book.take("dapi.exchange"), None);
        let fired: Vec<bool> = (0..4).map(|_| book.take("oidc.token").is_some()).collect();
        assert_eq!(fired, [false, true, false, true]);
        assert_eq!(book.specs(), ["oidc.*:500,rate=0.5"]);
    }

    #[test]
    fn oversized_body_is_valid_json_of_the_asked_size() {
        let body = oversized(1000);
        assert_eq!(body.len(), 1000);
        serde_json::from_str::<serde_json::Value>(&body).unwrap();
    }
}
