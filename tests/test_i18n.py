"""Portuguese first: every string of ours wrapped for translation has a pt_BR entry."""
from app.i18n import conflicting_translations, extracted_ids, missing_translations


def test_every_wrapped_string_has_a_pt_br_translation():
    assert extracted_ids(), "extraction found nothing: the check would be vacuous"
    assert missing_translations() == {}


def test_no_message_id_is_translated_two_ways():
    """The parts are merged into one catalogue that keeps one translation per id: "Closed" was
    "Fechado" (a queue's day without hours) in admin.po and "Resolvido" (a ticket) in chat.po, and
    the chat showed a resolved ticket as "Fechado", unlike its "Resolvidos" tab."""
    assert conflicting_translations() == {}


def test_a_resolved_ticket_reads_resolvido_in_the_chat(app):
    from flask_babel import force_locale, gettext

    from app.views.chat import chat_strings

    with app.test_request_context(), force_locale("pt_BR"):
        assert chat_strings()["status_closed"] == "Resolvido"
        assert gettext("Closed") == "Fechado"  # a day without business hours


def test_flask_appbuilder_screens_speak_portuguese(app):
    """Flask-AppBuilder's own login page and confirmation dialog: its pt_BR catalogue calls the
    login button "Registrar" (sign up) and its dialog has "Cancel" hard-coded in English."""
    import html
    import re

    from tests.conftest import ADMIN_EMAIL, csrf_token, login

    client = app.test_client()
    page = html.unescape(client.get("/login/").get_data(as_text=True))
    assert re.search(r'value="Entrar"', page) and "Registrar" not in page
    assert "Digite seu e-mail e sua senha:" in page
    # Its pt_BR catalogue also says "Conectar" for the top bar's Login and "Conexão inválida" for a
    # wrong password: in this product a Conexão is a WhatsApp number.
    assert "Conectar" not in page and ">Entrar</a>" in page.replace("</i>", "")
    r = client.post("/login/", data={"username": ADMIN_EMAIL, "password": "senha-errada-123",
                                     "csrf_token": csrf_token(page)}, follow_redirects=True)
    page = html.unescape(r.get_data(as_text=True))
    assert "E-mail ou senha incorretos. Tente novamente." in page and "Conexão inválida" not in page
    assert login(client, ADMIN_EMAIL).status_code == 302
    page = client.get("/connections/list/").get_data(as_text=True)
    assert 'id="modal-confirm"' in page
    assert ">Cancelar</button>" in page and ">Cancel</button>" not in page
    assert ">Confirmar</a>" in page and "Confirmação necessária" in page


def test_forbidden_and_missing_pages_are_in_portuguese(app, factory):
    """A Supervisor opening Configurações, anyone opening a record that does not exist: a page of
    the app in Portuguese, not Flask's English "Forbidden" / "Not Found". The APIs keep JSON."""
    import html

    from tests.conftest import login

    supervisor = factory.member(profile="supervisor", email="sup@teste.com.br")
    client = app.test_client()
    assert login(client, supervisor.email).status_code == 302
    r = client.get("/settings/form")
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 403
    assert "Acesso negado" in page and "O seu perfil não permite abrir esta página." in page
    assert "Forbidden" not in page
    r = client.get("/team/show/987654")
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 404 and "Página não encontrada" in page and "Not Found" not in page
    r = client.get("/chat/api/tickets/987654")
    assert r.status_code == 404 and "Página não encontrada" not in r.get_data(as_text=True)
