"""Opening what a service process needs, with errors that say what to fix."""

from __future__ import annotations

import base64
import logging
import os

from core.number_crypto import MasterKey
from core.settings import Settings, decode_master_key

log = logging.getLogger(__name__)


def resolve_master_key(settings: Settings) -> MasterKey:
    """CLOSECALL_MASTER_KEY (with CLOSECALL_MASTER_KEY_PREVIOUS during a rotation); in the
    local stack only, one generated into the data directory."""
    previous = settings.previous_master_key_bytes()
    if settings.master_key or settings.environment != "local":
        current = settings.master_key_bytes()
        return (current, previous) if previous else current
    path = settings.data_dir / "master.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(os.urandom(32)).decode())
        log.warning(
            "local mode: generated a master key into %s; back it up (without it no stored "
            "number can be decrypted) and set CLOSECALL_MASTER_KEY outside local mode",
            path,
        )
    return decode_master_key(path.read_text(), str(path))


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level={"warn": "WARNING"}.get(level, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Client libraries log every connection at INFO; keep their warnings only.
    for noisy in ("kafka", "aiokafka", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
