#!/usr/bin/env python
"""Memory per connected WhatsApp number: `python bench/bridge_memory.py [--numbers 3]`.

Starts the real thing in a throw-away instance (SQLite, its own Redis namespace): the web process
with the simulator, the bridge supervisor and its bridge workers; links N simulated numbers by
scanning their QR codes through the simulator's control API; then sums the PSS (proportional set
size: shared pages divided among their users) of every process of the bridge (bridge worker,
its session horse, Playwright's driver, Chromium and its renderers, the simulator page included),
and prints it per number, next to the machine's total memory.
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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=3, help="how many numbers to connect")
    parser.add_argument("--settle", type=float, default=15, help="seconds to let pages settle before measuring")
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="conecta-bench-"))
    port = free_port()
    from app.embedded_redis import resolve_redis_url

    redis_url, embedded = resolve_redis_url(instance / "redis")
    env = dict(os.environ, INSTANCE_DIR=str(instance), DATABASE_URL="sqlite:///" + str(instance / "bench.db"),
               REDIS_URL=redis_url, REDIS_NAMESPACE="bench-" + uuid.uuid4().hex[:8], SIMULATOR="1",
               HOST="127.0.0.1", PORT=str(port), SECRET_KEY="bench", BRIDGE_SUPERVISOR_SECONDS="1")
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

        sup = psutil.Process(supervisor.pid)
        workers = sup.children()
        busy = [w for w in workers if w.children()]
        idle = [w for w in workers if not w.children()]
        per_session = [pss_tree(w) for w in busy]
        own = sup.memory_full_info().pss
        web_pss = pss_tree(psutil.Process(web.pid))
        total_mem = psutil.virtual_memory().total
        print(f"machine memory:                 {mb(total_mem)} total, {mb(psutil.virtual_memory().available)} available")
        print(f"per connected number (PSS):      {mb(sum(per_session) / len(per_session))} "
              f"(bridge worker + session + Playwright driver + Chromium + simulator page; "
              f"min {mb(min(per_session))}, max {mb(max(per_session))})")
        print(f"fixed: bridge supervisor {mb(own)}, spare bridge worker(s) {mb(sum(pss_tree(w) for w in idle))}, "
              f"web process with simulator {mb(web_pss)}")
        parts: dict[str, int] = {}
        for worker in busy:
            parts["bridge worker"] = parts.get("bridge worker", 0) + worker.memory_full_info().pss
            for proc in worker.children(recursive=True):
                name = proc.name()
                label = ("session (Python)" if "python" in name or name == "rq" else
                         "Playwright driver (node)" if "node" in name else "Chromium (all processes)")
                try:
                    parts[label] = parts.get(label, 0) + proc.memory_full_info().pss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
        print("  of which, per number: " + ", ".join(f"{k} {mb(v / len(busy))}" for k, v in parts.items()))
        numbers_fit = int(psutil.virtual_memory().available / (sum(per_session) / len(per_session)))
        print(f"about {numbers_fit} more numbers would fit in the memory available now")
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
