"""Reading the statistics: renderers, the SVG chart, the JSON report API and the dashboard.

Everything here reads reports made by :mod:`beaconguard.stats.query`, which has already
applied the k-threshold (and optional noise); nothing here sees a raw visit.
"""
