"""Invisible watermark in picture and sound: the video id, recoverable after the metadata is stripped."""

from __future__ import annotations

from gate.components import Components
from gate.decision import Decision, Signal
from gate.pipeline import JobState


class WatermarkStage:
    name = "watermark"
    title = "Watermark"
    description = "embeds an invisible watermark"
    reads = frozenset({"draft", "draft_mark", "job_id", "workdir"})
    provides = frozenset({"marked", "watermark"})
    # it reads only the draft, so it runs beside the analysis stages: its file is used only if all of them
    # pass (sign and publish come after the group), and a block among them still stops the job. When the
    # generate stage marked the draft as it encoded it (draft_mark), this stage checks and records that mark
    concurrent = True

    def __init__(self, c: Components) -> None:
        self.c = c

    def signals(self) -> list[Signal]:
        try:
            from provenance import watermark
        except Exception as exc:
            return [Signal("provenance.watermark", "reelgate-wm", False, False, repr(exc))]
        ok, why = watermark.available()
        return [Signal("provenance.watermark", watermark.WATERMARK_VERSION, ok, ok, why)]

    def run(self, ctx: JobState) -> Decision:
        from provenance import watermark

        src = ctx.need("draft")
        report = ctx.draft_mark
        if report is not None:  # marked as the generator's frames were encoded: the draft is the marked clip
            if report.get("payload") != ctx.job_id or report.get("version") != watermark.WATERMARK_VERSION:
                raise RuntimeError(f"the draft carries payload {report.get('payload')} "
                                   f"({report.get('version')}), not this job's")
            marked = src
        else:
            if self.c.policy.visible_watermark:
                from provenance.visible_watermark import add_visible_mark

                visible = ctx.workdir / "visible.mp4"
                add_visible_mark(src, visible, text=self.c.settings.software_agent)
                src = visible
            marked = ctx.workdir / "marked.mp4"
            key = self.c.watermark_keys.get().current
            report = watermark.embed_clip(src, marked, bytes.fromhex(ctx.job_id), key=key)
        key_id = report["key_id"]
        ctx.marked = marked
        ctx.watermark = {"name": watermark.WATERMARK_VERSION, "payload": ctx.job_id, "key_id": key_id}
        scores = {k: float(v) for k, v in report.items() if isinstance(v, int | float)}
        # the key's id, fingerprint and source (never the key): /health compares them across processes
        return Decision(stage=self.name, decision="pass", scores=scores,
                        models={"provenance.watermark": watermark.WATERMARK_VERSION,
                                "provenance.watermark_key": self.c.watermark_keys.stamp()},
                        reasons=[f"payload {ctx.job_id} embedded in video and audio (key {key_id})"])
