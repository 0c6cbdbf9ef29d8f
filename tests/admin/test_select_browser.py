"""The admin forms' search-select boxes (Select2, started by Flask-AppBuilder's ab.js with English
texts) speak Portuguese in a real Chromium: placeholder, "no results", and they still work."""
import pytest

from tests.conftest import browser_login

pytestmark = pytest.mark.browser


def test_team_form_select_boxes_are_in_portuguese_and_still_select(app, stack, browser):
    from app.models import Queue, db

    with app.app_context():
        db.session.add_all([Queue(name="Vendas", color="#112233", bot_order=1),
                            Queue(name="Suporte", color="#445566", bot_order=2)])
        db.session.commit()
        db.session.remove()
    stack.start_web()
    page = browser.new_page()
    browser_login(page, stack.url + "/login/")
    page.goto(stack.url + "/team/add")
    queues = page.locator("#queues + .select2")
    queues.wait_for()
    search = queues.locator("input.select2-search__field")
    assert search.get_attribute("placeholder") == "Selecione"
    search.click()
    search.type("zzz")
    message = page.locator(".select2-results__message")
    message.wait_for()
    assert message.inner_text() == "Nenhum resultado encontrado"
    search.fill("")
    search.type("vend")
    page.locator(".select2-results__option", has_text="Vendas").click()
    assert page.eval_on_selector("#queues", "s => Array.from(s.selectedOptions, o => o.text)") == ["Vendas"]
    body = page.inner_text("body")
    assert "Select a State" not in body and "No results found" not in body
