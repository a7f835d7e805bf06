#!/usr/bin/env python3
"""Turns one crash-study boot's serial log into result rows (stdout, TSV) and
writes one file per crashed or failed guest into --crash-dir.

  study-collect.py --boot N --tcg T --cpu C --qemu-t0 EPOCH --loadlog FILE \
                   --crash-dir DIR serial.ts.log plan.txt

Row: boot seq arm vcpus load tcg cpu outcome seconds host_load served.
Guests of the plan that the boot never finished are not reported (the study
plans them again)."""
import argparse
import re
import sys

XEN_SPLIT = re.compile(r"\((XEN|d[0-9]+)\) \[ *[0-9]+\.[0-9]+\] ")


def lines_of(path):
    """(t, line) pairs, with Dom0 lines that Xen split rejoined (as run.sh's lines())."""
    out, pending = [], ""
    with open(path, errors="replace") as f:
        for raw in f:
            m = re.match(r"^ *([0-9.]+) (.*)$", raw.rstrip("\n"))
            if not m:
                continue
            t, line = float(m.group(1)), pending + m.group(2)
            pending = ""
            x = XEN_SPLIT.search(line)
            if x and x.start() > 1 and line[x.start() - 2:x.start()] != ": ":
                pending = line[: x.start()]
                line = line[x.start():]
            out.append((t, line))
    return out


def kv(line):
    return dict(re.findall(r"(\w+)=(\S*)", line))


def mean_load(loadlog, a, b):
    vals = []
    with open(loadlog) as f:
        for row in f:
            p = row.split()
            if len(p) == 2 and a <= float(p[0]) <= b:
                vals.append(float(p[1]))
    return f"{sum(vals) / len(vals):.2f}" if vals else "?"


def main():
    ap = argparse.ArgumentParser()
    for o in ("--boot", "--tcg", "--cpu", "--qemu-t0", "--loadlog", "--crash-dir"):
        ap.add_argument(o, required=True)
    ap.add_argument("serial")
    ap.add_argument("plan")
    a = ap.parse_args()
    try:
        lines = lines_of(a.serial)
    except OSError:
        return 0
    t0 = float(a.qemu_t0)
    begin, served = {}, {}
    for i, (t, line) in enumerate(lines):
        if line.startswith("E2E-STUDY-BEGIN "):
            begin[kv(line)["seq"]] = (t, i)
        elif line.startswith("E2E-STUDY-SERVED "):
            d = kv(line)
            served[d["seq"]] = line.split(" ", 2)[2] if line.count(" ") >= 2 else ""
        elif line.startswith("E2E-STUDY-END "):
            d = kv(line)
            seq = d["seq"]
            tb, ib = begin.get(seq, (t, i))
            outcome = d["outcome"] + (f":{d['reason']}" if d.get("reason") else "")
            row = [a.boot, seq, d["arm"], d["vcpus"], d["load"], a.tcg, a.cpu, outcome,
                   f"{t - tb:.0f}", mean_load(a.loadlog, t0 + tb - 5, t0 + t + 5),
                   served.get(seq, "").replace("\t", " ")]
            print("\t".join(row))
            if d["outcome"] != "ok":
                name = f"{a.crash_dir}/b{int(a.boot):03d}-s{int(seq):03d}-{d['arm']}-{d['outcome']}.txt"
                with open(name, "w") as f:
                    f.write("\t".join(row) + "\n")
                    last = len(lines) if d["outcome"] == "fatal" else i + 1
                    for _, l in lines[ib:last]:
                        f.write(l + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
