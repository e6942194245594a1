//! `bankdeck audit archive`: the audit log's oldest lines moved to a file.
//!
//! Every operation adds a line, and a scheduler refreshing thousands of
//! five-minute tokens adds millions a day: the log needs a way out that
//! keeps the trail. The file is JSON lines, each line one `audit --json`
//! entry, oldest first, so `jq` and `grep` read it as they read the log.
//! The order of the steps is what keeps every line somewhere (see
//! `store::sqlite::archive`): the file is complete and on disk under its
//! name before the store records it, and lines leave the store only after.
//! Lines an interrupted archive left in the log go only once its file is
//! found as it recorded it: a file moved or changed since would leave them
//! nowhere.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use sha2::{Digest as _, Sha256};

use super::args::Global;
use super::context::Context;
use super::interrupt::{finish_blocking_through_interrupt, stopped};
use super::output::out as say;
use crate::domain::text::counted;
use crate::domain::{AuditEntry, OpKind, UnixTime};
use crate::store::{Access, ArchivePlan, AuditDraft, AuditQuery, Store, StoreError};

/// Lines read from the store for each write to the file.
const PAGE: usize = 10_000;
/// Lines deleted in one transaction: short enough that a dashboard's or a
/// cron job's write waits milliseconds for the store, not the whole archive.
const REMOVE: usize = 10_000;

/// Checks what it was asked before it opens the store: a mistyped
/// `--older-than` is told as that, not as a store missing.
pub async fn run(global: &Global, older_than: &str, to: &Path) -> Result<ExitCode> {
    let age = super::commands::duration("older-than", older_than, "90d")?;
    if global.readonly {
        bail!("--readonly refuses every change; nothing was moved");
    }
    let to = new_file_path(to)?;
    let ctx = Context::open(global, Access::Write)?;
    let store = Arc::clone(&ctx.store);
    let before = UnixTime::now().minus(age);
    let older_than = older_than.to_owned();
    finish_blocking_through_interrupt(
        "stopping after the step under way; every line stays in the log or in a file the \
         log names",
        move |stop| archive(&*store, before, &older_than, &to, stop),
    )
    .await?
}

/// The archive itself, reading `stop` between steps: stopped while writing
/// the file, it moves nothing and leaves no file; stopped among the deletes,
/// it leaves the rest for the next archive, which removes them first.
fn archive(
    store: &dyn Store,
    before: UnixTime,
    older_than: &str,
    to: &Path,
    stop: &AtomicBool,
) -> Result<ExitCode> {
    let plan = store.audit_archive_plan(before).map_err(|e| eyre!("{e}"))?;
    if plan.left_behind > 0 {
        check_earlier_file(store, &plan)?;
        let removed = remove_archived(store, stop)?;
        if removed > 0 {
            tell!(
                "removed {} that an earlier archive had written to its file \
                 but not yet taken out of the log",
                counted(removed, "audit line", "audit lines")
            );
        }
        if removed < plan.left_behind {
            say(format_args!(
                "stopped: {} an earlier archive wrote to its file {} still in the \
                 log too; the next archive removes them first\n",
                counted(plan.left_behind - removed, "line", "lines"),
                if plan.left_behind - removed == 1 {
                    "is"
                } else {
                    "are"
                }
            ))?;
            return Ok(stopped());
        }
    }
    let written = match plan.upto > plan.archived {
        true => write_file(store, plan.archived, plan.upto, to, stop)?,
        false => Wrote::NoLine,
    };
    let written = match written {
        Wrote::File(written) => written,
        Wrote::NoLine => {
            say(format_args!(
                "no audit line is older than {older_than}: nothing was moved\n"
            ))?;
            return Ok(ExitCode::SUCCESS);
        }
        Wrote::Stopped => {
            say(format_args!(
                "stopped before the file was complete: nothing was moved, no file was left, \
                 and the log is as it was\n"
            ))?;
            return Ok(stopped());
        }
    };
    let record = AuditDraft {
        at: UnixTime::now(),
        actor: crate::worker::os_user(),
        op: OpKind::ArchiveAudit,
        ok: true,
        message: written.describe(to),
    };
    if let Err(e) = store.mark_audit_archived(plan.archived, plan.upto, record) {
        return Err(unrecorded(store, plan.upto, to, &e));
    }
    let removed = remove_archived(store, stop).wrap_err_with(|| {
        format!(
            "{} holds the archived lines and the store has recorded it",
            to.display()
        )
    })?;
    // "moved" only once every line has left the log: a script reading the
    // first word learns whether the log still repeats some of the file.
    let all_gone = removed >= written.lines;
    say(format_args!(
        "{} {}, {} to {}, to {}\nsha256 {}\n",
        if all_gone { "moved" } else { "wrote" },
        counted(written.lines, "audit line", "audit lines"),
        written.first.at,
        written.last.at,
        to.display(),
        written.sha256
    ))?;
    if !all_gone {
        say(format_args!(
            "stopped: {} of them are still in the log too ({removed} left it); the next \
             archive removes them first, once it finds this file as it is now\n",
            written.lines - removed
        ))?;
        return Ok(stopped());
    }
    Ok(ExitCode::SUCCESS)
}

/// `to` made absolute (the record names it so), refused if anything is
/// there already: an archive never replaces a file, least of all another
/// archive.
fn new_file_path(to: &Path) -> Result<PathBuf> {
    if to == Path::new("-") {
        bail!(
            "--to - would send the lines to standard output, which cannot be made durable \
             before they leave the store: name a new file"
        );
    }
    let folder = crate::store::sqlite::folder_of(to);
    let name = to.file_name().ok_or_else(|| {
        eyre!(
            "--to {} names no file: give a new file's path",
            to.display()
        )
    })?;
    let folder = folder.canonicalize().wrap_err_with(|| {
        format!(
            "cannot use {} for the archive: make the folder first",
            folder.display()
        )
    })?;
    let to = folder.join(name);
    // The record in the log names the file as text, and the next archive
    // finds it by that text: a name it cannot hold exactly would be lost.
    if to.to_str().is_none() {
        bail!(
            "{} is not valid UTF-8, and the log records an archive's file by its name as \
             text: name the file in UTF-8",
            to.display()
        );
    }
    // `audit` prints that record as a line: a line break in the name would
    // print lines of its own, read as the log's.
    if to.to_str().is_some_and(|t| t.chars().any(char::is_control)) {
        bail!(
            "--to {:?} holds a control character (a line break, a tab), and the log records \
             an archive's file by its name: name the file without one",
            to
        );
    }
    if to.symlink_metadata().is_ok() {
        bail!(
            "{} already exists: an archive never replaces a file; name a new one",
            to.display()
        );
    }
    Ok(to)
}

/// What [`write_file`] did.
enum Wrote {
    File(Box<Written>),
    /// No line was there to move.
    NoLine,
    /// Told to stop before the file was complete; it was removed.
    Stopped,
}

/// What went into the file.
struct Written {
    lines: u64,
    first: AuditEntry,
    last: AuditEntry,
    sha256: String,
}

impl Written {
    fn describe(&self, to: &Path) -> String {
        format!(
            "moved {} (ids {} to {}, {} to {}) to {}, sha256 {}",
            counted(self.lines, "audit line", "audit lines"),
            self.first.id,
            self.last.id,
            self.first.at,
            self.last.at,
            to.display(),
            self.sha256
        )
    }
}

/// Where the last archive's record says its lines went.
#[derive(Debug, PartialEq, Eq)]
struct Recorded {
    /// The last line the file holds.
    upto: i64,
    path: PathBuf,
    sha256: String,
}

/// Reads back what [`Written::describe`] wrote: "moved N audit lines (ids A
/// to B, T1 to T2) to PATH, sha256 HEX". The path runs from the first
/// ") to " after "(ids " (ids and times hold no parenthesis) to the last
/// ", sha256 " (the hash holds no comma), so a path that holds either of
/// them, or spaces and commas, stays whole.
fn parse_record(message: &str) -> Option<Recorded> {
    let (head, sha256) = message.rsplit_once(", sha256 ")?;
    let hex_digit = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if sha256.len() != 64 || !sha256.bytes().all(hex_digit) {
        return None;
    }
    let (_, rest) = head.strip_prefix("moved ")?.split_once(" (ids ")?;
    let (span, path) = rest.split_once(") to ")?;
    let (ids, _times) = span.split_once(", ")?;
    let (_first, upto) = ids.split_once(" to ")?;
    let path = PathBuf::from(path);
    if !path.is_absolute() {
        return None;
    }
    Some(Recorded {
        upto: upto.parse().ok()?,
        path,
        sha256: sha256.to_owned(),
    })
}

/// Refuses to take out of the log the lines an earlier archive left there
/// unless its file is still where it recorded it, with the hash it
/// recorded: those lines, and the ones it did take out, are otherwise in no
/// file at all. The newest `ArchiveAudit` line is that archive's record,
/// written in the transaction that set the mark; its ids say so.
fn check_earlier_file(store: &dyn Store, plan: &ArchivePlan) -> Result<()> {
    let newest = store
        .audit_query(&AuditQuery {
            op: Some(OpKind::ArchiveAudit),
            limit: 1,
            ..AuditQuery::default()
        })
        .map_err(|e| eyre!("{e}"))?;
    let kept = counted(plan.left_behind, "line", "lines");
    let Some(recorded) = (newest.first())
        .and_then(|line| parse_record(&line.message))
        .filter(|r| r.upto == plan.archived)
    else {
        bail!(
            "an earlier archive recorded that a file holds the audit lines up to id {}, and \
             {kept} of them are still in the log, but its record in the log does not name \
             the file and its sha256, so the file cannot be checked: nothing was removed, \
             and the log keeps those lines",
            plan.archived
        );
    };
    let wrong = match sha256_of(&recorded.path) {
        Ok(found) if found == recorded.sha256 => return Ok(()),
        Ok(found) => format!("its content is different (sha256 {found})"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "it is missing".to_owned(),
        Err(e) => format!("it cannot be read ({e})"),
    };
    bail!(
        "an earlier archive recorded that {} holds the audit lines up to id {}, with \
         sha256 {}, but {wrong}: nothing was removed from the log. Put the file back as it \
         was and run the archive again; the {kept} not yet removed are still in the log, \
         and the file alone holds the ones already removed",
        recorded.path.display(),
        recorded.upto,
        recorded.sha256
    )
}

/// A file's SHA-256 as hex, read a buffer at a time: archives run to
/// hundreds of megabytes.
fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut hash = Sha256::new();
    let mut file = BufReader::with_capacity(1 << 20, File::open(path)?);
    std::io::copy(&mut file, &mut hash)?;
    Ok(hex(&hash.finalize()))
}

/// Writes the lines after `after` up to `upto` to a temporary file beside
/// `to`, makes it durable and gives it its name. Until it has its name,
/// dropping the temporary file removes it: so does every early return.
fn write_file(
    store: &dyn Store,
    after: i64,
    upto: i64,
    to: &Path,
    stop: &AtomicBool,
) -> Result<Wrote> {
    let folder = crate::store::sqlite::folder_of(to);
    let cannot = || format!("cannot write the archive in {}", folder.display());
    let temp = tempfile::Builder::new()
        .prefix(".bankdeck-archive-")
        .tempfile_in(folder)
        .wrap_err_with(cannot)?;
    let mut out = BufWriter::new(temp);
    let (mut hash, mut lines) = (Sha256::new(), 0u64);
    let (mut first, mut last) = (None, None);
    let mut from = after;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(Wrote::Stopped);
        }
        let page = store
            .audit_between(from, upto, PAGE)
            .map_err(|e| eyre!("{e}"))?;
        let Some(end) = page.last() else { break };
        from = end.id;
        for entry in page {
            let mut line = serde_json::to_vec(&entry)?;
            line.push(b'\n');
            out.write_all(&line).wrap_err_with(cannot)?;
            hash.update(&line);
            lines += 1;
            first.get_or_insert_with(|| entry.clone());
            last = Some(entry);
        }
    }
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(Wrote::NoLine);
    };
    let temp = out
        .into_inner()
        .map_err(|e| e.into_error())
        .wrap_err_with(cannot)?;
    temp.as_file().sync_all().wrap_err_with(cannot)?;
    temp.persist_noclobber(to)
        .map_err(|e| e.error)
        .wrap_err_with(|| format!("cannot name the archive {}", to.display()))?;
    // The name must be durable too before the store counts on the file.
    File::open(folder)
        .and_then(|f| f.sync_all())
        .wrap_err_with(cannot)?;
    Ok(Wrote::File(Box::new(Written {
        lines,
        first,
        last,
        sha256: hex(&hash.finalize()),
    })))
}

/// The store did not record the file. A refusal is certain: another
/// archive recorded its own file meanwhile, and this one goes. A failure
/// of the write itself may have come after the commit: if the mark did move
/// to this file's last line, the file is what holds those lines now and
/// stays; otherwise it repeats lines the log keeps, and goes.
fn unrecorded(store: &dyn Store, upto: i64, to: &Path, e: &StoreError) -> color_eyre::Report {
    let (refused, recorded) = match e {
        StoreError::Refused(_) | StoreError::Invalid(_) => (true, false),
        _ => (
            false,
            (store.audit_archive_plan(UnixTime(i64::MIN))).is_ok_and(|p| p.archived == upto),
        ),
    };
    if recorded {
        return eyre!(
            "{e}; the store did record {} as the archive of its lines, so keep the file, \
             and run the archive again to take them out of the log",
            to.display()
        );
    }
    let kept = match refused {
        true => "its lines are in the log or in the other archive's file",
        false => "the log keeps every line",
    };
    match std::fs::remove_file(to) {
        Ok(()) => eyre!("{e}; {} was removed: {kept}", to.display()),
        Err(rm) => eyre!(
            "{e}; {kept}: remove {} ({rm}), which repeats some of them",
            to.display()
        ),
    }
}

/// Deletes every line an archive file holds, a transaction at a time, and
/// after each leaves the store's write lock free for as long as it held it.
/// SQLite's lock is not fair: another process waiting for it sleeps in steps
/// (up to 100 ms) and tries again, and a loop that takes the lock back at
/// once can keep it out for the whole archive, past its five-second wait.
/// Told to stop, it returns between transactions.
fn remove_archived(store: &dyn Store, stop: &AtomicBool) -> Result<u64> {
    let mut total = 0;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(total);
        }
        let began = std::time::Instant::now();
        let gone = store
            .remove_archived_audit(REMOVE)
            .map_err(|e| eyre!("{e}; the lines not yet removed go at the next archive"))?;
        if gone == 0 {
            return Ok(total);
        }
        total += gone;
        std::thread::sleep(began.elapsed());
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::store::{KeySource, OpenOptions, SqliteStore};

    fn store_with_lines(dir: &Path, n: i64) -> SqliteStore {
        let store = SqliteStore::open(OpenOptions::new(
            dir.join("data"),
            KeySource::File(dir.join("key")),
        ))
        .unwrap();
        for i in 0..n {
            let line = AuditDraft {
                at: UnixTime(100 + i),
                actor: "ops".into(),
                op: OpKind::AddUser,
                ok: true,
                message: format!("line {i}"),
            };
            store.append_audit(None, line).unwrap();
        }
        store
    }

    fn record() -> AuditDraft {
        AuditDraft {
            at: UnixTime(1_000),
            actor: "ops".into(),
            op: OpKind::ArchiveAudit,
            ok: true,
            message: "moved".into(),
        }
    }

    fn entry(id: i64, at: i64) -> AuditEntry {
        AuditEntry {
            id,
            at: UnixTime(at),
            actor: "ops".into(),
            connection: None,
            op: OpKind::AddUser,
            ok: true,
            message: String::new(),
        }
    }

    /// A record reads back as it was written, whatever the path holds:
    /// spaces, commas, and even the words the record puts around it.
    #[test]
    fn a_record_gives_back_its_file_and_hash_whatever_the_path_holds() {
        let sha256 = "0123456789abcdef".repeat(4);
        for path in [
            "/var/archive/audit.jsonl",
            "/home/ops/old logs, Q3/audit 2026-07.jsonl",
            "/tmp/a (ids 1 to 2, x) to b, sha256 c/d) to e.jsonl",
            &format!("/tmp/x, sha256 {sha256}/audit.jsonl"),
            "/tmp/two\nlines.jsonl",
        ] {
            for (lines, first, last) in [(1, 7, 7), (110_002, 1, 110_002)] {
                let written = Written {
                    lines,
                    first: entry(first, 1_700_000_000),
                    last: entry(last, 1_700_086_400),
                    sha256: sha256.clone(),
                };
                let message = written.describe(Path::new(path));
                let expected = Recorded {
                    upto: last,
                    path: path.into(),
                    sha256: sha256.clone(),
                };
                assert_eq!(parse_record(&message), Some(expected), "{message}");
            }
        }
    }

    #[test]
    fn a_record_that_does_not_name_a_file_and_hash_gives_nothing() {
        let sha256 = "ab".repeat(32);
        for message in [
            String::new(),
            "moved 2 lines to elsewhere".into(),
            format!("moved 2 audit lines (ids 1 to 2, a to b) to audit.jsonl, sha256 {sha256}"),
            format!("moved 2 audit lines (ids 1 to x, a to b) to /a.jsonl, sha256 {sha256}"),
            format!("moved 2 audit lines (ids 1 to 2, a to b) to /a.jsonl, sha256 {sha256}0"),
            "moved 2 audit lines (ids 1 to 2, a to b) to /a.jsonl, sha256 ABCD".into(),
            format!(
                "moved 2 audit lines (ids 1 to 2, a to b) to /a.jsonl, sha256 {}",
                "AB".repeat(32)
            ),
            format!("wrote 2 audit lines to /a.jsonl, sha256 {sha256}"),
        ] {
            assert_eq!(parse_record(&message), None, "{message}");
        }
    }

    /// What becomes of a file the store did not take, for each way the
    /// store can say so.
    #[test]
    fn a_file_the_store_did_not_record_goes_unless_the_record_got_through() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let store = store_with_lines(dir.path(), 3);
        let file = dir.path().join("audit.jsonl");
        let write = || std::fs::write(&file, "lines\n").unwrap();

        write();
        let refused = StoreError::Refused("another archive moved them".into());
        let said = unrecorded(&store, 2, &file, &refused).to_string();
        assert!(!file.exists(), "{said}");
        assert!(said.contains("in the other archive's file"), "{said}");

        write();
        let failed = StoreError::Io("the disk is full".into());
        let said = unrecorded(&store, 2, &file, &failed).to_string();
        assert!(!file.exists(), "{said}");
        assert!(said.contains("the log keeps every line"), "{said}");

        // The write failed after its commit: the mark is this file's.
        store.mark_audit_archived(0, 2, record()).unwrap();
        write();
        let said = unrecorded(&store, 2, &file, &failed).to_string();
        assert!(file.exists(), "{said}");
        assert!(said.contains("so keep the file"), "{said}");
    }
}
