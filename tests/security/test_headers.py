"""Security headers on every answer of the app: no page may be framed by another site (clickjacking:
a hidden chat screen under a decoy page would take a member's clicks), no content type guessed,
no URL leaked to other sites through the Referer."""
import re

from tests.conftest import ADMIN_EMAIL, login


def _get_urls(app):
    """Every GET rule of the URL map (new ones included), its path arguments set to 1."""
    urls = set()
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.rule != "/logout/":
            urls.add(re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", rule.rule))
    return sorted(urls)


def _missing(response) -> list[str]:
    headers = response.headers
    missing = []
    if headers.get("X-Frame-Options") != "DENY":
        missing.append("X-Frame-Options")
    csp = headers.get("Content-Security-Policy", "")
    if "frame-ancestors 'none'" not in csp and "sandbox" not in csp:
        missing.append("CSP frame-ancestors")
    if headers.get("X-Content-Type-Options") != "nosniff":
        missing.append("nosniff")
    if headers.get("Referrer-Policy") not in ("same-origin", "no-referrer"):
        missing.append("Referrer-Policy")
    return missing


def test_every_answer_forbids_framing_and_sniffing(app, db):
    anonymous, admin = app.test_client(), app.test_client()
    assert login(admin, ADMIN_EMAIL).status_code == 302
    urls = _get_urls(app)
    assert "/chat/" in urls and "/login/" in urls and "/api/v1/queue/" in urls
    failures = []
    for client, who in ((anonymous, "anonymous"), (admin, "admin")):
        for url in urls:
            response = client.get(url)
            missing = _missing(response)
            if missing:
                failures.append(f"{who} GET {url} ({response.status_code}): {', '.join(missing)}")
    assert not failures, "\n".join(failures)


def test_a_view_with_its_own_policy_keeps_it(app):
    """The received media's sandbox policy is not replaced by the general one."""
    from app import security_headers

    with app.test_request_context("/chat/media/1"):
        from flask import Response

        response = Response("x")
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        security_headers(response)
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert response.headers["X-Frame-Options"] == "DENY"
