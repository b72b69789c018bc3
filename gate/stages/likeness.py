"""Likeness gate: every face in the clip is searched among enrolled and protected faces.

A face closer than the backend's threshold to a registered likeness is a match (blocked unless the
requester may use it). A face that misses the threshold by less than REVIEW_MARGIN and is of low
quality (small, blurred, turned: its embedding is less reliable) goes to review instead of passing.
"""

from __future__ import annotations

from sqlmodel import Session

from gate.components import Components
from gate.decision import Decision, Signal
from gate.pipeline import JobState


class LikenessStage:
    name = "likeness"
    title = "Likeness check"
    description = "compares faces in the clip with people who registered their likeness"
    reads = frozenset({"frame_sample", "user"})
    provides = frozenset({"appearances"})
    concurrent = True
    MAX_FRAMES = 48

    def __init__(self, c: Components) -> None:
        self.c = c

    def signals(self) -> list[Signal]:
        backend, why = self.c.face_backend.get()
        if backend is None:
            return [Signal("likeness.faces", "faces", False, False, why)]
        ok, why = backend.available()
        sigs = [Signal("likeness.faces", f"{backend.name} {backend.version}", ok, ok, why)]
        index, why = self.c.fresh_face_index()
        if index is None:
            sigs.append(Signal("likeness.index", "faiss", False, False, why))
        return sigs

    def run(self, ctx: JobState) -> Decision:
        from consent import registry
        from consent.face_quality import REVIEW_MARGIN, assess

        backend = self.c.face_backend.need()
        index, why = self.c.fresh_face_index()
        if index is None:
            raise RuntimeError(why)
        models = {"likeness.faces": f"{backend.name} {backend.version}"}
        if len(index) == 0:  # nobody registered a likeness: no face can match, so none is looked for
            return Decision(stage=self.name, decision="pass", scores={}, models=models,
                            reasons=["no likeness is registered yet: no face to compare the clip's faces with"])
        frames = ctx.frames().thinned(self.MAX_FRAMES)
        faces_seen = 0
        hits_by_cameo: dict[int, registry.LikenessHit] = {}
        near_by_cameo: dict[int, tuple[registry.LikenessHit, list[str]]] = {}
        evidence = []
        with Session(self.c.engine) as s:
            for fr in frames:
                faces = backend.analyze(fr.image)
                faces_seen += len(faces)
                near_limit = backend.threshold + REVIEW_MARGIN
                for hit in registry.match_faces(index, faces, s, ctx.user, threshold=near_limit):
                    if hit.distance >= backend.threshold:
                        if hit.allowed:
                            continue
                        q = assess(fr.image, faces[hit.face_index])
                        prev_near = near_by_cameo.get(hit.cameo_id)
                        if q.low and (prev_near is None or hit.distance < prev_near[0].distance):
                            near_by_cameo[hit.cameo_id] = (hit, list(q.problems))
                            evidence.append({"frame": fr.index, "time": fr.time, "handle": hit.handle,
                                             "distance": round(float(hit.distance), 4), "allowed": False,
                                             "near_miss": True, "quality": q.as_dict()})
                        continue
                    prev = hits_by_cameo.get(hit.cameo_id)
                    if prev is None or hit.distance < prev.distance:
                        hits_by_cameo[hit.cameo_id] = hit
                        evidence.append({"frame": fr.index, "time": fr.time, "handle": hit.handle,
                                         "distance": round(float(hit.distance), 4), "allowed": hit.allowed})
        refused = [h for h in hits_by_cameo.values() if not h.allowed]
        near = [(h, why) for cid, (h, why) in near_by_cameo.items() if cid not in hits_by_cameo]
        ctx.appearances = [h.cameo_id for h in hits_by_cameo.values() if h.allowed]
        scores = {f"@{h.handle}": round(float(h.distance), 4) for h in hits_by_cameo.values()}
        scores |= {f"@{h.handle} (near)": round(float(h.distance), 4) for h, _ in near}
        scores["faces_seen"] = float(faces_seen)
        if refused:
            action = self.c.policy.likeness_action
            return Decision(stage=self.name, decision=action, scores=scores, evidence=evidence, models=models,
                            reasons=[f"contains the likeness of @{h.handle}: {h.why}" for h in refused])
        if near:
            reasons = [f"a low-quality face ({'; '.join(why)}) is close to @{h.handle} (distance "
                       f"{h.distance:.3f}, match below {backend.threshold}): a person should look" for h, why in near]
            return Decision(stage=self.name, decision="review", scores=scores, evidence=evidence, models=models,
                            reasons=reasons)
        reasons = [f"{faces_seen} face(s) in {len(frames)} sampled frames; none registered without consent"]
        return Decision(stage=self.name, decision="pass", scores=scores, evidence=evidence, reasons=reasons,
                        models=models)
