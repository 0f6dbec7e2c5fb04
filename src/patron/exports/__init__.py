"""Exports of customers and orders: CSV downloads streamed from PostgreSQL."""
