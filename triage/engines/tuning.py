"""Supervised fine-tuning of the sentence encoder's transformer layers on labelled texts.

Used twice: by the classifier (its ``tuned`` ensemble member) and by the case store (a vector space learnt from
the labelled history, in which cases an agent would call "the same kind" sit close together).

A cosine-softmax head (one unit vector per label, initialised at the label's centroid in the frozen space, logits
``scale * cos``) is trained jointly with the encoder's transformer layers on one pass over the rows; the word
embeddings stay frozen (they are most of the parameters, and freezing them keeps rare words where the
pre-trained model put them). Each step sees either a row or its noisy copy, so the tuned encoder learns the
same register tolerance as the other members without doubling the steps. Batches are built from rows of
similar length, which halves the padding and the time on CPU.

Only the changed tensors leave this module (float32 arrays named ``encoder.<parameter>``), to be stored in
safetensors and laid over a copy of the base model at load: no pickle, no model directory to trust.
"""

from __future__ import annotations

import copy
import hashlib
import math
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from triage.core.errors import ArtifactError
from triage.engines.embedder import SentenceTransformerEmbedder

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from triage.engines.embedder import Embedder

PREFIX = "encoder."
MAX_TOKENS = 128
BUCKET_BATCHES = 50


@dataclass(frozen=True)
class TuningPlan:
    epochs: float = 1.0
    learning_rate: float = 8e-5
    head_learning_rate: float = 1e-2
    batch_size: int = 32
    scale: float = 20.0
    warmup: float = 0.06
    weight_decay: float = 0.01


def sentence_model(embedder: Embedder) -> Any | None:
    """The ``SentenceTransformer`` behind ``embedder`` (through caching wrappers), or ``None`` if it has none."""
    seen: Any = embedder
    for _ in range(4):
        model = getattr(seen, "model", None)
        if model is not None and hasattr(model, "tokenizer"):
            return model
        seen = getattr(seen, "inner", None)
        if seen is None:
            return None
    return None


def _copy_of(base: Any) -> Any:
    model = copy.deepcopy(base)
    model.max_seq_length = MAX_TOKENS
    return model


def tensors_digest(tensors: dict[str, NDArray[np.float32]]) -> str:
    """A short content hash of named tensors (names and bytes, in name order)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(tensors[name], dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


def _transformer(model: Any) -> Any:
    """The Hugging Face model inside a sentence-transformers pipeline (module 0)."""
    return model[0].auto_model


def _trainable(model: Any) -> dict[str, Any]:
    """The parameters tuning changes: everything in the transformer except its input embeddings."""
    return {
        name: param
        for name, param in _transformer(model).named_parameters()
        if not name.startswith("embeddings.")
    }


def _batches(lengths: list[int], batch_size: int, generator: Any) -> list[list[int]]:
    """Shuffled batches of rows of similar length (sorted within chunks of ``BUCKET_BATCHES`` batches)."""
    import torch

    order = torch.randperm(len(lengths), generator=generator).tolist()
    batches: list[list[int]] = []
    chunk_size = batch_size * BUCKET_BATCHES
    for start in range(0, len(order), chunk_size):
        chunk = sorted(order[start : start + chunk_size], key=lengths.__getitem__)
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffled]


def fine_tune(
    base: Any,
    texts: list[str],
    noisy: list[str],
    y: NDArray[np.int64],
    n_labels: int,
    *,
    plan: TuningPlan | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, NDArray[np.float32]]:
    """Tune a copy of ``base`` (a ``SentenceTransformer``) on ``texts``, each step drawing a row or its ``noisy``
    copy; return the changed tensors. ``base`` itself is left untouched."""
    import torch
    import torch.nn.functional as F

    plan = plan or TuningPlan()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = _copy_of(base)
    encoder, tokenizer = _transformer(model), model.tokenizer
    for param in encoder.parameters():
        param.requires_grad = False
    trainable = _trainable(model)
    for param in trainable.values():
        param.requires_grad = True

    labels = torch.as_tensor(np.asarray(y, dtype=np.int64))
    centroids = torch.zeros(n_labels, encoder.config.hidden_size)
    with torch.no_grad():
        frozen = torch.as_tensor(model.encode(texts, batch_size=128, normalize_embeddings=True))
    centroids.index_add_(0, labels, frozen)
    head = torch.nn.Parameter(F.normalize(centroids, dim=1))

    steps = max(1, math.ceil(plan.epochs * len(texts) / plan.batch_size))
    warmup = max(1, int(steps * plan.warmup))
    optimiser = torch.optim.AdamW(
        [
            {"params": list(trainable.values()), "lr": plan.learning_rate},
            {"params": [head], "lr": plan.head_learning_rate},
        ],
        weight_decay=plan.weight_decay,
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (steps - s) / steps)
    )
    lengths = [len(t) for t in texts]
    encoder.train()
    started, step, last_report = time.monotonic(), 0, 0.0
    while step < steps:
        for batch in _batches(lengths, plan.batch_size, generator):
            if step >= steps:
                break
            pick = torch.rand(len(batch), generator=generator) < 0.5
            chosen = [noisy[i] if p else texts[i] for i, p in zip(batch, pick.tolist(), strict=True)]
            encoded = tokenizer(
                chosen, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
            )
            hidden = encoder(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = F.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=1)
            logits = plan.scale * pooled @ F.normalize(head, dim=1).T
            loss = F.cross_entropy(logits, labels[batch])
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            schedule.step()
            step += 1
            elapsed = time.monotonic() - started
            if progress and (elapsed - last_report >= 15 or step == steps):
                last_report = elapsed
                print(
                    f"fine-tuning the encoder: step {step}/{steps}, loss {loss.item():.3f}, {elapsed:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    encoder.eval()
    return {PREFIX + name: param.detach().numpy().astype(np.float32) for name, param in trainable.items()}


class TunedEmbedder(SentenceTransformerEmbedder):
    """A copy of the base encoder with tuned tensors laid over it; embeds exactly like the base embedder."""

    def __init__(
        self, base: Any, tensors: dict[str, NDArray[np.float32]], *, model_id: str, batch_size: int = 64
    ) -> None:
        import torch

        self._model = _copy_of(base)
        params = _trainable(self._model)
        tuned = {name[len(PREFIX) :]: value for name, value in tensors.items() if name.startswith(PREFIX)}
        if set(tuned) != set(params):
            missing = sorted(set(params) - set(tuned))[:3]
            extra = sorted(set(tuned) - set(params))[:3]
            raise ArtifactError(
                f"tuned encoder tensors do not fit the base model (missing {missing}, unexpected {extra})"
            )
        with torch.no_grad():
            for name, param in params.items():
                value = torch.as_tensor(tuned[name])
                if value.shape != param.shape:
                    raise ArtifactError(f"tuned encoder tensor {name} has shape {tuple(value.shape)}")
                param.copy_(value)
        self._model.eval()
        # The base class's attributes, set here because the model is built from tensors, not loaded by name.
        self.model_id = model_id
        self.dimension = int(_transformer(self._model).config.hidden_size)
        self.batch_size = batch_size
        self._lock = threading.Lock()
