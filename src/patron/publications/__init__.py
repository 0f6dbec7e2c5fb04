"""Publications: codes given to customers (INCENTIVES.md §2)."""
