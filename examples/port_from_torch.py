"""A PyTorch training script in the classic MNIST-example shape, run on minigrad by its import line.

Everything below the imports is plain torch code: an ``nn.Module`` subclass, ``F.relu``,
``F.max_pool2d``, ``F.log_softmax`` and ``F.nll_loss``, SGD with momentum and ``StepLR``, a
``DataLoader``, ``model.train()``/``eval()``, ``no_grad()``, ``.item()``, ``argmax(dim=1)``,
``eq().sum()``, ``torch.device`` and saving the ``state_dict``. The dataset line reads scikit-learn's
bundled 8×8 digits instead of downloading MNIST. Write ``torch`` for ``minigrad`` in the six import
lines and the same file trains under torch:

    python examples/port_from_torch.py [--epochs 3] [--save-model]
"""
import argparse

import minigrad as torch  # these six lines name minigrad where the torch script names torch
import minigrad.nn as nn
import minigrad.nn.functional as F
import minigrad.optim as optim
from minigrad.optim.lr_scheduler import StepLR
from minigrad.utils.data import DataLoader, TensorDataset
from sklearn.datasets import load_digits


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, 1, padding=1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def train(args, model, device, loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0 and not args.quiet:
            print(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(loader.dataset)}]\tLoss: {loss.item():.6f}")


def test(args, model, device, loader):
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(loader.dataset)
    accuracy = correct / len(loader.dataset)
    if not args.quiet:
        print(f"Test set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{len(loader.dataset)} "
              f"({100.0 * accuracy:.0f}%)")
    return accuracy


def digits(train):
    """The dataset line: scikit-learn's digits as (N, 1, 8, 8) float32 in [0, 1]; every fifth image is a test image."""
    bunch = load_digits()
    keep = (torch.arange(len(bunch.target)) % 5 != 0) == train
    images = torch.from_numpy((bunch.images / 16.0).astype("float32")).unsqueeze(1)[keep]
    return TensorDataset(images, torch.from_numpy(bunch.target.astype("int64"))[keep])


def main(argv=None):
    parser = argparse.ArgumentParser(description="PyTorch-style digits example")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--test-batch-size", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--save-model", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_loader = DataLoader(digits(train=True), batch_size=args.batch_size, shuffle=True, num_workers=0,
                              pin_memory=False)
    test_loader = DataLoader(digits(train=False), batch_size=args.test_batch_size)

    model = Net().to(device)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    accuracy = 0.0
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        accuracy = test(args, model, device, test_loader)
        scheduler.step()
    if args.save_model:
        torch.save(model.state_dict(), "digits_cnn.pt")
    return accuracy


if __name__ == "__main__":
    main()
