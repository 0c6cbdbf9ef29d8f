"""Account security: rate-limited login, CSRF on the login form, cookie flags, secret key."""
import uuid

import pytest

from tests.conftest import ADMIN_EMAIL, PASSWORD, csrf_token, login


def test_login_is_rate_limited(app, test_env):
    from app import create_app

    limited = create_app({"TESTING": True, "AUTH_RATE_LIMITED": True, "RATELIMIT_ENABLED": True, "AUTH_RATE_LIMIT": "3 per minute",
                          "RATELIMIT_KEY_PREFIX": "rl-" + uuid.uuid4().hex})
    c = limited.test_client()
    codes = []
    for _ in range(5):
        token = csrf_token(c.get("/login/").get_data(as_text=True))
        codes.append(c.post("/login/", data={"username": ADMIN_EMAIL, "password": "errada", "csrf_token": token}).status_code)
    assert codes[:3] != [429, 429, 429] and 429 not in codes[:3]
    assert codes[3:] == [429, 429]
    api_codes = [c.post("/api/v1/security/login", json={"username": ADMIN_EMAIL, "password": "errada",
                                                         "provider": "db"}).status_code for _ in range(5)]
    assert api_codes[:3] == [401, 401, 401]
    assert api_codes[3:] == [429, 429]


def test_login_without_csrf_token_does_not_log_in(app, client):
    r = client.post("/login/", data={"username": ADMIN_EMAIL, "password": PASSWORD})
    assert r.status_code in (200, 302, 400)
    assert client.get("/api/v1/security/csrf_token/").status_code in (401, 404, 302)
    # still anonymous: the home page sends us to the login
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 302 and "/login" in home.headers["Location"]


def test_session_cookie_is_httponly_and_samesite(app, client):
    r = login(client, ADMIN_EMAIL)
    assert r.status_code == 302
    cookies = [v for k, v in r.headers.items() if k.lower() == "set-cookie" and v.startswith("session=")]
    assert cookies, "no session cookie set at login"
    assert "HttpOnly" in cookies[-1]
    assert "SameSite=Lax" in cookies[-1]


def test_secret_key_is_generated_per_installation_and_kept(tmp_path, monkeypatch):
    import config

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path / "a"))
    first = config.secret_key()
    assert first == config.secret_key()  # kept
    assert len(first) >= 40
    assert oct((tmp_path / "a" / "secret_key").stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path / "b"))
    assert config.secret_key() != first


def test_a_short_secret_key_is_refused(monkeypatch):
    import config

    monkeypatch.setenv("SECRET_KEY", "x" * 31)
    with pytest.raises(RuntimeError, match="at least 32"):
        config.secret_key()
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    assert config.secret_key() == "x" * 32


def _member(app, email, password=PASSWORD, queue=None):
    """A User-profile member, made in an app context of its own: the test client's requests must
    not run inside a context held open by the test (they would share flask_login's `g`). With
    `queue` (a name), in a new queue of that name (Equipe refuses to change a User with none)."""
    from app.models import PROFILES, Queue, db

    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.add_user(username=email, first_name="Membro", last_name="", email=email,
                           role=sm.find_role(PROFILES["user"]), password=password)
        if queue:
            user = db.session.get(type(user), user.id)
            user.queues = [Queue(name=queue, color="#123456")]
            db.session.commit()
        try:
            return user.id, user.password
        finally:
            db.session.remove()


def _first_name(app, member_id):
    from app.models import Member, db

    with app.app_context():
        try:
            return db.session.get(Member, member_id).first_name
        finally:
            db.session.remove()


def test_passwords_are_stored_hashed_and_never_logged(app, client, caplog):
    import logging

    secret = "Segredo-" + uuid.uuid4().hex
    email = "hash@teste.com.br"
    _, stored = _member(app, email, secret)
    assert secret not in stored and stored.split(":")[0] in ("scrypt", "pbkdf2")
    caplog.set_level(logging.DEBUG)
    # Alembic's fileConfig (the migration run by the app fixture) disables the loggers that existed
    # then: enable them all again for this test, so that every log line is seen.
    disabled = [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger) and lg.disabled]
    for lg in disabled:
        lg.disabled = False
    for password in (secret, secret + "-errada"):
        login(app.test_client(), email, password)
        client.post("/api/v1/security/login", json={"username": email, "password": password, "provider": "db"})
    for lg in disabled:
        lg.disabled = True
    assert caplog.records, "nothing was logged at all: the check would prove nothing"
    assert not [r for r in caplog.records if secret in r.getMessage()]


def _forms(app):
    """Every URL a browser posts to (not the JSON API), with its path arguments set to 1."""
    import re

    urls = set()
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and not rule.rule.startswith("/api/") and rule.rule != "/login/":
            urls.add(re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", rule.rule))
    return sorted(urls)


def _database_contents(app):
    """Every row of every table: what a refused post must leave exactly as it was."""
    from app.models import db

    with app.app_context():
        try:
            return {t.name: sorted(map(repr, db.session.execute(t.select()).all())) for t in db.metadata.sorted_tables}
        finally:
            db.session.remove()


def test_every_form_refuses_a_post_without_csrf_token(app):
    """Every form URL in the URL map (new ones included, with no list to keep), posted by a logged-in
    Admin without the token, changes nothing in the database. /login/ has its own test above."""
    email, new_password = "csrf@teste.com.br", "Outra-senha-987"
    member_id, _ = _member(app, email)
    admin = app.test_client()
    assert login(admin, ADMIN_EMAIL).status_code == 302
    forms = _forms(app)
    assert "/resetmypassword/form" in forms and "/userinfoeditview/form" in forms, forms
    for url in forms:
        before = _database_contents(app)
        r = admin.post(url, data={"first_name": "Invasor", "name": "Invasor", "password": new_password,
                                  "current_password": PASSWORD, "conf_password": new_password},
                       follow_redirects=False)
        assert r.status_code < 500, (url, r.status_code)
        assert _database_contents(app) == before, f"{url} changed the database without a CSRF token"

    # The same posts with the token are accepted: the refusals above were the token's doing.
    probes = {
        "/userinfoeditview/form": {"first_name": "Invasor", "last_name": "X"},
        "/resetmypassword/form": {"current_password": PASSWORD, "password": new_password,
                                  "conf_password": new_password},
    }
    for url, data in probes.items():
        c = app.test_client()
        assert login(c, email).status_code == 302
        token = csrf_token(c.get(url).get_data(as_text=True))
        assert c.post(url, data={**data, "csrf_token": token}).status_code == 302, url
    assert _first_name(app, member_id) == "Invasor"
    assert "/login/" not in login(app.test_client(), email, new_password).headers.get("Location", "")


def _api_writes(app, ids):
    """Every write rule of the REST API (new ones included) but the login's, its path arguments
    set to the id of an object of that resource (`ids`: resource name -> id)."""
    import re

    urls = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule.startswith("/api/v1/security/"):
            continue
        resource = rule.rule.split("/")[3]
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            urls.add((method, re.sub(r"<(?:[^:>]+:)?[^>]+>", str(ids.get(resource, 1)), rule.rule)))
    return sorted(urls)


def test_every_api_write_with_the_session_cookie_needs_the_csrf_token(app, factory):
    """The REST API takes the browser's session cookie (allow_browser_login) as well as tokens:
    with the cookie, every write (POST, PUT, DELETE: e.g. logging a connection out, which a
    plain cross-site form can post, no body needed) needs the page's X-CSRFToken, as the chat
    screen's calls do. With it, the same calls work."""
    queue = factory.queue()
    ids = {"queue": queue.id, "connection": factory.connection(queues=[queue]).id,
           "team": factory.member("user", queues=[queue], email="alvo@teste.com.br").id}
    from app.services import quick_replies, rating_templates

    ids["quick_reply"] = quick_replies.create({"shortcut": "oi", "message": "Olá"}).id
    ids["rating"] = rating_templates.create({"name": "Nota", "message": "Dê uma nota", "options": [
        {"value": 1, "label": "Ruim"}, {"value": 2, "label": "Bom"}]}).id
    factory.db.session.commit()
    admin = app.test_client()
    assert login(admin, ADMIN_EMAIL).status_code == 302
    writes = _api_writes(app, ids)
    assert ("POST", f"/api/v1/connection/{ids['connection']}/logout") in writes, writes
    assert ("PUT", "/api/v1/settings/") in writes and ("DELETE", f"/api/v1/team/{ids['team']}") in writes
    body = {"name": "Invasor", "timezone": "America/Manaus", "body": "oi"}
    for method, url in writes:
        before = _database_contents(app)
        r = admin.open(url, method=method, json=body)
        assert r.status_code in (400, 401), (method, url, r.status_code, r.get_data(as_text=True)[:200])
        assert _database_contents(app) == before, f"{method} {url} changed the database without a CSRF token"

    # The page's token makes the same calls work: the refusals above were the token's doing.
    import re

    page = admin.get("/chat/").get_data(as_text=True)
    token = {"X-CSRFToken": re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)}
    r = admin.put("/api/v1/settings/", json={"timezone": "America/Manaus"}, headers=token)
    assert r.status_code == 200, r.get_json()
    r = admin.put(f"/api/v1/queue/{ids['queue']}", json={"name": "Renomeada"}, headers=token)
    assert r.status_code == 200, r.get_json()
    assert admin.delete(f"/api/v1/team/{ids['team']}", headers=token).status_code == 200


def test_session_cookie_is_secure_when_served_over_https(app, monkeypatch):
    from app import create_app

    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    secure = create_app({"TESTING": True})
    c = secure.test_client()
    r = login(c, ADMIN_EMAIL)
    cookie = [v for k, v in r.headers.items() if k.lower() == "set-cookie" and v.startswith("session=")][-1]
    assert "Secure" in cookie and "HttpOnly" in cookie


def _login_codes(application, forwarded_for):
    c = application.test_client()
    codes = []
    for address in forwarded_for:
        codes.append(c.post("/api/v1/security/login", json={"username": ADMIN_EMAIL, "password": "errada", "provider": "db"},
                            headers={"X-Forwarded-For": address}).status_code)
    return codes


def test_login_limit_counts_each_client_behind_a_trusted_proxy_and_cannot_be_dodged_without_one(app):
    from app import create_app

    limits = {"TESTING": True, "AUTH_RATE_LIMITED": True, "RATELIMIT_ENABLED": True, "AUTH_RATE_LIMIT": "2 per minute"}
    behind_proxy = create_app({**limits, "PROXY_COUNT": 1, "RATELIMIT_KEY_PREFIX": "rl-" + uuid.uuid4().hex})
    assert _login_codes(behind_proxy, ["203.0.113.1"] * 3) == [401, 401, 429]
    assert _login_codes(behind_proxy, ["203.0.113.2"]) == [401]  # another customer is not locked out
    direct = create_app({**limits, "RATELIMIT_KEY_PREFIX": "rl-" + uuid.uuid4().hex})
    # without a trusted proxy the header is the client's word: ignored
    assert _login_codes(direct, ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) == [401, 401, 429]


def test_a_login_with_nul_in_the_username_is_a_failed_login(app, client):
    r = client.post("/api/v1/security/login", json={"username": "admin\x00@teste.com.br", "password": PASSWORD,
                                                    "provider": "db"})
    assert r.status_code == 401
    form = login(app.test_client(), "admin\x00@teste.com.br")
    assert form.status_code == 200 and "E-mail ou senha incorretos" in form.get_data(as_text=True)


def test_a_wrong_password_shows_the_login_form_again_with_the_email_typed(app, factory):
    """FAB redirected to an empty form: the member typed the e-mail again after every typo."""
    import html

    factory.member("user", email="digitou@teste.com.br")
    client = app.test_client()
    r = login(client, "digitou@teste.com.br", "senha-errada-1")
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 200 and "E-mail ou senha incorretos. Tente novamente." in page
    assert 'value="digitou@teste.com.br"' in page and "senha-errada-1" not in page
    assert not _logged_in(client)
    assert login(client, "digitou@teste.com.br").status_code == 302 and _logged_in(client)


def test_the_login_form_says_a_missing_field_as_a_sentence(app, client):
    import html

    page = html.unescape(client.get("/login/").get_data(as_text=True))
    r = client.post("/login/", data={"username": "alguem@teste.com.br", "password": "", "csrf_token": csrf_token(page)})
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 200 and "Campo obrigatório." in page and "[Campo obrigatório.]" not in page
    assert 'value="alguem@teste.com.br"' in page


def test_a_password_of_spaces_is_refused_and_one_saved_before_still_logs_in(app, factory):
    """The policy refuses a password of spaces alone (the login form took one for an empty field,
    so the member saved with it could never log in); one saved before the rule logs in."""
    from app.services import DomainError, team

    with pytest.raises(DomainError, match="A senha não pode ter só espaços."):
        team.check_password(" " * 10)
    assert team.check_password("  com espaços  ") == "  com espaços  "
    factory.member("user", email="espacos@teste.com.br", password=" " * 9)
    assert login(app.test_client(), "espacos@teste.com.br", " " * 9).status_code == 302


def test_change_my_password_applies_the_team_password_policy(app, client, factory):
    member = factory.member("user", email="curta@teste.com.br")
    old_hash = member.password
    assert login(client, "curta@teste.com.br").status_code == 302
    page = client.get("/resetmypassword/form").get_data(as_text=True)
    # The form tells the policy (FAB's text says the application does not check any).
    assert "Alterar minha senha" in page and "Entre 8 e 128 caracteres." in page
    assert "não checa" not in page
    r = client.post("/resetmypassword/form", data={"current_password": PASSWORD, "password": "abc",
                                                   "conf_password": "abc", "csrf_token": csrf_token(page)})
    assert r.status_code == 200
    assert "A senha deve ter entre 8 e 128 caracteres" in r.get_data(as_text=True)
    from app.models import Member, db

    db.session.expire_all()
    assert db.session.get(Member, member.id).password == old_hash
    r = client.post("/resetmypassword/form", data={"current_password": PASSWORD, "password": "uma-senha-boa",
                                                   "conf_password": "uma-senha-boa", "csrf_token": csrf_token(page)})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Member, member.id).password != old_hash


def test_own_profile_form_asks_only_for_the_name(app):
    """"Editar meus dados": one Nome, as in Equipe, not FAB's required Nome and Sobrenome (members
    have no surname: the form could not be saved without inventing one); same rules as Equipe."""
    import html

    email = "perfil@teste.com.br"
    member_id, _ = _member(app, email)
    c = app.test_client()
    assert login(c, email).status_code == 302
    page = html.unescape(c.get("/userinfoeditview/form").get_data(as_text=True))
    assert 'name="first_name"' in page and 'name="last_name"' not in page and "Sobrenome" not in page
    token = csrf_token(page)
    assert c.post("/userinfoeditview/form", data={"first_name": "  Bia Souza ", "csrf_token": token}).status_code == 302
    assert _first_name(app, member_id) == "Bia Souza"
    for value, message in (("", 'O campo "Nome" é obrigatório.'), ("x" * 65, "no máximo 64 caracteres")):
        r = c.post("/userinfoeditview/form", data={"first_name": value, "csrf_token": token})
        assert r.status_code == 200 and message in html.unescape(r.get_data(as_text=True)), value
        assert _first_name(app, member_id) == "Bia Souza"


def _logged_in(client) -> bool:
    """Whether the client's session is a logged-in member's (the chat page, or the login)."""
    return client.get("/chat/", follow_redirects=False).status_code == 200


def _tokens(client, email, password=PASSWORD):
    r = client.post("/api/v1/security/login", json={"username": email, "password": password, "refresh": True})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    return {"Authorization": "Bearer " + body["access_token"]}, {"Authorization": "Bearer " + body["refresh_token"]}


def test_a_new_password_ends_every_session_and_token_of_the_old_one(app, client):
    """A password reset (by an Admin in Equipe, e.g. after a stolen laptop) ends the member's browser
    sessions, API access tokens and refresh tokens (which lived 30 days); the new password works."""
    from tests.conftest import api_login

    member_id, _ = _member(app, "roubada@teste.com.br", queue="Fila da roubada")
    browser, other_browser = app.test_client(), app.test_client()
    for c in (browser, other_browser):
        assert login(c, "roubada@teste.com.br").status_code == 302
        assert _logged_in(c)
    access, refresh = _tokens(client, "roubada@teste.com.br")
    assert client.get("/api/v1/team/me", headers=access).status_code == 200
    assert client.post("/api/v1/security/refresh", headers=refresh).status_code == 200

    admin = api_login(app.test_client(), ADMIN_EMAIL)
    assert admin.put(f"/api/v1/team/{member_id}", json={"password": "senha-nova-123"}).status_code == 200

    assert not _logged_in(browser) and not _logged_in(other_browser)
    assert client.get("/api/v1/team/me", headers=access).status_code == 401
    assert client.post("/api/v1/security/refresh", headers=refresh).status_code == 401
    # The new password: a session, and tokens whose refresh gives a working access token.
    assert login(browser, "roubada@teste.com.br", "senha-nova-123").status_code == 302 and _logged_in(browser)
    access, refresh = _tokens(client, "roubada@teste.com.br", "senha-nova-123")
    refreshed = client.post("/api/v1/security/refresh", headers=refresh)
    assert refreshed.status_code == 200
    again = {"Authorization": "Bearer " + refreshed.get_json()["access_token"]}
    assert client.get("/api/v1/team/me", headers=again).status_code == 200
    # A change that is not the password ends nothing.
    assert admin.put(f"/api/v1/team/{member_id}", json={"name": "Outro Nome"}).status_code == 200
    assert _logged_in(browser) and client.get("/api/v1/team/me", headers=access).status_code == 200


def test_changing_my_own_password_keeps_this_session_and_ends_the_others(app, client):
    member_id, _ = _member(app, "propria@teste.com.br")
    here, elsewhere = app.test_client(), app.test_client()
    for c in (here, elsewhere):
        assert login(c, "propria@teste.com.br").status_code == 302
    access, _refresh = _tokens(client, "propria@teste.com.br")
    token = csrf_token(here.get("/resetmypassword/form").get_data(as_text=True))
    r = here.post("/resetmypassword/form", data={"current_password": PASSWORD, "password": "minha-senha-nova",
                                                 "conf_password": "minha-senha-nova", "csrf_token": token})
    assert r.status_code in (200, 302)
    assert _logged_in(here)
    assert not _logged_in(elsewhere)
    assert client.get("/api/v1/team/me", headers=access).status_code == 401
    assert login(elsewhere, "propria@teste.com.br", "minha-senha-nova").status_code == 302


def test_a_forged_session_or_token_without_the_stamp_is_refused(app):
    """The session's member id alone (what a session made before the stamp, or a forged one without
    it, holds) does not log in; neither does a token without the stamp claim."""
    from flask_jwt_extended import create_access_token

    member_id, _ = _member(app, "sem-carimbo@teste.com.br")
    c = app.test_client()
    with c.session_transaction() as session:
        session["_user_id"] = str(member_id)
        session["_fresh"] = True
    assert not _logged_in(c)
    with app.app_context():
        bare = create_access_token(identity=str(member_id), additional_claims={"stamp": "0" * 32})
    assert c.get("/api/v1/team/me", headers={"Authorization": "Bearer " + bare}).status_code == 401


@pytest.mark.parametrize("how", ["token", "session"])
def test_who_is_asking_is_one_query_per_request(app, client, how):
    """A request reads its member with their roles and groups in one query, and no Public role:
    FAB's permission check read the member, then the roles, then the groups, and before that the
    Public role and its permission rows (none here: roles are code, FAB_ROLES), on every API call
    and every chat screen request."""
    from sqlalchemy import event

    from app.models import db
    from tests.conftest import api_login

    if how == "token":
        get = api_login(client, ADMIN_EMAIL).get
    else:
        login(client, ADMIN_EMAIL)
        get = client.get
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with app.app_context():
        db.session.remove()  # the member is read again, as by a request of its own
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert get("/api/v1/queue/").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
    asking = [s for s in statements if "ab_" in s]
    assert len(asking) == 1, asking
    assert "ab_user_role" in asking[0] and "ab_user_group" in asking[0]


def test_what_anonymous_visitors_may_use_is_code_like_every_role(app, client, monkeypatch):
    """The Public role's permissions are what FAB_ROLES gives it (none): protected views answer
    401 to a visitor, and would open only if the code granted them."""
    sm = app.appbuilder.sm
    assert client.get("/api/v1/queue/").status_code == 401
    with app.app_context():
        assert not sm.is_item_public("can_get", "QueueApi")
        monkeypatch.setitem(sm.builtin_roles, sm.auth_role_public, [["QueueApi", "can_get"]])
        assert sm.is_item_public("can_get", "QueueApi") and not sm.is_item_public("can_post", "QueueApi")


# What the API answers when it does not know who is asking (DESIGN §7: {"message": ...}, 401), in
# Portuguese: Flask-JWT-Extended's own answers were English under the key "msg".
NO_TOKEN = "Falta o token de acesso (Authorization: Bearer <token>, obtido em POST /api/v1/security/login)."
TOKEN_EXPIRED = "O token de acesso expirou: faça login novamente."
TOKEN_INVALID = "Token de acesso inválido ou expirado."
TOKEN_STALE = "O token de acesso não vale mais: faça login novamente."


def _bearer(app, member_id, **kwargs) -> dict:
    """An Authorization header with a token made for the member (with its current stamp, unless
    `additional_claims` gives another)."""
    from flask_jwt_extended import create_access_token

    with app.app_context():
        return {"Authorization": "Bearer " + create_access_token(identity=str(member_id), **kwargs)}


@pytest.mark.parametrize("case", ["none", "basic", "garbage", "expired", "stale", "refresh_without_token"])
def test_an_api_call_without_a_valid_token_is_refused_in_portuguese(app, client, case):
    import datetime

    member_id, _ = _member(app, f"token-{case}@teste.com.br")
    method, url, headers, message = "GET", "/api/v1/queue/", {}, NO_TOKEN
    if case == "basic":
        headers = {"Authorization": "Basic dXNlcjpzZW5oYQ=="}
    elif case == "garbage":
        headers, message = {"Authorization": "Bearer nao.e.token"}, TOKEN_INVALID
    elif case == "expired":
        headers, message = _bearer(app, member_id, expires_delta=datetime.timedelta(seconds=-60)), TOKEN_EXPIRED
    elif case == "stale":  # a stamp that is not the member's: made before the password changed
        headers, message = _bearer(app, member_id, additional_claims={"stamp": "0" * 32}), TOKEN_STALE
    elif case == "refresh_without_token":
        method, url = "POST", "/api/v1/security/refresh"
    r = client.open(url, method=method, headers=headers)
    assert (r.status_code, r.get_json()) == (401, {"message": message})


def test_a_failed_api_login_is_refused_in_portuguese(app, client):
    for username, password in ((ADMIN_EMAIL, "senha-errada-123"), ("ninguem@teste.com.br", PASSWORD)):
        r = client.post("/api/v1/security/login", json={"username": username, "password": password})
        assert (r.status_code, r.get_json()) == (401, {"message": "E-mail ou senha incorretos."})


def test_change_my_password_asks_the_current_one(app, client, factory):
    """QA: "Alterar minha senha" asked only the new password twice, so anyone at a browser left
    logged in could take the account. A wrong or missing current password changes nothing."""
    from app.models import Member, db

    member = factory.member("user", email="atual@teste.com.br")
    old_hash = member.password
    assert login(client, "atual@teste.com.br").status_code == 302
    page = client.get("/resetmypassword/form").get_data(as_text=True)
    assert "Senha atual" in page
    for current in ("", "senha-errada-1", PASSWORD + " "):
        r = client.post("/resetmypassword/form", data={"current_password": current, "password": "nova-senha-boa",
                                                       "conf_password": "nova-senha-boa",
                                                       "csrf_token": csrf_token(page)})
        assert r.status_code == 200, current
        if current:
            assert "A senha atual não confere." in r.get_data(as_text=True)
        db.session.expire_all()
        assert db.session.get(Member, member.id).password == old_hash, current
    r = client.post("/resetmypassword/form", data={"current_password": PASSWORD, "password": "nova-senha-boa",
                                                   "conf_password": "nova-senha-boa", "csrf_token": csrf_token(page)})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Member, member.id).password != old_hash


def _signed_in(client) -> bool:
    return client.get("/chat/api/counts").status_code == 200


def test_logout_is_a_post_with_the_csrf_token_and_a_get_only_asks(app, client):
    """QA: another site's page (a link, a redirect, an image) sent the agent's browser to GET
    /logout/ and ended the session in the middle of a conversation."""
    login(client, ADMIN_EMAIL)
    assert _signed_in(client)
    page = client.get("/logout/")
    assert page.status_code == 200 and _signed_in(client)
    html = page.get_data(as_text=True)
    assert "Sair do Conecta?" in html and 'method="post"' in html
    refused = client.post("/logout/")  # no token: what a form on another site can send
    assert refused.status_code == 200 and "Sair do Conecta?" in refused.get_data(as_text=True)
    assert _signed_in(client)
    bye = client.post("/logout/", data={"csrf_token": csrf_token(html)})
    assert bye.status_code == 302 and not _signed_in(client)
    # Logged out, the question is not asked: the login page.
    again = client.get("/logout/")
    assert again.status_code == 302 and "/login" in again.headers["Location"]


def test_the_current_password_check_is_rate_limited_like_the_login(app, test_env):
    """QA: "Alterar minha senha" checks the current password with no limit: 40 guesses in 4 s
    from a browser left logged in."""
    from app import create_app

    limited = create_app({"TESTING": True, "AUTH_RATE_LIMITED": True, "RATELIMIT_ENABLED": True,
                          "AUTH_RATE_LIMIT": "3 per minute", "RATELIMIT_KEY_PREFIX": "rl-" + uuid.uuid4().hex})
    c = limited.test_client()
    assert login(c, ADMIN_EMAIL).status_code == 302
    answers = []
    for n in range(5):
        token = csrf_token(c.get("/resetmypassword/form").get_data(as_text=True))
        answers.append(c.post("/resetmypassword/form", data={
            "current_password": f"palpite-{n}", "password": "Nova-senha-123", "conf_password": "Nova-senha-123",
            "csrf_token": token}))
    codes = [r.status_code for r in answers]
    assert 429 not in codes[:3] and codes[3:] == [429, 429], codes
    # The page of a refusal made before Flask-AppBuilder knew the member (it was a 500 then).
    assert "Muitas tentativas" in answers[-1].get_data(as_text=True)
