"""Fine-tuning a cross-encoder on the user's judged data (``openrerank finetune``).

The steps, one module each: `data` reads the training queries (Cohere's fine-tune JSONL,
(query, positive, negatives) rows, or a BEIR split), `mining` fills in missing negatives
with the built-in BM25, `plan` holds out dev queries and builds the rows each loss takes,
`trainer` runs sentence-transformers' ``CrossEncoderTrainer`` (the only module that
imports torch), `heldout` measures base vs fine-tuned on the dev queries, and `card`
writes the model card. `job` runs them in order.
"""
