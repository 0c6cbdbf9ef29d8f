"""Business hours (weekly intervals, midnight, weekday edges, time zones), the out-of-hours
message and its 30-minute rule, Abrir Tickets Fora do Expediente; message templates."""
import datetime as dt

import pytest

from app.models import BusinessHours, TicketStatus
from app.services import hours, templates


def _queue(factory, db, intervals, **kw):
    q = factory.queue(**kw)
    for weekday, start, end in intervals:
        db.session.add(BusinessHours(queue_id=q.id, weekday=weekday, start=dt.time(*start), end=dt.time(*end)))
    db.session.commit()
    db.session.refresh(q)
    return q


# 2026-11-23 is a Monday. São Paulo is UTC-3 (no daylight saving time since 2019).
def sp(day, hour, minute=0):
    """A São Paulo local time on 2026-11-<day>, as naive UTC."""
    return dt.datetime(2026, 11, day, hour, minute) + dt.timedelta(hours=3)


SP = "America/Sao_Paulo"


def test_weekday_interval_edges(factory, db):
    q = _queue(factory, db, [(0, (8, 0), (18, 0))])  # Monday 08:00–18:00
    assert not hours.is_open(q, sp(23, 7, 59), SP)
    assert hours.is_open(q, sp(23, 8, 0), SP)
    assert hours.is_open(q, sp(23, 17, 59), SP)
    assert not hours.is_open(q, sp(23, 18, 0), SP)  # the end is excluded
    assert not hours.is_open(q, sp(24, 9, 0), SP)  # Tuesday: no interval


def test_several_intervals_on_one_day(factory, db):
    q = _queue(factory, db, [(0, (8, 0), (12, 0)), (0, (14, 0), (18, 0))])
    assert hours.is_open(q, sp(23, 11, 0), SP)
    assert not hours.is_open(q, sp(23, 13, 0), SP)
    assert hours.is_open(q, sp(23, 15, 0), SP)


def test_interval_across_midnight(factory, db):
    q = _queue(factory, db, [(4, (22, 0), (2, 0))])  # Friday 22:00 – Saturday 02:00
    assert not hours.is_open(q, sp(27, 21, 59), SP)
    assert hours.is_open(q, sp(27, 22, 0), SP)  # the start is included
    assert hours.is_open(q, sp(27, 23, 30), SP)
    assert hours.is_open(q, sp(28, 1, 59), SP)  # Saturday early morning
    assert not hours.is_open(q, sp(28, 2, 0), SP)
    assert not hours.is_open(q, sp(28, 23, 0), SP)  # Saturday night is not Friday night
    assert not hours.is_open(q, sp(24, 1, 0), SP)  # another weekday's early morning


def test_sunday_night_runs_into_monday(factory, db):
    q = _queue(factory, db, [(6, (20, 0), (1, 0))])  # Sunday 20:00 – Monday 01:00
    assert hours.is_open(q, sp(29, 21, 0), SP)  # Sunday
    assert hours.is_open(q, sp(30, 0, 30), SP)  # Monday 00:30
    assert not hours.is_open(q, sp(30, 1, 0), SP)


def test_midnight_to_midnight_is_the_whole_day(factory, db):
    q = _queue(factory, db, [(0, (0, 0), (0, 0))])  # Monday 00:00–00:00 (what the queue screen offers)
    assert hours.is_open(q, sp(23, 0, 0), SP)
    assert hours.is_open(q, sp(23, 12, 0), SP)
    assert hours.is_open(q, sp(23, 23, 59), SP)
    assert not hours.is_open(q, sp(22, 23, 59), SP)  # Sunday
    assert not hours.is_open(q, sp(24, 0, 0), SP)  # Tuesday


def test_the_configured_time_zone_decides(factory, db):
    q = _queue(factory, db, [(0, (8, 0), (18, 0))])
    moment = dt.datetime(2026, 11, 23, 12, 0)  # Monday 12:00 UTC = 09:00 in São Paulo = 21:00 in Tokyo
    assert hours.is_open(q, moment, SP)
    assert not hours.is_open(q, moment, "Asia/Tokyo")
    assert not hours.is_open(q, moment, "America/Los_Angeles")  # 04:00 there
    # Monday 02:00 UTC is still Sunday 23:00 in São Paulo
    assert not hours.is_open(q, dt.datetime(2026, 11, 23, 2, 0), SP)
    assert hours.is_open(q, dt.datetime(2026, 11, 23, 2, 0), "Asia/Tokyo")  # Monday 11:00 there


def test_aware_moments_are_read_in_their_own_zone(factory, db):
    """Naive means UTC; an aware moment keeps its zone (hours and the 30-minute rule alike)."""
    from zoneinfo import ZoneInfo

    q = _queue(factory, db, [(0, (8, 0), (18, 0))])
    assert hours.is_open(q, dt.datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo(SP)), SP)  # Monday 09:00 there
    assert not hours.is_open(q, dt.datetime(2026, 11, 23, 7, 0, tzinfo=ZoneInfo(SP)), SP)
    contact = type("C", (), {"out_of_hours_sent_at": dt.datetime(2026, 11, 23, 12, 0)})()  # naive UTC, as stored
    assert not hours.may_send_out_of_hours(contact, dt.datetime(2026, 11, 23, 9, 29, tzinfo=ZoneInfo(SP)))
    assert hours.may_send_out_of_hours(contact, dt.datetime(2026, 11, 23, 9, 30, tzinfo=ZoneInfo(SP)))
    # Per message too: noted at an aware moment, read against naive UTC and aware ones alike.
    contact = type("C", (), {"out_of_hours_sent_at": None, "out_of_hours_sent": None})()
    hours.note_out_of_hours(contact, dt.datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo(SP)), "queue:1")
    assert not hours.may_send_out_of_hours(contact, dt.datetime(2026, 11, 23, 12, 29), "queue:1")
    assert hours.may_send_out_of_hours(contact, dt.datetime(2026, 11, 23, 12, 29), "queue:2")
    assert hours.may_send_out_of_hours(contact, dt.datetime(2026, 11, 23, 9, 30, tzinfo=ZoneInfo(SP)), "queue:1")


def test_a_queue_without_intervals_is_always_open(factory, db):
    assert hours.is_open(factory.queue(), sp(29, 3, 0), SP)


def _out_of_hours_setup(engine, factory, db, open_out_of_hours=True):
    engine.settings(business_hours=True, open_tickets_out_of_hours=open_out_of_hours, timezone=SP)
    q = _queue(factory, db, [(0, (8, 0), (18, 0))], greeting_message="Bem-vindo",
               out_of_hours_message="Fora do expediente, {{nome}}")
    return q, factory.connection(queues=[q])


def test_out_of_hours_message_then_ticket_stays_pending(engine, factory, db):
    q, c = _out_of_hours_setup(engine, factory, db)
    engine.deliver(engine.message(c, name="Maria"), now=sp(23, 20, 0))
    t = engine.tickets()[0]
    assert t.status == TicketStatus.PENDING and t.queue_id == q.id
    assert [m.body for m in engine.sent(t)] == ["Fora do expediente, Maria"]


def test_in_hours_no_out_of_hours_message(engine, factory, db):
    q, c = _out_of_hours_setup(engine, factory, db)
    engine.deliver(engine.message(c), now=sp(23, 10, 0))
    assert [m.body for m in engine.sent(engine.tickets()[0])] == ["Bem-vindo"]


def test_business_hours_off_ignores_the_intervals(engine, factory, db):
    q, c = _out_of_hours_setup(engine, factory, db)
    engine.settings(business_hours=False)
    engine.deliver(engine.message(c), now=sp(23, 20, 0))
    assert [m.body for m in engine.sent(engine.tickets()[0])] == ["Bem-vindo"]


def test_out_of_hours_message_at_most_once_per_30_minutes_per_contact(engine, factory, db):
    q, c = _out_of_hours_setup(engine, factory, db)
    engine.deliver(engine.message(c), now=sp(23, 20, 0))
    engine.deliver(engine.message(c), now=sp(23, 20, 10))
    engine.deliver(engine.message(c), now=sp(23, 20, 29))
    t = engine.tickets()[0]
    assert len(engine.sent(t)) == 1
    engine.deliver(engine.message(c), now=sp(23, 20, 31))
    assert len(engine.sent(t)) == 2
    # another contact gets its own message at once
    engine.deliver(engine.message(c, phone="5511900001111"), now=sp(23, 20, 32))
    other = engine.tickets()[-1]
    assert other.id != t.id and len(engine.sent(other)) == 1


def test_out_of_hours_with_open_tickets_off_closes_the_ticket(engine, factory, db):
    q, c = _out_of_hours_setup(engine, factory, db, open_out_of_hours=False)
    engine.deliver(engine.message(c), now=sp(23, 20, 0))
    t = engine.tickets()[0]
    assert t.status == TicketStatus.CLOSED and t.closed_at is not None
    assert [m.body for m in engine.sent(t)] == ["Fora do expediente, Maria"]
    # 5 minutes later: a new ticket, closed again, the message not repeated
    engine.deliver(engine.message(c), now=sp(23, 20, 5))
    tickets = engine.tickets()
    assert len(tickets) == 2 and tickets[1].status == TicketStatus.CLOSED and engine.sent(tickets[1]) == []


def test_another_departments_out_of_hours_message_goes_within_the_30_minutes(engine, factory, db):
    """Open Tickets Out of Hours off: the customer chose Suporte (closed), got its message, the
    ticket closed; writing again, they chose Financeiro (closed too, its own message) and got
    nothing: the ticket closed in silence (found in QA). The 30-minute rule keeps one message from
    repeating; another department's goes."""
    engine.settings(business_hours=True, open_tickets_out_of_hours=False, timezone=SP)
    week = [(0, (8, 0), (18, 0))]
    suporte = _queue(factory, db, week, name="Suporte", bot_order=1, out_of_hours_message="Suporte fechado")
    financeiro = _queue(factory, db, week, name="Financeiro", bot_order=2, out_of_hours_message="Financeiro fechado")
    vendas = _queue(factory, db, week, name="Vendas", bot_order=3)  # no message of its own
    c = factory.connection(queues=[suporte, financeiro, vendas], greeting_message="Escolha",
                           out_of_hours_message="Estamos fechados")
    sent = []
    for minute, body in ((0, "oi"), (1, "1"), (2, "oi"), (3, "2"), (4, "oi"), (5, "2"), (6, "oi"), (7, "3"),
                         (8, "oi"), (9, "1")):
        engine.deliver(engine.message(c, body=body), now=sp(23, 20, minute))
        if body != "oi":
            sent.append([m.body for m in engine.sent(engine.tickets()[-1])][1:])  # after the menu
    assert sent == [["Suporte fechado"], ["Financeiro fechado"], [], ["Estamos fechados"], []]
    # Each one again once its own 30 minutes are over.
    engine.deliver(engine.message(c, body="oi"), now=sp(23, 20, 31))
    engine.deliver(engine.message(c, body="1"), now=sp(23, 20, 32))
    assert [m.body for m in engine.sent(engine.tickets()[-1])][1:] == ["Suporte fechado"]
    assert {t.status for t in engine.tickets()} == {TicketStatus.CLOSED}


def test_a_ticket_closed_out_of_hours_is_not_left_unread(engine, factory, db):
    """Closed automatically after the out-of-hours message, the conversation asks nobody to act:
    nothing is left unread (as when an agent closes one), in the lists nor in the event they get."""
    from app.models import Ticket
    from app.services import inbox

    q, c = _out_of_hours_setup(engine, factory, db, open_out_of_hours=False)
    engine.deliver(engine.message(c), now=sp(23, 20, 0))
    first = engine.tickets()[0]
    assert (first.status, first.unread_count) == (TicketStatus.CLOSED, 0)
    # The batch path (a drain of the chat's lane) closes the same way.
    payloads = [engine.message(c, body=f"parte {i}") for i in range(2)]
    for payload in payloads:
        inbox.receive(payload)
    taken, changes = inbox.process_batch(inbox.lane_of(payloads[0]), now=sp(23, 20, 5))
    assert taken == 2
    db.session.expire_all()
    later = db.session.query(Ticket).filter(Ticket.id != first.id).all()
    assert [(t.status, t.unread_count) for t in later] == [(TicketStatus.CLOSED, 0)] * 2
    shown = [e.data["ticket"] for e in changes.events() if e.name == "ticket"]
    assert shown and all(t["unread_count"] == 0 for t in shown)


def test_a_ticket_being_handled_gets_no_out_of_hours_message(engine, factory, db):
    """An agent still talking to the customer after hours: the customer's messages reach the agent,
    nothing automatic is sent and the ticket is not closed."""
    from app.services import tickets

    q, c = _out_of_hours_setup(engine, factory, db, open_out_of_hours=False)
    agent = factory.member(queues=[q], name="Ana")
    engine.deliver(engine.message(c), now=sp(23, 17, 50))
    t = engine.tickets()[0]
    tickets.accept(agent, t.id)
    db.session.commit()
    n = len(engine.sent(t))
    engine.deliver(engine.message(c, body="ainda está aí?"), now=sp(23, 18, 30))
    t = engine.tickets()[0]
    assert (t.status, t.user_id, len(engine.sent(t)), t.unread_count) == (TicketStatus.OPEN, agent.id, n, 1)


def test_a_group_gets_no_automatic_message_out_of_hours(engine, factory, db):
    q, c = _out_of_hours_setup(engine, factory, db, open_out_of_hours=False)
    engine.settings(ignore_group_messages=False)
    engine.deliver(engine.group_message(c), now=sp(23, 20, 0))
    engine.deliver(engine.group_message(c, body="alguém?"), now=sp(23, 20, 1))
    [t] = engine.tickets()
    assert (t.is_group, t.queue_id, t.status, engine.sent(t)) == (True, q.id, TicketStatus.PENDING, [])


def test_a_ticket_without_queue_has_no_hours(engine, factory, db):
    engine.settings(business_hours=True, open_tickets_out_of_hours=False, timezone=SP)
    c = factory.connection(queues=[], greeting_message="Olá", out_of_hours_message="Fechado")
    engine.deliver(engine.message(c), now=sp(23, 20, 0))
    assert engine.deliver(engine.message(c, body="oi de novo"), now=sp(23, 20, 1)) == "appended"
    [t] = engine.tickets()
    assert (t.queue_id, t.status, [m.body for m in engine.sent(t)]) == (None, TicketStatus.PENDING, ["Olá"])


def test_out_of_hours_after_the_menu_choice(engine, factory, db):
    engine.settings(business_hours=True, open_tickets_out_of_hours=True, timezone=SP)
    a = _queue(factory, db, [(0, (8, 0), (18, 0))], name="Vendas", bot_order=1, greeting_message="Vendas!")
    b = factory.queue(name="Suporte 24h", bot_order=2, greeting_message="Suporte!")
    c = factory.connection(queues=[a, b], out_of_hours_message="Fechado agora")
    engine.deliver(engine.message(c), now=sp(23, 22, 0))
    engine.deliver(engine.message(c, body="1"), now=sp(23, 22, 1))
    t = engine.tickets()[0]
    assert t.queue_id == a.id
    assert engine.sent(t)[-1].body == "Fechado agora"  # the connection's text when the queue has none


def test_templates_substitute_every_placeholder(engine, factory):
    from types import SimpleNamespace

    contact = SimpleNamespace(name="Maria", phone="5511988887777")
    agent = SimpleNamespace(name="Carlos")
    queue = SimpleNamespace(name="Suporte")
    ticket = SimpleNamespace(protocol="42")
    text = templates.render("{{saudacao}} {{nome}}, sou {{ atendente }} da {{fila}}. Protocolo {{protocolo}}.",
                            contact=contact, agent=agent, queue=queue, ticket=ticket, tz_name=SP,
                            now=dt.datetime(2026, 11, 23, 13, 0))  # 10:00 in São Paulo
    assert text == "Bom dia Maria, sou Carlos da Suporte. Protocolo 42."


NAMELESS = [None, "", "5511999990000", "+55 (11) 99999-0000"]


@pytest.mark.parametrize("name", NAMELESS)
@pytest.mark.parametrize("text,expected", [
    ("Olá {{nome}}", "Olá"),
    ("Olá {{nome}}!", "Olá!"),
    ("Olá, {{nome}}! Tudo bem?", "Olá! Tudo bem?"),
    ("Oi, {{nome}}, tudo bem?", "Oi, tudo bem?"),
    ("{{saudacao}}, {{nome}}. Em que posso ajudar?", "Bom dia. Em que posso ajudar?"),
    ("{{saudacao}} {{ nome }}, sou {{atendente}}.", "Bom dia, sou Carlos."),
    ("Obrigado pelo contato, {{nome}}", "Obrigado pelo contato"),
    ("{{nome}}, seu pedido chegou.", "Seu pedido chegou."),
    ("Olá {{nome}}\n{{nome}}, seu protocolo é 42", "Olá\nSeu protocolo é 42"),
    ("Prezado(a) {{nome}} seu protocolo é 42", "Prezado(a) seu protocolo é 42"),
    ("{{nome}}", ""),
    ("https://pesquisa.exemplo.com/?nome={{nome}}&p={{protocolo}}", "https://pesquisa.exemplo.com/?nome=&p=42"),
])
def test_nome_of_a_contact_without_a_name_is_left_out(name, text, expected):
    """A contact with no WhatsApp name (stored as its number, or empty): {{nome}} is not its
    digits ("Olá 5511999990000") but nothing, and the text around it still reads well."""
    from types import SimpleNamespace

    contact = SimpleNamespace(name=name, phone="5511999990000")
    assert templates.render(text, contact=contact, agent=SimpleNamespace(name="Carlos"),
                            ticket=SimpleNamespace(protocol="42"), tz_name=SP,
                            now=dt.datetime(2026, 11, 23, 13, 0)) == expected


@pytest.mark.parametrize("name", ["Maria", "🌸", "Loja 123"])
def test_nome_of_a_named_contact_is_its_name(name):
    from types import SimpleNamespace

    contact = SimpleNamespace(name=name, phone="5511999990000")
    assert templates.render("Olá, {{nome}}! {{nome}}, tudo bem?", contact=contact) == f"Olá, {name}! {name}, tudo bem?"


def test_a_customer_without_a_whatsapp_name_is_greeted_without_digits(engine, factory):
    q = factory.queue(greeting_message="Olá {{nome}}, seja bem-vindo à {{fila}}!")
    c = factory.connection(queues=[q])
    engine.deliver(engine.message(c, phone="5511999990000", name=""))
    [ticket] = engine.tickets()
    assert ticket.contact.name == "5511999990000"  # the lists still show the number
    assert [m.body for m in engine.sent(ticket)] == [f"Olá, seja bem-vindo à {q.name}!"]


def test_a_capitalised_variable_reaches_the_customer_filled_in(engine, factory):
    """QA's queue greeting: "{{Nome}}" (the name at the start of a sentence) went out as typed while
    "{{ nome }}" was filled in. Both are the customer's name; a customer with no name reads well."""
    q = factory.queue(name="Financeiro", greeting_message="Olá {{Nome}}, {{ nome }}: {{FILA}} aqui.")
    c = factory.connection(queues=[q])
    engine.deliver(engine.message(c, phone="5511999990001", name="Otávio"))
    engine.deliver(engine.message(c, phone="5511999990002", name=""))
    first, second = sorted(engine.tickets(), key=lambda t: t.id)
    assert [m.body for m in engine.sent(first)] == ["Olá Otávio, Otávio: Financeiro aqui."]
    assert [m.body for m in engine.sent(second)] == ["Olá: Financeiro aqui."]


def test_templates_are_never_evaluated():
    evil = "{{__import__('os').system('id')}} {{nome.__class__}} {% for x in y %} {{ 7*7 }} {{desconhecido}}"
    assert templates.render(evil) == evil


@pytest.mark.parametrize("utc_hour,tz,word", [
    (8, SP, "Bom dia"),  # 05:00
    (7, SP, "Boa noite"),  # 04:00
    (14, SP, "Bom dia"),  # 11:00
    (15, SP, "Boa tarde"),  # 12:00
    (20, SP, "Boa tarde"),  # 17:00
    (21, SP, "Boa noite"),  # 18:00
    (21, "UTC", "Boa noite"),
    (21, "Asia/Tokyo", "Bom dia"),  # 06:00 next day
])
def test_saudacao_in_the_configured_zone(utc_hour, tz, word):
    now = dt.datetime(2026, 11, 23, utc_hour, 0)
    assert templates.greeting_word(now, tz) == word
