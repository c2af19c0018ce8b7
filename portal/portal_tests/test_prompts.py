"""Prompts uploaded (F2): sniffed, decoded and converted to 8 kHz mono 16-bit WAV, waiting for an
operator before the PBXs see them or a flow may name them."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile
from django.core.files.uploadedfile import SimpleUploadedFile

from portal_tests.common import A_DID, B_DID, example
from routecore_portal.models import Prompt


def _tone(
    seconds: float, rate: int, channels: int = 2, fmt: str = "WAV", subtype: str | None = None
) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    sound = np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * channels, axis=1)
    out = io.BytesIO()
    soundfile.write(out, sound, rate, format=fmt, subtype=subtype)
    return out.getvalue()


def _upload(client, name: str, data: bytes, filename: str = "x.wav"):
    return client.post(
        f"/n/{A_DID}/prompts/", {"name": name, "file": SimpleUploadedFile(filename, data)}
    )


def test_a_wav_is_converted_and_waits_for_review(a_client, op_client, stores):
    assert _upload(a_client, "welcome2", _tone(1.5, 44100)).status_code == 302
    prompt = Prompt.objects.get()
    assert prompt.state == "pending" and prompt.file.endswith("-welcome2.wav")
    pending = Path(stores["uploads"], prompt.file)
    info = soundfile.info(str(pending))
    assert (info.samplerate, info.channels, info.subtype) == (8000, 1, "PCM_16")
    assert abs(info.duration - 1.5) < 0.01
    assert not Path(stores["prompts"], prompt.file).exists()  # the PBXs do not see it yet
    # A flow naming it is refused until it is approved.
    flow = example(A_DID).replace("welcome: welcome.wav", f"welcome: {prompt.file}")
    refused = a_client.post(f"/n/{A_DID}/flow/edit/", {"content": flow})
    assert refused.status_code == 400 and prompt.file in refused.content.decode()
    assert op_client.post(f"/ops/prompts/{prompt.pk}/approve/").status_code == 302
    assert Path(stores["prompts"], prompt.file).read_bytes() == pending.read_bytes()
    assert a_client.post(f"/n/{A_DID}/flow/edit/", {"content": flow}).status_code == 302


def test_an_mp3_is_sniffed_whatever_its_name(a_client, stores):
    mp3 = _tone(1.0, 22050, channels=1, fmt="MP3", subtype="MPEG_LAYER_III")
    assert _upload(a_client, "menu_mp3", mp3, filename="menu.wav").status_code == 302
    prompt = Prompt.objects.get()
    assert prompt.source_format == "MP3"
    assert soundfile.info(str(Path(stores["uploads"], prompt.file))).samplerate == 8000


def test_what_does_not_decode_or_is_too_long_is_a_clear_message(a_client, stores):
    a_client.cookies["django_language"] = "en"
    for data, words in (
        (b"this is not sound at all" * 10, "not sound that can be decoded"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt garbage", "not sound that can be decoded"),
        (_tone(121, 8000, channels=1), "longer than 120 seconds"),
        (_tone(0.05, 8000, channels=1), "shorter than"),
        (b"", "is empty"),
    ):
        response = _upload(a_client, "bad", data)
        assert response.status_code == 400, words
        assert words in response.content.decode(), words
    assert not Prompt.objects.exists()


def test_a_rejection_needs_a_note_and_the_file_never_reaches_the_pbx(a_client, op_client, stores):
    _upload(a_client, "loud", _tone(1, 16000))
    prompt = Prompt.objects.get()
    op_client.post(f"/ops/prompts/{prompt.pk}/reject/", {"note": ""})
    assert Prompt.objects.get().state == "pending"
    op_client.post(f"/ops/prompts/{prompt.pk}/reject/", {"note": "太响了"})
    prompt.refresh_from_db()
    assert prompt.state == "rejected" and prompt.note == "太响了"
    assert not Path(stores["prompts"], prompt.file).exists()
    assert a_client.post(f"/ops/prompts/{prompt.pk}/approve/").status_code == 404  # not an operator


def test_prompts_are_heard_only_by_their_enterprise_and_operators(
    a_client, b_client, op_client, stores
):
    _upload(a_client, "hello", _tone(1, 8000))
    prompt = Prompt.objects.get()
    url = f"/n/{A_DID}/prompts/{prompt.pk}/audio"
    assert a_client.get(url).status_code == 200 and op_client.get(url).status_code == 200
    assert b_client.get(url).status_code == 404
    assert b_client.get(f"/n/{B_DID}/prompts/{prompt.pk}/audio").status_code == 404


def test_an_approved_prompt_is_named_in_the_flow_from_the_settings(a_client, op_client, stores):
    a_client.post(f"/n/{A_DID}/flow/edit/", {"content": example(A_DID)})
    _upload(a_client, "newgreeting", _tone(1, 8000))
    prompt = Prompt.objects.get()
    op_client.post(f"/ops/prompts/{prompt.pk}/approve/")
    response = a_client.post(
        f"/n/{A_DID}/settings/",
        {"form": "prompt_file", "prompt_file-name": "greeting2", "prompt_file-file": prompt.file},
    )
    assert response.status_code == 302
    response = a_client.post(
        f"/n/{A_DID}/settings/",
        {"form": "prompt", "prompt-where": "greeting", "prompt-prompt": "greeting2"},
    )
    assert response.status_code == 302
