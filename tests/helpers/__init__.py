"""Helpers shared by several test files (not tests themselves): ``from helpers.<name> import ...``."""
