"""The composer in a real Chromium: what an agent types belongs to one conversation."""
import re

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
    ana.page.goto(desk.url + "/chat/")  # the first conversation opened on the page: no composer shown till now
    ana.connected()
    ana.row("Maria Boleto").click()
    expect(ana.page.locator("#chat-contact-name")).to_have_text("Maria Boleto")
    ana.page.locator("#chat-composer:not([hidden])").wait_for()
    # A line of text fits: sized while the composer was hidden, the box measured 0 (16 px tall).
    assert ana.page.locator("#chat-input").bounding_box()["height"] >= 30
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


def test_resolving_with_the_required_external_rating_and_no_rating_registered(desk_live, agents, db):
    """Obrigatório Avaliar + Avaliação Externa, no rating in Avaliações (the settings allow it: the
    link needs none): the dialog offers the link, and Resolver closes the ticket with it. Before,
    nothing could be chosen and every close answered "Escolha uma avaliação."."""
    from app.models import Message, Ticket, TicketStatus
    from app.services.settings import get_settings

    desk = desk_live
    s = get_settings()
    s.send_ratings = s.rating_required = s.external_rating = True
    s.external_rating_url = "https://avalie.exemplo.com.br/?p={{protocolo}}"
    db.session.commit()
    customer_writes(desk, desk.vendas, "Quero avaliar", name="Rita Avalia")
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    ana.accept("Rita Avalia")
    ana.page.click("[data-action=close]")
    dialog = ana.page.locator("#chat-close")
    expect(dialog.locator("#chat-close-external")).to_be_visible()
    expect(dialog.locator("#chat-close-external input")).to_be_checked()
    expect(dialog.locator("#chat-close-no-rating-label")).to_be_hidden()
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden()
    expect(ana.page.locator("#chat-error")).to_be_hidden()
    ana.page.wait_for_function("() => document.querySelector('[data-action=reopen]') && "
                               "!document.querySelector('[data-action=reopen]').hidden")
    db.session.expire_all()
    ticket = db.session.query(Ticket).one()
    assert ticket.status == TicketStatus.CLOSED
    last = db.session.query(Message).filter_by(ticket_id=ticket.id, from_me=True).order_by(Message.id.desc()).first()
    assert last.body == f"https://avalie.exemplo.com.br/?p={ticket.id}"


def test_resolving_a_group_asks_for_no_rating(desk_live, agents, db):
    """Ratings on: Resolver on a group's conversation closes it at once, as with ratings off (a
    group is not asked for a rating: tickets.close refuses one), instead of offering a dialog whose
    every rating choice the server refuses."""
    from app.models import Ticket, TicketStatus
    from app.services.settings import get_settings

    desk = desk_live
    s = get_settings()
    s.send_ratings = True
    s.ignore_group_messages = False
    s.group_actions = True
    db.session.commit()
    customer_writes(desk, desk.vendas, "Oi, pessoal", name="Zé", chat_id="120363000000000077@g.us",
                    is_group=True, chat_name="Grupo Obra")
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    ana.accept("Grupo Obra")
    ana.page.click("[data-action=close]")
    ana.page.wait_for_function("() => document.querySelector('[data-action=reopen]') && "
                               "!document.querySelector('[data-action=reopen]').hidden")
    expect(ana.page.locator("#chat-close")).to_be_hidden()
    expect(ana.page.locator("#chat-error")).to_be_hidden()
    db.session.expire_all()
    ticket = db.session.query(Ticket).one()
    assert ticket.status == TicketStatus.CLOSED and not ticket.awaiting_rating


NOTIFICATION_CLICKER = """
    window.__notes = [];
    class RecordedNotification {
        constructor(title, options) { this.title = title; window.__notes.push(this); }
        close() {}
    }
    RecordedNotification.permission = "granted";
    RecordedNotification.requestPermission = () => Promise.resolve("granted");
    window.Notification = RecordedNotification;
"""


def test_a_dialog_never_acts_on_a_conversation_it_was_not_opened_for(desk_live, agents, db):
    """Ana opens Resolver on Maria's conversation; a message from João rings and she clicks the
    notification, which puts João's conversation on screen: the dialog goes with Maria's (before,
    it stayed open over João's, and its Resolver button closed João's ticket, sending him the
    farewell and the rating)."""
    from app.models import Ticket, TicketStatus
    from app.services.settings import get_settings

    desk = desk_live
    get_settings().send_ratings = True  # Resolver asks in a dialog
    db.session.commit()
    customer_writes(desk, desk.vendas, "Oi, sou a Maria", name="Maria Dialogo", phone="5511966661001")
    customer_writes(desk, desk.vendas, "Oi, sou o João", name="João Dialogo", phone="5511966661002")
    ana = agents("ana@teste.com.br", NOTIFICATION_CLICKER)
    ana.tab("pending")
    ana.accept("João Dialogo")
    ana.tab("pending")
    ana.accept("Maria Dialogo")
    ana.page.click("[data-action=close]")
    expect(ana.page.locator("#chat-close")).to_be_visible()
    before = ana.page.evaluate("window.__notes.length")
    customer_writes(desk, desk.vendas, "Ainda está aí?", name="João Dialogo", phone="5511966661002")
    ana.page.wait_for_function("(n) => window.__notes.length > n", arg=before)
    ana.page.evaluate("window.__notes[window.__notes.length - 1].onclick()")
    expect(ana.page.locator("#chat-contact-name")).to_have_text("João Dialogo")
    expect(ana.page.locator("#chat-close")).to_be_hidden()
    db.session.expire_all()
    assert {t.contact.name: t.status for t in db.session.query(Ticket)} == {
        "Maria Dialogo": TicketStatus.OPEN, "João Dialogo": TicketStatus.OPEN}


def test_a_draft_comes_back_when_the_page_loads_again(desk_live, agents, db):
    """Ana is typing to Maria when a Supervisor gives her one more queue: the server drops her
    sockets and her page loads again by itself. What she had typed is back in Maria's composer, and
    in João's what she had typed for him (before, both were lost with the page). Sent, a draft is
    gone for good: a reload leaves the composer empty."""
    import requests

    from tests.chat.test_socket import admin_token

    desk = desk_live
    customer_writes(desk, desk.vendas, "Qual o prazo?", name="João Rascunho")
    customer_writes(desk, desk.vendas, "Preciso do boleto", name="Maria Rascunho")
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    ana.accept("João Rascunho")
    ana.page.fill("#chat-input", "João, entregamos em 3 dias")
    ana.tab("pending")
    ana.accept("Maria Rascunho")
    ana.page.type("#chat-input", "Maria, seu boleto de R$ 350,00 😊")  # typed key by key, not sent
    ana.page.evaluate("window.__same_page = true")
    r = requests.put(f"{desk.url}/api/v1/team/{desk.ana.id}", json={"queues": [desk.vendas.id, desk.suporte.id]},
                     headers=admin_token(desk.url), timeout=10)
    assert r.status_code == 200, r.text
    ana.page.wait_for_function("() => !window.__same_page", timeout=10000)
    ana.connected()
    expect(ana.page.locator("#chat-contact-name")).to_have_text("Maria Rascunho")
    expect(ana.page.locator("#chat-input")).to_have_value("Maria, seu boleto de R$ 350,00 😊")
    ana.row("João Rascunho").click()
    expect(ana.page.locator("#chat-contact-name")).to_have_text("João Rascunho")
    expect(ana.page.locator("#chat-input")).to_have_value("João, entregamos em 3 dias")
    ana.page.press("#chat-input", "Enter")
    ana.page.locator(".chat-msg.out", has_text="entregamos em 3 dias").wait_for()
    ana.page.reload()
    ana.connected()
    expect(ana.page.locator("#chat-contact-name")).to_have_text("João Rascunho")
    ana.page.locator("#chat-composer:not([hidden])").wait_for()
    expect(ana.page.locator("#chat-input")).to_have_value("")


def test_the_composer_note_points_only_at_a_button_the_screen_shows(desk_live, agents, db, factory):
    """Where Ana may not write, the note under the conversation says why, and never tells her to
    use a button she does not have (before: "Aceite o atendimento para responder." on a group
    conversation she may not accept, with Ações em Grupo off, and "Reabra-o para responder." on a
    colleague's resolved conversation, which only its agent or staff may reopen)."""
    from app.services import tickets
    from app.services.settings import get_settings
    from app.workers.publish import publish

    desk = desk_live
    settings = get_settings()
    settings.group_actions, settings.ignore_group_messages = False, False
    db.session.commit()
    carla = factory.member("user", queues=[desk.vendas], email="carla@teste.com.br", name="Carla")
    desk.connection.queues = [desk.vendas]
    db.session.commit()
    desk.engine.deliver(desk.engine.group_message(desk.connection, group_name="Grupo Obra", name="Zé",
                                                  body="Bom dia, grupo"))
    colleague = desk.ticket(desk.vendas, name="Cliente da Carla")
    desk.ticket(desk.vendas, name="Cliente da Ana")
    for action in (tickets.accept, tickets.close):  # Carla's: accepted and resolved by her
        changes = action(carla, colleague.id)
        db.session.commit()
        publish(changes)
    ana = agents("ana@teste.com.br")
    note = ana.page.locator("#chat-composer-closed")

    ana.tab("pending")
    ana.row("Grupo Obra").click()
    expect(ana.page.locator("#chat-contact-name")).to_contain_text("Grupo Obra")
    expect(note).to_have_text("Só Admins e Supervisores podem atuar em conversas de grupo.")
    expect(ana.page.locator("[data-action=accept]")).to_be_hidden()

    ana.row("Cliente da Ana").click()
    expect(ana.page.locator("#chat-contact-name")).to_have_text("Cliente da Ana")
    expect(ana.page.locator("[data-action=accept]")).to_be_visible()
    expect(note).to_have_text("Aceite o atendimento para responder.")

    ana.tab("closed")
    ana.row("Cliente da Carla").click()
    expect(ana.page.locator("#chat-contact-name")).to_have_text("Cliente da Carla")
    expect(note).to_have_text("Só Admins, Supervisores ou o atendente do ticket podem reabri-lo.")
    expect(ana.page.locator("[data-action=reopen]")).to_be_hidden()

    ana.tab("pending")  # on her screen, waiting, when Carla accepts it: the screen follows
    disputed = desk.ticket(desk.vendas, name="Cliente Disputado")
    ana.row("Cliente Disputado").click()
    expect(note).to_have_text("Aceite o atendimento para responder.")
    changes = tickets.accept(carla, disputed.id)
    db.session.commit()
    publish(changes)
    expect(ana.page.locator("[data-action=accept]")).to_be_hidden()
    expect(note).to_have_text("Este ticket está sendo atendido por outro atendente.")

    # her own, resolved: Reabrir is there, and the note says so
    ana.accept("Cliente da Ana")
    ana.page.click("[data-action=close]")
    expect(ana.page.locator("[data-action=reopen]")).to_be_visible()
    expect(note).to_have_text("Este atendimento foi resolvido. Reabra-o para responder.")


def test_the_resolve_dialog_follows_rating_options_changed_after_the_page_loaded(desk_live, agents, db):
    """Ana's page loads with ratings off; then an admin turns "Enviar Avaliações" on and registers
    a rating. Without a reload, Resolver offers it (before, it closed at once with no rating: the
    page kept the options it was loaded with). A name with "$&" shows as typed."""
    from app.models import Message, RatingTemplate, Ticket, TicketStatus
    from app.services import rating_templates
    from app.services.settings import get_settings

    desk = desk_live
    customer_writes(desk, desk.vendas, "Pode fechar", name="Rui Fecha")
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    ana.accept("Rui Fecha")
    template = rating_templates.create({"name": "Pesquisa $& nova", "message": "Como foi o atendimento?",
                                        "options": [{"value": 1, "label": "Ruim"},
                                                    {"value": 2, "label": "Bom"}]})
    settings = get_settings()
    settings.send_ratings = True
    db.session.commit()
    ana.page.click("[data-action=close]")
    dialog = ana.page.locator("#chat-close")
    expect(dialog).to_be_visible()
    option = dialog.locator(f'#chat-close-templates input[value="{template.id}"]')
    expect(option).to_have_count(1)
    expect(dialog.locator("#chat-close-templates")).to_have_text("Enviar avaliação: Pesquisa $& nova")
    option.check()
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden()
    db.session.expire_all()
    ticket = db.session.query(Ticket).one()
    assert ticket.status == TicketStatus.CLOSED and ticket.awaiting_rating
    assert db.session.query(Message).filter(Message.ticket_id == ticket.id,
                                            Message.body.startswith("Como foi o atendimento?")).count() == 1
    assert db.session.query(RatingTemplate).count() == 1


def test_the_agent_is_told_when_the_conversations_number_is_down(desk_live, agents, db):
    """The number went down (unlinked on the phone, say): the agent's messages waited with a clock
    and nothing said why. The conversation now says the number is not connected, live, and stops
    saying it when the number is back; a page loaded while it is down says it at once."""
    from app.bridge.runner import publish
    from app.models.connection import ConnectionStatus
    from app.services import connections

    desk = desk_live
    customer_writes(desk, desk.vendas, "Alguém aí?", name="Rita Espera")
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    ana.accept("Rita Espera")
    note = ana.page.locator("#chat-connection-down")
    expect(note).to_be_hidden()

    def number(status):
        event = connections.set_status(desk.connection.id, status)
        db.session.commit()
        publish(event, desk.app)

    number(ConnectionStatus.DISCONNECTED)
    expect(note).to_be_visible()
    expect(note).to_contain_text("O número de WhatsApp Principal não está conectado")
    ana.page.reload()
    ana.connected()
    ana.row("Rita Espera").click()
    expect(note).to_be_visible()
    number(ConnectionStatus.CONNECTED)
    expect(note).to_be_hidden()


def test_the_conversation_header_keeps_its_buttons_on_one_line_on_a_notebook(desk_live, agents):
    """1366×800, an accepted ticket: "Voltar para Aguardando", "Transferir" and "Resolver" on one
    line (Resolver dropped to a second one, the header grew and cut the ticket's info)."""
    desk = desk_live
    customer_writes(desk, desk.vendas, "Bom dia", name="Maria Aparecida dos Santos Oliveira")
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    ana.accept("Maria Aparecida")
    tops = {action: ana.page.locator(f"[data-action={action}]").bounding_box()["y"]
            for action in ("return", "transfer", "close")}
    assert len(set(tops.values())) == 1, tops
    assert "Atendente: Ana" in ana.page.inner_text("#chat-ticket-info")


def test_a_chosen_file_is_confirmed_before_it_goes(desk_live, agents, db):
    """A file went to the customer the moment it was chosen: a wrong one could not be stopped. Now
    a dialog shows its name with what was typed as the caption; Cancelar sends nothing, Enviar
    sends it with the caption (edited there)."""
    from app.models import Message

    desk = desk_live
    customer_writes(desk, desk.vendas, "Manda o contrato", name="Rui Contrato")
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    ana.accept("Rui Contrato")
    dialog = ana.page.locator("#chat-file-confirm")
    pdf = {"name": "contrato.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 contrato"}
    ana.page.fill("#chat-input", "Segue o contrato")
    ana.page.set_input_files("#chat-file", files=[dict(pdf, name="errado.pdf")])
    expect(dialog).to_be_visible()
    expect(dialog.locator("#chat-file-name")).to_have_text("errado.pdf")
    dialog.locator("[data-dismiss]").click()
    expect(dialog).to_be_hidden()
    expect(ana.page.locator("#chat-input")).to_have_value("Segue o contrato")  # kept for the right one
    ana.page.set_input_files("#chat-file", files=[pdf])
    expect(dialog.locator("#chat-file-caption")).to_have_value("Segue o contrato")
    dialog.locator("#chat-file-caption").fill("Segue o contrato assinado")
    dialog.locator("button[type=submit]").click()
    ana.page.locator(".chat-msg.out a.chat-file", has_text="contrato.pdf").wait_for()
    expect(ana.page.locator("#chat-input")).to_have_value("")
    db.session.expire_all()
    sent = [(m.media_name, m.body) for m in db.session.query(Message).filter_by(from_me=True) if m.media_name]
    assert sent == [("contrato.pdf", "Segue o contrato assinado")]


# Each part of the conversation's header: its box, whether its text is cut (an ellipsis, or the
# header's side cutting it off) and its title.
HEADER_PARTS = """() => {
    const who = document.querySelector('.chat-header-who').getBoundingClientRect();
    const actions = document.getElementById('chat-actions').getBoundingClientRect();
    const part = id => {
        const e = document.getElementById(id), r = e.getBoundingClientRect();
        return {text: e.textContent, title: e.title, left: r.left, right: r.right, width: r.width,
                cut: e.scrollWidth > e.clientWidth + 1 || r.right > who.right + 1 || r.right > actions.left};
    };
    return Object.fromEntries(['chat-contact-name', 'chat-contact-phone', 'chat-ticket-queue',
        'chat-ticket-connection', 'chat-ticket-info'].map(id => [id, part(id)]));
}"""


def header_parts(page):
    return page.evaluate(HEADER_PARTS)


LONG_NAME = "MariaEduarda" * 23 + "Silva"  # 281 characters, no space to break at


@pytest.mark.parametrize("width, customer", [(1366, "Maria Cliente"), (1366, LONG_NAME), (1280, "Maria Aparecida dos Santos")])
def test_the_conversation_header_shows_who_handles_the_ticket_on_a_notebook(desk_live, agents, db, width, customer):
    """A notebook, a supervisor on a ticket an agent accepted (three buttons). QA at 1366 px: the
    ticket's line was cut at "Atendente: Ca…", hiding who handles it; and a 285-character contact
    name filled the whole header, hiding the number, queue, connection, ticket number and status.
    Now the contact's name gives way first (an ellipsis, the whole name in its title); the rest is
    all there, on a second line when a whole name needs the room."""
    from app.models import Member

    desk = desk_live
    ana = db.session.get(Member, desk.ids["ana"])
    ana.first_name, ana.last_name = "Carolina", "Figueiredo"
    desk.connection.name = "WhatsApp Demo"
    db.session.commit()
    customer_writes(desk, desk.vendas, "Bom dia", name=customer)
    carolina = agents("ana@teste.com.br")
    carolina.tab("pending")
    carolina.accept(customer[:12])
    sara = agents("sara@teste.com.br", viewport={"width": width, "height": 768})
    sara.tab("all")
    sara.row(customer[:12]).click()
    page = sara.page
    expect(page.locator("#chat-ticket-info")).to_contain_text("Atendente: Carolina Figueiredo")
    for action in ("return", "transfer", "close"):
        expect(page.locator(f"[data-action={action}]")).to_be_visible()
    sara.shot(f"header-{width}-{len(customer)}")
    parts = header_parts(page)
    for id in ("chat-contact-phone", "chat-ticket-queue", "chat-ticket-connection", "chat-ticket-info"):
        assert parts[id]["text"] and not parts[id]["cut"], (id, parts[id])
    name = parts["chat-contact-name"]
    assert name["title"] == name["text"] and name["text"].startswith(customer[:200]), name  # stored as the server keeps it
    if customer == LONG_NAME:
        assert name["cut"] and name["width"] >= 150, name  # cut, with its start still there
    else:
        assert not name["cut"], name
    assert page.locator(".chat-header").bounding_box()["height"] <= 64  # two lines at most


def test_a_message_longer_than_the_limit_is_refused_whole_never_cut(desk_live, agents, db):
    """QA: 5 412 characters pasted in the composer became 4 096 (the textarea's maxlength) and went
    to the customer cut mid-word, without a word to the agent. Now the whole text stays, a counter
    shows it is over the limit, and sending (the message or a file's caption) is refused with a
    message: nothing sent. The limit counts characters as the server does: an emoji is one."""
    from app.models import Message
    from app.services.outbound import MAX_BODY

    desk = desk_live
    customer_writes(desk, desk.vendas, "Manda o regulamento", name="Lia Regulamento")
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    ana.accept("Lia Regulamento")
    page = ana.page
    counter = page.locator("#chat-input-count")
    expect(counter).to_be_hidden()
    long_text = ("Cláusula de uso do serviço. " * 200)[:5412]
    page.focus("#chat-input")
    page.keyboard.insert_text(long_text)  # as a paste
    assert page.input_value("#chat-input") == long_text
    expect(counter).to_be_visible()
    expect(counter).to_have_text("5.412 de 4.096 caracteres")
    expect(counter).to_have_class(re.compile(r"\bover\b"))
    ana.shot("composer-too-long")

    # A file with it as the caption: refused in the dialog, which stays open.
    page.set_input_files("#chat-file", files=[{"name": "regulamento.pdf", "mimeType": "application/pdf",
                                               "buffer": b"%PDF-1.4 regulamento"}])
    dialog = page.locator("#chat-file-confirm")
    expect(dialog.locator("#chat-file-caption")).to_have_value(long_text)
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator("#chat-file-error")).to_have_text("A mensagem é longa demais.")
    expect(dialog).to_be_visible()
    dialog.locator("[data-dismiss]").click()

    page.press("#chat-input", "Enter")
    expect(page.locator("#chat-error")).to_have_text("A mensagem é longa demais.")
    assert page.input_value("#chat-input") == long_text  # nothing cut, nothing cleared
    db.session.expire_all()
    assert db.session.query(Message).filter(Message.user_id.isnot(None)).count() == 0

    # Exactly the limit, an emoji counting one (two UTF-16 units in the page): it goes, whole.
    exact = "a" * (MAX_BODY - 1) + "👍"
    page.fill("#chat-input", exact)
    expect(counter).to_have_text("4.096 de 4.096 caracteres")
    expect(counter).not_to_have_class(re.compile(r"\bover\b"))
    page.press("#chat-input", "Enter")
    page.locator(".chat-msg.out", has_text="👍").wait_for()
    expect(counter).to_be_hidden()
    db.session.expire_all()
    assert [m.body for m in db.session.query(Message).filter(Message.user_id.isnot(None))] == [exact]


PHONE_NAME = "Maria Aparecida de Souza Albuquerque Bragança Vasconcelos Filha"


def test_a_long_contact_name_takes_one_line_of_the_header_on_a_phone(desk_live, agents):
    """375×740: the name wrapped to four lines (80 px) and pushed the messages down. Now it is one
    line with an ellipsis, as on a notebook, the whole name in its title; the ticket's line stays
    whole (it may wrap: on a phone there is no room for it beside the name)."""
    customer_writes(desk_live, desk_live.vendas, "Bom dia", name=PHONE_NAME)
    ana = agents("ana@teste.com.br", viewport={"width": 375, "height": 740})
    ana.tab("pending")
    ana.accept("Maria Aparecida")
    page = ana.page
    expect(page.locator("#chat-ticket-info")).to_contain_text("Atendente: Ana")
    name = page.locator("#chat-contact-name")
    line = page.eval_on_selector("#chat-contact-name", "e => parseFloat(getComputedStyle(e).lineHeight)")
    assert name.bounding_box()["height"] <= line + 1, (name.bounding_box(), line)
    ana.shot("phone-long-name")
    # Cut: an ellipsis, or past the header's side (the buttons have a line of their own here).
    parts = page.evaluate("""() => {
        const who = document.querySelector('.chat-header-who').getBoundingClientRect();
        return Object.fromEntries(['chat-contact-name', 'chat-contact-phone', 'chat-ticket-queue',
            'chat-ticket-info'].map(id => {
                const e = document.getElementById(id), r = e.getBoundingClientRect();
                return [id, {text: e.textContent, title: e.title, right: r.right,
                             cut: e.scrollWidth > e.clientWidth + 1 || r.right > who.right + 1}];
            }));
    }""")
    assert parts["chat-contact-name"]["cut"] and parts["chat-contact-name"]["title"] == PHONE_NAME, parts
    for id in ("chat-contact-phone", "chat-ticket-queue", "chat-ticket-info"):
        assert parts[id]["text"] and not parts[id]["cut"], (id, parts[id])
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing sideways
