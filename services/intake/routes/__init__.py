"""Intake's HTTP routes, one module per feature of ``IntakeApplication``; ``api.py``
includes them all under ``/v1``."""
