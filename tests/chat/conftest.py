"""The chat screen's fixtures: a small help desk (two queues, two agents, a supervisor) whose
tickets arrive through the engine's real ingest path, and logged-in browser-like clients."""
import re
import uuid

import pytest

from tests.conftest import PASSWORD, login

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Desk:
    """Two queues (Vendas, Suporte) on one connection; Ana in Vendas, Bruno in Suporte, Sara supervisor."""

    def __init__(self, app, db, factory):
        from tests.engine.conftest import Engine

        self.app, self.db, self.factory = app, db, factory
        self.engine = Engine(app, db, factory)
        self.vendas = factory.queue(name="Vendas", color="#1E88E5", bot_order=1)
        self.suporte = factory.queue(name="Suporte", color="#E53935", bot_order=2)
        self.connection = factory.connection(name="Principal", phone="5511900000000", status="CONNECTED")
        self.ana = factory.member("user", queues=[self.vendas], email="ana@teste.com.br", name="Ana")
        self.bruno = factory.member("user", queues=[self.suporte], email="bruno@teste.com.br", name="Bruno")
        self.sara = factory.member("supervisor", email="sara@teste.com.br", name="Sara")
        self.ids = {k: getattr(self, k).id for k in ("vendas", "suporte", "connection", "ana", "bruno", "sara")}

    def ticket(self, queue, phone=None, name="Maria", body="Olá, preciso de ajuda"):
        """A customer writes in; the ticket is put in `queue` (the connection has several queues
        in real life; here the ticket is routed by setting the connection's only queue)."""
        from app.models import Message, Ticket

        self.connection.queues = [queue]
        self.db.session.commit()
        phone = phone or "55119" + uuid.uuid4().int.__str__()[:8]
        self.engine.deliver(self.engine.message(self.connection, phone=phone, name=name, body=body))
        message = self.db.session.query(Message).order_by(Message.id.desc()).first()
        return self.db.session.get(Ticket, message.ticket_id)


@pytest.fixture
def desk(app, db, factory):
    return Desk(app, db, factory)


class ChatClient:
    """A logged-in browser session on the Flask test client, with the page's CSRF token."""

    def __init__(self, app, email):
        self.app = app
        self.http = app.test_client()
        # Each request in an app context of its own: the tests hold one open, and Flask would
        # otherwise share its `g` (and the logged-in user flask-login caches there) between clients.
        with app.app_context():
            response = login(self.http, email, PASSWORD)
        assert response.status_code == 302, response.get_data(as_text=True)
        page = self.get("/chat/")
        assert page.status_code == 200, page.status_code
        self.page = page.get_data(as_text=True)
        self.csrf = CSRF_META.search(self.page).group(1)

    def get(self, url, **kw):
        with self.app.app_context():
            return self.http.get(url, **kw)

    def post(self, url, json=None, **kw):
        headers = kw.pop("headers", {"X-CSRFToken": self.csrf})
        with self.app.app_context():
            return self.http.post(url, json=json, headers=headers, **kw)

    def tickets(self, **params):
        r = self.get("/chat/api/tickets", query_string=params)
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_json()

    def ids(self, **params):
        return [t["id"] for t in self.tickets(**params)["tickets"]]


@pytest.fixture
def chat_client(app):
    return lambda email: ChatClient(app, email)
