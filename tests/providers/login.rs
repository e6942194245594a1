//! Browser login over a real loopback listener: the happy path through a
//! `$BROWSER` stand-in (a shell script running curl), a forged state, a
//! refusal, a timeout, and the port closed once the login is over.

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bankdeck::config::ClientAuth;
use bankdeck::domain::ErrorKind;
use bankdeck::providers::{LoginOptions, browser_login, build};

use super::auth_server::{self, Consent};
use super::support::{follow_in_background, follow_keeping_page, login_options, oauth2_config};

/// The `redirect_uri` port of an authorization URL.
fn callback_port(auth_url: &str) -> u16 {
    let u = url::Url::parse(auth_url).unwrap();
    let (_, redirect) = u.query_pairs().find(|(k, _)| k == "redirect_uri").unwrap();
    let redirect = url::Url::parse(&redirect).unwrap();
    assert_eq!(redirect.host_str(), Some("127.0.0.1"));
    assert_eq!(redirect.path(), "/callback");
    redirect.port().unwrap()
}

/// Runs in a child process started by `login_through_browser_env`, with
/// `$BROWSER` set for it alone: setting it in this multi-threaded process
/// would race the other tests.
/// In a normal run (no `BANKDECK_LOGIN_CHILD`) it returns at once; the
/// parent checks that the child really ran by the line it prints.
#[tokio::test]
async fn login_child_with_browser_env() {
    if std::env::var_os("BANKDECK_LOGIN_CHILD").is_none() {
        return;
    }
    assert!(std::env::var("BROWSER").unwrap().ends_with("browser.sh"));
    let server = auth_server::start().await;
    let p = build(&oauth2_config(&server.base, ClientAuth::Basic, true)).unwrap();
    let opts = LoginOptions {
        timeout: Duration::from_secs(20),
        ..LoginOptions::default()
    };
    let seen = Arc::new(Mutex::new(String::new()));
    let seen2 = seen.clone();
    let g = browser_login(p.as_ref(), opts, move |u| {
        *seen2.lock().unwrap() = u.to_owned()
    })
    .await
    .unwrap();
    assert!(g.refresh_token.is_some());
    assert_eq!(server.token_calls.get(), 1);
    let port = callback_port(&seen.lock().unwrap());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "listener closed"
    );
    println!("LOGIN-CHILD-OK");
}

#[test]
fn login_through_browser_env() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("browser.sh");
    std::fs::write(&script, "#!/bin/sh\nexec curl -sSL -o /dev/null \"$1\"\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "login::login_child_with_browser_env",
            "--nocapture",
        ])
        .env("BROWSER", &script)
        .env("BANKDECK_LOGIN_CHILD", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("LOGIN-CHILD-OK"), "{text}");
}

/// A callback with another state is not this login's: its code is never
/// redeemed, and the login waits on for its own until its time is up.
#[tokio::test]
async fn a_forged_state_is_refused_and_no_code_is_redeemed() {
    let server = auth_server::start().await;
    *server.consent.lock().unwrap() = Consent::ForgeState;
    let p = build(&oauth2_config(&server.base, ClientAuth::Basic, true)).unwrap();
    let (follow, page) = follow_keeping_page();
    let e = browser_login(p.as_ref(), login_options(Duration::from_secs(1)), follow)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    let (_, status, body) = page.await.unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("its state does not match"), "{body}");
    assert_eq!(server.token_calls.get(), 0);
}

/// Anyone who can reach the loopback port can send it a callback. One sent
/// ahead of the browser's ended the login, a code under a guessed state as
/// well as an error with no state at all; each is refused to its sender, and
/// the login goes on to take the browser's.
#[tokio::test]
async fn a_forged_callback_first_does_not_stop_the_login() {
    let server = auth_server::start().await;
    let p = build(&oauth2_config(&server.base, ClientAuth::Basic, true)).unwrap();
    let (forged_tx, forged) = tokio::sync::oneshot::channel();
    let follow = move |url: &str| {
        let url = url.to_owned();
        tokio::spawn(async move {
            let port = callback_port(&url);
            let mut answers = Vec::new();
            for query in ["code=stolen&state=guess", "error=access_denied"] {
                let forged_url = format!("http://127.0.0.1:{port}/callback?{query}");
                let answer = reqwest::get(forged_url).await.unwrap();
                answers.push((answer.status().as_u16(), answer.text().await.unwrap()));
            }
            let _ = forged_tx.send(answers);
            let _ = reqwest::get(url).await;
        });
    };
    let g = browser_login(p.as_ref(), login_options(Duration::from_secs(10)), follow)
        .await
        .unwrap();
    assert!(g.access_token.expose().starts_with("at-"));
    for (status, body) in forged.await.unwrap() {
        assert_eq!(status, 400);
        assert!(body.contains("that login goes on waiting"), "{body}");
    }
    assert_eq!(server.token_calls.get(), 1, "the browser's code alone");
}

#[tokio::test]
async fn access_denied_is_shown_as_denied() {
    let server = auth_server::start().await;
    *server.consent.lock().unwrap() = Consent::Deny;
    let p = build(&oauth2_config(&server.base, ClientAuth::Basic, true)).unwrap();
    let e = browser_login(
        p.as_ref(),
        login_options(Duration::from_secs(10)),
        follow_in_background,
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied);
    assert!(e.message.contains("User denied"), "{}", e.message);
}

#[tokio::test]
async fn the_callback_page_tells_the_browser_and_a_second_callback_is_refused() {
    let server = auth_server::start().await;
    let p = build(&oauth2_config(&server.base, ClientAuth::Basic, true)).unwrap();
    let (follow, page) = follow_keeping_page();
    let g = browser_login(p.as_ref(), login_options(Duration::from_secs(10)), follow)
        .await
        .unwrap();
    assert!(g.access_token.expose().starts_with("at-"));
    let (u, status, body) = page.await.unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains("Login complete: bankdeck has the tokens. You can close this tab."),
        "{body}"
    );
    let again = format!(
        "http://127.0.0.1:{}/callback?code=x&state=y",
        callback_port(&u)
    );
    assert!(reqwest::get(again).await.unwrap_err().is_connect());
}

#[tokio::test]
async fn nobody_coming_back_times_out() {
    let server = auth_server::start().await;
    let p = build(&oauth2_config(&server.base, ClientAuth::Basic, true)).unwrap();
    let started = std::time::Instant::now();
    let e = browser_login(
        p.as_ref(),
        login_options(Duration::from_millis(300)),
        |_| {},
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.message.contains("did not come back"), "{}", e.message);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_registered_redirect_port_is_used() {
    let server = auth_server::start().await;
    let p = build(&oauth2_config(&server.base, ClientAuth::Basic, true)).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let opts = LoginOptions {
        redirect_port: Some(port),
        ..login_options(Duration::from_secs(10))
    };
    let seen = Arc::new(Mutex::new(0));
    let seen2 = seen.clone();
    browser_login(p.as_ref(), opts, move |u| {
        *seen2.lock().unwrap() = callback_port(u);
        follow_in_background(u)
    })
    .await
    .unwrap();
    assert_eq!(*seen.lock().unwrap(), port);
}

/// A registered port already held (a second login on it, most often) is
/// refused before the URL is shown, saying what holds it and what to do,
/// not only the system's "Address already in use".
#[tokio::test]
async fn a_registered_redirect_port_in_use_says_what_to_do() {
    let server = auth_server::start().await;
    let p = build(&oauth2_config(&server.base, ClientAuth::Basic, true)).unwrap();
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let opts = LoginOptions {
        redirect_port: Some(port),
        ..login_options(Duration::from_secs(10))
    };
    let shown = Arc::new(Mutex::new(false));
    let shown2 = shown.clone();
    let e = browser_login(p.as_ref(), opts, move |_| {
        *shown2.lock().unwrap() = true;
    })
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(
        e.message.contains(&format!("127.0.0.1:{port}")),
        "{}",
        e.message
    );
    assert!(e.message.contains("another login"), "{}", e.message);
    assert!(e.message.contains("redirect_port"), "{}", e.message);
    assert!(!*shown.lock().unwrap(), "no URL was shown");
}
