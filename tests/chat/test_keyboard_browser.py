"""The chat screen with the keyboard only, in a real Chromium. QA: Tab went from the queue chips past
the ticket list (rows took only clicks), so a keyboard-only agent could open no conversation."""
import re

import pytest
from playwright.sync_api import expect

from tests.chat.test_browser import agents, customer_writes, desk_live  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# What has the focus: its id, or a row's ticket id, and its role.
FOCUSED = """() => { const e = document.activeElement;
    return {id: e.id, ticket: e.dataset ? e.dataset.id || null : null, role: e.getAttribute('role'),
            label: e.getAttribute('aria-label'), outline: getComputedStyle(e).outlineStyle}; }"""


def focused(page):
    return page.evaluate(FOCUSED)


def tab_into_the_list(page, start="#chat-search"):
    """Tab from `start` until a ticket row has the focus (a few presses: the queue chips first)."""
    page.focus(start)
    for _ in range(8):
        page.keyboard.press("Tab")
        if focused(page)["role"] == "option":
            return focused(page)
    raise AssertionError("Tab never reached the ticket list")


def ticket_id(db, name):
    from app.models import Contact, Ticket

    db.session.expire_all()
    return db.session.query(Ticket.id).join(Contact).filter(Contact.name == name).order_by(Ticket.id).first()[0]


def test_the_ticket_list_is_reached_with_tab_and_a_ticket_opens_with_enter_or_space(desk_live, agents, db):
    desk = desk_live
    customer_writes(desk, desk.vendas, "Qual o prazo?", name="João Teclado", phone="5511987655678")
    ana = agents("ana@teste.com.br")
    page = ana.page
    ana.tab("pending")
    ana.row("João Teclado").wait_for()
    phone = "5511987651234"
    customer_writes(desk, desk.vendas, "Oi", name="Maria Teclado", phone=phone)
    expect(ana.row("Maria Teclado").locator(".chat-unread")).to_have_text("1")
    customer_writes(desk, desk.vendas, "Preciso do boleto", name="Maria Teclado", phone=phone)
    expect(ana.row("Maria Teclado").locator(".chat-unread")).to_have_text("2")
    maria, joao = ticket_id(db, "Maria Teclado"), ticket_id(db, "João Teclado")
    expect(page.locator("#chat-tickets")).to_have_attribute("role", "listbox")

    # One Tab stop for the whole list, on its first row (Maria, the newest), with a visible outline
    # and a name that says who and how many unread messages.
    row = tab_into_the_list(page)
    assert row["ticket"] == str(maria), row
    assert row["label"] == "Maria Teclado, 2 mensagens não lidas", row
    assert row["outline"] == "solid", row
    assert page.eval_on_selector_all(".chat-ticket", "rows => rows.map(r => r.tabIndex)") == [0, -1]
    expect(ana.row("João Teclado")).to_have_attribute("aria-label", "João Teclado, 1 mensagem não lida")

    # Arrows move between rows; Enter opens the focused one, marked as the open one.
    page.keyboard.press("ArrowDown")
    assert focused(page)["ticket"] == str(joao)
    page.keyboard.press("ArrowUp")
    assert focused(page)["ticket"] == str(maria)
    page.keyboard.press("End")
    assert focused(page)["ticket"] == str(joao)
    page.keyboard.press("Home")
    page.keyboard.press("Enter")
    expect(page.locator("#chat-contact-name")).to_have_text("Maria Teclado")
    expect(ana.row("Maria Teclado")).to_have_attribute("aria-selected", "true")
    expect(ana.row("João Teclado")).to_have_attribute("aria-selected", "false")
    expect(ana.row("Maria Teclado")).to_have_attribute("aria-label", "Maria Teclado")  # read: no unread left
    assert focused(page)["ticket"] == str(maria)  # the keyboard stays where it was

    # Space opens too; the selection follows.
    page.keyboard.press("ArrowDown")
    page.keyboard.press(" ")
    expect(page.locator("#chat-contact-name")).to_have_text("João Teclado")
    expect(ana.row("João Teclado")).to_have_attribute("aria-selected", "true")
    expect(ana.row("Maria Teclado")).to_have_attribute("aria-selected", "false")
    assert focused(page)["ticket"] == str(joao)

    # The row on focus is drawn again when its ticket changes: the focus stays on it.
    customer_writes(desk, desk.vendas, "Ainda estou aguardando", name="João Teclado", phone="5511987655678")
    expect(ana.row("João Teclado").locator(".chat-ticket-preview")).to_have_text("Ainda estou aguardando")
    assert focused(page)["ticket"] == str(joao)

    # Tab leaves the list at once (one stop, not one per row); Shift+Tab comes back to the row.
    page.keyboard.press("Tab")
    assert focused(page)["role"] != "option"
    page.keyboard.press("Shift+Tab")
    assert focused(page)["ticket"] == str(joao)


def test_tabs_and_queue_chips_say_which_one_is_chosen(desk_live, agents):
    """They were told apart by their colour only: a screen reader heard four equal tabs."""
    ana = agents("ana@teste.com.br")
    page = ana.page
    expect(page.locator(".chat-tabs [data-tab=open]")).to_have_attribute("aria-selected", "true")
    expect(page.locator(".chat-tabs [data-tab=pending]")).to_have_attribute("aria-selected", "false")
    page.focus(".chat-tabs [data-tab=pending]")
    page.keyboard.press("Enter")
    expect(page.locator(".chat-tabs [data-tab=pending]")).to_have_attribute("aria-selected", "true")
    expect(page.locator(".chat-tabs [data-tab=open]")).to_have_attribute("aria-selected", "false")
    vendas = page.locator(f'#chat-queue-filter [data-queue="{desk_live.vendas.id}"]')
    expect(vendas).to_have_attribute("aria-pressed", "false")
    vendas.focus()
    page.keyboard.press(" ")
    expect(vendas).to_have_attribute("aria-pressed", "true")
    expect(page.locator('#chat-queue-filter [data-queue=""]')).to_have_attribute("aria-pressed", "false")


def test_a_file_is_attached_with_the_keyboard(desk_live, agents):
    """The file input was `hidden`: the paperclip could be clicked, never reached with Tab."""
    customer_writes(desk_live, desk_live.vendas, "Manda a nota", name="Rui Nota")
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    ana.accept("Rui Nota")
    page = ana.page
    page.focus("#chat-emoji")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "chat-file"
    assert page.eval_on_selector(".chat-attach", "e => getComputedStyle(e).outlineStyle") == "solid"
    with page.expect_file_chooser() as chooser:
        page.keyboard.press(" ")
    chooser.value.set_files(files=[{"name": "nota.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 nota"}])
    expect(page.locator("#chat-file-confirm")).to_be_visible()
    expect(page.locator("#chat-file-name")).to_have_text("nota.pdf")


def test_on_a_phone_the_keyboard_goes_to_the_conversation_and_back(desk_live, agents):
    """390 px: the list gives its place to the conversation; the focus follows (it was lost with
    the hidden row), and "Voltar à lista" brings it back to the row."""
    customer_writes(desk_live, desk_live.vendas, "Pelo celular", name="Paula Teclado")
    ana = agents("ana@teste.com.br", viewport={"width": 390, "height": 844})
    page = ana.page
    ana.tab("pending")
    ana.row("Paula Teclado").wait_for()
    row = tab_into_the_list(page)
    page.keyboard.press("Enter")
    expect(page.locator("#chat-contact-name")).to_have_text("Paula Teclado")
    expect(page.locator(".chat-side")).to_be_hidden()
    expect(page.locator("#chat-back")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".chat-side")).to_be_visible()
    assert focused(page)["ticket"] == row["ticket"]
    expect(ana.row("Paula Teclado")).to_have_attribute("aria-selected", "false")
    expect(ana.row("Paula Teclado")).not_to_have_class(re.compile(r"\bcurrent\b"))
