"""The admin services' rules, called directly (what REST, forms and scripts share)."""
import json

import pytest

from app.services import DomainError, Forbidden, NotFound


# --- Lookups by id -----------------------------------------------------------------------------

@pytest.mark.parametrize("service,message", [("connections", "Conexão não encontrada."),
                                             ("queues", "Fila não encontrada."),
                                             ("rating_templates", "Avaliação não encontrada."),
                                             ("quick_replies", "Resposta rápida não encontrada."),
                                             ("team", "Usuário não encontrado.")])
def test_get_refuses_what_is_no_id_as_not_found(db, service, message):
    """Anything but a positive INTEGER id is as unknown as a missing row: never a database error."""
    import importlib

    get = importlib.import_module(f"app.services.{service}").get
    for value in (None, True, "1", 1.0, 0, -1, 2 ** 31, 10 ** 40, 2 ** 31 - 1):
        with pytest.raises(NotFound) as e:
            get(value)
        assert e.value.status == 404 and e.value.message == message, value


def test_get_finds_the_row(db, factory):
    from app.services import connections, queues

    queue = factory.queue()
    assert queues.get(queue.id) is queue
    connection = factory.connection()
    assert connections.get(connection.id) is connection


# --- Names unique ignoring case and accents ---------------------------------------------------

RATING = {"message": "Como foi?", "options": [{"value": 1, "label": "Ruim"}, {"value": 2, "label": "Bom"}]}
NAMED = [  # service, field, the first name, what else it must refuse, extra fields, the refusal
    ("connections", "name", "Suporte Técnico", ("SUPORTE TÉCNICO", "suporte tecnico", "Suporte Tecnico"), {},
     'Já existe uma conexão chamada'),
    ("queues", "name", "Suporte Técnico", ("SUPORTE TÉCNICO", "suporte tecnico", "Súporte Técnicó"),
     {"color": None}, "Já existe uma fila chamada"),
    ("rating_templates", "name", "Satisfação", ("SATISFAÇÃO", "satisfacao", "Satisfacão"), RATING,
     "Já existe uma avaliação chamada"),
    ("quick_replies", "shortcut", "horário", ("HORÁRIO", "horario", "/Horario"), {"message": "8h às 18h"},
     "já existe"),
]


def _named(field, value, extra, n):
    data = dict(extra, **{field: value})
    if "color" in data:
        data["color"] = "#%06X" % (0x102030 + n)
    return data


@pytest.mark.parametrize("service,field,first,clashes,extra,message", NAMED, ids=[n[0] for n in NAMED])
def test_names_are_unique_ignoring_case_and_accents(db, service, field, first, clashes, extra, message):
    """The same name typed with other capitals or without (or with other) accents is the same name,
    on both engines (SQLite's own lower() folds ASCII only): on create and on rename; a name that
    differs in more than that is another name."""
    import importlib

    module = importlib.import_module(f"app.services.{service}")
    model = type(module.create(_named(field, first, extra, 0)))
    other = module.create(_named(field, "Outro", extra, 1))
    for n, clash in enumerate(clashes, start=2):
        with pytest.raises(DomainError) as e:
            module.create(_named(field, clash, extra, n))
        assert message in e.value.message, clash
        with pytest.raises(DomainError):
            module.update(other.id, {field: clash})
    db.session.rollback()
    assert sorted(getattr(x, field) for x in db.session.query(model)) == sorted([first.lstrip("/"), "Outro"])
    # Saving a row under its own name written differently is no clash with itself.
    module.update(other.id, {field: "OUTRO"})
    assert getattr(db.session.get(model, other.id), field) == "OUTRO"


@pytest.mark.parametrize("service,field,first,clashes,extra,message", NAMED, ids=[n[0] for n in NAMED])
def test_folded_names_are_unique_in_the_database(db, service, field, first, clashes, extra, message):
    """A write that skips the service (or wins a race against another admin's check) cannot store
    the same name twice either: unique index on the folded column, on both engines."""
    import importlib

    from sqlalchemy.exc import IntegrityError

    module = importlib.import_module(f"app.services.{service}")
    row = module.create(_named(field, first, extra, 0))
    model = type(row)
    copy = model(**{c.key: getattr(row, c.key) for c in model.__table__.columns if c.key not in ("id",)
                    and c.key != "color"})
    setattr(copy, field, clashes[0].lstrip("/"))
    if hasattr(model, "color"):
        copy.color = "#ABCDEF"  # the colour is unique too: only the name may clash
    if hasattr(model, "is_default"):
        copy.is_default = False  # so may only one connection be the default
    db.session.add(copy)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


# --- Connections: the default-connection rule ------------------------------------------------

def test_first_connection_becomes_default_and_only_one_default(db):
    from app.models import Connection
    from app.services import connections

    first = connections.create({"name": "Atendimento", "is_default": False})
    assert first.is_default
    second = connections.create({"name": "Vendas"})
    assert not second.is_default and first.is_default
    third = connections.create({"name": "Financeiro", "is_default": True})
    defaults = db.session.query(Connection).filter(Connection.is_default.is_(True)).all()
    assert [c.id for c in defaults] == [third.id]
    connections.update(second.id, {"is_default": True})
    defaults = db.session.query(Connection).filter(Connection.is_default.is_(True)).all()
    assert [c.id for c in defaults] == [second.id]


def test_default_cannot_be_unset_nor_deleted_while_others_exist(db):
    from app.models import Connection
    from app.services import connections

    only = connections.create({"name": "Única"})
    with pytest.raises(DomainError) as e:
        connections.update(only.id, {"is_default": False})
    assert "padrão" in e.value.message
    other = connections.create({"name": "Outra"})
    with pytest.raises(DomainError) as e:
        connections.delete(only.id)
    assert e.value.status == 422 and "padrão" in e.value.message
    db.session.expire_all()
    assert db.session.get(Connection, only.id).is_default
    connections.delete(other.id)  # not the default: fine
    connections.delete(only.id)  # the only connection left: fine
    assert db.session.query(Connection).count() == 0


def test_connection_with_conversations_is_not_deleted(db, factory):
    from app.models import Contact, Connection, Ticket
    from app.services import connections

    connections.create({"name": "Principal"})  # the default: "Antiga" may be deleted but for its tickets
    old = connections.create({"name": "Antiga"})
    contact = Contact(jid="5511988887777@c.us", phone="5511988887777", name="Maria")
    db.session.add(contact)
    db.session.flush()
    db.session.add(Ticket(contact_id=contact.id, connection_id=old.id, status="closed"))
    db.session.commit()
    with pytest.raises(DomainError) as e:
        connections.delete(old.id)
    assert "conversas" in e.value.message
    assert db.session.get(Connection, old.id) is not None and db.session.query(Ticket).count() == 1


def test_single_default_backed_by_the_database(db):
    """Even a write that skips the service cannot make two defaults (partial unique index)."""
    from sqlalchemy.exc import IntegrityError

    from app.models import Connection
    from app.services import connections

    connections.create({"name": "A"})
    db.session.add(Connection(name="B", is_default=True))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_connection_validation(db, factory):
    from app.services import connections

    q = factory.queue()
    c = connections.create({"name": "  Loja  ", "queues": [q.id], "greeting_message": "Olá! 😀"})
    assert c.name == "Loja" and [x.id for x in c.queues] == [q.id] and c.greeting_message == "Olá! 😀"
    bad = [
        {"name": ""}, {"name": "loja"}, {"name": "x" * 101}, {"name": "a\x00b"}, {"name": 5},
        {"name": "N", "queues": [999]}, {"name": "N", "queues": "1"}, {"name": "N", "is_default": "yes"},
        {"name": "N", "channel": "fax"}, {"name": "N", "greeting_message": "x" * 5000}, {"name": "N", "foo": 1},
        ["name"], None,
    ]
    for data in bad:
        with pytest.raises(DomainError):
            connections.create(data)
    assert [x.name for x in connections.db.session.query(connections.Connection)] == ["Loja"]
    with pytest.raises(NotFound):
        connections.update(99999, {"name": "Z"})
    with pytest.raises(NotFound):
        connections.update("1", {"name": "Z"})


def test_status_start_and_logout(app, db):
    from app.models.connection import ConnectionStatus
    from app.services import connections
    from app.workers import key, redis_conn

    c = connections.create({"name": "Zap"})
    event = connections.request_start(c.id)
    assert event == {"id": c.id, "status": "OPENING", "reason": None, "qr": None, "phone": None}
    assert c.enabled
    event = connections.set_status(c.id, ConnectionStatus.QRCODE, qr="2@abc,def")
    assert event["qr"] == "2@abc,def" and connections.qr_state(c.id) == {"status": "QRCODE", "qr": "2@abc,def"}
    event = connections.set_status(c.id, ConnectionStatus.CONNECTED, phone="+55 11 99999-0000")
    assert event["qr"] is None and event["phone"] == "5511999990000"
    with pytest.raises(DomainError):
        connections.set_status(c.id, "WHATEVER")
    from app.bridge.lock import SessionLock
    from app.bridge.runner import lock_key

    redis_conn().delete(key(f"bridge:{c.id}:commands"))
    live = SessionLock(redis_conn(), lock_key(c.id))  # a live session: logout goes through it
    assert live.acquire()
    try:
        event = connections.logout(c.id)
    finally:
        live.release()
    assert event["status"] == "DISCONNECTED" and not c.enabled
    assert [json.loads(x) for x in redis_conn().lrange(key(f"bridge:{c.id}:commands"), 0, -1)] == [{"op": "logout"}]


# --- Queues ----------------------------------------------------------------------------------

def test_queue_rules(db):
    from app.services import queues

    q = queues.create({"name": "Vendas", "color": "#1e88e5", "bot_order": 2,
                       "hours": [{"weekday": 0, "start": "08:00", "end": "12:00"},
                                 {"weekday": 0, "start": "13:00", "end": "18:00"},
                                 {"weekday": 5, "start": "22:00", "end": "02:00"}]})
    assert q.color == "#1E88E5"
    assert queues.hours_as_dicts(q)[0] == {"weekday": 0, "start": "08:00", "end": "12:00"}
    queues.create({"name": "Suporte", "color": "#00AA00", "bot_order": 1})
    queues.create({"name": "Atendimento", "color": "#00AA01", "bot_order": 1})
    assert [x.name for x in queues.ordered()] == ["Atendimento", "Suporte", "Vendas"]
    bad = [
        {"name": "vendas", "color": "#000001"},  # name taken (case-insensitive)
        {"name": "Nova", "color": "#1E88e5"},  # colour taken (case-insensitive)
        {"name": "Nova", "color": "blue"}, {"name": "Nova", "color": "#12345"}, {"name": "Nova"},
        {"name": "Nova", "color": "#000002", "bot_order": "um"},
        {"name": "Nova", "color": "#000002", "bot_order": 1.5},
        {"name": "Nova", "color": "#000002", "hours": [{"weekday": 7, "start": "08:00", "end": "09:00"}]},
        {"name": "Nova", "color": "#000002", "hours": [{"weekday": 1, "start": "25:00", "end": "09:00"}]},
        {"name": "Nova", "color": "#000002", "hours": [{"weekday": 1, "start": "09:00", "end": "09:00"}]},
        {"name": "Nova", "color": "#000002", "hours": [{"weekday": 1, "start": "08:00", "end": "12:00"},
                                                        {"weekday": 1, "start": "11:00", "end": "13:00"}]},
        # Sunday night running into Monday morning overlaps Monday's first interval
        {"name": "Nova", "color": "#000002", "hours": [{"weekday": 6, "start": "22:00", "end": "08:30"},
                                                        {"weekday": 0, "start": "08:00", "end": "12:00"}]},
        {"name": "Nova", "color": "#000002", "hours": "08:00-12:00"},
    ]
    for data in bad:
        with pytest.raises(DomainError) as e:
            queues.create(data)
        assert e.value.message
    assert queues.ordered().count() == 3
    whole_day = queues.create({"name": "24h", "color": "#000003",
                               "hours": [{"weekday": d, "start": "00:00", "end": "00:00"} for d in range(7)]})
    assert len(whole_day.hours) == 7


def test_queue_hours_edges(db):
    """Intervals that only touch do not overlap (also across midnight and from Sunday into Monday);
    at most 6 intervals a day; a JSON true is no weekday."""
    from app.services import queues

    touching = [{"weekday": 0, "start": "08:00", "end": "12:00"}, {"weekday": 0, "start": "12:00", "end": "18:00"},
                {"weekday": 0, "start": "18:00", "end": "02:00"}, {"weekday": 1, "start": "02:00", "end": "03:00"},
                {"weekday": 6, "start": "20:00", "end": "08:00"}]
    assert len(queues.create({"name": "Encostadas", "color": "#000010", "hours": touching}).hours) == 5
    six = [{"weekday": 2, "start": f"{h:02d}:00", "end": f"{h:02d}:30"} for h in range(8, 14)]
    assert len(queues.create({"name": "Seis", "color": "#000011", "hours": six}).hours) == 6
    seven = six + [{"weekday": 2, "start": "15:00", "end": "16:00"}]
    for hours in (seven, [{"weekday": True, "start": "08:00", "end": "09:00"}]):
        with pytest.raises(DomainError):
            queues.create({"name": "Demais", "color": "#000012", "hours": hours})
        db.session.rollback()
    assert queues.ordered().filter_by(name="Demais").count() == 0


def test_queue_hours_from_the_form_texts(db):
    from app.services import queues

    texts = ["08:00-12:00, 13:00 - 18:00", "", "", "", "8:00 às 17:00", "", ""]
    q = queues.create({"name": "Fila", "color": "#ABCDEF", "hours": queues.hours_from_day_texts(texts)})
    assert queues.day_texts(q) == ["08:00-12:00, 13:00-18:00", "", "", "", "08:00-17:00", "", ""]
    for monday in ("de manhã", "08:00", "8h", "8h-meio-dia", "08:00-12:00 13:00-18:00"):
        with pytest.raises(DomainError) as e:
            queues.create({"name": "Outra", "color": "#ABCDE0",
                           "hours": queues.hours_from_day_texts([monday, "", "", "", "", "", ""])})
        assert "Segunda-feira" in e.value.message


def test_queue_hours_typed_the_brazilian_way(db):
    """The form takes hours as a Brazilian writes them ("8h às 12h", "13h30-18h", "08h00", "8-12");
    before, "8h-12h" was refused with '"8h" não é um horário'."""
    from app.services import queues

    texts = ["8h às 12h, 13h30-18h", "08h00 - 12h00", "8-12", "9H-17HS", "18h às 24h", "", ""]
    q = queues.create({"name": "Fila", "color": "#ABCDEF", "hours": queues.hours_from_day_texts(texts)})
    assert queues.day_texts(q) == ["08:00-12:00, 13:30-18:00", "08:00-12:00", "08:00-12:00", "09:00-17:00",
                                   "18:00-00:00", "", ""]
    with pytest.raises(DomainError) as e:
        queues.create({"name": "Outra", "color": "#ABCDE0",
                       "hours": queues.hours_from_day_texts(["", "8h-25h", "", "", "", "", ""])})
    assert e.value.message == 'Terça-feira: "25:00" não é um horário; use HH:MM, por exemplo 08:30.'


def test_an_interval_may_end_at_24_00_as_people_write_the_end_of_the_day(db):
    """"18:00-24:00" (and "00:00-24:00") is how a Brazilian admin writes "until midnight": it is
    18:00 to midnight (before, refused: '"24:00" não é um horário'); 24:00 is no start."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from app.services import hours, queues

    q = queues.create({"name": "Noite", "color": "#ABCDE1", "hours": queues.hours_from_day_texts(
        ["18:00-24:00", "00:00 às 24:00", "", "", "", "", ""])})
    assert queues.day_texts(q)[:2] == ["18:00-00:00", "00:00-00:00"]
    sp = "America/Sao_Paulo"
    at = lambda day, h, m: dt.datetime(2026, 11, day, h, m, tzinfo=ZoneInfo(sp))  # noqa: E731 - 23/11/2026: Monday
    assert hours.is_open(q, at(23, 23, 59), sp) and not hours.is_open(q, at(23, 17, 59), sp)
    assert hours.is_open(q, at(24, 0, 30), sp) and hours.is_open(q, at(24, 23, 59), sp)
    assert not hours.is_open(q, at(25, 0, 30), sp)
    with pytest.raises(DomainError) as e:
        queues.create({"name": "Outra", "color": "#ABCDE2",
                       "hours": queues.hours_from_day_texts(["24:00-08:00", "", "", "", "", "", ""])})
    assert "Segunda-feira" in e.value.message


# --- Team ------------------------------------------------------------------------------------

def test_member_create_and_login_fields(app, db, factory):
    from app.services import team

    q = factory.queue()
    conn = factory.connection()
    m = team.create({"name": "Ana", "email": "Ana@Empresa.com.br", "password": "segredo123", "phone": "5511987654321",
                     "profile": "user", "queues": [q.id], "default_connection": conn.id})
    assert m.username == m.email == "ana@empresa.com.br"
    assert m.password != "segredo123" and m.profile == "user" and m.default_connection_id == conn.id
    assert app.appbuilder.sm.auth_user_db("ana@empresa.com.br", "segredo123") is not None
    bad = [
        {"name": "B", "email": "ana@empresa.com.br", "password": "segredo123", "queues": [q.id]},  # e-mail taken
        {"name": "B", "email": "não é email", "password": "segredo123", "queues": [q.id]},
        {"name": "B", "email": "b@x.com", "password": "curta", "queues": [q.id]},
        {"name": "B", "email": "b@x.com", "password": "segredo123", "queues": []},  # User without queue
        {"name": "B", "email": "b@x.com", "password": "segredo123", "queues": [q.id], "phone": "11987654321"},
        {"name": "B", "email": "b@x.com", "password": "segredo123", "queues": [q.id], "phone": "55 11 98765-4321"},
        {"name": "B", "email": "b@x.com", "password": "segredo123", "queues": [q.id], "phone": "55119876543210"},
        {"name": "B", "email": "b@x.com", "password": "segredo123", "queues": [q.id], "profile": "root"},
        {"name": "B", "email": "b@x.com", "password": "segredo123", "queues": [q.id], "default_connection": 999},
        {"name": "", "email": "b@x.com", "password": "segredo123", "queues": [q.id]},
    ]
    for data in bad:
        with pytest.raises(DomainError):
            team.create(data)
    # 12 digits: a landline (a mobile number without its 9, 551198765432, no longer exists)
    assert team.create({"name": "Sup", "email": "sup@x.com", "password": "segredo123", "profile": "supervisor",
                        "phone": "551133334444"}).profile == "supervisor"


@pytest.mark.parametrize("phone", ["5500987654321", "5520987654321", "551198765432", "5511087654321"])
def test_a_member_phone_must_be_a_number_that_exists(app, db, factory, phone):
    """Digits in the right shape but no telephone plan's number (area code 00 or 20, a mobile number
    without its 9) were saved: refused as the Nova conversa refuses them (inputs.phone_number, the
    one rule), with a message naming the field; nothing saved. A number saved before the check and
    sent back unchanged (the form sends every field) is kept."""
    from app.models import Member
    from app.services import team

    q = factory.queue()
    count = db.session.query(Member).count()
    with pytest.raises(DomainError) as e:
        team.create({"name": "B", "email": "b@x.com", "password": "segredo123", "queues": [q.id], "phone": phone})
    db.session.rollback()
    assert e.value.status == 422 and e.value.field == "phone"
    assert e.value.message == f"Número: {phone} não é um número brasileiro válido. Confira o DDD e o número."
    assert db.session.query(Member).count() == count
    member = factory.member("user", queues=[q], phone="5511987654321")
    with pytest.raises(DomainError):
        team.update(member.id, {"phone": phone})
    db.session.rollback()
    db.session.refresh(member)
    assert member.phone == "5511987654321"
    member.phone = phone  # saved before this check
    db.session.commit()
    assert team.update(member.id, {"name": "Outro nome", "phone": phone}).phone == phone


def test_supervisor_changes_only_queues_and_password_of_users(app, db, factory):
    from app.services import team

    q1, q2 = factory.queue(), factory.queue()
    sup = factory.member("supervisor")
    user = factory.member("user", queues=[q1])
    other_sup = factory.member("supervisor")
    admin = factory.admin()
    team.update(user.id, {"queues": [q1.id, q2.id], "password": "nova-senha-1"}, actor=sup)
    assert {q.id for q in user.queues} == {q1.id, q2.id}
    assert app.appbuilder.sm.auth_user_db(user.email, "nova-senha-1") is not None
    # Sending back unchanged values is fine; changing anything else is not.
    team.update(user.id, {"name": user.name, "queues": [q1.id]}, actor=sup)
    for data in ({"name": "Outro nome"}, {"profile": "admin"}, {"email": "x@y.com"}, {"phone": "5511987654321"}):
        with pytest.raises(Forbidden):
            team.update(user.id, data, actor=sup)
    for target in (other_sup, admin, sup):
        with pytest.raises(Forbidden):
            team.update(target.id, {"password": "nova-senha-2"}, actor=sup)
    with pytest.raises(Forbidden):
        team.create({"name": "X", "email": "x@x.com", "password": "segredo123", "queues": [q1.id]}, actor=sup)
    with pytest.raises(Forbidden):
        team.delete(user.id, actor=sup)
    with pytest.raises(Forbidden):
        team.update(user.id, {"queues": [q2.id]}, actor=user)
    with pytest.raises(DomainError):
        team.update(user.id, {"queues": []}, actor=sup)  # a User keeps at least one queue
    db.session.expire_all()
    assert user.name != "Outro nome" and sup.profile == "supervisor"


def test_last_admin_cannot_be_demoted_or_deleted(app, db, factory):
    from app.services import team

    admin = factory.admin()
    with pytest.raises(DomainError) as e:
        team.update(admin.id, {"profile": "supervisor"})
    assert "último" in e.value.message
    with pytest.raises(DomainError):
        team.delete(admin.id)
    second = factory.member("admin")
    with pytest.raises(DomainError):
        team.delete(second.id, actor=second)  # not your own account
    team.update(admin.id, {"profile": "supervisor"}, actor=second)
    assert admin.profile == "supervisor"
    with pytest.raises(DomainError):
        team.update(second.id, {"profile": "user", "queues": []})
    team.delete(admin.id, actor=second)
    assert team.admin_count() == 1


# --- Settings --------------------------------------------------------------------------------

def test_settings_update_and_validation(db):
    from app.services.settings import as_dict, update_settings

    before = as_dict()
    update_settings({"operator_greeting": True, "operator_greeting_text": "{{saudacao}}, {{nome}}!"})
    assert as_dict()["operator_greeting"] is True
    bad = [
        {"transfer_message": True, "transfer_message_text": ""},
        {"operator_farewell": True},
        {"accept_calls": False, "call_rejection_message": None},
        {"external_rating": True, "external_rating_url": "javascript:alert(1)"},
        {"external_rating": True, "external_rating_url": "ftp://x.com"},
        {"external_rating": True},
        {"chatbot_type": "buttons"},
        {"timezone": "America/Sao_Paulx"}, {"timezone": ""}, {"timezone": "../../etc/passwd"},
        {"rating_expiry_minutes": 0}, {"rating_expiry_minutes": "dez"},
        {"send_ratings": None}, {"send_ratings": "sim"},
        {"rating_required": True, "send_ratings": False},
        {"default_rating_template": 12345},
        {"nonsense": 1}, "texto",
    ]
    current = as_dict()
    for data in bad:
        with pytest.raises(DomainError):
            update_settings(data)
        db.session.rollback()
        assert as_dict() == current, data
    update_settings({"external_rating": True, "external_rating_url": "https://pesquisa.exemplo.com.br/x?y=1",
                     "timezone": "America/Manaus", "chatbot_type": "list", "rating_expiry_minutes": 30})
    after = as_dict()
    assert after["timezone"] == "America/Manaus" and after["chatbot_type"] == "list" and before != after


# --- Ratings and quick replies --------------------------------------------------------------

def test_rating_template_rules(db):
    from app.services import rating_templates as rt

    t = rt.create({"name": "Satisfação", "message": "Como foi?", "options": [
        {"value": 3, "label": "Muito satisfeito"}, {"value": 1, "label": "Insatisfeito"}]})
    assert rt.options_as_dicts(t) == [{"value": 1, "label": "Insatisfeito"}, {"value": 3, "label": "Muito satisfeito"}]
    bad = [
        {"name": "satisfação", "message": "m", "options": [{"value": 1, "label": "a"}, {"value": 2, "label": "b"}]},
        {"name": "N", "message": "", "options": [{"value": 1, "label": "a"}, {"value": 2, "label": "b"}]},
        {"name": "N", "message": "m", "options": [{"value": 1, "label": "a"}]},
        {"name": "N", "message": "m", "options": [{"value": 1, "label": "a"}, {"value": 1, "label": "b"}]},
        {"name": "N", "message": "m", "options": [{"value": 1, "label": ""}, {"value": 2, "label": "b"}]},
        {"name": "N", "message": "m", "options": [{"value": "x", "label": "a"}, {"value": 2, "label": "b"}]},
        {"name": "N", "message": "m", "options": {"1": "a", "2": "b"}},
    ]
    for data in bad:
        with pytest.raises(DomainError):
            rt.create(data)
    rt.update(t.id, {"options": [{"value": 1, "label": "Ruim"}, {"value": 2, "label": "Bom"}]})
    assert rt.options_text(t) == "1 - Ruim\n2 - Bom"
    assert rt.options_from_text("1 - Ruim\n\n2) Bom") == [{"value": 1, "label": "Ruim"}, {"value": 2, "label": "Bom"}]


def test_quick_reply_rules(db, factory):
    from app.models import QuickReply
    from app.services import quick_replies as qr

    r = qr.create({"shortcut": "/horario", "message": "Atendemos das 8h às 18h."})
    assert r.shortcut == "horario"
    for data in ({"shortcut": "HORARIO", "message": "x"}, {"shortcut": "Horário", "message": "x"},
                 {"shortcut": "/HORÁRIO", "message": "x"}, {"shortcut": "dois termos", "message": "x"},
                 {"shortcut": "ok", "message": ""}, {"shortcut": "", "message": "x"},
                 {"shortcut": "a/b", "message": "x"}, {"shortcut": "x" * 60, "message": "x"}):
        with pytest.raises(DomainError):
            qr.create(data)
    member, other = factory.member("user"), factory.member("user")
    db.session.add(QuickReply(shortcut="meu", message="pessoal", user_id=other.id))
    db.session.commit()
    assert [x.shortcut for x in qr.visible_to(member)] == ["horario"]
    assert [x.shortcut for x in qr.visible_to(other)] == ["horario", "meu"]


def test_rating_required_needs_a_rating_to_send(db):
    """"Obrigatório Avaliar?" makes every close send a rating: with no rating registered (and no
    external rating) no ticket could ever be resolved, so the options refuse it, and the last rating
    cannot be deleted while it is on."""
    from app.services import rating_templates as rt
    from app.services.settings import as_dict, update_settings

    before = as_dict()
    with pytest.raises(DomainError) as e:
        update_settings({"send_ratings": True, "rating_required": True})
    assert e.value.message == ('"Obrigatório Avaliar?" exige uma avaliação cadastrada em Avaliações (ou "Avaliação '
                               'Externa?" ativado): sem ela, nenhum ticket poderia ser resolvido.')
    db.session.rollback()
    assert as_dict() == before
    # With an external rating the URL is what is sent: allowed.
    update_settings({"send_ratings": True, "rating_required": True, "external_rating": True,
                     "external_rating_url": "https://avalie.exemplo.com.br"})
    update_settings({"send_ratings": False, "rating_required": False, "external_rating": False})
    only = rt.create({"name": "Satisfação", "message": "Como foi?", "options": [
        {"value": 1, "label": "Ruim"}, {"value": 2, "label": "Bom"}]})
    update_settings({"send_ratings": True, "rating_required": True})
    with pytest.raises(DomainError) as e:
        rt.delete(only.id)
    assert e.value.status == 422 and "única avaliação" in e.value.message
    db.session.rollback()
    other = rt.create({"name": "NPS", "message": "De 1 a 2?", "options": [
        {"value": 1, "label": "Não"}, {"value": 2, "label": "Sim"}]})
    rt.delete(only.id)  # another one is left
    update_settings({"rating_required": False, "send_ratings": False})
    rt.delete(other.id)  # ratings off: the last one may go


def test_sending_ratings_needs_a_rating_to_send(db):
    """"Enviar Avaliações" alone: with no rating registered (and no external rating) Resolver would
    offer nothing to send, so the options refuse it, and the last rating stays while it is on."""
    from app.services import rating_templates as rt
    from app.services.settings import as_dict, update_settings

    before = as_dict()
    with pytest.raises(DomainError) as e:
        update_settings({"send_ratings": True})
    assert e.value.message == ('"Enviar Avaliações" exige uma avaliação cadastrada em Avaliações (ou "Avaliação '
                               'Externa?" ativado): sem ela, não há avaliação para enviar.')
    db.session.rollback()
    assert as_dict() == before
    update_settings({"send_ratings": True, "external_rating": True,
                     "external_rating_url": "https://avalie.exemplo.com.br"})  # the link is what is sent
    update_settings({"send_ratings": False, "external_rating": False})
    only = rt.create({"name": "Satisfação", "message": "Como foi?", "options": [
        {"value": 1, "label": "Ruim"}, {"value": 2, "label": "Bom"}]})
    update_settings({"send_ratings": True})
    with pytest.raises(DomainError) as e:
        rt.delete(only.id)
    assert e.value.status == 422 and e.value.message.startswith(
        'Esta é a única avaliação e "Enviar Avaliações" está ativado nas opções')
    db.session.rollback()
    assert as_dict()["send_ratings"] is True
    update_settings({"send_ratings": False})
    rt.delete(only.id)


def test_a_queue_in_use_is_not_deleted(app, db, factory):
    """Tickets in progress (their customers would drop out of every User's list) or a User whose
    only queue it is (who would see nothing) keep a queue; resolved history does not."""
    from app.models import Contact, Queue, Ticket
    from app.services import queues, team

    vendas, suporte = factory.queue(name="Vendas"), factory.queue(name="Suporte")
    conn = factory.connection(name="Principal")
    contact = Contact(jid="5511988887777@c.us", phone="5511988887777", name="Maria")
    db.session.add(contact)
    db.session.flush()
    ticket = Ticket(contact_id=contact.id, connection_id=conn.id, queue_id=vendas.id, status="pending")
    db.session.add(ticket)
    db.session.commit()
    with pytest.raises(DomainError) as e:
        queues.delete(vendas.id)
    assert "1 atendimento(s) em andamento" in e.value.message
    ticket.status = "closed"
    bruno = factory.member("user", queues=[vendas], name="Bruno")
    factory.member("user", queues=[vendas, suporte], name="Carla")  # she keeps Suporte
    db.session.commit()
    with pytest.raises(DomainError) as e:
        queues.delete(vendas.id)
    assert "única fila de Bruno" in e.value.message and "Carla" not in e.value.message
    db.session.expire_all()
    assert db.session.get(Queue, vendas.id) is not None
    team.update(bruno.id, {"queues": [suporte.id]})
    queues.delete(vendas.id)
    db.session.expire_all()
    assert db.session.get(Queue, vendas.id) is None and db.session.get(Ticket, ticket.id) is not None


def test_removed_queues_and_members_leave_no_dangling_ids_on_either_engine(app, db, factory):
    """The schema's ON DELETE holds on SQLite too (foreign keys are off there unless each
    connection turns them on): a resolved ticket of a removed queue and agent has no queue and no
    agent, and a new queue that takes the old id does not inherit its tickets or members."""
    from app.models import Contact, Ticket
    from app.services import queues, team

    factory.admin()
    old = factory.queue(name="Antiga")
    keep = factory.queue(name="Fica")
    conn = factory.connection(name="Principal", queues=[old])
    agent = factory.member("user", queues=[old, keep], name="Rui")
    contact = Contact(jid="5511988887777@c.us", phone="5511988887777", name="Maria")
    db.session.add(contact)
    db.session.flush()
    ticket = Ticket(contact_id=contact.id, connection_id=conn.id, queue_id=old.id, user_id=agent.id, status="closed")
    db.session.add(ticket)
    db.session.commit()
    old_id = old.id
    queues.delete(old_id)
    team.delete(agent.id)
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert (ticket.queue_id, ticket.user_id) == (None, None)
    assert conn.queues == []
    again = factory.queue(name="Nova")
    db.session.expire_all()
    assert db.session.query(Ticket).filter(Ticket.queue_id == again.id).count() == 0
    assert db.session.execute(db.text("SELECT count(*) FROM member_queue")).scalar() == 0


# --- Message templates: only the variables there are ------------------------------------------

ALLOWED = "{{nome}}, {{atendente}}, {{fila}}, {{protocolo}}, {{saudacao}}"
# service, a body that creates one (None: the settings row), another that creates a second one,
# the template fields and their labels
TEMPLATE_FIELDS = [
    ("settings", None, None, {"call_rejection_message": "Mensagem de Recusa de Chamada",
                              "operator_greeting_text": "Texto de Saudação",
                              "transfer_message_text": "Texto de Transferência",
                              "operator_farewell_text": "Texto de Despedida",
                              "external_rating_url": "URL da Avaliação Externa"}),
    ("queues", {"name": "Financeiro", "color": "#123456"}, {"name": "Outra", "color": "#654321"},
     {"greeting_message": "Mensagem de saudação", "out_of_hours_message": "Mensagem fora do expediente"}),
    ("connections", {"name": "Loja"}, {"name": "Outra"},
     {"greeting_message": "Mensagem de saudação", "completion_message": "Mensagem de conclusão",
      "out_of_hours_message": "Mensagem fora do expediente"}),
    ("quick_replies", {"shortcut": "ola", "message": "Olá!"}, {"shortcut": "outra"}, {"message": "Mensagem"}),
    ("rating_templates", dict(RATING, name="Nota"), dict(RATING, name="Outra"), {"message": "Mensagem"}),
]


def _service(name):
    import importlib

    return importlib.import_module(f"app.services.{name}")


def _template_saves(db, service, first, second):
    """(service module, its row made from `first` or None for the settings, the ways to save a body
    there: the settings' update, or the row's update and a new row's create from `second`)."""
    module = _service(service)
    row = module.create(first) if first is not None else None
    db.session.commit()
    saves = ([lambda body: module.update_settings(body)] if row is None else
             [lambda body: module.update(row.id, body), lambda body: module.create(dict(second, **body))])
    return module, row, saves


@pytest.mark.parametrize("service,first,second,fields", TEMPLATE_FIELDS, ids=[t[0] for t in TEMPLATE_FIELDS])
def test_a_template_with_an_unknown_variable_is_refused(app, db, service, first, second, fields):
    """{{nomee}} (a typo) or {{cliente}} (a guess) was saved and reached the customer as typed. Every
    text that is rendered as a template refuses them, naming them and the variables there are, about
    its field, and nothing changes (on create or on edit)."""
    from tests.admin.test_api import snapshot

    module, row, saves = _template_saves(db, service, first, second)
    for key, label in fields.items():
        assert str(module.LABELS[key]) == label
        for typed, unknown in (("Olá {{nomee}} {{ fila }}", "{{nomee}}"),
                               ("{{cliente}}, {{ nome }} e {{cliente}} {{x y}}", "{{cliente}}, {{x y}}"),
                               ("{{saudação}}! {{}}", "{{saudação}}, {{}}")):
            if key == "external_rating_url":
                typed = "https://pesquisa.exemplo.com/?p=" + typed.replace(" ", "")
                unknown = unknown.replace("x y", "xy")
            for save in saves:
                before = snapshot(app)
                with pytest.raises(DomainError) as e:
                    save({key: typed})
                db.session.rollback()
                what = "variáveis que não existem" if "," in unknown else "uma variável que não existe"
                assert e.value.status == 422 and e.value.field == key, (key, typed)
                assert e.value.message == (f'O campo "{label}" usa {what}: {unknown}. '
                                           f"Variáveis disponíveis: {ALLOWED}."), e.value.message
                assert snapshot(app) == before
                if row is not None:
                    db.session.refresh(row)
                    assert getattr(row, key) == first.get(key), key


@pytest.mark.parametrize("service,first,second,fields", TEMPLATE_FIELDS, ids=[t[0] for t in TEMPLATE_FIELDS])
def test_a_template_with_an_unclosed_variable_is_refused(app, db, service, first, second, fields):
    """"Olá {{nome" was saved (and sent as typed) while "{{desconhecida}}" was refused: a "{{" without
    its "}}" is refused too, saying so, about its field, and nothing changes. A lone "{" or "}" is
    text, and a text saved before the check is not checked again."""
    from tests.admin.test_api import snapshot

    module, row, saves = _template_saves(db, service, first, second)
    for key, label in fields.items():
        for typed, shown in (("Olá {{nome", "{{nome"), ("Olá {{nome}, tudo bem?", "{{nome}, tudo bem?"),
                             ("{{nome}} e {{", "{{"), ("Oi {{ fila\nsegunda linha", "{{ fila...")):
            if key == "external_rating_url":
                typed, shown = "https://pesquisa.exemplo.com/?p=" + typed.replace(" ", "").replace("\n", ""), \
                    shown.replace(" ", "").replace("...", "")
                shown = shown if shown != "{{fila" else "{{filasegundalinha"
            for save in saves:
                before = snapshot(app)
                with pytest.raises(DomainError) as e:
                    save({key: typed})
                db.session.rollback()
                assert e.value.status == 422 and e.value.field == key, (key, typed)
                assert e.value.message == (f'O campo "{label}" abre uma variável com {{{{ e não a fecha com }}}}: '
                                           f"{shown}. Uma variável se escreve assim: {{{{nome}}}}."), e.value.message
                assert snapshot(app) == before
        lone = "Oi {nome}, {{nome}} { } }} :-{" if key != "external_rating_url" else "https://x.com.br/?a={b}"
        saves[0]({key: lone})
        db.session.commit()
        if row is not None:
            db.session.refresh(row)
            assert getattr(row, key) == lone


def test_an_older_template_with_an_unclosed_variable_is_kept(db):
    """Saved before the check and sent back unchanged with the rest of its form: not refused."""
    from app.services import queues

    q = queues.create({"name": "Financeiro", "color": "#123456"})
    q.greeting_message = "Olá {{nome"
    db.session.commit()
    assert queues.update(q.id, {"name": "Finanças", "greeting_message": "Olá {{nome"}).name == "Finanças"


def test_template_variables_may_have_spaces_and_capitals(db):
    """{{ nome }} always worked; {{Nome}} / {{NOME}} (the name at the start of a sentence) are the
    same variable, saved and filled in, never sent as typed."""
    from types import SimpleNamespace

    from app.services import queues, settings, templates

    q = queues.create({"name": "Financeiro", "color": "#123456",
                       "greeting_message": "Olá {{Nome}}, {{ nome }}, {{NOME}}: {{ Fila }} aqui. {{Saudacao}}!"})
    settings.update_settings({"transfer_message": True, "transfer_message_text": "{{ATENDENTE}} {{ protocolo }}"})
    text = templates.render(q.greeting_message, contact=SimpleNamespace(name="Otávio"), queue=q)
    assert text.startswith("Olá Otávio, Otávio, Otávio: Financeiro aqui. Bo") and "{{" not in text
    assert templates.render("{{Nome}}, seu pedido chegou.", contact=SimpleNamespace(name="")) == "Seu pedido chegou."


def test_older_templates_with_unknown_variables_are_kept_as_they_are(db, factory):
    """Texts saved before the check still render as they did (the unknown name as typed), and
    saving the other fields of their form (which sends them again, unchanged) is not refused."""
    from app.models import QuickReply, Settings
    from app.services import connections, quick_replies, settings, templates

    old = "Olá {{nomee}}, {{ nome }}!"
    settings.get_settings()
    db.session.query(Settings).update({"transfer_message": True, "transfer_message_text": old})
    q = factory.queue(greeting_message=old)
    c = factory.connection(queues=[q], completion_message=old)
    reply = QuickReply(shortcut="antiga", message=old)
    db.session.add(reply)
    db.session.commit()
    settings.update_settings({"timezone": "America/Recife"})
    settings.update_settings(dict(settings.as_dict(), timezone="America/Sao_Paulo"))
    connections.update(c.id, {"name": "Outro nome", "completion_message": old, "greeting_message": "Oi"})
    quick_replies.update(reply.id, {"shortcut": "antiga2", "message": old})
    from app.services import queues

    queues.update(q.id, {"greeting_message": old, "bot_order": 5})
    assert settings.get_settings().transfer_message_text == old and c.completion_message == old
    from types import SimpleNamespace

    assert templates.render(old, contact=SimpleNamespace(name="Otávio")) == "Olá {{nomee}}, Otávio!"
    # Changing it is checked as any new text.
    with pytest.raises(DomainError):
        queues.update(q.id, {"greeting_message": old + " {{cliente}}"})
