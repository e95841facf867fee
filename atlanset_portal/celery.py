"""The Celery application; each app's tasks.py is discovered."""

import os

from celery import Celery, signals

from .logs import add_request_id_to_task, forget_request_id_of_task, take_request_id_of_task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atlanset_portal.settings.base")

app = Celery("atlanset_portal", task_cls="atlanset_portal.background:PortalTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A task logs under the id of the request that queued it (atlanset_portal/logs.py).
signals.before_task_publish.connect(add_request_id_to_task, weak=False)
signals.task_prerun.connect(take_request_id_of_task, weak=False)
signals.task_postrun.connect(forget_request_id_of_task, weak=False)


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


@app.task(name="atlanset_portal.ping", ignore_result=False)
def ping() -> str:
    """Answers "pong": lets deployment checks and tests see that a worker consumes the queue (its result
    is kept, unlike every other task's)."""
    return "pong"
