"""A textbook eager DCGAN-64, the baseline ganvas's DCGAN-64 throughput is compared with.

    python benchmarks/textbook_dcgan.py --batch 64 --seconds 30

The network, loss, optimiser and data pipeline follow the classic PyTorch example (pytorch/examples,
dcgan/main.py): nz=100, ngf=ndf=64; G is ConvTranspose2d/BatchNorm/ReLU ending in Tanh, D is
Conv2d/BatchNorm/LeakyReLU ending in Sigmoid, trained with nn.BCELoss and Adam(2e-4, betas (0.5, 0.999)),
fp32 NCHW, one G forward per iteration shared by the D and G steps. Images come through a
torch.utils.data.DataLoader over a Dataset that hands out PIL images and transforms them with PIL and
numpy (resize, centre crop, to tensor, normalise), as the example's ImageFolder + torchvision transforms
do after decoding each file. The emoji set supplies the pixels. The sigmoid + BCELoss pair is kept on
purpose: it is the textbook being measured, not a recipe to copy.

Reports img/s (real images through a D and G step) over a timed window after warm-up iterations.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402

NZ, NGF, NDF, NC = 100, 64, 64, 3


# Section: PIL transforms, as torchvision's Resize, CenterCrop, ToTensor and Normalize do them.

class Resize:
    """Shorter side to `size`, bilinear (torchvision's default for PIL images)."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, im: Image.Image) -> Image.Image:
        w, h = im.size
        if w <= h:
            nw, nh = self.size, int(self.size * h / w)
        else:
            nw, nh = int(self.size * w / h), self.size
        return im.resize((nw, nh), Image.Resampling.BILINEAR)


class CenterCrop:
    def __init__(self, size: int):
        self.size = size

    def __call__(self, im: Image.Image) -> Image.Image:
        w, h = im.size
        left, top = int(round((w - self.size) / 2)), int(round((h - self.size) / 2))
        return im.crop((left, top, left + self.size, top + self.size))


class ToTensor:
    """PIL RGB -> float [3, H, W] in [0, 1]."""

    def __call__(self, im: Image.Image) -> torch.Tensor:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)  # [H, W, 3]
        return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div(255)


class Normalize:
    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        self.mean = torch.tensor(mean)[:, None, None]
        self.std = torch.tensor(std)[:, None, None]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Compose:
    def __init__(self, steps: list):
        self.steps = steps

    def __call__(self, x):
        for step in self.steps:
            x = step(x)
        return x


class EmojiImages(torch.utils.data.Dataset):
    """Decoded images as a file-based dataset would hold them: a PIL image per item, transformed on access."""

    def __init__(self, images: np.ndarray, transform: Compose):
        self.images = images  # uint8 [N, 3, H, W]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        im = Image.fromarray(self.images[i].transpose(1, 2, 0))  # what ImageFolder has after decoding a file
        return self.transform(im), 0


# Section: the networks of the example.

class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(NGF * 8), nn.ReLU(True),  # 4x4
            nn.ConvTranspose2d(NGF * 8, NGF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 4), nn.ReLU(True),  # 8
            nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 2), nn.ReLU(True),  # 16
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(True),  # 32
            nn.ConvTranspose2d(NGF, NC, 4, 2, 1, bias=False), nn.Tanh(),  # [N, 3, 64, 64]
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(NC, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),  # 32x32
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 4, NDF * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),  # [N, 1, 1, 1]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


def weights_init(m: nn.Module) -> None:
    """The example's init: conv weights N(0, 0.02), batch-norm scales N(1, 0.02), shifts 0."""
    name = m.__class__.__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


# Section: the timed training loop.

def benchmark(batch: int, seconds: float, warmup: int, workers: int, device: str, seed: int = 0) -> dict:
    """Train as the example does; img/s over at least `seconds` after `warmup` iterations."""
    from ganvas.data.emoji import load_emoji

    torch.manual_seed(seed)
    transform = Compose([Resize(64), CenterCrop(64), ToTensor(), Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    dataset = EmojiImages(load_emoji(64).images, transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers)
    netG, netD = Generator().to(device), Discriminator().to(device)
    netG.apply(weights_init)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real_label, fake_label = 1.0, 0.0

    iterations, images, t0, elapsed = 0, 0, None, 0.0
    while t0 is None or elapsed < seconds:
        for real_cpu, _ in loader:
            # D: maximise log D(x) + log(1 - D(G(z))).
            netD.zero_grad()
            real = real_cpu.to(device)
            b = real.size(0)
            label = torch.full((b,), real_label, dtype=real.dtype, device=device)
            errD_real = criterion(netD(real).view(-1), label)
            errD_real.backward()
            noise = torch.randn(b, NZ, 1, 1, device=device)
            fake = netG(noise)
            label.fill_(fake_label)
            errD_fake = criterion(netD(fake.detach()).view(-1), label)
            errD_fake.backward()
            optD.step()
            # G: maximise log D(G(z)).
            netG.zero_grad()
            label.fill_(real_label)
            errG = criterion(netD(fake).view(-1), label)
            errG.backward()
            optG.step()
            errG.item()  # the example prints losses every step, which waits for the step to finish
            iterations += 1
            if t0 is None:
                if iterations >= warmup:
                    t0 = time.perf_counter()
                continue
            images += b
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
    return {"img_per_sec": round(images / elapsed, 1), "images": images, "seconds": round(elapsed, 2),
            "iterations_timed": iterations - warmup}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=64, help="the example's default")
    p.add_argument("--seconds", type=float, default=30.0, help="length of the timed window")
    p.add_argument("--warmup", type=int, default=5, help="iterations before timing starts")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes (the example's default)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda, but torch sees no CUDA device", file=sys.stderr)
        raise SystemExit(2)
    result = benchmark(args.batch, args.seconds, args.warmup, args.workers, args.device)
    report = {"benchmark": "textbook_dcgan", "model": "textbook DCGAN-64 (pytorch/examples)", "resolution": 64,
              "batch": args.batch, "nz": NZ, "ngf": NGF, "ndf": NDF, "precision": "fp32-nchw",
              "workers": args.workers, "device": args.device, "machine": machine(), **result}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"machine: {report['machine']}")
    print(f"textbook eager DCGAN-64, batch {args.batch}, {args.workers} loader workers, fp32 NCHW on {args.device}: "
          f"{result['img_per_sec']} img/s ({result['images']} images in {result['seconds']} s)")


if __name__ == "__main__":
    main()
