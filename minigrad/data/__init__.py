"""Data: map-style datasets, the DataLoader, and built-in data that needs no download."""
from .builtin import CORPUS_MODULES, SNIPPET_MODULES, CharCorpus, digits, text_corpus, text_corpus_snippets
from .dataset import (DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split, stack_samples,
                      to_tensors)

__all__ = ["Dataset", "TensorDataset", "Subset", "DataLoader", "random_split", "default_collate", "stack_samples",
           "to_tensors", "digits", "text_corpus", "text_corpus_snippets", "CharCorpus", "CORPUS_MODULES",
           "SNIPPET_MODULES"]
