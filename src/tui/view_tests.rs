use std::collections::HashMap;

use super::*;
use crate::domain::{Flags, Grant, Lifetimes, ProviderKind, RemoteIds, UserId};
use crate::tui::counts::StateCounts;

const NOW: UnixTime = UnixTime(1_700_000_000);
const WARN: i64 = 120;

/// Names in several cases and scripts, and every state the filter reads in
/// words, with countdowns, errors and deadlines spread out.
fn variety() -> Vec<Connection> {
    let users = ["Amira.Haddad", "bob", "ÖZGÜR", "ΣΟΦΊΑΣ", "Ravi", "omar.rav"];
    let labels = ["Emirates NBD", "RAKBANK", "bank", "Raiffeisen"];
    let errors = [
        "timed out after 10s",
        "INVALID_CREDENTIALS: the bank refused",
        "Ravine: Σ",
    ];
    (0..600)
        .map(|i: i64| {
            let at = |d: i64| NOW.plus_secs(d);
            let spread = (i * 7919) % 90_000;
            let mut lifetimes = Lifetimes::default();
            let mut flags = Flags::default();
            let mut grant = Grant::AuthorizationCode;
            match i % 7 {
                0 => lifetimes.code_expires_at = Some(at(spread % 4_000 - 500)),
                1 => lifetimes.access = Some(AccessExpiry::Permanent),
                2 => grant = Grant::ClientCredentials,
                _ => {
                    lifetimes.access = Some(AccessExpiry::At(at(spread - 3_000)));
                    lifetimes.has_refresh = i % 3 == 0;
                    lifetimes.refresh_expires_at = Some(at(spread % 2_000 - 1_000));
                }
            }
            match i % 11 {
                0 | 5 => flags.last_error = Some(errors[(i / 11) as usize % 3].into()),
                1 | 6 => flags.logged_out_at = Some(at(-5)),
                2 => flags.reauth_required = true,
                3 => flags.delinked_at = Some(at(-5)),
                _ => {}
            }
            let user = users[i as usize % users.len()];
            let kind = [ProviderKind::Dapi, ProviderKind::OAuth2, ProviderKind::Oidc];
            let provider = ["dapi", "bank", "everifin"][i as usize % 3];
            // Ids with the needles below in them, in the middle and at
            // the end, in either case, and rows without any.
            let remote = RemoteIds {
                connection_id: (i % 4 == 0).then(|| format!("{:040x}", i * 0x9E37_79B9)),
                user_id: (i % 5 < 3).then(|| format!("user-Ab12CdRav{i}xYz")),
                token_id: (i % 9 == 1).then(|| format!("7f3a92c1-0d4e-4b5a-8c6d-{i:012}")),
                session: (i % 6 == 2).then(|| format!("SESS-{i}-Ö")),
            };
            Connection {
                user_id: UserId(i % 6),
                user: user.into(),
                label: labels[i as usize % labels.len()].into(),
                lifetimes,
                flags,
                remote,
                ..Connection::sample(1_000 - i, provider, kind[i as usize % 3], grant)
            }
        })
        .collect()
}

/// The filter as first written: every row's words and state text built
/// and lower-cased on the spot.
fn reference_keeps(c: &Connection, filter: &str, now: UnixTime) -> bool {
    match filter.trim().strip_prefix('!') {
        Some(rest) if !rest.trim().is_empty() => !holds(c, rest, now),
        Some(_) => true,
        None => holds(c, filter, now),
    }
}

fn holds(c: &Connection, filter: &str, now: UnixTime) -> bool {
    let needle = filter.trim().to_lowercase();
    let hay = format!(
        "{}\u{1}{}\u{1}{}\u{1}{}",
        c.user, c.label, c.provider, c.kind
    )
    .to_lowercase();
    let r = &c.remote;
    let ids = [&r.connection_id, &r.user_id, &r.token_id, &r.session];
    let in_ids = needle.chars().count() >= 8
        && ids
            .into_iter()
            .flatten()
            .any(|id| id.to_lowercase().contains(&needle));
    let state = ConnState::derive(c, now, WARN);
    // A number names a connection, and reads no state.
    let number = !needle.is_empty() && needle.chars().all(|ch| ch.is_ascii_digit());
    let states = !number
        && (state.kind().label().contains(&needle)
            || state.describe(now).to_lowercase().contains(&needle));
    needle.is_empty()
        || (number && needle.parse::<i64>() == Ok(c.id.0))
        || hay.contains(&needle)
        || in_ids
        || states
}

/// The sort as first written: a comparator over whole rows.
fn reference_order(conns: &[Connection], sort: SortKey, filter: &str, now: UnixTime) -> Vec<usize> {
    let mut order: Vec<usize> = (0..conns.len())
        .filter(|&i| reference_keeps(&conns[i], filter, now))
        .collect();
    let by_time = |a: &Connection, b: &Connection| {
        time_key(a)
            .cmp(&time_key(b))
            .then_with(|| a.user.cmp(&b.user))
            .then_with(|| a.id.cmp(&b.id))
    };
    let rank = |c: &Connection| kind_index(ConnState::derive(c, now, WARN).kind());
    order.sort_by(|&a, &b| {
        let (a, b) = (&conns[a], &conns[b]);
        let primary = match sort {
            SortKey::User => a.user.to_lowercase().cmp(&b.user.to_lowercase()),
            SortKey::Provider => a.provider.cmp(&b.provider),
            SortKey::State => rank(a).cmp(&rank(b)),
            SortKey::TimeLeft => std::cmp::Ordering::Equal,
        };
        primary.then_with(|| by_time(a, b))
    });
    order
}

const NEEDLES: [&str; 45] = [
    "7f3a92c1",
    "7f3a92c",
    "0d4e-4b5a-8c6d-000000000010",
    "ab12cdrav1",
    "AB12CDRAV",
    "b12cdra",
    "sess-14-ö",
    "!user-ab12",
    "ra",
    "rav",
    "RAV",
    "  bank ",
    "pending",
    "(0",
    "04:",
    "left)",
    "1h ",
    "d 2h",
    "access valid",
    "logged out",
    "expired (refreshable)",
    "expired",
    "failed: ",
    "failed: t",
    "TIMED",
    "invalid_cred",
    "σ",
    "ösgür",
    "özgür",
    "\u{1}bank",
    "re-consent",
    "no token",
    "!delinked",
    "! RAV",
    "!expired",
    "!failed: t",
    "!",
    // Ids: the rows are numbered 401 to 1000.
    "412",
    "0412",
    " 999 ",
    "!777",
    "4",
    "99999999999999999999",
    // In countdowns, which a number does not read, and in token ids.
    "04",
    "00000000041",
];

#[test]
fn the_filter_keeps_what_the_first_filter_kept_in_the_same_order() {
    let conns = variety();
    let hay = Haystacks::new(&conns);
    for now in [NOW, NOW.plus_secs(61), NOW.plus_secs(3_700)] {
        let mut states = StateCounts::new(now, WARN);
        states.rebuild(&conns, now);
        for sort in [
            SortKey::TimeLeft,
            SortKey::User,
            SortKey::Provider,
            SortKey::State,
        ] {
            let sorted = Sorted::new(&conns, sort, now, WARN);
            assert_eq!(sorted.order(None), reference_order(&conns, sort, "", now));
            for filter in NEEDLES {
                let want = reference_order(&conns, sort, filter, now);
                // With the states the counts keep, and without.
                let kept = Needle::new(filter, now, WARN)
                    .map(|mut n| n.scan(&conns, &hay, |i| states.state_at(i, now)));
                assert_eq!(
                    sorted.order(kept.as_deref()),
                    want,
                    "{filter:?} sorted by {sort:?} at {now:?}"
                );
                let kept =
                    Needle::new(filter, now, WARN).map(|mut n| n.scan(&conns, &hay, |_| None));
                assert_eq!(sorted.order(kept.as_deref()), want, "{filter:?}, no states");
            }
        }
    }
}

#[test]
fn one_row_is_kept_as_the_whole_scan_keeps_it() {
    let conns = variety();
    let hay = Haystacks::new(&conns);
    let mut hits = 0;
    for filter in NEEDLES {
        let Some(mut needle) = Needle::new(filter, NOW, WARN) else {
            continue;
        };
        for (i, c) in conns.iter().enumerate() {
            let want = reference_keeps(c, filter, NOW);
            assert_eq!(needle.keeps(&conns, &hay, i), want, "{filter:?} row {i}");
            hits += usize::from(want);
        }
    }
    assert!(
        hits > 1_000,
        "the needles must match a good part of the rows"
    );
}

/// `shared_words` matches a state's words once for all rows in it, which
/// is right only while `describe` reads none of those states' fields.
#[test]
fn shared_words_read_the_same_for_every_row_and_instant() {
    let at = |d: i64| NOW.plus_secs(d);
    let mut states = Vec::new();
    for d in [-90_000, -61, -1, 0, 1, 59, 3_601, 90_000] {
        states.extend([
            ConnState::CodeExpired { since: at(d) },
            ConnState::Active {
                expires_at: Some(at(d)),
            },
            ConnState::Active { expires_at: None },
            ConnState::Expiring { expires_at: at(d) },
            ConnState::Expired {
                since: at(d),
                refreshable: true,
            },
            ConnState::Expired {
                since: at(d),
                refreshable: false,
            },
            ConnState::ReauthRequired { access_until: None },
            ConnState::ReauthRequired {
                access_until: Some(at(d)),
            },
            ConnState::LoggedOut { access_until: None },
            ConnState::Delinked,
        ]);
    }
    let mut seen: HashMap<usize, String> = HashMap::new();
    for s in &states {
        let slot = shared_words(s).expect("a state with shared words");
        for now in [NOW, at(7), at(4_000)] {
            let words = s.describe(now);
            let first = seen.entry(slot).or_insert_with(|| words.clone());
            assert_eq!(*first, words, "{s:?} at {now:?} shares slot {slot}");
        }
    }
}

/// From eight characters on the filter reads the provider's ids, in any
/// case; a shorter needle would find itself in random ids, so it does not.
#[test]
fn a_long_needle_finds_rows_by_their_provider_ids() {
    let conns = variety();
    let kept = |f: &str| filtered(&conns, f, None, NOW, WARN).len();
    let count = |has: fn(&RemoteIds) -> bool| conns.iter().filter(|c| has(&c.remote)).count();
    let with_token = count(|r| r.token_id.is_some());
    assert!(with_token > 1);
    assert_eq!(kept("7F3A92C1"), with_token);
    assert_eq!(kept("7f3a92c"), 0);
    assert_eq!(kept("0d4e-4b5a-8c6d-000000000010"), 1);
    assert_eq!(kept("ab12cdrav"), count(|r| r.user_id.is_some()));
    assert_eq!(
        kept("!ab12cdrav"),
        conns.len() - count(|r| r.user_id.is_some())
    );
}
