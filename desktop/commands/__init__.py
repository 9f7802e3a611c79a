"""Sub-commands of `liangbing`; each module has register(subparsers) that sets a handler."""

from desktop.commands import db_cmds, policy_cmd, settle_cmd

COMMANDS = [settle_cmd, policy_cmd, db_cmds]
