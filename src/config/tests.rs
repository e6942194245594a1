use super::*;
use std::path::Path;

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_layers(Some(Path::new("test.toml")), text)
}

#[test]
fn example_loads_with_every_kind() {
    let text = include_str!("../../config.example.toml");
    let cfg = parse_layers(Some(Path::new("config.example.toml")), text).unwrap();
    assert_eq!(cfg.providers.len(), 3);
    assert_eq!(cfg.warn_within.as_secs(), 120);
    let dapi = cfg.provider("dapi").unwrap();
    let Family::Dapi(d) = &dapi.family else {
        panic!("dapi kind")
    };
    assert_eq!(d.access_code_ttl.as_secs(), 1800);
    assert_eq!(d.app_secret, SecretRef::Env("DAPI_APP_SECRET".into()));
    let bank = cfg.provider("bank").unwrap();
    assert!(bank.common.auto_refresh);
    assert_eq!(bank.common.max_in_flight, 8);
    let Family::OAuth2(o) = &bank.family else {
        panic!("oauth2 kind")
    };
    assert_eq!(o.client.scopes, vec!["accounts", "payments"]);
    assert!(matches!(
        cfg.provider("everifin").unwrap().family,
        Family::Oidc(_)
    ));
}

/// A key bankdeck does not know is named as the key it is, with the one
/// meant when it is a typo, and otherwise what its table takes.
#[test]
fn an_unknown_key_is_named_with_what_was_meant() {
    let err = |text: &str| parse(text).unwrap_err().to_string();
    assert_eq!(
        err("warn_withn = \"5m\"\n"),
        "test.toml:1: warn_withn: not a key bankdeck knows: did you mean `warn_within`?"
    );
    let provider = "[providers.x]\nkind = \"dapi\"\nbase_ur = \"http://127.0.0.1:1\"\n";
    assert_eq!(
        err(provider),
        "test.toml:3: base_ur: not a key bankdeck knows: did you mean `base_url`?"
    );
    let far = err("colour = \"red\"\n");
    assert!(
        far.starts_with("test.toml:1: colour: not a key bankdeck knows; this table takes ")
            && far.contains("warn_within, keys, defaults, providers"),
        "{far}"
    );
    let syntax = err("warn_within = \n");
    assert!(syntax.starts_with("test.toml:1: (syntax): "), "{syntax}");
}

#[test]
fn defaults_apply_when_the_file_is_empty() {
    let cfg = parse("").unwrap();
    assert!(cfg.providers.is_empty());
    assert_eq!(cfg.warn_within.as_secs(), 120);
}

#[test]
fn user_defaults_table_applies_to_every_provider() {
    let cfg = parse(
        "[defaults]\ntimeout = \"3s\"\n[providers.d]\nkind = \"dapi\"\nbase_url = \"http://127.0.0.1:9\"\napp_secret = \"env:X\"\n",
    )
    .unwrap();
    assert_eq!(cfg.provider("d").unwrap().common.timeout.as_secs(), 3);
}

/// A relative `file:` secret or `ca_file` is read beside the config file,
/// wherever the command was started: cron starts it in the home folder,
/// where `file:client-secret` named nothing.
#[test]
fn relative_paths_are_taken_from_the_config_file_s_folder() {
    let text = "[providers.d]\nkind = \"dapi\"\nbase_url = \"http://127.0.0.1:9\"\n\
                app_secret = \"file:secrets/dapi\"\nca_file = \"ca.pem\"\n\
                [providers.e]\nkind = \"dapi\"\nbase_url = \"http://127.0.0.1:9\"\n\
                app_secret = \"file:/run/dapi\"\n";
    let cfg = parse_layers(Some(Path::new("/etc/bankdeck/config.toml")), text).unwrap();
    let app_secret = |name: &str| match &cfg.provider(name).unwrap().family {
        Family::Dapi(d) => d.app_secret.clone(),
        _ => panic!("dapi"),
    };
    assert_eq!(
        app_secret("d"),
        SecretRef::File("/etc/bankdeck/secrets/dapi".into())
    );
    assert_eq!(app_secret("e"), SecretRef::File("/run/dapi".into()));
    assert_eq!(
        cfg.provider("d").unwrap().common.ca_file.as_deref(),
        Some(Path::new("/etc/bankdeck/ca.pem"))
    );
    // A relative config file names a folder under the one started in.
    let cfg = parse_layers(Some(Path::new("conf/config.toml")), text).unwrap();
    let here = std::env::current_dir().unwrap();
    assert_eq!(
        cfg.provider("d").unwrap().common.ca_file,
        Some(here.join("conf/ca.pem"))
    );
    let cfg = parse_layers(Some(Path::new("config.toml")), text).unwrap();
    assert_eq!(
        cfg.provider("d").unwrap().common.ca_file,
        Some(here.join("ca.pem"))
    );
}

#[test]
fn literal_secret_is_refused_with_line_and_key_but_not_value() {
    let text = "[providers.d]\nkind = \"dapi\"\nbase_url = \"https://api.dapi.com\"\napp_secret = \"00bae841ad979345fca2\"\n";
    let e = parse(text).unwrap_err();
    assert_eq!(e.line, Some(4));
    assert_eq!(e.key, "providers.d.app_secret");
    let shown = e.to_string();
    assert!(
        shown.starts_with("test.toml:4: providers.d.app_secret:"),
        "{shown}"
    );
    assert!(!shown.contains("00bae8"), "{shown}");
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let text = "[providers.b]\nkind = \"oauth2\"\ntoken_url = \"http://auth.bank.example/token\"\nclient_id = \"c\"\n";
    let e = parse(text).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (Some(3), "providers.b.token_url"));
    assert!(e.message.contains("http:// is refused"), "{e}");
    for ok in [
        "http://127.0.0.1:8080/t",
        "http://localhost/t",
        "http://[::1]:9/t",
        "https://x.example/t",
    ] {
        let text =
            format!("[providers.b]\nkind = \"oauth2\"\ntoken_url = \"{ok}\"\nclient_id = \"c\"\n");
        assert!(parse(&text).is_ok(), "{ok}");
    }
}

#[test]
fn unknown_kind_missing_key_bad_duration_and_foreign_key() {
    let e = parse("[providers.x]\nkind = \"saml\"\n").unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (Some(2), "providers.x.kind"));
    assert!(e.message.contains("unknown kind 'saml'"));

    let e =
        parse("[providers.x]\nkind = \"dapi\"\nbase_url = \"https://a.example\"\n").unwrap_err();
    assert_eq!(
        (e.key.as_str(), e.message.as_str()),
        ("providers.x.app_secret", "missing")
    );

    let e = parse("[providers.x]\nkind = \"dapi\"\nbase_url = \"https://a.example\"\napp_secret = \"env:A\"\ntimeout = \"soon\"\n").unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (Some(5), "providers.x.timeout"));
    assert!(e.message.contains("not a duration"));

    let e = parse("[providers.x]\nkind = \"dapi\"\nbase_url = \"https://a.example\"\napp_secret = \"env:A\"\nissuer = \"https://i.example\"\n").unwrap_err();
    assert_eq!(e.key, "providers.x.issuer");
    assert!(e.message.contains("does not apply"));

    let e = parse("warn_within = 0\n").unwrap_err();
    assert_eq!(e.key, "warn_within");

    // As `--within` refuses it: every token would be due at every run.
    let e = parse("warn_within = \"100y\"\n").unwrap_err();
    assert_eq!(e.key, "warn_within");
    assert!(e.message.starts_with("longer than a year"), "{}", e.message);
    assert!(parse("warn_within = \"366d\"\n").is_ok());

    // A number in quotes: the fix is said, not only the examples.
    let e = parse("warn_within = \"90\"\n").unwrap_err();
    assert_eq!(
        e.message,
        "'90' has no unit: give one, e.g. \"90m\" or \"90s\""
    );
}

/// A bare number was taken as seconds, so `warn_within = 5` meant to be
/// minutes silently warned 5 s ahead: every duration key wants its unit.
#[test]
fn a_duration_without_a_unit_is_refused_in_every_duration_key() {
    let e = parse("warn_within = 5\n").unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (Some(1), "warn_within"));
    assert_eq!(e.message, "5 has no unit: give one, e.g. \"5m\" or \"5s\"");
    let dapi = "[providers.d]\nkind = \"dapi\"\nbase_url = \"https://a.example\"\napp_secret = \"env:A\"\n";
    for key in [
        "timeout",
        "connect_timeout",
        "refresh_margin",
        "access_code_ttl",
    ] {
        let e = parse(&format!("{dapi}{key} = 30\n")).unwrap_err();
        assert_eq!(e.key, format!("providers.d.{key}"));
        assert!(e.message.contains("has no unit"), "{key}: {e}");
        // Inherited from [defaults]: named at the line that wrote it.
        let e = parse(&format!("[defaults]\n{key} = 30\n{dapi}")).unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("has no unit"), "{key}: {e}");
    }
}

#[test]
fn a_provider_without_a_name_is_refused_at_its_table() {
    for name in ["\"\"", "\"  \""] {
        let text = format!(
            "warn_within = \"2m\"\n[providers.{name}]\nkind = \"oauth2\"\n\
             token_url = \"https://a.example/t\"\nclient_id = \"c\"\n"
        );
        let e = parse(&text).unwrap_err();
        assert_eq!(
            (e.line, e.key.as_str()),
            (Some(2), format!("providers.{name}").as_str())
        );
        assert!(e.message.contains("needs a name"), "{e}");
    }
}

/// A provider's name is typed in a shell and printed on every list: one
/// with a space, a slash or a control character is refused at its table,
/// the character named escaped, never sent to the terminal as it is.
#[test]
fn a_provider_name_that_is_not_one_word_is_refused_at_its_table() {
    let table = |name: &str| {
        format!(
            "warn_within = \"2m\"\n[providers.{name}]\nkind = \"oauth2\"\n\
             token_url = \"https://a.example/t\"\nclient_id = \"c\"\n"
        )
    };
    for (name, said) in [
        (r#""my bank""#, "' '"),
        (r#""bank/eu""#, "'/'"),
        (r#""bank\u001b[2J""#, "'\\u{1b}'"),
    ] {
        let e = parse(&table(name)).unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(
            e.message.contains("one word of letters, digits")
                && e.message.contains(&format!("and {said} is none of them")),
            "{name}: {e}"
        );
        assert!(!e.to_string().contains('\u{1b}'), "{e:?}");
    }
    for name in ["dapi-sandbox", "bank_eu", r#""bank.eu""#, r#""Bänk2""#] {
        let config = parse(&table(name)).unwrap();
        assert_eq!(config.providers.len(), 1, "{name}");
    }
}

/// A password in a URL would be printed by `config check` and sent along
/// with every request; the error names the key, never the password.
#[test]
fn a_url_holding_a_user_or_password_is_refused_without_echo() {
    for url in [
        "https://user:Pass999@example.com/token",
        "https://user@example.com/token",
        "https://:Pass999@example.com/token",
    ] {
        let text =
            format!("[providers.b]\nkind = \"oauth2\"\ntoken_url = \"{url}\"\nclient_id = \"c\"\n");
        // Not unwrap_err: the accepted config's Debug would print the password.
        let Err(e) = parse(&text) else {
            panic!("a URL holding credentials was accepted");
        };
        assert_eq!((e.line, e.key.as_str()), (Some(3), "providers.b.token_url"));
        let shown = e.to_string();
        assert!(
            shown.contains("client_id") && shown.contains("client_secret"),
            "{shown}"
        );
        assert!(
            !shown.contains("Pass999") && !shown.contains("user@"),
            "{shown}"
        );
    }
    let Err(e) = parse(
        "[providers.d]\nkind = \"dapi\"\nbase_url = \"https://k:Pass999@api.dapi.com\"\napp_secret = \"env:A\"\n",
    ) else {
        panic!("a base_url holding credentials was accepted");
    };
    assert_eq!(e.key, "providers.d.base_url");
    assert!(!e.to_string().contains("Pass999"), "{e}");
}

#[test]
fn typo_and_syntax_errors_name_the_line_without_the_source_text() {
    let e = parse("[providers.x]\nkind = \"dapi\"\nbase_ur = \"https://a\"\n").unwrap_err();
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("base_ur"), "{e}");
    let e = parse("[providers.x]\napp_secret = \"sekrit-value\n").unwrap_err();
    assert_eq!(e.line, Some(2));
    assert!(!e.to_string().contains("sekrit"), "{e}");
}

#[test]
fn oidc_needs_issuer_or_token_url() {
    let e = parse("[providers.o]\nkind = \"oidc\"\nclient_id = \"c\"\n").unwrap_err();
    assert_eq!(e.key, "providers.o.issuer");
}

#[test]
fn every_provider_in_error_is_named_in_one_read() {
    let text = "warn_within = \"soon\"\n\
        [providers.a]\nkind = \"dapi\"\nbase_url = \"https://api.dapi.com\"\napp_secret = \"s3cr3t-literal\"\n\
        [providers.b]\nkind = \"oauth2\"\ntoken_url = \"http://bank.example/token\"\nclient_id = \"x\"\n\
        [providers.good]\nkind = \"dapi\"\nbase_url = \"https://api.dapi.com\"\napp_secret = \"env:A\"\n";
    let e = parse(text).unwrap_err();
    let shown = e.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 3, "{shown}");
    assert!(lines[0].starts_with("test.toml:1: warn_within:"), "{shown}");
    assert!(
        lines[1].starts_with("test.toml:5: providers.a.app_secret:"),
        "{shown}"
    );
    assert!(
        lines[2].starts_with("test.toml:8: providers.b.token_url:"),
        "{shown}"
    );
    assert!(!shown.contains("s3cr3t"), "{shown}");
}

#[test]
fn a_bad_default_is_named_once_not_once_a_provider() {
    let text = "[defaults]\nmax_in_flight = 0\n\
        [providers.a]\nkind = \"dapi\"\nbase_url = \"https://api.dapi.com\"\napp_secret = \"env:A\"\n\
        [providers.b]\nkind = \"dapi\"\nbase_url = \"https://api.dapi.com\"\napp_secret = \"env:B\"\n";
    let shown = parse(text).unwrap_err().to_string();
    assert_eq!(shown.lines().count(), 1, "{shown}");
    assert!(
        shown.starts_with("test.toml:2: defaults.max_in_flight: "),
        "named where it is written: {shown}"
    );
    // With no provider at all, a bad default is still an error.
    let alone = parse("[defaults]\ntimeout = \"soon\"\n").unwrap_err();
    assert_eq!(alone.key, "defaults.timeout");
}

#[test]
fn every_problem_of_one_provider_is_named_in_the_files_order() {
    let text = "[providers.o]\nkind = \"oidc\"\n\
        scopes = 7\nissuer = \"http://idp.example\"\nbase_url = \"https://x.example\"\n\
        client_auth = \"jwt\"\ntimeout = \"soon\"\nclient_secret = \"literal-s3cr3t\"\n\
        [providers.d]\nkind = \"dapi\"\n";
    let shown = parse(text).unwrap_err().to_string();
    let keys: Vec<&str> = shown
        .lines()
        .map(|l| l.split(": ").nth(1).unwrap_or(l))
        .collect();
    assert_eq!(
        keys,
        [
            "providers.o.client_id",
            "providers.o.scopes",
            "providers.o.issuer",
            "providers.o.base_url",
            "providers.o.client_auth",
            "providers.o.timeout",
            "providers.o.client_secret",
            "providers.d.base_url",
            "providers.d.app_secret",
        ],
        "{shown}"
    );
    // A missing key is named at its provider's table.
    assert!(
        shown.starts_with("test.toml:1: providers.o.client_id: missing"),
        "{shown}"
    );
    assert!(!shown.contains("s3cr3t"), "{shown}");
}
