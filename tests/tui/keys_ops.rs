//! `update` for the keys that run operations: what is sent, what is
//! refused and why, the dialogs in between, read-only mode and overrides.

use bankdeck::domain::{ConnectionId, Ending, ProviderKind};
use bankdeck::tui::{App, Level, Mode, Msg, SortKey};
use bankdeck::worker::Command;
use crossterm::event::KeyCode;

use super::fixtures::*;

/// A key held down on a busy row is refused as often as it repeats: the
/// refusals count on one line, which names the row, and the rest of the
/// pane stays.
#[test]
fn a_held_key_refused_on_a_busy_row_counts_on_one_line() {
    let mut app = app();
    select(&mut app, 1);
    one(app.update(key('e'), NOW));
    let before = app.activity().len();
    for _ in 0..200 {
        assert!(app.update(key('e'), NOW).is_empty());
    }
    assert_eq!(app.activity().len(), before + 1, "{}", last_text(&app));
    let line = last_text(&app);
    assert!(
        line.starts_with("exchange ×200 refused: an operation is already running · latest "),
        "{line}"
    );
}

#[test]
fn e_exchanges_a_pending_dapi_code_and_refuses_elsewhere() {
    let mut app = app();
    select(&mut app, 1);
    let cmd = one(app.update(key('e'), NOW));
    let Command::Exchange { id, conn } = cmd else {
        panic!("{cmd:?}")
    };
    assert_eq!(conn, ConnectionId(1));
    assert!(app.is_busy(conn));
    assert_eq!(app.in_flight(), 1);
    assert!(app.update(key('e'), NOW).is_empty(), "row is busy");
    assert!(last_text(&app).contains("already running"));
    select(&mut app, 3);
    assert!(app.update(key('e'), NOW).is_empty());
    assert!(
        last_text(&app).contains("exchange is for Dapi"),
        "{}",
        last_text(&app)
    );
    select(&mut app, 10);
    assert!(app.update(key('e'), NOW).is_empty());
    assert!(last_text(&app).contains("access code expired 5m ago"));
    assert_ne!(id.0, 0);
}

#[test]
fn r_refreshes_oauth_and_oidc_only() {
    let mut app = app();
    select(&mut app, 4);
    let cmd = one(app.update(key('r'), NOW));
    assert_eq!(sent(std::slice::from_ref(&cmd)), [("refresh", 4)]);
    select(&mut app, 2);
    assert!(app.update(key('r'), NOW).is_empty());
    assert!(last_text(&app).contains("permanent"));
    select(&mut app, 6);
    assert!(app.update(key('r'), NOW).is_empty());
    assert!(last_text(&app).contains("log in again"));
}

#[test]
fn shift_r_sends_one_refresh_many_for_the_expiring_and_refreshable() {
    let mut app = app();
    let cmd = one(app.update(key('R'), NOW));
    let Command::RefreshMany { conns, .. } = cmd else {
        panic!("{cmd:?}")
    };
    // Ivan's (9) last refresh failed: expired since, it is tried again.
    assert_eq!(conns, ids(&[5, 9, 4]));
    assert!(app.is_busy(ConnectionId(5)) && app.is_busy(ConnectionId(4)));
    assert!(
        app.update(key('R'), NOW).is_empty(),
        "nothing left that is not busy"
    );
}

/// A row whose provider the config lacks gets a reason at once, not a
/// request the worker can only fail; `R` leaves such rows out and says so
/// once, not once a row.
#[test]
fn rows_of_a_provider_the_config_lacks_are_refused_here() {
    let mut opts = options();
    opts.providers.retain(|(name, _)| name != "keycloak");
    let mut app = app_with(&opts);
    select(&mut app, 4);
    assert!(app.update(key('r'), NOW).is_empty());
    assert_eq!(
        last_text(&app),
        "refresh dave / Keycloak demo refused: provider 'keycloak' is not in the configuration (it has bank-oauth, dapi-sandbox): add [providers.keycloak]"
    );
    // What the operation cannot do at all is said first.
    select(&mut app, 7);
    app.update(key('r'), NOW);
    assert!(
        last_text(&app).contains("grace / Keycloak demo refused: logged out"),
        "{}",
        last_text(&app)
    );
    let cmd = one(app.update(key('R'), NOW));
    let Command::RefreshMany { conns, .. } = cmd else {
        panic!("{cmd:?}")
    };
    assert_eq!(
        conns,
        ids(&[5, 9]),
        "erin's and ivan's providers are configured"
    );
    assert_eq!(last_text(&app), "refresh 2 rows expiring or expired: sent");
    assert!(app.activity().any(|l| l.text
        == "refresh all: 1 row left out, of providers not in the configuration (add [providers.keycloak])"));

    opts.providers.clear();
    let mut app = app_with(&opts);
    assert!(app.update(key('R'), NOW).is_empty());
    assert_eq!(
        last_text(&app),
        "refresh all: 3 rows left out, of providers not in the configuration (add [providers.bank-oauth], [providers.keycloak])"
    );
    assert_eq!(app.in_flight(), 0);
}

#[test]
fn l_asks_before_logging_out_and_no_is_the_default() {
    let mut app = app();
    select(&mut app, 3);
    assert!(app.update(key('l'), NOW).is_empty());
    assert!(matches!(app.mode(), Mode::ConfirmLogout { .. }));
    assert!(app.update(code(KeyCode::Enter), NOW).is_empty());
    assert_eq!(app.mode(), &Mode::Normal);
    assert!(last_text(&app).contains("cancelled"));
    app.update(key('l'), NOW);
    let cmd = one(app.update(key('y'), NOW));
    assert!(matches!(
        cmd,
        Command::Logout {
            conn: ConnectionId(3),
            ..
        }
    ));
    select(&mut app, 2);
    assert!(app.update(key('l'), NOW).is_empty());
    assert_eq!(app.mode(), &Mode::Normal);
    assert!(last_text(&app).contains("Dapi has no logout"));
}

#[test]
fn shift_d_delinks_only_after_the_name_is_typed_exactly() {
    let mut app = app();
    select(&mut app, 2);
    app.update(key('D'), NOW);
    assert!(matches!(app.mode(), Mode::ConfirmDelink(_)));
    assert!(type_text(&mut app, "bo").is_empty(), "typing fires nothing");
    assert!(app.update(code(KeyCode::Enter), NOW).is_empty());
    let Mode::ConfirmDelink(d) = app.mode() else {
        panic!()
    };
    assert!(
        d.error
            .as_deref()
            .unwrap_or("")
            .contains("type bob exactly")
    );
    type_text(&mut app, "b");
    let cmd = one(app.update(code(KeyCode::Enter), NOW));
    assert!(matches!(
        cmd,
        Command::Delink {
            conn: ConnectionId(2),
            ..
        }
    ));
    assert_eq!(app.mode(), &Mode::Normal);
}

/// `D` in the users view ends every connection of the selected user (a user
/// leaving), once their name is typed: a pending Dapi code is delinked (the
/// worker exchanges it first), an OIDC consent is logged out, a row already
/// delinked is left alone.
#[test]
fn shift_d_in_the_users_view_ends_every_connection_of_the_user() {
    let mut app = alice_holding_three();
    app.update(key('u'), NOW);
    assert!(app.update(key('D'), NOW).is_empty());
    let d = delink_dialog(&app);
    assert_eq!(
        d.plan,
        vec![
            (ConnectionId(1), Ending::ExchangeThenDelink),
            (ConnectionId(3), Ending::Logout)
        ]
    );
    type_text(&mut app, "alice");
    let cmds = app.update(code(KeyCode::Enter), NOW);
    assert!(
        matches!(
            cmds.as_slice(),
            [
                Command::Delink {
                    conn: ConnectionId(1),
                    ..
                },
                Command::Logout {
                    conn: ConnectionId(3),
                    ..
                }
            ]
        ),
        "{cmds:?}"
    );
}

/// What the dialog planned is looked at again when the name is confirmed:
/// a consent logged out elsewhere meanwhile is not logged out again.
#[test]
fn a_disconnect_follows_the_rows_as_they_stand_when_confirmed() {
    let mut app = alice_holding_three();
    app.update(key('u'), NOW);
    app.update(key('D'), NOW);
    // Another process's logout, which the screen's watch hands over.
    let mut logged_out = app.connection(ConnectionId(3)).unwrap().clone();
    logged_out.flags.logged_out_at = Some(NOW);
    logged_out.version += 1;
    let scheduled = bankdeck::worker::RequestId(bankdeck::worker::RequestId::SCHEDULED_FROM);
    app.update(
        Msg::Worker(bankdeck::worker::Event::Succeeded {
            by: bankdeck::worker::DoneBy::This,
            id: scheduled,
            op: bankdeck::domain::OpKind::Logout,
            conn: Box::new(logged_out),
            message: String::new(),
        }),
        NOW,
    );
    type_text(&mut app, "alice");
    let cmds = app.update(code(KeyCode::Enter), NOW);
    assert!(
        matches!(
            cmds.as_slice(),
            [Command::Delink {
                conn: ConnectionId(1),
                ..
            }]
        ),
        "{cmds:?}"
    );
}

#[test]
fn delink_is_cancelled_by_esc_and_refused_for_oidc() {
    let mut app = app();
    select(&mut app, 2);
    app.update(key('D'), NOW);
    type_text(&mut app, "bob");
    assert!(app.update(code(KeyCode::Esc), NOW).is_empty());
    assert_eq!(app.mode(), &Mode::Normal);
    select(&mut app, 3);
    app.update(key('D'), NOW);
    assert_eq!(app.mode(), &Mode::Normal);
    assert!(last_text(&app).contains("delink is Dapi's"));
}

/// A code that never became a token (expired, refused) is closed by delink
/// without a call, and the dialog says so; a pending code is delinked too,
/// the worker exchanging it first, as only its token ends Dapi's side. Both
/// used to be refused ("exchange the code first"), and such rows stayed for
/// good.
#[test]
fn delink_closes_a_code_that_never_became_a_token_and_exchanges_a_pending_one_first() {
    let mut app = app();
    select(&mut app, 1);
    app.update(key('D'), NOW);
    let d = delink_dialog(&app);
    assert_eq!(d.plan, vec![(ConnectionId(1), Ending::ExchangeThenDelink)]);
    type_text(&mut app, "alice");
    let cmd = one(app.update(code(KeyCode::Enter), NOW));
    assert_eq!(sent(std::slice::from_ref(&cmd)), [("delink", 1)]);
    assert!(
        last_text(&app).ends_with("sent (its pending code is exchanged first)"),
        "{}",
        last_text(&app)
    );
    select(&mut app, 10);
    app.update(key('D'), NOW);
    let d = delink_dialog(&app);
    assert!(d.unissued);
    assert_eq!(d.plan, vec![(ConnectionId(10), Ending::Delink)]);
    type_text(&mut app, "judy");
    let cmd = one(app.update(code(KeyCode::Enter), NOW));
    assert!(matches!(
        cmd,
        Command::Delink {
            conn: ConnectionId(10),
            ..
        }
    ));
    // As the dialog said: nothing goes to Dapi, so nothing is "sent".
    assert!(
        last_text(&app).ends_with("closing (nothing is sent to Dapi)"),
        "{}",
        last_text(&app)
    );
}

/// A row delinked elsewhere while its dialog waited for the name: the
/// dialog closed on nothing, without a word. It now says why nothing went.
#[test]
fn a_delink_confirmed_after_another_ended_the_row_says_why_nothing_went() {
    let mut app = app();
    select(&mut app, 2);
    app.update(key('D'), NOW);
    type_text(&mut app, "bob");
    let mut bob = app.connection(ConnectionId(2)).unwrap().clone();
    bob.flags.delinked_at = Some(NOW);
    app.update(
        Msg::Worker(bankdeck::worker::Event::Succeeded {
            by: bankdeck::worker::DoneBy::This,
            id: bankdeck::worker::RequestId(9_000),
            op: bankdeck::domain::OpKind::Delink,
            conn: Box::new(bob),
            message: "delinked by another process".into(),
        }),
        NOW,
    );
    assert!(app.update(code(KeyCode::Enter), NOW).is_empty());
    assert!(
        last_text(&app).contains("nothing sent: already delinked"),
        "{}",
        last_text(&app)
    );
}

/// Something that is not a Connect payload pasted into the payload field
/// (the access code alone, say) was dropped without a word. It is refused
/// by name, and not shown back.
#[test]
fn a_paste_into_the_payload_field_that_is_no_payload_says_so() {
    let mut app = app();
    app.update(key('a'), NOW);
    for _ in 0..3 {
        app.update(code(KeyCode::Tab), NOW);
    }
    let Mode::Add(f) = app.mode() else {
        panic!("{:?}", app.mode())
    };
    assert_eq!(f.focus, bankdeck::tui::AddField::Payload);
    app.update(Msg::Paste("eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2ln".into()), NOW);
    let Mode::Add(f) = app.mode() else {
        panic!("{:?}", app.mode())
    };
    let error = f.error.as_deref().unwrap_or_default();
    assert!(error.contains("not a Connect payload"), "{error}");
    assert!(!error.contains("eyJ"), "{error}");
    assert!(f.payload.is_empty());
}

/// A user name the worker would refuse (a payload pasted into the user
/// field, say) is refused by the form, with the field kept, and nothing is
/// sent or written to the activity pane.
#[test]
fn the_add_form_refuses_an_impossible_user_name_before_sending() {
    let mut app = app();
    let before = app.activity().count();
    app.update(key('a'), NOW);
    app.update(code(KeyCode::Tab), NOW);
    type_text(&mut app, &"x".repeat(201));
    app.update(code(KeyCode::Tab), NOW);
    app.update(
        Msg::Paste(r#"{"accessCode":"a","userSecret":"s","connectionID":"c"}"#.into()),
        NOW,
    );
    assert!(app.update(code(KeyCode::Enter), NOW).is_empty());
    let Mode::Add(form) = app.mode() else {
        panic!("{:?}", app.mode())
    };
    assert_eq!(
        form.error.as_deref(),
        Some("a user name must be 1 to 200 printable characters")
    );
    assert_eq!(form.user.text().len(), 201, "what was typed is kept");
    assert_eq!(app.activity().count(), before);
}

/// A label the worker would refuse (one holding an escape sequence, pasted
/// from somewhere) is refused by the form, with the focus on it.
#[test]
fn the_add_form_refuses_a_label_with_control_characters() {
    let mut app = app();
    app.update(key('a'), NOW);
    app.update(code(KeyCode::Tab), NOW);
    type_text(&mut app, "zoe");
    app.update(code(KeyCode::Tab), NOW);
    app.update(Msg::Paste("AB\u{1b}]0;x\u{7}".into()), NOW);
    app.update(Msg::Paste(CONNECT_PAYLOAD.into()), NOW);
    assert!(app.update(code(KeyCode::Enter), NOW).is_empty());
    let form = add_form(&app);
    assert_eq!(
        form.error.as_deref(),
        Some("a label must be at most 200 printable characters")
    );
    assert_eq!(form.focus, bankdeck::tui::AddField::Label);
}

fn add_form(app: &App) -> &bankdeck::tui::AddForm {
    match app.mode() {
        Mode::Add(form) => form,
        other => panic!("{other:?}"),
    }
}

/// A Connect payload pasted while another family's provider is chosen was
/// dropped without a word. It now takes the Dapi provider when there is
/// one, and otherwise the form says what to do.
#[test]
fn a_payload_pasted_with_another_provider_chosen_is_not_dropped() {
    let mut app = app();
    app.update(key('a'), NOW);
    app.update(code(KeyCode::Right), NOW);
    assert_eq!(add_form(&app).provider_name(), "keycloak");
    app.update(Msg::Paste(CONNECT_PAYLOAD.into()), NOW);
    let form = add_form(&app);
    assert_eq!(form.provider_name(), "dapi-sandbox");
    assert_eq!(form.focus, bankdeck::tui::AddField::Payload);
    assert_eq!(form.error, None);

    let with = |providers: &[(&str, ProviderKind)]| {
        let mut opts = options();
        opts.providers = (providers.iter())
            .map(|(n, k)| ((*n).to_owned(), *k))
            .collect();
        let mut app = app_with(&opts);
        app.update(key('a'), NOW);
        app.update(Msg::Paste(CONNECT_PAYLOAD.into()), NOW);
        app
    };
    let two = with(&[
        ("keycloak", ProviderKind::Oidc),
        ("dapi-uae", ProviderKind::Dapi),
        ("dapi-ksa", ProviderKind::Dapi),
    ]);
    let form = add_form(&two);
    assert_eq!(
        form.provider_name(),
        "keycloak",
        "which Dapi is the operator's to say"
    );
    assert!(form.payload.is_empty());
    assert_eq!(
        form.error.as_deref(),
        Some(
            "that is a Dapi Connect payload: choose its provider (dapi-uae, dapi-ksa) with ←/→, then paste it again"
        )
    );
    let none = with(&[("keycloak", ProviderKind::Oidc)]);
    assert_eq!(
        add_form(&none).error.as_deref(),
        Some("that is a Dapi Connect payload, and no Dapi provider is configured")
    );
}

/// A paste past the payload's cap is refused as it arrives, and the
/// payload already in the field stays.
#[test]
fn an_oversized_paste_is_refused_and_the_payload_kept() {
    let mut app = app();
    app.update(key('a'), NOW);
    app.update(Msg::Paste(CONNECT_PAYLOAD.into()), NOW);
    let huge = format!("{{\"accessCode\": \"{}\"}}", "x".repeat(64 * 1024));
    app.update(Msg::Paste(huge), NOW);
    let form = add_form(&app);
    assert!(form.payload == CONNECT_PAYLOAD, "the payload was replaced");
    assert_eq!(
        form.error.as_deref(),
        Some(
            "that paste holds more than 64 KiB: a Connect payload is the few hundred bytes of \
             JSON that onSuccess hands over"
        )
    );
    // Exactly at the cap is the parser's to judge, as `link --payload` leaves it.
    let at_cap = format!("{{\"a\": \"{}\"}}", "x".repeat(64 * 1024 - 9));
    assert_eq!(at_cap.len(), 64 * 1024);
    app.update(Msg::Paste(at_cap.clone()), NOW);
    assert!(
        add_form(&app).payload == at_cap,
        "a paste at the cap was refused"
    );
}

/// The payload field is never shown as typed: a chord there added its
/// letter unseen and spoiled the payload pasted. Ctrl-U and Ctrl-W clear
/// it, as Backspace does; any other chord leaves it as it was.
#[test]
fn a_chord_in_the_payload_field_adds_no_letter() {
    let mut app = app();
    app.update(key('a'), NOW);
    app.update(Msg::Paste(CONNECT_PAYLOAD.into()), NOW);
    assert_eq!(add_form(&app).focus, bankdeck::tui::AddField::Payload);
    for chord in [ctrl('a'), ctrl('e'), ctrl('k')] {
        app.update(chord, NOW);
        assert!(
            add_form(&app).payload == CONNECT_PAYLOAD,
            "a chord was typed"
        );
    }
    for clear in ['u', 'w'] {
        app.update(Msg::Paste(CONNECT_PAYLOAD.into()), NOW);
        app.update(ctrl(clear), NOW);
        assert!(
            add_form(&app).payload.is_empty(),
            "ctrl-{clear} cleared nothing"
        );
    }
}

#[test]
fn a_payload_whose_code_has_expired_is_refused_in_the_form() {
    // The code's `exp` is ten minutes before NOW.
    let expired = expired_connect_payload();
    let mut app = app();
    app.update(key('a'), NOW);
    app.update(code(KeyCode::Tab), NOW);
    type_text(&mut app, "zoe");
    app.update(Msg::Paste(expired), NOW);
    assert!(app.update(code(KeyCode::Enter), NOW).is_empty());
    let Mode::Add(form) = app.mode() else {
        panic!("the form closed")
    };
    assert!(
        (form.error.as_deref().unwrap_or("")).contains("must connect again"),
        "{form:?}"
    );
    assert_eq!(app.in_flight(), 0);
}

#[test]
fn a_adds_dapi_from_a_pasted_payload() {
    let mut app = app();
    app.update(key('a'), NOW);
    assert!(matches!(app.mode(), Mode::Add(_)));
    app.update(code(KeyCode::Tab), NOW);
    type_text(&mut app, "zoe q");
    app.update(code(KeyCode::Tab), NOW);
    type_text(&mut app, "ENBD");
    app.update(Msg::Paste("{\"accessCode\": \"x\"}".into()), NOW);
    assert!(app.update(code(KeyCode::Enter), NOW).is_empty());
    let Mode::Add(form) = app.mode() else {
        panic!()
    };
    assert!(
        form.error.as_deref().unwrap_or("").contains("userSecret"),
        "{form:?}"
    );
    app.update(Msg::Paste(CONNECT_PAYLOAD.into()), NOW);
    let cmd = one(app.update(code(KeyCode::Enter), NOW));
    let Command::LinkDapi {
        id,
        provider,
        user,
        label,
        payload,
    } = cmd
    else {
        panic!("{cmd:?}")
    };
    assert_eq!(
        (provider.as_str(), user.as_str(), label.as_str()),
        ("dapi-sandbox", "zoe q", "ENBD")
    );
    assert_eq!(
        payload.connection_id,
        "2c72a336a7c09fd905f9adf3dc5ff976d58eeb20"
    );
    assert_eq!(app.in_flight(), 1);
    // Nothing goes to a provider: the pane says what happens instead.
    assert_eq!(last_text(&app), "link zoe q / ENBD: storing");

    // The new row is selected, so `e` exchanges its code next.
    app.update(
        Msg::Worker(bankdeck::worker::Event::Succeeded {
            by: bankdeck::worker::DoneBy::This,
            id,
            op: bankdeck::domain::OpKind::Link,
            conn: Box::new(dapi_pending(42, "zoe q")),
            message: String::new(),
        }),
        NOW,
    );
    assert_eq!(app.selected_id(), Some(ConnectionId(42)));
    let cmd = one(app.update(key('e'), NOW));
    assert_eq!(sent(std::slice::from_ref(&cmd)), [("exchange", 42)]);
}

#[test]
fn a_starts_a_browser_login_for_oidc_and_shows_its_url() {
    let mut app = app();
    app.update(key('a'), NOW);
    app.update(code(KeyCode::Right), NOW);
    assert!(
        app.update(code(KeyCode::Enter), NOW).is_empty(),
        "user required"
    );
    type_text(&mut app, "zoe");
    let cmd = one(app.update(code(KeyCode::Enter), NOW));
    let (id, provider, user, renewing) = login_of(cmd);
    assert_eq!((provider.as_str(), user.as_str()), ("keycloak", "zoe"));
    assert_eq!(renewing, None, "a new connection renews none");
    let url = "http://127.0.0.1:8400/realms/demo/protocol/openid-connect/auth?x=1".to_string();
    app.update(
        Msg::Worker(bankdeck::worker::Event::LoginUrl {
            id,
            url: url.clone(),
        }),
        NOW,
    );
    assert_eq!(
        app.mode(),
        &Mode::LoginUrl {
            id,
            url: url.clone()
        }
    );
    assert!(last_text(&app).contains(&url));
    app.update(code(KeyCode::Esc), NOW);
    assert_eq!(app.mode(), &Mode::Normal);
    // Shown again, the note closes by itself once the login has an outcome.
    app.update(
        Msg::Worker(bankdeck::worker::Event::LoginUrl {
            id,
            url: url.clone(),
        }),
        NOW,
    );
    assert!(matches!(app.mode(), Mode::LoginUrl { .. }));
    app.update(
        login_failed(id, bankdeck::domain::ErrorKind::Denied, "access_denied"),
        NOW,
    );
    assert_eq!(app.mode(), &Mode::Normal);
    assert!(last_text(&app).contains("access_denied"));
}

/// `L` starts the browser login the add form would, for the row's user and
/// provider, where nothing else renews the row: consent refused or logged
/// out. The row shows busy until the login has an outcome. Where a refresh
/// token works, a Dapi row or an app token, it says what to do instead.
#[test]
fn shift_l_logs_the_row_s_user_in_again_where_only_consent_helps() {
    let mut app = app();
    select(&mut app, 6);
    let cmd = one(app.update(key('L'), NOW));
    let (id, provider, user, renewing) = login_of(cmd);
    assert_eq!((provider.as_str(), user.as_str()), ("bank-oauth", "frank"));
    assert_eq!(renewing, Some(ConnectionId(6)), "the provider is told whom");
    assert!(app.is_busy(ConnectionId(6)));
    assert_eq!(
        last_text(&app),
        "login frank at bank-oauth: waiting for the browser"
    );
    app.update(
        login_failed(id, bankdeck::domain::ErrorKind::Denied, "access_denied"),
        NOW,
    );
    assert!(!app.is_busy(ConnectionId(6)), "the outcome frees the row");
    // The same account: the row renewed in place, and nothing more said.
    let Command::Login { id, .. } = one(app.update(key('L'), NOW)) else {
        panic!()
    };
    let mut frank = sample_connections().remove(5);
    frank.flags.reauth_required = false;
    frank.version += 1;
    app.update(
        Msg::Worker(bankdeck::worker::Event::Succeeded {
            by: bankdeck::worker::DoneBy::This,
            id,
            op: bankdeck::domain::OpKind::Login,
            conn: Box::new(frank),
            message: String::new(),
        }),
        NOW,
    );
    assert_eq!(last_text(&app), "login frank / Bank OAuth: done");
    // Another account consented: a new row, and the one it began on is free.
    select(&mut app, 7);
    let Command::Login { id, .. } = one(app.update(key('L'), NOW)) else {
        panic!()
    };
    let mut other = dapi_pending(12, "grace");
    other.kind = ProviderKind::Oidc;
    app.update(
        Msg::Worker(bankdeck::worker::Event::Succeeded {
            by: bankdeck::worker::DoneBy::This,
            id,
            op: bankdeck::domain::OpKind::Login,
            conn: Box::new(other),
            message: String::new(),
        }),
        NOW,
    );
    assert!(!app.is_busy(ConnectionId(7)) && !app.is_busy(ConnectionId(12)));
    assert_eq!(
        last_text(&app),
        "login grace / Emirates NBD: the account that consented is not connection 7's, so it \
         is a new connection (12); connection 7 still needs its own user's consent"
    );
    assert_eq!(app.in_flight(), 0);
    for (row, says) in [
        (
            3,
            "the connection is active, and its refresh token renews it (r)",
        ),
        (2, "Dapi has no browser login"),
        (11, "an app token needs no user: r asks for it again"),
    ] {
        select(&mut app, row);
        assert!(app.update(key('L'), NOW).is_empty(), "{row}");
        assert!(last_text(&app).contains(says), "{row}: {}", last_text(&app));
    }
}

/// A logged-out app token is asked for anew with `c`, which files the new
/// one on its row: `r` and `L` each pointed to the other, and both refuse.
#[test]
fn a_logged_out_app_token_points_to_c() {
    let mut opts = options();
    let (conns, _) = opts.initial.as_mut().unwrap();
    let row = conns.iter_mut().find(|c| c.id == ConnectionId(11)).unwrap();
    row.flags.logged_out_at = Some(NOW.plus_secs(-60));
    let mut app = app_with(&opts);
    select(&mut app, 11);
    for (k, says) in [
        ('r', ": c asks for a new app token"),
        ('L', "an app token needs no user: c asks for a new one"),
    ] {
        assert!(app.update(key(k), NOW).is_empty(), "{k}");
        assert!(last_text(&app).ends_with(says), "{k}: {}", last_text(&app));
    }
}

/// The add form's browser login for "zoe", a user with no row yet.
fn login_from_the_add_form() -> (bankdeck::tui::App, bankdeck::worker::RequestId) {
    let mut app = app();
    app.update(key('a'), NOW);
    app.update(code(KeyCode::Right), NOW);
    app.update(code(KeyCode::Tab), NOW);
    type_text(&mut app, "zoe");
    let Command::Login { id, .. } = one(app.update(code(KeyCode::Enter), NOW)) else {
        panic!("Enter in the form starts the login")
    };
    (app, id)
}

/// `x` on a row of a bulk refresh stops the bulk: said as that, with how
/// many rows are left, where "stop the operation" read as this row alone.
#[test]
fn x_on_a_row_of_a_bulk_says_the_whole_bulk_stops() {
    let mut app = app();
    let Command::RefreshMany { id, conns } = one(app.update(key('R'), NOW)) else {
        panic!("R refreshes the rows due")
    };
    let progress = bankdeck::worker::Event::Progress {
        id,
        done: 1,
        total: conns.len(),
        failed: 0,
        stopped: 0,
    };
    app.update(Msg::Worker(progress), NOW);
    select(&mut app, conns[1].0);
    let cmd = one(app.update(key('x'), NOW));
    assert!(
        matches!(cmd, Command::Cancel { id: of } if of == id),
        "{cmd:?}"
    );
    let left = conns.len() - 1;
    assert!(
        last_text(&app).starts_with(&format!(
            "cancel: stopping the refresh of {} rows this row is part of ({left} left;",
            conns.len()
        )),
        "{}",
        last_text(&app)
    );
}

/// A login for a user with no row yet, its note closed: `x` on any row
/// that runs nothing stops it, where nothing on screen could before but
/// its 5-minute timeout.
#[test]
fn x_stops_a_login_that_has_no_row() {
    let (mut app, id) = login_from_the_add_form();
    let url = "http://127.0.0.1:8400/auth?x=1".to_string();
    app.update(
        Msg::Worker(bankdeck::worker::Event::LoginUrl { id, url }),
        NOW,
    );
    app.update(code(KeyCode::Esc), NOW);
    assert_eq!(app.mode(), &Mode::Normal);
    select(&mut app, 2);
    let cmd = one(app.update(key('x'), NOW));
    assert!(
        matches!(cmd, Command::Cancel { id: of } if of == id),
        "{cmd:?}"
    );
    assert!(
        last_text(&app).contains("stop the login zoe at"),
        "{}",
        last_text(&app)
    );
}

/// `x` in the login's note cancels the login it shows; the worker's answer
/// (a cancelled login) then ends it like any outcome.
#[test]
fn x_in_the_login_note_cancels_the_login() {
    let (mut app, id) = login_from_the_add_form();
    assert!(
        last_text(&app).ends_with(": waiting for the browser"),
        "{}",
        last_text(&app)
    );
    let url = "http://127.0.0.1:8400/auth?x=1".to_string();
    app.update(
        Msg::Worker(bankdeck::worker::Event::LoginUrl { id, url }),
        NOW,
    );
    assert_eq!(app.in_flight(), 1);
    let cmd = one(app.update(key('x'), NOW));
    assert!(
        matches!(cmd, Command::Cancel { id: of } if of == id),
        "{cmd:?}"
    );
    assert_eq!(app.mode(), &Mode::Normal);
    assert_eq!(last_text(&app), "login: asked the worker to stop it");
    app.update(
        login_failed(
            id,
            bankdeck::domain::ErrorKind::Cancelled,
            "login cancelled while it waited for the browser: nothing was sent",
        ),
        NOW,
    );
    assert_eq!(app.in_flight(), 0);
}

/// The worker's word that login `id` failed.
fn login_failed(
    id: bankdeck::worker::RequestId,
    kind: bankdeck::domain::ErrorKind,
    message: &str,
) -> Msg {
    Msg::Worker(bankdeck::worker::Event::Failed {
        id,
        op: bankdeck::domain::OpKind::Login,
        conn_id: None,
        conn: None,
        error: bankdeck::domain::OpError::new(kind, message),
        next_try: None,
    })
}

#[test]
fn c_asks_for_a_client_credentials_token() {
    let mut app = app();
    app.update(key('c'), NOW);
    let Mode::ClientCreds(form) = app.mode() else {
        panic!()
    };
    assert_eq!(form.providers, vec!["keycloak", "bank-oauth"]);
    app.update(code(KeyCode::Right), NOW);
    let cmd = one(app.update(code(KeyCode::Enter), NOW));
    let Command::ClientCredentials { provider, user, .. } = cmd else {
        panic!("{cmd:?}")
    };
    assert_eq!((provider.as_str(), user.as_str()), ("bank-oauth", "app"));
}

/// While a provider's asked wait holds, a new app token or a browser login
/// for it is refused in its form, which stays open: the worker would hold
/// it unsent, and the pane said "sent" (or "waiting for the browser") and
/// then "not sent".
#[test]
fn a_form_for_a_provider_that_asked_for_a_wait_says_so_and_sends_nothing() {
    let mut app = app();
    let until = NOW.plus_secs(600);
    let wait = bankdeck::domain::ProviderWait::asked("keycloak", NOW, until, "429".into());
    app.update(
        Msg::Worker(bankdeck::worker::Event::ProviderWaiting {
            wait,
            elsewhere: false,
        }),
        NOW,
    );
    let lines = app.activity().len();
    let says = format!(
        "keycloak asked to be sent nothing until {} (W on one of its rows lifts it)",
        until.clock()
    );
    app.update(key('c'), NOW);
    assert!(app.update(code(KeyCode::Enter), NOW).is_empty());
    let Mode::ClientCreds(form) = app.mode() else {
        panic!("{:?}", app.mode())
    };
    assert_eq!(form.error.as_deref(), Some(says.as_str()));
    app.update(code(KeyCode::Esc), NOW);
    // The add form's browser login at keycloak.
    app.update(key('a'), NOW);
    app.update(code(KeyCode::Right), NOW);
    app.update(code(KeyCode::Tab), NOW);
    type_text(&mut app, "zoe");
    assert!(app.update(code(KeyCode::Enter), NOW).is_empty());
    assert_eq!(add_form(&app).error.as_deref(), Some(says.as_str()));
    assert_eq!(app.activity().len(), lines, "nothing said sent");
    // Another provider's goes.
    app.update(code(KeyCode::Esc), NOW);
    app.update(key('c'), NOW);
    app.update(code(KeyCode::Right), NOW);
    assert!(matches!(
        one(app.update(code(KeyCode::Enter), NOW)),
        Command::ClientCredentials { .. }
    ));
}

/// What Enter refused is said until the field is mended, typed or pasted:
/// it stayed beside a value that was already good.
#[test]
fn a_form_s_refusal_goes_when_its_field_is_edited() {
    let mut app = app();
    app.update(key('c'), NOW);
    app.update(code(KeyCode::Tab), NOW);
    for _ in 0..3 {
        app.update(code(KeyCode::Backspace), NOW);
    }
    let error = |app: &App| match app.mode() {
        Mode::ClientCreds(form) => form.error.clone(),
        Mode::Add(form) => form.error.clone(),
        other => panic!("{other:?}"),
    };
    assert!(app.update(code(KeyCode::Enter), NOW).is_empty());
    assert!(error(&app).is_some_and(|e| e.contains("a user name is required")));
    app.update(key('x'), NOW);
    assert_eq!(error(&app), None);
    app.update(code(KeyCode::Backspace), NOW);
    app.update(code(KeyCode::Enter), NOW);
    assert!(error(&app).is_some());
    app.update(Msg::Paste("ops".into()), NOW);
    assert_eq!(error(&app), None);
    let cmd = one(app.update(code(KeyCode::Enter), NOW));
    assert!(matches!(&cmd, Command::ClientCredentials { user, .. } if user == "ops"));

    app.update(key('a'), NOW);
    app.update(code(KeyCode::Tab), NOW);
    app.update(code(KeyCode::Enter), NOW);
    assert!(error(&app).is_some_and(|e| e.contains("a user name is required")));
    app.update(Msg::Paste("amira".into()), NOW);
    assert_eq!(error(&app), None);
}

#[test]
fn x_cancels_the_operation_on_the_row() {
    let mut app = app();
    select(&mut app, 4);
    let Command::Refresh { id, .. } = one(app.update(key('r'), NOW)) else {
        panic!()
    };
    let cmd = one(app.update(key('x'), NOW));
    assert!(matches!(cmd, Command::Cancel { id: c } if c == id));
    select(&mut app, 3);
    assert!(app.update(key('x'), NOW).is_empty());
}

#[test]
fn readonly_refuses_every_change_with_a_message() {
    let mut app = readonly_app();
    select(&mut app, 1);
    for c in ['e', 'r', 'R', 'l', 'D', 'a', 'c', 'x'] {
        assert!(app.update(key(c), NOW).is_empty(), "{c} sent something");
        assert_eq!(app.mode(), &Mode::Normal, "{c} opened a dialog");
        let line = app.last_activity().unwrap();
        assert!(line.text.starts_with("read-only:"), "{c}: {}", line.text);
        assert_eq!(line.level, Level::Warn);
    }
    let load = one(app.update(key('d'), NOW));
    app.update(detail_event(load_detail_id(&load, 1), 1), NOW);
    assert!(app.update(key('v'), NOW).is_empty(), "v asked to record");
    assert_eq!(
        last_text(&app),
        "read-only: reveal refused (started with --readonly)"
    );
}

#[test]
fn key_overrides_replace_defaults_and_bad_ones_are_reported() {
    let mut opts = options();
    opts.keys.insert("refresh".into(), "ctrl-r".into());
    opts.keys.insert("refresh_every_thing".into(), "z".into());
    let mut app = app_with(&opts);
    assert!(
        app.activity()
            .any(|l| l.text.contains("refresh_every_thing")),
        "the bad entry is named"
    );
    select(&mut app, 4);
    assert!(app.update(key('r'), NOW).is_empty());
    assert!(matches!(
        one(app.update(ctrl('r'), NOW)),
        Command::Refresh { .. }
    ));
}

#[test]
fn colon_runs_an_action_by_name_and_typing_fires_nothing() {
    let mut app = app();
    select(&mut app, 4);
    app.update(key(':'), NOW);
    assert!(matches!(app.mode(), Mode::Command(_)));
    let cmds = type_text(&mut app, "refresh");
    assert!(cmds.is_empty(), "typing sent {cmds:?}");
    let cmd = one(app.update(code(KeyCode::Enter), NOW));
    assert_eq!(sent(std::slice::from_ref(&cmd)), [("refresh", 4)]);
    assert_eq!(app.mode(), &Mode::Normal);
}

#[test]
fn colon_with_an_unknown_name_says_so_and_esc_drops_the_line() {
    let mut app = app();
    app.update(key(':'), NOW);
    type_text(&mut app, "frobnicate");
    assert!(app.update(code(KeyCode::Enter), NOW).is_empty());
    assert!(
        last_text(&app).contains("no command ':frobnicate'"),
        "{}",
        last_text(&app)
    );
    app.update(key(':'), NOW);
    type_text(&mut app, "delink");
    app.update(code(KeyCode::Esc), NOW);
    assert_eq!(app.mode(), &Mode::Normal);
    app.update(key(':'), NOW);
    type_text(&mut app, "q");
    app.update(code(KeyCode::Enter), NOW);
    assert!(app.should_quit());
}

/// Types `line` after `:` and presses Enter.
fn colon(app: &mut App, line: &str) -> Vec<Command> {
    app.update(key(':'), NOW);
    type_text(app, line);
    app.update(code(KeyCode::Enter), NOW)
}

/// The word a toggle or a cycle acts on runs it (`:sort`, `:users`), and
/// Tab completes that word, as `:sort user` is written.
#[test]
fn colon_takes_the_word_an_action_acts_on() {
    let mut app = app();
    assert!(colon(&mut app, "sort").is_empty());
    assert_eq!(app.sort(), SortKey::User);
    app.update(key(':'), NOW);
    type_text(&mut app, "sor");
    app.update(code(KeyCode::Tab), NOW);
    let Mode::Command(line) = app.mode() else {
        panic!("{:?}", app.mode())
    };
    assert_eq!(line.text(), "sort");
    app.update(code(KeyCode::Enter), NOW);
    assert_eq!(app.sort(), SortKey::Provider);
}

/// `:sort user` sorts by that key at once, as `status --sort user` does,
/// where it used to say that sorting takes no connection id.
#[test]
fn colon_sort_with_a_key_sorts_by_it() {
    let mut app = app();
    for (line, key) in [
        ("sort user", SortKey::User),
        ("sort STATE", SortKey::State),
        ("cycle-sort provider", SortKey::Provider),
        ("sort time-left", SortKey::TimeLeft),
        ("sort provider", SortKey::Provider),
        ("sort time", SortKey::TimeLeft),
        ("sort u", SortKey::User),
        ("sort st", SortKey::State),
        ("sort left", SortKey::TimeLeft),
    ] {
        assert!(colon(&mut app, line).is_empty(), ":{line}");
        assert_eq!(app.sort(), key, ":{line}");
    }
    let users: Vec<i64> = app.visible_ids().iter().map(|c| c.0).collect();
    assert!(colon(&mut app, "sort user").is_empty());
    let by_user: Vec<i64> = app.visible_ids().iter().map(|c| c.0).collect();
    assert_ne!(users, by_user, "the rows follow the key");
    assert_eq!(by_user[..3], [1, 11, 2], "alice, app, bob: {by_user:?}");
}

#[test]
fn colon_with_a_connection_id_goes_to_it_and_acts_on_it() {
    let mut app = app();
    select(&mut app, 4);
    // `:9` only moves the selection; `:refresh 3` moves it and refreshes 3,
    // as `bankdeck refresh 3` would.
    assert!(colon(&mut app, "9").is_empty());
    assert_eq!(app.selected_id(), Some(ConnectionId(9)));
    let cmd = one(colon(&mut app, "refresh 3"));
    assert_eq!(sent(std::slice::from_ref(&cmd)), [("refresh", 3)]);
    assert_eq!(app.selected_id(), Some(ConnectionId(3)));
    assert!(colon(&mut app, "delink 2").is_empty());
    assert!(
        matches!(app.mode(), Mode::ConfirmDelink(_)),
        "{:?}",
        app.mode()
    );
    assert_eq!(app.selected_id(), Some(ConnectionId(2)));
}

#[test]
fn colon_with_an_id_it_cannot_use_says_why_and_stays_put() {
    let mut app = app();
    select(&mut app, 4);
    for (line, says) in [
        ("404", "no connection 404"),
        ("refresh 404", "no connection 404"),
        ("refresh x4", "'x4' is no connection id"),
        (
            "cycle_sort 3",
            "':sort 3': sort by time-left, user, provider or state",
        ),
        ("toggle_users 3", "':toggle_users' takes no connection id"),
        ("refresh 3 4", "at most one connection id"),
    ] {
        assert!(colon(&mut app, line).is_empty(), ":{line} sent something");
        assert!(
            last_text(&app).contains(says),
            ":{line}: {}",
            last_text(&app)
        );
        assert_eq!(app.selected_id(), Some(ConnectionId(4)), ":{line}");
        assert_eq!(app.sort(), SortKey::TimeLeft, ":{line}");
    }
    // A row the filter hides is not acted on unseen.
    filter_by(&mut app, "dave");
    assert!(colon(&mut app, "refresh 3").is_empty());
    assert!(
        last_text(&app).contains("connection 3 is not shown"),
        "{}",
        last_text(&app)
    );
    assert_eq!(app.selected_id(), Some(ConnectionId(4)));
}

/// `a` from one user's connections, or on a user in the users view, opens
/// the add form with that user's name already in it.
#[test]
fn add_starts_with_the_user_in_sight() {
    let user_in_form = |app: &App| match app.mode() {
        Mode::Add(f) => f.user.text().to_owned(),
        other => panic!("{other:?}"),
    };
    let mut app = app();
    app.update(key('a'), NOW);
    assert_eq!(user_in_form(&app), "", "no user in sight");
    app.update(code(KeyCode::Esc), NOW);

    app.update(key('u'), NOW);
    app.update(key('j'), NOW);
    app.update(key('j'), NOW);
    app.update(key('a'), NOW);
    assert_eq!(user_in_form(&app), "bob", "the user under the cursor");
    app.update(code(KeyCode::Esc), NOW);

    assert!(app.users_view_open(), "the form closes back to the view");
    app.update(code(KeyCode::Enter), NOW);
    assert_eq!(app.user_scope(), Some("bob"));
    app.update(key('a'), NOW);
    assert_eq!(user_in_form(&app), "bob", "the user whose rows are shown");
}

/// A login command's id, provider, user and the row it renews.
fn login_of(
    cmd: Command,
) -> (
    bankdeck::worker::RequestId,
    String,
    String,
    Option<ConnectionId>,
) {
    match cmd {
        Command::Login {
            id,
            provider,
            user,
            renewing,
        } => (id, provider, user, renewing),
        other => panic!("not a login: {other:?}"),
    }
}

/// `y` hands the run loop the selected row's ids for the clipboard, once,
/// and says what it copied; read-only mode copies too, since nothing is
/// written. With no row selected it says so and copies nothing.
#[test]
fn y_copies_the_selected_rows_ids_once() {
    let mut app = readonly_app();
    select(&mut app, 2);
    assert!(app.update(key('y'), NOW).is_empty());
    let want = "connection 2 · bob · ADCB (dapi-sandbox) · \
                connectionID e9271a7adc39a5afe3b0982732c92fddaa20d002 · \
                userID user-iYzutZvO5lZSbJoYontLA2FuZm48ILZfcEd4NkDv002 · \
                tokenID 32896801-0342-4331-9d22-1ac3dac4b002";
    assert_eq!(app.take_clipboard().as_deref(), Some(want));
    assert_eq!(app.take_clipboard(), None, "once");
    assert!(last_text(&app).ends_with(want), "{}", last_text(&app));
    filter_by(&mut app, "nobody at all");
    app.update(key('y'), NOW);
    assert_eq!(app.take_clipboard(), None);
    assert_eq!(last_text(&app), "copy_ids: no connection selected");
}

/// A provider's id holding an escape, a line break or a bidirectional
/// override (a hostile `sub`, a Dapi userID) is copied without them: in
/// the shell it is pasted into, they would run or mislead, unseen here.
#[test]
fn y_copies_no_control_or_invisible_character_of_a_providers_id() {
    let mut conns = sample_connections();
    conns[1].remote.user_id = Some("user\u{1b}]0;X\u{7}\nrm -rf ~\u{202e}".into());
    let users = users_for(&conns);
    let mut opts = options();
    opts.initial = Some((conns, users));
    let mut app = app_with(&opts);
    select(&mut app, 2);
    app.update(key('y'), NOW);
    let copied = app.take_clipboard().unwrap();
    assert!(copied.contains("userID user]0;Xrm -rf ~ · "), "{copied:?}");
    assert!(!copied.chars().any(|c| c.is_control() || c == '\u{202e}'));
}

/// While the users view lists users, the table's selection is hidden
/// behind it: a row's key does nothing there but say so. It used to act
/// on that hidden row (`r` refreshed carol with alice's user on screen).
/// The table's sort too: `s` changed it out of sight.
#[test]
fn row_keys_do_nothing_behind_the_users_view() {
    let mut app = app();
    select(&mut app, 3);
    app.update(key('u'), NOW);
    let sort = app.sort();
    for c in ['r', 'R', 'v', 'y', 'l', 'L', 'e', 'x', 's'] {
        assert!(app.update(key(c), NOW).is_empty(), "{c} sent something");
        assert_eq!(app.take_clipboard(), None, "{c}");
        let line = app.last_activity().unwrap();
        assert!(
            line.text
                .ends_with(": the users view is open: Esc leaves it for the connections"),
            "{c}: {}",
            line.text
        );
        assert_eq!(line.level, Level::Warn);
    }
    assert_eq!(app.sort(), sort);
    // Esc, and the same key acts on the row again.
    app.update(code(KeyCode::Esc), NOW);
    assert!(matches!(
        one(app.update(key('r'), NOW)),
        Command::Refresh { .. }
    ));
}

/// `r` on a delinked Dapi row says it is delinked, not only that Dapi
/// tokens are permanent.
#[test]
fn r_on_a_delinked_dapi_row_says_delinked() {
    let mut app = app();
    select(&mut app, 8);
    assert!(app.update(key('r'), NOW).is_empty());
    assert!(
        last_text(&app).contains("delinked: nothing to refresh"),
        "{}",
        last_text(&app)
    );
    select(&mut app, 2);
    assert!(app.update(key('r'), NOW).is_empty());
    assert!(
        last_text(&app).contains("Dapi tokens are permanent"),
        "{}",
        last_text(&app)
    );
    // A code still pending is not a permanent token yet: what it needs.
    select(&mut app, 1);
    assert!(app.update(key('r'), NOW).is_empty());
    assert!(
        last_text(&app).ends_with("a Dapi access code is exchanged, not refreshed: exchange it"),
        "{}",
        last_text(&app)
    );
    // One expired before it was: an exchange would be refused too.
    select(&mut app, 10);
    assert!(app.update(key('r'), NOW).is_empty());
    assert!(
        last_text(&app)
            .ends_with("the access code expired 5m ago, before it was exchanged: link again"),
        "{}",
        last_text(&app)
    );
}
