"""``lodgepole endpoints create | list | describe | delete``."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from lodgepole.cli._common import EXIT_OK, load_model, positive_int, table


def _endpoints(args: argparse.Namespace) -> int:
    from lodgepole.serving import registry
    from lodgepole.state import state_dir

    if args.action == "list":
        endpoints = registry.list_endpoints()
        if args.json:
            print(json.dumps([asdict(e) for e in endpoints], indent=2))
        elif not endpoints:
            print(f"No endpoints (state directory {state_dir()}).")
        else:
            rows = [("NAME", "STATUS", "URL", "WORKERS", "TYPE", "CREATED")]
            rows += [
                (
                    e.name,
                    e.status,
                    e.url,
                    str(e.instance_count),
                    e.predictor_type,
                    e.created_at,
                )
                for e in endpoints
            ]
            print(table(rows))
    elif args.action == "describe":
        endpoint = asdict(registry.describe_endpoint(args.name))
        if args.json:
            print(json.dumps(endpoint, indent=2))
        else:
            print("\n".join(f"{key:15} {value}" for key, value in endpoint.items()))
    elif args.action == "delete":
        for name in args.name:
            registry.delete_endpoint(name)
            print(f"Deleted endpoint {name}.")
    else:  # create
        from lodgepole.cli._data import read_auth_token

        token = (
            None
            if args.auth_token_file is None
            else read_auth_token(args.auth_token_file)
        )
        predictor = load_model(args.model).deploy(
            initial_instance_count=args.workers,
            endpoint_name=args.name,
            host=args.host,
            port=args.port,
            auth_token=token,
        )
        print(f"Endpoint {predictor.endpoint_name} is in service at {predictor.url}.")
    return EXIT_OK


def add_commands(commands: Any) -> None:
    """Register ``endpoints``."""
    endpoints = commands.add_parser(
        "endpoints",
        help="create, list, describe and delete local endpoints",
        description="Endpoints are server processes that outlive the command "
        "or Python session that started them, recorded in the state directory "
        "($LODGEPOLE_HOME, else ~/.local/state/lodgepole).",
    )
    actions = endpoints.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list endpoints and their status")
    listing.add_argument("--json", action="store_true", help="print JSON")
    describe = actions.add_parser("describe", help="show one endpoint")
    describe.add_argument("name")
    describe.add_argument("--json", action="store_true", help="print JSON")
    delete = actions.add_parser(
        "delete", help="stop endpoints (draining requests) and remove them"
    )
    delete.add_argument("name", nargs="+")
    create = actions.add_parser(
        "create", help="deploy a saved model as a new endpoint and return"
    )
    create.add_argument("model", help="model directory or .tar.gz")
    create.add_argument("--name", default=None, help="endpoint name (default: new)")
    create.add_argument(
        "--workers", type=positive_int, default=1, help="server worker processes"
    )
    create.add_argument("--host", default="127.0.0.1", help="address to bind")
    create.add_argument("--port", type=int, default=None, help="default: a free port")
    create.add_argument(
        "--auth-token-file",
        default=None,
        metavar="PATH",
        help="file holding the bearer token clients must send (default: "
        "$LODGEPOLE_AUTH_TOKEN; no authentication when neither is set)",
    )
    endpoints.set_defaults(handler=_endpoints)
