"""Spaces around the e-mail (pasted, or left by the phone's keyboard) do not fail the login, in
the form and in the API, as upper case already did not."""
import pytest

from tests.conftest import ADMIN_EMAIL, PASSWORD, login

TYPED = [f"  {ADMIN_EMAIL}  ", f"{ADMIN_EMAIL} ", f"\t{ADMIN_EMAIL.upper()}\n", f" {ADMIN_EMAIL.upper()}"]


@pytest.mark.parametrize("typed", TYPED)
def test_the_login_form_trims_the_email(app, client, typed):
    r = login(client, typed)
    assert r.status_code == 302 and "/login" not in r.headers["Location"], r.get_data(as_text=True)[:300]
    assert client.get("/chat/").status_code == 200


@pytest.mark.parametrize("typed", TYPED)
def test_the_api_login_trims_the_email(app, client, typed):
    r = client.post("/api/v1/security/login", json={"username": typed, "password": PASSWORD})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    assert client.get("/api/v1/team/me", headers={"Authorization": f"Bearer {r.get_json()['access_token']}"}
                      ).get_json()["result"]["email"] == ADMIN_EMAIL


def test_spaces_inside_the_email_or_around_the_password_still_fail(app, client):
    r = client.post("/api/v1/security/login", json={"username": ADMIN_EMAIL.replace("@", " @"), "password": PASSWORD})
    assert r.status_code == 401
    r = client.post("/api/v1/security/login", json={"username": ADMIN_EMAIL, "password": f" {PASSWORD} "})
    assert r.status_code == 401
