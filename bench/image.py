"""Save a ~300 MB tree of ~18,000 files as an OCI archive; compare with tar and tar | gzip -1.

Usage: python bench/image.py [-n 3] [--mb 300] [--files 18000] [--random-share 0.25]

Builds the tree in a temp folder: files copied from this interpreter's site-packages (text,
bytecode, shared libraries) plus files of random bytes (incompressible, like wheels, archives
and media). Then times, in the same run and with the page cache warm, the median of ``-n``
runs of: `tar -cf /dev/null` (GNU tar skips reading file data there), `tar -c | cat`
(reads every byte: the read floor), `tar -c | gzip -1 > file`, and plan_layer +
write_oci_archive (what an image save runs). Prints MB/s of file data and archive sizes.
"""

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sysconfig
import tempfile
import time

from jupyter_modelarts.backends.local.image import plan_layer, write_oci_archive


def build_tree(root: str, total_bytes: int, files: int, random_share: float) -> tuple[int, int]:
    """Copy site-packages files, then add random ones up to the count; returns (files, bytes)."""
    source = sysconfig.get_paths()["purelib"]
    random_bytes = int(total_bytes * random_share)
    copied_bytes, copied_files = 0, 0
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            size = os.path.getsize(path)
            if copied_bytes + size > total_bytes - random_bytes or copied_files >= files - 1:
                continue
            target = os.path.join(root, "env", os.path.relpath(path, source))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(path, target)
            copied_bytes += size
            copied_files += 1
    random_files = files - copied_files
    rng = random.Random(0)
    mean = (total_bytes - copied_bytes) // random_files
    for i in range(random_files):
        folder = os.path.join(root, "data", f"{i % 50:02d}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"blob-{i}.bin"), "wb") as f:
            f.write(os.urandom(rng.randint(mean // 4, mean * 7 // 4)))
    tree_bytes = sum(
        os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(root) for n in names
    )
    return copied_files + random_files, tree_bytes


def timed(run) -> tuple[float, float]:
    """Wall-clock and CPU seconds (this process's threads and its children) of ``run()``."""

    def cpu() -> float:
        return sum(
            usage.ru_utime + usage.ru_stime
            for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        )

    start_cpu, start = cpu(), time.perf_counter()
    run()
    return time.perf_counter() - start, cpu() - start_cpu


def shell(command: str) -> None:
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3, help="runs of each (default 3; median)")
    parser.add_argument("--mb", type=int, default=300, help="tree size in MB (default 300)")
    parser.add_argument("--files", type=int, default=18000, help="files (default 18000)")
    parser.add_argument(
        "--random-share", type=float, default=0.25, help="share of random bytes (default 0.25)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-image-") as tmp:
        tree = os.path.join(tmp, "tree")
        count, tree_bytes = build_tree(tree, args.mb * 10**6, args.files, args.random_share)
        gz = os.path.join(tmp, "tree.tar.gz")
        oci = os.path.join(tmp, "tree.oci.tar")
        shell(f"tar -cf - -C {tree} . | cat > /dev/null")  # warm the page cache
        runs: dict[str, list[tuple[float, float]]] = {"tar": [], "read": [], "gzip": [], "ours": []}
        for _ in range(args.n):
            runs["tar"].append(timed(lambda: shell(f"tar -cf /dev/null -C {tree} .")))
            runs["read"].append(timed(lambda: shell(f"tar -cf - -C {tree} . | cat > /dev/null")))
            runs["gzip"].append(timed(lambda: shell(f"tar -cf - -C {tree} . | gzip -1 > {gz}")))
            runs["ours"].append(
                timed(
                    lambda: write_oci_archive(plan_layer([tree]), oci, ref_name="bench", labels={})
                )
            )
        gz_size, oci_size = os.path.getsize(gz), os.path.getsize(oci)
    rate = {name: tree_bytes / 1e6 / statistics.median(w for w, _ in r) for name, r in runs.items()}
    cpu = {name: statistics.median(c for _, c in r) for name, r in runs.items()}
    print(
        f"tree: {count} files, {tree_bytes / 1e6:.1f} MB "
        f"({args.random_share:.0%} random bytes), {os.cpu_count()} CPUs, median of {args.n}"
    )
    print(f"{'':40}{'wall':>10} {'CPU':>8} {'archive':>10}")
    rows = [
        ("tar -cf /dev/null (walk, no data read)", "tar", None),
        ("tar -c | cat (read floor)", "read", None),
        ("tar -c | gzip -1", "gzip", gz_size),
        ("plan_layer + write_oci_archive", "ours", oci_size),
    ]
    for label, name, size in rows:
        archive = f"{size / 1e6:7.1f} MB" if size else ""
        print(f"{label:40}{rate[name]:6.1f} MB/s {cpu[name]:6.2f} s {archive:>10}")
    print(
        f"ours / tar | gzip -1: {rate['ours'] / rate['gzip']:.2f}x the speed, "
        f"{cpu['gzip'] / cpu['ours']:.2f}x less CPU, {oci_size / gz_size:.3f}x the size"
    )


if __name__ == "__main__":
    main()
