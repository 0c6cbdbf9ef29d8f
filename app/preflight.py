"""What `python run.py` checks before it starts anything: the operator's settings (environment
variables) and what they point at. Each problem is one clear line in Portuguese, as run.py's other
messages, and a non-zero exit; not a traceback, a hang, or a system that looks up but is not.
"""
import errno
import os
import re
import socket
import tempfile
from pathlib import Path


class StartupError(Exception):
    """A setting the operator must fix before Conecta can start; str() is the message to print."""


def _reason(exc: BaseException) -> str:
    """The first lines of an error, on one line, without a password a URL may carry."""
    text = " ".join(str(exc).split())
    text = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
    return text[:300]


def port_number(value: str | None) -> int:
    raw = (value or "5000").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise StartupError(f"PORT={value} não é uma porta válida (um número de 1 a 65535).")
    return int(raw)


def check_port(host: str, port: int) -> None:
    """The web server's address must be free. Probed without SO_REUSEPORT on purpose: eventlet listens
    with it, so a second installation started on a port in use (another Conecta, the same one started
    twice) would share the port without an error, and the system would hand each of them part of the
    visitors (logins of one unknown to the other)."""
    try:
        family, _type, _proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise StartupError(f"HOST={host} não é um endereço conhecido ({_reason(exc)}).") from None
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed port in TIME_WAIT is free
        probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"a porta {port} de {host} já está em uso (outro programa, ou o Conecta já "
                               f"rodando): pare-o ou escolha outra porta com PORT=.") from None
        if exc.errno == errno.EACCES:
            raise StartupError(f"sem permissão para usar a porta {port} (abaixo de 1024 só o root): "
                               f"escolha outra com PORT=.") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise StartupError(f"HOST={host} não é um endereço desta máquina.") from None
        raise StartupError(f"não foi possível usar {host}:{port} ({_reason(exc)}).") from None
    finally:
        probe.close()


def check_instance_dir(path: Path) -> None:
    """INSTANCE_DIR must exist or be creatable, and writable (tried, not asked: root passes every
    permission check but not a read-only file system)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".conecta-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or _reason(exc)
        raise StartupError(f"a pasta da instância {path} não pode ser criada ou gravada ({reason}). Ela guarda "
                           "o banco SQLite, a chave secreta, os perfis do WhatsApp e as mídias: dê permissão de "
                           "escrita ao usuário que roda o Conecta ou escolha outra pasta com INSTANCE_DIR=.") from None


def check_secret_key(key: str | None, minimum: int) -> None:
    if key and len(key) < minimum:
        raise StartupError(f"SECRET_KEY tem {len(key)} caracteres; são precisos pelo menos {minimum} (ela assina "
                           "as sessões e os tokens da API). Gere uma com: "
                           "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'")


def check_timezone(name: str | None) -> None:
    if name is None:
        return
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
        known = True
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        known = False
    if not known:
        raise StartupError(f"TZ_NAME={name} não é um fuso horário conhecido (use um nome IANA, como "
                           "America/Sao_Paulo, America/Manaus ou America/Recife).")


def check_chromium_path(path: str | None) -> None:
    if path and not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise StartupError(f"CHROMIUM_PATH={path} não existe ou não é executável: aponte para o navegador "
                           "(por exemplo /usr/bin/chromium) ou deixe a variável vazia para usar o do sistema.")


def check_database(url: str, engine_options: dict) -> None:
    """DATABASE_URL must be a URL SQLAlchemy knows whose server answers."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    shown = os.environ.get("DATABASE_URL") or url
    try:
        shown = make_url(shown).render_as_string(hide_password=True)
        engine = create_engine(url, **{k: v for k, v in engine_options.items() if k == "connect_args"})
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StartupError(f"DATABASE_URL={_reason(shown)} não é um endereço de banco válido ({_reason(exc)}). "
                           "Exemplo: postgresql://usuario:senha@host/banco") from None
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        detail = getattr(exc, "orig", None) or exc
        raise StartupError(f"o banco de dados de DATABASE_URL={shown} não respondeu ({_reason(detail)}).") from None
    finally:
        engine.dispose()


def describe_migration_error(exc: BaseException) -> str:
    detail = getattr(exc, "orig", None) or exc
    return (f"a migração do banco de dados falhou ({_reason(detail)}). No PostgreSQL o usuário de "
            "DATABASE_URL precisa ser dono do banco (a migração cria as extensões pg_trgm e unaccent).")
