//! Integration tests of the SQLite store, through the public `Store` trait and
//! by looking at the bytes on disk the way an attacker or a crash would.

#[path = "store/common.rs"]
mod common;

#[path = "store/archive.rs"]
mod archive;
#[path = "store/bench.rs"]
mod bench;
#[path = "store/crash.rs"]
mod crash;
#[path = "store/damage.rs"]
mod damage;
#[path = "store/files.rs"]
mod files;
#[path = "store/group.rs"]
mod group;
#[path = "store/keys.rs"]
mod keys;
#[path = "store/renewals.rs"]
mod renewals;
#[path = "store/roundtrip.rs"]
mod roundtrip;
