"""routecore's self-service portal: the carrier's back office reviews and publishes flows,
enterprises read their calls, hear recordings and change their settings as reviewed drafts (B15).

A Django project of its own beside the adapters: routecore never imports it, and it reads and
writes flows, call records and statements only through routecore's store and billing APIs.
"""
