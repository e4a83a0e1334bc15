"""beaconguard's benchmark suite: ``python -m benchmarks`` (``make bench``).

Each scenario group lives in its own module under :mod:`benchmarks.scenarios` and measures
everything it compares in one process run, interleaving repeated rounds of the baseline and
the candidates and keeping medians, so that ratios are fair even on a noisy shared machine.
The results go to the terminal (a table), to ``benchmarks/results/*.json`` and to an SVG
chart. Timings are reported, never asserted: targets are printed as met or missed.
"""
