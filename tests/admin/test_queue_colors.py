"""Filas & Chatbot › Adicionar fila offers a colour no queue uses yet. Colours are unique, and the
form used to offer #1E88E5 every time: following the guide (Atendimento, Suporte Técnico,
Financeiro) without changing the colour, the second queue was refused with "A cor #1E88E5 já é
usada pela fila ..."."""
import html
import re

import pytest

from tests.conftest import ADMIN_EMAIL, csrf_token, login


@pytest.fixture
def admin(app):
    client = app.test_client()
    assert login(client, ADMIN_EMAIL).status_code == 302
    return client


def _offered(client) -> tuple[str, str]:
    page = client.get("/queues/add").get_data(as_text=True)
    color = re.search(r'<input[^>]*id="color"[^>]*>', page).group(0)
    return re.search(r'value="([^"]*)"', color).group(1), csrf_token(page)


def test_each_new_queue_is_offered_a_free_colour(app, admin):
    from app.models import Queue, db

    offered = []
    for name in ("Atendimento", "Suporte Técnico", "Financeiro"):
        color, token = _offered(admin)
        offered.append(color)
        # Saved as the form came, only the name typed (and the bot order it shows).
        r = admin.post("/queues/add", data={"csrf_token": token, "name": name, "bot_order": "0", "color": color},
                       follow_redirects=True)
        assert "Salvo." in html.unescape(r.get_data(as_text=True)), name
    assert len(set(offered)) == 3 and all(re.fullmatch(r"#[0-9A-F]{6}", c) for c in offered)
    with app.app_context():
        assert sorted(c for (c,) in db.session.query(Queue.color)) == sorted(offered)
        db.session.remove()


def test_the_suggestion_skips_colours_in_use_whatever_their_case(db):
    from app.services import queues

    queues.create({"name": "A", "color": queues.PALETTE[0].lower()})
    queues.create({"name": "B", "color": queues.PALETTE[2]})
    assert queues.suggested_color() == queues.PALETTE[1]
    for n, color in enumerate(queues.PALETTE):
        if color not in (queues.PALETTE[0], queues.PALETTE[2]):
            queues.create({"name": f"Fila {n}", "color": color})
    # The palette used up: still a free colour, one the service accepts.
    color = queues.suggested_color()
    assert color not in queues.PALETTE
    assert queues.create({"name": "Mais uma", "color": color}).color == color
