"""The master keyring from the settings.

Production names the key in ECABINET_MASTER_KEY_FILE or ECABINET_MASTER_KEY (settings refuse to
start without one). The embedded default makes ``var/keys/master.key`` (mode 0600) on first use.
Older master keys stay readable from the keyring folder (``*.key``), so ``ecabinet documents
rekey`` can move every data key to the new one.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from django.conf import settings

from ecabinet.documents.core.crypto import Keyring, new_master_key_text

_lock = threading.Lock()


def _ensure_embedded_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_EXCL: two processes starting together never overwrite each other's fresh key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(new_master_key_text() + "\n")


def active_key_text() -> str:
    if settings.MASTER_KEY:
        return str(settings.MASTER_KEY)
    path = Path(settings.MASTER_KEY_FILE)
    if not path.exists() and not settings.PRODUCTION:
        with _lock:
            _ensure_embedded_key(path)
    return path.read_text()


def keyring() -> Keyring:
    return Keyring.load(active_key_text(), Path(settings.KEYRING_DIR))
