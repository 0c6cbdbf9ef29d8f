"""Excluir a connection whose WhatsApp session is on: refused until it is disconnected. Deleted as
it was, the phone stayed linked to a device nobody sees and the logged-in browser profile stayed
under instance/sessions/<id>/, where a new connection given the same id (SQLite reuses the highest
one) came up connected to the old number without a scan."""
import html

import pytest

from tests.conftest import ADMIN_EMAIL, csrf_token, login

REFUSAL = "Esta conexão está ligada ao WhatsApp (ou conectando): desconecte-a (QR Code › Desconectar) antes de excluí-la."


def _connected(app):
    from app.models import db
    from app.models.connection import ConnectionStatus
    from app.services import connections

    with app.app_context():
        connections.create({"name": "Principal"})
        c = connections.create({"name": "Número errado"})
        connections.request_start(c.id)
        connections.set_status(c.id, ConnectionStatus.CONNECTED, phone="5511999990000")
        pk = c.id
        db.session.remove()
    return pk


def _exists(app, pk) -> bool:
    from app.models import Connection, db

    with app.app_context():
        found = db.session.get(Connection, pk) is not None
        db.session.remove()
    return found


@pytest.mark.parametrize("status", ["OPENING", "QRCODE", "CONNECTED"])
def test_a_connection_with_its_session_on_is_not_deleted(app, db, status):
    from app.models import Connection
    from app.services import DomainError, connections

    connections.create({"name": "Principal"})
    c = connections.create({"name": "Número errado"})
    connections.request_start(c.id)
    connections.set_status(c.id, status, qr="2@abc" if status == "QRCODE" else None)
    with pytest.raises(DomainError) as e:
        connections.delete(c.id)
    assert e.value.status == 422 and e.value.message == REFUSAL
    db.session.rollback()
    assert db.session.get(Connection, c.id) is not None
    # Disconnected (the phone unlinked, the profile wiped), it may go.
    connections.logout(c.id)
    connections.delete(c.id)
    assert db.session.get(Connection, c.id) is None


def test_the_screen_and_the_api_say_why(app):
    pk = _connected(app)
    client = app.test_client()
    assert login(client, ADMIN_EMAIL).status_code == 302
    token = csrf_token(client.get("/connections/list/").get_data(as_text=True))
    r = client.post(f"/connections/delete/{pk}", data={"csrf_token": token}, follow_redirects=True)
    assert REFUSAL in html.unescape(r.get_data(as_text=True))
    assert _exists(app, pk)
    from tests.conftest import api_login

    api = api_login(app.test_client(), ADMIN_EMAIL)
    r = api.delete(f"/api/v1/connection/{pk}")
    assert r.status_code == 422 and r.get_json() == {"message": REFUSAL}
    assert _exists(app, pk)
