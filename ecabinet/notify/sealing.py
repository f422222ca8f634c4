"""Message sealing with the installation master key (the one documents use), through one helper.

The message key is derived from the active master key (``documents.keys.active_key_text``) with
HKDF under the label ``ecabinet.notify.messages.v1`` (see ``core.sealing``).
"""

from __future__ import annotations

import base64
import binascii
import functools

from ecabinet.notify.core import sealing as core


@functools.cache
def _key(master_text: str) -> bytes:
    text = master_text.strip()
    try:
        master = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        master = text.encode()
    return core.derive_key(master)


def message_key() -> bytes:
    from ecabinet.documents.keys import active_key_text

    return _key(active_key_text())


def seal(text: str, *, conversation_id: int) -> bytes:
    return core.seal(message_key(), text, conversation_id=conversation_id)


def unseal(blob: bytes, *, conversation_id: int) -> str:
    return core.unseal(message_key(), blob, conversation_id=conversation_id)
