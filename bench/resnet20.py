#!/usr/bin/env python3
"""CIFAR ResNet-20 (He et al. 2016, option-A shortcuts) as in akamaster/pytorch_resnet_cifar10, the
PyTorch twin of samples/WideResNet/Model/ResNet20.cs (same state_dict names and shapes).

Run it to print the reference numbers that tests/WideResNet.Tests/ResNet20Tests.cs compares against:
the state_dict's names and shapes, the parameter count, and the logits of a fixed input with every
parameter and buffer filled by a closed-form formula (`fill_deterministic`, mirrored in the test), in
eval mode and in train mode. bench/train_memory.py imports the model from here.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = (cout - cin) // 2 if stride != 1 or cin != cout else None

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.pad is None else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad), "constant", 0)
        return F.relu(out + shortcut)


class ResNet20(nn.Module):
    def __init__(self, classes=10, n=3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = nn.Sequential(*[BasicBlock(16, 16, 1) for _ in range(n)])
        self.layer2 = nn.Sequential(*[BasicBlock(16 if i == 0 else 32, 32, 2 if i == 0 else 1) for i in range(n)])
        self.layer3 = nn.Sequential(*[BasicBlock(32 if i == 0 else 64, 64, 2 if i == 0 else 1) for i in range(n)])
        self.linear = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3]).flatten(1)
        return self.linear(out)


def deterministic_value(name, shape, tensor_index, j):
    """Element j (flat) of state_dict entry number tensor_index: the same formula as ResNet20Tests.Fill."""
    s = math.sin(12.9898 * j + 1.3 * tensor_index)
    if name.endswith("running_var"):
        return 1.0 + 0.5 * s * s
    if name.endswith("num_batches_tracked"):
        return 0.0
    if name.endswith("weight") and len(shape) > 1:
        fan_in = 1
        for d in shape[1:]:
            fan_in *= d
        return math.sqrt(3.0 / fan_in) * s
    if name.endswith("weight"):  # BN scale
        return 1.0 + 0.1 * s
    return 0.1 * s  # biases, running means


def fill_deterministic(model):
    with torch.no_grad():
        for k, (name, t) in enumerate(model.state_dict().items()):
            values = [deterministic_value(name, tuple(t.shape), k, j) for j in range(t.numel())]
            t.copy_(torch.tensor(values, dtype=torch.float64).reshape(t.shape).to(t.dtype))


def fixed_input():
    n = 2 * 3 * 32 * 32
    return torch.tensor([math.sin(0.01 * j) + 0.5 * math.cos(0.031 * j) for j in range(n)], dtype=torch.float64).reshape(2, 3, 32, 32).float()


def main():
    torch.set_num_threads(1)
    model = ResNet20()
    print("parameters", sum(p.numel() for p in model.parameters()))
    for name, t in model.state_dict().items():
        print(name, list(t.shape))
    fill_deterministic(model)
    x = fixed_input()
    model.eval()
    with torch.no_grad():
        print("eval", " ".join(f"{v:.6f}" for v in model(x).flatten().tolist()))
    model.train()
    with torch.no_grad():
        print("train", " ".join(f"{v:.6f}" for v in model(x).flatten().tolist()))


if __name__ == "__main__":
    main()
