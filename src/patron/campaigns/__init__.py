"""Campaigns: the programs codes are made and given from (INCENTIVES.md §1)."""
