"""The web process (eventlet) keeps serving while one of its requests waits for PostgreSQL.
psycopg waits for the server in C unless it sees gevent's patching: under eventlet one request
waiting for a lock froze every other request and socket of the process until the lock went."""
import threading
import time

import pytest
import requests

from tests.engine.test_concurrency_and_crash import DatabaseLock
from tests.test_web_stop import _logged_in, _open_ticket


@pytest.mark.slow
@pytest.mark.postgresql_only  # SQLite's own lock waits are another matter: one writer at a time
def test_a_request_waiting_for_a_lock_does_not_stop_the_others(app, db, factory, stack, test_env):
    ticket_id = _open_ticket(factory)
    url = stack.start_web()
    headers = _logged_in(url, ticket_id)
    answer = {}

    def send():
        answer["response"] = requests.post(f"{url}/api/v1/ticket/{ticket_id}/messages", headers=headers,
                                           json={"body": "depois do bloqueio"}, timeout=60)

    with DatabaseLock(test_env["DATABASE_URL"]) as lock:
        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(1.0)  # the request is inside its transaction, waiting for the lock
        assert sender.is_alive()
        try:
            # A read, which the lock does not block, answered while the other request still waits.
            other = requests.get(f"{url}/api/v1/ticket/{ticket_id}", headers=headers, timeout=10)
        except requests.Timeout:
            other = None
        waiting = sender.is_alive()
        lock.release()
    sender.join(60)
    assert other is not None, "the process served nothing while one request waited for the database"
    assert other.status_code == 200 and waiting
    assert answer["response"].status_code == 201
