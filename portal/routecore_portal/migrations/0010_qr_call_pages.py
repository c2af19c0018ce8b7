"""The numbers' QR-code call pages and their visits per day (V6)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("routecore_portal", "0009_seats_removed_and_visibility"),
    ]

    operations = [
        migrations.CreateModel(
            name="QrPage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("token", models.CharField(max_length=24, unique=True)),
                ("enabled", models.BooleanField(default=True, verbose_name="page on")),
                ("title", models.CharField(max_length=60, verbose_name="service title")),
                (
                    "text",
                    models.TextField(blank=True, max_length=1000, verbose_name="service content"),
                ),
                (
                    "hours",
                    models.CharField(blank=True, max_length=100, verbose_name="service hours"),
                ),
                ("logo", models.BinaryField(blank=True, null=True)),
                ("logo_type", models.CharField(blank=True, max_length=16)),
                ("updated", models.DateTimeField(auto_now=True)),
                (
                    "number",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="qr_page",
                        to="routecore_portal.number",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="QrVisit",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("count", models.PositiveIntegerField(default=0)),
                (
                    "page",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="visits",
                        to="routecore_portal.qrpage",
                    ),
                ),
            ],
            options={
                "ordering": ["-day"],
                "constraints": [
                    models.UniqueConstraint(fields=("page", "day"), name="one_count_a_day")
                ],
            },
        ),
    ]
