//! `bankdeck generate`: a store of many users and connections for benchmarks.
//!
//! Hidden from `--help` (an operator never needs it) and documented in
//! `BENCHMARKS.md`. It writes through the real store code — the same
//! validation, encryption of every secret and audit line as a live link —
//! so a benchmark reads exactly what production would. Connections are spread
//! deterministically over every state an operator meets (pending and expired
//! codes, permanent, active with expiries from seconds to days, expiring,
//! expired, re-consent, logged out, delinked, failed) and over the three
//! provider families, with names and the demo config's provider names
//! (`dapi`, `bank`, `everifin`). Connections go in batches, one transaction
//! (one fsync) per batch; users, far fewer, one transaction each.

use std::io::IsTerminal;
use std::time::Instant;

use crate::domain::{
    AccessExpiry, Flags, Grant, Lifetimes, OpKind, ProviderKind, RemoteIds, Scopes, Secret,
    Secrets, UnixTime, User,
};
use crate::store::{AuditDraft, NewConnection, Store, StoreError};

/// Connections per transaction: big enough that commits do not dominate,
/// small enough that one batch's memory stays a few megabytes.
const BATCH: usize = 5_000;

const FIRST: &[&str] = &[
    "amira", "omar", "lena", "ravi", "sofia", "jonas", "fatima", "tomas", "mei", "david", "nadia",
    "peter", "yusuf", "ines", "kofi", "hana", "lucas", "zara", "emil", "noor",
];
const LAST: &[&str] = &[
    "haddad", "farouk", "novak", "menon", "marin", "berg", "zahra", "kral", "chen", "levi",
    "rahman", "horvat", "okafor", "silva", "tanaka", "dubois", "kowal", "ahmed", "larsen", "rossi",
];
const BANKS: &[&str] = &[
    "Emirates NBD",
    "ADCB",
    "Mashreq",
    "FAB",
    "RAKBANK",
    "Commercial Bank",
    "Dubai Islamic",
    "HSBC",
];
const DAPI_SCOPES: &[&str] = &[
    "identity.get",
    "accounts.get",
    "balance.get",
    "transactions.get",
    "beneficiaries.get",
    "transfer.create",
];

/// What was written, for the command's one-line report.
#[derive(Debug, Clone, Copy)]
pub struct Generated {
    pub users: usize,
    pub connections: usize,
}

/// Adds `users` users and `connections` connections spread over them, with
/// lifetimes relative to `now`. `progress` hears (connections written so far).
pub fn fill(
    store: &dyn Store,
    connections: usize,
    users: usize,
    now: UnixTime,
    actor: &str,
    mut progress: impl FnMut(usize),
) -> Result<Generated, StoreError> {
    let audit = |op, message: &str| AuditDraft {
        at: now,
        actor: actor.to_owned(),
        op,
        ok: true,
        message: message.to_owned(),
    };
    let mut made: Vec<User> = Vec::with_capacity(users);
    for i in 0..users.max(1) {
        let name = user_name(i);
        made.push(store.add_user(&name, None, audit(OpKind::AddUser, "generated"))?);
    }
    let mut batch = Vec::with_capacity(BATCH.min(connections));
    for i in 0..connections {
        let user = &made[mix(i as u64) as usize % made.len()];
        batch.push(connection(i, user, now));
        if batch.len() == BATCH || i + 1 == connections {
            let full = std::mem::take(&mut batch);
            store.insert_connections(full, audit(OpKind::Link, "generated for a benchmark"))?;
            progress(i + 1);
        }
    }
    Ok(Generated {
        users: made.len(),
        connections,
    })
}

/// `amira.haddad`, …, then `amira.haddad.2` once the 400 pairs are used.
fn user_name(i: usize) -> String {
    let pair = i % (FIRST.len() * LAST.len());
    let base = format!("{}.{}", FIRST[pair % FIRST.len()], LAST[pair / FIRST.len()]);
    match i / (FIRST.len() * LAST.len()) {
        0 => base,
        round => format!("{base}.{}", round + 1),
    }
}

/// A cheap, deterministic scramble (splitmix64), so states are spread
/// evenly but not in stripes.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `i`-th connection: its family and state come from a hash of `i`.
fn connection(i: usize, user: &User, now: UnixTime) -> (NewConnection, Flags) {
    let h = mix(i as u64 ^ 0x5bd1_e995);
    let bank = BANKS[(h >> 8) as usize % BANKS.len()];
    // Seconds spread over a day, so countdowns and the sort have real spread.
    let spread = ((h >> 16) % 86_400) as i64;
    match h % 10 {
        0..=3 => dapi(i, user, bank, h >> 40, spread, now),
        4..=6 => oauth(i, user, "bank", ProviderKind::OAuth2, h >> 40, spread, now),
        _ => oauth(
            i,
            user,
            "everifin",
            ProviderKind::Oidc,
            h >> 40,
            spread,
            now,
        ),
    }
}

/// Ids of the lengths and alphabets the providers give, so that what a
/// filter scans is what it would scan in production: Dapi's `connectionID`
/// is 40 hex digits and its `userID` "user-" and 43 URL-safe base64
/// characters (seed 002); `tokenID`, a Keycloak `sub` and a session are UUIDs.
/// Callers put which id it is in the seed's top bits (`1 << 48 | i`), so
/// that no two ids share a seed.
fn remote_id(shape: IdShape, seed: u64) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let words: [u64; 5] = std::array::from_fn(|k| mix(seed ^ (k as u64) << 56));
    match shape {
        IdShape::Hex40 => format!("{:016x}{:016x}{:08x}", words[0], words[1], words[2] >> 32),
        IdShape::DapiUser => {
            let bits = words
                .iter()
                .flat_map(|w| (0..10).map(move |k| w >> (k * 6)));
            let tail: String = bits
                .take(43)
                .map(|b| B64[(b & 63) as usize] as char)
                .collect();
            format!("user-{tail}")
        }
        IdShape::Uuid => {
            let (a, b) = (words[0], words[1]);
            format!(
                "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xFFFF,
                a & 0xFFF,
                0x8000 | (b >> 48) & 0x3FFF,
                b & 0xFFFF_FFFF_FFFF
            )
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum IdShape {
    Hex40,
    DapiUser,
    Uuid,
}

fn secret(kind: &str, i: usize) -> Option<Secret> {
    Some(Secret::new(format!(
        "{kind}-{i:08}-generated-not-a-real-token"
    )))
}

fn dapi(
    i: usize,
    user: &User,
    bank: &str,
    pick: u64,
    spread: i64,
    now: UnixTime,
) -> (NewConnection, Flags) {
    let granted = DAPI_SCOPES[..2 + (pick as usize % (DAPI_SCOPES.len() - 1))].to_vec();
    let mut flags = Flags::default();
    let mut lifetimes = Lifetimes::default();
    let mut secrets = Secrets {
        user_secret: secret("usersecret", i),
        ..Secrets::default()
    };
    match pick % 6 {
        // A code waiting to be exchanged, some minutes left.
        0 => {
            lifetimes.code_expires_at = Some(now.plus_secs(30 + spread % 1_770));
            secrets.access_code = secret("code", i);
        }
        // A code nobody exchanged in time.
        1 => {
            lifetimes.code_expires_at = Some(now.plus_secs(-1 - spread));
            secrets.access_code = secret("code", i);
        }
        // Delinked: final, secrets erased.
        2 => {
            lifetimes.access = Some(AccessExpiry::Permanent);
            flags.delinked_at = Some(now.plus_secs(-spread));
            secrets = Secrets::default();
        }
        // A link that failed before any token existed.
        3 => flags.last_error = Some("INVALID_CREDENTIALS: the bank refused the login".into()),
        // Exchanged: permanent.
        _ => {
            lifetimes.access = Some(AccessExpiry::Permanent);
            lifetimes.access_received_at = Some(now.plus_secs(-spread));
            secrets.access_token = secret("access", i);
        }
    }
    let new = NewConnection {
        user_id: user.id,
        provider: "dapi".into(),
        kind: ProviderKind::Dapi,
        grant: Grant::DapiConnect,
        label: bank.into(),
        remote: RemoteIds {
            connection_id: Some(remote_id(IdShape::Hex40, 1 << 48 | i as u64)),
            user_id: Some(remote_id(IdShape::DapiUser, 2 << 48 | user.id.0 as u64)),
            token_id: Some(remote_id(IdShape::Uuid, 3 << 48 | i as u64)),
            session: None,
        },
        lifetimes,
        scopes: Scopes {
            granted: granted.iter().map(|s| (*s).to_owned()).collect(),
            denied: ["transfer.create".to_owned()].into(),
            products: ["data".to_owned()].into(),
        },
        secrets,
    };
    (new, flags)
}

fn oauth(
    i: usize,
    user: &User,
    provider: &str,
    kind: ProviderKind,
    pick: u64,
    spread: i64,
    now: UnixTime,
) -> (NewConnection, Flags) {
    let life = if kind == ProviderKind::Oidc {
        300
    } else {
        3_600
    };
    let mut flags = Flags::default();
    let received = now.plus_secs(-(spread % life));
    let mut lifetimes = Lifetimes {
        code_expires_at: None,
        access: Some(AccessExpiry::At(received.plus_secs(life))),
        access_received_at: Some(received),
        has_refresh: true,
        refresh_expires_at: Some(now.plus_secs(86_400 + spread)),
        refresh_slides: false,
    };
    let mut grant = Grant::AuthorizationCode;
    let mut secrets = Secrets {
        access_token: secret("access", i),
        refresh_token: secret("refresh", i),
        id_token: (kind == ProviderKind::Oidc)
            .then(|| secret("idtoken", i))
            .flatten(),
        ..Secrets::default()
    };
    match pick % 8 {
        // Expired a while ago, still refreshable.
        0 => {
            lifetimes.access = Some(AccessExpiry::At(now.plus_secs(-1 - spread)));
            lifetimes.access_received_at = Some(now.plus_secs(-1 - spread - life));
        }
        // Refresh rejected: the user must consent again.
        1 => {
            flags.reauth_required = true;
            flags.last_error = Some("invalid_grant: refresh token revoked".into());
        }
        // Logged out: refresh token revoked, access token runs out.
        2 => {
            flags.logged_out_at = Some(received);
            lifetimes.has_refresh = false;
            secrets.refresh_token = None;
        }
        // An app-level token from client credentials (bank only).
        3 if kind == ProviderKind::OAuth2 => {
            grant = Grant::ClientCredentials;
            lifetimes.has_refresh = false;
            lifetimes.refresh_expires_at = None;
            secrets.refresh_token = None;
        }
        // A refresh that failed on the network: still active, with an error.
        4 => flags.last_error = Some("timed out after 10s".into()),
        // Active, with a long-lived access token (days).
        5 => lifetimes.access = Some(AccessExpiry::At(now.plus_secs(3_600 + spread * 3))),
        _ => {}
    }
    // One `sub` per user at each provider, as two realms give two.
    let sub_tag: u64 = if kind == ProviderKind::Oidc { 6 } else { 4 };
    let new = NewConnection {
        user_id: user.id,
        provider: provider.into(),
        kind,
        grant,
        label: provider.into(),
        remote: RemoteIds {
            user_id: Some(remote_id(IdShape::Uuid, sub_tag << 48 | user.id.0 as u64)),
            session: (kind == ProviderKind::Oidc)
                .then(|| remote_id(IdShape::Uuid, 5 << 48 | i as u64)),
            ..RemoteIds::default()
        },
        lifetimes,
        scopes: Scopes::granted(match kind {
            ProviderKind::Oidc => vec!["openid".into(), "offline_access".into(), "accounts".into()],
            _ => vec!["accounts".into(), "payments".into()],
        }),
        secrets,
    };
    (new, flags)
}

/// Runs `fill` for the command line, with a progress line on stderr.
pub fn run(store: &dyn Store, connections: usize, users: usize) -> Result<Generated, StoreError> {
    if users == 0 && connections > 0 {
        return Err(StoreError::Invalid(
            "--users must be at least 1: every connection belongs to a user".into(),
        ));
    }
    // Checked before anything is written, so a second run changes nothing.
    let held = store.users()?.len();
    if held > 0 {
        return Err(StoreError::Invalid(format!(
            "this store already holds {held} users; generate fills an empty one: \
             pass --data-dir with a new folder"
        )));
    }
    let started = Instant::now();
    let actor = crate::worker::os_user();
    // A progress line redrawn with \r is for a person watching; in a log
    // file or a pipe it would be one long line of every count.
    let live = std::io::stderr().is_terminal();
    let out = fill(store, connections, users, UnixTime::now(), &actor, |done| {
        if live {
            // Not through `tell!`, which shows a carriage return as text.
            use std::io::Write as _;
            let _ = write!(std::io::stderr(), "\r{done} of {connections} connections");
        }
    })?;
    if live {
        tell!();
    }
    tell!(
        "generated {} users and {} connections in {:.1?}",
        out.users,
        out.connections,
        started.elapsed()
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConnState, StateKind};
    use std::collections::HashSet;

    #[test]
    fn user_names_are_unique_past_the_first_round() {
        let names: HashSet<String> = (0..1_000).map(user_name).collect();
        assert_eq!(names.len(), 1_000);
    }

    /// The ids look like the providers' and no two are alike, so a filter
    /// over them scans what production holds and finds one row per id.
    #[test]
    fn remote_ids_have_the_providers_shapes_and_differ() {
        let hex = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        };
        let mut seen = HashSet::new();
        for n in 0..2_000u64 {
            let conn = remote_id(IdShape::Hex40, 1 << 48 | n);
            assert!(conn.len() == 40 && hex(&conn), "{conn}");
            let user = remote_id(IdShape::DapiUser, 2 << 48 | n);
            let tail = user.strip_prefix("user-").unwrap();
            assert_eq!(tail.len(), 43, "{user}");
            assert!(
                tail.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{user}"
            );
            let uuid = remote_id(IdShape::Uuid, 3 << 48 | n);
            let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
            assert_eq!(groups, [8, 4, 4, 4, 12], "{uuid}");
            assert!(hex(&uuid.replace('-', "")), "{uuid}");
            for id in [conn, user, uuid, remote_id(IdShape::Uuid, 4 << 48 | n)] {
                assert!(seen.insert(id.clone()), "{id} twice");
            }
        }
    }

    #[test]
    fn a_few_thousand_connections_cover_every_state() {
        let now = UnixTime(1_700_000_000);
        let user = User {
            id: crate::domain::UserId(1),
            name: "amira.haddad".into(),
            email: None,
            created_at: now,
        };
        let mut seen = HashSet::new();
        for i in 0..3_000 {
            let (new, flags) = connection(i, &user, now);
            let conn = crate::domain::Connection {
                id: crate::domain::ConnectionId(i as i64 + 1),
                user_id: user.id,
                user: user.name.clone(),
                provider: new.provider,
                kind: new.kind,
                grant: new.grant,
                label: new.label,
                remote: new.remote,
                lifetimes: new.lifetimes,
                scopes: new.scopes,
                flags,
                last_op: None,
                created_at: now,
                version: 1,
            };
            seen.insert(ConnState::derive(&conn, now, 120).kind());
        }
        let missing: Vec<StateKind> = StateKind::ALL
            .iter()
            .copied()
            .filter(|k| !seen.contains(k))
            .collect();
        assert!(missing.is_empty(), "states never generated: {missing:?}");
    }
}
