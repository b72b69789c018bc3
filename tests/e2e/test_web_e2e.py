"""Each role's main path in a real browser (Chromium), with screenshots in test-artifacts/e2e/."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sqlmodel import Session

from gate.models import Job
from tests.conftest import FIXTURES
from tests.e2e.browser_helpers import axe_violations, shot, sign_in

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture reports the missing package (skip, or fail under CI)
    expect = None

pytestmark = pytest.mark.e2e
TERMINAL = re.compile(r"Through the gate: (published|blocked|review|failed)")


def tiny_mp4(path, frames: int = 12, size: int = 160) -> bytes:
    import av

    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=12)
        st.width = st.height = size
        st.pix_fmt = "yuv420p"
        for i in range(frames):
            img = np.zeros((size, size, 3), dtype=np.uint8)
            img[:, :, 2] = 120
            img[20 + i * 5:60 + i * 5, 40:100] = (240, 200, 40)
            for p in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    return path.read_bytes()


def test_anonymous_landing_keyboard_and_no_js(server, page, chromium) -> None:
    page.goto("/")
    assert page.get_attribute("html", "lang") == "en"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    shot(page, "00-landing", phone=True)
    # pages read without JavaScript
    ctx = chromium.new_context(base_url=server.url, java_script_enabled=False)
    nojs = ctx.new_page()
    nojs.goto("/verify")
    expect(nojs.get_by_label("Drop a file here or choose one")).to_be_visible()
    ctx.close()


def test_creator_prompt_to_gate_result(server, page, tmp_path) -> None:
    sign_in(page, server.keys["alice"])
    assert page.url.endswith("/create")
    page.get_by_label("Prompt").fill("")
    page.get_by_role("button", name="Send to the gate").click()
    expect(page.get_by_text("write what the clip should show").first).to_be_visible()
    shot(page, "10-creator-validation")
    page.get_by_label("Prompt").fill("a red ball bouncing on a wooden floor")
    page.get_by_label("Style").select_option("cartoon")
    page.get_by_label("Length (seconds)").fill("2")
    shot(page, "11-creator-form", phone=True)
    page.get_by_role("button", name="Send to the gate").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]{16}$"))
    expect(page.get_by_text("a red ball bouncing on a wooden floor").first).to_be_visible()
    shot(page, "12-creator-job-running")
    # htmx polls the progress panel until the job reaches a terminal state (no page reload needed)
    # predicates as functions: a string expression is eval'd in the page, which the console's CSP refuses
    page.wait_for_function("() => /Through the gate: (published|blocked|review|failed)/.test(document.body.innerText)",
                           timeout=90_000)
    # ... and then reloads the page once (HX-Refresh) to show the clip or the reasons
    page.wait_for_function("() => document.querySelector('video') || "
                           "/Why (it was stopped|a person must review it|it failed)/.test(document.body.innerText)")
    text = page.inner_text("#progress")
    status = TERMINAL.search(text).group(1)
    assert "Prompt check" in text and "Publish" in text
    if status == "published":
        assert page.locator("video").count() == 1
        # the browser loads and decodes the clip through the session-authenticated video route
        page.wait_for_function("() => document.querySelector('video').readyState >= 1")
        assert abs(page.evaluate("document.querySelector('video').duration") - 2.0) < 0.3
        expect(page.get_by_role("heading", name="Remix this clip")).to_be_visible()
    else:  # explained in words, stage by stage
        assert re.search(r"so the gate (stopped|sent)|could not complete", text), text
    shot(page, f"13-creator-job-{status}", phone=True)
    assert axe_violations(page) == []
    job_url = page.url
    page.goto("/jobs")
    expect(page.locator("table").get_by_text(status.replace("_", " ")).first).to_be_visible()
    if status != "published":
        return
    # what a journalist would see for this clip: our watermark resolves to it and its credentials are intact
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(page.request.get(job_url + "/video").body())
    page.goto("/verify")
    page.get_by_label("Drop a file here or choose one").set_input_files(str(clip))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/verify/r/[0-9a-f]{32}$"), timeout=60_000)
    expect(page.get_by_text("Our watermark is present")).to_be_visible()
    expect(page.get_by_text(job_url.rsplit("/", 1)[1]).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"Signed(,| and) intact"))).to_be_visible()
    shot(page, "14-verify-published-clip", phone=True)
    # remix: a new job that names its source
    page.goto(job_url)
    page.get_by_label("New prompt").fill("a blue ball bouncing on a wooden floor")
    page.get_by_role("button", name="Remix").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]{16}$"))
    expect(page.get_by_text(job_url.rsplit("/", 1)[1]).first).to_be_visible()  # "Remix of <source id>"


def seed_review_job(server, tmp_path) -> str:
    c = server.components
    job_id = "00000000e2e0000a"
    key = c.storage.put_bytes(f"drafts/{job_id}.mp4", tiny_mp4(tmp_path / "d.mp4"))
    decisions = [
        {"name": "prompt", "decision": "pass", "reasons": [], "seconds": 0.03},
        {"name": "frames", "decision": "review", "reasons": ["violence score 0.62 in the generated frames"],
         "scores": {"violence": 0.62}, "seconds": 0.8,
         "evidence": [{"frame": 6, "time": 0.5, "category": "violence", "score": 0.62,
                       "boxes": [{"label": "weapon", "score": 0.62, "box": [40, 50, 60, 40]}]}]},
        {"name": "publish", "decision": "review", "reasons": ["held for review as a draft"]},
    ]
    with Session(c.engine) as s:
        s.add(Job(id=job_id, user="bob", status="review", request={"prompt": "a knight swings a sword",
                  "seconds": 1, "resolution": "480p"}, decisions=decisions, reasons=["frames: violence score 0.62"],
                  video_key=key))
        s.commit()
    return job_id


def test_operator_review_policy_audit_dashboard_health(server, page, tmp_path) -> None:
    job_id = seed_review_job(server, tmp_path)
    sign_in(page, server.keys["olga"])
    assert page.url.endswith("/ops/review")
    card = page.locator("article", has_text=job_id)
    expect(card.get_by_text("found violence in the generated frames")).to_be_visible()
    img = card.locator(f'img[src="/jobs/{job_id}/frames/frames/6.png"]')
    img.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth === 160", arg=img.element_handle())
    shot(page, "20-operator-review-queue", phone=True)
    assert axe_violations(page) == []
    card.get_by_label("Reason (recorded in the audit log)").fill("ok")
    card.get_by_role("button", name="Approve and publish").click()  # the browser's own check stops it first
    assert page.url.endswith("/ops/review")
    assert page.locator(f"#reason-{job_id}:invalid").count() == 1
    card.get_by_label("Reason (recorded in the audit log)").fill("stage combat, no gore")
    card.get_by_role("button", name="Approve and publish").click()
    expect(page.get_by_text(f"Clip {job_id} approved and published.")).to_be_visible()

    page.get_by_role("link", name="Policy").click()
    page.get_by_label("violence: review threshold").first.fill("1.7")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("must be a number from 0 to 1").first).to_be_visible()
    shot(page, "21-operator-policy-error")
    page.get_by_label("violence: review threshold").first.fill("0.4")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("Policy saved")).to_be_visible()
    assert server.components.policy.prompt["violence"].review == 0.4

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_text("Hash chain intact")).to_be_visible()
    page.get_by_label("Search actor, event or subject").fill("review_approve")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.get_by_text(job_id).first).to_be_visible()
    shot(page, "22-operator-audit", phone=True)

    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Decisions per stage")).to_be_visible()
    expect(page.get_by_role("cell", name="Frame check")).to_be_visible()
    shot(page, "23-operator-dashboard", phone=True)

    page.get_by_role("link", name="Health").click()
    expect(page.get_by_role("cell", name="frames.nudenet")).to_be_visible()
    shot(page, "24-operator-health", phone=True)


def test_rights_holder_registers_a_work(server, page) -> None:
    sign_in(page, server.keys["rita"])
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("give the work or character a name").first).to_be_visible()
    page.get_by_label("Name").fill("Rocket Ranger")
    page.get_by_label("Aliases").fill("Ranger R\nthe rocket guy")
    page.get_by_label("Policy").select_option("review")
    page.get_by_label("Reference images").set_input_files(str(FIXTURES / "copyright" / "rocket_400.jpg"))
    shot(page, "30-rights-form")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Registered “Rocket Ranger” with 1 reference image(s)")).to_be_visible()
    expect(page.get_by_role("cell", name="Ranger R, the rocket guy", exact=True)).to_be_visible()
    shot(page, "31-rights-works", phone=True)
    page.get_by_role("link", name="Decisions", exact=True).click()
    expect(page.get_by_role("heading", name="Decisions for my works")).to_be_visible()


def test_cameo_owner_enrolls_with_webcam_manages_and_revokes(server, page) -> None:
    from consent import registry

    c = server.components
    key = c.storage.put_bytes("cameos/e2e.png", (FIXTURES / "faces" / "luciano_small.jpg").read_bytes())
    with Session(c.engine, expire_on_commit=False) as s:
        cameo = registry.enroll(s, "alice", "alice_cam", {"frontal": np.ones(128, dtype=np.float32)}, key, "dlib")
        s.add(Job(id="00000000e2e000b1", user="bob", status="published", request={"prompt": "x"},
                  video_key=c.storage.put_bytes("videos/00000000e2e000b1.mp4", b"\x00" * 64)))
        s.commit()
        registry.record_appearance(s, cameo.id, "00000000e2e000b1", "published", creator="bob")
    sign_in(page, server.keys["alice"])
    page.get_by_role("link", name="My cameos").click()
    shot(page, "40-cameos-list")
    page.get_by_role("button", name="Start enrollment").click()
    expect(page.get_by_text("Face the camera, then:")).to_be_visible()
    page.get_by_label("Handle").fill("alice.two")
    # the webcam (Chromium's fake camera here) records through MediaRecorder into the form's file field
    page.get_by_role("button", name="Record with my webcam").click()
    page.wait_for_timeout(4500)
    page.get_by_role("button", name="Stop recording").click()
    page.wait_for_function("() => document.getElementById('video').files.length === 1")
    assert "Press Enroll" in page.inner_text("#cam-status")
    shot(page, "41-cameo-enroll-webcam")
    page.get_by_role("button", name="Enroll", exact=True).click()
    # the fake camera shows a test pattern, not a face: the liveness check refuses it, clearly
    expect(page.get_by_text("liveness check failed").first).to_be_visible()
    expect(page.get_by_text("A new challenge is shown above").first).to_be_visible()
    shot(page, "42-cameo-enroll-refused", phone=True)
    assert axe_violations(page) == []

    page.goto(f"/cameos/{cameo.id}")
    page.get_by_label("Approve a user").fill("bob")  # approve bob first, so his clip keeps its consent
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_text("bob may use @alice_cam")).to_be_visible()
    page.get_by_label("People I approve").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("who may use @alice_cam is now “People I approve”")).to_be_visible()
    assert page.get_by_text("taken down").count() == 0
    expect(page.get_by_role("cell", name="00000000e2e000b1", exact=True)).to_be_visible()
    shot(page, "43-cameo-manage", phone=True)
    assert axe_violations(page) == []
    page.get_by_label("to confirm").fill("alice_cam")
    page.get_by_role("button", name="Revoke @alice_cam").click()
    expect(page.get_by_text("1 clip(s) were taken down")).to_be_visible()
    with Session(c.engine) as s:
        assert s.get(Job, "00000000e2e000b1").status == "taken_down"
    shot(page, "44-cameo-revoked")


def test_journalist_verifies_a_file(server, page) -> None:
    sign_in(page, server.keys["jane"])
    assert page.url.endswith("/verify")
    # drop the file onto the zone (as a person drags it from their desktop)
    data = (FIXTURES / "copyright" / "coffee_400.jpg").read_bytes()
    page.evaluate("""([bytes]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], "coffee_400.jpg", {type: "image/jpeg"}));
        document.querySelector(".dropzone").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
    }""", [list(data)])
    assert page.evaluate("document.getElementById('file').files[0].name") == "coffee_400.jpg"
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/verify/r/[0-9a-f]{32}$"), timeout=60_000)
    expect(page.get_by_role("heading", name="Content Credentials (C2PA)")).to_be_visible()
    expect(page.get_by_text("No Content Credentials in this file.")).to_be_visible()
    page.wait_for_function("() => document.querySelector('img.frame') && document.querySelector('img.frame').complete")
    shot(page, "50-verify-report", phone=True)
    assert axe_violations(page) == []
    permalink = page.url
    page.context.clear_cookies()
    page.goto(permalink)  # the permalink works for anyone
    expect(page.get_by_role("heading", name="Verification report")).to_be_visible()



A11Y_PAGES = {
    None: ["/", "/signin", "/verify"],
    "alice": ["/create", "/jobs", "/cameos"],
    "olga": ["/ops/review", "/ops/policy", "/ops/audit", "/ops/dashboard", "/ops/health", "/jobs"],
    "rita": ["/rights", "/rights/decisions"],
}


def test_pages_pass_axe_accessibility_rules(server, page) -> None:
    """axe-core's WCAG 2 A/AA rules (labels, contrast, lang, names): no violation of any impact. The
    role tests above also run it on the pages they fill (job, review queue, cameo, report)."""
    found = []
    for who, urls in A11Y_PAGES.items():
        page.context.clear_cookies()
        if who:
            sign_in(page, server.keys[who])
        for url in urls:
            page.goto(url)
            found += axe_violations(page)
    assert not found, "\n".join(found)
