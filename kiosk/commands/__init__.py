"""The `kiosk` sub-commands by area; `kiosk/cli.py` assembles them."""
