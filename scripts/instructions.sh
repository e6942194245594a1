#!/usr/bin/env bash
# Instructions per refresh, bankdeck's worker and the bare tokio + reqwest
# loop, counted by valgrind (callgrind): unlike time, a count the shared
# host's speed does not move, so it shows what a change did to the code.
# Each arm refreshes the same N grants once and three times over; the
# difference over 2N is the refreshes alone (set-up costs the same).
# Kernel work (syscalls, fsync, context switches) is not counted here.
# Usage: scripts/instructions.sh [N]   (default 2000; about 2 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
  echo "N is a number of refreshes (1 or more), not '$n'" >&2
  exit 2
fi
if ! command -v valgrind >/dev/null; then
  echo "needs valgrind: apt-get install valgrind" >&2
  exit 2
fi
cargo build --release --example refresh_throughput >&2
bin=${CARGO_TARGET_DIR:-target}/release/examples/refresh_throughput
count() { # ARM PASSES -> instructions of the whole run
  local out total
  out=$(ARM=$1 PASSES=$2 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$n" 2>&1) || true
  total=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$out")
  if [ -z "$total" ]; then
    echo "ARM=$1 PASSES=$2 gave no count; its output ends:" >&2
    tail -5 <<<"$out" >&2
    exit 1
  fi
  echo "$total"
}
declare -A per
for arm in bare bankdeck; do
  once=$(count "$arm" 1)
  thrice=$(count "$arm" 3)
  per[$arm]=$(( (thrice - once) / (2 * n) ))
  echo "$arm: ${per[$arm]} instructions per refresh"
done
awk -v b="${per[bare]}" -v d="${per[bankdeck]}" \
  'BEGIN { printf "ratio of instructions, bare / bankdeck: %.2f\n", b / d }'
