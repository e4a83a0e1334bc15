"""placeholder"""
NAME = "allocations"
