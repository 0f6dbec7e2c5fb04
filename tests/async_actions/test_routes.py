"""Async actions as clients see them: get, list, 404."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import voucherify
from voucherify.exceptions import NotFoundException

from patron.projects.service import Credentials
from tests.async_actions.helpers import wait_done
from tests.conftest import RunningServer, sdk_client


class TestAsyncActionRoutes:
    def test_sdk_list_newest_first_without_results(
        self, server: RunningServer, project: Credentials, http: httpx.Client
    ) -> None:
        ids = [
            http.post("/v1/customers/bulk/async", json=[{"source_id": f"s{n}"}]).json()[
                "async_action_id"
            ]
            for n in range(3)
        ]
        for action_id in ids:
            wait_done(http, action_id)
        with sdk_client(server, project) as client:
            api: Any = voucherify.AsyncActionsApi(client)
            page = api.list_async_actions(limit=2)
            assert page.object == "list"
            assert page.data_ref == "async_actions"
            assert [a.id for a in page.async_actions] == [ids[2], ids[1]]
            assert page.has_more is True
            raw = http.get("/v1/async-actions", params={"limit": 10}).json()
            assert "result" not in raw["async_actions"][0]
            assert raw["has_more"] is False
            one = api.get_async_action(async_action_id=ids[0])
            assert one.result["done_count"] == 1
            assert one.request_id.startswith("v-")
            assert one.processing_time >= 0

    def test_unknown_action(self, server: RunningServer, project: Credentials) -> None:
        with sdk_client(server, project) as client:
            api: Any = voucherify.AsyncActionsApi(client)
            with pytest.raises(NotFoundException) as caught:
                api.get_async_action(async_action_id="aa_nope")
            assert '"resource_type":"async_action"' in (caught.value.body or "")
            assert '"resource_id":"aa_nope"' in (caught.value.body or "")

    def test_another_projects_action_is_not_found(
        self, http: httpx.Client, server: RunningServer, another_project: Credentials
    ) -> None:
        action_id = http.post("/v1/customers/bulk/async", json=[]).json()["async_action_id"]
        with httpx.Client(
            base_url=server.base_url,
            headers={"X-App-Id": another_project.app_id, "X-App-Token": another_project.app_token},
        ) as other:
            assert other.get(f"/v1/async-actions/{action_id}").status_code == 404
            assert other.get("/v1/async-actions").json()["async_actions"] == []

    def test_bad_query(self, http: httpx.Client) -> None:
        assert http.get("/v1/async-actions", params={"limit": 0}).status_code == 400
        assert http.get("/v1/async-actions", params={"end_date": "x"}).status_code == 400
