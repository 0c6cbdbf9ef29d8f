"""WhatsApp Web through Playwright and wa-js: the only module that talks to WhatsApp Web.

`BridgeSession` owns one Chromium with a persistent profile (one per connection, so a restart
needs no new scan), injects wa-js and our listener with add_init_script (never add_script_tag,
which WhatsApp's CSP blocks), receives WPP events through an exposed binding and performs the
actions of the contract (app/bridge/contract.py). It turns raw WhatsApp messages into inbound
payloads (v1, docs/ARCHITECTURE.md) and drops what must never become a ticket.
It knows nothing about the database, Redis or RQ: app/bridge/runner.py drives it.
"""
from __future__ import annotations

import base64
import collections
import logging
import mimetypes
import os
import re
import secrets
import shutil
import signal
import time
from pathlib import Path

import psutil

from app.bridge import contract

log = logging.getLogger(__name__)

# WhatsApp Web refuses "HeadlessChrome": present a normal desktop Chrome.
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/140.0.0.0 Safari/537.36")
# Client hints matching USER_AGENT: headless Chromium adds a "HeadlessChrome" brand otherwise.
_BRANDS = (("Chromium", "140"), ("Google Chrome", "140"), ("Not=A?Brand", "24"))
USER_AGENT_METADATA = {
    "brands": [{"brand": b, "version": v} for b, v in _BRANDS],
    "fullVersionList": [{"brand": b, "version": v + ".0.0.0"} for b, v in _BRANDS],
    "fullVersion": "140.0.0.0", "platform": "Linux", "platformVersion": "", "architecture": "x86",
    "model": "", "mobile": False,
}
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
    "--no-default-browser-check", "--disable-blink-features=AutomationControlled",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--disable-breakpad", "--metrics-recording-only",
    "--disable-features=Translate,MediaRouter,OptimizationHints", "--mute-audio",
    # Memory (bench/bridge_memory.py): two processes per number (browser and renderer) instead of
    # six: GPU and network service inside the browser process, no zygote; a small young generation.
    "--in-process-gpu", "--enable-features=NetworkServiceInProcess2", "--no-zygote",
    "--renderer-process-limit=1", "--enable-low-end-device-mode", "--js-flags=--max-semi-space-size=1",
    # No SwiftShader (the software GPU): with --disable-gpu nothing draws through it, and loading it
    # costs the browser process about 14 MB (canvas 2D still draws on the CPU; WebGL is off).
    "--disable-software-rasterizer",
]
# Debian's chromium-headless-shell (/usr/bin/chromium-headless-shell is a shell script that stays
# as an extra parent process: launch the binary itself), about half the memory of the full
# browser; then the full one.
SYSTEM_CHROMIUMS = ("/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium-headless-shell",
                    "/usr/bin/chromium")
# The Playwright driver (node) of each session: a small young generation and no JIT (it only
# relays the protocol), about 25 MB less per number.
DRIVER_NODE_OPTIONS = "--max-semi-space-size=1 --jitless"
# One step of BridgeSession.pump, in seconds: the longest an arrived event waits for Python.
PUMP_STEP = 0.025
SINGLETON_FILES = ("SingletonLock", "SingletonSocket", "SingletonCookie")

# WhatsApp message types → the payload's types. Anything not here is not a customer message
# (notifications, protocol messages, reactions, revokes...).
MESSAGE_TYPES = {
    "chat": "text", "image": "image", "audio": "audio", "ptt": "audio", "video": "video",
    "document": "document", "sticker": "sticker", "location": "location", "list_response": "list_reply",
}
MEDIA_TYPES = {"image", "audio", "video", "document", "sticker"}
MAX_MEDIA_BYTES = 64 * 1024 * 1024
SEEN_IDS = 5000
# The catch-up after a session ends reads at most this many of a chat's newest messages.
RECENT_PER_CHAT = 500
# A chat's history is read this many messages at a time (BridgeSession.messages_after_known).
HISTORY_PAGE = 50


class ChromiumMissing(RuntimeError):
    pass


class SessionClosed(RuntimeError):
    """The page or the browser went away."""


def find_chromium(configured: str | None) -> str | None:
    """The Chromium to launch: CHROMIUM_PATH, else Debian's headless shell or full Chromium, else
    Playwright's own (None).
    Raises ChromiumMissing naming what to install when there is none."""
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured
        raise ChromiumMissing(f"CHROMIUM_PATH={configured} does not exist or is not executable")
    for path in SYSTEM_CHROMIUMS:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            own = pw.chromium.executable_path
        if own and os.path.isfile(own):
            return None
    except Exception:  # noqa: BLE001 - any failure here means "not installed"
        pass
    raise ChromiumMissing("Chromium not found: install the 'chromium-headless-shell' or 'chromium' package "
                          "(apt-get install chromium-headless-shell), "
                          "set CHROMIUM_PATH, or run 'playwright install chromium'")


def wa_js_missing() -> str | None:
    if not contract.WA_JS_PATH.is_file():
        return f"{contract.WA_JS_PATH} is missing: run 'npm ci' in the project folder"
    return None


def digits(value) -> str:
    return re.sub(r"\D", "", str(value or ""))


def phone_of(jid: str | None) -> str | None:
    if jid and jid.endswith("@c.us"):
        return digits(jid.split("@")[0]) or None
    return None


def start_driver(manager):
    """Start Playwright's driver (node) with DRIVER_NODE_OPTIONS, unless NODE_OPTIONS is set."""
    own = "NODE_OPTIONS" not in os.environ
    if own:
        os.environ["NODE_OPTIONS"] = DRIVER_NODE_OPTIONS
    try:
        return manager.start()
    finally:
        if own:
            os.environ.pop("NODE_OPTIONS", None)


# ------------------------------------------------------------------------------------------
# Processes and profile locks
# ------------------------------------------------------------------------------------------

def chromium_processes(profile_dir: Path) -> list[psutil.Process]:
    """Chromium processes of this machine using this profile: found by their command line, with
    their children (the headless shell's renderer does not name the profile)."""
    marker = f"--user-data-dir={Path(profile_dir).resolve()}"
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if marker in (proc.info.get("cmdline") or []):
                found[proc.pid] = proc
                found.update((child.pid, child) for child in proc.children(recursive=True))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return list(found.values())


def kill_chromium(profile_dir: Path, timeout: float = 5.0) -> int:
    """Kill every Chromium using the profile, with their process groups. Returns how many."""
    procs = chromium_processes(profile_dir)
    for proc in procs:
        try:
            pgid = os.getpgid(proc.pid)
            if pgid == proc.pid:  # Playwright starts Chromium as its own group leader
                os.killpg(pgid, signal.SIGKILL)
            else:
                proc.kill()
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue
    psutil.wait_procs(procs, timeout=timeout)
    return len(procs)


def clear_profile_locks(profile_dir: Path) -> None:
    """Remove Chromium's Singleton* locks. Only call while holding the connection's Redis lock:
    then nobody, on any host, may be using the profile."""
    for name in SINGLETON_FILES:
        path = Path(profile_dir) / name
        if path.is_symlink() or path.exists():
            path.unlink(missing_ok=True)


def wipe_profile(profile_dir: Path) -> None:
    shutil.rmtree(profile_dir, ignore_errors=True)


# ------------------------------------------------------------------------------------------
# Inbound normalisation (pure: tested without a browser)
# ------------------------------------------------------------------------------------------

def skip_reason(raw: dict) -> str | None:
    """Why a raw message must not reach the engine, or None."""
    chat = raw.get("chat") or ""
    if raw.get("type") == "ciphertext":
        return "ciphertext"  # the decrypted copy follows with the same id
    if raw.get("broadcast") or chat == "status@broadcast" or chat.endswith("@broadcast"):
        return "status"
    if raw.get("newsletter") or chat.endswith("@newsletter"):
        return "newsletter"
    if raw.get("from_me"):
        return "echo"  # our own sends come back as new messages
    if raw.get("type") not in MESSAGE_TYPES:
        return "not a message"
    if not raw.get("id"):
        return "no id"
    return None


def message_payload(connection_id: int, raw: dict, media: dict | None = None) -> dict:
    """The inbound payload, version 1, of a raw message that passed skip_reason()."""
    is_group = bool(raw.get("is_group"))
    chat = raw.get("chat") or ""
    sender = raw.get("sender") or chat
    sender_phone = digits(raw.get("sender_phone")) or phone_of(sender)
    if not is_group and chat.endswith("@lid"):
        # The chat is the person: name it by the phone number behind the @lid when WhatsApp told us.
        mapped = raw.get("chat_phone") or raw.get("sender_phone")
        if mapped:
            chat = mapped if "@" in mapped else digits(mapped) + "@c.us"
    if sender.endswith("@lid") and sender_phone:
        sender = sender_phone + "@c.us"
    kind = MESSAGE_TYPES[raw["type"]]
    body = raw.get("caption") if kind in MEDIA_TYPES else raw.get("body")
    if kind == "location":
        body = f"{raw.get('lat')},{raw.get('lng')}" if raw.get("lat") is not None else (raw.get("body") or "")
    return {
        "v": 1, "kind": "message", "connection_id": connection_id, "channel_id": str(raw["id"]),
        "chat_id": chat, "is_group": is_group, "chat_name": (raw.get("chat_name") or "")[:200],
        "sender_id": sender, "sender_phone": sender_phone, "sender_name": (raw.get("notify_name") or "")[:200],
        "type": kind, "body": body or "", "selected_id": raw.get("selected_id"),
        "media": media, "timestamp": int(raw.get("t") or time.time()),
    }


def missed_in_order(unread: list[dict], recent: list[dict]) -> list[dict]:
    """The raw messages of both catch-up reads (BridgeSession.unread_messages, .recent_messages)
    once each, each chat's in WhatsApp's order (by time; those of the same second as the page
    listed them), so the inbox stores a chat's lines as the customer sent them."""
    chats: dict[str, list[dict]] = {}
    ids: set[str] = set()
    for raw in [*recent, *unread]:
        if raw.get("id") is None or str(raw["id"]) in ids:
            continue
        ids.add(str(raw["id"]))
        chats.setdefault(raw.get("chat") or "", []).append(raw)
    first = {chat: min(int(m.get("t") or 0) for m in msgs) for chat, msgs in chats.items()}
    ordered: list[dict] = []
    for chat in sorted(chats, key=lambda c: first[c]):
        ordered.extend(sorted(chats[chat], key=lambda m: int(m.get("t") or 0)))
    return ordered


def call_payload(connection_id: int, raw: dict) -> dict:
    sender = raw.get("from") or ""
    return {"v": 1, "kind": "call", "connection_id": connection_id, "channel_id": str(raw["id"]),
            "chat_id": sender, "sender_phone": phone_of(sender), "sender_name": "",
            "timestamp": int(raw.get("t") or time.time())}


def ack_payload(connection_id: int, raw: dict) -> dict | None:
    name = contract.ACKS.get(raw.get("ack"))
    if not name or not raw.get("id"):
        return None
    return {"v": 1, "kind": "ack", "connection_id": connection_id, "channel_id": str(raw["id"]), "ack": name,
            "error": None, "timestamp": int(time.time())}


# ------------------------------------------------------------------------------------------
# The session
# ------------------------------------------------------------------------------------------

class BridgeSession:
    """One Chromium on one connection's profile, driven with Playwright's sync API.
    Not thread-safe: one thread calls everything (events arrive while it is inside pump())."""

    def __init__(self, connection_id: int, profile_dir: Path, url: str, media_dir: Path,
                 chromium_path: str | None = None, headless: bool = True):
        self.connection_id = connection_id
        self.profile_dir = Path(profile_dir)
        self.url = url
        self.media_dir = Path(media_dir)
        self.chromium_path = chromium_path
        self.headless = headless
        self.events: collections.deque = collections.deque()
        self._seen: collections.OrderedDict = collections.OrderedDict()
        self._chats: dict[str, str] = {}  # typed chat id -> the one WhatsApp knows (resolve_chat)
        self._pw = None
        self.context = None
        self.page = None

    # --- lifecycle ---
    def open(self) -> None:
        from playwright.sync_api import sync_playwright

        missing = wa_js_missing()
        if missing:
            raise ChromiumMissing(missing)
        executable = find_chromium(self.chromium_path)
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        self._pw = start_driver(sync_playwright())
        try:
            self.context = self._pw.chromium.launch_persistent_context(
                str(self.profile_dir.resolve()), executable_path=executable, headless=self.headless,
                user_agent=USER_AGENT, args=CHROMIUM_ARGS, locale="pt-BR", viewport={"width": 1280, "height": 800},
                accept_downloads=False, bypass_csp=False,
            )
            self.context.expose_binding("conectaEvent", self._on_event)
            self.context.add_init_script(script=contract.config_script())
            self.context.add_init_script(path=str(contract.WA_JS_PATH))
            self.context.add_init_script(path=str(contract.LISTENER_PATH))
            self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
            self.context.new_cdp_session(self.page).send("Emulation.setUserAgentOverride", {
                "userAgent": USER_AGENT, "acceptLanguage": "pt-BR", "userAgentMetadata": USER_AGENT_METADATA})
            self.page.on("crash", lambda page: self.events.append({"type": "crash"}))
            self.context.on("close", lambda ctx: self.events.append({"type": "closed"}))
            self.page.goto(self.url, wait_until="domcontentloaded", timeout=90_000)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        try:
            if self.context is not None:
                self.context.close()
        except Exception:  # noqa: BLE001 - closing a dead browser may fail; we kill it below
            pass
        try:
            if self._pw is not None:
                self._pw.stop()
        except Exception:  # noqa: BLE001
            pass
        self.context = self.page = self._pw = None
        # Whatever happened above, no Chromium outlives its session.
        kill_chromium(self.profile_dir)

    def _on_event(self, source, event):
        if isinstance(event, dict):
            self.events.append(event)

    def pump(self, seconds: float) -> list[dict]:
        """Let Playwright deliver events (its callbacks run only while we are in a Playwright
        call) until some arrived or `seconds` passed; return those received. Short steps: an
        inbound message waits at most PUMP_STEP here, not the whole pump."""
        if self.page is None:
            raise SessionClosed("session not open")
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.page.wait_for_timeout(PUMP_STEP * 1000)
                if self.events or time.monotonic() >= deadline:
                    break
        except Exception as exc:  # the page or browser died
            raise SessionClosed(str(exc)) from exc
        out = []
        while self.events:
            out.append(self.events.popleft())
        return out

    def call(self, op: str, *args, timeout: float = 60):
        if self.page is None:
            raise SessionClosed("session not open")
        try:
            return self.page.evaluate("([op, args]) => window.__conecta.call(op, args)", [op, list(args)])
        except Exception as exc:
            if self.page.is_closed() or "closed" in str(exc).lower():
                raise SessionClosed(str(exc)) from exc
            raise

    # --- inbound ---
    def first_time(self, message_id: str) -> bool:
        """Dedupe by id (wa-js emits encrypted messages twice; unread pick-up repeats them)."""
        if message_id in self._seen:
            return False
        self._seen[message_id] = True
        while len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        return True

    def handed_over(self, message_id: str) -> bool:
        """This session already turned the message into a payload (it went to the inbox)."""
        return message_id in self._seen

    def inbound_payload(self, raw: dict) -> dict | None:
        """The payload for a raw message, media downloaded; None when it must be dropped."""
        reason = skip_reason(raw)
        if reason:
            return None
        if not self.first_time(str(raw["id"])):
            return None
        media = None
        if MESSAGE_TYPES[raw["type"]] in MEDIA_TYPES:
            media = self.download(raw)
        return message_payload(self.connection_id, raw, media)

    def download(self, raw: dict) -> dict | None:
        serialized = f"false_{raw.get('chat')}_{raw['id']}"
        if raw.get("is_group") and raw.get("sender"):
            serialized += f"_{raw['sender']}"
        try:
            found = self.call("download", serialized, MAX_MEDIA_BYTES)
        except Exception as exc:  # noqa: BLE001 - the message still becomes a ticket line
            log.warning("media of %s not downloaded: %s", raw["id"], exc)
            return None
        if found.get("too_big"):  # refused in the page, before any of it crossed to Python
            log.warning("media of %s not downloaded: %s bytes, over the limit", raw["id"], found.get("size"))
            return None
        data = base64.b64decode(found.get("data") or "")
        if len(data) > MAX_MEDIA_BYTES:
            return None
        mime = raw.get("mimetype") or found.get("mime") or "application/octet-stream"
        name = os.path.basename(raw.get("filename") or "") or (
            raw["type"] + (mimetypes.guess_extension(mime.split(";")[0].strip()) or ".bin"))
        name = re.sub(r"[^\w.\- ]", "_", name)[:120] or "arquivo"
        relative = Path(str(self.connection_id)) / time.strftime("%Y%m") / f"{secrets.token_hex(8)}-{name}"
        target = self.media_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return {"path": str(relative), "mime": mime, "name": name}

    def unread_messages(self, chat_id: str | None = None) -> list[dict]:
        """Messages of unread chats (of the chat `chat_id` only, when given): what arrived while the
        session was down, or what a chat holds that has not been marked read."""
        return (self.call("unread", chat_id) if chat_id else self.call("unread")) or []

    def messages_after_known(self, chat_id: str, known, limit: int = RECENT_PER_CHAT) -> list[dict] | None:
        """The raw messages of one chat after the newest customer message that `known(ids)` (a
        set of those ids already stored) recognises, oldest first: read or not, so a message the
        chat's last mark made read before it was stored is among them, in its place. Reads that
        chat only, back in pages, at most `limit` messages; None when none of them is known."""
        after: list[dict] = []
        before = None
        read = 0
        while read < limit:
            page = self.call("history", chat_id, HISTORY_PAGE, before) or []
            read += len(page)
            theirs = [str(m["id"]) for m in page if m.get("id") and not m.get("from_me")]
            found = known(theirs) if theirs else set()
            for at in range(len(page) - 1, -1, -1):
                m = page[at]
                if m.get("id") and not m.get("from_me") and str(m["id"]) in found:
                    return page[at + 1:] + after
            after = page + after
            if len(page) < HISTORY_PAGE or not page[0].get("key"):
                break  # the chat's first message
            before = page[0]["key"]
        return None

    def recent_messages(self, since: int, limit: int = RECENT_PER_CHAT) -> list[dict]:
        """Customers' messages stamped `since` (WhatsApp's clock, epoch seconds) or later, read or
        not, of every chat active since then; at most `limit` per chat (its newest)."""
        return self.call("recent", int(since), int(limit)) or []

    # --- outbound ---
    def already_sent(self, chat_id: str, channel_id: str) -> bool:
        return bool(channel_id) and bool(self.call("exists", f"true_{chat_id}_{channel_id}"))

    def acks(self, sent: list[tuple[str, str]]) -> list[dict]:
        """The current ack of each of our messages `(chat id, channel id)`, as ack events carry
        it (`{"id", "ack"}`, WhatsApp's number): what acks a session lost would have said."""
        keys = [f"true_{chat}_{channel_id}" for chat, channel_id in sent if chat and channel_id]
        return (self.call("acks", keys) if keys else None) or []

    def resolve_chat(self, chat_id: str) -> str | None:
        """The id WhatsApp knows a person's chat by (contact.queryExists): a Brazilian mobile typed
        with its ninth digit may be registered without it, and a send to the typed id would reach
        no one. None: the number has no WhatsApp. Groups and @lid chats are WhatsApp's ids already.
        Found ids are remembered for the session (a number with no WhatsApp is asked again)."""
        if not chat_id.endswith("@c.us"):
            return chat_id
        if chat_id not in self._chats:
            found = self.call("resolve", chat_id)
            if not found:
                return None
            if len(self._chats) >= SEEN_IDS:
                self._chats.clear()
            self._chats[chat_id] = str(found)
        return self._chats[chat_id]

    def send(self, command) -> str:
        """Send an outbound command (app.services.outbound.SendCommand); returns the channel id."""
        chat = command.chat_id
        options = {"markIsRead": False, "createChat": True}
        if getattr(command, "channel_id", None):
            options["messageId"] = command.channel_id
        kind = getattr(command, "type", "text") or "text"
        body = getattr(command, "body", "") or ""
        if kind == "list" and getattr(command, "sections", None):
            sections = command.sections
            listing = {"buttonText": getattr(command, "button_text", None) or "Opções", "description": body,
                       "title": getattr(command, "title", None) or "", "footer": "",
                       "sections": [{"title": s.get("title") or "", "rows": [
                           {"rowId": str(r.get("id") or r.get("rowId")), "title": str(r.get("title") or ""),
                            "description": str(r.get("description") or "")} for r in s.get("rows", [])]}
                           for s in sections]}
            result = self.call("send_list", chat, listing, options)
        elif getattr(command, "media", None) and command.media.get("path"):
            media = command.media
            path = (self.media_dir / media["path"]).resolve()
            if self.media_dir.resolve() not in path.parents:
                raise ValueError("media path outside the media folder")
            mime = media.get("mime") or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            data_url = f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()
            file_type = kind if kind in MEDIA_TYPES else "document"
            options.update({"type": file_type, "caption": body, "filename": media.get("name") or path.name,
                            "mimetype": mime})
            result = self.call("send_file", chat, data_url, options)
        else:
            result = self.call("send_text", chat, body, options)
        return (result or {}).get("id") or getattr(command, "channel_id", None)

    def mark_read(self, chat_id: str) -> None:
        self.call("mark_read", chat_id)

    def reject_call(self, call_id: str) -> bool:
        return bool(self.call("reject_call", call_id))

    def logout(self) -> None:
        self.call("logout")

    def state(self) -> dict:
        return self.call("state") or {}
