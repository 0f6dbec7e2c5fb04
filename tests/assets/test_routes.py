"""`GET /v1/assets/qr/{token}` and `GET /v1/assets/barcode/{token}`: vouchers' codes as images,
without credentials, for tokens this server made only."""

from __future__ import annotations

import base64
import io
import itertools
import socket
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
import segno
import zxingcpp
from PIL import Image
from schemathesis.specs.openapi.schemas import OpenApiSchema

from patron.app import openapi_document
from patron.assets.images import QR_BORDER, QR_SCALE
from patron.assets.tokens import asset_token, read_token, voucher_assets
from patron.projects.service import Credentials
from tests.conftest import Database, RunningServer
from tests.factories import unique

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def asset_key(db: Database, project: Credentials) -> bytes:
    key: bytes = db.fetchval("SELECT asset_key FROM projects WHERE id = $1", project.project_id)
    return key


def insert_voucher(db: Database, project: Credentials, *, code: str | None = None) -> str:
    """A voucher row as the vouchers API will write it (only what assets read); its id."""
    voucher_id = unique("v")
    db.fetch(
        "INSERT INTO vouchers (project_id, id, code, type) VALUES ($1, $2, $3, 'DISCOUNT_VOUCHER')",
        project.project_id,
        voucher_id,
        code or unique("CODE").upper(),
    )
    return voucher_id


def code_of(db: Database, project: Credentials, voucher_id: str) -> str:
    code: str = db.fetchval(
        "SELECT code FROM vouchers WHERE project_id = $1 AND id = $2",
        project.project_id,
        voucher_id,
    )
    return code


def token_of(db: Database, project: Credentials, voucher_id: str) -> str:
    return asset_token(asset_key(db, project), project.project_id, voucher_id)


QR = zxingcpp.BarcodeFormat.QRCode
CODE_128 = zxingcpp.BarcodeFormat.Code128


def decoded(png: bytes) -> list[tuple[zxingcpp.BarcodeFormat, str]]:
    """What a scanner reads in the image: (format, text) of each symbol found."""
    return [
        (found.format, found.text) for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    ]


def assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["code"] == 404
    assert body["key"] == "not_found"
    assert body["message"] == "Resource not found"
    assert body["resource_type"] == "asset"
    assert body["request_id"] == response.headers["x-request-id"]


@pytest.fixture
def voucher(server: RunningServer, project: Credentials) -> tuple[str, str]:
    """A live voucher of the test's project: (code, token)."""
    voucher_id = insert_voucher(server.db, project, code="SPRING-2026-xyz")
    return "SPRING-2026-xyz", token_of(server.db, project, voucher_id)


class TestVoucherAssets:
    def test_the_urls_it_renders_are_served_without_credentials(
        self, server: RunningServer, project: Credentials, anonymous_http: httpx.Client
    ) -> None:
        voucher_id = insert_voucher(server.db, project)
        assets = voucher_assets(
            server.base_url, asset_key(server.db, project), project.project_id, voucher_id
        )
        for kind in ("qr", "barcode"):
            url = assets[kind]["url"]
            assert urlsplit(url).netloc == urlsplit(server.base_url).netloc
            response = anonymous_http.get(url)
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "image/png"
        assert read_token(assets["qr"]["id"]) is not None


class TestQRCode:
    def test_png_reads_back_as_the_code(
        self, anonymous_http: httpx.Client, voucher: tuple[str, str]
    ) -> None:
        code, token = voucher
        response = anonymous_http.get(f"/v1/assets/qr/{token}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        assert response.content.startswith(PNG_SIGNATURE)
        assert decoded(response.content) == [(QR, code)]

    def test_png_is_segnos_symbol_of_the_code(
        self, anonymous_http: httpx.Client, voucher: tuple[str, str]
    ) -> None:
        code, token = voucher
        image = Image.open(io.BytesIO(anonymous_http.get(f"/v1/assets/qr/{token}").content))
        symbol = segno.make_qr(code)
        assert image.size == symbol.symbol_size(scale=QR_SCALE, border=QR_BORDER)
        gray = image.convert("L")
        drawn = [
            [
                gray.getpixel(
                    ((QR_BORDER + column) * QR_SCALE + QR_SCALE // 2, (QR_BORDER + row) * QR_SCALE)
                )
                == 0
                for column in range(len(symbol.matrix[0]))
            ]
            for row in range(len(symbol.matrix))
        ]
        assert drawn == [[bool(module) for module in line] for line in symbol.matrix]

    def test_svg_on_request(self, anonymous_http: httpx.Client, voucher: tuple[str, str]) -> None:
        code, token = voucher
        response = anonymous_http.get(f"/v1/assets/qr/{token}", params={"format": "svg"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/svg+xml"
        expected = io.BytesIO()
        segno.make_qr(code).save(expected, kind="svg", scale=QR_SCALE, border=QR_BORDER)
        assert response.content == expected.getvalue()

    def test_png_when_asked_by_name(
        self, anonymous_http: httpx.Client, voucher: tuple[str, str]
    ) -> None:
        _, token = voucher
        response = anonymous_http.get(f"/v1/assets/qr/{token}", params={"format": "png"})
        assert response.headers["content-type"] == "image/png"

    def test_any_code_a_qr_code_holds(
        self, server: RunningServer, project: Credentials, anonymous_http: httpx.Client
    ) -> None:
        code = "Zażółć-GĘŚLĄ-jaźń-😀"
        token = token_of(server.db, project, insert_voucher(server.db, project, code=code))
        response = anonymous_http.get(f"/v1/assets/qr/{token}")
        assert response.status_code == 200, response.text
        assert decoded(response.content) == [(QR, code)]


class TestBarcode:
    def test_png_reads_back_as_the_code(
        self, anonymous_http: httpx.Client, voucher: tuple[str, str]
    ) -> None:
        code, token = voucher
        response = anonymous_http.get(f"/v1/assets/barcode/{token}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        assert response.content.startswith(PNG_SIGNATURE)
        assert decoded(response.content) == [(CODE_128, code)]

    @pytest.mark.parametrize("code", ["SPRING-2026-xyz", "1234567890", "A" * 60, "a~b|c"])
    def test_every_bar_is_a_whole_number_of_modules(
        self, code: str, server: RunningServer, project: Credentials, anonymous_http: httpx.Client
    ) -> None:
        token = token_of(server.db, project, insert_voucher(server.db, project, code=code))
        image = Image.open(io.BytesIO(anonymous_http.get(f"/v1/assets/barcode/{token}").content))
        row = [image.convert("L").getpixel((x, 20)) == 0 for x in range(image.size[0])]
        widths = [len(list(run)) for _, run in itertools.groupby(row)]
        quiet_zone = 45
        assert widths[0] == widths[-1] == quiet_zone
        assert {width % 3 for width in widths[1:-1]} == {0}  # 3-pixel modules
        assert max(widths[1:-1]) <= 4 * 3  # no bar or space is wider than 4 modules

    def test_svg_on_request_has_the_code_written_under_it(
        self, anonymous_http: httpx.Client, voucher: tuple[str, str]
    ) -> None:
        code, token = voucher
        response = anonymous_http.get(f"/v1/assets/barcode/{token}", params={"format": "svg"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/svg+xml"
        assert response.content.startswith(b"<?xml")
        assert b"<svg" in response.content
        assert f">{code}</text>".encode() in response.content

    def test_svg_escapes_the_code(
        self, server: RunningServer, project: Credentials, anonymous_http: httpx.Client
    ) -> None:
        code = "<script>alert(1)</script>&"
        token = token_of(server.db, project, insert_voucher(server.db, project, code=code))
        response = anonymous_http.get(f"/v1/assets/barcode/{token}", params={"format": "svg"})
        assert response.status_code == 200, response.text
        assert b"<script>" not in response.content
        assert b"&lt;script&gt;alert(1)&lt;/script&gt;&amp;" in response.content
        assert decoded(anonymous_http.get(f"/v1/assets/barcode/{token}").content) == [
            (CODE_128, code)
        ]

    def test_a_code_code_128_cannot_hold_is_404(
        self, server: RunningServer, project: Credentials, anonymous_http: httpx.Client
    ) -> None:
        token = token_of(server.db, project, insert_voucher(server.db, project, code="ZAŻÓŁĆ"))
        response = anonymous_http.get(f"/v1/assets/barcode/{token}")
        assert_not_found(response)
        assert "Code 128" in response.json()["details"]
        assert anonymous_http.get(f"/v1/assets/qr/{token}").status_code == 200


@pytest.mark.parametrize("kind", ["qr", "barcode"])
class TestServed:
    def test_cached_for_a_day(
        self, kind: str, anonymous_http: httpx.Client, voucher: tuple[str, str]
    ) -> None:
        _, token = voucher
        for image_format in ("png", "svg"):
            response = anonymous_http.get(
                f"/v1/assets/{kind}/{token}", params={"format": image_format}
            )
            assert response.headers["cache-control"] == "public, max-age=86400"
            assert response.headers["x-content-type-options"] == "nosniff"

    def test_no_credentials_needed_and_credentials_change_nothing(
        self, kind: str, http: httpx.Client, anonymous_http: httpx.Client, voucher: tuple[str, str]
    ) -> None:
        _, token = voucher
        anonymous = anonymous_http.get(f"/v1/assets/{kind}/{token}")
        assert anonymous.status_code == 200
        assert http.get(f"/v1/assets/{kind}/{token}").content == anonymous.content
        wrong = {"X-App-Id": "nobody", "X-App-Token": "wrong"}
        assert anonymous_http.get(f"/v1/assets/{kind}/{token}", headers=wrong).status_code == 200

    def test_an_unknown_format_is_400(
        self, kind: str, anonymous_http: httpx.Client, voucher: tuple[str, str]
    ) -> None:
        _, token = voucher
        response = anonymous_http.get(f"/v1/assets/{kind}/{token}", params={"format": "gif"})
        assert response.status_code == 400
        assert response.json()["key"] == "invalid_query_params"

    def test_a_deleted_voucher_is_404(
        self,
        kind: str,
        server: RunningServer,
        project: Credentials,
        anonymous_http: httpx.Client,
    ) -> None:
        voucher_id = insert_voucher(server.db, project)
        token = token_of(server.db, project, voucher_id)
        assert anonymous_http.get(f"/v1/assets/{kind}/{token}").status_code == 200
        server.db.fetch(
            "UPDATE vouchers SET deleted_at = now() WHERE project_id = $1 AND id = $2",
            project.project_id,
            voucher_id,
        )
        assert_not_found(anonymous_http.get(f"/v1/assets/{kind}/{token}"))

    def test_a_voucher_that_never_existed_is_404(
        self, kind: str, server: RunningServer, project: Credentials, anonymous_http: httpx.Client
    ) -> None:
        token = token_of(server.db, project, "v_never")
        assert_not_found(anonymous_http.get(f"/v1/assets/{kind}/{token}"))

    def test_another_voucher_id_under_the_same_mac_is_404(
        self, kind: str, server: RunningServer, project: Credentials, anonymous_http: httpx.Client
    ) -> None:
        mine = insert_voucher(server.db, project)
        other = insert_voucher(server.db, project)
        read = read_token(token_of(server.db, project, mine))
        assert read is not None
        forged = _token(read[2], project.project_id, other)
        assert_not_found(anonymous_http.get(f"/v1/assets/{kind}/{forged}"))

    def test_a_changed_mac_is_404(
        self, kind: str, server: RunningServer, project: Credentials, anonymous_http: httpx.Client
    ) -> None:
        voucher_id = insert_voucher(server.db, project)
        read = read_token(token_of(server.db, project, voucher_id))
        assert read is not None
        mac = bytes([read[2][0] ^ 1]) + read[2][1:]
        forged = _token(mac, project.project_id, voucher_id)
        assert_not_found(anonymous_http.get(f"/v1/assets/{kind}/{forged}"))

    def test_another_projects_key_does_not_verify(
        self,
        kind: str,
        server: RunningServer,
        project: Credentials,
        another_project: Credentials,
        anonymous_http: httpx.Client,
    ) -> None:
        voucher_id = insert_voucher(server.db, project)
        theirs = asset_key(server.db, another_project)
        signed_by_them = asset_token(theirs, project.project_id, voucher_id)
        assert_not_found(anonymous_http.get(f"/v1/assets/{kind}/{signed_by_them}"))
        # Nor does a project's own key open another project's voucher.
        their_voucher = insert_voucher(server.db, another_project)
        mine = asset_token(asset_key(server.db, project), another_project.project_id, their_voucher)
        assert_not_found(anonymous_http.get(f"/v1/assets/{kind}/{mine}"))

    def test_an_unknown_project_is_404(
        self, kind: str, server: RunningServer, project: Credentials, anonymous_http: httpx.Client
    ) -> None:
        voucher_id = insert_voucher(server.db, project)
        token = asset_token(asset_key(server.db, project), "proj_unknown", voucher_id)
        assert_not_found(anonymous_http.get(f"/v1/assets/{kind}/{token}"))

    @pytest.mark.parametrize("token", ["x", "not-a-token", "%00", "%ff", "a" * 2000, "AQ%2B%2F"])
    def test_a_malformed_token_is_404(
        self, kind: str, token: str, anonymous_http: httpx.Client
    ) -> None:
        assert_not_found(anonymous_http.get(f"/v1/assets/{kind}/{token}"))


def _token(mac: bytes, project_id: str, voucher_id: str) -> str:
    """A token as `asset_token` lays it out, with any MAC."""
    raw = bytes([1]) + mac + project_id.encode() + b"\x00" + voucher_id.encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TestOnlyAssetsGoWithoutCredentials:
    def test_other_v1_routes_still_need_credentials(self, anonymous_http: httpx.Client) -> None:
        assert anonymous_http.get("/v1/customers").status_code == 401
        assert anonymous_http.get("/v1/asset/qr/x").status_code == 401
        assert anonymous_http.get("/v1/assetsqr/x").status_code == 401

    def test_dot_segments_do_not_lead_out_of_assets(self, server: RunningServer) -> None:
        # httpx would remove the dot segments before sending; a raw request keeps them.
        address = urlsplit(server.base_url)
        assert address.hostname is not None
        assert address.port is not None
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            sock.sendall(
                b"GET /v1/assets/../customers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        status = answer.split(b"\r\n", 1)[0]
        assert status.split()[1] in (b"401", b"404"), status


@pytest.fixture(scope="module")
def schema() -> OpenApiSchema:
    return schemathesis.openapi.from_dict(openapi_document())


class TestDocument:
    """The answers are those the OpenAPI document describes."""

    @pytest.mark.parametrize("kind", ["qr", "barcode"])
    def test_answers_match_the_document(
        self,
        kind: str,
        schema: OpenApiSchema,
        anonymous_http: httpx.Client,
        voucher: tuple[str, str],
    ) -> None:
        _, token = voucher
        template = f"/v1/assets/{kind}/{{assetId}}"
        documented = openapi_document()["paths"][template]["get"]
        assert documented["security"] == []
        success = documented["responses"]["200"]
        answers = [
            anonymous_http.get(f"/v1/assets/{kind}/{token}", params=params)
            for params in ({}, {"format": "png"}, {"format": "svg"}, {"format": "bmp"})
        ]
        answers.append(anonymous_http.get(f"/v1/assets/{kind}/x"))
        assert [answer.status_code for answer in answers] == [200, 200, 200, 400, 404]
        for answer in answers:
            schema[template]["get"].validate_response(answer)
            assert str(answer.status_code) in documented["responses"]
            if answer.status_code == 200:
                assert answer.headers["content-type"] in success["content"]
                cache_control = success["headers"]["Cache-Control"]["schema"]["enum"]
                assert answer.headers["cache-control"] in cache_control
            else:
                assert answer.headers["content-type"].startswith("application/json")
