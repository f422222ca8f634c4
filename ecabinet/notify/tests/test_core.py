from datetime import time

import pytest

from ecabinet.notify.core import sealing, selection, smsformat


def choose(kind="dossier.published", urgency="normal", prefs=None, at=time(12), push=True, sms=True):
    return selection.choose(kind, urgency, prefs or selection.Prefs(), local_time=at, has_push=push, has_sms=sms, sms_kinds=frozenset({"signin.new_device"}))


def test_defaults_and_inapp_always():
    assert choose().channels == {"inapp", "email", "webpush"}
    assert choose(prefs=selection.Prefs(channels={"dossier.published": []})).channels == {"inapp"}


def test_sms_only_for_urgent_or_sign_in_even_if_asked():
    asked = selection.Prefs(channels={"dossier.published": ["sms", "email"]})
    assert "sms" not in choose(prefs=asked).channels
    assert "sms" in choose(prefs=asked, urgency="urgent").channels
    assert "sms" in choose(kind="signin.new_device").channels
    assert "sms" not in choose(kind="signin.new_device", sms=False).channels


def test_quiet_hours_across_midnight_hold_push_unless_urgent():
    quiet = selection.Prefs(quiet_start=time(22), quiet_end=time(7))
    assert choose(prefs=quiet, at=time(23, 30)).channels == {"inapp", "email"}
    assert choose(prefs=quiet, at=time(6, 59)).channels == {"inapp", "email"}
    assert "webpush" in choose(prefs=quiet, at=time(7, 0)).channels
    assert "webpush" in choose(prefs=quiet, at=time(23, 30), urgency="urgent").channels


def test_digest_only_for_non_urgent_email():
    digest = selection.Prefs(digest=True)
    assert choose(prefs=digest).digest_email is True
    assert choose(prefs=digest, urgency="urgent").digest_email is False
    assert choose(push=False).channels == {"inapp", "email"}


def test_sealing_round_trip_binds_conversation_and_key():
    key = sealing.derive_key(b"k" * 32)
    blob = sealing.seal(key, "Họp lúc 8 giờ <b>", conversation_id=7)
    assert b"8 gi" not in blob
    assert sealing.unseal(key, blob, conversation_id=7) == "Họp lúc 8 giờ <b>"
    with pytest.raises(sealing.SealError):
        sealing.unseal(key, blob, conversation_id=8)
    with pytest.raises(sealing.SealError):
        sealing.unseal(sealing.derive_key(b"x" * 32), blob, conversation_id=7)


def test_sms_template_escapes_values():
    body = smsformat.fill(smsformat.DEFAULT_TEMPLATE, to="+84912345678", text='say "hi"\n')
    assert body == '{"to": "+84912345678", "text": "say \\"hi\\"\\n"}'
    assert smsformat.fill("to={to}&msg={text}", to="+84 1", text="a&b", form=True) == "to=%2B84+1&msg=a%26b"
