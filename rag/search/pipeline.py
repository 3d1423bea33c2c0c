"""One query across every modality: embed once per space, retrieve per collection (dense and
sparse in one batched store query), score the union exactly, calibrate, fuse adaptively,
merge across modalities, rerank the top, return typed hits."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.langid import UNDETERMINED
from rag.lexical import LexicalEncoder
from rag.models import ModelRegistry
from rag.search.encode import EncodedQuery, encode_query
from rag.search.request import SearchRequest, collections_for, store_filter, validate
from rag.search.results import QueryInfo, ResultLocator, SearchHit, SearchResponse
from rag.settings import Settings
from rag.store.base import Filter, HasId, VectorQuery, VectorStore
from rag.store.collections import (
    CLIP_VECTOR,
    MULTI_VECTOR,
    SPARSE_VECTOR,
    TEXT_VECTOR,
    Field,
    collection_name,
)
from rag.types import Modality
from rerankers.calibration import (
    CLIP_IMAGE,
    CLIP_TEXT,
    LEXICAL,
    MULTI_DENSE,
    RERANK_CLIP,
    RERANK_TEXT,
    TEXT_DENSE,
    Calibration,
)
from rerankers.cross_modal import CrossModalReranker, RerankCandidate, RerankQuery
from rerankers.fusion import FusionParams, fuse, reliability, rrf, sigmoid
from rerankers.trust import covers, rerank_trust

# Each search signal: which named vector it queries.
VECTOR_OF_SIGNAL = {
    TEXT_DENSE: TEXT_VECTOR,
    MULTI_DENSE: MULTI_VECTOR,
    CLIP_TEXT: CLIP_VECTOR,
    CLIP_IMAGE: CLIP_VECTOR,
    LEXICAL: SPARSE_VECTOR,
}


@dataclass
class Candidate:
    id: str
    modality: Modality
    payload: dict[str, Any]
    raw: dict[str, float] = field(default_factory=dict)
    calibrated: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    reliability: dict[str, float] = field(default_factory=dict)
    fused_logit: float = -20.0
    rerank_raw: dict[str, float] = field(default_factory=dict)
    rerank_logits: dict[str, float] = field(default_factory=dict)
    rerank_trust: dict[str, float] = field(default_factory=dict)
    final_logit: float = -20.0


@dataclass(frozen=True)
class SearchOptions:
    """Pipeline switches, for ablations (the service always runs the full pipeline)."""

    signals: tuple[str, ...] = (TEXT_DENSE, MULTI_DENSE, CLIP_TEXT, CLIP_IMAGE, LEXICAL)
    fusion: str = "adaptive"  # adaptive | rrf | fixed
    calibrate: bool = True


class Searcher:
    def __init__(
        self,
        settings: Settings,
        models: ModelRegistry,
        store: VectorStore,
        calibration: Calibration,
        *,
        fusion_params: FusionParams | None = None,
    ) -> None:
        self.settings = settings
        self.models = models
        self.store = store
        self.calibration = calibration
        self.fusion_params = fusion_params or FusionParams()
        self.lexical = LexicalEncoder()
        self.reranker = CrossModalReranker(models)

    def search(
        self, request: SearchRequest, *, tenant: str, options: SearchOptions = SearchOptions()
    ) -> SearchResponse:
        timings: dict[str, float] = {}
        started = clock = time.perf_counter()
        request = validate(request, self.settings.search)
        modalities = collections_for(request.filters)
        # With random CLIP weights only images use the CLIP text vector (see _signals).
        clip_random = self.settings.models.clip.weights == "random"
        query = encode_query(
            request,
            self.models,
            self.lexical,
            max_audio_s=self.settings.search.max_audio_s,
            clip_text=Modality.IMAGE in modalities or not clip_random,
        )
        clock = _lap(timings, "embed", clock)

        where = store_filter(tenant, request.filters)
        # A fixed candidate depth: the order of a query does not depend on the k it asked for.
        depth = max(
            request.offset + request.k, request.rerank_depth, self.settings.search.candidate_depth
        )
        candidates: list[Candidate] = []
        for modality in modalities:
            candidates += self._retrieve(modality, query, where, depth, options)
        clock = _lap(timings, "retrieve", clock)

        ranked = sorted(candidates, key=_by_fused)
        clock = _lap(timings, "fuse", clock)
        # Payloads of what can be reranked or shown; a candidate deleted since it was found is
        # dropped, and the one moving up in its place is read in turn.
        window = max(request.rerank_depth, request.offset + request.k)
        read: set[str] = set()
        while todo := [c for c in ranked[:window] if c.id not in read]:
            read.update(c.id for c in todo)
            gone = self._read_payloads(todo)
            if gone:
                ranked = [c for c in ranked if c.id not in gone]
        read_ms = (time.perf_counter() - clock) * 1000
        timings["retrieve"] = round(timings["retrieve"] + read_ms, 2)  # payloads: retrieval too
        clock = time.perf_counter()

        if request.rerank_depth > 0 and ranked:
            head = ranked[: request.rerank_depth]
            self._rerank(query, head)
            for c in ranked[request.rerank_depth :]:
                c.final_logit = c.fused_logit
            ranked = sorted(head, key=_by_final) + ranked[request.rerank_depth :]
        else:
            for c in ranked:
                c.final_logit = c.fused_logit
        _lap(timings, "rerank", clock)
        timings["total"] = round((time.perf_counter() - started) * 1000, 2)

        page = ranked[request.offset : request.offset + request.k]
        hits = [self._hit(c, request.explain) for c in page]
        if request.min_score is not None:
            hits = [h for h in hits if h.score >= request.min_score]
        warnings = []
        clip_status = self.models.status()["clip"]
        if clip_status.warning and (request.image or any(h.modality == "image" for h in hits)):
            warnings.append(clip_status.warning)
        return SearchResponse(
            results=hits,
            query=QueryInfo(
                text=query.text,
                transcript=query.transcript,
                ocr_text=query.ocr_text,
                language=query.language,
                lang=query.lang if query.text or query.ocr_text else None,
            ),
            timings_ms=timings,
            calibration=self.calibration.version,
            warnings=warnings,
        )

    # -- retrieval and fusion ------------------------------------------------------------
    def _signals(
        self, modality: Modality, query: EncodedQuery, options: SearchOptions
    ) -> dict[str, Any]:
        vectors = {
            TEXT_DENSE: query.text_vector,
            MULTI_DENSE: query.multi_vector,
            CLIP_TEXT: query.clip_text_vector,
            CLIP_IMAGE: query.clip_image_vector,
            LEXICAL: query.sparse,
        }
        if modality is not Modality.IMAGE and self._clip_is_random():
            # Random CLIP weights only add noise to text and speech ranking; for images they
            # are all there is (and results say so in their warnings).
            vectors[CLIP_TEXT] = vectors[CLIP_IMAGE] = None
        return {s: v for s, v in vectors.items() if v is not None and s in options.signals}

    def _clip_is_random(self) -> bool:
        return self.models.status()["clip"].warning is not None

    def _retrieve(
        self,
        modality: Modality,
        query: EncodedQuery,
        where: Filter,
        depth: int,
        options: SearchOptions,
    ) -> list[Candidate]:
        name = collection_name(self.settings.store.collection_prefix, modality)
        signals = self._signals(modality, query, options)
        if not signals or not self.store.collection_exists(name):
            return []
        order = list(signals)
        # One batched call: every signal's own top candidates (ids and scores only: payloads
        # are read after fusion, for the candidates a response can show or rerank).
        first = self.store.search_batch(
            name,
            [
                VectorQuery(VECTOR_OF_SIGNAL[s], signals[s], depth, where, with_payload=False)
                for s in order
            ],
        )
        by_id: dict[str, Candidate] = {}
        rankings: list[list[str]] = []
        for hits in first:
            rankings.append([h.id for h in hits])
            for h in hits:
                by_id.setdefault(h.id, Candidate(h.id, modality, {}))
        if not by_id:
            return []
        # A second batched call scores the whole union by every signal, so fusion never
        # guesses a score for a candidate that one signal did not happen to return.
        # The query of the first dense model limited to some languages also reads each
        # candidate's language (the payload's ``lang`` field alone): such a model votes
        # only on the candidates whose language it covers. One reading is enough: the text
        # models embed the same text, so their vectors sit on the same points.
        union = Filter(must=(*where.must, HasId(tuple(by_id))))
        lang_from = (
            next((s for s in order if self._languages(s)), None)
            if self._reads_candidate_languages(options)
            else None
        )
        exact = self.store.search_batch(
            name,
            [
                VectorQuery(
                    VECTOR_OF_SIGNAL[s],
                    signals[s],
                    len(by_id),
                    union,
                    with_payload=(Field.LANG,) if s == lang_from else False,
                )
                for s in order
            ],
        )
        scores: dict[str, dict[str, float]] = {}
        languages: dict[str, str] = {}
        for signal, hits in zip(order, exact, strict=True):
            scores[signal] = {h.id: h.score for h in hits}
            for h in hits:
                if Field.LANG in h.payload:
                    languages[h.id] = str(h.payload[Field.LANG])
        if LEXICAL in scores:
            # no shared term: the lexical score is 0, not unknown
            scores[LEXICAL] = {cid: scores[LEXICAL].get(cid, 0.0) for cid in by_id}
        for signal, by_candidate in scores.items():
            for cid, raw in by_candidate.items():
                by_id[cid].raw[signal] = raw

        # Every signal is judged on the same candidates (the union, a lexical non-match
        # scoring 0): a signal's own top list differs in length between signals (the lexical
        # one holds only the passages sharing a term), and the stand-out of its best score
        # means different things over 12 matches and over 100 nearest neighbours.
        found = [s for s, hits in zip(order, first, strict=True) if hits]
        found_scores = {s: list(scores.get(s, {}).values()) for s in found}
        # Per-query reliability (the shape of each signal's scores) gates how far rerank may
        # move the order; fusion votes by it only with FusionParams.shape.
        reliabilities = self._weights(found_scores, options, query.coverage_lang, shape=True)
        weights = (
            reliabilities
            if self.fusion_params.shape
            else self._weights(found_scores, options, query.coverage_lang, shape=False)
        )
        calibrate = self._calibrator(modality, options)
        if options.fusion == "rrf":
            fused_rrf = rrf(rankings)
            for cid, candidate in by_id.items():
                candidate.weights, candidate.reliability = weights, reliabilities
                candidate.fused_logit = 60.0 * fused_rrf.get(cid, 0.0) - 2.0
            return list(by_id.values())
        # a candidate's weights depend only on its language: worked out once per language
        by_lang = {
            lang: self._candidate_weights(weights, lang, query.coverage_lang, options)
            for lang in {*languages.values(), UNDETERMINED}
        }
        own_weights = {cid: by_lang[languages.get(cid, UNDETERMINED)] for cid in by_id}
        fused = fuse(list(by_id), scores, own_weights.__getitem__, calibrate)
        for cid, result in fused.items():
            candidate = by_id[cid]
            candidate.weights, candidate.reliability = own_weights[cid], reliabilities
            candidate.calibrated = {
                s: round(sigmoid(v), 6) for s, v in result.contributions.items()
            }
            candidate.fused_logit = result.logit
        return list(by_id.values())

    def _weights(
        self,
        scores: Mapping[str, Sequence[float]],
        options: SearchOptions,
        lang: str,
        *,
        shape: bool,
    ) -> dict[str, float]:
        """Per-signal weight for this query: 1 for every signal that found something (with
        ``shape``, the reliability of its scores over the candidates, ``scores[signal]``),
        times the uncovered-language factor."""
        if options.fusion != "adaptive":
            return dict.fromkeys(scores, 1.0)
        by_shape = {
            signal: (
                reliability(values, self.fusion_params, sparse=signal == LEXICAL) if shape else 1.0
            )
            for signal, values in scores.items()
            if values
        }
        weights = {
            # A model not trained on the query's language: whatever its scores look like, they
            # do not know the text (FusionParams.uncovered: by default it does not vote).
            signal: round(
                value
                * (1.0 if covers(self._languages(signal), lang) else self.fusion_params.uncovered),
                4,
            )
            for signal, value in by_shape.items()
        }
        if by_shape and max(weights.values()) <= 0:
            # Only uncovered models found anything: their order is still better than none.
            return {signal: round(value, 4) for signal, value in by_shape.items()}
        return weights

    def _reads_candidate_languages(self, options: SearchOptions) -> bool:
        """Whether fusion needs each candidate's language: adaptive fusion with a dense
        model that does not cover every language."""
        return (
            options.fusion == "adaptive"
            and (self.fusion_params.candidate_languages or self.fusion_params.specialist)
            and any(self._languages(s) for s in (TEXT_DENSE, MULTI_DENSE))
        )

    def _candidate_weights(
        self, weights: Mapping[str, float], lang: str, query_lang: str, options: SearchOptions
    ) -> dict[str, float]:
        """One candidate's weights: the query's, where a dense model that does not cover the
        candidate's language (``lang``, from its payload) gets the uncovered factor, and,
        of the dense text models still voting, only the most specific one votes
        (``FusionParams.specialist``). A candidate no signal can read keeps the query's
        weights (an order by models outside its language is better than none)."""
        if options.fusion != "adaptive":
            return dict(weights)
        params = self.fusion_params
        own = dict(weights)
        if params.candidate_languages:
            for signal, value in weights.items():
                if value > 0 and not covers(self._languages(signal), lang):
                    own[signal] = round(value * params.uncovered, 4)
        if params.specialist:
            dense = [s for s in (TEXT_DENSE, MULTI_DENSE) if own.get(s, 0.0) > 0]
            breadth = {s: len(self._languages(s)) or math.inf for s in dense}
            specific = self._languages(min(dense, key=breadth.__getitem__)) if dense else ()
            if len(dense) > 1 and covers(specific, lang) and covers(specific, query_lang):
                narrowest = min(breadth.values())
                for signal in dense:
                    if breadth[signal] > narrowest:
                        own[signal] = 0.0
        if max(own.values(), default=0.0) <= 0:
            return dict(weights)
        return own

    def _languages(self, signal: str) -> tuple[str, ...]:
        """Languages the signal's model covers; () = every language."""
        models = self.settings.models
        if signal == TEXT_DENSE:
            return models.text.languages
        if signal == MULTI_DENSE:
            return models.multilingual.languages
        return ()

    def _calibrator(self, modality: Modality, options: SearchOptions) -> Any:
        if not options.calibrate:
            return lambda signal, raw: raw
        return lambda signal, raw: self.calibration.logit(modality.value, signal, raw)

    def _read_payloads(self, shown: list[Candidate]) -> set[str]:
        """Payloads of the candidates a response can show or rerank, read by id. Reading a
        payload reads all of it, stored rerank vectors included (about 900 floats an image
        point): for every candidate of every signal that cost more than the search itself
        (a hundred candidates per collection, 10-25 ms a collection at 100k points). Returns
        the ids no longer stored."""
        gone: set[str] = set()
        by_modality: dict[Modality, list[Candidate]] = {}
        for candidate in shown:
            by_modality.setdefault(candidate.modality, []).append(candidate)
        for modality, group in by_modality.items():
            name = collection_name(self.settings.store.collection_prefix, modality)
            stored = {p.id: p.payload for p in self.store.retrieve(name, [c.id for c in group])}
            for candidate in group:
                if candidate.id in stored:
                    candidate.payload = stored[candidate.id]
                else:
                    gone.add(candidate.id)
        return gone

    # -- reranking -------------------------------------------------------------------------
    def _rerank(self, query: EncodedQuery, head: list[Candidate]) -> None:
        rerank_query = RerankQuery(
            text=query.text or query.ocr_text,
            text_vector=query.text_vector,
            clip_text_vector=query.clip_text_vector,
            clip_image_vector=query.clip_image_vector,
        )
        raw = self.reranker.score(
            rerank_query,
            [
                RerankCandidate(c.id, c.modality.value, c.payload, c.raw.get(TEXT_DENSE))
                for c in head
            ],
        )
        beta = self.settings.search.rerank_weight
        # How far each rerank signal may move the order: as far as the first-stage signal of
        # the same model was reliable for this query, relative to the most reliable signal
        # (the shape of their scores, Candidate.reliability; a cross-encoder, which has no
        # first-stage signal, by the shape of its own scores over the head), and not at all
        # when its model does not cover the query's language or the candidate's. Trust 0
        # keeps the fused order.
        own = {
            signal: [raw[c.id][signal] for c in head if signal in raw.get(c.id, {})]
            for signal in (RERANK_TEXT, RERANK_CLIP)
        }
        cross_encoder = self.reranker.uses_cross_encoder
        text_languages = self._languages(TEXT_DENSE)
        text_reads_query = covers(text_languages, query.coverage_lang)
        for candidate in head:
            candidate.rerank_raw = raw.get(candidate.id, {})
            candidate.rerank_logits = {
                signal: self.calibration.logit(candidate.modality.value, signal, value)
                for signal, value in candidate.rerank_raw.items()
            }
            candidate.rerank_trust = {
                signal: rerank_trust(
                    signal,
                    candidate.reliability,
                    cross_encoder=cross_encoder and signal == RERANK_TEXT,
                    own_reliability=reliability(own[signal], self.fusion_params),
                    covered=(cross_encoder and signal == RERANK_TEXT)
                    or signal != RERANK_TEXT
                    or (text_reads_query and covers(text_languages, _lang(candidate))),
                )
                for signal in candidate.rerank_logits
            }
            shift = sum(
                candidate.rerank_trust[s] * (logit - self._rerank_base(candidate, s, query))
                for s, logit in candidate.rerank_logits.items()
            )
            n = len(candidate.rerank_logits) or 1
            candidate.final_logit = candidate.fused_logit + beta * shift / n

    def _rerank_base(self, candidate: Candidate, signal: str, query: EncodedQuery) -> float:
        """What a rerank score is compared with: the first-stage score of the same model when
        the rerank signal re-reads with it (``rerank_delta``; read through the rerank
        signal's own calibration, so the difference is what the second look added), else the
        fused score."""
        if not self.fusion_params.rerank_delta:
            return candidate.fused_logit
        if signal == RERANK_TEXT and not self.reranker.uses_cross_encoder:
            first = TEXT_DENSE
        elif signal == RERANK_CLIP:
            first = CLIP_IMAGE if query.clip_image_vector is not None else CLIP_TEXT
        else:
            return candidate.fused_logit
        raw = candidate.raw.get(first)
        if raw is None:
            return candidate.fused_logit
        return self.calibration.logit(candidate.modality.value, signal, raw)

    # -- results ----------------------------------------------------------------------------
    def _hit(self, c: Candidate, explain: bool) -> SearchHit:
        p = c.payload
        locator = p.get("locator") or {}
        return SearchHit(
            id=c.id,
            modality=c.modality.value,
            score=round(sigmoid(c.final_logit), 6),
            source=str(p.get("source", "")),
            source_name=str(p.get("source_name", "")),
            locator=ResultLocator(
                **{k: v for k, v in locator.items() if k in ResultLocator.model_fields}
            ),
            snippet=_snippet(p),
            media_url=f"/v1/media/{c.id}",
            title=p.get("title"),
            language=p.get("language"),
            lang=p.get("lang"),
            explain=_explain(c) if explain else None,
        )


def _by_fused(c: Candidate) -> tuple[float, str]:
    """Best fused score first; equal scores (a lexical-only query's tied matches) by id, so
    the order, and so every page, is the same whatever order the store returned them in
    (which follows insertion order, and concurrent indexing varies that)."""
    return (-c.fused_logit, c.id)


def _by_final(c: Candidate) -> tuple[float, str]:
    return (-c.final_logit, c.id)


def _lang(candidate: Candidate) -> str:
    """The language of the candidate's unit (payload ``lang``; undetermined when absent, which
    gives a model the benefit of the doubt). Rerank checks it as well as the query's: a short
    Latin-script query is often undetermined, and the English encoder re-reading a Russian
    passage for it would reorder by noise."""
    return str(candidate.payload.get("lang") or UNDETERMINED)


def _snippet(payload: Mapping[str, Any], limit: int = 400) -> str:
    text = str(payload.get("text") or "").strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _explain(c: Candidate) -> dict[str, Any]:
    return {
        "retrieval": {s: round(v, 6) for s, v in c.raw.items()},
        "calibrated": c.calibrated,
        "weights": c.weights,
        "reliability": c.reliability,
        "fused": round(sigmoid(c.fused_logit), 6),
        "rerank": {
            s: {"raw": round(v, 6), "calibrated": round(sigmoid(c.rerank_logits[s]), 6)}
            for s, v in c.rerank_raw.items()
        },
        "rerank_trust": c.rerank_trust,
        "final": round(sigmoid(c.final_logit), 6),
    }


def _lap(timings: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    timings[name] = round((now - since) * 1000, 2)
    return now
