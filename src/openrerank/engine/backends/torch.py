"""TorchBackend: transformers rerankers on CPU or CUDA.

Sequence-classification cross-encoders as they are; LLM rerankers (a ``*ForCausalLM``
of a known family, or its converted one-label checkpoint) as a
:class:`~openrerank.engine.backends.last_token.LastTokenScorer`. fp32, fp16 and bf16,
always under ``torch.inference_mode``. Which inputs the model takes is read from its
``forward`` signature.
"""

from __future__ import annotations

import inspect
import logging
from typing import cast

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

from openrerank.config import ModelConfig
from openrerank.engine.backends.base import MODEL_INPUTS, BackendInfo, Batch
from openrerank.engine.backends.last_token import LastTokenScorer
from openrerank.engine.model.resolve import ModelFiles
from openrerank.engine.model.spec import ModelSpec
from openrerank.engine.model.weights import check_weights
from openrerank.errors import (
    BackendUnavailableError,
    ModelLoadError,
    UnsupportedModelError,
    summarize_exception,
)
from openrerank.types import FloatArray

logger = logging.getLogger(__name__)

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class TorchBackend:
    """A transformers model on one device.

    Args:
        model: a loaded ``*ForSequenceClassification`` module, already on its device.
        spec: the model's spec (decides whether segment ids are fed).
        precision: ``fp32``, ``fp16`` or ``bf16``.
    """

    def __init__(self, model: torch.nn.Module, *, spec: ModelSpec, precision: str) -> None:
        self._model = model
        parameters = inspect.signature(model.forward).parameters
        self._inputs = tuple(name for name in MODEL_INPUTS if name in parameters)
        self._segments = spec.expects_token_type_ids
        self._device = next(model.parameters()).device
        self._info = BackendInfo("torch", precision, str(self._device), self._inputs)

    @property
    def info(self) -> BackendInfo:
        """Backend name, precision, device and the inputs fed to the model."""
        return self._info

    def run(self, batch: Batch) -> FloatArray:
        """Forward pass under inference mode; float32 logits on the CPU."""
        feed = batch.inputs(self._inputs, segments=self._segments)
        with torch.inference_mode():
            tensors = {k: torch.from_numpy(v).to(self._device) for k, v in feed.items()}
            logits = self._model(**tensors).logits
            return np.asarray(logits.float().cpu().numpy(), dtype=np.float32)

    def close(self) -> None:
        """Free the model (and cached CUDA memory)."""
        del self._model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def load(files: ModelFiles, spec: ModelSpec, config: ModelConfig) -> TorchBackend:
    """Registry entry: load the weights with transformers in the requested dtype."""
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailableError(f"device {config.device!r} requested but CUDA is unavailable")
    native = hasattr(transformers, spec.architecture)
    if spec.needs_remote_code and not native and not config.trust_remote_code:
        raise UnsupportedModelError(
            f"{files.name} needs code shipped with the model; enable trust_remote_code "
            "for this model only if you trust its authors"
        )
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    model = _from_pretrained(files, spec, config)
    if spec.template is not None:
        model = _last_token_scorer(model, spec)
    model.eval().to(config.device)
    logger.info("loaded %s on %s (%s)", files.name, config.device, config.precision)
    return TorchBackend(model, spec=spec, precision=config.precision)


def _last_token_scorer(model: torch.nn.Module, spec: ModelSpec) -> LastTokenScorer:
    """The decoder of an LLM reranker with only the rows of its head that score.

    A ``*ForCausalLM`` keeps its scoring tokens' rows of the LM head (the rest of an
    untied head is freed); a converted checkpoint keeps its one-row score head.
    """
    decoder = cast(torch.nn.Module, model.base_model)
    if not spec.causal_lm:
        score = cast(torch.nn.Linear, model.score)
        return LastTokenScorer(decoder, score.weight.detach(), bias=_detached(score.bias))
    if not spec.score_token_ids:
        raise UnsupportedModelError(f"{spec.architecture}: no scoring tokens were resolved")
    pretrained = cast(transformers.PreTrainedModel, model)
    head = cast(torch.nn.Linear, pretrained.get_output_embeddings())  # type: ignore[no-untyped-call]
    rows = head.weight.detach()[list(spec.score_token_ids)].clone()
    softcap = getattr(pretrained.config, "final_logit_softcapping", None)
    return LastTokenScorer(decoder, rows, bias=None, softcap=softcap)


def _detached(tensor: torch.Tensor | None) -> torch.Tensor | None:
    return None if tensor is None else tensor.detach()


def _from_pretrained(files: ModelFiles, spec: ModelSpec, config: ModelConfig) -> torch.nn.Module:
    """The transformers model; damaged or unloadable files are a one-line ModelLoadError."""
    check_weights(files.directory)
    auto = AutoModelForCausalLM if spec.causal_lm else AutoModelForSequenceClassification
    try:
        model = auto.from_pretrained(
            files.directory,
            dtype=_DTYPES[config.precision],
            trust_remote_code=config.trust_remote_code,
        )
    except Exception as exc:  # transformers and torch raise anything on bad files
        logger.debug("loading %s failed", files.name, exc_info=True)
        raise ModelLoadError(
            f"{files.name}: transformers cannot load it ({summarize_exception(exc)})"
        ) from exc
    return cast(torch.nn.Module, model)
