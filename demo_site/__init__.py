"""A small Starlette shop and blog that uses every beaconguard feature."""
