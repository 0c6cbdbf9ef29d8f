"""The life of one connection's session, run by the long-running RQ job (app.bridge.jobs).

Holds the connection's Redis lock for as long as it runs; opens Chromium (BridgeSession), moves the
status DISCONNECTED → OPENING → QRCODE → CONNECTED (TIMEOUT when nobody scans in time), forwards
inbound events to the engine's inbox, sends the outbox and the connection's Redis commands, and
restarts the browser with backoff when it fails or never becomes ready (watchdog).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from app.bridge import lock as session_lock
from app.bridge.status import inbound_stored_until, set_inbound_stored_until
from app.bridge.whatsapp_web import (BridgeSession, ChromiumMissing, SessionClosed, ack_payload, call_payload,
                                     clear_profile_locks, digits, kill_chromium, missed_in_order, wipe_profile)
from app.models import Connection, db, end_session
from app.models.base import utcnow
from app.models.connection import ConnectionStatus as S

log = logging.getLogger(__name__)


# How long one pump of the page waits for events at most (BridgeSession.pump returns as soon as
# some arrived): bounds the idle loop's cost, not the latency of an inbound message.
PUMP_SECONDS = 0.25


def _seconds(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


QR_TIMEOUT = _seconds("BRIDGE_QR_TIMEOUT", 180)  # nobody scanned: TIMEOUT
READY_TIMEOUT = _seconds("BRIDGE_READY_TIMEOUT", 120)  # watchdog: opened or scanned but never ready
OUTBOX_EVERY = _seconds("BRIDGE_OUTBOX_SECONDS", 5)
CHECK_EVERY = _seconds("BRIDGE_CHECK_SECONDS", 10)  # connection still enabled? page alive?
MAX_BACKOFF = 60.0
# After a failed call to the page, how long it may take to say the phone logged out (it is what
# made the call fail, then).
LOGOUT_GRACE_SECONDS = 2.0
# How often a session looks for a restart asked by the admin ("Iniciar / reiniciar sessão").
RESTART_CHECK_EVERY = 1.0
# The catch-up mark (Connection.inbound_stored_until) is written this often while connected...
MARK_EVERY = _seconds("BRIDGE_MARK_SECONDS", 60)
# ...and a new session reads the messages stamped this long before it: WhatsApp's clock against
# ours, and a message still crossing from the page when the mark was taken.
CATCH_UP_MARGIN = 300.0
# Acks in flight when a session ends die with it: the next one asks the page where our messages
# sent in this window still short of "read" stand, at most ACK_CATCH_UP_MAX of them.
ACK_CATCH_UP_HOURS = 24.0
ACK_CATCH_UP_MAX = 200

# Set by the bridge worker running the session in its own process (app.bridge.worker) when the
# session job must end: the worker is stopping, or its job was stopped. The session closes its
# browser and releases the lock at the next pump (at most PUMP_SECONDS later).
STOP = threading.Event()


class Stop(Exception):
    """End the session for good (logout, timeout, connection disabled or gone)."""


class Restart(Exception):
    """Close the browser and open it again (with backoff)."""


class Reopen(Exception):
    """The admin asked for a restart: close the browser and open it again at once, on the same
    profile (no new scan), not counted as a failure."""


def lock_key(connection_id: int, app=None) -> str:
    from app.workers import key

    return key(f"bridge:{connection_id}:lock", app)


def commands_key(connection_id: int, app=None) -> str:
    from app.workers import key

    return key(f"bridge:{connection_id}:commands", app)


def restart_key(connection_id: int, app=None) -> str:
    """Set when the admin asks a running session to restart (jobs.request_restart)."""
    from app.workers import key

    return key(f"bridge:{connection_id}:restart", app)


def profile_dir(connection_id: int, app=None) -> Path:
    app = app or current_app
    return Path(app.config["SESSIONS_DIR"]) / str(int(connection_id))


def publish(event: dict | None, app=None) -> None:
    if not event:
        return
    app = app or current_app
    from app.realtime import publisher

    from app.services.connections import channel_event

    try:
        emitter = publisher(app.config["REDIS_URL"], app.config["REDIS_NAMESPACE"])
        emitter.emit("connection", event, to=["admins", "staff"])
        emitter.emit("channel", channel_event(event), to="members")
    except Exception as exc:  # noqa: BLE001 - the screen catches up on reload; never kill a session for it
        log.warning("connection event not published: %s", exc)


def write_status(connection_id: int, status: str, reason=None, qr=None, phone=None, enabled=None) -> None:
    from app.bridge.status import set_status

    try:
        if enabled is not None:
            # Before set_status, which may commit: status and `enabled` change in one commit, so
            # nobody (the supervisor, a screen) reads DISCONNECTED on a connection still enabled.
            connection = db.session.get(Connection, connection_id)
            if connection is not None:
                connection.enabled = enabled
        event = set_status(connection_id, status, reason=reason, qr=qr, phone=phone)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    publish(event)


def default_sink(payload: dict) -> None:
    """Inbound events go to the engine's durable inbox. BRIDGE_INBOUND_SINK ("module:function")
    replaces it where the engine is not wanted (the bridge's own boundary tests)."""
    target = os.environ.get("BRIDGE_INBOUND_SINK")
    if target:
        import importlib

        module, _sep, name = target.partition(":")
        getattr(importlib.import_module(module), name)(payload)
        return
    from app.workers.ingest import submit

    submit(payload)


class SessionRunner:
    def __init__(self, connection_id: int, app=None, sink=None, outbox=None):
        self.app = app or current_app._get_current_object()
        self.connection_id = int(connection_id)
        self.sink = sink or default_sink
        self._outbox = outbox
        from app.workers import redis_conn

        self.redis = redis_conn(self.app)
        self.lock = session_lock.SessionLock(self.redis, lock_key(self.connection_id, self.app))
        self.profile = profile_dir(self.connection_id, self.app)
        self.session: BridgeSession | None = None
        self.failures = 0

    @property
    def outbox(self):
        if self._outbox is None:
            import importlib

            # The engine's outbox; BRIDGE_OUTBOX names another module with the same five
            # functions for the bridge's own boundary tests.
            self._outbox = importlib.import_module(os.environ.get("BRIDGE_OUTBOX") or "app.services.outbound")
        return self._outbox

    # --- the whole run ---
    def run(self) -> str:
        if not self.lock.acquire():
            log.info("connection %s: a session is already running", self.connection_id)
            return "already running"
        try:
            # We hold the lock: nobody may be using this profile, so leftovers are orphans.
            kill_chromium(self.profile)
            clear_profile_locks(self.profile)
            self.drop_stale_logouts()
            self.redis.delete(restart_key(self.connection_id, self.app))  # this start is the restart
            while True:
                try:
                    self.browser_life()
                except Stop as stop:
                    return str(stop)
                except Reopen:
                    log.info("connection %s: restarting the browser, as asked", self.connection_id)
                    self.close()
                except session_lock.LockLost:
                    log.warning("connection %s: lock lost, stopping", self.connection_id)
                    return "lock lost"
                except ChromiumMissing as exc:
                    log.error("connection %s: %s", self.connection_id, exc)
                    write_status(self.connection_id, S.DISCONNECTED, enabled=False,
                                 reason=_("Cannot start the browser: %(error)s", error=str(exc)))
                    return "chromium missing"
                except Exception as exc:  # noqa: BLE001 - a crash of the browser or the page: retry
                    if self.logout_reported():
                        self.logged_out()
                        return "logout"
                    self.failures += 1
                    log.exception("connection %s: session failed (%s)", self.connection_id, self.failures)
                    self.close()
                    if not self.still_enabled():
                        write_status(self.connection_id, S.DISCONNECTED)
                        return "disabled"
                    write_status(self.connection_id, S.DISCONNECTED,
                                 reason=_("Reconnecting after a failure: %(error)s", error=str(exc)[:150]))
                    try:
                        self.sleep(min(MAX_BACKOFF, 2.0 ** self.failures))
                    except Stop as stop:
                        return str(stop)
        finally:
            self.close()
            try:
                self.lock.release()
            except Exception:  # noqa: BLE001 - the TTL frees it anyway
                pass
            end_session()

    def drop_stale_logouts(self) -> None:
        """A logout pushed while no session ran was already done (jobs.request_logout): it must
        not unlink the number the admin is starting now."""
        key = commands_key(self.connection_id, self.app)
        for raw in self.redis.lrange(key, 0, -1):
            try:
                stale = json.loads(raw).get("op") == "logout"
            except (ValueError, AttributeError):
                stale = True
            if stale:
                self.redis.lrem(key, 0, raw)

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.lock.renew_if_due()
            self.stop_if_asked()
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    @staticmethod
    def stop_if_asked() -> None:
        if STOP.is_set():
            raise Stop("stopped")

    def logged_out(self) -> None:
        """The phone unlinked this device: the session ends for good, its profile wiped."""
        self.close()
        wipe_profile(self.profile)
        write_status(self.connection_id, S.DISCONNECTED, reason=_("Logged out on the phone"), enabled=False)

    def logout_reported(self, seconds: float = LOGOUT_GRACE_SECONDS) -> bool:
        """A call to the page failed: was the phone logging out at that moment? Its calls fail
        ("not connected") before the page reports the logout itself, an instant later; taken for a
        crash, the session reconnected to a QR code and the connection stayed enabled, the logout
        never told. Events read here are dropped with the session, as on any failure."""
        if self.session is None:
            return False
        deadline = time.monotonic() + seconds
        try:
            while (left := deadline - time.monotonic()) > 0:
                if any(event.get("type") == "logout" for event in self.session.pump(left)):
                    return True
        except Exception:  # noqa: BLE001 - the page or the browser is gone: a failure, not a logout
            pass
        return False

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def connection(self) -> Connection | None:
        db.session.expire_all()
        connection = db.session.get(Connection, self.connection_id)
        db.session.commit()  # end the read transaction: this job lives for days
        return connection

    def still_enabled(self) -> bool:
        connection = self.connection()
        return bool(connection and connection.enabled)

    # --- one browser, from opening to failure or stop ---
    def browser_life(self) -> None:
        connection = self.connection()
        if connection is None or not connection.enabled:
            if connection is not None:
                write_status(self.connection_id, S.DISCONNECTED)
            raise Stop("disabled")
        self.stop_if_asked()
        write_status(self.connection_id, S.OPENING)
        self.session = BridgeSession(self.connection_id, self.profile, self.app.config["WHATSAPP_WEB_URL"],
                                     Path(self.app.config["MEDIA_DIR"]), self.app.config.get("CHROMIUM_PATH") or None)
        self.session.open()
        opened_at = time.monotonic()
        qr_since = None
        ready = False
        # Messages the page hands over before it is ready are held until the unread ones have been
        # picked up: a message the previous session took from the network but never submitted
        # comes back only among the unread, and must reach the engine before its chat's later ones.
        held: list[dict] = []
        last_outbox = last_check = last_mark = last_restart_check = 0.0
        forgot_mark = caught_up = False
        while True:
            pumped_from = utcnow()
            events = self.session.pump(PUMP_SECONDS)
            # Inbound events of one pump are stored together (one transaction), also when the
            # session ends in this pump: a stop or a closed browser is acted on once all of them
            # are handled (they are gone from the page; acks among them came once).
            inbound: list[dict] = []
            closed = False
            try:
                for event in events:
                    kind = event.get("type")
                    if kind == "qr" and not ready:
                        if event.get("code") and not forgot_mark:
                            # Not paired: whoever scans, their history is not ours to catch up.
                            set_inbound_stored_until(self.connection_id, None)
                            forgot_mark = True
                        if event.get("code"):
                            qr_since = qr_since or time.monotonic()
                            write_status(self.connection_id, S.QRCODE, qr=event["code"])
                        else:
                            write_status(self.connection_id, S.OPENING)
                    elif kind == "authenticated" and not ready:
                        qr_since = None
                        opened_at = time.monotonic()  # the watchdog now waits for "ready"
                        write_status(self.connection_id, S.OPENING)
                    elif kind == "ready" and not ready:
                        ready = True
                        self.failures = 0
                        write_status(self.connection_id, S.CONNECTED, phone=digits((event.get("me") or "").split("@")[0]) or None)
                        self.pick_up_missed()
                        for raw in held:  # those already picked up are dropped as seen
                            payload = self.session.inbound_payload(raw)
                            if payload is not None:
                                inbound.append(payload)
                        held = []
                        last_outbox = 0.0
                        last_mark = time.monotonic()
                    elif kind == "logout":
                        self.logged_out()
                        raise Stop("logout")
                    elif kind in ("crash", "closed"):
                        closed = True
                    elif kind == "message" and not ready:
                        held.append(event.get("msg") or {})
                    elif kind == "message":
                        payload = self.session.inbound_payload(event.get("msg") or {})
                        if payload is not None:
                            inbound.append(payload)
                    elif kind == "ack":
                        payload = ack_payload(self.connection_id, event)
                        if payload:
                            inbound.append(payload)
                    elif kind == "call":
                        if event.get("id"):
                            inbound.append(call_payload(self.connection_id, event))
                    elif kind == "error":
                        log.warning("connection %s: page error %s", self.connection_id, event)
            finally:
                self.submit_all(inbound)
            if closed:
                raise Restart(_("The browser closed"))
            self.lock.renew_if_due()
            self.stop_if_asked()
            now = time.monotonic()
            if now - last_restart_check >= RESTART_CHECK_EVERY:
                last_restart_check = now
                if self.redis.delete(restart_key(self.connection_id, self.app)):
                    raise Reopen()
            if not ready:
                if qr_since and now - qr_since > QR_TIMEOUT:
                    self.close()
                    write_status(self.connection_id, S.TIMEOUT, reason=_("Nobody scanned the QR code in time"),
                                 enabled=False)
                    raise Stop("timeout")
                if not qr_since and now - opened_at > READY_TIMEOUT:
                    raise Restart(_("WhatsApp Web did not become ready"))
                continue
            if now - last_mark >= MARK_EVERY:
                if not caught_up:
                    # Again, a while after ready: WhatsApp Web may still have been syncing what
                    # arrived while we were down the first time.
                    self.pick_up_missed()
                    caught_up = True
                # Everything the page handed over before this pump is stored.
                last_mark = now
                set_inbound_stored_until(self.connection_id, pumped_from)
            self.run_commands()
            if now - last_outbox >= OUTBOX_EVERY:
                last_outbox = now
                self.flush_outbox()
            if now - last_check >= CHECK_EVERY:
                last_check = now
                if not self.still_enabled():
                    self.close()
                    write_status(self.connection_id, S.DISCONNECTED)
                    raise Stop("disabled")
                if not self.session.state().get("ready"):
                    raise Restart(_("WhatsApp Web is no longer connected"))

    # --- inbound ---
    def submit(self, payload: dict) -> bool:
        """Hand an inbound event to the engine. An event the inbox refuses as invalid is logged and
        dropped (it would be refused forever); any other failure (database down...) propagates, so
        the session restarts and finds the message again among the unread ones."""
        from app.services import DomainError

        try:
            self.sink(payload)
            return True
        except DomainError as exc:
            db.session.rollback()
            log.error("connection %s: inbound event refused (%s): %s", self.connection_id, exc.message,
                      json.dumps(payload)[:500])
            return False

    def submit_all(self, payloads: list[dict]) -> None:
        """Hand a burst of inbound events to the engine in one transaction (app.workers.ingest.
        submit_many); refused ones are logged as in `submit`. A custom sink takes them one by one."""
        if not payloads:
            return
        if self.sink is not default_sink or os.environ.get("BRIDGE_INBOUND_SINK"):
            for payload in payloads:
                self.submit(payload)
            return
        from app.services import DomainError
        from app.workers.ingest import submit_many

        for payload, result in zip(payloads, submit_many(payloads, self.app)):
            if isinstance(result, DomainError):
                log.error("connection %s: inbound event refused (%s): %s", self.connection_id, result.message,
                          json.dumps(payload)[:500])

    def store_then_mark_read(self, chat_id: str) -> None:
        """WhatsApp marks a whole chat read, also a message that reached this page but not the
        engine yet (waiting in this session's queue, or still crossing from the page): lost if
        the session then failed, as it would no longer be unread for the next one to pick up.
        So the chat's messages are stored first, when that fails nothing is marked read.
        Which ones: all those after the newest one already stored, read or not, oldest first,
        not only the unread ones: a message this very mark makes read (it arrived between the
        read and the mark) is then stored at the chat's next mark before the later ones, not
        after them when its live event comes (QA: messages stored out of order with Confirmação
        de Leitura on). Its live event, and any other already handed over, is dropped as seen.
        The chat alone is read, not the chat list. With nothing of the chat stored (its history
        is not ours), its unread messages."""
        newer = self.session.messages_after_known(chat_id, self.known_ids)
        if newer is None:
            newer = self.session.unread_messages(chat_id)
        payloads = [self.session.inbound_payload(raw) for raw in newer]
        self.submit_all([p for p in payloads if p is not None])
        self.session.mark_read(chat_id)

    def known_ids(self, channel_ids: list[str]) -> set[str]:
        """Which of these messages this session handed over or the inbox has."""
        from app.services.inbox import known_channel_ids

        known = {i for i in channel_ids if self.session.handed_over(i)}
        rest = [i for i in channel_ids if i not in known]
        if rest:
            known |= known_channel_ids(self.connection_id, rest)
            db.session.commit()
        return known

    def pick_up_missed(self) -> None:
        """What reached WhatsApp while no session stored it: the unread chats' messages and, read or
        not, those of every chat active since the catch-up mark (less CATCH_UP_MARGIN): someone
        read them on the phone while we were down, or a chat was marked read while one waited in a
        session that then failed. Those the inbox has are skipped before their media is fetched."""
        from app.services.inbox import known_channel_ids

        unread = self.session.unread_messages()
        mark = inbound_stored_until(self.connection_id)
        db.session.commit()
        recent = []
        if mark is not None:
            since = mark.replace(tzinfo=dt.timezone.utc).timestamp() - CATCH_UP_MARGIN
            recent = self.session.recent_messages(int(since))
        missed = missed_in_order(unread, recent)
        known = known_channel_ids(self.connection_id, [str(raw["id"]) for raw in missed])
        db.session.commit()
        payloads = [self.session.inbound_payload(raw) for raw in missed if str(raw["id"]) not in known]
        self.submit_all([p for p in payloads if p is not None])
        self.pick_up_acks()

    def pick_up_acks(self) -> None:
        """Acks are events too, handed over once: those in flight when the last session ended
        (in its queue, or its pump, or still in the page) are lost, and its messages stayed
        "sent". So the page is asked where our recent messages not yet read stand, and what moved
        on is submitted as acks (the inbox applies them forward only, never back)."""
        from app.models.message import MessageStatus

        since = utcnow() - dt.timedelta(hours=ACK_CATCH_UP_HOURS)
        waiting = self.outbox.awaiting_ack(self.connection_id, since, ACK_CATCH_UP_MAX)
        db.session.commit()
        if not waiting:
            return
        status = {channel_id: current for channel_id, _chat, current in waiting}
        payloads = []
        for found in self.session.acks([(chat, channel_id) for channel_id, chat, _s in waiting]):
            payload = ack_payload(self.connection_id, found)
            if payload and payload["channel_id"] in status and MessageStatus.ORDER.get(payload["ack"], -1) > \
                    MessageStatus.ORDER.get(status[payload["channel_id"]], 99):
                payloads.append(payload)
        self.submit_all(payloads)

    # --- outbound ---
    def run_commands(self, limit: int = 50) -> None:
        key = commands_key(self.connection_id, self.app)
        for _n in range(limit):
            raw = self.redis.lpop(key)
            if raw is None:
                return
            try:
                command = json.loads(raw)
            except ValueError:
                log.warning("connection %s: bad command %r", self.connection_id, raw[:200])
                continue
            self.run_command(command)

    def run_command(self, command: dict) -> None:
        op = command.get("op")
        if op == "send" and command.get("message_id") is not None:
            self.send(int(command["message_id"]))
        elif op == "mark_read" and command.get("chat_id"):
            connection = self.connection()
            # Confirmação de Leitura off: WhatsApp never learns that we read anything.
            if connection is not None and connection.read_receipts:
                self.store_then_mark_read(command["chat_id"])
        elif op == "reject_call" and command.get("call_id"):
            self.session.reject_call(command["call_id"])
        elif op == "logout":
            self.logout()
        else:
            log.warning("connection %s: unknown command %r", self.connection_id, command)

    def logout(self) -> None:
        try:
            self.session.logout()
        except Exception as exc:  # noqa: BLE001 - unlinking locally still happens
            log.warning("connection %s: logout on the page failed: %s", self.connection_id, exc)
        self.close()
        wipe_profile(self.profile)
        write_status(self.connection_id, S.DISCONNECTED, reason=_("Unlinked here (Disconnect): scan a new QR code to "
                                                                   "connect again."), enabled=False)
        raise Stop("logout")

    def flush_outbox(self) -> None:
        for message_id in self.outbox.pending_for(self.connection_id):
            self.send(getattr(message_id, "id", message_id))
        db.session.commit()

    def send(self, message_id: int) -> None:
        self.lock.renew_if_due()  # a send may wait for the channel's network for a while
        command = self.outbox.claim(message_id)
        db.session.commit()
        if command is None:
            return
        try:
            # The chat as WhatsApp knows the number (a Brazilian mobile may be registered without
            # its ninth digit); None: the number has no WhatsApp, nothing to try again.
            chat = self.session.resolve_chat(command.chat_id)
            if chat is None:
                self.published(self.outbox.mark_failed(message_id, _("This number is not on WhatsApp.")))
                return
            if chat != command.chat_id:
                self.published(self.outbox.chat_moved(message_id, chat))
                command.chat_id = chat
            if self.session.already_sent(command.chat_id, getattr(command, "channel_id", None)):
                channel_id = command.channel_id  # sent before a crash: never twice
            else:
                channel_id = self.session.send(command)
        except SessionClosed:
            raise
        except Exception as exc:  # noqa: BLE001 - the message shows its error and can be retried
            # The agent reads a sentence in their language; the exception (English, and it may name
            # the server's paths) is for the log only.
            log.warning("connection %s: message %s failed: %s", self.connection_id, message_id, exc)
            self.published(self.outbox.mark_failed(message_id, _("WhatsApp did not accept the message. "
                                                                 "Try sending it again.")))
            return
        self.published(self.outbox.mark_sent(message_id, channel_id))

    def published(self, changes) -> None:
        """Commit, then tell the screens (the outbox returns the changes to publish)."""
        db.session.commit()
        if changes:
            from app.workers.publish import publish

            publish(changes, self.app)
