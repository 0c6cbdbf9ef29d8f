"""The connection service hands start and logout to the bridge: a logout with no live session
wipes the saved profile itself (the next start asks for a new scan); a start enqueues the job."""
from pathlib import Path

from rq import Queue

from app.workers import BRIDGE_QUEUE, queue_name


def test_logout_without_a_session_wipes_the_profile(app, admin_api, factory):
    connection = factory.connection(name="Loja", enabled=True, status="CONNECTED", phone="5511999990000")
    profile = Path(app.config["SESSIONS_DIR"]) / str(connection.id)
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Local Storage").write_text("pareado")
    r = admin_api.post(f"/api/v1/connection/{connection.id}/logout")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["status"] == "DISCONNECTED"
    assert not profile.exists()


def test_start_enqueues_the_session_job(app, admin_api, factory, test_env):
    from app.workers import redis_conn

    connection = factory.connection(name="Vendas")
    r = admin_api.post(f"/api/v1/connection/{connection.id}/start")
    assert r.status_code == 200
    with app.app_context():
        queue = Queue(queue_name(BRIDGE_QUEUE, test_env["REDIS_NAMESPACE"]), connection=redis_conn())
        descriptions = [job.description for job in queue.get_jobs()]
        queue.empty()
    assert f"bridge session of connection {connection.id}" in descriptions
