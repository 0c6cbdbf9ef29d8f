"""Ratings: the message from the template, the answer stored against ticket and agent, anything
else handled as a new message, mandatory rating, external URL, expiry."""
import datetime as dt

import pytest

from app.models import Rating, RatingOption, RatingTemplate, TicketStatus, utcnow
from app.services import DomainError, tickets


@pytest.fixture
def rated(engine, factory):
    q = factory.queue(name="Suporte")
    c = factory.connection(queues=[q])
    agent = factory.member(queues=[q], name="Ana")
    template = RatingTemplate(name="Padrão", message="{{nome}}, avalie o atendimento de {{atendente}}:")
    template.options = [RatingOption(value=1, label="Insatisfeito"), RatingOption(value=2, label="Satisfeito"),
                        RatingOption(value=3, label="Muito satisfeito")]
    engine.db.session.add(template)
    engine.db.session.commit()
    engine.settings(send_ratings=True)
    engine.deliver(engine.message(c, name="Maria"))
    ticket = engine.tickets()[0]
    tickets.accept(agent, ticket.id)
    engine.db.session.commit()
    return type("R", (), {"q": q, "c": c, "agent": agent, "template": template, "ticket": ticket})()


def test_close_with_rating_sends_the_template_with_its_options(engine, rated):
    tickets.close(rated.agent, rated.ticket.id, rating_template_id=rated.template.id)
    engine.db.session.commit()
    t = engine.tickets()[0]
    assert t.status == TicketStatus.CLOSED and t.awaiting_rating and t.rating_template_id == rated.template.id
    assert engine.sent(t)[-1].body == (
        "Maria, avalie o atendimento de Ana:\n\n1 - Insatisfeito\n2 - Satisfeito\n3 - Muito satisfeito")


@pytest.mark.parametrize("reply,value", [
    ("2", 2), (" 3 ", 3), ("muito satisfeito", 3), ("1.", 1),
    # the whole line as the rating message showed it, copied or typed
    ("3 - Muito satisfeito", 3), ("3 – muito satisfeito", 3), ("3-Muito Satisfeito!", 3), ("2. Satisfeito", 2),
    ("MUITO SATISFEITO!!", 3), ("Insatisféito", 1),
])
def test_a_matching_reply_is_stored_against_ticket_and_agent(engine, rated, reply, value):
    tickets.close(rated.agent, rated.ticket.id, rating_template_id=rated.template.id)
    engine.db.session.commit()
    assert engine.deliver(engine.message(rated.c, body=reply)) == "rating"
    rating = engine.db.session.query(Rating).one()
    assert (rating.ticket_id, rating.user_id, rating.value, rating.template_id) == (
        rated.ticket.id, rated.agent.id, value, rated.template.id)
    assert len(engine.tickets()) == 1 and not engine.tickets()[0].awaiting_rating
    # the next message is a new conversation
    engine.deliver(engine.message(rated.c, body="2"))
    assert engine.db.session.query(Rating).count() == 1 and len(engine.tickets()) == 2


def test_a_rating_keeps_the_queue_it_was_given_in(engine, factory, rated):
    """Reopened and transferred after the answer, the ticket changes queue; the rating does not
    (Avaliações recebidas listed it under the ticket's queue of now)."""
    other = factory.queue(name="Financeiro")
    tickets.close(rated.agent, rated.ticket.id, rating_template_id=rated.template.id)
    engine.db.session.commit()
    assert engine.deliver(engine.message(rated.c, body="3")) == "rating"
    tickets.reopen(rated.agent, rated.ticket.id)
    tickets.transfer(rated.agent, rated.ticket.id, queue_id=other.id)
    engine.db.session.commit()
    engine.db.session.expire_all()
    assert engine.tickets()[0].queue_id == other.id
    assert engine.db.session.query(Rating).one().queue_id == rated.q.id


def test_a_list_reply_rating(engine, rated):
    tickets.close(rated.agent, rated.ticket.id, rating_template_id=rated.template.id)
    engine.db.session.commit()
    engine.deliver(engine.message(rated.c, type="list_reply", body="Satisfeito", selected_id="rating:2"))
    assert engine.db.session.query(Rating).one().value == 2


@pytest.mark.parametrize("reply", ["3 meses esperando", "2 - Insatisfeito", "muito", "3 - Satisfeito demais"])
def test_a_reply_that_only_looks_like_an_option_is_not_a_rating(engine, rated, reply):
    """A number followed by other words, or a number and another option's label, chose nothing."""
    tickets.close(rated.agent, rated.ticket.id, rating_template_id=rated.template.id)
    engine.db.session.commit()
    assert engine.deliver(engine.message(rated.c, body=reply)) == "created"
    assert engine.db.session.query(Rating).count() == 0


def test_anything_else_ends_the_wait_and_is_a_new_message(engine, rated):
    tickets.close(rated.agent, rated.ticket.id, rating_template_id=rated.template.id)
    engine.db.session.commit()
    assert engine.deliver(engine.message(rated.c, body="9")) == "created"
    assert engine.db.session.query(Rating).count() == 0
    old, new = engine.tickets()
    assert not old.awaiting_rating and old.status == TicketStatus.CLOSED
    assert new.status == TicketStatus.PENDING and new.last_message == "9"


def test_rating_wait_expires(engine, rated):
    from app.services import ratings

    engine.settings(rating_expiry_minutes=10)
    tickets.close(rated.agent, rated.ticket.id, rating_template_id=rated.template.id)
    engine.db.session.commit()
    assert not ratings.expire_ratings(utcnow() + dt.timedelta(minutes=9))
    changes = ratings.expire_ratings(utcnow() + dt.timedelta(minutes=11))
    engine.db.session.commit()
    assert not engine.tickets()[0].awaiting_rating
    # The screens showing it "Aguardando avaliação" hear that the wait ended.
    [event] = changes.events()
    assert event.name == "ticket" and event.data["ticket"]["id"] == rated.ticket.id
    assert event.data["ticket"]["awaiting_rating"] is False and event.rooms
    engine.deliver(engine.message(rated.c, body="2"))
    assert engine.db.session.query(Rating).count() == 0 and len(engine.tickets()) == 2


def test_an_expired_wait_is_not_a_rating_even_before_the_job_runs(engine, rated):
    tickets.close(rated.agent, rated.ticket.id, rating_template_id=rated.template.id,
                  now=utcnow() - dt.timedelta(days=1))
    engine.db.session.commit()
    engine.deliver(engine.message(rated.c, body="2"))
    assert engine.db.session.query(Rating).count() == 0


def test_expire_ratings_job(engine, rated, monkeypatch):
    from app.workers import jobs

    published = []
    monkeypatch.setattr(jobs, "publish", lambda changes: published.extend(changes.events()))
    tickets.close(rated.agent, rated.ticket.id, rating_template_id=rated.template.id,
                  now=utcnow() - dt.timedelta(days=1))
    engine.db.session.commit()
    assert jobs.expire_ratings() == 1
    assert not engine.tickets()[0].awaiting_rating
    assert [(e.name, e.data["ticket"]["awaiting_rating"]) for e in published] == [("ticket", False)]


def test_mandatory_rating_without_a_template_refuses_to_close(engine, rated):
    engine.settings(rating_required=True, default_rating_template_id=None)
    with pytest.raises(DomainError) as err:
        tickets.close(rated.agent, rated.ticket.id)
    assert err.value.status == 422 and "obrigatório avaliar" in err.value.message
    engine.db.session.rollback()
    assert engine.tickets()[0].status == TicketStatus.OPEN


def test_mandatory_rating_uses_the_default_template(engine, rated):
    engine.settings(rating_required=True, default_rating_template_id=rated.template.id)
    tickets.close(rated.agent, rated.ticket.id)
    engine.db.session.commit()
    t = engine.tickets()[0]
    assert t.awaiting_rating and "1 - Insatisfeito" in engine.sent(t)[-1].body


def test_rating_refused_when_ratings_are_off(engine, rated):
    engine.settings(send_ratings=False, rating_required=False)
    with pytest.raises(DomainError, match="desativadas"):
        tickets.close(rated.agent, rated.ticket.id, rating_template_id=rated.template.id)


def test_external_rating_sends_the_url_instead(engine, rated):
    engine.settings(external_rating=True, external_rating_url="https://avalie.exemplo.com.br/?p={{protocolo}}")
    tickets.close(rated.agent, rated.ticket.id, rating_template_id=rated.template.id)
    engine.db.session.commit()
    t = engine.tickets()[0]
    assert engine.sent(t)[-1].body == f"https://avalie.exemplo.com.br/?p={t.id}"
    assert not t.awaiting_rating


def test_external_mandatory_rating_closes_without_a_template(engine, rated):
    engine.settings(rating_required=True, external_rating=True, external_rating_url="https://avalie.exemplo.com.br")
    tickets.close(rated.agent, rated.ticket.id)
    engine.db.session.commit()
    assert engine.sent(engine.tickets()[0])[-1].body == "https://avalie.exemplo.com.br"


def test_with_rating_asks_for_the_rating_without_naming_a_template(engine, rated):
    """The chat's "send the external rating link" (with_rating): the link needs no rating template,
    so it is sent even when Avaliações has none; without the external rating, the default rating."""
    engine.settings(external_rating=True, external_rating_url="https://avalie.exemplo.com.br/?p={{protocolo}}",
                    default_rating_template_id=None)
    tickets.close(rated.agent, rated.ticket.id, with_rating=True)
    engine.db.session.commit()
    t = engine.tickets()[0]
    assert t.status == TicketStatus.CLOSED and engine.sent(t)[-1].body == f"https://avalie.exemplo.com.br/?p={t.id}"

    tickets.reopen(rated.agent, t.id)
    engine.settings(external_rating=False, default_rating_template_id=rated.template.id)
    tickets.close(rated.agent, t.id, with_rating=True)
    engine.db.session.commit()
    t = engine.tickets()[0]
    assert t.awaiting_rating and "1 - Insatisfeito" in engine.sent(t)[-1].body

    tickets.reopen(rated.agent, t.id)
    engine.settings(send_ratings=False)
    n = len(engine.sent(t))
    with pytest.raises(DomainError, match="desativadas"):
        tickets.close(rated.agent, t.id, with_rating=True)
    engine.db.session.rollback()
    assert engine.tickets()[0].status == TicketStatus.OPEN and len(engine.sent(t)) == n


def test_a_group_is_never_asked_for_a_rating(engine, rated):
    """In a group anyone may type a number, and no one answers for the group: a group ticket is not
    asked for a rating (it was, and the wait could never end with an answer); with ratings required
    it closes without one. The group's next message opens a new ticket as usual."""
    engine.settings(ignore_group_messages=False, group_actions=True)
    engine.deliver(engine.group_message(rated.c, body="Oi"))
    group = [t for t in engine.tickets() if t.is_group][0]
    tickets.accept(rated.agent, group.id)
    engine.db.session.commit()
    n = len(engine.sent(group))
    for asked in ({"rating_template_id": rated.template.id}, {"with_rating": True}):
        with pytest.raises(DomainError, match="Grupos não recebem avaliação"):
            tickets.close(rated.agent, group.id, **asked)
        engine.db.session.rollback()
        assert engine.db.session.get(type(group), group.id).status == TicketStatus.OPEN
    assert len(engine.sent(group)) == n
    engine.settings(rating_required=True, default_rating_template_id=rated.template.id)
    tickets.close(rated.agent, group.id)
    engine.db.session.commit()
    closed = engine.db.session.get(type(group), group.id)
    assert closed.status == TicketStatus.CLOSED and not closed.awaiting_rating
    assert "avalie" not in " ".join(m.body or "" for m in engine.sent(closed))
    assert engine.deliver(engine.group_message(rated.c, body="2")) == "created"
    assert engine.db.session.query(Rating).count() == 0
    tickets.close(rated.agent, rated.ticket.id)  # a person's ticket is still asked for one
    engine.db.session.commit()
    assert engine.db.session.get(type(group), rated.ticket.id).awaiting_rating


def test_reopening_ends_the_rating_wait(engine, rated):
    tickets.close(rated.agent, rated.ticket.id, rating_template_id=rated.template.id)
    tickets.reopen(rated.agent, rated.ticket.id)
    engine.settings(send_ratings=False)
    tickets.close(rated.agent, rated.ticket.id)  # closed again, this time without a rating
    engine.db.session.commit()
    t = engine.tickets()[0]
    assert not t.awaiting_rating and t.rating_expires_at is None
    assert engine.deliver(engine.message(rated.c, body="2")) == "created"
    assert engine.db.session.query(Rating).count() == 0


def test_reopening_an_earlier_conversation_ends_the_wait_of_a_later_one(engine, rated):
    """The customer's latest conversation waits for its rating when an agent reopens an earlier
    one with them: what the customer writes now belongs to the reopened conversation (as after a
    Nova conversa), not taken as the other's rating ("2 unidades" is no "Satisfeito")."""
    from app.models import Message

    first = rated.ticket
    tickets.close(rated.agent, first.id)
    engine.db.session.commit()
    engine.deliver(engine.message(rated.c, name="Maria", body="outro assunto"))
    later = engine.tickets()[-1]
    tickets.accept(rated.agent, later.id)
    tickets.close(rated.agent, later.id, rating_template_id=rated.template.id)
    engine.db.session.commit()
    assert engine.tickets()[-1].awaiting_rating
    tickets.reopen(rated.agent, first.id)
    engine.db.session.commit()
    assert engine.deliver(engine.message(rated.c, name="Maria", body="2")) == "appended"
    engine.db.session.expire_all()
    assert engine.count(Rating) == 0
    assert not engine.tickets()[-1].awaiting_rating
    assert engine.db.session.query(Message).filter_by(ticket_id=first.id, body="2").count() == 1


def test_a_rating_keeps_its_agents_name_after_the_member_is_deleted(app, engine, rated):
    """QA: deleting a member set their ratings' agent to nobody (the foreign key's SET NULL), and
    Avaliações recebidas showed "—" where the agent had been. The rating keeps the name."""
    from app.services import team
    from tests.conftest import ADMIN_EMAIL, login

    tickets.close(rated.agent, rated.ticket.id, rating_template_id=rated.template.id)
    engine.db.session.commit()
    assert engine.deliver(engine.message(rated.c, body="3")) == "rating"
    team.delete(rated.agent.id)
    engine.db.session.commit()
    engine.db.session.expire_all()
    rating = engine.db.session.query(Rating).one()
    assert rating.user_id is None and rating.agent == "Ana"
    client = app.test_client()
    login(client, ADMIN_EMAIL)
    page = client.get("/received-ratings/list/").get_data(as_text=True)
    row = page[page.index("Muito satisfeito"):]
    assert "Ana" in row[:row.index("</tr>")]
