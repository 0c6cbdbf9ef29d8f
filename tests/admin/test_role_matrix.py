"""ONE table: every admin screen URL and every REST endpoint of the configuration objects, against
anonymous / User / Supervisor / Admin, with the status each must get.

Screens: anonymous -> 302 to the login page; no permission -> 403. APIs: anonymous -> 401; no
permission -> 403; objects the caller may not know about -> 404.
"""
import re
from dataclasses import dataclass

import pytest

from tests.conftest import ADMIN_EMAIL, Factory, api_login, csrf_token, login

ROLES = ("anon", "user", "supervisor", "admin")


@dataclass
class World:
    ids: dict

    def url(self, template: str) -> str:
        return template.format(**self.ids)


@pytest.fixture
def world(app):
    """The objects, created in an app context of their own: requests must not share the test's
    context (Flask reuses a pushed app context, and with it flask_login's user in `g`)."""
    from app.models import db

    with app.app_context():
        ids = _make_world(app, db, Factory(app, db))
        db.session.remove()
    return World(ids=ids)


def _make_world(app, db, factory):
    from app.models import QuickReply
    from app.services import connections, quick_replies, rating_templates

    q = factory.queue(name="Suporte")
    q2 = factory.queue(name="Descartável")
    c = connections.create({"name": "Principal", "queues": [q.id]})
    c2 = connections.create({"name": "Secundária"})
    r = rating_templates.create({"name": "Padrão", "message": "Nota?", "options": [
        {"value": 1, "label": "Ruim"}, {"value": 2, "label": "Bom"}]})
    r2 = rating_templates.create({"name": "Outra", "message": "Nota?", "options": [
        {"value": 1, "label": "Ruim"}, {"value": 2, "label": "Bom"}]})
    shared = quick_replies.create({"shortcut": "ola", "message": "Olá!"})
    shared2 = quick_replies.create({"shortcut": "tchau", "message": "Tchau!"})
    user = factory.member("user", queues=[q], email="user@teste.com.br")
    sup = factory.member("supervisor", email="sup@teste.com.br")
    target = factory.member("user", queues=[q], email="alvo@teste.com.br")
    doomed = factory.member("user", queues=[q], email="removivel@teste.com.br")
    admin = factory.admin()
    personal = QuickReply(shortcut="minha", message="Só minha", user_id=target.id)
    db.session.add(personal)
    db.session.commit()
    return dict(q=q.id, q2=q2.id, c=c.id, c2=c2.id, r=r.id, r2=r2.id, qr=shared.id, qr2=shared2.id,
                          personal=personal.id, user=user.id, sup=sup.id, target=target.id, doomed=doomed.id,
                          admin=admin.id, missing=987654)


EMAILS = {"user": "user@teste.com.br", "supervisor": "sup@teste.com.br", "admin": ADMIN_EMAIL}

# (method, url template, expected for anon, user, supervisor, admin)
SCREENS = [
    ("GET", "/connections/list/", 302, 403, 200, 200),
    ("GET", "/connections/show/{c}", 302, 403, 200, 200),
    ("GET", "/connections/show/{missing}", 302, 403, 404, 404),
    ("GET", "/connections/add", 302, 403, 403, 200),
    ("GET", "/connections/edit/{c}", 302, 403, 403, 200),
    ("POST", "/connections/delete/{c2}", 302, 403, 403, 302),
    ("GET", "/connections/qr/{c}", 302, 403, 200, 200),
    ("GET", "/connections/qr/{c}/state", 302, 403, 200, 200),
    ("GET", "/connections/qr/{missing}", 302, 403, 404, 404),
    ("POST", "/connections/start/{c}", 302, 403, 302, 302),
    ("POST", "/connections/logout/{c}", 302, 403, 403, 302),
    ("GET", "/queues/list/", 302, 403, 200, 200),
    ("GET", "/queues/show/{q}", 302, 403, 200, 200),
    ("GET", "/queues/add", 302, 403, 403, 200),
    ("GET", "/queues/edit/{q}", 302, 403, 403, 200),
    ("POST", "/queues/delete/{q2}", 302, 403, 403, 302),
    ("GET", "/team/list/", 302, 403, 200, 200),
    ("GET", "/team/show/{target}", 302, 403, 200, 200),
    ("GET", "/team/show/{admin}", 302, 403, 200, 200),
    ("GET", "/team/add", 302, 403, 403, 200),
    ("GET", "/team/edit/{target}", 302, 403, 200, 200),
    ("GET", "/team/edit/{admin}", 302, 403, 403, 200),
    ("GET", "/team/edit/{sup}", 302, 403, 403, 200),
    ("GET", "/team/edit/{missing}", 302, 403, 404, 404),
    ("POST", "/team/delete/{doomed}", 302, 403, 403, 302),
    ("GET", "/team/userinfo/", 302, 200, 200, 200),
    ("GET", "/settings/form", 302, 403, 403, 200),
    ("GET", "/ratings/list/", 302, 403, 403, 200),
    ("GET", "/ratings/show/{r}", 302, 403, 403, 200),
    ("GET", "/ratings/add", 302, 403, 403, 200),
    ("GET", "/ratings/edit/{r}", 302, 403, 403, 200),
    ("POST", "/ratings/delete/{r2}", 302, 403, 403, 302),
    ("GET", "/quick_replies/list/", 302, 403, 403, 200),
    ("GET", "/quick_replies/show/{qr}", 302, 403, 403, 200),
    ("GET", "/quick_replies/add", 302, 403, 403, 200),
    ("GET", "/quick_replies/edit/{qr}", 302, 403, 403, 200),
    ("POST", "/quick_replies/delete/{qr2}", 302, 403, 403, 302),
]

# (method, url template, JSON body, expected for anon, user, supervisor, admin)
ENDPOINTS = [
    ("GET", "/api/v1/connection/", None, 401, 403, 200, 200),
    ("GET", "/api/v1/connection/_info", None, 401, 403, 200, 200),
    ("GET", "/api/v1/connection/{c}", None, 401, 403, 200, 200),
    ("GET", "/api/v1/connection/{missing}", None, 401, 403, 404, 404),
    ("POST", "/api/v1/connection/", {"name": "Nova"}, 401, 403, 403, 201),
    ("PUT", "/api/v1/connection/{c}", {"read_receipts": False}, 401, 403, 403, 200),
    ("PUT", "/api/v1/connection/{missing}", {"read_receipts": False}, 401, 403, 403, 404),
    ("DELETE", "/api/v1/connection/{c2}", None, 401, 403, 403, 200),
    ("POST", "/api/v1/connection/{c}/start", None, 401, 403, 200, 200),
    ("POST", "/api/v1/connection/{missing}/start", None, 401, 403, 404, 404),
    ("POST", "/api/v1/connection/{c}/logout", None, 401, 403, 403, 200),
    ("GET", "/api/v1/connection/{c}/qr", None, 401, 403, 200, 200),
    ("GET", "/api/v1/queue/", None, 401, 200, 200, 200),
    ("GET", "/api/v1/queue/_info", None, 401, 403, 200, 200),
    ("GET", "/api/v1/queue/{q}", None, 401, 200, 200, 200),
    ("GET", "/api/v1/queue/{missing}", None, 401, 404, 404, 404),
    ("POST", "/api/v1/queue/", {"name": "Nova", "color": "#123456"}, 401, 403, 403, 201),
    ("PUT", "/api/v1/queue/{q}", {"bot_order": 7}, 401, 403, 403, 200),
    ("DELETE", "/api/v1/queue/{q2}", None, 401, 403, 403, 200),
    ("GET", "/api/v1/rating/", None, 401, 200, 200, 200),
    ("GET", "/api/v1/rating/_info", None, 401, 403, 403, 200),
    ("GET", "/api/v1/rating/{r}", None, 401, 200, 200, 200),
    ("POST", "/api/v1/rating/", {"name": "Nova", "message": "m", "options": [{"value": 1, "label": "a"},
                                                                          {"value": 2, "label": "b"}]},
     401, 403, 403, 201),
    ("PUT", "/api/v1/rating/{r}", {"message": "Outra mensagem"}, 401, 403, 403, 200),
    ("DELETE", "/api/v1/rating/{r2}", None, 401, 403, 403, 200),
    ("GET", "/api/v1/quick_reply/", None, 401, 200, 200, 200),
    ("GET", "/api/v1/quick_reply/{qr}", None, 401, 200, 200, 200),
    # Someone else's personal quick reply: it must stay invisible (404), whoever asks.
    ("GET", "/api/v1/quick_reply/{personal}", None, 401, 404, 404, 404),
    ("POST", "/api/v1/quick_reply/", {"shortcut": "nova", "message": "m"}, 401, 403, 403, 201),
    ("PUT", "/api/v1/quick_reply/{qr}", {"message": "Oi!"}, 401, 403, 403, 200),
    ("DELETE", "/api/v1/quick_reply/{qr2}", None, 401, 403, 403, 200),
    ("GET", "/api/v1/team/", None, 401, 403, 200, 200),
    ("GET", "/api/v1/team/_info", None, 401, 403, 200, 200),
    ("GET", "/api/v1/team/{target}", None, 401, 403, 200, 200),
    ("GET", "/api/v1/team/{missing}", None, 401, 403, 404, 404),
    ("GET", "/api/v1/team/me", None, 401, 200, 200, 200),
    ("POST", "/api/v1/team/", {"name": "Novo", "email": "novo@teste.com.br", "password": "segredo123",
                               "profile": "supervisor"}, 401, 403, 403, 201),
    ("PUT", "/api/v1/team/{target}", {"password": "outra-senha-1"}, 401, 403, 200, 200),
    ("PUT", "/api/v1/team/{target}", {"name": "Outro nome"}, 401, 403, 403, 200),
    ("PUT", "/api/v1/team/{admin}", {"password": "outra-senha-1"}, 401, 403, 403, 200),
    ("PUT", "/api/v1/team/{sup}", {"password": "outra-senha-1"}, 401, 403, 403, 200),
    ("PUT", "/api/v1/team/{missing}", {"password": "outra-senha-1"}, 401, 403, 404, 404),
    ("DELETE", "/api/v1/team/{doomed}", None, 401, 403, 403, 200),
    ("GET", "/api/v1/settings/", None, 401, 403, 403, 200),
    ("PUT", "/api/v1/settings/", {"chatbot_type": "list"}, 401, 403, 403, 200),
]


def _screen_clients(app):
    clients = {"anon": app.test_client()}
    for role, email in EMAILS.items():
        c = app.test_client()
        assert login(c, email).status_code == 302
        clients[role] = c
    return clients


@pytest.mark.parametrize("method,template,expected", [(s[0], s[1], s[2:]) for s in SCREENS],
                         ids=[f"{s[0]} {s[1]}" for s in SCREENS])
def test_screen_permissions(app, world, method, template, expected):
    clients = _screen_clients(app)
    url = world.url(template)
    for role, want in zip(ROLES, expected):
        client = clients[role]
        if method == "GET":
            r = client.get(url)
        else:
            token = ""
            if role != "anon":  # a valid token: what is checked is the permission, not CSRF
                token = csrf_token(client.get("/resetmypassword/form").get_data(as_text=True))
            r = client.post(url, data={"csrf_token": token})
        assert r.status_code == want, f"{role}: {method} {url} -> {r.status_code}, expected {want}"
        if role == "anon":
            assert "/login/" in r.headers["Location"]


@pytest.mark.parametrize("method,template,body,expected", [(e[0], e[1], e[2], e[3:]) for e in ENDPOINTS],
                         ids=[f"{e[0]} {e[1]} {i}" for i, e in enumerate(ENDPOINTS)])
def test_endpoint_permissions(app, world, method, template, body, expected):
    url = world.url(template)
    for role, want in zip(ROLES, expected):
        client = app.test_client()
        if role == "anon":
            r = client.open(url, method=method, json=body)
        else:
            api = api_login(client, EMAILS[role])
            r = client.open(url, method=method, json=body, headers={"Authorization": f"Bearer {api.token}"})
        assert r.status_code == want, f"{role}: {method} {url} -> {r.status_code} {r.get_data(as_text=True)[:200]}"
        assert r.is_json, f"{role}: {method} {url} answered no JSON"


ADMIN_MENUS = {"Conexões": "/connections/list/", "Filas &amp; Chatbot": "/queues/list/", "Equipe": "/team/list/",
               "Configurações": "/settings/form", "Avaliações": "/ratings/list/",
               "Respostas rápidas": "/quick_replies/list/"}


def _navbar(page: str) -> str:
    m = re.search(r'<div class="navbar-collapse collapse">(.*?)</div>', page, re.S)
    assert m, "no navbar"
    return m.group(1)


@pytest.mark.parametrize("role,visible", [
    ("user", set()),
    ("supervisor", {"Conexões", "Filas &amp; Chatbot", "Equipe"}),
    ("admin", set(ADMIN_MENUS)),
])
def test_navbar_menus_by_profile(app, world, role, visible):
    """A User-profile member who logs in sees none of the admin menus; others see theirs."""
    client = app.test_client()
    login(client, EMAILS[role])
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    navbar = _navbar(html)
    assert "Sair" in html
    for label, href in ADMIN_MENUS.items():
        shown = label in navbar or href in navbar
        assert shown == (label in visible), f"{role}: menu {label} shown={shown}"


def test_portuguese_by_default_and_english_selectable(app, world):
    client = app.test_client()
    login(client, ADMIN_EMAIL)
    page = client.get("/connections/list/").get_data(as_text=True)
    assert "Conexões" in page and "Padrão" in page and "Número" in page
    assert "Conexões" in client.get("/connections/add").get_data(as_text=True)
    form = client.get("/queues/add").get_data(as_text=True)
    assert "Ordenação do BOT" in form and "Segunda-feira" in form
    assert client.get("/lang/en").status_code == 302
    page = client.get("/connections/list/").get_data(as_text=True)
    assert "Connections" in page and "Default" in page and "Conexões" not in page
    form = client.get("/queues/add").get_data(as_text=True)
    assert "Bot order" in form and "Monday" in form
