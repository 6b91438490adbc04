"""Runtimes that turn a padded batch of token pairs into logits."""
