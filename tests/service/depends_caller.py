"""A second BentoML service that calls ours through ``bentoml.depends(url=...)``, as another team's
service would (served by tests/service/test_clients.py; the URL comes from DEPENDS_TARGET_URL)."""

from __future__ import annotations

import os
from typing import Any

import bentoml


@bentoml.service(workers=1)
class Caller:
    models: Any = bentoml.depends(url=os.environ.get("DEPENDS_TARGET_URL", "http://127.0.0.1:3000"))

    @bentoml.api  # type: ignore[untyped-decorator]
    async def labels(self, rows: list[list[float]]) -> list[int]:
        answer = await self.models.to_async.classify(rows=rows)
        return [int(label) for label in answer["labels"]]
