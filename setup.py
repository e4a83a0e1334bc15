"""Builds the optional C part (``beaconguard._speedups``); everything else is in pyproject.toml.

The extension is optional: without a C compiler the install still succeeds and the
consent gate and the access log run their Python paths, which give the same answers, only
slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "beaconguard._speedups",
            ["beaconguard/_speedups.c", "beaconguard/_logreplay.c", "beaconguard/_blake2b.c"],
            depends=["beaconguard/_speedups.h"],
            optional=True,
        )
    ]
)
