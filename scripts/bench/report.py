#!/usr/bin/env python3
"""Merge one `make bench` run into results.json, results.md and plots.

usage: report.py OUTDIR

Reads OUTDIR/machine (key=value), OUTDIR/values (baselines, key=value),
OUTDIR/targets.jsonl (one row per target, written by bench_target) and
OUTDIR/raw/*.json (the generator's result objects), then writes
OUTDIR/results.json, OUTDIR/results.md and, when gnuplot is installed and
the scenarios left their data files (latency.dat, memory.dat), the PNG
plots latency.png and memory.png.
"""

import json
import os
import shutil
import subprocess
import sys


def kv(path):
    """A key=value file as a dict (missing file: empty)."""
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    out[k] = v
    return out


def fmt(v):
    """A number for the table: 3 significant digits, or '-'."""
    if v is None:
        return "-"
    if abs(v) >= 100:
        return "%.0f" % v
    return "%.3g" % v


def plot(outdir):
    """Draw the PNGs whose data files exist; returns their names."""
    made = []
    if shutil.which("gnuplot") is None:
        return made
    lat = os.path.join(outdir, "latency.dat")
    mem = os.path.join(outdir, "memory.dat")
    scripts = []
    if os.path.exists(lat) and os.path.getsize(lat) > 0:
        scripts.append(("latency.png", """
set terminal pngcairo size 800,500 noenhanced
set output '%s/latency.png'
set title 'Enrollment latency vs offered load (open loop)'
set xlabel 'offered enrollments/s'
set ylabel 'latency (ms)'
set key top left
set grid
set yrange [0:*]
plot '%s' using 2:3 index 0 with linespoints title 'via estcoapd p50', \\
     '' using 2:4 index 0 with linespoints title 'via estcoapd p99', \\
     '' using 2:3 index 1 with linespoints title 'direct HTTPS p50', \\
     '' using 2:4 index 1 with linespoints title 'direct HTTPS p99'
""" % (outdir, lat)))
    if os.path.exists(mem) and os.path.getsize(mem) > 0:
        scripts.append(("memory.png", """
set terminal pngcairo size 800,500 noenhanced
set output '%s/memory.png'
set title 'estcoapd RSS vs idle DTLS sessions'
set xlabel 'idle DTLS sessions'
set ylabel 'RSS (MB)'
set y2label 'KB per session'
set y2tics
set ytics nomirror
set yrange [0:*]
set y2range [0:*]
set key top left
set grid
plot '%s' using 1:($2/1024) with linespoints title 'RSS (MB)', \\
     '' using 1:3 axes x1y2 with linespoints title 'KB per session'
""" % (outdir, mem)))
    for name, gp in scripts:
        try:
            subprocess.run(["gnuplot"], input=gp.encode(), check=True,
                           timeout=60)
            made.append(name)
        except (subprocess.SubprocessError, OSError) as e:
            print("report: gnuplot %s: %s" % (name, e), file=sys.stderr)
    return made


def main():
    outdir = sys.argv[1]
    machine = kv(os.path.join(outdir, "machine"))
    values = kv(os.path.join(outdir, "values"))
    targets = []
    tpath = os.path.join(outdir, "targets.jsonl")
    if os.path.exists(tpath):
        with open(tpath) as f:
            targets = [json.loads(line) for line in f if line.strip()]
    raw = {}
    rawdir = os.path.join(outdir, "raw")
    if os.path.isdir(rawdir):
        for n in sorted(os.listdir(rawdir)):
            if n.endswith(".json"):
                try:
                    with open(os.path.join(rawdir, n)) as f:
                        raw[n[:-5]] = json.load(f)
                except (OSError, ValueError):
                    pass
    plots = plot(outdir)
    res = {"machine": machine, "baselines": values, "targets": targets,
           "plots": plots, "raw": raw}
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(res, f, indent=1)

    gated = [t for t in targets if not t["id"].startswith("B0.")]
    met = sum(1 for t in gated if t["met"] is True)
    lines = []
    lines.append("Machine: %s, %s cores; load average %s at start, %s at "
                 "end; pinning %s; scale %s; OpenSSL %s, libcoap %s; "
                 "commit %s, %s, %s s." % (
                     machine.get("cpu", "?"), machine.get("nproc", "?"),
                     machine.get("load_start", "?"),
                     machine.get("load_end", "?"),
                     machine.get("pinning", "?"),
                     machine.get("scale", "1"),
                     machine.get("openssl", "?"),
                     machine.get("libcoap", "?"),
                     machine.get("commit", "?"), machine.get("date", "?"),
                     machine.get("seconds", "?")))
    lines.append("")
    lines.append("B4 crowd: %s devices; B6 sessions: %s.%s" % (
        machine.get("b4_devices", "?"), machine.get("b6_sessions", "?"),
        " Re-run: %s." % machine["rerun"] if "rerun" in machine else ""))
    lines.append("")
    lines.append("%d of %d targets met." % (met, len(gated)))
    lines.append("")
    lines.append("| target | what | measured | baseline | ratio | goal "
                 "| met | note |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for t in targets:
        m = {True: "met", False: "**not met**", None: "-"}[t["met"]]
        if t["id"].startswith("B0."):
            m = "(baseline)"
        lines.append("| %s | %s | %s %s | %s | %s | %s | %s | %s |" % (
            t["id"], t["what"], fmt(t["value"]), t["unit"],
            fmt(t["baseline"]), fmt(t["ratio"]),
            t["goal"] if not t["id"].startswith("B0.") else "-", m,
            t["note"].replace("|", "/").strip("; ")))
    lines.append("")
    for p in plots:
        lines.append("![%s](%s)" % (p, p))
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
