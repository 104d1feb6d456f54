"""The shipped policy files (*.toml), installed as the package data `gateway.policies`.

This file only makes the directory a package, so setuptools' editable install maps it like
the wheel does (pyproject.toml `package-dir`); the loader reads the .toml files, never this.
"""
