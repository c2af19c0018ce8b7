"""Uploaded prompts decoded and converted for the PBXs: 8 kHz, mono, 16-bit PCM WAV (B15, F2).

The format is sniffed from the bytes by libsndfile (soundfile), never taken from the file's
name; WAV, MP3, FLAC and OGG decode. Resampling by soxr (high quality). Limits: 10 MB uploaded,
at most 120 s of sound, at least 0.2 s.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from django.utils.translation import gettext as _

MAX_BYTES = 10 * 1024 * 1024
MAX_SECONDS = 120.0
MIN_SECONDS = 0.2
RATE = 8000


class AudioError(ValueError):
    """An upload that cannot become a prompt; the message says why, for the person uploading."""


@dataclass(frozen=True)
class Converted:
    wav: bytes
    seconds: float
    source_format: str


def convert(data: bytes) -> Converted:
    """The prompt made from an upload's bytes (AudioError when it cannot be)."""
    import soundfile
    import soxr

    if len(data) > MAX_BYTES:
        raise AudioError(_("The file is larger than 10 MB."))
    if not data:
        raise AudioError(_("The file is empty."))
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as f:
            fmt = f.format
            rate = f.samplerate
            frames = f.frames
            if rate <= 0 or frames / rate > MAX_SECONDS + 1:
                raise AudioError(_("The sound is longer than 120 seconds."))
            sound = f.read(dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception:
        raise AudioError(
            _("The file is not sound that can be decoded (WAV, MP3, FLAC or OGG expected).")
        ) from None
    seconds = len(sound) / rate
    if seconds < MIN_SECONDS:
        raise AudioError(_("The sound is shorter than 0.2 seconds."))
    if seconds > MAX_SECONDS:
        raise AudioError(_("The sound is longer than 120 seconds."))
    mono = sound.mean(axis=1)
    if not np.isfinite(mono).all():
        raise AudioError(_("The file holds samples that are not numbers."))
    out = soxr.resample(mono, rate, RATE, quality="HQ") if rate != RATE else mono
    out = np.clip(out, -1.0, 1.0)
    buffer = io.BytesIO()
    soundfile.write(buffer, out, RATE, subtype="PCM_16", format="WAV")
    return Converted(buffer.getvalue(), len(out) / RATE, str(fmt))
