"""REST API of the configuration objects (DESIGN §7): shapes, rules and bad input.

Bad input always gets {"message": <pt_BR text>} with 400/422/404 and changes nothing."""
import json

import pytest

from tests.conftest import ADMIN_EMAIL, Factory, api_login


@pytest.fixture
def api(app):
    return api_login(app.test_client(), ADMIN_EMAIL)


def snapshot(app):
    """Everything the admin APIs can change, to prove a refused request changed nothing."""
    from app.models import Connection, Member, QuickReply, RatingTemplate, db
    from app.services import queues, rating_templates, settings, team

    with app.app_context():
        data = {
            "connections": [(c.id, c.name, c.is_default, c.read_receipts, c.greeting_message, [q.id for q in c.queues])
                            for c in db.session.query(Connection).order_by(Connection.id)],
            "queues": [(q.id, q.name, q.color, q.bot_order, queues.hours_as_dicts(q)) for q in queues.ordered()],
            "team": [(team.as_dict(m), m.password) for m in db.session.query(Member).order_by(Member.id)],
            "ratings": [(t.id, t.name, t.message, rating_templates.options_as_dicts(t))
                        for t in db.session.query(RatingTemplate).order_by(RatingTemplate.id)],
            "quick": [(r.id, r.shortcut, r.message) for r in db.session.query(QuickReply).order_by(QuickReply.id)],
            "settings": settings.as_dict(),
        }
        db.session.remove()
    return data


@pytest.fixture
def seeded(app):
    from app.models import db
    from app.services import connections, queues, quick_replies, rating_templates

    with app.app_context():
        f = Factory(app, db)
        q = queues.create({"name": "Suporte", "color": "#00AA00", "bot_order": 1})
        c = connections.create({"name": "Principal", "queues": [q.id]})
        c2 = connections.create({"name": "Secundária"})
        r = rating_templates.create({"name": "Padrão", "message": "Nota?", "options": [
            {"value": 1, "label": "Ruim"}, {"value": 2, "label": "Bom"}]})
        qr = quick_replies.create({"shortcut": "ola", "message": "Olá!"})
        user = f.member("user", queues=[q], email="user@teste.com.br")
        ids = dict(q=q.id, c=c.id, c2=c2.id, r=r.id, qr=qr.id, user=user.id, admin=f.admin().id)
        db.session.remove()
    return ids


HUGE = "x" * 300_000
_COMMON = [1.5, [], {}, {"x": 1}, "a\x00b", HUGE, "x" * 5000]
BAD = {
    "req_text": _COMMON + [None, "", "   ", 1, True],
    "opt_text": [1.5, [], {}, {"x": 1}, "a\x00b", HUGE, 1, True],
    "bool": [None, "sim", "true", 1, 0, [], {}, 1.5],
    "ids": ["1", 1, [999999], [True], ["a"], [None], {"x": 1}, "a\x00b", True, list(range(2000))],
    "id": ["1", [1], 999999, True, 1.5, {"x": 1}, -3],
    "int": [None, "um", 1.5, True, [], {}, -1, 10 ** 12, "a\x00b"],
    "color": _COMMON + [None, "", "red", "#12345", "#1234567", "#GGGGGG", 123456],
    "choice": _COMMON + [None, "", 1, True, "fax"],
    "hours": ["08-18", [1], [{"weekday": 0}], [{"weekday": 0, "start": "8", "end": "9"}],
              [{"weekday": 9, "start": "08:00", "end": "09:00"}], {"x": 1}, 1,
              [{"weekday": 0, "start": "08:00", "end": "12:00"}, {"weekday": 0, "start": "10:00", "end": "14:00"}]],
    "options": [None, [], [{"value": 1, "label": "a"}], "1-a", {"1": "a"},
                [{"value": 1, "label": "a"}, {"value": 1, "label": "b"}],
                [{"value": "x", "label": "a"}, {"value": 2, "label": "b"}],
                [{"value": 1, "label": ""}, {"value": 2, "label": "b"}],
                [{"value": 1, "label": "a\x00"}, {"value": 2, "label": "b"}]],
    "email": _COMMON + [None, "", 1, True, "não-é-email", "a@", "@b.com"],
    "password": [None, "", "curta", 12345678, "a\x00bcdefghi", "x" * 200, True],
    "phone": _COMMON + ["11987654321", "55 11 98765-4321", "5511", "55119876543210", 5511987654321, "+5511987654321"],
    "shortcut": _COMMON + [None, "", "dois termos", "a/b"],
}

# (url, valid body for POST, the kind of each field)
CREATE = {
    "/api/v1/connection/": ({"name": "Nova 😀", "is_default": False, "read_receipts": True, "queues": [],
                             "greeting_message": "Olá {{nome}} 👋", "completion_message": "Tchau",
                             "out_of_hours_message": "Fechado", "channel": "whatsapp"},
                            {"name": "req_text", "is_default": "bool", "read_receipts": "bool", "queues": "ids",
                             "greeting_message": "opt_text", "completion_message": "opt_text",
                             "out_of_hours_message": "opt_text", "channel": "choice"}),
    "/api/v1/queue/": ({"name": "Financeiro 💰", "color": "#FF00FF", "bot_order": 3, "greeting_message": "Oi",
                        "out_of_hours_message": "Fechado", "hours": [{"weekday": 0, "start": "08:00", "end": "18:00"}]},
                       {"name": "req_text", "color": "color", "bot_order": "int", "greeting_message": "opt_text",
                        "out_of_hours_message": "opt_text", "hours": "hours"}),
    "/api/v1/rating/": ({"name": "NPS", "message": "De 1 a 2?", "options": [{"value": 1, "label": "Ruim"},
                                                                           {"value": 2, "label": "Bom 😀"}]},
                        {"name": "req_text", "message": "req_text", "options": "options"}),
    "/api/v1/quick_reply/": ({"shortcut": "pix", "message": "Nossa chave PIX é ..."},
                             {"shortcut": "shortcut", "message": "req_text"}),
    "/api/v1/team/": ({"name": "Bia 😀", "email": "bia@teste.com.br", "password": "segredo123",
                       "phone": "5511987654321", "profile": "user", "queues": ["Q"], "default_connection": None},
                      {"name": "req_text", "email": "email", "password": "password", "phone": "phone",
                       "profile": "choice", "queues": "ids", "default_connection": "id"}),
}


URL_KEY = {"/api/v1/connection/": "c", "/api/v1/queue/": "q", "/api/v1/rating/": "r", "/api/v1/quick_reply/": "qr",
           "/api/v1/team/": "user"}


def _fill(body, ids):
    body = json.loads(json.dumps(body))
    if body.get("queues") == ["Q"]:
        body["queues"] = [ids["q"]]
    return body


@pytest.mark.parametrize("url", list(CREATE))
def test_create_then_every_bad_field_is_refused_with_a_message(app, api, seeded, url):
    body, kinds = CREATE[url]
    body = _fill(body, seeded)
    before = snapshot(app)
    for field, kind in kinds.items():
        for bad in BAD[kind]:
            r = api.post(url, json=dict(body, **{field: bad}))
            assert r.status_code in (400, 422), (field, repr(bad)[:40], r.status_code, r.get_data(as_text=True)[:300])
            message = r.get_json()["message"]
            assert isinstance(message, str) and message, (field, bad)
            # the same bad value on an update of an existing object (there an empty password means
            # "keep the current one")
            if field == "password" and bad in (None, ""):
                continue
            r = api.put(f"{url}{seeded[URL_KEY[url]]}", json={field: bad})
            assert r.status_code in (400, 422), (field, repr(bad)[:40], r.status_code, r.get_data(as_text=True)[:300])
            assert r.get_json()["message"]
    assert snapshot(app) == before
    r = api.post(url, json=body)
    assert r.status_code == 201, r.get_data(as_text=True)
    created = r.get_json()
    shown = api.get(f"{url}{created['id']}").get_json()["result"]
    for key, value in body.items():
        if key == "password":
            assert "password" not in shown and "password" not in created["result"]
        elif key in ("name", "message", "greeting_message"):
            assert shown[key] == value.strip()
    # duplicates are refused
    again = api.post(url, json=body)
    assert again.status_code == 422 and again.get_json()["message"]


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'"text"', b"null", b"{", b"\x00\xff"])
@pytest.mark.parametrize("url", list(CREATE) + ["/api/v1/settings/"])
def test_malformed_bodies(app, api, seeded, url, payload):
    before = snapshot(app)
    method = api.client.put if url == "/api/v1/settings/" else api.client.post
    r = method(url, data=payload, headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"})
    assert r.status_code in (400, 422) and r.get_json()["message"]
    r = api.client.put(f"{url}{seeded['c']}" if url != "/api/v1/settings/" else url, data=payload,
                       headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"})
    assert r.status_code in (400, 404, 422) and r.get_json()["message"]
    assert snapshot(app) == before


@pytest.mark.parametrize("url", ["/api/v1/connection/", "/api/v1/queue/", "/api/v1/rating/", "/api/v1/quick_reply/",
                                 "/api/v1/team/"])
@pytest.mark.parametrize("pk", ["987654", "abc", "-1", "0", "99999999999999999999", "1.5"])
def test_unknown_ids(app, api, seeded, url, pk):
    """Whatever the id, GET, PUT and DELETE say the same 404. FAB routes GET by /<int:pk> and PUT /
    DELETE by /<pk>: GET of "abc", "-1" or "1.5" answered 405 "Este endereço não aceita o método GET."."""
    before = snapshot(app)
    r = api.get(f"{url}{pk}")
    assert (r.status_code, r.get_json()) == (404, {"message": "Não encontrado."})  # as GET of an unknown number
    for r in (api.put(f"{url}{pk}", json={"name": "x"}), api.delete(f"{url}{pk}")):
        assert r.status_code == 404 and r.get_json()["message"]
    assert snapshot(app) == before


@pytest.mark.parametrize("url", ["/api/v1/connection/", "/api/v1/queue/", "/api/v1/team/", "/api/v1/rating/"])
def test_a_get_of_no_id_still_needs_a_login(client, url):
    assert client.get(f"{url}abc").status_code == 401


def test_lists_and_filters_never_500(api, seeded):
    for url in CREATE:
        for q in ("(page:0,page_size:5)", "(order_column:name,order_direction:desc)", "garbage(((",
                  "(filters:!((col:nope,opr:eq,value:1)))", "(page_size:100000)", "(order_column:password)",
                  "(filters:!((col:password,opr:sw,value:a)))"):
            r = api.get(url, query_string={"q": q})
            assert r.status_code in (200, 400), (url, q, r.status_code)
            assert r.is_json


@pytest.mark.parametrize("q, message", [
    ("garbage(((", "O parâmetro q não é um argumento rison válido."),
    ("(filters:!((col:nope,opr:eq,value:1)))", "Não é possível filtrar pela coluna nope."),
    ("(filters:!((col:name,opr:nao_existe,value:a)))", "O filtro nao_existe não se aplica à coluna name."),
    ("(filters:!((col:name,value:a)))", "Cada filtro precisa de col, opr e value."),
    ("(filters:nome)", "Cada filtro precisa de col, opr e value."),
    ("(order_column:password)", "Não é possível ordenar pela coluna password."),
    ("(order_column:name,order_direction:up)", "order_direction deve ser asc ou desc."),
    ("(page:dois)", "O parâmetro q não segue o formato da API (veja /api/v1/_openapi)."),
])
def test_bad_list_arguments_are_refused_in_portuguese(app, api, seeded, q, message):
    """Flask-AppBuilder's own refusals were English ("Invalid order by column: password"), and a
    filter with an unknown operator (or missing its value) was dropped without a word: the answer
    listed everything, as if filtered."""
    r = api.get("/api/v1/queue/", query_string={"q": q})
    assert r.status_code == 400, (q, r.status_code, r.get_json())
    assert r.get_json() == {"message": message}


# The titles FAB puts in its answers (list: list_title, one item: show_title, _info: add_title and
# edit_title), the same as the screen's; FAB's own were English ("List Connection").
TITLES = {
    "/api/v1/connection/": ("Conexões", "Conexão", "Adicionar WhatsApp", "Editar conexão"),
    "/api/v1/queue/": ("Filas & Chatbot", "Fila", "Adicionar fila", "Editar fila"),
    "/api/v1/rating/": ("Avaliações", "Avaliação", "Adicionar avaliação", "Editar avaliação"),
    "/api/v1/quick_reply/": ("Respostas rápidas", "Resposta rápida", "Adicionar resposta rápida",
                             "Editar resposta rápida"),
    "/api/v1/team/": ("Equipe", "Usuário", "Adicionar usuário", "Editar usuário"),
}


@pytest.mark.parametrize("url", list(TITLES))
def test_titles_are_in_portuguese(api, seeded, url):
    list_title, show_title, add_title, edit_title = TITLES[url]
    assert api.get(url).get_json()["list_title"] == list_title
    assert api.get(f"{url}{seeded[URL_KEY[url]]}").get_json()["show_title"] == show_title
    info = api.get(f"{url}_info").get_json()
    assert (info["add_title"], info["edit_title"]) == (add_title, edit_title)


def test_refusals_of_the_framework_are_in_portuguese(app, seeded):
    """Flask-AppBuilder's own refusals were English: "Forbidden" for an action the caller's profile
    does not allow, "Not found" for an id that does not exist."""
    from tests.conftest import Factory

    with app.app_context():
        from app.models import db

        Factory(app, db).member("supervisor", email="sup-api@teste.com.br")
        db.session.remove()
    user = api_login(app.test_client(), "user@teste.com.br")
    supervisor = api_login(app.test_client(), "sup-api@teste.com.br")
    forbidden = (403, {"message": "O seu perfil não permite esta ação."})
    for r in (user.get("/api/v1/team/"), user.get("/api/v1/connection/"), user.post("/api/v1/queue/", json={}),
              supervisor.post("/api/v1/team/", json={}), supervisor.delete(f"/api/v1/connection/{seeded['c2']}")):
        assert (r.status_code, r.get_json()) == forbidden
    r = supervisor.get("/api/v1/team/987654")
    assert (r.status_code, r.get_json()) == (404, {"message": "Não encontrado."})
    for url in ("/api/v1/menu/", "/api/v1/_openapi"):  # Flask-AppBuilder's own APIs
        r = user.get(url)
        assert (r.status_code, r.get_json()) == forbidden


def test_too_long_agrees_with_a_feminine_field(api, seeded):
    """The generic refusal read "Mensagem de saudação é longo demais": the field's name now stands
    in quotes after "O campo", whatever its gender."""
    r = api.post("/api/v1/queue/", json={"name": "Longa", "color": "#ABCDEF", "greeting_message": "x" * 4001})
    assert r.status_code == 422
    assert r.get_json() == {"message": 'O campo "Mensagem de saudação" é longo demais (no máximo 4000 caracteres).'}


def test_every_api_says_the_framework_refusals_in_portuguese(app):
    """Every API registered (FAB's menu and OpenAPI ones too) mixes in ApiRefusals: a new one
    without it would refuse in English."""
    from flask_appbuilder.api import BaseApi

    from app.views.errors import ApiRefusals

    apis = [v for v in app.appbuilder.baseviews if isinstance(v, BaseApi)]
    assert {"TicketApi", "ConectaSecurityApi", "MenuApi", "OpenApi"} <= {type(v).__name__ for v in apis}
    assert [type(v).__name__ for v in apis if not isinstance(v, ApiRefusals)] == []


def test_connection_api_shape_and_default_rule(app, api, seeded):
    r = api.get(f"/api/v1/connection/{seeded['c']}")
    result = r.get_json()["result"]
    assert result["queues"] == [seeded["q"]] and result["is_default"] is True and result["status"] == "DISCONNECTED"
    # Making the second one default unsets the first; unsetting the only default is refused.
    assert api.put(f"/api/v1/connection/{seeded['c2']}", json={"is_default": True}).status_code == 200
    listed = {c["id"]: c["is_default"] for c in api.get("/api/v1/connection/").get_json()["result"]}
    assert listed == {seeded["c"]: False, seeded["c2"]: True}
    before = snapshot(app)
    r = api.put(f"/api/v1/connection/{seeded['c2']}", json={"is_default": False})
    assert r.status_code == 422 and "padrão" in r.get_json()["message"]
    r = api.delete(f"/api/v1/connection/{seeded['c2']}")
    assert r.status_code == 422 and "padrão" in r.get_json()["message"]
    assert snapshot(app) == before
    # A new connection marked default takes over.
    r = api.post("/api/v1/connection/", json={"name": "Terceira", "is_default": True})
    assert r.status_code == 201 and r.get_json()["result"]["is_default"] is True
    defaults = [c for c in api.get("/api/v1/connection/").get_json()["result"] if c["is_default"]]
    assert [c["name"] for c in defaults] == ["Terceira"]
    # Delete the others; the last one can go.
    for pk in (seeded["c"], seeded["c2"]):
        assert api.delete(f"/api/v1/connection/{pk}").status_code == 200
    assert api.delete(f"/api/v1/connection/{r.get_json()['id']}").status_code == 200
    first = api.post("/api/v1/connection/", json={"name": "Depois", "is_default": False})
    assert first.get_json()["result"]["is_default"] is True  # the first one is the default


def test_connection_session_endpoints(app, api, seeded):
    from app.models.connection import ConnectionStatus
    from app.services import connections
    from app.workers import key, redis_conn

    c = seeded["c"]
    assert api.get(f"/api/v1/connection/{c}/qr").get_json() == {"status": "DISCONNECTED", "qr": None}
    r = api.post(f"/api/v1/connection/{c}/start")
    assert r.status_code == 200 and r.get_json() == {"status": "OPENING", "qr": None}
    with app.app_context():
        connections.set_status(c, ConnectionStatus.QRCODE, qr="2@QRDATA")
        redis_conn().delete(key(f"bridge:{c}:commands"))
    assert api.get(f"/api/v1/connection/{c}/qr").get_json() == {"status": "QRCODE", "qr": "2@QRDATA"}
    from app.bridge.lock import SessionLock
    from app.bridge.runner import lock_key

    with app.app_context():  # a live session holds the connection's lock: logout goes through it
        live = SessionLock(redis_conn(), lock_key(c))
        assert live.acquire()
    try:
        r = api.post(f"/api/v1/connection/{c}/logout")
    finally:
        with app.app_context():
            live.release()
    assert r.get_json() == {"status": "DISCONNECTED", "qr": None}
    with app.app_context():
        assert redis_conn().lrange(key(f"bridge:{c}:commands"), 0, -1) == [b'{"op": "logout"}']
        assert connections.get(c).enabled is False


def test_team_api(app, api, seeded):
    r = api.post("/api/v1/team/", json={"name": "Carla", "email": "carla@teste.com.br", "password": "segredo123",
                                        "profile": "supervisor", "queues": [seeded["q"]],
                                        "default_connection": seeded["c"]})
    assert r.status_code == 201
    result = r.get_json()["result"]
    assert result["profile"] == "supervisor" and result["queues"] == [seeded["q"]]
    assert result["default_connection"] == seeded["c"] and "password" not in result
    listed = api.get("/api/v1/team/").get_json()["result"]
    assert all("password" not in m for m in listed)
    assert {m["email"] for m in listed} >= {"carla@teste.com.br", ADMIN_EMAIL}
    carla = api_login(app.test_client(), "carla@teste.com.br", "segredo123")
    me = carla.get("/api/v1/team/me").get_json()["result"]
    assert me["email"] == "carla@teste.com.br" and me["profile"] == "supervisor"
    # Supervisor: a User's queues and password yes; their name, or anything of an Admin, no.
    assert carla.put(f"/api/v1/team/{seeded['user']}", json={"queues": [seeded["q"]], "password": "trocada-123"}
                     ).status_code == 200
    api_login(app.test_client(), "user@teste.com.br", "trocada-123")
    before = snapshot(app)
    r = carla.put(f"/api/v1/team/{seeded['user']}", json={"name": "Outro", "queues": [seeded["q"]]})
    assert r.status_code == 403 and "Supervisores" in r.get_json()["message"]
    r = carla.put(f"/api/v1/team/{seeded['admin']}", json={"password": "trocada-123"})
    assert r.status_code == 403
    # Last Admin
    r = api.put(f"/api/v1/team/{seeded['admin']}", json={"profile": "user", "queues": [seeded["q"]]})
    assert r.status_code == 422 and "último Admin" in r.get_json()["message"]
    assert snapshot(app) == before


def test_team_api_orders_and_filters_by_the_documented_fields(app, api, seeded):
    """DESIGN §7 names a member's fields name and default_connection, and the results use them:
    ordering or filtering by them was refused ("Não é possível ordenar pela coluna name."), only the
    internal first_name worked, and the metadata named first_name, default_connection_id."""
    for name, email in (("Bruno Lima", "bruno@teste.com.br"), ("Zélia Dias", "zelia@teste.com.br")):
        assert api.post("/api/v1/team/", json={"name": name, "email": email, "password": "segredo123",
                                               "profile": "admin", "default_connection": seeded["c"]}
                        ).status_code == 201

    def names(q):
        r = api.get("/api/v1/team/", query_string={"q": q})
        assert r.status_code == 200, (q, r.get_json())
        return [m["name"] for m in r.get_json()["result"]]

    everyone = names("(order_column:name,order_direction:asc)")
    assert everyone[0] == "Administrador" and everyone[-1] == "Zélia Dias"
    assert names("(order_column:name,order_direction:desc)") == everyone[::-1]
    assert names("(order_column:first_name,order_direction:desc)") == everyone[::-1]  # the old name
    assert names("(filters:!((col:name,opr:ct,value:Bruno)))") == ["Bruno Lima"]
    assert names("(filters:!((col:first_name,opr:sw,value:Z)))") == ["Zélia Dias"]
    assert names(f"(filters:!((col:default_connection,opr:eq,value:{seeded['c']})),"
                 "order_column:default_connection,order_direction:asc)") == ["Bruno Lima", "Zélia Dias"]
    r = api.get("/api/v1/team/", query_string={"q": "(filters:!((col:name,opr:nope,value:a)))"})
    assert r.get_json() == {"message": "O filtro nope não se aplica à coluna name."}
    # The metadata names the fields of the results.
    listed = api.get("/api/v1/team/").get_json()
    assert set(listed["list_columns"]) == set(listed["result"][0]) == set(listed["label_columns"])
    assert listed["order_columns"] == ["name", "email", "phone", "default_connection"]
    assert listed["label_columns"]["name"] == "Nome"
    assert set(api.get("/api/v1/team/_info").get_json()["filters"]) == {"name", "email", "phone", "default_connection"}
    shown = api.get(f"/api/v1/team/{seeded['user']}").get_json()
    assert set(shown["show_columns"]) == set(shown["result"]) == set(shown["label_columns"])


def test_settings_api(app, api, seeded):
    full = api.get("/api/v1/settings/").get_json()
    for key in ("send_ratings", "rating_required", "external_rating", "external_rating_url", "business_hours",
                "open_tickets_out_of_hours", "ignore_group_messages", "group_actions", "accept_calls",
                "call_rejection_message", "chatbot_type", "operator_greeting", "operator_greeting_text",
                "transfer_message", "transfer_message_text", "operator_farewell", "operator_farewell_text", "timezone"):
        assert key in full
    r = api.put("/api/v1/settings/", json={"accept_calls": False, "call_rejection_message": "Não atendemos ligações 📵"})
    assert r.status_code == 200 and r.get_json()["accept_calls"] is False
    before = snapshot(app)
    for body in ({"call_rejection_message": ""}, {"timezone": "Marte/Olympus"}, {"chatbot_type": 1},
                 {"external_rating": True, "external_rating_url": "nota.com"}, {"operator_greeting": "true"},
                 {"rating_expiry_minutes": -5}, {"transfer_message": True, "transfer_message_text": "a\x00"},
                 {"unknown": True}, {"operator_farewell_text": HUGE}, {"operator_farewell_text": "x" * 5000}):
        r = api.put("/api/v1/settings/", json=body)
        assert r.status_code in (400, 422), body
        assert r.get_json()["message"]
    assert snapshot(app) == before


def template_writes(seeded, text, settings_text=None):
    """(method, url, body, field label): a write of `text` into a message template through each
    API that saves one (the settings' with `settings_text` when given)."""
    return (
        ("put", "/api/v1/settings/", {"transfer_message": True, "transfer_message_text": settings_text or text},
         "Texto de Transferência"),
        ("post", "/api/v1/queue/", {"name": "Financeiro", "color": "#ABCDEF", "greeting_message": text},
         "Mensagem de saudação"),
        ("put", f"/api/v1/queue/{seeded['q']}", {"out_of_hours_message": text}, "Mensagem fora do expediente"),
        ("put", f"/api/v1/connection/{seeded['c']}", {"completion_message": text}, "Mensagem de conclusão"),
        ("post", "/api/v1/quick_reply/", {"shortcut": "novo", "message": text}, "Mensagem"),
        ("put", f"/api/v1/rating/{seeded['r']}", {"message": text}, "Mensagem"),
    )


def test_templates_with_unknown_variables_are_refused_by_the_api(app, api, seeded):
    """Every message template the API saves refuses an unknown {{variable}}: 422 with the message
    naming it, nothing changed."""
    allowed = "Variáveis disponíveis: {{nome}}, {{atendente}}, {{fila}}, {{protocolo}}, {{saudacao}}."
    before = snapshot(app)
    for method, url, body, label in template_writes(seeded, "{{cliente}}", settings_text="Olá {{nomee}} {{ fila }}"):
        r = getattr(api, method)(url, json=body)
        assert r.status_code == 422, (url, r.status_code, r.get_data(as_text=True))
        unknown = "{{nomee}}" if "settings" in url else "{{cliente}}"
        assert r.get_json() == {"message": f'O campo "{label}" usa uma variável que não existe: {unknown}. '
                                           + allowed}, url
    assert snapshot(app) == before
    with app.app_context():
        from app.models import Connection, Queue, db

        assert db.session.get(Queue, seeded["q"]).out_of_hours_message is None
        assert db.session.get(Connection, seeded["c"]).completion_message is None
        db.session.remove()


def test_templates_with_an_unclosed_variable_are_refused_by_the_api(app, api, seeded):
    """"Olá {{nome" was saved by the settings, queue and connection APIs (only an unknown {{variable}}
    was refused): 422 saying what is wrong, nothing changed; a lone brace is text."""
    before = snapshot(app)
    for method, url, body, label in template_writes(seeded, "Olá {{nome"):
        r = getattr(api, method)(url, json=body)
        assert r.status_code == 422, (url, r.status_code, r.get_data(as_text=True))
        assert r.get_json() == {"message": f'O campo "{label}" abre uma variável com {{{{ e não a fecha com }}}}: '
                                           "{{nome. Uma variável se escreve assim: {{nome}}."}, url
    assert snapshot(app) == before
    r = api.put(f"/api/v1/queue/{seeded['q']}", json={"out_of_hours_message": "Fechado :-} volte {amanhã}"})
    assert r.status_code == 200 and r.get_json()["result"]["out_of_hours_message"] == "Fechado :-} volte {amanhã}"


def test_a_member_phone_with_an_area_code_that_does_not_exist_is_refused(app, api, seeded):
    """"5500987654321" (DDD 00) has the shape of a number (55 + 11 digits) and was created (201)."""
    before = snapshot(app)
    body = _fill(CREATE["/api/v1/team/"][0], seeded)
    for r in (api.post("/api/v1/team/", json=dict(body, phone="5500987654321")),
              api.put(f"/api/v1/team/{seeded['user']}", json={"phone": "5500987654321"})):
        assert (r.status_code, r.get_json()) == (422, {"message": "Número: 5500987654321 não é um número brasileiro "
                                                                  "válido. Confira o DDD e o número."})
    assert snapshot(app) == before
    assert api.post("/api/v1/team/", json=body).status_code == 201


@pytest.mark.parametrize("options", [[{"value": "a", "label": "Ruim"}],
                                     [{"value": "a", "label": "Ruim"}, {"value": 2, "label": "Bom"}],
                                     [{"value": 1, "label": "Ruim"}, {"value": 2.5, "label": "Bom"}]])
def test_a_rating_option_whose_value_is_no_whole_number_says_so(app, api, seeded, options):
    """One option valued "a" was refused with "Uma avaliação precisa de pelo menos duas opções."."""
    before = snapshot(app)
    for r in (api.post("/api/v1/rating/", json={"name": "NPS", "message": "Nota?", "options": options}),
              api.put(f"/api/v1/rating/{seeded['r']}", json={"options": options})):
        assert (r.status_code, r.get_json()) == (422, {"message": "Valor da opção deve ser um número inteiro."})
    assert snapshot(app) == before
    r = api.post("/api/v1/rating/", json={"name": "NPS", "message": "Nota?", "options": [{"value": 1, "label": "x"}]})
    assert (r.status_code, r.get_json()) == (422, {"message": "Uma avaliação precisa de pelo menos duas opções."})


def test_openapi_describes_the_admin_api(api):
    spec = api.get("/api/v1/_openapi").get_json()
    paths = spec["paths"]
    for path in ("/api/v1/connection/", "/api/v1/connection/{pk}", "/api/v1/connection/{pk}/start",
                 "/api/v1/connection/{pk}/logout", "/api/v1/connection/{pk}/qr", "/api/v1/queue/",
                 "/api/v1/rating/", "/api/v1/team/", "/api/v1/team/me", "/api/v1/settings/", "/api/v1/quick_reply/"):
        assert path in paths, path
    assert "put" in paths["/api/v1/settings/"] and "get" in paths["/api/v1/settings/"]
    schemas = spec["components"]["schemas"]
    assert "password" in schemas["TeamApi.post"]["properties"]
    assert "queues" in schemas["ConnectionApi.get"]["properties"]


def test_every_field_refused_at_once_is_one_message_with_its_fields(app, api, seeded):
    """The services refuse every bad field of a request at once (the forms show each under its
    field): the API answers one message listing them, and "fields" names each field's beside it."""
    before = snapshot(app)
    r = api.post("/api/v1/team/", json={"name": "", "email": "bad", "password": "x", "phone": "12",
                                        "queues": [seeded["q"]]})
    assert r.status_code == 422
    body = r.get_json()
    assert set(body) == {"message", "fields"} and set(body["fields"]) == {"name", "email", "password", "phone"}
    assert body["fields"]["email"] == '"bad" não é um endereço de e-mail válido.'
    for message in body["fields"].values():
        assert message in body["message"]
    r = api.put("/api/v1/settings/", json={"external_rating": True, "external_rating_url": None,
                                           "accept_calls": False, "call_rejection_message": "",
                                           "operator_greeting": True, "operator_greeting_text": None})
    assert r.status_code == 422
    assert set(r.get_json()["fields"]) == {"external_rating_url", "call_rejection_message", "operator_greeting_text"}
    r = api.post("/api/v1/queue/", json={"name": "", "color": "azul", "hours": [
        {"weekday": 0, "start": "25:00", "end": "26:00"}, {"weekday": 2, "start": "8", "end": "9"}]})
    assert r.status_code == 422 and set(r.get_json()["fields"]) == {"name", "color", "hours.0", "hours.2"}
    r = api.post("/api/v1/connection/", json={"name": "", "read_receipts": "sim"})
    assert r.status_code == 422 and set(r.get_json()["fields"]) == {"name", "read_receipts"}
    # One bad field: the message alone, as before.
    r = api.post("/api/v1/queue/", json={"name": "", "color": "#ABCDEF"})
    assert r.get_json() == {"message": 'O campo "Nome" é obrigatório.'}
    assert snapshot(app) == before


def test_a_duplicate_name_names_the_existing_record_in_the_api(app, api, seeded):
    from app.models import Queue, db

    with app.app_context():
        name = db.session.get(Queue, seeded["q"]).name
    r = api.post("/api/v1/queue/", json={"name": name.upper(), "color": "#ABCDEF"})
    assert r.status_code == 422 and r.get_json() == {"message": f'Já existe uma fila chamada "{name}".'}
    r = api.post("/api/v1/connection/", json={"name": "secundaria"})
    assert r.status_code == 422 and r.get_json() == {"message": 'Já existe uma conexão chamada "Secundária".'}
    r = api.post("/api/v1/rating/", json={"name": "PADRAO", "message": "m", "options": [
        {"value": 1, "label": "A"}, {"value": 2, "label": "B"}]})
    assert r.status_code == 422 and r.get_json() == {"message": 'Já existe uma avaliação chamada "Padrão".'}
    r = api.post("/api/v1/quick_reply/", json={"shortcut": "OLÁ", "message": "m"})
    assert r.status_code == 422 and r.get_json() == {"message": "O atalho /ola já existe."}
