"""Training, distillation and evaluation of wirestream's models: research code, apart from the runtime.

The ``wirestream`` package holds what a running stage, the API and the operator tools use; this package
holds what *builds* the models they load (fine-tuning, distillation, pruning, soups, sweeps, calibration,
evaluation and the model cards). One command line, ``wirestream-training`` (or ``python -m training``),
with its own settings (:class:`training.settings.TrainingSettings`).
"""
