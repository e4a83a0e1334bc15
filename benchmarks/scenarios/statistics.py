"""placeholder"""
NAME = "statistics"
