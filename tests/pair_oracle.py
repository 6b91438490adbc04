"""The ``tokenizers`` library's own pair encoding: the oracle for the engine's pairs.

The document alone is truncated (``only_second``), as transformers' cross-encoder recipe
does; the caller passes the query already capped (:meth:`PairTokenizer.cap_query`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Encoding, Tokenizer

from openrerank.types import EncodedPair


def library_pairs(
    model_dir: Path, query: str, documents: Sequence[str], *, max_length: int
) -> list[Encoding]:
    """Each (query, document) pair as the model's ``tokenizer.json`` encodes it."""
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length, strategy="only_second")
    return tokenizer.encode_batch([(query, document) for document in documents])


def as_pair(encoding: Encoding, doc_index: int = 0) -> EncodedPair:
    """An encoding as the engine's pair type, for the backends' collate."""
    ids = np.asarray(encoding.ids, dtype=np.int64)
    return EncodedPair(ids, np.asarray(encoding.type_ids, dtype=np.int64), doc_index=doc_index)
