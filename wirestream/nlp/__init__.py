"""The NLP layer every enrichment stage uses: data readers, training, evaluation and inference."""
