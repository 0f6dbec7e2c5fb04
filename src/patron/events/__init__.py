"""Custom events: what customers do, tracked by the shop's server or its pages."""
