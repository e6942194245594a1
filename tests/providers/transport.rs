//! The hardened HTTP client against servers that misbehave on purpose: size
//! cap, endless body, reset mid-body, throttling with Retry-After, retries
//! only for reads, cross-host redirects, refused connections, plain http.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use bankdeck::domain::{ErrorKind, Secret};
use bankdeck::providers::build;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::{Counter, canned_oauth2, oidc_config, serve, with_timeout};

const TOKEN: &str = r#"{"access_token":"a","token_type":"Bearer","expires_in":60}"#;

async fn token_route(handler: axum::routing::MethodRouter) -> String {
    format!(
        "{}/token",
        serve(Router::new().route("/token", handler)).await
    )
}

#[tokio::test]
async fn bodies_past_one_mib_are_refused_with_or_without_length() {
    let big = token_route(post(|| async { "x".repeat(2 * 1024 * 1024) })).await;
    let streamed = token_route(post(|| async {
        let chunks =
            futures::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 64 * 1024])));
        Body::from_stream(chunks)
    }))
    .await;
    for url in [big, streamed] {
        let e = build(&canned_oauth2(&url))
            .unwrap()
            .client_credentials()
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol);
        assert!(
            e.message.contains("response larger than 1 MiB"),
            "{}",
            e.message
        );
    }
}

#[tokio::test]
async fn a_body_that_never_ends_hits_the_deadline() {
    let url = token_route(post(|| async {
        let drip = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Some((Ok::<_, std::io::Error>(vec![b' ']), ()))
        });
        (
            [(header::CONTENT_TYPE, "application/json")],
            Body::from_stream(drip),
        )
    }))
    .await;
    let p = build(&with_timeout(canned_oauth2(&url), Duration::from_secs(1))).unwrap();
    let started = Instant::now();
    let e = p.client_credentials().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn a_connection_cut_mid_body_is_a_network_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await.unwrap();
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(b"{\"access_token\":\"a").await.unwrap();
        s.flush().await.unwrap();
        // Dropped here: the peer sees the connection end 980 bytes early.
    });
    let p = build(&canned_oauth2(&format!("http://{addr}/token"))).unwrap();
    let e = p.client_credentials().await.unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Lost,
        "the request went out: it may have been acted on"
    );
    assert!(
        e.message
            .contains("connection reset while reading the response"),
        "{}",
        e.message
    );
}

async fn throttled_post(retry_after: &'static str) -> (String, Counter) {
    let calls = Counter::default();
    let c = calls.clone();
    let url = token_route(post(move || async move {
        c.bump();
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after)],
            "slow down",
        )
    }))
    .await;
    (url, calls)
}

#[tokio::test]
async fn a_throttled_token_post_reports_retry_after_and_is_not_retried() {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
    let date: &'static str = Box::leak(date.into_boxed_str());
    for (header, expected) in [
        ("7", Some(7..=7)),
        (date, Some(100..=121)),
        ("whenever", None),
    ] {
        let (url, calls) = throttled_post(header).await;
        let e = build(&canned_oauth2(&url))
            .unwrap()
            .refresh(&Secret::new("rt"))
            .await
            .unwrap_err()
            .error;
        assert_eq!(e.kind, ErrorKind::RateLimited);
        match expected {
            Some(range) => assert!(range.contains(&e.retry_after.unwrap()), "{header}: {e:?}"),
            None => assert_eq!(e.retry_after, None, "{header}"),
        }
        assert_eq!(calls.get(), 1, "token POSTs are never retried");
    }
}

#[tokio::test]
async fn a_5xx_on_a_token_post_is_not_retried() {
    let calls = Counter::default();
    let c = calls.clone();
    let url = token_route(post(move || async move {
        c.bump();
        (StatusCode::INTERNAL_SERVER_ERROR, "boom")
    }))
    .await;
    let e = build(&canned_oauth2(&url))
        .unwrap()
        .client_credentials()
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Server);
    assert_eq!(calls.get(), 1);
}

/// An issuer whose discovery fails `failures` times (429 with a garbage
/// Retry-After, then 500s) before it answers; its token endpoint works.
async fn flaky_issuer(failures: usize) -> (String, Counter) {
    let calls = Counter::default();
    let c = calls.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let b = base.clone();
    let discovery = get(move || async move {
        match c.bump() {
            1 if failures >= 1 => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "later")],
                "",
            )
                .into_response(),
            n if n <= failures => StatusCode::BAD_GATEWAY.into_response(),
            _ => axum::Json(json!({
                "issuer": format!("{b}/realms/test"),
                "token_endpoint": format!("{b}/token"),
            }))
            .into_response(),
        }
    });
    let app = Router::new()
        .route("/realms/test/.well-known/openid-configuration", discovery)
        .route(
            "/token",
            post(|| async { ([(header::CONTENT_TYPE, "application/json")], TOKEN) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, calls)
}

#[tokio::test]
async fn a_read_is_retried_through_429_and_5xx() {
    let (base, calls) = flaky_issuer(2).await;
    let p = build(&oidc_config(&base)).unwrap();
    p.client_credentials().await.unwrap();
    assert_eq!(calls.get(), 3);
}

#[tokio::test]
async fn a_read_gives_up_after_three_attempts() {
    let (base, calls) = flaky_issuer(10).await;
    let e = build(&oidc_config(&base))
        .unwrap()
        .client_credentials()
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Server, "{}", e.message);
    assert_eq!(calls.get(), 3);
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed() {
    let other_calls = Counter::default();
    let c = other_calls.clone();
    let other = serve(Router::new().route(
        "/token",
        post(move |h: HeaderMap| async move {
            c.bump();
            assert!(h.get(header::AUTHORIZATION).is_none());
            TOKEN
        }),
    ))
    .await;
    let other = other.replace("127.0.0.1", "localhost");
    let url = token_route(post(move || async move {
        Redirect::temporary(&format!("{other}/token"))
    }))
    .await;
    let e = build(&canned_oauth2(&url))
        .unwrap()
        .client_credentials()
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(
        e.message.contains("redirected to localhost"),
        "{}",
        e.message
    );
    assert_eq!(other_calls.get(), 0, "nothing reached the other host");
}

#[tokio::test]
async fn a_same_origin_redirect_is_followed() {
    let app = Router::new()
        .route("/old", post(|| async { Redirect::permanent("/token") }))
        .route(
            "/token",
            post(|| async { ([(header::CONTENT_TYPE, "application/json")], TOKEN) }),
        );
    let base = serve(app).await;
    let p = build(&canned_oauth2(&format!("{base}/old"))).unwrap();
    p.client_credentials().await.unwrap();
}

/// A 301, 302 or 303 turns a POST into a GET without its body: never
/// followed, so a GET's answer is never taken for a token request's (or a
/// delink's), and the operator is told where the URL points now.
#[tokio::test]
async fn a_redirect_that_would_drop_the_posts_body_is_not_followed() {
    for status in [301u16, 302, 303] {
        let gets = Counter::default();
        let g = gets.clone();
        let app = Router::new()
            .route(
                "/old",
                post(move || async move {
                    (
                        StatusCode::from_u16(status).unwrap(),
                        [(header::LOCATION, "/token/")],
                    )
                }),
            )
            .route(
                "/token/",
                get(move || async move {
                    g.bump();
                    ([(header::CONTENT_TYPE, "application/json")], TOKEN)
                })
                .post(|| async { ([(header::CONTENT_TYPE, "application/json")], TOKEN) }),
            );
        let base = serve(app).await;
        let e = build(&canned_oauth2(&format!("{base}/old")))
            .unwrap()
            .client_credentials()
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{status}: {}", e.message);
        assert!(
            e.message
                .contains(&format!("answered {status}, a redirect to {base}/token/"))
                && e.message.contains("set the configured URL to it"),
            "{status}: {}",
            e.message
        );
        assert_eq!(gets.get(), 0, "{status}: the GET was sent");
    }
}

#[tokio::test]
async fn a_refused_connection_fails_fast() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let p = build(&canned_oauth2(&format!("http://127.0.0.1:{port}/token"))).unwrap();
    let started = Instant::now();
    let e = p.client_credentials().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network);
    assert!(
        e.message.contains("cannot connect to 127.0.0.1"),
        "{}",
        e.message
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn plain_http_to_a_remote_host_is_refused_before_sending() {
    let p = build(&canned_oauth2("http://bank.example/token")).unwrap();
    let e = p.client_credentials().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.message.contains("http:// is refused"), "{}", e.message);
}

/// An issuer whose discovery first answers 503 with `retry_after`.
async fn busy_issuer(retry_after: &'static str) -> (String, Counter) {
    let calls = Counter::default();
    let c = calls.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let b = base.clone();
    let discovery = get(move || async move {
        if c.bump() == 1 {
            let h = [(header::RETRY_AFTER, retry_after)];
            return (StatusCode::SERVICE_UNAVAILABLE, h, "").into_response();
        }
        let doc =
            json!({"issuer": format!("{b}/realms/test"), "token_endpoint": format!("{b}/token")});
        axum::Json(doc).into_response()
    });
    let app = Router::new()
        .route("/realms/test/.well-known/openid-configuration", discovery)
        .route(
            "/token",
            post(|| async { ([(header::CONTENT_TYPE, "application/json")], TOKEN) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, calls)
}

#[tokio::test]
async fn a_read_waits_as_long_as_retry_after_says() {
    let (base, calls) = busy_issuer("1").await;
    let started = Instant::now();
    build(&oidc_config(&base))
        .unwrap()
        .client_credentials()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(calls.get(), 2);
}

#[tokio::test]
async fn a_read_asked_to_wait_long_gives_the_wait_to_the_caller() {
    let (base, calls) = busy_issuer("60").await;
    let e = build(&oidc_config(&base))
        .unwrap()
        .client_credentials()
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.retry_after, Some(60));
    assert_eq!(calls.get(), 1);
}
