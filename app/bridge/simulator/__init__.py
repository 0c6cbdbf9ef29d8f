"""The WhatsApp Web simulator: a local stand-in for web.whatsapp.com (DESIGN.md §5, §7).

Mounted under /simulator/ only when SIMULATOR=1 (create_app calls init_app). The page
(/simulator/web/) runs a fake `WPP` honouring app.bridge.contract, with WhatsApp's traps; the
control API (/simulator/api/...) plays the phone and the customers; /simulator/phone/ is the
"celular virtual" a newcomer uses to scan the QR and chat as a customer.
"""


def init_app(app) -> None:
    from app.bridge.simulator.views import blueprint

    app.register_blueprint(blueprint)
