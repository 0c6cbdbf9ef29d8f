"""Sample data for `python run.py --demo` (with the WhatsApp simulator): queues, a default
connection, one member of each profile and a rating. Idempotent: what exists is left alone."""
from app.models import Connection, Member, Queue, RatingTemplate, db
from app.services import connections, queues, rating_templates, team
from app.services.settings import update_settings

# Known demo passwords, printed once by run.py --demo (never use them outside a demo).
DEMO_MEMBERS = [
    {"name": "Ana Supervisora", "email": "supervisora@demo.conecta", "password": "demo-supervisora",
     "profile": "supervisor", "queues": ["Vendas", "Suporte Técnico", "Financeiro"]},
    {"name": "Bruno Vendas", "email": "vendas@demo.conecta", "password": "demo-vendas",
     "profile": "user", "queues": ["Vendas"]},
    {"name": "Carla Suporte", "email": "suporte@demo.conecta", "password": "demo-suporte",
     "profile": "user", "queues": ["Suporte Técnico"]},
    {"name": "Diego Admin", "email": "admin@demo.conecta", "password": "demo-admin",
     "profile": "admin", "queues": []},
]

_WEEK = [{"weekday": d, "start": "08:00", "end": "18:00"} for d in range(5)]
DEMO_QUEUES = [
    {"name": "Vendas", "color": "#2E7D32", "bot_order": 1,
     "greeting_message": "Você está falando com o time de Vendas. Em que podemos ajudar?",
     "out_of_hours_message": "O time de Vendas atende de segunda a sábado, das 8h às 18h (sábado até 12h).",
     "hours": _WEEK + [{"weekday": 5, "start": "08:00", "end": "12:00"}]},
    {"name": "Suporte Técnico", "color": "#1565C0", "bot_order": 2,
     "greeting_message": "Suporte Técnico aqui. Descreva o problema, por favor.",
     "out_of_hours_message": "O Suporte Técnico atende de segunda a sexta, das 8h às 12h e das 13h às 18h.",
     "hours": [{"weekday": d, "start": s, "end": e} for d in range(5) for s, e in (("08:00", "12:00"), ("13:00", "18:00"))]},
    {"name": "Financeiro", "color": "#EF6C00", "bot_order": 3,
     "greeting_message": "Financeiro: boletos, notas fiscais e pagamentos.",
     "out_of_hours_message": "O Financeiro atende de segunda a sexta, das 9h às 17h.",
     "hours": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(5)]},
]


def load_demo_data(app) -> list[dict]:
    """Create what is missing; returns the demo members (with their passwords) for run.py to print."""
    with app.app_context():
        by_name = {}
        for data in DEMO_QUEUES:
            queue = db.session.query(Queue).filter(Queue.name == data["name"]).first()
            if queue is None:
                queue = queues.create(data)
            by_name[queue.name] = queue
        if db.session.query(Connection).filter(Connection.name == "WhatsApp Demo").first() is None:
            connection = connections.create({
                "name": "WhatsApp Demo", "is_default": True, "read_receipts": True,
                "queues": [q.id for q in by_name.values()],
                "greeting_message": "{{saudacao}}, {{nome}}! Bem-vindo(a) à Loja Demo. Escolha o setor:",
                "completion_message": "Atendimento encerrado. Obrigado pelo contato, {{nome}}! Protocolo {{protocolo}}.",
                "out_of_hours_message": "Estamos fora do horário de atendimento. Responderemos assim que possível.",
            })
        else:
            connection = db.session.query(Connection).filter(Connection.name == "WhatsApp Demo").first()
        for data in DEMO_MEMBERS:
            if db.session.query(Member).filter(Member.email == data["email"]).first() is None:
                team.create(dict(data, queues=[by_name[n].id for n in data["queues"]],
                                 default_connection=connection.id))
        if db.session.query(RatingTemplate).filter(RatingTemplate.name == "Satisfação").first() is None:
            template = rating_templates.create({
                "name": "Satisfação",
                "message": "Como você avalia o atendimento de {{atendente}}? Responda com o número:",
                "options": [{"value": 1, "label": "Insatisfeito"}, {"value": 2, "label": "Satisfeito"},
                            {"value": 3, "label": "Muito satisfeito"}],
            })
            update_settings({"send_ratings": True, "default_rating_template": template.id})
        db.session.remove()
    return [{"email": m["email"], "password": m["password"], "profile": m["profile"]} for m in DEMO_MEMBERS]
