#!/usr/bin/env python3
"""Renders a PNG of the running demo for the README.

Starts `bankdeck --demo` in tmux, opens the detail pane of an OIDC row,
captures the pane with its colours (`capture-pane -e`) and draws every cell
with DejaVu Sans Mono. Needs tmux, Pillow (pip install pillow) and the
DejaVu fonts (apt-get install fonts-dejavu-core).

usage: scripts/screenshot.py [BINARY] [OUT.png]
"""
import re
import subprocess
import sys
import time

from PIL import Image, ImageDraw, ImageFont

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/bankdeck"
OUT = sys.argv[2] if len(sys.argv) > 2 else "assets/screenshot.png"
W, H = 150, 42
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
SIZE = 15

BASE16 = [
    (30, 30, 36), (205, 70, 70), (95, 185, 95), (215, 180, 70),
    (90, 140, 225), (190, 110, 200), (80, 185, 190), (205, 205, 210),
    (110, 110, 120), (240, 100, 100), (130, 220, 130), (240, 215, 110),
    (130, 170, 245), (215, 150, 225), (120, 215, 220), (245, 245, 245),
]
BG = (24, 25, 30)
FG = (215, 215, 220)


def color256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


def tmux(*args):
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def wait_for(session, text, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if text in tmux("capture-pane", "-p", "-t", session):
            return
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {text!r}")


def capture():
    session = "bankdeck-shot"
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    tmux("new-session", "-d", "-s", session, "-x", str(W), "-y", str(H),
         f"TERM=xterm-256color {BIN} --demo")
    try:
        wait_for(session, "mei.chen")
        # The seventh row by time left is a healthy OIDC login.
        for _ in range(6):
            tmux("send-keys", "-t", session, "j")
        tmux("send-keys", "-t", session, "Enter")
        wait_for(session, "claims")
        time.sleep(1.2)
        return tmux("capture-pane", "-e", "-p", "-t", session)
    finally:
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], capture_output=True)
        time.sleep(0.5)
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


SGR = re.compile(r"\x1b\[([0-9;]*)m")


def apply_sgr(params, st):
    codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            st.update(fg=FG, bg=BG, bold=False, rev=False)
        elif c == 1:
            st["bold"] = True
        elif c == 22:
            st["bold"] = False
        elif c == 7:
            st["rev"] = True
        elif c == 27:
            st["rev"] = False
        elif 30 <= c <= 37:
            st["fg"] = BASE16[c - 30]
        elif 90 <= c <= 97:
            st["fg"] = BASE16[c - 90 + 8]
        elif 40 <= c <= 47:
            st["bg"] = BASE16[c - 40]
        elif 100 <= c <= 107:
            st["bg"] = BASE16[c - 100 + 8]
        elif c == 39:
            st["fg"] = FG
        elif c == 49:
            st["bg"] = BG
        elif c in (38, 48) and i + 1 < len(codes):
            key = "fg" if c == 38 else "bg"
            if codes[i + 1] == 5 and i + 2 < len(codes):
                st[key] = color256(codes[i + 2])
                i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                st[key] = tuple(codes[i + 2:i + 5])
                i += 4
        i += 1


def render(text):
    font, bold = ImageFont.truetype(FONT, SIZE), ImageFont.truetype(BOLD, SIZE)
    cw = int(font.getlength("M"))
    ch = SIZE + 4
    img = Image.new("RGB", (cw * W + 16, ch * H + 16), BG)
    draw = ImageDraw.Draw(img)
    for y, line in enumerate(text.split("\n")[:H]):
        st = dict(fg=FG, bg=BG, bold=False, rev=False)
        x, pos = 0, 0
        for m in SGR.finditer(line + "\x1b[m"):
            for char in line[pos:m.start()]:
                fg, bg = (st["bg"], st["fg"]) if st["rev"] else (st["fg"], st["bg"])
                px, py = 8 + x * cw, 8 + y * ch
                if bg != BG:
                    draw.rectangle([px, py, px + cw, py + ch], fill=bg)
                draw.text((px, py + 1), char, font=bold if st["bold"] else font, fill=fg)
                x += 1
            apply_sgr(m.group(1), st)
            pos = m.end()
    img.save(OUT)


if __name__ == "__main__":
    render(capture())
    print(f"wrote {OUT}")
