"""CoreFlow JobQueues: the `coreflow` command, the terminal UI, the runner and triggers."""

__version__ = "0.1.0"
