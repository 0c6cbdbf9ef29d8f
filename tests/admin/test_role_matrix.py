"""ONE table (MATRIX): every admin screen URL and every REST endpoint of the configuration objects, against
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
    from app.models import Contact, QuickReply, Rating, Ticket
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
    contact = Contact(jid="5511988887777@c.us", phone="5511988887777", name="Maria")
    db.session.add(contact)
    db.session.flush()
    ticket = Ticket(contact_id=contact.id, connection_id=c.id, queue_id=q.id, status="closed", user_id=user.id)
    db.session.add(ticket)
    db.session.flush()
    rated = Rating(ticket_id=ticket.id, user_id=user.id, template_id=r.id, value=2, label="Bom")
    db.session.add(rated)
    db.session.commit()
    return dict(rated=rated.id, q=q.id, q2=q2.id, c=c.id, c2=c2.id, r=r.id, r2=r2.id, qr=shared.id, qr2=shared2.id,
                          personal=personal.id, user=user.id, sup=sup.id, target=target.id, doomed=doomed.id,
                          admin=admin.id, missing=987654)


EMAILS = {"user": "user@teste.com.br", "supervisor": "sup@teste.com.br", "admin": ADMIN_EMAIL}

# The matrix: (screen | api, method, url template, JSON body, expected for anon, user, supervisor, admin)
MATRIX = [
    ("screen", "GET", "/connections/list/", None, 302, 403, 200, 200),
    ("screen", "GET", "/connections/show/{c}", None, 302, 403, 200, 200),
    ("screen", "GET", "/connections/show/{missing}", None, 302, 403, 404, 404),
    ("screen", "GET", "/connections/add", None, 302, 403, 403, 200),
    ("screen", "GET", "/connections/edit/{c}", None, 302, 403, 403, 200),
    ("screen", "POST", "/connections/delete/{c2}", None, 302, 403, 403, 302),
    ("screen", "GET", "/connections/qr/{c}", None, 302, 403, 200, 200),
    ("screen", "GET", "/connections/qr/{c}/state", None, 302, 403, 200, 200),
    ("screen", "GET", "/connections/qr/{missing}", None, 302, 403, 404, 404),
    ("screen", "GET", "/connections/statuses?ids={c},{missing}", None, 302, 403, 200, 200),
    ("screen", "POST", "/connections/start/{c}", None, 302, 403, 302, 302),
    ("screen", "POST", "/connections/logout/{c}", None, 302, 403, 403, 302),
    ("screen", "GET", "/queues/list/", None, 302, 403, 200, 200),
    ("screen", "GET", "/queues/show/{q}", None, 302, 403, 200, 200),
    ("screen", "GET", "/queues/add", None, 302, 403, 403, 200),
    ("screen", "GET", "/queues/edit/{q}", None, 302, 403, 403, 200),
    ("screen", "POST", "/queues/delete/{q2}", None, 302, 403, 403, 302),
    ("screen", "GET", "/team/list/", None, 302, 403, 200, 200),
    ("screen", "GET", "/team/show/{target}", None, 302, 403, 200, 200),
    ("screen", "GET", "/team/show/{admin}", None, 302, 403, 200, 200),
    ("screen", "GET", "/team/add", None, 302, 403, 403, 200),
    ("screen", "GET", "/team/edit/{target}", None, 302, 403, 200, 200),
    ("screen", "GET", "/team/edit/{admin}", None, 302, 403, 403, 200),
    ("screen", "GET", "/team/edit/{sup}", None, 302, 403, 403, 200),
    ("screen", "GET", "/team/edit/{missing}", None, 302, 403, 404, 404),
    ("screen", "POST", "/team/delete/{doomed}", None, 302, 403, 403, 302),
    ("screen", "GET", "/team/userinfo/", None, 302, 200, 200, 200),
    ("screen", "GET", "/settings/form", None, 302, 403, 403, 200),
    ("screen", "GET", "/ratings/list/", None, 302, 403, 403, 200),
    ("screen", "GET", "/received-ratings/list/", None, 302, 403, 200, 200),
    ("screen", "GET", "/received-ratings/show/{rated}", None, 302, 403, 200, 200),
    ("screen", "GET", "/received-ratings/show/{missing}", None, 302, 403, 404, 404),
    ("screen", "GET", "/received-ratings/add", None, 404, 404, 404, 404),  # no such screen
    ("screen", "POST", "/received-ratings/delete/{rated}", None, 404, 404, 404, 404),
    ("screen", "GET", "/ratings/show/{r}", None, 302, 403, 403, 200),
    ("screen", "GET", "/ratings/add", None, 302, 403, 403, 200),
    ("screen", "GET", "/ratings/edit/{r}", None, 302, 403, 403, 200),
    ("screen", "POST", "/ratings/delete/{r2}", None, 302, 403, 403, 302),
    ("screen", "GET", "/quick_replies/list/", None, 302, 403, 403, 200),
    ("screen", "GET", "/quick_replies/show/{qr}", None, 302, 403, 403, 200),
    ("screen", "GET", "/quick_replies/add", None, 302, 403, 403, 200),
    ("screen", "GET", "/quick_replies/edit/{qr}", None, 302, 403, 403, 200),
    ("screen", "POST", "/quick_replies/delete/{qr2}", None, 302, 403, 403, 302),
    # Posting the forms needs the same permission as opening them.
    ("screen", "POST", "/connections/add", None, 302, 403, 403, 200),
    ("screen", "POST", "/connections/edit/{c}", None, 302, 403, 403, 200),
    ("screen", "POST", "/queues/add", None, 302, 403, 403, 200),
    ("screen", "POST", "/queues/edit/{q}", None, 302, 403, 403, 200),
    ("screen", "POST", "/team/add", None, 302, 403, 403, 200),
    ("screen", "POST", "/team/edit/{target}", None, 302, 403, 200, 200),
    ("screen", "POST", "/team/edit/{admin}", None, 302, 403, 403, 200),
    ("screen", "POST", "/settings/form", None, 302, 403, 403, 200),
    ("screen", "POST", "/ratings/add", None, 302, 403, 403, 200),
    ("screen", "POST", "/quick_replies/add", None, 302, 403, 403, 200),
    ("api", "GET", "/api/v1/connection/", None, 401, 403, 200, 200),
    ("api", "GET", "/api/v1/connection/_info", None, 401, 403, 200, 200),
    ("api", "GET", "/api/v1/connection/{c}", None, 401, 403, 200, 200),
    ("api", "GET", "/api/v1/connection/{missing}", None, 401, 403, 404, 404),
    ("api", "POST", "/api/v1/connection/", {"name": "Nova"}, 401, 403, 403, 201),
    ("api", "PUT", "/api/v1/connection/{c}", {"read_receipts": False}, 401, 403, 403, 200),
    ("api", "PUT", "/api/v1/connection/{missing}", {"read_receipts": False}, 401, 403, 403, 404),
    ("api", "DELETE", "/api/v1/connection/{c2}", None, 401, 403, 403, 200),
    ("api", "POST", "/api/v1/connection/{c}/start", None, 401, 403, 200, 200),
    ("api", "POST", "/api/v1/connection/{missing}/start", None, 401, 403, 404, 404),
    ("api", "POST", "/api/v1/connection/{c}/logout", None, 401, 403, 403, 200),
    ("api", "GET", "/api/v1/connection/{c}/qr", None, 401, 403, 200, 200),
    ("api", "GET", "/api/v1/queue/", None, 401, 200, 200, 200),
    ("api", "GET", "/api/v1/queue/_info", None, 401, 403, 200, 200),
    ("api", "GET", "/api/v1/queue/{q}", None, 401, 200, 200, 200),
    ("api", "GET", "/api/v1/queue/{missing}", None, 401, 404, 404, 404),
    ("api", "POST", "/api/v1/queue/", {"name": "Nova", "color": "#123456"}, 401, 403, 403, 201),
    ("api", "PUT", "/api/v1/queue/{q}", {"bot_order": 7}, 401, 403, 403, 200),
    ("api", "DELETE", "/api/v1/queue/{q2}", None, 401, 403, 403, 200),
    ("api", "GET", "/api/v1/rating/", None, 401, 200, 200, 200),
    ("api", "GET", "/api/v1/rating/_info", None, 401, 403, 403, 200),
    ("api", "GET", "/api/v1/rating/{r}", None, 401, 200, 200, 200),
    ("api", "POST", "/api/v1/rating/", {"name": "Nova", "message": "m", "options": [{"value": 1, "label": "a"},
                                                                          {"value": 2, "label": "b"}]},
     401, 403, 403, 201),
    ("api", "PUT", "/api/v1/rating/{r}", {"message": "Outra mensagem"}, 401, 403, 403, 200),
    ("api", "DELETE", "/api/v1/rating/{r2}", None, 401, 403, 403, 200),
    ("api", "GET", "/api/v1/quick_reply/", None, 401, 200, 200, 200),
    ("api", "GET", "/api/v1/quick_reply/{qr}", None, 401, 200, 200, 200),
    # Someone else's personal quick reply: it must stay invisible (404), whoever asks.
    ("api", "GET", "/api/v1/quick_reply/{personal}", None, 401, 404, 404, 404),
    ("api", "POST", "/api/v1/quick_reply/", {"shortcut": "nova", "message": "m"}, 401, 403, 403, 201),
    ("api", "PUT", "/api/v1/quick_reply/{qr}", {"message": "Oi!"}, 401, 403, 403, 200),
    ("api", "DELETE", "/api/v1/quick_reply/{qr2}", None, 401, 403, 403, 200),
    ("api", "GET", "/api/v1/team/", None, 401, 403, 200, 200),
    ("api", "GET", "/api/v1/team/_info", None, 401, 403, 200, 200),
    ("api", "GET", "/api/v1/team/{target}", None, 401, 403, 200, 200),
    ("api", "GET", "/api/v1/team/{missing}", None, 401, 403, 404, 404),
    ("api", "GET", "/api/v1/team/me", None, 401, 200, 200, 200),
    ("api", "POST", "/api/v1/team/", {"name": "Novo", "email": "novo@teste.com.br", "password": "segredo123",
                               "profile": "supervisor"}, 401, 403, 403, 201),
    ("api", "PUT", "/api/v1/team/{target}", {"password": "outra-senha-1"}, 401, 403, 200, 200),
    ("api", "PUT", "/api/v1/team/{target}", {"name": "Outro nome"}, 401, 403, 403, 200),
    ("api", "PUT", "/api/v1/team/{admin}", {"password": "outra-senha-1"}, 401, 403, 403, 200),
    ("api", "PUT", "/api/v1/team/{sup}", {"password": "outra-senha-1"}, 401, 403, 403, 200),
    ("api", "PUT", "/api/v1/team/{missing}", {"password": "outra-senha-1"}, 401, 403, 404, 404),
    ("api", "DELETE", "/api/v1/team/{doomed}", None, 401, 403, 403, 200),
    ("api", "GET", "/api/v1/settings/", None, 401, 403, 403, 200),
    ("api", "PUT", "/api/v1/settings/", {"chatbot_type": "list"}, 401, 403, 403, 200),
]


def _client(app, role, kind):
    client = app.test_client()
    if role == "anon":
        return client, {}
    if kind == "screen":
        assert login(client, EMAILS[role]).status_code == 302
        return client, {}
    return client, {"Authorization": f"Bearer {api_login(client, EMAILS[role]).token}"}


# The answers of Flask-AppBuilder and Flask-JWT-Extended that ours replace (English, and "msg" for
# the latter); the API answers {"message": <pt_BR>} (DESIGN §7).
FRAMEWORK_ENGLISH = {"Forbidden", "Not found", "Not authorized", "Missing Authorization Header"}
NO_TOKEN = "Falta o token de acesso (Authorization: Bearer <token>, obtido em POST /api/v1/security/login)."
FORBIDDEN = "O seu perfil não permite esta ação."


def _assert_portuguese_refusal(body, status, role, request):
    assert set(body or {}) == {"message"} and body["message"] not in FRAMEWORK_ENGLISH, f"{role}: {request} -> {body}"
    if role == "anon":
        assert body["message"] == NO_TOKEN, f"{request} -> {body}"
    elif status == 403 and role == "user":  # Users get no permission on these APIs but reading
        assert body["message"] == FORBIDDEN, f"{request} -> {body}"


@pytest.mark.parametrize("kind,method,template,body,expected", [(m[0], m[1], m[2], m[3], m[4:]) for m in MATRIX],
                         ids=[f"{m[0]} {m[1]} {m[2]} {i}" for i, m in enumerate(MATRIX)])
def test_role_matrix(app, world, kind, method, template, body, expected):
    url = world.url(template)
    for role, want in zip(ROLES, expected):
        client, headers = _client(app, role, kind)
        if kind == "api":
            r = client.open(url, method=method, json=body, headers=headers)
            assert r.is_json, f"{role}: {method} {url} answered no JSON"
            if want >= 400:
                _assert_portuguese_refusal(r.get_json(), want, role, f"{method} {url}")
        elif method == "GET":
            r = client.get(url)
        else:
            token = ""
            if role != "anon":  # a valid token: what is checked here is the permission, not CSRF
                token = csrf_token(client.get("/resetmypassword/form").get_data(as_text=True))
            r = client.post(url, data={"csrf_token": token})
        assert r.status_code == want, f"{role}: {method} {url} -> {r.status_code} {r.get_data(as_text=True)[:200]}"
        if kind == "screen" and role == "anon" and want == 302:
            assert "/login/" in r.headers["Location"]


# Each admin menu entry: its link's text and address (in the top bar or one of its drop-downs:
# Configurações › Opções, Avaliações › Modelos de avaliação and Avaliações recebidas).
ADMIN_MENUS = {"Conexões": "/connections/list/", "Filas & Chatbot": "/queues/list/", "Equipe": "/team/list/",
               "Opções": "/settings/form", "Modelos de avaliação": "/ratings/list/",
               "Respostas rápidas": "/quick_replies/list/", "Avaliações recebidas": "/received-ratings/list/"}


def _navbar(page: str) -> str:
    m = re.search(r'<div class="navbar-collapse collapse">(.*?)</div>', page, re.S)
    assert m, "no navbar"
    return m.group(1)


@pytest.mark.parametrize("role,visible", [
    ("user", set()),
    ("supervisor", {"Conexões", "Filas & Chatbot", "Equipe", "Avaliações recebidas"}),
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
        link = re.search(r'href="' + re.escape(href) + r'">(.*?)</a>', navbar, re.S)
        assert bool(link) == (label in visible), f"{role}: menu {label} shown={bool(link)}"
        if link:
            assert label in link.group(1), f"{role}: the link to {href} says {link.group(1)!r}"


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


def _row_links(page: str, action: str) -> set:
    """The member ids whose row in the Equipe list offers `action` (show, edit, delete)."""
    pattern = r'id="btn-delete-/team/delete/(\d+)' if action == "delete" else rf'href="/team/{action}/(\d+)'
    return {int(pk) for pk in re.findall(pattern, page)}


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_team_list_offers_each_row_only_what_the_caller_may_do(app, world, role):
    """Equipe offers no action the server would refuse: a Supervisor gets Editar on User-profile
    members only (not on Admins, other Supervisors or herself) and no Excluir; an Admin gets
    everything but removing her own account. The refusals stay on the server."""
    ids = world.ids
    members = {ids["user"], ids["sup"], ids["target"], ids["doomed"], ids["admin"]}
    client = app.test_client()
    login(client, EMAILS[role])
    page = client.get("/team/list/").get_data(as_text=True)
    assert _row_links(page, "show") == members
    if role == "supervisor":
        assert _row_links(page, "edit") == {ids["user"], ids["target"], ids["doomed"]}
        assert _row_links(page, "delete") == set()
        for hidden in (ids["admin"], ids["sup"]):
            assert client.get(f"/team/edit/{hidden}").status_code == 403
    else:
        assert _row_links(page, "edit") == members
        assert _row_links(page, "delete") == members - {ids["admin"]}
    for pk in _row_links(page, "edit"):
        assert client.get(f"/team/edit/{pk}").status_code == 200
    for pk in _row_links(page, "show"):
        assert client.get(f"/team/show/{pk}").status_code == 200
