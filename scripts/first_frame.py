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
"""
import os
import re
import statistics
import sys
import tempfile
import time

from bench_process import Screen, tmux


def every_row_shown(pane):
    m = re.search(r"(\d+) of (\d+)", pane)
    return bool(m) and m.group(1) == m.group(2) and m.group(1) != "0"


def first_frame(binary, data, config, state):
    tmux("kill-server", check=False)
    time.sleep(0.5)
    screen = Screen([f"BANKDECK_DATA_DIR={data}", f"BANKDECK_CONFIG={config}",
                     f"XDG_STATE_HOME={state}"], binary)
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
    with tempfile.TemporaryDirectory(prefix="bankdeck-ff-") as tmp:
        config = os.path.join(tmp, "config.toml")
        with open(config, "w") as f:
            f.write("# first frame: no providers\n")
        times = {b: [] for b in binaries}
        for _ in range(rounds):
            for b in binaries:
                times[b].append(first_frame(b, data, config, os.path.join(tmp, "state")))
    for b, t in times.items():
        t.sort()
        print(f"{b}: median {statistics.median(t):.0f} ms ({t[0]:.0f}-{t[-1]:.0f}, n={len(t)})")


if __name__ == "__main__":
    main()
