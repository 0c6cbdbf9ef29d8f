#!/usr/bin/env python
"""Memory per connected WhatsApp number: `python bench/bridge_memory.py [--numbers 3]`.

Starts the real thing in a throw-away instance (SQLite, its own Redis namespace): the web process
with the simulator, the bridge supervisor and its bridge workers; links N simulated numbers by
scanning their QR codes through the simulator's control API; then sums the PSS (proportional set
size, /proc/PID/smaps_rollup: shared pages divided among their users) of every process of each
number (its bridge worker, a session horse if there is one, Playwright's driver, every Chromium
process: browser, zygotes, GPU, utilities, renderers with the simulator page; also any process
outside that tree naming the number's profile), and prints it per number with the breakdown per
kind of process, the fixed part (supervisor, spare worker, web) and the bridge's total, next to the
machine's total memory and the load average. PSS per number falls as numbers are added (shared
pages are divided among more processes): run it with several --numbers and compare the totals.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def mb(n: float) -> str:
    return f"{n / 1024 / 1024:,.0f} MB"


def pss_tree(root: psutil.Process) -> int:
    total = 0
    for proc in [root] + root.children(recursive=True):
        try:
            total += proc.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def pss(proc: psutil.Process) -> int:
    try:
        return proc.memory_full_info().pss
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def label(proc: psutil.Process) -> str:
    """What a process of a number is: its Python, the Playwright driver, or which Chromium process."""
    try:
        cmdline, name = proc.cmdline(), proc.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "gone"
    if "python" in name or name == "rq":
        return "session horse (Python)"
    if "node" in name:
        return "Playwright driver (node)"
    kind = next((a.split("=", 1)[1] for a in cmdline if a.startswith("--type=")), "browser")
    sub = next((a.split("=", 1)[1] for a in cmdline if a.startswith("--utility-sub-type=")), "")
    if sub:
        kind += " " + sub.rsplit(".", 1)[-1]
    if "--extension-process" in cmdline:
        kind += " extension"
    return f"Chromium {kind}"


def report(sup: psutil.Process, web: psutil.Process, instance: Path, load_before) -> None:
    workers = sup.children()
    busy = [w for w in workers if w.children()]
    idle = [w for w in workers if not w.children()]
    sessions = instance / "sessions"
    per_number, parts, counts = [], {}, {}
    for worker in busy:
        tree = [worker] + worker.children(recursive=True)
        pids = {p.pid for p in tree}
        # Chromium processes that left the tree (double-forked helpers) still belong to the number:
        # find them by the number's profile on their command line.
        profiles = set()
        for proc in tree:
            try:
                profiles.update(a for a in proc.cmdline() if a.startswith(f"--user-data-dir={sessions}"))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        for proc in psutil.process_iter(["cmdline"]):
            if proc.pid not in pids and profiles & set(proc.info.get("cmdline") or []):
                tree.append(proc)
                pids.add(proc.pid)
        total = 0
        for proc in tree:
            size = pss(proc)
            what = "bridge worker (Python)" if proc.pid == worker.pid else label(proc)
            total += size
            parts[what] = parts.get(what, 0) + size
            counts[what] = counts.get(what, 0) + 1
        per_number.append(total)
    n = len(per_number)
    vm = psutil.virtual_memory()
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"ceiling: machine memory {mb(vm.total)} total, {mb(vm.available)} available")
    print(f"per connected number (PSS):      {mb(sum(per_number) / n)} "
          f"(every process of the number; min {mb(min(per_number))}, max {mb(max(per_number))}; target 250 MB)")
    print("  of which, per number (processes per number, PSS):")
    for what, size in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"    {what:<45} {counts[what] / n:>4.1f}  {mb(size / n):>8}")
    fixed = pss(sup) + sum(pss_tree(w) for w in idle)
    print(f"fixed: bridge supervisor {mb(pss(sup))}, spare bridge worker(s) {mb(sum(pss_tree(w) for w in idle))}, "
          f"web process with simulator {mb(pss_tree(web))}")
    # Shared pages (libraries, the supervisor's preloaded application) are divided among more
    # processes as numbers are added: compare this total across --numbers for the cost of one more.
    print(f"bridge total for {n} number(s) (numbers + supervisor + spare worker): {mb(sum(per_number) + fixed)}")
    print(f"ratio: {sum(per_number) / n / vm.total:.4f} of the machine's memory per number; about "
          f"{int(vm.available / (sum(per_number) / n))} more numbers would fit in the memory available now")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=3, help="how many numbers to connect")
    # Two minutes: a bridge worker's first full garbage collection comes about a minute after it
    # starts, and what it touches is what a number costs from then on (15 s measured before it).
    parser.add_argument("--settle", type=float, default=120, help="seconds to let pages settle before measuring")
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="conecta-bench-"))
    port = free_port()
    from app.embedded_redis import resolve_redis_url

    redis_url, embedded = resolve_redis_url(instance / "redis")
    env = dict(os.environ, INSTANCE_DIR=str(instance), DATABASE_URL="sqlite:///" + str(instance / "bench.db"),
               REDIS_URL=redis_url, REDIS_NAMESPACE="bench-" + uuid.uuid4().hex[:8], SIMULATOR="1",
               HOST="127.0.0.1", PORT=str(port), SECRET_KEY="bench-secret-key-" + uuid.uuid4().hex, BRIDGE_SUPERVISOR_SECONDS="1")
    os.environ.update(env)
    from flask_migrate import upgrade

    from app import create_app
    from app.models import Connection, db

    app = create_app()
    with app.app_context():
        upgrade()
        for n in range(args.numbers):
            db.session.add(Connection(name=f"Número {n + 1}", is_default=n == 0, enabled=True))
        db.session.commit()
        ids = [c.id for c in db.session.query(Connection).order_by(Connection.id)]

    procs = []
    load_before = os.getloadavg()
    try:
        web = subprocess.Popen([sys.executable, "-m", "app.web"], env=env, cwd=str(ROOT), start_new_session=True)
        procs.append(web)
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(base + "/simulator/api/sessions", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        supervisor = subprocess.Popen([sys.executable, "-m", "app.bridge.supervisor"], env=env, cwd=str(ROOT),
                                      start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(supervisor)
        started = time.monotonic()
        for n, connection_id in enumerate(ids):
            phone = f"55119{n:08d}"
            while True:
                with app.app_context():
                    db.session.expire_all()
                    row = db.session.get(Connection, connection_id)
                    qr, status = row.qr, row.status
                    db.session.commit()
                if status == "QRCODE" and qr and requests.post(base + "/simulator/api/scan",
                                                             json={"qr": qr, "phone": phone}).status_code == 200:
                    break
                if time.monotonic() - started > 180:
                    raise SystemExit("the sessions did not show a QR code in 3 minutes")
                time.sleep(0.3)
        while True:
            with app.app_context():
                db.session.expire_all()
                connected = db.session.query(Connection).filter_by(status="CONNECTED").count()
                db.session.commit()
            if connected == len(ids):
                break
            if time.monotonic() - started > 240:
                raise SystemExit(f"only {connected} of {len(ids)} numbers connected")
            time.sleep(0.5)
        print(f"{len(ids)} numbers connected in {time.monotonic() - started:.1f}s; settling {args.settle:.0f}s...")
        time.sleep(args.settle)

        report(psutil.Process(supervisor.pid), psutil.Process(web.pid), instance, load_before)
    finally:
        for proc in reversed(procs):
            try:
                os.killpg(proc.pid, 15)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        if embedded:
            embedded.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
