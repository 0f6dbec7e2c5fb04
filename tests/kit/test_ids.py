"""Identifiers: their shape, their randomness, and customer ids that sort as they were made."""

from __future__ import annotations

import collections
import re
import string
import time

from patron.kit import ids

CUSTOMER_ID = re.compile(r"cust_[A-Za-z0-9]{24}")
ACTIVITY_ID = re.compile(r"evcus_[0-9a-f]{18}")


class TestCustomerIds:
    def test_shape_one_at_a_time_and_in_bulk(self) -> None:
        assert CUSTOMER_ID.fullmatch(ids.customer_id())
        many = ids.customer_ids(1000)
        assert len(many) == len(set(many)) == 1000
        assert all(CUSTOMER_ID.fullmatch(customer_id) for customer_id in many)
        assert ids.customer_ids(0) == []

    def test_later_ids_sort_after_earlier_ones(self) -> None:
        earlier = ids.customer_ids(100)
        time.sleep(0.002)
        later = ids.customer_id()
        assert all(customer_id < later for customer_id in earlier)

    def test_random_part_uses_every_character_alike(self) -> None:
        counts = collections.Counter("".join(i[-16:] for i in ids.customer_ids(20_000)))
        assert set(counts) == set(string.ascii_letters + string.digits)
        expected = 20_000 * 16 / 62
        assert all(abs(count - expected) < 0.1 * expected for count in counts.values())


class TestActivityIds:
    def test_shape_and_uniqueness(self) -> None:
        assert ACTIVITY_ID.fullmatch(ids.activity_id())
        many = ids.activity_ids(1000)
        assert len(set(many)) == 1000
        assert all(ACTIVITY_ID.fullmatch(activity_id) for activity_id in many)


class TestVoucherIds:
    def test_in_bulk_they_are_distinct_and_ascending(self) -> None:
        many = ids.voucher_ids(1000)
        assert len(set(many)) == 1000
        assert all(re.fullmatch(r"v_[A-Za-z0-9]{24}", voucher_id) for voucher_id in many)
        assert many == sorted(many)
        assert ids.voucher_ids(0) == []
