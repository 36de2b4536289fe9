"""CPU cost of format inspection per GiB uploaded, beside MD5 of the same bytes.

    .venv/bin/python bench/format_inspect.py [--gib 1] [--chunk-kib 1024] [--runs 3]

Feeds ``--gib`` GiB of ``--chunk-kib`` chunks (one random chunk, reused) through
glance.formats.Inspector and asks for the result, as an upload does; the ceiling is MD5 of
the same chunks (the cheapest hash every upload computes anyway). Prints the best of
``--runs`` in CPU seconds per GiB. Not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time

from glance.formats import Inspector


def cpu(fn, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--chunk-kib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    chunk = os.urandom(args.chunk_kib * 1024)
    count = int(args.gib * (1 << 30)) // len(chunk)

    def inspect() -> None:
        inspector = Inspector()
        for _ in range(count):
            inspector.feed(chunk)
        inspector.result()

    def md5() -> None:
        digest = hashlib.md5(usedforsecurity=False)
        for _ in range(count):
            digest.update(chunk)

    per_gib = (1 << 30) / (count * len(chunk))
    spent, ceiling = cpu(inspect, args.runs) * per_gib, cpu(md5, args.runs) * per_gib
    print(f"inspection: {spent * 1000:.2f} ms CPU per GiB ({args.chunk_kib} KiB chunks); "
          f"MD5: {ceiling * 1000:.0f} ms per GiB; inspection/MD5 = {spent / ceiling:.4f}")


if __name__ == "__main__":
    main()
