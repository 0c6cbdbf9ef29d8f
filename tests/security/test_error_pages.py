"""HTTP errors nobody's view answers (an unknown route, a wrong method, the login's rate limit, an
unexpected exception) are said in Portuguese with their status (app.views.errors.http_error): JSON
{"message"} under /api/ and /chat/api/, a page elsewhere. They were Werkzeug's English HTML:
"429 Too Many Requests ... 10 per 20 second", "405 Method Not Allowed", "404 Not Found"."""
import html
import uuid

import pytest
from flask import request_started

from tests.conftest import ADMIN_EMAIL, csrf_token, login

ENGLISH = ("Too Many Requests", "Method Not Allowed", "Not Found", "Internal Server Error", "per 20 second",
           "check your spelling")


def page_of(r) -> str:
    page = html.unescape(r.get_data(as_text=True))
    assert r.mimetype == "text/html" and not any(word in page for word in ENGLISH), page
    assert 'href="/"' in page  # back to the start page
    return page


def test_the_login_rate_limit_is_said_in_portuguese(app):
    from app import create_app

    limited = create_app({"TESTING": True, "AUTH_RATE_LIMITED": True, "RATELIMIT_ENABLED": True,
                          "AUTH_RATE_LIMIT": "1 per minute",
                          "RATELIMIT_KEY_PREFIX": "rl-" + uuid.uuid4().hex})
    c = limited.test_client()
    wrong = {"username": ADMIN_EMAIL, "password": "errada", "provider": "db"}
    assert c.post("/api/v1/security/login", json=wrong).status_code == 401
    r = c.post("/api/v1/security/login", json=wrong)
    assert (r.status_code, r.get_json()) == (429, {"message": "Muitas tentativas. Tente de novo em alguns segundos."})
    assert int(r.headers["Retry-After"]) > 0  # the limiter's header (on by default), kept
    for _ in range(2):
        token = csrf_token(c.get("/login/").get_data(as_text=True))
        r = c.post("/login/", data={"username": ADMIN_EMAIL, "password": "errada", "csrf_token": token})
    assert r.status_code == 429 and "Retry-After" in r.headers
    page = page_of(r)
    assert "Muitas tentativas" in page and "Tente de novo em alguns segundos." in page


def test_wrong_methods_and_unknown_routes_of_the_api_answer_json(admin_api):
    r = admin_api.get("/api/v1/ticket/22/accept")
    assert (r.status_code, r.get_json()) == (405, {"message": "Este endereço não aceita o método GET."})
    assert "POST" in r.headers["Allow"]
    for url in ("/api/v1/nope/", "/chat/api/nope"):
        r = admin_api.get(url)
        assert (r.status_code, r.get_json()) == (404, {"message": "Não encontrado."}), url
    r = admin_api.get("/chat/api/tickets/1/accept")
    assert (r.status_code, r.get_json()) == (405, {"message": "Este endereço não aceita o método GET."})


def test_wrong_methods_and_unknown_routes_of_the_screens_answer_a_page(app, client):
    assert login(client, ADMIN_EMAIL).status_code == 302
    r = client.get("/connections/start/1")
    assert r.status_code == 405 and "POST" in r.headers["Allow"]
    page = page_of(r)
    assert "Método não permitido" in page and "Este endereço não aceita o método GET." in page
    r = client.get("/nope/")
    assert r.status_code == 404 and "Página não encontrada" in page_of(r)
    r = app.test_client().get("/static/nope.css")  # no screen around a file: the plain page
    assert r.status_code == 404 and "Esta página não existe" in page_of(r)


def test_a_code_without_its_own_words_gets_the_generic_ones(app):
    from werkzeug.exceptions import ImATeapot

    from app.views.errors import http_error

    with app.test_request_context("/api/v1/queue/"):
        body, status, _ = http_error(ImATeapot())
        assert (status, body.get_json()) == (418, {"message": "Não foi possível concluir a requisição (erro 418)."})


@pytest.fixture
def failing(app, monkeypatch):
    """Every request raises an exception no view expects, answered as in production (the tests'
    app propagates exceptions to the test instead)."""
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)

    def fail(sender, **extra):
        raise RuntimeError("bug")

    request_started.connect(fail, app)
    yield
    request_started.disconnect(fail, app)


def test_an_unexpected_exception_is_a_500_in_portuguese(app, failing):
    client = app.test_client()
    r = client.get("/api/v1/ticket/")
    assert (r.status_code, r.get_json()) == (500, {"message": "Algo deu errado do nosso lado. Tente de novo em instantes."})
    r = client.get("/chat/api/tickets")
    assert r.status_code == 500 and r.is_json
    r = client.get("/login/")
    assert r.status_code == 500 and "Erro interno" in page_of(r)
