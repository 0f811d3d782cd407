"""The one entry point for the CLI, the app, sweeps and reports.

Submodules: catalog (lists), train, serve, site (core-only estimates), run (scenarios).
"""
