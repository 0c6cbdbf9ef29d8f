"""Account security: rate-limited login, CSRF on the login form, cookie flags, secret key."""
import uuid

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


def test_change_my_password_applies_the_team_password_policy(app, client, factory):
    member = factory.member("user", email="curta@teste.com.br")
    old_hash = member.password
    assert login(client, "curta@teste.com.br").status_code == 302
    page = client.get("/resetmypassword/form").get_data(as_text=True)
    r = client.post("/resetmypassword/form", data={"password": "abc", "conf_password": "abc",
                                                   "csrf_token": csrf_token(page)})
    assert r.status_code == 200
    assert "A senha deve ter entre 8 e 128 caracteres" in r.get_data(as_text=True)
    from app.models import Member, db

    db.session.expire_all()
    assert db.session.get(Member, member.id).password == old_hash
    r = client.post("/resetmypassword/form", data={"password": "uma-senha-boa", "conf_password": "uma-senha-boa",
                                                   "csrf_token": csrf_token(page)})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Member, member.id).password != old_hash
