"""The trigger daemon and the `coreflow triggers` command (definitions live in store.triggers)."""
