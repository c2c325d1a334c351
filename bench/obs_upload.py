"""Peak memory of a process uploading a 2 GB file through ObsClient to the fake OBS.

Usage: python bench/obs_upload.py [--size-mb 2048] [--part-mb 8] [--parallel 4] [--no-server]

The fake cloud (tests/fake_modelarts, signatures checked) serves in this process; the upload
runs in a child process, as the Jupyter server would run it, on a sparse file in a temp dir.
Prints the child's resident memory before the upload and its peak during it (VmHWM, reset after
start-up), next to baselines measured in the same run: `cat file > /dev/null` (sampled) and a
bare `python -c` importing the client. Then the time of the one MD5 pass and of the upload.
Then the same file as a job's code, submitted through a real Jupyter server on the cloud
backend: the server's RSS before the submit and its peak until the 201 (VmHWM reset first).
Linux only (/proc).
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

import psutil

MiB = 1024 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))


def status(name: str, pid: str = "self") -> int:
    """A /proc/<pid>/status memory figure, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        line = next(line for line in f if line.startswith(name + ":"))
    return int(line.split()[1]) * 1024


async def upload(endpoint: str, path: str, part_mb: int, parallel: int) -> dict:
    from jupyter_modelarts.backends.modelarts.auth import Credentials
    from jupyter_modelarts.backends.modelarts.obs import ObsClient
    from jupyter_modelarts.backends.modelarts.obs_files import HASH_POOL, digest_file
    from jupyter_modelarts.backends.snapshot import in_pool

    creds = Credentials(sys.stdin.readline().strip(), sys.stdin.readline().strip())

    async def keys():
        return creds

    obs = ObsClient(endpoint, keys, part_size=part_mb * MiB, part_concurrency=parallel)
    await obs.list_objects("bucket", "warm-up/")  # connections and lazy imports made
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS: the peak from here on
    before = status("VmRSS")
    cpu = os.times()
    started = time.perf_counter()
    digest = await in_pool(HASH_POOL, digest_file, path, obs.part_size_for)
    hashed = time.perf_counter()
    await obs.upload_file("bucket", "bench/big.bin", path, digest=digest)
    done = time.perf_counter()
    used = os.times()
    await obs.aclose()
    return {
        "before": before,
        "peak": status("VmHWM"),
        "hash_s": hashed - started,
        "upload_s": done - hashed,
        "parts": len(digest.parts),
        "cpu_s": used.user + used.system - cpu.user - cpu.system,
    }


def child(args: argparse.Namespace) -> None:
    result = asyncio.run(upload(args.endpoint, args.path, args.part_mb, args.parallel))
    print(json.dumps(result))


def bare_python() -> int:
    """Peak RSS of an interpreter that only imports the client."""
    code = (
        "import jupyter_modelarts.backends.modelarts.obs\n"
        "with open('/proc/self/status') as f:\n"
        "    print(next(l for l in f if l.startswith('VmHWM:')).split()[1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout) * 1024


def cat(path: str) -> tuple[int, float]:
    """Peak sampled RSS of `cat path > /dev/null`, and its seconds."""
    started = time.perf_counter()
    proc = subprocess.Popen(["cat", path], stdout=subprocess.DEVNULL)
    peak = 0
    watched = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.001)
    return peak, time.perf_counter() - started


def through_server(size: int) -> dict:
    """Submit a job whose code folder holds a ``size``-byte file; the server's memory."""
    from cloud_jobs import launch, start_fake

    with tempfile.TemporaryDirectory(prefix="obs-bench-server-") as tmp:
        fake = start_fake(tmp)
        server, client = launch(tmp, fake)
        try:
            code = os.path.join(tmp, "project")
            os.makedirs(code)
            with open(os.path.join(code, "weights.bin"), "wb") as f:
                f.truncate(size)
            with open(os.path.join(code, "train.py"), "w") as f:
                f.write("print('ok')\n")
            with open(f"/proc/{server.pid}/clear_refs", "w") as f:
                f.write("5")
            before = status("VmRSS", str(server.pid))
            started = time.perf_counter()
            body = {"name": "big-code", "code_dir": "project", "boot_file": "train.py"}
            response = client.post("jobs", json=body, timeout=1200)
            response.raise_for_status()
            took = time.perf_counter() - started
            peak = status("VmHWM", str(server.pid))
            stored = fake.buckets["bucket"]
            sent = [len(v) for k, v in stored.items() if k.endswith("/code/weights.bin")]
            if sent != [size]:
                raise SystemExit(f"the fake holds {sent} bytes of weights.bin, not {size}")
        finally:
            server.terminate()
            server.wait(20)
            client.close()
            fake.stop()
    return {"before": before, "peak": peak, "seconds": took}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=2048, help="file size (default 2048)")
    parser.add_argument("--part-mb", type=int, default=8, help="part size (default 8)")
    parser.add_argument("--parallel", type=int, default=4, help="parts at once (default 4)")
    parser.add_argument(
        "--no-server", action="store_true", help="skip the submit through a Jupyter server"
    )
    parser.add_argument("--child", nargs=2, metavar=("ENDPOINT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.endpoint, args.path = args.child
        child(args)
        return

    sys.path.insert(0, os.path.join(HERE, "..", "tests"))
    from fake_modelarts import FakeCloud

    fake = FakeCloud()
    fake.start()
    fake.buckets["bucket"] = {}
    size = args.size_mb * MiB
    try:
        with tempfile.TemporaryDirectory(prefix="obs-bench-") as tmp:
            path = os.path.join(tmp, "big.bin")
            with open(path, "wb") as f:
                f.truncate(size)  # sparse: no disk, same bytes on every read
            cat_peak, cat_s = cat(path)
            python_peak = bare_python()
            fake_cpu = os.times()
            proc = subprocess.run(
                [sys.executable, __file__, "--child", f"{fake.base_url}/obs", path]
                + [f"--part-mb={args.part_mb}", f"--parallel={args.parallel}"],
                input=f"{fake.ak}\n{fake.sk}\n",
                capture_output=True,
                text=True,
            )
            if proc.returncode:
                raise SystemExit(proc.stderr)
            up = json.loads(proc.stdout)
            now = os.times()
            up["fake_cpu_s"] = now.user + now.system - fake_cpu.user - fake_cpu.system
            stored = len(fake.buckets["bucket"]["bench/big.bin"])
            if stored != size:
                raise SystemExit(f"the fake holds {stored} bytes, not {size}")
    finally:
        fake.stop()

    mib = size / MiB
    growth = up["peak"] - up["before"]
    rows = [
        ("baseline: cat file > /dev/null", f"peak RSS {cat_peak / MiB:7.1f} MiB", mib / cat_s),
        ("baseline: bare python -c (imports)", f"peak RSS {python_peak / MiB:7.1f} MiB", None),
        ("uploader: before the upload", f"RSS      {up['before'] / MiB:7.1f} MiB", None),
        ("uploader: peak during the upload", f"peak RSS {up['peak'] / MiB:7.1f} MiB", None),
        ("MD5 pass (whole file and parts)", f"{up['hash_s']:8.2f} s", mib / up["hash_s"]),
        (
            f"upload: {up['parts']} parts of {args.part_mb} MiB, {args.parallel} at once",
            f"{up['upload_s']:8.2f} s",
            mib / up["upload_s"],
        ),
        (
            "hash + upload",
            f"{up['hash_s'] + up['upload_s']:8.2f} s",
            mib / (up["hash_s"] + up["upload_s"]),
        ),
    ]
    print(f"{mib:.0f} MiB sparse file, fake OBS on 127.0.0.1 (path-style, signatures checked)")
    for what, figure, rate in rows:
        print(f"  {what:<44} {figure:<22} {f'{rate:8.0f} MiB/s' if rate else ''}")
    wall = up["hash_s"] + up["upload_s"]
    print(
        f"peak RSS grew {growth / MiB:.1f} MiB during the upload ({growth / size:.2%} of the "
        f"file); the uploader used {up['cpu_s']:.1f} s of CPU in {wall:.1f} s, the fake OBS "
        f"(this process) {up['fake_cpu_s']:.1f} s"
    )
    if not args.no_server:
        sys.path.insert(0, HERE)
        srv = through_server(size)
        grew = srv["peak"] - srv["before"]
        print(
            f"Jupyter server submitting a job whose code holds the file: RSS "
            f"{srv['before'] / MiB:.1f} MiB before, peak {srv['peak'] / MiB:.1f} MiB until the "
            f"201 (+{grew / MiB:.1f} MiB, {grew / size:.2%} of the file), {srv['seconds']:.1f} s"
        )


if __name__ == "__main__":
    main()
