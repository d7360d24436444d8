"""``kamaki``: the command line over synnefo.client, with kamaki 0.16's commands (config with
clouds, user, quota, container, file, image, flavor, server, network, volume, snapshot) and the
seed's (config set image_url|storage_url|token|..., store, glance).

Exit status: 0 done, 1 the server or the client failed (one line on stderr: ``kamaki:
(<status>) <server's message>``), 2 bad usage (argparse's errors, missing settings,
refused confirmations)."""

from __future__ import annotations

import argparse
import os
import sys

from synnefo.client.cli import account, cyclades, images, storage
from synnefo.client.cli.common import Context
from synnefo.client.http import ClientError, ConfigError

GROUPS = (account, storage, images, cyclades)


def common_options(defaults: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the command (``kamaki -o json file list /c`` and
    ``kamaki file list /c -o json``); only the top level sets their defaults."""
    def default(value):
        return value if defaults else argparse.SUPPRESS

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-c", "--config", default=default(None),
                        help="config file (default: $KAMAKI_CONFIG or ~/.kamakirc)")
    parser.add_argument("--cloud", default=default(None), help="the cloud to use (default: default_cloud)")
    parser.add_argument("-o", "--output-format", choices=("text", "json"), default=default("text"),
                        help="json prints results as JSON, for scripts")
    parser.add_argument("-y", "--yes", action="store_true", default=default(False),
                        help="do not ask for confirmations")
    parser.add_argument("--no-progress", action="store_true", default=default(False),
                        help="no progress bars")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kamaki", parents=[common_options(True)],
                                     description="Command-line client for Synnefo clouds.")
    groups = parser.add_subparsers(dest="group", metavar="<group>", required=True)
    leaf = common_options(False)
    for module in GROUPS:
        module.register(groups, leaf)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = Context(config_path=args.config, cloud_name=args.cloud, output_format=args.output_format,
                  yes=args.yes, progress=not args.no_progress)
    try:
        args.func(ctx, args)
    except ConfigError as exc:
        print(f"kamaki: {exc.message}", file=sys.stderr)
        return 2
    except ClientError as exc:
        print(f"kamaki: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kamaki: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `kamaki file cat x | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
