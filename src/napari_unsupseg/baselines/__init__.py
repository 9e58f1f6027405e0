"""The unsupervised segmenters the papers compare against: IIC (Ji, Henriques &
Vedaldi 2019), W-Net (Xia & Kulis 2017) and DIC (Zhou & Wei 2020).

Each trains its paper's network on the image (or images) it is given, as the other
CNN methods do, where the papers trained on a dataset. :mod:`.specs` declares their
parameters (no torch import); :mod:`.runner` is the one training and labelling loop
they share (device, seeding, progress and cancellation, tiled prediction).
"""
