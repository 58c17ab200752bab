"""The live model catalog: default models named by family (flash, pro, tts, image,
embedding) resolved from the upstream's model list, per container (docs/models.md)."""
