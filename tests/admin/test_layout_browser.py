"""The top bar on the screens members use most (app/static/admin/conecta.css): one line on the
common notebook widths, menu and the member's name included (Flask-AppBuilder's 1170 px container
wrapped it to a second line at 1366 px)."""
import pytest

from tests.conftest import CHROMIUM, browser_login

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("width", [1280, 1366])
def test_the_top_bar_is_one_line_on_a_notebook(app, stack, db, width):
    from playwright.sync_api import sync_playwright

    from app.models import Member
    from tests.conftest import ADMIN_EMAIL

    admin = db.session.query(Member).filter_by(email=ADMIN_EMAIL).one()
    admin.first_name, admin.last_name = "Maria Aparecida", "Conceição"
    db.session.commit()
    stack.start_web()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 768}, locale="pt-BR")
            browser_login(page, stack.url + "/login/")
            for path in ("/chat/", "/queues/list/", "/team/list/", "/settings/form"):
                page.goto(stack.url + path)
                bar = page.locator(".navbar").first
                brand = page.locator(".navbar-brand").first.bounding_box()
                user = page.locator(".navbar-right").last.bounding_box()
                assert bar.bounding_box()["height"] < 60, (path, bar.bounding_box())
                assert abs(user["y"] - brand["y"]) < 10, (path, brand, user)  # the name on the brand's line
        finally:
            browser.close()
