#!/usr/bin/env python3
"""The raw Apertium engine with every line null-flushed: the mode's own programs, each with -z,
fed every line of TEXT_FILE as its own segment (formatted by apertium-destxt, then "\\n\\0"), all
at once. This is what a pipeline that keeps no context across segments can reach, beside
`apertium -u` streaming the file (where context crosses lines). Prints the best lines/s of RUNS.
  null_flush_ceiling.py MODE_FILE TEXT_FILE [RUNS]
"""
import re
import subprocess
import sys
import time

mode_file, text_file = sys.argv[1], sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
# As `apertium -u` runs the mode: $1 is the generator's mode (-n: unknown words unmarked).
command = open(mode_file).read().strip().replace("$1", "-n").replace("$2", "")
pipeline = " | ".join(re.sub(r"^(\S+)", r"\1 -z", s.strip()) for s in command.split("|"))
lines = open(text_file).read().split("\n")
if lines and lines[-1] == "":
    lines.pop()
# One apertium-destxt for every line, a separator line between them, then split.
separator = "QQVERSOSEPARATORQQ"
formatted = subprocess.run(["apertium-destxt", "-n"], input=("\n" + separator + "\n").join(lines) + "\n",
                           capture_output=True, text=True, check=True).stdout.split(separator)
if len(formatted) != len(lines):
    sys.exit(f"null_flush_ceiling: {len(formatted)} formatted segments for {len(lines)} lines")
data = "".join(f + "\n\0" for f in formatted).encode()
best = 0.0
for _ in range(runs):
    start = time.time()
    out = subprocess.run(["bash", "-c", "set -o pipefail; " + pipeline], input=data,
                         capture_output=True, check=True).stdout
    seconds = time.time() - start
    segments = out.count(b"\0")
    if segments < len(lines):
        sys.exit(f"null_flush_ceiling: {segments} segments came out of {len(lines)}")
    best = max(best, len(lines) / seconds)
print(f"{best:.1f}")
