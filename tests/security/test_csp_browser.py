"""The strict script policy (app.content_security_policy) in a real Chromium: every screen works
under it with no violation reported (Flask-AppBuilder's scripts, Select2, the date pickers, the
QR page's refresh, the chat, the API docs), and a script put into a page without the answer's
nonce does not run."""
import pytest

from tests.conftest import CHROMIUM, browser_login

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENS = ["/chat/", "/connections/list/", "/connections/add", "/queues/list/", "/queues/add", "/team/list/",
           "/team/add", "/ratings/list/", "/ratings/add", "/quick_replies/list/", "/quick_replies/add",
           "/settings/form", "/team/userinfo/", "/userinfoeditview/form", "/resetmypassword/form",
           "/swagger/v1", "/logout/"]

# Recorded from the first script of every document: what the browser refused under the policy.
RECORD_VIOLATIONS = """
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
        window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile + ":" + e.lineNumber);
    });
"""

INJECT_INLINE = """() => {
    const script = document.createElement("script");
    script.textContent = "window.__injected = true";
    document.body.appendChild(script);
    const image = document.createElement("img");
    image.setAttribute("onerror", "window.__handler = true");
    image.src = "/nada.png";
    document.body.appendChild(image);
    return new Promise((resolve) => setTimeout(() => resolve([window.__injected === true, window.__handler === true]), 500));
}"""


def test_every_screen_works_under_the_policy_and_injected_scripts_do_not_run(app, stack, db, factory):
    from playwright.sync_api import sync_playwright

    from app.services import connections

    queue = factory.queue(name="Vendas")
    factory.member(queues=[queue], name="Ana")
    connection_id = connections.create({"name": "Zap"}).id
    db.session.commit()
    stack.start_web()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="pt-BR")
            context.add_init_script(RECORD_VIOLATIONS)
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
            browser_login(page, stack.url + "/login/")
            failures = []
            for path in SCREENS + [f"/connections/qr/{connection_id}"]:
                page.goto(stack.url + path)
                page.wait_for_load_state("networkidle")
                violations = page.evaluate("window.__violations")
                if violations:
                    failures.append(f"{path}: {violations}")
                ran = page.evaluate(INJECT_INLINE)
                if any(ran):
                    failures.append(f"{path}: an injected inline script or handler ran: {ran}")
            assert not failures, "\n".join(failures)
            assert not errors, errors
            # The framework's own scripts did run: Select2 dressed the queue boxes, the API docs drew.
            page.goto(stack.url + "/team/add")
            page.locator(".select2-container").first.wait_for()
            page.goto(stack.url + "/swagger/v1")
            page.locator("#swagger-ui .information-container, #swagger-ui .info").first.wait_for(timeout=15000)
        finally:
            browser.close()


@pytest.mark.parametrize("path", ["/chat/", "/queues/list/"])
def test_the_menus_sair_logs_out_with_one_click(app, stack, db, path):
    """"Sair" is a POST with the page's token (a GET only asks: another site could cause one); the
    menu's link still logs out at once, on the chat and on the admin screens."""
    from playwright.sync_api import sync_playwright

    stack.start_web()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_context(locale="pt-BR").new_page()
            browser_login(page, stack.url + "/login/")
            page.goto(stack.url + path)
            assert page.request.get(stack.url + "/chat/api/counts").status == 200
            page.locator(".navbar .dropdown-toggle .fa-user").click()
            page.get_by_role("link", name="Sair").click()
            page.wait_for_url("**/login/**")
            assert page.request.get(stack.url + "/chat/api/counts").status == 401
        finally:
            browser.close()
