"""Seats removed by the admin (kept for the months they are billed) and whether seats see every
call of their customers (B15)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("routecore_portal", "0008_article_search"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="seat",
            name="one_seat_a_phone",
        ),
        migrations.RemoveConstraint(
            model_name="seat",
            name="one_seat_an_agent_id",
        ),
        migrations.AddField(
            model_name="enterprise",
            name="seats_see_all_calls",
            field=models.BooleanField(
                default=False, verbose_name="seats see every call of their customers"
            ),
        ),
        migrations.AddField(
            model_name="seat",
            name="removed",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="seat",
            constraint=models.UniqueConstraint(
                condition=models.Q(("removed__isnull", True)),
                fields=("enterprise", "phone"),
                name="one_seat_a_phone",
            ),
        ),
        migrations.AddConstraint(
            model_name="seat",
            constraint=models.UniqueConstraint(
                condition=models.Q(("agent_id__isnull", False), ("removed__isnull", True)),
                fields=("enterprise", "agent_id"),
                name="one_seat_an_agent_id",
            ),
        ),
    ]
