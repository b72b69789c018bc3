"""The shipped C2PA trust list: loaded by default, replaceable only by a valid PEM bundle of CA certificates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from api.cli import cli
from provenance import trust_list
from provenance.errors import ProvenanceError
from tests.conftest import FIXTURES

GOOGLE_ROOT = "CN=Google C2PA Root CA G3,O=Google LLC,C=US"


def _cert(tmp_path: Path, ca: bool, name: str = "Test Anchor") -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    p = tmp_path / f"{name.replace(' ', '_')}_{ca}.pem"
    p.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return p


def test_the_shipped_list_holds_the_conformance_program_anchors() -> None:
    certs = trust_list.inspect(trust_list.BUNDLED.read_bytes())
    subjects = [c["subject"] for c in certs]
    assert len(certs) == 17 and GOOGLE_ROOT in subjects
    assert any("DigiCert" in s for s in subjects) and any("Adobe" in s for s in subjects)
    assert (trust_list.BUNDLED.parent / "README.md").read_text().count("O-UDA-1.0") >= 1


def test_components_load_the_list_by_default(components) -> None:
    anchors = components.trust_anchors_pem
    assert anchors is not None and trust_list.BUNDLED.read_bytes() in anchors


def test_the_sdk_reads_with_the_list_as_anchors() -> None:
    from provenance.c2pa_read import read_credentials

    out = read_credentials(FIXTURES / "c2pa" / "adobe-20220124-CACA.jpg", trust_list.BUNDLED.read_bytes())
    # a test certificate: intact but not anchored by any conformance-program CA
    assert out["state"] == "valid" and out["error"] is None


@pytest.mark.parametrize("content", [b"", b"hello", b"-----BEGIN CERTIFICATE-----\nMIIB\n",
                                     b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                                     b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"])
def test_update_refuses_what_is_not_a_bundle_and_changes_nothing(settings, tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_bytes(content)
    res = CliRunner().invoke(cli, ["trust", "update", str(bad)])
    assert res.exit_code == 2 and "unchanged" in res.output
    assert not trust_list.installed_path(settings.resolved_data_dir).exists()
    assert trust_list.active_path(settings.resolved_data_dir) == trust_list.BUNDLED


def test_update_refuses_a_leaf_certificate(settings, tmp_path: Path) -> None:
    with pytest.raises(ProvenanceError, match="not a CA"):
        trust_list.install(settings.resolved_data_dir, _cert(tmp_path, ca=False))
    assert not trust_list.installed_path(settings.resolved_data_dir).exists()


def test_update_replaces_the_installation_copy(components, settings, tmp_path: Path) -> None:
    new = _cert(tmp_path, ca=True, name="Newsroom Root")
    res = CliRunner().invoke(cli, ["trust", "update", str(new), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["certificates"] == 1 and out["subjects"] == ["CN=Newsroom Root"]
    assert trust_list.active_path(settings.resolved_data_dir) == trust_list.installed_path(settings.resolved_data_dir)
    assert new.read_bytes() in (components.trust_anchors_pem or b"")
    shown = json.loads(CliRunner().invoke(cli, ["trust", "show", "--json"]).output)
    assert shown["bundled"] is False and shown["certificates"][0]["subject"] == "CN=Newsroom Root"


def test_a_real_firefly_file_is_named_with_how_it_was_made() -> None:
    from gate.verify import verdict
    from provenance.c2pa_read import read_credentials
    from provenance.c2pa_summary import summarise

    cred = read_credentials(FIXTURES / "c2pa" / "firefly_ai_generated_3_ingredients.jpg",
                            trust_list.BUNDLED.read_bytes())
    s = summarise(cred)
    assert s is not None and s["signer"] == "firefly-stage" and s["signer_organisation"] == "Adobe Inc."
    assert s["claim_generator"].startswith("Adobe_Firefly") and s["ingredients"] == 3
    assert s["digital_source_types"] == ["trainedAlgorithmicMedia"] and s["ai_generated"] is True
    # a 2024 Adobe staging certificate: anchored by the frozen interim list, not by the C2PA trust list
    assert cred["state"] == "valid"
    code, text = verdict({"c2pa": {**cred, "summary": s}, "watermark": {"found": False},
                          "detector": {"ai_probability": None, "why": "not run"}})
    assert code == "signed" and "not on a configured trust list" in text
    assert "the manifest says: made with Adobe_Firefly" in text and "source type trainedAlgorithmicMedia" in text


def test_a_cawg_identity_assertion_is_reported() -> None:
    from provenance.c2pa_read import read_credentials
    from provenance.c2pa_summary import summarise

    s = summarise(read_credentials(FIXTURES / "c2pa" / "C_with_CAWG_data.jpg"))
    assert s is not None and s["digital_source_types"] == ["digitalCapture"] and s["ai_generated"] is False
    assert s["cawg_identities"] == [{"type": "x509", "name": "C2PA Signer", "issuer": "C2PA Test Signing Cert"}]


def test_no_manifest_no_summary() -> None:
    from provenance.c2pa_summary import summarise

    assert summarise({"state": "absent", "manifest_label": None}) is None
