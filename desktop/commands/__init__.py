"""Sub-commands of `liangbing`; each module has register(subparsers) that sets a handler."""

from desktop.commands import db_cmds, gui_cmd, policy_cmd, print_cmd, report_cmd, settle_cmd, sync_cmd

COMMANDS = [settle_cmd, policy_cmd, db_cmds, sync_cmd, print_cmd, gui_cmd, report_cmd]

from desktop.commands import audit_cmd, backup_cmd  # noqa: E402  (issue 7)

COMMANDS += [backup_cmd, audit_cmd]

from desktop.commands import ledger_cmd, opening_balance_cmd  # noqa: E402  (issue 12 items 2 and 8)

COMMANDS += [ledger_cmd, opening_balance_cmd]
