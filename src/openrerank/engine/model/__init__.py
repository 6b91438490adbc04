"""Reading a model's files: where they are, what they say, and how logits become scores."""
