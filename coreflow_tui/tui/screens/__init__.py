"""The TUI's screens (`*_screen.py`) and dialogs (`*_modal.py`)."""
