"""The portal's URLs: every page of a number under ``n/<did>/``, the back office under
``ops/`` (B15)."""

from __future__ import annotations

from django.contrib.auth.views import LogoutView
from django.urls import URLPattern, URLResolver, include, path

from routecore_portal.api import api
from routecore_portal.views import (
    bulk_sms,
    calls,
    customers,
    dashboard,
    flows,
    home,
    knowledge,
    media,
    ops,
    prompts,
    qr,
    review,
    seat_admin,
    seat_calls,
    seats,
    settings,
    sms_hooks,
    sms_log,
    statement,
    stats,
    tokens,
)

number_pages: list[URLPattern | URLResolver] = [
    path("", dashboard.dashboard, name="dashboard"),
    path("calls/", calls.call_list, name="calls"),
    path("calls.csv", calls.call_export, name="calls_csv"),
    path("calls/<str:call_id>/", calls.call_detail, name="call"),
    path("calls/<str:call_id>/<str:kind>", media.media, name="media"),
    path("stats/", stats.branch_stats, name="stats"),
    path("stats.csv", stats.branch_stats_csv, name="stats_csv"),
    path("flow/", flows.history, name="flow"),
    path("flow/edit/", flows.edit, name="flow_edit"),
    path("flow/<int:version>/", flows.version, name="flow_version"),
    path("flow/<int:version>/submit/", flows.submit, name="flow_submit"),
    path("flow/<int:version>/<str:action>/", review.act, name="flow_act"),
    path("statement/", statement.month_statement, name="statement"),
    path("settings/", settings.number_settings, name="settings"),
    path("prompts/", prompts.prompt_list, name="prompts"),
    path("prompts/<int:pk>/audio", prompts.prompt_audio, name="prompt_audio"),
    path("qr/", qr.qr_settings, name="qr"),
    path("sms/", sms_log.sms_log, name="sms_log"),
    path("qr.<str:fmt>", qr.qr_code, name="qr_code"),
]

portal: list[URLPattern | URLResolver] = [
    path("", home.home, name="home"),
    path("login/", home.Login.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("n/<str:did>/", include(number_pages)),
    path("q/<str:token>/", qr.public, name="qr_public"),
    path("hooks/sms-up/<str:token>", sms_hooks.sms_up, name="sms_up"),
    path("q/<str:token>/logo", qr.public_logo, name="qr_logo"),
    path("ops/", ops.ops_home, name="ops"),
    path("ops/enterprises/new/", ops.enterprise_new, name="enterprise_new"),
    path("ops/enterprises/<int:pk>/", ops.enterprise, name="enterprise"),
    path("ops/audit/", ops.audit_log, name="audit"),
    path("tokens/", tokens.token_list, name="tokens"),
    path("seats/", seat_admin.seat_list, name="seats"),
    path("seats/<int:pk>/remove/", seat_admin.remove, name="seat_remove"),
    path("seats/visibility/", seat_admin.visibility, name="seat_visibility"),
    path("seats/now.json", seat_admin.states, name="seat_states"),
    path("seat/", seats.workspace, name="workspace"),
    path("seat/presence/", seats.toggle, name="seat_toggle"),
    path("seat/events", seats.events, name="seat_events"),
    path("seat/notes/", seats.note, name="seat_note"),
    path("seat/call/", seat_calls.call_back, name="seat_call"),
    path("seat/transfer/", seat_calls.transfer, name="seat_transfer"),
    path("customers/", customers.customer_list, name="customers"),
    path("customers/<int:pk>/", customers.customer_detail, name="customer"),
    path("customers/<int:pk>/follow-up/", customers.follow_up, name="follow_up"),
    path("follow-ups/<int:pk>/done/", customers.follow_up_done, name="follow_up_done"),
    path("knowledge/", knowledge.article_list, name="articles"),
    path("knowledge/<int:pk>/", knowledge.article_detail, name="article"),
    path("tokens/<int:pk>/revoke/", tokens.token_revoke, name="token_revoke"),
    path("ops/prompts/", prompts.prompt_review, name="prompt_review"),
    path("ops/sms/", bulk_sms.template_review, name="template_review"),
    path("sms/", bulk_sms.bulk_sms, name="bulk_sms"),
    path("sms/campaigns/", bulk_sms.campaign_new, name="campaign_new"),
    path("sms/campaigns/<int:pk>/", bulk_sms.campaign, name="campaign"),
    path("ops/prompts/<int:pk>/<str:action>/", prompts.prompt_act, name="prompt_act"),
]

urlpatterns = [
    path("", include((portal, "portal"))),
    path("api/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]
