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


def test_required_select_boxes_offer_no_clear_button(app, stack, browser):
    """Configurações › Opções: the "×" of Fuso horário (or Tipo Chatbot) emptied a required box; the
    form came back refused with Fuso horário showing its first choice, "Africa/Abidjan", and saving
    it again stored that time zone. Boxes without a blank choice have no "×" now; those with one
    (Avaliação padrão, Conexão Padrão) keep it."""
    from app.models import Connection, RatingTemplate, db

    with app.app_context():
        db.session.add(Connection(name="Principal", is_default=True))
        db.session.add(RatingTemplate(name="Satisfação", message="Nota?"))
        db.session.commit()
        db.session.remove()
    stack.start_web()
    page = browser.new_page()
    browser_login(page, stack.url + "/login/")

    def clear_buttons(select_id):
        page.locator(f"#{select_id} + .select2").wait_for()
        return page.locator(f"#{select_id} + .select2 .select2-selection__clear").count()

    page.goto(stack.url + "/settings/form")
    assert clear_buttons("timezone") == 0 and clear_buttons("chatbot_type") == 0
    page.locator("#default_rating_template + .select2").click()
    page.locator(".select2-results__option", has_text="Satisfação").click()
    assert clear_buttons("default_rating_template") == 1
    page.goto(stack.url + "/team/add")
    assert clear_buttons("profile") == 0
    page.locator("#default_connection + .select2").click()
    page.locator(".select2-results__option", has_text="Principal").click()
    assert clear_buttons("default_connection") == 1
    page.goto(stack.url + "/connections/add")
    assert clear_buttons("channel") == 0
