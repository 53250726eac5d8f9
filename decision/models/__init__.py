"""ONNX model serving behind the `Scorer` protocol: registry, validation, features,
hot swap, canary, shadow, tiered fallback and monitoring."""

from decision.models.errors import ModelConfigError, ModelNotFound
from decision.models.features import FeatureHydrator
from decision.models.serving import ModelScorer, ServingSettings
from decision.models.validate import publish_model, validate_model

__all__ = ["ModelScorer", "ServingSettings", "FeatureHydrator", "validate_model", "publish_model",
           "ModelConfigError", "ModelNotFound"]
