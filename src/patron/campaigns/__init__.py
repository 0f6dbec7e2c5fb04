"""Campaigns: the programs codes are made, imported and managed in."""
