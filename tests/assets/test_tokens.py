"""Asset tokens: they name one voucher of one project, and only that project's key makes them."""

from __future__ import annotations

import base64
import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.assets.tokens import (
    MAX_TOKEN_LENGTH,
    asset_token,
    read_token,
    token_matches,
    voucher_assets,
)

KEY = bytes(range(32))
ids = st.text(min_size=1, max_size=100).filter(lambda text: "\x00" not in text)


def _raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TestAssetToken:
    @given(project_id=ids, voucher_id=st.text(min_size=1, max_size=100))
    def test_round_trip(self, project_id: str, voucher_id: str) -> None:
        token = asset_token(KEY, project_id, voucher_id)
        read = read_token(token)
        assert read is not None
        assert read[:2] == (project_id, voucher_id)
        assert token_matches(KEY, project_id, voucher_id, read[2])

    def test_url_safe_and_the_same_every_time(self) -> None:
        token = asset_token(KEY, "proj_abc", "v_123")
        assert token == asset_token(KEY, "proj_abc", "v_123")
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    def test_another_projects_key_does_not_verify(self) -> None:
        token = asset_token(KEY, "proj_abc", "v_123")
        read = read_token(token)
        assert read is not None
        assert not token_matches(secrets.token_bytes(32), "proj_abc", "v_123", read[2])

    def test_another_voucher_id_does_not_verify(self) -> None:
        read = read_token(asset_token(KEY, "proj_abc", "v_123"))
        assert read is not None
        assert not token_matches(KEY, "proj_abc", "v_124", read[2])
        assert not token_matches(KEY, "proj_abd", "v_123", read[2])

    def test_ids_cannot_be_shifted_between_project_and_voucher(self) -> None:
        one = read_token(asset_token(KEY, "proj_a", "bv_1"))
        assert one is not None
        assert not token_matches(KEY, "proj_ab", "v_1", one[2])

    @pytest.mark.parametrize(("project_id", "voucher_id"), [("", "v_1"), ("p", ""), ("p\x00", "v")])
    def test_refuses_ids_it_cannot_carry(self, project_id: str, voucher_id: str) -> None:
        with pytest.raises(ValueError, match="token"):
            asset_token(KEY, project_id, voucher_id)


class TestReadToken:
    @given(st.text(max_size=300))
    def test_never_raises(self, text: str) -> None:
        read = read_token(text)
        if read is not None:
            # Whatever it accepts is exactly what asset_token makes of those ids and MAC.
            assert _raw(text)[1:17] == read[2]
            assert _token(_raw(text)) == text

    @pytest.mark.parametrize(
        "token",
        [
            "",
            "not a token",
            "abc+def/",
            "a",  # not base64 at all
            "x" * (MAX_TOKEN_LENGTH + 1),
            _token(bytes([1]) + bytes(16) + b"proj_a"),  # no voucher id
            _token(bytes([1]) + bytes(16) + b"\x00v_1"),  # no project id
            _token(bytes([1]) + bytes(16) + b"proj_a\x00"),
            _token(bytes([2]) + bytes(16) + b"proj_a\x00v_1"),  # unknown version
            _token(bytes([1]) + bytes(16) + b"proj_\xff\x00v_1"),  # not UTF-8
            _token(bytes([1]) + bytes(10)),  # too short for a MAC
        ],
    )
    def test_refuses_what_asset_token_cannot_make(self, token: str) -> None:
        assert read_token(token) is None

    def test_one_spelling_per_token(self) -> None:
        token = asset_token(KEY, "proj_abc", "v_123")
        assert len(token) % 4 != 0  # it ends in a character with unused bits
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        last = alphabet.index(token[-1])
        aliases = [token[:-1] + alphabet[last ^ bit] for bit in (1, 2, 4, 8)]
        same_bytes = [alias for alias in aliases if _raw(alias) == _raw(token)]
        assert same_bytes  # base64 alone would take them
        assert all(read_token(alias) is None for alias in same_bytes)


class TestVoucherAssets:
    def test_voucherifys_shape_with_urls_on_this_server(self) -> None:
        assets = voucher_assets("https://vouchers.example", KEY, "proj_abc", "v_123")
        token = asset_token(KEY, "proj_abc", "v_123")
        assert assets == {
            "qr": {"id": token, "url": f"https://vouchers.example/v1/assets/qr/{token}"},
            "barcode": {"id": token, "url": f"https://vouchers.example/v1/assets/barcode/{token}"},
        }
