"""Only the optional C accelerator lives here; all metadata is in pyproject.toml."""

from setuptools import Extension, setup

# optional: where no C compiler is available the kiosk falls back to the numpy Base45 decoder.
setup(ext_modules=[Extension("kiosk.codes._base45", ["kiosk/codes/_base45.c"], optional=True)])
