"""Sub-commands of `liangbing`; each module has register(subparsers) that sets a handler."""

from desktop.commands import db_cmds, policy_cmd, print_cmd, settle_cmd, sync_cmd

COMMANDS = [settle_cmd, policy_cmd, db_cmds, sync_cmd, print_cmd]
