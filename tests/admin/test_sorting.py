"""Lists are alphabetical as a Brazilian reads them: case and accents do not move a name
("Álvaro" comes before "Ana", "bruno" before "Carla", "Érica" before "Zé"). Both databases compare
code points (PostgreSQL with the C.UTF-8 collation, SQLite BINARY), which put every lower-case and
every accented initial after "Z"."""
import html

import pytest

from tests.conftest import ADMIN_EMAIL, Factory, api_login, login

# As typed, in a shuffled order; and as a person expects to read them.
TYPED = ["Zé Souza", "Érica Lopes", "bruno Lima", "Álvaro Dias", "carla Nunes", "Ana Reis"]
EXPECTED = ["Álvaro Dias", "Ana Reis", "bruno Lima", "carla Nunes", "Érica Lopes", "Zé Souza"]


@pytest.fixture
def admin(app):
    client = app.test_client()
    assert login(client, ADMIN_EMAIL).status_code == 302
    return client


def _order(page: str, names) -> list[str]:
    """`names` in the order the page shows them (each must appear)."""
    text = html.unescape(page)
    positions = {name: text.find(name) for name in names}
    assert all(p >= 0 for p in positions.values()), positions
    return sorted(names, key=positions.get)


def _world(app):
    """The objects, made in an app context of their own (a request must not reuse the test's,
    and flask_login's user in it)."""
    from app.models import db

    with app.app_context():
        _make(db, Factory(app, db))
        db.session.remove()


def _make(db, factory):
    from app.services import connections, quick_replies, rating_templates

    queues = [factory.queue(name=name, bot_order=1) for name in TYPED]
    general = factory.queue(name="Geral", bot_order=0)
    for n, name in enumerate(TYPED):
        factory.member("user", queues=[general], name=name, email=f"ordem{n}@teste.com.br")
        connections.create({"name": name, "queues": [q.id for q in queues]})
        rating_templates.create({"name": name, "message": "Nota?",
                                 "options": [{"value": 1, "label": "Ruim"}, {"value": 2, "label": "Bom"}]})
        quick_replies.create({"shortcut": name.split()[0], "message": "Mensagem " + name})


def test_admin_lists_and_choices_are_alphabetical_ignoring_case_and_accents(app, admin):
    _world(app)
    for url in ("/team/list/", "/connections/list/", "/ratings/list/", "/queues/list/"):
        page = admin.get(url).get_data(as_text=True)
        assert _order(page, TYPED) == EXPECTED, url
    # Quick replies by shortcut (each reply's message names its shortcut's owner).
    page = admin.get("/quick_replies/list/").get_data(as_text=True)
    assert _order(page, ["Mensagem " + n for n in TYPED]) == ["Mensagem " + n for n in EXPECTED]
    # The choices of the forms: queues of a connection and of a member, a member's default
    # connection, the default rating in the options.
    for url, marker in (("/connections/add", 'id="queues"'), ("/team/add", 'id="queues"'),
                        ("/team/add", 'id="default_connection"'), ("/settings/form", 'id="default_rating_template"')):
        page = html.unescape(admin.get(url).get_data(as_text=True))
        select = page[page.index(marker):]
        select = select[:select.index("</select>")]
        assert _order(select, TYPED) == EXPECTED, (url, marker)


def test_chatbot_menu_and_api_lists_are_alphabetical(app, client):
    from app.models import Connection, db
    from app.services import chatbot

    _world(app)
    with app.app_context():
        connection = db.session.query(Connection).filter(Connection.name == TYPED[0]).one()
        # Same bot order for every queue: the menu breaks the tie by name.
        assert chatbot.menu_text(connection.queues).splitlines() == [
            f"{n} - {name}" for n, name in enumerate(EXPECTED, 1)]
        db.session.remove()
    api = api_login(client, ADMIN_EMAIL)
    for resource, key in (("team", "name"), ("connection", "name"), ("queue", "name"), ("rating", "name")):
        body = api.get(f"/api/v1/{resource}/?q=(page_size:100)").get_json()
        names = [row[key] for row in body["result"] if row[key] in TYPED]
        assert names == EXPECTED, resource


def test_team_list_sorts_by_name_and_profile_headers(app, admin):
    """Equipe's Nome and Perfil headers sort, like E-mail and Número: "name" is a property (first
    and last name) and the profile is read from the roles, neither a column FAB could order by."""
    from app.models import db

    people = [("Zé Souza", "user"), ("Érica Lopes", "admin"), ("bruno Lima", "supervisor"), ("Ana Reis", "user")]
    with app.app_context():
        factory = Factory(app, db)
        for n, (name, profile) in enumerate(people):
            factory.member(profile, name=name, email=f"perfil{n}@teste.com.br")
        db.session.remove()
    names = [name for name, _ in people]

    def listed(column, direction):
        page = admin.get(f"/team/list/?_oc_TeamView={column}&_od_TeamView={direction}&psize_TeamView=100")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        # Both headers are links that sort (as E-mail's is).
        for header in ("_oc_TeamView=name", "_oc_TeamView=profile", "_oc_TeamView=email"):
            assert header in text, header
        return _order(text, names)

    assert listed("name", "asc") == ["Ana Reis", "bruno Lima", "Érica Lopes", "Zé Souza"]
    assert listed("name", "desc") == ["Zé Souza", "Érica Lopes", "bruno Lima", "Ana Reis"]
    # Admin, Supervisor, User (their labels alphabetically); the same profile by name.
    assert listed("profile", "asc") == ["Érica Lopes", "bruno Lima", "Ana Reis", "Zé Souza"]
    assert listed("profile", "desc")[:2] == ["Ana Reis", "Zé Souza"]
    assert listed("profile", "desc")[-1] == "Érica Lopes"
