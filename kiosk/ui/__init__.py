"""The kiosk's screens (PySide6). They render the checkpoint's state; they decide nothing."""
