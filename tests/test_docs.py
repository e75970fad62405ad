"""The interactive documentation works with no internet access."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient


class TestOfflineDocs:
    @pytest.mark.parametrize("page", ["/docs", "/redoc"])
    def test_pages_load_every_asset_from_this_server(self, client: TestClient, page: str) -> None:
        html = client.get(page).text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        urls += re.findall(r"""url:\\s*['"]([^'"]+)['"]""", html)
        assets = [u for u in urls if u.endswith((".js", ".css", ".png"))]
        assert assets
        for url in assets:
            assert url.startswith("/"), f"{page} loads {url} from another host"
            assert client.get(url).status_code == 200
