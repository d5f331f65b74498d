#!/usr/bin/env python3
"""Counts, from the disassembly, what each lane-kernel layout executes per
nonce: vector ALU operations by kind, spill stores and reloads (stack
traffic of vector registers), register moves, scalar ALU operations (the
version lanes' shared schedule) and the bytes of the hot loop.

usage: kernel_counts.py [BUILD_DIR]     (default build)

Reads kernels/avx2.c.o and kernels/avx512.c.o under BUILD_DIR.  A scan
function's outer loop is one step (lanes x groups nonces, or versions x
groups headers for vscan); loops inside it of more than 150 instructions
are the rolled rounds (ROLLED layouts), which run 3 times per step (2r)
or 5 (2l: every middle round rolled; its version-lane twin loops hash 1's
rounds 4-59 too, 7 times); the small ones (the candidate recheck) almost
never run and are left out.  The version-lane 2l twin also builds a table
of hash 1's words for LANES nonces once every LANES/2 steps: the largest
out-of-line block that the step jumps to and back from is counted at that
weight.
"""
import collections
import os
import re
import subprocess
import sys

LAYOUTS = {  # function: (nonces or headers per step)
    "scan_avx2_1": 8, "scan_avx2_2": 16, "scan_avx2_2r": 16,
    "vscan_avx2_1": 8, "vscan_avx2_2": 16, "vscan_avx2_2r": 16,
    "scan_avx512_1": 16, "scan_avx512_2": 32, "scan_avx512_2r": 32,
    "vscan_avx512_1": 16, "vscan_avx512_2": 32, "vscan_avx512_2r": 32,
    "scan_avx2_2l": 16, "scan_avx512_2l": 32, "vscan_avx2_2l": 16, "vscan_avx512_2l": 32,
}
# Steps per table of hash 1's words (version-lane 2l: LANES nonces, 2 a step).
TABLE_STEPS = {"vscan_avx2_2l": 4, "vscan_avx512_2l": 8}


def rolled_trips(name):
    """Trips of the big inner loops, in address order."""
    if name.startswith("vscan_") and name.endswith("_2l"):
        return [7, 5]
    return [5, 5] if name.endswith("l") else [3, 3]
KINDS = [
    ("add", re.compile(r"^vpadd[dq]$")),
    ("logic3", re.compile(r"^vpternlog[dq]$")),
    ("rotate", re.compile(r"^vpro[rl][dq]$")),
    ("shift", re.compile(r"^vps[rl]l[dq]$|^vpsrad$")),
    ("logic", re.compile(r"^vp(and|andn|or|xor)[dq]?$")),
    ("shuffle", re.compile(r"^vpshufb$|^vpermd$|^vpshufd$")),
    ("broadcast", re.compile(r"^vpbroadcast[bdq]$")),
    ("compare", re.compile(r"^vpcmp|^vpmax|^vmovmskps$")),
]
SCALAR = re.compile(r"^(add|sub|xor|and|or|ror|rol|rorx|shr|shl|lea|not|andn|bswap|movbe)[lq]?$")
LINE = re.compile(r"^\s*([0-9a-f]+):\s+([a-z0-9]+)\s*(.*)$")


def functions(obj):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-M", "att", obj], capture_output=True,
                         text=True, check=True).stdout
    funcs, name = {}, None
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if m:
            name = m.group(1)
            funcs[name] = []
            continue
        m = LINE.match(line)
        if m and name:
            funcs[name].append((int(m.group(1), 16), m.group(2), m.group(3)))
    return funcs


def weights(insns, trips, table_steps=0):
    """Per instruction: how many times it runs per outer-loop step."""
    jumps = []
    for i, (addr, op, args) in enumerate(insns):
        if op.startswith("j"):
            m = re.match(r"^([0-9a-f]+)", args)
            if m and int(m.group(1), 16) < addr:
                target = next((j for j, x in enumerate(insns) if x[0] == int(m.group(1), 16)), None)
                if target is not None:
                    jumps.append((target, i))
    if not jumps:
        return None
    # The step's latch; with a table block, a conditional one (the block's
    # own jump back spans more).
    latches = [j for j in jumps if not table_steps or insns[j[1]][1] != "jmp"]
    outer = max(latches, key=lambda j: j[1] - j[0])
    w = [0] * len(insns)
    for k in range(outer[0], outer[1] + 1):
        w[k] = 1
    big = 0
    for t, j in sorted(jumps):
        if (t, j) == outer or t < outer[0] or j > outer[1]:
            continue
        if j - t > 150:
            for k in range(t, j + 1):
                w[k] = trips[min(big, len(trips) - 1)]
            big += 1
        else:
            for k in range(t, j + 1):
                w[k] = 0
    if table_steps:
        # Out of line after the loop: entered by a forward jump from the
        # step, left by a jump back into it.
        lo, hi = insns[outer[0]][0], insns[outer[1]][0]
        index = {x[0]: i for i, x in enumerate(insns)}
        best = None
        for i, (addr, op, args) in enumerate(insns[outer[0]:outer[1] + 1], outer[0]):
            m = re.match(r"^([0-9a-f]+)", args)
            if not (op.startswith("j") and m and int(m.group(1), 16) > hi):
                continue
            a = index.get(int(m.group(1), 16))
            for b in range(a or len(insns), len(insns)):
                mb = re.match(r"^([0-9a-f]+)", insns[b][2])
                if insns[b][1] == "jmp" and mb and lo <= int(mb.group(1), 16) <= hi:
                    if b - a > 150 and (not best or b - a > best[1] - best[0]):
                        best = (a, b)
                    break
        if best:
            for k in range(best[0], best[1] + 1):
                w[k] = 1.0 / table_steps
    return w, insns[outer[1]][0] - insns[outer[0]][0]


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    # The object library's directory (older trees: the library's own).
    d = os.path.join(build, "CMakeFiles/powkit_objects.dir/kernels")
    if not os.path.isdir(d):
        d = os.path.join(build, "CMakeFiles/powkit.dir/kernels")
    objs = [os.path.join(d, f) for f in ("avx2.c.o", "avx512.c.o")]
    print("per nonce (vscan: per header), from objdump; hot loop = the step's bytes")
    print("%-16s %7s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s %7s %8s" %
          ("function", "vecALU", "add", "tern", "rot", "shift", "logic", "shuf", "bcast", "spillS", "spillL",
           "moves", "scalar", "loop B"))
    for obj in objs:
        if not os.path.exists(obj):
            print("(%s not built)" % obj)
            continue
        for name, insns in sorted(functions(obj).items()):
            base = name.split(".")[0]
            if base not in LAYOUTS:
                continue
            got = weights(insns, rolled_trips(base), TABLE_STEPS.get(base, 0))
            if not got:
                continue
            w, loop_bytes = got
            per = LAYOUTS[base]
            c = collections.Counter()
            for (addr, op, args), k in zip(insns, w):
                if not k:
                    continue
                vec = "%ymm" in args or "%zmm" in args
                for kind, rx in KINDS:
                    if rx.match(op) and vec:
                        c[kind] += k
                        if kind not in ("broadcast", "shuffle") or op == "vpshufb":
                            c["alu"] += k
                        break
                if op.startswith("vmovdq") and vec:
                    if "(%rsp)" in args or "(%rbp)" in args:
                        src = args.split(",")[0]
                        c["spill_load" if "(" in src else "spill_store"] += k
                    elif "(" not in args:
                        c["moves"] += k
                if not vec and SCALAR.match(op):
                    c["scalar"] += k
            print("%-16s %7.1f %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f %7.1f %8d" % (
                base, c["alu"] / per, c["add"] / per, c["logic3"] / per, c["rotate"] / per, c["shift"] / per,
                c["logic"] / per, c["shuffle"] / per, c["broadcast"] / per, c["spill_store"] / per,
                c["spill_load"] / per, c["moves"] / per, c["scalar"] / per, loop_bytes))


if __name__ == "__main__":
    main()
