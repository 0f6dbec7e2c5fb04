"""A voucher's `assets`: images Patron itself serves, reachable without credentials."""

from __future__ import annotations

import httpx

from tests.conftest import RunningServer


class TestVoucherAssets:
    def test_the_voucher_links_images_this_server_serves(
        self, http: httpx.Client, anonymous_http: httpx.Client, server: RunningServer
    ) -> None:
        created = http.post(
            "/v1/vouchers/ASSET-1", json={"discount": {"type": "AMOUNT", "amount_off": 100}}
        )
        assert created.status_code == 200, created.text
        assets = created.json()["assets"]
        assert assets["qr"]["url"].startswith(server.base_url + "/v1/assets/qr/")
        assert assets["barcode"]["url"].startswith(server.base_url + "/v1/assets/barcode/")
        assert http.get("/v1/vouchers/ASSET-1").json()["assets"] == assets
        for kind in ("qr", "barcode"):
            image = anonymous_http.get(assets[kind]["url"])
            assert image.status_code == 200
            assert image.headers["content-type"] == "image/png"
            assert image.content.startswith(b"\x89PNG")
        http.delete("/v1/vouchers/ASSET-1")
        assert anonymous_http.get(assets["qr"]["url"]).status_code == 404


class TestNotYetKept:
    def test_a_validation_rule_or_a_category_id_is_a_404_not_ignored(
        self, http: httpx.Client
    ) -> None:
        discount = {"type": "AMOUNT", "amount_off": 100}
        for body, kind in (
            ({"discount": discount, "validation_rules": ["val_x"]}, "validation_rule"),
            ({"discount": discount, "category_id": "cat_x"}, "category"),
        ):
            response = http.post("/v1/vouchers", json=body)
            assert response.status_code == 404, response.text
            assert response.json()["resource_type"] == kind
        campaign = http.post(
            "/v1/campaigns",
            json={
                "name": "Rules",
                "validation_rules": ["val_x"],
                "voucher": {"type": "DISCOUNT_VOUCHER", "discount": discount},
            },
        )
        assert campaign.status_code == 404
        assert http.get("/v1/campaigns").json()["total"] == 0
