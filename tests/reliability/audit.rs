//! The audit log through the real binary: `audit --since --failed --op`
//! reads the part asked for; `audit archive` moves the oldest lines to a new file,
//! which holds exactly them, and the store records where; every refusal
//! leaves the log and the folder as they were.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use bankdeck::domain::{AuditEntry, OpKind, UnixTime};
use bankdeck::store::{self, AuditDraft, Store};
use sha2::{Digest as _, Sha256};

use super::cli::bankdeck;

const DAY: i64 = 86_400;

/// A store under `dir` whose log holds one line per `(days ago, message)`;
/// a message that starts with "failed" is a failed operation's.
fn log_of(dir: &Path, lines: &[(i64, &str)]) -> std::sync::Arc<dyn Store> {
    let opened = store::open_with_key(&dir.join("data"), &dir.join("key"), false).unwrap();
    let now = UnixTime::now();
    for &(days, message) in lines {
        let draft = AuditDraft {
            at: now.plus_secs(-days * DAY),
            actor: "ops".into(),
            op: OpKind::AddUser,
            ok: !message.starts_with("failed"),
            message: message.into(),
        };
        opened.store.append_audit(None, draft).unwrap();
    }
    opened.store
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `audit --json`, newest first.
fn log(dir: &Path, config: &Path) -> Vec<AuditEntry> {
    let out = bankdeck(dir, config, &["audit", "--json", "--limit", "100"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn archive(dir: &Path, config: &Path, older_than: &str, to: &Path) -> Output {
    let to = to.to_str().unwrap();
    bankdeck(
        dir,
        config,
        &["audit", "archive", "--older-than", older_than, "--to", to],
    )
}

fn messages(entries: &[AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.message.as_str()).collect()
}

#[test]
fn audit_since_and_failed_read_only_the_part_asked_for() {
    let dir = super::common::private_dir();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let lines = [
        (9, "failed a"),
        (5, "b"),
        (3, "failed c"),
        (2, "d"),
        (1, "failed e"),
    ];
    drop(log_of(dir.path(), &lines));
    let read = |args: &[&str]| {
        let out = bankdeck(dir.path(), &config, &[&["audit", "--json"], args].concat());
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let got: Vec<AuditEntry> = serde_json::from_slice(&out.stdout).unwrap();
        got.into_iter().map(|e| e.message).collect::<Vec<_>>()
    };
    assert_eq!(read(&["--since", "4d"]), ["failed e", "d", "failed c"]);
    assert_eq!(
        read(&["--since", "4d", "--failed"]),
        ["failed e", "failed c"]
    );
    assert_eq!(
        read(&["--failed", "--limit", "2"]),
        ["failed e", "failed c"]
    );
    assert_eq!(read(&["--failed"]).len(), 3);
    let refused = |args: &[&str], says: &str| {
        let out = bankdeck(dir.path(), &config, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
    };
    refused(&["audit", "--since", "yesterday"], "write e.g. 1h");
    // No entries asked for is a mistake, not an empty log.
    refused(&["audit", "--limit", "0"], "--limit");
}

#[test]
fn audit_op_reads_one_operations_lines_and_a_wrong_name_lists_them() {
    let dir = super::common::private_dir();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let opened =
        store::open_with_key(&dir.path().join("data"), &dir.path().join("key"), false).unwrap();
    let now = UnixTime::now();
    for (i, (op, ok)) in [
        (OpKind::Delink, true),
        (OpKind::Refresh, true),
        (OpKind::Delink, false),
        (OpKind::Refresh, false),
        (OpKind::Delink, true),
    ]
    .into_iter()
    .enumerate()
    {
        let draft = AuditDraft {
            at: now,
            actor: "ops".into(),
            op,
            ok,
            message: format!("{op} {i}"),
        };
        opened.store.append_audit(None, draft).unwrap();
    }
    drop(opened);
    let run = |args: &[&str]| bankdeck(dir.path(), &config, &[&["audit"], args].concat());
    let read = |args: &[&str]| {
        let out = run(&[&["--json"], args].concat());
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let got: Vec<AuditEntry> = serde_json::from_slice(&out.stdout).unwrap();
        got.into_iter().map(|e| e.message).collect::<Vec<_>>()
    };
    assert_eq!(
        read(&["--op", "delink"]),
        ["delink 4", "delink 2", "delink 0"]
    );
    assert_eq!(read(&["--op", "delink", "--failed"]), ["delink 2"]);
    assert_eq!(read(&["--op", "refresh", "--limit", "1"]), ["refresh 3"]);
    let none = run(&["--op", "logout"]);
    assert!(none.status.success() && none.stdout.is_empty(), "{none:?}");
    assert_eq!(text(&none.stderr), "no logout line\n");
    let none = run(&["--op", "logout", "--failed", "--since", "1d"]);
    assert!(
        text(&none.stderr).starts_with("no failed logout since "),
        "{}",
        text(&none.stderr)
    );
    let wrong = run(&["--op", "refesh"]);
    assert_eq!(wrong.status.code(), Some(2));
    let said = text(&wrong.stderr);
    assert!(
        said.contains("invalid value 'refesh' for '--op <OP>'")
            && said.contains("[possible values: link, exchange, refresh,")
            && said.contains("archive_audit"),
        "{said}"
    );
}

/// A limit that cuts the answer says so on stderr, leaving the lines (and
/// JSON) as they were: fifty lines read as all there are.
#[test]
fn a_limit_that_cuts_the_answer_says_so() {
    let dir = super::common::private_dir();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    drop(log_of(
        dir.path(),
        &[(5, "a"), (4, "b"), (3, "c"), (2, "d"), (1, "e")],
    ));
    for json in [false, true] {
        let args = [
            &["audit", "--limit", "3"][..],
            if json { &["--json"] } else { &[] },
        ]
        .concat();
        let out = bankdeck(dir.path(), &config, &args);
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(
            err.contains("the newest 3 lines are shown and more match"),
            "{err}"
        );
        let all = bankdeck(
            dir.path(),
            &config,
            &[&["audit", "--limit", "5"][..], &args[3..]].concat(),
        );
        assert_eq!(text(&all.stderr), "", "all 5 shown");
    }
    let one = bankdeck(dir.path(), &config, &["audit", "--limit", "1"]);
    let err = text(&one.stderr);
    assert!(
        err.contains("the newest line is shown and more match"),
        "{err}"
    );
    let json = bankdeck(dir.path(), &config, &["audit", "--limit", "3", "--json"]);
    let lines: Vec<AuditEntry> = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(messages(&lines), ["e", "d", "c"]);
    // Its times as `status --json` writes them, RFC 3339.
    let raw: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let at = raw[0]["at"].as_str().unwrap_or_default();
    assert!(
        at.len() == "2026-12-04T23:53:01Z".len() && at.ends_with('Z'),
        "{raw}"
    );
}

/// The log records an archive's file by its name, and `audit` prints that
/// record as a line: a name with a line break would print a forged line of
/// the log. Refused, and nothing is moved.
#[test]
fn an_archive_file_named_with_a_line_break_is_refused() {
    let dir = super::common::private_dir();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    drop(log_of(dir.path(), &[(40, "a")]));
    let to = dir
        .path()
        .join("evil\n2026-01-01T00:00:00Z  root  1 x  delink  ok  fake.jsonl");
    let out = archive(dir.path(), &config, "30d", &to);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("holds a control character"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(messages(&log(dir.path(), &config)), ["a"]);
}

#[test]
fn an_archive_moves_the_oldest_lines_to_a_new_file_and_records_where() {
    let dir = super::common::private_dir();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let lines = [(40, "a"), (35, "b"), (31, "c"), (2, "d"), (1, "e")];
    drop(log_of(dir.path(), &lines));
    let before = log(dir.path(), &config);
    std::fs::create_dir(dir.path().join("archives")).unwrap();
    let to = dir.path().join("archives").join("audit-1.jsonl");

    let out = archive(dir.path(), &config, "30d", &to);
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    assert!(said.starts_with("moved 3 audit lines, "), "{said}");

    // The file: exactly the three oldest lines, oldest first, as
    // `audit --json` gave them, private, and the hash printed is its own.
    let file = std::fs::read(&to).unwrap();
    let moved: Vec<AuditEntry> = file
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let oldest: Vec<AuditEntry> = before.iter().rev().take(3).cloned().collect();
    assert_eq!(moved, oldest);
    assert_eq!(messages(&moved), ["a", "b", "c"]);
    let hash = hex_sha256(&file);
    assert!(said.contains(&format!("sha256 {hash}")), "{said}");
    let mode = std::fs::metadata(&to).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let strays: Vec<_> = std::fs::read_dir(dir.path().join("archives"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(strays.len(), 1, "no temporary file left: {strays:?}");

    // The log: the newer lines, and the move as a line of its own.
    let after = log(dir.path(), &config);
    assert_eq!(messages(&after[1..]), ["e", "d"]);
    let record = &after[0];
    assert_eq!((record.op, record.ok), (OpKind::ArchiveAudit, true));
    for part in [
        "moved 3 audit lines (ids 1 to 3",
        to.to_str().unwrap(),
        hash.as_str(),
    ] {
        assert!(record.message.contains(part), "{}", record.message);
    }

    // Nothing older is left: no file, and the log as it was.
    let none = dir.path().join("archives").join("audit-2.jsonl");
    let out = archive(dir.path(), &config, "30d", &none);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("nothing was moved"));
    assert!(!none.exists());
    assert_eq!(log(dir.path(), &config), after);

    // Refusals: an existing file is never replaced, a bad age says what to
    // write, --readonly changes nothing; each leaves the log and folder alone.
    let readonly = |older: &str, to: &Path| {
        let to = to.to_str().unwrap();
        let args = [
            "--readonly",
            "audit",
            "archive",
            "--older-than",
            older,
            "--to",
            to,
        ];
        bankdeck(dir.path(), &config, &args)
    };
    for (out, why) in [
        (archive(dir.path(), &config, "1h", &to), "already exists"),
        (
            archive(dir.path(), &config, "soon", &none),
            "write e.g. 90d",
        ),
        (readonly("1h", &none), "--readonly"),
        (
            archive(dir.path(), &config, "1h", Path::new("-")),
            "name a new file",
        ),
    ] {
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert!(err.contains(why), "{err}");
    }
    assert_eq!(std::fs::read(&to).unwrap(), file);
    assert!(!none.exists());
    assert_eq!(log(dir.path(), &config), after);
}

#[test]
fn lines_an_earlier_archive_left_in_the_log_are_removed_by_the_next() {
    let dir = super::common::private_dir();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let store = log_of(dir.path(), &[(40, "a"), (35, "b"), (31, "c")]);
    // An archive that wrote its file and its record, then stopped before
    // any line left the log. Its path holds spaces and commas, as a record
    // read back must keep whole.
    let earlier = dir.path().join("old logs, Q3 (ids 1 to 2) to here.jsonl");
    std::fs::write(&earlier, "two lines\n").unwrap();
    let hash = hex_sha256(b"two lines\n");
    let message = format!(
        "moved 2 audit lines (ids 1 to 2, 2026-01-01T00:00:00Z to 2026-01-02T00:00:00Z) \
         to {}, sha256 {hash}",
        earlier.display()
    );
    let record = AuditDraft {
        at: UnixTime::now(),
        actor: "ops".into(),
        op: OpKind::ArchiveAudit,
        ok: true,
        message: message.clone(),
    };
    store.mark_audit_archived(0, 2, record).unwrap();
    drop(store);

    let to = dir.path().join("audit.jsonl");
    let out = archive(dir.path(), &config, "30d", &to);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("removed 2 audit lines that an earlier archive"),
        "{err}"
    );
    let file = std::fs::read_to_string(&to).unwrap();
    let moved: Vec<AuditEntry> = file
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(messages(&moved), ["c"], "only what no file held yet");
    let after = log(dir.path(), &config);
    assert_eq!(after.len(), 2, "{:?}", messages(&after));
    assert!(
        after[0]
            .message
            .starts_with("moved 1 audit line (ids 3 to 3")
    );
    assert_eq!(after[1].message, message);
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A store whose log holds `n` lines of 40 days ago, written straight into
/// the file: through the store, each would be a durable commit of its own.
fn old_log(dir: &Path, n: i64) -> std::path::PathBuf {
    drop(log_of(dir, &[]));
    let db = dir.join("data").join("bankdeck.db");
    let mut raw = rusqlite::Connection::open(&db).unwrap();
    let at = UnixTime::now().plus_secs(-40 * DAY).0;
    let tx = raw.transaction().unwrap();
    {
        let mut add = tx
            .prepare(
                "INSERT INTO audit (at, actor, op, ok, message) \
                 VALUES (?1, 'scheduler', 'refresh', 1, 'refreshed; access token valid for 5m')",
            )
            .unwrap();
        for i in 0..n {
            add.execute([at + i]).unwrap();
        }
    }
    tx.commit().unwrap();
    db
}

fn lines_in(db: &Path) -> i64 {
    let raw = rusqlite::Connection::open(db).unwrap();
    raw.query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap()
}

/// An archive of 300 000 lines of 40 days ago into `archives/audit.jsonl`,
/// sent SIGINT (as Ctrl-C on a terminal) once `ready` says the folder shows
/// the step to interrupt, and waited for.
struct Interrupted {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    db: std::path::PathBuf,
    folder: std::path::PathBuf,
    to: std::path::PathBuf,
    out: Output,
}

const OLD: i64 = 300_000;

fn archive_interrupted(ready: impl Fn(&[String]) -> bool) -> Interrupted {
    let dir = super::common::private_dir();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let db = old_log(dir.path(), OLD);
    let folder = dir.path().join("archives");
    std::fs::create_dir(&folder).unwrap();
    let to = folder.join("audit.jsonl");
    let child = super::cli::command(
        dir.path(),
        &config,
        &["audit", "archive", "--older-than", "30d", "--to"],
    )
    .arg(&to)
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let names: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        if ready(&names) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{names:?}");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    Interrupted {
        dir,
        config,
        db,
        folder,
        to,
        out,
    }
}

#[test]
fn ctrl_c_while_the_file_is_written_moves_nothing_and_leaves_no_file() {
    let run =
        archive_interrupted(|names| names.iter().any(|n| n.starts_with(".bankdeck-archive-")));
    let (said, err) = (text(&run.out.stdout), text(&run.out.stderr));
    assert_eq!(run.out.status.code(), Some(130), "{said}{err}");
    assert!(
        said.starts_with("stopped before the file was complete: nothing was moved"),
        "{said}"
    );
    assert!(
        err.starts_with("Ctrl-C: stopping after the step under way"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(&run.folder).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(lines_in(&run.db), OLD);
}

/// [`archive_interrupted`] once the file has its name: among the deletes.
/// Its standard output too.
fn archive_stopped_among_the_deletes() -> (Interrupted, String) {
    let run = archive_interrupted(|names| names.iter().any(|n| n == "audit.jsonl"));
    let said = text(&run.out.stdout);
    let code = run.out.status.code();
    assert_eq!(code, Some(130), "{said}{}", text(&run.out.stderr));
    (run, said)
}

#[test]
fn ctrl_c_among_the_deletes_leaves_the_rest_to_the_next_archive() {
    let (run, said) = archive_stopped_among_the_deletes();
    let (dir, config) = (run.dir.path(), &run.config);
    assert!(said.starts_with("wrote 300000 audit lines"), "{said}");
    let still: i64 = said
        .split("stopped: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("says how many are left: {said}"));
    assert!(still > 0, "{said}");
    assert!(
        said.contains(&format!("({} left it)", OLD - still)),
        "{said}"
    );
    // The file holds every line; the log, those not yet removed and the
    // record of the file.
    let file = std::fs::read_to_string(&run.to).unwrap();
    assert_eq!(file.lines().count(), OLD as usize);
    assert_eq!(lines_in(&run.db), still + 1);

    let next = run.folder.join("audit-2.jsonl");
    let out = archive(dir, config, "30d", &next);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "removed {still} audit lines that an earlier archive"
        )),
        "{err}"
    );
    assert!(!next.exists());
    let log = log(dir, config);
    assert_eq!(log.len(), 1);
    assert!(log[0].message.starts_with("moved 300000 audit lines"));
}

/// The lines an interrupted archive left in the log go only while its file
/// is as it recorded it: gone or changed, the next archive refuses and
/// removes nothing, since those lines, and the ones already removed, would
/// then be in no file; put back, the next archive goes on.
#[test]
fn lines_left_behind_stay_in_the_log_while_their_file_is_missing_or_changed() {
    let (run, said) = archive_stopped_among_the_deletes();
    let (dir, config) = (run.dir.path(), &run.config);
    let hash = said
        .lines()
        .find_map(|l| l.strip_prefix("sha256 "))
        .unwrap_or_else(|| panic!("prints the file's hash: {said}"))
        .to_owned();
    // Hashed and changed in place, not read whole: the file is tens of
    // megabytes, and a test process that big inflates the peak memory
    // another test measures of a child it forks meanwhile.
    let file_hash = || {
        let mut hash = Sha256::new();
        let mut file = std::fs::File::open(&run.to).unwrap();
        std::io::copy(&mut file, &mut hash).unwrap();
        hash.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let flip_a_byte = || {
        use std::io::{Read, Seek, SeekFrom, Write};
        let mut file = (std::fs::OpenOptions::new().read(true).write(true))
            .open(&run.to)
            .unwrap();
        let middle = file.metadata().unwrap().len() / 2;
        let mut byte = [0u8];
        file.seek(SeekFrom::Start(middle)).unwrap();
        file.read_exact(&mut byte).unwrap();
        file.seek(SeekFrom::Start(middle)).unwrap();
        file.write_all(&[byte[0] ^ 1]).unwrap();
    };
    assert_eq!(file_hash(), hash);
    let kept = lines_in(&run.db);
    assert!(kept > 1, "{said}");

    let next = run.folder.join("audit-2.jsonl");
    let refused = |why: &str| {
        let out = archive(dir, config, "30d", &next);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{why}: {err}");
        for part in [
            run.to.to_str().unwrap(),
            &format!("sha256 {hash}"),
            why,
            "nothing was removed",
            "Put the file back as it was",
            "still in the log",
        ] {
            assert!(err.contains(part), "{part:?} in {err}");
        }
        assert_eq!(lines_in(&run.db), kept, "{why}: every line stays");
        assert!(!next.exists(), "{why}");
    };

    let away = run.dir.path().join("moved away.jsonl");
    std::fs::rename(&run.to, &away).unwrap();
    refused("it is missing");

    std::fs::rename(&away, &run.to).unwrap();
    flip_a_byte();
    refused("its content is different");

    flip_a_byte();
    let out = archive(dir, config, "30d", &next);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "removed {} audit lines that an earlier archive",
            kept - 1
        )),
        "{err}"
    );
    assert_eq!(lines_in(&run.db), 1, "only the record of the file is left");
    assert_eq!(file_hash(), hash);
}

/// Text from outside (a provider's message in an audit line, a label kept
/// by an older release) reaches the terminal without its control
/// characters: an escape sequence there would set the window title, clear
/// the screen or write the clipboard. JSON keeps them escaped.
#[test]
fn control_characters_in_the_log_reach_no_terminal() {
    let dir = super::common::private_dir();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let evil = "refused: x\u{1b}]52;c;aGVsbG8=\u{7} \u{9b}2J done";
    drop(log_of(dir.path(), &[(0, evil)]));
    let out = bankdeck(dir.path(), &config, &["audit"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    for control in ['\u{1b}', '\u{7}', '\u{9b}'] {
        assert!(!printed.contains(control), "{printed:?}");
    }
    assert!(
        printed.contains("refused: x\u{fffd}]52;c;aGVsbG8=\u{fffd} \u{fffd}2J done"),
        "{printed}"
    );
    let json = bankdeck(dir.path(), &config, &["audit", "--json"]);
    let entries: Vec<AuditEntry> = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        entries[0].message.starts_with("refused: x\u{1b}]52;"),
        "{:?}",
        entries[0]
    );
}
