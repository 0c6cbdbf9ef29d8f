"""Two members acting on one ticket at the same moment (two web processes, or two clicks): the
first one wins and the other is refused, on PostgreSQL (row locks) and on SQLite (no row locks:
the compare-and-set UPDATE decides). Real threads, each with its own database session and
connection, released together; repeated so that a lost race shows."""
import pytest

from app.models import Member, Message, TicketStatus
from app.services import DomainError, tickets
from tests.engine.test_concurrency_and_crash import _in_threads

ROUNDS = 12


@pytest.fixture
def team(engine, factory):
    q = factory.queue(name="Suporte")
    c = factory.connection(queues=[q], completion_message="Até logo")
    engine.settings(operator_greeting=True, operator_greeting_text="Olá, sou {{atendente}}")
    t = type("Team", (), {})()
    t.c = c
    t.ana = factory.member(queues=[q], name="Ana").id
    t.bia = factory.member(queues=[q], name="Bia").id
    t.sup = factory.member(profile="supervisor", name="Sueli").id
    return t


def _race(app, action, members, ticket_id):
    """`action(member, ticket_id)` by each member at once, each committing its own work; the
    answers in order: "ok" or the refusal's message (anything else fails the test)."""
    from app.models import db

    def work(i):
        member = db.session.get(Member, members[i])
        try:
            action(member, ticket_id)
            db.session.commit()
            return "ok"
        except DomainError as refusal:
            db.session.rollback()
            return refusal.message

    return _in_threads(app, len(members), work)


def _ticket(engine, team, n, prepare=None):
    """A fresh pending ticket of contact n (then `prepare(ticket_id)` by the test, committed)."""
    engine.deliver(engine.message(team.c, phone=f"55119{n:08d}", name=f"Cliente {n}"))
    ticket = engine.tickets()[-1]
    if prepare:
        prepare(ticket.id)
        engine.db.session.commit()
        engine.db.session.expire_all()
    return ticket.id


def _member(engine, member_id):
    return engine.db.session.get(Member, member_id)


def _automatic(engine, ticket_id, body):
    engine.db.session.expire_all()
    return engine.db.session.query(Message).filter_by(ticket_id=ticket_id, from_me=True, body=body).count()


def test_two_agents_accepting_one_pending_ticket_at_once(engine, team, app):
    for n in range(ROUNDS):
        ticket_id = _ticket(engine, team, n)
        answers = _race(app, tickets.accept, [team.ana, team.bia], ticket_id)
        assert sorted(answers) == ["Este ticket já está em atendimento.", "ok"], answers
        winner = [team.ana, team.bia][answers.index("ok")]
        [ticket] = [t for t in engine.tickets() if t.id == ticket_id]
        assert (ticket.status, ticket.user_id) == (TicketStatus.OPEN, winner)
        greeting = "Olá, sou " + _member(engine, winner).name
        assert _automatic(engine, ticket_id, greeting) == 1  # one greeting, from the winner
        assert engine.db.session.query(Message).filter(Message.ticket_id == ticket_id,
                                                       Message.from_me.is_(True)).count() == 1


def test_two_members_closing_one_ticket_at_once(engine, team, app):
    for n in range(ROUNDS):
        ticket_id = _ticket(engine, team, n, lambda tid: tickets.accept(_member(engine, team.ana), tid))
        answers = _race(app, tickets.close, [team.ana, team.sup], ticket_id)
        assert sorted(answers) == ["Este ticket já está resolvido.", "ok"], answers
        assert engine.tickets(id=ticket_id)[0].status == TicketStatus.CLOSED
        assert _automatic(engine, ticket_id, "Até logo") == 1  # one farewell


def test_two_members_reopening_one_ticket_at_once(engine, team, app):
    def closed(tid):
        tickets.accept(_member(engine, team.ana), tid)
        tickets.close(_member(engine, team.ana), tid)

    for n in range(ROUNDS):
        ticket_id = _ticket(engine, team, n, closed)
        answers = _race(app, tickets.reopen, [team.ana, team.sup], ticket_id)
        assert sorted(answers) == ["Só um ticket resolvido pode ser reaberto.", "ok"], answers
        [ticket] = engine.tickets(id=ticket_id)
        assert (ticket.status, ticket.user_id, ticket.closed_at) == (TicketStatus.OPEN, team.ana, None)


def test_two_members_returning_one_ticket_to_pending_at_once(engine, team, app):
    for n in range(ROUNDS):
        ticket_id = _ticket(engine, team, n, lambda tid: tickets.accept(_member(engine, team.ana), tid))
        answers = _race(app, tickets.return_to_pending, [team.ana, team.sup], ticket_id)
        assert sorted(answers) == ["Só um ticket em atendimento pode voltar para aguardando.", "ok"], answers
        [ticket] = engine.tickets(id=ticket_id)
        assert (ticket.status, ticket.user_id) == (TicketStatus.PENDING, None)


def test_two_supervisors_transferring_one_ticket_to_the_same_agent_at_once(engine, team, factory, app):
    other = factory.member(profile="supervisor", name="Sara").id
    for n in range(ROUNDS):
        ticket_id = _ticket(engine, team, n)
        answers = _race(app, lambda member, tid: tickets.transfer(member, tid, user_id=team.bia),
                        [team.sup, other], ticket_id)
        assert sorted(answers) == ["O ticket já está nesse destino.", "ok"], answers
        [ticket] = engine.tickets(id=ticket_id)
        assert (ticket.status, ticket.user_id) == (TicketStatus.OPEN, team.bia)
        lines = engine.db.session.query(Message).filter(Message.ticket_id == ticket_id,
                                                        Message.body.like("Transferido%")).count()
        assert lines == 1
