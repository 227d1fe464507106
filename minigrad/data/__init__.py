"""Data: map-style datasets, samplers, the DataLoader (torch's arguments, worker processes), and
built-in data that needs no download."""
from .builtin import CORPUS_MODULES, SNIPPET_MODULES, CharCorpus, digits, text_corpus, text_corpus_snippets
from .dataset import (Dataset, Subset, TensorDataset, default_collate, default_convert, random_split, stack_samples,
                      to_tensors)
from .loader import DataLoader, WorkerInfo, get_worker_info
from .sampler import (BatchSampler, DistributedSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler, WeightedRandomSampler)

__all__ = ["Dataset", "TensorDataset", "Subset", "DataLoader", "random_split", "default_collate", "default_convert",
           "stack_samples", "to_tensors", "get_worker_info", "WorkerInfo", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DistributedSampler",
           "digits", "text_corpus", "text_corpus_snippets", "CharCorpus", "CORPUS_MODULES", "SNIPPET_MODULES"]
