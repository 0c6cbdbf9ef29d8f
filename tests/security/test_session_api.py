"""SECURITY.md: the REST API also accepts the browser's session cookie (logged in through
/login/), and then every write needs the page's CSRF token in X-CSRFToken. QA: the ticket API
answered 401 to the cookie while /api/v1/queue/ took it."""
import pytest
from flask_appbuilder.api import BaseApi

from tests.chat.conftest import ChatClient
from tests.conftest import ADMIN_EMAIL


def test_every_api_of_the_app_takes_the_session_cookie(app):
    """All alike; only the login's own API (login and token refresh) is about tokens."""
    apis = {type(v).__name__: v.allow_browser_login for v in app.appbuilder.baseviews if isinstance(v, BaseApi)}
    assert apis.pop("ConectaSecurityApi") is False
    assert apis and all(apis.values()), apis


@pytest.fixture
def ticket(app, db, factory):
    from app.models import Contact, Ticket

    connection = factory.connection(queues=[factory.queue()])
    contact = Contact(channel="whatsapp", jid="5511988887777@c.us", phone="5511988887777", name="Maria")
    db.session.add(contact)
    db.session.flush()
    t = Ticket(contact_id=contact.id, connection_id=connection.id, status="pending", queue_id=connection.queues[0].id)
    db.session.add(t)
    db.session.commit()
    return t


@pytest.mark.parametrize("path", ["/api/v1/ticket/", "/api/v1/ticket/{id}", "/api/v1/ticket/{id}/messages",
                                  "/api/v1/queue/", "/api/v1/settings/", "/api/v1/team/me", "/api/v1/menu/"])
def test_reads_with_the_session_cookie(app, ticket, path):
    browser = ChatClient(app, ADMIN_EMAIL)
    r = browser.get(path.format(id=ticket.id))
    assert r.status_code == 200, r.get_data(as_text=True)[:300]


def test_ticket_writes_with_the_session_cookie_need_the_csrf_token(app, db, ticket):
    from app.models import Ticket

    browser = ChatClient(app, ADMIN_EMAIL)
    for headers in ({}, {"X-CSRFToken": "forjado"}):
        r = browser.post(f"/api/v1/ticket/{ticket.id}/accept", headers=headers)
        assert r.status_code == 400, r.get_data(as_text=True)[:300]
        assert r.get_json()["message"] == "A página expirou. Recarregue-a e tente novamente."
        db.session.expire_all()
        assert db.session.get(Ticket, ticket.id).status == "pending"
    r = browser.post(f"/api/v1/ticket/{ticket.id}/accept")  # the page's token (ChatClient's default)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == "open"


def test_anonymous_gets_401_on_the_ticket_api(app, client, ticket):
    r = client.get("/api/v1/ticket/")
    assert r.status_code == 401 and r.get_json()["message"]
