"""File validators: one module per format, one registry (see ``base.py`` for the contract)."""
