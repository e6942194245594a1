//! Who holds a connection's lease, and whether that process still runs.
//!
//! A holder names its host, its process id with the process's start time,
//! a nonce and an actor. Every process that opens a store runs on its host
//! (SQLite's WAL needs shared memory), so a holder is checked by asking the
//! kernel, not by trusting a clock: a lease whose process died is broken at
//! once, and one whose process runs is never taken, however late its
//! answer's write comes (a store locked for a minute by another writer) or
//! however far the wall clock jumps. The start time tells a process id
//! reused by another program from the holder.

/// `host|pid/start|nonce|actor`: enough to tell whose lease it is and
/// whether it lives.
pub fn holder_name(actor: &str) -> String {
    let pid = std::process::id();
    let start = started(pid).unwrap_or_default();
    format!(
        "{}|{pid}/{start}|{:08x}|{actor}",
        hostname(),
        rand::random::<u32>()
    )
}

/// What a holder says of its process.
enum Holder {
    /// On this host: the process, and when it started, when named.
    Local { pid: i32, start: Option<u64> },
    /// Another host's, or not a holder's name at all.
    Unknown,
}

fn parse(holder: &str) -> Holder {
    let mut parts = holder.splitn(4, '|');
    let (Some(host), Some(id)) = (parts.next(), parts.next()) else {
        return Holder::Unknown;
    };
    let (pid, start) = match id.split_once('/') {
        Some((pid, start)) => (pid, start.parse().ok()),
        None => (id, None),
    };
    match (host == hostname(), pid.parse::<i32>()) {
        (true, Ok(pid)) if pid > 0 => Holder::Local { pid, start },
        _ => Holder::Unknown,
    }
}

/// Whether `holder` is a process on this machine that no longer runs.
/// Our own process is never dead; a holder of another host or an unknown
/// form is not known to be.
pub fn is_dead_local(holder: &str) -> bool {
    match parse(holder) {
        Holder::Local { pid, start } => !runs(pid, start),
        Holder::Unknown => false,
    }
}

/// Whether `holder` is a process on this machine that still runs (ours
/// included): its lease stands past its term. One of another host or an
/// unknown form is trusted to its term alone.
pub fn runs_here(holder: &str) -> bool {
    match parse(holder) {
        Holder::Local { pid, start } => runs(pid, start),
        Holder::Unknown => false,
    }
}

/// Whether `holder`, its lease running `until`, is at work on its row at
/// `now`: a process of this host while it runs, whatever the term; one of
/// another host or an unknown form within the term alone. One look at the
/// process, not one to ask whether it died and another whether it runs.
pub fn at_work(holder: &str, until: crate::domain::UnixTime, now: crate::domain::UnixTime) -> bool {
    match parse(holder) {
        Holder::Local { pid, start } => runs(pid, start),
        Holder::Unknown => until > now,
    }
}

/// The holder's process as an operator finds it (`process 4242`), when it
/// is one of this host's.
pub fn process(holder: &str) -> Option<String> {
    match parse(holder) {
        Holder::Local { .. } => Some(briefly(holder)),
        Holder::Unknown => None,
    }
}

/// The holder as a screen names it (`process 4242 of amira`), from its
/// name alone: nothing is asked of the system, so a screen may call it
/// while drawing. A name of another form is "another process".
pub fn described(holder: &str) -> String {
    // Another process's words, drawn on a screen.
    let actor = (holder.splitn(4, '|').nth(3))
        .filter(|a| !a.is_empty())
        .map(crate::domain::text::visible);
    match actor {
        Some(actor) if pid_of(holder).is_some() => format!("{} of {actor}", briefly(holder)),
        _ => briefly(holder),
    }
}

/// What an operation on a row `holder` holds does first, as the screen and
/// the commands say it: `waiting for process 4242 of cron, at work on it`.
pub fn waiting_for(holder: &str) -> String {
    format!("waiting for {}, at work on it", described(holder))
}

/// [`described`] without the actor (`process 4242`), where room is short.
pub fn briefly(holder: &str) -> String {
    pid_of(holder).map_or_else(
        || "another process".to_owned(),
        |pid| format!("process {pid}"),
    )
}

/// A row's holder where a column is short, as the screen's last-op column
/// and the status table say it: `busy: pid 4242` (seven digits still fit
/// twenty cells), or `busy elsewhere`.
pub fn busy(holder: &str) -> String {
    pid_of(holder).map_or_else(
        || "busy elsewhere".to_owned(),
        |pid| format!("busy: pid {pid}"),
    )
}

/// The holder's process id, when its name has one.
pub fn pid_of(holder: &str) -> Option<u32> {
    let id = holder.split('|').nth(1)?;
    id.split_once('/').map_or(id, |(pid, _)| pid).parse().ok()
}

fn runs(pid: i32, start: Option<u64>) -> bool {
    if u32::try_from(pid).ok() == Some(std::process::id()) {
        return true;
    }
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let exists = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
    // A reused process id is another program, started later.
    let same = || match (start, u32::try_from(pid).ok().and_then(started)) {
        (Some(named), Some(now)) => named == now,
        _ => true,
    };
    exists && same()
}

/// When process `pid` started, in clock ticks since boot (`/proc/PID/stat`,
/// field 22), read after the command name, which may hold spaces.
fn started(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    after.split_whitespace().nth(19)?.parse().ok()
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_is_described_by_its_process_and_actor() {
        assert_eq!(described("h|4242/99|00ab|amira"), "process 4242 of amira");
        assert_eq!(described("h|4242|00ab|"), "process 4242");
        assert_eq!(described("garbage"), "another process");
        assert_eq!(briefly("h|4242/99|00ab|amira"), "process 4242");
        assert!(described(&holder_name("me")).ends_with(" of me"));
    }

    #[test]
    fn our_own_and_foreign_hosts_are_never_dead() {
        assert!(!is_dead_local(&holder_name("me")));
        assert!(!is_dead_local("other-host|1|0|x"));
        assert!(!is_dead_local("garbage"));
    }

    #[test]
    fn a_holder_is_at_work_while_its_process_runs_or_a_foreign_one_within_its_term() {
        use crate::domain::UnixTime;
        let (now, later, earlier) = (UnixTime(1000), UnixTime(1030), UnixTime(970));
        let ours = holder_name("me");
        assert!(at_work(&ours, earlier, now), "running, past its term");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let dead = format!("{}|{pid}|0|x", hostname());
        assert!(!at_work(&dead, later, now), "dead, within its term");
        assert!(at_work("other-host|1|0|x", later, now));
        assert!(!at_work("other-host|1|0|x", earlier, now));
        assert!(!at_work("garbage", now, now));
    }

    #[test]
    fn a_finished_process_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(is_dead_local(&format!("{}|{pid}|0|x", hostname())));
        assert!(!runs_here(&format!("{}|{pid}|0|x", hostname())));
    }

    #[test]
    fn a_running_process_runs_unless_its_id_was_reused() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let pid = child.id();
        let start = started(pid).unwrap();
        let host = hostname();
        assert!(runs_here(&format!("{host}|{pid}/{start}|0|x")));
        assert!(runs_here(&format!("{host}|{pid}|0|x")));
        assert!(runs_here(&holder_name("me")));
        // The same id, started at another time: another program.
        assert!(!runs_here(&format!("{host}|{pid}/{}|0|x", start + 1)));
        assert!(is_dead_local(&format!("{host}|{pid}/{}|0|x", start + 1)));
        assert!(!runs_here("other-host|1|0|x"));
        assert!(!runs_here("garbage"));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
