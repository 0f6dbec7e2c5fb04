"""Async actions: bulk work queued by a request and carried out by workers, resumably."""
