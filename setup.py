"""Builds the optional C part (``beaconguard._speedups``); everything else is in pyproject.toml.

The extension is optional: without a C compiler the install still succeeds and the
consent gate runs its Python path, which gives the same answers, only slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "beaconguard._speedups",
            ["beaconguard/_speedups.c"],
            optional=True,
        )
    ]
)
