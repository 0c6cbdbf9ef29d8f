#!/usr/bin/env python
"""Start of `python run.py` to first page served, on an already set-up, already migrated instance.

Prints our figure next to its ceiling: the time the same interpreter takes just to import the
stack and build the app once (nothing can serve a page faster than that).
Usage: .venv/bin/python bench/startup.py [runs]
"""
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_run_py(instance: str) -> float:
    port = free_port()
    env = dict(os.environ, INSTANCE_DIR=instance, PORT=str(port), ADMIN_PASSWORD="Bench-senha-123",
               REDIS_NAMESPACE=f"bench-startup-{os.getpid()}")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "run.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/login/", timeout=0.5).status_code == 200:
                    return time.perf_counter() - t0
            except requests.RequestException:
                pass
            if proc.poll() is not None:
                raise RuntimeError("run.py exited")
            if time.perf_counter() - t0 > 60:
                raise RuntimeError("no page in 60 s")
            time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(30)


def time_import_ceiling(instance: str) -> float:
    env = dict(os.environ, INSTANCE_DIR=instance)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from app import create_app; create_app()"], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as instance:
        time_run_py(instance)  # set-up run: migrates and creates the admin
        ours = [time_run_py(instance) for _ in range(runs)]
        ceiling = [time_import_ceiling(instance) for _ in range(runs)]
    o, c = statistics.median(ours), statistics.median(ceiling)
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"run.py start -> first page served: median {o:.2f} s over {runs} runs (target <= 5 s)")
    print(f"ceiling (one interpreter importing the stack and building the app): {c:.2f} s")
    print(f"ratio ours/ceiling: {o / c:.2f}")


if __name__ == "__main__":
    main()
