"""The admin screens' forms: pt_BR messages from the services, nothing changed on error, and the
default-connection rule through the forms."""
import html

import pytest

from tests.conftest import ADMIN_EMAIL, Factory, csrf_token, login
from tests.admin.test_api import snapshot


@pytest.fixture
def admin(app):
    client = app.test_client()
    assert login(client, ADMIN_EMAIL).status_code == 302
    return client


def submit(client, form_url, data, post_url=None):
    """Open the form (for its CSRF token), post it, return (status, page text after redirects)."""
    page = client.get(form_url)
    assert page.status_code == 200, form_url
    token = csrf_token(page.get_data(as_text=True))
    r = client.post(post_url or form_url, data=dict(data, csrf_token=token), follow_redirects=True)
    return r.status_code, html.unescape(r.get_data(as_text=True))


def delete(client, url):
    token = csrf_token(client.get("/resetmypassword/form").get_data(as_text=True))
    r = client.post(url, data={"csrf_token": token}, follow_redirects=True)
    return r.status_code, html.unescape(r.get_data(as_text=True))


def _ids(app, model, **filters):
    from app.models import db

    with app.app_context():
        rows = db.session.query(model).filter_by(**filters).all()
        ids = [r.id for r in rows]
        db.session.remove()
    return ids


CONNECTION = {"name": "Loja", "channel": "whatsapp", "read_receipts": "y", "greeting_message": "Olá!",
              "completion_message": "", "out_of_hours_message": ""}


def test_connection_form_default_rule(app, admin):
    from app.models import Connection

    # The first connection is the default even if the box is not ticked.
    status, page = submit(admin, "/connections/add", CONNECTION)
    assert status == 200 and "Salvo." in page
    first = _ids(app, Connection, name="Loja")[0]
    assert _ids(app, Connection, is_default=True) == [first]
    # Unticking the only default is refused with a message, nothing changes.
    before = snapshot(app)
    status, page = submit(admin, f"/connections/edit/{first}", dict(CONNECTION, greeting_message="Mudou"))
    assert "Sempre é preciso ter uma conexão padrão" in page
    assert snapshot(app) == before
    # A second one ticked as default takes over.
    status, page = submit(admin, "/connections/add", dict(CONNECTION, name="Vendas", is_default="y"))
    second = _ids(app, Connection, name="Vendas")[0]
    assert _ids(app, Connection, is_default=True) == [second]
    # The default cannot be deleted while another exists.
    before = snapshot(app)
    status, page = delete(admin, f"/connections/delete/{second}")
    assert "torne outra conexão a padrão antes de excluí-la" in page
    assert snapshot(app) == before
    # The list shows name, status, default and phone in Portuguese.
    listing = html.unescape(admin.get("/connections/list/").get_data(as_text=True))
    for text in ("Nome", "Status", "Padrão", "Número", "Desconectado", "Sim", "Não", "QR Code"):
        assert text in listing, text


@pytest.mark.parametrize("data,message", [
    ({"name": ""}, 'O campo "Nome" é obrigatório.'),
    ({"name": "x" * 101}, 'O campo "Nome" é longo demais (no máximo 100 caracteres).'),
    ({"name": "Existente"}, "Já existe uma conexão chamada"),
    ({"name": "existente"}, "Já existe uma conexão chamada"),
    ({"name": "Nova", "greeting_message": "a\x00b"}, "Mensagem de saudação contém caracteres inválidos."),
    ({"name": "Nova", "greeting_message": "x" * 4001},
     'O campo "Mensagem de saudação" é longo demais (no máximo 4000 caracteres).'),
])
def test_connection_form_bad_input(app, admin, data, message):
    from app.services import connections

    with app.app_context():
        connections.create({"name": "Existente"})
    before = snapshot(app)
    status, page = submit(admin, "/connections/add", dict(CONNECTION, **data))
    assert status == 200 and message in page
    assert snapshot(app) == before
    if data.get("name") == "":
        # the form is shown again with what was typed
        assert "Olá!" in page


QUEUE = {"name": "Suporte", "bot_order": "2", "color": "#00bb00", "greeting_message": "Oi",
         "hours_mon": "08:00-12:00, 13:00-18:00", "hours_tue": "", "hours_wed": "", "hours_thu": "",
         "hours_fri": "9:00 às 17:00", "hours_sat": "", "hours_sun": "", "out_of_hours_message": "Fechado"}


def test_queue_form_hours_and_listing(app, admin):
    from app.models import Queue
    from app.services import queues

    status, page = submit(admin, "/queues/add", QUEUE)
    assert "Salvo." in page
    qid = _ids(app, Queue, name="Suporte")[0]
    with app.app_context():
        q = queues.get(qid)
        assert q.color == "#00BB00" and q.bot_order == 2
        assert queues.hours_as_dicts(q) == [{"weekday": 0, "start": "08:00", "end": "12:00"},
                                            {"weekday": 0, "start": "13:00", "end": "18:00"},
                                            {"weekday": 4, "start": "09:00", "end": "17:00"}]
    edit = html.unescape(admin.get(f"/queues/edit/{qid}").get_data(as_text=True))
    assert 'value="08:00-12:00, 13:00-18:00"' in edit and "Segunda-feira" in edit
    submit(admin, "/queues/add", dict(QUEUE, name="Atendimento", color="#0000AA", bot_order="2", hours_mon=""))
    submit(admin, "/queues/add", dict(QUEUE, name="Vendas", color="#AA0000", bot_order="1", hours_mon=""))
    listing = admin.get("/queues/list/").get_data(as_text=True)
    table = listing[listing.index("<table"):]  # the navbar has "Atendimentos" too
    positions = [table.index(n) for n in ("Vendas", "Atendimento", "Suporte")]
    assert positions == sorted(positions)  # bot order, then name
    assert "background:#00BB00" in listing  # the colour swatch
    show = html.unescape(admin.get(f"/queues/show/{qid}").get_data(as_text=True))
    assert "Segunda-feira" in show and "08:00-12:00, 13:00-18:00" in show and "Fechado" in show


@pytest.mark.parametrize("data,message", [
    ({"color": "azul"}, "A cor deve ser escrita como #RRGGBB"),
    ({"color": "#00AA00"}, "já é usada pela fila"),
    ({"name": "existente", "color": "#123456"}, "Já existe uma fila chamada"),
    ({"bot_order": "primeiro"}, "Ordenação do BOT deve ser um número inteiro."),
    ({"bot_order": "-1"}, "Ordenação do BOT deve estar entre 0 e 9999."),
    ({"hours_mon": "8h"}, "Segunda-feira: escreva cada intervalo como início-fim"),
    ({"hours_tue": "08:00-25:00"}, "Terça-feira: \"25:00\" não é um horário"),
    ({"hours_wed": "08:00-12:00, 11:00-13:00"}, "Quarta-feira: os intervalos de expediente se sobrepõem."),
    ({"hours_thu": "10:00-10:00"}, "Quinta-feira: um intervalo não pode começar e terminar no mesmo horário"),
])
def test_queue_form_bad_input(app, admin, data, message):
    from app.services import queues

    with app.app_context():
        queues.create({"name": "Existente", "color": "#00aa00"})
    before = snapshot(app)
    status, page = submit(admin, "/queues/add", dict(QUEUE, **data))
    assert status == 200 and message in page, page[page.find("alert"):][:500]
    assert snapshot(app) == before


MEMBER = {"name": "Bia", "email": "bia@teste.com.br", "password": "segredo123", "phone": "", "profile": "user",
          "queues": None, "default_connection": "__None"}


@pytest.fixture
def queue_id(app):
    from app.services import queues

    with app.app_context():
        return queues.create({"name": "Vendas", "color": "#AA0000"}).id


def test_team_form_creates_a_member_who_can_log_in(app, admin, queue_id):
    status, page = submit(admin, "/team/add", dict(MEMBER, queues=str(queue_id), phone="5511987654321"))
    assert "Salvo." in page
    listing = html.unescape(admin.get("/team/list/").get_data(as_text=True))
    assert "bia@teste.com.br" in listing and "Vendas" in listing
    client = app.test_client()
    assert login(client, "bia@teste.com.br", "segredo123").status_code == 302
    from app.models import Member

    bia = _ids(app, Member, email="bia@teste.com.br")[0]
    edit = admin.get(f"/team/edit/{bia}").get_data(as_text=True)
    assert "scrypt" not in edit and "segredo123" not in edit  # the password is write-only
    # Editing with an empty password keeps it
    submit(admin, f"/team/edit/{bia}", dict(MEMBER, queues=str(queue_id), password="", name="Bia Souza"))
    assert login(app.test_client(), "bia@teste.com.br", "segredo123").status_code == 302


def test_team_form_takes_intranet_e_mails_such_as_the_first_admins_default(app, admin, queue_id):
    """DESIGN §7: the first Admin's e-mail defaults to admin@conecta.local, which the e-mail check
    refused as a "special-use" domain: that Admin could not save their own record."""
    from app.models import Member

    status, page = submit(admin, "/team/add", dict(MEMBER, email="admin@conecta.local", profile="admin",
                                                   queues=str(queue_id)))
    assert "Salvo." in page, [line for line in page.splitlines() if "error" in line]
    first = _ids(app, Member, email="admin@conecta.local")[0]
    status, page = submit(admin, f"/team/edit/{first}", dict(MEMBER, email="admin@conecta.local", profile="admin",
                                                            queues=str(queue_id), password="",
                                                            phone="5511912345678"))
    assert "Alterações salvas." in page, [line for line in page.splitlines() if "error" in line]
    status, page = submit(admin, "/team/add", dict(MEMBER, email="ana@empresa.local", queues=str(queue_id)))
    assert "Salvo." in page


@pytest.mark.parametrize("data,message", [
    ({"email": "bia@loja.onion"}, "não é um endereço de e-mail válido"),
    ({"password": " " * 10}, "A senha não pode ter só espaços."),
    ({"queues": None}, "precisa de pelo menos uma fila"),
    ({"phone": "11987654321"}, "O número deve ter só dígitos: 55 + DDD + número"),
    ({"phone": "(11) 98765-4321"}, "O número deve ter só dígitos"),
    ({"email": "bia"}, "não é um endereço de e-mail válido"),
    ({"email": ADMIN_EMAIL}, "já é usado por outro usuário"),
    ({"password": "123"}, "A senha deve ter entre 8 e 128 caracteres."),
    ({"name": ""}, 'O campo "Nome" é obrigatório.'),
    ({"profile": "root"}, "Not a valid choice"),
])
def test_team_form_bad_input(app, admin, queue_id, data, message):
    base = dict(MEMBER, queues=str(queue_id))
    before = snapshot(app)
    status, page = submit(admin, "/team/add", dict(base, **data))
    assert status == 200
    if message == "Not a valid choice":  # WTForms' own choice check
        assert "Adicionar usuário" in page and "Salvo." not in page
    else:
        assert message in page, page[page.find("alert"):][:400]
    assert snapshot(app) == before


def test_supervisor_team_form_queues_and_password_only(app, queue_id):
    from app.models import db
    from app.services import queues, team

    with app.app_context():
        f = Factory(app, db)
        other_q = queues.create({"name": "Suporte", "color": "#00AA00"})
        other_q_id = other_q.id
        f.member("supervisor", email="sup@teste.com.br")
        target = f.member("user", queues=[queues.get(queue_id)], email="alvo@teste.com.br", name="Alvo")
        target_id = target.id
        db.session.remove()
    sup = app.test_client()
    login(sup, "sup@teste.com.br")
    form = html.unescape(sup.get(f"/team/edit/{target_id}").get_data(as_text=True))
    assert 'name="queues"' in form and 'name="password"' in form
    assert 'name="email"' not in form and 'name="profile"' not in form and 'name="name"' not in form
    # Extra fields posted anyway are not in the form: ignored.
    submit(sup, f"/team/edit/{target_id}", {"queues": [str(other_q_id)], "password": "nova-senha-9",
                                             "name": "Hacker", "profile": "admin"})
    with app.app_context():
        member = team.get(target_id)
        assert [q.id for q in member.queues] == [other_q_id]
        assert member.name == "Alvo" and member.profile == "user"
    assert login(app.test_client(), "alvo@teste.com.br", "nova-senha-9").status_code == 302
    before = snapshot(app)
    status, page = submit(sup, f"/team/edit/{target_id}", {"password": "nova-senha-10"})  # no queue left
    assert "precisa de pelo menos uma fila" in page
    assert snapshot(app) == before


def test_last_admin_through_the_form(app, admin, queue_id):
    from app.models import Member

    admin_id = _ids(app, Member, email=ADMIN_EMAIL)[0]
    before = snapshot(app)
    status, page = submit(admin, f"/team/edit/{admin_id}", dict(MEMBER, name="Administrador", email=ADMIN_EMAIL,
                                                                 password="", profile="user", queues=str(queue_id)))
    assert "Este é o último Admin" in page
    status, page = delete(admin, f"/team/delete/{admin_id}")
    assert "Você não pode remover a sua própria conta." in page or "último Admin" in page
    assert snapshot(app) == before


SETTINGS = {"send_ratings": "", "rating_expiry_minutes": "60", "business_hours": "y",
            "open_tickets_out_of_hours": "y", "ignore_group_messages": "y", "accept_calls": "y",
            "chatbot_type": "text", "timezone": "America/Sao_Paulo", "default_rating_template": "__None",
            "external_rating_url": "", "call_rejection_message": "", "operator_greeting_text": "",
            "transfer_message_text": "", "operator_farewell_text": ""}


def test_settings_is_one_form(app, admin):
    from app.services.settings import as_dict

    page = html.unescape(admin.get("/settings/form").get_data(as_text=True))
    assert "Opções" in page and "Enviar Avaliações" in page and "Tipo Chatbot" in page and "Fuso horário" in page
    assert "/settings/list" not in page
    status, page = submit(admin, "/settings/form", dict(SETTINGS, operator_greeting="y",
                                                        operator_greeting_text="{{saudacao}}! Sou {{atendente}}."))
    assert "Opções salvas." in page
    with app.app_context():
        values = as_dict()
    assert values["operator_greeting"] is True and values["business_hours"] is True
    assert values["group_actions"] is False  # an unticked box is off


def test_an_installation_on_utc_keeps_it_in_the_settings_form(app, admin, db):
    """TZ_NAME=UTC (a server's usual zone) is a valid start; the form listed only Region/City zones,
    so it showed another zone selected and saving it refused UTC or moved the company's clock."""
    import re

    from app.services import settings
    from app.services.settings import as_dict

    with app.app_context():
        settings.update_settings({"timezone": "UTC"})
        db.session.commit()
    page = admin.get("/settings/form").get_data(as_text=True)
    assert re.search(r'<option selected value="UTC">|<option value="UTC" selected>', page), \
        re.findall(r"<option[^>]*selected[^>]*>[^<]*", page)
    status, page = submit(admin, "/settings/form", dict(SETTINGS, timezone="UTC"))
    assert "Opções salvas." in page, page[page.find("alert"):][:400]
    with app.app_context():
        assert as_dict()["timezone"] == "UTC"


@pytest.mark.parametrize("data,message", [
    ({"operator_greeting": "y"}, 'O campo "Texto de Saudação" é obrigatório quando "Mensagem de Saudação do Operador" está ativado.'),
    ({"accept_calls": ""}, 'O campo "Mensagem de Recusa de Chamada" é obrigatório'),
    ({"external_rating": "y", "external_rating_url": "pesquisa"}, "A URL da avaliação externa deve ser"),
    ({"timezone": "Brasil/Recife"}, "não é um fuso horário conhecido"),
    ({"rating_expiry_minutes": "0"}, "Espera pela avaliação (minutos) deve estar entre"),
    ({"rating_expiry_minutes": "uma hora"}, "Espera pela avaliação (minutos) deve ser um número inteiro."),
    ({"rating_required": "y", "send_ratings": ""}, "\"Obrigatório Avaliar?\" exige \"Enviar Avaliações\" ativado."),
    ({"send_ratings": "y"}, "\"Enviar Avaliações\" exige uma avaliação cadastrada em Avaliações"),
])
def test_settings_form_bad_input(app, admin, data, message):
    before = snapshot(app)
    status, page = submit(admin, "/settings/form", dict(SETTINGS, **data))
    assert status == 200 and message in page, page[page.find("alert"):][:400]
    assert snapshot(app) == before


def test_rating_and_quick_reply_forms(app, admin):
    status, page = submit(admin, "/ratings/add", {"name": "Satisfação", "message": "Como foi?",
                                                  "options": "1 - Insatisfeito\n2 - Satisfeito\n3 - Muito satisfeito"})
    assert "Salvo." in page
    listing = html.unescape(admin.get("/ratings/list/").get_data(as_text=True))
    assert "3 - Muito satisfeito" in listing
    before = snapshot(app)
    for data, message in (
        ({"options": "1 - Só uma"}, "Uma avaliação precisa de pelo menos duas opções."),
        ({"options": "1 - A\n1 - B"}, "O valor de opção 1 está repetido."),
        ({"options": "um - A\ndois - B"}, "Escreva uma opção por linha"),
        ({"message": ""}, 'O campo "Mensagem" é obrigatório.'),
        ({"name": "satisfação"}, "Já existe uma avaliação chamada"),
    ):
        status, page = submit(admin, "/ratings/add", dict({"name": "Outra", "message": "m", "options": "1 - A\n2 - B"},
                                                           **data))
        assert message in page, (data, page[page.find("alert"):][:300])
    assert snapshot(app) == before
    status, page = submit(admin, "/quick_replies/add", {"shortcut": "/pix", "message": "Chave PIX: 123"})
    assert "Salvo." in page and "Chave PIX: 123" in admin.get("/quick_replies/list/").get_data(as_text=True)
    before = snapshot(app)
    for data, message in (({"shortcut": "bom dia"}, "O atalho deve ser uma palavra só"),
                          ({"shortcut": "PIX"}, "O atalho /pix já existe."),  # the existing one, as saved
                          ({"message": ""}, 'O campo "Mensagem" é obrigatório.')):
        status, page = submit(admin, "/quick_replies/add", dict({"shortcut": "novo", "message": "m"}, **data))
        assert message in page
    assert snapshot(app) == before


def test_typed_text_is_escaped_in_the_screens(app, admin):
    submit(admin, "/queues/add", dict(QUEUE, name="<script>alert(1)</script>", hours_mon=""))
    listing = admin.get("/queues/list/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in listing and "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
    # ... and in the error messages that quote it
    page = admin.post("/queues/add", data=dict(QUEUE, name="<script>alert(1)</script>", color="#010101", hours_mon="",
                                               csrf_token=csrf_token(admin.get("/queues/add").get_data(as_text=True))))
    text = page.get_data(as_text=True)
    assert "Já existe uma fila chamada" in html.unescape(text) and "<script>alert(1)</script>" not in text


def test_userinfo_is_the_navbar_profile_link(app, queue_id):
    from app.models import db
    from app.services import queues

    with app.app_context():
        Factory(app, db).member("user", queues=[queues.get(queue_id)], email="perfil@teste.com.br", name="Paula",
                                phone="5511987654321")
        db.session.remove()
    client = app.test_client()
    login(client, "perfil@teste.com.br")
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "/team/userinfo/" in home
    page = html.unescape(client.get("/team/userinfo/").get_data(as_text=True))
    assert "Paula" in page and "perfil@teste.com.br" in page and "Vendas" in page and "5511987654321" in page
    assert "/resetmypassword/form" in page


def test_list_and_detail_screens_show_no_python_values(app, admin, factory):
    """Empty fields read "—" (not "None"), lists are names separated by commas (not "[a, b]"), the
    channel is "WhatsApp" and a queue without hours says it is always open (hours.py's rule), not
    "Fechado" for every day of the week."""
    vendas, suporte = factory.queue(name="Vendas"), factory.queue(name="Suporte")
    connection = factory.connection(name="Loja", queues=[vendas, suporte])
    member = factory.member(name="Bia", queues=[vendas], phone=None)
    member.last_login = __import__("datetime").datetime(2026, 3, 9, 14, 5, 33, 123456)
    factory.db.session.commit()
    ids = {"connection": connection.id, "member": member.id, "queue": vendas.id}
    pages = {url: html.unescape(admin.get(url).get_data(as_text=True)) for url in [
        f"/connections/show/{ids['connection']}", f"/team/show/{ids['member']}", "/team/list/",
        f"/queues/show/{ids['queue']}"]}
    for url, page in pages.items():
        assert ">None<" not in page.replace(" ", "").replace("\n", ""), url
    connection_page = pages[f"/connections/show/{ids['connection']}"]
    assert "Vendas, Suporte" in connection_page and "[Vendas" not in connection_page
    assert "WhatsApp" in connection_page
    # Stored in UTC, shown in the company's time zone (TZ_NAME of the tests: São Paulo, UTC-3).
    assert "09/03/2026 11:05" in pages[f"/team/show/{ids['member']}"]
    queue_page = pages[f"/queues/show/{ids['queue']}"]
    assert "Sem horários cadastrados: sempre aberta." in queue_page and "Fechado" not in queue_page


def test_moments_are_shown_in_the_company_time_zone(app, admin, factory, db):
    """Configurações › Opções › Fuso horário decides how the screens show a moment stored in UTC:
    02:30 UTC on 10 March is still 9 March in Manaus (UTC-4)."""
    import datetime

    from app.services import settings

    member = factory.member(name="Bia")
    member.last_login = datetime.datetime(2026, 3, 10, 2, 30)
    settings.update_settings({"timezone": "America/Manaus"})
    db.session.commit()
    page = html.unescape(admin.get(f"/team/show/{member.id}").get_data(as_text=True))
    assert "09/03/2026 22:30" in page
    settings.update_settings({"timezone": "UTC"})
    db.session.commit()
    page = html.unescape(admin.get(f"/team/show/{member.id}").get_data(as_text=True))
    assert "10/03/2026 02:30" in page


def test_last_login_is_stored_in_utc_whatever_the_server_clock(app, factory, db):
    """FAB writes last_login with the server's local clock; ours is UTC like every stored moment,
    so a server set to Brasília time does not show logins three hours early."""
    import datetime
    import os
    import time

    from app.models import Member

    member = factory.member(name="Relógio", email="relogio@teste.com.br")
    member_id = member.id
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/Sao_Paulo"
    time.tzset()
    try:
        before = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        client = app.test_client()
        login(client, "relogio@teste.com.br")
        after = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()
    db.session.remove()
    last = db.session.get(Member, member_id).last_login
    assert last is not None and before - datetime.timedelta(seconds=1) <= last <= after + datetime.timedelta(seconds=1)


def field_error(page: str, field: str) -> str | None:
    """The error text shown under `field` of a FAB form page (None: no error there)."""
    import re

    m = re.search(rf'name="{field}".*?(?:<div class="alert alert-danger">(.*?)</div>|<label)', page, re.S)
    return " ".join(m.group(1).split()) if m and m.group(1) else None


def test_a_refusal_is_shown_under_its_field(app, admin, queue_id):
    """The services' refusals were a banner above the form, whatever field they were about; the
    form's own validators show theirs under the field. Now a refusal that names its input shows
    under that field (Wednesday's hours under Quarta), and only there."""
    status, page = submit(admin, "/team/add", dict(MEMBER, queues=str(queue_id), email="bia@@teste"))
    assert field_error(page, "email") == '"bia@@teste" não é um endereço de e-mail válido.'
    assert field_error(page, "name") is None and page.count("não é um endereço de e-mail válido") == 1

    status, page = submit(admin, "/queues/add", dict(QUEUE, name="Nova", color="#123123", hours_wed="08:00-25:00"))
    assert "25:00" in (field_error(page, "hours_wed") or "")
    assert field_error(page, "hours_mon") is None and field_error(page, "name") is None

    status, page = submit(admin, "/settings/form", dict(SETTINGS, external_rating="y", external_rating_url="ftp://x"))
    assert "http://" in (field_error(page, "external_rating_url") or "")

    # A rule across fields is shown under the field to change: a User with no queue, under Filas.
    status, page = submit(admin, "/team/add", dict(MEMBER, email="semfila@teste.com.br"))
    assert "precisa de pelo menos uma fila" in (field_error(page, "queues") or "")


def test_a_template_with_an_unknown_variable_is_refused_under_its_field(app, admin):
    """QA saved "Olá {{nomee}} {{ fila }}" as the transfer text ("Opções salvas.") and the customer
    got "Olá {{nomee}} Vendas"; a queue greeting with {{cliente}} likewise. Refused under the field,
    naming the unknown variable and the ones there are; nothing saved."""
    allowed = "Variáveis disponíveis: {{nome}}, {{atendente}}, {{fila}}, {{protocolo}}, {{saudacao}}."
    before = snapshot(app)
    status, page = submit(admin, "/settings/form", dict(SETTINGS, transfer_message="y",
                                                        transfer_message_text="Olá {{nomee}} {{ fila }}"))
    assert "Opções salvas." not in page
    assert field_error(page, "transfer_message_text") == (
        'O campo "Texto de Transferência" usa uma variável que não existe: {{nomee}}. ' + allowed)
    status, page = submit(admin, "/queues/add", dict(QUEUE, name="Financeiro", color="#abcdef", greeting_message=(
        "Olá {{Nome}}, {{ nome }}, {{cliente}}: Financeiro aqui.")))
    assert field_error(page, "greeting_message") == (
        'O campo "Mensagem de saudação" usa uma variável que não existe: {{cliente}}. ' + allowed)
    assert snapshot(app) == before
    status, page = submit(admin, "/quick_replies/add", {"shortcut": "oi", "message": "Oi {{cliente}} e {{ x }}"})
    assert field_error(page, "message") == (
        'O campo "Mensagem" usa variáveis que não existem: {{cliente}}, {{ x }}. ' + allowed)
    assert snapshot(app) == before
    # The variables there are, with spaces or a capital, are saved.
    status, page = submit(admin, "/settings/form", dict(SETTINGS, transfer_message="y",
                                                        transfer_message_text="Olá {{Nome}} {{ fila }}"))
    assert "Opções salvas." in page


# --- After a save: the view's own list ---------------------------------------------------------

def _post(client, form_url, data):
    """Open the form by its address (as QA did in the address bar), post it; the answer to the post."""
    page = client.get(form_url)
    assert page.status_code == 200, form_url
    return client.post(form_url, data=dict(data, csrf_token=csrf_token(page.get_data(as_text=True))))


def _landed(client, response):
    """Where a saved form sent the browser (path?query) and that page's text."""
    from urllib.parse import urlsplit

    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    where = urlsplit(response.location)
    path = where.path + (f"?{where.query}" if where.query else "")
    return path, html.unescape(client.get(path).get_data(as_text=True))


def test_a_saved_form_returns_to_its_own_list(app, admin, queue_id):
    """QA: FAB went back to the last page of the session's page history, whatever it was. Opening
    /queues/edit/6 and then /queues/add by the address bar, saving "Q5" landed on Comercial2's edit
    form saying "Salvo." (as if Comercial2 had changed); a new rating landed on a filtered Equipe
    list, an edited connection on /ratings/list/, a new connection on /team/edit/1. Now each form
    returns to its own view's list, with the message."""
    from app.models import Member
    from app.services import connections, queues

    with app.app_context():
        comercial = queues.create({"name": "Comercial2", "color": "#222222"}).id
        loja = connections.create({"name": "Loja"}).id
    admin_id = _ids(app, Member, email=ADMIN_EMAIL)[0]

    admin.get(f"/queues/edit/{comercial}")
    path, page = _landed(admin, _post(admin, "/queues/add", dict(QUEUE, name="Q5", color="#555555")))
    assert path == "/queues/list/" and "Salvo." in page and "Q5" in page

    admin.get("/team/list/?_flt_0_first_name=Admin")
    path, page = _landed(admin, _post(admin, "/ratings/add", {"name": "Nota", "message": "Como foi?",
                                                              "options": "1 - Ruim\n2 - Bom"}))
    assert path == "/ratings/list/" and "Salvo." in page

    admin.get("/ratings/list/")
    path, page = _landed(admin, _post(admin, f"/connections/edit/{loja}", dict(CONNECTION, name="Loja 2",
                                                                               is_default="y")))
    assert path == "/connections/list/" and "Alterações salvas." in page and "Loja 2" in page

    admin.get(f"/team/edit/{admin_id}")
    path, page = _landed(admin, _post(admin, "/connections/add", dict(CONNECTION, name="Filial")))
    assert path == "/connections/list/" and "Salvo." in page and "Filial" in page

    admin.get("/connections/list/")
    path, page = _landed(admin, _post(admin, "/team/add", dict(MEMBER, queues=str(queue_id))))
    assert path == "/team/list/" and "Salvo." in page

    admin.get("/team/list/")
    path, page = _landed(admin, _post(admin, "/quick_replies/add", {"shortcut": "pix", "message": "Chave: 1"}))
    assert path == "/quick_replies/list/" and "Salvo." in page


def test_a_form_opened_from_its_list_returns_to_that_list_as_it_was(app, admin, queue_id):
    """Opened from its own list (filtered, ordered, on a page), a form returns to that list as the
    member left it; a show or edit page of the same view in between does not change that."""
    from app.services import queues

    with app.app_context():
        vendas2 = queues.create({"name": "Vendas 2", "color": "#333333"}).id
    listing = "/queues/list/?_flt_0_name=Vendas&_oc_QueueView=name&_od_QueueView=desc"
    assert admin.get(listing).status_code == 200
    path, page = _landed(admin, _post(admin, "/queues/add", dict(QUEUE, name="Vendas 3", color="#444444")))
    assert path == listing and "Salvo." in page and "Vendas 3" in page

    admin.get(listing)
    admin.get(f"/queues/show/{vendas2}")
    path, page = _landed(admin, _post(admin, f"/queues/edit/{vendas2}", dict(QUEUE, name="Vendas 2b",
                                                                            color="#333333")))
    assert path == listing and "Alterações salvas." in page and "Vendas 2b" in page


def test_every_admin_form_returns_to_its_own_list(app, admin, queue_id):
    """Every ModelView of the app with an add form (found from the app, so a new screen is
    covered too) returns to its own list, wherever the member was before."""
    from app.views.admin_base import ServiceModelView

    forms = {
        "ConnectionView": dict(CONNECTION, name="Outra"),
        "QueueView": dict(QUEUE, name="Outra", color="#777777"),
        "TeamView": dict(MEMBER, queues=str(queue_id)),
        "QuickReplyView": {"shortcut": "oi", "message": "Olá"},
        "RatingView": {"name": "Outra", "message": "Nota?", "options": "1 - Ruim\n2 - Bom"},
    }
    views = {v.__class__.__name__: v for v in app.appbuilder.baseviews
             if isinstance(v, ServiceModelView) and "add" in v.__class__.__dict__.get("include_route_methods", {"add"})}
    assert set(views) == set(forms)
    for name, data in forms.items():
        view = views[name]
        admin.get("/settings/form")
        path, page = _landed(admin, _post(admin, f"{view.route_base}/add", data))
        assert path == f"{view.route_base}/list/" and "Salvo." in page, name


# --- Every field's error at once -----------------------------------------------------------------

def _typed(page: str, field: str) -> str | None:
    """The value an input of the form page shows."""
    import re

    m = re.search(rf'<input[^>]*name="{field}"[^>]*>', page)
    value = re.search(r'value="([^"]*)"', m.group(0)) if m else None
    return value.group(1) if value else None


def test_the_team_form_shows_every_error_at_once(app, admin, queue_id):
    """QA: Equipe › Adicionar with the name empty, e-mail "bad", password "x" and Número "12" said
    only that the name is required; putting everything right took four submits."""
    before = snapshot(app)
    status, page = submit(admin, "/team/add", dict(MEMBER, name="", email="bad", password="x", phone="12",
                                                   queues=str(queue_id)))
    assert field_error(page, "name") == 'O campo "Nome" é obrigatório.'
    assert field_error(page, "email") == '"bad" não é um endereço de e-mail válido.'
    assert field_error(page, "password") == "A senha deve ter entre 8 e 128 caracteres."
    assert "O número deve ter só dígitos" in (field_error(page, "phone") or "")
    assert _typed(page, "email") == "bad" and _typed(page, "phone") == "12"  # what was typed stays
    assert "Salvo." not in page and snapshot(app) == before
    # The rule across fields too: a User without a queue, with a bad e-mail.
    status, page = submit(admin, "/team/add", dict(MEMBER, email="bad"))
    assert "precisa de pelo menos uma fila" in (field_error(page, "queues") or "")
    assert field_error(page, "email") == '"bad" não é um endereço de e-mail válido.'
    assert snapshot(app) == before


def test_the_settings_form_shows_every_error_at_once(app, admin):
    """QA: Avaliação Externa on without URL, Aceitar Chamada off without Mensagem de Recusa and
    Saudação do Operador on without text: one error per save."""
    before = snapshot(app)
    status, page = submit(admin, "/settings/form", dict(SETTINGS, external_rating="y", accept_calls="",
                                                        operator_greeting="y", timezone="Brasil/Recife",
                                                        rating_expiry_minutes="uma hora"))
    assert 'O campo "URL da Avaliação Externa" é obrigatório' in (field_error(page, "external_rating_url") or "")
    assert 'O campo "Mensagem de Recusa de Chamada" é obrigatório' in (field_error(page, "call_rejection_message") or "")
    assert 'O campo "Texto de Saudação" é obrigatório' in (field_error(page, "operator_greeting_text") or "")
    assert "deve ser um número inteiro" in (field_error(page, "rating_expiry_minutes") or "")
    assert _typed(page, "rating_expiry_minutes") == "uma hora"
    assert "não é um fuso horário conhecido" in page
    assert "Opções salvas." not in page and snapshot(app) == before


def test_the_queue_and_connection_forms_show_every_error_at_once(app, admin):
    before = snapshot(app)
    status, page = submit(admin, "/queues/add", dict(QUEUE, name="", color="azul", bot_order="primeiro",
                                                     hours_mon="8h", hours_wed="08:00-25:00",
                                                     greeting_message="Olá {{cliente}}"))
    assert field_error(page, "name") == 'O campo "Nome" é obrigatório.'
    assert "#RRGGBB" in (field_error(page, "color") or "")
    assert "número inteiro" in (field_error(page, "bot_order") or "")
    assert "Segunda-feira: escreva cada intervalo" in (field_error(page, "hours_mon") or "")
    assert '"25:00" não é um horário' in (field_error(page, "hours_wed") or "")
    assert "{{cliente}}" in (field_error(page, "greeting_message") or "")
    assert _typed(page, "bot_order") == "primeiro" and _typed(page, "hours_wed") == "08:00-25:00"
    status, page = submit(admin, "/connections/add", dict(CONNECTION, name="", greeting_message="Oi {{cliente}}",
                                                          completion_message="Tchau {{x}}"))
    assert field_error(page, "name") == 'O campo "Nome" é obrigatório.'
    assert "{{cliente}}" in (field_error(page, "greeting_message") or "")
    assert "{{x}}" in (field_error(page, "completion_message") or "")
    assert "Salvo." not in page and snapshot(app) == before


def test_the_rating_and_quick_reply_forms_show_every_error_at_once(app, admin):
    before = snapshot(app)
    status, page = submit(admin, "/ratings/add", {"name": "", "message": "", "options": "1 - Só uma"})
    assert field_error(page, "name") == 'O campo "Nome" é obrigatório.'
    assert field_error(page, "message") == 'O campo "Mensagem" é obrigatório.'
    assert field_error(page, "options") == "Uma avaliação precisa de pelo menos duas opções."
    status, page = submit(admin, "/quick_replies/add", {"shortcut": "bom dia", "message": ""})
    assert "uma palavra só" in (field_error(page, "shortcut") or "")
    assert field_error(page, "message") == 'O campo "Mensagem" é obrigatório.'
    assert snapshot(app) == before


def test_a_duplicate_name_names_the_existing_record(app, admin):
    """QA: adding the queue "suporte tecnico" said 'Já existe uma fila chamada "suporte tecnico".'
    while the queue in the way is "Suporte Técnico" (the check ignores case and accents)."""
    from app.services import connections, queues, quick_replies, rating_templates

    with app.app_context():
        queues.create({"name": "Suporte Técnico", "color": "#101010"})
        connections.create({"name": "Loja Ágil"})
        rating_templates.create({"name": "Satisfação", "message": "Nota?",
                                 "options": [{"value": 1, "label": "Ruim"}, {"value": 2, "label": "Bom"}]})
        quick_replies.create({"shortcut": "Horário", "message": "8h às 18h"})
    before = snapshot(app)
    status, page = submit(admin, "/queues/add", dict(QUEUE, name="suporte tecnico", color="#202020"))
    assert field_error(page, "name") == 'Já existe uma fila chamada "Suporte Técnico".'
    status, page = submit(admin, "/connections/add", dict(CONNECTION, name="LOJA AGIL"))
    assert field_error(page, "name") == 'Já existe uma conexão chamada "Loja Ágil".'
    status, page = submit(admin, "/ratings/add", {"name": "satisfacao", "message": "m", "options": "1 - A\n2 - B"})
    assert field_error(page, "name") == 'Já existe uma avaliação chamada "Satisfação".'
    status, page = submit(admin, "/quick_replies/add", {"shortcut": "/HORARIO", "message": "m"})
    assert field_error(page, "shortcut") == "O atalho /Horário já existe."
    assert snapshot(app) == before
