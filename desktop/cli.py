"""The `liangbing` command line. Each sub-command lives in desktop/commands/; this file only parses.

Errors end with one line on stderr and a non-zero exit, never a traceback (DESIGN.md "Contracts").
"""

from __future__ import annotations

import argparse
import sys

from clinic import __version__
from desktop.commands import COMMANDS


class UserError(Exception):
    """A reason to stop that the user can act on; printed as one line."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liangbing", description="村卫生室“两病”门诊用药保障系统")
    parser.add_argument("--version", action="version", version=f"liangbing {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("已中断", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the user, never a traceback
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"liangbing: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
