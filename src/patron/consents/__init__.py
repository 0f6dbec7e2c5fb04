"""Consents (legacy, still called by the JS SDK): definitions, groups, and customers' choices."""
