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


SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)


def test_scripts_run_only_from_our_files_and_our_templates_tags(app, db):
    """A strict script policy on every page (app.content_security_policy): no 'unsafe-inline',
    and each inline <script> our templates and Flask-AppBuilder's write carries this answer's nonce
    (a script that text slipped into a page would not)."""
    anonymous, admin = app.test_client(), app.test_client()
    assert login(admin, ADMIN_EMAIL).status_code == 302
    failures, pages, nonces = [], 0, set()
    for client, who in ((anonymous, "anonymous"), (admin, "admin")):
        for url in _get_urls(app):
            response = client.get(url)
            csp = response.headers.get("Content-Security-Policy", "")
            if "sandbox" in csp or url.startswith("/simulator/"):
                continue  # the received media (sandboxed) and the simulator's pages have their own
            directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";") if d.strip())
            script_src = directives.get("script-src", "")
            if "unsafe-inline" in script_src or "unsafe-eval" in script_src or not script_src.startswith("'self'"):
                failures.append(f"{who} GET {url}: script-src {script_src!r}")
            if directives.get("object-src") != "'none'" or directives.get("base-uri") != "'self'":
                failures.append(f"{who} GET {url}: object-src/base-uri in {csp!r}")
            if response.mimetype != "text/html":
                continue
            nonce = re.search(r"'nonce-([^']+)'", script_src)
            for attrs in SCRIPT_TAG.findall(response.get_data(as_text=True)):
                if "application/json" in attrs:
                    continue  # data, never run
                pages += 1
                if not nonce or f'nonce="{nonce.group(1)}"' not in attrs:
                    failures.append(f"{who} GET {url}: <script{attrs}> without this answer's nonce")
            if nonce:
                nonces.add(nonce.group(1))
    assert not failures, "\n".join(failures)
    assert pages > 50 and len(nonces) > 20, "pages with scripts were checked, each with a nonce of its own"


def test_the_icon_browsers_ask_for_is_there(app, db):
    """Every page names the icon, and /favicon.ico (asked by browsers anyway) leads to it: no 404."""
    client = app.test_client()
    r = client.get("/favicon.ico")
    assert r.status_code == 301 and r.headers["Location"].endswith("/static/favicon.svg")
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    icon.close()
    admin = app.test_client()
    assert login(admin, ADMIN_EMAIL).status_code == 302
    for url in ("/chat/", "/queues/list/"):
        assert '<link rel="icon" href="/static/favicon.svg"' in admin.get(url).get_data(as_text=True), url
