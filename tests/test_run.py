"""`python run.py`: migrates, creates the first Admin, starts web + RQ workers, restarts a dead
worker, and stops everything on SIGINT/SIGTERM. Real processes."""
import os
import signal
import subprocess
import sys
import uuid

import psutil
import pytest
import requests

from tests.conftest import ROOT, free_port, wait_until

pytestmark = pytest.mark.slow


def _children(pid):
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _workers(pid, ns):
    result = []
    for p in _children(pid):
        try:
            cmd = " ".join(p.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "rq" in cmd and "worker" in cmd and ns in cmd:
            result.append(p)
    return result


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_run_starts_supervises_and_stops_everything(tmp_path, test_env, sig):
    port = free_port()
    ns = f"conecta-run-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, INSTANCE_DIR=str(tmp_path), PORT=str(port), REDIS_NAMESPACE=ns,
               REDIS_URL=test_env["REDIS_URL"], ADMIN_EMAIL="chefe@empresa.com.br",
               ADMIN_PASSWORD="Senha-forte-123", WORKERS="2")
    env.pop("DATABASE_URL", None)  # its own SQLite file under INSTANCE_DIR
    env.pop("SECRET_KEY", None)  # generated and kept under INSTANCE_DIR
    proc = subprocess.Popen([sys.executable, "run.py"], cwd=str(ROOT), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def up():
            try:
                return requests.get(f"http://127.0.0.1:{port}/login/", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        assert wait_until(up, 60), "web server did not answer"
        page = requests.get(f"http://127.0.0.1:{port}/login/").text
        assert "Senha" in page
        s = requests.Session()
        import re

        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', s.get(f"http://127.0.0.1:{port}/login/").text).group(1)
        r = s.post(f"http://127.0.0.1:{port}/login/", data={"username": "chefe@empresa.com.br",
                   "password": "Senha-forte-123", "csrf_token": token}, allow_redirects=False)
        assert r.status_code == 302 and not r.headers["Location"].startswith("/login")
        assert (tmp_path / "conecta.db").exists()
        assert (tmp_path / "secret_key").exists()

        workers = wait_until(lambda: len(_workers(proc.pid, ns)) == 2 and _workers(proc.pid, ns), 30)
        assert workers, "two rq workers expected"
        victim = workers[0]
        victim.kill()
        assert wait_until(lambda: len(_workers(proc.pid, ns)) == 2 and victim.pid not in
                     [w.pid for w in _workers(proc.pid, ns)], 30), "dead worker not restarted"

        everyone = _children(proc.pid)
        assert everyone
        proc.send_signal(sig)
        proc.wait(30)
        gone, alive = psutil.wait_procs(everyone, timeout=15)
        assert not alive, f"left running: {[p.cmdline() for p in alive]}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_embedded_redis_is_a_real_server_shared_by_processes(tmp_path):
    from app.embedded_redis import EmbeddedRedis, answers

    server = EmbeddedRedis(tmp_path / "redis")
    url = server.start()
    try:
        assert answers(url)
        code = f"from redis import Redis; Redis.from_url({url!r}).set('conecta-probe', 'de outro processo')"
        subprocess.run([sys.executable, "-c", code], check=True, cwd=str(ROOT))
        from redis import Redis

        assert Redis.from_url(url).get("conecta-probe") == b"de outro processo"
        pid = server.process.pid
    finally:
        server.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not answers(url)


def test_run_compiles_the_portuguese_catalogue_itself(tmp_path, test_env):
    """`python run.py` without scripts/setup.sh (the catalogue is a build product, not in git):
    the screens are still in Portuguese, not in the English of the source."""
    from app.i18n import TRANSLATIONS

    compiled = TRANSLATIONS / "pt_BR" / "LC_MESSAGES" / "messages.mo"
    compiled.unlink()
    port = free_port()
    env = dict(os.environ, INSTANCE_DIR=str(tmp_path), PORT=str(port), REDIS_URL=test_env["REDIS_URL"],
               REDIS_NAMESPACE=f"conecta-run-{uuid.uuid4().hex[:8]}", ADMIN_EMAIL="chefe@empresa.com.br",
               ADMIN_PASSWORD="Senha-forte-123", WORKERS="1")
    env.pop("DATABASE_URL", None)
    env.pop("SECRET_KEY", None)
    proc = subprocess.Popen([sys.executable, "run.py"], cwd=str(ROOT), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def login_page():
            try:
                r = requests.get(f"http://127.0.0.1:{port}/login/", timeout=1)
                return r.text if r.status_code == 200 else None
            except requests.RequestException:
                return None

        page = wait_until(login_page, 60)
        assert page, "web server did not answer"
        assert compiled.exists()
        # The "Username" label is "E-mail" in our catalogue (base.po), not in Flask-AppBuilder's.
        assert 'for="username">E-mail:' in page
    finally:
        if not compiled.exists():
            from app.i18n import compile_catalog

            compile_catalog()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
