"""The NLP layer every enrichment stage uses: data readers, training, evaluation and inference."""


EXIT_CONFIG = 78  # sysexits.h EX_CONFIG: a configured model that cannot be loaded


class ModelUnavailable(RuntimeError):
    """A configured model that cannot be loaded; the message names it and says why, in one line.

    Defined here, away from torch, so the CLI can catch it without importing torch.
    """
