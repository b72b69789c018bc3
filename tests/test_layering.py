"""Service functions behind both interfaces (issue 19 item 4): a policy change and its audit entry commit
together, whichever interface made it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gate import audit
from gate.policy import Policy
from gate.users import create_user


@pytest.fixture
def operator_api(components):
    from api.app import create_app

    client = TestClient(create_app(components=components, dispatch=lambda job_id: None),
                        raise_server_exceptions=False)
    _, key = create_user(components.engine, "olga", "operator")
    return client, {"Authorization": f"Bearer {key}"}, components


def test_a_policy_change_is_audited_once_with_what_it_replaced(operator_api) -> None:
    client, hdr, c = operator_api
    body = Policy(unread_language="block").model_dump()
    r = client.put("/v1/policy", json=body, headers=hdr)
    assert r.status_code == 200, r.text
    assert c.policy.unread_language == "block"
    entries = [e for e in audit.recent(c.engine, 50) if e.event == "policy.changed"]
    assert len(entries) == 1 and entries[0].actor == "olga"
    assert '"unread_language":"block"' in entries[0].payload.replace(" ", "")
    assert audit.verify_chain(c.engine).ok


def test_no_policy_change_without_its_audit_entry(operator_api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit entry cannot be written: the policy stays as it was (it was changed, unaudited, before)."""
    client, hdr, c = operator_api
    before = c.policy.model_dump()

    def broken(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(audit, "append", broken)
    monkeypatch.setattr(audit, "append_in", broken, raising=False)
    r = client.put("/v1/policy", json=Policy(unread_language="block").model_dump(), headers=hdr)
    assert r.status_code == 500
    assert c.policy.model_dump() == before

