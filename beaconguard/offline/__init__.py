"""Offline logs: parse existing nginx/Apache/JSON access logs and run them through the same
anonymize pipeline (and statistics) as live traffic; audit any log for leftover identifiers.
"""
