"""The command line's programs, each run by ``minigrad.cli``: ``bench`` (optimizer kernel speed),
``bench_train`` (training-step speed), ``bench_loop`` (the optimizer step inside training loops),
``bench_lm`` (the two language models in one time budget), ``compare`` (the optimizers side by
side). Commands import the examples and the library; neither imports a command."""
