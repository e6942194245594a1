//! Keys and pastes inside the add form and the client-credentials form, and
//! turning a filled form into its command.
//!
//! The Connect payload is checked with the domain's parser as it is pasted
//! and again on Enter; its error shows in the form, nothing is sent.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::domain::{Connection, OpKind, ProviderKind, UnixTime, User};
use crate::worker::Command;

use super::super::app::{App, Sent};
use super::super::forms::{AddField, AddForm, CredsField, Mode};
use super::{data, ops, users};

pub(super) fn add_key(app: &mut App, key: &KeyEvent, now: UnixTime) -> Vec<Command> {
    let Mode::Add(form) = &mut app.mode else {
        return Vec::new();
    };
    app.dirty = true;
    match key.code {
        KeyCode::Esc => app.mode = Mode::Normal,
        KeyCode::Enter => return submit_add(app, now),
        KeyCode::Tab | KeyCode::Down => move_focus(form, 1),
        KeyCode::BackTab | KeyCode::Up => move_focus(form, -1),
        _ => edit_add(form, key),
    }
    Vec::new()
}

fn move_focus(form: &mut AddForm, step: isize) {
    let fields = form.fields();
    let at = fields.iter().position(|f| *f == form.focus).unwrap_or(0);
    let next = (at as isize + step).rem_euclid(fields.len() as isize) as usize;
    form.focus = fields[next];
}

fn edit_add(form: &mut AddForm, key: &KeyEvent) {
    match form.focus {
        AddField::Provider => {
            let n = form.providers.len().max(1);
            match key.code {
                KeyCode::Right | KeyCode::Char(' ') => form.provider = (form.provider + 1) % n,
                KeyCode::Left => form.provider = (form.provider + n - 1) % n,
                _ => {}
            }
        }
        AddField::User => _ = form.user.handle_key(key),
        AddField::Label => _ = form.label.handle_key(key),
        AddField::Payload => {
            let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
            match key.code {
                // The payload is never shown as typed, so it is edited
                // whole: what deletes a part elsewhere clears it.
                KeyCode::Backspace | KeyCode::Delete => form.payload.clear(),
                KeyCode::Char('u' | 'w') if ctrl => form.payload.clear(),
                // No text: a letter added unseen spoiled a pasted payload.
                KeyCode::Char(_) if ctrl => {}
                KeyCode::Char(c) => form.payload.push(c),
                _ => {}
            }
        }
    }
    form.error = None;
}

fn submit_add(app: &mut App, now: UnixTime) -> Vec<Command> {
    let Mode::Add(form) = &mut app.mode else {
        return Vec::new();
    };
    let user = form.user.text().trim().to_owned();
    if user.is_empty() {
        form.error = Some("a user name is required".into());
        form.focus = AddField::User;
        return Vec::new();
    }
    if let Err(why) = User::check_name(&user) {
        form.error = Some(why.into());
        form.focus = AddField::User;
        return Vec::new();
    }
    if let Err(why) = Connection::check_label(form.label.text()) {
        form.error = Some(why.into());
        form.focus = AddField::Label;
        return Vec::new();
    }
    let provider = form.provider_name().to_owned();
    let command = match form.kind() {
        Some(ProviderKind::Dapi) => match form.checked(now) {
            Some(Ok(payload)) => {
                let label = Some(form.label.text().trim())
                    .filter(|l| !l.is_empty())
                    .unwrap_or(&provider)
                    .to_owned();
                let what = format!("{user} / {label}");
                let id = ops::track(app, now, OpKind::Link, Vec::new(), what, Sent::Alone);
                Command::LinkDapi {
                    id,
                    provider,
                    user,
                    label,
                    payload,
                }
            }
            Some(Err(e)) => return form_error(form, e),
            None => return form_error(form, "paste the Connect success payload".into()),
        },
        _ => {
            if let Some(why) = ops::held_by_wait(app, &provider, now) {
                return refused_for_wait(app, why);
            }
            let what = format!("{user} at {provider}");
            let id = ops::track(app, now, OpKind::Login, Vec::new(), what, Sent::Alone);
            Command::Login {
                id,
                provider,
                user,
                renewing: None,
            }
        }
    };
    app.mode = Mode::Normal;
    vec![command]
}

/// The form stays open, saying the wait: nothing was sent, and a "sent"
/// line followed by "not sent" said otherwise.
fn refused_for_wait(app: &mut App, why: String) -> Vec<Command> {
    let lift = app
        .keymap
        .describe_keys(crate::tui::action::Action::LiftWait);
    let said = Some(format!("{why} ({lift} on one of its rows lifts it)"));
    match &mut app.mode {
        Mode::Add(form) => form.error = said,
        Mode::ClientCreds(form) => form.error = said,
        _ => {}
    }
    Vec::new()
}

fn form_error(form: &mut AddForm, message: String) -> Vec<Command> {
    form.error = Some(message);
    form.focus = AddField::Payload;
    Vec::new()
}

pub(super) fn creds_key(app: &mut App, key: &KeyEvent, now: UnixTime) -> Vec<Command> {
    let Mode::ClientCreds(form) = &mut app.mode else {
        return Vec::new();
    };
    app.dirty = true;
    // What Enter refused is being mended: its word no longer stands beside
    // the value, as in the add form.
    if key.code != KeyCode::Enter {
        form.error = None;
    }
    let n = form.providers.len().max(1);
    match (key.code, form.focus) {
        (KeyCode::Esc, _) => app.mode = Mode::Normal,
        (KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down, CredsField::Provider) => {
            form.focus = CredsField::User;
        }
        (KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down, CredsField::User) => {
            form.focus = CredsField::Provider;
        }
        (KeyCode::Right | KeyCode::Char(' '), CredsField::Provider) => {
            form.provider = (form.provider + 1) % n;
        }
        (KeyCode::Left, CredsField::Provider) => form.provider = (form.provider + n - 1) % n,
        (KeyCode::Enter, _) => return submit_creds(app, now),
        (_, CredsField::User) => _ = form.user.handle_key(key),
        _ => {}
    }
    Vec::new()
}

fn submit_creds(app: &mut App, now: UnixTime) -> Vec<Command> {
    let Mode::ClientCreds(form) = &mut app.mode else {
        return Vec::new();
    };
    let user = form.user.text().trim().to_owned();
    if user.is_empty() {
        form.error = Some("a user name is required (the token is filed under it)".into());
        return Vec::new();
    }
    if let Err(why) = User::check_name(&user) {
        form.error = Some(why.into());
        return Vec::new();
    }
    let provider = form
        .providers
        .get(form.provider)
        .cloned()
        .unwrap_or_default();
    if let Some(why) = ops::held_by_wait(app, &provider, now) {
        return refused_for_wait(app, why);
    }
    let what = format!("{user} at {provider}");
    let id = ops::track(
        app,
        now,
        OpKind::ClientCredentials,
        Vec::new(),
        what,
        Sent::Alone,
    );
    app.mode = Mode::Normal;
    vec![Command::ClientCredentials { id, provider, user }]
}

/// A bracketed paste goes to the field that has focus; in the Dapi form a
/// paste outside the name fields is the Connect payload.
pub(super) fn on_paste(app: &mut App, text: &str, now: UnixTime) -> Vec<Command> {
    app.dirty = true;
    match &mut app.mode {
        Mode::Filter if app.users_view.is_some() => users::paste(app, text),
        Mode::Filter => {
            app.filter.insert_str(text);
            return data::refilter(app, now);
        }
        Mode::ConfirmDelink(d) => d.typed.insert_str(text.trim()),
        Mode::Command(line) => line.insert_str(text.trim()),
        Mode::ClientCreds(f) if f.focus == CredsField::User => {
            f.user.insert_str(text.trim());
            f.error = None;
        }
        Mode::Add(f) if looks_like_payload(text) => paste_payload(f, text),
        Mode::Add(f) => match f.focus {
            AddField::User => {
                f.user.insert_str(text.trim());
                f.error = None;
            }
            AddField::Label => {
                f.label.insert_str(text.trim());
                f.error = None;
            }
            // Dropped without a word, the field kept its placeholder. Not
            // shown back: an access code alone is as secret as the payload.
            AddField::Payload => {
                f.error = Some(
                    "that paste is not a Connect payload: paste the JSON Connect's onSuccess \
                     hands over (accessCode, connectionID, userSecret)"
                        .into(),
                );
            }
            AddField::Provider => {}
        },
        _ => app.dirty = false,
    }
    Vec::new()
}

/// A Connect payload pasted into the add form, wherever its focus is. With
/// another family's provider chosen, it was dropped without a word; it now
/// chooses the Dapi provider when there is one, and otherwise says what to
/// do.
fn paste_payload(f: &mut AddForm, text: &str) {
    // Refused as it arrives, as `link --payload` refuses it, so that a
    // payload already in the field is not replaced by megabytes that
    // would only be refused at Enter.
    let most = crate::domain::payload::MAX_PAYLOAD;
    if text.len() > most {
        f.error = Some(format!(
            "that paste holds more than {} KiB: a Connect payload is the few hundred bytes of \
             JSON that onSuccess hands over",
            most / 1024
        ));
        return;
    }
    if f.kind() != Some(ProviderKind::Dapi) {
        let dapi: Vec<usize> = (0..f.providers.len())
            .filter(|&i| f.providers[i].1 == ProviderKind::Dapi)
            .collect();
        match dapi[..] {
            [only] => f.provider = only,
            [] => {
                f.error = Some(
                    "that is a Dapi Connect payload, and no Dapi provider is configured".into(),
                );
                return;
            }
            _ => {
                let names: Vec<&str> = dapi.iter().map(|&i| f.providers[i].0.as_str()).collect();
                f.error = Some(format!(
                    "that is a Dapi Connect payload: choose its provider ({}) with ←/→, then paste it again",
                    names.join(", ")
                ));
                return;
            }
        }
    }
    f.payload = text.to_owned();
    f.focus = AddField::Payload;
    f.error = None;
}

/// A paste that is a Connect payload (JSON, or its fields without braces)
/// is one wherever the focus is: nobody names a user `{"accessCode": …`.
fn looks_like_payload(text: &str) -> bool {
    text.contains('{') || text.contains("accessCode")
}
