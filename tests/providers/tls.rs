//! TLS against a throw-away CA made with `openssl` for this test: a server
//! certificate from an unknown CA is a hard failure that names `ca_file`;
//! with the CA in `ca_file` the same server is trusted.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bankdeck::domain::ErrorKind;
use bankdeck::providers::build;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

use super::support::canned_oauth2;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl must be installed for the TLS tests");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn make_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
    openssl(dir, &[&["genpkey"][..], &ec, &["-out", "ca.key"]].concat());
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=bankdeck test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[&["genpkey"][..], &ec, &["-out", "leaf.key"]].concat(),
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
    (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    )
}

/// An https token endpoint on 127.0.0.1 answering every connection once.
async fn tls_token_server(cert: &Path, key: &Path) -> String {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake is the point of one of the tests.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 8192];
                let _ = tls.read(&mut buf).await;
                let body = r#"{"access_token":"tls-ok","token_type":"Bearer","expires_in":60}"#;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://127.0.0.1:{}/token", addr.port())
}

#[tokio::test]
async fn an_untrusted_certificate_fails_hard_and_ca_file_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_pki(dir.path());
    let url = tls_token_server(&cert, &key).await;

    let e = build(&canned_oauth2(&url))
        .unwrap()
        .client_credentials()
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config, "{}", e.message);
    assert!(
        e.message.contains("certificate") && e.message.contains("ca_file"),
        "{}",
        e.message
    );

    let mut cfg = canned_oauth2(&url);
    cfg.common.ca_file = Some(ca);
    let g = build(&cfg).unwrap().client_credentials().await.unwrap();
    assert_eq!(g.access_token.expose(), "tls-ok");
}

#[test]
fn a_ca_file_that_is_not_pem_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("ca.pem");
    std::fs::write(&bogus, "hello").unwrap();
    let mut cfg = canned_oauth2("https://127.0.0.1:1/token");
    cfg.common.ca_file = Some(bogus.clone());
    let e = build(&cfg).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(
        e.message.contains(&bogus.display().to_string()),
        "{}",
        e.message
    );
}

/// A leaf for `san` signed by the CA in `dir`, valid for `days` (negative:
/// already expired).
fn leaf(dir: &Path, name: &str, san: &str, days: &str) -> (PathBuf, PathBuf) {
    let ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
    let key = format!("{name}.key");
    let (csr, pem, ext) = (
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.ext"),
    );
    openssl(dir, &[&["genpkey"][..], &ec, &["-out", &key]].concat());
    openssl(
        dir,
        &[
            "req", "-new", "-key", &key, "-out", &csr, "-subj", "/CN=leaf",
        ],
    );
    std::fs::write(
        dir.join(&ext),
        format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\nsubjectAltName={san}\n"
        ),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            days,
            "-extfile",
            &ext,
        ],
    );
    (dir.join(pem), dir.join(key))
}

/// Item 20: self-signed, expired, or for another host: a hard failure even
/// with our CA trusted, and there is no key to switch the check off.
#[tokio::test]
async fn self_signed_expired_and_wrong_host_certificates_fail_hard() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _, _) = make_pki(dir.path());
    openssl(
        dir.path(),
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "leaf.key",
            "-out",
            "self.pem",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
    );
    let expired = leaf(dir.path(), "expired", "IP:127.0.0.1", "-1");
    let other_host = leaf(dir.path(), "other", "DNS:bank.example", "2");
    for (what, cert, key) in [
        (
            "self-signed",
            dir.path().join("self.pem"),
            dir.path().join("leaf.key"),
        ),
        ("expired", expired.0, expired.1),
        ("wrong host", other_host.0, other_host.1),
    ] {
        let url = tls_token_server(&cert, &key).await;
        let mut cfg = canned_oauth2(&url);
        cfg.common.ca_file = Some(ca.clone());
        let e = build(&cfg)
            .unwrap()
            .client_credentials()
            .await
            .expect_err(what);
        assert!(e.message.contains("certificate"), "{what}: {}", e.message);
        assert!(
            !e.kind.is_transient(),
            "{what}: {:?} would be retried",
            e.kind
        );
    }
    for switch in [
        "danger_accept_invalid_certs = true",
        "insecure = true",
        "tls_verify = false",
        "verify_tls = false",
    ] {
        let text = format!(
            "[providers.bank]\nkind = \"oauth2\"\ntoken_url = \"https://bank.example/token\"\nclient_id = \"c\"\n{switch}\n"
        );
        assert!(
            bankdeck::config::parse_layers(None, &text).is_err(),
            "{switch} was accepted"
        );
    }
}
