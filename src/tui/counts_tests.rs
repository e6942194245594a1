use super::*;
use crate::domain::{AccessExpiry, Flags, Grant, Lifetimes, ProviderKind};
use std::collections::HashMap;

const NOW: UnixTime = UnixTime(1_700_000_000);
const WARN: i64 = 30;

/// splitmix64: a fixed, spread-out sequence without a dependency.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

/// A connection in a state picked by `r`, its instants within a few minutes
/// of `now` so that rows keep crossing them while the test ticks.
fn connection(r: &mut Mix, id: i64, now: UnixTime) -> Connection {
    let soon = |r: &mut Mix| now.plus_secs(r.below(400) - 100);
    let mut lifetimes = Lifetimes::default();
    let mut flags = Flags::default();
    let mut grant = Grant::AuthorizationCode;
    match r.below(8) {
        0 => {
            grant = Grant::DapiConnect;
            lifetimes.code_expires_at = Some(soon(r));
        }
        1 => lifetimes.access = Some(AccessExpiry::Permanent),
        2 => grant = Grant::ClientCredentials,
        _ => {
            lifetimes.access = Some(AccessExpiry::At(soon(r)));
            lifetimes.has_refresh = r.below(2) == 0;
            lifetimes.refresh_expires_at = Some(soon(r));
        }
    }
    match r.below(10) {
        0 => flags.last_error = Some("timed out".into()),
        1 => flags.logged_out_at = Some(now),
        2 => flags.reauth_required = true,
        3 => flags.delinked_at = Some(now),
        _ => {}
    }
    let user = r.below(40);
    Connection {
        user_id: UserId(user),
        user: format!("user{user}"),
        lifetimes,
        flags,
        created_at: now,
        ..Connection::sample(id, "bank", ProviderKind::OAuth2, grant)
    }
}

/// What the counts must be: every row derived at `now`.
fn recount(conns: &[Connection], now: UnixTime) -> (Counts, HashMap<UserId, Counts>) {
    let mut total = [0; StateKind::ALL.len()];
    let mut per_user: HashMap<UserId, Counts> = HashMap::new();
    for c in conns {
        let k = kind_index(ConnState::derive(c, now, WARN).kind());
        total[k] += 1;
        per_user.entry(c.user_id).or_default()[k] += 1;
    }
    (total, per_user)
}

fn assert_same(kept: &StateCounts, conns: &[Connection], now: UnixTime, step: usize) {
    let (total, per_user) = recount(conns, now);
    assert_eq!(kept.total(), &total, "total at step {step} ({now:?})");
    for u in 0..40 {
        let u = UserId(u);
        assert_eq!(
            kept.of_user(u),
            per_user.get(&u),
            "{u:?} at step {step} ({now:?})"
        );
    }
}

#[test]
fn counts_kept_by_ticks_and_writes_match_a_full_recount() {
    let mut r = Mix(7);
    let mut conns: Vec<Connection> = (0..3_000).map(|i| connection(&mut r, i, NOW)).collect();
    let mut kept = StateCounts::new(NOW, WARN);
    kept.rebuild(&conns, NOW);
    assert_same(&kept, &conns, NOW, 0);
    let mut now = NOW;
    let mut changes = 0;
    for step in 1..=600 {
        // Mostly the 1 s tick; sometimes a late one, rarely the clock going back.
        now = match r.below(20) {
            0 => now.plus_secs(r.below(40)),
            1 if step % 7 == 0 => now.plus_secs(-r.below(30)),
            _ => now.plus_secs(1),
        };
        // Now and then a worker result rewrites rows, or a new one arrives.
        for _ in 0..r.below(4) {
            let i = r.below(conns.len() as u64 + 1) as usize;
            let fresh = connection(&mut r, i as i64, now);
            match conns.get_mut(i) {
                Some(c) => *c = Connection { id: c.id, ..fresh },
                None => conns.push(fresh),
            }
            kept.row_changed(&conns, i);
        }
        let before = *kept.total();
        let moved = kept.advance(&conns, now);
        assert_eq!(moved, before != *kept.total(), "what advance reports");
        changes += usize::from(moved);
        assert_same(&kept, &conns, now, step);
    }
    // The run must have crossed many instants, or it proved nothing.
    assert!(changes > 200, "only {changes} ticks changed a count");
}

#[test]
fn a_user_whose_last_row_moves_away_has_no_counts() {
    let mut r = Mix(1);
    let mut conns = vec![connection(&mut r, 1, NOW)];
    conns[0].user_id = UserId(5);
    let mut kept = StateCounts::new(NOW, WARN);
    kept.rebuild(&conns, NOW);
    assert!(kept.of_user(UserId(5)).is_some());
    conns[0].user_id = UserId(6);
    kept.row_changed(&conns, 0);
    assert_eq!(kept.of_user(UserId(5)), None);
    assert_eq!(kept.of_user(UserId(6)).map(|c| c.iter().sum()), Some(1));
}
