"""Equipe › Editar as a Supervisor: the form (queues and password only) names the member being
changed. It showed "Editar usuário" and the two fields, and nowhere whose queues and password they
were: a Supervisor who clicked the wrong row could not tell before saving."""
import html

from tests.conftest import Factory, login


def test_supervisor_edit_form_names_the_member(app):
    from app.models import db

    with app.app_context():
        f = Factory(app, db)
        queue = f.queue(name="Vendas")
        f.member("supervisor", email="sup@teste.com.br")
        target = f.member("user", queues=[queue], email="bruno@teste.com.br", name="Bruno <b>Vendas</b>")
        target_id = target.id
        db.session.remove()
    sup = app.test_client()
    assert login(sup, "sup@teste.com.br").status_code == 302
    page = sup.get(f"/team/edit/{target_id}").get_data(as_text=True)
    # Named (the name is text: escaped), with the two fields it may change and no others.
    assert "Bruno &lt;b&gt;Vendas&lt;/b&gt; (bruno@teste.com.br)" in page
    assert "<b>Vendas</b>" not in page
    assert 'name="queues"' in page and 'name="password"' in page and 'name="name"' not in page
    # A validation error shows the form again: still named.
    token = page[page.index('name="csrf_token"'):]
    token = token[token.index('value="') + 7:]
    token = token[:token.index('"')]
    r = sup.post(f"/team/edit/{target_id}", data={"csrf_token": token, "password": "curta"})
    page = html.unescape(r.get_data(as_text=True))
    assert "Bruno <b>Vendas</b> (bruno@teste.com.br)" in page and "A senha deve ter entre 8 e 128 caracteres." in page
