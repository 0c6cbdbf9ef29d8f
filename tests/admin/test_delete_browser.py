"""Deleting from an admin list, in a real Chromium: the question names the row, and Confirmar deletes
that row only, even after another row's question was cancelled."""
import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login

pytestmark = pytest.mark.browser


def test_delete_names_the_row_and_deletes_only_the_one_confirmed(app, stack, browser):
    """Before: "Tem certeza de que deseja excluir este item?" for any row. The name is shown as
    text (a queue named with markup stays text), and a question cancelled deletes nothing."""
    from app.models import Queue, db

    with app.app_context():
        db.session.add_all([Queue(name="Vendas", color="#112233", bot_order=1),
                            Queue(name="Suporte <b>", color="#445566", bot_order=2),
                            Queue(name="Financeiro", color="#778899", bot_order=3)])
        db.session.commit()
        ids = {q.name: q.id for q in db.session.query(Queue)}
        db.session.remove()
    stack.start_web()
    page = browser.new_page()
    browser_login(page, stack.url + "/login/")
    page.goto(stack.url + "/queues/list/")
    dialog = page.locator("#modal-confirm")

    page.click(f'[id="btn-delete-/queues/delete/{ids["Vendas"]}"]')
    expect(dialog).to_be_visible()
    expect(dialog.locator(".modal-body")).to_have_text("Excluir Vendas? Esta ação não pode ser desfeita.")
    dialog.locator("button", has_text="Cancelar").click()
    expect(dialog).to_be_hidden()

    page.click(f'[id="btn-delete-/queues/delete/{ids["Suporte <b>"]}"]')
    expect(dialog.locator(".modal-body")).to_have_text("Excluir Suporte <b>? Esta ação não pode ser desfeita.")
    with page.expect_navigation():
        page.click("#modal-confirm-ok")
    expect(page.locator(".alert-success")).to_be_visible()

    with app.app_context():
        assert sorted(q.name for q in db.session.query(Queue)) == ["Financeiro", "Vendas"]
        db.session.remove()
