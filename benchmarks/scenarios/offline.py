"""placeholder"""
NAME = "offline"
