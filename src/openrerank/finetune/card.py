"""The model card (``README.md``) of a fine-tuned model, written from its facts.

The facts are the plain data ``openrerank finetune`` also writes to ``finetune.json``:
base model and revision, data counts and source, recipe, training figures, and the
held-out comparison of base and fine-tuned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_DATA_ROWS = (
    ("queries", "training queries (all)"),
    ("train_queries", "trained on"),
    ("dev_queries", "held out (dev)"),
    ("positives", "positive passages"),
    ("given_negatives", "negatives given by the data"),
    ("mined_negatives", "negatives mined with BM25 (or drawn at random where BM25 had none)"),
    ("passages", "distinct passages"),
    ("rows", "training rows"),
)


def render_card(facts: Mapping[str, Any]) -> str:
    """The card's Markdown, with Hugging Face metadata up front."""
    base, data = facts["base"], facts["data"]
    sections = [
        _front_matter(base["name"]),
        f"# Fine-tuned reranker from `{base['name']}`\n",
        "A cross-encoder (one relevance logit per query-passage pair) fine-tuned by "
        f"`openrerank finetune` {facts['versions']['openrerank']}. Serve it with "
        "`openrerank serve --model THIS_FOLDER`; rank, eval and batch take the folder too.\n",
        "## Base model\n",
        f"- `{base['name']}`, revision `{base['revision']}`"
        + (
            ' (an encoder: the one-logit head is new, seeded; the held-out "base" is that '
            "untrained start)"
            if base.get("new_head")
            else ""
        )
        + "\n",
        "## Data\n",
        f"- Source: {data['source']}",
        *[f"- {label}: {data[key]:,}" for key, label in _DATA_ROWS if key in data],
        "",
        "## Recipe\n",
        _recipe(facts["recipe"], facts["training"]),
        "## Held-out results\n",
        _dev(facts.get("dev")),
        "## Versions\n",
        *[f"- {name} {version}" for name, version in facts["versions"].items()],
        "",
    ]
    return "\n".join(sections)


def _front_matter(base: str) -> str:
    return (
        "---\n"
        f"base_model: {base}\n"
        "library_name: sentence-transformers\n"
        "pipeline_tag: text-ranking\n"
        "tags: [cross-encoder, reranker, openrerank]\n"
        "---\n"
    )


def _recipe(recipe: Mapping[str, Any], training: Mapping[str, Any]) -> str:
    lines = [
        f"- Trainer: sentence-transformers `CrossEncoderTrainer`, loss `{recipe['loss']}` "
        f"({_LOSS_NAMES[recipe['loss']]})",
        f"- {recipe['negatives']} hard negatives per positive, {recipe['rounds']} row(s) per "
        f"positive, {recipe['in_batch_negatives']} in-batch negative(s) (MNRL only)",
        f"- Batch {recipe['batch_size']} rows, learning rate {recipe['learning_rate']:g} "
        f"(linear warm-up {recipe['warmup']:.0%}, then linear decay), weight decay "
        f"{recipe['weight_decay']:g}, max length {training['max_length']} tokens, seed "
        f"{recipe['seed']}, {recipe['precision']}",
        f"- {training['steps']} steps ({training['epochs']:.2f} epochs) on {training['device']}"
        f", {training['seconds']:.0f} s"
        + (f" (resumed from {training['resumed_from']})" if training["resumed_from"] else ""),
        f"- Training loss: {_loss_span(training['losses'])}",
        "",
    ]
    return "\n".join(lines)


_LOSS_NAMES = {
    "mnrl": "MultipleNegativesRankingLoss",
    "bce": "BinaryCrossEntropyLoss",
    "lambda": "LambdaLoss",
}


def _loss_span(losses: list[list[float]]) -> str:
    if not losses:
        return "not logged"
    (first_step, first), (last_step, last) = losses[0], losses[-1]
    return f"{first:.4f} at step {first_step:.0f}, {last:.4f} at step {last_step:.0f}"


def _dev(dev: Mapping[str, Any] | None) -> str:
    if dev is None:
        return (
            "No held-out figures: no queries were held out (`--dev 0`), or BM25 found no "
            "candidates for them.\n"
        )
    header = "| measure | first stage | base | fine-tuned | delta |\n|---|---:|---:|---:|---:|"
    rows = [
        f"| {name} | {m['first_stage']:.4f} | {m['baseline']:.4f} | {m['candidate']:.4f} "
        f"| {m['delta']:+.4f} |"
        for name, m in dev["measures"].items()
    ]
    summary = (
        f"{dev['queries']} held-out queries, candidates: {dev['first_stage']}. "
        f"{dev['primary']} per query: {dev['wins']} better, {dev['losses']} worse, "
        f"{dev['ties']} equal; paired sign-flip p = {dev['p_value']:.3g} (fine-tuned vs "
        f"base), {dev['p_value_candidate_vs_first_stage']:.3g} (fine-tuned vs first stage)."
    )
    return "\n".join([header, *rows, "", summary, ""])
