"""Running suites on shared inputs: one embedder (with a large cache), one model, one history collection and
one pipeline run serve every suite of ``triage eval all``, so running them together costs little more than
the most expensive one. Each ``run_<suite>`` returns the suite's JSON."""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage.core.errors import ArtifactError, InvalidInput

if TYPE_CHECKING:
    from triage.config import Settings
    from triage.engines.classifier import TextClassifier
    from triage.engines.datasets import LabelledText
    from triage.engines.embedder import Embedder
    from triage.engines.policy.models import Policy
    from triage.engines.policy.taxonomy import Taxonomy
    from triage.engines.retrieval import CaseStore
    from triage.evaluation.metrics import Scored
    from triage.evaluation.pipeline import PipelineRun
    from triage.evaluation.recorded import Outcome
    from triage.evaluation.replay import RecordedCase

EMBED_CACHE = 100_000
SUITES = ("classify", "thresholds", "retrieve", "drafts", "e2e", "replay")


@dataclass
class EvalConfig:
    data: Path | None = None
    history: Path | None = None
    model: Path | None = None
    out: Path | None = None
    policy: Path | None = None
    candidates: list[Path] = field(default_factory=list)
    candidate_model: Path | None = None
    assumptions: Path = Path("eval/replay.yaml")
    costs: Path | None = None
    adversarial: Path = Path("eval/drafts/adversarial.yaml")
    target_precision: float = 0.99
    confidence: float = 0.95
    method: str = "clopper-pearson"
    scope: str = "pooled"
    calibration: Path | None = None
    calibration_share: float = 0.5
    k: int = 5
    learn_space: bool = False
    database: bool = False
    limit: int | None = None
    e2e_limit: int | None = None
    train_sample: int | None = None
    seed: int = 13
    text_col: str = "text"
    label_col: str = "label"
    progress: bool = False


def spread(rows: list[LabelledText], n: int | None) -> list[LabelledText]:
    """``n`` rows evenly spaced over the file (its whole period and label mix), or all of them."""
    if n is None or n >= len(rows):
        return rows
    step = len(rows) / n
    return [rows[int(i * step)] for i in range(n)]


def reusable_model(metadata: dict[str, Any], rows: list[LabelledText], seed: int) -> bool:
    """Whether an artifact with ``metadata`` is what training on ``rows`` with ``seed`` and today's default
    recipe would build (so a changed recipe is never evaluated through a stale model)."""
    from dataclasses import asdict

    from triage.engines.classifier import Recipe
    from triage.engines.classifier.training import training_data_sha256

    recipe = {k: v for k, v in metadata.get("recipe", {}).items() if k not in ("tune_encoder", "members")}
    return (
        metadata.get("training_data_sha256") == training_data_sha256(rows)
        and metadata.get("seed") == seed
        and recipe == asdict(Recipe())
    )


class Workbench:
    """The inputs every suite shares, each built on first use."""

    def __init__(self, config: EvalConfig, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.meta: dict[str, Any] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="triage-eval-")
        self.workdir = Path(self._tmp.name)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        self._tmp.cleanup()

    def _load(self, path: Path | None, what: str) -> list[LabelledText]:
        from triage.engines.datasets import load_labelled

        if path is None:
            raise InvalidInput(f"this suite needs --{what} FILE")
        return load_labelled(path, text_col=self.config.text_col, label_col=self.config.label_col)

    @cached_property
    def data(self) -> list[LabelledText]:
        return spread(self._load(self.config.data, "data"), self.config.limit)

    @cached_property
    def history(self) -> list[LabelledText]:
        return spread(self._load(self.config.history, "history"), self.config.train_sample)

    @cached_property
    def embedder(self) -> Embedder:
        from triage.engines.embedder import CachingEmbedder, SentenceTransformerEmbedder

        inner = SentenceTransformerEmbedder(
            self.settings.embedding_model, batch_size=self.settings.embedding_batch_size
        )
        return CachingEmbedder(inner, size=EMBED_CACHE)

    @cached_property
    def taxonomy(self) -> Taxonomy:
        from triage.engines.policy.taxonomy import load_taxonomy

        return load_taxonomy(self.settings.taxonomy_file)

    @cached_property
    def policy(self) -> Policy:
        from triage.engines.policy.loader import load_policy

        path = self.config.policy or self.settings.policy_file
        self.meta["policy"] = str(path)
        return load_policy(path)

    @cached_property
    def classifier(self) -> TextClassifier:
        from triage.engines.classifier import load_classifier

        model = self.config.model or self._train()
        if not (model / "metadata.json").is_file():
            # before the embedding model loads, so a wrong path fails in a second
            raise ArtifactError(f"{model}: not a classifier artifact (metadata.json is missing)")
        self.meta["model"] = str(model)
        return load_classifier(model, self.embedder)

    def _train(self) -> Path:
        """The frozen-encoder ensemble (as ``triage bootstrap`` ships) on ``--history``, reused when the
        folder already holds one trained on the same rows, with the same seed and the same recipe."""
        import json

        from triage.engines.classifier import train_classifier

        folder = (self.config.out or self.workdir) / "model"
        metadata = folder / "metadata.json"
        rows = self.history
        if metadata.is_file() and reusable_model(
            json.loads(metadata.read_text(encoding="utf-8")), rows, self.config.seed
        ):
            return folder
        started = time.perf_counter()
        train_classifier(
            rows,
            self.embedder,
            folder,
            seed=self.config.seed,
            progress=self.config.progress,
            tune_encoder=False,
        )
        self.meta["model_training_seconds"] = round(time.perf_counter() - started, 1)
        return folder

    @cached_property
    def store(self) -> CaseStore:
        from triage.evaluation.pipeline import open_history

        started = time.perf_counter()
        store = open_history(
            self.settings,
            self.embedder,
            self.history,
            self.workdir / "store",
            learn=self.config.learn_space,
            progress=self.config.progress,
        )
        self.meta["history_index_seconds"] = round(time.perf_counter() - started, 1)
        return store

    @cached_property
    def scored(self) -> list[Scored]:
        from triage.evaluation.classify import score_model

        return score_model(self.classifier, self.data)

    @cached_property
    def outcomes(self) -> dict[str, Outcome]:
        from triage.evaluation.recorded import Outcome

        return {row.case_id: Outcome.of(row) for row in self.data if row.case_id}

    @cached_property
    def pipeline(self) -> PipelineRun:
        from triage.core.events import ExceptionEvent
        from triage.domain.cases.flow import FlowEngines
        from triage.engines.drafting import build_drafter
        from triage.evaluation.pipeline import run_pipeline

        rows = spread(self.data, self.config.e2e_limit)
        events = [ExceptionEvent.model_validate(r.record["event"]) for r in rows if "event" in r.record]
        if not events:
            raise InvalidInput("the pipeline suites need --data in the shipped history format (events)")
        started = time.perf_counter()
        engines = FlowEngines(
            classifier=self.classifier,
            embedder=self.embedder,
            drafter=build_drafter(self.settings, taxonomy=self.taxonomy),
            taxonomy=self.taxonomy,
        )
        run = run_pipeline(
            engines=engines,
            store=self.store,
            policy=self.policy,
            events=events,
            database_url=f"sqlite:///{self.workdir / 'eval.sqlite3'}",
            settings=self.settings,
        )
        self.meta["pipeline_seconds"] = round(time.perf_counter() - started, 1)
        return run

    def recorded(self) -> tuple[list[RecordedCase], str]:
        """The cases to replay: the service's own database (``--database``), or the pipeline run's."""
        from triage.evaluation.recorded import read_recorded

        if self.config.database:
            from triage.evaluation.pipeline import case_service

            _, service = case_service(self.settings.resolved_database_url, self.taxonomy)
            cases = read_recorded(service, limit=self.config.limit)
            return (
                cases,
                f"database {self.settings.resolved_database_url} (recorded decisions and resolutions)",
            )
        cases = read_recorded(self.pipeline.service, outcomes=self.outcomes)
        source = f"dataset {self.config.data} through the pipeline (what happened: the dataset's outcomes)"
        return cases, source


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
