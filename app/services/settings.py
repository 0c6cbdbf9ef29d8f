"""Configurações › Opções: the single settings row."""
from app.models import Settings, db


def get_settings() -> Settings:
    """The settings row, read fresh from the database (several processes change and read it, so
    nothing is cached in-process)."""
    settings = db.session.get(Settings, 1)
    if settings is None:
        settings = Settings(id=1)
        db.session.add(settings)
        db.session.flush()
    return settings
