//! Item 25 through the real binary: a literal secret in the config stops
//! every command, names the file, line and key, and never echoes the value.

use std::path::Path;
use std::process::{Command, Output};

/// The real binary on the store, key and config under `dir`.
pub(super) fn bankdeck(dir: &Path, config: &Path, args: &[&str]) -> Output {
    command(dir, config, args).output().unwrap()
}

/// [`bankdeck`]'s exit code, standard output and standard error, as text.
fn said(dir: &Path, config: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = bankdeck(dir, config, args);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// A private folder for a store, and an empty configuration in it.
fn empty_config() -> (tempfile::TempDir, std::path::PathBuf) {
    config_with("")
}

/// A private folder for a store, and a configuration of `text` in it.
fn config_with(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = super::common::private_dir();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, text).unwrap();
    (dir, config)
}

/// [`bankdeck`] not yet run, for a test that wires its pipes itself.
pub(super) fn command(dir: &Path, config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bankdeck"));
    command
        .args(args)
        .env("BANKDECK_CONFIG", config)
        .env("BANKDECK_DATA_DIR", dir.join("data"))
        .env("BANKDECK_KEY_FILE", dir.join("key"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env_remove("BANKDECK_PASSPHRASE");
    command
}

/// An error costs what its one line costs, even with `RUST_BACKTRACE` set:
/// the error report used to capture a backtrace and resolve its symbols,
/// which no message shows (133 MB at its peak for a missing store, against
/// 12 MB without; `--version` takes about 5 MB). Peak memory, not time: it
/// does not move with the machine's load.
#[test]
fn an_error_with_rust_backtrace_set_captures_no_backtrace() {
    let (dir, config) = empty_config();
    // Through a small parent of its own: a child's peak memory counts its
    // parent's at the exec (Linux keeps the old address space's high
    // water), and this test process's, all its threads' tests running,
    // was past the limit by itself.
    let measure = "import resource, subprocess, sys\n\
                   r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n\
                   peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n\
                   print(r.returncode, peak // 1024)\n\
                   sys.stdout.write(r.stderr.decode())\n";
    let bin = command(dir.path(), &config, &[]);
    let out = Command::new("python3")
        .args(["-c", measure, bin.get_program().to_str().unwrap(), "status"])
        .envs(bin.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("RUST_BACKTRACE", "full")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, said) = out.split_once('\n').unwrap_or_default();
    let (code, peak_mb) = head.split_once(' ').unwrap_or_default();
    assert_eq!(code, "2", "{out}");
    assert!(said.contains("cannot open the store"), "{said}");
    assert_eq!(said.lines().count(), 1, "one line: {said}");
    let peak_mb: u64 = peak_mb.parse().unwrap();
    assert!(
        peak_mb < 60,
        "peak {peak_mb} MB for a one-line error: {said}"
    );
}

#[test]
fn a_literal_secret_in_the_config_is_refused_without_echo() {
    let secret = "sk_live_51HfLiteralSecretValue0042";
    let (dir, config) = config_with(&format!(
        "[providers.bank]\nkind = \"oauth2\"\ntoken_url = \"https://bank.example/token\"\n\
             client_id = \"c\"\nclient_secret = \"{secret}\"\n"
    ));
    for args in [&["config", "check"][..], &["status", "--json"][..]] {
        let out = bankdeck(dir.path(), &config, args);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{args:?} accepted it: {all}");
        assert!(all.contains("client_secret"), "{args:?}: {all}");
        assert!(all.contains("config.toml:5:"), "{args:?}: {all}");
        assert!(!all.contains(secret), "{args:?} echoed the secret: {all}");
        assert!(
            !all.contains("HfLiteral"),
            "{args:?} echoed part of it: {all}"
        );
    }
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created on a refused config"
    );
}

/// Item 23 through the real binary: a damaged store stops the command with
/// the way out, and its bytes are left exactly as they were.
#[test]
fn a_damaged_store_stops_the_binary_and_is_left_alone() {
    let (dir, config) = empty_config();
    let run = |args: &[&str]| bankdeck(dir.path(), &config, args);
    assert!(run(&["users", "add", "amira"]).status.success());
    let db = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "db"))
        .unwrap();
    let whole = std::fs::read(&db).unwrap();
    for damage in [
        whole[..whole.len() / 3].to_vec(),
        (0..whole.len()).map(|i| (i * 7919 % 251) as u8).collect(),
    ] {
        std::fs::write(&db, &damage).unwrap();
        for args in [&["status"][..], &["users", "add", "omar"][..]] {
            let out = run(args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains("Restore it from a backup"), "{args:?}: {err}");
            assert!(
                err.contains(&format!("mv {}", db.display())),
                "{args:?}: {err}"
            );
            assert_eq!(std::fs::read(&db).unwrap(), damage, "{args:?} wrote to it");
        }
    }
}

/// `generate` fills an empty store only: run again, or with no users, it
/// says what to do and writes nothing.
#[test]
fn generate_refuses_a_store_that_holds_data_and_zero_users() {
    let (dir, config) = empty_config();
    let run = |args: &[&str]| bankdeck(dir.path(), &config, args);
    let out = run(&["generate", "--connections", "5", "--users", "0"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--users must be at least 1"), "{err}");
    let out = run(&["generate", "--connections", "30", "--users", "3"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // Not a terminal: no progress redrawn with \r, only the summary.
    assert!(
        err.starts_with("generated 3 users and 30 connections in ") && err.lines().count() == 1,
        "{err:?}"
    );
    // What was written, without the countdowns that move with the clock.
    let held = || {
        let status = String::from_utf8_lossy(&run(&["status", "--json"]).stdout).into_owned();
        let users = String::from_utf8_lossy(&run(&["users", "list"]).stdout).into_owned();
        (status.matches("\"id\":").count(), users)
    };
    let before = held();
    assert_eq!(before.0, 30);
    let out = run(&["generate", "--connections", "30", "--users", "3"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("already holds 3 users"), "{err}");
    assert!(err.contains("--data-dir"), "{err}");
    assert_eq!(held(), before, "nothing written");
}

/// `status FILTER` and `check FILTER` keep what the dashboard's `/` filter
/// keeps: any case, over the user, label, provider, kind and state; `users
/// list FILTER` what the users view's keeps (name or email). A filter that
/// keeps nothing says so; for `check`, whose OK a monitor trusts, that is an
/// error (exit 2), so a typo never reads as "all well".
#[test]
fn status_check_and_users_list_take_the_screens_filters() {
    let (dir, config) = empty_config();
    let run = |args: &[&str]| bankdeck(dir.path(), &config, args);
    let out = run(&["generate", "--connections", "300", "--users", "30"]);
    assert!(out.status.success(), "{out:?}");
    let rows = |args: &[&str]| {
        let out = run(args);
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
    };
    let all = rows(&["status", "--json"]);
    assert_eq!(all.len(), 300);
    // None of these is in a countdown or a state the clock moves, so the two
    // reads agree.
    for filter in [
        "everifin",
        "AMIRA",
        "re-consent",
        "oauth2",
        "invalid_credentials",
        "!delinked",
        "!dapi",
    ] {
        let (invert, needle) = match filter.strip_prefix('!') {
            Some(rest) => (true, rest.to_lowercase()),
            None => (false, filter.to_lowercase()),
        };
        let by_hand: Vec<&serde_json::Value> = (all.iter())
            .filter(|r| {
                let holds = ["user", "label", "provider", "kind", "state_text"]
                    .iter()
                    .any(|f| r[f].as_str().unwrap().to_lowercase().contains(&needle));
                holds != invert
            })
            .map(|r| &r["id"])
            .collect();
        let kept = rows(&["status", "--json", filter]);
        let kept: Vec<&serde_json::Value> = kept.iter().map(|r| &r["id"]).collect();
        assert!(
            !kept.is_empty() && kept.len() < all.len(),
            "{filter}: {}",
            kept.len()
        );
        assert_eq!(kept, by_hand, "{filter}");
    }
    let table = run(&["status", "Re-Consent"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.lines().count() > 1, "{text}");
    assert!(
        text.lines()
            .skip(1)
            .all(|l| l.contains("re-consent required")),
        "{text}"
    );
    // `--sort` lists the same rows in the screen's orders.
    let ids = |rows: &[serde_json::Value]| {
        let mut ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        ids.sort_unstable();
        ids
    };
    let field = |rows: &[serde_json::Value], f: &str| -> Vec<String> {
        (rows.iter())
            .map(|r| r[f].as_str().unwrap().to_lowercase())
            .collect()
    };
    for (key, f) in [("user", "user"), ("provider", "provider")] {
        let sorted = rows(&["status", "--json", "--sort", key]);
        assert_eq!(ids(&sorted), ids(&all), "{key}");
        assert!(field(&sorted, f).is_sorted(), "{key}");
    }
    let by_state = rows(&["status", "--json", "--sort", "state"]);
    let states = field(&by_state, "state");
    let mut runs = states.clone();
    runs.dedup();
    let mut distinct = runs.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(runs.len(), distinct.len(), "one run per state: {runs:?}");
    let by_time = rows(&["status", "--json", "--sort", "time-left", "!re-consent"]);
    let states = field(&by_time, "state");
    let first_delinked = states.iter().position(|s| s == "delinked").unwrap();
    assert!(
        states[first_delinked..].iter().all(|s| s == "delinked"),
        "{states:?}"
    );
    assert_eq!(
        ids(&by_time),
        ids(&rows(&["status", "--json", "!re-consent"])),
        "the filter keeps the same rows whatever the order"
    );
    let wrong = run(&["status", "--sort", "expiry"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&wrong.stderr)
            .contains("[possible values: time-left, user, provider, state]"),
        "{wrong:?}"
    );
    let none = run(&["status", "nobody-at-all"]);
    assert!(none.status.success(), "{none:?}");
    assert!(none.stdout.is_empty(), "no header over nothing: {none:?}");
    assert_eq!(
        String::from_utf8_lossy(&none.stderr),
        "no connection of 300 matches 'nobody-at-all': the filter reads the id (a number), the \
         user, label, provider, kind and state, and from 8 characters on the provider's ids\n"
    );
    // A number keeps the connection of that id too, as `check` names one
    // ("bankdeck refresh 12"), and not the rows whose countdown holds it
    // ("code pending (12:53 left)"); no generated name holds digits, so it
    // is that connection alone, here and inverted.
    for (filter, id) in [("12", 12), ("0300", 300)] {
        assert_eq!(ids(&rows(&["status", "--json", filter])), [id], "{filter}");
        let others = ids(&rows(&["status", "--json", &format!("!{filter}")]));
        assert_eq!(others.len(), 299, "{filter}");
        assert!(!others.contains(&id), "{filter}");
    }
    let none = run(&["status", "301"]);
    assert!(none.status.success() && none.stdout.is_empty(), "{none:?}");
    // From eight characters on, the provider's ids too, in any case, as a
    // support ticket quotes them; shorter, only what the screen shows.
    let with = |f: &str| -> Vec<&serde_json::Value> {
        (all.iter()).filter(|r| r[f].as_str().is_some()).collect()
    };
    let (dapi, subs) = (with("connection_id"), with("provider_user_id"));
    assert!(dapi.len() > 1 && subs.len() > dapi.len(), "{all:?}");
    for (row, field) in [
        (dapi[1], "connection_id"),
        (subs[0], "provider_user_id"),
        (dapi[0], "token_id"),
    ] {
        let id = row[field].as_str().unwrap();
        // Every row holding the id: a user's `sub` is on each of their
        // connections at that provider.
        let fields = ["connection_id", "provider_user_id", "token_id", "session"];
        let holding: Vec<&serde_json::Value> = (all.iter())
            .filter(|r| fields.iter().any(|f| r[f].as_str() == Some(id)))
            .map(|r| &r["id"])
            .collect();
        let kept = rows(&["status", "--json", &id[..9].to_uppercase()]);
        let kept: Vec<&serde_json::Value> = kept.iter().map(|r| &r["id"]).collect();
        assert!(kept.contains(&&row["id"]), "{field} {id}: {kept:?}");
        assert_eq!(kept, holding, "{field} {id}");
        let kept = rows(&["status", "--json", &id[..7]]);
        assert!(
            kept.iter().all(|r| r["id"] != row["id"]),
            "{field} {id}: {kept:?}"
        );
    }

    let check = |args: &[&str]| said(dir.path(), &config, args);
    let (code, every, _) = check(&["check", "--within", "10m"]);
    assert_eq!(code, Some(1), "{every}");
    // Compared by id: a countdown in a reason may tick between the two runs.
    let ids = |lines: &mut dyn Iterator<Item = &str>| -> Vec<String> {
        lines
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
            .collect()
    };
    let dapi_lines = ids(&mut every.lines().filter(|l| l.contains(" (dapi): ")));
    let (code, dapi, _) = check(&["check", "--within", "10m", "DAPI"]);
    assert_eq!(code, Some(1), "{dapi}");
    assert!(dapi_lines.len() > 1, "{dapi}");
    // The first line, all a monitor shows, counts what the rows need, as
    // `--json` names each row's need.
    let (_, json, _) = check(&["check", "--within", "10m", "--json", "DAPI"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let words = |need: &str| match need {
        "exchange" => "code to exchange",
        "code_expired" => "code expired",
        "reconsent" => "re-consent required",
        "failed" => "failed",
        "refresh" => "to refresh",
        "login" => "to log in again",
        "consent_ending" => "consent ending",
        "consent_ended" => "consent ended",
        other => panic!("need {other:?}"),
    };
    let mut needs = std::collections::BTreeMap::<&str, usize>::new();
    let mut by_name = std::collections::BTreeMap::<&str, usize>::new();
    for row in report["needs_action"].as_array().unwrap() {
        let need = row["need"].as_str().unwrap();
        *needs.entry(words(need)).or_default() += 1;
        *by_name.entry(need).or_default() += 1;
    }
    assert!(needs.len() > 1, "{needs:?}");
    assert_eq!(report["counts"], serde_json::json!(by_name), "{json}");
    let first = dapi.lines().next().unwrap();
    let (head, tally) = first.rsplit_once(": ").unwrap();
    assert_eq!(
        head,
        format!(
            "ACTION: {} connections matching 'DAPI' need action within 10m",
            dapi_lines.len()
        )
    );
    let counts: Vec<(usize, &str)> = (tally.split(", "))
        .map(|part| {
            let (n, what) = part.split_once(' ').unwrap();
            (n.parse().unwrap(), what)
        })
        .collect();
    assert!(counts.is_sorted_by(|a, b| a.0 >= b.0), "{first}");
    let told: std::collections::BTreeMap<&str, usize> =
        counts.iter().map(|&(n, what)| (what, n)).collect();
    assert_eq!(told, needs, "{first}");
    assert_eq!(ids(&mut dapi.lines().skip(1)), dapi_lines);
    let (code, said, _) = check(&["check", "--within", "10m", "delinked"]);
    assert_eq!(
        (code, said.as_str()),
        (
            Some(0),
            "OK: nothing matching 'delinked' needs action within 10m\n"
        )
    );
    // Quiet, for cron: nothing when all is well, the same list when not.
    let (code, said, _) = check(&["check", "-q", "--within", "10m", "delinked"]);
    assert_eq!((code, said.as_str()), (Some(0), ""));
    let (code, quiet, _) = check(&["check", "--quiet", "--within", "10m", "DAPI"]);
    assert_eq!(code, Some(1));
    assert_eq!(ids(&mut quiet.lines().skip(1)), dapi_lines, "{quiet}");
    let (code, _, err) = check(&["check", "--quiet", "--json"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot be used with"), "{err}");
    // The same check for a monitor: one object, the same exit codes, and
    // each row as `status --json` has it, with the text's reason.
    let (code, json, _) = check(&["check", "--within", "10m", "--json", "DAPI"]);
    assert_eq!(code, Some(1), "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (&report["ok"], &report["within_secs"]),
        (&false.into(), &600.into())
    );
    let needs = report["needs_action"].as_array().unwrap();
    let json_ids: Vec<String> = needs.iter().map(|r| r["id"].to_string()).collect();
    assert_eq!(json_ids, dapi_lines);
    for (r, line) in needs.iter().zip(dapi.lines().skip(1)) {
        assert_eq!(r["provider"], "dapi", "{r}");
        assert!(r["state"].is_string() && r["time_left"].is_string(), "{r}");
        let reason = r["reason"].as_str().unwrap();
        // A countdown may tick between the two runs: the words before it.
        let words = reason.split(|c: char| c.is_ascii_digit()).next().unwrap();
        assert!(line.contains(words), "{line} / {reason}");
    }
    let (code, json, _) = check(&["check", "--within", "10m", "--json", "delinked"]);
    assert_eq!(code, Some(0));
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["needs_action"], serde_json::json!([]));
    let (code, said, err) = check(&["check", "--json", "dapj"]);
    assert_eq!((code, said.as_str()), (Some(2), ""), "{err}");
    let (code, said, err) = check(&["check", "--within", "10m", "dapj"]);
    assert_eq!(code, Some(2), "{said}{err}");
    assert!(said.is_empty(), "{said}");
    assert!(
        err.contains("no connection of 300 matches 'dapj'") && err.contains("nothing was checked"),
        "{err}"
    );

    let users = rows(&["users", "list", "--json"]);
    let amiras = rows(&["users", "list", "--json", "AMIRA"]);
    let by_hand: Vec<&serde_json::Value> = (users.iter())
        .filter(|u| u["name"].as_str().unwrap().contains("amira"))
        .collect();
    assert!(!by_hand.is_empty() && by_hand.len() < users.len());
    assert_eq!(amiras.iter().collect::<Vec<_>>(), by_hand);
    let others = rows(&["users", "list", "--json", "!AMIRA"]);
    assert_eq!(others.len(), users.len() - by_hand.len());
    assert!(others.iter().all(|u| !by_hand.contains(&u)));
    let (code, said, err) = check(&["users", "list", "zz-nobody"]);
    assert_eq!((code, said.as_str()), (Some(0), ""));
    assert_eq!(
        err,
        "no user of 30 matches 'zz-nobody': the filter reads the name and email\n"
    );

    // `audit --matching` keeps the lines of the rows `status` keeps.
    let amira_rows = rows(&["status", "--json", "AMIRA"]);
    let mut amira_ids: Vec<i64> = (amira_rows.iter())
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    amira_ids.sort_unstable();
    let lines = rows(&["audit", "--json", "--limit", "1000", "--matching", "AMIRA"]);
    let mut named: Vec<i64> = (lines.iter())
        .map(|l| l["connection"].as_i64().unwrap())
        .collect();
    named.sort_unstable();
    named.dedup();
    assert_eq!(
        named, amira_ids,
        "one link line each at least, no other row's"
    );
    // As `status` and `users list`: nothing listed, and why.
    let (code, said, err) = check(&["audit", "--json", "--matching", "zz-nobody"]);
    assert_eq!((code, said.trim()), (Some(0), "[]"), "{err}");
    assert!(
        err.contains("no connection of 300 matches 'zz-nobody'"),
        "{err}"
    );
    let (code, _, err) = check(&["audit", "--matching", "amira", "--failed", "--since", "1s"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.starts_with("no failed operation matching 'amira' since "),
        "{err}"
    );
}

/// Paths given relative to where bankdeck runs work as an operator expects
/// (a bare key file name once made the new key's folder sync open "" and
/// fail after the key was written), and the audit names the account that
/// ran the command, not whatever `USER` says.
#[test]
fn relative_paths_work_and_the_audit_names_the_account() {
    let dir = super::common::private_dir();
    std::fs::write(dir.path().join("config.toml"), "").unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_bankdeck"))
            .args(args)
            .current_dir(dir.path())
            .env("BANKDECK_CONFIG", "config.toml")
            .env("BANKDECK_DATA_DIR", "data")
            .env("BANKDECK_KEY_FILE", "key")
            .env("XDG_STATE_HOME", "state")
            .env("USER", "not-the-account")
            .env_remove("LOGNAME")
            .env_remove("BANKDECK_PASSPHRASE")
            .output()
            .unwrap()
    };
    let out = run(&["users", "add", "amira"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("key").is_file());
    let me = Command::new("id").arg("-un").output().unwrap();
    let me = String::from_utf8(me.stdout).unwrap();
    let out = run(&["audit", "--json"]);
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(audit[0]["op"], "add_user", "{audit}");
    assert_eq!(audit[0]["actor"], me.trim(), "{audit}");
}

/// `bankdeck sandbox`, its state under `dir`.
fn sandbox_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bankdeck"));
    command
        .arg("sandbox")
        .env("XDG_STATE_HOME", dir.join("state"));
    command
}

/// The sandbox, killed when the test ends however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `bankdeck sandbox --write-config DIR` leaves a config that works against
/// that sandbox as written, its secrets in files only their owner reads; a
/// second sandbox into the same folder refuses rather than replace them.
#[test]
fn the_sandbox_writes_a_config_that_works_against_it() {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    let dir = super::common::private_dir();
    let folder = dir.path().join("sandbox-config");
    let sandbox = |folder: &Path| {
        let mut command = sandbox_command(dir.path());
        command.args(["--port", "0", "--write-config"]).arg(folder);
        command
    };
    let mut running = Running(
        sandbox(&folder)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let banner = std::io::BufReader::new(running.0.stdout.take().unwrap());
    let config = folder.join("config.toml");
    let line = banner
        .lines()
        .map(Result::unwrap)
        .find(|l| l.trim_start().starts_with("config "))
        .expect("the banner names the config it wrote");
    assert!(line.contains(&*config.to_string_lossy()), "{line}");
    for secret in ["client-secret", "dapi-app-secret"] {
        let mode = std::fs::metadata(folder.join(secret))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{secret}");
    }
    let out = bankdeck(dir.path(), &config, &["token", "bank"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("token issued"), "{said}");
    assert!(said.starts_with("added user app (id 1)\n"), "{said}");
    let again = bankdeck(dir.path(), &config, &["token", "bank"]);
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(said.starts_with("token renewed"), "{said}");
    // The last operation as a script reads it: an object, its time as the
    // other times are. The token asked for again was a renewal.
    let status = bankdeck(dir.path(), &config, &["status", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let last = &rows[0]["last_op"];
    assert_eq!(
        (&last["op"], &last["ok"]),
        (&serde_json::json!("refresh"), &serde_json::json!(true)),
        "{rows}"
    );
    // One token, an hour long, that nothing renews by itself: one reason,
    // said in the singular, with the command that renews it.
    let out = bankdeck(dir.path(), &config, &["check", "--within", "2h"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.starts_with("ACTION: 1 connection needs action within 2h: 1 to refresh\n"),
        "{said}"
    );
    assert!(said.contains("`bankdeck refresh 1`"), "{said}");
    let at = last["at"].as_str().unwrap();
    assert!(
        at.ends_with('Z') && at.len() == "2026-12-04T23:53:01Z".len(),
        "{at}"
    );
    let checked = bankdeck(dir.path(), &config, &["config", "check"]);
    assert!(checked.status.success(), "{checked:?}");
    let checked = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(checked.matches("[set]").count(), 3, "{checked}");
    assert!(checked.ends_with("OK: nothing missing\n"), "{checked}");
    assert!(
        !checked.contains(bankdeck::sandbox::DEMO_CLIENT_SECRET),
        "{checked}"
    );
    // A secret file others can read, or a config others can write (and so
    // send the client secret anywhere), is for the check to report.
    let chmod = |name: &str, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        let path = folder.join(name);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    chmod("client-secret", 0o644);
    chmod("config.toml", 0o666);
    let checked = bankdeck(dir.path(), &config, &["config", "check"]);
    let said = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(checked.status.code(), Some(1), "{said}");
    assert!(
        said.contains("writable by other users (mode 0666)"),
        "{said}"
    );
    assert_eq!(
        said.matches("client-secret is readable or writable")
            .count(),
        2,
        "{said}"
    );
    assert!(
        said.ends_with("ACTION: 2 files open to other users\n"),
        "{said}"
    );
    chmod("client-secret", 0o600);
    chmod("config.toml", 0o600);

    let before = std::fs::read(&config).unwrap();
    let again = sandbox(&folder).output().unwrap();
    let error = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{error}");
    assert!(
        error.contains("already exists and is never replaced"),
        "{error}"
    );
    assert_eq!(std::fs::read(&config).unwrap(), before);
    // A folder holding only a config of its own gets no secret files either.
    let other = dir.path().join("theirs");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("config.toml"), "# someone's own\n").unwrap();
    assert!(!sandbox(&other).output().unwrap().status.success());
    let left: Vec<_> = std::fs::read_dir(&other).unwrap().collect();
    assert_eq!(left.len(), 1, "only their config.toml is there");
    // A file where the folder should be is named as such, and left as it was.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "mine\n").unwrap();
    let refused = sandbox(&file).output().unwrap();
    let error = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{error}");
    assert!(error.contains("is not a folder"), "{error}");
    assert_eq!(std::fs::read(&file).unwrap(), b"mine\n");
}

/// What reads, and what works on rows already stored, says where no
/// store is and creates none: `users list` used to make an empty store and
/// a key there, and `refresh --due` in a cron job with a mistyped data dir
/// made one and said "nothing expiring", exit 0, every run. Only what adds
/// users or connections makes a store.
#[test]
fn what_reads_or_works_on_stored_rows_creates_no_store_where_none_is() {
    let (dir, config) = empty_config();
    for args in [
        &["users", "list"][..],
        &["users", "remove", "amira"],
        &["refresh", "--due"],
        &["access-token", "1"],
        &["exchange", "1"],
        &[
            "audit",
            "archive",
            "--older-than",
            "90d",
            "--to",
            "old.jsonl",
        ],
    ] {
        let out = bankdeck(dir.path(), &config, args);
        let error = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {error}");
        assert!(
            error.contains("nothing has been stored yet"),
            "{args:?}: {error}"
        );
        assert!(error.contains("--data-dir"), "{args:?}: {error}");
        assert!(!dir.path().join("data").exists(), "{args:?}");
        assert!(!dir.path().join("key").exists(), "{args:?}");
    }
    let (code, _, err) = said(dir.path(), &config, &["users", "add", "amira"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(dir.path().join("data").exists());
    let (_, listed, _) = said(dir.path(), &config, &["users", "list", "--json"]);
    let users: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let created = users[0]["created_at"].as_str().unwrap_or_default();
    assert!(
        created.ends_with('Z'),
        "RFC 3339, as status --json: {users}"
    );
}

/// A sandbox whose stdout is closed before it prints its banner (`bankdeck
/// sandbox | head -1`, or a script that read the line it wanted) goes on
/// serving; it used to die of the failed print.
#[test]
fn the_sandbox_serves_on_after_its_banner_pipe_is_closed() {
    use std::io::{Read, Write};
    let dir = super::common::private_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let stderr = dir.path().join("stderr");
    let mut running = Running(
        sandbox_command(dir.path())
            .args(["--port", &port.to_string()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap(),
    );
    drop(running.0.stdout.take());
    let ask = || {
        std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            s.write_all(b"GET /sandbox/state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
            let mut answer = String::new();
            s.read_to_string(&mut answer)?;
            Ok(answer)
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while let Err(e) = ask() {
        assert!(running.0.try_wait().unwrap().is_none(), "it exited");
        assert!(std::time::Instant::now() < deadline, "no answer: {e}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A panicking process can still answer while it unwinds; a second look
    // a while later finds it gone, and its panic written.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let said = std::fs::read_to_string(&stderr).unwrap();
    assert!(!said.contains("panicked"), "{said}");
    assert!(running.0.try_wait().unwrap().is_none(), "it exited: {said}");
    let answer = ask().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

enum Closed {
    Stdout,
    Stderr,
}

/// Runs the real binary with the read end of one of its output pipes closed
/// at once, as a reader that has gone away (`| head -0`) leaves it.
fn with_a_closed_pipe(dir: &Path, config: &Path, args: &[&str], closed: Closed) -> Output {
    let mut child = command(dir, config, args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    match closed {
        Closed::Stdout => drop(child.stdout.take()),
        Closed::Stderr => drop(child.stderr.take()),
    }
    child.wait_with_output().unwrap()
}

/// A reader that stops early (`bankdeck audit | head`) ends each printing
/// command as it ends any Unix tool: quietly, with 141 (128 + SIGPIPE). They
/// used to panic with "failed printing to stdout: Broken pipe".
#[test]
fn a_closed_output_pipe_ends_each_command_quietly() {
    let (dir, config) = empty_config();
    // Enough rows that every listing outgrows the pipe's buffer.
    let made = bankdeck(
        dir.path(),
        &config,
        &["generate", "--connections", "2000", "--users", "200"],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let commands: [&[&str]; 7] = [
        &["status"],
        &["status", "--json"],
        &["audit", "--limit", "5000"],
        &["audit", "--limit", "5000", "--json"],
        &["users", "list", "--json"],
        &["check"],
        &["completions", "zsh"],
    ];
    for args in commands {
        let out = with_a_closed_pipe(dir.path(), &config, args, Closed::Stdout);
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!said.contains("panicked"), "{args:?}: {said}");
        assert_eq!(out.status.code(), Some(141), "{args:?}: {said}");
        assert!(said.is_empty(), "{args:?}: {said}");
    }
}

/// With standard error a pipe whose reader has gone (`2>&1 | head`), a
/// command still ends with its own status. `generate`'s summary and every
/// command's error line used `eprintln!`, which panicked there; the panic
/// hook then failed on the same pipe and the process aborted (SIGABRT).
#[test]
fn a_closed_error_pipe_keeps_each_commands_exit_status() {
    let (dir, config) = empty_config();
    let cases: [(&[&str], i32); 2] = [
        (&["generate", "--connections", "10", "--users", "2"], 0),
        (&["refresh", "999999"], 2),
    ];
    for (args, code) in cases {
        let status = with_a_closed_pipe(dir.path(), &config, args, Closed::Stderr).status;
        assert_eq!(status.code(), Some(code), "{args:?}: {status:?}");
    }
    // The generate above wrote its store whole though its summary was lost.
    let out = bankdeck(dir.path(), &config, &["users", "list", "--json"]);
    let users: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(users.as_array().map(Vec::len), Some(2), "{users}");
}

/// A payload that cannot be a Connect payload, from standard input or a
/// file, is refused for what it is (not UTF-8, far too large), where it used
/// to be cut at the cap and refused as broken JSON, or refused with the bare
/// words of a UTF-8 error; nothing is stored either way.
#[test]
fn a_payload_that_is_not_text_or_too_large_is_refused_for_what_it_is() {
    use std::io::Write;
    let (dir, config) = config_with(
        "[providers.dapi]\nkind = \"dapi\"\nbase_url = \"https://api.dapi.example\"\n\
         app_secret = \"env:DAPI_APP_SECRET\"\n",
    );
    let piped = |input: &[u8]| {
        let args = ["link", "dapi", "--user", "amira", "--payload", "-"];
        let mut child = command(dir.path(), &config, &args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The binary may stop reading at its cap and close the pipe.
        let _ = child.stdin.take().unwrap().write_all(input);
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = piped(&[0xff, 0xfe, b'{', 0x80]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("standard input is not UTF-8 text: a Connect payload is"),
        "{err}"
    );
    // Valid JSON past the cap: cut at the cap it would have read as broken.
    let large = format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024));
    let (code, err) = piped(large.as_bytes());
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("standard input holds more than 64 KiB"),
        "{err}"
    );
    let file = dir.path().join("big.json");
    std::fs::write(&file, &large).unwrap();
    let path = file.to_str().unwrap();
    let (code, _, err) = said(
        dir.path(),
        &config,
        &["link", "dapi", "--user", "amira", "--payload", path],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("payload file {path} holds more than 64 KiB")),
        "{err}"
    );
    assert!(!dir.path().join("data").exists(), "nothing was stored");
}

/// `--payload` names a file. The payload pasted in its place was echoed in
/// "cannot read payload file {…}", access code and user secret with it; it
/// is refused unread and unechoed, with where a payload goes instead.
#[test]
fn a_payload_given_on_the_command_line_is_refused_without_echo() {
    let (dir, config) = config_with(
        "[providers.dapi]\nkind = \"dapi\"\nbase_url = \"https://api.dapi.example\"\n\
         app_secret = \"env:DAPI_APP_SECRET\"\n",
    );
    for pasted in [
        r#"{"accessCode":"SECRETCODE123","userSecret":"USERSECRET456","connectionID":"x"}"#,
        r#"  [{"connectionID":"x","code":"SECRETCODE123"}]"#,
        "accessCode=SECRETCODE123",
        "userSecret: USERSECRET456",
    ] {
        let (code, _, err) = said(
            dir.path(),
            &config,
            &["link", "dapi", "--user", "zz", "--payload", pasted],
        );
        assert_eq!(code, Some(2), "{err}");
        assert!(
            !err.contains("SECRETCODE123") && !err.contains("USERSECRET456"),
            "{err}"
        );
        assert!(err.contains("--payload -"), "{err}");
        assert!(err.contains("in a file"), "{err}");
    }
    assert!(!dir.path().join("data").exists(), "nothing was stored");
}

/// `link` of a Connect payload already filed (a paste repeated, a script's
/// retry) is refused with the connection that holds it, and adds nothing.
#[test]
fn linking_the_same_connect_payload_twice_adds_nothing_the_second_time() {
    let (dir, config) = config_with(
        "[providers.dapi]\nkind = \"dapi\"\nbase_url = \"https://api.dapi.example\"\n\
         app_secret = \"env:DAPI_APP_SECRET\"\n",
    );
    let payload = dir.path().join("connect.json");
    std::fs::write(
        &payload,
        r#"{"success":true,"accessCode":"code-not-a-jwt","userSecret":"us-1",
            "connectionID":"2c72a336a7c09fd905f9adf3dc5ff976d58eeb20","userID":"u-1",
            "tokenID":"611c7aa8-70af-4d7f-a895-289e89239313"}"#,
    )
    .unwrap();
    let path = payload.to_str().unwrap();
    let link = ["link", "dapi", "--user", "amira", "--payload", path];
    let first = bankdeck(dir.path(), &config, &link);
    assert!(first.status.success(), "{first:?}");
    let said = String::from_utf8_lossy(&first.stdout);
    assert!(
        said.starts_with("added user amira (id 1)\nlinked: "),
        "{said}"
    );
    let again = bankdeck(dir.path(), &config, &link);
    let said = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{said}");
    assert!(
        said.contains("this Connect payload is already connection 1 (amira): nothing was added"),
        "{said}"
    );
    assert!(
        !said.contains("code-not-a-jwt") && !said.contains("us-1"),
        "{said}"
    );
    // A second bank of hers, the name typed with a space: hers, not new.
    let second = dir.path().join("second.json");
    std::fs::write(
        &second,
        r#"{"success":true,"accessCode":"code-two","userSecret":"us-2",
            "connectionID":"5d1e0c3b7a9f2e4d6c8b0a1f3e5d7c9b1a3f5e7d","userID":"u-1"}"#,
    )
    .unwrap();
    let padded = [
        "link",
        "dapi",
        "--user",
        " amira",
        "--payload",
        second.to_str().unwrap(),
    ];
    let out = bankdeck(dir.path(), &config, &padded);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        said.starts_with("linked: connection 2 · amira / "),
        "{said}"
    );

    // Refused for someone new, it does not add them either.
    let as_bob = ["link", "dapi", "--user", "bob", "--payload", path];
    let again = bankdeck(dir.path(), &config, &as_bob);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    assert!(!String::from_utf8_lossy(&again.stdout).contains("added user"));
    let users = bankdeck(dir.path(), &config, &["users", "list", "--json"]);
    let users: serde_json::Value = serde_json::from_slice(&users.stdout).unwrap();
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["name"].as_str())
        .collect();
    assert_eq!(names, ["amira"], "{users}");
    let status = bankdeck(dir.path(), &config, &["status", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(2), "{rows}");
}

/// A usage error names what is missing and nothing else: with
/// BANKDECK_DATA_DIR set, clap used to print `--data-dir <PATH>` in the
/// usage line as if it were required too.
#[test]
fn a_usage_error_does_not_list_the_data_dir_as_required() {
    let (dir, config) = empty_config();
    let out = bankdeck(dir.path(), &config, &["token"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("Usage: bankdeck token <PROVIDER>"), "{said}");
    assert!(!said.contains("--data-dir"), "{said}");
}

/// `--demo` with a command is refused: the command would act on the real
/// store, not the demo's, and nothing is added there.
#[test]
fn demo_with_a_command_is_refused_and_touches_no_store() {
    let (dir, config) = empty_config();
    let (code, _, err) = said(dir.path(), &config, &["--demo", "users", "add", "demotest"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("takes no command"), "{err}");
    let (_, listed, _) = said(dir.path(), &config, &["users", "list"]);
    assert!(!listed.contains("demotest"), "{listed}");
}

/// A connection is named by its id; a user's name in its place gets the
/// way to the id, not the parser's "invalid digit found in string".
#[test]
fn a_name_given_for_a_connection_id_says_where_the_ids_are() {
    let (dir, config) = empty_config();
    for (args, hint) in [
        (&["refresh", "dave"][..], "`bankdeck status dave`"),
        (
            &["exchange", "carol smith"][..],
            "`bankdeck status 'carol smith'`",
        ),
        (
            &["logout", "o'neil", "--yes"][..],
            r"`bankdeck status 'o'\''neil'`",
        ),
        (&["delink", "0"][..], "a number from 1 up"),
    ] {
        let out = bankdeck(dir.path(), &config, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(hint), "{args:?}: {err}");
        assert!(!err.contains("invalid digit"), "{args:?}: {err}");
    }
}

/// A negative duration is read as a duration and refused as one, with what
/// to write: clap took `-5m` for an unknown flag and offered `-- -5`.
#[test]
fn a_negative_duration_is_refused_with_what_to_write() {
    let (dir, config) = empty_config();
    for (args, said) in [
        (
            &["check", "--within", "-5m"][..],
            "--within '-5m' is not a duration: write e.g. 10m",
        ),
        (
            &["audit", "--since", "-1h"][..],
            "--since '-1h' is not a duration: write e.g. 1h",
        ),
        (
            &["refresh", "--due", "--within", "-2m"][..],
            "--within '-2m' is not a duration: write e.g. 10m",
        ),
        (
            &["audit", "archive", "--older-than", "-3d", "--to", "x.jsonl"][..],
            "--older-than '-3d' is not a duration: write e.g. 90d",
        ),
        (
            &["refresh", "--due", "--within", "100000000000000d"][..],
            "--within '100000000000000d' is longer than a year: write the window tokens are \
             renewed in, e.g. 10m",
        ),
        (
            &["check", "--within", "10M"][..],
            "--within '10M': units are lower case (m minutes, h hours, d days): write e.g. 10m",
        ),
    ] {
        let out = bankdeck(dir.path(), &config, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end(), format!("bankdeck: {said}"), "{args:?}");
    }
}

/// The dashboard with standard output not a terminal (`bankdeck > file`, a
/// pipe, cron) says what to run instead, and makes nothing, not even the
/// demo's folder. It used to stop with "No such device or address (os error 6)".
#[test]
fn the_dashboard_without_a_terminal_says_what_to_run_instead() {
    let (dir, config) = empty_config();
    for args in [&[][..], &["--demo"][..]] {
        let out = command(dir.path(), &config, args)
            .env("TMPDIR", dir.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {said}");
        assert!(
            said.contains("the dashboard needs a terminal"),
            "{args:?}: {said}"
        );
        assert!(said.contains("bankdeck status"), "{args:?}: {said}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let made: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != "config.toml")
        .collect();
    assert!(made.is_empty(), "{made:?}");
}

/// `bankdeck sandbox` with the config it writes into `dir`: the running
/// sandbox, its base URL and the config's path.
fn sandbox_with_config(dir: &Path) -> (Running, String, std::path::PathBuf) {
    use std::io::BufRead;
    let folder = dir.join("sandbox-config");
    let mut running = Running(
        sandbox_command(dir)
            .args(["--port", "0", "--write-config"])
            .arg(&folder)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut base = String::new();
    for line in std::io::BufReader::new(running.0.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(url) = line.split("listening on ").nth(1) {
            base = url.trim().to_owned();
        }
        if line.trim_start().starts_with("config ") {
            break;
        }
    }
    (running, base, folder.join("config.toml"))
}

/// A config whose secrets are named relative to it works from any folder:
/// `file:client-secret` is read beside the config, not in the folder the
/// command was started in (cron's is the home folder).
#[test]
fn relative_secret_files_are_read_beside_the_config() {
    let dir = super::common::private_dir();
    let (_sandbox, _base, config) = sandbox_with_config(dir.path());
    let folder = config.parent().unwrap();
    let text = std::fs::read_to_string(&config).unwrap();
    let relative = text.replace(&format!("file:{}/", folder.display()), "file:");
    assert!(relative.contains("\"file:client-secret\""), "{relative}");
    std::fs::write(&config, relative).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = command(dir.path(), &config, args)
            .current_dir(elsewhere.path())
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, out, err) = run(&["config", "check"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!out.contains("[missing]"), "{out}");
    let shown = format!("file:{}/client-secret", folder.display());
    assert!(out.contains(&shown), "the path it reads: {out}");
    let (code, out, err) = run(&["token", "bank", "--user", "app"]);
    assert_eq!(code, Some(0), "{out}{err}");
}

/// `logout` of an app token at a provider with no revocation endpoint ends
/// the row here and says so, the token left to run out (it is no one's
/// consent); nothing renews it, and `token` asked again files a new row.
#[test]
fn an_app_token_without_revocation_is_ended_here_and_says_so() {
    let dir = super::common::private_dir();
    let (_sandbox, _base, config) = sandbox_with_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("revocation_url"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&config, text).unwrap();
    let (code, said1, err) = said(dir.path(), &config, &["token", "bank"]);
    assert_eq!(code, Some(0), "{said1}{err}");
    let (code, out, err) = said(dir.path(), &config, &["logout", "1", "--yes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("logout done: connection 1"), "{out}");
    assert!(out.contains("logged out (access valid"), "{out}");
    let (_, audit, _) = said(dir.path(), &config, &["audit", "--connection", "1"]);
    assert!(
        audit.contains("app token ended here, not at the provider"),
        "{audit}"
    );
    assert!(audit.contains("no revocation_url"), "{audit}");
    let (code, out, err) = said(dir.path(), &config, &["refresh", "1"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("already logged out"), "{err}");
    let (code, out, err) = said(dir.path(), &config, &["token", "bank"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("connection 2"), "{out}");
}

/// Several ids to `refresh`, `logout` (and `exchange`, `delink`) are done
/// one after another, a line each: a ticket's connections in one command.
/// An id that names nothing stops the command before anything is done; a
/// failure does not stop the rest, and makes the exit 1. A logout of
/// several wants their count typed, or `--yes`. It took one id.
#[test]
fn several_ids_are_done_one_after_another_a_line_each() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    three_app_tokens(dir.path(), &config);
    let refreshes = |dir: &Path| {
        let (_, audit, _) = said(dir, &config, &["audit", "--op", "refresh", "--json"]);
        serde_json::from_str::<Vec<serde_json::Value>>(&audit)
            .unwrap()
            .len()
    };

    let (code, out, err) = said(dir.path(), &config, &["refresh", "1", "2", "99"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("no connection 99"), "{err}");
    assert_eq!(refreshes(dir.path()), 0, "nothing done for a mistyped id");
    let (code, out, err) = said(dir.path(), &config, &["--readonly", "refresh", "1", "2"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert_eq!(
        err.lines().filter(|l| l.contains("read-only")).count(),
        1,
        "once: {err}"
    );

    let (code, out, err) = said(dir.path(), &config, &["refresh", "3", "1", "3"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "once each, in the order given: {out}");
    assert!(
        lines[0].starts_with("refresh done: connection 3 · cron / bank"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("refresh done: connection 1 · app / bank"),
        "{out}"
    );
    assert_eq!(refreshes(dir.path()), 2);

    let (code, out, err) = said(dir.path(), &config, &["logout", "1", "2"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("logout 2 connections: 1 app / bank, 2 batch / bank needs --yes"),
        "{err}"
    );
    let (code, out, err) = said(dir.path(), &config, &["logout", "1", "2", "--yes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.lines()
            .all(|l| l.starts_with("logout done: connection ")),
        "{out}"
    );

    // 1 is logged out now: its refresh fails, and 3's still goes.
    let (code, out, err) = said(dir.path(), &config, &["refresh", "1", "3"]);
    assert_eq!(code, Some(1), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("1 app / bank: refresh failed: ") && lines[0].contains("logged out"),
        "{out}"
    );
    assert!(lines[1].starts_with("refresh done: connection 3"), "{out}");
    assert_eq!(
        lines[2],
        "1 of 2 failed: `bankdeck status` shows where each stands"
    );

    // SIGTERM while the first is out: it is answered and written, the
    // rest is not sent, and says which.
    let (_, token, _) = said(dir.path(), &config, &["token", "bank", "--user", "later"]);
    let later = named_id(&token);
    let before = refreshes(dir.path());
    hold(&base, "oauth2.token", 3000, 1);
    let out = interrupted(dir.path(), &config, &["refresh", "3", &later], "TERM");
    let (said_out, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(130), "{said_out}{err}");
    assert!(
        said_out.starts_with("refresh done: connection 3"),
        "{said_out}"
    );
    assert!(
        err.contains(&format!("refresh: not sent, stopped first: {later}")),
        "{err}"
    );
    assert_eq!(refreshes(dir.path()), before + 1, "the second was not sent");
}

/// `users disconnect` stopped by SIGTERM while a delink is out: that one
/// is answered and written, the rest is not sent and is named, and the
/// exit is 130. It went on to the rest, counted each as failed ("not
/// sent") and exited 1, as for a provider's refusal.
#[test]
fn a_disconnect_stopped_by_a_signal_names_what_it_did_not_send() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    let mut ids = Vec::new();
    for _ in 0..2 {
        let id = link_dapi(dir.path(), &config, &base, "lena");
        let (code, out, err) = said(dir.path(), &config, &["exchange", &id]);
        assert_eq!(code, Some(0), "{out}{err}");
        ids.push(id);
    }
    hold(&base, "dapi.delink", 3000, 1);
    let out = interrupted(
        dir.path(),
        &config,
        &["users", "disconnect", "lena", "--yes"],
        "TERM",
    );
    let (said_out, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(130), "{said_out}{err}");
    assert_eq!(
        said_out,
        format!("  {} lena / dapi: delinked\n", ids[0]),
        "the first, answered and written; nothing said failed"
    );
    assert!(
        err.contains(&format!(
            "disconnect lena: not sent, stopped first: {}",
            ids[1]
        )),
        "{err}"
    );
    let (_, json, _) = said(dir.path(), &config, &["status", "--json", "lena"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let state = |id: &str| {
        let id: i64 = id.parse().unwrap();
        let row = rows.iter().find(|r| r["id"] == id).unwrap();
        row["state"].as_str().unwrap().to_owned()
    };
    assert_eq!(state(&ids[0]), "delinked");
    assert_eq!(state(&ids[1]), "active", "the second was not sent");
}

/// App tokens at `bank` for three users: app, batch and cron.
fn three_app_tokens(dir: &Path, config: &Path) {
    for user in ["app", "batch", "cron"] {
        let (code, said, err) = said(dir, config, &["token", "bank", "--user", user]);
        assert_eq!(code, Some(0), "{said}{err}");
    }
}

/// A sandbox and its config, its `bank` provider sending one request at a
/// time and holding [`three_app_tokens`].
fn three_app_tokens_one_at_a_time(dir: &Path) -> (Running, String, std::path::PathBuf) {
    let (sandbox, base, config) = sandbox_with_config(dir);
    bank_one_at_a_time(&config);
    three_app_tokens(dir, &config);
    (sandbox, base, config)
}

/// The sandbox's next token request is answered 429, `Retry-After: secs`.
fn bank_asks_once_to_wait(base: &str, secs: u32) {
    super::common::post_json(
        base,
        "/sandbox/faults",
        &format!(r#"{{"faults":["oauth2.token:429={secs},count=1"]}}"#),
    );
}

/// The sandbox's config, its `bank` provider sending one request at a time.
/// A WAIT line with its time left blanked. Two processes say the same wait
/// a moment apart, so the time left may have crossed a second ("1h 00m
/// more" then "59:59 more") while the rest must be the same.
fn time_left_aside(line: &str) -> String {
    match (line.find("Z ("), line.find(" more)")) {
        (Some(from), Some(to)) if from < to => {
            format!("{}Z (… more){}", &line[..from], &line[to + 6..])
        }
        _ => line.to_owned(),
    }
}

fn bank_one_at_a_time(config: &Path) {
    let text = std::fs::read_to_string(config).unwrap();
    let one_at_a_time = text.replacen(
        "[providers.bank]\n",
        "[providers.bank]\nmax_in_flight = 1\n",
        1,
    );
    assert_ne!(text, one_at_a_time, "the bank's table");
    std::fs::write(config, one_at_a_time).unwrap();
}

/// Due tokens of providers the configuration lacks are left out, said on
/// stderr, and the run exits 1: it said "nothing expiring" and exited 0,
/// and a cron job watched by its status let them lapse.
#[test]
fn refresh_due_with_due_rows_left_out_exits_1() {
    let (dir, config) = empty_config();
    let made = bankdeck(
        dir.path(),
        &config,
        &["generate", "--connections", "60", "--users", "6"],
    );
    assert!(made.status.success(), "{made:?}");
    let (code, out, err) = said(
        dir.path(),
        &config,
        &["refresh", "--due", "--within", "30d"],
    );
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("left out: their providers are not in the configuration"),
        "{err}"
    );
    assert!(
        out.starts_with("nothing refreshed: every connection due within"),
        "{out}"
    );
    let (code, out, _) = said(
        dir.path(),
        &config,
        &["refresh", "--due", "-q", "--within", "30d"],
    );
    assert_eq!(code, Some(1), "quiet or not: {out}");
}

/// A provider that answers `refresh --due` with 429 and asks for a short
/// wait gets the refused row again after it: every due row is refreshed
/// and the run exits 0. The refused row counted as failed, and its token
/// was left to lapse until the next run, though nothing had been spent.
#[test]
fn refresh_due_sends_a_row_refused_for_a_short_wait_again_after_it() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = three_app_tokens_one_at_a_time(dir.path());
    bank_asks_once_to_wait(&base, 2);
    let (code, out, err) = said(dir.path(), &config, &["refresh", "--due", "--within", "2h"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out.lines().last(),
        Some("refreshed 3 of 3 due within 2h"),
        "{out}"
    );
    let refused: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("refused for now"))
        .collect();
    assert_eq!(refused.len(), 1, "{out}");
    assert!(
        refused[0].contains("it asks to wait 2s; tried again after "),
        "{out}"
    );
    assert!(err.contains("bank asked for a pause ("), "{err}");
    let (_, audit, _) = said(dir.path(), &config, &["audit", "--op", "refresh", "--json"]);
    let lines: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    let ok = lines.iter().filter(|l| l["ok"] == true).count();
    assert_eq!(
        (lines.len(), ok),
        (4, 3),
        "the refusal and three refreshes: {audit}"
    );
}

/// A provider that answers `refresh --due` with 429 and asks for an hour
/// is sent nothing more by the run: the rows not sent are counted and the
/// run exits 1, since their tokens are left to lapse; the refused row is
/// one of them, its refusal told (nothing was spent on it; it was counted
/// as failed). It used to send every due row anyway, each one more request
/// the provider had asked not to get.
///
/// The wait holds every later process too, not only the one that heard
/// it: the next cron run, a hand `refresh N` and a script's `token` send
/// nothing, and `check` says when a refresh can go instead of advising one
/// the wait would only refuse. Each used to send at once.
#[test]
fn refresh_due_sends_nothing_more_to_a_provider_that_asks_for_an_hour() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = three_app_tokens_one_at_a_time(dir.path());
    bank_asks_once_to_wait(&base, 3600);
    let due = ["refresh", "--due", "--within", "2h"];
    let (code, out, err) = said(dir.path(), &config, &due);
    assert_eq!(code, Some(1), "{out}{err}");
    assert_eq!(
        out.lines().last(),
        Some("refreshed 0 of 3 due within 2h, 3 not sent"),
        "{out}"
    );
    assert!(
        out.starts_with("  1 app / bank: refused for now: ")
            && out.contains("it asks to wait 3600s; left for a run after ")
            && out.contains(", or for this one if the wait is lifted\n"),
        "{out}"
    );
    assert!(
        err.contains("bank asked for a longer pause than a bulk waits (")
            && err.contains("it asks to wait 3600s")
            && err.contains("this bulk sends it nothing more"),
        "{err}"
    );
    let (_, audit, _) = said(dir.path(), &config, &["audit", "--op", "refresh", "--json"]);
    let lines: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    assert_eq!(lines.len(), 1, "one request, one line: {audit}");

    // The sandbox answers again; the provider's hour has not passed.
    let (code, out, err) = said(dir.path(), &config, &due);
    assert_eq!(code, Some(1), "{out}{err}");
    assert_eq!(
        out.lines().last(),
        Some("refreshed 0 of 3 due within 2h, 3 not sent"),
        "{out}{err}"
    );
    let (code, out, err) = said(dir.path(), &config, &["refresh", "2"]);
    assert_ne!(code, Some(0), "{out}{err}");
    assert!(
        err.contains("not sent: bank asked to be sent nothing for ")
            && err.contains(" min more (")
            && err.contains("nothing was spent"),
        "{out}{err}"
    );
    let (code, out, err) = said(dir.path(), &config, &["token", "bank", "--user", "new"]);
    assert_ne!(code, Some(0), "{out}{err}");
    assert!(err.contains("bank asked to be sent nothing"), "{out}{err}");
    let (_, audit, _) = said(dir.path(), &config, &["audit", "--op", "refresh", "--json"]);
    let lines: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    assert_eq!(lines.len(), 1, "one request in all: {audit}");

    let (code, out, err) = said(dir.path(), &config, &["check", "--within", "2h"]);
    assert_eq!(code, Some(1), "{out}{err}");
    let wait = out.lines().nth(1).unwrap_or_default();
    assert!(
        wait.starts_with("WAIT: bank asked to be sent nothing until ")
            && (wait.contains(" (59:") || wait.contains(" (1h 00m"))
            && wait.contains("it asks to wait 3600s"),
        "{out}"
    );
    // The row whose refresh failed, and the two whose hour-long tokens end
    // before the wait does: nothing can renew them in time.
    let rows: Vec<&str> = out.lines().skip(2).collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(
        rows[1].contains("before bank's asked wait is over")
            && rows[1].ends_with("`bankdeck refresh 2` after it"),
        "{out}"
    );
    assert!(
        rows[0].ends_with(": `bankdeck refresh 1` once bank's asked wait is over, in 1h 00m")
            || rows[0].contains("` once bank's asked wait is over, in 59:"),
        "{out}"
    );
    let (_, json, _) = said(dir.path(), &config, &["check", "--within", "2h", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["waits"][0]["provider"], "bank", "{json}");
    let left = report["waits"][0]["secs_left"].as_i64().unwrap();
    // Held for the whole hour asked: a day is the most bankdeck waits.
    assert!((3500..=3600).contains(&left), "{json}");
    assert!(!wait.contains("at most"), "no cap to say: {wait}");
    // `status` says why its due rows stand still, on stderr: its table on
    // stdout stays one row a line for scripts.
    let (code, out, err) = said(dir.path(), &config, &["status"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        err.lines()
            .any(|l| time_left_aside(l) == time_left_aside(wait)),
        "the same WAIT line as check's: {err}"
    );
    assert!(!out.contains("WAIT"), "{out}");
}

/// An operator who knows the provider takes requests again lifts its
/// asked wait: `waits` lists it as `check` does, `waits lift` sets it aside
/// for every later process with an audit line, and a refresh goes at once.
/// Until then the only way past an hour's wait was to wait it out.
#[test]
fn waits_lists_a_provider_s_asked_wait_and_lift_sets_it_aside() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = three_app_tokens_one_at_a_time(dir.path());
    let (code, out, err) = said(dir.path(), &config, &["waits"]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "no provider asks for a wait now\n"),
        "{err}"
    );
    bank_asks_once_to_wait(&base, 3600);
    let (code, out, err) = said(dir.path(), &config, &["refresh", "2"]);
    assert_ne!(code, Some(0), "{out}{err}");

    let (code, out, err) = said(dir.path(), &config, &["waits"]);
    assert_eq!(code, Some(0), "{err}");
    let (_, checked, _) = said(dir.path(), &config, &["check", "--within", "2h"]);
    let wait = checked.lines().nth(1).unwrap_or_default();
    assert!(wait.starts_with("WAIT: bank asked"), "{checked}");
    assert!(wait.contains(" more): "), "{checked}");
    assert_eq!(
        out.lines().map(time_left_aside).collect::<Vec<_>>(),
        [time_left_aside(wait)],
        "check's line: {out}"
    );
    let (_, json, _) = said(dir.path(), &config, &["waits", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows[0]["provider"], "bank", "{json}");
    assert!(rows[0]["secs_left"].as_i64().unwrap() > 3500, "{json}");

    // Refused where nothing may change, and for a provider not configured.
    let (code, out, err) = said(
        dir.path(),
        &config,
        &["--readonly", "waits", "lift", "bank"],
    );
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("read-only"), "{err}");
    let (code, out, err) = said(dir.path(), &config, &["waits", "lift", "bnak"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("provider 'bnak' is not in the configuration (it has "),
        "{err}"
    );
    for (name, shown) in [("", "\"\""), ("\x1b[2J", "\"\\u{1b}[2J\"")] {
        let (code, out, err) = said(dir.path(), &config, &["waits", "lift", name]);
        assert_eq!(code, Some(2), "{out}{err}");
        assert!(
            err.contains(&format!(
                "{shown} cannot name a provider (one word of letters"
            )) && err.contains("the configuration has bank, "),
            "{err}"
        );
        assert!(!err.contains('\x1b'), "{err:?}");
    }
    let (code, out, err) = said(dir.path(), &config, &["refresh", "2"]);
    assert_ne!(code, Some(0), "still held: {out}{err}");

    let (code, out, err) = said(dir.path(), &config, &["waits", "lift", "bank"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.starts_with("lifted the wait bank asked for until ")
            && out.contains("it asks to wait 3600s")
            && out.contains("every bankdeck process sends to it again"),
        "{out}"
    );
    let (code, out, err) = said(dir.path(), &config, &["waits"]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "no provider asks for a wait now\n"),
        "{err}"
    );
    let (code, out, err) = said(dir.path(), &config, &["refresh", "2"]);
    assert_eq!(code, Some(0), "sent at once: {out}{err}");
    let (code, out, err) = said(dir.path(), &config, &["check", "--within", "2h"]);
    assert!(!out.contains("WAIT"), "{code:?} {out}{err}");
    let (code, out, _) = said(dir.path(), &config, &["waits", "lift", "bank"]);
    assert_eq!(code, Some(0), "lifting to be sure is no failure");
    assert_eq!(out, "bank asks for no wait now: nothing to lift\n");

    let (_, audit, _) = said(
        dir.path(),
        &config,
        &["audit", "--op", "lift_wait", "--json"],
    );
    let lines: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    assert_eq!(lines.len(), 1, "one lift, one line: {audit}");
    let message = lines[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("lifted bank's asked wait, which held until ")
            && message.contains("it asks to wait 3600s"),
        "{message}"
    );
    assert!(!lines[0]["actor"].as_str().unwrap().is_empty(), "{audit}");

    // A 429 after the lift asks for the wait anew.
    bank_asks_once_to_wait(&base, 60);
    let (code, _, _) = said(dir.path(), &config, &["refresh", "2"]);
    assert_ne!(code, Some(0));
    let (_, out, _) = said(dir.path(), &config, &["waits"]);
    assert!(
        out.starts_with("WAIT: bank asked to be sent nothing until "),
        "{out}"
    );
}

/// `refresh --due | head -0`: the first failure it prints meets the closed
/// pipe while other refreshes are out. The run goes on, writes what each
/// answer brought, and only then ends as the pipe says (141). It used to
/// end at once, and a token the provider rotated in an answer still out
/// was lost; a full disk under a cron job's log did the same.
#[test]
fn refresh_due_whose_output_is_gone_finishes_what_it_sent() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    three_app_tokens(dir.path(), &config);
    // One failing at once (a 500: a 503 asks for a wait, and goes again),
    // the other two answered a while later.
    super::common::post_json(
        &base,
        "/sandbox/faults",
        r#"{"faults":["oauth2.token:500,count=1","oauth2.token:latency=1500,count=2"]}"#,
    );
    let args = ["refresh", "--due", "--within", "2h"];
    let out = with_a_closed_pipe(dir.path(), &config, &args, Closed::Stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{err}");
    let (_, audit, _) = said(dir.path(), &config, &["audit", "--op", "refresh", "--json"]);
    let lines: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    let ok = lines.iter().filter(|l| l["ok"] == true).count();
    assert_eq!((lines.len(), ok), (3, 2), "every answer written: {audit}");
    // Standard output on a full disk: the same, then an error that says so.
    super::common::post_json(
        &base,
        "/sandbox/faults",
        r#"{"faults":["oauth2.token:500,count=1","oauth2.token:latency=1500,count=2"]}"#,
    );
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = command(dir.path(), &config, &args)
        .stdout(full)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot write to standard output"), "{err}");
    let (_, audit, _) = said(dir.path(), &config, &["audit", "--op", "refresh", "--json"]);
    let lines: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    let ok = lines.iter().filter(|l| l["ok"] == true).count();
    assert_eq!((lines.len(), ok), (6, 4), "every answer written: {audit}");
}

/// `refresh --due`, as cron runs it: every connection due in the window in
/// one run, each failure named and the reasons counted under the total,
/// exit 1 when any failed, nothing sent when nothing is due or the run is
/// read-only.
#[test]
fn refresh_due_takes_every_due_connection_and_names_each_failure_and_reason() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    let run = |args: &[&str]| said(dir.path(), &config, args);
    three_app_tokens(dir.path(), &config);

    // Hour-long tokens are not due within the config's two minutes.
    let (code, said, _) = run(&["refresh", "--due"]);
    assert_eq!(code, Some(0));
    assert_eq!(said, "nothing expiring within 2m or expired to refresh\n");
    let (code, _, err) = run(&["--readonly", "refresh", "--due", "--within", "2h"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("read-only mode: nothing was refreshed"),
        "{err}"
    );

    let (code, said, err) = run(&["refresh", "--due", "--within", "2h"]);
    assert_eq!(
        (code, said.as_str()),
        (Some(0), "refreshed 3 of 3 due within 2h\n"),
        "{err}"
    );
    // The dashboard's filter, as `R` takes the rows shown: one user's row
    // alone, and a filter that keeps none is an error, not "nothing due".
    let (code, said, err) = run(&["refresh", "--due", "--within", "2h", "--matching", "CRON"]);
    assert_eq!(
        (code, said.as_str()),
        (Some(0), "refreshed 1 of 1 matching 'CRON' due within 2h\n"),
        "{err}"
    );
    let (code, said, _) = run(&["refresh", "--due", "--matching", "bank"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        said,
        "nothing matching 'bank' expiring within 2m or expired to refresh\n"
    );
    let (code, said, err) = run(&["refresh", "--due", "--matching", "nobody"]);
    assert_eq!((code, said.as_str()), (Some(2), ""), "{err}");
    assert!(
        err.contains("no connection of 3 matches 'nobody'")
            && err.contains("nothing was refreshed"),
        "{err}"
    );
    let (code, _, err) = run(&["refresh", "--matching", "cron"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--due"), "{err}");
    // Quiet, as cron runs it: nothing printed when nothing was due or all
    // went well, since cron mails whatever a job prints.
    for args in [&["--quiet"][..], &["-q", "--within", "2h"]] {
        let (code, said, err) = run(&[&["refresh", "--due"], args].concat());
        assert_eq!(
            (code, said.as_str(), err.as_str()),
            (Some(0), "", ""),
            "{args:?}"
        );
    }

    // The provider fails `n` token requests: each is named, exit 1.
    let turned_away = |n: usize| {
        super::common::post_json(
            &base,
            "/sandbox/faults",
            &format!(r#"{{"faults":["oauth2.token:500,count={n}"]}}"#),
        );
        let (code, said, err) = run(&["refresh", "--due", "--within", "2h"]);
        assert_eq!(code, Some(1), "{said}{err}");
        said
    };
    let said = turned_away(1);
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.len(), 2, "{said}");
    assert!(
        lines[0].contains(" / bank: refresh failed:") && lines[0].contains("500"),
        "{said}"
    );
    assert_eq!(lines[1], "refreshed 2 of 3 due within 2h, 1 failed");
    // A failure is said quiet or not.
    super::common::post_json(
        &base,
        "/sandbox/faults",
        r#"{"faults":["oauth2.token:500,count=1"]}"#,
    );
    let (code, quiet, _) = run(&["refresh", "--due", "--within", "2h", "--quiet"]);
    assert_eq!(code, Some(1));
    assert_eq!(quiet.lines().nth(1), Some(lines[1]), "{quiet}");

    // Two for the same reason: the count is followed by the reason, once,
    // with how many it stopped.
    let said = turned_away(2);
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.len(), 4, "{said}");
    let reason = |line: &str| line.split_once("refresh failed: ").unwrap().1.to_owned();
    assert_eq!(reason(lines[0]), reason(lines[1]), "{said}");
    assert_eq!(lines[2], "refreshed 1 of 3 due within 2h, 2 failed");
    assert_eq!(lines[3], format!("  2× {}", reason(lines[0])));

    let (code, _, err) = run(&["refresh", "--within", "2h"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--within is the window of --due"), "{err}");
    let (code, _, err) = run(&["refresh"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("or refresh every one due with `refresh --due`"),
        "{err}"
    );
}

/// `refresh --due`'s count keeps apart what was not a refresh that failed:
/// a due row whose provider the config does not name is left out (exit 1:
/// its token lapses), and a row another process logged out while this run
/// waited for its lease ended meanwhile (exit 0: nothing is left to lapse).
#[test]
fn refresh_due_counts_rows_left_out_and_ended_meanwhile_apart() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    let lena = logged_in(dir.path(), &config);
    three_app_tokens(dir.path(), &config);
    let due = ["refresh", "--due", "--within", "2h"];

    // The same config without Everifin's table, beside it for its secrets.
    let text = std::fs::read_to_string(&config).unwrap();
    let without: Vec<&str> = (text.split("\n[providers."))
        .filter(|table| !table.starts_with("everifin]"))
        .collect();
    let no_everifin = config.with_file_name("no-everifin.toml");
    std::fs::write(&no_everifin, without.join("\n[providers.")).unwrap();
    let (code, out, err) = said(dir.path(), &no_everifin, &due);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("1 due connection left out: their providers are not in the configuration"),
        "{err}"
    );
    assert_eq!(out, "refreshed 3 of 3 due within 2h, 1 left out\n", "{err}");

    hold(&base, "oidc.logout", 4000, 1);
    let logout = command(dir.path(), &config, &["logout", &lena, "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(busy_with(dir.path(), &config, &lena)["pid"], logout.id());
    let (code, out, err) = said(dir.path(), &config, &due);
    assert!(logout.wait_with_output().unwrap().status.success());
    assert_eq!(code, Some(0), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(&format!(
            "  {lena} lena / everifin: not refreshed, ended meanwhile"
        )),
        "{out}"
    );
    assert_eq!(
        lines[1],
        "refreshed 3 of 4 due within 2h, 1 ended meanwhile"
    );
}

/// The binary run with `args`, sent `signal` 1.5 s in (`INT` as Ctrl-C on a
/// terminal does, `TERM` as `timeout` does; its request, which the sandbox
/// holds 4 s, is out by then), and waited for.
fn interrupted(dir: &Path, config: &Path, args: &[&str], signal: &str) -> Output {
    let child = command(dir, config, args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    self::signal(&child, signal);
    child.wait_with_output().unwrap()
}

/// `bankdeck login everifin` for `user` started, its URL printed; the rest
/// of its error output, with what it said before the URL, is read into
/// the returned thread.
fn login_started(
    dir: &Path,
    config: &Path,
    user: &str,
) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
    login_with(
        dir,
        config,
        &["login", "everifin", "--user", user, "--no-browser"],
    )
}

/// [`login_started`] with the command's arguments as given.
fn login_with(
    dir: &Path,
    config: &Path,
    args: &[&str],
) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
    use std::io::{BufRead, Read};
    let mut login = command(dir, config, args)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(login.stderr.take().unwrap());
    let mut before = String::new();
    let url = loop {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "the login prints its URL"
        );
        if line.trim().starts_with("http") {
            break line.trim().to_owned();
        }
        before.push_str(&line);
    };
    let rest = std::thread::spawn(move || {
        let mut rest = before;
        err.read_to_string(&mut rest).unwrap();
        rest
    });
    (login, url, rest)
}

/// The test as the browser: the sandbox consents and redirects to bankdeck.
fn consent(url: &str) -> std::process::Child {
    Command::new("curl")
        .args(["-sfL", url])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The connection id that a `logged in` or `token issued` line names.
fn named_id(said: &str) -> String {
    said.split("connection ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the output names its connection")
        .to_owned()
}

/// The sandbox at `base` told to hold its answer to the next `count`
/// requests on `route` for `ms`.
fn hold(base: &str, route: &str, ms: u32, count: u32) {
    super::common::post_json(
        base,
        "/sandbox/faults",
        &format!(r#"{{"faults":["{route}:latency={ms},count={count}"]}}"#),
    );
}

/// `lena`'s connection at `everifin`, logged in through the real binary
/// with the test as the browser; its id as `status` shows it.
fn logged_in(dir: &Path, config: &Path) -> String {
    let (login, url, _) = login_started(dir, config, "lena");
    assert!(consent(&url).wait().unwrap().success());
    let logged = login.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&logged.stdout).into_owned();
    assert!(logged.status.success(), "{said}");
    // `lena` was new: the login added her, and says so.
    assert!(said.starts_with("added user lena (id "), "{said}");
    named_id(&said)
}

fn signal(child: &std::process::Child, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// `child`'s end, or a failure if it has not ended within 20 s (it is
/// killed then, so that the test ends).
fn ended_soon(mut child: std::process::Child) -> Output {
    let began = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if began.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("still running 20 s after the signal");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Ctrl-C while a login waits for the browser ends it at once: nothing was
/// sent, so there is nothing to wait for (the login would wait five
/// minutes), and the user it named is not added.
#[test]
fn ctrl_c_while_a_login_waits_for_the_browser_ends_it_at_once() {
    let dir = super::common::private_dir();
    let (_sandbox, _, config) = sandbox_with_config(dir.path());
    let (login, _url, rest) = login_started(dir.path(), &config, "zed");
    signal(&login, "INT");
    let out = ended_soon(login);
    let err = rest.join().unwrap();
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("no user 'zed' yet: the login adds it once it completes"),
        "{err}"
    );
    assert!(
        err.contains("Ctrl-C: nothing more is sent\n")
            && err.contains("login stopped while it waited for the browser: nothing was sent"),
        "{err}"
    );
    assert!(!err.contains("waiting for the requests"), "{err}");
    let users = bankdeck(dir.path(), &config, &["users", "list"]);
    assert!(!String::from_utf8_lossy(&users.stdout).contains("zed"));
}

/// Ctrl-C while the code a login brought back is being redeemed waits for
/// the tokens the provider issues and writes them: the connection is there
/// and refreshes.
#[test]
fn ctrl_c_while_a_login_code_is_redeemed_keeps_the_tokens() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    hold(&base, "oidc.token", 4000, 1);
    let (login, url, rest) = login_started(dir.path(), &config, "zed");
    let browser = consent(&url);
    // The callback has come and the redemption is out by then.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    signal(&login, "INT");
    let out = ended_soon(login);
    let (said, err) = (String::from_utf8_lossy(&out.stdout), rest.join().unwrap());
    assert_eq!(out.status.code(), Some(0), "{said}{err}");
    assert!(
        err.contains("Ctrl-C: nothing more is sent; waiting for the requests already sent"),
        "{err}"
    );
    assert!(
        said.starts_with("added user zed (id 1)\nlogged in"),
        "{said}"
    );
    assert!(browser.wait_with_output().unwrap().status.success());

    let again = bankdeck(dir.path(), &config, &["refresh", &named_id(&said)]);
    assert!(again.status.success(), "{again:?}");
}

/// SIGTERM, or SIGHUP (an SSH session that dropped), while an app token is
/// asked for waits for it and writes it. SIGHUP used to end the command at
/// once, and the answer with it.
#[test]
fn sigterm_or_sighup_while_an_app_token_is_asked_for_keeps_it() {
    for (signal, user) in [("TERM", "app"), ("HUP", "batch")] {
        let dir = super::common::private_dir();
        let (_sandbox, base, config) = sandbox_with_config(dir.path());
        hold(&base, "oauth2.token", 4000, 1);
        let args = ["token", "bank", "--user", user];
        let out = interrupted(dir.path(), &config, &args, signal);
        let said = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{signal}: {said}{err}");
        let heard = format!("SIG{signal}: nothing more is sent");
        assert!(err.contains(&heard), "{err}");
        assert!(said.contains("\ntoken issued"), "{said}");
        let status = bankdeck(dir.path(), &config, &["status", "--json"]);
        let rows: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        let id: i64 = named_id(&said).parse().unwrap();
        let row = rows.as_array().unwrap().iter().find(|r| r["id"] == id);
        assert!(
            row.is_some_and(|r| r["user"] == user && r["state"] == "active"),
            "{signal}: {rows}"
        );
    }
}

/// A second Ctrl-C abandons a refresh whose request is out, saying what
/// that may cost, and the audit log has a line for it: nothing else would
/// record it, and a later "re-consent required" is read against it. It
/// exits 130, as a command a signal stopped, not 2, a broken set-up's.
#[test]
fn a_second_ctrl_c_abandons_a_sent_refresh_and_the_audit_log_says_so() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    let (code, issued, err) = said(dir.path(), &config, &["token", "bank", "--user", "app"]);
    assert_eq!(code, Some(0), "{err}");
    let id = named_id(&issued);
    hold(&base, "oauth2.token", 5000, 1);
    let child = command(dir.path(), &config, &["refresh", &id])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    signal(&child, "INT");
    std::thread::sleep(std::time::Duration::from_millis(300));
    signal(&child, "INT");
    let out = ended_soon(child);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("abandoned with requests in flight"), "{err}");
    let (_, audit, _) = said(
        dir.path(),
        &config,
        &["audit", "--connection", &id, "--json"],
    );
    let lines: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    let newest = &lines[0];
    assert_eq!(
        (&newest["op"], &newest["ok"]),
        (&"refresh".into(), &false.into()),
        "{audit}"
    );
    let message = newest["message"].as_str().unwrap();
    assert!(
        message.starts_with("refresh abandoned after its request was sent"),
        "{message}"
    );
    // The row says it too, where the table, `status` and `check` read.
    let (_, status, _) = said(dir.path(), &config, &["status", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&status).unwrap();
    let row = (rows.iter())
        .find(|r| r["id"].as_u64().map(|n| n.to_string()) == Some(id.clone()))
        .unwrap();
    assert_eq!(row["last_error"].as_str(), Some(message), "{status}");
    assert_eq!(
        (&row["last_op"]["op"], &row["last_op"]["ok"]),
        (&"refresh".into(), &false.into()),
        "{status}"
    );
}

/// `users disconnect` ends every connection of a user who leaves: Dapi
/// links delinked (a pending code exchanged first), the OIDC consent logged
/// out. Not on a terminal it wants `--yes`; a failure leaves the rest done,
/// says so, exits 1, and a second run ends what is left.
#[test]
fn users_disconnect_ends_every_connection_of_a_user_who_leaves() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    let oidc = logged_in(dir.path(), &config);
    let run = |args: &[&str]| {
        let out = bankdeck(dir.path(), &config, args);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let link = || link_dapi(dir.path(), &config, &base, "lena");
    let exchanged = link();
    assert_eq!(run(&["exchange", &exchanged]).0, Some(0));
    let pending = link();
    let states = || {
        let (_, json, _) = run(&["status", "--json", "lena"]);
        let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        let mut states: Vec<String> = (rows.iter())
            .map(|r| format!("{} {}", r["id"], r["state"].as_str().unwrap()))
            .collect();
        states.sort();
        states.join(", ")
    };
    let before = states();
    let (code, _, err) = run(&["--readonly", "users", "disconnect", "lena", "--yes"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("read-only mode: nothing was ended"), "{err}");
    let (code, _, err) = run(&["users", "disconnect", "lena"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("disconnect lena: end 3 connections needs --yes"),
        "{err}"
    );
    assert_eq!(states(), before, "nothing changed");

    // The pending code's exchange fails once: the others end all the same.
    super::common::post_json(
        &base,
        "/sandbox/faults",
        r#"{"faults":["dapi.exchange:500,count=1"]}"#,
    );
    let holds = |said: &str, lines: &[String]| {
        for line in lines {
            assert!(said.contains(line.as_str()), "{line:?} in {said}");
        }
    };
    let (code, said, _) = run(&["users", "disconnect", "lena", "--yes"]);
    assert_eq!(code, Some(1), "{said}");
    holds(
        &said,
        &[
            format!("  {exchanged} lena / dapi: delinked\n"),
            format!(
                "  {pending} lena / dapi: delink failed: the pending code's exchange failed, \
                 so nothing was delinked: "
            ),
            format!("  {oidc} lena / everifin: logged out (access valid "),
            "\n1 connection not ended: `bankdeck status lena` shows where each stands; \
             run it again once fixed\n"
                .to_owned(),
        ],
    );
    let (code, said, _) = run(&["users", "disconnect", "lena", "--yes"]);
    assert_eq!(code, Some(0), "{said}");
    holds(
        &said,
        &[
            format!("  {exchanged} lena / dapi: already delinked\n"),
            format!("  {pending} lena / dapi: exchanged, then delinked\n"),
            format!("  {oidc} lena / everifin: already logged out\n"),
        ],
    );
    assert!(said.ends_with("lena: every connection ended\n"), "{said}");
    let states = states();
    assert_eq!(states.matches("delinked").count(), 2, "{states}");
    assert_eq!(states.matches("logged_out").count(), 1, "{states}");

    let (code, said, _) = run(&["users", "disconnect", "lena"]);
    assert_eq!(code, Some(0), "nothing to confirm: {said}");
    assert!(
        said.starts_with("lena holds 3 connections, none to end\n"),
        "{said}"
    );
    let (code, _, err) = run(&["users", "disconnect", "nobody", "--yes"]);
    assert_eq!(code, Some(2));
    assert!(err.contains(r#"no user named "nobody""#), "{err}");
    let (code, _, err) = run(&["users", "disconnect", "LENA", "--yes"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains(r#"no user named "LENA": did you mean "lena"?"#),
        "{err}"
    );
}

/// A Connect payload minted by the sandbox at `base`, linked for `user`
/// through the real binary; the new connection's id.
fn link_dapi(dir: &Path, config: &Path, base: &str, user: &str) -> String {
    link_dapi_as(dir, config, base, user, |_| ())
}

/// [`link_dapi`] of the payload as `change` leaves it.
fn link_dapi_as(
    dir: &Path,
    config: &Path,
    base: &str,
    user: &str,
    change: impl FnOnce(&mut serde_json::Value),
) -> String {
    let minted = Command::new("curl")
        .args(["-sf", "-XPOST", &format!("{base}/sandbox/connect")])
        .output()
        .unwrap();
    assert!(minted.status.success());
    let mut payload: serde_json::Value = serde_json::from_slice(&minted.stdout).unwrap();
    change(&mut payload);
    let file = dir.join("payload.json");
    std::fs::write(&file, payload.to_string()).unwrap();
    let args = [
        "link",
        "dapi",
        "--user",
        user,
        "--payload",
        file.to_str().unwrap(),
    ];
    let out = bankdeck(dir, config, &args);
    assert!(out.status.success(), "{out:?}");
    named_id(&String::from_utf8_lossy(&out.stdout))
}

/// `delink` of a code still pending exchanges it first, since only its
/// token ends Dapi's side of the link, and says so; a failed exchange
/// delinks nothing.
#[test]
fn delink_of_a_pending_code_exchanges_it_first() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    let id = link_dapi(dir.path(), &config, &base, "omar");
    // Refreshed, a pending code says what it needs instead.
    let (code, _, err) = said(dir.path(), &config, &["refresh", &id]);
    assert_eq!(code, Some(1), "{err}");
    let needs = format!("exchanged, not refreshed: `bankdeck exchange {id}`");
    assert!(err.contains(&needs), "{err}");
    let delink = || bankdeck(dir.path(), &config, &["delink", &id, "--yes"]);
    super::common::post_json(
        &base,
        "/sandbox/faults",
        r#"{"faults":["dapi.exchange:500,count=1"]}"#,
    );
    let out = delink();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the pending code's exchange failed, so nothing was delinked"),
        "{err}"
    );
    let out = delink();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(
        said.starts_with(&format!("exchanged, then delinked: connection {id} ")),
        "{said}"
    );
    assert!(said.trim_end().ends_with("delinked"), "{said}");
    assert_eq!(said.lines().count(), 1, "{said}");

    // A code Dapi never issued is refused: nothing was exchanged, and the
    // row is closed without a call, alone or as its user is disconnected.
    let never_issued = |p: &mut serde_json::Value| p["accessCode"] = "never-issued-by-dapi".into();
    for (user, args) in [
        ("zoe", &["delink", "{id}", "--yes"][..]),
        ("max", &["users", "disconnect", "max", "--yes"]),
    ] {
        let id = link_dapi_as(dir.path(), &config, &base, user, never_issued);
        let args: Vec<&str> = (args.iter())
            .map(|a| if *a == "{id}" { id.as_str() } else { a })
            .collect();
        let (code, out, err) = self::said(dir.path(), &config, &args);
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(
            out.contains("code not exchanged (Dapi refused the access code")
                && out.contains("), so closed without a call to Dapi"),
            "{out}"
        );
        assert!(!out.contains("exchanged, then"), "{out}");
    }
}

/// A sandbox and its config, `lena`'s rotating `everifin` connection (its
/// id), and the sandbox told to hold the next token request for `ms`.
fn held_refresh(dir: &Path, ms: u32) -> (Running, std::path::PathBuf, String) {
    let (sandbox, base, config) = sandbox_with_config(dir);
    let id = logged_in(dir, &config);
    hold(&base, "oidc.token", ms, 1);
    (sandbox, config, id)
}

/// A Ctrl-C while a refresh's request is out waits for the answer and writes
/// it: the provider rotated the refresh token, and the old one is spent. The
/// next refresh works only if the new one was kept.
#[test]
fn ctrl_c_during_a_refresh_keeps_the_token_the_provider_rotated() {
    let dir = super::common::private_dir();
    let (_sandbox, config, id) = held_refresh(dir.path(), 4000);
    let out = interrupted(dir.path(), &config, &["refresh", &id], "INT");
    let (said, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{said}{err}");
    assert!(said.starts_with("refresh done"), "{said}");
    assert!(err.contains("Ctrl-C: nothing more is sent"), "{err}");

    let again = bankdeck(dir.path(), &config, &["refresh", &id]);
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// Another process holds the store's write lock past the busy timeout
/// while a refresh's request is out (a long script, a backup, `sqlite3` left
/// in a transaction). The provider's rotated token is kept in memory and
/// written once the lock is gone, and the operator is told meanwhile; the
/// next refresh works only if it was.
#[test]
fn a_refresh_outlasts_another_process_holding_the_store() {
    let dir = super::common::private_dir();
    let (_sandbox, config, id) = held_refresh(dir.path(), 1500);
    let refresh = command(dir.path(), &config, &["refresh", &id])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the lease is taken the request goes out, and the sandbox holds
    // its answer 1.5 s: the lock is taken before the answer can be written
    // (a fixed sleep could instead lock out the lease on a slow start).
    let other = rusqlite::Connection::open(dir.path().join("data/bankdeck.db")).unwrap();
    let leased = || -> bool {
        other
            .query_row(
                "SELECT lease_holder IS NOT NULL FROM connections WHERE id = ?1",
                [id.parse::<i64>().unwrap()],
                |r| r.get(0),
            )
            .unwrap()
    };
    let began = std::time::Instant::now();
    while !leased() {
        assert!(
            began.elapsed().as_secs() < 30,
            "the refresh never took its lease"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    // Past the store's 5 s busy timeout, so the first write fails.
    std::thread::sleep(std::time::Duration::from_secs(7));
    other.execute_batch("ROLLBACK").unwrap();
    let out = refresh.wait_with_output().unwrap();
    let (said, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{said}{err}");
    assert!(said.starts_with("refresh done"), "{said}");
    assert!(
        err.contains(&format!(
            "the refresh of connection {id} (lena at everifin) is done at the provider but not \
             written yet"
        )) && err.contains("busy"),
        "{err}"
    );

    let again = bankdeck(dir.path(), &config, &["refresh", &id]);
    assert!(again.status.success(), "{again:?}");
}

/// `refresh --due` over three app tokens whose requests the sandbox holds
/// 4 s, sent one at a time or all at once, and SIGTERM 1.5 s in; the
/// config is returned for what the caller reads after.
fn refresh_due_terminated(dir: &Path, one_at_a_time: bool) -> (Output, std::path::PathBuf) {
    let (_sandbox, base, config) = sandbox_with_config(dir);
    if one_at_a_time {
        bank_one_at_a_time(&config);
    }
    three_app_tokens(dir, &config);
    hold(&base, "oauth2.token", 4000, 3);
    let args = ["refresh", "--due", "--within", "2h"];
    (interrupted(dir, &config, &args, "TERM"), config)
}

/// A SIGTERM (`timeout` under cron) during `refresh --due` lets the request
/// out finish and sends no more, as Ctrl-C does; the count says how many
/// were not sent, and the exit code is 130.
#[test]
fn sigterm_during_refresh_due_finishes_what_was_sent_and_sends_no_more() {
    let dir = super::common::private_dir();
    // One request at a time, so that the others are still waiting.
    let (out, config) = refresh_due_terminated(dir.path(), true);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        said,
        "stopped: refreshed 1 of 3 due within 2h, 2 not sent\n"
    );
    let audit = bankdeck(dir.path(), &config, &["audit", "--json"]);
    let lines: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    let refreshes = lines
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["op"] == "refresh")
        .count();
    assert_eq!(refreshes, 1, "{lines}");
}

/// A SIGTERM while every due row's request is already out stops nothing:
/// each is answered and written, and the run ends as any other, exit 0,
/// where it said "stopped" and exited 130 with nothing left undone.
#[test]
fn sigterm_after_every_due_request_is_out_stops_nothing() {
    let dir = super::common::private_dir();
    let (out, _) = refresh_due_terminated(dir.path(), false);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        (out.status.code(), said.as_ref()),
        (Some(0), "refreshed 3 of 3 due within 2h\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A line of `audit` or `check` says whose connection it was (`user /
/// label`), as `status` names it, and `status` shows the label the filter
/// reads.
#[test]
fn audit_check_and_status_name_the_user_and_bank_of_each_connection() {
    let (dir, config) = empty_config();
    let run = |args: &[&str]| {
        let out = bankdeck(dir.path(), &config, args);
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {said}");
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["generate", "--connections", "30", "--users", "6"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&run(&["status", "--json"])).unwrap();
    let name = |id: i64| {
        let row = rows.iter().find(|r| r["id"] == id).unwrap();
        let field = |f: &str| row[f].as_str().unwrap().to_string();
        (field("user"), field("label"))
    };

    let audit = run(&["audit", "--limit", "100"]);
    let mut named = 0;
    for line in audit.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Ok(id) = fields[2].parse::<i64>() else {
            // A line about no connection names no one.
            assert_eq!(fields[2..4], ["-", "add_user"], "{line}");
            continue;
        };
        let (user, label) = name(id);
        assert!(line.contains(&format!(" {id} {user} / {label} ")), "{line}");
        named += 1;
    }
    assert_eq!(named, 30, "one line per connection generated:\n{audit}");

    let out = bankdeck(dir.path(), &config, &["check", "--within", "10m"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a generated store has rows to act on"
    );
    let check = String::from_utf8(out.stdout).unwrap();
    let provider = |id: i64| {
        let row = rows.iter().find(|r| r["id"] == id).unwrap();
        row["provider"].as_str().unwrap().to_string()
    };
    for line in check.lines().skip(1) {
        let id: i64 = line.split_whitespace().next().unwrap().parse().unwrap();
        let (user, label) = name(id);
        // The provider in brackets, unless the label is its name.
        let named = match provider(id) {
            p if p == label => format!("{id} {user} / {label}: "),
            p => format!("{id} {user} / {label} ({p}): "),
        };
        assert!(line.contains(&named), "{line}");
    }

    let status = run(&["status"]);
    assert!(status.lines().next().unwrap().contains("LABEL"), "{status}");
    for line in status.lines().skip(1) {
        let id: i64 = line.split_whitespace().next().unwrap().parse().unwrap();
        let (user, label) = name(id);
        assert!(line.contains(&format!("{user}  ")), "{line}");
        assert!(line.contains(&label), "{line}");
    }
}

/// An email that cannot be one is refused with what to write, and no user
/// is added; a good one is kept without the spaces around it.
#[test]
fn users_add_refuses_an_email_that_is_not_one() {
    let (dir, config) = empty_config();
    let run = |args: &[&str]| bankdeck(dir.path(), &config, args);
    let out = run(&["users", "add", "zoe", "--email", "zoe.example.com"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("name@example.com"), "{err}");
    let out = run(&["users", "add", "zoe", "--email", " zoe@example.com "]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = String::from_utf8(run(&["users", "list"]).stdout).unwrap();
    assert_eq!(list, "ID  USER  EMAIL\n 1  zoe   zoe@example.com\n");
}

/// `users remove` takes away a user added by mistake, with an audit line,
/// and refuses one whose connections' history names them, one in another
/// case (naming the right one), and any change read-only.
#[test]
fn users_remove_takes_only_a_user_without_connections() {
    let (dir, config) = empty_config();
    let run = |args: &[&str]| {
        let out = bankdeck(dir.path(), &config, args);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, _, err) = run(&["generate", "--connections", "4", "--users", "2"]);
    assert_eq!(code, Some(0), "{err}");
    let (_, list, _) = run(&["users", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let holder = list[0]["name"].as_str().unwrap().to_owned();
    run(&["users", "add", "amria"]);
    let (code, _, err) = run(&["users", "remove", &holder]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("{holder} holds ")) && err.contains(" connection"),
        "{err}"
    );
    assert!(
        err.contains("only a user with no connection can be removed"),
        "{err}"
    );
    let (code, _, err) = run(&["users", "remove", "AMRIA"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(r#"did you mean "amria"?"#), "{err}");
    let (code, _, err) = run(&["--readonly", "users", "remove", "amria"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("read-only"), "{err}");
    let (code, said, err) = run(&["users", "remove", "amria"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(said.starts_with("removed user amria (id "), "{said}");
    let (_, list, _) = run(&["users", "list"]);
    assert!(!list.contains("amria") && list.contains(&holder), "{list}");
    let (_, audit, _) = run(&["audit", "--json"]);
    let audit: serde_json::Value = serde_json::from_str(&audit).unwrap();
    assert_eq!(audit[0]["op"], "remove_user", "{audit}");
    assert_eq!(audit[0]["message"], "user amria removed", "{audit}");
}

/// A first run, with no config file yet: `config check` says where it
/// looked, so the newcomer knows where to create one.
#[test]
fn config_check_without_a_file_names_where_it_looked() {
    let dir = super::common::private_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_bankdeck"))
        .args(["config", "check"])
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("conf"))
        .env_remove("BANKDECK_CONFIG")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    let looked = dir.path().join("conf/bankdeck/config.toml");
    assert!(
        said.contains(&format!("config: none at {}", looked.display())),
        "{said}"
    );
}

/// A login refused before the browser step (an unknown provider, a name
/// no user may have) says why, and not that it will add the user.
#[test]
fn a_refused_login_does_not_announce_a_new_user() {
    // Never asked: both logins are refused before anything is sent.
    let (dir, config) = config_with(
        "[providers.idp]\nkind = \"oidc\"\nissuer = \"https://id.example/realms/x\"\nclient_id = \"c\"\n",
    );
    for (provider, user, why) in [
        (
            "nosuch",
            "newbie",
            "provider 'nosuch' is not in the configuration (it has idp)",
        ),
        ("idp", "tab\there", "a user name must be"),
    ] {
        let out = bankdeck(
            dir.path(),
            &config,
            &["login", provider, "--user", user, "--no-browser"],
        );
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{said}");
        assert!(said.contains(why), "{said}");
        assert!(!said.contains("no user"), "{said}");
    }
}

/// `config check` says what the screen would say of a `[keys]` entry it
/// cannot apply, instead of passing the file as if every key were bound.
#[test]
fn config_check_reports_key_overrides_the_screen_would_skip() {
    let (dir, config) =
        config_with("[keys]\nrefresh = \"ctrl-r\"\nnonsense = \"x\"\ndelink = \"ctrl-\"\n");
    let out = bankdeck(dir.path(), &config, &["config", "check"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.ends_with("ACTION: 2 [keys] problems\n"), "{said}");
    assert!(said.contains("keys: 3 overrides\n"), "{said}");
    assert!(
        said.contains("  warning: [keys] nonsense = \"x\": no action named 'nonsense'\n"),
        "{said}"
    );
    assert!(
        said.contains("  warning: [keys] delink = \"ctrl-\": "),
        "{said}"
    );
    assert_eq!(said.matches("warning:").count(), 2, "{said}");
}

/// A listing that prints nothing says why on stderr (`status` with no
/// connections yet, once, whatever the filter; `audit` in the words of its
/// query), and a connection id that names no connection is an error, not
/// an empty history.
#[test]
fn an_empty_listing_says_why() {
    let (dir, config) = empty_config();
    let added = bankdeck(dir.path(), &config, &["users", "add", "amira"]);
    assert!(added.status.success(), "{added:?}");
    let out = bankdeck(dir.path(), &config, &["audit", "--connection", "99"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no connection 99: see `bankdeck status`"),
        "{err}"
    );
    let out = bankdeck(dir.path(), &config, &["audit", "--failed"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(err, "no failed operation\n");
    let out = bankdeck(dir.path(), &config, &["audit", "--failed", "--json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    assert!(out.stderr.is_empty(), "{out:?}");
    for args in [&["status"][..], &["status", "fab"][..]] {
        let out = bankdeck(dir.path(), &config, args);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "no connections yet: `bankdeck link dapi` or `bankdeck login` adds one\n",
            "{args:?}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
}

/// The commands that make the store on first use (`users add`, `link`,
/// `login`, `token`) refuse a bad name, a provider of the wrong kind or an
/// unreadable payload before there is a store or a key: a typo left neither
/// behind, and `status` went on saying there was something stored.
#[test]
fn a_refused_first_command_makes_no_store() {
    let (dir, config) = config_with(
        "[providers.bank]\nkind = \"oauth2\"\ntoken_url = \"https://bank.example/token\"\n\
         client_id = \"c\"\nclient_secret = \"env:BANKDECK_TEST_CS\"\n\
         [providers.dapi]\nkind = \"dapi\"\nbase_url = \"https://api.dapi.example\"\n\
         app_secret = \"env:BANKDECK_TEST_CS\"\n",
    );
    let payload = dir.path().join("payload.json");
    std::fs::write(&payload, "{}").unwrap();
    let payload = payload.to_str().unwrap();
    let cases: [(&[&str], &str); 9] = [
        (&["users", "add", " "], "a user name must be 1 to 200"),
        (
            &["users", "add", "amira", "--email", "amira"],
            "an email must read like",
        ),
        (
            &["login", "bank", "--user", "", "--no-browser"],
            "a user name must",
        ),
        (
            &["login", "dapi", "--user", "amira", "--no-browser"],
            "no browser login",
        ),
        (&["token", "dapi"], "no client-credentials grant"),
        (&["token", "nope"], "'nope' is not in the configuration"),
        (
            &[
                "link",
                "dapi",
                "--user",
                "amira",
                "--provider",
                "bank",
                "--payload",
                payload,
            ],
            "is oauth2, not Dapi",
        ),
        (
            &["link", "dapi", "--user", "amira", "--payload", payload],
            "missing 'accessCode'",
        ),
        (
            &["link", "dapi", "--user", "amira", "--payload", "-"],
            "standard input is empty: a Connect payload is",
        ),
    ];
    for (args, why) in cases {
        let out = command(dir.path(), &config, args)
            .env("BANKDECK_TEST_CS", "cs-value")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let error = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {error}");
        assert!(error.contains(why), "{args:?}: {error}");
        assert!(!dir.path().join("data").exists(), "{args:?}");
        assert!(!dir.path().join("key").exists(), "{args:?}");
    }
}

/// `config check` shows what each provider is asked for and how it is
/// worked, the defaults a key falls back to included: the scopes, the
/// client's authentication, the timeouts and the automatic work.
#[test]
fn config_check_shows_the_scopes_and_how_each_provider_is_worked() {
    let (dir, config) = config_with(
        "[providers.bank]\nkind = \"oauth2\"\ntoken_url = \"https://bank.example/token\"\n\
         client_id = \"c\"\nclient_secret = \"env:BANKDECK_TEST_CS\"\nclient_auth = \"post\"\n\
         scopes = \"accounts payments\"\nredirect_port = 8765\nrefresh_margin = \"90s\"\n\
         auto_refresh = true\n\
         [providers.ev]\nkind = \"oidc\"\nissuer = \"https://id.example/realms/r\"\n\
         client_id = \"public\"\n\
         [providers.dapi]\nkind = \"dapi\"\nbase_url = \"https://api.dapi.example\"\n\
         app_secret = \"env:BANKDECK_TEST_CS\"\nauto_exchange = true\ntimeout = \"7s\"\n",
    );
    let out = command(dir.path(), &config, &["config", "check"])
        .env("BANKDECK_TEST_CS", "cs-value")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    let provider = |name: &str| {
        said.split("provider ")
            .find(|p| p.starts_with(&format!("{name} (")))
            .unwrap_or_else(|| panic!("no {name} in {said}"))
            .to_owned()
    };
    let expected: [(&str, &[&str]); 3] = [
        (
            "bank",
            &[
                "  scopes          accounts payments\n",
                "  client_auth     post (client_secret_post)\n",
                "  redirect_port   8765\n",
                "  timeout 15s (connect 5s) · auto_refresh true · refresh_margin 1m 30s · max_in_flight 8\n",
            ],
        ),
        (
            "ev",
            &[
                "  scopes          none asked: the provider's default\n",
                "  client_auth     none: a public client (no client_secret)\n",
                "auto_refresh false · refresh_margin max(30s, 10% of the token's lifetime)",
            ],
        ),
        (
            "dapi",
            &["  timeout 7s (connect 5s) · auto_exchange true · max_in_flight 8\n"],
        ),
    ];
    for (name, lines) in expected {
        let shown = provider(name);
        for line in lines {
            assert!(shown.contains(line), "{line:?} in {shown}");
        }
    }
    let dapi = provider("dapi");
    assert!(
        !dapi.contains("scopes") && !dapi.contains("auto_refresh"),
        "{dapi}"
    );
    assert!(!said.contains("cs-value"), "{said}");
}

/// `config check` exits 1 while a secret it names is not in place, as
/// `check` does when something needs action, and says so on its last line.
#[test]
fn config_check_exits_1_while_a_secret_is_missing() {
    let (dir, config) = config_with(
        "[providers.dapi]\nkind = \"dapi\"\nbase_url = \"https://api.dapi.example\"\n\
         app_secret = \"env:BANKDECK_TEST_UNSET_SECRET\"\n",
    );
    let out = command(dir.path(), &config, &["config", "check"])
        .env_remove("BANKDECK_TEST_UNSET_SECRET")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("env:BANKDECK_TEST_UNSET_SECRET [missing]"),
        "{said}"
    );
    assert!(said.ends_with("ACTION: 1 secret missing\n"), "{said}");
    let out = command(dir.path(), &config, &["config", "check"])
        .env("BANKDECK_TEST_UNSET_SECRET", "s3cr3t-value")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(!said.contains("s3cr3t-value"), "{said}");
}

/// `check` counts on a renewer only while it runs. With none recorded, a
/// token that `auto_refresh` would renew is flagged like any other, since
/// no dashboard is open to renew it. A cron job's `refresh --due` that has
/// just run renews every provider's tokens, and `check --json` lists it.
#[test]
fn check_counts_on_a_renewer_only_while_it_runs() {
    let (dir, config) = config_with(
        "[providers.bank]\nkind = \"oauth2\"\ntoken_url = \"http://127.0.0.1:1/t\"\n\
         client_id = \"c\"\n\
         [providers.everifin]\nkind = \"oidc\"\ntoken_url = \"http://127.0.0.1:1/t\"\n\
         client_id = \"c\"\nauto_refresh = true\n",
    );
    let run = |args: &[&str]| bankdeck(dir.path(), &config, args);
    let out = run(&["generate", "--connections", "300", "--users", "30"]);
    assert!(out.status.success(), "{out:?}");
    let check = |args: &[&str]| {
        let out = run(args);
        let said = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(1), "{said}");
        said
    };
    let lapsing = |said: &str, why: &str| -> Vec<String> {
        (said.lines())
            .filter(|l| l.contains(&format!("will not be renewed automatically ({why})")))
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
            .collect()
    };
    let said = check(&["check", "--within", "10m"]);
    let auto = lapsing(
        &said,
        "auto_refresh is on, but no running dashboard's scheduler refreshes everifin",
    );
    let manual = lapsing(&said, "bank has no auto_refresh");
    assert!(!auto.is_empty() && !manual.is_empty(), "{said}");
    let report = |said: &str| serde_json::from_str::<serde_json::Value>(said).unwrap();
    let json = report(&check(&["check", "--within", "10m", "--json"]));
    assert_eq!(json["renewers"], serde_json::json!([]), "{json}");

    // The run a cron job starts: it refreshes what is due within a second
    // (the expired rows, whose endpoint refuses), and from then on the
    // tokens expiring later are its to renew, each when its time comes.
    let ran = run(&["refresh", "--due", "--within", "1s"]);
    assert_eq!(ran.status.code(), Some(1), "{ran:?}");
    let said = check(&["check", "--within", "10m"]);
    assert!(!said.contains("will not be renewed"), "{said}");
    for id in auto.iter().chain(&manual) {
        assert!(
            !said
                .lines()
                .any(|l| l.split_whitespace().next() == Some(id)),
            "{id} is renewed by the cron job now: {said}"
        );
    }
    let json = report(&check(&["check", "--within", "10m", "--json"]));
    let renewers = json["renewers"].as_array().unwrap();
    assert_eq!(renewers.len(), 1, "{json}");
    assert_eq!(renewers[0]["by"], "refresh_due");
    assert_eq!(renewers[0]["running"], true);
    assert_eq!(renewers[0]["within_secs"], 1);
    assert_eq!(
        renewers[0]["providers"],
        serde_json::json!(["bank", "everifin"])
    );
    assert!(renewers[0]["at"].as_str().unwrap().ends_with('Z'), "{json}");
}

/// Two scripts at once on a pending Dapi code: `exchange` sends it, and
/// `access-token`, started while that exchange is out, hands out the token
/// it brought rather than fail on the code it spent, and says whom it
/// waited for. Dapi sees one exchange, and the audit line of the token
/// handed out says who exchanged the code.
#[test]
fn access_token_during_another_process_exchange_hands_out_its_token() {
    let behind = behind_a_held_exchange("access-token");
    assert_eq!(
        behind.tokens[0]["fingerprint"].as_str(),
        Some(bankdeck::sandbox::fingerprint(behind.out.trim()).as_str())
    );
    let audit = ["audit", "--op", "reveal"];
    let (_, audit, _) = said(behind.dir.path(), &behind.config, &audit);
    let handed = "access token handed out (permanent, its code exchanged first by another process)";
    assert!(audit.contains(handed), "{audit}");
}

/// Two scripts' `exchange` of one pending Dapi code: the second, started
/// while the first's is out, waits for it and says the other process did
/// the exchange, not itself (the audit log has no line of the second's).
/// Dapi sees one exchange.
#[test]
fn an_exchange_another_process_did_meanwhile_says_so() {
    let behind = behind_a_held_exchange("exchange");
    let id = &behind.id;
    let theirs = format!("exchange done by another process meanwhile: connection {id} · omar");
    assert!(behind.out.starts_with(&theirs), "{}", behind.out);
    let first = String::from_utf8_lossy(&behind.first.stdout);
    let ours = format!("exchange done: connection {id} · omar");
    assert!(first.starts_with(&ours), "{first}");
    let audit = ["audit", "--json", "--op", "exchange"];
    let (_, audit, _) = said(behind.dir.path(), &behind.config, &audit);
    let lines: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    assert_eq!(lines.len(), 1, "the first's line alone: {audit}");
}

/// `token bank` asked for while another process renews the app token
/// held: it waits for that renewal and says the other process did it.
#[test]
fn an_app_token_another_process_renewed_meanwhile_says_so() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    let (code, out, err) = said(dir.path(), &config, &["token", "bank"]);
    assert_eq!(code, Some(0), "{err}");
    let id = out.split("connection ").nth(1).unwrap();
    let id = id.split(' ').next().unwrap().to_owned();
    hold(&base, "oauth2.token", 3000, 1);
    let first = command(dir.path(), &config, &["token", "bank"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(busy_with(dir.path(), &config, &id)["pid"], first.id());
    let (code, out, err) = said(dir.path(), &config, &["token", "bank"]);
    assert_eq!(code, Some(0), "{err}");
    let theirs =
        format!("token renewed, done by another process meanwhile: connection {id} · app / bank");
    assert!(out.starts_with(&theirs), "{out}");
    let first = first.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(
        out.starts_with(&format!("token renewed: connection {id} ")),
        "{out}"
    );
}

/// What [`behind_a_held_exchange`] leaves to look at.
struct Behind {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    /// The pending code's connection.
    id: String,
    /// The second command's stdout.
    out: String,
    /// The first process, the exchange, once it ended.
    first: std::process::Output,
    /// The tokens Dapi issued: one, or the test has failed.
    tokens: Vec<serde_json::Value>,
}

/// Runs `second` on a pending Dapi code while another process's
/// `exchange` of it is held at Dapi, and checks that it succeeds, says
/// whom it waited for, and that Dapi saw one exchange.
fn behind_a_held_exchange(second: &str) -> Behind {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    let id = link_dapi(dir.path(), &config, &base, "omar");
    hold(&base, "dapi.exchange", 3000, 1);
    let first = command(dir.path(), &config, &["exchange", &id])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = first.id();
    assert_eq!(busy_with(dir.path(), &config, &id)["pid"], pid);
    let (code, out, err) = said(dir.path(), &config, &[second, &id]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(&format!(": waiting for process {pid} of ")),
        "{err}"
    );
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{first:?}");
    let state = Command::new("curl")
        .args(["-sf", &format!("{base}/sandbox/state")])
        .output()
        .unwrap();
    let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
    let tokens = state["dapi"]["tokens"].as_array().unwrap().clone();
    assert_eq!(tokens.len(), 1, "one exchange: {state}");
    Behind {
        dir,
        config,
        id,
        out,
        first,
        tokens,
    }
}

/// `access-token` hands a script the token the provider issued, good for
/// at least `--min-valid`: a pending Dapi code is exchanged first, a token
/// that expires sooner is renewed first. Each one handed out is an audit
/// line; a terminal, a read-only run and an ended connection get none.
#[test]
fn access_token_hands_out_the_providers_token_good_for_min_valid() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    let run = |args: &[&str]| said(dir.path(), &config, args);
    let state = || -> serde_json::Value {
        let out = Command::new("curl")
            .args(["-sf", &format!("{base}/sandbox/state")])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // The fingerprints of the tokens the sandbox holds as active.
    let active = |family: &str, list: &str| -> Vec<String> {
        let state = state();
        (state[family][list].as_array().unwrap().iter())
            .filter(|t| t["status"] == "active")
            .map(|t| t["fingerprint"].as_str().unwrap().to_owned())
            .collect()
    };
    let handed = |said: &str| {
        let token = said.strip_suffix('\n').expect("one line");
        assert!(
            !token.is_empty() && !token.contains(char::is_whitespace),
            "{said:?}"
        );
        bankdeck::sandbox::fingerprint(token)
    };

    let dapi = link_dapi(dir.path(), &config, &base, "omar");
    let (code, said, err) = run(&["access-token", &dapi]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        vec![handed(&said)],
        active("dapi", "tokens"),
        "the token Dapi issued"
    );
    let (_, status, _) = run(&["status", "--json"]);
    assert!(status.contains("\"permanent\""), "exchanged: {status}");

    let (code, issued, err) = run(&["token", "bank"]);
    assert_eq!(code, Some(0), "{err}");
    let app = &named_id(&issued);
    let (code, first, err) = run(&["access-token", app]);
    assert_eq!(code, Some(0), "{err}");
    // Good for an hour: handed out as it is, then renewed for two.
    assert_eq!(run(&["access-token", app, "--min-valid", "59m"]).1, first);
    let (_, json, _) = run(&["access-token", app, "--json"]);
    let handed_json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(handed_json["access_token"].as_str(), Some(first.trim()));
    assert_eq!(handed_json["token_type"], "Bearer");
    assert_eq!(
        handed_json["scopes"],
        serde_json::json!(["accounts", "payments"])
    );
    let expires_in = handed_json["expires_in"].as_i64().unwrap();
    assert!((3500..=3600).contains(&expires_in), "{json}");
    assert!(
        handed_json["expires_at"].as_str().unwrap().ends_with('Z'),
        "{json}"
    );
    let (_, json, _) = run(&["access-token", &dapi, "--json"]);
    let permanent: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        permanent["expires_at"].is_null() && permanent["expires_in"].is_null(),
        "{json}"
    );
    let (code, renewed, err) = run(&["access-token", app, "--min-valid", "2h"]);
    assert_eq!(code, Some(0), "{err}");
    assert_ne!(renewed, first);
    assert!(active("oauth2", "access_tokens").contains(&handed(&renewed)));
    // A second may pass between the answer and the reading: 59:59 is as right.
    let an_hour = |text: &str, before: &str, after: &str| {
        ["1h 00m", "59:59", "59:58"]
            .iter()
            .any(|left| text.contains(&format!("{before}{left}{after}")))
    };
    assert!(
        an_hour(
            &err,
            "the provider's new token lasts ",
            ", less than --min-valid 2h"
        ),
        "{err}"
    );

    let (_, audit, _) = run(&["audit", "--op", "reveal"]);
    let lines: Vec<&str> = audit.lines().collect();
    assert_eq!(lines.len(), 6, "{audit}");
    assert!(
        an_hour(
            lines[0],
            "access token handed out (valid ",
            ", refreshed first)"
        ),
        "{audit}"
    );
    assert!(lines[5].contains("access token handed out (permanent, its code exchanged first)"));
    for token in [&said, &first, &renewed] {
        assert!(!audit.contains(token.trim()), "{audit}");
    }

    let (code, printed, err) = run(&["--readonly", "access-token", app]);
    assert_eq!((code, printed.as_str()), (Some(2), ""));
    assert!(
        err.contains("read-only mode: handing out a token is audited"),
        "{err}"
    );
    let (code, _, err) = run(&["access-token", app, "--min-valid", "soon"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--min-valid 'soon' is not a duration: write e.g. 5m"),
        "{err}"
    );
    let (code, _, _) = run(&["delink", &dapi, "--yes"]);
    assert_eq!(code, Some(0));
    let (code, printed, err) = run(&["access-token", &dapi]);
    assert_eq!((code, printed.as_str()), (Some(2), ""));
    assert!(err.contains("is delinked: it holds no token"), "{err}");
    let (_, audit, _) = run(&["audit", "--op", "reveal"]);
    assert_eq!(
        audit.lines().count(),
        6,
        "nothing handed out, nothing audited"
    );
}

/// Plain OAuth 2.0 names no account, so a new consent could not find the
/// row it was for: `check` sent the operator to `login`, which made a
/// second row, and the first stayed "re-consent required" for good, with
/// its logout changing nothing. `check` now names the row with `--renew`,
/// the login renews it in place, and a logout ends such a row.
#[test]
fn a_bank_row_needing_consent_is_renewed_in_place_or_logged_out() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    let run = |args: &[&str]| said(dir.path(), &config, args);
    let login = |extra: &[&str]| {
        let args = [&["login", "bank", "--user", "bob", "--no-browser"], extra].concat();
        let (login, url, _) = login_with(dir.path(), &config, &args);
        assert!(consent(&url).wait().unwrap().success());
        let out = login.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{said}");
        named_id(&said)
    };
    let bobs = || -> Vec<(String, String)> {
        let (_, json, _) = run(&["status", "--json", "bob"]);
        let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
        (rows.as_array().unwrap().iter())
            .map(|r| (r["id"].to_string(), r["state"].as_str().unwrap().to_owned()))
            .collect()
    };
    // A refresh whose answer is lost rotates the token at the bank, and
    // the next refresh, with the token held, is refused.
    let needs_consent = |id: &str| {
        super::common::post_json(
            &base,
            "/sandbox/faults",
            r#"{"faults":["oauth2.token:lose,count=1"]}"#,
        );
        assert_ne!(run(&["refresh", id]).0, Some(0));
        assert_ne!(run(&["refresh", id]).0, Some(0));
        assert_eq!(bobs(), vec![(id.to_owned(), "reauth_required".to_owned())]);
    };

    let id = login(&[]);
    needs_consent(&id);
    let (code, checked, _) = run(&["check", "bob"]);
    assert_eq!(code, Some(1));
    let renew = format!("`bankdeck login bank --user bob --renew {id}`");
    assert!(checked.contains(&renew), "{checked}");
    let (code, _, err) = run(&["login", "bank", "--user", "carol", "--renew", &id]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains(&format!(
            "--renew {id} is bob's at bank, not carol's at bank"
        )),
        "{err}"
    );

    assert_eq!(login(&["--renew", &id]), id, "renewed in place");
    assert_eq!(bobs(), vec![(id.clone(), "active".to_owned())]);
    let (_, audit, _) = run(&["audit", "--connection", &id, "--limit", "1"]);
    assert!(audit.contains("the row it was asked for"), "{audit}");

    needs_consent(&id);
    let (code, _, err) = run(&["logout", &id, "--yes"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(bobs(), vec![(id.clone(), "logged_out".to_owned())]);
    assert_eq!(run(&["check", "bob"]).0, Some(0), "nothing left to do");
}

/// A `logout` that finds the row ended says so and exits 0, for one id as
/// for several: "ended meanwhile" when another process ended it while this
/// one waited (it said "logout failed", exit 2, for one id), and "already
/// logged out" when it already was (it said "ended meanwhile" of several).
#[test]
fn a_logout_of_a_row_already_ended_is_not_a_failure() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    let id = logged_in(dir.path(), &config);
    let told = the_second_of_two_at_once(dir.path(), &config, &base, &["logout", &id, "--yes"]);
    assert!(
        told.starts_with("logout: ended meanwhile (")
            && told.contains(&format!(
                "): connection {id} · lena / everifin · everifin · logged out"
            )),
        "{told}"
    );

    let (code, out, err) = said(dir.path(), &config, &["logout", &id, "--yes"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with(&format!("logout: already logged out: connection {id} ")),
        "{out}"
    );
    let (code, _, err) = said(dir.path(), &config, &["token", "bank"]);
    assert_eq!(code, Some(0), "{err}");
    let app = "2";
    assert_eq!(
        said(dir.path(), &config, &["logout", app, "--yes"]).0,
        Some(0)
    );
    let (code, out, err) = said(dir.path(), &config, &["logout", &id, app, "--yes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!("{id} lena / everifin: already logged out\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{app} app / bank: already logged out\n")),
        "{out}"
    );
    assert!(!out.contains("meanwhile"), "{out}");
}

/// Two `users disconnect` of one user at once: the second waits for the
/// first's logout and finds the row ended. That is what it was run for,
/// not a failure: it says so and exits 0.
#[test]
fn a_disconnect_that_another_ends_first_is_not_a_failure() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    let id = logged_in(dir.path(), &config);
    let args = ["users", "disconnect", "lena", "--yes"];
    let said = the_second_of_two_at_once(dir.path(), &config, &base, &args);
    assert!(
        said.contains(&format!("{id} lena / everifin: ended meanwhile")),
        "{said}"
    );
    assert!(!said.contains("failed"), "{said}");
}

/// `args` run twice at once, the second 0.4 s after the first, while the
/// sandbox holds the first's logout: both exit 0, and what the second said.
fn the_second_of_two_at_once(dir: &Path, config: &Path, base: &str, args: &[&str]) -> String {
    hold(base, "oidc.logout", 1500, 1);
    let run = || {
        command(dir, config, args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = run();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let second = run().wait_with_output().unwrap();
    let first = first.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let said = text(&second.stdout);
    let err = text(&second.stderr);
    assert_eq!(second.status.code(), Some(0), "{said}{err}");
    said
}

/// An OpenID login goes by the account the provider names: one started
/// for a row whose account is not the one that logged in goes to that
/// account's row, and says that `--renew` was not used.
#[test]
fn a_renew_that_another_account_answers_says_so() {
    let dir = super::common::private_dir();
    let (_sandbox, _base, config) = sandbox_with_config(dir.path());
    let login = |extra: &[&str], as_whom: Option<&str>| {
        let args = [
            &["login", "everifin", "--user", "bob", "--no-browser"],
            extra,
        ]
        .concat();
        let (login, url, err) = login_with(dir.path(), &config, &args);
        let url = match as_whom {
            Some(who) => {
                let mut u = url::Url::parse(&url).unwrap();
                let pairs: Vec<(String, String)> = (u.query_pairs().into_owned())
                    .filter(|(k, _)| k != "login_hint")
                    .chain([("login_hint".to_owned(), who.to_owned())])
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
                u.to_string()
            }
            None => url,
        };
        assert!(consent(&url).wait().unwrap().success());
        let out = login.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{said}");
        (named_id(&said), err.join().unwrap())
    };
    let (first, _) = login(&[], None);
    let (again, err) = login(&["--renew", &first], None);
    assert_eq!(again, first);
    assert!(!err.contains("was not used"), "{err}");
    let (other, err) = login(&["--renew", &first], Some("someone-else"));
    assert_ne!(other, first);
    assert!(
        err.contains(&format!(
            "--renew {first} was not used: the provider named another account than connection \
             {first}'s, so the login went to connection {other}"
        )),
        "{err}"
    );
}

/// A label or a Connect payload's id holding an escape sequence would
/// reach the terminal in every listing: both are refused by name, and
/// nothing is stored.
#[test]
fn a_label_or_payload_id_holding_control_characters_is_refused() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    let run = |args: &[&str]| said(dir.path(), &config, args);
    let minted = Command::new("curl")
        .args(["-sf", "-XPOST", &format!("{base}/sandbox/connect")])
        .output()
        .unwrap();
    let file = dir.path().join("payload.json");
    std::fs::write(&file, &minted.stdout).unwrap();
    let payload = file.to_str().unwrap();
    let label = "AB\u{1b}]0;PWNED\u{7}C";
    let (code, _, err) = run(&[
        "link",
        "dapi",
        "--user",
        "zoe",
        "--label",
        label,
        "--payload",
        payload,
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("a label must be at most 200 printable characters"),
        "{err}"
    );
    let mut evil: serde_json::Value = serde_json::from_slice(&minted.stdout).unwrap();
    evil["connectionID"] = "c\u{1b}[2Jx".into();
    std::fs::write(&file, evil.to_string()).unwrap();
    let (code, _, err) = run(&["link", "dapi", "--user", "zoe", "--payload", payload]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("Connect payload field 'connectionID' holds control characters"),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "{err:?}");
    // Refused before the store is opened: a first link makes none.
    assert!(!dir.path().join("data").exists(), "nothing stored");
}

/// A store that every command would stop at (a wrong key, a damaged file)
/// is something to do, not "OK": a deployment gated on `config check` must
/// not go on to find `status` and `refresh` failing.
#[test]
fn config_check_says_a_store_it_cannot_read_needs_action() {
    let (dir, config) = empty_config();
    let out = bankdeck(dir.path(), &config, &["generate", "--connections", "5"]);
    assert!(out.status.success(), "{out:?}");
    let (_, text, _) = said(dir.path(), &config, &["config", "check"]);
    assert!(text.contains("(5 connections)"), "{text}");
    std::fs::write(dir.path().join("key"), [7u8; 32]).unwrap();
    let (code, text, _) = said(dir.path(), &config, &["config", "check"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("not read (the key does not open this store"),
        "{text}"
    );
    assert_eq!(
        text.lines().last(),
        Some("ACTION: the store cannot be read"),
        "{text}"
    );
}

/// A config that lacks some of the store's providers is the config's fault:
/// `config check` names each such provider with its live rows and exits 1,
/// and `check` says a table must be added before its suggested command
/// can work. Before any store, it says where the store will be.
#[test]
fn config_check_names_the_stores_providers_it_lacks() {
    let (dir, config) = config_with(
        "[providers.bank]\nkind = \"oauth2\"\ntoken_url = \"http://127.0.0.1:1/t\"\n\
         client_id = \"c\"\n",
    );
    let (code, text, _) = said(dir.path(), &config, &["config", "check"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("store: none yet at "), "{text}");
    let out = bankdeck(
        dir.path(),
        &config,
        &["generate", "--connections", "300", "--users", "30"],
    );
    assert!(out.status.success(), "{out:?}");
    let (code, text, _) = said(dir.path(), &config, &["config", "check"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("(300 connections)"), "{text}");
    for provider in ["dapi", "everifin"] {
        assert!(
            text.lines()
                .any(|l| l.contains(&format!("of provider '{provider}'"))
                    && l.contains(&format!("add [providers.{provider}]"))),
            "{provider}: {text}"
        );
    }
    assert!(!text.contains("provider 'bank'"), "{text}");
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("ACTION: ")
            && last.ends_with("connections of providers not in the configuration"),
        "{text}"
    );
    let (code, text, _) = said(dir.path(), &config, &["check"]);
    assert_eq!(code, Some(1), "{text}");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert!(!rows.is_empty(), "{text}");
    for row in rows {
        let lacking = ["dapi", "everifin"].iter().any(|p| {
            row.ends_with(&format!(
                "(first add [providers.{p}]: the configuration lacks it)"
            ))
        });
        assert_eq!(lacking, !row.contains(" / bank"), "{row}");
    }
}

/// A `ca_file` that is missing or holds no certificate stops every command
/// and the dashboard: `config check` says so, and exits 1.
#[test]
fn config_check_refuses_a_ca_file_that_cannot_be_read() {
    let (dir, config) = config_with("");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    for (ca, says) in [
        (dir.path().join("none.pem"), "No such file"),
        (garbage, "no PEM certificate"),
    ] {
        std::fs::write(
            &config,
            format!(
                "[providers.bank]\nkind = \"oauth2\"\ntoken_url = \"http://127.0.0.1:1/t\"\n\
                 client_id = \"c\"\nca_file = \"{}\"\n",
                ca.display()
            ),
        )
        .unwrap();
        let (code, text, _) = said(dir.path(), &config, &["config", "check"]);
        assert_eq!(code, Some(1), "{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("  error: ca_file ") && l.contains(says)),
            "{text}"
        );
        assert!(
            text.ends_with("ACTION: 1 provider that cannot be used\n"),
            "{text}"
        );
    }
}

/// Completions offer what `--help` shows and nothing it hides: the
/// benchmarks' `generate` and the tests' `--debug-panic` were offered on
/// Tab in every shell, as clap_complete walks hidden parts too. The names
/// `audit --op` takes are offered, not file names.
#[test]
fn completions_offer_no_hidden_command_or_flag() {
    let (dir, config) = empty_config();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, out, err) = said(dir.path(), &config, &["completions", shell]);
        assert_eq!(code, Some(0), "{shell}: {err}");
        for hidden in ["generate", "debug-panic", "debug_panic"] {
            assert!(!out.contains(hidden), "{shell} offers {hidden}");
        }
        // Elvish's and PowerShell's completions offer no values.
        let values = matches!(shell, "bash" | "zsh" | "fish").then_some("client_credentials");
        let shown = ["waits", "sandbox", "access-token", "readonly", "within"];
        for shown in shown.into_iter().chain(values) {
            assert!(out.contains(shown), "{shell} lacks {shown}");
        }
    }
}

/// A row another process is at work on (a script's delink held at the
/// provider) shows as `busy` in `status --json`, with that process's id,
/// and after its state in `status`; once it has answered, it is not. A
/// second delink meanwhile says whom it waits for, where it used to wait
/// without a word; a `--readonly` one is refused without waiting.
#[test]
fn status_names_the_process_at_work_on_a_row() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = sandbox_with_config(dir.path());
    let id = link_dapi(dir.path(), &config, &base, "lena");
    let (code, out, err) = said(dir.path(), &config, &["exchange", &id]);
    assert_eq!(code, Some(0), "{out}{err}");
    // Held past the commands run meanwhile, however loaded the machine.
    hold(&base, "dapi.delink", 5000, 1);
    let delink = command(dir.path(), &config, &["delink", &id, "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = delink.id();
    let row = |json: &str| -> serde_json::Value {
        let rows: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
        let id: i64 = id.parse().unwrap();
        rows.into_iter().find(|r| r["id"] == id).unwrap()
    };
    let busy = busy_with(dir.path(), &config, &id);
    assert_eq!(busy["pid"], pid, "{busy}");
    let by = busy["by"].as_str().unwrap();
    assert!(by.starts_with(&format!("process {pid}")), "{busy}");
    assert!(busy["until"].as_str().unwrap().ends_with('Z'), "{busy}");
    let (_, table, _) = said(dir.path(), &config, &["status", "lena"]);
    assert!(table.contains(&format!(" · busy: pid {pid}")), "{table}");
    let (code, _, err) = said(dir.path(), &config, &["--readonly", "delink", &id, "--yes"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(!err.contains("waiting"), "refused, not waiting: {err}");
    let (_, _, err) = said(dir.path(), &config, &["delink", &id, "--yes"]);
    let waiting = format!("delink {id} lena / ");
    assert!(
        err.starts_with(&waiting)
            && err.contains(&format!(": waiting for process {pid} of "))
            && err.contains(", at work on it (its lease until "),
        "{err}"
    );

    let out = delink.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let (_, json, _) = said(dir.path(), &config, &["status", "--json", "lena"]);
    let row = row(&json);
    assert!(row["busy"].is_null(), "answered: {row}");
    assert_eq!(row["state"], "delinked");
    let (_, table, _) = said(dir.path(), &config, &["status", "lena"]);
    assert!(!table.contains("busy"), "{table}");
}

/// Row `id`'s `busy` in `status --json`, once some process holds its lease
/// (`null` if none has within 20 s).
fn busy_with(dir: &Path, config: &Path, id: &str) -> serde_json::Value {
    let id: i64 = id.parse().unwrap();
    let began = std::time::Instant::now();
    loop {
        let (_, json, _) = said(dir, config, &["status", "--json"]);
        let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        let busy = rows.iter().find(|r| r["id"] == id).unwrap()["busy"].clone();
        if !busy.is_null() || began.elapsed() > std::time::Duration::from_secs(20) {
            return busy;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `refresh --due` over a row a script is refreshing says so before it
/// waits for that answer, and counts the row among those refreshed, by
/// that script; `check --json` names the script on that row alone.
#[test]
fn refresh_due_says_which_rows_another_process_is_at_work_on() {
    let dir = super::common::private_dir();
    let (_sandbox, base, config) = three_app_tokens_one_at_a_time(dir.path());
    // Held past the commands run meanwhile, however loaded the machine.
    hold(&base, "oauth2.token", 4000, 1);
    let script = command(dir.path(), &config, &["refresh", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = script.id();
    assert_eq!(busy_with(dir.path(), &config, "1")["pid"], pid);
    let (_, json, _) = said(dir.path(), &config, &["check", "--json", "--within", "2h"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rows = report["needs_action"].as_array().unwrap();
    let busy: Vec<_> = rows.iter().map(|r| (&r["id"], &r["busy"]["pid"])).collect();
    assert_eq!(busy.len(), 3, "{json}");
    assert!(busy.contains(&(&1.into(), &pid.into())), "{json}");
    assert_eq!(
        busy.iter().filter(|(_, p)| p.is_null()).count(),
        2,
        "{json}"
    );
    let (code, out, err) = said(dir.path(), &config, &["refresh", "--due", "--within", "2h"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        err.starts_with(&format!("process {pid} of "))
            && err
                .contains(" is at work on 1 due connection: this run waits for that answer first"),
        "{err}"
    );
    assert_eq!(
        out.lines().last(),
        Some("refreshed 3 of 3 due within 2h, 1 of them by another process meanwhile"),
        "{out}"
    );
    assert!(script.wait_with_output().unwrap().status.success());
}
