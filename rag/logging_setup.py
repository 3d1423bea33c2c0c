"""Logging configuration, called only by entry points (CLI, server, worker)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

# mmrag's own packages log at the configured level; third-party libraries (open_clip logs
# every step of a model load at INFO on the root logger) only from WARNING up.
OWN_PACKAGES = ("rag", "indexers", "rerankers", "translators", "eval")


def configure_logging(level: str = "INFO", *, console: Any = None) -> None:
    """Plain lines on stderr; through a rich console when one draws live progress, so log
    lines print above the bars instead of tearing them."""
    handler: logging.Handler
    if console is not None:
        from rich.logging import RichHandler

        handler = RichHandler(console=console, show_path=False, log_time_format="%H:%M:%S")
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(logging.WARNING, logging.getLevelName(level)))
    for name in OWN_PACKAGES:
        logging.getLogger(name).setLevel(level)
    if level != "DEBUG":
        # Hugging Face libraries draw a progress bar for every model load; logs want lines.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
