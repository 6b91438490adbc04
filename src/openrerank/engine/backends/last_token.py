"""LastTokenScorer: an LLM reranker's score from the last position only.

A card computes the full-vocabulary head (150k columns for Qwen) at every position
and keeps one or two columns of the last one. Here the decoder runs, the last real
position's hidden state of each (right-padded) pair is gathered, and only the scoring
tokens' rows of the head are applied: the same numbers, without the
``pairs x length x vocabulary`` tensor that makes long pairs run out of memory.
Right padding keeps each pair's positions ``0..n-1``, as it is scored alone; a batch
without padding runs with no mask at all, so attention takes its causal fast path.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ScorerOutput:
    """What a sequence-classification model returns, as far as the backend reads it."""

    logits: torch.Tensor


class LastTokenScorer(torch.nn.Module):
    """A decoder plus a few rows of an output head.

    Args:
        decoder: the base model (``Qwen3Model``, ``GemmaModel``...), returning
            ``last_hidden_state``.
        rows: ``[labels, hidden]`` head rows: the scoring tokens' rows of the LM head,
            or a converted checkpoint's score head.
        bias: the head's bias, if any.
        softcap: the LM head's ``final_logit_softcapping`` (Gemma 2), if any.
    """

    def __init__(
        self,
        decoder: torch.nn.Module,
        rows: torch.Tensor,
        *,
        bias: torch.Tensor | None = None,
        softcap: float | None = None,
    ) -> None:
        super().__init__()
        self.decoder = decoder
        self.rows = torch.nn.Parameter(rows, requires_grad=False)
        self.bias = None if bias is None else torch.nn.Parameter(bias, requires_grad=False)
        self.softcap = softcap

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> ScorerOutput:
        """``[pairs, labels]`` logits of each pair's last real token."""
        lengths = attention_mask.sum(dim=1)
        padded = bool((lengths < attention_mask.shape[1]).any())
        hidden = self.decoder(
            input_ids=input_ids, attention_mask=attention_mask if padded else None
        ).last_hidden_state
        last = hidden[torch.arange(hidden.shape[0], device=hidden.device), lengths - 1]
        logits = torch.nn.functional.linear(last, self.rows, self.bias)
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return ScorerOutput(logits=logits)
