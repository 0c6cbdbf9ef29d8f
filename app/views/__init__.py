"""Registers every view and API on the AppBuilder. Each module has a register(appbuilder)."""
import importlib

# Order is menu order.
MODULES = [
    "app.views.index",
    "app.views.ticket_api",
    "app.views.chat",
    "app.views.chat_socket",
    "app.views.connections",
    "app.views.queues",
    "app.views.team",
    "app.views.ratings",
    "app.views.quick_replies",
    "app.views.settings",
    "app.views.errors",
]


def register(appbuilder) -> None:
    for name in MODULES:
        importlib.import_module(name).register(appbuilder)
