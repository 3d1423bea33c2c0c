"""Model loading: one loader per kind, lazy, once per process, device chosen at run time."""

from rag.models.registry import MODEL_KINDS, ModelRegistry, ModelState, ModelStatus

__all__ = ["MODEL_KINDS", "ModelRegistry", "ModelState", "ModelStatus"]
