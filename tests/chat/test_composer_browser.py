"""The composer in a real Chromium: what an agent types belongs to one conversation."""
import pytest
from playwright.sync_api import expect

from tests.chat.test_browser import agents, customer_writes, desk_live  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_draft_stays_with_its_conversation_and_never_reaches_another_customer(desk_live, agents, db):
    """Typed for Maria, then João's conversation opened: João's composer is empty (Enter there must
    not send Maria's boleto to João); back in Maria's, her draft is there again."""
    desk = desk_live
    customer_writes(desk, desk.vendas, "Preciso do boleto", name="Maria Boleto")
    customer_writes(desk, desk.vendas, "Qual o prazo de entrega?", name="João Prazo")
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    ana.accept("Maria Boleto")
    ana.tab("pending")
    ana.accept("João Prazo")  # the list follows to Atendendo, with both
    ana.row("Maria Boleto").click()
    expect(ana.page.locator("#chat-contact-name")).to_have_text("Maria Boleto")
    ana.page.fill("#chat-input", "Maria, seu boleto de R$ 350,00 vence amanhã")

    ana.row("João Prazo").click()
    expect(ana.page.locator("#chat-contact-name")).to_have_text("João Prazo")
    expect(ana.page.locator("#chat-input")).to_have_value("")
    ana.page.fill("#chat-input", "João, entregamos em 3 dias")

    ana.row("Maria Boleto").click()
    expect(ana.page.locator("#chat-contact-name")).to_have_text("Maria Boleto")
    expect(ana.page.locator("#chat-input")).to_have_value("Maria, seu boleto de R$ 350,00 vence amanhã")
    ana.page.press("#chat-input", "Enter")
    ana.page.locator(".chat-msg.out", has_text="seu boleto").wait_for()
    expect(ana.page.locator("#chat-input")).to_have_value("")

    ana.row("João Prazo").click()
    expect(ana.page.locator("#chat-contact-name")).to_have_text("João Prazo")
    expect(ana.page.locator("#chat-input")).to_have_value("João, entregamos em 3 dias")
    expect(ana.page.locator(".chat-msg.out", has_text="boleto")).to_have_count(0)

    ana.row("Maria Boleto").click()  # sent: nothing left in her composer
    expect(ana.page.locator("#chat-contact-name")).to_have_text("Maria Boleto")
    expect(ana.page.locator("#chat-input")).to_have_value("")

    from app.models import Message

    db.session.expire_all()
    sent = [m.body for m in db.session.query(Message).filter_by(from_me=True, type="text") if m.user_id]
    assert sent == ["Maria, seu boleto de R$ 350,00 vence amanhã"]
