"""PairTemplate: where a model's tokenizer puts special tokens around a text pair.

Learned once from the tokenizer's own post-processor (BERT ``[CLS] A [SEP] B [SEP]``,
RoBERTa ``<s> A </s></s> B </s>``, or any template), so a query can be joined with any
slice of a document's tokens without tokenizing the text again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer

from openrerank.errors import UnsupportedModelError
from openrerank.types import IntArray

_PROBE = ("a", "b")


@dataclass(frozen=True, eq=False)
class PairTemplate:
    """Special tokens before, between and after the two texts, and every segment id.

    Attributes:
        ids: special token ids of the three groups (before, between, after).
        type_ids: their segment ids.
        first_type: segment id of the first text's tokens.
        second_type: segment id of the second text's tokens.
    """

    ids: tuple[IntArray, IntArray, IntArray]
    type_ids: tuple[IntArray, IntArray, IntArray]
    first_type: int
    second_type: int

    @classmethod
    def learn(cls, tokenizer: Tokenizer) -> PairTemplate:
        """Read the template from one encoded probe pair.

        Raises:
            UnsupportedModelError: the tokenizer does not lay out a pair as
                ``specials, first text, specials, second text, specials``.
        """
        encoding = tokenizer.encode(*_PROBE, add_special_tokens=True)
        sequences = encoding.sequence_ids
        first = [i for i, sequence in enumerate(sequences) if sequence == 0]
        second = [i for i, sequence in enumerate(sequences) if sequence == 1]
        if not first or not second or first[-1] >= second[0]:
            raise UnsupportedModelError("the tokenizer's pair template is not 'first, second'")
        bounds = ((0, first[0]), (first[-1] + 1, second[0]), (second[-1] + 1, len(sequences)))
        ids = np.asarray(encoding.ids, dtype=np.int64)
        types = np.asarray(encoding.type_ids, dtype=np.int64)
        return cls(
            ids=tuple(ids[a:b] for a, b in bounds),  # type: ignore[arg-type]
            type_ids=tuple(types[a:b] for a, b in bounds),  # type: ignore[arg-type]
            first_type=int(types[first[0]]),
            second_type=int(types[second[0]]),
        )

    def join(self, first: IntArray, second: IntArray) -> tuple[IntArray, IntArray]:
        """Input ids and segment ids of the pair ``(first, second)``."""
        before, between, after = self.ids
        ids = np.concatenate((before, first, between, second, after))
        t_before, t_between, t_after = self.type_ids
        types = np.concatenate(
            (
                t_before,
                np.full(first.shape[0], self.first_type, dtype=np.int64),
                t_between,
                np.full(second.shape[0], self.second_type, dtype=np.int64),
                t_after,
            )
        )
        return ids, types
