"""The channel layer: the WhatsApp Web driver (whatsapp_web.py), its contract (contract.py), the
session job and its supervisor, and the simulator."""
