"""CoreFlow JobQueues: the `coreflow` command, the terminal UI, the runner and triggers.

cli/ the command line, tui/ the terminal UI, runner/ the bundled runner, triggers/ the
trigger daemon, ops/ `coreflow serve` and running on build hosts; the modules here are the
headless text both the CLI and the TUI use (present, wording, fmt, safetext, exits).
"""

__version__ = "0.1.0"
