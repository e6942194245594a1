#!/usr/bin/env python3
"""Time to first frame of one or more bankdeck binaries, start-ups interleaved.

    scripts/first_frame.py ROUNDS DATA_DIR BINARY...

Starts each binary in turn in a 160x50 tmux window on the same store
(DATA_DIR, e.g. from `bankdeck generate`; the key file is found the usual way
or through BANKDECK_KEY_FILE) with a config that has no providers, and looks
at the pane after each write to it until the table header shows every
connection (see `bench_process.Screen`).
Interleaving puts the host's drift on every binary alike, so two builds can
be compared on this noisy machine.

With DEAD_PORT=1 the config instead has an auto-refresh provider whose
endpoint refuses every connection (the bench's "first frame with an
auto-refresh provider failing every due connection"), and each start is on a
fresh copy of DATA_DIR, since the failures it records change the store.
"""
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

from bench_process import Screen, tmux


def every_row_shown(pane):
    m = re.search(r"(\d+) of (\d+)", pane)
    return bool(m) and m.group(1) == m.group(2) and m.group(1) != "0"


DEAD_PORT = ('[providers.bank]\nkind = "oauth2"\ntoken_url = "http://127.0.0.1:9/token"\n'
             'client_id = "bench"\nclient_secret = "env:BENCH_CLIENT_SECRET"\nauto_refresh = true\n')


def first_frame(binary, data, config, state, extra=()):
    tmux("kill-server", check=False)
    time.sleep(0.5)
    screen = Screen([f"BANKDECK_DATA_DIR={data}", f"BANKDECK_CONFIG={config}",
                     f"XDG_STATE_HOME={state}", *extra], binary)
    try:
        return screen.wait_for(every_row_shown, f"every connection ({binary})")
    finally:
        screen.stop()


def main():
    if len(sys.argv) < 4 or not sys.argv[1].isdigit():
        raise SystemExit(__doc__)
    rounds, data, binaries = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    # bankdeck would create an empty store there and never show a table.
    if not os.path.isfile(os.path.join(data, "bankdeck.db")):
        raise SystemExit(f"{data}: no bankdeck store there; make one with "
                         f"`bankdeck generate --connections 100000 --users 10000 --data-dir {data}`")
    for b in binaries:
        if not os.access(b, os.X_OK):
            raise SystemExit(f"{b}: not an executable; build it with `cargo build --release`")
    dead_port = os.environ.get("DEAD_PORT") == "1"
    with tempfile.TemporaryDirectory(prefix="bankdeck-ff-") as tmp:
        config = os.path.join(tmp, "config.toml")
        with open(config, "w") as f:
            f.write(DEAD_PORT if dead_port else "# first frame: no providers\n")
        extra = ["BENCH_CLIENT_SECRET=bench-secret"] if dead_port else []
        times = {b: [] for b in binaries}
        for _ in range(rounds):
            for b in binaries:
                at = data
                if dead_port:
                    at = os.path.join(tmp, "data")
                    shutil.rmtree(at, ignore_errors=True)
                    shutil.copytree(data, at)
                state = os.path.join(tmp, "state")
                times[b].append(first_frame(b, at, config, state, extra))
    for b, t in times.items():
        t.sort()
        print(f"{b}: median {statistics.median(t):.0f} ms ({t[0]:.0f}-{t[-1]:.0f}, n={len(t)})")


if __name__ == "__main__":
    main()
