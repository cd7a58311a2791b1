"""``segr1 serve``: the web app. :mod:`~segr1.serve.core` does the work (no web),
:mod:`~segr1.serve.uploads` vets uploads, :mod:`~segr1.serve.app` is the Gradio page.
Gradio is imported only by :func:`segr1.serve.app.build_ui` (extra ``segr1[serve]``)."""

from segr1.serve.core import Result, Segr1Service, Turn, choose_task, default_policy
from segr1.serve.uploads import UploadError, load_upload

__all__ = [
    "Result",
    "Segr1Service",
    "Turn",
    "UploadError",
    "choose_task",
    "default_policy",
    "load_upload",
]
