//! The command line's shape: every subcommand and flag, declared with clap.
//!
//! No flag takes a secret: payloads come from a file or standard input, and
//! provider secrets come from the config's `env:`/`file:` references.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::domain::OpKind;

#[derive(Debug, Parser)]
#[command(
    name = "bankdeck",
    version,
    about = "A terminal dashboard for linked bank connections: Dapi, OAuth 2.0 and OpenID Connect tokens.",
    long_about = "Without a subcommand, bankdeck opens the dashboard. The subcommands run the same \
                  operations without a screen, for scripts, cron and monitoring."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct Global {
    /// Configuration file (default: the platform config dir; or BANKDECK_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Data directory holding the store (default: the platform data dir; or BANKDECK_DATA_DIR).
    // The store reads BANKDECK_DATA_DIR itself (an empty one counts as
    // unset); given to clap too, it showed in usage lines as if required.
    #[arg(long, global = true, value_name = "PATH")]
    pub data_dir: Option<PathBuf>,
    /// Refuse every operation that changes anything.
    #[arg(long, global = true)]
    pub readonly: bool,
    /// Start the sandbox in-process with a throw-away store full of example users.
    #[arg(long)]
    pub demo: bool,
    /// Fault injection for tests: the dashboard's worker panics inside the
    /// next operation of this kind (exchange, refresh, logout, delink), to
    /// prove a background panic neither kills the screen nor leaks a secret.
    #[arg(long, hide = true, value_name = "OP")]
    pub debug_panic: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Check the configuration and show the resolved providers.
    Config {
        #[command(subcommand)]
        action: ConfigCmd,
    },
    /// Manage end users.
    Users {
        #[command(subcommand)]
        action: UsersCmd,
    },
    /// Link a connection from a provider's payload.
    Link {
        #[command(subcommand)]
        kind: LinkCmd,
    },
    /// Browser login (authorization code with PKCE) for an OAuth 2.0 or OIDC provider.
    Login {
        /// The provider's name in the config.
        provider: String,
        /// The end user the connection belongs to. A name `users list` does
        /// not show is added as a new user once the connection is made.
        #[arg(long, value_parser = user_name)]
        user: String,
        /// Only print the URL; do not open a browser.
        #[arg(long)]
        no_browser: bool,
        /// Renew this connection of the user's (its id, as `status` shows
        /// it) with the new consent, rather than making another. Needed
        /// where the provider names no account (plain OAuth 2.0): an OpenID
        /// login finds the row of the same account by itself.
        #[arg(long, value_name = "ID", value_parser = connection_id)]
        renew: Option<i64>,
    },
    /// Get an app-level token with the client-credentials grant.
    Token {
        /// The provider's name in the config.
        provider: String,
        /// The user the token is filed under (added if new).
        #[arg(long, default_value = "app", value_parser = user_name)]
        user: String,
    },
    /// Exchange a Dapi access code for its permanent token.
    Exchange(ExchangeArgs),
    /// Refresh a connection's access token, or with --due every one that
    /// is due (for cron).
    Refresh(RefreshArgs),
    /// Print a connection's access token on standard output, for a script.
    ///
    /// `curl -H "Authorization: Bearer $(bankdeck access-token 12)" …`. A
    /// token that expires within --min-valid is refreshed first, and a Dapi
    /// access code still pending is exchanged first. Each token handed out
    /// is a line of the audit log (`reveal`), written before the token is.
    /// A terminal is refused without --reveal. Exit 2 when no token can be
    /// handed out (logged out, delinked, consent ended), saying what to do.
    AccessToken {
        /// The connection's id (as `status` shows it).
        #[arg(value_parser = connection_id)]
        connection: i64,
        /// How long the token must stay valid, e.g. 5m (default 1m).
        #[arg(long, value_name = "DURATION")]
        min_valid: Option<String>,
        /// One JSON object instead: `access_token`, `token_type`,
        /// `expires_at` and `expires_in` (null for a permanent token),
        /// `scopes`.
        #[arg(long)]
        json: bool,
        /// Print it on a terminal too, as the screen's `v` reveals it.
        #[arg(long)]
        reveal: bool,
    },
    /// Log a connection out (revoke its refresh token).
    Logout(Target),
    /// Delink a Dapi connection for good.
    Delink(Target),
    /// Show every connection and its state, or those a filter keeps.
    Status {
        /// Only the connections whose user, label, provider, kind or state
        /// holds this text, in any case: the dashboard's `/` filter. A number
        /// keeps the connection of that id (`status 12`) and the rows whose
        /// names hold it, not those whose countdown does. From 8
        /// characters on, their provider ids too (Dapi's connectionID, userID
        /// and tokenID; the OIDC sub and session), as a support ticket quotes
        /// them. With a leading `!` (quoted for the shell: '!delinked'), only
        /// the others.
        filter: Option<String>,
        /// In the screen's order by this (its `s`) instead of by id:
        /// time-left puts what needs action first.
        #[arg(long, value_enum, value_name = "KEY")]
        sort: Option<StatusSort>,
        /// One JSON array, for scripts. Never contains a token.
        #[arg(long)]
        json: bool,
    },
    /// Exit 0 when nothing needs action within the window, 1 when something does, 2 on error.
    ///
    /// A token that expires within the window needs action unless something
    /// renews it: an open dashboard's scheduler (for auto_refresh providers),
    /// or a `refresh --due` run that cron starts at least once per its window.
    /// Each records when it last ran; once that is too long ago (three
    /// minutes for a dashboard, the run's window and a minute for `refresh
    /// --due`) its tokens are listed with who ran last and when.
    ///
    /// The first line, all a monitor shows, counts what the listed rows
    /// need: "ACTION: 41 connections need action within 10m: 30 to refresh,
    /// 11 failed".
    Check {
        /// Only the connections whose user, label, provider, kind or state
        /// holds this text, in any case (the dashboard's `/` filter: a number
        /// keeps the connection of that id too, and from 8 characters on it
        /// reads provider ids; `!text` keeps the others): one check per
        /// provider, say. Exit 2 if it keeps none.
        filter: Option<String>,
        /// The window, e.g. 10m (default: the config's warn_within).
        #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
        within: Option<String>,
        /// One JSON object, for a monitor: `ok`, the window in seconds,
        /// `counts` by need, each connection that needs action with its
        /// `need` (`refresh`, `reconsent`…) and why, and `renewers`: what
        /// renews tokens, when it last ran, and whether it still `running`.
        /// Exit codes as without.
        #[arg(long, conflicts_with = "quiet")]
        json: bool,
        /// Print nothing when nothing needs action (cron mails whatever a
        /// job prints); the exit code says it either way.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Show the audit log, newest first (`audit archive` moves its oldest lines to a file).
    #[command(args_conflicts_with_subcommands = true)]
    Audit {
        #[command(subcommand)]
        action: Option<AuditCmd>,
        /// One JSON array, for scripts. Never contains a token.
        #[arg(long)]
        json: bool,
        /// Only this connection.
        #[arg(long, value_name = "ID", value_parser = connection_id)]
        connection: Option<i64>,
        /// Only the lines of the connections whose user, label, provider,
        /// kind or state holds this text, in any case (the rows `status TEXT`
        /// shows; `!text` keeps the others).
        #[arg(long, value_name = "TEXT", conflicts_with = "connection")]
        matching: Option<String>,
        /// At most this many entries (1 or more).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
        limit: u64,
        /// Only entries from this long ago on, e.g. 1h.
        #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
        since: Option<String>,
        /// Only operations that failed.
        #[arg(long)]
        failed: bool,
        /// Only this operation's lines, by the name the log gives it, e.g.
        /// delink or refresh (a name it does not know is refused with the names it knows).
        #[arg(long, value_name = "OP", value_parser = operation(), hide_possible_values = true)]
        op: Option<OpKind>,
    },
    /// Show the waits providers asked for (a 429 or 503 with Retry-After)
    /// that still hold: until each ends, no bankdeck process sends that
    /// provider anything, by hand or automatically. `waits lift` sets one
    /// aside.
    Waits {
        #[command(subcommand)]
        action: Option<WaitsCmd>,
        /// One JSON array of {provider, until, secs_left, why}.
        #[arg(long)]
        json: bool,
    },
    /// Print shell completions.
    Completions {
        /// The shell to print them for.
        shell: clap_complete::Shell,
    },
    /// Fill the store with generated users and connections in every state,
    /// for benchmarks (see BENCHMARKS.md). Hidden: an operator never needs it.
    #[command(hide = true)]
    Generate {
        #[arg(long, default_value_t = 100_000)]
        connections: usize,
        #[arg(long, default_value_t = 10_000)]
        users: usize,
    },
    /// Serve the provider emulation on 127.0.0.1 (for trying bankdeck and for tests).
    Sandbox {
        /// The port to listen on (0: any free one, printed at start).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// A fault to inject: `ROUTE:KIND[=ARG][,count=N][,rate=R]`, e.g. `oidc.token:503,count=2` or `*:latency=200` (repeatable).
        #[arg(long = "fault", value_name = "SPEC")]
        faults: Vec<String>,
        /// Write a bankdeck config for this sandbox into DIR (created if
        /// missing), with the sandbox's demo secrets in files beside it
        /// (0600). Never replaces a file.
        #[arg(long, value_name = "DIR")]
        write_config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Load and check the configuration; print providers with each secret as `[set]` or `[missing]`,
    /// and the store it serves. Exit 0 when nothing is missing, 1 when a secret is missing, a
    /// provider cannot be used (its `ca_file`), a `[keys]` entry cannot be applied, or the store
    /// holds live connections of a provider the configuration lacks, 2 when the file itself is
    /// wrong.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum WaitsCmd {
    /// Send to PROVIDER again before the wait it asked for ends, from every
    /// bankdeck process on the store (written to the audit log). For when
    /// you know it takes requests again; should it still refuse, its next
    /// 429 asks for the wait anew.
    Lift {
        /// The provider's name in the configuration.
        provider: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCmd {
    /// Add an end user, by a name unique in the store.
    Add {
        /// The user's name, as the table shows it.
        #[arg(value_parser = user_name)]
        name: String,
        /// The user's email address, kept for the operator.
        #[arg(long, value_parser = email)]
        email: Option<String>,
    },
    /// Remove an end user who holds no connection (a name added by mistake).
    ///
    /// A user with connections stays: their history names them.
    Remove {
        /// The user's name, exactly as `users list` shows it.
        name: String,
    },
    /// End every connection of a user who is leaving.
    ///
    /// Dapi links are delinked (a pending code exchanged first, as only its
    /// token ends Dapi's side), OAuth and OIDC consents logged out. The user
    /// and their history stay.
    Disconnect {
        /// The user's name, exactly as `users list` shows it.
        name: String,
        /// Skip the confirmation (required when not on a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// List the end users, or those a filter keeps.
    List {
        /// Only the users whose name or email holds this text, in any case
        /// (the users view's `/` filter; `!text` keeps the others).
        filter: Option<String>,
        /// One JSON array, for scripts.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LinkCmd {
    /// Store a Dapi Connect success payload (from a file, or - for standard input).
    Dapi {
        /// The end user the connection belongs to. A name `users list` does
        /// not show is added as a new user once the connection is made.
        #[arg(long, value_parser = user_name)]
        user: String,
        /// The JSON Dapi Connect handed the app on success (accessCode,
        /// connectionID, userSecret, …): a file, or - for standard input;
        /// never the JSON itself, which would put its secrets in the shell's history.
        #[arg(long, value_name = "FILE|-")]
        payload: String,
        /// The Dapi provider's name in the config (default: the only one).
        #[arg(long)]
        provider: Option<String>,
        /// The bank's name, shown in the table (default: the provider's name).
        #[arg(long, default_value = "", hide_default_value = true)]
        label: String,
    },
}

#[derive(Debug, Args)]
pub struct Target {
    /// The connection's id (as `status` shows it); several are done one
    /// after another, each said on its own line.
    #[arg(required = true, value_name = "CONNECTION", value_parser = connection_id)]
    pub connections: Vec<i64>,
    /// Skip the confirmation (required for logout and delink when not on a terminal).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ExchangeArgs {
    /// The connection's id (as `status` shows it); several are exchanged
    /// one after another, each said on its own line.
    #[arg(required = true, value_name = "CONNECTION", value_parser = connection_id)]
    pub connections: Vec<i64>,
    /// Accepted for scripts that pass it to every operation; an exchange
    /// asks nothing.
    #[arg(long, hide = true)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// The connection's id (as `status` shows it); several are refreshed
    /// one after another, each said on its own line.
    #[arg(conflicts_with = "due", value_name = "CONNECTION", value_parser = connection_id)]
    pub connections: Vec<i64>,
    /// Instead of one connection, every one expiring within the window or
    /// expired and refreshable (what the dashboard's `R` takes), as many at
    /// once as each provider allows. Exit 1 when any failed.
    #[arg(long)]
    pub due: bool,
    /// With --due: the window, e.g. 10m (default: the config's warn_within).
    #[arg(
        long,
        value_name = "DURATION",
        conflicts_with = "connections",
        allow_hyphen_values = true
    )]
    pub within: Option<String>,
    /// With --due: only the connections whose user, label, provider, kind
    /// or state holds this text, in any case (the dashboard's `/` filter,
    /// which from 8 characters on reads provider ids too, as `R` takes the
    /// rows it shows; `!text` keeps the others): a cron line per provider,
    /// say. Exit 2 if it keeps none.
    #[arg(long, value_name = "TEXT", requires = "due")]
    pub matching: Option<String>,
    /// With --due: print nothing unless something failed or was stopped
    /// (cron mails whatever a job prints).
    #[arg(long, short, requires = "due")]
    pub quiet: bool,
    /// Accepted for scripts that pass it to every operation; a refresh
    /// asks nothing.
    #[arg(long, hide = true)]
    pub yes: bool,
}

/// `status --sort`: the screen's sort keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusSort {
    TimeLeft,
    User,
    Provider,
    State,
}

impl From<StatusSort> for crate::tui::SortKey {
    fn from(sort: StatusSort) -> Self {
        match sort {
            StatusSort::TimeLeft => Self::TimeLeft,
            StatusSort::User => Self::User,
            StatusSort::Provider => Self::Provider,
            StatusSort::State => Self::State,
        }
    }
}

/// `--op`: an operation by the name the audit log gives it.
/// The log's names of operations, offered to shell completion as they are.
fn operation() -> impl clap::builder::TypedValueParser<Value = OpKind> {
    use clap::builder::{PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(OpKind::KNOWN.iter().map(|k| k.as_str())).try_map(|name: String| {
        OpKind::parse(&name).ok_or_else(|| format!("no operation {name:?}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The option's own line names the variable; clap printed it again, as
    /// `[env: NAME=]` when unset, which reads as set to nothing.
    #[test]
    fn help_names_the_data_dir_variable_once_and_not_as_set_to_nothing() {
        let help = help_of("status");
        assert!(!help.contains("[env:"), "{help}");
        assert_eq!(help.matches("BANKDECK_DATA_DIR").count(), 1, "{help}");
    }

    fn help_of(sub: &str) -> String {
        // Built first, so the global options reach the subcommand's help.
        let mut cli = Cli::command();
        cli.build();
        (cli.find_subcommand_mut(sub).expect(sub))
            .render_long_help()
            .to_string()
    }

    /// An exchange asks nothing, so its help does not offer to skip the
    /// question; a script that passes `--yes` to every operation still runs.
    #[test]
    fn only_the_operations_that_ask_offer_yes() {
        assert!(!help_of("exchange").contains("--yes"));
        assert!(!help_of("refresh").contains("--yes"));
        assert!(help_of("logout").contains("--yes"));
        assert!(help_of("delink").contains("--yes"));
        for args in [["exchange", "1", "--yes"], ["refresh", "1", "--yes"]] {
            assert!(Cli::try_parse_from(["bankdeck"].iter().chain(&args)).is_ok());
        }
    }

    /// Every flag that takes a connection's id says what one is.
    #[test]
    fn a_connection_flag_that_is_no_id_says_where_ids_are() {
        let err = Cli::try_parse_from(["bankdeck", "audit", "--connection", "abc"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a connection id"), "{err}");
        assert!(err.contains("ID column of `bankdeck status`"), "{err}");
    }
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Move the lines older than --older-than to a new file, then out of the store.
    ///
    /// The file is JSON lines (one `audit --json` entry a line, oldest
    /// first), created 0600, never replacing one; the move is itself a line
    /// of the log, with the file's name and SHA-256. Lines move in the order
    /// they were written, up to the first that is not old enough.
    Archive {
        /// How old a line must be to move, e.g. 90d.
        #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
        older_than: String,
        /// The new file.
        #[arg(long, value_name = "PATH")]
        to: PathBuf,
    },
}

/// A user name as the store keeps one, refused here rather than after a
/// first command has made the store (or a browser login has been done).
fn user_name(text: &str) -> Result<String, String> {
    crate::domain::User::check_name(text)
        .map(str::to_owned)
        .map_err(str::to_owned)
}

fn email(text: &str) -> Result<String, String> {
    crate::domain::User::check_email(text)
        .map(str::to_owned)
        .map_err(str::to_owned)
}

/// A connection is named by its id alone: a user's name may hold several,
/// and a script must not act on the wrong one. A name gets the way to its ids
/// instead of the parser's "invalid digit found in string".
fn connection_id(text: &str) -> Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        Ok(_) => Err("a connection id is a number from 1 up, as `bankdeck status` shows".into()),
        Err(_) => Err(format!(
            "not a connection id: give the number in the ID column of `bankdeck status` \
             (`bankdeck status {}` lists the rows that match)",
            super::output::shell_word(text)
        )),
    }
}
