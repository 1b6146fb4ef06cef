#!/usr/bin/env python3
"""Writes the King James Bible as a flat file of byte tokens (vocab 256, uint16).

usage: prepare_data.py OUT.bin
The text comes from Debian's bible-kjv package (scripts/setup.sh installs it): `bible -f`
prints one verse a line behind its reference ("Ge1:1 In the beginning ..."); the references
are dropped, so the model learns the prose. uint16 in native byte order is the format
`pprun --data FILE --data-dtype uint16` and train.py read (nanoGPT's).
"""
import shutil
import subprocess
import sys

import numpy as np


def main():
    out = sys.argv[1]
    if shutil.which("bible") is None:
        sys.exit("prepare_data.py: no `bible` program; install Debian's bible-kjv "
                 "(scripts/setup.sh does)")
    # Without -f, bible pretty-prints; with it, one "REF text" line per verse. stdin is closed
    # so it never waits for interactive commands.
    text = subprocess.run(["bible", "-f", "gen1:1-rev22:21"], stdin=subprocess.DEVNULL,
                          capture_output=True, check=True).stdout
    verses = [line.split(b" ", 1)[1] for line in text.splitlines() if b" " in line]
    data = b"\n".join(verses) + b"\n"
    np.frombuffer(data, dtype=np.uint8).astype(np.uint16).tofile(out)
    print(f"{out}: {len(data):,} byte tokens, {len(verses):,} verses of the KJV")


if __name__ == "__main__":
    main()
