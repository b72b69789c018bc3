"""C2PA Content Credentials: who made it, with what, from what, and with whose consent."""

from __future__ import annotations

from gate.components import Components
from gate.decision import Decision, Signal
from gate.pipeline import JobState


class SignStage:
    name = "sign"
    title = "Content Credentials"
    description = "signs Content Credentials (C2PA) into the file"
    reads = frozenset({"marked", "watermark", "clip_metadata", "cameos", "remix_source", "job_id", "workdir"})
    provides = frozenset({"signed"})
    concurrent = False

    def __init__(self, c: Components) -> None:
        self.c = c

    def signals(self) -> list[Signal]:
        signer, why = self.c.signer.get()
        if signer is None:
            return [Signal("provenance.c2pa", "c2pa-python", False, False, why)]
        from provenance.c2pa_sign import C2PA_VERSION

        return [Signal("provenance.c2pa", C2PA_VERSION, True, True)]

    def run(self, ctx: JobState) -> Decision:
        from provenance.c2pa_sign import C2PA_VERSION, sign_video

        signer = self.c.signer.need()
        meta = ctx.clip_metadata
        cameos = [{"handle": g.handle, "consent_ref": f"cameo:{g.cameo_id}"} for g in ctx.cameos]
        signed = ctx.workdir / "signed.mp4"
        summary = sign_video(
            ctx.need("marked"), signed, signer,
            title=f"reelgate clip {ctx.job_id}",
            software_agent=self.c.settings.software_agent,
            model=f"{meta.get('backend', '?')} {meta.get('version', '')}".strip(),
            cameos=cameos, watermark=ctx.watermark,
            parent=ctx.remix_source,
        )
        ctx.signed = signed
        return Decision(stage=self.name, decision="pass", models={"provenance.c2pa": C2PA_VERSION},
                        reasons=[f"signed, manifest {summary.get('manifest_label', '?')}"])
