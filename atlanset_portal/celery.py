"""The Celery application; each app's tasks.py is discovered."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atlanset_portal.settings.base")

app = Celery("atlanset_portal", task_cls="atlanset_portal.background:PortalTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _create_embedded_broker_folders(sender: Celery, **kwargs) -> None:
    """The filesystem transport and result backend expect their folders to exist."""
    options = sender.conf.broker_transport_options or {}
    folders = [options.get("data_folder_in"), options.get("data_folder_out"), options.get("processed_folder")]
    backend = str(sender.conf.result_backend or "")
    if backend.startswith("file://"):
        folders.append(backend.removeprefix("file://"))
    for folder in filter(None, folders):
        os.makedirs(folder, exist_ok=True)


@app.task(name="atlanset_portal.ping")
def ping() -> str:
    """Answers "pong": lets deployment checks and tests see that a worker consumes the queue."""
    return "pong"
