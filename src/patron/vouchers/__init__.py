"""Vouchers: the codes campaigns generate, and the vouchers that carry them."""
