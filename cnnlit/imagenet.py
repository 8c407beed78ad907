"""ImageNet's per-channel mean and spread (RGB, images in [0, 1]), as torchvision's pretrained
weights expect them: the constants the models' input transforms and the data pipeline share (a
module of its own, so a model needs no data module for them).

The papers subtract a per-pixel mean image (AlexNet section 2, ResNet section 3.4); a per-channel
mean and spread needs no pass over the data first.
"""
__all__ = ["IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
