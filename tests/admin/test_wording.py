"""Wording of the admin screens. Conexões › Adicionar WhatsApp had three message boxes (saudação,
conclusão, fora do expediente) without a word on when they go out, which one wins over the queue's
or the options' own, or that {{nome}} works there; each weekday of a queue said "Vazio: fechado o
dia todo" while a queue with every day empty is always open; the lists' search said "Contêm"."""
import html

import pytest

from tests.conftest import ADMIN_EMAIL, login


@pytest.fixture
def admin(app):
    client = app.test_client()
    assert login(client, ADMIN_EMAIL).status_code == 302
    return client


def _page(client, url) -> str:
    r = client.get(url)
    assert r.status_code == 200, url
    return html.unescape(r.get_data(as_text=True))


def test_connection_form_says_when_each_message_is_sent(admin):
    page = _page(admin, "/connections/add")
    assert ("Enviada quando um cliente inicia uma conversa nova, antes do menu das filas (com uma fila só, vai "
            "a saudação dessa fila, se ela tiver uma). Você pode usar {{nome}}, {{saudacao}} e {{protocolo}}.") in page
    assert ("Enviada quando um atendente resolve um ticket, a menos que a Mensagem de Despedida por Operador "
            "esteja ligada em Configurações › Opções.") in page
    assert "Enviada fora do expediente quando a fila não tem uma mensagem fora do expediente própria." in page


def test_queue_hours_help_says_a_queue_without_hours_is_always_open(admin):
    page = _page(admin, "/queues/add")
    assert page.count("Vazio: fechado o dia todo (com todos os dias vazios, a fila fica sempre aberta).") == 7
    # Each weekday's empty box says "Fechado" (it said its own label: "Segunda-feira").
    for field in ("hours_mon", "hours_tue", "hours_wed", "hours_thu", "hours_fri", "hours_sat", "hours_sun"):
        box = page[page.rindex("<input", 0, page.index(f'id="{field}"')):][:400]
        assert 'placeholder="Fechado"' in box[:box.index(">")], box


def test_list_filter_says_contem_in_the_singular(admin):
    """Flask-AppBuilder's pt_BR offers "Contêm" / "Não contêm" (they contain) in the lists' search."""
    page = admin.get("/team/list/").get_data(as_text=True)  # the filters go to the page as JSON
    assert '"Cont\\u00e9m"' in page and '"N\\u00e3o cont\\u00e9m"' in page
    assert "Cont\\u00eam" not in page


def test_api_lists_label_their_columns_in_portuguese(app, client):
    """GET /api/v1/team/ labelled two of its columns in English ("Active", "Default Connection Id";
    the list's columns are now its results' fields, default_connection), GET /api/v1/connection/ one
    ("Enabled")."""
    from tests.conftest import api_login

    api = api_login(client, ADMIN_EMAIL)
    team = api.get("/api/v1/team/").get_json()["label_columns"]
    assert team["active"] == "Ativo" and team["default_connection"] == "Conexão Padrão"
    assert api.get("/api/v1/connection/").get_json()["label_columns"]["enabled"] == "Sessão ligada"


@pytest.mark.parametrize("url, label", [
    ("/connections/list/", "Adicionar WhatsApp"), ("/queues/list/", "Adicionar fila"),
    ("/team/list/", "Adicionar usuário"), ("/ratings/list/", "Adicionar avaliação"),
    ("/quick_replies/list/", "Adicionar resposta rápida"),
])
def test_each_list_names_its_add_button_as_the_guide_does(admin, url, label):
    """The guide says Conexões › "Adicionar WhatsApp", Filas & Chatbot › "Adicionar Fila", Equipe ›
    "Adicionar" usuário; each list had a bare "+" whose tooltip said "Incluir um novo registro"."""
    import re

    page = _page(admin, url)
    button = re.search(r'<a href="[^"]*/add[^"]*" class="btn btn-sm btn-primary conecta-add">(.*?)</a>', page, re.S)
    assert button and label in button.group(1), url
