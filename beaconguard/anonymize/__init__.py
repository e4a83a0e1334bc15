"""Anonymization: one small processor per field, composed by :mod:`.pipeline`."""

from beaconguard.anonymize.pipeline import Pipeline, Record, Step, build_pipeline

__all__ = ["Pipeline", "Record", "Step", "build_pipeline"]
