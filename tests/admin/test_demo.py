"""`python run.py --demo` sample data: complete, in Portuguese, idempotent, usable at once."""
from tests.conftest import api_login, login


def test_demo_data_is_complete_and_idempotent(app):
    from app.models import Connection, Member, Queue, RatingTemplate, db
    from app.services import queues
    from app.services.demo import load_demo_data
    from app.services.settings import as_dict

    members = load_demo_data(app)
    again = load_demo_data(app)
    assert members == again
    with app.app_context():
        assert [q.name for q in queues.ordered()] == ["Vendas", "Suporte Técnico", "Financeiro"]
        assert all(q.hours and q.color.startswith("#") for q in db.session.query(Queue))
        demo = db.session.query(Connection).one()
        assert demo.name == "WhatsApp Demo" and demo.is_default and len(demo.queues) == 3
        assert demo.greeting_message and demo.completion_message
        assert db.session.query(RatingTemplate).count() == 1
        assert as_dict()["send_ratings"] is True
        profiles = {m.email: m.profile for m in db.session.query(Member)}
        db.session.remove()
    assert {m["profile"] for m in members} == {"user", "supervisor", "admin"}
    for m in members:
        assert profiles[m["email"]] == m["profile"]
        assert login(app.test_client(), m["email"], m["password"]).status_code == 302
    seller = api_login(app.test_client(), "vendas@demo.conecta", "demo-vendas")
    me = seller.get("/api/v1/team/me").get_json()["result"]
    assert me["profile"] == "user" and len(me["queues"]) == 1
