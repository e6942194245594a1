//! Fault rules: what can go wrong on a route, and the `--fault` spec syntax.
//!
//! A rule is data (route selector, kind, optional count and rate) so the same
//! value comes from the command line, from `POST /sandbox/faults` and from the
//! library API. Applying rules lives in `apply.rs`; this file only describes
//! and parses them.
//!
//! The spec syntax is documented on [`parse_fault`], where callers see it.

mod apply;

pub(crate) use apply::{FaultBook, ForceDeny, tagged};

use std::fmt;
use std::time::Duration;

/// Every route name the sandbox tags, for validating selectors.
pub(crate) const ROUTES: &[&str] = &[
    "dapi.exchange",
    "dapi.delink",
    "dapi.identity",
    "dapi.connect",
    "oauth2.authorize",
    "oauth2.token",
    "oauth2.revoke",
    "oidc.discovery",
    "oidc.auth",
    "oidc.token",
    "oidc.logout",
    "oidc.revoke",
    "oidc.userinfo",
    "oidc.certs",
];

/// Default size of an `oversized` body: big enough to trip a sane client limit.
const OVERSIZED_DEFAULT: usize = 2 * 1024 * 1024;

/// One fault switch.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// A route name, `family.*`, or `*`.
    pub route: String,
    pub kind: FaultKind,
    /// Apply to the next `count` matching requests, then retire the rule.
    pub count: Option<u64>,
    /// Apply to this deterministic share (0..1) of matching requests.
    pub rate: Option<f64>,
}

/// What a fault does to the answer.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Answer normally, after this delay.
    Latency(Duration),
    /// Accept the request and never answer.
    Stall,
    /// `429 Too Many Requests` with this `Retry-After`.
    TooManyRequests(RetryAfter),
    /// Any other status, with a small JSON error body.
    Status(u16),
    /// `200` with `Content-Type: application/json` and a truncated object.
    MalformedJson,
    /// `200` with an HTML maintenance page, as a captive proxy would send.
    Html,
    /// `200` with a valid JSON body of about this many bytes.
    Oversized(usize),
    /// `200` with a body that keeps trickling and never ends.
    Trickle,
    /// Headers and part of the body, then the connection is dropped.
    Reset,
    /// The request is applied (codes used, tokens rotated), then the
    /// connection is dropped: the client never learns the outcome.
    Lose,
    /// Authorize endpoints act as if the user refused consent.
    Deny,
}

/// The `Retry-After` header a 429 carries.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryAfter {
    Seconds(u64),
    /// An HTTP date this many seconds after the sandbox clock's now.
    DateIn(u64),
    /// A value no client can parse, to test fallbacks.
    Garbage,
    None,
}

impl FaultRule {
    pub(crate) fn matches(&self, route: &str) -> bool {
        match self.route.strip_suffix('*') {
            Some(prefix) => route.starts_with(prefix),
            None => self.route == route,
        }
    }
}

/// Parses one `--fault` spec (also the strings of `POST /sandbox/faults`).
///
/// Syntax: `ROUTE:KIND[=ARG][,count=N][,rate=R]`
/// - `ROUTE`: a route name such as `dapi.exchange`, `oidc.token`, a family
///   prefix such as `oauth2.*`, or `*` for every route.
/// - `KIND`: `latency=MS` (or a humantime span like `1.5s`), `stall`,
///   `429[=SECS|date+SECS|garbage|none]` (the `Retry-After` header; default 1),
///   any other status code such as `500` or `503`, `malformed-json`, `html`,
///   `oversized[=BYTES]` (default 2 MiB), `trickle`, `reset`, `lose`
///   (the request is applied, then the connection dropped), `deny` (authorize
///   routes redirect with `error=access_denied`).
/// - `count=N` applies the rule to the next N matching requests only;
///   `rate=R` (0..1) applies it to a deterministic share of them (every
///   1/R-th), so tests can predict which request fails.
///
/// Examples: `dapi.exchange:503`, `oauth2.token:429=date+30,count=1`,
/// `*:latency=250`, `oidc.token:lose,count=1`, `dapi.*:500,rate=0.25`.
pub fn parse_fault(spec: &str) -> Result<FaultRule, String> {
    let (route, rest) = spec
        .split_once(':')
        .ok_or_else(|| format!("fault {spec:?}: expected ROUTE:KIND"))?;
    let route = parse_route(route.trim())?;
    let mut parts = rest.split(',');
    let kind = parse_kind(parts.next().unwrap_or_default().trim())?;
    let mut rule = FaultRule {
        route,
        kind,
        count: None,
        rate: None,
    };
    for opt in parts {
        parse_option(&mut rule, opt.trim())?;
    }
    Ok(rule)
}

fn parse_route(route: &str) -> Result<String, String> {
    let known = match route.strip_suffix('*') {
        Some(prefix) => prefix.is_empty() || ROUTES.iter().any(|r| r.starts_with(prefix)),
        None => ROUTES.contains(&route),
    };
    if known {
        Ok(route.to_owned())
    } else {
        Err(format!(
            "unknown fault route {route:?}; known: *, FAMILY.*, {}",
            ROUTES.join(", ")
        ))
    }
}

fn parse_kind(kind: &str) -> Result<FaultKind, String> {
    let (name, arg) = match kind.split_once('=') {
        Some((n, a)) => (n.trim(), Some(a.trim())),
        None => (kind, None),
    };
    Ok(match (name, arg) {
        ("latency", Some(ms)) => FaultKind::Latency(parse_duration(ms)?),
        ("stall", None) => FaultKind::Stall,
        ("429", arg) => FaultKind::TooManyRequests(parse_retry_after(arg)?),
        ("malformed-json" | "malformed", None) => FaultKind::MalformedJson,
        ("html", None) => FaultKind::Html,
        ("oversized", None) => FaultKind::Oversized(OVERSIZED_DEFAULT),
        ("oversized", Some(n)) => FaultKind::Oversized(parse_number(n)?),
        ("trickle", None) => FaultKind::Trickle,
        ("reset", None) => FaultKind::Reset,
        ("lose", None) => FaultKind::Lose,
        ("deny", None) => FaultKind::Deny,
        (code, None) => FaultKind::Status(parse_status(code)?),
        _ => return Err(format!("unknown fault kind {kind:?}")),
    })
}

fn parse_option(rule: &mut FaultRule, opt: &str) -> Result<(), String> {
    match opt.split_once('=') {
        Some(("count", n)) => rule.count = Some(parse_number(n)?),
        Some(("rate", r)) => {
            let rate: f64 = r.parse().map_err(|_| format!("bad rate {r:?}"))?;
            if !(rate > 0.0 && rate <= 1.0) {
                return Err(format!("rate {r} must be in (0, 1]"));
            }
            rule.rate = Some(rate);
        }
        _ => return Err(format!("unknown fault option {opt:?} (count=N, rate=R)")),
    }
    Ok(())
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(ms) = s.parse::<u64>() {
        return Ok(Duration::from_millis(ms));
    }
    humantime::parse_duration(s).map_err(|e| format!("bad latency {s:?}: {e}"))
}

fn parse_retry_after(arg: Option<&str>) -> Result<RetryAfter, String> {
    Ok(match arg {
        None => RetryAfter::Seconds(1),
        Some("garbage") => RetryAfter::Garbage,
        Some("none") => RetryAfter::None,
        Some(a) => match a.strip_prefix("date+") {
            Some(secs) => RetryAfter::DateIn(parse_number(secs)?),
            None => RetryAfter::Seconds(parse_number(a)?),
        },
    })
}

fn parse_status(code: &str) -> Result<u16, String> {
    match code.parse::<u16>() {
        Ok(n) if (400..=599).contains(&n) => Ok(n),
        _ => Err(format!("unknown fault kind {code:?}")),
    }
}

fn parse_number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("expected a number, got {s:?}"))
}

impl fmt::Display for FaultRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.route, self.kind)?;
        if let Some(n) = self.count {
            write!(f, ",count={n}")?;
        }
        if let Some(r) = self.rate {
            write!(f, ",rate={r}")?;
        }
        Ok(())
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latency(d) => write!(f, "latency={}", d.as_millis()),
            Self::Stall => f.write_str("stall"),
            Self::TooManyRequests(RetryAfter::Seconds(s)) => write!(f, "429={s}"),
            Self::TooManyRequests(RetryAfter::DateIn(s)) => write!(f, "429=date+{s}"),
            Self::TooManyRequests(RetryAfter::Garbage) => f.write_str("429=garbage"),
            Self::TooManyRequests(RetryAfter::None) => f.write_str("429=none"),
            Self::Status(code) => write!(f, "{code}"),
            Self::MalformedJson => f.write_str("malformed-json"),
            Self::Html => f.write_str("html"),
            Self::Oversized(n) => write!(f, "oversized={n}"),
            Self::Trickle => f.write_str("trickle"),
            Self::Reset => f.write_str("reset"),
            Self::Lose => f.write_str("lose"),
            Self::Deny => f.write_str("deny"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_through_display() {
        for spec in [
            "dapi.exchange:503",
            "oauth2.token:429=date+30,count=1",
            "*:latency=250",
            "oidc.*:lose,count=2,rate=0.5",
            "oidc.token:oversized=10",
            "oauth2.authorize:deny",
            "dapi.delink:429=garbage",
        ] {
            assert_eq!(parse_fault(spec).unwrap().to_string(), spec);
        }
    }

    #[test]
    fn parses_each_part() {
        let rule = parse_fault("dapi.*:latency=1.5s,count=3").unwrap();
        assert_eq!(rule.kind, FaultKind::Latency(Duration::from_millis(1500)));
        assert_eq!(rule.count, Some(3));
        assert!(rule.matches("dapi.exchange") && !rule.matches("oidc.token"));
        let default = parse_fault("oidc.token:429").unwrap();
        assert_eq!(
            default.kind,
            FaultKind::TooManyRequests(RetryAfter::Seconds(1))
        );
    }

    #[test]
    fn rejects_nonsense() {
        for spec in [
            "nope",
            "dapi.exchnage:500",
            "dapi.exchange:teapot",
            "dapi.exchange:200",
            "*:500,rate=2",
            "*:500,every=2",
            "*:latency",
        ] {
            assert!(parse_fault(spec).is_err(), "{spec}");
        }
    }
}
