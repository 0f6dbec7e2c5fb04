"""Validation rules: rule sets, their assignments to campaigns and vouchers, and their
evaluation (INCENTIVES.md §3, §3.1)."""
