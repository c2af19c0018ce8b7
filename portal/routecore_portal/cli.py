"""``routecore-portal``: ``serve``, the portal on 127.0.0.1:8000 by uvicorn, its database made
or migrated first and a first operator made with a one-time password when there is none;
``operator NAME``, another operator; ``manage …``, Django's management commands (B15)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routecore_portal.settings")
    import django

    django.setup()


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def make_operator(name: str) -> str:
    """A new operator ``name`` with a one-time password, which is returned."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from routecore_portal.models import OPERATOR, Member
    from routecore_portal.views.ops import one_time_password

    password = one_time_password()
    with transaction.atomic():
        user = get_user_model().objects.create_user(name, password=password)
        Member.objects.create(user=user, role=OPERATOR)
    return password


def first_operator() -> tuple[str, str] | None:
    """``(name, one-time password)`` of a first operator, made when there is no operator."""
    from routecore_portal.models import OPERATOR, Member

    if Member.objects.filter(role=OPERATOR).exists():
        return None
    return "operator", make_operator("operator")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    if not _loopback(args.host) and not args.public:
        print(
            f"routecore-portal: {args.host} is not a loopback address: put the portal behind a "
            "TLS proxy and pass --public (and ROUTECORE_PORTAL_HTTPS=1)",
            file=sys.stderr,
        )
        return 2
    _migrate()
    made = first_operator()
    print(f"routecore portal: http://{args.host}:{args.port}/", flush=True)
    if made is not None:
        print(f"first operator: {made[0]}  one-time password: {made[1]}", flush=True)
    import uvicorn

    uvicorn.run(
        "routecore_portal.asgi:application",
        host=args.host,
        port=args.port,
        log_level="warning",
        lifespan="off",
    )
    return 0


def cmd_operator(args: argparse.Namespace) -> int:
    from django.contrib.auth import get_user_model

    _migrate()
    if get_user_model().objects.filter(username=args.name).exists():
        print(f"routecore-portal: user {args.name!r} exists", file=sys.stderr)
        return 2
    print(f"operator: {args.name}  one-time password: {make_operator(args.name)}")
    return 0


def cmd_manage(args: argparse.Namespace) -> int:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["routecore-portal manage", *args.rest])
    return 0


def _prepare() -> None:
    """The portal's folder and signing key, before Django reads its settings."""
    from routecore_portal import settings

    os.makedirs(os.path.dirname(os.path.abspath(settings.PORTAL_DB)), exist_ok=True)
    settings.make_secret_file()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="routecore-portal", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the portal (ASGI, uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--public", action="store_true", help="allow a non-loopback address")
    serve.set_defaults(run=cmd_serve)
    op = sub.add_parser("operator", help="make another operator (prints a one-time password)")
    op.add_argument("name")
    op.set_defaults(run=cmd_operator)
    manage = sub.add_parser("manage", help="a Django management command")
    manage.add_argument("rest", nargs=argparse.REMAINDER)
    manage.set_defaults(run=cmd_manage)
    args = parser.parse_args(argv)
    _prepare()
    _django()
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
