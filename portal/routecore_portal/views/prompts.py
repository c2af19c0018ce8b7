"""Prompts uploaded from the portal: decoded and converted on upload, heard in the page, and
put where the PBXs read them only once an operator approves (B4, B14, B15, F2)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile

from django import forms
from django.contrib import messages
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from routecore_portal import audio, audit, stores
from routecore_portal.access import is_operator, member_required, number_or_404, operator_required
from routecore_portal.models import APPROVED, PENDING, REJECTED, Prompt


class UploadForm(forms.Form):
    name = forms.RegexField(
        label=gettext_lazy("name"),
        regex=r"^[A-Za-z][A-Za-z0-9_]{0,40}$",
        error_messages={"invalid": gettext_lazy("Letters, digits and _, starting with a letter.")},
    )
    file = forms.FileField(label=gettext_lazy("sound file (WAV or MP3)"))


def _write_atomically(folder: str, name: str, data: bytes) -> str:
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        path = os.path.join(folder, name)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


@member_required
def prompt_list(request: HttpRequest, did: str) -> HttpResponse:
    number = number_or_404(request, did)
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            name = form.cleaned_data["name"]
            upload = form.cleaned_data["file"]
            if Prompt.objects.filter(enterprise=number.enterprise, name=name).exists():
                form.add_error("name", _("A prompt of this name exists."))
            elif upload.size > audio.MAX_BYTES:
                form.add_error("file", _("The file is larger than 10 MB."))
            else:
                try:
                    converted = audio.convert(upload.read())
                except audio.AudioError as e:
                    form.add_error("file", str(e))
                else:
                    return _saved(request, number, name, converted)
    prompts = Prompt.objects.filter(enterprise=number.enterprise)
    return render(request, "portal/prompts.html",
                  {"number": number, "form": form, "prompts": prompts}, status=status)  # fmt: skip


def _saved(
    request: HttpRequest, number: object, name: str, converted: audio.Converted
) -> HttpResponse:
    enterprise = number.enterprise  # type: ignore[attr-defined]
    file = f"e{enterprise.pk}-{name}.wav"
    _write_atomically(stores.paths()["uploads"], file, converted.wav)
    Prompt.objects.create(
        enterprise=enterprise, name=name, file=file, seconds=round(converted.seconds, 2),
        size=len(converted.wav), sha256=hashlib.sha256(converted.wav).hexdigest(),
        source_format=converted.source_format, uploaded_by=request.user.get_username(),
    )  # fmt: skip
    audit.record(
        request, "prompt.upload", file, f"{converted.seconds:.1f} s", enterprise=enterprise
    )
    messages.success(request, _("Uploaded; it waits for an operator's review."))
    return redirect("portal:prompts", did=number.did)  # type: ignore[attr-defined]


def _prompt_file(prompt: Prompt) -> str:
    folder = stores.paths()["prompts" if prompt.state == APPROVED else "uploads"]
    path = os.path.join(folder, prompt.file)
    if not re.fullmatch(r"e[0-9]+-[A-Za-z][A-Za-z0-9_]*\.wav", prompt.file) or not os.path.isfile(
        path
    ):
        raise Http404("no such file")
    return path


@member_required
def prompt_audio(request: HttpRequest, did: str, pk: int) -> FileResponse:
    number = number_or_404(request, did)
    prompt = get_object_or_404(Prompt, pk=pk, enterprise=number.enterprise)
    return FileResponse(open(_prompt_file(prompt), "rb"), content_type="audio/wav")


@operator_required
def prompt_review(request: HttpRequest) -> HttpResponse:
    pending = Prompt.objects.filter(state=PENDING).select_related("enterprise")
    numbers = {p.enterprise_id: p.enterprise.numbers.first() for p in pending}
    return render(request, "portal/prompt_review.html",
                  {"pending": [(p, numbers.get(p.enterprise_id)) for p in pending]})  # fmt: skip


@operator_required
def prompt_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    prompt = get_object_or_404(Prompt, pk=pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if action not in ("approve", "reject") or prompt.state != PENDING or not is_operator(request):
        raise Http404("no such action")
    note = request.POST.get("note", "")[:500]
    if action == "approve":
        with open(_prompt_file(prompt), "rb") as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != prompt.sha256:
            messages.error(request, _("The uploaded file changed since it was uploaded."))
            return redirect("portal:prompt_review")
        _write_atomically(stores.paths()["prompts"], prompt.file, data)
        prompt.state = APPROVED
    else:
        if not note.strip():
            messages.error(request, _("A rejection needs a note saying why."))
            return redirect("portal:prompt_review")
        prompt.state = REJECTED
    prompt.reviewer, prompt.note = request.user.get_username(), note
    prompt.save()
    audit.record(request, f"prompt.{action}", prompt.file, note, enterprise=prompt.enterprise)
    return redirect("portal:prompt_review")
