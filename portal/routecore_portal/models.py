"""The portal's own tables: enterprises, the 400 numbers they hold, who is who, the audit log
(B15).

Flows, call records and statements are not here: they live in routecore's stores and are read
and written through routecore's APIs only (``routecore_portal.stores``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

DID = RegexValidator(r"^[0-9]{3,20}$", _("A 400 number is 3 to 20 digits."))

OPERATOR, ADMIN, SEAT = "operator", "admin", "seat"
ROLES = [
    (OPERATOR, _("operator (back office)")),
    (ADMIN, _("enterprise admin")),
    (SEAT, _("seat")),
]


class Enterprise(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    seats_see_all_calls = models.BooleanField(
        _("seats see every call of their customers"), default=False
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Number(models.Model):
    """A 400 number an enterprise holds, and the zone its times are shown in."""

    did = models.CharField(_("400 number"), max_length=20, unique=True, validators=[DID])
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="numbers")
    tz = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["did"]

    def __str__(self) -> str:
        return self.did


class Member(models.Model):
    """A person's role: an operator of the carrier, or a member of one enterprise. The
    enterprise's ``primary`` admin is the account its 400 numbers log in as."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member"
    )
    role = models.CharField(max_length=16, choices=ROLES)
    enterprise = models.ForeignKey(
        Enterprise, null=True, blank=True, on_delete=models.CASCADE, related_name="members"
    )
    primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role=OPERATOR, enterprise__isnull=True)
                | (~models.Q(role=OPERATOR) & models.Q(enterprise__isnull=False)),
                name="operators_have_no_enterprise",
            ),
            models.UniqueConstraint(
                fields=["enterprise"], condition=models.Q(primary=True), name="one_primary_admin"
            ),
        ]


class AuditEntry(models.Model):
    """Every change made through the portal: who, what, when, from where."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    who = models.CharField(max_length=150)
    role = models.CharField(max_length=16)
    enterprise = models.ForeignKey(
        Enterprise, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200, blank=True)
    detail = models.TextField(blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]


PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
PROMPT_STATES = [
    (PENDING, _("waiting for review")),
    (APPROVED, _("approved")),
    (REJECTED, _("rejected")),
]


class Prompt(models.Model):
    """An uploaded prompt (F2), converted to 8 kHz mono 16-bit WAV: kept in the portal's upload
    folder until an operator approves it, then copied into the prompt folder the adapters read
    under ``file`` (``e<enterprise>-<name>.wav``, so enterprises never share a name)."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="prompts")
    name = models.CharField(_("name"), max_length=64)
    file = models.CharField(max_length=128, unique=True)
    state = models.CharField(max_length=16, choices=PROMPT_STATES, default=PENDING)
    seconds = models.FloatField()
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    source_format = models.CharField(max_length=32)
    uploaded_by = models.CharField(max_length=150)
    reviewer = models.CharField(max_length=150, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "name"], name="one_prompt_a_name")
        ]


class ApiToken(models.Model):
    """A token for the JSON API, acting as its user (and scoped as that user's pages are). Only
    its SHA-256 is kept; the token itself is shown once, when it is made."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=64)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]


class Seat(models.Model):
    """A mobile cloud seat (V5): an agent of the enterprise, the phone that rings for them (a
    destination of the enterprise's flows), the agent id announced (B10)."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="seats")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="seat"
    )
    name = models.CharField(_("name"), max_length=64)
    phone = models.CharField(_("phone"), max_length=24)
    agent_id = models.PositiveSmallIntegerField(_("agent id"), null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    removed = models.DateTimeField(null=True, blank=True)
    """When the admin removed the seat (it can no longer log in; it is still billed for the
    months it had, P4)."""

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "phone"],
                name="one_seat_a_phone",
                condition=models.Q(removed__isnull=True),
            ),
            models.UniqueConstraint(
                fields=["enterprise", "agent_id"],
                name="one_seat_an_agent_id",
                condition=models.Q(agent_id__isnull=False, removed__isnull=True),
            ),
        ]


class CallNote(models.Model):
    """What a seat wrote about a call once it ended (V5)."""

    seat = models.ForeignKey(Seat, on_delete=models.CASCADE, related_name="notes")
    customer = models.ForeignKey(
        "Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="notes"
    )
    did = models.CharField(max_length=20)
    call_id = models.CharField(max_length=128)
    caller = models.CharField(max_length=64)
    text = models.TextField(max_length=2000)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]


class Customer(models.Model):
    """A caller an enterprise knows (V5): made from a caller's number the first time a seat's
    phone rings for it, then named and tagged by the seats."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="customers")
    number = models.CharField(_("number"), max_length=32)
    area = models.CharField(_("area"), max_length=32, blank=True)
    name = models.CharField(_("name"), max_length=64, blank=True)
    company = models.CharField(_("company"), max_length=100, blank=True)
    tags = models.CharField(_("tags"), max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "number"], name="one_customer_a_number")
        ]


class FollowUp(models.Model):
    """A contact plan's step (V5): call a customer back by a time, shown on the workspace."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="follow_ups")
    seat = models.ForeignKey(
        Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    due = models.DateTimeField(_("due"))
    text = models.CharField(_("what to do"), max_length=500)
    done = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["done", "due", "id"]


class Article(models.Model):
    """An article of the enterprise's knowledge base (V5), searched in Chinese through SQLite's
    FTS5 with the trigram tokenizer (``routecore_portal.knowledge``)."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="articles")
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), max_length=50_000)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated", "-id"]


class QrPage(models.Model):
    """A number's QR-code call page (V6): what the public page reached by the code shows, and
    the token in its address (random: the page names nothing else of the enterprise)."""

    number = models.OneToOneField(Number, on_delete=models.CASCADE, related_name="qr_page")
    token = models.CharField(max_length=24, unique=True)
    enabled = models.BooleanField(_("page on"), default=True)
    title = models.CharField(_("service title"), max_length=60)
    text = models.TextField(_("service content"), max_length=1000, blank=True)
    hours = models.CharField(_("service hours"), max_length=100, blank=True)
    logo = models.BinaryField(null=True, blank=True)
    logo_type = models.CharField(max_length=16, blank=True)
    updated = models.DateTimeField(auto_now=True)


class QrVisit(models.Model):
    """Visits of a QR call page on one day (the number's local day)."""

    page = models.ForeignKey(QrPage, on_delete=models.CASCADE, related_name="visits")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["page", "day"], name="one_count_a_day")]


class SmsTemplate(models.Model):
    """A bulk SMS template and its signature (V2): sent only once an operator approved both."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(_("name"), max_length=64)
    signature = models.CharField(_("signature"), max_length=12)
    text = models.TextField(_("text"), max_length=300)
    state = models.CharField(max_length=16, choices=PROMPT_STATES, default=PENDING)
    author = models.CharField(max_length=150)
    reviewer = models.CharField(max_length=150, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]


class Campaign(models.Model):
    """A bulk SMS campaign (V2): one approved template to the recipients the filters chose,
    queued in the call store's outbox as ``campaign-<id>``."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="campaigns")
    template = models.ForeignKey(SmsTemplate, on_delete=models.PROTECT, related_name="campaigns")
    did = models.CharField(max_length=20)
    author = models.CharField(max_length=150)
    recipients = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    per_day = models.PositiveIntegerField(default=10_000)
    filters = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    @property
    def outbox_name(self) -> str:
        return f"campaign-{self.pk}"
