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


def test_each_domain_package_has_the_same_torch_shim_and_it_lets_torchvision_import() -> None:
    """generator/ and safety/ each keep the torchvision shim (they never import one another): the copies'
    code is identical, and each alone makes `import torchvision` work on this torch."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    bodies = [ast.dump(ast.Module(body=ast.parse((root / pkg / "torch_compat.py").read_text()).body[1:],
                                  type_ignores=[])) for pkg in ("generator", "safety")]
    assert bodies[0] == bodies[1]
    for pkg in ("generator", "safety"):
        run = subprocess.run([sys.executable, "-c", f"import {pkg}.torch_compat, torchvision.transforms"],
                             cwd=root, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-500:]
