"""The portal on PostgreSQL stores (``ROUTECORE_STORE``/``ROUTECORE_CALLS`` as
``postgresql://…``): the same tests as on SQLite files, run against one database."""

from __future__ import annotations

from portal_tests import test_calls, test_flows


def test_the_records_page_pages_and_filters(a_client, pg_stores):
    test_calls.test_the_records_page_pages_newest_first_and_filters(a_client, pg_stores)


def test_bad_filters_are_a_400(a_client, pg_stores):
    test_calls.test_bad_filters_are_a_400_with_the_field_named(a_client, pg_stores)


def test_the_csv_export_streams_every_row(a_client, pg_stores):
    test_calls.test_csv_export_streams_every_row_and_defuses_formulas(a_client, pg_stores)


def test_draft_review_publish_and_roll_back(a_client, op_client, pg_stores):
    test_flows.test_draft_submit_approve_publish_and_roll_back(a_client, op_client, pg_stores)


def test_the_diff_against_the_live_version(a_client, op_client, pg_stores):
    test_flows.test_the_diff_against_the_live_version_is_shown(a_client, op_client, pg_stores)
