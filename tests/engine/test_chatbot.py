"""Queue assignment and the chatbot menu (text and list)."""
import json

import pytest

from app.models import TicketStatus


def test_one_queue_is_assigned_without_a_menu(engine, factory):
    q = factory.queue(greeting_message="Olá {{nome}}, aqui é o {{fila}}")
    c = factory.connection(queues=[q], greeting_message="Saudação da conexão")
    engine.deliver(engine.message(c, name="Maria"))
    t = engine.tickets()[0]
    assert t.queue_id == q.id and not t.awaiting_menu
    assert [m.body for m in engine.sent(t)] == [f"Olá Maria, aqui é o {q.name}"]


def test_several_queues_send_the_greeting_and_the_menu_in_bot_order(engine, factory):
    engine.settings(chatbot_type="text")
    b = factory.queue(name="Suporte", bot_order=2)
    a = factory.queue(name="Vendas", bot_order=1)
    a2 = factory.queue(name="Atendimento", bot_order=2)  # same order: by name
    c = factory.connection(queues=[b, a, a2], greeting_message="{{saudacao}}, {{nome}}! Escolha:")
    engine.deliver(engine.message(c, name="Maria"))
    t = engine.tickets()[0]
    assert t.queue_id is None and t.awaiting_menu and t.status == TicketStatus.PENDING
    [menu] = engine.sent(t)
    assert menu.type == "text"
    head, lines = menu.body.split("\n\n")
    assert head.endswith(", Maria! Escolha:") and head.split(",")[0] in ("Bom dia", "Boa tarde", "Boa noite")
    assert lines.split("\n") == ["1 - Vendas", "2 - Atendimento", "3 - Suporte"]


def test_a_valid_reply_assigns_the_queue_and_sends_its_greeting(engine, factory):
    a = factory.queue(name="Vendas", bot_order=1, greeting_message="Vendas aqui, {{nome}}")
    b = factory.queue(name="Suporte", bot_order=2, greeting_message="Suporte aqui, {{nome}}. Protocolo {{protocolo}}")
    c = factory.connection(queues=[a, b], greeting_message="Escolha")
    engine.deliver(engine.message(c, name="Maria"))
    engine.deliver(engine.message(c, body=" 2 "))
    t = engine.tickets()[0]
    assert t.queue_id == b.id and not t.awaiting_menu and t.status == TicketStatus.PENDING
    assert engine.sent(t)[-1].body == f"Suporte aqui, Maria. Protocolo {t.id}"


@pytest.mark.parametrize("reply", ["2", "2.", "2)", "suporte", "Suporte!", "2 - Suporte", "2-suporte", "2 – SUPORTE",
                                   "Atendimento técnico", "atendimento tecnico."])
def test_a_reply_chooses_by_number_name_or_the_menu_line(engine, factory, reply):
    """Customers answer with the number, the department's name, or the menu's line copied
    ("2 - Suporte"): all of them choose it (before, only the number did; the rest got "Opção
    inválida" and the menu again)."""
    a = factory.queue(name="Vendas", bot_order=1)
    b = factory.queue(name="Suporte", bot_order=2)
    b2 = factory.queue(name="Atendimento Técnico", bot_order=3)
    c = factory.connection(queues=[a, b, b2], greeting_message="Escolha")
    engine.deliver(engine.message(c, name="Maria"))
    engine.deliver(engine.message(c, body=reply))
    t = engine.tickets()[0]
    assert t.queue_id == (b2.id if "atendimento" in reply.lower() else b.id) and not t.awaiting_menu


@pytest.mark.parametrize("reply, chosen", [("suporte", "Suporte Técnico"), ("SUPORTE!", "Suporte Técnico"),
                                           ("financeiro", "Financeiro e Cobrança"),
                                           ("atendimento", None), ("técnico", None), ("suporte tec", None)])
def test_a_reply_may_name_a_department_by_its_first_words_when_no_other_starts_so(engine, factory, reply, chosen):
    """A Brazilian customer types "suporte" for "Suporte Técnico" (the demo's own queue): it got
    "Opção inválida" every time (found in QA). Words that start two labels choose nothing."""
    queues = {name: factory.queue(name=name, bot_order=n) for n, name in enumerate(
        ["Suporte Técnico", "Financeiro e Cobrança", "Atendimento Comercial", "Atendimento Geral"], 1)}
    c = factory.connection(queues=list(queues.values()), greeting_message="Escolha")
    engine.deliver(engine.message(c, name="Maria"))
    engine.deliver(engine.message(c, body=reply))
    t = engine.tickets()[0]
    assert t.queue_id == (queues[chosen].id if chosen else None) and t.awaiting_menu is (chosen is None)


def test_an_invalid_reply_repeats_the_menu(engine, factory):
    a, b = factory.queue(name="Vendas", bot_order=1), factory.queue(name="Suporte", bot_order=2)
    c = factory.connection(queues=[a, b], greeting_message="Escolha")
    engine.deliver(engine.message(c))
    for reply in ("banana", "3", "0", "1 e 2", "1 - Suporte", "quero vendas"):
        engine.deliver(engine.message(c, body=reply))
    t = engine.tickets()[0]
    assert t.queue_id is None and t.awaiting_menu
    menus = engine.sent(t)
    assert len(menus) == 7
    for repeated in menus[1:]:
        assert repeated.body.endswith("1 - Vendas\n2 - Suporte")
        assert repeated.body.startswith("Opção inválida")


def test_list_menu_and_list_reply(engine, factory):
    engine.settings(chatbot_type="list")
    a = factory.queue(name="Vendas", bot_order=1)
    b = factory.queue(name="Suporte", bot_order=2, greeting_message="Suporte!")
    c = factory.connection(queues=[b, a], greeting_message="Escolha uma opção")
    engine.deliver(engine.message(c))
    t = engine.tickets()[0]
    [menu] = engine.sent(t)
    extra = json.loads(menu.extra)
    assert menu.type == "list" and menu.body == "Escolha uma opção"
    assert [r["title"] for r in extra["sections"][0]["rows"]] == ["Vendas", "Suporte"]
    assert extra["fallback"] == "Escolha uma opção\n\n1 - Vendas\n2 - Suporte"
    row = extra["sections"][0]["rows"][1]["rowId"]
    engine.deliver(engine.message(c, type="list_reply", body="Suporte", selected_id=row))
    t = engine.tickets()[0]
    assert t.queue_id == b.id and engine.sent(t)[-1].body == "Suporte!"


def test_list_menu_accepts_the_typed_number_too(engine, factory):
    engine.settings(chatbot_type="list")
    a, b = factory.queue(name="Vendas", bot_order=1), factory.queue(name="Suporte", bot_order=2)
    c = factory.connection(queues=[a, b])
    engine.deliver(engine.message(c))
    engine.deliver(engine.message(c, body="1"))
    assert engine.tickets()[0].queue_id == a.id


def test_a_list_reply_for_a_queue_of_another_connection_is_invalid(engine, factory):
    a, b, other = factory.queue(), factory.queue(), factory.queue()
    c = factory.connection(queues=[a, b])
    engine.deliver(engine.message(c))
    engine.deliver(engine.message(c, type="list_reply", body="x", selected_id=f"queue:{other.id}"))
    t = engine.tickets()[0]
    assert t.queue_id is None and len(engine.sent(t)) == 2


def test_no_queue_leaves_the_ticket_without_queue(engine, factory):
    c = factory.connection(queues=[], greeting_message="Olá {{nome}}")
    engine.deliver(engine.message(c, name="Maria"))
    t = engine.tickets()[0]
    assert t.queue_id is None and not t.awaiting_menu
    assert [m.body for m in engine.sent(t)] == ["Olá Maria"]
    engine.deliver(engine.message(c, body="1"))
    assert engine.tickets()[0].queue_id is None and len(engine.sent(t)) == 1


def test_a_connection_without_greeting_sends_the_menu_alone(engine, factory):
    engine.settings(chatbot_type="text")
    a, b = factory.queue(name="Vendas", bot_order=1), factory.queue(name="Suporte", bot_order=2)
    c = factory.connection(queues=[a, b], greeting_message="")
    engine.deliver(engine.message(c))
    [menu] = engine.sent(engine.tickets()[0])
    assert menu.type == "text" and menu.body == "1 - Vendas\n2 - Suporte"


def test_a_list_menu_without_greeting_still_has_a_text(engine, factory):
    engine.settings(chatbot_type="list")
    a, b = factory.queue(name="Vendas", bot_order=1), factory.queue(name="Suporte", bot_order=2)
    c = factory.connection(queues=[a, b], greeting_message="")
    engine.deliver(engine.message(c))
    [menu] = engine.sent(engine.tickets()[0])
    assert menu.type == "list" and menu.body == "Escolha uma opção:"
    assert json.loads(menu.extra)["fallback"] == "1 - Vendas\n2 - Suporte"


def test_a_number_followed_by_a_dot_or_parenthesis_picks_the_queue(engine, factory):
    a, b = factory.queue(name="Vendas", bot_order=1), factory.queue(name="Suporte", bot_order=2)
    c = factory.connection(queues=[a, b])
    engine.deliver(engine.message(c))
    engine.deliver(engine.message(c, body="2."))
    assert engine.tickets()[0].queue_id == b.id
    engine.deliver(engine.message(c, phone="5511900002222"))
    engine.deliver(engine.message(c, phone="5511900002222", body="1)"))
    assert engine.tickets()[-1].queue_id == a.id


def test_choosing_a_queue_without_greeting_sends_nothing_more(engine, factory):
    a, b = factory.queue(name="Vendas", bot_order=1), factory.queue(name="Suporte", bot_order=2, greeting_message="")
    c = factory.connection(queues=[a, b], greeting_message="Escolha")
    engine.deliver(engine.message(c))
    engine.deliver(engine.message(c, body="2"))
    t = engine.tickets()[0]
    assert t.queue_id == b.id and len(engine.sent(t)) == 1


def test_one_queue_without_greeting_sends_the_connection_greeting(engine, factory):
    q = factory.queue(greeting_message="")
    c = factory.connection(queues=[q], greeting_message="Olá {{nome}}")
    engine.deliver(engine.message(c, name="Maria"))
    t = engine.tickets()[0]
    assert t.queue_id == q.id and [m.body for m in engine.sent(t)] == ["Olá Maria"]


def test_a_customer_in_the_menu_when_the_connection_loses_its_queues(engine, factory, db):
    """Conexões › Filas changed while a customer was in the menu: with no queue left, every reply got
    "Opção inválida. Escolha uma das opções abaixo:" over an empty list, for ever; with one left,
    anything but "1" did too. Now the menu ends as a new conversation would start: no queue (staff
    see it), or the only queue with its greeting."""
    from app.services import connections

    a = factory.queue(name="Vendas", bot_order=1, greeting_message="Vendas aqui, {{nome}}")
    b = factory.queue(name="Suporte", bot_order=2)
    c = factory.connection(queues=[a, b], greeting_message="Escolha")
    engine.deliver(engine.message(c, phone="5511911110001", name="Maria"))
    engine.deliver(engine.message(c, phone="5511911110002", name="João"))
    maria, joao = engine.tickets()
    assert maria.awaiting_menu and joao.awaiting_menu
    connections.update(c.id, {"queues": [a.id]})
    engine.deliver(engine.message(c, phone="5511911110001", body="quero comprar"))
    maria = engine.tickets()[0]
    assert maria.queue_id == a.id and not maria.awaiting_menu and maria.status == TicketStatus.PENDING
    assert engine.sent(maria)[-1].body == "Vendas aqui, Maria"
    connections.update(c.id, {"queues": []})
    engine.deliver(engine.message(c, phone="5511911110002", body="2"))
    joao = engine.tickets()[1]
    assert joao.queue_id is None and not joao.awaiting_menu and joao.status == TicketStatus.PENDING
    assert len(engine.sent(joao)) == 1  # the first menu only: no "Opção inválida"
    engine.deliver(engine.message(c, phone="5511911110002", body="alô?"))
    assert len(engine.sent(joao)) == 1


def test_a_number_means_what_the_menu_sent_said_after_the_queues_change(engine, factory, db):
    """Maria got "1 - Vendas, 2 - Suporte, 3 - Financeiro"; meanwhile an admin put Financeiro
    first and took Vendas off the connection. Her "2" is still Suporte (before: the current order
    decided, and it was Vendas's successor), her "1" chose a queue that is gone: the new menu."""
    vendas = factory.queue(name="Vendas", bot_order=1)
    suporte = factory.queue(name="Suporte", bot_order=2)
    financeiro = factory.queue(name="Financeiro", bot_order=3)
    c = factory.connection(queues=[vendas, suporte, financeiro], greeting_message="Escolha")
    engine.deliver(engine.message(c, name="Maria", phone="5511955550001"))
    engine.deliver(engine.message(c, name="João", phone="5511955550002"))
    financeiro.bot_order = 0
    c.queues = [suporte, financeiro]
    db.session.commit()
    engine.deliver(engine.message(c, name="Maria", phone="5511955550001", body="2"))
    engine.deliver(engine.message(c, name="João", phone="5511955550002", body="1"))
    maria, joao = engine.tickets()
    assert maria.queue_id == suporte.id and not maria.awaiting_menu
    assert joao.queue_id is None and joao.awaiting_menu
    assert engine.sent(joao)[-1].body.endswith("1 - Financeiro\n2 - Suporte")
    engine.deliver(engine.message(c, name="João", phone="5511955550002", body="1"))  # the new menu's 1
    assert engine.tickets()[1].queue_id == financeiro.id


@pytest.mark.parametrize("reply", ["text", "list"])
def test_a_deleted_queue_on_the_menu_sent_chooses_nothing_even_when_its_id_comes_back(engine, factory, db, reply):
    """Maria got "1 - Vendas, 2 - Promoção"; an admin deleted Promoção and made Cobrança, which
    SQLite numbers with Promoção's id (the highest id is given again once its row is gone). Her
    "2" (or the list row she taps) was Promoção: it must not put her in Cobrança, a queue she was
    never offered; she gets the menu again, and Cobrança is chosen only by its name."""
    from app.services import queues

    engine.settings(chatbot_type="text" if reply == "text" else "list")
    vendas = factory.queue(name="Vendas", bot_order=1)
    promocao = factory.queue(name="Promoção", bot_order=2)
    c = factory.connection(queues=[vendas, promocao], greeting_message="Escolha")
    engine.deliver(engine.message(c, name="Maria", phone="5511955550001"))
    gone = promocao.id
    queues.delete(gone)
    cobranca = factory.queue(name="Cobrança", bot_order=2, id=gone)  # what SQLite does by itself
    c.queues = [vendas, cobranca]
    db.session.commit()
    if reply == "text":
        engine.deliver(engine.message(c, name="Maria", phone="5511955550001", body="2"))
    else:
        engine.deliver(engine.message(c, name="Maria", phone="5511955550001", type="list_reply",
                                      body="Promoção", selected_id=f"queue:{gone}"))
    maria = engine.tickets()[0]
    assert maria.queue_id is None and maria.awaiting_menu
    engine.deliver(engine.message(c, name="Maria", phone="5511955550001", body="cobrança"))
    assert engine.tickets()[0].queue_id == cobranca.id
