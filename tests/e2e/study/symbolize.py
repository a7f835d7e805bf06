#!/usr/bin/env python3
"""Symbolises the raw guest-kernel addresses in a crash-study crash file
(xenctx registers and stack words), with the guest kernel's System.map and,
to find the KASLR slide when the guest never printed it, its vmlinux.

  symbolize.py SYSTEM_MAP [--vmlinux VMLINUX] CRASH_FILE...

Both come from Debian's linux-image-<version>-dbg package (the System.map in
linux-image-<version> is a placeholder):
  apt-get download linux-image-6.1.0-57-amd64-dbg
  dpkg-deb --fsys-tarfile linux-image-*-dbg_*.deb | tar -x \\
    ./usr/lib/debug/boot/System.map-6.1.0-57-amd64 ./usr/lib/debug/boot/vmlinux-6.1.0-57-amd64

The slide is taken from the guest's "E2E-GUEST-KERNEL <addr> T _text" line
when present; otherwise it is the 2 MiB multiple under which the most stack
words are return addresses of a direct call to a function start (checked in
vmlinux's .text), as a kernel stack's return addresses must be."""
import bisect
import re
import struct
import sys

KERNEL_MIN = 0xFFFFFFFF80000000
SLIDE_STEP = 2 << 20
SLIDE_SLOTS = 512  # x86-64 KASLR: the image moves within 1 GiB
CALL_REL32 = 0xE8


def load_map(path):
    syms = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 3 and p[1] in "tTwW":
                syms.append((int(p[0], 16), p[2]))
    syms.sort()
    return syms


class Text:
    """vmlinux's .text: its bytes by unslid virtual address."""

    def __init__(self, path):
        with open(path, "rb") as f:
            ehdr = f.read(64)
            shoff, = struct.unpack_from("<Q", ehdr, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ehdr, 0x3A)
            f.seek(shoff)
            shdrs = [struct.unpack("<IIQQQQIIQQ", f.read(shentsize)[:64]) for _ in range(shnum)]
            strtab = shdrs[shstrndx]
            f.seek(strtab[4])
            names = f.read(strtab[5])
            for sh in shdrs:
                name = names[sh[0]:names.index(b"\0", sh[0])]
                if name == b".text":
                    self.addr, off, size = sh[3], sh[4], sh[5]
                    f.seek(off)
                    self.data = f.read(size)
                    return
        raise ValueError("no .text in " + path)

    def byte(self, addr):
        i = addr - self.addr
        return self.data[i] if 0 <= i < len(self.data) else None

    def call_target(self, ret):
        """Target of a 5-byte direct call ending at `ret`, or None."""
        i = ret - 5 - self.addr
        if not 0 <= i < len(self.data) - 5 or self.data[i] != CALL_REL32:
            return None
        rel, = struct.unpack_from("<i", self.data, i + 1)
        return ret + rel


def symbolise(syms, addrs_sorted, addr):
    i = bisect.bisect_right(addrs_sorted, addr) - 1
    if i < 0:
        return "?"
    base, name = syms[i]
    return f"{name}+{addr - base:#x}"


def guess_slide(words, syms, text):
    starts = {a for a, _ in syms}
    best, best_score = None, 0
    for k in range(SLIDE_SLOTS):
        slide = k * SLIDE_STEP
        score = sum(1 for w in words if text.call_target(w - slide) in starts)
        if score > best_score:
            best, best_score = slide, score
    return best, best_score


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    syms = load_map(args.pop(0))
    addrs_sorted = [a for a, _ in syms]
    text_base = dict((n, a) for a, n in syms)["_text"]
    text = None
    if args and args[0] == "--vmlinux":
        args.pop(0)
        text = Text(args.pop(0))
    for path in args:
        with open(path, errors="replace") as f:
            content = f.read()
        words = sorted({int(w, 16) for w in re.findall(r"\b(ffffffff[89a-f][0-9a-f]{7})\b", content)})
        m = re.search(r"E2E-GUEST-KERNEL ([0-9a-f]{16}) T _text", content)
        if m:
            slide, how = int(m.group(1), 16) - text_base, "from the guest's _text"
        elif text:
            slide, score = guess_slide(words, syms, text)
            how = f"guessed: {score} stack words are call return addresses under it"
        else:
            slide, how = None, "unknown (give --vmlinux)"
        print(f"== {path}: KASLR slide {slide:#x} ({how})" if slide is not None else f"== {path}: slide {how}")
        if slide is None:
            continue
        for line in content.splitlines():
            hits = [w for w in re.findall(r"\b(ffffffff[89a-f][0-9a-f]{7})\b", line)]
            if not hits or "xenctx" not in line:
                continue
            syms_here = []
            for h in hits:
                a = int(h, 16) - slide
                if KERNEL_MIN <= a and addrs_sorted[0] <= a <= addrs_sorted[-1] + 0x100000:
                    s = symbolise(syms, addrs_sorted, a)
                    ret = text.call_target(a) if text else None
                    syms_here.append(f"{h}={s}" + (" (ret)" if ret is not None else ""))
            if syms_here:
                print(f"{line.strip()[:100]}\n    -> {'  '.join(syms_here)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
