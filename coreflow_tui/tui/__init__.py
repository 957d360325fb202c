"""The terminal UI (`coreflow tui`): a Textual app over a snapshot of the spool."""
