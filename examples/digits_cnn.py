"""A small convolutional network on the bundled 8×8 digits: two 3×3 convolutions (32 and 64
channels) with batch norm, ReLU and 2×2 max-pooling, then dropout and a linear layer. Trained by
digits_mlp.py's ``train``.

    python examples/digits_cnn.py [--optimizer adam] [--epochs 15] [--save cnn.safetensors]
    minigrad train digits-cnn [options]
"""
import functools

import minigrad.nn as nn
from minigrad.examples import common
from minigrad.examples.digits_mlp import NEEDS, train

LR = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01,
      "adagrad": 0.03, "adadelta": 1.0, "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3}
EPOCHS = 15


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 32×4×4
                         nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),  # 64×2×2
                         nn.Flatten(), nn.Dropout(0.3), nn.Linear(256, 10))


# run(optimizer="adam", lr=None, backend="cpp", epochs=None, seed=0, quiet=True, max_steps=None, ...): the CNN
run = functools.partial(train, cnn, LR, EPOCHS)


def main(argv=None):
    return common.main(run, common.parser("digits-cnn", __doc__, LR, EPOCHS), argv, NEEDS)


if __name__ == "__main__":
    main()
