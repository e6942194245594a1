#!/usr/bin/env bash
# Whole-process benchmarks of bankdeck at 100 000 connections: time to first
# frame of the real binary in tmux, resident memory, idle CPU over 60 s, the
# refresh-throughput ratio against a bare tokio+reqwest loop (same run), and
# a key press while 1 000 refreshes hang. `--quick` runs a smaller, shorter
# version (20 000 connections, 10 s idle window). The in-process figures are
# `cargo bench`. See BENCHMARKS.md for the figures and the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin bankdeck --example refresh_throughput --example stall_keypress
exec python3 scripts/bench_process.py "$@"
