"""placeholder"""
NAME = "http"
