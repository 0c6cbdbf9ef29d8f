"""visible_tickets: the one rule for who sees which ticket; rooms follow the same rule."""
import pytest

from app.models import Ticket
from app.services import NotFound, visibility


@pytest.fixture
def seen(engine, factory):
    q1, q2 = factory.queue(), factory.queue()
    c1 = factory.connection(queues=[q1])
    c2 = factory.connection(queues=[q2])
    c0 = factory.connection(queues=[])
    engine.deliver(engine.message(c1, phone="5511900000001"))
    engine.deliver(engine.message(c2, phone="5511900000002"))
    engine.deliver(engine.message(c0, phone="5511900000003"))
    t1, t2, t0 = engine.tickets()
    return type("S", (), dict(q1=q1, q2=q2, t1=t1, t2=t2, t0=t0, engine=engine, factory=factory))()


def ids(user):
    from app.models import db

    return {t.id for t in db.session.scalars(visibility.visible_tickets(user))}


def test_a_user_sees_the_tickets_of_their_queues_only(seen, factory):
    u1 = factory.member(queues=[seen.q1])
    both = factory.member(queues=[seen.q1, seen.q2])
    nobody = factory.member(queues=[])
    assert ids(u1) == {seen.t1.id}
    assert ids(both) == {seen.t1.id, seen.t2.id}
    assert ids(nobody) == set()


def test_a_user_sees_tickets_assigned_to_them_outside_their_queues(seen, factory, db):
    u1 = factory.member(queues=[seen.q1])
    seen.t2.user_id = u1.id
    db.session.commit()
    assert ids(u1) == {seen.t1.id, seen.t2.id}


def test_tickets_without_queue_only_for_admins_and_supervisors(seen, factory):
    sup = factory.member(profile="supervisor")
    admin = factory.admin()
    everything = {seen.t0.id, seen.t1.id, seen.t2.id}
    assert ids(sup) == everything and ids(admin) == everything
    with pytest.raises(NotFound):
        visibility.get_visible_ticket(factory.member(queues=[seen.q1, seen.q2]), seen.t0.id)


def test_an_inactive_member_sees_nothing(seen, factory, db):
    u = factory.member(queues=[seen.q1])
    u.active = False
    db.session.commit()
    assert ids(u) == set() and visibility.rooms_for(u) == []


@pytest.mark.parametrize("bad", [None, "abc", "1 OR 1=1", 10**12])
def test_get_visible_ticket_guessing_is_not_found(seen, factory, bad):
    with pytest.raises(NotFound):
        visibility.get_visible_ticket(factory.admin(), bad)


def test_rooms_match_visibility(seen, factory, db):
    u = factory.member(queues=[seen.q1])
    sup = factory.member(profile="supervisor")
    assert sorted(visibility.rooms_for(u)) == sorted([f"user:{u.id}", "members", f"queue:{seen.q1.id}"])
    assert "staff" in visibility.rooms_for(sup) and "admins" not in visibility.rooms_for(sup)
    assert {"staff", "admins"} <= set(visibility.rooms_for(factory.admin()))
    for ticket in db.session.query(Ticket):
        for member in (u, sup):
            joined = set(visibility.rooms_for(member)) & set(visibility.ticket_rooms(ticket))
            assert bool(joined) == (ticket.id in ids(member))


@pytest.mark.parametrize("value,expected", [
    (12, 12), ("12", 12), (1, 1), (2**31 - 1, 2**31 - 1),
    (True, None), (False, None), (0, None), (-3, None), ("0", None), (2**31, None), ("1.5", None), ([], None),
])
def test_ids_from_untrusted_input(value, expected):
    """A JSON true is not ticket/queue 1; ids fit an INTEGER column and start at 1."""
    assert visibility.parse_id(value) == expected
