#!/usr/bin/env python3
"""Tallies the crash study's results.tsv: per arm (with its vCPUs, load, TCG
threading and CPU model) the guests run, the guests whose kernel crashed, the
crash rate with its exact (Clopper-Pearson) 95% interval, and the two-sided
Fisher exact test against the no-device-model arm and against the daemon as
shipped under the same conditions.

  study-summary.py results.tsv [--markdown]"""
import math
import sys
from collections import OrderedDict


def binom_cdf(k, n, p):
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def clopper_pearson(k, n, alpha=0.05):
    """Exact two-sided (1 - alpha) interval for a binomial proportion k/n."""
    if n == 0:
        return (0.0, 1.0)

    def solve(f, target):  # f increasing in p on [0, 1]
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            if f(mid) < target:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    lower = 0.0 if k == 0 else solve(lambda p: 1 - binom_cdf(k - 1, n, p), alpha / 2)
    upper = 1.0 if k == n else solve(lambda p: 1 - binom_cdf(k, n, p), 1 - alpha / 2)
    return (lower, upper)


def fisher_two_sided(a, n1, b, n2):
    """P-value of Fisher's exact test for a/n1 vs b/n2 (two-sided, summing
    every table with the same margins no more likely than the observed one)."""
    k, n = a + b, n1 + n2
    if n == 0:
        return 1.0

    def prob(x):
        return math.comb(n1, x) * math.comb(n2, k - x) / math.comb(n, k)

    p_obs = prob(a)
    lo, hi = max(0, k - n2), min(k, n1)
    return min(1.0, sum(prob(x) for x in range(lo, hi + 1) if prob(x) <= p_obs * (1 + 1e-9)))


def load_rows(path):
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        return [dict(zip(head, line.rstrip("\n").split("\t"))) for line in f if line.strip()]


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    rows = load_rows(sys.argv[1])
    md = "--markdown" in sys.argv
    groups = OrderedDict()
    for r in sorted(rows, key=lambda r: (r["tcg"], r["cpu"], r["vcpus"], r["load"], r["arm"])):
        cond = (r["tcg"], r["cpu"], r["vcpus"], r["load"])
        g = groups.setdefault(cond + (r["arm"],), {"n": 0, "crash": 0, "fatal": 0, "secs": [], "load": []})
        out = r["outcome"].split(":")[0]
        if out == "fatal":  # hung or failed to start: neither a pass nor a crash
            g["fatal"] += 1
            continue
        g["n"] += 1
        g["crash"] += out == "crash"
        g["secs"].append(float(r["seconds"]))
        if r["host_load"] not in ("?", ""):
            g["load"].append(float(r["host_load"]))

    def ref(cond, arm):
        g = groups.get(cond + (arm,))
        return (g["crash"], g["n"]) if g else None

    hdr = ["tcg", "cpu", "vcpus", "dom0 load", "arm", "guests", "crashed", "rate", "95% CI",
           "p vs none", "p vs shipped", "other", "mean s", "host load"]
    out = []
    for key, g in groups.items():
        cond, arm = key[:4], key[4]
        lo, hi = clopper_pearson(g["crash"], g["n"])
        cols = []
        for other in ("none", "shipped"):
            r = ref(cond, other)
            skip = r is None or other == arm or r[1] == 0 or g["n"] == 0
            cols.append("-" if skip else f"{fisher_two_sided(g['crash'], g['n'], *r):.3f}")
        mean = lambda v: f"{sum(v) / len(v):.0f}" if v else "?"
        meanf = lambda v: f"{sum(v) / len(v):.1f}" if v else "?"
        out.append([cond[0], cond[1], cond[2], cond[3], arm, str(g["n"]), str(g["crash"]),
                    f"{100 * g['crash'] / g['n']:.0f}%" if g["n"] else "-",
                    f"{100 * lo:.0f}-{100 * hi:.0f}%", cols[0], cols[1],
                    f"{g['fatal']} hung/failed" if g["fatal"] else "", mean(g["secs"]), meanf(g["load"])])
    if md:
        print("| " + " | ".join(hdr) + " |")
        print("|" + "---|" * len(hdr))
        for o in out:
            print("| " + " | ".join(o) + " |")
    else:
        w = [max(len(h), *(len(o[i]) for o in out)) if out else len(h) for i, h in enumerate(hdr)]
        print("  ".join(h.ljust(w[i]) for i, h in enumerate(hdr)))
        for o in out:
            print("  ".join(c.ljust(w[i]) for i, c in enumerate(o)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
