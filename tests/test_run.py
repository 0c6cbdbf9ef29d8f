"""`python run.py`: migrates, creates the first Admin, starts web + RQ workers, restarts a dead
worker, and stops everything on SIGINT/SIGTERM. Real processes."""
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import psutil
import pytest
import requests

from tests.conftest import ROOT, free_port, wait_until, wait_web_answers

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
        _stop(proc)


# --- Operator errors: one clear line and a non-zero exit, before anything starts ---------------

def _stop(proc):
    """SIGTERM first (run.py then stops the children it started), SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _run_env(tmp_path, test_env, **overrides):
    env = dict(os.environ, INSTANCE_DIR=str(tmp_path / "instance"), PORT=str(free_port()),
               REDIS_URL=test_env["REDIS_URL"], REDIS_NAMESPACE=f"conecta-run-{uuid.uuid4().hex[:8]}",
               ADMIN_EMAIL="chefe@empresa.com.br", ADMIN_PASSWORD="Senha-forte-123", WORKERS="1")
    env.pop("DATABASE_URL", None)
    env.pop("SECRET_KEY", None)
    env.update(overrides)
    return env


def _run_until_exit(env, timeout=60):
    """run.py's exit code and output; one still running after `timeout` s is stopped (SIGTERM: it
    stops its children) and counts as not having refused."""
    proc = subprocess.Popen([sys.executable, "run.py"], cwd=str(ROOT), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        return None, out, err
    return proc.returncode, out, err


OPERATOR_ERRORS = {
    "timezone": ({"TZ_NAME": "America/Sao_Pualo"}, "TZ_NAME=America/Sao_Pualo não é um fuso horário conhecido"),
    "database down": ({"DATABASE_URL": f"postgresql://conecta:segredo@127.0.0.1:{free_port()}/conecta"},
                      "o banco de dados de DATABASE_URL=postgresql://conecta:***@127.0.0.1:"),
    "database url": ({"DATABASE_URL": "postgress://postgres@127.0.0.1/conecta"},
                     "DATABASE_URL=postgress://postgres@127.0.0.1/conecta não é um endereço de banco válido"),
    "chromium": ({"CHROMIUM_PATH": "/opt/nada/chromium"}, "CHROMIUM_PATH=/opt/nada/chromium não existe"),
    "secret key": ({"SECRET_KEY": "curta-demais"}, "SECRET_KEY tem 12 caracteres"),
    # sysfs: read-only for root too (a chmod'ed folder is not, for root).
    "instance dir not creatable": ({"INSTANCE_DIR": "/sys/conecta-instance"},
                                   "a pasta da instância /sys/conecta-instance não pode ser criada ou gravada"),
    "instance dir read-only": ({"INSTANCE_DIR": "/sys/kernel"},
                               "a pasta da instância /sys/kernel não pode ser criada ou gravada"),
    "port": ({"PORT": "cinco mil"}, "PORT=cinco mil não é uma porta válida"),
    "workers": ({"WORKERS": "dois"}, "argument --workers: invalid int value: 'dois'"),
}


@pytest.mark.parametrize("case", list(OPERATOR_ERRORS))
def test_run_refuses_a_bad_setting_with_a_clear_message(tmp_path, test_env, case):
    """A wrong setting stops run.py at once with one line naming it (no traceback, no hang, no
    system that looks up), having started nothing (no database file, no process left)."""
    overrides, message = OPERATOR_ERRORS[case]
    env = _run_env(tmp_path, test_env, **overrides)
    code, out, err = _run_until_exit(env)
    assert code == 2, (code, out, err)
    assert message in err, err
    assert "Traceback" not in out + err
    assert "segredo" not in out + err  # a password in DATABASE_URL is not printed
    assert not (tmp_path / "instance" / "conecta.db").exists()


def test_run_gives_up_on_a_database_server_that_never_answers(tmp_path, test_env):
    """A PostgreSQL host that accepts the connection and then says nothing (or drops packets): the
    check gives up after config.PG_CONNECT_TIMEOUT s with the usual line, instead of hanging
    run.py (and later every request and job) for as long as TCP keeps trying."""
    import socket

    from config import PG_CONNECT_TIMEOUT

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # the kernel completes the handshakes; nobody ever reads or answers
    port = silent.getsockname()[1]
    try:
        env = _run_env(tmp_path, test_env, DATABASE_URL=f"postgresql://conecta:segredo@127.0.0.1:{port}/conecta")
        started = time.monotonic()
        code, out, err = _run_until_exit(env, timeout=PG_CONNECT_TIMEOUT * 3 + 30)
        assert code == 2, (code, out, err)
        assert f"o banco de dados de DATABASE_URL=postgresql://conecta:***@127.0.0.1:{port}/conecta não respondeu" in err
        assert "segredo" not in out + err
        assert time.monotonic() - started < PG_CONNECT_TIMEOUT * 3 + 30
    finally:
        silent.close()


def _held_port():
    """A port held as another Conecta's web process holds it (eventlet: SO_REUSEADDR + SO_REUSEPORT)."""
    import socket

    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder, holder.getsockname()[1]


def test_run_refuses_a_port_in_use_instead_of_sharing_it(tmp_path, test_env):
    """eventlet listens with SO_REUSEPORT: a second installation on a busy port bound it too and
    the kernel split the visitors between the two (logins of one unknown to the other)."""
    holder, port = _held_port()
    try:
        code, out, err = _run_until_exit(_run_env(tmp_path, test_env, PORT=str(port)))
        assert code == 2, (code, out, err)
        assert f"a porta {port} de 127.0.0.1 já está em uso" in err
        assert "Traceback" not in out + err

        # The web process itself refuses too (a port taken after run.py checked it).
        env = dict(os.environ, **test_env, PORT=str(port))
        web = subprocess.run([sys.executable, "-m", "app.web"], cwd=str(ROOT), env=env, capture_output=True,
                             text=True, timeout=60)
        assert web.returncode == 2, web.stderr
        assert f"[web] Erro: a porta {port} de 127.0.0.1 já está em uso" in web.stderr
    finally:
        holder.close()


def _redis_servers_on(url):
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    found = []
    for p in psutil.process_iter(["cmdline"]):
        line = " ".join(p.info["cmdline"] or [])  # redis-server retitles itself "redis-server 127.0.0.1:<port>"
        if "redis-server" in line and f"127.0.0.1:{port}" in line:
            found.append(p)
    return found


def test_unreachable_redis_url_falls_back_to_an_embedded_server(tmp_path, test_env):
    """DESIGN §1: where no Redis is configured or reachable, the run command still works. A
    REDIS_URL that does not answer gets an embedded server (with a warning), which every child
    uses and which is stopped with the rest."""
    dead = f"redis://:segredo@127.0.0.1:{free_port()}/0"
    env = _run_env(tmp_path, test_env, REDIS_URL=dead, WORKERS="1")
    port = env["PORT"]
    proc = subprocess.Popen([sys.executable, "run.py"], cwd=str(ROOT), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Conecta em http://" in line:
                break
        text = "".join(lines)
        assert "REDIS_URL=redis://:***@127.0.0.1:" in text and "usando um Redis embutido" in text, text
        assert "segredo" not in text
        embedded = re.search(r"Redis embutido em (redis://\S+)", text).group(1)

        def up():
            try:
                return requests.get(f"http://127.0.0.1:{port}/login/", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        assert wait_until(up, 60), text
        workers = wait_until(lambda: _workers(proc.pid, env["REDIS_NAMESPACE"]), 30)
        assert workers and embedded in " ".join(workers[0].cmdline())
        assert _redis_servers_on(embedded)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        assert wait_until(lambda: not _redis_servers_on(embedded), 10)
    finally:
        _stop(proc)


def test_a_signal_while_preparing_stops_the_embedded_redis_too(tmp_path, test_env):
    """Ctrl-C or SIGTERM during the first start (migrations, demo data: seconds) ended run.py
    and left the embedded redis-server it had started running (its own session: the terminal's
    Ctrl-C never reaches it)."""
    env = _run_env(tmp_path, test_env, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    proc = subprocess.Popen([sys.executable, "run.py", "--demo"], cwd=str(ROOT), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        embedded = None
        for line in proc.stdout:
            found = re.search(r"Redis embutido em (redis://\S+)", line)
            if found:
                embedded = found.group(1)
                break
        assert embedded
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=30)[0]
        assert proc.returncode == 128 + signal.SIGTERM, rest
        assert "Conecta em http://" not in rest and "Traceback" not in rest
        assert not _redis_servers_on(embedded)
        assert not _processes_of(tmp_path / "instance")  # nor the web process, started before migrating
    finally:
        _stop(proc)


@pytest.mark.browser
def test_stopping_run_py_lets_the_bridge_close_its_sessions(tmp_path, test_env):
    """run.py sent SIGTERM to the bridge supervisor's whole process group, Playwright's drivers
    included: a driver closed its Chromium under the running session, which logged a traceback
    ('session failed') on every Ctrl-C and wrote 'Reconnecting after a failure' as the
    connection's status. The supervisor alone gets SIGTERM now and its workers close their
    browsers; nothing is left running."""
    import sqlite3

    from app.bridge.whatsapp_web import chromium_processes

    env = _run_env(tmp_path, test_env, WORKERS="1")
    base = f"http://127.0.0.1:{env['PORT']}"
    proc = subprocess.Popen([sys.executable, "run.py", "--demo"], cwd=str(ROOT), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        def up():
            try:
                return requests.get(base + "/login/", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        assert wait_until(up, 60), "web server did not answer"
        token = requests.post(base + "/api/v1/security/login", json={
            "username": "admin@demo.conecta", "password": "demo-admin", "provider": "db"}).json()["access_token"]
        auth = {"Authorization": "Bearer " + token}
        connection_id = requests.get(base + "/api/v1/connection/", headers=auth).json()["result"][0]["id"]
        assert requests.post(f"{base}/api/v1/connection/{connection_id}/start", headers=auth).status_code == 200

        def qr_shown():
            return requests.get(f"{base}/api/v1/connection/{connection_id}/qr", headers=auth).json()["status"] == "QRCODE"

        assert wait_until(qr_shown, 90), "the session did not show its QR code"
        profile = tmp_path / "instance" / "sessions" / str(connection_id)
        assert chromium_processes(profile)
        everyone = _children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0]
        assert proc.returncode == 0
        assert "session failed" not in out and "Traceback" not in out, out
        gone, alive = psutil.wait_procs(everyone, timeout=15)
        assert not alive, f"left running: {[p.cmdline() for p in alive]}"
        assert wait_until(lambda: not chromium_processes(profile), 15)
        with sqlite3.connect(tmp_path / "instance" / "conecta.db") as db:
            status, reason = db.execute("SELECT status, status_reason FROM connection WHERE id = ?",
                                        (connection_id,)).fetchone()
        assert reason is None, (status, reason)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def test_the_terminal_keeps_the_first_admin_password_in_view(tmp_path, test_env):
    """The generated password is printed once; RQ's four lines per job (the inbox sweep every
    30 s, ratings every 60 s) pushed it out of the terminal within minutes. Job workers log
    warnings and errors only (WORKER_LOG_LEVEL)."""
    env = _run_env(tmp_path, test_env, INBOX_SWEEP_EVERY="1", WORKERS="1")
    env.pop("ADMIN_PASSWORD")
    proc = subprocess.Popen([sys.executable, "run.py"], cwd=str(ROOT), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        wait_web_answers(proc, f"http://127.0.0.1:{env['PORT']}", 60)
        from redis import Redis

        redis = Redis.from_url(test_env["REDIS_URL"])
        # Several sweeps ran (each leaves its finished job in RQ's registry).
        assert wait_until(lambda: redis.zcard(f"rq:finished:{env['REDIS_NAMESPACE']}-default") >= 3, 30)
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0]
        assert "[run] Primeiro administrador: chefe@empresa.com.br / senha: " in out
        assert "sweep_inbox" not in out and "Job OK" not in out, out
    finally:
        _stop(proc)


def _processes_of(instance) -> list:
    """Processes still running with this INSTANCE_DIR in their environment (run.py's children run
    in sessions of their own: nothing else would stop them once run.py is gone)."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("INSTANCE_DIR") == str(instance):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _idle(process: subprocess.Popen, quiet: float = 0.6, timeout: float = 60) -> bool:
    """True once the process has used no CPU for `quiet` s: done with its start-up work, waiting."""
    watched = psutil.Process(process.pid)
    deadline = time.monotonic() + timeout
    last = sum(watched.cpu_times()[:2])
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(quiet)
        now = sum(watched.cpu_times()[:2])
        if now == last:
            return True
        last = now
    return False


def _gated_web(tmp_path, test_env):
    """`python -m app.web` started as run.py starts it before migrating: with a gate descriptor,
    on a SQLite database not created yet."""
    instance = tmp_path / "instance"
    instance.mkdir()
    port = free_port()
    env = dict(os.environ, **test_env)
    env.update(INSTANCE_DIR=str(instance), PORT=str(port), DATABASE_URL=f"sqlite:///{instance / 'conecta.db'}")
    read_end, write_end = os.pipe()
    env["CONECTA_START_GATE"] = str(read_end)
    web = subprocess.Popen([sys.executable, "-m", "app.web"], cwd=str(ROOT), env=env, pass_fds=(read_end,),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    os.close(read_end)
    return web, write_end, port, instance / "conecta.db"


def _listening(port) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_the_web_process_builds_its_app_first_and_listens_when_run_py_says_the_database_is_ready(tmp_path, test_env):
    """run.py starts the web process before migrating, so that the two imports of the stack overlap
    (bench/startup.py). Until the gate opens it must neither listen (a page served before the
    migrations would fail) nor touch the database (SQLite: a lock in the migration's way)."""
    web, gate, port, database = _gated_web(tmp_path, test_env)
    try:
        assert _idle(web), web.stderr.read() if web.poll() is not None else "still busy after 60 s"
        assert not _listening(port)
        assert not database.exists()
        os.write(gate, b"1")
        assert wait_until(lambda: _listening(port), 30), "the web process did not listen once told to"
    finally:
        os.close(gate)
        _stop(web)


def test_a_web_process_whose_gate_closes_unopened_exits_without_serving(tmp_path, test_env):
    """run.py's preparation failed or run.py died: end of file on the gate, nothing to serve."""
    web, gate, port, _ = _gated_web(tmp_path, test_env)
    try:
        assert _idle(web)
        os.close(gate)
        assert web.wait(30) == 0, web.stderr.read()
        assert not _listening(port)
    finally:
        _stop(web)


def test_a_failed_migration_leaves_no_web_process_behind(tmp_path, test_env):
    """The web process is started before the migrations: when they fail, run.py stops it with
    everything else, and says why in one line."""
    import sqlite3

    instance = tmp_path / "instance"
    instance.mkdir()
    database = instance / "conecta.db"
    with sqlite3.connect(database) as conn:  # a table the first migration creates, made by someone else
        conn.execute("CREATE TABLE ab_group (x integer)")
    env = _run_env(tmp_path, test_env, DATABASE_URL=f"sqlite:///{database}")
    code, out, err = _run_until_exit(env)
    assert code == 2, (code, out, err)
    assert "a migração do banco de dados falhou" in err
    assert "Traceback" not in out + err
    assert not _processes_of(instance)


def test_checking_the_settings_does_not_import_the_web_stack(tmp_path, test_env):
    """run.py starts the web process once its settings check passed, and that process's start is
    the first page's critical path: the check must stay cheap. config.py imported Flask-AppBuilder
    (for one constant), which cost the check 0.6 s of a 2-3 s start (bench/startup.py)."""
    env = _run_env(tmp_path, test_env)
    probe = ("import sys, run; run.prepare(run.parse_args([]), started := []); "
             "[s.stop() for s in started]; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask_appbuilder', 'flask', 'flask_socketio', 'eventlet'}))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=str(ROOT), env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout
