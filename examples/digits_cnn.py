"""A small convolutional network on the bundled 8×8 digits: two 3×3 convolutions (32 and 64
channels) with batch norm, ReLU and 2×2 max-pooling, then dropout and a linear layer. Trained by
digits_mlp.py's ``train``. With ``--ema DECAY`` it also keeps an exponential moving average of the
weights (minigrad.optim.swa_utils.AveragedModel), updated after every step, and reports its test
accuracy beside the model's; the average's batch-norm statistics are recomputed on the training
set at the end (update_bn: averaging them too, use_buffers=True, mixes in the first steps' statistics,
which a slow average like 0.999 over 675 steps does not forget).

    python examples/digits_cnn.py [--optimizer adam] [--epochs 15] [--ema 0.999] [--save cnn.safetensors]
    minigrad train digits-cnn [options]
"""
import minigrad as mg
import minigrad.nn as nn
from minigrad.examples import common
from minigrad.examples.arguments import fraction
from minigrad.examples.digits_mlp import NEEDS, accuracy, train
from minigrad.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, update_bn

LR = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01,
      "adagrad": 0.03, "adadelta": 1.0, "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3}
EPOCHS = 15


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 32×4×4
                         nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),  # 64×2×2
                         nn.Flatten(), nn.Dropout(0.3), nn.Linear(256, 10))


def run(ema=None, **options):
    """Train the CNN (``options``: those of digits_mlp's ``train``); with ``ema`` (a decay in [0, 1]),
    also its exponential moving average, whose test accuracy goes in ``ema_test_accuracy``."""
    if ema is None:
        return train(cnn, LR, EPOCHS, **options)
    averages = []

    def cnn_with_average():  # the average takes in the weights each step left, before the next forward
        model = cnn()
        averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema))
        model.register_forward_pre_hook(lambda module, args: averaged.update_parameters(module)
                                        if module.training else None)
        averages.append((model, averaged))
        return model
    out = train(cnn_with_average, LR, EPOCHS, **options)
    model, averaged = averages[0]
    averaged.update_parameters(model)  # and the last step's weights
    update_bn(mg.data.DataLoader(mg.data.TensorDataset(*mg.data.digits("train")), 32), averaged)
    out["ema_test_accuracy"] = accuracy(averaged, *mg.data.digits("test"))
    out["report"] = f"EMA (decay {ema:g}) test_accuracy: {out['ema_test_accuracy']:.4f}   (model: {out['metric']:.4f})"
    return out


def main(argv=None):
    p = common.parser("digits-cnn", __doc__, LR, EPOCHS, distributed=True)
    p.add_argument("--ema", type=fraction("a decay"), metavar="DECAY",
                   help="also average the weights with this EMA decay (e.g. 0.999) and report its test accuracy")
    return common.main(run, p, argv, NEEDS)


if __name__ == "__main__":
    main()
