"""Invisible characters in one-line names (QA): Unicode format characters (category Cf: zero-width
space, BOM, bidi overrides...) are stripped from names and other one-line fields
(app.services.inputs.text), so "Vendas\\u200b" is the name "Vendas" (taken) and a name of only
"\\ufeff" is empty (required). The zero-width joiner of an emoji sequence stays (in names too),
and message bodies keep every character."""
import pytest

from tests.conftest import ADMIN_EMAIL, api_login

FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # 👨‍👩‍👧: three emoji joined by ZWJ
HEART_ON_FIRE = "\u2764\ufe0f\u200d\U0001F525"  # ❤️‍🔥: the ZWJ follows a variation selector


@pytest.fixture
def api(app, client):
    return api_login(client, ADMIN_EMAIL)


@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff", "\u200d", "\u2060", "\u202e", "\u200e", "\u00ad"])
def test_a_queue_name_with_an_invisible_character_is_the_same_name(app, api, factory, invisible):
    factory.queue(name="Vendas")
    for n, name in enumerate((f"Vendas{invisible}", f"{invisible}Vendas", f"Ven{invisible}das")):
        r = api.post("/api/v1/queue/", json={"name": name, "color": f"#12345{n}"})
        assert r.status_code == 422, (name, r.get_data(as_text=True)[:300])
        assert r.get_json()["message"] == 'Já existe uma fila chamada "Vendas".'


def test_bidi_controls_are_stripped_from_names(app, api):
    r = api.post("/api/v1/connection/", json={"name": "\u202eevil\u202c gpj.exe"})
    assert r.status_code == 201, r.get_data(as_text=True)[:300]
    assert r.get_json()["result"]["name"] == "evil gpj.exe"


@pytest.mark.parametrize("name", ["\ufeff", "\u200b \u200b", "\u202e"])
def test_a_contact_name_of_invisible_characters_only_is_required(app, api, db, factory, name):
    from app.models import Contact, Ticket

    connection = factory.connection(queues=[factory.queue()])
    contact = Contact(channel="whatsapp", jid="5511988887777@c.us", phone="5511988887777", name="Maria")
    db.session.add(contact)
    db.session.flush()
    ticket = Ticket(contact_id=contact.id, connection_id=connection.id, status="pending",
                    queue_id=connection.queues[0].id)
    db.session.add(ticket)
    db.session.commit()
    r = api.post(f"/api/v1/ticket/{ticket.id}/contact", json={"name": name})
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert r.get_json()["message"] == 'O campo "Nome" é obrigatório.'
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).name == "Maria"


def test_emoji_sequences_stay_whole_in_names_and_bodies(app, api, db, factory):
    r = api.post("/api/v1/queue/", json={"name": f"Família {FAMILY} {HEART_ON_FIRE}", "color": "#123456"})
    assert r.status_code == 201, r.get_data(as_text=True)[:300]
    assert r.get_json()["result"]["name"] == f"Família {FAMILY} {HEART_ON_FIRE}"
    r = api.post("/api/v1/quick_reply/", json={"shortcut": "/oi", "message": f"Oi\u200b {FAMILY}\u202e!"})
    assert r.status_code == 201, r.get_data(as_text=True)[:300]
    assert r.get_json()["result"]["message"] == f"Oi\u200b {FAMILY}\u202e!"  # a body keeps every character


def test_inputs_text_strips_format_characters_only_from_one_line_fields(app):
    from app.services import inputs

    with app.test_request_context():
        assert inputs.text("\ufeffAna\u200b Souza\u202c", "Nome", single_line=True) == "Ana Souza"
        assert inputs.text(f"{FAMILY}\u200d", "Nome", single_line=True) == FAMILY  # a trailing ZWJ joins nothing
        assert inputs.text("Ana\u200bSouza", "Mensagem") == "Ana\u200bSouza"
