"""Time a v2 copy-image between two file stores; print it beside a plain file copy.

    .venv/bin/python bench/copy_image.py [--size-mib 512] [--runs 3]

Starts its own glance-api (two file stores, fsync off) on a free loopback port with a
temporary data directory, uploads one image, copies it into the second store with
copy-image (streamed, MD5 and SHA-512 verified) and waits for the task to succeed; the
ceiling is shutil.copyfile of the stored file on the same disk. Prints medians. Not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from glance.testing import start_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="glance-bench-copy-"))
    stores = "".join(f'[stores.{n}]\ndriver = "file"\ndirectory = "{base / n}"\nfsync = false\n\n'
                     for n in ("a", "b"))
    (base / "glance.toml").write_text(f'[glance]\ndefault_store = "a"\n\n{stores}')
    source = base / "source.raw"
    with open(source, "wb") as out:
        for _ in range(args.size_mib):
            out.write(os.urandom(1 << 20))
    server = start_server(base / "data", ["--config", str(base / "glance.toml")])
    copies, ceilings = [], []
    try:
        with httpx.Client(base_url=server.url, timeout=600) as http:
            for _ in range(args.runs):
                image = http.post("/v2/images", json={"name": "bench", "disk_format": "raw",
                                                      "container_format": "bare"}).json()
                with open(source, "rb") as data:
                    http.put(f"/v2/images/{image['id']}/file", content=data,
                             headers={"Content-Type": "application/octet-stream"})
                start = time.monotonic()
                http.post(f"/v2/images/{image['id']}/import",
                          json={"method": {"name": "copy-image"}, "stores": ["b"]})
                while True:
                    task = http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"][0]
                    if task["status"] in ("success", "failure"):
                        break
                    time.sleep(0.01)
                assert task["status"] == "success", task
                copies.append(time.monotonic() - start)
                start = time.monotonic()
                shutil.copyfile(base / "a" / image["id"], base / "ceiling.raw")
                ceilings.append(time.monotonic() - start)
                os.unlink(base / "ceiling.raw")
                http.delete(f"/v2/images/{image['id']}")
    finally:
        server.stop()
        shutil.rmtree(base)
    copy_s, ceiling_s = statistics.median(copies), statistics.median(ceilings)
    print(f"copy-image {args.size_mib} MiB file→file: median {copy_s:.2f} s = "
          f"{args.size_mib / copy_s:.0f} MiB/s; shutil.copyfile: {ceiling_s:.2f} s = "
          f"{args.size_mib / ceiling_s:.0f} MiB/s; ratio {ceiling_s / copy_s:.2f}")


if __name__ == "__main__":
    main()
