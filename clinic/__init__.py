"""Domain core of the 两病 village-clinic system: models, rules, settlement and storage.

Imports neither Qt nor any HTTP library (tests/test_layering.py enforces it), so the same code runs
in the desktop app, the command line and the township server.
"""

__version__ = "0.1.0"
