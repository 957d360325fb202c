"""Running CoreFlow for real on build hosts: `coreflow serve` (serve.py), metrics, shell
completion, the systemd service (notify protocol, journald lines, the unit) and the spool's
housekeeping.

Each module is imported only by the command that needs it, so `coreflow submit`
never pays for prometheus_client or argcomplete.
"""
