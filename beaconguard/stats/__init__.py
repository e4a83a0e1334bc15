"""Anonymous statistics: counters and daily-unique sketches, never profiles.

:mod:`~beaconguard.stats.aggregator` counts finished requests in memory and flushes them
to a store (:mod:`~beaconguard.stats.store`); :mod:`~beaconguard.stats.query` reads
reports back with small cells suppressed.
"""
